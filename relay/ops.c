#include "ops.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"
#include "zkerr.h"

typedef struct {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	relay_t *relay;
	char req[OPS_MAX_REQUEST];
	size_t len;
	char *resp;
	int closing, handles;
	/* With [ops] TLS: OpenSSL over memory BIOs, the stream carries the
	 * records; net[] receives them. */
	SSL *ssl;
	BIO *rbio, *wbio;
	char net[4096];
} ops_client_t;

typedef struct {
	uv_write_t req;
	ops_client_t *c;
	int last; /* the response's last bytes: close when written */
	char data[];
} ops_write_t;

static void client_freed(uv_handle_t *h)
{
	ops_client_t *c = h->data;
	if (--c->handles == 0) {
		c->relay->ops_clients--;
		SSL_free(c->ssl); /* frees both BIOs */
		free(c->resp);
		free(c);
	}
}

static void client_close(ops_client_t *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->tcp, client_freed);
	uv_close((uv_handle_t *)&c->timer, client_freed);
}

int ops_ready(const relay_t *r)
{
	return r->lws && r->registry && !r->draining;
}

static void snapshot(relay_t *r, metrics_now_t *now)
{
	memset(now, 0, sizeof(*now));
	for (conn_t *c = r->conns; c; c = c->next) {
		if (c->state != CONN_OPEN)
			now->conns_pending += c->state < CONN_OPEN;
		else if (c->ident.role == WIRE_ROLE_SAFE)
			now->conns_safe++;
		else
			now->conns_client++;
	}
	now->queued_bytes = r->queued_total;
	now->queue_total_max = r->cfg.queue_total_max_bytes;
	now->cert_expiry = r->cert_expiry;
	now->start_time = r->start_time;
	now->ready = ops_ready(r);
	now->version = ZK_VERSION;
}

static void tls_written(uv_write_t *w, int status)
{
	ops_write_t *ow = (ops_write_t *)w;
	if (status < 0 || ow->last)
		client_close(ow->c);
	free(ow);
}

/* Sends whatever TLS records OpenSSL has produced; last: close after. */
static int tls_flush(ops_client_t *c, int last)
{
	size_t n = (size_t)BIO_ctrl_pending(c->wbio);
	ops_write_t *ow;

	if (n == 0) {
		if (last)
			client_close(c);
		return 0;
	}
	ow = malloc(sizeof(*ow) + n);
	if (!ow || BIO_read(c->wbio, ow->data, (int)n) != (int)n) {
		free(ow);
		return -1;
	}
	ow->c = c;
	ow->last = last;
	uv_buf_t buf = uv_buf_init(ow->data, (unsigned)n);
	if (uv_write(&ow->req, (uv_stream_t *)&c->tcp, &buf, 1, tls_written)) {
		free(ow);
		return -1;
	}
	return 0;
}

static void written(uv_write_t *w, int status)
{
	client_close(w->data);
}

/* Plain: one write of the response. TLS: the response through SSL_write,
 * a close_notify, and the records out. */
static void send_response(ops_client_t *c, size_t len)
{
	uv_read_stop((uv_stream_t *)&c->tcp);
	if (c->ssl) {
		if (SSL_write(c->ssl, c->resp, (int)len) != (int)len) {
			client_close(c);
			return;
		}
		SSL_shutdown(c->ssl);
		if (tls_flush(c, 1))
			client_close(c);
		return;
	}
	uv_buf_t buf = uv_buf_init(c->resp, (unsigned)len);
	c->wr.data = c;
	if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, written))
		client_close(c);
}

static void respond(ops_client_t *c, int code, const char *ctype, const char *body, size_t blen)
{
	static const char *const texts[] = { [0] = "OK", [1] = "Not Found", [2] = "Service Unavailable" };
	const char *text = texts[code == 200 ? 0 : code == 404 ? 1 : 2];
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			 "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
			 code, text, ctype, blen);
	if (n < 0 || (size_t)n >= sizeof(hdr) || !(c->resp = malloc((size_t)n + blen))) {
		client_close(c);
		return;
	}
	memcpy(c->resp, hdr, (size_t)n);
	memcpy(c->resp + n, body, blen);
	send_response(c, (size_t)n + blen);
}

static void serve(ops_client_t *c, const char *path)
{
	relay_t *r = c->relay;
	const char *text = "text/plain; charset=utf-8";

	if (strcmp(path, "/metrics") == 0) {
		metrics_now_t now;
		char *body;
		size_t len;
		snapshot(r, &now);
		if (metrics_render(&now, &body, &len)) {
			respond(c, 503, text, "out of memory\n", 14);
			return;
		}
		respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", body, len);
		free(body);
	} else if (strcmp(path, "/healthz") == 0) {
		/* The tick runs every 100 ms; two seconds without it is a stuck loop. */
		int ok = uv_now(r->loop) - r->last_tick_ms < 2000;
		respond(c, ok ? 200 : 503, text, ok ? "ok\n" : "stalled\n", ok ? 3 : 8);
	} else if (strcmp(path, "/readyz") == 0) {
		int ok = ops_ready(r);
		respond(c, ok ? 200 : 503, text, ok ? "ready\n" : "not ready\n", ok ? 6 : 10);
	} else {
		respond(c, 404, text, "not found\n", 10);
	}
}

/* Request line "GET <path> HTTP/1.x"; the headers are read and ignored.
 * A query string is not part of any path served here. */
static void on_request(ops_client_t *c)
{
	char path[64];
	const char *sp;
	size_t n;

	if (strncmp(c->req, "GET ", 4) || !(sp = memchr(c->req + 4, ' ', c->len - 4))) {
		respond(c, 404, "text/plain; charset=utf-8", "not found\n", 10);
		return;
	}
	n = (size_t)(sp - (c->req + 4));
	if (n == 0 || n >= sizeof(path) || strncmp(sp, " HTTP/1.", 8)) {
		respond(c, 404, "text/plain; charset=utf-8", "not found\n", 10);
		return;
	}
	memcpy(path, c->req + 4, n);
	path[n] = '\0';
	serve(c, path);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	ops_client_t *c = h->data;
	if (c->ssl)
		*buf = uv_buf_init(c->net, sizeof(c->net));
	else /* one byte kept for the terminator the request parser relies on */
		*buf = uv_buf_init(c->req + c->len, (unsigned)(sizeof(c->req) - 1 - c->len));
}

static void got_bytes(ops_client_t *c, size_t n)
{
	c->len += n;
	c->req[c->len] = '\0';
	if (strstr(c->req, "\r\n\r\n"))
		on_request(c);
	else if (c->len >= sizeof(c->req) - 1)
		client_close(c); /* too large for any request served here */
}

/* Records in, handshake or plaintext out. The request buffer's bound
 * holds for the plaintext as for plain HTTP. */
static void tls_read(ops_client_t *c, const char *p, size_t n)
{
	int rc = 0;

	if (BIO_write(c->rbio, p, (int)n) != (int)n) {
		client_close(c);
		return;
	}
	if (!SSL_is_init_finished(c->ssl)) {
		rc = SSL_do_handshake(c->ssl);
		if (rc <= 0 && SSL_get_error(c->ssl, rc) != SSL_ERROR_WANT_READ) {
			tls_flush(c, 1); /* the alert, then close */
			return;
		}
		if (tls_flush(c, 0) || rc <= 0)
			return;
	}
	while (!c->closing && c->len < sizeof(c->req) - 1) {
		rc = SSL_read(c->ssl, c->req + c->len, (int)(sizeof(c->req) - 1 - c->len));
		if (rc <= 0)
			break;
		got_bytes(c, (size_t)rc);
		if (c->resp)
			return; /* answered */
	}
	if (!c->closing && !c->resp && SSL_get_error(c->ssl, rc) != SSL_ERROR_WANT_READ)
		client_close(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	ops_client_t *c = s->data;
	if (nread < 0) {
		client_close(c);
		return;
	}
	if (c->ssl)
		tls_read(c, buf->base, (size_t)nread);
	else
		got_bytes(c, (size_t)nread);
}

static void on_timeout(uv_timer_t *t)
{
	client_close(t->data);
}

static SSL *new_tls(SSL_CTX *ctx, BIO **rbio, BIO **wbio)
{
	SSL *ssl = SSL_new(ctx);
	BIO *r = BIO_new(BIO_s_mem()), *w = BIO_new(BIO_s_mem());

	if (!ssl || !r || !w) {
		SSL_free(ssl);
		BIO_free(r);
		BIO_free(w);
		return NULL;
	}
	SSL_set_bio(ssl, r, w); /* ssl owns both now */
	SSL_set_accept_state(ssl);
	*rbio = r;
	*wbio = w;
	return ssl;
}

/* TLS 1.3 with the relay's suites; a client certificate from the scraper
 * CA when one is configured. */
static int make_tls(relay_t *r, char *err, size_t errlen)
{
	const config_t *cfg = &r->cfg;
	SSL_CTX *ctx;

	if (!cfg->ops_cert_file[0] && !cfg->ops_key_file[0] && !cfg->ops_client_ca_file[0])
		return 0;
	if (!cfg->ops_cert_file[0] || !cfg->ops_key_file[0]) {
		snprintf(err, errlen, "[ops] TLS needs both tls_cert_file and tls_key_file");
		return -ZK_ECONFIG;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, TLS_SUITES) ||
	    SSL_CTX_use_certificate_chain_file(ctx, cfg->ops_cert_file) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->ops_key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (cfg->ops_client_ca_file[0]) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->ops_client_ca_file, NULL) != 1)
			goto fail;
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	r->ops_tls = ctx;
	return 0;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	snprintf(err, errlen, "[ops] TLS: cannot load %s / %s / %s", cfg->ops_cert_file,
		 cfg->ops_key_file, cfg->ops_client_ca_file[0] ? cfg->ops_client_ca_file : "-");
	return -ZK_ECONFIG;
}

static void on_connection(uv_stream_t *server, int status)
{
	relay_t *r = server->data;
	ops_client_t *c;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->relay = r;
	uv_tcp_init(r->loop, &c->tcp);
	uv_timer_init(r->loop, &c->timer);
	c->tcp.data = c->timer.data = c;
	c->handles = 2;
	r->ops_clients++;
	if (r->ops_tls && !(c->ssl = new_tls(r->ops_tls, &c->rbio, &c->wbio))) {
		client_close(c);
		return;
	}
	if (uv_accept(server, (uv_stream_t *)&c->tcp) || r->ops_clients > OPS_MAX_CLIENTS ||
	    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) ||
	    uv_timer_start(&c->timer, on_timeout, OPS_TIMEOUT_MS, 0))
		client_close(c);
}

int ops_start(relay_t *r, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int rc;

	if (r->cfg.ops_port == 0)
		return 0;
	if (make_tls(r, err, errlen))
		return -ZK_ECONFIG;
	if (uv_ip4_addr(r->cfg.ops_addr, r->cfg.ops_port, (struct sockaddr_in *)&ss) &&
	    uv_ip6_addr(r->cfg.ops_addr, r->cfg.ops_port, (struct sockaddr_in6 *)&ss)) {
		snprintf(err, errlen, "[ops] listen: %s is not a numeric address", r->cfg.ops_addr);
		return -ZK_ECONFIG;
	}
	uv_tcp_init(r->loop, &r->ops);
	r->ops.data = r;
	r->ops_open = 1;
	rc = uv_tcp_bind(&r->ops, (struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&r->ops, 64, on_connection);
	if (rc) {
		snprintf(err, errlen, "[ops] listen %s:%d: %s", r->cfg.ops_addr, r->cfg.ops_port,
			 uv_strerror(rc));
		return -ZK_EIO;
	}
	return 0;
}

static void ops_closed(uv_handle_t *h) { (void)h; }

void ops_stop(relay_t *r)
{
	if (r->ops_open) {
		r->ops_open = 0;
		uv_close((uv_handle_t *)&r->ops, ops_closed);
	}
	/* Clients still open hold references; OpenSSL counts them. */
	SSL_CTX_free(r->ops_tls);
	r->ops_tls = NULL;
}
