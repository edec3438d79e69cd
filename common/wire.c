/* Strict zero-copy decoder and encoder for proto/zkrelay.proto; see wire.h.
 *
 * Each message is described once, by a small table of its fields, and both
 * directions walk those tables: the decoder checks every field against its
 * row, the encoder writes the rows in order. Adding a field to the proto
 * means adding one row here. */
#include <stddef.h>
#include <string.h>

#include "wire.h"
#include "zkerr.h"

/* The only protobuf wire types the schema uses; any other is refused. */
enum { WT_VARINT = 0, WT_LEN = 2 };

#define TAG(num, wt) (((uint64_t)(num) << 3) | (wt))
/* Batch.frames (field 1, length-delimited) is the only field of a Batch. */
#define BATCH_TAG TAG(1, WT_LEN)
#define REASON_MAX ((uint64_t)ZK_REASON_COUNT - 1)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef enum {
	F_U32,   /* varint kept as uint32_t; Reason fields too */
	F_U64,   /* varint kept as uint64_t */
	F_ROLE,  /* varint kept as wire_role_t */
	F_STR,   /* length-delimited, kept as a slice; no NUL byte */
	F_BYTES, /* length-delimited, kept as a slice */
	F_BODY,  /* length-delimited sub-message: one body of Frame's oneof */
} field_kind_t;

struct wire_msg;

/* One field of one message. A varint must lie in 0..max; a length-
 * delimited value must be min..max bytes, and a field with min > 0 must be
 * present, since absent means empty. off is where the value lives inside
 * wire_frame_t. */
typedef struct {
	uint32_t num;
	field_kind_t kind;
	uint64_t min, max;
	size_t off;
	const struct wire_msg *body; /* F_BODY only */
} wire_field_t;

/* Rows are in field-number order, the order protobuf-c writes them. When
 * oneof is set, every field belongs to one oneof: exactly one may appear. */
typedef struct wire_msg {
	const wire_field_t *fields;
	size_t nfields;
	int oneof;
} wire_msg_t;

#define OFF(member) offsetof(wire_frame_t, u.member)
#define U32(n, m, hi) { (n), F_U32, 0, (hi), OFF(m), NULL }
#define U64(n, m) { (n), F_U64, 0, UINT64_MAX, OFF(m), NULL }
#define ROLE(n, m) { (n), F_ROLE, 0, WIRE_ROLE_CLIENT, OFF(m), NULL }
#define STR(n, m, lo, hi) { (n), F_STR, (lo), (hi), OFF(m), NULL }
#define BYTES(n, m, lo, hi) { (n), F_BYTES, (lo), (hi), OFF(m), NULL }
/* A body's length is bounded by the batch entry holding it. */
#define BODY(n, msg) { (n), F_BODY, 0, UINT32_MAX, 0, &(msg) }
/* The decoder tracks the fields it has seen in a 32-bit mask. */
#define MSG(name, rows, is_oneof) \
	_Static_assert(ARRAY_LEN(rows) <= 32, "too many fields for the mask"); \
	static const wire_msg_t name = { (rows), ARRAY_LEN(rows), (is_oneof) }

/* Hello and Refresh both carry one token and share u.hello. */
static const wire_field_t hello_rows[] = {
	STR(1, hello.token, 0, WIRE_MAX_TOKEN),
};
static const wire_field_t welcome_rows[] = {
	STR(1, welcome.practice_id, 0, WIRE_MAX_ID),
	ROLE(2, welcome.role),
	STR(3, welcome.endpoint_id, 0, WIRE_MAX_ID),
	U32(4, welcome.max_message_bytes, UINT32_MAX),
	U32(5, welcome.max_payload_bytes, UINT32_MAX),
};
static const wire_field_t ack_rows[] = {
	U64(1, ack.seq),
};
static const wire_field_t nack_rows[] = {
	U32(1, nack.stream, UINT32_MAX),
	U64(2, nack.seq),
	U32(3, nack.reason, REASON_MAX),
};
static const wire_field_t close_rows[] = {
	U32(1, close.reason, REASON_MAX),
	STR(2, close.detail, 0, WIRE_MAX_DETAIL),
};
/* An endpoint sends dst, the relay delivers with src instead; a frame
 * with neither is malformed (checked in wire_next). */
static const wire_field_t data_rows[] = {
	STR(1, data.dst, 0, WIRE_MAX_ADDR),
	STR(2, data.src, 0, WIRE_MAX_ADDR),
	U32(3, data.stream, UINT32_MAX),
	U64(4, data.seq),
	BYTES(5, data.payload, 1, WIRE_MAX_PAYLOAD),
};

MSG(hello_msg, hello_rows, 0);
MSG(welcome_msg, welcome_rows, 0);
MSG(ack_msg, ack_rows, 0);
MSG(nack_msg, nack_rows, 0);
MSG(close_msg, close_rows, 0);
MSG(data_msg, data_rows, 0);

/* Field numbers equal wire_type_t values, so the body's number is the
 * frame's type. */
static const wire_field_t frame_rows[] = {
	BODY(WIRE_HELLO, hello_msg),
	BODY(WIRE_WELCOME, welcome_msg),
	BODY(WIRE_REFRESH, hello_msg),
	BODY(WIRE_ACK, ack_msg),
	BODY(WIRE_NACK, nack_msg),
	BODY(WIRE_CLOSE, close_msg),
	BODY(WIRE_DATA, data_msg),
};
MSG(frame_msg, frame_rows, 1);

static unsigned field_wt(const wire_field_t *fd)
{
	return fd->kind <= F_ROLE ? WT_VARINT : WT_LEN;
}

static void *field_ptr(const wire_field_t *fd, wire_frame_t *f)
{
	return (char *)f + fd->off;
}

static const void *field_cptr(const wire_field_t *fd, const wire_frame_t *f)
{
	return (const char *)f + fd->off;
}

/* ---- Decoding ---------------------------------------------------------- */

static int msg_decode(const wire_msg_t *m, const uint8_t *p, size_t len,
		      wire_frame_t *f);

/* The whole tag must match a row: an unknown field number, field number 0
 * or a wire type other than the schema's is malformed, never skipped. */
static int field_find(const wire_msg_t *m, uint64_t tag, size_t *idx)
{
	for (size_t i = 0; i < m->nfields; i++) {
		const wire_field_t *fd = &m->fields[i];

		if (tag == TAG(fd->num, field_wt(fd))) {
			*idx = i;
			return 0;
		}
	}
	return -ZK_EMALFORMED;
}

static int field_read_varint(const wire_field_t *fd, buf_reader_t *r,
			     wire_frame_t *f)
{
	uint64_t v;

	if (buf_read_varint(r, &v) < 0 || v > fd->max)
		return -ZK_EMALFORMED;
	switch (fd->kind) {
	case F_U32:
		*(uint32_t *)field_ptr(fd, f) = (uint32_t)v;
		return 0;
	case F_U64:
		*(uint64_t *)field_ptr(fd, f) = v;
		return 0;
	case F_ROLE:
		*(wire_role_t *)field_ptr(fd, f) = (wire_role_t)v;
		return 0;
	default:
		return -ZK_EMALFORMED;
	}
}

/* The length is checked against the row before the span is taken, and the
 * span only through the reader, so no sum of untrusted lengths is formed. */
static int field_read_len(const wire_field_t *fd, buf_reader_t *r,
			  wire_frame_t *f)
{
	uint64_t n;
	const uint8_t *p;

	if (buf_read_varint(r, &n) < 0 || n < fd->min || n > fd->max)
		return -ZK_EMALFORMED;
	if (buf_read_span(r, (size_t)n, &p) < 0)
		return -ZK_EMALFORMED;
	if (fd->kind == F_BODY) {
		f->type = (wire_type_t)fd->num;
		return msg_decode(fd->body, p, (size_t)n, f);
	}
	if (fd->kind == F_STR && memchr(p, 0, (size_t)n) != NULL)
		return -ZK_EMALFORMED;
	*(wire_slice_t *)field_ptr(fd, f) = (wire_slice_t){ p, (size_t)n };
	return 0;
}

/* A field that must not be empty may not be absent either. */
static int msg_complete(const wire_msg_t *m, uint32_t seen)
{
	if (m->oneof && seen == 0)
		return -ZK_EMALFORMED;
	for (size_t i = 0; i < m->nfields; i++)
		if (m->fields[i].min > 0 && (seen & (1u << i)) == 0)
			return -ZK_EMALFORMED;
	return 0;
}

/* Protobuf would let a repeated singular field or a second oneof member
 * overwrite the first; two readers of one message could then disagree on
 * its content, so either is refused here. */
static int msg_decode(const wire_msg_t *m, const uint8_t *p, size_t len,
		      wire_frame_t *f)
{
	buf_reader_t r;
	uint32_t seen = 0;

	buf_reader_init(&r, p, len);
	while (buf_avail(&r) > 0) {
		uint64_t tag;
		size_t i;
		int rc;

		if (buf_read_varint(&r, &tag) < 0 || field_find(m, tag, &i) < 0)
			return -ZK_EMALFORMED;
		if (m->oneof ? seen != 0 : (seen & (1u << i)) != 0)
			return -ZK_EMALFORMED;
		seen |= 1u << i;
		if (field_wt(&m->fields[i]) == WT_VARINT)
			rc = field_read_varint(&m->fields[i], &r, f);
		else
			rc = field_read_len(&m->fields[i], &r, f);
		if (rc < 0)
			return rc;
	}
	return msg_complete(m, seen);
}

void wire_iter_init(wire_iter_t *it, const uint8_t *msg, size_t len)
{
	buf_reader_init(&it->r, msg, len);
}

/* Works on a copy of the reader and commits only a fully checked frame,
 * so a failed call leaves the iterator where it was. */
int wire_next(wire_iter_t *it, wire_frame_t *out)
{
	buf_reader_t r = it->r;
	wire_frame_t f;
	uint64_t tag, n;
	const uint8_t *p;

	/* Nothing consumed and nothing left: a batch of no frames. */
	if (buf_avail(&r) == 0)
		return r.pos > 0 ? 0 : -ZK_EMALFORMED;
	if (buf_read_varint(&r, &tag) < 0 || tag != BATCH_TAG)
		return -ZK_EMALFORMED;
	if (buf_read_varint(&r, &n) < 0 || n > buf_avail(&r))
		return -ZK_EMALFORMED;
	if (buf_read_span(&r, (size_t)n, &p) < 0)
		return -ZK_EMALFORMED;
	memset(&f, 0, sizeof(f));
	if (msg_decode(&frame_msg, p, (size_t)n, &f) < 0)
		return -ZK_EMALFORMED;
	if (f.type == WIRE_DATA && f.u.data.dst.len == 0 && f.u.data.src.len == 0)
		return -ZK_EMALFORMED;
	it->r = r;
	*out = f;
	return 1;
}

int wire_validate(const uint8_t *msg, size_t len, size_t *count)
{
	wire_iter_t it;
	wire_frame_t f;
	size_t n = 0;
	int rc;

	wire_iter_init(&it, msg, len);
	while ((rc = wire_next(&it, &f)) == 1)
		n++;
	if (rc < 0)
		return rc;
	if (count != NULL)
		*count = n;
	return 0;
}

/* ---- Encoding ---------------------------------------------------------- */

static size_t msg_size(const wire_msg_t *m, const wire_frame_t *f);
static void msg_put(buf_writer_t *w, const wire_msg_t *m, const wire_frame_t *f);

static uint64_t field_varint(const wire_field_t *fd, const wire_frame_t *f)
{
	switch (fd->kind) {
	case F_U32:
		return *(const uint32_t *)field_cptr(fd, f);
	case F_U64:
		return *(const uint64_t *)field_cptr(fd, f);
	case F_ROLE:
		return (uint64_t)*(const wire_role_t *)field_cptr(fd, f);
	default:
		return 0;
	}
}

static wire_slice_t field_slice(const wire_field_t *fd, const wire_frame_t *f)
{
	return *(const wire_slice_t *)field_cptr(fd, f);
}

/* Bytes a field takes, 0 when omitted. Like protobuf-c for proto3, a zero
 * or empty scalar is left out, but the chosen oneof body is always written,
 * even when empty (an Ack of seq 0 is the two bytes 0x22 0x00). */
static size_t field_size(const wire_field_t *fd, const wire_frame_t *f)
{
	size_t tag = buf_varint_len(TAG(fd->num, field_wt(fd)));
	size_t n;

	if (fd->kind == F_BODY) {
		if (f->type != (wire_type_t)fd->num)
			return 0;
		n = msg_size(fd->body, f);
		return tag + buf_varint_len(n) + n;
	}
	if (field_wt(fd) == WT_VARINT) {
		uint64_t v = field_varint(fd, f);

		return v == 0 ? 0 : tag + buf_varint_len(v);
	}
	n = field_slice(fd, f).len;
	return n == 0 ? 0 : tag + buf_varint_len(n) + n;
}

static size_t msg_size(const wire_msg_t *m, const wire_frame_t *f)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nfields; i++)
		n += field_size(&m->fields[i], f);
	return n;
}

/* Omission follows field_size(); the body's size is taken once, since
 * sizing walks the whole body. */
static void field_put(buf_writer_t *w, const wire_field_t *fd,
		      const wire_frame_t *f)
{
	wire_slice_t s;
	uint64_t v;

	if (fd->kind == F_BODY) {
		if (f->type != (wire_type_t)fd->num)
			return;
		buf_put_varint(w, TAG(fd->num, WT_LEN));
		buf_put_varint(w, msg_size(fd->body, f));
		msg_put(w, fd->body, f);
	} else if (field_wt(fd) == WT_VARINT) {
		v = field_varint(fd, f);
		if (v == 0)
			return;
		buf_put_varint(w, TAG(fd->num, WT_VARINT));
		buf_put_varint(w, v);
	} else {
		s = field_slice(fd, f);
		if (s.len == 0)
			return;
		buf_put_varint(w, TAG(fd->num, WT_LEN));
		buf_put_varint(w, s.len);
		buf_put_bytes(w, s.p, s.len);
	}
}

static void msg_put(buf_writer_t *w, const wire_msg_t *m, const wire_frame_t *f)
{
	for (size_t i = 0; i < m->nfields; i++)
		field_put(w, &m->fields[i], f);
}

size_t wire_frame_size(const wire_frame_t *f)
{
	size_t n = msg_size(&frame_msg, f);

	return buf_varint_len(BATCH_TAG) + buf_varint_len(n) + n;
}

/* The size is known before the first byte goes out, so an entry is
 * written whole or not at all. */
void wire_put_frame(buf_writer_t *w, const wire_frame_t *f)
{
	size_t n = msg_size(&frame_msg, f);

	/* Every known type writes at least its body's tag and length; an
	 * empty Frame would be refused by any strict reader. */
	if (n == 0) {
		w->overflow = 1;
		return;
	}
	if (!buf_writer_fits(w, buf_varint_len(BATCH_TAG) + buf_varint_len(n) + n))
		return;
	buf_put_varint(w, BATCH_TAG);
	buf_put_varint(w, n);
	msg_put(w, &frame_msg, f);
}

static wire_slice_t cstr(const char *s)
{
	return (wire_slice_t){ (const uint8_t *)s, s != NULL ? strlen(s) : 0 };
}

void wire_put_hello(buf_writer_t *w, wire_type_t type, const uint8_t *token,
		    size_t token_len)
{
	wire_frame_t f = { .type = type };

	if (type != WIRE_HELLO && type != WIRE_REFRESH) {
		w->overflow = 1;
		return;
	}
	f.u.hello.token = (wire_slice_t){ token, token_len };
	wire_put_frame(w, &f);
}

void wire_put_welcome(buf_writer_t *w, const char *practice_id, wire_role_t role,
		      const char *endpoint_id, uint32_t max_message_bytes,
		      uint32_t max_payload_bytes)
{
	wire_frame_t f = { .type = WIRE_WELCOME };

	f.u.welcome.practice_id = cstr(practice_id);
	f.u.welcome.role = role;
	f.u.welcome.endpoint_id = cstr(endpoint_id);
	f.u.welcome.max_message_bytes = max_message_bytes;
	f.u.welcome.max_payload_bytes = max_payload_bytes;
	wire_put_frame(w, &f);
}

void wire_put_ack(buf_writer_t *w, uint64_t seq)
{
	wire_frame_t f = { .type = WIRE_ACK };

	f.u.ack.seq = seq;
	wire_put_frame(w, &f);
}

void wire_put_nack(buf_writer_t *w, uint32_t stream, uint64_t seq, uint32_t reason)
{
	wire_frame_t f = { .type = WIRE_NACK };

	f.u.nack.stream = stream;
	f.u.nack.seq = seq;
	f.u.nack.reason = reason;
	wire_put_frame(w, &f);
}

void wire_put_close(buf_writer_t *w, uint32_t reason, const char *detail)
{
	wire_frame_t f = { .type = WIRE_CLOSE };

	f.u.close.reason = reason;
	f.u.close.detail = cstr(detail);
	wire_put_frame(w, &f);
}

/* Data frames are the relay's hot path: they are sized and written here
 * directly, field by field in data_rows' order with the same omission
 * rules, instead of through the tables (which size a body once for its
 * length and again for each field). The unit tests hold both to the same
 * bytes. */
static size_t len_field(size_t n)
{
	return n == 0 ? 0 : buf_varint_len(TAG(1, WT_LEN)) + buf_varint_len(n) + n;
}

static size_t varint_field(uint64_t v)
{
	return v == 0 ? 0 : buf_varint_len(TAG(1, WT_VARINT)) + buf_varint_len(v);
}

_Static_assert(TAG(5, WT_LEN) < 128 && TAG(WIRE_DATA, WT_LEN) < 128 && BATCH_TAG < 128,
	       "one-byte tags: the field sizes above count one byte per tag");

static size_t data_body_size(size_t dst_len, size_t src_len, uint32_t stream, uint64_t seq,
			     size_t payload_len)
{
	return len_field(dst_len) + len_field(src_len) + varint_field(stream) +
	       varint_field(seq) + len_field(payload_len);
}

static void put_len_field(buf_writer_t *w, uint32_t num, const uint8_t *p, size_t n)
{
	if (n == 0)
		return;
	buf_put_varint(w, TAG(num, WT_LEN));
	buf_put_varint(w, n);
	buf_put_bytes(w, p, n);
}

static void put_varint_field(buf_writer_t *w, uint32_t num, uint64_t v)
{
	if (v == 0)
		return;
	buf_put_varint(w, TAG(num, WT_VARINT));
	buf_put_varint(w, v);
}

void wire_put_data(buf_writer_t *w, const uint8_t *dst, size_t dst_len,
		   const uint8_t *src, size_t src_len, uint32_t stream,
		   uint64_t seq, const uint8_t *payload, size_t payload_len)
{
	size_t body, frame;

	dst_len = dst != NULL ? dst_len : 0;
	src_len = src != NULL ? src_len : 0;
	payload_len = payload != NULL ? payload_len : 0;
	body = data_body_size(dst_len, src_len, stream, seq, payload_len);
	frame = 1 + buf_varint_len(body) + body;
	if (!buf_writer_fits(w, 1 + buf_varint_len(frame) + frame))
		return;
	buf_put_varint(w, BATCH_TAG);
	buf_put_varint(w, frame);
	buf_put_varint(w, TAG(WIRE_DATA, WT_LEN));
	buf_put_varint(w, body);
	put_len_field(w, 1, dst, dst_len);
	put_len_field(w, 2, src, src_len);
	put_varint_field(w, 3, stream);
	put_varint_field(w, 4, seq);
	put_len_field(w, 5, payload, payload_len);
}

size_t wire_data_size(size_t dst_len, size_t src_len, uint32_t stream,
		      uint64_t seq, size_t payload_len)
{
	size_t body = data_body_size(dst_len, src_len, stream, seq, payload_len);
	size_t frame = 1 + buf_varint_len(body) + body;

	return 1 + buf_varint_len(frame) + frame;
}
