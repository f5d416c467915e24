"""Debian 12 (OpenSSL 3.0) made post-quantum by liboqs + oqs-provider, loaded into nginx only."""

import json
import os

import testinfra

CONF = "/etc/pqc-edge/openssl-oqsprovider.cnf"
HTTPS = "https://127.0.0.1:8443"


def test_the_host_has_openssl_3_0_without_ml_kem_of_its_own(host):
    assert host.run("openssl version").stdout.startswith("OpenSSL 3.0.")
    # Without the provider's configuration OpenSSL knows no ML-KEM group.
    assert host.run("openssl s_client -connect 127.0.0.1:8443 -groups X25519MLKEM768 </dev/null").rc != 0


def test_the_provider_is_built_installed_and_active(host):
    module = host.run("openssl version -m").stdout.split('"')[1] + "/oqsprovider.so"
    assert host.file(module).exists
    out = host.run("OPENSSL_CONF=%s openssl list -providers" % CONF).stdout
    assert "oqsprovider" in out and "status: active" in out
    assert host.file("/opt/pqc-edge/liboqs/lib/liboqs.a").exists
    for stamp in ("/opt/pqc-edge/liboqs/.pqc-edge-build", "/opt/pqc-edge/oqs-provider/.pqc-edge-build"):
        assert host.file(stamp).exists


def test_only_nginx_loads_the_provider(host):
    env = host.run("systemctl show nginx -p Environment --value").stdout
    assert "OPENSSL_CONF=%s" % CONF in env
    assert "oqsprovider" not in host.run("openssl list -providers").stdout
    assert CONF not in host.file("/etc/ssl/openssl.cnf").content_string


def test_a_post_quantum_client_gets_x25519mlkem768(host):
    out = host.run("OPENSSL_CONF=%s curl -sk --curves X25519MLKEM768 %s/api/tls" % (CONF, HTTPS))
    assert out.rc == 0, out.stderr
    assert json.loads(out.stdout)["group"] == "X25519MLKEM768"


def test_a_classical_client_is_still_served(host):
    out = host.run("openssl s_client -connect 127.0.0.1:8443 -groups X25519 </dev/null 2>&1").stdout
    assert "Server Temp Key: X25519" in out or "Peer Temp Key: X25519" in out, out
    tls = json.loads(host.run("curl -sk --curves X25519 %s/api/tls" % HTTPS).stdout)
    assert tls["group"].lower() == "x25519"


def test_the_classical_certificate_is_served_alone(host):
    # OpenSSL 3.0 cannot use provider signatures (ML-DSA) in TLS: one ECDSA certificate, no ML-DSA key made.
    assert not host.file("/etc/pqc-edge/tls/default/mldsa44.key").exists
    out = host.run("OPENSSL_CONF=%s openssl s_client -connect 127.0.0.1:8443 -groups X25519MLKEM768 </dev/null 2>&1"
                   % CONF).stdout
    # OpenSSL 3.0's s_client names the signature ECDSA, later versions ecdsa_secp256r1_sha256.
    assert "Peer signature type: ECDSA" in out or "ecdsa_secp256r1_sha256" in out, out


def test_keys_are_root_only(host):
    f = host.file("/etc/pqc-edge/tls/default/ecdsa.key")
    assert (f.user, f.group, f.mode) == ("root", "root", 0o600)


def test_one_build_serves_both_hosts(host):
    """The first host compiles liboqs and oqs-provider; the second unpacks their builds (no compiler installed)."""
    compiled = host.file("/opt/pqc-edge/liboqs/src/build").exists
    assert compiled == (host.backend.get_hostname() == "pqc-edge-oqs")
    assert host.package("cmake").is_installed == compiled
    assert host.file("/opt/pqc-edge/liboqs/lib/liboqs.a").exists
    assert host.file("/opt/pqc-edge/oqs-provider/.pqc-edge-build").exists


def test_system_wide_activation_is_opt_in_and_taken_back(run_site):
    """oqs_provider_system_wide: true gives every program the provider; false restores the host's openssl.cnf.

    One run each way serves both hosts: a test per host would run the play on both hosts twice more."""
    hosts = [testinfra.get_host("ansible://%s?ansible_inventory=%s" % (name, os.environ["MOLECULE_INVENTORY_FILE"]))
             for name in ("pqc-edge-oqs", "pqc-edge-oqs-2")]
    try:
        on = run_site({"oqs_provider_system_wide": True})
        assert on.returncode == 0, on.stdout + on.stderr
        for host in hosts:
            assert "oqsprovider" in host.run("openssl list -providers").stdout
            # curl with no OPENSSL_CONF of its own now offers the hybrid.
            tls = host.run("curl -sk --curves X25519MLKEM768 %s/api/tls" % HTTPS)
            assert tls.rc == 0, tls.stderr
            assert json.loads(tls.stdout)["group"] == "X25519MLKEM768"
    finally:
        off = run_site({"oqs_provider_system_wide": False})
    assert off.returncode == 0, off.stdout + off.stderr
    for host in hosts:
        assert "oqsprovider" not in host.run("openssl list -providers").stdout
        assert not host.file("/etc/pqc-edge/openssl-oqsprovider-system.cnf").exists
        # dpkg --verify names every file of the package that differs from what it installed.
        assert host.run("dpkg --verify openssl").stdout == ""
