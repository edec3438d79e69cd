/* Prometheus metrics, kept by hand (Debian has no C client library).
 *
 * Counters and histograms live in one metrics_t; gauges that describe the
 * present (connections by role, queued bytes, process figures) are read
 * from the relay when a scrape renders them. No label carries a practice,
 * endpoint, address or anything derived from a payload: every label value
 * comes from a fixed table here or from zk_err_name(). */
#ifndef RELAY_METRICS_H
#define RELAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "zkerr.h"

typedef enum { HS_OK, HS_FAILED, HS_TIMEOUT, HS_COUNT } metrics_hs_t;

typedef enum {
	REFUSE_TOTAL_CAP,
	REFUSE_PER_IP_CAP,
	REFUSE_DRAINING,
	REFUSE_SUBPROTOCOL,
	REFUSE_IDENTITY,
	REFUSE_UPGRADE_TIMEOUT,
	REFUSE_HELLO_TIMEOUT,
	REFUSE_BAD_UPGRADE,
	REFUSE_COUNT
} metrics_refuse_t;

#define METRICS_BUCKETS 14

typedef struct {
	uint64_t counts[METRICS_BUCKETS + 1]; /* last: +Inf */
	double sum;
	uint64_t n;
} metrics_hist_t;

typedef struct {
	uint64_t handshakes[HS_COUNT];
	uint64_t refused_conns[REFUSE_COUNT];
	uint64_t frames_relayed, bytes_relayed;
	uint64_t frames_refused[ZK_REASON_COUNT];
	uint64_t backpressure_pauses;
	uint64_t idle_timeouts;      /* hung up after idle_s without a frame */
	uint64_t token_ok, token_invalid;
	uint64_t reload_ok, reload_failed;
	double last_reload_ok; /* Unix seconds */
	metrics_hist_t dwell;     /* seconds a frame waited in the relay */
	metrics_hist_t handshake; /* seconds from accept to verified TLS */
} metrics_t;

/* Present-state figures the relay supplies at scrape time. */
typedef struct {
	uint64_t conns_safe, conns_client, conns_pending;
	uint64_t queued_bytes, queue_total_max;
	double cert_expiry;  /* server certificate notAfter, Unix seconds */
	double start_time;   /* Unix seconds */
	int ready;
	const char *version;
} metrics_now_t;

extern metrics_t metrics;

void metrics_observe(metrics_hist_t *h, double seconds, uint64_t count);
static inline void metrics_refused_frame(int reason)
{
	if (reason < 0)
		reason = reason < -ZK_REASON_COUNT ? ZK_REASON_COUNT : -reason;
	if (reason < ZK_REASON_COUNT)
		metrics.frames_refused[reason]++;
}
/* Renders the exposition text (format 0.0.4) into a malloc'd buffer.
 * 0 or -ZK_ENOMEM. */
int metrics_render(const metrics_now_t *now, char **out, size_t *len);

#endif
