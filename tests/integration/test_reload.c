/* SIGHUP reloads the CA, CRL and server certificate, all or nothing, and
 * cuts the connections the new files no longer admit; --check-config
 * validates a configuration and its TLS files without starting. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define SAFE_B "practice-b/safe-1"
#define CLIENT_A "practice-a/client-1"
#define CLIENT_7 "practice-a/client-7"

#define R_CERT_REVOKED ZKRELAY__V1__REASON__REASON_CERT_REVOKED

/* The endpoint's connection is refused, after TCP (the relay is there). */
static void expect_refused(harness_t *h, const char *practice, const char *endpoint)
{
	int rc;
	tclient_t *c = harness_endpoint(h, practice, endpoint, &rc);

	ck_assert_ptr_nonnull(c);
	ck_assert_msg(rc != 0, "%s/%s accepted", practice, endpoint);
	ck_assert_msg(rc != TCLIENT_ETCP, "%s/%s: TCP connect failed: %s", practice, endpoint,
		      tclient_error(c));
	tclient_free(c);
}

static void expect_exchange(tclient_t *client, tclient_t *safe, uint64_t seq)
{
	SEND(client, SAFE_A, 1, seq, 300, TAG(1, seq, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 1, seq, 300, TAG(1, seq, 0));
	SEND(safe, CLIENT_A, 1, seq + 1, 300, TAG(1, seq + 1, 0));
	EXPECT_DATA(client, WAIT_MS, SAFE_A, 1, seq + 1, 300, TAG(1, seq + 1, 0));
}

/* A CRL that now revokes a connected endpoint: SIGHUP closes that
 * connection with Close{CERT_REVOKED} and a WebSocket close within a
 * second, leaves the others alone, and refuses the certificate from then
 * on. */
START_TEST(test_sighup_revokes)
{
	harness_t *h = harness_new("revoke");
	const Zkrelay__V1__Frame *f = NULL;
	tclient_t *safe, *client, *revoked;
	int64_t t0, left;
	int rc;

	ck_assert_ptr_nonnull(h);
	ck_assert_msg(harness_pki(h, "issue", "practice-a", "client", "client-7", NULL) == 0, "%s",
		      harness_error(h));
	START(h);
	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(client, h, "practice-a", "client-1");
	ENDPOINT(revoked, h, "practice-a", "client-7");
	SEND(revoked, SAFE_A, 7, 1, 300, TAG(7, 1, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_7, 7, 1, 300, TAG(7, 1, 0));

	ck_assert_msg(harness_pki(h, "revoke", "practice-a", "client-7", NULL) == 0, "%s",
		      harness_error(h));
	t0 = harness_now_ms();
	ck_assert_int_eq(harness_signal(h, SIGHUP), 0);

	rc = tclient_next_frame(revoked, 1000, &f);
	ck_assert_msg(rc == 0, "no frame within 1 s of SIGHUP: %d (%s)", rc, tclient_error(revoked));
	ck_assert_msg(f->body_case == F_CLOSE, "expected close, got %s", tclient_frame_name(f));
	ck_assert_int_eq(f->close->reason, R_CERT_REVOKED);
	left = t0 + 1000 - harness_now_ms();
	rc = tclient_next_frame(revoked, left > 0 ? (int)left : 0, &f);
	ck_assert_msg(rc == TCLIENT_ECLOSED, "connection not ended within 1 s of SIGHUP: %d (%s)",
		      rc, tclient_error(revoked));
	ck_assert_msg(tclient_close_code(revoked) != TCLIENT_CLOSE_ABNORMAL,
		      "ended without a WebSocket close (%s)", tclient_error(revoked));
	tclient_free(revoked);

	/* The others were not touched. */
	expect_exchange(client, safe, 10);
	expect_refused(h, "practice-a", "client-7");
	expect_exchange(client, safe, 20);
	ck_assert_msg(harness_log_wait(h, WAIT_MS, "\"event\":\"reloaded\"", "\"connections_cut\":1",
				       NULL),
		      "no reloaded line with connections_cut 1; see %s", harness_log_path(h));
	tclient_free(client);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* A client whose TLS handshake passed under the old CRL but that has not
 * upgraded yet is cut by the SIGHUP that revokes it, not let through
 * when it upgrades later on a verdict the new CRL overturned. */
START_TEST(test_sighup_revokes_upgrading)
{
	harness_t *h = harness_new("revokeupg");
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	ck_assert_ptr_nonnull(h);
	ck_assert_msg(harness_pki(h, "issue", "practice-a", "client", "client-7", NULL) == 0, "%s",
		      harness_error(h));
	harness_set_int(h, "timeouts", "upgrade_s", 30);
	START(h);
	harness_client_opts(h, &o, "practice-a", "client-7");
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect_tls(c);
	ck_assert_msg(rc == 0, "TLS handshake: %d (%s)", rc, tclient_error(c));

	ck_assert_msg(harness_pki(h, "revoke", "practice-a", "client-7", NULL) == 0, "%s",
		      harness_error(h));
	ck_assert_int_eq(harness_signal(h, SIGHUP), 0);
	rc = tclient_wait_closed(c, 1000);
	ck_assert_msg(rc == 0, "still open 1 s after the SIGHUP that revoked it: %d (%s)", rc,
		      tclient_error(c));
	ck_assert_msg(harness_log_wait(h, WAIT_MS, "\"event\":\"reloaded\"",
				       "\"connections_cut\":1", NULL),
		      "no reloaded line with connections_cut 1; see %s", harness_log_path(h));
	tclient_free(c);
	harness_free(h);
}
END_TEST

/* A CRL file that does not parse: the reload fails as a whole, the relay
 * runs on with the CA and CRL it had (so client-2, revoked before the
 * start, stays refused), and connections old and new work. */
START_TEST(test_sighup_broken_crl)
{
	static const char garbage[] = "-----BEGIN X509 CRL-----\nnot a CRL at all\n"
				      "-----END X509 CRL-----\n\x01\x02garbage\n";
	harness_t *h = harness_new("badcrl");
	tclient_t *safe, *client, *fresh;
	FILE *fp;

	ck_assert_ptr_nonnull(h);
	ck_assert_msg(harness_pki(h, "revoke", "practice-a", "client-2", NULL) == 0, "%s",
		      harness_error(h));
	START(h);
	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(client, h, "practice-a", "client-1");

	fp = fopen(harness_path(h, "pki/crl.pem"), "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fwrite(garbage, 1, sizeof(garbage) - 1, fp), sizeof(garbage) - 1);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(harness_signal(h, SIGHUP), 0);
	ck_assert_msg(harness_log_wait(h, WAIT_MS, "\"event\":\"reload_failed\"", NULL),
		      "no reload_failed line; see %s", harness_log_path(h));
	ck_assert_msg(harness_running(h), "relay exited after a failed reload");
	ck_assert_msg(!harness_log_find(h, "\"event\":\"reloaded\"", NULL),
		      "a failed reload logged reloaded");

	/* Existing connections unaffected. */
	expect_exchange(client, safe, 1);
	/* New ones with valid certificates accepted ... */
	ENDPOINT(fresh, h, "practice-b", "client-1");
	SEND(fresh, SAFE_B, 1, 1, 100, TAG(1, 1, 3));
	EXPECT_NACK(fresh, 1, 1, R_NO_ROUTE);
	/* ... and the old CRL still applies. */
	expect_refused(h, "practice-a", "client-2");
	expect_exchange(client, safe, 3);
	tclient_free(fresh);
	tclient_free(client);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* --check-config */

/* Writes a complete configuration for this test's PKI; the TLS file
 * names are relative to DIR/pki, limits_line (NULL: none) is the only
 * line of [limits] and lands on line LIMITS_LINE. */
#define LIMITS_LINE 11
static const char *write_config(harness_t *h, const char *ca, const char *cert,
				const char *key, const char *limits_line)
{
	const char *path = harness_path(h, "check.conf");
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	fprintf(fp,
		"[relay]\n"                   /* 1 */
		"id = zkrelay-check\n"        /* 2 */
		"listen = 127.0.0.1:8443\n"   /* 3 */
		"registry_dir = %s\n"         /* 4 */
		"[tls]\n"                     /* 5 */
		"ca_file = %s\n"              /* 6 */
		"cert_file = %s\n"            /* 7 */
		"key_file = %s\n"             /* 8 */
		"crl_file = %s\n"             /* 9 */
		"[limits]\n"                  /* 10 */
		"%s\n",                       /* 11 */
		harness_path(h, "pki/registry"), harness_path(h, "pki/%s", ca),
		harness_path(h, "pki/%s", cert),
		harness_path(h, "pki/%s", key), harness_path(h, "pki/crl.pem"),
		limits_line ? limits_line : "");
	ck_assert_int_eq(fclose(fp), 0);
	return path;
}

/* Runs "$ZKRELAY_BIN -c config --check-config" with stdout and stderr in
 * out_path; its exit status, or -1 if it did not exit normally in 10 s. */
static int run_check_config(const char *config, const char *out_path)
{
	const char *bin = getenv("ZKRELAY_BIN");
	int64_t deadline = harness_now_ms() + 10000;
	int status;
	pid_t pid;

	ck_assert_ptr_nonnull(bin);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(bin, bin, "-c", config, "--check-config", (char *)NULL);
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (harness_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		harness_sleep_ms(10);
	}
}

static char *slurp(const char *path)
{
	static char buf[8192];
	FILE *fp = fopen(path, "r");
	size_t n = 0;

	if (fp != NULL) {
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
	}
	buf[n] = '\0';
	return buf;
}

typedef struct {
	const char *name;
	const char *ca, *cert, *key; /* inside DIR/pki */
	const char *limits_line;
	int status;
	/* Substrings the output must hold; "@CA", "@KEY" and "@LINE" stand
	 * for the CA path, the key path and "CONFIG:LINE". */
	const char *want[3];
} check_case_t;

static const check_case_t check_cases[] = {
	{ "good", "ca.crt", "server.crt", "server.key", "max_payload_bytes = 65535", 0,
	  { "configuration OK", NULL } },
	{ "missing CA file", "no-such-ca.crt", "server.crt", "server.key", NULL, 1,
	  { "CA", "@CA", NULL } },
	{ "key does not match the certificate", "ca.crt", "server.crt", "practice-a/client-1.key",
	  NULL, 1, { "match", "@KEY", NULL } },
	{ "unknown key", "ca.crt", "server.crt", "server.key", "no_such_limit = 1", 1,
	  { "@LINE", "unknown key", "no_such_limit" } },
	{ "value out of range", "ca.crt", "server.crt", "server.key", "max_payload_bytes = 65536", 1,
	  { "@LINE", "max_payload_bytes", "65536" } },
};

START_TEST(test_check_config)
{
	const check_case_t *k = &check_cases[_i];
	harness_t *h = harness_new("checkconf");
	const char *config, *out;
	char line[700];
	int status, j;

	ck_assert_ptr_nonnull(h);
	ck_assert_msg(harness_error(h)[0] == '\0', "%s", harness_error(h));
	config = write_config(h, k->ca, k->cert, k->key, k->limits_line);
	status = run_check_config(config, harness_path(h, "check.out"));
	out = slurp(harness_path(h, "check.out"));
	ck_assert_msg(status == k->status, "%s: exit status %d, expected %d; output: %s", k->name,
		      status, k->status, out);
	snprintf(line, sizeof(line), "%s:%d:", config, LIMITS_LINE);
	for (j = 0; j < 3 && k->want[j] != NULL; j++) {
		const char *w = k->want[j];

		if (strcmp(w, "@CA") == 0)
			w = harness_path(h, "pki/%s", k->ca);
		else if (strcmp(w, "@KEY") == 0)
			w = harness_path(h, "pki/%s", k->key);
		else if (strcmp(w, "@LINE") == 0)
			w = line;
		ck_assert_msg(strstr(out, w) != NULL, "%s: output lacks \"%s\": %s", k->name, w, out);
	}
	harness_free(h);
}
END_TEST

Suite *reload_suite(void)
{
	Suite *s = suite_create("reload");
	TCase *tc = tcase_create("reload");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sighup_revokes);
	tcase_add_test(tc, test_sighup_revokes_upgrading);
	tcase_add_test(tc, test_sighup_broken_crl);
	tcase_add_loop_test(tc, test_check_config, 0,
			    (int)(sizeof(check_cases) / sizeof(check_cases[0])));
	suite_add_tcase(s, tc);
	return s;
}
