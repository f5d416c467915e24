# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters for the sites pqc.edge serves."""

from __future__ import annotations

from ansible_collections.pqc.edge.plugins.module_utils._tls import is_ip_address


def subject_alt_name(server_name):
    """The subject alternative name entry of a server name: IP:<address> for addresses, DNS:<name> otherwise."""
    return ("IP:%s" if is_ip_address(server_name) else "DNS:%s") % server_name


class FilterModule(object):
    def filters(self):
        return {"subject_alt_name": subject_alt_name}
