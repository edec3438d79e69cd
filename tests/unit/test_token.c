/* token.c: access-token checks at the relay.
 *
 * Each test (CK_FORK) writes a fresh registry into a temporary directory
 * with freshly generated Ed25519 keys:
 *   practice-a  active     k1, k2   safe-1, safe-2   revoked "jti-revoked"
 *   practice-b  active     k1       safe-1, safe-2
 *   practice-s  suspended  k1       safe-1, safe-2
 * The connection is practice-a/client-1 with a fixed cnf. Good tokens come
 * from tokenmint(); claims it cannot express (a missing or extra claim, a
 * wrong type, duplicate keys, odd footers) are signed by hand with
 * paseto_v4_sign(), and a hand-signed copy of the good claims is checked to
 * verify first, so each refusal is caused by the one thing changed.
 *
 * Tokens are verified from heap copies of their exact length without a
 * NUL, so under ASan a read past the end is a crash. Every refusal must be
 * -ZK_ETOKEN and leave the output claims untouched. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "b64url.h"
#include "ident.h"
#include "paseto.h"
#include "registry.h"
#include "suites.h"
#include "token.h"
#include "tokenmint.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define REFUSED (-ZK_ETOKEN)
/* 2026-01-01T00:00:00Z */
#define NOW INT64_C(1767225600)
#define LEEWAY 30
#define MAX_LIFETIME 3600

#define PIN1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define PIN2 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
#define FOOTER_A1 "{\"iss\":\"practice-a\",\"kid\":\"k1\"}"

static const token_rules_t rules = { "relay-1", LEEWAY, MAX_LIFETIME };

/* SHA-256 of the holder certificate's SPKI, as far as the relay knows. */
static const uint8_t cnf[32] = {
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
	0xcc, 0xdd, 0xee, 0xff, 0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60,
	0x70, 0x80, 0x90, 0xa0, 0xb0, 0xc0, 0xd0, 0xe0, 0xf0, 0x01,
};

static const char *const dst_a[] = { "practice-a/safe-1", "practice-a/safe-2" };
static const char *const dst_b[] = { "practice-b/safe-1" };

/* Per-test fixture. */
static char *reg_dir;
static registry_t *reg;
static paseto_sk_t *sk_a1, *sk_a2, *sk_b1, *sk_s1, *sk_x;
static ident_t who;

/* ---- registry files --------------------------------------------------- */

typedef struct {
	const char *kid;
	const paseto_sk_t *sk;
} test_key_t;

static char *make_dir(void)
{
	const char *base = getenv("TMPDIR");
	char *d = malloc(4096);

	ck_assert_ptr_nonnull(d);
	snprintf(d, 4096, "%s/zkrelay-token.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_dir(char *d)
{
	ck_assert_int_eq(nftw(d, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(d);
}

static paseto_sk_t *new_key(void)
{
	paseto_sk_t *sk = NULL;

	ck_assert_int_eq(paseto_sk_generate(&sk), 0);
	ck_assert_ptr_nonnull(sk);
	return sk;
}

/* The registry's spelling of sk's public key: raw 32 bytes, base64url. */
static json_t *public_key_b64(const paseto_sk_t *sk)
{
	paseto_pk_t *pk = NULL;
	uint8_t raw[PASETO_KEY_LEN];
	char text[64];
	size_t n = 0;

	ck_assert_int_eq(paseto_pk_from_sk(sk, &pk), 0);
	ck_assert_int_eq(paseto_pk_to_raw(pk, raw, sizeof(raw)), 0);
	paseto_pk_free(&pk);
	ck_assert_int_eq(b64url_encode(raw, sizeof(raw), text, sizeof(text) - 1, &n), 0);
	text[n] = '\0'; /* the encoder writes no terminator */
	return json_string(text);
}

/* Writes d/<id>.json: two data-safes, the given keys, and at most one
 * revoked jti (NULL for none). */
static void write_practice(const char *d, const char *id, int active, const test_key_t *keys,
			   size_t nkeys, const char *revoked)
{
	json_t *ks = json_array(), *jtis = json_array(), *doc;
	char path[4096];

	ck_assert_ptr_nonnull(ks);
	ck_assert_ptr_nonnull(jtis);
	for (size_t i = 0; i < nkeys; i++) {
		json_t *k = json_pack("{s:s, s:o}", "kid", keys[i].kid, "public_key",
				      public_key_b64(keys[i].sk));

		ck_assert_ptr_nonnull(k);
		ck_assert_int_eq(json_array_append_new(ks, k), 0);
	}
	if (revoked)
		ck_assert_int_eq(json_array_append_new(jtis, json_string(revoked)), 0);
	doc = json_pack("{s:s, s:s, s:o, s:[{s:s, s:s}, {s:s, s:s}], s:o}", "practice_id", id,
			"status", active ? "active" : "suspended", "token_keys", ks, "data_safes",
			"endpoint_id", "safe-1", "spki_sha256", PIN1, "endpoint_id", "safe-2",
			"spki_sha256", PIN2, "revoked_jti", jtis);
	ck_assert_ptr_nonnull(doc);
	snprintf(path, sizeof(path), "%s/%s.json", d, id);
	ck_assert_int_eq(json_dump_file(doc, path, JSON_INDENT(2)), 0);
	json_decref(doc);
}

static registry_t *load_registry(const char *d)
{
	registry_t *r = NULL;
	char err[512] = "";

	ck_assert_msg(registry_load(d, &r, err, sizeof(err)) == 0, "registry: %s", err);
	ck_assert_ptr_nonnull(r);
	return r;
}

#define WHO_URI "zkrelay://practice/practice-a/client/client-1"

static void setup(void)
{
	sk_a1 = new_key();
	sk_a2 = new_key();
	sk_b1 = new_key();
	sk_s1 = new_key();
	sk_x = new_key();

	test_key_t a[2] = { { "k1", sk_a1 }, { "k2", sk_a2 } };
	test_key_t b[1] = { { "k1", sk_b1 } }, s[1] = { { "k1", sk_s1 } };

	reg_dir = make_dir();
	write_practice(reg_dir, "practice-a", 1, a, ARRAY_LEN(a), "jti-revoked");
	write_practice(reg_dir, "practice-b", 1, b, ARRAY_LEN(b), NULL);
	write_practice(reg_dir, "practice-s", 0, s, ARRAY_LEN(s), NULL);
	reg = load_registry(reg_dir);
	ck_assert_uint_eq(registry_count(reg), 3);
	ck_assert_int_eq(ident_parse_uri(WHO_URI, strlen(WHO_URI), &who), 0);
}

static void teardown(void)
{
	registry_free(reg);
	reg = NULL;
	remove_dir(reg_dir);
	reg_dir = NULL;
	paseto_sk_free(&sk_a1);
	paseto_sk_free(&sk_a2);
	paseto_sk_free(&sk_b1);
	paseto_sk_free(&sk_s1);
	paseto_sk_free(&sk_x);
}

/* ---- tokens ------------------------------------------------------------ */

/* The good token: practice-a's k1 for practice-a/client-1, ten minutes. */
static tokenmint_t spec(void)
{
	tokenmint_t t = {
		.iss = "practice-a",
		.kid = "k1",
		.sub = "practice-a/client-1",
		.aud = "relay-1",
		.jti = "jti-1",
		.iat = NOW - 60,
		.nbf = NOW - 60,
		.exp = NOW + 600,
		.dst = dst_a,
		.ndst = ARRAY_LEN(dst_a),
	};

	memcpy(t.cnf, cnf, sizeof(cnf));
	return t;
}

static char *mint(const paseto_sk_t *sk, const tokenmint_t *t)
{
	char *tok = NULL;

	ck_assert_int_eq(tokenmint(sk, t, &tok), 0);
	ck_assert_ptr_nonnull(tok);
	return tok;
}

/* token_verify on an exact-length heap copy of len bytes of tok under r.
 * A refusal must be -ZK_ETOKEN with *out untouched. */
static int verify_in(const registry_t *r, const char *tok, size_t len, int64_t now,
		     token_claims_t **out)
{
	token_claims_t *const poison = (token_claims_t *)(uintptr_t)0xa5a5a5a5a5a5a5a5u;
	token_claims_t *c = poison;
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int rc;

	ck_assert_ptr_nonnull(copy);
	if (len > 0)
		memcpy(copy, tok, len);
	rc = token_verify(r, &rules, &who, cnf, copy, len, now, &c);
	free(copy);
	if (rc != 0) {
		ck_assert_int_eq(rc, REFUSED);
		ck_assert_ptr_eq(c, poison);
		c = NULL;
	}
	if (out)
		*out = c;
	else
		token_claims_free(&c);
	return rc;
}

static int verify_tok(const char *tok, int64_t now, token_claims_t **out)
{
	return verify_in(reg, tok, strlen(tok), now, out);
}

/* Mints t with sk and verifies it at now. */
static int verify_spec(const paseto_sk_t *sk, const tokenmint_t *t, int64_t now)
{
	char *tok = mint(sk, t);
	int rc = verify_tok(tok, now, NULL);

	free(tok);
	return rc;
}

/* Verified claims of t minted with sk at NOW; the test fails otherwise. */
static token_claims_t *claims_of(const paseto_sk_t *sk, const tokenmint_t *t)
{
	token_claims_t *c = NULL;
	char *tok = mint(sk, t);

	ck_assert_int_eq(verify_tok(tok, NOW, &c), 0);
	free(tok);
	return c;
}

/* ---- hand-signed tokens ----------------------------------------------- */

static char *time_text(int64_t t)
{
	static char buf[4][32];
	static unsigned next;
	char *b = buf[next++ % ARRAY_LEN(buf)];

	tokenmint_time(t, b, sizeof(buf[0]));
	return b;
}

static json_t *string_array(const char *const *s, size_t n)
{
	json_t *a = json_array();

	ck_assert_ptr_nonnull(a);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(json_array_append_new(a, json_string(s[i])), 0);
	return a;
}

/* The good claims as tokenmint() writes them, as an object to change. */
static json_t *good_claims(void)
{
	char c64[64];
	size_t n = 0;
	json_t *j;

	ck_assert_int_eq(b64url_encode(cnf, sizeof(cnf), c64, sizeof(c64) - 1, &n), 0);
	c64[n] = '\0';
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "iss", "practice-a", "sub",
		      "practice-a/client-1", "aud", "relay-1", "iat", time_text(NOW - 60), "nbf",
		      time_text(NOW - 60), "exp", time_text(NOW + 600), "jti", "jti-1", "cnf", c64,
		      "dst", string_array(dst_a, ARRAY_LEN(dst_a)));
	ck_assert_ptr_nonnull(j);
	return j;
}

/* Compact text of j, which is released. */
static char *dump(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);

	ck_assert_ptr_nonnull(s);
	json_decref(j);
	return s;
}

/* Signs claims with footer (NULL: none) and sk. */
static char *sign_raw(const paseto_sk_t *sk, const char *claims, const char *footer)
{
	char *tok = NULL;

	ck_assert_int_eq(paseto_v4_sign(sk, (const uint8_t *)claims, strlen(claims),
					(const uint8_t *)footer, footer ? strlen(footer) : 0, NULL,
					0, &tok),
			 0);
	ck_assert_ptr_nonnull(tok);
	return tok;
}

static int verify_raw(const paseto_sk_t *sk, const char *claims, const char *footer,
		      token_claims_t **out)
{
	char *tok = sign_raw(sk, claims, footer);
	int rc = verify_tok(tok, NOW, out);

	free(tok);
	return rc;
}

/* Signs j (released) with practice-a's k1 and verifies it at NOW. */
static int verify_claims(json_t *j)
{
	char *text = dump(j);
	int rc = verify_raw(sk_a1, text, FOOTER_A1, NULL);

	free(text);
	return rc;
}

static json_t *with(json_t *j, const char *key, json_t *v)
{
	ck_assert_ptr_nonnull(v);
	ck_assert_int_eq(json_object_set_new(j, key, v), 0);
	return j;
}

static json_t *without(json_t *j, const char *key)
{
	ck_assert_int_eq(json_object_del(j, key), 0);
	return j;
}

/* "{" prefix the good claims' own members: a duplicate key at the front. */
static char *prefixed_claims(const char *prefix)
{
	char *good = dump(good_claims());
	size_t n = strlen(prefix) + strlen(good) + 1;
	char *s = malloc(n);

	ck_assert_ptr_nonnull(s);
	ck_assert(good[0] == '{');
	snprintf(s, n, "%s%s", prefix, good + 1);
	free(good);
	return s;
}

/* ---- a good token -------------------------------------------------------- */

START_TEST(test_good_token_verifies_and_fills_claims)
{
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);

	ck_assert_str_eq(c->iss, "practice-a");
	ck_assert_str_eq(c->kid, "k1");
	ck_assert_str_eq(c->jti, "jti-1");
	ck_assert_int_eq(c->iat, NOW - 60);
	ck_assert_int_eq(c->nbf, NOW - 60);
	ck_assert_int_eq(c->exp, NOW + 600);
	ck_assert_uint_eq(c->ndst, 2);
	ck_assert_str_eq(token_dst_endpoint(c, 0), "safe-1");
	ck_assert_str_eq(token_dst_endpoint(c, 1), "safe-2");
	ck_assert_ptr_null(token_dst_endpoint(c, 2));
	token_claims_free(&c);
}
END_TEST

START_TEST(test_second_key_of_practice_verifies)
{
	tokenmint_t t = spec();
	token_claims_t *c = NULL;

	t.kid = "k2";
	c = claims_of(sk_a2, &t);
	ck_assert_str_eq(c->kid, "k2");
	token_claims_free(&c);
}
END_TEST

START_TEST(test_other_practice_token_for_this_holder_verifies)
{
	/* Practice to practice: B grants A's endpoint access to B's safe. */
	tokenmint_t t = spec();
	token_claims_t *c = NULL;

	t.iss = "practice-b";
	t.dst = dst_b;
	t.ndst = ARRAY_LEN(dst_b);
	c = claims_of(sk_b1, &t);
	ck_assert_str_eq(c->iss, "practice-b");
	ck_assert_uint_eq(c->ndst, 1);
	ck_assert_str_eq(token_dst_endpoint(c, 0), "safe-1");
	token_claims_free(&c);
}
END_TEST

START_TEST(test_no_registry_refused)
{
	tokenmint_t t = spec();
	char *tok = mint(sk_a1, &t);

	ck_assert_int_eq(verify_in(NULL, tok, strlen(tok), NOW, NULL), REFUSED);
	free(tok);
}
END_TEST

/* ---- issuer and key ---------------------------------------------------- */

START_TEST(test_unknown_practice_refused)
{
	static const char *const dst_z[] = { "practice-z/safe-1" };
	tokenmint_t t = spec();

	t.iss = "practice-z";
	t.dst = dst_z;
	t.ndst = 1;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_suspended_practice_refused)
{
	static const char *const dst_s[] = { "practice-s/safe-1" };
	tokenmint_t t = spec();

	t.iss = "practice-s";
	t.dst = dst_s;
	t.ndst = 1;
	/* Signed with the suspended practice's own registered key. */
	ck_assert_int_eq(verify_spec(sk_s1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_unknown_kid_refused)
{
	tokenmint_t t = spec();

	t.kid = "k9";
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
	t.kid = "k";
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
	t.kid = "k10";
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_signed_by_unregistered_key_refused)
{
	tokenmint_t t = spec();

	ck_assert_int_eq(verify_spec(sk_x, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_signed_by_other_kid_key_refused)
{
	tokenmint_t t = spec(); /* footer names k1 */

	ck_assert_int_eq(verify_spec(sk_a2, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_signed_by_other_practice_key_refused)
{
	tokenmint_t t = spec(); /* footer names practice-a, k1 */

	ck_assert_int_eq(verify_spec(sk_b1, &t, NOW), REFUSED);
}
END_TEST

/* ---- audience, holder, certificate --------------------------------------- */

START_TEST(test_wrong_aud_refused)
{
	static const char *const auds[] = { "relay-2", "relay-", "relay-10", "Relay-1", "relay" };
	tokenmint_t t = spec();

	for (size_t i = 0; i < ARRAY_LEN(auds); i++) {
		t.aud = auds[i];
		ck_assert_msg(verify_spec(sk_a1, &t, NOW) == REFUSED, "aud \"%s\" accepted", auds[i]);
	}
}
END_TEST

START_TEST(test_sub_of_another_endpoint_refused)
{
	static const char *const subs[] = {
		"practice-a/client-2", "practice-b/client-1", "practice-a/client-",
		"practice-a/client-10", "practice-a", "practice-a/client-1/x",
	};
	tokenmint_t t = spec();

	for (size_t i = 0; i < ARRAY_LEN(subs); i++) {
		t.sub = subs[i];
		ck_assert_msg(verify_spec(sk_a1, &t, NOW) == REFUSED, "sub \"%s\" accepted", subs[i]);
	}
}
END_TEST

START_TEST(test_cnf_of_another_certificate_refused)
{
	tokenmint_t t = spec();

	t.cnf[31] ^= 0x01;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
	memset(t.cnf, 0, sizeof(t.cnf));
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

/* base64url of n bytes as a JSON string; pad adds one '='. */
static json_t *b64_json(const uint8_t *p, size_t n, int pad)
{
	char text[64];
	size_t len = 0;

	ck_assert_int_eq(b64url_encode(p, n, text, sizeof(text) - 2, &len), 0);
	if (pad)
		text[len++] = '=';
	text[len] = '\0';
	return json_string(text);
}

START_TEST(test_cnf_not_32_bytes_refused)
{
	uint8_t longer[33];

	memcpy(longer, cnf, sizeof(cnf));
	longer[32] = 0x00;
	ck_assert_int_eq(verify_claims(with(good_claims(), "cnf", b64_json(cnf, 32, 0))), 0);
	ck_assert_int_eq(verify_claims(with(good_claims(), "cnf", b64_json(cnf, 31, 0))), REFUSED);
	ck_assert_int_eq(verify_claims(with(good_claims(), "cnf", b64_json(longer, 33, 0))),
			 REFUSED);
	ck_assert_int_eq(verify_claims(with(good_claims(), "cnf", b64_json(cnf, 32, 1))), REFUSED);
	ck_assert_int_eq(verify_claims(with(good_claims(), "cnf", json_string(""))), REFUSED);
}
END_TEST

/* ---- times ------------------------------------------------------------- */

START_TEST(test_expired_refused)
{
	tokenmint_t t = spec();

	t.iat = t.nbf = NOW - 700;
	t.exp = NOW - 100;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_expired_exactly_at_leeway_refused)
{
	tokenmint_t t = spec();

	/* exp + leeway == now */
	ck_assert_int_eq(verify_spec(sk_a1, &t, t.exp + LEEWAY), REFUSED);
}
END_TEST

START_TEST(test_expiry_one_second_inside_leeway_accepted)
{
	tokenmint_t t = spec();

	ck_assert_int_eq(verify_spec(sk_a1, &t, t.exp + LEEWAY - 1), 0);
	ck_assert_int_eq(verify_spec(sk_a1, &t, t.exp), 0);
}
END_TEST

START_TEST(test_not_yet_valid_refused)
{
	tokenmint_t t = spec();

	t.nbf = NOW + 300;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_nbf_one_second_beyond_leeway_refused)
{
	tokenmint_t t = spec();

	t.nbf = NOW + LEEWAY + 1;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_nbf_exactly_at_leeway_accepted)
{
	tokenmint_t t = spec();

	t.nbf = NOW + LEEWAY;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), 0);
}
END_TEST

START_TEST(test_iat_one_second_beyond_leeway_refused)
{
	tokenmint_t t = spec();

	t.iat = NOW + LEEWAY + 1;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
	t.iat = NOW + 3000;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_iat_exactly_at_leeway_accepted)
{
	tokenmint_t t = spec();

	t.iat = NOW + LEEWAY;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), 0);
}
END_TEST

START_TEST(test_lifetime_over_max_refused)
{
	tokenmint_t t = spec();

	t.exp = t.iat + MAX_LIFETIME + 1;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
	t.exp = t.iat + 86400;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_lifetime_exactly_max_accepted)
{
	tokenmint_t t = spec();

	t.exp = t.iat + MAX_LIFETIME;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), 0);
}
END_TEST

START_TEST(test_exp_equal_to_iat_refused)
{
	tokenmint_t t = spec();

	t.iat = t.exp = NOW;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_exp_before_iat_refused)
{
	tokenmint_t t = spec();

	t.iat = NOW + 10;
	t.exp = NOW + 5;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_exp_one_second_after_iat_accepted)
{
	tokenmint_t t = spec();

	t.iat = NOW;
	t.exp = NOW + 1;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), 0);
}
END_TEST

START_TEST(test_nbf_after_exp_refused)
{
	tokenmint_t t = spec();

	/* nbf within leeway of now, but after exp. */
	t.nbf = NOW + 20;
	t.exp = NOW + 10;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_zero_leeway_boundaries)
{
	static const token_rules_t strict = { "relay-1", 0, MAX_LIFETIME };
	tokenmint_t t = spec();
	char *tok;
	uint8_t *copy;

	t.iat = NOW - 120; /* so only nbf decides below */
	tok = mint(sk_a1, &t);
	copy = malloc(strlen(tok));
	token_claims_t *c = NULL;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, tok, strlen(tok));
	ck_assert_int_eq(token_verify(reg, &strict, &who, cnf, copy, strlen(tok), t.exp - 1, &c), 0);
	token_claims_free(&c);
	ck_assert_int_eq(token_verify(reg, &strict, &who, cnf, copy, strlen(tok), t.exp, &c),
			 REFUSED);
	ck_assert_ptr_null(c);
	ck_assert_int_eq(token_verify(reg, &strict, &who, cnf, copy, strlen(tok), t.nbf, &c), 0);
	token_claims_free(&c);
	ck_assert_int_eq(token_verify(reg, &strict, &who, cnf, copy, strlen(tok), t.nbf - 1, &c),
			 REFUSED);
	ck_assert_ptr_null(c);
	free(copy);
	free(tok);
}
END_TEST

START_TEST(test_times_with_offset_and_fraction_accepted)
{
	json_t *j = good_claims();
	token_claims_t *c = NULL;
	char *text;

	/* NOW - 60, NOW - 60 and NOW + 600, spelled differently. */
	with(j, "iat", json_string("2025-12-31T23:59:00.250Z"));
	with(j, "nbf", json_string("2025-12-31T18:29:00-05:30"));
	with(j, "exp", json_string("2026-01-01T01:10:00+01:00"));
	text = dump(j);
	ck_assert_int_eq(verify_raw(sk_a1, text, FOOTER_A1, &c), 0);
	ck_assert_int_eq(c->iat, NOW - 60);
	ck_assert_int_eq(c->nbf, NOW - 60);
	ck_assert_int_eq(c->exp, NOW + 600);
	free(text);
	token_claims_free(&c);
}
END_TEST

START_TEST(test_time_claim_not_rfc3339_refused)
{
	static const char *const names[] = { "iat", "nbf", "exp" };
	static const char *const bad[] = {
		"2026-01-01 00:00:00Z", "2026-01-01T00:00:00", "1767225600", "",
	};

	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		for (size_t k = 0; k < ARRAY_LEN(bad); k++)
			ck_assert_msg(verify_claims(with(good_claims(), names[i],
							 json_string(bad[k]))) == REFUSED,
				      "%s \"%s\" accepted", names[i], bad[k]);
}
END_TEST

/* ---- jti ----------------------------------------------------------------- */

START_TEST(test_revoked_jti_refused)
{
	tokenmint_t t = spec();

	t.jti = "jti-revoked";
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_jti_revocation_is_exact_match)
{
	tokenmint_t t = spec();

	t.jti = "jti-revoke";
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), 0);
	t.jti = "jti-revoked2";
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), 0);
}
END_TEST

START_TEST(test_jti_revoked_by_other_issuer_accepted)
{
	/* practice-a revoked "jti-revoked"; practice-b did not. */
	tokenmint_t t = spec();

	t.iss = "practice-b";
	t.dst = dst_b;
	t.ndst = 1;
	t.jti = "jti-revoked";
	ck_assert_int_eq(verify_spec(sk_b1, &t, NOW), 0);
}
END_TEST

START_TEST(test_jti_length_limit)
{
	char jti[TOKEN_MAX_JTI + 2];
	tokenmint_t t = spec();
	token_claims_t *c = NULL;

	memset(jti, 'j', sizeof(jti));
	jti[TOKEN_MAX_JTI] = '\0';
	t.jti = jti;
	c = claims_of(sk_a1, &t);
	ck_assert_str_eq(c->jti, jti);
	jti[TOKEN_MAX_JTI] = 'j';
	jti[TOKEN_MAX_JTI + 1] = '\0';
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
	token_claims_free(&c);
}
END_TEST

START_TEST(test_empty_jti_refused)
{
	tokenmint_t t = spec();

	t.jti = "";
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

/* ---- dst ----------------------------------------------------------------- */

START_TEST(test_dst_empty_refused)
{
	tokenmint_t t = spec();

	t.ndst = 0;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_dst_max_entries_accepted)
{
	char names[TOKEN_MAX_DST][32];
	const char *d[TOKEN_MAX_DST];
	tokenmint_t t = spec();
	token_claims_t *c = NULL;

	for (size_t i = 0; i < TOKEN_MAX_DST; i++) {
		snprintf(names[i], sizeof(names[i]), "practice-a/safe-%zu", i + 1);
		d[i] = names[i];
	}
	t.dst = d;
	t.ndst = TOKEN_MAX_DST;
	c = claims_of(sk_a1, &t);
	ck_assert_uint_eq(c->ndst, TOKEN_MAX_DST);
	for (size_t i = 0; i < TOKEN_MAX_DST; i++)
		ck_assert_str_eq(token_dst_endpoint(c, i), names[i] + strlen("practice-a/"));
	token_claims_free(&c);
}
END_TEST

/* The kept claims are packed into one allocation sized to them: the
 * longest of everything at once must come back whole, each destination
 * found by token_allows and its one-character variants not. */
START_TEST(test_dst_longest_ids_packed)
{
	char names[TOKEN_MAX_DST][WIRE_MAX_ADDR + 1], jti[TOKEN_MAX_JTI + 1];
	const char *d[TOKEN_MAX_DST];
	tokenmint_t t = spec();
	token_claims_t *c;

	for (size_t i = 0; i < TOKEN_MAX_DST; i++) {
		/* "practice-a/" then a 64-character endpoint id, unique in its
		 * last two characters. */
		int n = snprintf(names[i], sizeof(names[i]), "practice-a/%062u%02zu", 0u, i);
		ck_assert_int_eq(n, (int)strlen("practice-a/") + (int)WIRE_MAX_ID);
		d[i] = names[i];
	}
	memset(jti, 'j', TOKEN_MAX_JTI);
	jti[TOKEN_MAX_JTI] = '\0';
	t.dst = d;
	t.ndst = TOKEN_MAX_DST;
	t.jti = jti;
	c = claims_of(sk_a1, &t);
	ck_assert_str_eq(c->iss, "practice-a");
	ck_assert_str_eq(c->kid, "k1");
	ck_assert_str_eq(c->jti, jti);
	ck_assert_uint_eq(c->ndst, TOKEN_MAX_DST);
	for (size_t i = 0; i < TOKEN_MAX_DST; i++) {
		char shorter[WIRE_MAX_ADDR + 1];

		ck_assert_str_eq(token_dst_endpoint(c, i), names[i] + strlen("practice-a/"));
		ck_assert_int_eq(token_allows(c, (const uint8_t *)names[i], strlen(names[i])), 1);
		memcpy(shorter, names[i], sizeof(shorter));
		shorter[strlen(shorter) - 1] = 'x';
		ck_assert_int_eq(token_allows(c, (const uint8_t *)shorter, strlen(shorter)), 0);
		ck_assert_int_eq(token_allows(c, (const uint8_t *)names[i], strlen(names[i]) - 1),
				 0);
	}
	ck_assert_ptr_null(token_dst_endpoint(c, TOKEN_MAX_DST));
	token_claims_free(&c);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_dst_endpoint_id_over_max_refused)
{
	char name[WIRE_MAX_ADDR + 2];
	const char *d[1] = { name };
	tokenmint_t t = spec();

	snprintf(name, sizeof(name), "practice-a/%065u", 0u);
	t.dst = d;
	t.ndst = 1;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_dst_over_max_entries_refused)
{
	char names[TOKEN_MAX_DST + 1][32];
	const char *d[TOKEN_MAX_DST + 1];
	tokenmint_t t = spec();

	for (size_t i = 0; i < TOKEN_MAX_DST + 1; i++) {
		snprintf(names[i], sizeof(names[i]), "practice-a/safe-%zu", i + 1);
		d[i] = names[i];
	}
	t.dst = d;
	t.ndst = TOKEN_MAX_DST + 1;
	ck_assert_int_eq(verify_spec(sk_a1, &t, NOW), REFUSED);
}
END_TEST

START_TEST(test_dst_of_another_practice_refused)
{
	static const char *const others[] = {
		"practice-b/safe-1", "practice-ab/safe-1", "practice/safe-1", "practice-s/safe-1",
	};
	tokenmint_t t = spec();

	for (size_t i = 0; i < ARRAY_LEN(others); i++) {
		const char *d[2] = { "practice-a/safe-1", others[i] };

		t.dst = d;
		t.ndst = 2;
		ck_assert_msg(verify_spec(sk_a1, &t, NOW) == REFUSED, "dst \"%s\" accepted",
			      others[i]);
		t.dst = d + 1;
		t.ndst = 1;
		ck_assert_msg(verify_spec(sk_a1, &t, NOW) == REFUSED, "dst \"%s\" alone accepted",
			      others[i]);
	}
}
END_TEST

START_TEST(test_dst_malformed_address_refused)
{
	static const char *const bad[] = {
		"practice-a",         "practice-a/",         "/safe-1",
		"practice-a/Safe-1",  "practice-a/safe-1/x", "practice-a//safe-1",
		"practice-a/-safe-1", "practice-a/safe 1",   "",
	};
	tokenmint_t t = spec();

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		const char *d[2] = { "practice-a/safe-1", bad[i] };

		t.dst = d;
		t.ndst = 2;
		ck_assert_msg(verify_spec(sk_a1, &t, NOW) == REFUSED, "dst \"%s\" accepted", bad[i]);
	}
}
END_TEST

/* ---- claims shape (hand-signed) ------------------------------------------ */

START_TEST(test_hand_signed_good_claims_verify)
{
	ck_assert_int_eq(verify_claims(good_claims()), 0);
}
END_TEST

START_TEST(test_each_missing_claim_refused)
{
	static const char *const names[] = { "iss", "sub", "aud", "iat", "nbf",
					     "exp", "jti", "cnf", "dst" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		ck_assert_msg(verify_claims(without(good_claims(), names[i])) == REFUSED,
			      "claims without %s accepted", names[i]);
}
END_TEST

START_TEST(test_missing_claim_replaced_by_unknown_refused)
{
	/* Nine members, but not the nine known ones. */
	ck_assert_int_eq(verify_claims(with(without(good_claims(), "jti"), "jtx",
					    json_string("jti-1"))),
			 REFUSED);
}
END_TEST

START_TEST(test_extra_unknown_claim_refused)
{
	ck_assert_int_eq(verify_claims(with(good_claims(), "role", json_string("client"))), REFUSED);
	ck_assert_int_eq(verify_claims(with(good_claims(), "kid", json_string("k1"))), REFUSED);
}
END_TEST

START_TEST(test_claim_of_wrong_type_refused)
{
	static const char *const strings[] = { "iss", "sub", "aud", "iat", "nbf",
					       "exp", "jti", "cnf", "dst" };

	for (size_t i = 0; i < ARRAY_LEN(strings); i++) {
		ck_assert_msg(verify_claims(with(good_claims(), strings[i], json_integer(1))) ==
				      REFUSED,
			      "%s as a number accepted", strings[i]);
		ck_assert_msg(verify_claims(with(good_claims(), strings[i], json_null())) == REFUSED,
			      "%s as null accepted", strings[i]);
		ck_assert_msg(verify_claims(with(good_claims(), strings[i], json_true())) == REFUSED,
			      "%s as true accepted", strings[i]);
		ck_assert_msg(verify_claims(with(good_claims(), strings[i], json_object())) ==
				      REFUSED,
			      "%s as an object accepted", strings[i]);
	}
}
END_TEST

START_TEST(test_time_claim_as_unix_number_refused)
{
	ck_assert_int_eq(verify_claims(with(good_claims(), "exp", json_integer(NOW + 600))),
			 REFUSED);
}
END_TEST

START_TEST(test_string_claim_as_array_refused)
{
	ck_assert_int_eq(verify_claims(with(good_claims(), "sub", json_pack("[s]",
									  "practice-a/client-1"))),
			 REFUSED);
}
END_TEST

START_TEST(test_dst_as_string_refused)
{
	ck_assert_int_eq(verify_claims(with(good_claims(), "dst", json_string("practice-a/safe-1"))),
			 REFUSED);
}
END_TEST

START_TEST(test_dst_entry_not_string_refused)
{
	ck_assert_int_eq(verify_claims(with(good_claims(), "dst",
					    json_pack("[s, i]", "practice-a/safe-1", 7))),
			 REFUSED);
	ck_assert_int_eq(verify_claims(with(good_claims(), "dst",
					    json_pack("[s, [s]]", "practice-a/safe-1",
						      "practice-a/safe-2"))),
			 REFUSED);
}
END_TEST

START_TEST(test_claims_not_an_object_refused)
{
	ck_assert_int_eq(verify_raw(sk_a1, "[]", FOOTER_A1, NULL), REFUSED);
	ck_assert_int_eq(verify_raw(sk_a1, "\"claims\"", FOOTER_A1, NULL), REFUSED);
	ck_assert_int_eq(verify_raw(sk_a1, "{", FOOTER_A1, NULL), REFUSED);
	ck_assert_int_eq(verify_raw(sk_a1, "", FOOTER_A1, NULL), REFUSED);
}
END_TEST

START_TEST(test_duplicate_claim_key_refused)
{
	/* The same value twice, then a second, different audience. */
	char *same = prefixed_claims("{\"jti\":\"jti-1\",");
	char *other = prefixed_claims("{\"aud\":\"relay-2\",");

	ck_assert_int_eq(verify_raw(sk_a1, same, FOOTER_A1, NULL), REFUSED);
	ck_assert_int_eq(verify_raw(sk_a1, other, FOOTER_A1, NULL), REFUSED);
	free(same);
	free(other);
}
END_TEST

START_TEST(test_claims_after_trailing_json_refused)
{
	char *good = dump(good_claims());
	size_t n = strlen(good) + 3;
	char *text = malloc(n);

	ck_assert_ptr_nonnull(text);
	snprintf(text, n, "%s{}", good);
	ck_assert_int_eq(verify_raw(sk_a1, text, FOOTER_A1, NULL), REFUSED);
	free(text);
	free(good);
}
END_TEST

/* ---- footer -------------------------------------------------------------- */

START_TEST(test_footer_members_in_other_order_accepted)
{
	char *claims = dump(good_claims());

	ck_assert_int_eq(verify_raw(sk_a1, claims, "{\"kid\":\"k1\",\"iss\":\"practice-a\"}", NULL),
			 0);
	free(claims);
}
END_TEST

START_TEST(test_footer_iss_differs_from_claims_iss_refused)
{
	json_t *j = with(good_claims(), "iss", json_string("practice-b"));
	char *claims_b, *claims_a = dump(good_claims());

	/* Footer names practice-b (and its key signs); the claims say A. */
	ck_assert_int_eq(verify_raw(sk_b1, claims_a, "{\"iss\":\"practice-b\",\"kid\":\"k1\"}",
				    NULL),
			 REFUSED);
	/* Footer names practice-a (and its key signs); the claims say B. */
	with(j, "dst", string_array(dst_b, ARRAY_LEN(dst_b)));
	claims_b = dump(j);
	ck_assert_int_eq(verify_raw(sk_a1, claims_b, FOOTER_A1, NULL), REFUSED);
	/* The same claims under B's footer and key are fine. */
	ck_assert_int_eq(verify_raw(sk_b1, claims_b, "{\"iss\":\"practice-b\",\"kid\":\"k1\"}",
				    NULL),
			 0);
	free(claims_a);
	free(claims_b);
}
END_TEST

START_TEST(test_footer_with_extra_member_refused)
{
	char *claims = dump(good_claims());

	ck_assert_int_eq(verify_raw(sk_a1, claims,
				    "{\"iss\":\"practice-a\",\"kid\":\"k1\",\"typ\":\"at\"}", NULL),
			 REFUSED);
	free(claims);
}
END_TEST

START_TEST(test_footer_missing_member_refused)
{
	char *claims = dump(good_claims());

	ck_assert_int_eq(verify_raw(sk_a1, claims, "{\"iss\":\"practice-a\"}", NULL), REFUSED);
	ck_assert_int_eq(verify_raw(sk_a1, claims, "{\"kid\":\"k1\"}", NULL), REFUSED);
	ck_assert_int_eq(verify_raw(sk_a1, claims, "{\"iss\":\"practice-a\",\"kd\":\"k1\"}", NULL),
			 REFUSED);
	free(claims);
}
END_TEST

START_TEST(test_footer_duplicate_key_refused)
{
	char *claims = dump(good_claims());

	ck_assert_int_eq(verify_raw(sk_a1, claims,
				    "{\"iss\":\"practice-a\",\"kid\":\"k1\",\"kid\":\"k1\"}", NULL),
			 REFUSED);
	ck_assert_int_eq(verify_raw(sk_a1, claims,
				    "{\"iss\":\"practice-b\",\"iss\":\"practice-a\",\"kid\":\"k1\"}",
				    NULL),
			 REFUSED);
	free(claims);
}
END_TEST

START_TEST(test_footer_of_wrong_shape_refused)
{
	static const char *const bad[] = {
		"{\"iss\":1,\"kid\":\"k1\"}",
		"{\"iss\":\"practice-a\",\"kid\":null}",
		"{\"iss\":\"\",\"kid\":\"k1\"}",
		"{\"iss\":\"practice-a\",\"kid\":\"\"}",
		"{\"iss\":\"Practice-A\",\"kid\":\"k1\"}",
		"[\"practice-a\",\"k1\"]",
		"k1",
		"{\"iss\":\"practice-a\",\"kid\":\"k1\"",
	};
	char *claims = dump(good_claims());

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		ck_assert_msg(verify_raw(sk_a1, claims, bad[i], NULL) == REFUSED,
			      "footer %s accepted", bad[i]);
	free(claims);
}
END_TEST

START_TEST(test_no_footer_refused)
{
	char *claims = dump(good_claims());

	ck_assert_int_eq(verify_raw(sk_a1, claims, NULL, NULL), REFUSED);
	free(claims);
}
END_TEST

/* ---- token format ------------------------------------------------------- */

START_TEST(test_empty_token_refused)
{
	ck_assert_int_eq(verify_in(reg, "", 0, NOW, NULL), REFUSED);
	ck_assert_int_eq(verify_in(reg, "v4.public.", 0, NOW, NULL), REFUSED);
}
END_TEST

START_TEST(test_v4_local_token_refused)
{
	tokenmint_t t = spec();
	char *tok = mint(sk_a1, &t);
	size_t n = strlen(tok) + 1;
	char *local = malloc(n);

	ck_assert_ptr_nonnull(local);
	ck_assert(strncmp(tok, "v4.public.", 10) == 0);
	snprintf(local, n, "v4.local.%s", tok + 10);
	ck_assert_int_eq(verify_tok(local, NOW, NULL), REFUSED);
	snprintf(local, n, "v3.public.%s", tok + 10);
	ck_assert_int_eq(verify_tok(local, NOW, NULL), REFUSED);
	snprintf(local, n, "V4.public.%s", tok + 10);
	ck_assert_int_eq(verify_tok(local, NOW, NULL), REFUSED);
	free(local);
	free(tok);
}
END_TEST

START_TEST(test_garbage_refused)
{
	static const char *const bad[] = {
		"garbage",
		"v4.public.",
		"v4.public..",
		"v4.public.!!!!",
		"v4.public.AAAA.AAAA",
		"v4.public.AAAA.AAAA.AAAA.AAAA",
		"{\"iss\":\"practice-a\",\"kid\":\"k1\"}",
	};

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		ck_assert_msg(verify_tok(bad[i], NOW, NULL) == REFUSED, "\"%s\" accepted", bad[i]);
	ck_assert_int_eq(verify_in(reg, "\x00\x01\x02\x03", 4, NOW, NULL), REFUSED);
}
END_TEST

START_TEST(test_altered_token_refused)
{
	tokenmint_t t = spec();
	char *tok = mint(sk_a1, &t);
	size_t n = strlen(tok);
	char *body_end = strchr(tok + 10, '.');

	ck_assert_ptr_nonnull(body_end);
	/* Truncated, one byte longer, one body character changed. */
	ck_assert_int_eq(verify_in(reg, tok, n - 1, NOW, NULL), REFUSED);
	ck_assert_int_eq(verify_in(reg, tok, (size_t)(body_end - tok), NOW, NULL), REFUSED);
	tok[12] = tok[12] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(verify_tok(tok, NOW, NULL), REFUSED);
	free(tok);
}
END_TEST

/* ---- token_still_valid ----------------------------------------------------- */

/* A second registry like the fixture's, but practice-a as given. */
static registry_t *second_registry(int a_active, const test_key_t *a_keys, size_t na,
				   const char *a_revoked, char **d)
{
	test_key_t b[1] = { { "k1", sk_b1 } }, s[1] = { { "k1", sk_s1 } };

	*d = make_dir();
	if (a_keys)
		write_practice(*d, "practice-a", a_active, a_keys, na, a_revoked);
	write_practice(*d, "practice-b", 1, b, 1, NULL);
	write_practice(*d, "practice-s", 0, s, 1, NULL);
	return load_registry(*d);
}

START_TEST(test_still_valid_under_same_registry)
{
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);

	ck_assert_int_eq(token_still_valid(reg, c), 1);
	token_claims_free(&c);
}
END_TEST

START_TEST(test_still_valid_after_unrelated_changes)
{
	/* k2 removed, k3 added, another jti revoked: k1 and jti-1 untouched. */
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);
	test_key_t keys[2] = { { "k1", sk_a1 }, { "k3", sk_x } };
	char *d;
	registry_t *r2 = second_registry(1, keys, 2, "jti-other", &d);

	ck_assert_int_eq(token_still_valid(r2, c), 1);
	registry_free(r2);
	remove_dir(d);
	token_claims_free(&c);
}
END_TEST

START_TEST(test_not_still_valid_after_key_removed)
{
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);
	test_key_t keys[1] = { { "k2", sk_a2 } };
	char *d;
	registry_t *r2 = second_registry(1, keys, 1, "jti-revoked", &d);

	ck_assert_int_eq(token_still_valid(r2, c), 0);
	registry_free(r2);
	remove_dir(d);
	token_claims_free(&c);
}
END_TEST

START_TEST(test_not_still_valid_after_practice_suspended)
{
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);
	test_key_t keys[2] = { { "k1", sk_a1 }, { "k2", sk_a2 } };
	char *d;
	registry_t *r2 = second_registry(0, keys, 2, "jti-revoked", &d);

	ck_assert_int_eq(token_still_valid(r2, c), 0);
	registry_free(r2);
	remove_dir(d);
	token_claims_free(&c);
}
END_TEST

START_TEST(test_not_still_valid_after_jti_revoked)
{
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);
	test_key_t keys[2] = { { "k1", sk_a1 }, { "k2", sk_a2 } };
	char *d;
	registry_t *r2 = second_registry(1, keys, 2, "jti-1", &d);

	ck_assert_int_eq(token_still_valid(r2, c), 0);
	registry_free(r2);
	remove_dir(d);
	token_claims_free(&c);
}
END_TEST

START_TEST(test_not_still_valid_after_practice_removed)
{
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);
	char *d;
	registry_t *r2 = second_registry(1, NULL, 0, NULL, &d);

	ck_assert_ptr_null(registry_find(r2, "practice-a", strlen("practice-a")));
	ck_assert_int_eq(token_still_valid(r2, c), 0);
	registry_free(r2);
	remove_dir(d);
	token_claims_free(&c);
}
END_TEST

START_TEST(test_other_issuer_still_valid_after_practice_suspended)
{
	tokenmint_t t = spec();
	token_claims_t *c = NULL;
	test_key_t keys[2] = { { "k1", sk_a1 }, { "k2", sk_a2 } };
	char *d;
	registry_t *r2;

	t.iss = "practice-b";
	t.dst = dst_b;
	t.ndst = 1;
	c = claims_of(sk_b1, &t);
	r2 = second_registry(0, keys, 2, "jti-1", &d);
	ck_assert_int_eq(token_still_valid(r2, c), 1);
	registry_free(r2);
	remove_dir(d);
	token_claims_free(&c);
}
END_TEST

/* ---- token_allows --------------------------------------------------------- */

/* token_allows on an exact-length heap copy of len bytes of addr. */
static int allows_n(const token_claims_t *c, const char *addr, size_t len)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int r;

	ck_assert_ptr_nonnull(copy);
	if (len > 0)
		memcpy(copy, addr, len);
	r = token_allows(c, copy, len);
	free(copy);
	return r;
}

static int allows(const token_claims_t *c, const char *addr)
{
	return allows_n(c, addr, strlen(addr));
}

START_TEST(test_allows_listed_destinations)
{
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);

	ck_assert_int_eq(allows(c, "practice-a/safe-1"), 1);
	ck_assert_int_eq(allows(c, "practice-a/safe-2"), 1);
	token_claims_free(&c);
}
END_TEST

START_TEST(test_allows_refuses_prefix)
{
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);

	ck_assert_int_eq(allows(c, "practice-a/safe-"), 0);
	ck_assert_int_eq(allows(c, "practice-a/safe"), 0);
	ck_assert_int_eq(allows(c, "practice-a/"), 0);
	ck_assert_int_eq(allows(c, "practice-a"), 0);
	ck_assert_int_eq(allows_n(c, "practice-a/safe-1", 16), 0);
	ck_assert_int_eq(allows_n(c, "", 0), 0);
	token_claims_free(&c);
}
END_TEST

START_TEST(test_allows_refuses_longer)
{
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);

	ck_assert_int_eq(allows(c, "practice-a/safe-10"), 0);
	ck_assert_int_eq(allows(c, "practice-a/safe-1/"), 0);
	ck_assert_int_eq(allows(c, "practice-a/safe-1 "), 0);
	ck_assert_int_eq(allows_n(c, "practice-a/safe-1\0", 18), 0);
	token_claims_free(&c);
}
END_TEST

/* Every one of addrs is refused under the spec() token. */
static void assert_none_allowed(const char *const *addrs, size_t n)
{
	tokenmint_t t = spec();
	token_claims_t *c = claims_of(sk_a1, &t);

	for (size_t i = 0; i < n; i++)
		ck_assert_msg(allows(c, addrs[i]) == 0, "\"%s\" allowed", addrs[i]);
	token_claims_free(&c);
}

START_TEST(test_allows_refuses_other_practice_and_unlisted)
{
	static const char *const refused[] = {
		"practice-b/safe-1", "practice-ab/safe-1",  "practice-a/safe-3",
		"practice-a/client-1", "PRACTICE-A/SAFE-1",
	};

	assert_none_allowed(refused, ARRAY_LEN(refused));
}
END_TEST

/* Only the endpoint id of each destination is kept; the issuer and the
 * separator are checked on their own. */
START_TEST(test_allows_refuses_wrong_separator)
{
	static const char *const refused[] = {
		"practice-a_safe-1",  "practice-a.safe-1", "practice-asafe-1",
		"practice-a//safe-1", "/safe-1",           "safe-1",
	};

	assert_none_allowed(refused, ARRAY_LEN(refused));
}
END_TEST

START_TEST(test_allows_nothing_without_destinations)
{
	token_claims_t c;

	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(allows(&c, "practice-a/safe-1"), 0);
	ck_assert_int_eq(allows_n(&c, "", 0), 0);
}
END_TEST

/* ---- token_parse_time ------------------------------------------------------ */

/* Parses s, which must give want. */
static void assert_time(const char *s, int64_t want)
{
	int64_t got = -1;

	ck_assert_msg(token_parse_time(s, &got) == 0, "\"%s\" refused", s);
	ck_assert_msg(got == want, "\"%s\": %lld, want %lld", s, (long long)got, (long long)want);
}

/* s must be refused with -ZK_EMALFORMED and *out left alone. */
static void assert_bad_time(const char *s)
{
	int64_t got = 12345;

	ck_assert_msg(token_parse_time(s, &got) == -ZK_EMALFORMED, "\"%s\" accepted (%lld)", s,
		      (long long)got);
	ck_assert_int_eq(got, 12345);
}

START_TEST(test_parse_time_utc_z)
{
	assert_time("2026-01-01T00:00:00Z", NOW);
	assert_time("1970-01-01T00:00:00Z", 0);
	assert_time("2024-02-29T12:00:00Z", INT64_C(1709208000));
	assert_time("2026-01-31T23:59:59Z", NOW + 31 * 86400 - 1);
}
END_TEST

START_TEST(test_parse_time_lowercase_t_and_z)
{
	assert_time("2026-01-01T00:00:00z", NOW);
	assert_time("2026-01-01t00:00:00Z", NOW);
	assert_time("2026-01-01t00:00:00z", NOW);
}
END_TEST

START_TEST(test_parse_time_fraction_ignored)
{
	assert_time("2026-01-01T00:00:00.5Z", NOW);
	assert_time("2026-01-01T00:00:00.000Z", NOW);
	assert_time("2026-01-01T00:00:00.999999999Z", NOW);
	assert_time("2026-01-01T01:00:00.25+01:00", NOW);
}
END_TEST

START_TEST(test_parse_time_positive_offset)
{
	assert_time("2026-01-01T01:00:00+01:00", NOW);
	assert_time("2026-01-01T00:00:00+01:00", NOW - 3600);
	assert_time("2026-01-01T00:00:00+00:00", NOW);
	assert_time("2026-01-01T23:59:00+23:59", NOW);
}
END_TEST

START_TEST(test_parse_time_negative_offset)
{
	assert_time("2025-12-31T18:30:00-05:30", NOW);
	assert_time("2026-01-01T00:00:00-05:30", NOW + 5 * 3600 + 30 * 60);
	assert_time("2026-01-01T00:00:00-00:00", NOW);
}
END_TEST

START_TEST(test_parse_time_missing_seconds_refused)
{
	assert_bad_time("2026-01-01T00:00Z");
	assert_bad_time("2026-01-01T00:00+01:00");
	assert_bad_time("2026-01-01T00:00:0Z");
}
END_TEST

START_TEST(test_parse_time_bad_month_refused)
{
	assert_bad_time("2026-13-01T00:00:00Z");
	assert_bad_time("2026-00-01T00:00:00Z");
	assert_bad_time("2026-1-01T00:00:00Z");
}
END_TEST

START_TEST(test_parse_time_bad_day_refused)
{
	assert_bad_time("2026-01-32T00:00:00Z");
	assert_bad_time("2026-01-00T00:00:00Z");
}
END_TEST

START_TEST(test_parse_time_day_past_month_end_refused)
{
	/* RFC 3339 section 5.7: the day must exist in its month. */
	assert_bad_time("2026-02-30T00:00:00Z");
	assert_bad_time("2026-04-31T00:00:00Z");
	assert_bad_time("2025-02-29T00:00:00Z");
}
END_TEST

START_TEST(test_parse_time_bad_clock_refused)
{
	assert_bad_time("2026-01-01T24:00:00Z");
	assert_bad_time("2026-01-01T00:60:00Z");
	assert_bad_time("2026-01-01T00:00:61Z");
}
END_TEST

START_TEST(test_parse_time_bad_offset_refused)
{
	assert_bad_time("2026-01-01T00:00:00+24:00");
	assert_bad_time("2026-01-01T00:00:00+01:60");
	assert_bad_time("2026-01-01T00:00:00+0100");
	assert_bad_time("2026-01-01T00:00:00+01");
	assert_bad_time("2026-01-01T00:00:00+1:00");
	assert_bad_time("2026-01-01T00:00:00UTC");
}
END_TEST

START_TEST(test_parse_time_no_zone_refused)
{
	assert_bad_time("2026-01-01T00:00:00");
	assert_bad_time("2026-01-01T00:00:00.5");
	assert_bad_time("2026-01-01");
}
END_TEST

START_TEST(test_parse_time_trailing_text_refused)
{
	assert_bad_time("2026-01-01T00:00:00Zx");
	assert_bad_time("2026-01-01T00:00:00Z ");
	assert_bad_time("2026-01-01T00:00:00ZZ");
	assert_bad_time("2026-01-01T00:00:00+01:00x");
	assert_bad_time("2026-01-01T00:00:00+01:00Z");
}
END_TEST

START_TEST(test_parse_time_non_digits_refused)
{
	assert_bad_time("2O26-01-01T00:00:00Z");
	assert_bad_time("2026-0a-01T00:00:00Z");
	assert_bad_time("2026-01-01T0x:00:00Z");
	assert_bad_time("2026-01-01T00:00:+0Z");
	assert_bad_time("2026-01-01T00:00:00.xZ");
	assert_bad_time("2026-01-01T00:00:00.Z");
	assert_bad_time("2026-01-01T00:00:00+0a:00");
	assert_bad_time(" 2026-01-01T00:00:00Z");
	assert_bad_time("+2026-01-01T00:00:00Z");
}
END_TEST

START_TEST(test_parse_time_wrong_separators_refused)
{
	assert_bad_time("2026-01-01 00:00:00Z");
	assert_bad_time("2026/01/01T00:00:00Z");
	assert_bad_time("2026-01-01T00.00.00Z");
	assert_bad_time("20260101T000000Z");
}
END_TEST

START_TEST(test_parse_time_empty_refused)
{
	assert_bad_time("");
	assert_bad_time("Z");
}
END_TEST

Suite *token_suite(void)
{
	Suite *s = suite_create("token");
	TCase *good = tcase_create("good");
	TCase *issuer = tcase_create("issuer");
	TCase *holder = tcase_create("holder");
	TCase *times = tcase_create("times");
	TCase *jti = tcase_create("jti");
	TCase *dst = tcase_create("dst");
	TCase *shape = tcase_create("shape");
	TCase *footer = tcase_create("footer");
	TCase *format = tcase_create("format");
	TCase *still = tcase_create("still_valid");
	TCase *allow = tcase_create("allows");
	TCase *ptime = tcase_create("parse_time");
	TCase *with_registry[] = { good,  issuer, holder, times,  jti,   dst,
				   shape, footer, format, still, allow };

	for (size_t i = 0; i < ARRAY_LEN(with_registry); i++)
		tcase_add_checked_fixture(with_registry[i], setup, teardown);

	tcase_add_test(good, test_good_token_verifies_and_fills_claims);
	tcase_add_test(good, test_second_key_of_practice_verifies);
	tcase_add_test(good, test_other_practice_token_for_this_holder_verifies);
	tcase_add_test(good, test_no_registry_refused);

	tcase_add_test(issuer, test_unknown_practice_refused);
	tcase_add_test(issuer, test_suspended_practice_refused);
	tcase_add_test(issuer, test_unknown_kid_refused);
	tcase_add_test(issuer, test_signed_by_unregistered_key_refused);
	tcase_add_test(issuer, test_signed_by_other_kid_key_refused);
	tcase_add_test(issuer, test_signed_by_other_practice_key_refused);

	tcase_add_test(holder, test_wrong_aud_refused);
	tcase_add_test(holder, test_sub_of_another_endpoint_refused);
	tcase_add_test(holder, test_cnf_of_another_certificate_refused);
	tcase_add_test(holder, test_cnf_not_32_bytes_refused);

	tcase_add_test(times, test_expired_refused);
	tcase_add_test(times, test_expired_exactly_at_leeway_refused);
	tcase_add_test(times, test_expiry_one_second_inside_leeway_accepted);
	tcase_add_test(times, test_not_yet_valid_refused);
	tcase_add_test(times, test_nbf_one_second_beyond_leeway_refused);
	tcase_add_test(times, test_nbf_exactly_at_leeway_accepted);
	tcase_add_test(times, test_iat_one_second_beyond_leeway_refused);
	tcase_add_test(times, test_iat_exactly_at_leeway_accepted);
	tcase_add_test(times, test_lifetime_over_max_refused);
	tcase_add_test(times, test_lifetime_exactly_max_accepted);
	tcase_add_test(times, test_exp_equal_to_iat_refused);
	tcase_add_test(times, test_exp_before_iat_refused);
	tcase_add_test(times, test_exp_one_second_after_iat_accepted);
	tcase_add_test(times, test_nbf_after_exp_refused);
	tcase_add_test(times, test_zero_leeway_boundaries);
	tcase_add_test(times, test_times_with_offset_and_fraction_accepted);
	tcase_add_test(times, test_time_claim_not_rfc3339_refused);

	tcase_add_test(jti, test_revoked_jti_refused);
	tcase_add_test(jti, test_jti_revocation_is_exact_match);
	tcase_add_test(jti, test_jti_revoked_by_other_issuer_accepted);
	tcase_add_test(jti, test_jti_length_limit);
	tcase_add_test(jti, test_empty_jti_refused);

	tcase_add_test(dst, test_dst_empty_refused);
	tcase_add_test(dst, test_dst_max_entries_accepted);
	tcase_add_test(dst, test_dst_longest_ids_packed);
	tcase_add_test(dst, test_dst_endpoint_id_over_max_refused);
	tcase_add_test(dst, test_dst_over_max_entries_refused);
	tcase_add_test(dst, test_dst_of_another_practice_refused);
	tcase_add_test(dst, test_dst_malformed_address_refused);

	tcase_add_test(shape, test_hand_signed_good_claims_verify);
	tcase_add_test(shape, test_each_missing_claim_refused);
	tcase_add_test(shape, test_missing_claim_replaced_by_unknown_refused);
	tcase_add_test(shape, test_extra_unknown_claim_refused);
	tcase_add_test(shape, test_claim_of_wrong_type_refused);
	tcase_add_test(shape, test_time_claim_as_unix_number_refused);
	tcase_add_test(shape, test_string_claim_as_array_refused);
	tcase_add_test(shape, test_dst_as_string_refused);
	tcase_add_test(shape, test_dst_entry_not_string_refused);
	tcase_add_test(shape, test_claims_not_an_object_refused);
	tcase_add_test(shape, test_duplicate_claim_key_refused);
	tcase_add_test(shape, test_claims_after_trailing_json_refused);

	tcase_add_test(footer, test_footer_members_in_other_order_accepted);
	tcase_add_test(footer, test_footer_iss_differs_from_claims_iss_refused);
	tcase_add_test(footer, test_footer_with_extra_member_refused);
	tcase_add_test(footer, test_footer_missing_member_refused);
	tcase_add_test(footer, test_footer_duplicate_key_refused);
	tcase_add_test(footer, test_footer_of_wrong_shape_refused);
	tcase_add_test(footer, test_no_footer_refused);

	tcase_add_test(format, test_empty_token_refused);
	tcase_add_test(format, test_v4_local_token_refused);
	tcase_add_test(format, test_garbage_refused);
	tcase_add_test(format, test_altered_token_refused);

	tcase_add_test(still, test_still_valid_under_same_registry);
	tcase_add_test(still, test_still_valid_after_unrelated_changes);
	tcase_add_test(still, test_not_still_valid_after_key_removed);
	tcase_add_test(still, test_not_still_valid_after_practice_suspended);
	tcase_add_test(still, test_not_still_valid_after_jti_revoked);
	tcase_add_test(still, test_not_still_valid_after_practice_removed);
	tcase_add_test(still, test_other_issuer_still_valid_after_practice_suspended);

	tcase_add_test(allow, test_allows_listed_destinations);
	tcase_add_test(allow, test_allows_refuses_prefix);
	tcase_add_test(allow, test_allows_refuses_longer);
	tcase_add_test(allow, test_allows_refuses_other_practice_and_unlisted);
	tcase_add_test(allow, test_allows_refuses_wrong_separator);
	tcase_add_test(allow, test_allows_nothing_without_destinations);

	tcase_add_test(ptime, test_parse_time_utc_z);
	tcase_add_test(ptime, test_parse_time_lowercase_t_and_z);
	tcase_add_test(ptime, test_parse_time_fraction_ignored);
	tcase_add_test(ptime, test_parse_time_positive_offset);
	tcase_add_test(ptime, test_parse_time_negative_offset);
	tcase_add_test(ptime, test_parse_time_missing_seconds_refused);
	tcase_add_test(ptime, test_parse_time_bad_month_refused);
	tcase_add_test(ptime, test_parse_time_bad_day_refused);
	tcase_add_test(ptime, test_parse_time_day_past_month_end_refused);
	tcase_add_test(ptime, test_parse_time_bad_clock_refused);
	tcase_add_test(ptime, test_parse_time_bad_offset_refused);
	tcase_add_test(ptime, test_parse_time_no_zone_refused);
	tcase_add_test(ptime, test_parse_time_trailing_text_refused);
	tcase_add_test(ptime, test_parse_time_non_digits_refused);
	tcase_add_test(ptime, test_parse_time_wrong_separators_refused);
	tcase_add_test(ptime, test_parse_time_empty_refused);

	for (size_t i = 0; i < ARRAY_LEN(with_registry); i++)
		suite_add_tcase(s, with_registry[i]);
	suite_add_tcase(s, ptime);
	return s;
}
