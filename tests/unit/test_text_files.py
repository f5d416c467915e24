"""pqc.edge.text_files writes real files in a temporary directory: only what differs, atomically, with the asked
mode; check mode writes nothing; bad entries fail naming the entry. pqc.edge.to_write picks the entries a
host_facts read says differ."""

import grp
import hashlib
import os
import pwd
import sys

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter.files import backend_changes, to_write
from ansible_collections.pqc.edge.plugins.module_utils import _file_changes
from ansible_collections.pqc.edge.plugins.modules import host_facts, text_files

from module_runner import ModuleFail, run_module

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def write(files, check_mode=False):
    return run_module(text_files.main, {"files": files}, check_mode=check_mode)


def mode_of(path):
    return "%04o" % (os.stat(path).st_mode & 0o7777)


def test_writes_new_files_then_changes_nothing(tmp_path):
    files = [{"path": str(tmp_path / "app.py"), "content": "print('hi')\n", "mode": "0644", "owner": OWNER, "group": GROUP},
             {"path": str(tmp_path / "app.service"), "content": "[Unit]\nDescription=x\n", "mode": "0600"}]
    result = write(files)
    assert result["changed"] is True
    assert result["changed_paths"] == [files[0]["path"], files[1]["path"]]
    assert (tmp_path / "app.py").read_text() == "print('hi')\n"
    assert mode_of(tmp_path / "app.py") == "0644" and mode_of(tmp_path / "app.service") == "0600"
    assert [d["after"] for d in result["diff"]] == ["print('hi')\n", "[Unit]\nDescription=x\n"]
    again = write(files)
    assert again["changed"] is False and again["changed_paths"] == [] and again["diff"] == []
    # Nothing is left beside the files.
    assert sorted(os.listdir(tmp_path)) == ["app.py", "app.service"]


def test_replaces_only_what_differs(tmp_path):
    kept, edited = tmp_path / "kept.txt", tmp_path / "edited.txt"
    kept.write_text("same\n")
    edited.write_text("old\n")
    kept.chmod(0o644)
    edited.chmod(0o644)
    inode = kept.stat().st_ino
    result = write([{"path": str(kept), "content": "same\n", "mode": "0644"},
                    {"path": str(edited), "content": "new\n", "mode": "0644"}])
    assert result["changed_paths"] == [str(edited)]
    assert result["diff"] == [{"before_header": str(edited), "after_header": str(edited), "before": "old\n", "after": "new\n"}]
    assert edited.read_text() == "new\n" and kept.stat().st_ino == inode


def test_a_mode_alone_is_a_change(tmp_path):
    path = tmp_path / "unit"
    path.write_text("x\n")
    path.chmod(0o600)
    result = write([{"path": str(path), "content": "x\n", "mode": "0644"}])
    assert result["changed_paths"] == [str(path)] and mode_of(path) == "0644"


def test_check_mode_reports_and_writes_nothing(tmp_path):
    edited = tmp_path / "edited.txt"
    edited.write_text("old\n")
    files = [{"path": str(edited), "content": "new\n"}, {"path": str(tmp_path / "new.txt"), "content": "n\n", "mode": "0644"},
             {"path": str(tmp_path / "not-yet" / "app.py"), "content": "a\n"}]
    result = write(files, check_mode=True)
    assert result["changed_paths"] == [f["path"] for f in files]
    assert edited.read_text() == "old\n" and not (tmp_path / "new.txt").exists()


@pytest.mark.parametrize("entry, message", [
    ({"path": "relative/app.py", "content": "x"}, "files[0] (relative/app.py): the path must be absolute"),
    ({"path": "/nonexistent-dir/app.py", "content": "x"}, "files[0] (/nonexistent-dir/app.py): the directory /nonexistent-dir does not exist"),
    ({"path": "/tmp/app.py", "content": "x", "mode": "rw-r--r--"}, "mode=rw-r--r-- is not three or four octal digits"),
])
def test_bad_entries_fail_naming_them(entry, message):
    with pytest.raises(ModuleFail) as failed:
        write([entry])
    assert message in failed.value.result["msg"]


def test_a_path_given_twice_fails(tmp_path):
    path = str(tmp_path / "a")
    with pytest.raises(ModuleFail) as failed:
        write([{"path": path, "content": "1"}, {"path": path, "content": "2"}])
    assert "files[1] (%s): the path is given twice" % path in failed.value.result["msg"]
    assert not os.path.exists(path)


def test_to_write_picks_what_a_host_facts_read_says_differs(tmp_path):
    same, other = tmp_path / "same", tmp_path / "other"
    same.write_text("s\n")
    other.write_text("o\n")
    same.chmod(0o644)
    other.chmod(0o644)
    read = run_module(host_facts.main, {"paths": [str(same), str(other), str(tmp_path / "missing")]})["paths"]
    files = [{"path": str(same), "content": "s\n", "mode": "0644", "owner": OWNER},
             {"path": str(other), "content": "changed\n", "mode": "0644"},
             {"path": str(tmp_path / "missing"), "content": "m\n"},
             {"path": str(same), "content": "s\n", "mode": "0600"}]
    assert to_write(files, read) == files[1:]
    with pytest.raises(AnsibleFilterError, match="was not read"):
        to_write([{"path": "/elsewhere", "content": ""}], read)


def test_directories_are_made_before_the_files_in_them(tmp_path):
    home, app = tmp_path / "home", tmp_path / "home" / "app"
    directories = [{"path": str(home), "mode": "0755"}, {"path": str(app), "mode": "0750"}]
    files = [{"path": str(app / "app.py"), "content": "a\n", "mode": "0644"}]
    planned = run_module(text_files.main, {"directories": directories, "files": files}, check_mode=True)
    assert planned["changed_paths"] == [str(home), str(app), str(app / "app.py")] and not home.exists()
    result = run_module(text_files.main, {"directories": directories, "files": files})
    assert result["changed_paths"] == [str(home), str(app), str(app / "app.py")]
    assert mode_of(home) == "0755" and mode_of(app) == "0750" and (app / "app.py").read_text() == "a\n"
    app.chmod(0o700)
    again = run_module(text_files.main, {"directories": directories, "files": files})
    assert again["changed_paths"] == [str(app)] and mode_of(app) == "0750"


def test_a_file_where_a_directory_should_be_fails(tmp_path):
    (tmp_path / "app").write_text("")
    with pytest.raises(ModuleFail) as failed:
        run_module(text_files.main, {"directories": [{"path": str(tmp_path / "app")}]})
    assert "directories[0] (%s): is not a directory" % (tmp_path / "app") in failed.value.result["msg"]


def test_to_write_compares_directories_as_directories(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d").chmod(0o755)
    read = run_module(host_facts.main, {"paths": [str(tmp_path / "d"), str(tmp_path / "e")]})["paths"]
    entries = [{"path": str(tmp_path / "d"), "mode": "0755"}, {"path": str(tmp_path / "e"), "mode": "0755"},
               {"path": str(tmp_path / "d"), "mode": "0700"}]
    assert to_write(entries, read, "directory") == entries[1:]


def test_backups_of_replaced_files(tmp_path):
    old, new = tmp_path / "nginx.conf", tmp_path / "site.conf"
    old.write_text("before\n")
    files = [{"path": str(old), "content": "after\n"}, {"path": str(new), "content": "s\n"}]
    result = run_module(text_files.main, {"files": files, "backup": True})
    assert list(result["backups"]) == [str(old)]
    backup = result["backups"][str(old)]
    assert os.path.dirname(backup) == str(tmp_path) and open(backup).read() == "before\n"
    assert old.read_text() == "after\n"
    assert run_module(text_files.main, {"files": [{"path": str(old), "content": "after\n"}], "backup": True})["backups"] == {}


def three_files(tmp_path):
    for name in ("a.conf", "b.conf", "c.conf"):
        (tmp_path / name).write_text("old %s\n" % name)
    return [{"path": str(tmp_path / name), "content": "new %s\n" % name} for name in ("a.conf", "b.conf", "c.conf")]


def assert_as_before(tmp_path, result):
    """The three files as three_files left them, nothing beside them, and a failure that says nothing changed."""
    assert [(tmp_path / n).read_text() for n in ("a.conf", "b.conf", "c.conf")] == ["old a.conf\n", "old b.conf\n", "old c.conf\n"]
    assert result["changed_paths"] == [] and result["backups"] == {}
    assert sorted(os.listdir(tmp_path)) == ["a.conf", "b.conf", "c.conf"]


@pytest.mark.parametrize("fail_at", ["staging", "renaming"])
def test_a_failure_on_the_second_file_leaves_the_first_as_it_was(tmp_path, monkeypatch, fail_at):
    """The disk refuses the second file (its temporary file, or its rename): the first was not replaced, nothing is
    left beside them, and the failure says that nothing was changed."""
    files = three_files(tmp_path)
    second = files[1]["path"]
    if fail_at == "staging":
        real = _file_changes.tempfile.mkstemp

        def mkstemp(dir=None, prefix=None):  # pylint: disable=redefined-builtin
            if prefix == ".b.conf.":
                raise OSError(28, "No space left on device")
            return real(dir=dir, prefix=prefix)
        monkeypatch.setattr(_file_changes.tempfile, "mkstemp", mkstemp)
    else:
        real = os.rename

        def rename(src, dst):
            if dst == second:
                raise OSError(5, "Input/output error")
            return real(src, dst)
        monkeypatch.setattr(text_files.os, "rename", rename)
    with pytest.raises(ModuleFail) as failed:
        run_module(text_files.main, {"files": files, "backup": True})
    assert second in failed.value.result["msg"]
    assert_as_before(tmp_path, failed.value.result)


def test_a_rename_failing_midway_puts_back_the_files_already_replaced(tmp_path, monkeypatch):
    """The third rename fails after two files were replaced: those two get their previous content back, a file that
    was new is removed again, and the failure says so; no copy or temporary file is left."""
    files = three_files(tmp_path) + [{"path": str(tmp_path / "new.conf"), "content": "new\n"}]
    files = [files[0], files[3], files[1], files[2]]
    real = os.rename

    def rename(src, dst):
        if dst == files[3]["path"] and not src.endswith(".before"):
            raise OSError(5, "Input/output error")
        return real(src, dst)
    monkeypatch.setattr(text_files.os, "rename", rename)
    with pytest.raises(ModuleFail) as failed:
        run_module(text_files.main, {"files": files, "backup": True})
    assert "c.conf: cannot replace" in failed.value.result["msg"] and "the files before it were put back" in failed.value.result["msg"]
    assert_as_before(tmp_path, failed.value.result)


def test_a_sealed_file_is_recognised_until_someone_changes_it():
    from ansible_collections.pqc.edge.plugins.module_utils._seal import is_sealed, sealed
    text = sealed("server {\n    listen 8443 ssl;\n}")
    assert text.startswith("server {\n    listen 8443 ssl;\n}\n# pqc.edge sha256 ") and is_sealed(text)
    assert sealed(text[:text.rindex("# pqc.edge")]) == text
    edited = text.replace("8443", "8444")
    operator = "# pqc.edge site operator\nserver { listen 80; }\n"
    assert not is_sealed(edited) and not is_sealed(operator) and not is_sealed(None) and not is_sealed(text + "\n")


def test_a_file_pqc_edge_wrote_counts_as_unchanged_until_someone_edits_it():
    from ansible_collections.pqc.edge.plugins.filter.files import written_unchanged
    from ansible_collections.pqc.edge.plugins.module_utils._seal import sealed
    marker = "# pqc.edge: the post-quantum TLS policy"
    ours = sealed("%s\nhttp {}\n" % marker)
    assert written_unchanged(ours, marker)
    assert written_unchanged("%s\nhttp {}\n" % marker, marker)  # written before files were sealed
    assert not written_unchanged(ours.replace("http {}", "http { gzip on; }"), marker)
    assert not written_unchanged(ours + "# added by hand\n", marker)
    assert not written_unchanged("http {}\n", marker) and not written_unchanged(None, marker)


def test_a_binary_file_given_in_base64_is_written_byte_for_byte_once(tmp_path):
    der = bytes(range(256)) + b"\x00\xff"
    files = [{"path": str(tmp_path / "root.crl"), "content": __import__("base64").b64encode(der).decode(), "encoding": "base64",
              "mode": "0644"}]
    result = write(files)
    assert result["changed"] and (tmp_path / "root.crl").read_bytes() == der
    assert result["diff"][0]["after"] == "(binary, changed)\n"
    assert write(files)["changed"] is False
    with pytest.raises(ModuleFail) as failed:
        write([dict(files[0], content="not base64!")])
    assert "the content is not base64" in failed.value.result["msg"]
    assert (tmp_path / "root.crl").read_bytes() == der


def backend_tree(tmp_path):
    """What the backend role would want under tmp_path, described as backend_changes takes it, with the user and group
    of this test run (which exist) standing in for the service's."""
    me = pwd.getpwuid(os.getuid())
    wheel = b"not a real wheel\n"
    return {
        "group": GROUP, "user": OWNER, "home": me.pw_dir, "shell": me.pw_shell,
        "directories": [{"path": str(tmp_path / "app"), "owner": OWNER, "group": GROUP, "mode": "0755"}],
        "files": [{"path": str(tmp_path / "app" / "app.py"), "content": "print('hi')\n", "owner": OWNER, "group": GROUP,
                   "mode": "0644"}],
        "wheels": [{"name": "gunicorn", "version": "27.0.1", "file": "gunicorn-27.0.1-py3-none-any.whl",
                    "sha256": hashlib.sha256(wheel).hexdigest(), "bytes": wheel}],
        "wheel_dir": str(tmp_path / "wheels"),
        "venv_python": str(tmp_path / "venv" / "bin" / "python"),
        "dist_info": str(tmp_path / "venv" / "lib" / "python3*" / "site-packages" / "*.dist-info"),
    }


def read_backend(wanted, users=None):
    return run_module(host_facts.main, {
        "groups": [wanted["group"]], "users": users or [wanted["user"]], "glob": [wanted["dist_info"]],
        "paths": [entry["path"] for entry in wanted["directories"] + wanted["files"]] + [wanted["venv_python"]]
        + ["%s/%s" % (wanted["wheel_dir"], wheel["file"]) for wheel in wanted["wheels"]]})


def test_backend_changes_lists_every_step_on_a_fresh_host_and_none_once_converged(tmp_path):
    wanted = backend_tree(tmp_path)
    due = backend_changes(read_backend(wanted), wanted)
    assert sorted(due) == ["dependencies", "directories", "files", "venv", "wheels"]
    assert due["files"] == wanted["files"] and due["directories"] == wanted["directories"]
    assert [wheel["file"] for wheel in due["wheels"]] == ["gunicorn-27.0.1-py3-none-any.whl"]
    # Make what the role would make, then nothing is due.
    (tmp_path / "app").mkdir(mode=0o755)
    (tmp_path / "app" / "app.py").write_text("print('hi')\n")
    (tmp_path / "app" / "app.py").chmod(0o644)
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "gunicorn-27.0.1-py3-none-any.whl").write_bytes(wanted["wheels"][0]["bytes"])
    (tmp_path / "wheels" / "gunicorn-27.0.1-py3-none-any.whl").chmod(0o644)
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").symlink_to(sys.executable)
    (tmp_path / "venv" / "lib" / "python3.13" / "site-packages" / "gunicorn-27.0.1.dist-info").mkdir(parents=True)
    read = read_backend(wanted)
    if os.getuid() == 0:
        assert backend_changes(read, wanted) == {}
    else:
        # The wheels must be root's: as another user only they stay due.
        assert sorted(backend_changes(read, wanted)) == ["wheels"]
    # Another version installed, an edited file: those two steps come back, with what to write.
    (tmp_path / "venv" / "lib" / "python3.13" / "site-packages" / "gunicorn-27.0.1.dist-info").rename(
        tmp_path / "venv" / "lib" / "python3.13" / "site-packages" / "gunicorn-26.0.0.dist-info")
    (tmp_path / "app" / "app.py").write_text("edited\n")
    due = backend_changes(read_backend(wanted), wanted)
    assert due.get("files") == wanted["files"] and [w["version"] for w in due.get("dependencies", [])] == ["27.0.1"]


def test_backend_changes_wants_the_group_and_the_user_as_set(tmp_path):
    wanted = backend_tree(tmp_path)
    missing = dict(wanted, group="pqc-edge-no-such-group", user="pqc-edge-no-such-user")
    read = read_backend(missing)
    assert read["groups"] == {"pqc-edge-no-such-group": None} and read["users"] == {"pqc-edge-no-such-user": None}
    due = backend_changes(read, missing)
    assert due["group"] is True and due["user"] is True
    # An existing user with another home or shell is due too.
    for changed in ({"home": "/nonexistent-home"}, {"shell": "/bin/false-or-other"}):
        assert backend_changes(read_backend(wanted), dict(wanted, **changed)).get("user") is True
    assert "group" not in backend_changes(read_backend(wanted), wanted)


def test_backend_changes_names_a_path_the_read_left_out(tmp_path):
    wanted = backend_tree(tmp_path)
    read = read_backend(wanted)
    del read["paths"][wanted["venv_python"]]
    with pytest.raises(AnsibleFilterError, match="venv/bin/python was not read"):
        backend_changes(read, wanted)
