/* Connection timeouts, each at its edge: [timeouts] upgrade_s, hello_s,
 * and ping_s with idle_s. A connection must still be open shortly before
 * its limit and closed shortly after it; the relay checks its deadlines on
 * a 100 ms tick, so "shortly after" allows one second of slack.
 * (tls_handshake_s is tested in test_limits.c.) */
#include <poll.h>
#include <stdlib.h>

#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define CLIENT_A "practice-a/client-1"

/* How long before a limit a connection must still be open, and how long
 * after it it may take to close. */
#define BEFORE_MS 500
#define SLACK_MS 1200

static tclient_t *new_client(harness_t *h, const char *practice, const char *endpoint)
{
	tclient_opts_t o;
	tclient_t *c;

	harness_client_opts(h, &o, practice, endpoint);
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* The connection, which the test does not answer, stays open until
 * t0 + limit_s - BEFORE_MS and is closed by t0 + limit_s + SLACK_MS.
 * tclient_wait_closed() discards what arrives, pings included. */
static void expect_closed_at(tclient_t *c, int64_t t0, int limit_s, const char *what)
{
	int64_t open_until = t0 + limit_s * 1000 - BEFORE_MS;
	int64_t closed_by = t0 + limit_s * 1000 + SLACK_MS;
	int rc;

	rc = tclient_wait_closed(c, (int)(open_until - harness_now_ms()));
	ck_assert_msg(rc == TCLIENT_ETIMEOUT, "%s: closed after %lld ms, before its %d s", what,
		      (long long)(harness_now_ms() - t0), limit_s);
	rc = tclient_wait_closed(c, (int)(closed_by - harness_now_ms()));
	ck_assert_msg(rc == 0, "%s: still open %lld ms after it started (limit %d s)", what,
		      (long long)(harness_now_ms() - t0), limit_s);
}

/* Reads (answering pings) until deadline; nothing may arrive and the
 * connection must stay open. */
static void expect_open_until(tclient_t *c, int64_t deadline, const char *what)
{
	const Zkrelay__V1__Frame *f = NULL;
	int rc = tclient_next_frame(c, (int)(deadline - harness_now_ms()), &f);

	ck_assert_msg(rc == TCLIENT_ETIMEOUT, "%s: expected an open, quiet connection, got %d %s (%s)",
		      what, rc, rc == 0 ? tclient_frame_name(f) : "", tclient_error(c));
}

/* A client and a data-safe that exchange one frame each way, proving both
 * connections work. */
static void expect_exchange(tclient_t *client, tclient_t *safe, uint64_t seq)
{
	SEND(client, SAFE_A, 1, seq, 300, TAG(1, seq, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 1, seq, 300, TAG(1, seq, 0));
	SEND(safe, CLIENT_A, 1, seq + 1, 300, TAG(1, seq + 1, 0));
	EXPECT_DATA(client, WAIT_MS, SAFE_A, 1, seq + 1, 300, TAG(1, seq + 1, 0));
}

/* TLS finished, no HTTP upgrade: closed after upgrade_s, counted from the
 * end of the handshake (the handshake itself starts a second late). */
START_TEST(test_upgrade_timeout)
{
	enum { LIMIT_S = 2 };
	harness_t *h = harness_new("upgradeto");
	tclient_t *ok, *c;
	int64_t t0;
	int rc;

	harness_set_int(h, "timeouts", "upgrade_s", LIMIT_S);
	harness_set_int(h, "timeouts", "tls_handshake_s", 10);
	START(h);
	ENDPOINT(ok, h, "practice-a", "safe-1");

	c = new_client(h, "practice-a", "client-1");
	rc = tclient_connect_tcp(c);
	ck_assert_msg(rc == 0, "TCP connect: %d (%s)", rc, tclient_error(c));
	harness_sleep_ms(1000);
	rc = tclient_connect_tls(c);
	ck_assert_msg(rc == 0, "TLS handshake: %d (%s)", rc, tclient_error(c));
	t0 = harness_now_ms();
	expect_closed_at(c, t0, LIMIT_S, "no upgrade");
	ck_assert_msg(harness_log_find(h, "\"event\":\"timeout\"", "\"phase\":\"upgrade\"", NULL),
		      "no upgrade timeout logged; see %s", harness_log_path(h));
	tclient_free(c);

	/* The established connection was not touched by the timer. */
	SEND(ok, CLIENT_A, 1, 1, 100, TAG(1, 1, 0));
	EXPECT_NACK(ok, 1, 1, R_NO_ROUTE);
	tclient_free(ok);
	harness_free(h);
}
END_TEST

/* WebSocket open, no Hello: closed after hello_s. 0: the upgrade request
 * goes out once the handshake has settled; 1: it leaves in one segment
 * with the handshake's last flight (TCP_CORK from the start, which also
 * holds the ClientHello for the kernel's 200 ms), as a client that writes
 * it at once often makes it arrive. */
START_TEST(test_hello_timeout)
{
	enum { LIMIT_S = 2 };
	harness_t *h = harness_new("helloto");
	tclient_t *c;
	int64_t t0;
	int rc;

	harness_set_int(h, "timeouts", "hello_s", LIMIT_S);
	START(h);
	c = new_client(h, "practice-a", "client-1");
	rc = tclient_connect_tcp(c);
	ck_assert_msg(rc == 0, "TCP connect: %d (%s)", rc, tclient_error(c));
	if (_i == 1)
		ck_assert_int_eq(tclient_cork(c, 1), 0);
	rc = tclient_connect_tls(c);
	ck_assert_msg(rc == 0, "TLS handshake: %d (%s)", rc, tclient_error(c));
	if (_i == 0)
		harness_sleep_ms(100);
	rc = tclient_connect(c);
	if (_i == 1)
		ck_assert_int_eq(tclient_cork(c, 0), 0);
	ck_assert_msg(rc == 0, "upgrade: %d (%s)", rc, tclient_error(c));
	t0 = harness_now_ms();
	expect_closed_at(c, t0, LIMIT_S, "no hello");
	tclient_free(c);
	harness_free(h);
}
END_TEST

/* A Hello shortly before hello_s ends the hello timer: the connection
 * stays open past it and works. */
START_TEST(test_hello_in_time)
{
	enum { LIMIT_S = 2 };
	harness_t *h = harness_new("hellook");
	tclient_t *c, *safe;
	int64_t t0;
	int rc;

	harness_set_int(h, "timeouts", "hello_s", LIMIT_S);
	START(h);
	c = new_client(h, "practice-a", "client-1");
	rc = tclient_connect(c);
	ck_assert_msg(rc == 0, "connect: %d (%s)", rc, tclient_error(c));
	t0 = harness_now_ms();
	harness_sleep_ms(LIMIT_S * 1000 - 700);
	rc = tclient_hello(c, harness_token(h, "practice-a", "client-1"), NULL);
	ck_assert_msg(rc == 0, "hello %lld ms after the upgrade: %d (%s)",
		      (long long)(harness_now_ms() - t0), rc, tclient_error(c));

	expect_open_until(c, t0 + LIMIT_S * 1000 + SLACK_MS, "hello in time");
	ENDPOINT(safe, h, "practice-a", "safe-1");
	expect_exchange(c, safe, 1);
	tclient_free(safe);
	tclient_free(c);
	harness_free(h);
}
END_TEST

/* Waits up to timeout_ms for bytes from the relay on a connection that
 * expects no message, then lets the client read them. 1 if what came was
 * control frames only (the client answers a ping with a pong), 0 if
 * nothing came. A message or the end of the connection fails the test. */
static int ping_seen(tclient_t *c, int timeout_ms)
{
	struct pollfd p = { .fd = tclient_fd(c), .events = POLLIN };
	const Zkrelay__V1__Frame *f = NULL;
	int rc;

	if (poll(&p, 1, timeout_ms) <= 0)
		return 0;
	rc = tclient_next_frame(c, 200, &f);
	ck_assert_msg(rc == TCLIENT_ETIMEOUT, "expected a ping only, got %d %s (%s)", rc,
		      rc == 0 ? tclient_frame_name(f) : "", tclient_error(c));
	return 1;
}

#define PING_S 1
#define IDLE_S 3

/* A client that sends nothing but reads, and so answers the relay's pings,
 * is pinged within ping_s and stays open well past idle_s. */
START_TEST(test_idle_reader_stays)
{
	harness_t *h = harness_new("idleread");
	tclient_t *c, *safe;
	int64_t t0;

	harness_set_int(h, "timeouts", "ping_s", PING_S);
	harness_set_int(h, "timeouts", "idle_s", IDLE_S);
	START(h);
	ENDPOINT(c, h, "practice-a", "client-1");
	t0 = harness_now_ms();

	ck_assert_msg(ping_seen(c, PING_S * 1000 + SLACK_MS),
		      "no ping within %d ms of silence (ping_s %d)", PING_S * 1000 + SLACK_MS,
		      PING_S);
	expect_open_until(c, t0 + IDLE_S * 1000 + SLACK_MS, "reader past idle_s");

	/* Still a working connection, both ways. */
	ENDPOINT(safe, h, "practice-a", "safe-1");
	expect_exchange(c, safe, 1);
	tclient_free(safe);
	tclient_free(c);
	harness_free(h);
}
END_TEST

/* A client that neither sends nor reads (so never answers a ping) is
 * closed after idle_s, not before, and counted. */
START_TEST(test_idle_silent_closed)
{
	harness_t *h = harness_new("idlesilent");
	tclient_t *c;
	char *scrape;
	int64_t t0;
	int port;

	harness_set_int(h, "timeouts", "ping_s", PING_S);
	harness_set_int(h, "timeouts", "idle_s", IDLE_S);
	port = itest_start_with_ops(h);
	ENDPOINT(c, h, "practice-a", "client-1");
	t0 = harness_now_ms();
	expect_closed_at(c, t0, IDLE_S, "silent client");
	scrape = itest_scrape(port);
	ck_assert_double_eq(itest_sample(scrape, "zkrelay_idle_timeouts_total"), 1);
	free(scrape);
	tclient_free(c);
	harness_free(h);
}
END_TEST

/* Any frame counts as a sign of life, not only a pong: a client that
 * keeps sending is never pinged, long past ping_s, and nothing is
 * counted as idle. */
START_TEST(test_busy_not_pinged)
{
	harness_t *h = harness_new("busynoping");
	tclient_t *c, *safe;
	char *scrape;
	int port;

	harness_set_int(h, "timeouts", "ping_s", PING_S);
	harness_set_int(h, "timeouts", "idle_s", IDLE_S);
	port = itest_start_with_ops(h);
	ENDPOINT(c, h, "practice-a", "client-1");
	ENDPOINT(safe, h, "practice-a", "safe-1");
	for (uint64_t seq = 1; seq <= 8; seq++) {
		SEND(c, SAFE_A, 1, seq, 300, TAG(1, seq, 0));
		EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 1, seq, 300, TAG(1, seq, 0));
		ck_assert_msg(!ping_seen(c, PING_S * 1000 / 2),
			      "a client sending every %d ms was pinged (ping_s %d)",
			      PING_S * 1000 / 2, PING_S);
	}
	scrape = itest_scrape(port);
	ck_assert_double_eq(itest_sample(scrape, "zkrelay_idle_timeouts_total"), 0);
	free(scrape);
	tclient_free(safe);
	tclient_free(c);
	harness_free(h);
}
END_TEST

Suite *timeouts_suite(void)
{
	Suite *s = suite_create("timeouts");
	TCase *tc = tcase_create("timeouts");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_upgrade_timeout);
	tcase_add_loop_test(tc, test_hello_timeout, 0, 2);
	tcase_add_test(tc, test_hello_in_time);
	tcase_add_test(tc, test_idle_reader_stays);
	tcase_add_test(tc, test_idle_silent_closed);
	tcase_add_test(tc, test_busy_not_pinged);
	suite_add_tcase(s, tc);
	return s;
}
