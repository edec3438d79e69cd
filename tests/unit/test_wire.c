/* wire.c against protobuf-c: every frame type both ways, batches, the
 * strict rules one by one, and robustness on truncated and mutated input.
 *
 * Inputs are decoded from heap copies of their exact size, so a read past
 * the end is an ASan crash, not a silent pass. Whenever the strict decoder
 * accepts a message, protobuf-c must accept it too and read the same
 * values: the decoder may only ever be stricter than protobuf. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "suites.h"
#include "wire.h"
#include "zkerr.h"
#include "zkrelay.pb-c.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_SAMPLES 24
#define BAD (-ZK_EMALFORMED)

/* ---- Samples: one frame as protobuf-c holds it and as wire_frame_t ---- */

typedef struct {
	wire_frame_t w;
	Zkrelay__V1__Frame pc;
	union {
		Zkrelay__V1__Hello hello;
		Zkrelay__V1__Welcome welcome;
		Zkrelay__V1__Refresh refresh;
		Zkrelay__V1__Ack ack;
		Zkrelay__V1__Nack nack;
		Zkrelay__V1__Close close;
		Zkrelay__V1__Data data;
	} body;
} sample_t;

static sample_t samples[MAX_SAMPLES];
static size_t nsamples;
/* Samples before this index are small enough for byte-by-byte loops. */
static size_t nsmall;

static char token_max[WIRE_MAX_TOKEN + 2];
static char detail_max[WIRE_MAX_DETAIL + 2];
static char id_max[WIRE_MAX_ID + 2];
static char addr_max[WIRE_MAX_ADDR + 2];
static uint8_t payload_max[WIRE_MAX_PAYLOAD + 1];
/* Bytes fields may hold NUL; only strings may not. */
static const uint8_t payload_small[] = { 0x00, 0x01, 0xff, 0x00, 0x80 };

static wire_slice_t slice_of(const char *s)
{
	return (wire_slice_t){ (const uint8_t *)s, s != NULL ? strlen(s) : 0 };
}

static sample_t *sample_new(wire_type_t type)
{
	sample_t *s;

	ck_assert_uint_lt(nsamples, MAX_SAMPLES);
	s = &samples[nsamples++];
	memset(s, 0, sizeof(*s));
	zkrelay__v1__frame__init(&s->pc);
	s->w.type = type;
	/* Frame's oneof cases are numbered like its fields and wire_type_t. */
	s->pc.body_case = (Zkrelay__V1__Frame__BodyCase)type;
	return s;
}

static void add_hello(wire_type_t type, const char *token)
{
	sample_t *s = sample_new(type);

	s->w.u.hello.token = slice_of(token);
	if (type == WIRE_HELLO) {
		zkrelay__v1__hello__init(&s->body.hello);
		s->body.hello.token = (char *)token;
		s->pc.hello = &s->body.hello;
	} else {
		zkrelay__v1__refresh__init(&s->body.refresh);
		s->body.refresh.token = (char *)token;
		s->pc.refresh = &s->body.refresh;
	}
}

static void add_welcome(const char *pid, wire_role_t role, const char *eid,
			uint32_t max_msg, uint32_t max_payload)
{
	sample_t *s = sample_new(WIRE_WELCOME);
	Zkrelay__V1__Welcome *m = &s->body.welcome;

	s->w.u.welcome.practice_id = slice_of(pid);
	s->w.u.welcome.role = role;
	s->w.u.welcome.endpoint_id = slice_of(eid);
	s->w.u.welcome.max_message_bytes = max_msg;
	s->w.u.welcome.max_payload_bytes = max_payload;
	zkrelay__v1__welcome__init(m);
	m->practice_id = (char *)pid;
	m->role = (Zkrelay__V1__Role)role;
	m->endpoint_id = (char *)eid;
	m->max_message_bytes = max_msg;
	m->max_payload_bytes = max_payload;
	s->pc.welcome = m;
}

static void add_ack(uint64_t seq)
{
	sample_t *s = sample_new(WIRE_ACK);

	s->w.u.ack.seq = seq;
	zkrelay__v1__ack__init(&s->body.ack);
	s->body.ack.seq = seq;
	s->pc.ack = &s->body.ack;
}

static void add_nack(uint32_t stream, uint64_t seq, uint32_t reason)
{
	sample_t *s = sample_new(WIRE_NACK);

	s->w.u.nack.stream = stream;
	s->w.u.nack.seq = seq;
	s->w.u.nack.reason = reason;
	zkrelay__v1__nack__init(&s->body.nack);
	s->body.nack.stream = stream;
	s->body.nack.seq = seq;
	s->body.nack.reason = (Zkrelay__V1__Reason)reason;
	s->pc.nack = &s->body.nack;
}

/* detail NULL leaves protobuf-c's default empty string in place. */
static void add_close(uint32_t reason, const char *detail)
{
	sample_t *s = sample_new(WIRE_CLOSE);

	s->w.u.close.reason = reason;
	s->w.u.close.detail = slice_of(detail);
	zkrelay__v1__close__init(&s->body.close);
	s->body.close.reason = (Zkrelay__V1__Reason)reason;
	if (detail != NULL)
		s->body.close.detail = (char *)detail;
	s->pc.close = &s->body.close;
}

static void add_data(const char *dst, const char *src, uint32_t stream,
		     uint64_t seq, const uint8_t *payload, size_t n)
{
	sample_t *s = sample_new(WIRE_DATA);
	Zkrelay__V1__Data *m = &s->body.data;

	s->w.u.data.dst = slice_of(dst);
	s->w.u.data.src = slice_of(src);
	s->w.u.data.stream = stream;
	s->w.u.data.seq = seq;
	s->w.u.data.payload = (wire_slice_t){ payload, n };
	zkrelay__v1__data__init(m);
	m->dst = (char *)dst;
	if (src != NULL)
		m->src = (char *)src;
	m->stream = stream;
	m->seq = seq;
	m->payload.data = (uint8_t *)payload;
	m->payload.len = n;
	s->pc.data = m;
}

/* Checked fixture: runs in each test's own process. */
static void samples_init(void)
{
	memset(token_max, 'T', WIRE_MAX_TOKEN);
	memset(detail_max, 'd', WIRE_MAX_DETAIL);
	memset(id_max, 'i', WIRE_MAX_ID);
	memset(addr_max, 'a', WIRE_MAX_ADDR);
	for (size_t i = 0; i < sizeof(payload_max); i++)
		payload_max[i] = (uint8_t)(i * 7);
	nsamples = 0;
	add_hello(WIRE_HELLO, "v4.public.eyJzdWIiOiJlMSJ9");
	add_hello(WIRE_HELLO, "");
	add_hello(WIRE_REFRESH, "v4.public.refreshed");
	add_welcome("p1", WIRE_ROLE_SAFE, "e1", 1u << 20, WIRE_MAX_PAYLOAD);
	add_welcome("", WIRE_ROLE_NONE, "", 0, 0);
	add_ack(0);
	add_ack(1);
	add_nack(7, 300, ZK_EQUEUEFULL);
	add_nack(0, 0, ZK_OK);
	add_close(ZK_EGOINGAWAY, "shutting down");
	add_close(ZK_OK, NULL);
	add_data("p1/e2", NULL, 1, 1, payload_small, sizeof(payload_small));
	nsmall = nsamples;
	add_hello(WIRE_REFRESH, token_max);
	add_welcome(id_max, WIRE_ROLE_CLIENT, id_max, UINT32_MAX, UINT32_MAX);
	add_ack(UINT64_MAX);
	add_nack(UINT32_MAX, UINT64_MAX, ZK_ETEXT);
	add_close(ZK_ETEXT, detail_max);
	add_data(addr_max, addr_max, UINT32_MAX, UINT64_MAX, payload_max,
		 WIRE_MAX_PAYLOAD);
}

/* ---- Comparing a decoded frame with protobuf-c's view of it ---------- */

/* Plain comparisons, asserted once per frame by the caller: Check logs
 * every passing assertion, which would dominate the mutation loop. */
static int same_str(wire_slice_t s, const char *c)
{
	size_t n = c != NULL ? strlen(c) : 0;

	return s.len == n && (n == 0 || memcmp(s.p, c, n) == 0);
}

static int same_welcome(const wire_frame_t *w, const Zkrelay__V1__Welcome *m)
{
	return same_str(w->u.welcome.practice_id, m->practice_id) &&
	       (int)w->u.welcome.role == (int)m->role &&
	       same_str(w->u.welcome.endpoint_id, m->endpoint_id) &&
	       w->u.welcome.max_message_bytes == m->max_message_bytes &&
	       w->u.welcome.max_payload_bytes == m->max_payload_bytes;
}

static int same_data(const wire_frame_t *w, const Zkrelay__V1__Data *m)
{
	return same_str(w->u.data.dst, m->dst) && same_str(w->u.data.src, m->src) &&
	       w->u.data.stream == m->stream && w->u.data.seq == m->seq &&
	       w->u.data.payload.len == m->payload.len &&
	       (m->payload.len == 0 ||
		memcmp(w->u.data.payload.p, m->payload.data, m->payload.len) == 0);
}

static int same_body(const wire_frame_t *w, const Zkrelay__V1__Frame *pc)
{
	switch (w->type) {
	case WIRE_HELLO:
		return same_str(w->u.hello.token, pc->hello->token);
	case WIRE_REFRESH:
		return same_str(w->u.hello.token, pc->refresh->token);
	case WIRE_WELCOME:
		return same_welcome(w, pc->welcome);
	case WIRE_ACK:
		return w->u.ack.seq == pc->ack->seq;
	case WIRE_NACK:
		return w->u.nack.stream == pc->nack->stream &&
		       w->u.nack.seq == pc->nack->seq &&
		       w->u.nack.reason == (uint32_t)pc->nack->reason;
	case WIRE_CLOSE:
		return w->u.close.reason == (uint32_t)pc->close->reason &&
		       same_str(w->u.close.detail, pc->close->detail);
	case WIRE_DATA:
		return same_data(w, pc->data);
	default:
		return 0;
	}
}

static int same_frame(const wire_frame_t *w, const Zkrelay__V1__Frame *pc)
{
	return (int)w->type == (int)pc->body_case && same_body(w, pc);
}

#define check_same(w, pc) ck_assert_msg(same_frame((w), (pc)), "frame differs")

/* ---- Helpers ---------------------------------------------------------- */

static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n > 0 ? n : 1);

	ck_assert_ptr_nonnull(c);
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

/* Packs samples [from, to) as one Batch with protobuf-c, into a heap
 * buffer of exactly the packed size. */
static uint8_t *pc_pack(size_t from, size_t to, size_t *len)
{
	Zkrelay__V1__Batch b = ZKRELAY__V1__BATCH__INIT;
	Zkrelay__V1__Frame *frames[MAX_SAMPLES];
	uint8_t *p;

	for (size_t i = from; i < to; i++)
		frames[i - from] = &samples[i].pc;
	b.n_frames = to - from;
	b.frames = frames;
	*len = zkrelay__v1__batch__get_packed_size(&b);
	p = malloc(*len > 0 ? *len : 1);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(zkrelay__v1__batch__pack(&b, p), *len);
	return p;
}

/* Encodes through the per-type API the relay calls, not wire_put_frame. */
static void put_by_api(buf_writer_t *w, const wire_frame_t *f)
{
	switch (f->type) {
	case WIRE_HELLO:
	case WIRE_REFRESH:
		wire_put_hello(w, f->type, f->u.hello.token.p, f->u.hello.token.len);
		break;
	case WIRE_WELCOME:
		wire_put_welcome(w, (const char *)f->u.welcome.practice_id.p,
				 f->u.welcome.role,
				 (const char *)f->u.welcome.endpoint_id.p,
				 f->u.welcome.max_message_bytes,
				 f->u.welcome.max_payload_bytes);
		break;
	case WIRE_ACK:
		wire_put_ack(w, f->u.ack.seq);
		break;
	case WIRE_NACK:
		wire_put_nack(w, f->u.nack.stream, f->u.nack.seq, f->u.nack.reason);
		break;
	case WIRE_CLOSE:
		wire_put_close(w, f->u.close.reason, (const char *)f->u.close.detail.p);
		break;
	case WIRE_DATA:
		wire_put_data(w, f->u.data.dst.p, f->u.data.dst.len, f->u.data.src.p,
			      f->u.data.src.len, f->u.data.stream, f->u.data.seq,
			      f->u.data.payload.p, f->u.data.payload.len);
		break;
	default:
		ck_abort_msg("unexpected frame type %d", (int)f->type);
	}
}

/* 1 if protobuf-c reads an accepted message as the same frames. */
static int pc_agrees(const uint8_t *p, size_t n, size_t count)
{
	Zkrelay__V1__Batch *b = zkrelay__v1__batch__unpack(NULL, n, p);
	wire_iter_t it;
	wire_frame_t f;
	int ok = b != NULL && b->n_frames == count;

	wire_iter_init(&it, p, n);
	for (size_t i = 0; ok && i < count; i++)
		ok = wire_next(&it, &f) == 1 && same_frame(&f, b->frames[i]);
	if (b != NULL)
		zkrelay__v1__batch__free_unpacked(b, NULL);
	return ok;
}

/* wire_validate() on an exact-size copy; cross-checked when accepted. */
static int msg_rc(const uint8_t *msg, size_t n)
{
	uint8_t *p = exact_copy(msg, n);
	size_t count = 0;
	int rc = wire_validate(p, n, &count);

	ck_assert(rc == 0 || rc == BAD);
	if (rc == 0)
		ck_assert_msg(pc_agrees(p, n, count), "protobuf-c disagrees");
	free(p);
	return rc;
}

/* Wraps bytes as one length-delimited field `num` and hands the result,
 * a Frame inside a Batch entry or a body inside a Frame, further out. */
static int wrap_rc(unsigned num, const uint8_t *inner, size_t n, int is_body)
{
	size_t cap = n + 16;
	uint8_t *p = malloc(cap);
	buf_writer_t w;
	int rc;

	ck_assert_ptr_nonnull(p);
	buf_writer_init(&w, p, cap);
	buf_put_varint(&w, (uint64_t)num << 3 | 2);
	buf_put_varint(&w, n);
	buf_put_bytes(&w, inner, n);
	ck_assert(buf_writer_ok(&w));
	rc = is_body ? wrap_rc(1, p, w.len, 0) : msg_rc(p, w.len);
	free(p);
	return rc;
}

static int frame_rc(const uint8_t *frame, size_t n)
{
	return wrap_rc(1, frame, n, 0);
}

static int body_rc(wire_type_t type, const uint8_t *body, size_t n)
{
	return wrap_rc((unsigned)type, body, n, 1);
}

/* Raw body bytes under construction. */
static uint8_t scratch[2 * WIRE_MAX_PAYLOAD];
static buf_writer_t raw;

static buf_writer_t *raw_begin(void)
{
	buf_writer_init(&raw, scratch, sizeof(scratch));
	return &raw;
}

static int raw_rc(wire_type_t type)
{
	ck_assert(buf_writer_ok(&raw));
	return body_rc(type, raw.p, raw.len);
}

static void put_var(buf_writer_t *w, uint64_t num, uint64_t v)
{
	buf_put_varint(w, num << 3);
	buf_put_varint(w, v);
}

static void put_len(buf_writer_t *w, uint64_t num, const void *p, size_t n)
{
	buf_put_varint(w, num << 3 | 2);
	buf_put_varint(w, n);
	buf_put_bytes(w, p, n);
}

static void put_str(buf_writer_t *w, uint64_t num, const char *s)
{
	put_len(w, num, s, strlen(s));
}

/* Starts a Data body with a dst and a payload of n bytes. */
static buf_writer_t *data_begin(const char *dst, size_t n)
{
	buf_writer_t *w = raw_begin();

	put_str(w, 1, dst);
	put_len(w, 5, payload_max, n);
	return w;
}

/* ---- Round trips ------------------------------------------------------ */

START_TEST(test_decode_protobuf_c)
{
	for (size_t i = 0; i < nsamples; i++) {
		size_t len;
		uint8_t *p = pc_pack(i, i + 1, &len);
		wire_iter_t it;
		wire_frame_t f;

		wire_iter_init(&it, p, len);
		ck_assert_msg(wire_next(&it, &f) == 1, "sample %zu", i);
		check_same(&f, &samples[i].pc);
		ck_assert_int_eq(wire_next(&it, &f), 0);
		ck_assert_int_eq(wire_next(&it, &f), 0);
		free(p);
	}
}
END_TEST

/* Encodes sample i with put(), compares bytes with protobuf-c's pack and
 * the value with protobuf-c's unpack. */
static void check_encoding(size_t i, int by_api)
{
	size_t len;
	uint8_t *want = pc_pack(i, i + 1, &len);
	uint8_t *got = malloc(len);
	Zkrelay__V1__Batch *b;
	buf_writer_t w;

	ck_assert_ptr_nonnull(got);
	buf_writer_init(&w, got, len);
	if (by_api)
		put_by_api(&w, &samples[i].w);
	else
		wire_put_frame(&w, &samples[i].w);
	ck_assert_msg(buf_writer_ok(&w), "sample %zu", i);
	ck_assert_uint_eq(w.len, len);
	ck_assert_uint_eq(wire_frame_size(&samples[i].w), len);
	ck_assert_mem_eq(got, want, len);
	b = zkrelay__v1__batch__unpack(NULL, w.len, got);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b->n_frames, 1);
	check_same(&samples[i].w, b->frames[0]);
	zkrelay__v1__batch__free_unpacked(b, NULL);
	free(got);
	free(want);
}

START_TEST(test_encode_api_protobuf_c)
{
	for (size_t i = 0; i < nsamples; i++)
		check_encoding(i, 1);
}
END_TEST

START_TEST(test_encode_frame_protobuf_c)
{
	for (size_t i = 0; i < nsamples; i++)
		check_encoding(i, 0);
}
END_TEST

START_TEST(test_batch_decode)
{
	size_t len, count = 0;
	uint8_t *p = pc_pack(0, nsamples, &len);
	wire_iter_t it;
	wire_frame_t f;

	wire_iter_init(&it, p, len);
	for (size_t i = 0; i < nsamples; i++) {
		ck_assert_int_eq(wire_next(&it, &f), 1);
		check_same(&f, &samples[i].pc);
	}
	ck_assert_int_eq(wire_next(&it, &f), 0);
	ck_assert_int_eq(wire_validate(p, len, &count), 0);
	ck_assert_uint_eq(count, nsamples);
	free(p);
}
END_TEST

START_TEST(test_batch_encode)
{
	size_t len;
	uint8_t *want = pc_pack(0, nsamples, &len);
	uint8_t *got = malloc(len);
	buf_writer_t w;

	ck_assert_ptr_nonnull(got);
	buf_writer_init(&w, got, len);
	for (size_t i = 0; i < nsamples; i++)
		put_by_api(&w, &samples[i].w);
	ck_assert(buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, len);
	ck_assert_mem_eq(got, want, len);
	ck_assert_int_eq(msg_rc(got, len), 0);
	free(got);
	free(want);
}
END_TEST

/* Decoded slices point into the caller's message; nothing is copied. */
START_TEST(test_zero_copy)
{
	size_t i = nsamples - 1, len;
	uint8_t *p = pc_pack(i, i + 1, &len);
	wire_iter_t it;
	wire_frame_t f;

	ck_assert_int_eq(samples[i].w.type, WIRE_DATA);
	wire_iter_init(&it, p, len);
	ck_assert_int_eq(wire_next(&it, &f), 1);
	ck_assert(f.u.data.payload.p > p && f.u.data.payload.p < p + len);
	ck_assert(f.u.data.dst.p > p && f.u.data.dst.p < p + len);
	ck_assert_uint_eq((size_t)(p + len - f.u.data.payload.p), WIRE_MAX_PAYLOAD);
	free(p);
}
END_TEST

/* The relay forwards a data frame with dst removed and src stamped. */
START_TEST(test_resend_stamped)
{
	size_t len, outlen;
	uint8_t *p = pc_pack(nsmall - 1, nsmall, &len);
	uint8_t out[256];
	Zkrelay__V1__Batch *b;
	wire_iter_t it;
	wire_frame_t f;
	buf_writer_t w;

	wire_iter_init(&it, p, len);
	ck_assert_int_eq(wire_next(&it, &f), 1);
	f.u.data.dst = (wire_slice_t){ NULL, 0 };
	f.u.data.src = slice_of("p1/e1");
	buf_writer_init(&w, out, sizeof(out));
	wire_put_frame(&w, &f);
	ck_assert(buf_writer_ok(&w));
	outlen = w.len;
	ck_assert_uint_eq(outlen, wire_frame_size(&f));
	b = zkrelay__v1__batch__unpack(NULL, outlen, out);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(b->frames[0]->data->dst, "");
	ck_assert_str_eq(b->frames[0]->data->src, "p1/e1");
	ck_assert(same_data(&f, b->frames[0]->data));
	ck_assert_uint_eq(zkrelay__v1__batch__get_packed_size(b), outlen);
	zkrelay__v1__batch__free_unpacked(b, NULL);
	free(p);
}
END_TEST

START_TEST(test_data_size)
{
	static const struct {
		size_t dst, src;
		uint32_t stream;
		uint64_t seq;
		size_t payload;
	} c[] = {
		{ 5, 0, 0, 0, 1 },
		{ 0, 0, 0, 0, 0 },
		{ 0, 5, 1, 1, 127 },
		{ 5, 5, 127, 128, 128 },
		{ 127, 128, 128, 1ull << 35, 16383 },
		{ WIRE_MAX_ADDR, WIRE_MAX_ADDR, UINT32_MAX, UINT64_MAX, 16384 },
		{ WIRE_MAX_ADDR, WIRE_MAX_ADDR, UINT32_MAX, UINT64_MAX, WIRE_MAX_PAYLOAD },
	};
	static uint8_t out[WIRE_MAX_PAYLOAD + 512];

	for (size_t i = 0; i < ARRAY_LEN(c); i++) {
		buf_writer_t w;

		buf_writer_init(&w, out, sizeof(out));
		wire_put_data(&w, c[i].dst ? (const uint8_t *)addr_max : NULL, c[i].dst,
			      c[i].src ? (const uint8_t *)addr_max : NULL, c[i].src,
			      c[i].stream, c[i].seq, payload_max, c[i].payload);
		ck_assert(buf_writer_ok(&w));
		ck_assert_uint_eq(w.len, wire_data_size(c[i].dst, c[i].src, c[i].stream,
							c[i].seq, c[i].payload));
	}
}
END_TEST

/* wire_put_data() writes Data frames without the tables; it must write
 * the very bytes wire_put_frame() writes for the same frame, and fail the
 * same way when they do not fit. */
START_TEST(test_data_direct_equals_tables)
{
	static const size_t lens[] = { 0, 1, 5, 127, 128, WIRE_MAX_ADDR };
	static const uint64_t nums[] = { 0, 1, 127, 128, 16384, UINT32_MAX, 1ull << 35,
					 UINT64_MAX };
	static const size_t payloads[] = { 1, 127, 128, 16383, 16384, WIRE_MAX_PAYLOAD };
	static uint8_t a[WIRE_MAX_PAYLOAD + 512], b[WIRE_MAX_PAYLOAD + 512];

	for (size_t d = 0; d < ARRAY_LEN(lens); d++)
	for (size_t s = 0; s < ARRAY_LEN(lens); s++)
	for (size_t k = 0; k < ARRAY_LEN(nums); k++)
	for (size_t p = 0; p < ARRAY_LEN(payloads); p++) {
		wire_frame_t f = { .type = WIRE_DATA };
		buf_writer_t wa, wb;
		uint32_t stream = (uint32_t)(nums[k] > UINT32_MAX ? UINT32_MAX : nums[k]);

		if (lens[d] == 0 && lens[s] == 0)
			continue;
		f.u.data.dst = (wire_slice_t){ (const uint8_t *)addr_max, lens[d] };
		f.u.data.src = (wire_slice_t){ (const uint8_t *)addr_max, lens[s] };
		f.u.data.stream = stream;
		f.u.data.seq = nums[ARRAY_LEN(nums) - 1 - k];
		f.u.data.payload = (wire_slice_t){ payload_max, payloads[p] };
		buf_writer_init(&wa, a, sizeof(a));
		buf_writer_init(&wb, b, sizeof(b));
		wire_put_frame(&wa, &f);
		wire_put_data(&wb, f.u.data.dst.p, lens[d], f.u.data.src.p, lens[s], stream,
			      f.u.data.seq, payload_max, payloads[p]);
		ck_assert(buf_writer_ok(&wa) && buf_writer_ok(&wb));
		ck_assert_uint_eq(wa.len, wb.len);
		ck_assert_mem_eq(a, b, wa.len);
		ck_assert_uint_eq(wb.len, wire_data_size(lens[d], lens[s], stream, f.u.data.seq,
							 payloads[p]));
		/* One byte short: nothing written, the writer marked. */
		buf_writer_init(&wb, b, wa.len - 1);
		wire_put_data(&wb, f.u.data.dst.p, lens[d], f.u.data.src.p, lens[s], stream,
			      f.u.data.seq, payload_max, payloads[p]);
		ck_assert(!buf_writer_ok(&wb));
		ck_assert_uint_eq(wb.len, 0);
	}
}
END_TEST

/* WIRE_DATA_OVERHEAD bounds what a delivered entry adds to payload and
 * src; the relay sizes outgoing messages with it. */
START_TEST(test_data_overhead)
{
	static const size_t payloads[] = { 1, 127, 128, 16384, WIRE_MAX_PAYLOAD };

	for (size_t src = 0; src <= WIRE_MAX_ADDR; src++)
		for (size_t i = 0; i < ARRAY_LEN(payloads); i++) {
			size_t n = wire_data_size(0, src, UINT32_MAX, UINT64_MAX,
						  payloads[i]);

			ck_assert_uint_le(n - payloads[i] - src, WIRE_DATA_OVERHEAD);
		}
}
END_TEST

/* ---- Encoder edges ---------------------------------------------------- */

/* An entry that does not fit is not started. */
START_TEST(test_put_all_or_nothing)
{
	const wire_frame_t *f = &samples[nsmall - 1].w;
	size_t n = wire_frame_size(f);
	uint8_t out[256];
	buf_writer_t w;

	ck_assert_uint_lt(2 * n, sizeof(out));
	memset(out, 0xee, sizeof(out));
	buf_writer_init(&w, out, n - 1);
	wire_put_frame(&w, f);
	ck_assert(!buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, 0);
	ck_assert_uint_eq(out[0], 0xee);

	buf_writer_init(&w, out, 2 * n - 1);
	wire_put_frame(&w, f);
	ck_assert(buf_writer_ok(&w));
	wire_put_frame(&w, f);
	ck_assert(!buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, n);
	ck_assert_uint_eq(out[n], 0xee);
	ck_assert_int_eq(msg_rc(out, w.len), 0);
}
END_TEST

START_TEST(test_put_bad_type)
{
	uint8_t out[64];
	wire_frame_t f;
	buf_writer_t w;

	buf_writer_init(&w, out, sizeof(out));
	wire_put_hello(&w, WIRE_ACK, (const uint8_t *)"t", 1);
	ck_assert(!buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, 0);

	memset(&f, 0, sizeof(f));
	buf_writer_init(&w, out, sizeof(out));
	wire_put_frame(&w, &f);
	ck_assert(!buf_writer_ok(&w));
	f.type = (wire_type_t)8;
	buf_writer_init(&w, out, sizeof(out));
	wire_put_frame(&w, &f);
	ck_assert(!buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, 0);
}
END_TEST

/* ---- Strict decoding: each rule with a passing control beside it ----- */

START_TEST(test_unknown_field)
{
	raw_begin(); /* an empty Data body: no dst, no payload */
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	data_begin("a/b", 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), 0);
	put_var(data_begin("a/b", 1), 99, 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_str(data_begin("a/b", 1), 99, "x");
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_var(data_begin("a/b", 1), 6, 0);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_var(raw_begin(), 2, 1); /* Ack has only field 1 */
	ck_assert_int_eq(raw_rc(WIRE_ACK), BAD);
}
END_TEST

START_TEST(test_unknown_oneof)
{
	static const uint8_t ok[] = { 0x22, 0x00 };     /* ack {} */
	static const uint8_t f8[] = { 0x42, 0x00 };     /* field 8 */
	static const uint8_t f0[] = { 0x02, 0x00 };     /* field 0 */
	static const uint8_t f15[] = { 0x7a, 0x00 };    /* field 15 */
	static const uint8_t big[] = { 0xfa, 0xff, 0xff, 0xff, 0x0f, 0x00 };

	ck_assert_int_eq(frame_rc(ok, sizeof(ok)), 0);
	ck_assert_int_eq(frame_rc(f8, sizeof(f8)), BAD);
	ck_assert_int_eq(frame_rc(f0, sizeof(f0)), BAD);
	ck_assert_int_eq(frame_rc(f15, sizeof(f15)), BAD);
	ck_assert_int_eq(frame_rc(big, sizeof(big)), BAD);
}
END_TEST

START_TEST(test_unknown_batch_field)
{
	static const uint8_t ok[] = { 0x0a, 0x02, 0x22, 0x00 };
	static const uint8_t f2[] = { 0x12, 0x02, 0x22, 0x00 };
	static const uint8_t tail[] = { 0x0a, 0x02, 0x22, 0x00, 0x12, 0x02, 0x22, 0x00 };

	ck_assert_int_eq(msg_rc(ok, sizeof(ok)), 0);
	ck_assert_int_eq(msg_rc(f2, sizeof(f2)), BAD);
	ck_assert_int_eq(msg_rc(tail, sizeof(tail)), BAD);
}
END_TEST

START_TEST(test_wrong_wire_type)
{
	static const uint8_t ack_len[] = { 0x0a, 0x01, 0x05 };
	static const uint8_t ack_i64[] = { 0x09, 1, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t ack_i32[] = { 0x0d, 1, 0, 0, 0 };
	static const uint8_t ack_group[] = { 0x0b, 0x0c };
	static const uint8_t ack_wt6[] = { 0x0e, 0x01 };
	static const uint8_t body_varint[] = { 0x20, 0x00 }; /* ack as varint */
	static const uint8_t entry_varint[] = { 0x08, 0x01 };

	ck_assert_int_eq(body_rc(WIRE_ACK, ack_len, sizeof(ack_len)), BAD);
	ck_assert_int_eq(body_rc(WIRE_ACK, ack_i64, sizeof(ack_i64)), BAD);
	ck_assert_int_eq(body_rc(WIRE_ACK, ack_i32, sizeof(ack_i32)), BAD);
	ck_assert_int_eq(body_rc(WIRE_ACK, ack_group, sizeof(ack_group)), BAD);
	ck_assert_int_eq(body_rc(WIRE_ACK, ack_wt6, sizeof(ack_wt6)), BAD);
	ck_assert_int_eq(frame_rc(body_varint, sizeof(body_varint)), BAD);
	ck_assert_int_eq(msg_rc(entry_varint, sizeof(entry_varint)), BAD);
	/* dst as a varint, payload as a varint */
	put_var(raw_begin(), 1, 1);
	put_len(&raw, 5, payload_max, 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_str(raw_begin(), 1, "a/b");
	put_var(&raw, 5, 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	/* stream as a string */
	put_str(data_begin("a/b", 1), 3, "1");
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
}
END_TEST

START_TEST(test_duplicate_field)
{
	static const uint8_t ack_once[] = { 0x08, 0x01 };
	static const uint8_t ack_twice[] = { 0x08, 0x01, 0x08, 0x02 };
	static const uint8_t ack_zero_twice[] = { 0x08, 0x00, 0x08, 0x00 };

	ck_assert_int_eq(body_rc(WIRE_ACK, ack_once, sizeof(ack_once)), 0);
	ck_assert_int_eq(body_rc(WIRE_ACK, ack_twice, sizeof(ack_twice)), BAD);
	ck_assert_int_eq(body_rc(WIRE_ACK, ack_zero_twice, sizeof(ack_zero_twice)), BAD);
	put_str(data_begin("a/b", 1), 1, "c/d");
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_len(data_begin("a/b", 1), 5, payload_max, 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_var(raw_begin(), 2, 1);
	put_var(&raw, 4, 5);
	put_var(&raw, 2, 1);
	ck_assert_int_eq(raw_rc(WIRE_WELCOME), BAD);
	put_str(raw_begin(), 2, "detail");
	put_str(&raw, 2, "");
	ck_assert_int_eq(raw_rc(WIRE_CLOSE), BAD);
}
END_TEST

/* Fields may come in any order; only repeats are refused. */
START_TEST(test_field_order_free)
{
	put_len(raw_begin(), 5, payload_max, 3);
	put_var(&raw, 4, 9);
	put_str(&raw, 1, "a/b");
	ck_assert_int_eq(raw_rc(WIRE_DATA), 0);
}
END_TEST

START_TEST(test_two_bodies)
{
	static const uint8_t hello_ack[] = { 0x0a, 0x00, 0x22, 0x00 };
	static const uint8_t ack_ack[] = { 0x22, 0x00, 0x22, 0x00 };
	static const uint8_t close_data[] = { 0x32, 0x02, 0x08, 0x01,
					      0x3a, 0x08, 0x0a, 0x03, 'a', '/', 'b',
					      0x2a, 0x01, 0x00 };

	ck_assert_int_eq(frame_rc(hello_ack, sizeof(hello_ack)), BAD);
	ck_assert_int_eq(frame_rc(ack_ack, sizeof(ack_ack)), BAD);
	ck_assert_int_eq(frame_rc(close_data, sizeof(close_data)), BAD);
	ck_assert_int_eq(frame_rc(close_data, 4), 0);
	ck_assert_int_eq(frame_rc(close_data + 4, sizeof(close_data) - 4), 0);
}
END_TEST

START_TEST(test_empty_frame)
{
	static const uint8_t empty[] = { 0x0a, 0x00 };
	static const uint8_t ack_then_empty[] = { 0x0a, 0x02, 0x22, 0x00, 0x0a, 0x00 };

	ck_assert_int_eq(msg_rc(empty, sizeof(empty)), BAD);
	ck_assert_int_eq(msg_rc(ack_then_empty, sizeof(ack_then_empty)), BAD);
	ck_assert_int_eq(msg_rc(ack_then_empty, 4), 0);
}
END_TEST

START_TEST(test_empty_message)
{
	static const uint8_t one[] = { 0x0a };
	wire_iter_t it;
	wire_frame_t f;
	size_t count = 99;

	ck_assert_int_eq(msg_rc(one, 0), BAD);
	wire_iter_init(&it, NULL, 0);
	ck_assert_int_eq(wire_next(&it, &f), BAD);
	ck_assert_int_eq(wire_validate(NULL, 0, &count), BAD);
	ck_assert_uint_eq(count, 99);
}
END_TEST

START_TEST(test_truncated)
{
	static const uint8_t len_past_end[] = { 0x0a, 0x05, 0x22, 0x00 };
	static const uint8_t tag_only[] = { 0x0a };
	static const uint8_t len_cut[] = { 0x0a, 0x80 };
	static const uint8_t body_cut[] = { 0x0a, 0x02, 0x22, 0x05, 0x08 };

	ck_assert_int_eq(msg_rc(len_past_end, sizeof(len_past_end)), BAD);
	ck_assert_int_eq(msg_rc(tag_only, sizeof(tag_only)), BAD);
	ck_assert_int_eq(msg_rc(len_cut, sizeof(len_cut)), BAD);
	ck_assert_int_eq(msg_rc(body_cut, sizeof(body_cut)), BAD);
	/* payload says 10 bytes, 3 follow */
	put_str(raw_begin(), 1, "a/b");
	buf_put_varint(&raw, 5 << 3 | 2);
	buf_put_varint(&raw, 10);
	buf_put_bytes(&raw, "xyz", 3);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	/* seq varint cut short */
	buf_put_varint(raw_begin(), 1 << 3);
	buf_put_u8(&raw, 0x80);
	ck_assert_int_eq(raw_rc(WIRE_ACK), BAD);
}
END_TEST

/* Lengths far past the buffer, including ones that would wrap an
 * unchecked pos + n or truncate to a small size_t on 32-bit hosts. */
START_TEST(test_length_beyond_buffer)
{
	static const uint64_t lens[] = { 3, 1ull << 32 | 2, 1ull << 63, UINT64_MAX,
					 UINT64_MAX - 1 };

	for (size_t i = 0; i < ARRAY_LEN(lens); i++) {
		uint8_t m[24];
		buf_writer_t w;

		buf_writer_init(&w, m, sizeof(m));
		buf_put_varint(&w, 0x0a);
		buf_put_varint(&w, lens[i]);
		buf_put_bytes(&w, "\x22\x00", 2);
		ck_assert_int_eq(msg_rc(m, w.len), BAD);

		buf_put_varint(raw_begin(), 1 << 3 | 2);
		buf_put_varint(&raw, lens[i]);
		buf_put_bytes(&raw, "a/b", 3);
		ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	}
}
END_TEST

START_TEST(test_payload_limits)
{
	data_begin("a/b", 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), 0);
	data_begin("a/b", WIRE_MAX_PAYLOAD);
	ck_assert_int_eq(raw_rc(WIRE_DATA), 0);
	data_begin("a/b", WIRE_MAX_PAYLOAD + 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	data_begin("a/b", 0); /* explicitly empty */
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_str(raw_begin(), 1, "a/b"); /* absent */
	put_var(&raw, 3, 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
}
END_TEST

START_TEST(test_dst_rules)
{
	addr_max[WIRE_MAX_ADDR] = '\0';
	data_begin(addr_max, 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), 0);
	data_begin("", 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_str(data_begin("", 1), 2, "a/b"); /* as the relay delivers it */
	ck_assert_int_eq(raw_rc(WIRE_DATA), 0);
	put_len(raw_begin(), 5, payload_max, 1); /* absent */
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	addr_max[WIRE_MAX_ADDR] = 'a';
	data_begin(addr_max, 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
}
END_TEST

START_TEST(test_string_nul)
{
	put_len(raw_begin(), 1, "a/\0b", 4);
	put_len(&raw, 5, payload_max, 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_len(data_begin("a/b", 1), 2, "c\0", 2);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_len(raw_begin(), 1, "\0", 1);
	ck_assert_int_eq(raw_rc(WIRE_HELLO), BAD);
	ck_assert_int_eq(raw_rc(WIRE_REFRESH), BAD);
	put_len(raw_begin(), 2, "x\0y", 3);
	ck_assert_int_eq(raw_rc(WIRE_CLOSE), BAD);
	put_len(raw_begin(), 1, "p\0", 2);
	ck_assert_int_eq(raw_rc(WIRE_WELCOME), BAD);
	put_len(raw_begin(), 3, "\0e", 2);
	ck_assert_int_eq(raw_rc(WIRE_WELCOME), BAD);
	/* NUL inside bytes is fine */
	put_str(raw_begin(), 1, "a/b");
	put_len(&raw, 5, "\0\0", 2);
	ck_assert_int_eq(raw_rc(WIRE_DATA), 0);
}
END_TEST

/* Checks a string field at its limit and one byte over. */
static void check_str_limit(wire_type_t type, unsigned num, size_t max)
{
	static char s[WIRE_MAX_TOKEN + 2];

	memset(s, 's', max + 1);
	put_len(raw_begin(), num, s, max);
	ck_assert_msg(raw_rc(type) == 0, "type %d field %u at %zu", type, num, max);
	put_len(raw_begin(), num, s, max + 1);
	ck_assert_msg(raw_rc(type) == BAD, "type %d field %u over", type, num);
}

START_TEST(test_string_limits)
{
	static const uint8_t empty_token[] = { 0x0a, 0x00 };

	check_str_limit(WIRE_HELLO, 1, WIRE_MAX_TOKEN);
	check_str_limit(WIRE_REFRESH, 1, WIRE_MAX_TOKEN);
	check_str_limit(WIRE_CLOSE, 2, WIRE_MAX_DETAIL);
	check_str_limit(WIRE_WELCOME, 1, WIRE_MAX_ID);
	check_str_limit(WIRE_WELCOME, 3, WIRE_MAX_ID);
	ck_assert_int_eq(body_rc(WIRE_HELLO, empty_token, sizeof(empty_token)), 0);
	ck_assert_int_eq(body_rc(WIRE_HELLO, NULL, 0), 0);
	ck_assert_int_eq(body_rc(WIRE_REFRESH, NULL, 0), 0);
	/* src, at and over its limit */
	put_len(data_begin("a/b", 1), 2, addr_max, WIRE_MAX_ADDR);
	ck_assert_int_eq(raw_rc(WIRE_DATA), 0);
	put_len(data_begin("a/b", 1), 2, addr_max, WIRE_MAX_ADDR + 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
}
END_TEST

START_TEST(test_enum_range)
{
	/* -1 as protobuf writes a negative int32 enum: ten bytes. */
	static const uint64_t bad[] = { ZK_REASON_COUNT, 100, 1ull << 32, 1ull << 63, UINT64_MAX };

	put_var(raw_begin(), 3, ZK_REASON_COUNT - 1);
	ck_assert_int_eq(raw_rc(WIRE_NACK), 0);
	put_var(raw_begin(), 1, ZK_REASON_COUNT - 1);
	ck_assert_int_eq(raw_rc(WIRE_CLOSE), 0);
	put_var(raw_begin(), 2, WIRE_ROLE_CLIENT);
	ck_assert_int_eq(raw_rc(WIRE_WELCOME), 0);
	put_var(raw_begin(), 2, WIRE_ROLE_CLIENT + 1);
	ck_assert_int_eq(raw_rc(WIRE_WELCOME), BAD);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		put_var(raw_begin(), 3, bad[i]);
		ck_assert_int_eq(raw_rc(WIRE_NACK), BAD);
		put_var(raw_begin(), 1, bad[i]);
		ck_assert_int_eq(raw_rc(WIRE_CLOSE), BAD);
		put_var(raw_begin(), 2, bad[i]);
		ck_assert_int_eq(raw_rc(WIRE_WELCOME), BAD);
	}
}
END_TEST

START_TEST(test_u32_range)
{
	put_var(data_begin("a/b", 1), 3, UINT32_MAX);
	ck_assert_int_eq(raw_rc(WIRE_DATA), 0);
	put_var(data_begin("a/b", 1), 3, (uint64_t)UINT32_MAX + 1);
	ck_assert_int_eq(raw_rc(WIRE_DATA), BAD);
	put_var(data_begin("a/b", 1), 4, UINT64_MAX); /* seq is 64-bit */
	ck_assert_int_eq(raw_rc(WIRE_DATA), 0);
	put_var(raw_begin(), 1, (uint64_t)UINT32_MAX + 1);
	ck_assert_int_eq(raw_rc(WIRE_NACK), BAD);
	put_var(raw_begin(), 4, (uint64_t)UINT32_MAX + 1);
	ck_assert_int_eq(raw_rc(WIRE_WELCOME), BAD);
	put_var(raw_begin(), 5, UINT64_MAX);
	ck_assert_int_eq(raw_rc(WIRE_WELCOME), BAD);
	put_var(raw_begin(), 5, UINT32_MAX);
	ck_assert_int_eq(raw_rc(WIRE_WELCOME), 0);
}
END_TEST

START_TEST(test_trailing_bytes)
{
	static const uint8_t m[] = { 0x0a, 0x02, 0x22, 0x00, 0x00 };
	static const uint8_t m_tag[] = { 0x0a, 0x02, 0x22, 0x00, 0x0a };
	static const uint8_t in_frame[] = { 0x22, 0x00, 0x00 };
	static const uint8_t in_body[] = { 0x08, 0x01, 0x00 };

	ck_assert_int_eq(msg_rc(m, 4), 0);
	ck_assert_int_eq(msg_rc(m, sizeof(m)), BAD);
	ck_assert_int_eq(msg_rc(m_tag, sizeof(m_tag)), BAD);
	ck_assert_int_eq(frame_rc(in_frame, sizeof(in_frame)), BAD);
	ck_assert_int_eq(body_rc(WIRE_ACK, in_body, sizeof(in_body)), BAD);
}
END_TEST

START_TEST(test_overlong_varint)
{
	static const uint8_t entry_tag[] = { 0x8a, 0x00, 0x02, 0x22, 0x00 };
	static const uint8_t entry_len[] = { 0x0a, 0x82, 0x00, 0x22, 0x00 };
	static const uint8_t frame_tag[] = { 0xa2, 0x00, 0x00 };
	static const uint8_t seq[] = { 0x08, 0x81, 0x00 };
	static const uint8_t seq11[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0x81, 0x01 };
	static const uint8_t seq10[] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
					 0xff, 0xff, 0xff, 0x01 };

	ck_assert_int_eq(msg_rc(entry_tag, sizeof(entry_tag)), BAD);
	ck_assert_int_eq(msg_rc(entry_len, sizeof(entry_len)), BAD);
	ck_assert_int_eq(frame_rc(frame_tag, sizeof(frame_tag)), BAD);
	ck_assert_int_eq(body_rc(WIRE_ACK, seq, sizeof(seq)), BAD);
	ck_assert_int_eq(body_rc(WIRE_ACK, seq11, sizeof(seq11)), BAD);
	ck_assert_int_eq(body_rc(WIRE_ACK, seq10, sizeof(seq10)), 0);
}
END_TEST

/* Frames before a bad one are handed out; the bad one stops the batch,
 * and the iterator stays on it. */
START_TEST(test_iterator_stops)
{
	static const uint8_t m[] = { 0x0a, 0x04, 0x22, 0x02, 0x08, 0x05,
				     0x0a, 0x02, 0x42, 0x00,
				     0x0a, 0x02, 0x22, 0x00 };
	uint8_t *p = exact_copy(m, sizeof(m));
	wire_frame_t f, before;
	wire_iter_t it;
	size_t count = 99;

	wire_iter_init(&it, p, sizeof(m));
	ck_assert_int_eq(wire_next(&it, &f), 1);
	ck_assert_int_eq(f.type, WIRE_ACK);
	ck_assert_uint_eq(f.u.ack.seq, 5);
	memcpy(&before, &f, sizeof(f));
	ck_assert_int_eq(wire_next(&it, &f), BAD);
	ck_assert_int_eq(memcmp(&before, &f, sizeof(f)), 0);
	ck_assert_uint_eq(it.r.pos, 6);
	ck_assert_int_eq(wire_next(&it, &f), BAD);
	ck_assert_int_eq(wire_validate(p, sizeof(m), &count), BAD);
	ck_assert_uint_eq(count, 99);
	free(p);
}
END_TEST

/* ---- Robustness ------------------------------------------------------- */

/* Every prefix of a valid batch: a prefix ending on an entry boundary
 * holds that many whole frames; any other prefix is refused. */
START_TEST(test_truncations)
{
	size_t len, bounds[MAX_SAMPLES + 1], nb = 0;
	uint8_t *full = pc_pack(0, nsmall, &len);

	bounds[nb++] = 0;
	for (size_t i = 0; i < nsmall; i++) {
		bounds[nb] = bounds[nb - 1] + wire_frame_size(&samples[i].w);
		nb++;
	}
	ck_assert_uint_eq(bounds[nb - 1], len);
	for (size_t k = 0, b = 0; k < len; k++) {
		uint8_t *p = exact_copy(full, k);
		size_t count = 0;
		int rc = wire_validate(p, k, &count);

		if (k == bounds[b + 1])
			b++;
		if (k > 0 && k == bounds[b]) {
			ck_assert_msg(rc == 0, "prefix %zu", k);
			ck_assert_uint_eq(count, b);
		} else {
			ck_assert_msg(rc == BAD, "prefix %zu", k);
		}
		free(p);
	}
	free(full);
}
END_TEST

/* Every single-byte change of a small valid batch: no crash, and whatever
 * is accepted protobuf-c reads the same way. pc_pack's buffer already has
 * the exact size, so it is mutated in place. */
START_TEST(test_mutations)
{
	size_t len, accepted = 0;
	uint8_t *full = pc_pack(0, nsmall, &len);

	for (size_t i = 0; i < len; i++) {
		uint8_t orig = full[i];

		for (unsigned v = 0; v < 256; v++) {
			size_t count;

			if (v == orig)
				continue;
			full[i] = (uint8_t)v;
			if (wire_validate(full, len, &count) == 0) {
				if (!pc_agrees(full, len, count))
					ck_abort_msg("byte %zu = 0x%02x: protobuf-c disagrees", i, v);
				accepted++;
			}
		}
		full[i] = orig;
	}
	/* Payload bytes and some values may change freely. */
	ck_assert_uint_gt(accepted, 0);
	free(full);
}
END_TEST

Suite *wire_suite(void)
{
	Suite *s = suite_create("wire");
	TCase *rt = tcase_create("round_trip");
	TCase *enc = tcase_create("encoder");
	TCase *strict = tcase_create("strict");
	TCase *robust = tcase_create("robust");
	TCase *all[] = { rt, enc, strict, robust };

	for (size_t i = 0; i < ARRAY_LEN(all); i++) {
		tcase_add_checked_fixture(all[i], samples_init, NULL);
		suite_add_tcase(s, all[i]);
	}
	tcase_add_test(rt, test_decode_protobuf_c);
	tcase_add_test(rt, test_encode_api_protobuf_c);
	tcase_add_test(rt, test_encode_frame_protobuf_c);
	tcase_add_test(rt, test_batch_decode);
	tcase_add_test(rt, test_batch_encode);
	tcase_add_test(rt, test_zero_copy);
	tcase_add_test(rt, test_resend_stamped);
	tcase_add_test(enc, test_data_size);
	tcase_add_test(enc, test_data_overhead);
	tcase_add_test(enc, test_data_direct_equals_tables);
	tcase_add_test(enc, test_put_all_or_nothing);
	tcase_add_test(enc, test_put_bad_type);
	tcase_add_test(strict, test_unknown_field);
	tcase_add_test(strict, test_unknown_oneof);
	tcase_add_test(strict, test_unknown_batch_field);
	tcase_add_test(strict, test_wrong_wire_type);
	tcase_add_test(strict, test_duplicate_field);
	tcase_add_test(strict, test_field_order_free);
	tcase_add_test(strict, test_two_bodies);
	tcase_add_test(strict, test_empty_frame);
	tcase_add_test(strict, test_empty_message);
	tcase_add_test(strict, test_truncated);
	tcase_add_test(strict, test_length_beyond_buffer);
	tcase_add_test(strict, test_payload_limits);
	tcase_add_test(strict, test_dst_rules);
	tcase_add_test(strict, test_string_nul);
	tcase_add_test(strict, test_string_limits);
	tcase_add_test(strict, test_enum_range);
	tcase_add_test(strict, test_u32_range);
	tcase_add_test(strict, test_trailing_bytes);
	tcase_add_test(strict, test_overlong_varint);
	tcase_add_test(strict, test_iterator_stops);
	tcase_add_test(robust, test_truncations);
	tcase_add_test(robust, test_mutations);
	return s;
}
