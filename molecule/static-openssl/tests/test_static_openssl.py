"""Debian 12 (OpenSSL 3.0) serving X25519MLKEM768 and ML-DSA-44 through nginx linked statically to OpenSSL 3.5."""

import glob
import hashlib
import json
import os

import pytest

OPENSSL = "/opt/pqc-edge/openssl/bin/openssl"
NGINX = "/opt/pqc-edge/nginx/sbin/nginx"
SHA256 = "a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8"


def handshake(host, openssl, groups):
    return host.run("%s s_client -connect 127.0.0.1:8443 -servername localhost -groups %s </dev/null 2>&1"
                    % (openssl, groups)).stdout


def test_the_host_openssl_is_3_0_and_cannot_offer_ml_kem(host):
    assert host.run("openssl version").stdout.startswith("OpenSSL 3.0.")
    assert host.run("openssl s_client -connect 127.0.0.1:8443 -groups X25519MLKEM768 </dev/null").rc != 0


def test_nginx_is_linked_statically_to_the_pinned_openssl(host):
    assert "built with OpenSSL 3.5.7 " in host.run("%s -V 2>&1" % NGINX).stdout
    libraries = host.run("ldd %s" % NGINX).stdout
    assert "libssl" not in libraries and "libcrypto" not in libraries, libraries
    stamp = host.file("/opt/pqc-edge/nginx/.pqc-edge-build").content_string
    assert "openssl 3.5.7 sha256:%s" % SHA256 in stamp
    assert "--with-openssl=/opt/pqc-edge/nginx/src/openssl-3.5.7" in stamp


def test_no_provider_and_no_change_to_the_system_openssl(host):
    assert host.run("systemctl show nginx -p Environment --value").stdout.strip() == ""
    assert not host.file("/etc/pqc-edge/openssl-oqsprovider.cnf").exists
    assert not host.file("/opt/pqc-edge/liboqs").exists
    # dpkg --verify names every file of the package that differs from what it installed.
    assert host.run("dpkg --verify openssl libssl3").stdout == ""
    assert 'OPENSSLDIR: "/opt/pqc-edge/openssl/ssl"' in host.run("%s version -d" % OPENSSL).stdout


def test_a_post_quantum_client_gets_x25519mlkem768_and_the_ml_dsa_certificate(host):
    out = handshake(host, OPENSSL, "X25519MLKEM768:X25519")
    assert "Negotiated TLS1.3 group: X25519MLKEM768" in out, out
    assert "Peer signature type: mldsa44" in out, out


def test_the_backend_sees_the_hybrid_group_through_nginx(host):
    request = "GET /api/tls HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n"
    out = host.run("printf '%s' | %s s_client -quiet -connect 127.0.0.1:8443 -servername localhost "
                   "-groups X25519MLKEM768 2>/dev/null" % (request, OPENSSL)).stdout
    body = json.loads(out[out.index("{"):])
    assert body["group"] == "X25519MLKEM768", body


def test_an_https_upstream_is_reached_over_the_hybrid_through_the_static_openssl(host):
    """/hop/ goes through nginx's own client side to the edge's site again: the backend behind that hop saw the hybrid,
    which the system OpenSSL 3.0 could not have offered."""
    out = host.run("curl -sk --resolve localhost:8443:127.0.0.1 https://localhost:8443/hop/").stdout
    body = json.loads(out)
    assert body["group"] == "X25519MLKEM768" and body["protocol"] == "TLSv1.3", body


def test_a_classical_client_is_still_served_with_ecdsa(host):
    out = handshake(host, "openssl", "X25519")
    assert "Server Temp Key: X25519" in out, out
    # The system OpenSSL 3.0 client names the scheme ECDSA (3.5 prints ecdsa_secp256r1_sha256).
    assert "Peer signature type: ECDSA" in out, out


def test_the_keys_were_made_by_the_pinned_openssl_and_are_root_only(host):
    for key in ("/etc/pqc-edge/tls/default/mldsa44.key", "/etc/pqc-edge/tls/default/ecdsa.key"):
        f = host.file(key)
        assert (f.user, f.group, f.mode) == ("root", "root", 0o600)
    out = host.run("%s x509 -in /etc/pqc-edge/tls/default/mldsa44.crt -noout -text" % OPENSSL).stdout
    assert "ML-DSA-44" in out


def test_a_wrong_openssl_checksum_fails_naming_file_and_both_digests(host, run_site):
    wrong = "1" * 64
    files = "%s %s /opt/pqc-edge/nginx/.pqc-edge-build" % (NGINX, OPENSSL)
    before = host.run("sha256sum %s" % files).stdout
    pid = host.run("systemctl show -p MainPID --value nginx").stdout
    result = run_site({"pqc_edge_openssl_source_sha256": wrong})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "openssl-3.5.7.tar.gz has sha256 %s, expected %s" % (SHA256, wrong) in output, output
    assert "changed: " not in result.stdout, output
    assert host.run("sha256sum %s" % files).stdout == before
    assert host.run("systemctl show -p MainPID --value nginx").stdout == pid


def test_openssl_from_source_needs_nginx_from_source(host, run_site):
    result = run_site({"nginx_install_method": "package"})
    assert result.returncode != 0
    assert "nginx_install_method=package installs the distribution's nginx" in result.stdout + result.stderr
    assert not host.package("nginx").is_installed


def test_one_build_serves_both_hosts(host):
    """The first host compiles nginx with OpenSSL; the second unpacks that build, command line included."""
    compiled = host.file("/opt/pqc-edge/nginx/src/openssl-3.5.7/Configure").exists
    assert compiled == (host.backend.get_hostname() == "pqc-edge-static")
    assert host.package("gcc").is_installed == compiled
    assert host.file(OPENSSL).mode == 0o755
    assert "ML-DSA-44" in host.run("%s list -signature-algorithms" % OPENSSL).stdout


def test_a_kept_build_altered_after_it_was_kept_is_refused_before_anything_is_unpacked(host, run_site):
    """The controller's copy of the first host's build is changed after it was kept, and the second host needs it again
    (its build stamp removed): the run fails naming both digests, nothing is unpacked, nginx keeps serving; with the
    build as it was kept, the next run unpacks it."""
    if host.backend.get_hostname() != "pqc-edge-static-2":
        pytest.skip("runs once, on the host that reuses the first host's build")
    cache = os.path.join(os.environ.get("PQC_EDGE_BUILD_CACHE") or os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], ".cache", "builds"),
                         "static-openssl")
    kept = glob.glob(os.path.join(cache, "nginx-*.tar.gz"))
    assert len(kept) == 1, kept
    with open(kept[0] + ".sha256") as f:
        recorded = f.read().strip()
    with open(kept[0], "rb") as f:
        original = f.read()
    assert hashlib.sha256(original).hexdigest() == recorded
    stamp = "/opt/pqc-edge/nginx/.pqc-edge-build"
    files = "%s %s" % (NGINX, OPENSSL)
    before = host.run("sha256sum %s" % files).stdout
    pid = host.run("systemctl show -p MainPID --value nginx").stdout
    build_id = host.file(stamp).content_string
    host.run("rm -f %s" % stamp)
    try:
        with open(kept[0], "ab") as f:
            f.write(b"\0" * 512)
        result = run_site({})
        said = " ".join((result.stdout + result.stderr).split())
        assert result.returncode != 0
        assert "is refused, nothing was unpacked: its sha256 is %s, not %s as recorded when it was kept" % (
            hashlib.sha256(original + b"\0" * 512).hexdigest(), recorded) in said, said[-3000:]
        assert host.run("sha256sum %s" % files).stdout == before
        assert host.run("systemctl show -p MainPID --value nginx").stdout == pid
    finally:
        with open(kept[0], "wb") as f:
            f.write(original)
    result = run_site({})
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert host.file(stamp).content_string == build_id
    assert host.run("sha256sum %s" % files).stdout == before
