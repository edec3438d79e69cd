#include "token.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64url.h"
#include "paseto.h"
#include "tokenmint.h"
#include "zkerr.h"

#define FOOTER_MAX 256

/* The claims while they are read and checked: room for the longest of
 * each, on the stack. What a connection keeps is packed from this into a
 * token_claims_t of the size it needs (pack()). */
typedef struct {
	char iss[WIRE_MAX_ID + 1];
	char kid[WIRE_MAX_ID + 1];
	char jti[TOKEN_MAX_JTI + 1];
	int64_t iat, nbf, exp;
	char dst[TOKEN_MAX_DST][WIRE_MAX_ADDR + 1];
	uint8_t ndst;
} parsed_t;

int token_parse_time(const char *s, int64_t *out)
{
	return tokenmint_parse_time(s, out);
}

/* Copies a JSON string member of exactly the allowed shape into buf. */
static int get_str(json_t *obj, const char *key, char *buf, size_t cap)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= cap || strlen(s) != n)
		return -1;
	memcpy(buf, s, n + 1);
	return 0;
}

static int get_time(json_t *obj, const char *key, int64_t *out)
{
	char buf[64];
	return get_str(obj, key, buf, sizeof(buf)) || token_parse_time(buf, out) ? -1 : 0;
}

/* The footer names the issuer and key; it is read before verification to
 * pick the key, and trusted only after the signature (which covers it)
 * has been checked. */
static int read_footer(const uint8_t *tok, size_t len, char *iss, char *kid)
{
	uint8_t raw[FOOTER_MAX];
	size_t n;
	json_t *j;
	int rc = -1;

	if (paseto_v4_footer((const char *)tok, len, raw, sizeof(raw), &n))
		return -1;
	j = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	if (j && json_object_size(j) == 2 && !get_str(j, "iss", iss, WIRE_MAX_ID + 1) &&
	    !get_str(j, "kid", kid, WIRE_MAX_ID + 1) && ident_id_ok(iss, strlen(iss)))
		rc = 0;
	json_decref(j);
	return rc;
}

static int read_dst(json_t *claims, const char *iss, parsed_t *t)
{
	json_t *arr = json_object_get(claims, "dst"), *v;
	size_t i, plen;

	if (!json_is_array(arr) || json_array_size(arr) == 0 ||
	    json_array_size(arr) > TOKEN_MAX_DST)
		return -1;
	json_array_foreach(arr, i, v) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (!s || n > WIRE_MAX_ADDR || strlen(s) != n ||
		    !ident_addr_ok((const uint8_t *)s, n, &plen))
			return -1;
		/* A practice grants access to its own data-safes only. */
		if (plen != strlen(iss) || memcmp(s, iss, plen))
			return -1;
		memcpy(t->dst[i], s, n + 1);
	}
	t->ndst = (uint8_t)json_array_size(arr);
	return 0;
}

static int read_claims(const uint8_t *msg, size_t n, const token_rules_t *rules,
		       const ident_t *who, const uint8_t cnf[32], int64_t now, parsed_t *t)
{
	static const char *const known[] = { "iss", "sub", "aud", "iat", "nbf", "exp",
					     "jti", "cnf", "dst" };
	char iss[WIRE_MAX_ID + 1], sub[WIRE_MAX_ADDR + 1], aud[WIRE_MAX_ID + 1], c64[64];
	uint8_t c[32];
	size_t clen;
	json_t *j = json_loadb((const char *)msg, n, JSON_REJECT_DUPLICATES, NULL);
	int rc = -1;

	if (!json_is_object(j) || json_object_size(j) != sizeof(known) / sizeof(known[0]))
		goto out; /* every claim present, nothing else */
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!json_object_get(j, known[i]))
			goto out;
	if (get_str(j, "iss", iss, sizeof(iss)) || strcmp(iss, t->iss) ||
	    get_str(j, "sub", sub, sizeof(sub)) || strcmp(sub, who->addr) ||
	    get_str(j, "aud", aud, sizeof(aud)) || strcmp(aud, rules->relay_id) ||
	    get_str(j, "jti", t->jti, sizeof(t->jti)) ||
	    get_time(j, "iat", &t->iat) || get_time(j, "nbf", &t->nbf) ||
	    get_time(j, "exp", &t->exp) || get_str(j, "cnf", c64, sizeof(c64)) ||
	    b64url_decode(c64, strlen(c64), c, sizeof(c), &clen) || clen != 32 ||
	    CRYPTO_memcmp(c, cnf, 32) || read_dst(j, iss, t))
		goto out;
	if (t->nbf > now + rules->leeway_s || t->iat > now + rules->leeway_s ||
	    t->exp + rules->leeway_s <= now || t->exp <= t->iat || t->nbf > t->exp ||
	    t->exp - t->iat > rules->max_lifetime_s)
		goto out;
	rc = 0;
out:
	json_decref(j);
	return rc;
}

/* A valid Ed25519 public key whose private half was discarded at once. */
static const uint8_t *decoy_key(void)
{
	static uint8_t raw[32];
	static int made;
	paseto_sk_t *sk = NULL;
	paseto_pk_t *pk = NULL;

	if (!made && paseto_sk_generate(&sk) == 0 && paseto_pk_from_sk(sk, &pk) == 0 &&
	    paseto_pk_to_raw(pk, raw, sizeof(raw)) >= 0)
		made = 1;
	paseto_sk_free(&sk);
	paseto_pk_free(&pk);
	return raw;
}

/* Appends the NUL-terminated string s (len bytes) at text + *at. */
static uint16_t put(char *text, size_t *at, const char *s, size_t len)
{
	uint16_t off = (uint16_t)*at;
	memcpy(text + *at, s, len);
	text[*at + len] = '\0';
	*at += len + 1;
	return off;
}

/* One allocation holding exactly what p names. Every destination starts
 * with "<iss>/" (read_dst), so only the endpoint id after it is kept. The
 * text is at most iss, kid, jti and TOKEN_MAX_DST endpoint ids with their
 * NULs (1,299 bytes), so uint16_t offsets hold. */
static int pack(const parsed_t *p, token_claims_t **out)
{
	size_t ilen = strlen(p->iss), klen = strlen(p->kid), jlen = strlen(p->jti);
	size_t text = ilen + 1 + klen + 1 + jlen + 1, at = 0;
	token_claims_t *t;

	for (uint8_t i = 0; i < p->ndst; i++)
		text += strlen(p->dst[i]) - ilen; /* less "<iss>/", plus the NUL */
	t = calloc(1, sizeof(*t) + text);
	if (!t)
		return -ZK_ENOMEM;
	t->size = sizeof(*t) + text;
	t->iat = p->iat;
	t->nbf = p->nbf;
	t->exp = p->exp;
	t->iss = t->text + put(t->text, &at, p->iss, ilen);
	t->kid = t->text + put(t->text, &at, p->kid, klen);
	t->jti = t->text + put(t->text, &at, p->jti, jlen);
	t->iss_len = (uint8_t)ilen;
	t->ndst = p->ndst;
	for (uint8_t i = 0; i < p->ndst; i++) {
		size_t n = strlen(p->dst[i]) - ilen - 1;
		t->dst_len[i] = (uint8_t)n;
		t->dst_off[i] = put(t->text, &at, p->dst[i] + ilen + 1, n);
	}
	*out = t;
	return 0;
}

void token_claims_free(token_claims_t **t)
{
	if (!*t)
		return;
	OPENSSL_cleanse(*t, (*t)->size);
	free(*t);
	*t = NULL;
}

const char *token_dst_endpoint(const token_claims_t *t, size_t i)
{
	return i < t->ndst ? t->text + t->dst_off[i] : NULL;
}

int token_verify(const registry_t *reg, const token_rules_t *rules, const ident_t *who,
		 const uint8_t cnf[32], const uint8_t *tok, size_t len, int64_t now,
		 token_claims_t **out)
{
	const registry_practice_t *p;
	const uint8_t *raw;
	paseto_pk_t *pk = NULL;
	uint8_t *msg = NULL, *footer = NULL;
	size_t mlen, flen;
	parsed_t t;
	int rc = -ZK_ETOKEN;

	memset(&t, 0, sizeof(t));
	if (!reg || len == 0 || read_footer(tok, len, t.iss, t.kid))
		goto out;
	p = registry_find(reg, t.iss, strlen(t.iss));
	raw = p && registry_practice_active(p) ? registry_token_key(p, t.kid, strlen(t.kid)) : NULL;
	/* An unknown practice or key still costs one signature check, under a
	 * key nobody holds, so timing does not tell which practices exist. */
	if (paseto_pk_from_raw(raw ? raw : decoy_key(), 32, &pk))
		goto out;
	if (paseto_v4_verify(pk, (const char *)tok, len, NULL, 0, &msg, &mlen, &footer, &flen) ||
	    !raw)
		goto out;
	if (read_claims(msg, mlen, rules, who, cnf, now, &t) ||
	    registry_jti_revoked(p, t.jti, strlen(t.jti)))
		goto out;
	rc = pack(&t, out);
out:
	paseto_pk_free(&pk);
	free(msg);
	free(footer);
	OPENSSL_cleanse(&t, sizeof(t));
	return rc;
}

int token_still_valid(const registry_t *reg, const token_claims_t *t)
{
	const registry_practice_t *p = registry_find(reg, t->iss, strlen(t->iss));
	return p && registry_practice_active(p) && registry_token_key(p, t->kid, strlen(t->kid)) &&
	       !registry_jti_revoked(p, t->jti, strlen(t->jti));
}

/* Every destination is "<iss>/<endpoint-id>": the issuer part is checked
 * once, then the endpoint id against each one kept. */
int token_allows(const token_claims_t *t, const uint8_t *addr, size_t len)
{
	size_t ilen = t->iss_len;

	if (t->ndst == 0 || len <= ilen + 1 || memcmp(addr, t->iss, ilen) || addr[ilen] != '/')
		return 0;
	addr += ilen + 1;
	len -= ilen + 1;
	for (uint8_t i = 0; i < t->ndst; i++)
		if (t->dst_len[i] == len && memcmp(t->text + t->dst_off[i], addr, len) == 0)
			return 1;
	return 0;
}
