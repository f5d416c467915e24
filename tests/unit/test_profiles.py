"""Compliance profiles: the built-in ones and an operator's in one schema, bad ones named, and judge() saying in plain
words where a server differs; then tls_probe judging a real OpenSSL s_server (the controller's OpenSSL) against one."""

import shutil
import socket
import subprocess
import time

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.profiles import compliance_profile
from ansible_collections.pqc.edge.plugins.module_utils import _profiles
from ansible_collections.pqc.edge.plugins.modules import tls_probe

from module_runner import ModuleFail, run_module

OWN = {"protocols": ["TLSv1.3"], "groups": ["SecP384r1MLKEM1024", "secp384r1"],
       "ciphersuites": ["TLS_AES_256_GCM_SHA384"], "certificates": {"pq": "mldsa65", "classical": "ecdsa", "ecdsa_curve": "P-384"}}


@pytest.mark.parametrize("name", ["cnsa2", "cnsa2-transition", "bsi"])
def test_every_built_in_profile_is_in_the_schema_and_quantum_safe_first(name):
    profile = compliance_profile(name)
    assert profile["name"] == name and profile["sources"]
    assert profile["groups"][0] in ("MLKEM1024", "SecP384r1MLKEM1024")
    assert profile["protocols"] == ["TLSv1.3"] and profile["early_data"] is False


def test_cnsa2_is_mlkem1024_aes256_and_mldsa87_alone():
    profile = compliance_profile("cnsa2")
    assert profile["groups"] == ["MLKEM1024"]
    assert profile["ciphersuites"] == ["TLS_AES_256_GCM_SHA384"]
    assert profile["signature_algorithms"] == ["mldsa87"]
    assert profile["certificates"] == {"pq": "mldsa87", "classical": "none", "ecdsa_curve": "P-384"}


def test_bsi_has_no_pure_mlkem_no_x25519_and_no_pkcs1():
    profile = compliance_profile("bsi")
    assert not [g for g in profile["groups"] if g.startswith("MLKEM") or "25519" in g]
    assert not [s for s in profile["signature_algorithms"] if "pkcs1" in s]
    assert "rsa_pkcs1" not in profile["certificate_signatures"]


def test_web_is_the_roles_variables():
    profile = compliance_profile("web", {}, {"groups": ["X25519MLKEM768", "X25519"], "group_policy": "prefer",
                                             "protocols": ["TLSv1.2", "TLSv1.3"], "classical": "rsa"})
    assert profile["groups"] == ["X25519MLKEM768", "X25519"] and profile["group_policy"] == "prefer"
    assert profile["protocols"] == ["TLSv1.2", "TLSv1.3"]
    assert profile["certificates"] == {"pq": "mldsa44", "classical": "rsa", "ecdsa_curve": "P-256"}
    assert profile["signature_algorithms"] == []


def test_an_operators_profile_is_normalised_with_defaults():
    profile = compliance_profile("internal", {"internal": OWN})
    assert profile["name"] == "internal" and profile["group_policy"] == "enforce"
    assert profile["signature_algorithms"] == [] and profile["certificates"]["ecdsa_curve"] == "P-384"


@pytest.mark.parametrize("change, named", [
    ({"groups": ["X25519"]}, "has no quantum-safe group"),
    ({"groups": ["X25519MLKEM999"]}, "X25519MLKEM999"),
    ({"protocols": ["TLSv1.2"]}, "must include TLSv1.3"),
    ({"protocols": ["SSLv3", "TLSv1.3"]}, "protocols has SSLv3"),
    ({"ciphersuites": ["TLS_AES_256_GCM_SHA384", "TLS_AES_256_GCM_SHA384"]}, "names TLS_AES_256_GCM_SHA384 twice"),
    ({"ciphersuites": ["ECDHE-RSA-AES128-GCM-SHA256"]}, "ciphersuites has ECDHE-RSA-AES128-GCM-SHA256"),
    ({"ciphersuites": []}, "ciphersuites is empty"),
    ({"signature_algorithms": ["rsa_pkcs1_md5"]}, "signature_algorithms has rsa_pkcs1_md5"),
    ({"certificates": {"pq": "falcon512"}}, "certificates.pq 'falcon512'"),
    ({"certificates": {"classical": "dsa"}}, "certificates.classical 'dsa'"),
    ({"certificates": {"pq": "mldsa44", "curve": "P-521"}}, "certificates: unknown field curve"),
    ({"group_policy": "strict"}, "group_policy 'strict'"),
    ({"early_data": True}, "early_data True"),
    ({"ciphers": ["x"]}, "unknown field ciphers"),
])
def test_a_bad_operator_profile_is_refused_naming_field_and_value(change, named):
    with pytest.raises(AnsibleFilterError, match="pqc_edge_profiles=.*: profile internal") as caught:
        compliance_profile("internal", {"internal": dict(OWN, **change)})
    assert named in str(caught.value)


def test_unknown_names_and_taken_names_are_refused():
    with pytest.raises(AnsibleFilterError, match=r"pqc_edge_profile 'cnsa3' is neither built in .*cnsa2.* nor in pqc_edge_profiles \(internal\)"):
        compliance_profile("cnsa3", {"internal": OWN})
    with pytest.raises(AnsibleFilterError, match="bsi is a built-in profile"):
        compliance_profile("web", {"bsi": OWN})


CNSA2_SERVER = {"supported_groups": ["MLKEM1024"], "server_preference": None, "first_group": None,
                "ciphersuites": ["TLS_AES_256_GCM_SHA384"], "signature_algorithms": ["mldsa87"], "tls12": False,
                "certificate": {"key_algorithm": "ML-DSA-87", "signature_algorithm": "ML-DSA-87",
                                "peer_signature_algorithm": "mldsa87"}}


def test_a_server_as_cnsa2_asks_is_compliant():
    assert _profiles.judge(compliance_profile("cnsa2"), CNSA2_SERVER) == []


def test_todays_web_edge_judged_against_cnsa2_fails_on_every_point_in_words():
    web_edge = {"supported_groups": ["X25519MLKEM768", "SecP256r1MLKEM768", "x25519", "secp256r1"],
                "server_preference": True, "first_group": "X25519MLKEM768",
                "ciphersuites": ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"],
                "signature_algorithms": ["mldsa44", "ecdsa_secp256r1_sha256"], "tls12": True,
                "certificate": {"key_algorithm": "ML-DSA-44", "signature_algorithm": "ML-DSA-44",
                                "peer_signature_algorithm": "mldsa44"}}
    failed = _profiles.judge(compliance_profile("cnsa2"), web_edge)
    assert "accepted X25519MLKEM768 offered alone; the profile does not allow it" in failed
    assert "accepted x25519 offered alone; the profile does not allow it" in failed
    assert "accepted none of the profile's groups (MLKEM1024)" in failed
    assert "TLS_AES_128_GCM_SHA256 accepted" in failed and "TLS_CHACHA20_POLY1305_SHA256 accepted" in failed
    assert "TLS 1.2 accepted; the profile allows TLS 1.3 only" in failed
    assert "signs with ecdsa_secp256r1_sha256 for a client that offers only it" in failed
    assert "leaf key is ML-DSA-44 for a client offering mldsa87; the profile requires ML-DSA-87" in failed
    assert "leaf signed with ML-DSA-44; the profile allows ML-DSA-87" in failed


def test_order_missing_groups_and_an_unfinished_handshake_are_named():
    profile = compliance_profile("cnsa2-transition")
    observed = dict(CNSA2_SERVER, supported_groups=["secp384r1", "MLKEM1024"], server_preference=True,
                    first_group="secp384r1", certificate=None)
    failed = _profiles.judge(profile, observed)
    assert "refused SecP384r1MLKEM1024, which the profile lists" in failed
    assert "gave secp384r1 to a client offering every group; the profile puts MLKEM1024 first" in failed
    assert "no handshake completed for a client offering mldsa87, ecdsa_secp384r1_sha384" in failed
    assert "the server follows the client's order of groups; the profile enforces its own" in _profiles.judge(
        profile, dict(CNSA2_SERVER, supported_groups=["MLKEM1024", "secp384r1"], server_preference=False))


OPENSSL = shutil.which("openssl")


@pytest.fixture(name="s_server")
def fixture_s_server(tmp_path):
    """A real OpenSSL s_server with an ECDSA P-384 certificate, X25519 and P-384, TLS 1.3 with AES-256 only."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=s-server", "-days", "2"],
                   check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([OPENSSL, "s_server", "-accept", "127.0.0.1:%d" % port, "-key", str(key), "-cert", str(cert),
                               "-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384", "-groups", "X25519:secp384r1",
                               "-serverpref", "-naccept", "1000", "-quiet"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for dummy in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    server.kill()
    server.wait()


@pytest.mark.skipif(OPENSSL is None, reason="no openssl command on this machine")
def test_tls_probe_judges_a_real_server_against_an_operators_profile(s_server):
    result = run_module(tls_probe.main, {"host": "127.0.0.1", "port": s_server, "groups": ["X25519"],
                                         "profile": dict(compliance_profile("internal", {"internal": OWN}))})
    compliance = result["compliance"]
    assert compliance["observed"]["supported_groups"] == ["x25519", "secp384r1"]
    assert compliance["observed"]["ciphersuites"] == ["TLS_AES_256_GCM_SHA384"]
    assert compliance["observed"]["tls12"] is False
    assert compliance["observed"]["signature_algorithms"] == ["ecdsa_secp384r1_sha384"]
    assert compliance["failed"] == ["accepted x25519 offered alone; the profile does not allow it",
                                    "refused SecP384r1MLKEM1024, which the profile lists",
                                    "gave x25519 to a client offering every group; the profile puts secp384r1 first"]
    # The python engine reads no certificate: never compliant on its word alone.
    assert compliance["compliant"] is False
    assert compliance["not_checked"] == ["the certificate served: needs engine=openssl, a complete handshake"]


@pytest.mark.skipif(OPENSSL is None, reason="no openssl command on this machine")
def test_a_server_that_differs_from_a_profile_in_one_group_is_told_only_that(s_server):
    own = dict(OWN, groups=["SecP384r1MLKEM1024", "x25519", "secp384r1"])
    result = run_module(tls_probe.main, {"host": "127.0.0.1", "port": s_server, "groups": ["X25519"],
                                         "profile": dict(compliance_profile("internal", {"internal": own}))})
    assert result["compliance"]["failed"] == ["refused SecP384r1MLKEM1024, which the profile lists"]
    assert result["compliance"]["compliant"] is False


def test_a_profile_outside_the_schema_fails_the_probe_naming_it():
    with pytest.raises(ModuleFail, match="profile mine: groups .* has no quantum-safe group"):
        run_module(tls_probe.main, {"host": "127.0.0.1", "port": 1, "profile": dict(OWN, name="mine", groups=["X25519"])})


def test_every_operator_profile_is_checked_even_when_another_is_chosen():
    with pytest.raises(AnsibleFilterError, match=r"pqc_edge_profiles=\{'a': 1\}: profile a must be a dictionary, not 1"):
        compliance_profile("web", {"a": 1})
    with pytest.raises(AnsibleFilterError, match=r"pqc_edge_profile must be a profile name, not \['a', 'list'\]"):
        compliance_profile(["a", "list"])
