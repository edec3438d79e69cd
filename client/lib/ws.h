/* The client side of RFC 6455, as bytes in and bytes out: no sockets, no
 * TLS, no event loop. The link (link.c) moves the bytes.
 *
 * zkrelay.v1 carries binary messages only, so this side is strict where
 * the RFC allows choice: the 101 response must name the subprotocol
 * "zkrelay.v1" exactly and no extension; a text message, a masked server
 * frame, a reserved bit, an unknown opcode, a control frame over 125 bytes
 * or fragmented, a length not in its shortest form or with the top bit
 * set, and a message above the caller's cap are all protocol errors. */
#ifndef ZKR_WS_H
#define ZKR_WS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define WS_SUBPROTOCOL "zkrelay.v1"
/* Longest client frame header: 2 + 8 (64-bit length) + 4 (mask). */
#define WS_MAX_HEADER 14u
/* Longest 101 response head accepted, "\r\n\r\n" included. */
#define WS_MAX_RESPONSE 4096u
#define WS_MAX_CONTROL 125u
#define WS_KEY_LEN 24u    /* base64 of 16 random bytes */
#define WS_ACCEPT_LEN 28u /* base64 of a SHA-1 digest */

enum {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

/* Close codes (RFC 6455 section 7.4.1). */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_NO_STATUS 1005 /* a close frame without a code */

/* ---- Opening handshake (section 4.1) --------------------------------- */

typedef struct {
	char key[WS_KEY_LEN + 1];
	char accept[WS_ACCEPT_LEN + 1]; /* what the server must answer */
} ws_handshake_t;

/* base64(SHA-1(key + the RFC's GUID)) into out (NUL-terminated). 0 or
 * -ZK_EIO. */
int ws_accept(const char *key, char out[WS_ACCEPT_LEN + 1]);

/* Writes the upgrade request for host:port and path into out (cap bytes)
 * with a fresh random key, which hs keeps for ws_response(). host is a
 * DNS name or an IP literal; port 443 is left out of the Host header.
 * 0 and *len; -ZK_EINVAL for a host or path with characters that have no
 * place in a request line or header, or a cap too small; -ZK_EIO if no
 * random bytes. */
int ws_request(ws_handshake_t *hs, const char *host, int port, const char *path, char *out,
	       size_t cap, size_t *len);

/* Judges the response head in p[0..n), the bytes received so far.
 * 1: a valid 101, *used = the length of its head (what follows is frames);
 * 0: incomplete, read more; -ZK_EUPGRADE: refused or malformed, or no end
 * of head within WS_MAX_RESPONSE bytes. */
int ws_response(const ws_handshake_t *hs, const uint8_t *p, size_t n, size_t *used);

/* ---- Client frames (section 5.2, 5.3) -------------------------------- */

/* Header length of a masked frame of n payload bytes: 6, 8 or 14. */
size_t ws_header_len(size_t n);

/* Frames n payload bytes that the caller placed at buf + WS_MAX_HEADER
 * as one final masked frame of opcode: writes the header into the room
 * just before them and masks them in place with a fresh random key. The
 * frame is buf[*start .. WS_MAX_HEADER + n). 0, -ZK_EINVAL (bad opcode,
 * or a control frame over 125 bytes) or -ZK_EIO (no random bytes). */
int ws_frame_in_place(uint8_t *buf, size_t n, int opcode, size_t *start);

/* Appends one final masked frame of opcode carrying a copy of p[0..n).
 * All or nothing; 0, -ZK_EINVAL (also when w has no room) or -ZK_EIO. */
int ws_put_frame(buf_writer_t *w, int opcode, const uint8_t *p, size_t n);

/* A close frame with code (0: none, as when echoing a close that had
 * none). */
int ws_put_close(buf_writer_t *w, uint16_t code);

/* ---- Server frames --------------------------------------------------- */

typedef enum {
	WS_EV_MESSAGE = 1, /* a whole binary message */
	WS_EV_PING,        /* answer with a pong carrying the same bytes */
	WS_EV_PONG,
	WS_EV_CLOSE,       /* answer with a close; nothing may follow */
} ws_event_type_t;

typedef struct {
	ws_event_type_t type;
	const uint8_t *p; /* message or control payload */
	size_t n;
	uint16_t code;    /* WS_EV_CLOSE: its code, or WS_CLOSE_NO_STATUS */
} ws_event_t;

typedef struct {
	size_t max_msg;
	int closed;
	/* The frame being read. */
	uint8_t hdr[WS_MAX_HEADER];
	size_t hdr_len;
	int in_frame, op, fin;
	uint64_t left;
	uint8_t ctl[WS_MAX_CONTROL];
	size_t ctl_len;
	/* The message being assembled from fragments. */
	int in_msg, delivered;
	uint8_t *msg;
	size_t msg_len, msg_cap;
} ws_parser_t;

/* max_msg: the largest message accepted. */
void ws_parser_init(ws_parser_t *ps, size_t max_msg);
void ws_parser_free(ws_parser_t *ps);

/* Reads server frames from p[0..n). 1: *ev holds an event and *used bytes
 * were consumed (call again with the rest); 0: all n bytes consumed, no
 * event yet; -ZK_EPROTO: the server broke the rules above (or sent
 * anything after a close); -ZK_ETOOLARGE: a message above max_msg;
 * -ZK_ENOMEM. ev->p points into p or into the parser, valid until the
 * next call. */
int ws_parse(ws_parser_t *ps, const uint8_t *p, size_t n, size_t *used, ws_event_t *ev);

#endif
