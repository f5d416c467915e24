"""pqc.edge.build_archive_problems on real tar archives: what a host would unpack as root into /."""

import io
import tarfile

import pytest

from ansible_collections.pqc.edge.plugins.filter.builds import build_archive_problems, file_sha256

PREFIXES = ["/opt/pqc-edge/nginx/sbin", "/opt/pqc-edge/openssl"]


def archive(tmp_path, members):
    """members: (name, kind, extra) with kind file, dir, symlink, hardlink, fifo, chr; extra the link or mode."""
    path = tmp_path / "build.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, kind, extra in members:
            info = tarfile.TarInfo(name)
            data = b""
            if kind == "file":
                data = b"\x7fELF binary"
                info.size = len(data)
                info.mode = extra or 0o755
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, extra
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
            elif kind == "chr":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            tar.addfile(info, io.BytesIO(data) if data else None)
    return str(path)


GOOD = [("opt/pqc-edge/nginx/sbin", "dir", None), ("opt/pqc-edge/nginx/sbin/nginx", "file", None),
        ("opt/pqc-edge/openssl/bin/openssl", "file", None),
        ("opt/pqc-edge/openssl/lib/libssl.so", "symlink", "libssl.so.3"),
        ("opt/pqc-edge/openssl/lib/libssl.so.3", "file", 0o644)]


def test_a_build_as_it_was_kept_passes(tmp_path):
    path = archive(tmp_path, GOOD)
    assert build_archive_problems(path, file_sha256(path) + "\n", PREFIXES) == []


def test_an_archive_altered_after_it_was_kept_is_refused(tmp_path):
    path = archive(tmp_path, GOOD)
    recorded = file_sha256(path)
    with open(path, "ab") as handle:
        handle.write(b"\0")
    problems = build_archive_problems(path, recorded, PREFIXES)
    assert len(problems) == 1 and "not %s as recorded when it was kept" % recorded in problems[0]
    assert "(none recorded)" in build_archive_problems(path, "", PREFIXES)[0]


@pytest.mark.parametrize("member, problem", [
    (("/etc/cron.d/evil", "file", None), "absolute member /etc/cron.d/evil"),
    (("opt/pqc-edge/nginx/sbin/../../../../etc/passwd", "file", None), "climbs out with .."),
    (("etc/ld.so.preload", "file", None), "member etc/ld.so.preload is outside /opt/pqc-edge/nginx/sbin, /opt/pqc-edge/openssl"),
    (("opt/pqc-edge/nginx/sbin/sh", "symlink", "/bin/sh"), "link opt/pqc-edge/nginx/sbin/sh points out to /bin/sh"),
    (("opt/pqc-edge/openssl/lib/x", "symlink", "../../../../etc/shadow"), "points out to ../../../../etc/shadow"),
    (("opt/pqc-edge/openssl/lib/y", "hardlink", "etc/shadow"), "points out to etc/shadow"),
    (("opt/pqc-edge/openssl/dev/null", "chr", None), "is a device, FIFO or other special file"),
    (("opt/pqc-edge/openssl/fifo", "fifo", None), "is a device, FIFO or other special file"),
    (("opt/pqc-edge/openssl/bin/su", "file", 0o4755), "is set-user-ID or set-group-ID"),
])
def test_each_unsafe_member_is_named(tmp_path, member, problem):
    path = archive(tmp_path, GOOD + [member])
    problems = build_archive_problems(path, file_sha256(path), PREFIXES)
    assert len(problems) == 1 and problem in problems[0], problems


def test_garbage_is_not_an_archive(tmp_path):
    path = tmp_path / "build.tar.gz"
    path.write_bytes(b"not a tar")
    assert "not a readable tar archive" in build_archive_problems(str(path), file_sha256(str(path)), PREFIXES)[0]
