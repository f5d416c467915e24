"""pqc.edge.tls_probe against real `openssl s_server` processes (OpenSSL 3.5, Debian 13 container).

The python engine probes from this machine through ports published on 127.0.0.1 (this machine's own
OpenSSL needs no post-quantum support); the openssl engine runs inside the container, where
OpenSSL 3.5 is, through an ad-hoc `ansible` call with the docker connection.
"""

import json
import os
import pathlib
import subprocess
import sys
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("PQC_EDGE_IMAGE", "pqc-edge/debian:13")

# name: (s_server -groups value, server preference?, expected supported order, server_preference, pq_enforced)
SERVERS = {
    "enforce-serverpref": ("X25519MLKEM768:SecP256r1MLKEM768/X25519:secp256r1", True,
                           ["X25519MLKEM768", "SecP256r1MLKEM768", "x25519", "secp256r1"], True, True),
    "enforce-clientpref": ("SecP256r1MLKEM768:X25519MLKEM768/secp256r1:X25519", False,
                           ["X25519MLKEM768", "SecP256r1MLKEM768", "x25519", "secp256r1"], False, True),
    "flat-serverpref": ("secp384r1:X25519MLKEM768:X25519", True,
                        ["secp384r1", "X25519MLKEM768", "x25519"], True, False),
    "mlkem-ffdhe": ("ffdhe2048:MLKEM1024:secp521r1:SecP384r1MLKEM1024", True,
                    ["ffdhe2048", "MLKEM1024", "secp521r1", "SecP384r1MLKEM1024"], True, False),
    "classical-only": ("X448:secp256r1", True, ["x448", "secp256r1"], True, None),
    # X25519 shares the first tuple with the hybrid: its key share is kept, secp256r1's is moved.
    "x25519-in-pq-tuple": ("X25519MLKEM768:X25519/secp256r1", True, ["X25519MLKEM768", "x25519", "secp256r1"], True, False),
}
KEPT = {"flat-serverpref": ["secp384r1", "x25519"], "mlkem-ffdhe": ["ffdhe2048", "secp521r1"], "x25519-in-pq-tuple": ["x25519"]}
PORTS = dict((name, 9400 + i) for i, name in enumerate(SERVERS))


def docker(*args, check=True):
    return subprocess.run(["docker"] + list(args), capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def servers():
    name = "pqc-edge-probe-%s" % uuid.uuid4().hex[:8]
    publish = []
    for port in PORTS.values():
        publish += ["-p", "127.0.0.1::%d" % port]
    docker("run", "-d", "--name", name, *publish, IMAGE, "sleep", "infinity")
    try:
        docker("exec", name, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=probe",
               "-days", "2", "-keyout", "/root/key.pem", "-out", "/root/cert.pem")
        for server, spec in SERVERS.items():
            groups, serverpref = spec[:2]
            cmd = ["openssl", "s_server", "-accept", str(PORTS[server]), "-cert", "/root/cert.pem",
                   "-key", "/root/key.pem", "-groups", groups, "-www", "-quiet"]
            if serverpref:
                cmd.append("-serverpref")
            docker("exec", "-d", name, *cmd)
        published = {}
        for server, port in PORTS.items():
            host_port = docker("port", name, "%d/tcp" % port).stdout.strip().splitlines()[0].rsplit(":", 1)[1]
            published[server] = int(host_port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            listening = docker("exec", name, "sh", "-c", "cat /proc/net/tcp /proc/net/tcp6").stdout
            if all(":%04X " % p in listening for p in PORTS.values()):
                break
            time.sleep(0.2)
        yield {"container": name, "ports": published}
    finally:
        docker("rm", "-f", name, check=False)


def probe_python(port, **args):
    """Run the module on this machine through ansible, as a user would."""
    return run_module("localhost", dict(args, host="127.0.0.1", port=port),
                      ["-c", "local", "-e", "ansible_python_interpreter=" + sys.executable], "localhost,")


def probe_openssl(container, port, **args):
    """Run the module with engine=openssl inside the container, where OpenSSL 3.5 is."""
    return run_module(container, dict(args, host="127.0.0.1", port=port, engine="openssl"),
                      ["-c", "community.docker.docker"], container + ",")


def run_module(target, args, connection, inventory):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_PYTHON_INTERPRETER="auto_silent")
    cmd = [str(pathlib.Path(sys.executable).parent / "ansible"), target, "-i", inventory] + connection + [
        "-m", "pqc.edge.tls_probe", "-a", json.dumps(args)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(ROOT), check=False)
    try:
        report = json.loads(out.stdout)
    except ValueError:
        raise AssertionError("ansible printed no JSON:\n%s\n%s" % (out.stdout, out.stderr))
    return report["plays"][0]["tasks"][0]["hosts"][target]


def assert_enumeration(result, server):
    """Exactly the server's groups, in its order when it enforces one, and the right verdicts."""
    order, server_preference, pq_enforced = SERVERS[server][2:]
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    if server_preference:
        assert result["supported_groups"] == order
    else:
        assert sorted(result["supported_groups"]) == sorted(order)
    assert result["server_preference"] is server_preference
    assert result["pq_enforced"] is pq_enforced
    assert result["classical_key_shares_kept"] == KEPT.get(server, [])


@pytest.mark.parametrize("server", list(SERVERS))
def test_python_engine_enumerates_exactly(servers, server):
    assert_enumeration(probe_python(servers["ports"][server], enumerate=True), server)


@pytest.mark.parametrize("server", list(SERVERS))
def test_openssl_engine_agrees(servers, server):
    result = probe_openssl(servers["container"], PORTS[server], enumerate=True)
    assert_enumeration(result, server)
    if result["negotiated_group"] is not None:  # the default offer shares no group with mlkem-ffdhe
        assert result["certificate_key_algorithm"] == "rsaEncryption"
        assert result["certificate_subject"] == "CN=probe"
    else:
        assert server == "mlkem-ffdhe" and result["alert"] == "handshake_failure"


@pytest.mark.parametrize("engine", ["python", "openssl"])
def test_client_offer_results(servers, engine):
    def probe(server, **args):
        if engine == "python":
            return probe_python(servers["ports"][server], **args)
        return probe_openssl(servers["container"], PORTS[server], **args)

    pq = probe("enforce-serverpref")
    assert (pq["negotiated_group"], pq["group_kind"], pq["quantum_safe"]) == ("X25519MLKEM768", "hybrid", True)
    assert pq["tls_version"] == "TLSv1.3" and pq["hello_retry_request"] is False

    moved = probe("enforce-serverpref", groups=["X25519", "X25519MLKEM768"])
    assert (moved["negotiated_group"], moved["hello_retry_request"]) == ("X25519MLKEM768", True)

    kept = probe("flat-serverpref", groups=["X25519", "X25519MLKEM768"])
    assert (kept["negotiated_group"], kept["hello_retry_request"], kept["quantum_safe"]) == ("x25519", False, False)

    none = probe("classical-only", groups=["X25519MLKEM768", "X25519"])
    assert none["negotiated_group"] is None and none["alert"] == "handshake_failure"
    assert not none.get("failed")


def test_failures_are_clear_sentences(servers):
    refused = probe_python(1)
    assert refused["failed"] and "refused" in refused["msg"]
    unknown = probe_python(servers["ports"]["flat-serverpref"], groups=["X25519", "X25519MLKEM999"])
    assert unknown["failed"] and "X25519MLKEM999" in unknown["msg"]


def test_openssl_engine_verifies_the_chain_against_the_given_ca_files_only(servers):
    """An ML-DSA-44 leaf signed by an ML-DSA-65 root, served by s_server: verified with that root and the right name,
    refused with another CA or another name, and the issuer and days left read either way."""
    container = servers["container"]
    script = (
        "set -e; cd /root; "
        "openssl req -x509 -newkey mldsa65 -nodes -subj /CN=Test-Root -days 30 -keyout root.key -out root.crt; "
        "openssl req -newkey mldsa44 -nodes -subj /CN=edge.example.test -keyout leaf.key -out leaf.csr; "
        "printf 'subjectAltName=DNS:edge.example.test\\n' > leaf.ext; "
        "openssl x509 -req -in leaf.csr -CA root.crt -CAkey root.key -days 10 -extfile leaf.ext -out leaf.crt; "
        "cat leaf.crt root.crt > chain.crt")
    docker("exec", container, "sh", "-c", script)
    docker("exec", "-d", container, "openssl", "s_server", "-accept", "9499", "-cert", "/root/leaf.crt",
           "-key", "/root/leaf.key", "-groups", "X25519MLKEM768:X25519", "-www", "-quiet")
    time.sleep(0.5)

    trusted = probe_openssl(container, 9499, server_name="edge.example.test", ca_files=["/root/root.crt"])
    assert not trusted.get("failed"), trusted.get("msg")
    assert (trusted["certificate_verified"], trusted["verify_error"]) == (True, None)
    assert trusted["certificate_issuer"] == "CN=Test-Root"
    assert trusted["certificate_key_algorithm"] == "ML-DSA-44" and trusted["negotiated_group"] == "X25519MLKEM768"
    assert trusted["certificate_days_left"] in (9, 10)

    other_ca = probe_openssl(container, 9499, server_name="edge.example.test", ca_files=["/root/cert.pem"])
    assert other_ca["certificate_verified"] is False and "unable to verify" in other_ca["verify_error"]
    wrong_name = probe_openssl(container, 9499, server_name="other.example.test", ca_files=["/root/root.crt"])
    assert wrong_name["certificate_verified"] is False and "hostname mismatch" in wrong_name["verify_error"]
    # Without ca_files nothing is claimed about trust.
    assert "certificate_verified" not in probe_openssl(container, 9499, server_name="edge.example.test")

    python = probe_python(servers["ports"]["flat-serverpref"], ca_files=["/root/root.crt"])
    assert python["failed"] and "ca_files needs engine=openssl" in python["msg"]


def test_many_probes_in_one_call_answer_in_order(servers):
    """probes: entries take the top-level options as defaults, answer in order, and a server that cannot be reached
    is a failed answer rather than a failed task; both engines in one call, inside the container."""
    container = servers["container"]
    args = {"port": PORTS["enforce-serverpref"], "probes": [
        {"host": "127.0.0.1"},
        {"host": "127.0.0.1", "groups": ["X25519", "X25519MLKEM768"]},
        {"host": "127.0.0.1", "port": PORTS["flat-serverpref"], "groups": ["X25519", "X25519MLKEM768"]},
        {"host": "127.0.0.1", "port": 1},
        {"host": "127.0.0.1", "engine": "openssl", "groups": ["X25519", "secp256r1"]},
        {"host": "127.0.0.1", "port": PORTS["classical-only"], "transport": "quic"},
    ]}
    result = run_module(container, args, ["-c", "community.docker.docker"], container + ",")
    assert not result.get("failed"), result.get("msg")
    answers = result["probes"]
    ports = [PORTS["enforce-serverpref"]] * 2 + [PORTS["flat-serverpref"], 1, PORTS["enforce-serverpref"], PORTS["classical-only"]]
    assert [a["port"] for a in answers] == ports
    assert [a["failed"] for a in answers] == [False, False, False, True, False, True]
    assert (answers[0]["negotiated_group"], answers[0]["quantum_safe"]) == ("X25519MLKEM768", True)
    assert (answers[1]["negotiated_group"], answers[1]["hello_retry_request"]) == ("X25519MLKEM768", True)
    assert (answers[2]["negotiated_group"], answers[2]["hello_retry_request"]) == ("x25519", False)
    assert "refused" in answers[3]["msg"] and "negotiated_group" not in answers[3]
    assert (answers[4]["engine"], answers[4]["negotiated_group"]) == ("openssl", "x25519")
    assert answers[4]["certificate_subject"] == "CN=probe"
    assert answers[5]["transport"] == "quic" and answers[5]["msg"]


def test_a_bad_entry_fails_the_call_and_names_it(servers):
    result = run_module("localhost", {"probes": [{"host": "127.0.0.1", "port": servers["ports"]["flat-serverpref"]},
                                                 {"host": "127.0.0.1", "groups": ["X25519MLKEM999"]}]},
                        ["-c", "local", "-e", "ansible_python_interpreter=" + sys.executable], "localhost,")
    assert result["failed"] and "probes[1] (127.0.0.1 port 443)" in result["msg"] and "X25519MLKEM999" in result["msg"]
    both = run_module("localhost", {"host": "127.0.0.1", "probes": [{"host": "127.0.0.1"}]},
                      ["-c", "local", "-e", "ansible_python_interpreter=" + sys.executable], "localhost,")
    assert both["failed"] and "mutually exclusive" in both["msg"]


def test_hostile_servers_cost_neither_engine_more_than_its_timeout_nor_the_other_answers(servers):
    """The test's hostile TCP servers (tests/support/hostile_servers.py) beside real s_server ones in one module run,
    both engines: each hostile one is a failed answer naming the problem, the healthy answers are all there."""
    container = servers["container"]
    hostile = {"drip": 9481, "stream": 9482, "garbage": 9483, "truncated": 9484}
    docker("cp", str(ROOT / "tests" / "support" / "hostile_servers.py"), container + ":/root/hostile_servers.py")
    docker("exec", "-d", container, "python3", "/root/hostile_servers.py",
           *["%d:%s" % (port, name) for name, port in hostile.items()])
    time.sleep(0.5)
    entries = []
    for engine in ("python", "openssl"):
        entries.append({"host": "127.0.0.1", "engine": engine})
        entries += [{"host": "127.0.0.1", "port": port, "engine": engine} for port in hostile.values()]
    entries.append({"host": "127.0.0.1", "engine": "python"})
    timeout = 3
    started = time.monotonic()
    result = run_module(container, {"port": PORTS["enforce-serverpref"], "timeout": timeout, "probes": entries},
                        ["-c", "community.docker.docker"], container + ",")
    elapsed = time.monotonic() - started
    assert not result.get("failed"), result.get("msg")
    answers = result["probes"]
    healthy = [0, 5, len(entries) - 1]
    for index, answer in enumerate(answers):
        if index in healthy:
            assert not answer["failed"] and answer["negotiated_group"] == "X25519MLKEM768", answer
        else:
            assert answer["failed"] and "port %d" % answer["port"] in answer["msg"], answer
    drips = [answers[1], answers[6]]
    assert all("within 3" in a["msg"] for a in drips), drips
    # Two drips use their timeout; everything else answers at once. Plus ansible's own start over docker exec.
    assert elapsed < 2 * (timeout + 1) + 15
