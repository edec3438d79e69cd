/* The link: connection attempts with backoff, TLS over memory BIOs on a
 * libuv stream, the WebSocket upgrade, Hello/Welcome, and the Batch send
 * queue. See link.h for the contract.
 *
 * Lifetimes. The link owns two handles (the retry timer and the flush
 * idle) and at most one live connection; a connection that ended stays
 * allocated until its two handles (TCP, timer) have closed and its name
 * lookup, if any, has come back. l->pending counts all of them, and the
 * link is freed (after `done`) when it reaches zero after link_close(),
 * always from a libuv close or request callback, never inside a call the
 * application made.
 *
 * Re-entrancy. Any application callback may call link_send(),
 * link_set_token() or link_close(). Neither frees memory nor ends a
 * connection synchronously except link_close(), which only marks and
 * starts closing; so after each callback the code checks conn_live() and
 * stops if the connection or the link is gone. */
#include "link.h"

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ws.h"
#include "zkerr.h"

/* DESIGN.md's TLS profile, the same on both ends of the connection. */
#define LINK_SUITES "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
#define LINK_GROUPS "P-256:P-384" /* P-256 first: one key share, the one the relay prefers */
#define LINK_ALPN "\x08http/1.1"

#define LINK_DEF_BACKOFF_MIN 500u
#define LINK_DEF_BACKOFF_MAX 30000u
#define LINK_DEF_CONNECT_TIMEOUT 15000u
#define LINK_DEF_MAX_RX ((size_t)8 << 20)
#define LINK_DEF_LOW_WATER ((size_t)1 << 20)
/* How long a closing connection may take to hand its last bytes (a
 * close frame) to the kernel before it is closed regardless. */
#define LINK_LINGER_MS 1000u
/* TCP keepalive: a relay that vanished without a FIN is noticed. */
#define LINK_KEEPALIVE_S 30u
#define LINK_NET_BUF 32768u
/* First allocation of a Batch; it doubles up to max_message_bytes. */
#define LINK_BATCH_START 16384u

typedef enum {
	ST_CONNECT, /* name lookup and TCP connect */
	ST_TLS,
	ST_UPGRADE, /* request sent, waiting for the 101 */
	ST_HELLO,   /* Hello sent, waiting for the Welcome */
	ST_UP,
} conn_state_t;

/* One Batch being filled or waiting to go: WS_MAX_HEADER bytes of room
 * for the frame header, then the Batch entries. */
typedef struct link_msg {
	struct link_msg *next;
	uint8_t *buf;
	size_t len, cap; /* len: Batch bytes; cap: of buf */
} link_msg_t;

typedef struct link_conn {
	link_t *l;
	uv_tcp_t tcp;
	uv_timer_t timer; /* the connect deadline, then the close linger */
	uv_connect_t connect;
	uv_getaddrinfo_t resolve;
	uv_shutdown_t shutdown;
	int refs; /* handles not yet closed, lookup not yet back */
	int resolving, ended, handles_closing;
	conn_state_t state;
	SSL *ssl;
	BIO *rbio, *wbio; /* owned by ssl */
	ws_handshake_t hs;
	uint8_t head[WS_MAX_RESPONSE];
	size_t head_len;
	ws_parser_t ws;
	int close_reason; /* from the relay's Close frame */
	uint8_t net[LINK_NET_BUF], plain[LINK_NET_BUF];
} link_conn_t;

typedef struct {
	uv_write_t req;
	link_conn_t *c;
	char data[];
} link_write_t;

struct link {
	uv_loop_t *loop;
	link_opts_t o; /* strings point to our own copies */
	link_cb_t cb;
	void *ud;
	char *token;
	size_t token_len;
	uv_timer_t retry;
	uv_idle_t flush;
	link_conn_t *conn; /* the live connection, if any */
	SSL_CTX *ctx;
	int started, closing, up, refresh, want_writable;
	unsigned attempt;
	link_welcome_t welcome;
	link_msg_t *head, *tail;
	size_t queued; /* Batch bytes in the queue */
	int pending;
	void (*done)(void *ud);
	void *done_ud;
};

static void conn_end(link_conn_t *c, int err);
static int tls_flush(link_conn_t *c);

/* ---- Small helpers ----------------------------------------------------- */

static int conn_live(const link_conn_t *c)
{
	return !c->ended && !c->l->closing;
}

/* What a connection that simply ended died of, by how far it got. */
static int end_reason(const link_conn_t *c)
{
	if (c->close_reason)
		return c->close_reason;
	switch (c->state) {
	case ST_CONNECT:
		return ZK_EUNREACHABLE;
	case ST_TLS:
		/* A relay that hangs up mid-handshake refused what we offered. */
		return ZK_ECERT;
	case ST_UPGRADE:
		return ZK_EUPGRADE;
	default:
		return ZK_ECLOSED;
	}
}

static int is_ip_literal(const char *s)
{
	unsigned char b[16];
	return uv_inet_pton(AF_INET, s, b) == 0 || uv_inet_pton(AF_INET6, s, b) == 0;
}

static void drop_queue(link_t *l)
{
	link_msg_t *m;

	while ((m = l->head) != NULL) {
		l->head = m->next;
		free(m->buf);
		free(m);
	}
	l->tail = NULL;
	l->queued = 0;
	/* The `up` that follows a reconnect is the signal to send again. */
	l->want_writable = 0;
}

static void free_token(link_t *l)
{
	if (l->token) {
		OPENSSL_cleanse(l->token, l->token_len);
		free(l->token);
	}
	l->token = NULL;
	l->token_len = 0;
}

/* ---- Freeing ----------------------------------------------------------- */

static void link_free(link_t *l)
{
	void (*done)(void *) = l->done;
	void *ud = l->done_ud;

	drop_queue(l);
	free_token(l);
	SSL_CTX_free(l->ctx);
	free((char *)l->o.host);
	free((char *)l->o.server_name);
	free((char *)l->o.ca_file);
	free((char *)l->o.cert_file);
	free((char *)l->o.key_file);
	free(l);
	if (done)
		done(ud);
}

static void link_release(link_t *l)
{
	if (--l->pending == 0 && l->closing)
		link_free(l);
}

static void link_handle_closed(uv_handle_t *h)
{
	link_release(h->data);
}

static void conn_release(link_conn_t *c)
{
	link_t *l = c->l;

	if (--c->refs > 0)
		return;
	SSL_free(c->ssl);
	ws_parser_free(&c->ws);
	OPENSSL_cleanse(c->plain, sizeof(c->plain));
	free(c);
	link_release(l);
}

static void conn_handle_closed(uv_handle_t *h)
{
	conn_release(h->data);
}

static void conn_close_handles(link_conn_t *c)
{
	if (c->handles_closing)
		return;
	c->handles_closing = 1;
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	uv_close((uv_handle_t *)&c->timer, conn_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
	conn_close_handles(req->data);
}

static void on_linger(uv_timer_t *t)
{
	conn_close_handles(t->data);
}

/* Lets what is already written (a close frame) reach the kernel first,
 * for at most LINK_LINGER_MS. */
static void conn_shut(link_conn_t *c)
{
	if (c->state > ST_CONNECT && uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > 0) {
		c->shutdown.data = c;
		if (uv_read_stop((uv_stream_t *)&c->tcp) == 0 &&
		    uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) == 0 &&
		    uv_timer_start(&c->timer, on_linger, LINK_LINGER_MS, 0) == 0)
			return;
	}
	conn_close_handles(c);
}

/* ---- Attempts and backoff ---------------------------------------------- */

/* Full jitter with a floor: uniform in [min/2, min(max, min * 2^attempt)].
 * The floor keeps a fleet of endpoints from reconnecting in the same
 * instant after a relay restart; the jitter spreads them over the rest. */
static uint64_t backoff_delay(const link_t *l)
{
	uint64_t lo = l->o.backoff_min_ms / 2, hi = l->o.backoff_min_ms;
	uint32_t r;

	for (unsigned i = 0; i < l->attempt && hi < l->o.backoff_max_ms; i++)
		hi *= 2;
	if (hi > l->o.backoff_max_ms)
		hi = l->o.backoff_max_ms;
	if (hi < lo)
		hi = lo;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		return hi;
	return lo + r % (hi - lo + 1);
}

static void attempt_begin(link_t *l);

static void on_retry(uv_timer_t *t)
{
	attempt_begin(t->data);
}

/* An attempt is over: try again later, then tell the application. */
static void attempt_over(link_t *l, int err)
{
	uint64_t delay = backoff_delay(l);

	if (l->closing)
		return;
	l->attempt++;
	if (uv_timer_start(&l->retry, on_retry, delay, 0) != 0)
		err = err ? err : ZK_EIO; /* cannot happen on an open timer */
	if (l->cb.down)
		l->cb.down(l->ud, err);
}

/* Ends c once: stops it, drops the queue, and reports err (positive). */
static void conn_end(link_conn_t *c, int err)
{
	link_t *l = c->l;

	if (c->ended)
		return;
	c->ended = 1;
	if (l->conn == c)
		l->conn = NULL;
	l->up = 0;
	l->refresh = 0;
	drop_queue(l);
	if (c->resolving)
		(void)uv_cancel((uv_req_t *)&c->resolve); /* if it already runs, its callback frees */
	(void)uv_timer_stop(&c->timer);
	conn_shut(c);
	attempt_over(l, err);
}

static int load_ctx_files(SSL_CTX *ctx, const link_opts_t *o)
{
	return SSL_CTX_load_verify_locations(ctx, o->ca_file, NULL) == 1 &&
	       SSL_CTX_use_certificate_chain_file(ctx, o->cert_file) == 1 &&
	       SSL_CTX_use_PrivateKey_file(ctx, o->key_file, SSL_FILETYPE_PEM) == 1 &&
	       SSL_CTX_check_private_key(ctx) == 1;
}

/* An encrypted key file must fail, not prompt on a terminal. */
static int no_passphrase(char *buf, int size, int rwflag, void *ud)
{
	return 0;
}

/* A fresh SSL_CTX per attempt, so certificates renewed on disk are used
 * from the next connection on. */
static int load_ctx(link_t *l)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	SSL_CTX_free(l->ctx);
	l->ctx = NULL;
	if (ctx == NULL)
		goto fail;
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, LINK_SUITES) ||
	    !SSL_CTX_set1_groups_list(ctx, LINK_GROUPS) ||
	    SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)LINK_ALPN,
				    sizeof(LINK_ALPN) - 1) != 0 ||
	    !load_ctx_files(ctx, &l->o))
		goto fail;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	l->ctx = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return -ZK_ECERT;
}

/* ---- Writing ----------------------------------------------------------- */

static void on_written(uv_write_t *req, int status);

/* Hands every TLS record OpenSSL has produced to one uv_write, which owns
 * the bytes until its callback. */
static int tls_flush(link_conn_t *c)
{
	size_t n = (size_t)BIO_ctrl_pending(c->wbio);
	link_write_t *w;
	uv_buf_t b;

	if (n == 0)
		return 0;
	if (n > (size_t)INT32_MAX || (w = malloc(sizeof(*w) + n)) == NULL)
		return -ZK_ENOMEM;
	if (BIO_read(c->wbio, w->data, (int)n) != (int)n) {
		free(w);
		return -ZK_EIO;
	}
	w->c = c;
	b = uv_buf_init(w->data, (unsigned)n);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
		free(w);
		return -ZK_ECLOSED;
	}
	return 0;
}

/* Plaintext into TLS records. A memory BIO takes everything at once. */
static int tls_put(link_conn_t *c, const uint8_t *p, size_t n)
{
	if (n > (size_t)INT32_MAX || SSL_write(c->ssl, p, (int)n) != (int)n) {
		ERR_clear_error();
		return -ZK_EIO;
	}
	return 0;
}

/* One masked frame of a message or control payload (copied). */
static int send_frame(link_conn_t *c, int op, const uint8_t *p, size_t n)
{
	uint8_t buf[WS_MAX_HEADER + WIRE_MAX_TOKEN + 64];
	buf_writer_t w;
	int rc;

	buf_writer_init(&w, buf, sizeof(buf));
	rc = ws_put_frame(&w, op, p, n);
	if (rc == 0)
		rc = tls_put(c, buf, w.len);
	OPENSSL_cleanse(buf, w.len);
	return rc;
}

/* Hello or Refresh with the current token, one Batch of one frame. */
static int send_token(link_conn_t *c, wire_type_t type)
{
	link_t *l = c->l;
	uint8_t batch[WIRE_MAX_TOKEN + 32];
	buf_writer_t w;
	int rc = -ZK_EINVAL;

	buf_writer_init(&w, batch, sizeof(batch));
	wire_put_hello(&w, type, (const uint8_t *)l->token, l->token_len);
	if (buf_writer_ok(&w))
		rc = send_frame(c, WS_OP_BINARY, batch, w.len);
	OPENSSL_cleanse(batch, sizeof(batch));
	return rc;
}

static size_t conn_unsent(const link_conn_t *c)
{
	if (c == NULL || c->state == ST_CONNECT || c->handles_closing)
		return 0;
	return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
}

static void maybe_writable(link_t *l)
{
	if (!l->want_writable || l->closing || link_queued(l) >= l->o.low_water)
		return;
	l->want_writable = 0;
	if (l->cb.writable)
		l->cb.writable(l->ud);
}

static void on_written(uv_write_t *req, int status)
{
	link_write_t *w = (link_write_t *)req;
	link_conn_t *c = w->c;

	free(w);
	if (c->ended)
		return;
	if (status < 0)
		conn_end(c, end_reason(c));
	else
		maybe_writable(c->l);
}

/* The queued Batches, each one message, one SSL_write each. */
static int send_queue(link_conn_t *c)
{
	link_t *l = c->l;
	link_msg_t *m;
	size_t start;
	int rc = 0;

	while (rc == 0 && (m = l->head) != NULL) {
		l->head = m->next;
		if (l->head == NULL)
			l->tail = NULL;
		l->queued -= m->len;
		rc = ws_frame_in_place(m->buf, m->len, WS_OP_BINARY, &start);
		if (rc == 0)
			rc = tls_put(c, m->buf + start, WS_MAX_HEADER - start + m->len);
		free(m->buf);
		free(m);
	}
	return rc;
}

/* Runs once per loop turn after link_send() or link_set_token(), so the
 * frames queued in one turn leave together. */
static void on_flush(uv_idle_t *h)
{
	link_t *l = h->data;
	link_conn_t *c = l->conn;
	int rc = 0;

	(void)uv_idle_stop(h);
	if (c == NULL || c->state != ST_UP)
		return;
	if (l->refresh) {
		l->refresh = 0;
		rc = send_token(c, WIRE_REFRESH);
	}
	if (rc == 0)
		rc = send_queue(c);
	if (rc == 0)
		rc = tls_flush(c);
	if (rc) {
		conn_end(c, rc == -ZK_ECLOSED ? end_reason(c) : -rc);
		return;
	}
	maybe_writable(l);
}

/* ---- Frames from the relay --------------------------------------------- */

typedef int (*frame_fn)(link_conn_t *c, const wire_frame_t *f);

static int slice_copy(char *dst, size_t cap, wire_slice_t s)
{
	if (s.len == 0 || s.len >= cap)
		return -ZK_EPROTO;
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return 0;
}

static int on_welcome(link_conn_t *c, const wire_frame_t *f)
{
	link_t *l = c->l;
	link_welcome_t *w = &l->welcome;

	if (c->state != ST_HELLO)
		return -ZK_EPROTO;
	memset(w, 0, sizeof(*w));
	if (slice_copy(w->practice_id, sizeof(w->practice_id), f->u.welcome.practice_id) ||
	    slice_copy(w->endpoint_id, sizeof(w->endpoint_id), f->u.welcome.endpoint_id))
		return -ZK_EPROTO;
	snprintf(w->addr, sizeof(w->addr), "%s/%s", w->practice_id, w->endpoint_id);
	w->role = f->u.welcome.role;
	w->max_message_bytes = f->u.welcome.max_message_bytes;
	w->max_payload_bytes = f->u.welcome.max_payload_bytes;
	if (w->max_payload_bytes == 0 || w->max_payload_bytes > WIRE_MAX_PAYLOAD ||
	    w->max_message_bytes < WIRE_DATA_OVERHEAD + WIRE_MAX_ADDR + 1)
		return -ZK_EPROTO;
	c->state = ST_UP;
	l->up = 1;
	l->attempt = 0;
	(void)uv_timer_stop(&c->timer);
	if (l->cb.up)
		l->cb.up(l->ud, w);
	return 0;
}

/* Ack{0} answers a Refresh; nothing else is acknowledged to endpoints. */
static int on_ack(link_conn_t *c, const wire_frame_t *f)
{
	return c->state == ST_UP ? 0 : -ZK_EPROTO;
}

static int on_nack(link_conn_t *c, const wire_frame_t *f)
{
	link_t *l = c->l;

	if (c->state != ST_UP)
		return -ZK_EPROTO;
	if (l->cb.nack)
		l->cb.nack(l->ud, f->u.nack.stream, f->u.nack.seq, (int)f->u.nack.reason);
	return 0;
}

/* The relay says why before it closes; the WebSocket close follows. */
static int on_close(link_conn_t *c, const wire_frame_t *f)
{
	if (f->u.close.reason != 0)
		c->close_reason = (int)f->u.close.reason;
	return 0;
}

static int on_data(link_conn_t *c, const wire_frame_t *f)
{
	link_t *l = c->l;

	if (c->state != ST_UP || f->u.data.src.len == 0)
		return -ZK_EPROTO;
	if (l->cb.data)
		l->cb.data(l->ud, (const char *)f->u.data.src.p, f->u.data.src.len,
			   f->u.data.stream, f->u.data.seq, f->u.data.payload.p,
			   f->u.data.payload.len);
	return 0;
}

/* Hello and Refresh go to the relay, never from it. */
static int on_endpoint_only(link_conn_t *c, const wire_frame_t *f)
{
	return -ZK_EPROTO;
}

static const frame_fn frame_handlers[] = {
	[WIRE_HELLO] = on_endpoint_only,
	[WIRE_WELCOME] = on_welcome,
	[WIRE_REFRESH] = on_endpoint_only,
	[WIRE_ACK] = on_ack,
	[WIRE_NACK] = on_nack,
	[WIRE_CLOSE] = on_close,
	[WIRE_DATA] = on_data,
};

static int on_message(link_conn_t *c, const uint8_t *p, size_t n)
{
	wire_iter_t it;
	wire_frame_t f;
	int rc;

	wire_iter_init(&it, p, n);
	while ((rc = wire_next(&it, &f)) == 1) {
		if ((size_t)f.type >= sizeof(frame_handlers) / sizeof(frame_handlers[0]) ||
		    frame_handlers[f.type] == NULL)
			return -ZK_EPROTO;
		rc = frame_handlers[f.type](c, &f);
		if (rc)
			return rc;
		if (!conn_live(c))
			return 0;
	}
	return rc == 0 ? 0 : -ZK_EPROTO;
}

/* RFC 6455 section 5.5.1: answer a close with a close (the same code),
 * then end; our TLS close_notify goes with it. */
static int on_ws_close(link_conn_t *c, const ws_event_t *ev)
{
	uint8_t buf[16];
	buf_writer_t w;

	buf_writer_init(&w, buf, sizeof(buf));
	if (ws_put_close(&w, ev->code == WS_CLOSE_NO_STATUS ? 0 : ev->code) == 0 &&
	    tls_put(c, buf, w.len) == 0) {
		(void)SSL_shutdown(c->ssl);
		(void)tls_flush(c);
	}
	conn_end(c, c->close_reason ? c->close_reason : ZK_ECLOSED);
	return 0;
}

static int on_ws_event(link_conn_t *c, const ws_event_t *ev)
{
	switch (ev->type) {
	case WS_EV_MESSAGE:
		return on_message(c, ev->p, ev->n);
	case WS_EV_PING:
		/* The relay's idle timer restarts on our pong. */
		return send_frame(c, WS_OP_PONG, ev->p, ev->n);
	case WS_EV_PONG:
		return 0;
	case WS_EV_CLOSE:
		return on_ws_close(c, ev);
	}
	return -ZK_EPROTO;
}

static int ws_input(link_conn_t *c, const uint8_t *p, size_t n)
{
	ws_event_t ev;
	size_t used;
	int rc;

	while (conn_live(c)) {
		rc = ws_parse(&c->ws, p, n, &used, &ev);
		if (rc <= 0)
			return rc == 0 ? 0 : -ZK_EPROTO;
		p += used;
		n -= used;
		rc = on_ws_event(c, &ev);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- Handshakes -------------------------------------------------------- */

static int send_upgrade(link_conn_t *c)
{
	const link_opts_t *o = &c->l->o;
	char req[2048];
	size_t n;
	int rc;

	rc = ws_request(&c->hs, o->server_name, o->port, "/", req, sizeof(req), &n);
	if (rc)
		return rc == -ZK_EINVAL ? -ZK_EUPGRADE : rc;
	c->state = ST_UPGRADE;
	return tls_put(c, (const uint8_t *)req, n);
}

/* Collects the 101 head; *used: bytes of p that belonged to it. */
static int take_response(link_conn_t *c, const uint8_t *p, size_t n, size_t *used)
{
	size_t room = sizeof(c->head) - c->head_len, k = n < room ? n : room, end = 0;
	size_t before = c->head_len;
	int rc;

	memcpy(c->head + c->head_len, p, k);
	c->head_len += k;
	rc = ws_response(&c->hs, c->head, c->head_len, &end);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		*used = n;
		return 0;
	}
	*used = end - before;
	c->state = ST_HELLO;
	return send_token(c, WIRE_HELLO);
}

static int on_plain(link_conn_t *c, const uint8_t *p, size_t n)
{
	size_t used = 0;
	int rc;

	if (c->state == ST_UPGRADE) {
		rc = take_response(c, p, n, &used);
		if (rc || c->state == ST_UPGRADE)
			return rc;
	}
	return ws_input(c, p + used, n - used);
}

/* An SSL_read() or handshake failure, as the reason the connection ends. */
static int tls_error(link_conn_t *c, int ret)
{
	int e = SSL_get_error(c->ssl, ret);

	ERR_clear_error();
	if (e == SSL_ERROR_ZERO_RETURN)
		return -end_reason(c);
	/* An alert before the upgrade answer is the relay refusing our
	 * certificate (TLS 1.3 checks it after our Finished). */
	return c->state < ST_HELLO ? -ZK_ECERT : -ZK_EPROTO;
}

static int read_plain(link_conn_t *c)
{
	int n, rc;

	while (conn_live(c)) {
		n = SSL_read(c->ssl, c->plain, (int)sizeof(c->plain));
		if (n <= 0)
			return SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_READ ? 0 : tls_error(c, n);
		rc = on_plain(c, c->plain, (size_t)n);
		if (rc)
			return rc;
	}
	return 0;
}

static int handshake_step(link_conn_t *c)
{
	int rc = SSL_do_handshake(c->ssl);

	if (rc == 1)
		return send_upgrade(c);
	if (SSL_get_error(c->ssl, rc) == SSL_ERROR_WANT_READ)
		return 0;
	return tls_error(c, rc);
}

/* New records are in rbio: advance the handshake, read what decrypts,
 * and send what OpenSSL wrote in return. */
static void tls_drive(link_conn_t *c)
{
	int rc = 0;

	if (c->state == ST_TLS)
		rc = handshake_step(c);
	if (rc == 0 && c->state != ST_TLS)
		rc = read_plain(c);
	if (rc == 0 && !c->ended)
		rc = tls_flush(c);
	if (rc && !c->ended)
		conn_end(c, rc == -ZK_ECLOSED ? end_reason(c) : -rc);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	link_conn_t *c = h->data;
	*buf = uv_buf_init((char *)c->net, sizeof(c->net));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	link_conn_t *c = s->data;

	if (c->ended || nread == 0)
		return;
	if (nread < 0) {
		conn_end(c, nread == UV_ETIMEDOUT ? ZK_EUNREACHABLE : end_reason(c));
		return;
	}
	if (BIO_write(c->rbio, c->net, (int)nread) != (int)nread) {
		conn_end(c, ZK_ENOMEM);
		return;
	}
	tls_drive(c);
}

/* SNI and the name checked: a DNS name, or an IP address (no SNI). */
static int tls_name(SSL *ssl, const char *name)
{
	if (is_ip_literal(name))
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) == 1;
	/* The name must be a DNS SAN: a subject CN never stands in for one. */
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
				       X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	return SSL_set_tlsext_host_name(ssl, name) == 1 && SSL_set1_host(ssl, name) == 1;
}

static int tls_begin(link_conn_t *c)
{
	BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());

	c->ssl = SSL_new(c->l->ctx);
	if (c->ssl == NULL || r == NULL || w == NULL) {
		BIO_free(r);
		BIO_free(w);
		return -ZK_ENOMEM;
	}
	SSL_set_bio(c->ssl, r, w); /* ssl owns both now */
	c->rbio = r;
	c->wbio = w;
	SSL_set_connect_state(c->ssl);
	if (!tls_name(c->ssl, c->l->o.server_name))
		return -ZK_ECERT;
	c->state = ST_TLS;
	return 0;
}

static void on_connected(uv_connect_t *req, int status)
{
	link_conn_t *c = req->data;
	int rc;

	if (c->ended)
		return;
	if (status < 0) {
		conn_end(c, ZK_EUNREACHABLE);
		return;
	}
	rc = tls_begin(c);
	if (rc == 0 && (uv_tcp_nodelay(&c->tcp, 1) != 0 ||
			uv_tcp_keepalive(&c->tcp, 1, LINK_KEEPALIVE_S) != 0 ||
			uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0))
		rc = -ZK_EUNREACHABLE;
	if (rc) {
		conn_end(c, -rc);
		return;
	}
	tls_drive(c);
}

static int tcp_connect(link_conn_t *c, const struct sockaddr *addr)
{
	c->connect.data = c;
	return uv_tcp_connect(&c->connect, &c->tcp, addr, on_connected) == 0 ? 0
									     : -ZK_EUNREACHABLE;
}

/* Only the first address is tried; the next attempt resolves again. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	link_conn_t *c = req->data;

	c->resolving = 0;
	if (!c->ended) {
		if (status < 0 || res == NULL || tcp_connect(c, res->ai_addr) != 0)
			conn_end(c, ZK_EUNREACHABLE);
	}
	uv_freeaddrinfo(res);
	conn_release(c);
}

static int conn_resolve(link_conn_t *c)
{
	struct addrinfo hints;
	char port[8];

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%d", c->l->o.port);
	c->resolve.data = c;
	if (uv_getaddrinfo(c->l->loop, &c->resolve, on_resolved, c->l->o.host, port, &hints) != 0)
		return -ZK_EUNREACHABLE;
	c->resolving = 1;
	c->refs++;
	return 0;
}

static int conn_dial(link_conn_t *c)
{
	const link_opts_t *o = &c->l->o;
	struct sockaddr_storage ss;

	if (uv_ip4_addr(o->host, o->port, (struct sockaddr_in *)&ss) == 0 ||
	    uv_ip6_addr(o->host, o->port, (struct sockaddr_in6 *)&ss) == 0)
		return tcp_connect(c, (const struct sockaddr *)&ss);
	return conn_resolve(c);
}

static void on_deadline(uv_timer_t *t)
{
	conn_end(t->data, ZK_ETIMEOUT);
}

static link_conn_t *conn_new(link_t *l)
{
	link_conn_t *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->l = l;
	if (uv_tcp_init(l->loop, &c->tcp) != 0) {
		free(c);
		return NULL;
	}
	/* uv_timer_init() cannot fail; the TCP handle is open already. */
	(void)uv_timer_init(l->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->refs = 2;
	l->pending++;
	ws_parser_init(&c->ws, l->o.max_rx_message);
	return c;
}

static void attempt_begin(link_t *l)
{
	link_conn_t *c;
	int rc;

	rc = load_ctx(l);
	if (rc) {
		attempt_over(l, -rc);
		return;
	}
	c = conn_new(l);
	if (c == NULL) {
		attempt_over(l, ZK_ENOMEM);
		return;
	}
	l->conn = c;
	if (l->o.connect_timeout_ms > 0 &&
	    uv_timer_start(&c->timer, on_deadline, l->o.connect_timeout_ms, 0) != 0) {
		conn_end(c, ZK_EIO);
		return;
	}
	rc = conn_dial(c);
	if (rc)
		conn_end(c, -rc);
}

/* ---- Interface --------------------------------------------------------- */

static int opts_ok(const link_opts_t *o)
{
	return o->host && o->host[0] && o->port > 0 && o->port <= 65535 && o->ca_file &&
	       o->cert_file && o->key_file &&
	       (o->backoff_max_ms == 0 || o->backoff_max_ms >= o->backoff_min_ms);
}

static int copy_opts(link_t *l, const link_opts_t *o)
{
	l->o = *o;
	if (!l->o.backoff_min_ms)
		l->o.backoff_min_ms = LINK_DEF_BACKOFF_MIN;
	if (!l->o.backoff_max_ms)
		l->o.backoff_max_ms = l->o.backoff_min_ms > LINK_DEF_BACKOFF_MAX
					      ? l->o.backoff_min_ms : LINK_DEF_BACKOFF_MAX;
	if (!l->o.connect_timeout_ms)
		l->o.connect_timeout_ms = LINK_DEF_CONNECT_TIMEOUT;
	if (!l->o.max_rx_message)
		l->o.max_rx_message = LINK_DEF_MAX_RX;
	if (!l->o.low_water)
		l->o.low_water = LINK_DEF_LOW_WATER;
	l->o.host = strdup(o->host);
	l->o.server_name = strdup(o->server_name ? o->server_name : o->host);
	l->o.ca_file = strdup(o->ca_file);
	l->o.cert_file = strdup(o->cert_file);
	l->o.key_file = strdup(o->key_file);
	return l->o.host && l->o.server_name && l->o.ca_file && l->o.cert_file && l->o.key_file
		       ? 0 : -ZK_ENOMEM;
}

int link_new(uv_loop_t *loop, const link_opts_t *opts, const link_cb_t *cb, void *ud,
	     link_t **out)
{
	link_t *l;
	int rc;

	if (loop == NULL || opts == NULL || cb == NULL || out == NULL || !opts_ok(opts))
		return -ZK_EINVAL;
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return -ZK_ENOMEM;
	l->loop = loop;
	l->cb = *cb;
	l->ud = ud;
	rc = copy_opts(l, opts);
	if (rc)
		goto fail;
	/* Neither init can fail for a valid loop. */
	(void)uv_timer_init(loop, &l->retry);
	(void)uv_idle_init(loop, &l->flush);
	l->retry.data = l->flush.data = l;
	l->pending = 2;
	*out = l;
	return 0;
fail:
	l->done = NULL;
	link_free(l);
	return rc;
}

int link_set_token(link_t *l, const char *token)
{
	size_t n = token ? strlen(token) : 0;
	char *copy = NULL;

	if (l->closing || n > WIRE_MAX_TOKEN)
		return -ZK_EINVAL;
	if (n > 0 && (copy = malloc(n + 1)) == NULL)
		return -ZK_ENOMEM;
	if (copy)
		memcpy(copy, token, n + 1);
	free_token(l);
	l->token = copy;
	l->token_len = n;
	if (l->up) {
		l->refresh = 1;
		if (uv_idle_start(&l->flush, on_flush) != 0)
			return -ZK_EIO;
	}
	return 0;
}

int link_start(link_t *l)
{
	if (l->closing || l->started)
		return -ZK_EINVAL;
	l->started = 1;
	/* The first attempt runs from the loop, so its errors, like all
	 * others, arrive in callbacks and never inside this call. */
	return uv_timer_start(&l->retry, on_retry, 0, 0) == 0 ? 0 : -ZK_EIO;
}

int link_is_up(const link_t *l)
{
	return l->up && !l->closing;
}

const link_welcome_t *link_welcome(const link_t *l)
{
	return link_is_up(l) ? &l->welcome : NULL;
}

/* The Batch to append size bytes to: the last one if it has room under
 * max_message_bytes, else a new one. */
static link_msg_t *batch_for(link_t *l, size_t size)
{
	size_t max = l->welcome.max_message_bytes, cap;
	link_msg_t *m = l->tail;
	uint8_t *b;

	if (m && m->len + size <= max) {
		if (WS_MAX_HEADER + m->len + size <= m->cap)
			return m;
		cap = m->cap - WS_MAX_HEADER;
		while (cap < m->len + size)
			cap = cap > max / 2 ? max : cap * 2;
		if ((b = realloc(m->buf, WS_MAX_HEADER + cap)) == NULL)
			return NULL;
		m->buf = b;
		m->cap = WS_MAX_HEADER + cap;
		return m;
	}
	cap = size > LINK_BATCH_START ? size : LINK_BATCH_START;
	cap = cap > max ? max : cap;
	if ((m = calloc(1, sizeof(*m))) == NULL || (m->buf = malloc(WS_MAX_HEADER + cap)) == NULL) {
		free(m);
		return NULL;
	}
	m->cap = WS_MAX_HEADER + cap;
	if (l->tail)
		l->tail->next = m;
	else
		l->head = m;
	l->tail = m;
	return m;
}

int link_send(link_t *l, const char *dst, uint32_t stream, uint64_t seq, const uint8_t *p,
	      size_t n)
{
	size_t dlen = dst ? strlen(dst) : 0, size;
	link_msg_t *m;
	buf_writer_t w;

	if (!link_is_up(l))
		return -ZK_ECLOSED;
	if (dlen == 0 || dlen > WIRE_MAX_ADDR || p == NULL || n == 0 ||
	    n > l->welcome.max_payload_bytes)
		return -ZK_EINVAL;
	size = wire_data_size(dlen, 0, stream, seq, n);
	if (size > l->welcome.max_message_bytes)
		return -ZK_EINVAL;
	if ((m = batch_for(l, size)) == NULL)
		return -ZK_ENOMEM;
	buf_writer_init(&w, m->buf + WS_MAX_HEADER + m->len, size);
	wire_put_data(&w, (const uint8_t *)dst, dlen, NULL, 0, stream, seq, p, n);
	if (!buf_writer_ok(&w) || w.len != size)
		return -ZK_EINVAL; /* cannot happen: size is wire_put_data()'s own */
	m->len += size;
	l->queued += size;
	if (link_queued(l) >= l->o.low_water)
		l->want_writable = 1;
	return uv_idle_start(&l->flush, on_flush) == 0 ? 0 : -ZK_EIO;
}

size_t link_queued(const link_t *l)
{
	return l->queued + conn_unsent(l->conn);
}

/* A WebSocket close and a TLS close_notify, sent as the connection goes. */
static void say_goodbye(link_conn_t *c)
{
	uint8_t buf[16];
	buf_writer_t w;

	buf_writer_init(&w, buf, sizeof(buf));
	if (ws_put_close(&w, WS_CLOSE_NORMAL) != 0 || tls_put(c, buf, w.len) != 0)
		return;
	(void)SSL_shutdown(c->ssl);
	(void)tls_flush(c);
}

void link_close(link_t *l, void (*done)(void *ud), void *ud)
{
	link_conn_t *c = l->conn;

	if (l->closing)
		return;
	l->closing = 1;
	l->done = done;
	l->done_ud = ud;
	if (c != NULL) {
		/* What was queued before the close still goes (a last
		 * acknowledgement, say), ahead of the close frame. */
		if (c->state == ST_UP)
			(void)send_queue(c);
		if (c->state >= ST_HELLO)
			say_goodbye(c);
		conn_end(c, ZK_ECLOSED); /* reports nothing: closing is set */
	}
	drop_queue(l);
	free_token(l);
	uv_close((uv_handle_t *)&l->retry, link_handle_closed);
	uv_close((uv_handle_t *)&l->flush, link_handle_closed);
}
