/* Process and connection lifecycle: the listening line, SIGTERM with a
 * drain of what is queued, and a second connection taking over an
 * endpoint identity. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define CLIENT_A "practice-a/client-1"

START_TEST(test_listening_line)
{
	harness_t *h = harness_new("listening");
	char port[32];
	int status = -1;

	START(h);
	snprintf(port, sizeof(port), "\"port\":%d", harness_port(h));
	ck_assert_msg(harness_log_find(h, "\"event\":\"listening\"", "\"addr\":\"127.0.0.1\"", port,
				       "\"level\":\"info\"", "\"time\":", NULL),
		      "listening line lacks addr, port, level or time; see %s",
		      harness_log_path(h));
	/* Without peers the relay stops at once, cleanly. */
	ck_assert_msg(harness_stop(h, &status) == 0, "%s", harness_error(h));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0x%x", status);
	harness_free(h);
}
END_TEST

/* Connects as practice-a/safe-1 with a small receive buffer: a reader that
 * has read nothing keeps frames in the relay. */
static tclient_t *slow_safe(harness_t *h)
{
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, "practice-a", "safe-1");
	o.rcvbuf = 8192;
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	if (rc == 0)
		rc = tclient_hello(c, harness_token(h, "practice-a", "safe-1"), NULL);
	ck_assert_msg(rc == 0, "safe: %d (%s)", rc, tclient_error(c));
	return c;
}

/* Sends more than the kernel can buffer towards the reader, so the relay's
 * own queue holds the rest (its limits raised so no backpressure stops
 * the sender). Returns the number of 16 KiB frames sent. */
static int fill_queue(harness_t *h, tclient_t *client, uint32_t stream)
{
	const int count = (int)((itest_kernel_sndbuf_max() + ((size_t)2 << 20)) / 16384);
	int i;

	(void)h;
	for (i = 0; i < count; i++)
		SEND(client, SAFE_A, stream, (uint64_t)i, 16384, TAG(stream, i, 0));
	harness_sleep_ms(500); /* let the relay route all of them */
	return count;
}

static void raise_queue_limits(harness_t *h)
{
	const long long total = (long long)itest_kernel_sndbuf_max() + (2ll << 20);

	harness_set_int(h, "limits", "queue_max_bytes", 2 * total);
	harness_set_int(h, "limits", "queue_high_water", 2 * total - 65536);
	harness_set_int(h, "limits", "queue_low_water", 65536);
}

START_TEST(test_sigterm_drain)
{
	enum { STREAM = 6, DRAIN_S = 5 };
	harness_t *h = harness_new("drain");
	tclient_opts_t o;
	tclient_t *safe, *client, *late;
	int64_t t0;
	int i, n, rc, status = -1;

	harness_set_int(h, "timeouts", "drain_s", DRAIN_S);
	raise_queue_limits(h);
	START(h);
	safe = slow_safe(h);
	ENDPOINT(client, h, "practice-a", "client-1");
	n = fill_queue(h, client, STREAM);

	t0 = harness_now_ms();
	ck_assert_int_eq(harness_signal(h, SIGTERM), 0);

	/* Nothing queued for the client: it is told at once. */
	EXPECT_CLOSE_FRAME(client, R_GOING_AWAY);
	EXPECT_ENDED(client);

	/* No new connections while draining. */
	harness_client_opts(h, &o, "practice-b", "client-1");
	o.timeout_ms = 1000;
	late = tclient_new(&o);
	ck_assert_ptr_nonnull(late);
	rc = tclient_connect(late);
	if (rc == 0)
		rc = tclient_hello(late, harness_token(h, "practice-b", "client-1"), NULL);
	ck_assert_msg(rc != 0, "a connection was accepted after SIGTERM");
	tclient_free(late);

	/* Everything sent before the signal arrives, then the close. */
	for (i = 0; i < n; i++) {
		const Zkrelay__V1__Frame *f;
		char m[256];
		const char *e;

		rc = tclient_next_frame(safe, WAIT_MS, &f);
		ck_assert_msg(rc == 0, "frame %d of %d: %d (%s)", i, n, rc, tclient_error(safe));
		e = itest_check_data(f, CLIENT_A, STREAM, (uint64_t)i, 16384, TAG(STREAM, i, 0), m,
				     sizeof(m));
		ck_assert_msg(e == NULL, "frame %d of %d: %s", i, n, e);
	}
	EXPECT_CLOSE_FRAME(safe, R_GOING_AWAY);
	EXPECT_ENDED(safe);

	ck_assert_msg(harness_wait_exit(h, (DRAIN_S + 3) * 1000, &status) == 0, "%s",
		      harness_error(h));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0x%x", status);
	ck_assert_msg(harness_now_ms() - t0 < (DRAIN_S + 2) * 1000, "exit took %lld ms",
		      (long long)(harness_now_ms() - t0));
	tclient_free(safe);
	tclient_free(client);
	harness_free(h);
}
END_TEST

/* A peer that reads nothing cannot hold the relay past drain_s. */
START_TEST(test_sigterm_drain_bounded)
{
	enum { STREAM = 6, DRAIN_S = 1 };
	harness_t *h = harness_new("drainbound");
	tclient_t *safe, *client;
	int64_t t0;
	int status = -1;

	harness_set_int(h, "timeouts", "drain_s", DRAIN_S);
	raise_queue_limits(h);
	START(h);
	safe = slow_safe(h);
	ENDPOINT(client, h, "practice-a", "client-1");
	fill_queue(h, client, STREAM);

	t0 = harness_now_ms();
	ck_assert_int_eq(harness_signal(h, SIGTERM), 0);
	ck_assert_msg(harness_wait_exit(h, (DRAIN_S + 4) * 1000, &status) == 0, "%s",
		      harness_error(h));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0x%x", status);
	ck_assert_msg(harness_now_ms() - t0 < (DRAIN_S + 2) * 1000, "exit took %lld ms",
		      (long long)(harness_now_ms() - t0));
	tclient_free(safe);
	tclient_free(client);
	harness_free(h);
}
END_TEST

START_TEST(test_replaced)
{
	harness_t *h = harness_new("replaced");
	tclient_t *old, *new, *client;

	START(h);
	ENDPOINT(old, h, "practice-a", "safe-1");
	ENDPOINT(client, h, "practice-a", "client-1");
	ENDPOINT(new, h, "practice-a", "safe-1");

	EXPECT_CLOSE_FRAME(old, ZKRELAY__V1__REASON__REASON_REPLACED);
	EXPECT_ENDED(old);

	/* The endpoint's traffic goes to the new connection. */
	SEND(client, SAFE_A, 1, 1, 500, TAG(1, 1, 0));
	EXPECT_DATA(new, WAIT_MS, CLIENT_A, 1, 1, 500, TAG(1, 1, 0));
	SEND(new, CLIENT_A, 1, 2, 500, TAG(1, 2, 0));
	EXPECT_DATA(client, WAIT_MS, SAFE_A, 1, 2, 500, TAG(1, 2, 0));
	tclient_free(old);
	tclient_free(new);
	tclient_free(client);
	harness_free(h);
}
END_TEST

Suite *lifecycle_suite(void)
{
	Suite *s = suite_create("lifecycle");
	TCase *tc = tcase_create("lifecycle");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_listening_line);
	tcase_add_test(tc, test_sigterm_drain);
	tcase_add_test(tc, test_sigterm_drain_bounded);
	tcase_add_test(tc, test_replaced);
	suite_add_tcase(s, tc);
	return s;
}
