#include "deliver.h"

#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "tlsout.h"
#include "zkerr.h"

/* Something is queued for c: it is written on the next loop turn (from
 * listener.c's kick), without asking the poll whether the socket has
 * room, which it nearly always has; asking costs two epoll_ctl() calls
 * and a poll round per write. All frames that arrive before then leave
 * together. */
static void want_write(conn_t *c)
{
	if (!c->write_requested) {
		c->write_requested = WRITE_NEXT_TURN;
		listener_kick(c);
	}
}

/* The socket is full (or libwebsockets holds part of a message): write
 * again once it has room. */
static void want_writeable(conn_t *c)
{
	c->write_requested = WRITE_WHEN_WRITEABLE;
	lws_callback_on_writable(c->wsi);
}

/* ---- backpressure ---------------------------------------------------- */

static void pause_sender(conn_t *dst, conn_t *src)
{
	for (uint32_t i = 0; i < dst->nwaiters; i++)
		if (dst->waiters[i] == src->ref)
			return;
	if (dst->nwaiters == dst->waiters_cap) {
		uint32_t ncap = dst->waiters_cap ? dst->waiters_cap * 2 : 4;
		conn_ref_t *w = realloc(dst->waiters, ncap * sizeof(*w));
		if (!w)
			return; /* not paused: the byte cap still holds */
		dst->waiters = w;
		dst->waiters_cap = ncap;
	}
	dst->waiters[dst->nwaiters++] = src->ref;
	if (src->paused_by++ == 0) {
		metrics.backpressure_pauses++;
		lws_rx_flow_control(src->wsi, 0);
		zlog(ZLOG_DEBUG, "backpressure_on", "s", "endpoint", src->log_id);
	}
}

static void resume_senders(conn_t *dst)
{
	for (uint32_t i = 0; i < dst->nwaiters; i++) {
		conn_t *s = conn_lookup(dst->relay, dst->waiters[i]);
		if (!s || s->paused_by == 0)
			continue;
		if (--s->paused_by == 0 && (s->state == CONN_OPEN || s->state == CONN_CLOSING)) {
			lws_rx_flow_control(s->wsi, 1);
			listener_kick(s);
			zlog(ZLOG_DEBUG, "backpressure_off", "s", "endpoint", s->log_id);
		}
	}
	dst->nwaiters = 0;
}


/* ---- queueing -------------------------------------------------------- */

typedef void (*encode_fn)(buf_writer_t *w, const void *arg);

static int enqueue(conn_t *dst, size_t n, encode_fn enc, const void *arg)
{
	relay_t *r = dst->relay;
	buf_writer_t w;
	uint8_t *p = queue_reserve(&dst->q, &r->pool, n);

	if (!p)
		return -ZK_ENOMEM;
	buf_writer_init(&w, p, n);
	enc(&w, arg);
	if (!buf_writer_ok(&w) || w.len != n)
		return -ZK_EINVAL; /* size and encoder disagree: a bug, never sent */
	queue_commit(&dst->q, n);
	r->queued_total += n;
	want_write(dst);
	return 0;
}

typedef struct {
	const conn_t *src;
	const wire_frame_t *f;
} data_arg_t;

static void enc_data(buf_writer_t *w, const void *arg)
{
	const data_arg_t *a = arg;
	const wire_frame_t *f = a->f;
	wire_put_data(w, NULL, 0, (const uint8_t *)a->src->ident.addr, a->src->ident.addr_len,
		      f->u.data.stream, f->u.data.seq, f->u.data.payload.p, f->u.data.payload.len);
}

typedef struct {
	uint32_t stream;
	uint64_t seq;
	uint32_t reason;
} nack_arg_t;

static void enc_nack(buf_writer_t *w, const void *arg)
{
	const nack_arg_t *a = arg;
	wire_put_nack(w, a->stream, a->seq, a->reason);
}

/* Control frames are small and their exact size is easiest to learn by
 * writing them once into scratch space; then they take the same path as
 * data. */
static int enqueue_small(conn_t *c, encode_fn enc, const void *arg)
{
	uint8_t tmp[512];
	buf_writer_t w;
	buf_writer_init(&w, tmp, sizeof(tmp));
	enc(&w, arg);
	if (!buf_writer_ok(&w))
		return -ZK_EINVAL;
	return enqueue(c, w.len, enc, arg);
}

int deliver_nack(conn_t *c, uint32_t stream, uint64_t seq, int reason)
{
	nack_arg_t a = { stream, seq, (uint32_t)reason };
	/* A closing connection has its Close frame queued last. */
	if (c->state != CONN_OPEN)
		return 0;
	const config_t *cfg = &c->relay->cfg;
	int rc = enqueue_small(c, enc_nack, &a);
	/* Nacks fill the sender's own queue: a sender that does not read
	 * them is paused like any other, and one that has still pushed its
	 * queue past the cap (a whole message of refused frames) is closed,
	 * so control frames cannot grow a queue without bound. */
	if (rc == 0 && c->q.bytes > cfg->queue_max_bytes)
		conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, ZK_EQUEUEFULL);
	else if (rc == 0 && c->q.bytes > cfg->queue_high_water)
		pause_sender(c, c);
	return rc;
}

static void enc_welcome(buf_writer_t *w, const void *arg)
{
	const conn_t *c = arg;
	const config_t *cfg = &c->relay->cfg;
	wire_put_welcome(w, c->ident.practice, c->ident.role, c->ident.endpoint,
			 cfg->max_message_bytes, config_payload_limit(cfg));
}

int deliver_welcome(conn_t *c)
{
	return enqueue_small(c, enc_welcome, c);
}

static void enc_ack(buf_writer_t *w, const void *arg)
{
	wire_put_ack(w, *(const uint64_t *)arg);
}

int deliver_ack(conn_t *c, uint64_t seq)
{
	return enqueue_small(c, enc_ack, &seq);
}

static void enc_close(buf_writer_t *w, const void *arg)
{
	int reason = *(const int *)arg;
	wire_put_close(w, (uint32_t)reason, zk_err_name(reason));
}

int deliver_close_frame(conn_t *c, int reason)
{
	return enqueue_small(c, enc_close, &reason);
}

/* ---- routing --------------------------------------------------------- */

static int client_wrote_to(const conn_t *client, conn_ref_t safe)
{
	for (uint8_t i = 0; i < client->nwrote; i++)
		if (client->wrote_to[i] == safe)
			return 1;
	return 0;
}

static void remember_write(conn_t *client, conn_ref_t safe)
{
	if (client_wrote_to(client, safe))
		return;
	client->wrote_to[client->wrote_next] = safe;
	client->wrote_next = (uint8_t)((client->wrote_next + 1) % CONN_WROTE_MAX);
	if (client->nwrote < CONN_WROTE_MAX)
		client->nwrote++;
}

/* The routing rule: a connection may write to the data-safes its token
 * names; a data-safe may answer a connection that wrote to it under a
 * valid token. Every other case, unknown, offline or not permitted, is
 * the same no_route. */
static conn_t *permitted_dst(conn_t *src, const wire_slice_t *dst, int64_t now)
{
	size_t plen;
	conn_t *d;

	if (!ident_addr_ok(dst->p, dst->len, &plen))
		return NULL;
	d = route_get(&src->relay->routes, dst->p, dst->len);
	if (!d || d->state != CONN_OPEN || !d->hello_done)
		return NULL;
	if (src->token && token_allows(src->token, dst->p, dst->len))
		return d->ident.role == WIRE_ROLE_SAFE ? d : NULL;
	if (src->ident.role == WIRE_ROLE_SAFE)
		return client_wrote_to(d, src->ref) &&
		       !conn_token_expired(d, now) ? d : NULL;
	return NULL;
}

/* A refused route goes into the audit trail once per connection and
 * destination, and for at most 8 destinations per connection, so a sender
 * cannot fill the disk by repeating itself. */
static void audit_refusal(conn_t *src, const wire_slice_t *dst)
{
	char peer[WIRE_MAX_ADDR + 1];
	size_t plen;
	uint64_t h = 0xcbf29ce484222325ull;

	if (!src->relay->audit || src->naudited == sizeof(src->audited) / sizeof(src->audited[0]))
		return;
	for (size_t i = 0; i < dst->len; i++)
		h = (h ^ dst->p[i]) * 0x100000001b3ull;
	for (uint8_t i = 0; i < src->naudited; i++)
		if (src->audited[i] == h)
			return;
	src->audited[src->naudited++] = h;
	int ok = ident_addr_ok(dst->p, dst->len, &plen);
	if (ok) {
		memcpy(peer, dst->p, dst->len);
		peer[dst->len] = '\0';
	}
	audit_route_refused(src->relay->audit, src->ident.addr, conn_audit_practice(src),
			    ok ? peer : NULL, ZK_ENOROUTE, conn_audit_jti(src));
}

/* The four token buckets a data frame passes: the connection's and its
 * practice's, each on frames and on payload bytes. The frame is charged
 * to all four or to none, so a refusal by one bucket costs the others
 * nothing. */
static int within_rate_limits(conn_t *c, uint64_t bytes, uint64_t now_ns)
{
	const config_t *cfg = &c->relay->cfg;
	practice_state_t *p = c->practice;

	if (!ratelimit_allows(&c->rl_frames, &cfg->conn_frames, now_ns, 1) ||
	    !ratelimit_allows(&c->rl_bytes, &cfg->conn_bytes, now_ns, bytes))
		return 0;
	if (p && (!ratelimit_allows(&p->frames, &cfg->practice_frames, now_ns, 1) ||
		  !ratelimit_allows(&p->bytes, &cfg->practice_bytes, now_ns, bytes)))
		return 0;
	ratelimit_take(&c->rl_frames, 1);
	ratelimit_take(&c->rl_bytes, bytes);
	if (p) {
		ratelimit_take(&p->frames, 1);
		ratelimit_take(&p->bytes, bytes);
	}
	return 1;
}

void deliver_data(conn_t *src, const wire_frame_t *f)
{
	relay_t *r = src->relay;
	const config_t *cfg = &r->cfg;
	uint32_t stream = f->u.data.stream;
	uint64_t seq = f->u.data.seq;
	const int64_t now = r->rx_s;
	conn_t *d;
	size_t n;
	int reason;

	if (r->draining) {
		reason = ZK_EGOINGAWAY;
		goto nack;
	}
	if (conn_token_expired(src, now)) {
		reason = ZK_ETOKENEXPIRED;
		goto nack;
	}
	if (f->u.data.payload.len > config_payload_limit(cfg)) {
		reason = ZK_ETOOLARGE;
		goto nack;
	}
	/* Rate limits count every data frame the relay examines, before the
	 * guard (so a flood costs no guard time) and before any routing
	 * decision (so the answer says nothing about destinations). */
	if (!within_rate_limits(src, f->u.data.payload.len, r->rx_ns)) {
		reason = ZK_ERATELIMIT;
		goto nack;
	}
	/* Before any routing decision, so the answer says nothing about
	 * destinations: only end-to-end records are carried. */
	if (!guard_ok(f->u.data.payload.p, f->u.data.payload.len)) {
		reason = ZK_EPLAINTEXT;
		goto nack;
	}
	d = permitted_dst(src, &f->u.data.dst, now);
	if (!d) {
		reason = ZK_ENOROUTE;
		audit_refusal(src, &f->u.data.dst);
		goto nack;
	}
	n = wire_data_size(0, src->ident.addr_len, stream, seq, f->u.data.payload.len);
	if (r->queued_total + n > cfg->queue_total_max_bytes) {
		reason = ZK_EBUSY;
		goto nack;
	}
	if (d->q.bytes + n > cfg->queue_max_bytes) {
		reason = ZK_EQUEUEFULL;
		goto nack;
	}
	data_arg_t a = { src, f };
	if (enqueue(d, n, enc_data, &a)) {
		reason = ZK_EBUSY;
		goto nack;
	}
	metrics.frames_relayed++;
	metrics.bytes_relayed += f->u.data.payload.len;
	if (src->token)
		remember_write(src, d->ref);
	/* A data-safe serves many clients: one slow client must not stop the
	 * relay reading it. Frames past that client's cap are nacked
	 * queue_full to the safe instead. */
	if (d->q.bytes > cfg->queue_high_water &&
	    !(src->ident.role == WIRE_ROLE_SAFE && d->ident.role == WIRE_ROLE_CLIENT))
		pause_sender(d, src);
	return;
nack:
	metrics_refused_frame(reason);
	deliver_nack(src, stream, seq, reason);
}

/* ---- writing --------------------------------------------------------- */

/* How much one writeable turn writes to one connection: several queued
 * messages, one system call (tlsout.h), and then the other connections'
 * turn. */
#define DELIVER_TURN_BYTES (128u * 1024u)

/* The messages last handed to libwebsockets stay here until the socket
 * has taken every record of them, so that if the connection ends before,
 * their frames can be nacked: a peer never sees any frame of a message
 * it did not receive whole. While libwebsockets holds part of one (it
 * sends that on before the next WRITEABLE) all of them stay. */
static void inflight_release_sent(conn_t *c)
{
	if (lws_partial_buffered(c->wsi))
		return;
	/* The bytes not yet taken are the last ones handed over: a message
	 * with at least that many after it is all in the kernel. */
	while (c->inflight && c->inflight->after >= c->tls_left) {
		queue_block_t *b = c->inflight;
		c->inflight = b->next;
		queue_release(&c->relay->pool, b);
	}
}

static void inflight_add(conn_t *c, queue_block_t *b)
{
	queue_block_t **pp = &c->inflight;
	while (*pp)
		pp = &(*pp)->next; /* a handful of blocks: one turn's worth */
	*pp = b;
}

/* Writes the head block as one WebSocket message; 0, or -1 if
 * libwebsockets failed. */
static int write_head(conn_t *c, SSL *ssl)
{
	relay_t *r = c->relay;
	queue_block_t *b = queue_pop(&c->q);
	int rc = 0;

	r->queued_total -= b->len;
	if (b->len) {
		rc = lws_write(c->wsi, b->data, b->len, LWS_WRITE_BINARY);
		/* uv_hrtime() is CLOCK_MONOTONIC too, in nanoseconds. */
		metrics_observe(&metrics.dwell, (double)(uv_hrtime() - b->first_ns) / 1e9, b->frames);
	}
	b->after = tlsout_accepted(ssl); /* for now: handed over up to its end */
	inflight_add(c, b);
	if (rc < 0 || (size_t)rc < b->len) {
		c->inflight_failed = 1; /* nacked when the connection ends */
		return -1;
	}
	return 0;
}

/* out is what the gathering BIO's last send said (as tlsout_end()):
 * notes what the socket has not taken and releases the messages it has.
 * 0, or -1 if the socket failed (the connection must end). */
static int after_send(conn_t *c, SSL *ssl, int out)
{
	if (out < 0) {
		c->inflight_failed = 1;
		return -1;
	}
	c->tls_left = tlsout_left(ssl);
	inflight_release_sent(c);
	return 0;
}

/* Writes queued messages, up to a turn's worth, their records gathered
 * into one send(). Stops early once libwebsockets holds part of one (the
 * socket is full). 0, or -1 to close the connection. */
static int write_turn(conn_t *c, SSL *ssl)
{
	size_t sent = 0, total;
	int rc = 0;

	/* Called only with nothing left over (wait_if_full()), so every
	 * message in flight was released and c->inflight holds this turn's
	 * alone: each one's "after" below is taken against this turn's total.
	 * Without the gathering BIO (no memory) records go out one by one. */
	(void)tlsout_begin(ssl);
	while (c->q.head && sent < DELIVER_TURN_BYTES && !lws_partial_buffered(c->wsi)) {
		sent += c->q.head->len;
		if ((rc = write_head(c, ssl)))
			break;
	}
	total = tlsout_accepted(ssl);
	for (queue_block_t *b = c->inflight; b; b = b->next)
		b->after = total - b->after;
	return after_send(c, ssl, tlsout_end(ssl)) ? -1 : rc;
}

/* The socket is full, or libwebsockets holds part of a message: 1 after
 * asking the poll to say when it has room, else 0. */
static int wait_if_full(conn_t *c)
{
	if (!c->tls_left && !lws_partial_buffered(c->wsi))
		return 0;
	want_writeable(c);
	return 1;
}

int deliver_flush(conn_t *c)
{
	relay_t *r = c->relay;
	SSL *ssl = lws_get_ssl(c->wsi);

	c->write_requested = 0;
	/* Records the socket did not take last time go before anything. */
	if (after_send(c, ssl, tlsout_flush(ssl)))
		return -1;
	if (wait_if_full(c))
		return 0;
	if (c->q.head && write_turn(c, ssl))
		return -1;
	if (c->nwaiters && c->q.bytes <= r->cfg.queue_low_water)
		resume_senders(c);
	if (wait_if_full(c))
		return 0;
	if (c->q.head) {
		want_write(c); /* a turn's worth written: the others' turn first */
		return 0;
	}
	if (c->state == CONN_CLOSING && !c->close_ready) {
		/* Everything before the Close frame is out. The WebSocket close
		 * is started from the next loop turn, outside this callback:
		 * returning -1 here would make this libwebsockets build close
		 * the socket twice, the second time before its close frame is
		 * sent. */
		c->close_ready = 1;
		listener_kick(c);
	}
	return 0;
}

/* ---- abandoning ------------------------------------------------------ */

static void nack_block(relay_t *r, const queue_block_t *b)
{
	wire_iter_t it;
	wire_frame_t f;

	wire_iter_init(&it, b->data, b->len);
	while (wire_next(&it, &f) == 1) {
		if (f.type != WIRE_DATA)
			continue;
		conn_t *s = route_get(&r->routes, f.u.data.src.p, f.u.data.src.len);
		metrics_refused_frame(ZK_EUNDELIVERED);
		if (s)
			deliver_nack(s, f.u.data.stream, f.u.data.seq, ZK_EUNDELIVERED);
	}
}

void deliver_abandon(conn_t *c)
{
	relay_t *r = c->relay;
	queue_block_t *b;

	/* What the socket took, the peer may have; the rest it has not.
	 * libwebsockets' own last writes (its Close frame) go through the
	 * gathering BIO too and may have sent more of what was left. */
	SSL *ssl = lws_get_ssl(c->wsi);
	if (ssl)
		c->tls_left = tlsout_left(ssl);
	while ((b = c->inflight)) {
		c->inflight = b->next;
		if (c->inflight_failed || lws_partial_buffered(c->wsi) || b->after < c->tls_left)
			nack_block(r, b);
		queue_release(&r->pool, b);
	}

	while ((b = queue_pop(&c->q))) {
		r->queued_total -= b->len;
		if (b->len)
			nack_block(r, b);
		queue_release(&r->pool, b);
	}
	resume_senders(c);
}
