/* One accepted connection, from TCP accept to the end of its wsi.
 *
 * The conn_t is created when libwebsockets creates the wsi
 * (LWS_CALLBACK_WSI_CREATE) and freed when it destroys it
 * (LWS_CALLBACK_WSI_DESTROY), the last callback a wsi gets, so nothing
 * frees a connection inside its own callback chain. Everything else keeps
 * conn_ref_t handles, never pointers. */
#ifndef RELAY_CONN_H
#define RELAY_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "ident.h"
#include "practice.h"
#include "queue.h"
#include "ratelimit.h"
#include "relay.h"
#include "token.h"

struct lws;

#define CONN_WROTE_MAX 8

enum { CONN_PING_NONE = 0, CONN_PING_DUE, CONN_PING_SENT };

typedef enum {
	CONN_TLS = 0,   /* TCP accepted, TLS handshake running */
	CONN_UPGRADE,   /* TLS done, waiting for the WebSocket upgrade */
	CONN_OPEN,      /* WebSocket open */
	CONN_CLOSING,   /* a Close frame is queued; then the socket closes */
	CONN_CLOSED,    /* LWS_CALLBACK_CLOSED seen */
} conn_state_t;

/* When a connection with something to write writes it. */
enum {
	WRITE_NEXT_TURN = 1,      /* from listener.c's kick, on the next loop turn */
	WRITE_WHEN_WRITEABLE = 2, /* once the poll says the socket has room */
};

struct conn {
	relay_t *relay;
	struct lws *wsi;
	conn_t *prev, *next;
	conn_t *kick_next; /* relay->kick_head list */
	int kicked;
	int close_ready;   /* queue flushed up to the Close frame */
	conn_ref_t ref;
	iplimit_entry_t *ip;
	uint64_t accepted_ms, tls_done_ms;
	uint64_t accepted_ns;   /* for the handshake duration histogram */
	uint64_t opened_ms;     /* WebSocket open, for the hello timeout */
	int hs_counted;         /* TLS handshake result counted */
	conn_state_t state;

	int have_ident;
	ident_t ident;
	/* The endpoint as logs name it: ident.addr itself, or with
	 * [log] pseudonymize the pseudonym in log_alias ("" until the
	 * certificate is read). A pointer, not a copy of the address: a
	 * connection keeps its conn_t as long as it lives. */
	const char *log_id;
	char log_alias[20];      /* "ep-" and 16 hex digits */
	uint8_t spki[32];       /* SHA-256 of the certificate's SPKI (token cnf) */
	int hello_done;
	int settled;            /* in the settled part of relay->conns */
	token_claims_t *token;  /* current access token, NULL if none */
	int64_t token_exp;      /* its exp claim */
	int64_t expired_at;     /* wall time routing stopped on expiry, 0 if not */

	/* Rate limits on data frames: this connection's own buckets and its
	 * practice's shared ones (held from hello on). */
	ratelimit_bucket_t rl_frames, rl_bytes;
	practice_state_t *practice;

	queue_t q;
	queue_block_t *inflight; /* last messages written, until fully sent */
	int inflight_failed;     /* a write failed: nack them at the end */
	size_t tls_left;         /* record bytes the socket has not taken yet */
	int write_requested;     /* WRITE_NEXT_TURN or WRITE_WHEN_WRITEABLE, or 0 */
	int close_code;    /* WebSocket close code once CLOSING */
	int close_reason;  /* zk_err_t */

	/* Backpressure: how many destinations hold us paused, and who is
	 * paused on our queue. */
	uint32_t paused_by;
	conn_ref_t *waiters;
	uint32_t nwaiters, waiters_cap;

	/* A message that arrived in pieces. */
	uint8_t *rx;
	size_t rx_len, rx_cap;
	int rx_in_msg;
	int rx_since_tick;       /* received since the last tick: not idle */
	uint64_t last_rx_ms;     /* last frame of any kind, for ping_s/idle_s */
	uint8_t ping_state;      /* CONN_PING_* */
	uint8_t tls_idle;        /* TLS buffers given back: the tick skips it */

	/* Destinations already audited as refused (bounded, see deliver.c). */
	uint64_t audited[8];
	uint8_t naudited;

	/* Data-safes this client has written to (they may answer). */
	conn_ref_t wrote_to[CONN_WROTE_MAX];
	uint8_t nwrote, wrote_next;
};

int conn_slab_init(conn_slab_t *s);
void conn_slab_free(conn_slab_t *s);
conn_t *conn_lookup(relay_t *r, conn_ref_t ref);

conn_t *conn_new(relay_t *r, struct lws *wsi, iplimit_entry_t *ip);
void conn_destroy(conn_t *c);

/* Callback handlers; non-zero asks libwebsockets to close the wsi. */
int conn_on_filter_protocol(conn_t *c);
int conn_on_established(conn_t *c);
int conn_on_receive(conn_t *c, const void *in, size_t len);
int conn_on_writeable(conn_t *c);
void conn_on_closed(conn_t *c);

/* Ends the connection in order: what is queued goes first, then a Close
 * frame with reason, then the WebSocket close with ws_code. */
void conn_close(conn_t *c, int ws_code, int reason);
/* For the audit trail: the practice whose data-safes the connection is
 * about (its token's issuer; NULL: its own) and its token id. */
static inline const char *conn_audit_practice(const conn_t *c)
{
	return c->token ? c->token->iss : NULL;
}
static inline const char *conn_audit_jti(const conn_t *c)
{
	return c->token ? c->token->jti : NULL;
}
/* The TLS handshake is known to have finished (counted once). */
void conn_tls_done(conn_t *c);
/* Replaces the connection's token (NULL: none); the old one is wiped. */
void conn_set_token(conn_t *c, token_claims_t *t);
/* 1 if the connection's token has expired (leeway included) at now. */
int conn_token_expired(const conn_t *c, int64_t now);
/* Drops the connection without a close handshake (timeouts, drain
 * deadline); safe to call from outside libwebsockets callbacks. */
void conn_kill(conn_t *c);
/* Deadlines (TLS handshake, upgrade, hello, token expiry), pings after
 * ping_s without traffic, the hang-up after idle_s, and giving quiet
 * connections' TLS buffers back. Without full, only the connections not
 * settled yet: with thousands of idle ones, visiting each every 100 ms
 * cost the relay more than some handshakes. */
void conn_tick(relay_t *r, uint64_t now_ms, int full);
/* The hello was accepted: the connection moves behind all unsettled ones
 * and is only visited by full ticks from now on. */
void conn_settle(conn_t *c);
/* A frame of any kind arrived: the connection is alive and busy. */
static inline void conn_note_rx(conn_t *c)
{
	c->rx_since_tick = 1;
	c->tls_idle = 0;
	c->ping_state = CONN_PING_NONE;
	c->last_rx_ms = uv_now(c->relay->loop);
}

#endif
