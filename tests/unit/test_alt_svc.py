"""_tls.http_alt_svc against real TLS servers on this machine (Python's ssl with a certificate openssl makes here):
the Alt-Svc header as the server sends it, none, and servers that give no HTTP answer."""

import socket
import ssl
import subprocess
import threading
import time

import pytest

from ansible_collections.pqc.edge.plugins.module_utils import _tls


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("alt-svc")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=edge.example", "-days", "1"],
                   check=True, capture_output=True)
    return str(cert), str(key)


def serve(certificate, answer, pause=0.0):
    """A TLS server on a free local port that answers one request with `answer` (bytes, one at a time `pause` seconds
    apart where pause is given) and records the request."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    listener = socket.create_server(("127.0.0.1", 0))
    seen = []

    def run():
        raw, dummy = listener.accept()
        with context.wrap_socket(raw, server_side=True) as tls:
            request = b""
            while b"\r\n\r\n" not in request:
                data = tls.recv(4096)
                if not data:
                    break
                request += data
            seen.append(request.decode("latin-1"))
            if not pause:
                tls.sendall(answer)
            for index in range(len(answer) if pause else 0):
                try:
                    tls.sendall(answer[index:index + 1])
                except OSError:
                    break
                time.sleep(pause)
        listener.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1], seen


def test_the_alt_svc_header_is_returned_as_sent_and_the_request_names_the_server(certificate):
    answer = b'HTTP/1.1 200 OK\r\nServer: t\r\nAlt-Svc: h3=":8443"; ma=86400\r\nalt-svc: h3-29=":8443"\r\n\r\n'
    port, seen = serve(certificate, answer)
    assert _tls.http_alt_svc("127.0.0.1", port, "edge.example", 5.0) == 'h3=":8443"; ma=86400, h3-29=":8443"'
    assert seen[0].startswith("HEAD / HTTP/1.1\r\nHost: edge.example\r\n")


def test_a_server_without_alt_svc_gives_none(certificate):
    port, dummy = serve(certificate, b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    assert _tls.http_alt_svc("127.0.0.1", port, None, 5.0) is None


def test_a_server_that_answers_no_http_is_said(certificate):
    port, dummy = serve(certificate, b"\x00\x01 not http\r\n\r\n")
    with pytest.raises(_tls.ProbeError, match="answered HEAD / with no HTTP status line"):
        _tls.http_alt_svc("127.0.0.1", port, None, 5.0)
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(_tls.ProbeError, match="gave no HTTPS answer to read Alt-Svc from"):
        _tls.http_alt_svc("127.0.0.1", port, None, 2.0)


def test_a_server_that_drips_its_answer_cannot_hold_the_probe(certificate):
    port, dummy = serve(certificate, b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n", pause=0.05)
    started = time.monotonic()
    with pytest.raises(_tls.ProbeError, match="gave no complete HTTPS answer within 1.0 s"):
        _tls.http_alt_svc("127.0.0.1", port, None, 1.0)
    assert time.monotonic() - started < 3
