/* b64url.c: RFC 4648 vectors in the URL alphabet, round trips checked
 * against OpenSSL's standard base64, and every refusal of the strict
 * decoder. Inputs live in heap copies of their exact size, so under ASan
 * any read past len is a crash rather than a silent pass. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "b64url.h"
#include "suites.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ROUND_TRIP_MAX 100
#define ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static char *exact_str(const char *s, size_t n)
{
	char *c = malloc(n > 0 ? n : 1);

	ck_assert_ptr_nonnull(c);
	if (n > 0)
		memcpy(c, s, n);
	return c;
}

/* 0 or the error of decoding s (strlen bytes, no NUL visible to the
 * decoder); on success the bytes land in out. */
static int decode_str(const char *s, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t n = strlen(s);
	char *c = exact_str(s, n);
	int rc = b64url_decode(c, n, out, cap, out_len);

	free(c);
	return rc;
}

/* Standard base64 by OpenSSL, moved to the URL alphabet, padding cut. */
static size_t reference_encode(const uint8_t *in, size_t len, char *out)
{
	int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);

	ck_assert_int_ge(n, 0);
	while (n > 0 && out[n - 1] == '=')
		n--;
	for (int k = 0; k < n; k++) {
		if (out[k] == '+')
			out[k] = '-';
		else if (out[k] == '/')
			out[k] = '_';
	}
	out[n] = '\0';
	return (size_t)n;
}

typedef struct {
	const char *raw;
	size_t raw_len;
	const char *enc;
} vector_t;

/* RFC 4648 section 10 without padding, and three bytes that exercise the
 * two characters where base64url differs from base64. */
static const vector_t vectors[] = {
	{ "", 0, "" },
	{ "f", 1, "Zg" },
	{ "fo", 2, "Zm8" },
	{ "foo", 3, "Zm9v" },
	{ "foob", 4, "Zm9vYg" },
	{ "fooba", 5, "Zm9vYmE" },
	{ "foobar", 6, "Zm9vYmFy" },
	{ "\xfb\xef\xff", 3, "--__" },
	{ "\xfb\xff", 2, "-_8" },
	{ "\x00\x00\x00", 3, "AAAA" },
};

START_TEST(test_rfc4648_encode)
{
	const vector_t *v = &vectors[_i];
	char out[16];
	size_t n = 0;

	ck_assert_int_eq(b64url_encode((const uint8_t *)v->raw, v->raw_len, out, strlen(v->enc), &n),
			 0);
	ck_assert_uint_eq(n, strlen(v->enc));
	ck_assert_mem_eq(out, v->enc, n);
	ck_assert_uint_eq(b64url_encoded_len(v->raw_len), n);
}
END_TEST

START_TEST(test_rfc4648_decode)
{
	const vector_t *v = &vectors[_i];
	uint8_t out[16];
	size_t n = 99;

	ck_assert_int_eq(decode_str(v->enc, out, v->raw_len, &n), 0);
	ck_assert_uint_eq(n, v->raw_len);
	ck_assert_mem_eq(out, v->raw, n);
	ck_assert_uint_eq(b64url_decoded_len(strlen(v->enc)), n);
}
END_TEST

/* _i is the length: random bytes encode as OpenSSL's base64 would, and
 * decode back to themselves with the exact capacity. */
START_TEST(test_round_trip)
{
	size_t len = (size_t)_i;
	uint8_t in[ROUND_TRIP_MAX], back[ROUND_TRIP_MAX];
	char enc[2 * ROUND_TRIP_MAX], ref[2 * ROUND_TRIP_MAX];
	size_t enc_len = 0, back_len = 0, need = b64url_encoded_len(len);

	if (len > 0)
		ck_assert_int_eq(RAND_bytes(in, (int)len), 1);
	ck_assert_int_eq(b64url_encode(in, len, enc, need, &enc_len), 0);
	ck_assert_uint_eq(enc_len, need);
	ck_assert_uint_eq(reference_encode(in, len, ref), enc_len);
	ck_assert_mem_eq(enc, ref, enc_len);

	char *c = exact_str(enc, enc_len);

	ck_assert_int_eq(b64url_decode(c, enc_len, back, b64url_decoded_len(enc_len), &back_len), 0);
	ck_assert_uint_eq(back_len, len);
	ck_assert_mem_eq(back, in, len);
	free(c);
}
END_TEST

START_TEST(test_lengths)
{
	ck_assert_uint_eq(b64url_encoded_len(0), 0);
	ck_assert_uint_eq(b64url_encoded_len(1), 2);
	ck_assert_uint_eq(b64url_encoded_len(2), 3);
	ck_assert_uint_eq(b64url_encoded_len(3), 4);
	ck_assert_uint_eq(b64url_encoded_len(64), 86);
	ck_assert_uint_eq(b64url_decoded_len(0), 0);
	ck_assert_uint_eq(b64url_decoded_len(2), 1);
	ck_assert_uint_eq(b64url_decoded_len(3), 2);
	ck_assert_uint_eq(b64url_decoded_len(4), 3);
	ck_assert_uint_eq(b64url_decoded_len(86), 64);
	/* Too long to encode in any buffer: never wraps to a small number. */
	ck_assert_uint_eq(b64url_encoded_len(SIZE_MAX), SIZE_MAX);
	ck_assert_uint_eq(b64url_encoded_len(SIZE_MAX / 4 * 3), SIZE_MAX - 3);
	ck_assert_uint_eq(b64url_encoded_len(SIZE_MAX / 4 * 3 + 3), SIZE_MAX);
}
END_TEST

/* _i is a byte value: in the alphabet it decodes to its index, anywhere
 * else it makes the whole input malformed, in each position of a group. */
START_TEST(test_every_byte_value)
{
	const char *hit = _i != 0 ? memchr(ALPHABET, _i, 64) : NULL;

	for (size_t pos = 0; pos < 4; pos++) {
		char s[4] = { 'A', 'A', 'A', 'A' };
		uint8_t out[3];
		size_t n = 0;
		int rc;

		s[pos] = (char)_i;
		char *c = exact_str(s, sizeof(s));

		rc = b64url_decode(c, sizeof(s), out, sizeof(out), &n);
		free(c);
		if (hit == NULL) {
			ck_assert_msg(rc == -ZK_EMALFORMED, "byte 0x%02x at %zu: rc %d", _i, pos, rc);
			continue;
		}
		uint32_t v = (uint32_t)(hit - ALPHABET);
		uint32_t w = v << (6 * (3 - pos));

		ck_assert_int_eq(rc, 0);
		ck_assert_uint_eq(n, 3);
		ck_assert_uint_eq(out[0], (w >> 16) & 0xff);
		ck_assert_uint_eq(out[1], (w >> 8) & 0xff);
		ck_assert_uint_eq(out[2], w & 0xff);
	}
}
END_TEST

START_TEST(test_refuse_padding)
{
	static const char *const padded[] = { "Zg==", "Zm8=", "Zg=", "Zg=A", "Zm9v====", "====",
					      "=", "Zm9vYg==", "Zm9vYmE=" };
	uint8_t out[16];
	size_t n = 77;

	for (size_t k = 0; k < ARRAY_LEN(padded); k++)
		ck_assert_msg(decode_str(padded[k], out, sizeof(out), &n) == -ZK_EMALFORMED, "%s",
			      padded[k]);
	ck_assert_uint_eq(n, 77);
}
END_TEST

START_TEST(test_refuse_standard_alphabet)
{
	static const char *const bad[] = { "+-__", "--_/", "+/8", "Zm9v+w", "Zm9v/w" };
	uint8_t out[16];
	size_t n = 0;

	for (size_t k = 0; k < ARRAY_LEN(bad); k++)
		ck_assert_msg(decode_str(bad[k], out, sizeof(out), &n) == -ZK_EMALFORMED, "%s", bad[k]);
}
END_TEST

START_TEST(test_refuse_whitespace_and_nul)
{
	static const char *const bad[] = { " Zm9v", "Zm9v ", "Zm 9v", "Zm9v\n", "Zm9v\r\n", "\tZm9v" };
	uint8_t out[16];
	size_t n = 0;

	for (size_t k = 0; k < ARRAY_LEN(bad); k++)
		ck_assert_msg(decode_str(bad[k], out, sizeof(out), &n) == -ZK_EMALFORMED, "[%s]",
			      bad[k]);
	/* An embedded NUL is a byte like any other outside the alphabet. */
	char *c = exact_str("Zm\0v", 4);

	ck_assert_int_eq(b64url_decode(c, 4, out, sizeof(out), &n), -ZK_EMALFORMED);
	free(c);
}
END_TEST

/* len % 4 == 1 is refused before any character is looked at. */
START_TEST(test_refuse_impossible_length)
{
	static const char *const bad[] = { "Z", "A", "Zm9vY", "Zm9vYmFyA", "AAAAAAAAA" };
	uint8_t out[16];
	size_t n = 55;

	for (size_t k = 0; k < ARRAY_LEN(bad); k++)
		ck_assert_msg(decode_str(bad[k], out, sizeof(out), &n) == -ZK_EMALFORMED, "%s", bad[k]);
	ck_assert_uint_eq(n, 55);
}
END_TEST

/* With two characters left only 8 of 12 bits carry data, with three 16
 * of 18: exactly the characters whose spare low bits are zero pass, and
 * those re-encode to the same string. */
START_TEST(test_refuse_noncanonical_tail)
{
	for (unsigned tail = 2; tail <= 3; tail++) {
		uint32_t spare = tail == 2 ? 0x0f : 0x03;

		for (uint32_t v = 0; v < 64; v++) {
			char s[3] = { 'Z', 'm', 'A' };
			char re[4];
			uint8_t out[2];
			size_t n = 0, m = 0;
			int rc;

			s[tail - 1] = ALPHABET[v];
			char *c = exact_str(s, tail);

			rc = b64url_decode(c, tail, out, sizeof(out), &n);
			free(c);
			if ((v & spare) != 0) {
				ck_assert_msg(rc == -ZK_EMALFORMED, "tail %u char %c", tail, s[tail - 1]);
				continue;
			}
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(n, tail - 1);
			ck_assert_int_eq(b64url_encode(out, n, re, sizeof(re), &m), 0);
			ck_assert_uint_eq(m, tail);
			ck_assert_mem_eq(re, s, tail);
		}
	}
}
END_TEST

/* The same bytes as "Zm8" and "Zg", spelled with stray low bits. */
START_TEST(test_refuse_noncanonical_examples)
{
	static const char *const bad[] = { "Zm9", "Zm-", "Zh", "Zv", "Zm9vYh", "Zm9vYmF" };
	uint8_t out[16];
	size_t n = 0;

	for (size_t k = 0; k < ARRAY_LEN(bad); k++)
		ck_assert_msg(decode_str(bad[k], out, sizeof(out), &n) == -ZK_EMALFORMED, "%s", bad[k]);
}
END_TEST

/* A refused input leaves no partial output behind. */
START_TEST(test_failure_wipes_output)
{
	uint8_t out[6];
	size_t n = 123;

	memset(out, 0xaa, sizeof(out));
	ck_assert_int_eq(decode_str("Zm9vY!", out, sizeof(out), &n), -ZK_EMALFORMED);
	ck_assert_uint_eq(n, 123);
	for (size_t k = 0; k < 3; k++)
		ck_assert_uint_eq(out[k], 0);
}
END_TEST

START_TEST(test_decode_capacity)
{
	uint8_t out[6];
	size_t n = 9;

	ck_assert_int_eq(decode_str("Zm9vYmFy", out, 5, &n), -ZK_EINVAL);
	ck_assert_int_eq(decode_str("Zm9vYmE", out, 4, &n), -ZK_EINVAL);
	ck_assert_int_eq(decode_str("Zg", NULL, 0, &n), -ZK_EINVAL);
	ck_assert_uint_eq(n, 9);
	ck_assert_int_eq(decode_str("Zm9vYmE", out, 5, &n), 0);
	ck_assert_uint_eq(n, 5);
	ck_assert_int_eq(b64url_decode(NULL, 0, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_encode_capacity)
{
	char out[8];
	size_t n = 9;

	ck_assert_int_eq(b64url_encode((const uint8_t *)"foobar", 6, out, 7, &n), -ZK_EINVAL);
	ck_assert_int_eq(b64url_encode((const uint8_t *)"fooba", 5, out, 6, &n), -ZK_EINVAL);
	ck_assert_uint_eq(n, 9);
	ck_assert_int_eq(b64url_encode((const uint8_t *)"foobar", 6, out, 8, &n), 0);
	ck_assert_uint_eq(n, 8);
}
END_TEST

START_TEST(test_null_arguments)
{
	uint8_t b[4];
	char s[8];
	size_t n = 0;

	ck_assert_int_eq(b64url_encode(NULL, 1, s, sizeof(s), &n), -ZK_EINVAL);
	ck_assert_int_eq(b64url_encode(b, 1, NULL, 8, &n), -ZK_EINVAL);
	ck_assert_int_eq(b64url_encode(b, 1, s, sizeof(s), NULL), -ZK_EINVAL);
	ck_assert_int_eq(b64url_decode(NULL, 4, b, sizeof(b), &n), -ZK_EINVAL);
	ck_assert_int_eq(b64url_decode("AAAA", 4, NULL, 3, &n), -ZK_EINVAL);
	ck_assert_int_eq(b64url_decode("AAAA", 4, b, sizeof(b), NULL), -ZK_EINVAL);
	ck_assert_int_eq(b64url_encode(NULL, 0, NULL, 0, &n), 0);
	ck_assert_uint_eq(n, 0);
}
END_TEST

Suite *b64url_suite(void)
{
	Suite *s = suite_create("b64url");
	TCase *tc = tcase_create("b64url");

	tcase_add_loop_test(tc, test_rfc4648_encode, 0, (int)ARRAY_LEN(vectors));
	tcase_add_loop_test(tc, test_rfc4648_decode, 0, (int)ARRAY_LEN(vectors));
	tcase_add_loop_test(tc, test_round_trip, 0, ROUND_TRIP_MAX + 1);
	tcase_add_test(tc, test_lengths);
	tcase_add_loop_test(tc, test_every_byte_value, 0, 256);
	tcase_add_test(tc, test_refuse_padding);
	tcase_add_test(tc, test_refuse_standard_alphabet);
	tcase_add_test(tc, test_refuse_whitespace_and_nul);
	tcase_add_test(tc, test_refuse_impossible_length);
	tcase_add_test(tc, test_refuse_noncanonical_tail);
	tcase_add_test(tc, test_refuse_noncanonical_examples);
	tcase_add_test(tc, test_failure_wipes_output);
	tcase_add_test(tc, test_decode_capacity);
	tcase_add_test(tc, test_encode_capacity);
	tcase_add_test(tc, test_null_arguments);
	suite_add_tcase(s, tc);
	return s;
}
