/* Batch decoder (common/wire.h): every frame that decodes is written again
 * with the wire_put_* encoders, and what they write must decode to exactly
 * one frame with the same values. wire_put_frame() and the typed encoder
 * must write the same bytes, as many as wire_frame_size() promised, and
 * wire_validate() must agree with the iterator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* One entry: the largest payload and every other field at its limit. */
#define ENTRY_CAP (WIRE_MAX_PAYLOAD + 2 * WIRE_MAX_ADDR + 64)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int slice_eq(wire_slice_t a, wire_slice_t b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static int frame_eq(const wire_frame_t *a, const wire_frame_t *b)
{
	if (a->type != b->type)
		return 0;
	switch (a->type) {
	case WIRE_HELLO:
	case WIRE_REFRESH:
		return slice_eq(a->u.hello.token, b->u.hello.token);
	case WIRE_WELCOME:
		return slice_eq(a->u.welcome.practice_id, b->u.welcome.practice_id) &&
		       slice_eq(a->u.welcome.endpoint_id, b->u.welcome.endpoint_id) &&
		       a->u.welcome.role == b->u.welcome.role &&
		       a->u.welcome.max_message_bytes == b->u.welcome.max_message_bytes &&
		       a->u.welcome.max_payload_bytes == b->u.welcome.max_payload_bytes;
	case WIRE_ACK:
		return a->u.ack.seq == b->u.ack.seq;
	case WIRE_NACK:
		return a->u.nack.stream == b->u.nack.stream && a->u.nack.seq == b->u.nack.seq &&
		       a->u.nack.reason == b->u.nack.reason;
	case WIRE_CLOSE:
		return a->u.close.reason == b->u.close.reason &&
		       slice_eq(a->u.close.detail, b->u.close.detail);
	case WIRE_DATA:
		return slice_eq(a->u.data.dst, b->u.data.dst) &&
		       slice_eq(a->u.data.src, b->u.data.src) &&
		       a->u.data.stream == b->u.data.stream && a->u.data.seq == b->u.data.seq &&
		       slice_eq(a->u.data.payload, b->u.data.payload);
	}
	return 0;
}

/* A decoded string field as a C string; NULL when empty, which the
 * encoders take as "omit". The decoder guarantees no NUL inside. */
static const char *cstr(wire_slice_t s, char *buf, size_t cap)
{
	if (s.len == 0)
		return NULL;
	if (s.len >= cap || memchr(s.p, 0, s.len))
		abort(); /* the decoder let through what it promises to refuse */
	memcpy(buf, s.p, s.len);
	buf[s.len] = '\0';
	return buf;
}

/* Writes f with the encoder for its type. */
static void put_typed(buf_writer_t *w, const wire_frame_t *f)
{
	char a[WIRE_MAX_DETAIL + 1], b[WIRE_MAX_DETAIL + 1];

	switch (f->type) {
	case WIRE_HELLO:
	case WIRE_REFRESH:
		wire_put_hello(w, f->type, f->u.hello.token.p, f->u.hello.token.len);
		break;
	case WIRE_WELCOME:
		wire_put_welcome(w, cstr(f->u.welcome.practice_id, a, sizeof(a)), f->u.welcome.role,
				 cstr(f->u.welcome.endpoint_id, b, sizeof(b)),
				 f->u.welcome.max_message_bytes, f->u.welcome.max_payload_bytes);
		break;
	case WIRE_ACK:
		wire_put_ack(w, f->u.ack.seq);
		break;
	case WIRE_NACK:
		wire_put_nack(w, f->u.nack.stream, f->u.nack.seq, f->u.nack.reason);
		break;
	case WIRE_CLOSE:
		wire_put_close(w, f->u.close.reason, cstr(f->u.close.detail, a, sizeof(a)));
		break;
	case WIRE_DATA:
		wire_put_data(w, f->u.data.dst.len ? f->u.data.dst.p : NULL, f->u.data.dst.len,
			      f->u.data.src.len ? f->u.data.src.p : NULL, f->u.data.src.len,
			      f->u.data.stream, f->u.data.seq, f->u.data.payload.p,
			      f->u.data.payload.len);
		break;
	}
}

static void roundtrip(const wire_frame_t *f)
{
	static uint8_t typed[ENTRY_CAP], generic[ENTRY_CAP];
	buf_writer_t wt, wg;
	wire_iter_t it;
	wire_frame_t g;
	size_t want = wire_frame_size(f), count = 0;

	buf_writer_init(&wt, typed, sizeof(typed));
	put_typed(&wt, f);
	buf_writer_init(&wg, generic, sizeof(generic));
	wire_put_frame(&wg, f);
	if (!buf_writer_ok(&wt) || !buf_writer_ok(&wg))
		abort(); /* a decoded frame must always fit one entry */
	if (wt.len != want || wg.len != want || memcmp(typed, generic, want) != 0)
		abort();
	if (f->type == WIRE_DATA &&
	    wire_data_size(f->u.data.dst.len, f->u.data.src.len, f->u.data.stream, f->u.data.seq,
			   f->u.data.payload.len) != want)
		abort();

	wire_iter_init(&it, typed, wt.len);
	if (wire_next(&it, &g) != 1 || !frame_eq(f, &g) || wire_next(&it, &g) != 0)
		abort();
	if (wire_validate(typed, wt.len, &count) != 0 || count != 1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	wire_iter_t it;
	wire_frame_t f, again;
	size_t frames = 0, count = 0;
	int rc, vrc;

	wire_iter_init(&it, data, size);
	while ((rc = wire_next(&it, &f)) == 1) {
		frames++;
		roundtrip(&f);
	}
	/* A failed call leaves the iterator alone: it must fail again. */
	if (rc < 0 && wire_next(&it, &again) != rc)
		abort();
	vrc = wire_validate(data, size, &count);
	if ((rc == 0) != (vrc == 0) || (vrc == 0 && count != frames))
		abort();
	return 0;
}
