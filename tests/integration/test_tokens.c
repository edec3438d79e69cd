/* Access tokens at the real relay (DESIGN.md, "Access tokens"; relay/token.h):
 * who may send to whom under which token, the hellos that must be refused,
 * expiry in the middle of a connection and in-band refresh. */
#include <jansson.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "tokenmint.h"

#define F_ACK ZKRELAY__V1__FRAME__BODY_ACK
#define R_TOKEN_INVALID ZKRELAY__V1__REASON__REASON_TOKEN_INVALID
#define R_TOKEN_EXPIRED ZKRELAY__V1__REASON__REASON_TOKEN_EXPIRED
#define R_NOT_AUTHORIZED ZKRELAY__V1__REASON__REASON_NOT_AUTHORIZED

#define RELAY_ID "zkrelay-dev"

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleeps until the wall clock reaches t_ms. */
static void sleep_until(int64_t t_ms)
{
	int64_t left;

	while ((left = t_ms - wall_ms()) > 0)
		harness_sleep_ms(left > 50 ? 50 : (int)left);
}

/* ---------------------------------------------------------------------- */
/* Issuing tokens. */

/* One token. Every field left 0/NULL takes the value a practice would
 * normally use for this holder. */
typedef struct {
	const char *practice, *endpoint;         /* the holder */
	const char *cnf_practice, *cnf_endpoint; /* certificate of cnf; NULL: the holder's */
	const char *sub;                         /* NULL: "<practice>/<endpoint>" */
	const char *iss;                         /* NULL: the holder's practice */
	const char *kid;                         /* NULL: "k1" */
	const char *key_of;                      /* practice whose token-k1.key signs; NULL: iss */
	const char *aud;                         /* NULL: the relay's id */
	const char *jti;                         /* NULL: a fresh one */
	/* Offsets from now in seconds; all three 0: iat = nbf = now, exp = now + 3600. */
	int64_t iat, nbf, exp;
	const char *dst[4];                      /* none: "<iss>/safe-1" */
} mint_t;

/* The token as a malloc'd string; fails the test if it cannot be made. */
static char *mint(harness_t *h, const mint_t *m)
{
	static unsigned serial;
	const char *iss = m->iss ? m->iss : m->practice;
	const char *dst[4];
	char sub[160], jti[64], dst0[160], *tok = NULL;
	paseto_sk_t *sk = NULL;
	int64_t now = (int64_t)time(NULL);
	tokenmint_t t;
	size_t n = 0;
	int rc;

	while (n < 4 && m->dst[n] != NULL) {
		dst[n] = m->dst[n];
		n++;
	}
	if (n == 0) {
		snprintf(dst0, sizeof(dst0), "%s/safe-1", iss);
		dst[n++] = dst0;
	}
	snprintf(sub, sizeof(sub), "%s/%s", m->practice, m->endpoint);
	snprintf(jti, sizeof(jti), "tok-%d-%u", (int)getpid(), ++serial);
	memset(&t, 0, sizeof(t));
	t.iss = iss;
	t.kid = m->kid ? m->kid : "k1";
	t.sub = m->sub ? m->sub : sub;
	t.aud = m->aud ? m->aud : RELAY_ID;
	t.jti = m->jti ? m->jti : jti;
	if (m->iat == 0 && m->nbf == 0 && m->exp == 0) {
		t.iat = t.nbf = now;
		t.exp = now + 3600;
	} else {
		t.iat = now + m->iat;
		t.nbf = now + m->nbf;
		t.exp = now + m->exp;
	}
	t.dst = dst;
	t.ndst = n;
	rc = tokenmint_cert_cnf(harness_cert(h, m->cnf_practice ? m->cnf_practice : m->practice,
					     m->cnf_endpoint ? m->cnf_endpoint : m->endpoint),
				t.cnf);
	ck_assert_msg(rc == 0, "cnf of %s: %d", sub, rc);
	rc = tokenmint_load_key(harness_path(h, "pki/%s/token-k1.key", m->key_of ? m->key_of : iss),
				&sk);
	ck_assert_msg(rc == 0, "token key of %s: %d", m->key_of ? m->key_of : iss, rc);
	rc = tokenmint(sk, &t, &tok);
	paseto_sk_free(&sk);
	ck_assert_msg(rc == 0 && tok != NULL, "tokenmint for %s: %d", sub, rc);
	return tok;
}

/* ---------------------------------------------------------------------- */
/* Connections. */


/* Connected and welcomed with this token ("" for a data-safe). */
static tclient_t *hello_ok(harness_t *h, const char *practice, const char *endpoint,
			   const char *token)
{
	const Zkrelay__V1__Welcome *w = NULL;
	tclient_t *c = itest_open_conn(h, practice, endpoint);
	int rc = tclient_hello(c, token, &w);

	ck_assert_msg(rc == 0, "%s/%s: hello: %d (%s)", practice, endpoint, rc, tclient_error(c));
	ck_assert_str_eq(w->practice_id, practice);
	ck_assert_str_eq(w->endpoint_id, endpoint);
	return c;
}

/* The hello with this token gets Close{reason} and nothing else, then the
 * connection ends with a WebSocket close. The raw message of the Close
 * goes to raw (cap bytes), its length to *raw_len. */
static void hello_refused(harness_t *h, const char *what, const char *practice,
			  const char *endpoint, const char *token, int reason, uint8_t *raw,
			  size_t cap, size_t *raw_len)
{
	const Zkrelay__V1__Frame *f = NULL;
	tclient_t *c = itest_open_conn(h, practice, endpoint);
	const uint8_t *p;
	size_t n;
	int rc;

	rc = tclient_send_hello(c, token);
	ck_assert_msg(rc == 0, "%s: send hello: %d (%s)", what, rc, tclient_error(c));
	rc = tclient_next_frame(c, WAIT_MS, &f);
	ck_assert_msg(rc == 0, "%s: no answer to hello: %d (%s)", what, rc, tclient_error(c));
	ck_assert_msg(f->body_case == F_CLOSE, "%s: hello answered with %s, expected close", what,
		      tclient_frame_name(f));
	ck_assert_msg((int)f->close->reason == reason, "%s: close reason %d, expected %d", what,
		      (int)f->close->reason, reason);
	ck_assert_msg(tclient_frames_buffered(c) == 0, "%s: more than the close in one message",
		      what);
	p = tclient_last_msg(c, &n);
	ck_assert_uint_le(n, cap);
	memcpy(raw, p, n);
	*raw_len = n;
	rc = tclient_next_frame(c, WAIT_MS, &f);
	ck_assert_msg(rc == TCLIENT_ECLOSED, "%s: connection not ended after close: %d %s (%s)",
		      what, rc, rc == 0 ? tclient_frame_name(f) : "", tclient_error(c));
	ck_assert_msg(tclient_close_code(c) != TCLIENT_CLOSE_ABNORMAL,
		      "%s: ended without a WebSocket close", what);
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

#define EXPECT_ACK0(c)                                                                \
	do {                                                                          \
		const Zkrelay__V1__Frame *fa_;                                        \
		NEXT((c), fa_, WAIT_MS);                                              \
		ck_assert_msg(fa_->body_case == F_ACK, "expected ack, got %s",        \
			      tclient_frame_name(fa_));                               \
		ck_assert_uint_eq(fa_->ack->seq, 0);                                  \
	} while (0)

/* Edits one practice's registry file in place (before the relay starts). */
static void reg_edit(harness_t *h, const char *practice, const char *status, const char *jti)
{
	char path[600], tmp[620];
	json_error_t e;
	json_t *j;

	snprintf(path, sizeof(path), "%s", harness_path(h, "pki/registry/%s.json", practice));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	ck_assert_msg(j != NULL, "%s: %s", path, e.text);
	if (status != NULL)
		ck_assert_int_eq(json_object_set_new(j, "status", json_string(status)), 0);
	if (jti != NULL)
		ck_assert_int_eq(json_array_append_new(json_object_get(j, "revoked_jti"),
						       json_string(jti)),
				 0);
	ck_assert_int_eq(json_dump_file(j, tmp, JSON_INDENT(2)), 0);
	ck_assert_int_eq(rename(tmp, path), 0);
	json_decref(j);
}

static void issue(harness_t *h, const char *practice, const char *role, const char *endpoint)
{
	ck_assert_msg(harness_pki(h, "issue", practice, role, endpoint, NULL) == 0,
		      "issue %s/%s: %s", practice, endpoint, harness_error(h));
}

/* ---------------------------------------------------------------------- */
/* The authorization matrix. */

enum { A_S1, A_S2, B_S1, C_S1, A_C1, A_C2, B_C1, B_C2, C_C1, C_C2, NEP };

typedef struct {
	const char *practice, *endpoint;
	const char *iss;    /* issuer of its token; NULL: none (a data-safe) */
	const char *dst[4]; /* the token's destinations */
} ep_t;

static const ep_t eps[NEP] = {
	/* practice-b grants practice-a's data-safe access to its own. */
	[A_S1] = { "practice-a", "safe-1", "practice-b", { "practice-b/safe-1" } },
	[A_S2] = { "practice-a", "safe-2", NULL, { NULL } },
	[B_S1] = { "practice-b", "safe-1", NULL, { NULL } },
	[C_S1] = { "practice-c", "safe-1", NULL, { NULL } },
	/* practice-a/safe-3 does not exist: permitted, but never online. */
	[A_C1] = { "practice-a", "client-1", "practice-a",
		   { "practice-a/safe-1", "practice-a/safe-2", "practice-a/safe-3" } },
	[A_C2] = { "practice-a", "client-2", "practice-a", { "practice-a/safe-2" } },
	[B_C1] = { "practice-b", "client-1", "practice-b", { "practice-b/safe-1" } },
	[B_C2] = { "practice-b", "client-2", "practice-b", { "practice-b/safe-9" } },
	[C_C1] = { "practice-c", "client-1", "practice-c", { "practice-c/safe-1" } },
	[C_C2] = { "practice-c", "client-2", "practice-c",
		   { "practice-c/safe-1", "practice-c/safe-2" } },
};

/* Destinations nobody holds: named in a token but offline, unknown
 * endpoint, unknown practice. */
static const char *const absent[] = { "practice-a/safe-3", "practice-b/safe-9",
				      "practice-zz/safe-1", "practice-c/client-9" };
enum { NABSENT = sizeof(absent) / sizeof(absent[0]), NTARGET = NEP + NABSENT };

typedef struct {
	int from, to;
} pair_t;

/* What gets through in the first round, in which every endpoint in the
 * order above sends one frame to every target (so the data-safes speak
 * before any client has written to them) ... */
static const pair_t round1[] = {
	{ A_S1, B_S1 }, /* the cross-practice grant */
	{ B_S1, A_S1 }, /* its answer: a/safe-1 wrote to b/safe-1 under it */
	{ A_C1, A_S1 }, { A_C1, A_S2 }, { A_C2, A_S2 },
	{ B_C1, B_S1 }, { C_C1, C_S1 }, { C_C2, C_S1 },
};
/* ... and in the second: the same plus the data-safes answering the
 * clients that wrote to them. */
static const pair_t round2_extra[] = {
	{ A_S1, A_C1 }, { A_S2, A_C1 }, { A_S2, A_C2 },
	{ B_S1, B_C1 }, { C_S1, C_C1 }, { C_S1, C_C2 },
};

static int pair_in(const pair_t *p, size_t n, int from, int to)
{
	for (size_t i = 0; i < n; i++)
		if (p[i].from == from && p[i].to == to)
			return 1;
	return 0;
}

static int expect_delivered(int round, int from, int to)
{
	if (to >= NEP)
		return 0;
	return pair_in(round1, sizeof(round1) / sizeof(round1[0]), from, to) ||
	       (round == 2 &&
		pair_in(round2_extra, sizeof(round2_extra) / sizeof(round2_extra[0]), from, to));
}

/* The first no_route nack seen; every later one must equal it byte for
 * byte except in its seq. All seqs are 0x4000 + k, k < 128: three varint
 * bytes of which only the first depends on k. */
typedef struct {
	uint8_t raw[256];
	size_t len;
	uint64_t seq;
	unsigned count;
} nack_ref_t;

static void check_nack_bytes(nack_ref_t *ref, tclient_t *c, uint64_t seq, const char *what)
{
	const uint8_t *raw;
	size_t len, k, diff = 0;

	ck_assert_msg(tclient_frames_buffered(c) == 0, "%s: more than the nack in one message",
		      what);
	raw = tclient_last_msg(c, &len);
	ref->count++;
	if (ref->len == 0) {
		ck_assert_uint_le(len, sizeof(ref->raw));
		memcpy(ref->raw, raw, len);
		ref->len = len;
		ref->seq = seq;
		return;
	}
	ck_assert_msg(len == ref->len, "%s: nack is %zu bytes, the first one %zu", what, len,
		      ref->len);
	for (k = 0; k < len; k++)
		diff += raw[k] != ref->raw[k];
	ck_assert_msg(diff == (seq != ref->seq ? 1u : 0u),
		      "%s: nack differs from the first one in %zu bytes", what, diff);
}

static void addr_of(int i, char *buf, size_t cap)
{
	if (i < NEP)
		snprintf(buf, cap, "%s/%s", eps[i].practice, eps[i].endpoint);
	else
		snprintf(buf, cap, "%s", absent[i - NEP]);
}

/* Nothing is left unread on any connection. */
static void expect_all_quiet(tclient_t *const *c, const char *when)
{
	harness_sleep_ms(150);
	for (int i = 0; i < NEP; i++) {
		const Zkrelay__V1__Frame *f = NULL;
		char a[160];
		int rc = tclient_next_frame(c[i], 1, &f);

		addr_of(i, a, sizeof(a));
		ck_assert_msg(rc == TCLIENT_ETIMEOUT, "%s: %s got %d %s (%s)", when, a, rc,
			      rc == 0 ? tclient_frame_name(f) : "", tclient_error(c[i]));
	}
}

/* Three practices, each with a data-safe and clients whose tokens name
 * different destinations, one cross-practice grant; every (sender,
 * destination) pair is either delivered or refused with the one no_route
 * nack, which is the same bytes whatever the reason. */
START_TEST(test_matrix)
{
	enum { STREAM = 9, LEN = 64 };
	harness_t *h = harness_new("tokmatrix");
	tclient_t *c[NEP];
	nack_ref_t ref;
	unsigned delivered[3] = { 0, 0, 0 };

	ck_assert_ptr_nonnull(h);
	issue(h, "practice-a", "safe", "safe-2");
	issue(h, "practice-c", "safe", "safe-1");
	issue(h, "practice-c", "client", "client-1");
	issue(h, "practice-c", "client", "client-2");
	ck_assert_msg(harness_registry(h) == 0, "%s", harness_error(h));
	START(h);

	for (int i = 0; i < NEP; i++) {
		char *tok = NULL;

		if (eps[i].iss != NULL) {
			mint_t m = { .practice = eps[i].practice, .endpoint = eps[i].endpoint,
				     .iss = eps[i].iss };
			memcpy(m.dst, eps[i].dst, sizeof(m.dst));
			tok = mint(h, &m);
		}
		c[i] = hello_ok(h, eps[i].practice, eps[i].endpoint, tok ? tok : "");
		free(tok);
	}

	memset(&ref, 0, sizeof(ref));
	for (int round = 1; round <= 2; round++) {
		for (int from = 0; from < NEP; from++) {
			char src[160];

			addr_of(from, src, sizeof(src));
			for (int to = 0; to < NTARGET; to++) {
				const uint64_t seq = 0x4000 + (uint64_t)(round * 32 + to);
				const uint64_t tag = TAG(STREAM, seq, from);
				char dst[160], what[400];
				const Zkrelay__V1__Frame *f = NULL;
				int rc;

				addr_of(to, dst, sizeof(dst));
				snprintf(what, sizeof(what), "round %d, %s -> %s", round, src, dst);
				rc = itest_send(c[from], dst, STREAM, seq, LEN, tag);
				ck_assert_msg(rc == 0, "%s: send: %d (%s)", what, rc,
					      tclient_error(c[from]));
				if (expect_delivered(round, from, to)) {
					char m_[256];
					const char *e;

					rc = tclient_next_frame(c[to], WAIT_MS, &f);
					ck_assert_msg(rc == 0, "%s: not delivered: %d (%s)", what, rc,
						      tclient_error(c[to]));
					e = itest_check_data(f, src, STREAM, seq, LEN, tag, m_,
							     sizeof(m_));
					ck_assert_msg(e == NULL, "%s: %s", what, e);
					delivered[round]++;
					continue;
				}
				rc = tclient_next_frame(c[from], WAIT_MS, &f);
				ck_assert_msg(rc == 0, "%s: neither delivered nor nacked: %d (%s)",
					      what, rc, tclient_error(c[from]));
				ck_assert_msg(f->body_case == F_NACK,
					      "%s: expected nack no_route, got %s", what,
					      tclient_frame_name(f));
				ck_assert_msg(f->nack->stream == STREAM && f->nack->seq == seq &&
						      f->nack->reason == R_NO_ROUTE,
					      "%s: nack stream %u seq %llu reason %d", what,
					      f->nack->stream, (unsigned long long)f->nack->seq,
					      (int)f->nack->reason);
				check_nack_bytes(&ref, c[from], seq, what);
			}
		}
		expect_all_quiet(c, round == 1 ? "after round 1" : "after round 2");
	}
	ck_assert_uint_eq(delivered[1], sizeof(round1) / sizeof(round1[0]));
	ck_assert_uint_eq(delivered[2], sizeof(round1) / sizeof(round1[0]) +
						sizeof(round2_extra) / sizeof(round2_extra[0]));
	ck_assert_uint_eq(ref.count, 2u * NEP * NTARGET - delivered[1] - delivered[2]);
	for (int i = 0; i < NEP; i++)
		tclient_free(c[i]);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Refused hellos. */

typedef struct {
	const char *what;
	mint_t m;          /* the token; m.practice/m.endpoint also connect */
	const char *raw;   /* a literal token instead of m, if not NULL */
	const char *as_endpoint; /* connect as this endpoint of m.practice; NULL: m's */
} refusal_t;

#define A_CLIENT1 .practice = "practice-a", .endpoint = "client-1"

static const refusal_t refusals[] = {
	{ "expired", { A_CLIENT1, .iat = -900, .nbf = -900, .exp = -120 }, NULL, NULL },
	{ "not yet valid", { A_CLIENT1, .iat = 0, .nbf = 600, .exp = 1200 }, NULL, NULL },
	{ "revoked jti", { A_CLIENT1, .jti = "revoked-1" }, NULL, NULL },
	{ "bound to another certificate",
	  { A_CLIENT1, .cnf_practice = "practice-a", .cnf_endpoint = "client-2" }, NULL, NULL },
	{ "another client's token", { .practice = "practice-a", .endpoint = "client-2" }, NULL,
	  "client-1" },
	{ "signed with another practice's key", { A_CLIENT1, .key_of = "practice-b" }, NULL,
	  NULL },
	{ "unknown key id", { A_CLIENT1, .kid = "k9" }, NULL, NULL },
	{ "unknown issuer",
	  { A_CLIENT1, .iss = "practice-zz", .key_of = "practice-a",
	    .dst = { "practice-zz/safe-1" } },
	  NULL, NULL },
	{ "suspended practice", { .practice = "practice-c", .endpoint = "client-1" }, NULL,
	  NULL },
	{ "grant from a suspended practice",
	  { .practice = "practice-a", .endpoint = "safe-1", .iss = "practice-c" }, NULL, NULL },
	{ "wrong aud", { A_CLIENT1, .aud = "zkrelay-other" }, NULL, NULL },
	{ "sub of another endpoint", { A_CLIENT1, .sub = "practice-a/client-2" }, NULL, NULL },
	{ "sub of another practice", { A_CLIENT1, .sub = "practice-b/client-1" }, NULL, NULL },
	{ "lifetime over an hour", { A_CLIENT1, .iat = 0, .nbf = 0, .exp = 3601 }, NULL, NULL },
	{ "dst outside the issuing practice", { A_CLIENT1, .dst = { "practice-b/safe-1" } },
	  NULL, NULL },
	{ "one dst outside the issuing practice",
	  { A_CLIENT1, .dst = { "practice-a/safe-1", "practice-b/safe-1" } }, NULL, NULL },
	{ "no token", { A_CLIENT1 }, "", NULL },
	{ "not a token", { A_CLIENT1 }, "v4.public.AAAAAAAA", NULL },
};

/* Every hello whose token fails any check is refused with the same
 * Close{TOKEN_INVALID}, byte for byte; a data-safe of a suspended practice
 * or one missing from the registry with Close{NOT_AUTHORIZED}. A refused
 * hello takes nothing from the connection already holding that identity. */
START_TEST(test_hello_refused)
{
	harness_t *h = harness_new("tokrefuse");
	uint8_t first[256], raw[256], first18[256];
	size_t first_len = 0, len, first18_len = 0;
	tclient_t *safe, *client, *b_client;
	char *tok;

	ck_assert_ptr_nonnull(h);
	issue(h, "practice-c", "safe", "safe-1");
	issue(h, "practice-c", "client", "client-1");
	ck_assert_msg(harness_registry(h) == 0, "%s", harness_error(h));
	reg_edit(h, "practice-c", "suspended", NULL);
	reg_edit(h, "practice-a", NULL, "revoked-1");
	/* Certified by the CA, but not in the registry. */
	issue(h, "practice-a", "safe", "safe-9");
	START(h);

	/* Controls: the setup admits what it should. */
	safe = hello_ok(h, "practice-a", "safe-1", "");
	{
		mint_t m = { A_CLIENT1, .iat = 0, .nbf = 0, .exp = 3600 }; /* longest allowed */

		tok = mint(h, &m);
		client = hello_ok(h, "practice-a", "client-1", tok);
		free(tok);
	}
	b_client = hello_ok(h, "practice-b", "client-1", harness_token(h, "practice-b", "client-1"));

	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		const refusal_t *r = &refusals[i];
		const char *ep = r->as_endpoint ? r->as_endpoint : r->m.endpoint;

		tok = r->raw ? strdup(r->raw) : mint(h, &r->m);
		ck_assert_ptr_nonnull(tok);
		hello_refused(h, r->what, r->m.practice, ep, tok, R_TOKEN_INVALID, raw, sizeof(raw),
			      &len);
		free(tok);
		if (first_len == 0) {
			memcpy(first, raw, len);
			first_len = len;
		} else {
			ck_assert_msg(len == first_len && memcmp(raw, first, len) == 0,
				      "%s: the close differs from the one for %s", r->what,
				      refusals[0].what);
		}
	}

	hello_refused(h, "data-safe of a suspended practice", "practice-c", "safe-1", "",
		      R_NOT_AUTHORIZED, first18, sizeof(first18), &first18_len);
	hello_refused(h, "data-safe missing from the registry", "practice-a", "safe-9", "",
		      R_NOT_AUTHORIZED, raw, sizeof(raw), &len);
	ck_assert_msg(len == first18_len && memcmp(raw, first18, len) == 0,
		      "the two not_authorized closes differ");

	/* The connections that were admitted are still there and route. */
	SEND(client, "practice-a/safe-1", 1, 1, 100, TAG(1, 1, 0));
	EXPECT_DATA(safe, WAIT_MS, "practice-a/client-1", 1, 1, 100, TAG(1, 1, 0));
	SEND(safe, "practice-a/client-1", 1, 2, 100, TAG(1, 2, 0));
	EXPECT_DATA(client, WAIT_MS, "practice-a/safe-1", 1, 2, 100, TAG(1, 2, 0));
	SEND(b_client, "practice-b/safe-1", 1, 3, 100, TAG(1, 3, 0));
	EXPECT_NACK(b_client, 1, 3, R_NO_ROUTE); /* offline */
	EXPECT_QUIET(safe);
	EXPECT_QUIET(client);
	ck_assert_msg(!harness_log_find(h, "connection_replaced", NULL),
		      "a refused hello replaced a connection; see %s", harness_log_path(h));
	tclient_free(b_client);
	tclient_free(client);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Expiry and refresh (leeway 0, grace 1 s). */

#define GRACE_S 1

static harness_t *expiry_relay(const char *name)
{
	harness_t *h = harness_new(name);

	ck_assert_ptr_nonnull(h);
	harness_set_int(h, "tokens", "leeway_s", 0);
	harness_set_int(h, "tokens", "grace_s", GRACE_S);
	return h;
}

/* A client token that expires 2 s after it was issued (exp in *exp_s),
 * issued just after a second began so that nearly all of it is left. */
static char *short_token(harness_t *h, int64_t *exp_s)
{
	mint_t m = { A_CLIENT1, .iat = 0, .nbf = 0, .exp = 2 };
	int64_t now;
	char *tok;

	sleep_until(((int64_t)time(NULL) + 1) * 1000 + 20);
	now = (int64_t)time(NULL);
	tok = mint(h, &m);
	ck_assert_msg((int64_t)time(NULL) == now, "issuing a token took a second");
	*exp_s = now + 2;
	return tok;
}

static void exchange(tclient_t *client, tclient_t *safe, uint64_t seq)
{
	SEND(client, "practice-a/safe-1", 3, seq, 200, TAG(3, seq, 0));
	EXPECT_DATA(safe, WAIT_MS, "practice-a/client-1", 3, seq, 200, TAG(3, seq, 0));
	SEND(safe, "practice-a/client-1", 3, seq + 1, 200, TAG(3, seq + 1, 0));
	EXPECT_DATA(client, WAIT_MS, "practice-a/safe-1", 3, seq + 1, 200, TAG(3, seq + 1, 0));
}

/* Frames before exp are delivered; after it the client's frames are
 * nacked TOKEN_EXPIRED at once and the data-safe can no longer answer;
 * grace_s later the relay closes with Close{TOKEN_EXPIRED}. */
START_TEST(test_expiry)
{
	harness_t *h = expiry_relay("tokexpiry");
	const Zkrelay__V1__Frame *f = NULL;
	tclient_t *safe, *client;
	int64_t exp_s, t;
	char *tok;
	int rc;

	START(h);
	safe = hello_ok(h, "practice-a", "safe-1", "");
	tok = short_token(h, &exp_s);
	client = hello_ok(h, "practice-a", "client-1", tok);
	ck_assert_msg(wall_ms() < exp_s * 1000 - 300, "setup too slow for a 2 s token");
	exchange(client, safe, 1);

	sleep_until(exp_s * 1000 + 50);
	SEND(client, "practice-a/safe-1", 3, 10, 200, TAG(3, 10, 0));
	EXPECT_NACK(client, 3, 10, R_TOKEN_EXPIRED);
	SEND(safe, "practice-a/client-1", 3, 11, 200, TAG(3, 11, 0));
	EXPECT_NACK(safe, 3, 11, R_NO_ROUTE);
	EXPECT_QUIET(safe);

	rc = tclient_next_frame(client, (GRACE_S + 3) * 1000, &f);
	t = wall_ms();
	ck_assert_msg(rc == 0, "no close after the grace period: %d (%s)", rc,
		      tclient_error(client));
	ck_assert_msg(f->body_case == F_CLOSE, "expected close, got %s", tclient_frame_name(f));
	ck_assert_int_eq(f->close->reason, R_TOKEN_EXPIRED);
	ck_assert_msg(t >= (exp_s + GRACE_S) * 1000 - 100,
		      "closed %lld ms after exp, before the %d s grace period",
		      (long long)(t - exp_s * 1000), GRACE_S);
	ck_assert_msg(t <= (exp_s + GRACE_S) * 1000 + 1500, "closed %lld ms after exp",
		      (long long)(t - exp_s * 1000));
	EXPECT_ENDED(client);
	tclient_free(client);
	free(tok);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* A Refresh before exp (acknowledged with Ack{0}) keeps the connection
 * routing past the old exp and the grace period, without a reconnect, and
 * its destinations replace the old ones. */
START_TEST(test_refresh)
{
	harness_t *h = expiry_relay("tokrefresh");
	tclient_t *safe, *safe2, *client;
	int64_t exp_s;
	char *tok, *fresh;

	issue(h, "practice-a", "safe", "safe-2");
	ck_assert_msg(harness_registry(h) == 0, "%s", harness_error(h));
	START(h);
	safe = hello_ok(h, "practice-a", "safe-1", "");
	safe2 = hello_ok(h, "practice-a", "safe-2", "");
	tok = short_token(h, &exp_s);
	client = hello_ok(h, "practice-a", "client-1", tok);
	exchange(client, safe, 1);
	SEND(client, "practice-a/safe-2", 3, 3, 200, TAG(3, 3, 0));
	EXPECT_NACK(client, 3, 3, R_NO_ROUTE); /* not in this token */

	{
		mint_t m = { A_CLIENT1, .dst = { "practice-a/safe-1", "practice-a/safe-2" } };

		fresh = mint(h, &m);
	}
	ck_assert_int_eq(send_refresh(client, fresh), 0);
	EXPECT_ACK0(client);
	ck_assert_msg(wall_ms() < exp_s * 1000, "refresh acknowledged only after exp");
	SEND(client, "practice-a/safe-2", 3, 4, 200, TAG(3, 4, 0));
	EXPECT_DATA(safe2, WAIT_MS, "practice-a/client-1", 3, 4, 200, TAG(3, 4, 0));

	sleep_until((exp_s + GRACE_S) * 1000 + 600);
	exchange(client, safe, 10);
	SEND(safe2, "practice-a/client-1", 3, 12, 200, TAG(3, 12, 0));
	EXPECT_DATA(client, WAIT_MS, "practice-a/safe-2", 3, 12, 200, TAG(3, 12, 0));
	EXPECT_QUIET(client);
	ck_assert_msg(!tclient_closed(client), "connection closed");
	tclient_free(client);
	free(fresh);
	free(tok);
	tclient_free(safe2);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* A Refresh after exp, within the grace period, restores routing and
 * cancels the close. */
START_TEST(test_refresh_in_grace)
{
	harness_t *h = expiry_relay("tokgrace");
	tclient_t *safe, *client;
	int64_t exp_s;
	char *tok, *fresh;

	START(h);
	safe = hello_ok(h, "practice-a", "safe-1", "");
	tok = short_token(h, &exp_s);
	client = hello_ok(h, "practice-a", "client-1", tok);
	exchange(client, safe, 1);

	sleep_until(exp_s * 1000 + 50);
	SEND(client, "practice-a/safe-1", 3, 5, 200, TAG(3, 5, 0));
	EXPECT_NACK(client, 3, 5, R_TOKEN_EXPIRED);
	{
		mint_t m = { A_CLIENT1 };

		fresh = mint(h, &m);
	}
	ck_assert_int_eq(send_refresh(client, fresh), 0);
	EXPECT_ACK0(client);
	exchange(client, safe, 10);

	sleep_until((exp_s + GRACE_S) * 1000 + 600);
	exchange(client, safe, 20);
	EXPECT_QUIET(client);
	ck_assert_msg(!tclient_closed(client), "connection closed");
	tclient_free(client);
	free(fresh);
	free(tok);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* A refresh is checked like a hello: a token bound to another certificate
 * ends the connection with Close{TOKEN_INVALID}. */
START_TEST(test_refresh_invalid)
{
	harness_t *h = harness_new("tokrefbad");
	tclient_t *safe, *client;
	char *bad;

	START(h);
	safe = hello_ok(h, "practice-a", "safe-1", "");
	client = hello_ok(h, "practice-a", "client-1", harness_token(h, "practice-a", "client-1"));
	exchange(client, safe, 1);
	{
		mint_t m = { A_CLIENT1, .cnf_practice = "practice-a", .cnf_endpoint = "client-2" };

		bad = mint(h, &m);
	}
	ck_assert_int_eq(send_refresh(client, bad), 0);
	EXPECT_CLOSE_FRAME(client, R_TOKEN_INVALID);
	EXPECT_ENDED(client);
	SEND(safe, "practice-a/client-1", 3, 5, 200, TAG(3, 5, 0));
	EXPECT_NACK(safe, 3, 5, R_NO_ROUTE);
	tclient_free(client);
	free(bad);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

Suite *tokens_suite(void)
{
	Suite *s = suite_create("tokens");
	TCase *tc = tcase_create("tokens");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_matrix);
	tcase_add_test(tc, test_hello_refused);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_refresh);
	tcase_add_test(tc, test_refresh_in_grace);
	tcase_add_test(tc, test_refresh_invalid);
	suite_add_tcase(s, tc);
	return s;
}
