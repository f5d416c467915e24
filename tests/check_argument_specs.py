"""Fail when a role's meta/argument_specs.yml options differ from its defaults/main.yml.

The spec is each role's documented interface: every default must be documented there, with the
same default value, and every documented option must have a default.
"""

import pathlib
import sys

import yaml


def check_role(role):
    defaults_file = role / "defaults" / "main.yml"
    spec_file = role / "meta" / "argument_specs.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) or {} if defaults_file.exists() else {}
    if not spec_file.exists():
        return ["%s: no meta/argument_specs.yml" % role.name]
    options = (yaml.safe_load(spec_file.read_text())["argument_specs"]["main"].get("options")) or {}
    problems = []
    for name in sorted(set(defaults) - set(options)):
        problems.append("%s: default %s is not in argument_specs" % (role.name, name))
    for name in sorted(set(options) - set(defaults)):
        problems.append("%s: argument_specs option %s has no default in defaults/main.yml" % (role.name, name))
    for name in sorted(set(options) & set(defaults)):
        if options[name].get("default") != defaults[name]:
            problems.append(
                "%s: %s defaults to %r in defaults/main.yml but %r in argument_specs"
                % (role.name, name, defaults[name], options[name].get("default"))
            )
    return problems


def main(roles_dir):
    roles = sorted(p for p in pathlib.Path(roles_dir).iterdir() if p.is_dir())
    problems = [problem for role in roles for problem in check_role(role)]
    for problem in problems:
        print(problem)
    print("argument specs: %d roles checked, %d differences" % (len(roles), len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "roles"))
