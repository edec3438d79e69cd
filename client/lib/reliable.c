#include "reliable.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zkerr.h"

struct rel_msg {
	rel_msg_t *next;
	uint64_t id;
	uint64_t first;  /* rseq of its first record */
	uint64_t nrec;   /* at least 1: an empty message is one empty record */
	size_t len;
	uint8_t *buf;
};

void rel_send_init(rel_send_t *s, size_t chunk)
{
	memset(s, 0, sizeof(*s));
	s->chunk = chunk ? chunk : 1;
	s->next_rseq = 1;
	s->next_id = 1;
}

static void msg_free(rel_msg_t *m)
{
	if (!m)
		return;
	/* Plaintext of a sealed session: do not leave it in freed memory. */
	if (m->buf) {
		memset(m->buf, 0, m->len);
		__asm__ __volatile__("" : : "r"(m->buf) : "memory");
	}
	free(m->buf);
	free(m);
}

void rel_send_free(rel_send_t *s)
{
	while (s->head) {
		rel_msg_t *m = s->head;

		s->head = m->next;
		msg_free(m);
	}
	s->tail = NULL;
	s->pending = 0;
}

int rel_send_queue(rel_send_t *s, const void *p, size_t len, uint64_t *id)
{
	rel_msg_t *m = calloc(1, sizeof(*m));

	if (!m)
		return -ZK_ENOMEM;
	if (len) {
		m->buf = malloc(len);
		if (!m->buf) {
			free(m);
			return -ZK_ENOMEM;
		}
		memcpy(m->buf, p, len);
	}
	m->len = len;
	m->id = s->next_id++;
	m->first = s->next_rseq;
	m->nrec = len ? (len + s->chunk - 1) / s->chunk : 1;
	s->next_rseq += m->nrec;
	if (s->tail)
		s->tail->next = m;
	else
		s->head = m;
	s->tail = m;
	s->pending += len;
	if (id)
		*id = m->id;
	return 0;
}

static const rel_msg_t *msg_of(const rel_send_t *s, uint64_t rseq)
{
	for (const rel_msg_t *m = s->head; m; m = m->next)
		if (rseq >= m->first && rseq < m->first + m->nrec)
			return m;
	return NULL;
}

int rel_send_next(rel_send_t *s, uint64_t window, record_t *r)
{
	uint64_t rseq = s->sent + 1;
	const rel_msg_t *m;
	uint64_t i;
	size_t off;

	if (rseq >= s->next_rseq || rseq > s->acked + window)
		return 0;
	m = msg_of(s, rseq);
	if (!m)
		return 0; /* cannot happen: rseq is queued and not acked */
	i = rseq - m->first;
	off = (size_t)i * s->chunk;
	memset(r, 0, sizeof(*r));
	r->type = RECORD_DATA;
	r->rseq = rseq;
	r->msg_len = m->len;
	r->data = m->buf ? m->buf + off : NULL;
	r->data_len = (uint32_t)(m->len - off < s->chunk ? m->len - off : s->chunk);
	if (i + 1 == m->nrec)
		r->flags = RECORD_FIN;
	s->sent = rseq;
	if (rseq > s->max_sent)
		s->max_sent = rseq;
	return 1;
}

int rel_send_outstanding(const rel_send_t *s)
{
	return s->max_sent > s->acked;
}

int rel_send_ack(rel_send_t *s, uint64_t ack, void (*acked)(void *ud, uint64_t id), void *ud)
{
	if (ack > s->max_sent)
		return -ZK_EPROTO;
	if (ack <= s->acked)
		return 0;
	s->acked = ack;
	if (s->sent < ack)
		s->sent = ack;
	while (s->head && s->head->first + s->head->nrec - 1 <= ack) {
		rel_msg_t *m = s->head;

		s->head = m->next;
		if (!s->head)
			s->tail = NULL;
		s->pending -= m->len;
		if (acked)
			acked(ud, m->id);
		msg_free(m);
	}
	return 1;
}

void rel_send_rewind(rel_send_t *s)
{
	s->sent = s->acked;
}

void rel_send_progress(const rel_send_t *s, uint64_t *done, uint64_t *total)
{
	const rel_msg_t *m = s->head;
	uint64_t recs;

	*done = *total = 0;
	if (!m)
		return;
	*total = m->len;
	recs = s->acked >= m->first ? s->acked - m->first + 1 : 0;
	*done = recs * s->chunk < m->len ? recs * s->chunk : m->len;
}

void rel_recv_init(rel_recv_t *r, size_t max_message)
{
	memset(r, 0, sizeof(*r));
	r->expect = 1;
	r->max_message = max_message;
}

/* Plaintext: wiped before it is freed. */
static void wipe_free(uint8_t *p, size_t n)
{
	if (p) {
		memset(p, 0, n);
		__asm__ __volatile__("" : : "r"(p) : "memory");
	}
	free(p);
}

static void recv_drop_msg(rel_recv_t *r)
{
	wipe_free(r->msg, (size_t)r->have);
	r->msg = NULL;
	r->cap = 0;
	r->msg_len = r->have = 0;
	r->assembling = 0;
}

void rel_recv_free(rel_recv_t *r)
{
	recv_drop_msg(r);
}

uint64_t rel_recv_ack(const rel_recv_t *r)
{
	return r->expect - 1;
}

/* The first record of a message: check its length, start afresh. No
 * room is made for msg_len yet: it is the peer's word, and one short
 * record claiming max_message bytes must not cost max_message bytes. */
static int recv_begin(rel_recv_t *r, const record_t *rec)
{
	if (rec->msg_len > r->max_message)
		return -ZK_ETOOLARGE;
	recv_drop_msg(r);
	r->msg_len = rec->msg_len;
	r->have = 0;
	r->assembling = 1;
	return 0;
}

/* Room for want bytes (at most msg_len), doubling, so the buffer follows
 * the bytes that arrived. A new buffer rather than realloc(), so the old
 * one's plaintext is wiped before it is freed. On failure nothing
 * changes. */
static int recv_reserve(rel_recv_t *r, uint64_t want)
{
	size_t cap = r->cap ? r->cap : 65536;
	uint8_t *m;

	if (want <= r->cap)
		return 0;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
	if (cap > r->msg_len)
		cap = (size_t)r->msg_len;
	m = malloc(cap);
	if (!m)
		return -ZK_ENOMEM;
	if (r->have)
		memcpy(m, r->msg, (size_t)r->have);
	wipe_free(r->msg, (size_t)r->have);
	r->msg = m;
	r->cap = cap;
	return 0;
}

int rel_recv_data(rel_recv_t *r, const record_t *rec, const uint8_t **msg, size_t *len)
{
	int fin = (rec->flags & RECORD_FIN) != 0, rc;
	uint64_t after;

	*msg = NULL;
	*len = 0;
	if (rec->type != RECORD_DATA || rec->rseq != r->expect)
		return 0;
	if (r->assembling && rec->msg_len != r->msg_len)
		return -ZK_EMALFORMED;
	if (!r->assembling) {
		if (rec->msg_len > r->max_message)
			return -ZK_ETOOLARGE;
		if (rec->data_len > rec->msg_len)
			return -ZK_EMALFORMED;
	}
	after = (r->assembling ? r->have : 0) + rec->data_len;
	/* Only the last record may be short of the rest; it must end the
	 * message exactly, and no other record may reach the end. */
	if (after > rec->msg_len || fin != (after == rec->msg_len) ||
	    (!fin && rec->data_len == 0))
		return -ZK_EMALFORMED;
	if (!r->assembling && (rc = recv_begin(r, rec)) < 0)
		return rc;
	if ((rc = recv_reserve(r, after)) < 0) {
		if (r->have == 0)
			recv_drop_msg(r); /* it began with this record */
		return rc;
	}
	if (rec->data_len)
		memcpy(r->msg + r->have, rec->data, rec->data_len);
	r->have = after;
	r->expect++;
	if (fin) {
		*msg = r->msg;
		*len = (size_t)r->msg_len;
		r->assembling = 0; /* the buffer lives until the next call */
	}
	return 1;
}

void rel_recv_progress(const rel_recv_t *r, uint64_t *done, uint64_t *total)
{
	*done = r->have;
	*total = r->msg_len;
}
