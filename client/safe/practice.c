#include "practice.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "tokenmint.h"
#include "zkerr.h"

int practice_open(const safecfg_t *cfg, practice_t *p, char *err, size_t errlen)
{
	practice_t n = { .cfg = cfg };
	int rc = tokenmint_load_key(cfg->token_key_file, &n.sk);

	if (rc)
		return zk_errf(err, errlen, rc, "%s: not a readable Ed25519 private key (PEM)",
			       cfg->token_key_file);
	rc = paseto_pk_from_sk(n.sk, &n.pk);
	if (rc) {
		paseto_sk_free(&n.sk);
		return zk_errf(err, errlen, rc, "%s: cannot derive the public key",
			       cfg->token_key_file);
	}
	*p = n;
	return 0;
}

void practice_close(practice_t *p)
{
	paseto_sk_free(&p->sk);
	paseto_pk_free(&p->pk);
}

/* 32 hex digits of fresh randomness. */
static int random_id(char out[33])
{
	unsigned char r[16];

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -ZK_EIO;
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

int practice_relay_token(const practice_t *p, const char *sub, const uint8_t cnf[32],
			 int64_t now, int64_t ttl, int64_t not_after, char **token)
{
	const char *dst[1] = { p->cfg->address };
	char jti[33];
	tokenmint_t t = { .iss = p->cfg->practice, .kid = p->cfg->token_kid, .sub = sub,
			  .aud = p->cfg->relay_id, .jti = jti, .dst = dst, .ndst = 1 };

	if (ttl > PRACTICE_TOKEN_MAX_S)
		ttl = PRACTICE_TOKEN_MAX_S;
	t.iat = t.nbf = now;
	t.exp = now + ttl;
	/* A token never outlives the grant it was fetched with. */
	if (not_after && t.exp > not_after)
		t.exp = not_after;
	if (t.exp <= now)
		return -ZK_ETOKENEXPIRED;
	memcpy(t.cnf, cnf, 32);
	if (random_id(jti))
		return -ZK_EIO;
	return tokenmint(p->sk, &t, token);
}

int practice_grant(const practice_t *p, grant_t *g, int64_t now, int64_t lifetime,
		   char **token)
{
	if (lifetime < 1 || snprintf(g->iss, sizeof(g->iss), "%s", p->cfg->practice) < 0 ||
	    snprintf(g->safe, sizeof(g->safe), "%s", p->cfg->address) < 0 || random_id(g->jti))
		return -ZK_EINVAL;
	g->iat = g->nbf = now;
	g->exp = now + lifetime;
	return grant_mint(p->sk, p->cfg->token_kid, g, token);
}
