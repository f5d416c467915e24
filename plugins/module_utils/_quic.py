# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Just enough QUIC version 1 (RFC 9000, RFC 9001) to ask a server which key-exchange group it picks.

The ClientHello of _tls travels in CRYPTO frames of Initial packets, protected with the Initial keys that
both sides derive from the client's first Destination Connection ID. Only the server's Initial packets are
read: they carry its ServerHello (or HelloRetryRequest), or a CONNECTION_CLOSE with a TLS alert. The
handshake is never finished: the probe closes the connection as soon as it has its answer.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import struct
import time

from ansible_collections.pqc.edge.plugins.module_utils import _aes
from ansible_collections.pqc.edge.plugins.module_utils import _tls

try:
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    HAS_CRYPTOGRAPHY = True
except ImportError:
    HAS_CRYPTOGRAPHY = False
    InvalidTag = ValueError

# The cryptography package where it is installed (the controller); plain Python (_aes) on hosts without it.
BACKEND = "cryptography" if HAS_CRYPTOGRAPHY else "python"

VERSION_1 = 0x00000001
# RFC 9001 5.2: the salt of QUIC version 1's Initial secrets.
INITIAL_SALT_V1 = bytes.fromhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a")
# RFC 9001 5.8: the key and nonce of the Retry integrity tag for version 1.
RETRY_KEY_V1 = bytes.fromhex("be0c690b9f66575a1d766b54e368c84e")
RETRY_NONCE_V1 = bytes.fromhex("461599d35d632bf2239825bb")
INITIAL, ZERO_RTT, HANDSHAKE, RETRY = 0, 1, 2, 3
# A client pads every datagram carrying an Initial packet to at least this size (RFC 9000 14.1).
MIN_DATAGRAM = 1200
# CRYPTO bytes per Initial packet, so that each packet fits a 1200-byte datagram with its headers.
CRYPTO_CHUNK = 1100
# RFC 9000 20.1 transport error codes, for a CONNECTION_CLOSE that is not a TLS alert.
TRANSPORT_ERRORS = {
    0x00: "NO_ERROR", 0x01: "INTERNAL_ERROR", 0x02: "CONNECTION_REFUSED", 0x03: "FLOW_CONTROL_ERROR",
    0x04: "STREAM_LIMIT_ERROR", 0x05: "STREAM_STATE_ERROR", 0x06: "FINAL_SIZE_ERROR", 0x07: "FRAME_ENCODING_ERROR",
    0x08: "TRANSPORT_PARAMETER_ERROR", 0x09: "CONNECTION_ID_LIMIT_ERROR", 0x0A: "PROTOCOL_VIOLATION",
    0x0B: "INVALID_TOKEN", 0x0C: "APPLICATION_ERROR", 0x0D: "CRYPTO_BUFFER_EXCEEDED", 0x0E: "KEY_UPDATE_ERROR",
    0x0F: "AEAD_LIMIT_REACHED", 0x10: "NO_VIABLE_PATH",
}


class PacketError(ValueError):
    """A datagram that is not a QUIC packet this probe can read."""


class CryptoLimitError(PacketError):
    """A server that sends more CRYPTO data than any ServerHello needs."""


def encode_varint(value):
    """RFC 9000 16: the shortest of the 1, 2, 4 or 8 byte encodings."""
    if value < 1 << 6:
        return struct.pack("!B", value)
    if value < 1 << 14:
        return struct.pack("!H", value | 0x4000)
    if value < 1 << 30:
        return struct.pack("!I", value | 0x80000000)
    return struct.pack("!Q", value | 0xC000000000000000)


def read_varint(data, pos):
    """Returns (value, position after it); raises PacketError when data is cut short."""
    if pos >= len(data):
        raise PacketError("truncated")
    length = 1 << (data[pos] >> 6)
    if pos + length > len(data):
        raise PacketError("truncated")
    value = data[pos] & 0x3F
    for byte in data[pos + 1:pos + length]:
        value = (value << 8) | byte
    return value, pos + length


def hkdf_extract(salt, ikm):
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def hkdf_expand_label(secret, label, length):
    """TLS 1.3's HKDF-Expand-Label (RFC 8446 7.1) with SHA-256 and an empty context (RFC 5869 HKDF-Expand)."""
    info = struct.pack("!H", length) + _tls.vector(b"tls13 " + label, 1) + _tls.vector(b"", 1)
    output = block = b""
    counter = 1
    while len(output) < length:
        block = hmac.new(secret, block + info + bytes([counter]), hashlib.sha256).digest()
        output += block
        counter += 1
    return output[:length]


def aead_encrypt(key, nonce, data, aad):
    if BACKEND == "cryptography":
        return AESGCM(key).encrypt(nonce, data, aad)
    return _aes.AESGCM(key).encrypt(nonce, data, aad)


def aead_decrypt(key, nonce, data, aad):
    """Raises PacketError when the packet was not protected with this key."""
    try:
        if BACKEND == "cryptography":
            return AESGCM(key).decrypt(nonce, data, aad)
        return _aes.AESGCM(key).decrypt(nonce, data, aad)
    except (ValueError, InvalidTag):
        raise PacketError("packet does not decrypt with the Initial keys")


def aes_block(key, block):
    """AES-128 of one block, as header protection uses it (RFC 9001 5.4.3)."""
    if BACKEND == "cryptography":
        encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
        return encryptor.update(block) + encryptor.finalize()
    return _aes.AES128(key).encrypt_block(block)


class Keys(object):
    """AEAD key, IV and header protection key of one direction (AES-128-GCM, as Initial packets use)."""

    def __init__(self, secret):
        self.secret = secret
        self.key = hkdf_expand_label(secret, b"quic key", 16)
        self.iv = hkdf_expand_label(secret, b"quic iv", 12)
        self.hp = hkdf_expand_label(secret, b"quic hp", 16)

    def nonce(self, packet_number):
        return bytes(a ^ b for a, b in zip(self.iv, packet_number.to_bytes(12, "big")))

    def mask(self, sample):
        return aes_block(self.hp, sample)


def initial_keys(destination_connection_id):
    """(client keys, server keys) of the Initial packets for the client's first Destination Connection ID."""
    initial_secret = hkdf_extract(INITIAL_SALT_V1, destination_connection_id)
    return (Keys(hkdf_expand_label(initial_secret, b"client in", 32)),
            Keys(hkdf_expand_label(initial_secret, b"server in", 32)))


def protect(keys, header, payload, packet_number, pn_length):
    """Encrypt payload and mask the header, whose last pn_length bytes are the packet number (RFC 9001 5.3, 5.4)."""
    ciphertext = aead_encrypt(keys.key, keys.nonce(packet_number), payload, header)
    pn_offset = len(header) - pn_length
    # The sample starts 4 bytes after the start of the packet number, whatever its length.
    sample = (header[pn_offset:] + ciphertext)[4:20]
    mask = keys.mask(sample)
    masked = bytearray(header)
    masked[0] ^= mask[0] & (0x0F if masked[0] & 0x80 else 0x1F)
    for i in range(pn_length):
        masked[pn_offset + i] ^= mask[1 + i]
    return bytes(masked) + ciphertext


def unprotect(keys, packet, pn_offset, end):
    """Remove header protection and decrypt the long-header packet packet[:end]; returns (packet number, payload)."""
    if pn_offset + 20 > end:
        raise PacketError("packet too short to sample")
    mask = keys.mask(packet[pn_offset + 4:pn_offset + 20])
    first = packet[0] ^ (mask[0] & 0x0F)
    pn_length = (first & 0x03) + 1
    pn_bytes = bytes(b ^ m for b, m in zip(packet[pn_offset:pn_offset + pn_length], mask[1:1 + pn_length]))
    header = bytes([first]) + packet[1:pn_offset] + pn_bytes
    packet_number = int.from_bytes(pn_bytes, "big")
    payload = aead_decrypt(keys.key, keys.nonce(packet_number), packet[pn_offset + pn_length:end], header)
    return packet_number, payload


def long_header(packet_type, destination, source, token, length, packet_number, pn_length):
    """The header of an Initial packet up to and including its packet number, for a payload of length bytes."""
    return (
        struct.pack("!BI", 0xC0 | (packet_type << 4) | (pn_length - 1), VERSION_1)
        + _tls.vector(destination, 1) + _tls.vector(source, 1)
        + encode_varint(len(token)) + token
        # Length counts the packet number, the payload and the 16-byte AEAD tag; always 2 bytes here.
        + struct.pack("!H", 0x4000 | (pn_length + length + 16))
        + packet_number.to_bytes(pn_length, "big")
    )


def initial_packet(keys, destination, source, token, packet_number, frames, pad_to=MIN_DATAGRAM):
    """A protected Initial packet carrying frames, padded (PADDING frames) to fill pad_to bytes."""
    pn_length = 2
    overhead = len(long_header(INITIAL, destination, source, token, 0, packet_number, pn_length)) + 16
    payload = frames + b"\x00" * max(0, pad_to - overhead - len(frames))
    header = long_header(INITIAL, destination, source, token, len(payload), packet_number, pn_length)
    return protect(keys, header, payload, packet_number, pn_length)


def crypto_frame(offset, data):
    return b"\x06" + encode_varint(offset) + encode_varint(len(data)) + data


def connection_close_frame(error_code=0):
    """A transport CONNECTION_CLOSE (type 0x1c), the kind an Initial packet may carry."""
    return b"\x1c" + encode_varint(error_code) + encode_varint(0) + encode_varint(0)


def transport_parameters(source_connection_id):
    """The client's quic_transport_parameters (RFC 9000 18.2): the ones a server needs to answer at all."""
    def parameter(parameter_id, value):
        return encode_varint(parameter_id) + encode_varint(len(value)) + value
    return (
        parameter(0x01, encode_varint(10000))  # max_idle_timeout, ms
        + parameter(0x04, encode_varint(1 << 20))  # initial_max_data
        + parameter(0x08, encode_varint(100))  # initial_max_streams_bidi
        + parameter(0x0F, source_connection_id)  # initial_source_connection_id
    )


def split_datagram(datagram):
    """The long-header packets coalesced in a datagram: dicts of type, connection ids, token and where each lies.

    A short-header packet ends the list (it runs to the end of the datagram and needs keys this probe never has).
    """
    packets = []
    pos = 0
    while pos < len(datagram):
        start = pos
        first = datagram[pos]
        if not first & 0x80:
            break
        if pos + 7 > len(datagram):
            raise PacketError("truncated")
        version = struct.unpack("!I", datagram[pos + 1:pos + 5])[0]
        pos += 5
        destination = datagram[pos + 1:pos + 1 + datagram[pos]]
        pos += 1 + datagram[pos]
        if pos >= len(datagram):
            raise PacketError("truncated")
        source = datagram[pos + 1:pos + 1 + datagram[pos]]
        pos += 1 + datagram[pos]
        packet = {"start": start, "version": version, "destination": destination, "source": source}
        if version == 0:
            packet["type"] = "version_negotiation"
            packet["versions"] = [struct.unpack("!I", datagram[i:i + 4])[0] for i in range(pos, len(datagram) - 3, 4)]
            packets.append(packet)
            break
        packet_type = (first >> 4) & 0x03
        packet["type"] = packet_type
        if packet_type == RETRY:
            packet["token"] = datagram[pos:-16]
            packet["end"] = len(datagram)
            packets.append(packet)
            break
        token = b""
        if packet_type == INITIAL:
            token_length, pos = read_varint(datagram, pos)
            token = datagram[pos:pos + token_length]
            pos += token_length
        length, pos = read_varint(datagram, pos)
        if pos + length > len(datagram):
            raise PacketError("truncated")
        packet.update(token=token, pn_offset=pos, end=pos + length)
        packets.append(packet)
        pos += length
    return packets


def retry_integrity_ok(datagram, packet, original_destination):
    """RFC 9001 5.8: the Retry's tag is an AEAD tag over the original DCID and the Retry packet."""
    pseudo = _tls.vector(original_destination, 1) + datagram[packet["start"]:-16]
    tag = aead_encrypt(RETRY_KEY_V1, RETRY_NONCE_V1, b"", pseudo)
    return hmac.compare_digest(tag, datagram[-16:])


def read_frames(payload):
    """The CRYPTO data ((offset, bytes) in order) and the CONNECTION_CLOSE (error code, reason) of an Initial
    packet's payload."""
    crypto = []
    close = None
    pos = 0
    while pos < len(payload):
        frame_type, pos = read_varint(payload, pos)
        if frame_type in (0x00, 0x01):  # PADDING, PING
            continue
        if frame_type in (0x02, 0x03):  # ACK: largest, delay, range count, first range, ranges, [ECN counts]
            fields = []
            while len(fields) < 4:
                value, pos = read_varint(payload, pos)
                fields.append(value)
            for dummy in range(2 * fields[2] + (3 if frame_type == 0x03 else 0)):
                value, pos = read_varint(payload, pos)
        elif frame_type == 0x06:
            offset, pos = read_varint(payload, pos)
            length, pos = read_varint(payload, pos)
            if pos + length > len(payload):
                raise PacketError("truncated")
            crypto.append((offset, payload[pos:pos + length]))
            pos += length
        elif frame_type in (0x1C, 0x1D):
            error_code, pos = read_varint(payload, pos)
            if frame_type == 0x1C:
                dummy, pos = read_varint(payload, pos)
            reason_length, pos = read_varint(payload, pos)
            close = (error_code, payload[pos:pos + reason_length].decode("utf-8", "replace"))
            pos += reason_length
        else:
            raise PacketError("unexpected frame type 0x%x in an Initial packet" % frame_type)
    return crypto, close


# The most CRYPTO data a server may send in Initial packets before its ServerHello is complete (RFC 9000 7.5 lets an
# endpoint refuse to buffer more than it chooses; a ServerHello is about 1.2 KB even with a hybrid key share).
MAX_CRYPTO = 1 << 16


class CryptoStream(object):
    """The server's Initial CRYPTO stream, from chunks by offset in any order, overlaps allowed.

    Bytes are written into one buffer with a mark of which are filled, so the work is linear in the bytes
    received however they are cut or ordered; data beyond MAX_CRYPTO raises PacketError.
    """

    def __init__(self):
        self.clear()

    def clear(self):
        self.buffer = bytearray()
        self.filled = bytearray()
        self.length = 0  # bytes from offset 0 up to the first gap

    def add(self, offset, data):
        end = offset + len(data)
        if end > MAX_CRYPTO:
            raise CryptoLimitError("more than %d bytes of CRYPTO data without a complete ServerHello" % MAX_CRYPTO)
        if end > len(self.buffer):
            self.buffer.extend(bytes(end - len(self.buffer)))
            self.filled.extend(bytes(end - len(self.filled)))
        self.buffer[offset:end] = data
        self.filled[offset:end] = b"\x01" * len(data)
        while self.length < len(self.filled) and self.filled[self.length]:
            self.length += 1

    def contiguous(self):
        return bytes(self.buffer[:self.length])


def contiguous(chunks):
    """The bytes of a CRYPTO stream ((offset, bytes) pairs, overlaps allowed) from offset 0 up to the first gap."""
    stream = CryptoStream()
    for offset, chunk in chunks:
        stream.add(offset, chunk)
    return stream.contiguous()


def first_handshake_message(stream):
    """The ServerHello (or HelloRetryRequest) at the start of the server's Initial CRYPTO stream, or None."""
    if len(stream) < 4 or len(stream) < 4 + int.from_bytes(stream[1:4], "big"):
        return None
    if stream[0] != 0x02:
        raise PacketError("first handshake message is type %d, not ServerHello" % stream[0])
    return stream[4:4 + int.from_bytes(stream[1:4], "big")]


class Connection(object):
    """One client connection attempt: sends the ClientHello, reads the server's first answer, then closes."""

    def __init__(self, host, port, hello, source, timeout):
        """source: the Source Connection ID, which the ClientHello's transport parameters already name."""
        self.host, self.port, self.hello, self.timeout = host, port, hello, timeout
        self.original_destination = os.urandom(8)
        self.destination = self.original_destination
        self.source = source
        self.token = b""
        self.client_keys, self.server_keys = initial_keys(self.destination)
        self.packet_number = 0
        self.sock = None

    def where(self):
        return "%s UDP port %s" % (self.host, self.port)

    def send_hello(self):
        for offset in range(0, len(self.hello), CRYPTO_CHUNK):
            frames = crypto_frame(offset, self.hello[offset:offset + CRYPTO_CHUNK])
            self.send(frames)

    def send(self, frames):
        packet = initial_packet(self.client_keys, self.destination, self.source, self.token, self.packet_number, frames)
        self.packet_number += 1
        self.sock.send(packet)

    def receive(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        return self.sock.recv(65535)

    def run(self):
        """Returns parse_response's kind of dict: a ServerHello (HRR included) or an alert."""
        try:
            address = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_DGRAM)[0]
        except socket.gaierror as exc:
            raise _tls.ProbeError("cannot resolve %s: %s" % (self.host, exc))
        self.sock = socket.socket(address[0], socket.SOCK_DGRAM)
        deadline = time.monotonic() + self.timeout
        try:
            self.sock.connect(address[4])
            self.send_hello()
            stream = CryptoStream()
            unreadable = 0
            while True:
                try:
                    datagram = self.receive(deadline)
                except socket.timeout:
                    raise _tls.ProbeError("no QUIC answer from %s within %s s (is HTTP/3 enabled, and UDP %s open?)%s"
                                          % (self.where(), self.timeout, self.port,
                                             "; %d datagram(s) came without a complete ServerHello" % unreadable
                                             if unreadable else ""))
                answer = self.read(datagram, stream)
                if answer is None:
                    unreadable += 1
                else:
                    return answer
        except ConnectionRefusedError:
            # The ICMP port unreachable of one datagram fails the next send or receive on the connected socket.
            raise _tls.ProbeError("nothing listens on %s: the host answered port unreachable" % self.where())
        except OSError as exc:
            raise _tls.ProbeError("cannot reach %s: %s" % (self.where(), exc.strerror or exc))
        finally:
            self.close()

    def read(self, datagram, stream):
        """The answer once the server's Initial packets hold one; None for a datagram that brings none."""
        try:
            packets = split_datagram(datagram)
        except PacketError:
            return None  # not QUIC, or cut short: wait for the next datagram
        for packet in packets:
            if packet["type"] == "version_negotiation":
                raise _tls.ProbeError("%s does not speak QUIC version 1 (it offers %s)" % (
                    self.where(), ", ".join("0x%08x" % v for v in packet["versions"][:8]) or "no version"))
            if packet["type"] == RETRY:
                self.retry(datagram, packet, stream)
                return None
            if packet["type"] != INITIAL or packet["destination"] != self.source:
                continue  # Handshake packets need keys this probe never derives
            try:
                dummy, payload = unprotect(self.server_keys, datagram, packet["pn_offset"], packet["end"])
                crypto, close = read_frames(payload)
            except PacketError:
                continue
            self.destination = packet["source"]
            try:
                for offset, data in crypto:
                    stream.add(offset, data)
                if close is not None:
                    return self.closed(close)
                message = first_handshake_message(stream.contiguous())
                if message is not None:
                    answer = _tls.parse_server_hello(message)
                    answer["kind"] = "server_hello"
                    return answer
            except ValueError as exc:  # PacketError included
                raise _tls.ProbeError("%s sent a QUIC Initial that cannot be read: %s" % (self.where(), exc))
        return None

    def retry(self, datagram, packet, stream):
        """Address validation (RFC 9000 8.1): send the ClientHello again with the server's token and new DCID."""
        if self.token or not retry_integrity_ok(datagram, packet, self.original_destination):
            return
        self.token = packet["token"]
        self.destination = packet["source"]
        self.client_keys, self.server_keys = initial_keys(self.destination)
        stream.clear()
        self.send_hello()

    def closed(self, close):
        error_code, reason = close
        if 0x100 <= error_code <= 0x1FF:
            description = error_code - 0x100
            return {"kind": "alert", "alert_level": 2, "alert": _tls.ALERTS.get(description, "alert_%d" % description)}
        raise _tls.ProbeError("%s closed the QUIC connection: %s%s" % (
            self.where(), TRANSPORT_ERRORS.get(error_code, "error 0x%x" % error_code),
            " (%s)" % reason if reason else ""))

    def close(self):
        if self.sock is None:
            return
        try:
            # Tell the server at once instead of leaving it a half-open connection until its idle timeout.
            if self.packet_number:
                self.send(connection_close_frame())
        except OSError:
            pass
        self.sock.close()
        self.sock = None


def offer(host, port, groups, key_share_groups=(), server_name=None, signature_schemes=None, timeout=5.0,
          alpn=(b"h3",)):
    """Offer groups (code points) over QUIC and report what the server answered, as _tls.offer does over TCP."""
    # initial_source_connection_id must equal the Source Connection ID of the client's Initial packets.
    source = os.urandom(8)
    extra = (
        _tls.extension(0x0010, _tls.vector(b"".join(_tls.vector(p, 1) for p in alpn), 2))
        + _tls.extension(0x0039, transport_parameters(source))
    )
    # RFC 9001 5.3: QUIC does not use TLS_AES_128_CCM_8_SHA256.
    suites = [s for s in _tls.CIPHER_SUITES if s != 0x1305]
    hello = _tls.client_hello_message(groups, key_share_groups, server_name, signature_schemes,
                                      legacy_session_id=False, cipher_suites=suites, extra_extensions=extra)
    connection = Connection(host, port, hello, source, timeout)
    started = time.monotonic()
    answer = connection.run()
    return _tls.offer_result(answer, time.monotonic() - started)
