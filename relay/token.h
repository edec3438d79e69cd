/* Access tokens at the relay: PASETO v4.public, issued by a practice's
 * data-safe, checked on hello and refresh.
 *
 * The token's footer is JSON {"iss":"<practice-id>","kid":"<key-id>"} and
 * names the issuing practice's verification key; the claims are JSON:
 *   iss  practice id (equals the footer's)
 *   sub  the connection's address "<practice-id>/<endpoint-id>"
 *   aud  this relay's id
 *   iat, nbf, exp  RFC 3339 times; exp - iat at most max_lifetime_s
 *   jti  token id, not in the issuer's revoked list
 *   cnf  base64url SHA-256 of the client certificate's SPKI
 *   dst  addresses of the issuer's data-safes this connection may send to
 * Any failure is the one result -ZK_ETOKEN, so a sender learns nothing
 * about which practices, keys or endpoints exist. */
#ifndef RELAY_TOKEN_H
#define RELAY_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "ident.h"
#include "registry.h"

#define TOKEN_MAX_DST 16
#define TOKEN_MAX_JTI 128

typedef struct {
	const char *relay_id;
	int64_t leeway_s;
	int64_t max_lifetime_s;
} token_rules_t;

typedef struct {
	char iss[WIRE_MAX_ID + 1];
	char kid[WIRE_MAX_ID + 1];
	char jti[TOKEN_MAX_JTI + 1];
	int64_t iat, nbf, exp;
	char dst[TOKEN_MAX_DST][WIRE_MAX_ADDR + 1];
	uint8_t ndst;
} token_claims_t;

/* Verifies tok for the connection authenticated as who, whose certificate
 * SPKI hashes to cnf, at time now (Unix seconds). 0 and *out, or
 * -ZK_ETOKEN. */
int token_verify(const registry_t *reg, const token_rules_t *rules, const ident_t *who,
		 const uint8_t cnf[32], const uint8_t *tok, size_t len, int64_t now,
		 token_claims_t *out);
/* Still acceptable under a new registry (key kept, practice active, jti
 * not revoked)? 1 or 0. */
int token_still_valid(const registry_t *reg, const token_claims_t *t);
/* 1 if t lets its holder send to addr. */
int token_allows(const token_claims_t *t, const uint8_t *addr, size_t len);
/* Strict RFC 3339 ("2026-01-01T00:00:00Z", fraction and offset allowed).
 * 0 or -ZK_EMALFORMED. */
int token_parse_time(const char *s, int64_t *out);

#endif
