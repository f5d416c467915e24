#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_facts
short_description: Read in one call what the pqc.edge roles decide on
version_added: 0.1.0
description:
  - Reads the state of the files, packages, users, units, programs and ports a role manages, so that a role asks the
    host once and then writes only what differs. On a converged host that makes a run a handful of module calls
    instead of one or two per file, unit and package.
  - Reads only; every option selects something to read, and nothing is read that was not asked for.
author:
  - pqc.edge contributors (@pqc-edge)
options:
  paths:
    description:
      - Paths to describe without following a last symbolic link; see RV(paths).
      - Regular files up to 64 MiB get their sha256 and md5 (dpkg records the md5 of configuration files).
    type: list
    elements: path
    default: []
  read:
    description: Text files whose content to return (up to 1 MiB each); see RV(content).
    type: list
    elements: path
    default: []
  glob:
    description: Shell-style path patterns to expand, for example C(/etc/nginx/sites-available/pqc-edge-*.conf); see RV(found).
    type: list
    elements: str
    default: []
  conffiles:
    description: A Debian package whose configuration files dpkg recorded with their md5; see RV(conffiles).
    type: str
  writable:
    description:
      - Directories a role will create or write to; see RV(writable). The nearest existing ancestor of each must be a
        directory that the module's user can write to.
    type: list
    elements: path
    default: []
  packages:
    description: Whether to list the installed packages (dpkg or rpm) and, with apt, the age of the package lists.
    type: bool
    default: false
  openssl:
    description: An openssl command line (a name looked up in C(PATH), or a path) whose version and TLS groups to read.
    type: str
  nginx:
    description: An nginx binary whose C(nginx -V) to read.
    type: path
  nginx_servers:
    description:
      - With O(nginx), also what that nginx serves, from its C(nginx -T), as M(pqc.edge.nginx_servers) reads it; see
        RV(nginx_servers). A C(nginx -T) that fails is reported there, not as a failure of the module, so that a play
        can first name what it knows better (a port taken, an edited C(nginx.conf)).
    type: bool
    default: false
  nginx_service:
    description: The systemd service whose C(OPENSSL_CONF) C(nginx -T) gets, as the service does (O(nginx_servers)).
    type: str
    default: nginx
  tcp_listeners:
    description: Whether to list the listening TCP sockets with the programs that hold them (C(ss -ltnp)).
    type: bool
    default: false
  groups:
    description: Group names to look up; see RV(groups).
    type: list
    elements: str
    default: []
  users:
    description: User names to look up; see RV(users).
    type: list
    elements: str
    default: []
  units:
    description: systemd units whose enablement and activity to read; see RV(units).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - pqc.edge.read_only
notes:
  - The roles compare what they would write with RV(paths) through the P(pqc.edge.differs#filter) filter and skip the
    write where nothing differs, so check mode and C(--diff) stay exact.
seealso:
  - module: ansible.builtin.stat
  - module: ansible.builtin.getent
"""

EXAMPLES = r"""
- name: Read the files and units of the backend
  pqc.edge.host_facts:
    paths: [/etc/systemd/system/pqc-edge-backend.service]
    users: [pqc-edge]
    units: [pqc-edge-backend.service]
  register: backend_host

- name: Install the unit only where it differs
  ansible.builtin.template:
    src: pqc-edge-backend.service.j2
    dest: /etc/systemd/system/pqc-edge-backend.service
    mode: "0644"
  when: >-
    backend_host.paths['/etc/systemd/system/pqc-edge-backend.service']
    | pqc.edge.differs(content=lookup('ansible.builtin.template', 'pqc-edge-backend.service.j2'), mode='0644')
"""

RETURN = r"""
cpus:
  description: Usable CPUs.
  returned: always
  type: int
ipv6:
  description: Whether the host has an IPv6 address.
  returned: always
  type: bool
os:
  description:
    - The operating system, from C(/etc/os-release) and the machine, so that the roles need no fact gathering.
    - C(family) (C(Debian) for Debian and its derivatives, as in C(ansible_facts['os_family'])), C(id) (C(ID), such as
      C(debian)), C(major_version) (the first number of C(VERSION_ID), else C(VERSION_CODENAME)), C(architecture)
      (such as C(x86_64)) and C(pkg_mgr) (C(apt), C(dnf), C(yum) or C(zypper), the first present; null when none is).
  returned: always
  type: dict
  sample: {family: Debian, id: debian, major_version: "13", architecture: x86_64, pkg_mgr: apt}
paths:
  description:
    - For each path of O(paths), C(exists), C(type) (C(file), C(directory), C(link) or C(other)), C(mode) (four octal
      digits), C(owner), C(group), C(link_target) and C(resolved) (links; the target as written, and
      the path it leads to), C(size), C(sha256) and C(md5) (regular files up to 64 MiB).
  returned: always
  type: dict
content:
  description: For each path of O(read), its text, or null when it does not exist.
  returned: always
  type: dict
found:
  description: For each pattern of O(glob), the sorted paths that match it.
  returned: always
  type: dict
conffiles:
  description: With O(conffiles), the configuration files of the package, each with the md5 dpkg recorded for it.
  returned: always
  type: dict
writable:
  description: For each path of O(writable), C(writable), or the ancestor that is in the way.
  returned: always
  type: dict
packages:
  description: Names of the installed packages, with O(packages).
  returned: always
  type: list
package_lists:
  description: With O(packages) and apt, C(count) of package lists and C(age) of the newest in seconds (null without lists).
  returned: always
  type: dict
openssl:
  description: With O(openssl), C(present), C(version) (the first line of C(openssl version)) and C(tls_groups).
  returned: always
  type: dict
nginx:
  description: With O(nginx), C(present) and C(build) (what C(nginx -V) prints).
  returned: always
  type: dict
nginx_servers:
  description:
    - With O(nginx_servers), what M(pqc.edge.nginx_servers) returns (C(installed), C(servers), C(http_policy),
      C(classical_overrides), C(tls_endpoints), C(quic_endpoints)), and C(error), null unless C(nginx -T) failed or its
      output could not be read (the other keys are then empty).
  returned: always
  type: dict
tcp_listeners:
  description: With O(tcp_listeners), the lines of C(ss -H -l -t -n -p).
  returned: always
  type: list
groups:
  description: For each group of O(groups), C(gid), or null where there is no such group.
  returned: always
  type: dict
users:
  description: For each user of O(users), C(uid), C(group), C(home), C(shell), or null where there is no such user.
  returned: always
  type: dict
units:
  description: For each unit of O(units), C(enabled) (C(systemctl is-enabled)) and C(active) (C(systemctl is-active)).
  returned: always
  type: dict
"""

import glob
import grp
import hashlib
import os
import platform
import pwd
import shlex
import stat
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pqc.edge.plugins.module_utils import _nginx

HASH_LIMIT = 64 * 1024 * 1024
READ_LIMIT = 1024 * 1024


def describe(path):
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    except OSError as exc:
        return {"exists": False, "error": str(exc)}
    kind = ("link" if stat.S_ISLNK(info.st_mode) else "directory" if stat.S_ISDIR(info.st_mode)
            else "file" if stat.S_ISREG(info.st_mode) else "other")
    result = {
        "exists": True,
        "type": kind,
        "mode": "%04o" % stat.S_IMODE(info.st_mode),
        "owner": name_of(pwd.getpwuid, info.st_uid),
        "group": name_of(grp.getgrgid, info.st_gid),
        "size": info.st_size,
    }
    if kind == "link":
        result["link_target"] = os.readlink(path)
        result["resolved"] = os.path.realpath(path)
    elif kind == "file" and info.st_size <= HASH_LIMIT:
        sha256, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1024 * 1024), b""):
                    sha256.update(block)
                    md5.update(block)
        except OSError as exc:
            result["error"] = str(exc)
        else:
            result["sha256"] = sha256.hexdigest()
            result["md5"] = md5.hexdigest()
    return result


def name_of(lookup, number):
    try:
        return lookup(number)[0]
    except KeyError:
        return str(number)


def read_text(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(READ_LIMIT).decode("utf-8", "replace")
    except FileNotFoundError:
        return None


def writable(path):
    current = path
    while not os.path.lexists(current):
        current = os.path.dirname(current) or "/"
    if os.path.isdir(current) and os.access(current, os.W_OK):
        return "writable"
    return current


def packages(module):
    result = {"packages": [], "package_lists": {}}
    dpkg = module.get_bin_path("dpkg-query")
    if dpkg:
        rc, out, err = module.run_command([dpkg, "-W", "-f", "${db:Status-Abbrev} ${Package}\n"])
        if rc != 0:
            module.fail_json(msg="dpkg-query failed: %s" % err.strip())
        result["packages"] = sorted(line.split()[1] for line in out.splitlines() if line.startswith("ii "))
    else:
        rpm = module.get_bin_path("rpm")
        if rpm:
            rc, out, err = module.run_command([rpm, "-qa", "--qf", "%{NAME}\n"])
            if rc != 0:
                module.fail_json(msg="rpm -qa failed: %s" % err.strip())
            result["packages"] = sorted(set(out.split()))
    if module.get_bin_path("apt-get"):
        # An emptied lists directory looks fresh by its own age: count and date the lists themselves.
        lists = glob.glob("/var/lib/apt/lists/*_Packages*")
        newest = max((os.path.getmtime(name) for name in lists), default=None)
        result["package_lists"] = {"count": len(lists),
                                   "age": None if newest is None else int(time.time() - newest)}
    return result


def conffiles(module, package):
    dpkg = module.get_bin_path("dpkg-query")
    if not dpkg:
        return {}
    rc, out, dummy = module.run_command([dpkg, "--showformat=${Conffiles}\n", "--show", package])
    if rc != 0:
        return {}
    # Lines such as " /etc/nginx/nginx.conf 6d4e7b2ba0d4c1f5e8a0c8ef6e6f8f5a", "obsolete" after some.
    return dict(line.split()[:2] for line in out.splitlines() if len(line.split()) >= 2)


# The os-release IDs (ID and ID_LIKE) of the families the roles name their OS variable files after.
FAMILIES = {"debian": "Debian", "ubuntu": "Debian", "rhel": "RedHat", "fedora": "RedHat", "suse": "Suse"}
PACKAGE_MANAGERS = (("apt", "apt-get"), ("dnf", "dnf"), ("yum", "yum"), ("zypper", "zypper"))


def os_release(module):
    fields = {}
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        text = read_text(path)
        if text is not None:
            for line in text.splitlines():
                name, sep, value = line.partition("=")
                if sep and name.strip() and not name.startswith("#"):
                    fields[name.strip()] = shlex.split(value)[0] if value.strip() else ""
            break
    ids = [fields.get("ID", "linux")] + fields.get("ID_LIKE", "").split()
    family = next((FAMILIES[name] for name in ids if name in FAMILIES), ids[0].capitalize())
    version = fields.get("VERSION_ID", "").split(".")[0] or fields.get("VERSION_CODENAME", "")
    pkg_mgr = next((name for name, command in PACKAGE_MANAGERS if module.get_bin_path(command)), None)
    return {"family": family, "id": ids[0], "major_version": version, "architecture": platform.machine(), "pkg_mgr": pkg_mgr}


def openssl(module, command):
    binary = command if os.path.isabs(command) else module.get_bin_path(command)
    if not binary or not os.path.exists(binary):
        return {"present": False, "version": None, "tls_groups": []}
    rc, out, err = module.run_command([binary, "version"])
    if rc != 0:
        module.fail_json(msg="%s version failed: %s" % (binary, (err or out).strip()))
    # `openssl list -tls-groups` exists from OpenSSL 3.5; older versions answer with an error.
    rc, groups, dummy = module.run_command([binary, "list", "-tls-groups"])
    return {"present": True, "version": out.strip().splitlines()[0],
            "tls_groups": groups.strip().lower().split(":") if rc == 0 and groups.strip() else []}


def nginx(module, binary):
    if not os.path.exists(binary):
        return {"present": False, "build": ""}
    dummy, out, err = module.run_command([binary, "-V"])
    return {"present": True, "build": (err + out).strip()}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", default=[]),
            read=dict(type="list", elements="path", default=[]),
            glob=dict(type="list", elements="str", default=[]),
            conffiles=dict(type="str"),
            writable=dict(type="list", elements="path", default=[]),
            packages=dict(type="bool", default=False),
            openssl=dict(type="str"),
            nginx=dict(type="path"),
            nginx_servers=dict(type="bool", default=False),
            nginx_service=dict(type="str", default="nginx"),
            tcp_listeners=dict(type="bool", default=False),
            groups=dict(type="list", elements="str", default=[]),
            users=dict(type="list", elements="str", default=[]),
            units=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False, cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
                  ipv6=bool(read_text("/proc/net/if_inet6")),
                  os=os_release(module),
                  paths={path: describe(path) for path in p["paths"]},
                  content={path: read_text(path) for path in p["read"]},
                  found={pattern: sorted(glob.glob(pattern)) for pattern in p["glob"]}, conffiles={}, writable={path: writable(path) for path in p["writable"]},
                  packages=[], package_lists={}, openssl={}, nginx={}, nginx_servers={}, tcp_listeners=[], groups={},
                  users={}, units={})
    if p["conffiles"]:
        result["conffiles"] = conffiles(module, p["conffiles"])
    if p["packages"]:
        result.update(packages(module))
    if p["openssl"]:
        result["openssl"] = openssl(module, p["openssl"])
    if p["nginx"]:
        result["nginx"] = nginx(module, p["nginx"])
    if p["nginx"] and p["nginx_servers"]:
        served, error = _nginx.read(module, p["nginx"], p["nginx_service"])
        result["nginx_servers"] = dict(served or dict(_nginx.not_installed(), installed=True), error=error)
    if p["tcp_listeners"]:
        rc, out, err = module.run_command([module.get_bin_path("ss", required=True), "-H", "-l", "-t", "-n", "-p"])
        if rc != 0:
            module.fail_json(msg="ss failed: %s" % err.strip())
        result["tcp_listeners"] = out.splitlines()
    for name in p["groups"]:
        try:
            result["groups"][name] = {"gid": grp.getgrnam(name).gr_gid}
        except KeyError:
            result["groups"][name] = None
    for name in p["users"]:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            result["users"][name] = None
        else:
            result["users"][name] = {"uid": entry.pw_uid, "group": name_of(grp.getgrgid, entry.pw_gid),
                                     "home": entry.pw_dir, "shell": entry.pw_shell}
    if p["units"]:
        systemctl = module.get_bin_path("systemctl", required=True)
        for unit in p["units"]:
            dummy, enabled, dummy = module.run_command([systemctl, "is-enabled", unit])
            dummy, active, dummy = module.run_command([systemctl, "is-active", unit])
            result["units"][unit] = {"enabled": enabled.strip() or "not-found", "active": active.strip()}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
