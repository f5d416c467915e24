"""The fleet CA flow against the real openssl command: the edge's pqc.edge.certificate (csr_only, then
certificate_content) and the CA host's pqc.edge.ca_sign, each on its own directory as on its own host."""

import os
import subprocess

import pytest

from ansible_collections.pqc.edge.plugins.modules import ca_sign, certificate

from module_runner import ModuleFail, run_module


@pytest.fixture
def ca(tmp_path):
    """A classical root made the way the role makes it: pqc.edge.certificate with is_ca."""
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    paths = {"private_key_path": str(ca_dir / "root.key"), "certificate_path": str(ca_dir / "root.crt")}
    run_module(certificate.main, dict(paths, key_algorithm="ecdsa", ecdsa_curve="P-384", common_name="fleet root", is_ca=True,
                                      valid_days=3650))
    return dict(paths, issued_dir=str(ca_dir / "issued"))


@pytest.fixture
def edge(tmp_path, ca):
    edge_dir = tmp_path / "edge"
    edge_dir.mkdir()
    root_copy = edge_dir / "root.crt"
    root_copy.write_text(open(ca["certificate_path"]).read())
    return dict(private_key_path=str(edge_dir / "rsa.key"), certificate_path=str(edge_dir / "rsa.crt"), key_algorithm="rsa",
                common_name="edge1.example.org", subject_alt_names=["DNS:edge1.example.org", "IP:192.0.2.10"],
                ca_certificate_path=str(root_copy))


def sign_args(ca, csr, **extra):
    args = dict(csr=csr, ca_certificate_path=ca["certificate_path"], ca_private_key_path=ca["private_key_path"],
                allowed_names=["DNS:edge1.example.org", "IP:192.0.2.10"], requester="edge1", issued_dir=ca["issued_dir"])
    args.update(extra)
    return args


def issue(edge, ca, **sign_extra):
    request = run_module(certificate.main, dict(edge, csr_only=True))
    signed = run_module(ca_sign.main, sign_args(ca, request["csr"], **sign_extra))
    installed = run_module(certificate.main, dict(edge, certificate_content=signed["certificate"]))
    return request, signed, installed


def test_request_sign_install_then_nothing_is_due(edge, ca):
    request, signed, installed = issue(edge, ca)
    assert request["changed"] and request["key_changed"] and "BEGIN CERTIFICATE REQUEST" in request["csr"]
    assert not os.path.exists(edge["certificate_path"]) or installed["changed"]
    assert signed["changed"] and signed["names"] == ["DNS:edge1.example.org", "IP:192.0.2.10"]
    assert installed["changed"] and installed["certificate_changed"]
    text = subprocess.run(["openssl", "x509", "-in", edge["certificate_path"], "-noout", "-text"], capture_output=True, text=True,
                          check=True).stdout
    assert "CA:FALSE" in text and "TLS Web Server Authentication" in text and "IP Address:192.0.2.10" in text
    verify = subprocess.run(["openssl", "verify", "-CAfile", ca["certificate_path"], edge["certificate_path"]], capture_output=True,
                            text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    # The CA keeps a record per serial; the edge has no CA key, only the root's certificate.
    assert os.path.isfile(os.path.join(ca["issued_dir"], signed["serial"] + ".pem"))
    assert signed["serial"] in open(os.path.join(ca["issued_dir"], "index.tsv")).read()
    again = run_module(certificate.main, dict(edge, csr_only=True))
    assert not again["changed"] and again["csr"] == "" and again["reasons"] == []
    same = run_module(certificate.main, dict(edge, certificate_content=signed["certificate"]))
    assert not same["changed"]


def test_serials_are_unique(edge, ca):
    request = run_module(certificate.main, dict(edge, csr_only=True))
    serials = {run_module(ca_sign.main, sign_args(ca, request["csr"]))["serial"] for dummy in range(20)}
    assert len(serials) == 20
    assert len([f for f in os.listdir(ca["issued_dir"]) if f.endswith(".pem")]) == 20


def test_a_name_outside_the_allowed_ones_is_refused_and_nothing_is_recorded(edge, ca):
    request = run_module(certificate.main, dict(edge, subject_alt_names=edge["subject_alt_names"] + ["DNS:bank.example.com"],
                                                csr_only=True))
    with pytest.raises(ModuleFail) as failed:
        run_module(ca_sign.main, sign_args(ca, request["csr"]))
    assert "refused to sign" in failed.value.result["msg"] and "DNS:bank.example.com" in failed.value.result["msg"]
    assert not os.path.exists(ca["issued_dir"])


def test_a_name_outside_the_ca_domains_is_refused(edge, ca):
    request = run_module(certificate.main, dict(edge, csr_only=True))
    with pytest.raises(ModuleFail) as failed:
        run_module(ca_sign.main, sign_args(ca, request["csr"], allowed_domains=["example.net"]))
    assert "outside the CA's domains" in failed.value.result["msg"]
    signed = run_module(ca_sign.main, sign_args(ca, request["csr"], allowed_domains=["example.org", "IP:192.0.2.10"]))
    assert signed["serial"]


def test_a_request_asking_for_a_ca_gets_a_server_certificate(edge, ca, tmp_path):
    key = tmp_path / "rogue.key"
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key)], check=True)
    csr = subprocess.run(["openssl", "req", "-new", "-key", str(key), "-subj", "/CN=edge1.example.org",
                          "-addext", "subjectAltName=DNS:edge1.example.org", "-addext", "basicConstraints=critical,CA:TRUE"],
                         capture_output=True, text=True, check=True).stdout
    signed = run_module(ca_sign.main, sign_args(ca, csr))
    text = subprocess.run(["openssl", "x509", "-noout", "-text"], input=signed["certificate"], capture_output=True, text=True,
                          check=True).stdout
    assert "CA:FALSE" in text and "CA:TRUE" not in text


def test_a_request_with_a_broken_signature_is_refused(edge, ca):
    request = run_module(certificate.main, dict(edge, csr_only=True))
    lines = request["csr"].splitlines()
    middle = len(lines) // 2
    lines[middle] = lines[middle][:10] + ("A" if lines[middle][10] != "A" else "B") + lines[middle][11:]
    with pytest.raises(ModuleFail) as failed:
        run_module(ca_sign.main, sign_args(ca, "\n".join(lines) + "\n"))
    assert "refused to sign" in failed.value.result["msg"] or "failed" in failed.value.result["msg"]
    assert not os.path.exists(ca["issued_dir"])


def test_check_mode_signs_nothing(edge, ca):
    request = run_module(certificate.main, dict(edge, csr_only=True))
    checked = run_module(ca_sign.main, sign_args(ca, request["csr"]), check_mode=True)
    assert checked["changed"] and checked["certificate"] == "" and not os.path.exists(ca["issued_dir"])


def test_a_certificate_from_another_ca_or_for_another_key_is_not_installed(edge, ca, tmp_path):
    issue(edge, ca)
    before = open(edge["certificate_path"]).read()
    other = {"private_key_path": str(tmp_path / "other.key"), "certificate_path": str(tmp_path / "other.crt")}
    run_module(certificate.main, dict(other, key_algorithm="rsa", common_name="edge1.example.org",
                                      subject_alt_names=edge["subject_alt_names"]))
    with pytest.raises(ModuleFail) as failed:
        run_module(certificate.main, dict(edge, certificate_content=open(other["certificate_path"]).read()))
    assert "was not installed" in failed.value.result["msg"]
    assert open(edge["certificate_path"]).read() == before


def test_renewal_is_due_within_renew_days(edge, ca):
    short = dict(edge, renew_days=10)
    issue(short, ca, valid_days=20)
    with pytest.raises(ModuleFail) as refused:
        issue(dict(edge, renew_days=30), ca, valid_days=20)
    assert "certificate expires within 30 days" in refused.value.result["msg"]
    due = run_module(certificate.main, dict(edge, csr_only=True, renew_days=30))
    assert "certificate expires within 30 days" in due["reasons"] and due["csr"]
    assert not due["changed"]
    # Without renew_days, a fresh 20-day certificate is a third of its lifetime away from renewal.
    fresh = run_module(certificate.main, dict(edge, csr_only=True))
    assert fresh["reasons"] == [] and not fresh["csr"]


def test_the_serial_is_reported_as_openssl_prints_it(edge, ca, monkeypatch):
    # A serial whose first byte is zero: OpenSSL prints it without that byte.
    monkeypatch.setattr(ca_sign.os, "urandom", lambda n: b"\x00\x00\x42" + b"\x17" * (n - 3))
    dummy, signed, dummy2 = issue(edge, ca)
    printed = subprocess.run(["openssl", "x509", "-in", edge["certificate_path"], "-noout", "-serial"], capture_output=True, text=True,
                             check=True).stdout.strip()
    assert printed == "serial=" + signed["serial"]


def test_for_an_acme_ca_a_self_signed_stand_in_is_due_and_a_ca_signed_one_is_kept(edge, ca):
    acme = dict(edge, ca_certificate_path=None, check_subject=False)
    run_module(certificate.main, dict(acme, csr_only=False))  # the self-signed stand-in
    due = run_module(certificate.main, dict(acme, csr_only=True))
    assert due["reasons"] == ["self-signed stand-in"] and due["csr"]
    signed = run_module(ca_sign.main, sign_args(ca, due["csr"]))
    with open(edge["certificate_path"], "w") as f:
        f.write(signed["certificate"])
    kept = run_module(certificate.main, dict(acme, csr_only=True))
    assert kept["reasons"] == [] and kept["csr"] == ""


def test_a_client_certificate_is_for_client_authentication_only_and_still_for_allowed_names_only(edge, ca):
    request = run_module(certificate.main, dict(edge, csr_only=True))
    with pytest.raises(ModuleFail, match="names not allowed for this requester"):
        run_module(ca_sign.main, sign_args(ca, request["csr"], usage="client", allowed_names=["DNS:other.example.org"]))
    dummy, signed, installed = issue(edge, ca, usage="client")
    text = subprocess.run(["openssl", "x509", "-noout", "-text"], input=signed["certificate"], capture_output=True, text=True,
                          check=True).stdout
    assert "TLS Web Client Authentication" in text and "TLS Web Server Authentication" not in text
    assert installed["changed"]
    # OpenSSL's own purpose check: good for a TLS client, not for a TLS server.
    for purpose, verdict in (("sslclient", "OK"), ("sslserver", "error")):
        checked = subprocess.run(["openssl", "verify", "-purpose", purpose, "-CAfile", ca["certificate_path"],
                                  edge["certificate_path"]], capture_output=True, text=True, check=False)
        assert verdict in (checked.stdout + checked.stderr), (purpose, checked.stdout, checked.stderr)
