# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether a path that pqc.edge.host_facts described differs from what a role would make of it."""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleFilterError


def differs(described, kind="file", content=None, sha256=None, mode=None, owner=None, group=None, link_target=None):
    """True unless the path exists as `kind` with every attribute given. `content` is compared by its sha256, so a
    file over host_facts' hashing limit always differs (and is then left to the module that writes it)."""
    if not isinstance(described, dict) or "exists" not in described:
        raise AnsibleFilterError("differs expects one entry of pqc.edge.host_facts' paths, got %r" % (described,))
    if not described["exists"] or described.get("type") != kind:
        return True
    if mode is not None and described.get("mode") != "%04o" % int(str(mode), 8):
        return True
    if owner is not None and described.get("owner") != owner:
        return True
    if group is not None and described.get("group") != group:
        return True
    if link_target is not None and described.get("link_target") != link_target:
        return True
    if content is not None:
        sha256 = hashlib.sha256(content.encode("utf-8")).hexdigest()
    if sha256 is not None and described.get("sha256") != sha256:
        return True
    return False


def to_write(entries, described, kind="file"):
    """The entries (dicts with path, content for a file, and optionally owner, group and mode, as pqc.edge.text_files
    takes them) of `kind` (file or directory) that differ from `described`, the paths of a pqc.edge.host_facts read."""
    stale = []
    for entry in entries:
        if entry.get("path") not in described:
            raise AnsibleFilterError("to_write: %s was not read by pqc.edge.host_facts" % entry.get("path"))
        if differs(described[entry["path"]], kind, content=entry.get("content") if kind == "file" else None,
                   mode=entry.get("mode"), owner=entry.get("owner"), group=entry.get("group")):
            stale.append(entry)
    return stale


# The last line of a file pqc.edge seals: the sha256 of everything before it. A file that still ends with the right
# one is exactly as pqc.edge wrote it; an edited file, or one pqc.edge never wrote, does not.
SEAL = "# pqc.edge sha256 "


def sealed(content):
    """The content with a last line that records its sha256 (content ends with a newline, or gets one)."""
    if not isinstance(content, str):
        raise AnsibleFilterError("sealed expects the text of a file, got %r" % (content,))
    text = content if content.endswith("\n") else content + "\n"
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


def sealed_paths(contents):
    """The paths of a pqc.edge.host_facts read (path: text or None) whose files are sealed, in order."""
    if not isinstance(contents, dict):
        raise AnsibleFilterError("sealed_paths expects the content of a pqc.edge.host_facts read, got %r" % (contents,))
    return [path for path in sorted(contents) if is_sealed(contents[path])]


class FilterModule(object):
    def filters(self):
        return {"differs": differs, "to_write": to_write, "sealed": sealed, "sealed_paths": sealed_paths,
                "written_unchanged": written_unchanged}
