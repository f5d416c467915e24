# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where each of an edge's listeners is probed from, and the answers put back with the listener they are about.

The listeners come from the edge's own nginx configuration, which a host that has been taken over writes as it likes.
The controller therefore probes only the address the inventory gives the host; a listener the edge names by an address
of its own (loopback, link-local, or any other) is probed from the host itself, so an edge can neither have the
controller judge the controller's own services nor point it at another machine.
"""

from __future__ import annotations

import ipaddress

from ansible.errors import AnsibleFilterError


def is_local_address(address):
    """True for loopback and link-local addresses (and the name localhost): they mean another machine to each side."""
    if address is None:
        return False
    if str(address).lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        parsed = ipaddress.ip_address(str(address).split("%", 1)[0])
    except ValueError:
        return False
    return parsed.is_loopback or parsed.is_link_local


def probe_target(endpoint, probe_from="controller", address=None, port_map=None):
    """side (controller or host), host and port to probe one listener (an endpoint of pqc.edge.nginx_servers) at.

    probe_from and address are the inventory's pqc_edge_probe_from and the address it probes the host at; port_map
    ({server port: port}) is how the ports reach the probing side (NAT, docker -p).
    """
    if probe_from not in ("controller", "host"):
        raise AnsibleFilterError("pqc_edge_probe_from must be controller or host, not %r" % (probe_from,))
    listen = endpoint.get("address")
    port = int(endpoint["port"])
    mapped = int((port_map or {}).get(port, port))
    if probe_from == "host":
        return {"side": "host", "host": listen or address or "127.0.0.1", "port": mapped}
    if listen is None or (listen == address and not is_local_address(listen)):
        return {"side": "controller", "host": address, "port": mapped}
    # An address only the edge names: its own port, probed from itself.
    return {"side": "host", "host": listen, "port": port}


PQ_SIGNATURES = ["mldsa44", "mldsa65", "mldsa87"]
CLASSICAL_SIGNATURES = ["ecdsa_secp256r1_sha256", "ecdsa_secp384r1_sha384", "rsa_pss_rsae_sha256", "rsa_pss_rsae_sha384",
                        "rsa_pkcs1_sha256"]
# Where Debian keeps the system's trusted roots (Let's Encrypt's among them).
SYSTEM_TRUST = "/etc/ssl/certs/ca-certificates.crt"


# The client offers every plan makes: a hybrid-capable client that predicted X25519 (its key share goes to X25519
# only), and a classical-only one.
PREDICTED_OFFER = {"groups": ["X25519", "X25519MLKEM768"]}
CLASSICAL_OFFER = {"groups": ["X25519", "secp256r1"]}
# A post-quantum client's offer, key shares for the hybrid and X25519.
PQ_OFFER = {"groups": ["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "secp256r1"], "key_shares": ["X25519MLKEM768", "X25519"]}
# The front's three client offers, by the name the table and the report give them.
FRONT_OFFERS = (("pq", PQ_OFFER), ("predicted", PREDICTED_OFFER), ("classical", CLASSICAL_OFFER))


def checked_profile(profile, who):
    """profile as pqc.edge.compliance_profile returns it (or None), else an error naming who was given what."""
    if profile is not None and not (isinstance(profile, dict) and profile.get("name") and profile.get("groups")):
        raise AnsibleFilterError("%s: profile must be pqc.edge.compliance_profile's result, not %r" % (who, profile))
    return profile


def profile_offer(profile):
    """A post-quantum offer of the profile's own groups (CNSA 2.0 allows no hybrid), its first group's key share sent."""
    return {"groups": profile["groups"], "key_shares": profile["groups"][:1]}


def judged_offer(profile, side):
    """A probe that also judges the server against the profile, starting from an offer the profile allows; with the
    openssl engine where it runs on the host, whose own OpenSSL completes handshakes and so reads the certificate."""
    return dict(profile_offer(profile), profile=profile, engine="openssl" if side == "host" else "python")


def _port_map(ports, option):
    """{server port: port to probe} with both sides as integers; a value that is not a port is named."""
    try:
        return dict((int(port), int(mapped)) for port, mapped in (ports or {}).items())
    except (AttributeError, TypeError, ValueError):
        raise AnsibleFilterError("%s must map ports to ports, not %r" % (option, ports))


def probe_settings(certificates, inventory_address, given=None):
    """How one host is probed, from the certificates role's fact (pqc_edge_certificates), the address the inventory
    gives the host, and what the inventory sets of pqc_edge_probe_* (given: from, address, ports, quic_ports, ca_files,
    acme_ca_files, and openssl_path, the host's OpenSSL command line where the roles know it; None or missing for
    unset). Returns from, address, ports, quic_ports, trust_offers (each offer's kind,
    signature_algorithms and ca_files; offers without CA files are left out), issued_sites, profile and openssl_path.

    Trust: ca_files gives the CA files of both offers. With the fleet CA they default to its roots on the probing side,
    the ML-DSA root alone for the ML-DSA certificate and the classical root alone for the classical one; with an ACME
    directory the classical certificates chain to acme_ca_files, by default the probing side's system trust store.
    Self-signed certificates are verified against nothing."""
    given = dict((key, value) for key, value in (given or {}).items() if value is not None)
    certificates = certificates or {}
    probe_from = given.get("from", "controller")
    if probe_from not in ("controller", "host"):
        raise AnsibleFilterError("pqc_edge_probe_from must be controller or host, not %r" % (probe_from,))
    address = given.get("address", inventory_address if probe_from == "controller" else "127.0.0.1")
    ports = _port_map(given.get("ports"), "pqc_edge_probe_ports")
    quic_ports = _port_map(given.get("quic_ports", given.get("ports")), "pqc_edge_probe_quic_ports")
    if "ca_files" in given:
        pq_files = classical_files = list(given["ca_files"])
    else:
        fleet = certificates.get("authority") == "fleet_ca"
        roots = fleet and "%s/" % certificates["fleet_roots_dir"][probe_from]
        pq_files = [roots + certificates["fleet_root_files"]["pq"]] if fleet else []
        if certificates.get("acme"):
            classical_files = list(given.get("acme_ca_files", [SYSTEM_TRUST]))
        else:
            classical_files = [roots + certificates["fleet_root_files"]["classical"]] if fleet else []
    offers = [{"kind": "ML-DSA", "signature_algorithms": PQ_SIGNATURES, "ca_files": pq_files},
              {"kind": "classical", "signature_algorithms": CLASSICAL_SIGNATURES, "ca_files": classical_files}]
    profile = checked_profile(given.get("profile"), "probe_settings")
    return {"from": probe_from, "address": address, "ports": ports, "quic_ports": quic_ports,
            "trust_offers": [offer for offer in offers if offer["ca_files"]],
            "issued_sites": list(certificates.get("issued_sites") or []),
            "profile": profile, "openssl_path": given.get("openssl_path")}


def hop_steps(hops, openssl_path=None):
    """For each hop from a site to a TLS upstream (pqc_edge_nginx.upstream_hops), one handshake from the edge itself
    with the edge's own offer to the upstream, its certificate verified as nginx verifies it: against the hop's CA file
    (None: the host's system CA bundle) for the name in the URL; with the edge's client certificate where nginx shows
    one (kind hop: this one judges the hop). Then the front's three client offers to the same upstream (kind
    hop_offer, item [hop, offer name]), which say what it supports. openssl_path: the host's OpenSSL 3.5 command line
    where it is not the one on the PATH (the static build's)."""
    if not isinstance(hops, list):
        raise AnsibleFilterError("the upstream hops must be the nginx role's pqc_edge_nginx.upstream_hops, not %r" % (hops,))
    steps = []
    for hop in hops:
        where = {"host": hop["host"], "port": int(hop["port"]), "server_name": hop["server_name"]}
        probe = dict(where, engine="openssl", groups=hop["groups"], ca_files=[hop["ca_file"] or SYSTEM_TRUST])
        if hop.get("client_certificate"):
            probe.update(client_certificate=hop["client_certificate"], client_key=hop["client_key"])
        if openssl_path:
            probe["openssl_path"] = openssl_path
        steps.append({"kind": "hop", "item": hop, "side": "host", "probe": probe})
        steps += [{"kind": "hop_offer", "item": [hop, name], "side": "host", "probe": dict(where, **offer)}
                  for name, offer in FRONT_OFFERS]
    return steps


def probe_plan(servers, settings, hops=None):
    """Every probe verify_edge.yml makes, in order: for each TLS server a post-quantum offer, a client that supports
    the hybrid but sent only an X25519 key share, and a classical-only offer, and for each pqc.edge-issued site's server
    the trust offers (made only where the probe runs on the side the CA files are on); for each HTTP/3 server a
    post-quantum and a classical offer over QUIC; for each hop to a TLS upstream (hops: pqc_edge_nginx.upstream_hops)
    the edge's own offer from the host (hop_steps). Each step: kind, item (the endpoint, [endpoint, offer] for trust,
    the hop for a hop), side, and probe (tls_probe's options). settings: pqc.edge.probe_settings' result."""
    if not isinstance(servers, dict):
        raise AnsibleFilterError("probe_plan expects the result of pqc.edge.nginx_servers")
    plan = []
    for endpoint in servers.get("tls_endpoints", []):
        target = probe_target(endpoint, settings["from"], settings["address"], settings["ports"])
        where = {"host": target["host"], "port": target["port"], "server_name": endpoint.get("server_name") or None}
        for kind, offer in FRONT_OFFERS:
            plan.append({"kind": kind, "item": endpoint, "side": target["side"], "probe": dict(where, **offer)})
        plan += _trust_steps(endpoint, target, where, settings)
        if settings.get("profile"):
            plan.append({"kind": "compliance", "item": endpoint, "side": target["side"],
                         "probe": dict(where, **judged_offer(settings["profile"], target["side"]))})
    for endpoint in servers.get("quic_endpoints", []):
        target = probe_target(endpoint, settings["from"], settings["address"], settings["quic_ports"])
        where = {"host": target["host"], "port": target["port"], "server_name": endpoint.get("server_name") or None,
                 "transport": "quic"}
        quic_offer = profile_offer(settings["profile"]) if settings.get("profile") else PQ_OFFER
        for kind, offer in (("quic_pq", quic_offer), ("quic_classical", CLASSICAL_OFFER)):
            plan.append({"kind": kind, "item": endpoint, "side": target["side"], "probe": dict(where, **offer)})
    return plan + hop_steps(hops or [], settings.get("openssl_path"))


def _trust_steps(endpoint, target, where, settings):
    """For a pqc.edge-issued site's server, one handshake per trust offer, checking its certificate against the offer's
    CA files; made only where the probe runs on the side the CA files are on."""
    if endpoint.get("site") not in settings["issued_sites"] or target["side"] != settings["from"]:
        return []
    return [{"kind": "trust", "item": [endpoint, offer], "side": target["side"], "probe": dict(
        where, engine="openssl", groups=["X25519MLKEM768", "X25519", "secp256r1"],
        signature_algorithms=offer["signature_algorithms"], ca_files=offer["ca_files"])} for offer in settings["trust_offers"]]


def report_plan(servers, hostname, fallback_port, settings, hops=None):
    """Every probe pqc.edge.report makes, each server once per question: for each TLS server an enumeration (which
    also answers what the default post-quantum offer negotiates) and a classical-only offer, the trust offers for a
    pqc.edge-issued site's server; for each HTTP/3 server a post-quantum offer over QUIC; each hop to a TLS upstream
    as probe_plan probes it (hops: pqc_edge_nginx.upstream_hops). Where nginx's servers could
    not be read (unreachable host, no nginx), the default TLS port at the host's name stands for them. settings:
    pqc.edge.probe_settings' result."""
    servers = servers if isinstance(servers, dict) else {}
    endpoints = servers.get("tls_endpoints") or [{"port": int(fallback_port), "address": None, "server_name": hostname,
                                                  "site": None, "file": None, "line": None, "reason": None}]
    plan = []
    for endpoint in endpoints:
        target = probe_target(endpoint, settings["from"], settings["address"], settings["ports"])
        where = {"host": target["host"], "port": target["port"], "server_name": endpoint.get("server_name") or None}
        enumeration = dict(where, enumerate=True)
        if settings.get("profile"):
            enumeration.update(judged_offer(settings["profile"], target["side"]))
        plan.append({"kind": "enumerate", "item": endpoint, "side": target["side"], "probe": enumeration})
        plan.append({"kind": "classical", "item": endpoint, "side": target["side"],
                     "probe": dict(where, **CLASSICAL_OFFER)})
        plan += _trust_steps(endpoint, target, where, settings)
    for endpoint in servers.get("quic_endpoints") or []:
        target = probe_target(endpoint, settings["from"], settings["address"], settings["quic_ports"])
        quic = {"host": target["host"], "port": target["port"], "server_name": endpoint.get("server_name") or None,
                "transport": "quic"}
        if settings.get("profile"):
            quic.update(profile_offer(settings["profile"]))
        plan.append({"kind": "quic_pq", "item": endpoint, "side": target["side"], "probe": quic})
    return plan + hop_steps(hops or [], settings.get("openssl_path"))


def probes_from(plan, side):
    """tls_probe's probes of the plan's steps run from one side, in plan order."""
    return [step["probe"] for step in plan if step["side"] == side]


def quic_retries(plan, answers_from_controller):
    """For each HTTP/3 step the controller could not get an answer for: the same offer from the host itself, at the
    listener's own address and port (what the host's nginx serves, whatever the path to it lets through)."""
    answers = iter(answers_from_controller or [])
    retries = []
    for step in plan:
        if step["side"] != "controller":
            continue
        answer = next(answers, None)
        if step["kind"].startswith("quic_") and (answer is None or answer.get("failed")):
            endpoint = step["item"]
            retries.append(dict(step["probe"], host=endpoint.get("address") or "127.0.0.1", port=int(endpoint["port"])))
    return retries


def probe_answers(plan, from_controller=None, from_host=None, quic_retried=None, missing=None):
    """The answers by kind (pq, predicted, classical, trust, quic_pq, quic_classical, and the report's enumerate),
    each with the step's item and side. An HTTP/3 answer the controller did not get but the host did is the host's,
    with blocked_from_controller holding what the controller saw: a path that drops UDP, which clients survive over
    TCP. missing: why a side has no answers (the host was unreachable), making each a failed answer saying so;
    without it, answers that are missing are an error."""
    sources = {"controller": iter(from_controller or []), "host": iter(from_host or [])}
    retried = iter(quic_retried or [])
    by_kind = dict((kind, []) for kind in ("pq", "predicted", "classical", "trust", "quic_pq", "quic_classical",
                                           "enumerate", "split", "compliance", "hop", "hop_offer", "certificate"))
    for step in plan:
        answer = next(sources[step["side"]], None)
        if answer is None and missing:
            answer = {"failed": True, "msg": missing}
        if answer is None:
            raise AnsibleFilterError("probe_answers: fewer answers than probes from the %s" % step["side"])
        answer = dict(answer, item=step["item"], side=step["side"])
        if step["side"] == "controller" and step["kind"].startswith("quic_") and answer.get("failed"):
            again = next(retried, None)
            if again is not None and not again.get("failed"):
                answer = dict(again, item=step["item"], side="host", blocked_from_controller=answer.get("msg"))
            elif again is not None:
                answer["msg"] = "%s; and on the host itself: %s" % (answer.get("msg"), again.get("msg"))
        by_kind[step["kind"]].append(answer)
    return by_kind


TABLE_FORMAT = "%-34s %-24s %-16s %-22s %-10s %s"


def _key(endpoint):
    """What tells one listener of one server from another: its file and line, address, port and server name."""
    return (endpoint.get("file"), endpoint.get("line"), endpoint.get("address"), endpoint.get("port"),
            endpoint.get("server_name"))


def _by_endpoint(answers):
    return dict((_key(answer["item"]), answer) for answer in answers)


def _group(answer, fallback):
    return answer.get("negotiated_group") or fallback


def _served_by(endpoint):
    return ("site %s" % endpoint["site"]) if endpoint.get("site") else "operator"


def probe_verdict(answers, inventory_hostname, probe_from="controller", tls_library=None):
    """What verify_edge.yml says of a host from probe_answers' answers, each client offer matched to its server by the
    server's file, line, address, port and name (not by position): failures (empty when the host passes), the table
    of what each offer negotiated, a line per certificate on whom it verified against, the HTTP/3 servers only the host
    could reach, and the counts the success message gives.

    A server whose own settings keep it classical (its endpoint has a reason) is reported, not failed; every other one
    must negotiate a hybrid group for a post-quantum offer, and every one must still serve a classical-only offer.
    tls_library: what nginx serves TLS with (pqc_edge_nginx.tls_library), which decides what its hops can verify."""
    predicted, classical = _by_endpoint(answers.get("predicted", [])), _by_endpoint(answers.get("classical", []))
    quic_classical = _by_endpoint(answers.get("quic_classical", []))
    compliance = _by_endpoint(answers.get("compliance", []))
    # Under a profile a classical client may rightly be refused, and its own groups are the post-quantum offer.
    profiled = bool(answers.get("compliance"))
    failures, table = [], [TABLE_FORMAT % ("server name:port", "served by", "PQ offer", "X25519 share", "classical",
                                           "PQ-safe")]
    for pq in answers.get("pq", []):
        endpoint = pq["item"]
        other = classical.get(_key(endpoint), {"failed": True, "msg": "no classical probe"})
        share = predicted.get(_key(endpoint), {})
        table.append(TABLE_FORMAT % (
            "%s:%s" % (endpoint.get("server_name") or "(default)", endpoint["port"]), _served_by(endpoint),
            _group(pq, "refused"), _group(share, "refused") + (" (HRR)" if share.get("hello_retry_request") else ""),
            _group(other, "refused"), pq.get("quantum_safe", False))
            + ("" if endpoint.get("reason") is None else "  <- %s" % endpoint["reason"]))
        where = "%s (%s:%s%s, server name %s, %s:%s)" % (
            inventory_hostname, pq.get("host"), pq.get("port"), ", from the host" if pq.get("side") != probe_from else "",
            endpoint.get("server_name") or "(none)", endpoint.get("file"), endpoint.get("line"))
        judged = compliance.get(_key(endpoint))
        if judged is not None:
            # Under a compliance profile the profile says what each client gets (CNSA 2.0 serves no classical client).
            table.append(_compliance_line(judged))
            if judged.get("failed"):
                failures.append("%s could not be judged against its profile: %s" % (where, judged.get("msg")))
            elif endpoint.get("reason") is None:
                failures.extend("%s: profile %s: %s" % (where, judged["compliance"]["profile"], point)
                                for point in judged["compliance"]["failed"])
            continue
        if pq.get("failed") or other.get("failed"):
            failures.append("%s could not be probed: %s" % (where, pq.get("msg") if pq.get("failed") else other.get("msg")))
            continue
        if endpoint.get("reason") is None and pq.get("group_kind") != "hybrid":
            failures.append("%s negotiated %s for a post-quantum client offer (alert: %s)" % (
                where, _group(pq, "nothing"), pq.get("alert") or "none"))
        if other.get("negotiated_group") is None:
            failures.append("%s refused a classical-only client offer" % where)
    trust = []
    for probe in answers.get("trust", []):
        endpoint, offer = probe["item"]
        name = endpoint.get("server_name") or "(none)"
        if probe.get("certificate_verified"):
            trust.append("%s:%s %s: verified, issuer %s, %s days left" % (
                endpoint.get("server_name") or "(default)", endpoint["port"], probe.get("certificate_key_algorithm"),
                probe.get("certificate_issuer"), probe.get("certificate_days_left")))
        else:
            trust.append("%s:%s %s: NOT verified: %s" % (
                endpoint.get("server_name") or "(default)", endpoint["port"],
                probe.get("certificate_key_algorithm", "no certificate"),
                probe.get("verify_error", probe.get("msg", "no handshake"))))
        if probe.get("failed"):
            failures.append("%s (server name %s, port %s): its certificates could not be checked against %s: %s" % (
                inventory_hostname, name, endpoint["port"], ", ".join(offer["ca_files"]), probe.get("msg")))
        elif "certificate_verified" in probe and not probe["certificate_verified"]:
            failures.append("%s (server name %s, port %s): its %s certificate did not verify against %s: %s" % (
                inventory_hostname, name, endpoint["port"], probe.get("certificate_key_algorithm", ""),
                ", ".join(offer["ca_files"]), probe.get("verify_error", "unknown reason")))
    blocked = []
    for pq in answers.get("quic_pq", []):
        endpoint = pq["item"]
        other = quic_classical.get(_key(endpoint), {})
        table.append(TABLE_FORMAT % (
            "%s:%s/udp" % (endpoint.get("server_name") or "(default)", endpoint["port"]),
            _served_by(endpoint) + ", HTTP/3", _group(pq, "no answer"), "-", _group(other, "no answer"),
            pq.get("quantum_safe", False)))
        if "blocked_from_controller" in pq:
            blocked.append({"server_name": endpoint.get("server_name"), "port": endpoint["port"],
                            "blocked_from_controller": pq["blocked_from_controller"]})
        where = "%s (%s:%s/udp%s, HTTP/3, server name %s, %s:%s)" % (
            inventory_hostname, pq.get("host"), pq.get("port"), ", from the host" if pq.get("side") != probe_from else "",
            endpoint.get("server_name") or "(none)", endpoint.get("file"), endpoint.get("line"))
        if "negotiated_group" not in pq:
            failures.append("%s did not answer over QUIC: %s" % (where, pq.get("msg", "no result")))
        elif endpoint.get("reason") is None and not (pq.get("quantum_safe") if profiled else pq.get("group_kind") == "hybrid"):
            failures.append("%s negotiated %s over QUIC for a post-quantum client offer (alert: %s)" % (
                where, _group(pq, "nothing"), pq.get("alert") or "none"))
        elif other.get("negotiated_group") is None and not profiled:
            failures.append("%s refused a classical-only client offer over QUIC" % where)
    offers = hop_offers(answers.get("hop_offer", []))
    hops = [_hop_line(hop, offers.get(hop_key(hop["item"]), {})) for hop in answers.get("hop", [])]
    # Each hop's problem once: its failure, or None for a hop that passes (pinned or quantum-safe and verified).
    hop_problems = [(hop, _hop_problem(hop, inventory_hostname, tls_library)) for hop in answers.get("hop", [])]
    failures += [problem for dummy, problem in hop_problems if problem]
    return {
        "failures": failures, "table": table + (["upstream hops, probed from the host with the edge's own offer:"] + hops
                                                if hops else []),
        "trust": trust, "quic_blocked": blocked,
        "counts": {"tls": len(answers.get("pq", [])), "quic": len(answers.get("quic_pq", [])),
                   "hybrid": len([pq for pq in answers.get("pq", []) if pq.get("group_kind") == "hybrid"]),
                   "quic_blocked": len(blocked),
                   "compliant": len([answer for answer in answers.get("compliance", [])
                                     if answer.get("compliance", {}).get("compliant")]),
                   "verified": len([probe for probe in answers.get("trust", []) if probe.get("certificate_verified")]),
                   "hops": len(answers.get("hop", [])),
                   "hops_safe": len([hop for hop, problem in hop_problems if problem is None and not hop["item"]["pinned"]])},
    }


def _hop_name(hop):
    return "site %s location %s -> %s" % (hop["site"], hop["path"], hop["upstream"])


def hop_key(hop):
    """What tells one hop from another: its site, location, host and port."""
    return (hop["site"], hop["path"], hop["host"], int(hop["port"]))


def hop_offers(answers):
    """{hop key: {offer name: answer}} of the front's offers to each hop's upstream."""
    offers = {}
    for answer in answers:
        hop, name = answer["item"]
        offers.setdefault(hop_key(hop), {})[name] = answer
    return offers


def _hop_line(answer, offers):
    """The table's line of one hop: what it negotiated and whether the upstream's certificate verified, then what the
    front's offers got from the same upstream."""
    hop = answer["item"]
    if answer.get("failed"):
        said = "no handshake (%s)" % answer.get("msg")
    else:
        said = "%s, certificate %s against %s" % (
            _group(answer, "refused"), "verified" if answer.get("certificate_verified") else
            "NOT verified (%s)" % answer.get("verify_error"), hop["ca_file"] or "the system CA bundle")
    front = "; front offers: PQ %s, X25519 share %s%s, classical %s" % (
        _group(offers.get("pq", {}), "refused"), _group(offers.get("predicted", {}), "refused"),
        " (HRR)" if offers.get("predicted", {}).get("hello_retry_request") else "",
        _group(offers.get("classical", {}), "refused")) if offers else ""
    return "  %s: %s%s%s" % (_hop_name(hop), said, front, "  <- %s" % hop["pinned"] if hop["pinned"] else "")


def _hop_problem(answer, inventory_hostname, tls_library=None):
    """Why a hop fails the host, or None: it must complete a handshake with a certificate nginx verifies, over a
    quantum-safe group unless the location pins it classical.

    The probe verifies with OpenSSL's command line, which takes a self-signed server certificate found in the CA file
    as its own trust anchor. AWS-LC does not (../shared/notes/pqc-facts.md: such a hop answers 502), so on an nginx
    built on AWS-LC a hop verified only that way fails: its upstream's certificate names itself as its issuer."""
    hop = answer["item"]
    where = "%s: the hop from %s (%s:%s, server name %s)" % (
        inventory_hostname, _hop_name(hop), hop["host"], hop["port"], hop["server_name"])
    trusted = hop["ca_file"] or "the system CA bundle"
    if answer.get("failed") or answer.get("negotiated_group") is None:
        return "%s could not be probed from the host: %s" % (where, answer.get("msg") or answer.get("alert") or "no handshake")
    if not answer.get("certificate_verified"):
        return "%s: the upstream's certificate did not verify against %s: %s" % (where, trusted, answer.get("verify_error"))
    if str(tls_library or "").startswith("AWS-LC") and answer.get("certificate_subject") \
            and answer.get("certificate_subject") == answer.get("certificate_issuer"):
        return ("%s: the upstream's certificate (%s) is self-signed and verifies against %s only as its own trust anchor, "
                "which %s does not accept (nginx answers 502): give the hop the CA that issued it" % (
                    where, answer["certificate_subject"], trusted, tls_library))
    if not answer.get("quantum_safe") and not hop["pinned"]:
        return "%s negotiated %s: the upstream took none of the quantum-safe groups the edge offers (%s)" % (
            where, answer["negotiated_group"], ":".join(hop["groups"]))
    return None


def _compliance_line(judged):
    """The table's line under a server judged against a profile."""
    if judged.get("failed"):
        return "    profile: not judged (%s)" % judged.get("msg")
    verdict = judged["compliance"]
    said = {True: "compliant", False: "NOT compliant (%d points)" % len(verdict["failed"]),
            None: "no point failed, not all checked"}[verdict["compliant"]]
    unchecked = ("; not checked: " + "; ".join(verdict["not_checked"])) if verdict["not_checked"] else ""
    return "    profile %s: %s%s" % (verdict["profile"], said, unchecked)


class FilterModule(object):
    def filters(self):
        return {"probe_target": probe_target, "probe_settings": probe_settings, "probe_plan": probe_plan,
                "report_plan": report_plan, "probes_from": probes_from, "quic_retries": quic_retries, "probe_answers": probe_answers,
                "probe_verdict": probe_verdict}
