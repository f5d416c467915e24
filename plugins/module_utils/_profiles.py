# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Compliance profiles: the TLS policy a regime asks for, as data, and the judgement of a live server against one.

A profile names what a server may accept (protocol versions, key-exchange groups, TLS 1.3 cipher suites, the
signature schemes it signs handshakes with) and the certificates it serves (the post-quantum and the classical
algorithm, and what may sign them). The roles configure pqc.edge's own servers from it; tls_probe gathers what a
server really accepts (observations) and judge() says, in plain words, every point where that differs.

The built-in profiles and their sources are in PROFILES; an operator defines more in the same schema.
"""

from __future__ import annotations

from ansible_collections.pqc.edge.plugins.module_utils import _groups

PROTOCOLS = ("TLSv1.2", "TLSv1.3")
TLS13_SUITES = (
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_128_CCM_SHA256",
    "TLS_AES_128_CCM_8_SHA256",
)
# The handshake signature schemes a profile may name (IANA TLS SignatureScheme names, ML-DSA from draft-ietf-tls-mldsa).
SIGNATURE_SCHEMES = (
    "mldsa44", "mldsa65", "mldsa87",
    "ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384", "ecdsa_secp521r1_sha512",
    "ed25519", "ed448",
    "rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384", "rsa_pss_rsae_sha512",
    "rsa_pss_pss_sha256", "rsa_pss_pss_sha384", "rsa_pss_pss_sha512",
    "rsa_pkcs1_sha256", "rsa_pkcs1_sha384", "rsa_pkcs1_sha512",
)
PQ_CERTIFICATES = ("mldsa44", "mldsa65", "mldsa87")
CLASSICAL_CERTIFICATES = ("ecdsa", "rsa", "none")
ECDSA_CURVES = ("P-256", "P-384")
# How OpenSSL names a certificate's signature algorithm (`openssl x509 -text`), by the families a profile allows.
CERTIFICATE_SIGNATURES = {
    "mldsa44": ("ML-DSA-44",),
    "mldsa65": ("ML-DSA-65",),
    "mldsa87": ("ML-DSA-87",),
    "ecdsa_sha256": ("ecdsa-with-SHA256",),
    "ecdsa_sha384": ("ecdsa-with-SHA384",),
    "ecdsa_sha512": ("ecdsa-with-SHA512",),
    "rsa_pss": ("rsassaPss", "RSASSA-PSS"),
    "rsa_pkcs1": ("sha256WithRSAEncryption", "sha384WithRSAEncryption", "sha512WithRSAEncryption"),
}
KEY_ALGORITHMS = {"mldsa44": "ML-DSA-44", "mldsa65": "ML-DSA-65", "mldsa87": "ML-DSA-87"}

FIELDS = ("description", "sources", "protocols", "groups", "group_policy", "ciphersuites", "signature_algorithms",
          "certificates", "certificate_signatures", "early_data")

# The policies of the regimes, as far as a TLS server's configuration can show them. `web` is the roles' own
# variables (build_web fills it in); the others replace them. See the README for what each leaves out.
PROFILES = {
    "cnsa2": {
        "description": "NSA CNSA 2.0, TLS 1.3 with ML-KEM-1024 and ML-DSA-87 only; for controlled clients (no browser offers them)",
        "sources": [
            "NSA CNSA 2.0 algorithms (CNSSP 15 update, FAQ PP-24-4014): ML-KEM-1024, ML-DSA-87, AES-256, SHA-384",
            "draft-becker-cnsa2-tls-profile: TLS 1.3 only, TLS_AES_256_GCM_SHA384, MLKEM1024 (0x0202), mldsa87 (0x0906), no early data",
        ],
        "protocols": ["TLSv1.3"],
        "groups": ["MLKEM1024"],
        "group_policy": "enforce",
        "ciphersuites": ["TLS_AES_256_GCM_SHA384"],
        "signature_algorithms": ["mldsa87"],
        "certificates": {"pq": "mldsa87", "classical": "none", "ecdsa_curve": "P-384"},
        "certificate_signatures": ["mldsa87"],
        "early_data": False,
    },
    "cnsa2-transition": {
        "description": "CNSA 2.0 first, with a P-384 fallback for clients that do not have it yet",
        "sources": [
            "NSA CNSA 2.0 (support and prefer by 2025, exclusively by 2033); CNSA 1.0 (CNSSP 15): P-384, AES-256, SHA-384",
        ],
        "protocols": ["TLSv1.3"],
        "groups": ["MLKEM1024", "SecP384r1MLKEM1024", "secp384r1"],
        "group_policy": "enforce",
        "ciphersuites": ["TLS_AES_256_GCM_SHA384"],
        "signature_algorithms": ["mldsa87", "ecdsa_secp384r1_sha384"],
        "certificates": {"pq": "mldsa87", "classical": "ecdsa", "ecdsa_curve": "P-384"},
        "certificate_signatures": ["mldsa87", "ecdsa_sha384"],
        "early_data": False,
    },
    "bsi": {
        "description": "BSI TR-02102-2: ML-KEM only inside a hybrid, NIST curves, no X25519, no RSA PKCS#1 v1.5 signatures",
        "sources": [
            "BSI TR-02102-2 (2024-01, Tabellen 9-12): groups secp256r1/384r1/521r1 and brainpool (no x25519); "
            "TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_AES_128_CCM_SHA256; RSA-PSS and ECDSA; "
            "RSA PKCS#1 v1.5 recommended only until 2025",
            "BSI TR-02102-2 (2026-01, as summarised, not read here): TLS 1.2 until the end of 2031; ML-KEM in hybrid "
            "form only, with SecP256r1MLKEM768 and SecP384r1MLKEM1024 named; this profile allows TLS 1.3 only",
            "ML-DSA-65/87 (BSI TR-02102-1) for clients that offer them; TR-02102-2's tables do not list ML-DSA yet",
        ],
        "protocols": ["TLSv1.3"],
        "groups": ["SecP384r1MLKEM1024", "SecP256r1MLKEM768", "secp384r1", "secp256r1"],
        "group_policy": "enforce",
        "ciphersuites": ["TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256", "TLS_AES_128_CCM_SHA256"],
        "signature_algorithms": ["mldsa87", "mldsa65", "ecdsa_secp384r1_sha384", "ecdsa_secp256r1_sha256",
                                 "ecdsa_secp521r1_sha512", "rsa_pss_rsae_sha384", "rsa_pss_rsae_sha256",
                                 "rsa_pss_rsae_sha512", "rsa_pss_pss_sha384", "rsa_pss_pss_sha256", "rsa_pss_pss_sha512"],
        "certificates": {"pq": "mldsa65", "classical": "ecdsa", "ecdsa_curve": "P-256"},
        "certificate_signatures": ["mldsa65", "mldsa87", "ecdsa_sha256", "ecdsa_sha384", "ecdsa_sha512", "rsa_pss"],
        "early_data": False,
    },
}
BUILT_IN = ("web",) + tuple(sorted(PROFILES))


class ProfileError(ValueError):
    """A profile that is not in the schema; the message names the profile, the field and the value."""


def build_web(groups, group_policy, protocols, pq_certificate, classical_certificate, ecdsa_curve):
    """The `web` profile: today's policy, from the roles' own variables (any cipher suite and scheme OpenSSL offers)."""
    return {
        "description": "pqc.edge's default: a quantum-safe group first for browsers, classical clients still served",
        "sources": ["pqc.edge role variables (nginx_groups, nginx_group_policy, nginx_tls_protocols, certificates_*)"],
        "protocols": list(protocols),
        "groups": list(groups),
        "group_policy": group_policy,
        "ciphersuites": ["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"],
        "signature_algorithms": [],
        "certificates": {"pq": pq_certificate, "classical": classical_certificate, "ecdsa_curve": ecdsa_curve},
        "certificate_signatures": [],
        "early_data": False,
    }


def _list_of(name, field, value, allowed, ordered=True, empty=False):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProfileError("profile %s: %s must be a list of names, not %r" % (name, field, value))
    if not value and not empty:
        raise ProfileError("profile %s: %s is empty" % (name, field))
    unknown = [v for v in value if v not in allowed]
    if unknown:
        raise ProfileError("profile %s: %s has %s, which is not one of %s" % (name, field, ", ".join(unknown), ", ".join(allowed)))
    if len(set(value)) != len(value):
        raise ProfileError("profile %s: %s names %s twice" % (name, field, [v for v in value if value.count(v) > 1][0]))
    return list(value)


def validate(name, profile):
    """Check an operator-defined profile against the schema; returns it normalised, or raises ProfileError."""
    if not isinstance(profile, dict):
        raise ProfileError("profile %s must be a dictionary, not %r" % (name, profile))
    unknown = sorted(set(profile) - set(FIELDS))
    if unknown:
        raise ProfileError("profile %s: unknown field %s (known: %s)" % (name, ", ".join(unknown), ", ".join(FIELDS)))
    missing = [f for f in ("protocols", "groups", "ciphersuites", "certificates") if f not in profile]
    if missing:
        raise ProfileError("profile %s: %s missing" % (name, ", ".join(missing)))
    result = {
        "description": str(profile.get("description", "operator-defined profile %s" % name)),
        "sources": [str(s) for s in profile.get("sources", [])],
        "protocols": _list_of(name, "protocols", profile["protocols"], PROTOCOLS),
        "ciphersuites": _list_of(name, "ciphersuites", profile["ciphersuites"], TLS13_SUITES),
        "signature_algorithms": _list_of(name, "signature_algorithms", profile.get("signature_algorithms", []),
                                         SIGNATURE_SCHEMES, empty=True),
        "certificate_signatures": _list_of(name, "certificate_signatures", profile.get("certificate_signatures", []),
                                           tuple(CERTIFICATE_SIGNATURES), empty=True),
        "group_policy": profile.get("group_policy", "enforce"),
        "early_data": profile.get("early_data", False),
    }
    if "TLSv1.3" not in result["protocols"]:
        raise ProfileError("profile %s: protocols must include TLSv1.3 (post-quantum key exchange needs it)" % name)
    if result["group_policy"] not in ("enforce", "prefer"):
        raise ProfileError("profile %s: group_policy %r is neither enforce nor prefer" % (name, result["group_policy"]))
    if result["early_data"] is not False:
        raise ProfileError("profile %s: early_data %r: pqc.edge never enables 0-RTT early data" % (name, result["early_data"]))
    groups = profile["groups"]
    if not isinstance(groups, list) or not groups:
        raise ProfileError("profile %s: groups must be a non-empty list of group names, not %r" % (name, groups))
    try:
        resolved = _groups.resolve([str(g) for g in groups])
    except _groups.UnknownGroupError as exc:
        raise ProfileError("profile %s: groups: %s" % (name, exc))
    if not any(_groups.is_quantum_safe(g.kind) for g in resolved):
        raise ProfileError("profile %s: groups %s has no quantum-safe group" % (name, ", ".join(groups)))
    result["groups"] = [g.name for g in resolved]
    certificates = profile["certificates"]
    if not isinstance(certificates, dict):
        raise ProfileError("profile %s: certificates must be a dictionary (pq, classical, ecdsa_curve), not %r" % (name, certificates))
    extra = sorted(set(certificates) - {"pq", "classical", "ecdsa_curve"})
    if extra:
        raise ProfileError("profile %s: certificates: unknown field %s (known: pq, classical, ecdsa_curve)" % (name, ", ".join(extra)))
    cert = {
        "pq": certificates.get("pq", "mldsa44"),
        "classical": certificates.get("classical", "ecdsa"),
        "ecdsa_curve": certificates.get("ecdsa_curve", "P-256"),
    }
    for field, allowed in (("pq", PQ_CERTIFICATES), ("classical", CLASSICAL_CERTIFICATES), ("ecdsa_curve", ECDSA_CURVES)):
        if cert[field] not in allowed:
            raise ProfileError("profile %s: certificates.%s %r is not one of %s" % (name, field, cert[field], ", ".join(allowed)))
    result["certificates"] = cert
    return result


def resolve(name, operator_profiles=None, web=None):
    """The profile called name: `web` (built by build_web from the roles' variables), a built-in one, or the operator's."""
    operator_profiles = operator_profiles or {}
    if not isinstance(operator_profiles, dict):
        raise ProfileError("pqc_edge_profiles must be a dictionary of profile name -> profile, not %r" % (operator_profiles,))
    clash = sorted(set(operator_profiles) & set(BUILT_IN))
    if clash:
        raise ProfileError("pqc_edge_profiles: %s is a built-in profile; give yours another name" % ", ".join(clash))
    # Every operator profile is checked, used or not: a bad one fails now rather than on the day it is chosen.
    checked = {}
    for own in sorted(operator_profiles):
        try:
            checked[own] = validate(own, operator_profiles[own])
        except ProfileError as exc:
            raise ProfileError("pqc_edge_profiles=%s: %s" % (str(operator_profiles)[:300], exc))
    if name == "web":
        if web is None:
            raise ProfileError("the web profile is built from the roles' variables; none were given")
        profile = dict(web)
    elif name in PROFILES:
        profile = validate(name, PROFILES[name])
    elif name in checked:
        profile = checked[name]
    else:
        raise ProfileError("pqc_edge_profile %r is neither built in (%s) nor in pqc_edge_profiles (%s)"
                           % (name, ", ".join(BUILT_IN), ", ".join(sorted(operator_profiles)) or "none"))
    profile["name"] = name
    return profile


def checks(profile):
    """The offers tls_probe makes to judge a server against the profile (see judge for what each one shows)."""
    pq = profile["certificates"]["pq"]
    return {
        "groups": [g.name for g in _groups.GROUPS if g.source == "native"],
        "ciphersuites": list(TLS13_SUITES),
        "signature_algorithms": list(SIGNATURE_SCHEMES),
        "tls12": True,
        # A complete handshake offering the profile's own schemes (or the PQ certificate's), to see what is served.
        "certificate_offer": profile["signature_algorithms"] or [pq],
    }


def _says_group(name):
    group = _groups.by_name(name)
    return group.name if group else name


def judge(profile, observed):
    """Every point where the observed server differs from the profile, in plain words (empty: compliant).

    observed holds what tls_probe found:
      supported_groups   the groups the server accepted, each offered alone (its order when it enforces one)
      first_group        the group a client offering every group gets (sharing a key for none)
      ciphersuites       TLS 1.3 suites the server accepted, each offered alone
      signature_algorithms  schemes accepted, each offered alone (None: not probed)
      tls12              whether a TLS 1.2-only ClientHello was answered with TLS 1.2
      certificate        for the profile's offer: key_algorithm, signature_algorithm, peer_signature_algorithm,
                         or None when no handshake completed (None altogether: not probed)
    """
    failed = []
    allowed_groups = profile["groups"]
    supported = [_says_group(g) for g in observed.get("supported_groups") or []]
    for group in supported:
        if group not in allowed_groups:
            failed.append("accepted %s offered alone; the profile does not allow it" % group)
    missing = [g for g in allowed_groups if g not in supported]
    if missing and len(missing) == len(allowed_groups):
        failed.append("accepted none of the profile's groups (%s)" % ", ".join(allowed_groups))
    elif missing:
        failed.append("refused %s, which the profile lists" % ", ".join(missing))
    first = observed.get("first_group")
    if profile["group_policy"] == "enforce" and observed.get("server_preference") is False:
        failed.append("the server follows the client's order of groups; the profile enforces its own")
    if profile["group_policy"] == "enforce" and first is not None:
        preferred = [g for g in allowed_groups if g in supported]
        if preferred and _says_group(first) != preferred[0]:
            failed.append("gave %s to a client offering every group; the profile puts %s first"
                          % (_says_group(first), preferred[0]))
    for suite in observed.get("ciphersuites") or []:
        if suite not in profile["ciphersuites"]:
            failed.append("%s accepted" % suite)
    if observed.get("ciphersuites") is not None and not set(observed["ciphersuites"]) & set(profile["ciphersuites"]):
        failed.append("none of the profile's cipher suites accepted (%s)" % ", ".join(profile["ciphersuites"]))
    if observed.get("tls12") and "TLSv1.2" not in profile["protocols"]:
        failed.append("TLS 1.2 accepted; the profile allows TLS 1.3 only")
    schemes = observed.get("signature_algorithms")
    if schemes is not None and profile["signature_algorithms"]:
        for scheme in schemes:
            if scheme not in profile["signature_algorithms"]:
                failed.append("signs with %s for a client that offers only it" % scheme)
    if "certificate" in observed:
        failed.extend(_judge_certificate(profile, observed["certificate"]))
    return failed


def _judge_certificate(profile, certificate):
    pq = profile["certificates"]["pq"]
    if certificate is None:
        return ["no handshake completed for a client offering %s" % ", ".join(profile["signature_algorithms"] or [pq])]
    failed = []
    wanted = KEY_ALGORITHMS[pq]
    key = certificate.get("key_algorithm")
    if key != wanted:
        failed.append("leaf key is %s for a client offering %s; the profile requires %s"
                      % (key or "unknown", ", ".join(profile["signature_algorithms"] or [pq]), wanted))
    signature = certificate.get("signature_algorithm")
    allowed = [name for family in profile["certificate_signatures"] for name in CERTIFICATE_SIGNATURES[family]]
    if allowed and signature not in allowed:
        failed.append("leaf signed with %s; the profile allows %s" % (signature or "an unknown algorithm", ", ".join(allowed)))
    peer = certificate.get("peer_signature_algorithm")
    if profile["signature_algorithms"] and peer not in profile["signature_algorithms"]:
        failed.append("handshake signed with %s; the profile allows %s" % (peer, ", ".join(profile["signature_algorithms"])))
    return failed
