/* Bounded reader and writer; see buf.h.
 *
 * The reader keeps pos <= len at all times, so buf_avail() never wraps and
 * every "enough bytes?" test is a comparison against it. */
#include <string.h>

#include "buf.h"
#include "zkerr.h"

/* A varint carries 7 bits per byte; 64 bits need 10 bytes, and the 10th
 * byte can only contribute bit 63. */
#define VARINT_MAX_BYTES 10
#define VARINT_LAST_MAX 1u

void buf_reader_init(buf_reader_t *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->len = p != NULL ? len : 0;
	r->pos = 0;
}

size_t buf_avail(const buf_reader_t *r)
{
	return r->len - r->pos;
}

int buf_read_u8(buf_reader_t *r, uint8_t *out)
{
	if (buf_avail(r) < 1)
		return -ZK_EMALFORMED;
	*out = r->p[r->pos++];
	return 0;
}

int buf_read_span(buf_reader_t *r, size_t n, const uint8_t **out)
{
	if (buf_avail(r) < n)
		return -ZK_EMALFORMED;
	*out = r->p + r->pos;
	r->pos += n;
	return 0;
}

/* Decodes on a copy of the position and commits only a complete, minimal
 * varint, so a failure leaves the reader untouched. A zero final byte
 * after the first would encode the same value in more bytes; two encodings
 * of one value are refused so that equal values always compare equal as
 * bytes. */
int buf_read_varint(buf_reader_t *r, uint64_t *out)
{
	uint64_t v = 0;
	size_t pos = r->pos;

	for (unsigned i = 0; i < VARINT_MAX_BYTES; i++) {
		if (pos >= r->len)
			return -ZK_EMALFORMED;
		uint8_t b = r->p[pos++];
		if (i == VARINT_MAX_BYTES - 1 && b > VARINT_LAST_MAX)
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

void buf_writer_init(buf_writer_t *w, uint8_t *p, size_t cap)
{
	w->p = p;
	w->cap = p != NULL ? cap : 0;
	w->len = 0;
	w->overflow = 0;
}

/* The flag is sticky: once a write has been dropped, later writes are
 * dropped too, so the buffer never holds bytes with a hole before them. */
int buf_writer_fits(buf_writer_t *w, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = 1;
		return 0;
	}
	return 1;
}

void buf_put_u8(buf_writer_t *w, uint8_t v)
{
	if (!buf_writer_fits(w, 1))
		return;
	w->p[w->len++] = v;
}

void buf_put_varint(buf_writer_t *w, uint64_t v)
{
	if (!buf_writer_fits(w, buf_varint_len(v)))
		return;
	while (v >= 0x80) {
		w->p[w->len++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->p[w->len++] = (uint8_t)v;
}

void buf_put_bytes(buf_writer_t *w, const void *p, size_t n)
{
	if (!buf_writer_fits(w, n))
		return;
	/* memcpy() with a NULL source is undefined even for n == 0. */
	if (n == 0)
		return;
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

int buf_writer_ok(const buf_writer_t *w)
{
	return !w->overflow;
}

size_t buf_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}
