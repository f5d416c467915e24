"""The ClientHello encoder and the ServerHello / HelloRetryRequest / alert parser, on recorded bytes."""

import pathlib
import socket
import struct
import threading

import pytest

from ansible_collections.pqc.edge.plugins.module_utils import _tls

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "server_answers.txt"
ANSWERS = dict(
    line.split() for line in FIXTURES.read_text().splitlines() if line and not line.startswith("#")
)


def answer(name):
    return bytes.fromhex(ANSWERS[name])


def test_hello_retry_request_names_the_selected_group():
    parsed = _tls.parse_response(answer("hrr_x25519mlkem768"))
    assert parsed["kind"] == "server_hello"
    assert parsed["hello_retry_request"] is True
    assert parsed["group_id"] == 0x11EC
    assert parsed["version_id"] == 0x0304


def test_server_hello_with_hybrid_key_share():
    parsed = _tls.parse_response(answer("server_hello_x25519mlkem768"))
    assert parsed["hello_retry_request"] is False
    assert parsed["group_id"] == 0x11EC
    assert _tls.CIPHER_SUITES[parsed["cipher_suite_id"]].startswith("TLS_")


def test_server_hello_with_x25519():
    parsed = _tls.parse_response(answer("server_hello_x25519"))
    assert (parsed["hello_retry_request"], parsed["group_id"]) == (False, 0x001D)


def test_alert():
    parsed = _tls.parse_response(answer("alert_handshake_failure"))
    assert parsed == {"kind": "alert", "alert_level": 2, "alert": "handshake_failure"}


def test_http_is_not_tls():
    with pytest.raises(ValueError, match="not TLS"):
        _tls.parse_response(answer("http_answer"))


@pytest.mark.parametrize("name", ["hrr_x25519mlkem768", "server_hello_x25519mlkem768", "alert_handshake_failure"])
@pytest.mark.parametrize("cut", [0, 3, 5, 6, -1])
def test_truncated_answers_are_reported_as_truncated(name, cut):
    data = answer(name)
    with pytest.raises(ValueError, match="truncated"):
        _tls.parse_response(data[:cut])


@pytest.mark.parametrize("garbage", [b"\x16\x03\x03\x00\x04\x0b\x00\x00\x00", b"\x17\x03\x03\x00\x01\x00", b"\xff" * 16])
def test_garbage_is_rejected(garbage):
    with pytest.raises(ValueError):
        _tls.parse_response(garbage)


def test_server_hello_split_over_two_records():
    data = answer("hrr_x25519mlkem768")
    body = data[5:]
    split = b"\x16\x03\x03" + struct.pack("!H", 10) + body[:10] + b"\x16\x03\x03" + struct.pack("!H", len(body) - 10) + body[10:]
    assert _tls.parse_response(split)["group_id"] == 0x11EC


def extensions_of(hello):
    """Decode the extensions of a ClientHello record built by client_hello."""
    body = hello[9:]
    pos = 2 + 32
    pos += 1 + body[pos]
    pos += 2 + int.from_bytes(body[pos:pos + 2], "big")
    pos += 1 + body[pos]
    end = pos + 2 + int.from_bytes(body[pos:pos + 2], "big")
    pos += 2
    found = {}
    while pos < end:
        ext_type, length = struct.unpack("!HH", body[pos:pos + 4])
        found[ext_type] = body[pos + 4:pos + 4 + length]
        pos += 4 + length
    return found


def test_client_hello_offers_groups_in_order_with_grease_first():
    hello = _tls.client_hello([0x11EC, 0x001D], [], "edge.example.org", grease=0x2A2A)
    assert hello[:3] == b"\x16\x03\x01" and hello[5] == 0x01
    assert int.from_bytes(hello[3:5], "big") == len(hello) - 5
    ext = extensions_of(hello)
    assert ext[0x000A] == b"\x00\x06\x2a\x2a\x11\xec\x00\x1d"
    assert ext[0x002B] == b"\x02\x03\x04"
    assert ext[0x0033] == b"\x00\x00"  # no key share: the server must name its pick in a HelloRetryRequest
    assert b"edge.example.org" in ext[0x0000]


def test_client_hello_sends_no_sni_for_an_address():
    assert 0x0000 not in extensions_of(_tls.client_hello([0x001D], [0x001D], "127.0.0.1"))


@pytest.mark.parametrize("group, size", [
    (0x001D, 32), (0x0017, 65), (0x0018, 97), (0x0201, 1184), (0x11EC, 1216), (0x11EB, 1249), (0x11ED, 1665),
])
def test_key_share_sizes(group, size):
    shares = extensions_of(_tls.client_hello([group], [group]))[0x0033]
    assert int.from_bytes(shares[4:6], "big") == size
    assert int.from_bytes(shares[2:4], "big") == group


def test_mlkem_key_is_well_formed():
    key = _tls._mlkem_encapsulation_key(3)
    assert len(key) == 1184
    coefficients = []
    for i in range(0, 1152, 3):
        a, b, c = key[i:i + 3]
        coefficients += [a | ((b & 0x0F) << 8), (b >> 4) | (c << 4)]
    assert max(coefficients) < 3329


def serve_once(payload):
    """A one-connection server on loopback that reads a ClientHello and answers with payload."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def run():
        conn, dummy = listener.accept()
        conn.recv(65536)
        if payload is not None:
            conn.sendall(payload)
        conn.close()
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def test_offer_reports_a_hello_retry_request():
    port = serve_once(answer("hrr_x25519mlkem768"))
    result = _tls.offer("127.0.0.1", port, [0x11EC, 0x001D], timeout=2)
    assert result["negotiated_group"] == 0x11EC and result["hello_retry_request"] is True
    assert result["tls_version"] == "TLSv1.3"


def test_offer_reports_an_alert_as_a_result():
    port = serve_once(answer("alert_handshake_failure"))
    result = _tls.offer("127.0.0.1", port, [0x0100], timeout=2)
    assert result["negotiated_group"] is None and result["alert"] == "handshake_failure"


@pytest.mark.parametrize("payload, message", [
    (None, "closed the connection without a TLS answer"),
    (b"HTTP/1.1 400 Bad Request\r\n\r\n", "does not speak TLS"),
    (b"\x16\x03\x03\x00\x50\x02\x00", "cannot be read: truncated"),
])
def test_offer_failures_are_sentences(payload, message):
    port = serve_once(payload)
    with pytest.raises(_tls.ProbeError, match=message):
        _tls.offer("127.0.0.1", port, [0x001D], [0x001D], timeout=2)


def test_refused_connection():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(_tls.ProbeError, match="refused"):
        _tls.offer("127.0.0.1", port, [0x001D], timeout=2)


def test_silent_server_times_out():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        with pytest.raises(_tls.ProbeError, match="did not answer within 0.3 s"):
            _tls.offer("127.0.0.1", listener.getsockname()[1], [0x001D], timeout=0.3)
    finally:
        listener.close()
