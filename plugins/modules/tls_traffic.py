#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tls_traffic
short_description: How much of an edge's real traffic negotiated a post-quantum key exchange
version_added: "0.1.0"
description:
  - Reads the access log that pqc.edge's sites write (nginx C(log_format pqc_edge)) over a window and counts what the
    real clients negotiated, by request and by connection.
  - Returns counts by negotiated group and kind, the share of quantum-safe requests and connections, how many
    requests came from clients that offered a hybrid or post-quantum group, how many of those still got a classical
    group and on which server name (the cost of the C(prefer) policy, or of a server that pins classical groups),
    and the shares of TLS versions and resumed sessions.
  - Streams the log line by line (rotated files, gzip-compressed ones included), so memory stays bounded whatever
    its size; says how long it took. Lines in another format are counted as unparsed, never a failure.
author:
  - pqc.edge contributors (@pqc-edge)
options:
  path:
    description: The access log.
    type: path
    default: /var/log/nginx/pqc-edge-access.log
  since:
    description:
      - Count only requests at or after this time. An ISO 8601 time (UTC when it has no offset), or a duration back
        from now such as C(15m), C(24h) or C(7d).
    type: str
  last_lines:
    description:
      - Count only the last this many lines (across the rotated files). Memory grows with it, as those lines are
        held until the end.
    type: int
  include_rotated:
    description: Also read the log's rotations (C(path.1), C(path.2.gz), ...), oldest first.
    type: bool
    default: true
extends_documentation_fragment:
  - pqc.edge.read_only
notes:
  - Hybrid groups that nginx prints as a hex code point (nginx before 1.27.5) are named through the collection's
    group registry.
  - A connection is counted at its first request (C($connection_requests) = 1); a request is quantum-safe when its
    group is hybrid or pure post-quantum.
"""

EXAMPLES = r"""
- name: What the last day's clients negotiated
  pqc.edge.tls_traffic:
    since: 24h
  become: true
  register: traffic

- name: Fail when fewer than half of the TLS requests were quantum-safe
  ansible.builtin.assert:
    that: traffic.quantum_safe_request_share >= 0.5
"""

RETURN = r"""
tls_requests:
  description: TLS requests counted.
  type: int
  returned: always
requests_by_group:
  description: TLS requests by negotiated group (IANA name).
  type: dict
  returned: always
  sample: {"X25519MLKEM768": 912, "x25519": 88}
requests_by_kind:
  description: TLS requests by kind of group, C(hybrid), C(pq), C(classical), C(unknown).
  type: dict
  returned: always
connections_by_group:
  description: TLS connections (counted at their first request) by negotiated group.
  type: dict
  returned: always
quantum_safe_request_share:
  description: Share of TLS requests on a hybrid or post-quantum group, 0 to 1; null when there were none.
  type: float
  returned: always
  sample: 0.912
quantum_safe_connection_share:
  description: The same for connections.
  type: float
  returned: always
pq_capable_requests:
  description: TLS requests whose client offered a hybrid or post-quantum group.
  type: int
  returned: always
pq_capable_served_classical:
  description: Of those, the requests that still got a classical group.
  type: int
  returned: always
pq_capable_served_classical_by_server_name:
  description: The same by server name (SNI, else Host).
  type: dict
  returned: always
tls_version_shares:
  description: Share of TLS requests by protocol version.
  type: dict
  returned: always
  sample: {"TLSv1.3": 1.0}
resumption_share:
  description: Share of TLS requests on a resumed session.
  type: float
  returned: always
unparsed_lines:
  description: Lines of another format, not counted otherwise.
  type: int
  returned: always
files:
  description: The files read, oldest first.
  type: list
  elements: str
  returned: always
elapsed_seconds:
  description: How long reading and counting took.
  type: float
  returned: always
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pqc.edge.plugins.module_utils import _traffic


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", default="/var/log/nginx/pqc-edge-access.log"),
            since=dict(type="str"),
            last_lines=dict(type="int"),
            include_rotated=dict(type="bool", default=True),
        ),
        mutually_exclusive=[("since", "last_lines")],
        supports_check_mode=True,
    )
    p = module.params
    if p["last_lines"] is not None and p["last_lines"] < 1:
        module.fail_json(msg="last_lines=%d: give a positive number of lines" % p["last_lines"])
    since = None
    if p["since"] is not None:
        try:
            since = _traffic.parse_since(p["since"])
        except ValueError:
            module.fail_json(msg="since=%s is neither an ISO 8601 time nor a duration such as 15m, 24h or 7d" % p["since"])
    files = _traffic.log_files(p["path"], p["include_rotated"])
    if not files:
        module.fail_json(msg="%s does not exist: is this an edge that pqc.edge's nginx role configured?" % p["path"])
    started = time.monotonic()
    try:
        counts = _traffic.count(files, since, p["last_lines"])
    except (IOError, OSError) as exc:
        module.fail_json(msg="cannot read %s: %s" % (getattr(exc, "filename", None) or p["path"], exc))
    result = counts.result()
    module.exit_json(
        changed=False, files=files, since=since.isoformat() if since else None,
        elapsed_seconds=round(time.monotonic() - started, 3), **result
    )


if __name__ == "__main__":
    main()
