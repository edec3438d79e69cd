#include "conn.h"

#include <libwebsockets.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "deliver.h"
#include "metrics.h"
#include "log.h"
#include "zkerr.h"

#define SUBPROTOCOL "zkrelay.v1"

/* ---- handles --------------------------------------------------------- */

int conn_slab_init(conn_slab_t *s)
{
	memset(s, 0, sizeof(*s));
	return 0;
}

void conn_slab_free(conn_slab_t *s)
{
	free(s->slots);
	free(s->gens);
	free(s->free_slots);
	memset(s, 0, sizeof(*s));
}

static int slab_grow(conn_slab_t *s)
{
	uint32_t ncap = s->cap ? s->cap * 2 : 64;
	conn_t **slots = realloc(s->slots, ncap * sizeof(*slots));
	if (!slots)
		return -ZK_ENOMEM;
	s->slots = slots;
	uint32_t *gens = realloc(s->gens, ncap * sizeof(*gens));
	if (!gens)
		return -ZK_ENOMEM;
	s->gens = gens;
	uint32_t *fr = realloc(s->free_slots, ncap * sizeof(*fr));
	if (!fr)
		return -ZK_ENOMEM;
	s->free_slots = fr;
	for (uint32_t i = s->cap; i < ncap; i++) {
		s->slots[i] = NULL;
		s->gens[i] = 1;
		s->free_slots[s->nfree++] = ncap - 1 - (i - s->cap);
	}
	s->cap = ncap;
	return 0;
}

static int slab_add(conn_slab_t *s, conn_t *c, conn_ref_t *out)
{
	if (!s->nfree && slab_grow(s))
		return -ZK_ENOMEM;
	uint32_t i = s->free_slots[--s->nfree];
	s->slots[i] = c;
	*out = ((uint64_t)s->gens[i] << 32) | i;
	return 0;
}

static void slab_remove(conn_slab_t *s, conn_ref_t ref)
{
	uint32_t i = (uint32_t)ref;
	s->slots[i] = NULL;
	s->gens[i]++; /* every old handle to this slot is now stale */
	s->free_slots[s->nfree++] = i;
}

conn_t *conn_lookup(relay_t *r, conn_ref_t ref)
{
	uint32_t i = (uint32_t)ref;
	if (i >= r->slab.cap || r->slab.gens[i] != (uint32_t)(ref >> 32))
		return NULL;
	return r->slab.slots[i];
}

/* ---- lifecycle ------------------------------------------------------- */

conn_t *conn_new(relay_t *r, struct lws *wsi, iplimit_entry_t *ip)
{
	conn_t *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	if (slab_add(&r->slab, c, &c->ref)) {
		free(c);
		return NULL;
	}
	c->relay = r;
	c->wsi = wsi;
	c->ip = ip;
	c->log_id = c->log_alias; /* "" until the certificate is read */
	c->accepted_ms = uv_now(r->loop);
	c->accepted_ns = uv_hrtime();
	ratelimit_init(&c->rl_frames, &r->cfg.conn_frames, c->accepted_ns);
	ratelimit_init(&c->rl_bytes, &r->cfg.conn_bytes, c->accepted_ns);
	queue_init(&c->q);
	/* New connections go first, settled ones last (conn_settle), so the
	 * quick tick finds every connection with a deadline at the front. */
	c->next = r->conns;
	if (r->conns)
		r->conns->prev = c;
	else
		r->conns_tail = c;
	r->conns = c;
	return c;
}

static void unlink_conn(relay_t *r, conn_t *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		r->conns_tail = c->prev;
	c->prev = c->next = NULL;
}

void conn_settle(conn_t *c)
{
	relay_t *r = c->relay;

	if (c->settled)
		return;
	c->settled = 1;
	unlink_conn(r, c);
	c->prev = r->conns_tail;
	if (r->conns_tail)
		r->conns_tail->next = c;
	else
		r->conns = c;
	r->conns_tail = c;
}

void conn_destroy(conn_t *c)
{
	relay_t *r = c->relay;

	if (!c->hs_counted)
		metrics.handshakes[HS_FAILED]++;
	if (c->state != CONN_CLOSED)
		conn_on_closed(c); /* never opened: still undo what we did */
	listener_unkick(c);
	unlink_conn(r, c);
	if (c->ip)
		iplimit_release(&r->ips, c->ip);
	slab_remove(&r->slab, c->ref);
	practice_release(&r->practices, c->practice);
	c->practice = NULL;
	free(c->waiters);
	free(c->rx);
	conn_set_token(c, NULL);
	free(c);
	relay_maybe_finish(r);
}

/* The upgrade is refused unless it asks for exactly our subprotocol and
 * the verified certificate names exactly one endpoint. libwebsockets binds
 * an upgrade without any subprotocol to the first protocol, so the header
 * is checked here rather than trusted to its matching. */
/* The name logs use for the endpoint: its address, or with
 * [log] pseudonymize a keyed hash of it (HMAC-SHA-256 under a key made at
 * start), so one run's logs can be followed without naming anyone. */
static void set_log_id(conn_t *c)
{
	const relay_t *r = c->relay;
	unsigned char mac[32];
	unsigned int n = 0;

	if (!r->cfg.log_pseudonymize) {
		c->log_id = c->ident.addr;
		return;
	}
	c->log_id = c->log_alias;
	if (!HMAC(EVP_sha256(), r->log_key, sizeof(r->log_key), (const unsigned char *)c->ident.addr,
		  c->ident.addr_len, mac, &n) || n < 8) {
		snprintf(c->log_alias, sizeof(c->log_alias), "ep-unknown");
		return;
	}
	snprintf(c->log_alias, sizeof(c->log_alias), "ep-%02x%02x%02x%02x%02x%02x%02x%02x", mac[0],
		 mac[1], mac[2], mac[3], mac[4], mac[5], mac[6], mac[7]);
}

/* Counted once per connection: ok when the handshake is seen finished,
 * failed if the connection ends before that without timing out. */
void conn_tls_done(conn_t *c)
{
	if (!c->hs_counted) {
		c->hs_counted = 1;
		metrics.handshakes[HS_OK]++;
	}
}

/* 1 if header h came more than once (libwebsockets keeps repeats as
 * further fragments of one header and joins them with commas). */
static int header_repeated(struct lws *wsi, enum lws_token_indexes h)
{
	char tmp[128];
	/* -1: no second fragment; a second one of any length (even empty,
	 * or too long for tmp) counts. */
	return lws_hdr_copy_fragment(wsi, tmp, sizeof(tmp), h, 1) >= 0 ||
	       lws_hdr_fragment_length(wsi, h, 1) > 0;
}

/* RFC 6455 section 4.2.1 asks more of an opening handshake than
 * libwebsockets 4.1.6 checks: it upgrades a POST, PUT or OPTIONS request,
 * any Sec-WebSocket-Version and two Sec-WebSocket-Keys. (It also upgrades
 * an HTTP/1.0 request, and keeps the request's version where its API does
 * not show it; README, "Security", lists that.) NULL if the request is a
 * proper one, else why not. */
static const char *upgrade_request_bad(struct lws *wsi)
{
	static const enum lws_token_indexes other_methods[] = {
		WSI_TOKEN_POST_URI,  WSI_TOKEN_OPTIONS_URI, WSI_TOKEN_PUT_URI,
		WSI_TOKEN_PATCH_URI, WSI_TOKEN_DELETE_URI,  WSI_TOKEN_HEAD_URI,
	};
	char v[8];

	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
		return "method";
	for (size_t i = 0; i < sizeof(other_methods) / sizeof(other_methods[0]); i++)
		if (lws_hdr_total_length(wsi, other_methods[i]) > 0)
			return "method";
	if (lws_hdr_copy(wsi, v, sizeof(v), WSI_TOKEN_VERSION) != 2 || strcmp(v, "13") ||
	    header_repeated(wsi, WSI_TOKEN_VERSION))
		return "websocket_version";
	/* A base64 16-byte nonce is 24 characters. */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_KEY) != 24 || header_repeated(wsi, WSI_TOKEN_KEY))
		return "websocket_key";
	return NULL;
}

int conn_on_filter_protocol(conn_t *c)
{
	conn_tls_done(c);
	char proto[sizeof(SUBPROTOCOL) + 1];
	const char *bad;
	X509 *cert;
	int n;

	if ((bad = upgrade_request_bad(c->wsi))) {
		zlog(ZLOG_INFO, "upgrade_refused", "ss", "reason", "bad_upgrade", "detail", bad);
		metrics.refused_conns[REFUSE_BAD_UPGRADE]++;
		return -1;
	}
	n = lws_hdr_copy(c->wsi, proto, sizeof(proto), WSI_TOKEN_PROTOCOL);
	if (n != (int)sizeof(SUBPROTOCOL) - 1 || strcmp(proto, SUBPROTOCOL)) {
		zlog(ZLOG_INFO, "upgrade_refused", "s", "reason", "subprotocol");
		metrics.refused_conns[REFUSE_SUBPROTOCOL]++;
		return -1;
	}
	if (c->relay->draining) {
		zlog(ZLOG_INFO, "upgrade_refused", "s", "reason", "draining");
		metrics.refused_conns[REFUSE_DRAINING]++;
		return -1;
	}
	cert = SSL_get0_peer_certificate(lws_get_ssl(c->wsi));
	if (!cert || SSL_get_verify_result(lws_get_ssl(c->wsi)) != X509_V_OK ||
	    ident_from_cert(cert, &c->ident) || registry_spki_sha256(cert, c->spki)) {
		zlog(ZLOG_INFO, "upgrade_refused", "s", "reason", "identity");
		metrics.refused_conns[REFUSE_IDENTITY]++;
		return -1;
	}
	c->have_ident = 1;
	set_log_id(c);
	return 0;
}

int conn_on_established(conn_t *c)
{
	static const char *const roles[] = { "none", "safe", "client" };
	if (!c->have_ident)
		return -1;
	c->state = CONN_OPEN;
	c->opened_ms = uv_now(c->relay->loop);
	c->last_rx_ms = c->opened_ms;
	audit_connect(c->relay->audit, c->ident.addr);
	/* The hello must follow within hello_s (conn_tick): a timeout set
	 * here could be ignored by libwebsockets when this runs outside its
	 * own service (an upgrade serviced through listener_kick()). */
	zlog(ZLOG_INFO, "connection_open", "ss", "role", roles[c->ident.role], "endpoint",
	     c->log_id);
	return 0;
}

void conn_kill(conn_t *c)
{
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	/* A timeout set from outside libwebsockets' own service is only seen
	 * once it runs again; wake it now. */
	lws_cancel_service(lws_get_context(c->wsi));
}

void conn_close(conn_t *c, int ws_code, int reason)
{
	if (c->state != CONN_OPEN)
		return;
	/* Only wire reasons go on the wire: an internal error (a bug, or
	 * memory) is reported as a protocol failure, not as its local code. */
	if (reason < 0 || reason >= ZK_REASON_COUNT)
		reason = ZK_EPROTO;
	c->state = CONN_CLOSING;
	c->close_code = ws_code;
	c->close_reason = reason;
	/* What still arrives is read and discarded (conn_on_receive), so the
	 * peer's close handshake can complete. */
	if (deliver_close_frame(c, reason))
		conn_kill(c);
}

void conn_on_closed(conn_t *c)
{
	if (c->state == CONN_CLOSED)
		return;
	if (c->state >= CONN_OPEN)
		zlog(ZLOG_INFO, "connection_closed", "ss", "endpoint", c->log_id,
		     "reason", zk_err_name(c->close_reason));
	if (c->hello_done)
		audit_disconnect(c->relay->audit, c->ident.addr, conn_audit_practice(c),
				 c->close_reason, conn_audit_jti(c));
	c->state = CONN_CLOSED;
	if (c->hello_done)
		route_del(&c->relay->routes, c->ident.addr, c->ident.addr_len, c);
	deliver_abandon(c);
}

void conn_set_token(conn_t *c, token_claims_t *t)
{
	token_claims_free(&c->token);
	c->token = t;
	c->token_exp = t ? t->exp : 0;
	c->expired_at = 0;
}

int conn_token_expired(const conn_t *c, int64_t now)
{
	/* token_exp, not token->exp: the tick asks this of every connection,
	 * and the token is one more cache miss each. */
	return c->token && c->token_exp + c->relay->rules.leeway_s <= now;
}

/* An expired token stops routing at once (deliver_data checks it on every
 * frame); without a refresh the connection is closed after grace_s. */
static void expiry_tick(conn_t *c, int64_t now)
{
	if (!conn_token_expired(c, now))
		return;
	if (!c->expired_at) {
		c->expired_at = now;
		zlog(ZLOG_INFO, "token_expired", "s", "endpoint", c->log_id);
	} else if (now - c->expired_at >= (int64_t)c->relay->cfg.token_grace_s) {
		audit_connection_cut(c->relay->audit, c->ident.addr, conn_audit_practice(c),
				     ZK_ETOKENEXPIRED, conn_audit_jti(c));
		conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, ZK_ETOKENEXPIRED);
	}
}

/* SSL_MODE_RELEASE_BUFFERS gives the record buffers back only when a
 * read consumes the last record; the read that then meets an empty socket
 * sets up a new one (16 KiB), which an idle connection would keep. One
 * quiet tick later it goes: OpenSSL frees nothing that holds data (then
 * it returns 0 and the connection is looked at again next tick). Once
 * given back, the tick leaves the TLS layer alone until traffic comes:
 * with thousands of idle connections, touching each one's SSL every tick
 * cost more than their handshakes. */
static void tls_tick(conn_t *c)
{
	SSL *ssl = lws_get_ssl(c->wsi);

	if (!ssl || c->tls_idle)
		return;
	/* Safety net for listener_kick(): records read ahead behind one that
	 * gave libwebsockets no payload (a frame header alone) produce no
	 * callback that would kick. */
	if (!c->paused_by && SSL_has_pending(ssl))
		listener_kick(c);
	else if (!c->rx_since_tick)
		c->tls_idle = SSL_free_buffers(ssl) == 1;
	c->rx_since_tick = 0;
}

/* A ping after ping_s without any frame from the peer, the hang-up after
 * idle_s. Traffic of any kind counts (conn_note_rx), so busy connections
 * are never pinged. */
static void liveness_tick(conn_t *c, uint64_t now_ms)
{
	const relay_t *r = c->relay;
	uint64_t quiet = now_ms - c->last_rx_ms;

	if (quiet >= (uint64_t)r->cfg.idle_s * 1000) {
		zlog(ZLOG_INFO, "timeout", "ss", "phase", "idle", "endpoint", c->log_id);
		metrics.idle_timeouts++;
		conn_kill(c);
		c->state = CONN_CLOSING;
	} else if (quiet >= (uint64_t)r->cfg.ping_s * 1000 && c->ping_state == CONN_PING_NONE) {
		c->ping_state = CONN_PING_DUE;
		lws_callback_on_writable(c->wsi);
	}
}

/* Deadlines of connections not open yet; 1 if the connection was cut. */
static int setup_tick(conn_t *c, uint64_t now_ms)
{
	const relay_t *r = c->relay;

	if (c->state == CONN_TLS) {
		SSL *ssl = lws_get_ssl(c->wsi);
		if (ssl && SSL_is_init_finished(ssl)) {
			conn_tls_done(c);
			c->state = CONN_UPGRADE;
			c->tls_done_ms = now_ms;
		} else if (now_ms - c->accepted_ms >= (uint64_t)r->cfg.tls_handshake_s * 1000) {
			zlog(ZLOG_INFO, "timeout", "s", "phase", "tls_handshake");
			metrics.handshakes[HS_TIMEOUT]++;
			c->hs_counted = 1;
			goto cut;
		}
	} else if (c->state == CONN_UPGRADE) {
		if (now_ms - c->tls_done_ms >= (uint64_t)r->cfg.upgrade_s * 1000) {
			zlog(ZLOG_INFO, "timeout", "s", "phase", "upgrade");
			metrics.refused_conns[REFUSE_UPGRADE_TIMEOUT]++;
			goto cut;
		}
		/* Safety net, as in tls_tick(). */
		SSL *ssl = lws_get_ssl(c->wsi);
		if (ssl && SSL_has_pending(ssl))
			listener_kick(c);
	} else if (c->state == CONN_OPEN && !c->hello_done &&
		   now_ms - c->opened_ms >= (uint64_t)r->cfg.hello_s * 1000) {
		zlog(ZLOG_INFO, "timeout", "s", "phase", "hello");
		metrics.refused_conns[REFUSE_HELLO_TIMEOUT]++;
		goto cut;
	}
	return 0;
cut:
	conn_kill(c);
	c->state = CONN_CLOSING;
	return 1;
}

void conn_tick(relay_t *r, uint64_t now_ms, int full)
{
	int64_t now = (int64_t)time(NULL);

	for (conn_t *c = r->conns; c; c = c->next) {
		if (c->settled && !full)
			break; /* only settled ones from here on */
		if ((c->state != CONN_OPEN || !c->hello_done) && setup_tick(c, now_ms))
			continue;
		if (c->state == CONN_OPEN)
			expiry_tick(c, now);
		if (c->state == CONN_OPEN)
			liveness_tick(c, now_ms);
		if (c->state == CONN_OPEN)
			tls_tick(c);
	}
}

/* One write per callback: the ping goes alone, queued frames follow in
 * the next one. It carries a payload because libwebsockets 4.1 passes
 * no empty pong on (LWS_CALLBACK_RECEIVE_PONG), and the pong echoes it. */
static int send_ping(conn_t *c)
{
	static const char payload[] = "zkrelay";
	uint8_t buf[LWS_PRE + sizeof(payload)];

	c->ping_state = CONN_PING_SENT;
	memcpy(buf + LWS_PRE, payload, sizeof(payload));
	if (lws_write(c->wsi, buf + LWS_PRE, sizeof(payload), LWS_WRITE_PING) < 0)
		return -1;
	if (c->q.head || c->write_requested)
		lws_callback_on_writable(c->wsi);
	return 0;
}

int conn_on_writeable(conn_t *c)
{
	if (c->state != CONN_OPEN && c->state != CONN_CLOSING)
		return 0;
	c->tls_idle = 0; /* writing sets up a record buffer */
	/* Also called from the kick (WRITE_NEXT_TURN), outside a WRITEABLE
	 * callback: the ping waits while libwebsockets still holds part of a
	 * message, which deliver_flush() then waits on too. */
	if (c->state == CONN_OPEN && c->ping_state == CONN_PING_DUE &&
	    !lws_partial_buffered(c->wsi))
		return send_ping(c);
	return deliver_flush(c);
}
