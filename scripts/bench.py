"""make bench: provision a fresh Debian 13 edge with site.yml and measure it, in one run.

    .venv/bin/python scripts/bench.py            (PQC_EDGE_BENCH_RUNS=5 PQC_EDGE_BENCH_SECONDS=3)

What it measures, and how client and server are kept from skewing each other on a 2-core machine:
- provisioning: cold converge of a new container, then idempotent re-runs (changed=0 required);
- tls_probe enumeration of the host (scripts/bench-probe.py);
- full TLS 1.3 handshakes for four key-exchange + certificate configurations, and resumed ones for the
  hybrid: nginx's workers are pinned to CPU 0, the clients (`openssl s_time` in a second container that
  shares the server's network namespace) to CPU 1. The server's cost is read from the workers' own CPU
  accounting (/proc/<pid>/schedstat), so a slow client lowers the rate but not the CPU per handshake;
- in the same rounds, HAProxy (one thread on CPU 0), and nginx restarted without session tickets and with one
  worker (the bench pins all of nginx's workers to CPU 0);
- the crypto bound: `openssl speed` on CPU 0 in the same run, server side = one key encapsulation
  (the server's share of the key exchange) + one signature;
- bytes on the wire per full handshake, counted by a relay between client and nginx;
- nginx on AWS-LC (pqc_edge_tls_library: aws-lc), provisioned by site.yml in a second container with its own client
  container, in the same rounds with the same client configurations, with its tickets as configured and without, its
  crypto bound from scripts/aws_lc_speed.c built against that host's AWS-LC (its `bssl speed` is not in the
  source). Needs PQC_EDGE_AWS_LC_ARCHIVE and PQC_EDGE_AWS_LC_SHA256 (the Makefile sets them beside ../shared/sources)
  and nginx-1.26.3.tar.gz in PQC_EDGE_SOURCE_CACHE; without them the AWS-LC tables say why they are missing.
Each configuration runs PQC_EDGE_BENCH_RUNS times, interleaved with the others; the tables give medians.
Writes docs/performance.md and docs/handshakes.png; prints the tables.
"""

import base64
import datetime
import json
import os
import pathlib
import re
import resource
import statistics
import subprocess
import sys
import time
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
IMAGE = os.environ.get("PQC_EDGE_IMAGE", "pqc-edge/debian:13")
SERVER = "pqc-edge-bench"
CLIENT = "pqc-edge-bench-client"
AWS_LC_SERVER = "pqc-edge-bench-aws-lc"
AWS_LC_CLIENT = "pqc-edge-bench-aws-lc-client"
AWS_LC_NGINX = "/opt/pqc-edge/nginx"
SOURCE_CACHE = pathlib.Path(os.environ.get("PQC_EDGE_SOURCE_CACHE", str(pathlib.Path.home() / ".cache/pqc-edge/sources")))
AWS_LC_ARCHIVE = os.environ.get("PQC_EDGE_AWS_LC_ARCHIVE", "")
AWS_LC_SHA256 = os.environ.get("PQC_EDGE_AWS_LC_SHA256", "")
# nginx 1.26.3 as Debian's source archive carries it, with the sha256 its nginx_1.26.3-3 .dsc lists (as in molecule).
NGINX_SOURCE = ("1.26.3", "69ee2b237744036e61d24b836668aad3040dda461fe6f570f1787eab570c75aa")
PUBLISHED_PORT = 9443
RUNS = int(os.environ.get("PQC_EDGE_BENCH_RUNS", "5"))
SECONDS = int(os.environ.get("PQC_EDGE_BENCH_SECONDS", "3"))
CLIENTS = 2
SERVER_CPU, CLIENT_CPU = "0", "1"
WORK = ROOT / ".cache" / "bench"
DOCS = ROOT / "docs"

# name, client Groups, client SignatureAlgorithms, classical certificate the host needs,
# what s_client must report, and the `openssl speed` operations of the server's side.
CONFIGS = [
    ("X25519MLKEM768 + ML-DSA-44", "X25519MLKEM768", "mldsa44", "ecdsa",
     ("Negotiated TLS1.3 group: X25519MLKEM768", "Peer signature type: mldsa44"),
     [("X25519MLKEM768", "encaps"), ("ML-DSA-44", "signs")]),
    # What browsers get today: the hybrid key exchange with the classical certificate.
    ("X25519MLKEM768 + ECDSA P-256", "X25519MLKEM768", "ecdsa_secp256r1_sha256", "ecdsa",
     ("Negotiated TLS1.3 group: X25519MLKEM768", "Peer signature type: ecdsa_secp256r1_sha256"),
     [("X25519MLKEM768", "encaps"), ("256", "sign", "ecdsa")]),
    ("X25519MLKEM768 + RSA-2048", "X25519MLKEM768", "rsa_pss_rsae_sha256", "rsa",
     ("Negotiated TLS1.3 group: X25519MLKEM768", "Peer signature type: rsa_pss_rsae_sha256"),
     [("X25519MLKEM768", "encaps"), ("rsa2048", "signs")]),
    ("X25519 + ECDSA P-256", "X25519", "ecdsa_secp256r1_sha256", "ecdsa",
     ("Peer Temp Key: X25519", "Peer signature type: ecdsa_secp256r1_sha256"),
     [("X25519", "encaps"), ("256", "sign", "ecdsa")]),
    ("X25519 + RSA-2048", "X25519", "rsa_pss_rsae_sha256", "rsa",
     ("Peer Temp Key: X25519", "Peer signature type: rsa_pss_rsae_sha256"),
     [("X25519", "encaps"), ("rsa2048", "signs")]),
]
RESUMED = CONFIGS[0]
# Fleet measurement: fresh hosts per size, each size with ansible's default forks (5) and with -f 10.
FLEET_SIZES = [int(n) for n in os.environ.get("PQC_EDGE_BENCH_FLEET", "1 3 10").split()]
FLEET_FORKS = (5, 10)
FLEET_PREFIX = "pqc-edge-bench-fleet-"
QUARTERS = (1, "25%")
SPEED_ALGORITHMS = ["X25519MLKEM768", "X25519", "ML-DSA-44", "rsa2048", "ecdsap256"]

RELAY = r'''
import select, socket, sys
listener = socket.socket(); listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 9555)); listener.listen(1)
print("ready", flush=True)
client, _ = listener.accept()
server = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
counts = {client: 0, server: 0}
peer = {client: server, server: client}
open_ = {client, server}
while open_:
    for sock in select.select(list(open_), [], [], 10)[0]:
        data = sock.recv(65536)
        if not data:
            open_.discard(sock)
            try:
                peer[sock].shutdown(socket.SHUT_WR)
            except OSError:
                pass
            continue
        counts[sock] += len(data)
        peer[sock].sendall(data)
print(counts[client], counts[server])
'''


def run(argv, check=True, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, check=check, **kwargs)


def in_container(name, script, **kwargs):
    return run(["docker", "exec", "-i", name, "sh", "-c", script], **kwargs)


def log(message):
    print(message, flush=True)


def boot(name, publish=()):
    """A fresh systemd container of the image, as molecule makes them (no --privileged)."""
    run(["docker", "rm", "-f", name], check=False)
    flags = ["--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined"]
    if os.environ.get("PQC_EDGE_PRIVILEGED", "false") == "true":
        flags = ["--privileged"]
    run(["docker", "run", "-d", "--name", name, "--hostname", name] + flags
        + ["--cgroupns=host", "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--tmpfs", "/run", "--tmpfs", "/tmp"]
        + [arg for port in publish for arg in ("-p", port)] + [IMAGE, "/sbin/init"])


def wait_booted(name):
    for dummy in range(90):
        state = in_container(name, "systemctl is-system-running", check=False).stdout.strip()
        if state in ("running", "degraded"):
            return
        time.sleep(1)
    raise SystemExit("bench: %s did not boot" % name)


def start_server():
    run(["docker", "rm", "-f", CLIENT], check=False)
    # TCP, and UDP for HTTP/3: the batch gate probes both from the controller.
    boot(SERVER, ["127.0.0.1:%d:8443" % PUBLISHED_PORT, "127.0.0.1:%d:8443/udp" % PUBLISHED_PORT])
    wait_booted(SERVER)


def start_client(client=CLIENT, server=SERVER):
    # Shares the server's network namespace (loopback, no docker-proxy in the path), pinned to the other CPU.
    run(["docker", "rm", "-f", client], check=False)
    run(["docker", "run", "-d", "--name", client, "--network", "container:" + server, "--cpuset-cpus", CLIENT_CPU,
         "--entrypoint", "sleep", IMAGE, "infinity"])
    in_container(client, "mkdir -p /root/bench")
    run(["docker", "exec", "-i", client, "sh", "-c", "cat > /root/bench/relay.py"], input=RELAY)
    for name, groups, sigalgs, _cert, _expect, _ops in CONFIGS:
        conf = ("openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = client\n"
                "[client]\nGroups = %s\nSignatureAlgorithms = %s\nMinProtocol = TLSv1.3\n" % (groups, sigalgs))
        run(["docker", "exec", "-i", client, "sh", "-c", "cat > /root/bench/%s.cnf" % slug(name)], input=conf)


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def inventory(server=SERVER):
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / ("hosts.yml" if server == SERVER else "hosts-%s.yml" % server)
    host = {"ansible_connection": "community.docker.docker", "ansible_become": False,
            "certificates_subject_alt_names": ["DNS:%s" % server, "IP:127.0.0.1"],
            "pqc_edge_probe_from": "controller", "pqc_edge_probe_address": "127.0.0.1",
            "pqc_edge_probe_ports": {"8443": PUBLISHED_PORT}}
    if server == AWS_LC_SERVER:
        # Its ports are not published: the gate probes from the host. nginx 1.26.3 and AWS-LC from their archives.
        for published in ("pqc_edge_probe_address", "pqc_edge_probe_ports"):
            del host[published]
        host.update({"pqc_edge_probe_from": "host", "pqc_edge_tls_library": "aws-lc", "nginx_install_method": "source",
                     "nginx_version": NGINX_SOURCE[0], "nginx_source_sha256": NGINX_SOURCE[1],
                     "nginx_source_archive": str(SOURCE_CACHE / ("nginx-%s.tar.gz" % NGINX_SOURCE[0])),
                     "nginx_source_build_cache": str(WORK / "builds"),
                     "nginx_aws_lc_source_archive": AWS_LC_ARCHIVE, "nginx_aws_lc_source_sha256": AWS_LC_SHA256})
    path.write_text(json.dumps({"pqc_edge": {"hosts": {server: host}}}))
    return path


def baseline():
    """Seconds for a playbook of 10 ansible.builtin.stat tasks on the bench host over the same connection: the
    unit the provisioning goals are stated in, so that the machine's speed cancels out."""
    playbook = WORK / "baseline.yml"
    playbook.write_text(json.dumps([{"name": "Ten stat tasks", "hosts": "pqc_edge", "gather_facts": False, "tasks": [
        {"name": "Stat %d" % index, "ansible.builtin.stat": {"path": "/etc/hostname"}} for index in range(10)]}]))
    started = time.monotonic()
    run(["ansible-playbook", "-i", str(inventory()), str(playbook)])
    return time.monotonic() - started


def converge(extra_vars=None, options=(), profile=None, server=SERVER):
    """Seconds and changed tasks of site.yml on the bench host; with a list as `profile`, ansible.posix's
    profile_tasks times each task and the list receives (seconds, task) pairs, longest first."""
    argv = ["ansible-playbook", "-i", str(inventory(server)), str(ROOT / "playbooks" / "site.yml")] + list(options)
    for key, value in (extra_vars or {}).items():
        argv += ["-e", "%s=%s" % (key, value)]
    env = None
    if profile is not None:
        env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="ansible.posix.profile_tasks",
                   PROFILE_TASKS_TASK_OUTPUT_LIMIT="all", PROFILE_TASKS_SORT_ORDER="descending")
    started = time.monotonic()
    result = run(argv, check=False, env=env)
    elapsed = time.monotonic() - started
    if profile is not None:
        recap = result.stdout.split("TASKS RECAP", 1)[-1]
        profile.extend((float(m.group(2)), m.group(1).strip())
                       for m in re.finditer(r"^(\S.*?) -{3,} ([0-9.]+)s$", recap, re.M))
    recap = re.search(r"%s\s*: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)" % server, result.stdout)
    if result.returncode != 0 or not recap or recap.group(3) != "0":
        sys.stdout.write(result.stdout[-4000:] + result.stderr[-2000:])
        raise SystemExit("bench: converge failed")
    return elapsed, int(recap.group(1))


def nginx_workers(server=SERVER):
    rows = run(["docker", "top", server, "-eo", "pid,args"]).stdout.splitlines()[1:]
    pids = [row.split()[0] for row in rows if "nginx: worker process" in row]
    if not pids:
        raise SystemExit("bench: no nginx worker in %s" % server)
    for pid in pids:
        run(["taskset", "-pc", SERVER_CPU, pid])
    return pids


def cpu_ns(pids):
    return sum(int(pathlib.Path("/proc/%s/schedstat" % pid).read_text().split()[0]) for pid in pids)


def check_negotiation(config, resume=False, client=CLIENT):
    name, _g, _s, _c, expect, _ops = config
    conf = "/root/bench/%s.cnf" % slug(name)
    out = in_container(client, "OPENSSL_CONF=%s openssl s_client -connect 127.0.0.1:8443 -sess_out /root/bench/sess"
                       " </dev/null 2>&1" % conf, check=False).stdout
    missing = [line for line in expect if line not in out]
    if missing:
        raise SystemExit("bench: %s: s_client did not report %s" % (name, missing))
    if resume:
        # s_client waits briefly for the session tickets the server sends after the handshake.
        out = in_container(CLIENT, "(sleep 1) | OPENSSL_CONF=%s openssl s_client -connect 127.0.0.1:8443"
                           " -sess_out /root/bench/sess 2>&1 >/dev/null; OPENSSL_CONF=%s openssl s_client"
                           " -connect 127.0.0.1:8443 -sess_in /root/bench/sess </dev/null 2>&1" % (conf, conf),
                           check=False).stdout
        if "Reused, TLSv1.3" not in out:
            raise SystemExit("bench: %s: the session was not resumed" % name)


def reference_server(config):
    """OpenSSL's own s_server with the same certificate on CPU 0: what the TLS stack costs without nginx."""
    certificate = {"mldsa44": "mldsa44", "rsa_pss_rsae_sha256": "rsa", "ecdsa_secp256r1_sha256": "ecdsa"}[config[2]]
    in_container(SERVER, "pkill -f 's_serve[r] -accept 4433'; true")
    in_container(SERVER, "taskset -c %s openssl s_server -accept 4433 -cert /etc/pqc-edge/tls/default/%s.crt"
                 " -key /etc/pqc-edge/tls/default/%s.key -naccept 1000000 -quiet </dev/null >/dev/null 2>&1 &"
                 % (SERVER_CPU, certificate, certificate))
    for dummy in range(50):
        rows = run(["docker", "top", SERVER, "-eo", "pid,args"]).stdout.splitlines()
        pids = [row.split()[0] for row in rows if "s_server -accept 4433" in row]
        if pids and in_container(CLIENT, "openssl s_client -connect 127.0.0.1:4433 </dev/null >/dev/null 2>&1",
                                 check=False).returncode == 0:
            return pids
        time.sleep(0.1)
    raise SystemExit("bench: s_server did not start")


HAPROXY_CFG = """global
    nbthread 1
defaults
    mode http
    timeout client 10s
    timeout connect 5s
    timeout server 10s
frontend bench
    bind 127.0.0.1:4434 ssl crt /root/bench/%(certificate)s.pem ssl-min-ver TLSv1.3 curves %(groups)s
    http-request return status 200 content-type text/plain string ok
"""


def install_haproxy():
    """Debian 13's haproxy package on the server, stopped: each round starts it with one configuration."""
    in_container(SERVER, "DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy >/dev/null"
                 " && systemctl disable --now haproxy >/dev/null 2>&1; mkdir -p /root/bench")
    return in_container(SERVER, "haproxy -v | head -1").stdout.strip()


def haproxy_server(config):
    """HAProxy, one thread on CPU 0, with the same certificate and the same group list (nginx's ssl_ecdh_curve,
    tuples included) as nginx, TLS 1.3 only: what users would pick instead of nginx."""
    certificate = {"mldsa44": "mldsa44", "rsa_pss_rsae_sha256": "rsa", "ecdsa_secp256r1_sha256": "ecdsa"}[config[2]]
    groups = re.search(r"^\s*ssl_ecdh_curve\s+([^;]+);", in_container(SERVER, "cat /etc/nginx/nginx.conf").stdout,
                       re.M).group(1)
    in_container(SERVER, "pkill -x haproxy; cat /etc/pqc-edge/tls/default/%s.crt /etc/pqc-edge/tls/default/%s.key"
                 " > /root/bench/%s.pem; true" % (certificate, certificate, certificate))
    run(["docker", "exec", "-i", SERVER, "sh", "-c", "cat > /root/bench/haproxy.cfg"],
        input=HAPROXY_CFG % {"certificate": certificate, "groups": groups})
    in_container(SERVER, "taskset -c %s haproxy -f /root/bench/haproxy.cfg -db </dev/null >/dev/null 2>&1 &" % SERVER_CPU)
    for dummy in range(50):
        rows = run(["docker", "top", SERVER, "-eo", "pid,comm"]).stdout.splitlines()
        pids = [row.split()[0] for row in rows if row.split()[-1] == "haproxy"]
        if pids and in_container(CLIENT, "openssl s_client -connect 127.0.0.1:4434 </dev/null >/dev/null 2>&1",
                                 check=False).returncode == 0:
            return pids
        time.sleep(0.1)
    raise SystemExit("bench: haproxy did not start")


def tickets_sent(config, port, client=CLIENT):
    """TLS 1.3 session tickets the server on `port` sends after a full handshake, as s_client sees them once it has
    read the answer to a request (AWS-LC sends them with its Finished, before the client's)."""
    conf = "/root/bench/%s.cnf" % slug(config[0])
    out = in_container(client, "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | OPENSSL_CONF=%s openssl s_client -connect"
                       " 127.0.0.1:%d -msg -ign_eof 2>&1" % (conf, port), check=False).stdout
    return len(re.findall(r"<<< TLS 1.3, Handshake \[length [0-9a-f]+\], NewSessionTicket", out))


def nginx_restart(tickets, workers="auto"):
    """Restart nginx with `tickets` TLS 1.3 tickets per full handshake (ssl_conf_command NumTickets) and `workers`
    worker processes; its worker pids, pinned to CPU 0."""
    in_container(SERVER, "sed -i -e 's/ssl_conf_command NumTickets [0-9]*;/ssl_conf_command NumTickets %d;/'"
                 " -e 's/^worker_processes [^;]*;/worker_processes %s;/' /etc/nginx/nginx.conf"
                 " && nginx -t -q && systemctl restart nginx" % (tickets, workers))
    for dummy in range(50):
        rows = run(["docker", "top", SERVER, "-eo", "pid,args"]).stdout
        if "shutting down" not in rows and in_container(
                CLIENT, "openssl s_client -connect 127.0.0.1:8443 </dev/null >/dev/null 2>&1", check=False).returncode == 0:
            return nginx_workers()
        time.sleep(0.1)
    raise SystemExit("bench: nginx did not come back with NumTickets %d and %s workers" % (tickets, workers))


def handshakes(config, pids, mode="-new", port=8443, client=CLIENT):
    """One timed run of CLIENTS parallel s_time clients; returns (handshakes/s, server CPU us per handshake)."""
    conf = "/root/bench/%s.cnf" % slug(config[0])
    script = ("start=$(date +%%s%%N); for i in $(seq %d); do OPENSSL_CONF=%s openssl s_time -connect 127.0.0.1:%d"
              " %s -time %d > /root/bench/out.$i 2>&1 & done; wait; end=$(date +%%s%%N); echo $((end-start));"
              " cat /root/bench/out.*" % (CLIENTS, conf, port, mode, SECONDS))
    before = cpu_ns(pids)
    out = in_container(client, script).stdout
    after = cpu_ns(pids)
    wall = int(out.split("\n", 1)[0]) / 1e9
    count = sum(int(n) for n in re.findall(r"^(\d+) connections in [0-9.]+s;", out, re.M))
    if count == 0:
        raise SystemExit("bench: %s: no handshake completed:\n%s" % (config[0], out[-2000:]))
    if "-reuse" in mode:
        # s_time prints "r" for each connection that resumed its session; count them, do not assume them.
        marks = "".join(re.findall(r"^([r*0-9]+)$", out, re.M))
        if marks.count("r") < 0.95 * count:
            raise SystemExit("bench: only %d of %d connections resumed" % (marks.count("r"), count))
    return count / wall, (after - before) / 1e3 / count


def wire_bytes(config, client=CLIENT):
    conf = "/root/bench/%s.cnf" % slug(config[0])
    script = ("python3 /root/bench/relay.py 8443 > /root/bench/relay.out & sleep 0.5;"
              " OPENSSL_CONF=%s openssl s_client -connect 127.0.0.1:9555 </dev/null >/dev/null 2>&1; wait;"
              " cat /root/bench/relay.out" % conf)
    sent, received = in_container(client, script).stdout.split()[-2:]
    return int(sent), int(received)


def crypto_speed():
    """Operations per CPU-second of `openssl speed` on the server's CPU."""
    rates = {}
    out = in_container(SERVER, "taskset -c %s openssl speed -mr -seconds 1 %s 2>&1"
                       % (SERVER_CPU, " ".join(SPEED_ALGORITHMS))).stdout.splitlines()
    for line, following in zip(out, out[1:]):
        if line.startswith("+DTP:") and following.startswith("+R"):
            count, seconds = following.split(":")[1], following.split(":")[-1]
            rates[tuple(line[5:].split(":")[:-1])] = int(count) / float(seconds)
    return rates


def aws_lc_missing():
    """Why nginx on AWS-LC cannot be measured here, or None."""
    if not AWS_LC_ARCHIVE or not AWS_LC_SHA256:
        return "PQC_EDGE_AWS_LC_ARCHIVE and PQC_EDGE_AWS_LC_SHA256 are not set (no ../shared/sources beside the checkout)"
    for path in (pathlib.Path(AWS_LC_ARCHIVE), SOURCE_CACHE / ("nginx-%s.tar.gz" % NGINX_SOURCE[0])):
        if not path.is_file():
            return "%s does not exist" % path
    return None


def start_aws_lc():
    """A second fresh container converged by site.yml with nginx on AWS-LC, its client, and the AWS-LC crypto bench
    compiled there against the static libcrypto of that host's AWS-LC build."""
    boot(AWS_LC_SERVER)
    wait_booted(AWS_LC_SERVER)
    elapsed, changed = converge(server=AWS_LC_SERVER)
    log("bench: AWS-LC host converged in %.1f s (changed=%d)" % (elapsed, changed))
    start_client(AWS_LC_CLIENT, AWS_LC_SERVER)
    run(["docker", "exec", "-i", AWS_LC_SERVER, "sh", "-c", "mkdir -p /root/bench && cat > /root/bench/aws_lc_speed.c"],
        input=(ROOT / "scripts" / "aws_lc_speed.c").read_text())
    prefix = in_container(AWS_LC_SERVER, "ls -d %s/src/aws-lc-*/pqc-edge-install" % AWS_LC_NGINX).stdout.split()[0]
    in_container(AWS_LC_SERVER, "cc -O2 -I%s/include /root/bench/aws_lc_speed.c %s/lib/libcrypto.a -lpthread"
                 " -o /root/bench/aws_lc_speed" % (prefix, prefix))
    return in_container(AWS_LC_SERVER, "%s/sbin/nginx -V 2>&1 | sed -n 's/^built with //p'" % AWS_LC_NGINX).stdout.strip()


def aws_lc_restart(tickets):
    """Restart nginx on AWS-LC with `tickets` TLS 1.3 tickets per full handshake (ssl_conf_command NumTickets,
    through pqc.edge's patch); its worker pids, pinned to CPU 0."""
    in_container(AWS_LC_SERVER, "sed -i 's/ssl_conf_command NumTickets [0-9]*;/ssl_conf_command NumTickets %d;/'"
                 " %s/conf/nginx.conf && %s/sbin/nginx -t -q && systemctl restart nginx"
                 % (tickets, AWS_LC_NGINX, AWS_LC_NGINX))
    for dummy in range(50):
        rows = run(["docker", "top", AWS_LC_SERVER, "-eo", "pid,args"]).stdout
        if "shutting down" not in rows and in_container(
                AWS_LC_CLIENT, "openssl s_client -connect 127.0.0.1:8443 </dev/null >/dev/null 2>&1",
                check=False).returncode == 0:
            return nginx_workers(AWS_LC_SERVER)
        time.sleep(0.1)
    raise SystemExit("bench: nginx on AWS-LC did not come back with NumTickets %d" % tickets)


def aws_lc_speed():
    """Operations per CPU-second of AWS-LC's own crypto on the server's CPU (scripts/aws_lc_speed.c)."""
    out = in_container(AWS_LC_SERVER, "taskset -c %s /root/bench/aws_lc_speed 1" % SERVER_CPU).stdout
    return dict((line.split()[0], float(line.split()[1])) for line in out.splitlines() if len(line.split()) == 2)


def aws_lc_bound_us(config, speed):
    """One key exchange (X25519, plus one ML-KEM-768 encapsulation for the hybrid) and one signature."""
    exchange = ["X25519"] + (["ML-KEM-768"] if config[1] == "X25519MLKEM768" else [])
    signature = {"mldsa44": "ML-DSA-44", "ecdsa_secp256r1_sha256": "ECDSA-P-256", "rsa_pss_rsae_sha256": "RSA-2048"}[config[2]]
    return sum(1e6 / speed[op] for op in exchange + [signature])


def bound_us(config, speed):
    return sum(1e6 / speed[op] for op in config[5])


def certificate_sizes():
    """DER size of each served certificate and its zlib-compressed size (RFC 8879 algorithm 1)."""
    sizes = {}
    listing = in_container(SERVER, "ls /etc/pqc-edge/tls/default/*.crt").stdout.split()
    for path in listing:
        der = in_container(SERVER, "openssl x509 -in %s -outform DER | base64 -w0" % path).stdout
        raw = base64.b64decode(der)
        sizes[pathlib.Path(path).stem] = (len(raw), len(zlib.compress(raw, 9)))
    return sizes


def median_row(samples):
    rates = [s[0] for s in samples]
    cpus = [s[1] for s in samples]
    return statistics.median(rates), min(rates), max(rates), statistics.median(cpus), min(cpus), max(cpus)


def machine_busy():
    """CPU seconds the whole machine has been busy (all cores: controller, docker, the hosts' containers)."""
    fields = [int(x) for x in pathlib.Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def timed_playbook(argv):
    """Wall seconds, controller CPU seconds (ansible-playbook, its forks and the docker exec clients they run), the
    recap per host, and the CPU seconds of the whole machine (controller, docker daemon, hosts) during the run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = machine_busy()
    started = time.monotonic()
    result = run(argv, check=False)
    wall = time.monotonic() - started
    busy = machine_busy() - busy
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    recap = {m.group(1): {"changed": int(m.group(2)), "failed": int(m.group(3)) + int(m.group(4))}
             for m in re.finditer(r"^(\S+)\s*: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                                  result.stdout, re.M)}
    if result.returncode != 0 or any(r["failed"] for r in recap.values()):
        sys.stdout.write(result.stdout[-4000:] + result.stderr[-2000:])
        raise SystemExit("bench: %s failed" % " ".join(argv[:4]))
    return wall, cpu, recap, busy


def fleet_run(size, forks):
    """Cold converge and idempotent re-run of `size` fresh hosts through site.yml and its batches."""
    names = ["%s%02d" % (FLEET_PREFIX, index) for index in range(1, size + 1)]
    for name in names:
        boot(name)
    for name in names:
        wait_booted(name)
    inventory = WORK / ("fleet-%d.yml" % size)
    inventory.write_text(json.dumps({"pqc_edge": {"hosts": {name: {
        "ansible_connection": "community.docker.docker", "ansible_become": False, "pqc_edge_probe_from": "host",
        "certificates_subject_alt_names": ["DNS:%s" % name, "IP:127.0.0.1"]} for name in names}}}))
    argv = ["ansible-playbook", "-i", str(inventory), str(ROOT / "playbooks" / "site.yml"), "-f", str(forks)]
    cold = timed_playbook(argv)
    rerun = timed_playbook(argv)
    result = {"hosts": size, "forks": forks, "cold": cold[:2], "rerun": rerun[:2], "rerun_machine": rerun[3]}
    if forks == max(FLEET_FORKS) and size == max(FLEET_SIZES) and size > 1:
        # The same re-run in quarters without a floor (site.yml's default before the floor of 10): what batches cost.
        quarters = timed_playbook(argv + ["-e", json.dumps({"pqc_edge_serial": list(QUARTERS)})])
        result["rerun_quarters"] = quarters[:2]
        rerun[2].update({name + " (quarters)": r for name, r in quarters[2].items()})
    changed = {name: r["changed"] for name, r in rerun[2].items() if r["changed"]}
    if changed:
        raise SystemExit("bench: fleet re-run of %d hosts changed %s" % (size, changed))
    run(["docker", "rm", "-f"] + names, check=False)
    return result


def fleet():
    results = []
    for forks in FLEET_FORKS:
        for size in FLEET_SIZES:
            results.append(fleet_run(size, forks))
            log("bench: fleet of %(hosts)d, -f %(forks)d: cold %(cold)s, re-run %(rerun)s (wall s, controller CPU s)"
                % results[-1])
    return results


def main():
    started = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    log("bench: fresh container %s from %s" % (SERVER, IMAGE))
    start_server()
    cold_profile = []
    cold, cold_changed = converge(profile=cold_profile)
    log("bench: cold converge %.1f s, changed=%d" % (cold, cold_changed))
    reruns = []
    for dummy in range(3):
        elapsed, changed = converge()
        if changed:
            raise SystemExit("bench: re-run changed %d tasks" % changed)
        reruns.append(elapsed)
    log("bench: idempotent re-runs %s s, changed=0" % ", ".join("%.1f" % r for r in reruns))
    checks = []
    for dummy in range(3):
        elapsed, changed = converge(options=("--check", "--diff"))
        if changed:
            raise SystemExit("bench: --check --diff on the converged host reported %d changes" % changed)
        checks.append(elapsed)
    log("bench: --check --diff %s s, changed=0" % ", ".join("%.1f" % r for r in checks))
    baselines = [baseline() for dummy in range(3)]
    log("bench: baseline of 10 stat tasks %s s" % ", ".join("%.1f" % r for r in baselines))
    probe = run([sys.executable, str(ROOT / "scripts" / "bench-probe.py"), "127.0.0.1", str(PUBLISHED_PORT), "20"]).stdout
    probe_median = float(re.search(r"median ([0-9.]+)", probe).group(1))
    probe_connections = int(re.search(r"connections per enumeration: (\d+)", probe).group(1))
    log(probe.strip())

    start_client()
    haproxy_version = install_haproxy()
    versions = in_container(SERVER, "openssl version; nginx -v 2>&1").stdout.strip().splitlines() + [haproxy_version]
    aws_lc_reason = aws_lc_missing()
    if aws_lc_reason:
        log("bench: SKIPPED nginx on AWS-LC: " + aws_lc_reason)
    else:
        aws_lc_built = start_aws_lc()
    aws_lc = {config[0]: [] for config in CONFIGS}
    aws_lc_no_tickets = {config[0]: [] for config in CONFIGS}
    aws_lc_speeds = []
    aws_lc_wire = {}
    aws_lc_tickets = {}
    cpu_model = re.search(r"model name\s*: (.*)", pathlib.Path("/proc/cpuinfo").read_text()).group(1)

    results = {config[0]: [] for config in CONFIGS}
    reference = {config[0]: [] for config in CONFIGS}
    haproxy = {config[0]: [] for config in CONFIGS}
    # Session tickets: what each server sends, and nginx's CPU when it sends none (same rounds).
    no_tickets = {config[0]: [] for config in CONFIGS}
    one_worker = {config[0]: [] for config in CONFIGS}
    tickets = {}
    nginx_worker_count = len(nginx_workers())
    nginx_tickets = int(re.search(r"ssl_conf_command NumTickets (\d+);",
                                  in_container(SERVER, "cat /etc/nginx/nginx.conf").stdout).group(1))
    speeds = []
    resumed = []
    with_request = []
    wire = {}
    certs = {}
    # The host has the default classical certificate (ECDSA); the RSA configurations need it re-converged.
    for certificate in ("ecdsa", "rsa"):
        if certificate == "rsa":
            elapsed, changed = converge({"certificates_classical_algorithm": "rsa"})
            log("bench: re-converged with an RSA classical certificate in %.1f s (changed=%d)" % (elapsed, changed))
            if not aws_lc_reason:
                elapsed, changed = converge({"certificates_classical_algorithm": "rsa"}, server=AWS_LC_SERVER)
                log("bench: re-converged the AWS-LC host with an RSA classical certificate in %.1f s (changed=%d)"
                    % (elapsed, changed))
        configs = [c for c in CONFIGS if c[3] == certificate]
        for config in configs:
            check_negotiation(config, resume=config is RESUMED)
            wire[config[0]] = wire_bytes(config)
            if not aws_lc_reason:
                check_negotiation(config, client=AWS_LC_CLIENT)
                aws_lc_wire[config[0]] = wire_bytes(config, AWS_LC_CLIENT)
                aws_lc_tickets[config[0]] = tickets_sent(config, 8443, AWS_LC_CLIENT)
        aws_lc_pids = nginx_workers(AWS_LC_SERVER) if not aws_lc_reason else []
        certs.update(certificate_sizes())
        for config in configs:
            haproxy_server(config)
            tickets[config[0]] = (tickets_sent(config, 8443), tickets_sent(config, 4434))
            in_container(SERVER, "pkill -x haproxy; true")
        pids = nginx_workers()
        for index in range(RUNS):
            for config in configs:
                results[config[0]].append(handshakes(config, pids))
                log("bench: run %d %-28s %7.0f handshakes/s %7.0f us CPU each" % ((index + 1, config[0]) + results[config[0]][-1]))
                reference[config[0]].append(handshakes(config, reference_server(config), port=4433))
                in_container(SERVER, "pkill -f 's_serve[r] -accept 4433'; true")
                log("bench: run %d %-28s %7.0f handshakes/s %7.0f us CPU each (s_server)" % ((index + 1, config[0]) + reference[config[0]][-1]))
                haproxy[config[0]].append(handshakes(config, haproxy_server(config), port=4434))
                in_container(SERVER, "pkill -x haproxy; true")
                log("bench: run %d %-28s %7.0f handshakes/s %7.0f us CPU each (HAProxy)" % ((index + 1, config[0]) + haproxy[config[0]][-1]))
                no_tickets[config[0]].append(handshakes(config, nginx_restart(0)))
                log("bench: run %d %-28s %7.0f handshakes/s %7.0f us CPU each (nginx, no tickets)" % ((index + 1, config[0]) + no_tickets[config[0]][-1]))
                # worker_processes auto makes one worker per core (2 here), and the bench pins them all to CPU 0, where
                # HAProxy runs one thread: nginx with one worker on that CPU, as configured otherwise.
                one_worker[config[0]].append(handshakes(config, nginx_restart(nginx_tickets, 1)))
                log("bench: run %d %-28s %7.0f handshakes/s %7.0f us CPU each (nginx, one worker)" % ((index + 1, config[0]) + one_worker[config[0]][-1]))
                pids = nginx_restart(nginx_tickets)
                if not aws_lc_reason:
                    aws_lc[config[0]].append(handshakes(config, aws_lc_pids, client=AWS_LC_CLIENT))
                    log("bench: run %d %-28s %7.0f handshakes/s %7.0f us CPU each (nginx on AWS-LC)"
                        % ((index + 1, config[0]) + aws_lc[config[0]][-1]))
                    aws_lc_no_tickets[config[0]].append(handshakes(config, aws_lc_restart(0), client=AWS_LC_CLIENT))
                    log("bench: run %d %-28s %7.0f handshakes/s %7.0f us CPU each (nginx on AWS-LC, no tickets)"
                        % ((index + 1, config[0]) + aws_lc_no_tickets[config[0]][-1]))
                    aws_lc_pids = aws_lc_restart(nginx_tickets)
            if RESUMED in configs:
                # s_time reads the session tickets only when it makes a request, so both of these do one.
                with_request.append(handshakes(RESUMED, pids, "-new -www /api/health"))
                resumed.append(handshakes(RESUMED, pids, "-reuse -www /api/health"))
                log("bench: run %d %-28s %7.0f handshakes/s %7.0f us CPU each" % ((index + 1, "hybrid, full + GET") + with_request[-1]))
                log("bench: run %d %-28s %7.0f handshakes/s %7.0f us CPU each" % ((index + 1, "hybrid, resumed + GET") + resumed[-1]))
            # The crypto bound in the same conditions as this round, on the server's CPU.
            speeds.append(crypto_speed())
            if not aws_lc_reason:
                aws_lc_speeds.append(aws_lc_speed())
    speed = {key: statistics.median(s[key] for s in speeds if key in s) for key in speeds[0]}
    fleet_results = fleet()

    rows = []
    for config in CONFIGS:
        rate, rate_lo, rate_hi, cpu, cpu_lo, cpu_hi = median_row(results[config[0]])
        bound = bound_us(config, speed)
        ratios = [bound / s[1] for s in results[config[0]]]
        ref_cpu = statistics.median(s[1] for s in reference[config[0]])
        rows.append({"no_tickets_cpu": statistics.median(s[1] for s in no_tickets[config[0]]),
                     "one_worker_cpu": statistics.median(s[1] for s in one_worker[config[0]]),
                     "tickets": tickets[config[0]],
                     "haproxy_cpu": statistics.median(s[1] for s in haproxy[config[0]]),
                     "haproxy_rate": statistics.median(s[0] for s in haproxy[config[0]]),
                     "haproxy_cpu_range": (min(s[1] for s in haproxy[config[0]]), max(s[1] for s in haproxy[config[0]])),
                     "reference_cpu": ref_cpu, "reference_rate": statistics.median(s[0] for s in reference[config[0]]),
                     "name": config[0], "rate": rate, "rate_range": (rate_lo, rate_hi), "cpu": cpu,
                     "cpu_range": (cpu_lo, cpu_hi), "bound": bound, "ratio": statistics.median(ratios),
                     "ratio_range": (min(ratios), max(ratios)), "wire": wire[config[0]]})
    if not aws_lc_reason:
        aws_lc_speed_median = dict((key, statistics.median(s[key] for s in aws_lc_speeds)) for key in aws_lc_speeds[0])
        for row, config in zip(rows, CONFIGS):
            rate, rate_lo, rate_hi, cpu, cpu_lo, cpu_hi = median_row(aws_lc[config[0]])
            row["aws_lc"] = {"rate": rate, "cpu": cpu, "cpu_range": (cpu_lo, cpu_hi),
                             "no_tickets_cpu": statistics.median(s[1] for s in aws_lc_no_tickets[config[0]]),
                             "bound": aws_lc_bound_us(config, aws_lc_speed_median), "wire": aws_lc_wire[config[0]],
                             "tickets": aws_lc_tickets[config[0]]}
    resumed_row = median_row(resumed)
    with_request_row = median_row(with_request)
    report = {
        "date": started.isoformat(), "cpu": cpu_model, "cores": os.cpu_count(), "versions": versions,
        "runs": RUNS, "seconds": SECONDS, "clients": CLIENTS, "cold": cold, "cold_changed": cold_changed,
        "reruns": reruns, "checks": checks, "cold_profile": cold_profile, "baselines": baselines, "fleet": fleet_results,
        "probe_ms": probe_median, "probe_connections": probe_connections,
        "rows": rows, "nginx_tickets": nginx_tickets, "nginx_worker_count": nginx_worker_count, "resumed": resumed_row, "with_request": with_request_row,
        "speed": {":".join(k): v for k, v in speed.items()}, "certs": certs,
        "aws_lc": {"skipped": aws_lc_reason} if aws_lc_reason else {
            "built": aws_lc_built, "speed": aws_lc_speed_median},
    }
    (WORK / "bench.json").write_text(json.dumps(report, indent=2))
    write_markdown(report)
    write_chart(report)
    write_fleet_chart(report)
    sys.stdout.write((DOCS / "performance.md").read_text())
    if os.environ.get("PQC_EDGE_BENCH_KEEP") != "true":
        run(["docker", "rm", "-f", SERVER, CLIENT, AWS_LC_SERVER, AWS_LC_CLIENT], check=False)


def write_markdown(r):
    DOCS.mkdir(exist_ok=True)
    out = []
    add = out.append
    add("# Performance of a pqc.edge host\n")
    add("Measured by `make bench` on %s: one run on one machine (%s, %d cores), server and clients in "
        "containers on it. Host software: %s. Regenerate with `make demo && make bench`.\n"
        % (r["date"], r["cpu"], r["cores"], "; ".join(r["versions"])))
    add("## Full TLS 1.3 handshakes\n")
    add("nginx's workers run on CPU 0, %d `openssl s_time -new` clients on CPU 1 (a second container in the "
        "server's network namespace). CPU per handshake is the workers' own CPU time (schedstat) divided by "
        "the handshakes completed, so the clients' speed does not enter it. The bound is what `openssl speed` "
        "says the server's crypto costs on CPU 0 in the same run: one key encapsulation (the server side of the "
        "key exchange) plus one signature. Ratio = bound / measured CPU (1.0 would mean nginx adds nothing to "
        "the crypto; the goal is >= 0.67). Medians of %d runs of %d s each, interleaved; ranges are min-max.\n"
        % (r["clients"], r["runs"], r["seconds"]))
    add("| configuration | handshakes/s | nginx CPU per handshake (us) | crypto bound (us) | ratio bound/measured "
        "| `openssl s_server` CPU per handshake (us) |")
    add("|---|---|---|---|---|---|")
    for row in r["rows"]:
        add("| %s | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.0f | %.2f (%.2f-%.2f) | %.0f |" % (
            row["name"], row["rate"], row["rate_range"][0], row["rate_range"][1], row["cpu"], row["cpu_range"][0],
            row["cpu_range"][1], row["bound"], row["ratio"], row["ratio_range"][0], row["ratio_range"][1],
            row["reference_cpu"]))
    met = [row["name"] for row in r["rows"] if row["ratio"] >= 0.67]
    missed = [row["name"] for row in r["rows"] if row["ratio"] < 0.67]
    add("\nGoal ratio >= 0.67: met by %s; missed by %s.\n" % (", ".join(met) or "none", ", ".join(missed) or "none"))
    add("### Next to HAProxy\n")
    add("%s from Debian 13's package, measured in the same rounds with the same clients: one thread on CPU 0, the same "
        "certificate, TLS 1.3 only and nginx's group list (`curves` set to nginx's `ssl_ecdh_curve`, tuples "
        "included), answering each handshake as nginx does. Goal: nginx's CPU per handshake at or below HAProxy's.\n"
        % r["versions"][-1].split(" - ")[0])
    add("| configuration | nginx handshakes/s | HAProxy handshakes/s | nginx CPU per handshake (us) | HAProxy CPU per handshake (us) | nginx / HAProxy |")
    add("|---|---|---|---|---|---|")
    for row in r["rows"]:
        add("| %s | %.0f | %.0f | %.0f | %.0f (%.0f-%.0f) | %.2f |" % (
            row["name"], row["rate"], row["haproxy_rate"], row["cpu"], row["haproxy_cpu"],
            row["haproxy_cpu_range"][0], row["haproxy_cpu_range"][1], row["cpu"] / row["haproxy_cpu"]))
    at_or_below = [row["name"] for row in r["rows"] if row["cpu"] <= row["haproxy_cpu"]]
    above = [row["name"] for row in r["rows"] if row["cpu"] > row["haproxy_cpu"]]
    add("\nnginx at or below HAProxy: %s; above: %s.\n" % (", ".join(at_or_below) or "none", ", ".join(above) or "none"))
    write_aws_lc(r, add)
    add("Session tickets. After each full handshake the server sends TLS 1.3 session tickets; each is the session encrypted "
        "under the ticket key (nginx with a shared `ssl_session_cache` keeps its keys there and rotates them; it stores no "
        "TLS 1.3 session there while tickets are on, ngx_ssl_new_session in nginx 1.26's ngx_event_openssl.c). The collection sends "
        "%d (`nginx_ssl_session_tickets`; OpenSSL's default is 2). Tickets sent, as `openssl s_client -msg` counted them, "
        "and nginx's CPU per handshake when it sends none (restarted with NumTickets 0, same rounds):\n"
        % r["nginx_tickets"])
    add("| configuration | tickets nginx / HAProxy | nginx CPU (us) | nginx CPU, no tickets (us) | HAProxy CPU (us) |")
    add("|---|---|---|---|---|")
    for row in r["rows"]:
        add("| %s | %d / %d | %.0f | %.0f | %.0f |" % (
            row["name"], row["tickets"][0], row["tickets"][1], row["cpu"], row["no_tickets_cpu"], row["haproxy_cpu"]))
    add("\nnginx without tickets at or below HAProxy (%s tickets): %s; above: %s.\n" % (
        "/".join(sorted({str(row["tickets"][1]) for row in r["rows"]})),
        ", ".join(row["name"] for row in r["rows"] if row["no_tickets_cpu"] <= row["haproxy_cpu"]) or "none",
        ", ".join(row["name"] for row in r["rows"] if row["no_tickets_cpu"] > row["haproxy_cpu"]) or "none"))
    add("Workers. `worker_processes auto` gives nginx one worker per core, 2 here, and the bench pins them to CPU 0, where "
        "HAProxy runs its one thread; there the two workers take turns on one CPU. nginx with one worker on CPU 0, tickets and "
        "everything else as configured, in the same rounds:\n")
    add("| configuration | nginx CPU, %s workers (us) | nginx CPU, one worker (us) | HAProxy CPU (us) | one worker / HAProxy |"
        % r["nginx_worker_count"])
    add("|---|---|---|---|---|")
    for row in r["rows"]:
        add("| %s | %.0f | %.0f | %.0f | %.2f |" % (
            row["name"], row["cpu"], row["one_worker_cpu"], row["haproxy_cpu"], row["one_worker_cpu"] / row["haproxy_cpu"]))
    add("\nnginx with one worker at or below HAProxy: %s; above: %s.\n" % (
        ", ".join(row["name"] for row in r["rows"] if row["one_worker_cpu"] <= row["haproxy_cpu"]) or "none",
        ", ".join(row["name"] for row in r["rows"] if row["one_worker_cpu"] > row["haproxy_cpu"]) or "none"))
    add("The last column of the first table is OpenSSL's own test server, single process, same certificate, same CPU, same clients, "
        "measured in the same rounds: what the TLS stack costs per connection without nginx. Where nginx is "
        "near it, the gap to the bound is OpenSSL's per-connection work (ClientHello parsing, key schedule, "
        "transcript hashes, certificate and session-ticket messages) and the kernel's TCP set-up, not nginx.\n")
    add("Crypto on CPU 0 (`openssl speed -seconds 1`, operations per CPU-second, median of one run per round): " + ", ".join(
        "%s %.0f/s" % (key.replace(":", " "), value) for key, value in sorted(r["speed"].items())
        if key.split(":")[1] in ("encaps", "signs", "sign")) + ".\n")
    add("## Resumed handshakes\n")
    add("X25519MLKEM768 + ML-DSA-44, each connection making one request (`GET /api/health`, proxied to the "
        "backend), because `s_time` reads the TLS 1.3 session tickets only then. Resumed: `s_time -reuse`, every "
        "connection counted as resumed by s_time (and `s_client -sess_in` said \"Reused, TLSv1.3\"). A resumed "
        "handshake still runs the hybrid key exchange (psk_dhe_ke, so forward secrecy stays) but signs nothing "
        "and sends no certificate.\n")
    add("| handshake | handshakes/s | nginx CPU per connection (us) |")
    add("|---|---|---|")
    for label, key in (("full + request", "with_request"), ("resumed + request", "resumed")):
        rate, lo, hi, cpu, cpu_lo, cpu_hi = r[key]
        add("| %s | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) |" % (label, rate, lo, hi, cpu, cpu_lo, cpu_hi))
    add("")
    add("## Bytes on the wire per full handshake\n")
    add("Counted by a TCP relay between `openssl s_client` and nginx, for one connection from ClientHello to "
        "close (includes the session tickets nginx sends after the handshake).\n")
    add("| configuration | client -> server | server -> client |")
    add("|---|---|---|")
    for row in r["rows"]:
        add("| %s | %d | %d |" % (row["name"], row["wire"][0], row["wire"][1]))
    nginx = re.search(r"nginx/([0-9.]+)", " ".join(r["versions"])).group(1)
    add("\nCertificate compression: %s. What it would save, from the served certificates (DER bytes -> zlib, "
        "RFC 8879 algorithm 1; computed, not measured on the wire): %s.\n" % (
            "nginx %s predates 1.29.1, which added `ssl_certificate_compression`, so the table above is "
            "uncompressed" % nginx if tuple(int(x) for x in nginx.split(".")) < (1, 29, 1) else
            "nginx %s has `ssl_certificate_compression`, which the nginx role does not turn on yet" % nginx,
            ", ".join("%s %d -> %d" % (name, raw, packed) for name, (raw, packed) in sorted(r["certs"].items()))))
    add("## Provisioning and probing\n")
    unit = statistics.median(r["baselines"])
    rerun, check = statistics.median(r["reruns"]), statistics.median(r["checks"])
    add("Times of `ansible-playbook playbooks/site.yml` against the bench container (docker connection, the controller "
        "on the same machine), and as multiples of a playbook of 10 `ansible.builtin.stat` tasks on the same host "
        "measured in the same run (median %.1f s of %s), so that the machine's speed cancels out.\n" % (
            unit, ", ".join("%.1f" % x for x in r["baselines"])))
    add("| run | seconds | x baseline | goal |")
    add("|---|---|---|---|")
    add("| cold converge of a fresh Debian 13 container (image already built), changed=%d | %.1f | %.1f | <= 8 |" % (
        r["cold_changed"], r["cold"], r["cold"] / unit))
    add("| idempotent re-run, changed=0 (median of %s) | %.1f | %.1f | <= 4 |" % (
        ", ".join("%.1f" % x for x in r["reruns"]), rerun, rerun / unit))
    add("| `--check --diff` on the converged host, changed=0 (median of %s) | %.1f | %.1f | <= 4 |\n" % (
        ", ".join("%.1f" % x for x in r["checks"]), check, check / unit))
    if r.get("cold_profile"):
        by_role = {}
        for seconds, task in r["cold_profile"]:
            role = re.match(r"pqc[.]edge[.](\w+) : ", task)
            by_role[role.group(1) if role else "site.yml (preflight includes, verification)"] = by_role.get(
                role.group(1) if role else "site.yml (preflight includes, verification)", 0) + seconds
        add("Where the cold converge's time goes, from the same run timed task by task (ansible.posix's profile_tasks): "
            "by role %s; the longest tasks %s. Package installs and the backend's virtualenv are the host's own work; "
            "most other tasks cost one module run each (about %.2f s here, the baseline's tenth).\n" % (
                ", ".join("%s %.1f s" % (k, v) for k, v in sorted(by_role.items(), key=lambda kv: -kv[1])),
                ", ".join("%s %.1f s" % (task, seconds) for seconds, task in r["cold_profile"][:8]), unit / 10))
    add("- `pqc.edge.tls_probe` enumeration of the host: median %.1f ms, %d connections (20 runs, "
        "scripts/bench-probe.py).\n" % (r["probe_ms"], r["probe_connections"]))
    add("![handshakes](handshakes.png)\n")
    write_fleet(r, add)
    (DOCS / "performance.md").write_text("\n".join(out))


def write_aws_lc(r, add):
    """The section on nginx on AWS-LC, with the three goals of issue 28 judged from this run."""
    add("### nginx on AWS-LC\n")
    if r["aws_lc"].get("skipped"):
        add("Not measured in this run: %s.\n" % r["aws_lc"]["skipped"])
        return
    rows = r["rows"]
    by_name = dict((row["name"], row) for row in rows)
    add("nginx %s built from source with `pqc_edge_tls_library: aws-lc` (`nginx -V`: built with %s) by site.yml in a second container, "
        "its workers on CPU 0 and a second client container on CPU 1, measured in the same rounds with the same clients "
        "as nginx on OpenSSL and HAProxy. It sends %s session ticket(s) per full handshake, as configured (nginx's "
        "`ssl_conf_command NumTickets` through pqc.edge's patch); each round also restarts it without tickets. Its crypto bound is AWS-LC's own cost on CPU 0 "
        "(scripts/aws_lc_speed.c, built against that host's AWS-LC: one X25519 key pair and agreement, one ML-KEM-768 "
        "encapsulation for the hybrid, one signature), next to `openssl speed`'s for OpenSSL above.\n" % (
            NGINX_SOURCE[0], r["aws_lc"]["built"], "/".join(sorted({str(row["aws_lc"]["tickets"]) for row in rows}))))
    add("| configuration | AWS-LC handshakes/s | AWS-LC CPU (us) | AWS-LC CPU, no tickets (us) | OpenSSL nginx CPU (us) "
        "| OpenSSL nginx CPU, no tickets (us) | HAProxy CPU (us) | AWS-LC crypto bound (us) | OpenSSL crypto bound (us) "
        "| AWS-LC / OpenSSL, no tickets |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        a = row["aws_lc"]
        add("| %s | %.0f | %.0f (%.0f-%.0f) | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f |" % (
            row["name"], a["rate"], a["cpu"], a["cpu_range"][0], a["cpu_range"][1], a["no_tickets_cpu"], row["cpu"],
            row["no_tickets_cpu"], row["haproxy_cpu"], a["bound"], row["bound"], a["no_tickets_cpu"] / row["no_tickets_cpu"]))
    pq = by_name["X25519MLKEM768 + ML-DSA-44"]
    classical = by_name["X25519 + ECDSA P-256"]
    hybrid_ecdsa = by_name["X25519MLKEM768 + ECDSA P-256"]

    def verdict(ok, measured, goal):
        return ("met" if ok else "missed") + " (%s; goal %s)" % (measured, goal)
    add("\nGoals (issue 28), judged like for like:\n")
    add("- AWS-LC's X25519MLKEM768 + ML-DSA-44 at or below OpenSSL nginx's X25519 + ECDSA P-256, both with %d ticket(s): "
        "%s; both without tickets: %.0f us vs %.0f us." % (
            r["nginx_tickets"], verdict(pq["aws_lc"]["cpu"] <= classical["cpu"], "%.0f us vs %.0f us" % (
                pq["aws_lc"]["cpu"], classical["cpu"]), "<="),
            pq["aws_lc"]["no_tickets_cpu"], classical["no_tickets_cpu"]))
    ratio = hybrid_ecdsa["aws_lc"]["cpu"] / hybrid_ecdsa["cpu"]
    add("- AWS-LC's X25519MLKEM768 + ECDSA P-256 at most 0.7x OpenSSL nginx's: %s; without tickets %.2fx." % (
        verdict(ratio <= 0.7, "%.2fx" % ratio, "<= 0.70x"),
        hybrid_ecdsa["aws_lc"]["no_tickets_cpu"] / hybrid_ecdsa["no_tickets_cpu"]))
    above = [row["name"] for row in rows if row["aws_lc"]["cpu"] > row["haproxy_cpu"]]
    add("- nginx on AWS-LC at or below HAProxy in every configuration: %s.\n" % (
        "met" if not above else "missed in %s" % ", ".join(
            "%s (%.0f vs %.0f us)" % (name, by_name[name]["aws_lc"]["cpu"], by_name[name]["haproxy_cpu"]) for name in above)))
    add("AWS-LC's crypto on CPU 0 (operations per CPU-second, median of one run per round): %s. Bytes on the wire per "
        "full handshake with AWS-LC (client -> server / server -> client): %s.\n" % (
            ", ".join("%s %.0f/s" % item for item in sorted(r["aws_lc"]["speed"].items())),
            ", ".join("%s %d / %d" % (row["name"], row["aws_lc"]["wire"][0], row["aws_lc"]["wire"][1]) for row in rows)))


def batches(hosts, serial=None):
    """The batch sizes of a serial list as Ansible computes them (a percentage is of all hosts, rounded down, at
    least 1; the last entry repeats); by default site.yml's: a canary, then a quarter of the hosts, at least 10."""
    serial = serial or (1, max(10, -(-hosts // 4)))
    sizes, left, index = [], hosts, 0
    while left > 0:
        entry = serial[min(index, len(serial) - 1)]
        size = max(1, int(int(entry[:-1]) / 100.0 * hosts)) if isinstance(entry, str) else entry
        sizes.append(min(size, left))
        left -= sizes[-1]
        index += 1
    return sizes


def projected(hosts, forks, cores, single, cpu_per_host):
    """Seconds for a re-run of `hosts` hosts: each batch takes as long as its slowest wave of `forks` hosts (a single
    host's time each) or as long as the controller needs to do the batch's CPU work on `cores` cores, whichever
    is longer."""
    return sum(max(single * -(-size // forks), size * cpu_per_host / cores) for size in batches(hosts))


def write_fleet(r, add):
    add("## Provisioning a fleet\n")
    add("Fresh Debian 13 containers (%s hosts) converged through `playbooks/site.yml` with its default batches "
        "(a canary, then a quarter of the hosts at a time but at least 10, each batch gated by the probe), "
        "then re-run (changed=0 on every host required); once with ansible's default 5 forks and once with `-f 10`. "
        "Controller CPU is ansible-playbook's with its forks and the `docker exec` clients they start (user + system "
        "time of the bench's children), divided by the hosts. The hosts run on the same 2 cores as the controller.\n"
        % ", ".join(str(size) for size in sorted({f["hosts"] for f in r["fleet"]})))
    add("| hosts | forks | batches | cold converge (s) | controller CPU per host, cold (s) | re-run (s) "
        "| controller CPU per host, re-run (s) | machine CPU per host, re-run (s) |")
    add("|---|---|---|---|---|---|---|---|")
    for f in r["fleet"]:
        add("| %d | %d | %s | %.1f | %.1f | %.1f | %.1f | %.1f |" % (
            f["hosts"], f["forks"], "+".join(str(b) for b in batches(f["hosts"])), f["cold"][0],
            f["cold"][1] / f["hosts"], f["rerun"][0], f["rerun"][1] / f["hosts"], f["rerun_machine"] / f["hosts"]))
    by = {(f["hosts"], f["forks"]): f for f in r["fleet"]}
    small, large = min(f["hosts"] for f in r["fleet"]), max(f["hosts"] for f in r["fleet"])
    if (small, 10) in by and (large, 10) in by:
        ratio = by[(large, 10)]["rerun"][0] / by[(small, 10)]["rerun"][0]
        cold_ratio = by[(large, 10)]["cold"][0] / by[(small, 10)]["cold"][0]
        single = by[(small, 10)]["rerun"][0]
        cpu_per_host = by[(large, 10)]["rerun"][1] / large
        add("\nRe-run with `-f 10`: T(%d) / T(%d) = %.1f (goal <= 3: %s); cold converge: %.1f.\n" % (
            large, small, ratio, "met" if ratio <= 3 else "not met", cold_ratio))
        machine = by[(large, 10)]["rerun_machine"] / large
        cores = r["cores"]
        floor = single + (large - 1) * machine / cores
        add("Where the time goes. A run of one converged host costs the controller %.1f s of CPU (%.0f%% of its "
            "%.1f s), and the whole machine (controller, docker daemon, the host's own work) %.1f s per host in the "
            "%d-host run: one host's run is a chain of processes that keeps about one core busy, so %d hosts on this "
            "machine's %d cores cannot go faster than the canary's run plus the others' CPU spread over the cores: "
            "%.1f + %d x %.1f / %d = %.0f s, T(%d) / T(%d) >= %.1f whatever the forks or the batches. Forks beyond "
            "the cores only queue. Connection set-up is inside the CPU above (one `docker exec` per task here; over "
            "SSH, ControlPersist keeps one connection per host). The goal of 3 needs the hosts' work elsewhere and "
            "more controller cores than a run of one host keeps busy (the table below).\n"
            % (by[(small, 10)]["rerun"][1] / small, 100 * by[(small, 10)]["rerun"][1] / small / single, single,
               machine, large, large, cores, single, large - 1, machine, cores, floor, large, small, floor / single))
        if "rerun_quarters" in by[(large, 10)]:
            quarters = by[(large, 10)]["rerun_quarters"]
            add("Batches: each is a whole pass of the play and its gate, whatever its size. The same %d-host re-run "
                "with `-f 10` in quarters without a floor (`pqc_edge_serial: [1, \"25%%\"]`, %s, site.yml's default "
                "before this one): %.1f s, T(%d) / T(%d) = %.1f, against %.1f s in the default's %s.\n" % (
                    large, "+".join(str(b) for b in batches(large, QUARTERS)), quarters[0], large, small,
                    quarters[0] / single, by[(large, 10)]["rerun"][0], "+".join(str(b) for b in batches(large))))
        add("A 200-host re-run, computed from these measurements (one host's re-run %.1f s, controller CPU per host "
            "%.1f s from the %d-host run), assuming the hosts are elsewhere so that their own work overlaps, the "
            "same per-task latency, and site.yml's default batches (%s): each batch takes the longer of its forks "
            "waves (a host's time each) and its CPU work spread over the controller's cores.\n" % (
                single, cpu_per_host, large, "+".join(str(b) for b in batches(200))))
        add("| controller cores | -f 5 | -f 10 | -f 25 | -f 50 |")
        add("|---|---|---|---|---|")
        for cores in (2, 8, 16):
            minutes = [projected(200, forks, cores, single, cpu_per_host) / 60 for forks in (5, 10, 25, 50)]
            add("| %d | %s |" % (cores, " | ".join("%.0f min" % m for m in minutes)))
        add("")
    add("![fleet](fleet.png)\n")


def write_fleet_chart(r):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axis = pyplot.subplots(figsize=(7, 4.2))
    for forks, style in ((5, "-"), (10, "--")):
        rows = sorted((f for f in r["fleet"] if f["forks"] == forks), key=lambda f: f["hosts"])
        axis.plot([f["hosts"] for f in rows], [f["cold"][0] for f in rows], style, marker="o", color="#c0504d",
                  label="cold converge, -f %d" % forks)
        axis.plot([f["hosts"] for f in rows], [f["rerun"][0] for f in rows], style, marker="o", color="#3a6ea5",
                  label="idempotent re-run, -f %d" % forks)
    axis.set_xlabel("hosts (fresh Debian 13 containers)")
    axis.set_ylabel("seconds, site.yml with its batches")
    axis.set_title("pqc.edge, %s, %d cores (controller and hosts)" % (r["date"][:10], r["cores"]))
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(DOCS / "fleet.png", dpi=100)


def write_chart(r):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    names = [row["name"].replace(" + ", "\n+ ") for row in r["rows"]]
    figure, (left, right) = pyplot.subplots(1, 2, figsize=(11, 4.2))
    positions = range(len(names))
    # nginx on OpenSSL, HAProxy and, where measured, nginx on AWS-LC, side by side.
    series = [("nginx (OpenSSL)", "rate", "cpu", "#3a6ea5"), ("HAProxy (OpenSSL)", "haproxy_rate", "haproxy_cpu", "#9bbb59")]
    if all("aws_lc" in row for row in r["rows"]):
        series.append(("nginx (AWS-LC)", None, None, "#f79646"))
    width = 0.8 / len(series)
    for index, (label, rate, cpu, color) in enumerate(series):
        offset = [p - 0.4 + width * (index + 0.5) for p in positions]
        left.bar(offset, [row[rate] if rate else row["aws_lc"]["rate"] for row in r["rows"]], width=width, label=label,
                 color=color)
        right.bar(offset, [row[cpu] if cpu else row["aws_lc"]["cpu"] for row in r["rows"]], width=width, label=label,
                  color=color)
    right.plot(list(positions), [row["bound"] for row in r["rows"]], "_", markersize=30, color="#c0504d",
               label="OpenSSL crypto bound")
    left.set_title("full handshakes per second (median)")
    left.legend(fontsize=8)
    right.set_title("server CPU per handshake, microseconds")
    right.legend()
    for axis in (left, right):
        axis.set_xticks(list(positions))
        axis.set_xticklabels(names, fontsize=7)
    figure.suptitle("pqc.edge, %s, %d cores" % (r["date"][:10], r["cores"]))
    figure.tight_layout()
    figure.savefig(DOCS / "handshakes.png", dpi=100)


if __name__ == "__main__":
    main()
