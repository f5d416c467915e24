"""Shared by the scenarios' testinfra tests (pytest loads conftest.py from the test files' parent folders)."""

import json
import os
import subprocess

import pytest


def _playbook(playbook, extra_vars, timeout, args=()):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    cmd = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], playbook, "-e", json.dumps(extra_vars)] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)


@pytest.fixture
def run_site():
    """Run the scenario's converge playbook again with extra variables; returns the finished process."""

    def run(extra_vars, timeout=900, args=()):
        return _playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"), extra_vars, timeout, args)

    return run


@pytest.fixture
def run_playbook():
    """Run one of the collection's playbooks (pqc.edge.report, ...) against the scenario's hosts."""

    def run(playbook, extra_vars, timeout=300):
        return _playbook(playbook, extra_vars, timeout)

    return run
