"""The README's install commands, run as written from the checkout into a temporary collections path, then a
playbook of the installed collection run from outside the checkout."""

import json
import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def readme_install_commands():
    """The two commands of the README's install block, with their collections path."""
    block = re.search(r"```sh\n(ansible-galaxy collection build[^\n]*)\n(ansible-galaxy collection install[^\n]*)\n", README)
    assert block, "the README has no install block"
    return [line.split("#")[0].split() for line in block.groups()]


def run(argv, cwd, env):
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, "%s\n%s%s" % (" ".join(argv), result.stdout, result.stderr)
    return result


def test_readme_install_commands_install_a_collection_that_runs_from_anywhere(tmp_path):
    build, install = readme_install_commands()
    assert install[-1] == "pqc-edge-0.1.0.tar.gz" and "-p" in install
    collections = tmp_path / "collections"
    # As written, except the collections path (the README's is the user's own) and where the tarball goes.
    install[install.index("-p") + 1] = str(collections)
    env = dict(os.environ)
    run(build + ["--output-path", str(tmp_path)], cwd=ROOT, env=env)
    # In the checkout, whose ansible.cfg points collections_path at the linked checkout itself.
    install[-1] = str(tmp_path / install[-1])
    output = run(install, cwd=ROOT, env=env).stdout
    assert "pqc.edge:0.1.0 was installed successfully" in output, output
    installed = collections / "ansible_collections" / "pqc" / "edge"
    assert (installed / "MANIFEST.json").exists() and not (installed / "molecule").exists()

    # Elsewhere, with no ansible.cfg and only the installed collection: the report playbook over a host that
    # does not answer (SSH to a closed loopback port) still writes its report, with the host as unreachable.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = dict((k, v) for k, v in os.environ.items() if not k.startswith("ANSIBLE_"))
    env.update(ANSIBLE_COLLECTIONS_PATH=str(collections), ANSIBLE_HOST_KEY_CHECKING="false")
    listed = run(["ansible-galaxy", "collection", "list", "pqc.edge"], cwd=elsewhere, env=env).stdout
    assert str(collections) in listed, listed
    extra = {"pqc_edge_hosts": "all", "pqc_edge_report_dir": str(elsewhere / "reports"),
             "ansible_host": "127.0.0.1", "ansible_port": 1, "pqc_edge_probe_ports": {"8443": 1}}
    run(["ansible-playbook", "-i", "edge-unreachable,", "pqc.edge.report", "-e", json.dumps(extra)], cwd=elsewhere, env=env)
    report = json.loads((elsewhere / "reports" / "pqc-report.json").read_text())
    assert [(row["host"], row["verdict"], row["reachable"]) for row in report["hosts"]] == [
        ("edge-unreachable", "unreachable", False)]
