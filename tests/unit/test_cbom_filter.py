"""pqc.edge.cbom: the report's rows as a CycloneDX 1.6 CBOM, checked against the 1.6 JSON schema that
cyclonedx-python-lib ships (its strict validator: no property the schema does not define)."""

import json

import pytest
from ansible.errors import AnsibleFilterError
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from ansible_collections.pqc.edge.plugins.filter.cbom import cbom, group_algorithm, key_algorithm, signature_algorithm
from ansible_collections.pqc.edge.plugins.filter.probes import probe_answers
from ansible_collections.pqc.edge.plugins.filter.report import report_row

GENERATED = "2026-12-06T01:00:00Z"
SITE = {"address": None, "port": 8443, "server_name": "edge.example", "site": "default", "file": "/etc/nginx/a.conf",
        "line": 3, "reason": None}
LEGACY = {"address": None, "port": 9443, "server_name": "legacy.example", "site": None, "file": "/etc/nginx/b.conf",
          "line": 1, "reason": None}
SERVERS = {"tls_endpoints": [SITE, LEGACY], "quic_endpoints": [],
           "servers": [{"file": "/etc/nginx/a.conf", "line": 3, "certificates": ["/tls/mldsa44.crt", "/tls/ecdsa.crt"]},
                       {"file": "/etc/nginx/b.conf", "line": 1, "certificates": ["/tls/legacy.crt"]}]}
LINES = ["OpenSSL 3.5.1 1 Jul 2025", "nginx version: nginx/1.26.3",
         "cert /tls/mldsa44.crt|ML-DSA-44|Dec  6 00:00:00 2027 GMT|CN=Fleet ML-DSA-65 root|CN=edge.example|"
         "Dec  6 00:00:00 2026 GMT|ML-DSA-65|",
         "cert /tls/ecdsa.crt|id-ecPublicKey|Dec  6 00:00:00 2027 GMT|CN=R11,O=Let's Encrypt|CN=edge.example|"
         "Dec  6 00:00:00 2026 GMT|ecdsa-with-SHA384|256",
         "cert /tls/legacy.crt|rsaEncryption|Dec  6 00:00:00 2027 GMT|CN=legacy.example|CN=legacy.example|"
         "Dec  6 00:00:00 2026 GMT|sha256WithRSAEncryption|2048"]


def row(reachable=True):
    """A host as pqc.edge.report records it: a hybrid pqc.edge site with two certificates, a classical operator server
    with an RSA one."""
    plan = [{"kind": "enumerate", "item": SITE, "side": "controller"}, {"kind": "classical", "item": SITE, "side": "controller"},
            {"kind": "enumerate", "item": LEGACY, "side": "controller"}, {"kind": "classical", "item": LEGACY, "side": "controller"}]
    answers = [
        {"failed": False, "negotiated_group": "X25519MLKEM768", "group_kind": "hybrid", "quantum_safe": True,
         "tls_version": "TLSv1.3", "cipher_suite": "TLS_AES_256_GCM_SHA384",
         "supported_groups": ["X25519MLKEM768", "SecP256r1MLKEM768", "x25519", "secp256r1"]},
        {"failed": False, "negotiated_group": "x25519", "group_kind": "classical"},
        {"failed": False, "negotiated_group": "x25519", "group_kind": "classical", "tls_version": "TLSv1.3",
         "cipher_suite": "TLS_AES_128_GCM_SHA256", "supported_groups": ["x25519", "ffdhe2048"]},
        {"failed": False, "negotiated_group": "x25519", "group_kind": "classical"}]
    if not reachable:
        answers = [{"failed": True, "msg": "connection refused"}] * 4
    return report_row(probe_answers(plan, answers), {"host": "edge1", "address": "203.0.113.5", "reachable": reachable,
                                                     "lines": LINES, "servers": SERVERS})


def validate(bom):
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom))
    assert errors is None, errors


def by_ref(bom):
    return dict((component["bom-ref"], component) for component in bom["components"])


def test_the_cbom_of_a_mixed_host_is_valid_cyclonedx_1_6_and_lists_exactly_its_endpoints_and_certificates():
    bom = cbom([row()], GENERATED)
    validate(bom)
    assert (bom["bomFormat"], bom["specVersion"], bom["metadata"]["timestamp"]) == ("CycloneDX", "1.6", GENERATED)
    kinds = {}
    for component in bom["components"]:
        assert component["type"] == "cryptographic-asset"
        kinds.setdefault(component["cryptoProperties"]["assetType"], []).append(component["name"])
    assert sorted(kinds["protocol"]) == ["edge1 edge.example:8443", "edge1 legacy.example:9443"]
    assert sorted(kinds["certificate"]) == ["edge1 /tls/ecdsa.crt", "edge1 /tls/legacy.crt", "edge1 /tls/mldsa44.crt"]
    assert set(kinds["algorithm"]) == {
        "X25519MLKEM768", "SecP256r1MLKEM768", "x25519", "secp256r1", "ffdhe2048", "AES-256-GCM", "SHA-384",
        "AES-128-GCM", "SHA-256", "ML-DSA-44", "ML-DSA-65", "ECDSA-P-256", "ECDSA-SHA384", "RSA-2048",
        "RSA-PKCS1-1.5-SHA256"}


def test_each_endpoint_names_its_version_suite_groups_and_certificates():
    bom = cbom([row()], GENERATED)
    components = by_ref(bom)
    site = components["endpoint:edge1:edge.example:8443"]["cryptoProperties"]["protocolProperties"]
    assert (site["type"], site["version"]) == ("tls", "1.3")
    assert site["cipherSuites"] == [{"name": "TLS_AES_256_GCM_SHA384", "identifiers": ["0x13,0x02"],
                                     "algorithms": ["algorithm:AES-256-GCM", "algorithm:SHA-384"]}]
    assert site["cryptoRefArray"] == ["algorithm:X25519MLKEM768", "algorithm:SecP256r1MLKEM768", "algorithm:x25519",
                                      "algorithm:secp256r1"]
    depends = dict((entry["ref"], entry.get("dependsOn", [])) for entry in bom["dependencies"])
    assert "certificate:edge1:_tls_mldsa44.crt" in depends["endpoint:edge1:edge.example:8443"]
    assert "certificate:edge1:_tls_legacy.crt" not in depends["endpoint:edge1:edge.example:8443"]
    certificate = components["certificate:edge1:_tls_mldsa44.crt"]["cryptoProperties"]["certificateProperties"]
    assert certificate == {"subjectName": "CN=edge.example", "issuerName": "CN=Fleet ML-DSA-65 root",
                           "notValidBefore": "2026-12-06T00:00:00Z", "notValidAfter": "2027-12-06T00:00:00Z",
                           "signatureAlgorithmRef": "algorithm:ML-DSA-65", "certificateFormat": "X.509",
                           "certificateExtension": "crt"}
    assert depends["certificate:edge1:_tls_mldsa44.crt"] == ["algorithm:ML-DSA-65", "algorithm:ML-DSA-44"]


@pytest.mark.parametrize("name, primitive, parameters, level", [
    ("X25519MLKEM768", "kem", "768", 3), ("SecP384r1MLKEM1024", "kem", "1024", 5), ("MLKEM512", "kem", "512", 1),
    ("x25519", "key-agree", None, 0), ("ffdhe3072", "key-agree", "3072", 0), ("unheard-of", "unknown", None, None)])
def test_groups_are_algorithms_with_their_quantum_security_level(name, primitive, parameters, level):
    properties = group_algorithm(name)["cryptoProperties"]["algorithmProperties"]
    assert (properties["primitive"], properties.get("parameterSetIdentifier"), properties.get("nistQuantumSecurityLevel")) == (
        primitive, parameters, level)


def test_certificate_algorithms_are_named_by_what_openssl_printed():
    assert key_algorithm({"key_algorithm": "ML-DSA-87"})["cryptoProperties"]["algorithmProperties"]["nistQuantumSecurityLevel"] == 5
    assert key_algorithm({"key_algorithm": "ML-DSA-87"})["cryptoProperties"]["oid"] == "2.16.840.1.101.3.4.3.19"
    assert key_algorithm({"key_algorithm": "id-ecPublicKey", "key_size": "384"})["name"] == "ECDSA-P-384"
    assert key_algorithm({"key_algorithm": "rsaEncryption", "key_size": "4096"})["name"] == "RSA-4096"
    assert signature_algorithm("sha384WithRSAEncryption")["cryptoProperties"]["algorithmProperties"]["padding"] == "pkcs1v15"
    assert signature_algorithm("whatever a host says")["cryptoProperties"]["algorithmProperties"] == {"primitive": "unknown"}


def test_unreachable_servers_have_no_endpoint_and_odd_input_still_makes_a_valid_bom():
    bom = cbom([row(reachable=False), None, {"host": "x", "servers": [{"verdict": "hybrid", "port": 1,
                                                                       "certificates": [{"path": "/a|b", "not_after": "soon"}]}]}],
               GENERATED)
    validate(bom)
    assert [c["name"] for c in bom["components"] if c["cryptoProperties"]["assetType"] == "protocol"] == ["x (default):1"]
    with pytest.raises(AnsibleFilterError, match="report's rows"):
        cbom({"not": "rows"}, GENERATED)


def test_the_serial_number_changes_with_the_report_and_not_otherwise():
    first, again, later = cbom([row()], GENERATED), cbom([row()], GENERATED), cbom([row()], "2026-12-07T00:00:00Z")
    assert first["serialNumber"] == again["serialNumber"] != later["serialNumber"]
    assert first["serialNumber"].startswith("urn:uuid:")


def test_the_schema_check_refuses_what_cyclonedx_1_6_does_not_define():
    """So that the validations above can fail: an unknown primitive and an unknown property are both refused."""
    bom = cbom([row()], GENERATED)
    bom["components"][0]["cryptoProperties"]["algorithmProperties"] = {"primitive": "quantum-magic"}
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is not None
    bom = cbom([row()], GENERATED)
    bom["components"][0]["colour"] = "blue"
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(bom)) is not None


def test_what_a_lying_host_reports_stays_data_and_the_bom_stays_valid():
    evil = '<script>alert("x")</script>'
    certificate = {"key_algorithm": ["ML-DSA-44"], "key_size": {"x": 1}, "not_after": evil, "not_before": 7,
                   "issuer": {"CN": evil}, "subject": evil, "signature_algorithm": None, "path": "/a|" + evil}
    server = {"server_name": "shop" + evil + "|x", "port": "8443" + evil, "verdict": "hybrid", "tls_version": ["1.3"],
              "pq_offer_group": "X25519MLKEM768", "classical_offer_group": evil, "cipher_suite": {"a": 1},
              "supported_groups": [evil, 3, None], "certificates": [certificate, "not a certificate", None]}
    bom = cbom([{"host": "edge" + evil, "servers": [server, "junk"]}, {"host": "x", "servers": "junk"}], GENERATED)
    validate(bom)
    names = [component["name"] for component in bom["components"]]
    assert "edge%s shop%s|x:8443%s" % (evil, evil, evil) in names and evil in names


def test_a_profile_verdict_is_kept_on_its_endpoint_as_properties():
    judged = row()
    judged["servers"][0]["compliance"] = {"profile": "cnsa2", "compliant": False, "not_checked": [],
                                          "failed": ["accepted X25519MLKEM768 offered alone; the profile does not allow it",
                                                     "TLS_AES_128_GCM_SHA256 accepted"]}
    judged["servers"][1]["compliance"] = {"profile": "cnsa2", "compliant": None, "failed": [],
                                          "not_checked": ["the certificate served: needs engine=openssl"]}
    bom = cbom([judged], GENERATED)
    validate(bom)
    endpoints = dict((c["name"], c.get("properties")) for c in bom["components"]
                     if c["cryptoProperties"]["assetType"] == "protocol")
    assert endpoints["edge1 edge.example:8443"] == [
        {"name": "pqc-edge:compliance:profile", "value": "cnsa2"}, {"name": "pqc-edge:compliance:compliant", "value": "false"},
        {"name": "pqc-edge:compliance:failed", "value": "accepted X25519MLKEM768 offered alone; the profile does not allow it"},
        {"name": "pqc-edge:compliance:failed", "value": "TLS_AES_128_GCM_SHA256 accepted"}]
    assert endpoints["edge1 legacy.example:9443"][1:] == [
        {"name": "pqc-edge:compliance:compliant", "value": "not all checked"},
        {"name": "pqc-edge:compliance:not-checked", "value": "the certificate served: needs engine=openssl"}]
    assert all(props is None for props in dict((c["name"], c.get("properties")) for c in cbom([row()], GENERATED)["components"]).values())
