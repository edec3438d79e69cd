/* /metrics over HTTP/1.0. See scrape.h. */
#include "scrape.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SCRAPE_TIMEOUT_MS 5000
#define SCRAPE_MAX_BYTES (4u << 20)

static int connect_loopback(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Everything until the server closes (HTTP/1.0), bounded in size and
 * time. */
static char *read_all(int fd, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1);

	while (buf != NULL) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, SCRAPE_TIMEOUT_MS) <= 0)
			break;
		if (n == cap) {
			char *nb = cap < SCRAPE_MAX_BYTES ? realloc(buf, cap * 2 + 1) : NULL;
			if (nb == NULL)
				break;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r <= 0) {
			buf[n] = '\0';
			*len = n;
			return r == 0 ? buf : (free(buf), NULL);
		}
		n += (size_t)r;
	}
	free(buf);
	return NULL;
}

char *scrape_fetch(int port)
{
	static const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	int fd = connect_loopback(port);
	char *resp, *body;
	size_t len = 0;

	if (fd < 0)
		return NULL;
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
		close(fd);
		return NULL;
	}
	resp = read_all(fd, &len);
	close(fd);
	if (resp == NULL)
		return NULL;
	body = strstr(resp, "\r\n\r\n");
	if (strncmp(resp, "HTTP/1.", 7) != 0 || strstr(resp, " 200 ") == NULL || body == NULL) {
		free(resp);
		return NULL;
	}
	memmove(resp, body + 4, len - (size_t)(body + 4 - resp) + 1);
	return resp;
}

/* The line that starts with series followed by a space. */
static const char *find_series(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p = text;

	while (p != NULL && *p != '\0') {
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return p + n + 1;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

int scrape_value(const char *text, const char *series, double *out)
{
	const char *v = find_series(text, series);
	char *end;

	if (v == NULL)
		return -1;
	*out = strtod(v, &end);
	return end == v ? -1 : 0;
}

int scrape_hist(const char *text, const char *name, scrape_hist_t *out)
{
	char prefix[160];
	size_t plen;
	const char *p = text;

	snprintf(prefix, sizeof(prefix), "%s_bucket{le=\"", name);
	plen = strlen(prefix);
	memset(out, 0, sizeof(*out));
	while (p != NULL && *p != '\0') {
		if (strncmp(p, prefix, plen) == 0) {
			const char *q = p + plen;
			char *end;

			if (out->n == SCRAPE_MAX_BUCKETS)
				return -1;
			out->le[out->n] = strncmp(q, "+Inf", 4) == 0 ? INFINITY : strtod(q, &end);
			q = strstr(q, "} ");
			if (q == NULL)
				return -1;
			out->cum[out->n++] = strtoull(q + 2, NULL, 10);
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return out->n > 0 && isinf(out->le[out->n - 1]) ? 0 : -1;
}

double scrape_quantile(const scrape_hist_t *before, const scrape_hist_t *after, double q,
		       uint64_t *count)
{
	uint64_t total, want;
	size_t i;

	*count = 0;
	if (before->n != after->n || after->n == 0)
		return -1;
	total = after->cum[after->n - 1] - before->cum[before->n - 1];
	*count = total;
	if (total == 0)
		return -1;
	want = (uint64_t)ceil(q * (double)total);
	if (want == 0)
		want = 1;
	for (i = 0; i < after->n; i++)
		if (after->cum[i] - before->cum[i] >= want)
			return after->le[i];
	return INFINITY;
}
