/* Grants: what a practice's data-safe lets one client do, checked by the
 * data-safe itself on every request.
 *
 * A grant is a PASETO v4.public token signed with the practice token key,
 * footer {"kid":KID}, implicit assertion GRANT_IMPLICIT, claims
 *   {"iss","sub","safe","e2e","cnf","patient"?,"iat","nbf","exp","jti"}
 * The implicit assertion is what keeps grants and relay access tokens
 * apart although one key signs both: a relay token (signed with no
 * assertion) never verifies as a grant, and a grant never as a relay
 * token. Grants travel only inside end-to-end sessions, so the patient id
 * in one is never seen by the relay.
 *
 * Errors: -ZK_ETOKEN for a grant that does not verify or whose claims are
 * not exactly of the shape above, -ZK_EINVAL, -ZK_ENOMEM. */
#ifndef ZK_GRANT_H
#define ZK_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "docproto.h"
#include "name.h"
#include "paseto.h"

#define GRANT_IMPLICIT "zkrelay-grant-v1"
/* Clock difference tolerated on nbf and exp. */
#define GRANT_LEEWAY_S 60
#define GRANT_MAX_JTI 64u

typedef struct {
	char iss[NAME_ID_MAX + 1];       /* practice id */
	char sub[NAME_ADDR_MAX + 1];     /* client address */
	char safe[NAME_ADDR_MAX + 1];    /* data-safe address */
	uint8_t e2e[32];                 /* client's X25519 static public key */
	uint8_t cnf[32];                 /* SHA-256 of the client cert's SPKI */
	char patient[NAME_DOC_MAX + 1];  /* "" when the grant covers the practice */
	int64_t iat, nbf, exp;           /* Unix seconds */
	char jti[GRANT_MAX_JTI + 1];
} grant_t;

/* Signs g. 0 and a malloc'd NUL-terminated token in *token. */
int grant_mint(const paseto_sk_t *sk, const char *kid, const grant_t *g, char **token);
/* Verifies signature, footer kid and the claims' shape; not their
 * values against a session or the clock (grant_check does that). */
int grant_verify(const paseto_pk_t *pk, const char *kid, const char *token, size_t len,
		 grant_t *out);

/* The claims of a grant, shape-checked as grant_verify does but WITHOUT
 * verifying the signature (see peek.h): for a client checking that the
 * grant it was handed names its key. */
int grant_inspect(const char *token, size_t len, grant_t *out);

/* What one request of one session must match. */
typedef struct {
	const char *practice;    /* our practice id (iss) */
	const char *safe;        /* our address (safe) */
	const char *peer;        /* zkr_session_peer(): the relay's stamp (sub) */
	const uint8_t *peer_key; /* zkr_session_peer_key(): Noise-proven (e2e) */
	int64_t now;
} grant_ctx_t;

/* The claims against ctx: DOCPROTO_OK, DOCPROTO_GRANT_INVALID (issued to
 * someone or somewhere else, or not yet valid) or DOCPROTO_GRANT_EXPIRED. */
docproto_status_t grant_check(const grant_t *g, const grant_ctx_t *ctx);
/* 1 if g covers patient: a practice-wide grant covers every patient, a
 * scoped one only its own. patient NULL (the "token" op) is covered. */
int grant_covers(const grant_t *g, const char *patient);

/* The whole check of one request: verify, check, scope. The grant is
 * written to *out (may be NULL) whenever it verified, so a refusal can
 * still be audited under its holder. */
docproto_status_t grant_authorize(const paseto_pk_t *pk, const char *kid,
				  const grant_ctx_t *ctx, const char *token,
				  const char *patient, grant_t *out);

#endif
