/* audit.c: the relay's audit trail. Each event is written, read back and
 * parsed; every refused argument leaves the file as it was; export is
 * checked line for line against the file, including the peer rule and
 * look-alike practice ids. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"
#include "hashchain.h"
#include "suites.h"
#include "token.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERRLEN 512
#define MAX_LINES 32

static char dir[4096];
static char path[4200];
static char logpath[4200];
static char err[ERRLEN];

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/zkrelay-audit.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	snprintf(logpath, sizeof(logpath), "%s/stderr.log", dir);
	err[0] = '\0';
}

static void teardown(void)
{
	unlink(path);
	unlink(logpath);
	rmdir(dir);
}

/* The relay's log (stderr) goes to logpath for the rest of the test. */
static void capture_log(void)
{
	ck_assert_ptr_nonnull(freopen(logpath, "w", stderr));
}

/* Lines logged since capture_log that contain all of want[0..n). */
static size_t log_count(const char *const *want, size_t n)
{
	FILE *f = fopen(logpath, "r");
	char *line = NULL;
	size_t cap = 0, count = 0;

	ck_assert_ptr_nonnull(f);
	fflush(stderr);
	while (getline(&line, &cap, f) > 0) {
		size_t k = 0;

		while (k < n && strstr(line, want[k]))
			k++;
		count += k == n;
	}
	free(line);
	fclose(f);
	return count;
}

static audit_t *open_ok(void)
{
	audit_t *a = NULL;
	int rc = audit_open(path, 0, &a, err, sizeof(err));

	ck_assert_msg(rc == 0, "audit_open: %d %s", rc, err);
	ck_assert_ptr_nonnull(a);
	return a;
}

static off_t file_size(void)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

/* The file's lines (copies, without newlines). */
typedef struct {
	char *line[MAX_LINES];
	size_t n;
} lines_t;

static void lines_read(lines_t *ls)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;

	ck_assert_ptr_nonnull(f);
	memset(ls, 0, sizeof(*ls));
	while ((len = getline(&buf, &cap, f)) > 0) {
		ck_assert_uint_lt(ls->n, MAX_LINES);
		ck_assert_int_eq(buf[len - 1], '\n');
		ls->line[ls->n++] = strndup(buf, (size_t)len - 1);
	}
	free(buf);
	fclose(f);
}

static void lines_free(lines_t *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->line[i]);
}

/* ---- events -------------------------------------------------------------- */

typedef enum { EV_CONNECT, EV_HELLO_OK, EV_HELLO_NO, EV_ROUTE_NO, EV_CUT, EV_GONE } ev_t;

/* One call and the entry it must write. */
typedef struct {
	ev_t ev;
	const char *endpoint, *practice, *peer, *jti;
	int reason;
	/* expected */
	const char *event, *want_practice, *want_reason;
} call_t;

static int emit(audit_t *a, const call_t *c)
{
	switch (c->ev) {
	case EV_CONNECT: return audit_connect(a, c->endpoint);
	case EV_HELLO_OK: return audit_hello_accepted(a, c->endpoint, c->practice, c->jti);
	case EV_HELLO_NO:
		return audit_hello_refused(a, c->endpoint, c->practice, c->reason, c->jti);
	case EV_ROUTE_NO:
		return audit_route_refused(a, c->endpoint, c->practice, c->peer, c->reason,
					   c->jti);
	case EV_CUT: return audit_connection_cut(a, c->endpoint, c->practice, c->reason, c->jti);
	case EV_GONE: return audit_disconnect(a, c->endpoint, c->practice, c->reason, c->jti);
	}
	return -1;
}

#define ROW(k_, ep_, pr_, pe_, j_, r_, ev_, wp_, wr_)                                        \
	{ .ev = k_, .endpoint = ep_, .practice = pr_, .peer = pe_, .jti = j_, .reason = r_,   \
	  .event = ev_, .want_practice = wp_, .want_reason = wr_ }

static const call_t calls[] = {
	ROW(EV_CONNECT, "practice-a/client-1", NULL, NULL, NULL, 0, "connect", "practice-a", NULL),
	ROW(EV_HELLO_OK, "practice-a/client-1", "practice-a", NULL, "jti-1", 0, "hello_accepted",
	    "practice-a", NULL),
	ROW(EV_HELLO_OK, "practice-a/safe-1", NULL, NULL, NULL, 0, "hello_accepted", "practice-a",
	    NULL),
	/* A referral: practice-a's data-safe under practice-b's token. */
	ROW(EV_HELLO_OK, "practice-a/safe-1", "practice-b", NULL, "ref-7", 0, "hello_accepted",
	    "practice-b", NULL),
	ROW(EV_HELLO_NO, "practice-a/client-2", NULL, NULL, NULL, ZK_ETOKEN, "hello_refused",
	    "practice-a", "token_invalid"),
	ROW(EV_HELLO_NO, "practice-b/safe-1", NULL, NULL, NULL, -ZK_ENOTAUTH, "hello_refused",
	    "practice-b", "not_authorized"),
	ROW(EV_HELLO_NO, "practice-a/client-2", "practice-b", NULL, "jti-revoked", ZK_ETOKEN,
	    "hello_refused", "practice-b", "token_invalid"),
	ROW(EV_ROUTE_NO, "practice-a/client-1", "practice-a", "practice-b/safe-1", "jti-1",
	    ZK_ENOROUTE, "route_refused", "practice-a", "no_route"),
	ROW(EV_ROUTE_NO, "practice-a/client-1", NULL, NULL, NULL, ZK_ENOTAUTH, "route_refused",
	    "practice-a", "not_authorized"),
	ROW(EV_CUT, "practice-a/client-1", "practice-a", NULL, "jti-1", ZK_ENOTAUTH,
	    "connection_cut", "practice-a", "not_authorized"),
	ROW(EV_CUT, "practice-b/safe-1", NULL, NULL, NULL, ZK_ECERTREVOKED, "connection_cut",
	    "practice-b", "cert_revoked"),
	ROW(EV_GONE, "practice-a/client-1", "practice-a", NULL, "jti-1", 0, "disconnect",
	    "practice-a", NULL),
	ROW(EV_GONE, "practice-b/safe-1", NULL, NULL, NULL, ZK_EGOINGAWAY, "disconnect",
	    "practice-b", "going_away"),
};

/* A string member equal to want, or absent if want is NULL. */
static void member_is(json_t *o, const char *key, const char *want, size_t row)
{
	json_t *v = json_object_get(o, key);

	if (!want) {
		ck_assert_msg(v == NULL, "row %zu: unexpected \"%s\"", row, key);
		return;
	}
	ck_assert_msg(json_is_string(v), "row %zu: \"%s\" missing", row, key);
	ck_assert_str_eq(json_string_value(v), want);
}

/* "2026-11-29T17:00:00.123Z", between t0 and t1 (whole seconds). */
static void time_ok(json_t *o, time_t t0, time_t t1)
{
	const char *s = json_string_value(json_object_get(o, "time"));
	int64_t t;

	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), 24);
	ck_assert_int_eq(s[4], '-');
	ck_assert_int_eq(s[10], 'T');
	ck_assert_int_eq(s[19], '.');
	ck_assert_int_eq(s[23], 'Z');
	for (int i = 20; i < 23; i++)
		ck_assert(s[i] >= '0' && s[i] <= '9');
	ck_assert_int_eq(token_parse_time(s, &t), 0);
	ck_assert_int_ge(t, (int64_t)t0);
	ck_assert_int_le(t, (int64_t)t1);
}

START_TEST(test_each_event_writes_fields)
{
	audit_t *a = open_ok();
	time_t t0 = time(NULL), t1;
	uint64_t n = 0;
	lines_t ls;

	for (size_t i = 0; i < ARRAY_LEN(calls); i++)
		ck_assert_msg(emit(a, &calls[i]) == 0, "row %zu", i);
	t1 = time(NULL);
	audit_close(&a);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(hashchain_verify_file(path, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, ARRAY_LEN(calls));

	lines_read(&ls);
	ck_assert_uint_eq(ls.n, ARRAY_LEN(calls));
	for (size_t i = 0; i < ls.n; i++) {
		const call_t *c = &calls[i];
		json_t *o = json_loads(ls.line[i], JSON_REJECT_DUPLICATES, NULL);
		size_t want_keys = 6u + (c->peer != NULL) + (c->want_reason != NULL) + (c->jti != NULL);

		ck_assert_ptr_nonnull(o);
		ck_assert_msg(json_object_size(o) == want_keys, "row %zu: %s", i, ls.line[i]);
		ck_assert_int_eq(json_integer_value(json_object_get(o, "seq")), (json_int_t)i + 1);
		ck_assert(json_is_string(json_object_get(o, "prev")));
		time_ok(o, t0, t1);
		member_is(o, "event", c->event, i);
		member_is(o, "practice", c->want_practice, i);
		member_is(o, "endpoint", c->endpoint, i);
		member_is(o, "peer", c->peer, i);
		member_is(o, "reason", c->want_reason, i);
		member_is(o, "jti", c->jti, i);
		json_decref(o);
	}
	lines_free(&ls);
}
END_TEST

START_TEST(test_reopen_appends)
{
	audit_t *a = open_ok();
	uint64_t n = 0;

	ck_assert_int_eq(audit_connect(a, "practice-a/client-1"), 0);
	audit_close(&a);
	a = open_ok();
	ck_assert_int_eq(audit_disconnect(a, "practice-a/client-1", NULL, 0, NULL), 0);
	audit_close(&a);
	ck_assert_int_eq(hashchain_verify_file(path, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
}
END_TEST

/* jti bytes are the token's: any UTF-8 up to the bound, escaped. */
START_TEST(test_jti_escaped)
{
	static const char odd[] = "j\"\\\n\x01/\xc3\xa9";
	char longest[TOKEN_MAX_JTI + 1];
	audit_t *a = open_ok();
	lines_t ls;
	json_t *o;

	memset(longest, 'x', TOKEN_MAX_JTI);
	longest[TOKEN_MAX_JTI] = '\0';
	ck_assert_int_eq(audit_hello_accepted(a, "practice-a/client-1", NULL, odd), 0);
	ck_assert_int_eq(audit_hello_accepted(a, "practice-a/client-1", NULL, longest), 0);
	audit_close(&a);
	lines_read(&ls);
	ck_assert_uint_eq(ls.n, 2);
	ck_assert_ptr_null(strchr(ls.line[0], '\x01'));
	o = json_loads(ls.line[0], 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "jti")), odd);
	json_decref(o);
	o = json_loads(ls.line[1], 0, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(o, "jti")), longest);
	json_decref(o);
	lines_free(&ls);
}
END_TEST

/* A call that must be refused: which event, and its arguments. */
#define BAD(k_, ep_, pr_, pe_, j_, r_) \
	{ .ev = k_, .endpoint = ep_, .practice = pr_, .peer = pe_, .jti = j_, .reason = r_ }
#define A1 "practice-a/client-1"

static const call_t bad_calls[] = {
	BAD(EV_CONNECT, NULL, NULL, NULL, NULL, 0),
	BAD(EV_CONNECT, "", NULL, NULL, NULL, 0),
	BAD(EV_CONNECT, "practice-a", NULL, NULL, NULL, 0),
	BAD(EV_CONNECT, "practice-a/", NULL, NULL, NULL, 0),
	BAD(EV_CONNECT, "/client-1", NULL, NULL, NULL, 0),
	BAD(EV_CONNECT, "Practice-a/client-1", NULL, NULL, NULL, 0),
	BAD(EV_CONNECT, "practice-a/client-1/x", NULL, NULL, NULL, 0),
	BAD(EV_CONNECT, "practice-a/client 1", NULL, NULL, NULL, 0),
	BAD(EV_CONNECT, "practice-a/client-1\n", NULL, NULL, NULL, 0),
	BAD(EV_CONNECT, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/x", NULL, NULL,
	    NULL, 0),
	BAD(EV_HELLO_OK, A1, "", NULL, NULL, 0),
	BAD(EV_HELLO_OK, A1, "practice-a/safe-1", NULL, NULL, 0),
	BAD(EV_HELLO_OK, A1, "PRACTICE", NULL, NULL, 0),
	BAD(EV_HELLO_OK, A1, NULL, NULL, "", 0),
	BAD(EV_HELLO_OK, A1, NULL, NULL,
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 0), /* 129 bytes */
	BAD(EV_HELLO_OK, A1, NULL, NULL, "bad\xff", 0),
	BAD(EV_HELLO_NO, A1, NULL, NULL, NULL, 0),
	BAD(EV_HELLO_NO, A1, NULL, NULL, NULL, ZK_REASON_COUNT),
	BAD(EV_HELLO_NO, A1, NULL, NULL, NULL, ZK_ENOMEM),
	BAD(EV_HELLO_NO, A1, NULL, NULL, NULL, -ZK_EIO),
	BAD(EV_HELLO_NO, A1, NULL, NULL, NULL, INT_MIN),
	BAD(EV_ROUTE_NO, A1, NULL, NULL, NULL, 0),
	BAD(EV_ROUTE_NO, A1, NULL, "practice-b", NULL, ZK_ENOROUTE),
	BAD(EV_ROUTE_NO, A1, NULL, "practice-b/", NULL, ZK_ENOROUTE),
	BAD(EV_ROUTE_NO, A1, NULL, "../etc/passwd", NULL, ZK_ENOROUTE),
	BAD(EV_CUT, A1, NULL, NULL, NULL, 0),
	BAD(EV_CUT, A1, NULL, NULL, NULL, 99),
	BAD(EV_GONE, A1, NULL, NULL, NULL, INT_MAX),
	BAD(EV_GONE, A1, NULL, NULL, NULL, -ZK_ECONFIG),
};

START_TEST(test_bad_arguments_write_nothing)
{
	audit_t *a = open_ok();
	off_t before;
	uint64_t n = 0;

	static const char *const failed[] = { "\"event\":\"audit_failed\"",
					      "\"error\":\"invalid_argument\"" };

	ck_assert_int_eq(audit_connect(a, "practice-a/client-1"), 0);
	before = file_size();
	capture_log();
	for (size_t i = 0; i < ARRAY_LEN(bad_calls); i++)
		ck_assert_msg(emit(a, &bad_calls[i]) == -ZK_EINVAL, "row %zu", i);
	ck_assert_int_eq(file_size(), before);
	/* Each refusal is logged, so a caller may ignore the result. */
	ck_assert_uint_eq(log_count(failed, 2), ARRAY_LEN(bad_calls));
	ck_assert_int_eq(audit_disconnect(a, "practice-a/client-1", NULL, 0, NULL), 0);
	audit_close(&a);
	ck_assert_int_eq(hashchain_verify_file(path, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
}
END_TEST

START_TEST(test_null_handle_is_noop)
{
	static const char *const any[] = { "" };
	audit_t *a = NULL;

	capture_log();
	for (size_t i = 0; i < ARRAY_LEN(calls); i++)
		ck_assert_int_eq(emit(NULL, &calls[i]), 0);
	/* Disabled means disabled: not even arguments are looked at. */
	for (size_t i = 0; i < ARRAY_LEN(bad_calls); i++)
		ck_assert_int_eq(emit(NULL, &bad_calls[i]), 0);
	audit_close(NULL);
	audit_close(&a);
	ck_assert_int_eq(access(path, F_OK), -1);
	ck_assert_uint_eq(log_count(any, 1), 0);
}
END_TEST

START_TEST(test_open_refusals)
{
	audit_t *a = NULL, *b = NULL;
	FILE *f;

	ck_assert_int_eq(audit_open(path, 1u << 7, &a, err, sizeof(err)), -ZK_EINVAL);
	ck_assert_int_eq(audit_open(path, 0, NULL, err, sizeof(err)), -ZK_EINVAL);
	ck_assert_int_eq(audit_open(NULL, 0, &a, err, sizeof(err)), -ZK_EINVAL);
	ck_assert_ptr_null(a);

	a = open_ok();
	ck_assert_int_eq(audit_open(path, AUDIT_SYNC, &b, err, sizeof(err)), -ZK_EIO);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(audit_connect(a, "practice-a/client-1"), 0);
	audit_close(&a);

	f = fopen(path, "ab");
	ck_assert_ptr_nonnull(f);
	fputs("{\"seq\":2}\n", f);
	fclose(f);
	ck_assert_int_eq(audit_open(path, 0, &a, err, sizeof(err)), -ZK_EMALFORMED);
	ck_assert_ptr_null(a);
	ck_assert_ptr_nonnull(strstr(err, ": line 2: "));
}
END_TEST

/* ---- export ---------------------------------------------------------------- */

/* Who did what; want_b/want_a: whether export for practice-b/-a shows it. */
typedef struct {
	call_t call;
	int want_b, want_a;
} export_row_t;

#define EXP(k_, ep_, pr_, pe_, j_, r_, b_, a_) \
	{ .call = BAD(k_, ep_, pr_, pe_, j_, r_), .want_b = b_, .want_a = a_ }

static const export_row_t export_rows[] = {
	EXP(EV_CONNECT, A1, NULL, NULL, NULL, 0, 0, 1),
	EXP(EV_CONNECT, "practice-b/safe-1", NULL, NULL, NULL, 0, 1, 0),
	EXP(EV_HELLO_OK, "practice-b/safe-1", NULL, NULL, NULL, 0, 1, 0),
	/* practice-a's client admitted under practice-b's token */
	EXP(EV_HELLO_OK, A1, "practice-b", NULL, "t1", 0, 1, 0),
	/* practice-a's client tried practice-b's other data-safe */
	EXP(EV_ROUTE_NO, A1, NULL, "practice-b/safe-2", NULL, ZK_ENOROUTE, 1, 1),
	/* look-alikes of practice-b */
	EXP(EV_ROUTE_NO, A1, NULL, "practice-bx/safe-1", NULL, ZK_ENOROUTE, 0, 1),
	EXP(EV_CONNECT, "practice-bx/safe-1", NULL, NULL, NULL, 0, 0, 0),
	EXP(EV_HELLO_OK, "practice-c/client-1", "practice-bx", NULL, NULL, 0, 0, 0),
	EXP(EV_ROUTE_NO, "practice-c/client-1", "practice-c", "practice-b.x/safe-1", NULL,
	    ZK_ENOROUTE, 0, 0),
	EXP(EV_HELLO_NO, "practice-c/client-9", "practice-b", NULL, NULL, ZK_ETOKEN, 1, 0),
	EXP(EV_CUT, A1, "practice-b", NULL, "t1", ZK_ENOTAUTH, 1, 0),
	EXP(EV_GONE, A1, "practice-b", NULL, "t1", 0, 1, 0),
	EXP(EV_GONE, "practice-b/safe-1", NULL, NULL, NULL, ZK_EGOINGAWAY, 1, 0),
};

static void write_export_fixture(void)
{
	audit_t *a = open_ok();

	for (size_t i = 0; i < ARRAY_LEN(export_rows); i++)
		ck_assert_msg(emit(a, &export_rows[i].call) == 0, "row %zu", i);
	audit_close(&a);
}

/* Runs audit_export into memory; returns its result, *text the output. */
static int run_export(const char *practice, char **text, size_t *len, uint64_t *matched)
{
	FILE *out = open_memstream(text, len);
	int rc;

	ck_assert_ptr_nonnull(out);
	rc = audit_export(path, practice, out, matched, err, sizeof(err));
	ck_assert_int_eq(fclose(out), 0);
	return rc;
}

static void check_export(const char *practice, int which)
{
	char *text = NULL, *want = NULL;
	size_t len = 0, wlen = 0, nwant = 0;
	uint64_t matched = 999;
	FILE *w = open_memstream(&want, &wlen);
	lines_t ls;

	ck_assert_ptr_nonnull(w);
	lines_read(&ls);
	ck_assert_uint_eq(ls.n, ARRAY_LEN(export_rows));
	for (size_t i = 0; i < ls.n; i++) {
		if (which == 'b' ? export_rows[i].want_b : export_rows[i].want_a) {
			fprintf(w, "%s\n", ls.line[i]);
			nwant++;
		}
	}
	fclose(w);
	ck_assert_int_eq(run_export(practice, &text, &len, &matched), 0);
	ck_assert_uint_eq(matched, nwant);
	ck_assert_str_eq(text, want);
	free(text);
	free(want);
	lines_free(&ls);
}

START_TEST(test_export_filters_by_practice)
{
	char *text = NULL;
	size_t len = 0;
	uint64_t matched = 999;

	write_export_fixture();
	check_export("practice-b", 'b');
	check_export("practice-a", 'a');
	ck_assert_int_eq(run_export("practice-z", &text, &len, &matched), 0);
	ck_assert_uint_eq(matched, 0);
	ck_assert_uint_eq(len, 0);
	free(text);
}
END_TEST

START_TEST(test_export_while_open)
{
	audit_t *a;
	char *text = NULL;
	size_t len = 0;
	uint64_t matched = 0;

	write_export_fixture();
	a = open_ok(); /* a writer holds the file: reading still works */
	ck_assert_int_eq(run_export("practice-b", &text, &len, &matched), 0);
	ck_assert_uint_gt(matched, 0);
	free(text);
	audit_close(&a);
}
END_TEST

START_TEST(test_export_refuses_broken_chain)
{
	char *text = NULL, *p;
	size_t len = 0;
	uint64_t matched = 999;
	lines_t ls;
	FILE *o;

	write_export_fixture();
	/* Hide line 2 from practice-b: practice-b -> practice-q. */
	lines_read(&ls);
	p = strstr(ls.line[1], "\"practice\":\"practice-b\"");
	ck_assert_ptr_nonnull(p);
	p[21] = 'q';
	o = fopen(path, "wb");
	ck_assert_ptr_nonnull(o);
	for (size_t i = 0; i < ls.n; i++)
		fprintf(o, "%s\n", ls.line[i]);
	ck_assert_int_eq(fclose(o), 0);
	lines_free(&ls);

	ck_assert_int_eq(run_export("practice-b", &text, &len, &matched), -ZK_EMALFORMED);
	ck_assert_uint_eq(matched, 999);
	ck_assert_uint_eq(len, 0); /* not one line of a file that fails */
	ck_assert_ptr_nonnull(strstr(err, ": line 3: "));
	free(text);
}
END_TEST

START_TEST(test_export_bad_arguments)
{
	char *text = NULL;
	size_t len = 0;
	uint64_t matched = 999;
	FILE *ro;

	ck_assert_int_eq(run_export("Practice-B", &text, &len, &matched), -ZK_EINVAL);
	free(text);
	ck_assert_int_eq(run_export("practice-b/safe-1", &text, &len, &matched), -ZK_EINVAL);
	free(text);
	ck_assert_int_eq(run_export("", &text, &len, &matched), -ZK_EINVAL);
	free(text);
	ck_assert_int_eq(audit_export(path, "practice-b", NULL, &matched, err, sizeof(err)),
			 -ZK_EINVAL);
	/* No file yet. */
	ck_assert_int_eq(run_export("practice-b", &text, &len, &matched), -ZK_EIO);
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
	free(text);
	ck_assert_uint_eq(matched, 999);

	/* An output that cannot be written. */
	write_export_fixture();
	ro = fopen("/dev/null", "r");
	ck_assert_ptr_nonnull(ro);
	ck_assert_int_eq(audit_export(path, "practice-b", ro, &matched, err, sizeof(err)),
			 -ZK_EIO);
	ck_assert_str_eq(err, "cannot write the output");
	fclose(ro);
}
END_TEST

START_TEST(test_export_empty_file)
{
	audit_t *a = open_ok();
	char *text = NULL;
	size_t len = 0;
	uint64_t matched = 999;

	audit_close(&a);
	ck_assert_int_eq(run_export("practice-b", &text, &len, &matched), 0);
	ck_assert_uint_eq(matched, 0);
	ck_assert_uint_eq(len, 0);
	free(text);
}
END_TEST

Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *ev = tcase_create("events");
	TCase *ex = tcase_create("export");

	tcase_add_checked_fixture(ev, setup, teardown);
	tcase_add_test(ev, test_each_event_writes_fields);
	tcase_add_test(ev, test_reopen_appends);
	tcase_add_test(ev, test_jti_escaped);
	tcase_add_test(ev, test_bad_arguments_write_nothing);
	tcase_add_test(ev, test_null_handle_is_noop);
	tcase_add_test(ev, test_open_refusals);
	suite_add_tcase(s, ev);

	tcase_add_checked_fixture(ex, setup, teardown);
	tcase_add_test(ex, test_export_filters_by_practice);
	tcase_add_test(ex, test_export_while_open);
	tcase_add_test(ex, test_export_refuses_broken_chain);
	tcase_add_test(ex, test_export_bad_arguments);
	tcase_add_test(ex, test_export_empty_file);
	suite_add_tcase(s, ex);
	return s;
}
