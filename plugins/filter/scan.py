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
from ansible_collections.pqc.edge.plugins.filter.probes import CLASSICAL_OFFER, PREDICTED_OFFER, checked_profile, probe_answers
from ansible_collections.pqc.edge.plugins.filter.report import report_row

_HOST = r"(?P<host>[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[(?P<v6>[0-9A-Fa-f:.]+)\])"
_TARGET = re.compile(r"^%s:(?P<port>[0-9]{1,5})$" % _HOST)
_URL = re.compile(r"^https://%s(?::(?P<port>[0-9]{1,5}))?(?:[/?#][^\s]*)?$" % _HOST)
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
# The post-quantum offer again, its ClientHello sent in pieces of this many bytes, each its own TCP segment: what a
# large hybrid ClientHello may look like after the network, and what servers that expect it in one read fail on.
SPLIT = {"groups": ["X25519MLKEM768", "X25519"], "client_hello_segment_size": 256}


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
    if quic is not None and not isinstance(quic, bool):
        raise AnsibleFilterError("pqc_edge_scan_targets: quic %r of %s is not true or false" % (quic, text))
    return {"target": text, "host": host, "port": port, "server_name": server_name, "quic": quic}


def scan_plan(targets, profile=None, quic=False):
    """Every probe of pqc.edge.scan, from the controller: per target an enumeration (whose first handshake is the
    post-quantum offer; it also judges the target against profile, pqc.edge.compliance_profile's result, when one is
    given), an X25519-share offer, a classical-only offer and the post-quantum offer in small TCP segments; and where
    asked (the target's own quic, else quic) the post-quantum offer over QUIC to the same port over UDP."""
    if not isinstance(targets, list) or not targets:
        raise AnsibleFilterError("pqc_edge_scan_targets must be a non-empty list, not %r" % (targets,))
    checked_profile(profile, "scan_plan")
    enumerate_offer = dict({"enumerate": True}, **({"profile": profile} if profile else {}))
    plan = []
    for target in targets:
        parsed = scan_target(target)
        endpoint = {"target": parsed["target"], "address": parsed["host"], "port": parsed["port"],
                    "server_name": parsed["server_name"], "site": None, "file": None, "line": None, "reason": None}
        where = {"host": parsed["host"], "port": parsed["port"], "server_name": parsed["server_name"]}
        for kind, offer in (("enumerate", enumerate_offer), ("predicted", PREDICTED_OFFER), ("classical", CLASSICAL_OFFER),
                            ("split", SPLIT)):
            plan.append({"kind": kind, "item": endpoint, "side": "controller", "probe": dict(where, **offer)})
        if parsed["quic"] if parsed["quic"] is not None else quic:
            plan.append({"kind": "quic_pq", "item": endpoint, "side": "controller",
                         "probe": dict(where, transport="quic", groups=SPLIT["groups"])})
    return plan


def scan_rows(plan, answers):
    """One row per target, shaped as pqc.edge.report's (its verdict: PQ-ready, partly PQ, classical only or
    unreachable), with what the X25519-share offer got beside it and whether the server answered the ClientHello
    split over many TCP segments (None where it answered neither way)."""
    by_kind = probe_answers(plan, answers)
    over_quic = dict((answer["item"]["target"], answer) for answer in by_kind["quic_pq"])
    rows = []
    for index, enum in enumerate(by_kind["enumerate"]):
        endpoint = enum["item"]
        one = {"enumerate": [enum], "classical": [by_kind["classical"][index]],
               "quic_pq": [over_quic[endpoint["target"]]] if endpoint["target"] in over_quic else []}
        row = report_row(one, {"host": endpoint["target"], "address": endpoint["address"], "reachable": True})
        predicted = by_kind["predicted"][index]
        split = by_kind["split"][index]
        whole_answered = not enum.get("failed") and enum.get("negotiated_group") is not None
        split_answered = not split.get("failed") and split.get("negotiated_group") is not None
        row["answers_split_client_hello"] = split_answered if whole_answered else None
        row["split_client_hello_error"] = split.get("msg") if whole_answered and not split_answered else None
        for server in row["servers"]:
            server["served_by"] = "scanned"
            if server["verdict"] == "hybrid":
                server["why"] = "negotiated %s for a post-quantum offer" % server["pq_offer_group"]
            server["x25519_share_group"] = predicted.get("negotiated_group")
            server["hello_retry_request"] = predicted.get("hello_retry_request")
        row["x25519_share_group"] = predicted.get("negotiated_group")
        rows.append(row)
    return rows


class FilterModule(object):
    def filters(self):
        return {"scan_target": scan_target, "scan_plan": scan_plan, "scan_rows": scan_rows}
