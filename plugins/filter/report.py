# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The report's sums over the fleet, and how it writes what hosts said into a Markdown table: as text, whatever the
host said."""

from __future__ import annotations

import re

# The marks that work inside a table cell (emphasis, code, links, the cell separator); & and < are made entities
# so that nothing a host says becomes HTML.
_MARKDOWN = re.compile(r"([\\`*_\[\]|])")


def md_cell(value):
    """The value as the text of one Markdown table cell: one line, its marks escaped, no HTML."""
    text = "" if value is None else str(value)
    text = " ".join(text.split())
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    return _MARKDOWN.sub(r"\\\1", text)


# The counts pqc.edge.tls_traffic returns that add up over hosts.
TRAFFIC_COUNTS = ("tls_requests", "tls_connections", "quantum_safe_requests", "quantum_safe_connections",
                  "pq_capable_requests", "pq_capable_served_classical", "resumed_requests", "unparsed_lines")


def fleet_traffic(traffic):
    """The hosts' traffic counts (pqc.edge.tls_traffic results; empty ones skipped) added up, with the quantum-safe
    shares of the sums (None where there was no TLS traffic)."""
    counted = [entry for entry in traffic if entry]
    fleet = dict((key, sum(int(entry.get(key) or 0) for entry in counted)) for key in TRAFFIC_COUNTS)
    fleet["hosts"] = len(counted)
    for share, part, whole in (("quantum_safe_request_share", "quantum_safe_requests", "tls_requests"),
                               ("quantum_safe_connection_share", "quantum_safe_connections", "tls_connections")):
        fleet[share] = round(float(fleet[part]) / fleet[whole], 4) if fleet[whole] else None
    return fleet


class FilterModule(object):
    def filters(self):
        return {"md_cell": md_cell, "fleet_traffic": fleet_traffic}
