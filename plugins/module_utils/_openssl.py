# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Small helpers around the openssl command line, shared by the collection's modules.

Every call goes through AnsibleModule.run_command with an argument list, never a shell string.
"""

from __future__ import annotations

import re

# `openssl pkey -text` prints the key type on its first line: "ML-DSA-44 Public-Key:",
# "Public-Key: (2048 bit)" for RSA, "Public-Key: (256 bit)" plus "NIST CURVE: P-256" for EC.
_MLDSA_RE = re.compile(r"^(ML-DSA-\d+) Public-Key", re.M)
_BITS_RE = re.compile(r"^Public-Key: \((\d+) bit", re.M)
_CURVE_RE = re.compile(r"^NIST CURVE: (\S+)", re.M)
_RSA_RE = re.compile(r"^Modulus:", re.M)


class OpenSSLError(Exception):
    """An openssl invocation failed; the message holds the command and its stderr."""


class OpenSSL(object):
    def __init__(self, module, path=None):
        self.module = module
        self.binary = path or module.get_bin_path("openssl", required=True)

    def run(self, args, data=None, check=True, binary_data=False):
        cmd = [self.binary] + list(args)
        rc, out, err = self.module.run_command(cmd, data=data, binary_data=binary_data)
        if check and rc != 0:
            raise OpenSSLError("'%s' failed (rc=%d): %s" % (" ".join(cmd), rc, (err or out).strip()))
        return rc, out, err

    def version(self):
        out = self.run(["version"])[1]
        match = re.match(r"OpenSSL (\d+\.\d+\.\d+)", out)
        return match.group(1) if match else out.strip()

    def public_key_of_key(self, key_path):
        out = self.run(["pkey", "-in", key_path, "-pubout"])[1]
        return out

    def public_key_of_certificate(self, cert_path):
        out = self.run(["x509", "-in", cert_path, "-noout", "-pubkey"])[1]
        return out

    def certificate_name(self, cert_path, which):
        """The certificate's subject or issuer (which) as RFC 2253 writes it, such as 'CN=edge1.example.org'."""
        out = self.run(["x509", "-in", cert_path, "-noout", "-" + which, "-nameopt", "RFC2253"])[1]
        return out.strip().partition("=")[2]

    def describe_public_key(self, public_pem):
        """Return (algorithm, detail): ('mldsa44', None), ('rsa', 2048) or ('ecdsa', 'P-256')."""
        out = self.run(["pkey", "-pubin", "-noout", "-text"], data=public_pem)[1]
        mldsa = _MLDSA_RE.search(out)
        if mldsa:
            return mldsa.group(1).replace("-", "").lower(), None
        curve = _CURVE_RE.search(out)
        if curve:
            return "ecdsa", curve.group(1)
        bits = _BITS_RE.search(out)
        if bits and _RSA_RE.search(out):
            return "rsa", int(bits.group(1))
        first = out.splitlines()[0] if out else "nothing"
        return "unknown", first


_HEX_RE = re.compile(r"^[0-9A-F]+$")


def normalise_serial(text):
    """A certificate serial as `openssl x509 -serial` prints it: upper-case hex, whole bytes, no leading zero byte.
    Takes '3a:0f:9c', '0x3A0F9C' or '3A0F9C'; raises ValueError naming anything that is not a serial."""
    value = str(text).strip().replace(":", "").upper()
    if value.startswith("0X"):
        value = value[2:]
    if not value or not _HEX_RE.match(value) or len(value) > 42:
        raise ValueError("%r is not a certificate serial number in hex" % (text,))
    value = value.lstrip("0") or "0"
    return "0" * (len(value) % 2) + value
