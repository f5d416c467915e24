# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The report's sums over the fleet, and how it writes what hosts said into a Markdown table: as text, whatever the
host said."""

from __future__ import annotations

import datetime
import re

from ansible_collections.pqc.edge.plugins.filter.probes import hop_key, hop_offers

# The marks that work inside a table cell (emphasis, code, links, the cell separator); & and < are made entities
# so that nothing a host says becomes HTML.
_MARKDOWN = re.compile(r"([\\`*_\[\]|])")


def md_cell(value):
    """The value as the text of one Markdown table cell: one line, its marks escaped, no HTML."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    return _MARKDOWN.sub(r"\\\1", text)


# The counts pqc.edge.tls_traffic returns that add up over hosts.
TRAFFIC_COUNTS = ("tls_requests", "tls_connections", "quantum_safe_requests", "quantum_safe_connections",
                  "pq_capable_requests", "pq_capable_served_classical", "resumed_requests", "unparsed_lines")


def fleet_traffic(traffic):
    """The hosts' traffic counts (pqc.edge.tls_traffic results; empty ones skipped) added up, with the quantum-safe
    shares of the sums (None where there was no TLS traffic)."""
    counted = [entry for entry in traffic if entry]
    fleet = dict((key, sum(int(entry.get(key) or 0) for entry in counted)) for key in TRAFFIC_COUNTS)
    fleet["hosts"] = len(counted)
    for share, part, whole in (("quantum_safe_request_share", "quantum_safe_requests", "tls_requests"),
                               ("quantum_safe_connection_share", "quantum_safe_connections", "tls_connections")):
        fleet[share] = round(float(fleet[part]) / fleet[whole], 4) if fleet[whole] else None
    return fleet


# What pqc.edge.tls_traffic returns beside its counts.
TRAFFIC_NOT_COUNTS = ("changed", "failed", "invocation", "files")


def _certificates(lines, now):
    """{path: certificate} from the host read's `cert path|key algorithm|not after|issuer|subject|not before|signature
    algorithm|key size` lines."""
    found = {}
    for line in lines:
        if not line.startswith("cert "):
            continue
        parts = [part.strip() for part in line[5:].split("|")]
        parts += [""] * (8 - len(parts))
        expiry = parts[2]
        try:
            days_left = (datetime.datetime.strptime(expiry, "%b %d %H:%M:%S %Y GMT") - now).days if expiry else None
        except ValueError:
            days_left = None
        found[parts[0]] = {"path": parts[0], "key_algorithm": parts[1], "not_after": expiry,
                           "issuer": parts[3] or None, "days_left": days_left, "subject": parts[4] or None,
                           "not_before": parts[5] or None, "signature_algorithm": parts[6] or None,
                           "key_size": parts[7] or None}
    return found


def _named(endpoint):
    return "%s:%s" % (endpoint.get("server_name") or "", endpoint.get("port"))


def _version(text):
    return tuple(int(part) for part in re.findall(r"[0-9]+", text or "")[:3])


def _server_row(enum, classical, over_quic, server, certificates, trusted):
    """One server's row: what each offer got, what it supports, its certificates, its verdict and why."""
    endpoint = enum["item"]
    probed = not enum.get("failed") and "negotiated_group" in enum
    # Quantum-safe: a hybrid, or under a profile such as CNSA 2.0 a pure ML-KEM group.
    quic_hybrid = over_quic is None or bool(over_quic.get("quantum_safe"))
    hybrid = probed and bool(enum.get("quantum_safe")) and quic_hybrid
    if endpoint.get("reason"):
        why = endpoint["reason"]
    elif not probed:
        why = enum.get("msg") or "no answer"
    elif not quic_hybrid:
        why = "over HTTP/3 (QUIC): %s for a post-quantum offer" % (
            over_quic["msg"] if "msg" in over_quic else "negotiated %s" % (over_quic.get("negotiated_group") or "nothing"))
    elif hybrid:
        why = "pqc.edge site, policy at http level" if endpoint.get("site") else "inherits the http-level policy"
    else:
        why = "negotiated %s for a post-quantum offer" % (enum.get("negotiated_group") or "nothing")
    return {
        "server_name": endpoint.get("server_name"), "port": endpoint.get("port"),
        "served_by": ("pqc.edge site %s" % endpoint["site"]) if endpoint.get("site")
        else "operator" if endpoint.get("file") else "unknown",
        "file": endpoint.get("file"), "line": endpoint.get("line"),
        "pq_offer_group": enum.get("negotiated_group"), "pq_offer_quantum_safe": enum.get("quantum_safe", False),
        "classical_offer_group": classical.get("negotiated_group"),
        "http3_pq_offer_group": None if over_quic is None else over_quic.get("negotiated_group") or "no answer",
        "supported_groups": enum.get("supported_groups", []), "server_preference": enum.get("server_preference"),
        "tls_version": enum.get("tls_version"), "cipher_suite": enum.get("cipher_suite"),
        "pq_enforced": enum.get("pq_enforced"),
        "certificates": [dict(certificates[path], trusted=trusted.get("%s:%s" % (_named(endpoint), certificates[path]["key_algorithm"])))
                         for path in server.get("certificates", []) if path in certificates],
        "verdict": (("hybrid" if enum.get("group_kind") == "hybrid" else "post-quantum") if hybrid else "classical")
        if probed else "unreachable",
        "why": why,
        # The judgement of the host's compliance profile (pqc.edge.tls_probe), where it runs under one.
        "compliance": enum.get("compliance"),
    }


def tls_library_of(lines):
    """The TLS library nginx runs with, from its `nginx -V` lines: "AWS-LC 5.1.0" from "built with OpenSSL 1.1.1
    (compatible; AWS-LC 5.1.0) (running with AWS-LC 5.1.0)", "OpenSSL 3.5.4" from "built with OpenSSL 3.5.1 1 Jul 2025
    (running with OpenSSL 3.5.4 30 Sep 2025)"; None without such a line."""
    for line in lines:
        if not line.startswith("built with "):
            continue
        running = re.search(r"\(running with ([^)]*)\)", line)
        compatible = re.search(r"\(compatible; ([^)]*)\)", line)
        text = (running or compatible).group(1) if (running or compatible) else line[len("built with "):]
        return " ".join(text.split()[:2]) or None
    return None


def report_row(answers, survey):
    """One host's row of pqc.edge.report, from the answers (pqc.edge.probe_answers of a pqc.edge.report_plan) and what
    the survey read (a dict): host, address (the one probed), reachable, lines (the host's `openssl version`,
    `nginx -V` and `cert ...` lines), servers (pqc.edge.nginx_servers' result), os, crypto_provider (the inventory's
    setting) and traffic (pqc.edge.tls_traffic's result). Each answer is matched to its server by the server's name
    and port, not by position; the host's verdict is PQ-ready, partly PQ, classical only or unreachable (PQ-ready
    needs every hop to a TLS upstream quantum-safe and verified, or pinned classical by its site)."""
    now = datetime.datetime.utcnow()
    lines = survey.get("lines") or []
    nginx_read = survey.get("servers") or {}
    certificates = _certificates(lines, now)
    by_file_line = dict(("%s:%s" % (server.get("file"), server.get("line")), server) for server in nginx_read.get("servers", []))
    classical = dict((_named(answer["item"]), answer) for answer in answers.get("classical", []))
    quic = dict((_named(answer["item"]), answer) for answer in answers.get("quic_pq", []))
    trusted = dict(("%s:%s" % (_named(answer["item"][0]), answer.get("certificate_key_algorithm")), answer["certificate_verified"])
                   for answer in answers.get("trust", []) if "certificate_verified" in answer)
    servers = [_server_row(enum, classical.get(_named(enum["item"]), {}), quic.get(_named(enum["item"])),
                           by_file_line.get("%s:%s" % (enum["item"].get("file"), enum["item"].get("line")), {}),
                           certificates, trusted)
               for enum in answers.get("enumerate", [])]
    offers = hop_offers(answers.get("hop_offer", []))
    hops = [_hop_row(answer, offers.get(hop_key(answer["item"]), {})) for answer in answers.get("hop", [])]
    primary = ([server for server in servers if server["served_by"].startswith("pqc.edge site")] + servers + [{}])[0]
    answering = [server for server in servers if server["verdict"] != "unreachable"]
    hybrids = len([server for server in answering if server["verdict"] in ("hybrid", "post-quantum")])
    # A profile may refuse classical clients by design (CNSA 2.0); without one, they must still be served.
    profiled = answering and all(server["compliance"] for server in answering)
    if not answering:
        verdict = "unreachable"
    elif hybrids == len(answering) and (profiled or all(server["classical_offer_group"] for server in answering)) \
            and all(hop["pinned"] or (hop["quantum_safe"] and hop["certificate_verified"]) for hop in hops):
        verdict = "PQ-ready"
    else:
        verdict = "partly PQ" if hybrids else "classical only"
    openssl = ([line.split(" ")[1] for line in lines if line.startswith("OpenSSL ") and " " in line] + [None])[0]
    nginx = ([line[len("nginx version: nginx/"):] for line in lines if line.startswith("nginx version: nginx/")] + [None])[0]
    provider = survey.get("crypto_provider") or "auto"
    if provider == "auto":
        provider = ("native" if _version(openssl) >= (3, 5, 0) else "oqsprovider") if openssl else None
    curve = (nginx_read.get("http_policy") or {}).get("ssl_ecdh_curve")
    traffic = survey.get("traffic") or {}
    first = (answers.get("enumerate") or [{}])[0]
    return {
        "host": survey.get("host"), "address": "%s:%s" % (survey.get("address"), primary.get("port")),
        "reachable": bool(survey.get("reachable")), "os": (survey.get("os") or "").strip() or None,
        "openssl": openssl, "nginx": nginx or None, "tls_library": tls_library_of(lines), "crypto_provider": provider,
        "configured_groups": curve.get("value") if curve else None,
        "supported_groups": primary.get("supported_groups"), "server_preference": primary.get("server_preference"),
        "pq_enforced": primary.get("pq_enforced"), "pq_offer_group": primary.get("pq_offer_group"),
        "pq_offer_quantum_safe": primary.get("pq_offer_quantum_safe"),
        "classical_offer_group": primary.get("classical_offer_group"), "certificates": primary.get("certificates"),
        "servers": servers, "verdict": verdict, "compliance": primary.get("compliance"),
        "traffic": dict((key, value) for key, value in traffic.items() if key not in TRAFFIC_NOT_COUNTS)
        if "tls_requests" in traffic else None,
        "upstream_hops": hops,
        "traffic_error": traffic.get("msg"),
        "error": nginx_read.get("msg") if nginx_read.get("failed") else first.get("msg") if verdict == "unreachable" else None,
    }


def _hop_row(answer, offers):
    """One hop from a site to a TLS upstream, as probed from the edge: what it negotiated and whether nginx's trust
    verified the upstream's certificate, what the front's offers got from the same upstream (offers: {name: answer});
    pinned is the site's reason for a classical hop."""
    hop = answer["item"]
    return {"site": hop["site"], "location": hop["path"], "upstream": hop["upstream"], "groups_offered": hop["groups"],
            "negotiated_group": answer.get("negotiated_group"), "quantum_safe": bool(answer.get("quantum_safe")),
            "pq_offer_group": offers.get("pq", {}).get("negotiated_group"),
            "x25519_share_group": offers.get("predicted", {}).get("negotiated_group"),
            "classical_offer_group": offers.get("classical", {}).get("negotiated_group"),
            "certificate_verified": bool(answer.get("certificate_verified")), "ca_file": hop["ca_file"],
            "verify_error": answer.get("verify_error"), "pinned": hop["pinned"],
            "error": answer.get("msg") if answer.get("failed") else None}


class FilterModule(object):
    def filters(self):
        return {"md_cell": md_cell, "fleet_traffic": fleet_traffic, "report_row": report_row}
