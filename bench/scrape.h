/* The relay's /metrics, read over plain HTTP on its ops listener: the
 * dwell-time histogram, counters and gauges, before and after a
 * scenario. */
#ifndef ZK_BENCH_SCRAPE_H
#define ZK_BENCH_SCRAPE_H

#include <stddef.h>
#include <stdint.h>

#define SCRAPE_MAX_BUCKETS 32

typedef struct {
	double le[SCRAPE_MAX_BUCKETS];   /* upper bounds; the last is +Inf */
	uint64_t cum[SCRAPE_MAX_BUCKETS]; /* cumulative counts */
	size_t n;
} scrape_hist_t;

/* GET /metrics from 127.0.0.1:port. A malloc'd NUL-terminated body, or
 * NULL. */
char *scrape_fetch(int port);

/* The value of the series named exactly series (labels included, e.g.
 * zkrelay_connections_open{role="client"}). 0, or -1 if absent. */
int scrape_value(const char *text, const char *series, double *out);

/* The buckets of histogram name. 0, or -1 if absent or malformed. */
int scrape_hist(const char *text, const char *name, scrape_hist_t *out);

/* Of the observations made between before and after: how many (*count)
 * and the upper bound of the bucket holding the q-quantile, in seconds
 * (INFINITY for the +Inf bucket, -1 when there were none). The true
 * quantile lies between that bound and the one below it. */
double scrape_quantile(const scrape_hist_t *before, const scrape_hist_t *after, double q,
		       uint64_t *count);

#endif
