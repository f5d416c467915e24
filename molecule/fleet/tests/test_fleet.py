"""The fleet: the readiness report, a rolling change under load, and a batch gate that stops a rollout.

These tests drive whole plays against all three hosts, so they run once (no `host` fixture); each one
that changes the fleet puts it back with a plain converge before it ends.
"""

import json
import os
import shlex
import shutil
import subprocess
import tempfile
import time

import testinfra
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

HOSTS = ["pqc-edge-fleet-1", "pqc-edge-fleet-2", "pqc-edge-fleet-3"]
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")


def fleet_host(name):
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (name, INVENTORY))


def ansible_playbook(playbook, extra_vars=None, inventories=()):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    cmd = ["ansible-playbook", "-i", INVENTORY]
    for extra in inventories:
        cmd += ["-i", extra]
    cmd.append(playbook)
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env, check=False)


def converge(extra_vars=None, inventories=()):
    return ansible_playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"),
                            extra_vars, inventories)


CONF = "/opt/pqc-edge/nginx/conf/nginx.conf"


def test_one_build_serves_the_fleet():
    """The canary compiled nginx; the hosts of the later batches unpacked its build from the controller."""
    compiled = [name for name in HOSTS
                if fleet_host(name).file("/opt/pqc-edge/nginx/src/nginx-1.26.3/objs/nginx").exists]
    assert compiled == ["pqc-edge-fleet-1"]
    binaries = set(fleet_host(name).run("sha256sum /opt/pqc-edge/nginx/sbin/nginx").stdout.split()[0] for name in HOSTS)
    assert len(binaries) == 1
    # As molecule.yml: PQC_EDGE_BUILD_CACHE, or the Makefile's default when molecule runs without it.
    builds = os.environ.get("PQC_EDGE_BUILD_CACHE") or os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], ".cache", "builds")
    cache = os.path.join(builds, "fleet")
    assert [f for f in os.listdir(cache) if f.startswith("nginx-1.26.3-debian13-")], os.listdir(cache)


def test_report_names_every_host_with_its_negotiated_group():
    # Kept as an artifact of the run in the git-ignored reports/ folder of the checkout.
    out = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "reports", "molecule-fleet")
    shutil.rmtree(out, ignore_errors=True)
    result = ansible_playbook(os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "report.yml"),
                              {"pqc_edge_report_dir": out})
    assert result.returncode == 0, result.stdout + result.stderr
    with open(os.path.join(out, "pqc-report.json")) as f:
        report = json.load(f)
    rows = dict((row["host"], row) for row in report["hosts"])
    assert sorted(rows) == HOSTS
    for row in rows.values():
        assert row["verdict"] == "PQ-ready"
        assert row["pq_offer_group"] == "X25519MLKEM768"
        assert row["classical_offer_group"] == "x25519"
        assert row["supported_groups"] == ["X25519MLKEM768", "SecP256r1MLKEM768", "x25519", "secp256r1"]
        assert [c["key_algorithm"] for c in row["certificates"]] == ["ML-DSA-44", "rsaEncryption"]
        assert all(360 <= c["days_left"] <= 365 for c in row["certificates"])
    with open(os.path.join(out, "pqc-report.md")) as f:
        markdown = f.read()
    with open(os.path.join(out, "pqc-report.html")) as f:
        html = f.read()
    for name in HOSTS:
        assert name in markdown and name in html
    assert "3 of 3 hosts PQ-ready" in " ".join(markdown.split())
    # The CBOM: valid CycloneDX 1.6, with exactly the servers and certificates the JSON report lists.
    with open(os.path.join(out, "pqc-report.cdx.json")) as f:
        text = f.read()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text) is None
    assets = {}
    for component in json.loads(text)["components"]:
        assets.setdefault(component["cryptoProperties"]["assetType"], set()).add(component["name"])
    servers = [(row["host"], server) for row in report["hosts"] for server in row["servers"]]
    assert assets["protocol"] == set("%s %s:%s" % (host, server["server_name"] or "(default)", server["port"])
                                     for host, server in servers)
    assert assets["certificate"] == set("%s %s" % (host, c["path"]) for host, server in servers for c in server["certificates"])
    assert len(assets["certificate"]) == 2 * len(HOSTS)
    assert {"X25519MLKEM768", "ML-DSA-44", "RSA-2048"} <= assets["algorithm"]


# Runs until the test stops it, bounded by a deadline (not a count) so that a slow machine cannot end it mid-rollout.
LOOP = (
    "date +%s > /root/loop.start; deadline=$(( $(date +%s) + 1200 )); : > /root/loop.codes; "
    "while [ ! -f /root/loop.stop ] && [ $(date +%s) -lt $deadline ]; do "
    "curl -sk -o /dev/null -w '%{http_code}\\n' --max-time 3 https://127.0.0.1:8443/api/health >> /root/loop.codes; "
    "sleep 0.02; done; date +%s > /root/loop.end"
)


def test_rolling_group_change_fails_no_request():
    hosts = [fleet_host(name) for name in HOSTS]
    for h in hosts:
        h.run("rm -f /root/loop.*")
        h.run("setsid sh -c %s >/dev/null 2>&1 < /dev/null &" % shlex.quote(LOOP))
    time.sleep(2)
    started = time.time()
    workers_before = [h.run("pgrep -P $(cat /run/nginx.pid) | sort").stdout for h in hosts]
    # Drop SecP256r1MLKEM768 everywhere: a real configuration change, applied batch by batch with reloads.
    result = converge({"nginx_groups": ["X25519MLKEM768", "X25519", "secp256r1"]})
    finished = time.time()
    time.sleep(2)
    for h in hosts:
        h.run("touch /root/loop.stop")
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        # site.yml's default batches for three hosts: the canary, then the other two together.
        assert result.stdout.count("PLAY [Provision post-quantum TLS edges]") == 2, result.stdout
        for h, before in zip(hosts, workers_before):
            for dummy in range(50):
                if h.file("/root/loop.end").exists:
                    break
                time.sleep(0.2)
            codes = h.file("/root/loop.codes").content_string.split()
            start, end = int(h.file("/root/loop.start").content_string), int(h.file("/root/loop.end").content_string)
            assert start <= started and end >= finished, "the request loop did not span the rollout"
            assert len(codes) >= 100
            assert set(codes) == {"200"}, "failed requests on %s: %s" % (h.backend.host, sorted(set(codes)))
            assert h.run("pgrep -P $(cat /run/nginx.pid) | sort").stdout != before, "nginx was not reloaded"
            assert "ssl_ecdh_curve X25519MLKEM768/X25519:secp256r1;" in h.file(CONF).content_string
    finally:
        restored = converge()
        assert restored.returncode == 0, restored.stdout + restored.stderr


def test_failing_batch_gate_stops_the_rollout():
    # The second host prefers X25519 over the hybrid: preflight accepts it (a hybrid is listed), but a
    # post-quantum client then lands on X25519 and the gate after its batch must stop the rollout.
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as overlay:
        overlay.write(
            "pqc_edge:\n  hosts:\n    pqc-edge-fleet-2:\n"
            "      nginx_group_policy: prefer\n      nginx_groups: [X25519, X25519MLKEM768]\n"
        )
        overlay.flush()
        # One host per batch, so that a third batch exists to be stopped (the default puts both in the second).
        result = converge({"nginx_keepalive_timeout": 66, "pqc_edge_serial": [1]}, inventories=[overlay.name])
    try:
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert ("pqc-edge-fleet-2 (127.0.0.1:8443, server name pqc-edge-fleet-2, "
                "/opt/pqc-edge/nginx/conf/sites-enabled/pqc-edge-default.conf:") in " ".join(output.split()), output
        assert "negotiated x25519 for a post-quantum client offer" in " ".join(output.split()), output
        confs = dict((name, fleet_host(name).file(CONF).content_string) for name in HOSTS)
        assert "keepalive_timeout 66;" in confs["pqc-edge-fleet-1"]
        assert "keepalive_timeout 66;" in confs["pqc-edge-fleet-2"]
        assert "keepalive_timeout 65;" in confs["pqc-edge-fleet-3"], "the batch after the failing one ran"
    finally:
        restored = converge()
        assert restored.returncode == 0, restored.stdout + restored.stderr
