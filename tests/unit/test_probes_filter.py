"""pqc.edge.probe_plan and friends: which side probes which listener, and the answers put back in plan order."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.probes import (
    probe_answers, probe_plan, probe_settings, probe_target, probe_verdict, probes_from, quic_retries)


def endpoint(address=None, port=8443, site="default", name="edge1.example.org"):
    return {"address": address, "port": port, "server_name": name, "site": site, "file": "/etc/nginx/x.conf", "line": 3,
            "reason": None}


@pytest.mark.parametrize("address, side, host, port", [
    (None, "controller", "203.0.113.5", 18443),            # a wildcard listener: the inventory's address
    ("203.0.113.5", "controller", "203.0.113.5", 18443),   # the inventory's address itself
    ("127.0.0.1", "host", "127.0.0.1", 8443),              # the controller's own loopback if probed from there
    ("::1", "host", "::1", 8443),
    ("localhost", "host", "localhost", 8443),
    ("169.254.10.1", "host", "169.254.10.1", 8443),        # link-local: another machine on each side
    ("fe80::1%eth0", "host", "fe80::1%eth0", 8443),
    ("10.1.2.3", "host", "10.1.2.3", 8443),                # an internal machine the edge would point the controller at
])
def test_the_controller_probes_only_the_address_the_inventory_gives(address, side, host, port):
    target = probe_target(endpoint(address), "controller", "203.0.113.5", {8443: 18443})
    assert target == {"side": side, "host": host, "port": port}


def test_the_loopback_stays_on_the_host_even_when_the_inventory_probes_the_loopback():
    """The demo's case: the inventory probes 127.0.0.1 through a published port; a listener the edge binds to its own
    127.0.0.1 is still the edge's, not the controller's."""
    assert probe_target(endpoint(None), "controller", "127.0.0.1", {8443: 18443})["side"] == "controller"
    assert probe_target(endpoint("127.0.0.1"), "controller", "127.0.0.1", {8443: 18443}) == {
        "side": "host", "host": "127.0.0.1", "port": 8443}


def test_probing_from_the_host_keeps_the_port_map_and_the_listen_address():
    assert probe_target(endpoint(None), "host", "127.0.0.1", {8443: 9447}) == {"side": "host", "host": "127.0.0.1", "port": 9447}
    assert probe_target(endpoint("10.0.0.7"), "host", "127.0.0.1", {}) == {"side": "host", "host": "10.0.0.7", "port": 8443}
    with pytest.raises(AnsibleFilterError, match="controller or host"):
        probe_target(endpoint(), "elsewhere", "x")


TRUST = [{"kind": "ML-DSA", "signature_algorithms": ["mldsa44"], "ca_files": ["/c/root.crt"]}]
SETTINGS = {"from": "controller", "address": "203.0.113.5", "ports": {8443: 18443}, "quic_ports": {8443: 18443},
            "trust_offers": TRUST, "issued_sites": ["default"]}
FLEET = {"authority": "fleet_ca", "acme": False, "issued_sites": ["default"],
         "fleet_roots_dir": {"controller": "/srv/ca", "host": "/etc/pqc-edge/tls/fleet-ca"},
         "fleet_root_files": {"pq": "ML-DSA-65-root.crt", "classical": "EC-root.crt"}}
SELF_SIGNED = dict(FLEET, authority="self_signed")


def test_settings_default_to_the_controller_at_the_inventory_address_with_the_fleet_roots_on_the_controller():
    settings = probe_settings(FLEET, "edge1.example.org", {"from": None, "address": None, "ports": None})
    assert (settings["from"], settings["address"], settings["ports"], settings["quic_ports"]) == (
        "controller", "edge1.example.org", {}, {})
    assert [(offer["kind"], offer["ca_files"]) for offer in settings["trust_offers"]] == [
        ("ML-DSA", ["/srv/ca/ML-DSA-65-root.crt"]), ("classical", ["/srv/ca/EC-root.crt"])]
    assert settings["issued_sites"] == ["default"]


def test_settings_from_the_host_use_its_loopback_and_its_copy_of_the_roots():
    settings = probe_settings(FLEET, "edge1.example.org", {"from": "host"})
    assert settings["address"] == "127.0.0.1"
    assert settings["trust_offers"][0]["ca_files"] == ["/etc/pqc-edge/tls/fleet-ca/ML-DSA-65-root.crt"]


def test_settings_map_ports_as_numbers_and_quic_follows_tcp_unless_told():
    assert probe_settings(FLEET, "a", {"ports": {"8443": "18443"}})["quic_ports"] == {8443: 18443}
    assert probe_settings(FLEET, "a", {"ports": {"8443": "18443"}, "quic_ports": {8443: 28443}})["quic_ports"] == {8443: 28443}
    with pytest.raises(AnsibleFilterError, match="pqc_edge_probe_ports must map ports to ports, not {'8443': 'x'}"):
        probe_settings(FLEET, "a", {"ports": {"8443": "x"}})
    with pytest.raises(AnsibleFilterError, match="controller or host, not 'elsewhere'"):
        probe_settings(FLEET, "a", {"from": "elsewhere"})


def test_settings_trust_acme_certificates_to_the_system_store_and_verify_self_signed_ones_against_nothing():
    acme = probe_settings(dict(FLEET, acme=True), "a")
    assert [offer["ca_files"] for offer in acme["trust_offers"]] == [
        ["/srv/ca/ML-DSA-65-root.crt"], ["/etc/ssl/certs/ca-certificates.crt"]]
    assert probe_settings(dict(SELF_SIGNED, acme=True), "a", {"acme_ca_files": ["/p/pebble.pem"]})["trust_offers"] == [
        {"kind": "classical", "signature_algorithms": probe_settings(FLEET, "a")["trust_offers"][1]["signature_algorithms"],
         "ca_files": ["/p/pebble.pem"]}]
    assert probe_settings(SELF_SIGNED, "a")["trust_offers"] == []
    given = probe_settings(SELF_SIGNED, "a", {"ca_files": ["/mine.pem"]})
    assert [offer["ca_files"] for offer in given["trust_offers"]] == [["/mine.pem"], ["/mine.pem"]]


def plan():
    servers = {"tls_endpoints": [endpoint(None), endpoint("127.0.0.1", 8449, site=None, name="admin")],
               "quic_endpoints": [endpoint(None)]}
    return probe_plan(servers, SETTINGS)


def test_the_plan_sends_each_step_to_its_side():
    steps = plan()
    assert [(s["kind"], s["side"]) for s in steps] == [
        ("pq", "controller"), ("predicted", "controller"), ("classical", "controller"), ("trust", "controller"),
        ("pq", "host"), ("predicted", "host"), ("classical", "host"),
        ("quic_pq", "controller"), ("quic_classical", "controller")]
    assert [p["port"] for p in probes_from(steps, "controller")] == [18443] * 6
    assert probes_from(steps, "host")[0] == {"host": "127.0.0.1", "port": 8449, "server_name": "admin",
                                             "groups": ["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "secp256r1"],
                                             "key_shares": ["X25519MLKEM768", "X25519"]}


def answer(group="X25519MLKEM768", failed=False, msg=None):
    return {"failed": True, "msg": msg} if failed else {"failed": False, "negotiated_group": group}


def test_answers_come_back_in_plan_order_and_a_udp_path_the_host_answers_on_is_a_warning():
    steps = plan()
    controller = [answer(), answer(), answer("x25519"), answer(), answer(failed=True, msg="nothing listens on UDP 18443"),
                  answer(failed=True, msg="nothing listens on UDP 18443")]
    host = [answer(), answer(), answer("x25519")]
    retries = quic_retries(steps, controller)
    assert [(r["host"], r["port"], r["transport"]) for r in retries] == [("127.0.0.1", 8443, "quic")] * 2
    answers = probe_answers(steps, controller, host, [answer(), answer("x25519")])
    assert [a["item"]["port"] for a in answers["pq"]] == [8443, 8449]
    assert [a["side"] for a in answers["pq"]] == ["controller", "host"]
    assert answers["quic_pq"][0]["side"] == "host" and answers["quic_pq"][0]["negotiated_group"] == "X25519MLKEM768"
    assert answers["quic_pq"][0]["blocked_from_controller"] == "nothing listens on UDP 18443"
    failed_again = probe_answers(steps, controller, host, [answer(failed=True, msg="no QUIC answer"), answer()])
    assert failed_again["quic_pq"][0]["failed"]
    assert failed_again["quic_pq"][0]["msg"] == "nothing listens on UDP 18443; and on the host itself: no QUIC answer"
    with pytest.raises(AnsibleFilterError, match="fewer answers"):
        probe_answers(steps, controller[:2], host)


def verdict_of(controller, host, retried=(), probe_from="controller"):
    return probe_verdict(probe_answers(plan(), controller, host, list(retried)), "edge1", probe_from)


def hybrid(group="X25519MLKEM768"):
    return dict(answer(group), group_kind="hybrid" if "MLKEM" in group else "classical",
                quantum_safe="MLKEM" in group, host="203.0.113.5", port=18443, side="controller")


def test_a_host_that_negotiates_the_hybrid_everywhere_passes_with_a_row_per_server():
    trust = {"failed": False, "certificate_verified": True, "certificate_key_algorithm": "ML-DSA-44",
             "certificate_issuer": "CN=root", "certificate_days_left": 90}
    verdict = verdict_of([hybrid(), hybrid("X25519"), hybrid("X25519"), trust, hybrid(), hybrid("X25519")],
                         [hybrid(), hybrid(), hybrid("X25519")])
    assert verdict["failures"] == []
    assert verdict["counts"] == {"tls": 2, "quic": 1, "hybrid": 2, "quic_blocked": 0, "verified": 1, "compliant": 0,
                                 "hops": 0, "hops_safe": 0}
    assert " ".join(verdict["table"][1].split()) == "edge1.example.org:8443 site default X25519MLKEM768 X25519 X25519 True"
    assert " ".join(verdict["table"][2].split()).startswith("admin:8449 operator X25519MLKEM768")
    assert verdict["table"][3].split()[:3] == ["edge1.example.org:8443/udp", "site", "default,"]
    assert verdict["trust"] == ["edge1.example.org:8443 ML-DSA-44: verified, issuer CN=root, 90 days left"]


def test_answers_are_matched_to_their_server_not_to_their_position():
    """The two TCP servers' answers come back in a different order than planned: each is judged as itself."""
    answers = probe_answers(plan(), [hybrid(), hybrid(), hybrid("X25519"), {"failed": False}, hybrid(), hybrid("X25519")],
                            [hybrid(), hybrid("X25519"), {"failed": False}])
    answers["classical"].reverse()
    verdict = probe_verdict(answers, "edge1")
    # The admin server (8449) refused the classical offer, the default site did not.
    assert verdict["failures"] == ["edge1 (203.0.113.5:18443, from the host, server name admin, /etc/nginx/x.conf:3) "
                                   "refused a classical-only client offer"]


def test_each_way_a_server_fails_is_named_with_where_it_is():
    trust = {"failed": False, "certificate_verified": False, "certificate_key_algorithm": "ML-DSA-44",
             "verify_error": "unable to get local issuer certificate"}
    verdict = verdict_of([hybrid("X25519"), hybrid("X25519"), hybrid("X25519"), trust,
                          answer(failed=True, msg="timed out"), answer(failed=True, msg="timed out")],
                         [answer(failed=True, msg="connection refused"), hybrid(), hybrid()],
                         [answer(failed=True, msg="no QUIC answer"), answer(failed=True, msg="no QUIC answer")])
    failures = verdict["failures"]
    assert failures[0] == ("edge1 (203.0.113.5:18443, server name edge1.example.org, /etc/nginx/x.conf:3) negotiated "
                           "X25519 for a post-quantum client offer (alert: none)")
    assert "from the host, server name admin, /etc/nginx/x.conf:3) could not be probed: connection refused" in failures[1]
    assert failures[2] == ("edge1 (server name edge1.example.org, port 8443): its ML-DSA-44 certificate did not verify "
                           "against /c/root.crt: unable to get local issuer certificate")
    assert failures[3].endswith("did not answer over QUIC: timed out; and on the host itself: no QUIC answer")
    assert len(failures) == 4 and verdict["counts"]["verified"] == 0


CNSA2 = {"name": "cnsa2", "groups": ["MLKEM1024"], "protocols": ["TLSv1.3"]}


def test_under_a_profile_each_tls_server_is_also_judged_with_the_engine_of_its_side():
    assert probe_settings(SELF_SIGNED, "a", {"profile": CNSA2})["profile"] == CNSA2
    assert probe_settings(SELF_SIGNED, "a", {})["profile"] is None
    with pytest.raises(AnsibleFilterError, match="compliance_profile's result"):
        probe_settings(SELF_SIGNED, "a", {"profile": "cnsa2"})
    servers = {"tls_endpoints": [endpoint(None), endpoint("127.0.0.1", 8449, site=None, name="admin")]}
    steps = probe_plan(servers, dict(SETTINGS, profile=CNSA2))
    judged = [(s["side"], s["probe"]["engine"], s["probe"]["groups"]) for s in steps if s["kind"] == "compliance"]
    assert judged == [("controller", "python", ["MLKEM1024"]), ("host", "openssl", ["MLKEM1024"])]
    assert all(s["probe"]["profile"] == CNSA2 for s in steps if s["kind"] == "compliance")
    assert not [s for s in probe_plan(servers, SETTINGS) if s["kind"] == "compliance"]


def judgement(failed=(), not_checked=()):
    return dict(hybrid("MLKEM1024"), compliance={"profile": "cnsa2", "failed": list(failed), "not_checked": list(not_checked),
                                                 "compliant": (not failed) if not not_checked else (False if failed else None)})


def test_a_server_under_a_profile_fails_on_its_points_not_on_the_classical_offer():
    servers = {"tls_endpoints": [endpoint(None), endpoint("127.0.0.1", 8449, site=None, name="admin")]}
    steps = probe_plan(servers, dict(SETTINGS, profile=CNSA2))
    refused = dict(answer(None), alert="handshake_failure", host="203.0.113.5", port=18443)
    refused_on_host = dict(refused, host="127.0.0.1", port=8449)
    controller = [refused, refused, refused, {"failed": False},
                  judgement(not_checked=["the certificate served: needs engine=openssl, a complete handshake"])]
    host = [refused_on_host] * 3 + [judgement(["TLS_AES_128_GCM_SHA256 accepted"])]
    verdict = probe_verdict(probe_answers(steps, controller, host), "edge1")
    assert verdict["failures"] == ["edge1 (127.0.0.1:8449, from the host, server name admin, /etc/nginx/x.conf:3): "
                                   "profile cnsa2: TLS_AES_128_GCM_SHA256 accepted"]
    assert verdict["table"][2] == ("    profile cnsa2: no point failed, not all checked; not checked: the certificate "
                                   "served: needs engine=openssl, a complete handshake")
    assert verdict["table"][4] == "    profile cnsa2: NOT compliant (1 points)"
    assert verdict["counts"]["compliant"] == 0
    host[-1] = judgement()
    assert probe_verdict(probe_answers(steps, controller, host), "edge1")["counts"]["compliant"] == 1


def test_under_a_profile_quic_is_offered_the_profiles_groups_and_a_refused_classical_client_is_no_failure():
    servers = {"tls_endpoints": [endpoint(None)], "quic_endpoints": [endpoint(None)]}
    steps = probe_plan(servers, dict(SETTINGS, profile=CNSA2))
    quic = [s["probe"] for s in steps if s["kind"] == "quic_pq"]
    assert [(p["groups"], p["key_shares"], p["transport"]) for p in quic] == [(["MLKEM1024"], ["MLKEM1024"], "quic")]
    refused = dict(answer(None), alert="handshake_failure", host="203.0.113.5", port=18443)
    mlkem = dict(hybrid("MLKEM1024"), group_kind="pq", quantum_safe=True)
    controller = [refused, refused, refused, {"failed": False}, judgement(), mlkem, refused]
    assert probe_verdict(probe_answers(steps, controller, []), "edge1")["failures"] == []
    controller[5] = refused
    assert probe_verdict(probe_answers(steps, controller, []), "edge1")["failures"] == [
        "edge1 (203.0.113.5:18443/udp, HTTP/3, server name edge1.example.org, /etc/nginx/x.conf:3) negotiated nothing "
        "over QUIC for a post-quantum client offer (alert: handshake_failure)"]


EDGE = ["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "secp256r1"]
INTRANET = {"site": "static", "path": "/intranet/", "upstream": "https://intranet.example:8444/", "host": "intranet.example",
            "port": 8444, "server_name": "intranet.example", "ca_file": "/etc/ssl/intranet.crt", "groups": EDGE,
            "pinned": None}
PARTNER = {"site": "static", "path": "/partner/", "upstream": "https://partner.example/", "host": "partner.example",
           "port": 443, "server_name": "partner.example", "ca_file": None, "groups": EDGE, "pinned": None}
LEGACY_HOP = dict(PARTNER, path="/legacy/", upstream="https://legacy.example/", host="legacy.example",
                  server_name="legacy.example", groups=["X25519"],
                  pinned="proxy_groups X25519 has no hybrid or post-quantum group")


def hop_answer(group="X25519MLKEM768", verified=True, error=None):
    return {"failed": False, "negotiated_group": group, "quantum_safe": "MLKEM" in group, "certificate_verified": verified,
            "verify_error": error, "host": "intranet.example", "port": 8444}


def test_each_hop_to_a_tls_upstream_is_probed_from_the_host_as_nginx_makes_it():
    steps = probe_plan({"tls_endpoints": [], "quic_endpoints": []}, dict(SETTINGS, profile=None), [INTRANET, PARTNER])
    assert [(s["kind"], s["side"]) for s in steps] == [("hop", "host")] + [("hop_offer", "host")] * 3 + [
        ("hop", "host")] + [("hop_offer", "host")] * 3
    # The edge's own offer, its certificate checked against what nginx trusts: the hop's CA file, else the system's.
    assert [s["probe"] for s in steps if s["kind"] == "hop"] == [
        {"host": "intranet.example", "port": 8444, "server_name": "intranet.example", "engine": "openssl",
         "groups": EDGE, "ca_files": ["/etc/ssl/intranet.crt"]},
        {"host": "partner.example", "port": 443, "server_name": "partner.example", "engine": "openssl",
         "groups": EDGE, "ca_files": ["/etc/ssl/certs/ca-certificates.crt"]}]
    # Then the front's offers to the same upstream, which say what it supports.
    assert [(s["item"][1], s["probe"]["groups"]) for s in steps[1:4]] == [
        ("pq", ["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "secp256r1"]), ("predicted", ["X25519", "X25519MLKEM768"]),
        ("classical", ["X25519", "secp256r1"])]
    assert "engine" not in steps[1]["probe"] and steps[1]["probe"]["host"] == "intranet.example"
    with pytest.raises(AnsibleFilterError, match="upstream_hops"):
        probe_plan({}, SETTINGS, "https://x/")
    # An upstream nginx shows the edge's client certificate is shown it by the probe too.
    mutual = dict(INTRANET, client_certificate="/etc/pqc-edge/client/mldsa44.crt", client_key="/etc/pqc-edge/client/mldsa44.key")
    probe = probe_plan({}, dict(SETTINGS, profile=None), [mutual])[0]["probe"]
    assert (probe["client_certificate"], probe["client_key"]) == (
        "/etc/pqc-edge/client/mldsa44.crt", "/etc/pqc-edge/client/mldsa44.key")


def hop_verdict(hops, answers, front=None, tls_library=None):
    """The verdict of hops whose own handshakes got answers; the front's offers to each get front (hybrid, the X25519
    share moved by HRR, classical by default)."""
    steps = probe_plan({"tls_endpoints": [], "quic_endpoints": []}, dict(SETTINGS, profile=None), hops)
    front = front or [hop_answer(), dict(hop_answer(), hello_retry_request=True), hop_answer("x25519")]
    with_front = []
    for answer in answers:
        with_front += [answer] + front
    return probe_verdict(probe_answers(steps, [], with_front), "edge1", "host", tls_library)


def test_a_hop_passes_quantum_safe_and_verified_and_a_pinned_one_is_listed_with_its_reason():
    verdict = hop_verdict([INTRANET, LEGACY_HOP], [hop_answer(), hop_answer("X25519")])
    assert verdict["failures"] == []
    assert (verdict["counts"]["hops"], verdict["counts"]["hops_safe"]) == (2, 1)
    assert verdict["table"][-3:] == [
        "upstream hops, probed from the host with the edge's own offer:",
        "  site static location /intranet/ -> https://intranet.example:8444/: X25519MLKEM768, certificate verified "
        "against /etc/ssl/intranet.crt; front offers: PQ X25519MLKEM768, X25519 share X25519MLKEM768 (HRR), classical "
        "x25519",
        "  site static location /legacy/ -> https://legacy.example/: X25519, certificate verified against the system CA "
        "bundle; front offers: PQ X25519MLKEM768, X25519 share X25519MLKEM768 (HRR), classical x25519  <- proxy_groups "
        "X25519 has no hybrid or post-quantum group"]


def test_a_hop_fails_the_host_when_classical_unverified_or_unreachable_naming_the_hop():
    verdict = hop_verdict([INTRANET, PARTNER, dict(INTRANET, path="/down/")], [
        hop_answer("X25519"), hop_answer(verified=False, error="unable to get local issuer certificate"),
        {"failed": True, "msg": "connection refused"}])
    assert verdict["failures"] == [
        "edge1: the hop from site static location /intranet/ -> https://intranet.example:8444/ (intranet.example:8444, "
        "server name intranet.example) negotiated X25519: the upstream took none of the quantum-safe groups the edge "
        "offers (X25519MLKEM768:SecP256r1MLKEM768:X25519:secp256r1)",
        "edge1: the hop from site static location /partner/ -> https://partner.example/ (partner.example:443, server name "
        "partner.example): the upstream's certificate did not verify against the system CA bundle: unable to get local "
        "issuer certificate",
        "edge1: the hop from site static location /down/ -> https://intranet.example:8444/ (intranet.example:8444, "
        "server name intranet.example) could not be probed from the host: connection refused"]
    assert verdict["counts"]["hops_safe"] == 0


def test_on_aws_lc_a_hop_verified_only_as_its_own_self_signed_anchor_fails_naming_it():
    self_signed = dict(hop_answer(), certificate_subject="CN=intranet.example", certificate_issuer="CN=intranet.example")
    ca_signed = dict(hop_answer(), certificate_subject="CN=intranet.example", certificate_issuer="CN=Intranet CA")
    # OpenSSL (nginx's own library here) takes the self-signed certificate in the CA file as the anchor, as the probe did.
    assert hop_verdict([INTRANET], [self_signed], tls_library="OpenSSL 3.5.4")["failures"] == []
    assert hop_verdict([INTRANET], [ca_signed], tls_library="AWS-LC 5.1.0")["failures"] == []
    verdict = hop_verdict([INTRANET], [self_signed], tls_library="AWS-LC 5.1.0")
    assert verdict["failures"] == [
        "edge1: the hop from site static location /intranet/ -> https://intranet.example:8444/ (intranet.example:8444, "
        "server name intranet.example): the upstream's certificate (CN=intranet.example) is self-signed and verifies "
        "against /etc/ssl/intranet.crt only as its own trust anchor, which AWS-LC 5.1.0 does not accept (nginx answers "
        "502): give the hop the CA that issued it"]
    assert verdict["counts"]["hops_safe"] == 0


def test_hops_use_the_hosts_own_openssl_where_the_roles_know_it():
    settings = probe_settings(FLEET, "edge1", {"from": "host", "openssl_path": "/opt/pqc-edge/openssl/bin/openssl"})
    assert settings["openssl_path"] == "/opt/pqc-edge/openssl/bin/openssl"
    steps = probe_plan({"tls_endpoints": [], "quic_endpoints": []}, settings, [INTRANET])
    assert steps[0]["probe"]["openssl_path"] == "/opt/pqc-edge/openssl/bin/openssl"
    assert "openssl_path" not in probe_plan({}, probe_settings(FLEET, "edge1", {}), [INTRANET])[0]["probe"]
