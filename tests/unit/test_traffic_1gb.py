"""pqc.edge.tls_traffic on a 1 GB access log: exact counts in bounded memory (the module run as Ansible runs it)."""

import json
import os
import pathlib
import subprocess
import sys

from test_traffic import line

ROOT = pathlib.Path(__file__).resolve().parents[2]
GIB = 1 << 30
PEAK_LIMIT = 100 * (1 << 20)


def test_a_1gb_log_is_counted_exactly_in_under_100_mb(tmp_path):
    # One block of a realistic mix, repeated until the file is 1 GiB: 5 hybrid requests (one resumed, one from an
    # nginx that prints the code point), 2 classical-only, 1 hybrid-capable client left on x25519, 1 plain redirect,
    # 1 line of garbage.
    block = "".join([
        line(1), line(2, reqs=2), line(3, reused="r"), line(4, group="0x11ec", groups="0x11ec:X25519"),
        line(5, proto="HTTP/3.0"),
        line(6, group="X25519", groups="X25519:prime256v1"), line(7, group="prime256v1", groups="prime256v1"),
        line(8, group="X25519", groups="X25519:X25519MLKEM768", sni="legacy.example"),
        line(9, tls="-", group="-", groups="-", sni="-", proto="HTTP/1.1"),
        "this line is in no format pqc.edge knows\n",
    ]).encode()
    repeats = GIB // len(block) + 1
    log = tmp_path / "pqc-edge-access.log"
    chunk = block * 1024
    with open(str(log), "wb") as out:
        for dummy in range(repeats // 1024):
            out.write(chunk)
        out.write(block * (repeats % 1024))
    assert log.stat().st_size >= GIB

    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"path": str(log)}}))
    env = dict(os.environ, PYTHONPATH=str(ROOT / ".cache" / "collections"))
    child = subprocess.Popen([sys.executable, str(ROOT / "plugins" / "modules" / "tls_traffic.py"), str(args)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    stdout = child.stdout.read()
    stderr = child.stderr.read()
    dummy, status, usage = os.wait4(child.pid, 0)
    assert status == 0, stderr.decode()
    result = json.loads(stdout)
    peak = usage.ru_maxrss * 1024  # Linux reports kilobytes
    print("\n1 GiB log (%d lines): %.1f s, peak RSS %.1f MiB" % (result["lines"], result["elapsed_seconds"], peak / 1048576.0))
    assert peak < PEAK_LIMIT, "peak memory %.1f MiB" % (peak / 1048576.0)
    assert result["lines"] == 10 * repeats and result["unparsed_lines"] == repeats
    assert result["requests_by_group"] == {"X25519MLKEM768": 5 * repeats, "x25519": 2 * repeats, "secp256r1": repeats}
    assert result["tls_connections"] == 7 * repeats and result["plain_http_requests"] == repeats
    assert result["pq_capable_served_classical_by_server_name"] == {"legacy.example": repeats}
    assert result["quantum_safe_request_share"] == 0.625
