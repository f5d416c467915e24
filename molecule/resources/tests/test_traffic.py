"""What share of real traffic is post-quantum: a known mix of real clients, counted by pqc.edge.tls_traffic, by the
report and by the Prometheus exporter, each of which must equal the mix exactly.

Runs where the scenario turns the traffic metrics on (PQC_EDGE_EXPECT_TRAFFIC_METRICS); PQC_EDGE_EXPECT_POLICY
says what a hybrid-capable client that sent only an X25519 key share gets.
"""

import json
import os
import re
import time

import pytest

pytestmark = pytest.mark.skipif(os.environ.get("PQC_EDGE_EXPECT_TRAFFIC_METRICS") != "true",
                                reason="this scenario does not turn on pqc_edge_traffic_metrics")

POLICY = os.environ.get("PQC_EDGE_EXPECT_POLICY", "enforce")
NGINX = os.environ.get("PQC_EDGE_EXPECT_NGINX_BINARY", "/usr/sbin/nginx")
# nginx logs what the client offered ($ssl_curves) only where its TLS library can say (OpenSSL; not AWS-LC).
OFFERS_LOGGED = os.environ.get("PQC_EDGE_EXPECT_CLIENT_GROUPS_LOGGED", "true") == "true"
URL = "https://localhost:8443/api/health"
CURL = "curl -sk --max-time 10 -o /dev/null -w '%%{http_code}' --resolve localhost:8443:127.0.0.1 %s " + URL
# A client that supports the hybrid but predicted x25519: its one key share is X25519's.
PREDICTED = ("printf 'GET /api/health HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n' | "
             "openssl s_client -quiet -connect 127.0.0.1:8443 -servername localhost -groups X25519:X25519MLKEM768 "
             "2>/dev/null | head -n1")
MIX = {"pq": 5, "classical": 3, "predicted": 2}


def drive_mix(host):
    for dummy in range(MIX["pq"]):
        assert host.run(CURL % "").stdout == "200"
    for dummy in range(MIX["classical"]):
        assert host.run(CURL % "--curves X25519").stdout == "200"
    for dummy in range(MIX["predicted"]):
        assert "200" in host.run(PREDICTED).stdout


def expected():
    moved = POLICY == "enforce"
    hybrid = MIX["pq"] + (MIX["predicted"] if moved else 0)
    classical = MIX["classical"] + (0 if moved else MIX["predicted"])
    return {
        "tls_requests": hybrid + classical,
        "requests_by_group": dict((k, v) for k, v in (("X25519MLKEM768", hybrid), ("x25519", classical)) if v),
        "pq_capable_requests": MIX["pq"] + MIX["predicted"] if OFFERS_LOGGED else 0,
        "pq_capable_served_classical": 0 if moved or not OFFERS_LOGGED else MIX["predicted"],
    }


def run_now(host, unit):
    """Start a oneshot unit and return once a run of it that began after this call has ended. The timer fires every
    minute: a start while its run is under way joins that run, which may have read the files before the test changed
    them."""
    monotonic = "python3 -c 'import time; print(time.monotonic_ns() // 1000)'"
    for dummy in range(3):
        asked = int(host.run(monotonic).stdout)
        assert host.run("for i in $(seq 600); do [ \"$(systemctl show -p ActiveState --value %s)\" = activating ] || exit 0;"
                        " sleep 0.1; done; exit 1" % unit).rc == 0
        assert host.run("systemctl start %s" % unit).rc == 0
        if int(host.run("systemctl show -p ExecMainStartTimestampMonotonic --value %s" % unit).stdout) >= asked:
            return
    raise AssertionError("%s: no run of its own in three tries" % unit)


def scrape(host):
    """Bring the counters up to date as the timer would, and read them back from node_exporter."""
    run_now(host, "pqc-edge-traffic-metrics.service")
    text = host.run("curl -s http://127.0.0.1:9100/metrics").stdout
    values = {}
    for match in re.finditer(r"^(pqc_edge_[a-z_]+)(\{[^}]*\})? (\S+)$", text, re.M):
        values[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return values


@pytest.fixture(scope="module")
def mix(host):
    """Drive the mix once; the counts, the report and the exporter are read after it."""
    since = host.run("date -u -d '+1 second' +%Y-%m-%dT%H:%M:%S").stdout.strip()
    before = scrape(host)
    time.sleep(1.5)  # everything before `since` is out of the window
    drive_mix(host)
    after = scrape(host)
    return since, before, after


def test_the_module_counts_the_mix_exactly(host, mix):
    since = mix[0]
    counted = host.ansible("pqc.edge.tls_traffic", "since=%s" % since, become=True, check=False)
    assert "msg" not in counted, counted
    assert dict((k, counted[k]) for k in expected()) == expected(), counted
    assert counted["tls_connections"] == counted["tls_requests"]  # one request per connection here
    assert counted["tls_version_shares"] == {"TLSv1.3": 1.0} and counted["unparsed_lines"] == 0
    if POLICY != "enforce":
        assert counted["pq_capable_served_classical_by_server_name"] == {"localhost": MIX["predicted"]}


def test_the_exporter_counts_the_mix_exactly(mix):
    since, before, after = mix

    def delta(name):
        return after.get(name, 0) - before.get(name, 0)

    want = expected()
    assert delta('pqc_edge_tls_requests_total{group="X25519MLKEM768",kind="hybrid"}') == want["requests_by_group"].get("X25519MLKEM768", 0)
    assert delta('pqc_edge_tls_requests_total{group="x25519",kind="classical"}') == want["requests_by_group"].get("x25519", 0)
    assert delta("pqc_edge_tls_pq_capable_requests_total") == want["pq_capable_requests"]
    assert delta('pqc_edge_tls_pq_capable_classical_requests_total{server_name="localhost"}') == want["pq_capable_served_classical"]
    assert after["pqc_edge_traffic_last_update_timestamp_seconds"] > before["pqc_edge_traffic_last_update_timestamp_seconds"]


def test_the_report_shows_the_mix_exactly(host, mix, run_playbook, tmp_path):
    since = mix[0]
    result = run_playbook("pqc.edge.report", {"pqc_edge_report_dir": str(tmp_path), "pqc_edge_traffic_since": since})
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "pqc-report.json").read_text())
    traffic = report["hosts"][0]["traffic"]
    assert dict((k, traffic[k]) for k in expected()) == expected(), traffic
    assert report["fleet_traffic"]["tls_requests"] == expected()["tls_requests"]
    share = expected()["requests_by_group"]["X25519MLKEM768"] / float(expected()["tls_requests"])
    html = (tmp_path / "pqc-report.html").read_text()
    assert "<svg" in html and "%.1f%% of %d" % (share * 100, expected()["tls_requests"]) in html
    assert "| %d | %.1f%% |" % (expected()["tls_requests"], share * 100) in (tmp_path / "pqc-report.md").read_text()


def test_the_counter_service_is_hardened_and_the_exporter_serves_its_file(host):
    out = host.run("systemd-analyze security pqc-edge-traffic-metrics.service --no-pager").stdout
    score = float(re.search(r"Overall exposure level for pqc-edge-traffic-metrics\.service: ([0-9.]+)", out).group(1))
    assert score <= 3.0, out
    assert host.service("pqc-edge-traffic-metrics.timer").is_enabled
    assert host.service("prometheus-node-exporter").is_running
    assert 'node_textfile_scrape_error 0' in host.run("curl -s http://127.0.0.1:9100/metrics").stdout


def test_the_counters_run_unprivileged_and_see_no_key(host):
    """Least privilege for what parses client-written lines: its own user, no key in view, bounded memory (the
    labels only for configured names are tests/unit/test_traffic.py's)."""
    shown = host.run("systemctl show pqc-edge-traffic-metrics.service -p User -p MemoryMax -p InaccessiblePaths").stdout
    assert "User=pqc-edge-metrics" in shown and "MemoryMax=67108864" in shown and "/etc/pqc-edge" in shown, shown
    assert host.file("/var/lib/prometheus/node-exporter/pqc_edge_traffic.prom").user == "pqc-edge-metrics"
    key = host.run("ls /etc/pqc-edge/tls/*/*.key | head -1").stdout.strip()
    looked = host.run("systemd-run --wait --pipe --quiet -p User=pqc-edge-metrics -p SupplementaryGroups=adm "
                      "-p InaccessiblePaths=-/etc/pqc-edge cat %s" % key)
    assert looked.rc != 0 and "PRIVATE KEY" not in looked.stdout


CLASSICAL_LABEL = {"ecdsa": "ECDSA", "rsa": "RSA"}[os.environ.get("PQC_EDGE_EXPECT_CLASSICAL", "ecdsa")]


def expiry_gauges(host):
    """Read the certificates as the expiry timer would, and the gauges back from node_exporter."""
    run_now(host, "pqc-edge-certificate-expiry.service")
    text = host.run("curl -s http://127.0.0.1:9100/metrics").stdout
    gauges = [(dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(1))), float(match.group(2)))
              for match in re.finditer(r"^pqc_edge_certificate_expiry_timestamp_seconds\{(.*)\} (\S+)$", text, re.M)]
    return text, gauges


def test_every_certificate_nginx_serves_has_its_expiry_gauge(host):
    text, gauges = expiry_gauges(host)
    served = host.run(NGINX + " -T 2>/dev/null | sed -n 's/^ *ssl_certificate  *\\([^;]*\\);/\\1/p' | sort -u")
    paths = [path for path in served.stdout.split() if path.startswith("/")]
    assert paths, served.stdout
    for path in paths:
        end = host.run("openssl x509 -in %s -noout -enddate" % path).stdout.strip().partition("=")[2]
        expires = int(host.run("date -u -d '%s' +%%s" % end).stdout)
        mine = [labels for labels, value in gauges if labels["certificate"] == path and value == expires]
        assert mine, (path, expires, gauges)
        assert all(labels["server_name"] and labels["issuer"] for labels in mine), mine
    algorithms = set(labels["algorithm"] for labels, dummy in gauges
                     if labels["certificate"].startswith("/etc/pqc-edge/tls/"))
    assert algorithms == {"ML-DSA-44", CLASSICAL_LABEL}, gauges
    assert "pqc_edge_certificate_unreadable{" not in text
    assert re.search(r"^pqc_edge_certificate_expiry_last_update_timestamp_seconds \S+$", text, re.M)


def test_the_expiry_gauge_follows_the_file_without_a_play_and_names_an_unreadable_one(host):
    """A certificate replaced between plays (as a renewal would) shows on the next timer run; a file that cannot be
    read shows as unreadable instead of its gauge disappearing."""
    path = "/etc/pqc-edge/tls/default/%s.crt" % CLASSICAL_LABEL.lower()
    assert host.run("cp -p %s /root/kept.crt" % path).rc == 0
    try:
        made = host.run("openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout /dev/null "
                        "-out %s -days 3 -subj /CN=short-lived" % path)
        assert made.rc == 0, made.stderr
        dummy, gauges = expiry_gauges(host)
        short = [value for labels, value in gauges if labels["certificate"] == path]
        assert short and all(0 < value - time.time() <= 3 * 86400 for value in short), short
        assert all(labels["issuer"] == "CN=short-lived" for labels, dummy in gauges if labels["certificate"] == path)
        assert host.run("mv %s /root/moved.crt" % path).rc == 0
        text, gauges = expiry_gauges(host)
        assert 'pqc_edge_certificate_unreadable{certificate="%s"} 1' % path in text
        assert not [labels for labels, dummy in gauges if labels["certificate"] == path]
    finally:
        assert host.run("cp -p /root/kept.crt %s" % path).rc == 0
        run_now(host, "pqc-edge-certificate-expiry.service")


def test_the_expiry_service_is_hardened_and_unprivileged(host):
    out = host.run("systemd-analyze security pqc-edge-certificate-expiry.service --no-pager").stdout
    score = float(re.search(r"Overall exposure level for pqc-edge-certificate-expiry\.service: ([0-9.]+)", out).group(1))
    assert score <= 3.0, out
    assert host.service("pqc-edge-certificate-expiry.timer").is_enabled
    shown = host.run("systemctl show pqc-edge-certificate-expiry.service -p User -p MemoryMax -p PrivateNetwork").stdout
    assert "User=pqc-edge-metrics" in shown and "MemoryMax=67108864" in shown and "PrivateNetwork=yes" in shown, shown
    assert host.file("/var/lib/prometheus/node-exporter/pqc_edge_certificates.prom").user == "pqc-edge-metrics"
