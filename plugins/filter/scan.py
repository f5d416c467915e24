# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""pqc.edge.scan: endpoints the operator names, managed by pqc.edge or not, probed from the controller.

Each target is `host:port`, `[IPv6 address]:port` or an `https://` URL (port 443 unless it names one), optionally as
a dict with its own server name (SNI). The rows have the shape of pqc.edge.report's, so that the report's files and
its CBOM are written the same way.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError
from ansible_collections.pqc.edge.plugins.filter.probes import (
    CLASSICAL_OFFER, CLASSICAL_SIGNATURES, PQ_SIGNATURES, PREDICTED_OFFER, SYSTEM_TRUST, checked_profile, probe_answers)
from ansible_collections.pqc.edge.plugins.filter.report import report_row

_HOST = r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[(?P<v6>[0-9A-Fa-f:.]+)\])"
_TARGET = re.compile(r"^%s:(?P<port>[0-9]{1,5})$" % _HOST)
_URL = re.compile(r"^https://%s(?::(?P<port>[0-9]{1,5}))?(?:[/?#][^\s]*)?$" % _HOST)
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
# The post-quantum offer again, its ClientHello sent in pieces of this many bytes, each its own TCP segment: what a
# large hybrid ClientHello may look like after the network, and what servers that expect it in one read fail on.
SPLIT = {"groups": ["X25519MLKEM768", "X25519"], "client_hello_segment_size": 256}
# The certificates a server serves are read from complete handshakes (openssl s_client, OpenSSL 3.5 or newer on the
# scanning side): a post-quantum client's (ML-DSA first, the classical schemes after it) and a classical one's; groups
# wide enough for CNSA 2.0 servers and classical ones alike.
CERTIFICATE_GROUPS = ["X25519MLKEM768", "MLKEM1024", "SecP384r1MLKEM1024", "X25519", "secp256r1", "secp384r1"]
CERTIFICATE_OFFERS = (("post-quantum", PQ_SIGNATURES + CLASSICAL_SIGNATURES), ("classical", CLASSICAL_SIGNATURES))


# An HTTP/3 alternative in an Alt-Svc header: h3="host:port" (an empty host is the target's own).
_ALT_SVC_H3 = re.compile(r'(?:^|,)\s*h3="(?P<host>\[[^\]"]*\]|[^":]*):(?P<port>[0-9]{1,5})"', re.IGNORECASE)


def _quic_mode(value):
    """True, False or alt-svc, and nothing that merely equals one (1 is not true here)."""
    return isinstance(value, bool) or value == "alt-svc"


def _openssl_version(text):
    """(major, minor) of `openssl version`'s answer, None where it says none."""
    match = re.match(r"^\s*OpenSSL ([0-9]+)\.([0-9]+)", text or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def scan_target(target):
    """{target, host, port, server_name} of one entry of pqc_edge_scan_targets; a malformed one is named."""
    given = target if isinstance(target, dict) else {"target": target}
    text = given.get("target")
    if not isinstance(text, str):
        raise AnsibleFilterError("pqc_edge_scan_targets: %r has no target (host:port or an https:// URL)" % (target,))
    match = _TARGET.match(text) or _URL.match(text)
    port = int(match.group("port") or 443) if match else 0
    if not match or not 0 < port < 65536:
        raise AnsibleFilterError("pqc_edge_scan_targets: %r is not host:port, [IPv6 address]:port or an https:// URL"
                                 % (text,))
    host = match.group("v6") or match.group("host")
    server_name = given.get("server_name", None if match.group("v6") or re.match(r"^[0-9.]+$", host) else host)
    if server_name is not None and not (isinstance(server_name, str) and _NAME.match(server_name)):
        raise AnsibleFilterError("pqc_edge_scan_targets: server_name %r of %s is not a host name" % (server_name, text))
    unknown = sorted(set(given) - {"target", "server_name", "quic"})
    if unknown:
        raise AnsibleFilterError("pqc_edge_scan_targets: %s has unknown keys %s" % (text, ", ".join(unknown)))
    quic = given.get("quic")
    if quic is not None and not _quic_mode(quic):
        raise AnsibleFilterError("pqc_edge_scan_targets: quic %r of %s is not true, false or alt-svc" % (quic, text))
    return {"target": text, "host": host, "port": port, "server_name": server_name, "quic": quic}


def scan_plan(targets, profile=None, quic=False, scanner=None):
    """Every probe of pqc.edge.scan, from the scanning side: per target an enumeration (whose first handshake is the
    post-quantum offer; it also judges the target against profile, pqc.edge.compliance_profile's result, when one is
    given), an X25519-share offer, a classical-only offer and the post-quantum offer in small TCP segments; where
    asked (the target's own quic, else quic: true) the post-quantum offer over QUIC to the same port over UDP (with
    quic alt-svc the enumeration reads the target's Alt-Svc header instead, and pqc.edge.alt_svc_plan plans QUIC to
    the port it announces); and where the
    scanning side's OpenSSL can (scanner: {openssl: its `openssl version`, ca_files: what certificates are verified
    against, by default its system trust store}) a complete handshake for each kind of certificate, post-quantum and
    classical, that reads the certificate served. Each target's item says why its certificates are not read, if so."""
    if not isinstance(targets, list) or not targets:
        raise AnsibleFilterError("pqc_edge_scan_targets must be a non-empty list, not %r" % (targets,))
    checked_profile(profile, "scan_plan")
    if not _quic_mode(quic):
        raise AnsibleFilterError("pqc_edge_scan_quic must be true, false or alt-svc, not %r" % (quic,))
    scanner = scanner or {}
    version = _openssl_version(scanner.get("openssl"))
    unread = None if version and version >= (3, 5) else (
        "the scanning side's OpenSSL (%s) cannot complete post-quantum handshakes: OpenSSL 3.5 or newer reads them"
        % ((scanner.get("openssl") or "none found").strip() or "none found"))
    ca_files = scanner.get("ca_files") or [SYSTEM_TRUST]
    enumerate_offer = dict({"enumerate": True}, **({"profile": profile} if profile else {}))
    plan = []
    for target in targets:
        parsed = scan_target(target)
        endpoint = {"target": parsed["target"], "address": parsed["host"], "port": parsed["port"],
                    "server_name": parsed["server_name"], "site": None, "file": None, "line": None, "reason": None,
                    "certificates_unread": unread}
        where = {"host": parsed["host"], "port": parsed["port"], "server_name": parsed["server_name"]}
        mode = parsed["quic"] if parsed["quic"] is not None else quic
        first = dict(enumerate_offer, alt_svc=True) if mode == "alt-svc" else enumerate_offer
        for kind, offer in (("enumerate", first), ("predicted", PREDICTED_OFFER), ("classical", CLASSICAL_OFFER),
                            ("split", SPLIT)):
            plan.append({"kind": kind, "item": endpoint, "side": "controller", "probe": dict(where, **offer)})
        if mode is True:
            plan.append({"kind": "quic_pq", "item": endpoint, "side": "controller",
                         "probe": dict(where, transport="quic", groups=SPLIT["groups"])})
        if unread is None:
            plan += [{"kind": "certificate", "item": [endpoint, served], "side": "controller", "probe": dict(
                where, engine="openssl", groups=CERTIFICATE_GROUPS, signature_algorithms=schemes, ca_files=ca_files)}
                for served, schemes in CERTIFICATE_OFFERS]
    return plan


def alt_svc_plan(plan, answers):
    """The post-quantum offer over QUIC to each target whose Alt-Svc header (read by its enumeration, with quic
    alt-svc) announces HTTP/3 on the target's own host: to the first such port. An alternative on another host is not
    followed (a scan probes what the operator named); the row shows the header whatever it says."""
    plan_answers = zip([step for step in plan if step["side"] == "controller"], answers or [])
    steps = []
    for step, answer in plan_answers:
        if step["kind"] != "enumerate" or not step["probe"].get("alt_svc") or not answer.get("alt_svc"):
            continue
        endpoint = step["item"]
        own = set(name.lower() for name in (endpoint["address"], endpoint.get("server_name")) if name)
        for match in _ALT_SVC_H3.finditer(answer["alt_svc"]):
            host = match.group("host").strip("[]").lower()
            port = int(match.group("port"))
            if (not host or host in own) and 0 < port < 65536:
                steps.append({"kind": "quic_pq", "item": endpoint, "side": "controller", "probe": dict(
                    host=endpoint["address"], port=port, server_name=endpoint.get("server_name"), transport="quic",
                    groups=SPLIT["groups"])})
                break
    return steps


def scan_rows(plan, answers):
    """One row per target, shaped as pqc.edge.report's (its verdict: PQ-ready, partly PQ, classical only or
    unreachable), with what the X25519-share offer got beside it, whether the server answered the ClientHello
    split over many TCP segments (None where it answered neither way), the certificates it serves (certificates, in
    the report's shape) and why they were not read (certificates_error, None where they were)."""
    by_kind = probe_answers(plan, answers)
    over_quic = dict((answer["item"]["target"], answer) for answer in by_kind["quic_pq"])
    certificates = {}
    for answer in by_kind["certificate"]:
        certificates.setdefault(answer["item"][0]["target"], []).append(answer)
    rows = []
    for index, enum in enumerate(by_kind["enumerate"]):
        endpoint = enum["item"]
        one = {"enumerate": [enum], "classical": [by_kind["classical"][index]],
               "quic_pq": [over_quic[endpoint["target"]]] if endpoint["target"] in over_quic else []}
        row = report_row(one, {"host": endpoint["target"], "address": endpoint["address"], "reachable": True})
        predicted = by_kind["predicted"][index]
        split = by_kind["split"][index]
        # Any TLS answer (a ServerHello, or an alert for groups it does not share) means the server read the ClientHello;
        # a failed probe is none at all.
        whole_answered = not enum.get("failed")
        split_answered = not split.get("failed")
        row["answers_split_client_hello"] = split_answered if whole_answered else None
        row["split_client_hello_error"] = split.get("msg") if whole_answered and not split_answered else None
        for server in row["servers"]:
            server["served_by"] = "scanned"
            if server["verdict"] == "hybrid":
                server["why"] = "negotiated %s for a post-quantum offer" % server["pq_offer_group"]
            server["x25519_share_group"] = predicted.get("negotiated_group")
            server["hello_retry_request"] = predicted.get("hello_retry_request")
        row["x25519_share_group"] = predicted.get("negotiated_group")
        row["alt_svc"] = enum.get("alt_svc")
        row["alt_svc_error"] = enum.get("alt_svc_error")
        row["certificates"] = _served_certificates(certificates.get(endpoint["target"], []))
        row["certificates_error"] = endpoint["certificates_unread"] or (
            "; ".join("%s: %s" % (answer["item"][1], answer.get("msg")) for answer in certificates.get(endpoint["target"], [])
                      if answer.get("failed")) or None)
        for server in row["servers"]:
            server["certificates"] = row["certificates"]
        rows.append(row)
    return rows


def _served_certificates(answers):
    """The certificates the answers read, each once (a server with one certificate serves it to both offers): shaped as
    pqc.edge.report's, with the offer it was served to as its path and whether it verified as trusted."""
    served = []
    for answer in answers:
        if answer.get("failed") or not answer.get("certificate_key_algorithm"):
            continue
        certificate = {"path": "served to a %s client" % answer["item"][1], "key_algorithm": answer["certificate_key_algorithm"],
                       "not_after": answer.get("certificate_not_after"), "not_before": answer.get("certificate_not_before"),
                       "issuer": answer.get("certificate_issuer"), "subject": answer.get("certificate_subject"),
                       "days_left": answer.get("certificate_days_left"),
                       "signature_algorithm": answer.get("certificate_signature_algorithm"),
                       "key_size": answer.get("certificate_key_size"), "trusted": answer.get("certificate_verified"),
                       "verify_error": answer.get("verify_error")}
        same = [known for known in served if all(known[key] == certificate[key] for key in
                                                 ("key_algorithm", "issuer", "subject", "not_after"))]
        if same:
            same[0]["path"] = "served to every client"
        else:
            served.append(certificate)
    return served


class FilterModule(object):
    def filters(self):
        return {"scan_target": scan_target, "scan_plan": scan_plan, "scan_rows": scan_rows, "alt_svc_plan": alt_svc_plan}
