/* The relay's receive path (relay/rx.c) without a socket: one WebSocket
 * message arrives in fragments, is assembled under the size limit and
 * validated as a whole before any frame is acted on.
 *
 * Input layout:
 *   byte 0      number of fragments, 1 + (b % 16)
 *   byte 1      the limit (max_message_bytes): 1024 + 256 * b, at most
 *               66560 (the relay's default)
 *   next n - 1  cut points, each a fraction b/256 of the message
 *   the rest    the message
 *
 * The limit check, the buffer growth and message_ok() are copies of
 * conn_on_receive(), rx_append() and message_ok() in relay/rx.c (they are
 * static there and tied to a libwebsockets connection); the decoding is
 * the real wire_next(). Keep them in step with rx.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#define RX_MAX_MESSAGE (65536u + 1024u)
#define RX_MAX_FRAGMENTS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* rx.c's rx_append() once computed c->rx + c->rx_len while c->rx was
 * still NULL when a message started with an empty non-final fragment
 * (undefined behaviour; tests/fuzz/crashes/fuzz_rx_split/ keeps the
 * input). Both now return early for an empty fragment. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

typedef struct {
	uint8_t *rx;
	size_t rx_len, rx_cap;
	int rx_in_msg;
} rx_t;

/* As message_ok() in relay/rx.c. */
static int message_ok(const uint8_t *msg, size_t len)
{
	wire_iter_t it;
	wire_frame_t f;
	int rc;

	wire_iter_init(&it, msg, len);
	while ((rc = wire_next(&it, &f)) == 1)
		if (f.type == WIRE_DATA && f.u.data.dst.len == 0)
			return 0;
	return rc == 0;
}

/* As handle_message(): a message that passed message_ok() is walked again
 * frame by frame; every frame must decode the second time too. Returns the
 * number of frames, or 0 if the message was refused. */
static size_t handle_message(const uint8_t *msg, size_t len)
{
	wire_iter_t it;
	wire_frame_t f;
	size_t n = 0;
	int rc;

	if (!message_ok(msg, len))
		return 0;
	wire_iter_init(&it, msg, len);
	while ((rc = wire_next(&it, &f)) == 1) {
		if (f.type < WIRE_HELLO || f.type > WIRE_DATA)
			abort(); /* rx.c indexes its handler table with it */
		if (f.type == WIRE_DATA && (f.u.data.dst.len == 0 || f.u.data.payload.len == 0 ||
					    f.u.data.payload.len > WIRE_MAX_PAYLOAD))
			abort();
		n++;
	}
	if (rc != 0 || n == 0)
		abort();
	return n;
}

/* As rx_append(): grows to what has arrived plus what the frame header
 * still promises, capped at the limit. */
static int rx_append(rx_t *c, const uint8_t *in, size_t len, size_t remaining, size_t total_max)
{
	if (len == 0)
		return 0;
	if (c->rx_cap - c->rx_len < len) {
		size_t want = c->rx_len + len + remaining;
		if (want > total_max)
			want = total_max;
		uint8_t *p = realloc(c->rx, want);
		if (!p)
			return -1;
		c->rx = p;
		c->rx_cap = want;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	return 0;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cuts[RX_MAX_FRAGMENTS + 1], nfrag, max, msglen;
	const uint8_t *msg;
	rx_t c = { 0 };
	size_t handled = 0, direct;
	int refused = 0, done = 0;

	if (size < 2)
		return 0;
	nfrag = 1 + data[0] % RX_MAX_FRAGMENTS;
	max = 1024u + 256u * data[1];
	if (max > RX_MAX_MESSAGE)
		max = RX_MAX_MESSAGE;
	if (size < 2 + nfrag - 1)
		return 0;
	msg = data + 2 + (nfrag - 1);
	msglen = size - 2 - (nfrag - 1);
	cuts[0] = 0;
	for (size_t i = 1; i < nfrag; i++)
		cuts[i] = msglen * data[2 + i - 1] / 256;
	qsort(cuts + 1, nfrag - 1, sizeof(cuts[0]), cmp_size);
	cuts[nfrag] = msglen;

	for (size_t i = 0; i < nfrag && !done; i++) {
		const uint8_t *in = msg + cuts[i];
		size_t len = cuts[i + 1] - cuts[i];
		size_t remaining = msglen - cuts[i + 1];
		int first = !c.rx_in_msg, final = i + 1 == nfrag;

		/* conn_on_receive(): the limit counts what has arrived and what
		 * the frame header still promises, written so nothing wraps. */
		if (len > max || c.rx_len > max - len || remaining > max - len - c.rx_len) {
			refused = 1;
			break;
		}
		if (first && final) {
			handled = handle_message(in, len);
			done = 1;
			break;
		}
		c.rx_in_msg = 1;
		if (rx_append(&c, in, len, remaining, max))
			abort();
		if (c.rx_len > c.rx_cap || c.rx_cap > max)
			abort();
		if (!final)
			continue;
		if (c.rx_len != msglen || (msglen && memcmp(c.rx, msg, msglen) != 0))
			abort(); /* assembly lost or reordered bytes */
		handled = handle_message(c.rx, c.rx_len);
		done = 1;
	}
	free(c.rx);

	/* However the message was cut, the verdict is that of the message
	 * received whole; only the size limit may refuse it earlier. */
	if (refused != (msglen > max))
		abort();
	if (!refused) {
		direct = handle_message(msg, msglen);
		if (direct != handled)
			abort();
	}
	return 0;
}
