# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What real clients negotiated, from the access log that pqc.edge's sites write (log_format pqc_edge).

One line per request:
  time=2026-11-27T12:00:00+00:00 addr=10.0.0.1 host=www.example.org sni=www.example.org request="GET / HTTP/2.0"
  status=200 bytes=612 rt=0.001 proto=HTTP/2.0 tls=TLSv1.3 group=X25519MLKEM768 groups=X25519MLKEM768:X25519
  reused=. conn=42 reqs=1
(one line in the log). Counting streams: memory holds counters only, whatever the size of the log. Used by the
tls_traffic module on the controller's behalf, and installed beside the metrics script on hosts (where it
imports the group registry from its own directory).
"""

from __future__ import annotations

import collections
import datetime
import gzip
import os
import re

try:
    from ansible_collections.pqc.edge.plugins.module_utils import _groups, _prometheus
except ImportError:  # on a host, beside pqc-edge-traffic-metrics
    import _groups  # type: ignore[no-redef]
    import _prometheus  # type: ignore[no-redef]

LINE = re.compile(
    r'^time=(?P<time>\S+) addr=\S* host=(?P<host>\S*) sni=(?P<sni>\S*) request="[^"]*" status=(?P<status>\d+)'
    r' bytes=\d+ rt=\S+ proto=(?P<proto>\S+) tls=(?P<tls>\S+) group=(?P<group>\S+) groups=(?P<groups>\S+)'
    r' reused=(?P<reused>\S+) conn=\d+ reqs=(?P<reqs>\d+)$'
)
ROTATED = re.compile(r"\.(\d+)(\.gz)?$")
# Distinct server names kept apart in the figures; any more are counted together as OTHER.
MAX_SERVER_NAMES = 1000
OTHER = "(other)"
KINDS = ("hybrid", "pq", "classical", "unknown")


class Counts(object):
    """Counters of requests and connections by what they negotiated."""

    def __init__(self, server_names=None):
        """server_names: the names whose figures are labelled by name (the configured sites'); any other name a client
        sends, and every name beyond MAX_SERVER_NAMES where none are given, is counted as OTHER."""
        self.server_names = frozenset(server_names) if server_names is not None else None
        self.lines = 0
        self.unparsed = 0
        self.plain_requests = 0
        self.requests = collections.Counter()  # (group name, kind) of TLS requests
        self.connections = collections.Counter()  # (group name, kind) of each connection's first request
        self.protocols = collections.Counter()
        self.http_versions = collections.Counter()
        self.resumed = 0
        self.pq_capable = 0
        self.pq_capable_classical = collections.Counter()  # server name -> requests
        self.first = None
        self.last = None
        self._described = {}

    def describe(self, token):
        info = self._described.get(token)
        if info is None:
            info = _groups.describe(token)
            info = (info["name"] or token, info["kind"])
            if len(self._described) < 4096:
                self._described[token] = info
        return info

    def offered_quantum_safe(self, groups):
        return any(_groups.is_quantum_safe(self.describe(token)[1]) for token in groups.split(":") if token)

    def add(self, line):
        """Count one log line; lines of another format are counted as unparsed."""
        self.lines += 1
        match = LINE.match(line.rstrip("\r\n"))
        if match is None:
            self.unparsed += 1
            return
        time = match.group("time")
        self.first = self.first or time
        self.last = time
        self.http_versions[match.group("proto")] += 1
        if match.group("tls") == "-":
            self.plain_requests += 1
            return
        name, kind = self.describe(match.group("group")) if match.group("group") != "-" else ("-", "unknown")
        self.requests[(name, kind)] += 1
        if match.group("reqs") == "1":
            self.connections[(name, kind)] += 1
        self.protocols[match.group("tls")] += 1
        if match.group("reused") == "r":
            self.resumed += 1
        if match.group("groups") != "-" and self.offered_quantum_safe(match.group("groups")):
            self.pq_capable += 1
            if not _groups.is_quantum_safe(kind):
                server = match.group("sni") if match.group("sni") != "-" else match.group("host")
                if self.server_names is not None and server not in self.server_names:
                    server = OTHER
                elif server not in self.pq_capable_classical and len(self.pq_capable_classical) >= MAX_SERVER_NAMES:
                    server = OTHER
                self.pq_capable_classical[server] += 1

    def result(self):
        """The figures as plain data (for a module's result, a report, or a state file)."""
        tls_requests = sum(self.requests.values())
        connections = sum(self.connections.values())
        safe_requests = sum(n for (name, kind), n in self.requests.items() if _groups.is_quantum_safe(kind))
        safe_connections = sum(n for (name, kind), n in self.connections.items() if _groups.is_quantum_safe(kind))
        by_kind = dict((kind, 0) for kind in KINDS)
        for (name, kind), n in self.requests.items():
            by_kind[kind] = by_kind.get(kind, 0) + n

        def share(part, whole):
            return round(float(part) / whole, 4) if whole else None

        return {
            "lines": self.lines,
            "unparsed_lines": self.unparsed,
            "plain_http_requests": self.plain_requests,
            "tls_requests": tls_requests,
            "tls_connections": connections,
            "requests_by_group": dict((name, n) for (name, kind), n in sorted(self.requests.items())),
            "requests_by_kind": by_kind,
            "connections_by_group": dict((name, n) for (name, kind), n in sorted(self.connections.items())),
            "quantum_safe_requests": safe_requests,
            "quantum_safe_request_share": share(safe_requests, tls_requests),
            "quantum_safe_connections": safe_connections,
            "quantum_safe_connection_share": share(safe_connections, connections),
            "pq_capable_requests": self.pq_capable,
            "pq_capable_served_classical": sum(self.pq_capable_classical.values()),
            "pq_capable_served_classical_by_server_name": dict(sorted(self.pq_capable_classical.items())),
            "tls_versions": dict(sorted(self.protocols.items())),
            "tls_version_shares": dict((v, share(n, tls_requests)) for v, n in sorted(self.protocols.items())),
            "http_versions": dict(sorted(self.http_versions.items())),
            "resumed_requests": self.resumed,
            "resumption_share": share(self.resumed, tls_requests),
            "first_request": self.first,
            "last_request": self.last,
        }


def log_files(path, include_rotated=True):
    """The log and, oldest first before it, its rotations (path.1, path.2.gz, ... as logrotate names them)."""
    files = []
    if include_rotated:
        directory, base = os.path.split(path)
        rotated = []
        for entry in os.listdir(directory or "."):
            if entry.startswith(base + "."):
                match = ROTATED.match(entry[len(base):])
                if match:
                    rotated.append((int(match.group(1)), os.path.join(directory, entry)))
        files = [name for number, name in sorted(rotated, reverse=True)]
    if os.path.exists(path):
        files.append(path)
    return files


def open_log(path):
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, "r", encoding="utf-8", errors="replace")


def parse_since(value, now=None):
    """A time to count from: ISO 8601 (with or without offset; UTC when none), or a duration back from now such as
    90s, 15m, 24h, 7d. Raises ValueError otherwise."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    match = re.match(r"^(\d+)([smhd])$", value.strip())
    if match:
        seconds = int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
        return now - datetime.timedelta(seconds=seconds)
    when = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=datetime.timezone.utc)


def line_time(line):
    """The time= of a line as an aware datetime, or None."""
    if not line.startswith("time="):
        return None
    try:
        return datetime.datetime.fromisoformat(line[5:line.index(" ")])
    except ValueError:
        return None


def count(files, since=None, last_lines=None):
    """Counts of the lines of files (oldest first): all, those at or after since, or the last last_lines."""
    counts = Counts()
    tail = collections.deque(maxlen=last_lines) if last_lines else None
    for path in files:
        with open_log(path) as log:
            for line in log:
                if since is not None:
                    when = line_time(line)
                    if when is not None and when < since:
                        continue
                if tail is not None:
                    tail.append(line)
                else:
                    counts.add(line)
    for line in tail or ():
        counts.add(line)
    return counts


# The metrics read the log in blocks of this size, so their memory does not grow with what clients made nginx log;
# a longer line than this (nginx's own limits keep real ones far shorter) is skipped and counted as unparsed.
READ_BLOCK = 1 << 20


def read_new(path, state, handle, block=READ_BLOCK):
    """Pass each line written to path since state (inode and offset of the last run) to handle, following one
    rotation; returns the new state. A first run starts at the end of the log: counters start at zero then."""
    stat = os.stat(path)
    if state.get("inode") is None:
        return {"inode": stat.st_ino, "offset": stat.st_size}
    if state["inode"] != stat.st_ino:
        # Rotated since: finish the old file (path.1 keeps the inode after logrotate's rename), then the new one.
        previous = path + ".1"
        if os.path.exists(previous) and os.stat(previous).st_ino == state["inode"]:
            _read_from(previous, state["offset"], handle, block)
        state = {"inode": stat.st_ino, "offset": 0}
    if stat.st_size < state["offset"]:  # truncated in place (copytruncate)
        state = {"inode": stat.st_ino, "offset": 0}
    return {"inode": stat.st_ino, "offset": _read_from(path, state["offset"], handle, block)}


def _read_from(path, offset, handle, block=READ_BLOCK):
    """Pass each complete line from offset on to handle, a block at a time; returns the offset after the last one."""
    with open(path, "rb") as log:
        log.seek(offset)
        pending = b""
        skipping = False  # inside a line longer than a block, up to its newline
        while True:
            data = log.read(block)
            if not data:
                return offset
            if skipping:
                newline = data.find(b"\n")
                if newline < 0:
                    offset += len(data)
                    continue
                offset += newline + 1
                data = data[newline + 1:]
                skipping = False
            pending += data
            end = pending.rfind(b"\n") + 1
            if end == 0:
                if len(pending) >= block:  # one line longer than a block: skipped, counted as another format
                    offset += len(pending)
                    pending = b""
                    skipping = True
                    handle("")
                continue
            for line in pending[:end].decode("utf-8", "replace").splitlines():
                handle(line)
            offset += end
            pending = pending[end:]


def prometheus_text(counts, now):
    """The counters in Prometheus's text exposition format, for node_exporter's textfile collector."""
    return _prometheus.exposition([
        ("pqc_edge_tls_requests_total", "counter", "TLS requests by the key-exchange group they negotiated.",
         [((("group", name), ("kind", kind)), n) for (name, kind), n in sorted(counts.requests.items())]),
        ("pqc_edge_tls_connections_total", "counter", "TLS connections (their first request) by negotiated group.",
         [((("group", name), ("kind", kind)), n) for (name, kind), n in sorted(counts.connections.items())]),
        ("pqc_edge_tls_pq_capable_requests_total", "counter",
         "TLS requests whose client offered a hybrid or post-quantum group.", [((), counts.pq_capable)]),
        ("pqc_edge_tls_pq_capable_classical_requests_total", "counter",
         "TLS requests whose client offered a hybrid or post-quantum group but got a classical one, by server name.",
         [((("server_name", name),), n) for name, n in sorted(counts.pq_capable_classical.items())]),
        ("pqc_edge_tls_protocol_requests_total", "counter", "TLS requests by protocol version.",
         [((("protocol", name),), n) for name, n in sorted(counts.protocols.items())]),
        ("pqc_edge_tls_resumed_requests_total", "counter", "TLS requests on resumed sessions.", [((), counts.resumed)]),
        ("pqc_edge_plain_http_requests_total", "counter", "Requests without TLS (the HTTP redirects).",
         [((), counts.plain_requests)]),
        ("pqc_edge_access_log_unparsed_lines_total", "counter", "Access log lines in another format.",
         [((), counts.unparsed)]),
        ("pqc_edge_traffic_last_update_timestamp_seconds", "gauge", "When these counters were last brought up to date.",
         [((), "%.3f" % now)]),
    ])


def counts_to_state(counts):
    return {
        "lines": counts.lines, "unparsed": counts.unparsed, "plain_requests": counts.plain_requests,
        "resumed": counts.resumed, "pq_capable": counts.pq_capable,
        "requests": [[name, kind, n] for (name, kind), n in counts.requests.items()],
        "connections": [[name, kind, n] for (name, kind), n in counts.connections.items()],
        "protocols": dict(counts.protocols), "http_versions": dict(counts.http_versions),
        "pq_capable_classical": dict(counts.pq_capable_classical),
    }


def counts_from_state(data, server_names=None):
    counts = Counts(server_names)
    for name in ("lines", "unparsed", "plain_requests", "resumed", "pq_capable"):
        setattr(counts, name, int(data.get(name, 0)))
    counts.requests.update(dict(((name, kind), n) for name, kind, n in data.get("requests", [])))
    counts.connections.update(dict(((name, kind), n) for name, kind, n in data.get("connections", [])))
    counts.protocols.update(data.get("protocols", {}))
    counts.http_versions.update(data.get("http_versions", {}))
    counts.pq_capable_classical.update(data.get("pq_capable_classical", {}))
    return counts
