/* ratelimit.c: token buckets at their edges. Exactly burst units pass,
 * one more is refused; the refill reaches a unit after exactly the time
 * the rate says and not a nanosecond before; huge rates, huge bursts and
 * long idle times never wrap. */
#include <stdint.h>

#include "ratelimit.h"
#include "suites.h"

#define NS RATELIMIT_NS_PER_S
#define T0 1000000000000ull /* an arbitrary monotonic reading */

/* Takes one unit at a time until refused; returns how many were taken. */
static uint64_t drain_units(ratelimit_bucket_t *b, const ratelimit_rule_t *r, uint64_t now)
{
	uint64_t n = 0;
	while (ratelimit_allows(b, r, now, 1)) {
		ratelimit_take(b, 1);
		n++;
	}
	return n;
}

START_TEST(test_exactly_burst)
{
	const ratelimit_rule_t r = { .rate = 10, .burst = 5 };
	ratelimit_bucket_t b;

	ratelimit_init(&b, &r, T0);
	ck_assert_uint_eq(drain_units(&b, &r, T0), 5);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0, 1), 0);
}
END_TEST

START_TEST(test_whole_burst_at_once)
{
	const ratelimit_rule_t r = { .rate = 1000, .burst = 65535 };
	ratelimit_bucket_t b;

	ratelimit_init(&b, &r, T0);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0, 65536), 0); /* above burst: never */
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0, 65535), 1);
	ratelimit_take(&b, 65535);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0, 1), 0);
	ck_assert_uint_eq(ratelimit_wait_ns(&b, &r, 65536), UINT64_MAX);
}
END_TEST

/* rate 10/s: a unit every 100 ms exactly. One nanosecond early is
 * refused; on time is allowed. */
START_TEST(test_refill_exact)
{
	const ratelimit_rule_t r = { .rate = 10, .burst = 3 };
	ratelimit_bucket_t b;

	ratelimit_init(&b, &r, T0);
	ck_assert_uint_eq(drain_units(&b, &r, T0), 3);
	ck_assert_uint_eq(ratelimit_wait_ns(&b, &r, 1), 100000000ull);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0 + 100000000ull - 1, 1), 0);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0 + 100000000ull, 1), 1);
	ratelimit_take(&b, 1);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0 + 100000000ull, 1), 0);
	/* Two units need 200 ms more; the level never exceeds burst. */
	ck_assert_uint_eq(ratelimit_wait_ns(&b, &r, 2), 200000000ull);
	ck_assert_uint_eq(drain_units(&b, &r, T0 + 100 * NS), 3);
}
END_TEST

/* A rate that does not divide a second: 3/s is one unit per 333333333.3
 * ns; the unit is there at the first whole nanosecond past that. */
START_TEST(test_refill_uneven_rate)
{
	const ratelimit_rule_t r = { .rate = 3, .burst = 1 };
	ratelimit_bucket_t b;

	ratelimit_init(&b, &r, T0);
	ratelimit_take(&b, 1);
	ck_assert_uint_eq(ratelimit_wait_ns(&b, &r, 1), 333333334ull);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0 + 333333333ull, 1), 0);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0 + 333333334ull, 1), 1);
}
END_TEST

/* Refills in many small steps add up to exactly what one step adds. */
START_TEST(test_refill_in_steps)
{
	const ratelimit_rule_t r = { .rate = 7, .burst = 100 };
	ratelimit_bucket_t a, b;

	ratelimit_init(&a, &r, T0);
	ratelimit_init(&b, &r, T0);
	ratelimit_take(&a, 100);
	ratelimit_take(&b, 100);
	for (uint64_t t = 1; t <= 1000; t++)
		ratelimit_refill(&a, &r, T0 + t * 1000003ull);
	ratelimit_refill(&b, &r, T0 + 1000 * 1000003ull);
	ck_assert_uint_eq(a.level, b.level);
	ck_assert_uint_eq(a.level, 7ull * 1000 * 1000003ull);
}
END_TEST

/* The largest rate and burst, after the longest idle time: full, no
 * wrap; and a full bucket stays full. */
START_TEST(test_overflow_huge)
{
	const ratelimit_rule_t r = { .rate = UINT32_MAX, .burst = UINT32_MAX };
	ratelimit_bucket_t b;

	ratelimit_init(&b, &r, 0);
	ratelimit_take(&b, UINT32_MAX);
	ck_assert_uint_eq(b.level, 0);
	ratelimit_refill(&b, &r, UINT64_MAX);
	ck_assert_uint_eq(b.level, (uint64_t)UINT32_MAX * NS);
	ck_assert_int_eq(ratelimit_allows(&b, &r, UINT64_MAX, UINT32_MAX), 1);
	/* One nanosecond at the top rate adds exactly rate nano-units. */
	ratelimit_init(&b, &r, 0);
	ratelimit_take(&b, UINT32_MAX);
	ratelimit_refill(&b, &r, 1);
	ck_assert_uint_eq(b.level, UINT32_MAX);
}
END_TEST

START_TEST(test_overflow_slow_long_idle)
{
	const ratelimit_rule_t r = { .rate = 1, .burst = 1 };
	ratelimit_bucket_t b;

	ratelimit_init(&b, &r, 5);
	ratelimit_take(&b, 1);
	ratelimit_refill(&b, &r, UINT64_MAX);
	ck_assert_uint_eq(b.level, NS);
	ck_assert_int_eq(ratelimit_allows(&b, &r, UINT64_MAX, 2), 0);
	ck_assert_int_eq(ratelimit_allows(&b, &r, UINT64_MAX, 1), 1);
}
END_TEST

/* A reading older than the last one adds nothing and does not move the
 * reference point back (which would credit the same time twice). */
START_TEST(test_clock_backwards)
{
	const ratelimit_rule_t r = { .rate = 10, .burst = 1 };
	ratelimit_bucket_t b;

	ratelimit_init(&b, &r, T0);
	ratelimit_take(&b, 1);
	ratelimit_refill(&b, &r, T0 - NS);
	ck_assert_uint_eq(b.level, 0);
	ck_assert_uint_eq(b.last_ns, T0);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0 + 99999999ull, 1), 0);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0 + 100000000ull, 1), 1);
}
END_TEST

/* Asking takes nothing: a refused check leaves the level as it was. */
START_TEST(test_allows_takes_nothing)
{
	const ratelimit_rule_t r = { .rate = 1, .burst = 4 };
	ratelimit_bucket_t b;

	ratelimit_init(&b, &r, T0);
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(ratelimit_allows(&b, &r, T0, 4), 1);
	ck_assert_int_eq(ratelimit_allows(&b, &r, T0, 5), 0);
	ck_assert_uint_eq(b.level, 4 * NS);
}
END_TEST

Suite *ratelimit_suite(void)
{
	Suite *s = suite_create("ratelimit");
	TCase *tc = tcase_create("buckets");

	tcase_add_test(tc, test_exactly_burst);
	tcase_add_test(tc, test_whole_burst_at_once);
	tcase_add_test(tc, test_refill_exact);
	tcase_add_test(tc, test_refill_uneven_rate);
	tcase_add_test(tc, test_refill_in_steps);
	tcase_add_test(tc, test_overflow_huge);
	tcase_add_test(tc, test_overflow_slow_long_idle);
	tcase_add_test(tc, test_clock_backwards);
	tcase_add_test(tc, test_allows_takes_nothing);
	suite_add_tcase(s, tc);
	return s;
}
