/* Live access changes (DESIGN.md, "Registry"): a SIGHUP that revokes a
 * token id, suspends a practice, removes a data-safe or rotates away a
 * token key cuts every connection it affects with Close{NOT_AUTHORIZED}
 * within a second and leaves the others exchanging frames; a registry that
 * does not load changes nothing. */
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "b64url.h"
#include "itest.h"
#include "paseto.h"
#include "tokenmint.h"

#define F_ACK ZKRELAY__V1__FRAME__BODY_ACK
#define R_TOKEN_INVALID ZKRELAY__V1__REASON__REASON_TOKEN_INVALID
#define R_NOT_AUTHORIZED ZKRELAY__V1__REASON__REASON_NOT_AUTHORIZED

#define RELAY_ID "zkrelay-dev"
/* A cut must arrive (close frame and end of connection) this soon after
 * the SIGHUP. */
#define CUT_MS 1000

#define SAFE_A "practice-a/safe-1"
#define SAFE_B "practice-b/safe-1"

/* ---------------------------------------------------------------------- */
/* Tokens. */

typedef struct {
	const char *practice, *endpoint; /* the holder */
	const char *kid;                 /* NULL: "k1" */
	const paseto_sk_t *sk;           /* NULL: pki/<practice>/token-k1.key */
	const char *jti;                 /* NULL: a fresh one */
	const char *dst[4];              /* none: "<practice>/safe-1" */
} mint_t;

/* A token issued by the holder's own practice, valid for an hour, as a
 * malloc'd string. */
static char *mint(harness_t *h, const mint_t *m)
{
	static unsigned serial;
	const char *dst[4];
	char sub[160], jti[64], dst0[160], *tok = NULL;
	paseto_sk_t *loaded = NULL;
	int64_t now = (int64_t)time(NULL);
	tokenmint_t t;
	size_t n = 0;
	int rc;

	while (n < 4 && m->dst[n] != NULL) {
		dst[n] = m->dst[n];
		n++;
	}
	if (n == 0) {
		snprintf(dst0, sizeof(dst0), "%s/safe-1", m->practice);
		dst[n++] = dst0;
	}
	snprintf(sub, sizeof(sub), "%s/%s", m->practice, m->endpoint);
	snprintf(jti, sizeof(jti), "acc-%d-%u", (int)getpid(), ++serial);
	memset(&t, 0, sizeof(t));
	t.iss = m->practice;
	t.kid = m->kid ? m->kid : "k1";
	t.sub = sub;
	t.aud = RELAY_ID;
	t.jti = m->jti ? m->jti : jti;
	t.iat = t.nbf = now;
	t.exp = now + 3600;
	t.dst = dst;
	t.ndst = n;
	rc = tokenmint_cert_cnf(harness_cert(h, m->practice, m->endpoint), t.cnf);
	ck_assert_msg(rc == 0, "cnf of %s: %d", sub, rc);
	if (m->sk == NULL) {
		rc = tokenmint_load_key(harness_path(h, "pki/%s/token-k1.key", m->practice),
					&loaded);
		ck_assert_msg(rc == 0, "token key of %s: %d", m->practice, rc);
	}
	rc = tokenmint(m->sk ? m->sk : loaded, &t, &tok);
	paseto_sk_free(&loaded);
	ck_assert_msg(rc == 0 && tok != NULL, "tokenmint for %s: %d", sub, rc);
	return tok;
}

/* A new Ed25519 token key; its raw public key in base64url into pub. */
static paseto_sk_t *new_token_key(char *pub, size_t cap)
{
	paseto_sk_t *sk = NULL;
	paseto_pk_t *pk = NULL;
	uint8_t raw[PASETO_KEY_LEN];
	size_t n;

	ck_assert_int_eq(paseto_sk_generate(&sk), 0);
	ck_assert_int_eq(paseto_pk_from_sk(sk, &pk), 0);
	ck_assert_int_eq(paseto_pk_to_raw(pk, raw, sizeof(raw)), 0);
	ck_assert_int_eq(b64url_encode(raw, sizeof(raw), pub, cap - 1, &n), 0);
	pub[n] = '\0';
	paseto_pk_free(&pk);
	return sk;
}

/* ---------------------------------------------------------------------- */
/* Registry files. */

static const char *reg_path(harness_t *h, const char *practice)
{
	return harness_path(h, "pki/registry/%s.json", practice);
}

static json_t *reg_load(harness_t *h, const char *practice)
{
	json_error_t e;
	json_t *j = json_load_file(reg_path(h, practice), JSON_REJECT_DUPLICATES, &e);

	ck_assert_msg(j != NULL, "%s: %s", reg_path(h, practice), e.text);
	return j;
}

/* Replaces the file whole (the relay reads it only on SIGHUP); takes j. */
static void reg_save(harness_t *h, const char *practice, json_t *j)
{
	char path[600], tmp[620];

	snprintf(path, sizeof(path), "%s", reg_path(h, practice));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	ck_assert_int_eq(json_dump_file(j, tmp, JSON_INDENT(2)), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
	json_decref(j);
}

static void reg_set_status(harness_t *h, const char *practice, const char *status)
{
	json_t *j = reg_load(h, practice);

	ck_assert_int_eq(json_object_set_new(j, "status", json_string(status)), 0);
	reg_save(h, practice, j);
}

static void reg_revoke_jti(harness_t *h, const char *practice, const char *jti)
{
	json_t *j = reg_load(h, practice);

	ck_assert_int_eq(json_array_append_new(json_object_get(j, "revoked_jti"), json_string(jti)),
			 0);
	reg_save(h, practice, j);
}

static void reg_remove_safe(harness_t *h, const char *practice, const char *endpoint)
{
	json_t *j = reg_load(h, practice), *safes = json_object_get(j, "data_safes"), *v;
	size_t i, removed = 0;

	ck_assert_msg(json_is_array(safes), "no data_safes in %s", reg_path(h, practice));
	for (i = 0; i < json_array_size(safes);) {
		v = json_array_get(safes, i);
		if (strcmp(json_string_value(json_object_get(v, "endpoint_id")), endpoint) == 0) {
			ck_assert_int_eq(json_array_remove(safes, i), 0);
			removed++;
		} else {
			i++;
		}
	}
	ck_assert_uint_eq(removed, 1);
	reg_save(h, practice, j);
}

/* token_keys: k1 as it is (if keep_k1), then kid with public key pub. */
static void reg_set_keys(harness_t *h, const char *practice, int keep_k1, const char *kid,
			 const char *pub)
{
	json_t *j = reg_load(h, practice), *keys = json_array(), *old;
	size_t i;

	ck_assert_ptr_nonnull(keys);
	old = json_object_get(j, "token_keys");
	for (i = 0; keep_k1 && i < json_array_size(old); i++)
		if (strcmp(json_string_value(json_object_get(json_array_get(old, i), "kid")),
			   "k1") == 0)
			ck_assert_int_eq(json_array_append(keys, json_array_get(old, i)), 0);
	ck_assert_uint_eq(json_array_size(keys), keep_k1 ? 1 : 0);
	ck_assert_int_eq(json_array_append_new(keys, json_pack("{s:s, s:s}", "kid", kid,
							      "public_key", pub)),
			 0);
	ck_assert_int_eq(json_object_set_new(j, "token_keys", keys), 0);
	reg_save(h, practice, j);
}

/* ---------------------------------------------------------------------- */
/* Connections. */


/* Connected and welcomed with this token ("" for a data-safe). */
static tclient_t *hello_ok(harness_t *h, const char *practice, const char *endpoint,
			   const char *token)
{
	tclient_t *c = itest_open_conn(h, practice, endpoint);
	int rc = tclient_hello(c, token, NULL);

	ck_assert_msg(rc == 0, "%s/%s: hello: %d (%s)", practice, endpoint, rc, tclient_error(c));
	return c;
}

/* A client with a fresh token of its own practice for <practice>/safe-1. */
static tclient_t *client_ok(harness_t *h, const char *practice, const char *endpoint)
{
	return hello_ok(h, practice, endpoint, harness_token(h, practice, endpoint));
}

/* A new connection whose hello gets Close{reason}, then ends. */
static void hello_refused(harness_t *h, const char *what, const char *practice,
			  const char *endpoint, const char *token, int reason)
{
	const Zkrelay__V1__Frame *f = NULL;
	tclient_t *c = itest_open_conn(h, practice, endpoint);
	int rc;

	ck_assert_int_eq(tclient_send_hello(c, token), 0);
	rc = tclient_next_frame(c, WAIT_MS, &f);
	ck_assert_msg(rc == 0, "%s: no answer to hello: %d (%s)", what, rc, tclient_error(c));
	ck_assert_msg(f->body_case == F_CLOSE, "%s: hello answered with %s, expected close", what,
		      tclient_frame_name(f));
	ck_assert_msg((int)f->close->reason == reason, "%s: close reason %d, expected %d", what,
		      (int)f->close->reason, reason);
	rc = tclient_next_frame(c, WAIT_MS, &f);
	ck_assert_msg(rc == TCLIENT_ECLOSED, "%s: connection not ended: %d (%s)", what, rc,
		      tclient_error(c));
	tclient_free(c);
}

static int send_refresh(tclient_t *c, const char *token)
{
	Zkrelay__V1__Refresh r = ZKRELAY__V1__REFRESH__INIT;
	Zkrelay__V1__Frame f = ZKRELAY__V1__FRAME__INIT;
	Zkrelay__V1__Frame *fp = &f;

	r.token = (char *)token;
	f.body_case = ZKRELAY__V1__FRAME__BODY_REFRESH;
	f.refresh = &r;
	return tclient_send_frames(c, &fp, 1);
}

/* One frame each way between a client and a data-safe. */
static void exchange(tclient_t *client, const char *client_addr, tclient_t *safe,
		     const char *safe_addr, uint64_t seq)
{
	SEND(client, safe_addr, 4, seq, 300, TAG(4, seq, 1));
	EXPECT_DATA(safe, WAIT_MS, client_addr, 4, seq, 300, TAG(4, seq, 1));
	SEND(safe, client_addr, 4, seq + 1, 300, TAG(4, seq + 1, 2));
	EXPECT_DATA(client, WAIT_MS, safe_addr, 4, seq + 1, 300, TAG(4, seq + 1, 2));
}

/* Sends SIGHUP; the time it was sent (harness_now_ms()). */
static int64_t sighup(harness_t *h)
{
	int64_t t0 = harness_now_ms();

	ck_assert_int_eq(harness_signal(h, SIGHUP), 0);
	return t0;
}

/* c gets Close{NOT_AUTHORIZED}, and its connection ends with a WebSocket
 * close, within CUT_MS of t0. */
static void expect_cut(tclient_t *c, const char *who, int64_t t0)
{
	const Zkrelay__V1__Frame *f = NULL;
	int64_t left = t0 + CUT_MS - harness_now_ms();
	int rc;

	rc = tclient_next_frame(c, left > 0 ? (int)left : 0, &f);
	ck_assert_msg(rc == 0, "%s: no frame within %d ms of SIGHUP: %d (%s)", who, CUT_MS, rc,
		      tclient_error(c));
	ck_assert_msg(f->body_case == F_CLOSE, "%s: expected close, got %s", who,
		      tclient_frame_name(f));
	ck_assert_msg(f->close->reason == R_NOT_AUTHORIZED, "%s: close reason %d, expected %d", who,
		      (int)f->close->reason, R_NOT_AUTHORIZED);
	left = t0 + CUT_MS - harness_now_ms();
	rc = tclient_next_frame(c, left > 0 ? (int)left : 0, &f);
	ck_assert_msg(rc == TCLIENT_ECLOSED, "%s: not ended within %d ms of SIGHUP: %d (%s)", who,
		      CUT_MS, rc, tclient_error(c));
	ck_assert_msg(tclient_close_code(c) != TCLIENT_CLOSE_ABNORMAL,
		      "%s: ended without a WebSocket close", who);
}

/* The relay logged the n-th reload (1-based) as complete with this many
 * connections cut. */
static void expect_reloaded(harness_t *h, int n, int cut)
{
	char want[64];

	snprintf(want, sizeof(want), "\"connections_cut\":%d", cut);
	ck_assert_msg(harness_log_wait(h, WAIT_MS, "\"event\":\"reloaded\"", want, NULL),
		      "no reloaded line with %s; see %s", want, harness_log_path(h));
	ck_assert_int_eq(harness_log_count(h, "\"event\":\"reloaded\"", NULL), n);
	ck_assert_int_eq(harness_log_count(h, "\"event\":\"reload_failed\"", NULL), 0);
}

/* ---------------------------------------------------------------------- */

/* A revoked jti: only the connection holding that token is cut; the token
 * is refused from then on, another token of the same client is not. */
START_TEST(test_revoke_jti)
{
	harness_t *h = harness_new("accrevoke");
	tclient_t *safe_a, *safe_b, *victim, *other, *b1;
	char *victim_tok;
	int64_t t0;

	ck_assert_ptr_nonnull(h);
	START(h);
	safe_a = hello_ok(h, "practice-a", "safe-1", "");
	safe_b = hello_ok(h, "practice-b", "safe-1", "");
	{
		mint_t m = { "practice-a", "client-1", .jti = "victim-1" };

		victim_tok = mint(h, &m);
	}
	victim = hello_ok(h, "practice-a", "client-1", victim_tok);
	other = client_ok(h, "practice-a", "client-2");
	b1 = client_ok(h, "practice-b", "client-1");
	exchange(victim, "practice-a/client-1", safe_a, SAFE_A, 1);
	exchange(other, "practice-a/client-2", safe_a, SAFE_A, 3);
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 5);

	reg_revoke_jti(h, "practice-a", "victim-1");
	t0 = sighup(h);
	expect_cut(victim, "practice-a/client-1 (revoked jti)", t0);
	tclient_free(victim);
	expect_reloaded(h, 1, 1);

	exchange(other, "practice-a/client-2", safe_a, SAFE_A, 10);
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 12);
	SEND(safe_a, "practice-a/client-1", 4, 14, 100, TAG(4, 14, 0));
	EXPECT_NACK(safe_a, 4, 14, R_NO_ROUTE);
	hello_refused(h, "revoked token again", "practice-a", "client-1", victim_tok,
		      R_TOKEN_INVALID);
	victim = client_ok(h, "practice-a", "client-1");
	exchange(victim, "practice-a/client-1", safe_a, SAFE_A, 20);
	EXPECT_QUIET(other);
	EXPECT_QUIET(b1);
	EXPECT_QUIET(safe_b);
	tclient_free(victim);
	free(victim_tok);
	tclient_free(b1);
	tclient_free(other);
	tclient_free(safe_b);
	tclient_free(safe_a);
	harness_free(h);
}
END_TEST

/* A suspended practice: its data-safe and its clients are cut, the other
 * practice goes on; neither may say hello again. */
START_TEST(test_suspend_practice)
{
	harness_t *h = harness_new("accsuspend");
	tclient_t *safe_a, *a1, *a2, *safe_b, *b1, *b2;
	int64_t t0;

	ck_assert_ptr_nonnull(h);
	START(h);
	safe_a = hello_ok(h, "practice-a", "safe-1", "");
	a1 = client_ok(h, "practice-a", "client-1");
	a2 = client_ok(h, "practice-a", "client-2");
	safe_b = hello_ok(h, "practice-b", "safe-1", "");
	b1 = client_ok(h, "practice-b", "client-1");
	b2 = client_ok(h, "practice-b", "client-2");
	exchange(a1, "practice-a/client-1", safe_a, SAFE_A, 1);
	exchange(a2, "practice-a/client-2", safe_a, SAFE_A, 3);
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 5);

	reg_set_status(h, "practice-a", "suspended");
	t0 = sighup(h);
	expect_cut(safe_a, "practice-a/safe-1", t0);
	expect_cut(a1, "practice-a/client-1", t0);
	expect_cut(a2, "practice-a/client-2", t0);
	expect_reloaded(h, 1, 3);

	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 10);
	exchange(b2, "practice-b/client-2", safe_b, SAFE_B, 12);
	SEND(b1, SAFE_A, 4, 14, 100, TAG(4, 14, 0));
	EXPECT_NACK(b1, 4, 14, R_NO_ROUTE);
	hello_refused(h, "data-safe of the suspended practice", "practice-a", "safe-1", "",
		      R_NOT_AUTHORIZED);
	hello_refused(h, "client of the suspended practice", "practice-a", "client-1",
		      harness_token(h, "practice-a", "client-1"), R_TOKEN_INVALID);
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 20);
	EXPECT_QUIET(b2);
	tclient_free(a1);
	tclient_free(a2);
	tclient_free(safe_a);
	tclient_free(b1);
	tclient_free(b2);
	tclient_free(safe_b);
	harness_free(h);
}
END_TEST

/* A data-safe removed from the registry is cut (its clients stay, and
 * reach the practice's other data-safe) and may not come back. */
START_TEST(test_remove_safe)
{
	harness_t *h = harness_new("accremove");
	tclient_t *safe1, *safe2, *a1, *safe_b, *b1;
	char *tok;
	int64_t t0;

	ck_assert_ptr_nonnull(h);
	ck_assert_msg(harness_pki(h, "issue", "practice-a", "safe", "safe-2", NULL) == 0, "%s",
		      harness_error(h));
	ck_assert_msg(harness_registry(h) == 0, "%s", harness_error(h));
	START(h);
	safe1 = hello_ok(h, "practice-a", "safe-1", "");
	safe2 = hello_ok(h, "practice-a", "safe-2", "");
	{
		mint_t m = { "practice-a", "client-1", .dst = { SAFE_A, "practice-a/safe-2" } };

		tok = mint(h, &m);
	}
	a1 = hello_ok(h, "practice-a", "client-1", tok);
	safe_b = hello_ok(h, "practice-b", "safe-1", "");
	b1 = client_ok(h, "practice-b", "client-1");
	exchange(a1, "practice-a/client-1", safe1, SAFE_A, 1);
	exchange(a1, "practice-a/client-1", safe2, "practice-a/safe-2", 3);
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 5);

	reg_remove_safe(h, "practice-a", "safe-2");
	t0 = sighup(h);
	expect_cut(safe2, "practice-a/safe-2", t0);
	tclient_free(safe2);
	expect_reloaded(h, 1, 1);

	SEND(a1, "practice-a/safe-2", 4, 10, 100, TAG(4, 10, 0));
	EXPECT_NACK(a1, 4, 10, R_NO_ROUTE);
	exchange(a1, "practice-a/client-1", safe1, SAFE_A, 11);
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 13);
	hello_refused(h, "removed data-safe", "practice-a", "safe-2", "", R_NOT_AUTHORIZED);
	exchange(a1, "practice-a/client-1", safe1, SAFE_A, 20);
	EXPECT_QUIET(safe1);
	EXPECT_QUIET(b1);
	tclient_free(a1);
	free(tok);
	tclient_free(safe1);
	tclient_free(b1);
	tclient_free(safe_b);
	harness_free(h);
}
END_TEST

/* Key rotation: k2 is added beside k1 (nothing is cut, a client moves to
 * a k2 token in-band), then k1 is removed: the connections still holding
 * k1 tokens are cut, the k2 one and the other practice stay; a k1 token
 * is refused from then on, a k2 token accepted. */
START_TEST(test_rotate_key)
{
	harness_t *h = harness_new("accrotate");
	tclient_t *safe_a, *a1, *a2, *a3, *safe_b, *b1;
	paseto_sk_t *k2;
	char pub[64], *tok;
	int64_t t0;

	ck_assert_ptr_nonnull(h);
	ck_assert_msg(harness_pki(h, "issue", "practice-a", "client", "client-3", NULL) == 0, "%s",
		      harness_error(h));
	START(h);
	safe_a = hello_ok(h, "practice-a", "safe-1", "");
	a1 = client_ok(h, "practice-a", "client-1");
	a2 = client_ok(h, "practice-a", "client-2");
	a3 = client_ok(h, "practice-a", "client-3");
	safe_b = hello_ok(h, "practice-b", "safe-1", "");
	b1 = client_ok(h, "practice-b", "client-1");
	exchange(a1, "practice-a/client-1", safe_a, SAFE_A, 1);
	exchange(a2, "practice-a/client-2", safe_a, SAFE_A, 3);
	exchange(a3, "practice-a/client-3", safe_a, SAFE_A, 5);
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 7);

	/* Overlap: both keys. */
	k2 = new_token_key(pub, sizeof(pub));
	reg_set_keys(h, "practice-a", 1, "k2", pub);
	sighup(h);
	expect_reloaded(h, 1, 0);
	{
		mint_t m = { "practice-a", "client-2", .kid = "k2", .sk = k2 };

		tok = mint(h, &m);
	}
	ck_assert_int_eq(send_refresh(a2, tok), 0);
	{
		const Zkrelay__V1__Frame *f;

		NEXT(a2, f, WAIT_MS);
		ck_assert_msg(f->body_case == F_ACK, "refresh with a k2 token: %s",
			      tclient_frame_name(f));
		ck_assert_uint_eq(f->ack->seq, 0);
	}
	free(tok);
	exchange(a1, "practice-a/client-1", safe_a, SAFE_A, 10);
	exchange(a2, "practice-a/client-2", safe_a, SAFE_A, 12);

	/* k1 goes. */
	reg_set_keys(h, "practice-a", 0, "k2", pub);
	t0 = sighup(h);
	expect_cut(a1, "practice-a/client-1 (k1 token)", t0);
	expect_cut(a3, "practice-a/client-3 (k1 token)", t0);
	tclient_free(a1);
	tclient_free(a3);
	expect_reloaded(h, 2, 2);

	exchange(a2, "practice-a/client-2", safe_a, SAFE_A, 20);
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 22);
	hello_refused(h, "k1 token after rotation", "practice-a", "client-1",
		      harness_token(h, "practice-a", "client-1"), R_TOKEN_INVALID);
	{
		mint_t m = { "practice-a", "client-1", .kid = "k2", .sk = k2 };

		tok = mint(h, &m);
	}
	a1 = hello_ok(h, "practice-a", "client-1", tok);
	free(tok);
	exchange(a1, "practice-a/client-1", safe_a, SAFE_A, 30);
	exchange(a2, "practice-a/client-2", safe_a, SAFE_A, 32);
	/* Practice-b's own k1 is not practice-a's. */
	tclient_free(b1);
	b1 = client_ok(h, "practice-b", "client-1");
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 34);
	EXPECT_QUIET(a2);
	paseto_sk_free(&k2);
	tclient_free(a1);
	tclient_free(a2);
	tclient_free(safe_a);
	tclient_free(b1);
	tclient_free(safe_b);
	harness_free(h);
}
END_TEST

/* One registry file that is not JSON: the reload fails as a whole (the
 * valid change in another file is not taken either), nothing is cut, and
 * the old registry decides new hellos. Once the file is fixed, the next
 * SIGHUP takes both files. */
START_TEST(test_broken_registry)
{
	static const char broken[] = "{ \"practice_id\": \"practice-a\", \"status\": \n";
	harness_t *h = harness_new("accbroken");
	tclient_t *safe_a, *a1, *a2, *safe_b, *b1, *b2;
	json_t *good_a;
	int64_t t0;
	FILE *fp;

	ck_assert_ptr_nonnull(h);
	START(h);
	safe_a = hello_ok(h, "practice-a", "safe-1", "");
	a1 = client_ok(h, "practice-a", "client-1");
	safe_b = hello_ok(h, "practice-b", "safe-1", "");
	b1 = client_ok(h, "practice-b", "client-1");
	exchange(a1, "practice-a/client-1", safe_a, SAFE_A, 1);
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 3);

	good_a = reg_load(h, "practice-a");
	reg_set_status(h, "practice-b", "suspended");
	fp = fopen(reg_path(h, "practice-a"), "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fwrite(broken, 1, sizeof(broken) - 1, fp), sizeof(broken) - 1);
	ck_assert_int_eq(fclose(fp), 0);
	sighup(h);
	ck_assert_msg(harness_log_wait(h, WAIT_MS, "\"event\":\"reload_failed\"", "registry", NULL),
		      "no reload_failed line for the registry; see %s", harness_log_path(h));
	ck_assert_msg(harness_log_wait(h, WAIT_MS, "\"event\":\"reload_incomplete\"",
				       "\"connections_cut\":0", NULL),
		      "no reload_incomplete line with connections_cut 0; see %s",
		      harness_log_path(h));
	ck_assert_msg(!harness_log_find(h, "\"event\":\"reloaded\"", NULL),
		      "a failed reload logged reloaded");
	ck_assert_msg(harness_running(h), "relay exited after a failed reload");

	/* Nothing cut, the old registry in force: k1 tokens of practice-a
	 * are still accepted and practice-b is still active. */
	exchange(a1, "practice-a/client-1", safe_a, SAFE_A, 10);
	exchange(b1, "practice-b/client-1", safe_b, SAFE_B, 12);
	a2 = client_ok(h, "practice-a", "client-2");
	b2 = client_ok(h, "practice-b", "client-2");
	exchange(a2, "practice-a/client-2", safe_a, SAFE_A, 14);
	exchange(b2, "practice-b/client-2", safe_b, SAFE_B, 16);
	EXPECT_QUIET(a1);
	EXPECT_QUIET(b1);

	/* Fixed: now practice-b's suspension takes effect. */
	reg_save(h, "practice-a", good_a);
	t0 = sighup(h);
	expect_cut(safe_b, "practice-b/safe-1", t0);
	expect_cut(b1, "practice-b/client-1", t0);
	expect_cut(b2, "practice-b/client-2", t0);
	ck_assert_msg(harness_log_wait(h, WAIT_MS, "\"event\":\"reloaded\"", "\"connections_cut\":3",
				       NULL),
		      "no reloaded line with connections_cut 3; see %s", harness_log_path(h));
	exchange(a1, "practice-a/client-1", safe_a, SAFE_A, 20);
	exchange(a2, "practice-a/client-2", safe_a, SAFE_A, 22);
	tclient_free(b2);
	tclient_free(b1);
	tclient_free(safe_b);
	tclient_free(a2);
	tclient_free(a1);
	tclient_free(safe_a);
	harness_free(h);
}
END_TEST

Suite *access_reload_suite(void)
{
	Suite *s = suite_create("access_reload");
	TCase *tc = tcase_create("access_reload");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_revoke_jti);
	tcase_add_test(tc, test_suspend_practice);
	tcase_add_test(tc, test_remove_safe);
	tcase_add_test(tc, test_rotate_key);
	tcase_add_test(tc, test_broken_registry);
	suite_add_tcase(s, tc);
	return s;
}
