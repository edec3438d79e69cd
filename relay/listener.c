/* The mTLS WebSocket listener: a libwebsockets context on the relay's libuv
 * loop, and the one callback that turns its reasons into conn_* calls. */
#include <libwebsockets.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "relay.h"
#include "tls.h"
#include "zkerr.h"

static relay_t *relay_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static conn_t *conn_of(struct lws *wsi)
{
	return lws_get_opaque_user_data(wsi);
}

/* Runs before libwebsockets creates a wsi for the accepted socket, so the
 * cap is enforced before any TLS work. The accepted count is handed to the
 * wsi created right after (WSI_CREATE). */
static int on_filter_network(relay_t *r, struct lws_filter_network_conn_args *a)
{
	const char *which = "draining";
	iplimit_entry_t *e;

	if (r->pending_ip) { /* the previous adoption failed before its wsi */
		iplimit_release(&r->ips, r->pending_ip);
		r->pending_ip = NULL;
	}
	if (!r->draining &&
	    iplimit_acquire(&r->ips, (const struct sockaddr *)&a->cli_addr, &e, &which) == 0) {
		r->pending_ip = e;
		return 0;
	}
	zlog(ZLOG_WARN, "connection_refused", "s", "reason", which);
	metrics.refused_conns[strcmp(which, "total") == 0    ? REFUSE_TOTAL_CAP :
			      strcmp(which, "per_ip") == 0 ? REFUSE_PER_IP_CAP :
							     REFUSE_DRAINING]++;
	return 1;
}

/* The adoption that follows WSI_CREATE resets the wsi's opaque pointer,
 * so the new conn waits in r->adopting until NEW_CLIENT_INSTANTIATED. */
static int on_wsi_create(relay_t *r, struct lws *wsi)
{
	if (!r->pending_ip)
		return 0; /* the listening socket itself */
	r->adopting = conn_new(r, wsi, r->pending_ip);
	if (!r->adopting)
		iplimit_release(&r->ips, r->pending_ip);
	r->pending_ip = NULL;
	return 0;
}

static int on_instantiated(relay_t *r, struct lws *wsi)
{
	conn_t *c = r->adopting;
	r->adopting = NULL;
	if (!c || c->wsi != wsi)
		return -1; /* out of memory at WSI_CREATE: refuse the connection */
	lws_set_opaque_user_data(wsi, c);
	return 0;
}

static int on_wsi_destroy(relay_t *r, struct lws *wsi)
{
	conn_t *c = conn_of(wsi);
	if (!c && r->adopting && r->adopting->wsi == wsi) {
		c = r->adopting; /* adoption failed before it was instantiated */
		r->adopting = NULL;
	}
	if (c) {
		lws_set_opaque_user_data(wsi, NULL);
		conn_destroy(c);
	}
	return 0;
}

static int on_load_ssl_ctx(relay_t *r, SSL_CTX *ctx)
{
	char err[512];
	r->ssl_ctx = ctx;
	if (tls_apply_profile(ctx, r->cfg.crl_file, err, sizeof(err))) {
		zlog(ZLOG_ERROR, "tls_profile_failed", "s", "error", err);
		return 1;
	}
	return 0;
}

/* len carries OpenSSL's verdict for this certificate in the chain, to
 * which tls_verify_depth() adds revocation. A non-zero return refuses it;
 * libwebsockets would otherwise let a failed client certificate through. */
static int on_verify(void *x509_ctx, size_t preverify_ok)
{
	X509_STORE_CTX *xs = x509_ctx;

	if (tls_verify_depth(preverify_ok == 1, xs))
		return 0;
	int e = X509_STORE_CTX_get_error(xs);
	zlog(ZLOG_INFO, "client_cert_refused", "sd", "reason",
	     X509_verify_cert_error_string(e), "depth", X509_STORE_CTX_get_error_depth(xs));
	return 1;
}

/* The first SSL_accept runs inside the adoption, before the conn is
 * attached (NEW_CLIENT_INSTANTIATED); a client quick enough has its whole
 * handshake done there, with the upgrade request read ahead behind it.
 * The TLS callbacks must find the conn then too, or nothing kicks it and
 * the request waits for the tick. */
static conn_t *conn_of_tls(relay_t *r, struct lws *wsi)
{
	conn_t *c = conn_of(wsi);

	if (!c && r->adopting && r->adopting->wsi == wsi)
		c = r->adopting;
	return c;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
		    void *in, size_t len)
{
	relay_t *r = relay_of(wsi);
	conn_t *c = conn_of(wsi);

	if (reason == LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION ||
	    reason == LWS_CALLBACK_SSL_INFO)
		c = conn_of_tls(r, wsi);

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return on_filter_network(r, user);
	case LWS_CALLBACK_WSI_CREATE:
		return on_wsi_create(r, wsi);
	case LWS_CALLBACK_WSI_DESTROY:
		return on_wsi_destroy(r, wsi);
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		return on_instantiated(r, wsi);
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		return on_load_ssl_ctx(r, user);
	case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
		/* The upgrade request may ride in with the handshake's last
		 * flight and sit in OpenSSL's read-ahead buffer. */
		if (c) {
			listener_kick(c);
			if (len && X509_STORE_CTX_get_error_depth(user) == 0)
				metrics_observe(&metrics.handshake,
						(double)(uv_hrtime() - c->accepted_ns) / 1e9, 1);
		}
		return on_verify(user, len);
	case LWS_CALLBACK_SSL_INFO:
		/* Handshake done: the upgrade request may already sit,
		 * undecrypted, in OpenSSL's read-ahead buffer. */
		if (c && (((struct lws_ssl_info *)in)->where & SSL_CB_HANDSHAKE_DONE)) {
			conn_tls_done(c);
			listener_kick(c);
		}
		return 0;
	case LWS_CALLBACK_HTTP:
		return -1; /* nothing is served over plain HTTP on this port */
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return c ? conn_on_filter_protocol(c) : -1;
	case LWS_CALLBACK_ESTABLISHED:
		return c ? conn_on_established(c) : -1;
	case LWS_CALLBACK_RECEIVE:
		if (!c)
			return -1;
		listener_kick(c);
		return conn_on_receive(c, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		if (c)
			conn_note_rx(c);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c ? conn_on_writeable(c) : -1;
	case LWS_CALLBACK_CLOSED:
		if (c)
			conn_on_closed(c);
		return 0;
	default:
		/* Not handled on purpose, among others
		 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE. */
		return 0;
	}
}

static int readable_now(conn_t *c)
{
	SSL *ssl = lws_get_ssl(c->wsi);
	if (c->state == CONN_CLOSING || c->state == CONN_CLOSED || c->paused_by)
		return 0;
	return ssl && SSL_has_pending(ssl);
}

/* Sends the WebSocket close (code and reason name) and lets libwebsockets
 * wait for the peer's answer; called outside any lws callback. */
static void finish_close(conn_t *c)
{
	const char *why = zk_err_name(c->close_reason);
	if (c->state != CONN_CLOSING)
		return;
	lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
			 (unsigned char *)why, strlen(why));
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
}

/* Services each marked connection whose TLS layer holds bytes, as the poll
 * would if it knew. Servicing may mark it again; it then waits for the
 * next turn, so one busy connection cannot starve the loop. */
static void on_kick_idle(uv_idle_t *h)
{
	relay_t *r = h->data;
	uint32_t budget = r->kick_count;

	while (budget-- && r->kick_head) {
		conn_t *c = r->kick_head;
		r->kick_head = c->kick_next;
		r->kick_count--;
		c->kicked = 0;
		if (c->close_ready) {
			finish_close(c);
			continue;
		}
		if (c->write_requested == WRITE_NEXT_TURN && conn_on_writeable(c)) {
			/* The socket failed: what it holds is nacked as it
			 * closes, and nothing more is read from it. */
			conn_kill(c);
			c->state = CONN_CLOSING;
			continue;
		}
		if (!readable_now(c))
			continue;
		struct lws_pollfd pfd = { .fd = lws_get_socket_fd(c->wsi),
					  .events = LWS_POLLIN, .revents = LWS_POLLIN };
		if (pfd.fd >= 0)
			lws_service_fd(r->lws, &pfd);
	}
	if (!r->kick_head && r->kick_active) {
		uv_idle_stop(&r->kick_idle);
		r->kick_active = 0;
	}
}

#define LISTENER_TX_PACKET ((16u << 20) + 65536u)

static const struct lws_protocols protocols[] = {
	{
		.name = "zkrelay.v1",
		.callback = callback,
		.per_session_data_size = 0,
		.rx_buffer_size = 4096,
		/* Without it libwebsockets sends at most rx_buffer_size
		 * (+ LWS_PRE + 4) per call and copies the rest of a message
		 * into a buffer of its own to send on later writeable turns:
		 * a 4 KiB TLS record, a system call and a poll round per
		 * 4 KiB. A bound on one send, not a buffer: nothing is
		 * allocated for it. Above the largest message a config may
		 * allow, so every message goes to SSL_write whole. */
		.tx_packet_size = LISTENER_TX_PACKET,
	},
	{ 0 }
};

static void lws_log_emit(int level, const char *line)
{
	char msg[256];
	size_t n = strlen(line);
	if (n >= sizeof(msg))
		n = sizeof(msg) - 1;
	memcpy(msg, line, n);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		n--;
	msg[n] = '\0';
	zlog(level == LLL_ERR ? ZLOG_ERROR : ZLOG_WARN, "lws", "s", "message", msg);
}

int listener_start(relay_t *r, char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	/* No validity timers: libwebsockets keeps every timer in one sorted
	 * list, so one per connection made each new connection's timeouts
	 * cost O(connections) to insert. Pings and idle hang-ups are done in
	 * conn_tick() instead. */
	static const lws_retry_bo_t no_validity = { .secs_since_valid_ping = 0,
						    .secs_since_valid_hangup = 0 };
	void *loops[1] = { r->loop };

	lws_set_log_level(getenv("ZK_LWS_DEBUG") ? 0xff : (LLL_ERR | LLL_WARN), lws_log_emit);

	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
		       LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
		       LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS |
		       LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	info.foreign_loops = loops;
	info.user = r;
	info.port = r->cfg.listen_port;
	info.iface = r->cfg.listen_addr;
	info.protocols = protocols;
	info.extensions = NULL; /* no permessage-deflate, no extension at all */
	info.ssl_cert_filepath = r->cfg.cert_file;
	info.ssl_private_key_filepath = r->cfg.key_file;
	info.ssl_ca_filepath = r->cfg.ca_file;
	info.tls1_3_plus_cipher_list = TLS_SUITES;
	info.alpn = "http/1.1";
	info.ssl_info_event_mask = SSL_CB_HANDSHAKE_DONE;
	info.server_string = "zkrelay";
	info.timeout_secs = r->cfg.tls_handshake_s;
	info.timeout_secs_ah_idle = r->cfg.upgrade_s;
	info.keepalive_timeout = (int)r->cfg.upgrade_s;
	info.retry_and_idle_policy = &no_validity;
	info.pt_serv_buf_size = 64 * 1024;
	/* fd_limit_per_thread stays unset: below the process's descriptor
	 * limit it makes libwebsockets find a connection by scanning its
	 * whole table on every event. max_connections is enforced in
	 * on_filter_network(), the descriptor limit raised in main.c. */

	r->lws = lws_create_context(&info);
	if (!r->lws) {
		snprintf(err, errlen, "cannot start the listener on %s:%d (see log)",
			 r->cfg.listen_addr, r->cfg.listen_port);
		return -ZK_EIO;
	}
	r->vhost = lws_get_vhost_by_name(r->lws, "default");
	return 0;
}

void listener_stop(relay_t *r)
{
	if (r->lws) {
		lws_context_destroy(r->lws);
		r->lws = NULL;
	}
}

void listener_kick(conn_t *c)
{
	relay_t *r = c->relay;
	if (c->kicked)
		return;
	c->kicked = 1;
	c->kick_next = r->kick_head;
	r->kick_head = c;
	r->kick_count++;
	if (!r->kick_active && uv_idle_start(&r->kick_idle, on_kick_idle) == 0)
		r->kick_active = 1;
}

void listener_unkick(conn_t *c)
{
	relay_t *r = c->relay;
	conn_t **pp = &r->kick_head;
	if (!c->kicked)
		return;
	while (*pp && *pp != c)
		pp = &(*pp)->kick_next;
	if (*pp) {
		*pp = c->kick_next;
		r->kick_count--;
	}
	c->kicked = 0;
}
