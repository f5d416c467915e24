"""nginx built from source: the right binary serves, the build is not redone, a bad checksum changes nothing."""

import json
import os
import subprocess


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


def run_site(extra_vars):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    cmd = [
        "ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
        os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"), "-e", json.dumps(extra_vars),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, check=False)


def test_wrong_checksum_fails_naming_file_and_both_digests(host):
    wrong = "0" * 64
    before = host.run("sha256sum /opt/pqc-edge/nginx/sbin/nginx /opt/pqc-edge/nginx/.pqc-edge-build").stdout
    result = run_site({"nginx_source_sha256": wrong})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "nginx-1.26.3.tar.gz has sha256 69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa" in output
    assert "expected " + wrong in output
    assert "changed: " not in result.stdout, output
    assert host.run("sha256sum /opt/pqc-edge/nginx/sbin/nginx /opt/pqc-edge/nginx/.pqc-edge-build").stdout == before
    assert host.service("nginx").is_running


def test_missing_offline_archive_fails_naming_it(host):
    result = run_site({"nginx_source_archive": "/nonexistent/nginx-1.26.3.tar.gz"})
    assert result.returncode != 0
    assert "/nonexistent/nginx-1.26.3.tar.gz does not exist on the controller" in result.stdout + result.stderr
