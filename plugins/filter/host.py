# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a managed host says about itself, checked before the controller uses any of it.

A host that has been taken over answers every module as it likes. Its OS family picks a variables file on the
controller and its OS id, version and architecture name a cache slot of builds there, so each is held to a fixed
list or a strict pattern first; anything else fails the play naming the value.
"""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.inputs import quoted

# The families pqc.edge has variables for (each role's vars/<family>.yml).
FAMILIES = ("Debian",)
ARCHITECTURES = ("x86_64", "aarch64", "armv7l", "i686", "ppc64le", "s390x", "riscv64")
PACKAGE_MANAGERS = ("apt",)
# os-release's ID: lower case letters, digits and ._- (os-release(5)); a version number or a codename.
OS_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")
OS_VERSION = re.compile(r"^([0-9]{1,4}|[a-z][a-z0-9]{0,31})$")


def trusted_os(described, host="this host"):
    """The os entry of pqc.edge.host_facts, returned only once every field is one the controller can use safely."""
    if not isinstance(described, dict):
        raise AnsibleFilterError("%s reported no OS description, but %s" % (host, quoted(described)))
    problems = []
    if described.get("family") not in FAMILIES:
        problems.append("OS family %s (pqc.edge supports %s)" % (quoted(described.get("family")), ", ".join(FAMILIES)))
    if not isinstance(described.get("id"), str) or not OS_ID.match(described["id"]):
        problems.append("OS id %s (os-release ID: lower-case letters, digits, '.', '_', '-')" % quoted(described.get("id")))
    if not isinstance(described.get("major_version"), str) or not OS_VERSION.match(described["major_version"]):
        problems.append("OS version %s (a number or a codename)" % quoted(described.get("major_version")))
    if described.get("architecture") not in ARCHITECTURES:
        problems.append("architecture %s (one of %s)" % (quoted(described.get("architecture")), ", ".join(ARCHITECTURES)))
    if described.get("pkg_mgr") not in PACKAGE_MANAGERS:
        problems.append("package manager %s (pqc.edge uses %s)" % (quoted(described.get("pkg_mgr")), ", ".join(PACKAGE_MANAGERS)))
    if problems:
        raise AnsibleFilterError("%s reported %s: refused before it names any file on the controller"
                                 % (host, "; ".join(problems)))
    return dict((key, described[key]) for key in ("family", "id", "major_version", "architecture", "pkg_mgr"))


class FilterModule(object):
    def filters(self):
        return {"trusted_os": trusted_os}
