"""Benchmark: how long pqc.edge.tls_probe's python engine takes to enumerate a server.

    .venv/bin/python scripts/bench-probe.py 127.0.0.1 8443 [runs]

Runs the module's own enumeration code (no Ansible overhead) several times and prints the median,
minimum and maximum wall time and the number of connections it made.
"""

import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / ".cache" / "collections"))

from ansible_collections.pqc.edge.plugins.module_utils import _groups  # noqa: E402
from ansible_collections.pqc.edge.plugins.modules import tls_probe  # noqa: E402


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    # The python engine needs no AnsibleModule, only the options of one probe.
    engine = tls_probe.PythonEngine(None, {"host": host, "port": port, "timeout": 5.0, "server_name": None,
                                           "signature_algorithms": None, "transport": "tcp"})
    times = []
    result = None
    for dummy in range(runs):
        started = time.perf_counter()
        result = tls_probe.enumerate_server(engine, list(_groups.GROUPS))
        times.append((time.perf_counter() - started) * 1000.0)
    print("enumeration of %s:%d over %d registry groups, %d runs" % (host, port, len(_groups.GROUPS), runs))
    print("  supported: %s (server preference %s, pq enforced %s)"
          % (", ".join(result["supported_groups"]), result["server_preference"], result["pq_enforced"]))
    print("  connections per enumeration: %d" % result["probes"])
    print("  wall time ms: median %.1f, min %.1f, max %.1f" % (statistics.median(times), min(times), max(times)))


if __name__ == "__main__":
    main()
