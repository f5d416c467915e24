"""pqc.edge.scan from the controller against servers it does not manage: the edge's nginx (hybrid), an OpenSSL
s_server that offers X25519 only, and a port where nothing listens, all reached at the container's own address (no
login to them); then a malformed target."""

import json
import os

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

SCAN = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "scan.yml")
TLS = "/etc/pqc-edge/tls/default"


def test_scan_judges_servers_it_does_not_manage_and_writes_a_valid_cbom(host, run_playbook, tmp_path):
    address = host.run("hostname -I").stdout.split()[0]
    server = host.run("setsid openssl s_server -accept 9552 -cert %s/ecdsa.crt -key %s/ecdsa.key -groups X25519 -www "
                      "-quiet </dev/null >/dev/null 2>&1 & sleep 1; ss -Htln 'sport = :9552'" % (TLS, TLS))
    assert ":9552" in server.stdout, server.stdout + server.stderr
    try:
        targets = [{"target": "%s:8443" % address, "server_name": "pqc-edge-molecule"}, "%s:9552" % address,
                   "https://%s:9/" % address]
        result = run_playbook(SCAN, {"pqc_edge_scan_targets": targets, "pqc_edge_report_dir": str(tmp_path)})
    finally:
        host.run("pkill -f 's_server -accept 9552'")
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, said[-3000:]
    rows = json.loads((tmp_path / "pqc-scan.json").read_text())["hosts"]
    verdicts = [(row["host"], row["verdict"], row["pq_offer_group"], row["x25519_share_group"], row["classical_offer_group"])
                for row in rows]
    assert verdicts == [
        ("%s:8443" % address, "PQ-ready", "X25519MLKEM768", "X25519MLKEM768", "x25519"),
        ("%s:9552" % address, "classical only", "x25519", "x25519", "x25519"),
        ("https://%s:9/" % address, "unreachable", None, None, None)]
    assert rows[0]["supported_groups"][0] == "X25519MLKEM768" and rows[0]["servers"][0]["hello_retry_request"] is True
    assert "nothing listens there" in rows[2]["error"]
    cbom = (tmp_path / "pqc-scan.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cbom) is None
    protocols = [c["name"] for c in json.loads(cbom)["components"] if c["cryptoProperties"]["assetType"] == "protocol"]
    assert protocols == ["%s:8443 pqc-edge-molecule:8443" % address, "%s:9552 (default):9552" % address]
    for name in ("pqc-scan.md", "pqc-scan.html"):
        assert "PQ-ready" in (tmp_path / name).read_text()


def test_a_malformed_target_is_refused_naming_it(run_playbook, tmp_path):
    result = run_playbook(SCAN, {"pqc_edge_scan_targets": ["lb.example.com"], "pqc_edge_report_dir": str(tmp_path)})
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "pqc_edge_scan_targets: 'lb.example.com' is not host:port, [IPv6 address]:port or an https:// URL" in said, said[-2000:]
    assert not list(tmp_path.iterdir())
