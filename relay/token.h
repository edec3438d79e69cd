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

/* A verified token's claims as a connection keeps them, for as long as
 * the token lives (up to an hour): one allocation sized to the strings
 * the token carries, instead of room for the longest of each. Every
 * destination is a data-safe of the issuer (token_verify refuses any
 * other), so a destination is stored as its endpoint id alone. Made only
 * by token_verify, freed only by token_claims_free; never copied by
 * value (iss, kid and jti point into the same allocation). */
typedef struct {
	int64_t iat, nbf, exp;
	const char *iss, *kid, *jti;     /* NUL-terminated, in text[] */
	size_t size;                     /* of the whole allocation, for the wipe */
	uint8_t iss_len;
	uint8_t ndst;
	uint8_t dst_len[TOKEN_MAX_DST];  /* endpoint id i: dst_len[i] bytes ... */
	uint16_t dst_off[TOKEN_MAX_DST]; /* ... at text + dst_off[i], NUL after */
	char text[];
} token_claims_t;

/* Verifies tok for the connection authenticated as who, whose certificate
 * SPKI hashes to cnf, at time now (Unix seconds). 0 and *out (free it
 * with token_claims_free), -ZK_ETOKEN, or -ZK_ENOMEM (only for a token
 * that verified); *out is set only on success. */
int token_verify(const registry_t *reg, const token_rules_t *rules, const ident_t *who,
		 const uint8_t cnf[32], const uint8_t *tok, size_t len, int64_t now,
		 token_claims_t **out);
/* Wipes and frees *t and sets it to NULL; NULL is fine. */
void token_claims_free(token_claims_t **t);
/* The endpoint id of destination i (i < ndst); its practice is t->iss. */
const char *token_dst_endpoint(const token_claims_t *t, size_t i);
/* Still acceptable under a new registry (key kept, practice active, jti
 * not revoked)? 1 or 0. */
int token_still_valid(const registry_t *reg, const token_claims_t *t);
/* 1 if t lets its holder send to addr. */
int token_allows(const token_claims_t *t, const uint8_t *addr, size_t len);
/* Strict RFC 3339 ("2026-01-01T00:00:00Z", fraction and offset allowed).
 * 0 or -ZK_EMALFORMED. */
int token_parse_time(const char *s, int64_t *out);

#endif
