# -*- coding: utf-8 -*-
# Copyright: (c) 2026, pqc.edge contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Renewal of an edge's ACME certificates between plays, on the edge itself (pqc-edge-acme-renew, run by a timer).

It works on what the play left: the play's ACME account key, each certificate's own private key and file, the
names the play ordered, and the pqc.edge site files that name each certificate's sha256. A certificate is due when
the directory's renewal information (RFC 9773) says so, or by the play's own rule (renew_days, else a share of its
lifetime); the order names the certificate it replaces. The new certificate is written beside the old one and
renamed over it, the site files get its sha256 (and their seal), and nginx reloads only after `nginx -t` passed;
otherwise every file is put back. Signing uses the host's openssl command line, HTTP the standard library, so the
host needs nothing beyond Python. Installed on hosts beside the script with _expiry, _prometheus and _seal.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import os
import re
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

try:
    from ansible_collections.pqc.edge.plugins.module_utils import _expiry, _prometheus, _seal
except ImportError:  # on a host, beside pqc-edge-acme-renew
    import _expiry  # type: ignore[no-redef]
    import _prometheus  # type: ignore[no-redef]
    import _seal  # type: ignore[no-redef]

# The words the play uses for the same reason (roles/certificates/tasks/acme.yml).
ARI_REASON = "the ACME directory asks for renewal now (ARI)"
CHALLENGE_DIR = ".well-known/acme-challenge"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
POLL_SECONDS = 90
HTTP_TIMEOUT = 30
OPENSSL_TIMEOUT = 60
USER_AGENT = "pqc.edge-acme-renew"
RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")
DIGEST_LINE = re.compile(r"^(#.*: )(\S+) ([0-9a-f]{64}|not yet issued)$")
METRIC_SUCCESS = "pqc_edge_acme_renewal_success"
METRIC_LAST_RUN = "pqc_edge_acme_renewal_last_run_timestamp_seconds"
METRIC_LAST_SUCCESS = "pqc_edge_acme_renewal_last_success_timestamp_seconds"
METRIC_RENEWED = "pqc_edge_acme_renewal_renewed_certificates"


class AcmeError(Exception):
    """A step of the renewal failed; the message says which and why."""


def b64url(data):
    """base64url without padding, as JOSE and ACME write binary values."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _der_length(der, at):
    """(length, offset of the contents) of the DER length field at `at`."""
    first = der[at]
    if first < 0x80:
        return first, at + 1
    count = first & 0x7F
    return int.from_bytes(der[at + 1:at + 1 + count], "big"), at + 1 + count


def ecdsa_signature_raw(der, size=32):
    """JWS's form of an ECDSA signature (r and s, each `size` bytes) from the DER SEQUENCE openssl writes."""
    if not der or der[0] != 0x30:
        raise AcmeError("openssl wrote no ECDSA signature (no DER SEQUENCE)")
    dummy, at = _der_length(der, 1)
    parts = []
    for dummy in range(2):
        if der[at] != 0x02:
            raise AcmeError("openssl wrote no ECDSA signature (no DER INTEGER)")
        length, start = _der_length(der, at + 1)
        value = der[start:start + length].lstrip(b"\x00")
        if len(value) > size:
            raise AcmeError("an ECDSA signature value longer than %d bytes" % size)
        parts.append(value.rjust(size, b"\x00"))
        at = start + length
    return parts[0] + parts[1]


def p256_jwk(public_key_der):
    """The JWK of a P-256 public key from its SubjectPublicKeyInfo DER (`openssl pkey -pubout -outform DER`)."""
    # The DER of a P-256 key is 91 bytes ending in the uncompressed point 04 || x || y.
    if len(public_key_der) != 91 or public_key_der[-65] != 0x04:
        raise AcmeError("the ACME account key is not a P-256 key (the play makes one with openssl ecparam)")
    point = public_key_der[-64:]
    return {"crv": "P-256", "kty": "EC", "x": b64url(point[:32]), "y": b64url(point[32:])}


def jwk_thumbprint(jwk):
    """RFC 7638 thumbprint: sha256 of the required members in lexical order, without spaces."""
    return b64url(hashlib.sha256(json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode("ascii")).digest())


def certificate_id(authority_key_id, serial):
    """The ARI identifier of a certificate (RFC 9773, section 4.1) from openssl's hex of its authority key
    identifier (AB:CD:...) and serial (71A5...): base64url of the key identifier, a dot, base64url of the serial's
    DER INTEGER bytes (a leading zero byte where the first bit is set)."""
    key_id = bytes.fromhex(authority_key_id.replace(":", ""))
    digits = serial.replace(":", "")
    number = bytes.fromhex(digits if len(digits) % 2 == 0 else "0" + digits).lstrip(b"\x00") or b"\x00"
    if number[0] & 0x80:
        number = b"\x00" + number
    return "%s.%s" % (b64url(key_id), b64url(number))


def certificate_facts(text):
    """The dates (seconds since the epoch), serial, authority key identifier and names of a certificate, from
    `openssl x509 -noout -startdate -enddate -serial -ext authorityKeyIdentifier,subjectAltName`."""
    facts = {"authority_key_id": None, "subject_alt_names": []}
    lines = text.splitlines()
    for index, line in enumerate(lines):
        key, sep, value = line.partition("=")
        if sep and key == "notBefore":
            facts["not_before"] = _expiry.openssl_time(value)
        elif sep and key == "notAfter":
            facts["not_after"] = _expiry.openssl_time(value)
        elif sep and key == "serial":
            facts["serial"] = value.strip()
        elif line.startswith("X509v3 Authority Key Identifier") and index + 1 < len(lines):
            facts["authority_key_id"] = lines[index + 1].strip().replace("keyid:", "")
        elif line.startswith("X509v3 Subject Alternative Name") and index + 1 < len(lines):
            facts["subject_alt_names"] = [name.strip().replace("IP Address:", "IP:") for name in lines[index + 1].split(",")]
    for key in ("not_before", "not_after", "serial"):
        if key not in facts:
            raise AcmeError("openssl printed no %s for the certificate" % key)
    return facts


def rfc3339_time(text):
    """Seconds since the epoch of an RFC 3339 time (2026-12-07T08:00:00.123456789Z, or with an offset)."""
    match = RFC3339.match(text or "")
    if not match:
        raise AcmeError("not an RFC 3339 time: %r" % (text,))
    seconds = calendar.timegm(time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S"))
    if match.group(3) != "Z":
        sign = -1 if match.group(3)[0] == "+" else 1
        seconds += sign * (int(match.group(3)[1:3]) * 3600 + int(match.group(3)[4:6]) * 60)
    return seconds + float(match.group(2) or 0)


def renewal_reason(facts, now, renew_days, renew_fraction, renewal_info):
    """Why the certificate is due at `now`, or None: the directory's renewal information first (its suggested window
    has begun), then the play's rule (renew_days, else renew_fraction of the lifetime) as pqc.edge.certificate has it,
    so that the timer renews whatever the next play would."""
    window = (renewal_info or {}).get("suggestedWindow") or {}
    if window.get("start") and now >= rfc3339_time(window["start"]):
        return ARI_REASON
    return _expiry.renewal_reason(facts["not_before"], facts["not_after"], now, renew_days, renew_fraction)


def with_digest(content, certificate, digest):
    """The text of a sealed pqc.edge site file with `digest` as the sha256 of `certificate` on the lines that name it
    (and a new seal), or None when the file names no such certificate or is not exactly as pqc.edge wrote it (an
    edited file is the operator's; the next play decides about it)."""
    if not _seal.is_sealed(content):
        return None
    body = content[:content.rstrip("\n").rfind("\n") + 1]
    lines = body.split("\n")
    changed = False
    for index, line in enumerate(lines):
        match = DIGEST_LINE.match(line)
        if match and match.group(2) == certificate and match.group(3) != digest:
            lines[index] = "%s%s %s" % (match.group(1), certificate, digest)
            changed = True
    return _seal.sealed("\n".join(lines)) if changed else None


def challenge_path(webroot, token):
    """Where the HTTP-01 answer for `token` goes. The token comes from the directory: only base64url characters
    (RFC 8555, section 8.3) are taken, so a hostile directory cannot name a file outside the challenge directory."""
    if not isinstance(token, str) or not TOKEN.match(token):
        raise AcmeError("the ACME directory sent a challenge token that is not base64url: %r" % (token,))
    return os.path.join(webroot, CHALLENGE_DIR, token)


def metrics_text(success, now, last_success, renewed):
    """The renewal's gauges for node_exporter: an alert fires on success 0, or on a last success too long ago."""
    return _prometheus.exposition([
        (METRIC_SUCCESS, "gauge", "1 when the last run of pqc-edge-acme-renew renewed every due ACME certificate, "
                                  "0 when it failed (the certificates in force were kept).", [((), 1 if success else 0)]),
        (METRIC_LAST_RUN, "gauge", "When pqc-edge-acme-renew last ran.", [((), "%.0f" % now)]),
        (METRIC_LAST_SUCCESS, "gauge", "When pqc-edge-acme-renew last ran without a failure (0: never).",
         [((), "%.0f" % (last_success or 0))]),
        (METRIC_RENEWED, "gauge", "How many certificates the last run renewed.", [((), renewed)]),
    ])


def previous_success(text):
    """The last success time a previous metrics file recorded, or None."""
    match = re.search(r"^%s (\d+(?:\.\d+)?)$" % METRIC_LAST_SUCCESS, text or "", re.M)
    return float(match.group(1)) if match else None


class Openssl(object):
    """The host's openssl command line, with the environment the play gives it."""

    def __init__(self, binary, environment=None):
        self.binary = binary
        self.environment = dict(os.environ, **(environment or {}))

    def run(self, args, data=None):
        process = subprocess.run([self.binary] + list(args), input=data, capture_output=True,
                                 env=self.environment, timeout=OPENSSL_TIMEOUT, check=False)
        if process.returncode != 0:
            raise AcmeError("openssl %s failed: %s" % (args[0], process.stderr.decode("utf-8", "replace").strip()))
        return process.stdout

    def read_certificate(self, path):
        text = self.run(["x509", "-in", path, "-noout", "-startdate", "-enddate", "-serial",
                         "-ext", "authorityKeyIdentifier,subjectAltName"])
        return certificate_facts(text.decode("utf-8", "replace"))

    def csr(self, private_key, common_name, subject_alt_names):
        return self.run(["req", "-new", "-key", private_key, "-subj", "/CN=" + common_name,
                         "-addext", "subjectAltName=" + ",".join(subject_alt_names), "-outform", "DER"])


class Client(object):
    """An ACME client of one directory and one existing account, whose requests are signed with the account key."""

    def __init__(self, directory_url, account_key, openssl):
        self.openssl = openssl
        self.account_key = account_key
        # The directory's own HTTPS certificate is checked against the system's trust store, as the play's modules do
        # (certificates_acme_ca_file is what the issued certificates chain to, not the API's).
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=ssl.create_default_context()))
        self.jwk = p256_jwk(openssl.run(["pkey", "-in", account_key, "-pubout", "-outform", "DER"]))
        self.thumbprint = jwk_thumbprint(self.jwk)
        self.nonce = None
        self.kid = None
        self.directory = self.get(directory_url)[0]
        if not self.directory:
            raise AcmeError("%s is no ACME directory (404)" % directory_url)

    def _request(self, url, data=None, headers=None):
        request = urllib.request.Request(url, data=data, headers=dict({"User-Agent": USER_AGENT}, **(headers or {})),
                                         method="POST" if data is not None else "GET")
        try:
            # On the edge there is no Ansible, so no ansible.module_utils.urls: the standard library's opener.
            with self.opener.open(request, timeout=HTTP_TIMEOUT) as answer:
                body, head, status = answer.read(), answer.headers, answer.status
        except urllib.error.HTTPError as error:
            body, head, status = error.read(), error.headers, error.code
        except (urllib.error.URLError, OSError) as error:
            raise AcmeError("%s cannot be reached: %s" % (url, getattr(error, "reason", error)))
        if head.get("Replay-Nonce"):
            self.nonce = head["Replay-Nonce"]
        return status, head, body

    def get(self, url):
        """(JSON, headers) of a plain GET; None for a 404 (renewal information of a certificate the CA does not know)."""
        status, head, body = self._request(url)
        if status == 404:
            return None, head
        if status >= 400:
            raise AcmeError("GET %s: %s" % (url, _problem(status, body)))
        return json.loads(body.decode("utf-8")), head

    def _new_nonce(self):
        status, dummy, body = self._request(self.directory["newNonce"], headers={})
        if not self.nonce:
            raise AcmeError("the ACME directory gave no nonce (%s)" % _problem(status, body))

    def post(self, url, payload, accept=None):
        """(status, headers, body) of a signed POST; payload None is POST-as-GET. A bad nonce is retried once."""
        for attempt in (1, 2):
            if not self.nonce:
                self._new_nonce()
            protected = {"alg": "ES256", "nonce": self.nonce, "url": url}
            if self.kid:
                protected["kid"] = self.kid
            else:
                protected["jwk"] = self.jwk
            self.nonce = None
            jws = {"protected": b64url(json.dumps(protected).encode("utf-8")),
                   "payload": "" if payload is None else b64url(json.dumps(payload).encode("utf-8"))}
            signing_input = ("%s.%s" % (jws["protected"], jws["payload"])).encode("ascii")
            jws["signature"] = b64url(ecdsa_signature_raw(
                self.openssl.run(["dgst", "-sha256", "-sign", self.account_key], signing_input)))
            body = json.dumps(jws).encode("utf-8")
            headers = {"Content-Type": "application/jose+json"}
            if accept:
                headers["Accept"] = accept
            status, head, answer = self._request(url, body, headers)
            if status == 400 and attempt == 1 and b"badNonce" in answer:
                continue
            if status >= 400:
                raise AcmeError("POST %s: %s" % (url, _problem(status, answer)))
            return status, head, answer
        raise AcmeError("POST %s: the directory refused two nonces" % url)

    def post_json(self, url, payload=None):
        status, head, body = self.post(url, payload)
        return json.loads(body.decode("utf-8")), head

    def find_account(self):
        """The URL of the account the play registered with this key (the timer never registers one)."""
        dummy, head = self.post_json(self.directory["newAccount"], {"onlyReturnExisting": True})
        if not head.get("Location"):
            raise AcmeError("the ACME directory named no account for the play's account key")
        self.kid = head["Location"]
        return self.kid

    def renewal_info(self, facts):
        """The directory's renewal information of a certificate, or None (no ARI, or a certificate it does not know)."""
        if not self.directory.get("renewalInfo") or not facts.get("authority_key_id"):
            return None
        url = "%s/%s" % (self.directory["renewalInfo"].rstrip("/"),
                         certificate_id(facts["authority_key_id"], facts["serial"]))
        return self.get(url)[0]

    def poll(self, url, pending):
        """The object at `url` once its status has left `pending`."""
        deadline = time.time() + POLL_SECONDS
        while True:
            found = self.post_json(url)[0]
            if found.get("status") not in pending:
                return found
            if time.time() > deadline:
                raise AcmeError("%s stayed %s for %d s" % (url, found.get("status"), POLL_SECONDS))
            time.sleep(1)

    def order(self, names, csr_der, webroot, replaces=None, profile=None):
        """The PEM chain of a new certificate for `names`, validated by HTTP-01 answers written under `webroot`."""
        identifiers = [{"type": "ip" if name.startswith("IP:") else "dns", "value": name.split(":", 1)[1]} for name in names]
        request = {"identifiers": identifiers}
        if profile:
            request["profile"] = profile
        try:
            order, head = self.post_json(self.directory["newOrder"], dict(request, replaces=replaces) if replaces else request)
        except AcmeError:
            if not replaces:
                raise
            # A CA may refuse `replaces` (a certificate it did not issue, or one already replaced): order without it.
            order, head = self.post_json(self.directory["newOrder"], request)
        order_url = head.get("Location")
        written = []
        try:
            for authorization_url in order.get("authorizations", []):
                authorization = self.post_json(authorization_url)[0]
                if authorization.get("status") == "valid":
                    continue
                challenge = next((c for c in authorization.get("challenges", []) if c.get("type") == "http-01"), None)
                if challenge is None:
                    raise AcmeError("no http-01 challenge for %s" % authorization.get("identifier", {}).get("value"))
                path = challenge_path(webroot, challenge.get("token"))
                os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
                with open(path, "w") as answer:
                    answer.write("%s.%s" % (challenge["token"], self.thumbprint))
                os.chmod(path, 0o644)
                written.append(path)
                self.post_json(challenge["url"], {})
                done = self.poll(authorization_url, ("pending", "processing"))
                if done.get("status") != "valid":
                    raise AcmeError("%s was not validated: %s" % (authorization.get("identifier", {}).get("value"),
                                                                  json.dumps(done.get("challenges", []))[:500]))
            self.post_json(order["finalize"], {"csr": b64url(csr_der)})
            order = self.poll(order_url, ("pending", "ready", "processing"))
            if order.get("status") != "valid" or not order.get("certificate"):
                raise AcmeError("the order ended %s: %s" % (order.get("status"), json.dumps(order.get("error", {}))))
            return self.post(order["certificate"], None, "application/pem-certificate-chain")[2].decode("ascii")
        finally:
            for path in written:
                if os.path.exists(path):
                    os.remove(path)


def _problem(status, body):
    """An ACME problem document (RFC 7807) as one line: HTTP status, type and detail."""
    try:
        problem = json.loads(body.decode("utf-8"))
        return "%d %s: %s" % (status, problem.get("type", ""), problem.get("detail", ""))
    except (ValueError, AttributeError):
        return "%d %s" % (status, (body or b"")[:200].decode("utf-8", "replace"))


def read_file(path):
    with open(path, "rb") as found:
        return found.read()


def write_beside(path, data):
    """Write `data` to a new file beside `path` with path's owner and mode, then rename it over path."""
    info = os.stat(path)
    handle, partial = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".pqc-edge-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(partial, info.st_mode & 0o7777)
        os.chown(partial, info.st_uid, info.st_gid)
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def site_files(nginx):
    """The pqc.edge site files nginx reads: sites-available/<prefix>*.conf."""
    directory = nginx["sites_available"]
    if not os.path.isdir(directory):
        return []
    return [os.path.join(directory, name) for name in sorted(os.listdir(directory))
            if name.startswith(nginx["site_file_prefix"]) and name.endswith(".conf")]


def run_command(args, environment=None):
    process = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, **(environment or {})),
                             timeout=OPENSSL_TIMEOUT, check=False)
    return process.returncode, (process.stdout + process.stderr).strip()


def put_in_force(renewed, nginx, log):
    """Write each renewed certificate and the site files' new digests, test nginx, reload it; on any failure put
    every file back as it was and raise. renewed: [(certificate path, PEM chain)]."""
    previous = {}
    try:
        digests = {}
        for path, chain in renewed:
            previous[path] = read_file(path)
            write_beside(path, chain.encode("ascii"))
            digests[path] = hashlib.sha256(chain.encode("ascii")).hexdigest()
        for site_file in site_files(nginx):
            original = read_file(site_file)
            text = original.decode("utf-8")
            for path, digest in digests.items():
                text = with_digest(text, path, digest) or text
            if text.encode("utf-8") != original:
                previous[site_file] = original
                write_beside(site_file, text.encode("utf-8"))
        rc, out = run_command([nginx["binary"], "-t", "-q"], nginx.get("environment"))
        if rc != 0:
            raise AcmeError("nginx -t refused the renewed certificates, which were taken back: %s" % out)
        rc, out = run_command(["systemctl", "reload", nginx["service"]])
        if rc != 0:
            raise AcmeError("systemctl reload %s failed, the renewed certificates were taken back: %s" % (nginx["service"], out))
    except Exception:
        for path, data in previous.items():
            write_beside(path, data)
        if previous:
            log("put back %s" % ", ".join(sorted(previous)))
        raise
    log("nginx reloaded with %d renewed certificate(s)" % len(renewed))


def renew(config, now, log):
    """Renew what is due of config's certificates; returns (renewed paths, errors). Nothing in force is replaced by
    a certificate that did not arrive whole, or that nginx refuses."""
    openssl = Openssl(config["openssl"], config.get("environment"))
    client = Client(config["directory"], config["account_key"], openssl)
    client.find_account()
    due, errors = [], []
    for entry in config["certificates"]:
        try:
            facts = openssl.read_certificate(entry["certificate"])
            info = client.renewal_info(facts)
            reason = renewal_reason(facts, now, config.get("renew_days"), config["renew_fraction"], info)
            if reason is None:
                continue
            log("%s: %s" % (entry["certificate"], reason))
            replaces = certificate_id(facts["authority_key_id"], facts["serial"]) if info else None
            csr = openssl.csr(entry["private_key"], entry["common_name"], entry["subject_alt_names"])
            chain = client.order(entry["subject_alt_names"], csr, config["webroot"], replaces, config.get("profile"))
            if "BEGIN CERTIFICATE" not in chain:
                raise AcmeError("the directory sent no PEM certificate")
            due.append((entry["certificate"], chain))
        except (AcmeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as error:
            errors.append("%s: %s" % (entry.get("certificate"), error))
    if due:
        try:
            put_in_force(due, config["nginx"], log)
        except (AcmeError, OSError, subprocess.TimeoutExpired) as error:
            errors.append(str(error))
            due = []
    return [path for path, dummy in due], errors


def main(config_path, log):
    """Run once: renew what is due, write the gauges, return the exit status (1 when anything failed). log: how each
    line is said (the script prints it for the journal)."""
    with open(config_path) as found:
        config = json.load(found)
    now = time.time()
    try:
        renewed, errors = renew(config, now, log)
    except (AcmeError, OSError, ValueError, KeyError, subprocess.TimeoutExpired) as error:
        renewed, errors = [], [str(error)]
    for error in errors:
        log("failed: %s" % error)
    metrics = config.get("metrics_file")
    if metrics and os.path.isdir(os.path.dirname(metrics)):
        before = read_file(metrics).decode("utf-8", "replace") if os.path.exists(metrics) else ""
        last_success = now if not errors else previous_success(before)
        _prometheus.write_atomically(metrics, metrics_text(not errors, now, last_success, len(renewed)))
    if not errors:
        log("%d certificate(s) checked, %d renewed" % (len(config["certificates"]), len(renewed)))
    return 1 if errors else 0
