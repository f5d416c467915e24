import json

import app


def call(path, method="GET", **headers):
    environ = {"PATH_INFO": path, "REQUEST_METHOD": method}
    for name, value in headers.items():
        environ["HTTP_" + name.upper()] = value
    captured = {}

    def start_response(status, response_headers):
        captured["status"] = status
        captured["headers"] = dict(response_headers)

    body = b"".join(app.application(environ, start_response))
    return captured["status"], captured["headers"], body


def proxied(**extra):
    headers = {"X_TLS_PROTOCOL": "TLSv1.3", "X_TLS_CIPHER": "TLS_AES_256_GCM_SHA384"}
    headers.update(extra)
    return headers


def test_health_is_json():
    status, headers, body = call("/api/health")
    assert status == "200 OK"
    assert headers["Content-Type"].startswith("application/json")
    data = json.loads(body)
    assert data["status"] == "healthy" and data["timestamp"] and data["message"]


def test_hybrid_hex_group_is_named_and_quantum_safe():
    body = call("/api/tls", **proxied(X_TLS_GROUP="0x11ec", X_TLS_CLIENT_GROUPS="0xcaca:0x11ec:X25519:prime256v1"))[2]
    data = json.loads(body)
    assert data["group"] == "X25519MLKEM768"
    assert data["group_kind"] == "hybrid" and data["quantum_safe"] is True
    assert [g["name"] for g in data["client_groups"]] == ["GREASE", "X25519MLKEM768", "x25519", "secp256r1"]
    assert data["client_groups"][0]["grease"] is True


def test_http_version_of_the_request_is_reported_next_to_the_group():
    body = call("/api/tls", **proxied(X_TLS_GROUP="X25519MLKEM768", X_HTTP_VERSION="HTTP/3.0"))[2]
    data = json.loads(body)
    assert (data["http_version"], data["group"]) == ("HTTP/3.0", "X25519MLKEM768")


def test_pure_mlkem_is_reported_as_post_quantum():
    body = call("/api/tls", **proxied(X_TLS_GROUP="0x0201"))[2]
    data = json.loads(body)
    assert data["group"] == "MLKEM768" and data["group_kind"] == "post-quantum" and data["quantum_safe"]


def test_classical_group_is_not_quantum_safe():
    body = call("/nginx-health", **proxied(X_TLS_GROUP="X25519"))[2]
    assert json.loads(body) == {"nginx": "proxy working", "backend": "connected", "quantum_safe": False}


def test_unknown_group_is_not_quantum_safe():
    body = call("/nginx-health", **proxied(X_TLS_GROUP="0x7777"))[2]
    assert json.loads(body)["quantum_safe"] is False


def test_direct_request_is_not_called_quantum_safe():
    body = call("/nginx-health", X_TLS_GROUP="0x11ec")[2]
    assert json.loads(body) == {"nginx": "not proxied", "backend": "connected", "quantum_safe": False}
    status = call("/api/tls")[0]
    assert status.startswith("421")


def test_unknown_path_and_method():
    assert call("/nope")[0].startswith("404")
    status, headers = call("/api/health", method="POST")[:2]
    assert status.startswith("405") and headers["Allow"] == "GET, HEAD"


def test_head_has_no_body_but_the_length():
    status, headers, body = call("/api/health", method="HEAD")
    assert status == "200 OK" and body == b"" and int(headers["Content-Length"]) > 0


def test_the_client_certificate_nginx_verified_is_reported_and_none_by_default():
    data = json.loads(call("/api/tls", **proxied(X_TLS_CLIENT_VERIFY="SUCCESS", X_TLS_CLIENT_SUBJECT="CN=edge-2",
                                                 X_TLS_CLIENT_ISSUER="CN=pqc.edge private CA (ML-DSA root)"))[2])
    assert data["client_certificate"] == {"verify": "SUCCESS", "subject": "CN=edge-2",
                                          "issuer": "CN=pqc.edge private CA (ML-DSA root)"}
    unauthenticated = json.loads(call("/api/tls", **proxied())[2])["client_certificate"]
    assert unauthenticated == {"verify": "NONE", "subject": None, "issuer": None}
