"""Shared by the scenarios' testinfra tests (pytest loads conftest.py from the test files' parent folders)."""

import json
import os
import subprocess

import pytest


@pytest.fixture
def run_site():
    """Run the scenario's converge playbook again with extra variables; returns the finished process."""

    def run(extra_vars, timeout=900):
        env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
        cmd = [
            "ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
            os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"), "-e", json.dumps(extra_vars),
        ]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, check=False)

    return run
