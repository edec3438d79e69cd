/* libzkrelay's client: configuration, the relay link's events, the clock
 * that drives the sessions (session.c), and the client's lifecycle. */
#include "sdk.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64url.h"
#include "noise.h"
#include "tokenmint.h"
#include "zkerr.h"

#define TICK_MS 20u

/* ---- errors and keys ------------------------------------------------- */

const char *zkr_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case ZKR_OK: return "success";
	case ZKR_ENOROUTE: return "the peer is unknown, offline or not permitted";
	case ZKR_ETOKEN: return "the relay refused the access token";
	case ZKR_ETOKENEXPIRED: return "the access token has expired";
	case ZKR_ENOTAUTH: return "the relay's registry does not admit this endpoint";
	case ZKR_ECERTREVOKED: return "this endpoint's certificate has been revoked";
	case ZKR_EREPLACED: return "another connection took this endpoint's address";
	case ZKR_EGOINGAWAY: return "the relay is shutting down";
	case ZKR_ERATELIMIT: return "the relay's rate limit refused a frame";
	case ZKR_ENOMEM: return "out of memory";
	case ZKR_EINVAL: return "invalid argument";
	case ZKR_EIO: return "input/output error";
	case ZKR_ECONFIG: return "configuration error";
	case ZKR_ECERT: return "TLS or certificate error (certificate, key, CA or relay name)";
	case ZKR_EUNREACHABLE: return "the relay cannot be reached";
	case ZKR_ETIMEOUT: return "timed out";
	case ZKR_EPEERKEY: return "the peer refused or failed the handshake with the pinned key";
	case ZKR_ECLOSED: return "the connection is closed";
	case ZKR_EUPGRADE: return "the relay refused the WebSocket upgrade";
	case ZKR_EAGAIN: return "the send window is full";
	case ZKR_ETOOLARGE: return "message too large";
	case ZKR_EPROTO: return "protocol violation";
	default: return zk_err_name(err);
	}
}

void zkr_wipe(void *p, size_t n)
{
	if (p && n)
		OPENSSL_cleanse(p, n);
}

int zkr_public_key(const uint8_t priv[ZKR_KEY_LEN], uint8_t pub[ZKR_KEY_LEN])
{
	if (!priv || !pub)
		return -ZKR_EINVAL;
	return noise_public_key(priv, pub, ZKR_KEY_LEN);
}

int zkr_keygen(uint8_t priv[ZKR_KEY_LEN], uint8_t pub[ZKR_KEY_LEN])
{
	int rc;

	if (!priv || !pub)
		return -ZKR_EINVAL;
	if (RAND_priv_bytes(priv, ZKR_KEY_LEN) != 1)
		return -ZKR_ENOMEM;
	rc = zkr_public_key(priv, pub);
	if (rc < 0)
		zkr_wipe(priv, ZKR_KEY_LEN);
	return rc;
}

void zkr_config_init(zkr_config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->host = "127.0.0.1";
	cfg->port = 8443;
	cfg->server_name = "localhost";
	cfg->backoff_min_ms = 100;
	cfg->backoff_max_ms = 5000;
	cfg->connect_timeout_ms = 10000;
	cfg->handshake_timeout_ms = 5000;
	cfg->retransmit_ms = 1000;
	cfg->peer_timeout_ms = 60000;
	cfg->token_margin_s = 300;
	cfg->max_message_bytes = 64u << 20;
	cfg->window_bytes = 4u << 20;
}

int sdk_link_ready(const zkr_client_t *c)
{
	return c->link && link_is_up(c->link) && !c->closing;
}

/* ---- the link's events -------------------------------------------------- */

static void link_up(void *ud, const link_welcome_t *w)
{
	zkr_client_t *c = ud;

	snprintf(c->addr, sizeof(c->addr), "%s", w->addr);
	c->max_plain = record_max_plain(w->max_payload_bytes);
	if (c->cb.on_link)
		c->cb.on_link(c, 1, 0, c->cfg.ud);
	if (!c->closing)
		session_on_link_up(c);
}

static void link_down(void *ud, int err)
{
	zkr_client_t *c = ud;

	if (c->cb.on_link && !c->closing)
		c->cb.on_link(c, 0, err, c->cfg.ud);
}

static void link_data(void *ud, const char *src, size_t slen, uint32_t stream, uint64_t seq,
		      const uint8_t *p, size_t n)
{
	session_on_data(ud, src, slen, stream, seq, p, n);
}

static void link_nack(void *ud, uint32_t stream, uint64_t seq, int reason)
{
	(void)seq; /* the stream names the session; the reason says what to do */
	session_on_nack(ud, stream, reason);
}

static void link_writable(void *ud)
{
	session_pump_all(ud);
}

/* ---- the clock ------------------------------------------------------------ */

static void tick_token(zkr_client_t *c)
{
	int64_t now = (int64_t)time(NULL);

	if (!c->token_exp || c->token_warned || now + (int64_t)c->cfg.token_margin_s < c->token_exp)
		return;
	c->token_warned = 1;
	if (c->cb.on_token_expiring)
		c->cb.on_token_expiring(c, c->token_exp, c->cfg.ud);
}

static void on_tick(uv_timer_t *t)
{
	zkr_client_t *c = t->data;

	session_sweep(c);
	session_tick(c, sdk_now_ms(c));
	if (!c->closing)
		tick_token(c);
}

/* ---- the client ----------------------------------------------------------- */

/* exp of a v4.public token, read without verifying (the relay verifies;
 * this only tells the application when to fetch a new one). 0 if it
 * cannot be read. */
static int64_t token_exp(const char *token)
{
	static const char hdr[] = "v4.public.";
	const char *body, *dot;
	uint8_t *raw = NULL;
	size_t blen, rlen;
	json_t *j = NULL;
	int64_t exp = 0;

	if (!token || strncmp(token, hdr, sizeof(hdr) - 1) != 0)
		return 0;
	body = token + sizeof(hdr) - 1;
	dot = strchr(body, '.');
	blen = dot ? (size_t)(dot - body) : strlen(body);
	raw = malloc(b64url_decoded_len(blen) + 1);
	if (!raw || b64url_decode(body, blen, raw, b64url_decoded_len(blen), &rlen) < 0 || rlen <= 64)
		goto out;
	j = json_loadb((const char *)raw, rlen - 64, 0, NULL);
	if (j && json_is_string(json_object_get(j, "exp")) &&
	    tokenmint_parse_time(json_string_value(json_object_get(j, "exp")), &exp) < 0)
		exp = 0;
out:
	json_decref(j);
	free(raw);
	return exp;
}

static char *dup_or_null(const char *s, int *bad)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*bad = 1;
	return d;
}

static void client_free(zkr_client_t *c)
{
	session_sweep(c);
	free(c->host);
	free(c->server_name);
	free(c->ca_file);
	free(c->cert_file);
	free(c->key_file);
	if (c->token)
		zkr_wipe(c->token, strlen(c->token));
	free(c->token);
	zkr_wipe(c, sizeof(*c));
	free(c);
}

/* libuv writes with write(2): a relay that closed the connection would
 * kill the process with SIGPIPE. The write fails with EPIPE instead once
 * the signal is ignored; an application that handles SIGPIPE itself has
 * set a handler, which is left alone. */
static void ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
}

int zkr_client_new(uv_loop_t *loop, const zkr_config_t *cfg, zkr_client_t **out)
{
	link_cb_t lcb = { link_up, link_down, link_data, link_nack, link_writable };
	link_opts_t lo;
	zkr_client_t *c;
	int bad = 0, rc;

	if (!loop || !cfg || !out || !cfg->cb || !cfg->ca_file || !cfg->cert_file ||
	    !cfg->key_file || cfg->port <= 0 || cfg->port > 65535 || !cfg->window_bytes ||
	    !cfg->retransmit_ms || !cfg->peer_timeout_ms || !cfg->handshake_timeout_ms)
		return -ZKR_EINVAL;
	ignore_sigpipe();
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ZKR_ENOMEM;
	c->loop = loop;
	c->cfg = *cfg;
	c->cb = *cfg->cb;
	c->cfg.cb = &c->cb;
	c->host = dup_or_null(cfg->host ? cfg->host : "127.0.0.1", &bad);
	c->server_name = dup_or_null(cfg->server_name ? cfg->server_name : "localhost", &bad);
	c->ca_file = dup_or_null(cfg->ca_file, &bad);
	c->cert_file = dup_or_null(cfg->cert_file, &bad);
	c->key_file = dup_or_null(cfg->key_file, &bad);
	c->token = dup_or_null(cfg->token ? cfg->token : "", &bad);
	c->cfg.host = c->host;
	c->cfg.server_name = c->server_name;
	c->cfg.ca_file = c->ca_file;
	c->cfg.cert_file = c->cert_file;
	c->cfg.key_file = c->key_file;
	c->cfg.token = c->token;
	c->max_plain = record_max_plain(RECORD_MAX_SEALED);
	if (bad) {
		client_free(c);
		return -ZKR_ENOMEM;
	}
	c->token_exp = token_exp(c->token);
	memset(&lo, 0, sizeof(lo));
	lo.host = c->host;
	lo.port = cfg->port;
	lo.server_name = c->server_name;
	lo.ca_file = c->ca_file;
	lo.cert_file = c->cert_file;
	lo.key_file = c->key_file;
	lo.backoff_min_ms = cfg->backoff_min_ms;
	lo.backoff_max_ms = cfg->backoff_max_ms;
	lo.connect_timeout_ms = cfg->connect_timeout_ms;
	lo.max_rx_message = 8u << 20;
	lo.low_water = 1u << 20;
	rc = link_new(loop, &lo, &lcb, c, &c->link);
	if (rc == 0)
		rc = link_set_token(c->link, c->token);
	if (rc == 0)
		rc = uv_timer_init(loop, &c->tick) < 0 ? -ZKR_EIO : 0;
	if (rc < 0) {
		if (c->link)
			link_close(c->link, NULL, NULL);
		client_free(c);
		return rc;
	}
	c->tick.data = c;
	c->handles = 1;
	*out = c;
	return 0;
}

int zkr_client_start(zkr_client_t *c)
{
	int rc;

	if (!c || c->closing || c->started)
		return -ZKR_EINVAL;
	rc = link_start(c->link);
	if (rc < 0)
		return rc;
	if (uv_timer_start(&c->tick, on_tick, TICK_MS, TICK_MS) < 0)
		return -ZKR_EIO;
	c->started = 1;
	return 0;
}

int zkr_client_set_token(zkr_client_t *c, const char *token)
{
	char *copy;
	int rc;

	if (!c || !token || c->closing)
		return -ZKR_EINVAL;
	copy = strdup(token);
	if (!copy)
		return -ZKR_ENOMEM;
	rc = link_set_token(c->link, copy);
	if (rc < 0) {
		zkr_wipe(copy, strlen(copy));
		free(copy);
		return rc;
	}
	zkr_wipe(c->token, strlen(c->token));
	free(c->token);
	c->token = copy;
	c->cfg.token = copy;
	c->token_exp = token_exp(copy);
	c->token_warned = 0;
	/* The relay lets a peer answer us only once we wrote to it under the
	 * current token: speak first, or a data-safe sending to us would be
	 * refused until we happen to. */
	session_resume_all(c);
	return 0;
}

const char *zkr_client_address(const zkr_client_t *c)
{
	return c ? c->addr : "";
}

static void finish_close(zkr_client_t *c)
{
	void (*done)(void *) = c->done;
	void *ud = c->done_ud;

	if (--c->handles > 0)
		return;
	client_free(c);
	if (done)
		done(ud);
}

static void tick_closed(uv_handle_t *h)
{
	finish_close(h->data);
}

static void link_closed(void *ud)
{
	finish_close(ud);
}

void zkr_client_close(zkr_client_t *c, void (*done)(void *ud), void *ud)
{
	if (!c || c->closing)
		return;
	session_farewell(c);
	c->closing = 1;
	c->done = done;
	c->done_ud = ud;
	zkr_wipe(c->cfg.static_key, sizeof(c->cfg.static_key));
	c->handles = 2;
	uv_timer_stop(&c->tick);
	uv_close((uv_handle_t *)&c->tick, tick_closed);
	link_close(c->link, link_closed, c);
}

