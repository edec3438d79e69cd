#include "ws.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zkerr.h"

/* RFC 6455 section 1.3. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* ---- Opening handshake ------------------------------------------------ */

int ws_accept(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	char buf[WS_KEY_LEN + sizeof(ws_guid)];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t klen = strlen(key);

	if (klen != WS_KEY_LEN)
		return -ZK_EINVAL;
	memcpy(buf, key, klen);
	memcpy(buf + klen, ws_guid, sizeof(ws_guid) - 1);
	if (EVP_Digest(buf, klen + sizeof(ws_guid) - 1, md, &mdlen, EVP_sha1(), NULL) != 1 ||
	    mdlen != 20)
		return -ZK_EIO;
	if (EVP_EncodeBlock((unsigned char *)out, md, 20) != (int)WS_ACCEPT_LEN)
		return -ZK_EIO;
	return 0;
}

static int new_key(ws_handshake_t *hs)
{
	unsigned char nonce[16];

	if (RAND_bytes(nonce, sizeof(nonce)) != 1)
		return -ZK_EIO;
	if (EVP_EncodeBlock((unsigned char *)hs->key, nonce, sizeof(nonce)) != (int)WS_KEY_LEN)
		return -ZK_EIO;
	return ws_accept(hs->key, hs->accept);
}

/* Host names and IP literals only: anything else could end the header
 * line early or smuggle another one. */
static int host_ok(const char *s)
{
	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '-' || *s == ':'))
			return 0;
	return 1;
}

static int path_ok(const char *s)
{
	if (*s != '/' || strlen(s) > 1024)
		return 0;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return 0;
	return 1;
}

int ws_request(ws_handshake_t *hs, const char *host, int port, const char *path, char *out,
	       size_t cap, size_t *len)
{
	char hostport[300];
	int v6, n, rc;

	if (!host_ok(host) || !path_ok(path) || port <= 0 || port > 65535)
		return -ZK_EINVAL;
	v6 = strchr(host, ':') != NULL;
	if (port == 443)
		n = snprintf(hostport, sizeof(hostport), v6 ? "[%s]" : "%s", host);
	else
		n = snprintf(hostport, sizeof(hostport), v6 ? "[%s]:%d" : "%s:%d", host, port);
	if (n < 0 || (size_t)n >= sizeof(hostport))
		return -ZK_EINVAL;
	rc = new_key(hs);
	if (rc)
		return rc;
	n = snprintf(out, cap,
		     "GET %s HTTP/1.1\r\n"
		     "Host: %s\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\n"
		     "Sec-WebSocket-Protocol: " WS_SUBPROTOCOL "\r\n"
		     "\r\n",
		     path, hostport, hs->key);
	if (n < 0 || (size_t)n >= cap)
		return -ZK_EINVAL;
	*len = (size_t)n;
	return 0;
}

/* What the response said about the headers that matter. */
typedef struct {
	int upgrade, connection, accept, protocol, extensions;
} ws_seen_t;

static int is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Case-insensitive: does the comma-separated list v[0..n) hold token? */
static int list_has(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < n) {
		size_t s, e;
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
			return 1;
	}
	return 0;
}

static int value_is(const char *v, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(v, want, n) == 0;
}

/* One header line: name, colon, value with optional whitespace around. */
static int header_line(const ws_handshake_t *hs, const char *line, size_t n, ws_seen_t *s)
{
	const char *colon = memchr(line, ':', n), *v;
	size_t nl, vl;

	if (colon == NULL || colon == line)
		return -ZK_EUPGRADE;
	nl = (size_t)(colon - line);
	for (size_t i = 0; i < nl; i++)
		if (!is_tchar(line[i]))
			return -ZK_EUPGRADE;
	v = colon + 1;
	vl = n - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
		vl--;
	if (nl == 7 && strncasecmp(line, "upgrade", 7) == 0)
		s->upgrade += vl == 9 && strncasecmp(v, "websocket", 9) == 0 ? 1 : 100;
	else if (nl == 10 && strncasecmp(line, "connection", 10) == 0)
		s->connection |= list_has(v, vl, "upgrade");
	else if (nl == 20 && strncasecmp(line, "sec-websocket-accept", 20) == 0)
		s->accept += value_is(v, vl, hs->accept) ? 1 : 100;
	else if (nl == 22 && strncasecmp(line, "sec-websocket-protocol", 22) == 0)
		s->protocol += value_is(v, vl, WS_SUBPROTOCOL) ? 1 : 100;
	else if (nl == 24 && strncasecmp(line, "sec-websocket-extensions", 24) == 0)
		s->extensions++;
	return 0;
}

/* "HTTP/1.1 101" and then a space (reason phrase) or the line's end. */
static int status_ok(const char *line, size_t n)
{
	return n >= 12 && memcmp(line, "HTTP/1.1 101", 12) == 0 && (n == 12 || line[12] == ' ');
}

static int judge_head(const ws_handshake_t *hs, const char *h, size_t n)
{
	ws_seen_t s = { 0 };
	const char *end = h + n, *line = h, *eol;
	int first = 1;

	if (memchr(h, '\0', n) != NULL)
		return -ZK_EUPGRADE;
	while (line < end && (eol = memchr(line, '\r', (size_t)(end - line))) != NULL) {
		size_t ln = (size_t)(eol - line);
		if (eol + 1 >= end || eol[1] != '\n')
			return -ZK_EUPGRADE;
		if (ln == 0)
			break; /* the empty line that ends the head */
		if (memchr(line, '\n', ln) != NULL)
			return -ZK_EUPGRADE;
		if (first ? !status_ok(line, ln)
			  : (line[0] == ' ' || line[0] == '\t' || header_line(hs, line, ln, &s)))
			return -ZK_EUPGRADE; /* obsolete line folding is refused too */
		first = 0;
		line = eol + 2;
	}
	if (first || s.upgrade != 1 || !s.connection || s.accept != 1 || s.protocol != 1 ||
	    s.extensions != 0)
		return -ZK_EUPGRADE;
	return 0;
}

static const uint8_t *find_end(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if (memcmp(p + i, "\r\n\r\n", 4) == 0)
			return p + i + 4;
	return NULL;
}

int ws_response(const ws_handshake_t *hs, const uint8_t *p, size_t n, size_t *used)
{
	size_t lim = n < WS_MAX_RESPONSE ? n : WS_MAX_RESPONSE;
	const uint8_t *end = find_end(p, lim);
	int rc;

	if (end == NULL)
		return n >= WS_MAX_RESPONSE ? -ZK_EUPGRADE : 0;
	rc = judge_head(hs, (const char *)p, (size_t)(end - p));
	if (rc)
		return rc;
	*used = (size_t)(end - p);
	return 1;
}

/* ---- Client frames ---------------------------------------------------- */

static int op_known(int op)
{
	return op == WS_OP_CONT || op == WS_OP_TEXT || op == WS_OP_BINARY || op == WS_OP_CLOSE ||
	       op == WS_OP_PING || op == WS_OP_PONG;
}

static int op_control(int op)
{
	return (op & 0x8) != 0;
}

size_t ws_header_len(size_t n)
{
	if (n < 126)
		return 6;
	return n <= 0xffff ? 8 : 14;
}

/* Header of a final masked frame into h (room for WS_MAX_HEADER). */
static size_t put_header(uint8_t *h, int opcode, size_t n, const uint8_t mask[4])
{
	size_t len = 2;

	h[0] = (uint8_t)(0x80 | opcode);
	if (n < 126) {
		h[1] = (uint8_t)(0x80 | n);
	} else if (n <= 0xffff) {
		h[1] = 0x80 | 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		len = 4;
	} else {
		h[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
		len = 10;
	}
	memcpy(h + len, mask, 4);
	return len + 4;
}

static void apply_mask(uint8_t *p, size_t n, const uint8_t mask[4])
{
	for (size_t i = 0; i < n; i++)
		p[i] ^= mask[i & 3];
}

static int frame_args_ok(int opcode, size_t n)
{
	if (!op_known(opcode) || opcode == WS_OP_CONT)
		return 0;
	return !op_control(opcode) || n <= WS_MAX_CONTROL;
}

int ws_frame_in_place(uint8_t *buf, size_t n, int opcode, size_t *start)
{
	uint8_t mask[4], h[WS_MAX_HEADER];
	size_t hl;

	if (!frame_args_ok(opcode, n))
		return -ZK_EINVAL;
	/* RFC 6455 section 5.3: a fresh, unpredictable key per frame. */
	if (RAND_bytes(mask, sizeof(mask)) != 1)
		return -ZK_EIO;
	hl = put_header(h, opcode, n, mask);
	memcpy(buf + WS_MAX_HEADER - hl, h, hl);
	apply_mask(buf + WS_MAX_HEADER, n, mask);
	*start = WS_MAX_HEADER - hl;
	return 0;
}

int ws_put_frame(buf_writer_t *w, int opcode, const uint8_t *p, size_t n)
{
	uint8_t mask[4], h[WS_MAX_HEADER];
	size_t hl;

	if (!frame_args_ok(opcode, n) || w->overflow || w->cap - w->len < ws_header_len(n) ||
	    w->cap - w->len - ws_header_len(n) < n)
		return -ZK_EINVAL;
	if (RAND_bytes(mask, sizeof(mask)) != 1)
		return -ZK_EIO;
	hl = put_header(h, opcode, n, mask);
	buf_put_bytes(w, h, hl);
	if (n > 0) {
		buf_put_bytes(w, p, n);
		apply_mask(w->p + w->len - n, n, mask);
	}
	return 0;
}

int ws_put_close(buf_writer_t *w, uint16_t code)
{
	uint8_t b[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	return ws_put_frame(w, WS_OP_CLOSE, b, code ? 2 : 0);
}

/* ---- Server frames ---------------------------------------------------- */

void ws_parser_init(ws_parser_t *ps, size_t max_msg)
{
	memset(ps, 0, sizeof(*ps));
	ps->max_msg = max_msg;
}

void ws_parser_free(ws_parser_t *ps)
{
	free(ps->msg);
	memset(ps, 0, sizeof(*ps));
}

/* Bytes the header needs once its first two bytes are known. */
static size_t header_need(const uint8_t *h)
{
	uint8_t l = h[1] & 0x7f;
	return l == 127 ? 10 : l == 126 ? 4 : 2;
}

static uint64_t header_length(const uint8_t *h)
{
	uint8_t l = h[1] & 0x7f;
	uint64_t v = 0;

	if (l < 126)
		return l;
	for (size_t i = 0; i < (l == 126 ? 2u : 8u); i++)
		v = v << 8 | h[2 + i];
	return v;
}

/* The header is whole: is this frame allowed here? */
static int header_check(ws_parser_t *ps)
{
	const uint8_t *h = ps->hdr;
	int op = h[0] & 0x0f, fin = h[0] >> 7;
	uint64_t len = header_length(h);
	uint8_t l7 = h[1] & 0x7f;

	if ((h[0] & 0x70) || (h[1] & 0x80) || !op_known(op) || op == WS_OP_TEXT)
		return -ZK_EPROTO;
	/* Lengths in their shortest form; the top bit of 64 must be clear. */
	if ((l7 == 126 && len < 126) || (l7 == 127 && (len <= 0xffff || len >> 63)))
		return -ZK_EPROTO;
	if (op_control(op) && (!fin || len > WS_MAX_CONTROL))
		return -ZK_EPROTO;
	if (!op_control(op) && (op == WS_OP_CONT) != (ps->in_msg != 0))
		return -ZK_EPROTO;
	if (!op_control(op) && len > ps->max_msg - ps->msg_len)
		return -ZK_ETOOLARGE;
	ps->op = op;
	ps->fin = fin;
	ps->left = len;
	ps->in_frame = 1;
	ps->ctl_len = 0;
	if (op == WS_OP_BINARY)
		ps->in_msg = 1;
	return 0;
}

/* Copies header bytes; 1 when the header is whole. */
static int take_header(ws_parser_t *ps, const uint8_t *p, size_t n, size_t *pos)
{
	size_t need = ps->hdr_len < 2 ? 2 : header_need(ps->hdr);

	while (ps->hdr_len < need && *pos < n) {
		ps->hdr[ps->hdr_len++] = p[(*pos)++];
		if (ps->hdr_len == 2)
			need = header_need(ps->hdr);
	}
	return ps->hdr_len == need;
}

static int close_code_ok(unsigned c)
{
	if (c < 1000 || c >= 5000)
		return 0;
	if (c >= 3000)
		return 1;
	return c <= 1014 && c != 1004 && c != 1005 && c != 1006;
}

static int control_event(ws_parser_t *ps, ws_event_t *ev)
{
	ev->p = ps->ctl;
	ev->n = ps->ctl_len;
	ev->code = 0;
	if (ps->op == WS_OP_PING) {
		ev->type = WS_EV_PING;
	} else if (ps->op == WS_OP_PONG) {
		ev->type = WS_EV_PONG;
	} else {
		ev->type = WS_EV_CLOSE;
		if (ps->ctl_len == 1)
			return -ZK_EPROTO;
		ev->code = ps->ctl_len == 0 ? WS_CLOSE_NO_STATUS
					    : (uint16_t)(ps->ctl[0] << 8 | ps->ctl[1]);
		if (ps->ctl_len >= 2 && !close_code_ok(ev->code))
			return -ZK_EPROTO;
		ev->p = ps->ctl_len >= 2 ? ps->ctl + 2 : ps->ctl;
		ev->n = ps->ctl_len >= 2 ? ps->ctl_len - 2 : 0;
		ps->closed = 1;
	}
	return 1;
}

static int grow(ws_parser_t *ps, size_t want)
{
	size_t cap = ps->msg_cap ? ps->msg_cap : 4096;
	uint8_t *m;

	if (want <= ps->msg_cap)
		return 0;
	while (cap < want)
		cap = cap > ps->max_msg / 2 ? ps->max_msg : cap * 2;
	m = realloc(ps->msg, cap);
	if (m == NULL)
		return -ZK_ENOMEM;
	ps->msg = m;
	ps->msg_cap = cap;
	return 0;
}

/* The current frame's payload bytes are all in: an event, or nothing. */
static int frame_done(ws_parser_t *ps, ws_event_t *ev)
{
	ps->in_frame = 0;
	ps->hdr_len = 0;
	if (op_control(ps->op))
		return control_event(ps, ev);
	if (!ps->fin)
		return 0;
	ps->in_msg = 0;
	ps->delivered = 1;
	ev->type = WS_EV_MESSAGE;
	ev->p = ps->msg;
	ev->n = ps->msg_len;
	ev->code = 0;
	return 1;
}

/* Payload bytes of the current frame from p[*pos..n). */
static int take_payload(ws_parser_t *ps, const uint8_t *p, size_t n, size_t *pos)
{
	size_t k = n - *pos;
	int rc;

	if (k > ps->left)
		k = (size_t)ps->left;
	if (op_control(ps->op)) {
		memcpy(ps->ctl + ps->ctl_len, p + *pos, k);
		ps->ctl_len += k;
	} else if (k > 0) {
		rc = grow(ps, ps->msg_len + k);
		if (rc)
			return rc;
		memcpy(ps->msg + ps->msg_len, p + *pos, k);
		ps->msg_len += k;
	}
	*pos += k;
	ps->left -= k;
	return 0;
}

/* A whole unfragmented message inside the input: handed out in place. */
static int direct_message(ws_parser_t *ps, const uint8_t *p, size_t n, size_t *pos,
			  ws_event_t *ev)
{
	if (ps->op != WS_OP_BINARY || !ps->fin || ps->left > n - *pos)
		return 0;
	ev->type = WS_EV_MESSAGE;
	ev->p = p + *pos;
	ev->n = (size_t)ps->left;
	ev->code = 0;
	*pos += (size_t)ps->left;
	ps->in_frame = ps->in_msg = 0;
	ps->hdr_len = 0;
	return 1;
}

/* A message handed out by the last call is over: start afresh, and let
 * go of a large buffer so an idle link holds little memory. */
static void reset_delivered(ws_parser_t *ps)
{
	if (!ps->delivered)
		return;
	ps->delivered = 0;
	ps->msg_len = 0;
	if (ps->msg_cap > 65536) {
		free(ps->msg);
		ps->msg = NULL;
		ps->msg_cap = 0;
	}
}

static int parse_step(ws_parser_t *ps, const uint8_t *p, size_t n, size_t *pos, ws_event_t *ev)
{
	int rc;

	if (!ps->in_frame) {
		if (!take_header(ps, p, n, pos))
			return 0;
		rc = header_check(ps);
		if (rc)
			return rc;
		if (ps->msg_len == 0 && direct_message(ps, p, n, pos, ev))
			return 1;
	}
	rc = take_payload(ps, p, n, pos);
	if (rc)
		return rc;
	return ps->left == 0 ? frame_done(ps, ev) : 0;
}

int ws_parse(ws_parser_t *ps, const uint8_t *p, size_t n, size_t *used, ws_event_t *ev)
{
	size_t pos = 0;
	int rc = 0;

	reset_delivered(ps);
	if (ps->closed)
		return n > 0 ? -ZK_EPROTO : 0;
	while (pos < n) {
		rc = parse_step(ps, p, n, &pos, ev);
		if (rc != 0)
			break;
	}
	if (rc < 0)
		return rc;
	*used = pos;
	return rc;
}
