/* End to end: the real relay, a real data-safe agent (zkrelay-safe) and
 * the real CLI (zkrelay-cli), driven as a practice would drive them
 * (contract: client/safe, client/cli; document protocol in client/doc).
 *
 * What is shown here:
 *   - documents of 0 B, 1 B, 65535 B, 65536 B and 20 MiB go up and come
 *     back byte for byte (SHA-256 of the file put and the file got), and
 *     "ls" lists them with their sizes and hashes;
 *   - a patient-scoped client reaches its patient and nothing else: other
 *     patients, existing or not, answer "not permitted" (exit 5) alike;
 *   - a wrong pinned data-safe key fails closed (exit 4) before a single
 *     document byte moves;
 *   - a relay killed in the middle of a 20 MiB get or put and restarted on
 *     its port: the transfer completes with the right bytes after the SDK
 *     reconnects, and the data-safe handled the request exactly once;
 *   - zero knowledge: right after a document with a random canary went
 *     through, the relay's whole memory (every readable mapping, see
 *     memscan.h) holds neither the canary, the patient id nor the
 *     document name, and neither do its log or its audit trail, while the
 *     same scan finds the canary in the data-safe (so the scan works);
 *   - the data-safe's audit trail verifies, and one altered byte is found
 *     at a definite line;
 *   - the CLI's failure exits: relay unreachable (2) within --timeout,
 *     access token refused (3), --help (0) and bad usage (64) everywhere. */
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "memscan.h"

#define PRACTICE "practice-a"
#define SAFE_EP "safe-1"
#define SAFE_ADDR "practice-a/safe-1"

/* One CLI command, generous enough for 20 MiB under AddressSanitizer. */
#define CLI_MS 180000
#define BIG ((size_t)20 << 20)

/* ---------------------------------------------------------------------- */
/* Files. */

/* Lowercase hex SHA-256 of a file's bytes; fails the test if unreadable. */
static void sha256_file(const char *path, char hex[65])
{
	unsigned char md[32], buf[65536];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	size_t n;
	int i;

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		ck_assert_int_eq(EVP_DigestUpdate(ctx, buf, n), 1);
	ck_assert_msg(!ferror(f), "%s: read error", path);
	fclose(f);
	ck_assert_int_eq(EVP_DigestFinal_ex(ctx, md, &mdlen), 1);
	EVP_MD_CTX_free(ctx);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_msg(n == 0 || fwrite(p, 1, n, f) == n, "%s: short write", path);
	ck_assert_msg(fclose(f) == 0, "%s: close failed", path);
}

/* A file of n random bytes. */
static void random_file(const char *path, size_t n)
{
	unsigned char *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(RAND_bytes(p, (int)n), 1);
	write_bytes(path, p, n);
	free(p);
}

/* n random bytes as 2n lowercase hex digits. */
static void random_hex(char *out, size_t n)
{
	unsigned char b[64];
	size_t i;

	ck_assert(n <= sizeof(b));
	ck_assert_int_eq(RAND_bytes(b, (int)n), 1);
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---------------------------------------------------------------------- */
/* Programs. */

static void need_programs(void)
{
	char why[400];

	ck_assert_msg(harness_programs(why, sizeof(why)) == 0, "%s", why);
}

/* The relay and practice-a's data-safe, both running. */
static harness_t *setup(const char *name)
{
	harness_t *h;

	need_programs();
	h = harness_new(name);
	START(h);
	ck_assert_msg(harness_safe_start(h, PRACTICE, SAFE_EP) == 0, "data-safe: %s",
		      harness_error(h));
	return h;
}

static const char *safe_file(harness_t *h, const char *file)
{
	return harness_safe_path(h, PRACTICE, SAFE_EP, file);
}

/* Checks a finished run's exit status, showing the command and its
 * stderr when it differs. */
#define EXPECT_EXIT(r, want)                                                          \
	do {                                                                          \
		ck_assert_msg(!(r)->timed_out, "%s: still running after its timeout",  \
			      (r)->cmd);                                              \
		ck_assert_msg((r)->status == (want), "%s: exit %d, expected %d; stderr: %.600s", \
			      (r)->cmd, (r)->status, (want), (r)->err ? (r)->err : "");        \
	} while (0)

/* zkrelay-cli --state STATE args... run to the end with exit status want. */
#define CLI(h, want, state, ...)                                                      \
	do {                                                                          \
		harness_run_t r_;                                                     \
		ck_assert_msg(harness_cli((h), &r_, CLI_MS, (state), __VA_ARGS__, NULL) == 0, \
			      "zkrelay-cli: %s", harness_error(h));                   \
		EXPECT_EXIT(&r_, (want));                                             \
		harness_run_free(&r_);                                                \
	} while (0)

/* The same, keeping the run (its output) in *r for the caller to free. */
#define CLI_R(h, r, want, state, ...)                                                 \
	do {                                                                          \
		ck_assert_msg(harness_cli((h), (r), CLI_MS, (state), __VA_ARGS__, NULL) == 0, \
			      "zkrelay-cli: %s", harness_error(h));                   \
		EXPECT_EXIT((r), (want));                                             \
	} while (0)

/* Stops the data-safe and the relay with SIGTERM: both must exit 0 (under
 * AddressSanitizer that includes the leak check at exit). */
static void stop_clean(harness_t *h)
{
	int st = 0;

	ck_assert_msg(harness_safe_stop(h, PRACTICE, SAFE_EP, &st) == 0, "data-safe: %s",
		      harness_error(h));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "data-safe after SIGTERM: status 0x%x; see %s", st, safe_file(h, "safe.log"));
	ck_assert_msg(harness_stop(h, &st) == 0, "relay: %s", harness_error(h));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "relay after SIGTERM: status 0x%x",
		      st);
}

/* The first line of a run's stdout, without its newline, in buf. */
static const char *first_line(const harness_run_t *r, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", r->out ? r->out : "");
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Enrollment, in the three steps a practice takes. */

/* "zkrelay-cli init" for practice-a/<client> into a new state directory;
 * the client's public key (base64url) in pub. */
static const char *cli_init(harness_t *h, const char *client, char pub[64])
{
	const char *state = harness_path(h, "cli-%s", client);
	harness_run_t r;

	CLI_R(h, &r, 0, state, "init", "--cert", harness_cert(h, PRACTICE, client), "--key",
	      harness_key(h, PRACTICE, client), "--ca", harness_path(h, "pki/ca.crt"));
	first_line(&r, pub, 64);
	harness_run_free(&r);
	ck_assert_msg(strlen(pub) == 43, "zkrelay-cli init printed \"%s\", not a public key", pub);
	return state;
}

/* "zkrelay-safe enroll" for practice-a/<client> with that public key,
 * whole practice (patient NULL) or one patient; the enrollment file. */
static const char *safe_enroll(harness_t *h, const char *client, const char *pub,
			       const char *patient)
{
	const char *file = harness_path(h, "enroll-%s.json", client);
	char addr[128];
	harness_run_t r;

	snprintf(addr, sizeof(addr), "%s/%s", PRACTICE, client);
	if (patient == NULL)
		ck_assert_msg(harness_safe_cmd(h, &r, 60000, "enroll", "-c", safe_file(h, "safe.conf"),
					       "--client", addr, "--client-key", pub,
					       "--client-cert", harness_cert(h, PRACTICE, client),
					       "--out", file, NULL) == 0,
			      "%s", harness_error(h));
	else
		ck_assert_msg(harness_safe_cmd(h, &r, 60000, "enroll", "-c", safe_file(h, "safe.conf"),
					       "--client", addr, "--client-key", pub,
					       "--client-cert", harness_cert(h, PRACTICE, client),
					       "--patient", patient, "--out", file, NULL) == 0,
			      "%s", harness_error(h));
	EXPECT_EXIT(&r, 0);
	harness_run_free(&r);
	ck_assert_msg(file_size(file) > 0, "zkrelay-safe enroll wrote no %s", file);
	return file;
}

/* Replaces one string member of the enrollment file. */
static void edit_enrollment(const char *file, const char *key, const char *value)
{
	json_error_t e;
	json_t *j = json_load_file(file, 0, &e);

	ck_assert_msg(j != NULL, "%s: %s (line %d)", file, e.text, e.line);
	ck_assert_msg(json_is_string(json_object_get(j, key)), "%s: no string \"%s\"", file, key);
	ck_assert_int_eq(json_object_set_new(j, key, json_string(value)), 0);
	ck_assert_int_eq(json_dump_file(j, file, JSON_COMPACT), 0);
	json_decref(j);
}

/* One string member of the enrollment file, copied into out. */
static void read_enrollment(const char *file, const char *key, char *out, size_t cap)
{
	json_error_t e;
	json_t *j = json_load_file(file, 0, &e);

	ck_assert_msg(j != NULL, "%s: %s (line %d)", file, e.text, e.line);
	ck_assert_msg(json_is_string(json_object_get(j, key)), "%s: no string \"%s\"", file, key);
	snprintf(out, cap, "%s", json_string_value(json_object_get(j, key)));
	json_decref(j);
}

/* All three steps: a CLI state directory for practice-a/<client>. */
static const char *enroll(harness_t *h, const char *client, const char *patient)
{
	char pub[64];
	const char *state = cli_init(h, client, pub);
	const char *file = safe_enroll(h, client, pub, patient);

	CLI(h, 0, state, "enroll", file);
	return state;
}

/* ---------------------------------------------------------------------- */
/* The data-safe's audit file. */

/* Access entries for client (address), op and doc (NULL: any) with the
 * given decision ("true"/"false", NULL: either). */
static int audit_count(harness_t *h, const char *client, const char *op, const char *doc,
		       const char *allowed)
{
	char c[160], o[64], d[200], a[32];

	snprintf(c, sizeof(c), "\"client\":\"%s\"", client);
	snprintf(o, sizeof(o), "\"op\":\"%s\"", op ? op : "");
	snprintf(d, sizeof(d), "\"doc\":\"%s\"", doc ? doc : "");
	snprintf(a, sizeof(a), "\"allowed\":%s", allowed ? allowed : "");
	return harness_file_count(safe_file(h, "audit.log"), "\"event\":\"access\"", c,
				  op ? o : c, doc ? d : c, allowed ? a : c, NULL);
}

/* ---------------------------------------------------------------------- */
/* Sizes through the real relay. */

/* "ls" output: the line for name must read NAME<TAB>SIZE<TAB>SHA256. */
static void expect_listed(const char *ls, const char *name, long long size, const char *hex)
{
	char want[400];
	const char *p;
	int found = 0;

	snprintf(want, sizeof(want), "%s\t%lld\t%s", name, size, hex);
	for (p = ls; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		if (len == strlen(want) && memcmp(p, want, len) == 0)
			found++;
		p = nl ? nl + 1 : NULL;
	}
	ck_assert_msg(found == 1, "ls: \"%s\" listed %d times in:\n%.2000s", want, found, ls);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; s != NULL && *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

START_TEST(test_sizes)
{
	static const size_t sizes[] = { 0, 1, 65535, 65536, BIG };
	harness_t *h = setup("sizes");
	const char *st = enroll(h, "client-1", NULL);
	char name[64], hex[65], got_hex[65], ls_name[96];
	harness_run_t r;
	size_t i;
	int64_t t0 = harness_now_ms();

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const char *src, *dst;

		snprintf(name, sizeof(name), "doc-%zu.bin", sizes[i]);
		src = harness_path(h, "%s", name);
		dst = harness_path(h, "got-%s", name);
		random_file(src, sizes[i]);
		sha256_file(src, hex);
		CLI(h, 0, st, "put", "p-1", src, "--quiet");
		CLI(h, 0, st, "get", "p-1", name, "-o", dst, "--quiet");
		ck_assert_msg(file_size(dst) == (long long)sizes[i], "%s: %lld bytes, put %zu", name,
			      file_size(dst), sizes[i]);
		sha256_file(dst, got_hex);
		ck_assert_msg(strcmp(hex, got_hex) == 0, "%s: SHA-256 %s got, %s put", name, got_hex,
			      hex);
		/* The data-safe stored exactly these bytes. */
		snprintf(ls_name, sizeof(ls_name), "store/p-1/%s", name);
		sha256_file(safe_file(h, ls_name), got_hex);
		ck_assert_msg(strcmp(hex, got_hex) == 0, "%s: stored SHA-256 %s, put %s", name,
			      got_hex, hex);
	}
	/* "get -o -" writes the document to stdout. */
	CLI_R(h, &r, 0, st, "get", "p-1", "doc-65535.bin", "-o", "-", "--quiet");
	ck_assert_uint_eq(r.out_len, 65535);
	write_bytes(harness_path(h, "stdout.bin"), r.out, r.out_len);
	harness_run_free(&r);
	sha256_file(harness_path(h, "stdout.bin"), got_hex);
	sha256_file(harness_path(h, "doc-65535.bin"), hex);
	ck_assert_str_eq(got_hex, hex);

	CLI_R(h, &r, 0, st, "ls", "p-1");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		snprintf(name, sizeof(name), "doc-%zu.bin", sizes[i]);
		sha256_file(harness_path(h, "%s", name), hex);
		expect_listed(r.out, name, (long long)sizes[i], hex);
	}
	ck_assert_msg(count_lines(r.out) == 5, "ls: %d lines, expected 5:\n%s", count_lines(r.out),
		      r.out);
	harness_run_free(&r);
	fprintf(stderr, "e2e sizes: 5 documents up and down in %lld ms\n",
		(long long)(harness_now_ms() - t0));
	stop_clean(h);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Patient scope. */

START_TEST(test_patient_scope)
{
	static const char *const others[] = { "p-2", "p-404" };
	harness_t *h = setup("scope");
	const char *all = enroll(h, "client-1", NULL);
	const char *one = enroll(h, "client-2", "p-1");
	const char *a = harness_path(h, "a.txt"), *b = harness_path(h, "b.txt");
	const char *c = harness_path(h, "c.txt");
	char hex[65], got[65];
	harness_run_t r;
	size_t i;

	random_file(a, 1000);
	random_file(b, 2000);
	random_file(c, 3000);
	CLI(h, 0, all, "put", "p-1", a, "--quiet");
	CLI(h, 0, all, "put", "p-2", b, "--quiet");

	/* Its own patient: list (by default and by name), get, put. */
	CLI_R(h, &r, 0, one, "ls");
	sha256_file(a, hex);
	expect_listed(r.out, "a.txt", 1000, hex);
	ck_assert_int_eq(count_lines(r.out), 1);
	harness_run_free(&r);
	CLI_R(h, &r, 0, one, "ls", "p-1");
	expect_listed(r.out, "a.txt", 1000, hex);
	harness_run_free(&r);
	CLI(h, 0, one, "get", "p-1", "a.txt", "-o", harness_path(h, "got-a.txt"), "--quiet");
	sha256_file(harness_path(h, "got-a.txt"), got);
	ck_assert_str_eq(got, hex);
	CLI(h, 0, one, "put", "p-1", c, "--quiet");

	/* Another patient, existing (p-2) or not (p-404): the same refusal,
	 * nothing shown, nothing written. */
	for (i = 0; i < 2; i++) {
		const char *out = harness_path(h, "got-%s.txt", others[i]);

		CLI_R(h, &r, 5, one, "ls", others[i]);
		ck_assert_msg(r.out_len == 0, "ls %s printed: %s", others[i], r.out);
		harness_run_free(&r);
		CLI(h, 5, one, "get", others[i], "b.txt", "-o", out, "--quiet");
		ck_assert_msg(file_size(out) < 0, "get %s wrote %s", others[i], out);
		CLI(h, 5, one, "put", others[i], c, "--quiet");
	}
	ck_assert_msg(file_size(safe_file(h, "store/p-2/c.txt")) < 0, "p-2 got c.txt");
	ck_assert_msg(file_size(safe_file(h, "store/p-404")) < 0, "p-404 was created");
	ck_assert_int_eq(audit_count(h, "practice-a/client-2", NULL, NULL, "false"), 6);
	ck_assert_int_eq(audit_count(h, "practice-a/client-2", "put", "c.txt", "true"), 1);
	/* The whole-practice client still sees both patients. */
	CLI_R(h, &r, 0, all, "ls", "p-2");
	sha256_file(b, hex);
	expect_listed(r.out, "b.txt", 2000, hex);
	ck_assert_int_eq(count_lines(r.out), 1);
	harness_run_free(&r);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A wrong pinned data-safe key. */

START_TEST(test_wrong_pin)
{
	harness_t *h = setup("pin");
	const char *all = enroll(h, "client-1", NULL);
	const char *doc = harness_path(h, "doc.bin"), *big = harness_path(h, "big.bin");
	const char *out = harness_path(h, "got.bin"), *st, *file;
	char pub[64], other[64], before_key[64];
	harness_run_t r;
	int64_t rchar0, moved;

	random_file(doc, 4096);
	random_file(big, (size_t)1 << 20);
	CLI(h, 0, all, "put", "p-1", doc, "--quiet");

	/* client-2's enrollment pins a key the data-safe does not hold. */
	ck_assert_msg(harness_safe_cmd(h, &r, 30000, "keygen", "--out",
				       harness_path(h, "other.key"), NULL) == 0,
		      "%s", harness_error(h));
	EXPECT_EXIT(&r, 0);
	first_line(&r, other, sizeof(other));
	harness_run_free(&r);
	ck_assert_int_eq((int)strlen(other), 43);
	st = cli_init(h, "client-2", pub);
	file = safe_enroll(h, "client-2", pub, NULL);
	read_enrollment(file, "safe_key", before_key, sizeof(before_key));
	ck_assert_str_eq(before_key, harness_safe_pubkey(h, PRACTICE, SAFE_EP));
	edit_enrollment(file, "safe_key", other);
	CLI(h, 0, st, "enroll", file);

	CLI(h, 4, st, "ls", "p-1");
	CLI(h, 4, st, "get", "p-1", "doc.bin", "-o", out, "--quiet");
	ck_assert_msg(file_size(out) < 0, "get wrote %s", out);
	/* A 1 MiB put: the relay reads far less than the document (only the
	 * handshake attempts), so no document byte left the client. */
	rchar0 = harness_proc_rchar(harness_pid(h));
	ck_assert_msg(rchar0 >= 0, "cannot read /proc/%d/io", (int)harness_pid(h));
	CLI(h, 4, st, "put", "p-1", big, "--quiet");
	moved = harness_proc_rchar(harness_pid(h)) - rchar0;
	ck_assert_msg(moved < 256 * 1024, "the relay read %lld bytes during the refused put",
		      (long long)moved);
	ck_assert_msg(file_size(safe_file(h, "store/p-1/big.bin")) < 0, "big.bin was stored");
	ck_assert_int_eq(audit_count(h, "practice-a/client-2", NULL, NULL, NULL), 0);
	/* The data-safe itself is fine: the rightly pinned client still works. */
	CLI(h, 0, all, "ls", "p-1");
	stop_clean(h);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The relay killed in the middle of a transfer. */

/* Waits until the relay has read at least `bytes` more than `from`
 * while the CLI run r still runs; then kills the relay (SIGKILL) and
 * starts it again on its port. */
static void kill_relay_midway(harness_t *h, harness_run_t *r, int64_t from, int64_t bytes)
{
	int64_t deadline = harness_now_ms() + CLI_MS;

	for (;;) {
		int64_t now = harness_proc_rchar(harness_pid(h));
		int st;

		ck_assert_msg(now >= 0, "cannot read /proc/%d/io", (int)harness_pid(h));
		if (now - from >= bytes)
			break;
		ck_assert_msg(waitpid(r->pid, &st, WNOHANG) == 0,
			      "%s ended before the relay had carried %lld bytes", r->cmd,
			      (long long)bytes);
		ck_assert_msg(harness_now_ms() < deadline, "transfer stalled at %lld bytes",
			      (long long)(now - from));
		harness_sleep_ms(1);
	}
	{
		int st;

		ck_assert_msg(waitpid(r->pid, &st, WNOHANG) == 0, "%s ended before the kill",
			      r->cmd);
	}
	ck_assert_msg(harness_restart(h) == 0, "restart: %s", harness_error(h));
}

START_TEST(test_relay_killed_during_get)
{
	harness_t *h = setup("kill-get");
	const char *st = enroll(h, "client-1", NULL);
	const char *src = harness_path(h, "big.bin"), *dst = harness_path(h, "got.bin");
	char hex[65], got[65];
	harness_run_t r;
	int64_t t0;

	random_file(src, BIG);
	sha256_file(src, hex);
	CLI(h, 0, st, "put", "p-1", src, "--quiet");
	t0 = harness_now_ms();
	ck_assert_msg(harness_cli_start(h, &r, st, "get", "p-1", "big.bin", "-o", dst, "--quiet",
					"--timeout", "60", NULL) == 0,
		      "%s", harness_error(h));
	kill_relay_midway(h, &r, harness_proc_rchar(harness_pid(h)), (int64_t)(BIG / 4));
	harness_run_wait(&r, CLI_MS);
	EXPECT_EXIT(&r, 0);
	harness_run_free(&r);
	sha256_file(dst, got);
	ck_assert_msg(strcmp(got, hex) == 0, "got SHA-256 %s, put %s", got, hex);
	/* Both ends came back through the new relay. */
	ck_assert(harness_log_find(h, "\"event\":\"connection_open\"", "practice-a/client-1", NULL));
	ck_assert(harness_log_find(h, "\"event\":\"connection_open\"", SAFE_ADDR, NULL));
	ck_assert_int_eq(audit_count(h, "practice-a/client-1", "get", "big.bin", "true"), 1);
	ck_assert_int_eq(audit_count(h, "practice-a/client-1", "get", NULL, NULL), 1);
	fprintf(stderr, "e2e kill during get: 20 MiB with a relay restart in %lld ms\n",
		(long long)(harness_now_ms() - t0));
	stop_clean(h);
	harness_free(h);
}
END_TEST

START_TEST(test_relay_killed_during_put)
{
	harness_t *h = setup("kill-put");
	const char *st = enroll(h, "client-1", NULL);
	const char *src = harness_path(h, "big.bin");
	char hex[65], got[65];
	harness_run_t r;
	int64_t t0;

	random_file(src, BIG);
	sha256_file(src, hex);
	t0 = harness_now_ms();
	ck_assert_msg(harness_cli_start(h, &r, st, "put", "p-1", src, "--quiet", "--timeout", "60",
					NULL) == 0,
		      "%s", harness_error(h));
	kill_relay_midway(h, &r, harness_proc_rchar(harness_pid(h)), (int64_t)(BIG / 4));
	harness_run_wait(&r, CLI_MS);
	EXPECT_EXIT(&r, 0);
	harness_run_free(&r);
	sha256_file(safe_file(h, "store/p-1/big.bin"), got);
	ck_assert_msg(strcmp(got, hex) == 0, "stored SHA-256 %s, put %s", got, hex);
	ck_assert(harness_log_find(h, "\"event\":\"connection_open\"", "practice-a/client-1", NULL));
	ck_assert_int_eq(audit_count(h, "practice-a/client-1", "put", "big.bin", "true"), 1);
	ck_assert_int_eq(audit_count(h, "practice-a/client-1", "put", NULL, NULL), 1);
	fprintf(stderr, "e2e kill during put: 20 MiB with a relay restart in %lld ms\n",
		(long long)(harness_now_ms() - t0));
	stop_clean(h);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Zero knowledge. */

/* A text document (about 48 KiB, like a letter or a report) with the
 * canary in it many times over. */
static void canary_document(const char *path, const char *canary)
{
	FILE *f = fopen(path, "w");
	int i;

	ck_assert_ptr_nonnull(f);
	fprintf(f, "Arztbrief (sample, no real data)\n\n");
	for (i = 0; i < 400; i++)
		fprintf(f, "Befund %03d: unauffaellig, Kontrolle in sechs Monaten. Marker %s.\n", i,
			canary);
	ck_assert_int_eq(fclose(f), 0);
}

/* Searches the process's memory for s; the number of hits. */
static uint64_t mem_hits(pid_t pid, const char *what, const char *s, int want_found)
{
	char desc[400];
	memscan_t m;

	ck_assert_msg(memscan_find(pid, s, strlen(s), &m) == 0, "memscan %s (pid %d): %s", what,
		      (int)pid, strerror(errno));
	ck_assert_msg(m.bytes > 1024 * 1024, "memscan %s read only %llu bytes", what,
		      (unsigned long long)m.bytes);
	ck_assert_msg(want_found ? m.hits > 0 : m.hits == 0, "%s memory, \"%s\": %s", what, s,
		      memscan_describe(&m, desc, sizeof(desc)));
	fprintf(stderr, "e2e memscan %s: %s\n", what, memscan_describe(&m, desc, sizeof(desc)));
	return m.hits;
}

/* None of the relay's own files (logs of every run, stdout, audit
 * trail) contain s. */
static void relay_files_clean(harness_t *h, const char *s)
{
	const char *files[8];
	int i, n = 0;

	files[n++] = harness_log_path(h);
	files[n++] = harness_path(h, "relay.out");
	files[n++] = harness_path(h, "audit.log");
	for (i = 1; i <= harness_restarts(h) && n < 8; i++)
		files[n++] = harness_path(h, "relay.log.%d", i);
	for (i = 0; i < n; i++)
		ck_assert_msg(harness_file_contains(files[i], s, strlen(s)) <= 0, "%s contains \"%s\"",
			      files[i], s);
}

START_TEST(test_zero_knowledge)
{
	harness_t *h = setup("zk");
	const char *st = enroll(h, "client-1", NULL);
	const char *src = harness_path(h, "letter.txt"), *dst = harness_path(h, "got.txt");
	char canary[33], patient[32], doc[48], hex[65], got[65], stored[160];
	int64_t rchar0, carried;
	pid_t relay = harness_pid(h), safe = harness_safe_pid(h, PRACTICE, SAFE_EP);

	/* Made only now: the relay and the data-safe were started (and
	 * exec'd) before these existed anywhere. */
	random_hex(canary, 16);
	memcpy(patient, "pt-", 3);
	random_hex(patient + 3, 8);
	memcpy(doc, "letter-", 7);
	random_hex(doc + 7, 8);
	strcat(doc, ".txt");
	canary_document(src, canary);
	sha256_file(src, hex);

	rchar0 = harness_proc_rchar(relay);
	CLI(h, 0, st, "put", patient, src, "--name", doc, "--quiet");
	CLI(h, 0, st, "get", patient, doc, "-o", dst, "--quiet");
	carried = harness_proc_rchar(relay) - rchar0;
	sha256_file(dst, got);
	ck_assert_str_eq(got, hex);
	snprintf(stored, sizeof(stored), "store/%s/%s", patient, doc);
	ck_assert_msg(harness_file_contains(safe_file(h, stored), canary, 32) == 1,
		      "the data-safe did not store the document");
	/* The document went through this relay, both ways. */
	ck_assert_msg(carried >= 2 * file_size(src), "the relay read only %lld bytes",
		      (long long)carried);

	/* At once, while the buffers that carried it may still be there. */
	mem_hits(relay, "relay", canary, 0);
	mem_hits(relay, "relay", patient, 0);
	mem_hits(relay, "relay", doc, 0);
	/* The same method finds the plaintext where it is. */
	mem_hits(safe, "data-safe", canary, 1);

	relay_files_clean(h, canary);
	relay_files_clean(h, patient);
	relay_files_clean(h, doc);
	/* The data-safe's audit names patient and document: looking in the
	 * relay's files for them would have found them. */
	ck_assert_int_eq(harness_file_contains(safe_file(h, "audit.log"), patient, strlen(patient)),
			 1);
	ck_assert_int_eq(harness_file_contains(safe_file(h, "audit.log"), doc, strlen(doc)), 1);
	stop_clean(h);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The data-safe's audit trail. */

/* Does the output name path at line n ("PATH:N:" as the contract writes
 * it, or "PATH: line N:" as common/hashchain does)? */
static int names_line(const harness_run_t *r, const char *path, int n)
{
	char a[700], b[700];

	snprintf(a, sizeof(a), "%s:%d:", path, n);
	snprintf(b, sizeof(b), "%s: line %d:", path, n);
	return strstr(r->err, a) || strstr(r->err, b) || strstr(r->out, a) || strstr(r->out, b);
}

/* A copy of the audit file with one byte of line `line` changed: the
 * first byte of the value after `key` is replaced by `to`. */
static const char *tampered_copy(harness_t *h, const char *name, int line, const char *key,
				 char to)
{
	const char *path = harness_path(h, "%s", name);
	FILE *in = fopen(safe_file(h, "audit.log"), "r"), *out = fopen(path, "w");
	char *buf = NULL;
	size_t cap = 0;
	int n = 0, changed = 0;

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	while (getline(&buf, &cap, in) >= 0) {
		if (++n == line) {
			char *p = strstr(buf, key);

			ck_assert_msg(p != NULL, "line %d has no %s", line, key);
			p += strlen(key);
			ck_assert_msg(*p != to, "line %d: %s already starts with '%c'", line, key, to);
			*p = to;
			changed = 1;
		}
		fputs(buf, out);
	}
	free(buf);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
	ck_assert_msg(changed, "the audit file has fewer than %d lines", line);
	return path;
}

START_TEST(test_audit_verify)
{
	harness_t *h = setup("audit");
	const char *st = enroll(h, "client-1", NULL);
	const char *doc = harness_path(h, "doc.bin"), *bad;
	char want[64];
	harness_run_t r;
	int lines;

	random_file(doc, 5000);
	CLI(h, 0, st, "put", "p-1", doc, "--quiet");
	CLI(h, 0, st, "ls", "p-1");
	CLI(h, 0, st, "get", "p-1", "doc.bin", "-o", harness_path(h, "got.bin"), "--quiet");
	CLI(h, 6, st, "get", "p-1", "missing.bin", "-o", harness_path(h, "none.bin"), "--quiet");
	CLI(h, 7, st, "put", "p-1", doc, "--quiet"); /* exists */
	lines = harness_file_count(safe_file(h, "audit.log"), "\"seq\":", NULL);
	ck_assert_msg(lines >= 5, "only %d audit lines", lines);
	/* Failed requests are audited too. */
	ck_assert_int_eq(audit_count(h, "practice-a/client-1", "get", "missing.bin", NULL), 1);
	ck_assert_int_eq(audit_count(h, "practice-a/client-1", "put", "doc.bin", NULL), 2);

	ck_assert(harness_safe_cmd(h, &r, 30000, "audit-verify", safe_file(h, "audit.log"),
				   NULL) == 0);
	EXPECT_EXIT(&r, 0);
	snprintf(want, sizeof(want), "ok: %d entries", lines);
	ck_assert_msg(strstr(r.out, want) != NULL, "audit-verify said \"%s\", expected \"%s\"",
		      r.out, want);
	harness_run_free(&r);

	/* A changed value on line 2: line 3's link to it breaks, so line 3
	 * is the first bad line (a chain names where it stops holding). */
	bad = tampered_copy(h, "audit-value.log", 2, "\"time\":\"", '1' /* e.g. 2026 -> 1026 */);
	ck_assert(harness_safe_cmd(h, &r, 30000, "audit-verify", bad, NULL) == 0);
	EXPECT_EXIT(&r, 1);
	ck_assert_msg(names_line(&r, bad, 3) && strstr(r.err, "line 2") != NULL,
		      "audit-verify does not name line 3 and the changed line 2: %s%s", r.out,
		      r.err);
	harness_run_free(&r);
	/* A changed sequence number on line 2 is wrong on line 2 itself. */
	bad = tampered_copy(h, "audit-seq.log", 2, "\"seq\":", '7');
	ck_assert(harness_safe_cmd(h, &r, 30000, "audit-verify", bad, NULL) == 0);
	EXPECT_EXIT(&r, 1);
	ck_assert_msg(names_line(&r, bad, 2), "audit-verify does not name line 2: %s%s", r.out,
		      r.err);
	harness_run_free(&r);
	/* The data-safe's own file is untouched and still verifies. */
	ck_assert(harness_safe_cmd(h, &r, 30000, "audit-verify", safe_file(h, "audit.log"),
				   NULL) == 0);
	EXPECT_EXIT(&r, 0);
	harness_run_free(&r);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The CLI's failure exits. */

START_TEST(test_cli_unreachable)
{
	harness_t *h = setup("unreach");
	const char *st = enroll(h, "client-1", NULL);
	harness_run_t r;
	int status;

	ck_assert_int_eq(harness_stop(h, &status), 0);
	/* Nothing listens on the enrolled port now. */
	ck_assert(harness_cli(h, &r, 30000, st, "ls", "p-1", "--timeout", "3", NULL) == 0);
	EXPECT_EXIT(&r, 2);
	ck_assert_msg(r.ms <= 3000 + 2500, "exit 2 after %lld ms with --timeout 3",
		      (long long)r.ms);
	ck_assert_msg(r.err_len > 0, "no message on stderr");
	harness_run_free(&r);
	harness_free(h);
}
END_TEST

/* The relay refuses the stored access token: exit 3, whether it expired
 * or its signature is wrong. */
START_TEST(test_cli_token_refused)
{
	harness_t *h = setup("token");
	const char *st, *file;
	char pub[64], tok[2048];
	int64_t now = (int64_t)time(NULL);
	size_t k;

	/* Expired an hour ago (still well formed and for this holder). */
	st = cli_init(h, "client-1", pub);
	file = safe_enroll(h, "client-1", pub, NULL);
	edit_enrollment(file, "token",
			harness_token_with(h, PRACTICE, "client-1", PRACTICE, SAFE_ADDR,
					   now - 7200, now - 3600, "expired-1"));
	CLI(h, 0, st, "enroll", file);
	CLI(h, 3, st, "ls", "p-1");

	/* One base64url character of the signature changed. */
	st = cli_init(h, "client-2", pub);
	file = safe_enroll(h, "client-2", pub, NULL);
	read_enrollment(file, "token", tok, sizeof(tok));
	ck_assert_msg(strncmp(tok, "v4.public.", 10) == 0 && strlen(tok) > 60, "token %s", tok);
	k = strlen(tok) - 10;
	tok[k] = tok[k] == 'A' ? 'B' : 'A';
	edit_enrollment(file, "token", tok);
	CLI(h, 0, st, "enroll", file);
	CLI(h, 3, st, "ls", "p-1");
	ck_assert(harness_log_find(h, "\"event\":\"frame_refused\"", NULL));
	ck_assert_int_eq(audit_count(h, "practice-a/client-1", NULL, NULL, NULL), 0);
	harness_free(h);
}
END_TEST

/* Every subcommand answers --help with 0; wrong usage is 64. No relay. */
START_TEST(test_cli_usage)
{
	static const char *const subs[] = { "init", "pubkey", "enroll", "ls", "get", "put" };
	/* Each a wrong usage, terminated by NULL. */
	static const char *const bad[][6] = {
		{ NULL },
		{ "frobnicate", NULL },
		{ "get", "p-1", NULL },
		{ "put", NULL },
		{ "enroll", NULL },
		{ "init", NULL },
		{ "ls", "--no-such-option", NULL },
		{ "ls", "--timeout", "soon", NULL },
		{ "get", "p-1", "doc", "extra", NULL },
	};
	harness_t *h;
	const char *st;
	harness_run_t r;
	size_t i;

	need_programs();
	h = harness_new("usage");
	ck_assert_ptr_nonnull(h);
	st = harness_path(h, "no-state");
	CLI_R(h, &r, 0, st, "--help");
	ck_assert_msg(r.out_len + r.err_len > 0, "--help printed nothing");
	harness_run_free(&r);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		CLI_R(h, &r, 0, st, subs[i], "--help");
		ck_assert_msg(r.out_len + r.err_len > 0, "%s --help printed nothing", subs[i]);
		harness_run_free(&r);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert(harness_cli_v(h, &r, 30000, st, bad[i]) == 0);
		EXPECT_EXIT(&r, 64);
		ck_assert_msg(r.err_len > 0, "%s: no message on stderr", r.cmd);
		harness_run_free(&r);
	}
	ck_assert_msg(file_size(st) < 0, "a usage error created the state directory");
	harness_free(h);
}
END_TEST

/* The same for zkrelay-safe. */
START_TEST(test_safe_usage)
{
	static const char *const subs[] = { "keygen", "pubkey", "run", "enroll", "audit-verify" };
	harness_t *h;
	harness_run_t r;
	size_t i;

	need_programs();
	h = harness_new("safe-usage");
	ck_assert_ptr_nonnull(h);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		ck_assert(harness_safe_cmd(h, &r, 30000, subs[i], "--help", NULL) == 0);
		EXPECT_EXIT(&r, 0);
		harness_run_free(&r);
	}
	ck_assert(harness_safe_cmd(h, &r, 30000, NULL) == 0);
	EXPECT_EXIT(&r, 64);
	harness_run_free(&r);
	ck_assert(harness_safe_cmd(h, &r, 30000, "frobnicate", NULL) == 0);
	EXPECT_EXIT(&r, 64);
	harness_run_free(&r);
	ck_assert(harness_safe_cmd(h, &r, 30000, "keygen", NULL) == 0);
	EXPECT_EXIT(&r, 64);
	harness_run_free(&r);
	ck_assert(harness_safe_cmd(h, &r, 30000, "audit-verify", NULL) == 0);
	EXPECT_EXIT(&r, 64);
	harness_run_free(&r);
	ck_assert(harness_safe_cmd(h, &r, 30000, "enroll", "-c", "x.conf", NULL) == 0);
	EXPECT_EXIT(&r, 64);
	harness_run_free(&r);
	harness_free(h);
}
END_TEST

Suite *e2e_suite(void)
{
	Suite *s = suite_create("e2e");
	TCase *docs = tcase_create("documents");
	TCase *fail = tcase_create("failures");
	TCase *zk = tcase_create("zero-knowledge");

	/* Timeouts for the AddressSanitizer build on two shared cores; a
	 * normal build takes a fraction. */
	tcase_set_timeout(docs, 300);
	tcase_add_test(docs, test_sizes);
	tcase_add_test(docs, test_patient_scope);
	tcase_add_test(docs, test_relay_killed_during_get);
	tcase_add_test(docs, test_relay_killed_during_put);
	tcase_add_test(docs, test_audit_verify);
	suite_add_tcase(s, docs);
	tcase_set_timeout(zk, 120);
	tcase_add_test(zk, test_zero_knowledge);
	suite_add_tcase(s, zk);
	tcase_set_timeout(fail, 120);
	tcase_add_test(fail, test_wrong_pin);
	tcase_add_test(fail, test_cli_unreachable);
	tcase_add_test(fail, test_cli_token_refused);
	tcase_add_test(fail, test_cli_usage);
	tcase_add_test(fail, test_safe_usage);
	suite_add_tcase(s, fail);
	return s;
}
