# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Files written, links made and paths removed as one change that can be taken back until it is kept.

Before a path is replaced or removed, what is there (a file or a symbolic link) is kept under a hidden name beside it
(a hard link, so nothing is copied); a new file or link is made under a hidden name and renamed over the path, so a
reader sees the old or the new one and never half of either. undo() puts every kept path back, last first; commit()
drops the kept names. Pure standard library, tested on real files.
"""

from __future__ import annotations

import os
import stat
import tempfile


class ChangeError(Exception):
    """A path that could not be changed."""


def read_bytes(path):
    """The bytes of a regular file (not through a link), or None."""
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


# Larger files than this are shown in --diff as changed, without their text.
DIFF_LIMIT = 64 * 1024


def text_diff(path, before, after):
    """A --diff entry for path from its bytes before and after (None: not there)."""
    if before is not None and len(before) > DIFF_LIMIT or after is not None and len(after) > DIFF_LIMIT:
        return dict(before_header=path, after_header=path, before="(large file)\n", after="(large file, changed)\n")
    return dict(before_header=path, after_header=path,
                before="" if before is None else before.decode("utf-8", "replace"),
                after="" if after is None else after.decode("utf-8", "replace"))


def _hidden(path, suffix):
    return os.path.join(os.path.dirname(path), ".%s.%s.%s" % (os.path.basename(path), os.urandom(4).hex(), suffix))


class FileChanges(object):
    """One change of several paths. Each method changes one path at once and records how to take it back."""

    def __init__(self):
        # (path, the hidden name of what was there or None), in the order they were changed.
        self.changed = []

    @property
    def paths(self):
        return [path for path, dummy in self.changed]

    def stage(self, path, data, uid=-1, gid=-1, mode=None):
        """A new file with data beside path, with the owner and mode given, or else the ones path has (a new path:
        0666 less the umask, as a plain open gives). Nothing is changed yet: write() renames it over path."""
        try:
            fd, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".%s." % os.path.basename(path))
        except OSError as error:
            raise ChangeError("%s: cannot write: %s" % (path, error))
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            if os.path.isfile(path) and not os.path.islink(path):
                info = os.stat(path)
                current_mode, current_uid, current_gid = stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid
            else:
                umask = os.umask(0)
                os.umask(umask)
                current_mode, current_uid, current_gid = 0o666 & ~umask, -1, -1
            os.chmod(temp, current_mode if mode is None else mode)
            uid, gid = current_uid if uid == -1 else uid, current_gid if gid == -1 else gid
            if (uid, gid) != (-1, -1):
                os.chown(temp, uid, gid)
        except OSError as error:
            os.unlink(temp)
            raise ChangeError("%s: cannot write: %s" % (path, error))
        return temp

    def write(self, path, staged):
        """Put a file made by stage() in place of path."""
        self._replace(path, staged)

    def link(self, path, target):
        """Make path a symbolic link to target."""
        temp = _hidden(path, "new")
        try:
            os.symlink(target, temp)
        except OSError as error:
            raise ChangeError("%s: cannot link to %s: %s" % (path, target, error))
        self._replace(path, temp)

    def remove(self, path):
        """Remove a file or link (a directory is refused)."""
        if os.path.isdir(path) and not os.path.islink(path):
            raise ChangeError("%s: is a directory" % path)
        kept = self._keep(path)
        try:
            os.unlink(path)
        except OSError as error:
            self._drop(kept)
            raise ChangeError("%s: cannot remove: %s" % (path, error))
        self.changed.append((path, kept))

    def _keep(self, path):
        if not os.path.lexists(path):
            return None
        while True:
            kept = _hidden(path, "before")
            try:
                os.link(path, kept, follow_symlinks=False)
                return kept
            except FileExistsError:
                continue
            except OSError as error:
                raise ChangeError("%s: cannot keep it as it is: %s" % (path, error))

    def _replace(self, path, temp):
        try:
            kept = self._keep(path)
        except ChangeError:
            os.unlink(temp)
            raise
        try:
            os.rename(temp, path)
        except OSError as error:
            os.unlink(temp)
            self._drop(kept)
            raise ChangeError("%s: cannot replace: %s" % (path, error))
        self.changed.append((path, kept))

    @staticmethod
    def _drop(kept):
        if kept is not None and os.path.lexists(kept):
            os.unlink(kept)

    def undo(self):
        """Put back what each changed path was, last first; returns the paths that could not be put back."""
        failed = []
        for path, kept in reversed(self.changed):
            try:
                if kept is not None:
                    os.rename(kept, path)
                elif os.path.lexists(path):
                    os.unlink(path)
            except OSError:
                failed.append(path)
        self.changed = []
        return failed

    def commit(self):
        """Keep the changes: the hidden names of what was there go."""
        for dummy, kept in self.changed:
            self._drop(kept)
        self.changed = []
