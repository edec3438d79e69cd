#include "agent.h"

#include <openssl/crypto.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "accesslog.h"
#include "docproto.h"
#include "keyfile.h"
#include "log.h"
#include "practice.h"
#include "serve.h"
#include "store.h"
#include "zkerr.h"
#include "zkrelay.h"

/* A response waiting for room in its session's send window. */
/* Unacknowledged bytes per session. The relay queues at most
 * queue_max_bytes (1 MiB by default) for one client and nacks what a
 * data-safe sends past that rather than slow the data-safe down; a
 * window above it turns every large answer into nacks and retransmission
 * timeouts (20 MiB: 0.8 s at 768 KiB, 6 s at the SDK's default 4 MiB). */
#define SEND_WINDOW (768u << 10)

typedef struct out {
	struct out *next;
	uint8_t *msg;
	size_t len;
} out_t;

typedef struct sess {
	struct sess *prev, *next;
	struct agent *a;
	zkr_session_t *s;
	char peer[ZKR_MAX_ADDR + 1];
	uint8_t peer_key[ZKR_KEY_LEN];
	out_t *head, *tail;
} sess_t;

typedef struct agent {
	uv_loop_t loop;
	uv_signal_t sigs[2];
	size_t nsigs; /* initialised, to be closed */
	zkr_client_t *zc;
	const safecfg_t *cfg;
	practice_t practice;
	store_t store;
	hashchain_t *audit;
	serve_t sv;
	sess_t *sessions;
	int ready;    /* safe_ready logged */
	int stopping;
} agent_t;

/* Wiped: a response may hold a whole document. */
static void out_free(out_t *o)
{
	OPENSSL_cleanse(o->msg, o->len);
	free(o->msg);
	free(o);
}

static void sess_free(sess_t *x)
{
	while (x->head) {
		out_t *o = x->head;
		x->head = o->next;
		out_free(o);
	}
	if (x->prev)
		x->prev->next = x->next;
	else
		x->a->sessions = x->next;
	if (x->next)
		x->next->prev = x->prev;
	OPENSSL_cleanse(x, sizeof(*x));
	free(x);
}

/* Hands queued responses to the SDK (which copies them) until its
 * window is full; on_writable calls again. */
static void flush(sess_t *x)
{
	while (x->head) {
		out_t *o = x->head;
		int rc = zkr_session_send(x->s, o->msg, o->len, NULL);

		if (rc == -ZKR_EAGAIN)
			return;
		if (rc)
			zlog(ZLOG_WARN, "response_dropped", "ss", "client", x->peer, "error",
			     zkr_strerror(rc));
		x->head = o->next;
		if (!x->head)
			x->tail = NULL;
		out_free(o);
	}
}

static void enqueue(sess_t *x, uint8_t *msg, size_t len)
{
	out_t *o = calloc(1, sizeof(*o));

	if (!o) {
		OPENSSL_cleanse(msg, len);
		free(msg);
		zlog(ZLOG_ERROR, "response_dropped", "ss", "client", x->peer, "error",
		     "out of memory");
		return;
	}
	o->msg = msg;
	o->len = len;
	if (x->tail)
		x->tail->next = o;
	else
		x->head = o;
	x->tail = o;
}

static void on_link(zkr_client_t *c, int up, int err, void *ud)
{
	agent_t *a = ud;

	if (!up) {
		zlog(ZLOG_WARN, "relay_down", "ss", "reason", zkr_strerror(err), "relay",
		     a->cfg->host);
		return;
	}
	if (strcmp(zkr_client_address(c), a->cfg->address))
		zlog(ZLOG_ERROR, "address_mismatch", "ss", "welcomed_as", zkr_client_address(c),
		     "configured", a->cfg->address);
	/* The first welcome is what a supervisor waits for. */
	zlog(ZLOG_INFO, a->ready ? "relay_up" : "safe_ready", "s", "address", a->cfg->address);
	a->ready = 1;
}

static int on_accept(zkr_client_t *c, zkr_session_t *s, void *ud)
{
	agent_t *a = ud;
	sess_t *x = calloc(1, sizeof(*x));

	if (!x)
		return -1;
	if (zkr_session_peer_key(s, x->peer_key)) {
		free(x);
		return -1;
	}
	snprintf(x->peer, sizeof(x->peer), "%s", zkr_session_peer(s));
	x->a = a;
	x->s = s;
	x->next = a->sessions;
	if (a->sessions)
		a->sessions->prev = x;
	a->sessions = x;
	zkr_session_set_ud(s, x);
	zlog(ZLOG_INFO, "session_open", "s", "client", x->peer);
	return 0;
}

static void on_message(zkr_session_t *s, const uint8_t *msg, size_t len, void *ud)
{
	sess_t *x = zkr_session_ud(s);
	serve_peer_t peer;
	uint8_t *resp = NULL;
	size_t rlen = 0;

	if (!x)
		return;
	peer.peer = x->peer;
	peer.peer_key = x->peer_key;
	if (serve_request(&x->a->sv, &peer, msg, len, &resp, &rlen)) {
		zlog(ZLOG_ERROR, "response_dropped", "ss", "client", x->peer, "error",
		     "out of memory");
		return;
	}
	enqueue(x, resp, rlen);
	flush(x);
}

static void on_writable(zkr_session_t *s, void *ud)
{
	sess_t *x = zkr_session_ud(s);

	if (x)
		flush(x);
}

static void on_error(zkr_session_t *s, int err, void *ud)
{
	sess_t *x = zkr_session_ud(s);

	zlog(ZLOG_INFO, "session_closed", "ss", "client", x ? x->peer : zkr_session_peer(s),
	     "reason", zkr_strerror(err));
	if (!x)
		return;
	/* The SDK refused an upload over max_upload_bytes before we saw it:
	 * a refused access all the same. */
	if (err == ZKR_ETOOLARGE) {
		serve_peer_t peer = { x->peer, x->peer_key };
		serve_refused(&x->a->sv, &peer, DOCPROTO_TOO_LARGE);
	}
	sess_free(x);
}

static void on_closed(void *ud)
{
	agent_t *a = ud;

	a->zc = NULL;
	for (size_t i = 0; i < a->nsigs; i++)
		uv_close((uv_handle_t *)&a->sigs[i], NULL);
	a->nsigs = 0;
}

static void on_signal(uv_signal_t *sig, int signum)
{
	agent_t *a = sig->data;

	if (a->stopping)
		return;
	a->stopping = 1;
	zlog(ZLOG_INFO, "safe_stopping", "s", "signal", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	zkr_client_close(a->zc, on_closed, a);
}

static const zkr_callbacks_t callbacks = {
	.on_link = on_link,
	.on_accept = on_accept,
	.on_message = on_message,
	.on_writable = on_writable,
	.on_error = on_error,
};

static int start_client(agent_t *a, char *err, size_t errlen)
{
	zkr_config_t zc;
	int rc;

	zkr_config_init(&zc);
	zc.host = a->cfg->host;
	zc.port = (int)a->cfg->port;
	zc.server_name = a->cfg->server_name;
	zc.ca_file = a->cfg->ca_file;
	zc.cert_file = a->cfg->cert_file;
	zc.key_file = a->cfg->key_file;
	zc.cb = &callbacks;
	zc.ud = a;
	zc.window_bytes = SEND_WINDOW;
	/* One request may carry a whole document; nothing larger. */
	zc.max_message_bytes = (size_t)a->cfg->max_upload_bytes + DOCPROTO_PREFIX +
			       DOCPROTO_MAX_HEADER;
	rc = keyfile_read(a->cfg->static_key_file, zc.static_key, err, errlen);
	if (rc == 0 && (rc = zkr_client_new(&a->loop, &zc, &a->zc)) != 0)
		zk_errf(err, errlen, rc, "cannot set up the relay client: %s", zkr_strerror(rc));
	/* The client keeps its own copy. */
	zkr_wipe(zc.static_key, sizeof(zc.static_key));
	if (rc == 0 && (rc = zkr_client_start(a->zc)) != 0)
		zk_errf(err, errlen, rc, "cannot start the relay client: %s", zkr_strerror(rc));
	return rc;
}

static int start_signals(agent_t *a)
{
	static const int nums[2] = { SIGTERM, SIGINT };

	for (size_t i = 0; i < 2; i++) {
		if (uv_signal_init(&a->loop, &a->sigs[i]))
			return -ZK_EIO;
		a->nsigs++;
		a->sigs[i].data = a;
		if (uv_signal_start(&a->sigs[i], on_signal, nums[i]))
			return -ZK_EIO;
	}
	return 0;
}

static int open_parts(agent_t *a, char *err, size_t errlen)
{
	int rc = practice_open(a->cfg, &a->practice, err, errlen);

	if (rc)
		return rc;
	rc = store_open(a->cfg->store_dir, a->cfg->max_upload_bytes, &a->store, err, errlen);
	if (rc)
		return rc;
	rc = accesslog_open(a->cfg->audit_file, &a->audit, err, errlen);
	if (rc)
		return rc;
	a->sv = (serve_t){ a->cfg, &a->practice, &a->store, a->audit };
	return 0;
}

int agent_run(const safecfg_t *cfg, char *err, size_t errlen)
{
	agent_t *a = calloc(1, sizeof(*a));
	int rc = -ZK_ENOMEM;

	if (!a)
		return rc;
	a->cfg = cfg;
	a->store.dirfd = -1;
	/* A client that went away mid-write must not kill the agent. */
	signal(SIGPIPE, SIG_IGN);
	rc = uv_loop_init(&a->loop) ? -ZK_EIO : 0;
	if (rc)
		goto fail_loop;
	rc = open_parts(a, err, errlen);
	if (rc == 0 && (rc = start_signals(a)) != 0)
		zk_errf(err, errlen, rc, "cannot install signal handlers");
	if (rc == 0)
		rc = start_client(a, err, errlen);
	if (rc == 0)
		uv_run(&a->loop, UV_RUN_DEFAULT);
	else if (a->zc)
		zkr_client_close(a->zc, on_closed, a);
	else
		on_closed(a);
	/* On failure: let the closes above finish. */
	uv_run(&a->loop, UV_RUN_DEFAULT);
	uv_loop_close(&a->loop);
fail_loop:
	while (a->sessions)
		sess_free(a->sessions);
	hashchain_close(&a->audit);
	store_close(&a->store);
	practice_close(&a->practice);
	free(a);
	if (rc == 0)
		zlog(ZLOG_INFO, "safe_stopped", "");
	return rc;
}
