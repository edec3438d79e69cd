/* Delivery under pressure (DESIGN.md, "Delivery"): a slow destination
 * pauses its senders instead of losing frames, other pairs keep flowing,
 * and a destination that leaves with frames queued turns each of them into
 * a Nack UNDELIVERED for its sender, no more and no fewer. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define CLIENT_A "practice-a/client-1"
#define SAFE_B "practice-b/safe-1"
#define CLIENT_B "practice-b/client-1"

/* A sender on its own thread, so the test can watch it block. */
typedef struct {
	tclient_t *c;
	const char *dst;
	uint32_t stream;
	int count;
	size_t size;
	atomic_int sent;
	atomic_int done;
	int rc;
	char err[512];
} sender_t;

static void *sender_run(void *arg)
{
	sender_t *s = arg;
	int i;

	for (i = 0; i < s->count; i++) {
		int rc = itest_send(s->c, s->dst, s->stream, (uint64_t)i, s->size,
				    TAG(s->stream, i, 0));
		if (rc < 0) {
			s->rc = rc;
			snprintf(s->err, sizeof(s->err), "seq %d: %s", i, tclient_error(s->c));
			break;
		}
		atomic_store(&s->sent, i + 1);
	}
	atomic_store(&s->done, 1);
	return NULL;
}

static tclient_t *endpoint_with(harness_t *h, const char *practice, const char *endpoint,
				int sndbuf, int rcvbuf, int timeout_ms)
{
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, practice, endpoint);
	o.sndbuf = sndbuf;
	o.rcvbuf = rcvbuf;
	o.timeout_ms = timeout_ms;
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	if (rc == 0)
		rc = tclient_hello(c, harness_token(h, practice, endpoint), NULL);
	ck_assert_msg(rc == 0, "%s/%s: %d (%s)", practice, endpoint, rc, tclient_error(c));
	return c;
}

/* Waits until the sender has not advanced for quiet_ms (or has finished). */
static int wait_sender_still(sender_t *s, int quiet_ms, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	int last = atomic_load(&s->sent);
	int64_t since = harness_now_ms();

	while (harness_now_ms() < deadline && !atomic_load(&s->done)) {
		int now = atomic_load(&s->sent);

		if (now != last) {
			last = now;
			since = harness_now_ms();
		} else if (harness_now_ms() - since >= quiet_ms) {
			return now;
		}
		harness_sleep_ms(10);
	}
	return atomic_load(&s->sent);
}

/* A data-safe that reads nothing. Its client sends far more than the
 * relay's queue (256 KiB) and the kernel's socket buffers between them can
 * hold, so the relay must stop reading from the client: the sender stalls,
 * the relay logs backpressure_on, another pair keeps working, and once the
 * reader reads, every frame arrives exactly once, in order, with no nack. */
START_TEST(test_slow_receiver)
{
	enum { PAYLOAD = 16384, STREAM = 1, PAIR_N = 20 };
	const size_t total = 3 * itest_kernel_sndbuf_max() > ((size_t)32 << 20)
				     ? (size_t)32 << 20 : 3 * itest_kernel_sndbuf_max();
	const int count = (int)(total / PAYLOAD);
	harness_t *h = harness_new("slow");
	tclient_t *slow, *b_safe, *b_client;
	sender_t s = { .dst = SAFE_A, .stream = STREAM, .count = count, .size = PAYLOAD };
	pthread_t th;
	int i, paused_at;

	harness_set_int(h, "limits", "queue_max_bytes", 262144);
	harness_set_int(h, "limits", "queue_high_water", 131072);
	harness_set_int(h, "limits", "queue_low_water", 32768);
	harness_set(h, "log", "level", "debug");
	START(h);

	/* Small socket buffers, so the kernel cannot hide megabytes between
	 * the sender and the relay or the relay and the reader. */
	slow = endpoint_with(h, "practice-a", "safe-1", 0, 16384, WAIT_MS);
	s.c = endpoint_with(h, "practice-a", "client-1", 65536, 0, 30000);
	b_safe = endpoint_with(h, "practice-b", "safe-1", 0, 0, WAIT_MS);
	b_client = endpoint_with(h, "practice-b", "client-1", 0, 0, WAIT_MS);

	ck_assert_int_eq(pthread_create(&th, NULL, sender_run, &s), 0);
	ck_assert_msg(harness_log_wait(h, 10000, "\"event\":\"backpressure_on\"", NULL),
		      "no backpressure_on in the relay log (sender at %d of %d)",
		      atomic_load(&s.sent), count);
	paused_at = wait_sender_still(&s, 500, 10000);
	ck_assert_msg(!atomic_load(&s.done) && paused_at < count,
		      "sender was not paused: it wrote %d of %d frames (%d KiB) while the "
		      "receiver read nothing", paused_at, count, paused_at * PAYLOAD / 1024);

	/* Another pair is not held up by the stuck one. */
	for (i = 0; i < PAIR_N; i++)
		SEND(b_client, SAFE_B, 9, (uint64_t)i, 1000, TAG(9, i, 1));
	for (i = 0; i < PAIR_N; i++)
		EXPECT_DATA(b_safe, WAIT_MS, CLIENT_B, 9, (uint64_t)i, 1000, TAG(9, i, 1));
	for (i = 0; i < PAIR_N; i++)
		SEND(b_safe, CLIENT_B, 9, (uint64_t)i, 1000, TAG(9, i, 2));
	for (i = 0; i < PAIR_N; i++)
		EXPECT_DATA(b_client, WAIT_MS, SAFE_B, 9, (uint64_t)i, 1000, TAG(9, i, 2));
	ck_assert_msg(atomic_load(&s.sent) < count, "sender resumed while the receiver was stuck");

	/* The slow receiver reads: everything, once, in order. */
	for (i = 0; i < count; i++)
		EXPECT_DATA(slow, 15000, CLIENT_A, STREAM, (uint64_t)i, PAYLOAD, TAG(STREAM, i, 0));
	pthread_join(th, NULL);
	ck_assert_msg(s.rc == 0, "sender failed: %d %s", s.rc, s.err);
	ck_assert_int_eq(atomic_load(&s.sent), count);
	EXPECT_QUIET(slow);
	EXPECT_QUIET(s.c); /* no nack */
	tclient_free(s.c);
	tclient_free(slow);
	tclient_free(b_safe);
	tclient_free(b_client);
	harness_free(h);
}
END_TEST

/* The receiver reads nothing, then leaves: it sends a WebSocket close and
 * reads until the relay has closed, so every frame the relay wrote is
 * counted as received. Every other frame must come back to the sender as
 * Nack UNDELIVERED, each exactly once.
 *
 * The sender sends more than the kernel can buffer between the relay and
 * the receiver, so frames are still in the relay's queue when the receiver
 * leaves; the queue limits are raised so that no backpressure pauses the
 * sender on the way. */
START_TEST(test_undelivered_on_disconnect)
{
	enum { PAYLOAD = 16384, STREAM = 4, BASE = 1000 };
	const size_t total = itest_kernel_sndbuf_max() + ((size_t)2 << 20);
	const int count = (int)(total / PAYLOAD);
	harness_t *h = harness_new("undelivered");
	tclient_t *safe, *client;
	const Zkrelay__V1__Frame *f;
	uint8_t *got = calloc((size_t)count, 1), *nacked = calloc((size_t)count, 1);
	int i, rc, received = 0, nacks = 0, rx_close;

	ck_assert_ptr_nonnull(got);
	ck_assert_ptr_nonnull(nacked);
	harness_set_int(h, "limits", "queue_max_bytes", (long long)(2 * total));
	harness_set_int(h, "limits", "queue_high_water", (long long)(2 * total - 65536));
	harness_set_int(h, "limits", "queue_low_water", 65536);
	START(h);
	safe = endpoint_with(h, "practice-a", "safe-1", 0, 8192, WAIT_MS);
	client = endpoint_with(h, "practice-a", "client-1", 0, 0, 20000);

	for (i = 0; i < count; i++)
		SEND(client, SAFE_A, STREAM, BASE + (uint64_t)i, PAYLOAD, TAG(STREAM, BASE + i, 0));
	harness_sleep_ms(500); /* let the relay route (and queue) all of them */

	ck_assert_int_eq(tclient_send_close(safe, 1000), 0);
	while ((rc = tclient_next_frame(safe, WAIT_MS, &f)) == 0) {
		char m[256];
		const char *e;

		if (f->body_case == F_CLOSE)
			continue;
		ck_assert_msg(received < count, "receiver: more frames than were sent");
		e = itest_check_data(f, CLIENT_A, STREAM, BASE + (uint64_t)received, PAYLOAD,
				     TAG(STREAM, BASE + received, 0), m, sizeof(m));
		ck_assert_msg(e == NULL, "receiver: %s", e);
		got[received++] = 1;
	}
	ck_assert_msg(rc == TCLIENT_ECLOSED, "receiver: %d (%s)", rc, tclient_error(safe));
	rx_close = tclient_close_code(safe);
	tclient_free(safe);
	/* Otherwise this test proves nothing: everything fitted in kernel
	 * buffers. */
	ck_assert_msg(received < count, "all %d frames were delivered; nothing was queued",
		      count);

	while (nacks < count - received) {
		uint64_t k;

		rc = tclient_next_frame(client, WAIT_MS, &f);
		if (rc != 0) {
			int miss = 0;

			while (miss < count && (got[miss] || nacked[miss]))
				miss++;
			ck_abort_msg("sender: %d (%s) after %d of %d nacks; receiver got %d of %d "
				     "(then close code %d); first seq neither delivered nor nacked: %d",
				     rc, tclient_error(client), nacks, count - received, received,
				     count, rx_close, BASE + miss);
		}
		ck_assert_msg(f->body_case == F_NACK, "sender got %s after %d of %d nacks",
			      tclient_frame_name(f), nacks, count - received);
		ck_assert_uint_eq(f->nack->stream, STREAM);
		ck_assert_msg(f->nack->reason == R_UNDELIVERED, "seq %llu: reason %d",
			      (unsigned long long)f->nack->seq, (int)f->nack->reason);
		ck_assert_msg(f->nack->seq >= BASE && f->nack->seq < BASE + (uint64_t)count,
			      "nack for seq %llu, never sent", (unsigned long long)f->nack->seq);
		k = f->nack->seq - BASE;
		ck_assert_msg(!got[k], "nack for seq %llu, which was delivered",
			      (unsigned long long)f->nack->seq);
		ck_assert_msg(!nacked[k], "second nack for seq %llu",
			      (unsigned long long)f->nack->seq);
		nacked[k] = 1;
		nacks++;
	}
	EXPECT_QUIET(client);
	tclient_free(client);
	free(got);
	free(nacked);
	harness_free(h);
}
END_TEST

/* Batching keeps order and loses nothing: two clients send interleaved
 * batches of 1 to 16 frames of varied sizes to one data-safe, which
 * starts reading only once both have sent everything, so the relay's
 * queue for it coalesces frames of both senders into shared messages.
 * Every frame arrives exactly once, in its sender's order, with its own
 * payload and source; fewer messages arrive than frames; nothing is
 * nacked. */
START_TEST(test_batching_order)
{
	enum { N = 1000, STREAM = 3, MAXB = 16 };
	static const char *const srcs[2] = { CLIENT_A, "practice-a/client-2" };
	static uint8_t pay[MAXB][256];
	harness_t *h = harness_new("batching");
	tclient_t *safe, *cl[2];
	uint64_t next[2] = { 0, 0 }, got[2] = { 0, 0 };
	size_t frames = 0, messages = 0;
	int round = 0;

	START(h);
	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(cl[0], h, "practice-a", "client-1");
	ENDPOINT(cl[1], h, "practice-a", "client-2");

	while (next[0] < N || next[1] < N) {
		for (int k = 0; k < 2; k++) {
			tclient_data_t d[MAXB];
			size_t n = 0, want = 1 + (size_t)(round * 7 + k * 5) % MAXB;

			for (; n < want && next[k] < N; n++, next[k]++) {
				size_t len = 16 + (size_t)(next[k] * 13 + (uint64_t)k * 101) % 240;

				harness_payload(pay[n], len, TAG(STREAM, next[k], k + 1));
				d[n] = (tclient_data_t){ .dst = SAFE_A, .stream = STREAM,
							 .seq = next[k], .payload = pay[n],
							 .len = len };
			}
			if (n)
				ck_assert_int_eq(tclient_send_batch(cl[k], d, n), 0);
		}
		round++;
	}

	while (frames < 2 * N) {
		const Zkrelay__V1__Frame *f;
		char m[256];
		const char *e;
		int k;

		NEXT(safe, f, WAIT_MS);
		ck_assert_msg(f->body_case == F_DATA, "frame %zu: %s instead of data", frames,
			      tclient_frame_name(f));
		k = strcmp(f->data->src, srcs[0]) == 0 ? 0 : 1;
		ck_assert_uint_lt(got[k], N);
		e = itest_check_data(f, srcs[k], STREAM, got[k],
				     16 + (size_t)(got[k] * 13 + (uint64_t)k * 101) % 240,
				     TAG(STREAM, got[k], k + 1), m, sizeof(m));
		ck_assert_msg(e == NULL, "from %s: %s", srcs[k], e);
		got[k]++;
		frames++;
		if (tclient_frames_buffered(safe) == 0)
			messages++; /* that was the last frame of its message */
	}
	ck_assert_msg(messages < frames, "%zu frames came in %zu messages: nothing was batched",
		      frames, messages);
	EXPECT_QUIET(safe);
	EXPECT_QUIET(cl[0]);
	EXPECT_QUIET(cl[1]);
	tclient_free(cl[0]);
	tclient_free(cl[1]);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

Suite *delivery_suite(void)
{
	Suite *s = suite_create("delivery");
	TCase *tc = tcase_create("delivery");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_slow_receiver);
	tcase_add_test(tc, test_undelivered_on_disconnect);
	tcase_add_test(tc, test_batching_order);
	suite_add_tcase(s, tc);
	return s;
}
