/* Rate limits ([limits] conn_* and practice_*), at their edges: exactly
 * burst frames (or bytes) pass, the next frame is nacked rate_limited and
 * never delivered, every frame before it is delivered, and once the
 * bucket has refilled frames pass again. A practice's buckets are shared
 * by all of its connections and do not touch another practice's.
 *
 * Frames that must meet one bucket level are sent in one message, so the
 * relay judges them in one loop turn and no refill falls between them.
 * A bucket emptied at t0 is tried again at t0 + 1.5 refill periods: half
 * a period of slack either way for a loaded machine. */
#include <signal.h>
#include <stdlib.h>

#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define SAFE_B "practice-b/safe-1"
#define CLIENT_A1 "practice-a/client-1"
#define CLIENT_A2 "practice-a/client-2"
#define CLIENT_B1 "practice-b/client-1"
#define R_RATE_LIMITED ZKRELAY__V1__REASON__REASON_RATE_LIMITED

/* Sends frames seq first..first+n-1 on stream, len bytes each, as one
 * message. */
static void send_batch(tclient_t *c, const char *dst, uint32_t stream, uint64_t first,
		       size_t n, size_t len)
{
	tclient_data_t d[16];
	static uint8_t bufs[16][4096];

	ck_assert_uint_le(n, 16);
	ck_assert_uint_le(len, sizeof(bufs[0]));
	for (size_t i = 0; i < n; i++) {
		harness_payload(bufs[i], len, TAG(stream, first + i, 0));
		d[i] = (tclient_data_t){ .dst = dst, .stream = stream, .seq = first + i,
					 .payload = bufs[i], .len = len };
	}
	ck_assert_int_eq(tclient_send_batch(c, d, n), 0);
}

static void expect_data_run(tclient_t *dst, const char *src, uint32_t stream, uint64_t first,
			    size_t n, size_t len)
{
	for (uint64_t s = first; s < first + n; s++)
		EXPECT_DATA(dst, WAIT_MS, src, stream, s, len, TAG(stream, s, 0));
}

/* Sleeps until t0 + ms. */
static void sleep_until(int64_t t0, int64_t ms)
{
	int64_t left = t0 + ms - harness_now_ms();

	ck_assert_msg(left > 0, "the test ran %lld ms late", (long long)-left);
	harness_sleep_ms((int)left);
}

/* conn_frames_burst = 5 at 1 frame/s: five pass, the sixth is nacked;
 * 1.5 s later one passes and the next is nacked again. The refusals are
 * counted as rate_limited. */
START_TEST(test_conn_frames)
{
	harness_t *h = harness_new("rl-conn-frames");
	tclient_t *safe, *client;
	char *scrape;
	int64_t t0;
	int port;

	harness_set_int(h, "limits", "conn_frames_burst", 5);
	harness_set_int(h, "limits", "conn_frames_per_s", 1);
	port = itest_start_with_ops(h);
	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(client, h, "practice-a", "client-1");

	t0 = harness_now_ms();
	send_batch(client, SAFE_A, 1, 1, 6, 200);
	EXPECT_NACK(client, 1, 6, R_RATE_LIMITED);
	expect_data_run(safe, CLIENT_A1, 1, 1, 5, 200);
	EXPECT_QUIET(safe);

	sleep_until(t0, 1500);
	send_batch(client, SAFE_A, 1, 7, 2, 200);
	EXPECT_NACK(client, 1, 8, R_RATE_LIMITED);
	expect_data_run(safe, CLIENT_A1, 1, 7, 1, 200);
	EXPECT_QUIET(safe);
	EXPECT_QUIET(client);

	/* The other direction has its own connection's buckets. */
	send_batch(safe, CLIENT_A1, 2, 1, 5, 200);
	expect_data_run(client, SAFE_A, 2, 1, 5, 200);

	scrape = itest_scrape(port);
	ck_assert_int_eq((int)itest_sample(scrape, "zkrelay_frames_refused_total{reason=\"rate_limited\"}"), 2);
	ck_assert_int_eq((int)itest_sample(scrape, "zkrelay_frames_relayed_total"), 11);
	free(scrape);
	tclient_free(client);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* conn_bytes_burst = 3000 at 1000 B/s (max_payload_bytes 1000): three
 * 1000-byte payloads pass, a 100-byte one after them is nacked; 500 ms
 * later 100 bytes pass but another 1000 do not. */
START_TEST(test_conn_bytes)
{
	harness_t *h = harness_new("rl-conn-bytes");
	tclient_t *safe, *client;
	int64_t t0;

	harness_set_int(h, "limits", "max_payload_bytes", 1000);
	harness_set_int(h, "limits", "conn_bytes_burst", 3000);
	harness_set_int(h, "limits", "conn_bytes_per_s", 1000);
	START(h);
	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(client, h, "practice-a", "client-1");

	t0 = harness_now_ms();
	send_batch(client, SAFE_A, 1, 1, 3, 1000);
	SEND(client, SAFE_A, 1, 4, 100, TAG(1, 4, 0));
	EXPECT_NACK(client, 1, 4, R_RATE_LIMITED);
	expect_data_run(safe, CLIENT_A1, 1, 1, 3, 1000);

	sleep_until(t0, 500);
	SEND(client, SAFE_A, 1, 5, 100, TAG(1, 5, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A1, 1, 5, 100, TAG(1, 5, 0));
	SEND(client, SAFE_A, 1, 6, 1000, TAG(1, 6, 0));
	EXPECT_NACK(client, 1, 6, R_RATE_LIMITED);
	EXPECT_QUIET(safe);
	tclient_free(client);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* practice_frames_burst = 4 at 1 frame/s: two clients of practice-a
 * share four frames between them; practice-b's client still has its own
 * four; 1.5 s later practice-a may send one more. */
START_TEST(test_practice_shared)
{
	harness_t *h = harness_new("rl-practice");
	tclient_t *safe_a, *safe_b, *a1, *a2, *b1;
	int64_t t0;

	harness_set_int(h, "limits", "practice_frames_burst", 4);
	harness_set_int(h, "limits", "practice_frames_per_s", 1);
	START(h);
	ENDPOINT(safe_a, h, "practice-a", "safe-1");
	ENDPOINT(safe_b, h, "practice-b", "safe-1");
	ENDPOINT(a1, h, "practice-a", "client-1");
	ENDPOINT(a2, h, "practice-a", "client-2");
	ENDPOINT(b1, h, "practice-b", "client-1");

	t0 = harness_now_ms();
	send_batch(a1, SAFE_A, 1, 1, 2, 200);
	expect_data_run(safe_a, CLIENT_A1, 1, 1, 2, 200);
	send_batch(a2, SAFE_A, 1, 1, 3, 200);
	EXPECT_NACK(a2, 1, 3, R_RATE_LIMITED);
	expect_data_run(safe_a, CLIENT_A2, 1, 1, 2, 200);
	send_batch(a1, SAFE_A, 1, 3, 1, 200);
	EXPECT_NACK(a1, 1, 3, R_RATE_LIMITED);
	EXPECT_QUIET(safe_a);

	/* Another practice is not affected. */
	send_batch(b1, SAFE_B, 1, 1, 4, 200);
	expect_data_run(safe_b, CLIENT_B1, 1, 1, 4, 200);
	send_batch(b1, SAFE_B, 1, 5, 1, 200);
	EXPECT_NACK(b1, 1, 5, R_RATE_LIMITED);

	/* One frame accrues per second for the whole practice. */
	sleep_until(t0, 1500);
	send_batch(a2, SAFE_A, 1, 4, 2, 200);
	EXPECT_NACK(a2, 1, 5, R_RATE_LIMITED);
	expect_data_run(safe_a, CLIENT_A2, 1, 4, 1, 200);
	EXPECT_QUIET(safe_a);
	tclient_free(b1);
	tclient_free(a2);
	tclient_free(a1);
	tclient_free(safe_b);
	tclient_free(safe_a);
	harness_free(h);
}
END_TEST

/* A practice does not get a fresh burst by reconnecting, nor through a
 * registry reload: its buckets are kept while they are not full. No
 * connection of practice-a stays open in between, and the rate limit is
 * judged before routing, so its first frame is nacked no_route (and
 * charged) and the next one rate_limited. */
START_TEST(test_practice_kept)
{
	harness_t *h = harness_new("rl-kept");
	tclient_t *client;

	harness_set_int(h, "limits", "max_payload_bytes", 1000);
	harness_set_int(h, "limits", "conn_bytes_burst", 1000);
	harness_set_int(h, "limits", "practice_bytes_burst", 1000);
	harness_set_int(h, "limits", "practice_bytes_per_s", 1);
	START(h);
	ENDPOINT(client, h, "practice-a", "client-1");
	send_batch(client, SAFE_A, 1, 1, 1, 1000);
	EXPECT_NACK(client, 1, 1, R_NO_ROUTE);
	tclient_free(client);
	ck_assert_int_eq(harness_signal(h, SIGHUP), 0);
	ck_assert(harness_log_wait(h, WAIT_MS, "\"event\":\"reloaded\"", NULL));
	client = itest_endpoint_retry(h, "practice-a", "client-2", 3000);
	send_batch(client, SAFE_A, 1, 1, 1, 100);
	EXPECT_NACK(client, 1, 1, R_RATE_LIMITED);
	tclient_free(client);
	harness_free(h);
}
END_TEST

Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("buckets");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_conn_frames);
	tcase_add_test(tc, test_conn_bytes);
	tcase_add_test(tc, test_practice_shared);
	tcase_add_test(tc, test_practice_kept);
	suite_add_tcase(s, tc);
	return s;
}
