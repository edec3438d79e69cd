#include "practice.h"

#include <stdlib.h>
#include <string.h>

#include "zkerr.h"

int practice_table_init(practice_table_t *t, const ratelimit_rule_t *frames,
			const ratelimit_rule_t *bytes)
{
	memset(t, 0, sizeof(*t));
	t->frames = *frames;
	t->bytes = *bytes;
	return route_init(&t->by_id, 64);
}

void practice_table_free(practice_table_t *t)
{
	for (size_t i = 0; i < t->by_id.cap; i++)
		if (t->by_id.slots && t->by_id.slots[i].key)
			free(t->by_id.slots[i].val);
	route_free(&t->by_id);
	t->idle = NULL;
}

static void idle_unlink(practice_table_t *t, practice_state_t *p)
{
	if (p->idle_prev)
		p->idle_prev->idle_next = p->idle_next;
	else
		t->idle = p->idle_next;
	if (p->idle_next)
		p->idle_next->idle_prev = p->idle_prev;
	p->idle_prev = p->idle_next = NULL;
}

static practice_state_t *entry_new(practice_table_t *t, const char *id, size_t len,
				   uint64_t now_ns)
{
	practice_state_t *p = calloc(1, sizeof(*p));
	void *old;

	if (!p)
		return NULL;
	memcpy(p->id, id, len);
	p->id_len = len;
	ratelimit_init(&p->frames, &t->frames, now_ns);
	ratelimit_init(&p->bytes, &t->bytes, now_ns);
	/* The key points into the entry, which outlives its slot. */
	if (route_put(&t->by_id, p->id, p->id_len, p, &old)) {
		free(p);
		return NULL;
	}
	return p;
}

int practice_acquire(practice_table_t *t, const char *id, size_t len, uint64_t now_ns,
		     practice_state_t **out)
{
	practice_state_t *p;

	if (len == 0 || len > WIRE_MAX_ID)
		return -ZK_EINVAL;
	p = route_get(&t->by_id, id, len);
	if (!p && !(p = entry_new(t, id, len, now_ns)))
		return -ZK_ENOMEM;
	if (p->refs == 0 && (p->idle_prev || t->idle == p))
		idle_unlink(t, p);
	p->refs++;
	*out = p;
	return 0;
}

void practice_release(practice_table_t *t, practice_state_t *p)
{
	if (!p || p->refs == 0)
		return;
	if (--p->refs)
		return;
	p->idle_prev = NULL;
	p->idle_next = t->idle;
	if (t->idle)
		t->idle->idle_prev = p;
	t->idle = p;
}

void practice_sweep(practice_table_t *t, uint64_t now_ns)
{
	practice_state_t *p = t->idle, *next;

	for (; p; p = next) {
		next = p->idle_next;
		/* Full buckets: a fresh entry would behave the same. */
		if (!ratelimit_allows(&p->frames, &t->frames, now_ns, t->frames.burst) ||
		    !ratelimit_allows(&p->bytes, &t->bytes, now_ns, t->bytes.burst))
			continue;
		idle_unlink(t, p);
		route_del(&t->by_id, p->id, p->id_len, p);
		free(p);
	}
}

size_t practice_count(const practice_table_t *t)
{
	return t->by_id.count;
}
