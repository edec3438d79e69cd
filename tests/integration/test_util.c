/* Helpers several suites share. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "itest.h"

tclient_t *itest_tcp_only(harness_t *h)
{
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, NULL, NULL);
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect_tcp(c);
	ck_assert_msg(rc == 0, "TCP connect: %d (%s)", rc, tclient_error(c));
	return c;
}

/* Connects as practice/endpoint, retrying for up to timeout_ms while the
 * relay may still count a connection that was just closed. */
tclient_t *itest_endpoint_retry(harness_t *h, const char *practice, const char *endpoint,
				 int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		int rc;
		tclient_t *c = harness_endpoint(h, practice, endpoint, &rc);

		ck_assert_ptr_nonnull(c);
		if (rc == 0)
			return c;
		ck_assert_msg(harness_now_ms() < deadline, "%s/%s still refused: %d (%s)", practice,
			      endpoint, rc, tclient_error(c));
		tclient_free(c);
		harness_sleep_ms(100);
	}
}

/* Connected (TLS, WebSocket) as the endpoint, before hello. */
tclient_t *itest_open_conn(harness_t *h, const char *practice, const char *endpoint)
{
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, practice, endpoint);
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc == 0, "%s/%s: connect: %d (%s)", practice, endpoint, rc, tclient_error(c));
	return c;
}

/* Starts the relay with its ops listener on a free port; returns the port.
 * Retries with another port if that one was taken in the meantime. */
int itest_start_with_ops(harness_t *h)
{
	char listen[64];

	ck_assert_ptr_nonnull(h);
	for (int attempt = 0; attempt < 3; attempt++) {
		int port = harness_free_port();

		ck_assert_int_gt(port, 0);
		snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
		harness_set(h, "ops", "listen", listen);
		if (harness_start(h) == 0)
			return port;
		if (!harness_log_find(h, "\"event\":\"startup_failed\"", "[ops] listen", NULL))
			break;
	}
	ck_abort_msg("relay start: %s", harness_error(h));
	return -1;
}

/* GET /metrics on the ops port: the whole answer (headers and body),
 * NUL-terminated, malloc'd. */
char *itest_scrape(int port)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	ssize_t n;

	ck_assert_ptr_nonnull(out);
	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_msg(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "ops connect: %s",
		      strerror(errno));
	ck_assert_int_eq(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL), (ssize_t)sizeof(req) - 1);
	while ((n = recv(fd, out + len, cap - len - 1, 0)) > 0) {
		len += (size_t)n;
		if (cap - len < 4096) {
			char *p = realloc(out, cap * 2);
			ck_assert_ptr_nonnull(p);
			out = p;
			cap *= 2;
		}
	}
	close(fd);
	out[len] = '\0';
	ck_assert_msg(strncmp(out, "HTTP/1.1 200 ", 13) == 0, "scrape: %.100s", out);
	return out;
}

/* The value of the sample named exactly series in a scrape; -1 if absent. */
double itest_sample(const char *scrape, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = strstr(scrape, "\r\n\r\n"); p; p = strchr(p + 1, '\n'))
		if (strncmp(p + 1, series, n) == 0 && p[n + 1] == ' ')
			return strtod(p + n + 2, NULL);
	return -1;
}
