/* client/doc: the document protocol codec, names, grants, enrollment and
 * key files of zkrelay-safe and zkrelay-cli. Every refusal beside the
 * case it refuses. Messages are parsed from exact-length heap copies, so
 * under ASan a read past the end is a crash. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "b64url.h"
#include "docproto.h"
#include "enroll.h"
#include "file.h"
#include "grant.h"
#include "keyfile.h"
#include "name.h"
#include "paseto.h"
#include "peek.h"
#include "suites.h"
#include "tokenmint.h"
#include "zkerr.h"

#define NOW 1800000000LL

static const uint8_t seed_a[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
				    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const uint8_t seed_b[32] = { 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
				    9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9 };
static const uint8_t client_key[32] = { [0] = 0xc1, [31] = 0x1c };
static const uint8_t other_key[32] = { [0] = 0x0e, [31] = 0xe0 };

/* ---- Helpers ---- */

/* A message of a header given as JSON text and a body. */
static uint8_t *raw_msg(const char *hdr, const char *body, size_t *len)
{
	size_t h = strlen(hdr), b = body ? strlen(body) : 0;
	uint8_t *m = malloc(4 + h + b);

	ck_assert_ptr_nonnull(m);
	m[0] = (uint8_t)(h >> 24);
	m[1] = (uint8_t)(h >> 16);
	m[2] = (uint8_t)(h >> 8);
	m[3] = (uint8_t)h;
	memcpy(m + 4, hdr, h);
	if (b)
		memcpy(m + 4 + h, body, b);
	*len = 4 + h + b;
	return m;
}

static int parse_req_text(const char *hdr, const char *body)
{
	size_t len;
	uint8_t *m = raw_msg(hdr, body, &len);
	docproto_req_t r;
	int rc = docproto_req_parse(m, len, &r);

	if (rc == 0)
		docproto_req_free(&r);
	free(m);
	return rc;
}

static paseto_sk_t *sk_of(const uint8_t *seed)
{
	paseto_sk_t *sk = NULL;

	ck_assert_int_eq(paseto_sk_from_seed(seed, 32, &sk), 0);
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

static grant_t good_grant(const char *patient)
{
	grant_t g;

	memset(&g, 0, sizeof(g));
	strcpy(g.iss, "practice-a");
	strcpy(g.sub, "practice-a/client-1");
	strcpy(g.safe, "practice-a/safe-1");
	memcpy(g.e2e, client_key, 32);
	memset(g.cnf, 0x5a, 32);
	if (patient)
		strcpy(g.patient, patient);
	g.iat = g.nbf = NOW - 10;
	g.exp = NOW + 86400;
	strcpy(g.jti, "0123456789abcdef");
	return g;
}

static char *mint_with(const uint8_t *seed, const char *kid, const grant_t *g)
{
	paseto_sk_t *sk = sk_of(seed);
	char *tok = NULL;

	ck_assert_int_eq(grant_mint(sk, kid, g, &tok), 0);
	paseto_sk_free(&sk);
	return tok;
}

static grant_ctx_t good_ctx(void)
{
	grant_ctx_t c = { "practice-a", "practice-a/safe-1", "practice-a/client-1", client_key,
			  NOW };
	return c;
}

static docproto_status_t authorize(const char *tok, const grant_ctx_t *ctx, const char *patient)
{
	paseto_pk_t *pk = pk_of(seed_a);
	docproto_status_t st = grant_authorize(pk, "k1", ctx, tok, patient, NULL);

	paseto_pk_free(&pk);
	return st;
}

/* Signs claims text directly, to make grants grant_mint would never make. */
static char *sign_claims(const char *claims, const char *footer, const char *implicit)
{
	paseto_sk_t *sk = sk_of(seed_a);
	char *tok = NULL;

	ck_assert_int_eq(paseto_v4_sign(sk, (const uint8_t *)claims, strlen(claims),
					(const uint8_t *)footer, strlen(footer),
					(const uint8_t *)implicit, strlen(implicit), &tok),
			 0);
	paseto_sk_free(&sk);
	return tok;
}

/* ---- Codec ---- */

START_TEST(test_req_round_trip)
{
	static const char *const patients[] = { "p-1001", NULL };
	docproto_req_t in, out;
	uint8_t *m = NULL;
	size_t len = 0;

	for (unsigned op = 0; op < DOCPROTO_NOPS; op++) {
		memset(&in, 0, sizeof(in));
		in.op = (docproto_op_t)op;
		in.id = 42 + op;
		in.grant = "v4.public.abc";
		in.patient = op == DOCPROTO_TOKEN ? patients[1] : patients[0];
		in.doc = "scan_01.pdf";
		memset(in.sha256, 0xab, 32);
		ck_assert_int_eq(docproto_req_build(&in, op == DOCPROTO_PUT ? 5 : 0, &m, &len), 0);
		if (op == DOCPROTO_PUT)
			memcpy(m + len - 5, "hello", 5);
		ck_assert_int_eq(docproto_req_parse(m, len, &out), 0);
		ck_assert_int_eq(out.op, op);
		ck_assert_uint_eq(out.id, 42 + op);
		ck_assert_str_eq(out.grant, "v4.public.abc");
		if (op == DOCPROTO_TOKEN) {
			ck_assert_ptr_null(out.patient);
		} else {
			ck_assert_str_eq(out.patient, "p-1001");
		}
		if (op == DOCPROTO_PUT) {
			ck_assert_mem_eq(out.sha256, in.sha256, 32);
			ck_assert_uint_eq(out.body_len, 5);
			ck_assert_mem_eq(out.body, "hello", 5);
		}
		docproto_req_free(&out);
		free(m);
	}
}
END_TEST

START_TEST(test_req_build_refusals)
{
	docproto_req_t in = { .op = DOCPROTO_GET, .id = 1, .grant = "g", .patient = "../x",
			      .doc = "a" };
	uint8_t *m = NULL;
	size_t len = 0;

	ck_assert_int_eq(docproto_req_build(&in, 0, &m, &len), -ZK_EINVAL);
	in.patient = "p";
	ck_assert_int_eq(docproto_req_build(&in, 3, &m, &len), -ZK_EINVAL); /* body on get */
	in.op = DOCPROTO_NOPS;
	ck_assert_int_eq(docproto_req_build(&in, 0, &m, &len), -ZK_EINVAL);
}
END_TEST

START_TEST(test_short_and_oversized_header)
{
	static const uint8_t three[3] = { 0, 0, 0 };
	static const uint8_t over[4] = { 0, 0, 0x40, 0x01 }; /* 16385 */
	static const uint8_t huge[4] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t cut[6] = { 0, 0, 0, 9, '{', '}' };
	uint8_t *m = malloc(4 + DOCPROTO_MAX_HEADER);
	docproto_req_t r;
	json_t *h = NULL;
	const uint8_t *b;
	size_t bl;

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(docproto_req_parse(three, 0, &r), -ZK_EMALFORMED);
	ck_assert_int_eq(docproto_req_parse(three, sizeof(three), &r), -ZK_EMALFORMED);
	ck_assert_int_eq(docproto_req_parse(over, sizeof(over), &r), -ZK_ETOOLARGE);
	ck_assert_int_eq(docproto_req_parse(huge, sizeof(huge), &r), -ZK_ETOOLARGE);
	ck_assert_int_eq(docproto_req_parse(cut, sizeof(cut), &r), -ZK_EMALFORMED);
	/* Exactly at the cap: the header is read (and is not JSON here). */
	m[0] = 0;
	m[1] = 0;
	m[2] = 0x40;
	m[3] = 0;
	memset(m + 4, ' ', DOCPROTO_MAX_HEADER);
	m[4] = '{';
	m[3 + DOCPROTO_MAX_HEADER] = '}';
	ck_assert_int_eq(docproto_split(m, 4 + DOCPROTO_MAX_HEADER, &h, &b, &bl), 0);
	ck_assert_uint_eq(bl, 0);
	json_decref(h);
	free(m);
}
END_TEST

START_TEST(test_bad_json_and_types)
{
	static const char *const bad[] = {
		"{",
		"[]",
		"\"list\"",
		"{\"op\":\"list\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\"",
		"{\"op\":\"list\",\"id\":1,\"id\":2,\"grant\":\"g\",\"patient\":\"p\"}",
		"{\"op\":\"list\",\"id\":\"1\",\"grant\":\"g\",\"patient\":\"p\"}",
		"{\"op\":\"list\",\"id\":-1,\"grant\":\"g\",\"patient\":\"p\"}",
		"{\"op\":\"list\",\"id\":1.0,\"grant\":\"g\",\"patient\":\"p\"}",
		"{\"op\":\"list\",\"id\":1,\"grant\":7,\"patient\":\"p\"}",
		"{\"op\":\"list\",\"id\":1,\"grant\":\"\",\"patient\":\"p\"}",
		"{\"op\":\"list\",\"id\":1,\"grant\":\"g\",\"patient\":12}",
		"{\"op\":\"list\",\"id\":1,\"grant\":\"g\"}",
		"{\"op\":\"list\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\",\"x\":1}",
		"{\"op\":\"LIST\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\"}",
		"{\"op\":\"delete\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\"}",
		"{\"op\":\"get\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\"}",
		"{\"op\":\"get\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\",\"doc\":\"..\"}",
		"{\"op\":\"get\",\"id\":1,\"grant\":\"g\",\"patient\":\"../p\",\"doc\":\"d\"}",
		"{\"op\":\"put\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\",\"doc\":\"d\"}",
		"{\"op\":\"put\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\",\"doc\":\"d\","
		"\"sha256\":\"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"}",
		"{\"op\":\"put\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\",\"doc\":\"d\","
		"\"sha256\":\"abcdef\"}",
		"{\"op\":\"token\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\"}",
		"{\"op\":\"list\",\"id\":1,\"grant\":\"g\\u0000\",\"patient\":\"p\"}",
		"{\"op\":\"list\",\"id\":99999999999999999999999,\"grant\":\"g\",\"patient\":\"p\"}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse_req_text(bad[i], NULL) == -ZK_EMALFORMED, "accepted: %s",
			      bad[i]);
	/* Invalid UTF-8 in the header. */
	ck_assert_int_eq(parse_req_text("{\"op\":\"list\",\"id\":1,\"grant\":\"\xff\","
					"\"patient\":\"p\"}",
					NULL),
			 -ZK_EMALFORMED);
	/* The good one beside them, and a body only where one belongs. */
	ck_assert_int_eq(parse_req_text("{\"op\":\"list\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\"}",
					NULL),
			 0);
	ck_assert_int_eq(parse_req_text("{\"op\":\"list\",\"id\":1,\"grant\":\"g\",\"patient\":\"p\"}",
					"x"),
			 -ZK_EMALFORMED);
}
END_TEST

START_TEST(test_peek_id)
{
	size_t len;
	uint8_t *m = raw_msg("{\"id\":77,\"op\":\"bogus\"}", NULL, &len);

	ck_assert_uint_eq(docproto_peek_id(m, len), 77);
	ck_assert_uint_eq(docproto_peek_id(m, 3), 0);
	free(m);
	m = raw_msg("{\"id\":\"77\"}", NULL, &len);
	ck_assert_uint_eq(docproto_peek_id(m, len), 0);
	free(m);
}
END_TEST

START_TEST(test_resp_round_trip)
{
	uint8_t sha[32], *m = NULL;
	char hex[65];
	size_t len = 0;
	docproto_resp_t r;
	json_t *f;

	memset(sha, 0x11, 32);
	docproto_hex(sha, hex);
	/* get: the body is the document. */
	f = json_pack("{s:I, s:s}", "size", (json_int_t)3, "sha256", hex);
	ck_assert_int_eq(docproto_resp_ok(9, f, 3, &m, &len), 0);
	memcpy(m + len - 3, "abc", 3);
	ck_assert_int_eq(docproto_resp_parse(m, len, DOCPROTO_GET, &r), 0);
	ck_assert_uint_eq(r.id, 9);
	ck_assert_int_eq(r.status, DOCPROTO_OK);
	ck_assert_uint_eq(r.size, 3);
	ck_assert_mem_eq(r.sha256, sha, 32);
	ck_assert_mem_eq(r.body, "abc", 3);
	docproto_resp_free(&r);
	/* A body that disagrees with size is refused. */
	ck_assert_int_eq(docproto_resp_parse(m, len - 1, DOCPROTO_GET, &r), -ZK_EMALFORMED);
	free(m);
	json_decref(f);

	f = json_pack("{s:[{s:s, s:I, s:s}]}", "docs", "name", "a.pdf", "size", (json_int_t)5,
		      "sha256", hex);
	ck_assert_int_eq(docproto_resp_ok(1, f, 0, &m, &len), 0);
	ck_assert_int_eq(docproto_resp_parse(m, len, DOCPROTO_LIST, &r), 0);
	ck_assert_uint_eq(r.ndocs, 1);
	ck_assert_str_eq(r.docs[0].name, "a.pdf");
	ck_assert_uint_eq(r.docs[0].size, 5);
	docproto_resp_free(&r);
	free(m);
	json_decref(f);

	f = json_pack("{s:s}", "token", "v4.public.t");
	ck_assert_int_eq(docproto_resp_ok(2, f, 0, &m, &len), 0);
	ck_assert_int_eq(docproto_resp_parse(m, len, DOCPROTO_TOKEN, &r), 0);
	ck_assert_str_eq(r.token, "v4.public.t");
	docproto_resp_free(&r);
	/* The same response read as a list answer lacks "docs". */
	ck_assert_int_eq(docproto_resp_parse(m, len, DOCPROTO_LIST, &r), -ZK_EMALFORMED);
	free(m);
	json_decref(f);
}
END_TEST

START_TEST(test_resp_errors)
{
	uint8_t *m = NULL;
	size_t len = 0;
	docproto_resp_t r;

	for (unsigned st = DOCPROTO_OK + 1; st < DOCPROTO_NSTATUS; st++) {
		ck_assert_int_eq(docproto_resp_error(5, (docproto_status_t)st, "why", &m, &len), 0);
		ck_assert_int_eq(docproto_resp_parse(m, len, DOCPROTO_PUT, &r), 0);
		ck_assert_int_eq(r.status, st);
		ck_assert_str_eq(r.message, "why");
		ck_assert_uint_eq(r.id, 5);
		docproto_resp_free(&r);
		free(m);
	}
	ck_assert_int_eq(docproto_resp_error(5, DOCPROTO_OK, "x", &m, &len), -ZK_EINVAL);
	m = raw_msg("{\"ok\":false,\"id\":1,\"error\":\"ok\",\"message\":\"m\"}", NULL, &len);
	ck_assert_int_eq(docproto_resp_parse(m, len, DOCPROTO_GET, &r), -ZK_EMALFORMED);
	free(m);
	m = raw_msg("{\"ok\":false,\"id\":1,\"error\":\"teapot\",\"message\":\"m\"}", NULL, &len);
	ck_assert_int_eq(docproto_resp_parse(m, len, DOCPROTO_GET, &r), -ZK_EMALFORMED);
	free(m);
	m = raw_msg("{\"ok\":1,\"id\":1}", NULL, &len);
	ck_assert_int_eq(docproto_resp_parse(m, len, DOCPROTO_PUT, &r), -ZK_EMALFORMED);
	free(m);
}
END_TEST

START_TEST(test_hex)
{
	uint8_t sha[32], back[32];
	char hex[65];

	for (int i = 0; i < 32; i++)
		sha[i] = (uint8_t)(i * 37);
	docproto_hex(sha, hex);
	ck_assert_uint_eq(strlen(hex), 64);
	ck_assert_int_eq(docproto_unhex(hex, back), 0);
	ck_assert_mem_eq(sha, back, 32);
	hex[10] = 'G';
	ck_assert_int_eq(docproto_unhex(hex, back), -ZK_EMALFORMED);
	ck_assert_int_eq(docproto_unhex("00", back), -ZK_EMALFORMED);
	ck_assert_int_eq(docproto_unhex(NULL, back), -ZK_EMALFORMED);
}
END_TEST

/* ---- Names ---- */

START_TEST(test_doc_names)
{
	static const char *const good[] = { "a", "p-1001", "Scan_01.pdf", "9", "a..b", "x-" };
	static const char *const bad[] = { "", ".", "..", ".hidden", "-rf", "_x", "../etc",
					   "a/b", "a\\b", "a b", "a\nb", "ä", "a:b", "/abs" };
	char n[NAME_DOC_MAX + 2];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(name_doc_ok_str(good[i]), "refused %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!name_doc_ok_str(bad[i]), "accepted %s", bad[i]);
	ck_assert(!name_doc_ok_str(NULL));
	memset(n, 'a', sizeof(n));
	n[NAME_DOC_MAX] = '\0';
	ck_assert(name_doc_ok_str(n)); /* 128 */
	n[NAME_DOC_MAX] = 'a';
	n[NAME_DOC_MAX + 1] = '\0';
	ck_assert(!name_doc_ok_str(n)); /* 129 */
	/* A NUL inside the counted length is not a shorter name. */
	ck_assert(!name_doc_ok("ab\0c", 4));
}
END_TEST

START_TEST(test_ids_and_addresses)
{
	char id[NAME_ID_MAX + 2];

	ck_assert(name_id_ok_str("practice-a"));
	ck_assert(!name_id_ok_str("Practice-a"));
	ck_assert(!name_id_ok_str(".a"));
	memset(id, 'a', sizeof(id));
	id[NAME_ID_MAX] = '\0';
	ck_assert(name_id_ok_str(id));
	id[NAME_ID_MAX] = 'a';
	id[NAME_ID_MAX + 1] = '\0';
	ck_assert(!name_id_ok_str(id));
	ck_assert(name_addr_ok_str("practice-a/safe-1"));
	ck_assert(!name_addr_ok_str("practice-a"));
	ck_assert(!name_addr_ok_str("practice-a/"));
	ck_assert(!name_addr_ok_str("/safe-1"));
	ck_assert(!name_addr_ok_str("practice-a/safe-1/x"));
	ck_assert(!name_addr_ok_str("practice-a/../x"));
}
END_TEST

/* ---- Grants ---- */

START_TEST(test_grant_good)
{
	grant_t g = good_grant("p-1001"), v;
	char *tok = mint_with(seed_a, "k1", &g);
	paseto_pk_t *pk = pk_of(seed_a);
	grant_ctx_t ctx = good_ctx();

	ck_assert_int_eq(grant_verify(pk, "k1", tok, strlen(tok), &v), 0);
	ck_assert_str_eq(v.sub, g.sub);
	ck_assert_str_eq(v.patient, "p-1001");
	ck_assert_mem_eq(v.e2e, g.e2e, 32);
	ck_assert_mem_eq(v.cnf, g.cnf, 32);
	ck_assert_int_eq(v.exp, g.exp);
	ck_assert_int_eq(grant_check(&v, &ctx), DOCPROTO_OK);
	ck_assert_int_eq(authorize(tok, &ctx, "p-1001"), DOCPROTO_OK);
	ck_assert_int_eq(authorize(tok, &ctx, NULL), DOCPROTO_OK);
	paseto_pk_free(&pk);
	free(tok);
}
END_TEST

START_TEST(test_grant_wrong_key_and_kid)
{
	grant_t g = good_grant(NULL);
	char *tok = mint_with(seed_b, "k1", &g);
	grant_ctx_t ctx = good_ctx();
	paseto_pk_t *pk = pk_of(seed_a);
	grant_t v;

	ck_assert_int_eq(authorize(tok, &ctx, "p-1"), DOCPROTO_GRANT_INVALID);
	free(tok);
	tok = mint_with(seed_a, "k2", &g);
	ck_assert_int_eq(grant_verify(pk, "k1", tok, strlen(tok), &v), -ZK_ETOKEN);
	ck_assert_int_eq(authorize(tok, &ctx, "p-1"), DOCPROTO_GRANT_INVALID);
	free(tok);
	ck_assert_int_eq(authorize(NULL, &ctx, "p-1"), DOCPROTO_GRANT_INVALID);
	ck_assert_int_eq(authorize("", &ctx, "p-1"), DOCPROTO_GRANT_INVALID);
	paseto_pk_free(&pk);
}
END_TEST

START_TEST(test_grant_times)
{
	grant_t g = good_grant(NULL);
	grant_ctx_t ctx = good_ctx();
	char *tok;

	g.iat = g.nbf = NOW - 100000;
	g.exp = NOW - GRANT_LEEWAY_S - 1;
	tok = mint_with(seed_a, "k1", &g);
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_GRANT_EXPIRED);
	free(tok);
	/* Inside the leeway it still counts. */
	g.exp = NOW - GRANT_LEEWAY_S + 1;
	tok = mint_with(seed_a, "k1", &g);
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_OK);
	free(tok);
	g.iat = NOW;
	g.nbf = NOW + GRANT_LEEWAY_S + 10;
	g.exp = NOW + 1000;
	tok = mint_with(seed_a, "k1", &g);
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_GRANT_INVALID);
	free(tok);
}
END_TEST

START_TEST(test_grant_relay_token_refused)
{
	paseto_sk_t *sk = sk_of(seed_a);
	const char *dst[] = { "practice-a/safe-1" };
	tokenmint_t t = { .iss = "practice-a", .kid = "k1", .sub = "practice-a/client-1",
			  .aud = "zkrelay-dev", .jti = "j1", .iat = NOW - 10, .nbf = NOW - 10,
			  .exp = NOW + 600, .dst = dst, .ndst = 1 };
	grant_ctx_t ctx = good_ctx();
	char *tok = NULL;

	ck_assert_int_eq(tokenmint(sk, &t, &tok), 0);
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_GRANT_INVALID);
	paseto_sk_free(&sk);
	free(tok);
}
END_TEST

START_TEST(test_grant_implicit_assertion)
{
	grant_t g = good_grant(NULL);
	grant_ctx_t ctx = good_ctx();
	paseto_pk_t *pk = pk_of(seed_a);
	char *good = mint_with(seed_a, "k1", &g);
	uint8_t *m = NULL, *f = NULL;
	size_t ml, fl;
	char *claims, *tok;

	/* The claims of a good grant, signed under another assertion. */
	ck_assert_int_eq(paseto_v4_verify(pk, good, strlen(good), (const uint8_t *)GRANT_IMPLICIT,
					  strlen(GRANT_IMPLICIT), &m, &ml, &f, &fl),
			 0);
	claims = (char *)m;
	tok = sign_claims(claims, "{\"kid\":\"k1\"}", "zkrelay-grant-v2");
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_GRANT_INVALID);
	free(tok);
	tok = sign_claims(claims, "{\"kid\":\"k1\"}", "");
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_GRANT_INVALID);
	free(tok);
	/* And under the right one it passes: the test above tests the assertion. */
	tok = sign_claims(claims, "{\"kid\":\"k1\"}", GRANT_IMPLICIT);
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_OK);
	free(tok);
	/* A footer with more than the kid. */
	tok = sign_claims(claims, "{\"kid\":\"k1\",\"x\":1}", GRANT_IMPLICIT);
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_GRANT_INVALID);
	free(tok);
	free(m);
	free(f);
	free(good);
	paseto_pk_free(&pk);
}
END_TEST

START_TEST(test_grant_tampered)
{
	grant_t g = good_grant("p-1001");
	char *tok = mint_with(seed_a, "k1", &g);
	grant_ctx_t ctx = good_ctx();
	size_t body = strlen("v4.public.");

	/* One character of the signed payload changed. */
	tok[body + 5] = tok[body + 5] == 'A' ? 'B' : 'A';
	ck_assert_int_eq(authorize(tok, &ctx, "p-1001"), DOCPROTO_GRANT_INVALID);
	free(tok);
}
END_TEST

START_TEST(test_grant_claim_shapes)
{
	static const char *const bad[] = {
		/* an unknown claim */
		"{\"iss\":\"practice-a\",\"sub\":\"practice-a/client-1\",\"safe\":\"practice-a/safe-1\","
		"\"e2e\":\"wQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABw\",\"cnf\":"
		"\"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo\",\"iat\":1,\"nbf\":1,"
		"\"exp\":9999999999,\"jti\":\"j\",\"admin\":true}",
		/* times as strings */
		"{\"iss\":\"practice-a\",\"sub\":\"practice-a/client-1\",\"safe\":\"practice-a/safe-1\","
		"\"e2e\":\"wQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABw\",\"cnf\":"
		"\"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo\",\"iat\":1,\"nbf\":1,"
		"\"exp\":\"9999999999\",\"jti\":\"j\"}",
		/* a patient that is a path */
		"{\"iss\":\"practice-a\",\"sub\":\"practice-a/client-1\",\"safe\":\"practice-a/safe-1\","
		"\"e2e\":\"wQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABw\",\"cnf\":"
		"\"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo\",\"iat\":1,\"nbf\":1,"
		"\"exp\":9999999999,\"jti\":\"j\",\"patient\":\"../p\"}",
		/* e2e of 31 bytes */
		"{\"iss\":\"practice-a\",\"sub\":\"practice-a/client-1\",\"safe\":\"practice-a/safe-1\","
		"\"e2e\":\"wQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"cnf\":"
		"\"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo\",\"iat\":1,\"nbf\":1,"
		"\"exp\":9999999999,\"jti\":\"j\"}",
	};
	static const char good[] =
		"{\"iss\":\"practice-a\",\"sub\":\"practice-a/client-1\",\"safe\":\"practice-a/safe-1\","
		"\"e2e\":\"wQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABw\",\"cnf\":"
		"\"WlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlpaWlo\",\"iat\":1,\"nbf\":1,"
		"\"exp\":9999999999,\"jti\":\"j\"}";
	grant_ctx_t ctx = good_ctx();
	char *tok;

	tok = sign_claims(good, "{\"kid\":\"k1\"}", GRANT_IMPLICIT);
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_OK);
	free(tok);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tok = sign_claims(bad[i], "{\"kid\":\"k1\"}", GRANT_IMPLICIT);
		ck_assert_msg(authorize(tok, &ctx, "p") == DOCPROTO_GRANT_INVALID, "accepted %zu", i);
		free(tok);
	}
}
END_TEST

START_TEST(test_grant_session_binding)
{
	grant_t g = good_grant(NULL);
	char *tok = mint_with(seed_a, "k1", &g);
	grant_ctx_t ctx = good_ctx();

	ctx.peer = "practice-a/client-2";
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_GRANT_INVALID);
	ctx = good_ctx();
	ctx.peer_key = other_key;
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_GRANT_INVALID);
	ctx = good_ctx();
	ctx.safe = "practice-a/safe-2";
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_GRANT_INVALID);
	ctx = good_ctx();
	ctx.practice = "practice-b";
	ck_assert_int_eq(authorize(tok, &ctx, "p"), DOCPROTO_GRANT_INVALID);
	free(tok);
}
END_TEST

START_TEST(test_grant_scope)
{
	grant_t scoped = good_grant("p-1001"), wide = good_grant(NULL);
	char *tok = mint_with(seed_a, "k1", &scoped);
	grant_ctx_t ctx = good_ctx();

	ck_assert(grant_covers(&scoped, "p-1001"));
	ck_assert(!grant_covers(&scoped, "p-1002"));
	ck_assert(!grant_covers(&scoped, "p-100"));
	ck_assert(grant_covers(&scoped, NULL));
	ck_assert(grant_covers(&wide, "p-1002"));
	ck_assert_int_eq(authorize(tok, &ctx, "p-1002"), DOCPROTO_NOT_PERMITTED);
	ck_assert_int_eq(authorize(tok, &ctx, "p-1001"), DOCPROTO_OK);
	free(tok);
}
END_TEST

START_TEST(test_grant_mint_refusals)
{
	paseto_sk_t *sk = sk_of(seed_a);
	grant_t g = good_grant("../p");
	char *tok = NULL;

	ck_assert_int_eq(grant_mint(sk, "k1", &g, &tok), -ZK_EINVAL);
	g = good_grant(NULL);
	ck_assert_int_eq(grant_mint(sk, "K 1", &g, &tok), -ZK_EINVAL);
	g.exp = g.iat;
	ck_assert_int_eq(grant_mint(sk, "k1", &g, &tok), -ZK_EINVAL);
	ck_assert_ptr_null(tok);
	paseto_sk_free(&sk);
}
END_TEST

START_TEST(test_grant_inspect)
{
	grant_t g = good_grant("p-1001"), v;
	char *tok = mint_with(seed_b, "k1", &g); /* any key: nothing is verified */
	paseto_sk_t *sk = sk_of(seed_a);
	const char *dst[] = { "practice-a/safe-1" };
	tokenmint_t t = { .iss = "practice-a", .kid = "k1", .sub = "practice-a/client-1",
			  .aud = "zkrelay-dev", .jti = "j1", .iat = NOW, .nbf = NOW,
			  .exp = NOW + 600, .dst = dst, .ndst = 1 };
	char *relay = NULL;
	json_t *claims = NULL;

	ck_assert_int_eq(grant_inspect(tok, strlen(tok), &v), 0);
	ck_assert_str_eq(v.patient, "p-1001");
	ck_assert_mem_eq(v.e2e, client_key, 32);
	/* A relay token has claims, but not a grant's. */
	ck_assert_int_eq(tokenmint(sk, &t, &relay), 0);
	ck_assert_int_eq(grant_inspect(relay, strlen(relay), &v), -ZK_ETOKEN);
	ck_assert_int_eq(peek_claims(relay, strlen(relay), &claims), 0);
	ck_assert_str_eq(json_string_value(json_object_get(claims, "sub")), "practice-a/client-1");
	json_decref(claims);
	ck_assert_int_eq(peek_claims("v4.local.abc", 12, &claims), -ZK_EMALFORMED);
	ck_assert_int_eq(peek_claims("v4.public.", 10, &claims), -ZK_EMALFORMED);
	ck_assert_int_eq(peek_claims("v4.public.!!!!", 14, &claims), -ZK_EMALFORMED);
	paseto_sk_free(&sk);
	free(relay);
	free(tok);
}
END_TEST

/* ---- Enrollment and key files ---- */

static enroll_t good_enroll(void)
{
	enroll_t e;

	memset(&e, 0, sizeof(e));
	strcpy(e.relay_host, "127.0.0.1");
	e.relay_port = 8443;
	strcpy(e.server_name, "localhost");
	strcpy(e.practice, "practice-a");
	strcpy(e.safe, "practice-a/safe-1");
	memset(e.safe_key, 7, 32);
	strcpy(e.client, "practice-a/client-1");
	strcpy(e.patient, "p-1001");
	strcpy(e.grant, "v4.public.grant");
	strcpy(e.token, "v4.public.token");
	return e;
}

static int parse_enroll_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT), err[256];
	enroll_t e;
	int rc;

	ck_assert_ptr_nonnull(s);
	rc = enroll_parse(s, strlen(s), &e, err, sizeof(err));
	free(s);
	json_decref(j);
	return rc;
}

START_TEST(test_enroll_round_trip)
{
	enroll_t e = good_enroll(), back;
	char *s = enroll_dumps(&e), err[256];

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(enroll_parse(s, strlen(s), &back, err, sizeof(err)), 0);
	ck_assert_mem_eq(&e, &back, sizeof(e));
	free(s);
	e.patient[0] = '\0';
	s = enroll_dumps(&e);
	ck_assert_ptr_null(strstr(s, "patient"));
	ck_assert_int_eq(enroll_parse(s, strlen(s), &back, err, sizeof(err)), 0);
	ck_assert_str_eq(back.patient, "");
	free(s);
}
END_TEST

START_TEST(test_enroll_parse_errors)
{
	enroll_t e = good_enroll();
	char *s = enroll_dumps(&e), err[256] = "";
	static const char *const fields[] = { "version", "relay_host", "relay_port", "server_name",
					      "practice", "safe", "safe_key", "client", "grant",
					      "token" };
	json_t *j;
	enroll_t out;

	ck_assert_int_eq(enroll_parse("{", 1, &out, err, sizeof(err)), -ZK_EMALFORMED);
	ck_assert_ptr_nonnull(strstr(err, "line"));
	ck_assert_int_eq(enroll_parse("[1]", 3, &out, err, sizeof(err)), -ZK_EMALFORMED);
	/* Each required field missing. */
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		j = json_loads(s, 0, NULL);
		json_object_del(j, fields[i]);
		ck_assert_msg(parse_enroll_json(j) == -ZK_EMALFORMED, "without %s", fields[i]);
	}
	j = json_loads(s, 0, NULL);
	json_object_set_new(j, "version", json_integer(2));
	ck_assert_int_eq(parse_enroll_json(j), -ZK_EMALFORMED);
	j = json_loads(s, 0, NULL);
	json_object_set_new(j, "relay_port", json_integer(70000));
	ck_assert_int_eq(parse_enroll_json(j), -ZK_EMALFORMED);
	j = json_loads(s, 0, NULL);
	json_object_set_new(j, "relay_port", json_string("8443"));
	ck_assert_int_eq(parse_enroll_json(j), -ZK_EMALFORMED);
	j = json_loads(s, 0, NULL);
	json_object_set_new(j, "safe_key", json_string("AAAA"));
	ck_assert_int_eq(parse_enroll_json(j), -ZK_EMALFORMED);
	j = json_loads(s, 0, NULL);
	json_object_set_new(j, "safe", json_string("practice-b/safe-1"));
	ck_assert_int_eq(parse_enroll_json(j), -ZK_EMALFORMED);
	j = json_loads(s, 0, NULL);
	json_object_set_new(j, "patient", json_string(".."));
	ck_assert_int_eq(parse_enroll_json(j), -ZK_EMALFORMED);
	j = json_loads(s, 0, NULL);
	json_object_set_new(j, "grant", json_string("v2.local.x"));
	ck_assert_int_eq(parse_enroll_json(j), -ZK_EMALFORMED);
	j = json_loads(s, 0, NULL);
	json_object_set_new(j, "extra", json_true());
	ck_assert_int_eq(parse_enroll_json(j), -ZK_EMALFORMED);
	/* The unchanged file beside them. */
	ck_assert_int_eq(parse_enroll_json(json_loads(s, 0, NULL)), 0);
	free(s);
}
END_TEST

static char *tmp_dir(void)
{
	char *d = strdup("/tmp/zk-docproto-XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

START_TEST(test_keyfile)
{
	char *d = tmp_dir(), path[256], err[256];
	uint8_t priv[32], back[32];

	memset(priv, 0x42, sizeof(priv));
	snprintf(path, sizeof(path), "%s/k", d);
	ck_assert_int_eq(keyfile_create(path, priv, err, sizeof(err)), 0);
	ck_assert_int_eq(keyfile_read(path, back, err, sizeof(err)), 0);
	ck_assert_mem_eq(priv, back, 32);
	ck_assert_int_ne(keyfile_create(path, priv, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "exists"));
	ck_assert_int_eq(chmod(path, 0644), 0);
	ck_assert_int_ne(keyfile_read(path, back, err, sizeof(err)), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(file_create(path, "AAAA\n", 5, 0600, err, sizeof(err)), 0);
	ck_assert_int_eq(keyfile_read(path, back, err, sizeof(err)), -ZK_EMALFORMED);
	unlink(path);
	rmdir(d);
	free(d);
}
END_TEST

START_TEST(test_enroll_file)
{
	char *d = tmp_dir(), path[256], err[256];
	enroll_t e = good_enroll(), back;
	struct stat st;

	snprintf(path, sizeof(path), "%s/enrollment.json", d);
	ck_assert_int_eq(enroll_write(path, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	strcpy(e.token, "v4.public.newer");
	ck_assert_int_eq(enroll_write(path, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(enroll_read(path, &back, err, sizeof(err)), 0);
	ck_assert_str_eq(back.token, "v4.public.newer");
	unlink(path);
	ck_assert_int_ne(enroll_read(path, &back, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, path));
	rmdir(d);
	free(d);
}
END_TEST

Suite *docproto_suite(void)
{
	Suite *s = suite_create("docproto");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, test_req_round_trip);
	tcase_add_test(tc, test_req_build_refusals);
	tcase_add_test(tc, test_short_and_oversized_header);
	tcase_add_test(tc, test_bad_json_and_types);
	tcase_add_test(tc, test_peek_id);
	tcase_add_test(tc, test_resp_round_trip);
	tcase_add_test(tc, test_resp_errors);
	tcase_add_test(tc, test_hex);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_doc_names);
	tcase_add_test(tc, test_ids_and_addresses);
	suite_add_tcase(s, tc);

	tc = tcase_create("grant");
	tcase_add_test(tc, test_grant_good);
	tcase_add_test(tc, test_grant_wrong_key_and_kid);
	tcase_add_test(tc, test_grant_times);
	tcase_add_test(tc, test_grant_relay_token_refused);
	tcase_add_test(tc, test_grant_implicit_assertion);
	tcase_add_test(tc, test_grant_tampered);
	tcase_add_test(tc, test_grant_claim_shapes);
	tcase_add_test(tc, test_grant_session_binding);
	tcase_add_test(tc, test_grant_scope);
	tcase_add_test(tc, test_grant_mint_refusals);
	tcase_add_test(tc, test_grant_inspect);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_enroll_round_trip);
	tcase_add_test(tc, test_enroll_parse_errors);
	tcase_add_test(tc, test_keyfile);
	tcase_add_test(tc, test_enroll_file);
	suite_add_tcase(s, tc);
	return s;
}
