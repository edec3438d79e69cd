/* Issuing access tokens: what a practice's data-safe does, shared by the
 * zkrelay-token tool and the tests. The claims and footer are those
 * relay/token.h checks. */
#ifndef ZK_TOKENMINT_H
#define ZK_TOKENMINT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "paseto.h"

typedef struct {
	const char *iss;        /* issuing practice id */
	const char *kid;        /* its key id (registry token_keys) */
	const char *sub;        /* holder's address "<practice-id>/<endpoint-id>" */
	const char *aud;        /* relay id */
	const char *jti;        /* token id */
	int64_t iat, nbf, exp;  /* Unix seconds */
	const char *const *dst; /* data-safe addresses of the issuer */
	size_t ndst;
	uint8_t cnf[32];        /* SHA-256 of the holder certificate's SPKI */
} tokenmint_t;

/* A malloc'd NUL-terminated v4.public token. 0 or a negative zk_err_t. */
int tokenmint(const paseto_sk_t *sk, const tokenmint_t *t, char **token);
/* Loads an Ed25519 private key (PEM, as openssl genpkey writes it). */
int tokenmint_load_key(const char *pem_path, paseto_sk_t **out);
/* SHA-256 of the DER SubjectPublicKeyInfo of cert: the token's cnf and
 * the registry's data-safe pin. */
int tokenmint_spki_sha256(X509 *cert, uint8_t out[32]);
/* The same for a PEM certificate file. */
int tokenmint_cert_cnf(const char *pem_path, uint8_t out[32]);
/* RFC 3339 UTC ("2026-01-01T00:00:00Z") into buf (at least 21 bytes). */
void tokenmint_time(int64_t t, char *buf, size_t cap);

/* Parses an RFC 3339 time as tokens carry it ("2026-11-29T20:00:00Z",
 * fractions and +hh:mm offsets accepted) into Unix seconds; 0, or
 * -ZK_EMALFORMED. */
int tokenmint_parse_time(const char *s, int64_t *out);

#endif
