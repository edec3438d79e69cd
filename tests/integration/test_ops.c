/* Operations: the plain-HTTP ops listener (/metrics, /healthz, /readyz
 * and nothing else, requests bounded), the metrics a real exchange moves,
 * /readyz turning 503 as SIGTERM starts the drain, systemd's notify
 * protocol on $NOTIFY_SOCKET (readiness, reload, stop, watchdog), and
 * pseudonymous endpoint names in the log. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"

#define SAFE_A "practice-a/safe-1"
#define CLIENT_A "practice-a/client-1"

#define R_TOKEN_INVALID ZKRELAY__V1__REASON__REASON_TOKEN_INVALID

/* Strings no scrape may ever contain: practice and endpoint ids, peer
 * addresses. */
static const char *const forbidden[] = { "practice-a", "practice-b", "client-1", "safe-1",
					 "127.0.0.1" };

/* ---------------------------------------------------------------------- */
/* Starting a relay with its ops listener on. */


/* Starts h with [ops] listen on a free port (another one if that port was
 * taken in the meantime); the ops port. */
static int start_with_ops(harness_t *h)
{
	char listen[64];
	int port = -1;

	ck_assert_ptr_nonnull(h);
	for (int attempt = 0; attempt < 3; attempt++) {
		port = harness_free_port();
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

/* ---------------------------------------------------------------------- */
/* A small HTTP client: one request per connection, read to the end. */

typedef struct {
	int status;      /* 0: the connection ended without a status line */
	int ended;       /* the relay closed the connection (EOF or reset) */
	char ctype[128]; /* Content-Type */
	long clen;       /* Content-Length, -1 if none */
	char *raw;       /* everything received, NUL-terminated */
	size_t rawlen;
	const char *body;
	size_t blen;
} http_t;

static void http_free(http_t *r)
{
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

static int tcp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends what it can (the relay may close early); 0, or -1 on an error. */
static int send_all(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until the relay ends the connection or timeout_ms pass. */
static void read_to_end(int fd, http_t *r, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	size_t cap = 0;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - harness_now_ms();
		char buf[16384];
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r->ended = 1;
			break;
		}
		if (r->rawlen + (size_t)n + 1 > cap) {
			char *np;

			cap = (r->rawlen + (size_t)n + 1) * 2;
			np = realloc(r->raw, cap);
			ck_assert_ptr_nonnull(np);
			r->raw = np;
		}
		memcpy(r->raw + r->rawlen, buf, (size_t)n);
		r->rawlen += (size_t)n;
		r->raw[r->rawlen] = '\0';
	}
}

static void parse_response(http_t *r)
{
	const char *end, *p;

	r->clen = -1;
	if (r->raw == NULL || sscanf(r->raw, "HTTP/1.1 %3d ", &r->status) != 1) {
		r->status = 0;
		return;
	}
	end = strstr(r->raw, "\r\n\r\n");
	if (end == NULL)
		return;
	r->body = end + 4;
	r->blen = r->rawlen - (size_t)(r->body - r->raw);
	for (p = strstr(r->raw, "\r\n"); p != NULL && p < end; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, "Content-Type:", 13) == 0) {
			const char *v = p + 15, *e = strstr(v, "\r\n");

			while (*v == ' ')
				v++;
			snprintf(r->ctype, sizeof(r->ctype), "%.*s", (int)(e - v), v);
		} else if (strncasecmp(p + 2, "Content-Length:", 15) == 0) {
			r->clen = strtol(p + 17, NULL, 10);
		}
	}
}

/* Sends req whole on a new connection and reads the answer. */
static void http_raw(int port, const void *req, size_t len, http_t *r)
{
	int fd = tcp_connect(port);

	memset(r, 0, sizeof(*r));
	ck_assert_msg(fd >= 0, "ops port %d: connect: %s", port, strerror(errno));
	(void)send_all(fd, req, len);
	read_to_end(fd, r, WAIT_MS);
	close(fd);
	parse_response(r);
}

static void http_req(int port, const char *method, const char *path, http_t *r)
{
	char req[512];
	int n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				    "User-Agent: zkrelay-itest\r\nAccept: */*\r\n\r\n",
			 method, path);

	http_raw(port, req, (size_t)n, r);
}

/* GET path, which must answer want_status with a whole body. */
static void expect_get(int port, const char *path, int want_status, http_t *r)
{
	http_req(port, "GET", path, r);
	ck_assert_msg(r->status == want_status, "GET %s: status %d, expected %d (%.200s)", path,
		      r->status, want_status, r->raw ? r->raw : "nothing received");
	ck_assert_msg(r->ended, "GET %s: connection not closed after the answer", path);
	ck_assert_msg(r->clen >= 0 && (size_t)r->clen == r->blen,
		      "GET %s: Content-Length %ld, body %zu bytes", path, r->clen, r->blen);
}

/* ---------------------------------------------------------------------- */
/* Scrapes. */

/* The value of the sample whose name and labels are exactly series
 * (e.g. zkrelay_connections_open{role="safe"}); fails if absent. */
static double sample(const char *body, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = body; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			char *end;
			double v = strtod(p + n + 1, &end);

			ck_assert_msg(end != p + n + 1 && (*end == '\n' || *end == '\0'),
				      "%s: bad value", series);
			return v;
		}
	}
	ck_abort_msg("no sample %s in the scrape", series);
	return 0;
}

/* Every sample's family has a # TYPE line before it (# HELP is checked
 * in full by the unit suite). */
static void expect_typed(const char *body)
{
	static const char *const suffixes[] = { "", "_bucket", "_sum", "_count" };
	char type[200], name[160];

	for (const char *p = body; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		size_t n = strcspn(p, "{ \n");
		int found = 0;

		if (*p == '#' || *p == '\n')
			continue;
		ck_assert_uint_lt(n, sizeof(name));
		for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]) && !found; i++) {
			size_t m = strlen(suffixes[i]);
			const char *t;

			if (n <= m || strncmp(p + n - m, suffixes[i], m) != 0)
				continue;
			snprintf(name, sizeof(name), "%.*s", (int)(n - m), p);
			snprintf(type, sizeof(type), "# TYPE %s ", name);
			t = strstr(body, type);
			found = t != NULL && t < p && (t == body || t[-1] == '\n');
		}
		ck_assert_msg(found, "sample without a # TYPE before it: %.*s", (int)n, p);
	}
}

/* GET /metrics: 200, the 0.0.4 content type, typed samples, nothing that
 * names a practice, endpoint or address. A malloc'd body. */
static char *scrape(int port)
{
	http_t r;
	char *body;

	expect_get(port, "/metrics", 200, &r);
	ck_assert_msg(strncmp(r.ctype, "text/plain; version=0.0.4", 25) == 0,
		      "Content-Type \"%s\"", r.ctype);
	body = strndup(r.body, r.blen);
	ck_assert_ptr_nonnull(body);
	ck_assert_msg(strlen(body) == r.blen, "NUL byte in the metrics");
	http_free(&r);
	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		ck_assert_msg(strstr(body, forbidden[i]) == NULL, "the metrics contain \"%s\"",
			      forbidden[i]);
	expect_typed(body);
	return body;
}

static double scrape_one(int port, const char *series)
{
	char *body = scrape(port);
	double v = sample(body, series);

	free(body);
	return v;
}

/* ---------------------------------------------------------------------- */

/* A client/safe exchange, a refused destination and a bad token move the
 * counters they should; the connection gauges show the two endpoints. */
/* `promtool check metrics` (Prometheus's own linter) on a scrape taken
 * after connections, refusals and traffic: exit 0 and not one warning. */
static void promtool_check(harness_t *h, const char *body)
{
	const char *in = harness_path(h, "scrape.txt"), *out = harness_path(h, "promtool.out");
	char cmd[1400], msg[512] = "";
	FILE *f = fopen(in, "w");
	int status;

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(body, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' > '%s' 2>&1", in, out);
	status = system(cmd);
	f = fopen(out, "r");
	if (f) {
		size_t n = fread(msg, 1, sizeof(msg) - 1, f);
		msg[n] = '\0';
		fclose(f);
	}
	ck_assert_msg(status == 0 && msg[0] == '\0', "promtool check metrics: status %d: %s",
		      status, msg);
}

START_TEST(test_metrics_exchange)
{
	enum { N = 10 };
	harness_t *h = harness_new("opsmetrics");
	int port = start_with_ops(h);
	tclient_opts_t o;
	tclient_t *safe, *client, *bad;
	double no_route, invalid, refused_tok;
	char *body;
	int rc;

	body = scrape(port);
	ck_assert(sample(body, "zkrelay_frames_relayed_total") == 0);
	ck_assert(sample(body, "zkrelay_connections_open{role=\"safe\"}") == 0);
	ck_assert(sample(body, "zkrelay_ready") == 1);
	free(body);

	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(client, h, "practice-a", "client-1");
	for (uint64_t i = 0; i < N / 2; i++) {
		SEND(client, SAFE_A, 1, 2 * i, 300, TAG(1, 2 * i, 0));
		EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 1, 2 * i, 300, TAG(1, 2 * i, 0));
		SEND(safe, CLIENT_A, 1, 2 * i + 1, 300, TAG(1, 2 * i + 1, 0));
		EXPECT_DATA(client, WAIT_MS, SAFE_A, 1, 2 * i + 1, 300, TAG(1, 2 * i + 1, 0));
	}

	body = scrape(port);
	ck_assert_msg(sample(body, "zkrelay_frames_relayed_total") >= N,
		      "frames_relayed_total %g after %d frames",
		      sample(body, "zkrelay_frames_relayed_total"), N);
	ck_assert(sample(body, "zkrelay_bytes_relayed_total") >= N * 300);
	ck_assert(sample(body, "zkrelay_connections_open{role=\"safe\"}") == 1);
	ck_assert(sample(body, "zkrelay_connections_open{role=\"client\"}") == 1);
	ck_assert(sample(body, "zkrelay_connections_open{role=\"pending\"}") == 0);
	ck_assert_msg(sample(body, "zkrelay_tls_handshakes_total{result=\"ok\"}") >= 2,
		      "tls_handshakes ok %g",
		      sample(body, "zkrelay_tls_handshakes_total{result=\"ok\"}"));
	ck_assert(sample(body, "zkrelay_token_verifications_total{result=\"ok\"}") >= 1);
	ck_assert(sample(body, "zkrelay_tls_handshake_duration_seconds_count") >= 2);
	ck_assert_msg(sample(body, "zkrelay_frame_dwell_seconds_count") >= N,
		      "frame_dwell_seconds_count %g after %d delivered frames",
		      sample(body, "zkrelay_frame_dwell_seconds_count"), N);
	no_route = sample(body, "zkrelay_frames_refused_total{reason=\"no_route\"}");
	invalid = sample(body, "zkrelay_token_verifications_total{result=\"invalid\"}");
	refused_tok = sample(body, "zkrelay_frames_refused_total{reason=\"token_invalid\"}");
	free(body);

	/* Destinations nobody may reach: one nack each, counted as no_route. */
	SEND(client, "practice-a/safe-9", 2, 1, 100, TAG(2, 1, 0));
	EXPECT_NACK(client, 2, 1, R_NO_ROUTE);
	SEND(safe, "practice-z/client-1", 2, 2, 100, TAG(2, 2, 0));
	EXPECT_NACK(safe, 2, 2, R_NO_ROUTE);
	ck_assert(scrape_one(port, "zkrelay_frames_refused_total{reason=\"no_route\"}") ==
		  no_route + 2);

	/* A hello whose token does not verify. */
	harness_client_opts(h, &o, "practice-a", "client-2");
	bad = tclient_new(&o);
	ck_assert_ptr_nonnull(bad);
	rc = tclient_connect(bad);
	ck_assert_msg(rc == 0, "connect: %d (%s)", rc, tclient_error(bad));
	ck_assert_int_eq(tclient_send_hello(bad, "v4.public.bm90IGEgdG9rZW4"), 0);
	EXPECT_CLOSE_FRAME(bad, R_TOKEN_INVALID);
	tclient_free(bad);
	body = scrape(port);
	promtool_check(h, body);
	ck_assert(sample(body, "zkrelay_token_verifications_total{result=\"invalid\"}") ==
		  invalid + 1);
	ck_assert(sample(body, "zkrelay_frames_refused_total{reason=\"token_invalid\"}") ==
		  refused_tok + 1);
	free(body);

	/* Without [log] pseudonymize the log names the endpoint (the
	 * pseudonym test below relies on this being where names appear). */
	ck_assert_msg(harness_log_find(h, "\"event\":\"connection_open\"",
				       "\"endpoint\":\"practice-a/client-1\"", NULL),
		      "no connection_open naming practice-a/client-1; see %s",
		      harness_log_path(h));

	/* Gone connections leave the gauge. */
	tclient_free(client);
	for (int64_t t0 = harness_now_ms();; harness_sleep_ms(20)) {
		if (scrape_one(port, "zkrelay_connections_open{role=\"client\"}") == 0)
			break;
		ck_assert_msg(harness_now_ms() - t0 < WAIT_MS, "client still counted as open");
	}
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* /healthz and /readyz answer 200; every other path, method or shape of
 * request is 404 (or a closed connection), never 200. */
START_TEST(test_ops_paths)
{
	static const char *const not_found[][2] = {
		{ "GET", "/" },          { "GET", "/metrics/x" }, { "GET", "/admin" },
		{ "POST", "/metrics" },  { "GET", "/metricsx" },  { "GET", "/healthz/" },
		{ "PUT", "/readyz" },    { "HEAD", "/metrics" },  { "GET", "/METRICS" },
		{ "GET", "/metrics?x=1" }, { "DELETE", "/healthz" },
	};
	static const char *const garbage[] = {
		"GET /metrics\r\n\r\n",
		"garbage\r\n\r\n",
		"\x01\x02\x03\xff\r\n\r\n",
		"GET  /metrics HTTP/1.1\r\n\r\n",
		"GET /metrics SPDY/3\r\n\r\n",
		"get /metrics HTTP/1.1\r\n\r\n",
		"GET http://127.0.0.1/metrics HTTP/1.1\r\n\r\n",
		"\r\n\r\n",
	};
	harness_t *h = harness_new("opspaths");
	int port = start_with_ops(h);
	char req[1600];
	http_t r;
	int n;

	expect_get(port, "/healthz", 200, &r);
	ck_assert_msg(r.blen >= 2 && strncmp(r.body, "ok", 2) == 0, "healthz body \"%.*s\"",
		      (int)r.blen, r.body);
	http_free(&r);
	expect_get(port, "/readyz", 200, &r);
	http_free(&r);

	for (size_t i = 0; i < sizeof(not_found) / sizeof(not_found[0]); i++) {
		http_req(port, not_found[i][0], not_found[i][1], &r);
		ck_assert_msg(r.status == 404, "%s %s: status %d, expected 404", not_found[i][0],
			      not_found[i][1], r.status);
		http_free(&r);
	}
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		http_raw(port, garbage[i], strlen(garbage[i]), &r);
		ck_assert_msg(r.status == 404 || (r.status == 0 && r.ended),
			      "request %zu (\"%.20s\"): status %d, ended %d", i, garbage[i],
			      r.status, r.ended);
		http_free(&r);
	}

	/* Headers are read and ignored, up to the bound. */
	n = snprintf(req, sizeof(req), "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: %01400d\r\n\r\n",
		     0);
	http_raw(port, req, (size_t)n, &r);
	ck_assert_msg(r.status == 200, "a 1.4 KiB request: status %d", r.status);
	http_free(&r);
	/* The same request in pieces. */
	{
		int fd = tcp_connect(port);

		ck_assert_int_ge(fd, 0);
		memset(&r, 0, sizeof(r));
		for (int k = 0; k < n; k += 100) {
			ck_assert_int_eq(send_all(fd, req + k, (size_t)(n - k < 100 ? n - k : 100)),
					 0);
			harness_sleep_ms(5);
		}
		read_to_end(fd, &r, WAIT_MS);
		close(fd);
		parse_response(&r);
		ck_assert_msg(r.status == 200, "a request in pieces: status %d", r.status);
		http_free(&r);
	}
	harness_free(h);
}
END_TEST

/* A relay that has just started is healthy: /healthz answers 200 from
 * the moment the ops port accepts, not only after the loop's first tick. */
START_TEST(test_healthz_at_start)
{
	harness_t *h = harness_new("opshealth");
	int port = start_with_ops(h);
	http_t r;

	http_req(port, "GET", "/healthz", &r);
	ck_assert_msg(r.status == 200, "/healthz right after start: %d (%.*s)", r.status,
		      (int)r.blen, r.body ? r.body : "");
	http_free(&r);
	harness_free(h);
}
END_TEST

/* The bounds: a request over 2 KiB is closed unanswered, one that never
 * ends is closed after the 5 s deadline, and at most 16 are served at
 * once (the 17th is closed) without stopping the ones after. */
START_TEST(test_ops_bounds)
{
	enum { MAX_CLIENTS = 16 };
	harness_t *h = harness_new("opsbounds");
	int port = start_with_ops(h);
	static char big[3000];
	int slow, held[MAX_CLIENTS], extra;
	int64_t t_slow;
	http_t r;
	int n;

	/* Never finishes its request: must be cut after about 5 s. */
	slow = tcp_connect(port);
	ck_assert_int_ge(slow, 0);
	ck_assert_int_eq(send_all(slow, "GET /metrics HTTP/1.1\r\n", 23), 0);
	t_slow = harness_now_ms();

	/* Over 2 KiB, headers not yet ended: closed without an answer. */
	n = snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nX-Pad: ");
	memset(big + n, 'a', sizeof(big) - (size_t)n);
	memcpy(big + sizeof(big) - 4, "\r\n\r\n", 4);
	http_raw(port, big, sizeof(big), &r);
	ck_assert_msg(r.status != 200, "a 3000-byte request was answered 200");
	ck_assert_msg(r.ended && r.status == 0, "a 3000-byte request: status %d, ended %d",
		      r.status, r.ended);
	http_free(&r);
	/* Just over the bound, the terminator last; and just under it. */
	n = snprintf(big, sizeof(big), "GET /healthz HTTP/1.1\r\nX-Pad: ");
	memset(big + n, 'b', 2049 - (size_t)n);
	memcpy(big + 2049 - 4, "\r\n\r\n", 4);
	http_raw(port, big, 2049, &r);
	ck_assert_msg(r.status != 200, "a 2049-byte request was answered 200");
	http_free(&r);
	memcpy(big + 2000 - 4, "\r\n\r\n", 4);
	http_raw(port, big, 2000, &r);
	ck_assert_msg(r.status == 200, "a 2000-byte request: status %d", r.status);
	http_free(&r);

	/* 16 at once (the slow one is one of them) ... */
	for (int i = 0; i < MAX_CLIENTS - 1; i++) {
		held[i] = tcp_connect(port);
		ck_assert_int_ge(held[i], 0);
	}
	harness_sleep_ms(200);
	/* ... the 17th is closed at once, unanswered. */
	extra = tcp_connect(port);
	ck_assert_int_ge(extra, 0);
	(void)send_all(extra, "GET /healthz HTTP/1.1\r\n\r\n", 25);
	memset(&r, 0, sizeof(r));
	read_to_end(extra, &r, 2000);
	close(extra);
	parse_response(&r);
	ck_assert_msg(r.status != 200 && r.ended, "17th connection: status %d, ended %d",
		      r.status, r.ended);
	http_free(&r);
	/* Room again once the held ones go. */
	for (int i = 0; i < MAX_CLIENTS - 1; i++)
		close(held[i]);
	for (int64_t t0 = harness_now_ms();; harness_sleep_ms(20)) {
		http_req(port, "GET", "/healthz", &r);
		n = r.status;
		http_free(&r);
		if (n == 200)
			break;
		ck_assert_msg(harness_now_ms() - t0 < 2000, "no room after the held connections "
							     "closed (status %d)", n);
	}

	/* The slow request is cut near the deadline, unanswered. */
	memset(&r, 0, sizeof(r));
	read_to_end(slow, &r, (int)(t_slow + 8000 - harness_now_ms()));
	close(slow);
	parse_response(&r);
	ck_assert_msg(r.ended, "an unfinished request still open after 8 s");
	ck_assert_msg(r.status == 0, "an unfinished request answered %d", r.status);
	ck_assert_msg(harness_now_ms() - t_slow >= 4000, "an unfinished request cut after %lld ms",
		      (long long)(harness_now_ms() - t_slow));
	ck_assert_msg(harness_running(h), "relay gone");
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* SIGTERM: not ready first, while connections still drain. */

/* practice-a/safe-1 with a small receive buffer that it never reads. */
static tclient_t *slow_safe(harness_t *h)
{
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, "practice-a", "safe-1");
	o.rcvbuf = 8192;
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	if (rc == 0)
		rc = tclient_hello(c, "", NULL);
	ck_assert_msg(rc == 0, "safe: %d (%s)", rc, tclient_error(c));
	return c;
}

START_TEST(test_readyz_on_sigterm)
{
	enum { DRAIN_S = 3 };
	const long long total = (long long)itest_kernel_sndbuf_max() + (2ll << 20);
	harness_t *h = harness_new("opsready");
	tclient_t *safe, *client;
	int port, count, saw_503 = 0, status = -1;
	int64_t t0;
	http_t r;

	ck_assert_ptr_nonnull(h);
	harness_set_int(h, "timeouts", "drain_s", DRAIN_S);
	harness_set_int(h, "limits", "queue_max_bytes", 2 * total);
	harness_set_int(h, "limits", "queue_high_water", 2 * total - 65536);
	harness_set_int(h, "limits", "queue_low_water", 65536);
	port = start_with_ops(h);
	safe = slow_safe(h);
	ENDPOINT(client, h, "practice-a", "client-1");
	count = (int)(total / 16384);
	for (int i = 0; i < count; i++)
		SEND(client, SAFE_A, 6, (uint64_t)i, 16384, TAG(6, i, 0));
	harness_sleep_ms(300);
	ck_assert_msg(scrape_one(port, "zkrelay_queued_bytes") > 0, "nothing queued for the safe");
	expect_get(port, "/readyz", 200, &r);
	http_free(&r);

	t0 = harness_now_ms();
	ck_assert_int_eq(harness_signal(h, SIGTERM), 0);
	while (harness_now_ms() - t0 < 1000) {
		http_req(port, "GET", "/readyz", &r);
		ck_assert_msg(r.status == 200 || r.status == 503, "/readyz during drain: %d",
			      r.status);
		saw_503 = r.status == 503;
		http_free(&r);
		if (saw_503)
			break;
		harness_sleep_ms(10);
	}
	ck_assert_msg(saw_503, "/readyz not 503 within 1 s of SIGTERM");
	ck_assert_msg(harness_running(h), "relay exited before /readyz was seen 503");
	/* Still draining: alive, not ready, and saying so in the metrics. */
	expect_get(port, "/healthz", 200, &r);
	http_free(&r);
	ck_assert(scrape_one(port, "zkrelay_ready") == 0);
	ck_assert_msg(harness_now_ms() - t0 < DRAIN_S * 1000, "checks ran past the drain");

	ck_assert_msg(harness_wait_exit(h, (DRAIN_S + 4) * 1000, &status) == 0, "%s",
		      harness_error(h));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0x%x", status);
	/* The ops port went with it. */
	{
		int fd = tcp_connect(port);

		ck_assert_msg(fd < 0, "ops port still accepting after exit");
	}
	tclient_free(client);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* systemd notify */

/* A datagram socket at path (a file, or with a leading '@' a name in the
 * abstract namespace), as systemd would bind it. */
static int notify_bind(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(path);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_msg(n < sizeof(sa.sun_path), "socket path too long: %s", path);
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	ck_assert_msg(bind(fd, (struct sockaddr *)&sa,
			   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) == 0,
		      "bind %s: %s", path, strerror(errno));
	return fd;
}

/* The next datagram within timeout_ms into buf; 0, or -1 if none came. */
static int notify_recv(int fd, int timeout_ms, char *buf, size_t cap)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
		return -1;
	n = recv(fd, buf, cap - 1, 0);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strcmp(buf, "READY=1") == 0 || strcmp(buf, "RELOADING=1") == 0 ||
			      strcmp(buf, "STOPPING=1") == 0 || strcmp(buf, "WATCHDOG=1") == 0,
		      "unexpected notification \"%s\"", buf);
	return 0;
}

/* The next notification other than WATCHDOG=1 must be want. */
static void expect_state(int fd, const char *want)
{
	int64_t deadline = harness_now_ms() + WAIT_MS;
	char buf[256];

	for (;;) {
		int rc = notify_recv(fd, (int)(deadline - harness_now_ms()), buf, sizeof(buf));

		ck_assert_msg(rc == 0, "no %s within %d ms", want, WAIT_MS);
		if (strcmp(buf, "WATCHDOG=1") == 0)
			continue;
		ck_assert_msg(strcmp(buf, want) == 0, "got \"%s\", expected \"%s\"", buf, want);
		return;
	}
}

START_TEST(test_notify)
{
	harness_t *h = harness_new("notify");
	const char *path;
	int64_t stamps[64], t0;
	size_t nstamps = 0;
	char buf[256];
	int fd, status = -1;

	ck_assert_ptr_nonnull(h);
	path = harness_path(h, "notify.sock");
	fd = notify_bind(path);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "400000", 1), 0);
	ck_assert_int_eq(unsetenv("WATCHDOG_PID"), 0);
	START(h);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	expect_state(fd, "READY=1");

	/* WATCHDOG=1 every half WatchdogSec: about every 200 ms. */
	t0 = harness_now_ms();
	while (harness_now_ms() - t0 < 1500) {
		if (notify_recv(fd, (int)(t0 + 1500 - harness_now_ms()), buf, sizeof(buf)) != 0)
			break;
		ck_assert_msg(strcmp(buf, "WATCHDOG=1") == 0, "unprompted \"%s\"", buf);
		ck_assert_uint_lt(nstamps, sizeof(stamps) / sizeof(stamps[0]));
		stamps[nstamps++] = harness_now_ms();
	}
	ck_assert_msg(nstamps >= 5 && nstamps <= 10, "%zu WATCHDOG=1 in 1.5 s, expected about 7",
		      nstamps);
	{
		int64_t mean = (stamps[nstamps - 1] - stamps[0]) / (int64_t)(nstamps - 1);
		int64_t worst = 0;

		for (size_t i = 1; i < nstamps; i++)
			if (stamps[i] - stamps[i - 1] > worst)
				worst = stamps[i] - stamps[i - 1];
		ck_assert_msg(mean >= 150 && mean <= 260, "WATCHDOG=1 every %lld ms on average",
			      (long long)mean);
		ck_assert_msg(worst < 500, "a %lld ms gap between WATCHDOG=1", (long long)worst);
	}

	/* SIGHUP: RELOADING=1, then READY=1 again. */
	ck_assert_int_eq(harness_signal(h, SIGHUP), 0);
	expect_state(fd, "RELOADING=1");
	expect_state(fd, "READY=1");
	ck_assert_msg(harness_log_wait(h, WAIT_MS, "\"event\":\"reloaded\"", NULL),
		      "no reloaded line; see %s", harness_log_path(h));

	/* SIGTERM: STOPPING=1, and no READY=1 after it. */
	ck_assert_int_eq(harness_signal(h, SIGTERM), 0);
	expect_state(fd, "STOPPING=1");
	ck_assert_msg(harness_wait_exit(h, WAIT_MS, &status) == 0, "%s", harness_error(h));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0x%x", status);
	while (notify_recv(fd, 0, buf, sizeof(buf)) == 0)
		ck_assert_msg(strcmp(buf, "WATCHDOG=1") == 0, "\"%s\" after STOPPING=1", buf);
	close(fd);
	harness_free(h);
}
END_TEST

/* A watchdog meant for another process (WATCHDOG_PID) is not ours: READY=1
 * still comes, WATCHDOG=1 never. The abstract namespace ('@') works. */
START_TEST(test_notify_watchdog_not_ours)
{
	harness_t *h = harness_new("notifypid");
	char path[108], buf[256];
	int64_t t0;
	int fd;

	ck_assert_ptr_nonnull(h);
	snprintf(path, sizeof(path), "@zkrelay-itest-%d-%lld", (int)getpid(),
		 (long long)harness_now_ms());
	fd = notify_bind(path);
	ck_assert_int_eq(setenv("NOTIFY_SOCKET", path, 1), 0);
	ck_assert_int_eq(setenv("WATCHDOG_USEC", "400000", 1), 0);
	ck_assert_int_eq(setenv("WATCHDOG_PID", "1", 1), 0);
	START(h);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	ck_assert_int_eq(notify_recv(fd, WAIT_MS, buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "READY=1");
	t0 = harness_now_ms();
	while (harness_now_ms() - t0 < 700) {
		int left = (int)(t0 + 700 - harness_now_ms());

		ck_assert_msg(notify_recv(fd, left, buf, sizeof(buf)) != 0,
			      "\"%s\" without a watchdog of ours", buf);
	}
	close(fd);
	harness_free(h);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* [log] pseudonymize */

/* The "endpoint" of the k-th (0-based) log line holding every one of the
 * given substrings (NULL-terminated), into out; waits for the line. */
static void log_endpoint(harness_t *h, int k, char *out, size_t cap, ...)
{
	const char *subs[8];
	int nsubs = 0, seen = 0;
	int64_t deadline = harness_now_ms() + WAIT_MS;
	va_list ap;

	va_start(ap, cap);
	while (nsubs < 8 && (subs[nsubs] = va_arg(ap, const char *)) != NULL)
		nsubs++;
	va_end(ap);
	for (;;) {
		FILE *f = fopen(harness_log_path(h), "r");
		char *line = NULL;
		size_t lcap = 0;

		seen = 0;
		while (f != NULL && getline(&line, &lcap, f) >= 0) {
			int all = 1;

			for (int i = 0; i < nsubs && all; i++)
				all = strstr(line, subs[i]) != NULL;
			if (all && seen++ == k) {
				const char *p = strstr(line, "\"endpoint\":\"");
				size_t n;

				ck_assert_msg(p != NULL, "no endpoint field in %s", line);
				p += 12;
				n = strcspn(p, "\"");
				ck_assert_uint_lt(n, cap);
				memcpy(out, p, n);
				out[n] = '\0';
				free(line);
				fclose(f);
				return;
			}
		}
		free(line);
		if (f != NULL)
			fclose(f);
		ck_assert_msg(harness_now_ms() < deadline, "log line %d with %s not found; see %s",
			      k, subs[0], harness_log_path(h));
		harness_sleep_ms(10);
	}
}

static int is_pseudonym(const char *s)
{
	if (strncmp(s, "ep-", 3) != 0 || strlen(s) != 19)
		return 0;
	for (s += 3; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return 0;
	return 1;
}

/* Every connection-level line names its endpoint by a pseudonym; no line
 * holds an endpoint address. */
static void expect_log_pseudonymous(harness_t *h)
{
	static const char *const events[] = { "\"event\":\"connection_open\"",
					      "\"event\":\"connection_closed\"",
					      "\"event\":\"connection_replaced\"" };
	static const char *const addrs[] = { "practice-a/client-1", "practice-a/client-2",
					     "practice-a/safe-1" };
	FILE *f = fopen(harness_log_path(h), "r");
	char *line = NULL;
	size_t cap = 0;
	int events_seen = 0;

	ck_assert_ptr_nonnull(f);
	while (getline(&line, &cap, f) >= 0) {
		for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
			ck_assert_msg(strstr(line, addrs[i]) == NULL, "log names %s: %s", addrs[i],
				      line);
		for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
			const char *p;
			char ep[64];
			size_t n;

			if (strstr(line, events[i]) == NULL)
				continue;
			p = strstr(line, "\"endpoint\":\"");
			ck_assert_msg(p != NULL, "connection event without an endpoint: %s", line);
			p += 12;
			n = strcspn(p, "\"");
			ck_assert_uint_lt(n, sizeof(ep));
			memcpy(ep, p, n);
			ep[n] = '\0';
			ck_assert_msg(is_pseudonym(ep), "endpoint \"%s\" is no ep-<16 hex>: %s", ep,
				      line);
			events_seen++;
		}
	}
	free(line);
	fclose(f);
	ck_assert_int_gt(events_seen, 0);
}

START_TEST(test_log_pseudonymize)
{
	harness_t *h = harness_new("pseudo");
	tclient_t *safe, *client, *again, *third, *other;
	char s[64], c1[64], c1_closed[64], c1_again[64], c1_replaced[64], c2[64], c1_next[64];
	int status = -1;

	ck_assert_ptr_nonnull(h);
	harness_set(h, "log", "pseudonymize", "true");
	START(h);
	ENDPOINT(safe, h, "practice-a", "safe-1");
	log_endpoint(h, 0, s, sizeof(s), "\"event\":\"connection_open\"", "\"role\":\"safe\"",
		     NULL);
	ENDPOINT(client, h, "practice-a", "client-1");
	log_endpoint(h, 0, c1, sizeof(c1), "\"event\":\"connection_open\"", "\"role\":\"client\"",
		     NULL);
	SEND(client, SAFE_A, 1, 1, 200, TAG(1, 1, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 1, 1, 200, TAG(1, 1, 0));
	ck_assert_msg(is_pseudonym(s) && is_pseudonym(c1), "safe \"%s\", client \"%s\"", s, c1);
	ck_assert_str_ne(s, c1);

	/* The same endpoint keeps its pseudonym: closed, again, replaced. */
	tclient_free(client);
	log_endpoint(h, 0, c1_closed, sizeof(c1_closed), "\"event\":\"connection_closed\"", NULL);
	ck_assert_str_eq(c1_closed, c1);
	ENDPOINT(again, h, "practice-a", "client-1");
	log_endpoint(h, 1, c1_again, sizeof(c1_again), "\"event\":\"connection_open\"",
		     "\"role\":\"client\"", NULL);
	ck_assert_str_eq(c1_again, c1);
	ENDPOINT(third, h, "practice-a", "client-1");
	EXPECT_CLOSE_FRAME(again, R_REPLACED);
	log_endpoint(h, 0, c1_replaced, sizeof(c1_replaced), "\"event\":\"connection_replaced\"",
		     NULL);
	ck_assert_str_eq(c1_replaced, c1);
	/* Another endpoint has another. */
	ENDPOINT(other, h, "practice-a", "client-2");
	log_endpoint(h, 3, c2, sizeof(c2), "\"event\":\"connection_open\"", "\"role\":\"client\"",
		     NULL);
	ck_assert(is_pseudonym(c2));
	ck_assert_str_ne(c2, c1);
	ck_assert_str_ne(c2, s);
	tclient_free(again);
	tclient_free(third);
	tclient_free(other);
	tclient_free(safe);
	ck_assert_msg(harness_stop(h, &status) == 0, "%s", harness_error(h));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status 0x%x", status);
	expect_log_pseudonymous(h);

	/* A new run has a new key: the same endpoint, another pseudonym. The
	 * first run's log moves aside, so that its listening line cannot be
	 * taken for the new run's. */
	ck_assert_int_eq(rename(harness_log_path(h), harness_path(h, "relay-run1.log")), 0);
	START(h);
	ENDPOINT(client, h, "practice-a", "client-1");
	log_endpoint(h, 0, c1_next, sizeof(c1_next), "\"event\":\"connection_open\"",
		     "\"role\":\"client\"", NULL);
	ck_assert(is_pseudonym(c1_next));
	ck_assert_str_ne(c1_next, c1);
	tclient_free(client);
	expect_log_pseudonymous(h);
	harness_free(h);
}
END_TEST

Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *http = tcase_create("http");
	TCase *lifecycle = tcase_create("lifecycle");
	TCase *log = tcase_create("log");

	tcase_set_timeout(http, 30);
	tcase_set_timeout(lifecycle, 30);
	tcase_set_timeout(log, 30);
	tcase_add_test(http, test_metrics_exchange);
	tcase_add_test(http, test_ops_paths);
	tcase_add_test(http, test_healthz_at_start);
	tcase_add_test(http, test_ops_bounds);
	tcase_add_test(lifecycle, test_readyz_on_sigterm);
	tcase_add_test(lifecycle, test_notify);
	tcase_add_test(lifecycle, test_notify_watchdog_not_ours);
	tcase_add_test(log, test_log_pseudonymize);
	suite_add_tcase(s, http);
	suite_add_tcase(s, lifecycle);
	suite_add_tcase(s, log);
	return s;
}
