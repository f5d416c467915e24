"""Bad input against the converged host in one ansible-playbook run: each case in a block of its own, its values as
block variables, running the preflights a real run would; a rescue records what failed and why. A block that is not
rescued is a value that slipped through. Used by test_bad_input_generated.py and test_options.py."""

import json
import os
import pathlib
import time

import yaml

ROOT = pathlib.Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", pathlib.Path(__file__).resolve().parents[3]))
# The preflights site.yml runs on this scenario's host, in its order (no oqs-provider: the host has OpenSSL 3.5).
SITE_PREFLIGHTS = ("certificates", "backend", "nginx", "traffic_metrics")
# Every role's preflight: the oqs-provider roles' too, which site.yml runs only below OpenSSL 3.5.
ALL_PREFLIGHTS = SITE_PREFLIGHTS + ("liboqs", "oqs_provider")
# Which of them check a variable: its role's, by the prefix of its name; a collection-wide pqc_edge_* one, the
# certificates and nginx preflights (which validate it as site.yml's first preflight does, and read the sites).
ROLE_PREFLIGHTS = {"certificates": ["certificates"], "backend": ["backend"], "nginx": ["nginx"],
                   "traffic_metrics": ["traffic_metrics"], "common": ["certificates", "nginx"], "liboqs": ["liboqs"],
                   "oqs_provider": ["oqs_provider"]}


def preflights_of(variables):
    """The preflights that check these variables, in site.yml's order."""
    roles = set()
    for name in variables:
        role = next((r for r in ROLE_PREFLIGHTS if r != "common" and name.startswith(r + "_")), "common")
        roles.update(ROLE_PREFLIGHTS[role])
    return [r for r in ALL_PREFLIGHTS if r in roles]


def _preflights(roles):
    return [{"name": "Run the preflight of pqc.edge.%s" % role,
             "ansible.builtin.include_role": {"name": "pqc.edge.%s" % role, "tasks_from": "preflight"}}
            for role in roles]


def harness(cases, results_path, baseline_vars, baseline_roles):
    """One play: the baseline (every preflight of baseline_roles with baseline_vars) must pass, then each case:
    {"id", "title", "vars", "preflights"}."""
    record = "{{ __cases + [%s] }}"
    # pqc.edge.common records pqc_edge_sites as a fact when a run first includes it, which outranks the case's vars; a
    # case of pqc_edge_sites sets that fact as such a run would, and the default sites come back after it.
    default_sites = yaml.safe_load((ROOT / "roles" / "common" / "defaults" / "main.yml").read_text())["pqc_edge_sites"]
    tasks = [{"name": "Start the record", "ansible.builtin.set_fact": {"__cases": []}},
             {"name": "Baseline: every preflight passes", "vars": baseline_vars, "block": _preflights(baseline_roles)}]
    for case in cases:
        failed = ("{'id': %d, 'failed': true, 'task': ansible_failed_task.name, 'msg': ((ansible_failed_result.results"
                  " | default([]) | selectattr('failed', 'defined') | selectattr('failed') | map(attribute='msg') | list)"
                  " + [ansible_failed_result.msg | default('')]) | join(' | ')}" % case["id"])
        sites = "pqc_edge_sites" in case["vars"]
        tasks.append({
            "name": "Case %d: %s" % (case["id"], case["title"]),
            "vars": case["vars"],
            "block": ([{"name": "Take the sites as common does",
                        "ansible.builtin.set_fact": {"pqc_edge_sites": case["vars"]["pqc_edge_sites"]}}] if sites else [])
            + _preflights(case["preflights"])
            + [{"name": "Record that the value slipped through",
                "ansible.builtin.set_fact": {"__cases": record % ("{'id': %d, 'failed': false}" % case["id"])}}],
            "rescue": [{"name": "Record the failure", "ansible.builtin.set_fact": {"__cases": record % failed}}],
            "always": [{"name": "Put back the default sites", "ansible.builtin.set_fact": {"pqc_edge_sites": default_sites}}]
            if sites else [],
        })
    tasks.append({"name": "Write the record on the controller", "delegate_to": "localhost", "become": False,
                  "changed_when": False,
                  "ansible.builtin.copy": {"content": "{{ __cases | to_json }}", "dest": str(results_path), "mode": "0644"}})
    return [{"name": "Bad input against the preflights", "hosts": "all", "gather_facts": True, "tasks": tasks}]


def run(cases, run_playbook, tmp_path, baseline_vars=None, baseline_roles=SITE_PREFLIGHTS):
    """Run the cases; returns ({id: record}, seconds). The run itself must succeed and change nothing."""
    playbook = tmp_path / "bad_input.yml"
    results = tmp_path / "results.json"
    playbook.write_text(yaml.safe_dump(harness(cases, results, baseline_vars or {}, baseline_roles),
                                       sort_keys=False, width=1000))
    started = time.monotonic()
    result = run_playbook(str(playbook), {}, timeout=1800)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    recap = [line for line in result.stdout.splitlines() if " ok=" in line and " changed=" in line]
    assert recap and all(" changed=0 " in line for line in recap), recap
    return dict((r["id"], r) for r in json.loads(results.read_text())), seconds
