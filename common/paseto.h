/* PASETO v4.public: Ed25519-signed tokens, and nothing else.
 *
 * The version and purpose are fixed by the key type, not read from the
 * token: a key is made only by the constructors below, which stamp it
 * "v4.public.", and verification refuses any token whose header is not
 * exactly that string (v4.local, v3.*, v2.*, "V4.public." all fail). No
 * function takes a version or purpose string, so a token cannot choose
 * the algorithm it is checked with.
 *
 *   token = "v4.public." b64url(m || sig) [ "." b64url(f) ]
 *   sig   = Ed25519(PAE("v4.public.", m, f, i))
 *
 * m is the payload, f the footer (sent in clear, signed), i the implicit
 * assertion (signed, never sent). Either may be empty.
 *
 * Errors: -ZK_ETOKEN for any token that is refused, whatever the reason,
 * so a caller cannot turn the verifier into an oracle by mistake;
 * -ZK_EINVAL for a bad argument or a buffer that is too small;
 * -ZK_ENOMEM when memory runs out. */
#ifndef ZK_PASETO_H
#define ZK_PASETO_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/types.h>

#define PASETO_V4_PUBLIC_HEADER "v4.public."
/* Longest token accepted or produced, header and footer included; the
 * same bound as a token field on the wire. */
#define PASETO_MAX_TOKEN 4096u
/* Ed25519 public key, seed (raw private key) and signature. */
#define PASETO_KEY_LEN 32u
#define PASETO_SIG_LEN 64u

typedef struct {
	char header[11]; /* "v4.public." */
	EVP_PKEY *pkey;
} paseto_pk_t;

typedef struct {
	char header[11]; /* "v4.public." */
	EVP_PKEY *pkey;
} paseto_sk_t;

/* Public key from its 32 raw bytes. */
int paseto_pk_from_raw(const uint8_t *raw, size_t len, paseto_pk_t **out);
/* Secret key from its 32-byte seed (OpenSSL's raw private key). */
int paseto_sk_from_seed(const uint8_t *seed, size_t len, paseto_sk_t **out);
/* Secret key in the 64-byte seed || public key form (libsodium, the
 * PASETO test vectors). The public half must match the seed. */
int paseto_sk_from_keypair(const uint8_t *sk, size_t len, paseto_sk_t **out);
/* Fresh random secret key. */
int paseto_sk_generate(paseto_sk_t **out);
int paseto_pk_from_sk(const paseto_sk_t *sk, paseto_pk_t **out);
/* Writes the 32 raw public key bytes; cap must be >= PASETO_KEY_LEN. */
int paseto_pk_to_raw(const paseto_pk_t *pk, uint8_t *out, size_t cap);
/* Wipe and free; set *key to NULL. NULL and *key == NULL are no-ops. */
void paseto_pk_free(paseto_pk_t **pk);
void paseto_sk_free(paseto_sk_t **sk);

/* Signs m with footer f and implicit assertion i. 0 and *token = a
 * malloc'd NUL-terminated token (caller frees), or a negative error;
 * -ZK_EINVAL also if the token would exceed PASETO_MAX_TOKEN. */
int paseto_v4_sign(const paseto_sk_t *sk, const uint8_t *m, size_t mlen, const uint8_t *f,
		   size_t flen, const uint8_t *i, size_t ilen, char **token);

/* Verifies token (token_len bytes, need not be NUL-terminated) with the
 * implicit assertion i. 0 and malloc'd *msg and *footer (caller frees
 * both), or a negative error with the out-parameters untouched. Each
 * buffer is followed by a NUL byte not counted in its length, so a JSON
 * payload can be handed on as a string; both may hold NUL bytes inside.
 *
 * Refused: a header other than "v4.public.", token_len above
 * PASETO_MAX_TOKEN, a body that is not strict base64url or decodes to
 * fewer than 64 bytes, a footer part that is empty ("v4.public.x.") or
 * not strict base64url, more than four dot-separated parts, and any
 * signature that does not cover exactly this payload, footer and
 * implicit assertion. */
int paseto_v4_verify(const paseto_pk_t *pk, const char *token, size_t token_len,
		     const uint8_t *implicit, size_t implicit_len, uint8_t **msg, size_t *msg_len,
		     uint8_t **footer, size_t *footer_len);

/* The footer of a v4.public token, decoded WITHOUT verifying anything, so
 * a verifier can pick the key by its key id first. The result is
 * untrusted until paseto_v4_verify() accepts the token. The token's shape
 * is checked as in paseto_v4_verify() except the body's content. A token
 * without a footer yields *out_len = 0. -ZK_EINVAL if cap is too small. */
int paseto_v4_footer(const char *token, size_t len, uint8_t *out, size_t cap, size_t *out_len);

#endif
