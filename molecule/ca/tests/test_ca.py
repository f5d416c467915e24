"""Certificates clients can verify: the fleet CA's ML-DSA certificates and Pebble's ACME certificates, clients that
trust only those roots, where the CA keys are (and are not), serials, renewal under load, and refused names.

These tests drive plays against the whole scenario, so they run once (no `host` fixture); a test that changes the
certificates leaves the edges converged.
"""

import json
import os
import shlex
import subprocess
import time

import testinfra

CA = "pqc-edge-ca-root"
EDGES = ["pqc-edge-ca-edge-1", "pqc-edge-ca-edge-2"]
# A host that calls the edges and is no edge.
CLIENT = "pqc-edge-ca-client"
INVENTORY = os.environ.get("MOLECULE_INVENTORY_FILE", "")
EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
# As molecule.yml sets certificates_fleet_ca_local_dir.
LOCAL_ROOTS = os.path.join(EPHEMERAL, "fleet-ca")
# Pebble's root, fetched by prepare.yml: the test clients' only trust for the classical certificates.
ACME_ROOT = os.path.join(EPHEMERAL, "acme-root.pem")
CA_DIR = "/etc/pqc-edge/ca"
TLS_DIR = "/etc/pqc-edge/tls"


def node(name):
    return testinfra.get_host("ansible://%s?ansible_inventory=%s" % (name, INVENTORY))


def ansible_playbook(playbook, extra_vars=None, *args):
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    cmd = ["ansible-playbook", "-i", INVENTORY, playbook] + list(args)
    if extra_vars:
        cmd += ["-e", json.dumps(extra_vars)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env, check=False)


def converge(extra_vars=None):
    return ansible_playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"), extra_vars)


def put_client_roots(edge):
    """The controller's copy of the roots, as a client would be given them, in a directory of the client's own."""
    edge.run("rm -rf /root/client && mkdir -p /root/client")
    for name, path in (("mldsa65-root.crt", os.path.join(LOCAL_ROOTS, "mldsa65-root.crt")), ("acme-root.crt", ACME_ROOT)):
        with open(path) as f:
            content = f.read()
        assert "BEGIN CERTIFICATE" in content and "PRIVATE KEY" not in content
        edge.run("cat > /root/client/%s <<'EOF'\n%sEOF" % (name, content))
    edge.run("cat /root/client/mldsa65-root.crt /root/client/acme-root.crt > /root/client/roots.pem")


def s_client(edge, name, ca_file, extra):
    return edge.run(
        "openssl s_client -connect 127.0.0.1:8443 -servername %s -verify_hostname %s -verify_return_error -CAfile %s "
        "-no-CApath -no-CAstore %s </dev/null 2>&1" % (name, name, ca_file, extra))


def serial_of(edge, path):
    return edge.run("openssl x509 -in %s -noout -serial" % path).stdout.strip()


def test_post_quantum_client_with_only_the_mldsa_root_verifies_and_gets_the_hybrid():
    for name in EDGES:
        edge = node(name)
        put_client_roots(edge)
        out = s_client(edge, name, "/root/client/mldsa65-root.crt", "-groups X25519MLKEM768 -sigalgs mldsa44").stdout
        assert "Verification: OK" in out, out
        assert "Negotiated TLS1.3 group: X25519MLKEM768" in out, out
        assert "Peer signature type: mldsa44" in out or "Peer signature type: ML-DSA-44" in out, out
        # The other root alone does not verify it: the chain really ends at the ML-DSA root.
        wrong = s_client(edge, name, "/root/client/acme-root.crt", "-groups X25519MLKEM768 -sigalgs mldsa44")
        assert wrong.rc != 0 and "Verification: OK" not in wrong.stdout


def test_classical_client_with_only_the_acme_root_verifies_the_acme_certificate():
    for name in EDGES:
        edge = node(name)
        put_client_roots(edge)
        out = s_client(edge, name, "/root/client/acme-root.crt",
                       "-groups X25519 -sigalgs rsa_pss_rsae_sha256:ecdsa_secp256r1_sha256").stdout
        assert "Verification: OK" in out, out
        assert "Peer Temp Key: X25519," in out, out
        issuer = edge.run("openssl x509 -in %s/default/ecdsa.crt -noout -issuer" % TLS_DIR).stdout
        assert "Pebble Intermediate CA" in issuer, issuer


def test_curl_with_only_the_roots_gets_200_from_each_edge():
    for name in EDGES:
        edge = node(name)
        put_client_roots(edge)
        code = edge.run("curl -s -o /dev/null -w '%%{http_code}' --cacert /root/client/roots.pem --resolve %s:8443:127.0.0.1 "
                        "https://%s:8443/api/health" % (name, name))
        assert code.stdout == "200", code.stdout + code.stderr
        # And without the roots, curl does not trust the edge (edge 2 has no fleet root in its trust store).
    untrusted = node(EDGES[1]).run("curl -s -o /dev/null --resolve %s:8443:127.0.0.1 https://%s:8443/api/health" % (EDGES[1], EDGES[1]))
    assert untrusted.rc == 60, untrusted.rc


def test_trust_store_holds_the_roots_where_asked():
    trusting = node(EDGES[0])
    assert trusting.file("/usr/local/share/ca-certificates/pqc-edge-fleet-mldsa65-root.crt").exists
    code = trusting.run("curl -s -o /dev/null -w '%%{http_code}' --resolve %s:8443:127.0.0.1 https://%s:8443/api/health"
                        % (EDGES[0], EDGES[0]))
    assert code.stdout == "200", code.stdout + code.stderr
    assert not node(EDGES[1]).file("/usr/local/share/ca-certificates/pqc-edge-fleet-mldsa65-root.crt").exists


def public_keys_of_private_keys(host, dirs):
    """The public key of every PEM private key under dirs on a container."""
    found = host.run("grep -rlI -e 'PRIVATE KEY-----' %s 2>/dev/null || true" % " ".join(dirs)).stdout.split()
    return dict((path, host.run("openssl pkey -in %s -pubout" % shlex.quote(path)).stdout) for path in found)


def test_no_ca_private_key_outside_the_ca_host():
    ca = node(CA)
    # The ML-DSA root, and the ECDSA one that the client host's classical client certificate needs (the edges' classical
    # certificates come from ACME).
    # Each root and the intermediate it signed, which signs the certificates.
    names = ("ecdsa-intermediate", "ecdsa-root", "mldsa65-intermediate", "mldsa65-root")
    root_publics = [ca.run("openssl x509 -in %s/%s.crt -noout -pubkey" % (CA_DIR, name)).stdout for name in names]
    assert all("BEGIN PUBLIC KEY" in key for key in root_publics)
    # The search finds them where they are, so it would find them elsewhere.
    on_ca = public_keys_of_private_keys(ca, [CA_DIR])
    assert sorted(on_ca) == ["%s/%s.key" % (CA_DIR, name) for name in names]
    assert sorted(on_ca.values()) == sorted(root_publics)
    assert all(ca.file("%s/%s.key" % (CA_DIR, name)).mode == 0o600 for name in names) and ca.file(CA_DIR).mode == 0o700
    searched = ["/etc", "/root", "/tmp", "/var", "/opt", "/srv", "/home", "/usr/local"]
    for name in EDGES:
        keys = public_keys_of_private_keys(node(name), searched)
        # The edge's own ML-DSA and ECDSA keys and its ACME account key.
        assert sorted(keys) == ["/etc/pqc-edge/acme/account.key", TLS_DIR + "/default/ecdsa.key", TLS_DIR + "/default/mldsa44.key"], keys
        assert not set(keys.values()) & set(root_publics), keys
    keys = public_keys_of_private_keys(node(CLIENT), searched)
    assert sorted(keys) == ["/etc/pqc-edge/client/ecdsa.key", "/etc/pqc-edge/client/mldsa44.key"], keys
    assert not set(keys.values()) & set(root_publics), keys
    # The controller: everything the runs wrote (molecule's directory with the fetched roots, Ansible's temporary files).
    controller = testinfra.get_host("local://")
    local = public_keys_of_private_keys(controller, [EPHEMERAL, os.path.expanduser("~/.ansible/tmp")])
    assert not set(local.values()) & set(root_publics), sorted(local)
    # The roots and the revocation lists of the roots and the intermediates, nothing else.
    assert sorted(os.listdir(LOCAL_ROOTS)) == ["ecdsa-intermediate.crl.pem", "ecdsa-root.crl.pem", "ecdsa-root.crt",
                                               "mldsa65-intermediate.crl.pem", "mldsa65-root.crl.pem", "mldsa65-root.crt"]


def test_serials_are_unique_and_recorded_on_the_ca_host():
    index = node(CA).file("%s/issued/index.tsv" % CA_DIR).content_string.splitlines()
    serials = [line.split("\t")[1] for line in index]
    assert len(serials) >= 2 and len(set(serials)) == len(serials)
    requesters = [line.split("\t")[3] for line in index]
    assert sorted(set(requesters)) == sorted(EDGES + [CLIENT])
    for name in EDGES:
        for algorithm in ("mldsa44",):
            serial = serial_of(node(name), "%s/default/%s.crt" % (TLS_DIR, algorithm)).partition("=")[2]
            assert serial in serials


# Runs until the test stops it, bounded by a deadline, so that a slow machine cannot end it mid-run.
LOOP = (
    "date +%s > /root/loop.start; deadline=$(( $(date +%s) + 900 )); : > /root/loop.codes; "
    "while [ ! -f /root/loop.stop ] && [ $(date +%s) -lt $deadline ]; do "
    "curl -s -o /dev/null -w '%{http_code}\\n' --max-time 3 --cacert /root/client/roots.pem --resolve NAME:8443:127.0.0.1 "
    "https://NAME:8443/api/health >> /root/loop.codes; sleep 0.02; done; date +%s > /root/loop.end"
)


def test_forced_renewal_changes_the_certificates_and_fails_no_request():
    edges = [node(name) for name in EDGES]
    before = {}
    for name, edge in zip(EDGES, edges):
        put_client_roots(edge)
        before[name] = [serial_of(edge, "%s/default/%s.crt" % (TLS_DIR, a)) for a in ("mldsa44", "ecdsa")]
        edge.run("rm -f /root/loop.*")
        edge.run("setsid sh -c %s >/dev/null 2>&1 < /dev/null &" % shlex.quote(LOOP.replace("NAME", name)))
    time.sleep(2)
    started = time.time()
    # Every certificate now expires "within 3000 days" (the fleet CA's of 365 days, Pebble's of 5 years): the ordinary
    # renewal path, for all of them. The fleet CA's new ones are valid for 3650 days, so the plain converge after them
    # changes nothing.
    result = converge({"certificates_renew_days": 3000, "certificates_valid_days": 3650, "certificates_fleet_ca_max_valid_days": 3650})
    finished = time.time()
    time.sleep(2)
    for edge in edges:
        edge.run("touch /root/loop.stop")
    assert result.returncode == 0, result.stdout + result.stderr
    for name, edge in zip(EDGES, edges):
        for dummy in range(50):
            if edge.file("/root/loop.end").exists:
                break
            time.sleep(0.2)
        after = [serial_of(edge, "%s/default/%s.crt" % (TLS_DIR, a)) for a in ("mldsa44", "ecdsa")]
        assert after[0] != before[name][0] and after[1] != before[name][1], (before[name], after)
        codes = edge.file("/root/loop.codes").content_string.split()
        start, end = int(edge.file("/root/loop.start").content_string), int(edge.file("/root/loop.end").content_string)
        assert start <= started and end >= finished, "the request loop did not span the renewal"
        assert len(codes) >= 50, len(codes)
        assert set(codes) == {"200"}, "failed requests on %s: %s" % (name, sorted(set(codes)))
        # nginx serves the new certificate.
        out = s_client(edge, name, "/root/client/mldsa65-root.crt", "-groups X25519MLKEM768 -sigalgs mldsa44 -showcerts").stdout
        assert "Verification: OK" in out
    again = converge()
    assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-3000:]


RENEW = "pqc-edge-acme-renew"
RENEW_METRICS = "/var/lib/prometheus/node-exporter/pqc_edge_acme_renewal.prom"
ACME_HOST = "pqc-edge-ca-acme"


def revoke_at_pebble(edge_name, path, tmp_path):
    """Revoke an edge's ACME certificate with its account key: Pebble's renewal information then says renew now."""
    playbook = tmp_path / ("revoke-%d.yml" % time.time_ns())
    playbook.write_text(json.dumps([{"name": "Revoke one edge's ACME certificate", "hosts": edge_name, "gather_facts": False,
                                     "tasks": [{"community.crypto.acme_certificate_revoke": {
                                         "acme_directory": "{{ certificates_acme_directory }}", "acme_version": 2,
                                         "select_crypto_backend": "openssl", "certificate": path,
                                         "account_key_src": "/etc/pqc-edge/acme/account.key"}}]}]))
    revoked = ansible_playbook(str(playbook))
    assert revoked.returncode == 0, revoked.stdout[-3000:] + revoked.stderr[-2000:]


def run_renewal(edge):
    """Start the renewal as its timer does and wait for its end: (systemd's Result, the journal of this run)."""
    since = edge.run("date +%s").stdout.strip()
    edge.run("systemctl reset-failed %s.service; systemctl start %s.service" % (RENEW, RENEW))
    result = edge.run("systemctl show -p Result --value %s.service" % RENEW).stdout.strip()
    journal = edge.run("journalctl -u %s.service --since @%s --no-pager -o cat" % (RENEW, since)).stdout
    return result, journal


def gauge(edge, name):
    text = edge.file(RENEW_METRICS).content_string
    return float(text.split("\n%s " % name)[1].split()[0])


def test_a_certificate_pebble_revoked_is_renewed_because_its_renewal_information_says_so(tmp_path):
    """ACME Renewal Information (RFC 9773): Pebble answers a revoked certificate's renewalInfo with a window in the
    past, so the next run renews it although its dates (a third of 5 years left) would keep it; the order names the
    certificate it replaces; the other edge's certificate stays; the run after changes nothing."""
    path = "%s/default/ecdsa.crt" % TLS_DIR
    edge, other = node(EDGES[0]), node(EDGES[1])
    before, other_before = serial_of(edge, path), serial_of(other, path)
    revoke_at_pebble(EDGES[0], path, tmp_path)
    result = converge()
    assert result.returncode == 0, result.stdout[-4000:]
    assert "the ACME directory asks for renewal now (ARI)" in result.stdout, result.stdout[-4000:]
    assert serial_of(edge, path) != before and serial_of(other, path) == other_before
    put_client_roots(edge)
    out = s_client(edge, EDGES[0], "/root/client/acme-root.crt", "-groups X25519 -sigalgs ecdsa_secp256r1_sha256").stdout
    assert "Verification: OK" in out, out[-2000:]
    again = converge()
    assert again.returncode == 0 and "changed=0" in again.stdout and "changed=1" not in again.stdout, again.stdout[-3000:]


def test_the_edge_renews_on_its_own_timer_while_clients_get_only_200s_and_the_next_play_changes_nothing(tmp_path):
    """With no play running, the renewal service (as the timer starts it) renews the certificate Pebble's renewal
    information asks for, under a request loop that gets only 200s; nginx serves it; the next play changes nothing."""
    name = EDGES[1]
    edge = node(name)
    path = "%s/default/ecdsa.crt" % TLS_DIR
    assert edge.run("systemctl is-enabled %s.timer" % RENEW).stdout.strip() == "enabled"
    assert edge.run("systemctl is-active %s.timer" % RENEW).stdout.strip() == "active"
    assert edge.run("systemctl show -p RandomizedDelayUSec --value %s.timer" % RENEW).stdout.strip() == "1h"
    assert edge.file("/etc/pqc-edge/acme/renewal.json").mode == 0o600
    before, mldsa_before = serial_of(edge, path), serial_of(edge, "%s/default/mldsa44.crt" % TLS_DIR)
    revoke_at_pebble(name, path, tmp_path)
    put_client_roots(edge)
    edge.run("rm -f /root/loop.*")
    edge.run("setsid sh -c %s >/dev/null 2>&1 < /dev/null &" % shlex.quote(LOOP.replace("NAME", name)))
    time.sleep(2)
    result, journal = run_renewal(edge)
    time.sleep(2)
    edge.run("touch /root/loop.stop")
    assert result == "success", journal
    assert "%s: the ACME directory asks for renewal now (ARI)" % path in journal, journal
    assert "nginx reloaded with 1 renewed certificate(s)" in journal, journal
    assert serial_of(edge, path) != before and serial_of(edge, "%s/default/mldsa44.crt" % TLS_DIR) == mldsa_before
    for dummy in range(50):
        if edge.file("/root/loop.end").exists:
            break
        time.sleep(0.2)
    codes = edge.file("/root/loop.codes").content_string.split()
    assert len(codes) >= 20 and set(codes) == {"200"}, sorted(set(codes))
    out = s_client(edge, name, "/root/client/acme-root.crt", "-groups X25519 -sigalgs ecdsa_secp256r1_sha256").stdout
    assert "Verification: OK" in out, out[-2000:]
    served = edge.run("openssl s_client -connect 127.0.0.1:8443 -servername %s -sigalgs ecdsa_secp256r1_sha256 </dev/null "
                      "2>/dev/null | openssl x509 -noout -serial" % name).stdout.strip()
    assert served == serial_of(edge, path)
    assert gauge(edge, "pqc_edge_acme_renewal_success") == 1
    assert gauge(edge, "pqc_edge_acme_renewal_renewed_certificates") == 1
    again = converge()
    assert again.returncode == 0 and "changed=0" in again.stdout and "changed=1" not in again.stdout, again.stdout[-3000:]


def test_a_renewal_that_fails_keeps_the_certificate_served_and_shows_in_the_journal_and_the_gauge(tmp_path):
    """Pebble stopped (frozen, as Pebble keeps its accounts in memory only): the due renewal fails after its timeout,
    the certificate in force stays and is served, the journal says why and pqc_edge_acme_renewal_success is 0 (the
    alert's condition) with the last success kept; Pebble running again, the next run renews it."""
    name = EDGES[1]
    edge, acme = node(name), node(ACME_HOST)
    path = "%s/default/ecdsa.crt" % TLS_DIR
    revoke_at_pebble(name, path, tmp_path)
    before = serial_of(edge, path)
    last_success = gauge(edge, "pqc_edge_acme_renewal_last_success_timestamp_seconds")
    put_client_roots(edge)
    try:
        acme.run("systemctl kill --signal=SIGSTOP pebble")
        result, journal = run_renewal(edge)
        assert result == "exit-code", journal
        assert "failed: https://pebble:14000/dir cannot be reached" in journal, journal
        assert serial_of(edge, path) == before
        out = s_client(edge, name, "/root/client/acme-root.crt", "-groups X25519 -sigalgs ecdsa_secp256r1_sha256").stdout
        assert "Verification: OK" in out, out[-2000:]
        assert gauge(edge, "pqc_edge_acme_renewal_success") == 0
        assert gauge(edge, "pqc_edge_acme_renewal_last_success_timestamp_seconds") == last_success
    finally:
        acme.run("systemctl kill --signal=SIGCONT pebble")
    result, journal = run_renewal(edge)
    assert result == "success" and serial_of(edge, path) != before, journal
    assert gauge(edge, "pqc_edge_acme_renewal_success") == 1


def test_the_ca_host_refuses_a_request_for_a_name_the_edge_does_not_have():
    edge, ca = node(EDGES[1]), node(CA)
    index_before = ca.file("%s/issued/index.tsv" % CA_DIR).content_string
    edge.run("openssl genpkey -algorithm mldsa44 -out /root/rogue.key")
    csr = edge.run("openssl req -new -key /root/rogue.key -subj /CN=%s -addext subjectAltName=DNS:%s,DNS:bank.example.com"
                   % (EDGES[1], EDGES[1])).stdout
    assert "BEGIN CERTIFICATE REQUEST" in csr
    # What the role asks the CA host for this edge: its own names only (its inventory name, its site's server name).
    args = {"csr": csr, "ca_certificate_path": CA_DIR + "/mldsa65-root.crt", "ca_private_key_path": CA_DIR + "/mldsa65-root.key",
            "allowed_names": ["DNS:%s" % EDGES[1]], "requester": EDGES[1],
            "issued_dir": CA_DIR + "/issued"}
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    refused = subprocess.run(["ansible", "-i", INVENTORY, CA, "-m", "pqc.edge.ca_sign", "-a", json.dumps(args)],
                             capture_output=True, text=True, timeout=120, env=env, check=False)
    assert refused.returncode != 0, refused.stdout
    assert "refused to sign" in refused.stdout and "DNS:bank.example.com" in refused.stdout, refused.stdout
    assert ca.file("%s/issued/index.tsv" % CA_DIR).content_string == index_before
    edge.run("rm -f /root/rogue.key")


def test_a_site_outside_the_ca_domains_fails_early_and_changes_nothing():
    edges = [node(name) for name in EDGES]
    ca = node(CA)
    before = [e.run("sha256sum %s/*/*.crt %s/*/*.key /etc/nginx/sites-enabled/*" % (TLS_DIR, TLS_DIR)).stdout for e in edges]
    index_before = ca.file("%s/issued/index.tsv" % CA_DIR).content_string
    sites = [{"name": "default", "server_names": ["{{ inventory_hostname }}"], "default_server": True,
              "locations": [{"path": "/", "proxy": "backend"}]},
             {"name": "shop", "server_names": ["shop.example.net"], "locations": [{"path": "/", "proxy": "backend"}]}]
    domains = ["pqc-edge-ca-edge-1", "pqc-edge-ca-edge-2"]
    result = converge({"pqc_edge_sites": sites, "certificates_fleet_ca_domains": domains})
    assert result.returncode != 0
    said = " ".join((result.stdout + result.stderr).split())
    assert "outside them: DNS:shop.example.net (from pqc_edge_sites" in said, said[-3000:]
    assert [e.run("sha256sum %s/*/*.crt %s/*/*.key /etc/nginx/sites-enabled/*" % (TLS_DIR, TLS_DIR)).stdout for e in edges] == before
    assert ca.file("%s/issued/index.tsv" % CA_DIR).content_string == index_before


def test_a_site_without_a_plain_http_server_is_refused_with_acme():
    edge = node(EDGES[0])
    before = edge.run("sha256sum %s/*/*.crt %s/*/*.key /etc/nginx/sites-enabled/*" % (TLS_DIR, TLS_DIR)).stdout
    sites = [{"name": "default", "server_names": ["{{ inventory_hostname }}"], "default_server": True},
             {"name": "api", "server_names": ["api-edge"], "http_port": 0}]
    result = ansible_playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"),
                              {"pqc_edge_sites": sites, "certificates_fleet_ca_domains": EDGES + ["api-edge"]}, "--limit", EDGES[0])
    assert result.returncode != 0
    said = " ".join((result.stdout + result.stderr).split())
    assert "sites without a plain HTTP server cannot answer HTTP-01: api (http_port 0)" in said, said[-3000:]
    assert edge.run("sha256sum %s/*/*.crt %s/*/*.key /etc/nginx/sites-enabled/*" % (TLS_DIR, TLS_DIR)).stdout == before


def test_an_acme_profile_the_directory_does_not_offer_is_refused_before_any_change():
    """Debian's Pebble 2.6.0 announces no profiles (meta.profiles): an order for one would fail half way, so the
    preflight reads the directory from the edge and stops, naming the profile and what the directory offers."""
    edge = node(EDGES[0])
    before = edge.run("sha256sum %s/*/*.crt %s/*/*.key /etc/nginx/sites-enabled/*" % (TLS_DIR, TLS_DIR)).stdout
    result = ansible_playbook(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"),
                              {"certificates_acme_profile": "tlsserver"}, "--limit", EDGES[0])
    assert result.returncode != 0
    said = " ".join((result.stdout + result.stderr).split())
    assert "certificates_acme_profile=tlsserver: https://pebble:14000/dir offers no profiles (it does not implement them)" \
        in said, said[-3000:]
    assert edge.run("sha256sum %s/*/*.crt %s/*/*.key /etc/nginx/sites-enabled/*" % (TLS_DIR, TLS_DIR)).stdout == before


def test_verify_playbook_verifies_every_certificate_against_the_roots():
    result = ansible_playbook(os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "verify.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("2 certificates verified against their CA") == 2, result.stdout[-3000:]
    assert "NOT verified" not in result.stdout


def test_report_shows_issuer_trust_and_days_left_of_every_certificate(tmp_path):
    result = ansible_playbook(os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "report.yml"),
                              {"pqc_edge_report_dir": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    with open(tmp_path / "pqc-report.json") as f:
        rows = dict((row["host"], row) for row in json.load(f)["hosts"])
    assert sorted(rows) == EDGES
    for row in rows.values():
        certificates = dict((c["key_algorithm"], c) for c in row["certificates"])
        assert sorted(certificates) == ["ML-DSA-44", "id-ecPublicKey"]
        assert certificates["ML-DSA-44"]["issuer"] == "CN=pqc.edge private CA (ML-DSA intermediate)"
        assert certificates["id-ecPublicKey"]["issuer"].startswith("CN=Pebble Intermediate CA")
        assert all(c["trusted"] is True and c["days_left"] > 300 for c in certificates.values()), certificates
    markdown = (tmp_path / "pqc-report.md").read_text()
    assert markdown.count("CN=pqc.edge private CA (ML-DSA intermediate), trusted") == 2


def test_acme_account_key_is_private_and_http01_is_served_before_the_redirect():
    for name in EDGES:
        edge = node(name)
        assert edge.file("/etc/pqc-edge/acme").mode == 0o700
        assert edge.file("/etc/pqc-edge/acme/account.key").mode == 0o600
        # No answer is left behind, and the challenge path is not redirected (the rest is).
        assert edge.run("find /var/lib/pqc-edge/acme-challenges -type f").stdout == ""
        challenge = edge.run("curl -s -o /dev/null -w '%%{http_code}' -H 'Host: %s' http://127.0.0.1:8080/.well-known/acme-challenge/x" % name)
        assert challenge.stdout == "404", challenge.stdout
        other = edge.run("curl -s -o /dev/null -w '%%{http_code}' -H 'Host: %s' http://127.0.0.1:8080/" % name)
        assert other.stdout == "301", other.stdout
        chain = edge.run("grep -c 'BEGIN CERTIFICATE' %s/default/ecdsa.crt" % TLS_DIR).stdout.strip()
        assert chain == "2", "nginx serves the leaf and Pebble's intermediate"


# The default site, asking every client for a certificate from the fleet CA.
# /peer/ is a hop to the other edge (in its own container), which asks for a client certificate too: verified against
# the fleet's roots (the default with a fleet CA), shown the edge's ML-DSA client certificate.
MUTUAL_TLS_SITES = [{"name": "default", "server_names": ["{{ inventory_hostname }}"], "default_server": True,
                     "client_auth": "required", "locations": [
                         {"path": "/", "proxy": "backend"},
                         {"path": "/peer/", "proxy": "https://{{ groups['pqc_edge'] | difference([inventory_hostname]) | first }}:8443/api/tls",
                          "proxy_client_certificate": "pq"}]}]
CLIENT_DIR = "/etc/pqc-edge/client"
PROBE_CLIENT = """
- name: Probe the edge's mutual TLS site with the edge's own ML-DSA client certificate
  hosts: %s
  gather_facts: false
  tasks:
    - name: Probe
      pqc.edge.tls_probe:
        host: 127.0.0.1
        port: 8443
        server_name: %s
        engine: openssl
        signature_algorithms: [mldsa44]
        client_certificate: %s/mldsa44.crt
        client_key: %s/mldsa44.key
      register: probed
    - name: Keep the answer on the controller
      ansible.builtin.copy:
        content: "{{ probed | to_json }}"
        dest: "{{ answer }}"
        mode: "0600"
      delegate_to: localhost
"""


def api_tls(edge, name, *args, path="/api/tls"):
    """/api/tls (or another path) through the edge with curl's own OpenSSL 3.5: (HTTP status, body)."""
    out = edge.run("curl -sk --max-time 10 -w '\\n%%{http_code}' --resolve %s:8443:127.0.0.1 %s https://%s:8443%s"
                   % (name, " ".join(args), name, path)).stdout
    body, dummy, status = out.rpartition("\n")
    return status, body


def test_without_acme_the_fleet_ca_signs_the_classical_certificate_and_client_certificates_for_mutual_tls(tmp_path):
    edge, name = node(EDGES[1]), EDGES[1]
    playbook = os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml")
    # Each edge resolves the other's name (the containers share docker's default network, which has no DNS).
    for here, there in ((EDGES[0], EDGES[1]), (EDGES[1], EDGES[0])):
        address = subprocess.run(["docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", there],
                                 capture_output=True, text=True, check=True).stdout.strip()
        node(here).run("grep -q ' %s$' /etc/hosts || echo '%s %s' >> /etc/hosts" % (there, address, there))
    # Revoked on the way: the client host's ECDSA client certificate and this edge's ML-DSA-44 server certificate.
    client = node(CLIENT)
    revoked_client = client.file("%s/ecdsa.crt" % CLIENT_DIR).content_string
    revoked_server = edge.file("%s/default/mldsa44.crt" % TLS_DIR).content_string
    server_key = edge.file("%s/default/mldsa44.key" % TLS_DIR).sha256sum
    revoked = [serial_of(client, "%s/ecdsa.crt" % CLIENT_DIR).partition("=")[2],
               serial_of(edge, "%s/default/mldsa44.crt" % TLS_DIR).partition("=")[2].lower()]
    off = ansible_playbook(playbook, {"certificates_acme_directory": "", "certificates_client_certificate": True,
                                      "pqc_edge_sites": MUTUAL_TLS_SITES, "certificates_fleet_ca_revoked": revoked},
                           "--limit", ",".join(EDGES))
    assert off.returncode == 0, off.stdout[-3000:] + off.stderr
    check_revocation(edge, name, client, revoked, revoked_client, revoked_server, server_key)
    assert "ECDSA intermediate" in edge.run("openssl x509 -in %s/default/ecdsa.crt -noout -issuer" % TLS_DIR).stdout
    # The fleet's classical root reached the controller, and a client with it alone verifies the served certificate.
    with open(os.path.join(LOCAL_ROOTS, "ecdsa-root.crt")) as f:
        edge.run("cat > /root/client/ecdsa-root.crt <<'EOF'\n%sEOF" % f.read())
    out = s_client(edge, name, "/root/client/ecdsa-root.crt", "-groups X25519 -sigalgs ecdsa_secp256r1_sha256").stdout
    assert "Verification: OK" in out, out

    # Mutual TLS: the edge's own client certificates (ML-DSA-44 and ECDSA, from the fleet CA, for client authentication
    # only, naming the host alone) get through, and the backend sees who called; none, or one of another CA, does not.
    for algorithm, root in (("mldsa44", "ML-DSA intermediate"), ("ecdsa", "ECDSA intermediate")):
        text = edge.run("openssl x509 -in %s/%s.crt -noout -subject -issuer -ext extendedKeyUsage,subjectAltName"
                        % (CLIENT_DIR, algorithm)).stdout
        assert "TLS Web Client Authentication" in text and "Server Authentication" not in text, text
        assert root in text and "subject=CN=%s" % name in text and "DNS:%s" % name in text, text
        assert edge.file("%s/%s.key" % (CLIENT_DIR, algorithm)).mode == 0o600
        status, body = api_tls(edge, name, "--cert %s/%s.crt --key %s/%s.key" % (CLIENT_DIR, algorithm, CLIENT_DIR, algorithm))
        assert status == "200", body
        seen = json.loads(body)["client_certificate"]
        assert seen["verify"] == "SUCCESS" and seen["subject"] == "CN=%s" % name and root in seen["issuer"], seen
    assert api_tls(edge, name)[0] == "400"
    edge.run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /root/other.key "
             "-out /root/other.crt -subj /CN=%s -days 2" % name)
    assert api_tls(edge, name, "--cert /root/other.crt --key /root/other.key")[0] == "400"
    # A client that spoofs the headers gets nothing by it: nginx sets them from the handshake.
    status, body = api_tls(edge, name, "-H 'X-TLS-Client-Verify: SUCCESS' -H 'X-TLS-Client-Subject: CN=admin' "
                           "--cert %s/ecdsa.crt --key %s/ecdsa.key" % (CLIENT_DIR, CLIENT_DIR))
    assert json.loads(body)["client_certificate"]["subject"] == "CN=%s" % name
    # The hop to the other edge, in its own container, which asks for a client certificate: what its backend saw of
    # that hop's own handshake is the hybrid and this edge's ML-DSA client certificate; each edge's gate probed its hop.
    status, body = api_tls(edge, name, "--cert %s/ecdsa.crt --key %s/ecdsa.key" % (CLIENT_DIR, CLIENT_DIR), path="/peer/")
    assert status == "200", body
    upstream_saw = json.loads(body)
    assert upstream_saw["group"] == "X25519MLKEM768", upstream_saw
    assert upstream_saw["client_certificate"]["verify"] == "SUCCESS", upstream_saw
    assert upstream_saw["client_certificate"]["subject"] == "CN=%s" % name, upstream_saw
    assert "ML-DSA intermediate" in upstream_saw["client_certificate"]["issuer"], upstream_saw
    # The client host, which is no edge, calls with its own client certificates (pqc.edge.clients in converge.yml):
    # made on it, for client authentication only, the backend seeing its name.
    address = subprocess.run(["docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name],
                             capture_output=True, text=True, check=True).stdout.strip()
    for algorithm, root in (("mldsa44", "ML-DSA intermediate"), ("ecdsa", "ECDSA intermediate")):
        assert client.file("%s/%s.key" % (CLIENT_DIR, algorithm)).mode == 0o600
        called = client.run("curl -sk --max-time 10 --resolve %s:8443:%s --cert %s/%s.crt --key %s/%s.key "
                            "https://%s:8443/api/tls" % (name, address, CLIENT_DIR, algorithm, CLIENT_DIR, algorithm, name))
        seen = json.loads(called.stdout)["client_certificate"]
        assert seen["verify"] == "SUCCESS" and seen["subject"] == "CN=%s" % CLIENT and root in seen["issuer"], seen
    assert not client.file(TLS_DIR + "/default").exists and not client.exists("nginx")
    said = " ".join(off.stdout.split())
    for here, there in ((EDGES[0], EDGES[1]), (EDGES[1], EDGES[0])):
        assert "site default location /peer/ -> https://%s:8443/api/tls: X25519MLKEM768, certificate verified against " \
               "/etc/pqc-edge/tls/fleet-ca/roots.pem" % there in said, said[-3000:]
    assert said.count("1 of 1 hops to TLS upstreams quantum-safe and verified") == 2, said[-3000:]
    probe = tmp_path / "probe-client.yml"
    probe.write_text(PROBE_CLIENT % (name, name, CLIENT_DIR, CLIENT_DIR))
    answer = tmp_path / "answer.json"
    probed = ansible_playbook(str(probe), {"answer": str(answer)})
    assert probed.returncode == 0, probed.stdout[-3000:] + probed.stderr
    probed = json.loads(answer.read_text())
    assert probed["client_certificate_requested"] is True and probed["peer_signature_algorithm"] == "mldsa44"
    assert sorted(probed["client_ca_names"]) == ["CN=pqc.edge private CA (ECDSA root)", "CN=pqc.edge private CA (ML-DSA root)"]

    back = ansible_playbook(playbook, None, "--limit", ",".join(EDGES))
    assert back.returncode == 0, back.stdout[-3000:] + back.stderr
    assert "Pebble Intermediate CA" in edge.run("openssl x509 -in %s/default/ecdsa.crt -noout -issuer" % TLS_DIR).stdout
    out = s_client(edge, name, "/root/client/acme-root.crt", "-groups X25519 -sigalgs ecdsa_secp256r1_sha256").stdout
    assert "Verification: OK" in out, out
    # Back to no client authentication; the client keys are this test's to remove (the role leaves unused keys be).
    assert api_tls(edge, name)[0] == "200"
    edge.run("rm -rf /root/other.key /root/other.crt")
    for each in EDGES:
        node(each).run("rm -rf %s" % CLIENT_DIR)


REISSUE_CLIENT = """
- name: Give the client host its client certificates again
  ansible.builtin.import_playbook: pqc.edge.clients
"""


def check_revocation(edge, name, client, revoked, revoked_client, revoked_server, server_key):
    """After a run with certificates_fleet_ca_revoked: the CA's lists name both serials and reach the edges and the
    controller; nginx checks client certificates and the hop to the other edge against them; the revoked client
    certificate gets 400 until the client host is given a new one; the edge got a new server certificate (same key)."""
    client_serial, server_serial = revoked[0], revoked[1].upper()
    # One list per root in the file (openssl crl reads only the first, so each is read on its own).
    lists = edge.run("cd $(mktemp -d) && awk '/BEGIN X509 CRL/ {n++} {print > (\"list\" n \".pem\")}' %s/fleet-ca/crls.pem && "
                     "for f in list*.pem; do openssl crl -in $f -noout -text; done" % TLS_DIR).stdout
    # Each root's and each intermediate's; the intermediates' list the two serials.
    assert client_serial in lists and server_serial in lists and lists.count("Certificate Revocation List") == 4, lists
    with open(os.path.join(LOCAL_ROOTS, "mldsa65-intermediate.crl.pem")) as f:
        assert f.read().strip() in edge.file("%s/fleet-ca/crls.pem" % TLS_DIR).content_string
    config = edge.run("nginx -T 2>/dev/null").stdout
    assert "ssl_crl %s/fleet-ca/crls.pem;" % TLS_DIR in config and "proxy_ssl_crl %s/fleet-ca/crls.pem;" % TLS_DIR in config
    # What a client that checks the lists sees of the old certificates, and of the edge's new one.
    edge.run("mkdir -p /root/revoked")
    for label, pem in (("client", revoked_client), ("server", revoked_server)):
        edge.run("cat > /root/revoked/%s.crt <<'EOF'\n%sEOF" % (label, pem))
        out = edge.run("openssl verify -crl_check_all -CAfile %s/fleet-ca/roots.pem -CRLfile %s/fleet-ca/crls.pem "
                       "-untrusted /root/revoked/%s.crt /root/revoked/%s.crt 2>&1" % (TLS_DIR, TLS_DIR, label, label))
        assert out.rc != 0 and "certificate revoked" in out.stdout, out.stdout
    # A client that fetches the list from the URL in the certificate (CRL distribution point), which the other edge
    # serves over HTTP, DER as it keeps it, also refuses the old server certificate.
    url = "http://pqc-edge-ca-edge-1:8080/pqc-edge-crl/mldsa65-intermediate.crl"
    assert "URI:%s" % url in edge.run("openssl x509 -in /root/revoked/server.crt -noout -ext crlDistributionPoints").stdout
    out = edge.run("openssl verify -crl_check -crl_download -CAfile %s/fleet-ca/roots.pem -untrusted /root/revoked/server.crt "
                   "/root/revoked/server.crt 2>&1" % TLS_DIR)
    assert out.rc != 0 and "certificate revoked" in out.stdout, out.stdout
    served = edge.run("curl -s --max-time 10 %s | sha256sum" % url).stdout.split()[0]
    assert served == node(EDGES[0]).file("%s/fleet-ca/mldsa65-intermediate.crl.der" % TLS_DIR).sha256sum
    assert serial_of(edge, "%s/default/mldsa44.crt" % TLS_DIR) != "serial=" + server_serial
    assert "URI:%s" % url in edge.run("openssl x509 -in %s/default/mldsa44.crt -noout -ext crlDistributionPoints" % TLS_DIR).stdout
    assert edge.file("%s/default/mldsa44.key" % TLS_DIR).sha256sum == server_key
    assert edge.run("openssl verify -crl_check_all -CAfile %s/fleet-ca/roots.pem -CRLfile %s/fleet-ca/crls.pem -untrusted "
                    "%s/default/mldsa44.crt %s/default/mldsa44.crt" % (TLS_DIR, TLS_DIR, TLS_DIR, TLS_DIR)).rc == 0
    edge.run("rm -rf /root/revoked")
    address = subprocess.run(["docker", "inspect", "-f", "{{.NetworkSettings.IPAddress}}", name],
                             capture_output=True, text=True, check=True).stdout.strip()
    call = ("curl -s -o /dev/null -w '%%{http_code}' --max-time 10 -k --resolve %s:8443:%s --cert %s/ecdsa.crt "
            "--key %s/ecdsa.key https://%s:8443/api/tls" % (name, address, CLIENT_DIR, CLIENT_DIR, name))
    assert client.run(call).stdout == "400"
    playbook = os.path.join(EPHEMERAL, "reissue-client.yml")
    with open(playbook, "w") as f:
        f.write(REISSUE_CLIENT)
    again = ansible_playbook(playbook, {"certificates_fleet_ca_revoked": revoked}, "--limit", CLIENT)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr
    assert serial_of(client, "%s/ecdsa.crt" % CLIENT_DIR) != "serial=" + client_serial
    assert client.run(call).stdout == "200"


def sans(edge, path):
    return edge.run("openssl x509 -in %s -noout -ext subjectAltName | tail -n +2" % path).stdout.strip()


def test_a_lying_edge_gets_nothing_beyond_its_own_inventory_names():
    """edge-2 taken over: every module result it returns carries forged facts (another edge's name, a 10-year
    validity) and its os-release names a file on the controller. The CA signs only edge-2's own names for the
    validity the CA allows, injected facts are refused outright, and the controller file is never loaded."""
    liar, ca = node(EDGES[1]), node(CA)
    forged = {"certificates_subject_alt_names": ["DNS:%s" % EDGES[0]], "certificates_valid_days": 3650,
              "pqc_edge_sites": [{"name": "default", "server_names": [EDGES[0], EDGES[1]], "default_server": True}],
              "certificates_fleet_ca_domains": []}
    real = liar.run("readlink -f /usr/bin/python3").stdout.strip()
    with open(os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "files", "lying-python.py")) as f:
        wrapper = "#!%s.real\n%s" % (real, f.read())
    liar.run("cat > /root/forged-facts.json <<'EOF'\n%s\nEOF" % json.dumps(forged))
    liar.run("mv %s %s.real && cat > %s <<'EOF'\n%sEOF\nchmod 0755 %s" % (real, real, real, wrapper, real))
    leak = os.path.join(EPHEMERAL, "pqc-edge-leak")
    try:
        # The wrapper really is in the way: a module run on edge-2 comes back with the forged facts.
        probe = subprocess.run(["ansible", "-i", INVENTORY, EDGES[1], "-m", "ansible.builtin.ping"],
                               capture_output=True, text=True, timeout=120, check=False,
                               env=dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1"))
        assert '"certificates_valid_days": 3650' in probe.stdout and EDGES[0] in probe.stdout, probe.stdout

        index_before = ca.file("%s/issued/index.tsv" % CA_DIR).content_string
        env = dict(os.environ, ANSIBLE_INJECT_FACT_VARS="true")
        cmd = ["ansible-playbook", "-i", INVENTORY, os.path.join(os.environ["MOLECULE_SCENARIO_DIRECTORY"], "converge.yml"),
               "--limit", "%s,%s" % (EDGES[1], CA)]
        injected = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, env=env, check=False)
        assert injected.returncode != 0
        said = " ".join((injected.stdout + injected.stderr).split())
        assert "INJECT_FACTS_AS_VARS is on" in said and "inject_facts_as_vars = False" in said, said[-3000:]
        assert ca.file("%s/issued/index.tsv" % CA_DIR).content_string == index_before

        # Injection off (the scenario's setting), and edge-2's ML-DSA certificate replaced by a self-signed one for the
        # same key (nginx still loads it), so the CA is asked to sign for edge-2.
        stand_in = liar.run("cd %s/default && openssl req -x509 -key mldsa44.key -subj /CN=stand-in -days 2 -out mldsa44.crt"
                            % TLS_DIR)
        assert stand_in.rc == 0, stand_in.stderr
        renewed = ansible_playbook(cmd[3], None, "--limit", "%s,%s" % (EDGES[1], CA))
        assert renewed.returncode == 0, renewed.stdout[-3000:] + renewed.stderr[-2000:]
        new_lines = ca.file("%s/issued/index.tsv" % CA_DIR).content_string[len(index_before):].splitlines()
        assert new_lines, "the CA signed nothing: the forced renewal did not reach it"
        assert all(line.split("\t")[3] == EDGES[1] for line in new_lines), new_lines
        assert EDGES[0] not in "".join(new_lines), new_lines
        leaf = "%s/default/mldsa44.crt" % TLS_DIR
        assert sans(liar, leaf) == "DNS:%s" % EDGES[1]
        # The inventory's 365 days, not the forged 3650: it expires within 366 days.
        days = liar.run("openssl x509 -in %s -noout -checkend %d" % (leaf, 366 * 86400))
        assert days.rc == 1 and "will expire" in days.stdout, days.stdout

        # os-release names a file on the controller: refused before anything is loaded from there.
        with open(leak + ".yml", "w") as f:
            f.write("__common_packages: [pqc-edge-leaked-from-controller]\n")
        liar.run("cp /etc/os-release /root/os-release.orig && rm -f /etc/os-release && "
                 "sed 's|^ID=.*|ID=%s|' /root/os-release.orig > /etc/os-release" % leak.lower())
        lied = ansible_playbook(cmd[3], None, "--limit", EDGES[1])
        assert lied.returncode != 0
        said = " ".join((lied.stdout + lied.stderr).split())
        assert "reported OS family %s" % leak.lower() in said and "refused before it names any file" in said, said[-3000:]
        assert "pqc-edge-leaked-from-controller" not in said
    finally:
        liar.run("if [ -f /root/os-release.orig ]; then rm -f /etc/os-release && ln -s ../usr/lib/os-release /etc/os-release; fi")
        liar.run("if [ -f %s.real ]; then mv -f %s.real %s; fi; rm -f /root/forged-facts.json /root/os-release.orig" % (real, real, real))
        if os.path.exists(leak + ".yml"):
            os.unlink(leak + ".yml")


def test_the_roots_constrain_names_even_for_a_certificate_signed_outside_the_ca_s_checks():
    """Should a root key ever sign outside pqc.edge.ca_sign (by hand, here, on the CA host), clients that check the
    roots' nameConstraints refuse a name outside certificates_fleet_ca_domains: OpenSSL 3.5 with the ML-DSA chain."""
    ca = node(CA)
    constraints = ca.run("openssl x509 -in %s/mldsa65-root.crt -noout -ext nameConstraints" % CA_DIR).stdout
    assert "critical" in constraints and "DNS:%s" % EDGES[0] in constraints and "DNS:%s" % EDGES[1] in constraints, constraints
    script = (
        "set -e; d=$(mktemp -d); cd $d; for n in %s bank.example.com; do "
        "openssl req -newkey mldsa44 -nodes -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null; "
        "printf 'subjectAltName=DNS:%%s\\n' $n > $n.ext; "
        "openssl x509 -req -in $n.csr -CA %s/mldsa65-root.crt -CAkey %s/mldsa65-root.key -days 2 -extfile $n.ext -out $n.crt 2>/dev/null; "
        "echo \"== $n\"; openssl verify -CAfile %s/mldsa65-root.crt $n.crt 2>&1 || true; done; rm -rf $d"
        % (EDGES[0], CA_DIR, CA_DIR, CA_DIR))
    out = ca.run(script).stdout
    inside, outside = out.split("== bank.example.com")
    assert "%s.crt: OK" % EDGES[0] in inside, out
    assert "permitted subtree violation" in outside and "OK" not in outside, out


ROLLOVER_TRUST = {"old": ["mldsa65-root.crt"], "both": ["mldsa65-root.crt", "mldsa65-g2-root.crt"], "new": ["mldsa65-g2-root.crt"]}


def verifies(edge, name, trust):
    """Whether a client that trusts only the roots of ROLLOVER_TRUST[trust] (the controller's copies, as clients are
    given them) verifies the edge's ML-DSA certificate."""
    roots = "/root/rollover/%s.pem" % trust
    edge.run("mkdir -p /root/rollover")
    content = ""
    for root in ROLLOVER_TRUST[trust]:
        path = os.path.join(LOCAL_ROOTS, root)
        assert os.path.exists(path), path
        with open(path) as f:
            content += f.read()
    edge.run("cat > %s <<'EOF'\n%sEOF" % (roots, content))
    out = s_client(edge, name, roots, "-groups X25519MLKEM768 -sigalgs mldsa44").stdout
    return "Verification: OK" in out


def issuer(host, path):
    return host.run("openssl x509 -in %s -noout -issuer" % path).stdout.strip()


def test_a_root_rollover_in_three_runs_keeps_every_client_verifying_and_withdraws_the_old_root():
    """Last here: it leaves the fleet on its second generation of roots. Each run is the whole converge (site.yml with
    its batch gate and verification, then the client host); a client that trusts only the old root, then both, then
    only the new one verifies the edges at each step where it should, and not where it should not."""
    edges = [(name, node(name)) for name in EDGES]
    client = node(CLIENT)
    keys = dict((name, edge.file("%s/default/mldsa44.key" % TLS_DIR).sha256sum) for name, edge in edges)
    with open(os.path.join(LOCAL_ROOTS, "mldsa65-root.crt")) as f:
        old_root = f.read()
    assert old_root.strip().splitlines()[1] in node(EDGES[0]).file("/etc/ssl/certs/ca-certificates.crt").content_string
    for name, edge in edges:
        assert verifies(edge, name, "old") and not os.path.exists(os.path.join(LOCAL_ROOTS, "mldsa65-g2-root.crt"))

    # 1. The next generation is made and trusted everywhere; the old one still signs.
    first = converge({"certificates_fleet_ca_trusted_generations": [2]})
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr
    with open(os.path.join(LOCAL_ROOTS, "mldsa65-g2-root.crt")) as f:
        new_root = f.read()
    text = node(CA).run("openssl x509 -in %s/mldsa65-g2-root.crt -noout -subject -ext nameConstraints" % CA_DIR).stdout
    assert "CN=pqc.edge private CA (ML-DSA root, generation 2)" in text and "DNS:%s" % EDGES[0] in text, text
    for name, edge in edges:
        assert edge.file("%s/fleet-ca/roots.pem" % TLS_DIR).content_string.count("BEGIN CERTIFICATE") == 2
        assert issuer(edge, "%s/default/mldsa44.crt" % TLS_DIR).endswith("(ML-DSA intermediate)")
        assert verifies(edge, name, "old") and verifies(edge, name, "both") and not verifies(edge, name, "new")
    assert node(EDGES[0]).file("/usr/local/share/ca-certificates/pqc-edge-fleet-mldsa65-g2-root.crt").content_string == new_root

    # 2. The new generation signs: every certificate moves to its chain with the same key; both are still trusted.
    second = converge({"certificates_fleet_ca_generation": 2, "certificates_fleet_ca_trusted_generations": [1]})
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr
    for name, edge in edges:
        assert issuer(edge, "%s/default/mldsa44.crt" % TLS_DIR).endswith("(ML-DSA intermediate, generation 2)")
        assert edge.file("%s/default/mldsa44.key" % TLS_DIR).sha256sum == keys[name]
        assert verifies(edge, name, "both") and verifies(edge, name, "new") and not verifies(edge, name, "old")
        # Both generations' lists are checked (root and intermediate each).
        assert edge.file("%s/fleet-ca/crls.pem" % TLS_DIR).content_string.count("BEGIN X509 CRL") == 4
    assert issuer(client, "%s/mldsa44.crt" % CLIENT_DIR).endswith("(ML-DSA intermediate, generation 2)")
    url = "http://pqc-edge-ca-edge-1:8080/pqc-edge-crl/mldsa65-g2-intermediate.crl"
    leaf = "%s/default/mldsa44.crt" % TLS_DIR
    assert "URI:%s" % url in node(EDGES[1]).run("openssl x509 -in %s -noout -ext crlDistributionPoints" % leaf).stdout
    fetched = node(EDGES[1]).run("openssl verify -crl_check -crl_download -CAfile %s/fleet-ca/roots.pem -untrusted %s %s 2>&1"
                                 % (TLS_DIR, leaf, leaf))
    assert fetched.rc == 0, fetched.stdout

    # 3. The old generation is withdrawn: gone from the edges, their trust stores and the controller.
    third = converge({"certificates_fleet_ca_generation": 2})
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr
    for gone in ("mldsa65-root.crt", "mldsa65-root.crl.pem", "mldsa65-intermediate.crl.pem"):
        assert not os.path.exists(os.path.join(LOCAL_ROOTS, gone)), gone
    for name, edge in edges:
        for gone in ("mldsa65-root.crt", "mldsa65-root.crl.der", "mldsa65-intermediate.crl.der"):
            assert not edge.file("%s/fleet-ca/%s" % (TLS_DIR, gone)).exists, gone
        assert edge.file("%s/fleet-ca/roots.pem" % TLS_DIR).content_string.strip() == new_root.strip()
        assert edge.file("%s/fleet-ca/crls.pem" % TLS_DIR).content_string.count("BEGIN X509 CRL") == 2
        assert verifies(edge, name, "new")
        edge.run("rm -rf /root/rollover")
    trusting = node(EDGES[0])
    assert not trusting.file("/usr/local/share/ca-certificates/pqc-edge-fleet-mldsa65-root.crt").exists
    bundle = trusting.file("/etc/ssl/certs/ca-certificates.crt").content_string
    # update-ca-certificates dropped the old root from the system's bundle and kept the new one.
    assert old_root.strip().splitlines()[1] not in bundle and new_root.strip().splitlines()[1] in bundle
