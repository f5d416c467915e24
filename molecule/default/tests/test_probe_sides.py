"""Where the gate probes from. From the controller, through the TCP port this scenario publishes on the controller's
loopback (UDP is not published: a path that lets TCP through and drops UDP): the controller probes only the address
the inventory gives, an operator's server on the edge's own 127.0.0.1 is probed from the edge, and HTTP/3 that answers
on the edge but not from the controller is a warning naming the port, not a failed host."""

import os

PORT = int(os.environ.get("PQC_EDGE_DEFAULT_TLS_PORT", "18443"))
ADMIN = "/etc/nginx/conf.d/pqc-edge-test-loopback-admin.conf"
CONTROLLER_VIEW = {"pqc_edge_probe_from": "controller", "pqc_edge_probe_address": "127.0.0.1",
                   "pqc_edge_probe_ports": {"8443": PORT}}


def test_the_controller_probes_the_inventory_address_and_the_edge_probes_its_own_loopback(host, run_playbook):
    conf = ("server {\\n    listen 127.0.0.1:8449 ssl;\\n    server_name admin.local;\\n"
            "    ssl_certificate /etc/pqc-edge/tls/default/ecdsa.crt;\\n    ssl_certificate_key /etc/pqc-edge/tls/default/ecdsa.key;\\n"
            "    return 200 admin;\\n}\\n")
    assert host.run("printf '%s' > %s && nginx -t -q && systemctl reload nginx" % (conf, ADMIN)).rc == 0
    try:
        result = run_playbook(os.path.join(os.environ["MOLECULE_PROJECT_DIRECTORY"], "playbooks", "verify.yml"),
                              CONTROLLER_VIEW)
    finally:
        host.run("rm -f %s && systemctl reload nginx" % ADMIN)
    said = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 0, said[-4000:]
    # Nothing listens on the controller's own 127.0.0.1:8449: the row is there because the edge probed its loopback.
    assert "admin.local:8449 operator X25519MLKEM768" in said, said[-4000:]
    assert "2 of 2 TLS servers negotiate a hybrid group" in said, said[-4000:]
    assert ("HTTP/3 pqc-edge-molecule on UDP port 8443 answers on the host itself but not from the controller "
            "(nothing listens on 127.0.0.1 UDP port %d" % PORT) in said, said[-4000:]
    assert "1 of them answering on the host but not from the controller" in said, said[-4000:]
