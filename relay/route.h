/* The routing table: address ("<practice-id>/<endpoint-id>") to
 * connection, O(1) lookups.
 *
 * Open addressing with linear probing and backward-shift deletion. Keys
 * are not copied: each key points into its value (the connection's
 * identity) and must live as long as the entry. Only authenticated
 * identities are inserted; strangers can look up but never insert, so
 * they cannot shape the probe chains. */
#ifndef RELAY_ROUTE_H
#define RELAY_ROUTE_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	const char *key;
	size_t klen;
	uint64_t hash;
	void *val;
} route_slot_t;

typedef struct {
	route_slot_t *slots;
	size_t cap;   /* power of two */
	size_t count;
	uint64_t seed;
} route_table_t;

int route_init(route_table_t *t, size_t initial_cap);
void route_free(route_table_t *t);
void *route_get(const route_table_t *t, const void *key, size_t klen);
/* Inserts or replaces. The previous value for the key (or NULL) goes to
 * *old. 0 or -ZK_ENOMEM (table unchanged). */
int route_put(route_table_t *t, const char *key, size_t klen, void *val, void **old);
/* Removes key only if it maps to val (a replaced connection must not
 * remove its successor). 1 if removed. */
int route_del(route_table_t *t, const char *key, size_t klen, const void *val);

#endif
