#include "iplimit.h"

#include <netinet/in.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "zkerr.h"

struct iplimit_entry {
	iplimit_entry_t *next;
	uint8_t addr[16]; /* IPv4 as v4-mapped IPv6, so both families share keys */
	uint32_t count;
};

static int key_of(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &in->sin_addr, 4);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
		memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
		/* One IPv6 subscriber gets a whole /64: count per /64, or the
		 * per-address cap means nothing. IPv4-mapped addresses stay
		 * whole, as IPv4 is counted. */
		if (memcmp(key, mapped, sizeof(mapped)))
			memset(key + 8, 0, 8);
		return 0;
	}
	return -ZK_EINVAL;
}

static size_t bucket(const iplimit_t *l, const uint8_t key[16])
{
	uint64_t h = 0xcbf29ce484222325ull ^ l->seed;
	for (int i = 0; i < 16; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
	}
	return (size_t)(h ^ (h >> 31)) & (l->nbuckets - 1);
}

int iplimit_init(iplimit_t *l, uint32_t total_max, uint32_t per_ip_max)
{
	memset(l, 0, sizeof(*l));
	l->nbuckets = 256;
	while (l->nbuckets < total_max / 4 && l->nbuckets < (1u << 20))
		l->nbuckets <<= 1;
	l->buckets = calloc(l->nbuckets, sizeof(*l->buckets));
	if (!l->buckets)
		return -ZK_ENOMEM;
	/* Source addresses are chosen by strangers: a secret seed keeps them
	 * from piling into one bucket. */
	if (RAND_bytes((unsigned char *)&l->seed, sizeof(l->seed)) != 1) {
		free(l->buckets);
		l->buckets = NULL;
		return -ZK_EIO;
	}
	l->total_max = total_max;
	l->per_ip_max = per_ip_max;
	return 0;
}

void iplimit_free(iplimit_t *l)
{
	for (size_t i = 0; l->buckets && i < l->nbuckets; i++) {
		while (l->buckets[i]) {
			iplimit_entry_t *e = l->buckets[i];
			l->buckets[i] = e->next;
			free(e);
		}
	}
	free(l->buckets);
	l->buckets = NULL;
}

static iplimit_entry_t *lookup(const iplimit_t *l, const uint8_t key[16])
{
	for (iplimit_entry_t *e = l->buckets[bucket(l, key)]; e; e = e->next)
		if (memcmp(e->addr, key, 16) == 0)
			return e;
	return NULL;
}

int iplimit_acquire(iplimit_t *l, const struct sockaddr *sa, iplimit_entry_t **out,
		    const char **which)
{
	uint8_t key[16];
	iplimit_entry_t *e;

	if (key_of(sa, key))
		return -ZK_EINVAL;
	if (l->total >= l->total_max) {
		*which = "total";
		return -ZK_EBUSY;
	}
	e = lookup(l, key);
	if (e && e->count >= l->per_ip_max) {
		*which = "per_ip";
		return -ZK_EBUSY;
	}
	if (!e) {
		size_t b = bucket(l, key);
		e = calloc(1, sizeof(*e));
		if (!e)
			return -ZK_ENOMEM;
		memcpy(e->addr, key, 16);
		e->next = l->buckets[b];
		l->buckets[b] = e;
	}
	e->count++;
	l->total++;
	*out = e;
	return 0;
}

void iplimit_release(iplimit_t *l, iplimit_entry_t *e)
{
	l->total--;
	if (--e->count)
		return;
	iplimit_entry_t **pp = &l->buckets[bucket(l, e->addr)];
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	free(e);
}

uint32_t iplimit_count(const iplimit_t *l, const struct sockaddr *sa)
{
	uint8_t key[16];
	if (key_of(sa, key))
		return 0;
	iplimit_entry_t *e = lookup(l, key);
	return e ? e->count : 0;
}
