# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Whether a build kept on the controller may be unpacked as root into / on another host.

The archive must still have the sha256 the controller recorded when it fetched it from its build host, and hold
only what a build installs: relative paths under the expected prefixes, links that stay under them, no devices,
no set-id bits. Anything else is a problem named in the answer, and the host unpacks nothing.
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile

from ansible.errors import AnsibleFilterError


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _under(name, prefixes):
    return any(name == prefix or name.startswith(prefix + "/") for prefix in prefixes)


def member_problem(member, prefixes):
    """What is wrong with one tar member for an archive unpacked at / (prefixes relative, without a leading /)."""
    name = member.name
    if name.startswith("/"):
        return "absolute member %s" % name
    if ".." in name.split("/"):
        return "member %s climbs out with .." % name
    path = posixpath.normpath(name)
    if not _under(path, prefixes):
        return "member %s is outside %s" % (name, ", ".join("/" + p for p in prefixes))
    if member.issym() or member.islnk():
        target = member.linkname
        if member.issym() and not target.startswith("/"):
            target = posixpath.join(posixpath.dirname(path), target)
        target = posixpath.normpath(target).lstrip("/")
        if ".." in target.split("/") or not _under(target, prefixes):
            return "link %s points out to %s" % (name, member.linkname)
        return None
    if not (member.isfile() or member.isdir()):
        return "member %s is a device, FIFO or other special file" % name
    if member.mode & 0o6000:
        return "member %s is set-user-ID or set-group-ID" % name
    return None


def build_archive_problems(path, sha256, prefixes):
    """[] when the archive at path may be unpacked; else each problem in a few words."""
    if not isinstance(prefixes, (list, tuple)) or not prefixes or not all(
            isinstance(p, str) and p.startswith("/") and p.strip("/") for p in prefixes):
        raise AnsibleFilterError("build_archive_problems needs absolute prefixes other than /, got %r" % (prefixes,))
    relative = [posixpath.normpath(p).lstrip("/") for p in prefixes]
    try:
        actual = file_sha256(path)
    except OSError as exc:
        return ["cannot read %s: %s" % (path, exc.strerror or exc)]
    recorded = (sha256 or "").strip().split(" ")[0]
    if actual != recorded:
        return ["its sha256 is %s, not %s as recorded when it was kept" % (actual, recorded or "(none recorded)")]
    problems = []
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                problem = member_problem(member, relative)
                if problem:
                    problems.append(problem)
    except (tarfile.TarError, OSError, EOFError) as exc:
        problems.append("not a readable tar archive (%s)" % exc)
    return problems


class FilterModule(object):
    def filters(self):
        return {"build_archive_problems": build_archive_problems}
