/* Resource abuse: half-open connections and stalled upgrades are closed
 * within their timeouts, and a flood of refused handshakes is refused,
 * while a legitimate client still connects and exchanges frames. */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "itest.h"

#define SLOW 200
#define SAFE "practice-a/safe-1"
#define CLIENT "practice-a/client-1"

/* 1 if the relay has closed fd (EOF or reset), waiting up to ms. */
static int closed_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b[64];
	int64_t end = harness_now_ms() + ms;

	while (harness_now_ms() < end) {
		if (poll(&p, 1, 50) > 0) {
			ssize_t n = read(fd, b, sizeof(b));
			if (n <= 0)
				return 1;
		}
	}
	return 0;
}

START_TEST(test_slowloris)
{
	harness_t *h = harness_new("slowloris");
	tclient_t *slow[SLOW], *safe, *client;
	int i, open_after = 0;

	harness_set_int(h, "limits", "max_connections_per_ip", SLOW + 16);
	harness_set_int(h, "limits", "max_connections", SLOW + 16);
	harness_set_int(h, "timeouts", "tls_handshake_s", 2);
	START(h);
	/* Hundreds of TCP connections that never start TLS... */
	for (i = 0; i < SLOW; i++)
		slow[i] = itest_tcp_only(h);
	/* ...do not keep a real endpoint out or slow it down. */
	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(client, h, "practice-a", "client-1");
	for (i = 0; i < 20; i++) {
		SEND(client, SAFE, 7, (uint64_t)i, 500, TAG(7, i, 0));
		EXPECT_DATA(safe, WAIT_MS, CLIENT, 7, (uint64_t)i, 500, TAG(7, i, 0));
	}
	/* All of them are gone within the handshake timeout (+1 s slack). */
	for (i = 0; i < SLOW; i++)
		open_after += !closed_within(tclient_fd(slow[i]), i == 0 ? 3000 : 10);
	ck_assert_msg(open_after == 0, "%d half-open connections still open after 3 s",
		      open_after);
	/* And the real pair is still fine. */
	SEND(client, SAFE, 7, 100, 500, TAG(7, 100, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT, 7, 100, 500, TAG(7, 100, 0));
	for (i = 0; i < SLOW; i++)
		tclient_free(slow[i]);
	tclient_free(client);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* Upgrades whose headers never finish: closed after upgrade_s. */
START_TEST(test_stalled_upgrades)
{
	enum { N = 50 };
	harness_t *h = harness_new("stalledup");
	tclient_t *c[N], *safe;
	int i, open_after = 0;

	harness_set_int(h, "timeouts", "upgrade_s", 2);
	START(h);
	for (i = 0; i < N; i++) {
		c[i] = itest_tcp_only(h);
		ck_assert_int_eq(tclient_connect_tls(c[i]), 0);
		ck_assert_int_eq(tclient_send_raw(c[i], "GET / HTTP/1.1\r\nHost: x\r\n", 26), 0);
	}
	ENDPOINT(safe, h, "practice-a", "safe-1");
	for (i = 0; i < N; i++)
		open_after += !closed_within(tclient_fd(c[i]), i == 0 ? 3500 : 10);
	ck_assert_msg(open_after == 0, "%d stalled upgrades still open", open_after);
	for (i = 0; i < N; i++)
		tclient_free(c[i]);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* A flood of handshakes the relay must refuse. */

#define FLOOD 300
#define ROUND_MAX_MS 2000

typedef struct {
	harness_t *h;
	const char *other_cert, *other_key;
	int refused, accepted, odd; /* odd: a failure other than a refusal */
	char odd_msg[256];
	atomic_int done;
} flood_t;

/* FLOOD connections one after another, as fast as they go: even ones
 * without a client certificate, odd ones with a certificate of another
 * CA (a valid zkrelay name, a wrong issuer). No Check assertions here: a
 * thread reports, the test decides. */
static void *flood_run(void *arg)
{
	flood_t *f = arg;

	for (int i = 0; i < FLOOD; i++) {
		tclient_opts_t o;
		tclient_t *c;
		int rc;

		harness_client_opts(f->h, &o, NULL, NULL);
		if (i % 2) {
			o.cert_file = f->other_cert;
			o.key_file = f->other_key;
		}
		c = tclient_new(&o);
		if (c == NULL) {
			f->odd++;
			continue;
		}
		rc = tclient_connect(c);
		if (rc == 0)
			f->accepted++;
		else if (rc == TCLIENT_ETLS || rc == TCLIENT_ECLOSED ||
			 (rc == TCLIENT_EUPGRADE && tclient_http_status(c) != 101))
			f->refused++;
		else if (f->odd++ == 0)
			snprintf(f->odd_msg, sizeof(f->odd_msg), "connection %d: %d (%s)", i, rc,
				 tclient_error(c));
		tclient_free(c);
	}
	atomic_store(&f->done, 1);
	return NULL;
}

/* While FLOOD refused handshakes arrive back to back, a real client
 * connects again and again, says hello and gets a frame through to its
 * data-safe, each round within ROUND_MAX_MS; every flood connection is
 * refused and counted as a failed handshake. */
START_TEST(test_refused_handshake_flood)
{
	harness_t *h = harness_new("hsflood");
	flood_t f = { 0 };
	tclient_t *safe;
	pthread_t th;
	int rounds = 0, port;
	int64_t worst = 0;
	char *scrape;

	ck_assert_msg(harness_pki(h, "other-ca", harness_path(h, "other"), NULL) == 0, "%s",
		      harness_error(h));
	/* Not the per-address cap under test: the flood comes from loopback
	 * like the real client. */
	harness_set_int(h, "limits", "max_connections", 2000);
	harness_set_int(h, "limits", "max_connections_per_ip", 2000);
	port = itest_start_with_ops(h);
	f.h = h;
	f.other_cert = harness_path(h, "other/practice-a/client-9.crt");
	f.other_key = harness_path(h, "other/practice-a/client-9.key");
	ENDPOINT(safe, h, "practice-a", "safe-1");
	/* The token is made once and cached; not part of a timed round. */
	(void)harness_token(h, "practice-a", "client-1");

	ck_assert_int_eq(pthread_create(&th, NULL, flood_run, &f), 0);
	while (!atomic_load(&f.done)) {
		int64_t t0 = harness_now_ms(), took;
		tclient_t *client;
		int rc;

		client = harness_endpoint(h, "practice-a", "client-1", &rc);
		ck_assert_msg(rc == 0, "round %d: connect and hello: %d (%s)", rounds, rc,
			      client ? tclient_error(client) : "no memory");
		SEND(client, SAFE, 9, (uint64_t)rounds, 500, TAG(9, rounds, 0));
		EXPECT_DATA(safe, ROUND_MAX_MS, CLIENT, 9, (uint64_t)rounds, 500, TAG(9, rounds, 0));
		took = harness_now_ms() - t0;
		tclient_free(client);
		if (took > worst)
			worst = took;
		ck_assert_msg(took <= ROUND_MAX_MS, "round %d took %lld ms during the flood", rounds,
			      (long long)took);
		rounds++;
	}
	pthread_join(th, NULL);
	ck_assert_msg(f.odd == 0, "%d flood connections failed oddly; first: %s", f.odd,
		      f.odd_msg);
	ck_assert_msg(f.accepted == 0, "%d flood connections accepted", f.accepted);
	ck_assert_int_eq(f.refused, FLOOD);
	ck_assert_msg(rounds >= 3, "only %d rounds ran during the flood", rounds);
	scrape = itest_scrape(port);
	ck_assert_int_eq((int)itest_sample(scrape, "zkrelay_tls_handshakes_total{result=\"failed\"}"),
			 FLOOD);
	free(scrape);
	fprintf(stderr, "hsflood: %d refused, %d real rounds, slowest %lld ms\n", f.refused,
		rounds, (long long)worst);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

Suite *abuse_suite(void)
{
	Suite *s = suite_create("abuse");
	TCase *tc = tcase_create("abuse");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_slowloris);
	tcase_add_test(tc, test_stalled_upgrades);
	tcase_add_test(tc, test_refused_handshake_flood);
	suite_add_tcase(s, tc);
	return s;
}
