#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: text_files
short_description: Write several small text files, and the directories they go in, in one module run
version_added: 0.1.0
description:
  - Creates each directory of O(directories) that is missing, then writes each file whose content, owner, group or mode
    differs from what is asked, and leaves the others alone. A file is replaced atomically (written next to it, then
    renamed over it), so a reader never sees half of it.
  - The files are written all or nothing. Every new content is written to a temporary file first, and every file to
    be replaced is kept (with O(backup), also copied); only then are the temporary files renamed over their files. When
    a rename fails, the files already replaced get their previous content back and new ones are removed. A failed run
    returns RV(changed_paths) and RV(backups) naming exactly what stays changed (nothing, unless putting a file back
    failed too) and where the copies are, so the caller can put back exactly those.
  - One module run for all the files, where M(ansible.builtin.copy) or M(ansible.builtin.template) makes two per file;
    a role that writes a handful of small files (an application, its systemd units) saves most of its time that way.
  - The content comes from the controller in the task's arguments, for example from a
    P(ansible.builtin.template#lookup) lookup, so it is meant for small text files and not for secrets.
author:
  - pqc.edge contributors (@pqc-edge)
options:
  directories:
    description: Directories to create, in order, before the files are written; a parent comes before its children.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the directory. Its parent must exist or come earlier in the list.
        type: path
        required: true
      owner:
        description: Owner of the directory; unchanged when not given.
        type: str
      group:
        description: Group of the directory; unchanged when not given.
        type: str
      mode:
        description: Permissions as four octal digits, for example C(0755); unchanged when not given.
        type: str
  files:
    description: The files to write, in order.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description:
          - Absolute path of the file. Its directory must exist or be in O(directories) (in check mode, a missing one
            counts as made).
        type: path
        required: true
      content:
        description: The whole text of the file, written as UTF-8 (or, with O(files[].encoding=base64), its bytes in base64).
        type: str
        required: true
      encoding:
        description:
          - C(utf-8) for text; C(base64) for a small binary file such as a DER revocation list, whose diff then only
            says that it changed.
        type: str
        choices: [utf-8, base64]
        default: utf-8
      owner:
        description: Owner of the file; unchanged when not given (a new file gets the module's user).
        type: str
      group:
        description: Group of the file; unchanged when not given.
        type: str
      mode:
        description: Permissions as four octal digits, for example C(0644); unchanged when not given.
        type: str
  backup:
    description:
      - Keep a copy of each file that is replaced, beside it, named the way M(ansible.builtin.copy) names its backups;
        RV(backups) says where. A role that tests what it wrote puts the copies back when the test fails.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Reports what it would write without writing.
  diff_mode:
    support: full
    description: Shows the content that changes, file by file.
notes:
  - The roles pass only the directories and files that differ from a M(pqc.edge.host_facts) read (P(pqc.edge.to_write#filter)), so a
    converged host makes no module run at all; the module compares again itself and is the one that decides.
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.template
"""

EXAMPLES = r"""
- name: Install the application and its units
  pqc.edge.text_files:
    directories:
      - path: /opt/app
        owner: root
        group: root
        mode: "0755"
    files:
      - path: /opt/app/app.py
        content: "{{ lookup('ansible.builtin.file', 'app.py', rstrip=false) }}"
        owner: root
        group: root
        mode: "0644"
      - path: /etc/systemd/system/app.service
        content: "{{ lookup('ansible.builtin.template', 'app.service.j2') }}"
        mode: "0644"
  register: written
"""

RETURN = r"""
changed_paths:
  description:
    - The paths of O(directories) that were created and of O(files) that were written, and of either whose owner, group
      or mode changed (would be, in check mode).
    - When the module fails, the paths it had already changed (none, unless a rename failed midway).
  returned: always
  type: list
  elements: str
  sample: [/etc/systemd/system/app.service]
backups:
  description: With O(backup), each replaced file's path and the path of its copy; also when the module fails.
  returned: always
  type: dict
  sample: {/etc/nginx/nginx.conf: "/etc/nginx/nginx.conf.4321.2026-11-28@01:10:00~"}
"""

import base64
import binascii
import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.pqc.edge.plugins.module_utils._file_changes import ChangeError, FileChanges, read_bytes, text_diff


def write_all(module, pending, backups, changed_paths):
    """Stage every file, keep the ones to be replaced (with backup, also a copy), then put each in place.

    When one cannot be put in place, the files already replaced get their previous content back and the new ones are
    removed, so the files are as they were. Any failure raises ChangeError, with changed_paths and backups holding
    exactly what stays replaced or created (nothing, unless putting a file back failed too) and the copies.
    """
    changes, staged = FileChanges(), []
    try:
        for path, data in pending:
            staged.append((path, changes.stage(path, data)))
        for path, temp in staged:
            if os.path.exists(path) and module.params["backup"]:
                backups[path] = module.backup_local(path)
        for path, temp in staged:
            try:
                changes.write(path, temp)
            except ChangeError as error:
                written = changes.paths
                failed = changes.undo()
                for put_back in written:
                    if put_back not in failed:
                        changed_paths.remove(put_back)
                outcome = "could not put back: %s" % ", ".join(failed) if failed else "the files before it were put back"
                raise ChangeError("%s; %s" % (error, outcome))
            changed_paths.append(path)
        changes.commit()
    finally:
        for dummy, temp in staged:
            if os.path.lexists(temp):
                os.unlink(temp)
        # Copies of files that are not replaced after all are not kept.
        for path in list(backups):
            if path not in changed_paths:
                os.unlink(backups.pop(path))


def check_input(module, directories, files):
    seen, made = set(), set()
    for kind, entries in (("directories", directories), ("files", files)):
        for index, entry in enumerate(entries):
            where = "%s[%d] (%s)" % (kind, index, entry["path"])
            if not os.path.isabs(entry["path"]):
                module.fail_json(msg="%s: the path must be absolute" % where)
            if entry["path"] in seen:
                module.fail_json(msg="%s: the path is given twice" % where)
            seen.add(entry["path"])
            if entry["mode"] is not None and not re.match(r"^0?[0-7]{3}$", entry["mode"]):
                module.fail_json(msg="%s: mode=%s is not three or four octal digits such as 0644" % (where, entry["mode"]))
            parent = os.path.dirname(entry["path"])
            # In check mode the task that would create the directory did not run.
            if not (os.path.isdir(parent) or parent in made or module.check_mode):
                module.fail_json(msg="%s: the directory %s does not exist" % (where, parent))
            if kind == "directories":
                made.add(entry["path"])
                if os.path.lexists(entry["path"]) and not os.path.isdir(entry["path"]):
                    module.fail_json(msg="%s: is not a directory" % where)
            elif os.path.isdir(entry["path"]):
                module.fail_json(msg="%s: is a directory" % where)
            elif entry["encoding"] == "base64":
                try:
                    base64.b64decode(entry["content"], validate=True)
                except (binascii.Error, ValueError):
                    module.fail_json(msg="%s: the content is not base64" % where)


def set_attributes(module, entry, changed):
    attributes = module.load_file_common_arguments(dict(path=entry["path"], owner=entry["owner"], group=entry["group"],
                                                        mode=entry["mode"]))
    return module.set_fs_attributes_if_different(attributes, changed)


def make_directory(module, entry):
    """Create the directory (mode 0700 until its own mode is set); True when it was missing."""
    path = entry["path"]
    if os.path.isdir(path):
        return False
    if not module.check_mode:
        try:
            os.mkdir(path, 0o700)
        except OSError as error:
            module.fail_json(msg="%s: cannot create the directory: %s" % (path, to_native(error)))
    return True


def file_change(entry, diffs):
    """(path, new bytes) when the file's content differs, else None."""
    path = entry["path"]
    if entry["encoding"] == "base64":
        after = base64.b64decode(entry["content"], validate=True)
    else:
        after = to_bytes(entry["content"], errors="surrogate_or_strict")
    before = read_bytes(path)
    if before == after:
        return None
    if entry["encoding"] == "base64":
        diffs.append(dict(before_header=path, after_header=path, before="" if before is None else "(binary)\n",
                          after="(binary, changed)\n"))
    else:
        diffs.append(text_diff(path, before, after))
    return path, after


def main():
    attributes = dict(owner=dict(type="str"), group=dict(type="str"), mode=dict(type="str"))
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type="list", elements="dict", default=[],
                             options=dict(path=dict(type="path", required=True), **attributes)),
            files=dict(type="list", elements="dict", default=[],
                       options=dict(path=dict(type="path", required=True), content=dict(type="str", required=True),
                                    encoding=dict(type="str", default="utf-8", choices=["utf-8", "base64"]), **attributes)),
            backup=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    directories, files = module.params["directories"], module.params["files"]
    check_input(module, directories, files)
    changed_paths, diffs, backups = [], [], {}
    existed = dict((entry["path"], os.path.lexists(entry["path"])) for entry in directories + files)
    for entry in directories:
        if make_directory(module, entry):
            diffs.append(dict(before_header=entry["path"], after_header=entry["path"], before="", after="(directory)\n"))
            changed_paths.append(entry["path"])
    pending = [change for change in (file_change(entry, diffs) for entry in files) if change is not None]
    if not module.check_mode:
        try:
            write_all(module, pending, backups, changed_paths)
        except ChangeError as error:
            module.fail_json(msg=str(error), changed_paths=changed_paths, backups=backups)
    else:
        changed_paths += [change[0] for change in pending]
    for entry in directories + files:
        # In check mode what is not there yet has no attributes to compare.
        if existed[entry["path"]] or not module.check_mode:
            if set_attributes(module, entry, False) and entry["path"] not in changed_paths:
                changed_paths.append(entry["path"])
    module.exit_json(changed=bool(changed_paths), changed_paths=changed_paths, backups=backups, diff=diffs)


if __name__ == "__main__":
    main()
