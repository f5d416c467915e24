"""The nginx role's filters: sites filled in, their files and links, claims that clash, reuseport per QUIC port."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.pqc.edge.plugins.filter import nginx
from ansible_collections.pqc.edge.plugins.module_utils._seal import is_sealed

SITES = [
    {"name": "default", "server_names": ["edge.example"], "default_server": True},
    {"name": "api", "server_names": ["api.example"], "https_port": "9443", "http_port": 0,
     "certificates": [{"algorithm": "ecdsa", "certificate": "/c.crt", "private_key": "/c.key"}]},
    {"name": "alt", "server_names": ["alt.example", "edge.example"], "https_port": None},
]


def filled():
    return nginx.nginx_sites(SITES, 8443, "8080")


def test_sites_get_every_key_with_ports_as_numbers():
    default, api, alt = filled()
    assert (default["https_port"], default["http_port"], default["default_server"]) == (8443, 8080, True)
    assert (api["https_port"], api["http_port"], api["default_server"]) == (9443, 0, False)
    assert alt["https_port"] == 8443 and alt["certificates"] == [] and alt["extra_directives"] == []
    assert alt["locations"] == [{"path": "/", "proxy": "backend", "upstream_tls": None}]
    assert api["certificates"][0]["certificate"] == "/c.crt"
    with pytest.raises(AnsibleFilterError):
        nginx.nginx_sites([{"server_names": []}], 8443, 8080)


def test_a_site_serves_its_own_certificates_or_the_issued_ones():
    issued = {"default": [{"certificate": "/issued.crt"}]}
    assert nginx.site_certificates(filled(), issued) == {
        "default": [{"certificate": "/issued.crt"}], "api": filled()[1]["certificates"], "alt": []}


def test_files_links_and_ports():
    files = nginx.site_files(filled(), "/etc/nginx", "pqc-edge-")
    assert files[1] == {"name": "pqc-edge-api.conf", "available": "/etc/nginx/sites-available/pqc-edge-api.conf",
                        "link": {"path": "/etc/nginx/sites-enabled/pqc-edge-api.conf",
                                 "target": "../sites-available/pqc-edge-api.conf"}}
    assert nginx.site_ports(filled()) == [8080, 8443, 9443]
    written = nginx.config_files(files, "/etc/nginx/nginx.conf", "events {}", ["a", "b", "c"])
    assert [entry["path"] for entry in written] == ["/etc/nginx/nginx.conf"] + [f["available"] for f in files]
    assert all(is_sealed(entry["content"]) for entry in written)
    with pytest.raises(AnsibleFilterError):
        nginx.config_files(files, "/etc/nginx/nginx.conf", "events {}", ["a"])


def test_a_name_or_default_claimed_twice_on_a_port_is_a_conflict():
    assert nginx.claim_conflicts(filled()) == ["edge.example on port 8443"]
    two_defaults = filled() + nginx.nginx_sites([{"name": "x", "server_names": [], "default_server": True}], 8443, 8080)
    assert nginx.claim_conflicts(two_defaults) == ["edge.example on port 8443", "default_server on port 8443"]
    assert nginx.claim_conflicts(filled()[:2]) == []


def test_only_the_operators_default_servers_on_a_sites_default_port_clash():
    servers = [
        {"file": "/etc/nginx/sites-enabled/default", "line": 22, "server_names": ["_"], "managed": False,
         "listen": [{"port": 8080, "default_server": True}]},
        {"file": "/etc/nginx/conf.d/shop.conf", "line": 3, "server_names": [], "managed": False,
         "listen": [{"port": 8443, "default_server": True}, {"port": 8443, "default_server": True}]},
        {"file": "/etc/nginx/conf.d/other.conf", "line": 9, "server_names": ["o"], "managed": False,
         "listen": [{"port": 9443, "default_server": True}, {"port": 8443, "default_server": False}]},
        {"file": "/etc/nginx/sites-enabled/pqc-edge-default.conf", "line": 5, "server_names": ["edge.example"],
         "managed": True, "listen": [{"port": 8443, "default_server": True}]},
    ]
    assert nginx.default_clashes(filled(), servers) == [
        "/etc/nginx/sites-enabled/default:22 (server_name _) on port 8080",
        "/etc/nginx/conf.d/shop.conf:3 (server_name -) on port 8443"]
    assert nginx.default_clashes(filled(), servers, "/etc/nginx/sites-enabled/default") == [
        "/etc/nginx/conf.d/shop.conf:3 (server_name -) on port 8443"]


def test_reuseport_goes_to_one_site_per_port_a_default_server_first():
    sites = nginx.nginx_sites([{"name": "a"}, {"name": "b", "default_server": True}, {"name": "c", "https_port": 9443}],
                              8443, 8080)
    assert nginx.quic_reuseport_sites(sites) == ["b", "c"]


def test_an_https_proxy_location_is_verified_against_its_ca_file_or_the_systems():
    site = {"name": "s", "locations": [
        {"path": "/a/", "proxy": "https://api.internal:8443/", "proxy_ca_file": "/etc/ssl/internal-ca.pem"},
        {"path": "/b/", "proxy": "https://partner.example.org/"},
        {"path": "/c/", "proxy": "http://127.0.0.1:9000/"},
        {"path": "/d/", "proxy": "backend"},
        {"path": "/e/", "root": "/srv"}]}
    locations = nginx.nginx_sites([site], 8443, 8080, "/etc/ssl/certs/ca-certificates.crt")[0]["locations"]
    assert [location["upstream_tls"] for location in locations] == [
        {"server_name": None, "ca_file": "/etc/ssl/internal-ca.pem", "groups": None, "client_certificate": None, "crl_file": None},
        {"server_name": None, "ca_file": "/etc/ssl/certs/ca-certificates.crt", "groups": None, "client_certificate": None,
         "crl_file": None},
        None, None, None]
    assert nginx.nginx_sites([{"name": "d"}], 8443, 8080)[0]["locations"][0]["upstream_tls"] is None


def test_one_https_upstream_trusted_two_ways_is_named_since_nginx_shares_its_sessions():
    sites = nginx.nginx_sites([
        {"name": "a", "locations": [{"path": "/x/", "proxy": "https://API.internal:8443/", "proxy_ca_file": "/ca1.pem"},
                                    {"path": "/y/", "proxy": "https://api.internal:8443/v2/", "proxy_ca_file": "/ca1.pem"}]},
        {"name": "b", "locations": [{"path": "/z/", "proxy": "https://api.internal:8443/", "proxy_ca_file": "/ca2.pem"},
                                    {"path": "/w/", "proxy": "https://other.internal/"},
                                    {"path": "/v/", "proxy": "https://other.internal:443/"}]}], 8443, 8080, "/system.pem")
    assert nginx.upstream_trust_conflicts(sites) == [
        "https://api.internal:8443 is verified against /ca1.pem (site a, location /x/), /ca1.pem (site a, location /y/), "
        "/ca2.pem (site b, location /z/)"]
    assert nginx.upstream_trust_conflicts(sites[:1]) == [] and nginx.upstream_trust_conflicts(sites[1:]) == []


def test_a_site_asking_for_client_certificates_trusts_its_own_ca_file_or_the_fleets():
    sites = nginx.nginx_sites([{"name": "a", "client_auth": "required"},
                               {"name": "b", "client_auth": "optional", "client_ca_file": "/etc/ssl/partners.pem"},
                               {"name": "c"}], 8443, 8080, None, "/etc/pqc-edge/tls/fleet-ca/roots.pem")
    assert [(s["client_auth"], s["client_ca_file"]) for s in sites] == [
        ("required", "/etc/pqc-edge/tls/fleet-ca/roots.pem"), ("optional", "/etc/ssl/partners.pem"), ("none", None)]
    without_fleet = nginx.nginx_sites([{"name": "a", "client_auth": "required"}], 8443, 8080)
    assert without_fleet[0]["client_ca_file"] is None
    # What a site names is kept for the preflight to judge, even where it asks for no client certificate.
    assert nginx.nginx_sites([{"name": "a", "client_ca_file": ""}], 8443, 8080)[0]["client_ca_file"] == ""


EDGE_GROUPS = ["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "secp256r1"]


def test_each_https_upstream_is_a_hop_with_the_edges_groups_unless_the_location_names_its_own():
    sites = nginx.nginx_sites([
        {"name": "a", "locations": [
            {"path": "/api/", "proxy": "https://API.internal:8444/v1/", "proxy_ca_file": "/etc/ssl/internal.pem"},
            {"path": "/old/", "proxy": "https://legacy.internal/", "proxy_groups": ["x25519", "prime256v1"]},
            {"path": "/mixed/", "proxy": "https://[2001:db8::1]:9443/", "proxy_groups": ["X25519", "x25519mlkem768"]},
            {"path": "/plain/", "proxy": "http://127.0.0.1:9000/"},
            {"path": "/", "proxy": "backend"}]},
        {"name": "b", "locations": [{"path": "/", "proxy": "https://$host:8443/"}]}], 8443, 8080)
    hops = nginx.upstream_hops(sites, EDGE_GROUPS)
    assert hops == [
        {"site": "a", "path": "/api/", "upstream": "https://API.internal:8444/v1/", "host": "api.internal", "port": 8444,
         "server_name": "api.internal", "ca_file": "/etc/ssl/internal.pem", "groups": EDGE_GROUPS, "pinned": None,
         "client_certificate": None, "client_key": None},
        # Classical by the location's own choice: the reason goes with it; the names as OpenSSL spells them.
        {"site": "a", "path": "/old/", "upstream": "https://legacy.internal/", "host": "legacy.internal", "port": 443,
         "server_name": "legacy.internal", "ca_file": None, "groups": ["X25519", "secp256r1"],
         "pinned": "proxy_groups X25519:secp256r1 has no hybrid or post-quantum group",
         "client_certificate": None, "client_key": None},
        {"site": "a", "path": "/mixed/", "upstream": "https://[2001:db8::1]:9443/", "host": "2001:db8::1", "port": 9443,
         "server_name": "2001:db8::1", "ca_file": None, "groups": ["X25519", "X25519MLKEM768"], "pinned": None,
         "client_certificate": None, "client_key": None}]
    # The site's own groups reach nginx's configuration too.
    assert sites[0]["locations"][1]["upstream_tls"]["groups"] == ["X25519", "secp256r1"]


def test_hops_leave_out_what_the_preflight_names():
    unchecked = {"server_name": None, "ca_file": None, "groups": None}
    sites = [{"name": "a", "locations": [
        "not a location", {"path": "/x/", "proxy": "https://h:notaport/", "upstream_tls": unchecked},
        {"path": "/y/", "proxy": "https:///nohost", "upstream_tls": unchecked}]}]
    assert nginx.upstream_hops(sites, EDGE_GROUPS) == []


CLIENT = {"pq": {"algorithm": "mldsa44", "certificate": "/etc/pqc-edge/client/mldsa44.crt",
                 "private_key": "/etc/pqc-edge/client/mldsa44.key"}}


def test_a_location_shows_an_upstream_the_hosts_own_client_certificate_of_the_kind_it_names():
    sites = nginx.nginx_sites([{"name": "a", "locations": [
        {"path": "/x/", "proxy": "https://api.internal/", "proxy_client_certificate": "pq"},
        {"path": "/y/", "proxy": "https://api.internal/", "proxy_client_certificate": "classical"}]}], 8443, 8080,
        None, None, CLIENT)
    # The classical one is not issued: None, which the preflight names.
    assert [location["upstream_tls"]["client_certificate"] for location in sites[0]["locations"]] == [CLIENT["pq"], None]
    hops = nginx.upstream_hops(sites, EDGE_GROUPS)
    assert (hops[0]["client_certificate"], hops[0]["client_key"]) == (
        "/etc/pqc-edge/client/mldsa44.crt", "/etc/pqc-edge/client/mldsa44.key")
    assert (hops[1]["client_certificate"], hops[1]["client_key"]) == (None, None)


POOL = [{"name": "pool", "servers": ["10.0.0.1:8444 weight=2", "[2001:db8::2]:8444", "10.0.0.3:8444 down",
                                     "unix:/run/x.sock", "backend.internal"], "tls_server_name": "api.internal"},
        {"name": "plain", "servers": ["127.0.0.1:9000"]}]


def test_a_named_upstream_with_a_tls_server_name_is_reached_over_tls_and_each_server_is_a_hop():
    sites = nginx.nginx_sites([{"name": "a", "locations": [
        {"path": "/pool/", "proxy": "pool", "proxy_ca_file": "/etc/ssl/internal.pem"},
        {"path": "/plain/", "proxy": "plain"}]}], 8443, 8080, "/etc/ssl/certs/ca-certificates.crt", None, None, POOL)
    assert sites[0]["locations"][0]["upstream_tls"]["server_name"] == "api.internal"
    assert sites[0]["locations"][1]["upstream_tls"] is None
    hops = nginx.upstream_hops(sites, EDGE_GROUPS, POOL)
    # Each server nginx may pick, by the name the upstream's certificates are verified for; a server marked down and a
    # unix socket are not reached over the network; nginx's port 80 where an entry names none.
    assert [(hop["upstream"], hop["host"], hop["port"], hop["server_name"]) for hop in hops] == [
        ("upstream pool, server 10.0.0.1:8444", "10.0.0.1", 8444, "api.internal"),
        ("upstream pool, server [2001:db8::2]:8444", "2001:db8::2", 8444, "api.internal"),
        ("upstream pool, server backend.internal:80", "backend.internal", 80, "api.internal")]
    assert all(hop["ca_file"] == "/etc/ssl/internal.pem" for hop in hops)


def test_one_named_tls_upstream_trusted_two_ways_is_named():
    sites = nginx.nginx_sites([{"name": "a", "locations": [
        {"path": "/x/", "proxy": "pool", "proxy_ca_file": "/ca1.pem"},
        {"path": "/y/", "proxy": "pool", "proxy_ca_file": "/ca2.pem"}]}], 8443, 8080, None, None, None, POOL)
    assert nginx.upstream_trust_conflicts(sites) == [
        "upstream pool is verified against /ca1.pem (site a, location /x/), /ca2.pem (site a, location /y/)"]


def test_the_fleet_cas_revocation_lists_are_checked_wherever_its_roots_are_trusted():
    roots, crls = "/etc/pqc-edge/tls/fleet-ca/roots.pem", "/etc/pqc-edge/tls/fleet-ca/crls.pem"
    sites = nginx.nginx_sites([{"name": "a", "client_auth": "required",
                                "locations": [{"path": "/peer/", "proxy": "https://edge2:8443"},
                                              {"path": "/partner/", "proxy": "https://partner:443", "proxy_ca_file": "/etc/ssl/partner.pem"}]},
                               {"name": "b", "client_auth": "optional", "client_ca_file": "/etc/ssl/partners.pem"},
                               {"name": "c"}], 8443, 8080, roots, roots, None, None, crls)
    assert [s["client_crl_file"] for s in sites] == [crls, None, None]
    assert [(l["path"], l["upstream_tls"]["crl_file"]) for l in sites[0]["locations"]] == [("/peer/", crls), ("/partner/", None)]
    # Without a fleet CA there is no list to check.
    plain = nginx.nginx_sites([{"name": "a", "client_auth": "required", "locations": [{"path": "/", "proxy": "https://x"}]}],
                              8443, 8080, "/etc/ssl/certs/ca-certificates.crt", None)
    assert plain[0]["client_crl_file"] is None and plain[0]["locations"][0]["upstream_tls"]["crl_file"] is None


AWS_LC_OK = {"install_method": "source", "openssl_version": "3.5.4",
             "group_policy": "enforce", "groups": ["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "secp256r1"],
             "prefer_server_order": True, "sites": nginx.nginx_sites([{"name": "default", "server_names": ["edge"]}], 8443, 8080)}


def test_aws_lc_with_the_defaults_and_a_source_build_has_no_problem_and_openssl_never_has_one():
    assert nginx.tls_library_problems("aws-lc", AWS_LC_OK) == []
    assert nginx.tls_library_problems("aws-lc", dict(AWS_LC_OK, group_policy="prefer", prefer_server_order=False)) == []
    assert nginx.tls_library_problems("openssl", dict(AWS_LC_OK, install_method="package")) == []


def test_aws_lc_names_each_setting_it_cannot_serve_with_its_value():
    sites = nginx.nginx_sites([{"name": "api", "server_names": ["api"], "locations": [
        {"path": "/", "proxy": "https://up.example:443", "proxy_groups": ["X25519", "ffdhe3072"]}]}], 8443, 8080)
    problems = nginx.tls_library_problems("aws-lc", dict(AWS_LC_OK, install_method="package",
                                                         groups=["X25519MLKEM768", "ffdhe2048", "x448"],
                                                         prefer_server_order=False, sites=sites))
    text = " | ".join(problems)
    assert len(problems) == 3, text
    assert "nginx_install_method=package" in text
    # A hop's proxy_groups too (nginx_sites spells them as OpenSSL does).
    assert "does not serve the groups ffdhe2048, x448, ffdhe3072" in text
    assert "nginx_group_policy=enforce with nginx_prefer_server_order=false" in text
    # Profiles and proxy_groups themselves are served (pqc.edge's patch gives nginx ssl_conf_command with AWS-LC).
    assert nginx.tls_library_problems("aws-lc", dict(AWS_LC_OK, groups=["MLKEM1024", "secp384r1"])) == []


def test_aws_lc_needs_an_openssl_35_command_line_to_make_the_keys():
    old = nginx.tls_library_problems("aws-lc", dict(AWS_LC_OK, openssl_version="3.0.17"))
    assert len(old) == 1 and "OpenSSL 3.0.17" in old[0] and "3.5 or newer" in old[0], old
    assert "set pqc_edge_openssl_origin=source" in old[0]
    # The pinned source's command line, built beside AWS-LC (Debian 12), is such an OpenSSL.
    assert nginx.tls_library_problems("aws-lc", dict(AWS_LC_OK, openssl_version="3.5.7")) == []
    # prefer with the server's order would enforce after all: refused too.
    assert "nginx_group_policy=prefer with nginx_prefer_server_order=true" in \
        nginx.tls_library_problems("aws-lc", dict(AWS_LC_OK, group_policy="prefer"))[0]


GOOD_SETTINGS = {
    "groups": ["X25519MLKEM768", "X25519"], "profile_name": "web", "profile_groups": ["X25519MLKEM768", "X25519"],
    "group_policy": "enforce", "prefer_server_order": False, "http_port": 8080, "https_port": 8443,
    "protocols": ["TLSv1.3"], "upstreams": [], "install_method": "package",
    "openssl": {"origin": "system", "version": "3.5.4", "tls_groups": ["x25519mlkem768", "x25519"]},
    "tls_library": "openssl", "acme": False, "acme_sites": []}


def settings_problems(sites=None, **changes):
    sites = nginx.nginx_sites(sites or [{"name": "default", "server_names": ["edge.example"], "default_server": True}],
                              8443, 8080, upstreams=changes.get("upstreams"))
    certificates = dict((site["name"], [{"certificate": "/c.crt", "private_key": "/c.key"}]) for site in sites)
    return nginx.nginx_settings_problems(sites, dict(GOOD_SETTINGS, issued_certificates=certificates, **changes))


def test_sound_nginx_settings_have_no_problem():
    assert settings_problems() == []
    assert settings_problems(upstreams=[{"name": "api", "servers": ["10.0.0.5:8443 weight=2"],
                                         "tls_server_name": "api.internal"}]) == []


@pytest.mark.parametrize("changes, named", [
    ({"groups": ["X25519MLKEM768", "FrodoKEM"]}, "unknown key-exchange group 'FrodoKEM'"),
    ({"groups": ["X25519", "x25519"]}, "nginx_groups=['X25519', 'x25519'] must be non-empty, name each group once"),
    ({"groups": ["X25519"]}, "at least one hybrid or post-quantum group"),
    ({"https_port": 8080}, "nginx_http_port=8080 and nginx_https_port=8080 must be two different ports"),
    ({"protocols": ["TLSv1.1"]}, "nginx_tls_protocols=['TLSv1.1'] must be a non-empty subset"),
    ({"upstreams": [{"name": "backend", "servers": ["a:1"]}]}, "upstream 'backend' needs a name"),
    ({"upstreams": [{"name": "api", "servers": ["a:1; evil"]}]}, 'servers=["a:1; evil"]'),
    ({"upstreams": [{"name": "api", "servers": ["a:1"], "keepalive": 0}]}, "keepalive=0 connections"),
    ({"upstreams": [{"name": "api", "servers": ["unix:/run/a.sock"], "tls_server_name": "a"}]}, "tls_server_name=a, where"),
    ({"openssl": {"origin": "system", "version": "3.5.4", "tls_groups": ["x25519"]}},
     "nginx_groups 'X25519MLKEM768' is not supported by the host's OpenSSL 3.5.4 (it offers x25519)"),
    ({"openssl": {"origin": "source", "version": "3.5.7", "source": {"version": "3.5.7"}, "tls_groups": []}},
     "pqc_edge_openssl_origin=source builds OpenSSL 3.5.7 with an nginx built from source"),
    ({"tls_library": "aws-lc"}, "nginx_install_method=package installs the distribution's nginx. Set"),
])
def test_each_broken_setting_is_named_with_its_value(changes, named):
    problems = settings_problems(**changes)
    assert len(problems) == 1 or changes.get("tls_library"), problems
    assert named in " ".join(problems)


def test_a_compliance_profiles_group_is_named_by_its_profile():
    problems = settings_problems(profile_name="cnsa2", profile_groups=["MLKEM1024"])
    assert problems == ["pqc_edge_profile cnsa2: its group 'MLKEM1024' is not supported by the host's OpenSSL 3.5.4 "
                        "(it offers x25519mlkem768, x25519)."]


@pytest.mark.parametrize("site, named", [
    ({"name": "bad name", "server_names": ["a.example"]}, "site 'bad name' is not valid"),
    ({"name": "s", "server_names": ["a.example", "bad;name"]}, "server_names=['a.example', 'bad;name'] must list host "
                                                               "names (or *.wildcards, or addresses), not bad;name;"),
    ({"name": "s", "server_names": []}, "server_names=[] must list"),
    ({"name": "s", "server_names": ["a.example"], "https_port": 70000}, "https_port=70000 must be 1-65535"),
    ({"name": "s", "server_names": ["a.example"], "http_port": 8443}, "http_port=8443 another port or 0"),
    ({"name": "s", "server_names": ["a.example"], "extra_directives": ["add_header X y"]},
     'extra_directives=["add_header X y"] must be nginx directives'),
    ({"name": "s", "server_names": ["a.example"], "client_auth": "maybe", "client_ca_file": "/ca.pem"},
     "client_auth=maybe none, optional or required"),
    ({"name": "s", "server_names": ["a.example"], "client_auth": "required", "client_ca_file": "ca.pem"},
     "client_ca_file=ca.pem an absolute file path"),
    ({"name": "s", "server_names": ["a.example"], "client_auth": "required"},
     "s set client_auth but name no client_ca_file"),
    ({"name": "s", "server_names": ["a.example"], "locations": [{"path": "no-slash", "proxy": "backend"}]},
     'invalid location {"path": "no-slash", "proxy": "backend", "upstream_tls": null}'),
    ({"name": "s", "server_names": ["a.example"], "locations": [{"path": "/", "proxy": "nowhere"}]},
     "proxy must be one of backend or an http(s):// URL"),
    ({"name": "s", "server_names": ["a.example"], "locations": [{"path": "/", "proxy": "http://a", "proxy_ca_file": "/c"}]},
     '"proxy_ca_file": "/c"'),
    ({"name": "s", "server_names": ["a.example"],
      "locations": [{"path": "/", "proxy": "https://a", "proxy_groups": ["X25519", "x25519"]}]}, '"proxy_groups": ["X25519"'),
    ({"name": "s", "server_names": ["a.example"],
      "locations": [{"path": "/", "proxy": "https://a", "proxy_client_certificate": "ml-dsa"}]},
     '"proxy_client_certificate": "ml-dsa"'),
])
def test_each_broken_site_or_location_is_named_with_its_value(site, named):
    problems = settings_problems([site])
    assert len(problems) == 1, problems
    assert named in problems[0]


def test_sites_that_clash_lack_certificates_or_cannot_answer_http_01_are_named():
    sites = nginx.nginx_sites([{"name": "a", "server_names": ["x.example"]}, {"name": "b", "server_names": ["x.example"]}],
                              8443, 8080)
    problems = nginx.nginx_settings_problems(sites, dict(GOOD_SETTINGS, issued_certificates={
        "a": [{"certificate": "/a.crt", "private_key": "/a.key"}], "b": [{"certificate": "/b.crt"}]}))
    assert problems == [
        "pqc_edge_sites: x.example on port 8443 claimed by more than one site; nginx would answer for only one of them.",
        "pqc_edge_sites: site 'b' has no certificates, or incomplete ones: run pqc.edge.certificates before this role, or "
        "give the site a list of {algorithm, certificate, private_key}."]
    assert settings_problems(acme=True, acme_sites=[{"name": "default", "http_port": 0}]) == [
        "certificates_acme_directory is set, but sites without a plain HTTP server cannot answer HTTP-01: default "
        "(http_port 0)"]
    assert settings_problems(acme=False, acme_sites=[{"name": "default", "http_port": 0}]) == []


def test_a_site_named_by_a_list_is_named_not_a_crash():
    sites = nginx.nginx_sites([{"name": ["a", "list"], "server_names": ["a.example"]}], 8443, 8080)
    problems = nginx.nginx_settings_problems(sites, dict(GOOD_SETTINGS, issued_certificates={"default": []}))
    assert "site '['a', 'list']' is not valid" in problems[0] and "site '['a', 'list']' has no certificates" in problems[1]


def test_a_site_serves_its_own_certificates_without_issued_ones():
    sites = nginx.nginx_sites([{"name": "own", "server_names": ["a.example"], "certificates": [
        {"algorithm": "ecdsa", "certificate": "/own.crt", "private_key": "/own.key"}]}], 8443, 8080)
    assert nginx.nginx_settings_problems(sites, GOOD_SETTINGS) == []


def test_two_locations_trusting_one_upstream_two_ways_are_named():
    sites = [{"name": "s", "server_names": ["a.example"], "locations": [
        {"path": "/a", "proxy": "https://api.example", "proxy_ca_file": "/one.pem"},
        {"path": "/b", "proxy": "https://api.example", "proxy_ca_file": "/two.pem"}]}]
    problems = settings_problems(sites)
    assert len(problems) == 1 and "https://api.example:443 is verified against /one.pem" in problems[0]


def test_aws_lc_problems_end_as_sentences():
    problems = settings_problems(tls_library="aws-lc", install_method="source", prefer_server_order=True,
                                 openssl={"origin": "system", "version": "3.0.17", "tls_groups": []})
    assert len(problems) == 1 and problems[0].endswith("build the pinned OpenSSL's command line for them.")


SS_LINES = ['LISTEN 0 5 127.0.0.1:9443 0.0.0.0:* users:(("python3",pid=20945,fd=3))',
            'LISTEN 0 511 0.0.0.0:8443 0.0.0.0:* users:(("nginx",pid=7,fd=6),("nginx",pid=8,fd=6))',
            'LISTEN 0 128 [::]:8080 [::]:* users:(("haproxy",pid=31,fd=4))',
            'LISTEN 0 128 0.0.0.0:18080 0.0.0.0:*']


def host_problems(sites=None, **read):
    sites = nginx.nginx_sites(sites or [{"name": "default", "server_names": ["edge.example"], "default_server": True}],
                              8443, 8080)
    return nginx.nginx_host_problems(sites, dict({"host": "edge1", "http_port": 8080, "https_port": 8443}, **read))


def servers_problems(**current):
    sites = nginx.nginx_sites([{"name": "default", "server_names": ["edge.example"], "default_server": True}], 8443, 8080)
    return nginx.nginx_servers_problems(sites, dict({"host": "edge1"}, **current))


def test_port_holders_are_other_programs_on_that_port():
    assert nginx.port_holders(SS_LINES, 9443) == ["python3,pid=20945"]
    assert nginx.port_holders(SS_LINES, 8443) == []  # nginx itself, serving already
    assert nginx.port_holders(SS_LINES, 8080) == ["haproxy,pid=31"]
    assert nginx.port_holders(SS_LINES, 80) == []
    assert nginx.port_holders(["LISTEN 0 5 0.0.0.0:80 0.0.0.0:*"], 80) == ["a program ss does not name"]


def test_a_host_and_servers_as_they_should_be_have_no_problem():
    assert host_problems(tcp_listeners=SS_LINES[1:2]) == []
    assert servers_problems(servers=[], classical_overrides=[]) == []


def test_ports_held_and_an_edited_nginx_conf_are_named():
    assert host_problems(tcp_listeners=SS_LINES, conf_edited=True, conf_path="/etc/nginx/nginx.conf",
                         conf_dir="/etc/nginx", conf_md5="abc") == [
        "port 8080 of pqc_edge_sites is already in use on edge1 by haproxy,pid=31; choose another port "
        "(nginx_http_port=8080, nginx_https_port=8443, or the site's own) or stop that program.",
        "/etc/nginx/nginx.conf on edge1 was edited (md5 abc, neither the package's nor pqc.edge's as it wrote it): pqc.edge "
        "writes its own nginx.conf, which includes /etc/nginx/conf.d/*.conf and /etc/nginx/sites-enabled/*. Move what you "
        "added into those, or set nginx_replace_modified_conf=true to replace it anyway (a copy is kept as "
        "/etc/nginx/nginx.conf.pqc-edge-orig)."]
    assert host_problems(conf_edited=True, replace_modified_conf=True) == []


def test_another_default_server_and_classical_servers_where_pq_is_required_are_named():
    mine = {"file": "/etc/nginx/sites-enabled/mine", "line": 3, "server_names": ["mine"],
            "listen": [{"port": 8443, "default_server": True}]}
    overrides = [{"reason": "/etc/nginx/conf.d/old.conf:2 sets ssl_ecdh_curve X25519"}]
    assert servers_problems(servers=[mine], classical_overrides=overrides, require_pq_everywhere=True) == [
        "pqc_edge_sites: a site with default_server=true would be a second default server on edge1: "
        "/etc/nginx/sites-enabled/mine:3 (server_name mine) on port 8443 already is. Set default_server: false on the site, "
        "or remove default_server there.",
        "nginx_require_pq_everywhere=true, but these TLS servers on edge1 keep classical key exchange: "
        "/etc/nginx/conf.d/old.conf:2 sets ssl_ecdh_curve X25519. Remove their own ssl_ecdh_curve (or ssl_conf_command "
        "Groups) and ssl_protocols so that they inherit the policy, or add a hybrid group and TLSv1.3."]


def test_a_configuration_nginx_cannot_give_is_the_one_problem_named():
    overrides = [{"reason": "x"}]
    assert servers_problems(servers=[], classical_overrides=overrides, require_pq_everywhere=True,
                            error="/usr/sbin/nginx -T failed: nginx: [emerg] unknown directive \"x\"") == [
        "edge1: /usr/sbin/nginx -T failed: nginx: [emerg] unknown directive \"x\""]
    assert servers_problems(servers=[], classical_overrides=[], error=None) == []


def test_what_the_operator_allowed_or_pqc_edge_disables_is_no_problem():
    assert servers_problems(classical_overrides=[{"reason": "x"}], require_pq_everywhere=False,
                            stock_default_link="/etc/nginx/sites-enabled/default",
                            servers=[{"file": "/etc/nginx/sites-enabled/default", "line": 1, "server_names": ["_"],
                                      "listen": [{"port": 8080, "default_server": True}]}]) == []
