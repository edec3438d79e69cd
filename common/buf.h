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

typedef struct {
	const uint8_t *p;
	size_t len;
	size_t pos;
} buf_reader_t;

void buf_reader_init(buf_reader_t *r, const uint8_t *p, size_t len);
size_t buf_avail(const buf_reader_t *r);
/* 0 on success, -ZK_EMALFORMED if fewer than n bytes remain. */
int buf_read_u8(buf_reader_t *r, uint8_t *out);
/* Hands out a pointer into the buffer, no copy. */
int buf_read_span(buf_reader_t *r, size_t n, const uint8_t **out);
/* Protobuf base-128 varint, at most 10 bytes; refuses overlong (a final
 * zero byte after the first) and values above 64 bits. */
int buf_read_varint(buf_reader_t *r, uint64_t *out);

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

void buf_writer_init(buf_writer_t *w, uint8_t *p, size_t cap);
void buf_put_u8(buf_writer_t *w, uint8_t v);
void buf_put_varint(buf_writer_t *w, uint64_t v);
void buf_put_bytes(buf_writer_t *w, const void *p, size_t n);
int buf_writer_ok(const buf_writer_t *w);
/* 1 if n more bytes fit; otherwise sets the overflow flag and returns 0.
 * Lets a caller write a multi-part record all or nothing. */
int buf_writer_fits(buf_writer_t *w, size_t n);
/* Encoded length of a varint, 1..10. */
size_t buf_varint_len(uint64_t v);

#endif
