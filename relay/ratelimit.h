/* Token buckets in integer arithmetic on a monotonic nanosecond clock.
 *
 * A bucket holds up to `burst` units (frames or bytes) and gains `rate`
 * units per second. Its level is kept in nano-units (one unit is
 * RATELIMIT_NS_PER_S nano-units), so that refilling for dt nanoseconds adds
 * exactly rate * dt nano-units: no division, no rounding, no floating
 * point. With rate and burst at most UINT32_MAX the full level fits in 63
 * bits, and refilling is written so that no product can wrap, whatever
 * the rate and however long the bucket sat idle.
 *
 * Nothing here reads a clock or allocates; callers pass the time. */
#ifndef RELAY_RATELIMIT_H
#define RELAY_RATELIMIT_H

#include <stdint.h>

#define RATELIMIT_NS_PER_S 1000000000ull

typedef struct {
	uint32_t rate;  /* units per second, at least 1 */
	uint32_t burst; /* bucket size in units, at least 1 */
} ratelimit_rule_t;

typedef struct {
	uint64_t level;   /* nano-units available */
	uint64_t last_ns; /* clock reading of the last refill */
} ratelimit_bucket_t;

/* A full bucket as of now_ns. */
void ratelimit_init(ratelimit_bucket_t *b, const ratelimit_rule_t *rule, uint64_t now_ns);
/* Adds what accrued since the last refill, up to burst. A clock reading
 * older than the last one adds nothing. */
void ratelimit_refill(ratelimit_bucket_t *b, const ratelimit_rule_t *rule, uint64_t now_ns);
/* 1 if n units are available now (after refilling), else 0. n above burst
 * is never available. Takes nothing. */
int ratelimit_allows(ratelimit_bucket_t *b, const ratelimit_rule_t *rule, uint64_t now_ns,
		     uint64_t n);
/* Takes n units that ratelimit_allows() just reported available. */
void ratelimit_take(ratelimit_bucket_t *b, uint64_t n);
/* Nanoseconds from the last refill until n units are available (0: now);
 * UINT64_MAX if n exceeds burst. */
uint64_t ratelimit_wait_ns(const ratelimit_bucket_t *b, const ratelimit_rule_t *rule, uint64_t n);

#endif
