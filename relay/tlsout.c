#include "tlsout.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* One connection's gathering BIO. */
typedef struct {
	BIO *sock;     /* the socket BIO it stands in for (a reference we hold) */
	int fd;
	int gather;    /* between tlsout_begin() and tlsout_end() */
	int failed;    /* the socket failed: every later write fails too */
	size_t accepted; /* record bytes taken from OpenSSL since tlsout_begin() */
	uint8_t *tail; /* bytes the socket has not taken yet, NULL if none */
	size_t tail_len, tail_off;
} out_t;

/* The relay writes from its one loop thread, and only one connection
 * gathers at a time: the stage is empty outside begin/end. */
static uint8_t stage[TLSOUT_STAGE];
static size_t stage_len;

static BIO_METHOD *method;
static int method_type;
/* A detached BIO kept for the next write, so a write allocates nothing. */
static BIO *spare;

/* Bytes sent (possibly 0), or -1 if the socket failed. */
static ssize_t send_some(out_t *o, const uint8_t *p, size_t n)
{
	ssize_t k;

	if (o->failed)
		return -1;
	do
		k = send(o->fd, p, n, MSG_NOSIGNAL);
	while (k < 0 && errno == EINTR);
	if (k >= 0)
		return k;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	o->failed = 1;
	return -1;
}

/* 0 when no tail is left, 1 if some is, -1 if the socket failed. */
static int tail_send(out_t *o)
{
	if (!o->tail)
		return 0;
	ssize_t k = send_some(o, o->tail + o->tail_off, o->tail_len - o->tail_off);
	if (k < 0)
		return -1;
	o->tail_off += (size_t)k;
	if (o->tail_off < o->tail_len)
		return 1;
	free(o->tail);
	o->tail = NULL;
	o->tail_len = o->tail_off = 0;
	return 0;
}

/* Sends the stage; what the socket does not take becomes the tail (there
 * is none before: records are only staged behind an empty tail). Returns
 * as tail_send(). */
static int stage_send(out_t *o)
{
	size_t n = stage_len;
	ssize_t k;

	stage_len = 0;
	if (n == 0)
		return 0;
	if ((k = send_some(o, stage, n)) < 0)
		return -1;
	if ((size_t)k == n)
		return 0;
	o->tail = malloc(n - (size_t)k);
	if (!o->tail) {
		o->failed = 1; /* the records are gone: the stream cannot go on */
		return -1;
	}
	memcpy(o->tail, stage + k, n - (size_t)k);
	o->tail_len = n - (size_t)k;
	o->tail_off = 0;
	return 1;
}

static int out_write(BIO *b, const char *data, int len)
{
	out_t *o = BIO_get_data(b);
	int rc;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return 0;
	/* Whatever is left over goes before this record. */
	if ((rc = tail_send(o)) != 0)
		goto busy;
	if (o->gather) {
		if ((size_t)len > sizeof(stage) - stage_len && (rc = stage_send(o)) != 0)
			goto busy;
		if ((size_t)len <= sizeof(stage) - stage_len) {
			memcpy(stage + stage_len, data, (size_t)len);
			stage_len += (size_t)len;
			o->accepted += (size_t)len;
			return len;
		}
	}
	ssize_t k = send_some(o, (const uint8_t *)data, (size_t)len);
	if (k > 0) {
		o->accepted += (size_t)k;
		return (int)k;
	}
	rc = k < 0 ? -1 : 1;
busy:
	/* OpenSSL keeps the record and writes it again later. */
	if (rc > 0)
		BIO_set_retry_write(b);
	return -1;
}

static long out_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	out_t *o = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH: {
		int rc = o->gather ? 0 : tail_send(o);
		if (rc > 0)
			BIO_set_retry_write(b);
		return rc == 0 ? 1 : -1;
	}
	case BIO_CTRL_WPENDING:
		return (long)(o->tail_len - o->tail_off);
	case BIO_C_GET_FD:
		if (ptr)
			*(int *)ptr = o->fd;
		return o->fd;
	case BIO_CTRL_PUSH:
	case BIO_CTRL_POP:
		return 0;
	default:
		return 0;
	}
}

static int out_create(BIO *b)
{
	out_t *o = calloc(1, sizeof(*o));
	if (!o)
		return 0;
	o->fd = -1;
	BIO_set_data(b, o);
	BIO_set_init(b, 1);
	return 1;
}

static int out_destroy(BIO *b)
{
	out_t *o = BIO_get_data(b);
	if (o) {
		free(o->tail);
		BIO_free(o->sock);
		free(o);
	}
	BIO_set_data(b, NULL);
	return 1;
}

static int method_ready(void)
{
	BIO_METHOD *m;
	int type;

	if (method)
		return 0;
	if ((type = BIO_get_new_index()) < 0)
		return -1;
	type |= BIO_TYPE_SOURCE_SINK;
	m = BIO_meth_new(type, "zkrelay gather");
	if (!m || !BIO_meth_set_write(m, out_write) || !BIO_meth_set_ctrl(m, out_ctrl) ||
	    !BIO_meth_set_create(m, out_create) || !BIO_meth_set_destroy(m, out_destroy)) {
		BIO_meth_free(m);
		return -1;
	}
	method = m;
	method_type = type;
	return 0;
}

/* ssl's gathering BIO if it has one attached, else NULL. */
static out_t *attached(SSL *ssl)
{
	BIO *w = SSL_get_wbio(ssl);
	return method && w && BIO_method_type(w) == method_type ? BIO_get_data(w) : NULL;
}

static out_t *attach(SSL *ssl)
{
	BIO *sock = SSL_get_wbio(ssl), *b;
	out_t *o = attached(ssl);
	int fd;

	if (o)
		return o;
	if (!sock || BIO_get_fd(sock, &fd) < 0 || method_ready())
		return NULL;
	b = spare ? spare : BIO_new(method);
	spare = NULL;
	if (!b || !BIO_up_ref(sock)) {
		BIO_free(b);
		return NULL;
	}
	o = BIO_get_data(b);
	o->sock = sock;
	o->fd = fd;
	/* SSL drops its reference to sock; ours keeps it for detach(). */
	SSL_set0_wbio(ssl, b);
	return o;
}

/* Gives ssl its socket BIO back once nothing is left over. */
static void detach(SSL *ssl, out_t *o)
{
	BIO *b = SSL_get_wbio(ssl), *sock = o->sock;

	if (o->tail || o->gather || o->failed || !BIO_up_ref(b))
		return;
	o->sock = NULL;
	o->fd = -1;
	/* Our reference to sock passes to SSL; SSL drops its one to b. */
	SSL_set0_wbio(ssl, sock);
	if (!spare)
		spare = b;
	else
		BIO_free(b);
}

int tlsout_begin(SSL *ssl)
{
	out_t *o = ssl ? attach(ssl) : NULL;
	if (!o)
		return -1;
	o->gather = 1;
	o->accepted = 0;
	stage_len = 0;
	return 0;
}

int tlsout_end(SSL *ssl)
{
	out_t *o = ssl ? attached(ssl) : NULL;
	int rc;

	if (!o)
		return 0;
	o->gather = 0;
	rc = o->failed ? -1 : stage_send(o);
	if (rc == 0 && o->tail)
		rc = 1; /* left over from a stage sent while gathering */
	if (rc == 0)
		detach(ssl, o);
	return rc;
}

int tlsout_flush(SSL *ssl)
{
	out_t *o = ssl ? attached(ssl) : NULL;
	int rc;

	if (!o)
		return 0;
	rc = o->failed ? -1 : tail_send(o);
	if (rc == 0)
		detach(ssl, o);
	return rc;
}

size_t tlsout_accepted(SSL *ssl)
{
	out_t *o = ssl ? attached(ssl) : NULL;
	return o ? o->accepted : 0;
}

size_t tlsout_left(SSL *ssl)
{
	out_t *o = ssl ? attached(ssl) : NULL;
	return o && o->tail ? o->tail_len - o->tail_off : 0;
}
