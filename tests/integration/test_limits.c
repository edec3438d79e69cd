/* Connection limits, at their edges: [limits] max_connections_per_ip and
 * [timeouts] tls_handshake_s. */
#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define CLIENT_A "practice-a/client-1"



START_TEST(test_per_ip_cap)
{
	enum { CAP = 4 };
	static const char *const ids[CAP][2] = {
		{ "practice-a", "safe-1" },
		{ "practice-a", "client-1" },
		{ "practice-a", "client-2" },
		{ "practice-b", "client-1" },
	};
	harness_t *h = harness_new("perip");
	tclient_t *c[CAP], *extra;
	int i, rc;

	harness_set_int(h, "limits", "max_connections_per_ip", CAP);
	START(h);
	for (i = 0; i < CAP; i++)
		ENDPOINT(c[i], h, ids[i][0], ids[i][1]);

	/* All CAP connections work. */
	SEND(c[1], SAFE_A, 1, 1, 100, TAG(1, 1, 0));
	EXPECT_DATA(c[0], WAIT_MS, CLIENT_A, 1, 1, 100, TAG(1, 1, 0));
	SEND(c[2], SAFE_A, 1, 1, 100, TAG(1, 1, 1));
	EXPECT_DATA(c[0], WAIT_MS, "practice-a/client-2", 1, 1, 100, TAG(1, 1, 1));
	SEND(c[3], "practice-b/safe-1", 1, 1, 100, TAG(1, 1, 2));
	EXPECT_NACK(c[3], 1, 1, R_NO_ROUTE);

	/* CAP + 1: the TCP connection is closed at once. */
	extra = itest_tcp_only(h);
	rc = tclient_wait_closed(extra, 1000);
	ck_assert_msg(rc == 0, "connection %d from one address not closed within 1 s", CAP + 1);
	tclient_free(extra);

	/* ... and a full attempt fails. */
	extra = harness_endpoint(h, "practice-b", "safe-1", &rc);
	ck_assert_ptr_nonnull(extra);
	ck_assert_msg(rc != 0, "connection %d from one address accepted", CAP + 1);
	ck_assert_msg(rc != TCLIENT_ETCP, "connect failed at TCP level: %s", tclient_error(extra));
	tclient_free(extra);

	/* One leaves, one more fits, and the edge holds again. */
	tclient_free(c[3]);
	c[3] = itest_endpoint_retry(h, "practice-b", "safe-1", 3000);
	extra = harness_endpoint(h, "practice-b", "client-1", &rc);
	ck_assert_ptr_nonnull(extra);
	ck_assert_msg(rc != 0, "connection %d from one address accepted after churn", CAP + 1);
	tclient_free(extra);

	/* The connections inside the cap were never disturbed. */
	SEND(c[1], SAFE_A, 1, 2, 100, TAG(1, 2, 0));
	EXPECT_DATA(c[0], WAIT_MS, CLIENT_A, 1, 2, 100, TAG(1, 2, 0));
	for (i = 0; i < CAP; i++)
		tclient_free(c[i]);
	harness_free(h);
}
END_TEST

/* 0: nothing sent; 1: the first bytes of a TLS record, then nothing. */
START_TEST(test_handshake_timeout)
{
	enum { LIMIT_S = 2 };
	static const uint8_t partial[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };
	harness_t *h = harness_new("hstimeout");
	tclient_t *ok, *idle;
	int64_t t0, waited;
	int rc;

	harness_set_int(h, "timeouts", "tls_handshake_s", LIMIT_S);
	START(h);
	ENDPOINT(ok, h, "practice-a", "safe-1");

	idle = itest_tcp_only(h);
	t0 = harness_now_ms();
	if (_i == 1)
		ck_assert_int_eq(tclient_send_raw(idle, partial, sizeof(partial)), 0);

	/* Still open shortly before the limit ... */
	rc = tclient_wait_closed(idle, LIMIT_S * 1000 - 500);
	ck_assert_msg(rc == TCLIENT_ETIMEOUT, "closed after %lld ms, before %d s",
		      (long long)(harness_now_ms() - t0), LIMIT_S);
	/* ... closed by the limit plus one second. */
	rc = tclient_wait_closed(idle, (int)(t0 + (LIMIT_S + 1) * 1000 + 200 - harness_now_ms()));
	waited = harness_now_ms() - t0;
	ck_assert_msg(rc == 0, "still open %lld ms after connecting (limit %d s)",
		      (long long)waited, LIMIT_S);
	tclient_free(idle);

	/* The timer is for handshakes only: an established connection lives. */
	SEND(ok, CLIENT_A, 1, 1, 100, TAG(1, 1, 0));
	EXPECT_NACK(ok, 1, 1, R_NO_ROUTE);
	tclient_free(ok);
	harness_free(h);
}
END_TEST

Suite *limits_suite(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("limits");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_per_ip_cap);
	tcase_add_loop_test(tc, test_handshake_timeout, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
