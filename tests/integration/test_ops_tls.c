/* The ops listener with TLS: scrapers must present a certificate from the
 * configured client CA; plain HTTP and certificate-less TLS get nothing. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"
#include "itest.h"

static int tcp_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect to ops port");
	return fd;
}

/* GET path over TLS; the HTTP status, or 0 if no response came. */
static int https_get(harness_t *h, int port, const char *practice, const char *endpoint,
		     const char *path, char *body, size_t cap)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	char req[128], resp[16384];
	int fd = tcp_to(port), n, total = 0, status = 0;

	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, harness_path(h, "pki/ca.crt"), NULL), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (practice) {
		ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx, harness_cert(h, practice, endpoint),
							      SSL_FILETYPE_PEM), 1);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, harness_key(h, practice, endpoint),
							     SSL_FILETYPE_PEM), 1);
	}
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (SSL_connect(ssl) == 1) {
		snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n", path);
		if (SSL_write(ssl, req, (int)strlen(req)) > 0)
			while (total < (int)sizeof(resp) - 1 &&
			       (n = SSL_read(ssl, resp + total, (int)sizeof(resp) - 1 - total)) > 0)
				total += n;
	}
	resp[total] = '\0';
	if (sscanf(resp, "HTTP/1.1 %d", &status) != 1)
		status = 0;
	if (body) {
		const char *b = strstr(resp, "\r\n\r\n");
		snprintf(body, cap, "%s", b ? b + 4 : "");
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	return status;
}

START_TEST(test_ops_tls_client_ca)
{
	harness_t *h = harness_new("opstls");
	char listen[64], body[16384], buf[256];
	int port = harness_free_port(), fd;
	ssize_t n;

	ck_assert_ptr_nonnull(h);
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	harness_set(h, "ops", "listen", listen);
	harness_set(h, "ops", "tls_cert_file", harness_path(h, "pki/server.crt"));
	harness_set(h, "ops", "tls_key_file", harness_path(h, "pki/server.key"));
	harness_set(h, "ops", "tls_client_ca_file", harness_path(h, "pki/ca.crt"));
	START(h);

	ck_assert_int_eq(https_get(h, port, "practice-a", "client-1", "/healthz", body,
				   sizeof(body)), 200);
	ck_assert_str_eq(body, "ok\n");
	ck_assert_int_eq(https_get(h, port, "practice-a", "client-1", "/metrics", body,
				   sizeof(body)), 200);
	ck_assert_ptr_nonnull(strstr(body, "zkrelay_build_info"));
	ck_assert_int_eq(https_get(h, port, "practice-a", "client-1", "/nope", NULL, 0), 404);
	/* No client certificate: the handshake fails, no response. */
	ck_assert_int_eq(https_get(h, port, NULL, NULL, "/metrics", NULL, 0), 0);
	/* Plain HTTP on the TLS port: no HTTP response ever. */
	fd = tcp_to(port);
	ck_assert_int_gt(write(fd, "GET /metrics HTTP/1.1\r\n\r\n", 25), 0);
	n = read(fd, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	ck_assert_msg(strstr(buf, "HTTP/1.1 200") == NULL, "plain HTTP answered: %s", buf);
	close(fd);
	harness_free(h);
}
END_TEST

Suite *ops_tls_suite(void)
{
	Suite *s = suite_create("ops_tls");
	TCase *tc = tcase_create("ops_tls");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ops_tls_client_ca);
	suite_add_tcase(s, tc);
	return s;
}
