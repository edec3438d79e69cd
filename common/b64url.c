/* Strict base64url; see b64url.h.
 *
 * Character mapping uses masks instead of tables or branches: a table
 * lookup indexed by a secret byte can leak it through the cache. The
 * helpers work on 32-bit unsigned values below 256, where "a - b wraps"
 * is exactly "a < b" and shows in bit 31. */
#include <openssl/crypto.h>

#include "b64url.h"
#include "zkerr.h"

/* All ones if v >= k, else zero (v, k < 2^31). */
static uint32_t mask_ge(uint32_t v, uint32_t k)
{
	return 0u - (((k - 1u) - v) >> 31);
}

/* All ones if lo <= c <= hi, else zero (0 < lo, c < 256). */
static uint32_t mask_in(uint32_t c, uint32_t lo, uint32_t hi)
{
	return 0u - ((((lo - 1u) - c) & (c - (hi + 1u))) >> 31);
}

/* 0..63 to 'A'..'Z', 'a'..'z', '0'..'9', '-', '_'. Each step moves the
 * character from the previous range's continuation to the next range. */
static char enc_char(uint32_t v)
{
	uint32_t c = v + 'A';

	c += mask_ge(v, 26) & ('a' - 'A' - 26);
	c += mask_ge(v, 52) & (uint32_t)('0' - 'a' - 26);
	c += mask_ge(v, 62) & (uint32_t)('-' - '0' - 10);
	c += mask_ge(v, 63) & ('_' - '-' - 1);
	return (char)(c & 0xff);
}

/* Character to value + 1, or 0 if c is not in the alphabet. */
static uint32_t dec_char(unsigned char ch)
{
	uint32_t c = ch;
	uint32_t r = 0;

	r |= mask_in(c, 'A', 'Z') & (c - 'A' + 1);
	r |= mask_in(c, 'a', 'z') & (c - 'a' + 27);
	r |= mask_in(c, '0', '9') & (c - '0' + 53);
	r |= mask_in(c, '-', '-') & 63u;
	r |= mask_in(c, '_', '_') & 64u;
	return r;
}

/* Sets bit 31 of *bad if r says "not in the alphabet"; returns the value. */
static uint32_t dec_value(unsigned char ch, uint32_t *bad)
{
	uint32_t r = dec_char(ch);

	*bad |= r - 1u;
	return (r - 1u) & 0x3f;
}

size_t b64url_encoded_len(size_t n)
{
	size_t rem = n % 3;

	if (n / 3 > (SIZE_MAX - 3) / 4)
		return SIZE_MAX;
	return n / 3 * 4 + (rem == 0 ? 0 : rem + 1);
}

size_t b64url_decoded_len(size_t n)
{
	size_t rem = n % 4;

	return n / 4 * 3 + (rem >= 2 ? rem - 1 : 0);
}

int b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap, size_t *out_len)
{
	size_t need = b64url_encoded_len(len);
	size_t i = 0, o = 0;

	if ((in == NULL && len > 0) || out_len == NULL || need == SIZE_MAX)
		return -ZK_EINVAL;
	if ((out == NULL && len > 0) || cap < need)
		return -ZK_EINVAL;
	for (; len - i >= 3; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[o++] = enc_char(w >> 18);
		out[o++] = enc_char((w >> 12) & 0x3f);
		out[o++] = enc_char((w >> 6) & 0x3f);
		out[o++] = enc_char(w & 0x3f);
	}
	if (len - i == 1) {
		uint32_t w = (uint32_t)in[i] << 16;

		out[o++] = enc_char(w >> 18);
		out[o++] = enc_char((w >> 12) & 0x3f);
	} else if (len - i == 2) {
		uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = enc_char(w >> 18);
		out[o++] = enc_char((w >> 12) & 0x3f);
		out[o++] = enc_char((w >> 6) & 0x3f);
	}
	*out_len = o;
	return 0;
}

/* Invalid characters and stray trailing bits are collected in bad and
 * judged once at the end, so the time taken does not depend on where in
 * a secret a bad character sits. */
int b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t need = b64url_decoded_len(len);
	size_t i = 0, o = 0;
	uint32_t bad = 0;

	if ((in == NULL && len > 0) || out_len == NULL)
		return -ZK_EINVAL;
	/* One character carries 6 bits, less than a byte: no valid encoding
	 * leaves one over. */
	if (len % 4 == 1)
		return -ZK_EMALFORMED;
	if ((out == NULL && len > 0) || cap < need)
		return -ZK_EINVAL;
	for (; len - i >= 4; i += 4) {
		uint32_t w = dec_value(s[i], &bad) << 18 | dec_value(s[i + 1], &bad) << 12 |
			     dec_value(s[i + 2], &bad) << 6 | dec_value(s[i + 3], &bad);

		out[o++] = (uint8_t)(w >> 16);
		out[o++] = (uint8_t)(w >> 8);
		out[o++] = (uint8_t)w;
	}
	if (len - i == 2) {
		uint32_t w = dec_value(s[i], &bad) << 18 | dec_value(s[i + 1], &bad) << 12;

		/* 12 bits carry 8: the low 4 bits of the last character must be
		 * zero (RFC 4648 section 3.5, canonical encoding). */
		bad |= 0u - (w & 0xf000);
		out[o++] = (uint8_t)(w >> 16);
	} else if (len - i == 3) {
		uint32_t w = dec_value(s[i], &bad) << 18 | dec_value(s[i + 1], &bad) << 12 |
			     dec_value(s[i + 2], &bad) << 6;

		bad |= 0u - (w & 0xc0);
		out[o++] = (uint8_t)(w >> 16);
		out[o++] = (uint8_t)(w >> 8);
	}
	if (bad >> 31) {
		if (o > 0)
			OPENSSL_cleanse(out, o);
		return -ZK_EMALFORMED;
	}
	*out_len = o;
	return 0;
}
