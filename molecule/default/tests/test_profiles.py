"""Compliance profiles on a real edge: the host converged under CNSA 2.0 serves an ML-DSA-87 certificate over MLKEM1024
with AES-256 alone and refuses everything else, the probe (run on the host, openssl engine) calls it compliant and lists
what fails when the same host is judged against BSI's profile; converged back to `web`, today's client table returns."""

import json
import re

TLS = "/etc/pqc-edge/tls/default"
JUDGE = """
- name: Judge the edge against a profile
  hosts: all
  gather_facts: false
  tasks:
    - name: Probe the edge with the profile
      pqc.edge.tls_probe:
        host: 127.0.0.1
        port: 8443
        server_name: localhost
        engine: openssl
        groups: [MLKEM1024]
        profile: "{{ profile | pqc.edge.compliance_profile }}"
      register: judged
    - name: Keep the judgement on the controller
      ansible.builtin.copy:
        content: "{{ judged.compliance | to_json }}"
        dest: "{{ judgement }}"
        mode: "0600"
      delegate_to: localhost
"""


def s_client(host, args):
    """One real handshake with the host's OpenSSL 3.5: (exit code, what s_client printed)."""
    cmd = host.run("openssl s_client -connect 127.0.0.1:8443 -servername localhost %s </dev/null 2>&1" % args)
    return cmd.rc, cmd.stdout


def negotiated_group(output):
    match = re.search(r"Negotiated TLS1\.3 group: (\S+)", output) or re.search(r"Peer Temp Key: ([^,]+),", output)
    # A failed handshake prints the group as <NULL>.
    return match.group(1) if match and match.group(1) != "<NULL>" else None


def peer_signature(output):
    match = re.search(r"Peer signature type: (\S+)", output)
    return match.group(1) if match else None


def judged(run_playbook, tmp_path, profile):
    playbook = tmp_path / "judge.yml"
    playbook.write_text(JUDGE)
    judgement = tmp_path / ("%s.json" % profile)
    result = run_playbook(str(playbook), {"profile": profile, "judgement": str(judgement)})
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads(judgement.read_text())


def test_cnsa2_profile_serves_only_cnsa2_clients_and_web_brings_todays_table_back(host, run_site, run_playbook, tmp_path):
    try:
        converged = run_site({"pqc_edge_profile": "cnsa2"})
        assert converged.returncode == 0, converged.stdout[-4000:]
        # site.yml's own gate judged every server against the profile (pqc.edge's and the operator's).
        assert re.search(r"(\d+) of \1 TLS servers judged compliant with profile cnsa2", converged.stdout), converged.stdout[-3000:]

        rc, out = s_client(host, "-groups MLKEM1024 -sigalgs mldsa87 -CAfile %s/mldsa87.crt -verify_return_error" % TLS)
        assert rc == 0, out
        assert negotiated_group(out) == "MLKEM1024" and peer_signature(out) == "mldsa87"
        assert "Verify return code: 0 (ok)" in out and "TLS_AES_256_GCM_SHA384" in out
        for refused in ("-groups X25519MLKEM768", "-groups MLKEM1024 -ciphersuites TLS_AES_128_GCM_SHA256",
                        "-groups MLKEM1024 -sigalgs ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256",
                        "-groups X25519:secp256r1", "-tls1_2"):
            rc, out = s_client(host, refused)
            assert rc != 0 and negotiated_group(out) is None, (refused, out)

        cnsa2 = judged(run_playbook, tmp_path, "cnsa2")
        assert cnsa2["compliant"] is True and cnsa2["failed"] == [] and cnsa2["not_checked"] == [], cnsa2
        assert cnsa2["observed"]["supported_groups"] == ["MLKEM1024"]
        assert cnsa2["observed"]["certificate"]["key_algorithm"] == "ML-DSA-87"

        bsi = judged(run_playbook, tmp_path, "bsi")
        assert bsi["compliant"] is False
        assert "accepted MLKEM1024 offered alone; the profile does not allow it" in bsi["failed"]
        assert "refused SecP384r1MLKEM1024, SecP256r1MLKEM768, secp384r1, secp256r1, which the profile lists" in bsi["failed"] \
            or "accepted none of the profile's groups (SecP384r1MLKEM1024, SecP256r1MLKEM768, secp384r1, secp256r1)" in bsi["failed"], bsi
    finally:
        back = run_site({})
        # The role leaves key files it no longer serves where they are (an operator may use them elsewhere); this
        # scenario's other tests count the site's keys, so the ML-DSA-87 pair goes once nginx no longer names it.
        named = host.run("grep -rl mldsa87 /etc/nginx/sites-enabled/ /etc/nginx/nginx.conf")
        if not named.stdout.strip():
            host.run("rm -f %s/mldsa87.key %s/mldsa87.crt" % (TLS, TLS))
    assert back.returncode == 0, back.stdout[-4000:]
    assert not named.stdout.strip(), named.stdout
    assert "negotiate a hybrid group for post-quantum clients" in back.stdout
    rc, out = s_client(host, "-groups X25519MLKEM768")
    assert rc == 0 and negotiated_group(out) == "X25519MLKEM768" and peer_signature(out) == "mldsa44", out
    rc, out = s_client(host, "-groups X25519:secp256r1")
    assert rc == 0 and negotiated_group(out) == "X25519", out
