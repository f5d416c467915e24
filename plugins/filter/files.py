# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether a path that pqc.edge.host_facts described differs from what a role would make of it."""

from __future__ import annotations

import hashlib

from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.module_utils import _seal


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


def _read(described, path, caller):
    """What a pqc.edge.host_facts read says of path; a role asking of a path it did not read is a bug, named here."""
    if path not in described:
        raise AnsibleFilterError("%s: %s was not read by pqc.edge.host_facts" % (caller, path))
    return described[path]


def to_write(entries, described, kind="file"):
    """The entries (dicts with path, content for a file, and optionally owner, group and mode, as pqc.edge.text_files
    takes them) of `kind` (file or directory) that differ from `described`, the paths of a pqc.edge.host_facts read."""
    stale = []
    for entry in entries:
        if differs(_read(described, entry.get("path"), "to_write"), kind, content=entry.get("content") if kind == "file" else None,
                   mode=entry.get("mode"), owner=entry.get("owner"), group=entry.get("group")):
            stale.append(entry)
    return stale


def written_unchanged(content, marker):
    """True when the text is pqc.edge's and unchanged since it wrote it (see module_utils/_seal.py)."""
    return _seal.written_unchanged(content, marker)


def unwritable_paths(paths, writable, host):
    """One sentence for each directory a role will create or write to that cannot be: paths are {name (the variable
    that set it), path}, writable is pqc.edge.host_facts' `writable` result for them (path -> "writable", or the
    nearest existing ancestor that is not a writable directory), host the inventory name."""
    problems = []
    for entry in paths:
        state = (writable or {}).get(entry["path"], "not read")
        if state != "writable":
            problems.append("%s=%s cannot be written on %s: %s is not a writable directory (a file in the way, or a "
                            "read-only file system)." % (entry["name"], entry["path"], host, state))
    return problems


def backend_changes(read, wanted):
    """The backend's install steps that a host needs, from one pqc.edge.host_facts read of it (groups, users, paths,
    found): a dict holding only the steps due, so that a converged host gets {} and skips them all at once.

    `wanted` says what the backend role makes: group, user, home, shell, directories and files (entries as
    pqc.edge.text_files takes them), wheels ({file, sha256, name, version}), wheel_dir, venv_python (the virtualenv's
    python link) and dist_info (the glob whose matches are the installed distributions)."""
    groups, users, paths = read.get("groups") or {}, read.get("users") or {}, read.get("paths") or {}
    due = {}
    if groups.get(wanted["group"]) is None:
        due["group"] = True
    user = users.get(wanted["user"])
    if user is None or (user.get("group"), user.get("home"), user.get("shell")) != (wanted["group"], wanted["home"], wanted["shell"]):
        due["user"] = True
    for kind, key in (("directory", "directories"), ("file", "files")):
        stale = to_write(wanted[key], paths, kind)
        if stale:
            due[key] = stale
    wheels = []
    for wheel in wanted["wheels"]:
        path = "%s/%s" % (wanted["wheel_dir"], wheel["file"])
        if differs(_read(paths, path, "backend_changes"), sha256=wheel["sha256"], owner="root", group="root", mode="0644"):
            wheels.append(wheel)
    if wheels:
        due["wheels"] = wheels
    if differs(_read(paths, wanted["venv_python"], "backend_changes"), "link"):
        due["venv"] = True
    # pip names an installed wheel's directory <name>-<version>.dist-info, with the name's '-' as '_'.
    installed = set(path.rsplit("/", 1)[-1] for path in (read.get("found") or {}).get(wanted["dist_info"], []))
    missing = [wheel for wheel in wanted["wheels"]
               if "%s-%s.dist-info" % (wheel["name"].replace("-", "_"), wheel["version"]) not in installed]
    if missing:
        due["dependencies"] = missing
    return due


class FilterModule(object):
    def filters(self):
        return {"differs": differs, "to_write": to_write, "written_unchanged": written_unchanged,
                "unwritable_paths": unwritable_paths, "backend_changes": backend_changes}
