# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""When the certificates nginx serves expire, as Prometheus gauges an alert can compare with time().

The play lists what to watch (`watch_list`: each certificate file nginx serves, with the server names it serves it
for); the expiry timer of pqc.edge.traffic_metrics reads each file with the host's openssl on every run, so a
certificate renewed between plays shows at once. A file that cannot be read is a gauge of its own: a broken renewal
shows as a series rather than as one that quietly disappears. Installed on hosts beside the timer's script.
"""

from __future__ import annotations

import calendar
import re
import subprocess
import time

try:
    from ansible_collections.pqc.edge.plugins.module_utils import _prometheus
except ImportError:  # on a host, beside pqc-edge-certificate-expiry
    import _prometheus  # type: ignore[no-redef]

# openssl's names of classical key types, as operators say them; ML-DSA and the rest keep openssl's own names.
KEY_ALGORITHMS = {"id-ecPublicKey": "ECDSA", "rsaEncryption": "RSA", "rsassaPss": "RSA-PSS"}
NOT_AFTER = re.compile(r"^notAfter=(.+)$", re.M)
ISSUER = re.compile(r"^issuer=(.*)$", re.M)
KEY_ALGORITHM = re.compile(r"^\s*Public Key Algorithm: (\S+)", re.M)
OPENSSL_TIMEOUT = 30
# Without a fixed number of days, a certificate is renewed once less than this share of its lifetime is left: Let's
# Encrypt's advice of renewing at two thirds (30 days before a 90-day certificate ends, 2 before a 6-day one).
RENEW_FRACTION = 1.0 / 3
SECONDS_PER_DAY = 86400


def openssl_time(text):
    """Seconds since the epoch of a date as openssl prints it (notAfter=Mar  5 07:08:09 2027 GMT)."""
    return calendar.timegm(time.strptime(text.strip(), "%b %d %H:%M:%S %Y GMT"))


def renewal_reason(not_before, not_after, now, renew_days=None, fraction=RENEW_FRACTION):
    """Why a certificate valid from `not_before` to `not_after` (seconds since the epoch) is due at `now`, or None.

    Due within `renew_days` of its end when that is given, else once less than `fraction` of its lifetime is left,
    so that a short-lived certificate is not renewed on every run nor a long-lived one at the last moment."""
    left = not_after - now
    if renew_days is not None:
        if left <= renew_days * SECONDS_PER_DAY:
            return "certificate expires within %d days" % renew_days
        return None
    lifetime = max(0, not_after - not_before)
    if left <= lifetime * fraction:
        return "certificate expires in %.1f days, less than %d%% of its %.1f-day lifetime" % (
            max(0, left) / float(SECONDS_PER_DAY), round(fraction * 100), lifetime / float(SECONDS_PER_DAY))
    return None


def certificate_facts(text):
    """Expiry (seconds since the epoch), issuer (RFC 2253) and key algorithm from `openssl x509 -noout -enddate
    -issuer -nameopt RFC2253 -text`; None when the text has no expiry."""
    not_after = NOT_AFTER.search(text)
    if not not_after:
        return None
    try:
        expires = openssl_time(not_after.group(1))
    except ValueError:
        return None
    issuer = ISSUER.search(text)
    key = KEY_ALGORITHM.search(text)
    algorithm = key.group(1) if key else "unknown"
    return {"not_after": expires, "issuer": issuer.group(1).strip() if issuer else "",
            "algorithm": KEY_ALGORITHMS.get(algorithm, algorithm)}


def read_certificate(path, openssl):
    """The facts of the certificate at `path`, or None when it is missing, unreadable or not a certificate."""
    try:
        result = subprocess.run([openssl, "x509", "-in", path, "-noout", "-enddate", "-issuer", "-nameopt", "RFC2253",
                                 "-text"], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return certificate_facts(result.stdout) if result.returncode == 0 else None


def watch_list(servers):
    """[{certificate, server_names}] of the TLS servers pqc.edge.nginx_servers read, a file once, in nginx's order.

    Paths nginx resolves only per connection (with a variable) or against its prefix (relative) are left out."""
    watched = {}
    for server in servers or []:
        if not isinstance(server, dict) or not server.get("tls"):
            continue
        for path in server.get("certificates") or []:
            if not isinstance(path, str) or not path.startswith("/") or "$" in path:
                continue
            names = watched.setdefault(path, [])
            names.extend(name for name in server.get("server_names") or []
                         if isinstance(name, str) and name and name not in names)
    return [{"certificate": path, "server_names": names} for path, names in watched.items()]


def prometheus_text(watch, read, now):
    """The gauges for `watch` given `read` ({certificate path: certificate_facts or None})."""
    expiry, unreadable = [], []
    for entry in watch:
        facts = read.get(entry["certificate"])
        if facts is None:
            unreadable.append(((("certificate", entry["certificate"]),), 1))
            continue
        for name in entry["server_names"] or [""]:
            expiry.append(((("server_name", name), ("algorithm", facts["algorithm"]), ("issuer", facts["issuer"]),
                            ("certificate", entry["certificate"])), facts["not_after"]))
    return _prometheus.exposition([
        ("pqc_edge_certificate_expiry_timestamp_seconds", "gauge",
         "When each certificate nginx serves expires (notAfter, seconds since the epoch), by server name.", expiry),
        ("pqc_edge_certificate_unreadable", "gauge",
         "Certificate files nginx is configured to serve that could not be read as a certificate.", unreadable),
        ("pqc_edge_certificate_expiry_last_update_timestamp_seconds", "gauge",
         "When the certificates were last read.", [((), "%.3f" % now)]),
    ])
