/* make bench: what AWS-LC's own crypto costs a TLS server, per operation, on one CPU.
 *
 * AWS-LC's `bssl speed` is not in the source pqc.edge builds from, so scripts/bench.py compiles this against the
 * static libcrypto.a of the AWS-LC build on the bench's AWS-LC host and runs it on the server's CPU, beside
 * `openssl speed` for OpenSSL. Each line is "<operation> <operations per CPU-second>", for the server's side of a
 * full TLS 1.3 handshake: the key exchange (X25519: a key pair and one agreement; ML-KEM-768: one encapsulation)
 * and one signature (ML-DSA-44, ECDSA P-256 with SHA-256, RSA-2048 PSS with SHA-256).
 *
 *   cc -O2 -I<aws-lc>/include aws_lc_speed.c <aws-lc>/lib/libcrypto.a -lpthread -o aws_lc_speed
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/base.h>
#include <openssl/curve25519.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/nid.h>
#include <openssl/rsa.h>

static double cpu_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec + now.tv_nsec / 1e9;
}

static void fail(const char *what) {
  fprintf(stderr, "aws_lc_speed: %s failed\n", what);
  exit(1);
}

/* Runs op until `seconds` of CPU have passed; prints operations per CPU-second. */
static void measure(const char *name, int (*op)(void *), void *arg, double seconds) {
  double start = cpu_seconds(), elapsed;
  long count = 0;
  do {
    for (int i = 0; i < 16; i++) {
      if (!op(arg)) {
        fail(name);
      }
    }
    count += 16;
    elapsed = cpu_seconds() - start;
  } while (elapsed < seconds);
  printf("%s %.1f\n", name, count / elapsed);
}

static int x25519_server(void *unused) {
  uint8_t peer_public[32], peer_private[32], public_value[32], private_key[32], shared[32];
  (void)unused;
  X25519_keypair(peer_public, peer_private);
  X25519_keypair(public_value, private_key);
  return X25519(shared, private_key, peer_public);
}

static int mlkem768_encapsulate(void *ctx) {
  uint8_t ciphertext[1088], secret[32];
  size_t ciphertext_len = sizeof(ciphertext), secret_len = sizeof(secret);
  return EVP_PKEY_encapsulate((EVP_PKEY_CTX *)ctx, ciphertext, &ciphertext_len, secret, &secret_len);
}

struct signer {
  EVP_PKEY *key;
  const EVP_MD *md;
  int pss;
};

static int sign(void *arg) {
  /* What a TLS 1.3 server signs: 64 spaces, the context string, a zero byte and a SHA-256 transcript hash. */
  static const uint8_t content[130] = {0};
  struct signer *s = (struct signer *)arg;
  uint8_t signature[4096];
  size_t len = sizeof(signature);
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  int ok = ctx != NULL && EVP_DigestSignInit(ctx, &pctx, s->md, NULL, s->key) &&
           (!s->pss || (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) &&
                        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, -1))) &&
           EVP_DigestSign(ctx, signature, &len, content, sizeof(content));
  EVP_MD_CTX_free(ctx);
  return ok;
}

static EVP_PKEY *generate(int type, int nid) {
  EVP_PKEY *key = NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(type, NULL);
  if (ctx == NULL || !EVP_PKEY_keygen_init(ctx) ||
      (type == EVP_PKEY_PQDSA && !EVP_PKEY_CTX_pqdsa_set_params(ctx, nid)) ||
      (type == EVP_PKEY_KEM && !EVP_PKEY_CTX_kem_set_params(ctx, nid)) ||
      (type == EVP_PKEY_EC && !EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, nid)) ||
      (type == EVP_PKEY_RSA && !EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, nid)) ||
      !EVP_PKEY_keygen(ctx, &key)) {
    fail("key generation");
  }
  EVP_PKEY_CTX_free(ctx);
  return key;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  EVP_PKEY *kem = generate(EVP_PKEY_KEM, NID_MLKEM768);
  EVP_PKEY_CTX *encapsulate = EVP_PKEY_CTX_new(kem, NULL);
  struct signer mldsa = {generate(EVP_PKEY_PQDSA, NID_MLDSA44), NULL, 0};
  struct signer ecdsa = {generate(EVP_PKEY_EC, NID_X9_62_prime256v1), EVP_sha256(), 0};
  struct signer rsa = {generate(EVP_PKEY_RSA, 2048), EVP_sha256(), 1};
  if (encapsulate == NULL) {
    fail("the ML-KEM context");
  }
  measure("X25519", x25519_server, NULL, seconds);
  measure("ML-KEM-768", mlkem768_encapsulate, encapsulate, seconds);
  measure("ML-DSA-44", sign, &mldsa, seconds);
  measure("ECDSA-P-256", sign, &ecdsa, seconds);
  measure("RSA-2048", sign, &rsa, seconds);
  return 0;
}
