#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: certificate
short_description: Keep a private key and an X.509 certificate (ML-DSA, RSA or ECDSA) current with the host's OpenSSL
version_added: "0.1.0"
description:
  - Generates a private key and a certificate for it with the C(openssl) command of the managed host, so that
    post-quantum algorithms such as ML-DSA-44 work wherever that OpenSSL (3.5 native, or 3.2+ with oqs-provider)
    supports them. The Python C(cryptography) library does not offer ML-DSA, hence the command line.
  - The certificate is self-signed, or signed by a CA whose key and certificate are on the same host, or signed by
    a CA elsewhere (O(csr_only), then O(certificate_content)), where the module keeps the key and returns a certificate
    signing request when a certificate is due, and later checks and installs what that CA signed.
  - Nothing is regenerated while the key has the requested algorithm and size and the certificate matches the key,
    carries the requested subject and subject alternative names, is signed by the requested CA and is not yet due
    for renewal (O(renew_days), else O(renew_fraction)). The reasons for any change are returned.
  - A key algorithm the host's OpenSSL cannot generate fails before any file is touched.
author:
  - pqc.edge contributors (@pqc-edge)
options:
  private_key_path:
    description:
      - Where the private key lives. Written with mode O(private_key_mode), owned by the user running the module.
      - Required, with O(certificate_path), O(key_algorithm) and O(common_name), unless O(certificates) is given.
    type: path
  certificate_path:
    description: Where the PEM certificate lives.
    type: path
  key_algorithm:
    description:
      - V(mldsa44), V(mldsa65) and V(mldsa87) are the FIPS 204 ML-DSA parameter sets; the name C(mldsa44) is the one
        both OpenSSL 3.5 and oqs-provider accept.
    type: str
    choices: [mldsa44, mldsa65, mldsa87, rsa, ecdsa]
  rsa_bits:
    description: RSA modulus size, used when O(key_algorithm=rsa).
    type: int
    default: 2048
  ecdsa_curve:
    description: NIST curve, used when O(key_algorithm=ecdsa).
    type: str
    choices: [P-256, P-384]
    default: P-256
  common_name:
    description: The subject's common name.
    type: str
  subject_alt_names:
    description: Subject alternative names in OpenSSL form, such as C(DNS:edge.example.org) or C(IP:192.0.2.10).
    type: list
    elements: str
    default: []
  valid_days:
    description: Validity of a newly issued certificate, in days.
    type: int
    default: 365
  renew_days:
    description:
      - Reissue the certificate when it expires within this many days.
      - Without it, once less than O(renew_fraction) of the certificate's lifetime is left.
    type: int
  renew_fraction:
    description:
      - Without O(renew_days), reissue the certificate once less than this share of its lifetime (from notBefore to
        notAfter) is left; the default, a third, is Let's Encrypt's advice (30 days before a 90-day certificate ends,
        2 before a 6-day one). Above 0 and below 1.
    type: float
    default: 0.3333333333333333
  renew_reason:
    description:
      - Reissue the certificate now for this reason, given by whoever knows better than its dates, such as an ACME
        directory's renewal information (RFC 9773) for a certificate it revoked. Returned among the reasons.
    type: str
  revoked_serials:
    description:
      - Serials a CA revoked, as M(pqc.edge.ca_crl) takes them. A certificate with one of them is reissued with the
        same key. Returned among the reasons.
    type: list
    elements: str
    default: []
  crl_url:
    description:
      - The CRL distribution point the certificate must name, as M(pqc.edge.ca_sign) writes it from its
        O(pqc.edge.ca_sign#module:crl_url); C('') for none. A certificate that names another is reissued with the same
        key. Not checked where not given.
    type: str
  issuer_common_name:
    description:
      - The common name of the CA that must have signed the certificate (its issuer C(CN=<name>)), such as the fleet CA's
        intermediate; a certificate from another issuer, even one that chains to O(ca_certificate_path), is reissued
        with the same key. Not checked where not given.
    type: str
  is_ca:
    description: Issue a CA certificate (basicConstraints CA:TRUE, keyCertSign) instead of a TLS server certificate.
    type: bool
    default: false
  name_constraints:
    description:
      - With O(is_ca), the only names the CA may vouch for, as a critical nameConstraints extension of permitted
        subtrees; C(<domain>) or C(DNS:<domain>) (that domain and every name below it) or C(IP:<address>) (that
        address alone), as M(pqc.edge.ca_sign) takes them in its O(pqc.edge.ca_sign#module:allowed_domains).
      - A certificate whose constraints differ is reissued with the same key, so clients that trust the earlier one
        keep verifying what it signs.
    type: list
    elements: str
    default: []
  ca_certificate_path:
    description: Sign with this CA certificate instead of self-signing. Needs O(ca_private_key_path).
    type: path
  ca_private_key_path:
    description: The CA's private key, when that CA is on this host.
    type: path
  csr_only:
    description:
      - For a CA on another host (see M(pqc.edge.ca_sign)) or an ACME directory. Keep the private key, and when the
        certificate must be (re)issued for one of the reasons above return a certificate signing request in RV(csr)
        instead of issuing it. With O(ca_certificate_path) (a copy of that CA's certificate) the current certificate
        must be signed by that CA; without it, it must not be self-signed. Takes no O(ca_private_key_path).
      - The key counts as a change; the certificate does so when it is installed. In check mode a certificate that
        is due counts as a change here, since nothing is signed or installed then.
    type: bool
    default: false
  check_subject:
    description:
      - Whether the certificate's subject must be C(CN=)O(common_name). ACME CAs set the subject themselves (or leave it
        empty); the names are checked either way.
    type: bool
    default: true
  certificate_content:
    description:
      - The PEM certificate that the CA of O(ca_certificate_path) signed for the key of O(private_key_path). It is
        installed only after checking that it belongs to that key, is signed by that CA, carries the requested
        subject and names and is not already due for renewal; otherwise the module fails and the current
        certificate stays.
    type: str
  private_key_mode:
    description: File mode of the private key.
    type: str
    default: "0600"
  certificate_mode:
    description: File mode of the certificate.
    type: str
    default: "0644"
  openssl_path:
    description: The openssl binary to use; by default the first on the PATH.
    type: path
  certificates:
    description:
      - Several keys and certificates kept in one run, in order, each as the options of the same names describe; the
        other options apply to all of them. A host's sites then cost one module run, not one per certificate.
      - Instead of O(private_key_path), O(certificate_path), O(key_algorithm), O(common_name), O(subject_alt_names),
        O(ca_certificate_path) and O(ca_private_key_path). Each result is in RV(results); the first that fails stops
        the run, naming its certificate.
    type: list
    elements: dict
    suboptions:
      private_key_path:
        description: Where the private key lives.
        type: path
        required: true
      certificate_path:
        description: Where the PEM certificate lives.
        type: path
        required: true
      key_algorithm:
        description: As O(key_algorithm).
        type: str
        choices: [mldsa44, mldsa65, mldsa87, rsa, ecdsa]
        required: true
      common_name:
        description: The subject's common name.
        type: str
        required: true
      subject_alt_names:
        description: As O(subject_alt_names).
        type: list
        elements: str
        default: []
      ca_certificate_path:
        description: As O(ca_certificate_path).
        type: path
      ca_private_key_path:
        description: As O(ca_private_key_path).
        type: path
attributes:
  check_mode:
    support: full
    description: Reports what would be generated and why, and writes nothing.
  diff_mode:
    support: none
    description: Key material is never shown as a diff.
notes:
  - A key made by OpenSSL 3.5's native ML-DSA cannot be read by OpenSSL 3.4 with oqs-provider; generate keys with
    the OpenSSL that will serve them.
"""

EXAMPLES = r"""
- name: An ML-DSA-44 certificate signed by a local CA and a self-signed ECDSA one, in one run
  pqc.edge.certificate:
    certificates:
      - private_key_path: /etc/pqc-edge/tls/default/mldsa44.key
        certificate_path: /etc/pqc-edge/tls/default/mldsa44.crt
        key_algorithm: mldsa44
        common_name: edge1.example.org
        subject_alt_names: [DNS:edge1.example.org]
        ca_certificate_path: /etc/pqc-edge/ca/mldsa44-ca.crt
        ca_private_key_path: /etc/pqc-edge/ca/mldsa44-ca.key
      - private_key_path: /etc/pqc-edge/tls/default/ecdsa.key
        certificate_path: /etc/pqc-edge/tls/default/ecdsa.crt
        key_algorithm: ecdsa
        common_name: edge1.example.org
    valid_days: 365

- name: ML-DSA-44 key and self-signed certificate
  pqc.edge.certificate:
    private_key_path: /etc/pqc-edge/tls/mldsa44.key
    certificate_path: /etc/pqc-edge/tls/mldsa44.crt
    key_algorithm: mldsa44
    common_name: edge1.example.org
    subject_alt_names:
      - DNS:edge1.example.org
      - IP:192.0.2.10

- name: ML-DSA-44 key on the edge, and a request when a certificate from the fleet CA is due
  pqc.edge.certificate:
    private_key_path: /etc/pqc-edge/tls/default/mldsa44.key
    certificate_path: /etc/pqc-edge/tls/default/mldsa44.crt
    key_algorithm: mldsa44
    common_name: edge1.example.org
    subject_alt_names: [DNS:edge1.example.org]
    ca_certificate_path: /etc/pqc-edge/tls/fleet-ca/mldsa65-root.crt
    csr_only: true
  register: request

- name: RSA certificate signed by a local CA
  pqc.edge.certificate:
    private_key_path: /etc/pqc-edge/tls/rsa.key
    certificate_path: /etc/pqc-edge/tls/rsa.crt
    key_algorithm: rsa
    rsa_bits: 3072
    common_name: edge1.example.org
    ca_certificate_path: /etc/pqc-edge/ca/rsa-ca.crt
    ca_private_key_path: /etc/pqc-edge/ca/rsa-ca.key
"""

RETURN = r"""
results:
  description:
    - With O(certificates), one result per certificate, in order, each with the keys below and its C(private_key_path)
      and C(certificate_path).
  type: list
  elements: dict
  returned: with O(certificates)
key_changed:
  description: Whether the private key was (or in check mode would be) generated.
  type: bool
  returned: for one certificate; with O(certificates), in each of RV(results)
certificate_changed:
  description: Whether the certificate was (or in check mode would be) issued.
  type: bool
  returned: for one certificate; with O(certificates), in each of RV(results)
reasons:
  description: Why the key or certificate was (re)generated; empty when nothing changed.
  type: list
  elements: str
  returned: for one certificate; with O(certificates), in each of RV(results)
  sample: ["certificate expires within 30 days", "subject alternative names differ"]
key_algorithm:
  description: The key algorithm, as requested.
  type: str
  returned: for one certificate; with O(certificates), in each of RV(results)
  sample: mldsa44
not_after:
  description: The certificate's expiry as OpenSSL prints it; empty in check mode when the certificate would be issued.
  type: str
  returned: for one certificate; with O(certificates), in each of RV(results)
  sample: "Nov 26 15:26:33 2027 GMT"
csr:
  description: The certificate signing request (PEM) when O(csr_only) and a certificate is due; empty otherwise.
  type: str
  returned: for one certificate; with O(certificates), in each of RV(results)
openssl_version:
  description: Version of the OpenSSL that was used.
  type: str
  returned: always
  sample: 3.5.9
"""

import ipaddress
import os
import re
import stat
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pqc.edge.plugins.module_utils._expiry import RENEW_FRACTION, openssl_time, renewal_reason
from ansible_collections.pqc.edge.plugins.module_utils._openssl import OpenSSL, OpenSSLError, normalise_serial


def genpkey_args(params):
    algorithm = params["key_algorithm"]
    if algorithm == "rsa":
        return ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:%d" % params["rsa_bits"]]
    if algorithm == "ecdsa":
        return ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:%s" % params["ecdsa_curve"]]
    return ["-algorithm", algorithm]


def wanted_key_detail(params):
    if params["key_algorithm"] == "rsa":
        return params["rsa_bits"]
    if params["key_algorithm"] == "ecdsa":
        return params["ecdsa_curve"]
    return None


def normalise_san(entry):
    kind, dummy, value = entry.strip().partition(":")
    kind = {"IP ADDRESS": "IP"}.get(kind.strip().upper(), kind.strip().upper())
    return "%s:%s" % (kind, value.strip())


def certificate_sans(openssl, cert_path):
    rc, out, dummy = openssl.run(["x509", "-in", cert_path, "-noout", "-ext", "subjectAltName"], check=False)
    lines = [line.strip() for line in out.splitlines()[1:] if line.strip()] if rc == 0 else []
    return sorted(normalise_san(item) for line in lines for item in line.split(","))


def certificate_not_after(openssl, cert_path):
    out = openssl.run(["x509", "-in", cert_path, "-noout", "-enddate"])[1]
    return out.strip().partition("=")[2]


def renewal_due(openssl, cert_path, params):
    """Why the certificate is due for renewal (renew_days, else renew_fraction of its lifetime), or None."""
    out = openssl.run(["x509", "-in", cert_path, "-noout", "-startdate", "-enddate"])[1]
    dates = dict(line.strip().partition("=")[::2] for line in out.splitlines() if "=" in line)
    return renewal_reason(openssl_time(dates["notBefore"]), openssl_time(dates["notAfter"]), time.time(),
                          params["renew_days"], params["renew_fraction"])


def name_constraint(entry):
    """<domain>, DNS:<domain> or IP:<address> as nameConstraints writes it (an address with its all-ones mask)."""
    kind, dummy, value = entry.strip().partition(":") if ":" in entry else ("DNS", ":", entry.strip())
    kind = kind.strip().upper()
    if kind == "DNS":
        return "DNS:%s" % value.strip().lower().lstrip(".")
    if kind in ("IP", "IP ADDRESS"):
        address, dummy, mask = value.strip().partition("/")
        address = ipaddress.ip_address(address)
        # Without a mask: the address alone (all ones, 255.255.255.255 or ffff:...:ffff).
        mask = ipaddress.ip_address(mask) if mask else ipaddress.ip_address((1 << address.max_prefixlen) - 1)
        return "IP:%s/%s" % (address, mask)
    raise ValueError("%r is not <domain>, DNS:<domain> or IP:<address>" % entry)


def certificate_name_constraints(openssl, cert_path):
    """The permitted subtrees of the certificate's nameConstraints, normalised and sorted ([] without any)."""
    rc, out, dummy = openssl.run(["x509", "-in", cert_path, "-noout", "-ext", "nameConstraints"], check=False)
    if rc != 0:
        return []
    permitted = []
    section = None
    for line in out.splitlines()[1:]:
        text = line.strip()
        if text.endswith(":") and text[:-1] in ("Permitted", "Excluded"):
            section = text[:-1]
        elif text and section == "Permitted":
            permitted.append(name_constraint(text))
    return sorted(permitted)


def certificate_crl_urls(openssl, cert_path):
    """The URIs of the certificate's CRL distribution points ([] without any)."""
    rc, out, dummy = openssl.run(["x509", "-in", cert_path, "-noout", "-ext", "crlDistributionPoints"], check=False)
    return re.findall(r"URI:(\S+)", out) if rc == 0 else []


def is_ca_certificate(openssl, cert_path):
    rc, out, dummy = openssl.run(["x509", "-in", cert_path, "-noout", "-ext", "basicConstraints"], check=False)
    return rc == 0 and "CA:TRUE" in out


def signed_by(openssl, cert_path, ca_cert_path):
    # The certificate file may carry intermediates after the leaf (a full chain): they may complete the path.
    rc = openssl.run(
        ["verify", "-no-CApath", "-no-CAstore", "-CAfile", ca_cert_path, "-untrusted", cert_path, "-purpose", "any", cert_path],
        check=False,
    )[0]
    return rc == 0


def key_reasons(openssl, params):
    """Why the key must be generated, or [] when the existing one fits."""
    path = params["private_key_path"]
    if not os.path.exists(path):
        return ["private key %s does not exist" % path]
    if not os.path.isfile(path):
        raise OpenSSLError("private key path %s exists and is not a file" % path)
    try:
        algorithm, detail = openssl.describe_public_key(openssl.public_key_of_key(path))
    except OpenSSLError as exc:
        return ["private key %s is unreadable (%s)" % (path, exc)]
    wanted = params["key_algorithm"]
    if algorithm != wanted or detail != wanted_key_detail(params):
        return [
            "private key is %s%s, wanted %s%s"
            % (algorithm, " %s" % detail if detail else "", wanted, " %s" % wanted_key_detail(params) if wanted_key_detail(params) else "")
        ]
    return []


def certificate_reasons(openssl, params):
    """Why the certificate must be issued, or [] when the existing one fits (the key is kept)."""
    path = params["certificate_path"]
    if not os.path.exists(path):
        return ["certificate %s does not exist" % path]
    try:
        if openssl.public_key_of_certificate(path) != openssl.public_key_of_key(params["private_key_path"]):
            return ["certificate does not belong to the private key"]
        reasons = []
        if params["check_subject"] and openssl.certificate_name(path, "subject") != "CN=%s" % rfc2253_escape(params["common_name"]):
            reasons.append("subject differs from CN=%s" % params["common_name"])
        if certificate_sans(openssl, path) != sorted(normalise_san(s) for s in params["subject_alt_names"]):
            reasons.append("subject alternative names differ")
        if is_ca_certificate(openssl, path) != params["is_ca"]:
            reasons.append("CA flag differs")
        if params["is_ca"] and certificate_name_constraints(openssl, path) != sorted(name_constraint(n) for n in params["name_constraints"]):
            reasons.append("name constraints differ")
        ca_cert = params["ca_certificate_path"]
        if ca_cert and not signed_by(openssl, path, ca_cert):
            reasons.append("not signed by %s" % ca_cert)
        if not ca_cert and not params["csr_only"] and not signed_by(openssl, path, path):
            reasons.append("not self-signed")
        if not ca_cert and params["csr_only"] and signed_by(openssl, path, path):
            # A CA elsewhere (an ACME directory) signs it: a self-signed one is a stand-in to replace.
            reasons.append("self-signed stand-in")
        if params["issuer_common_name"] is not None:
            issuer = openssl.certificate_name(path, "issuer")
            if issuer != "CN=%s" % rfc2253_escape(params["issuer_common_name"]):
                reasons.append("issued by %s, not CN=%s" % (issuer, params["issuer_common_name"]))
        if params["crl_url"] is not None and certificate_crl_urls(openssl, path) != ([params["crl_url"]] if params["crl_url"] else []):
            reasons.append("CRL distribution point differs from %s" % (params["crl_url"] or "none"))
        serial = normalise_serial(openssl.run(["x509", "-in", path, "-noout", "-serial"])[1].strip().partition("=")[2])
        if serial in set(normalise_serial(revoked) for revoked in params["revoked_serials"]):
            reasons.append("serial %s is revoked" % serial)
        due = renewal_due(openssl, path, params)
        if due:
            reasons.append(due)
        return reasons
    except OpenSSLError as exc:
        return ["certificate %s is unreadable (%s)" % (path, exc)]


def rfc2253_escape(value):
    escaped = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    return escaped


def subject_arg(common_name):
    # openssl -subj takes /-separated RDNs; '/' and '\' inside a value are escaped with '\'.
    return "/CN=" + common_name.replace("\\", "\\\\").replace("/", "\\/")


def extension_args(params):
    if params["is_ca"]:
        extensions = ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"]
        if params["name_constraints"]:
            extensions.append("nameConstraints=critical," + ",".join("permitted;" + name_constraint(n) for n in params["name_constraints"]))
    else:
        extensions = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth"]
    if params["subject_alt_names"]:
        extensions.append("subjectAltName=" + ",".join(s.strip() for s in params["subject_alt_names"]))
    args = []
    for extension in extensions:
        args += ["-addext", extension]
    return args


def temporary_path_beside(module, final_path, mode):
    """A temporary file beside final_path, created with the final mode so no key is ever world-readable."""
    fd, tmp = tempfile.mkstemp(prefix=".pqc-edge-", dir=os.path.dirname(final_path) or ".")
    os.close(fd)
    os.chmod(tmp, int(mode, 8))
    module.add_cleanup_file(tmp)
    return tmp


def generate_key(module, openssl, params):
    tmp = temporary_path_beside(module, params["private_key_path"], params["private_key_mode"])
    openssl.run(["genpkey"] + genpkey_args(params) + ["-out", tmp])
    os.chmod(tmp, int(params["private_key_mode"], 8))
    # os.replace keeps the temporary file's mode; AnsibleModule.atomic_move would widen a new file to 0644.
    os.replace(tmp, params["private_key_path"])


def issue_certificate(module, openssl, params):
    tmp = temporary_path_beside(module, params["certificate_path"], params["certificate_mode"])
    base = ["-key", params["private_key_path"], "-subj", subject_arg(params["common_name"])] + extension_args(params)
    days = ["-days", str(params["valid_days"])]
    if params["ca_certificate_path"]:
        csr = temporary_path_beside(module, params["certificate_path"], "0600")
        openssl.run(["req", "-new"] + base + ["-out", csr])
        openssl.run(
            ["x509", "-req", "-in", csr, "-CA", params["ca_certificate_path"], "-CAkey", params["ca_private_key_path"],
             "-copy_extensions", "copyall", "-set_serial", "0x" + os.urandom(16).hex(), "-out", tmp] + days
        )
    else:
        openssl.run(["req", "-x509", "-new"] + base + days + ["-out", tmp])
    os.chmod(tmp, int(params["certificate_mode"], 8))
    os.replace(tmp, params["certificate_path"])


def make_csr(module, openssl, params):
    """A request for the names alone: the signing CA sets every other extension itself."""
    csr = temporary_path_beside(module, params["certificate_path"], "0644")
    names = ["-addext", "subjectAltName=" + ",".join(s.strip() for s in params["subject_alt_names"])] if params["subject_alt_names"] else []
    openssl.run(["req", "-new", "-key", params["private_key_path"], "-subj", subject_arg(params["common_name"])] + names + ["-out", csr])
    with open(csr) as f:
        return f.read()


def install_signed(module, openssl, params):
    """Install certificate_content after checking it; True when the file changed."""
    path = params["certificate_path"]
    content = params["certificate_content"].strip() + "\n"
    if os.path.isfile(path):
        with open(path) as f:
            if f.read() == content:
                return False
    tmp = temporary_path_beside(module, path, params["certificate_mode"])
    with open(tmp, "w") as f:
        f.write(content)
    reasons = certificate_reasons(openssl, dict(params, certificate_path=tmp))
    if reasons:
        raise OpenSSLError("the signed certificate for %s was not installed: %s" % (path, "; ".join(reasons)))
    if not module.check_mode:
        os.replace(tmp, path)
    return True


def check_algorithm_available(openssl, params):
    """Generate a throw-away key in memory: the one reliable test across native and provider algorithms."""
    if params["key_algorithm"] == "rsa":
        return
    rc, dummy, err = openssl.run(["genpkey"] + genpkey_args(params), check=False)
    if rc != 0:
        raise OpenSSLError(
            "the host's OpenSSL %s (%s) cannot generate %s keys: %s"
            % (openssl.version(), openssl.binary, params["key_algorithm"], err.strip().splitlines()[0] if err.strip() else "no reason given")
        )


# The options that say which certificate, given once or per entry of certificates.
CERTIFICATE_OPTIONS = dict(
    private_key_path=dict(type="path"),
    certificate_path=dict(type="path"),
    key_algorithm=dict(type="str", choices=["mldsa44", "mldsa65", "mldsa87", "rsa", "ecdsa"]),
    common_name=dict(type="str"),
    subject_alt_names=dict(type="list", elements="str", default=[]),
    ca_certificate_path=dict(type="path"),
    ca_private_key_path=dict(type="path", no_log=False),
)
REQUIRED = ("private_key_path", "certificate_path", "key_algorithm", "common_name")


class Failure(Exception):
    """A certificate that cannot be kept: the message, and its result so far."""

    def __init__(self, msg, result):
        super().__init__(msg)
        self.result = result


def check_params(module, params):
    """Fail on settings that can never work, before any file is touched."""
    if params["rsa_bits"] < 2048:
        module.fail_json(msg="rsa_bits=%d is too small: use 2048 or more" % params["rsa_bits"])
    if params["renew_days"] is not None and params["renew_days"] >= params["valid_days"]:
        module.fail_json(
            msg="renew_days=%d must be smaller than valid_days=%d, or every run would reissue"
            % (params["renew_days"], params["valid_days"])
        )
    for revoked in params["revoked_serials"]:
        try:
            normalise_serial(revoked)
        except ValueError as exc:
            module.fail_json(msg="revoked_serials: %s" % exc)
    if not 0 < params["renew_fraction"] < 1:
        module.fail_json(msg="renew_fraction=%s must be above 0 and below 1 (a share of the certificate's lifetime)"
                         % params["renew_fraction"])
    for san in params["subject_alt_names"]:
        kind, sep, value = san.partition(":")
        if not sep or not value.strip() or kind.strip().upper() not in ("DNS", "IP", "EMAIL", "URI"):
            module.fail_json(msg="invalid subject alternative name %r: expected DNS:<name>, IP:<address>, email:<addr> or URI:<uri>" % san)

    if params["name_constraints"] and not params["is_ca"]:
        module.fail_json(msg="name_constraints needs is_ca=true: only a CA certificate carries them")
    for entry in params["name_constraints"]:
        try:
            name_constraint(entry)
        except ValueError:
            module.fail_json(msg="invalid name constraint %r: expected <domain>, DNS:<domain> or IP:<address>" % entry)

    signed_elsewhere = params["csr_only"] or params["certificate_content"] is not None
    if params["ca_certificate_path"] and not params["ca_private_key_path"] and not signed_elsewhere:
        module.fail_json(msg="ca_certificate_path needs ca_private_key_path, or csr_only / certificate_content for a CA on another host")
    if params["ca_private_key_path"] and not params["ca_certificate_path"]:
        module.fail_json(msg="ca_private_key_path needs ca_certificate_path")


def keep(module, openssl, params):
    """Keep one key and certificate current; its result, or Failure."""
    result = dict(changed=False, key_changed=False, certificate_changed=False, reasons=[],
                  key_algorithm=params["key_algorithm"], not_after="", csr="")
    try:
        result["openssl_version"] = openssl.version()
        if params["certificate_content"] is not None:
            reasons = key_reasons(openssl, params)
            if reasons:
                raise Failure("no certificate installed for %s: %s" % (params["private_key_path"], "; ".join(reasons)), result)
            result["certificate_changed"] = result["changed"] = install_signed(module, openssl, params)
            result["reasons"] = ["signed certificate installed"] if result["changed"] else []
            result["not_after"] = certificate_not_after(openssl, params["certificate_path"]) if os.path.exists(params["certificate_path"]) else ""
            return result
        check_algorithm_available(openssl, params)
        reasons = key_reasons(openssl, params)
        result["key_changed"] = bool(reasons)
        # A new key always needs a new certificate; otherwise look at the certificate itself.
        reasons += ["new private key"] if reasons else certificate_reasons(openssl, params)
        if not reasons and params["renew_reason"]:
            reasons.append(params["renew_reason"])
        result["certificate_changed"] = bool(reasons)
        result["reasons"] = list(reasons)
        result["changed"] = bool(reasons)
        if params["csr_only"] and not module.check_mode:
            # The certificate changes when the CA's answer is installed, not here.
            result["changed"] = result["key_changed"]
        key_mode = int(params["private_key_mode"], 8)
        if not result["key_changed"] and stat.S_IMODE(os.stat(params["private_key_path"]).st_mode) != key_mode:
            result["reasons"].append("private key mode is not %s" % params["private_key_mode"])
            result["changed"] = True
            if not module.check_mode:
                os.chmod(params["private_key_path"], key_mode)
        if module.check_mode:
            if not reasons:
                result["not_after"] = certificate_not_after(openssl, params["certificate_path"])
            return result
        if result["key_changed"]:
            generate_key(module, openssl, params)
        if result["certificate_changed"] and params["csr_only"]:
            result["csr"] = make_csr(module, openssl, params)
        elif result["certificate_changed"]:
            issue_certificate(module, openssl, params)
        if os.path.exists(params["certificate_path"]):
            result["not_after"] = certificate_not_after(openssl, params["certificate_path"])
    except OpenSSLError as exc:
        raise Failure(str(exc), result)
    return result


def main():
    argument_spec = dict(
        CERTIFICATE_OPTIONS,
        rsa_bits=dict(type="int", default=2048),
        ecdsa_curve=dict(type="str", default="P-256", choices=["P-256", "P-384"]),
        valid_days=dict(type="int", default=365),
        renew_days=dict(type="int"),
        renew_fraction=dict(type="float", default=RENEW_FRACTION),
        renew_reason=dict(type="str"),
        revoked_serials=dict(type="list", elements="str", default=[]),
        crl_url=dict(type="str"),
        issuer_common_name=dict(type="str"),
        is_ca=dict(type="bool", default=False),
        name_constraints=dict(type="list", elements="str", default=[]),
        private_key_mode=dict(type="str", default="0600", no_log=False),
        certificate_mode=dict(type="str", default="0644"),
        openssl_path=dict(type="path"),
        csr_only=dict(type="bool", default=False),
        certificate_content=dict(type="str"),
        check_subject=dict(type="bool", default=True),
        certificates=dict(type="list", elements="dict", options=dict(
            CERTIFICATE_OPTIONS, **dict((name, dict(CERTIFICATE_OPTIONS[name], required=True)) for name in REQUIRED))),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        required_one_of=[("private_key_path", "certificates")],
        required_by={"private_key_path": REQUIRED[1:], "ca_private_key_path": "ca_certificate_path",
                     "certificate_content": "ca_certificate_path"},
        mutually_exclusive=[("csr_only", "certificate_content"), ("ca_private_key_path", "csr_only"),
                            ("ca_private_key_path", "certificate_content"), ("renew_reason", "certificate_content"),
                            ("certificates", "certificate_content")]
        + [("certificates", name) for name in CERTIFICATE_OPTIONS],
        supports_check_mode=True,
    )
    batch = module.params["certificates"]
    entries = [dict(module.params, **entry) for entry in batch] if batch is not None else [module.params]
    for params in entries:
        check_params(module, params)
    openssl = OpenSSL(module, module.params["openssl_path"])
    if batch is None:
        try:
            module.exit_json(**keep(module, openssl, module.params))
        except Failure as failure:
            module.fail_json(msg=str(failure), **failure.result)
    results = []
    for params in entries:
        try:
            result = keep(module, openssl, params)
        except Failure as failure:
            results.append(dict(failure.result, private_key_path=params["private_key_path"],
                                certificate_path=params["certificate_path"], failed=True))
            module.fail_json(msg="%s: %s" % (params["certificate_path"], failure), changed=any(r["changed"] for r in results),
                             results=results)
        results.append(dict(result, private_key_path=params["private_key_path"], certificate_path=params["certificate_path"]))
    module.exit_json(changed=any(result["changed"] for result in results), results=results)


if __name__ == "__main__":
    main()
