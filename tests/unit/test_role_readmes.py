"""Each role's README.md is what scripts/role_readmes.py writes from its argument spec: the variables it documents are
the ones the role validates, with the same defaults."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_role_readmes_are_written_from_the_argument_specs():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "role_readmes.py"), "--check"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    for role in (ROOT / "roles").iterdir():
        assert (role / "README.md").exists(), role.name
