#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ca_sign
short_description: Sign a TLS server or client certificate request with a CA whose key stays on this host, for allowed names only
version_added: "0.9.0"
description:
  - Runs on the CA host. Takes a certificate signing request (CSR) as text, checks it, and returns the signed
    certificate as text, so that only the request and the certificate travel. The CA's private key never leaves
    this host and the edge's private key never leaves the edge.
  - The request must carry a valid signature of its own key (proof of possession), a subject that is only a common
    name, and subject alternative names that are all in O(allowed_names) and, where O(allowed_domains) is given,
    all inside those domains. Anything else is refused before anything is signed or written.
  - The certificate's extensions are the module's, not the request's (a request cannot ask for C(CA:TRUE)), making a
    TLS server certificate (or with O(usage=client) a TLS client certificate) with the request's names, key and
    subject key identifiers.
  - Each certificate gets a random 159-bit serial number that is reserved in O(issued_dir) (one file per serial,
    created exclusively, so two concurrent signings never share one) and recorded with the requester in
    C(index.tsv) there.
author:
  - pqc.edge contributors (@pqc-edge)
extends_documentation_fragment:
  - pqc.edge.ca_host
options:
  csr:
    description: The PEM certificate signing request.
    type: str
    required: true
  allowed_names:
    description:
      - The subject alternative names the requester may have, as C(DNS:<name>) or C(IP:<address>). Every name of
        the request must be one of these.
    type: list
    elements: str
    required: true
  allowed_domains:
    description:
      - The CA's own limit on top of O(allowed_names) (empty for none). A DNS name is allowed when it is one of these
        domains or below one; an IP address only when it is listed here as C(IP:<address>).
    type: list
    elements: str
    default: []
  usage:
    description:
      - C(server) makes a TLS server certificate (extended key usage serverAuth), C(client) a TLS client certificate
        (clientAuth) for mutual TLS. The names are checked the same way for both.
    type: str
    choices: [server, client]
    default: server
  valid_days:
    description: Validity of the certificate, in days.
    type: int
    default: 365
  chain_path:
    description:
      - The certificates between this CA and its root (this CA's own when it is an intermediate), PEM, appended to the
        returned certificate so that clients get the whole chain; none where empty.
    type: path
  crl_url:
    description:
      - The C(http://) URL where clients fetch the revocation list of this CA (M(pqc.edge.ca_crl)), written into the
        certificate as its CRL distribution point; none where empty.
    type: str
    default: ""
  requester:
    description: Who asked (the inventory host name), recorded in the index.
    type: str
    required: true
  issued_dir:
    description: Where the serial numbers are reserved and the issued certificates kept.
    type: path
    required: true
attributes:
  check_mode:
    support: full
    description: Checks the request and the names, and reports that it would sign; signs and writes nothing.
  diff_mode:
    support: none
    description: Nothing to compare.
"""

EXAMPLES = r"""
- name: Sign the edge's request on the CA host
  pqc.edge.ca_sign:
    csr: "{{ request.csr }}"
    ca_certificate_path: /etc/pqc-edge/ca/mldsa65-intermediate.crt
    ca_private_key_path: /etc/pqc-edge/ca/mldsa65-intermediate.key
    chain_path: /etc/pqc-edge/ca/mldsa65-intermediate.crt
    allowed_names: [DNS:edge1.example.org, IP:192.0.2.10]
    allowed_domains: [example.org, IP:192.0.2.10]
    requester: edge1.example.org
    issued_dir: /etc/pqc-edge/ca/issued
  delegate_to: ca.example.org
  register: signed
"""

RETURN = r"""
certificate:
  description: The signed certificate, PEM, followed by O(chain_path); empty in check mode.
  type: str
  returned: always
serial:
  description: Its serial number in hex; empty in check mode.
  type: str
  returned: always
  sample: 3A0F9C...
names:
  description: The subject alternative names that were signed.
  type: list
  elements: str
  returned: always
  sample: [DNS:edge1.example.org, IP:192.0.2.10]
not_after:
  description: The certificate's expiry as OpenSSL prints it; empty in check mode.
  type: str
  returned: always
"""

import ipaddress
import os
import re
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pqc.edge.plugins.module_utils._openssl import OpenSSL, OpenSSLError

_DNS_RE = re.compile(r"^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$")
_SAN_BLOCK_RE = re.compile(r"X509v3 Subject Alternative Name:\s*(?:critical)?\s*\n\s*(.+)")


class Refused(Exception):
    """The request is not signed; the message says why."""


def normalise_name(entry):
    """'DNS:Edge.Example.org' -> 'DNS:edge.example.org'; 'IP Address:::1' -> 'IP:::1'. Refused when not DNS or IP."""
    kind, sep, value = entry.strip().partition(":")
    kind = kind.strip().upper()
    value = value.strip()
    if kind == "DNS" and sep and _DNS_RE.match(value):
        return "DNS:" + value.lower().rstrip(".")
    if kind in ("IP", "IP ADDRESS") and sep:
        try:
            return "IP:" + str(ipaddress.ip_address(value))
        except ValueError:
            pass
    raise Refused("%r is not a DNS name or an IP address" % entry.strip())


def inside_domains(name, domains):
    """Whether a normalised name falls within the CA's domains (an empty list limits nothing)."""
    if not domains:
        return True
    if name.startswith("IP:"):
        return name in domains
    host = name[4:]
    if host.startswith("*."):
        host = host[2:]
    return any(d.startswith("DNS:") and (host == d[4:] or host.endswith("." + d[4:])) for d in domains)


def request_names(openssl, csr_path):
    """The request's subject (RFC 2253) and its subject alternative names, normalised."""
    subject = openssl.run(["req", "-in", csr_path, "-noout", "-subject", "-nameopt", "RFC2253"])[1].strip().partition("=")[2]
    text = openssl.run(["req", "-in", csr_path, "-noout", "-text"])[1]
    match = _SAN_BLOCK_RE.search(text)
    names = [normalise_name(item) for item in match.group(1).split(",")] if match else []
    return subject.strip(), names


def check_request(openssl, csr_path, allowed, domains):
    """Return the names to sign, or raise Refused."""
    rc, dummy, err = openssl.run(["req", "-in", csr_path, "-noout", "-verify"], check=False)
    if rc != 0:
        raise Refused("the request is not a CSR signed by its own key: %s" % (err.strip().splitlines() or ["no reason given"])[-1])
    subject, names = request_names(openssl, csr_path)
    if not names:
        raise Refused("the request names no subject alternative name")
    outside = [n for n in names if n not in allowed]
    if outside:
        raise Refused("names not allowed for this requester: %s (allowed: %s)" % (", ".join(outside), ", ".join(sorted(allowed)) or "none"))
    beyond = [n for n in names if not inside_domains(n, domains)]
    if beyond:
        raise Refused("names outside the CA's domains %s: %s" % (", ".join(domains), ", ".join(beyond)))
    if not subject.startswith("CN=") or "," in subject.replace("\\,", "") or "+" in subject:
        raise Refused("the subject %r is not a common name alone" % subject)
    common_name = subject[3:].replace("\\", "")
    if normalise_name("DNS:" + common_name) not in names and ("IP:" + common_name) not in names:
        raise Refused("the common name %r is not among the subject alternative names" % common_name)
    return names


def reserve_serial(issued_dir):
    """A random positive serial below 2^159, reserved by creating its file exclusively."""
    for dummy in range(16):
        number = int.from_bytes(os.urandom(20), "big") >> 1
        # Whole bytes without leading zero bytes: the serial as `openssl x509 -serial` prints it.
        serial = "%X" % number
        serial = "0" * (len(serial) % 2) + serial
        path = os.path.join(issued_dir, serial + ".pem")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        return serial, path
    raise OpenSSLError("no free serial number in %s after 16 tries" % issued_dir)


# A revocation list is fetched over plain HTTP (RFC 5280 4.2.1.13: HTTPS would need a check of its own); nothing that
# could end the extension's value.
CRL_URL_RE = re.compile(r"^http://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~-]+)*$")


# What a certificate of each usage may be used for (RFC 5280 4.2.1.12): a client certificate cannot serve a site.
EXTENDED_KEY_USAGE = {"server": "serverAuth", "client": "clientAuth"}


def sign(module, openssl, params, csr_path, names):
    issued_dir = params["issued_dir"]
    if not os.path.isdir(issued_dir):
        os.makedirs(issued_dir, 0o700)
    serial, record = reserve_serial(issued_dir)
    try:
        extfile = os.path.join(module.tmpdir, "leaf-extensions.cnf")
        with open(extfile, "w") as f:
            # The names were checked above (DNS label characters or a parsed IP address): nothing else reaches the file.
            f.write("[server]\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                    "extendedKeyUsage=%s\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"
                    "subjectAltName=%s\n" % (EXTENDED_KEY_USAGE[params["usage"]], ",".join(names)))
            if params["crl_url"]:
                f.write("crlDistributionPoints=URI:%s\n" % params["crl_url"])
        out = os.path.join(module.tmpdir, "signed.pem")
        openssl.run(["x509", "-req", "-in", csr_path, "-CA", params["ca_certificate_path"], "-CAkey", params["ca_private_key_path"],
                     "-set_serial", "0x" + serial, "-days", str(params["valid_days"]), "-extfile", extfile, "-extensions", "server",
                     "-out", out])
        with open(out) as f:
            certificate = f.read()
    except Exception:
        os.unlink(record)
        raise
    with open(record, "w") as f:
        f.write(certificate)
    not_after = openssl.run(["x509", "-in", record, "-noout", "-enddate"])[1].strip().partition("=")[2]
    with open(os.path.join(issued_dir, "index.tsv"), "a") as index:
        index.write("\t".join([time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), serial, not_after,
                               params["requester"], ",".join(names)]) + "\n")
    return certificate, serial, not_after


def main():
    module = AnsibleModule(
        argument_spec=dict(
            csr=dict(type="str", required=True),
            ca_certificate_path=dict(type="path", required=True),
            ca_private_key_path=dict(type="path", required=True, no_log=False),
            allowed_names=dict(type="list", elements="str", required=True),
            allowed_domains=dict(type="list", elements="str", default=[]),
            valid_days=dict(type="int", default=365),
            usage=dict(type="str", default="server", choices=["server", "client"]),
            requester=dict(type="str", required=True),
            crl_url=dict(type="str", default=""),
            chain_path=dict(type="path"),
            issued_dir=dict(type="path", required=True),
            openssl_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    result = dict(changed=False, certificate="", serial="", names=[], not_after="")
    if not 1 <= params["valid_days"] <= 3650:
        module.fail_json(msg="valid_days=%d must be from 1 to 3650" % params["valid_days"], **result)
    if params["crl_url"] and not CRL_URL_RE.match(params["crl_url"]):
        module.fail_json(msg="crl_url=%r is not an http:// URL" % params["crl_url"], **result)
    openssl = OpenSSL(module, params["openssl_path"])
    try:
        allowed = set(normalise_name(n) for n in params["allowed_names"])
        domains = [d if d.upper().startswith("IP:") else "DNS:" + d.lower().lstrip(".") for d in params["allowed_domains"]]
        domains = [normalise_name(d) for d in domains]
        fd, csr_path = tempfile.mkstemp(prefix="request-", suffix=".pem", dir=module.tmpdir)
        with os.fdopen(fd, "w") as f:
            f.write(params["csr"])
        result["names"] = check_request(openssl, csr_path, allowed, domains)
        result["changed"] = True
        if not module.check_mode:
            result["certificate"], result["serial"], result["not_after"] = sign(module, openssl, params, csr_path, result["names"])
            if params["chain_path"]:
                with open(params["chain_path"]) as f:
                    result["certificate"] = result["certificate"].rstrip("\n") + "\n" + f.read()
    except Refused as exc:
        module.fail_json(msg="%s: refused to sign: %s" % (params["requester"], exc), **result)
    except OpenSSLError as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
