/* Resource abuse: half-open connections and stalled upgrades are closed
 * within their timeouts while a legitimate client still connects and
 * exchanges frames. */
#include <check.h>
#include <poll.h>
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

Suite *abuse_suite(void)
{
	Suite *s = suite_create("abuse");
	TCase *tc = tcase_create("abuse");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_slowloris);
	tcase_add_test(tc, test_stalled_upgrades);
	suite_add_tcase(s, tc);
	return s;
}
