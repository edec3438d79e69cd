/* Inside libzkrelay: the client and session structures and the calls
 * between the client (sdk.c: configuration, the relay link's events, the
 * clock, the lifecycle) and its sessions (session.c: handshakes, sealing,
 * acknowledgements, retransmission). Not installed; zkrelay.h is the
 * interface.
 *
 * A data frame's stream says which session and which kind of message it
 * carries: stream = sid << 2 | kind. The sid (30 random bits, chosen by
 * the initiator for each handshake attempt) and the peer's relay address
 * name a session. Kinds: handshake message 1 and 2, a transport message
 * (a sealed record, the frame's seq its nonce), and a refusal (random
 * bytes: the responder could not or would not complete the handshake).
 * A refusal is unauthenticated; all it can do is end a handshake early,
 * which anyone able to drop frames can do anyway. */
#ifndef ZKR_SDK_H
#define ZKR_SDK_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "e2e.h"
#include "link.h"
#include "record.h"
#include "reliable.h"
#include "zkrelay.h"

struct zkr_session {
	zkr_session_t *next;
	zkr_client_t *c;
	char peer[ZKR_MAX_ADDR + 1];
	uint8_t peer_key[ZKR_KEY_LEN];
	uint32_t sid;
	int initiator, state, closed;
	e2e_t *e2e;
	rel_send_t tx;
	rel_recv_t rx;
	uint64_t created_ms, hs_next_ms;   /* handshake (initiator) */
	uint64_t rto_ms, rto_at, progress_ms;
	uint64_t cwnd, cut_at;             /* records in flight; last cut */
	uint64_t rx_ms;                    /* last authenticated record */
	unsigned unacked_rx;
	uint64_t ack_at;                   /* delayed acknowledgement due */
	uint64_t resume_at, resume_until;  /* RESUME acks after a reconnect */
	int want_writable;
	void *ud;
};

struct zkr_client {
	uv_loop_t *loop;
	zkr_config_t cfg;
	zkr_callbacks_t cb;
	char *host, *server_name, *ca_file, *cert_file, *key_file, *token;
	link_t *link;
	uv_timer_t tick;
	zkr_session_t *sessions;
	unsigned nresp;                    /* responder sessions not closed */
	size_t max_plain;
	char addr[ZKR_MAX_ADDR + 1];
	int64_t token_exp;
	int token_warned, closing, started, handles;
	void (*done)(void *ud);
	void *done_ud;
	/* What we seal (plain, sealed) and what we opened (rx_plain) are kept
	 * apart: a callback run while a received record is being taken apart
	 * (on_acked, on_progress, on_writable) may send, and must not
	 * overwrite the record's data before it is delivered. */
	uint8_t plain[RECORD_MAX_SEALED], sealed[RECORD_MAX_SEALED];
	uint8_t rx_plain[RECORD_MAX_SEALED];
};

static inline uint64_t sdk_now_ms(const zkr_client_t *c)
{
	return uv_now(c->loop);
}

/* The link is up and the client not closing. */
int sdk_link_ready(const zkr_client_t *c);

/* Session calls for the client. Each may run application callbacks;
 * afterwards check c->closing. */
/* A data frame from the relay. */
void session_on_data(zkr_client_t *c, const char *src, size_t slen, uint32_t stream,
		     uint64_t seq, const uint8_t *p, size_t n);
/* A nack from the relay. */
void session_on_nack(zkr_client_t *c, uint32_t stream, int reason);
/* The link came up again: handshakes are retried, open sessions resume. */
void session_on_link_up(zkr_client_t *c);
/* Timers: handshakes, retransmission, acknowledgements, expiry. */
void session_tick(zkr_client_t *c, uint64_t now);
/* Sends what the windows and the link take, from every session. */
void session_pump_all(zkr_client_t *c);
/* After a token change: speak first on every open session. */
void session_resume_all(zkr_client_t *c);
/* Before the client closes: the last acknowledgements, then every
 * session's keys wiped. */
void session_farewell(zkr_client_t *c);
/* Frees the sessions already closed; only where no callback is up the
 * stack. */
void session_sweep(zkr_client_t *c);

#endif
