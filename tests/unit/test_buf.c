/* buf.h: bounded reader, varint rules, writer overflow. Inputs live in
 * heap copies of their exact size, so under ASan any read past len is a
 * crash rather than a silent pass. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "suites.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
	uint8_t *c = malloc(n > 0 ? n : 1);

	ck_assert_ptr_nonnull(c);
	if (n > 0)
		memcpy(c, p, n);
	return c;
}

typedef struct {
	const char *name;
	uint8_t b[12];
	size_t n;
	int ok;
	uint64_t value;
	size_t used; /* bytes consumed on success */
} varint_case_t;

static const varint_case_t varint_cases[] = {
	{ "zero", { 0x00 }, 1, 1, 0, 1 },
	{ "127", { 0x7f }, 1, 1, 127, 1 },
	{ "128", { 0x80, 0x01 }, 2, 1, 128, 2 },
	{ "300", { 0xac, 0x02 }, 2, 1, 300, 2 },
	{ "2^32-1", { 0xff, 0xff, 0xff, 0xff, 0x0f }, 5, 1, UINT32_MAX, 5 },
	{ "2^32", { 0x80, 0x80, 0x80, 0x80, 0x10 }, 5, 1, 1ull << 32, 5 },
	{ "2^63", { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 },
	  10, 1, 1ull << 63, 10 },
	{ "2^64-1", { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 },
	  10, 1, UINT64_MAX, 10 },
	{ "stops at end of varint", { 0x05, 0xaa, 0xbb }, 3, 1, 5, 1 },
	{ "overlong 0x80 0x00", { 0x80, 0x00 }, 2, 0, 0, 0 },
	{ "overlong 1", { 0x81, 0x00 }, 2, 0, 0, 0 },
	{ "overlong 3 bytes", { 0xff, 0x80, 0x00 }, 3, 0, 0, 0 },
	{ "overlong 10 bytes", { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 },
	  10, 0, 0, 0 },
	{ "10th byte 2 (65 bits)", { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 },
	  10, 0, 0, 0 },
	{ "10th byte 0x7f", { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f },
	  10, 0, 0, 0 },
	{ "11 bytes", { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x01 },
	  11, 0, 0, 0 },
	{ "empty", { 0 }, 0, 0, 0, 0 },
	{ "truncated 1", { 0x80 }, 1, 0, 0, 0 },
	{ "truncated 2", { 0xff, 0xff }, 2, 0, 0, 0 },
	{ "truncated 9", { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9, 0, 0, 0 },
};

/* Runs once per row of varint_cases (a loop test: _i is the row). */
START_TEST(test_varint_read)
{
	const varint_case_t *c = &varint_cases[_i];
	uint8_t *p = exact_copy(c->b, c->n);
	buf_reader_t r;
	uint64_t v = 0xdeadbeef;
	int rc;

	buf_reader_init(&r, p, c->n);
	rc = buf_read_varint(&r, &v);
	if (c->ok) {
		ck_assert_msg(rc == 0, "%s: rc %d", c->name, rc);
		ck_assert_uint_eq(v, c->value);
		ck_assert_uint_eq(r.pos, c->used);
	} else {
		ck_assert_msg(rc == -ZK_EMALFORMED, "%s: rc %d", c->name, rc);
		ck_assert_uint_eq(r.pos, 0);
		ck_assert_uint_eq(v, 0xdeadbeef);
	}
	free(p);
}
END_TEST

/* A failed read in the middle of a buffer leaves pos where it was. */
START_TEST(test_varint_fail_keeps_pos)
{
	static const uint8_t b[] = { 0x01, 0x80, 0x00 };
	uint8_t *p = exact_copy(b, sizeof(b));
	buf_reader_t r;
	uint64_t v;

	buf_reader_init(&r, p, sizeof(b));
	ck_assert_int_eq(buf_read_varint(&r, &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(buf_read_varint(&r, &v), -ZK_EMALFORMED);
	ck_assert_uint_eq(r.pos, 1);
	ck_assert_uint_eq(buf_avail(&r), 2);
	free(p);
}
END_TEST

static const uint64_t round_values[] = {
	0, 1, 127, 128, 255, 300, 16383, 16384, UINT32_MAX, 1ull << 32,
	(1ull << 63) - 1, 1ull << 63, UINT64_MAX,
};

START_TEST(test_varint_round_trip)
{
	uint8_t out[16];

	for (size_t i = 0; i < ARRAY_LEN(round_values); i++) {
		buf_writer_t w;
		buf_reader_t r;
		uint64_t v;

		buf_writer_init(&w, out, sizeof(out));
		buf_put_varint(&w, round_values[i]);
		ck_assert(buf_writer_ok(&w));
		ck_assert_uint_eq(w.len, buf_varint_len(round_values[i]));
		buf_reader_init(&r, out, w.len);
		ck_assert_int_eq(buf_read_varint(&r, &v), 0);
		ck_assert_uint_eq(v, round_values[i]);
		ck_assert_uint_eq(buf_avail(&r), 0);
	}
}
END_TEST

START_TEST(test_varint_len)
{
	ck_assert_uint_eq(buf_varint_len(0), 1);
	ck_assert_uint_eq(buf_varint_len(127), 1);
	ck_assert_uint_eq(buf_varint_len(128), 2);
	ck_assert_uint_eq(buf_varint_len(16383), 2);
	ck_assert_uint_eq(buf_varint_len(16384), 3);
	ck_assert_uint_eq(buf_varint_len(UINT32_MAX), 5);
	ck_assert_uint_eq(buf_varint_len((1ull << 63) - 1), 9);
	ck_assert_uint_eq(buf_varint_len(1ull << 63), 10);
	ck_assert_uint_eq(buf_varint_len(UINT64_MAX), 10);
}
END_TEST

START_TEST(test_reader_bounds)
{
	static const uint8_t b[] = { 0x11, 0x22, 0x33 };
	uint8_t *p = exact_copy(b, sizeof(b));
	const uint8_t *span = NULL;
	buf_reader_t r;
	uint8_t u = 0;

	buf_reader_init(&r, p, sizeof(b));
	ck_assert_int_eq(buf_read_span(&r, 4, &span), -ZK_EMALFORMED);
	ck_assert_ptr_null(span);
	ck_assert_int_eq(buf_read_u8(&r, &u), 0);
	ck_assert_uint_eq(u, 0x11);
	/* pos + n would wrap to a small number here; the check must not. */
	ck_assert_int_eq(buf_read_span(&r, SIZE_MAX, &span), -ZK_EMALFORMED);
	ck_assert_int_eq(buf_read_span(&r, SIZE_MAX - 1, &span), -ZK_EMALFORMED);
	ck_assert_uint_eq(r.pos, 1);
	ck_assert_int_eq(buf_read_span(&r, 2, &span), 0);
	ck_assert_ptr_eq(span, p + 1);
	ck_assert_uint_eq(buf_avail(&r), 0);
	ck_assert_int_eq(buf_read_u8(&r, &u), -ZK_EMALFORMED);
	ck_assert_uint_eq(u, 0x11);
	ck_assert_int_eq(buf_read_span(&r, 1, &span), -ZK_EMALFORMED);
	/* An empty span at the end is a valid read of nothing. */
	ck_assert_int_eq(buf_read_span(&r, 0, &span), 0);
	ck_assert_uint_eq(r.pos, 3);
	free(p);
}
END_TEST

START_TEST(test_reader_empty)
{
	buf_reader_t r;
	uint8_t u;
	uint64_t v;

	buf_reader_init(&r, NULL, 0);
	ck_assert_uint_eq(buf_avail(&r), 0);
	ck_assert_int_eq(buf_read_u8(&r, &u), -ZK_EMALFORMED);
	ck_assert_int_eq(buf_read_varint(&r, &v), -ZK_EMALFORMED);
}
END_TEST

START_TEST(test_writer_overflow)
{
	uint8_t out[4] = { 0xee, 0xee, 0xee, 0xee };
	buf_writer_t w;

	buf_writer_init(&w, out, 3);
	buf_put_u8(&w, 1);
	buf_put_bytes(&w, "\x02\x03", 2);
	ck_assert(buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, 3);
	buf_put_u8(&w, 4);
	ck_assert(!buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, 3);
	ck_assert_uint_eq(out[3], 0xee);
}
END_TEST

/* A varint or byte run that only partly fits writes none of it. */
START_TEST(test_writer_no_partial)
{
	uint8_t out[4] = { 0xee, 0xee, 0xee, 0xee };
	buf_writer_t w;

	buf_writer_init(&w, out, 1);
	buf_put_varint(&w, 128);
	ck_assert(!buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, 0);
	ck_assert_uint_eq(out[0], 0xee);

	buf_writer_init(&w, out, 3);
	buf_put_bytes(&w, "abcd", 4);
	ck_assert(!buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, 0);
	ck_assert_uint_eq(out[0], 0xee);
}
END_TEST

/* After one dropped write, later writes that would fit are dropped too. */
START_TEST(test_writer_sticky)
{
	uint8_t out[4] = { 0xee, 0xee, 0xee, 0xee };
	buf_writer_t w;

	buf_writer_init(&w, out, sizeof(out));
	buf_put_bytes(&w, "abcde", 5);
	buf_put_u8(&w, 1);
	buf_put_varint(&w, 1);
	ck_assert(!buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, 0);
	ck_assert_uint_eq(out[0], 0xee);
}
END_TEST

START_TEST(test_writer_fits)
{
	uint8_t out[2];
	buf_writer_t w;

	buf_writer_init(&w, out, sizeof(out));
	ck_assert_int_eq(buf_writer_fits(&w, 2), 1);
	ck_assert(buf_writer_ok(&w));
	ck_assert_int_eq(buf_writer_fits(&w, SIZE_MAX), 0);
	ck_assert(!buf_writer_ok(&w));
	ck_assert_int_eq(buf_writer_fits(&w, 0), 0);
}
END_TEST

START_TEST(test_writer_empty)
{
	buf_writer_t w;

	buf_writer_init(&w, NULL, 0);
	buf_put_bytes(&w, NULL, 0);
	ck_assert(buf_writer_ok(&w));
	buf_put_u8(&w, 0);
	ck_assert(!buf_writer_ok(&w));
	ck_assert_uint_eq(w.len, 0);
}
END_TEST

Suite *buf_suite(void)
{
	Suite *s = suite_create("buf");
	TCase *varint = tcase_create("varint");
	TCase *reader = tcase_create("reader");
	TCase *writer = tcase_create("writer");

	tcase_add_loop_test(varint, test_varint_read, 0, (int)ARRAY_LEN(varint_cases));
	tcase_add_test(varint, test_varint_fail_keeps_pos);
	tcase_add_test(varint, test_varint_round_trip);
	tcase_add_test(varint, test_varint_len);
	tcase_add_test(reader, test_reader_bounds);
	tcase_add_test(reader, test_reader_empty);
	tcase_add_test(writer, test_writer_overflow);
	tcase_add_test(writer, test_writer_no_partial);
	tcase_add_test(writer, test_writer_sticky);
	tcase_add_test(writer, test_writer_fits);
	tcase_add_test(writer, test_writer_empty);
	suite_add_tcase(s, varint);
	suite_add_tcase(s, reader);
	suite_add_tcase(s, writer);
	return s;
}
