/* Least privilege: the syscall filter through a real exchange, a SIGHUP
 * reload, a /metrics scrape and a drain; who the relay may start as; and,
 * when the suite runs as root, the drop to an unprivileged user and the
 * chroot, each still serving and reloading afterwards. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define CLIENT_A "practice-a/client-1"

/* The leak check at exit stops threads with ptrace, which the filter
 * forbids: a sanitizer build runs these relays without it. No effect on
 * a build without sanitizers. */
static void no_leak_check_at_exit(void)
{
	const char *old = getenv("ASAN_OPTIONS");
	char v[512];

	snprintf(v, sizeof(v), "%s%sdetect_leaks=0", old ? old : "", old && *old ? ":" : "");
	setenv("ASAN_OPTIONS", v, 1);
}

/* The value of field ("Uid:", "Seccomp:") in /proc/PID/status. */
static void proc_status(pid_t pid, const char *field, char *out, size_t cap)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	out[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0) {
			const char *v = line + strlen(field);
			while (*v == ' ' || *v == '\t')
				v++;
			snprintf(out, cap, "%.*s", (int)strcspn(v, "\n"), v);
		}
	fclose(f);
}

/* One frame each way between practice-a's safe-1 and client-1. */
static void exchange(harness_t *h, uint64_t seq)
{
	tclient_t *safe = itest_endpoint_retry(h, "practice-a", "safe-1", 3000);
	tclient_t *client = itest_endpoint_retry(h, "practice-a", "client-1", 3000);

	SEND(client, SAFE_A, 1, seq, 700, TAG(1, seq, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 1, seq, 700, TAG(1, seq, 0));
	SEND(safe, CLIENT_A, 1, seq + 1, 700, TAG(1, seq + 1, 0));
	EXPECT_DATA(client, WAIT_MS, SAFE_A, 1, seq + 1, 700, TAG(1, seq + 1, 0));
	tclient_free(client);
	tclient_free(safe);
}

/* SIGHUP; waits for the "reloaded" line number n (reloads counted). */
static void reload(harness_t *h, int n)
{
	ck_assert_int_eq(harness_signal(h, SIGHUP), 0);
	for (int64_t end = harness_now_ms() + WAIT_MS;
	     harness_log_count(h, "\"event\":\"reloaded\"", NULL) < n;) {
		ck_assert_msg(!harness_log_find(h, "\"event\":\"reload_failed\"", NULL),
			      "reload failed; see %s", harness_log_path(h));
		ck_assert_msg(harness_now_ms() < end, "no reload; see %s", harness_log_path(h));
		harness_sleep_ms(20);
	}
}

/* Filter on: traffic, a reload that revokes a client (the relay reads the
 * new CRL and the registry and cuts the connection), /metrics, and a
 * drain to exit status 0; no violation on the way. */
START_TEST(test_seccomp_exchange)
{
	harness_t *h = harness_new("seccomp");
	tclient_t *victim;
	char v[64], *scrape;
	int port, status;

	no_leak_check_at_exit();
	harness_set(h, "relay", "seccomp", "on");
	port = itest_start_with_ops(h);
	ck_assert(harness_log_find(h, "\"event\":\"sandbox\"", "\"seccomp\":\"on\"", NULL));
	proc_status(harness_pid(h), "Seccomp:", v, sizeof(v));
	ck_assert_str_eq(v, "2"); /* SECCOMP_MODE_FILTER */
	exchange(h, 1);

	ENDPOINT(victim, h, "practice-a", "client-2");
	ck_assert_int_eq(harness_pki(h, "revoke", "practice-a", "client-2", NULL), 0);
	reload(h, 1);
	EXPECT_CLOSE_FRAME(victim, ZKRELAY__V1__REASON__REASON_CERT_REVOKED);
	tclient_free(victim);
	exchange(h, 3);

	scrape = itest_scrape(port);
	ck_assert_int_eq((int)itest_sample(scrape, "zkrelay_frames_relayed_total"), 4);
	ck_assert(itest_sample(scrape, "process_open_fds") > 0);
	free(scrape);
	ck_assert_msg(!harness_log_find(h, "seccomp_violation", NULL), "see %s",
		      harness_log_path(h));
	ck_assert_int_eq(harness_stop(h, &status), 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "relay ended with status 0x%x; see %s", status, harness_log_path(h));
	harness_free(h);
}
END_TEST

/* Who may start the relay: as root, only with [relay] user or with
 * allow_root = true; as anyone else, [relay] user must be that user. */
START_TEST(test_start_identity)
{
	harness_t *h = harness_new("identity");
	const char *why;

	if (geteuid() == 0) {
		harness_set(h, "relay", "allow_root", "false");
		why = "started as root without [relay] user";
	} else {
		harness_set(h, "relay", "user", "nobody");
		why = "cannot become [relay] user";
	}
	ck_assert_msg(harness_start(h) != 0, "the relay started; see %s", harness_log_path(h));
	ck_assert_msg(harness_log_find(h, why, NULL), "no \"%s\" in %s", why, harness_log_path(h));
	harness_free(h);
}
END_TEST

/* Makes everything in the test directory the given user's, so the relay
 * can read its files again after dropping to it (reloads), and lets it
 * through the run's base directory (searchable, not listable). */
static void give_dir_to(harness_t *h, const char *user)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "chown -R %s '%s' && chmod 0711 \"$(dirname '%s')\"", user,
		 harness_dir(h), harness_dir(h));
	ck_assert_int_eq(system(cmd), 0);
}

/* As root with [relay] user = nobody: the relay runs as nobody (real,
 * effective and saved ids), serves, and reloads files nobody may read. */
START_TEST(test_drop_to_user)
{
	harness_t *h;
	char uid[128], want[128];

	if (geteuid() != 0)
		return; /* needs root; test_start_identity covers non-root */
	h = harness_new("dropuser");
	no_leak_check_at_exit();
	give_dir_to(h, "nobody");
	harness_set(h, "relay", "user", "nobody");
	START(h);
	ck_assert(harness_log_find(h, "\"event\":\"privileges_dropped\"", NULL));
	proc_status(harness_pid(h), "Uid:", uid, sizeof(uid));
	snprintf(want, sizeof(want), "%u\t%u\t%u\t%u", 65534u, 65534u, 65534u, 65534u);
	ck_assert_str_eq(uid, want);
	exchange(h, 1);
	reload(h, 1);
	exchange(h, 3);
	harness_free(h);
}
END_TEST

/* As root with a chroot: SIGHUP reads its paths inside the chroot (a
 * copy of the PKI and registry at the same absolute path there), and
 * the relay's root is the chroot. */
START_TEST(test_chroot)
{
	harness_t *h;
	char cmd[2048], link[512], root[512];
	ssize_t n;

	if (geteuid() != 0)
		return;
	h = harness_new("chroot");
	no_leak_check_at_exit();
	snprintf(root, sizeof(root), "%s/jail", harness_dir(h));
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s%s' && cp -a '%s/pki' '%s%s/'", root,
		 harness_dir(h), harness_dir(h), root, harness_dir(h));
	ck_assert_int_eq(system(cmd), 0);
	give_dir_to(h, "nobody");
	harness_set(h, "relay", "user", "nobody");
	harness_set(h, "relay", "chroot", root);
	START(h);
	snprintf(cmd, sizeof(cmd), "/proc/%d/root", (int)harness_pid(h));
	n = readlink(cmd, link, sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = '\0';
	ck_assert_str_eq(link, root);
	exchange(h, 1);
	reload(h, 1);
	exchange(h, 3);
	harness_free(h);
}
END_TEST

Suite *privileges_suite(void)
{
	Suite *s = suite_create("privileges");
	TCase *tc = tcase_create("privileges");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_seccomp_exchange);
	tcase_add_test(tc, test_start_identity);
	tcase_add_test(tc, test_drop_to_user);
	tcase_add_test(tc, test_chroot);
	suite_add_tcase(s, tc);
	return s;
}
