# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How a bad input value is quoted in the preflight's messages."""

from __future__ import annotations

import json


def quoted(value):
    """A plain word as it is (backend_socket=backend.sock); anything else as JSON, so that "", " x", [] and {} show."""
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"'" for c in value):
        return value
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


class FilterModule(object):
    def filters(self):
        return {"quoted": quoted}
