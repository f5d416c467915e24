"""The ACME renewal between plays (pqc-edge-acme-renew): its JOSE pieces against real openssl keys and signatures, its
renewal rule, the site files' digests, putting files back when nginx refuses, and its gauges after a failed run.
The ACME exchange itself runs against Pebble in the ca scenario; what Pebble 2.6.0 lacks (profiles, a CA refusing
`replaces`) against a recording directory here."""

import base64
import hashlib
import http.server
import json
import os
import subprocess
import threading
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from ansible_collections.pqc.edge.plugins.module_utils import _acme, _seal

DAY = 86400


def openssl(*args, data=None):
    return subprocess.run(["openssl"] + list(args), input=data, capture_output=True, check=True).stdout


@pytest.fixture
def account_key(tmp_path):
    path = tmp_path / "account.key"
    openssl("ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", str(path))
    return path


def test_a_signature_openssl_writes_becomes_the_jws_form_that_verifies(account_key):
    data = b"eyJhbGciOiJFUzI1NiJ9.eyJ0ZXN0Ijp0cnVlfQ"
    for dummy in range(20):  # DER integers of 31, 32 and 33 bytes all occur in 20 signatures
        raw = _acme.ecdsa_signature_raw(openssl("dgst", "-sha256", "-sign", str(account_key), data=data))
        assert len(raw) == 64
        public = serialization.load_pem_private_key(account_key.read_bytes(), None).public_key()
        public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                      data, ec.ECDSA(hashes.SHA256()))


def test_what_is_not_an_ecdsa_signature_is_refused():
    with pytest.raises(_acme.AcmeError, match="no DER SEQUENCE"):
        _acme.ecdsa_signature_raw(b"")
    with pytest.raises(_acme.AcmeError, match="no DER INTEGER"):
        _acme.ecdsa_signature_raw(b"\x30\x06\x04\x01\x01\x02\x01\x01")


def test_the_jwk_is_the_account_keys_point_and_its_thumbprint_hashes_the_required_members(account_key):
    jwk = _acme.p256_jwk(openssl("pkey", "-in", str(account_key), "-pubout", "-outform", "DER"))
    numbers = serialization.load_pem_private_key(account_key.read_bytes(), None).public_key().public_numbers()
    assert jwk["x"] == _acme.b64url(numbers.x.to_bytes(32, "big")) and jwk["y"] == _acme.b64url(numbers.y.to_bytes(32, "big"))
    text = '{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}' % (jwk["x"], jwk["y"])
    assert _acme.jwk_thumbprint(jwk) == _acme.b64url(hashlib.sha256(text.encode()).digest())


def test_an_rsa_account_key_is_refused(tmp_path):
    key = tmp_path / "rsa.key"
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(key))
    with pytest.raises(_acme.AcmeError, match="not a P-256 key"):
        _acme.p256_jwk(openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER"))


def test_the_certificate_identifier_is_rfc_9773s_example():
    # RFC 9773, section 4.1: this key identifier and serial give aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE.
    assert _acme.certificate_id("69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4", "0087654321") \
        == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
    # openssl prints serials without the DER sign byte; it comes back where the first bit is set.
    assert _acme.certificate_id("69885B6B", "87654321").endswith(".AIdlQyE")
    assert _acme.certificate_id("69885B6B", "7F").endswith(".fw")


def leaf(tmp_path, days=90):
    """A CA and a leaf it signed, as an ACME CA's would be (authority key identifier, names)."""
    ca_key, ca, key, csr, cert = (str(tmp_path / n) for n in ("ca.key", "ca.crt", "leaf.key", "leaf.csr", "leaf.crt"))
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key,
            "-out", ca, "-subj", "/CN=test CA", "-days", "30")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-out", csr, "-subj", "/CN=www.example.org")
    (tmp_path / "ext").write_text("subjectAltName=DNS:www.example.org,DNS:example.org\nauthorityKeyIdentifier=keyid\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-extfile", str(tmp_path / "ext"),
            "-days", str(days), "-out", cert)
    return cert, key


def test_a_real_certificates_dates_serial_identifier_and_names_are_read(tmp_path):
    cert, key = leaf(tmp_path)
    facts = _acme.Openssl("openssl").read_certificate(cert)
    assert facts["subject_alt_names"] == ["DNS:www.example.org", "DNS:example.org"]
    assert facts["not_after"] - facts["not_before"] == 90 * DAY
    assert abs(facts["not_before"] - time.time()) < 300
    serial = openssl("x509", "-in", cert, "-noout", "-serial").decode().strip().split("=")[1]
    assert facts["serial"] == serial
    ca_key_id = openssl("x509", "-in", str(tmp_path / "ca.crt"), "-noout", "-ext", "subjectKeyIdentifier").decode()
    assert facts["authority_key_id"] == ca_key_id.splitlines()[1].strip()


def test_a_csr_from_the_existing_key_names_what_the_play_ordered(tmp_path):
    cert, key = leaf(tmp_path)
    der = _acme.Openssl("openssl").csr(key, "www.example.org", ["DNS:www.example.org", "DNS:example.org"])
    text = openssl("req", "-inform", "DER", "-noout", "-text", "-verify", data=der).decode()
    assert "Subject: CN = www.example.org" in text and "DNS:www.example.org, DNS:example.org" in text
    public = openssl("pkey", "-in", key, "-pubout")
    assert openssl("req", "-inform", "DER", "-noout", "-pubkey", data=der) == public


@pytest.mark.parametrize("text, seconds", [
    ("2026-12-07T08:00:00Z", 1796630400),
    ("2026-12-07T08:00:00.123456789Z", 1796630400.123456789),
    ("2026-12-07T09:30:00+01:30", 1796630400),
    ("2026-12-07T06:00:00-02:00", 1796630400),
])
def test_rfc_3339_times_with_nanoseconds_and_offsets(text, seconds):
    assert _acme.rfc3339_time(text) == pytest.approx(seconds)


def test_a_time_that_is_not_rfc_3339_is_refused():
    with pytest.raises(_acme.AcmeError, match="not an RFC 3339 time"):
        _acme.rfc3339_time("07 Dec 2026")


FACTS = {"not_before": 1000 * DAY, "not_after": 1090 * DAY}


def window(start, end):
    return {"suggestedWindow": {"start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start)),
                                "end": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(end))}}


def test_the_renewal_information_says_when_whatever_the_dates():
    now = 1010 * DAY
    assert _acme.renewal_reason(FACTS, now, None, 1.0 / 3, window(now - 60, now + 3600)) == _acme.ARI_REASON
    assert _acme.renewal_reason(FACTS, now, None, 1.0 / 3, window(now + 60, now + 3600)) is None
    assert _acme.renewal_reason(FACTS, now, None, 1.0 / 3, None) is None


def test_without_renewal_information_the_plays_rule_decides():
    # 90-day certificate: a third of it (30 days) before its end, or renew_days.
    assert _acme.renewal_reason(FACTS, 1059 * DAY, None, 1.0 / 3, None) is None
    assert "less than 33% of its 90.0-day lifetime" in _acme.renewal_reason(FACTS, 1061 * DAY, None, 1.0 / 3, None)
    assert _acme.renewal_reason(FACTS, 1061 * DAY, 10, 1.0 / 3, None) is None
    assert _acme.renewal_reason(FACTS, 1081 * DAY, 10, 1.0 / 3, None) == "certificate expires within 10 days"
    # A window that has not begun does not keep a certificate the play would renew.
    assert _acme.renewal_reason(FACTS, 1081 * DAY, 10, 1.0 / 3, window(1085 * DAY, 1086 * DAY)) is not None


SITE = """# Ansible managed
# pqc.edge site www
# Certificates served (sha256 of each file, so a renewed certificate changes this file and reloads nginx):
#   mldsa44: /etc/pqc-edge/tls/www/mldsa44.crt %s
#   ecdsa: /etc/pqc-edge/tls/www/ecdsa.crt %s

server {
    listen 443 ssl;
}
""" % ("a" * 64, "b" * 64)


def test_the_site_file_gets_the_new_digest_of_that_certificate_only_and_a_new_seal():
    updated = _acme.with_digest(_seal.sealed(SITE), "/etc/pqc-edge/tls/www/ecdsa.crt", "c" * 64)
    assert _seal.is_sealed(updated)
    assert updated == _seal.sealed(SITE.replace("b" * 64, "c" * 64))


def test_a_site_file_that_names_it_not_already_has_it_or_was_edited_is_left_alone():
    sealed = _seal.sealed(SITE)
    assert _acme.with_digest(sealed, "/etc/pqc-edge/tls/other/ecdsa.crt", "c" * 64) is None
    assert _acme.with_digest(sealed, "/etc/pqc-edge/tls/www/ecdsa.crt", "b" * 64) is None
    edited = sealed.replace("listen 443 ssl;", "listen 443 ssl; # mine")
    assert _acme.with_digest(edited, "/etc/pqc-edge/tls/www/ecdsa.crt", "c" * 64) is None
    assert _acme.with_digest(SITE, "/etc/pqc-edge/tls/www/ecdsa.crt", "c" * 64) is None


def test_when_nginx_refuses_every_file_is_put_back_as_it_was(tmp_path):
    certs, sites = tmp_path / "tls", tmp_path / "sites-available"
    certs.mkdir()
    sites.mkdir()
    cert = certs / "ecdsa.crt"
    cert.write_text("old certificate\n")
    os.chmod(cert, 0o640)
    site_text = _seal.sealed(SITE.replace("/etc/pqc-edge/tls/www/ecdsa.crt", str(cert)))
    (sites / "pqc-edge-www.conf").write_text(site_text)
    (sites / "operator.conf").write_text("# " + str(cert) + "\n")
    nginx = {"binary": "/bin/false", "service": "nginx", "sites_available": str(sites), "site_file_prefix": "pqc-edge-"}
    chain = "-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n"
    lines = []
    with pytest.raises(_acme.AcmeError, match="nginx -t refused the renewed certificates"):
        _acme.put_in_force([(str(cert), chain)], nginx, lines.append)
    assert cert.read_text() == "old certificate\n" and os.stat(cert).st_mode & 0o777 == 0o640
    assert (sites / "pqc-edge-www.conf").read_text() == site_text
    assert sorted(os.listdir(certs)) == ["ecdsa.crt"] and sorted(os.listdir(sites)) == ["operator.conf", "pqc-edge-www.conf"]
    assert lines == ["put back %s" % ", ".join(sorted([str(cert), str(sites / "pqc-edge-www.conf")]))]


def test_a_failed_run_says_0_and_keeps_the_last_success_time(tmp_path, account_key):
    metrics = tmp_path / "pqc_edge_acme_renewal.prom"
    metrics.write_text(_acme.metrics_text(True, 1700000000, 1700000000, 1))
    config = tmp_path / "renewal.json"
    # Nothing listens on port 9 here: the directory cannot be reached, as when the CA is down.
    config.write_text(json.dumps({"directory": "http://127.0.0.1:9/dir", "account_key": str(account_key),
                                  "openssl": "openssl", "metrics_file": str(metrics), "certificates": [],
                                  "renew_fraction": 0.33}))
    lines = []
    assert _acme.main(str(config), lines.append) == 1
    assert lines and lines[0].startswith("failed: http://127.0.0.1:9/dir cannot be reached")
    text = metrics.read_text()
    assert "\npqc_edge_acme_renewal_success 0\n" in text
    assert "\npqc_edge_acme_renewal_last_success_timestamp_seconds 1700000000\n" in text
    assert _acme.previous_success(text) == 1700000000
    ran = float(text.split("\npqc_edge_acme_renewal_last_run_timestamp_seconds ")[1].split()[0])
    assert abs(ran - time.time()) < 60


def test_a_challenge_token_names_a_file_in_the_challenge_directory_only():
    assert _acme.challenge_path("/var/lib/acme", "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0") == \
        "/var/lib/acme/.well-known/acme-challenge/LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
    for token in ("../../../etc/nginx/sites-available/evil.conf", "a/b", "", None, "a" * 257, "tok.en"):
        with pytest.raises(_acme.AcmeError, match="not base64url"):
            _acme.challenge_path("/var/lib/acme", token)


class RecordingDirectory(object):
    """An ACME directory on 127.0.0.1 that records what the client POSTs (each JWS checked against the account key)
    and answers an order whose authorizations are already valid. It stands in where Pebble 2.6.0 cannot: Pebble
    offers no profiles, so the profile in the order is checked here. `refuse_replaces` answers an order that names
    a certificate it replaces as a CA does that did not issue it."""

    def __init__(self, account_key, refuse_replaces=False):
        with open(account_key, "rb") as f:
            self.public_key = serialization.load_pem_private_key(f.read(), None).public_key()
        self.orders, self.refuse_replaces = [], refuse_replaces
        directory = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body=b"", content_type="application/json", location=None):
                self.send_response(status)
                self.send_header("Replay-Nonce", "nonce-%d" % time.monotonic_ns())
                self.send_header("Content-Type", content_type)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/dir":
                    self.answer(200, json.dumps(dict((name, directory.url + "/" + name) for name in
                                                     ("newNonce", "newAccount", "newOrder"))).encode())
                else:
                    self.answer(200)

            def do_POST(self):
                jws = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                directory.check(jws)
                payload = json.loads(_acme_b64decode(jws["payload"])) if jws["payload"] else None
                if self.path == "/newOrder":
                    if "replaces" in payload and directory.refuse_replaces:
                        self.answer(409, json.dumps({"type": "urn:ietf:params:acme:error:conflict",
                                                     "detail": "not a certificate this CA issued"}).encode())
                        return
                    directory.orders.append(payload)
                    self.answer(201, json.dumps({"status": "ready", "authorizations": [],
                                                 "finalize": directory.url + "/finalize"}).encode(),
                                location=directory.url + "/order")
                elif self.path in ("/finalize", "/order"):
                    self.answer(200, json.dumps({"status": "valid", "certificate": directory.url + "/cert"}).encode())
                elif self.path == "/cert":
                    self.answer(200, b"-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
                                "application/pem-certificate-chain")
                else:
                    self.answer(404)

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def check(self, jws):
        signature = _acme_b64decode(jws["signature"])
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
        self.public_key.verify(der, ("%s.%s" % (jws["protected"], jws["payload"])).encode(), ec.ECDSA(hashes.SHA256()))


def _acme_b64decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize("refuse_replaces", [False, True])
def test_the_order_names_the_acme_profile_and_the_certificate_it_replaces(tmp_path, account_key, refuse_replaces):
    directory = RecordingDirectory(str(account_key), refuse_replaces)
    try:
        client = _acme.Client(directory.url + "/dir", str(account_key), _acme.Openssl("openssl"))
        client.kid = directory.url + "/account/1"
        chain = client.order(["DNS:www.example.org", "IP:192.0.2.7"], b"\x30\x00", str(tmp_path),
                             "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", "tlsserver")
    finally:
        directory.server.shutdown()
    assert "BEGIN CERTIFICATE" in chain
    identifiers = [{"type": "dns", "value": "www.example.org"}, {"type": "ip", "value": "192.0.2.7"}]
    if refuse_replaces:
        # Refused with `replaces`, ordered again without it, still under the profile.
        assert directory.orders == [{"identifiers": identifiers, "profile": "tlsserver"}]
    else:
        assert directory.orders == [{"identifiers": identifiers, "profile": "tlsserver",
                                     "replaces": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"}]
