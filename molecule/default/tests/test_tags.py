"""Tags as users expect: on the converged host, each of them runs on its own (the preflights always run, since every
role reads what they record), succeeds, and changes nothing."""

import os
import subprocess

import pytest


@pytest.mark.parametrize("tag", ["preflight", "certificates", "nginx", "configure", "install", "backend", "service", "verify",
                                 "nginx_configure", "backend_service"])
def test_each_tag_runs_on_its_own_and_changes_nothing(tag):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    done = subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook, "--tags", tag],
                          capture_output=True, text=True, timeout=600, check=False, env=env)
    recap = [line for line in done.stdout.splitlines() if line.startswith("pqc-edge-molecule ")]
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert recap and " changed=0 " in recap[-1] and " failed=0 " in recap[-1], recap
