# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one table of TLS key-exchange groups that pqc.edge knows.

Used by the tls_probe module, by the nginx role's group-list filter and, copied
beside it on each host, by the backend that names the group of a request.  It
must therefore stay pure standard-library Python with no Ansible imports.

Sources: IANA "TLS Supported Groups" registry; OpenSSL include/internal/tlsgroups.h
(openssl-3.5.0) for the names OpenSSL accepts; oqs-provider ALGORITHMS.md for the
provider's own hybrids.
"""

from __future__ import annotations

import collections

HYBRID = "hybrid"
PQ = "pq"
CLASSICAL = "classical"
KINDS = (HYBRID, PQ, CLASSICAL)

Group = collections.namedtuple(
    "Group",
    [
        "name",  # canonical name, as IANA lists it (or the provider, for unregistered groups)
        "codepoint",  # 16-bit TLS NamedGroup value
        "kind",  # hybrid / pq / classical
        "openssl_name",  # the name to write into an OpenSSL group list
        "aliases",  # other spellings OpenSSL, nginx or oqs-provider use
        "source",  # native (OpenSSL itself), oqsprovider, or legacy (no longer served)
    ],
)

GROUPS = (
    # Hybrid ML-KEM groups (draft-ietf-tls-ecdhe-mlkem), native in OpenSSL >= 3.5.
    Group("X25519MLKEM768", 0x11EC, HYBRID, "X25519MLKEM768", ("x25519_mlkem768",), "native"),
    Group("SecP256r1MLKEM768", 0x11EB, HYBRID, "SecP256r1MLKEM768", ("p256_mlkem768",), "native"),
    Group("SecP384r1MLKEM1024", 0x11ED, HYBRID, "SecP384r1MLKEM1024", ("p384_mlkem1024",), "native"),
    # Pure ML-KEM groups (draft-ietf-tls-mlkem), native in OpenSSL >= 3.5.
    Group("MLKEM512", 0x0200, PQ, "MLKEM512", ("mlkem512", "ML-KEM-512"), "native"),
    Group("MLKEM768", 0x0201, PQ, "MLKEM768", ("mlkem768", "ML-KEM-768"), "native"),
    Group("MLKEM1024", 0x0202, PQ, "MLKEM1024", ("mlkem1024", "ML-KEM-1024"), "native"),
    # Hybrids only oqs-provider offers (ALGORITHMS.md).
    Group("p256_mlkem512", 0x2F4B, HYBRID, "p256_mlkem512", (), "oqsprovider"),
    Group("x25519_mlkem512", 0x2FB6, HYBRID, "x25519_mlkem512", (), "oqsprovider"),
    Group("p384_mlkem768", 0x2F4C, HYBRID, "p384_mlkem768", (), "oqsprovider"),
    Group("x448_mlkem768", 0x2FB7, HYBRID, "x448_mlkem768", (), "oqsprovider"),
    Group("p521_mlkem1024", 0x2F4D, HYBRID, "p521_mlkem1024", (), "oqsprovider"),
    Group("bp256_mlkem512", 0xFE20, HYBRID, "bp256_mlkem512", (), "oqsprovider"),
    Group("bp384_mlkem768", 0xFE21, HYBRID, "bp384_mlkem768", (), "oqsprovider"),
    Group("bp512_mlkem1024", 0xFE22, HYBRID, "bp512_mlkem1024", (), "oqsprovider"),
    # Pre-standard Kyber drafts that browsers shipped in 2023-2024; recognised, never configured.
    Group("X25519Kyber768Draft00", 0x6399, HYBRID, "X25519Kyber768Draft00", (), "legacy"),
    Group("SecP256r1Kyber768Draft00", 0x639A, HYBRID, "SecP256r1Kyber768Draft00", (), "legacy"),
    # Classical elliptic curves (RFC 8446, RFC 7748, RFC 8734).
    Group("x25519", 0x001D, CLASSICAL, "X25519", ("X25519",), "native"),
    Group("x448", 0x001E, CLASSICAL, "X448", ("X448",), "native"),
    Group("secp256r1", 0x0017, CLASSICAL, "secp256r1", ("prime256v1", "P-256"), "native"),
    Group("secp384r1", 0x0018, CLASSICAL, "secp384r1", ("P-384",), "native"),
    Group("secp521r1", 0x0019, CLASSICAL, "secp521r1", ("P-521",), "native"),
    Group("brainpoolP256r1tls13", 0x001F, CLASSICAL, "brainpoolP256r1tls13", (), "native"),
    Group("brainpoolP384r1tls13", 0x0020, CLASSICAL, "brainpoolP384r1tls13", (), "native"),
    Group("brainpoolP512r1tls13", 0x0021, CLASSICAL, "brainpoolP512r1tls13", (), "native"),
    # Finite-field Diffie-Hellman groups (RFC 7919).
    Group("ffdhe2048", 0x0100, CLASSICAL, "ffdhe2048", (), "native"),
    Group("ffdhe3072", 0x0101, CLASSICAL, "ffdhe3072", (), "native"),
    Group("ffdhe4096", 0x0102, CLASSICAL, "ffdhe4096", (), "native"),
    Group("ffdhe6144", 0x0103, CLASSICAL, "ffdhe6144", (), "native"),
    Group("ffdhe8192", 0x0104, CLASSICAL, "ffdhe8192", (), "native"),
)

# The groups AWS-LC serves, by code point, spelled as its group lists accept them (ssl/ssl_key_share.cc, kNamedGroups,
# AWS-LC 5.1.0): it reads "P-256", not "secp256r1".
AWS_LC_NAMES = {
    0x11EC: "X25519MLKEM768", 0x11EB: "SecP256r1MLKEM768", 0x11ED: "SecP384r1MLKEM1024",
    0x0200: "MLKEM512", 0x0201: "MLKEM768", 0x0202: "MLKEM1024",
    0x001D: "X25519", 0x0017: "P-256", 0x0018: "P-384", 0x0019: "P-521",
}

_BY_CODEPOINT = dict((g.codepoint, g) for g in GROUPS)
_BY_NAME = {}
for _group in GROUPS:
    for _spelling in [_group.name, _group.openssl_name] + list(_group.aliases):
        # OpenSSL matches group names without regard to case; so do we.
        _BY_NAME[_spelling.lower()] = _group


class UnknownGroupError(ValueError):
    """A group name that is not in the registry."""

    def __init__(self, names):
        self.names = list(names)
        super(UnknownGroupError, self).__init__(
            "unknown key-exchange group%s: %s (known: %s)"
            % ("s" if len(self.names) > 1 else "", ", ".join(self.names), ", ".join(g.name for g in GROUPS))
        )


def is_grease(codepoint):
    """RFC 8701 GREASE values: 0x0A0A, 0x1A1A, ... 0xFAFA."""
    return (codepoint & 0x0F0F) == 0x0A0A and (codepoint >> 12) == ((codepoint >> 4) & 0x0F)


def by_name(name):
    """Return the Group for any known spelling of its name, or None."""
    return _BY_NAME.get(str(name).strip().lower())


def by_codepoint(codepoint):
    """Return the Group for a 16-bit code point, or None."""
    return _BY_CODEPOINT.get(int(codepoint))


def resolve(names):
    """Map names to Groups; raise UnknownGroupError naming every unknown one."""
    found, unknown = [], []
    for name in names:
        group = by_name(name)
        if group is None:
            unknown.append(str(name))
        else:
            found.append(group)
    if unknown:
        raise UnknownGroupError(unknown)
    return found


def spellings(group):
    """Every name OpenSSL, IANA or oqs-provider uses for a group."""
    return [group.name, group.openssl_name] + list(group.aliases)


def describe(token):
    """Describe one group as an OpenSSL/nginx variable prints it.

    nginx before 1.27.5 prints provider and KEM groups as hex ("0x11ec") and
    classical ones by OpenSSL name ("X25519", "prime256v1").  Returns a dict with
    name, codepoint, kind and grease; name is None for an unknown value.
    """
    token = str(token).strip()
    group = None
    codepoint = None
    if token.lower().startswith("0x"):
        try:
            codepoint = int(token, 16)
        except ValueError:
            codepoint = None
        if codepoint is not None:
            group = by_codepoint(codepoint)
    else:
        group = by_name(token)
        if group is not None:
            codepoint = group.codepoint
    grease = codepoint is not None and is_grease(codepoint)
    return {
        "name": group.name if group else ("GREASE" if grease else None),
        "openssl_name": group.openssl_name if group else None,
        "spellings": spellings(group) if group else [],
        "raw": token,
        "codepoint": "0x%04x" % codepoint if codepoint is not None else None,
        "kind": group.kind if group else ("grease" if grease else "unknown"),
        "grease": grease,
    }


def is_quantum_safe(kind):
    """A key exchange resists a quantum adversary when it is hybrid or pure post-quantum."""
    return kind in (HYBRID, PQ)
