"""Tags as users expect: on the converged host, each of them runs on its own (the preflights always run, since every
role reads what they record), runs the steps it names, succeeds, and changes nothing."""

import pytest


# A step of each tag's own (a task header is printed whether the task runs or is skipped by its condition): a tag whose
# tasks were all filtered out would change nothing too.
STEP = {
    "preflight": "pqc.edge.nginx : Assert that the nginx settings are sound",
    "certificates": "pqc.edge.certificates : Keep a key and certificate per site and algorithm",
    "nginx": "pqc.edge.nginx : Put the configuration in force",
    "configure": "pqc.edge.nginx : Put the configuration in force",
    # The backend's writes and its units are each one include that a converged host skips.
    "install": "pqc.edge.backend : Write what the host lacks of the user, the application, the wheels and the virtualenv",
    "backend": "pqc.edge.backend : Run the backend under systemd",
    "service": "pqc.edge.backend : Run the backend under systemd",
    "verify": "Assert that modern clients get a hybrid group and classical clients are still served",
    "nginx_configure": "pqc.edge.nginx : Put the configuration in force",
    "backend_service": "pqc.edge.backend : Run the backend under systemd",
}


@pytest.mark.parametrize("tag", sorted(STEP))
def test_each_tag_runs_its_steps_on_its_own_and_changes_nothing(tag, run_site):
    done = run_site({}, args=["--tags", tag])
    recap = [line for line in done.stdout.splitlines() if line.startswith("pqc-edge-molecule ")]
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert recap and " changed=0 " in recap[-1] and " failed=0 " in recap[-1], recap
    assert "TASK [%s]" % STEP[tag] in done.stdout, "--tags %s did not run %r" % (tag, STEP[tag])
