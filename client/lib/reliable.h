/* End-to-end reliability: record sequence numbers, cumulative
 * acknowledgements, go-back-N retransmission, exactly-once delivery.
 *
 * The relay keeps order on a connection but may lose what it held when
 * it restarts, or refuse a frame with a nack. So each message is cut into
 * records numbered 1, 2, 3, ... per session direction; the receiver takes
 * only the next record in order, acknowledges cumulatively, and ignores
 * anything else; the sender keeps every record until it is acknowledged
 * and, when told to (timeout, nack, reconnect), sends everything after
 * the last acknowledgement again. A message reaches the application once,
 * when its last record arrives in order: no duplicates, no gaps.
 *
 * Pure state, no I/O, no clock: the session layer decides when to call
 * what. Errors are negative zk_err_t. */
#ifndef ZKR_RELIABLE_H
#define ZKR_RELIABLE_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"

typedef struct rel_msg rel_msg_t;

typedef struct {
	size_t chunk;        /* message bytes per record, fixed for the session */
	rel_msg_t *head, *tail; /* not fully acknowledged, oldest first */
	uint64_t next_rseq;  /* first record of the next queued message */
	uint64_t acked;      /* every record up to here is acknowledged */
	uint64_t sent;       /* records handed out since the last rewind */
	uint64_t max_sent;   /* the highest ever handed out */
	uint64_t next_id;    /* message ids, 1, 2, ... */
	size_t pending;      /* bytes of messages not fully acknowledged */
} rel_send_t;

typedef struct {
	uint64_t expect;     /* next record in order */
	size_t max_message;  /* larger messages are refused */
	uint8_t *msg;        /* the message being assembled (owned) */
	size_t cap;          /* of msg: grows with what arrived, not with msg_len */
	uint64_t msg_len, have;
	int assembling;
} rel_recv_t;

/* chunk: message bytes per record (record_chunk()), > 0. */
void rel_send_init(rel_send_t *s, size_t chunk);
void rel_send_free(rel_send_t *s);
/* Queues a copy of len bytes; 0 and *id, or -ZK_ENOMEM. */
int rel_send_queue(rel_send_t *s, const void *p, size_t len, uint64_t *id);
/* The next record to send, if one is queued and within window records of
 * the last acknowledgement: 1 with *r filled (type, flags, rseq, msg_len,
 * data pointing into the queued message; the caller sets r->ack), 0 if
 * there is nothing to send now. */
int rel_send_next(rel_send_t *s, uint64_t window, record_t *r);
/* Whether records are out and not acknowledged. */
int rel_send_outstanding(const rel_send_t *s);
/* A cumulative acknowledgement. Calls acked(ud, id) for each message now
 * fully acknowledged, oldest first, and frees it. 1 if it moved
 * anything, 0 if not (old or repeated), -ZK_EPROTO if it acknowledges a
 * record never sent. */
int rel_send_ack(rel_send_t *s, uint64_t ack, void (*acked)(void *ud, uint64_t id), void *ud);
/* Go back: the next rel_send_next() starts after the last acknowledged
 * record again. */
void rel_send_rewind(rel_send_t *s);
/* Bytes acknowledged of the oldest unacknowledged message, and its
 * length (for progress); 0/0 if none. */
void rel_send_progress(const rel_send_t *s, uint64_t *done, uint64_t *total);

void rel_recv_init(rel_recv_t *r, size_t max_message);
void rel_recv_free(rel_recv_t *r);
/* The cumulative acknowledgement to send. */
uint64_t rel_recv_ack(const rel_recv_t *r);
/* A data record. 1: taken in order; if it completed a message, *msg and
 * *len hold it (valid until the next call). 0: a duplicate or out of
 * order, ignored (acknowledge again). -ZK_ETOOLARGE: the message is above
 * max_message; -ZK_EMALFORMED: the record contradicts the message it
 * continues; -ZK_ENOMEM. On an error the receiver is unchanged. */
int rel_recv_data(rel_recv_t *r, const record_t *rec, const uint8_t **msg, size_t *len);
/* Bytes of the message being assembled and its length (0/0 if none). */
void rel_recv_progress(const rel_recv_t *r, uint64_t *done, uint64_t *total);

#endif
