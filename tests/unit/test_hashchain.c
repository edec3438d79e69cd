/* hashchain.c: append-only hash-chained JSON lines. Every file is written
 * into a fresh temporary directory by its test. Each way of tampering
 * with a chain is one row of a table, with the line number the verifier
 * must name: the line that no longer fits the lines before it. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "hashchain.h"
#include "suites.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERRLEN 512
#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"
#define MAX_LINES 16

static char dir[4096];
static char path[4200];
static char err[ERRLEN];

/* ---- fixtures -------------------------------------------------------------- */

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/zkrelay-hashchain.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/audit.jsonl", dir);
	err[0] = '\0';
}

static void teardown(void)
{
	unlink(path);
	rmdir(dir);
}

static void sha256_hex(const char *p, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int n = 0;

	ck_assert_int_eq(EVP_Digest(p, len, md, &n, EVP_sha256(), NULL), 1);
	for (size_t i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The whole file, NUL-terminated; *len without the NUL. */
static char *slurp(const char *p, size_t *len)
{
	FILE *f = fopen(p, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "%s: %s", p, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return buf;
}

static hashchain_t *open_ok(unsigned flags)
{
	hashchain_t *hc = NULL;
	int rc = hashchain_open(path, flags, &hc, err, sizeof(err));

	ck_assert_msg(rc == 0, "open: %d %s", rc, err);
	ck_assert_ptr_nonnull(hc);
	return hc;
}

/* Appends {"i":k,"msg":"entry k"} for k = first .. first + n - 1. */
static void append_n(hashchain_t *hc, int first, int n)
{
	for (int k = first; k < first + n; k++) {
		char msg[32];
		json_t *o;

		snprintf(msg, sizeof(msg), "entry %d", k);
		o = json_pack("{s:i, s:s}", "i", k, "msg", msg);
		ck_assert_ptr_nonnull(o);
		ck_assert_int_eq(hashchain_append(hc, o), 0);
		json_decref(o);
	}
}

static void make_chain(int n)
{
	hashchain_t *hc = open_ok(0);

	append_n(hc, 1, n);
	hashchain_close(&hc);
	ck_assert_ptr_null(hc);
}

/* The file split into lines (copies, no newline). */
typedef struct {
	char *line[MAX_LINES];
	size_t n;
	int cut_last;     /* write the last line half, without its newline */
	int no_final_nl;  /* write the last line whole, without its newline */
} lines_t;

static void lines_read(lines_t *ls)
{
	char *text = slurp(path, NULL), *p = text, *nl;

	memset(ls, 0, sizeof(*ls));
	while ((nl = strchr(p, '\n')) != NULL) {
		ck_assert_uint_lt(ls->n, MAX_LINES);
		ls->line[ls->n] = strndup(p, (size_t)(nl - p));
		ck_assert_ptr_nonnull(ls->line[ls->n]);
		ls->n++;
		p = nl + 1;
	}
	ck_assert_str_eq(p, ""); /* every line ends in a newline */
	free(text);
}

static void lines_write(lines_t *ls)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < ls->n; i++) {
		if (ls->cut_last && i + 1 == ls->n)
			fwrite(ls->line[i], 1, strlen(ls->line[i]) / 2, f);
		else if (ls->no_final_nl && i + 1 == ls->n)
			fputs(ls->line[i], f);
		else
			fprintf(f, "%s\n", ls->line[i]);
	}
	ck_assert_int_eq(fclose(f), 0);
}

static void lines_free(lines_t *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		free(ls->line[i]);
}

/* Puts text in at index at (0-based), shifting the rest down. */
static void lines_insert(lines_t *ls, size_t at, const char *text)
{
	ck_assert_uint_lt(ls->n, MAX_LINES);
	memmove(&ls->line[at + 1], &ls->line[at], (ls->n - at) * sizeof(char *));
	ls->line[at] = strdup(text);
	ck_assert_ptr_nonnull(ls->line[at]);
	ls->n++;
}

static void lines_replace(lines_t *ls, size_t at, const char *text)
{
	free(ls->line[at]);
	ls->line[at] = strdup(text);
	ck_assert_ptr_nonnull(ls->line[at]);
}

/* A line as the writer would make it, seq and prev as given. */
static void forge(char *out, size_t cap, long long seq, const char *prev)
{
	snprintf(out, cap, "{\"i\":99,\"msg\":\"forged\",\"prev\":\"%s\",\"seq\":%lld}", prev, seq);
}

static void expect_bad(uint64_t line, const char *why)
{
	uint64_t lines = 12345;
	char want[64];
	int rc = hashchain_verify_file(path, &lines, err, sizeof(err));

	ck_assert_msg(rc == -ZK_EMALFORMED, "verify: %d (%s)", rc, err);
	ck_assert_msg(lines == line, "bad line %llu, expected %llu (%s)",
		      (unsigned long long)lines, (unsigned long long)line, err);
	snprintf(want, sizeof(want), ": line %llu: ", (unsigned long long)line);
	ck_assert_msg(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
	ck_assert_msg(strncmp(err, path, strlen(path)) == 0, "'%s' does not name the file", err);
	ck_assert_msg(strstr(err, why) != NULL, "'%s' lacks '%s'", err, why);
}

static void expect_ok(uint64_t n)
{
	uint64_t lines = 12345;
	int rc = hashchain_verify_file(path, &lines, err, sizeof(err));

	ck_assert_msg(rc == 0, "verify: %d (%s)", rc, err);
	ck_assert_uint_eq(lines, n);
}

/* ---- writing and verifying ------------------------------------------------- */

START_TEST(test_append_and_verify)
{
	hashchain_t *hc = open_ok(0);
	char want_prev[65] = ZEROS, head[65];
	lines_t ls;

	ck_assert_uint_eq(hashchain_seq(hc), 0);
	hashchain_head(hc, head);
	ck_assert_str_eq(head, ZEROS);
	append_n(hc, 1, 7);
	ck_assert_uint_eq(hashchain_seq(hc), 7);
	hashchain_head(hc, head);
	hashchain_close(&hc);
	expect_ok(7);

	/* Each line: compact, sorted keys, seq k, prev the hash of line k-1. */
	lines_read(&ls);
	ck_assert_uint_eq(ls.n, 7);
	for (size_t i = 0; i < ls.n; i++) {
		char want[256];

		snprintf(want, sizeof(want),
			 "{\"i\":%zu,\"msg\":\"entry %zu\",\"prev\":\"%s\",\"seq\":%zu}", i + 1,
			 i + 1, want_prev, i + 1);
		ck_assert_str_eq(ls.line[i], want);
		sha256_hex(ls.line[i], strlen(ls.line[i]), want_prev);
	}
	ck_assert_str_eq(head, want_prev);
	lines_free(&ls);
}
END_TEST

START_TEST(test_new_file_mode_and_empty)
{
	hashchain_t *hc = open_ok(HASHCHAIN_SYNC);
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(st.st_size, 0);
	hashchain_close(&hc);
	expect_ok(0);
	/* An empty file opens again as an empty chain. */
	hc = open_ok(0);
	ck_assert_uint_eq(hashchain_seq(hc), 0);
	hashchain_close(&hc);
	hashchain_close(&hc); /* NULL: no-op */
	hashchain_close(NULL);
}
END_TEST

START_TEST(test_reopen_continues_chain)
{
	hashchain_t *hc = open_ok(0);
	char head[65], head2[65], h3[65];
	lines_t ls;

	append_n(hc, 1, 3);
	hashchain_head(hc, head);
	hashchain_close(&hc);

	hc = open_ok(HASHCHAIN_SYNC);
	ck_assert_uint_eq(hashchain_seq(hc), 3);
	hashchain_head(hc, head2);
	ck_assert_str_eq(head, head2);
	append_n(hc, 4, 2);
	hashchain_close(&hc);
	hc = open_ok(0);
	append_n(hc, 6, 1);
	ck_assert_uint_eq(hashchain_seq(hc), 6);
	hashchain_close(&hc);
	expect_ok(6);

	lines_read(&ls);
	sha256_hex(ls.line[2], strlen(ls.line[2]), h3);
	ck_assert_ptr_nonnull(strstr(ls.line[3], h3));
	ck_assert_ptr_nonnull(strstr(ls.line[3], "\"seq\":4}"));
	lines_free(&ls);
}
END_TEST

START_TEST(test_sync_appends)
{
	hashchain_t *hc = open_ok(HASHCHAIN_SYNC);

	append_n(hc, 1, 3);
	hashchain_close(&hc);
	expect_ok(3);
}
END_TEST

START_TEST(test_ascii_only_output)
{
	hashchain_t *hc = open_ok(0);
	json_t *o = json_pack("{s:s}", "who", "M\xc3\xbcller\n");
	char *text;

	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(hashchain_append(hc, o), 0);
	json_decref(o);
	hashchain_close(&hc);
	text = slurp(path, NULL);
	ck_assert_ptr_nonnull(strstr(text, "\"who\":\"M\\u00FCller\\n\""));
	for (const char *p = text; *p; p++)
		ck_assert_int_lt((unsigned char)*p, 0x80);
	free(text);
	expect_ok(1);
}
END_TEST

START_TEST(test_caller_fields_untouched)
{
	hashchain_t *hc = open_ok(0);
	json_t *o = json_pack("{s:s, s:i}", "a", "x", "b", 2);

	ck_assert_int_eq(hashchain_append(hc, o), 0);
	ck_assert_int_eq(hashchain_append(hc, o), 0);
	ck_assert_uint_eq(json_object_size(o), 2);
	ck_assert_ptr_null(json_object_get(o, "seq"));
	ck_assert_ptr_null(json_object_get(o, "prev"));
	ck_assert_uint_eq(o->refcount, 1);
	json_decref(o);
	hashchain_close(&hc);
	expect_ok(2);
}
END_TEST

/* A write that only gets part of the line out (here: the file size limit)
 * is undone, and the chain goes on from the last whole line. */
START_TEST(test_short_write_rolled_back)
{
	hashchain_t *hc = open_ok(0);
	struct rlimit old, lim;
	json_t *big = json_pack("{s:s}", "pad", "................................................"
					       "................................................"
					       "................................................");
	size_t before, after;
	char *b, *a;

	append_n(hc, 1, 2);
	b = slurp(path, &before);
	ck_assert(signal(SIGXFSZ, SIG_IGN) != SIG_ERR);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)before + 40;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ck_assert_int_eq(hashchain_append(hc, big), -ZK_EIO);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_uint_eq(hashchain_seq(hc), 2);
	a = slurp(path, &after);
	ck_assert_uint_eq(after, before);
	ck_assert_mem_eq(a, b, before);
	free(a);
	free(b);

	ck_assert_int_eq(hashchain_append(hc, big), 0);
	json_decref(big);
	hashchain_close(&hc);
	expect_ok(3);
}
END_TEST

/* ---- refusals on append ---------------------------------------------------- */

START_TEST(test_reserved_fields_refused)
{
	static const char *const docs[] = {
		"{\"seq\":7}", "{\"prev\":\"" ZEROS "\"}", "{\"x\":1,\"seq\":null}", "[1]", "\"s\"",
	};
	hashchain_t *hc = open_ok(0);
	size_t before, after;
	char *text;

	append_n(hc, 1, 1);
	text = slurp(path, &before);
	free(text);
	for (size_t i = 0; i < ARRAY_LEN(docs); i++) {
		json_t *o = json_loads(docs[i], JSON_DECODE_ANY, NULL);

		ck_assert_ptr_nonnull(o);
		ck_assert_int_eq(hashchain_append(hc, o), -ZK_EINVAL);
		json_decref(o);
	}
	ck_assert_int_eq(hashchain_append(hc, NULL), -ZK_EINVAL);
	ck_assert_int_eq(hashchain_append(NULL, NULL), -ZK_EINVAL);
	ck_assert_uint_eq(hashchain_seq(hc), 1);
	text = slurp(path, &after);
	free(text);
	ck_assert_uint_eq(before, after);
	/* The chain goes on where it was. */
	append_n(hc, 2, 1);
	hashchain_close(&hc);
	expect_ok(2);
}
END_TEST

/* A string member that makes the line exactly total bytes long without
 * its newline, with seq 1 and the zero prev. */
static json_t *sized_fields(size_t total)
{
	/* {"pad":"<n>","prev":"<64>","seq":1} */
	size_t fixed = strlen("{\"pad\":\"\",\"prev\":\"" ZEROS "\",\"seq\":1}");
	char *pad;
	json_t *o;

	ck_assert_uint_gt(total, fixed);
	pad = malloc(total - fixed + 1);
	ck_assert_ptr_nonnull(pad);
	memset(pad, 'p', total - fixed);
	pad[total - fixed] = '\0';
	o = json_pack("{s:s}", "pad", pad);
	free(pad);
	ck_assert_ptr_nonnull(o);
	return o;
}

START_TEST(test_line_length_edge)
{
	hashchain_t *hc = open_ok(0);
	json_t *o = sized_fields(HASHCHAIN_MAX_LINE); /* newline would make it one over */
	size_t len;
	char *text;

	ck_assert_int_eq(hashchain_append(hc, o), -ZK_ETOOLARGE);
	json_decref(o);
	ck_assert_uint_eq(hashchain_seq(hc), 0);
	text = slurp(path, &len);
	free(text);
	ck_assert_uint_eq(len, 0);

	o = sized_fields(HASHCHAIN_MAX_LINE - 1); /* the longest line there is */
	ck_assert_int_eq(hashchain_append(hc, o), 0);
	json_decref(o);
	hashchain_close(&hc);
	text = slurp(path, &len);
	free(text);
	ck_assert_uint_eq(len, HASHCHAIN_MAX_LINE);
	expect_ok(1);
	hc = open_ok(0); /* and it reads back on open */
	ck_assert_uint_eq(hashchain_seq(hc), 1);
	hashchain_close(&hc);
}
END_TEST

START_TEST(test_overlong_line_refused_on_read)
{
	size_t n = HASHCHAIN_MAX_LINE + 4000, len;
	char *line = malloc(n + 300), *text, h1[65];
	hashchain_t *hc = NULL;
	FILE *f;

	ck_assert_ptr_nonnull(line);
	make_chain(1);
	text = slurp(path, &len);
	sha256_hex(text, len - 1, h1);
	free(text);
	/* Otherwise a perfect line 2: right seq, right prev. */
	memcpy(line, "{\"pad\":\"", 8);
	memset(line + 8, 'p', n);
	snprintf(line + 8 + n, 292, "\",\"prev\":\"%s\",\"seq\":2}\n", h1);
	f = fopen(path, "ab");
	ck_assert_ptr_nonnull(f);
	fputs(line, f);
	fclose(f);
	free(line);

	expect_bad(2, "longer than 16383 bytes");
	ck_assert_int_eq(hashchain_open(path, 0, &hc, err, sizeof(err)), -ZK_EMALFORMED);
	ck_assert_ptr_null(hc);
}
END_TEST

/* ---- tampering --------------------------------------------------------------- */

/* Each row edits a chain of five good lines. */
typedef struct {
	const char *name;
	void (*edit)(lines_t *ls);
	uint64_t bad_line;
	const char *why;
} tamper_t;

static void hash_of(const lines_t *ls, size_t i, char out[65])
{
	sha256_hex(ls->line[i], strlen(ls->line[i]), out);
}

static void edit_field_byte(lines_t *ls)
{
	char *p = strstr(ls->line[2], "entry 3");

	ck_assert_ptr_nonnull(p);
	p[6] = '8';
}

static void edit_seq_number(lines_t *ls)
{
	char *p = strstr(ls->line[2], "\"seq\":3}");

	ck_assert_ptr_nonnull(p);
	p[6] = '7';
}

static void edit_delete_line(lines_t *ls)
{
	free(ls->line[2]);
	memmove(&ls->line[2], &ls->line[3], (ls->n - 3) * sizeof(char *));
	ls->n--;
}

static void edit_delete_first(lines_t *ls)
{
	free(ls->line[0]);
	memmove(&ls->line[0], &ls->line[1], (ls->n - 1) * sizeof(char *));
	ls->n--;
}

static void edit_swap_lines(lines_t *ls)
{
	char *t = ls->line[1];

	ls->line[1] = ls->line[2];
	ls->line[2] = t;
}

static void edit_cut_last(lines_t *ls)
{
	ls->cut_last = 1;
}

/* Whole lines dropped from the end leave a shorter, valid chain: that is
 * what anchoring the head is for. Here only the last newline goes. */
static void edit_cut_newline(lines_t *ls)
{
	ls->no_final_nl = 1;
}

/* A line inserted with a hash of its own worked out, but no way to fit it
 * into the chain: its prev is not the line before. */
static void edit_insert_wrong_prev(lines_t *ls)
{
	char forged[256], h[65];

	hash_of(ls, 0, h); /* the hash of line 1, not line 2 */
	forge(forged, sizeof(forged), 3, h);
	lines_insert(ls, 2, forged);
}

/* A line inserted with the right prev: the line after it no longer fits. */
static void edit_insert_right_prev(lines_t *ls)
{
	char forged[256], h[65];

	hash_of(ls, 1, h);
	forge(forged, sizeof(forged), 3, h);
	lines_insert(ls, 2, forged);
}

/* Line 3 replaced by a forged line with the right seq and prev. */
static void edit_replace_line(lines_t *ls)
{
	char forged[256], h[65];

	hash_of(ls, 1, h);
	forge(forged, sizeof(forged), 3, h);
	lines_replace(ls, 2, forged);
}

static void edit_append_wrong_prev(lines_t *ls)
{
	char forged[256], h[65];

	hash_of(ls, 3, h); /* line 4's, not line 5's */
	forge(forged, sizeof(forged), 6, h);
	lines_insert(ls, ls->n, forged);
}

static void edit_first_prev(lines_t *ls)
{
	char forged[256];

	forge(forged, sizeof(forged), 1,
	      "1000000000000000000000000000000000000000000000000000000000000000");
	lines_replace(ls, 0, forged);
}

static void edit_garbage(lines_t *ls) { lines_insert(ls, 2, "not json"); }
static void edit_empty_line(lines_t *ls) { lines_insert(ls, 2, ""); }
static void edit_trailing_blank(lines_t *ls) { lines_insert(ls, ls->n, ""); }
static void edit_array(lines_t *ls) { lines_replace(ls, 2, "[1,2]"); }

static void edit_trailing_bytes(lines_t *ls)
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s {}", ls->line[2]);
	lines_replace(ls, 2, buf);
}

static void edit_duplicate_key(lines_t *ls)
{
	char buf[512];

	/* {"i":3,... -> {"seq":3,"i":3,... : seq twice */
	snprintf(buf, sizeof(buf), "{\"seq\":3,%s", ls->line[2] + 1);
	lines_replace(ls, 2, buf);
}

static void edit_seq_string(lines_t *ls)
{
	char forged[256], h[65];

	hash_of(ls, 1, h);
	snprintf(forged, sizeof(forged), "{\"prev\":\"%s\",\"seq\":\"3\"}", h);
	lines_replace(ls, 2, forged);
}

static void edit_seq_zero(lines_t *ls)
{
	char forged[256];

	forge(forged, sizeof(forged), 0, ZEROS);
	lines_insert(ls, 0, forged);
}

static void edit_prev_short(lines_t *ls)
{
	char forged[256];

	forge(forged, sizeof(forged), 3, "abc");
	lines_replace(ls, 2, forged);
}

static void edit_prev_upper(lines_t *ls)
{
	char forged[256], h[65];

	hash_of(ls, 1, h);
	for (char *p = h; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	forge(forged, sizeof(forged), 3, h);
	lines_replace(ls, 2, forged);
}

static void edit_nul_byte(lines_t *ls)
{
	/* Written with its NUL by lines_write? No: strings stop there. A
	 * \u0000 escape is what a JSON text can carry. */
	char buf[512];

	snprintf(buf, sizeof(buf), "{\"x\":\"a\\u0000b\",%s", ls->line[2] + 1);
	lines_replace(ls, 2, buf);
}

static const tamper_t tampers[] = {
	{ "field byte changed", edit_field_byte, 4, "\"prev\" is not the hash of line 3" },
	{ "seq changed", edit_seq_number, 3, "\"seq\" is 7, expected 3" },
	{ "line deleted", edit_delete_line, 3, "\"seq\" is 4, expected 3" },
	{ "first line deleted", edit_delete_first, 1, "\"seq\" is 2, expected 1" },
	{ "lines swapped", edit_swap_lines, 2, "\"seq\" is 3, expected 2" },
	{ "last line cut mid-way", edit_cut_last, 5, "no newline" },
	{ "last newline cut", edit_cut_newline, 5, "no newline" },
	{ "inserted, wrong prev", edit_insert_wrong_prev, 3, "\"prev\" is not the hash of line 2" },
	{ "inserted, right prev", edit_insert_right_prev, 4, "\"seq\" is 3, expected 4" },
	{ "line replaced", edit_replace_line, 4, "\"prev\" is not the hash of line 3" },
	{ "appended, wrong prev", edit_append_wrong_prev, 6, "\"prev\" is not the hash of line 5" },
	{ "first prev not zero", edit_first_prev, 1, "first line is not 64 zeros" },
	{ "garbage line", edit_garbage, 3, "not valid JSON" },
	{ "empty line", edit_empty_line, 3, "not valid JSON" },
	{ "blank line at the end", edit_trailing_blank, 6, "not valid JSON" },
	{ "array line", edit_array, 3, "not a JSON object" },
	{ "bytes after the object", edit_trailing_bytes, 3, "not valid JSON" },
	{ "duplicate key", edit_duplicate_key, 3, "not valid JSON" },
	{ "seq a string", edit_seq_string, 3, "\"seq\" missing or not an integer" },
	{ "seq zero", edit_seq_zero, 1, "\"seq\" is 0, expected 1" },
	{ "prev too short", edit_prev_short, 3, "\"prev\" missing or not 64 hex digits" },
	{ "prev upper case", edit_prev_upper, 3, "\"prev\" is not the hash of line 2" },
	{ "NUL in a string", edit_nul_byte, 3, "not valid JSON" },
};

START_TEST(test_tamper_detected)
{
	const tamper_t *t = &tampers[_i];
	hashchain_t *hc = (hashchain_t *)&hc; /* must stay untouched */
	size_t before, after;
	char *b, *a;
	lines_t ls;

	make_chain(5);
	expect_ok(5);
	lines_read(&ls);
	t->edit(&ls);
	lines_write(&ls);
	lines_free(&ls);
	expect_bad(t->bad_line, t->why);

	/* The writer refuses the file and leaves it as it is. */
	b = slurp(path, &before);
	ck_assert_int_eq(hashchain_open(path, 0, &hc, err, sizeof(err)), -ZK_EMALFORMED);
	ck_assert_ptr_eq(hc, (hashchain_t *)&hc);
	ck_assert_msg(strstr(err, "line ") != NULL, "%s: %s", t->name, err);
	a = slurp(path, &after);
	ck_assert_uint_eq(before, after);
	ck_assert_mem_eq(a, b, before);
	free(a);
	free(b);
}
END_TEST

/* The chain alone cannot tell that its last line was rewritten: the head
 * recorded elsewhere can. */
START_TEST(test_last_line_needs_anchor)
{
	hashchain_t *hc = open_ok(0);
	char head[65], now[65];
	lines_t ls;

	append_n(hc, 1, 3);
	hashchain_head(hc, head);
	hashchain_close(&hc);
	lines_read(&ls);
	edit_field_byte(&ls); /* line 3, the last */
	lines_write(&ls);
	lines_free(&ls);
	expect_ok(3);
	hc = open_ok(0);
	hashchain_head(hc, now);
	hashchain_close(&hc);
	ck_assert_str_ne(head, now);
}
END_TEST

/* ---- opening ------------------------------------------------------------------ */

START_TEST(test_second_writer_refused)
{
	hashchain_t *a = open_ok(0), *b = NULL;

	ck_assert_int_eq(hashchain_open(path, 0, &b, err, sizeof(err)), -ZK_EIO);
	ck_assert_ptr_null(b);
	ck_assert_ptr_nonnull(strstr(err, "already open for writing"));
	append_n(a, 1, 2);
	hashchain_close(&a);
	b = open_ok(0);
	append_n(b, 3, 1);
	hashchain_close(&b);
	expect_ok(3);
}
END_TEST

START_TEST(test_open_bad_arguments)
{
	hashchain_t *hc = NULL;

	ck_assert_int_eq(hashchain_open(NULL, 0, &hc, err, sizeof(err)), -ZK_EINVAL);
	ck_assert_int_eq(hashchain_open("", 0, &hc, err, sizeof(err)), -ZK_EINVAL);
	ck_assert_int_eq(hashchain_open(path, 0, NULL, err, sizeof(err)), -ZK_EINVAL);
	ck_assert_int_eq(hashchain_open(path, 1u << 5, &hc, err, sizeof(err)), -ZK_EINVAL);
	ck_assert_int_eq(hashchain_open(path, 0, &hc, NULL, 0), 0); /* no message buffer */
	hashchain_close(&hc);
	ck_assert_int_eq(hashchain_open(dir, 0, &hc, err, sizeof(err)), -ZK_EIO);
	ck_assert_ptr_null(hc);
	ck_assert_ptr_nonnull(strstr(err, dir));
	ck_assert_int_eq(hashchain_open("/dev/null", 0, &hc, err, sizeof(err)), -ZK_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
	ck_assert_ptr_null(hc);
}
END_TEST

START_TEST(test_verify_missing_file)
{
	uint64_t lines = 7;
	char missing[4300];

	snprintf(missing, sizeof(missing), "%s/none.jsonl", dir);
	ck_assert_int_eq(hashchain_verify_file(missing, &lines, err, sizeof(err)), -ZK_EIO);
	ck_assert_uint_eq(lines, 0);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	ck_assert_int_eq(hashchain_verify_file(NULL, &lines, err, sizeof(err)), -ZK_EINVAL);
}
END_TEST

/* ---- walking ------------------------------------------------------------------ */

typedef struct {
	uint64_t seen;
	uint64_t stop_at;
	int fail_at;
} walk_count_t;

static int count_cb(const json_t *entry, const char *line, size_t len, uint64_t seq,
		    void *arg)
{
	walk_count_t *c = arg;

	ck_assert_uint_eq(seq, c->seen + 1);
	ck_assert_int_eq(json_integer_value(json_object_get(entry, "i")), (json_int_t)seq);
	ck_assert_int_eq(line[0], '{');
	ck_assert_int_eq(line[len - 1], '}');
	c->seen++;
	if (c->fail_at && seq == (uint64_t)c->fail_at)
		return -ZK_EIO;
	return seq == c->stop_at ? 1 : 0;
}

START_TEST(test_walk_callback)
{
	walk_count_t c = { 0 };
	uint64_t lines = 0;
	int fd;

	make_chain(5);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(hashchain_walk_fd(fd, path, count_cb, &c, &lines, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.seen, 5);
	ck_assert_uint_eq(lines, 5);

	/* The same descriptor again (pread: no seek needed), stopping early. */
	c = (walk_count_t){ .stop_at = 2 };
	ck_assert_int_eq(hashchain_walk_fd(fd, path, count_cb, &c, &lines, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.seen, 2);
	ck_assert_uint_eq(lines, 2);

	/* A callback's error ends the walk with that error. */
	c = (walk_count_t){ .fail_at = 3 };
	ck_assert_int_eq(hashchain_walk_fd(fd, path, count_cb, &c, &lines, err, sizeof(err)),
			 -ZK_EIO);
	ck_assert_uint_eq(c.seen, 3);
	ck_assert_uint_eq(lines, 0);
	close(fd);
	ck_assert_int_eq(hashchain_walk_fd(-1, path, NULL, NULL, &lines, err, sizeof(err)),
			 -ZK_EINVAL);
}
END_TEST

/* The callback sees no line past the first bad one. */
START_TEST(test_walk_stops_at_bad_line)
{
	walk_count_t c = { 0 };
	uint64_t lines = 0;
	lines_t ls;
	int fd;

	make_chain(5);
	lines_read(&ls);
	edit_field_byte(&ls);
	lines_write(&ls);
	lines_free(&ls);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(hashchain_walk_fd(fd, path, count_cb, &c, &lines, err, sizeof(err)),
			 -ZK_EMALFORMED);
	ck_assert_uint_eq(c.seen, 3);
	ck_assert_uint_eq(lines, 4);
	close(fd);
}
END_TEST

Suite *hashchain_suite(void)
{
	Suite *s = suite_create("hashchain");
	TCase *w = tcase_create("write");
	TCase *t = tcase_create("tamper");
	TCase *o = tcase_create("open");

	tcase_add_checked_fixture(w, setup, teardown);
	tcase_add_test(w, test_append_and_verify);
	tcase_add_test(w, test_new_file_mode_and_empty);
	tcase_add_test(w, test_reopen_continues_chain);
	tcase_add_test(w, test_sync_appends);
	tcase_add_test(w, test_ascii_only_output);
	tcase_add_test(w, test_caller_fields_untouched);
	tcase_add_test(w, test_short_write_rolled_back);
	tcase_add_test(w, test_reserved_fields_refused);
	tcase_add_test(w, test_line_length_edge);
	tcase_add_test(w, test_overlong_line_refused_on_read);
	tcase_add_test(w, test_walk_callback);
	tcase_add_test(w, test_walk_stops_at_bad_line);
	suite_add_tcase(s, w);

	tcase_add_checked_fixture(t, setup, teardown);
	tcase_add_loop_test(t, test_tamper_detected, 0, (int)ARRAY_LEN(tampers));
	tcase_add_test(t, test_last_line_needs_anchor);
	suite_add_tcase(s, t);

	tcase_add_checked_fixture(o, setup, teardown);
	tcase_add_test(o, test_second_writer_refused);
	tcase_add_test(o, test_open_bad_arguments);
	tcase_add_test(o, test_verify_missing_file);
	suite_add_tcase(s, o);
	return s;
}
