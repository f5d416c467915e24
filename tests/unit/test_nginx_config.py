"""pqc.edge.nginx_config on real files and real processes. A small program compiled here stands in for nginx: run as
`nginx -t -q` it tests the files for the word `broken` (`-T` prints them too), run otherwise it is a master that starts a child (a worker) on
every SIGHUP, as nginx does on a reload. A `systemctl` script in front of PATH stands in for systemd. Every failure
must leave the tree exactly as it was.

The real nginx under systemd is tested by molecule (options: a configuration nginx -t refuses, a reload and a restart
that cannot bind their port)."""

import grp
import os
import pwd
import shutil
import signal
import subprocess
import time

import pytest

from ansible_collections.pqc.edge.plugins.module_utils._seal import sealed
from ansible_collections.pqc.edge.plugins.modules import nginx_config

from module_runner import ModuleFail, run_module

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name

# nginx -t: the files tested for a word nginx would not know; -T then prints them as nginx does (nginx.conf, then each
# enabled site). Otherwise a master: a worker at start and on each SIGHUP.
NGINX = r"""
#include <signal.h>
#include <string.h>
#include <unistd.h>
static volatile sig_atomic_t reloads = 0;
static void hup(int sig) { (void)sig; reloads++; }
static void worker(void) { if (fork() == 0) { for (;;) pause(); } }
int main(int argc, char **argv) {
  if (argc > 1 && (strcmp(argv[1], "-t") == 0 || strcmp(argv[1], "-T") == 0)) {
    execl("/bin/sh", "sh", "-c",
          "if grep -rqs broken \"$0\"; then"
          " echo \"nginx: [emerg] unknown directive \\\"broken\\\" in $0/sites-enabled/pqc-edge-a.conf:1\" >&2;"
          " echo \"nginx: configuration file $0/nginx.conf test failed\" >&2; exit 1; fi;"
          " [ \"$1\" = -T ] || exit 0;"
          " for f in \"$0/nginx.conf\" \"$0\"/sites-enabled/*; do [ -e \"$f\" ] || continue;"
          " echo \"# configuration file $f:\"; cat \"$f\"; echo; done", "%(conf)s", argv[1], (char *)0);
    return 2;
  }
  signal(SIGHUP, hup);
  worker();
  for (;;) { pause(); while (reloads > 0) { reloads--; worker(); } }
}
"""
# MainPID from a file; reload signals the master unless the log is told to refuse it (then logs [emerg] as nginx does).
SYSTEMCTL = """#!/bin/sh
state=%(state)s
case "$1 $3" in
  "show MainPID") cat "$state/pid" 2>/dev/null || echo 0 ;;
  "show NeedDaemonReload") echo no ;;
  *) case "$1" in
       reload) if [ -f "$state/refuse" ]; then
                 echo "2026/12/05 10:00:00 [emerg] 12#12: bind() to 127.0.0.1:9446 failed (98: Address already in use)" >> "$state/error.log"
               else kill -HUP "$(cat "$state/pid")"; fi ;;
       restart) echo "$@" >> "$state/calls"
                if [ -f "$state/refuse" ]; then
                  kill -9 "$(cat "$state/pid")"; rm -f "$state/pid"
                  echo "2026/12/05 10:00:00 [emerg] 12#12: bind() to 127.0.0.1:9446 failed (98: Address already in use)" >> "$state/error.log"
                  exit 1
                fi ;;
       *) echo "$@" >> "$state/calls" ;;
     esac ;;
esac
"""


@pytest.fixture
def edge(tmp_path, monkeypatch):
    conf, state, bin_dir = tmp_path / "nginx", tmp_path / "state", tmp_path / "bin"
    for directory in (conf / "sites-available", conf / "sites-enabled", state, bin_dir):
        directory.mkdir(parents=True)
    if not shutil.which("cc"):
        pytest.skip("no C compiler (cc) to build the stand-in nginx")
    (tmp_path / "nginx.c").write_text(NGINX % {"conf": conf})
    subprocess.run(["cc", "-o", str(bin_dir / "nginx"), str(tmp_path / "nginx.c")], check=True)
    (bin_dir / "systemctl").write_text(SYSTEMCTL % {"state": state})
    os.chmod(bin_dir / "systemctl", 0o755)
    monkeypatch.setenv("PATH", "%s:%s" % (bin_dir, os.environ["PATH"]))
    yield conf, state, bin_dir
    # The master's process group, with its workers, even where a failed restart killed the master itself.
    if (state / "group").exists():
        try:
            os.killpg(int((state / "group").read_text()), signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_master(state, binary):
    """The stand-in nginx as a master, in a process group of its own, with its first worker."""
    master = subprocess.Popen([str(binary)], start_new_session=True)
    (state / "pid").write_text("%d\n" % master.pid)
    (state / "group").write_text("%d\n" % master.pid)
    deadline = time.time() + 5
    while not nginx_config.workers(master.pid) and time.time() < deadline:
        time.sleep(0.05)
    return master.pid


def install_new_build(bin_dir):
    """A new build installed as nginx's make install does it: the old binary moved aside, the new one copied in."""
    os.rename(str(bin_dir / "nginx"), str(bin_dir / "nginx.old"))
    shutil.copy2(str(bin_dir / "nginx.old"), str(bin_dir / "nginx"))


def args(conf, state, bin_dir, files, links=(), **extra):
    return dict(dict(
        binary=str(bin_dir / "nginx"), service="nginx", error_log=str(state / "error.log"),
        files=[dict(path=str(conf / path), content=content, owner=OWNER, group=GROUP) for path, content in files],
        links=[dict(path=str(conf / "sites-enabled" / name), target="../sites-available/" + name) for name in links],
        retire=dict(directory=str(conf / "sites-available"), links=str(conf / "sites-enabled"), prefix="pqc-edge-"),
        worker_timeout=2), **extra)


def tree(root):
    """Every path under root: a file's text, a link's target, with mode; hidden leftovers show up too."""
    found = {}
    for directory, dummy, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            found[os.path.relpath(path, root)] = (os.readlink(path) if os.path.islink(path) else open(path).read(),
                                                  oct(info.st_mode), info.st_ino)
    return found


def seeded(conf):
    """A converged edge: nginx.conf, site a (enabled), an unlisted site b pqc.edge wrote, and one someone edited."""
    (conf / "nginx.conf").write_text(sealed("events {}\n"))
    (conf / "sites-available" / "pqc-edge-a.conf").write_text(sealed("server { listen 8443; }\n"))
    (conf / "sites-available" / "pqc-edge-b.conf").write_text(sealed("server { listen 8444; }\n"))
    (conf / "sites-available" / "pqc-edge-c.conf").write_text("# edited by hand\nserver { listen 8445; }\n")
    for name in ("pqc-edge-a.conf", "pqc-edge-b.conf", "pqc-edge-c.conf"):
        os.symlink("../sites-available/" + name, str(conf / "sites-enabled" / name))


def test_writes_links_retires_and_reloads_then_changes_nothing(edge):
    conf, state, bin_dir = edge
    seeded(conf)
    master = start_master(state, bin_dir / "nginx")
    before = set(nginx_config.workers(master))
    files = [("nginx.conf", sealed("events {}\n")), ("sites-available/pqc-edge-a.conf", sealed("server { listen 9443; }\n")),
             ("sites-available/pqc-edge-d.conf", sealed("server { listen 9444; }\n"))]
    result = run_module(nginx_config.main, args(conf, state, bin_dir, files, ["pqc-edge-a.conf", "pqc-edge-d.conf"]))
    assert result["changed"] is True and result["action"] == "reloaded"
    # b was sealed: retired with its link; c was edited: kept, and named.
    assert result["kept"] == [str(conf / "sites-available" / "pqc-edge-c.conf")]
    assert sorted(os.listdir(conf / "sites-available")) == ["pqc-edge-a.conf", "pqc-edge-c.conf", "pqc-edge-d.conf"]
    assert sorted(os.listdir(conf / "sites-enabled")) == ["pqc-edge-a.conf", "pqc-edge-c.conf", "pqc-edge-d.conf"]
    assert os.readlink(str(conf / "sites-enabled" / "pqc-edge-d.conf")) == "../sites-available/pqc-edge-d.conf"
    assert "9443" in (conf / "sites-available" / "pqc-edge-a.conf").read_text()
    assert set(nginx_config.workers(master)) - before, "the reload started no worker"
    again = run_module(nginx_config.main, args(conf, state, bin_dir, files, ["pqc-edge-a.conf", "pqc-edge-d.conf"]))
    assert again["changed"] is False and again["action"] == "none" and again["changed_paths"] == []


def test_check_mode_names_the_changes_and_makes_none(edge):
    conf, state, bin_dir = edge
    seeded(conf)
    before = tree(conf)
    result = run_module(nginx_config.main, args(conf, state, bin_dir, [("sites-available/pqc-edge-a.conf", "new\n")],
                                                ["pqc-edge-a.conf"]), check_mode=True)
    assert result["changed"] is True and result["action"] == "tested"
    assert str(conf / "sites-available" / "pqc-edge-a.conf") in result["changed_paths"]
    assert str(conf / "sites-available" / "pqc-edge-b.conf") in result["changed_paths"]
    assert tree(conf) == before


def test_a_configuration_nginx_refuses_puts_every_path_back(edge):
    conf, state, bin_dir = edge
    seeded(conf)
    master = start_master(state, bin_dir / "nginx")
    before, workers = tree(conf), nginx_config.workers(master)
    files = [("sites-available/pqc-edge-a.conf", "broken;\n"), ("sites-available/pqc-edge-new.conf", "server {}\n")]
    with pytest.raises(ModuleFail) as failed:
        run_module(nginx_config.main, args(conf, state, bin_dir, files, ["pqc-edge-a.conf", "pqc-edge-new.conf"]))
    message = failed.value.result["msg"]
    assert "the previous files were put back, nginx was not reloaded: nginx: [emerg] unknown directive \"broken\"" in message
    # The same files, the same inodes (put back, not rewritten), nothing left beside them; no reload.
    assert tree(conf) == before
    assert nginx_config.workers(master) == workers


def test_a_reload_that_does_not_take_puts_every_path_back_and_quotes_the_emerg_line(edge):
    conf, state, bin_dir = edge
    seeded(conf)
    start_master(state, bin_dir / "nginx")
    (state / "refuse").write_text("")
    (state / "error.log").write_text("2026/12/05 09:00:00 [emerg] 1#1: an old complaint, not this reload's\n")
    before = tree(conf)
    with pytest.raises(ModuleFail) as failed:
        run_module(nginx_config.main, args(conf, state, bin_dir, [("sites-available/pqc-edge-a.conf", "server {}\n")],
                                           ["pqc-edge-a.conf"]))
    message = failed.value.result["msg"]
    assert message.endswith("its reload did not take and nginx goes on with the previous one: "
                            "bind() to 127.0.0.1:9446 failed (98: Address already in use)"), message
    assert tree(conf) == before


def test_a_stopped_nginx_is_tested_not_started(edge):
    conf, state, bin_dir = edge
    result = run_module(nginx_config.main, args(conf, state, bin_dir, [("nginx.conf", "events {}\n")],
                                                directories=[str(conf / "conf.d")]))
    assert result["action"] == "tested" and (conf / "conf.d").is_dir()
    assert not (state / "calls").exists(), "systemctl was asked to start or reload a stopped nginx"


def test_a_master_running_a_replaced_binary_is_restarted_even_without_a_new_file(edge):
    conf, state, bin_dir = edge
    (conf / "nginx.conf").write_text("events {}\n")
    master = start_master(state, bin_dir / "nginx")
    files = [("nginx.conf", "events {}\n")]
    assert run_module(nginx_config.main, args(conf, state, bin_dir, files))["action"] == "none"
    install_new_build(bin_dir)
    assert nginx_config.runs_replaced_binary(master, str(bin_dir / "nginx"))
    result = run_module(nginx_config.main, args(conf, state, bin_dir, files))
    assert result["changed"] is True and result["action"] == "restarted" and result["changed_paths"] == []
    assert (state / "calls").read_text() == "restart nginx\n"


def test_a_restart_that_fails_puts_every_path_back_and_starts_nginx_on_them(edge):
    conf, state, bin_dir = edge
    seeded(conf)
    start_master(state, bin_dir / "nginx")
    install_new_build(bin_dir)
    (state / "refuse").write_text("")
    before = tree(conf)
    with pytest.raises(ModuleFail) as failed:
        run_module(nginx_config.main, args(conf, state, bin_dir, [("sites-available/pqc-edge-a.conf", "server {}\n")],
                                           ["pqc-edge-a.conf"]))
    message = failed.value.result["msg"]
    assert ("the previous files were put back, its restart failed: bind() to 127.0.0.1:9446 failed "
            "(98: Address already in use); nginx was started again on them") in message, message
    assert (state / "calls").read_text() == "restart nginx\nstart nginx\n"
    assert tree(conf) == before


@pytest.mark.parametrize("line, message", [
    ("2026/12/05 10:00:00 [emerg] 12#12: bind() to 0.0.0.0:80 failed (98: Address in use)",
     "bind() to 0.0.0.0:80 failed (98: Address in use)"),
    ('nginx: [emerg] unknown directive "x" in /etc/nginx/a.conf:3', 'unknown directive "x" in /etc/nginx/a.conf:3'),
    ("2026/12/05 10:00:00 [warn] 12#12: conflicting server name", None),
])
def test_emerg_lines_keep_nginxs_words_without_time_and_pid(line, message):
    assert nginx_config.emerg_lines(line + "\n" + line) == ([message] if message else [])


def test_what_nginx_serves_comes_from_the_test_of_the_new_files_and_from_a_read_where_nothing_changed(edge):
    conf, state, bin_dir = edge
    seeded(conf)
    master = start_master(state, bin_dir / "nginx")
    files = [("nginx.conf", sealed("events {}\nhttp {\n  include %s/sites-enabled/*;\n}\n" % conf)),
             ("sites-available/pqc-edge-a.conf", sealed("server {\n  listen 9443 ssl;\n  server_name a.example;\n}\n"))]
    before = set(nginx_config.workers(master))
    result = run_module(nginx_config.main, args(conf, state, bin_dir, files, ["pqc-edge-a.conf"], servers=True))
    assert result["action"] == "reloaded" and set(nginx_config.workers(master)) - before
    # Site b was retired; c, edited by hand, is kept and served; a serves TLS on its new port.
    endpoints = [(e["port"], e["server_name"]) for e in result["served"]["tls_endpoints"]]
    assert endpoints == [(9443, "a.example")], result["served"]
    assert [s["file"] for s in result["served"]["servers"]] == [str(conf / "sites-enabled" / name)
                                                                for name in ("pqc-edge-a.conf", "pqc-edge-c.conf")]
    again = run_module(nginx_config.main, args(conf, state, bin_dir, files, ["pqc-edge-a.conf"], servers=True))
    assert again["changed"] is False and again["served"] == result["served"]
    # Not asked for: not read; in check mode with files to change: not known.
    assert run_module(nginx_config.main, args(conf, state, bin_dir, files, ["pqc-edge-a.conf"]))["served"] is None
    other = [("sites-available/pqc-edge-a.conf", sealed("server {\n  listen 9444 ssl;\n}\n"))]
    checked = run_module(nginx_config.main, args(conf, state, bin_dir, other, ["pqc-edge-a.conf"], servers=True),
                         check_mode=True)
    assert checked["changed"] is True and checked["served"] is None
