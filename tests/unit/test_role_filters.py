"""The certificates role's filters, the preflight's messages and the report's fleet sums."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter import certificates, inputs, report

SITES = [{"name": "default", "server_names": ["edge.example.org", "192.0.2.7"], "subject_alt_names": ["DNS:alias.example.org"]},
         {"name": "api", "server_names": ["api.example.org"], "http_port": 0}]


def test_each_site_gets_a_certificate_per_algorithm_with_its_names_once():
    issued = certificates.issued_certificates(SITES, ["mldsa44", "ecdsa"], "/etc/pqc-edge/tls", ["DNS:edge.example.org"], "ecdsa")
    assert [(c["site"], c["algorithm"], c["acme"]) for c in issued] == [
        ("default", "mldsa44", False), ("default", "ecdsa", True), ("api", "mldsa44", False), ("api", "ecdsa", True)]
    assert issued[0]["certificate"] == "/etc/pqc-edge/tls/default/mldsa44.crt"
    assert issued[0]["private_key"] == "/etc/pqc-edge/tls/default/mldsa44.key"
    assert issued[0]["common_name"] == "edge.example.org"
    assert issued[0]["subject_alt_names"] == ["DNS:edge.example.org", "IP:192.0.2.7", "DNS:alias.example.org"]
    assert not any(c["acme"] for c in certificates.issued_certificates(SITES, ["ecdsa"], "/tls"))


def test_provided_and_issued_certificates_are_grouped_by_site():
    provided = certificates.provided_certificates([{"name": "own", "certificates": [
        {"algorithm": "rsa", "certificate": "/o.crt", "private_key": "/o.key"}]}])
    assert provided == [{"algorithm": "rsa", "certificate": "/o.crt", "private_key": "/o.key", "site": "own"}]
    issued = certificates.issued_certificates(SITES[:1], ["ecdsa"], "/tls")
    assert certificates.certificates_by_site(issued + provided) == {
        "default": [{"algorithm": "ecdsa", "certificate": "/tls/default/ecdsa.crt", "private_key": "/tls/default/ecdsa.key"}],
        "own": [{"algorithm": "rsa", "certificate": "/o.crt", "private_key": "/o.key"}]}


def test_a_malformed_site_is_left_for_the_preflight_to_name():
    """A site whose name is a list, or without server names, makes no filter fail: the nginx preflight names it."""
    issued = certificates.issued_certificates([{"name": ["a", "list"]}], ["ecdsa"], "/tls")
    assert issued[0]["common_name"] is None and issued[0]["certificate"] == "/tls/['a', 'list']/ecdsa.crt"
    assert list(certificates.certificates_by_site(issued)) == ["['a', 'list']"]


def test_sites_without_plain_http_cannot_answer_http_01():
    assert certificates.sites_without_http(SITES, 8080) == ["api"]
    assert certificates.sites_without_http(SITES, "0") == ["default", "api"]


@pytest.mark.parametrize("name, outside", [
    ("DNS:edge.example.org", False), ("DNS:example.org", False), ("DNS:*.example.org", False),
    ("DNS:EDGE.Example.ORG", False), ("DNS:badexample.org", True), ("DNS:example.org.evil.test", True),
    ("IP:192.0.2.7", False), ("IP:192.0.2.8", True), ("DNS:pqc-edge-ca-edge-1", False),
])
def test_a_name_is_inside_a_domain_when_it_is_the_domain_or_below_it(name, outside):
    domains = [".example.org", "IP:192.0.2.7", "pqc-edge-ca-edge-1"]
    assert certificates.names_outside([name], domains) == ([name] if outside else [])
    assert certificates.names_outside([name], []) == []


def test_root_pems_are_empty_where_the_ca_host_has_none_yet():
    roots = [{"name": "mldsa65"}, {"name": "ecdsa"}]
    assert certificates.root_pems(roots, {"/ca/mldsa65-root.crt": "PEM", "/ca/ecdsa-root.crt": None}, "/ca") == {
        "mldsa65": "PEM", "ecdsa": ""}


def test_broken_rules_name_each_bad_option_with_its_value_and_rule():
    rules = [{"option": "a", "ok": True, "rule": "fine"}, {"option": "b", "ok": False, "rule": "a port"},
             {"option": "c", "ok": "False", "rule": "a path"}]
    broken = inputs.broken_rules(rules)
    assert [rule["option"] for rule in broken] == ["b", "c"]
    assert inputs.given(["b", "c"], [70000, "x y"], ["a port", "a path"]) == ['b=70000: a port', 'c="x y": a path']
    assert inputs.given(["d"], [""]) == ['d=""']
    with pytest.raises(ValueError):
        inputs.given(["b"], [])


@pytest.mark.parametrize("rule, good, bad", [
    ({"match": r"^/[^\s]*[^/\s]$"}, ["/opt/pqc-edge", "/a"], ["opt", "/", "/a b", ["/a"], {"a": 1}]),
    ({"match": "^[0-9a-f]{64}$", "also_allowed": [""]}, ["", "a" * 64], ["A" * 64, "a" * 63, None]),
    ({"match": "^[a-z_][a-z0-9_-]{0,31}$", "refused": ["root"]}, ["www-data", "pqc"], ["root", "Root", ""]),
    ({"range": [1, 1024], "match": "^[0-9]+$", "also_allowed": ["auto"]}, ["auto", 4, "1024"], [0, 1025, "4x", 4.5, "many"]),
    ({"range": [0, 86400]}, [0, "30", 86400], [-1, 86401, "90000"]),
    ({"one_of": [2048, 3072]}, [2048, "3072"], [1024, "big"]),
    ({"each_match": r"^--[a-z0-9_-]+(=[^\s]+)?$"}, [[], ["--with-x", "--a=b"]], [["--a b"], "--with-x", [1], None]),
    ({"each_match": "^[A-Z0-9_-]+$", "not_empty": True}, [["ECDHE-ECDSA-AES128-GCM-SHA256"]], [[], ["lower"]]),
    ({"each_range": [1, 999]}, [[], [1, 999], [2]], [[0], [1000], ["2"], [True], [1.5], 2, None]),
])
def test_rules_given_as_data_check_the_settings_value(rule, good, bad):
    rule = dict(rule, option="x", rule="words")
    assert [value for value in good if inputs.broken_rules([rule], {"x": value})] == []
    assert [value for value in bad if not inputs.broken_rules([rule], {"x": value})] == []


def test_a_rule_that_says_nothing_it_can_check_is_an_error():
    with pytest.raises(AnsibleFilterError):
        inputs.broken_rules([{"option": "x", "rule": "words"}], {"x": 1})


def test_the_options_an_error_names_are_found_as_whole_words():
    errors = ["nginx_http_port: value must be an int", "elements of nginx_groups are wrong"]
    assert inputs.named_in(["nginx_http", "nginx_http_port", "nginx_groups", "nginx_https_port"], errors) == [
        "nginx_http_port", "nginx_groups"]


def test_fleet_traffic_sums_the_hosts_that_counted_and_shares_the_sums():
    rows = [{"tls_requests": 10, "tls_connections": 4, "quantum_safe_requests": 5, "quantum_safe_connections": 1},
            None, {"tls_requests": 20, "tls_connections": 0, "quantum_safe_requests": 10, "quantum_safe_connections": 0}]
    fleet = report.fleet_traffic(rows)
    assert fleet["hosts"] == 2 and fleet["tls_requests"] == 30 and fleet["unparsed_lines"] == 0
    assert fleet["quantum_safe_request_share"] == 0.5 and fleet["quantum_safe_connection_share"] == 0.25
    assert report.fleet_traffic([None])["quantum_safe_request_share"] is None


def test_ari_due_takes_only_what_a_directory_with_renewal_information_says_to_renew_now():
    from ansible_collections.pqc.edge.plugins.filter.certificates import ari_due
    results = [
        {"item": {"certificate": "/tls/a/ecdsa.crt"}, "supports_ari": True, "should_renew": True},
        {"item": {"certificate": "/tls/b/ecdsa.crt"}, "supports_ari": True, "should_renew": False},
        {"item": {"certificate": "/tls/c/ecdsa.crt"}, "supports_ari": False, "should_renew": True},
        {"item": {"certificate": "/tls/d/ecdsa.crt"}, "failed": True, "msg": "unknown CertID"},
        {"item": {"certificate": "/tls/e/ecdsa.crt"}, "skipped": True},
        {"item": {"certificate": None}, "supports_ari": True, "should_renew": True},
        "junk",
    ]
    assert ari_due(results) == ["/tls/a/ecdsa.crt"]
    assert ari_due(None) == [] and ari_due([]) == []


def test_certificate_entries_are_the_issued_certificates_as_the_module_takes_them():
    issued = certificates.issued_certificates([{"name": "app", "server_names": ["app.example"]}], ["mldsa44", "ecdsa"], "/tls")
    assert certificates.certificate_entries(issued) == [
        {"private_key_path": "/tls/app/mldsa44.key", "certificate_path": "/tls/app/mldsa44.crt", "key_algorithm": "mldsa44",
         "common_name": "app.example", "subject_alt_names": ["DNS:app.example"]},
        {"private_key_path": "/tls/app/ecdsa.key", "certificate_path": "/tls/app/ecdsa.crt", "key_algorithm": "ecdsa",
         "common_name": "app.example", "subject_alt_names": ["DNS:app.example"]}]
    signed = certificates.certificate_entries(issued, "/etc/pqc-edge/ca")
    assert [(e["ca_certificate_path"], e["ca_private_key_path"]) for e in signed] == [
        ("/etc/pqc-edge/ca/mldsa44-ca.crt", "/etc/pqc-edge/ca/mldsa44-ca.key"),
        ("/etc/pqc-edge/ca/ecdsa-ca.crt", "/etc/pqc-edge/ca/ecdsa-ca.key")]
    assert certificates.certificate_entries([]) == [] and certificates.certificate_entries(None) == []


def test_fleet_root_files_are_each_root_and_all_of_them_in_one_file():
    pems = {"mldsa65": "-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n", "ecdsa": "",
            "ecdsa-g2": "-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----"}
    files = certificates.fleet_root_files(pems, "/tls/fleet-ca")
    assert [f["path"] for f in files] == ["/tls/fleet-ca/mldsa65-root.crt", "/tls/fleet-ca/ecdsa-g2-root.crt",
                                          "/tls/fleet-ca/roots.pem"]
    assert files[0]["content"] == pems["mldsa65"] and files[1]["content"] == pems["ecdsa-g2"]
    assert files[2]["content"] == ("-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n"
                                   "-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----\n")
    assert all((f["owner"], f["group"], f["mode"]) == ("root", "root", "0644") for f in files)
    assert certificates.fleet_root_files({"mldsa65": ""}, "/d") == [] and certificates.fleet_root_files(None, "/d") == []


def test_fleet_controller_files_are_the_roots_and_the_lists_that_were_read():
    pems = {"mldsa65": "ROOT A\n", "ecdsa": ""}
    results = [{"ca": {"name": "mldsa65-root"}, "crl": "LIST A\n"}, {"ca": {"name": "ecdsa-root"}, "skipped": True}]
    assert certificates.fleet_controller_files(pems, results, "/ctl/fleet-ca") == [
        {"path": "/ctl/fleet-ca/mldsa65-root.crt", "content": "ROOT A\n", "mode": "0644"},
        {"path": "/ctl/fleet-ca/mldsa65-root.crl.pem", "content": "LIST A\n", "mode": "0644"}]
    assert certificates.fleet_controller_files({}, None, "/d") == []


def test_client_certificate_files_are_the_hosts_client_certificates_by_kind():
    issued = certificates.issued_certificates([{"name": "client", "server_names": ["edge1"]}], ["mldsa44", "ecdsa"],
                                              "/etc/pqc-edge", [], None, "client")
    server = certificates.issued_certificates([{"name": "default", "server_names": ["edge1"]}], ["mldsa44"], "/tls")
    assert certificates.client_certificate_files(server + issued, "mldsa44") == {
        "pq": {"algorithm": "mldsa44", "certificate": "/etc/pqc-edge/client/mldsa44.crt",
               "private_key": "/etc/pqc-edge/client/mldsa44.key"},
        "classical": {"algorithm": "ecdsa", "certificate": "/etc/pqc-edge/client/ecdsa.crt",
                      "private_key": "/etc/pqc-edge/client/ecdsa.key"}}
    assert certificates.client_certificate_files(server, "mldsa44") == {}


FLEET = {"common_name": "Example CA", "pq_algorithm": "mldsa65", "classical_algorithm": "ecdsa",
         "generation": 1, "trusted_generations": []}


def test_a_fleet_without_rollover_keeps_the_names_its_roots_always_had():
    fleet = certificates.fleet_roots(FLEET)
    assert [(r["name"], r["kind"], r["generation"], r["signs"], r["common_name"], r["intermediate_common_name"])
            for r in fleet["kept"]] == [
        ("mldsa65", "pq", 1, True, "Example CA (ML-DSA root)", "Example CA (ML-DSA intermediate)"),
        ("ecdsa", "classical", 1, True, "Example CA (ECDSA root)", "Example CA (ECDSA intermediate)")]
    assert fleet["root_of"] == {"mldsa44": "mldsa65", "mldsa65": "mldsa65", "mldsa87": "mldsa65", "rsa": "ecdsa", "ecdsa": "ecdsa"}
    assert fleet["root_files"] == {"pq": "mldsa65-root.crt", "classical": "ecdsa-root.crt"}
    assert fleet["withdrawn"] == []


def test_a_rollover_trusts_the_next_roots_then_lets_them_sign_then_withdraws_the_old_ones():
    # 1: the next generation is made and trusted; the old one still signs.
    fleet = certificates.fleet_roots(dict(FLEET, trusted_generations=[2]))
    assert [(r["name"], r["signs"]) for r in fleet["kept"]] == [
        ("mldsa65", True), ("ecdsa", True), ("mldsa65-g2", False), ("ecdsa-g2", False)]
    assert fleet["kept"][2]["common_name"] == "Example CA (ML-DSA root, generation 2)"
    assert fleet["kept"][3]["intermediate_common_name"] == "Example CA (ECDSA intermediate, generation 2)"
    assert fleet["root_of"]["mldsa44"] == "mldsa65" and fleet["withdrawn"] == []
    # 2: the new one signs, the old one is still trusted.
    fleet = certificates.fleet_roots(dict(FLEET, generation=2, trusted_generations=[1]))
    assert [(r["name"], r["signs"]) for r in fleet["kept"]] == [
        ("mldsa65", False), ("ecdsa", False), ("mldsa65-g2", True), ("ecdsa-g2", True)]
    assert fleet["root_of"]["mldsa44"] == "mldsa65-g2" and fleet["root_of"]["rsa"] == "ecdsa-g2"
    assert fleet["root_files"] == {"pq": "mldsa65-g2-root.crt", "classical": "ecdsa-g2-root.crt"}
    assert fleet["withdrawn"] == []
    # 3: the old one is withdrawn, and so is every generation before it (a skipped one is gone as well).
    fleet = certificates.fleet_roots(dict(FLEET, generation="3", trusted_generations=[]))
    assert [r["name"] for r in fleet["kept"]] == ["mldsa65-g3", "ecdsa-g3"]
    assert fleet["withdrawn"] == ["mldsa65", "ecdsa", "mldsa65-g2", "ecdsa-g2"]


def test_with_acme_only_the_ml_dsa_roots_roll():
    fleet = certificates.fleet_roots(dict(FLEET, classical_algorithm=None, generation=2))
    assert [r["name"] for r in fleet["kept"]] == ["mldsa65-g2"]
    assert fleet["root_files"] == {"pq": "mldsa65-g2-root.crt", "classical": None}
    assert "ecdsa" not in fleet["root_of"] and fleet["withdrawn"] == ["mldsa65"]


@pytest.mark.parametrize("generation, trusted, shown", [
    ("two", [], "certificates_fleet_ca_generation=two and certificates_fleet_ca_trusted_generations=[]"),
    (0, [], "certificates_fleet_ca_generation=0 and"), (1000, [], "=1000 and"), (True, [], "=true and"),
    (2, [1, "1.5"], 'certificates_fleet_ca_trusted_generations=[1, "1.5"]'), (2, "1", "certificates_fleet_ca_trusted_generations=1:"),
])
def test_a_generation_the_ca_host_gives_that_is_none_is_named_with_its_value(generation, trusted, shown):
    with pytest.raises(AnsibleFilterError) as error:
        certificates.fleet_roots(dict(FLEET, generation=generation, trusted_generations=trusted))
    assert shown in str(error.value) and "each must be a generation from 1 to 999" in str(error.value)


def test_generations_given_as_text_in_an_ini_inventory_are_read_as_numbers():
    fleet = certificates.fleet_roots(dict(FLEET, generation="2", trusted_generations=["1"]))
    assert [r["name"] for r in fleet["kept"]] == ["mldsa65", "ecdsa", "mldsa65-g2", "ecdsa-g2"]


def test_a_withdrawn_root_leaves_no_copy_on_an_edge_its_trust_store_or_the_controller():
    assert certificates.withdrawn_root_files(["mldsa65"], "/tls/fleet-ca", ".crl.der", "/usr/local/share/ca-certificates") == [
        "/tls/fleet-ca/mldsa65-root.crt", "/tls/fleet-ca/mldsa65-root.crl.der", "/tls/fleet-ca/mldsa65-intermediate.crl.der",
        "/usr/local/share/ca-certificates/pqc-edge-fleet-mldsa65-root.crt"]
    assert certificates.withdrawn_root_files(["ecdsa"], "/ctl", ".crl.pem") == [
        "/ctl/ecdsa-root.crt", "/ctl/ecdsa-root.crl.pem", "/ctl/ecdsa-intermediate.crl.pem"]
    assert certificates.withdrawn_root_files([], "/ctl", ".crl.pem", "/trust") == []


CAS = certificates.fleet_cas([{"name": "mldsa65"}, {"name": "ecdsa"}], "/etc/pqc-edge/ca")


def test_each_root_comes_with_its_intermediate_on_the_ca_host():
    assert [(ca["name"], ca["root"], ca["certificate"], ca["private_key"]) for ca in CAS[:2]] == [
        ("mldsa65-root", "mldsa65", "/etc/pqc-edge/ca/mldsa65-root.crt", "/etc/pqc-edge/ca/mldsa65-root.key"),
        ("mldsa65-intermediate", "mldsa65", "/etc/pqc-edge/ca/mldsa65-intermediate.crt", "/etc/pqc-edge/ca/mldsa65-intermediate.key")]
    assert [ca["name"] for ca in CAS] == ["mldsa65-root", "mldsa65-intermediate", "ecdsa-root", "ecdsa-intermediate"]


def test_each_cas_list_is_published_under_the_url_and_served_from_its_der_copy():
    urls = certificates.crl_urls(CAS, "http://crl.example.org/pqc-edge/")
    assert urls["mldsa65-intermediate"] == "http://crl.example.org/pqc-edge/mldsa65-intermediate.crl" and len(urls) == 4
    locations = certificates.crl_locations(CAS, "http://crl.example.org:8080/pqc-edge", "/etc/pqc-edge/tls/fleet-ca")
    assert locations["/pqc-edge/ecdsa-root.crl"] == "/etc/pqc-edge/tls/fleet-ca/ecdsa-root.crl.der" and len(locations) == 4
    assert set(certificates.crl_urls(CAS, "").values()) == {""}
    assert certificates.crl_locations(CAS, "", "/d") == {}


def test_the_lists_become_one_pem_file_and_a_der_file_per_ca_skipped_cas_left_out():
    results = [{"ca": {"name": "mldsa65-root"}, "crl": "-----BEGIN X509 CRL-----\nAA\n-----END X509 CRL-----\n", "crl_der_base64": "AAE="},
               {"ca": {"name": "mldsa65-intermediate"}, "skipped": True}]
    files = certificates.crl_files(results, "/d")
    assert [(f["path"], f["content"], f.get("encoding")) for f in files] == [
        ("/d/crls.pem", "-----BEGIN X509 CRL-----\nAA\n-----END X509 CRL-----\n", None), ("/d/mldsa65-root.crl.der", "AAE=", "base64")]
    assert {(f["owner"], f["group"], f["mode"]) for f in files} == {("root", "root", "0644")}
    assert certificates.crl_files([{"ca": {"name": "x"}, "skipped": True}], "/d") == [] and certificates.crl_files(None, "/d") == []


GOOD_CERTIFICATE_SETTINGS = {
    "host": "edge1", "openssl_version": "3.5.4", "subject_alt_names": ["DNS:edge.example", "IP:192.0.2.7", "DNS:*.example"],
    "configured_alt_names": [], "renew_days": 30, "valid_days": 90, "ca_valid_days": 3650,
    "profile_name": "web", "algorithms": ["ML-DSA-44", "ECDSA"], "classical_algorithm": "ECDSA",
    "pq_algorithm": "ML-DSA-44", "pq_in_tls": True, "require_pq_signature": False, "client": False,
    "authority": "self_signed", "acme": False}
FLEET_CA = {"authority": "fleet_ca", "ca_host": "ca1", "ca_host_known": True, "fleet_domains": ["example"],
            "fleet_max_valid_days": 90, "fleet_names_outside": []}


def certificate_problems(**changes):
    return certificates.certificates_settings_problems(dict(GOOD_CERTIFICATE_SETTINGS, **changes))


def test_sound_certificate_settings_have_no_problem():
    assert certificate_problems() == []
    assert certificate_problems(renew_days=None, client=True, **FLEET_CA) == []
    # Numbers given on the command line (-e certificates_renew_days=30) arrive as strings.
    assert certificate_problems(renew_days="30", valid_days="90") == []
    assert certificate_problems(renew_days="90", valid_days="90") != []
    assert certificate_problems(acme=True, acme_directory="https://acme.example/dir", acme_terms_agreed=True,
                                acme_bad_names=[]) == []


@pytest.mark.parametrize("changes, problem", [
    ({"subject_alt_names": ["DNS:edge.example", "edge.example", "edge.example"], "configured_alt_names": ["edge.example"]},
     "certificates_subject_alt_names=[\"edge.example\"] or a site of pqc_edge_sites: invalid entry edge.example; "
     "expected DNS:<host name> or IP:<address>"),
    ({"renew_days": 90}, "certificates_renew_days=90 must be at least 0 and below certificates_valid_days (90) and "
                         "certificates_ca_valid_days (3650)."),
    ({"algorithms": [], "pq_in_tls": False, "openssl_version": "3.0.17", "profile_name": "cnsa2"},
     "pqc_edge_profile=cnsa2 serves no classical certificate, and OpenSSL 3.0.17 on edge1 cannot use ML-DSA-44 "
     "certificates in TLS."),
    ({"classical_algorithm": "none", "acme": True, "acme_directory": "https://a.example/", "acme_terms_agreed": True},
     "pqc_edge_profile=web serves no classical certificate, so certificates_acme_directory (which issues classical ones) "
     "cannot be used."),
    ({"client": True}, "certificates_authority=self_signed."),
    ({"require_pq_signature": True, "pq_in_tls": False, "algorithms": ["ECDSA"]},
     "certificates_require_pq_signature=true, but OpenSSL 3.5.4 on edge1 cannot use ML-DSA-44 certificates in TLS"),
    (dict(FLEET_CA, ca_host="ca9", ca_host_known=False), "certificates_ca_host=ca9 is not one."),
    (dict(FLEET_CA, fleet_domains=[]), "edge1: the fleet CA on ca1 needs certificates_fleet_ca_domains"),
    (dict(FLEET_CA, fleet_max_valid_days=30), "certificates_fleet_ca_max_valid_days=30 days, certificates_valid_days=90."),
    (dict(FLEET_CA, fleet_names_outside=["edge.other"]), "outside them: edge.other (from pqc_edge_sites"),
    ({"acme": True, "acme_directory": "http://acme.example", "acme_terms_agreed": False, "acme_bad_names": ["IP:192.0.2.7"]},
     "certificates_acme_directory=http://acme.example: set certificates_acme_terms_agreed=true to agree to its terms of "
     "service; it must be an https:// URL; an ACME CA cannot validate IP:192.0.2.7 over HTTP-01"),
])
def test_each_broken_certificate_setting_is_named_with_its_value(changes, problem):
    problems = certificate_problems(**changes)
    assert len(problems) == 1, problems
    assert problem in problems[0]
