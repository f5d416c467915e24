# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the certificates role makes of the sites: the certificates it issues, the ones sites bring, what each site
serves, and which names a fleet CA's domains leave out; and which certificate files the expiry gauges watch."""

from __future__ import annotations

import posixpath
import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.inputs import quoted
from ansible_collections.pqc.edge.plugins.filter.sites import subject_alt_name
from ansible_collections.pqc.edge.plugins.module_utils._expiry import watch_list


def _unique(items):
    seen = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def issued_certificates(sites, algorithms, certificates_dir, subject_alt_names=(), acme_algorithm=None, usage="server"):
    """One key and certificate per site and algorithm, in the site's own directory: site, algorithm, certificate,
    private_key, common_name (the site's first server name), subject_alt_names (every server name, then the site's
    and the role's extras, each once), acme (the ACME directory issues it: the algorithm is acme_algorithm) and usage
    (server, or client for a host's own client certificates)."""
    # Lenient on purpose: the preflight's asserts name a malformed site with its value, which they cannot where
    # this filter, evaluated earlier for a task's condition, fails first.
    issued = []
    for site in sites:
        server_names = [str(name) for name in site.get("server_names") or []]
        names = _unique([subject_alt_name(name) for name in server_names]
                        + list(site.get("subject_alt_names") or []) + list(subject_alt_names))
        for algorithm in algorithms:
            base = posixpath.join(certificates_dir, str(site["name"]), algorithm)
            issued.append({"site": site["name"], "algorithm": algorithm, "certificate": base + ".crt",
                           "private_key": base + ".key", "common_name": server_names[0] if server_names else None,
                           "subject_alt_names": names, "acme": acme_algorithm is not None and algorithm == acme_algorithm,
                           "usage": usage})
    return issued


def provided_certificates(sites):
    """The certificates sites bring themselves, each with its site's name."""
    return [dict(certificate, site=site["name"]) for site in sites for certificate in site.get("certificates") or []]


def certificates_by_site(certificates):
    """{site name: [{algorithm, certificate, private_key}]} in the order given."""
    by_site = {}
    for certificate in certificates:
        # A malformed site name (a list) is a key as text: the nginx preflight names it with its value later.
        site = certificate["site"] if isinstance(certificate["site"], (str, int)) else str(certificate["site"])
        by_site.setdefault(site, []).append(
            dict((key, certificate[key]) for key in ("algorithm", "certificate", "private_key")))
    return by_site


def client_certificate_files(items, pq_algorithm):
    """A host's own client certificates (pqc.edge.issued_certificates with usage client) by kind: {pq: {algorithm,
    certificate, private_key}, classical: {...}}, each only where it is issued (no classical one where ACME issues the
    classical certificates)."""
    return dict(("pq" if item["algorithm"] == pq_algorithm else "classical",
                 dict((key, item[key]) for key in ("algorithm", "certificate", "private_key")))
                for item in items or [] if item.get("usage") == "client")


def certificate_entries(items, ca_dir=None):
    """The issued certificates (pqc.edge.issued_certificates) as the entries of pqc.edge.certificate's certificates
    option, in order; with ca_dir, each signed by the local CA of its algorithm there (<ca_dir>/<algorithm>-ca.crt and
    .key, as private_ca.yml keeps them), else self-signed."""
    entries = []
    for item in items or []:
        entry = {"private_key_path": item["private_key"], "certificate_path": item["certificate"],
                 "key_algorithm": item["algorithm"], "common_name": item["common_name"],
                 "subject_alt_names": list(item["subject_alt_names"])}
        if ca_dir:
            base = posixpath.join(ca_dir, item["algorithm"] + "-ca")
            entry.update(ca_certificate_path=base + ".crt", ca_private_key_path=base + ".key")
        entries.append(entry)
    return entries


def sites_without_http(sites, http_port):
    """The names of the sites with no plain HTTP server (their http_port, or else the role's, is 0): they cannot
    answer an ACME HTTP-01 challenge."""
    def port(site):
        try:
            return int(http_port if site.get("http_port") is None else site["http_port"])
        except (TypeError, ValueError):
            return None  # not a port: the nginx preflight names it
    return [site["name"] for site in sites if port(site) == 0]


def _inside(host, domain):
    domain = domain.lower().lstrip(".")
    return host == domain or host.endswith("." + domain)


def names_outside(names, domains):
    """The subject alternative names (DNS:..., IP:...) that none of the domains covers. A DNS name is inside a domain
    when it is the domain or below it (a wildcard counts as its base name); an IP name only when it is listed itself.
    No domains: no limit, nothing is outside."""
    if not domains:
        return []
    outside = []
    for name in names:
        if name in domains:
            continue
        if name.startswith("DNS:"):
            host = name[4:].lower()
            host = host[2:] if host.startswith("*.") else host
            if any(_inside(host, domain) for domain in domains if not domain.startswith("IP:")):
                continue
        outside.append(name)
    return outside


def root_pems(roots, contents, ca_dir):
    """{root name: its certificate as a pqc.edge.host_facts read of the CA host found it, or '' where it is missing}."""
    return dict((root["name"], contents.get(posixpath.join(ca_dir, root["name"] + "-root.crt")) or "") for root in roots)


def ari_due(results):
    """The certificate files whose ACME directory says, by its renewal information (RFC 9773), to renew them now:
    from the results of community.crypto.acme_certificate_renewal_info looped over items with a `certificate`. A
    directory without ARI, or a certificate it does not know (a self-signed stand-in), says nothing."""
    due = []
    for result in results or []:
        if not isinstance(result, dict) or result.get("failed") or result.get("skipped"):
            continue
        if result.get("supports_ari") is True and result.get("should_renew") is True:
            due.append(result.get("item", {}).get("certificate"))
    return [path for path in due if isinstance(path, str)]


# The leaf algorithms each kind of root signs for.
_LEAVES_OF = {"pq": ("mldsa44", "mldsa65", "mldsa87"), "classical": ("rsa", "ecdsa")}
_LABEL_OF = {"pq": "ML-DSA"}


def _generation(value):
    """Whether a root generation as the inventory gives it is a whole number from 1 to 999 (as text too)."""
    if isinstance(value, bool):
        return False
    try:
        return 1 <= int(str(value)) <= 999
    except ValueError:
        return False


def _root_name(algorithm, generation):
    # Generation 1 keeps the names the fleet CA had before rollovers, so a fleet from then rolls without a new root.
    return algorithm if generation == 1 else "%s-g%d" % (algorithm, generation)


def fleet_roots(settings):
    """The fleet's roots for certificates_fleet_ca_generation and certificates_fleet_ca_trusted_generations: settings
    has common_name, pq_algorithm, classical_algorithm (none where ACME issues the classical certificates),
    generation (whose roots sign) and trusted_generations (kept and trusted beside it: the next root before it
    signs, the last one until it is withdrawn).

    Returns kept (the roots the CA host keeps and every edge trusts, by generation: name, algorithm, kind (pq or
    classical), generation, signs, common_name, intermediate_common_name), root_of ({leaf algorithm: the name of
    the root whose intermediate signs it}), root_files ({pq: <root>-root.crt of the signing ML-DSA root, classical:
    the classical one's, or none}) and withdrawn (the names of every root of an earlier generation than the
    kept ones, whose copies the edges and the controller drop)."""
    # Checked here, where they are first read (the pqc_edge_certificates fact, at the start of the preflight): the CA
    # host's values reach an edge through hostvars, which the edge's input rules do not see.
    generation, trusted = settings["generation"], settings.get("trusted_generations") or []
    if not (_generation(generation) and isinstance(trusted, list) and all(_generation(each) for each in trusted)):
        raise AnsibleFilterError("certificates_fleet_ca_generation=%s and certificates_fleet_ca_trusted_generations=%s: "
                                 "each must be a generation from 1 to 999" % (quoted(generation), quoted(trusted)))
    generation = int(str(generation))
    generations = sorted(set([generation] + [int(str(each)) for each in trusted]))
    kinds = [("pq", settings["pq_algorithm"])]
    if settings.get("classical_algorithm"):
        kinds.append(("classical", settings["classical_algorithm"]))
    kept, root_of, root_files = [], {}, {"pq": None, "classical": None}
    for number in generations:
        for kind, algorithm in kinds:
            label = _LABEL_OF.get(kind, str(algorithm).upper())
            suffix = "" if number == 1 else ", generation %d" % number
            root = {"name": _root_name(algorithm, number), "algorithm": algorithm, "kind": kind, "generation": number,
                    "signs": number == generation,
                    "common_name": "%s (%s root%s)" % (settings["common_name"], label, suffix),
                    "intermediate_common_name": "%s (%s intermediate%s)" % (settings["common_name"], label, suffix)}
            kept.append(root)
            if root["signs"]:
                root_of.update(dict((leaf, root["name"]) for leaf in _LEAVES_OF[kind]))
                root_files[kind] = root["name"] + "-root.crt"
    withdrawn = [_root_name(algorithm, number) for number in range(1, generations[0]) for dummy, algorithm in kinds]
    return {"kept": kept, "root_of": root_of, "root_files": root_files, "withdrawn": withdrawn}


def withdrawn_root_files(names, directory, crl_suffix, trust_store_dir=None):
    """The files a withdrawn root leaves in directory (an edge's copies, or the controller's): its certificate and
    its and its intermediate's revocation lists (<CA>.crl.der on an edge, <CA>.crl.pem on the controller); and in
    trust_store_dir, where given, the copy certificates_fleet_ca_trust added to the system trust store."""
    files = [posixpath.join(directory, name + suffix)
             for name in names for suffix in ("-root.crt", "-root" + crl_suffix, "-intermediate" + crl_suffix)]
    if trust_store_dir:
        files += [posixpath.join(trust_store_dir, "pqc-edge-fleet-%s-root.crt" % name) for name in names]
    return files


def fleet_cas(roots, ca_dir):
    """The fleet's CAs on the CA host, each root then its intermediate (which the root signs, and which signs the
    certificates): name (<root>-root, <root>-intermediate), root, certificate, private_key."""
    return [{"name": "%s-%s" % (root["name"], kind), "root": root["name"],
             "certificate": posixpath.join(ca_dir, "%s-%s.crt" % (root["name"], kind)),
             "private_key": posixpath.join(ca_dir, "%s-%s.key" % (root["name"], kind))}
            for root in roots for kind in ("root", "intermediate")]


def crl_urls(cas, crl_url):
    """{CA name: the URL of its revocation list under crl_url (certificates_fleet_ca_crl_url), or '' without one}."""
    base = (crl_url or "").rstrip("/")
    return dict((ca["name"], "%s/%s.crl" % (base, ca["name"]) if base else "") for ca in cas)


def crl_locations(cas, crl_url, host_dir):
    """{URL path: the DER file on the edge} of each CA's revocation list, which nginx serves on its HTTP servers;
    {} without crl_url."""
    locations = {}
    for name, url in crl_urls(cas, crl_url).items():
        if url:
            locations[urlsplit(url).path] = posixpath.join(host_dir, name + ".crl.der")
    return locations


def fleet_root_files(pems, host_dir):
    """The files pqc.edge.text_files writes on an edge from the roots' certificates ({root name: PEM}, as
    pqc.edge.root_pems reads them; '' for one not read): each root as <name>-root.crt (what the edge's certificates are
    checked against) and all of them as roots.pem (what nginx trusts for client certificates). [] where none was read
    (check mode before the CA's first run)."""
    found = [(name, pem) for name, pem in (pems or {}).items() if pem]
    if not found:
        return []
    files = [{"path": posixpath.join(host_dir, name + "-root.crt"), "content": pem} for name, pem in found]
    files.append({"path": posixpath.join(host_dir, "roots.pem"), "content": "".join(pem.strip() + "\n" for dummy, pem in found)})
    return [dict(entry, owner="root", group="root", mode="0644") for entry in files]


def fleet_controller_files(pems, crl_results, local_dir):
    """The files the controller keeps for clients, for pqc.edge.text_files: each root's certificate (<name>-root.crt,
    from {root name: PEM} as pqc.edge.root_pems reads them) and each CA's revocation list in PEM (<CA name>.crl.pem,
    from the results of pqc.edge.ca_crl looped over the CAs as `ca`), mode 0644. Nothing for what was not read (check
    mode before the CA's first run)."""
    files = [{"path": posixpath.join(local_dir, name + "-root.crt"), "content": pem} for name, pem in (pems or {}).items() if pem]
    files += [{"path": posixpath.join(local_dir, result["ca"]["name"] + ".crl.pem"), "content": result["crl"]}
              for result in crl_results or [] if isinstance(result, dict) and result.get("crl")]
    return [dict(entry, mode="0644") for entry in files]


def crl_files(results, host_dir):
    """The files pqc.edge.text_files writes on an edge from the results of pqc.edge.ca_crl looped over the CAs (as
    `ca`): every list as one PEM file (crls.pem, what nginx checks certificates against) and each list DER-encoded
    (<CA name>.crl.der, what HTTP clients fetch). [] where no list was read (check mode before the first run)."""
    lists = [result for result in results or [] if isinstance(result, dict) and result.get("crl")]
    if not lists:
        return []
    files = [{"path": posixpath.join(host_dir, "crls.pem"), "content": "".join(result["crl"].strip() + "\n" for result in lists)}]
    files += [{"path": posixpath.join(host_dir, result["ca"]["name"] + ".crl.der"), "content": result["crl_der_base64"],
               "encoding": "base64"} for result in lists]
    return [dict(entry, owner="root", group="root", mode="0644") for entry in files]


# What a certificate may name: a DNS name (one leading *. allowed) or an IP address.
SUBJECT_ALT_NAME = (r"^DNS:(\*[.])?[A-Za-z0-9]([A-Za-z0-9-]{0,62})([.][A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$",
                    r"^IP:(([0-9]{1,3}[.]){3}[0-9]{1,3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)$")


def _fleet_ca_problems(settings):
    """A fleet CA named in the inventory, limiting the names and the validity it signs, holding every name."""
    host = settings.get("host")
    ca_host = settings.get("ca_host") or ""
    problems = []
    if not (ca_host and settings.get("ca_host_known")):
        problems.append("certificates_authority=fleet_ca needs certificates_ca_host set to a host of the inventory, which "
                        "keeps the CA keys; certificates_ca_host=%s is not one." % quoted(ca_host))
    domains = settings.get("fleet_domains") or []
    if not domains or int(settings.get("valid_days") or 0) > int(settings.get("fleet_max_valid_days") or 0):
        problems.append("%s: the fleet CA on %s needs certificates_fleet_ca_domains (the DNS domains it may sign names in, "
                        "set on the CA host), got %s; and signs at most certificates_fleet_ca_max_valid_days=%s days, "
                        "certificates_valid_days=%s." % (host, ca_host, quoted(settings.get("fleet_domains")),
                                                         settings.get("fleet_max_valid_days"), settings.get("valid_days")))
    outside = settings.get("fleet_names_outside") or []
    if outside:
        problems.append("%s: the fleet CA on %s signs only names inside certificates_fleet_ca_domains=%s; outside them: %s "
                        "(from pqc_edge_sites or certificates_subject_alt_names)."
                        % (host, ca_host, quoted(settings.get("fleet_domains")), ", ".join(outside)))
    return problems


def _acme_problems(settings):
    """Terms agreed to, an https:// directory, and names an ACME CA can validate over HTTP-01."""
    directory = settings.get("acme_directory")
    bad_names = settings.get("acme_bad_names") or []
    words = ""
    if not settings.get("acme_terms_agreed"):
        words += "set certificates_acme_terms_agreed=true to agree to its terms of service; "
    if not (isinstance(directory, str) and re.match(r"^https://[^\s]+$", directory)):
        words += "it must be an https:// URL; "
    if bad_names:
        words += ("an ACME CA cannot validate %s over HTTP-01 (addresses, wildcards, localhost): drop them from "
                  "pqc_edge_sites and certificates_subject_alt_names; " % ", ".join(bad_names))
    return ["certificates_acme_directory=%s: %s" % (quoted(directory), words.strip())] if words else []


def certificates_settings_problems(settings):
    """What is wrong with the certificates role's settings before the host is read, one sentence each naming the
    setting and its value; [] when nothing is.

    settings: host (the inventory name), openssl_version (pqc_edge_openssl's), subject_alt_names (every name of the
    certificates this role issues) and configured_alt_names (certificates_subject_alt_names), renew_days, valid_days,
    ca_valid_days, profile_name, algorithms (what each site gets), classical_algorithm, pq_algorithm,
    pq_in_tls (this OpenSSL can serve the post-quantum certificate), require_pq_signature, client (client
    certificates wanted), authority; for a fleet CA ca_host, ca_host_known (it is a host of the inventory),
    fleet_domains, fleet_max_valid_days, fleet_names_outside; for ACME acme (a directory is set), acme_directory,
    acme_terms_agreed, acme_bad_names (names it cannot validate over HTTP-01)."""
    host, version = settings.get("host"), settings.get("openssl_version")
    problems = ["certificates_subject_alt_names=%s or a site of pqc_edge_sites: invalid entry %s; expected DNS:<host name> "
                "or IP:<address>" % (quoted(settings.get("configured_alt_names")), quoted(name))
                for name in _unique(settings.get("subject_alt_names") or [])
                if not (isinstance(name, str) and any(re.match(pattern, name) for pattern in SUBJECT_ALT_NAME))]
    # Numbers as the argument specs accept them: `-e certificates_renew_days=30` gives a string.
    renew, valid, ca_valid = (None if settings.get(name) is None else int(settings.get(name))
                              for name in ("renew_days", "valid_days", "ca_valid_days"))
    if renew is not None and not (0 <= renew < valid and renew < ca_valid):
        problems.append("certificates_renew_days=%s must be at least 0 and below certificates_valid_days (%s) and "
                        "certificates_ca_valid_days (%s)." % (renew, valid, ca_valid))
    acme = bool(settings.get("acme"))
    if not settings.get("algorithms") or (settings.get("classical_algorithm") == "none" and acme):
        problems.append("pqc_edge_profile=%s serves no classical certificate, %s." % (
            settings.get("profile_name"), "so certificates_acme_directory (which issues classical ones) cannot be used"
            if acme else "and OpenSSL %s on %s cannot use %s certificates in TLS" % (version, host, settings.get("pq_algorithm"))))
    if settings.get("client") and settings.get("authority") != "fleet_ca":
        problems.append("certificates_client_certificate=true (or certificates_client_only=true) needs "
                        "certificates_authority=fleet_ca, whose roots the sites trust for client certificates; "
                        "certificates_authority=%s." % settings.get("authority"))
    if settings.get("require_pq_signature") and not settings.get("pq_in_tls"):
        problems.append("certificates_require_pq_signature=true, but OpenSSL %s on %s cannot use %s certificates in TLS "
                        "(provider signatures need OpenSSL >= 3.2)." % (version, host, settings.get("pq_algorithm")))
    if settings.get("authority") == "fleet_ca":
        problems += _fleet_ca_problems(settings)
    if acme:
        problems += _acme_problems(settings)
    return problems


class FilterModule(object):
    def filters(self):
        return {"certificates_settings_problems": certificates_settings_problems,
                "issued_certificates": issued_certificates, "provided_certificates": provided_certificates,
                "certificates_by_site": certificates_by_site, "sites_without_http": sites_without_http,
                "client_certificate_files": client_certificate_files, "certificate_entries": certificate_entries,
                "fleet_root_files": fleet_root_files, "fleet_controller_files": fleet_controller_files,
                "names_outside": names_outside, "root_pems": root_pems, "expiry_watch": watch_list,
                "ari_due": ari_due, "crl_urls": crl_urls, "fleet_cas": fleet_cas, "fleet_roots": fleet_roots,
                "withdrawn_root_files": withdrawn_root_files, "crl_locations": crl_locations, "crl_files": crl_files}
