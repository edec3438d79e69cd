/* The connection from an endpoint to the relay, kept up.
 *
 * One link is one TCP connection at a time on a libuv loop: TLS 1.3 with
 * our client certificate (OpenSSL over memory BIOs, the relay verified
 * against the CA and the server name), the WebSocket upgrade with the
 * subprotocol "zkrelay.v1", then Hello with the access token and the
 * relay's Welcome. When the connection ends for any reason the link
 * reports it and connects again after a jittered exponential backoff
 * (min doubling up to max, full jitter, reset by a Welcome), until
 * link_close().
 *
 * Data frames leave in the order link_send() queued them, coalesced into
 * Batches up to the relay's max_message_bytes from the Welcome, each
 * Batch one masked binary WebSocket message. Frames still queued when the
 * connection ends are dropped: the E2E layer above resends what was not
 * acknowledged.
 *
 * Errors are negative zk_err_t (common/zkerr.h). What ended a connection
 * (the `down` callback) is a positive zk_err_t: a relay Close reason
 * (ZK_ETOKEN, ZK_ENOTAUTH, ZK_EGOINGAWAY, ...) or ZK_EUNREACHABLE (TCP),
 * ZK_ECERT (TLS or certificate), ZK_EUPGRADE, ZK_ETIMEOUT, ZK_ECLOSED
 * (the relay closed without a reason), ZK_EPROTO (the relay broke
 * RFC 6455 or sent a frame that does not decode).
 *
 * libuv does not ignore SIGPIPE: a process using a link should, or a
 * write to a connection the relay reset ends it. */
#ifndef ZKR_LINK_H
#define ZKR_LINK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "wire.h"

typedef struct link link_t;

typedef struct {
	const char *host;          /* numeric address or name */
	int port;
	const char *server_name;   /* SNI and the name verified */
	const char *ca_file, *cert_file, *key_file;
	/* A zero below picks the default in brackets. The delay before
	 * attempt n (n = 0 after a Welcome) is uniform in
	 * [min/2, min(max, min * 2^n)]. */
	unsigned backoff_min_ms, backoff_max_ms; /* [500], [30000] */
	unsigned connect_timeout_ms; /* connect to Welcome [15000] */
	size_t max_rx_message;     /* largest WebSocket message accepted [8 MiB] */
	size_t low_water;          /* `writable` once queued bytes fall below [1 MiB] */
} link_opts_t;

typedef struct {
	char practice_id[WIRE_MAX_ID + 1];
	char endpoint_id[WIRE_MAX_ID + 1];
	char addr[WIRE_MAX_ADDR + 1]; /* "<practice-id>/<endpoint-id>" */
	wire_role_t role;
	uint32_t max_message_bytes;
	uint32_t max_payload_bytes;
} link_welcome_t;

typedef struct {
	void (*up)(void *ud, const link_welcome_t *w);
	/* err as above; the link reconnects by itself afterwards. */
	void (*down)(void *ud, int err);
	/* A data frame; src is the relay's stamp. Valid during the call. */
	void (*data)(void *ud, const char *src, size_t src_len, uint32_t stream, uint64_t seq,
		     const uint8_t *p, size_t n);
	void (*nack)(void *ud, uint32_t stream, uint64_t seq, int reason);
	/* Queued bytes fell below low_water after a link_send() had pushed
	 * them above it. */
	void (*writable)(void *ud);
} link_cb_t;

/* Copies opts' strings. 0 and *out, or a negative error. */
int link_new(uv_loop_t *loop, const link_opts_t *opts, const link_cb_t *cb, void *ud,
	     link_t **out);
/* Copies token (NULL or "" for none). When up, sends it as a Refresh. */
int link_set_token(link_t *l, const char *token);
int link_start(link_t *l);
int link_is_up(const link_t *l);
const link_welcome_t *link_welcome(const link_t *l); /* NULL when down */
/* Queues one Data frame to dst. -ZK_ECLOSED when not up; -ZK_EINVAL if
 * the payload is empty or above the Welcome's max_payload_bytes. */
int link_send(link_t *l, const char *dst, uint32_t stream, uint64_t seq, const uint8_t *p,
	      size_t n);
/* Bytes queued and not yet handed to the kernel. */
size_t link_queued(const link_t *l);
/* Closes the connection (when up: the frames still queued, then a
 * WebSocket close), all handles, then calls done (may be NULL) and frees
 * l. No other callback after this. */
void link_close(link_t *l, void (*done)(void *ud), void *ud);

#endif
