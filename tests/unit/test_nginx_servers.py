"""The nginx -T reader, on the output of a real Debian 13 nginx 1.26.3 that serves an operator's own sites
(recorded from the molecule `existing` scenario's host before pqc.edge touched it)."""

import pathlib
import stat

import pytest

from ansible_collections.pqc.edge.plugins.module_utils import _nginx
from ansible_collections.pqc.edge.plugins.modules import nginx_servers

from module_runner import ModuleFail, run_module

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "nginx_T_operator.txt"


@pytest.fixture
def operator():
    return _nginx.servers(FIXTURE.read_text())


def by_name(found, name):
    return next(server for server in found if name in server["server_names"])


def test_every_http_server_is_found_with_its_file_and_line(operator):
    found, dummy = operator
    assert [(s["file"], s["line"], s["server_names"]) for s in found] == [
        ("/etc/nginx/sites-enabled/default", 21, ["_"]),
        ("/etc/nginx/sites-enabled/intranet", 2, ["intranet.example.test"]),
        ("/etc/nginx/sites-enabled/legacy", 2, ["legacy.example.test"]),
        ("/etc/nginx/sites-enabled/shop", 2, ["shop.example.test"]),
    ]


def test_listeners_and_tls(operator):
    found, dummy = operator
    assert by_name(found, "_")["listen"] == [
        {"address": "*", "port": 80, "ssl": False, "quic": False, "default_server": True},
        {"address": "::", "port": 80, "ssl": False, "quic": False, "default_server": True},
    ]
    assert not by_name(found, "shop.example.test")["tls"]
    assert by_name(found, "intranet.example.test")["tls"]
    assert by_name(found, "intranet.example.test")["certificates"] == ["/etc/ssl/operator/intranet.crt"]


def test_a_server_pinning_a_classical_group_is_named_with_file_and_line(operator):
    found, dummy = operator
    legacy = by_name(found, "legacy.example.test")
    assert legacy["classical_override"] == [
        "ssl_ecdh_curve X25519 (no hybrid or post-quantum group) at /etc/nginx/sites-enabled/legacy:7"]
    assert legacy["quantum_safe_policy"] is False
    assert by_name(found, "intranet.example.test")["classical_override"] == []
    overrides = _nginx.classical_overrides(found)
    assert [o["reason"] for o in overrides] == [
        "server_name legacy.example.test, port 8445, in /etc/nginx/sites-enabled/legacy:2: "
        "ssl_ecdh_curve X25519 (no hybrid or post-quantum group) at /etc/nginx/sites-enabled/legacy:7"]


def test_http_level_policy_is_read_from_nginx_conf(operator):
    dummy, http = operator
    assert http["ssl_protocols"] == {"value": "TLSv1.2 TLSv1.3", "path": "/etc/nginx/nginx.conf", "line": 34}
    # Debian's stock nginx.conf leaves the groups to OpenSSL.
    assert http["ssl_ecdh_curve"] is None


def test_tls_endpoints_one_per_server_name_and_tls_port(operator):
    found, dummy = operator
    endpoints = _nginx.tls_endpoints(found)
    assert [(e["server_name"], e["port"], e["site"], e["quantum_safe_policy"]) for e in endpoints] == [
        ("intranet.example.test", 8444, None, None),
        ("legacy.example.test", 8445, None, False),
    ]


def test_includes_are_expanded_where_they_stand():
    """A snippet included inside a server counts for that server; one included in http for every server."""
    text = "\n".join([
        "# configuration file /etc/nginx/nginx.conf:",
        "http {",
        "    ssl_ecdh_curve X25519MLKEM768:X25519;",
        "    include /etc/nginx/sites-enabled/*;",
        "}",
        "stream { server { listen 9000 ssl; ssl_ecdh_curve X25519; } }",
        "# configuration file /etc/nginx/sites-enabled/a:",
        "# pqc.edge site app",
        "server { listen 443 ssl; server_name a.example; }",
        "# configuration file /etc/nginx/sites-enabled/b:",
        "server {",
        "    listen 8443 ssl default_server;",
        "    server_name ~^b\\d+$ *.b.example;",
        "    include snippets/tls.conf;",
        "    location / { return 200 \"}{;\"; }",
        "}",
        "# configuration file /etc/nginx/snippets/tls.conf:",
        "ssl_protocols TLSv1.2;  # old clients",
    ])
    found, http = _nginx.servers(text)
    assert [s["file"] for s in found] == ["/etc/nginx/sites-enabled/a", "/etc/nginx/sites-enabled/b"]
    a, b = found
    assert a["site"] == "app" and a["managed"] and a["quantum_safe_policy"] is True
    assert b["classical_override"] == [
        "ssl_protocols TLSv1.2 (ML-KEM needs TLS 1.3) at /etc/nginx/snippets/tls.conf:1"]
    assert b["quantum_safe_policy"] is False
    assert http["ssl_ecdh_curve"]["value"] == "X25519MLKEM768:X25519"
    # The operator's server, not pqc.edge's, is the one named; a wildcard gets a name under it for SNI.
    assert [o["file"] for o in _nginx.classical_overrides(found)] == ["/etc/nginx/sites-enabled/b"]
    assert [e["server_name"] for e in _nginx.tls_endpoints(found)] == ["a.example", "pqc-edge-probe.b.example"]


@pytest.mark.parametrize("value, expected", [
    ("X25519MLKEM768:SecP256r1MLKEM768/X25519:secp256r1", True),
    ("?X25519MLKEM768:*X25519", True),
    ("X25519:prime256v1", False),
    ("auto", None),
])
def test_group_lists(value, expected):
    assert _nginx.groups_quantum_safe(value) is expected


def test_ssl_conf_command_groups_overrides_the_curve():
    text = "# configuration file /n.conf:\nhttp { server { listen 1 ssl; ssl_conf_command Groups x25519; } }\n"
    found, dummy = _nginx.servers(text)
    assert found[0]["classical_override"] == ["ssl_conf_command Groups x25519 (no hybrid or post-quantum group) at /n.conf:1"]


def test_unbalanced_braces_are_an_error():
    with pytest.raises(_nginx.ParseError, match="unclosed block 'http'"):
        _nginx.servers("# configuration file /n.conf:\nhttp {\n")


def fake_nginx(tmp_path, body):
    binary = tmp_path / "nginx"
    binary.write_text("#!/bin/sh\n" + body)
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return str(binary)


def test_module_reads_the_configuration_in_check_mode(tmp_path):
    binary = fake_nginx(tmp_path, "cat '%s'\n" % FIXTURE)
    result = run_module(nginx_servers.main, {"binary": binary}, check_mode=True)
    assert result["changed"] is False and result["installed"] is True
    assert len(result["servers"]) == 4
    assert [o["file"] for o in result["classical_overrides"]] == ["/etc/nginx/sites-enabled/legacy"]
    assert [e["port"] for e in result["tls_endpoints"]] == [8444, 8445]


def test_module_without_nginx_reports_it_not_installed(tmp_path):
    result = run_module(nginx_servers.main, {"binary": str(tmp_path / "none")})
    assert result["installed"] is False and result["servers"] == []


def test_module_fails_with_what_nginx_said(tmp_path):
    binary = fake_nginx(tmp_path, "echo 'nginx: [emerg] unknown directive \"x\"' >&2; exit 1\n")
    with pytest.raises(ModuleFail) as caught:
        run_module(nginx_servers.main, {"binary": binary})
    assert 'unknown directive "x"' in caught.value.result["msg"]
