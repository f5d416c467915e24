"""Bad values for every option of every role, derived from the argument specs, each of which the preflight must refuse
naming the option and the value, with nothing on the host changed.

The cases run in one ansible-playbook run against the converged host (bad_input.py): each runs the preflight of the
role that owns the option (a collection-wide pqc_edge_* option: the certificates and nginx preflights, which validate
it as site.yml's first preflight does).
"""

import glob
import json
import pathlib

import yaml

import bad_input
from bad_input import ROOT

WRONG = "not-a-number"

# Derived values that are in fact valid, with the reason; every other derived value must be refused.
VALID = {
    ("nginx_keepalive_timeout", 0): "0 turns keep-alive off",
    ("nginx_hsts_max_age", 0): "0 sends no Strict-Transport-Security header (the default)",
    ("nginx_ssl_session_tickets", 0): "0 sends no TLS 1.3 session tickets (clients then cannot resume)",
    ("pqc_edge_package_cache_valid_time", 0): "0 refreshes the package index on every run",
    ("pqc_edge_build_hosts", ()): "no build is shared: each host compiles its own (the default)",
    ("certificates_renew_days", 0): "0 renews only once a certificate has expired",
    ("certificates_ca_host", ""): "no fleet CA host (the default; certificates_authority=fleet_ca asserts one)",
    ("certificates_fleet_ca_domains", ()): "no fleet CA domains (the default; certificates_authority=fleet_ca asserts some)",
    ("certificates_acme_directory", ""): "no ACME: the classical certificate comes from certificates_authority (the default)",
    ("certificates_acme_contact", ""): "an ACME account without a contact (the default)",
    ("certificates_acme_profile", ""): "orders under the ACME directory's default profile (the default)",
    ("certificates_acme_renew_textfile_dir", ""): "the ACME renewal writes no gauges for node_exporter",
    ("certificates_fleet_ca_revoked", ()): "the fleet CA revokes nothing (the default)",
    ("certificates_fleet_ca_trusted_generations", ()): "no roots trusted beside the signing generation (the default)",
    ("certificates_fleet_ca_crl_url", ""): "no CRL distribution point in the certificates, no list served (the default)",
    ("certificates_subject_alt_names", ()): "no names beyond each site's own (the default)",
    ("liboqs_minimal_build", ()): "every algorithm of liboqs_algs_enabled (the default)",
    ("liboqs_cmake_flags", ()): "no cmake entries beyond pqc.edge's own (the default)",
    ("nginx_source_configure_flags", ()): "only the configure flags pqc.edge always sets",
    ("nginx_upstreams", ()): "no upstreams beyond the backend's (the default)",
    ("nginx_source_archive", ""): "download the pinned URL (the default)",
    ("liboqs_source_archive", ""): "download the pinned URL (the default)",
    ("oqs_provider_source_archive", ""): "download the pinned URL (the default)",
    ("pqc_edge_openssl_source_archive", ""): "download the pinned URL (the default)",
    ("nginx_aws_lc_source_archive", ""): "download the pinned URL (the default)",
    ("oqs_provider_source_sha256", ""): "the default: no digest is pinned for oqs-provider, and its preflight fails "
                                        "when it is built (options: provider-without-pinned-source)",
    # A list given for a string is turned into the string "['a', 'list']" by the argument spec; as a CA's name that
    # is odd but valid.
    ("certificates_ca_common_name", ("a", "list")): "converted to the string \"['a', 'list']\", a valid name",
}
# The same for one field of an element of a list of dicts.
VALID_FIELDS = {
    ("pqc_edge_sites", "http_port", 0): "0: the site has no HTTP server (no redirect)",
    ("pqc_edge_sites", "subject_alt_names", ()): "no names beyond the site's server names (the default)",
    ("pqc_edge_sites", "certificates", ()): "pqc.edge issues the site's certificates (the default)",
    ("pqc_edge_sites", "locations", ()): "the default location: everything to the backend",
    ("pqc_edge_sites", "extra_directives", ()): "no directives of the operator's (the default)",
}
# A well-formed element of each list of dicts, to carry one bad field at a time.
ELEMENTS = {
    "pqc_edge_sites": {"name": "generated", "server_names": ["generated.example"]},
    "nginx_upstreams": {"name": "generated", "servers": ["127.0.0.1:9"]},
}
# What the liboqs and oqs-provider preflights need to pass on this host at all (pinned digests of archives that need
# not exist: the preflight looks for an archive only where one is named).
BASELINE = {"oqs_provider_source_sha256": "a73fda14937f8833d4a4bc8252e884b86f638f7f525c9d1ac52e1938198abf6f"}


def specs():
    for path in sorted(glob.glob(str(ROOT / "roles" / "*" / "meta" / "argument_specs.yml"))):
        role = pathlib.Path(path).parts[-3]
        for name, spec in yaml.safe_load(open(path))["argument_specs"]["main"]["options"].items():
            yield role, name, spec


def bad_values(spec):
    """(value, what it tries) for an option of this spec."""
    kind = spec.get("type", "str")
    if "choices" in spec and kind != "list":
        return [("not-a-choice", "a value outside choices"), ("", "empty")]
    if kind == "int":
        return [(WRONG, "wrong type"), (-1, "negative"), (0, "zero"), (10 ** 9, "out of range")]
    if kind == "float":
        return [(WRONG, "wrong type"), (0, "zero"), (-0.5, "negative"), (1, "one"), (2.5, "out of range")]
    if kind == "bool":
        return [("maybe", "wrong type"), (["x"], "wrong type (list)")]
    if kind == "path":
        return [("relative/path", "relative path"), ("", "empty"), (["a"], "wrong type (list)")]
    if kind == "str":
        return [("", "empty"), (["a", "list"], "wrong type (list)")]
    if kind == "list" and spec.get("elements") == "dict":
        return [("x", "wrong type"), ([], "empty list"), (["x"], "element of the wrong type"),
                ([{}], "element without its required keys")]
    values = [({"a": 1}, "wrong type (dict)"), ([], "empty list"), ([["nested"]], "element of the wrong type")]
    if "choices" in spec:
        values.append((["not-a-choice"], "an element outside choices"))
    return values


def sub_values(name, spec, valid):
    """One bad field at a time in an otherwise valid element of a list of dicts."""
    cases = []
    for field, sub in (spec.get("options") or {}).items():
        for value, what in bad_values(sub):
            element = dict(ELEMENTS[name], **{field: value})
            reason = dict(((n, f, key(list(v) if isinstance(v, tuple) else v)), r)
                          for (n, f, v), r in VALID_FIELDS.items()).get((name, field, key(value)))
            if reason:
                valid.append({"option": "%s[].%s" % (name, field), "value": value, "reason": reason})
                continue
            cases.append(([element], "%s: field %s %s" % (what, field, json.dumps(value)), value))
    return cases


def key(value):
    """A hashable form of a derived value, to look it up in VALID."""
    return json.dumps(value, sort_keys=True)


def cases():
    out, valid = [], []
    valid_by_key = dict(((name, key(list(value) if isinstance(value, tuple) else value)), reason)
                        for (name, value), reason in VALID.items())
    for role, name, spec in specs():
        derived = [(value, what, value) for value, what in bad_values(spec)]
        if spec.get("type") == "list" and spec.get("elements") == "dict" and name in ELEMENTS:
            derived += sub_values(name, spec, valid)
        for value, what, shown in derived:
            reason = valid_by_key.get((name, key(value)))
            if reason:
                valid.append({"option": name, "value": value, "reason": reason})
                continue
            out.append({"id": len(out), "role": role, "option": name, "value": value, "what": what, "shown": shown})
    return out, valid


def names_value(msg, case):
    """Does the message name the option and the value?"""
    shown = case["shown"]
    forms = {json.dumps(shown, sort_keys=True), repr(shown)}
    if isinstance(shown, str) and shown and " " not in shown:
        forms.add(shown)
    if isinstance(shown, (list, dict)):
        forms.add(str(shown))
    return case["option"] in msg and any(form in msg for form in forms)


def test_every_derived_bad_value_fails_in_the_preflight_naming_option_and_value(host, run_playbook, tmp_path):
    all_cases, valid = cases()
    options = {c["option"] for c in all_cases}
    before = host.run("sha256sum /etc/nginx/nginx.conf /etc/nginx/sites-available/* /etc/pqc-edge/tls/*/*").stdout
    records, seconds = bad_input.run(
        [{"id": c["id"], "title": "%s = %s (%s)" % (c["option"], json.dumps(c["value"])[:60], c["what"]),
          "vars": dict(BASELINE, **{c["option"]: c["value"]}), "preflights": bad_input.ROLE_PREFLIGHTS[c["role"]]} for c in all_cases],
        run_playbook, tmp_path, BASELINE, bad_input.ALL_PREFLIGHTS)
    slipped = [c for c in all_cases if not records[c["id"]]["failed"]]
    unnamed = [(c, records[c["id"]]["msg"]) for c in all_cases
               if records[c["id"]]["failed"] and not names_value(records[c["id"]]["msg"], c)]
    print("\n%d bad values of %d options refused in %.0f s; %d derived values are valid:\n%s"
          % (len(all_cases), len(options), seconds, len(valid),
             "\n".join("  %s=%s: %s" % (v["option"], json.dumps(v["value"]), v["reason"]) for v in valid)))
    assert not slipped, "slipped through the preflight:\n" + "\n".join(
        "%s=%s (%s)" % (c["option"], json.dumps(c["value"]), c["what"]) for c in slipped)
    assert not unnamed, "refused without naming option and value:\n" + "\n".join(
        "%s=%s: %s" % (c["option"], json.dumps(c["value"]), msg[:300]) for c, msg in unnamed)
    assert host.run("sha256sum /etc/nginx/nginx.conf /etc/nginx/sites-available/* /etc/pqc-edge/tls/*/*").stdout == before
