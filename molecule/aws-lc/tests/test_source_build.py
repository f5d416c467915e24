"""nginx built from source (here on AWS-LC; fleet builds it on the system OpenSSL): the right binary serves, the
build is not redone, a bad checksum or archive changes nothing."""

import hashlib

import pytest


def test_source_built_nginx_serves(host):
    assert not host.package("nginx").is_installed
    assert "ExecStart=/opt/pqc-edge/nginx/sbin/nginx" in host.file("/etc/systemd/system/nginx.service").content_string
    version = host.run("/opt/pqc-edge/nginx/sbin/nginx -v 2>&1").stdout
    assert "nginx/1.26.3" in version
    main_pid = host.run("systemctl show -p MainPID --value nginx").stdout.strip()
    assert host.file("/proc/%s/exe" % main_pid).linked_to == "/opt/pqc-edge/nginx/sbin/nginx"


def test_build_stamp_records_version_checksum_and_flags(host):
    stamp = host.file("/opt/pqc-edge/nginx/.pqc-edge-build").content_string
    assert stamp.startswith("1.26.3 sha256:69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa ")
    assert "--prefix=/opt/pqc-edge/nginx" in stamp


# The nginx tarball and the AWS-LC snapshot (../shared/sources, pinned by its own digest in molecule.yml).
@pytest.mark.parametrize("variable, archive, actual", [
    ("nginx_source_sha256", "nginx-1.26.3.tar.gz", "69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa"),
    ("nginx_aws_lc_source_sha256", "aws-lc-5.1.0.tar.gz", "69b5d2d5d141cb25418fd863aa35fe357f95d5871935bab9de53bd33059dd2d5"),
])
def test_wrong_checksum_fails_naming_file_and_both_digests(host, run_site, variable, archive, actual):
    wrong = "0" * 64
    before = host.run("sha256sum /opt/pqc-edge/nginx/sbin/nginx /opt/pqc-edge/nginx/.pqc-edge-build").stdout
    result = run_site({variable: wrong})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "%s has sha256 %s, expected %s (%s)" % (archive, actual, wrong, variable) in output, output
    assert "changed: " not in result.stdout, output
    assert host.run("sha256sum /opt/pqc-edge/nginx/sbin/nginx /opt/pqc-edge/nginx/.pqc-edge-build").stdout == before
    assert host.service("nginx").is_running


def test_missing_offline_archive_fails_naming_it(host, run_site):
    result = run_site({"nginx_source_archive": "/nonexistent/nginx-1.26.3.tar.gz"})
    assert result.returncode != 0
    assert "/nonexistent/nginx-1.26.3.tar.gz does not exist on the controller" in result.stdout + result.stderr


@pytest.fixture
def fake_archives(tmp_path):
    """Two files on the controller posing as the liboqs and oqs-provider tarballs, with their sha256."""
    archives = {}
    for name in ("liboqs-0.15.0", "oqs-provider-0.11.0"):
        path = tmp_path / ("%s.tar.gz" % name)
        path.write_bytes(b"not the %s release\n" % name.encode())
        archives[name] = (str(path), hashlib.sha256(path.read_bytes()).hexdigest())
    return archives


def untouched(host):
    """What a source build would change first: its prefix, its build packages, the running nginx."""
    return (
        host.file("/opt/pqc-edge/liboqs").exists,
        host.file("/opt/pqc-edge/oqs-provider").exists,
        host.package("cmake").is_installed,
        host.run("systemctl show -p MainPID --value nginx").stdout,
    )


@pytest.mark.parametrize("wrong", ["liboqs", "oqs_provider"])
def test_a_wrong_liboqs_or_oqs_provider_archive_fails_naming_both_digests(host, run_site, fake_archives, wrong):
    liboqs, liboqs_sha = fake_archives["liboqs-0.15.0"]
    provider, provider_sha = fake_archives["oqs-provider-0.11.0"]
    extra = {
        "pqc_edge_crypto_provider": "oqsprovider",
        "liboqs_source_archive": liboqs,
        "oqs_provider_source_archive": provider,
        "oqs_provider_source_sha256": provider_sha,
    }
    if wrong == "liboqs":
        # The role's pinned digest of the real 0.15.0 tarball does not match this file.
        archive, actual = liboqs, liboqs_sha
        expected = "3983f7cd1247f37fb76a040e6fd684894d44a84cecdcfbdb90559b3216684b5c"
    else:
        extra["liboqs_source_sha256"] = liboqs_sha
        extra["oqs_provider_source_sha256"] = expected = "2" * 64
        archive, actual = provider, provider_sha
    before = untouched(host)
    result = run_site(extra)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "%s_source_archive: %s has sha256 %s, expected %s" % (wrong, archive, actual, expected) in output, output
    assert "changed: " not in result.stdout, output
    assert untouched(host) == before
