# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the preflight says of bad input: each bad option named with the value it was given."""

from __future__ import annotations

import json
import re

from ansible.errors import AnsibleFilterError


def quoted(value):
    """A plain word as it is (backend_socket=backend.sock); anything else as JSON, so that "", " x", [] and {} show."""
    if isinstance(value, str) and value and not any(c.isspace() or c in "\"'" for c in value):
        return value
    try:
        return json.dumps(value, sort_keys=True)
    except (TypeError, ValueError):
        return repr(value)


def broken_rules(rules, values=None):
    """The rules whose setting breaks them. A rule names its option and says what it must be in words (rule), and
    either whether it is met (ok, for what needs other settings or the inventory) or what the value of the option
    (from values, option -> value) must be: match (a pattern, from the start of the value as a string), each_match
    (a pattern every item of a list must match; not_empty: at least one item), range ([low, high] of the value as a
    number, as Jinja's int reads it), each_range ([low, high] of every item of a list, each an integer), one_of
    (numbers it may be); also_allowed lists values accepted as they are ('' for "download"), refused values refused
    whatever else they match."""
    return [rule for rule in rules if not _met(rule, values or {})]


def _met(rule, values):
    if "ok" in rule:
        return _true(rule["ok"])
    value = values.get(rule["option"])
    if value in rule.get("also_allowed", []):
        return True
    if value in rule.get("refused", []):
        return False
    checks = []
    if "match" in rule:
        # As Jinja's match test reads a value: a number or a boolean as its text; a list or a mapping never matches.
        checks.append(not isinstance(value, (list, dict)) and re.match(rule["match"], str(value)) is not None)
    if "each_match" in rule:
        checks.append(isinstance(value, list) and (len(value) > 0 or not rule.get("not_empty"))
                      and all(isinstance(item, str) and re.match(rule["each_match"], item) for item in value))
    if "each_range" in rule:
        low, high = rule["each_range"]
        checks.append(isinstance(value, list) and all(isinstance(item, int) and not isinstance(item, bool)
                                                      and low <= item <= high for item in value))
    if "range" in rule:
        checks.append(rule["range"][0] <= _number(value) <= rule["range"][1])
    if "one_of" in rule:
        checks.append(_number(value) in rule["one_of"])
    if not checks:
        raise AnsibleFilterError("broken_rules: the rule for %s says neither ok nor what its value must be" % rule["option"])
    return all(checks)


def _number(value):
    """A value as Jinja's int filter reads it: what is not a number counts as 0."""
    try:
        return int(value)
    except (TypeError, ValueError):
        try:
            return int(float(value))
        except (TypeError, ValueError):
            return 0


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
