# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the certificates role makes of the sites: the certificates it issues, the ones sites bring, what each site
serves, and which names a fleet CA's domains leave out; and which certificate files the expiry gauges watch."""

from __future__ import annotations

import posixpath
from urllib.parse import urlsplit

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


class FilterModule(object):
    def filters(self):
        return {"issued_certificates": issued_certificates, "provided_certificates": provided_certificates,
                "certificates_by_site": certificates_by_site, "sites_without_http": sites_without_http,
                "client_certificate_files": client_certificate_files,
                "names_outside": names_outside, "root_pems": root_pems, "expiry_watch": watch_list,
                "ari_due": ari_due, "crl_urls": crl_urls, "fleet_cas": fleet_cas, "crl_locations": crl_locations, "crl_files": crl_files}
