/* Live per-practice state: what every connection of one practice shares
 * while the relay runs (today: the practice's rate-limit buckets).
 *
 * The registry is immutable and replaced whole on SIGHUP, so state that
 * changes with traffic cannot live in it. It lives here instead, keyed by
 * practice id and independent of registry reloads: a reload neither
 * refills nor resets a practice's buckets. An entry is made when the
 * first connection of a practice is admitted and is kept after its last
 * connection leaves until its buckets have refilled, because only then
 * does forgetting it change nothing (a new entry starts full); so
 * reconnecting does not buy a practice a fresh burst. */
#ifndef RELAY_PRACTICE_H
#define RELAY_PRACTICE_H

#include <stddef.h>
#include <stdint.h>

#include "ratelimit.h"
#include "route.h"
#include "wire.h"

typedef struct practice_state practice_state_t;

struct practice_state {
	char id[WIRE_MAX_ID + 1];
	size_t id_len;
	uint32_t refs;                      /* connections holding it */
	ratelimit_bucket_t frames, bytes;   /* data frames and payload bytes */
	practice_state_t *idle_prev, *idle_next; /* while refs == 0 */
};

typedef struct {
	route_table_t by_id;
	practice_state_t *idle; /* entries no connection holds */
	ratelimit_rule_t frames, bytes;
} practice_table_t;

int practice_table_init(practice_table_t *t, const ratelimit_rule_t *frames,
			const ratelimit_rule_t *bytes);
/* Frees every entry; no connection may hold one any more. */
void practice_table_free(practice_table_t *t);
/* The entry for practice id (len bytes), made with full buckets if there
 * is none; counts one more holder. 0 and *out, -ZK_EINVAL (id too long)
 * or -ZK_ENOMEM. */
int practice_acquire(practice_table_t *t, const char *id, size_t len, uint64_t now_ns,
		     practice_state_t **out);
/* One holder less; the entry stays until practice_sweep() finds it idle
 * and full. NULL is a no-op. */
void practice_release(practice_table_t *t, practice_state_t *p);
/* Forgets idle entries whose buckets are full again at now_ns. */
void practice_sweep(practice_table_t *t, uint64_t now_ns);
/* Entries kept (for tests). */
size_t practice_count(const practice_table_t *t);

#endif
