/* paseto.c: the official PASETO v4 vectors, then one test per way a token
 * can be wrong.
 *
 * The vectors are read at run time from $ZK_VECTORS_DIR/paseto-v4.json
 * (default ../shared/vectors, relative to the repository root the tests
 * run from). Tokens are verified from heap copies of their exact length
 * without a NUL, so under ASan a read past the end is a crash.
 *
 * raw_token() builds tokens without paseto.c (its own PAE, OpenSSL
 * directly), so tests can make tokens the library would never sign: a
 * valid signature under another header, or a token over the size cap. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "paseto.h"
#include "suites.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define HDR "v4.public."
#define HDR_LEN (sizeof(HDR) - 1)
#define BAD (-ZK_ETOKEN)
#define ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static const uint8_t seed_a[PASETO_KEY_LEN] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
	0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
};
static const uint8_t seed_b[PASETO_KEY_LEN] = {
	0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f,
	0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00,
};

static const char claims[] = "{\"sub\":\"endpoint-7\",\"exp\":\"2030-01-01T00:00:00+00:00\"}";
static const char kid[] = "{\"kid\":\"k-1\"}";
static const char implicit[] = "{\"aud\":\"relay-1\"}";

/* ---- Helpers ---- */

static paseto_sk_t *sk_of(const uint8_t *seed)
{
	paseto_sk_t *sk = NULL;

	ck_assert_int_eq(paseto_sk_from_seed(seed, PASETO_KEY_LEN, &sk), 0);
	return sk;
}

static paseto_pk_t *pk_of(const uint8_t *seed)
{
	paseto_sk_t *sk = sk_of(seed);
	paseto_pk_t *pk = NULL;

	ck_assert_int_eq(paseto_pk_from_sk(sk, &pk), 0);
	paseto_sk_free(&sk);
	return pk;
}

static size_t slen(const char *s)
{
	return s != NULL ? strlen(s) : 0;
}

/* Signs with seed_a; NULL strings are empty pieces. */
static char *sign_str(const char *m, const char *f, const char *i)
{
	paseto_sk_t *sk = sk_of(seed_a);
	char *tok = NULL;

	ck_assert_int_eq(paseto_v4_sign(sk, (const uint8_t *)m, slen(m), (const uint8_t *)f, slen(f),
					(const uint8_t *)i, slen(i), &tok),
			 0);
	ck_assert_ptr_nonnull(tok);
	paseto_sk_free(&sk);
	return tok;
}

/* Verifies len bytes of tok from an exact heap copy; frees the outputs. */
static int verify_with(const paseto_pk_t *pk, const char *tok, size_t len, const char *i)
{
	char *c = malloc(len > 0 ? len : 1);
	uint8_t *m = NULL, *f = NULL;
	size_t mlen = 0, flen = 0;
	int rc;

	ck_assert_ptr_nonnull(c);
	if (len > 0)
		memcpy(c, tok, len);
	rc = paseto_v4_verify(pk, c, len, (const uint8_t *)i, slen(i), &m, &mlen, &f, &flen);
	free(c);
	if (rc == 0) {
		ck_assert_ptr_nonnull(m);
		ck_assert_ptr_nonnull(f);
	} else {
		ck_assert_ptr_null(m);
		ck_assert_ptr_null(f);
	}
	free(m);
	free(f);
	return rc;
}

/* With seed_a's public key. */
static int verify_a(const char *tok, size_t len, const char *i)
{
	paseto_pk_t *pk = pk_of(seed_a);
	int rc = verify_with(pk, tok, len, i);

	paseto_pk_free(&pk);
	return rc;
}

static int verify_a_str(const char *tok, const char *i)
{
	return verify_a(tok, strlen(tok), i);
}

static char *b64(const uint8_t *p, size_t n)
{
	size_t cap = b64url_encoded_len(n), len = 0;
	char *s = malloc(cap + 1);

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(b64url_encode(p, n, s, cap, &len), 0);
	s[len] = '\0';
	return s;
}

/* header + body [+ "." + foot]; foot is already encoded text. */
static char *join(const char *header, const char *body, const char *foot)
{
	size_t n = strlen(header) + strlen(body) + (foot != NULL ? strlen(foot) + 1 : 0) + 1;
	char *s = malloc(n);

	ck_assert_ptr_nonnull(s);
	snprintf(s, n, "%s%s%s%s", header, body, foot != NULL ? "." : "", foot != NULL ? foot : "");
	return s;
}

typedef struct {
	uint8_t *body; /* m || sig */
	size_t body_len;
	char *foot; /* encoded footer part, or NULL */
} split_t;

/* Takes a token apart (test side, no strictness needed: tokens are ours). */
static split_t split_tok(const char *tok)
{
	split_t s = { 0 };
	const char *b = tok + HDR_LEN;
	const char *dot = strchr(b, '.');
	size_t enc_len = dot != NULL ? (size_t)(dot - b) : strlen(b);

	ck_assert_mem_eq(tok, HDR, HDR_LEN);
	s.body = malloc(b64url_decoded_len(enc_len) + 1);
	ck_assert_ptr_nonnull(s.body);
	ck_assert_int_eq(b64url_decode(b, enc_len, s.body, b64url_decoded_len(enc_len), &s.body_len),
			 0);
	if (dot != NULL)
		s.foot = strdup(dot + 1);
	return s;
}

static char *rebuild(const split_t *s)
{
	char *body = b64(s->body, s->body_len);
	char *tok = join(HDR, body, s->foot);

	free(body);
	return tok;
}

static void split_free(split_t *s)
{
	free(s->body);
	free(s->foot);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	for (int k = 0; k < 8; k++)
		p[k] = (uint8_t)(v >> (8 * k));
}

/* PAE(header, m, f, i), signed by seed with OpenSSL, assembled as a
 * token under the same header: an independent token maker. */
static char *raw_token(const uint8_t *seed, const char *header, const uint8_t *m, size_t mlen,
		       const char *f, const char *i)
{
	const void *piece[4] = { header, m, f, i };
	size_t plen[4] = { strlen(header), mlen, slen(f), slen(i) };
	size_t total = 8, pos = 0, sig_len = PASETO_SIG_LEN;
	uint8_t *pae, *body;
	EVP_PKEY *pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, PASETO_KEY_LEN);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	ck_assert_ptr_nonnull(pkey);
	ck_assert_ptr_nonnull(ctx);
	for (int k = 0; k < 4; k++)
		total += 8 + plen[k];
	pae = malloc(total);
	body = malloc(mlen + PASETO_SIG_LEN);
	ck_assert_ptr_nonnull(pae);
	ck_assert_ptr_nonnull(body);
	put_le64(pae, 4);
	pos = 8;
	for (int k = 0; k < 4; k++) {
		put_le64(pae + pos, plen[k]);
		pos += 8;
		if (plen[k] > 0)
			memcpy(pae + pos, piece[k], plen[k]);
		pos += plen[k];
	}
	if (mlen > 0)
		memcpy(body, m, mlen);
	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, body + mlen, &sig_len, pae, total), 1);
	ck_assert_uint_eq(sig_len, PASETO_SIG_LEN);

	char *b = b64(body, mlen + PASETO_SIG_LEN);
	char *fe = slen(f) > 0 ? b64((const uint8_t *)f, strlen(f)) : NULL;
	char *tok = join(header, b, fe);

	free(b);
	free(fe);
	free(pae);
	free(body);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return tok;
}

/* ---- Official vectors ---- */

static uint8_t *hex(const char *s, size_t *len)
{
	size_t n = strlen(s);
	uint8_t *p = malloc(n / 2 + 1);

	ck_assert_uint_eq(n % 2, 0);
	ck_assert_ptr_nonnull(p);
	for (size_t k = 0; k < n / 2; k++) {
		unsigned v;

		ck_assert_int_eq(sscanf(s + 2 * k, "%2x", &v), 1);
		p[k] = (uint8_t)v;
	}
	*len = n / 2;
	return p;
}

static json_t *load_vectors(void)
{
	const char *dir = getenv("ZK_VECTORS_DIR");
	char path[4096];
	json_error_t err;
	json_t *root, *tests;

	snprintf(path, sizeof(path), "%s/paseto-v4.json", dir != NULL ? dir : "../shared/vectors");
	root = json_load_file(path, 0, &err);
	ck_assert_msg(root != NULL, "%s: %s (line %d)", path, err.text, err.line);
	tests = json_object_get(root, "tests");
	ck_assert_msg(json_is_array(tests), "%s: no tests array", path);
	ck_assert_uint_gt(json_array_size(tests), 0);
	return root;
}

static const char *field(const json_t *t, const char *key)
{
	const char *v = json_string_value(json_object_get(t, key));

	ck_assert_msg(v != NULL, "%s: no string %s",
		      json_string_value(json_object_get(t, "name")), key);
	return v;
}

/* Calls fn for every vector whose name starts with prefix; returns the
 * count. */
typedef void vector_fn(const json_t *t, const char *name);

static size_t each_vector(const char *prefix, vector_fn *fn)
{
	json_t *root = load_vectors();
	json_t *tests = json_object_get(root, "tests");
	size_t count = 0, k;
	json_t *t;

	json_array_foreach(tests, k, t) {
		const char *name = field(t, "name");

		if (strncmp(name, prefix, strlen(prefix)) != 0)
			continue;
		fn(t, name);
		count++;
	}
	json_decref(root);
	return count;
}

/* The public key of the v4.public vectors, for cases that carry none. */
static paseto_pk_t *vector_pk(const json_t *t)
{
	const char *h = json_string_value(json_object_get(t, "public-key"));
	static const char fallback[] =
		"1eb9dbbbbc047c03fd70604e0071f0987e16b28b757225c11f00415d0e20b1a2";
	paseto_pk_t *pk = NULL;
	size_t n;
	uint8_t *raw = hex(h != NULL ? h : fallback, &n);

	ck_assert_int_eq(paseto_pk_from_raw(raw, n, &pk), 0);
	free(raw);
	return pk;
}

static void sign_public_vector(const json_t *t, const char *name)
{
	const char *payload = field(t, "payload"), *f = field(t, "footer");
	const char *i = field(t, "implicit-assertion"), *want = field(t, "token");
	size_t seed_len, kp_len, pub_len;
	uint8_t *seed = hex(field(t, "secret-key-seed"), &seed_len);
	uint8_t *kp = hex(field(t, "secret-key"), &kp_len);
	uint8_t *pub = hex(field(t, "public-key"), &pub_len);
	paseto_sk_t *by_seed = NULL, *by_kp = NULL;
	paseto_pk_t *pk = NULL;
	uint8_t raw[PASETO_KEY_LEN];
	char *tok = NULL;

	ck_assert_int_eq(paseto_sk_from_seed(seed, seed_len, &by_seed), 0);
	ck_assert_int_eq(paseto_sk_from_keypair(kp, kp_len, &by_kp), 0);
	ck_assert_int_eq(paseto_pk_from_sk(by_seed, &pk), 0);
	ck_assert_int_eq(paseto_pk_to_raw(pk, raw, sizeof(raw)), 0);
	ck_assert_uint_eq(pub_len, PASETO_KEY_LEN);
	ck_assert_mem_eq(raw, pub, PASETO_KEY_LEN);

	ck_assert_int_eq(paseto_v4_sign(by_seed, (const uint8_t *)payload, strlen(payload),
					(const uint8_t *)f, strlen(f), (const uint8_t *)i, strlen(i), &tok),
			 0);
	ck_assert_msg(strcmp(tok, want) == 0, "%s:\n got  %s\n want %s", name, tok, want);
	free(tok);
	tok = NULL;
	ck_assert_int_eq(paseto_v4_sign(by_kp, (const uint8_t *)payload, strlen(payload),
					(const uint8_t *)f, strlen(f), (const uint8_t *)i, strlen(i), &tok),
			 0);
	ck_assert_msg(strcmp(tok, want) == 0, "%s (64-byte key): got %s", name, tok);
	free(tok);
	paseto_sk_free(&by_seed);
	paseto_sk_free(&by_kp);
	paseto_pk_free(&pk);
	free(seed);
	free(kp);
	free(pub);
}

static void verify_public_vector(const json_t *t, const char *name)
{
	const char *payload = field(t, "payload"), *want_f = field(t, "footer");
	const char *i = field(t, "implicit-assertion"), *tok = field(t, "token");
	paseto_pk_t *pk = vector_pk(t);
	uint8_t *m = NULL, *f = NULL, fbuf[256];
	size_t mlen = 0, flen = 0;

	ck_assert_msg(paseto_v4_verify(pk, tok, strlen(tok), (const uint8_t *)i, strlen(i), &m, &mlen,
				       &f, &flen) == 0,
		      "%s refused", name);
	ck_assert_uint_eq(mlen, strlen(payload));
	ck_assert_mem_eq(m, payload, mlen);
	ck_assert_uint_eq(flen, strlen(want_f));
	ck_assert_mem_eq(f, want_f, flen);
	ck_assert_int_eq(paseto_v4_footer(tok, strlen(tok), fbuf, sizeof(fbuf), &flen), 0);
	ck_assert_uint_eq(flen, strlen(want_f));
	ck_assert_mem_eq(fbuf, want_f, flen);
	/* The same token without its implicit assertion, or with one added. */
	ck_assert_int_eq(verify_with(pk, tok, strlen(tok), strlen(i) > 0 ? NULL : "x"), BAD);
	free(m);
	free(f);
	paseto_pk_free(&pk);
}

static void fail_vector(const json_t *t, const char *name)
{
	const char *i = field(t, "implicit-assertion"), *tok = field(t, "token");
	paseto_pk_t *pk = vector_pk(t);

	ck_assert_msg(json_is_true(json_object_get(t, "expect-fail")), "%s", name);
	ck_assert_msg(verify_with(pk, tok, strlen(tok), i) == BAD, "%s accepted", name);
	paseto_pk_free(&pk);
}

/* v4.local tokens: this module has no local keys, and the public verifier
 * refuses the header whatever the key. */
static void local_vector(const json_t *t, const char *name)
{
	const char *i = field(t, "implicit-assertion"), *tok = field(t, "token");
	paseto_pk_t *pk = vector_pk(t);
	uint8_t fbuf[256];
	size_t flen = 0;

	ck_assert_mem_eq(tok, "v4.local.", 9);
	ck_assert_msg(verify_with(pk, tok, strlen(tok), i) == BAD, "%s accepted", name);
	ck_assert_int_eq(paseto_v4_footer(tok, strlen(tok), fbuf, sizeof(fbuf), &flen), BAD);
	paseto_pk_free(&pk);
}

START_TEST(test_vectors_sign)
{
	ck_assert_uint_gt(each_vector("4-S-", sign_public_vector), 0);
}
END_TEST

START_TEST(test_vectors_verify)
{
	ck_assert_uint_gt(each_vector("4-S-", verify_public_vector), 0);
}
END_TEST

START_TEST(test_vectors_expect_fail)
{
	ck_assert_uint_gt(each_vector("4-F-", fail_vector), 0);
}
END_TEST

START_TEST(test_vectors_local_refused)
{
	ck_assert_uint_gt(each_vector("4-E-", local_vector), 0);
}
END_TEST

static void count_vector(const json_t *t, const char *name)
{
	(void)t;
	(void)name;
}

/* A vector of a kind the tests above do not know would be skipped in
 * silence; every vector must belong to one of them. */
START_TEST(test_vectors_all_covered)
{
	json_t *root = load_vectors();
	size_t all = json_array_size(json_object_get(root, "tests"));

	json_decref(root);
	ck_assert_uint_eq(each_vector("4-S-", count_vector) + each_vector("4-F-", count_vector) +
				  each_vector("4-E-", count_vector),
			  all);
}
END_TEST

/* ---- Round trips ---- */

START_TEST(test_round_trip)
{
	char *tok = sign_str(claims, kid, implicit);
	paseto_pk_t *pk = pk_of(seed_a);
	uint8_t *m = NULL, *f = NULL;
	size_t mlen = 0, flen = 0;

	ck_assert_int_eq(paseto_v4_verify(pk, tok, strlen(tok), (const uint8_t *)implicit,
					  strlen(implicit), &m, &mlen, &f, &flen),
			 0);
	ck_assert_uint_eq(mlen, strlen(claims));
	ck_assert_mem_eq(m, claims, mlen);
	ck_assert_uint_eq(flen, strlen(kid));
	ck_assert_mem_eq(f, kid, flen);
	/* Each output is followed by a NUL not counted in its length. */
	ck_assert_uint_eq(m[mlen], 0);
	ck_assert_uint_eq(f[flen], 0);
	free(m);
	free(f);
	paseto_pk_free(&pk);
	free(tok);
}
END_TEST

/* Empty payload, footer and implicit assertion: the body is the bare
 * 64-byte signature and the token has no footer part. */
START_TEST(test_round_trip_empty)
{
	char *tok = sign_str(NULL, NULL, NULL);

	ck_assert_uint_eq(strlen(tok), HDR_LEN + b64url_encoded_len(PASETO_SIG_LEN));
	ck_assert_ptr_null(strchr(tok + HDR_LEN, '.'));
	ck_assert_int_eq(verify_a_str(tok, NULL), 0);
	free(tok);
}
END_TEST

/* The token maker here and paseto.c agree byte for byte. */
START_TEST(test_sign_matches_independent_pae)
{
	char *tok = sign_str(claims, kid, implicit);
	char *raw = raw_token(seed_a, HDR, (const uint8_t *)claims, strlen(claims), kid, implicit);

	ck_assert_str_eq(tok, raw);
	free(tok);
	free(raw);
}
END_TEST

/* Payloads are bytes, not strings. */
START_TEST(test_binary_payload)
{
	static const uint8_t bin[] = { 0x00, 0xff, 0x00, 0x80, 0x2e, 0x3d };
	paseto_sk_t *sk = sk_of(seed_a);
	paseto_pk_t *pk = pk_of(seed_a);
	uint8_t *m = NULL, *f = NULL;
	size_t mlen = 0, flen = 0;
	char *tok = NULL;

	ck_assert_int_eq(paseto_v4_sign(sk, bin, sizeof(bin), bin, sizeof(bin), bin, sizeof(bin), &tok),
			 0);
	ck_assert_int_eq(paseto_v4_verify(pk, tok, strlen(tok), bin, sizeof(bin), &m, &mlen, &f, &flen),
			 0);
	ck_assert_uint_eq(mlen, sizeof(bin));
	ck_assert_mem_eq(m, bin, mlen);
	ck_assert_uint_eq(flen, sizeof(bin));
	ck_assert_mem_eq(f, bin, flen);
	free(m);
	free(f);
	free(tok);
	paseto_sk_free(&sk);
	paseto_pk_free(&pk);
}
END_TEST

/* ---- Tampering ---- */

START_TEST(test_flipped_signature_bit)
{
	char *tok = sign_str(claims, kid, implicit);
	split_t s = split_tok(tok);
	size_t mlen = s.body_len - PASETO_SIG_LEN;

	for (size_t bit = 0; bit < 8 * PASETO_SIG_LEN; bit++) {
		s.body[mlen + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		char *bad = rebuild(&s);

		ck_assert_msg(verify_a_str(bad, implicit) == BAD, "signature bit %zu", bit);
		free(bad);
		s.body[mlen + bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	char *same = rebuild(&s);

	ck_assert_int_eq(verify_a_str(same, implicit), 0);
	free(same);
	split_free(&s);
	free(tok);
}
END_TEST

START_TEST(test_flipped_message_bit)
{
	char *tok = sign_str(claims, kid, implicit);
	split_t s = split_tok(tok);
	size_t mlen = s.body_len - PASETO_SIG_LEN;

	ck_assert_uint_eq(mlen, strlen(claims));
	for (size_t bit = 0; bit < 8 * mlen; bit++) {
		s.body[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		char *bad = rebuild(&s);

		ck_assert_msg(verify_a_str(bad, implicit) == BAD, "message bit %zu", bit);
		free(bad);
		s.body[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	split_free(&s);
	free(tok);
}
END_TEST

START_TEST(test_other_key)
{
	char *tok = sign_str(claims, kid, implicit);
	paseto_pk_t *pk = pk_of(seed_b);

	ck_assert_int_eq(verify_with(pk, tok, strlen(tok), implicit), BAD);
	paseto_pk_free(&pk);
	free(tok);
}
END_TEST

START_TEST(test_padding_appended)
{
	char *plain = sign_str(claims, NULL, NULL);
	char *footed = sign_str(claims, kid, NULL);
	static const char *const pads[] = { "=", "==", "===" };

	for (size_t k = 0; k < ARRAY_LEN(pads); k++) {
		char *a = join(plain, pads[k], NULL);
		char *b = join(footed, pads[k], NULL);

		ck_assert_msg(verify_a_str(a, NULL) == BAD, "body%s", pads[k]);
		ck_assert_msg(verify_a_str(b, NULL) == BAD, "footer%s", pads[k]);
		free(a);
		free(b);
	}
	free(plain);
	free(footed);
}
END_TEST

START_TEST(test_truncated)
{
	char *tok = sign_str(claims, kid, implicit);
	size_t len = strlen(tok);

	for (size_t n = 0; n < len; n++)
		ck_assert_msg(verify_a(tok, n, implicit) == BAD, "prefix %zu of %zu", n, len);
	ck_assert_int_eq(verify_a(tok, len, implicit), 0);
	free(tok);
}
END_TEST

START_TEST(test_extra_char)
{
	char *plain = sign_str(claims, NULL, implicit);
	char *footed = sign_str(claims, kid, implicit);

	for (size_t k = 0; k < sizeof(ALPHABET) - 1; k++) {
		char extra[2] = { ALPHABET[k], '\0' };
		char *a = join(plain, extra, NULL);
		char *b = join(footed, extra, NULL);

		ck_assert_msg(verify_a_str(a, implicit) == BAD, "body + %c", ALPHABET[k]);
		ck_assert_msg(verify_a_str(b, implicit) == BAD, "footer + %c", ALPHABET[k]);
		free(a);
		free(b);
	}
	free(plain);
	free(footed);
}
END_TEST

/* One more byte after the signature, or before the message. */
START_TEST(test_extra_byte)
{
	char *tok = sign_str(claims, kid, implicit);
	split_t s = split_tok(tok);
	uint8_t *longer = malloc(s.body_len + 1);

	ck_assert_ptr_nonnull(longer);
	for (int where = 0; where < 2; where++) {
		split_t t = s;

		if (where == 0) {
			memcpy(longer, s.body, s.body_len);
			longer[s.body_len] = 0;
		} else {
			longer[0] = '{';
			memcpy(longer + 1, s.body, s.body_len);
		}
		t.body = longer;
		t.body_len = s.body_len + 1;
		char *bad = rebuild(&t);

		ck_assert_msg(verify_a_str(bad, implicit) == BAD, "extra byte %s",
			      where == 0 ? "after" : "before");
		free(bad);
	}
	free(longer);
	split_free(&s);
	free(tok);
}
END_TEST

/* The footer is signed: changing, dropping or adding one breaks it. */
START_TEST(test_wrong_footer)
{
	char *tok = sign_str(claims, kid, implicit);
	char *plain = sign_str(claims, NULL, implicit);
	split_t s = split_tok(tok), p = split_tok(plain);
	char *other = b64((const uint8_t *)"{\"kid\":\"k2\"}", 12);

	free(s.foot);
	s.foot = other;
	char *changed = rebuild(&s);

	free(s.foot);
	s.foot = NULL;
	char *dropped = rebuild(&s);

	p.foot = b64((const uint8_t *)kid, strlen(kid));
	char *added = rebuild(&p);

	ck_assert_int_eq(verify_a_str(changed, implicit), BAD);
	ck_assert_int_eq(verify_a_str(dropped, implicit), BAD);
	ck_assert_int_eq(verify_a_str(added, implicit), BAD);
	free(changed);
	free(dropped);
	free(added);
	split_free(&s);
	split_free(&p);
	free(tok);
	free(plain);
}
END_TEST

START_TEST(test_wrong_implicit)
{
	char *with = sign_str(claims, kid, implicit);
	char *without = sign_str(claims, kid, NULL);

	ck_assert_int_eq(verify_a_str(with, "{\"aud\":\"relay-2\"}"), BAD);
	ck_assert_int_eq(verify_a_str(with, NULL), BAD);
	ck_assert_int_eq(verify_a_str(without, implicit), BAD);
	ck_assert_int_eq(verify_a_str(with, implicit), 0);
	ck_assert_int_eq(verify_a_str(without, NULL), 0);
	free(with);
	free(without);
}
END_TEST

/* ---- Header ---- */

static const char *const wrong_headers[] = {
	"v4.local.", "v3.public.", "V4.public.", "v2.public.", "v1.public.", "v4.Public.",
	"v4.PUBLIC.", "v4.secret.", "v5.public.", " v4.public.", "v4.public..", "v4public.",
	"v4-public.", "v4.publi.", "",
};

/* A v4.public token with its header replaced. */
START_TEST(test_header_replaced)
{
	char *tok = sign_str(claims, kid, NULL);
	char *bad = join(wrong_headers[_i], tok + HDR_LEN, NULL);

	ck_assert_msg(verify_a_str(bad, NULL) == BAD, "header [%s]", wrong_headers[_i]);
	free(bad);
	free(tok);
}
END_TEST

/* A token whose signature is valid for its own header is still refused:
 * the token never chooses the version or purpose. */
START_TEST(test_header_validly_signed)
{
	char *bad = raw_token(seed_a, wrong_headers[_i], (const uint8_t *)claims, strlen(claims), kid,
			      NULL);

	ck_assert_msg(verify_a_str(bad, NULL) == BAD, "header [%s]", wrong_headers[_i]);
	free(bad);
}
END_TEST

/* Signed over PAE("v4.local.", ...) but sent as v4.public. */
START_TEST(test_header_swapped_after_signing)
{
	char *local = raw_token(seed_a, "v4.local.", (const uint8_t *)claims, strlen(claims), kid,
				NULL);
	char *bad = join(HDR, local + strlen("v4.local."), NULL);

	ck_assert_int_eq(verify_a_str(bad, NULL), BAD);
	free(local);
	free(bad);
}
END_TEST

/* ---- Shape ---- */

START_TEST(test_trailing_dot)
{
	char *plain = sign_str(claims, NULL, NULL);
	char *footed = sign_str(claims, kid, NULL);
	char *a = join(plain, ".", NULL);
	char *b = join(footed, ".", NULL);

	ck_assert_int_eq(verify_a_str(a, NULL), BAD);
	ck_assert_int_eq(verify_a_str(b, NULL), BAD);
	free(a);
	free(b);
	free(plain);
	free(footed);
}
END_TEST

START_TEST(test_too_many_parts)
{
	char *footed = sign_str(claims, kid, NULL);
	char *plain = sign_str(claims, NULL, NULL);
	split_t s = split_tok(footed);
	char *body = b64(s.body, s.body_len);
	char *five = join(footed, ".e30", NULL);
	char *mid = join(HDR, body, NULL);
	char *dots = join(mid, "..e30", NULL);
	char *dots2 = join(plain, "..", NULL);

	ck_assert_int_eq(verify_a_str(five, NULL), BAD);
	ck_assert_int_eq(verify_a_str(dots, NULL), BAD);
	ck_assert_int_eq(verify_a_str(dots2, NULL), BAD);
	free(five);
	free(mid);
	free(dots);
	free(dots2);
	free(body);
	split_free(&s);
	free(footed);
	free(plain);
}
END_TEST

START_TEST(test_empty_body)
{
	ck_assert_int_eq(verify_a_str("v4.public.", NULL), BAD);
	ck_assert_int_eq(verify_a_str("v4.public..e30", NULL), BAD);
	ck_assert_int_eq(verify_a_str("v4.public", NULL), BAD);
}
END_TEST

/* Fewer than 64 bytes cannot hold a signature, whatever they are. */
START_TEST(test_short_body)
{
	uint8_t body[PASETO_SIG_LEN];

	memset(body, 0x41, sizeof(body));
	for (size_t n = 1; n < PASETO_SIG_LEN; n++) {
		char *enc = b64(body, n);
		char *tok = join(HDR, enc, NULL);

		ck_assert_msg(verify_a_str(tok, NULL) == BAD, "%zu bytes", n);
		free(enc);
		free(tok);
	}
}
END_TEST

/* Replaces the last character of a part by one that decodes to the same
 * bytes with a stray low bit set. */
static void set_low_bit(char *last)
{
	const char *hit = strchr(ALPHABET, *last);

	ck_assert_ptr_nonnull(hit);
	ck_assert_uint_eq((size_t)(hit - ALPHABET) & 1, 0);
	*last = ALPHABET[(hit - ALPHABET) | 1];
}

START_TEST(test_noncanonical_body_char)
{
	char *tok = sign_str(claims, NULL, NULL);

	/* The body's length is not a multiple of 3, so its last character
	 * has spare bits. */
	ck_assert_uint_ne((strlen(claims) + PASETO_SIG_LEN) % 3, 0);
	ck_assert_int_eq(verify_a_str(tok, NULL), 0);
	set_low_bit(&tok[strlen(tok) - 1]);
	ck_assert_int_eq(verify_a_str(tok, NULL), BAD);
	free(tok);
}
END_TEST

START_TEST(test_noncanonical_footer_char)
{
	char *tok = sign_str(claims, kid, NULL);
	size_t flen = strlen(kid);

	ck_assert_uint_ne(flen % 3, 0);
	ck_assert_int_eq(verify_a_str(tok, NULL), 0);
	set_low_bit(&tok[strlen(tok) - 1]);
	ck_assert_int_eq(verify_a_str(tok, NULL), BAD);
	free(tok);
}
END_TEST

START_TEST(test_nul_inside_token)
{
	char *tok = sign_str(claims, kid, NULL);
	size_t len = strlen(tok);

	for (size_t at = 0; at < len; at += 7) {
		char saved = tok[at];

		tok[at] = '\0';
		ck_assert_msg(verify_a(tok, len, NULL) == BAD, "NUL at %zu", at);
		tok[at] = saved;
	}
	free(tok);
}
END_TEST

/* 3000 bytes of payload make a token of exactly PASETO_MAX_TOKEN
 * characters, 3001 one more: the first passes, the second is refused
 * although its signature is valid. */
START_TEST(test_oversized_token)
{
	uint8_t *m = malloc(3001);

	ck_assert_ptr_nonnull(m);
	memset(m, 'x', 3001);
	char *fits = raw_token(seed_a, HDR, m, 3000, NULL, NULL);
	char *over = raw_token(seed_a, HDR, m, 3001, NULL, NULL);

	ck_assert_uint_eq(strlen(fits), PASETO_MAX_TOKEN);
	ck_assert_uint_eq(strlen(over), PASETO_MAX_TOKEN + 1);
	ck_assert_int_eq(verify_a_str(fits, NULL), 0);
	ck_assert_int_eq(verify_a_str(over, NULL), BAD);
	free(fits);
	free(over);
	free(m);
}
END_TEST

/* The signer never makes a token the verifier would refuse for size. */
START_TEST(test_sign_refuses_oversized)
{
	paseto_sk_t *sk = sk_of(seed_a);
	uint8_t *m = malloc(PASETO_MAX_TOKEN + 1);
	char *tok = NULL;

	ck_assert_ptr_nonnull(m);
	memset(m, 'x', PASETO_MAX_TOKEN + 1);
	ck_assert_int_eq(paseto_v4_sign(sk, m, 3000, NULL, 0, NULL, 0, &tok), 0);
	ck_assert_uint_eq(strlen(tok), PASETO_MAX_TOKEN);
	free(tok);
	tok = NULL;
	ck_assert_int_eq(paseto_v4_sign(sk, m, 3001, NULL, 0, NULL, 0, &tok), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_sign(sk, m, 2000, m, 1000, NULL, 0, &tok), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_sign(sk, m, PASETO_MAX_TOKEN + 1, NULL, 0, NULL, 0, &tok),
			 -ZK_EINVAL);
	ck_assert_ptr_null(tok);
	free(m);
	paseto_sk_free(&sk);
}
END_TEST

START_TEST(test_outputs_untouched_on_failure)
{
	char *tok = sign_str(claims, kid, implicit);
	paseto_pk_t *pk = pk_of(seed_a);
	uint8_t *m = (uint8_t *)0x1, *f = (uint8_t *)0x2;
	size_t mlen = 3, flen = 4;

	ck_assert_int_eq(paseto_v4_verify(pk, tok, strlen(tok), NULL, 0, &m, &mlen, &f, &flen), BAD);
	ck_assert_ptr_eq(m, (uint8_t *)0x1);
	ck_assert_ptr_eq(f, (uint8_t *)0x2);
	ck_assert_uint_eq(mlen, 3);
	ck_assert_uint_eq(flen, 4);
	paseto_pk_free(&pk);
	free(tok);
}
END_TEST

/* ---- Footer without verification ---- */

START_TEST(test_footer_unverified)
{
	char *tok = sign_str(claims, kid, implicit);
	char *plain = sign_str(claims, NULL, NULL);
	split_t s = split_tok(tok);
	uint8_t out[64];
	size_t n = 0;

	/* Read even though the signature is broken: selecting the key comes
	 * before verifying. */
	s.body[0] ^= 1;
	char *bad = rebuild(&s);

	ck_assert_int_eq(paseto_v4_footer(bad, strlen(bad), out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, strlen(kid));
	ck_assert_mem_eq(out, kid, n);
	n = 99;
	ck_assert_int_eq(paseto_v4_footer(plain, strlen(plain), out, sizeof(out), &n), 0);
	ck_assert_uint_eq(n, 0);
	n = 99;
	ck_assert_int_eq(paseto_v4_footer(plain, strlen(plain), NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(bad);
	split_free(&s);
	free(tok);
	free(plain);
}
END_TEST

START_TEST(test_footer_refusals)
{
	char *tok = sign_str(claims, kid, NULL);
	size_t len = strlen(tok);
	uint8_t out[64];
	size_t n = 77;
	char *padded = join(tok, "=", NULL);
	char *dot = join(tok, ".", NULL);
	char *five = join(tok, ".e30", NULL);
	char *local = join("v4.local.", tok + HDR_LEN, NULL);
	char *junk = join(tok, "!", NULL);

	ck_assert_int_eq(paseto_v4_footer(padded, strlen(padded), out, sizeof(out), &n), BAD);
	ck_assert_int_eq(paseto_v4_footer(dot, strlen(dot), out, sizeof(out), &n), BAD);
	ck_assert_int_eq(paseto_v4_footer(five, strlen(five), out, sizeof(out), &n), BAD);
	ck_assert_int_eq(paseto_v4_footer(local, strlen(local), out, sizeof(out), &n), BAD);
	ck_assert_int_eq(paseto_v4_footer(junk, strlen(junk), out, sizeof(out), &n), BAD);
	/* The length cap is checked before a byte is read. */
	ck_assert_int_eq(paseto_v4_footer(tok, PASETO_MAX_TOKEN + 1, out, sizeof(out), &n), BAD);
	ck_assert_int_eq(paseto_v4_footer("v4.public..e30", 14, out, sizeof(out), &n), BAD);
	ck_assert_int_eq(paseto_v4_footer(tok, len, out, strlen(kid) - 1, &n), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_footer(NULL, len, out, sizeof(out), &n), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_footer(tok, len, out, sizeof(out), NULL), -ZK_EINVAL);
	ck_assert_uint_eq(n, 77);
	free(padded);
	free(dot);
	free(five);
	free(local);
	free(junk);
	free(tok);
}
END_TEST

/* ---- Keys ---- */

START_TEST(test_key_constructors)
{
	paseto_sk_t *sk = NULL, *gen = NULL;
	paseto_pk_t *pk = NULL;
	uint8_t raw[PASETO_KEY_LEN], pair[2 * PASETO_KEY_LEN];

	ck_assert_int_eq(paseto_pk_from_raw(seed_a, PASETO_KEY_LEN - 1, &pk), -ZK_EINVAL);
	ck_assert_int_eq(paseto_pk_from_raw(seed_a, PASETO_KEY_LEN + 1, &pk), -ZK_EINVAL);
	ck_assert_int_eq(paseto_pk_from_raw(NULL, PASETO_KEY_LEN, &pk), -ZK_EINVAL);
	ck_assert_int_eq(paseto_sk_from_seed(seed_a, PASETO_KEY_LEN - 1, &sk), -ZK_EINVAL);
	ck_assert_int_eq(paseto_sk_from_seed(seed_a, 2 * PASETO_KEY_LEN, &sk), -ZK_EINVAL);
	ck_assert_int_eq(paseto_sk_from_keypair(seed_a, PASETO_KEY_LEN, &sk), -ZK_EINVAL);
	ck_assert_ptr_null(pk);
	ck_assert_ptr_null(sk);

	/* A 64-byte key whose public half belongs to another seed. */
	pk = pk_of(seed_b);
	ck_assert_int_eq(paseto_pk_to_raw(pk, raw, sizeof(raw) - 1), -ZK_EINVAL);
	ck_assert_int_eq(paseto_pk_to_raw(pk, raw, sizeof(raw)), 0);
	paseto_pk_free(&pk);
	memcpy(pair, seed_a, PASETO_KEY_LEN);
	memcpy(pair + PASETO_KEY_LEN, raw, PASETO_KEY_LEN);
	ck_assert_int_eq(paseto_sk_from_keypair(pair, sizeof(pair), &sk), -ZK_EINVAL);
	ck_assert_ptr_null(sk);

	/* A generated key signs what its public key verifies, and nobody
	 * else's does. */
	ck_assert_int_eq(paseto_sk_generate(&gen), 0);
	ck_assert_int_eq(paseto_pk_from_sk(gen, &pk), 0);
	char *tok = NULL;

	ck_assert_int_eq(paseto_v4_sign(gen, (const uint8_t *)claims, strlen(claims), NULL, 0, NULL, 0,
					&tok),
			 0);
	ck_assert_int_eq(verify_with(pk, tok, strlen(tok), NULL), 0);
	ck_assert_int_eq(verify_a_str(tok, NULL), BAD);
	free(tok);
	paseto_pk_free(&pk);
	paseto_sk_free(&gen);
}
END_TEST

/* A key structure not stamped "v4.public." by a constructor is refused
 * before its EVP_PKEY is used. */
START_TEST(test_key_header_checked)
{
	paseto_sk_t *sk = sk_of(seed_a);
	paseto_pk_t *pk = pk_of(seed_a);
	char *tok = sign_str(claims, NULL, NULL);
	paseto_pk_t fake_pk = *pk;
	paseto_sk_t fake_sk = *sk;
	uint8_t *m = NULL, *f = NULL;
	size_t mlen = 0, flen = 0;
	char *out = NULL;

	memcpy(fake_pk.header, "v4.local.", sizeof("v4.local."));
	memcpy(fake_sk.header, "v3.public.", sizeof("v3.public."));
	ck_assert_int_eq(paseto_v4_verify(&fake_pk, tok, strlen(tok), NULL, 0, &m, &mlen, &f, &flen),
			 -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_sign(&fake_sk, (const uint8_t *)"x", 1, NULL, 0, NULL, 0, &out),
			 -ZK_EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_ptr_null(out);
	memset(&fake_pk, 0, sizeof(fake_pk));
	ck_assert_int_eq(paseto_v4_verify(&fake_pk, tok, strlen(tok), NULL, 0, &m, &mlen, &f, &flen),
			 -ZK_EINVAL);
	ck_assert_int_eq(verify_with(pk, tok, strlen(tok), NULL), 0);
	free(tok);
	paseto_pk_free(&pk);
	paseto_sk_free(&sk);
}
END_TEST

START_TEST(test_free_sets_null)
{
	paseto_sk_t *sk = sk_of(seed_a);
	paseto_pk_t *pk = pk_of(seed_a);

	paseto_sk_free(&sk);
	paseto_pk_free(&pk);
	ck_assert_ptr_null(sk);
	ck_assert_ptr_null(pk);
	paseto_sk_free(&sk);
	paseto_pk_free(&pk);
	paseto_sk_free(NULL);
	paseto_pk_free(NULL);
}
END_TEST

START_TEST(test_null_arguments)
{
	paseto_sk_t *sk = sk_of(seed_a);
	paseto_pk_t *pk = pk_of(seed_a);
	char *tok = sign_str(claims, NULL, NULL);
	size_t len = strlen(tok), mlen, flen;
	uint8_t *m = NULL, *f = NULL;
	char *out = NULL;

	ck_assert_int_eq(paseto_v4_verify(NULL, tok, len, NULL, 0, &m, &mlen, &f, &flen), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_verify(pk, NULL, len, NULL, 0, &m, &mlen, &f, &flen), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_verify(pk, tok, len, NULL, 1, &m, &mlen, &f, &flen), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_verify(pk, tok, len, NULL, 0, NULL, &mlen, &f, &flen), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_verify(pk, tok, len, NULL, 0, &m, &mlen, &f, NULL), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_sign(NULL, (const uint8_t *)"x", 1, NULL, 0, NULL, 0, &out),
			 -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_sign(sk, NULL, 1, NULL, 0, NULL, 0, &out), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_sign(sk, NULL, 0, NULL, 1, NULL, 0, &out), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_sign(sk, NULL, 0, NULL, 0, NULL, 1, &out), -ZK_EINVAL);
	ck_assert_int_eq(paseto_v4_sign(sk, NULL, 0, NULL, 0, NULL, 0, NULL), -ZK_EINVAL);
	ck_assert_int_eq(paseto_pk_from_sk(NULL, &pk), -ZK_EINVAL);
	ck_assert_int_eq(paseto_sk_generate(NULL), -ZK_EINVAL);
	ck_assert_ptr_null(m);
	ck_assert_ptr_null(out);
	free(tok);
	paseto_pk_free(&pk);
	paseto_sk_free(&sk);
}
END_TEST

Suite *paseto_suite(void)
{
	Suite *s = suite_create("paseto");
	TCase *vec = tcase_create("vectors");
	TCase *tc = tcase_create("paseto");

	tcase_add_test(vec, test_vectors_sign);
	tcase_add_test(vec, test_vectors_verify);
	tcase_add_test(vec, test_vectors_expect_fail);
	tcase_add_test(vec, test_vectors_local_refused);
	tcase_add_test(vec, test_vectors_all_covered);
	suite_add_tcase(s, vec);

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_round_trip_empty);
	tcase_add_test(tc, test_sign_matches_independent_pae);
	tcase_add_test(tc, test_binary_payload);
	tcase_add_test(tc, test_flipped_signature_bit);
	tcase_add_test(tc, test_flipped_message_bit);
	tcase_add_test(tc, test_other_key);
	tcase_add_test(tc, test_padding_appended);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_extra_char);
	tcase_add_test(tc, test_extra_byte);
	tcase_add_test(tc, test_wrong_footer);
	tcase_add_test(tc, test_wrong_implicit);
	tcase_add_loop_test(tc, test_header_replaced, 0, (int)ARRAY_LEN(wrong_headers));
	tcase_add_loop_test(tc, test_header_validly_signed, 0, (int)ARRAY_LEN(wrong_headers));
	tcase_add_test(tc, test_header_swapped_after_signing);
	tcase_add_test(tc, test_trailing_dot);
	tcase_add_test(tc, test_too_many_parts);
	tcase_add_test(tc, test_empty_body);
	tcase_add_test(tc, test_short_body);
	tcase_add_test(tc, test_noncanonical_body_char);
	tcase_add_test(tc, test_noncanonical_footer_char);
	tcase_add_test(tc, test_nul_inside_token);
	tcase_add_test(tc, test_oversized_token);
	tcase_add_test(tc, test_sign_refuses_oversized);
	tcase_add_test(tc, test_outputs_untouched_on_failure);
	tcase_add_test(tc, test_footer_unverified);
	tcase_add_test(tc, test_footer_refusals);
	tcase_add_test(tc, test_key_constructors);
	tcase_add_test(tc, test_key_header_checked);
	tcase_add_test(tc, test_free_sets_null);
	tcase_add_test(tc, test_null_arguments);
	suite_add_tcase(s, tc);
	return s;
}
