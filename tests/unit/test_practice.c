/* practice.c: per-practice state shared by a practice's connections.
 * Holders of one id share one entry; an entry outlives its last holder
 * until its buckets are full again, so leaving and coming back buys no
 * fresh burst; ids of other practices never share. */
#include <string.h>

#include "practice.h"
#include "suites.h"
#include "zkerr.h"

#define NS RATELIMIT_NS_PER_S
#define T0 5000000000ull

static practice_table_t table(uint32_t frate, uint32_t fburst)
{
	practice_table_t t;
	const ratelimit_rule_t fr = { frate, fburst }, by = { 1000, 1000 };

	ck_assert_int_eq(practice_table_init(&t, &fr, &by), 0);
	return t;
}

static practice_state_t *get(practice_table_t *t, const char *id, uint64_t now)
{
	practice_state_t *p = NULL;

	ck_assert_int_eq(practice_acquire(t, id, strlen(id), now, &p), 0);
	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(test_shared_by_id)
{
	practice_table_t t = table(1, 2);
	practice_state_t *a1 = get(&t, "practice-a", T0), *a2 = get(&t, "practice-a", T0);
	practice_state_t *b = get(&t, "practice-b", T0);

	ck_assert_ptr_eq(a1, a2);
	ck_assert_ptr_ne(a1, b);
	ck_assert_uint_eq(a1->refs, 2);
	ck_assert_uint_eq(practice_count(&t), 2);
	/* What one holder takes, the other no longer has; b is untouched. */
	ratelimit_take(&a1->frames, 2);
	ck_assert_int_eq(ratelimit_allows(&a2->frames, &t.frames, T0, 1), 0);
	ck_assert_int_eq(ratelimit_allows(&b->frames, &t.frames, T0, 2), 1);
	practice_release(&t, a1);
	practice_release(&t, a2);
	practice_release(&t, b);
	practice_table_free(&t);
}
END_TEST

START_TEST(test_kept_until_full)
{
	practice_table_t t = table(1, 2);
	practice_state_t *a = get(&t, "practice-a", T0);

	ratelimit_take(&a->frames, 2);
	practice_release(&t, a);
	/* Empty bucket: a sweep keeps it, and coming back finds it empty. */
	practice_sweep(&t, T0 + NS);
	ck_assert_uint_eq(practice_count(&t), 1);
	a = get(&t, "practice-a", T0 + NS);
	ck_assert_uint_eq(a->refs, 1);
	ck_assert_int_eq(ratelimit_allows(&a->frames, &t.frames, T0 + NS, 2), 0);
	practice_release(&t, a);
	/* Held entries are never swept, full or not. */
	a = get(&t, "practice-a", T0 + NS);
	practice_sweep(&t, T0 + 100 * NS);
	ck_assert_uint_eq(practice_count(&t), 1);
	practice_release(&t, a);
	/* Idle and full again: forgotten. */
	practice_sweep(&t, T0 + 100 * NS);
	ck_assert_uint_eq(practice_count(&t), 0);
	ck_assert_ptr_null(t.idle);
	practice_table_free(&t);
}
END_TEST

/* Several idle entries, swept from the middle of the list too. */
START_TEST(test_sweep_some)
{
	practice_table_t t = table(1, 1);
	practice_state_t *p[3];
	const char *ids[3] = { "p0", "p1", "p2" };

	for (int i = 0; i < 3; i++)
		p[i] = get(&t, ids[i], T0);
	ratelimit_take(&p[0]->frames, 1);
	ratelimit_take(&p[2]->frames, 1);
	for (int i = 0; i < 3; i++)
		practice_release(&t, p[i]);
	practice_sweep(&t, T0);
	ck_assert_uint_eq(practice_count(&t), 2);
	p[0] = get(&t, "p0", T0);
	practice_release(&t, p[0]);
	practice_sweep(&t, T0 + NS);
	ck_assert_uint_eq(practice_count(&t), 0);
	practice_table_free(&t);
}
END_TEST

START_TEST(test_bad_ids)
{
	practice_table_t t = table(1, 1);
	practice_state_t *p = NULL;
	char longid[WIRE_MAX_ID + 2];

	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ck_assert_int_eq(practice_acquire(&t, "", 0, T0, &p), -ZK_EINVAL);
	ck_assert_int_eq(practice_acquire(&t, longid, WIRE_MAX_ID + 1, T0, &p), -ZK_EINVAL);
	ck_assert_ptr_null(p);
	ck_assert_int_eq(practice_acquire(&t, longid, WIRE_MAX_ID, T0, &p), 0);
	practice_release(&t, p);
	practice_release(&t, NULL);
	/* Freeing with entries still held or idle releases them all. */
	(void)get(&t, "held", T0);
	practice_table_free(&t);
}
END_TEST

Suite *practice_suite(void)
{
	Suite *s = suite_create("practice");
	TCase *tc = tcase_create("state");

	tcase_add_test(tc, test_shared_by_id);
	tcase_add_test(tc, test_kept_until_full);
	tcase_add_test(tc, test_sweep_some);
	tcase_add_test(tc, test_bad_ids);
	suite_add_tcase(s, tc);
	return s;
}
