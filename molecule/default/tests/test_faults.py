"""Faults a production edge meets: a crashed backend and a rebooted host."""

import subprocess
import time

URL = "https://127.0.0.1:8443/api/health"


def status(host):
    return host.run("curl -sk -o /dev/null -w '%%{http_code}' --max-time 2 %s" % URL).stdout


def test_killed_backend_is_back_within_5_seconds_and_nginx_answers_502_meanwhile(host):
    assert status(host) == "200"
    assert host.run("systemctl kill --signal=SIGKILL pqc-edge-backend").rc == 0
    killed = time.monotonic()
    seen = []
    while time.monotonic() - killed < 10:
        code = status(host)
        seen.append(code)
        if code == "200":
            break
        time.sleep(0.1)
    recovered = time.monotonic() - killed
    assert seen[-1] == "200", seen
    assert recovered <= 5.0, "backend back after %.1f s" % recovered
    assert set(seen[:-1]) <= {"502"}, seen


def test_restarted_host_comes_back_serving(host):
    name = host.backend.host
    subprocess.run(["docker", "restart", name], check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        state = host.run("systemctl is-system-running").stdout.strip()
        if state in ("running", "degraded"):
            break
        time.sleep(1)
    for unit in ("nginx", "pqc-edge-backend"):
        assert host.service(unit).is_enabled and host.service(unit).is_running, unit
    deadline = time.monotonic() + 30
    while status(host) != "200" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert status(host) == "200"
    out = host.run("openssl s_client -connect 127.0.0.1:8443 -groups X25519MLKEM768 </dev/null 2>&1").stdout
    assert "Negotiated TLS1.3 group: X25519MLKEM768" in out
