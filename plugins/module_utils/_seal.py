# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The seal pqc.edge writes as the last line of a file it manages: the sha256 of everything before it.

A file that still ends with the right seal is exactly as pqc.edge wrote it; an edited file, or one pqc.edge never wrote,
does not. Used by the filters that render such files and by the module that retires them.
"""

from __future__ import annotations

import hashlib

SEAL = "# pqc.edge sha256 "


def sealed(text):
    """The text with a last line that records its sha256 (the text ends with a newline, or gets one)."""
    text = text if text.endswith("\n") else text + "\n"
    return "%s%s%s\n" % (text, SEAL, hashlib.sha256(text.encode("utf-8")).hexdigest())


def is_sealed(content):
    """True when the text ends with the seal sealed() gives it: pqc.edge wrote it and nobody changed it since."""
    if not isinstance(content, str) or not content.endswith("\n"):
        return False
    body, dummy, last = content[:-1].rpartition("\n")
    body += "\n"
    return last.startswith(SEAL) and last[len(SEAL):] == hashlib.sha256(body.encode("utf-8")).hexdigest()


def written_unchanged(content, marker):
    """True when the text is pqc.edge's and unchanged since it wrote it: it carries the marker line and, where it is
    sealed, a seal that matches (a file pqc.edge wrote before it sealed its files has none, and counts as unchanged)."""
    if not isinstance(content, str) or marker not in content:
        return False
    if ("\n" + SEAL) not in content:
        return True
    return is_sealed(content)
