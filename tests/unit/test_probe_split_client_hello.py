"""tls_probe's client_hello_segment_size: the ClientHello in many TCP segments finds servers that expect it whole in
one read (a hybrid ClientHello is larger than many such servers assume), and leaves servers that read on alone."""

import pathlib
import socket
import threading

import pytest

from ansible_collections.pqc.edge.plugins.module_utils import _tls
from ansible_collections.pqc.edge.plugins.modules import tls_probe

from module_runner import ModuleFail, run_module

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "server_answers.txt"
ANSWERS = dict(line.split() for line in FIXTURES.read_text().splitlines() if line and not line.startswith("#"))
SERVER_HELLO = bytes.fromhex(ANSWERS["server_hello_x25519mlkem768"])


def server(patient):
    """Answers with a ServerHello for X25519MLKEM768 once it has the whole first record: a patient server reads until
    then, an impatient one reads once and closes the connection when the record is not complete."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    reads = []

    def serve():
        while True:
            conn, dummy = listener.accept()
            data = conn.recv(65536)
            count = 1
            while patient and data and (len(data) < 5 or len(data) < 5 + int.from_bytes(data[3:5], "big")):
                more = conn.recv(65536)
                if not more:
                    break
                data += more
                count += 1
            reads.append(count)
            if len(data) >= 5 and len(data) >= 5 + int.from_bytes(data[3:5], "big"):
                conn.sendall(SERVER_HELLO)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], reads


def test_a_server_that_reads_once_answers_a_whole_client_hello_and_fails_a_split_one():
    port, reads = server(patient=False)
    whole = _tls.offer("127.0.0.1", port, [0x11EC, 0x001D], [0x11EC], timeout=3)
    assert whole["negotiated_group"] == 0x11EC
    with pytest.raises(_tls.ProbeError, match="closed the connection without a TLS answer"):
        _tls.offer("127.0.0.1", port, [0x11EC, 0x001D], [0x11EC], timeout=3, segment_size=100)
    assert reads == [1, 1]


def test_a_server_that_reads_on_answers_the_split_client_hello_in_many_reads():
    port, reads = server(patient=True)
    split = _tls.offer("127.0.0.1", port, [0x11EC, 0x001D], [0x11EC], timeout=3, segment_size=100)
    assert split["negotiated_group"] == 0x11EC
    # A hybrid ClientHello with an X25519MLKEM768 key share is over 1200 bytes: more than ten pieces of 100.
    assert reads[-1] > 10


def test_the_module_takes_a_segment_size_per_probe_and_refuses_it_where_it_cannot_apply():
    impatient, dummy = server(patient=False)
    patient, dummy = server(patient=True)
    entries = [{"host": "127.0.0.1", "port": impatient}, {"host": "127.0.0.1", "port": impatient, "client_hello_segment_size": 100},
               {"host": "127.0.0.1", "port": patient, "client_hello_segment_size": 100}]
    answers = run_module(tls_probe.main, {"probes": entries, "timeout": 3, "groups": ["X25519MLKEM768", "X25519"]})["probes"]
    assert [(a["failed"], a.get("negotiated_group")) for a in answers] == [
        (False, "X25519MLKEM768"), (True, None), (False, "X25519MLKEM768")]
    for bad in ({"client_hello_segment_size": 100, "transport": "quic"}, {"client_hello_segment_size": 100, "engine": "openssl"},
                {"client_hello_segment_size": 0}):
        with pytest.raises(ModuleFail, match="client_hello_segment_size=.* needs engine=python over tcp"):
            run_module(tls_probe.main, dict({"host": "127.0.0.1", "port": patient}, **bad))
