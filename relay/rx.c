/* Inbound side of a connection: WebSocket message assembly, the size and
 * type limits, strict decoding, and dispatch of each frame by type. */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "audit.h"
#include "deliver.h"
#include "log.h"
#include "metrics.h"
#include "zkerr.h"

typedef int (*frame_fn)(conn_t *c, const wire_frame_t *f);

/* A data-safe is admitted by its certificate and its registry entry
 * (practice active, endpoint registered, SPKI pin equal). */
static int safe_admitted(const relay_t *r, const conn_t *c)
{
	const registry_practice_t *p;
	if (c->ident.role != WIRE_ROLE_SAFE)
		return 0;
	p = registry_find(r->registry, c->ident.practice, strlen(c->ident.practice));
	return p && registry_practice_active(p) &&
	       registry_safe_ok(p, c->ident.endpoint, strlen(c->ident.endpoint), c->spki);
}

/* Checks the token of a hello or refresh and makes it the connection's.
 * A client needs one; a data-safe may bring one (from another practice,
 * to reach that practice's data-safe). */
static int take_token(conn_t *c, const wire_slice_t *tok)
{
	relay_t *r = c->relay;
	token_claims_t *t = NULL;
	int rc;

	if (tok->len == 0)
		return c->ident.role == WIRE_ROLE_SAFE ? 0 : -ZK_ETOKEN;
	/* Addresses carry no role: a client certificate named like a
	 * registered data-safe must not take that data-safe's address. */
	if (c->ident.role == WIRE_ROLE_CLIENT) {
		const registry_practice_t *own = registry_find(r->registry, c->ident.practice,
								strlen(c->ident.practice));
		if (own && registry_safe_known(own, c->ident.endpoint, strlen(c->ident.endpoint)))
			return -ZK_ENOTAUTH;
	}
	rc = token_verify(r->registry, &r->rules, &c->ident, c->spki, tok->p, tok->len,
			  (int64_t)time(NULL), &t);
	if (rc == -ZK_ENOMEM)
		return rc;
	if (rc) {
		metrics.token_invalid++;
		return -ZK_ETOKEN;
	}
	metrics.token_ok++;
	conn_set_token(c, t);
	/* Who may answer follows the current token only. */
	c->nwrote = c->wrote_next = 0;
	return 0;
}

static int on_hello(conn_t *c, const wire_frame_t *f)
{
	relay_t *r = c->relay;
	void *old = NULL;
	int rc;

	if (c->hello_done)
		return -ZK_EPROTO;
	rc = c->ident.role == WIRE_ROLE_SAFE && !safe_admitted(r, c) ? -ZK_ENOTAUTH
								     : take_token(c, &f->u.hello.token);
	if (rc) {
		if (rc != -ZK_ENOMEM)
			audit_hello_refused(r->audit, c->ident.addr, NULL, rc, NULL);
		return rc;
	}
	/* The practice's shared rate-limit buckets, from the first frame it
	 * may route. */
	rc = practice_acquire(&r->practices, c->ident.practice, strlen(c->ident.practice),
			      uv_hrtime(), &c->practice);
	if (rc)
		return rc;
	audit_hello_accepted(r->audit, c->ident.addr, conn_audit_practice(c), conn_audit_jti(c));
	if (route_put(&r->routes, c->ident.addr, c->ident.addr_len, c, &old))
		return -ZK_ENOMEM;
	c->hello_done = 1;
	conn_settle(c);
	if (old && old != c) {
		conn_t *prev = old;
		prev->hello_done = 0; /* its route entry now belongs to c */
		zlog(ZLOG_INFO, "connection_replaced", "s", "endpoint", c->log_id);
		audit_connection_cut(r->audit, prev->ident.addr, conn_audit_practice(prev),
				     ZK_EREPLACED, conn_audit_jti(prev));
		conn_close(prev, LWS_CLOSE_STATUS_POLICY_VIOLATION, ZK_EREPLACED);
	}
	return deliver_welcome(c);
}

static int on_refresh(conn_t *c, const wire_frame_t *f)
{
	int rc;
	if (!c->hello_done)
		return -ZK_EHELLO;
	if (f->u.hello.token.len == 0)
		return -ZK_ETOKEN;
	rc = take_token(c, &f->u.hello.token);
	return rc ? rc : deliver_ack(c, 0);
}

static int on_data(conn_t *c, const wire_frame_t *f)
{
	if (!c->hello_done)
		return -ZK_EHELLO;
	deliver_data(c, f);
	return 0;
}

static int on_close(conn_t *c, const wire_frame_t *f)
{
	c->close_reason = (int)f->u.close.reason;
	return 1; /* the endpoint ends the connection; not an error */
}

/* Frames only the relay sends. */
static int on_relay_only(conn_t *c, const wire_frame_t *f)
{
	return -ZK_EPROTO;
}

static const frame_fn handlers[] = {
	[WIRE_HELLO] = on_hello,
	[WIRE_WELCOME] = on_relay_only,
	[WIRE_REFRESH] = on_refresh,
	[WIRE_ACK] = on_relay_only,
	[WIRE_NACK] = on_relay_only,
	[WIRE_CLOSE] = on_close,
	[WIRE_DATA] = on_data,
};

static void refuse(conn_t *c, int err)
{
	metrics_refused_frame(err);
	zlog(ZLOG_INFO, "frame_refused", "ss", "endpoint", c->log_id,
	     "reason", zk_err_name(err));
	conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, -err);
}

/* The frames of a message as its check decoded them, so that acting on
 * them does not decode them again. A message of more frames (rare: they
 * would be tiny) is decoded a second time instead. */
#define RX_FRAMES 64

typedef struct {
	wire_frame_t f[RX_FRAMES];
	size_t n;
	int all; /* every frame of the message is in f */
} rx_frames_t;

/* Decodes the whole message once before acting on any frame, so a
 * malformed message routes nothing. Beyond the codec's rules, a data frame
 * from an endpoint must name its destination. */
static int message_ok(const uint8_t *msg, size_t len, rx_frames_t *fr)
{
	wire_iter_t it;
	wire_frame_t f;
	size_t total = 0;
	int rc;

	fr->n = 0;
	wire_iter_init(&it, msg, len);
	while ((rc = wire_next(&it, &f)) == 1) {
		if (f.type == WIRE_DATA && f.u.data.dst.len == 0)
			return 0;
		if (fr->n < RX_FRAMES)
			fr->f[fr->n++] = f;
		total++;
	}
	fr->all = total == fr->n;
	return rc == 0;
}

/* 0 to go on, -1 when out of memory (the connection must end). */
static int dispatch(conn_t *c, const wire_frame_t *f)
{
	int rc = handlers[f->type](c, f);

	if (rc == 1)
		conn_close(c, LWS_CLOSE_STATUS_NORMAL, ZK_OK);
	else if (rc == -ZK_ENOMEM)
		return -1;
	else if (rc < 0)
		refuse(c, rc);
	return 0;
}

static int handle_message(conn_t *c, const uint8_t *msg, size_t len)
{
	rx_frames_t fr;
	wire_iter_t it;
	wire_frame_t f;

	if (!message_ok(msg, len, &fr)) {
		refuse(c, -ZK_EMALFORMED);
		return 0;
	}
	/* Its frames arrived together: one time for all of them. */
	c->relay->rx_ns = uv_hrtime();
	c->relay->rx_s = (int64_t)time(NULL);
	if (fr.all) {
		for (size_t i = 0; i < fr.n && c->state == CONN_OPEN; i++)
			if (dispatch(c, &fr.f[i]) < 0)
				return -1;
		return 0;
	}
	wire_iter_init(&it, msg, len);
	while (c->state == CONN_OPEN && wire_next(&it, &f) == 1)
		if (dispatch(c, &f) < 0)
			return -1;
	return 0;
}

static int close_now(conn_t *c, enum lws_close_status code, int reason)
{
	metrics_refused_frame(reason);
	const char *why = zk_err_name(reason);
	zlog(ZLOG_INFO, "message_refused", "ss", "endpoint", c->log_id, "reason", why);
	c->close_reason = reason;
	lws_close_reason(c->wsi, code, (unsigned char *)why, strlen(why));
	return -1;
}

static int rx_append(conn_t *c, const void *in, size_t len, size_t total_max)
{
	/* An empty fragment adds nothing (and c->rx may still be NULL). */
	if (len == 0)
		return 0;
	if (c->rx_cap - c->rx_len < len) {
		size_t want = c->rx_len + len + lws_remaining_packet_payload(c->wsi);
		if (want > total_max)
			want = total_max;
		uint8_t *p = realloc(c->rx, want);
		if (!p)
			return -1;
		c->rx = p;
		c->rx_cap = want;
	}
	memcpy(c->rx + c->rx_len, in, len);
	c->rx_len += len;
	return 0;
}

int conn_on_receive(conn_t *c, const void *in, size_t len)
{
	const size_t max = c->relay->cfg.max_message_bytes;
	size_t remaining = lws_remaining_packet_payload(c->wsi);
	int first = !c->rx_in_msg;
	int final = lws_is_final_fragment(c->wsi);
	int rc;

	conn_note_rx(c);
	if (c->state != CONN_OPEN)
		return 0; /* closing: whatever still arrives is not acted on */
	if (first && !lws_frame_is_binary(c->wsi))
		return close_now(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, ZK_ETEXT);
	/* The limit counts what has arrived, this piece and what the frame
	 * header still promises, so a huge declared length is refused before
	 * anything is buffered. Written as subtractions so nothing wraps. */
	if (len > max || c->rx_len > max - len || remaining > max - len - c->rx_len)
		return close_now(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, ZK_ETOOLARGE);
	if (first && final) { /* whole message: no copy */
		if (len == 0) {
			refuse(c, -ZK_EMALFORMED); /* an empty batch */
			return 0;
		}
		return handle_message(c, in, len);
	}
	c->rx_in_msg = 1;
	if (rx_append(c, in, len, max))
		return -1;
	if (!final)
		return 0;
	rc = c->rx_len ? handle_message(c, c->rx, c->rx_len) : (refuse(c, -ZK_EMALFORMED), 0);
	c->rx_len = 0;
	c->rx_in_msg = 0;
	/* Large messages are rare; idle connections keep no large buffer. */
	if (c->rx_cap > 16384) {
		free(c->rx);
		c->rx = NULL;
		c->rx_cap = 0;
	}
	return rc;
}
