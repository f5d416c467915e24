"""The engine under AWX and Automation Platform: ansible-runner runs pqc.edge.site from a runner project directory
against this scenario's host, with the collection installed into the project from its tarball as a project sync
does (collections/requirements.yml), not from the checkout. Its artifacts must show every task with a result and
the final verification."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import yaml

ROOT = pathlib.Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", pathlib.Path(__file__).resolve().parents[3]))
BIN = pathlib.Path(sys.executable).parent
VERIFICATION = "Assert that modern clients get a hybrid group and classical clients are still served"


def run(argv, cwd, env=None):
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def runner_project(base):
    """A private data directory as AWX lays one out: project/ with the playbook, its ansible.cfg and collections/,
    inventory/ (this scenario's), env/."""
    version = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
    project = base / "project"
    (project / "collections").mkdir(parents=True)
    run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(base), str(ROOT)], cwd=base)
    tarball = base / ("pqc-edge-%s.tar.gz" % version)
    (project / "collections" / "requirements.yml").write_text(yaml.safe_dump(
        {"collections": [{"name": str(tarball), "type": "file"}]}))
    # --force: where the configured collections path has pqc.edge already (the checkout), it would install nothing.
    run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "--force", "-r", "collections/requirements.yml",
         "-p", "collections"], cwd=project)
    (project / "site.yml").write_text("---\n- name: Post-quantum TLS edges\n  ansible.builtin.import_playbook: pqc.edge.site\n")
    (project / "ansible.cfg").write_text("[defaults]\ncollections_path = ./collections\ninject_facts_as_vars = False\n\n[connection]\npipelining = True\n")
    shutil.copytree(pathlib.Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent, base / "inventory")
    (base / "env").mkdir()
    return project


def test_ansible_runner_runs_the_site_playbook_from_a_project_with_every_task_in_its_events(tmp_path):
    project = runner_project(tmp_path)
    # Nothing of the checkout's set-up: the collection must come from the project.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["PATH"] = "%s:%s" % (BIN, env.get("PATH", ""))
    run([str(BIN / "ansible-runner"), "run", str(tmp_path), "-p", "site.yml", "--ident", "edge"], cwd=tmp_path, env=env)
    artifacts = tmp_path / "artifacts" / "edge"
    assert (artifacts / "status").read_text() == "successful"
    assert (artifacts / "rc").read_text() == "0"
    paths = sorted((artifacts / "job_events").glob("*.json"), key=lambda path: int(path.name.split("-")[0]))
    events = [json.loads(path.read_text()) for path in paths]
    # Every task but meta ones (flush_handlers reports no result of its own).
    started = {e["event_data"]["task_uuid"]: e["event_data"]["task"] for e in events
               if e["event"] == "playbook_on_task_start" and e["event_data"].get("resolved_action") != "ansible.builtin.meta"}
    results = [e for e in events if e["event"].startswith("runner_on_") or e["event"] == "runner_item_on_ok"]
    finished = {e["event_data"]["task_uuid"] for e in results}
    assert len(started) > 40
    assert set(started) - finished == set(), sorted(started[u] for u in set(started) - finished)
    # The roles ran from the project's collections, as in AWX.
    role_paths = {e["event_data"].get("task_path", "") for e in results if e["event_data"].get("role")}
    assert role_paths and all(str(project / "collections" / "ansible_collections" / "pqc" / "edge") in p
                              for p in role_paths), sorted(role_paths)[:3]
    verification = [e for e in results if e["event"] == "runner_on_ok" and e["event_data"]["task"] == VERIFICATION]
    assert len(verification) == 1
    assert "negotiate a hybrid group for post-quantum clients" in verification[0]["event_data"]["res"]["msg"]
    stats = next(e for e in events if e["event"] == "playbook_on_stats")["event_data"]
    assert stats["failures"] == {} and stats["dark"] == {}
    # The host is converged already: the run through the runner changes nothing either.
    assert stats["changed"] == {}, stats["changed"]
    assert "PLAY RECAP" in (artifacts / "stdout").read_text()
