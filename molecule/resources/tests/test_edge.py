"""Behaviour of a converged pqc.edge host, checked with real clients inside it.

Every handshake here is a real OpenSSL 3.5 or curl client talking to the real nginx. What a scenario
configured is given through PQC_EDGE_EXPECT_* variables in its molecule.yml, never read back from the
host under test.
"""

import json
import os
import re

import pytest

HTTPS = "127.0.0.1:8443"
POLICY = os.environ.get("PQC_EDGE_EXPECT_POLICY", "enforce")
TLS12 = os.environ.get("PQC_EDGE_EXPECT_TLS12", "false") == "true"
CLASSICAL = os.environ.get("PQC_EDGE_EXPECT_CLASSICAL", "ecdsa")
NGINX = os.environ.get("PQC_EDGE_EXPECT_NGINX_BINARY", "/usr/sbin/nginx")
# nginx logs what the client offered ($ssl_curves) only where its TLS library can say (OpenSSL; not AWS-LC).
OFFERS_LOGGED = os.environ.get("PQC_EDGE_EXPECT_CLIENT_GROUPS_LOGGED", "true") == "true"
# The OpenSSL 3.5 client: the host's (Debian 13), or on an older host the one pqc.edge built there.
OPENSSL = os.environ.get("PQC_EDGE_CLIENT_OPENSSL", "openssl")
# Debian 12's curl (7.88 on OpenSSL 3.0, without HTTP/3) can offer neither ML-KEM nor QUIC: those checks are skipped.
needs_modern_curl = pytest.mark.skipif(
    os.environ.get("PQC_EDGE_CLIENT_CURL_MODERN", "true") != "true",
    reason="the host's curl links an OpenSSL without ML-KEM and has no HTTP/3 (Debian 12); the OpenSSL 3.5 client checks the hybrid")


def s_client(host, *args):
    """Run one real handshake; return (exit code, everything s_client printed)."""
    cmd = host.run("%s s_client -connect %s -servername localhost %s </dev/null 2>&1" % (OPENSSL, HTTPS, " ".join(args)))
    return cmd.rc, cmd.stdout


def negotiated_group(output):
    match = re.search(r"Negotiated TLS1\.3 group: (\S+)", output) or re.search(r"Peer Temp Key: ([^,]+),", output)
    return match.group(1) if match else None


def peer_signature(output):
    match = re.search(r"Peer signature type: (\S+)", output)
    return match.group(1) if match else None


def curl_json(host, path, *args):
    cmd = host.run("curl -sk --max-time 10 -w '\\n%%{content_type}' %s https://%s%s" % (" ".join(args), HTTPS, path))
    assert cmd.rc == 0, cmd.stderr
    body, dummy, content_type = cmd.stdout.rpartition("\n")
    assert content_type.startswith("application/json"), content_type
    return json.loads(body)


def test_pq_client_gets_hybrid_group_and_mldsa_certificate(host):
    rc, out = s_client(host, "-groups X25519MLKEM768", "-sigalgs", "mldsa44")
    assert rc == 0, out
    assert negotiated_group(out) == "X25519MLKEM768"
    assert peer_signature(out) == "mldsa44"


def test_pq_client_that_accepts_every_signature_gets_the_mldsa_certificate(host):
    rc, out = s_client(host, "-groups X25519MLKEM768")
    assert rc == 0, out
    assert negotiated_group(out) == "X25519MLKEM768"
    assert peer_signature(out) == "mldsa44"


def test_client_with_only_classical_key_share(host):
    # The client supports X25519MLKEM768 but predicts X25519: the key share goes to the first group only.
    rc, out = s_client(host, "-groups X25519:X25519MLKEM768")
    assert rc == 0, out
    expected = "X25519MLKEM768" if POLICY == "enforce" else "X25519"
    assert negotiated_group(out) == expected


def test_classical_client_gets_classical_group_and_certificate(host):
    sigalg = {"rsa": "rsa_pss_rsae_sha256", "ecdsa": "ecdsa_secp256r1_sha256"}[CLASSICAL]
    rc, out = s_client(host, "-groups X25519", "-sigalgs", sigalg)
    assert rc == 0, out
    assert negotiated_group(out) == "X25519"
    assert peer_signature(out) == sigalg


def test_client_without_any_common_group_is_refused(host):
    rc, out = s_client(host, "-groups ffdhe2048")
    assert rc != 0
    assert "alert handshake failure" in out, out
    assert negotiated_group(out) in (None, "<NULL>")


@pytest.mark.parametrize("version", ["-tls1_2"])
def test_tls12_only_client(host, version):
    # TLS 1.2 clients list the curve of an ECDSA certificate among their groups (RFC 8422), as real ones do.
    rc, out = s_client(host, version, "-groups X25519:secp256r1")
    if TLS12:
        assert rc == 0, out
        assert "Protocol: TLSv1.2" in out or "TLSv1.2" in out
    else:
        assert rc != 0, out
        assert "alert protocol version" in out or "no protocols available" in out


@needs_modern_curl
def test_curl_defaults_are_quantum_safe(host):
    tls = curl_json(host, "/api/tls")
    assert tls["protocol"] == "TLSv1.3"
    assert tls["group"] == "X25519MLKEM768"
    assert tls["group_kind"] == "hybrid"
    assert tls["quantum_safe"] is True
    offered = [g["name"] for g in tls["client_groups"]]
    if OFFERS_LOGGED:
        assert "X25519MLKEM768" in offered and "x25519" in offered
    else:
        assert offered == [], tls


def test_classical_curl_is_not_quantum_safe(host):
    health = curl_json(host, "/nginx-health", "--curves X25519")
    assert health == {"nginx": "proxy working", "backend": "connected", "quantum_safe": False}
    tls = curl_json(host, "/api/tls", "--curves X25519")
    assert tls["group"] == "x25519" and tls["group_kind"] == "classical"


def test_health_endpoint(host):
    health = curl_json(host, "/api/health")
    assert health["status"] == "healthy"
    assert health["timestamp"] and health["message"]


def test_http_redirects_to_https_with_same_path(host):
    cmd = host.run("curl -s -o /dev/null -w '%{http_code} %{redirect_url}' 'http://127.0.0.1:8080/some/path?x=1'")
    assert cmd.stdout == "301 https://127.0.0.1:8443/some/path?x=1"


@pytest.mark.parametrize("service", ["nginx", "pqc-edge-backend"])
def test_services_enabled_and_running(host, service):
    unit = host.service(service)
    assert unit.is_enabled
    assert unit.is_running


def test_private_keys_are_root_only(host):
    keys = host.run("ls /etc/pqc-edge/tls/default/*.key").stdout.split()
    assert len(keys) == 2
    for key in keys:
        f = host.file(key)
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600), key


def test_backend_is_reachable_only_through_nginx(host):
    sock = host.file("/run/pqc-edge-backend.sock")
    assert sock.is_socket
    assert (sock.user, sock.group, sock.mode) == ("root", "www-data", 0o660)
    # gunicorn has no network socket of its own (PrivateNetwork), only the inherited unix socket.
    assert host.run("ss -Hltnp | grep -c gunicorn").stdout.strip() == "0"
    users = set(host.run("ps -o user= -C gunicorn").stdout.split())
    assert users == {"pqc-edge-backend"}
    health = "curl -s -o /dev/null -w '%{http_code}' --unix-socket /run/pqc-edge-backend.sock http://x/api/health"
    # The web server's user gets through; any other local user is refused by the socket's mode.
    assert host.run("runuser -u www-data -- " + health).stdout == "200"
    denied = host.run("runuser -u nobody -- " + health)
    assert denied.stdout == "000" and denied.rc == 7, denied.stdout


def test_backend_unit_is_hardened(host):
    out = host.run("systemd-analyze security pqc-edge-backend.service --no-pager").stdout
    score = float(re.search(r"Overall exposure level for pqc-edge-backend\.service: ([0-9.]+)", out).group(1))
    assert score <= 2.0, out


def test_nginx_configuration_is_valid(host):
    assert host.run("%s -t" % NGINX).rc == 0


# HTTP/3: nginx_http3 is on by default and every Debian 13 nginx here has the module (package and source build).
@needs_modern_curl
def test_http3_client_gets_the_hybrid_group_over_quic(host):
    tls = curl_json(host, "/api/tls", "--http3-only")
    assert (tls["http_version"], tls["protocol"], tls["group"]) == ("HTTP/3.0", "TLSv1.3", "X25519MLKEM768")
    assert tls["quantum_safe"] is True


@needs_modern_curl
def test_classical_only_http3_client_gets_x25519_over_quic(host):
    tls = curl_json(host, "/api/tls", "--http3-only --curves X25519")
    assert (tls["http_version"], tls["group"], tls["quantum_safe"]) == ("HTTP/3.0", "x25519", False)


@needs_modern_curl
def test_https_responses_advertise_http3_on_the_same_port(host):
    headers = host.run("curl -sk -o /dev/null -D - https://%s/api/health" % HTTPS).stdout.lower()
    assert 'alt-svc: h3=":8443"; ma=86400' in headers, headers


def quic_probe(host, *args):
    """pqc.edge.tls_probe with transport=quic, run on the host (which has no cryptography package: plain Python AES)."""
    return host.ansible("pqc.edge.tls_probe", " ".join(("host=127.0.0.1", "transport=quic") + args), check=False)


@pytest.mark.parametrize("groups, key_shares, curves", [
    ("X25519MLKEM768,x25519,secp256r1", "X25519MLKEM768,x25519", ""),
    ("x25519", "x25519", "--curves X25519"),
], ids=["post-quantum", "classical"])
@needs_modern_curl
def test_quic_probe_agrees_with_curl_over_http3(host, groups, key_shares, curves):
    probe = quic_probe(host, "port=8443", "groups=" + groups, "key_shares=" + key_shares)
    tls = curl_json(host, "/api/tls", "--http3-only", curves)
    assert probe.get("transport") == "quic", probe
    assert (probe["negotiated_group"], probe["tls_version"]) == (tls["group"], tls["protocol"])


def test_quic_probe_moves_a_client_with_an_x25519_share_to_the_hybrid_when_enforced(host):
    probe = quic_probe(host, "port=8443", "groups=x25519,X25519MLKEM768", "key_shares=x25519")
    expected = ("X25519MLKEM768", True) if POLICY == "enforce" else ("x25519", False)
    assert (probe["negotiated_group"], probe["hello_retry_request"]) == expected, probe


def test_quic_probe_of_a_silent_udp_port_fails_within_its_timeout_with_a_sentence(host):
    # Something that holds UDP 9443 and never answers, as a firewall that drops packets would look.
    host.run("systemd-run --unit pqc-edge-test-silent-udp python3 -c 'import socket, time; s = socket.socket("
             "socket.AF_INET, socket.SOCK_DGRAM); s.bind((\"127.0.0.1\", 9443)); time.sleep(60)'")
    # systemd-run returns before the socket is bound; a probe sent earlier would be told the port is closed.
    assert host.run("for i in $(seq 100); do ss -Huln 'sport = :9443' | grep -q . && exit 0; sleep 0.2; done; exit 1").rc == 0
    try:
        probe = quic_probe(host, "port=9443", "timeout=2")
    finally:
        host.run("systemctl stop pqc-edge-test-silent-udp")
    assert "negotiated_group" not in probe and probe["msg"] == (
        "no QUIC answer from 127.0.0.1 UDP port 9443 within 2.0 s (is HTTP/3 enabled, and UDP 9443 open?)"), probe
    assert "Traceback" not in str(probe) and "exception" not in probe


def test_quic_probe_of_a_closed_udp_port_names_it(host):
    probe = quic_probe(host, "port=9444", "timeout=2")
    assert "negotiated_group" not in probe and probe["msg"] == (
        "nothing listens on 127.0.0.1 UDP port 9444: the host answered port unreachable"), probe
