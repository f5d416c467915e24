"""The certificate expiry gauges: what they watch, what they read from real certificates, what they write."""

import calendar
import datetime
import subprocess
import time

import pytest

from ansible_collections.pqc.edge.plugins.module_utils import _expiry

SERVERS = [
    {"tls": True, "server_names": ["www.example.org", "example.org"],
     "certificates": ["/etc/pqc-edge/tls/www/mldsa44.crt", "/etc/pqc-edge/tls/www/ecdsa.crt"]},
    {"tls": True, "server_names": ["api.example.org"], "certificates": ["/etc/pqc-edge/tls/www/ecdsa.crt"]},
    {"tls": False, "server_names": ["plain.example.org"], "certificates": []},
    {"tls": True, "server_names": ["dyn.example.org"], "certificates": ["/etc/ssl/$ssl_server_name.crt", "rel/cert.pem"]},
    {"tls": True, "server_names": [], "certificates": ["/etc/ssl/catchall.pem"]},
]


def test_each_served_file_is_watched_once_with_every_name_it_is_served_for():
    assert _expiry.watch_list(SERVERS) == [
        {"certificate": "/etc/pqc-edge/tls/www/mldsa44.crt", "server_names": ["www.example.org", "example.org"]},
        {"certificate": "/etc/pqc-edge/tls/www/ecdsa.crt",
         "server_names": ["www.example.org", "example.org", "api.example.org"]},
        {"certificate": "/etc/ssl/catchall.pem", "server_names": []},
    ]


@pytest.mark.parametrize("servers", [None, [], [None, "x", {"tls": True, "certificates": [None, 5]}]])
def test_nothing_to_watch_from_nothing_or_from_garbage(servers):
    assert _expiry.watch_list(servers) == []


def make_certificate(tmp_path, name, algorithm, days):
    key, cert = tmp_path / (name + ".key"), tmp_path / (name + ".crt")
    options = {"ecdsa": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
               "rsa": ["-newkey", "rsa:2048"], "mldsa44": ["-newkey", "ML-DSA-44"]}[algorithm]
    subprocess.run(["openssl", "req", "-x509", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", str(days),
                    "-subj", "/CN=%s/O=Test CA" % name] + options, check=True, capture_output=True)
    end = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-enddate"], check=True, capture_output=True,
                         text=True).stdout.strip().partition("=")[2]
    return str(cert), calendar.timegm(time.strptime(end, "%b %d %H:%M:%S %Y GMT"))


def openssl_has_ml_dsa():
    listed = subprocess.run(["openssl", "list", "-signature-algorithms"], capture_output=True, text=True, check=False)
    return "ML-DSA-44" in listed.stdout


@pytest.mark.parametrize("algorithm, label", [("ecdsa", "ECDSA"), ("rsa", "RSA"), ("mldsa44", "ML-DSA-44")])
def test_a_real_certificate_is_read_with_its_expiry_issuer_and_key_algorithm(tmp_path, algorithm, label):
    if algorithm == "mldsa44" and not openssl_has_ml_dsa():
        pytest.skip("this machine's openssl cannot make ML-DSA keys (needs OpenSSL 3.5)")
    path, expires = make_certificate(tmp_path, "edge", algorithm, 45)
    facts = _expiry.read_certificate(path, "openssl")
    assert facts == {"not_after": expires, "issuer": "O=Test CA,CN=edge", "algorithm": label}
    in_days = (expires - time.time()) / 86400
    assert 44 < in_days <= 45


def test_a_missing_file_or_one_that_is_no_certificate_reads_as_none(tmp_path):
    (tmp_path / "junk.crt").write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    assert _expiry.read_certificate(str(tmp_path / "junk.crt"), "openssl") is None
    assert _expiry.read_certificate(str(tmp_path / "absent.crt"), "openssl") is None
    assert _expiry.read_certificate(str(tmp_path / "absent.crt"), str(tmp_path / "no-openssl")) is None


def test_the_gauges_carry_each_name_and_report_unreadable_files():
    watch = _expiry.watch_list(SERVERS)
    read = {"/etc/pqc-edge/tls/www/mldsa44.crt": {"not_after": 1800000000, "issuer": 'CN=Edge "CA"', "algorithm": "ML-DSA-44"},
            "/etc/pqc-edge/tls/www/ecdsa.crt": {"not_after": 1790000000, "issuer": "CN=R10,O=Let's Encrypt,C=US",
                                                "algorithm": "ECDSA"},
            "/etc/ssl/catchall.pem": None}
    text = _expiry.prometheus_text(watch, read, 1764244800.0)
    lines = text.splitlines()
    assert ('pqc_edge_certificate_expiry_timestamp_seconds{server_name="www.example.org",algorithm="ML-DSA-44",'
            'issuer="CN=Edge \\"CA\\"",certificate="/etc/pqc-edge/tls/www/mldsa44.crt"} 1800000000') in lines
    assert ('pqc_edge_certificate_expiry_timestamp_seconds{server_name="api.example.org",algorithm="ECDSA",'
            'issuer="CN=R10,O=Let\'s Encrypt,C=US",certificate="/etc/pqc-edge/tls/www/ecdsa.crt"} 1790000000') in lines
    assert len([line for line in lines if line.startswith("pqc_edge_certificate_expiry_timestamp_seconds{")]) == 5
    assert 'pqc_edge_certificate_unreadable{certificate="/etc/ssl/catchall.pem"} 1' in lines
    assert "pqc_edge_certificate_expiry_last_update_timestamp_seconds 1764244800.000" in lines
    assert "# TYPE pqc_edge_certificate_expiry_timestamp_seconds gauge" in lines


def test_a_certificate_without_server_names_still_has_its_gauge():
    text = _expiry.prometheus_text([{"certificate": "/c.pem", "server_names": []}],
                                   {"/c.pem": {"not_after": 5, "issuer": "", "algorithm": "RSA"}}, 0)
    assert 'pqc_edge_certificate_expiry_timestamp_seconds{server_name="",algorithm="RSA",issuer="",certificate="/c.pem"} 5' \
        in text.splitlines()


def test_a_date_openssl_pads_with_a_space_is_read():
    facts = _expiry.certificate_facts("notAfter=Mar  5 07:08:09 2027 GMT\nissuer=CN=x\n")
    assert facts["not_after"] == calendar.timegm(datetime.datetime(2027, 3, 5, 7, 8, 9).timetuple())
    assert facts["algorithm"] == "unknown"


DAY = 86400


@pytest.mark.parametrize("lifetime_days, left_days, due", [
    (6, 2.1, False), (6, 1.9, True),
    (45, 15.1, False), (45, 14.9, True),
    (90, 30.5, False), (90, 29.5, True),
    (365, 122, False), (365, 121, True),
    (90, -1, True),
])
def test_without_renew_days_a_third_of_the_lifetime_is_the_window(lifetime_days, left_days, due):
    now = 1800000000
    not_after = now + left_days * DAY
    reason = _expiry.renewal_reason(not_after - lifetime_days * DAY, not_after, now)
    assert bool(reason) is due
    if due:
        assert "of its %.1f-day lifetime" % lifetime_days in reason


def test_renew_days_when_given_is_the_window_whatever_the_lifetime():
    now = 1800000000
    assert _expiry.renewal_reason(now - 2 * DAY, now + 4 * DAY, now, renew_days=30) == "certificate expires within 30 days"
    assert _expiry.renewal_reason(now - 300 * DAY, now + 65 * DAY, now, renew_days=30) is None
    assert _expiry.renewal_reason(now - 300 * DAY, now + 65 * DAY, now, fraction=0.1) is None
    assert _expiry.renewal_reason(now - 300 * DAY, now + 65 * DAY, now, fraction=0.2)
