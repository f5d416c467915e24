# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that turn an ordered list of group names into an OpenSSL group list."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.module_utils import _groups

POLICIES = ("enforce", "prefer")
LIBRARIES = ("openssl", "aws-lc")


def _version_tuple(version):
    parts = []
    for piece in str(version).split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple((parts + [0, 0, 0])[:3])


def supports_group_tuples(openssl_version):
    """OpenSSL 3.5 introduced '/'-separated preference tuples in group lists."""
    return _version_tuple(openssl_version) >= (3, 5, 0)


def group_list(names, policy="enforce", openssl_version="3.5.0", library="openssl"):
    """Render names as the value of nginx's ssl_ecdh_curve.

    enforce: quantum-safe groups form a first tuple and classical ones a second,
    so a client that can do a hybrid but predicted a classical key share is
    sent a HelloRetryRequest and ends up hybrid.  prefer: one tuple, where a
    client's existing key share wins and no extra round trip is ever spent.
    OpenSSL < 3.5 cannot parse tuples, so it always gets the flat list.
    library aws-lc: one flat list in AWS-LC's spellings (it has no tuples: the server's preference enforces).
    """
    if library not in LIBRARIES:
        raise AnsibleFilterError("unknown TLS library %r: expected one of %s" % (library, ", ".join(LIBRARIES)))
    if policy not in POLICIES:
        raise AnsibleFilterError("unknown group policy %r: expected one of %s" % (policy, ", ".join(POLICIES)))
    if not names:
        raise AnsibleFilterError("the group list is empty")
    try:
        groups = _groups.resolve(names)
    except _groups.UnknownGroupError as exc:
        raise AnsibleFilterError(str(exc))
    seen = set()
    for group in groups:
        if group.codepoint in seen:
            raise AnsibleFilterError("group %s is listed twice" % group.name)
        seen.add(group.codepoint)
    if library == "aws-lc":
        missing = [g.name for g in groups if g.codepoint not in _groups.AWS_LC_NAMES]
        if missing:
            raise AnsibleFilterError("AWS-LC does not serve %s" % ", ".join(missing))
        return ":".join(_groups.AWS_LC_NAMES[g.codepoint] for g in groups)
    safe = [g.openssl_name for g in groups if _groups.is_quantum_safe(g.kind)]
    classical = [g.openssl_name for g in groups if not _groups.is_quantum_safe(g.kind)]
    if policy == "enforce" and supports_group_tuples(openssl_version) and safe and classical:
        return ":".join(safe) + "/" + ":".join(classical)
    return ":".join(g.openssl_name for g in groups)


def group_info(name):
    """Return name, codepoint, kind and grease for one group name or code point."""
    return _groups.describe(name)


class FilterModule(object):
    def filters(self):
        return {
            "group_list": group_list,
            "group_info": group_info,
            "supports_group_tuples": supports_group_tuples,
        }
