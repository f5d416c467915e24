# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""pqc.edge backend: a WSGI application that reports the TLS parameters nginx negotiated.

nginx terminates TLS and passes what it negotiated in X-TLS-* request headers (set by nginx,
never taken from the client). The group names come from the collection's one registry,
deployed beside this file as _groups.py.
"""

import datetime
import json

import _groups

SERVICE_NAME = "pqc.edge backend"


def _header(environ, name):
    value = environ.get("HTTP_" + name.upper().replace("-", "_"), "").strip()
    return value or None


def _proxied(environ):
    # nginx sets X-TLS-Protocol on every request it proxies; a direct request has none.
    return _header(environ, "X-TLS-Protocol") is not None


def _group(environ):
    raw = _header(environ, "X-TLS-Group")
    if raw is None:
        return {"name": None, "raw": None, "codepoint": None, "kind": "unknown", "grease": False}
    info = _groups.describe(raw)
    return dict((k, info[k]) for k in ("name", "raw", "codepoint", "kind", "grease"))


def _client_groups(environ):
    raw = _header(environ, "X-TLS-Client-Groups")
    if raw is None:
        return []
    described = (_groups.describe(token) for token in raw.split(":") if token.strip())
    return [dict((k, info[k]) for k in ("name", "raw", "codepoint", "kind", "grease")) for info in described]


def health(environ):
    return 200, {
        "status": "healthy",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "message": "%s is running" % SERVICE_NAME,
    }


def nginx_health(environ):
    group = _group(environ)
    proxied = _proxied(environ)
    return 200, {
        "nginx": "proxy working" if proxied else "not proxied",
        "backend": "connected",
        "quantum_safe": proxied and _groups.is_quantum_safe(group["kind"]),
    }


def tls(environ):
    if not _proxied(environ):
        return 421, {"error": "this request did not come through the TLS edge"}
    group = _group(environ)
    return 200, {
        "protocol": _header(environ, "X-TLS-Protocol"),
        "cipher": _header(environ, "X-TLS-Cipher"),
        "group": group["name"],
        "group_codepoint": group["codepoint"],
        "group_raw": group["raw"],
        "group_kind": {"pq": "post-quantum"}.get(group["kind"], group["kind"]),
        "quantum_safe": _groups.is_quantum_safe(group["kind"]),
        "client_groups": _client_groups(environ),
        "session_reused": _header(environ, "X-TLS-Session-Reused") == "r",
        # The client's HTTP version as nginx saw it: "HTTP/3.0" over QUIC, "HTTP/2.0" or "HTTP/1.1" over TCP.
        "http_version": _header(environ, "X-HTTP-Version"),
        # Mutual TLS (a site's client_auth): nginx's verdict on the client's certificate (SUCCESS, NONE or
        # FAILED:<reason>) and, where it showed one, its subject and issuer.
        "client_certificate": {
            "verify": _header(environ, "X-TLS-Client-Verify") or "NONE",
            "subject": _header(environ, "X-TLS-Client-Subject") or None,
            "issuer": _header(environ, "X-TLS-Client-Issuer") or None,
        },
    }


ROUTES = {
    "/api/health": health,
    "/nginx-health": nginx_health,
    "/api/tls": tls,
}


def application(environ, start_response):
    handler = ROUTES.get(environ.get("PATH_INFO", ""))
    method = environ.get("REQUEST_METHOD", "GET")
    if handler is None:
        status, body = 404, {"error": "not found"}
    elif method not in ("GET", "HEAD"):
        status, body = 405, {"error": "method not allowed"}
    else:
        status, body = handler(environ)
    payload = json.dumps(body, sort_keys=True).encode("utf-8") + b"\n"
    reasons = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 421: "Misdirected Request"}
    headers = [
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-Length", str(len(payload))),
        ("Cache-Control", "no-store"),
    ]
    if status == 405:
        headers.append(("Allow", "GET, HEAD"))
    start_response("%d %s" % (status, reasons[status]), headers)
    return [b""] if method == "HEAD" else [payload]
