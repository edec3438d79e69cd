/* Bounded reading of untrusted bytes.
 *
 * Every byte that comes from the network or a file is read through a
 * buf_reader_t. Each read first checks that enough bytes remain
 * (buf_avail(r) >= n), so no length arithmetic can wrap, and a failed read
 * leaves the reader where it was. */
#ifndef ZK_BUF_H
#define ZK_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "zkerr.h"

typedef struct {
	const uint8_t *p;
	size_t len;
	size_t pos;
} buf_reader_t;

/* The functions are defined here, inline: the relay reads and writes a
 * few varints and spans per frame, millions of frames a second, and a
 * call per field cost more than the field.
 *
 * The reader keeps pos <= len at all times, so buf_avail() never wraps and
 * every "enough bytes?" test is a comparison against it. */

/* A varint carries 7 bits per byte; 64 bits need 10 bytes, and the 10th
 * byte can only contribute bit 63. */
#define BUF_VARINT_MAX_BYTES 10
#define BUF_VARINT_LAST_MAX 1u

static inline void buf_reader_init(buf_reader_t *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = p != NULL ? len : 0;
	r->pos = 0;
}

static inline size_t buf_avail(const buf_reader_t *r)
{
	return r->len - r->pos;
}

/* 0 on success, -ZK_EMALFORMED if fewer than n bytes remain. */
static inline int buf_read_u8(buf_reader_t *r, uint8_t *out)
{
	if (buf_avail(r) < 1)
		return -ZK_EMALFORMED;
	*out = r->p[r->pos++];
	return 0;
}

/* Hands out a pointer into the buffer, no copy. */
static inline int buf_read_span(buf_reader_t *r, size_t n, const uint8_t **out)
{
	if (buf_avail(r) < n)
		return -ZK_EMALFORMED;
	*out = r->p + r->pos;
	r->pos += n;
	return 0;
}

/* Protobuf base-128 varint, at most 10 bytes; refuses overlong (a final
 * zero byte after the first) and values above 64 bits. Decodes on a copy
 * of the position and commits only a complete, minimal varint, so a
 * failure leaves the reader untouched. A zero final byte after the first
 * would encode the same value in more bytes; two encodings of one value
 * are refused so that equal values always compare equal as bytes. */
static inline int buf_read_varint(buf_reader_t *r, uint64_t *out)
{
	uint64_t v = 0;
	size_t pos = r->pos;

	for (unsigned i = 0; i < BUF_VARINT_MAX_BYTES; i++) {
		if (pos >= r->len)
			return -ZK_EMALFORMED;
		uint8_t b = r->p[pos++];
		if (i == BUF_VARINT_MAX_BYTES - 1 && b > BUF_VARINT_LAST_MAX)
			return -ZK_EMALFORMED;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			if (i > 0 && b == 0)
				return -ZK_EMALFORMED;
			r->pos = pos;
			*out = v;
			return 0;
		}
	}
	/* Unreachable: the 10th byte either ends the varint or is refused. */
	return -ZK_EMALFORMED;
}

/* Writing into a caller's buffer of known capacity. A write that does not
 * fit sets the overflow flag and writes nothing; check buf_writer_ok().
 * The flag stays set: every later write is dropped as well, so the bytes
 * written before the overflow are never followed by a gap. */
typedef struct {
	uint8_t *p;
	size_t cap;
	size_t len;
	int overflow;
} buf_writer_t;

static inline void buf_writer_init(buf_writer_t *w, uint8_t *p, size_t cap)
{
	w->p = p;
	w->cap = p != NULL ? cap : 0;
	w->len = 0;
	w->overflow = 0;
}

/* 1 if n more bytes fit; otherwise sets the overflow flag and returns 0.
 * Lets a caller write a multi-part record all or nothing. The flag is
 * sticky: once a write has been dropped, later writes are dropped too, so
 * the buffer never holds bytes with a hole before them. */
static inline int buf_writer_fits(buf_writer_t *w, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = 1;
		return 0;
	}
	return 1;
}

static inline int buf_writer_ok(const buf_writer_t *w)
{
	return !w->overflow;
}

/* Encoded length of a varint, 1..10. */
static inline size_t buf_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static inline void buf_put_u8(buf_writer_t *w, uint8_t v)
{
	if (!buf_writer_fits(w, 1))
		return;
	w->p[w->len++] = v;
}

static inline void buf_put_varint(buf_writer_t *w, uint64_t v)
{
	if (!buf_writer_fits(w, buf_varint_len(v)))
		return;
	while (v >= 0x80) {
		w->p[w->len++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->p[w->len++] = (uint8_t)v;
}

static inline void buf_put_bytes(buf_writer_t *w, const void *p, size_t n)
{
	if (!buf_writer_fits(w, n))
		return;
	/* memcpy() with a NULL source is undefined even for n == 0. */
	if (n == 0)
		return;
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

#endif
