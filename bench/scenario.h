/* The benchmark's scenarios, their options and their results.
 *
 *   relay_SIZE   closed loop: the most frames/s the pairs get through
 *   open_SIZE    open loop at a fixed rate (half of relay_SIZE's unless
 *                --rate): end-to-end latency percentiles
 *   dwell_SIZE   the same run seen from the relay: its frame dwell-time
 *                histogram (/metrics), as the upper bound of the bucket
 *                holding the percentile
 *   idle         K idle mTLS WebSocket connections: relay RSS per connection
 *   reconnect    the same K dropped at once and reconnected: full mTLS
 *                handshakes (with upgrade and Hello) per second and relay
 *                CPU per handshake
 *   lagging      one receiver reads slowly: no frame lost, its sender
 *                paused, relay RSS growth within the queue caps
 *
 * Each scenario group runs on a relay of its own, so one group's
 * allocations do not hide in another's figures. */
#ifndef ZK_BENCH_SCENARIO_H
#define ZK_BENCH_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include "load.h"
#include "relayproc.h"

#define BENCH_MAX_PAIRS 64
#define BENCH_MAX_SIZES 8
#define BENCH_MAX_RESULTS 64
#define BENCH_MAX_FRAME 65535u
#define BENCH_STALL_MS 10000

enum {
	SC_CLOSED = 1 << 0,
	SC_OPEN = 1 << 1,
	SC_IDLE = 1 << 2,
	SC_RECONNECT = 1 << 3,
	SC_LAG = 1 << 4,
	SC_ALL = (1 << 5) - 1,
};

typedef struct {
	const char *relay;
	const char *pki;
	unsigned scenarios;       /* SC_* */
	uint64_t pairs;
	uint64_t frames;          /* closed loop, per pair and size; 0: by size */
	uint64_t sizes[BENCH_MAX_SIZES];
	size_t nsizes;
	uint64_t batch;
	uint64_t window_bytes;
	uint64_t timeout_s;
	uint64_t rate;            /* open loop, frames/s over all pairs; 0: half max */
	uint64_t open_ms;         /* open loop duration per size */
	uint64_t idle;            /* idle connections */
	uint64_t storm;           /* of them, reconnected at once */
	uint64_t threads;         /* connecting threads */
	uint64_t lag_frames;
	uint64_t lag_delay_us;    /* the lagging receiver's sleep per message */
	int rss_unchecked;        /* report the lagging RSS bound, do not enforce it */
} bench_opts_t;

/* One output line; a negative figure is omitted. */
typedef struct {
	char name[32];
	long long frame_bytes;
	double frames_per_s;
	double cpu_us_per_frame;
	double p99_us;
	double rss_kib_per_conn;
} bench_result_t;

typedef struct {
	bench_result_t r[BENCH_MAX_RESULTS];
	size_t n;
} bench_results_t;

/* A new result line with every figure omitted; NULL when full. */
bench_result_t *bench_result_add(bench_results_t *rs, const char *name);
/* "64b", "1k", "16k", "64k" (65535 is the largest payload: "64k"). */
void bench_size_name(size_t bytes, char *out, size_t cap);

/* Closed and open loop over every size, on one relay. 0 or -1. */
int scenario_flow(const bench_opts_t *o, bench_results_t *rs);
/* Idle connections, then the reconnect storm, on one relay. 0 or -1. */
int scenario_fleet(const bench_opts_t *o, bench_results_t *rs);
/* The lagging receiver, on one relay. 0 or -1. */
int scenario_lag(const bench_opts_t *o, bench_results_t *rs);

/* Shared by the scenario files: start the relay (extra INI text or NULL)
 * and stop it, saying what went wrong. */
int bench_relay_start(relayproc_t *rp, const bench_opts_t *o, const char *extra);
int bench_relay_stop(relayproc_t *rp, int ok);
/* The relay's CPU time (µs) now; -1 when it is gone. */
long long bench_relay_cpu_us(const relayproc_t *rp);

#endif
