/* iplimit.c: connection caps per source address and in total. Each cap is
 * tested at its edge (the last connection it allows and the first it
 * refuses), and every test ends with all entries released and the bucket
 * array empty, so ASan's leak check sees any entry left behind. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "iplimit.h"
#include "suites.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef union {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
	struct sockaddr_storage ss;
} addr_t;

static addr_t v4(const char *s, uint16_t port)
{
	addr_t a;

	memset(&a, 0, sizeof(a));
	a.in.sin_family = AF_INET;
	a.in.sin_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET, s, &a.in.sin_addr), 1);
	return a;
}

static addr_t v6(const char *s, uint16_t port)
{
	addr_t a;

	memset(&a, 0, sizeof(a));
	a.in6.sin6_family = AF_INET6;
	a.in6.sin6_port = htons(port);
	ck_assert_int_eq(inet_pton(AF_INET6, s, &a.in6.sin6_addr), 1);
	return a;
}

/* Acquires and expects success. */
static iplimit_entry_t *take(iplimit_t *l, const addr_t *a)
{
	iplimit_entry_t *e = NULL;
	const char *which = NULL;

	ck_assert_int_eq(iplimit_acquire(l, &a->sa, &e, &which), 0);
	ck_assert_ptr_nonnull(e);
	return e;
}

/* Acquires and expects -ZK_EBUSY naming the given cap, with the entry
 * out-parameter and the counts untouched. */
static void refused(iplimit_t *l, const addr_t *a, const char *cap)
{
	iplimit_entry_t *sentinel = (iplimit_entry_t *)&sentinel, *e = sentinel;
	const char *which = NULL;
	uint32_t total = l->total, count = iplimit_count(l, &a->sa);

	ck_assert_int_eq(iplimit_acquire(l, &a->sa, &e, &which), -ZK_EBUSY);
	ck_assert_ptr_nonnull(which);
	ck_assert_str_eq(which, cap);
	ck_assert_ptr_eq(e, sentinel);
	ck_assert_uint_eq(l->total, total);
	ck_assert_uint_eq(iplimit_count(l, &a->sa), count);
}

static void assert_empty(const iplimit_t *l)
{
	ck_assert_uint_eq(l->total, 0);
	for (size_t i = 0; i < l->nbuckets; i++)
		if (l->buckets[i] != NULL)
			ck_abort_msg("bucket %zu still holds an entry", i);
}

/* ---- setup ----------------------------------------------------------- */

START_TEST(test_init)
{
	static const struct {
		uint32_t total;
		size_t min_buckets;
	} cases[] = { { 1, 256 }, { 1024, 256 }, { 10000, 2048 }, { 100000, 16384 },
		      { 1000000, 131072 } };

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		iplimit_t l;

		ck_assert_int_eq(iplimit_init(&l, cases[i].total, 4), 0);
		ck_assert_ptr_nonnull(l.buckets);
		ck_assert_uint_ge(l.nbuckets, cases[i].min_buckets);
		ck_assert_uint_eq(l.nbuckets & (l.nbuckets - 1), 0);
		ck_assert_uint_eq(l.total_max, cases[i].total);
		ck_assert_uint_eq(l.per_ip_max, 4);
		assert_empty(&l);
		iplimit_free(&l);
		ck_assert_ptr_null(l.buckets);
	}
}
END_TEST

/* ---- per-address cap ---------------------------------------------------- */

START_TEST(test_per_ip_edge)
{
	iplimit_t l;
	addr_t a = v4("192.0.2.1", 1000);
	iplimit_entry_t *e[3];

	ck_assert_int_eq(iplimit_init(&l, 100, 3), 0);
	for (int i = 0; i < 3; i++) {
		e[i] = take(&l, &a);
		ck_assert_uint_eq(iplimit_count(&l, &a.sa), (uint32_t)i + 1);
	}
	/* All connections from one address share one entry. */
	ck_assert_ptr_eq(e[0], e[1]);
	ck_assert_ptr_eq(e[1], e[2]);
	ck_assert_uint_eq(l.total, 3);
	refused(&l, &a, "per_ip");
	refused(&l, &a, "per_ip");
	for (int i = 0; i < 3; i++)
		iplimit_release(&l, e[i]);
	assert_empty(&l);
	iplimit_free(&l);
}
END_TEST

/* Different ports of one address are one address. */
START_TEST(test_per_ip_ignores_port)
{
	iplimit_t l;
	addr_t a1 = v4("198.51.100.7", 1), a2 = v4("198.51.100.7", 65535);
	addr_t b1 = v6("2001:db8::7", 1), b2 = v6("2001:db8::7", 443);
	iplimit_entry_t *e[4];

	ck_assert_int_eq(iplimit_init(&l, 100, 2), 0);
	e[0] = take(&l, &a1);
	e[1] = take(&l, &a2);
	refused(&l, &a1, "per_ip");
	e[2] = take(&l, &b1);
	e[3] = take(&l, &b2);
	refused(&l, &b2, "per_ip");
	for (int i = 0; i < 4; i++)
		iplimit_release(&l, e[i]);
	assert_empty(&l);
	iplimit_free(&l);
}
END_TEST

/* A release makes room for exactly one more. */
START_TEST(test_release_frees_capacity)
{
	iplimit_t l;
	addr_t a = v6("2001:db8::1", 0);
	iplimit_entry_t *e[2], *again;

	ck_assert_int_eq(iplimit_init(&l, 100, 2), 0);
	e[0] = take(&l, &a);
	e[1] = take(&l, &a);
	refused(&l, &a, "per_ip");
	iplimit_release(&l, e[1]);
	ck_assert_uint_eq(iplimit_count(&l, &a.sa), 1);
	ck_assert_uint_eq(l.total, 1);
	again = take(&l, &a);
	ck_assert_ptr_eq(again, e[0]);
	refused(&l, &a, "per_ip");
	iplimit_release(&l, e[0]);
	iplimit_release(&l, again);
	ck_assert_uint_eq(iplimit_count(&l, &a.sa), 0);
	assert_empty(&l);
	iplimit_free(&l);
}
END_TEST

/* ---- total cap ---------------------------------------------------- */

START_TEST(test_total_edge)
{
	iplimit_t l;
	iplimit_entry_t *e[5];
	addr_t a;

	ck_assert_int_eq(iplimit_init(&l, 5, 5), 0);
	for (int i = 0; i < 5; i++) {
		char s[32];

		snprintf(s, sizeof(s), "10.0.0.%d", i + 1);
		a = v4(s, 40000);
		e[i] = take(&l, &a);
	}
	ck_assert_uint_eq(l.total, 5);
	/* A new address and a known one are both refused by the total. */
	a = v4("10.0.0.99", 1);
	refused(&l, &a, "total");
	a = v4("10.0.0.1", 1);
	refused(&l, &a, "total");
	a = v6("2001:db8::99", 1);
	refused(&l, &a, "total");
	/* One release lets one in, from any address. */
	iplimit_release(&l, e[2]);
	a = v6("2001:db8::99", 1);
	e[2] = take(&l, &a);
	a = v4("10.0.0.42", 1);
	refused(&l, &a, "total");
	for (int i = 0; i < 5; i++)
		iplimit_release(&l, e[i]);
	assert_empty(&l);
	iplimit_free(&l);
}
END_TEST

/* When both caps are reached at once the total is reported. */
START_TEST(test_total_before_per_ip)
{
	iplimit_t l;
	addr_t a = v4("203.0.113.5", 9);
	iplimit_entry_t *e[3];

	ck_assert_int_eq(iplimit_init(&l, 3, 3), 0);
	for (int i = 0; i < 3; i++)
		e[i] = take(&l, &a);
	refused(&l, &a, "total");
	for (int i = 0; i < 3; i++)
		iplimit_release(&l, e[i]);
	assert_empty(&l);
	iplimit_free(&l);
}
END_TEST

/* ---- address identity ------------------------------------------------ */

/* An IPv4 peer counts the same whether the socket reports it as AF_INET
 * or as an IPv4-mapped IPv6 address (a dual-stack listener). */
START_TEST(test_v4_mapped_same)
{
	iplimit_t l;
	addr_t a4 = v4("192.0.2.33", 1111), a6 = v6("::ffff:192.0.2.33", 2222);
	iplimit_entry_t *e[3];

	ck_assert_int_eq(iplimit_init(&l, 100, 3), 0);
	e[0] = take(&l, &a4);
	e[1] = take(&l, &a6);
	ck_assert_ptr_eq(e[0], e[1]);
	ck_assert_uint_eq(iplimit_count(&l, &a4.sa), 2);
	ck_assert_uint_eq(iplimit_count(&l, &a6.sa), 2);
	e[2] = take(&l, &a4);
	refused(&l, &a6, "per_ip");
	refused(&l, &a4, "per_ip");
	/* Released through either family, the same entry goes down. */
	iplimit_release(&l, e[0]);
	ck_assert_uint_eq(iplimit_count(&l, &a6.sa), 2);
	iplimit_release(&l, e[1]);
	iplimit_release(&l, e[2]);
	ck_assert_uint_eq(iplimit_count(&l, &a4.sa), 0);
	ck_assert_uint_eq(iplimit_count(&l, &a6.sa), 0);
	assert_empty(&l);
	iplimit_free(&l);
}
END_TEST

/* Addresses that differ are counted apart: IPv4 neighbours, the two
 * families, the deprecated IPv4-compatible form, and IPv6 addresses in
 * different /64s even when they share a longer prefix. */
/* Addresses in one IPv6 /64 share one count. */
START_TEST(test_ipv6_counted_per_64)
{
	iplimit_t l;
	addr_t a = v6("2001:db8:1:2::1", 0), b = v6("2001:db8:1:2:ffff:ffff:ffff:fffe", 0),
	       c = v6("2001:db8:1:3::1", 0);
	iplimit_entry_t *ea, *eb, *ec;

	ck_assert_int_eq(iplimit_init(&l, 100, 2), 0);
	ea = take(&l, &a);
	eb = take(&l, &b);
	ck_assert_ptr_eq(ea, eb);
	ck_assert_uint_eq(iplimit_count(&l, &a.sa), 2);
	refused(&l, &b, "per_ip");
	ec = take(&l, &c); /* the next /64 is someone else */
	iplimit_release(&l, ea);
	iplimit_release(&l, eb);
	iplimit_release(&l, ec);
	assert_empty(&l);
	iplimit_free(&l);
}
END_TEST

START_TEST(test_different_addresses_independent)
{
	iplimit_t l;
	addr_t addrs[] = {
		v4("192.0.2.1", 0),	     v4("192.0.2.2", 0),       v4("192.0.3.1", 0),
		v6("::192.0.2.1", 0),	     v6("2001:db8::1", 0),     v6("2001:db8:0:2::1", 0),
		v6("2001:db8:0:1::1", 0),    v6("2001:db8:1::1", 0),   v4("0.0.0.0", 0),
		v6("fe80::1", 0),	     v6("::ffff:192.0.2.77", 0),
	};
	iplimit_entry_t *e[ARRAY_LEN(addrs)];

	ck_assert_int_eq(iplimit_init(&l, 100, 1), 0);
	for (size_t i = 0; i < ARRAY_LEN(addrs); i++) {
		e[i] = take(&l, &addrs[i]);
		for (size_t j = 0; j < ARRAY_LEN(addrs); j++)
			ck_assert_uint_eq(iplimit_count(&l, &addrs[j].sa), j <= i ? 1 : 0);
	}
	for (size_t i = 0; i < ARRAY_LEN(addrs); i++)
		refused(&l, &addrs[i], "per_ip");
	ck_assert_uint_eq(l.total, ARRAY_LEN(addrs));
	/* Releasing one leaves the others at their cap. */
	iplimit_release(&l, e[0]);
	ck_assert_uint_eq(iplimit_count(&l, &addrs[0].sa), 0);
	for (size_t i = 1; i < ARRAY_LEN(addrs); i++)
		refused(&l, &addrs[i], "per_ip");
	for (size_t i = 1; i < ARRAY_LEN(addrs); i++)
		iplimit_release(&l, e[i]);
	assert_empty(&l);
	iplimit_free(&l);
}
END_TEST

/* Families other than IPv4 and IPv6 have no address to count: refused as
 * invalid, nothing counted. */
START_TEST(test_other_family)
{
	iplimit_t l;
	struct sockaddr_un un;
	iplimit_entry_t *sentinel = (iplimit_entry_t *)&sentinel, *e = sentinel;
	const char *which = NULL;

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	ck_assert_int_eq(iplimit_init(&l, 10, 1), 0);
	ck_assert_int_eq(iplimit_acquire(&l, (struct sockaddr *)&un, &e, &which), -ZK_EINVAL);
	ck_assert_ptr_eq(e, sentinel);
	ck_assert_uint_eq(l.total, 0);
	ck_assert_uint_eq(iplimit_count(&l, (struct sockaddr *)&un), 0);
	assert_empty(&l);
	iplimit_free(&l);
}
END_TEST

/* ---- release to zero ------------------------------------------------ */

/* Many addresses, several connections each: counts return to zero and
 * every entry is freed when its last connection goes. */
START_TEST(test_count_returns_to_zero)
{
	enum { NADDR = 3000, PER = 3 };
	iplimit_t l;
	iplimit_entry_t **e = calloc(NADDR * PER, sizeof(*e));
	addr_t a;

	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(iplimit_init(&l, NADDR * PER, PER), 0);
	for (int k = 0; k < PER; k++) {
		for (int i = 0; i < NADDR; i++) {
			char s[64];

			if (i % 2) {
				snprintf(s, sizeof(s), "10.%d.%d.1", i / 256, i % 256);
				a = v4(s, (uint16_t)k);
			} else {
				snprintf(s, sizeof(s), "2001:db8:%x::1", i);
				a = v6(s, (uint16_t)k);
			}
			e[k * NADDR + i] = take(&l, &a);
			ck_assert_uint_eq(iplimit_count(&l, &a.sa), (uint32_t)k + 1);
		}
	}
	ck_assert_uint_eq(l.total, NADDR * PER);
	a = v4("172.16.0.1", 0);
	refused(&l, &a, "total");
	for (int k = PER; k-- > 0;)
		for (int i = 0; i < NADDR; i++)
			iplimit_release(&l, e[k * NADDR + i]);
	a = v4("10.0.1.1", 0);
	ck_assert_uint_eq(iplimit_count(&l, &a.sa), 0);
	a = v6("2001:db8::2", 0);
	ck_assert_uint_eq(iplimit_count(&l, &a.sa), 0);
	assert_empty(&l);
	iplimit_free(&l);
	free(e);
}
END_TEST

/* Entries released in any order, including one from the middle of a
 * bucket's chain, leave the remaining ones reachable. */
START_TEST(test_release_middle_of_chain)
{
	enum { N = 2000 };
	iplimit_t l;
	iplimit_entry_t *e[N];
	addr_t a;

	/* total_max small enough for the minimum 256 buckets: chains form. */
	ck_assert_int_eq(iplimit_init(&l, N, 1), 0);
	ck_assert_uint_le(l.nbuckets, 1024);
	for (int i = 0; i < N; i++) {
		char s[32];

		snprintf(s, sizeof(s), "100.64.%d.%d", i / 256, i % 256);
		a = v4(s, 0);
		e[i] = take(&l, &a);
	}
	for (int i = 0; i < N; i += 3)
		iplimit_release(&l, e[i]);
	for (int i = 0; i < N; i++) {
		char s[32];

		snprintf(s, sizeof(s), "100.64.%d.%d", i / 256, i % 256);
		a = v4(s, 0);
		ck_assert_uint_eq(iplimit_count(&l, &a.sa), i % 3 ? 1 : 0);
	}
	for (int i = 0; i < N; i++)
		if (i % 3)
			iplimit_release(&l, e[i]);
	assert_empty(&l);
	iplimit_free(&l);
}
END_TEST

Suite *iplimit_suite(void)
{
	Suite *s = suite_create("iplimit");
	TCase *caps = tcase_create("caps");
	TCase *addr = tcase_create("addr");
	TCase *release = tcase_create("release");

	tcase_add_test(caps, test_init);
	tcase_add_test(caps, test_per_ip_edge);
	tcase_add_test(caps, test_per_ip_ignores_port);
	tcase_add_test(caps, test_release_frees_capacity);
	tcase_add_test(caps, test_total_edge);
	tcase_add_test(caps, test_total_before_per_ip);
	tcase_add_test(addr, test_v4_mapped_same);
	tcase_add_test(addr, test_different_addresses_independent);
	tcase_add_test(addr, test_ipv6_counted_per_64);
	tcase_add_test(addr, test_other_family);
	tcase_add_test(release, test_count_returns_to_zero);
	tcase_add_test(release, test_release_middle_of_chain);
	suite_add_tcase(s, caps);
	suite_add_tcase(s, addr);
	suite_add_tcase(s, release);
	return s;
}
