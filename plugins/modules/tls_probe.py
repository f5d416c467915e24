#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tls_probe
short_description: Tell which TLS 1.3 key-exchange group a server negotiates, and list every group it supports
version_added: "0.1.0"
description:
  - Offers a server a list of key-exchange groups, as a client would, and reports the group it picks, whether it
    needed a HelloRetryRequest, the protocol version and cipher suite, or the alert it answered with.
  - With O(enumerate=true) also lists every group of the collection's registry the server accepts, in the server's
    order when it enforces one, tells whether the server's order wins over the client's, and whether a client that
    supports a hybrid group but sent only a classical key share is moved to the hybrid (C(pq_enforced)).
  - The default O(engine=python) writes the ClientHello itself and reads only the server's first answer, so no
    post-quantum cryptography is needed on the probing machine. O(engine=openssl) runs real, complete handshakes
    with C(openssl s_client) (OpenSSL 3.5 or newer) and also reports the peer's signature algorithm and certificate.
author:
  - pqc.edge contributors (@pqc-edge)
options:
  host:
    description: Server name or address to connect to. Required unless O(probes) is given.
    type: str
  port:
    description: TCP port, or the UDP port with O(transport=quic).
    type: int
    default: 443
  transport:
    description:
      - C(tcp) sends the ClientHello in a TLS record over TCP.
      - C(quic) sends it in QUIC version 1 Initial packets over UDP, as an HTTP/3 client does (ALPN C(h3)), and reads
        the group from the server's Initial packets (RFC 9000, RFC 9001). Needs O(engine=python) and the Python
        C(cryptography) package, which ansible-core already requires. A server that asks for address validation
        (Retry) is answered with its token.
    type: str
    choices: [tcp, quic]
    default: tcp
  server_name:
    description: Name sent as SNI; defaults to O(host). No SNI is sent for an IP address.
    type: str
  groups:
    description:
      - Groups the client offers, in its order of preference, by IANA or OpenSSL name.
      - The default is a post-quantum-first offer like OpenSSL 3.5's own.
    type: list
    elements: str
    default: [X25519MLKEM768, SecP256r1MLKEM768, X25519, secp256r1, secp384r1]
  key_shares:
    description:
      - Groups among O(groups) for which the client sends a key share up front. The default is the first of
        O(groups). A server that picks another group answers with a HelloRetryRequest.
      - The python engine can make key shares for x25519, x448, the NIST curves, the RFC 7919 groups, the ML-KEM
        groups and the three standard hybrids.
    type: list
    elements: str
  signature_algorithms:
    description: TLS signature schemes to offer, such as C(mldsa44) or C(rsa_pss_rsae_sha256). Default is a broad set.
    type: list
    elements: str
  enumerate:
    description: Also list every supported group, the server's order, server preference and PQ enforcement.
    type: bool
    default: false
  engine:
    description: C(python) builds ClientHello messages itself; C(openssl) runs complete handshakes with openssl s_client.
    type: str
    choices: [python, openssl]
    default: python
  openssl_path:
    description: The openssl binary for O(engine=openssl); by default the first on the PATH.
    type: path
  ca_files:
    description:
      - PEM files of the certificate authorities to trust (O(engine=openssl) only). The server's chain is then
        verified against them alone, and its certificate against O(server_name) (or O(host)); see
        RV(certificate_verified). The handshake is probed either way.
    type: list
    elements: path
  client_certificate:
    description:
      - A client certificate (PEM) to show a server that asks for one (mutual TLS), with O(client_key); O(engine=openssl)
        only. Whether or not one is given, RV(client_certificate_requested) and RV(client_ca_names) say what the
        server asked for.
    type: path
  client_key:
    description: The private key of O(client_certificate), read by openssl on the probing machine only.
    type: path
  alt_svc:
    description:
      - Also ask the server C(HEAD /) over HTTPS (TCP; Python's ssl module, no certificate check) and return its
        C(Alt-Svc) header in RV(alt_svc), which is how browsers learn that it speaks HTTP/3 and on which UDP port.
    type: bool
    default: false
  timeout:
    description: Seconds to wait for a connection and for each answer.
    type: float
    default: 5.0
  client_hello_segment_size:
    description:
      - Send the ClientHello in pieces of this many bytes, each its own TCP segment (O(engine=python) over TCP). A
        hybrid ClientHello (about 1.3 KB) often crosses the network in more than one segment; a server that expects
        the whole ClientHello in one read fails on it, and this finds such servers.
    type: int
  profile:
    description:
      - Also judge the server against this compliance profile (as the filter P(pqc.edge.compliance_profile#filter)
        returns it, or a dictionary in the same schema with a C(name)); see RV(compliance).
      - Each key-exchange group, TLS 1.3 cipher suite and signature scheme is offered alone, and TLS 1.2 alone, with
        hand-built ClientHello messages; with O(engine=openssl) a complete handshake offering the profile's own
        signature schemes also shows the certificate served. Over TCP only.
    type: dict
  probes:
    description:
      - Many probes in one call, instead of one module run per server and client offer (a loop costs a module run,
        and a connection to the host, per item). Each entry is an offer to one server; an option an entry leaves out
        takes the value of the option of the same name above, or its default.
      - The answers come back in RV(probes), in the same order. A probe whose server cannot be reached is a failed
        answer there, not a failure of the task; an entry with bad options fails the task, naming the entry.
      - Cannot be combined with O(host). O(enumerate) above is the default of each entry's own.
    type: list
    elements: dict
    suboptions:
      host:
        description: As O(host).
        type: str
        required: true
      port:
        description: As O(port).
        type: int
      transport:
        description: As O(transport).
        type: str
        choices: [tcp, quic]
      server_name:
        description: As O(server_name).
        type: str
      groups:
        description: As O(groups).
        type: list
        elements: str
      key_shares:
        description: As O(key_shares).
        type: list
        elements: str
      signature_algorithms:
        description: As O(signature_algorithms).
        type: list
        elements: str
      engine:
        description: As O(engine).
        type: str
        choices: [python, openssl]
      ca_files:
        description: As O(ca_files).
        type: list
        elements: path
      enumerate:
        description: As O(enumerate).
        type: bool
      client_hello_segment_size:
        description: As O(client_hello_segment_size).
        type: int
      profile:
        description: As O(profile).
        type: dict
      client_certificate:
        description: As O(client_certificate).
        type: path
      client_key:
        description: As O(client_key).
        type: path
      alt_svc:
        description: As O(alt_svc).
        type: bool
      openssl_path:
        description: As O(openssl_path).
        type: path
extends_documentation_fragment:
  - pqc.edge.read_only
notes:
  - A server that shares none of the offered groups is a result, not a failure; RV(negotiated_group) is null and
    RV(alert) is V(handshake_failure).
  - Enumeration sends one connection per supported group plus a few more; against a server on loopback it takes
    milliseconds.
  - Over QUIC the probe closes each connection (CONNECTION_CLOSE) as soon as it has the server's first answer.
    Where nothing answers on the UDP port, it fails after O(timeout) seconds, or at once when the host answers
    port unreachable.
"""

EXAMPLES = r"""
- name: Which group does the edge give a post-quantum client?
  pqc.edge.tls_probe:
    host: edge1.example.org
    port: 443
  register: pq

- name: Fail unless it is quantum-safe
  ansible.builtin.assert:
    that: pq.quantum_safe

- name: A classical-only client must still be served
  pqc.edge.tls_probe:
    host: edge1.example.org
    groups: [X25519, secp256r1]

- name: Everything the server supports, and in which order
  pqc.edge.tls_probe:
    host: 127.0.0.1
    port: 8443
    enumerate: true
  register: inventory

- name: The same question over QUIC, as an HTTP/3 client asks it
  pqc.edge.tls_probe:
    host: edge1.example.org
    port: 443
    transport: quic
  register: pq_quic

- name: A complete handshake with openssl, with certificate details
  pqc.edge.tls_probe:
    host: 127.0.0.1
    port: 8443
    engine: openssl
    signature_algorithms: [mldsa44]

- name: Does a client that trusts only the fleet's ML-DSA root accept the edge's certificate?
  pqc.edge.tls_probe:
    host: edge1.example.org
    engine: openssl
    signature_algorithms: [mldsa44]
    ca_files: [/etc/pqc-edge/trust/mldsa-root.crt]
  register: trusted
  failed_when: not trusted.certificate_verified

- name: Does the edge meet CNSA 2.0? (compliance.failed says where not)
  pqc.edge.tls_probe:
    host: 127.0.0.1
    port: 8443
    engine: openssl
    profile: "{{ 'cnsa2' | pqc.edge.compliance_profile }}"
  register: cnsa2
  failed_when: not cnsa2.compliance.compliant

- name: Three client offers to two servers, in one module run
  pqc.edge.tls_probe:
    port: 443
    probes:
      - {host: edge1.example.org}
      - {host: edge1.example.org, groups: [X25519, secp256r1]}
      - {host: edge2.example.org, transport: quic}
  register: answers

- name: Every answer reached its server and was quantum-safe where it was asked to be
  ansible.builtin.assert:
    that:
      - answers.probes | selectattr('failed') | list | length == 0
      - answers.probes[0].quantum_safe and answers.probes[2].quantum_safe
"""

RETURN = r"""
negotiated_group:
  description: IANA name of the group the server picked, or null when it shares none of the offered groups.
  type: str
  returned: always
  sample: X25519MLKEM768
group_codepoint:
  description: Its TLS code point, as hex.
  type: str
  returned: always
  sample: "0x11ec"
group_kind:
  description: C(hybrid), C(pq) or C(classical); null when no group was negotiated.
  type: str
  returned: always
  sample: hybrid
quantum_safe:
  description: Whether the negotiated group is hybrid or post-quantum.
  type: bool
  returned: always
tls_version:
  description: Protocol version the server chose.
  type: str
  returned: always
  sample: TLSv1.3
cipher_suite:
  description: Cipher suite the server chose.
  type: str
  returned: always
  sample: TLS_AES_256_GCM_SHA384
hello_retry_request:
  description: Whether the server asked for another key share (one extra round trip) before agreeing.
  type: bool
  returned: always
alert:
  description: Name of the alert the server answered with, if it did.
  type: str
  returned: always
  sample: handshake_failure
transport:
  description: C(tcp) or C(quic), as asked.
  type: str
  returned: always
  sample: quic
handshake_ms:
  description: Milliseconds from connecting to the server's answer (python) or to the end of the handshake (openssl).
  type: float
  returned: always
supported_groups:
  description: Every registry group the server accepts, in the server's order when it enforces one.
  type: list
  elements: str
  returned: when O(enumerate=true)
  sample: [X25519MLKEM768, SecP256r1MLKEM768, x25519, secp256r1]
server_preference:
  description: Whether the server's order wins over the client's; null when the server supports one group only.
  type: bool
  returned: when O(enumerate=true)
pq_enforced:
  description:
    - Whether a client that supports one of the server's quantum-safe groups but sent only a classical key share
      is moved to it (with a HelloRetryRequest) rather than left on the classical group.
    - True only when this holds for every classical group the server supports and the probe can make a key share
      for; RV(classical_key_shares_kept) names the exceptions.
    - Null when the server supports no quantum-safe group, or no classical group the probe can make a key share for.
  type: bool
  returned: when O(enumerate=true)
classical_key_shares_kept:
  description: Classical groups whose key share the server accepted although the client also offered a quantum-safe group.
  type: list
  elements: str
  returned: when O(enumerate=true)
  sample: [x25519]
peer_signature_algorithm:
  description: Signature scheme of the server's CertificateVerify.
  type: str
  returned: when O(engine=openssl) and a handshake completed
  sample: mldsa44
certificate_key_algorithm:
  description: Public key algorithm of the server certificate.
  type: str
  returned: when O(engine=openssl) and a handshake completed
  sample: ML-DSA-44
certificate_subject:
  description: Subject of the server certificate.
  type: str
  returned: when O(engine=openssl) and a handshake completed
  sample: CN=edge1.example.org
certificate_issuer:
  description: Issuer of the server certificate.
  type: str
  returned: when O(engine=openssl) and a handshake completed
  sample: CN=pqc.edge fleet ML-DSA root
certificate_days_left:
  description: Whole days until the server certificate expires (negative once it has).
  type: int
  returned: when O(engine=openssl) and a handshake completed
certificate_verified:
  description: Whether the chain verified against O(ca_files) and the certificate names the server.
  type: bool
  returned: when O(ca_files) is given and a handshake completed
verify_error:
  description: Why verification failed, as OpenSSL says it; null when it succeeded.
  type: str
  returned: when O(ca_files) is given and a handshake completed
  sample: self-signed certificate in certificate chain
client_certificate_requested:
  description: Whether the server asked the client for a certificate (a TLS 1.3 CertificateRequest).
  type: bool
  returned: when O(engine=openssl) and a handshake completed
client_ca_names:
  description: The CA names the server listed in its request for a client certificate, as OpenSSL prints them.
  type: list
  elements: str
  returned: when O(engine=openssl) and a handshake completed
  sample: ["CN=pqc.edge private CA (ML-DSA root)", "CN=pqc.edge private CA (ECDSA root)"]
certificate_signature_algorithm:
  description: Algorithm the server certificate is signed with, as OpenSSL names it.
  type: str
  returned: when O(engine=openssl) and a handshake completed
alt_svc:
  description: The server's C(Alt-Svc) header (several joined with C(, )), or null where it sends none.
  type: str
  returned: when O(alt_svc=true) and the server answered
  sample: h3=":443"; ma=86400
alt_svc_error:
  description: Why the C(Alt-Svc) header could not be read (no HTTPS answer); the offer's result stands.
  type: str
  returned: when O(alt_svc=true) and the server gave no HTTP answer
certificate_not_after:
  description: When the server certificate expires, as OpenSSL prints it (C(Mar  6 10:00:00 2027 GMT)).
  type: str
  returned: when O(engine=openssl) and a handshake completed
certificate_not_before:
  description: When the server certificate became valid, as OpenSSL prints it.
  type: str
  returned: when O(engine=openssl) and a handshake completed
certificate_key_size:
  description: Size of the server certificate's key in bits (256 for ECDSA P-256); null for keys OpenSSL gives no size (ML-DSA).
  type: int
  returned: when O(engine=openssl) and a handshake completed
  sample: ML-DSA-87
compliance:
  description:
    - The judgement of O(profile). C(compliant) is true when every point was checked and none failed, false when
      one failed, null when none failed but some could not be checked (C(not_checked) says which and why).
    - C(failed) lists each difference in plain words, such as C(TLS_AES_128_GCM_SHA256 accepted) or
      C(leaf key is ML-DSA-44 for a client offering mldsa87; the profile requires ML-DSA-87); C(observed) is what
      the server accepted.
  type: dict
  returned: when O(profile) is given
  sample:
    profile: cnsa2
    compliant: false
    failed: [accepted X25519MLKEM768 offered alone; the profile does not allow it]
    not_checked: []
probes:
  description:
    - One answer per entry of O(probes), in order. Each holds what a single probe returns (those of O(enumerate) where
      the entry enumerates), with C(engine), C(host), C(port) and C(server_name) as probed, and C(failed).
    - C(failed) is true when the server could not be probed (refused, timed out, no answer over QUIC); C(msg) says why
      and the other keys are absent.
  type: list
  elements: dict
  returned: when O(probes) is given
  sample:
    - {host: 127.0.0.1, port: 8443, server_name: edge1.example.org, transport: tcp, engine: python, failed: false,
       negotiated_group: X25519MLKEM768, group_kind: hybrid, quantum_safe: true, hello_retry_request: false}
    - {host: 127.0.0.1, port: 8443, server_name: edge1.example.org, transport: quic, engine: python, failed: true,
       msg: no answer from 127.0.0.1 port 8443 over QUIC}
"""

import datetime
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pqc.edge.plugins.module_utils import _groups
from ansible_collections.pqc.edge.plugins.module_utils import _profiles
from ansible_collections.pqc.edge.plugins.module_utils import _quic
from ansible_collections.pqc.edge.plugins.module_utils import _tls


class ProbeInputError(Exception):
    """Options that cannot make a probe: the task fails, whatever the server would say."""


class PythonEngine(object):
    """Offers through hand-built ClientHello messages; needs no TLS library."""

    name = "python"
    needs_decoy = False

    def __init__(self, module, p):
        self.host, self.port, self.timeout = p["host"], p["port"], p["timeout"]
        self.server_name = p["server_name"] or p["host"]
        self.offer_over = _quic.offer if p["transport"] == "quic" else _tls.offer
        # p.get: scripts/bench-probe.py builds an engine from the options it needs.
        self.segment = {"segment_size": p["client_hello_segment_size"]} if p.get("client_hello_segment_size") else {}
        self.schemes = None
        if p["signature_algorithms"]:
            unknown = [s for s in p["signature_algorithms"] if s not in _tls.SIGNATURE_SCHEMES]
            if unknown:
                raise ProbeInputError("unknown signature algorithm(s): %s (known: %s)"
                                      % (", ".join(unknown), ", ".join(_tls.SIGNATURE_SCHEMES)))
            self.schemes = [_tls.SIGNATURE_SCHEMES[s] for s in p["signature_algorithms"]]

    def can_share(self, group):
        return _tls.can_share(group.codepoint)

    def offer(self, groups, key_shares):
        result = self.offer_over(
            self.host, self.port, [g.codepoint for g in groups], [g.codepoint for g in key_shares],
            self.server_name, self.schemes, self.timeout, **self.segment
        )
        result["negotiated_group"] = _groups.by_codepoint(result["negotiated_group"]) if result["negotiated_group"] is not None else None
        return result


class OpenSSLEngine(object):
    """Offers through complete handshakes with `openssl s_client` (OpenSSL >= 3.5 for '*' key-share marks)."""

    name = "openssl"
    needs_decoy = True

    def __init__(self, module, p):
        self.module = module
        self.binary = p["openssl_path"] or module.get_bin_path("openssl", required=True)
        self.host, self.port, self.timeout = p["host"], p["port"], p["timeout"]
        self.server_name = p["server_name"] or p["host"]
        self.sigalgs = p["signature_algorithms"]
        rc, out, err = module.run_command([self.binary, "list", "-tls-groups"])
        if rc != 0:
            raise ProbeInputError("engine=openssl needs OpenSSL 3.5 or newer on the probing machine; %s answered: %s"
                                  % (self.binary, (err or out).strip()))
        self.local = [g for g in (_groups.by_name(n) for n in out.strip().split(":")) if g is not None]
        self.known_supported = set()
        self.client = ["-cert", p["client_certificate"], "-key", p["client_key"]] if p["client_certificate"] else []
        if p["client_certificate"]:
            self.client += self._client_chain(module, p["client_certificate"])
        self.ca_file = None
        if p["ca_files"]:
            # s_client takes one CA file: the ones given, one after the other.
            self.ca_file = os.path.join(module.tmpdir, "ca-files.pem")
            with open(self.ca_file, "w") as bundle:
                for path in p["ca_files"]:
                    try:
                        with open(path) as handle:
                            bundle.write(handle.read().rstrip("\n") + "\n")
                    except OSError as exc:
                        raise ProbeInputError("ca_files: cannot read %s: %s" % (path, exc))

    @staticmethod
    def _client_chain(module, path):
        """-cert_chain with the certificates after the first in the client certificate's file (an intermediate that
        signed it), which s_client would otherwise not send; [] where the file holds one certificate."""
        try:
            with open(path) as handle:
                pems = re.findall(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", handle.read(), re.S)
        except OSError as exc:
            raise ProbeInputError("client_certificate: cannot read %s: %s" % (path, exc))
        if len(pems) < 2:
            return []
        chain = os.path.join(module.tmpdir, "client-chain.pem")
        with open(chain, "w") as out:
            out.write("\n".join(pems[1:]) + "\n")
        return ["-cert_chain", chain]

    def can_share(self, group):
        return group in self.local

    def certificate_details(self, pem):
        """Of a PEM certificate: key algorithm, whole days left, signature algorithm, notAfter, notBefore and key size
        (bits; None where the key has none, as ML-DSA)."""
        rc, out, dummy = self.module.run_command([self.binary, "x509", "-noout", "-text", "-startdate", "-enddate"], data=pem)
        found = dict((name, re.search(pattern, out, re.M) if rc == 0 else None) for name, pattern in (
            ("algorithm", r"Public Key Algorithm: (\S+)"), ("signature", r"Signature Algorithm: (\S+)"),
            ("end", r"^notAfter=(.+)$"), ("start", r"^notBefore=(.+)$"), ("bits", r"Public-Key: \(([0-9]+) bit\)")))
        value = dict((name, match.group(1).strip() if match else None) for name, match in found.items())
        days = None
        if value["end"]:
            expires = datetime.datetime.strptime(value["end"], "%b %d %H:%M:%S %Y GMT")
            days = (expires - datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)).days
        return {"certificate_key_algorithm": value["algorithm"], "certificate_days_left": days,
                "certificate_signature_algorithm": value["signature"], "certificate_not_after": value["end"],
                "certificate_not_before": value["start"],
                "certificate_key_size": int(value["bits"]) if value["bits"] else None}

    def _decoy(self, groups):
        """A group this client has and the server is not known to support, to carry the one key share."""
        for group in self.local:
            if group not in groups and group.codepoint not in self.known_supported:
                return group
        return None

    def run(self, groups, key_shares):
        spec = ":".join(("*" if g in key_shares else "") + g.openssl_name for g in groups)
        args = [self.binary, "s_client", "-connect", "%s:%d" % (self.host, self.port), "-msg", "-groups", spec]
        if self.server_name and not _tls.is_ip_address(self.server_name):
            args += ["-servername", self.server_name]
        if self.sigalgs:
            args += ["-sigalgs", ":".join(self.sigalgs)]
        args += self.client
        if self.ca_file:
            args += ["-CAfile", self.ca_file,
                     "-verify_ip" if _tls.is_ip_address(self.server_name) else "-verify_hostname", self.server_name]
        started = time.monotonic()
        text = self.s_client(args)
        seconds = time.monotonic() - started
        if "Connection refused" in text or "connect:errno" in text:
            raise _tls.ProbeError("connection to %s port %s was refused: nothing listens there" % (self.host, self.port))
        return text, seconds

    def s_client(self, args):
        """What s_client printed, or a ProbeError once the probe's timeout has passed: run_command has no deadline, and
        a server that drips bytes would hold s_client for as long as it likes, so coreutils' timeout kills it."""
        limit = self.module.get_bin_path("timeout", required=True)
        rc, out, err = self.module.run_command([limit, "--signal=KILL", "%.3f" % self.timeout] + args)
        # 124: timeout ended it; -9 (or 137 through a shell): killed, timeout re-raising the signal on itself.
        if rc in (124, 137, -9):
            raise _tls.ProbeError("%s port %s did not complete a TLS handshake within %s s" % (self.host, self.port, self.timeout))
        return out + err

    def offer(self, groups, key_shares):
        unusable = [g.name for g in groups if g not in self.local]
        if unusable:
            raise _tls.ProbeError("the local OpenSSL (%s) cannot offer %s" % (self.binary, ", ".join(unusable)))
        shares = list(key_shares)
        offered = list(groups)
        decoy = None
        if not shares:
            decoy = self._decoy(groups)
            if decoy is None:
                raise _tls.ProbeError("no group is left to carry a key share the server does not support")
            offered = [decoy] + offered
            shares = [decoy]
        text, seconds = self.run(offered, shares)
        result = parse_s_client(text)
        if result["negotiated_group"] is None and result["alert"] is None:
            # Neither a handshake nor an alert from the server: s_client gave up on what it was sent.
            error = re.search(r"error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:\n]+)", text)
            raise _tls.ProbeError("%s port %s sent no TLS answer that openssl s_client could read%s"
                                  % (self.host, self.port, ": " + error.group(1) if error else ""))
        result["handshake_ms"] = round(seconds * 1000.0, 3)
        pem = result.pop("certificate_pem", None)
        if pem:
            result.update(self.certificate_details(pem))
        verify = result.pop("verify", None)
        if self.ca_file and result["negotiated_group"] is not None:
            result["certificate_verified"] = verify is not None and verify[0] == 0
            result["verify_error"] = None if result["certificate_verified"] else (verify[1] if verify else "no verification result")
        if decoy is not None and result["negotiated_group"] == decoy:
            # The server supports the decoy: remember it, and ask again with another one.
            self.known_supported.add(decoy.codepoint)
            return self.offer(groups, key_shares)
        return result


def parse_s_client(text):
    """Read what openssl s_client printed about one handshake."""
    group = None
    match = re.search(r"^Negotiated TLS1\.3 group: (\S+)", text, re.M)
    if match is None:
        # "X25519, 253 bits", "ECDH, prime256v1, 256 bits" or, for RFC 7919 groups, "DH, 2048 bits".
        match = re.search(r"^Peer Temp Key: (?:ECDH, )?([^,\s]+)(?:, (\d+) bits)?", text, re.M)
    if match is not None and match.group(1) == "DH" and match.lastindex == 2:
        group = _groups.by_name("ffdhe" + match.group(2))
    elif match is not None and match.group(1) != "<NULL>":
        group = _groups.by_name(match.group(1))
    alert = re.search(r"alert ([a-z ]+?)(?::|$)", text, re.M)
    protocol = re.search(r"^\s*Protocol\s*: (\S+)", text, re.M)
    cipher = re.search(r"Cipher is (\S+)", text)
    signature = re.search(r"^Peer signature type: (\S+)", text, re.M)
    subject = re.search(r"^subject=(.*)$", text, re.M)
    issuer = re.search(r"^issuer=(.*)$", text, re.M)
    verify = re.search(r"^Verify return code: (\d+) \((.*)\)$", text, re.M)
    pem = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    # The server's CertificateRequest (s_client -msg) and the CA names it listed, one per line, before the schemes.
    requested = re.search(r"<<< TLS 1\.3, Handshake \[length [0-9a-f]+\], CertificateRequest", text)
    names = re.search(r"^Acceptable client certificate CA names\n(.*?)^(?:Requested Signature Algorithms|Client Certificate "
                      r"Types|Peer sign|---)", text, re.M | re.S)
    result = {
        "negotiated_group": group,
        "hello_retry_request": len(re.findall(r"<<< TLS 1\.3, Handshake \[length [0-9a-f]+\], ServerHello", text)) > 1,
        "alert": alert.group(1).strip().replace(" ", "_") if alert and group is None else None,
        "tls_version": protocol.group(1) if protocol and group is not None else None,
        "cipher_suite": cipher.group(1) if cipher and cipher.group(1) != "(NONE)" else None,
    }
    if group is not None:
        result["peer_signature_algorithm"] = signature.group(1) if signature else None
        result["certificate_subject"] = subject.group(1).strip() if subject else None
        result["certificate_issuer"] = issuer.group(1).strip() if issuer else None
        result["certificate_pem"] = pem.group(0) if pem else None
        result["verify"] = (int(verify.group(1)), verify.group(2)) if verify else None
        result["client_certificate_requested"] = requested is not None
        result["client_ca_names"] = [line.strip() for line in names.group(1).splitlines() if line.strip()] if names else []
    return result


def probe_offer(engine, groups, key_shares):
    result = engine.offer(groups, key_shares)
    group = result.pop("negotiated_group")
    result.update({
        "negotiated_group": group.name if group else None,
        "group_codepoint": "0x%04x" % group.codepoint if group else None,
        "group_kind": group.kind if group else None,
        "quantum_safe": bool(group) and _groups.is_quantum_safe(group.kind),
    })
    return result


def picks(engine, candidates, share_first=False):
    """Offer the candidates again and again, each time without the server's last pick, until it picks none.

    Returns the picks in order and the number of offers made. With share_first the first remaining candidate
    carries a key share, which can sway a pick: the picks are then a set, not the server's order.
    """
    remaining = list(candidates)
    order = []
    offers = 0
    while remaining:
        picked = engine.offer(remaining, remaining[:1] if share_first else [])["negotiated_group"]
        offers += 1
        if picked is None or picked not in remaining:
            break
        order.append(picked)
        remaining.remove(picked)
    return order, offers


def enumerate_server(engine, candidates):
    """Every candidate the server accepts, in the order it picks them; then preference and enforcement."""
    probes = 0
    if engine.needs_decoy:
        # s_client always sends a key share. Learn the supported set first, so that a group the server
        # lacks can carry that share while the server picks freely among the others.
        candidates, offers = picks(engine, candidates, share_first=True)
        engine.known_supported = set(g.codepoint for g in candidates)
        probes += offers
    order, offers = picks(engine, candidates)
    probes += offers

    # The server's order wins when, for each neighbouring pair, it keeps its own first choice even though
    # the client lists the other one first.
    server_preference = None
    if len(order) > 1:
        server_preference = True
        for first, second in zip(order, order[1:]):
            probes += 1
            if engine.offer([second, first], [])["negotiated_group"] != first:
                server_preference = False
                break

    # Enforced only when no classical key share keeps a hybrid-capable client classical.
    pq_enforced = None
    kept = []
    safe = [g for g in order if _groups.is_quantum_safe(g.kind)]
    classical = [g for g in order if not _groups.is_quantum_safe(g.kind) and engine.can_share(g)]
    if safe and classical:
        for group in classical:
            probes += 1
            picked = engine.offer(safe + [group], [group])["negotiated_group"]
            if picked is None or not _groups.is_quantum_safe(picked.kind):
                kept.append(group.name)
        pq_enforced = not kept
    return {
        "supported_groups": [g.name for g in order],
        "server_preference": server_preference,
        "pq_enforced": pq_enforced,
        "classical_key_shares_kept": kept,
        "probes": probes,
    }


def probe(module, p, enumerate_groups=False):
    """One client offer to one server, as the options in p ask; raises ProbeInputError or _tls.ProbeError."""
    if not 0 < p["port"] < 65536:
        raise ProbeInputError("port=%d is not a %s port (1-65535)" % (p["port"], "UDP" if p["transport"] == "quic" else "TCP"))
    if p["transport"] == "quic" and p["engine"] != "python":
        raise ProbeInputError("transport=quic needs engine=python: the openssl engine runs s_client over TCP")
    segment = p["client_hello_segment_size"]
    if segment is not None and (p["engine"] != "python" or p["transport"] != "tcp" or segment < 1):
        raise ProbeInputError("client_hello_segment_size=%s needs engine=python over tcp and at least 1 byte"
                              % p["client_hello_segment_size"])
    if p["ca_files"] and p["engine"] != "openssl":
        raise ProbeInputError("ca_files needs engine=openssl: the python engine reads no certificate")
    if bool(p["client_certificate"]) != bool(p["client_key"]) or (p["client_certificate"] and p["engine"] != "openssl"):
        raise ProbeInputError("client_certificate and client_key go together, with engine=openssl (a complete handshake)")
    if not p["groups"]:
        raise ProbeInputError("groups is empty: offer at least one key-exchange group")
    profile = checked_profile(p) if p.get("profile") else None
    try:
        groups = _groups.resolve(p["groups"])
        key_shares = _groups.resolve(p["key_shares"]) if p["key_shares"] is not None else groups[:1]
    except _groups.UnknownGroupError as exc:
        raise ProbeInputError(str(exc))
    strays = [g.name for g in key_shares if g not in groups]
    if strays:
        raise ProbeInputError("key_shares must be among groups; not offered: %s" % ", ".join(strays))

    engine = PythonEngine(module, p) if p["engine"] == "python" else OpenSSLEngine(module, p)
    unshareable = [g.name for g in key_shares if not engine.can_share(g)]
    if unshareable:
        raise ProbeInputError("the %s engine cannot make a key share for %s" % (engine.name, ", ".join(unshareable)))

    result = probe_offer(engine, groups, key_shares)
    if enumerate_groups:
        candidates = list(_groups.GROUPS)
        if engine.name == "openssl":
            candidates = [g for g in candidates if g in engine.local]
        result.update(enumerate_server(engine, candidates))
    result.update(engine=engine.name, transport=p["transport"])
    if p["alt_svc"]:
        if p["transport"] != "tcp":
            raise ProbeInputError("alt_svc needs transport=tcp: Alt-Svc is what a server says over HTTPS")
        try:
            result["alt_svc"] = _tls.http_alt_svc(p["host"], p["port"], p["server_name"], p["timeout"])
        except _tls.ProbeError as exc:
            result.update(alt_svc=None, alt_svc_error=str(exc))
    if profile is not None:
        result["compliance"] = observe_for_profile(module, p, result, profile)
    return result


def observe_for_profile(module, p, result, profile):
    """What judging a profile needs to know of the server: each group, TLS 1.3 suite and signature scheme offered
    alone, a TLS 1.2-only offer, and with engine=openssl the certificate served for the profile's own offer."""
    options = dict(p, transport="tcp", signature_algorithms=None, client_hello_segment_size=None)
    python = PythonEngine(module, options)
    if result.get("engine") == "python" and "supported_groups" in result:
        enumeration = result
    else:
        enumeration = enumerate_server(python, [g for g in _groups.GROUPS if python.can_share(g)])
    supported = _groups.resolve(enumeration["supported_groups"])
    observed = {
        "supported_groups": enumeration["supported_groups"],
        "server_preference": enumeration["server_preference"],
        "first_group": enumeration["supported_groups"][0] if enumeration["server_preference"] else None,
        "tls12": _tls.offer_tls12(p["host"], p["port"], python.server_name, p["timeout"])["tls_version"] == "TLSv1.2",
    }
    not_checked = []
    carrier = [g for g in supported if python.can_share(g)][:1]
    if carrier:
        codes = dict((name, code) for code, name in _tls.CIPHER_SUITES.items())
        observed["ciphersuites"] = [
            suite for suite in _profiles.TLS13_SUITES
            if _tls.offer(p["host"], p["port"], [carrier[0].codepoint], [carrier[0].codepoint], python.server_name,
                          timeout=p["timeout"], cipher_suites=[codes[suite]])["tls_version"] == "TLSv1.3"]
        observed["signature_algorithms"] = [
            scheme for scheme in _profiles.SIGNATURE_SCHEMES
            if _tls.offer(p["host"], p["port"], [carrier[0].codepoint], [carrier[0].codepoint], python.server_name,
                          [_tls.SIGNATURE_SCHEMES[scheme]], p["timeout"])["tls_version"] == "TLSv1.3"]
    else:
        not_checked.append("cipher suites and signature schemes: the server accepted no group this probe can share a key for")
    if p["engine"] == "openssl":
        offer = _profiles.checks(profile)["certificate_offer"]
        engine = OpenSSLEngine(module, dict(p, signature_algorithms=offer))
        groups = [g for g in supported if g.name in profile["groups"] and engine.can_share(g)] or \
            [g for g in supported if engine.can_share(g)]
        certificate = None
        if groups:
            answer = engine.offer(groups, groups[:1])
            if answer["negotiated_group"] is not None:
                certificate = {
                    "key_algorithm": answer.get("certificate_key_algorithm"),
                    "signature_algorithm": answer.get("certificate_signature_algorithm"),
                    "peer_signature_algorithm": answer.get("peer_signature_algorithm"),
                }
        observed["certificate"] = certificate
    else:
        not_checked.append("the certificate served: needs engine=openssl, a complete handshake")
    failed = _profiles.judge(profile, observed)
    return {
        "profile": profile["name"],
        # Compliant only when every point was checked and none failed.
        "compliant": (not failed) if not not_checked else (False if failed else None),
        "failed": failed,
        "not_checked": not_checked,
        "observed": observed,
    }


def checked_profile(p):
    """p["profile"] in the profile schema (with its name), or ProbeInputError naming what is wrong."""
    if p["transport"] != "tcp":
        raise ProbeInputError("profile needs transport=tcp: suites, schemes and TLS 1.2 are offered over TCP")
    given = dict(p["profile"])
    name = str(given.pop("name", "profile"))
    try:
        profile = _profiles.validate(name, given)
    except _profiles.ProfileError as exc:
        raise ProbeInputError(str(exc))
    profile["name"] = name
    return profile


def probe_many(module, p):
    """Each entry of p["probes"] with the top-level options as its defaults; a server that cannot be probed is
    a failed answer, bad options fail the module."""
    answers = []
    for index, entry in enumerate(p["probes"]):
        options = dict(p)
        options.update((key, value) for key, value in entry.items() if value is not None)
        where = dict((key, options[key]) for key in ("host", "port", "server_name", "transport"))
        try:
            answer = probe(module, options, options["enumerate"])
            answer["failed"] = False
        except ProbeInputError as exc:
            module.fail_json(msg="probes[%d] (%s port %s): %s" % (index, options["host"], options["port"], exc))
        except _tls.ProbeError as exc:
            answer = {"failed": True, "msg": str(exc), "engine": options["engine"]}
        except Exception as exc:  # pylint: disable=broad-except
            # Whatever a server sends, the other servers of the run keep their answers.
            answer = {"failed": True, "msg": unreadable(options, exc), "engine": options["engine"]}
        answer.update(where)
        answers.append(answer)
    return answers


def unreadable(p, exc):
    """A sentence for an answer the probe's parsers did not foresee: a failed answer, never a traceback."""
    return "%s port %s sent an answer this probe cannot read (%s: %s)" % (p["host"], p["port"], type(exc).__name__, exc)


# The options of one server and client offer, which each entry of `probes` may set for itself.
PROBE_OPTIONS = ("host", "port", "transport", "server_name", "groups", "key_shares", "signature_algorithms", "engine",
                 "ca_files", "enumerate", "client_hello_segment_size", "profile", "client_certificate", "client_key",
                 "alt_svc", "openssl_path")


def argument_spec():
    spec = dict(
        host=dict(type="str"),
        port=dict(type="int", default=443),
        server_name=dict(type="str"),
        groups=dict(type="list", elements="str",
                    default=["X25519MLKEM768", "SecP256r1MLKEM768", "X25519", "secp256r1", "secp384r1"]),
        key_shares=dict(type="list", elements="str", no_log=False),
        signature_algorithms=dict(type="list", elements="str"),
        enumerate=dict(type="bool", default=False),
        engine=dict(type="str", default="python", choices=["python", "openssl"]),
        transport=dict(type="str", default="tcp", choices=["tcp", "quic"]),
        openssl_path=dict(type="path"),
        ca_files=dict(type="list", elements="path"),
        timeout=dict(type="float", default=5.0),
        client_hello_segment_size=dict(type="int"),
        profile=dict(type="dict"),
        client_certificate=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        alt_svc=dict(type="bool", default=False),
    )
    # Derived from the top-level options, without their defaults: what an entry leaves out comes from the top level.
    entry = {name: {key: value for key, value in spec[name].items() if key != "default"} for name in PROBE_OPTIONS}
    entry["host"]["required"] = True
    spec["probes"] = dict(type="list", elements="dict", options=entry)
    return spec


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        required_one_of=[("host", "probes")],
        mutually_exclusive=[("host", "probes")],
        supports_check_mode=True,
    )
    p = module.params
    if p["probes"] is not None:
        module.exit_json(changed=False, probes=probe_many(module, p))
    try:
        result = probe(module, p, p["enumerate"])
    except (ProbeInputError, _tls.ProbeError) as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg=unreadable(p, exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
