/* The plaintext guard: what ciphertext passes and plaintext fails. */
#include <check.h>
#include <math.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "suites.h"

static uint8_t buf[GUARD_MAX_BYTES];

static int ok_str(const char *s)
{
	return guard_ok((const uint8_t *)s, strlen(s));
}

/* Random payloads (what ciphertext looks like) of every kind of length:
 * with a false-refusal budget of 1e-9 per payload, none of these may be
 * refused. */
START_TEST(test_random_passes)
{
	for (size_t n = GUARD_MIN_BYTES; n <= 4096; n++) {
		ck_assert_int_eq(RAND_bytes(buf, (int)n), 1);
		ck_assert_msg(guard_ok(buf, n), "random payload of %zu bytes refused", n);
	}
	for (int i = 0; i < 2000; i++) {
		size_t n = GUARD_MIN_BYTES + (size_t)(i * 7919 + 13) % (GUARD_MAX_BYTES - 15);
		ck_assert_int_eq(RAND_bytes(buf, (int)n), 1);
		ck_assert_msg(guard_ok(buf, n), "random payload of %zu bytes refused", n);
	}
}
END_TEST

START_TEST(test_too_short)
{
	ck_assert_int_eq(RAND_bytes(buf, 16), 1);
	for (size_t n = 0; n < GUARD_MIN_BYTES; n++)
		ck_assert_msg(!guard_ok(buf, n), "%zu bytes cannot be a Noise message", n);
	ck_assert(guard_ok(buf, GUARD_MIN_BYTES));
}
END_TEST

static const char *const documents[] = {
	/* FHIR JSON */
	"{\"resourceType\":\"Patient\",\"id\":\"p1\",\"name\":[{\"family\":\"Mustermann\","
	"\"given\":[\"Max\"]}],\"birthDate\":\"1970-01-01\"}",
	/* HL7 v2 */
	"MSH|^~\\&|PRAXIS|A|LAB|B|202611291200||ORU^R01|123|P|2.5\r"
	"PID|1||4711^^^PRAXIS||Mustermann^Max||19700101|M\rOBX|1|NM|GLU^Glucose||98|mg/dL",
	/* a PDF's first bytes */
	"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
	"2 0 obj\n<< /Type /Pages /Kids [3 0 R] /Count 1 >>\nendobj\n",
	/* XML */
	"<?xml version=\"1.0\"?><ClinicalDocument><title>Arztbrief</title>"
	"<diagnosis code=\"J45.0\">Asthma</diagnosis></ClinicalDocument>",
	/* CSV, an invoice list */
	"invoice;patient;amount\n2026-001;Max Mustermann;120.50\n2026-002;Erika Musterfrau;80.00\n",
	/* short, but long enough to judge */
	"diagnosis: J45.0 asthma bronchiale",
};

START_TEST(test_documents_refused)
{
	for (size_t i = 0; i < sizeof(documents) / sizeof(documents[0]); i++)
		ck_assert_msg(!ok_str(documents[i]), "document %zu passed: %.40s", i, documents[i]);
}
END_TEST

START_TEST(test_long_text_refused)
{
	size_t n = 0;
	while (n + 60 < sizeof(buf)) {
		memcpy(buf + n, "Befund: keine Auffaelligkeiten. Blutdruck 120/80 mmHg. ", 56);
		n += 56;
	}
	ck_assert(!guard_ok(buf, n));
	ck_assert(!guard_ok(buf, 5000));
}
END_TEST

START_TEST(test_zero_runs_and_patterns_refused)
{
	memset(buf, 0, sizeof(buf));
	for (size_t n = GUARD_MIN_BYTES; n < 200; n++)
		ck_assert_msg(!guard_ok(buf, n), "%zu zero bytes passed", n);
	ck_assert(!guard_ok(buf, sizeof(buf)));
	for (size_t i = 0; i < 4096; i++)
		buf[i] = (uint8_t)(0xA5 ^ (i & 1 ? 0x5A : 0)); /* ABAB... */
	ck_assert(!guard_ok(buf, 4096));
	for (size_t i = 0; i < 4096; i++)
		buf[i] = (uint8_t)(i % 7 * 37); /* a repeated 7-byte pattern */
	ck_assert(!guard_ok(buf, 4096));
	/* Random, then zero padding at the end. */
	ck_assert_int_eq(RAND_bytes(buf, 60000), 1);
	memset(buf + 60000, 0, 5000);
	ck_assert(!guard_ok(buf, 65000));
}
END_TEST

/* A raw image: a header and smooth pixel rows. */
START_TEST(test_image_refused)
{
	int n = snprintf((char *)buf, 64, "P6\n256 64\n255\n");
	for (int y = 0; y < 64; y++)
		for (int x = 0; x < 256; x++)
			for (int c = 0; c < 3; c++)
				buf[n++] = (uint8_t)(x / 2 + y + c * 20);
	ck_assert(!guard_ok(buf, (size_t)n));
	/* A BMP-like header followed by random noise still shows its header
	 * only in 54 bytes: judged on the whole, the header's zeros give it
	 * away in a short payload. */
	memset(buf, 0, 54);
	memcpy(buf, "BM", 2);
	ck_assert_int_eq(RAND_bytes(buf + 54, 60), 1);
	ck_assert(!guard_ok(buf, 114));
}
END_TEST

/* The thresholds keep the promise by calculation: the Chernoff bound at
 * each threshold, times the number of statistics (and 256 byte values for
 * max), is below 1e-9, for lengths across the range. */
static double bound(double n, double p, double k)
{
	double a = k / n;
	if (k > n)
		return 0.0; /* a count above n never happens: that test cannot judge n */
	if (a <= p)
		return 1.0;
	if (a >= 1.0)
		return pow(p, n);
	return exp(-n * (a * log(a / p) + (1 - a) * log((1 - a) / (1 - p))));
}

START_TEST(test_thresholds_within_budget)
{
	for (size_t n = GUARD_MIN_BYTES; n <= 2 * GUARD_WINDOW; n++) {
		guard_stats_t t;
		double m = (double)n;
		guard_thresholds(n, &t);
		double total = 256 * bound(m, 1.0 / 256, t.max) + bound(m, 98.0 / 256, t.text) +
			       bound(m - 1, 3.0 / 256, t.near);
		ck_assert_msg(total <= GUARD_FALSE_REFUSAL, "n=%zu: %g", n, total);
	}
}
END_TEST

/* The statistics, counted the slow and obvious way over the judged bytes
 * (the whole payload, or its first and last windows, with no pair across
 * the gap): guard_stats() must agree exactly, whatever its loops do. */
static void reference_stats(const uint8_t *p, size_t n, guard_stats_t *out)
{
	const uint8_t *run[2] = { p, p + (n > 2 * GUARD_WINDOW ? n - GUARD_WINDOW : n) };
	size_t len[2] = { n > 2 * GUARD_WINDOW ? GUARD_WINDOW : n,
			  n > 2 * GUARD_WINDOW ? GUARD_WINDOW : 0 };
	uint32_t hist[256] = { 0 };

	memset(out, 0, sizeof(*out));
	for (int r = 0; r < 2; r++)
		for (size_t k = 0; k < len[r]; k++) {
			uint8_t b = run[r][k];
			if ((b >= 0x20 && b <= 0x7e) || b == '\t' || b == '\n' || b == '\r')
				out->text++;
			if (k > 0) {
				int d = (int)b - (int)run[r][k - 1];
				if (d == 0 || d == 1 || d == -1 || d == 255 || d == -255)
					out->near++;
			}
			if (++hist[b] > out->max)
				out->max = hist[b];
		}
}

static void assert_stats_match(const uint8_t *p, size_t n)
{
	guard_stats_t got, want;
	guard_stats(p, n, &got);
	reference_stats(p, n, &want);
	ck_assert_msg(got.max == want.max && got.text == want.text && got.near == want.near,
		      "n=%zu: got max %u text %u near %u, want %u %u %u", n, got.max, got.text,
		      got.near, want.max, want.text, want.near);
}

static void stats_exact_all(void)
{
	static const uint8_t edge[] = { 0x00, 0x01, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
					0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xfe, 0xff };

	/* Random bytes, every length across the vector loop's edges. */
	for (size_t n = 0; n <= 600; n++) {
		ck_assert_int_eq(RAND_bytes(buf, (int)n + 1), 1);
		assert_stats_match(buf, n);
	}
	/* Bytes at the edges of each class, so that every comparison meets
	 * its boundary in every lane, and long enough for the lane sums to
	 * be folded several times (255 steps of 16). */
	for (size_t n = 0; n < 2 * GUARD_WINDOW; n++) {
		uint8_t r;
		ck_assert_int_eq(RAND_bytes(&r, 1), 1);
		buf[n] = edge[r % sizeof(edge)];
	}
	for (size_t n = 1; n <= 2 * GUARD_WINDOW; n += 37)
		assert_stats_match(buf, n);
	assert_stats_match(buf, 2 * GUARD_WINDOW);
	/* All one value, and all text: every lane true for the whole run,
	 * and the largest counts the short and long histograms can hold. */
	memset(buf, 'a', sizeof(buf));
	for (size_t n = 250; n <= 260; n++)
		assert_stats_match(buf, n);
	assert_stats_match(buf, 2 * GUARD_WINDOW);
	assert_stats_match(buf, 5000);
	/* Two windows of a long payload. */
	ck_assert_int_eq(RAND_bytes(buf, 9000), 1);
	for (size_t n = 2 * GUARD_WINDOW + 1; n <= 9000; n += 997)
		assert_stats_match(buf, n);
}

/* Before guard_init() the statistics are counted 16 positions a step;
 * after it, 32 where the CPU has AVX2. Both must be exact. */
START_TEST(test_stats_exact)
{
	stats_exact_all();
	guard_init();
	stats_exact_all();
}
END_TEST

Suite *guard_suite(void)
{
	Suite *s = suite_create("guard");
	TCase *tc = tcase_create("guard");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_random_passes);
	tcase_add_test(tc, test_too_short);
	tcase_add_test(tc, test_documents_refused);
	tcase_add_test(tc, test_long_text_refused);
	tcase_add_test(tc, test_zero_runs_and_patterns_refused);
	tcase_add_test(tc, test_image_refused);
	tcase_add_test(tc, test_thresholds_within_budget);
	tcase_add_test(tc, test_stats_exact);
	suite_add_tcase(s, tc);
	return s;
}
