/* Per-connection outbound queue: encoded frames in blocks.
 *
 * Frames for one destination are appended to the tail block, so frames
 * that wait together leave together as one WebSocket message (one TLS
 * record, one system call). A frame never spans blocks; a frame larger than
 * the standard block gets a block of its own. Each block keeps `headroom`
 * bytes in front of its data for the WebSocket header the transport writes
 * there. Blocks come from and return to a pool shared by all queues, so the
 * steady state allocates nothing. */
#ifndef RELAY_QUEUE_H
#define RELAY_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct queue_block {
	struct queue_block *next;
	size_t len;  /* bytes of frames */
	size_t cap;  /* bytes available after headroom */
	uint8_t *data; /* first frame byte; headroom lies before it */
	uint32_t frames;   /* frames committed */
	uint64_t first_ns; /* CLOCK_MONOTONIC when the first one was */
	size_t after;      /* once written: record bytes its writer handed over after it */
} queue_block_t;

typedef struct {
	size_t headroom;
	size_t block_cap;
	queue_block_t *free_list;
	size_t free_count, free_max;
	uint64_t allocated_bytes; /* live block memory, for the memory budget */
} queue_pool_t;

typedef struct {
	queue_block_t *head, *tail;
	uint64_t bytes; /* frame bytes queued */
} queue_t;

void queue_pool_init(queue_pool_t *pool, size_t headroom, size_t block_cap, size_t free_max);
void queue_pool_free(queue_pool_t *pool);

void queue_init(queue_t *q);
/* Space for n frame bytes at the tail; write them, then queue_commit(q, n).
 * NULL on allocation failure (the queue is unchanged). */
uint8_t *queue_reserve(queue_t *q, queue_pool_t *pool, size_t n);
void queue_commit(queue_t *q, size_t n);
/* Detaches the head block; the caller sends it, then queue_release()s it. */
queue_block_t *queue_pop(queue_t *q);
void queue_release(queue_pool_t *pool, queue_block_t *b);
/* Releases every block (after the caller has walked them if it needs to). */
void queue_clear(queue_t *q, queue_pool_t *pool);

#endif
