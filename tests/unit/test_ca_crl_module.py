"""Revocation in the fleet CA against the real openssl command: pqc.edge.ca_crl on the CA host's directory lists what
pqc.edge.ca_sign issued and was revoked, `openssl verify -crl_check` then refuses it, and pqc.edge.certificate
reissues a revoked certificate with the same key."""

import base64
import os
import subprocess

import pytest

from ansible_collections.pqc.edge.plugins.module_utils._openssl import normalise_serial
from ansible_collections.pqc.edge.plugins.modules import ca_crl, ca_sign, certificate

from module_runner import ModuleFail, run_module


def make_root(directory, name):
    directory.mkdir()
    paths = {"private_key_path": str(directory / "root.key"), "certificate_path": str(directory / "root.crt")}
    run_module(certificate.main, dict(paths, key_algorithm="ecdsa", ecdsa_curve="P-384", common_name=name, is_ca=True,
                                      valid_days=3650))
    return paths


@pytest.fixture
def ca(tmp_path):
    return dict(make_root(tmp_path / "ca", "fleet root"), issued_dir=str(tmp_path / "issued"), crl_path=str(tmp_path / "ca" / "root.crl"))


def issue(tmp_path, ca, name, **extra):
    """An edge key and certificate signed by the CA, the way the role's fleet_ca tasks do it; returns the edge's paths."""
    edge_dir = tmp_path / name
    edge_dir.mkdir(exist_ok=True)
    edge = dict(private_key_path=str(edge_dir / "ecdsa.key"), certificate_path=str(edge_dir / "ecdsa.crt"), key_algorithm="ecdsa",
                common_name=name, subject_alt_names=["DNS:" + name], ca_certificate_path=ca["certificate_path"], **extra)
    request = run_module(certificate.main, dict(edge, csr_only=True))
    if request.get("csr"):
        signed = run_module(ca_sign.main, dict(csr=request["csr"], ca_certificate_path=ca["certificate_path"],
                                               ca_private_key_path=ca["private_key_path"], allowed_names=["DNS:" + name],
                                               requester=name, issued_dir=ca["issued_dir"]))
        run_module(certificate.main, dict(edge, certificate_content=signed["certificate"]))
    return edge


def serial_of(path):
    out = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-serial"], capture_output=True, text=True, check=True).stdout
    return out.strip().partition("=")[2]


def crl_args(ca, revoked, **extra):
    return dict(ca_certificate_path=ca["certificate_path"], ca_private_key_path=ca["private_key_path"],
                issued_dir=ca["issued_dir"], crl_path=ca["crl_path"], revoked=revoked, **extra)


def verify(ca, path):
    return subprocess.run(["openssl", "verify", "-crl_check_all", "-CAfile", ca["certificate_path"], "-CRLfile", ca["crl_path"], path],
                          capture_output=True, text=True, check=False)


def test_a_revoked_serial_is_listed_refused_and_reissued_while_others_verify(tmp_path, ca):
    one = issue(tmp_path, ca, "edge1.example.org")
    two = issue(tmp_path, ca, "edge2.example.org")
    revoked = serial_of(one["certificate_path"])
    # Written as an operator might copy it from another tool: lower case with colons.
    written = ":".join(revoked.lower()[i:i + 2] for i in range(0, len(revoked), 2))
    listed = run_module(ca_crl.main, crl_args(ca, [written]))
    assert listed["changed"] and listed["serials"] == [revoked] and "BEGIN X509 CRL" in listed["crl"]
    der = subprocess.run(["openssl", "crl", "-in", ca["crl_path"], "-outform", "DER"], capture_output=True, check=True).stdout
    assert base64.b64decode(listed["crl_der_base64"]) == der
    assert "certificate revoked" in verify(ca, one["certificate_path"]).stderr + verify(ca, one["certificate_path"]).stdout
    assert verify(ca, two["certificate_path"]).returncode == 0
    text = subprocess.run(["openssl", "crl", "-in", ca["crl_path"], "-noout", "-text"], capture_output=True, text=True, check=True).stdout
    assert "X509v3 CRL Number" in text and revoked in text
    # The same list again changes nothing; the edge's certificate is reissued with the same key and verifies.
    assert not run_module(ca_crl.main, crl_args(ca, [revoked]))["changed"]
    due = run_module(certificate.main, dict(one, csr_only=True, revoked_serials=[written]))
    assert "serial %s is revoked" % revoked in due["reasons"] and due["csr"] and not due["key_changed"]
    key_before = open(one["private_key_path"]).read()
    reissued = issue(tmp_path, ca, "edge1.example.org", revoked_serials=[revoked])
    assert serial_of(reissued["certificate_path"]) != revoked and open(one["private_key_path"]).read() == key_before
    assert verify(ca, reissued["certificate_path"]).returncode == 0
    assert not run_module(certificate.main, dict(one, csr_only=True, revoked_serials=[revoked]))["changed"]


def test_the_revocation_date_stays_and_the_crl_number_rises_when_the_list_changes(tmp_path, ca):
    one = issue(tmp_path, ca, "edge1.example.org")
    two = issue(tmp_path, ca, "edge2.example.org")
    first = serial_of(one["certificate_path"])
    run_module(ca_crl.main, crl_args(ca, [first]))
    dates = open(os.path.join(ca["issued_dir"], "revoked.tsv")).read()
    run_module(ca_crl.main, crl_args(ca, [first, serial_of(two["certificate_path"])]))
    assert open(os.path.join(ca["issued_dir"], "revoked.tsv")).read().startswith(dates)
    number = subprocess.run(["openssl", "crl", "-in", ca["crl_path"], "-noout", "-crlnumber"], capture_output=True, text=True,
                            check=True).stdout
    assert number.strip() == "crlNumber=0x02"
    # Taking a serial off the list un-revokes it: the certificate verifies again.
    assert run_module(ca_crl.main, crl_args(ca, []))["serials"] == []
    assert verify(ca, one["certificate_path"]).returncode == 0


def test_an_empty_list_is_still_a_signed_list_and_check_mode_writes_nothing(tmp_path, ca):
    checked = run_module(ca_crl.main, crl_args(ca, []), check_mode=True)
    assert checked["changed"] and not os.path.exists(ca["crl_path"])
    assert run_module(ca_crl.main, crl_args(ca, []))["changed"]
    assert subprocess.run(["openssl", "crl", "-in", ca["crl_path"], "-noout", "-CAfile", ca["certificate_path"]],
                          capture_output=True, text=True, check=False).returncode == 0


def test_a_list_near_its_next_update_or_from_another_ca_is_signed_anew(tmp_path, ca):
    run_module(ca_crl.main, crl_args(ca, [], valid_days=30))
    assert run_module(ca_crl.main, crl_args(ca, [], valid_days=30), check_mode=True)["changed"] is False
    # A list of 30 days is less than half of 90 days from its end.
    assert "less than half of 90 days left before its next update" in run_module(ca_crl.main, crl_args(ca, [], valid_days=90))["reasons"]
    other = make_root(tmp_path / "other", "another root")
    os.replace(ca["crl_path"], ca["crl_path"] + ".mine")
    run_module(ca_crl.main, dict(crl_args(ca, []), ca_certificate_path=other["certificate_path"],
                                 ca_private_key_path=other["private_key_path"]))
    assert run_module(ca_crl.main, crl_args(ca, []))["reasons"] == ["no list of this CA at %s" % ca["crl_path"]]


def test_serials_of_another_ca_are_left_to_its_list_and_unknown_serials_fail_naming_them(tmp_path, ca):
    other = dict(make_root(tmp_path / "other", "another root"), issued_dir=ca["issued_dir"], crl_path=str(tmp_path / "other.crl"))
    theirs = serial_of(issue(tmp_path, other, "edge3.example.org")["certificate_path"])
    assert run_module(ca_crl.main, crl_args(ca, [theirs]))["serials"] == []
    assert run_module(ca_crl.main, crl_args(other, [theirs]))["serials"] == [theirs]
    before = open(ca["crl_path"]).read()
    with pytest.raises(ModuleFail) as failed:
        run_module(ca_crl.main, crl_args(ca, [theirs, "0BADC0DE"]))
    assert "not issued by this fleet CA" in failed.value.result["msg"] and "0BADC0DE" in failed.value.result["msg"]
    assert open(ca["crl_path"]).read() == before
    with pytest.raises(ModuleFail) as failed:
        run_module(ca_crl.main, crl_args(ca, ["not-hex"]))
    assert "'not-hex' is not a certificate serial number in hex" in failed.value.result["msg"]


@pytest.mark.parametrize("given, expected", [("3a:0f:9c", "3A0F9C"), ("0x0A", "0A"), ("00ab", "AB"), ("ABC", "0ABC"), (" 7f ", "7F")])
def test_serials_are_normalised_as_openssl_prints_them(given, expected):
    assert normalise_serial(given) == expected


@pytest.mark.parametrize("given", ["", "xyz", "12 34", "0x", "A" * 43])
def test_anything_else_is_not_a_serial(given):
    with pytest.raises(ValueError):
        normalise_serial(given)


def test_certificates_name_the_lists_url_and_one_that_names_another_is_reissued(tmp_path, ca):
    url = "http://crl.example.org/pqc-edge-crl/root.crl"
    edge = issue(tmp_path, ca, "edge1.example.org")
    assert "CRL distribution point differs from %s" % url in run_module(certificate.main, dict(edge, csr_only=True, crl_url=url))["reasons"]
    request = run_module(certificate.main, dict(edge, csr_only=True, crl_url=url))
    signed = run_module(ca_sign.main, dict(csr=request["csr"], ca_certificate_path=ca["certificate_path"],
                                           ca_private_key_path=ca["private_key_path"], allowed_names=["DNS:edge1.example.org"],
                                           requester="edge1", issued_dir=ca["issued_dir"], crl_url=url))
    run_module(certificate.main, dict(edge, certificate_content=signed["certificate"], crl_url=url))
    text = subprocess.run(["openssl", "x509", "-in", edge["certificate_path"], "-noout", "-ext", "crlDistributionPoints"],
                          capture_output=True, text=True, check=True).stdout
    assert "URI:%s" % url in text
    assert not run_module(certificate.main, dict(edge, csr_only=True, crl_url=url))["changed"]
    assert "CRL distribution point differs from none" in run_module(certificate.main, dict(edge, csr_only=True, crl_url=""))["reasons"]
    with pytest.raises(ModuleFail) as failed:
        run_module(ca_sign.main, dict(csr=request["csr"], ca_certificate_path=ca["certificate_path"],
                                      ca_private_key_path=ca["private_key_path"], allowed_names=["DNS:edge1.example.org"],
                                      requester="edge1", issued_dir=ca["issued_dir"], crl_url="http://x/a,URI:http://evil/"))
    assert "is not an http:// URL" in failed.value.result["msg"]


def test_an_intermediate_signs_leaves_and_their_list_and_a_leaf_from_the_root_itself_is_reissued(tmp_path, ca):
    """The fleet CA's layout: the root signs only its intermediate, which signs the leaves (returned with it as their
    chain) and keeps the list of their revoked serials; the root's own list stays empty."""
    inter = {"private_key_path": str(tmp_path / "ca" / "inter.key"), "certificate_path": str(tmp_path / "ca" / "inter.crt")}
    run_module(certificate.main, dict(inter, key_algorithm="ecdsa", ecdsa_curve="P-384", common_name="fleet intermediate",
                                      is_ca=True, valid_days=1825, ca_certificate_path=ca["certificate_path"],
                                      ca_private_key_path=ca["private_key_path"]))
    # A leaf the root signed directly (before there were intermediates) is due for the intermediate.
    edge = issue(tmp_path, ca, "edge1.example.org")
    due = run_module(certificate.main, dict(edge, csr_only=True, issuer_common_name="fleet intermediate"))
    assert "issued by CN=fleet root, not CN=fleet intermediate" in due["reasons"]
    signed = run_module(ca_sign.main, dict(csr=due["csr"], ca_certificate_path=inter["certificate_path"],
                                           ca_private_key_path=inter["private_key_path"], chain_path=inter["certificate_path"],
                                           allowed_names=["DNS:edge1.example.org"], requester="edge1", issued_dir=ca["issued_dir"]))
    assert signed["certificate"].count("BEGIN CERTIFICATE") == 2
    run_module(certificate.main, dict(edge, certificate_content=signed["certificate"], issuer_common_name="fleet intermediate"))
    assert not run_module(certificate.main, dict(edge, csr_only=True, issuer_common_name="fleet intermediate"))["changed"]
    # Clients that trust the root alone verify the leaf through the chain it comes with.
    assert subprocess.run(["openssl", "verify", "-CAfile", ca["certificate_path"], "-untrusted", edge["certificate_path"],
                           edge["certificate_path"]], capture_output=True, text=True, check=False).returncode == 0
    serial = serial_of(edge["certificate_path"])
    theirs = run_module(ca_crl.main, dict(crl_args(ca, [serial]), ca_certificate_path=inter["certificate_path"],
                                          ca_private_key_path=inter["private_key_path"], crl_path=str(tmp_path / "inter.crl")))
    assert theirs["serials"] == [serial] and run_module(ca_crl.main, crl_args(ca, [serial]))["serials"] == []
    both = tmp_path / "crls.pem"
    both.write_text(open(ca["crl_path"]).read() + open(str(tmp_path / "inter.crl")).read())
    out = subprocess.run(["openssl", "verify", "-crl_check_all", "-CAfile", ca["certificate_path"], "-CRLfile", str(both),
                          "-untrusted", edge["certificate_path"], edge["certificate_path"]], capture_output=True, text=True, check=False)
    assert out.returncode != 0 and "certificate revoked" in out.stdout + out.stderr


def test_the_probe_sends_the_intermediate_that_comes_after_a_client_certificate(tmp_path, ca):
    """tls_probe's openssl engine gives s_client the certificates after the first as -cert_chain, so that a server
    trusting only the root can verify a client certificate the fleet's intermediate signed."""
    from ansible_collections.pqc.edge.plugins.modules import tls_probe

    class Module(object):
        tmpdir = str(tmp_path)

    leaf = open(ca["certificate_path"]).read()
    single = tmp_path / "single.pem"
    single.write_text(leaf)
    assert tls_probe.OpenSSLEngine._client_chain(Module(), str(single)) == []
    chained = tmp_path / "chained.pem"
    chained.write_text(leaf + "junk between\n" + leaf.replace("\n", "\n", 1))
    assert tls_probe.OpenSSLEngine._client_chain(Module(), str(chained)) == ["-cert_chain", str(tmp_path / "client-chain.pem")]
    assert (tmp_path / "client-chain.pem").read_text().count("BEGIN CERTIFICATE") == 1
    with pytest.raises(tls_probe.ProbeInputError):
        tls_probe.OpenSSLEngine._client_chain(Module(), str(tmp_path / "missing.pem"))
