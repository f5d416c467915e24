"""pqc.edge.host_facts reads real files, links and directories, and pqc.edge.differs decides from what it read
whether a role's write would change anything."""

import hashlib
import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.files import differs, unwritable_paths
from ansible_collections.pqc.edge.plugins.modules import host_facts

from module_runner import run_module


@pytest.fixture
def tree(tmp_path):
    (tmp_path / "conf").mkdir(mode=0o755)
    (tmp_path / "conf").chmod(0o755)
    site = tmp_path / "conf" / "pqc-edge-app.conf"
    site.write_text("server {}\n")
    site.chmod(0o644)
    (tmp_path / "conf" / "other.conf").write_text("x\n")
    os.symlink("conf/pqc-edge-app.conf", tmp_path / "link")
    return tmp_path


def facts(**args):
    return run_module(host_facts.main, args)


def test_files_directories_and_links_are_described(tree):
    site = str(tree / "conf" / "pqc-edge-app.conf")
    result = facts(paths=[site, str(tree / "conf"), str(tree / "link"), str(tree / "missing")])
    described = result["paths"]
    assert described[site]["type"] == "file" and described[site]["mode"] == "0644"
    assert described[site]["sha256"] == hashlib.sha256(b"server {}\n").hexdigest()
    assert described[site]["md5"] == hashlib.md5(b"server {}\n").hexdigest()
    assert described[str(tree / "conf")]["type"] == "directory"
    assert described[str(tree / "link")]["link_target"] == "conf/pqc-edge-app.conf"
    assert described[str(tree / "link")]["resolved"] == os.path.realpath(site)
    assert described[str(tree / "missing")] == {"exists": False}
    assert result["changed"] is False


def test_reads_globs_and_writable_paths(tree):
    site = str(tree / "conf" / "pqc-edge-app.conf")
    pattern = str(tree / "conf" / "pqc-edge-*.conf")
    blocker = tree / "a-file"
    blocker.write_text("")
    result = facts(read=[site, str(tree / "nope")], glob=[pattern],
                   writable=[str(tree / "new" / "dir"), str(blocker / "below")])
    assert result["content"] == {site: "server {}\n", str(tree / "nope"): None}
    assert result["found"][pattern] == [site]
    assert result["writable"][str(tree / "new" / "dir")] == "writable"
    assert result["writable"][str(blocker / "below")] == str(blocker)
    # What the preflights make of that read: the variable, its value, and what is in the way.
    paths = [{"name": "certificates_dir", "path": str(tree / "new" / "dir")},
             {"name": "backend_home", "path": str(blocker / "below")}]
    assert unwritable_paths(paths, result["writable"], "edge1") == [
        "backend_home=%s cannot be written on edge1: %s is not a writable directory (a file in the way, or a read-only "
        "file system)." % (blocker / "below", blocker)]
    assert unwritable_paths(paths[:1], result["writable"], "edge1") == []


def test_users_groups_and_the_machine(tree):
    result = facts(users=["root", "no-such-user-pqc"], groups=["root", "no-such-group-pqc"])
    assert result["users"]["root"]["uid"] == 0 and result["users"]["no-such-user-pqc"] is None
    assert result["groups"]["root"] == {"gid": 0} and result["groups"]["no-such-group-pqc"] is None
    assert result["cpus"] >= 1 and isinstance(result["ipv6"], bool)


def test_an_absent_openssl_or_nginx_is_reported_not_failed(tree):
    result = facts(openssl=str(tree / "bin" / "openssl"), nginx=str(tree / "sbin" / "nginx"), nginx_servers=True)
    assert result["openssl"] == {"present": False, "version": None, "tls_groups": []}
    assert result["nginx"] == {"present": False, "build": ""}
    assert result["nginx_servers"]["installed"] is False and result["nginx_servers"]["error"] is None


# A stand-in nginx: -V names a build, -T prints one configuration file as nginx does (or, told so, fails as nginx does
# on a directive it does not know).
NGINX = """#!/bin/sh
case "$1" in
  -V) echo "nginx version: nginx/1.26.3" >&2 ;;
  -T) if [ -f "${0%/*}/broken" ]; then
        echo 'nginx: [emerg] unknown directive "no_such_directive" in /etc/nginx/conf.d/broken.conf:3' >&2; exit 1
      fi
      printf '# configuration file /etc/nginx/nginx.conf:\nhttp {\n  server {\n    listen 9443 ssl;\n    server_name a.example;\n  }\n}\n' ;;
esac
"""


def test_what_nginx_serves_is_read_with_the_build_and_a_failed_dump_is_reported_not_failed(tree, monkeypatch):
    binary = tree / "sbin" / "nginx"
    binary.parent.mkdir()
    binary.write_text(NGINX)
    binary.chmod(0o755)
    # No systemctl here: nginx -T runs without the OPENSSL_CONF of a service.
    monkeypatch.setenv("PATH", str(tree / "sbin"))
    result = facts(nginx=str(binary), nginx_servers=True, nginx_service="no-such-unit")
    assert "nginx/1.26.3" in result["nginx"]["build"]
    served = result["nginx_servers"]
    assert served["error"] is None and served["installed"] is True
    assert [(e["port"], e["server_name"]) for e in served["tls_endpoints"]] == [(9443, "a.example")]
    assert facts(nginx=str(binary))["nginx_servers"] == {}
    (tree / "sbin" / "broken").write_text("")
    served = facts(nginx=str(binary), nginx_servers=True)["nginx_servers"]
    assert served["error"].startswith("%s -T failed: nginx: [emerg] unknown directive" % binary), served
    assert served["servers"] == [] and served["tls_endpoints"] == []


def test_differs_compares_content_mode_owner_and_kind():
    described = {"exists": True, "type": "file", "mode": "0644", "owner": "root", "group": "root",
                 "sha256": hashlib.sha256(b"a\n").hexdigest()}
    assert not differs(described, content="a\n", mode="0644", owner="root", group="root")
    assert differs(described, content="b\n")
    assert differs(described, mode="0600")
    assert differs(described, owner="www-data")
    assert differs(described, "directory")
    assert differs({"exists": False}, content="a\n")
    link = {"exists": True, "type": "link", "link_target": "../x"}
    assert not differs(link, "link", link_target="../x")
    assert differs(link, "link", link_target="../y")


def test_differs_refuses_what_host_facts_did_not_return():
    with pytest.raises(AnsibleFilterError):
        differs(None, content="a")


def test_the_os_is_read_without_fact_gathering(monkeypatch):
    import platform

    release = "\n".join(['PRETTY_NAME="Ubuntu 24.04.1 LTS"', 'NAME="Ubuntu"', 'VERSION_ID="24.04"', "ID=ubuntu", "ID_LIKE=debian",
                         "# a comment", ""])
    monkeypatch.setattr(host_facts, "read_text", lambda path: release if path == "/etc/os-release" else None)
    found = facts()["os"]
    assert found["family"] == "Debian" and found["id"] == "ubuntu" and found["major_version"] == "24"
    assert found["architecture"] == platform.machine()
    # Debian testing has a codename and no VERSION_ID; an unknown family keeps its ID.
    release = 'ID=debian\nVERSION_CODENAME=forky\n'
    assert facts()["os"]["major_version"] == "forky"
    release = 'ID=alpine\nVERSION_ID=3.20.1\n'
    assert facts()["os"]["family"] == "Alpine"


def test_the_os_of_this_machine():
    found = facts()["os"]
    assert found["id"] and found["family"] and found["architecture"]
    assert found["pkg_mgr"] in (None, "apt", "dnf", "yum", "zypper")
