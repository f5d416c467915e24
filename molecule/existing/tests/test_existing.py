"""An edge that already served the operator's own sites, after site.yml: nothing lost, every TLS server post-quantum
unless it pins classical groups itself, pqc.edge's two sites each with their own certificates.

The operator's configuration and what it answered before pqc.edge are written by prepare.yml
(/root/pqc-edge-before); everything here is a real client inside the host. The host is reached over SSH as the
sudo user `deploy`, as the converge was.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

BEFORE = "/root/pqc-edge-before"
SITES = {"app": "app.example.test", "static": "static.example.test"}


def s_client(host, port, name, *args):
    cmd = host.run("openssl s_client -connect 127.0.0.1:%s -servername %s %s </dev/null 2>&1"
                   % (port, name, " ".join(args)))
    return cmd.rc, cmd.stdout


def group(output):
    match = re.search(r"Negotiated TLS1\.3 group: (\S+)", output) or re.search(r"Peer Temp Key: ([^,]+),", output)
    return match.group(1) if match else None


def subject_cn(output):
    match = re.search(r"^subject=.*CN\s*=\s*([^,/\n]+)", output, re.MULTILINE)
    return match.group(1).strip() if match else None


def sha256(host, path):
    with host.sudo():
        return host.run("sha256sum < %s" % path).stdout.split()[0]


def answer(host, url, name=None, port=None):
    """Status, content type and the sha256 of the body of one request, as prepare.yml recorded them."""
    resolve = "--resolve %s:%s:127.0.0.1" % (name, port) if name else ""
    cmd = host.run("curl -sSk %s -o /tmp/answer.body -w '%%{http_code} %%{content_type}' %s" % (resolve, url))
    assert cmd.rc == 0, cmd.stderr
    return cmd.stdout.strip(), sha256(host, "/tmp/answer.body")


def before(host, name):
    with host.sudo():
        status = host.file("%s/%s.status" % (BEFORE, name)).content_string.strip()
    return status, sha256(host, "%s/%s.body" % (BEFORE, name))


def test_converge_came_over_ssh_as_the_sudo_user(host):
    with host.sudo():
        log = host.run("journalctl -q --no-pager | grep -E 'sshd|sudo'").stdout
    assert "Accepted publickey for deploy" in log
    assert re.search(r"deploy : .*USER=root ; COMMAND=", log), log[-2000:]


def test_empty_package_lists_were_refreshed_once(host):
    # prepare.yml removed the lists; the run refreshed them and installed what it needed.
    assert host.run("ls /var/lib/apt/lists | grep -c _Packages").stdout.strip() != "0"
    assert host.package("python3-venv").is_installed


@pytest.mark.parametrize("name, url", [
    ("shop-index", "http://127.0.0.1:8081/"),
    ("shop-status", "http://127.0.0.1:8081/status"),
])
def test_the_operators_plain_site_answers_exactly_as_before(host, name, url):
    status, body = answer(host, url)
    assert (status, body) == before(host, name)


def test_the_operators_conf_d_and_log_format_are_still_in_force(host):
    marker = "pqc-edge-test=%d" % os.getpid()
    assert host.run("curl -s -o /dev/null http://127.0.0.1:8081/status?%s" % marker).rc == 0
    with host.sudo():
        assert host.file("/etc/nginx/conf.d/operator.conf").exists
        # The operator's log format, defined in conf.d: "$host $request $status".
        assert "127.0.0.1 GET /status?%s HTTP/1.1 200" % marker in host.file("/var/log/nginx/shop.log").content_string


def test_the_operators_tls_site_inherits_the_policy_with_its_own_certificate(host):
    rc, out = s_client(host, 8444, "intranet.example.test", "-groups X25519MLKEM768:X25519")
    assert rc == 0, out
    assert group(out) == "X25519MLKEM768"
    assert subject_cn(out) == "intranet.example.test"
    # A client that predicted X25519 is moved to the hybrid too: the enforce tuples reach the operator's server.
    rc, out = s_client(host, 8444, "intranet.example.test", "-groups X25519:X25519MLKEM768")
    assert group(out) == "X25519MLKEM768", out
    assert answer(host, "https://intranet.example.test:8444/", "intranet.example.test", 8444) == before(host, "intranet")


def test_the_operators_pinned_site_stays_classical_and_answers_as_before(host):
    rc, out = s_client(host, 8445, "legacy.example.test", "-groups X25519MLKEM768:X25519")
    assert rc == 0, out
    assert group(out) == "X25519"
    assert subject_cn(out) == "legacy.example.test"
    assert answer(host, "https://legacy.example.test:8445/", "legacy.example.test", 8445) == before(host, "legacy")


@pytest.mark.parametrize("site", sorted(SITES))
@pytest.mark.parametrize("sigalgs, key", [("mldsa44", "ML-DSA-44"), ("ecdsa_secp256r1_sha256", "id-ecPublicKey")])
def test_each_pqc_edge_site_serves_its_own_certificates_by_sni(host, site, sigalgs, key):
    name = SITES[site]
    rc, out = s_client(host, 8443, name, "-groups X25519MLKEM768", "-sigalgs", sigalgs, "-showcerts")
    assert rc == 0, out
    assert group(out) == "X25519MLKEM768"
    assert subject_cn(out) == name
    with host.sudo():
        text = host.run("openssl x509 -in /etc/pqc-edge/tls/%s/%s.crt -noout -text"
                        % (site, "mldsa44" if key == "ML-DSA-44" else "ecdsa")).stdout
    assert "Public Key Algorithm: %s" % key in text
    assert "DNS:%s" % name in text and "DNS:localhost" in text


def test_the_sites_locations_proxy_serve_files_and_redirect(host):
    status, dummy = answer(host, "https://app.example.test:8443/api/tls", "app.example.test", 8443)
    assert status.startswith("200 application/json")
    assert json.loads(host.file("/tmp/answer.body").content_string)["group"] == "X25519MLKEM768"
    assert answer(host, "https://static.example.test:8443/", "static.example.test", 8443) == (
        "200 text/html", sha256(host, "/var/www/static/index.html"))
    status, dummy = answer(host, "https://static.example.test:8443/old/x", "static.example.test", 8443)
    assert status.startswith("301")
    # Through the named upstream, and through a URL, to the operator's plain site.
    assert answer(host, "https://static.example.test:8443/shop-status", "static.example.test", 8443)[1] == \
        before(host, "shop-status")[1]
    assert answer(host, "https://static.example.test:8443/shop/", "static.example.test", 8443) == before(host, "shop-index")


def hop(host, site, path):
    """Status and body of a request through the edge to an https:// upstream, and what the upstream logged of it."""
    marker = "hop-%d-%s" % (os.getpid(), path.strip("/"))
    cmd = host.run("curl -sSk --resolve static.example.test:8443:127.0.0.1 -o /tmp/hop.body -w '%%{http_code}' "
                   "https://static.example.test:8443%s?%s" % (path, marker))
    assert cmd.rc == 0, cmd.stderr
    with host.sudo():
        body = host.file("/tmp/hop.body").content_string
        logged = [line for line in host.file("/var/log/nginx/%s-hop.log" % site).content_string.splitlines()
                  if marker in line]
    return cmd.stdout.strip(), body, logged


# An https:// URL, and a named upstream with a tls_server_name (by the name the intranet certificate carries).
@pytest.mark.parametrize("path", ["/intranet/", "/pool/"])
def test_an_https_upstream_is_reached_over_the_hybrid_with_the_edges_groups(host, path):
    status, body, logged = hop(host, "intranet", path)
    assert (status, body.strip()) == ("200", "intranet")
    assert len(logged) == 1, logged
    fields = dict(field.split("=", 1) for field in logged[0].split())
    # nginx 1.26 writes a group OpenSSL has no NID for by its code point: 0x11ec is X25519MLKEM768, 0x11eb
    # SecP256r1MLKEM768 (IANA TLS Supported Groups).
    assert fields["group"] == "0x11ec" and fields["tls"] == "TLSv1.3", logged
    # What the edge offered is exactly its own policy (nginx_groups, in order), not OpenSSL's default list.
    assert fields["offered"] == "0x11ec:0x11eb:X25519:prime256v1", logged


def test_an_upstream_that_pins_a_classical_group_gets_a_classical_hop(host):
    status, body, logged = hop(host, "legacy", "/legacy/")
    assert (status, body.strip()) == ("200", "legacy")
    assert len(logged) == 1 and "group=X25519 " in logged[0] and "tls=TLSv1.3" in logged[0], logged


def inventory_sites():
    """pqc_edge_sites as the scenario's inventory gives them to the host."""
    shown = subprocess.run(["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--host", "pqc-edge-existing"],
                           capture_output=True, text=True, check=True)
    return json.loads(shown.stdout)["pqc_edge_sites"]


def test_an_upstream_whose_certificate_the_ca_file_does_not_verify_gets_no_request_and_fails_the_gate(host, run_site):
    """A location added that trusts the wrong CA file for its upstream (the intranet server, by another name, since
    nginx shares one upstream's sessions): nginx refuses the hop, and the play's gate fails the host naming it."""
    sites = inventory_sites()
    static = [site for site in sites if site["name"] == "static"][0]
    static["locations"].append({"path": "/wrong-ca/", "proxy": "https://localhost:8444/",
                                "proxy_ca_file": "/etc/ssl/operator/legacy.crt"})
    try:
        result = run_site({"pqc_edge_sites": sites})
        said = " ".join((result.stdout + result.stderr).split())
        assert result.returncode != 0, said[-3000:]
        assert ("pqc-edge-existing: the hop from site static location /wrong-ca/ -> https://localhost:8444/ "
                "(localhost:8444, server name localhost): the upstream's certificate did not verify against "
                "/etc/ssl/operator/legacy.crt") in said, said[-3000:]
        status, dummy, logged = hop(host, "intranet", "/wrong-ca/")
        assert status == "502" and logged == []
        with host.sudo():
            errors = host.run("grep -c 'upstream SSL certificate verify error' /var/log/nginx/error.log").stdout.strip()
        assert int(errors or 0) >= 1
    finally:
        restored = run_site({})
    assert restored.returncode == 0, (restored.stdout + restored.stderr)[-3000:]
    assert hop(host, "intranet", "/wrong-ca/")[0] == "404"


def test_the_stock_default_site_stays_where_nothing_clashes(host):
    assert host.file("/etc/nginx/sites-enabled/default").is_symlink
    assert host.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:80/").stdout == "200"


def test_nginx_conf_keeps_debians_layout(host):
    conf = host.file("/etc/nginx/nginx.conf").content_string
    assert "include /etc/nginx/conf.d/*.conf;" in conf and "include /etc/nginx/sites-enabled/*;" in conf
    assert sorted(host.run("ls /etc/nginx/sites-enabled").stdout.split()) == [
        "default", "intranet", "legacy", "pqc-edge-app.conf", "pqc-edge-static.conf", "shop"]


def run_playbook(playbook, extra_vars):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook, "-e", json.dumps(extra_vars)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, check=False)


def test_report_says_per_server_name_hybrid_or_classical_and_why():
    # Kept as an artifact of the run in the git-ignored reports/ folder of the checkout.
    out = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"]) / "reports" / "molecule-existing"
    shutil.rmtree(out, ignore_errors=True)
    result = run_playbook(os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "report.yml"),
                          {"pqc_edge_report_dir": str(out)})
    assert result.returncode == 0, result.stdout + result.stderr
    row = json.loads((out / "pqc-report.json").read_text())["hosts"][0]
    servers = {s["server_name"]: s for s in row["servers"]}
    assert sorted(servers) == ["app.example.test", "intranet.example.test", "legacy.example.test", "static.example.test"]
    for name in ("app.example.test", "static.example.test", "intranet.example.test"):
        assert servers[name]["verdict"] == "hybrid" and servers[name]["pq_offer_group"] == "X25519MLKEM768", servers[name]
    assert servers["intranet.example.test"]["served_by"] == "operator"
    assert servers["app.example.test"]["served_by"] == "pqc.edge site app"
    legacy = servers["legacy.example.test"]
    assert legacy["verdict"] == "classical" and legacy["pq_offer_group"] == "x25519"
    assert "ssl_ecdh_curve X25519" in legacy["why"] and "/etc/nginx/sites-enabled/legacy:7" in legacy["why"]
    assert row["verdict"] == "partly PQ"
    # The hops to the operator's TLS servers, probed from the edge as nginx makes them.
    hops = dict((hop["location"], hop) for hop in row["upstream_hops"])
    assert sorted(hops) == ["/intranet/", "/legacy/", "/pool/"]
    assert hops["/pool/"]["upstream"] == "upstream intranet_pool, server 127.0.0.1:8444"
    assert hops["/pool/"]["negotiated_group"] == "X25519MLKEM768" and hops["/pool/"]["certificate_verified"]
    assert hops["/intranet/"]["negotiated_group"] == "X25519MLKEM768" and hops["/intranet/"]["certificate_verified"]
    assert hops["/intranet/"]["groups_offered"] == ["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "secp256r1"]
    assert (hops["/legacy/"]["negotiated_group"], hops["/legacy/"]["quantum_safe"]) == ("x25519", False), hops
    assert hops["/legacy/"]["certificate_verified"] and "proxy_groups X25519" in hops["/legacy/"]["pinned"]
    # The front's offers to the same upstreams: what each supports (the legacy one X25519 alone, whatever is offered).
    assert [hops["/intranet/"][key] for key in ("pq_offer_group", "x25519_share_group", "classical_offer_group")] == [
        "X25519MLKEM768", "X25519MLKEM768", "x25519"], hops["/intranet/"]
    assert hops["/legacy/"]["pq_offer_group"] == "x25519" and hops["/legacy/"]["classical_offer_group"] == "x25519"
    markdown = (out / "pqc-report.md").read_text()
    assert "| legacy.example.test:8445 | operator | classical |" in markdown


def snapshot(host):
    """What a refused run must leave as it was: every nginx file and link, and the running nginx."""
    with host.sudo():
        return (
            host.run("cd /etc/nginx && (find . -type f -exec sha256sum {} + && find . -type l -printf '%p -> %l\\n') | sort").stdout,
            host.run("systemctl show -p MainPID --value nginx").stdout,
            host.run("pgrep -P $(cat /run/nginx.pid) | sort").stdout,
        )


def serves_everything(host):
    assert group(s_client(host, 8444, "intranet.example.test", "-groups X25519MLKEM768")[1]) == "X25519MLKEM768"
    assert group(s_client(host, 8445, "legacy.example.test")[1]) == "X25519"
    for name in SITES.values():
        assert group(s_client(host, 8443, name, "-groups X25519MLKEM768")[1]) == "X25519MLKEM768"
    assert answer(host, "http://127.0.0.1:8081/status") == before(host, "shop-status")


SITES_AS_CONVERGED = [
    {"name": "app", "server_names": ["app.example.test"], "default_server": True,
     "locations": [{"path": "/", "proxy": "backend"}]},
    {"name": "static", "server_names": ["static.example.test"], "locations": [{"path": "/", "root": "/var/www/static"}]},
]


@pytest.mark.parametrize("extra_vars, named", [
    pytest.param({"pqc_edge_sites": SITES_AS_CONVERGED[:1] + [dict(SITES_AS_CONVERGED[1], locations=[
        {"path": "/", "root": "/var/www/static"}, {"path": "/api", "proxy": "tcp://10.0.0.1"}])]},
        '"proxy": "tcp://10.0.0.1"', id="invalid-location"),
    pytest.param({"pqc_edge_sites": SITES_AS_CONVERGED[:1] + [dict(SITES_AS_CONVERGED[1], locations=[
        {"path": "/", "root": "/var/www/static"},
        {"path": "/api", "proxy": "http://127.0.0.1:8081/", "proxy_ca_file": "/etc/ssl/operator/intranet.crt"}])]},
        '"proxy_ca_file": "/etc/ssl/operator/intranet.crt"', id="ca-file-without-tls-upstream"),
    pytest.param({"pqc_edge_sites": SITES_AS_CONVERGED[:1] + [dict(SITES_AS_CONVERGED[1], locations=[
        {"path": "/", "root": "/var/www/static"},
        {"path": "/a/", "proxy": "https://intranet.example.test:8444/", "proxy_ca_file": "/etc/ssl/operator/intranet.crt"},
        {"path": "/b/", "proxy": "https://intranet.example.test:8444/b/", "proxy_ca_file": "/etc/ssl/operator/legacy.crt"}])]},
        "https://intranet.example.test:8444 is verified against /etc/ssl/operator/intranet.crt (site static, location /a/)",
        id="one-upstream-two-ca-files"),
    pytest.param({"nginx_require_pq_everywhere": True}, "/etc/nginx/sites-enabled/legacy:7", id="require-pq-everywhere"),
    # The operator's intranet server is the default server of 8444 already.
    pytest.param({"pqc_edge_sites": [dict(SITES_AS_CONVERGED[0], https_port=8444), SITES_AS_CONVERGED[1]]},
                 "/etc/nginx/sites-enabled/intranet:2 (server_name intranet.example.test) on port 8444 already is",
                 id="second-default-server"),
])
def test_bad_input_fails_before_anything_changes_and_every_site_is_still_served(host, run_site, extra_vars, named):
    previous = snapshot(host)
    result = run_site(extra_vars)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output
    assert named in output, output
    assert "changed: " not in result.stdout, output
    assert snapshot(host) == previous
    serves_everything(host)


def test_an_nginx_conf_someone_edited_is_not_replaced(host, run_site):
    """The package's nginx.conf with an operator's line in it, as pqc.edge would find it on a host."""
    with host.sudo():
        assert host.run("cp /etc/nginx/nginx.conf /root/nginx.conf.pqc-edge && (cat %s/nginx.conf.stock;"
                        " echo '# edited by hand') > /etc/nginx/nginx.conf" % BEFORE).rc == 0
    try:
        previous = snapshot(host)
        result = run_site({})
        output = " ".join((result.stdout + result.stderr).split())
        assert result.returncode != 0, output
        assert "/etc/nginx/nginx.conf on pqc-edge-existing was edited" in output, output
        assert "nginx_replace_modified_conf=true" in output, output
        assert snapshot(host) == previous
    finally:
        with host.sudo():
            host.run("cp /root/nginx.conf.pqc-edge /etc/nginx/nginx.conf")
    serves_everything(host)


def test_each_edit_of_nginx_conf_is_kept_when_pqc_edge_may_replace_it(host, run_site):
    """pqc.edge's own nginx.conf edited by hand: refused like any edited nginx.conf; with nginx_replace_modified_conf
    two different edits, each replaced by a run, are both kept (the newest as nginx.conf.pqc-edge-orig, the earlier
    one beside it) instead of the first copy standing for every edit."""
    with host.sudo():
        host.run("rm -f /etc/nginx/nginx.conf.pqc-edge-orig*")
        ours = host.file("/etc/nginx/nginx.conf").content_string
        assert "# pqc.edge sha256 " in ours
        host.run("echo '# edit one by hand' >> /etc/nginx/nginx.conf")
        refused = run_site({})
        said = " ".join((refused.stdout + refused.stderr).split())
        assert refused.returncode != 0 and "was edited" in said, said[-3000:]
        for edit in ("one", "two"):
            host.run("sed -i 's/^# edit .* by hand$//' /etc/nginx/nginx.conf && echo '# edit %s by hand' >> /etc/nginx/nginx.conf" % edit)
            result = run_site({"nginx_replace_modified_conf": True})
            assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
            assert host.file("/etc/nginx/nginx.conf").content_string == ours
        kept = host.run("grep -l '# edit' /etc/nginx/nginx.conf.pqc-edge-orig*").stdout.split()
        assert host.file("/etc/nginx/nginx.conf.pqc-edge-orig").contains("# edit two by hand")
        earlier = [path for path in kept if path != "/etc/nginx/nginx.conf.pqc-edge-orig"]
        assert len(earlier) == 1 and earlier[0].endswith("~") and host.file(earlier[0]).contains("# edit one by hand"), kept
        host.run("rm -f /etc/nginx/nginx.conf.pqc-edge-orig*")
    serves_everything(host)
