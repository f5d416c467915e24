"""tls_probe against servers that lie, stall or flood: each probe ends within its timeout + 1 s as a failed answer
that names the problem, and the healthy servers of the same module run keep their answers."""

import pathlib
import socket
import sys
import threading
import time

import pytest

from ansible_collections.pqc.edge.plugins.module_utils import _quic
from ansible_collections.pqc.edge.plugins.module_utils import _tls
from ansible_collections.pqc.edge.plugins.modules import tls_probe

from module_runner import run_module
from test_quic_wire import FakeServer, server_answer

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "support"))
import hostile_servers  # noqa: E402  pylint: disable=wrong-import-position

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "server_answers.txt"
ANSWERS = dict(line.split() for line in FIXTURES.read_text().splitlines() if line and not line.startswith("#"))
TIMEOUT = 3.0


@pytest.fixture(scope="module")
def hostile():
    return dict((name, hostile_servers.start(name)) for name in hostile_servers.BEHAVIOURS)


def healthy_tcp_server():
    """Answers every ClientHello with a recorded ServerHello for X25519MLKEM768."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve():
        while True:
            conn, dummy = listener.accept()
            conn.recv(65536)
            conn.sendall(bytes.fromhex(ANSWERS["server_hello_x25519mlkem768"]))
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


@pytest.mark.parametrize("behaviour, message", [
    ("drip", r"did not complete its TLS answer within 3\.0 s \(\d+ bytes came\)"),
    ("stream", r"sent \d+ bytes without completing its first TLS message"),
    ("garbage", r"cannot be read: first handshake message is type 238, not ServerHello"),
    ("truncated", r"cannot be read: truncated"),
])
def test_each_hostile_tcp_server_is_a_failed_answer_within_the_timeout(hostile, behaviour, message):
    started = time.monotonic()
    with pytest.raises(_tls.ProbeError, match=message):
        _tls.offer("127.0.0.1", hostile[behaviour], [0x11EC, 0x001D], [0x11EC], timeout=TIMEOUT)
    assert time.monotonic() - started < TIMEOUT + 1


def test_a_byte_at_a_time_is_read_in_linear_time():
    """A ServerHello of 60 000 bytes in records of one byte each: each record header is looked at once."""
    answer = _tls.AnswerBuffer()
    body = bytes.fromhex("0300ea60")[:0] + b"\x02" + (60000 - 4).to_bytes(3, "big") + bytes(60000 - 4)
    started = time.monotonic()
    for byte in body:
        answer.feed(b"\x16\x03\x03\x00\x01" + bytes([byte]))
    assert answer.complete() and time.monotonic() - started < 2


def test_a_tls13_server_hello_without_a_key_share_cannot_be_read():
    body = b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\x13\x01" + b"\x00" + _tls.vector(_tls.extension(0x002B, b"\x03\x04"), 2)
    with pytest.raises(ValueError, match="TLS 1.3 ServerHello without a key_share"):
        _tls.parse_server_hello(body)


@pytest.mark.parametrize("name", ["a" * 64 + ".example.test", "bad..example.test", "x" * 260])
def test_a_server_name_that_cannot_be_sni_is_a_probe_error(name):
    with pytest.raises(_tls.ProbeError, match="cannot be sent as SNI"):
        _tls.client_hello([0x001D], [0x001D], name)


def quic_truncated_server_hello(datagram):
    """A properly protected Initial whose CRYPTO frame carries a 6-byte ServerHello."""
    return [server_answer(datagram, _quic.crypto_frame(0, b"\x02\x00\x00\x06\x03\x03\x00\x00\x00\x00"))]


def quic_garbage(datagram):
    return [b"\xc0" + b"\xff" * 40, b"\x00" * 1200, b"not quic at all"]


def quic_flood(datagram):
    """CRYPTO data far beyond any ServerHello: 70 KB in frames that never make offset 0 complete."""
    return [server_answer(datagram, _quic.crypto_frame(offset, b"\x00" * 1000)) for offset in range(1000, 71000, 1000)]


@pytest.mark.parametrize("respond, message", [
    (quic_truncated_server_hello, r"sent a QUIC Initial that cannot be read: truncated"),
    (quic_garbage, r"no QUIC answer from 127\.0\.0\.1 UDP port \d+ within 3\.0 s .*datagram\(s\) came without a complete"),
    (quic_flood, r"cannot be read: more than 65536 bytes of CRYPTO data"),
])
def test_each_hostile_quic_server_is_a_failed_answer_within_the_timeout(respond, message):
    server = FakeServer(lambda server, datagram: respond(datagram))
    started = time.monotonic()
    try:
        with pytest.raises(_tls.ProbeError, match=message):
            _quic.offer("127.0.0.1", server.port, [0x11EC, 0x001D], [0x001D], timeout=TIMEOUT)
    finally:
        server.close()
    assert time.monotonic() - started < TIMEOUT + 1


def test_crypto_reassembly_is_linear_and_bounded():
    """64 KiB in one-byte chunks in reverse order, the worst case of the old reassembly, in well under a second."""
    stream = _quic.CryptoStream()
    started = time.monotonic()
    for offset in range(_quic.MAX_CRYPTO - 1, -1, -1):
        stream.add(offset, b"\x07")
    assert len(stream.contiguous()) == _quic.MAX_CRYPTO
    assert time.monotonic() - started < 1
    with pytest.raises(_quic.CryptoLimitError):
        stream.add(_quic.MAX_CRYPTO, b"\x07")


def test_one_module_run_keeps_the_healthy_answers_beside_every_hostile_server(hostile):
    healthy = healthy_tcp_server()
    quic = FakeServer(lambda server, datagram: quic_truncated_server_hello(datagram))
    entries = ([{"host": "127.0.0.1", "port": healthy}]
               + [{"host": "127.0.0.1", "port": port} for port in hostile.values()]
               + [{"host": "127.0.0.1", "port": quic.port, "transport": "quic"},
                  {"host": "127.0.0.1", "port": healthy, "server_name": "a" * 64 + ".example.test"},
                  {"host": "127.0.0.1", "port": healthy}])
    started = time.monotonic()
    try:
        result = run_module(tls_probe.main, {"probes": entries, "timeout": TIMEOUT,
                                             "groups": ["X25519MLKEM768", "X25519"], "key_shares": ["X25519"]})
    finally:
        quic.close()
    answers = result["probes"]
    assert [a["failed"] for a in answers] == [False] + [True] * (len(hostile) + 2) + [False]
    assert answers[0]["negotiated_group"] == answers[-1]["negotiated_group"] == "X25519MLKEM768"
    for answer in answers[1:-1]:
        assert "port %d" % answer["port"] in answer["msg"] or "SNI" in answer["msg"]
    # Only the drip server uses up its timeout; the others are refused as soon as they show what they are.
    assert time.monotonic() - started < 2 * TIMEOUT + 2
