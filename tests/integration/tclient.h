/* A blocking zkrelay test client: TCP, TLS (OpenSSL 3), the WebSocket
 * upgrade and framing (RFC 6455), and the zkrelay Batch/Frame layer.
 *
 * It is written for tests, not for use: every step can be run on its own
 * (TCP only, TLS without upgrade, raw bytes, a frame header that declares a
 * length it never sends), so a test controls every byte the relay sees.
 * Nothing here is shared with the relay or the SDK, so a bug in either
 * cannot hide behind the same bug here.
 *
 * Every call that waits is bounded: by opts.timeout_ms or by an explicit
 * timeout. Functions return 0 or a negative tclient_err_t; the reason as
 * text is in tclient_error(). One tclient_t is used by one thread at a
 * time; separate clients may run in separate threads.
 *
 * The first tclient_new() sets SIGPIPE to SIG_IGN in the calling process,
 * so a write to a connection the relay has closed returns an error instead
 * of killing the test. */
#ifndef ZK_TCLIENT_H
#define ZK_TCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "zkrelay.pb-c.h"

#define TCLIENT_SUBPROTOCOL "zkrelay.v1"

typedef enum {
	TCLIENT_OK = 0,
	TCLIENT_ETCP = -1,       /* TCP connect failed */
	TCLIENT_ETLS = -2,       /* handshake failed or a TLS alert arrived */
	TCLIENT_EUPGRADE = -3,   /* HTTP status not 101, or a bad 101 */
	TCLIENT_ETIMEOUT = -4,
	TCLIENT_ECLOSED = -5,    /* close frame received or connection ended */
	TCLIENT_EPROTO = -6,     /* the relay broke RFC 6455 */
	TCLIENT_EDECODE = -7,    /* a received message is not a Batch */
	TCLIENT_EUNEXPECTED = -8,/* a frame other than the one waited for */
	TCLIENT_EINVAL = -9,
	TCLIENT_ENOMEM = -10,
	TCLIENT_EIO = -11,       /* write failed */
} tclient_err_t;

/* WebSocket opcodes (RFC 6455 section 5.2). */
enum {
	TCLIENT_OP_CONT = 0x0,
	TCLIENT_OP_TEXT = 0x1,
	TCLIENT_OP_BINARY = 0x2,
	TCLIENT_OP_CLOSE = 0x8,
	TCLIENT_OP_PING = 0x9,
	TCLIENT_OP_PONG = 0xa,
};

/* Close code recorded when the connection ended without a close frame. */
#define TCLIENT_CLOSE_ABNORMAL 1006
/* Close code recorded for a close frame without a status code. */
#define TCLIENT_CLOSE_NO_STATUS 1005

struct ssl_ctx_st;
struct x509_st;
struct evp_pkey_st;

typedef struct {
	const char *host;          /* numeric address; default "127.0.0.1" */
	int port;
	const char *server_name;   /* SNI and the name verified; "localhost" */
	const char *ca_file;       /* verifies the relay; NULL: no verification */
	const char *cert_file;     /* NULL: no client certificate */
	const char *key_file;
	int min_version;           /* TLS1_3_VERSION unless set */
	int max_version;           /* TLS1_3_VERSION unless set */
	const char *path;          /* request target; default "/" */
	const char *subprotocol;   /* Sec-WebSocket-Protocol; NULL omits it */
	const char *extra_headers; /* whole header lines, each ending "\r\n" */
	int timeout_ms;            /* bound of each blocking step; 5000 */
	int sndbuf;                /* SO_SNDBUF before connect; 0: default */
	int rcvbuf;                /* SO_RCVBUF before connect; 0: default */
	/* Many connections (load tests): a caller-owned context shared by
	 * every client that names it, used as it is (the version, CA and
	 * file options above do not apply to it), and this connection's
	 * certificate and key in memory. The caller keeps all three alive
	 * until the client is freed; the client takes references only. */
	struct ssl_ctx_st *ssl_ctx;
	struct x509_st *cert;
	struct evp_pkey_st *key;
} tclient_opts_t;

typedef struct tclient tclient_t;

/* Defaults as documented above, subprotocol "zkrelay.v1". */
void tclient_opts_init(tclient_opts_t *o);

/* Copies every string in opts. NULL only when out of memory. */
tclient_t *tclient_new(const tclient_opts_t *opts);
/* Closes the socket without a close handshake and frees everything. */
void tclient_free(tclient_t *c);

/* Connection steps. tclient_connect() runs all three; each step runs the
 * ones before it if they have not run yet. */
int tclient_connect_tcp(tclient_t *c);
int tclient_connect_tls(tclient_t *c);
int tclient_connect(tclient_t *c);

const char *tclient_error(const tclient_t *c);
/* HTTP status of the upgrade response, 0 if none arrived. */
int tclient_http_status(const tclient_t *c);
/* Value of a response header of the upgrade (name case-insensitive), or
 * NULL. Valid until tclient_free(). */
const char *tclient_response_header(const tclient_t *c, const char *name);
/* The negotiated TLS version (e.g. TLS1_3_VERSION), 0 before the handshake. */
int tclient_tls_version(const tclient_t *c);
int tclient_fd(const tclient_t *c);
/* TCP_CORK on (1) or off (0): while corked, the writes that follow (each
 * its own TLS record) leave in as few segments as possible when uncorked,
 * so the relay reads several records at once. */
int tclient_cork(tclient_t *c, int on);

/* --- WebSocket layer ------------------------------------------------- */

/* One whole message in one frame, masked. */
int tclient_send_msg(tclient_t *c, int opcode, const void *p, size_t n);
/* One frame with the given FIN bit, masked (fragmented messages). */
int tclient_send_frame(tclient_t *c, int opcode, int fin, const void *p, size_t n);
/* Only a masked frame header that declares len payload bytes, no body. */
int tclient_send_frame_header(tclient_t *c, int opcode, int fin, uint64_t len);
/* Bytes as they are, through TLS (or TCP before the handshake). */
int tclient_send_raw(tclient_t *c, const void *p, size_t n);
/* A close frame with a status code; does not wait for the answer. */
int tclient_send_close(tclient_t *c, uint16_t code);

/* Receives one whole data message: reassembles fragments, answers pings,
 * and on a close frame answers it, records its code and returns
 * TCLIENT_ECLOSED. *p stays valid until the next receiving call. */
int tclient_recv_msg(tclient_t *c, int timeout_ms, int *opcode,
		     const uint8_t **p, size_t *n);
/* The peer's close code (TCLIENT_CLOSE_ABNORMAL if the connection ended
 * without one), or 0 while the connection is open. */
int tclient_close_code(const tclient_t *c);
/* 1 once the connection has ended (close frame or end of stream). */
int tclient_closed(const tclient_t *c);
/* Waits up to timeout_ms for the relay to end the connection, discarding
 * anything that arrives. Works at every step (TCP, TLS, WebSocket).
 * 0: it ended; TCLIENT_ETIMEOUT: still open. */
int tclient_wait_closed(tclient_t *c, int timeout_ms);

/* Reads raw bytes (decrypted once TLS is up) into buf until the
 * connection ends, cap - 1 bytes have arrived or timeout_ms passes; buf is
 * NUL-terminated, *n bytes long. 0: it ended; TCLIENT_ETIMEOUT: still
 * open. For answers to hand-made requests before any upgrade. */
int tclient_recv_raw(tclient_t *c, int timeout_ms, char *buf, size_t cap, size_t *n);

/* --- zkrelay layer ----------------------------------------------------- */

typedef struct {
	const char *dst;           /* NULL omits the field */
	const char *src;           /* NULL omits it; the relay must ignore it */
	uint32_t stream;
	uint64_t seq;
	const uint8_t *payload;
	size_t len;
} tclient_data_t;

/* One Batch holding the given frames, one binary message. */
int tclient_send_frames(tclient_t *c, Zkrelay__V1__Frame *const *frames, size_t n);
/* Batch{Hello{token}}; token may be "" (NULL means ""). */
int tclient_send_hello(tclient_t *c, const char *token);
/* Sends hello and waits for the next frame, which must be Welcome.
 * *welcome (may be NULL) is valid until the next receiving call. */
int tclient_hello(tclient_t *c, const char *token, const Zkrelay__V1__Welcome **welcome);
int tclient_send_data(tclient_t *c, const char *dst, uint32_t stream, uint64_t seq,
		      const uint8_t *payload, size_t len);
/* Batch of n Data frames in one message. */
int tclient_send_batch(tclient_t *c, const tclient_data_t *d, size_t n);
/* Bytes of one binary message holding Batch{d[0..n)}: malloc'd, or NULL. */
uint8_t *tclient_pack_batch(const tclient_data_t *d, size_t n, size_t *len);

/* The next Frame: from the Batch already received, else from the next
 * binary message. A Close frame is returned like any other frame (the
 * WebSocket close usually follows; the next call reports it).
 * *out is valid until the next receiving call. */
int tclient_next_frame(tclient_t *c, int timeout_ms, const Zkrelay__V1__Frame **out);
/* The raw bytes of the message the last frame came from. */
const uint8_t *tclient_last_msg(const tclient_t *c, size_t *len);
/* Frames received in the current message not yet handed out. */
size_t tclient_frames_buffered(const tclient_t *c);

/* Name of a frame's body case ("data", "nack", ...) for messages. */
const char *tclient_frame_name(const Zkrelay__V1__Frame *f);

#endif
