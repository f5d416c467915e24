# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""AES-128 block encryption (FIPS 197) and AES-GCM (NIST SP 800-38D) in plain Python.

The QUIC probe protects a handful of packets per connection with them. It uses the `cryptography` package where
that is installed (every Ansible controller); managed hosts often lack it (Debian installs it with no base
package), and the probe runs there when it probes from the host. Speed is of no concern at a few packets; the
probe does not keep secrets (its keys derive from a connection ID sent in the clear).
"""

from __future__ import annotations


def _xtime(a):
    return ((a << 1) ^ 0x1B) & 0xFF if a & 0x80 else a << 1


def _multiply(a, b):
    result = 0
    while b:
        if b & 1:
            result ^= a
        a = _xtime(a)
        b >>= 1
    return result


def _sbox():
    box = []
    for x in range(256):
        # The multiplicative inverse in GF(2^8) (0 for 0), then the affine transformation.
        inverse = next((y for y in range(1, 256) if _multiply(x, y) == 1), 0) if x else 0
        s = inverse
        for shift in range(1, 5):
            s ^= ((inverse << shift) | (inverse >> (8 - shift))) & 0xFF
        box.append(s ^ 0x63)
    return box


SBOX = _sbox()
_RCON = [0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x1B, 0x36]


class AES128(object):
    """The AES-128 forward cipher: all that CTR, GCM and QUIC header protection use."""

    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("AES-128 needs a 16-byte key")
        words = [list(key[i:i + 4]) for i in range(0, 16, 4)]
        for i in range(4, 44):
            word = list(words[i - 1])
            if i % 4 == 0:
                word = [SBOX[b] for b in word[1:] + word[:1]]
                word[0] ^= _RCON[i // 4 - 1]
            words.append([a ^ b for a, b in zip(words[i - 4], word)])
        self.round_keys = [sum(words[r * 4:r * 4 + 4], []) for r in range(11)]

    def encrypt_block(self, block):
        state = [b ^ k for b, k in zip(block, self.round_keys[0])]
        for round_number in range(1, 11):
            state = [SBOX[b] for b in state]
            # ShiftRows: the state is column-major, row r of column c at index 4c + r.
            state = [state[(4 * (i // 4) + 5 * (i % 4)) % 16] for i in range(16)]
            if round_number < 10:
                mixed = []
                for c in range(4):
                    a0, a1, a2, a3 = state[4 * c:4 * c + 4]
                    mixed += [
                        _xtime(a0) ^ _xtime(a1) ^ a1 ^ a2 ^ a3,
                        a0 ^ _xtime(a1) ^ _xtime(a2) ^ a2 ^ a3,
                        a0 ^ a1 ^ _xtime(a2) ^ _xtime(a3) ^ a3,
                        _xtime(a0) ^ a0 ^ a1 ^ a2 ^ _xtime(a3),
                    ]
                state = mixed
            state = [b ^ k for b, k in zip(state, self.round_keys[round_number])]
        return bytes(state)


def _ghash_multiply(x, y):
    """Multiplication in GCM's GF(2^128), bits in GCM's reflected order."""
    z = 0
    for i in range(127, -1, -1):
        if (x >> i) & 1:
            z ^= y
        y = (y >> 1) ^ (0xE1 << 120) if y & 1 else y >> 1
    return z


class AESGCM(object):
    """AES-128-GCM with a 12-byte nonce and a 16-byte tag, as cryptography's AESGCM is called."""

    def __init__(self, key):
        self.cipher = AES128(key)
        self.h = int.from_bytes(self.cipher.encrypt_block(bytes(16)), "big")

    def _ghash(self, aad, ciphertext):
        y = 0
        for data in (aad, ciphertext):
            for i in range(0, len(data), 16):
                y = _ghash_multiply(y ^ int.from_bytes(data[i:i + 16].ljust(16, b"\x00"), "big"), self.h)
        lengths = ((8 * len(aad)) << 64) | (8 * len(ciphertext))
        return _ghash_multiply(y ^ lengths, self.h)

    def _ctr(self, nonce, data):
        out = bytearray()
        for index, i in enumerate(range(0, len(data), 16)):
            stream = self.cipher.encrypt_block(nonce + (index + 2).to_bytes(4, "big"))
            out += bytes(a ^ b for a, b in zip(data[i:i + 16], stream))
        return bytes(out)

    def _tag(self, nonce, aad, ciphertext):
        mask = int.from_bytes(self.cipher.encrypt_block(nonce + b"\x00\x00\x00\x01"), "big")
        return (self._ghash(aad, ciphertext) ^ mask).to_bytes(16, "big")

    def encrypt(self, nonce, data, aad):
        ciphertext = self._ctr(nonce, data)
        return ciphertext + self._tag(nonce, aad or b"", ciphertext)

    def decrypt(self, nonce, data, aad):
        """Raises ValueError when the tag does not match."""
        ciphertext, tag = data[:-16], data[-16:]
        if len(data) < 16 or self._tag(nonce, aad or b"", ciphertext) != tag:
            raise ValueError("authentication tag mismatch")
        return self._ctr(nonce, ciphertext)
