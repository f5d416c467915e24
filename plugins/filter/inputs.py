# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the preflight says of bad input: each bad option named with the value it was given."""

from __future__ import annotations

import json
import re


def quoted(value):
    """A plain word as it is (backend_socket=backend.sock); anything else as JSON, so that "", " x", [] and {} show."""
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"'" for c in value):
        return value
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def broken_rules(rules):
    """The rules ({option, ok, rule}) whose ok is false: the settings that break them."""
    return [rule for rule in rules if not _true(rule["ok"])]


def _true(value):
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "yes", "1", "on")


def named_in(options, errors):
    """The options (names) that the argument spec's error messages name, in the options' order."""
    text = " ".join(errors)
    return [name for name in options if re.search(r"\b%s\b" % re.escape(name), text)]


def given(names, values, reasons=None):
    """"name=value" of each option, as the preflight quotes a bad value, with ": reason" where reasons are given."""
    reasons = list(reasons) if reasons is not None else [None] * len(names)
    if not len(names) == len(values) == len(reasons):
        raise ValueError("given: %d names, %d values, %d reasons" % (len(names), len(values), len(reasons)))
    return ["%s=%s%s" % (name, quoted(value), "" if reason is None else ": %s" % reason)
            for name, value, reason in zip(names, values, reasons)]


class FilterModule(object):
    def filters(self):
        return {"quoted": quoted, "broken_rules": broken_rules, "named_in": named_in, "given": given}
