#include "ratelimit.h"

/* The most a bucket can hold, in nano-units: below 2^63 for any
 * burst <= UINT32_MAX. */
static uint64_t capacity(const ratelimit_rule_t *rule)
{
	return (uint64_t)rule->burst * RATELIMIT_NS_PER_S;
}

void ratelimit_init(ratelimit_bucket_t *b, const ratelimit_rule_t *rule, uint64_t now_ns)
{
	b->level = capacity(rule);
	b->last_ns = now_ns;
}

void ratelimit_refill(ratelimit_bucket_t *b, const ratelimit_rule_t *rule, uint64_t now_ns)
{
	const uint64_t cap = capacity(rule);
	const uint64_t rate = rule->rate ? rule->rate : 1;
	uint64_t dt, room;

	if (now_ns <= b->last_ns)
		return; /* no time passed (or an older reading): nothing accrues */
	dt = now_ns - b->last_ns;
	b->last_ns = now_ns;
	if (b->level >= cap) {
		b->level = cap;
		return;
	}
	room = cap - b->level;
	/* dt * rate >= room exactly when dt > (room - 1) / rate; comparing
	 * this way first keeps the product below room, so it cannot wrap. */
	if (dt > (room - 1) / rate)
		b->level = cap;
	else
		b->level += dt * rate;
}

int ratelimit_allows(ratelimit_bucket_t *b, const ratelimit_rule_t *rule, uint64_t now_ns,
		     uint64_t n)
{
	if (n > rule->burst)
		return 0;
	ratelimit_refill(b, rule, now_ns);
	return b->level >= n * RATELIMIT_NS_PER_S;
}

void ratelimit_take(ratelimit_bucket_t *b, uint64_t n)
{
	uint64_t cost = n * RATELIMIT_NS_PER_S;
	/* Callers ask ratelimit_allows() first; never go below empty. */
	b->level = b->level > cost ? b->level - cost : 0;
}

uint64_t ratelimit_wait_ns(const ratelimit_bucket_t *b, const ratelimit_rule_t *rule, uint64_t n)
{
	const uint64_t rate = rule->rate ? rule->rate : 1;
	uint64_t need;

	if (n > rule->burst)
		return UINT64_MAX;
	need = n * RATELIMIT_NS_PER_S;
	if (b->level >= need)
		return 0;
	need -= b->level;
	return need / rate + (need % rate != 0);
}
