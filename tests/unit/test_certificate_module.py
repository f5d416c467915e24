"""pqc.edge.certificate against the real openssl command of the machine running the tests."""

import os
import stat
import subprocess

import pytest

from ansible_collections.pqc.edge.plugins.modules import certificate

from module_runner import ModuleFail, run_module


def openssl_supports(algorithm):
    return subprocess.run(["openssl", "genpkey", "-algorithm", algorithm], capture_output=True, check=False).returncode == 0


@pytest.fixture
def paths(tmp_path):
    return {"private_key_path": str(tmp_path / "server.key"), "certificate_path": str(tmp_path / "server.crt")}


def rsa_args(paths, **extra):
    args = dict(paths, key_algorithm="rsa", common_name="edge1.example.org",
                subject_alt_names=["DNS:edge1.example.org", "IP:127.0.0.1"])
    args.update(extra)
    return args


def cert_text(path):
    return subprocess.run(["openssl", "x509", "-in", path, "-noout", "-text"], capture_output=True, text=True, check=False).stdout


def test_generates_key_and_certificate_then_changes_nothing(paths):
    first = run_module(certificate.main, rsa_args(paths))
    assert first["changed"] and first["key_changed"] and first["certificate_changed"]
    assert stat.S_IMODE(os.stat(paths["private_key_path"]).st_mode) == 0o600
    text = cert_text(paths["certificate_path"])
    assert "DNS:edge1.example.org" in text and "IP Address:127.0.0.1" in text
    assert "CA:FALSE" in text
    second = run_module(certificate.main, rsa_args(paths))
    assert not second["changed"] and second["reasons"] == []
    assert second["not_after"]


def test_check_mode_writes_nothing(paths):
    result = run_module(certificate.main, rsa_args(paths), check_mode=True)
    assert result["changed"] and result["key_changed"]
    assert not os.path.exists(paths["private_key_path"])
    assert not os.path.exists(paths["certificate_path"])


def test_changed_names_reissue_the_certificate_but_keep_the_key(paths):
    run_module(certificate.main, rsa_args(paths))
    with open(paths["private_key_path"]) as f:
        key = f.read()
    result = run_module(certificate.main, rsa_args(paths, subject_alt_names=["DNS:edge2.example.org"]))
    assert result["certificate_changed"] and not result["key_changed"]
    assert result["reasons"] == ["subject alternative names differ"]
    with open(paths["private_key_path"]) as f:
        assert f.read() == key
    assert "DNS:edge2.example.org" in cert_text(paths["certificate_path"])


def test_changed_algorithm_makes_a_new_key(paths):
    run_module(certificate.main, rsa_args(paths))
    result = run_module(certificate.main, rsa_args(paths, key_algorithm="ecdsa"))
    assert result["key_changed"] and "private key is rsa 2048, wanted ecdsa P-256" in result["reasons"]
    assert "NIST CURVE: P-256" in cert_text(paths["certificate_path"])


def test_certificate_close_to_expiry_is_renewed(paths):
    run_module(certificate.main, rsa_args(paths, valid_days=10, renew_days=5))
    result = run_module(certificate.main, rsa_args(paths, valid_days=365, renew_days=30))
    assert result["reasons"] == ["certificate expires within 30 days"]
    assert not result["key_changed"]


def test_loose_key_mode_is_tightened(paths):
    run_module(certificate.main, rsa_args(paths))
    os.chmod(paths["private_key_path"], 0o644)
    result = run_module(certificate.main, rsa_args(paths))
    assert result["changed"] and result["reasons"] == ["private key mode is not 0600"]
    assert stat.S_IMODE(os.stat(paths["private_key_path"]).st_mode) == 0o600


def test_signed_by_a_ca_and_reissued_when_the_ca_changes(tmp_path, paths):
    ca = {"private_key_path": str(tmp_path / "ca.key"), "certificate_path": str(tmp_path / "ca.crt")}
    run_module(certificate.main, dict(ca, key_algorithm="rsa", common_name="Test CA", is_ca=True, valid_days=3650))
    signed = rsa_args(paths, ca_certificate_path=ca["certificate_path"], ca_private_key_path=ca["private_key_path"])
    run_module(certificate.main, signed)
    verify = subprocess.run(["openssl", "verify", "-CAfile", ca["certificate_path"], paths["certificate_path"]],
                            capture_output=True, text=True, check=False)
    assert verify.returncode == 0, verify.stderr
    assert not run_module(certificate.main, signed)["changed"]
    os.unlink(ca["private_key_path"])
    run_module(certificate.main, dict(ca, key_algorithm="rsa", common_name="Test CA", is_ca=True, valid_days=3650))
    result = run_module(certificate.main, signed)
    assert result["reasons"] == ["not signed by %s" % ca["certificate_path"]]


@pytest.mark.parametrize("args, message", [
    ({"subject_alt_names": ["edge1.example.org"]}, "invalid subject alternative name 'edge1.example.org'"),
    ({"rsa_bits": 1024}, "rsa_bits=1024 is too small"),
    ({"valid_days": 10, "renew_days": 30}, "renew_days=30 must be smaller than valid_days=10"),
])
def test_bad_arguments_fail_before_writing(paths, args, message):
    with pytest.raises(ModuleFail) as failed:
        run_module(certificate.main, rsa_args(paths, **args))
    assert message in failed.value.result["msg"]
    assert not os.path.exists(paths["private_key_path"])


def test_mldsa44_works_or_fails_clearly(paths):
    args = rsa_args(paths, key_algorithm="mldsa44")
    if openssl_supports("mldsa44"):
        result = run_module(certificate.main, args)
        assert result["key_changed"]
        assert "ML-DSA-44" in cert_text(paths["certificate_path"])
    else:
        with pytest.raises(ModuleFail) as failed:
            run_module(certificate.main, args)
        assert "cannot generate mldsa44 keys" in failed.value.result["msg"]
        assert not os.path.exists(paths["private_key_path"])


def test_a_ca_carries_its_name_constraints_and_openssl_enforces_them(tmp_path, paths):
    """The root's permitted subtrees: kept on re-runs, reissued with the same key when they change, and a leaf for a
    name outside them fails verification ("permitted subtree violation") although the CA's key signed it."""
    ca = {"private_key_path": str(tmp_path / "ca.key"), "certificate_path": str(tmp_path / "ca.crt")}
    root = dict(ca, key_algorithm="ecdsa", common_name="Test CA", is_ca=True, valid_days=3650,
                name_constraints=["example.org", "IP:127.0.0.1"])
    assert run_module(certificate.main, root)["changed"]
    text = cert_text(ca["certificate_path"])
    assert "X509v3 Name Constraints: critical" in text and "DNS:example.org" in text and "IP:127.0.0.1/255.255.255.255" in text
    assert not run_module(certificate.main, root)["changed"]
    key_before = open(ca["private_key_path"]).read()
    changed = run_module(certificate.main, dict(root, name_constraints=["DNS:Example.ORG", "DNS:example.net", "IP:127.0.0.1"]))
    assert changed["reasons"] == ["name constraints differ"] and not changed["key_changed"]
    assert open(ca["private_key_path"]).read() == key_before

    inside = rsa_args(paths, ca_certificate_path=ca["certificate_path"], ca_private_key_path=ca["private_key_path"])
    run_module(certificate.main, inside)
    ok = subprocess.run(["openssl", "verify", "-CAfile", ca["certificate_path"], paths["certificate_path"]],
                        capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    outside = {"private_key_path": str(tmp_path / "o.key"), "certificate_path": str(tmp_path / "o.crt")}
    run_module(certificate.main, rsa_args(outside, common_name="bank.example.com", subject_alt_names=["DNS:bank.example.com"],
                                          ca_certificate_path=ca["certificate_path"], ca_private_key_path=ca["private_key_path"],
                                          check_subject=False))
    refused = subprocess.run(["openssl", "verify", "-CAfile", ca["certificate_path"], outside["certificate_path"]],
                             capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "permitted subtree violation" in refused.stdout + refused.stderr


def test_name_constraints_are_refused_on_a_leaf_or_in_a_bad_form(paths):
    with pytest.raises(ModuleFail) as failed:
        run_module(certificate.main, rsa_args(paths, name_constraints=["DNS:example.org"]))
    assert "name_constraints needs is_ca=true" in failed.value.result["msg"]
    with pytest.raises(ModuleFail) as failed:
        run_module(certificate.main, rsa_args(paths, is_ca=True, name_constraints=["URI:https://example.org"]))
    assert "invalid name constraint 'URI:https://example.org'" in failed.value.result["msg"]


def backdate(paths, lived_days, left_days):
    """Re-sign the module's certificate with its own key and names, issued `lived_days` ago and ending in `left_days`."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key = serialization.load_pem_private_key(open(paths["private_key_path"], "rb").read(), password=None)
    now = datetime.datetime.now(datetime.timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "edge1.example.org")])
    names = x509.SubjectAlternativeName([x509.DNSName("edge1.example.org"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=lived_days))
            .not_valid_after(now + datetime.timedelta(days=left_days)).add_extension(names, critical=False)
            .sign(key, hashes.SHA256()))
    with open(paths["certificate_path"], "wb") as out:
        out.write(cert.public_bytes(serialization.Encoding.PEM))


@pytest.mark.parametrize("lived, left, due", [
    (2, 4, False),    # a 6-day certificate with 4 days left: renewing now would renew on every run
    (4.5, 1.5, True),  # ... with 1.5 days left, less than a third of its lifetime
    (30, 60, False),  # a 90-day certificate with 60 days left
    (61, 29, True),   # ... with 29 days left: a third is 30 days
    (100, 100, False),  # 200 days (the CA/Browser Forum's cap from 2026-03-15), half left
])
def test_without_renew_days_a_third_of_the_lifetime_decides(paths, lived, left, due):
    run_module(certificate.main, rsa_args(paths))
    backdate(paths, lived, left)
    result = run_module(certificate.main, rsa_args(paths))
    assert result["changed"] is due, result["reasons"]
    if due:
        assert "less than 33%% of its %.1f-day lifetime" % (lived + left) in result["reasons"][0]


def test_renew_days_when_given_decides_instead(paths):
    run_module(certificate.main, rsa_args(paths))
    backdate(paths, 2, 4)
    assert run_module(certificate.main, rsa_args(paths, renew_days=5))["reasons"] == ["certificate expires within 5 days"]
    backdate(paths, 2, 4)
    assert run_module(certificate.main, rsa_args(paths, renew_days=3))["changed"] is False


@pytest.mark.parametrize("fraction", [0, 1, 1.5, -0.2])
def test_a_renew_fraction_outside_zero_to_one_is_refused(paths, fraction):
    with pytest.raises(ModuleFail) as failed:
        run_module(certificate.main, rsa_args(paths, renew_fraction=fraction))
    assert "renew_fraction=%s must be above 0 and below 1" % float(fraction) in failed.value.result["msg"]
    assert not os.path.exists(paths["private_key_path"])


def test_a_renew_reason_reissues_a_certificate_its_dates_would_keep(paths):
    run_module(certificate.main, rsa_args(paths))
    before = open(paths["certificate_path"]).read()
    result = run_module(certificate.main, rsa_args(paths, renew_reason="the ACME directory says renew now"))
    assert result["reasons"] == ["the ACME directory says renew now"] and result["changed"] and not result["key_changed"]
    assert open(paths["certificate_path"]).read() != before
    assert run_module(certificate.main, rsa_args(paths))["changed"] is False


def test_a_renew_reason_asks_a_ca_elsewhere_for_a_new_certificate(paths):
    run_module(certificate.main, rsa_args(paths))
    requested = run_module(certificate.main, rsa_args(paths, csr_only=True, ca_certificate_path=paths["certificate_path"],
                                                      check_subject=False, renew_reason="revoked by its CA"))
    assert "revoked by its CA" in requested["reasons"] and "BEGIN CERTIFICATE REQUEST" in requested["csr"]


def test_several_certificates_are_kept_in_one_run_each_as_alone(tmp_path):
    """certificates: each entry kept as a call of its own would keep it, in order, with the shared options."""
    ca = {"private_key_path": str(tmp_path / "ca.key"), "certificate_path": str(tmp_path / "ca.crt")}
    run_module(certificate.main, dict(ca, key_algorithm="ecdsa", common_name="Test CA", is_ca=True, valid_days=3650))
    entries = [
        dict(private_key_path=str(tmp_path / "a.key"), certificate_path=str(tmp_path / "a.crt"), key_algorithm="ecdsa",
             common_name="a.example", subject_alt_names=["DNS:a.example"], ca_certificate_path=ca["certificate_path"],
             ca_private_key_path=ca["private_key_path"]),
        dict(private_key_path=str(tmp_path / "b.key"), certificate_path=str(tmp_path / "b.crt"), key_algorithm="rsa",
             common_name="b.example"),
    ]
    first = run_module(certificate.main, dict(certificates=entries, valid_days=30))
    assert first["changed"] and [r["certificate_path"] for r in first["results"]] == [e["certificate_path"] for e in entries]
    assert all(r["key_changed"] and r["certificate_changed"] for r in first["results"])
    assert "DNS:a.example" in cert_text(entries[0]["certificate_path"]) and "Issuer: CN = Test CA" in cert_text(entries[0]["certificate_path"])
    assert "Issuer: CN = b.example" in cert_text(entries[1]["certificate_path"]) and "Public-Key: (2048 bit)" in cert_text(entries[1]["certificate_path"])
    assert stat.S_IMODE(os.stat(entries[1]["private_key_path"]).st_mode) == 0o600
    # The same entries change nothing; one whose names changed is reissued alone, with its key kept.
    again = run_module(certificate.main, dict(certificates=entries, valid_days=30))
    assert not again["changed"] and all(r["reasons"] == [] and r["not_after"] for r in again["results"])
    key = open(entries[1]["private_key_path"]).read()
    renamed = run_module(certificate.main, dict(certificates=[entries[0], dict(entries[1], subject_alt_names=["DNS:c.example"])],
                                                valid_days=30), check_mode=True)
    assert [r["reasons"] for r in renamed["results"]] == [[], ["subject alternative names differ"]]
    assert open(entries[1]["private_key_path"]).read() == key and "DNS:c.example" not in cert_text(entries[1]["certificate_path"])
    # A host with none to keep.
    assert run_module(certificate.main, dict(certificates=[])) == dict(changed=False, results=[])


def test_in_a_batch_bad_input_fails_before_writing_and_the_first_failure_names_its_certificate(tmp_path):
    good = dict(private_key_path=str(tmp_path / "a.key"), certificate_path=str(tmp_path / "a.crt"), key_algorithm="rsa",
                common_name="a.example")
    with pytest.raises(ModuleFail) as failed:
        run_module(certificate.main, dict(certificates=[good, dict(good, private_key_path=str(tmp_path / "b.key"),
                                                                   certificate_path=str(tmp_path / "b.crt"),
                                                                   subject_alt_names=["b.example"])]))
    assert "invalid subject alternative name 'b.example'" in failed.value.result["msg"]
    assert not os.path.exists(good["private_key_path"])
    # A CA key without its certificate, as the single form refuses it.
    with pytest.raises(ModuleFail) as failed:
        run_module(certificate.main, dict(certificates=[dict(good, ca_private_key_path=str(tmp_path / "ca.key"))]))
    assert "ca_private_key_path needs ca_certificate_path" in failed.value.result["msg"]
    # Not both forms at once.
    with pytest.raises(ModuleFail) as failed:
        run_module(certificate.main, dict(good, certificates=[good]))
    assert "mutually exclusive" in failed.value.result["msg"]
    # A signing CA that is not there: the first entry is kept, the second fails and is named.
    with pytest.raises(ModuleFail) as failed:
        run_module(certificate.main, dict(certificates=[good, dict(good, private_key_path=str(tmp_path / "c.key"),
                                                                   certificate_path=str(tmp_path / "c.crt"),
                                                                   ca_certificate_path=str(tmp_path / "none.crt"),
                                                                   ca_private_key_path=str(tmp_path / "none.key"))]))
    result = failed.value.result
    assert result["msg"].startswith(str(tmp_path / "c.crt") + ": "), result["msg"]
    assert [r["certificate_path"] for r in result["results"]] == [good["certificate_path"], str(tmp_path / "c.crt")]
    assert result["results"][0]["changed"] and result["results"][1]["failed"] and result["changed"]
    assert os.path.exists(good["certificate_path"])
