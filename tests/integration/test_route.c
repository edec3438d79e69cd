/* Identity and routing (DESIGN.md, "Frames", "Delivery"): hello first,
 * Welcome with the certificate's identity, src stamped by the relay, the
 * routing rule, and one indistinguishable refusal for every destination a
 * sender may not reach. */
#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define CLIENT_A1 "practice-a/client-1"
#define CLIENT_A2 "practice-a/client-2"
#define SAFE_B "practice-b/safe-1"
#define CLIENT_B1 "practice-b/client-1"

static harness_t *started(const char *name)
{
	harness_t *h = harness_new(name);

	START(h);
	return h;
}

static void expect_welcome(harness_t *h, const char *practice, const char *endpoint,
			   Zkrelay__V1__Role role, uint32_t max_message)
{
	const Zkrelay__V1__Welcome *w;
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, practice, endpoint);
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc == 0, "%s/%s: %d (%s)", practice, endpoint, rc, tclient_error(c));
	rc = tclient_hello(c, harness_token(h, practice, endpoint), &w);
	ck_assert_msg(rc == 0, "%s/%s hello: %d (%s)", practice, endpoint, rc, tclient_error(c));
	ck_assert_str_eq(w->practice_id, practice);
	ck_assert_str_eq(w->endpoint_id, endpoint);
	ck_assert_int_eq(w->role, role);
	ck_assert_uint_eq(w->max_message_bytes, max_message);
	ck_assert_msg(w->max_payload_bytes > 0 && w->max_payload_bytes <= 65535 &&
		      w->max_payload_bytes < w->max_message_bytes,
		      "max_payload_bytes %u", w->max_payload_bytes);
	tclient_free(c);
}

START_TEST(test_welcome)
{
	harness_t *h = started("welcome");

	expect_welcome(h, "practice-a", "safe-1", ZKRELAY__V1__ROLE__ROLE_SAFE, 66560);
	expect_welcome(h, "practice-a", "client-1", ZKRELAY__V1__ROLE__ROLE_CLIENT, 66560);
	expect_welcome(h, "practice-b", "client-2", ZKRELAY__V1__ROLE__ROLE_CLIENT, 66560);
	harness_free(h);
}
END_TEST

START_TEST(test_welcome_limit_from_config)
{
	harness_t *h = harness_new("welcomelimit");

	harness_set_int(h, "limits", "max_message_bytes", 40000);
	START(h);
	expect_welcome(h, "practice-b", "safe-1", ZKRELAY__V1__ROLE__ROLE_SAFE, 40000);
	harness_free(h);
}
END_TEST

START_TEST(test_hello_required)
{
	harness_t *h = started("hello");
	tclient_opts_t o;
	tclient_t *c, *safe;
	int rc;

	ENDPOINT(safe, h, "practice-a", "safe-1");
	harness_client_opts(h, &o, "practice-a", "client-1");
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc == 0, "%d (%s)", rc, tclient_error(c));
	SEND(c, SAFE_A, 1, 1, 200, TAG(1, 1, 0));
	EXPECT_CLOSE_FRAME(c, R_HELLO_REQUIRED);
	EXPECT_ENDED(c);
	EXPECT_QUIET(safe);
	tclient_free(c);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* Data both ways, in batches of varying size and single messages, each
 * direction sent before the other side reads. The sender puts a forged src
 * in every frame; the receiver sees the authenticated one. */
START_TEST(test_exchange)
{
	enum { N = 100, STREAM = 5 };
	harness_t *h = started("exchange");
	static uint8_t pay[8][4096];
	tclient_t *client, *safe;
	int i;

	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(client, h, "practice-a", "client-1");

	for (i = 0; i < N;) {
		tclient_data_t d[8];
		int k, batch = 1 + i % 7;

		for (k = 0; k < batch && i < N; k++, i++) {
			size_t len = 16 + (size_t)(i * 37) % 4000;

			harness_payload(pay[k], len, TAG(STREAM, i, 1));
			d[k] = (tclient_data_t){ .dst = SAFE_A, .src = "practice-a/safe-1",
						 .stream = STREAM, .seq = (uint64_t)i,
						 .payload = pay[k], .len = len };
		}
		ck_assert_int_eq(tclient_send_batch(client, d, (size_t)k), 0);
	}
	for (i = 0; i < N; i++)
		EXPECT_DATA(safe, WAIT_MS, CLIENT_A1, STREAM, (uint64_t)i,
			    16 + (size_t)(i * 37) % 4000, TAG(STREAM, i, 1));

	for (i = 0; i < N; i++) {
		size_t len = 16 + (size_t)(i * 53) % 4000;

		harness_payload(pay[0], len, TAG(STREAM, i, 2));
		{
			tclient_data_t d = { .dst = CLIENT_A1, .src = CLIENT_A2,
					     .stream = STREAM, .seq = (uint64_t)i,
					     .payload = pay[0], .len = len };
			ck_assert_int_eq(tclient_send_batch(safe, &d, 1), 0);
		}
	}
	for (i = 0; i < N; i++)
		EXPECT_DATA(client, WAIT_MS, SAFE_A, STREAM, (uint64_t)i,
			    16 + (size_t)(i * 53) % 4000, TAG(STREAM, i, 2));
	EXPECT_QUIET(client);
	EXPECT_QUIET(safe);
	tclient_free(client);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* Not permitted (another practice's data-safe, online), unknown, offline:
 * the same Nack, byte for byte apart from the sequence number. */
START_TEST(test_no_route_identical)
{
	static const char *const dsts[] = {
		SAFE_A,                    /* online, other practice */
		"practice-b/no-such-safe", /* unknown endpoint */
		"practice-zz/safe-1",      /* unknown practice */
		SAFE_B,                    /* known, offline */
	};
	enum { STREAM = 7, N = sizeof(dsts) / sizeof(dsts[0]) };
	harness_t *h = started("noroute");
	uint8_t first[256];
	size_t first_len = 0;
	tclient_t *safe, *c;
	size_t i;

	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(c, h, "practice-b", "client-1");
	for (i = 0; i < N; i++) {
		const uint64_t seq = 101 + i; /* same varint length for all */
		const uint8_t *raw;
		size_t len, k, diff = 0;

		SEND(c, dsts[i], STREAM, seq, 300, TAG(STREAM, seq, 0));
		EXPECT_NACK(c, STREAM, seq, R_NO_ROUTE);
		ck_assert_msg(tclient_frames_buffered(c) == 0, "more than the nack in one message");
		raw = tclient_last_msg(c, &len);
		if (i == 0) {
			ck_assert_uint_le(len, sizeof(first));
			memcpy(first, raw, len);
			first_len = len;
			continue;
		}
		ck_assert_msg(len == first_len, "nack for %s is %zu bytes, for %s %zu", dsts[i],
			      len, dsts[0], first_len);
		for (k = 0; k < len; k++)
			diff += raw[k] != first[k];
		ck_assert_msg(diff == 1, "nack for %s differs from the one for %s in %zu bytes",
			      dsts[i], dsts[0], diff);
	}
	EXPECT_QUIET(safe);
	EXPECT_QUIET(c);
	tclient_free(c);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* A client may send only to data-safes of its own practice. */
START_TEST(test_client_to_client)
{
	harness_t *h = started("c2c");
	tclient_t *c1, *c2;

	ENDPOINT(c1, h, "practice-a", "client-1");
	ENDPOINT(c2, h, "practice-a", "client-2");
	SEND(c1, CLIENT_A2, 1, 1, 100, TAG(1, 1, 0));
	EXPECT_NACK(c1, 1, 1, R_NO_ROUTE);
	EXPECT_QUIET(c2);
	tclient_free(c1);
	tclient_free(c2);
	harness_free(h);
}
END_TEST

/* A data-safe reaches a client only after that client wrote to it. */
START_TEST(test_safe_to_client_after_contact)
{
	harness_t *h = started("s2c");
	tclient_t *safe, *c2, *b1;

	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(c2, h, "practice-a", "client-2");
	ENDPOINT(b1, h, "practice-b", "client-1");

	SEND(safe, CLIENT_A2, 2, 1, 100, TAG(2, 1, 0));
	EXPECT_NACK(safe, 2, 1, R_NO_ROUTE);
	EXPECT_QUIET(c2);

	/* A client of another practice that tried to write (and was refused)
	 * has not written to this data-safe. */
	SEND(b1, SAFE_A, 2, 1, 100, TAG(2, 1, 1));
	EXPECT_NACK(b1, 2, 1, R_NO_ROUTE);
	SEND(safe, CLIENT_B1, 2, 2, 100, TAG(2, 2, 0));
	EXPECT_NACK(safe, 2, 2, R_NO_ROUTE);
	EXPECT_QUIET(b1);

	SEND(c2, SAFE_A, 2, 1, 100, TAG(2, 1, 2));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A2, 2, 1, 100, TAG(2, 1, 2));
	SEND(safe, CLIENT_A2, 2, 3, 100, TAG(2, 3, 0));
	EXPECT_DATA(c2, WAIT_MS, SAFE_A, 2, 3, 100, TAG(2, 3, 0));
	EXPECT_QUIET(safe);
	tclient_free(safe);
	tclient_free(c2);
	tclient_free(b1);
	harness_free(h);
}
END_TEST

Suite *route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("route");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_welcome);
	tcase_add_test(tc, test_welcome_limit_from_config);
	tcase_add_test(tc, test_hello_required);
	tcase_add_test(tc, test_exchange);
	tcase_add_test(tc, test_no_route_identical);
	tcase_add_test(tc, test_client_to_client);
	tcase_add_test(tc, test_safe_to_client_after_contact);
	suite_add_tcase(s, tc);
	return s;
}
