/* E2E sessions: handshakes, sealing records, acknowledgements,
 * retransmission and resume (see sdk.h for the stream layout). */
#include "sdk.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "zkerr.h"

#define ACK_EVERY 8u         /* acknowledge at least every 8 records */
#define ACK_DELAY_MS 20u     /* or this long after the first unacknowledged one */
#define NACK_RETRY_MS 250u   /* resend no sooner than this after a nack */
#define CWND_START 8u        /* records in flight at first (8 x 64 KiB) */
#define CWND_MIN 2u
#define RTO_MAX_FACTOR 8u    /* retransmission timeout backs off to 8x */
#define PEER_SESSIONS_MAX 16u /* responder: sessions kept per peer address */
#define RESPONDER_SESSIONS_MAX 4096u /* responder: sessions kept in all */
#define REFUSE_LEN 48u

enum { K_REFUSE = 0, K_HS1 = 1, K_HS2 = 2, K_DATA = 3 };
enum { S_HANDSHAKE, S_OPEN };

static uint32_t mkstream(uint32_t sid, int kind)
{
	return sid << 2 | (uint32_t)kind;
}

/* ---- sessions: lookup, teardown --------------------------------------- */

static zkr_session_t *find(zkr_client_t *c, const char *peer, size_t plen, uint32_t sid)
{
	for (zkr_session_t *s = c->sessions; s; s = s->next)
		if (!s->closed && s->sid == sid && strlen(s->peer) == plen &&
		    memcmp(s->peer, peer, plen) == 0)
			return s;
	return NULL;
}

static zkr_session_t *find_sid(zkr_client_t *c, uint32_t sid)
{
	for (zkr_session_t *s = c->sessions; s; s = s->next)
		if (!s->closed && s->sid == sid)
			return s;
	return NULL;
}

/* Keys and plaintext go at once; the struct stays in the list, marked
 * closed, until the next tick: a caller up the stack (a loop over the
 * sessions, a callback) may still hold the pointer. */
static void bury(zkr_session_t *s)
{
	if (s->closed)
		return;
	s->closed = 1;
	if (!s->initiator)
		s->c->nresp--;
	e2e_free(&s->e2e);
	rel_send_free(&s->tx);
	rel_recv_free(&s->rx);
}

/* Frees the closed sessions; only where no callback is up the stack. */
static void sweep(zkr_client_t *c)
{
	zkr_session_t **pp = &c->sessions;

	while (*pp) {
		zkr_session_t *s = *pp;

		if (!s->closed) {
			pp = &s->next;
			continue;
		}
		*pp = s->next;
		zkr_wipe(s, sizeof(*s));
		free(s);
	}
}

static void fail(zkr_session_t *s, int err)
{
	zkr_client_t *c = s->c;

	if (s->closed)
		return;
	if (err < 0)
		err = -err;
	if (c->cb.on_error && !c->closing)
		c->cb.on_error(s, err, c->cfg.ud);
	bury(s);
}

static zkr_session_t *session_new(zkr_client_t *c, const char *peer, size_t plen, int initiator)
{
	zkr_session_t *s;

	if (plen == 0 || plen > ZKR_MAX_ADDR)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->c = c;
	memcpy(s->peer, peer, plen);
	s->initiator = initiator;
	if (!initiator)
		c->nresp++;
	s->created_ms = s->progress_ms = s->rx_ms = sdk_now_ms(c);
	s->rto_ms = c->cfg.retransmit_ms;
	rel_send_init(&s->tx, record_chunk(record_max_plain(RECORD_MAX_SEALED)));
	s->cwnd = CWND_START;
	rel_recv_init(&s->rx, c->cfg.max_message_bytes);
	s->next = c->sessions;
	c->sessions = s;
	return s;
}

static uint32_t random_sid(void)
{
	uint32_t sid = 0;

	while (sid == 0) {
		if (RAND_bytes((unsigned char *)&sid, sizeof(sid)) != 1)
			return 0;
		sid &= 0x3fffffffu;
	}
	return sid;
}

/* ---- sending ------------------------------------------------------------ */

static int send_refuse(zkr_client_t *c, const char *peer, uint32_t sid)
{
	uint8_t junk[REFUSE_LEN];

	if (RAND_bytes(junk, sizeof(junk)) != 1)
		return -ZK_ENOMEM;
	return link_send(c->link, peer, mkstream(sid, K_REFUSE), 0, junk, sizeof(junk));
}

/* Seals one record and hands it to the link. */
static int send_record(zkr_session_t *s, record_t *r)
{
	zkr_client_t *c = s->c;
	size_t plen = 0, clen = 0;
	uint64_t nonce;
	int rc;

	r->ack = rel_recv_ack(&s->rx);
	rc = record_encode(r, c->max_plain, c->plain, sizeof(c->plain), &plen);
	if (rc == 0)
		rc = e2e_seal(s->e2e, mkstream(s->sid, K_DATA), c->plain, plen, c->sealed,
			      sizeof(c->sealed), &clen, &nonce);
	zkr_wipe(c->plain, plen <= sizeof(c->plain) ? plen : 0);
	if (rc < 0)
		return rc;
	rc = link_send(c->link, s->peer, mkstream(s->sid, K_DATA), nonce, c->sealed, clen);
	if (rc == 0) {
		s->unacked_rx = 0;
		s->ack_at = 0;
	}
	return rc;
}

static int send_ack(zkr_session_t *s, int resume)
{
	record_t r;

	memset(&r, 0, sizeof(r));
	r.type = RECORD_ACK;
	r.flags = resume ? RECORD_RESUME : 0;
	return send_record(s, &r);
}

static uint64_t window_records(const zkr_session_t *s)
{
	uint64_t w = s->c->cfg.window_bytes / s->tx.chunk;

	return w ? w : 1;
}

/* Sends what the window and the link take from one session. 0, or a
 * session error (the session has failed). */
static int pump_session(zkr_session_t *s, size_t room)
{
	zkr_client_t *c = s->c;
	record_t r;
	int rc;

	if (s->state != S_OPEN || s->closed)
		return 0;
	while (link_queued(c->link) < room && rel_send_next(&s->tx, s->cwnd, &r) == 1) {
		if ((rc = send_record(s, &r)) < 0)
			return rc == -ZK_ECLOSED ? 0 : rc;
		if (!s->rto_at)
			s->rto_at = sdk_now_ms(c) + s->rto_ms;
	}
	return 0;
}

void session_pump_all(zkr_client_t *c)
{
	int rc;

	if (!sdk_link_ready(c))
		return;
	for (zkr_session_t *s = c->sessions; s && !c->closing; s = s->next)
		if ((rc = pump_session(s, 1u << 20)) < 0)
			fail(s, rc);
}

static int send_hs1(zkr_session_t *s)
{
	zkr_client_t *c = s->c;
	uint8_t msg[E2E_HS1_LEN];
	size_t n;
	int rc;

	/* Each attempt is a new handshake with a new sid: a late answer to
	 * an old attempt finds no session and is ignored. */
	e2e_free(&s->e2e);
	s->sid = random_sid();
	if (!s->sid)
		return -ZK_ENOMEM;
	rc = e2e_initiator_new(&s->e2e, c->cfg.static_key, s->peer_key, c->addr, s->peer, s->sid);
	if (rc == 0)
		rc = e2e_write_hs1(s->e2e, msg, sizeof(msg), &n);
	if (rc == 0)
		rc = link_send(c->link, s->peer, mkstream(s->sid, K_HS1), 0, msg, n);
	s->hs_next_ms = sdk_now_ms(c) + c->cfg.handshake_timeout_ms;
	return rc == -ZK_ECLOSED ? 0 : rc;
}

/* ---- receiving ---------------------------------------------------------- */

/* Responder: keeps at most PEER_SESSIONS_MAX sessions per peer; the
 * oldest one goes (retries of a handshake leave stale ones behind). The
 * application accepted it and may hold the pointer: it goes through
 * on_error like any session that ends without being asked to, or a
 * later call with that pointer would touch freed memory. */
static void limit_peer_sessions(zkr_client_t *c, const char *peer, size_t plen)
{
	zkr_session_t *oldest = NULL;
	unsigned n = 0;

	for (zkr_session_t *s = c->sessions; s; s = s->next)
		if (!s->closed && strlen(s->peer) == plen && memcmp(s->peer, peer, plen) == 0) {
			n++;
			if (!oldest || s->progress_ms <= oldest->progress_ms)
				oldest = s;
		}
	if (n >= PEER_SESSIONS_MAX && oldest)
		fail(oldest, ZK_ECLOSED);
}

static void on_hs1(zkr_client_t *c, const char *from, size_t slen, uint32_t sid,
		   const uint8_t *p, size_t n)
{
	uint8_t msg[E2E_HS2_LEN], rs[ZKR_KEY_LEN];
	char src[ZKR_MAX_ADDR + 1];
	zkr_session_t *s;
	e2e_t *e = NULL;
	size_t olen;
	int rc;

	if (slen == 0 || slen > ZKR_MAX_ADDR)
		return;
	memcpy(src, from, slen); /* the frame's bytes are not a C string */
	src[slen] = 0;
	if (find(c, src, slen, sid))
		return; /* a repeat of a handshake already answered */
	if (!c->cb.on_accept) {
		send_refuse(c, src, sid);
		return;
	}
	/* Check message 1 before anything else happens: a replay or forgery
	 * must not cost an existing session its place. */
	if (c->nresp >= RESPONDER_SESSIONS_MAX ||
	    e2e_responder_new(&e, c->cfg.static_key, c->addr, src, sid) < 0 ||
	    e2e_read_hs1(e, p, n) < 0 || e2e_remote_static(e, rs) < 0) {
		e2e_free(&e);
		send_refuse(c, src, sid);
		return;
	}
	limit_peer_sessions(c, src, slen);
	if (c->closing || !(s = session_new(c, src, slen, 0))) {
		e2e_free(&e); /* closing: on_error closed the client */
		return;
	}
	s->sid = sid;
	s->e2e = e;
	memcpy(s->peer_key, rs, sizeof(rs));
	if (c->cb.on_accept(c, s, c->cfg.ud) != 0 || s->closed || c->closing) {
		if (!c->closing)
			send_refuse(c, src, sid);
		bury(s);
		return;
	}
	if ((rc = e2e_write_hs2(s->e2e, msg, sizeof(msg), &olen)) < 0) {
		send_refuse(c, src, sid);
		fail(s, rc); /* accepted: the application holds it */
		return;
	}
	s->state = S_OPEN;
	s->progress_ms = sdk_now_ms(c);
	if (link_send(c->link, s->peer, mkstream(sid, K_HS2), 0, msg, olen) < 0)
		return; /* the initiator tries again with a new handshake */
}

static void on_hs2(zkr_client_t *c, zkr_session_t *s, const uint8_t *p, size_t n)
{
	int rc;

	if (!s->initiator || s->state != S_HANDSHAKE)
		return;
	rc = e2e_read_hs2(s->e2e, p, n);
	if (rc < 0) {
		fail(s, rc);
		return;
	}
	s->state = S_OPEN;
	s->progress_ms = sdk_now_ms(c);
	if (c->cb.on_open)
		c->cb.on_open(s, c->cfg.ud);
	if (!s->closed && !c->closing && (rc = pump_session(s, 1u << 20)) < 0)
		fail(s, rc);
}

static void acked_cb(void *ud, uint64_t id)
{
	zkr_session_t *s = ud;

	if (s->c->cb.on_acked && !s->closed && !s->c->closing)
		s->c->cb.on_acked(s, id, s->c->cfg.ud);
}

/* The peer's acknowledgement, carried by every record. */
static int take_ack(zkr_session_t *s, const record_t *r)
{
	zkr_client_t *c = s->c;
	uint64_t done, total;
	int rc = rel_send_ack(&s->tx, r->ack, acked_cb, s);

	if (rc <= 0 || s->closed || c->closing)
		return rc;
	s->progress_ms = sdk_now_ms(c);
	s->rto_ms = c->cfg.retransmit_ms;
	s->rto_at = rel_send_outstanding(&s->tx) ? sdk_now_ms(c) + s->rto_ms : 0;
	if (s->cwnd < window_records(s))
		s->cwnd++; /* additive increase: one record per acknowledgement */
	rel_send_progress(&s->tx, &done, &total);
	if (c->cb.on_progress && total)
		c->cb.on_progress(s, 0, done, total, c->cfg.ud);
	if (s->want_writable && !s->closed && !c->closing && s->tx.pending == 0) {
		s->want_writable = 0;
		if (c->cb.on_writable)
			c->cb.on_writable(s, c->cfg.ud);
	}
	return 0;
}

static int take_data(zkr_session_t *s, const record_t *r)
{
	zkr_client_t *c = s->c;
	const uint8_t *msg;
	uint64_t done, total;
	size_t len;
	int rc = rel_recv_data(&s->rx, r, &msg, &len);

	if (rc < 0)
		return rc;
	if (rc == 0) {
		s->ack_at = sdk_now_ms(c); /* a repeat or a gap: say where we are */
		return 0;
	}
	if (++s->unacked_rx >= ACK_EVERY)
		s->ack_at = sdk_now_ms(c);
	else if (!s->ack_at)
		s->ack_at = sdk_now_ms(c) + ACK_DELAY_MS;
	if (r->flags & RECORD_FIN) { /* taken in order: a whole message */
		if (c->cb.on_message)
			c->cb.on_message(s, msg, len, c->cfg.ud);
		return 0;
	}
	rel_recv_progress(&s->rx, &done, &total);
	if (c->cb.on_progress)
		c->cb.on_progress(s, 1, done, total, c->cfg.ud);
	return 0;
}

/* The peer broke a rule (a message above our limit, a record that
 * contradicts the message it continues, an acknowledgement of what we
 * never sent): tell it why, sealed, so it fails at once instead of
 * waiting out its timeout, then end the session. */
static void fail_peer(zkr_session_t *s, int err)
{
	record_t r;

	if (err < 0)
		err = -err;
	memset(&r, 0, sizeof(r));
	r.type = RECORD_CLOSE;
	r.reason = (uint16_t)err;
	if (err != ZK_ENOMEM && sdk_link_ready(s->c))
		(void)send_record(s, &r);
	fail(s, err);
}

static void on_transport(zkr_client_t *c, zkr_session_t *s, uint64_t nonce, const uint8_t *p,
			 size_t n)
{
	record_t r;
	size_t plen;
	int rc;

	if (s->state != S_OPEN)
		return;
	/* A message that does not open is the relay's doing (or noise):
	 * drop it; what it claimed to carry will be sent again. */
	if (e2e_open(s->e2e, mkstream(s->sid, K_DATA), nonce, p, n, c->rx_plain,
		     sizeof(c->rx_plain), &plen) < 0)
		return;
	s->resume_until = 0; /* the peer hears us again */
	s->rx_ms = sdk_now_ms(c);
	rc = record_decode(c->rx_plain, plen, &r);
	if (rc == 0 && r.type == RECORD_CLOSE) {
		zkr_wipe(c->rx_plain, plen);
		fail(s, r.reason); /* authenticated: the peer ended it */
		return;
	}
	if (rc == 0)
		rc = take_ack(s, &r);
	if (rc == 0 && !s->closed && !c->closing && (r.flags & RECORD_RESUME))
		rel_send_rewind(&s->tx);
	if (rc == 0 && !s->closed && !c->closing && r.type == RECORD_DATA)
		rc = take_data(s, &r);
	zkr_wipe(c->rx_plain, plen);
	if (rc < 0 && !s->closed && !c->closing)
		fail_peer(s, rc);
	else if (!s->closed && !c->closing && (rc = pump_session(s, 1u << 20)) < 0)
		fail(s, rc);
}

void session_on_data(zkr_client_t *c, const char *src, size_t slen, uint32_t stream,
		     uint64_t seq, const uint8_t *p, size_t n)
{
	uint32_t sid = stream >> 2;
	zkr_session_t *s;

	if (c->closing || sid == 0)
		return;
	if ((stream & 3) == K_HS1) {
		on_hs1(c, src, slen, sid, p, n);
		return;
	}
	s = find(c, src, slen, sid);
	if (!s)
		return;
	switch (stream & 3) {
	case K_HS2: on_hs2(c, s, p, n); break;
	case K_DATA: on_transport(c, s, seq, p, n); break;
	case K_REFUSE:
		if (s->initiator && s->state == S_HANDSHAKE)
			fail(s, ZK_EPEERKEY);
		break;
	}
}

/* ---- after a reconnect, and refusals ------------------------------------ */

/* Sends RESUME acks until the peer answers (or peer_timeout_ms). */
static void start_resume(zkr_session_t *s)
{
	uint64_t now = sdk_now_ms(s->c);

	s->resume_at = now;
	s->resume_until = now + s->c->cfg.peer_timeout_ms;
}

void session_on_link_up(zkr_client_t *c)
{
	uint64_t now = sdk_now_ms(c);
	zkr_session_t *s;

	for (s = c->sessions; s; s = s->next) {
		if (s->closed)
			continue;
		if (s->state == S_HANDSHAKE && s->initiator) {
			s->hs_next_ms = now; /* the tick sends a fresh attempt */
		} else if (s->state == S_OPEN) {
			/* What was in flight may be gone with the old connection:
			 * start again after the last acknowledgement, and ask the
			 * peer to do the same until it answers. */
			rel_send_rewind(&s->tx);
			start_resume(s);
		}
	}
	session_pump_all(c);
}

void session_resume_all(zkr_client_t *c)
{
	for (zkr_session_t *s = c->sessions; s; s = s->next)
		if (!s->closed && s->state == S_OPEN)
			start_resume(s);
}

/* The relay refused a frame. Congestion (a full queue, the relay's budget,
 * a rate limit) halves the window, at most once per retransmission
 * timeout; every refusal brings the next go-back sooner, though never
 * sooner than NACK_RETRY_MS nor a quarter of the backed-off timeout, so a
 * peer that left is not hammered. */
void session_on_nack(zkr_client_t *c, uint32_t stream, int reason)
{
	zkr_session_t *s = find_sid(c, stream >> 2);
	uint64_t now = sdk_now_ms(c), soon;

	if (!s || c->closing)
		return;
	soon = now + (s->rto_ms / 4 > NACK_RETRY_MS ? s->rto_ms / 4 : NACK_RETRY_MS);
	if (s->state == S_HANDSHAKE) {
		if (s->hs_next_ms > soon + 750)
			s->hs_next_ms = soon + 750;
		return;
	}
	if ((reason == ZK_EQUEUEFULL || reason == ZK_EBUSY || reason == ZK_ERATELIMIT) &&
	    now >= s->cut_at) {
		s->cwnd = s->cwnd / 2 > CWND_MIN ? s->cwnd / 2 : CWND_MIN;
		s->cut_at = now + s->rto_ms;
	}
	if (rel_send_outstanding(&s->tx) && (!s->rto_at || s->rto_at > soon))
		s->rto_at = soon;
}

/* ---- the clock ------------------------------------------------------------ */

static void tick_handshake(zkr_session_t *s, uint64_t now)
{
	zkr_client_t *c = s->c;
	int rc;

	if (now - s->created_ms >= c->cfg.peer_timeout_ms) {
		fail(s, ZK_ETIMEOUT);
		return;
	}
	if (s->initiator && sdk_link_ready(c) && now >= s->hs_next_ms && (rc = send_hs1(s)) < 0)
		fail(s, rc);
}

static void tick_open(zkr_session_t *s, uint64_t now)
{
	zkr_client_t *c = s->c;
	int rc = 0;

	if (rel_send_outstanding(&s->tx) && now - s->progress_ms >= c->cfg.peer_timeout_ms) {
		fail(s, ZK_ETIMEOUT);
		return;
	}
	/* A responder forgets a session its peer stopped using (a CLI that
	 * is done, a replayed message 1 nobody follows up). */
	if (!s->initiator && !rel_send_outstanding(&s->tx) &&
	    now - s->rx_ms >= c->cfg.peer_timeout_ms) {
		fail(s, ZK_ETIMEOUT);
		return;
	}
	if (!sdk_link_ready(c))
		return;
	if (s->rto_at && now >= s->rto_at) {
		if (rel_send_outstanding(&s->tx)) {
			rel_send_rewind(&s->tx);
			if (s->rto_ms < c->cfg.retransmit_ms * RTO_MAX_FACTOR)
				s->rto_ms *= 2;
			s->rto_at = now + s->rto_ms;
		} else {
			s->rto_at = 0;
		}
	}
	if (s->resume_until && now >= s->resume_at) {
		if (now >= s->resume_until) {
			s->resume_until = 0;
		} else {
			rc = send_ack(s, 1);
			s->resume_at = now + c->cfg.retransmit_ms;
		}
	}
	if (rc == 0)
		rc = pump_session(s, 1u << 20);
	if (rc == 0 && s->ack_at && now >= s->ack_at)
		rc = send_ack(s, 0);
	if (rc < 0 && rc != -ZK_ECLOSED)
		fail(s, rc);
}

void session_tick(zkr_client_t *c, uint64_t now)
{
	for (zkr_session_t *s = c->sessions; s && !c->closing; s = s->next) {
		if (s->closed)
			continue;
		if (s->state == S_HANDSHAKE)
			tick_handshake(s, now);
		else
			tick_open(s, now);
	}
}

void session_farewell(zkr_client_t *c)
{
	/* Acknowledge what arrived before leaving: a peer would otherwise
	 * resend it to an address that is gone until its timeout. */
	for (zkr_session_t *s = c->sessions; s; s = s->next)
		if (!s->closed && s->state == S_OPEN && sdk_link_ready(c) &&
		    (s->ack_at || s->unacked_rx))
			(void)send_ack(s, 0);
	for (zkr_session_t *s = c->sessions; s; s = s->next)
		bury(s);
}

void session_sweep(zkr_client_t *c)
{
	sweep(c);
}

/* ---- sessions: the public calls --------------------------------------------- */

int zkr_session_open(zkr_client_t *c, const char *peer_addr, const uint8_t peer_key[ZKR_KEY_LEN],
		     zkr_session_t **out)
{
	zkr_session_t *s;
	size_t plen;

	if (!c || !peer_addr || !peer_key || !out || c->closing)
		return -ZKR_EINVAL;
	plen = strnlen(peer_addr, ZKR_MAX_ADDR + 1);
	if (plen == 0 || plen > ZKR_MAX_ADDR || !strchr(peer_addr, '/'))
		return -ZKR_EINVAL;
	s = session_new(c, peer_addr, plen, 1);
	if (!s)
		return -ZKR_ENOMEM;
	memcpy(s->peer_key, peer_key, ZKR_KEY_LEN);
	s->state = S_HANDSHAKE;
	s->hs_next_ms = sdk_now_ms(c); /* the next tick sends message 1 */
	*out = s;
	return 0;
}

int zkr_session_send(zkr_session_t *s, const void *msg, size_t len, uint64_t *msg_id)
{
	zkr_client_t *c;
	int rc;

	if (!s || s->closed || (!msg && len))
		return -ZKR_EINVAL;
	c = s->c;
	if (c->closing)
		return -ZKR_ECLOSED;
	if (len > c->cfg.max_message_bytes)
		return -ZKR_ETOOLARGE;
	if (s->tx.pending && s->tx.pending + len > c->cfg.max_message_bytes) {
		s->want_writable = 1;
		return -ZKR_EAGAIN;
	}
	rc = rel_send_queue(&s->tx, msg, len, msg_id);
	if (rc < 0)
		return rc;
	if (sdk_link_ready(c) && (rc = pump_session(s, 1u << 20)) < 0) {
		fail(s, rc);
		return rc;
	}
	return 0;
}

size_t zkr_session_pending(const zkr_session_t *s)
{
	return s && !s->closed ? s->tx.pending : 0;
}

const char *zkr_session_peer(const zkr_session_t *s)
{
	return s ? s->peer : "";
}

int zkr_session_peer_key(const zkr_session_t *s, uint8_t out[ZKR_KEY_LEN])
{
	if (!s || !out || s->closed)
		return -ZKR_EINVAL;
	memcpy(out, s->peer_key, ZKR_KEY_LEN);
	return 0;
}

zkr_client_t *zkr_session_client(const zkr_session_t *s)
{
	return s ? s->c : NULL;
}

void zkr_session_set_ud(zkr_session_t *s, void *ud)
{
	if (s)
		s->ud = ud;
}

void *zkr_session_ud(const zkr_session_t *s)
{
	return s ? s->ud : NULL;
}

void zkr_session_close(zkr_session_t *s)
{
	if (s)
		bury(s);
}
