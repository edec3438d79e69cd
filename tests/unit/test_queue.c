/* queue.c: outbound frames in pooled blocks. Each test frame carries its
 * sequence number and a byte pattern, and every test walks the blocks the
 * way the transport does, so a frame that spans blocks, overlaps another
 * or comes out of order shows up as a mismatch. Every reserved byte is
 * written, and the headroom test writes each block's headroom and spare
 * capacity too, so under ASan a block smaller than it claims is a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"
#include "suites.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define HEADROOM 16
#define BLOCK 1024
#define MAX_FRAMES 4096

/* The frames queued so far, in order, and how many have been checked
 * back out. */
typedef struct {
	size_t len[MAX_FRAMES];
	size_t n, next;
	uint64_t queued;
} log_t;

static uint8_t pattern(uint32_t seq, size_t j)
{
	return (uint8_t)(seq * 31u + j);
}

/* Queues one frame of n bytes (n >= 4) and checks that the space handed
 * out lies inside the tail block, after the frames already there. */
static void push(queue_t *q, queue_pool_t *pool, log_t *log, size_t n)
{
	uint32_t seq = (uint32_t)log->n;
	uint8_t *p;
	queue_block_t *t;

	ck_assert_uint_ge(n, 4);
	ck_assert_uint_lt(log->n, MAX_FRAMES);
	p = queue_reserve(q, pool, n);
	ck_assert_ptr_nonnull(p);
	t = q->tail;
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_eq(p, t->data + t->len);
	ck_assert_uint_le(n, t->cap - t->len);
	memcpy(p, &seq, 4);
	for (size_t j = 4; j < n; j++)
		p[j] = pattern(seq, j);
	queue_commit(q, n);
	log->len[log->n++] = n;
	log->queued += n;
	ck_assert_uint_eq(q->bytes, log->queued);
}

/* Checks one detached block: whole frames only, the next ones in order. */
static void check_block(const queue_pool_t *pool, log_t *log, const queue_block_t *b)
{
	size_t off = 0;

	ck_assert_uint_le(b->len, b->cap);
	ck_assert_uint_gt(b->len, 0);
	ck_assert_uint_ge(b->cap, pool->block_cap);
	while (off < b->len) {
		uint32_t seq;
		size_t n;

		ck_assert_uint_lt(log->next, log->n);
		n = log->len[log->next];
		ck_assert_msg(off + n <= b->len, "frame %zu spans blocks", log->next);
		memcpy(&seq, b->data + off, 4);
		ck_assert_uint_eq(seq, log->next);
		for (size_t j = 4; j < n; j++)
			if (b->data[off + j] != pattern(seq, j))
				ck_abort_msg("frame %zu byte %zu corrupted", log->next, j);
		off += n;
		log->next++;
	}
	ck_assert_uint_eq(off, b->len);
}

/* Pops, checks and releases every block. */
static void drain(queue_t *q, queue_pool_t *pool, log_t *log)
{
	queue_block_t *b;

	while ((b = queue_pop(q)) != NULL) {
		ck_assert_ptr_null(b->next);
		check_block(pool, log, b);
		log->queued -= b->len;
		ck_assert_uint_eq(q->bytes, log->queued);
		queue_release(pool, b);
	}
	ck_assert_uint_eq(log->next, log->n);
	ck_assert_uint_eq(q->bytes, 0);
	ck_assert_ptr_null(q->head);
	ck_assert_ptr_null(q->tail);
}

static log_t *log_new(void)
{
	log_t *log = calloc(1, sizeof(*log));

	ck_assert_ptr_nonnull(log);
	return log;
}

static size_t nblocks(const queue_t *q)
{
	size_t n = 0;

	for (const queue_block_t *b = q->head; b; b = b->next)
		n++;
	return n;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* ---- setup ---------------------------------------------------------- */

START_TEST(test_pool_init)
{
	queue_pool_t pool;
	queue_t q;

	memset(&pool, 0x5a, sizeof(pool));
	queue_pool_init(&pool, HEADROOM, BLOCK, 7);
	ck_assert_uint_eq(pool.headroom, HEADROOM);
	ck_assert_uint_eq(pool.block_cap, BLOCK);
	ck_assert_uint_eq(pool.free_max, 7);
	ck_assert_uint_eq(pool.free_count, 0);
	ck_assert_ptr_null(pool.free_list);
	ck_assert_uint_eq(pool.allocated_bytes, 0);
	memset(&q, 0x5a, sizeof(q));
	queue_init(&q);
	ck_assert_ptr_null(q.head);
	ck_assert_ptr_null(q.tail);
	ck_assert_uint_eq(q.bytes, 0);
	ck_assert_ptr_null(queue_pop(&q));
	queue_pool_free(&pool);
}
END_TEST

/* ---- accounting and layout -------------------------------------------- */

/* q.bytes is the sum of committed frames at every step, and the blocks'
 * lengths add up to it too. */
START_TEST(test_bytes_accounting)
{
	queue_pool_t pool;
	queue_t q;
	log_t *log = log_new();
	uint64_t rng = 12345;

	queue_pool_init(&pool, HEADROOM, BLOCK, 8);
	queue_init(&q);
	for (int i = 0; i < 500; i++) {
		uint64_t sum = 0;

		push(&q, &pool, log, 4 + (size_t)(rng_next(&rng) % 700));
		for (const queue_block_t *b = q.head; b; b = b->next)
			sum += b->len;
		ck_assert_uint_eq(sum, q.bytes);
	}
	drain(&q, &pool, log);
	queue_pool_free(&pool);
	ck_assert_uint_eq(pool.allocated_bytes, 0);
	free(log);
}
END_TEST

/* A reservation that is not committed adds nothing: the next reservation
 * gets the same space. */
START_TEST(test_reserve_without_commit)
{
	queue_pool_t pool;
	queue_t q;
	uint8_t *p1, *p2;

	queue_pool_init(&pool, HEADROOM, BLOCK, 8);
	queue_init(&q);
	p1 = queue_reserve(&q, &pool, 100);
	ck_assert_ptr_nonnull(p1);
	ck_assert_uint_eq(q.bytes, 0);
	p2 = queue_reserve(&q, &pool, 200);
	ck_assert_ptr_eq(p2, p1);
	ck_assert_uint_eq(nblocks(&q), 1);
	memset(p2, 1, 200);
	queue_commit(&q, 200);
	ck_assert_uint_eq(q.bytes, 200);
	ck_assert_ptr_eq(queue_reserve(&q, &pool, 10), p1 + 200);
	queue_clear(&q, &pool);
	queue_pool_free(&pool);
	ck_assert_uint_eq(pool.allocated_bytes, 0);
}
END_TEST

/* Frames fill a block exactly to its cap; one byte more starts the next
 * block, and the frame is never split. */
START_TEST(test_frames_never_span)
{
	queue_pool_t pool;
	queue_t q;
	log_t *log = log_new();
	uint64_t rng = 777;

	queue_pool_init(&pool, HEADROOM, BLOCK, 8);
	queue_init(&q);
	push(&q, &pool, log, 1000);
	push(&q, &pool, log, 24); /* fills the block exactly */
	ck_assert_uint_eq(nblocks(&q), 1);
	ck_assert_uint_eq(q.head->len, BLOCK);
	push(&q, &pool, log, 4);
	ck_assert_uint_eq(nblocks(&q), 2);
	push(&q, &pool, log, 1000);
	push(&q, &pool, log, 21); /* 1 byte too many for block 2 */
	ck_assert_uint_eq(nblocks(&q), 3);
	ck_assert_uint_eq(q.head->next->len, 1004);
	for (int i = 0; i < 300; i++)
		push(&q, &pool, log, 4 + (size_t)(rng_next(&rng) % (BLOCK - 3)));
	drain(&q, &pool, log);
	queue_pool_free(&pool);
	free(log);
}
END_TEST

/* A frame larger than block_cap gets a block of exactly its size, with no
 * other frame in it, and that block is freed rather than pooled. */
START_TEST(test_large_frame_own_block)
{
	queue_pool_t pool;
	queue_t q;
	log_t *log = log_new();
	queue_block_t *b;
	uint64_t before;

	queue_pool_init(&pool, HEADROOM, BLOCK, 8);
	queue_init(&q);
	push(&q, &pool, log, 100);
	push(&q, &pool, log, 5000);
	push(&q, &pool, log, 100);
	ck_assert_uint_eq(nblocks(&q), 3);
	ck_assert_uint_eq(q.head->len, 100);
	ck_assert_uint_eq(q.head->cap, BLOCK);
	ck_assert_uint_eq(q.head->next->len, 5000);
	ck_assert_uint_eq(q.head->next->cap, 5000);
	ck_assert_uint_eq(q.tail->len, 100);
	ck_assert_uint_eq(q.tail->cap, BLOCK);
	/* Exactly block_cap is not large: it takes a standard block. */
	push(&q, &pool, log, BLOCK);
	ck_assert_uint_eq(nblocks(&q), 4);
	ck_assert_uint_eq(q.tail->cap, BLOCK);

	b = queue_pop(&q);
	check_block(&pool, log, b);
	log->queued -= b->len;
	queue_release(&pool, b);
	ck_assert_uint_eq(pool.free_count, 1);
	b = queue_pop(&q);
	ck_assert_uint_eq(b->cap, 5000);
	check_block(&pool, log, b);
	log->queued -= b->len;
	ck_assert_uint_eq(q.bytes, log->queued);
	before = pool.allocated_bytes;
	queue_release(&pool, b);
	ck_assert_uint_eq(pool.free_count, 1);
	ck_assert_uint_ge(before - pool.allocated_bytes, HEADROOM + 5000);
	drain(&q, &pool, log);
	queue_pool_free(&pool);
	ck_assert_uint_eq(pool.allocated_bytes, 0);
	free(log);
}
END_TEST

/* An empty queue's first frame, even a large one, starts the head. */
START_TEST(test_large_frame_first)
{
	queue_pool_t pool;
	queue_t q;
	log_t *log = log_new();

	queue_pool_init(&pool, HEADROOM, BLOCK, 8);
	queue_init(&q);
	push(&q, &pool, log, 3 * BLOCK);
	ck_assert_ptr_eq(q.head, q.tail);
	ck_assert_uint_eq(q.head->cap, 3 * BLOCK);
	push(&q, &pool, log, 4);
	ck_assert_uint_eq(nblocks(&q), 2);
	drain(&q, &pool, log);
	queue_pool_free(&pool);
	free(log);
}
END_TEST

/* ---- pop order ---------------------------------------------------- */

START_TEST(test_pop_fifo)
{
	queue_pool_t pool;
	queue_t q;
	log_t *log = log_new();
	uint64_t rng = 4242;

	queue_pool_init(&pool, HEADROOM, BLOCK, 4);
	queue_init(&q);
	ck_assert_ptr_null(queue_pop(&q));
	/* Interleave pushes and pops; frames come out in push order. */
	for (int round = 0; round < 50; round++) {
		queue_block_t *b;
		int n = 1 + (int)(rng_next(&rng) % 20);

		for (int i = 0; i < n; i++)
			push(&q, &pool, log, 4 + (size_t)(rng_next(&rng) % 1500));
		b = queue_pop(&q);
		ck_assert_ptr_nonnull(b);
		check_block(&pool, log, b);
		log->queued -= b->len;
		ck_assert_uint_eq(q.bytes, log->queued);
		queue_release(&pool, b);
	}
	drain(&q, &pool, log);
	ck_assert_ptr_null(queue_pop(&q));
	/* An emptied queue takes frames again. */
	push(&q, &pool, log, 50);
	ck_assert_ptr_eq(q.head, q.tail);
	drain(&q, &pool, log);
	queue_pool_free(&pool);
	free(log);
}
END_TEST

/* Batching keeps order and loses nothing, and batches as far as it can:
 * small frames pushed in bursts, blocks popped at random moments (as the
 * transport takes them while senders go on), thousands of frames. Every
 * frame comes out once, whole and in order (check_block), and a block
 * that has a successor was closed only because the next frame did not
 * fit: frames waiting together leave together. */
START_TEST(test_batching_order)
{
	queue_pool_t pool;
	queue_t q;
	log_t *log = log_new();
	uint64_t rng = 777 + (uint64_t)_i;
	size_t blocks = 0;

	queue_pool_init(&pool, HEADROOM, BLOCK, 4);
	queue_init(&q);
	while (log->n < MAX_FRAMES - 64) {
		int burst = 1 + (int)(rng_next(&rng) % 48);

		for (int i = 0; i < burst; i++)
			push(&q, &pool, log, 4 + (size_t)(rng_next(&rng) % (_i ? 300 : 60)));
		while (q.head != NULL && rng_next(&rng) % 3 != 0) {
			queue_block_t *b = queue_pop(&q);
			int more = q.head != NULL;

			check_block(&pool, log, b);
			if (more)
				ck_assert_msg(b->len + log->len[log->next] > b->cap,
					      "block closed at %zu of %zu bytes, next frame %zu "
					      "would have fit", b->len, b->cap,
					      log->len[log->next]);
			log->queued -= b->len;
			ck_assert_uint_eq(q.bytes, log->queued);
			queue_release(&pool, b);
			blocks++;
		}
	}
	drain(&q, &pool, log);
	ck_assert_uint_lt(blocks, log->n / 4); /* small frames share blocks */
	queue_pool_free(&pool);
	free(log);
}
END_TEST

/* ---- pool --------------------------------------------------------- */

/* Steady state: send and release over and over; after the first round the
 * pool's memory stays flat and the same blocks come back. */
START_TEST(test_pool_reuse)
{
	queue_pool_t pool;
	queue_t q;
	log_t *log = log_new();
	queue_block_t *first[3];
	uint64_t flat = 0;

	queue_pool_init(&pool, HEADROOM, BLOCK, 8);
	queue_init(&q);
	for (int round = 0; round < 200; round++) {
		queue_block_t *b;
		size_t i = 0;

		log->n = log->next = 0;
		push(&q, &pool, log, 1000);
		push(&q, &pool, log, 1000);
		push(&q, &pool, log, 1000);
		ck_assert_uint_eq(nblocks(&q), 3);
		while ((b = queue_pop(&q)) != NULL) {
			check_block(&pool, log, b);
			log->queued -= b->len;
			if (round == 0)
				first[i] = b;
			else
				ck_assert(b == first[0] || b == first[1] || b == first[2]);
			i++;
			queue_release(&pool, b);
		}
		if (round == 0)
			flat = pool.allocated_bytes;
		ck_assert_uint_eq(pool.allocated_bytes, flat);
		ck_assert_uint_eq(pool.free_count, 3);
	}
	ck_assert_uint_ge(flat, 3 * (uint64_t)(HEADROOM + BLOCK));
	queue_pool_free(&pool);
	ck_assert_uint_eq(pool.allocated_bytes, 0);
	ck_assert_uint_eq(pool.free_count, 0);
	ck_assert_ptr_null(pool.free_list);
	free(log);
}
END_TEST

/* Two queues share one pool: a block one queue released serves the
 * other, reset to empty. */
START_TEST(test_pool_shared)
{
	queue_pool_t pool;
	queue_t q1, q2;
	queue_block_t *b;
	uint8_t *p;
	uint64_t one;

	queue_pool_init(&pool, HEADROOM, BLOCK, 8);
	queue_init(&q1);
	queue_init(&q2);
	p = queue_reserve(&q1, &pool, 600);
	memset(p, 0xab, 600);
	queue_commit(&q1, 600);
	one = pool.allocated_bytes;
	b = queue_pop(&q1);
	queue_release(&pool, b);
	p = queue_reserve(&q2, &pool, 10);
	ck_assert_ptr_eq(q2.head, b);
	ck_assert_ptr_eq(p, b->data);
	ck_assert_uint_eq(b->len, 0);
	ck_assert_ptr_null(b->next);
	ck_assert_uint_eq(q2.bytes, 0);
	ck_assert_uint_eq(pool.allocated_bytes, one);
	ck_assert_uint_eq(pool.free_count, 0);
	queue_clear(&q2, &pool);
	queue_clear(&q1, &pool);
	queue_pool_free(&pool);
}
END_TEST

/* Releasing more blocks than free_max keeps free_max and frees the rest. */
START_TEST(test_free_max)
{
	queue_pool_t pool;
	queue_t q;
	log_t *log = log_new();
	uint64_t per_block;

	queue_pool_init(&pool, HEADROOM, BLOCK, 3);
	queue_init(&q);
	push(&q, &pool, log, BLOCK);
	per_block = pool.allocated_bytes;
	ck_assert_uint_ge(per_block, HEADROOM + BLOCK);
	for (int i = 1; i < 10; i++)
		push(&q, &pool, log, BLOCK);
	ck_assert_uint_eq(nblocks(&q), 10);
	ck_assert_uint_eq(pool.allocated_bytes, 10 * per_block);
	drain(&q, &pool, log);
	ck_assert_uint_eq(pool.free_count, 3);
	ck_assert_uint_eq(pool.allocated_bytes, 3 * per_block);
	/* The pooled three serve the next three blocks without allocating. */
	push(&q, &pool, log, BLOCK);
	push(&q, &pool, log, BLOCK);
	push(&q, &pool, log, BLOCK);
	ck_assert_uint_eq(pool.free_count, 0);
	ck_assert_uint_eq(pool.allocated_bytes, 3 * per_block);
	push(&q, &pool, log, BLOCK);
	ck_assert_uint_eq(pool.allocated_bytes, 4 * per_block);
	drain(&q, &pool, log);
	queue_pool_free(&pool);
	ck_assert_uint_eq(pool.allocated_bytes, 0);
	free(log);
}
END_TEST

START_TEST(test_free_max_zero)
{
	queue_pool_t pool;
	queue_t q;
	log_t *log = log_new();

	queue_pool_init(&pool, HEADROOM, BLOCK, 0);
	queue_init(&q);
	for (int i = 0; i < 5; i++)
		push(&q, &pool, log, 700);
	drain(&q, &pool, log);
	ck_assert_uint_eq(pool.free_count, 0);
	ck_assert_ptr_null(pool.free_list);
	ck_assert_uint_eq(pool.allocated_bytes, 0);
	queue_pool_free(&pool);
	free(log);
}
END_TEST

/* queue_clear returns every block: standard ones to the pool (up to
 * free_max), large ones to the allocator, and leaves the queue empty. */
START_TEST(test_clear)
{
	queue_pool_t pool;
	queue_t q;
	log_t *log = log_new();
	uint64_t per_block;

	queue_pool_init(&pool, HEADROOM, BLOCK, 16);
	queue_init(&q);
	queue_clear(&q, &pool); /* empty: nothing to do */
	ck_assert_uint_eq(pool.allocated_bytes, 0);
	push(&q, &pool, log, 10);
	per_block = pool.allocated_bytes;
	for (int i = 0; i < 6; i++)
		push(&q, &pool, log, 900);
	push(&q, &pool, log, 4 * BLOCK);
	ck_assert_uint_eq(nblocks(&q), 7);
	queue_clear(&q, &pool);
	ck_assert_ptr_null(q.head);
	ck_assert_ptr_null(q.tail);
	ck_assert_uint_eq(q.bytes, 0);
	ck_assert_uint_eq(pool.free_count, 6);
	ck_assert_uint_eq(pool.allocated_bytes, 6 * per_block);
	queue_pool_free(&pool);
	ck_assert_uint_eq(pool.allocated_bytes, 0);
	free(log);
}
END_TEST

/* ---- headroom -------------------------------------------------------- */

/* Every block, new or reused, standard or large, has headroom writable
 * bytes before data and cap writable bytes from data. */
START_TEST(test_headroom)
{
	static const size_t headrooms[] = { 0, 1, HEADROOM, 18 };
	size_t hr = headrooms[_i];
	queue_pool_t pool;
	queue_t q;
	queue_block_t *b;

	queue_pool_init(&pool, hr, BLOCK, 4);
	queue_init(&q);
	for (int round = 0; round < 2; round++) {
		static const size_t sizes[] = { 100, BLOCK, 3 * BLOCK, 7 };

		for (size_t i = 0; i < ARRAY_LEN(sizes); i++) {
			uint8_t *p = queue_reserve(&q, &pool, sizes[i]);

			ck_assert_ptr_nonnull(p);
			memset(p, 0x11, sizes[i]);
			queue_commit(&q, sizes[i]);
		}
		while ((b = queue_pop(&q)) != NULL) {
			queue_block_t hdr = *b;

			/* The transport writes its header just before the data;
			 * that must not touch the block's own fields. */
			memset(b->data - hr, 0xee, hr);
			memset(b->data + b->len, 0x22, b->cap - b->len);
			for (size_t j = 0; j < b->len; j++)
				if (b->data[j] != 0x11)
					ck_abort_msg("byte %zu overwritten", j);
			ck_assert_int_eq(memcmp(&hdr, b, sizeof(hdr)), 0);
			queue_release(&pool, b);
		}
	}
	queue_pool_free(&pool);
	ck_assert_uint_eq(pool.allocated_bytes, 0);
}
END_TEST

Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *layout = tcase_create("layout");
	TCase *order = tcase_create("order");
	TCase *pool = tcase_create("pool");

	tcase_add_test(layout, test_pool_init);
	tcase_add_test(layout, test_bytes_accounting);
	tcase_add_test(layout, test_reserve_without_commit);
	tcase_add_test(layout, test_frames_never_span);
	tcase_add_test(layout, test_large_frame_own_block);
	tcase_add_test(layout, test_large_frame_first);
	tcase_add_loop_test(layout, test_headroom, 0, 4);
	tcase_add_test(order, test_pop_fifo);
	tcase_add_loop_test(order, test_batching_order, 0, 2);
	tcase_add_test(pool, test_pool_reuse);
	tcase_add_test(pool, test_pool_shared);
	tcase_add_test(pool, test_free_max);
	tcase_add_test(pool, test_free_max_zero);
	tcase_add_test(pool, test_clear);
	suite_add_tcase(s, layout);
	suite_add_tcase(s, order);
	suite_add_tcase(s, pool);
	return s;
}
