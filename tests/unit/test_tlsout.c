/* Gathered TLS records (relay/tlsout.c): over a real TLS 1.3 connection on
 * a socketpair, what a gather writes arrives whole and in order, one send
 * carries many records, what a full socket does not take is kept and sent
 * first, and the socket BIO is back once nothing is left over. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "suites.h"
#include "tlsout.h"

typedef struct {
	SSL_CTX *sctx, *cctx;
	SSL *server, *client;
	int fd[2];
} pair_t;

static void nonblocking(int fd)
{
	ck_assert_int_ne(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), -1);
}

/* A server with a throwaway self-signed certificate and a client that
 * does not check it, both TLS 1.3, handshaken over a socketpair whose
 * send buffers are small, so that a few records fill them. */
static void pair_open(pair_t *p)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	int small = 4096, done_s = 0, done_c = 0;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	ck_assert_int_ne(X509_sign(x, key, EVP_sha256()), 0);

	p->sctx = SSL_CTX_new(TLS_server_method());
	p->cctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(p->sctx);
	ck_assert_ptr_nonnull(p->cctx);
	ck_assert_int_eq(SSL_CTX_set_min_proto_version(p->sctx, TLS1_3_VERSION), 1);
	ck_assert_int_eq(SSL_CTX_set_min_proto_version(p->cctx, TLS1_3_VERSION), 1);
	ck_assert_int_eq(SSL_CTX_use_certificate(p->sctx, x), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey(p->sctx, key), 1);
	ck_assert_int_eq(SSL_CTX_set_num_tickets(p->sctx, 0), 1);
	X509_free(x);
	EVP_PKEY_free(key);

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
	for (int i = 0; i < 2; i++) {
		nonblocking(p->fd[i]);
		ck_assert_int_eq(setsockopt(p->fd[i], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
		ck_assert_int_eq(setsockopt(p->fd[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	}
	p->server = SSL_new(p->sctx);
	p->client = SSL_new(p->cctx);
	ck_assert_int_eq(SSL_set_fd(p->server, p->fd[0]), 1);
	ck_assert_int_eq(SSL_set_fd(p->client, p->fd[1]), 1);
	SSL_set_accept_state(p->server);
	SSL_set_connect_state(p->client);
	for (int i = 0; i < 1000 && !(done_s && done_c); i++) {
		if (!done_s)
			done_s = SSL_do_handshake(p->server) == 1;
		if (!done_c)
			done_c = SSL_do_handshake(p->client) == 1;
	}
	ck_assert(done_s && done_c);
}

static void pair_close(pair_t *p)
{
	SSL_free(p->server);
	SSL_free(p->client);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->cctx);
	close(p->fd[0]);
	close(p->fd[1]);
}

/* Reads what the client has, up to cap bytes in all, into got. */
static size_t client_read(pair_t *p, uint8_t *got, size_t have, size_t cap)
{
	int n;
	while (have < cap && (n = SSL_read(p->client, got + have, (int)(cap - have))) > 0)
		have += (size_t)n;
	return have;
}

static int wbio_is_socket(SSL *ssl)
{
	return BIO_method_type(SSL_get_wbio(ssl)) == BIO_TYPE_SOCKET;
}

/* Messages written in one gather arrive whole and in order, and the
 * records of all of them leave in one send: the client gets nothing
 * before tlsout_end(). */
START_TEST(test_gather_in_order)
{
	pair_t p;
	static uint8_t sent[3 * 5000], got[sizeof(sent)];
	uint8_t probe[16];

	pair_open(&p);
	ck_assert_int_eq(RAND_bytes(sent, sizeof(sent)), 1);
	ck_assert_int_eq(tlsout_begin(p.server), 0);
	ck_assert(!wbio_is_socket(p.server));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(SSL_write(p.server, sent + i * 5000, 5000), 5000);
	ck_assert_uint_gt(tlsout_accepted(p.server), sizeof(sent));
	ck_assert_int_le(SSL_read(p.client, probe, sizeof(probe)), 0); /* nothing sent yet */
	ERR_clear_error();
	/* The client reads between sends: the buffers are small. */
	int out = tlsout_end(p.server);
	size_t have = 0;
	for (int i = 0; i < 10000 && (out == 1 || have < sizeof(sent)); i++) {
		have = client_read(&p, got, have, sizeof(got));
		if (out == 1)
			out = tlsout_flush(p.server);
	}
	ck_assert_int_eq(out, 0);
	ck_assert_uint_eq(have, sizeof(sent));
	ck_assert_mem_eq(got, sent, sizeof(sent));
	ck_assert_uint_eq(tlsout_left(p.server), 0);
	ck_assert(wbio_is_socket(p.server)); /* nothing left: socket BIO back */
	pair_close(&p);
}
END_TEST

/* A socket that takes only part of a gather: the rest stays with the
 * connection (tlsout_left counts it, and they are the last bytes handed
 * over), a write outside a gather waits behind it (SSL_write wants to
 * write), and once the peer reads, everything arrives in order. */
START_TEST(test_full_socket_keeps_rest)
{
	pair_t p;
	static uint8_t sent[64 * 1024], got[sizeof(sent) + 100];
	const uint8_t after[] = "after the gather";
	size_t have = 0, left;
	int out;

	pair_open(&p);
	ck_assert_int_eq(RAND_bytes(sent, sizeof(sent)), 1);
	ck_assert_int_eq(tlsout_begin(p.server), 0);
	ck_assert_int_eq(SSL_write(p.server, sent, sizeof(sent)), (int)sizeof(sent));
	out = tlsout_end(p.server);
	ck_assert_int_eq(out, 1); /* far more than the socket buffers hold */
	left = tlsout_left(p.server);
	ck_assert_uint_gt(left, 0);
	ck_assert_uint_lt(left, tlsout_accepted(p.server));
	ck_assert(!wbio_is_socket(p.server));
	ck_assert_int_eq(tlsout_flush(p.server), 1); /* nobody read: still full */

	/* Outside a gather a record waits behind what is left. */
	int n = SSL_write(p.server, after, sizeof(after));
	ck_assert_int_le(n, 0);
	ck_assert_int_eq(SSL_get_error(p.server, n), SSL_ERROR_WANT_WRITE);
	ERR_clear_error();

	for (int i = 0; i < 100000 && (out != 0 || n <= 0); i++) {
		have = client_read(&p, got, have, sizeof(got));
		ERR_clear_error();
		if (out != 0) {
			out = tlsout_flush(p.server);
			ck_assert_int_ge(out, 0);
			ck_assert_uint_le(tlsout_left(p.server), left); /* only ever shrinks */
			left = tlsout_left(p.server);
		} else if (n <= 0) {
			n = SSL_write(p.server, after, sizeof(after)); /* same arguments, as OpenSSL asks */
			ERR_clear_error();
		}
	}
	ck_assert_int_eq(n, (int)sizeof(after));
	for (int i = 0; i < 100000 && have < sizeof(sent) + sizeof(after); i++) {
		have = client_read(&p, got, have, sizeof(sent) + sizeof(after));
		ERR_clear_error();
	}
	ck_assert_uint_eq(have, sizeof(sent) + sizeof(after));
	ck_assert_mem_eq(got, sent, sizeof(sent));
	ck_assert_mem_eq(got + sizeof(sent), after, sizeof(after));
	ck_assert(wbio_is_socket(p.server));
	pair_close(&p);
}
END_TEST

/* A peer that is gone: the send fails and so does every later one. */
START_TEST(test_socket_failure)
{
	pair_t p;
	static uint8_t sent[8192];

	pair_open(&p);
	ck_assert_int_eq(RAND_bytes(sent, sizeof(sent)), 1);
	ck_assert_int_eq(shutdown(p.fd[1], SHUT_RD), 0);
	ck_assert_int_eq(tlsout_begin(p.server), 0);
	ck_assert_int_eq(SSL_write(p.server, sent, sizeof(sent)), (int)sizeof(sent));
	ck_assert_int_eq(tlsout_end(p.server), -1);
	ck_assert_int_eq(tlsout_flush(p.server), -1);
	ck_assert_int_le(SSL_write(p.server, sent, 16), 0);
	ERR_clear_error();
	pair_close(&p);
}
END_TEST

/* Without a gather there is nothing to do. */
START_TEST(test_nothing_attached)
{
	pair_t p;

	pair_open(&p);
	ck_assert_int_eq(tlsout_end(p.server), 0);
	ck_assert_int_eq(tlsout_flush(p.server), 0);
	ck_assert_uint_eq(tlsout_left(p.server), 0);
	ck_assert_uint_eq(tlsout_accepted(p.server), 0);
	ck_assert(wbio_is_socket(p.server));
	ck_assert_int_eq(tlsout_begin(NULL), -1);
	pair_close(&p);
}
END_TEST

Suite *tlsout_suite(void)
{
	Suite *s = suite_create("tlsout");
	TCase *tc = tcase_create("tlsout");

	tcase_add_test(tc, test_gather_in_order);
	tcase_add_test(tc, test_full_socket_keeps_rest);
	tcase_add_test(tc, test_socket_failure);
	tcase_add_test(tc, test_nothing_attached);
	suite_add_tcase(s, tc);
	return s;
}
