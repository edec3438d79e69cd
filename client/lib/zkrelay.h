/* libzkrelay: the endpoint side of zkrelay.
 *
 * A zkr_client_t is one endpoint (a data-safe or a client) on a libuv
 * loop. It keeps one mutually authenticated TLS 1.3 WebSocket connection
 * to the relay up (reconnecting with jittered exponential backoff), and
 * runs end-to-end sessions over it: Noise_IK_25519_AESGCM_SHA256 to a peer
 * whose static public key the caller pinned at enrollment.
 *
 * Everything a session sends is sealed: there is no call that puts a
 * payload on the wire without encrypting it first, and no option that
 * turns that off. A message of any size is cut into records, each padded
 * to a fixed bucket size (so the relay sees sizes only to the bucket) and
 * sealed into one Noise transport message of at most 65535 bytes.
 * Records carry sequence numbers and cumulative acknowledgements end to
 * end: what the relay loses (a restart, a nack) is sent again, after a
 * reconnect too, and the receiver hands each message to the application
 * exactly once, whole and in order.
 *
 * Threading: everything runs on the loop's thread; callbacks are called
 * from the loop. Functions return 0 or a negative zkr_err_t.
 *
 * Signals: the first zkr_client_new() sets SIGPIPE to SIG_IGN if it is
 * at its default, so a connection the relay closed fails a write instead
 * of ending the process.
 *
 * Sessions live as long as the client process: if the peer process
 * restarts, its session state is gone and messages not yet acknowledged
 * fail with ZKR_ETIMEOUT; open a new session and send again. */
#ifndef ZKRELAY_H
#define ZKRELAY_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define ZKR_KEY_LEN 32u    /* X25519 public and private keys */
#define ZKR_MAX_ADDR 129u  /* "<practice-id>/<endpoint-id>" */

/* Errors. 1..18 are the relay's reason codes (proto/zkrelay.proto). */
typedef enum {
	ZKR_OK = 0,
	ZKR_ENOROUTE = 1,        /* peer unknown, offline or not permitted */
	ZKR_EMALFORMED = 2,
	ZKR_ETOOLARGE = 3,
	ZKR_EHELLO = 4,
	ZKR_EPROTO = 5,
	ZKR_EQUEUEFULL = 6,
	ZKR_EBUSY = 7,
	ZKR_EUNDELIVERED = 8,
	ZKR_EGOINGAWAY = 9,
	ZKR_EREPLACED = 10,
	ZKR_EIDLE = 11,
	ZKR_ETOKEN = 12,         /* the relay refused the access token */
	ZKR_ETOKENEXPIRED = 13,
	ZKR_EPLAINTEXT = 14,
	ZKR_ERATELIMIT = 15,
	ZKR_ETEXT = 16,
	ZKR_ECERTREVOKED = 17,
	ZKR_ENOTAUTH = 18,       /* the registry does not admit this endpoint */
	ZKR_ENOMEM = 100,
	ZKR_EINVAL = 101,
	ZKR_EIO = 102,
	ZKR_ECONFIG = 103,
	ZKR_ECERT = 104,         /* certificate, key or CA file, or TLS verification */
	ZKR_EUNREACHABLE = 105,  /* the relay cannot be reached */
	ZKR_ETIMEOUT = 106,
	ZKR_EPEERKEY = 107,      /* handshake refused or failed: wrong pinned key,
				  * or a peer that does not accept us (a refusal
				  * is not authenticated: the relay could forge
				  * one, as it could drop the handshake) */
	ZKR_ECLOSED = 108,
	ZKR_EUPGRADE = 109,
	ZKR_EAGAIN = 110,        /* send queue full: wait for on_writable */
} zkr_err_t;

/* A short English sentence for err (either sign); never NULL. */
const char *zkr_strerror(int err);

typedef struct zkr_client zkr_client_t;
typedef struct zkr_session zkr_session_t;

typedef struct {
	/* The connection to the relay came up (the relay welcomed us) or went
	 * down. err says why it went down (0 when up); the client keeps
	 * reconnecting until zkr_client_close(), so an application that
	 * wants to give up (a CLI on ZKR_ETOKEN, ZKR_ECERT, ...) closes it. */
	void (*on_link)(zkr_client_t *c, int up, int err, void *ud);
	/* Responder side: a peer finished a handshake to us. The relay
	 * authenticated its address (zkr_session_peer), the handshake its
	 * static key (zkr_session_peer_key). Return 0 to keep the session,
	 * anything else to drop it. NULL: sessions are refused. A responder
	 * keeps at most 16 sessions per peer address and 4096 in all, and
	 * ends (on_error ZKR_ETIMEOUT) one its peer has not used for
	 * peer_timeout_ms with nothing left to send. */
	int (*on_accept)(zkr_client_t *c, zkr_session_t *s, void *ud);
	/* Initiator side: the handshake to the pinned key completed. */
	void (*on_open)(zkr_session_t *s, void *ud);
	/* One whole message, exactly once, in the order it was sent. The
	 * bytes are valid during the call only. */
	void (*on_message)(zkr_session_t *s, const uint8_t *msg, size_t len, void *ud);
	/* The peer acknowledged message msg_id (as returned by send). */
	void (*on_acked)(zkr_session_t *s, uint64_t msg_id, void *ud);
	/* Transfer progress of the message being received (done of total
	 * bytes, in=1) or acknowledged (in=0). May be NULL. */
	void (*on_progress)(zkr_session_t *s, int in, uint64_t done, uint64_t total, void *ud);
	/* The session's send window has room again after ZKR_EAGAIN. */
	void (*on_writable)(zkr_session_t *s, void *ud);
	/* The session failed closed (ZKR_EPEERKEY, ZKR_ETIMEOUT, ...), or,
	 * with ZKR_ECLOSED, an accepted session was dropped to make room:
	 * a responder keeps at most 16 sessions per peer address, the
	 * oldest goes. The session is freed after this returns; do not use
	 * it again. */
	void (*on_error)(zkr_session_t *s, int err, void *ud);
	/* The access token expires at exp (Unix seconds) within
	 * token_margin_s: call zkr_client_set_token() with a new one. */
	void (*on_token_expiring)(zkr_client_t *c, int64_t exp, void *ud);
} zkr_callbacks_t;

typedef struct {
	const char *host;          /* relay: numeric address or name; "127.0.0.1" */
	int port;                  /* 8443 */
	const char *server_name;   /* SNI and the name verified; "localhost" */
	const char *ca_file;       /* the relay CA (PEM); required */
	const char *cert_file;     /* this endpoint's certificate (PEM); required */
	const char *key_file;      /* its private key (PEM); required */
	const char *token;         /* access token; NULL or "" for a data-safe */
	uint8_t static_key[ZKR_KEY_LEN]; /* our X25519 static private key */
	unsigned backoff_min_ms;   /* first reconnect delay: 100 */
	unsigned backoff_max_ms;   /* reconnect delay cap: 5000 */
	unsigned connect_timeout_ms;   /* TCP+TLS+upgrade+welcome: 10000 */
	unsigned handshake_timeout_ms; /* E2E handshake answer: 5000 */
	unsigned retransmit_ms;    /* first retransmission timeout: 1000 */
	unsigned peer_timeout_ms;  /* no acknowledgement progress: 60000 */
	unsigned token_margin_s;   /* on_token_expiring this early: 300 */
	size_t max_message_bytes;  /* largest message received: 64 MiB */
	size_t window_bytes;       /* most bytes on the way per session: 4 MiB (the
				    * window starts at 512 KiB, grows by one
				    * record per acknowledgement, halves when
				    * the relay refuses frames for a full queue) */
	const zkr_callbacks_t *cb;
	void *ud;
} zkr_config_t;

/* The defaults above; static_key zero (must be set). */
void zkr_config_init(zkr_config_t *cfg);

/* Copies cfg (strings included). The client does nothing until started. */
int zkr_client_new(uv_loop_t *loop, const zkr_config_t *cfg, zkr_client_t **out);
int zkr_client_start(zkr_client_t *c);
/* A new access token: used for every later hello and, when connected,
 * sent at once as a refresh. */
int zkr_client_set_token(zkr_client_t *c, const char *token);
/* Our address as the relay welcomed it ("" before the first welcome). */
const char *zkr_client_address(const zkr_client_t *c);
/* Ends every session and the connection, closes the libuv handles, then
 * calls done (may be NULL) and frees c. No callback but done runs after
 * this call. */
void zkr_client_close(zkr_client_t *c, void (*done)(void *ud), void *ud);

/* Starts a session to peer_addr ("<practice-id>/<endpoint-id>") whose
 * static public key is peer_key. Messages may be sent at once; they wait
 * for the handshake. If the peer cannot prove peer_key, on_error reports
 * ZKR_EPEERKEY and nothing was sent to it but the handshake. */
int zkr_session_open(zkr_client_t *c, const char *peer_addr, const uint8_t peer_key[ZKR_KEY_LEN],
		     zkr_session_t **out);
/* Queues one message (copied; any size up to max_message_bytes, which
 * the peer must accept too), sealed before it leaves. *msg_id (may be
 * NULL) names it in on_acked. ZKR_ETOOLARGE: above max_message_bytes.
 * ZKR_EAGAIN: the messages queued and not yet acknowledged would pass
 * max_message_bytes; wait for on_writable (all acknowledged). At most
 * window_bytes of them are on the way at once. */
int zkr_session_send(zkr_session_t *s, const void *msg, size_t len, uint64_t *msg_id);
/* Bytes queued or sent and not yet acknowledged. */
size_t zkr_session_pending(const zkr_session_t *s);
/* The peer's address as the relay stamped it. */
const char *zkr_session_peer(const zkr_session_t *s);
int zkr_session_peer_key(const zkr_session_t *s, uint8_t out[ZKR_KEY_LEN]);
zkr_client_t *zkr_session_client(const zkr_session_t *s);
void zkr_session_set_ud(zkr_session_t *s, void *ud);
void *zkr_session_ud(const zkr_session_t *s);
/* Forgets the session at once (unacknowledged messages are dropped
 * without on_error); its keys are wiped. */
void zkr_session_close(zkr_session_t *s);

/* A fresh X25519 key pair, and the public half of a private key. */
int zkr_keygen(uint8_t priv[ZKR_KEY_LEN], uint8_t pub[ZKR_KEY_LEN]);
int zkr_public_key(const uint8_t priv[ZKR_KEY_LEN], uint8_t pub[ZKR_KEY_LEN]);
/* Overwrites n bytes in a way the compiler keeps. */
void zkr_wipe(void *p, size_t n);

#endif
