"""Counting what real clients negotiated from pqc.edge's access log: the parser, windows, rotations, the metrics."""

import datetime
import gzip
import os

import pytest

from ansible_collections.pqc.edge.plugins.module_utils import _traffic

T0 = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc)


def line(seconds=0, group="X25519MLKEM768", groups="X25519MLKEM768:X25519:prime256v1", tls="TLSv1.3", sni="a.example",
         reqs=1, reused=".", proto="HTTP/2.0"):
    """One line as nginx writes it with log_format pqc_edge."""
    when = (T0 + datetime.timedelta(seconds=seconds)).isoformat()
    fields = (when, sni, sni, proto, proto, tls, group, groups, reused, reqs)
    return ('time=%s addr=10.0.0.1 host=%s sni=%s request="GET /api/tls %s" status=200 bytes=312 rt=0.002 proto=%s '
            'tls=%s group=%s groups=%s reused=%s conn=7 reqs=%d\n' % fields)


def counts_of(*lines):
    counts = _traffic.Counts()
    for text in lines:
        counts.add(text)
    return counts.result()


def test_a_mix_of_clients_is_counted_by_group_kind_and_connection():
    result = counts_of(
        line(group="X25519MLKEM768"), line(group="X25519MLKEM768", reqs=2, reused="r"),
        # nginx 1.26 prints the hybrid as its code point; the registry names it.
        line(group="0x11ec", groups="0x11ec:X25519"),
        line(group="X25519", groups="X25519:prime256v1"),
        # Offered the hybrid, got x25519 (prefer, with an X25519 key share).
        line(group="X25519", groups="X25519:X25519MLKEM768", sni="b.example"),
        line(tls="-", group="-", groups="-", sni="-", proto="HTTP/1.1"),
    )
    assert result["requests_by_group"] == {"X25519MLKEM768": 3, "x25519": 2}
    assert result["requests_by_kind"] == {"hybrid": 3, "pq": 0, "classical": 2, "unknown": 0}
    assert (result["tls_requests"], result["tls_connections"], result["plain_http_requests"]) == (5, 4, 1)
    assert result["quantum_safe_request_share"] == 0.6 and result["quantum_safe_connection_share"] == 0.5
    assert (result["pq_capable_requests"], result["pq_capable_served_classical"]) == (4, 1)
    assert result["pq_capable_served_classical_by_server_name"] == {"b.example": 1}
    assert result["resumption_share"] == 0.2 and result["tls_version_shares"] == {"TLSv1.3": 1.0}


def test_lines_of_another_format_are_unparsed_never_a_failure():
    result = counts_of(line(), "garbage\n", "", '127.0.0.1 - - [27/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 1\n',
                       line()[:60] + "\n", "time=x " * 50 + "\n", line(group="X25519"))
    assert (result["lines"], result["unparsed_lines"], result["tls_requests"]) == (7, 5, 2)


def write(path, lines, compress=False):
    opener = gzip.open if compress else open
    with opener(str(path), "wt") as out:
        out.writelines(lines)


def test_rotated_logs_are_read_oldest_first_and_windows_apply_across_them(tmp_path):
    log = tmp_path / "pqc-edge-access.log"
    write(tmp_path / "pqc-edge-access.log.2.gz", [line(0, group="X25519"), "garbage\n"], compress=True)
    write(tmp_path / "pqc-edge-access.log.1", [line(10), line(20)])
    write(log, [line(30), line(40, group="X25519")])
    # Not a rotation of this log.
    write(tmp_path / "pqc-edge-access.log.old", [line(50)])
    files = _traffic.log_files(str(log))
    assert [os.path.basename(f) for f in files] == ["pqc-edge-access.log.2.gz", "pqc-edge-access.log.1", "pqc-edge-access.log"]
    everything = _traffic.count(files).result()
    assert (everything["tls_requests"], everything["unparsed_lines"], everything["quantum_safe_requests"]) == (5, 1, 3)
    since = _traffic.count(files, since=T0 + datetime.timedelta(seconds=20)).result()
    assert since["requests_by_group"] == {"X25519MLKEM768": 2, "x25519": 1}
    last = _traffic.count(files, last_lines=2).result()
    assert last["requests_by_group"] == {"X25519MLKEM768": 1, "x25519": 1} and last["first_request"].endswith("12:00:30+00:00")
    assert _traffic.count(_traffic.log_files(str(log), include_rotated=False)).result()["tls_requests"] == 2


@pytest.mark.parametrize("value, expected", [
    ("2026-11-27T11:00:00Z", T0 - datetime.timedelta(hours=1)),
    ("2026-11-27T13:00:00+01:00", T0),
    ("2026-11-27T12:00:00", T0),
    ("90s", T0 - datetime.timedelta(seconds=90)),
    ("7d", T0 - datetime.timedelta(days=7)),
])
def test_since_takes_a_time_or_a_duration(value, expected):
    assert _traffic.parse_since(value, now=T0) == expected


@pytest.mark.parametrize("value", ["yesterday", "15x", "", "-5m"])
def test_since_rejects_anything_else(value):
    with pytest.raises(ValueError):
        _traffic.parse_since(value, now=T0)


def read_new(path, state, block=_traffic.READ_BLOCK):
    lines = []
    state = _traffic.read_new(str(path), state, lines.append, block)
    return lines, state


def test_metrics_follow_the_log_across_a_rotation_and_keep_partial_lines_for_later(tmp_path):
    log = tmp_path / "access.log"
    write(log, [line(0)])
    lines, state = read_new(log, {})
    assert lines == [] and state["offset"] == log.stat().st_size  # counting starts now
    with open(str(log), "a") as out:
        out.write(line(1) + line(2, group="X25519")[:40])  # the second line is still being written
    lines, state = read_new(log, state)
    assert len(lines) == 1
    with open(str(log), "a") as out:
        out.write(line(2, group="X25519")[40:])
    os.rename(str(log), str(tmp_path / "access.log.1"))  # logrotate's rename; nginx reopens a new file
    write(log, [line(3)])
    lines, state = read_new(log, state)
    assert [l.split(" group=")[1].split(" ")[0] for l in lines] == ["X25519", "X25519MLKEM768"]


def test_the_log_is_read_a_block_at_a_time_and_an_overlong_line_is_skipped(tmp_path):
    """Blocks of 256 bytes: every line arrives whole however the blocks cut it, and a line longer than a block (what
    a client could make nginx log) is counted as another format instead of being held in memory."""
    log = tmp_path / "access.log"
    write(log, [])
    dummy, state = read_new(log, {})
    lines_in = [line(i, group="X25519" if i % 2 else "X25519MLKEM768") for i in range(20)]
    with open(str(log), "a") as out:
        out.write("".join(lines_in[:10]) + "x" * 1000 + "\n" + "".join(lines_in[10:]))
    lines, state = read_new(log, state, block=256)
    assert [l + "\n" for l in lines if l] == lines_in
    assert lines.count("") == 1 and state["offset"] == log.stat().st_size


def test_only_configured_server_names_get_a_label_of_their_own():
    """Clients choose the SNI and Host they send: names that are not configured are counted as other, so they
    cannot fill the metric with labels."""
    counts = _traffic.Counts(server_names=["www.example.org"])
    for sni in ["www.example.org"] + ["random-%d.example" % i for i in range(2000)]:
        counts.add(line(group="X25519", groups="X25519:X25519MLKEM768", sni=sni))
    assert dict(counts.pq_capable_classical) == {"www.example.org": 1, _traffic.OTHER: 2000}
    restored = _traffic.counts_from_state(_traffic.counts_to_state(counts), ["www.example.org"])
    restored.add(line(group="X25519", groups="X25519:X25519MLKEM768", sni="another.example"))
    assert restored.pq_capable_classical[_traffic.OTHER] == 2001


def test_prometheus_text_follows_the_naming_conventions():
    counts = _traffic.Counts()
    for text in (line(), line(group="X25519", groups="X25519:X25519MLKEM768", sni='we"ird')):
        counts.add(text)
    text = _traffic.prometheus_text(counts, 1764244800.0)
    assert 'pqc_edge_tls_requests_total{group="X25519MLKEM768",kind="hybrid"} 1' in text
    assert 'pqc_edge_tls_pq_capable_classical_requests_total{server_name="we\\"ird"} 1' in text
    assert "# TYPE pqc_edge_tls_requests_total counter" in text
    names = {l.split()[2] for l in text.splitlines() if l.startswith("# TYPE")}
    counters = {l.split()[2] for l in text.splitlines() if l.startswith("# TYPE") and l.endswith("counter")}
    assert all(n.startswith("pqc_edge_") for n in names) and all(n.endswith("_total") for n in counters)


def test_state_round_trips_the_counters():
    counts = _traffic.Counts()
    for text in (line(), line(group="X25519", groups="X25519:X25519MLKEM768"), "junk\n"):
        counts.add(text)
    again = _traffic.counts_from_state(_traffic.counts_to_state(counts))
    assert _traffic.prometheus_text(again, 0) == _traffic.prometheus_text(counts, 0)
