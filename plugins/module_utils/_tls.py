# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Just enough TLS 1.3 (RFC 8446) to ask a server which key-exchange group it picks.

A ClientHello is built byte by byte and only the server's first answer is read: a ServerHello,
a HelloRetryRequest or an alert. No handshake is ever finished, so no post-quantum (or any)
cryptography is needed on the probing side: a key share only has to be well formed.
"""

from __future__ import annotations

import os
import socket
import struct
import time

from ansible_collections.pqc.edge.plugins.module_utils import _groups

TLS13 = 0x0304
# SHA-256("HelloRetryRequest"): the random of a ServerHello that is a HelloRetryRequest (RFC 8446 4.1.3).
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

CIPHER_SUITES = {
    0x1301: "TLS_AES_128_GCM_SHA256",
    0x1302: "TLS_AES_256_GCM_SHA384",
    0x1303: "TLS_CHACHA20_POLY1305_SHA256",
    0x1304: "TLS_AES_128_CCM_SHA256",
    0x1305: "TLS_AES_128_CCM_8_SHA256",
}

# IANA TLS SignatureScheme values; ML-DSA from draft-ietf-tls-mldsa.
SIGNATURE_SCHEMES = {
    "ecdsa_secp256r1_sha256": 0x0403,
    "ecdsa_secp384r1_sha384": 0x0503,
    "ecdsa_secp521r1_sha512": 0x0603,
    "ed25519": 0x0807,
    "ed448": 0x0808,
    "rsa_pss_rsae_sha256": 0x0804,
    "rsa_pss_rsae_sha384": 0x0805,
    "rsa_pss_rsae_sha512": 0x0806,
    "rsa_pss_pss_sha256": 0x0809,
    "rsa_pss_pss_sha384": 0x080A,
    "rsa_pss_pss_sha512": 0x080B,
    "rsa_pkcs1_sha256": 0x0401,
    "rsa_pkcs1_sha384": 0x0501,
    "rsa_pkcs1_sha512": 0x0601,
    "mldsa44": 0x0904,
    "mldsa65": 0x0905,
    "mldsa87": 0x0906,
}
DEFAULT_SIGNATURE_SCHEMES = list(SIGNATURE_SCHEMES)

ALERTS = {
    0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
    40: "handshake_failure", 42: "bad_certificate", 47: "illegal_parameter", 50: "decode_error",
    51: "decrypt_error", 70: "protocol_version", 71: "insufficient_security", 80: "internal_error",
    86: "inappropriate_fallback", 90: "user_canceled", 109: "missing_extension",
    110: "unsupported_extension", 112: "unrecognized_name", 116: "certificate_required",
    120: "no_application_protocol",
}

# Curve generators are valid points, which is all a server checks of a key share it never uses.
_P256_G = bytes.fromhex(
    "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"
    "4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5"
)
_P384_G = bytes.fromhex(
    "04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7"
    "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f"
)


_P521_G = bytes.fromhex(
    "0400c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de"
    "3348b3c1856a429bf97e7e31c2e5bd66011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee"
    "72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650"
)


class ProbeError(Exception):
    """The server could not be asked: refused, timed out, or it does not speak TLS."""


def _mlkem_encapsulation_key(k):
    """A well-formed ML-KEM encapsulation key (FIPS 203): 256*k coefficients below q=3329, then rho."""
    out = bytearray()
    rand = os.urandom(256 * k * 2)
    for i in range(0, 256 * k, 2):
        a = int.from_bytes(rand[2 * i:2 * i + 2], "big") % 3329
        b = int.from_bytes(rand[2 * i + 2:2 * i + 4], "big") % 3329
        out += bytes((a & 0xFF, (a >> 8) | ((b & 0x0F) << 4), b >> 4))
    return bytes(out) + os.urandom(32)


def _x25519_share():
    return os.urandom(32)


# How to make a key share for each group the probe can put one on (draft-ietf-tls-ecdhe-mlkem fixes
# the order of the parts of each hybrid share).
_KEY_SHARES = {
    0x001D: _x25519_share,
    0x001E: lambda: os.urandom(56),
    0x0017: lambda: _P256_G,
    0x0018: lambda: _P384_G,
    0x0019: lambda: _P521_G,
    # RFC 7919: g = 2 generates the prime-order subgroup, so 2 itself is a valid public value.
    0x0100: lambda: (2).to_bytes(256, "big"),
    0x0101: lambda: (2).to_bytes(384, "big"),
    0x0102: lambda: (2).to_bytes(512, "big"),
    0x0103: lambda: (2).to_bytes(768, "big"),
    0x0104: lambda: (2).to_bytes(1024, "big"),
    0x0200: lambda: _mlkem_encapsulation_key(2),
    0x0201: lambda: _mlkem_encapsulation_key(3),
    0x0202: lambda: _mlkem_encapsulation_key(4),
    0x11EC: lambda: _mlkem_encapsulation_key(3) + _x25519_share(),
    0x11EB: lambda: _P256_G + _mlkem_encapsulation_key(3),
    0x11ED: lambda: _P384_G + _mlkem_encapsulation_key(4),
}


def can_share(codepoint):
    return codepoint in _KEY_SHARES


def vector(data, length_bytes):
    return len(data).to_bytes(length_bytes, "big") + data


def extension(ext_type, body):
    return struct.pack("!H", ext_type) + vector(body, 2)


def is_ip_address(name):
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, name)
            return True
        except (OSError, ValueError):
            pass
    return False


def sni(server_name):
    """The server name as the bytes of a server_name extension; ProbeError when no DNS name can be made of it."""
    try:
        name = server_name.encode("idna")
    except (UnicodeError, ValueError) as exc:
        raise ProbeError("server name %r cannot be sent as SNI: %s" % (server_name[:80], exc))
    if len(name) > 253:
        raise ProbeError("server name %r cannot be sent as SNI: longer than 253 characters" % server_name[:80])
    return name


def server_name_extension(server_name):
    """The server_name extension (RFC 6066) for a host name; nothing for an address or no name."""
    if not server_name or is_ip_address(server_name):
        return b""
    return extension(0x0000, vector(b"\x00" + vector(sni(server_name), 2), 2))


def client_hello_message(groups, key_share_groups=(), server_name=None, signature_schemes=None, grease=None,
                         legacy_session_id=True, cipher_suites=None, extra_extensions=b""):
    """Build a TLS 1.3 ClientHello handshake message (no record header).

    groups and key_share_groups are code points; grease, when given, is a GREASE value put first in
    supported_groups (as browsers do), which a server must ignore. QUIC wants an empty legacy session id and
    adds its own extensions (extra_extensions, already encoded).
    """
    signature_schemes = signature_schemes or [SIGNATURE_SCHEMES[n] for n in DEFAULT_SIGNATURE_SCHEMES]
    offered = ([grease] if grease is not None else []) + list(groups)
    extensions = server_name_extension(server_name)
    extensions += extension(0x000A, vector(b"".join(struct.pack("!H", g) for g in offered), 2))
    extensions += extension(0x000D, vector(b"".join(struct.pack("!H", s) for s in signature_schemes), 2))
    extensions += extension(0x002B, vector(struct.pack("!H", TLS13), 1))
    extensions += extension(0x002D, vector(b"\x01", 1))  # psk_dhe_ke
    shares = b"".join(struct.pack("!H", g) + vector(_KEY_SHARES[g](), 2) for g in key_share_groups)
    extensions += extension(0x0033, vector(shares, 2))
    extensions += extra_extensions
    body = (
        struct.pack("!H", 0x0303)
        + os.urandom(32)
        # A legacy session id for middlebox compatibility over TCP; none over QUIC (RFC 9001 8.4).
        + vector(os.urandom(32) if legacy_session_id else b"", 1)
        + vector(b"".join(struct.pack("!H", c) for c in (cipher_suites or CIPHER_SUITES)), 2)
        + b"\x01\x00"  # compression methods: null
        + vector(extensions, 2)
    )
    return b"\x01" + vector(body, 3)


def client_hello(groups, key_share_groups=(), server_name=None, signature_schemes=None, grease=None, cipher_suites=None):
    """A TLS 1.3 ClientHello in a TLS record, as sent over TCP."""
    handshake = client_hello_message(groups, key_share_groups, server_name, signature_schemes, grease,
                                     cipher_suites=cipher_suites)
    return b"\x16\x03\x01" + vector(handshake, 2)


# ECDHE with AES-GCM or ChaCha20, for ECDSA and RSA certificates: what a TLS 1.2 client of today offers.
TLS12_CIPHER_SUITES = (0xC02B, 0xC02F, 0xC02C, 0xC030, 0xCCA9, 0xCCA8)
TLS12_GROUPS = (0x001D, 0x0017, 0x0018)


def client_hello_tls12(server_name=None):
    """A TLS 1.2-only ClientHello in a TLS record: no supported_versions, so a server answers TLS 1.2 or refuses."""
    extensions = server_name_extension(server_name)
    extensions += extension(0x000A, vector(b"".join(struct.pack("!H", g) for g in TLS12_GROUPS), 2))
    extensions += extension(0x000B, vector(b"\x00", 1))  # ec_point_formats: uncompressed
    schemes = [SIGNATURE_SCHEMES[n] for n in DEFAULT_SIGNATURE_SCHEMES if not n.startswith("mldsa")]
    extensions += extension(0x000D, vector(b"".join(struct.pack("!H", s) for s in schemes), 2))
    extensions += extension(0xFF01, b"\x00")  # renegotiation_info, empty (RFC 5746)
    body = (
        struct.pack("!H", 0x0303)
        + os.urandom(32)
        + vector(b"", 1)
        + vector(b"".join(struct.pack("!H", c) for c in TLS12_CIPHER_SUITES), 2)
        + b"\x01\x00"
        + vector(extensions, 2)
    )
    return b"\x16\x03\x01" + vector(b"\x01" + vector(body, 3), 2)


class Reader(object):
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def uint(self, n):
        return int.from_bytes(self.take(n), "big")

    def vector(self, length_bytes):
        return self.take(self.uint(length_bytes))

    def done(self):
        return self.pos >= len(self.data)


def parse_server_hello(body):
    """Parse a ServerHello handshake body into a dict; raises ValueError when malformed."""
    r = Reader(body)
    legacy_version = r.uint(2)
    random = r.take(32)
    r.vector(1)  # session id echo
    cipher = r.uint(2)
    r.uint(1)  # compression
    result = {
        "hello_retry_request": random == HRR_RANDOM,
        "cipher_suite_id": cipher,
        "version_id": legacy_version,
        "group_id": None,
    }
    extensions = Reader(r.vector(2)) if not r.done() else Reader(b"")
    while not extensions.done():
        ext_type = extensions.uint(2)
        ext = Reader(extensions.vector(2))
        if ext_type == 0x002B:
            result["version_id"] = ext.uint(2)
        elif ext_type == 0x0033:
            # A HelloRetryRequest names the selected group; a ServerHello carries its key share.
            result["group_id"] = ext.uint(2)
    if result["version_id"] == TLS13 and result["group_id"] is None:
        raise ValueError("a TLS 1.3 %s without a key_share" % ("HelloRetryRequest" if result["hello_retry_request"] else "ServerHello"))
    return result


def parse_response(data):
    """Interpret the first bytes a server sent back: ServerHello, HelloRetryRequest or alert.

    Returns a dict with kind ('server_hello' or 'alert') and the parsed fields. Raises ValueError
    for anything that is not a TLS answer, or is cut short.
    """
    if len(data) < 5:
        raise ValueError("truncated")
    content_type = data[0]
    if content_type not in (0x15, 0x16) or data[1] != 0x03:
        raise ValueError("not TLS")
    if content_type == 0x15:
        record = Reader(data[5:5 + int.from_bytes(data[3:5], "big")])
        level, description = record.uint(1), record.uint(1)
        return {"kind": "alert", "alert_level": level, "alert": ALERTS.get(description, "alert_%d" % description)}
    # Reassemble the first handshake message, which may span several records.
    payload = b""
    pos = 0
    while True:
        if pos + 5 > len(data):
            raise ValueError("truncated")
        if data[pos] != 0x16:
            raise ValueError("unexpected record type %d" % data[pos])
        length = int.from_bytes(data[pos + 3:pos + 5], "big")
        if pos + 5 + length > len(data):
            raise ValueError("truncated")
        payload += data[pos + 5:pos + 5 + length]
        pos += 5 + length
        if payload and payload[0] != 0x02:
            break
        if len(payload) >= 4 and len(payload) >= 4 + int.from_bytes(payload[1:4], "big"):
            break
    if payload[0] != 0x02:
        raise ValueError("first handshake message is type %d, not ServerHello" % payload[0])
    body = payload[4:4 + int.from_bytes(payload[1:4], "big")]
    result = parse_server_hello(body)
    result["kind"] = "server_hello"
    return result


# The most a server may send before its first handshake message is complete; a ServerHello is a few hundred bytes
# (about 1.2 KB with a hybrid key share), so anything near this is not an honest answer.
MAX_ANSWER = 1 << 16


class AnswerBuffer(object):
    """The server's first bytes, read in whatever pieces they arrive, with a linear check of when they are enough.

    complete() is true once parse_response can decide: a whole alert record, the whole first handshake message, or
    bytes that are not TLS records at all. Each record header is looked at once, however small the pieces.
    """

    def __init__(self):
        self.data = bytearray()
        self.record = 0  # where the next record header starts
        self.handshake = 0  # bytes of handshake payload in the complete records so far
        self.handshake_head = bytearray()  # the first 4 of them: type and length of the first message
        self.done = False

    def feed(self, chunk):
        self.data += chunk
        while not self.done and self.record + 5 <= len(self.data):
            header = self.data[self.record:self.record + 5]
            if header[0] not in (0x15, 0x16) or header[1] != 0x03:
                self.done = True  # not TLS, or a record type parse_response refuses: it names which
                break
            length = int.from_bytes(header[3:5], "big")
            if self.record + 5 + length > len(self.data):
                break
            if header[0] == 0x15:
                self.done = True
                break
            body = self.data[self.record + 5:self.record + 5 + length]
            self.handshake_head += body[:4 - len(self.handshake_head)]
            if self.handshake_head[:1] not in (b"", b"\x02"):
                self.done = True  # not a ServerHello: parse_response says what it is
                break
            self.handshake += length
            self.record += 5 + length
            if len(self.handshake_head) == 4 and self.handshake >= 4 + int.from_bytes(self.handshake_head[1:4], "big"):
                self.done = True
        return self.done

    def complete(self):
        return self.done

    def __len__(self):
        return len(self.data)


# Between two pieces of a ClientHello sent in segments: long enough for each to reach the server as a read of its own.
SEGMENT_PAUSE = 0.02


def exchange(host, port, hello, timeout, segment_size=None):
    """Send hello, read until a full first answer or the server closes, all within timeout seconds from the start.
    With segment_size, hello goes out in pieces of that many bytes, each its own TCP segment (Nagle off, a pause
    between them), as a large post-quantum ClientHello may cross the network: servers that expect the whole
    ClientHello in one read fail on it.

    Returns (bytes, seconds). A server that keeps the connection open without completing its answer (a byte every
    few seconds, or an endless stream) is a ProbeError once the deadline passes or MAX_ANSWER bytes came.
    """
    started = time.monotonic()
    deadline = started + timeout
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.timeout:
        raise ProbeError("connecting to %s port %s timed out after %s s" % (host, port, timeout))
    except ConnectionRefusedError:
        raise ProbeError("connection to %s port %s was refused: nothing listens there" % (host, port))
    except OSError as exc:
        raise ProbeError("cannot connect to %s port %s: %s" % (host, port, exc.strerror or exc))
    answer = AnswerBuffer()
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        if segment_size:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for start in range(0, len(hello), segment_size):
                if start:
                    time.sleep(SEGMENT_PAUSE)
                sock.sendall(hello[start:start + segment_size])
        else:
            sock.sendall(hello)
        while not answer.complete():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout()
            if len(answer) >= MAX_ANSWER:
                raise ProbeError("%s port %s sent %d bytes without completing its first TLS message" % (host, port, len(answer)))
            sock.settimeout(remaining)
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer.feed(chunk)
    except socket.timeout:
        if not len(answer):
            raise ProbeError("%s port %s accepted the connection but did not answer within %s s" % (host, port, timeout))
        raise ProbeError("%s port %s did not complete its TLS answer within %s s (%d bytes came)"
                         % (host, port, timeout, len(answer)))
    except OSError as exc:
        if not len(answer):
            raise ProbeError("%s port %s closed the connection without a TLS answer (%s)" % (host, port, exc))
    finally:
        sock.close()
    return bytes(answer.data), time.monotonic() - started


def offer(host, port, groups, key_share_groups=(), server_name=None, signature_schemes=None, timeout=5.0, grease=None,
          segment_size=None, cipher_suites=None):
    """Offer groups (code points) and report what the server answered (segment_size: see exchange).

    The result has negotiated_group (code point or None), hello_retry_request, alert, tls_version,
    cipher_suite and handshake_ms.
    """
    hello = client_hello(groups, key_share_groups, server_name, signature_schemes, grease, cipher_suites)
    return answer_of(host, port, hello, timeout, segment_size)


def offer_tls12(host, port, server_name=None, timeout=5.0):
    """Offer TLS 1.2 only; the result is offer's, with tls_version TLSv1.2 when the server accepted it."""
    return answer_of(host, port, client_hello_tls12(server_name), timeout)


def answer_of(host, port, hello, timeout, segment_size=None):
    """Send a ClientHello and read the server's first answer into offer's result."""
    data, seconds = exchange(host, port, hello, timeout, segment_size)
    if not data:
        raise ProbeError("%s port %s closed the connection without a TLS answer" % (host, port))
    try:
        answer = parse_response(data)
    except ValueError as exc:
        if str(exc) == "not TLS":
            raise ProbeError("%s port %s does not speak TLS (it answered %r)" % (host, port, data[:16]))
        raise ProbeError("%s port %s sent a TLS answer that cannot be read: %s" % (host, port, exc))
    return offer_result(answer, seconds)


def offer_result(answer, seconds):
    """The probe's result for a parsed answer (parse_response's dict), over TCP or QUIC."""
    result = {
        "negotiated_group": None,
        "hello_retry_request": False,
        "alert": None,
        "tls_version": None,
        "cipher_suite": None,
        "handshake_ms": round(seconds * 1000.0, 3),
    }
    if answer["kind"] == "alert":
        result["alert"] = answer["alert"]
        return result
    result["hello_retry_request"] = answer["hello_retry_request"]
    result["negotiated_group"] = answer["group_id"]
    result["tls_version"] = {0x0304: "TLSv1.3", 0x0303: "TLSv1.2"}.get(answer["version_id"], "0x%04x" % answer["version_id"])
    result["cipher_suite"] = CIPHER_SUITES.get(answer["cipher_suite_id"], "0x%04x" % answer["cipher_suite_id"])
    return result


def group_name(codepoint):
    group = _groups.by_codepoint(codepoint) if codepoint is not None else None
    if group is not None:
        return group.name
    return None if codepoint is None else "0x%04x" % codepoint


def http_alt_svc(host, port, server_name=None, timeout=5.0):
    """The Alt-Svc header of the server's answer to `HEAD /` over HTTPS/1.1, or None where it sends none: how a browser
    learns that the server also speaks HTTP/3. The handshake is Python's ssl with this machine's OpenSSL and its
    default groups, and checks no certificate: only the header is read. Raises ProbeError where no answer comes, and
    once `timeout` seconds have passed in all: a server that drips its answer a byte at a time cannot hold the probe."""
    import ssl  # only here: the probes themselves build their ClientHellos by hand

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    name = server_name if server_name and not is_ip_address(server_name) else None
    authority = server_name or host
    if ":" in authority:
        authority = "[%s]" % authority
    request = "HEAD / HTTP/1.1\r\nHost: %s\r\nUser-Agent: pqc.edge tls_probe\r\nConnection: close\r\n\r\n" % authority
    head = b""
    deadline = time.monotonic() + timeout
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            with context.wrap_socket(raw, server_hostname=name) as tls:
                tls.sendall(request.encode("ascii"))
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise socket.timeout("headers not complete")
                    tls.settimeout(left)
                    data = tls.recv(4096)
                    if not data:
                        break
                    head += data
    except socket.timeout:
        raise ProbeError("%s port %s gave no complete HTTPS answer within %s s" % (host, port, timeout))
    except (OSError, ssl.SSLError) as exc:
        raise ProbeError("%s port %s gave no HTTPS answer to read Alt-Svc from: %s" % (host, port, exc))
    lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    if not lines[0].startswith("HTTP/"):
        raise ProbeError("%s port %s answered HEAD / with no HTTP status line" % (host, port))
    values = [line.split(":", 1)[1].strip() for line in lines[1:] if line.lower().startswith("alt-svc:")]
    return ", ".join(values) if values else None
