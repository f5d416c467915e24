#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nginx_config
short_description: Put a new nginx configuration in force, or leave the previous one in force and say why
version_added: 0.1.0
description:
  - Writes the files, makes the links and removes the paths asked for, in one change that can be taken back. Files
    named like the managed site files that are no longer asked for are removed with their links where they are exactly
    as pqc.edge wrote them (their seal matches), and kept and named otherwise.
  - Then C(nginx -t) tests the whole configuration, since nginx's files include one another and none can be tested
    alone. A running nginx is reloaded, or restarted where its master runs a binary that has been replaced since it
    started (a new build) or systemd has to reload the unit first. A reload is proven by new workers, since an nginx
    master that cannot apply a configuration (a listener on a port another program holds, which C(nginx -t) lets pass)
    logs C([emerg]), keeps its old workers, and systemd reports the reload as done.
  - On any failure every path is put back as it was (with a restart, nginx is started again on the previous files)
    and the module fails with what nginx said, its C([emerg]) lines.
  - An nginx that is not running is tested, not started; starting it is the caller's next step.
  - Only what differs is changed; with nothing to change and nginx running its own binary the module changes nothing.
author:
  - pqc.edge contributors (@pqc-edge)
options:
  binary:
    description: The nginx binary, which tests the configuration.
    type: path
    required: true
  service:
    description: The systemd unit that runs nginx.
    type: str
    required: true
  error_log:
    description: nginx's main error log, where the master logs what it could not apply.
    type: path
    required: true
  environment:
    description: Environment for C(nginx -t), as the unit gives it to nginx (for example C(OPENSSL_CONF)).
    type: dict
    default: {}
  directories:
    description: Directories to create (root-owned, mode 0755) before anything else; they stay when the change is taken back.
    type: list
    elements: path
    default: []
  files:
    description: Files to write.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: path
        required: true
      content:
        description: The whole text of the file, written as UTF-8.
        type: str
        required: true
      owner:
        description: Owner of the file.
        type: str
        default: root
      group:
        description: Group of the file.
        type: str
        default: root
      mode:
        description: Permissions as octal digits.
        type: str
        default: "0644"
  links:
    description: Symbolic links to make (or to correct where they point elsewhere).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the link.
        type: path
        required: true
      target:
        description: What the link points to, as written in the link (for example C(../sites-available/x.conf)).
        type: str
        required: true
  absent:
    description: Files or links to remove.
    type: list
    elements: path
    default: []
  retire:
    description:
      - Where managed site files lie. A file in O(retire.directory) whose name starts with O(retire.prefix) and ends in
        C(.conf), that O(files) does not name, is removed with its link in O(retire.links) when it is sealed (exactly as
        pqc.edge wrote it), and kept (named in RV(kept)) when it is not.
    type: dict
    suboptions:
      directory:
        description: The directory of the site files (C(sites-available)).
        type: path
        required: true
      links:
        description: The directory of the links that enable them (C(sites-enabled)).
        type: path
        required: true
      prefix:
        description: How the names of the managed site files start.
        type: str
        required: true
  worker_timeout:
    description: Seconds to wait for the workers of the new configuration after a reload.
    type: int
    default: 10
  servers:
    description:
      - Also return what nginx serves (RV(served)), as M(pqc.edge.nginx_servers) reads it, from the C(nginx -T) that
        tests the new files, or where nothing changed from one C(nginx -T) of the files as they are. A play that
        proves the result then needs no second read.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Says what it would write, link, remove and whether it would reload or restart, without doing it.
  diff_mode:
    support: full
    description: Shows each file that changes, and each link and removal.
notes:
  - Runs C(systemctl), and reads C(/proc) for the master's binary and workers, so it needs root.
seealso:
  - module: pqc.edge.nginx_servers
"""

EXAMPLES = r"""
- name: Put the configuration in force
  pqc.edge.nginx_config:
    binary: /usr/sbin/nginx
    service: nginx
    error_log: /var/log/nginx/error.log
    files:
      - path: /etc/nginx/sites-available/pqc-edge-default.conf
        content: "{{ lookup('ansible.builtin.template', 'site.conf.j2') }}"
    links:
      - path: /etc/nginx/sites-enabled/pqc-edge-default.conf
        target: ../sites-available/pqc-edge-default.conf
    retire:
      directory: /etc/nginx/sites-available
      links: /etc/nginx/sites-enabled
      prefix: pqc-edge-
  register: nginx_config
"""

RETURN = r"""
changed_paths:
  description: The paths written, linked or removed (and the directories created), in order.
  returned: always
  type: list
  elements: str
kept:
  description: Files named like managed site files, no longer asked for, that were not removed since they are not as pqc.edge wrote them.
  returned: always
  type: list
  elements: str
action:
  description: >-
    What happened to nginx: C(none) (nothing changed), C(tested) (not running; the files are in place and tested),
    C(reloaded) or C(restarted) (the new configuration is in force).
  returned: always
  type: str
  sample: reloaded
served:
  description:
    - What nginx serves once the module is done, with the keys M(pqc.edge.nginx_servers) returns (C(installed),
      C(servers), C(http_policy), C(classical_overrides), C(tls_endpoints), C(quic_endpoints)).
    - Null where it was not asked for, in check mode when files would change, and where C(nginx -T) fails or its
      output cannot be read (M(pqc.edge.nginx_servers) then says why).
  returned: always
  type: dict
"""

import glob
import grp
import os
import pwd
import re
import stat
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.pqc.edge.plugins.module_utils import _nginx, _seal
from ansible_collections.pqc.edge.plugins.module_utils._file_changes import ChangeError, FileChanges, read_bytes, text_diff

EMERG = re.compile(r"\[emerg\] (?:[0-9]+#[0-9]+: )?(.*)$")


class Refused(Exception):
    """nginx did not take the configuration; the message says what it said."""


def emerg_lines(text):
    """Each distinct [emerg] message in what nginx printed or logged, without its time, PID and prefix."""
    found = []
    for line in text.splitlines():
        match = EMERG.search(line)
        if match and match.group(1).strip() and match.group(1).strip() not in found:
            found.append(match.group(1).strip())
    return found


def parent_pids():
    """{pid: parent pid} of every process, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as handle:
                # The command name (in parentheses) may hold spaces: the fields after its last ')' are fixed.
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry)] = int(fields[1])
    return parents


def workers(master):
    """The PIDs of the master's children (its workers and cache processes)."""
    return sorted(pid for pid, parent in parent_pids().items() if parent == master and master > 0)


def runs_replaced_binary(master, binary):
    """True when the running master's executable is no longer the file at binary (a new build was installed)."""
    try:
        running, installed = os.stat("/proc/%d/exe" % master), os.stat(binary)
    except OSError:
        return False
    return (running.st_dev, running.st_ino) != (installed.st_dev, installed.st_ino)


def log_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def log_since(path, offset):
    """What the log got after offset (all of it where it was rotated meanwhile)."""
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size >= offset:
                handle.seek(offset)
            return handle.read().decode("utf-8", "replace")
    except OSError:
        return ""


def owner_ids(module, entry):
    try:
        uid = pwd.getpwnam(entry["owner"]).pw_uid
        gid = grp.getgrnam(entry["group"]).gr_gid
    except KeyError as error:
        module.fail_json(msg="%s: no such user or group: %s" % (entry["path"], to_native(error)))
    if not re.match(r"^0?[0-7]{3}$", entry["mode"]):
        module.fail_json(msg="%s: mode=%s is not three or four octal digits such as 0644" % (entry["path"], entry["mode"]))
    return uid, gid, int(entry["mode"], 8)


def file_differs(path, before, data, uid, gid, mode):
    """True unless path is a regular file with these bytes (before, as read), owner, group and mode."""
    if before is None or before != data:
        return True
    info = os.stat(path)
    return (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) != (uid, gid, mode)


def plan(module):
    """What differs from what is asked: (files [(path, data, uid, gid, mode)], links [(path, target)], removals
    [path], directories to create, kept site files, diffs)."""
    params = module.params
    seen = set()
    for path in [entry["path"] for entry in params["files"] + params["links"]] + params["absent"] + params["directories"]:
        if not os.path.isabs(path):
            module.fail_json(msg="%s: the path must be absolute" % path)
        if path in seen:
            module.fail_json(msg="%s: the path is given twice" % path)
        seen.add(path)
    diffs = []
    directories = [path for path in params["directories"] if not os.path.isdir(path)]
    for path in directories:
        diffs.append(dict(before_header=path, after_header=path, before="", after="(directory)\n"))
    files = []
    for entry in params["files"]:
        uid, gid, mode = owner_ids(module, entry)
        data = to_bytes(entry["content"], errors="surrogate_or_strict")
        if os.path.isdir(entry["path"]) and not os.path.islink(entry["path"]):
            module.fail_json(msg="%s: is a directory" % entry["path"])
        before = read_bytes(entry["path"])
        if file_differs(entry["path"], before, data, uid, gid, mode):
            files.append((entry["path"], data, uid, gid, mode))
            diffs.append(text_diff(entry["path"], before, data))
    links = []
    for entry in params["links"]:
        path, target = entry["path"], entry["target"]
        if not (os.path.islink(path) and os.readlink(path) == target):
            links.append((path, target))
            diffs.append(dict(before_header=path, after_header=path,
                              before=("-> %s\n" % os.readlink(path)) if os.path.islink(path) else "",
                              after="-> %s\n" % target))
    removals = [path for path in params["absent"] if os.path.lexists(path)]
    kept = []
    retire = params["retire"]
    if retire:
        asked = set(entry["path"] for entry in params["files"])
        for path in sorted(glob.glob(os.path.join(glob.escape(retire["directory"]), glob.escape(retire["prefix"]) + "*.conf"))):
            if path in asked:
                continue
            content = read_bytes(path)
            if content is not None and _seal.is_sealed(content.decode("utf-8", "replace")):
                link = os.path.join(retire["links"], os.path.basename(path))
                removals += [candidate for candidate in (link, path)
                             if os.path.lexists(candidate) and candidate not in removals
                             and (candidate == path or os.path.islink(candidate))]
            else:
                kept.append(path)
    for path in removals:
        diffs.append(text_diff(path, read_bytes(path) or b"(link)\n", None))
    return files, links, removals, directories, kept, diffs


class Nginx(object):
    """The nginx of one systemd unit: its master, test, reload and restart."""

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def systemctl(self, *args):
        return self.module.run_command(["systemctl"] + list(args))

    def master(self):
        rc, out, dummy = self.systemctl("show", "-p", "MainPID", "--value", self.params["service"])
        return int(out.strip()) if rc == 0 and out.strip().isdigit() else 0

    def needs_daemon_reload(self):
        rc, out, dummy = self.systemctl("show", "-p", "NeedDaemonReload", "--value", self.params["service"])
        return rc == 0 and out.strip() == "yes"

    def test(self):
        """nginx -t the files, or -T where what nginx serves is asked for: its output, the whole configuration."""
        environ = dict((key, str(value)) for key, value in self.params["environment"].items())
        rc, out, err = self.module.run_command([self.params["binary"], "-T" if self.params["servers"] else "-t", "-q"],
                                               environ_update=environ)
        if rc != 0:
            raise Refused("nginx was not reloaded: %s" % " ".join((err or out).split()))
        return out

    def served(self, output=None):
        """What nginx serves, from this -T output or, where nothing was tested, read as pqc.edge.nginx_servers reads
        it; None where nginx cannot give it or it cannot be read."""
        if not self.params["servers"]:
            return None
        if output is None:
            served, dummy = _nginx.read(self.module, self.params["binary"], self.params["service"],
                                        self.params["environment"].get("OPENSSL_CONF"))
            return served
        try:
            return _nginx.served(output)
        except _nginx.ParseError:
            return None

    def reload(self, master, offset):
        """Reload, then wait for a worker that was not there before; Refused with the [emerg] lines otherwise."""
        before = set(workers(master))
        rc, out, err = self.systemctl("reload", self.params["service"])
        deadline = time.time() + self.params["worker_timeout"]
        while rc == 0:
            if set(workers(master)) - before:
                return
            if time.time() > deadline:
                break
            time.sleep(0.2)
        said = emerg_lines(log_since(self.params["error_log"], offset)) or [" ".join((err or out).split())]
        raise Refused("its reload did not take and nginx goes on with the previous one: %s" % "; ".join(
            said if said != [""] else ["no new worker within %d s" % self.params["worker_timeout"]]))

    def restart(self, offset, started):
        """Restart onto the new files; Refused with the [emerg] lines (the caller then starts nginx again)."""
        rc, out, err = self.systemctl("restart", self.params["service"])
        if rc == 0 and self.master() > 0:
            return
        said = emerg_lines(log_since(self.params["error_log"], offset))
        if not said:
            dummy, journal, dummy = self.module.run_command(
                ["journalctl", "--no-pager", "-o", "cat", "-u", self.params["service"], "--since", "@%d" % int(started)])
            said = emerg_lines(journal) or [" ".join((err or out).split()) or "systemctl restart failed"]
        raise Refused("its restart failed: %s" % "; ".join(said))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type="path", required=True),
            service=dict(type="str", required=True),
            error_log=dict(type="path", required=True),
            environment=dict(type="dict", default={}),
            directories=dict(type="list", elements="path", default=[]),
            files=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True), content=dict(type="str", required=True),
                owner=dict(type="str", default="root"), group=dict(type="str", default="root"),
                mode=dict(type="str", default="0644"))),
            links=dict(type="list", elements="dict", default=[], options=dict(
                path=dict(type="path", required=True), target=dict(type="str", required=True))),
            absent=dict(type="list", elements="path", default=[]),
            retire=dict(type="dict", options=dict(
                directory=dict(type="path", required=True), links=dict(type="path", required=True),
                prefix=dict(type="str", required=True))),
            worker_timeout=dict(type="int", default=10),
            servers=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    nginx = Nginx(module)
    files, links, removals, directories, kept, diffs = plan(module)
    changed_paths = directories + [entry[0] for entry in files] + [entry[0] for entry in links] + removals
    master = nginx.master()
    daemon_reload = master > 0 and nginx.needs_daemon_reload()
    restart = master > 0 and (daemon_reload or runs_replaced_binary(master, module.params["binary"]))
    result = dict(changed_paths=changed_paths, kept=kept, diff=diffs)
    if not changed_paths and not restart:
        module.exit_json(changed=False, action="none", served=nginx.served(), **result)
    action = "tested" if master == 0 else "restarted" if restart else "reloaded"
    if module.check_mode:
        module.exit_json(changed=True, action=action, served=None, **result)

    for path in directories:
        try:
            os.makedirs(path, 0o755)
        except OSError as error:
            module.fail_json(msg="%s: cannot create the directory: %s" % (path, to_native(error)))
    offset, started = log_size(module.params["error_log"]), time.time()
    changes = FileChanges()
    try:
        # Every file is staged before any path changes, so a file that cannot be written changes nothing.
        staged = []
        try:
            for path, data, uid, gid, mode in files:
                staged.append((path, changes.stage(path, data, uid, gid, mode)))
        except ChangeError:
            for dummy, temp in staged:
                os.unlink(temp)
            raise
        for path, temp in staged:
            changes.write(path, temp)
        for path, target in links:
            changes.link(path, target)
        for path in removals:
            changes.remove(path)
        output = nginx.test()
        if daemon_reload:
            nginx.systemctl("daemon-reload")
        if action == "restarted":
            nginx.restart(offset, started)
        elif action == "reloaded":
            nginx.reload(master, offset)
    except (ChangeError, Refused) as error:
        failed = changes.undo()
        after = ""
        if action == "restarted" and isinstance(error, Refused) and nginx.master() == 0:
            rc, dummy, err = nginx.systemctl("start", module.params["service"])
            after = "; nginx was started again on them" if rc == 0 else (
                "; starting nginx again on them failed too: %s" % " ".join(err.split()))
        module.fail_json(
            msg="The new nginx configuration was refused and the previous files were put back%s, %s%s" % (
                " (except %s)" % ", ".join(failed) if failed else "",
                error if isinstance(error, Refused) else "nothing was reloaded: %s" % error, after),
            changed_paths=failed, kept=kept, action="none", served=None)
    changes.commit()
    module.exit_json(changed=True, action=action, served=nginx.served(output), **result)


if __name__ == "__main__":
    main()
