# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The report's rows as a CycloneDX 1.6 cryptography bill of materials (CBOM).

Each TLS endpoint that answered is a protocol asset (its TLS version, cipher suite and the groups it accepts), each
certificate it serves a certificate asset (subject, issuer, validity, signature algorithm), and each algorithm an
algorithm asset with its primitive, parameter set and NIST quantum security level (FIPS 203: ML-KEM-512/768/1024 are
categories 1/3/5; FIPS 204: ML-DSA-44/65/87 are 2/3/5; classical algorithms 0). The dependencies say which endpoint
uses which certificate and algorithm, and which algorithms each certificate rests on.
"""

from __future__ import annotations

import datetime
import json
import re
import uuid

from ansible.errors import AnsibleFilterError
from ansible_collections.pqc.edge.plugins.module_utils import _groups

# TLS 1.3 cipher suites (RFC 8446, appendix B.4): identifier, then its AEAD and its hash.
CIPHER_SUITES = {
    "TLS_AES_128_GCM_SHA256": ("0x13,0x01", "AES-128-GCM", "SHA-256"),
    "TLS_AES_256_GCM_SHA384": ("0x13,0x02", "AES-256-GCM", "SHA-384"),
    "TLS_CHACHA20_POLY1305_SHA256": ("0x13,0x03", "ChaCha20-Poly1305", "SHA-256"),
    "TLS_AES_128_CCM_SHA256": ("0x13,0x04", "AES-128-CCM", "SHA-256"),
    "TLS_AES_128_CCM_8_SHA256": ("0x13,0x05", "AES-128-CCM-8", "SHA-256"),
}
# name -> algorithmProperties (and the OID where there is one).
SYMMETRIC = {
    "AES-128-GCM": {"primitive": "ae", "parameterSetIdentifier": "128", "mode": "gcm", "nistQuantumSecurityLevel": 1},
    "AES-256-GCM": {"primitive": "ae", "parameterSetIdentifier": "256", "mode": "gcm", "nistQuantumSecurityLevel": 5},
    "AES-128-CCM": {"primitive": "ae", "parameterSetIdentifier": "128", "mode": "ccm", "nistQuantumSecurityLevel": 1},
    "AES-128-CCM-8": {"primitive": "ae", "parameterSetIdentifier": "128", "mode": "ccm", "nistQuantumSecurityLevel": 1},
    "ChaCha20-Poly1305": {"primitive": "ae", "parameterSetIdentifier": "256", "nistQuantumSecurityLevel": 5},
    "SHA-256": {"primitive": "hash", "parameterSetIdentifier": "256", "nistQuantumSecurityLevel": 2},
    "SHA-384": {"primitive": "hash", "parameterSetIdentifier": "384", "nistQuantumSecurityLevel": 4},
}
ML_DSA = {"44": ("2.16.840.1.101.3.4.3.17", 2), "65": ("2.16.840.1.101.3.4.3.18", 3), "87": ("2.16.840.1.101.3.4.3.19", 5)}
ML_KEM_LEVEL = {"512": 1, "768": 3, "1024": 5}
CURVES = {"x25519": "Curve25519", "x448": "Curve448", "secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


def _ref(kind, *parts):
    return "%s:%s" % (kind, ":".join(re.sub(r"[^A-Za-z0-9._-]+", "_", str(part)) for part in parts))


def _algorithm(name, properties, oid=None):
    crypto = {"assetType": "algorithm", "algorithmProperties": properties}
    if oid:
        crypto["oid"] = oid
    return {"type": "cryptographic-asset", "bom-ref": _ref("algorithm", name), "name": name, "cryptoProperties": crypto}


def group_algorithm(name):
    """The algorithm asset of a TLS key-exchange group (an IANA name of pqc.edge's registry)."""
    group = _groups.by_name(name)
    if group is None:
        return _algorithm(name, {"primitive": "unknown"})
    kem = re.search(r"(?:MLKEM|mlkem|Kyber)(512|768|1024)", group.name)
    if kem:
        # A hybrid is one KEM of its classical and its ML-KEM share (draft-ietf-tls-ecdhe-mlkem): as strong as ML-KEM.
        properties = {"primitive": "kem", "parameterSetIdentifier": kem.group(1),
                      "cryptoFunctions": ["keygen", "encapsulate", "decapsulate"],
                      "nistQuantumSecurityLevel": ML_KEM_LEVEL[kem.group(1)]}
    else:
        properties = {"primitive": "key-agree", "cryptoFunctions": ["keygen", "keyderive"], "nistQuantumSecurityLevel": 0}
        if group.name in CURVES:
            properties["curve"] = CURVES[group.name]
        else:
            properties["parameterSetIdentifier"] = re.sub(r"[^0-9]", "", group.name) or group.name
    return _algorithm(group.name, properties)


def key_algorithm(certificate):
    """The algorithm asset of a certificate's public key, from the key algorithm and size OpenSSL printed."""
    algorithm = str(certificate.get("key_algorithm") or "")
    size = re.sub(r"[^0-9]", "", str(certificate.get("key_size") or ""))
    dsa = re.match(r"ML-DSA-(44|65|87)$", algorithm)
    if dsa:
        oid, level = ML_DSA[dsa.group(1)]
        return _algorithm(algorithm, {"primitive": "signature", "parameterSetIdentifier": dsa.group(1),
                                      "cryptoFunctions": ["sign", "verify"], "nistQuantumSecurityLevel": level}, oid)
    if algorithm == "id-ecPublicKey":
        curve = {"256": "P-256", "384": "P-384", "521": "P-521"}.get(size, "unknown")
        return _algorithm("ECDSA-%s" % curve, {"primitive": "signature", "curve": curve,
                                               "cryptoFunctions": ["sign", "verify"], "nistQuantumSecurityLevel": 0})
    if algorithm == "rsaEncryption":
        return _algorithm("RSA-%s" % (size or "unknown"), {"primitive": "signature", "parameterSetIdentifier": size or "unknown",
                                                           "cryptoFunctions": ["sign", "verify"], "nistQuantumSecurityLevel": 0},
                          "1.2.840.113549.1.1.1")
    return _algorithm(algorithm or "unknown", {"primitive": "unknown"})


def signature_algorithm(name):
    """The algorithm asset of the signature a certificate's issuer made, by OpenSSL's name for it."""
    name = str(name or "")
    dsa = re.match(r"ML-DSA-(44|65|87)$", name)
    if dsa:
        return key_algorithm({"key_algorithm": name})
    ecdsa = re.match(r"ecdsa-with-(SHA\d+)$", name)
    if ecdsa:
        return _algorithm("ECDSA-%s" % ecdsa.group(1), {"primitive": "signature", "cryptoFunctions": ["sign", "verify"],
                                                        "nistQuantumSecurityLevel": 0})
    rsa = re.match(r"(sha\d+)WithRSAEncryption$", name)
    if rsa:
        return _algorithm("RSA-PKCS1-1.5-%s" % rsa.group(1).upper(), {"primitive": "signature", "padding": "pkcs1v15",
                                                                      "cryptoFunctions": ["sign", "verify"],
                                                                      "nistQuantumSecurityLevel": 0})
    if name == "rsassaPss":
        return _algorithm("RSASSA-PSS", {"primitive": "signature", "cryptoFunctions": ["sign", "verify"],
                                         "nistQuantumSecurityLevel": 0}, "1.2.840.113549.1.1.10")
    return _algorithm(name or "unknown", {"primitive": "unknown"})


def _list(value):
    return value if isinstance(value, list) else []


def _dicts(value):
    return [item for item in _list(value) if isinstance(item, dict)]


def _iso(openssl_date):
    """`Dec  5 12:00:00 2027 GMT` (openssl x509 -dates) as ISO 8601, or None."""
    try:
        when = datetime.datetime.strptime(" ".join(str(openssl_date or "").split()), "%b %d %H:%M:%S %Y GMT")
    except ValueError:
        return None
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def compliance_properties(compliance):
    """The verdict of a compliance profile on an endpoint as CycloneDX properties (name/value pairs, one per failed or
    unchecked point); none where the endpoint was not judged."""
    if not isinstance(compliance, dict) or not isinstance(compliance.get("profile"), str):
        return []
    verdict = {True: "true", False: "false"}.get(compliance.get("compliant"), "not all checked")
    properties = [{"name": "pqc-edge:compliance:profile", "value": compliance["profile"]},
                  {"name": "pqc-edge:compliance:compliant", "value": verdict}]
    for key, name in (("failed", "failed"), ("not_checked", "not-checked")):
        properties += [{"name": "pqc-edge:compliance:" + name, "value": str(point)} for point in _list(compliance.get(key))]
    return properties


def cbom(rows, generated):
    """A CycloneDX 1.6 CBOM (a dict, to be written as JSON) of pqc.edge.report's rows; generated is the report's time
    (ISO 8601). Unreachable hosts and servers that did not answer have no endpoint."""
    if not isinstance(rows, list):
        raise AnsibleFilterError("cbom expects the report's rows, got %r" % (rows,))
    components = {}
    dependencies = {}

    def add(component, depends_on=()):
        components.setdefault(component["bom-ref"], component)
        entry = dependencies.setdefault(component["bom-ref"], [])
        entry.extend(ref for ref in depends_on if ref not in entry)
        return component["bom-ref"]

    for row in rows:
        # What hosts said is data: a value of an unexpected shape is left out, never an error.
        row = row if isinstance(row, dict) else {}
        for server in _dicts(row.get("servers")):
            if server.get("verdict") == "unreachable":
                continue
            uses = []
            groups = [name for name in _list(server.get("supported_groups")) if isinstance(name, str)]
            for name in [server.get("pq_offer_group"), server.get("classical_offer_group")]:
                if isinstance(name, str) and name and name not in groups:
                    groups.append(name)
            group_refs = [add(group_algorithm(name)) for name in groups]
            suites = []
            suite = server.get("cipher_suite")
            if isinstance(suite, str) and suite:
                identifier, aead, digest = CIPHER_SUITES.get(suite, (None, None, None))
                refs = [add(_algorithm(name, dict(SYMMETRIC[name]))) for name in (aead, digest) if name]
                suites.append(dict({"name": suite, "algorithms": refs}, **({"identifiers": [identifier]} if identifier else {})))
                uses += refs
            for certificate in _dicts(server.get("certificates")):
                key_ref = add(key_algorithm(certificate))
                signed_ref = add(signature_algorithm(certificate.get("signature_algorithm")))
                properties = {"subjectName": str(certificate.get("subject") or ""),
                              "issuerName": str(certificate.get("issuer") or ""),
                              "signatureAlgorithmRef": signed_ref, "certificateFormat": "X.509", "certificateExtension": "crt"}
                for key, value in (("notValidBefore", _iso(certificate.get("not_before"))),
                                   ("notValidAfter", _iso(certificate.get("not_after")))):
                    if value:
                        properties[key] = value
                uses.append(add({
                    "type": "cryptographic-asset", "bom-ref": _ref("certificate", row.get("host"), certificate.get("path")),
                    "name": "%s %s" % (row.get("host"), certificate.get("path")),
                    "cryptoProperties": {"assetType": "certificate", "certificateProperties": properties}},
                    [signed_ref, key_ref]))
            version = re.sub(r"^TLSv", "", str(server.get("tls_version") or "")) or None
            protocol = {"type": "tls", "cryptoRefArray": group_refs}
            if version:
                protocol["version"] = version
            if suites:
                protocol["cipherSuites"] = suites
            name = "%s %s:%s" % (row.get("host"), server.get("server_name") or "(default)", server.get("port"))
            endpoint = {"type": "cryptographic-asset", "bom-ref": _ref("endpoint", row.get("host"), server.get("server_name"),
                                                                       server.get("port")),
                        "name": name, "cryptoProperties": {"assetType": "protocol", "protocolProperties": protocol}}
            judged = compliance_properties(server.get("compliance"))
            if judged:
                endpoint["properties"] = judged
            add(endpoint, group_refs + uses)
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        # One serial number per report: its time and its rows.
        "serialNumber": "urn:uuid:%s" % uuid.uuid5(uuid.NAMESPACE_URL, "pqc.edge report %s %s" % (
            generated, json.dumps(rows, sort_keys=True, default=str))),
        "metadata": {"timestamp": generated, "tools": {"components": [
            {"type": "application", "name": "pqc.edge report", "group": "pqc.edge"}]}},
        "components": list(components.values()),
        "dependencies": [dict({"ref": ref}, **({"dependsOn": refs} if refs else {})) for ref, refs in dependencies.items()],
    }


class FilterModule(object):
    def filters(self):
        return {"cbom": cbom}
