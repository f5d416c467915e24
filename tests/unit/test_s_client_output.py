"""What tls_probe's openssl engine reads from `openssl s_client -msg`: here a real OpenSSL 3.5 client's output (Debian
13) against an s_server that asks for a client certificate from two CAs (fixtures/s_client_certificate_request.txt,
the hex dumps left out), and the same without the request."""

import pathlib

import pytest

from ansible_collections.pqc.edge.plugins.modules import tls_probe

from module_runner import ModuleFail, run_module

OUTPUT = (pathlib.Path(__file__).parent / "fixtures" / "s_client_certificate_request.txt").read_text()


def test_the_request_for_a_client_certificate_and_its_ca_names_are_read():
    result = tls_probe.parse_s_client(OUTPUT)
    assert result["negotiated_group"].name == "X25519MLKEM768"
    assert result["client_certificate_requested"] is True
    assert result["client_ca_names"] == ["CN=Client Root A", "O=Org, CN=Client Root B"]


def test_a_server_that_asks_for_nothing_is_read_as_asking_for_nothing():
    without = "\n".join(line for line in OUTPUT.splitlines() if "CertificateRequest" not in line)
    without = without.replace("Acceptable client certificate CA names\nCN=Client Root A\nO=Org, CN=Client Root B\n",
                              "No client certificate CA names sent\n")
    result = tls_probe.parse_s_client(without)
    assert result["client_certificate_requested"] is False and result["client_ca_names"] == []


@pytest.mark.parametrize("args", [
    {"client_certificate": "/c.pem"},
    {"client_key": "/k.pem"},
    {"client_certificate": "/c.pem", "client_key": "/k.pem"},  # the python engine cannot show one
])
def test_a_client_certificate_needs_its_key_and_the_openssl_engine(args):
    with pytest.raises(ModuleFail, match="client_certificate and client_key go together, with engine=openssl"):
        run_module(tls_probe.main, dict({"host": "127.0.0.1", "port": 1}, **args))
