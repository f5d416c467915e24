"""The non-default choices of the options scenario, and bad input against its converged host."""

import contextlib
import re
import time

import pytest

import bad_input

HTTPS = "127.0.0.1:8443"


def handshake_ok(host, *args):
    cmd = host.run("openssl s_client -connect %s %s </dev/null 2>&1" % (HTTPS, " ".join(args)))
    return cmd.rc == 0, cmd.stdout


@pytest.mark.parametrize("algorithm, client_args", [
    ("mldsa44", "-groups X25519MLKEM768"),
    ("ecdsa", "-groups X25519 -sigalgs ecdsa_secp256r1_sha256"),
])
def test_server_certificates_chain_to_the_private_ca(host, algorithm, client_args):
    ok, out = handshake_ok(
        host, client_args, "-CAfile /etc/pqc-edge/ca/%s-ca.crt" % algorithm,
        "-verify_return_error -verify_hostname localhost -servername localhost",
    )
    assert ok, out
    assert "Verify return code: 0 (ok)" in out


def test_ca_keys_are_root_only(host):
    for algorithm in ("mldsa44", "ecdsa"):
        f = host.file("/etc/pqc-edge/ca/%s-ca.key" % algorithm)
        assert (f.user, f.mode) == ("root", 0o600)


@contextlib.contextmanager
def port_held(host, port):
    """Another program (a transient systemd unit) listening on 127.0.0.1:<port> for the duration."""
    unit = "pqc-edge-test-holder-%d" % port
    holder = host.run("systemd-run --unit %s python3 -m http.server --bind 127.0.0.1 %d" % (unit, port))
    assert holder.rc == 0, holder.stderr
    try:
        for dummy in range(50):
            if host.socket("tcp://127.0.0.1:%d" % port).is_listening:
                break
            time.sleep(0.1)
        yield
    finally:
        host.run("systemctl stop %s" % unit)


def snapshot(host):
    """What must not change when a run fails: files, the running nginx and the backend."""
    files = ("/etc/nginx/nginx.conf /etc/nginx/sites-available/* /etc/pqc-edge/tls/default/* /etc/pqc-edge/ca/*"
             " /etc/systemd/system/pqc-edge-backend.service /etc/systemd/system/pqc-edge-backend.socket")
    return (
        host.run("sha256sum %s" % files).stdout,
        host.run("ls -l --time-style=+ /etc/nginx /etc/nginx/sites-available /etc/nginx/sites-enabled").stdout,
        host.run("systemctl show -p MainPID --value nginx pqc-edge-backend").stdout,
        host.run("pgrep -P $(cat /run/nginx.pid) | sort").stdout,
    )


TLS = "/etc/pqc-edge/tls/default/"
# The scenario's site as its inventory has it (the default), for variations of it.
SITE = {"name": "default", "server_names": ["pqc-edge-options"], "default_server": True,
        "locations": [{"path": "/", "proxy": "backend"}]}


def sites(**changes):
    """Extra variables with the scenario's one site changed."""
    return {"pqc_edge_sites": [dict(SITE, **changes)]}


# Each checked in one ansible-playbook run (bad_input.py) by the preflights that check its variables, the message
# naming the value.
BAD_INPUT = [
    pytest.param({"nginx_groups": ["X25519MLKEM768", "X25519MLKEM999"]}, "X25519MLKEM999", id="unknown-group"),
    # Known to the registry, but only oqs-provider offers it: the host's OpenSSL 3.5 rejects it.
    pytest.param({"nginx_groups": ["p256_mlkem512", "X25519"]}, "p256_mlkem512", id="group-host-lacks"),
    pytest.param({"nginx_groups": ["X25519", "secp256r1"]}, "hybrid or post-quantum", id="no-pq-group"),
    pytest.param({"nginx_group_policy": "enforced"}, "enforced", id="policy-typo"),
    pytest.param({"nginx_tls_protocols": ["TLSv1.4"]}, "TLSv1.4", id="tls-version-typo"),
    pytest.param({"certificates_pq_algorithm": "mldsa99"}, "mldsa99", id="unknown-cert-algorithm"),
    pytest.param({"certificates_subject_alt_names": ["DNS:bad name"]}, "DNS:bad name", id="invalid-san"),
    pytest.param({"backend_socket": "backend.sock"}, "backend_socket=backend.sock", id="backend-socket-not-absolute"),
    # systemd could not create the socket for a missing group, so the backend would not start.
    pytest.param({"backend_socket_group": "no-such-group"}, "backend_socket_group=no-such-group",
                 id="backend-socket-group-missing"),
    pytest.param({"backend_workers": 0}, "backend_workers=0", id="backend-no-workers"),
    # The values a new user tried that slipped through before (issue "every option's bad values rejected").
    pytest.param({"backend_workers": 100000}, "backend_workers=100000: a number of worker processes from 1 to",
                 id="backend-too-many-workers"),
    pytest.param({"nginx_worker_connections": -5}, "nginx_worker_connections=-5: a number of connections per worker",
                 id="negative-worker-connections"),
    pytest.param({"certificates_common_name": ""}, 'certificates_common_name="": no longer read',
                 id="removed-variable"),
    pytest.param({"nginx_http_port": 8443}, "nginx_http_port=8443", id="http-port-same-as-https"),
    pytest.param({"certificates_renew_days": 400}, "certificates_renew_days=400", id="renewal-after-expiry"),
    pytest.param({"certificates_dir": "/etc/hostname/tls"}, "/etc/hostname is not a writable directory",
                 id="file-in-the-way-of-a-directory"),
    # /sys is mounted read-only in the container.
    pytest.param({"certificates_dir": "/sys/pqc-edge/tls"}, "/sys is not a writable directory",
                 id="read-only-file-system"),
    # Sites as data: each kind of bad site or location is named before anything is written.
    pytest.param(sites(locations=[{"path": "app/", "proxy": "backend"}]), '"path": "app/"', id="location-path-not-absolute"),
    pytest.param(sites(locations=[{"path": "/", "proxy": "nowhere"}]), '"proxy": "nowhere"', id="proxy-to-unknown-upstream"),
    pytest.param(sites(locations=[{"path": "/", "proxy": "backend", "root": "/srv"}]), "mutually exclusive: proxy|root|return",
                 id="location-with-two-targets"),
    pytest.param(sites(server_names=["bad name.example"]), "bad name.example", id="invalid-server-name"),
    pytest.param({"pqc_edge_sites": [SITE, dict(SITE, default_server=False)]}, "site 'default' is not valid",
                 id="two-sites-with-one-name"),
]
# Whole runs of site.yml, one per area (the sites, a certificate file on the host, the crypto provider, which decides
# which preflights run): the run fails, nothing on the host changes and nginx keeps serving.
BAD_INPUT_WHOLE_RUN = [
    pytest.param({"pqc_edge_sites": [SITE, dict(SITE, name="other", default_server=False)]},
                 "pqc-edge-options on port 8443 claimed by more than one site", id="one-name-on-two-sites"),
    # Bring-your-own certificates whose key belongs to another certificate.
    pytest.param(sites(certificates=[
        {"algorithm": "mldsa44", "certificate": TLS + "mldsa44.crt", "private_key": TLS + "ecdsa.key"},
    ]), TLS + "ecdsa.key is not the key of " + TLS + "mldsa44.crt", id="byo-key-mismatch"),
    # oqs-provider has no published digest to pin by default, so choosing it needs one.
    pytest.param({"pqc_edge_crypto_provider": "oqsprovider"}, "oqs_provider_source_sha256=''",
                 id="provider-without-pinned-source"),
]


def named_in(named, output):
    # The callback folds long messages over lines.
    return named in output or named in " ".join(output.split())


def test_bad_input_fails_in_the_preflights_naming_it(host, run_playbook, tmp_path):
    before = snapshot(host)
    cases = [{"id": n, "title": p.id, "vars": p.values[0], "preflights": bad_input.preflights_of(p.values[0])}
             for n, p in enumerate(BAD_INPUT)]
    records, seconds = bad_input.run(cases, run_playbook, tmp_path)
    print("\n%d hand-written bad inputs refused in %.0f s" % (len(cases), seconds))
    wrong = ["%s: %s" % (p.id, "slipped through" if not records[n]["failed"] else records[n]["msg"][:300])
             for n, p in enumerate(BAD_INPUT) if not records[n]["failed"] or not named_in(p.values[1], records[n]["msg"])]
    assert not wrong, "\n".join(wrong)
    assert snapshot(host) == before
    ok, out = handshake_ok(host, "-groups X25519MLKEM768")
    assert ok and "Negotiated TLS1.3 group: X25519MLKEM768" in out


@pytest.mark.parametrize("extra_vars, named", BAD_INPUT_WHOLE_RUN)
def test_bad_input_fails_before_the_host_changes(host, extra_vars, named, run_site):
    before = snapshot(host)
    result = run_site(extra_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert named_in(named, output), output
    assert "changed: " not in result.stdout, output
    assert snapshot(host) == before
    ok, out = handshake_ok(host, "-groups X25519MLKEM768")
    assert ok and "Negotiated TLS1.3 group: X25519MLKEM768" in out


def test_configuration_nginx_refuses_is_taken_back(host, run_site):
    """Well formed for the schema, refused by nginx -t: the previous files come back and nginx is not reloaded."""
    before = snapshot(host)
    result = run_site({"pqc_edge_sites": [dict(SITE, extra_directives=["no_such_directive on;"]),
                                          dict(SITE, name="second", server_names=["second.example"], default_server=False,
                                               certificates=[{"algorithm": "ecdsa", "certificate": TLS + "ecdsa.crt",
                                                              "private_key": TLS + "ecdsa.key"}])]})
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert 'unknown directive "no_such_directive" in /etc/nginx/sites-enabled/pqc-edge-default.conf' in output, output
    assert "the previous files were put back, nginx was not reloaded" in output, output
    # nginx's own [emerg] line is in the play's failure message itself, not only in the command's stderr.
    assert re.search(r"nginx was not reloaded: [^|]*\[emerg\][^|]*unknown directive", " ".join(output.split())), output
    assert "RUNNING HANDLER" not in result.stdout, output
    assert snapshot(host) == before
    assert not host.file("/etc/nginx/sites-available/pqc-edge-second.conf").exists
    assert host.run("ls /etc/nginx/sites-available | grep -c '~$'").stdout.strip() == "0"
    ok, out = handshake_ok(host, "-groups X25519MLKEM768")
    assert ok and "Negotiated TLS1.3 group: X25519MLKEM768" in out


def test_reload_that_nginx_cannot_apply_is_named_and_taken_back(host, run_site):
    """nginx -t tolerates a listener whose port is in use (it would be nginx's own); the master's reload cannot bind it.

    Another program holds 127.0.0.1:9446 and a site's extra directive listens there: not a site port, so the
    preflight lets it through, and nginx -t passes. systemd reports the reload as done; the role must see that no
    new worker came, name nginx's [emerg] line, and put the previous files back (the running nginx never left them).
    """
    with port_held(host, 9446):
        before = snapshot(host)
        result = run_site(sites(extra_directives=["listen 127.0.0.1:9446 ssl;"]))
        output = " ".join((result.stdout + result.stderr).split())
        assert result.returncode != 0, output
        assert "its reload did not take and nginx goes on with the previous one" in output, output
        assert "bind() to 127.0.0.1:9446 failed (98: Address already in use)" in output, output
        assert snapshot(host) == before
    ok, out = handshake_ok(host, "-groups X25519MLKEM768")
    assert ok and "Negotiated TLS1.3 group: X25519MLKEM768" in out


def test_restart_that_nginx_cannot_complete_is_named_and_nginx_runs_the_previous_files(host, run_site):
    """A master running a binary that was replaced since (as after a new build) is restarted, not reloaded. The new
    configuration passes nginx -t but cannot bind 127.0.0.1:9446, which another program holds: the restart fails,
    the role names nginx's [emerg] line, puts the previous files back and starts nginx on them."""
    replaced = host.run("cp -p /usr/sbin/nginx /usr/sbin/nginx.new && mv /usr/sbin/nginx.new /usr/sbin/nginx")
    assert replaced.rc == 0, replaced.stderr
    with port_held(host, 9446):
        files_before = snapshot(host)[:2]
        result = run_site(sites(extra_directives=["listen 127.0.0.1:9446 ssl;"]))
        output = " ".join((result.stdout + result.stderr).split())
        assert result.returncode != 0, output
        assert ("the previous files were put back, its restart failed: "
                "bind() to 127.0.0.1:9446 failed (98: Address already in use)") in output, output
        assert "nginx was started again on them" in output, output
        assert snapshot(host)[:2] == files_before
        assert host.service("nginx").is_running
    ok, out = handshake_ok(host, "-groups X25519MLKEM768")
    assert ok and "Negotiated TLS1.3 group: X25519MLKEM768" in out
    # The master now runs the installed binary: the next run has nothing to restart.
    again = run_site({})
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout + again.stderr


def test_port_held_by_another_program_fails_before_the_host_changes(host, run_site):
    """nginx could not bind a port another program holds: caught before its configuration is written."""
    with port_held(host, 9443):
        before = snapshot(host)
        result = run_site({"nginx_https_port": 9443})
        output = result.stdout + result.stderr
        assert result.returncode != 0, output
        assert "port 9443 of pqc_edge_sites is already in use on" in output and "python3,pid=" in output, output
        assert "nginx_https_port=9443" in output, output
        assert "changed: " not in result.stdout, output
        assert snapshot(host) == before
    ok, out = handshake_ok(host, "-groups X25519MLKEM768")
    assert ok and "Negotiated TLS1.3 group: X25519MLKEM768" in out


def test_bring_your_own_certificates_are_served_unchanged(host, run_site):
    """The certificates already on the host, given as the site's own certificates, converge with no change."""
    provided = [
        {"algorithm": algorithm, "certificate": TLS + "%s.crt" % algorithm, "private_key": TLS + "%s.key" % algorithm}
        for algorithm in ("mldsa44", "ecdsa")
    ]
    before = snapshot(host)
    result = run_site(sites(certificates=provided))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "changed=0" in result.stdout, result.stdout
    assert snapshot(host) == before


def test_stock_default_site_is_disabled_only_where_a_site_needs_port_80(host, run_site):
    """The package's untouched default site listens on port 80: moving the sites' HTTP there disables it, saying so."""
    assert host.file("/etc/nginx/sites-enabled/default").is_symlink
    try:
        result = run_site({"nginx_http_port": 80})
        output = " ".join((result.stdout + result.stderr).split())
        assert result.returncode == 0, output
        assert "/etc/nginx/sites-enabled/default (the package's untouched default site, port 80) is disabled" in output
        assert not host.file("/etc/nginx/sites-enabled/default").exists
        assert host.file("/etc/nginx/sites-available/default").exists
        redirect = host.run("curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: pqc-edge-options' "
                            "http://127.0.0.1:80/x")
        assert redirect.stdout == "301 https://pqc-edge-options:8443/x", redirect.stdout
    finally:
        restored = run_site({})
        assert restored.returncode == 0, restored.stdout + restored.stderr


def test_quic_that_does_not_answer_fails_the_batch_gate_naming_it(host, run_site):
    """TCP answers with the hybrid, QUIC does not: the gate must fail the host with that reason.

    The probe's UDP port is mapped (pqc_edge_probe_quic_ports, as behind a NAT that forwards UDP elsewhere) to a
    port where a program holds the socket and never answers, as a firewall that drops UDP looks from outside.
    """
    unit = "pqc-edge-test-silent-udp"
    host.run("systemd-run --unit %s python3 -c 'import socket, time; s = socket.socket(socket.AF_INET, "
             "socket.SOCK_DGRAM); s.bind((\"127.0.0.1\", 9447)); time.sleep(120)'" % unit)
    try:
        result = run_site({"pqc_edge_probe_quic_ports": {"8443": 9447}})
    finally:
        host.run("systemctl stop %s" % unit)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output
    assert ("pqc-edge-options (127.0.0.1:9447/udp, HTTP/3, server name pqc-edge-options, "
            "/etc/nginx/sites-enabled/pqc-edge-default.conf:") in output, output
    assert "did not answer over QUIC: no QUIC answer from 127.0.0.1 UDP port 9447 within 5.0 s" in output, output
    # TCP itself was fine: its row in the table shows the hybrid.
    assert "pqc-edge-options:8443 site default X25519MLKEM768" in output, output


def test_http3_can_be_turned_off_and_on_again(host, run_site):
    """nginx_http3: false takes the QUIC listener and the Alt-Svc header away; the default brings them back."""
    try:
        result = run_site({"nginx_http3": False})
        assert result.returncode == 0, result.stdout + result.stderr
        assert not host.socket("udp://0.0.0.0:8443").is_listening
        headers = host.run("curl -sk -o /dev/null -D - https://%s/api/health" % HTTPS).stdout.lower()
        assert "alt-svc" not in headers, headers
        assert host.run("curl -sk --http3-only --max-time 3 https://%s/api/health" % HTTPS).rc != 0
    finally:
        restored = run_site({})
        assert restored.returncode == 0, restored.stdout + restored.stderr
    assert host.socket("udp://0.0.0.0:8443").is_listening
    assert host.run("curl -sk --http3-only https://%s/api/health" % HTTPS).rc == 0


def test_an_operators_broken_server_block_is_named_with_nginx_emerg_line_before_anything_changes(host, run_site):
    """Someone else's file nginx cannot load: the preflight quotes nginx's [emerg] line, and nothing is written."""
    host.run("printf 'server {\\n    listen 8449;\\n    no_such_directive on;\\n}\\n' > /etc/nginx/conf.d/broken.conf")
    try:
        before = snapshot(host)
        result = run_site({})
        output = " ".join((result.stdout + result.stderr).split())
        assert result.returncode != 0, output
        assert "nginx -T failed: " in output and "[emerg]" in output, output
        assert 'unknown directive "no_such_directive" in /etc/nginx/conf.d/broken.conf:3' in output, output
        assert "changed: " not in result.stdout, output
        assert snapshot(host) == before
    finally:
        host.run("rm -f /etc/nginx/conf.d/broken.conf")
    ok, out = handshake_ok(host, "-groups X25519MLKEM768")
    assert ok and "X25519MLKEM768" in out


OPERATOR_SITE = "/etc/nginx/sites-available/pqc-edge-operator.conf"


def test_retiring_sites_removes_only_what_pqc_edge_wrote_as_it_wrote_it(host, run_site):
    """A second pqc.edge site is added, then dropped from the list: its file and link go. An operator's own
    sites-available/pqc-edge-operator.conf (no seal), enabled and serving, and a pqc.edge site file an operator
    edited, are kept and named, and go on serving."""
    host.run("printf 'server {\\n    listen 127.0.0.1:8091;\\n    return 200 operator;\\n}\\n' > %s && "
             "ln -sf ../sites-available/pqc-edge-operator.conf /etc/nginx/sites-enabled/ && systemctl reload nginx" % OPERATOR_SITE)
    second = dict(SITE, name="second", server_names=["second.example"], default_server=False)
    edited = dict(SITE, name="edited", server_names=["edited.example"], default_server=False)
    try:
        added = run_site({"pqc_edge_sites": [SITE, second, edited]})
        assert added.returncode == 0, (added.stdout + added.stderr)[-3000:]
        assert host.file("/etc/nginx/sites-available/pqc-edge-second.conf").contains("^# pqc.edge sha256 ")
        host.run("sed -i 's/^# pqc.edge site edited$/# pqc.edge site edited (edited by hand)/' "
                 "/etc/nginx/sites-available/pqc-edge-edited.conf")
        dropped = run_site({})
        said = " ".join((dropped.stdout + dropped.stderr).split())
        assert dropped.returncode == 0, said[-3000:]
        assert not host.file("/etc/nginx/sites-available/pqc-edge-second.conf").exists
        assert not host.file("/etc/nginx/sites-enabled/pqc-edge-second.conf").exists
        assert ("pqc-edge-options: kept /etc/nginx/sites-available/pqc-edge-edited.conf, %s (and any link" % OPERATOR_SITE
                in said), said[-3000:]
        assert host.file(OPERATOR_SITE).exists and host.file("/etc/nginx/sites-enabled/pqc-edge-operator.conf").is_symlink
        assert host.file("/etc/nginx/sites-available/pqc-edge-edited.conf").contains("edited by hand")
        assert host.run("curl -s http://127.0.0.1:8091/").stdout == "operator"
    finally:
        host.run("rm -f %s /etc/nginx/sites-enabled/pqc-edge-operator.conf /etc/nginx/sites-available/pqc-edge-edited.conf "
                 "/etc/nginx/sites-enabled/pqc-edge-edited.conf && systemctl reload nginx" % OPERATOR_SITE)
