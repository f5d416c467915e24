"""pqc.edge.scan's targets, plan and rows: endpoints named by the operator, probed from the controller."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.scan import alt_svc_plan, scan_plan, scan_rows, scan_target


@pytest.mark.parametrize("target, parsed", [
    ("lb.example.com:443", ("lb.example.com", 443, "lb.example.com")),
    ("203.0.113.7:8443", ("203.0.113.7", 8443, None)),
    ("[2001:db8::1]:443", ("2001:db8::1", 443, None)),
    ("https://shop.example.com/", ("shop.example.com", 443, "shop.example.com")),
    ("https://shop.example.com:8443/path?q=1", ("shop.example.com", 8443, "shop.example.com")),
    ({"target": "10.0.0.5:8443", "server_name": "api.example.com"}, ("10.0.0.5", 8443, "api.example.com")),
])
def test_targets_are_host_port_or_https_urls_with_an_optional_server_name(target, parsed):
    got = scan_target(target)
    assert (got["host"], got["port"], got["server_name"]) == parsed


@pytest.mark.parametrize("target, named", [
    ("lb.example.com", "'lb.example.com' is not host:port"),
    ("http://shop.example.com/", "'http://shop.example.com/' is not host:port"),
    ("lb.example.com:99999", "'lb.example.com:99999' is not host:port"),
    ("a b:443", "'a b:443' is not host:port"),
    ("lb.example.com:443; rm -rf /", "is not host:port"),
    ({"target": "lb:443", "server_name": "bad name"}, "server_name 'bad name' of lb:443 is not a host name"),
    ({"target": "lb:443", "sni": "x"}, "lb:443 has unknown keys sni"),
    ({"server_name": "x"}, "has no target"),
    ({"target": "lb:443", "quic": "yes"}, "quic 'yes' of lb:443 is not true, false or alt-svc"),
    ({"target": "lb:443", "quic": 1}, "quic 1 of lb:443 is not true, false or alt-svc"),
])
def test_a_malformed_target_is_refused_naming_it(target, named):
    with pytest.raises(AnsibleFilterError, match="pqc_edge_scan_targets: .*" + named.replace("?", "[?]")):
        scan_plan([target])


def test_an_empty_or_missing_target_list_is_refused():
    for targets in ([], None, "lb:443"):
        with pytest.raises(AnsibleFilterError, match="non-empty list"):
            scan_plan(targets)


def test_each_target_gets_four_offers_and_its_own_row():
    plan = scan_plan(["pq.example:8443", "old.example:443", "gone.example:443"])
    assert [(s["kind"], s["probe"]["host"]) for s in plan[:4]] == [
        ("enumerate", "pq.example"), ("predicted", "pq.example"), ("classical", "pq.example"), ("split", "pq.example")]
    assert plan[3]["probe"]["client_hello_segment_size"] == 256
    assert plan[1]["probe"]["groups"] == ["X25519", "X25519MLKEM768"] and plan[0]["probe"]["enumerate"] is True
    hybrid = {"failed": False, "negotiated_group": "X25519MLKEM768", "group_kind": "hybrid", "quantum_safe": True,
              "supported_groups": ["X25519MLKEM768", "x25519"], "tls_version": "TLSv1.3"}
    x25519 = {"failed": False, "negotiated_group": "x25519", "group_kind": "classical", "quantum_safe": False,
              "supported_groups": ["x25519"]}
    refused = {"failed": True, "msg": "connection refused"}
    closed = {"failed": True, "msg": "old.example port 443 closed the connection without a TLS answer"}
    answers = [hybrid, dict(hybrid, hello_retry_request=True), x25519, hybrid,
               x25519, x25519, x25519, closed, refused, refused, refused, refused]
    pq, old, gone = scan_rows(plan, answers)
    assert (pq["host"], pq["verdict"], pq["x25519_share_group"], pq["classical_offer_group"]) == (
        "pq.example:8443", "PQ-ready", "X25519MLKEM768", "x25519")
    assert pq["servers"][0]["hello_retry_request"] is True and pq["servers"][0]["served_by"] == "scanned"
    assert (old["verdict"], old["servers"][0]["why"]) == ("classical only", "negotiated x25519 for a post-quantum offer")
    assert (gone["verdict"], gone["error"]) == ("unreachable", "connection refused")
    assert (pq["answers_split_client_hello"], old["answers_split_client_hello"], gone["answers_split_client_hello"]) == (
        True, False, None)
    assert old["split_client_hello_error"] == closed["msg"] and pq["split_client_hello_error"] is None


def test_a_scan_profile_is_judged_in_the_enumeration_and_lands_in_the_row():
    profile = {"name": "cnsa2", "groups": ["MLKEM1024"]}
    plan = scan_plan(["pq.example:8443"], profile)
    assert plan[0]["probe"]["profile"] == profile and "profile" not in plan[1]["probe"]
    assert "profile" not in scan_plan(["pq.example:8443"])[0]["probe"]
    with pytest.raises(AnsibleFilterError, match="compliance_profile's result"):
        scan_plan(["pq.example:8443"], "cnsa2")
    judged = {"profile": "cnsa2", "compliant": False, "failed": ["accepted x25519 offered alone; the profile does not allow it"],
              "not_checked": []}
    enum = {"failed": False, "negotiated_group": "x25519", "group_kind": "classical", "supported_groups": ["x25519"],
            "compliance": judged}
    row = scan_rows(plan, [enum, enum, enum, enum])[0]
    assert row["compliance"] == judged


def test_quic_is_probed_where_a_target_or_the_scan_asks_and_lands_in_its_server_row():
    targets = [{"target": "pq.example:8443", "quic": True}, "tcp.example:443", {"target": "no.example:443", "quic": False}]
    assert [(s["item"]["target"], s["probe"]["transport"]) for s in scan_plan(targets) if s["kind"] == "quic_pq"] == [
        ("pq.example:8443", "quic")]
    plan = scan_plan(targets, None, True)
    assert [s["item"]["target"] for s in plan if s["kind"] == "quic_pq"] == ["pq.example:8443", "tcp.example:443"]
    hybrid = {"failed": False, "negotiated_group": "X25519MLKEM768", "group_kind": "hybrid", "quantum_safe": True,
              "supported_groups": ["X25519MLKEM768", "x25519"]}
    x25519 = dict(hybrid, negotiated_group="x25519", group_kind="classical", quantum_safe=False)
    silent = {"failed": True, "msg": "no answer from tcp.example port 443 over QUIC"}
    # Plan order: four TCP offers and QUIC for the first two targets, four TCP offers for the third.
    answers = [hybrid, hybrid, x25519, hybrid, hybrid, hybrid, hybrid, x25519, hybrid, silent, hybrid, hybrid, x25519, hybrid]
    pq, tcp, no = scan_rows(plan, answers)
    assert (pq["verdict"], pq["servers"][0]["http3_pq_offer_group"]) == ("PQ-ready", "X25519MLKEM768")
    assert (tcp["verdict"], tcp["servers"][0]["http3_pq_offer_group"]) == ("classical only", "no answer")
    assert tcp["servers"][0]["why"] == "over HTTP/3 (QUIC): no answer from tcp.example port 443 over QUIC for a post-quantum offer"
    assert (no["verdict"], no["servers"][0]["http3_pq_offer_group"]) == ("PQ-ready", None)


def test_certificates_are_read_where_the_scanning_side_has_openssl_3_5_and_said_unread_otherwise():
    old = scan_plan(["pq.example:8443"], None, False, {"openssl": "OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19)"})
    assert [s["kind"] for s in old] == ["enumerate", "predicted", "classical", "split"]
    hybrid = {"failed": False, "negotiated_group": "X25519MLKEM768", "group_kind": "hybrid", "quantum_safe": True,
              "supported_groups": ["X25519MLKEM768", "x25519"]}
    row = scan_rows(old, [hybrid] * 4)[0]
    assert row["certificates"] == [] and row["certificates_error"].startswith(
        "the scanning side's OpenSSL (OpenSSL 3.0.19 27 Jan 2026 (Library: OpenSSL 3.0.19)) cannot complete")
    assert "OpenSSL (none found)" in scan_rows(scan_plan(["pq.example:8443"], None, False, {"openssl": ""}), [hybrid] * 4)[0][
        "certificates_error"]

    plan = scan_plan(["pq.example:8443"], None, False, {"openssl": "OpenSSL 3.5.4 30 Sep 2025", "ca_files": ["/ca.pem"]})
    steps = [s for s in plan if s["kind"] == "certificate"]
    assert [s["item"][1] for s in steps] == ["post-quantum", "classical"]
    assert steps[0]["probe"]["signature_algorithms"][0] == "mldsa44" and steps[1]["probe"]["engine"] == "openssl"
    assert steps[0]["probe"]["ca_files"] == ["/ca.pem"] and "MLKEM1024" in steps[0]["probe"]["groups"]
    assert scan_plan(["pq.example:8443"], None, False, {"openssl": "OpenSSL 3.6.0"})[-1]["probe"]["ca_files"] == [
        "/etc/ssl/certs/ca-certificates.crt"]
    mldsa = dict(hybrid, certificate_key_algorithm="ML-DSA-44", certificate_issuer="CN=Fleet root",
                 certificate_subject="CN=pq.example", certificate_days_left=40, certificate_not_after="Jan 15 10:00:00 2027 GMT",
                 certificate_not_before="Dec  6 10:00:00 2026 GMT", certificate_signature_algorithm="ML-DSA-65",
                 certificate_key_size=None, certificate_verified=False, verify_error="unable to get local issuer certificate")
    ecdsa = dict(mldsa, certificate_key_algorithm="id-ecPublicKey", certificate_key_size=256,
                 certificate_signature_algorithm="ecdsa-with-SHA256", certificate_verified=True, verify_error=None)
    row = scan_rows(plan, [hybrid] * 4 + [mldsa, ecdsa])[0]
    assert row["certificates_error"] is None
    assert [(c["path"], c["key_algorithm"], c["key_size"], c["trusted"]) for c in row["certificates"]] == [
        ("served to a post-quantum client", "ML-DSA-44", None, False), ("served to a classical client", "id-ecPublicKey", 256, True)]
    assert row["certificates"][0]["verify_error"] == "unable to get local issuer certificate"
    assert row["servers"][0]["certificates"] == row["certificates"]
    # One certificate served to both: listed once; a handshake that failed is said.
    row = scan_rows(plan, [hybrid] * 4 + [ecdsa, ecdsa])[0]
    assert [c["path"] for c in row["certificates"]] == ["served to every client"]
    row = scan_rows(plan, [hybrid] * 4 + [{"failed": True, "msg": "timed out"}, ecdsa])[0]
    assert row["certificates_error"] == "post-quantum: timed out" and len(row["certificates"]) == 1


def test_with_quic_alt_svc_http3_goes_to_the_port_the_target_announces_on_its_own_host():
    targets = ["pq.example:8443", {"target": "10.0.0.5:9443", "server_name": "api.example"}, "away.example:443",
               "none.example:443", {"target": "off.example:443", "quic": False}]
    plan = scan_plan(targets, None, "alt-svc")
    asked = [s["item"]["target"] for s in plan if s["kind"] == "enumerate" and s["probe"].get("alt_svc")]
    assert asked == ["pq.example:8443", "10.0.0.5:9443", "away.example:443", "none.example:443"]
    assert not [s for s in plan if s["kind"] == "quic_pq"]
    hybrid = {"failed": False, "negotiated_group": "X25519MLKEM768", "group_kind": "hybrid", "quantum_safe": True,
              "supported_groups": ["X25519MLKEM768", "x25519"]}
    said = [dict(hybrid, alt_svc='h3-29=":8443", h3=":8443"; ma=86400'), dict(hybrid, alt_svc='h3="api.example:443"'),
            dict(hybrid, alt_svc='h3="cdn.elsewhere.example:443"'),
            dict(hybrid, alt_svc=None, alt_svc_error="gave no HTTPS answer"), hybrid]
    answers = []
    for enum in said:
        answers += [enum, hybrid, hybrid, hybrid]
    quic = alt_svc_plan(plan, answers)
    # Its own host only (by address or server name); another host's alternative is not followed.
    assert [(s["item"]["target"], s["probe"]["host"], s["probe"]["port"], s["probe"]["transport"]) for s in quic] == [
        ("pq.example:8443", "pq.example", 8443, "quic"), ("10.0.0.5:9443", "10.0.0.5", 443, "quic")]
    rows = scan_rows(plan + quic, answers + [hybrid, {"failed": True, "msg": "no answer over QUIC"}])
    assert [row["servers"][0]["http3_pq_offer_group"] for row in rows] == ["X25519MLKEM768", "no answer", None, None, None]
    assert [row["verdict"] for row in rows] == ["PQ-ready", "classical only", "PQ-ready", "PQ-ready", "PQ-ready"]
    assert rows[2]["alt_svc"] == 'h3="cdn.elsewhere.example:443"' and rows[3]["alt_svc_error"] == "gave no HTTPS answer"
    with pytest.raises(AnsibleFilterError, match="pqc_edge_scan_quic must be true, false or alt-svc"):
        scan_plan(targets, None, "yes")


def test_a_server_that_answers_the_split_client_hello_with_an_alert_read_it_whole():
    """A server that shares none of the split offer's groups sends an alert: it read the ClientHello, pieces or not."""
    plan = scan_plan(["p384.example:443"])
    enum = {"failed": False, "negotiated_group": "secp384r1", "group_kind": "classical", "quantum_safe": False,
            "supported_groups": ["SecP384r1MLKEM1024", "secp384r1"]}
    alert = {"failed": False, "negotiated_group": None, "alert": "handshake_failure"}
    row = scan_rows(plan, [enum, enum, alert, alert])[0]
    assert row["answers_split_client_hello"] is True and row["split_client_hello_error"] is None
