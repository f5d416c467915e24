"""Write each role's README.md from its meta/argument_specs.yml (what it does, its variables, an example), so that
the README and the interface the role validates cannot differ. `--check` fails where a README is not what this
script writes (make unit runs it through tests/unit/test_role_readmes.py).
    python scripts/role_readmes.py [--check]
"""

import json
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]

# A short example of each role in a play; the variables are some of the role's own.
EXAMPLES = {
    "backend": {"backend_workers": 2},
    "certificates": {"certificates_classical_algorithm": "rsa", "certificates_valid_days": 90,
                     "certificates_renew_fraction": 0.33},
    "liboqs": {"liboqs_source_archive": "/srv/archives/liboqs-0.15.0.tar.gz"},
    "nginx": {"nginx_group_policy": "enforce", "nginx_groups": ["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "secp256r1"]},
    "oqs_provider": {"oqs_provider_source_sha256": "<the sha256 of the oqs-provider archive you verified>"},
    "traffic_metrics": {"traffic_metrics_interval": "1min"},
}
PRIVATE = {"common": "pqc.edge.nginx"}


def markup(text):
    """Ansible's documentation markup as Markdown."""
    text = re.sub(r"\b[CMOVPREU]\(([^)]*)\)", lambda m: "`%s`" % m.group(1).split("#")[0], text)
    return re.sub(r"\bI\(([^)]*)\)", r"*\1*", text)


def paragraphs(value):
    return [markup(p) for p in (value if isinstance(value, list) else [value] if value else [])]


def default_text(option):
    if "default" not in option:
        return "required" if option.get("required") else "-"
    return "`%s`" % json.dumps(option["default"])


def cell(text):
    return text.replace("|", "\\|").replace("\n", " ")


def variables(options):
    rows = ["| variable | default | description |", "|---|---|---|"]
    for name, option in sorted(options.items()):
        choices = " One of %s." % ", ".join("`%s`" % c for c in option["choices"]) if option.get("choices") else ""
        rows.append("| `%s` | %s | %s |" % (name, cell(default_text(option)), cell(" ".join(paragraphs(option.get("description"))) + choices)))
    return rows


def readme(role):
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    main = specs["main"]
    name = "pqc.edge." + role.name
    lines = ["# %s" % name, "", markup(main["short_description"]), ""]
    for paragraph in paragraphs(main.get("description")):
        lines += [paragraph, ""]
    lines += ["## Variables", "", "Validated against `meta/argument_specs.yml` before the role changes anything.", ""]
    lines += variables(main.get("options") or {}) + [""]
    others = [(entry, spec) for entry, spec in specs.items() if entry != "main"]
    if others:
        lines += ["## Entry points", ""]
        for entry, spec in others:
            lines += ["### `%s`" % entry, "", markup(spec["short_description"]), ""]
            for paragraph in paragraphs(spec.get("description")):
                lines += [paragraph, ""]
            lines += variables(spec.get("options") or {}) + [""]
    lines += ["## Example", ""]
    if role.name in PRIVATE:
        lines += ["Private: the other roles include it (for example %s); it is not meant to be used on its own." % PRIVATE[role.name], ""]
    else:
        play = [{"name": "Post-quantum TLS edges", "hosts": "pqc_edge", "become": True,
                 "roles": [dict({"role": name}, **EXAMPLES.get(role.name, {}))]}]
        lines += ["```yaml", "---", yaml.safe_dump(play, sort_keys=False, width=120).rstrip(), "```", ""]
    lines += ["Written by `scripts/role_readmes.py` from the argument spec; the collection's README says how the roles",
              "work together."]
    return "\n".join(lines) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for role in sorted(p for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").exists()):
        text = readme(role)
        path = role / "README.md"
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text)
    if stale:
        sys.exit("not as scripts/role_readmes.py writes them (run it): " + ", ".join(stale))


if __name__ == "__main__":
    main()
