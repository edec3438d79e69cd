/* The relay process: one libuv loop, one libwebsockets context on it, and
 * the state every connection shares. */
#ifndef RELAY_RELAY_H
#define RELAY_RELAY_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "iplimit.h"
#include "practice.h"
#include "privdrop.h"
#include "queue.h"
#include "registry.h"
#include "route.h"
#include "token.h"

struct lws_context;
struct lws_vhost;
typedef struct conn conn_t;

/* A generation-checked reference to a connection, safe to keep after the
 * connection is gone: conn_lookup() then returns NULL. */
typedef uint64_t conn_ref_t;

typedef struct {
	conn_t **slots;
	uint32_t *gens;
	uint32_t *free_slots;
	uint32_t nfree, cap;
} conn_slab_t;

typedef struct relay {
	config_t cfg;
	privdrop_t priv;        /* what to give up once listening (main.c) */
	uv_loop_t *loop;
	struct lws_context *lws;
	struct lws_vhost *vhost;
	void *ssl_ctx;          /* the vhost's SSL_CTX, for reloads */

	registry_t *registry;   /* swapped whole on SIGHUP */
	struct audit *audit;    /* NULL: no audit trail */
	token_rules_t rules;
	route_table_t routes;   /* address -> conn_t * (after hello) */
	conn_slab_t slab;       /* conn_ref_t -> conn_t * */
	iplimit_t ips;
	practice_table_t practices; /* per-practice rate limits (practice.h) */
	queue_pool_t pool;
	uint64_t queued_total;  /* frame bytes queued, all connections */
	/* When the message being acted on was read (rx.c): one clock reading
	 * for all of its frames' rate limits and token expiry checks. */
	uint64_t rx_ns;         /* uv_hrtime() */
	int64_t rx_s;           /* time(NULL) */

	conn_t *conns;          /* every accepted connection, for timers and drain: */
	conn_t *conns_tail;     /* unsettled first, then settled (conn_settle) */
	unsigned ticks;
	iplimit_entry_t *pending_ip; /* accepted TCP connection awaiting its wsi */
	conn_t *adopting;            /* its conn, until the wsi is instantiated */

	/* Connections whose TLS layer may hold bytes no poll will announce
	 * (see listener_kick()); serviced from an idle handle. */
	conn_t *kick_head;
	uint32_t kick_count;
	uv_idle_t kick_idle;
	int kick_active;

	uv_tcp_t ops;           /* the operations listener (ops.c) */
	int ops_open;
	struct ssl_ctx_st *ops_tls; /* NULL: plain HTTP */
	unsigned ops_clients;
	uint64_t last_tick_ms;  /* for /healthz */
	double start_time, cert_expiry;
	uint8_t log_key[32];    /* [log] pseudonymize: this run's HMAC key */

	uv_timer_t tick;
	uv_timer_t watchdog;
	uv_timer_t drain_timer;
	uv_signal_t sig_term, sig_int, sig_hup;
	int draining;
	int stopping;
	int exit_code;
} relay_t;

/* listener.c: the libwebsockets context on the relay's loop. */
int listener_start(relay_t *r, char *err, size_t errlen);
void listener_stop(relay_t *r);
/* With read-ahead on, OpenSSL may have read records that it has not yet
 * decrypted; SSL_pending() does not count them and libwebsockets 4.1.6
 * only looks at SSL_pending(), so without another packet the connection
 * would stall. Marked connections are checked with SSL_has_pending() on
 * the next loop turn and serviced as if the socket were readable. */
void listener_kick(conn_t *c);
/* Takes c off that list (it is going away). */
void listener_unkick(conn_t *c);

/* Re-checks every open connection against the current registry and cuts
 * those it no longer admits (main.c, after a reload). */
unsigned relay_recheck_access(relay_t *r);
/* relay lifecycle (main.c) */
void relay_begin_drain(relay_t *r);
void relay_maybe_finish(relay_t *r);

#endif
