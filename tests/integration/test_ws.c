/* WebSocket transport (DESIGN.md, "Layers" and "Frames"): subprotocol
 * "zkrelay.v1" only, binary messages only, no extensions, a message size
 * limit enforced as pieces arrive, and strict decoding of every message. */
#include <stdlib.h>

#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define CLIENT_A "practice-a/client-1"
#define LIMIT 66560u /* [limits] max_message_bytes default */

static harness_t *started(const char *name)
{
	harness_t *h = harness_new(name);

	START(h);
	return h;
}

/* Reads until the connection ends; it must end with WebSocket close code
 * ws_code. A zkrelay Close frame before it is allowed unless required, and
 * must carry reason. */
static void expect_ws_close(tclient_t *c, int ws_code, int reason, int frame_required)
{
	const Zkrelay__V1__Frame *f;
	int seen = 0, rc;

	while ((rc = tclient_next_frame(c, WAIT_MS, &f)) == 0) {
		ck_assert_msg(f->body_case == F_CLOSE, "got %s before the close",
			      tclient_frame_name(f));
		ck_assert_msg(f->close->reason == (Zkrelay__V1__Reason)reason,
			      "close reason %d, expected %d", (int)f->close->reason, reason);
		seen = 1;
	}
	ck_assert_msg(rc == TCLIENT_ECLOSED, "connection not closed: %d (%s)", rc,
		      tclient_error(c));
	ck_assert_msg(!frame_required || seen, "no Close frame before the WebSocket close");
	ck_assert_msg(tclient_close_code(c) == ws_code, "WebSocket close code %d, expected %d",
		      tclient_close_code(c), ws_code);
}

/* --- subprotocol ------------------------------------------------------- */

static const char *const bad_subprotocols[] = {
	NULL, /* header missing */
	"zkrelay.v2",
	"zkrelay.v1x",
	"ZKRELAY.V1",
	"chat",
};

START_TEST(test_subprotocol_refused)
{
	const char *proto = bad_subprotocols[_i];
	harness_t *h = started("subproto");
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, "practice-a", "client-1");
	o.subprotocol = proto;
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc == TCLIENT_EUPGRADE || rc == TCLIENT_ECLOSED,
		      "subprotocol %s: expected the upgrade refused, got %d (%s)",
		      proto ? proto : "(none)", rc, tclient_error(c));
	ck_assert_msg(tclient_http_status(c) != 101, "subprotocol %s: 101 (%s)",
		      proto ? proto : "(none)", tclient_error(c));
	tclient_free(c);

	/* The right one on the same relay works. */
	ENDPOINT(c, h, "practice-a", "client-1");
	tclient_free(c);
	harness_free(h);
}
END_TEST

/* --- extensions ---------------------------------------------------------- */

START_TEST(test_no_extensions)
{
	harness_t *h = started("noext");
	tclient_opts_t o;
	tclient_t *c, *safe;
	int rc;

	ENDPOINT(safe, h, "practice-a", "safe-1");
	harness_client_opts(h, &o, "practice-a", "client-1");
	o.extra_headers = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
			  "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n";
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc == 0, "upgrade with an extension offer: %d (%s)", rc, tclient_error(c));
	ck_assert_int_eq(tclient_http_status(c), 101);
	ck_assert_msg(tclient_response_header(c, "Sec-WebSocket-Extensions") == NULL,
		      "extension accepted: %s", tclient_response_header(c, "Sec-WebSocket-Extensions"));
	rc = tclient_hello(c, harness_token(h, "practice-a", "client-1"), NULL);
	ck_assert_msg(rc == 0, "hello: %d (%s)", rc, tclient_error(c));
	/* Uncompressed frames flow both ways. */
	SEND(c, SAFE_A, 1, 1, 1000, TAG(1, 1, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 1, 1, 1000, TAG(1, 1, 0));
	SEND(safe, CLIENT_A, 1, 2, 1000, TAG(1, 2, 0));
	EXPECT_DATA(c, WAIT_MS, SAFE_A, 1, 2, 1000, TAG(1, 2, 0));
	tclient_free(c);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* --- text messages ----------------------------------------------------- */

START_TEST(test_text_message)
{
	harness_t *h = started("text");
	tclient_t *c, *safe;
	int rc;

	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(c, h, "practice-a", "client-1");
	rc = tclient_send_msg(c, TCLIENT_OP_TEXT, "{\"dst\":\"practice-a/safe-1\"}", 27);
	ck_assert_int_eq(rc, 0);
	expect_ws_close(c, WS_UNSUPPORTED_DATA, R_TEXT, 0);
	EXPECT_QUIET(safe);
	tclient_free(c);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* --- message size -------------------------------------------------------- */

/* Payload length of a second Data frame such that the Batch of a
 * 65535-byte frame and it is exactly total bytes long; 0 if none fits. */
static size_t second_len_for(size_t total, uint8_t *p0, uint8_t *p1)
{
	size_t x;

	for (x = 1; x < 4096; x++) {
		tclient_data_t d[2] = {
			{ .dst = SAFE_A, .stream = 1, .seq = 1, .payload = p0, .len = 65535 },
			{ .dst = SAFE_A, .stream = 1, .seq = 2, .payload = p1, .len = x },
		};
		size_t len;
		uint8_t *b = tclient_pack_batch(d, 2, &len);

		free(b);
		if (len == total)
			return x;
		if (len > total)
			return 0;
	}
	return 0;
}

START_TEST(test_size_limit_edge)
{
	harness_t *h = started("sizeedge");
	static uint8_t p0[65535], p1[4096];
	tclient_t *c, *safe;
	tclient_data_t d[2];
	size_t x, len;
	uint8_t *msg;
	int rc;

	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(c, h, "practice-a", "client-1");
	harness_payload(p0, sizeof(p0), TAG(1, 1, 0));

	/* Exactly at the limit: delivered. */
	x = second_len_for(LIMIT, p0, p1);
	ck_assert_msg(x > 0, "no batch of exactly %u bytes", LIMIT);
	harness_payload(p1, x, TAG(1, 2, 0));
	d[0] = (tclient_data_t){ .dst = SAFE_A, .stream = 1, .seq = 1, .payload = p0, .len = 65535 };
	d[1] = (tclient_data_t){ .dst = SAFE_A, .stream = 1, .seq = 2, .payload = p1, .len = x };
	msg = tclient_pack_batch(d, 2, &len);
	ck_assert_uint_eq(len, LIMIT);
	rc = tclient_send_msg(c, TCLIENT_OP_BINARY, msg, len);
	free(msg);
	ck_assert_int_eq(rc, 0);
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 1, 1, 65535, TAG(1, 1, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 1, 2, x, TAG(1, 2, 0));

	/* One byte more: refused with 1009, nothing of it delivered. */
	x = second_len_for(LIMIT + 1, p0, p1);
	ck_assert_msg(x > 0, "no batch of exactly %u bytes", LIMIT + 1);
	d[0].seq = 3;
	d[1].seq = 4;
	d[1].len = x;
	msg = tclient_pack_batch(d, 2, &len);
	ck_assert_uint_eq(len, LIMIT + 1);
	rc = tclient_send_msg(c, TCLIENT_OP_BINARY, msg, len);
	free(msg);
	expect_ws_close(c, WS_TOO_BIG, ZKRELAY__V1__REASON__REASON_MESSAGE_TOO_LARGE, 0);
	EXPECT_QUIET(safe);
	tclient_free(c);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* A header that declares a length above the limit, followed by a small
 * part of the body: the relay must refuse on the first pieces, without
 * waiting for (or buffering) the rest. The part is a few KiB because
 * libwebsockets hands a frame's payload over in pieces of its receive
 * buffer size, not byte by byte. */
static const uint64_t declared[] = { LIMIT + 1, 1ull << 31, 1ull << 62 };

START_TEST(test_declared_length)
{
	harness_t *h = started("declared");
	tclient_t *c;
	static uint8_t piece[16384];
	int64_t t0;
	int rc;

	ENDPOINT(c, h, "practice-a", "client-1");
	harness_payload(piece, sizeof(piece), 99);
	t0 = harness_now_ms();
	rc = tclient_send_frame_header(c, TCLIENT_OP_BINARY, 1, declared[_i]);
	ck_assert_int_eq(rc, 0);
	/* May fail once the relay has closed; the close code says why. */
	(void)tclient_send_raw(c, piece, sizeof(piece));
	expect_ws_close(c, WS_TOO_BIG, ZKRELAY__V1__REASON__REASON_MESSAGE_TOO_LARGE, 0);
	ck_assert_msg(harness_now_ms() - t0 < 2000, "refusal took %lld ms",
		      (long long)(harness_now_ms() - t0));
	tclient_free(c);
	harness_free(h);
}
END_TEST

/* Fragments of 16 KiB, none final: the sum passes the limit on the fifth. */
START_TEST(test_fragmented_oversize)
{
	harness_t *h = started("fragments");
	static uint8_t piece[16384];
	tclient_t *c, *safe;
	int i;

	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(c, h, "practice-a", "client-1");
	harness_payload(piece, sizeof(piece), 7);
	ck_assert_int_eq(tclient_send_frame(c, TCLIENT_OP_BINARY, 0, piece, sizeof(piece)), 0);
	/* Writes may fail once the relay has closed; the close code says why. */
	for (i = 1; i < 8; i++)
		if (tclient_send_frame(c, TCLIENT_OP_CONT, 0, piece, sizeof(piece)) < 0)
			break;
	expect_ws_close(c, WS_TOO_BIG, ZKRELAY__V1__REASON__REASON_MESSAGE_TOO_LARGE, 0);
	EXPECT_QUIET(safe);
	tclient_free(c);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* --- TLS records ---------------------------------------------------------- */

/* Several messages, each in its own TLS record, reach the relay in one TCP
 * segment: every one of them must be read and routed, not only the first
 * (records the TLS layer has taken off the socket but not yet decrypted
 * raise no further readiness event). */
START_TEST(test_records_together)
{
	enum { ROUNDS = 10, PER_ROUND = 3, STREAM = 8 };
	harness_t *h = started("records");
	tclient_t *c, *safe;
	int r, k;

	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(c, h, "practice-a", "client-1");
	for (r = 0; r < ROUNDS; r++) {
		ck_assert_int_eq(tclient_cork(c, 1), 0);
		for (k = 0; k < PER_ROUND; k++)
			SEND(c, SAFE_A, STREAM, (uint64_t)(r * PER_ROUND + k), 200,
			     TAG(STREAM, r * PER_ROUND + k, 0));
		ck_assert_int_eq(tclient_cork(c, 0), 0);
		for (k = 0; k < PER_ROUND; k++)
			EXPECT_DATA(safe, 2000, CLIENT_A, STREAM, (uint64_t)(r * PER_ROUND + k), 200,
				    TAG(STREAM, r * PER_ROUND + k, 0));
	}
	tclient_free(c);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* --- strict decoding ------------------------------------------------------ */

static size_t pb_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			p[n] |= 0x80;
		n++;
	} while (v);
	return n;
}

/* Appends field (wire type 2) holding body. */
static size_t pb_bytes_field(uint8_t *p, unsigned field, const uint8_t *body, size_t n)
{
	size_t k = pb_varint(p, (uint64_t)field << 3 | 2);

	k += pb_varint(p + k, n);
	memcpy(p + k, body, n);
	return k + n;
}

static size_t pack_data(uint8_t *out, uint64_t seq)
{
	Zkrelay__V1__Data d = ZKRELAY__V1__DATA__INIT;
	static uint8_t payload[100];

	harness_payload(payload, sizeof(payload), TAG(3, seq, 0));
	d.dst = (char *)SAFE_A;
	d.stream = 3;
	d.seq = seq;
	d.payload.data = payload;
	d.payload.len = sizeof(payload);
	return zkrelay__v1__data__pack(&d, out);
}

/* A valid Data frame to safe-1, then a bad one, in one message:
 *   0: unknown field 9 inside Data
 *   1: unknown field 8 inside Frame
 *   2: unknown field 2 inside Batch
 *   3: Data with the payload field twice (repeated singular field) */
static size_t malformed_message(uint8_t *msg, int variant)
{
	uint8_t data[256], frame[512], tmp[512];
	size_t n = 0, dl, fl;

	dl = pack_data(data, 1);
	fl = pb_bytes_field(frame, 7, data, dl);
	n += pb_bytes_field(msg + n, 1, frame, fl);

	dl = pack_data(data, 2);
	switch (variant) {
	case 0:
		data[dl++] = 9 << 3 | 0;
		data[dl++] = 1;
		fl = pb_bytes_field(frame, 7, data, dl);
		n += pb_bytes_field(msg + n, 1, frame, fl);
		break;
	case 1:
		fl = pb_bytes_field(frame, 7, data, dl);
		fl += pb_bytes_field(frame + fl, 8, (const uint8_t *)"x", 1);
		n += pb_bytes_field(msg + n, 1, frame, fl);
		break;
	case 2:
		msg[n++] = 2 << 3 | 0;
		msg[n++] = 1;
		break;
	default:
		harness_payload(tmp, 16, 5);
		dl += pb_bytes_field(data + dl, 5, tmp, 16);
		fl = pb_bytes_field(frame, 7, data, dl);
		n += pb_bytes_field(msg + n, 1, frame, fl);
		break;
	}
	return n;
}

START_TEST(test_malformed)
{
	harness_t *h = started("malformed");
	tclient_t *c, *safe;
	uint8_t msg[2048];
	size_t n = malformed_message(msg, _i);

	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(c, h, "practice-a", "client-1");
	ck_assert_int_eq(tclient_send_msg(c, TCLIENT_OP_BINARY, msg, n), 0);
	expect_ws_close(c, WS_POLICY, R_MALFORMED, 1);
	/* Not even the valid frame before the bad one was routed. */
	EXPECT_QUIET(safe);
	tclient_free(c);

	/* The relay goes on serving. */
	ENDPOINT(c, h, "practice-a", "client-1");
	SEND(c, SAFE_A, 3, 10, 100, TAG(3, 10, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 3, 10, 100, TAG(3, 10, 0));
	tclient_free(c);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

Suite *ws_suite(void)
{
	Suite *s = suite_create("ws");
	TCase *tc = tcase_create("upgrade");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_subprotocol_refused, 0,
			    (int)(sizeof(bad_subprotocols) / sizeof(bad_subprotocols[0])));
	tcase_add_test(tc, test_no_extensions);
	suite_add_tcase(s, tc);

	tc = tcase_create("messages");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_text_message);
	tcase_add_test(tc, test_size_limit_edge);
	tcase_add_loop_test(tc, test_declared_length, 0,
			    (int)(sizeof(declared) / sizeof(declared[0])));
	tcase_add_test(tc, test_fragmented_oversize);
	tcase_add_test(tc, test_records_together);
	tcase_add_loop_test(tc, test_malformed, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}
