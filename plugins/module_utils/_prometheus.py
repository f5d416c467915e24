# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Prometheus's text exposition format, for the files node_exporter's textfile collector reads.

Installed on hosts beside the metrics scripts (standard library only).
"""

from __future__ import annotations

import os


def label_value(value):
    """A label value escaped as the format asks: backslash, double quote and line feed."""
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def exposition(metrics):
    """The text of `metrics`, each (name, type, help, samples) with samples as (((label, value), ...), number)."""
    out = []
    for name, kind, help_text, samples in metrics:
        out.append("# HELP %s %s" % (name, help_text))
        out.append("# TYPE %s %s" % (name, kind))
        for labels, value in samples:
            text = ",".join('%s="%s"' % (key, label_value(val)) for key, val in labels)
            out.append("%s%s %s" % (name, "{%s}" % text if text else "", value))
    return "\n".join(out) + "\n"


def write_atomically(path, text):
    """Replace `path` by a rename, so the collector never reads half a file."""
    partial = path + ".partial"
    with open(partial, "w") as out:
        out.write(text)
    os.replace(partial, path)
