# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""How the report writes what hosts said into a Markdown table: as text, whatever the host said."""

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


class FilterModule(object):
    def filters(self):
        return {"md_cell": md_cell}
