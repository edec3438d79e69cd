/* ws.c, the client side of RFC 6455: the opening handshake both ways,
 * masked client frames, and the strict incremental parser of server
 * frames, fed whole, byte by byte and in random pieces. Negative tests
 * stand beside each rule. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "ws.h"
#include "zkerr.h"

#define MAX_EVENTS 16

/* ---- Helpers ---------------------------------------------------------- */

/* An unmasked server frame into out; returns its length. */
static size_t server_frame(uint8_t *out, int b0, uint64_t len, const uint8_t *p, int len_form)
{
	size_t h = 2;

	out[0] = (uint8_t)b0;
	if (len_form == 7 || (len_form == 0 && len < 126)) {
		out[1] = (uint8_t)len;
	} else if (len_form == 16 || (len_form == 0 && len <= 0xffff)) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		h = 4;
	} else {
		out[1] = 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		h = 10;
	}
	if (p != NULL && len > 0)
		memcpy(out + h, p, (size_t)len);
	return h + (p != NULL ? (size_t)len : 0);
}

typedef struct {
	int n;
	ws_event_type_t type[MAX_EVENTS];
	uint16_t code[MAX_EVENTS];
	size_t len[MAX_EVENTS];
	uint8_t *data[MAX_EVENTS];
	int err;
} events_t;

static void events_free(events_t *e)
{
	for (int i = 0; i < e->n; i++)
		free(e->data[i]);
}

static void record(events_t *e, const ws_event_t *ev)
{
	ck_assert_int_lt(e->n, MAX_EVENTS);
	e->type[e->n] = ev->type;
	e->code[e->n] = ev->code;
	e->len[e->n] = ev->n;
	e->data[e->n] = malloc(ev->n + 1);
	ck_assert_ptr_nonnull(e->data[e->n]);
	if (ev->n > 0)
		memcpy(e->data[e->n], ev->p, ev->n);
	e->n++;
}

/* Feeds in[0..n) in pieces of at most step bytes (0: random sizes), each
 * piece from its own heap copy of the exact size. */
static void feed(const uint8_t *in, size_t n, size_t max_msg, size_t step, events_t *e)
{
	ws_parser_t ps;
	size_t pos = 0;

	memset(e, 0, sizeof(*e));
	ws_parser_init(&ps, max_msg);
	while (pos < n && e->err == 0) {
		size_t k = step ? step : 1 + (size_t)rand() % 300;
		if (k > n - pos)
			k = n - pos;
		uint8_t *piece = malloc(k);
		ck_assert_ptr_nonnull(piece);
		memcpy(piece, in + pos, k);
		size_t off = 0;
		while (off < k) {
			ws_event_t ev;
			size_t used = 0;
			int rc = ws_parse(&ps, piece + off, k - off, &used, &ev);
			if (rc < 0) {
				e->err = rc;
				break;
			}
			ck_assert_uint_le(used, k - off);
			off += used;
			if (rc == 1)
				record(e, &ev);
			else
				ck_assert_uint_eq(off, k);
		}
		free(piece);
		pos += k;
	}
	ws_parser_free(&ps);
}

/* Feeds in every way (whole, bytewise, random) and checks they agree. */
static void feed_all(const uint8_t *in, size_t n, size_t max_msg, events_t *e)
{
	events_t b, r;

	feed(in, n, max_msg, n ? n : 1, e);
	feed(in, n, max_msg, 1, &b);
	feed(in, n, max_msg, 0, &r);
	ck_assert_int_eq(b.err, e->err);
	ck_assert_int_eq(r.err, e->err);
	ck_assert_int_eq(b.n, e->n);
	ck_assert_int_eq(r.n, e->n);
	for (int i = 0; i < e->n; i++) {
		ck_assert_int_eq(b.type[i], e->type[i]);
		ck_assert_uint_eq(b.len[i], e->len[i]);
		ck_assert(memcmp(b.data[i], e->data[i], e->len[i]) == 0);
		ck_assert(memcmp(r.data[i], e->data[i], e->len[i]) == 0);
	}
	events_free(&b);
	events_free(&r);
}

static void expect_error(const uint8_t *in, size_t n, size_t max_msg, int err)
{
	events_t e;

	feed_all(in, n, max_msg, &e);
	ck_assert_int_eq(e.err, err);
	events_free(&e);
}

/* Unmasks a client frame: checks FIN, mask bit, length form; returns
 * the opcode and the payload into out. */
static int client_unframe(const uint8_t *f, size_t flen, uint8_t *out, size_t *n)
{
	size_t h = 2;
	uint64_t len = f[1] & 0x7f;

	ck_assert_int_eq(f[0] & 0xf0, 0x80);
	ck_assert_int_eq(f[1] & 0x80, 0x80);
	if (len == 126) {
		len = (uint64_t)f[2] << 8 | f[3];
		ck_assert_uint_ge(len, 126);
		h = 4;
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | f[2 + i];
		ck_assert_uint_gt(len, 0xffff);
		h = 10;
	}
	ck_assert_uint_eq(h + 4 + len, flen);
	for (size_t i = 0; i < len; i++)
		out[i] = f[h + 4 + i] ^ f[h + (i & 3)];
	*n = (size_t)len;
	return f[0] & 0x0f;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31 + seed);
}

/* ---- Handshake -------------------------------------------------------- */

START_TEST(test_accept_rfc_example)
{
	char out[WS_ACCEPT_LEN + 1];

	/* RFC 6455 section 1.3. */
	ck_assert_int_eq(ws_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
	ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	ck_assert_int_eq(ws_accept("short", out), -ZK_EINVAL);
}
END_TEST

static const char *header_value(const char *req, const char *name)
{
	static char v[256];
	const char *p = strstr(req, name);

	if (p == NULL)
		return NULL;
	p += strlen(name);
	size_t n = strcspn(p, "\r");
	snprintf(v, sizeof(v), "%.*s", (int)n, p);
	return v;
}

START_TEST(test_request)
{
	ws_handshake_t hs, hs2;
	char req[1024], req2[1024], acc[WS_ACCEPT_LEN + 1];
	unsigned char raw[32];
	size_t len, len2;

	ck_assert_int_eq(ws_request(&hs, "relay.example", 8443, "/", req, sizeof(req), &len), 0);
	ck_assert_uint_eq(len, strlen(req));
	ck_assert(strncmp(req, "GET / HTTP/1.1\r\n", 16) == 0);
	ck_assert_str_eq(header_value(req, "\r\nHost: "), "relay.example:8443");
	ck_assert_str_eq(header_value(req, "\r\nUpgrade: "), "websocket");
	ck_assert_str_eq(header_value(req, "\r\nConnection: "), "Upgrade");
	ck_assert_str_eq(header_value(req, "\r\nSec-WebSocket-Version: "), "13");
	ck_assert_str_eq(header_value(req, "\r\nSec-WebSocket-Protocol: "), "zkrelay.v1");
	ck_assert_ptr_null(strstr(req, "Extensions"));
	ck_assert_str_eq(header_value(req, "\r\nSec-WebSocket-Key: "), hs.key);
	ck_assert(strcmp(req + len - 4, "\r\n\r\n") == 0);
	/* The key is 16 random bytes in base64; the expected accept matches. */
	ck_assert_uint_eq(strlen(hs.key), WS_KEY_LEN);
	ck_assert_int_eq(EVP_DecodeBlock(raw, (const unsigned char *)hs.key, WS_KEY_LEN), 18);
	ck_assert_int_eq(ws_accept(hs.key, acc), 0);
	ck_assert_str_eq(acc, hs.accept);
	/* A fresh key each time. */
	ck_assert_int_eq(ws_request(&hs2, "relay.example", 443, "/", req2, sizeof(req2), &len2), 0);
	ck_assert_str_ne(hs.key, hs2.key);
	ck_assert_str_eq(header_value(req2, "\r\nHost: "), "relay.example");
	ck_assert_int_eq(ws_request(&hs2, "::1", 9000, "/", req2, sizeof(req2), &len2), 0);
	ck_assert_str_eq(header_value(req2, "\r\nHost: "), "[::1]:9000");
}
END_TEST

START_TEST(test_request_refused)
{
	ws_handshake_t hs;
	char req[1024];
	size_t len = 7;

	ck_assert_int_eq(ws_request(&hs, "a\r\nX: y", 443, "/", req, sizeof(req), &len), -ZK_EINVAL);
	ck_assert_int_eq(ws_request(&hs, "a b", 443, "/", req, sizeof(req), &len), -ZK_EINVAL);
	ck_assert_int_eq(ws_request(&hs, "", 443, "/", req, sizeof(req), &len), -ZK_EINVAL);
	ck_assert_int_eq(ws_request(&hs, "h", 443, "x", req, sizeof(req), &len), -ZK_EINVAL);
	ck_assert_int_eq(ws_request(&hs, "h", 443, "/a b", req, sizeof(req), &len), -ZK_EINVAL);
	ck_assert_int_eq(ws_request(&hs, "h", 0, "/", req, sizeof(req), &len), -ZK_EINVAL);
	ck_assert_int_eq(ws_request(&hs, "h", 70000, "/", req, sizeof(req), &len), -ZK_EINVAL);
	ck_assert_int_eq(ws_request(&hs, "h", 443, "/", req, 40, &len), -ZK_EINVAL);
	ck_assert_uint_eq(len, 7);
}
END_TEST

/* A 101 for hs with the given header lines (after the status line). */
static size_t response(const ws_handshake_t *hs, char *out, size_t cap, const char *status,
		       const char *extra, int accept, int protocol)
{
	int n = snprintf(out, cap,
			 "%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s%s%s%s%s%s\r\n",
			 status, accept ? "Sec-WebSocket-Accept: " : "", accept ? hs->accept : "",
			 accept ? "\r\n" : "",
			 protocol ? "Sec-WebSocket-Protocol: zkrelay.v1\r\n" : "", extra, "");
	ck_assert(n > 0 && (size_t)n < cap);
	return (size_t)n;
}

static int judge(const ws_handshake_t *hs, const char *r, size_t n, size_t *used)
{
	uint8_t *copy = malloc(n ? n : 1);
	int rc;

	ck_assert_ptr_nonnull(copy);
	memcpy(copy, r, n);
	rc = ws_response(hs, copy, n, used);
	free(copy);
	return rc;
}

START_TEST(test_response_ok)
{
	ws_handshake_t hs;
	char req[1024], r[2048];
	size_t len, n, used = 0;

	ck_assert_int_eq(ws_request(&hs, "localhost", 8443, "/", req, sizeof(req), &len), 0);
	n = response(&hs, r, sizeof(r), "HTTP/1.1 101 Switching Protocols", "", 1, 1);
	/* Every proper prefix asks for more. */
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(judge(&hs, r, i, &used), 0);
	ck_assert_int_eq(judge(&hs, r, n, &used), 1);
	ck_assert_uint_eq(used, n);
	/* Frame bytes after the head are not part of it. */
	memcpy(r + n, "\x82\x01x", 3);
	used = 0;
	ck_assert_int_eq(judge(&hs, r, n + 3, &used), 1);
	ck_assert_uint_eq(used, n);
	/* Names in any case, lists, optional whitespace, a bare status. */
	n = (size_t)snprintf(r, sizeof(r),
			     "HTTP/1.1 101\r\nSERVER: x\r\nupgrade:WebSocket\r\n"
			     "connection: keep-alive, upgrade\r\nsec-websocket-accept:  %s \r\n"
			     "SEC-WEBSOCKET-PROTOCOL:\tzkrelay.v1\r\n\r\n",
			     hs.accept);
	ck_assert_int_eq(judge(&hs, r, n, &used), 1);
}
END_TEST

START_TEST(test_response_refused)
{
	ws_handshake_t hs;
	char req[1024], r[2048], wrong[128];
	size_t len, n, used = 0;

	ck_assert_int_eq(ws_request(&hs, "localhost", 8443, "/", req, sizeof(req), &len), 0);
#define REFUSED(status, extra, acc, proto)                                             \
	do {                                                                           \
		n = response(&hs, r, sizeof(r), (status), (extra), (acc), (proto));    \
		ck_assert_msg(judge(&hs, r, n, &used) == -ZK_EUPGRADE, "accepted: %s", r); \
	} while (0)
	REFUSED("HTTP/1.1 200 OK", "", 1, 1);
	REFUSED("HTTP/1.1 403 Forbidden", "", 1, 1);
	REFUSED("HTTP/1.0 101 Switching Protocols", "", 1, 1);
	REFUSED("HTTP/1.1 1010", "", 1, 1);
	REFUSED("HTTP/1.1 101 Switching Protocols", "", 0, 1);
	REFUSED("HTTP/1.1 101 Switching Protocols", "", 1, 0);
	REFUSED("HTTP/1.1 101 Switching Protocols", "Sec-WebSocket-Protocol: zkrelay.v1\r\n", 1, 1);
	REFUSED("HTTP/1.1 101 Switching Protocols", "Sec-WebSocket-Extensions: permessage-deflate\r\n", 1, 1);
	REFUSED("HTTP/1.1 101 Switching Protocols", "Sec-WebSocket-Extensions:\r\n", 1, 1);
	REFUSED("HTTP/1.1 101 Switching Protocols", "Upgrade: websocket\r\n", 1, 1);
	REFUSED("HTTP/1.1 101 Switching Protocols", "X-Folded: a\r\n b\r\n", 1, 1);
	REFUSED("HTTP/1.1 101 Switching Protocols", "No colon here\r\n", 1, 1);
	REFUSED("HTTP/1.1 101 Switching Protocols", ": empty name\r\n", 1, 1);
	REFUSED("HTTP/1.1 101 Switching Protocols", "Bad Name: x\r\n", 1, 1);
	REFUSED("HTTP/1.1 101 Switching Protocols", "X: a\nY: b\r\n", 1, 1);
	/* Wrong protocol, wrong accept, wrong upgrade, no connection token. */
	n = (size_t)snprintf(r, sizeof(r),
			     "HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			     "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: zkrelay.v1, x\r\n\r\n",
			     hs.accept);
	ck_assert_int_eq(judge(&hs, r, n, &used), -ZK_EUPGRADE);
	snprintf(wrong, sizeof(wrong), "%s", hs.accept);
	wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
	n = (size_t)snprintf(r, sizeof(r),
			     "HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			     "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: zkrelay.v1\r\n\r\n",
			     wrong);
	ck_assert_int_eq(judge(&hs, r, n, &used), -ZK_EUPGRADE);
	n = (size_t)snprintf(r, sizeof(r),
			     "HTTP/1.1 101 S\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
			     "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: zkrelay.v1\r\n\r\n",
			     hs.accept);
	ck_assert_int_eq(judge(&hs, r, n, &used), -ZK_EUPGRADE);
	n = (size_t)snprintf(r, sizeof(r),
			     "HTTP/1.1 101 S\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
			     "Sec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: zkrelay.v1\r\n\r\n",
			     hs.accept);
	ck_assert_int_eq(judge(&hs, r, n, &used), -ZK_EUPGRADE);
	/* A NUL inside the head. */
	n = response(&hs, r, sizeof(r), "HTTP/1.1 101 Switching Protocols", "X: a\r\n", 1, 1);
	*strstr(r, "X: a") = '\0';
	ck_assert_int_eq(judge(&hs, r, n, &used), -ZK_EUPGRADE);
	/* No end of head within the bound. */
	char *big = malloc(WS_MAX_RESPONSE + 10);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "HTTP/1.1 101 S\r\n", 16);
	memset(big + 16, 'x', WS_MAX_RESPONSE - 6);
	ck_assert_int_eq(judge(&hs, big, WS_MAX_RESPONSE - 1, &used), 0);
	ck_assert_int_eq(judge(&hs, big, WS_MAX_RESPONSE + 10, &used), -ZK_EUPGRADE);
	free(big);
#undef REFUSED
}
END_TEST

/* ---- Client frames ---------------------------------------------------- */

START_TEST(test_frame_lengths)
{
	static const size_t sizes[] = { 0, 1, 125, 126, 127, 65535, 65536, 70000 };
	uint8_t *in = malloc(70000), *out = malloc(70000 + WS_MAX_HEADER);
	uint8_t *back = malloc(70000);

	ck_assert(in && out && back);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], got = 0;
		buf_writer_t w;
		fill(in, n, (unsigned)i);
		buf_writer_init(&w, out, n + ws_header_len(n));
		ck_assert_int_eq(ws_put_frame(&w, WS_OP_BINARY, in, n), 0);
		ck_assert_uint_eq(w.len, n + ws_header_len(n));
		ck_assert_int_eq(client_unframe(out, w.len, back, &got), WS_OP_BINARY);
		ck_assert_uint_eq(got, n);
		ck_assert(n == 0 || memcmp(in, back, n) == 0);
		/* In place: the payload after WS_MAX_HEADER bytes of room. */
		size_t start = 99;
		memcpy(out + WS_MAX_HEADER, in, n);
		ck_assert_int_eq(ws_frame_in_place(out, n, WS_OP_BINARY, &start), 0);
		ck_assert_uint_eq(start, WS_MAX_HEADER - ws_header_len(n));
		ck_assert_int_eq(client_unframe(out + start, WS_MAX_HEADER - start + n, back, &got),
				 WS_OP_BINARY);
		ck_assert(n == 0 || memcmp(in, back, n) == 0);
	}
	free(in);
	free(out);
	free(back);
}
END_TEST

START_TEST(test_frame_mask_fresh)
{
	uint8_t a[64], b[64], p[32] = { 0 };
	buf_writer_t wa, wb;
	int same = 0;

	/* Two frames of the same bytes differ in their keys (each 2^-32 to
	 * collide; eight tries). */
	for (int i = 0; i < 8; i++) {
		buf_writer_init(&wa, a, sizeof(a));
		buf_writer_init(&wb, b, sizeof(b));
		ck_assert_int_eq(ws_put_frame(&wa, WS_OP_BINARY, p, sizeof(p)), 0);
		ck_assert_int_eq(ws_put_frame(&wb, WS_OP_BINARY, p, sizeof(p)), 0);
		same += memcmp(a + 2, b + 2, 4) == 0;
	}
	ck_assert_int_lt(same, 2);
}
END_TEST

START_TEST(test_frame_refused)
{
	uint8_t out[300], p[200] = { 0 };
	buf_writer_t w;
	size_t start;

	buf_writer_init(&w, out, sizeof(out));
	ck_assert_int_eq(ws_put_frame(&w, WS_OP_PING, p, 126), -ZK_EINVAL);
	ck_assert_int_eq(ws_put_frame(&w, WS_OP_CONT, p, 1), -ZK_EINVAL);
	ck_assert_int_eq(ws_put_frame(&w, 3, p, 1), -ZK_EINVAL);
	ck_assert_uint_eq(w.len, 0);
	buf_writer_init(&w, out, 10);
	ck_assert_int_eq(ws_put_frame(&w, WS_OP_BINARY, p, 5), -ZK_EINVAL);
	ck_assert_uint_eq(w.len, 0);
	ck_assert_int_eq(ws_frame_in_place(out, 126, WS_OP_CLOSE, &start), -ZK_EINVAL);
	/* A close: code big-endian, or none. */
	buf_writer_init(&w, out, sizeof(out));
	ck_assert_int_eq(ws_put_close(&w, 1000), 0);
	size_t n;
	ck_assert_int_eq(client_unframe(out, w.len, p, &n), WS_OP_CLOSE);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(p[0] << 8 | p[1], 1000);
	buf_writer_init(&w, out, sizeof(out));
	ck_assert_int_eq(ws_put_close(&w, 0), 0);
	ck_assert_uint_eq(w.len, 6);
}
END_TEST

/* ---- Server frames ---------------------------------------------------- */

START_TEST(test_parse_messages)
{
	static const size_t sizes[] = { 1, 125, 126, 65535, 65536, 100000 };
	size_t total = 0, n = 0;
	uint8_t *in, *pay = malloc(100000);
	events_t e;

	ck_assert_ptr_nonnull(pay);
	for (size_t i = 0; i < 6; i++)
		total += sizes[i] + 10;
	in = malloc(total);
	ck_assert_ptr_nonnull(in);
	for (size_t i = 0; i < 6; i++) {
		fill(pay, sizes[i], (unsigned)i);
		n += server_frame(in + n, 0x82, sizes[i], pay, 0);
	}
	feed_all(in, n, 1 << 20, &e);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.n, 6);
	for (int i = 0; i < 6; i++) {
		ck_assert_int_eq(e.type[i], WS_EV_MESSAGE);
		ck_assert_uint_eq(e.len[i], sizes[i]);
		fill(pay, sizes[i], (unsigned)i);
		ck_assert(memcmp(e.data[i], pay, sizes[i]) == 0);
	}
	events_free(&e);
	free(in);
	free(pay);
}
END_TEST

START_TEST(test_parse_fragments_and_control)
{
	uint8_t in[2000], pay[900];
	size_t n = 0;
	events_t e;

	fill(pay, sizeof(pay), 7);
	n += server_frame(in + n, 0x02, 300, pay, 0);            /* first */
	n += server_frame(in + n, 0x89, 4, (const uint8_t *)"ping", 0);
	n += server_frame(in + n, 0x00, 0, pay, 0);              /* empty middle */
	n += server_frame(in + n, 0x8a, 0, NULL, 0);             /* pong */
	n += server_frame(in + n, 0x00, 300, pay + 300, 0);
	n += server_frame(in + n, 0x80, 300, pay + 600, 0);      /* final */
	n += server_frame(in + n, 0x82, 2, (const uint8_t *)"ab", 0);
	n += server_frame(in + n, 0x88, 5, (const uint8_t *)"\x03\xe8" "bye", 0);
	feed_all(in, n, 4096, &e);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.n, 5);
	ck_assert_int_eq(e.type[0], WS_EV_PING);
	ck_assert_uint_eq(e.len[0], 4);
	ck_assert(memcmp(e.data[0], "ping", 4) == 0);
	ck_assert_int_eq(e.type[1], WS_EV_PONG);
	ck_assert_int_eq(e.type[2], WS_EV_MESSAGE);
	ck_assert_uint_eq(e.len[2], 900);
	ck_assert(memcmp(e.data[2], pay, 900) == 0);
	ck_assert_int_eq(e.type[3], WS_EV_MESSAGE);
	ck_assert_uint_eq(e.len[3], 2);
	ck_assert_int_eq(e.type[4], WS_EV_CLOSE);
	ck_assert_uint_eq(e.code[4], 1000);
	ck_assert_uint_eq(e.len[4], 3);
	events_free(&e);
	/* A close without a code. */
	n = server_frame(in, 0x88, 0, NULL, 0);
	feed_all(in, n, 4096, &e);
	ck_assert_int_eq(e.n, 1);
	ck_assert_uint_eq(e.code[0], WS_CLOSE_NO_STATUS);
	events_free(&e);
}
END_TEST

START_TEST(test_parse_refused)
{
	uint8_t in[400], big[200] = { 0 };
	size_t n;

	/* Masked server frame. */
	in[0] = 0x82, in[1] = 0x81, memcpy(in + 2, "\0\0\0\0x", 5);
	expect_error(in, 7, 4096, -ZK_EPROTO);
	/* Reserved bits. */
	for (int rsv = 0x10; rsv <= 0x40; rsv <<= 1) {
		n = server_frame(in, 0x82 | rsv, 1, (const uint8_t *)"x", 0);
		expect_error(in, n, 4096, -ZK_EPROTO);
	}
	/* Unknown opcodes, and text. */
	static const int ops[] = { 0x3, 0x7, 0xb, 0xf, 0x1 };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		n = server_frame(in, 0x80 | ops[i], 1, (const uint8_t *)"x", 0);
		expect_error(in, n, 4096, -ZK_EPROTO);
	}
	/* Control frames: too long, fragmented. */
	n = server_frame(in, 0x89, 126, big, 0);
	expect_error(in, n, 4096, -ZK_EPROTO);
	n = server_frame(in, 0x09, 1, big, 0);
	expect_error(in, n, 4096, -ZK_EPROTO);
	/* Close: one byte, or a code that may not be sent. */
	n = server_frame(in, 0x88, 1, (const uint8_t *)"\x03", 0);
	expect_error(in, n, 4096, -ZK_EPROTO);
	n = server_frame(in, 0x88, 2, (const uint8_t *)"\x03\xed", 0); /* 1005 */
	expect_error(in, n, 4096, -ZK_EPROTO);
	n = server_frame(in, 0x88, 2, (const uint8_t *)"\x00\x10", 0);
	expect_error(in, n, 4096, -ZK_EPROTO);
	/* Continuation without a start; a new message inside one. */
	n = server_frame(in, 0x80, 1, (const uint8_t *)"x", 0);
	expect_error(in, n, 4096, -ZK_EPROTO);
	n = server_frame(in, 0x02, 1, (const uint8_t *)"x", 0);
	n += server_frame(in + n, 0x82, 1, (const uint8_t *)"y", 0);
	expect_error(in, n, 4096, -ZK_EPROTO);
	/* Lengths not in their shortest form; the 64-bit top bit. */
	n = server_frame(in, 0x82, 5, big, 16);
	expect_error(in, n, 4096, -ZK_EPROTO);
	n = server_frame(in, 0x82, 200, big, 64);
	expect_error(in, n, 4096, -ZK_EPROTO);
	n = server_frame(in, 0x82, (uint64_t)1 << 63, NULL, 64);
	expect_error(in, n, SIZE_MAX, -ZK_EPROTO);
	/* Anything after a close. */
	n = server_frame(in, 0x88, 0, NULL, 0);
	n += server_frame(in + n, 0x82, 1, (const uint8_t *)"x", 0);
	expect_error(in, n, 4096, -ZK_EPROTO);
}
END_TEST

START_TEST(test_parse_too_large)
{
	uint8_t in[400], pay[200] = { 0 };
	size_t n;
	events_t e;

	/* Exactly the cap passes; one more byte, declared, is refused before
	 * it arrives. */
	n = server_frame(in, 0x82, 100, pay, 0);
	feed_all(in, n, 100, &e);
	ck_assert_int_eq(e.err, 0);
	ck_assert_int_eq(e.n, 1);
	events_free(&e);
	n = server_frame(in, 0x82, 101, NULL, 0);
	expect_error(in, n, 100, -ZK_ETOOLARGE);
	n = server_frame(in, 0x82, (uint64_t)1 << 62, NULL, 64);
	expect_error(in, n, 8u << 20, -ZK_ETOOLARGE);
	/* Across fragments. */
	n = server_frame(in, 0x02, 60, pay, 0);
	n += server_frame(in + n, 0x80, 41, NULL, 0);
	expect_error(in, n, 100, -ZK_ETOOLARGE);
}
END_TEST

Suite *wsclient_suite(void)
{
	Suite *s = suite_create("wsclient");
	TCase *tc = tcase_create("wsclient");

	/* Each parser test also feeds its input one byte at a time: a few
	 * hundred thousand calls, slow under the sanitizers on a busy machine. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_accept_rfc_example);
	tcase_add_test(tc, test_request);
	tcase_add_test(tc, test_request_refused);
	tcase_add_test(tc, test_response_ok);
	tcase_add_test(tc, test_response_refused);
	tcase_add_test(tc, test_frame_lengths);
	tcase_add_test(tc, test_frame_mask_fresh);
	tcase_add_test(tc, test_frame_refused);
	tcase_add_test(tc, test_parse_messages);
	tcase_add_test(tc, test_parse_fragments_and_control);
	tcase_add_test(tc, test_parse_refused);
	tcase_add_test(tc, test_parse_too_large);
	suite_add_tcase(s, tc);
	return s;
}
