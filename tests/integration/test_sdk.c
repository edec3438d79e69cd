/* libzkrelay against the real relay: a data-safe and a client, each a
 * zkr_client_t on one libuv loop, open an E2E session through the relay
 * and exchange messages. Checks exactly-once, in-order delivery of whole
 * messages around the record and payload limits, a wrong pinned key
 * failing closed, a relay restart in the middle of a transfer, and the
 * token-expiry warning. */
#include <check.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "itest.h"
#include "zkrelay.h"

#define MAX_MSGS 16

typedef struct {
	harness_t *h;
	uv_loop_t loop;
	uv_timer_t deadline, poll;
	zkr_client_t *safe, *client;
	zkr_session_t *cs;       /* the client's session */
	uint8_t safe_priv[32], safe_pub[32], client_priv[32], client_pub[32];
	int safe_up, client_up, opened, accepted;
	int client_err;          /* from on_error on the client side */
	zkr_session_t *accepted_s[20]; /* the safe's sessions, in accept order */
	zkr_session_t *safe_err_s; /* the last session on_error named on the safe */
	int safe_err;
	size_t safe_errs;
	int link_err;            /* last down reason on the client */
	size_t got;              /* messages the safe received */
	size_t sizes[MAX_MSGS];
	uint8_t digests[MAX_MSGS][32];
	size_t echoed;           /* replies the client received */
	size_t acked;
	size_t chain;            /* messages the client still sends from on_acked */
	uint64_t safe_in;        /* bytes of the message the safe is receiving */
	int echo_whole;          /* the safe answers with the message itself */
	size_t safe_max;         /* the safe's max_message_bytes, 0: default */
	int64_t token_warned;
	int timed_out;
	int (*until)(void *t);   /* stop the loop once true */
} sdk_t;

static void digest(const uint8_t *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;

	ck_assert_int_eq(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL), 1);
}

/* Message i: bytes derived from i and its length, so the receiver can
 * check them without a copy. */
static uint8_t *make_msg(size_t i, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(p);
	for (size_t k = 0; k < n; k++)
		p[k] = (uint8_t)(k * 31 + i * 7 + (k >> 9));
	return p;
}

static void on_link(zkr_client_t *c, int up, int err, void *ud)
{
	sdk_t *t = ud;

	if (c == t->safe)
		t->safe_up = up;
	else {
		t->client_up = up;
		if (!up)
			t->link_err = err;
	}
}

static int on_accept(zkr_client_t *c, zkr_session_t *s, void *ud)
{
	sdk_t *t = ud;
	uint8_t key[32];

	ck_assert_ptr_eq(c, t->safe);
	ck_assert_str_eq(zkr_session_peer(s), "practice-a/client-1");
	ck_assert_int_eq(zkr_session_peer_key(s, key), 0);
	ck_assert_mem_eq(key, t->client_pub, 32);
	if (t->accepted < 20)
		t->accepted_s[t->accepted] = s;
	t->accepted++;
	return 0;
}

static void on_open(zkr_session_t *s, void *ud)
{
	sdk_t *t = ud;

	ck_assert(t->cs == NULL || s == t->cs); /* NULL: a test opens several */
	t->opened = 1;
}

/* The safe records what it got and answers with the digest; the client
 * counts the answers. */
static void on_message(zkr_session_t *s, const uint8_t *msg, size_t len, void *ud)
{
	sdk_t *t = ud;

	if (zkr_session_client(s) == t->safe) {
		ck_assert_uint_lt(t->got, MAX_MSGS);
		t->sizes[t->got] = len;
		digest(msg, len, t->digests[t->got]);
		t->got++;
		if (t->echo_whole)
			ck_assert_int_eq(zkr_session_send(s, msg, len, NULL), 0);
		else
			ck_assert_int_eq(zkr_session_send(s, t->digests[t->got - 1], 32, NULL), 0);
	} else {
		uint8_t d[32];

		ck_assert_uint_lt(t->echoed, t->got);
		if (t->echo_whole) {
			ck_assert_uint_eq(len, t->sizes[t->echoed]);
			digest(msg, len, d);
			ck_assert_mem_eq(d, t->digests[t->echoed], 32);
		} else {
			ck_assert_uint_eq(len, 32);
			ck_assert_mem_eq(msg, t->digests[t->echoed], 32);
		}
		t->echoed++;
	}
}

static void on_acked(zkr_session_t *s, uint64_t id, void *ud)
{
	sdk_t *t = ud;

	if (zkr_session_client(s) != t->client)
		return;
	t->acked++;
	if (t->chain > 0) {
		uint8_t *m = make_msg(t->acked, 300);

		t->chain--;
		ck_assert_int_eq(zkr_session_send(s, m, 300, NULL), 0);
		free(m);
	}
}

static void on_error(zkr_session_t *s, int err, void *ud)
{
	sdk_t *t = ud;

	if (zkr_session_client(s) == t->client) {
		t->client_err = err;
		if (s == t->cs)
			t->cs = NULL;
	} else {
		t->safe_err_s = s;
		t->safe_err = err;
		t->safe_errs++;
	}
}

static void on_progress(zkr_session_t *s, int in, uint64_t done, uint64_t total, void *ud)
{
	sdk_t *t = ud;

	if (in && zkr_session_client(s) == t->safe)
		t->safe_in = done;
}

static void on_token_expiring(zkr_client_t *c, int64_t exp, void *ud)
{
	((sdk_t *)ud)->token_warned = exp;
}

static const zkr_callbacks_t callbacks = {
	.on_link = on_link,
	.on_accept = on_accept,
	.on_open = on_open,
	.on_message = on_message,
	.on_acked = on_acked,
	.on_error = on_error,
	.on_progress = on_progress,
	.on_token_expiring = on_token_expiring,
};

static void on_deadline(uv_timer_t *tm)
{
	sdk_t *t = tm->data;

	t->timed_out = 1;
	uv_stop(&t->loop);
}

static void on_poll(uv_timer_t *tm)
{
	sdk_t *t = tm->data;

	if (t->until && t->until(t))
		uv_stop(&t->loop);
}

/* Runs the loop until cond(t) or timeout_ms; 1 if cond became true. */
static int run_until(sdk_t *t, int (*cond)(void *), int timeout_ms)
{
	t->until = cond;
	t->timed_out = 0;
	if (cond(t))
		return 1;
	uv_timer_start(&t->deadline, on_deadline, (uint64_t)timeout_ms, 0);
	uv_timer_start(&t->poll, on_poll, 5, 5);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	uv_timer_stop(&t->deadline);
	uv_timer_stop(&t->poll);
	return cond(t);
}

static zkr_client_t *endpoint(sdk_t *t, const char *endpoint, const uint8_t priv[32],
			      const char *token)
{
	zkr_config_t cfg;
	zkr_client_t *c;

	zkr_config_init(&cfg);
	cfg.port = harness_port(t->h);
	cfg.ca_file = harness_path(t->h, "pki/ca.crt");
	cfg.cert_file = harness_cert(t->h, "practice-a", endpoint);
	cfg.key_file = harness_key(t->h, "practice-a", endpoint);
	cfg.token = token;
	memcpy(cfg.static_key, priv, 32);
	cfg.backoff_min_ms = 50;
	cfg.backoff_max_ms = 400;
	cfg.retransmit_ms = 300;
	if (strncmp(endpoint, "safe", 4) == 0 && t->safe_max)
		cfg.max_message_bytes = t->safe_max;
	cfg.cb = &callbacks;
	cfg.ud = t;
	ck_assert_int_eq(zkr_client_new(&t->loop, &cfg, &c), 0);
	ck_assert_int_eq(zkr_client_start(c), 0);
	return c;
}

static int both_up(void *p)
{
	sdk_t *t = p;

	return t->safe_up && t->client_up;
}

static void setup_with(sdk_t *t, const char *name, int no_leeway, size_t safe_max)
{
	memset(t, 0, sizeof(*t));
	t->safe_max = safe_max;
	t->h = harness_new(name);
	ck_assert_ptr_nonnull(t->h);
	if (no_leeway)
		harness_set(t->h, "tokens", "leeway_s", "0");
	ck_assert_msg(harness_start(t->h) == 0, "%s", harness_error(t->h));
	ck_assert_int_eq(uv_loop_init(&t->loop), 0);
	uv_timer_init(&t->loop, &t->deadline);
	uv_timer_init(&t->loop, &t->poll);
	t->deadline.data = t->poll.data = t;
	ck_assert_int_eq(zkr_keygen(t->safe_priv, t->safe_pub), 0);
	ck_assert_int_eq(zkr_keygen(t->client_priv, t->client_pub), 0);
	t->safe = endpoint(t, "safe-1", t->safe_priv, NULL);
	t->client = endpoint(t, "client-1", t->client_priv,
			     harness_token(t->h, "practice-a", "client-1"));
	ck_assert_msg(run_until(t, both_up, 10000), "links did not come up (client err %d)",
		      t->link_err);
}

static void setup(sdk_t *t, const char *name)
{
	setup_with(t, name, 0, 0);
}

static void teardown(sdk_t *t)
{
	zkr_client_close(t->safe, NULL, NULL);
	zkr_client_close(t->client, NULL, NULL);
	uv_close((uv_handle_t *)&t->deadline, NULL);
	uv_close((uv_handle_t *)&t->poll, NULL);
	uv_run(&t->loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&t->loop), 0);
	harness_free(t->h);
}

static int all_echoed(void *p)
{
	sdk_t *t = p;

	return t->client_err || (t->echoed == t->got && t->acked == t->got && t->got > 0 &&
				 zkr_session_pending(t->cs) == 0);
}

static int all_echoed_5(void *p)
{
	return all_echoed(p) && ((sdk_t *)p)->got == 5;
}

/* Sizes around the record limit (65487 data bytes per record), the
 * Noise limit and beyond: each arrives once, whole, in order. */
START_TEST(test_sizes_exactly_once)
{
	static const size_t sizes[] = { 0, 1, 65487, 65488, 65535, 65536, 3u << 20, 17 };
	sdk_t t;

	setup(&t, "sdk-sizes");
	ck_assert_int_eq(zkr_session_open(t.client, "practice-a/safe-1", t.safe_pub, &t.cs), 0);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *m = make_msg(i, sizes[i]);

		ck_assert_int_eq(zkr_session_send(t.cs, m, sizes[i], NULL), 0);
		free(m);
	}
	t.got = 0;
	ck_assert_msg(run_until(&t, all_echoed, 30000) && t.got == 8,
		      "got %zu echoed %zu acked %zu err %d", t.got, t.echoed, t.acked, t.client_err);
	ck_assert_int_eq(t.client_err, 0);
	ck_assert(t.opened);
	ck_assert_int_eq(t.accepted, 1);
	for (size_t i = 0; i < 8; i++) {
		uint8_t *m = make_msg(i, sizes[i]), d[32];

		ck_assert_uint_eq(t.sizes[i], sizes[i]);
		digest(m, sizes[i], d);
		ck_assert_mem_eq(d, t.digests[i], 32);
		free(m);
	}
	teardown(&t);
}
END_TEST

static int session_failed(void *p)
{
	return ((sdk_t *)p)->client_err != 0;
}

/* A data-safe answering a client with more than the relay queues for one
 * client (1 MiB by default): the relay refuses what does not fit rather
 * than pause the data-safe for one slow client, and the sender's window
 * shrinks to what gets through. Both 16 MiB messages arrive whole. */
START_TEST(test_large_answers_to_client)
{
	const size_t n = 16u << 20;
	sdk_t t;

	setup(&t, "sdk-large-answer");
	t.echo_whole = 1;
	ck_assert_int_eq(zkr_session_open(t.client, "practice-a/safe-1", t.safe_pub, &t.cs), 0);
	for (size_t i = 0; i < 2; i++) {
		uint8_t *m = make_msg(i, n);

		ck_assert_int_eq(zkr_session_send(t.cs, m, n, NULL), 0);
		free(m);
	}
	ck_assert_msg(run_until(&t, all_echoed, 60000) && t.got == 2, "got %zu echoed %zu err %d",
		      t.got, t.echoed, t.client_err);
	teardown(&t);
}
END_TEST

/* A message above what the receiver takes: the receiver ends the session
 * with a sealed close that says why, and the sender hears it at once
 * (not after peer_timeout_ms), with nothing delivered. */
START_TEST(test_too_large_for_peer)
{
	const size_t n = (1u << 20) + 1;
	uint8_t *m = make_msg(1, n);
	sdk_t t;

	setup_with(&t, "sdk-too-large", 0, 1u << 20);
	ck_assert_int_eq(zkr_session_open(t.client, "practice-a/safe-1", t.safe_pub, &t.cs), 0);
	ck_assert_int_eq(zkr_session_send(t.cs, m, n, NULL), 0);
	ck_assert(run_until(&t, session_failed, 10000));
	ck_assert_int_eq(t.client_err, ZKR_ETOOLARGE);
	ck_assert_uint_eq(t.got, 0);
	free(m);
	teardown(&t);
}
END_TEST

START_TEST(test_wrong_pin_fails_closed)
{
	uint8_t other_priv[32], other_pub[32];
	sdk_t t;

	setup(&t, "sdk-pin");
	ck_assert_int_eq(zkr_keygen(other_priv, other_pub), 0);
	ck_assert_int_eq(zkr_session_open(t.client, "practice-a/safe-1", other_pub, &t.cs), 0);
	ck_assert_int_eq(zkr_session_send(t.cs, "secret", 6, NULL), 0);
	ck_assert(run_until(&t, session_failed, 10000));
	ck_assert_int_eq(t.client_err, ZKR_EPEERKEY);
	ck_assert_uint_eq(t.got, 0);
	ck_assert_int_eq(t.accepted, 0);
	ck_assert_ptr_null(t.cs);
	teardown(&t);
}
END_TEST

static int part_received(void *p)
{
	return ((sdk_t *)p)->safe_in >= (2u << 20);
}

/* The relay is killed (no drain) while a 20 MiB message is on its way
 * and started again on the same port: both ends reconnect, the sender
 * goes back to the last acknowledged record, and the message arrives
 * once, whole. */
START_TEST(test_relay_restart_mid_transfer)
{
	const size_t n = 20u << 20;
	uint8_t *m = make_msg(1, n), d[32];
	sdk_t t;

	setup(&t, "sdk-restart");
	ck_assert_int_eq(zkr_session_open(t.client, "practice-a/safe-1", t.safe_pub, &t.cs), 0);
	ck_assert_int_eq(zkr_session_send(t.cs, m, n, NULL), 0);
	/* let a part of it through, then pull the relay away */
	ck_assert(run_until(&t, part_received, 30000));
	ck_assert_uint_eq(t.got, 0);
	ck_assert_msg(harness_restart(t.h) == 0, "%s", harness_error(t.h));
	ck_assert_msg(run_until(&t, all_echoed, 60000), "got %zu echoed %zu err %d", t.got,
		      t.echoed, t.client_err);
	ck_assert_uint_eq(t.got, 1);
	ck_assert_uint_eq(t.sizes[0], n);
	digest(m, n, d);
	ck_assert_mem_eq(d, t.digests[0], 32);
	free(m);
	teardown(&t);
}
END_TEST

/* The safe's answer carries the acknowledgement of the client's message
 * in the same record; the client sends its next message from on_acked,
 * while that record is still being taken apart. The answer must still
 * reach on_message intact (a send sealing into the buffer that held the
 * opened record delivered zeros instead). */
START_TEST(test_send_from_on_acked)
{
	uint8_t *m = make_msg(0, 300);
	sdk_t t;

	setup(&t, "sdk-ackchain");
	t.chain = 4;
	ck_assert_int_eq(zkr_session_open(t.client, "practice-a/safe-1", t.safe_pub, &t.cs), 0);
	ck_assert_int_eq(zkr_session_send(t.cs, m, 300, NULL), 0);
	free(m);
	ck_assert_msg(run_until(&t, all_echoed_5, 20000), "got %zu echoed %zu acked %zu err %d",
		      t.got, t.echoed, t.acked, t.client_err);
	ck_assert_int_eq(t.client_err, 0);
	for (size_t i = 0; i < 5; i++) {
		uint8_t d[32];

		m = make_msg(i, 300);
		digest(m, 300, d);
		ck_assert_mem_eq(d, t.digests[i], 32);
		free(m);
	}
	teardown(&t);
}
END_TEST

static int seventeen_accepted(void *p)
{
	return ((sdk_t *)p)->accepted >= 17;
}

/* A responder keeps 16 sessions per peer address. The 17th handshake
 * from the same peer pushes the oldest out, and the application, which
 * accepted it and may still hold the pointer, is told through on_error
 * (it used to be freed on the next tick without a word). */
START_TEST(test_evicted_session_reported)
{
	zkr_session_t *cs[17];
	sdk_t t;

	setup(&t, "sdk-evict");
	for (size_t i = 0; i < 17; i++)
		ck_assert_int_eq(zkr_session_open(t.client, "practice-a/safe-1", t.safe_pub, &cs[i]),
				 0);
	ck_assert_msg(run_until(&t, seventeen_accepted, 10000), "accepted %d", t.accepted);
	ck_assert_int_eq(t.accepted, 17);
	ck_assert_uint_eq(t.safe_errs, 1);
	ck_assert_ptr_eq(t.safe_err_s, t.accepted_s[0]);
	ck_assert_int_eq(t.safe_err, ZKR_ECLOSED);
	for (size_t i = 1; i < 17; i++)
		ck_assert_int_eq(zkr_session_peer_key(t.accepted_s[i], (uint8_t[32]){ 0 }), 0);
	teardown(&t);
}
END_TEST

static int token_warned(void *p)
{
	return ((sdk_t *)p)->token_warned != 0;
}

static void on_wait(uv_timer_t *tm)
{
	uv_stop(tm->loop);
}

/* A token that expires within the margin: the application is told; the
 * new token it sets goes to the relay as a refresh, and traffic goes on
 * after the old token's expiry (with no leeway, the relay would stop
 * routing for the old one at once). */
START_TEST(test_token_expiring_and_refresh)
{
	sdk_t t;
	int64_t now;
	uv_timer_t wait;

	setup_with(&t, "sdk-token", 1, 0);
	now = (int64_t)time(NULL);
	zkr_client_close(t.client, NULL, NULL);
	t.client_up = 0;
	t.client = endpoint(&t, "client-1", t.client_priv,
			    harness_token_with(t.h, "practice-a", "client-1", "practice-a",
					       "practice-a/safe-1", now - 10, now + 3, "short-1"));
	ck_assert(run_until(&t, both_up, 10000));
	ck_assert(run_until(&t, token_warned, 5000));
	ck_assert_int_eq(t.token_warned, now + 3);
	ck_assert_int_eq(zkr_client_set_token(t.client, harness_token(t.h, "practice-a", "client-1")),
			 0);
	uv_timer_init(&t.loop, &wait);
	uv_timer_start(&wait, on_wait, 4500, 0);
	uv_run(&t.loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&wait, NULL);
	ck_assert_int_ge((int64_t)time(NULL), now + 4);
	ck_assert_int_eq(zkr_session_open(t.client, "practice-a/safe-1", t.safe_pub, &t.cs), 0);
	ck_assert_int_eq(zkr_session_send(t.cs, "after expiry", 12, NULL), 0);
	ck_assert_msg(run_until(&t, all_echoed, 10000), "got %zu echoed %zu err %d link %d", t.got,
		      t.echoed, t.client_err, t.link_err);
	ck_assert_uint_eq(t.got, 1);
	ck_assert_int_eq(t.link_err, 0); /* never cut off */
	teardown(&t);
}
END_TEST

Suite *sdk_suite(void)
{
	Suite *s = suite_create("sdk");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sizes_exactly_once);
	tcase_add_test(tc, test_large_answers_to_client);
	tcase_add_test(tc, test_too_large_for_peer);
	tcase_add_test(tc, test_wrong_pin_fails_closed);
	tcase_add_test(tc, test_relay_restart_mid_transfer);
	tcase_add_test(tc, test_token_expiring_and_refresh);
	tcase_add_test(tc, test_send_from_on_acked);
	tcase_add_test(tc, test_evicted_session_reported);
	suite_add_tcase(s, tc);
	return s;
}
