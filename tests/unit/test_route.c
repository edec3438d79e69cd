/* route.c: the address table. Besides put/get/del, the tests check the
 * table's invariants directly: the load stays at or below one half, and
 * every entry is reachable from its home slot without crossing an empty
 * slot (what backward-shift deletion has to preserve). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "suites.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Distinct non-NULL values to store; the table never dereferences them. */
static int vals[8];
#define A ((void *)&vals[0])
#define B ((void *)&vals[1])
#define C ((void *)&vals[2])

static void *get_s(const route_table_t *t, const char *k)
{
	return route_get(t, k, strlen(k));
}

static void put_s(route_table_t *t, const char *k, void *v, void *want_old)
{
	void *old = (void *)&vals[7];

	ck_assert_int_eq(route_put(t, k, strlen(k), v, &old), 0);
	ck_assert_ptr_eq(old, want_old);
}

/* Every occupied slot is reachable by probing from its home slot: no empty
 * slot lies between them. A lookup that stops early would miss it. */
static void check_invariants(const route_table_t *t)
{
	size_t mask = t->cap - 1, used = 0;

	ck_assert_uint_gt(t->cap, 0);
	ck_assert_uint_eq(t->cap & mask, 0);
	ck_assert_uint_le(t->count * 2, t->cap);
	for (size_t i = 0; i < t->cap; i++) {
		const route_slot_t *s = &t->slots[i];

		if (!s->key)
			continue;
		used++;
		for (size_t j = s->hash & mask; j != i; j = (j + 1) & mask)
			if (t->slots[j].key == NULL)
				ck_abort_msg("slot %zu unreachable from %zu", i,
					     (size_t)(s->hash & mask));
		if (route_get(t, s->key, s->klen) != s->val)
			ck_abort_msg("slot %zu not found by route_get", i);
	}
	ck_assert_uint_eq(used, t->count);
}

/* ---- basics --------------------------------------------------------- */

START_TEST(test_init_cap)
{
	static const struct {
		size_t want, cap;
	} cases[] = { { 0, 16 }, { 1, 16 }, { 16, 16 }, { 17, 32 }, { 1000, 1024 }, { 1024, 1024 },
		      { 1025, 2048 } };

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		route_table_t t;

		ck_assert_int_eq(route_init(&t, cases[i].want), 0);
		ck_assert_uint_eq(t.cap, cases[i].cap);
		ck_assert_uint_eq(t.count, 0);
		ck_assert_ptr_nonnull(t.slots);
		route_free(&t);
		ck_assert_ptr_null(t.slots);
		ck_assert_uint_eq(t.cap, 0);
		ck_assert_uint_eq(t.count, 0);
	}
}
END_TEST

START_TEST(test_get_empty)
{
	route_table_t t;

	ck_assert_int_eq(route_init(&t, 0), 0);
	ck_assert_ptr_null(get_s(&t, "acme/vault"));
	ck_assert_ptr_null(route_get(&t, "", 0));
	ck_assert_int_eq(route_del(&t, "acme/vault", 10, A), 0);
	ck_assert_uint_eq(t.count, 0);
	route_free(&t);
}
END_TEST

START_TEST(test_put_get)
{
	route_table_t t;

	ck_assert_int_eq(route_init(&t, 0), 0);
	put_s(&t, "acme/vault", A, NULL);
	put_s(&t, "acme/laptop", B, NULL);
	ck_assert_uint_eq(t.count, 2);
	ck_assert_ptr_eq(get_s(&t, "acme/vault"), A);
	ck_assert_ptr_eq(get_s(&t, "acme/laptop"), B);
	/* Absent keys, including ones close to present keys. */
	ck_assert_ptr_null(get_s(&t, "acme/vaul"));
	ck_assert_ptr_null(get_s(&t, "acme/vault2"));
	ck_assert_ptr_null(get_s(&t, "acme/Vault"));
	ck_assert_ptr_null(get_s(&t, "other/vault"));
	ck_assert_ptr_null(route_get(&t, "", 0));
	check_invariants(&t);
	route_free(&t);
}
END_TEST

/* The key is compared by bytes and length, never by a terminating NUL:
 * keys that are prefixes of each other are distinct entries, even when
 * they share memory. */
START_TEST(test_keys_prefix_and_length)
{
	static const char mem[] = "acme/vault-10";
	route_table_t t;
	void *old;

	ck_assert_int_eq(route_init(&t, 0), 0);
	ck_assert_int_eq(route_put(&t, mem, 10, A, &old), 0); /* "acme/vault" */
	ck_assert_ptr_null(old);
	ck_assert_int_eq(route_put(&t, mem, 12, B, &old), 0); /* "acme/vault-1" */
	ck_assert_ptr_null(old);
	ck_assert_int_eq(route_put(&t, mem, 13, C, &old), 0); /* "acme/vault-10" */
	ck_assert_ptr_null(old);
	ck_assert_uint_eq(t.count, 3);
	ck_assert_ptr_eq(get_s(&t, "acme/vault"), A);
	ck_assert_ptr_eq(get_s(&t, "acme/vault-1"), B);
	ck_assert_ptr_eq(get_s(&t, "acme/vault-10"), C);
	ck_assert_ptr_null(get_s(&t, "acme/vault-"));
	ck_assert_ptr_null(get_s(&t, "acme/vault-100"));
	ck_assert_ptr_null(route_get(&t, "acme/vault\0", 11));
	/* Deleting the middle one leaves the others. */
	ck_assert_int_eq(route_del(&t, mem, 12, B), 1);
	ck_assert_ptr_eq(get_s(&t, "acme/vault"), A);
	ck_assert_ptr_null(get_s(&t, "acme/vault-1"));
	ck_assert_ptr_eq(get_s(&t, "acme/vault-10"), C);
	check_invariants(&t);
	route_free(&t);
}
END_TEST

/* ---- replace and delete ---------------------------------------------- */

START_TEST(test_replace_returns_old)
{
	route_table_t t;

	ck_assert_int_eq(route_init(&t, 0), 0);
	put_s(&t, "acme/vault", A, NULL);
	put_s(&t, "acme/vault", B, A);
	ck_assert_uint_eq(t.count, 1);
	ck_assert_ptr_eq(get_s(&t, "acme/vault"), B);
	put_s(&t, "acme/vault", C, B);
	ck_assert_ptr_eq(get_s(&t, "acme/vault"), C);
	ck_assert_uint_eq(t.count, 1);
	route_free(&t);
}
END_TEST

/* A connection replaced by a newer one for the same address must not
 * remove its successor when it closes. */
START_TEST(test_del_only_matching_value)
{
	route_table_t t;

	ck_assert_int_eq(route_init(&t, 0), 0);
	put_s(&t, "acme/vault", A, NULL);
	put_s(&t, "acme/vault", B, A);
	ck_assert_int_eq(route_del(&t, "acme/vault", 10, A), 0);
	ck_assert_ptr_eq(get_s(&t, "acme/vault"), B);
	ck_assert_uint_eq(t.count, 1);
	ck_assert_int_eq(route_del(&t, "acme/vault", 10, NULL), 0);
	ck_assert_ptr_eq(get_s(&t, "acme/vault"), B);
	ck_assert_int_eq(route_del(&t, "acme/vault", 10, B), 1);
	ck_assert_ptr_null(get_s(&t, "acme/vault"));
	ck_assert_uint_eq(t.count, 0);
	/* Deleting again, or a key never present, removes nothing. */
	ck_assert_int_eq(route_del(&t, "acme/vault", 10, B), 0);
	ck_assert_int_eq(route_del(&t, "acme/other", 10, B), 0);
	ck_assert_uint_eq(t.count, 0);
	route_free(&t);
}
END_TEST

/* A value of one key does not delete another key. */
START_TEST(test_del_wrong_key)
{
	route_table_t t;

	ck_assert_int_eq(route_init(&t, 0), 0);
	put_s(&t, "acme/a", A, NULL);
	put_s(&t, "acme/b", B, NULL);
	ck_assert_int_eq(route_del(&t, "acme/a", 6, B), 0);
	ck_assert_int_eq(route_del(&t, "acme/b", 6, A), 0);
	ck_assert_ptr_eq(get_s(&t, "acme/a"), A);
	ck_assert_ptr_eq(get_s(&t, "acme/b"), B);
	ck_assert_uint_eq(t.count, 2);
	route_free(&t);
}
END_TEST

static const char *const grow_keys[] = {
	"g/0", "g/1", "g/2", "g/3", "g/4", "g/5", "g/6", "g/7", "g/8", "g/9",
	"g/10", "g/11", "g/12", "g/13", "g/14", "g/15", "g/16", "g/17", "g/18", "g/19",
};

/* Keys point into their values: after a replace, the table must use the
 * new value's key, because the old value (and its key memory) is freed.
 * Under ASan a use of the old key is a crash. */
START_TEST(test_replace_takes_new_key)
{
	route_table_t t;
	char *k1 = strdup("acme/vault");
	char *k2 = strdup("acme/vault");
	void *old;

	ck_assert_ptr_nonnull(k1);
	ck_assert_ptr_nonnull(k2);
	ck_assert_int_eq(route_init(&t, 0), 0);
	ck_assert_int_eq(route_put(&t, k1, 10, A, &old), 0);
	ck_assert_int_eq(route_put(&t, k2, 10, B, &old), 0);
	ck_assert_ptr_eq(old, A);
	memset(k1, 'X', 10);
	free(k1);
	ck_assert_ptr_eq(get_s(&t, "acme/vault"), B);
	/* Growing the table moves the entry; it must keep the new key. */
	for (size_t i = 0; i < ARRAY_LEN(grow_keys); i++)
		put_s(&t, grow_keys[i], C, NULL);
	ck_assert_uint_ge(t.cap, 64);
	ck_assert_ptr_eq(get_s(&t, "acme/vault"), B);
	check_invariants(&t);
	ck_assert_int_eq(route_del(&t, "acme/vault", 10, B), 1);
	route_free(&t);
	free(k2);
}
END_TEST

/* ---- growth and backward-shift deletion --------------------------- */

#define MANY 10000

static char (*many_keys(void))[16]
{
	char (*k)[16] = calloc(MANY, sizeof(*k));

	ck_assert_ptr_nonnull(k);
	for (size_t i = 0; i < MANY; i++)
		snprintf(k[i], sizeof(k[i]), "p%zu/e%zu", i % 97, i);
	return k;
}

START_TEST(test_many_keys)
{
	char (*k)[16] = many_keys();
	route_table_t t;
	void *old;

	ck_assert_int_eq(route_init(&t, 0), 0);
	for (size_t i = 0; i < MANY; i++) {
		ck_assert_int_eq(route_put(&t, k[i], strlen(k[i]), k[i], &old), 0);
		ck_assert_ptr_null(old);
	}
	ck_assert_uint_eq(t.count, MANY);
	ck_assert_uint_ge(t.cap, 2 * MANY);
	check_invariants(&t);
	for (size_t i = 0; i < MANY; i++)
		ck_assert_ptr_eq(route_get(&t, k[i], strlen(k[i])), k[i]);
	ck_assert_ptr_null(get_s(&t, "p0/e10000"));

	/* Delete every other key: the survivors must all still be found. */
	for (size_t i = 0; i < MANY; i += 2)
		ck_assert_int_eq(route_del(&t, k[i], strlen(k[i]), k[i]), 1);
	ck_assert_uint_eq(t.count, MANY / 2);
	check_invariants(&t);
	for (size_t i = 0; i < MANY; i++) {
		void *want = i % 2 ? k[i] : NULL;

		ck_assert_ptr_eq(route_get(&t, k[i], strlen(k[i])), want);
	}
	/* Put them back, then empty the table in the other order. */
	for (size_t i = 0; i < MANY; i += 2) {
		ck_assert_int_eq(route_put(&t, k[i], strlen(k[i]), k[i], &old), 0);
		ck_assert_ptr_null(old);
	}
	ck_assert_uint_eq(t.count, MANY);
	for (size_t i = MANY; i-- > 0;)
		ck_assert_int_eq(route_del(&t, k[i], strlen(k[i]), k[i]), 1);
	ck_assert_uint_eq(t.count, 0);
	for (size_t i = 0; i < t.cap; i++)
		ck_assert_ptr_null(t.slots[i].key);
	route_free(&t);
	free(k);
}
END_TEST

/* A small table driven by random puts and deletes against a plain array,
 * checking every key and the invariants after each step. Small tables
 * make long chains that wrap around the end, where backward shift is
 * easiest to get wrong. */
#define MODEL_KEYS 24

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

START_TEST(test_model)
{
	char keys[MODEL_KEYS][8];
	void *model[MODEL_KEYS] = { 0 };
	uint64_t rng = 0x9e3779b97f4a7c15ull + (uint64_t)_i;
	route_table_t t;
	size_t live = 0;

	for (size_t i = 0; i < MODEL_KEYS; i++)
		snprintf(keys[i], sizeof(keys[i]), "p/%zu", i);
	ck_assert_int_eq(route_init(&t, 0), 0);
	for (int step = 0; step < 3000; step++) {
		size_t i = (size_t)(rng_next(&rng) % MODEL_KEYS);
		void *v = &vals[rng_next(&rng) % 3];
		void *old = (void *)&vals[7];

		if (rng_next(&rng) % 2) {
			ck_assert_int_eq(route_put(&t, keys[i], strlen(keys[i]), v, &old), 0);
			ck_assert_ptr_eq(old, model[i]);
			live += model[i] == NULL;
			model[i] = v;
		} else {
			int want = model[i] != NULL && model[i] == v;

			ck_assert_int_eq(route_del(&t, keys[i], strlen(keys[i]), v), want);
			if (want) {
				model[i] = NULL;
				live--;
			}
		}
		ck_assert_uint_eq(t.count, live);
		for (size_t j = 0; j < MODEL_KEYS; j++)
			if (route_get(&t, keys[j], strlen(keys[j])) != model[j])
				ck_abort_msg("step %d: key %zu wrong", step, j);
		check_invariants(&t);
	}
	route_free(&t);
}
END_TEST

/* Keys whose home slots collide: with the seed fixed to a known value,
 * pick keys that all hash to the same slot of a 16-slot table, so a
 * single chain holds them, and delete from its middle and its start. */
START_TEST(test_collision_chain)
{
	route_table_t t;
	char (*k)[16] = calloc(4096, sizeof(*k));
	size_t chain[6], n = 0;
	void *old;

	ck_assert_ptr_nonnull(k);
	ck_assert_int_eq(route_init(&t, 0), 0);
	ck_assert_uint_eq(t.cap, 16);
	/* Learn each candidate's home slot by inserting it alone. */
	for (size_t i = 0; i < 4096 && n < ARRAY_LEN(chain); i++) {
		snprintf(k[i], sizeof(k[i]), "c/%zu", i);
		ck_assert_int_eq(route_put(&t, k[i], strlen(k[i]), A, &old), 0);
		if (t.slots[15].key == k[i])
			chain[n++] = i;
		ck_assert_int_eq(route_del(&t, k[i], strlen(k[i]), A), 1);
	}
	ck_assert_uint_eq(n, ARRAY_LEN(chain));
	/* Home slot 15 is the last one: the chain wraps to slots 0..4. */
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(route_put(&t, k[chain[i]], strlen(k[chain[i]]), &vals[i], &old), 0);
	ck_assert_uint_eq(t.cap, 16);
	ck_assert_ptr_eq(t.slots[15].key, k[chain[0]]);
	ck_assert_ptr_eq(t.slots[0].key, k[chain[1]]);
	check_invariants(&t);
	ck_assert_int_eq(route_del(&t, k[chain[2]], strlen(k[chain[2]]), &vals[2]), 1);
	check_invariants(&t);
	ck_assert_int_eq(route_del(&t, k[chain[0]], strlen(k[chain[0]]), &vals[0]), 1);
	check_invariants(&t);
	for (size_t i = 0; i < n; i++) {
		void *want = (i == 0 || i == 2) ? NULL : &vals[i];

		ck_assert_ptr_eq(route_get(&t, k[chain[i]], strlen(k[chain[i]])), want);
	}
	ck_assert_uint_eq(t.count, n - 2);
	route_free(&t);
	free(k);
}
END_TEST

Suite *route_suite(void)
{
	Suite *s = suite_create("route");
	TCase *basic = tcase_create("basic");
	TCase *replace = tcase_create("replace");
	TCase *grow = tcase_create("grow");

	tcase_add_test(basic, test_init_cap);
	tcase_add_test(basic, test_get_empty);
	tcase_add_test(basic, test_put_get);
	tcase_add_test(basic, test_keys_prefix_and_length);
	tcase_add_test(replace, test_replace_returns_old);
	tcase_add_test(replace, test_del_only_matching_value);
	tcase_add_test(replace, test_del_wrong_key);
	tcase_add_test(replace, test_replace_takes_new_key);
	tcase_add_test(grow, test_many_keys);
	tcase_add_loop_test(grow, test_model, 0, 4);
	tcase_add_test(grow, test_collision_chain);
	suite_add_tcase(s, basic);
	suite_add_tcase(s, replace);
	suite_add_tcase(s, grow);
	return s;
}
