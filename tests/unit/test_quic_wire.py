"""QUIC Initial packet protection against RFC 9001 Appendix A, and the probe's QUIC client against a local UDP peer."""

import socket
import threading
import time

import pytest

from ansible_collections.pqc.edge.plugins.module_utils import _quic
from ansible_collections.pqc.edge.plugins.module_utils import _tls

# RFC 9001 Appendix A: the client's first Destination Connection ID and what follows from it.
DCID = bytes.fromhex("8394c8f03e515708")
CLIENT = {
    "secret": "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea",
    "key": "1f369613dd76d5467730efcbe3b1a22d",
    "iv": "fa044b2f42a3fd3b46fb255c",
    "hp": "9f50449e04a0e810283a1e9933adedd2",
}
SERVER = {
    "secret": "3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b",
    "key": "cf3a5331653c364c88f0f379b6067e37",
    "iv": "0ac1493ca1905853b0bba03e",
    "hp": "c206b8d9b9f0f37644430b490eeaa314",
}
# A.2: the protected client Initial (packet number 2, 1200 bytes).
CLIENT_INITIAL = bytes.fromhex("".join("""
c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11
d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c
8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212
30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5
457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208
4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec
4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3
485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db
059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c
7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8
9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556
be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74
68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a
c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00
f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632
291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964
25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd
14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff
ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198
e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd
c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73
203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f
cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e
fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade
a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047
90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2
162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4
40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0
6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e
8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0
be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400
54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab
760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9
f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4
056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064
7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241
e221af44860018ab0856972e194cd934
""".split()))
# A.2: its unprotected header (packet number 2 on 4 bytes).
CLIENT_HEADER = bytes.fromhex("c300000001088394c8f03e5157080000449e00000002")
# A.3: the server's Initial (SCID f067a5502a4262b5, packet number 1) carrying an ACK and the ServerHello.
SERVER_INITIAL = bytes.fromhex("".join("""
cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
2158407dd074ee
""".split()))
# A.4: a Retry with the token "token" from SCID f067a5502a4262b5.
RETRY = bytes.fromhex("ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba")


@pytest.fixture(autouse=True, params=["cryptography", "python"])
def backend(request, monkeypatch):
    """Every test twice: with the cryptography package (controllers) and with plain Python AES (hosts without it)."""
    monkeypatch.setattr(_quic, "BACKEND", request.param)
    return request.param


@pytest.mark.parametrize("keys, expected", [(0, CLIENT), (1, SERVER)], ids=["client", "server"])
def test_initial_keys_match_rfc9001_a1(keys, expected):
    derived = _quic.initial_keys(DCID)[keys]
    assert {name: getattr(derived, name).hex() for name in expected} == expected


def test_client_initial_of_rfc9001_a2_decrypts_and_protects_back_byte_for_byte():
    client_keys = _quic.initial_keys(DCID)[0]
    packet = _quic.split_datagram(CLIENT_INITIAL)[0]
    assert (packet["type"], packet["destination"], packet["end"]) == (_quic.INITIAL, DCID, 1200)
    packet_number, payload = _quic.unprotect(client_keys, CLIENT_INITIAL, packet["pn_offset"], packet["end"])
    assert packet_number == 2
    crypto, close = _quic.read_frames(payload)
    hello = _quic.contiguous(crypto)
    assert close is None and hello[0] == 0x01  # a ClientHello
    assert _quic.protect(client_keys, CLIENT_HEADER, payload, 2, 4) == CLIENT_INITIAL


def test_server_initial_of_rfc9001_a3_yields_its_server_hello():
    server_keys = _quic.initial_keys(DCID)[1]
    packet = _quic.split_datagram(SERVER_INITIAL)[0]
    assert packet["source"] == bytes.fromhex("f067a5502a4262b5")
    packet_number, payload = _quic.unprotect(server_keys, SERVER_INITIAL, packet["pn_offset"], packet["end"])
    assert packet_number == 1
    crypto, close = _quic.read_frames(payload)
    hello = _tls.parse_server_hello(_quic.first_handshake_message(_quic.contiguous(crypto)))
    assert (hello["group_id"], hello["cipher_suite_id"], hello["version_id"]) == (0x001D, 0x1301, 0x0304)
    assert hello["hello_retry_request"] is False


def test_a_server_initial_does_not_open_with_the_client_keys():
    client_keys = _quic.initial_keys(DCID)[0]
    packet = _quic.split_datagram(SERVER_INITIAL)[0]
    with pytest.raises(_quic.PacketError):
        _quic.unprotect(client_keys, SERVER_INITIAL, packet["pn_offset"], packet["end"])


def test_retry_of_rfc9001_a4_carries_its_token_and_a_valid_integrity_tag():
    packet = _quic.split_datagram(RETRY)[0]
    assert (packet["type"], packet["token"], packet["source"]) == (_quic.RETRY, b"token", bytes.fromhex("f067a5502a4262b5"))
    assert _quic.retry_integrity_ok(RETRY, packet, DCID)
    assert not _quic.retry_integrity_ok(RETRY, packet, bytes(8))


@pytest.mark.parametrize("value, encoded", [
    (37, "25"), (15293, "7bbd"), (494878333, "9d7f3e7d"), (151288809941952652, "c2197c5eff14e88c"),
])
def test_varints_of_rfc9000_a1(value, encoded):
    assert _quic.encode_varint(value).hex() == encoded
    assert _quic.read_varint(bytes.fromhex(encoded), 0) == (value, len(encoded) // 2)


def test_our_initial_packets_fill_a_datagram_and_open_with_the_server_side_keys():
    client_keys = _quic.initial_keys(DCID)[0]
    frames = _quic.crypto_frame(0, b"\x01" + b"x" * 700)
    datagram = _quic.initial_packet(client_keys, DCID, b"\x01" * 8, b"", 7, frames)
    assert len(datagram) == _quic.MIN_DATAGRAM
    packet = _quic.split_datagram(datagram)[0]
    packet_number, payload = _quic.unprotect(client_keys, datagram, packet["pn_offset"], packet["end"])
    crypto, close = _quic.read_frames(payload)
    assert packet_number == 7 and crypto == [(0, b"\x01" + b"x" * 700)]


def test_plain_python_aes_matches_fips197_and_gcm_test_case_4():
    from ansible_collections.pqc.edge.plugins.module_utils import _aes
    # FIPS 197 Appendix C.1 (AES-128).
    cipher = _aes.AES128(bytes(range(16)))
    assert cipher.encrypt_block(bytes.fromhex("00112233445566778899aabbccddeeff")).hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"
    # The GCM specification's test case 4 (AES-128, 60-byte plaintext, 20 bytes of AAD).
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308")
    nonce = bytes.fromhex("cafebabefacedbaddecaf888")
    plaintext = bytes.fromhex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    sealed = _aes.AESGCM(key).encrypt(nonce, plaintext, aad)
    assert sealed[-16:].hex() == "5bc94fbc3221a5db94fae95ae7121a47"
    assert sealed[:-16].hex() == (
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091")
    assert _aes.AESGCM(key).decrypt(nonce, sealed, aad) == plaintext
    with pytest.raises(ValueError):
        _aes.AESGCM(key).decrypt(nonce, sealed[:-1] + b"\x00", aad)


def test_crypto_stream_reassembles_out_of_order_and_overlapping_chunks():
    assert _quic.contiguous([(5, b"fghij"), (0, b"abcdefg"), (20, b"late")]) == b"abcdefghij"


class FakeServer(object):
    """A UDP peer on loopback that answers the probe's Initial packets as a QUIC server would."""

    def __init__(self, respond):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.respond = respond
        self.received = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        self.sock.settimeout(5)
        try:
            while True:
                datagram, peer = self.sock.recvfrom(65535)
                self.received.append(datagram)
                for answer in self.respond(self, datagram):
                    self.sock.sendto(answer, peer)
        except OSError:
            pass

    def wait_for(self, count, timeout=2.0):
        """The datagrams received, once there are count of them or timeout seconds have passed."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.received

    def close(self):
        self.sock.close()


def server_answer(client_datagram, frames):
    """The server's Initial for a client Initial: keys from the client's DCID, addressed to its SCID."""
    packet = _quic.split_datagram(client_datagram)[0]
    server_keys = _quic.initial_keys(packet["destination"])[1]
    return _quic.initial_packet(server_keys, packet["source"], b"\x02" * 8, b"", 0, frames, pad_to=0)


def server_hello(group):
    body = (b"\x03\x03" + b"\x11" * 32 + b"\x00" + b"\x13\x01" + b"\x00"
            + _tls.vector(_tls.extension(0x002B, b"\x03\x04") + _tls.extension(0x0033, group.to_bytes(2, "big")
                                                                               + _tls.vector(b"k" * 32, 2)), 2))
    return b"\x02" + _tls.vector(body, 3)


def test_probe_reads_a_server_hello_split_over_two_datagrams():
    def respond(server, datagram):
        packet = _quic.split_datagram(datagram)[0]
        if len(server.received) > 1 or packet["type"] != _quic.INITIAL:
            return []
        message = server_hello(0x11EC)
        # The second half first, in a datagram of its own, as reordering on the path would deliver it.
        return [server_answer(datagram, _quic.crypto_frame(40, message[40:])),
                server_answer(datagram, b"\x02\x00\x00\x00\x00" + _quic.crypto_frame(0, message[:40]))]

    server = FakeServer(respond)
    try:
        result = _quic.offer("127.0.0.1", server.port, [0x11EC, 0x001D], [0x11EC], timeout=3)
        received = server.wait_for(3)
    finally:
        server.close()
    assert (result["negotiated_group"], result["tls_version"], result["alert"]) == (0x11EC, "TLSv1.3", None)
    # The hybrid key share makes the ClientHello longer than one datagram: it went in two, each 1200 bytes.
    assert [len(d) for d in received] == [1200, 1200, 1200]
    # Then the probe closed the connection: an Initial with CONNECTION_CLOSE, with the server's SCID as DCID.
    close = _quic.split_datagram(received[2])[0]
    assert close["destination"] == b"\x02" * 8
    client_keys = _quic.initial_keys(_quic.split_datagram(received[0])[0]["destination"])[0]
    dummy, payload = _quic.unprotect(client_keys, received[2], close["pn_offset"], close["end"])
    assert payload.startswith(_quic.connection_close_frame())


def test_probe_reports_a_tls_alert_carried_by_connection_close():
    def respond(server, datagram):
        return [server_answer(datagram, _quic.connection_close_frame(0x128))] if len(server.received) == 1 else []

    server = FakeServer(respond)
    try:
        result = _quic.offer("127.0.0.1", server.port, [0x0019], [0x0019], timeout=3)
    finally:
        server.close()
    assert (result["negotiated_group"], result["alert"]) == (None, "handshake_failure")


def test_probe_names_a_transport_error():
    def respond(server, datagram):
        return [server_answer(datagram, _quic.connection_close_frame(0x0A))] if len(server.received) == 1 else []

    server = FakeServer(respond)
    try:
        with pytest.raises(_tls.ProbeError, match="closed the QUIC connection: PROTOCOL_VIOLATION"):
            _quic.offer("127.0.0.1", server.port, [0x001D], [0x001D], timeout=3)
    finally:
        server.close()


def test_silent_udp_port_fails_within_the_timeout_with_a_sentence():
    server = FakeServer(lambda server, datagram: [])
    started = time.monotonic()
    try:
        with pytest.raises(_tls.ProbeError, match=r"no QUIC answer from 127\.0\.0\.1 UDP port \d+ within 0\.5 s"):
            _quic.offer("127.0.0.1", server.port, [0x001D], [0x001D], timeout=0.5)
    finally:
        server.close()
    assert time.monotonic() - started < 1.5


def test_closed_udp_port_is_named():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(_tls.ProbeError, match="nothing listens on 127.0.0.1 UDP port %d" % port):
        _quic.offer("127.0.0.1", port, [0x001D], [0x001D], timeout=2)
