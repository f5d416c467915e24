"""Tags as users expect: on the converged host, each of them runs on its own (the preflights always run, since every
role reads what they record), succeeds, and changes nothing."""

import pytest


@pytest.mark.parametrize("tag", ["preflight", "certificates", "nginx", "configure", "install", "backend", "service", "verify",
                                 "nginx_configure", "backend_service"])
def test_each_tag_runs_on_its_own_and_changes_nothing(tag, run_site):
    done = run_site({}, args=["--tags", tag])
    recap = [line for line in done.stdout.splitlines() if line.startswith("pqc-edge-molecule ")]
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert recap and " changed=0 " in recap[-1] and " failed=0 " in recap[-1], recap
