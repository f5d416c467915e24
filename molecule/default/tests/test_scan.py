"""pqc.edge.scan from the controller against servers it does not manage: the edge's nginx (hybrid), an OpenSSL
s_server that offers X25519 only, a front that reads the ClientHello once and relays it to nginx only when it came
whole (as servers that break on large post-quantum ClientHellos do), and a port where nothing listens, all reached at
the container's own address (no login to them); then a malformed target."""

import json
import os
import re
import subprocess

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

SCAN = os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "scan.yml")
TLS = "/etc/pqc-edge/tls/default"
# Reads the first bytes of each connection once: a whole TLS record goes on to nginx, anything less is dropped.
ONE_READ = r'''
import socket, threading
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("0.0.0.0", 9553))
listener.listen(16)
while True:
    client, _ = listener.accept()
    first = client.recv(65536)
    if len(first) < 5 or len(first) < 5 + int.from_bytes(first[3:5], "big"):
        client.close()
        continue
    upstream = socket.create_connection(("127.0.0.1", 8443))
    upstream.sendall(first)
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
'''


def test_scan_judges_servers_it_does_not_manage_and_writes_a_valid_cbom(host, run_playbook, tmp_path):
    address = host.run("hostname -I").stdout.split()[0]
    server = host.run("setsid openssl s_server -accept 9552 -cert %s/ecdsa.crt -key %s/ecdsa.key -groups X25519 -www "
                      "-quiet </dev/null >/dev/null 2>&1 & sleep 1; ss -Htln 'sport = :9552'" % (TLS, TLS))
    assert ":9552" in server.stdout, server.stdout + server.stderr
    host.run("cat > /root/one-read.py <<'EOF'\n%sEOF" % ONE_READ)
    front = host.run("setsid python3 /root/one-read.py </dev/null >/dev/null 2>&1 & sleep 1; ss -Htln 'sport = :9553'")
    assert ":9553" in front.stdout, front.stdout + front.stderr
    try:
        targets = [{"target": "%s:8443" % address, "server_name": "pqc-edge-molecule", "quic": True}, "%s:9552" % address,
                   "https://%s:9/" % address, {"target": "%s:9553" % address, "server_name": "pqc-edge-molecule"}]
        result = run_playbook(SCAN, {"pqc_edge_scan_targets": targets, "pqc_edge_report_dir": str(tmp_path),
                                     "pqc_edge_scan_profile": "cnsa2"})
    finally:
        host.run("pkill -f 's_server -accept 9552'; pkill -f one-read.py")
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, said[-3000:]
    rows = json.loads((tmp_path / "pqc-scan.json").read_text())["hosts"]
    verdicts = [(row["host"], row["verdict"], row["pq_offer_group"], row["x25519_share_group"], row["classical_offer_group"])
                for row in rows]
    assert verdicts == [
        ("%s:8443" % address, "PQ-ready", "X25519MLKEM768", "X25519MLKEM768", "x25519"),
        ("%s:9552" % address, "classical only", "x25519", "x25519", "x25519"),
        ("https://%s:9/" % address, "unreachable", None, None, None),
        ("%s:9553" % address, "PQ-ready", "X25519MLKEM768", "X25519MLKEM768", "x25519")]
    # Only the front that reads once fails on the ClientHello in pieces; nothing is said of the unreachable port.
    assert [row["answers_split_client_hello"] for row in rows] == [True, True, None, False]
    assert "without a TLS answer" in rows[3]["split_client_hello_error"]
    assert rows[0]["supported_groups"][0] == "X25519MLKEM768" and rows[0]["servers"][0]["hello_retry_request"] is True
    # Asked for QUIC, the edge answers the post-quantum offer over UDP 8443 with the hybrid. The front on 9553 was not
    # asked, but nginx behind it announces HTTP/3 on 8443 in Alt-Svc (the scan's default reads it), so the same offer
    # goes there; the X25519 s_server announces nothing.
    assert [row["servers"][0]["http3_pq_offer_group"] for row in rows] == ["X25519MLKEM768", None, None, "X25519MLKEM768"]
    assert rows[3]["alt_svc"].startswith('h3=":8443"') and rows[1]["alt_svc"] is None
    assert "nothing listens there" in rows[2]["error"]
    cbom = (tmp_path / "pqc-scan.cdx.json").read_text()
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(cbom) is None
    protocols = [c["name"] for c in json.loads(cbom)["components"] if c["cryptoProperties"]["assetType"] == "protocol"]
    assert protocols == ["%s:8443 pqc-edge-molecule:8443" % address, "%s:9552 (default):9552" % address,
                         "%s:9553 pqc-edge-molecule:9553" % address]
    for name in ("pqc-scan.md", "pqc-scan.html"):
        assert "PQ-ready" in (tmp_path / name).read_text()
        assert "Compliance with a profile" in (tmp_path / name).read_text()
    # Judged against CNSA 2.0 from the controller: the web edge and the X25519 server fail it, each in words; the
    # controller's probe reads no certificate, so that point is said to be unchecked, never passed.
    edge, x25519_only = rows[0]["compliance"], rows[1]["compliance"]
    assert edge["profile"] == "cnsa2" and edge["compliant"] is False
    assert "accepted X25519MLKEM768 offered alone; the profile does not allow it" in edge["failed"]
    assert "TLS_AES_128_GCM_SHA256 accepted" in edge["failed"]
    assert edge["not_checked"] == ["the certificate served: needs engine=openssl, a complete handshake"]
    assert "accepted none of the profile's groups (MLKEM1024)" in x25519_only["failed"]
    assert rows[2]["compliance"] is None


def test_certificates_are_read_where_the_scanning_side_has_openssl_3_5(host, run_playbook, tmp_path):
    """From the controller (its OpenSSL may predate 3.5: then the rows say so) and from the edge itself
    (pqc_edge_scan_from, Debian 13's OpenSSL 3.5): the certificate served to a post-quantum client and to a classical
    one, each verified against the CA file given (here the ML-DSA certificate itself, which is self-signed)."""
    controller = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=False).stdout
    target = {"target": "127.0.0.1:8443", "server_name": "pqc-edge-molecule"}
    result = run_playbook(SCAN, {"pqc_edge_scan_targets": [dict(target, target="%s:8443" % host.run("hostname -I").stdout.split()[0])],
                                 "pqc_edge_report_dir": str(tmp_path / "controller")})
    assert result.returncode == 0, result.stdout[-3000:]
    row = json.loads((tmp_path / "controller" / "pqc-scan.json").read_text())["hosts"][0]
    if re.match(r"OpenSSL 3\.[0-4]\.", controller):
        assert row["certificates"] == [] and controller.strip() in row["certificates_error"], row
    else:
        assert len(row["certificates"]) == 2 and row["certificates_error"] is None, row

    # Beside the edge, an s_server with an RSA certificate and its own group list.
    host.run("openssl req -x509 -newkey rsa:2048 -nodes -keyout /root/scan-rsa.key -out /root/scan-rsa.crt "
             "-subj /CN=localhost -days 2")
    server = host.run("setsid openssl s_server -accept 9554 -cert /root/scan-rsa.crt -key /root/scan-rsa.key "
                      "-groups SecP256r1MLKEM768:secp256r1 -www -quiet </dev/null >/dev/null 2>&1 & sleep 1; "
                      "ss -Htln 'sport = :9554'")
    assert ":9554" in server.stdout, server.stdout + server.stderr
    try:
        result = run_playbook(SCAN, {"pqc_edge_scan_targets": [target, "127.0.0.1:9554"],
                                     "pqc_edge_scan_from": "pqc-edge-molecule",
                                     "pqc_edge_scan_ca_files": ["%s/mldsa44.crt" % TLS],
                                     "pqc_edge_report_dir": str(tmp_path / "edge")})
    finally:
        host.run("pkill -f 's_server -accept 9554'; rm -f /root/scan-rsa.key /root/scan-rsa.crt")
    assert result.returncode == 0, result.stdout[-3000:]
    row, rsa = json.loads((tmp_path / "edge" / "pqc-scan.json").read_text())["hosts"]
    assert (rsa["verdict"], rsa["pq_offer_group"]) == ("PQ-ready", "SecP256r1MLKEM768"), rsa
    assert [(c["path"], c["key_algorithm"], c["key_size"], c["trusted"]) for c in rsa["certificates"]] == [
        ("served to every client", "rsaEncryption", 2048, False)], rsa
    assert row["verdict"] == "PQ-ready" and row["certificates_error"] is None, row
    served = dict((c["path"], c) for c in row["certificates"])
    pq, classical = served["served to a post-quantum client"], served["served to a classical client"]
    on_host = host.run("openssl x509 -in %s/mldsa44.crt -noout -enddate" % TLS).stdout.strip().partition("=")[2]
    assert (pq["key_algorithm"], pq["trusted"], pq["not_after"]) == ("ML-DSA-44", True, on_host), pq
    assert pq["subject"] and pq["days_left"] > 0 and pq["key_size"] is None, pq
    assert (classical["key_algorithm"], classical["key_size"], classical["trusted"]) == ("id-ecPublicKey", 256, False), classical
    assert classical["verify_error"], classical
    cbom = json.loads((tmp_path / "edge" / "pqc-scan.cdx.json").read_text())
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(cbom)) is None
    names = [c["name"] for c in cbom["components"] if c["cryptoProperties"]["assetType"] == "certificate"]
    assert names == ["127.0.0.1:8443 served to a post-quantum client", "127.0.0.1:8443 served to a classical client",
                     "127.0.0.1:9554 served to every client"]


def test_a_malformed_target_is_refused_naming_it(run_playbook, tmp_path):
    result = run_playbook(SCAN, {"pqc_edge_scan_targets": ["lb.example.com"], "pqc_edge_report_dir": str(tmp_path)})
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "pqc_edge_scan_targets: 'lb.example.com' is not host:port, [IPv6 address]:port or an https:// URL" in said, said[-2000:]
    assert not list(tmp_path.iterdir())
