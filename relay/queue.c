#include "queue.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void queue_pool_init(queue_pool_t *pool, size_t headroom, size_t block_cap, size_t free_max)
{
	memset(pool, 0, sizeof(*pool));
	pool->headroom = headroom;
	pool->block_cap = block_cap;
	pool->free_max = free_max;
}

static void block_free(queue_pool_t *pool, queue_block_t *b)
{
	pool->allocated_bytes -= sizeof(*b) + pool->headroom + b->cap;
	free(b);
}

void queue_pool_free(queue_pool_t *pool)
{
	while (pool->free_list) {
		queue_block_t *b = pool->free_list;
		pool->free_list = b->next;
		block_free(pool, b);
	}
	pool->free_count = 0;
}

static queue_block_t *block_get(queue_pool_t *pool, size_t need)
{
	queue_block_t *b;
	size_t cap = need > pool->block_cap ? need : pool->block_cap;

	if (cap == pool->block_cap && pool->free_list) {
		b = pool->free_list;
		pool->free_list = b->next;
		pool->free_count--;
	} else {
		b = malloc(sizeof(*b) + pool->headroom + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->data = (uint8_t *)(b + 1) + pool->headroom;
		pool->allocated_bytes += sizeof(*b) + pool->headroom + cap;
	}
	b->next = NULL;
	b->len = 0;
	b->frames = 0;
	return b;
}

void queue_release(queue_pool_t *pool, queue_block_t *b)
{
	if (b->cap == pool->block_cap && pool->free_count < pool->free_max) {
		b->next = pool->free_list;
		pool->free_list = b;
		pool->free_count++;
		return;
	}
	block_free(pool, b);
}

void queue_init(queue_t *q)
{
	memset(q, 0, sizeof(*q));
}

uint8_t *queue_reserve(queue_t *q, queue_pool_t *pool, size_t n)
{
	queue_block_t *t = q->tail;
	if (t && t->cap - t->len >= n)
		return t->data + t->len;
	t = block_get(pool, n);
	if (!t)
		return NULL;
	if (q->tail)
		q->tail->next = t;
	else
		q->head = t;
	q->tail = t;
	return t->data;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void queue_commit(queue_t *q, size_t n)
{
	if (q->tail->frames++ == 0)
		q->tail->first_ns = mono_ns(); /* the oldest frame's wait stands for the block */
	q->tail->len += n;
	q->bytes += n;
}

queue_block_t *queue_pop(queue_t *q)
{
	queue_block_t *b = q->head;
	if (!b)
		return NULL;
	q->head = b->next;
	if (!q->head)
		q->tail = NULL;
	b->next = NULL;
	q->bytes -= b->len;
	return b;
}

void queue_clear(queue_t *q, queue_pool_t *pool)
{
	queue_block_t *b;
	while ((b = queue_pop(q)))
		queue_release(pool, b);
}
