/* Connection counts per source address and in total, enforced when a TCP
 * connection is accepted (before TLS), since this libwebsockets build has
 * no per-IP limits of its own. An IPv4 address (or IPv4-mapped IPv6
 * address) counts alone; IPv6 addresses count per /64, the block one
 * subscriber gets. */
#ifndef RELAY_IPLIMIT_H
#define RELAY_IPLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct iplimit_entry iplimit_entry_t;

typedef struct {
	iplimit_entry_t **buckets;
	size_t nbuckets; /* power of two */
	uint64_t seed;
	uint32_t per_ip_max;
	uint32_t total_max;
	uint32_t total;
} iplimit_t;

int iplimit_init(iplimit_t *l, uint32_t total_max, uint32_t per_ip_max);
void iplimit_free(iplimit_t *l);
/* Counts one more connection from sa. 0 and the entry to pass to
 * iplimit_release() later, or -ZK_EBUSY (a cap is reached: total or
 * per address; *which says "total" or "per_ip") or -ZK_ENOMEM. */
int iplimit_acquire(iplimit_t *l, const struct sockaddr *sa, iplimit_entry_t **out,
		    const char **which);
void iplimit_release(iplimit_t *l, iplimit_entry_t *e);
uint32_t iplimit_count(const iplimit_t *l, const struct sockaddr *sa);

#endif
