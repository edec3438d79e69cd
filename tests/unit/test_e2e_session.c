/* The SDK's pure pieces: records (padding buckets, strict parsing),
 * reliability (chunking, sequence numbers, acknowledgements, resume
 * without duplicates over a lossy channel) and the E2E session
 * cryptography (IK handshake bound to both addresses, explicit nonces,
 * replay refused, wrong pinned key refused). */
#include <check.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"
#include "noise.h"
#include "record.h"
#include "reliable.h"
#include "suites.h"
#include "zkerr.h"

#define MAXP record_max_plain(65535)

/* ---- records ---------------------------------------------------------- */

START_TEST(test_buckets)
{
	size_t mp = MAXP;

	ck_assert_uint_eq(mp, 65519);
	ck_assert_uint_eq(record_chunk(mp), 65487);
	/* Sealed sizes are 256, 1024, 4096, 16384 or the maximum. */
	ck_assert_uint_eq(record_padded(0, mp) + RECORD_TAG, 256);
	ck_assert_uint_eq(record_padded(256 - 16 - 32, mp) + RECORD_TAG, 256);
	ck_assert_uint_eq(record_padded(256 - 16 - 32 + 1, mp) + RECORD_TAG, 1024);
	ck_assert_uint_eq(record_padded(1024 - 48, mp) + RECORD_TAG, 1024);
	ck_assert_uint_eq(record_padded(1024 - 48 + 1, mp) + RECORD_TAG, 4096);
	ck_assert_uint_eq(record_padded(16384 - 48 + 1, mp) + RECORD_TAG, 65535);
	ck_assert_uint_eq(record_padded(65487, mp) + RECORD_TAG, 65535);
	ck_assert_uint_eq(record_padded(65488, mp), 0);
	/* A relay with smaller payloads: the largest bucket shrinks to it. */
	ck_assert_uint_eq(record_max_plain(2000), 1984);
	ck_assert_uint_eq(record_padded(1500, 1984), 1984);
	ck_assert_uint_eq(record_max_plain(255), 0);
	ck_assert_uint_eq(record_max_plain(1u << 20), 65519);
}
END_TEST

START_TEST(test_record_roundtrip)
{
	uint8_t data[300], buf[65535];
	record_t r = { RECORD_DATA, RECORD_FIN, 0, 7, 5, 300, data, 300 }, d;
	size_t n;

	memset(data, 0xab, sizeof(data));
	ck_assert_int_eq(record_encode(&r, MAXP, buf, sizeof(buf), &n), 0);
	ck_assert_uint_eq(n, 1024 - 16);
	ck_assert_int_eq(record_decode(buf, n, &d), 0);
	ck_assert_uint_eq(d.rseq, 7);
	ck_assert_uint_eq(d.ack, 5);
	ck_assert_uint_eq(d.msg_len, 300);
	ck_assert_uint_eq(d.data_len, 300);
	ck_assert_uint_eq(d.flags, RECORD_FIN);
	ck_assert_mem_eq(d.data, data, 300);
}
END_TEST

START_TEST(test_record_strict)
{
	uint8_t buf[65535], data[10] = { 0 };
	record_t r = { RECORD_DATA, RECORD_FIN, 0, 1, 0, 10, data, 10 }, d;
	record_t ack = { RECORD_ACK, RECORD_RESUME, 0, 0, 9, 0, NULL, 0 };
	size_t n;

	ck_assert_int_eq(record_encode(&r, MAXP, buf, sizeof(buf), &n), 0);
	buf[n - 1] = 1; /* padding must be zero */
	ck_assert_int_eq(record_decode(buf, n, &d), -ZK_EMALFORMED);
	buf[n - 1] = 0;
	buf[2] = 1; /* reserved */
	ck_assert_int_eq(record_decode(buf, n, &d), -ZK_EMALFORMED);
	buf[2] = 0;
	buf[0] = 9; /* unknown type */
	ck_assert_int_eq(record_decode(buf, n, &d), -ZK_EMALFORMED);
	buf[0] = RECORD_DATA;
	buf[1] = 0x80; /* unknown flag */
	ck_assert_int_eq(record_decode(buf, n, &d), -ZK_EMALFORMED);
	buf[1] = RECORD_FIN;
	buf[7] = 0xff; /* data_len beyond the record */
	ck_assert_int_eq(record_decode(buf, n, &d), -ZK_EMALFORMED);
	ck_assert_int_eq(record_decode(buf, 31, &d), -ZK_EMALFORMED);
	/* rseq 0 is not a data record; an ack carries no data. */
	r.rseq = 0;
	ck_assert_int_eq(record_encode(&r, MAXP, buf, sizeof(buf), &n), -ZK_EINVAL);
	ck_assert_int_eq(record_encode(&ack, MAXP, buf, sizeof(buf), &n), 0);
	ck_assert_int_eq(record_decode(buf, n, &d), 0);
	ck_assert_uint_eq(d.type, RECORD_ACK);
	ck_assert_uint_eq(d.ack, 9);
	ck_assert_uint_eq(n + RECORD_TAG, 256);
	/* a close carries its reason, and nothing else */
	record_t cl = { RECORD_CLOSE, 0, ZK_ETOOLARGE, 0, 4, 0, NULL, 0 };
	ck_assert_int_eq(record_encode(&cl, MAXP, buf, sizeof(buf), &n), 0);
	ck_assert_int_eq(record_decode(buf, n, &d), 0);
	ck_assert_uint_eq(d.type, RECORD_CLOSE);
	ck_assert_uint_eq(d.reason, ZK_ETOOLARGE);
	buf[3] = 0; /* no reason */
	ck_assert_int_eq(record_decode(buf, n, &d), -ZK_EMALFORMED);
	cl.rseq = 1;
	ck_assert_int_eq(record_encode(&cl, MAXP, buf, sizeof(buf), &n), -ZK_EINVAL);
}
END_TEST

/* ---- reliability ------------------------------------------------------- */

static uint64_t acked_ids[64];
static size_t nacked;

static void on_acked(void *ud, uint64_t id)
{
	(void)ud;
	if (nacked < 64)
		acked_ids[nacked++] = id;
}

START_TEST(test_chunking)
{
	rel_send_t s;
	record_t r;
	uint8_t msg[250];
	uint64_t id;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	rel_send_init(&s, 100);
	ck_assert_int_eq(rel_send_queue(&s, msg, 250, &id), 0);
	ck_assert_uint_eq(id, 1);
	ck_assert_int_eq(rel_send_queue(&s, NULL, 0, &id), 0); /* an empty message */
	ck_assert_uint_eq(id, 2);
	ck_assert_int_eq(rel_send_next(&s, 64, &r), 1);
	ck_assert_uint_eq(r.rseq, 1);
	ck_assert_uint_eq(r.data_len, 100);
	ck_assert_uint_eq(r.flags, 0);
	ck_assert_int_eq(rel_send_next(&s, 64, &r), 1);
	ck_assert_int_eq(rel_send_next(&s, 64, &r), 1);
	ck_assert_uint_eq(r.rseq, 3);
	ck_assert_uint_eq(r.data_len, 50);
	ck_assert_uint_eq(r.flags, RECORD_FIN);
	ck_assert_mem_eq(r.data, msg + 200, 50);
	ck_assert_int_eq(rel_send_next(&s, 64, &r), 1);
	ck_assert_uint_eq(r.rseq, 4);
	ck_assert_uint_eq(r.data_len, 0);
	ck_assert_uint_eq(r.msg_len, 0);
	ck_assert_uint_eq(r.flags, RECORD_FIN);
	ck_assert_int_eq(rel_send_next(&s, 64, &r), 0);
	rel_send_free(&s);
}
END_TEST

START_TEST(test_window_and_acks)
{
	rel_send_t s;
	record_t r;
	uint8_t msg[1000] = { 0 };

	nacked = 0;
	rel_send_init(&s, 100);
	ck_assert_int_eq(rel_send_queue(&s, msg, 1000, NULL), 0); /* records 1-10 */
	ck_assert_int_eq(rel_send_queue(&s, msg, 100, NULL), 0);  /* record 11 */
	for (int i = 1; i <= 4; i++)
		ck_assert_int_eq(rel_send_next(&s, 4, &r), 1);
	ck_assert_int_eq(rel_send_next(&s, 4, &r), 0); /* window of 4 */
	ck_assert_int_eq(rel_send_ack(&s, 5, on_acked, NULL), -ZK_EPROTO); /* never sent */
	ck_assert_int_eq(rel_send_ack(&s, 2, on_acked, NULL), 1);
	ck_assert_int_eq(rel_send_ack(&s, 2, on_acked, NULL), 0); /* repeated */
	ck_assert_int_eq(rel_send_ack(&s, 1, on_acked, NULL), 0); /* old */
	ck_assert_uint_eq(nacked, 0);
	ck_assert_int_eq(rel_send_next(&s, 4, &r), 1);
	ck_assert_uint_eq(r.rseq, 5);
	/* Go back: the next record is the first one not acknowledged. */
	rel_send_rewind(&s);
	ck_assert_int_eq(rel_send_next(&s, 4, &r), 1);
	ck_assert_uint_eq(r.rseq, 3);
	while (rel_send_next(&s, 100, &r) == 1)
		;
	ck_assert_uint_eq(s.pending, 1100);
	ck_assert_int_eq(rel_send_ack(&s, 10, on_acked, NULL), 1);
	ck_assert_uint_eq(nacked, 1);
	ck_assert_uint_eq(acked_ids[0], 1);
	ck_assert_uint_eq(s.pending, 100);
	ck_assert_int_eq(rel_send_ack(&s, 11, on_acked, NULL), 1);
	ck_assert_uint_eq(nacked, 2);
	ck_assert_uint_eq(acked_ids[1], 2);
	ck_assert_int_eq(rel_send_outstanding(&s), 0);
	rel_send_free(&s);
}
END_TEST

START_TEST(test_receiver_strict)
{
	rel_recv_t rx;
	uint8_t a[100] = { 1 };
	record_t r = { RECORD_DATA, 0, 0, 1, 0, 150, a, 100 };
	const uint8_t *msg;
	size_t len;

	rel_recv_init(&rx, 1000);
	/* out of order: ignored */
	r.rseq = 2;
	ck_assert_int_eq(rel_recv_data(&rx, &r, &msg, &len), 0);
	r.rseq = 1;
	ck_assert_int_eq(rel_recv_data(&rx, &r, &msg, &len), 1);
	ck_assert_ptr_null(msg);
	ck_assert_int_eq(rel_recv_data(&rx, &r, &msg, &len), 0); /* duplicate */
	ck_assert_uint_eq(rel_recv_ack(&rx), 1);
	/* a continuation that changes the message length */
	r.rseq = 2;
	r.msg_len = 160;
	r.data_len = 50;
	r.flags = RECORD_FIN;
	ck_assert_int_eq(rel_recv_data(&rx, &r, &msg, &len), -ZK_EMALFORMED);
	/* a FIN that does not end the message exactly */
	r.msg_len = 150;
	r.data_len = 40;
	ck_assert_int_eq(rel_recv_data(&rx, &r, &msg, &len), -ZK_EMALFORMED);
	r.data_len = 50;
	r.flags = 0; /* reaching the end without FIN */
	ck_assert_int_eq(rel_recv_data(&rx, &r, &msg, &len), -ZK_EMALFORMED);
	r.flags = RECORD_FIN;
	ck_assert_int_eq(rel_recv_data(&rx, &r, &msg, &len), 1);
	ck_assert_ptr_nonnull(msg);
	ck_assert_uint_eq(len, 150);
	/* a message above the limit */
	r.rseq = 3;
	r.msg_len = 1001;
	r.data_len = 100;
	r.flags = 0;
	ck_assert_int_eq(rel_recv_data(&rx, &r, &msg, &len), -ZK_ETOOLARGE);
	ck_assert_uint_eq(rel_recv_ack(&rx), 2);
	rel_recv_free(&rx);
}
END_TEST

/* The receiver's buffer follows the bytes that arrived, not the length
 * the peer declares: a first record that claims a message of 2^46 bytes
 * (within this receiver's limit) costs what it carries. Then a message
 * of several records that outgrows the first allocation arrives whole. */
START_TEST(test_receiver_declared_length)
{
	rel_recv_t rx;
	uint8_t a[100];
	record_t r = { RECORD_DATA, 0, 0, 1, 0, (uint64_t)1 << 46, a, 100 };
	const uint8_t *msg;
	uint64_t done, total;
	size_t len;
	rel_send_t s;
	uint8_t *big;
	const size_t n = 300000;

	memset(a, 0x5a, sizeof(a));
	rel_recv_init(&rx, (size_t)1 << 47);
	ck_assert_int_eq(rel_recv_data(&rx, &r, &msg, &len), 1);
	rel_recv_progress(&rx, &done, &total);
	ck_assert_uint_eq(done, 100);
	ck_assert_uint_eq(total, (uint64_t)1 << 46);
	rel_recv_free(&rx);

	big = malloc(n);
	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (uint8_t)(i * 13 + (i >> 11));
	rel_send_init(&s, 40000);
	rel_recv_init(&rx, 1 << 20);
	ck_assert_int_eq(rel_send_queue(&s, big, n, NULL), 0);
	while (rel_send_next(&s, 100, &r) == 1) {
		ck_assert_int_eq(rel_recv_data(&rx, &r, &msg, &len), 1);
		if (r.flags & RECORD_FIN)
			break;
		ck_assert_ptr_null(msg);
	}
	ck_assert_uint_eq(len, n);
	ck_assert_mem_eq(msg, big, n);
	rel_send_free(&s);
	rel_recv_free(&rx);
	free(big);
}
END_TEST

/* A sender and a receiver over a channel that loses records at random,
 * with retransmission after a timeout, and a "reconnect" in the middle
 * that loses everything in flight: every message arrives exactly once,
 * whole, in order. */
START_TEST(test_resume_no_duplicates)
{
	enum { NMSG = 40 };
	rel_send_t s;
	rel_recv_t rx;
	uint8_t *sent[NMSG];
	size_t sizes[NMSG], delivered = 0;
	unsigned seed = 12345;

	rel_send_init(&s, 64);
	rel_recv_init(&rx, 1 << 20);
	nacked = 0;
	for (int i = 0; i < NMSG; i++) {
		sizes[i] = (size_t)(i * 37 % 300);
		sent[i] = malloc(sizes[i] + 1);
		for (size_t k = 0; k < sizes[i]; k++)
			sent[i][k] = (uint8_t)(i + k);
		ck_assert_int_eq(rel_send_queue(&s, sent[i], sizes[i], NULL), 0);
	}
	for (int round = 0; round < 2000 && delivered < NMSG; round++) {
		record_t r;
		int n = 0;

		if (round == 7)
			rel_send_rewind(&s); /* reconnect: resend after the last ack */
		while (n++ < 16 && rel_send_next(&s, 8, &r) == 1) {
			const uint8_t *msg;
			size_t len;

			if (rand_r(&seed) % 4 == 0)
				continue; /* lost */
			int rc = rel_recv_data(&rx, &r, &msg, &len);
			ck_assert_int_ge(rc, 0);
			if (rc == 1 && (r.flags & RECORD_FIN)) {
				ck_assert_uint_lt(delivered, NMSG);
				ck_assert_uint_eq(len, sizes[delivered]);
				if (len)
					ck_assert_mem_eq(msg, sent[delivered], len);
				delivered++;
			}
		}
		/* the acknowledgement may be lost too */
		if (rand_r(&seed) % 3)
			ck_assert_int_ge(rel_send_ack(&s, rel_recv_ack(&rx), on_acked, NULL), 0);
		rel_send_rewind(&s); /* the retransmission timeout */
	}
	ck_assert_uint_eq(delivered, NMSG);
	ck_assert_int_ge(rel_send_ack(&s, rel_recv_ack(&rx), on_acked, NULL), 0);
	ck_assert_uint_eq(s.pending, 0);
	for (int i = 0; i < NMSG; i++)
		free(sent[i]);
	rel_send_free(&s);
	rel_recv_free(&rx);
}
END_TEST

/* ---- E2E session cryptography ------------------------------------------- */

typedef struct {
	uint8_t ipriv[32], ipub[32], rpriv[32], rpub[32];
} keys_t;

static void make_keys(keys_t *k)
{
	ck_assert_int_eq(RAND_bytes(k->ipriv, 32), 1);
	ck_assert_int_eq(RAND_bytes(k->rpriv, 32), 1);
	ck_assert_int_eq(noise_public_key(k->ipriv, k->ipub, 32), 0);
	ck_assert_int_eq(noise_public_key(k->rpriv, k->rpub, 32), 0);
}

static void handshake(const keys_t *k, e2e_t **ini, e2e_t **resp)
{
	uint8_t m1[E2E_HS1_LEN], m2[E2E_HS2_LEN], rs[32];
	size_t n;

	ck_assert_int_eq(e2e_initiator_new(ini, k->ipriv, k->rpub, "p/c1", "p/s1", 7), 0);
	ck_assert_int_eq(e2e_responder_new(resp, k->rpriv, "p/s1", "p/c1", 7), 0);
	ck_assert_int_eq(e2e_write_hs1(*ini, m1, sizeof(m1), &n), 0);
	ck_assert_uint_eq(n, E2E_HS1_LEN);
	ck_assert_int_eq(e2e_read_hs1(*resp, m1, n), 0);
	ck_assert_int_eq(e2e_remote_static(*resp, rs), 0);
	ck_assert_mem_eq(rs, k->ipub, 32);
	ck_assert_int_eq(e2e_write_hs2(*resp, m2, sizeof(m2), &n), 0);
	ck_assert_int_eq(e2e_read_hs2(*ini, m2, n), 0);
	ck_assert(e2e_established(*ini) && e2e_established(*resp));
}

START_TEST(test_e2e_explicit_nonces)
{
	keys_t k;
	e2e_t *a, *b;
	uint8_t ct[3][64], pt[64];
	size_t n[3], pn;
	uint64_t nonce[3];

	make_keys(&k);
	handshake(&k, &a, &b);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(e2e_seal(a, 7, (const uint8_t *)"hello!", 6, ct[i], 64, &n[i],
					  &nonce[i]), 0);
		ck_assert_uint_eq(nonce[i], (uint64_t)i);
	}
	/* message 0 was lost: 1 opens, then 0 (older) is refused, 2 opens */
	ck_assert_int_eq(e2e_open(b, 7, nonce[1], ct[1], n[1], pt, 64, &pn), 0);
	ck_assert_mem_eq(pt, "hello!", 6);
	ck_assert_int_eq(e2e_open(b, 7, nonce[0], ct[0], n[0], pt, 64, &pn), -ZK_EPROTO);
	ck_assert_int_eq(e2e_open(b, 7, nonce[1], ct[1], n[1], pt, 64, &pn), -ZK_EPROTO); /* replay */
	/* the wrong stream (associated data) or nonce fails */
	ck_assert_int_eq(e2e_open(b, 8, nonce[2], ct[2], n[2], pt, 64, &pn), -ZK_EPROTO);
	ck_assert_int_eq(e2e_open(b, 7, nonce[2] + 1, ct[2], n[2], pt, 64, &pn), -ZK_EPROTO);
	ck_assert_int_eq(e2e_open(b, 7, nonce[2], ct[2], n[2], pt, 64, &pn), 0);
	/* and the other direction has its own keys */
	ck_assert_int_eq(e2e_seal(b, 7, (const uint8_t *)"back", 4, ct[0], 64, &n[0], &nonce[0]), 0);
	ck_assert_int_eq(e2e_open(a, 7, nonce[0], ct[0], n[0], pt, 64, &pn), 0);
	ck_assert_mem_eq(pt, "back", 4);
	e2e_free(&a);
	e2e_free(&b);
	ck_assert_ptr_null(a);
}
END_TEST

START_TEST(test_e2e_wrong_pin)
{
	keys_t k, other;
	e2e_t *a, *b;
	uint8_t m1[E2E_HS1_LEN];
	size_t n;

	make_keys(&k);
	make_keys(&other);
	/* the initiator pinned a key the responder does not hold */
	ck_assert_int_eq(e2e_initiator_new(&a, k.ipriv, other.rpub, "p/c1", "p/s1", 7), 0);
	ck_assert_int_eq(e2e_responder_new(&b, k.rpriv, "p/s1", "p/c1", 7), 0);
	ck_assert_int_eq(e2e_write_hs1(a, m1, sizeof(m1), &n), 0);
	ck_assert_int_eq(e2e_read_hs1(b, m1, n), -ZK_EPEERKEY);
	ck_assert(!e2e_established(b));
	e2e_free(&a);
	e2e_free(&b);
}
END_TEST

START_TEST(test_e2e_addresses_bound)
{
	keys_t k;
	e2e_t *a, *b;
	uint8_t m1[E2E_HS1_LEN];
	size_t n;

	make_keys(&k);
	/* the relay stamped another source address than the initiator's */
	ck_assert_int_eq(e2e_initiator_new(&a, k.ipriv, k.rpub, "p/c1", "p/s1", 7), 0);
	ck_assert_int_eq(e2e_responder_new(&b, k.rpriv, "p/s1", "p/c2", 7), 0);
	ck_assert_int_eq(e2e_write_hs1(a, m1, sizeof(m1), &n), 0);
	ck_assert_int_eq(e2e_read_hs1(b, m1, n), -ZK_EPEERKEY);
	e2e_free(&a);
	e2e_free(&b);
	/* a truncated or altered message 2 */
	handshake(&k, &a, &b);
	e2e_free(&a);
	e2e_free(&b);
	ck_assert_int_eq(e2e_initiator_new(&a, k.ipriv, k.rpub, "p/c1", "p/s1", 7), 0);
	ck_assert_int_eq(e2e_write_hs1(a, m1, sizeof(m1), &n), 0);
	ck_assert_int_eq(e2e_read_hs2(a, m1, E2E_HS2_LEN - 1), -ZK_EPEERKEY);
	e2e_free(&a);
}
END_TEST

/* A message 1 replayed under another session id does not complete. */
START_TEST(test_e2e_sid_bound)
{
	keys_t k;
	e2e_t *a, *b;
	uint8_t m1[E2E_HS1_LEN];
	size_t n;

	make_keys(&k);
	ck_assert_int_eq(e2e_initiator_new(&a, k.ipriv, k.rpub, "p/c1", "p/s1", 7), 0);
	ck_assert_int_eq(e2e_responder_new(&b, k.rpriv, "p/s1", "p/c1", 8), 0);
	ck_assert_int_eq(e2e_write_hs1(a, m1, sizeof(m1), &n), 0);
	ck_assert_int_eq(e2e_read_hs1(b, m1, n), -ZK_EPEERKEY);
	e2e_free(&a);
	e2e_free(&b);
}
END_TEST

START_TEST(test_e2e_out_of_turn)
{
	keys_t k;
	e2e_t *a;
	uint8_t buf[128];
	size_t n;
	uint64_t nonce;

	make_keys(&k);
	ck_assert_int_eq(e2e_initiator_new(&a, k.ipriv, k.rpub, "p/c1", "p/s1", 7), 0);
	ck_assert_int_eq(e2e_write_hs2(a, buf, sizeof(buf), &n), -ZK_EINVAL);
	ck_assert_int_eq(e2e_seal(a, 1, buf, 1, buf, sizeof(buf), &n, &nonce), -ZK_EINVAL);
	e2e_free(&a);
}
END_TEST

Suite *e2e_session_suite(void)
{
	Suite *s = suite_create("e2e_session");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_buckets);
	tcase_add_test(tc, test_record_roundtrip);
	tcase_add_test(tc, test_record_strict);
	tcase_add_test(tc, test_chunking);
	tcase_add_test(tc, test_window_and_acks);
	tcase_add_test(tc, test_receiver_strict);
	tcase_add_test(tc, test_receiver_declared_length);
	tcase_add_test(tc, test_resume_no_duplicates);
	tcase_add_test(tc, test_e2e_explicit_nonces);
	tcase_add_test(tc, test_e2e_wrong_pin);
	tcase_add_test(tc, test_e2e_addresses_bound);
	tcase_add_test(tc, test_e2e_sid_bound);
	tcase_add_test(tc, test_e2e_out_of_turn);
	suite_add_tcase(s, tc);
	return s;
}
