#include "grant.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "peek.h"
#include "zkerr.h"

#define IMPLICIT_LEN (sizeof(GRANT_IMPLICIT) - 1)
/* Characters of base64url for 32 bytes, and room for its NUL. */
#define KEY_B64 43u

static int key_b64(const uint8_t key[32], char out[KEY_B64 + 1])
{
	size_t n;

	if (b64url_encode(key, 32, out, KEY_B64, &n) || n != KEY_B64)
		return -ZK_EINVAL;
	out[n] = '\0';
	return 0;
}

static json_t *claims_json(const grant_t *g)
{
	char e2e[KEY_B64 + 1], cnf[KEY_B64 + 1];
	json_t *j;

	if (key_b64(g->e2e, e2e) || key_b64(g->cnf, cnf))
		return NULL;
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:s}", "iss", g->iss, "sub",
		      g->sub, "safe", g->safe, "e2e", e2e, "cnf", cnf, "iat", (json_int_t)g->iat,
		      "nbf", (json_int_t)g->nbf, "exp", (json_int_t)g->exp, "jti", g->jti);
	if (j && g->patient[0] && json_object_set_new(j, "patient", json_string(g->patient))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* The fields a verifier would refuse are refused before signing too, so
 * a tool cannot hand out a grant no data-safe accepts. */
static int shape_ok(const grant_t *g)
{
	return name_id_ok_str(g->iss) && name_addr_ok_str(g->sub) && name_addr_ok_str(g->safe) &&
	       (!g->patient[0] || name_doc_ok_str(g->patient)) && g->jti[0] &&
	       name_doc_ok(g->jti, strnlen(g->jti, GRANT_MAX_JTI + 1)) &&
	       strlen(g->jti) <= GRANT_MAX_JTI && g->nbf <= g->exp && g->iat < g->exp;
}

int grant_mint(const paseto_sk_t *sk, const char *kid, const grant_t *g, char **token)
{
	json_t *c = NULL, *f = NULL;
	char *cs = NULL, *fs = NULL;
	int rc = -ZK_EINVAL;

	if (!sk || !g || !token || !name_id_ok_str(kid) || !shape_ok(g))
		return rc;
	rc = -ZK_ENOMEM;
	c = claims_json(g);
	f = json_pack("{s:s}", "kid", kid);
	if (!c || !f)
		goto fail;
	cs = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
	fs = json_dumps(f, JSON_COMPACT);
	if (!cs || !fs)
		goto fail;
	rc = paseto_v4_sign(sk, (const uint8_t *)cs, strlen(cs), (const uint8_t *)fs, strlen(fs),
			    (const uint8_t *)GRANT_IMPLICIT, IMPLICIT_LEN, token);
fail:
	free(cs);
	free(fs);
	json_decref(c);
	json_decref(f);
	return rc;
}

static int get_str(const json_t *o, const char *key, char *out, size_t cap)
{
	const json_t *v = json_object_get(o, key);
	size_t n = json_string_length(v);

	if (!json_is_string(v) || n == 0 || n >= cap)
		return -1;
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

static int get_key(const json_t *o, const char *key, uint8_t out[32])
{
	char s[KEY_B64 + 1];
	size_t n;

	if (get_str(o, key, s, sizeof(s)) || b64url_decode(s, strlen(s), out, 32, &n) || n != 32)
		return -1;
	return 0;
}

static int get_time(const json_t *o, const char *key, int64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (int64_t)json_integer_value(v);
	return 0;
}

static int claims_json_parse(const json_t *j, grant_t *g)
{
	int has_patient = json_object_get(j, "patient") != NULL;

	/* Nine claims always, the tenth only when the grant is scoped: an
	 * unknown claim could be a restriction we would fail to honour. */
	if (!json_is_object(j) || json_object_size(j) != 9u + (size_t)has_patient)
		return -ZK_ETOKEN;
	if (get_str(j, "iss", g->iss, sizeof(g->iss)) || get_str(j, "sub", g->sub, sizeof(g->sub)) ||
	    get_str(j, "safe", g->safe, sizeof(g->safe)) || get_key(j, "e2e", g->e2e) ||
	    get_key(j, "cnf", g->cnf) || get_time(j, "iat", &g->iat) ||
	    get_time(j, "nbf", &g->nbf) || get_time(j, "exp", &g->exp) ||
	    get_str(j, "jti", g->jti, sizeof(g->jti)) ||
	    (has_patient && get_str(j, "patient", g->patient, sizeof(g->patient))))
		return -ZK_ETOKEN;
	return shape_ok(g) ? 0 : -ZK_ETOKEN;
}

static int claims_parse(const uint8_t *msg, size_t len, grant_t *g)
{
	json_t *j = json_loadb((const char *)msg, len, JSON_REJECT_DUPLICATES, NULL);
	int rc = claims_json_parse(j, g);

	json_decref(j);
	return rc;
}

int grant_inspect(const char *token, size_t len, grant_t *out)
{
	json_t *j = NULL;
	grant_t g;
	int rc;

	memset(&g, 0, sizeof(g));
	rc = peek_claims(token, len, &j);
	if (rc == 0 && (rc = claims_json_parse(j, &g)) == 0)
		*out = g;
	json_decref(j);
	return rc ? -ZK_ETOKEN : 0;
}

static int footer_ok(const uint8_t *f, size_t len, const char *kid)
{
	json_t *j = json_loadb((const char *)f, len, JSON_REJECT_DUPLICATES, NULL);
	const json_t *k = json_object_get(j, "kid");
	int ok = json_is_object(j) && json_object_size(j) == 1 && json_is_string(k) &&
		 strcmp(json_string_value(k), kid) == 0;

	json_decref(j);
	return ok;
}

int grant_verify(const paseto_pk_t *pk, const char *kid, const char *token, size_t len,
		 grant_t *out)
{
	uint8_t *msg = NULL, *footer = NULL;
	size_t mlen = 0, flen = 0;
	grant_t g;
	int rc;

	if (!pk || !kid || !token || !out)
		return -ZK_EINVAL;
	memset(&g, 0, sizeof(g));
	rc = paseto_v4_verify(pk, token, len, (const uint8_t *)GRANT_IMPLICIT, IMPLICIT_LEN, &msg,
			      &mlen, &footer, &flen);
	if (rc)
		return rc;
	rc = -ZK_ETOKEN;
	if (!footer_ok(footer, flen, kid) || claims_parse(msg, mlen, &g))
		goto fail;
	*out = g;
	rc = 0;
fail:
	free(msg);
	free(footer);
	return rc;
}

docproto_status_t grant_check(const grant_t *g, const grant_ctx_t *ctx)
{
	/* Who and where first: a grant for someone else says nothing about
	 * this session even if it has expired. */
	if (strcmp(g->iss, ctx->practice) || strcmp(g->safe, ctx->safe) ||
	    strcmp(g->sub, ctx->peer) || CRYPTO_memcmp(g->e2e, ctx->peer_key, 32))
		return DOCPROTO_GRANT_INVALID;
	if (g->nbf > ctx->now + GRANT_LEEWAY_S || g->iat > ctx->now + GRANT_LEEWAY_S)
		return DOCPROTO_GRANT_INVALID;
	if (g->exp + GRANT_LEEWAY_S <= ctx->now)
		return DOCPROTO_GRANT_EXPIRED;
	return DOCPROTO_OK;
}

int grant_covers(const grant_t *g, const char *patient)
{
	return !patient || !g->patient[0] || strcmp(g->patient, patient) == 0;
}

docproto_status_t grant_authorize(const paseto_pk_t *pk, const char *kid,
				  const grant_ctx_t *ctx, const char *token,
				  const char *patient, grant_t *out)
{
	docproto_status_t st;
	grant_t g;

	if (!token || grant_verify(pk, kid, token, strlen(token), &g))
		return DOCPROTO_GRANT_INVALID;
	if (out)
		*out = g;
	st = grant_check(&g, ctx);
	if (st != DOCPROTO_OK)
		return st;
	return grant_covers(&g, patient) ? DOCPROTO_OK : DOCPROTO_NOT_PERMITTED;
}
