/* Frames through the relay: closed loop, open loop and the lagging
 * receiver. See scenario.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "procstat.h"
#include "scenario.h"
#include "scrape.h"

/* Closed loop without --frames: this much payload per pair and size,
 * within these bounds, so every size takes a few seconds. */
#define CLOSED_BYTES (256ull << 20)
#define CLOSED_MAX_FRAMES 200000ull
#define CLOSED_MIN_FRAMES 2000ull
/* The lagging receiver's socket buffer: small, so that the backlog builds
 * up in the relay's queue and not in the kernel. */
#define LAG_RCVBUF 32768
#define LAG_FRAME_BYTES 1024
#define DWELL_HIST "zkrelay_frame_dwell_seconds"

/* Random bytes stand in for ciphertext: the relay's plaintext guard must
 * pass them. One buffer serves every frame; the receivers compare against
 * it. */
static uint8_t g_payload[BENCH_MAX_FRAME];

/* ---- endpoints -------------------------------------------------------- */

/* Pair i: practice-a for even i, practice-b for odd; client-k sends to
 * safe-k with k = i / 2 + 1. */
static void pair_names(size_t i, const char **practice, char *sender, char *receiver,
		       size_t cap)
{
	*practice = i % 2 == 0 ? "practice-a" : "practice-b";
	snprintf(sender, cap, "client-%zu", i / 2 + 1);
	snprintf(receiver, cap, "safe-%zu", i / 2 + 1);
}

/* Every certificate and key the pairs need, before a relay starts. */
static int check_pki(const bench_opts_t *o, size_t npairs)
{
	static const char *const roles[] = { "client", "safe" };
	char names[2][32], path[600];
	const char *practice;
	int k, e, missing = 0;

	for (size_t i = 0; i < npairs; i++) {
		pair_names(i, &practice, names[0], names[1], sizeof(names[0]));
		for (k = 0; k < 2; k++)
			for (e = 0; e < 2; e++) {
				snprintf(path, sizeof(path), "%s/%s/%s.%s", o->pki, practice,
					 names[k], e ? "key" : "crt");
				if (access(path, R_OK) == 0)
					continue;
				fprintf(stderr, "zkrelay-bench: %s: %s\n", path, strerror(errno));
				if (e == 0)
					fprintf(stderr, "  issue it with: deploy/dev-pki.sh %s issue "
							"%s %s %s\n", o->pki, practice, roles[k],
						names[k]);
				missing = 1;
			}
	}
	return missing ? -1 : 0;
}

static int connect_pairs(const relayproc_t *rp, load_pair_t *pairs, size_t npairs,
			 int rcvbuf)
{
	char sender[32], receiver[32], err[600];
	const char *practice;

	for (size_t i = 0; i < npairs; i++) {
		pair_names(i, &practice, sender, receiver, sizeof(sender));
		if (load_pair_connect(&pairs[i], rp->port, rp->pki, practice, sender, receiver,
				      rcvbuf, err, sizeof(err)) < 0) {
			fprintf(stderr, "zkrelay-bench: %s\n", err);
			return -1;
		}
	}
	return 0;
}

static void close_pairs(load_pair_t *pairs, size_t npairs)
{
	for (size_t i = 0; i < npairs; i++)
		load_pair_close(&pairs[i]);
}

/* ---- one run ------------------------------------------------------------ */

static int run_load(const char *name, relayproc_t *rp, load_pair_t *pairs, size_t npairs,
		    load_params_t *lp, load_result_t *lr)
{
	char err[600], how[64];

	lp->payload = g_payload;
	lp->relay_pid = rp->pid;
	lp->stall_ms = BENCH_STALL_MS;
	if (load_run(pairs, npairs, lp, lr, err, sizeof(err)) < 0) {
		fprintf(stderr, "zkrelay-bench: %s: FAILED: %s\n", name, err);
		return -1;
	}
	if (!relayproc_alive(rp)) {
		fprintf(stderr, "zkrelay-bench: %s: the relay %s\n", name,
			relayproc_how(rp, how, sizeof(how)));
		return -1;
	}
	return 0;
}

static void report_rate(const char *name, const load_result_t *lr, size_t bytes)
{
	double fps = lr->wall_s > 0 ? (double)lr->frames / lr->wall_s : 0;
	double busy = lr->wall_s > 0 ? (double)lr->relay_cpu_us / 1e6 / lr->wall_s : 0;

	printf("%s: %llu frames in %.2f s: %.0f frames/s, %.1f MB/s of payload\n", name,
	       (unsigned long long)lr->frames, lr->wall_s, fps, fps * (double)bytes / 1e6);
	printf("%s: relay CPU %.2f s = %.2f us/frame (busy %.0f%% of one core); "
	       "load generator CPU %.2f us/frame\n", name, (double)lr->relay_cpu_us / 1e6,
	       (double)lr->relay_cpu_us / (double)lr->frames, busy * 100,
	       (double)lr->self_cpu_us / (double)lr->frames);
	fflush(stdout);
}

static uint64_t closed_frames(const bench_opts_t *o, size_t bytes)
{
	uint64_t n = CLOSED_BYTES / bytes;

	if (o->frames)
		return o->frames;
	return n > CLOSED_MAX_FRAMES ? CLOSED_MAX_FRAMES : n < CLOSED_MIN_FRAMES ?
	       CLOSED_MIN_FRAMES : n;
}

static int run_closed(const bench_opts_t *o, relayproc_t *rp, load_pair_t *pairs,
		      size_t idx, size_t per_msg, bench_results_t *rs, double *fps)
{
	size_t bytes = (size_t)o->sizes[idx];
	load_params_t lp = { .stream = (uint32_t)idx + 1, .frame_bytes = bytes,
			     .frames = closed_frames(o, bytes), .per_message = per_msg };
	load_result_t lr;
	bench_result_t *r;
	char name[32], sz[16];

	bench_size_name(bytes, sz, sizeof(sz));
	snprintf(name, sizeof(name), "relay_%s", sz);
	if (o->window_bytes > 0) {
		/* At least one message, or a sender could never send. */
		lp.window = o->window_bytes / bytes;
		if (lp.window < per_msg)
			lp.window = per_msg;
	}
	printf("%s: closed loop, %llu pairs x %llu frames of %zu B, %zu frames/message, ",
	       name, (unsigned long long)o->pairs, (unsigned long long)lp.frames, bytes,
	       per_msg);
	if (lp.window > 0)
		printf("window %llu frames/pair\n", (unsigned long long)lp.window);
	else
		printf("no window (relay backpressure only)\n");
	fflush(stdout);
	if (run_load(name, rp, pairs, (size_t)o->pairs, &lp, &lr) < 0)
		return -1;
	report_rate(name, &lr, bytes);
	r = bench_result_add(rs, name);
	if (r == NULL)
		return -1;
	r->frame_bytes = (long long)bytes;
	r->frames_per_s = *fps = lr.wall_s > 0 ? (double)lr.frames / lr.wall_s : 0;
	r->cpu_us_per_frame = (double)lr.relay_cpu_us / (double)lr.frames;
	return 0;
}

/* The dwell histogram now; -1 when /metrics cannot be read. */
static int dwell_now(const relayproc_t *rp, scrape_hist_t *h)
{
	char *text = scrape_fetch(rp->ops_port);
	int rc = text ? scrape_hist(text, DWELL_HIST, h) : -1;

	free(text);
	if (rc < 0)
		fprintf(stderr, "zkrelay-bench: cannot read %s from /metrics on port %d\n",
			DWELL_HIST, rp->ops_port);
	return rc;
}

static void report_dwell(const char *name, size_t bytes, const scrape_hist_t *h0,
			 const scrape_hist_t *h1, bench_results_t *rs)
{
	static const double qs[] = { 0.5, 0.99, 0.999 };
	double b[3];
	uint64_t n = 0;
	bench_result_t *r;

	for (size_t i = 0; i < 3; i++)
		b[i] = scrape_quantile(h0, h1, qs[i], &n);
	printf("%s: relay dwell over %llu frames (histogram buckets 50, 100, 250, 500 us, "
	       "1 ms ...): p50 <= %.0f us, p99 <= %.0f us, p99.9 <= %.0f us\n", name,
	       (unsigned long long)n, b[0] * 1e6, b[1] * 1e6, b[2] * 1e6);
	r = bench_result_add(rs, name);
	if (r == NULL)
		return;
	r->frame_bytes = (long long)bytes;
	/* The bucket's upper bound: what the histogram can promise. */
	r->p99_us = isinf(b[1]) ? 1e9 : b[1] < 0 ? 0 : b[1] * 1e6;
}

static int run_open(const bench_opts_t *o, relayproc_t *rp, load_pair_t *pairs, size_t idx,
		    size_t per_msg, double max_fps, bench_results_t *rs)
{
	size_t bytes = (size_t)o->sizes[idx];
	uint64_t rate = o->rate ? o->rate : (uint64_t)(max_fps / 2);
	load_params_t lp = { .stream = 100 + (uint32_t)idx, .frame_bytes = bytes,
			     .per_message = per_msg };
	scrape_hist_t h0, h1;
	load_result_t lr;
	bench_result_t *r;
	char name[32], dname[32], sz[16];

	bench_size_name(bytes, sz, sizeof(sz));
	snprintf(name, sizeof(name), "open_%s", sz);
	snprintf(dname, sizeof(dname), "dwell_%s", sz);
	lp.rate = rate / o->pairs ? rate / o->pairs : 1;
	lp.frames = lp.rate * o->open_ms / 1000;
	if (lp.frames == 0)
		lp.frames = 1;
	printf("%s: open loop, %llu pairs x %llu frames/s of %zu B for %llu ms (%s)\n", name,
	       (unsigned long long)o->pairs, (unsigned long long)lp.rate, bytes,
	       (unsigned long long)o->open_ms, o->rate ? "--rate" : "half the closed-loop max");
	fflush(stdout);
	if (dwell_now(rp, &h0) < 0 || run_load(name, rp, pairs, (size_t)o->pairs, &lp, &lr) < 0 ||
	    dwell_now(rp, &h1) < 0)
		return -1;
	report_rate(name, &lr, bytes);
	printf("%s: end-to-end latency p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us\n",
	       name, lr.p50_us, lr.p99_us, lr.p999_us, lr.max_us);
	r = bench_result_add(rs, name);
	if (r == NULL)
		return -1;
	r->frame_bytes = (long long)bytes;
	r->frames_per_s = lr.wall_s > 0 ? (double)lr.frames / lr.wall_s : 0;
	r->cpu_us_per_frame = (double)lr.relay_cpu_us / (double)lr.frames;
	r->p99_us = lr.p99_us;
	report_dwell(dname, bytes, &h0, &h1, rs);
	return 0;
}

static int flow_sizes(const bench_opts_t *o, relayproc_t *rp, load_pair_t *pairs,
		      bench_results_t *rs)
{
	for (size_t i = 0; i < o->nsizes; i++) {
		size_t bytes = (size_t)o->sizes[i];
		size_t per_msg = load_frames_per_message(&pairs[0], bytes, (size_t)o->batch);
		double fps = 0;

		if (per_msg == 0) {
			fprintf(stderr, "zkrelay-bench: a %zu-byte frame does not fit the relay's "
					"limits (max_message_bytes %u, max_payload_bytes %u)\n",
				bytes, pairs[0].max_message_bytes, pairs[0].max_payload_bytes);
			return -1;
		}
		if ((o->scenarios & SC_CLOSED) &&
		    run_closed(o, rp, pairs, i, per_msg, rs, &fps) < 0)
			return -1;
		if (!(o->scenarios & SC_OPEN))
			continue;
		if (fps <= 0 && o->rate == 0) {
			fprintf(stderr, "zkrelay-bench: the open loop needs --rate or the closed "
					"loop of the same size\n");
			return -1;
		}
		if (run_open(o, rp, pairs, i, per_msg, fps, rs) < 0)
			return -1;
	}
	return 0;
}

int scenario_flow(const bench_opts_t *o, bench_results_t *rs)
{
	load_pair_t pairs[BENCH_MAX_PAIRS];
	relayproc_t rp;
	int ok = 0;

	if (check_pki(o, (size_t)o->pairs) < 0)
		return -1;
	if (RAND_bytes(g_payload, sizeof(g_payload)) != 1) {
		fprintf(stderr, "zkrelay-bench: RAND_bytes failed\n");
		return -1;
	}
	memset(pairs, 0, sizeof(pairs));
	if (bench_relay_start(&rp, o, NULL) < 0)
		return -1;
	if (connect_pairs(&rp, pairs, (size_t)o->pairs, 0) == 0) {
		printf("relay: max_message_bytes %u, max_payload_bytes %u (from Welcome)\n",
		       pairs[0].max_message_bytes, pairs[0].max_payload_bytes);
		ok = flow_sizes(o, &rp, pairs, rs) == 0;
	}
	close_pairs(pairs, (size_t)o->pairs);
	return bench_relay_stop(&rp, ok);
}

/* ---- the lagging receiver -------------------------------------------------- */

typedef struct {
	uint64_t rss0, hwm1;
	double pauses0, pauses1;
	double qmax, qhigh;
} lag_mem_t;

static int metric(const relayproc_t *rp, const char *series, double *v)
{
	char *text = scrape_fetch(rp->ops_port);
	int rc = text ? scrape_value(text, series, v) : -1;

	free(text);
	if (rc < 0)
		fprintf(stderr, "zkrelay-bench: cannot read %s from /metrics\n", series);
	return rc;
}

/* Zero loss is the load's own check; here: was the sender held back, and
 * did the relay's memory stay within what its caps allow? */
static int lag_verdict(const bench_opts_t *o, const lag_mem_t *m, const load_result_t *lr)
{
	/* The queue may pass its cap by the rest of one message (the relay
	 * stops reading between messages), plus the receive buffer of that
	 * message and allocator slack. */
	double bound_kib = (m->qmax + 2.0 * (66560 + 1024)) / 1024 + 1024;
	double grew = (double)m->hwm1 - (double)m->rss0;
	int rc = 0;

	printf("lagging: %llu frames of %d B delivered in order, none lost; receiver sleeps "
	       "%llu us per message\n", (unsigned long long)lr->frames, LAG_FRAME_BYTES,
	       (unsigned long long)o->lag_delay_us);
	printf("lagging: sender paused %.0f times (backpressure); relay RSS %llu KiB before, "
	       "peak %llu KiB: grew %.0f KiB (queue_high_water %.0f KiB, queue_max_bytes "
	       "%.0f KiB; bound %.0f KiB)\n", m->pauses1 - m->pauses0,
	       (unsigned long long)m->rss0, (unsigned long long)m->hwm1, grew, m->qhigh / 1024,
	       m->qmax / 1024, bound_kib);
	if (m->pauses1 - m->pauses0 < 1) {
		fprintf(stderr, "zkrelay-bench: lagging: FAILED: the sender was never paused\n");
		rc = -1;
	}
	if (grew > bound_kib && o->rss_unchecked) {
		printf("lagging: RSS bound not enforced (--no-rss-check)\n");
	} else if (grew > bound_kib) {
		fprintf(stderr, "zkrelay-bench: lagging: FAILED: relay RSS grew %.0f KiB, more "
				"than the queue caps allow (%.0f KiB)\n", grew, bound_kib);
		rc = -1;
	}
	return rc;
}

static int lag_run(const bench_opts_t *o, relayproc_t *rp, load_pair_t *pair,
		   bench_results_t *rs)
{
	load_params_t lp = { .stream = 7, .frame_bytes = LAG_FRAME_BYTES,
			     .frames = o->lag_frames,
			     .receiver_delay_us = (uint32_t)o->lag_delay_us };
	load_result_t lr;
	lag_mem_t m = { 0 };
	bench_result_t *r;

	lp.per_message = load_frames_per_message(pair, LAG_FRAME_BYTES, (size_t)o->batch);
	if (metric(rp, "zkrelay_backpressure_pauses_total", &m.pauses0) < 0 ||
	    procstat_rss_kib(rp->pid, &m.rss0) < 0)
		return -1;
	printf("lagging: 1 pair x %llu frames of %d B, no window, receiver socket buffer %d B\n",
	       (unsigned long long)lp.frames, LAG_FRAME_BYTES, LAG_RCVBUF);
	fflush(stdout);
	if (run_load("lagging", rp, pair, 1, &lp, &lr) < 0)
		return -1;
	if (metric(rp, "zkrelay_backpressure_pauses_total", &m.pauses1) < 0 ||
	    procstat_peak_rss_kib(rp->pid, &m.hwm1) < 0)
		return -1;
	m.qmax = 1 << 20;       /* the relay's defaults, which this relay runs */
	m.qhigh = 512 << 10;
	report_rate("lagging", &lr, LAG_FRAME_BYTES);
	if (lag_verdict(o, &m, &lr) < 0)
		return -1;
	r = bench_result_add(rs, "lagging");
	if (r == NULL)
		return -1;
	r->frame_bytes = LAG_FRAME_BYTES;
	r->frames_per_s = lr.wall_s > 0 ? (double)lr.frames / lr.wall_s : 0;
	r->cpu_us_per_frame = (double)lr.relay_cpu_us / (double)lr.frames;
	return 0;
}

int scenario_lag(const bench_opts_t *o, bench_results_t *rs)
{
	load_pair_t pair;
	relayproc_t rp;
	int ok = 0;

	if (check_pki(o, 1) < 0)
		return -1;
	if (RAND_bytes(g_payload, sizeof(g_payload)) != 1)
		return -1;
	memset(&pair, 0, sizeof(pair));
	if (bench_relay_start(&rp, o, NULL) < 0)
		return -1;
	if (connect_pairs(&rp, &pair, 1, LAG_RCVBUF) == 0)
		ok = lag_run(o, &rp, &pair, rs) == 0;
	close_pairs(&pair, 1);
	return bench_relay_stop(&rp, ok);
}
