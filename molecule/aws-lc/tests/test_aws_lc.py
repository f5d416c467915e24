"""nginx on AWS-LC: the binary carries AWS-LC (no OpenSSL library loaded), the build records the pinned archive and
pqc.edge's patch, ssl_conf_command works through it, and verify and the report name the library. A wrong AWS-LC digest:
test_source_build.py."""

import json
import os
import re

AWS_LC_SHA256 = "69b5d2d5d141cb25418fd863aa35fe357f95d5871935bab9de53bd33059dd2d5"
NGINX = "/opt/pqc-edge/nginx/sbin/nginx"
# The OpenSSL 3.5 client: Debian 13's, or on Debian 12 the one pqc.edge built beside AWS-LC.
OPENSSL = os.environ.get("PQC_EDGE_CLIENT_OPENSSL", "openssl")


def test_nginx_runs_with_aws_lc_linked_in(host):
    built = host.run(NGINX + " -V 2>&1").stdout
    assert "running with AWS-LC 5.1.0" in built, built
    libraries = host.run("ldd " + NGINX).stdout
    assert "libssl" not in libraries and "libcrypto" not in libraries, libraries


def test_the_build_stamp_names_the_aws_lc_archive(host):
    stamp = host.file("/opt/pqc-edge/nginx/.pqc-edge-build").content_string
    assert "aws-lc 5.1.0 sha256:" + AWS_LC_SHA256 in stamp, stamp


def test_the_policy_has_no_group_tuples_and_the_server_order_wins(host):
    conf = host.file("/opt/pqc-edge/nginx/conf/nginx.conf").content_string
    assert "ssl_ecdh_curve X25519MLKEM768:SecP256r1MLKEM768:X25519:P-256;" in conf, conf
    assert "ssl_prefer_server_ciphers on;" in conf
    # ML-DSA first: AWS-LC's own order would sign with ECDSA for a client that accepts both.
    assert re.search(r"^\s*ssl_conf_command SignatureAlgorithms mldsa44:mldsa65:mldsa87:ecdsa_secp256r1_sha256:", conf, re.M), conf


def test_ssl_conf_command_works_through_the_patch(host):
    # NumTickets 1 (nginx_ssl_session_tickets), where AWS-LC alone sends 2. AWS-LC sends them with its Finished (half
    # a round trip early); s_client shows them once it reads the answer to a request.
    out = host.run("printf 'GET /api/health HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' | %s s_client -connect"
                   " 127.0.0.1:8443 -servername localhost -msg -ign_eof 2>&1" % OPENSSL).stdout
    assert len(re.findall(r"<<< TLS 1.3, Handshake \[length [0-9a-f]+\], NewSessionTicket", out)) == 1, out
    # proxy_ssl_conf_command Groups, in AWS-LC's spelling, on a hop of the operator's own (unverified: AWS-LC does not
    # take a self-signed server certificate as its own trust anchor, as OpenSSL does) to the edge's own site.
    hop = ("server { listen 127.0.0.1:9080; location / { proxy_pass https://127.0.0.1:8443/api/tls;"
           " proxy_ssl_server_name on; proxy_ssl_name localhost; proxy_set_header Host localhost;"
           " proxy_ssl_conf_command Groups P-256; } }")
    try:
        assert host.run("printf '%%s\\n' '%s' > /opt/pqc-edge/nginx/conf/conf.d/test-hop.conf && %s -t -q"
                        " && systemctl reload nginx" % (hop, NGINX)).rc == 0
        # A reload returns before the new workers listen; a loaded machine can take seconds.
        answer = host.run("for i in $(seq 100); do curl -sf http://127.0.0.1:9080/ && break; sleep 0.2; done").stdout
        assert json.loads(answer)["group"] in ("prime256v1", "secp256r1"), answer
    finally:
        host.run("rm -f /opt/pqc-edge/nginx/conf/conf.d/test-hop.conf && systemctl reload nginx && "
                 "for i in $(seq 100); do ss -Htln 'sport = :9080' | grep -q . || break; sleep 0.2; done")
    # A command the patch does not make is refused by nginx, naming it.
    assert host.run("cp /opt/pqc-edge/nginx/conf/nginx.conf /root/nginx-options.conf && sed -i"
                    " 's/ssl_conf_command NumTickets 1;/ssl_conf_command Options ServerPreference;/'"
                    " /root/nginx-options.conf").rc == 0
    refused = host.run("%s -t -c /root/nginx-options.conf 2>&1" % NGINX)
    assert refused.rc != 0 and 'ssl_conf_command "Options" is not available with AWS-LC' in refused.stdout, refused.stdout


def test_each_certificate_by_the_signatures_the_client_accepts(host):
    for sigalgs, expected in (("mldsa44", "mldsa44"), ("ecdsa_secp256r1_sha256", "ecdsa_secp256r1_sha256")):
        out = host.run("%s s_client -connect 127.0.0.1:8443 -servername localhost -groups X25519MLKEM768 "
                       "-sigalgs %s </dev/null 2>&1" % (OPENSSL, sigalgs)).stdout
        assert "Peer signature type: %s" % expected in out, out


def test_a_client_with_an_x25519_share_is_sent_a_hello_retry_request(host):
    out = host.run("%s s_client -connect 127.0.0.1:8443 -servername localhost -groups X25519:X25519MLKEM768 "
                   "-msg </dev/null 2>&1" % OPENSSL).stdout
    # One key share, X25519's; the server asks again (OpenSSL's -msg shows the HelloRetryRequest as a ServerHello,
    # answered by a second ClientHello).
    assert out.count(", ClientHello") == 2, out
    assert "Negotiated TLS1.3 group: X25519MLKEM768" in out, out


def test_verify_and_the_report_name_aws_lc(host, run_playbook, tmp_path):
    result = run_playbook("pqc.edge.verify", {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nginx serves TLS with AWS-LC 5.1.0" in result.stdout, result.stdout
    result = run_playbook("pqc.edge.report", {"pqc_edge_report_dir": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "pqc-report.json").read_text())
    assert report["hosts"][0]["tls_library"] == "AWS-LC 5.1.0", report["hosts"][0]
    assert report["hosts"][0]["verdict"] == "PQ-ready", report["hosts"][0]


def test_the_prefer_policy_and_tls12_opt_in_hold_on_aws_lc(host, run_site):
    """prefer (with the client's order, as the preflight asks on AWS-LC) keeps an X25519 key share without a
    HelloRetryRequest, and TLS 1.2 opted in serves the ECDSA certificate; the defaults come back afterwards."""
    handshake = OPENSSL + " s_client -connect 127.0.0.1:8443 -servername localhost %s -msg </dev/null 2>&1"
    try:
        result = run_site({"nginx_group_policy": "prefer", "nginx_prefer_server_order": False,
                           "nginx_tls_protocols": ["TLSv1.2", "TLSv1.3"]})
        assert result.returncode == 0, result.stdout + result.stderr
        out = host.run(handshake % "-groups X25519:X25519MLKEM768").stdout
        assert out.count(", ClientHello") == 1 and "Peer Temp Key: X25519" in out, out
        out = host.run(handshake % "-tls1_2 -groups X25519:secp256r1").stdout
        assert "New, TLSv1.2," in out and re.search(r"Peer signature type: (?i:ecdsa)", out), out
    finally:
        result = run_site({})
    assert result.returncode == 0, result.stdout + result.stderr
    out = host.run(handshake % "-groups X25519:X25519MLKEM768").stdout
    assert out.count(", ClientHello") == 2 and "Negotiated TLS1.3 group: X25519MLKEM768" in out, out


def test_a_hop_verified_only_as_its_own_self_signed_anchor_fails_the_gate(host, run_site):
    """The gate probes a hop with OpenSSL's command line, which takes a self-signed certificate found in the CA file as
    its own trust anchor; AWS-LC does not, so nginx answers such a hop with 502, and the gate must fail it by name."""
    assert host.run("cat /etc/pqc-edge/tls/default/mldsa44.crt /etc/pqc-edge/tls/default/ecdsa.crt"
                    " > /root/self-anchors.crt").rc == 0
    sites = [{"name": "default", "server_names": ["pqc-edge-aws-lc"], "default_server": True, "locations": [
        {"path": "/", "proxy": "backend"},
        {"path": "/self/", "proxy": "https://localhost:8443/api/", "proxy_ca_file": "/root/self-anchors.crt"}]}]
    try:
        result = run_site({"pqc_edge_sites": sites})
        said = " ".join((result.stdout + result.stderr).split())
        assert result.returncode != 0, said[-3000:]
        assert "the hop from site default location /self/ -> https://localhost:8443/api/" in said, said[-3000:]
        assert ("is self-signed and verifies against /root/self-anchors.crt only as its own trust anchor, which AWS-LC "
                "5.1.0 does not accept (nginx answers 502)") in said, said[-3000:]
        status = host.run("curl -sk -o /dev/null -w '%{http_code}' --resolve pqc-edge-aws-lc:8443:127.0.0.1"
                          " https://pqc-edge-aws-lc:8443/self/health").stdout
        assert status == "502", status
    finally:
        restored = run_site({})
    assert restored.returncode == 0, (restored.stdout + restored.stderr)[-3000:]
