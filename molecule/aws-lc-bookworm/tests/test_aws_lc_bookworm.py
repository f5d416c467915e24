"""Debian 12 on AWS-LC: nginx carries AWS-LC alone, the pinned OpenSSL 3.5.7 beside it is a command line only (it
made the keys), and the host's OpenSSL 3.0 is left as Debian installed it."""

OPENSSL = "/opt/pqc-edge/openssl/bin/openssl"
NGINX = "/opt/pqc-edge/nginx/sbin/nginx"
OPENSSL_SHA256 = "a8c0d28a529ca480f9f36cf5792e2cd21984552a3c8e4aa11a24aa31aeac98e8"


def test_the_host_openssl_is_debians_3_0_unchanged(host):
    assert host.run("openssl version").stdout.startswith("OpenSSL 3.0.")
    # dpkg --verify names every file of the package that differs from what it installed.
    assert host.run("dpkg --verify openssl libssl3").stdout == ""


# That nginx runs with AWS-LC and loads no libssl: test_aws_lc.py, which this scenario runs too.
def test_nginx_links_aws_lc_alone_and_the_build_records_both_archives(host):
    assert "--with-openssl" not in host.run(NGINX + " -V 2>&1").stdout
    stamp = host.file("/opt/pqc-edge/nginx/.pqc-edge-build").content_string
    assert "aws-lc 5.1.0 sha256:" in stamp and "openssl 3.5.7 sha256:" + OPENSSL_SHA256 in stamp, stamp


def test_the_pinned_openssl_is_a_static_command_line_with_its_own_configuration(host):
    assert host.run(OPENSSL + " version").stdout.startswith("OpenSSL 3.5.7 ")
    assert "libssl" not in host.run("ldd " + OPENSSL).stdout
    assert 'OPENSSLDIR: "/opt/pqc-edge/openssl/ssl"' in host.run(OPENSSL + " version -d").stdout
    assert host.file("/opt/pqc-edge/openssl/ssl/openssl.cnf").exists


def test_that_command_line_made_the_ml_dsa_certificate_nginx_serves(host):
    text = host.run(OPENSSL + " x509 -in /etc/pqc-edge/tls/default/mldsa44.crt -noout -text").stdout
    assert "Public Key Algorithm: ML-DSA-44" in text, text
    served = host.run("%s s_client -connect 127.0.0.1:8443 -servername localhost -groups X25519MLKEM768 -sigalgs mldsa44"
                      " </dev/null 2>/dev/null | %s x509 -noout -fingerprint -sha256" % (OPENSSL, OPENSSL)).stdout
    kept = host.run(OPENSSL + " x509 -in /etc/pqc-edge/tls/default/mldsa44.crt -noout -fingerprint -sha256").stdout
    assert served and served == kept, (served, kept)
