"""pqc.edge.report_plan and pqc.edge.report_row: each server probed once per question, each answer matched back to
its server, and the host's verdict."""

import datetime

from ansible_collections.pqc.edge.plugins.filter.probes import probe_answers, probes_from, report_plan
from ansible_collections.pqc.edge.plugins.filter.report import report_row

SITE = {"address": None, "port": 8443, "server_name": "edge.example", "site": "default", "file": "/etc/nginx/a.conf",
        "line": 3, "reason": None}
LEGACY = {"address": None, "port": 9443, "server_name": "legacy.example", "site": None, "file": "/etc/nginx/b.conf",
          "line": 1, "reason": "sets its own ssl_ecdh_curve without a hybrid group"}
ADMIN = {"address": "127.0.0.1", "port": 8449, "server_name": "admin", "site": None, "file": "/etc/nginx/c.conf",
         "line": 7, "reason": None}
SERVERS = {"tls_endpoints": [SITE, LEGACY, ADMIN], "quic_endpoints": [SITE],
           "servers": [{"file": "/etc/nginx/a.conf", "line": 3, "certificates": ["/tls/mldsa44.crt", "/tls/ecdsa.crt"]}],
           "http_policy": {"ssl_ecdh_curve": {"value": "X25519MLKEM768:X25519"}}}
TRUST = [{"kind": "ML-DSA", "signature_algorithms": ["mldsa44"], "ca_files": ["/ca/root.crt"]}]


def plan():
    settings = {"from": "controller", "address": "203.0.113.5", "ports": {}, "quic_ports": {}, "trust_offers": TRUST,
                "issued_sites": ["default"]}
    return report_plan(SERVERS, "edge1", 8443, settings)


def test_each_server_is_probed_once_per_question_from_its_side():
    steps = plan()
    assert [(s["kind"], s["item"]["port"] if s["kind"] != "trust" else "trust", s["side"]) for s in steps] == [
        ("enumerate", 8443, "controller"), ("classical", 8443, "controller"), ("trust", "trust", "controller"),
        ("enumerate", 9443, "controller"), ("classical", 9443, "controller"),
        ("enumerate", 8449, "host"), ("classical", 8449, "host"), ("quic_pq", 8443, "controller")]
    assert probes_from(steps, "controller")[0] == {"host": "203.0.113.5", "port": 8443, "server_name": "edge.example",
                                                   "enumerate": True}
    assert probes_from(steps, "host")[1]["groups"] == ["X25519", "secp256r1"]


def test_without_nginxs_servers_the_default_port_stands_for_them():
    steps = report_plan({"failed": True, "msg": "no nginx"}, "edge1", "8443", {
        "from": "controller", "address": "203.0.113.5", "ports": {}, "quic_ports": {}, "trust_offers": [], "issued_sites": []})
    assert [(s["kind"], s["item"]["server_name"], s["probe"]["port"]) for s in steps] == [
        ("enumerate", "edge1", 8443), ("classical", "edge1", 8443)]


def answer(group, kind="hybrid", **extra):
    return dict({"failed": False, "negotiated_group": group, "group_kind": kind, "quantum_safe": kind == "hybrid"}, **extra)


def survey(**changes):
    expiry = (datetime.datetime.utcnow() + datetime.timedelta(days=30, hours=1)).strftime("%b %d %H:%M:%S %Y GMT")
    lines = ["OpenSSL 3.5.1 1 Jul 2025 (Library: OpenSSL 3.5.1 1 Jul 2025)", "nginx version: nginx/1.26.3",
             "cert /tls/mldsa44.crt|ML-DSA-44|%s|CN=Fleet root" % expiry, "cert /tls/ecdsa.crt|id-ecPublicKey|%s|" % expiry]
    return dict({"host": "edge1", "address": "203.0.113.5", "reachable": True, "lines": lines, "servers": SERVERS,
                 "os": "Debian 13", "crypto_provider": "auto", "traffic": {"tls_requests": 4, "changed": False}}, **changes)


def test_a_host_whose_servers_answer_is_judged_server_by_server():
    controller = [answer("X25519MLKEM768", supported_groups=["X25519MLKEM768", "X25519"], server_preference=True),
                  answer("X25519", "classical"),
                  {"failed": False, "certificate_verified": True, "certificate_key_algorithm": "ML-DSA-44"},
                  answer("X25519", "classical"), answer("X25519", "classical"),
                  answer("X25519MLKEM768")]
    host = [answer("X25519MLKEM768"), answer("secp256r1", "classical")]
    answers = probe_answers(plan(), controller, host)
    # The classical answers in another order than their servers: each still goes to its own server.
    answers["classical"].reverse()
    row = report_row(answers, survey())
    site, legacy, admin = row["servers"]
    assert (site["verdict"], site["why"], site["classical_offer_group"]) == ("hybrid", "pqc.edge site, policy at http level", "X25519")
    assert site["http3_pq_offer_group"] == "X25519MLKEM768" and site["supported_groups"] == ["X25519MLKEM768", "X25519"]
    assert [(c["key_algorithm"], c["trusted"], c["days_left"]) for c in site["certificates"]] == [
        ("ML-DSA-44", True, 30), ("id-ecPublicKey", None, 30)]
    assert site["certificates"][0]["issuer"] == "CN=Fleet root" and site["certificates"][1]["issuer"] is None
    assert (legacy["verdict"], legacy["why"], legacy["served_by"]) == ("classical", LEGACY["reason"], "operator")
    assert (admin["verdict"], admin["classical_offer_group"]) == ("hybrid", "secp256r1")
    assert row["verdict"] == "partly PQ" and row["address"] == "203.0.113.5:8443"
    assert (row["openssl"], row["nginx"], row["crypto_provider"]) == ("3.5.1", "1.26.3", "native")
    assert row["configured_groups"] == "X25519MLKEM768:X25519" and row["traffic"] == {"tls_requests": 4}
    assert row["error"] is None and row["pq_offer_group"] == "X25519MLKEM768"


def test_an_unreachable_host_is_a_row_saying_why():
    answers = probe_answers(plan(), [{"failed": True, "msg": "timed out"}] * 6, [], [], "the host could not be reached")
    row = report_row(answers, survey(reachable=False, lines=[], servers={"unreachable": True}, traffic={}))
    assert row["verdict"] == "unreachable" and row["error"] == "timed out" and row["reachable"] is False
    assert row["servers"][2]["why"] == "the host could not be reached"
    assert row["openssl"] is None and row["crypto_provider"] is None and row["traffic"] is None


def test_a_server_classical_over_quic_is_not_counted_hybrid():
    controller = [answer("X25519MLKEM768"), answer("X25519", "classical"), {"failed": False},
                  answer("X25519MLKEM768"), answer("X25519", "classical"),
                  answer("X25519", "classical")]
    answers = probe_answers(plan(), controller, [answer("X25519MLKEM768"), answer("X25519", "classical")])
    site = report_row(answers, survey(crypto_provider="oqsprovider"))["servers"][0]
    assert site["verdict"] == "classical"
    assert site["why"] == "over HTTP/3 (QUIC): negotiated X25519 for a post-quantum offer"


def test_under_a_profile_each_server_is_judged_and_classical_refusals_do_not_lower_the_verdict():
    cnsa2 = {"name": "cnsa2", "groups": ["MLKEM1024"]}
    settings = {"from": "controller", "address": "203.0.113.5", "ports": {}, "quic_ports": {}, "trust_offers": [],
                "issued_sites": [], "profile": cnsa2}
    servers = dict(SERVERS, tls_endpoints=[SITE, ADMIN])
    steps = report_plan(servers, "edge1", 8443, settings)
    enumerations = [(s["side"], s["probe"]["engine"], s["probe"]["groups"], s["probe"]["profile"]["name"])
                    for s in steps if s["kind"] == "enumerate"]
    assert enumerations == [("controller", "python", ["MLKEM1024"], "cnsa2"), ("host", "openssl", ["MLKEM1024"], "cnsa2")]
    assert [s["probe"]["groups"] for s in steps if s["kind"] == "quic_pq"] == [["MLKEM1024"]]
    judged = {"profile": "cnsa2", "compliant": True, "failed": [], "not_checked": []}
    mlkem = answer("MLKEM1024", "pq", quantum_safe=True, compliance=judged)
    refused = {"failed": False, "negotiated_group": None, "alert": "handshake_failure"}
    row = report_row(probe_answers(steps, [mlkem, refused, answer("MLKEM1024", "pq", quantum_safe=True)],
                                   [mlkem, refused]), survey(servers=servers))
    assert [(s["verdict"], s["compliance"]["compliant"]) for s in row["servers"]] == [("post-quantum", True)] * 2
    assert row["verdict"] == "PQ-ready" and row["compliance"] == judged


HOP = {"site": "default", "path": "/api/", "upstream": "https://api.internal:8444/", "host": "api.internal", "port": 8444,
       "server_name": "api.internal", "ca_file": None, "groups": ["X25519MLKEM768", "X25519"], "pinned": None}


def test_each_hop_to_a_tls_upstream_is_a_row_and_an_unverified_one_keeps_the_host_from_pq_ready():
    settings = {"from": "controller", "address": "203.0.113.5", "ports": {}, "quic_ports": {}, "trust_offers": [],
                "issued_sites": []}
    steps = report_plan({"tls_endpoints": [SITE], "quic_endpoints": []}, "edge1", 8443, settings, [HOP])
    assert [(s["kind"], s["side"]) for s in steps] == [("enumerate", "controller"), ("classical", "controller"), ("hop", "host")] + [
        ("hop_offer", "host")] * 3
    controller = [answer("X25519MLKEM768"), answer("X25519", "classical")]
    verified = answer("X25519MLKEM768", certificate_verified=True, verify_error=None)
    front = [answer("X25519MLKEM768"), answer("X25519MLKEM768"), answer("x25519", "classical")]
    row = report_row(probe_answers(steps, controller, [verified] + front), survey())
    assert row["verdict"] == "PQ-ready"
    assert row["upstream_hops"] == [{
        "site": "default", "location": "/api/", "upstream": "https://api.internal:8444/",
        "groups_offered": ["X25519MLKEM768", "X25519"], "negotiated_group": "X25519MLKEM768", "quantum_safe": True,
        "pq_offer_group": "X25519MLKEM768", "x25519_share_group": "X25519MLKEM768", "classical_offer_group": "x25519",
        "certificate_verified": True, "ca_file": None, "verify_error": None, "pinned": None, "error": None}]
    unverified = answer("X25519MLKEM768", certificate_verified=False, verify_error="certificate has expired")
    row = report_row(probe_answers(steps, controller, [unverified] + front), survey())
    assert row["verdict"] == "partly PQ" and row["upstream_hops"][0]["verify_error"] == "certificate has expired"


def test_the_tls_library_is_what_nginx_runs_with():
    from ansible_collections.pqc.edge.plugins.filter.report import tls_library_of
    assert tls_library_of(["nginx version: nginx/1.26.3", "built by gcc 14.2.0 (Debian 14.2.0-19) ",
                           "built with OpenSSL 1.1.1 (compatible; AWS-LC 5.1.0) (running with AWS-LC 5.1.0)"]) == "AWS-LC 5.1.0"
    assert tls_library_of(["built with OpenSSL 3.5.1 1 Jul 2025 (running with OpenSSL 3.5.4 30 Sep 2025)"]) == "OpenSSL 3.5.4"
    assert tls_library_of(["built with OpenSSL 3.5.7 2 Sep 2026"]) == "OpenSSL 3.5.7"
    assert tls_library_of(["nginx version: nginx/1.26.3"]) is None
