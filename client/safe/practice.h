/* The practice token key, held by the data-safe alone: it signs the relay
 * access tokens and the grants of the practice's clients, and verifies
 * the grants clients present. The vendor running the relay never holds
 * it, so the vendor cannot grant itself access. */
#ifndef ZK_PRACTICE_H
#define ZK_PRACTICE_H

#include <stdint.h>

#include "grant.h"
#include "paseto.h"
#include "safecfg.h"

/* Longest relay access token lifetime the relay accepts. */
#define PRACTICE_TOKEN_MAX_S 3600

typedef struct {
	paseto_sk_t *sk;
	paseto_pk_t *pk;
	const safecfg_t *cfg; /* iss, kid, aud, our address */
} practice_t;

/* Loads cfg->token_key_file. 0, or a negative zk_err_t with a message. */
int practice_open(const safecfg_t *cfg, practice_t *p, char *err, size_t errlen);
/* Wipes and frees the keys. */
void practice_close(practice_t *p);

/* A relay access token for the client sub holding the certificate whose
 * SPKI hash is cnf, allowed to reach our address only, valid from now
 * for ttl seconds (capped at PRACTICE_TOKEN_MAX_S and at not_after when
 * that is non-zero). *token is malloc'd. */
int practice_relay_token(const practice_t *p, const char *sub, const uint8_t cnf[32],
			 int64_t now, int64_t ttl, int64_t not_after, char **token);
/* Fills iss, safe, iat/nbf/exp (lifetime seconds from now) and a random
 * jti into g (sub, e2e, cnf and patient are the caller's) and signs it. */
int practice_grant(const practice_t *p, grant_t *g, int64_t now, int64_t lifetime,
		   char **token);

#endif
