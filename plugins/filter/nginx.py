# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the nginx role makes of pqc_edge_sites: each site with every key filled in, the files and links it gets, the
claims that would clash, and which listener of a QUIC port sets reuseport."""

from __future__ import annotations

import json
import posixpath
import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.certificates import sites_without_http
from ansible_collections.pqc.edge.plugins.filter.groups import _version_tuple
from ansible_collections.pqc.edge.plugins.filter.inputs import _number, quoted
from ansible_collections.pqc.edge.plugins.module_utils import _groups, _seal

# The backend role's socket, the upstream `backend`, answers every path unless a site says otherwise.
DEFAULT_LOCATIONS = [{"path": "/", "proxy": "backend"}]


def _port(value, default):
    """A port as a number; what is not one counts as 0, as Jinja's int does, so that the preflight (which runs after
    this is first evaluated) is what names the bad value."""
    try:
        return int(default if value is None else value)
    except (TypeError, ValueError):
        return 0


def _group_names(names):
    """Group names as OpenSSL spells them where they are known ones; others as given (the preflight names them)."""
    return [_groups.describe(name)["openssl_name"] or name for name in names]


def _location(location, ca_file, client_certificates, tls_upstreams, crl_file=None):
    """A location with upstream_tls filled in: for an https:// proxy or one of tls_upstreams (named upstreams reached
    over TLS: {name: the name their certificates are verified for}), server_name (that name, which nginx sends as SNI;
    None for a URL, whose host nginx sends), the CA file its certificate is verified against
    (the location's proxy_ca_file, else `ca_file`), the groups the edge offers it (the location's proxy_groups, else
    None: the edge's own policy) and the client certificate the edge shows it (client_certificate: the host's own of
    the kind proxy_client_certificate names, from client_certificates; None where it names none or that kind is not
    issued, which the preflight names) and the revocation list checked with `ca_file` (crl_file: `crl_file` where the
    location names no proxy_ca_file of its own, else None); None for any other location."""
    if not isinstance(location, dict):
        return location
    proxy = location.get("proxy")
    named = isinstance(proxy, str) and proxy in tls_upstreams
    tls = named or (isinstance(proxy, str) and proxy.startswith("https://"))
    groups = location.get("proxy_groups")
    kind = location.get("proxy_client_certificate")
    return dict(location, upstream_tls={
        "server_name": tls_upstreams[proxy] if named else None,
        "ca_file": location.get("proxy_ca_file") or ca_file,
        "groups": _group_names(groups) if isinstance(groups, list) and groups else None,
        "client_certificate": (client_certificates or {}).get(kind) if isinstance(kind, str) else None,
        "crl_file": None if location.get("proxy_ca_file") else crl_file} if tls else None)


def nginx_sites(site_list, https_port, http_port, ca_file=None, client_ca_file=None, client_certificates=None,
                upstreams=None, crl_file=None):
    """pqc_edge_sites with every optional key filled in: ports as numbers (the role's ports where a site sets none),
    default_server, certificates (empty: the ones the certificates role issues), locations (each with upstream_tls),
    extra_directives, client_auth (none, optional or required) and client_ca_file (the site's own, else
    `client_ca_file`, the fleet CA's roots, where the site asks for client certificates; None where there is none).
    `ca_file` verifies https:// upstreams whose location names no proxy_ca_file; client_certificates (the certificates
    role's, by kind) are what a location's proxy_client_certificate picks from; upstreams (nginx_upstreams) those with a
    tls_server_name are reached over TLS like an https:// URL. crl_file (the fleet CA's revocation lists) is checked
    with the fleet's roots: client_crl_file of a site that trusts them for client certificates (None for a site with
    a client_ca_file of its own), crl_file of an upstream verified against them."""
    if not isinstance(site_list, list) or not all(isinstance(site, dict) and "name" in site for site in site_list):
        raise AnsibleFilterError("nginx_sites expects a list of sites, each with a name, got %r" % (site_list,))
    tls_upstreams = _tls_upstreams(upstreams)
    return [dict(site,
                 https_port=_port(site.get("https_port"), https_port),
                 http_port=_port(site.get("http_port"), http_port),
                 default_server=bool(site.get("default_server", False)),
                 certificates=site.get("certificates") or [],
                 locations=[_location(location, ca_file, client_certificates, tls_upstreams, crl_file)
                            for location in (site.get("locations") or DEFAULT_LOCATIONS)],
                 extra_directives=site.get("extra_directives") or [],
                 client_auth=site.get("client_auth") or "none",
                 # A file the site names is kept as given (the preflight checks it whatever client_auth says).
                 client_ca_file=site["client_ca_file"] if site.get("client_ca_file") is not None
                 else client_ca_file if (site.get("client_auth") or "none") != "none" else None,
                 client_crl_file=crl_file if site.get("client_ca_file") is None and client_ca_file
                 and (site.get("client_auth") or "none") != "none" else None)
            for site in site_list]


def _tls_upstreams(upstreams):
    """{name: tls_server_name} of the named upstreams reached over TLS (lenient: the preflight names a malformed one)."""
    return dict((upstream["name"], upstream["tls_server_name"]) for upstream in upstreams or []
                if isinstance(upstream, dict) and isinstance(upstream.get("name"), str) and upstream.get("tls_server_name"))


def _address(url, default_port):
    """(host, port) of a URL or //host:port, default_port where it names none; None where it names no host or does not
    parse (the preflight names a malformed one)."""
    try:
        parts = urlsplit(url)
        return (parts.hostname, parts.port or default_port) if parts.hostname else None
    except ValueError:
        return None


def _server_address(entry):
    """host and port of an upstream's server entry (host:port, [v6]:port, then parameters; nginx's port 80 where it
    names none); None for a unix: socket, a server marked down, or an entry that does not parse."""
    if not isinstance(entry, str) or not entry.split():
        return None
    words = entry.split()
    if words[0].startswith("unix:") or "down" in words[1:]:
        return None
    return _address("//" + words[0], 80)


def _certificates_of(site, issued):
    """A site's certificates: its own, or else the ones the certificates role issued for it (none for a name that is
    not a string, which the preflight names)."""
    name = site["name"]
    return site["certificates"] or ((issued or {}).get(name, []) if isinstance(name, str) else [])


def site_certificates(sites, issued=None):
    """{site name: its certificates}: its own, or else the ones the certificates role issued for it."""
    return dict((site["name"], _certificates_of(site, issued)) for site in sites)


def site_files(sites, conf_dir, prefix):
    """Each site's file: its name, its path in sites-available, and the link in sites-enabled that enables it (path,
    target) as pqc.edge.nginx_config takes links."""
    files = []
    for site in sites:
        name = "%s%s.conf" % (prefix, site["name"])
        files.append({"name": name, "available": posixpath.join(conf_dir, "sites-available", name),
                      "link": {"path": posixpath.join(conf_dir, "sites-enabled", name),
                               "target": "../sites-available/" + name}})
    return files


def config_files(site_files, conf_path, conf_text, site_texts):
    """nginx.conf and each site's file in sites-available, as pqc.edge.nginx_config takes them, each sealed (its last
    line the sha256 of the rest, so that a file changed since it was written is known)."""
    if len(site_files) != len(site_texts):
        raise AnsibleFilterError("config_files: %d sites but %d site texts" % (len(site_files), len(site_texts)))
    return [{"path": conf_path, "content": _seal.sealed(conf_text)}] + [
        {"path": entry["available"], "content": _seal.sealed(text)} for entry, text in zip(site_files, site_texts)]


def site_ports(sites):
    """Every port pqc.edge's sites listen on (HTTPS, and HTTP where it is not 0), sorted."""
    return sorted(set([site["https_port"] for site in sites] + [site["http_port"] for site in sites if site["http_port"] > 0]))


def claim_conflicts(sites):
    """"name on port N" for a server name two sites claim on one HTTPS port, and "default_server on port N" for a port
    with two default sites: nginx would answer for only one of them."""
    claims = []
    for site in sites:
        claims += ["%s on port %d" % (name, site["https_port"]) for name in site.get("server_names", [])]
    claims += ["default_server on port %d" % site["https_port"] for site in sites if site["default_server"]]
    conflicts = []
    for claim in claims:
        if claims.count(claim) > 1 and claim not in conflicts:
            conflicts.append(claim)
    return conflicts


def default_clashes(sites, servers, ignored_file=None):
    """The operator's servers (pqc.edge.nginx_servers' servers that pqc.edge does not manage) that already are the
    default server of a port where a pqc.edge site wants to be it, as "file:line (server_name ...) on port N".
    ignored_file: a file whose servers do not count (the stock default site, where it is being disabled)."""
    ports = set()
    for site in sites:
        if site["default_server"]:
            ports.update(port for port in (site["https_port"], site["http_port"]) if port > 0)
    clashes = []
    for server in servers or []:
        if server.get("managed") or (ignored_file and server.get("file") == ignored_file):
            continue
        for listen in server.get("listen", []):
            if listen.get("default_server") and listen.get("port") in ports:
                names = " ".join(server.get("server_names") or []) or "-"
                clash = "%s:%s (server_name %s) on port %s" % (server["file"], server["line"], names, listen["port"])
                if clash not in clashes:
                    clashes.append(clash)
    return clashes


def quic_reuseport_sites(sites):
    """The sites whose QUIC listener sets reuseport: only one listener of an address and UDP port may (the one that
    steers each QUIC connection to the same worker), so the first site of each HTTPS port, default servers first."""
    first = {}
    for site in [site for site in sites if site["default_server"]] + [site for site in sites if not site["default_server"]]:
        first.setdefault(site["https_port"], site["name"])
    return sorted(first.values())


def upstream_trust_conflicts(sites):
    """Locations that verify one TLS upstream (an https:// host and port, or a named upstream) against different CA
    files, each in words.

    nginx keeps one TLS session cache per upstream, so a session one location verified would be resumed by another
    without its own verification: such locations must trust the same CA file."""
    trusted = {}
    for site in sites:
        for location in site["locations"]:
            if not location.get("upstream_tls"):
                continue
            if location["upstream_tls"].get("server_name"):
                upstream = "upstream %s" % location["proxy"]
            else:
                address = _address(location["proxy"], 443)
                if address is None:
                    continue  # the location's own assert names a malformed URL
                upstream = "https://%s:%d" % (address[0], address[1])
            trusted.setdefault(upstream, []).append((location["upstream_tls"]["ca_file"], site["name"], location["path"]))
    conflicts = []
    for upstream, uses in sorted(trusted.items()):
        if len(set(ca_file for ca_file, dummy, dummy2 in uses)) > 1:
            conflicts.append("%s is verified against %s" % (upstream, ", ".join(
                "%s (site %s, location %s)" % use for use in uses)))
    return conflicts


def upstream_hops(sites, groups, upstreams=None):
    """Each hop from a pqc.edge site to a TLS upstream, as verify and the report probe it from the edge itself: site,
    path, upstream (the URL, or the named upstream and one of its servers), host, port, server_name (what nginx sends as
    SNI and verifies the certificate for: the URL's host, or the named upstream's tls_server_name), ca_file (what nginx
    verifies it against; None: the host's system CA bundle), groups (what the edge offers it: the location's
    proxy_groups, else `groups`, the edge's policy), pinned (why the hop is classical by the site's own choice, where
    proxy_groups names no hybrid or post-quantum group; else None), and client_certificate and client_key (what the
    edge shows an upstream that asks for a certificate; None for none).

    sites: as pqc.edge.nginx_sites fills them in; upstreams: nginx_upstreams, whose servers are each a hop of a location
    that proxies to them (but unix: sockets and servers marked down). A URL with nginx variables, or one that does not
    parse, is left out: the edge cannot be probed for a host only a request names, and the preflight names a malformed
    one."""
    servers = dict((upstream["name"], upstream.get("servers") or []) for upstream in upstreams or []
                   if isinstance(upstream, dict) and isinstance(upstream.get("name"), str))
    hops = []
    for site in sites:
        for location in site.get("locations") or []:
            tls = isinstance(location, dict) and location.get("upstream_tls")
            if not tls:
                continue
            offered = tls["groups"] or _group_names(groups)
            kinds = [_groups.describe(name)["kind"] for name in offered]
            client = tls.get("client_certificate") or {}
            hop = {"site": site["name"], "path": location["path"], "ca_file": tls["ca_file"], "groups": offered,
                   "pinned": None if any(_groups.is_quantum_safe(kind) for kind in kinds) else (
                       "proxy_groups %s has no hybrid or post-quantum group" % ":".join(offered)),
                   "client_certificate": client.get("certificate"), "client_key": client.get("private_key")}
            for upstream, host, port, server_name in _hop_targets(location["proxy"], tls.get("server_name"), servers):
                hops.append(dict(hop, upstream=upstream, host=host, port=port, server_name=server_name))
    return hops


def _hop_targets(proxy, server_name, servers):
    """(upstream, host, port, server name) of each server a location's TLS proxy reaches."""
    if server_name:
        addresses = [_server_address(entry) for entry in servers.get(proxy, [])]
        return [("upstream %s, server %s" % (proxy, ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)), host, port,
                 server_name) for host, port in [address for address in addresses if address]]
    address = None if "$" in proxy else _address(proxy, 443)
    return [(proxy, address[0], address[1], address[0])] if address else []


def tls_library_problems(library, settings):
    """What keeps nginx from serving with `library` (pqc_edge_tls_library) on this host, one sentence each naming the
    setting and its value; [] for openssl, which the other checks cover. settings: install_method
    (nginx_install_method), openssl_version (pqc_edge_openssl's: the host's, or the pinned source's), group_policy, groups (the
    profile's: nginx_groups or a compliance profile's), prefer_server_order and sites (pqc.edge.nginx_sites' result,
    whose locations' proxy_groups are checked too)."""
    if library != "aws-lc":
        return []
    problems = []
    if settings.get("install_method") != "source":
        problems.append("pqc_edge_tls_library=aws-lc links AWS-LC into an nginx built from source; nginx_install_method=%s "
                        "installs the distribution's nginx. Set nginx_install_method=source" % settings.get("install_method"))
    # The keys and certificates are made by an OpenSSL command line: the host's, or with pqc_edge_openssl_origin=source
    # the pinned OpenSSL's, built beside AWS-LC for that alone (openssl_version is then the pinned one).
    if _version_tuple(settings.get("openssl_version") or "0") < (3, 5, 0):
        problems.append("pqc_edge_tls_library=aws-lc: the host's OpenSSL %s makes the ML-DSA keys and certificates and must "
                        "be 3.5 or newer; set pqc_edge_openssl_origin=source to build the pinned OpenSSL's command line "
                        "for them" % settings.get("openssl_version"))
    missing = []
    hop_groups = [name for site in settings.get("sites") or [] if isinstance(site, dict)
                  for location in site.get("locations") or [] if isinstance(location, dict)
                  for name in (location.get("upstream_tls") or {}).get("groups") or []]
    for name in list(settings.get("groups") or []) + hop_groups:
        group = _groups.by_name(name)
        if group is not None and group.codepoint not in _groups.AWS_LC_NAMES and str(name) not in missing:
            missing.append(str(name))
    if missing:
        problems.append("AWS-LC (pqc_edge_tls_library=aws-lc) does not serve the group%s %s; it serves %s"
                        % ("s" if len(missing) > 1 else "", ", ".join(missing), ", ".join(_groups.AWS_LC_NAMES.values())))
    # AWS-LC has no group tuples: the server's order is what moves a client to the hybrid, and the client's is
    # what lets it keep the share it sent.
    policy, prefer_server = settings.get("group_policy"), bool(settings.get("prefer_server_order"))
    if (policy == "enforce") != prefer_server:
        problems.append("nginx_group_policy=%s with nginx_prefer_server_order=%s: on AWS-LC (pqc_edge_tls_library=aws-lc) "
                        "the hybrid is enforced by the server's order alone, so enforce needs nginx_prefer_server_order=true "
                        "and prefer needs false" % (policy, str(prefer_server).lower()))
    return problems


# What the preflight accepts, beyond the argument spec's types.
PROTOCOL_CHOICES = ["TLSv1.2", "TLSv1.3"]
# What a TLS upstream's certificates are verified for: a host name or an IPv4 address.
UPSTREAM_NAME = r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
# What a site may name: host names, *.wildcards, IPv4 addresses.
SERVER_NAME = r"^([*][.])?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
# An upstream's server entry: host:port, [v6]:port or unix:/path, then parameters such as weight=2 or backup.
UPSTREAM_SERVER = r"^(unix:/[^\s;{}]+|[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:]+\](:[0-9]{1,5})?)( [a-z_]+(=[^\s;{}]+)?)*$"
# A location's match: prefix, exact (=), preferred prefix (^~), regex (~, ~*) or named (@).
LOCATION_PATH = r"^(@[A-Za-z0-9_-]+|(= |\^~ )?/[^\s;{}]*|~[*]? [^;{}]+)$"
SITE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
ABSOLUTE_FILE = r"^/[^\s;{}]*[^/\s;{}]$"


def _matches(pattern, value):
    """Jinja's `match` test: the pattern at the start of a string; False for anything that is not a string."""
    return isinstance(value, str) and re.match(pattern, value) is not None


def _group_problems(settings):
    """nginx_groups: known, each once, at least one hybrid or post-quantum; and the profile's groups on this OpenSSL."""
    problems = []
    groups = settings.get("groups") or []
    described = [_groups.describe(name) for name in groups]
    for name, group in zip(groups, described):
        if group["name"] is None or group["grease"]:
            problems.append("nginx_groups: unknown key-exchange group '%s'. Use names such as X25519MLKEM768, "
                            "SecP256r1MLKEM768, X25519, secp256r1 (see the README for the full list)." % name)
    names = [group["name"] for group in described]
    if not groups or len(set(names)) != len(names) or not any(group["kind"] in ("hybrid", "pq") for group in described):
        problems.append("nginx_groups=%s must be non-empty, name each group once and contain at least one hybrid or "
                        "post-quantum group." % (groups,))
    offered = settings.get("openssl_tls_groups") or []
    if settings.get("tls_library") == "openssl" and offered:
        profile = settings.get("profile_name") or "web"
        for name in settings.get("profile_groups") or []:
            if not set(spelling.lower() for spelling in _groups.describe(name)["spellings"]) & set(offered):
                problems.append("%s '%s' is not supported by the host's OpenSSL %s (it offers %s)." % (
                    "nginx_groups" if profile == "web" else "pqc_edge_profile %s: its group" % profile, name,
                    settings.get("openssl_version"), ", ".join(offered)))
    return problems


def _upstream_problem(upstream):
    """The words for one malformed entry of nginx_upstreams, or None."""
    servers = upstream.get("servers") or []
    server_name = upstream.get("tls_server_name")
    keepalive = upstream.get("keepalive", 16)
    if (_matches(r"^[A-Za-z0-9_]+$", upstream.get("name")) and upstream.get("name") != "backend" and servers
            and all(_matches(UPSTREAM_SERVER, server) for server in servers)
            and 1 <= _number(keepalive) <= 65535
            and (server_name is None or (_matches(UPSTREAM_NAME, server_name)
                                         and not any(server.startswith("unix:") for server in servers)))):
        return None
    return ("nginx_upstreams: upstream '%s' needs a name of letters, digits and '_' other than 'backend', at least one "
            "server entry (host:port or unix:/path, then parameters such as weight=2; servers=%s) and keepalive=%s "
            "connections from 1 to 65535; tls_server_name=%s, where set, a host name or address, with no unix: servers."
            % (upstream.get("name"), quoted(servers), quoted(keepalive), quoted(server_name)))


def _site_problem(site, sites):
    """The words for one malformed site (as nginx_sites fills it in), or None."""
    names = site.get("server_names") or []
    bad_names = [name for name in names if not _matches(SERVER_NAME, name)]
    directives = site.get("extra_directives") or []
    https_port, http_port = site.get("https_port"), site.get("http_port")
    client_ca_file = site.get("client_ca_file")
    if (_matches(SITE_NAME, site.get("name")) and [other["name"] for other in sites].count(site.get("name")) == 1
            and names and not bad_names and 1 <= https_port <= 65535 and 0 <= http_port <= 65535
            and http_port != https_port
            and all(_matches(r"^[^\n]*[;}]$", directive) for directive in directives)
            and site.get("client_auth") in ("none", "optional", "required")
            and (client_ca_file is None or _matches(ABSOLUTE_FILE, client_ca_file))):
        return None
    return ("pqc_edge_sites: site '%s' is not valid: its name must be unique and made of letters, digits, '-' and '_'; "
            "server_names=%s must list host names (or *.wildcards, or addresses)%s; https_port=%s must be 1-65535 and "
            "http_port=%s another port or 0; extra_directives=%s must be nginx directives, each ending in ';' or '}'; "
            "client_auth=%s none, optional or required, and client_ca_file=%s an absolute file path."
            % (site.get("name"), names, (", not " + ", ".join(bad_names)) if bad_names else "", https_port, http_port,
               quoted(directives), quoted(site.get("client_auth")), quoted(client_ca_file)))


def _location_problem(site, location, upstream_names):
    """The words for one malformed location of a site, or None."""
    shown, location = location, location if isinstance(location, dict) else {"path": None}
    tls = location.get("upstream_tls")
    proxy = location.get("proxy")
    proxy_groups = location.get("proxy_groups")
    ok = (_matches(LOCATION_PATH, location.get("path"))
          and (proxy is None or proxy in upstream_names or _matches(r"^(http|https)://[^\s;{}]+$", proxy))
          and (location.get("root") is None or _matches(r"^/[^\s;{}]*$", location.get("root")))
          and (location.get("return") is None or _matches(r"^[0-9]{3}( [^;{}]+)?$", location.get("return")))
          and (location.get("proxy_ca_file") is None
               or (tls is not None and _matches(ABSOLUTE_FILE, location.get("proxy_ca_file")))))
    if ok and proxy_groups is not None:
        described = [_groups.describe(name) for name in proxy_groups] if isinstance(proxy_groups, list) else []
        ok = (tls is not None and len(described) > 0
              and all(group["kind"] in ("hybrid", "pq", "classical") for group in described)
              and len(set(group["codepoint"] for group in described)) == len(described))
    if ok and location.get("proxy_client_certificate") is not None:
        ok = tls is not None and tls.get("client_certificate") is not None
    if ok:
        return None
    return ("pqc_edge_sites: site '%s' has an invalid location %s. path must be '/...', '= /...', '^~ /...', '~ regex', "
            "'~* regex' or '@name'; proxy must be one of %s or an http(s):// URL; root an absolute directory; return a "
            "status code with an optional URL or text; proxy_ca_file an absolute file path, proxy_groups known key-exchange "
            "groups, each named once, and proxy_client_certificate a kind of client certificate this host has "
            "(certificates_client_certificate=true; no classical one where ACME issues the classical certificates), each "
            "only with an https:// proxy or a named upstream with a tls_server_name."
            % (site.get("name"), json.dumps(shown), ", ".join(upstream_names)))


def nginx_settings_problems(sites, settings):
    """What is wrong with the nginx role's settings before anything on the host is read, one sentence each naming the
    setting and its value; [] when nothing is.

    sites: pqc.edge.nginx_sites' result. settings: groups (nginx_groups), profile_name and profile_groups (the
    compliance profile in force), http_port, https_port, protocols, upstreams (nginx_upstreams), install_method,
    openssl (pqc_edge_openssl: origin, version, tls_groups), tls_library, prefer_server_order,
    group_policy, issued_certificates (the certificates role's, by site name), acme (whether the certificates role orders
    from an ACME directory), acme_sites (the sites it issues for, as pqc_edge_sites gives them)."""
    openssl = settings.get("openssl") or {}
    tls_library = settings.get("tls_library") or "openssl"
    problems = []
    problems += _group_problems(dict(settings, tls_library=tls_library, openssl_version=openssl.get("version"),
                                     openssl_tls_groups=openssl.get("tls_groups")))
    http_port, https_port = _number(settings.get("http_port")), _number(settings.get("https_port"))
    protocols = settings.get("protocols") or []
    if (not 1 <= http_port <= 65535 or not 1 <= https_port <= 65535 or http_port == https_port or not protocols
            or [protocol for protocol in protocols if protocol not in PROTOCOL_CHOICES]):
        problems.append("nginx_http_port=%s and nginx_https_port=%s must be two different ports from 1 to 65535; "
                        "nginx_tls_protocols=%s must be a non-empty subset of %s."
                        % (settings.get("http_port"), settings.get("https_port"), protocols, PROTOCOL_CHOICES))
    upstreams = settings.get("upstreams") or []
    problems += [problem for problem in map(_upstream_problem, upstreams) if problem]
    problems += [problem for problem in (_site_problem(site, sites) for site in sites) if problem]
    upstream_names = ["backend"] + [upstream.get("name") for upstream in upstreams]
    problems += [problem for problem in (_location_problem(site, location, upstream_names)
                                         for site in sites for location in site["locations"]) if problem]
    conflicts = upstream_trust_conflicts(sites)
    if conflicts:
        problems.append("pqc_edge_sites: %s. nginx shares the TLS sessions of one upstream host and port between its "
                        "locations, so give them the same proxy_ca_file." % "; ".join(conflicts))
    untrusted = [site["name"] for site in sites if site["client_auth"] != "none" and site["client_ca_file"] is None]
    if untrusted:
        problems.append("pqc_edge_sites: %s set client_auth but name no client_ca_file, and certificates_authority is not "
                        "fleet_ca (whose roots they would trust otherwise)." % ", ".join(untrusted))
    claims = claim_conflicts(sites)
    if claims:
        problems.append("pqc_edge_sites: %s claimed by more than one site; nginx would answer for only one of them."
                        % ", ".join(claims))
    for site in sites:
        served = _certificates_of(site, settings.get("issued_certificates"))
        if not served or not all(isinstance(entry, dict) and "certificate" in entry and "private_key" in entry
                                 for entry in served):
            problems.append("pqc_edge_sites: site '%s' has no certificates, or incomplete ones: run pqc.edge.certificates "
                            "before this role, or give the site a list of {algorithm, certificate, private_key}."
                            % site["name"])
    # The ACME CA validates the certificates role's names over plain HTTP (HTTP-01) on the sites it issues for.
    without_http = sites_without_http(settings.get("acme_sites") or [], settings.get("http_port")) if settings.get("acme") else []
    if without_http:
        problems.append("certificates_acme_directory is set, but sites without a plain HTTP server cannot answer HTTP-01: "
                        "%s (http_port 0)" % ", ".join(without_http))
    if openssl.get("origin") == "source" and settings.get("install_method") != "source":
        problems.append("pqc_edge_openssl_origin=source builds OpenSSL %s with an nginx built from source (linked into "
                        "it, or beside AWS-LC for its command line); nginx_install_method=%s installs the distribution's "
                        "nginx, which uses the host's OpenSSL. Set nginx_install_method=source."
                        % ((openssl.get("source") or {}).get("version"), settings.get("install_method")))
    problems += [problem + "." for problem in tls_library_problems(tls_library, {
        "install_method": settings.get("install_method"), "openssl_version": openssl.get("version"),
        "group_policy": settings.get("group_policy"), "groups": settings.get("profile_groups"),
        "prefer_server_order": settings.get("prefer_server_order"), "sites": sites})]
    return problems


def port_holders(tcp_listeners, port):
    """The programs other than nginx that listen on `port`, as "name,pid=N", from `ss -Htlnp`'s lines (pqc.edge.host_facts'
    tcp_listeners), which read e.g. `LISTEN 0 5 127.0.0.1:9443 0.0.0.0:* users:(("python3",pid=20945,fd=3))`."""
    holders = []
    for line in tcp_listeners or []:
        if not re.search(r"[]:]%d " % int(port), line) or '"nginx"' in line:
            continue
        user = re.search(r'users:[(][(]"([^"]+)",(pid=[0-9]+)', line)
        holders.append("%s,%s" % user.groups() if user else "a program ss does not name")
    return holders


def nginx_host_problems(sites, read):
    """What the host as it is keeps nginx from serving the sites, one sentence each; [] when nothing does. Read before
    anything asks nginx for its configuration, which an edited nginx.conf may keep it from giving.

    sites: pqc.edge.nginx_sites' result. read: host (the inventory name), tcp_listeners (pqc.edge.host_facts'), http_port
    and https_port (the role's), conf_path, conf_dir, conf_md5 and conf_edited (nginx.conf is neither the package's nor
    pqc.edge's as it wrote it) and replace_modified_conf."""
    host = read.get("host")
    problems = []
    # nginx would fail to bind after its configuration was written.
    for port in site_ports(sites):
        holders = port_holders(read.get("tcp_listeners"), port)
        if holders:
            problems.append("port %d of pqc_edge_sites is already in use on %s by %s; choose another port (nginx_http_port=%s, "
                            "nginx_https_port=%s, or the site's own) or stop that program."
                            % (port, host, ", ".join(holders), read.get("http_port"), read.get("https_port")))
    # Replacing an nginx.conf that someone edited would drop whatever they put in it.
    if read.get("conf_edited") and not read.get("replace_modified_conf"):
        conf_path, conf_dir = read.get("conf_path"), read.get("conf_dir")
        problems.append("%s on %s was edited (md5 %s, neither the package's nor pqc.edge's as it wrote it): pqc.edge writes its "
                        "own nginx.conf, which includes %s/conf.d/*.conf and %s/sites-enabled/*. Move what you added into "
                        "those, or set nginx_replace_modified_conf=true to replace it anyway (a copy is kept as "
                        "%s.pqc-edge-orig)." % (conf_path, host, read.get("conf_md5") or "-", conf_dir, conf_dir, conf_path))
    return problems


def nginx_servers_problems(sites, current):
    """What the servers nginx serves now keep the sites from being served as they are set, one sentence each; [] when
    nothing does.

    sites: pqc.edge.nginx_sites' result. current: host (the inventory name), servers and classical_overrides
    (pqc.edge.nginx_servers'), error (why nginx could not say what it serves, else None), stock_default_link (the
    stock default site where it is being disabled, whose default server does not count, else None) and
    require_pq_everywhere."""
    host = current.get("host")
    if current.get("error"):
        # Its servers are unknown: nginx's own words are the one thing to say.
        return ["%s: %s" % (host, current["error"])]
    problems = []
    clashes = default_clashes(sites, current.get("servers"), current.get("stock_default_link"))
    if clashes:
        problems.append("pqc_edge_sites: a site with default_server=true would be a second default server on %s: %s already "
                        "is. Set default_server: false on the site, or remove default_server there." % (host, ", ".join(clashes)))
    overrides = current.get("classical_overrides") or []
    if overrides and current.get("require_pq_everywhere"):
        problems.append("nginx_require_pq_everywhere=true, but these TLS servers on %s keep classical key exchange: %s. Remove "
                        "their own ssl_ecdh_curve (or ssl_conf_command Groups) and ssl_protocols so that they inherit the "
                        "policy, or add a hybrid group and TLSv1.3." % (host, " | ".join(entry["reason"] for entry in overrides)))
    return problems


class FilterModule(object):
    def filters(self):
        return {"nginx_sites": nginx_sites, "site_certificates": site_certificates, "site_files": site_files, "config_files": config_files,
                "site_ports": site_ports, "claim_conflicts": claim_conflicts, "default_clashes": default_clashes,
                "quic_reuseport_sites": quic_reuseport_sites, "upstream_trust_conflicts": upstream_trust_conflicts,
                "upstream_hops": upstream_hops, "tls_library_problems": tls_library_problems,
                "nginx_settings_problems": nginx_settings_problems, "nginx_host_problems": nginx_host_problems,
                "nginx_servers_problems": nginx_servers_problems}
