#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nginx_servers
short_description: List every HTTP server nginx runs, with its TLS key-exchange policy
version_added: 0.1.0
description:
  - Runs C(nginx -T) and reads every C(server) block of the C(http) context, the operator's as well as the ones
    pqc.edge writes, with the file and line it starts on, its server names, its listeners and its certificates.
  - For each server it tells whether its own directives (C(ssl_ecdh_curve), C(ssl_conf_command Groups),
    C(ssl_protocols)) keep its key exchange classical (no hybrid or post-quantum group, or no TLS 1.3), and what
    policy it ends up with once the C(http)-level settings are inherited.
  - Lists the TLS endpoints to probe, one per server name and TLS port.
  - Reads only; reports C(installed=false) where the nginx binary is absent.
author:
  - pqc.edge contributors (@pqc-edge)
options:
  binary:
    description: The nginx binary.
    type: path
    default: /usr/sbin/nginx
  openssl_conf:
    description:
      - OpenSSL configuration nginx needs to load its configuration (oqs-provider's groups); set as C(OPENSSL_CONF)
        for C(nginx -T).
      - By default the C(OPENSSL_CONF) that systemd gives O(service), if any, so that C(nginx -T) reads the
        configuration as the service does.
    type: path
  service:
    description: The systemd service that runs nginx, whose environment O(openssl_conf) defaults to.
    type: str
    default: nginx
extends_documentation_fragment:
  - pqc.edge.read_only
notes:
  - C(nginx -T) reads the certificates and keys the configuration names, so the module needs root on most hosts.
  - Servers that share a TLS listener are reached by SNI; which groups such a server really negotiates is what
    M(pqc.edge.tls_probe) measures, this module only reads the configuration.
seealso:
  - module: pqc.edge.tls_probe
"""

EXAMPLES = r"""
- name: Read the servers of an edge
  pqc.edge.nginx_servers:
  become: true
  register: nginx

- name: Name the servers that pin classical groups
  ansible.builtin.debug:
    msg: "{{ nginx.classical_overrides | map(attribute='reason') | list }}"

- name: Probe each TLS server by its name
  pqc.edge.tls_probe:
    host: 127.0.0.1
    port: "{{ item.port }}"
    server_name: "{{ item.server_name }}"
  loop: "{{ nginx.tls_endpoints }}"
"""

RETURN = r"""
installed:
  description: Whether the nginx binary exists.
  returned: always
  type: bool
servers:
  description: Every server block of the http context, in the order nginx reads them.
  returned: success
  type: list
  elements: dict
  contains:
    file:
      description: File the block starts in.
      type: str
    line:
      description: Line the block starts on.
      type: int
    server_names:
      description: Its server_name values.
      type: list
    listen:
      description: Its listeners, each with C(address), C(port), C(ssl), C(quic), C(default_server).
      type: list
    tls:
      description: Whether it serves TLS.
      type: bool
    site:
      description: The pqc.edge site the block belongs to, or null for someone else's.
      type: str
    classical_override:
      description: Why the block's own directives keep it classical, with file and line; empty when they do not.
      type: list
    quantum_safe_policy:
      description:
        - Whether the policy in force (its own directives, else the http-level ones) offers a hybrid or post-quantum
          group over TLS 1.3; null when the groups are left to OpenSSL (C(auto)).
      type: bool
  sample:
    - file: /etc/nginx/sites-enabled/legacy
      line: 1
      server_names: [legacy.example.org]
      listen: [{address: "*", port: 8445, ssl: true, quic: false, default_server: false}]
      tls: true
      site: null
      classical_override: ["ssl_ecdh_curve X25519 (no hybrid or post-quantum group) at /etc/nginx/sites-enabled/legacy:6"]
      quantum_safe_policy: false
http_policy:
  description: The http-level C(ssl_protocols) and C(ssl_ecdh_curve), each with C(value), C(path), C(line), or null.
  returned: success
  type: dict
classical_overrides:
  description: The TLS servers not written by pqc.edge whose own directives keep them classical, each with a C(reason).
  returned: success
  type: list
  elements: dict
tls_endpoints:
  description:
    - One per TLS server, TCP port and server name (the first usable name; none for a catch-all server), each with
      C(port), C(address), C(server_name), C(site), C(file), C(line), C(quantum_safe_policy) and C(reason).
  returned: success
  type: list
  elements: dict
quic_endpoints:
  description:
    - The same for the servers with a C(quic) listener (HTTP/3), one per UDP port and server name.
  returned: success
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pqc.edge.plugins.module_utils import _nginx


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type="path", default="/usr/sbin/nginx"),
            openssl_conf=dict(type="path"),
            service=dict(type="str", default="nginx"),
        ),
        supports_check_mode=True,
    )
    served, error = _nginx.read(module, module.params["binary"], module.params["service"], module.params["openssl_conf"])
    if error:
        module.fail_json(msg=error)
    module.exit_json(changed=False, **served)


if __name__ == "__main__":
    main()
