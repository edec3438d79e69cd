#include "route.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "zkerr.h"

/* FNV-1a with a random start value: cheap, and good enough because every
 * key comes from a CA-issued certificate, not from a sender. */
static uint64_t hash(uint64_t seed, const void *key, size_t n)
{
	const uint8_t *p = key;
	uint64_t h = 0xcbf29ce484222325ull ^ seed;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

int route_init(route_table_t *t, size_t initial_cap)
{
	size_t cap = 16;
	while (cap < initial_cap)
		cap <<= 1;
	memset(t, 0, sizeof(*t));
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		return -ZK_ENOMEM;
	t->cap = cap;
	if (RAND_bytes((unsigned char *)&t->seed, sizeof(t->seed)) != 1)
		t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
	return 0;
}

void route_free(route_table_t *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->count = 0;
}

static size_t find(const route_table_t *t, const void *key, size_t klen, uint64_t h)
{
	size_t mask = t->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const route_slot_t *s = &t->slots[i];
		if (!s->key)
			return i;
		if (s->hash == h && s->klen == klen && memcmp(s->key, key, klen) == 0)
			return i;
	}
}

void *route_get(const route_table_t *t, const void *key, size_t klen)
{
	size_t i = find(t, key, klen, hash(t->seed, key, klen));
	return t->slots[i].key ? t->slots[i].val : NULL;
}

static int grow(route_table_t *t)
{
	route_table_t n = *t;
	n.cap = t->cap * 2;
	n.count = 0;
	n.slots = calloc(n.cap, sizeof(*n.slots));
	if (!n.slots)
		return -ZK_ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		route_slot_t *s = &t->slots[i];
		if (s->key) {
			n.slots[find(&n, s->key, s->klen, s->hash)] = *s;
			n.count++;
		}
	}
	free(t->slots);
	*t = n;
	return 0;
}

int route_put(route_table_t *t, const char *key, size_t klen, void *val, void **old)
{
	uint64_t h = hash(t->seed, key, klen);
	size_t i = find(t, key, klen, h);

	if (t->slots[i].key) {
		*old = t->slots[i].val;
		t->slots[i].key = key; /* the new value owns the key memory now */
		t->slots[i].val = val;
		return 0;
	}
	/* Keep the load at or below one half so probe chains stay short. */
	if ((t->count + 1) * 2 > t->cap) {
		if (grow(t))
			return -ZK_ENOMEM;
		i = find(t, key, klen, h);
	}
	t->slots[i] = (route_slot_t){ key, klen, h, val };
	t->count++;
	*old = NULL;
	return 0;
}

int route_del(route_table_t *t, const char *key, size_t klen, const void *val)
{
	size_t mask = t->cap - 1;
	size_t i = find(t, key, klen, hash(t->seed, key, klen));

	if (!t->slots[i].key || t->slots[i].val != val)
		return 0;
	/* Backward-shift: pull later members of the chain into the hole so
	 * lookups never stop early at an empty slot. */
	for (size_t j = (i + 1) & mask; t->slots[j].key; j = (j + 1) & mask) {
		size_t home = t->slots[j].hash & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i] = (route_slot_t){ 0 };
	t->count--;
	return 1;
}
