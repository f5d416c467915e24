# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read what `nginx -T` prints: every HTTP server block with its file, line, names, listeners and TLS settings.

`nginx -T` prints each configuration file once, after a line `# configuration file <path>:`, without expanding
`include`; the includes are expanded here from the first (main) file, as nginx does, so that a directive in a
snippet counts where the snippet is included. Pure standard library, so that the parsing can be tested on
recorded output.
"""

from __future__ import annotations

import fnmatch
import os
import re

from ansible_collections.pqc.edge.plugins.module_utils import _groups

FILE_HEADER = re.compile(r"^# configuration file (.+):$")
# The marker pqc.edge's site template writes on its second line.
SITE_MARKER = re.compile(r"^# pqc\.edge site (\S+)$", re.MULTILINE)
# Directives that decide a server's TLS policy, and where a server may set them itself.
POLICY_DIRECTIVES = ("ssl_protocols", "ssl_ecdh_curve")
TLS13 = "TLSv1.3"


class ParseError(Exception):
    pass


class Block(object):
    """A directive with its arguments, where it stands, and the directives inside its braces (if it has any)."""

    def __init__(self, name, args, path, line, children=None):
        self.name = name
        self.args = args
        self.path = path
        self.line = line
        self.children = children

    def find(self, name):
        return [child for child in self.children or [] if child.name == name]


def split_files(text):
    """Split `nginx -T` output into [(path, content)] in the order nginx printed them."""
    files = []
    current = None
    lines = []
    for line in text.splitlines():
        match = FILE_HEADER.match(line)
        if match:
            if current is not None:
                files.append((current, "\n".join(lines)))
            current, lines = match.group(1), []
        elif current is not None:
            lines.append(line)
    if current is not None:
        files.append((current, "\n".join(lines)))
    return files


def _tokens(content):
    """Yield (token, line, quoted) for nginx's syntax: words, quoted strings, `{`, `}` and `;`; comments dropped."""
    i, line, n = 0, 1, len(content)
    while i < n:
        ch = content[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and content[i] != "\n":
                i += 1
        elif ch in "{};":
            yield ch, line, False
            i += 1
        elif ch in "\"'":
            start_line, j, value = line, i + 1, []
            while j < n and content[j] != ch:
                if content[j] == "\\" and j + 1 < n:
                    j += 1
                if content[j] == "\n":
                    line += 1
                value.append(content[j])
                j += 1
            yield "".join(value), start_line, True
            i = j + 1
        else:
            j = i
            while j < n and not content[j].isspace() and content[j] not in "{};":
                # A variable such as ${name} keeps its braces.
                if content[j] == "$" and j + 1 < n and content[j + 1] == "{":
                    end = content.find("}", j)
                    j = end + 1 if end > 0 else n
                    continue
                j += 1
            yield content[i:j], line, False
            i = j


def _block(words, path, children=None):
    """A Block from the (word, line) pairs of one directive."""
    return Block(words[0][0], [word for word, dummy in words[1:]], path, words[0][1], children)


def parse(content, path):
    """Parse one file into a list of top-level Blocks."""
    root = Block("", [], path, 0, [])
    stack = [root]
    words = []
    for token, line, quoted in _tokens(content):
        if token == ";" and not quoted:
            if words:
                stack[-1].children.append(_block(words, path))
            words = []
        elif token == "{" and not quoted:
            if not words:
                raise ParseError("%s:%d: '{' without a directive" % (path, line))
            block = _block(words, path, [])
            stack[-1].children.append(block)
            stack.append(block)
            words = []
        elif token == "}" and not quoted:
            if len(stack) == 1:
                raise ParseError("%s:%d: unexpected '}'" % (path, line))
            stack.pop()
            words = []
        else:
            words.append((token, line))
    if len(stack) != 1:
        raise ParseError("%s: unclosed block '%s' from line %d" % (path, stack[-1].name, stack[-1].line))
    return root.children


def parse_listen(args):
    """One `listen` directive: address, port, and whether it takes TLS (ssl), QUIC, or is the default server."""
    target = args[0] if args else "80"
    flags = set(args[1:])
    if target.startswith("unix:"):
        address, port = target, None
    elif target.startswith("["):
        address, rest = target[1:].split("]", 1) if "]" in target else (target[1:], "")
        port = int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else 80
    elif target.isdigit():
        address, port = "*", int(target)
    elif ":" in target:
        address, port_text = target.rsplit(":", 1)
        port = int(port_text) if port_text.isdigit() else 80
    else:
        address, port = target, 80
    return {
        "address": address,
        "port": port,
        "ssl": "ssl" in flags,
        "quic": "quic" in flags,
        "default_server": "default_server" in flags or "default" in flags,
    }


def group_names(value):
    """The group names of an ssl_ecdh_curve or Groups value: tuples (/) and ':' split, '?' and '*' dropped."""
    names = []
    for part in re.split(r"[:/]", value or ""):
        name = part.strip().lstrip("?*")
        if name:
            names.append(name)
    return names


def groups_quantum_safe(value):
    """True when a group list names a hybrid or post-quantum group, False when none, None for 'auto' (OpenSSL's own)."""
    if value is None or value.strip().lower() == "auto":
        return None
    kinds = [_groups.describe(name).get("kind") for name in group_names(value)]
    return any(_groups.is_quantum_safe(kind) for kind in kinds if kind)


def _setting(block, name):
    """The last value of a directive set in this block (nginx refuses duplicates), with its file and line."""
    found = block.find(name)
    if not found:
        return None
    return {"value": " ".join(found[-1].args), "path": found[-1].path, "line": found[-1].line}


def _conf_groups(block):
    """`ssl_conf_command Groups <list>` overrides ssl_ecdh_curve when set."""
    for directive in block.find("ssl_conf_command"):
        if len(directive.args) >= 2 and directive.args[0].lower() in ("groups", "curves"):
            return {"value": directive.args[1], "path": directive.path, "line": directive.line,
                    "directive": "ssl_conf_command " + directive.args[0]}
    return None


def _policy(block):
    policy = {name: _setting(block, name) for name in POLICY_DIRECTIVES}
    conf_groups = _conf_groups(block)
    if conf_groups:
        policy["ssl_ecdh_curve"] = conf_groups
    return policy


def classical_reasons(policy):
    """Why settings keep key exchange classical: a group list with no hybrid/PQ group, or no TLS 1.3."""
    reasons = []
    curve = policy.get("ssl_ecdh_curve")
    if curve and groups_quantum_safe(curve["value"]) is False:
        reasons.append("%s %s (no hybrid or post-quantum group) at %s:%d"
                       % (curve.get("directive", "ssl_ecdh_curve"), curve["value"], curve["path"], curve["line"]))
    protocols = policy.get("ssl_protocols")
    if protocols and TLS13 not in protocols["value"].split():
        reasons.append("ssl_protocols %s (ML-KEM needs TLS 1.3) at %s:%d" % (protocols["value"], protocols["path"], protocols["line"]))
    return reasons


def expand(blocks, parsed, prefix, depth=0):
    """Replace each `include` by the blocks of the files it names, as nginx does (glob matches in sorted order)."""
    if depth > 16:
        raise ParseError("includes nest deeper than 16 levels")
    expanded = []
    for block in blocks:
        if block.name == "include" and block.children is None and block.args:
            pattern = block.args[0] if block.args[0].startswith("/") else os.path.join(prefix, block.args[0])
            for path in sorted(path for path in parsed if fnmatch.fnmatch(path, pattern)):
                expanded.extend(expand(parsed[path], parsed, prefix, depth + 1))
        elif block.children is not None:
            expanded.append(Block(block.name, block.args, block.path, block.line,
                                  expand(block.children, parsed, prefix, depth + 1)))
        else:
            expanded.append(block)
    return expanded


def servers(text):
    """Every HTTP server block in `nginx -T` output, and the http-level TLS policy the servers inherit."""
    files = split_files(text)
    if not files:
        raise ParseError("no '# configuration file' section in the output of nginx -T")
    parsed = {path: parse(content, path) for path, content in files}
    sites = {}
    for path, content in files:
        marker = SITE_MARKER.search(content)
        if marker:
            sites[path] = marker.group(1)
    main_path = files[0][0]
    tree = expand(parsed[main_path], parsed, os.path.dirname(main_path))
    found = []
    http_policy = {name: None for name in POLICY_DIRECTIVES}
    for http in (block for block in tree if block.name == "http" and block.children is not None):
        for name, value in _policy(http).items():
            if value:
                http_policy[name] = value
        for block in http.children:
            if block.name == "server" and block.children is not None:
                found.append(_server(block, sites.get(block.path)))
    for server in found:
        effective = {name: server["own_policy"][name] or http_policy[name] for name in POLICY_DIRECTIVES}
        protocols = effective["ssl_protocols"]
        server["effective_policy"] = effective
        server["quantum_safe_policy"] = (
            groups_quantum_safe((effective["ssl_ecdh_curve"] or {}).get("value"))
            if not protocols or TLS13 in protocols["value"].split() else False
        )
    return found, http_policy


def _server(block, site):
    names = [name for directive in block.find("server_name") for name in directive.args]
    listens = [parse_listen(directive.args) for directive in block.find("listen")]
    if not listens:
        listens = [parse_listen(["80"])]
    ssl_on = any(directive.args == ["on"] for directive in block.find("ssl"))
    own = _policy(block)
    reasons = classical_reasons(own)
    return {
        "file": block.path,
        "line": block.line,
        "server_names": names,
        "listen": listens,
        "tls": ssl_on or any(listen["ssl"] or listen["quic"] for listen in listens),
        "certificates": [" ".join(d.args) for d in block.find("ssl_certificate")],
        "site": site,
        "managed": site is not None,
        "own_policy": own,
        "classical_override": reasons,
    }


def not_installed():
    """What is served where the nginx binary is absent: nothing."""
    return dict(installed=False, servers=[], http_policy={}, classical_overrides=[], tls_endpoints=[], quic_endpoints=[])


def service_openssl_conf(module, service):
    """OPENSSL_CONF that systemd gives the service, or None. (nginx writes its process title over its own
    environment, so /proc/<pid>/environ of a running nginx cannot tell.)"""
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return None
    rc, out, dummy = module.run_command([systemctl, "show", "-p", "Environment", "--value", service])
    if rc != 0:
        return None
    for assignment in out.split():
        if assignment.startswith("OPENSSL_CONF="):
            return assignment.split("=", 1)[1]
    return None


def read(module, binary, service, openssl_conf=None):
    """What the nginx at binary serves, from its `nginx -T` with the OPENSSL_CONF given or else the one systemd gives
    service: (served, None), or (None, why) where nginx -T fails or its output cannot be read."""
    if not os.path.exists(binary):
        return not_installed(), None
    openssl_conf = openssl_conf or service_openssl_conf(module, service)
    rc, out, err = module.run_command([binary, "-T", "-q"],
                                      environ_update={"OPENSSL_CONF": openssl_conf} if openssl_conf else None)
    if rc != 0:
        return None, "%s -T failed: %s" % (binary, (err or out).strip())
    try:
        return served(out), None
    except ParseError as exc:
        return None, "cannot read the output of %s -T: %s" % (binary, exc)


def served(text):
    """What pqc.edge.nginx_servers returns of `nginx -T` output: the servers, the http-level policy, the classical
    overrides and the TLS and QUIC endpoints to probe. ParseError where the output cannot be read."""
    found, http_policy = servers(text)
    return dict(installed=True, servers=found, http_policy=http_policy, classical_overrides=classical_overrides(found),
                tls_endpoints=tls_endpoints(found), quic_endpoints=tls_endpoints(found, "quic"))


def classical_overrides(found):
    """The TLS servers not written by pqc.edge whose own directives keep them classical, with one reason line."""
    return [
        dict(server, reason="server_name %s, port %s, in %s:%d: %s" % (
            " ".join(server["server_names"]) or "-",
            ",".join(sorted({str(listen["port"]) for listen in server["listen"] if listen["ssl"] or listen["quic"]})),
            server["file"], server["line"], "; ".join(server["classical_override"])))
        for server in found
        if server["tls"] and not server["managed"] and server["classical_override"]
    ]


def probe_name(names):
    """A name to send as SNI for a server: its first literal name, a name under its first wildcard, or None."""
    for name in names:
        if name and name != "_" and not name.startswith(("~", ".", "*")) and not name.endswith(".*"):
            return name
    for name in names:
        if name.startswith("*."):
            return "pqc-edge-probe" + name[1:]
        if name.startswith(".") and len(name) > 1:
            return name[1:]
    return None


WILDCARD_ADDRESSES = ("*", "0.0.0.0", "::")


def tls_endpoints(found, transport="ssl"):
    """One endpoint per TLS server and TCP port (transport "ssl") or UDP port ("quic"), named by the server's
    probe name; duplicates keep the first."""
    endpoints = []
    seen = set()
    for server in found:
        if not server["tls"]:
            continue
        name = probe_name(server["server_names"])
        for listen in server["listen"]:
            if not listen[transport] or listen["port"] is None:
                continue
            key = (listen["port"], name)
            if key in seen:
                continue
            seen.add(key)
            endpoints.append({
                "port": listen["port"],
                "address": None if listen["address"] in WILDCARD_ADDRESSES else listen["address"],
                "server_name": name,
                "server_names": server["server_names"],
                "site": server["site"],
                "file": server["file"],
                "line": server["line"],
                "quantum_safe_policy": server["quantum_safe_policy"],
                "reason": "; ".join(server["classical_override"]) or None,
            })
    return endpoints
