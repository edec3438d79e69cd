/* Shared pieces of the integration test suites: suite constructors and
 * assertion helpers on top of the harness and the test client. Only the
 * test_*.c files include this (it needs the Check framework). */
#ifndef ZK_ITEST_H
#define ZK_ITEST_H

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "tclient.h"

Suite *tls_suite(void);
Suite *ws_suite(void);
Suite *route_suite(void);
Suite *delivery_suite(void);
Suite *lifecycle_suite(void);
Suite *limits_suite(void);
Suite *timeouts_suite(void);
Suite *caps_suite(void);
Suite *reload_suite(void);
Suite *tokens_suite(void);
Suite *access_reload_suite(void);
Suite *ops_suite(void);
Suite *safes_suite(void);
Suite *ops_tls_suite(void);
Suite *plaintext_suite(void);
Suite *downgrade_suite(void);
Suite *abuse_suite(void);
Suite *link_suite(void);
Suite *e2e_suite(void);
Suite *sdk_suite(void);
Suite *ratelimit_suite(void);
Suite *upgrade_suite(void);
Suite *privileges_suite(void);

/* test_util.c: a client connected (TLS, WebSocket) as the endpoint,
 * before hello. */
tclient_t *itest_open_conn(harness_t *h, const char *practice, const char *endpoint);
/* test_util.c: a client with only its TCP connection made. */
tclient_t *itest_tcp_only(harness_t *h);
/* Connects and says hello as practice/endpoint, retrying for up to
 * timeout_ms while the relay may still count a connection just closed. */
tclient_t *itest_endpoint_retry(harness_t *h, const char *practice, const char *endpoint,
				int timeout_ms);

/* test_util.c: starts the relay with its ops listener on a free port and
 * returns that port; a /metrics scrape (malloc'd, headers included); the
 * value of one sample in it (-1: absent). */
int itest_start_with_ops(harness_t *h);
char *itest_scrape(int port);
double itest_sample(const char *scrape, const char *series);

/* Frame and reason constants, shortened. */
#define F_WELCOME ZKRELAY__V1__FRAME__BODY_WELCOME
#define F_NACK ZKRELAY__V1__FRAME__BODY_NACK
#define F_CLOSE ZKRELAY__V1__FRAME__BODY_CLOSE
#define F_DATA ZKRELAY__V1__FRAME__BODY_DATA
#define R_NO_ROUTE ZKRELAY__V1__REASON__REASON_NO_ROUTE
#define R_MALFORMED ZKRELAY__V1__REASON__REASON_MALFORMED_FRAME
#define R_HELLO_REQUIRED ZKRELAY__V1__REASON__REASON_HELLO_REQUIRED
#define R_UNDELIVERED ZKRELAY__V1__REASON__REASON_UNDELIVERED
#define R_GOING_AWAY ZKRELAY__V1__REASON__REASON_GOING_AWAY
#define R_REPLACED ZKRELAY__V1__REASON__REASON_REPLACED
#define R_TEXT ZKRELAY__V1__REASON__REASON_TEXT_MESSAGE

/* WebSocket close codes (RFC 6455 section 7.4.1). */
#define WS_POLICY 1008
#define WS_UNSUPPORTED_DATA 1003
#define WS_TOO_BIG 1009

/* Payload tag: what harness_payload() derives the bytes from. */
#define TAG(stream, seq, salt) (((uint64_t)(stream) << 40) ^ (uint64_t)(seq) ^ ((uint64_t)(salt) << 56))

/* How long a test waits for something that should come at once. */
#define WAIT_MS 5000
/* How long a test waits to be sure nothing comes. */
#define QUIET_MS 400

#define START(h)                                                                      \
	do {                                                                          \
		ck_assert_msg((h) != NULL, "out of memory");                          \
		ck_assert_msg(harness_start(h) == 0, "relay start: %s", harness_error(h)); \
	} while (0)

/* Connects as an endpoint and says hello; fails the test otherwise. */
#define ENDPOINT(var, h, practice, endpoint)                                          \
	do {                                                                          \
		int rc_;                                                              \
		(var) = harness_endpoint((h), (practice), (endpoint), &rc_);          \
		ck_assert_msg(rc_ == 0, "%s/%s: connect and hello: %d (%s)", (practice), \
			      (endpoint), rc_, (var) ? tclient_error(var) : "no memory"); \
	} while (0)

/* The next frame into f (const Zkrelay__V1__Frame *), which must exist. */
#define NEXT(c, f, timeout_ms)                                                        \
	do {                                                                          \
		int rc_ = tclient_next_frame((c), (timeout_ms), &(f));                \
		ck_assert_msg(rc_ == 0, "next frame: %d (%s)", rc_, tclient_error(c)); \
	} while (0)

#define EXPECT_NACK(c, stream_, seq_, reason_)                                        \
	do {                                                                          \
		const Zkrelay__V1__Frame *f_;                                         \
		NEXT((c), f_, WAIT_MS);                                               \
		ck_assert_msg(f_->body_case == F_NACK, "expected nack, got %s",       \
			      tclient_frame_name(f_));                                \
		ck_assert_uint_eq(f_->nack->stream, (stream_));                       \
		ck_assert_uint_eq(f_->nack->seq, (seq_));                             \
		ck_assert_int_eq(f_->nack->reason, (reason_));                        \
	} while (0)

#define EXPECT_CLOSE_FRAME(c, reason_)                                                \
	do {                                                                          \
		const Zkrelay__V1__Frame *f_;                                         \
		NEXT((c), f_, WAIT_MS);                                               \
		ck_assert_msg(f_->body_case == F_CLOSE, "expected close, got %s",     \
			      tclient_frame_name(f_));                                \
		ck_assert_int_eq(f_->close->reason, (reason_));                       \
	} while (0)

/* The connection must end (close frame or end of stream) within WAIT_MS,
 * with no further zkrelay frame before it. */
#define EXPECT_ENDED(c)                                                               \
	do {                                                                          \
		const Zkrelay__V1__Frame *f_ = NULL;                                  \
		int rc_ = tclient_next_frame((c), WAIT_MS, &f_);                      \
		ck_assert_msg(rc_ == TCLIENT_ECLOSED, "connection not ended: %d %s (%s)", \
			      rc_, rc_ == 0 ? tclient_frame_name(f_) : "",            \
			      tclient_error(c));                                      \
	} while (0)

/* Nothing arrives for QUIET_MS. */
#define EXPECT_QUIET(c)                                                               \
	do {                                                                          \
		const Zkrelay__V1__Frame *f_ = NULL;                                  \
		int rc_ = tclient_next_frame((c), QUIET_MS, &f_);                     \
		ck_assert_msg(rc_ == TCLIENT_ETIMEOUT, "expected nothing, got %d %s (%s)", \
			      rc_, rc_ == 0 ? tclient_frame_name(f_) : "",            \
			      tclient_error(c));                                      \
	} while (0)

/* Checks that f is Data from src on (stream, seq) carrying the payload of
 * harness_payload(len, tag), with dst removed. NULL or what is wrong. */
static inline const char *itest_check_data(const Zkrelay__V1__Frame *f, const char *src,
					   uint32_t stream, uint64_t seq, size_t len,
					   uint64_t tag, char *msg, size_t cap)
{
	const Zkrelay__V1__Data *d;

	if (f->body_case != F_DATA) {
		if (f->body_case == F_NACK)
			snprintf(msg, cap, "seq %llu: nack (seq %llu, reason %d) instead of data",
				 (unsigned long long)seq, (unsigned long long)f->nack->seq,
				 (int)f->nack->reason);
		else if (f->body_case == F_CLOSE)
			snprintf(msg, cap, "seq %llu: close (reason %d) instead of data",
				 (unsigned long long)seq, (int)f->close->reason);
		else
			snprintf(msg, cap, "seq %llu: %s instead of data",
				 (unsigned long long)seq, tclient_frame_name(f));
		return msg;
	}
	d = f->data;
	if (d->seq != seq || d->stream != stream)
		snprintf(msg, cap, "got stream %u seq %llu, expected stream %u seq %llu",
			 d->stream, (unsigned long long)d->seq, stream, (unsigned long long)seq);
	else if (strcmp(d->src, src) != 0)
		snprintf(msg, cap, "seq %llu: src \"%s\", expected \"%s\"",
			 (unsigned long long)seq, d->src, src);
	else if (d->dst[0] != '\0')
		snprintf(msg, cap, "seq %llu: dst \"%s\" not removed", (unsigned long long)seq,
			 d->dst);
	else if (d->payload.len != len || !harness_payload_ok(d->payload.data, len, tag))
		snprintf(msg, cap, "seq %llu: payload differs (%zu bytes, expected %zu)",
			 (unsigned long long)seq, d->payload.len, len);
	else
		return NULL;
	return msg;
}

#define EXPECT_DATA(c, timeout_ms, src, stream, seq, len, tag)                        \
	do {                                                                          \
		const Zkrelay__V1__Frame *fd_;                                        \
		char m_[256];                                                         \
		const char *e_;                                                       \
		NEXT((c), fd_, (timeout_ms));                                         \
		e_ = itest_check_data(fd_, (src), (stream), (seq), (len), (tag), m_,  \
				      sizeof(m_));                                    \
		ck_assert_msg(e_ == NULL, "%s", e_);                                  \
	} while (0)

/* Sends one Data frame carrying harness_payload(len, tag). */
static inline int itest_send(tclient_t *c, const char *dst, uint32_t stream, uint64_t seq,
			     size_t len, uint64_t tag)
{
	uint8_t buf[65536];

	if (len > sizeof(buf))
		return TCLIENT_EINVAL;
	harness_payload(buf, len, tag);
	return tclient_send_data(c, dst, stream, seq, buf, len);
}

/* How much the kernel may buffer on the relay's side of one connection:
 * its socket send buffer grows up to tcp_wmem's maximum. A test that needs
 * frames to stay in the relay's own queue sends more than this. */
static inline size_t itest_kernel_sndbuf_max(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
	unsigned long lo, def, max;
	size_t v = (size_t)4 << 20;

	if (f != NULL) {
		if (fscanf(f, "%lu %lu %lu", &lo, &def, &max) == 3)
			v = max;
		fclose(f);
	}
	return v > ((size_t)64 << 20) ? (size_t)64 << 20 : v;
}

#define SEND(c, dst, stream, seq, len, tag)                                           \
	do {                                                                          \
		int rc_ = itest_send((c), (dst), (stream), (seq), (len), (tag));      \
		ck_assert_msg(rc_ == 0, "send: %d (%s)", rc_, tclient_error(c));      \
	} while (0)

#endif
