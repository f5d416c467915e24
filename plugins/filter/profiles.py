# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The compliance profile a host runs under, for the roles and the probe (module_utils/_profiles holds the data)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.module_utils import _profiles

WEB_KEYS = ("groups", "group_policy", "protocols", "pq", "classical", "ecdsa_curve")


def compliance_profile(name, operator_profiles=None, web=None):
    """The profile called name, whole: a built-in one, one of operator_profiles, or `web` made of the roles' variables
    (web: groups, group_policy, protocols, pq, classical, ecdsa_curve; a role gives those it has, the rest keep the
    roles' defaults)."""
    if not isinstance(name, str) or not name:
        raise AnsibleFilterError("pqc_edge_profile must be a profile name, not %r" % (name,))
    given = dict(web or {})
    unknown = sorted(set(given) - set(WEB_KEYS))
    if unknown:
        raise AnsibleFilterError("compliance_profile: unknown web setting %s" % ", ".join(unknown))
    settings = {"groups": ["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "secp256r1"], "group_policy": "enforce",
                "protocols": ["TLSv1.3"], "pq": "mldsa44", "classical": "ecdsa", "ecdsa_curve": "P-256"}
    settings.update(given)
    try:
        return _profiles.resolve(name, operator_profiles, _profiles.build_web(
            settings["groups"], settings["group_policy"], settings["protocols"], settings["pq"], settings["classical"],
            settings["ecdsa_curve"]))
    except _profiles.ProfileError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {"compliance_profile": compliance_profile}
