#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ca_crl
short_description: Keep a CA's certificate revocation list, signed on the CA host, for the serials it revoked
version_added: "0.12.0"
description:
  - Runs on the CA host, next to M(pqc.edge.ca_sign). Keeps a certificate revocation list (CRL, RFC 5280) signed by the
    CA's key that lists every serial of O(revoked) this CA issued, and returns it as text for the edges to check
    certificates against.
  - A serial must be one that M(pqc.edge.ca_sign) issued (its certificate is kept in O(issued_dir)); a serial that is
    not there fails the task, naming it, before anything is signed. Serials issued by another CA that shares
    O(issued_dir) are left to that CA's list.
  - The day a serial is first revoked is recorded in C(revoked.tsv) in O(issued_dir), so the list is the same on every
    run. The list is signed anew when its serials differ from O(revoked), when it does not verify against the CA's
    certificate (a renewed CA), or when less than half of O(valid_days) is left before its next update; its CRL
    number then goes up by one. Otherwise nothing changes.
author:
  - pqc.edge contributors (@pqc-edge)
extends_documentation_fragment:
  - pqc.edge.ca_host
options:
  issued_dir:
    description: Where M(pqc.edge.ca_sign) keeps the certificates it issued, one C(<serial>.pem) each.
    type: path
    required: true
  crl_path:
    description: The revocation list, PEM. Its CRL number is kept beside it in C(<crl_path>.number).
    type: path
    required: true
  revoked:
    description:
      - Serial numbers to revoke, in hex as C(openssl x509 -serial) prints them (colons and case do not matter).
      - A serial once listed stays revoked only as long as it is listed here.
    type: list
    elements: str
    default: []
  valid_days:
    description: Days from one update of the list to the next (its nextUpdate); clients refuse a list past it.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
    description: Reports whether the list would be signed anew; signs and writes nothing.
  diff_mode:
    support: none
    description: Nothing to compare.
"""

EXAMPLES = r"""
- name: Keep the ML-DSA intermediate's revocation list on the CA host
  pqc.edge.ca_crl:
    ca_certificate_path: /etc/pqc-edge/ca/mldsa65-intermediate.crt
    ca_private_key_path: /etc/pqc-edge/ca/mldsa65-intermediate.key
    issued_dir: /etc/pqc-edge/ca/issued
    crl_path: /etc/pqc-edge/ca/mldsa65-intermediate.crl
    revoked: [3A0F9C2B77D1E4]
  delegate_to: ca.example.org
  register: crl
"""

RETURN = r"""
crl:
  description: The revocation list, PEM (as it will be after the task in check mode only where nothing changes).
  type: str
  returned: always
serials:
  description: The serials this CA's list revokes, normalised.
  type: list
  elements: str
  returned: always
  sample: [3A0F9C2B77D1E4]
crl_der_base64:
  description: The same list DER-encoded, in base64, as HTTP clients fetch it from a CRL distribution point.
  type: str
  returned: always
next_update:
  description: When the list expires, as OpenSSL prints it.
  type: str
  returned: always
reasons:
  description: Why the list was signed anew; empty when nothing changed.
  type: list
  elements: str
  returned: always
"""

import base64
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pqc.edge.plugins.module_utils._expiry import openssl_time
from ansible_collections.pqc.edge.plugins.module_utils._openssl import OpenSSL, OpenSSLError, normalise_serial

_SERIAL_RE = re.compile(r"^\s*Serial Number:\s*([0-9A-Fa-f]+)\s*$", re.M)


def _index_time(seconds):
    """The time as OpenSSL's CA database writes it (UTCTime, YYMMDDHHMMSSZ)."""
    return time.strftime("%y%m%d%H%M%SZ", time.gmtime(seconds))


def revocation_dates(issued_dir, serials, now):
    """{serial: first revocation time} from revoked.tsv, with a new line for each serial first revoked now."""
    path = os.path.join(issued_dir, "revoked.tsv")
    dates = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                fields = line.rstrip("\n").split("\t")
                if len(fields) >= 2 and fields[0] not in dates:
                    dates[fields[0]] = int(fields[1])
    new = [serial for serial in serials if serial not in dates]
    for serial in new:
        dates[serial] = int(now)
    return dates, new


def issued_by_this_ca(openssl, issued_dir, serials, ca_subject):
    """{serial: certificate path} of the serials this CA issued; fails naming serials no CA here issued."""
    unknown = [serial for serial in serials if not os.path.isfile(os.path.join(issued_dir, serial + ".pem"))]
    if unknown:
        raise OpenSSLError("not issued by this fleet CA (no certificate in %s): %s" % (issued_dir, ", ".join(unknown)))
    mine = {}
    for serial in serials:
        path = os.path.join(issued_dir, serial + ".pem")
        if openssl.certificate_name(path, "issuer") == ca_subject:
            mine[serial] = path
    return mine


def current_list(openssl, params):
    """(serials, next update in seconds) of the list on disk, or None where it is missing, unreadable or not this CA's."""
    path = params["crl_path"]
    if not os.path.exists(path):
        return None
    rc, dummy, dummy2 = openssl.run(["crl", "-in", path, "-noout", "-CAfile", params["ca_certificate_path"]], check=False)
    if rc != 0:
        return None
    text = openssl.run(["crl", "-in", path, "-noout", "-text", "-nextupdate"])[1]
    next_update = re.search(r"^nextUpdate=(.+)$", text, re.M)
    if not next_update:
        return None
    return sorted(normalise_serial(s) for s in _SERIAL_RE.findall(text)), openssl_time(next_update.group(1))


def sign_list(module, openssl, params, certificates, dates):
    """Sign the list with `openssl ca -gencrl` from a throwaway CA database, then put it in place atomically."""
    work = module.tmpdir
    with open(os.path.join(work, "index.txt"), "w") as index:
        for serial in sorted(certificates):
            expiry = openssl.run(["x509", "-in", certificates[serial], "-noout", "-enddate"])[1].strip().partition("=")[2]
            index.write("R\t%s\t%s\t%s\tunknown\t/CN=%s\n" % (_index_time(openssl_time(expiry)), _index_time(dates[serial]),
                                                              serial, serial))
    number_path = params["crl_path"] + ".number"
    number = "01"
    if os.path.exists(number_path):
        with open(number_path) as f:
            number = f.read().strip() or "01"
    with open(os.path.join(work, "crlnumber"), "w") as f:
        f.write(number + "\n")
    config = os.path.join(work, "ca.cnf")
    with open(config, "w") as f:
        f.write("[ca]\ndefault_ca = fleet\n[fleet]\ndatabase = %s\ncrlnumber = %s\ndefault_md = default\n"
                "unique_subject = no\ndefault_crl_days = %d\n"
                % (os.path.join(work, "index.txt"), os.path.join(work, "crlnumber"), params["valid_days"]))
    out = os.path.join(work, "list.pem")
    openssl.run(["ca", "-batch", "-config", config, "-gencrl", "-cert", params["ca_certificate_path"],
                 "-keyfile", params["ca_private_key_path"], "-out", out])
    os.chmod(out, 0o644)
    module.atomic_move(out, params["crl_path"])
    with open(os.path.join(work, "crlnumber")) as f:
        number = f.read().strip()
    with open(number_path + ".tmp", "w") as f:
        f.write(number + "\n")
    os.replace(number_path + ".tmp", number_path)


def record_dates(issued_dir, new, dates):
    if not new:
        return
    with open(os.path.join(issued_dir, "revoked.tsv"), "a") as f:
        for serial in new:
            f.write("%s\t%d\n" % (serial, dates[serial]))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            ca_certificate_path=dict(type="path", required=True),
            ca_private_key_path=dict(type="path", required=True, no_log=False),
            issued_dir=dict(type="path", required=True),
            crl_path=dict(type="path", required=True),
            revoked=dict(type="list", elements="str", default=[]),
            valid_days=dict(type="int", default=30),
            openssl_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    result = dict(changed=False, crl="", crl_der_base64="", serials=[], next_update="", reasons=[])
    if not 2 <= params["valid_days"] <= 366:
        module.fail_json(msg="valid_days=%d must be from 2 to 366" % params["valid_days"], **result)
    openssl = OpenSSL(module, params["openssl_path"])
    try:
        serials = sorted(set(normalise_serial(serial) for serial in params["revoked"]))
        ca_subject = openssl.certificate_name(params["ca_certificate_path"], "subject")
        certificates = issued_by_this_ca(openssl, params["issued_dir"], serials, ca_subject)
        result["serials"] = sorted(certificates)
        now = time.time()
        current = current_list(openssl, params)
        if current is None:
            result["reasons"].append("no list of this CA at %s" % params["crl_path"])
        else:
            if current[0] != result["serials"]:
                result["reasons"].append("revoked serials differ")
            if current[1] - now < params["valid_days"] * 86400 / 2:
                result["reasons"].append("less than half of %d days left before its next update" % params["valid_days"])
        result["changed"] = bool(result["reasons"])
        if result["changed"] and not module.check_mode:
            dates, new = revocation_dates(params["issued_dir"], result["serials"], now)
            sign_list(module, openssl, params, certificates, dates)
            record_dates(params["issued_dir"], new, dates)
        if os.path.exists(params["crl_path"]):
            with open(params["crl_path"]) as f:
                result["crl"] = f.read()
            result["next_update"] = openssl.run(["crl", "-in", params["crl_path"], "-noout", "-nextupdate"])[1].strip().partition("=")[2]
            der = os.path.join(module.tmpdir, "list.der")
            openssl.run(["crl", "-in", params["crl_path"], "-outform", "DER", "-out", der])
            with open(der, "rb") as f:
                result["crl_der_base64"] = base64.b64encode(f.read()).decode()
    except (OpenSSLError, ValueError) as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
