/* The zkrelay test client. See tclient.h. */
#include "tclient.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

/* RFC 6455 section 1.3. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* The relay's messages are bounded by its own limit; this only keeps a
 * broken relay from making the test allocate without end. */
#define MAX_MSG (64u * 1024u * 1024u)
#define MAX_RESPONSE_HEAD 16384u

enum { STAGE_NONE, STAGE_TCP, STAGE_TLS, STAGE_WS };

struct tclient {
	tclient_opts_t o;
	char *strs[9];          /* owned copies of the option strings */
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
	int stage;
	char err[512];
	int http_status;
	char *head;             /* response header block, NUL-terminated */
	char hdr_value[1024];

	uint8_t *rx;            /* bytes received, not yet parsed */
	size_t rx_pos, rx_len, rx_cap;

	uint8_t *msg;           /* message being reassembled */
	size_t msg_len, msg_cap;
	int msg_op;             /* opcode of the message in progress, -1 none */

	int closed;
	int close_code;
	int close_sent;

	Zkrelay__V1__Batch *batch;
	size_t batch_next;
	uint8_t *last;
	size_t last_len;
};

/* ---------------------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_in(int timeout_ms)
{
	return now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
}

static int fail(tclient_t *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(tclient_t *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return code;
}

/* Appends OpenSSL's error queue to c->err, then clears it. */
static int fail_ssl(tclient_t *c, int code, const char *what)
{
	char line[256];
	size_t off;
	unsigned long e;

	snprintf(c->err, sizeof(c->err), "%s", what);
	off = strlen(c->err);
	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, line, sizeof(line));
		if (off + 2 + strlen(line) + 1 >= sizeof(c->err))
			continue;
		off += (size_t)snprintf(c->err + off, sizeof(c->err) - off, ": %s", line);
	}
	ERR_clear_error();
	return code;
}

/* Waits until fd is ready for events or the deadline passes. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			return 0;
		if (r == 0)
			return TCLIENT_ETIMEOUT;
		if (errno != EINTR)
			return TCLIENT_EIO;
	}
}

static void ignore_sigpipe_once(void)
{
	static int done;

	if (!done) {
		signal(SIGPIPE, SIG_IGN);
		done = 1;
	}
}

/* ---------------------------------------------------------------------- */

void tclient_opts_init(tclient_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->server_name = "localhost";
	o->min_version = TLS1_3_VERSION;
	o->max_version = TLS1_3_VERSION;
	o->path = "/";
	o->subprotocol = TCLIENT_SUBPROTOCOL;
	o->timeout_ms = 5000;
}

static const char *own(tclient_t *c, int i, const char *s, int *oom)
{
	if (s == NULL)
		return NULL;
	c->strs[i] = strdup(s);
	if (c->strs[i] == NULL)
		*oom = 1;
	return c->strs[i];
}

tclient_t *tclient_new(const tclient_opts_t *opts)
{
	tclient_t *c;
	int oom = 0;

	ignore_sigpipe_once();
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->o = *opts;
	c->o.host = own(c, 0, opts->host ? opts->host : "127.0.0.1", &oom);
	c->o.server_name = own(c, 1, opts->server_name, &oom);
	c->o.ca_file = own(c, 2, opts->ca_file, &oom);
	c->o.cert_file = own(c, 3, opts->cert_file, &oom);
	c->o.key_file = own(c, 4, opts->key_file, &oom);
	c->o.path = own(c, 5, opts->path ? opts->path : "/", &oom);
	c->o.subprotocol = own(c, 6, opts->subprotocol, &oom);
	c->o.extra_headers = own(c, 7, opts->extra_headers, &oom);
	if (c->o.timeout_ms <= 0)
		c->o.timeout_ms = 5000;
	if (c->o.min_version == 0)
		c->o.min_version = TLS1_3_VERSION;
	if (c->o.max_version == 0)
		c->o.max_version = TLS1_3_VERSION;
	c->fd = -1;
	c->msg_op = -1;
	if (oom) {
		tclient_free(c);
		return NULL;
	}
	return c;
}

void tclient_free(tclient_t *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->batch != NULL)
		zkrelay__v1__batch__free_unpacked(c->batch, NULL);
	SSL_free(c->ssl);
	SSL_CTX_free(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	for (i = 0; i < sizeof(c->strs) / sizeof(c->strs[0]); i++)
		free(c->strs[i]);
	free(c->head);
	free(c->rx);
	free(c->msg);
	free(c->last);
	free(c);
}

const char *tclient_error(const tclient_t *c)
{
	return c->err;
}

int tclient_http_status(const tclient_t *c)
{
	return c->http_status;
}

int tclient_tls_version(const tclient_t *c)
{
	return c->ssl != NULL && c->stage >= STAGE_TLS ? SSL_version(c->ssl) : 0;
}

int tclient_fd(const tclient_t *c)
{
	return c->fd;
}

int tclient_cork(tclient_t *c, int on)
{
	if (c->fd < 0 || setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)) < 0)
		return fail(c, TCLIENT_EINVAL, "TCP_CORK: %s", strerror(errno));
	return 0;
}

int tclient_close_code(const tclient_t *c)
{
	return c->close_code;
}

int tclient_closed(const tclient_t *c)
{
	return c->closed;
}

/* ---------------------------------------------------------------------- */
/* Byte I/O. Reads always try SSL_read before polling, so records OpenSSL
 * has already taken off the socket (SSL_pending) are never waited for. */

static int io_write(tclient_t *c, const void *p, size_t n, int64_t deadline)
{
	const uint8_t *b = p;

	while (n > 0) {
		int r;

		if (c->ssl != NULL && c->stage >= STAGE_TLS) {
			int chunk = n > (1u << 30) ? (1 << 30) : (int)n;
			ERR_clear_error();
			r = SSL_write(c->ssl, b, chunk);
			if (r > 0) {
				b += r;
				n -= (size_t)r;
				continue;
			}
			switch (SSL_get_error(c->ssl, r)) {
			case SSL_ERROR_WANT_WRITE:
				r = wait_fd(c->fd, POLLOUT, deadline);
				break;
			case SSL_ERROR_WANT_READ:
				r = wait_fd(c->fd, POLLIN, deadline);
				break;
			case SSL_ERROR_SSL:
				return fail_ssl(c, TCLIENT_ETLS, "SSL_write");
			default:
				return fail(c, TCLIENT_EIO, "SSL_write: %s",
					    errno ? strerror(errno) : "connection ended");
			}
			if (r == TCLIENT_ETIMEOUT)
				return fail(c, r, "write timed out");
			if (r < 0)
				return fail(c, r, "poll: %s", strerror(errno));
			continue;
		}
		{
			ssize_t w = send(c->fd, b, n, MSG_NOSIGNAL);
			if (w > 0) {
				b += w;
				n -= (size_t)w;
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				r = wait_fd(c->fd, POLLOUT, deadline);
				if (r == TCLIENT_ETIMEOUT)
					return fail(c, r, "write timed out");
				continue;
			}
			return fail(c, TCLIENT_EIO, "send: %s", strerror(errno));
		}
	}
	return 0;
}

/* Reads at least one byte into p. *got is set on success. */
static int io_read(tclient_t *c, void *p, size_t cap, int64_t deadline, size_t *got)
{
	for (;;) {
		int r;

		if (c->ssl != NULL && c->stage >= STAGE_TLS) {
			int chunk = cap > (1u << 30) ? (1 << 30) : (int)cap;
			ERR_clear_error();
			errno = 0;
			r = SSL_read(c->ssl, p, chunk);
			if (r > 0) {
				*got = (size_t)r;
				return 0;
			}
			switch (SSL_get_error(c->ssl, r)) {
			case SSL_ERROR_WANT_READ:
				r = wait_fd(c->fd, POLLIN, deadline);
				break;
			case SSL_ERROR_WANT_WRITE:
				r = wait_fd(c->fd, POLLOUT, deadline);
				break;
			case SSL_ERROR_ZERO_RETURN:
				return fail(c, TCLIENT_ECLOSED, "TLS close_notify");
			case SSL_ERROR_SSL:
				/* OpenSSL 3 reports an end of stream without
				 * close_notify as an error; for a test it is the
				 * connection ending, not a TLS failure. */
				if (ERR_GET_REASON(ERR_peek_error()) ==
				    SSL_R_UNEXPECTED_EOF_WHILE_READING) {
					ERR_clear_error();
					return fail(c, TCLIENT_ECLOSED,
						    "connection ended without close_notify");
				}
				return fail_ssl(c, TCLIENT_ETLS, "TLS error");
			default: /* SSL_ERROR_SYSCALL: end of stream or reset */
				return fail(c, TCLIENT_ECLOSED, "connection ended%s%s",
					    errno ? ": " : "", errno ? strerror(errno) : "");
			}
			if (r == TCLIENT_ETIMEOUT)
				return fail(c, r, "read timed out");
			if (r < 0)
				return fail(c, r, "poll: %s", strerror(errno));
			continue;
		}
		{
			ssize_t n = recv(c->fd, p, cap, 0);
			if (n > 0) {
				*got = (size_t)n;
				return 0;
			}
			if (n == 0)
				return fail(c, TCLIENT_ECLOSED, "connection ended");
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				r = wait_fd(c->fd, POLLIN, deadline);
				if (r == TCLIENT_ETIMEOUT)
					return fail(c, r, "read timed out");
				continue;
			}
			return fail(c, TCLIENT_ECLOSED, "recv: %s", strerror(errno));
		}
	}
}

static size_t rx_avail(const tclient_t *c)
{
	return c->rx_len - c->rx_pos;
}

/* Makes room for at least want more bytes after rx_len. */
static int rx_reserve(tclient_t *c, size_t want)
{
	if (c->rx_pos > 0 && c->rx_cap - c->rx_len < want) {
		memmove(c->rx, c->rx + c->rx_pos, rx_avail(c));
		c->rx_len -= c->rx_pos;
		c->rx_pos = 0;
	}
	if (c->rx_cap - c->rx_len < want) {
		size_t cap = c->rx_cap ? c->rx_cap : 65536;
		uint8_t *n;

		while (cap - c->rx_len < want)
			cap *= 2;
		n = realloc(c->rx, cap);
		if (n == NULL)
			return fail(c, TCLIENT_ENOMEM, "out of memory");
		c->rx = n;
		c->rx_cap = cap;
	}
	return 0;
}

/* Until at least n unparsed bytes are buffered. */
static int rx_need(tclient_t *c, size_t n, int64_t deadline)
{
	while (rx_avail(c) < n) {
		size_t got = 0;
		int r = rx_reserve(c, n - rx_avail(c) < 16384 ? 16384 : n - rx_avail(c));

		if (r == 0)
			r = io_read(c, c->rx + c->rx_len, c->rx_cap - c->rx_len, deadline, &got);
		if (r < 0)
			return r;
		c->rx_len += got;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */

int tclient_connect_tcp(tclient_t *c)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port[16];
	int one = 1, r, soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (c->stage >= STAGE_TCP)
		return 0;
	snprintf(port, sizeof(port), "%d", c->o.port);
	if (getaddrinfo(c->o.host, port, &hints, &ai) != 0 || ai == NULL)
		return fail(c, TCLIENT_EINVAL, "bad address %s", c->o.host);
	c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		freeaddrinfo(ai);
		return fail(c, TCLIENT_ETCP, "socket: %s", strerror(errno));
	}
	/* Buffer sizes must be set before connect to take effect on the
	 * window; a small receive buffer makes a test client a slow reader. */
	if (c->o.sndbuf > 0)
		setsockopt(c->fd, SOL_SOCKET, SO_SNDBUF, &c->o.sndbuf, sizeof(int));
	if (c->o.rcvbuf > 0)
		setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &c->o.rcvbuf, sizeof(int));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	r = connect(c->fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (r < 0 && errno != EINPROGRESS)
		return fail(c, TCLIENT_ETCP, "connect: %s", strerror(errno));
	if (r < 0) {
		if (wait_fd(c->fd, POLLOUT, deadline_in(c->o.timeout_ms)) != 0)
			return fail(c, TCLIENT_ETCP, "connect timed out");
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0)
			return fail(c, TCLIENT_ETCP, "connect: %s", strerror(soerr ? soerr : errno));
	}
	c->stage = STAGE_TCP;
	return 0;
}

static int connect_tls_shared(tclient_t *c);
static int tls_handshake(tclient_t *c);

int tclient_connect_tls(tclient_t *c)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	int r;

	if (c->stage >= STAGE_TLS)
		return 0;
	r = tclient_connect_tcp(c);
	if (r < 0)
		return r;
	ERR_clear_error();
	if (c->o.ssl_ctx != NULL)
		return connect_tls_shared(c);
	c->ctx = SSL_CTX_new(TLS_client_method());
	if (c->ctx == NULL)
		return fail_ssl(c, TCLIENT_ENOMEM, "SSL_CTX_new");
	if (!SSL_CTX_set_min_proto_version(c->ctx, c->o.min_version) ||
	    !SSL_CTX_set_max_proto_version(c->ctx, c->o.max_version))
		return fail_ssl(c, TCLIENT_EINVAL, "TLS version");
	if (c->o.ca_file != NULL) {
		if (SSL_CTX_load_verify_locations(c->ctx, c->o.ca_file, NULL) != 1)
			return fail_ssl(c, TCLIENT_EINVAL, "load CA file");
		SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	}
	if (c->o.cert_file != NULL) {
		if (SSL_CTX_use_certificate_chain_file(c->ctx, c->o.cert_file) != 1)
			return fail_ssl(c, TCLIENT_EINVAL, "load client certificate");
		if (SSL_CTX_use_PrivateKey_file(c->ctx, c->o.key_file ? c->o.key_file
					       : c->o.cert_file, SSL_FILETYPE_PEM) != 1)
			return fail_ssl(c, TCLIENT_EINVAL, "load client key");
	}
	SSL_CTX_set_alpn_protos(c->ctx, alpn, sizeof(alpn) - 1);
	c->ssl = SSL_new(c->ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return fail_ssl(c, TCLIENT_ENOMEM, "SSL_new");
	if (c->o.server_name != NULL) {
		SSL_set_tlsext_host_name(c->ssl, c->o.server_name);
		if (c->o.ca_file != NULL)
			SSL_set1_host(c->ssl, c->o.server_name);
	}
	return tls_handshake(c);
}

/* A connection on the caller's shared context: only the certificate and
 * key are this connection's own. */
static int connect_tls_shared(tclient_t *c)
{
	c->ssl = SSL_new(c->o.ssl_ctx);
	if (c->ssl == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		return fail_ssl(c, TCLIENT_ENOMEM, "SSL_new");
	if (c->o.cert != NULL &&
	    (SSL_use_certificate(c->ssl, c->o.cert) != 1 ||
	     SSL_use_PrivateKey(c->ssl, c->o.key) != 1))
		return fail_ssl(c, TCLIENT_EINVAL, "client certificate");
	if (c->o.server_name != NULL)
		SSL_set_tlsext_host_name(c->ssl, c->o.server_name);
	return tls_handshake(c);
}

static int tls_handshake(tclient_t *c)
{
	int64_t deadline = deadline_in(c->o.timeout_ms);
	int r;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		r = SSL_connect(c->ssl);
		if (r == 1)
			break;
		switch (SSL_get_error(c->ssl, r)) {
		case SSL_ERROR_WANT_READ:
			r = wait_fd(c->fd, POLLIN, deadline);
			break;
		case SSL_ERROR_WANT_WRITE:
			r = wait_fd(c->fd, POLLOUT, deadline);
			break;
		case SSL_ERROR_SSL:
			return fail_ssl(c, TCLIENT_ETLS, "TLS handshake");
		default:
			return fail(c, TCLIENT_ETLS, "TLS handshake: connection ended%s%s",
				    errno ? ": " : "", errno ? strerror(errno) : "");
		}
		if (r != 0)
			return fail(c, TCLIENT_ETLS, "TLS handshake timed out");
	}
	c->stage = STAGE_TLS;
	return 0;
}

static int base64(const uint8_t *in, size_t n, char *out, size_t cap)
{
	if (cap < 4 * ((n + 2) / 3) + 1)
		return -1;
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	return 0;
}

/* Finds "name: value" in the header block; copies the trimmed value. */
static const char *find_header(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *line = head ? strstr(head, "\r\n") : NULL;

	while (line != NULL) {
		const char *p = line + 2, *end = strstr(p, "\r\n"), *v;
		size_t vl;

		if (end == NULL || end == p)
			return NULL;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			v = p + nl + 1;
			while (v < end && (*v == ' ' || *v == '\t'))
				v++;
			vl = (size_t)(end - v);
			while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
				vl--;
			if (vl >= cap)
				vl = cap - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return out;
		}
		line = end;
	}
	return NULL;
}

const char *tclient_response_header(const tclient_t *c, const char *name)
{
	tclient_t *m = (tclient_t *)c;

	return find_header(c->head, name, m->hdr_value, sizeof(m->hdr_value));
}

int tclient_connect(tclient_t *c)
{
	uint8_t nonce[16], digest[SHA_DIGEST_LENGTH];
	char key[32], want[64], got[512], *req = NULL, *line_end;
	const uint8_t *end = NULL;
	size_t req_len, head_len;
	int64_t deadline;
	int r;

	if (c->stage >= STAGE_WS)
		return 0;
	r = tclient_connect_tls(c);
	if (r < 0)
		return r;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1 || base64(nonce, sizeof(nonce), key, sizeof(key)) < 0)
		return fail(c, TCLIENT_ENOMEM, "RAND_bytes");
	req_len = strlen(c->o.path) + strlen(c->o.server_name ? c->o.server_name : "") +
		  (c->o.subprotocol ? strlen(c->o.subprotocol) : 0) +
		  (c->o.extra_headers ? strlen(c->o.extra_headers) : 0) + 512;
	req = malloc(req_len);
	if (req == NULL)
		return fail(c, TCLIENT_ENOMEM, "out of memory");
	snprintf(req, req_len,
		 "GET %s HTTP/1.1\r\n"
		 "Host: %s:%d\r\n"
		 "Upgrade: websocket\r\n"
		 "Connection: Upgrade\r\n"
		 "Sec-WebSocket-Key: %s\r\n"
		 "Sec-WebSocket-Version: 13\r\n"
		 "%s%s%s"
		 "%s"
		 "\r\n",
		 c->o.path, c->o.server_name ? c->o.server_name : c->o.host, c->o.port, key,
		 c->o.subprotocol ? "Sec-WebSocket-Protocol: " : "",
		 c->o.subprotocol ? c->o.subprotocol : "",
		 c->o.subprotocol ? "\r\n" : "",
		 c->o.extra_headers ? c->o.extra_headers : "");
	deadline = deadline_in(c->o.timeout_ms);
	r = io_write(c, req, strlen(req), deadline);
	free(req);
	if (r == TCLIENT_ETLS)
		return r;
	if (r < 0) {
		snprintf(got, sizeof(got), "%s", c->err);
		return fail(c, TCLIENT_ECLOSED, "upgrade request not sent: %s", got);
	}

	/* Read up to the end of the response head; what follows already
	 * belongs to the WebSocket stream and stays in rx. */
	while (end == NULL) {
		size_t have = rx_avail(c);
		uint8_t *p = c->rx ? c->rx + c->rx_pos : NULL;
		size_t i;

		for (i = 0; p != NULL && i + 3 < have; i++)
			if (memcmp(p + i, "\r\n\r\n", 4) == 0) {
				end = p + i + 4;
				break;
			}
		if (end != NULL)
			break;
		if (have >= MAX_RESPONSE_HEAD)
			return fail(c, TCLIENT_EUPGRADE, "response head too long");
		r = rx_need(c, have + 1, deadline);
		if (r == TCLIENT_ETLS)
			return r;
		if (r < 0) {
			snprintf(got, sizeof(got), "%s", c->err);
			return fail(c, r, "no upgrade response: %s", got);
		}
	}
	head_len = (size_t)(end - (c->rx + c->rx_pos));
	c->head = malloc(head_len + 1);
	if (c->head == NULL)
		return fail(c, TCLIENT_ENOMEM, "out of memory");
	memcpy(c->head, c->rx + c->rx_pos, head_len);
	c->head[head_len] = '\0';
	c->rx_pos += head_len;

	if (sscanf(c->head, "HTTP/1.%*d %d", &c->http_status) != 1)
		return fail(c, TCLIENT_EUPGRADE, "bad status line");
	line_end = strstr(c->head, "\r\n");
	if (c->http_status != 101)
		return fail(c, TCLIENT_EUPGRADE, "upgrade refused: %.*s",
			    (int)(line_end ? line_end - c->head : 40), c->head);

	snprintf(got, sizeof(got), "%s%s", key, WS_GUID);
	if (EVP_Digest(got, strlen(got), digest, NULL, EVP_sha1(), NULL) != 1)
		return fail_ssl(c, TCLIENT_ENOMEM, "SHA-1");
	base64(digest, sizeof(digest), want, sizeof(want));
	if (find_header(c->head, "Sec-WebSocket-Accept", got, sizeof(got)) == NULL ||
	    strcmp(got, want) != 0)
		return fail(c, TCLIENT_EUPGRADE, "bad Sec-WebSocket-Accept");
	/* RFC 6455 section 4.1: a subprotocol we did not offer fails the
	 * connection; so does a 101 that does not confirm the one we did. */
	if (find_header(c->head, "Sec-WebSocket-Protocol", got, sizeof(got)) != NULL) {
		if (c->o.subprotocol == NULL || strcmp(got, c->o.subprotocol) != 0)
			return fail(c, TCLIENT_EUPGRADE, "unexpected subprotocol \"%s\"", got);
	} else if (c->o.subprotocol != NULL) {
		return fail(c, TCLIENT_EUPGRADE, "subprotocol not confirmed");
	}
	c->stage = STAGE_WS;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* WebSocket framing. */

static size_t put_header(uint8_t *h, int opcode, int fin, uint64_t len, const uint8_t mask[4])
{
	size_t n = 0;

	h[n++] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (len < 126) {
		h[n++] = (uint8_t)(0x80 | len);
	} else if (len <= 0xffff) {
		h[n++] = 0x80 | 126;
		h[n++] = (uint8_t)(len >> 8);
		h[n++] = (uint8_t)len;
	} else {
		int i;
		h[n++] = 0x80 | 127;
		for (i = 7; i >= 0; i--)
			h[n++] = (uint8_t)(len >> (8 * i));
	}
	memcpy(h + n, mask, 4);
	return n + 4;
}

int tclient_send_frame(tclient_t *c, int opcode, int fin, const void *p, size_t n)
{
	uint8_t mask[4], *buf;
	size_t hl, i;
	int r;

	if (RAND_bytes(mask, sizeof(mask)) != 1)
		return fail(c, TCLIENT_ENOMEM, "RAND_bytes");
	buf = malloc(14 + n);
	if (buf == NULL)
		return fail(c, TCLIENT_ENOMEM, "out of memory");
	hl = put_header(buf, opcode, fin, n, mask);
	for (i = 0; i < n; i++)
		buf[hl + i] = ((const uint8_t *)p)[i] ^ mask[i & 3];
	r = io_write(c, buf, hl + n, deadline_in(c->o.timeout_ms));
	free(buf);
	return r;
}

int tclient_send_msg(tclient_t *c, int opcode, const void *p, size_t n)
{
	return tclient_send_frame(c, opcode, 1, p, n);
}

int tclient_send_frame_header(tclient_t *c, int opcode, int fin, uint64_t len)
{
	uint8_t h[14], mask[4];

	if (RAND_bytes(mask, sizeof(mask)) != 1)
		return fail(c, TCLIENT_ENOMEM, "RAND_bytes");
	return io_write(c, h, put_header(h, opcode, fin, len, mask), deadline_in(c->o.timeout_ms));
}

int tclient_send_raw(tclient_t *c, const void *p, size_t n)
{
	return io_write(c, p, n, deadline_in(c->o.timeout_ms));
}

int tclient_send_close(tclient_t *c, uint16_t code)
{
	uint8_t b[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	c->close_sent = 1;
	return tclient_send_frame(c, TCLIENT_OP_CLOSE, 1, b, sizeof(b));
}

static int msg_append(tclient_t *c, const uint8_t *p, size_t n)
{
	if (c->msg_cap - c->msg_len < n) {
		size_t cap = c->msg_cap ? c->msg_cap : 65536;
		uint8_t *m;

		while (cap - c->msg_len < n)
			cap *= 2;
		m = realloc(c->msg, cap);
		if (m == NULL)
			return fail(c, TCLIENT_ENOMEM, "out of memory");
		c->msg = m;
		c->msg_cap = cap;
	}
	if (n > 0)
		memcpy(c->msg + c->msg_len, p, n);
	c->msg_len += n;
	return 0;
}

static void mark_closed(tclient_t *c, int code)
{
	c->closed = 1;
	if (c->close_code == 0)
		c->close_code = code;
}

int tclient_recv_msg(tclient_t *c, int timeout_ms, int *opcode, const uint8_t **out, size_t *outn)
{
	int64_t deadline = deadline_in(timeout_ms);

	if (c->closed)
		return fail(c, TCLIENT_ECLOSED, "connection closed (code %d)", c->close_code);
	if (c->msg_op < 0)
		c->msg_len = 0;
	for (;;) {
		const uint8_t *h;
		size_t hl = 2, i;
		uint64_t len;
		int fin, op, masked, r;
		uint8_t *pl;

		r = rx_need(c, 2, deadline);
		if (r == 0) {
			h = c->rx + c->rx_pos;
			len = h[1] & 0x7f;
			hl += len == 126 ? 2 : len == 127 ? 8 : 0;
			hl += (h[1] & 0x80) ? 4 : 0;
			r = rx_need(c, hl, deadline);
		}
		if (r == TCLIENT_ECLOSED || r == TCLIENT_ETLS) {
			mark_closed(c, TCLIENT_CLOSE_ABNORMAL);
			return r;
		}
		if (r < 0)
			return r;
		h = c->rx + c->rx_pos;
		fin = h[0] & 0x80;
		op = h[0] & 0x0f;
		masked = h[1] & 0x80;
		len = h[1] & 0x7f;
		if (len == 126) {
			len = (uint64_t)h[2] << 8 | h[3];
		} else if (len == 127) {
			len = 0;
			for (i = 0; i < 8; i++)
				len = len << 8 | h[2 + i];
		}
		if (h[0] & 0x70)
			return fail(c, TCLIENT_EPROTO, "RSV bits set (no extension was agreed)");
		if (masked)
			return fail(c, TCLIENT_EPROTO, "masked frame from the server");
		if (len > MAX_MSG || c->msg_len + len > MAX_MSG)
			return fail(c, TCLIENT_EPROTO, "frame of %llu bytes", (unsigned long long)len);
		r = rx_need(c, hl + (size_t)len, deadline);
		if (r == TCLIENT_ECLOSED || r == TCLIENT_ETLS) {
			mark_closed(c, TCLIENT_CLOSE_ABNORMAL);
			return r;
		}
		if (r < 0)
			return r;
		pl = c->rx + c->rx_pos + hl;
		c->rx_pos += hl + (size_t)len;

		if (op >= 0x8) {
			if (!fin || len > 125)
				return fail(c, TCLIENT_EPROTO, "bad control frame");
			if (op == TCLIENT_OP_PING) {
				r = tclient_send_frame(c, TCLIENT_OP_PONG, 1, pl, (size_t)len);
				if (r < 0)
					return r;
			} else if (op == TCLIENT_OP_CLOSE) {
				int code = len >= 2 ? (pl[0] << 8 | pl[1]) : TCLIENT_CLOSE_NO_STATUS;

				mark_closed(c, code);
				/* RFC 6455 section 5.5.1: answer with the same code. */
				if (!c->close_sent) {
					c->close_sent = 1;
					tclient_send_frame(c, TCLIENT_OP_CLOSE, 1, pl, len >= 2 ? 2 : 0);
				}
				return fail(c, TCLIENT_ECLOSED, "close frame, code %d", code);
			} else if (op != TCLIENT_OP_PONG) {
				return fail(c, TCLIENT_EPROTO, "unknown control opcode %d", op);
			}
			continue;
		}
		if (op == TCLIENT_OP_CONT) {
			if (c->msg_op < 0)
				return fail(c, TCLIENT_EPROTO, "continuation without a message");
		} else if (op == TCLIENT_OP_TEXT || op == TCLIENT_OP_BINARY) {
			if (c->msg_op >= 0)
				return fail(c, TCLIENT_EPROTO, "new message inside a fragmented one");
			c->msg_op = op;
			c->msg_len = 0;
		} else {
			return fail(c, TCLIENT_EPROTO, "unknown opcode %d", op);
		}
		r = msg_append(c, pl, (size_t)len);
		if (r < 0)
			return r;
		if (fin) {
			*opcode = c->msg_op;
			*out = c->msg;
			*outn = c->msg_len;
			c->msg_op = -1;
			return 0;
		}
	}
}

int tclient_wait_closed(tclient_t *c, int timeout_ms)
{
	int64_t deadline = deadline_in(timeout_ms);
	uint8_t sink[16384];

	if (c->closed)
		return 0;
	if (c->stage == STAGE_NONE)
		return fail(c, TCLIENT_EINVAL, "not connected");
	for (;;) {
		size_t got;
		int r;

		c->rx_pos = c->rx_len = 0;
		r = io_read(c, sink, sizeof(sink), deadline, &got);
		if (r == TCLIENT_ETIMEOUT)
			return r;
		if (r < 0) {
			mark_closed(c, TCLIENT_CLOSE_ABNORMAL);
			return 0;
		}
	}
}

int tclient_recv_raw(tclient_t *c, int timeout_ms, char *buf, size_t cap, size_t *n)
{
	int64_t deadline = deadline_in(timeout_ms);

	if (cap == 0)
		return fail(c, TCLIENT_EINVAL, "no room");
	*n = 0;
	buf[0] = '\0';
	if (c->stage == STAGE_NONE)
		return fail(c, TCLIENT_EINVAL, "not connected");
	while (*n + 1 < cap) {
		size_t got = 0;
		int r = io_read(c, buf + *n, cap - 1 - *n, deadline, &got);

		if (r == TCLIENT_ETIMEOUT)
			return r;
		if (r < 0) {
			mark_closed(c, TCLIENT_CLOSE_ABNORMAL);
			return 0;
		}
		*n += got;
		buf[*n] = '\0';
	}
	return TCLIENT_ETIMEOUT; /* full, and still open */
}

/* ---------------------------------------------------------------------- */
/* zkrelay frames. */

int tclient_send_frames(tclient_t *c, Zkrelay__V1__Frame *const *frames, size_t n)
{
	Zkrelay__V1__Batch b = ZKRELAY__V1__BATCH__INIT;
	uint8_t *buf;
	size_t len;
	int r;

	b.n_frames = n;
	b.frames = (Zkrelay__V1__Frame **)frames;
	len = zkrelay__v1__batch__get_packed_size(&b);
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		return fail(c, TCLIENT_ENOMEM, "out of memory");
	zkrelay__v1__batch__pack(&b, buf);
	r = tclient_send_msg(c, TCLIENT_OP_BINARY, buf, len);
	free(buf);
	return r;
}

int tclient_send_hello(tclient_t *c, const char *token)
{
	Zkrelay__V1__Hello h = ZKRELAY__V1__HELLO__INIT;
	Zkrelay__V1__Frame f = ZKRELAY__V1__FRAME__INIT;
	Zkrelay__V1__Frame *fp = &f;

	h.token = (char *)(token ? token : "");
	f.body_case = ZKRELAY__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	return tclient_send_frames(c, &fp, 1);
}

const char *tclient_frame_name(const Zkrelay__V1__Frame *f)
{
	static const char *const names[] = {
		"none", "hello", "welcome", "refresh", "ack", "nack", "close", "data",
	};
	unsigned k = f ? (unsigned)f->body_case : 0;

	return k < sizeof(names) / sizeof(names[0]) ? names[k] : "unknown";
}

int tclient_hello(tclient_t *c, const char *token, const Zkrelay__V1__Welcome **welcome)
{
	const Zkrelay__V1__Frame *f;
	int r = tclient_send_hello(c, token);

	if (r == 0)
		r = tclient_next_frame(c, c->o.timeout_ms, &f);
	if (r < 0)
		return r;
	if (f->body_case != ZKRELAY__V1__FRAME__BODY_WELCOME) {
		if (f->body_case == ZKRELAY__V1__FRAME__BODY_CLOSE)
			return fail(c, TCLIENT_EUNEXPECTED, "close (reason %d) instead of welcome",
				    (int)f->close->reason);
		return fail(c, TCLIENT_EUNEXPECTED, "%s instead of welcome", tclient_frame_name(f));
	}
	if (welcome != NULL)
		*welcome = f->welcome;
	return 0;
}

uint8_t *tclient_pack_batch(const tclient_data_t *d, size_t n, size_t *len)
{
	Zkrelay__V1__Batch b = ZKRELAY__V1__BATCH__INIT;
	Zkrelay__V1__Frame *frames = calloc(n ? n : 1, sizeof(*frames));
	Zkrelay__V1__Frame **fp = calloc(n ? n : 1, sizeof(*fp));
	Zkrelay__V1__Data *data = calloc(n ? n : 1, sizeof(*data));
	uint8_t *buf = NULL;
	size_t i;

	if (frames == NULL || fp == NULL || data == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		Zkrelay__V1__Data di = ZKRELAY__V1__DATA__INIT;
		Zkrelay__V1__Frame fi = ZKRELAY__V1__FRAME__INIT;

		di.dst = (char *)(d[i].dst ? d[i].dst : "");
		di.src = (char *)(d[i].src ? d[i].src : "");
		di.stream = d[i].stream;
		di.seq = d[i].seq;
		di.payload.data = (uint8_t *)d[i].payload;
		di.payload.len = d[i].len;
		data[i] = di;
		fi.body_case = ZKRELAY__V1__FRAME__BODY_DATA;
		frames[i] = fi;
		frames[i].data = &data[i];
		fp[i] = &frames[i];
	}
	b.n_frames = n;
	b.frames = fp;
	*len = zkrelay__v1__batch__get_packed_size(&b);
	buf = malloc(*len ? *len : 1);
	if (buf != NULL)
		zkrelay__v1__batch__pack(&b, buf);
out:
	free(frames);
	free(fp);
	free(data);
	return buf;
}

int tclient_send_batch(tclient_t *c, const tclient_data_t *d, size_t n)
{
	size_t len;
	uint8_t *buf = tclient_pack_batch(d, n, &len);
	int r;

	if (buf == NULL)
		return fail(c, TCLIENT_ENOMEM, "out of memory");
	r = tclient_send_msg(c, TCLIENT_OP_BINARY, buf, len);
	free(buf);
	return r;
}

int tclient_send_data(tclient_t *c, const char *dst, uint32_t stream, uint64_t seq,
		      const uint8_t *payload, size_t len)
{
	tclient_data_t d = { .dst = dst, .stream = stream, .seq = seq,
			     .payload = payload, .len = len };

	return tclient_send_batch(c, &d, 1);
}

int tclient_next_frame(tclient_t *c, int timeout_ms, const Zkrelay__V1__Frame **out)
{
	const uint8_t *p;
	size_t n;
	int op, r;

	if (c->batch != NULL && c->batch_next < c->batch->n_frames) {
		*out = c->batch->frames[c->batch_next++];
		return 0;
	}
	if (c->batch != NULL) {
		zkrelay__v1__batch__free_unpacked(c->batch, NULL);
		c->batch = NULL;
	}
	r = tclient_recv_msg(c, timeout_ms, &op, &p, &n);
	if (r < 0)
		return r;
	if (op != TCLIENT_OP_BINARY)
		return fail(c, TCLIENT_EPROTO, "text message from the relay");
	free(c->last);
	c->last = malloc(n ? n : 1);
	if (c->last == NULL)
		return fail(c, TCLIENT_ENOMEM, "out of memory");
	memcpy(c->last, p, n);
	c->last_len = n;
	c->batch = zkrelay__v1__batch__unpack(NULL, n, p);
	if (c->batch == NULL)
		return fail(c, TCLIENT_EDECODE, "message of %zu bytes is not a Batch", n);
	if (c->batch->n_frames == 0)
		return fail(c, TCLIENT_EDECODE, "empty Batch");
	c->batch_next = 1;
	*out = c->batch->frames[0];
	return 0;
}

const uint8_t *tclient_last_msg(const tclient_t *c, size_t *len)
{
	*len = c->last_len;
	return c->last;
}

size_t tclient_frames_buffered(const tclient_t *c)
{
	return c->batch ? c->batch->n_frames - c->batch_next : 0;
}
