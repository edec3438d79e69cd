/* Caps, at their edges: [limits] max_connections (in total),
 * queue_max_bytes, queue_total_max_bytes and max_payload_bytes. A frame
 * the relay cannot take is nacked with the reason for that cap and never
 * delivered; nothing else is lost or doubled. */
#include <stdlib.h>

#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define SAFE_B "practice-b/safe-1"
#define CLIENT_A "practice-a/client-1"

#define R_TOO_LARGE ZKRELAY__V1__REASON__REASON_MESSAGE_TOO_LARGE
#define R_QUEUE_FULL ZKRELAY__V1__REASON__REASON_QUEUE_FULL
#define R_BUSY ZKRELAY__V1__REASON__REASON_RELAY_BUSY



/* max_connections = max_connections_per_ip = CAP: CAP connections work,
 * connection CAP + 1 is closed at accept (the total cap, checked first,
 * names itself in the log), and once one leaves a new one fits. */
START_TEST(test_total_connections)
{
	enum { CAP = 3 };
	static const char *const ids[CAP][2] = {
		{ "practice-a", "safe-1" },
		{ "practice-a", "client-1" },
		{ "practice-a", "client-2" },
	};
	harness_t *h = harness_new("totalcap");
	tclient_t *c[CAP], *extra;
	int i, rc;

	harness_set_int(h, "limits", "max_connections", CAP);
	harness_set_int(h, "limits", "max_connections_per_ip", CAP);
	START(h);
	for (i = 0; i < CAP; i++)
		ENDPOINT(c[i], h, ids[i][0], ids[i][1]);
	SEND(c[1], SAFE_A, 1, 1, 100, TAG(1, 1, 0));
	EXPECT_DATA(c[0], WAIT_MS, CLIENT_A, 1, 1, 100, TAG(1, 1, 0));
	SEND(c[2], SAFE_A, 1, 1, 100, TAG(1, 1, 1));
	EXPECT_DATA(c[0], WAIT_MS, "practice-a/client-2", 1, 1, 100, TAG(1, 1, 1));

	/* CAP + 1: closed at once, though it has not sent a byte. */
	extra = itest_tcp_only(h);
	rc = tclient_wait_closed(extra, 1000);
	ck_assert_msg(rc == 0, "connection %d not closed within 1 s (max_connections %d)",
		      CAP + 1, CAP);
	tclient_free(extra);
	ck_assert_msg(harness_log_wait(h, WAIT_MS, "\"event\":\"connection_refused\"",
				       "\"reason\":\"total\"", NULL),
		      "no connection_refused with reason total; see %s", harness_log_path(h));

	/* One leaves: a new one is accepted and served ... */
	tclient_free(c[2]);
	c[2] = itest_endpoint_retry(h, "practice-b", "client-1", 3000);
	SEND(c[2], SAFE_B, 1, 1, 100, TAG(1, 1, 2));
	EXPECT_NACK(c[2], 1, 1, R_NO_ROUTE);

	/* ... and the cap holds again. */
	extra = itest_tcp_only(h);
	rc = tclient_wait_closed(extra, 1000);
	ck_assert_msg(rc == 0, "connection %d accepted after churn", CAP + 1);
	tclient_free(extra);

	/* The connections inside the cap were never disturbed. */
	SEND(c[1], SAFE_A, 1, 2, 100, TAG(1, 2, 0));
	EXPECT_DATA(c[0], WAIT_MS, CLIENT_A, 1, 2, 100, TAG(1, 2, 0));
	for (i = 0; i < CAP; i++)
		tclient_free(c[i]);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Queue caps.
 *
 * A cap is crossed only while a destination queue holds bytes it cannot
 * write, and the kernel buffers megabytes towards even a reader that reads
 * nothing. So several senders per destination send rounds of one large
 * message each (BATCH frames of PAYLOAD bytes, more than the high water
 * mark, more than half the queue cap), until the nacks the test waits for
 * arrive. High water pauses only the sender whose frames landed above it;
 * the next sender's message then crosses the cap. Then the destinations
 * read, and every frame sent must have been delivered or nacked, exactly
 * once, delivered ones in order. The relay handles one message at a time,
 * and its queues only grow while it does, so within each message the
 * delivered frames come first and the nacked ones after. */

#define PAYLOAD 16384
#define BATCH 7
#define QUEUE_MAX 131072
#define MESSAGE_MAX (QUEUE_MAX - 1024)

enum { FATE_NONE, FATE_DELIVERED, FATE_NACKED };

typedef struct {
	tclient_t *c;
	const char *addr; /* the sender's routing address, the src seen */
	const char *dst;
	uint32_t stream;
	uint64_t sent, cap; /* seqs 0 .. sent-1 went out; room for cap */
	uint8_t *fate;
	uint64_t next_delivered;
	int full, busy;
} flow_t;

static void flow_init(flow_t *f, harness_t *h, const char *practice, const char *endpoint,
		      const char *dst, uint32_t stream, uint64_t cap)
{
	char addr[128];

	memset(f, 0, sizeof(*f));
	snprintf(addr, sizeof(addr), "%s/%s", practice, endpoint);
	f->addr = strdup(addr);
	f->dst = dst;
	f->stream = stream;
	f->cap = cap;
	f->fate = calloc(cap, 1);
	ck_assert_ptr_nonnull(f->addr);
	ck_assert_ptr_nonnull(f->fate);
	ENDPOINT(f->c, h, practice, endpoint);
}

static void flow_free(flow_t *f)
{
	tclient_free(f->c);
	free((char *)f->addr);
	free(f->fate);
}

static void flow_send_batch(flow_t *f)
{
	static uint8_t buf[BATCH][PAYLOAD];
	tclient_data_t d[BATCH];
	int i, rc;

	ck_assert_msg(f->sent + BATCH <= f->cap, "stream %u: out of room", f->stream);
	for (i = 0; i < BATCH; i++) {
		uint64_t seq = f->sent + (uint64_t)i;

		harness_payload(buf[i], PAYLOAD, TAG(f->stream, seq, 0));
		d[i] = (tclient_data_t){ .dst = f->dst, .stream = f->stream, .seq = seq,
					 .payload = buf[i], .len = PAYLOAD };
	}
	rc = tclient_send_batch(f->c, d, BATCH);
	ck_assert_msg(rc == 0, "stream %u: send: %d (%s)", f->stream, rc, tclient_error(f->c));
	f->sent += BATCH;
}

/* Reads the sender's frames until none arrives for timeout_ms: nacks for
 * its own frames, each seq once, with one of the allowed reasons. */
static void flow_read_nacks(flow_t *f, int timeout_ms, int allow_busy)
{
	for (;;) {
		const Zkrelay__V1__Frame *fr = NULL;
		const Zkrelay__V1__Nack *n;
		int rc = tclient_next_frame(f->c, timeout_ms, &fr);

		if (rc == TCLIENT_ETIMEOUT)
			return;
		ck_assert_msg(rc == 0, "stream %u: sender: %d (%s)", f->stream, rc,
			      tclient_error(f->c));
		ck_assert_msg(fr->body_case == F_NACK, "stream %u: sender got %s", f->stream,
			      tclient_frame_name(fr));
		n = fr->nack;
		ck_assert_msg(n->stream == f->stream && n->seq < f->sent,
			      "stream %u: nack for stream %u seq %llu", f->stream, n->stream,
			      (unsigned long long)n->seq);
		ck_assert_msg(n->reason == R_QUEUE_FULL || (allow_busy && n->reason == R_BUSY),
			      "stream %u seq %llu: nack reason %d", f->stream,
			      (unsigned long long)n->seq, (int)n->reason);
		ck_assert_msg(f->fate[n->seq] == FATE_NONE, "stream %u seq %llu: nacked after %s",
			      f->stream, (unsigned long long)n->seq,
			      f->fate[n->seq] == FATE_NACKED ? "a nack" : "delivery");
		f->fate[n->seq] = FATE_NACKED;
		if (n->reason == R_BUSY)
			f->busy++;
		else
			f->full++;
	}
}

/* The destination reads until nothing arrives for quiet_ms: data from the
 * given flows only, each seq once, in order per flow, intact. */
static void read_delivered(tclient_t *safe, flow_t **flows, int nflows, int quiet_ms)
{
	for (;;) {
		const Zkrelay__V1__Frame *fr = NULL;
		const Zkrelay__V1__Data *d;
		flow_t *f = NULL;
		char m[256];
		const char *e;
		int i, rc = tclient_next_frame(safe, quiet_ms, &fr);

		if (rc == TCLIENT_ETIMEOUT)
			return;
		ck_assert_msg(rc == 0, "destination: %d (%s)", rc, tclient_error(safe));
		ck_assert_msg(fr->body_case == F_DATA, "destination got %s", tclient_frame_name(fr));
		d = fr->data;
		for (i = 0; i < nflows; i++)
			if (flows[i]->stream == d->stream)
				f = flows[i];
		ck_assert_msg(f != NULL, "data on stream %u from %s", d->stream, d->src);
		ck_assert_msg(d->seq < f->sent, "stream %u: seq %llu never sent", f->stream,
			      (unsigned long long)d->seq);
		e = itest_check_data(fr, f->addr, f->stream, d->seq, PAYLOAD,
				     TAG(f->stream, d->seq, 0), m, sizeof(m));
		ck_assert_msg(e == NULL, "%s", e);
		ck_assert_msg(f->fate[d->seq] == FATE_NONE, "stream %u seq %llu: delivered after %s",
			      f->stream, (unsigned long long)d->seq,
			      f->fate[d->seq] == FATE_NACKED ? "a nack" : "delivery");
		ck_assert_msg(d->seq >= f->next_delivered,
			      "stream %u: seq %llu delivered after seq %llu", f->stream,
			      (unsigned long long)d->seq, (unsigned long long)f->next_delivered - 1);
		f->fate[d->seq] = FATE_DELIVERED;
		f->next_delivered = d->seq + 1;
	}
}

/* Every seq sent was delivered or nacked; within each message, nacked
 * frames only after the delivered ones. */
static void check_fates(const flow_t *f)
{
	uint64_t seq;

	for (seq = 0; seq < f->sent; seq++) {
		ck_assert_msg(f->fate[seq] != FATE_NONE, "stream %u seq %llu: neither delivered "
			      "nor nacked (%llu sent)", f->stream, (unsigned long long)seq,
			      (unsigned long long)f->sent);
		if (seq % BATCH != 0 && f->fate[seq - 1] == FATE_NACKED)
			ck_assert_msg(f->fate[seq] == FATE_NACKED,
				      "stream %u seq %llu: delivered after seq %llu of the same "
				      "message was nacked", f->stream, (unsigned long long)seq,
				      (unsigned long long)seq - 1);
	}
}

/* A data-safe that reads nothing until told to: a small receive buffer
 * keeps the kernel from taking much off the relay's hands. */
static tclient_t *slow_safe(harness_t *h, const char *practice)
{
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, practice, "safe-1");
	o.rcvbuf = 8192;
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	if (rc == 0)
		rc = tclient_hello(c, harness_token(h, practice, "safe-1"), NULL);
	ck_assert_msg(rc == 0, "%s/safe-1: %d (%s)", practice, rc, tclient_error(c));
	return c;
}

static void set_queue_limits(harness_t *h, long long low_water, long long total)
{
	harness_set_int(h, "limits", "max_message_bytes", MESSAGE_MAX);
	harness_set_int(h, "limits", "queue_max_bytes", QUEUE_MAX);
	harness_set_int(h, "limits", "queue_high_water", 65536);
	harness_set_int(h, "limits", "queue_low_water", low_water);
	if (total > 0)
		harness_set_int(h, "limits", "queue_total_max_bytes", total);
}

/* How many rounds may pass before the nacks must have come: enough to
 * fill the kernel's buffers towards each destination twice over. */
static int max_rounds(int flows_per_dst)
{
	size_t budget = 2 * itest_kernel_sndbuf_max() + ((size_t)4 << 20);

	return (int)(budget / ((size_t)flows_per_dst * BATCH * PAYLOAD)) + 4;
}

/* Rounds of one message per flow until stop() holds. */
static void send_rounds(flow_t **flows, int nflows, int rounds, int allow_busy,
			int (*stop)(flow_t **, int))
{
	int r, i;

	for (r = 0; r < rounds && !stop(flows, nflows); r++) {
		for (i = 0; i < nflows; i++)
			flow_send_batch(flows[i]);
		harness_sleep_ms(10);
		for (i = 0; i < nflows; i++)
			flow_read_nacks(flows[i], 0, allow_busy);
	}
	ck_assert_msg(stop(flows, nflows), "no cap reached after %d rounds (%llu frames sent "
		      "per flow)", rounds, (unsigned long long)flows[0]->sent);
}

static int any_full(flow_t **flows, int n)
{
	int i, k = 0;

	for (i = 0; i < n; i++)
		k += flows[i]->full;
	return k > 0;
}

static int any_busy(flow_t **flows, int n)
{
	int i, k = 0;

	for (i = 0; i < n; i++)
		k += flows[i]->busy;
	return k > 0;
}

/* queue_max_bytes: client-1 and client-2 of practice-a send to safe-1,
 * which does not read. Frames that would push its queue past the cap are
 * nacked QUEUE_FULL and never delivered; all others are, in order. */
START_TEST(test_queue_max)
{
	harness_t *h = harness_new("queuemax");
	const int rounds = max_rounds(2);
	flow_t a1, a2, *flows[2] = { &a1, &a2 };
	tclient_t *safe;
	int i;

	set_queue_limits(h, 49152, 0);
	START(h);
	safe = slow_safe(h, "practice-a");
	flow_init(&a1, h, "practice-a", "client-1", SAFE_A, 1, (uint64_t)rounds * BATCH);
	flow_init(&a2, h, "practice-a", "client-2", SAFE_A, 2, (uint64_t)rounds * BATCH);

	send_rounds(flows, 2, rounds, 0, any_full);

	/* Now the safe reads: everything not nacked arrives, and any message
	 * still waiting behind a paused sender is handled then. */
	read_delivered(safe, flows, 2, 1000);
	for (i = 0; i < 2; i++)
		flow_read_nacks(flows[i], QUIET_MS, 0);
	EXPECT_QUIET(safe);
	for (i = 0; i < 2; i++) {
		check_fates(flows[i]);
		ck_assert_int_eq(flows[i]->busy, 0);
	}
	ck_assert_int_gt(a1.full + a2.full, 0);

	for (i = 0; i < 2; i++)
		flow_free(flows[i]);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* queue_total_max_bytes: two destinations (practice-a/safe-1 and
 * practice-b/safe-1, neither reading), two senders each. The total cap
 * lies below the sum of the two queue caps, and above one queue cap by
 * more than one frame, so a single queue cannot reach it: a RELAY_BUSY
 * nack means the bytes of both queues counted. Nothing is lost. */
START_TEST(test_queue_total)
{
	const long long total = QUEUE_MAX + 32768;
	harness_t *h = harness_new("queuetotal");
	const int rounds = max_rounds(2);
	flow_t a1, a2, b1, b2, *flows[4] = { &a1, &a2, &b1, &b2 };
	tclient_t *safe_a, *safe_b;
	int i, busy = 0;

	/* Low water above total - queue_max: a queue that holds its senders
	 * paused holds more than that, so the other queue's sender meets
	 * the total cap before its own queue's cap. */
	set_queue_limits(h, 49152, total);
	START(h);
	safe_a = slow_safe(h, "practice-a");
	safe_b = slow_safe(h, "practice-b");
	flow_init(&a1, h, "practice-a", "client-1", SAFE_A, 1, (uint64_t)rounds * BATCH);
	flow_init(&a2, h, "practice-a", "client-2", SAFE_A, 2, (uint64_t)rounds * BATCH);
	flow_init(&b1, h, "practice-b", "client-1", SAFE_B, 3, (uint64_t)rounds * BATCH);
	flow_init(&b2, h, "practice-b", "client-2", SAFE_B, 4, (uint64_t)rounds * BATCH);

	send_rounds(flows, 4, rounds, 1, any_busy);

	read_delivered(safe_a, flows, 2, 1000);
	read_delivered(safe_b, flows + 2, 2, 1000);
	/* Reading safe-b may have let practice-a's senders go on. */
	read_delivered(safe_a, flows, 2, QUIET_MS);
	for (i = 0; i < 4; i++)
		flow_read_nacks(flows[i], QUIET_MS, 1);
	EXPECT_QUIET(safe_a);
	EXPECT_QUIET(safe_b);
	for (i = 0; i < 4; i++) {
		check_fates(flows[i]);
		busy += flows[i]->busy;
	}
	ck_assert_int_gt(busy, 0);

	for (i = 0; i < 4; i++)
		flow_free(flows[i]);
	tclient_free(safe_a);
	tclient_free(safe_b);
	harness_free(h);
}
END_TEST

/* max_payload_bytes: in one message (well under max_message_bytes), a
 * payload of exactly the limit is delivered, one byte more is nacked
 * MESSAGE_TOO_LARGE and not delivered, and the frame after it is. */
START_TEST(test_max_payload)
{
	enum { LIMIT = 1000 };
	static uint8_t p[3][LIMIT + 1];
	harness_t *h = harness_new("maxpayload");
	tclient_t *safe, *client;
	tclient_data_t d[3];
	int i, rc;

	harness_set_int(h, "limits", "max_payload_bytes", LIMIT);
	START(h);
	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(client, h, "practice-a", "client-1");
	for (i = 0; i < 3; i++) {
		size_t len = i == 1 ? LIMIT + 1 : LIMIT;

		harness_payload(p[i], len, TAG(5, i + 1, 0));
		d[i] = (tclient_data_t){ .dst = SAFE_A, .stream = 5, .seq = (uint64_t)i + 1,
					 .payload = p[i], .len = len };
	}
	rc = tclient_send_batch(client, d, 3);
	ck_assert_msg(rc == 0, "send: %d (%s)", rc, tclient_error(client));

	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 5, 1, LIMIT, TAG(5, 1, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 5, 3, LIMIT, TAG(5, 3, 0));
	EXPECT_QUIET(safe);
	EXPECT_NACK(client, 5, 2, R_TOO_LARGE);
	EXPECT_QUIET(client);
	tclient_free(safe);
	tclient_free(client);
	harness_free(h);
}
END_TEST

Suite *caps_suite(void)
{
	Suite *s = suite_create("caps");
	TCase *tc = tcase_create("caps");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_total_connections);
	tcase_add_test(tc, test_queue_max);
	tcase_add_test(tc, test_queue_total);
	tcase_add_test(tc, test_max_payload);
	suite_add_tcase(s, tc);
	return s;
}
