/* Idle connections and the reconnect storm. See scenario.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet.h"
#include "mint.h"
#include "procstat.h"
#include "scenario.h"
#include "scrape.h"

#define FLEET_PRACTICE "practice-a"
#define FLEET_AUD "zkrelay-bench"
/* After the connections are up: time for the relay to finish what the
 * last handshakes left (logs, freed handshake buffers) before RSS is read. */
#define SETTLE_MS 1000
#define GONE_WAIT_MS 30000
#define CLIENTS_SERIES "zkrelay_connections_open{role=\"client\"}"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int clients_open(const relayproc_t *rp, double *n)
{
	char *text = scrape_fetch(rp->ops_port);
	int rc = text ? scrape_value(text, CLIENTS_SERIES, n) : -1;

	free(text);
	return rc;
}

/* Connects every member that is not connected; relay CPU µs and seconds. */
static int connect_timed(fleet_t *f, const relayproc_t *rp, long long *cpu_us, double *wall)
{
	char err[600];
	long long c0 = bench_relay_cpu_us(rp), c1;
	double t0 = now_s();

	if (fleet_connect(f, err, sizeof(err)) < 0) {
		fprintf(stderr, "zkrelay-bench: %s\n", err);
		return -1;
	}
	*wall = now_s() - t0;
	c1 = bench_relay_cpu_us(rp);
	if (c0 < 0 || c1 < 0) {
		fprintf(stderr, "zkrelay-bench: the relay is gone\n");
		return -1;
	}
	*cpu_us = c1 - c0;
	return 0;
}

static int idle_run(const bench_opts_t *o, relayproc_t *rp, fleet_t *f, bench_results_t *rs)
{
	uint64_t rss0, rss1;
	long long cpu;
	double wall, open = 0;
	bench_result_t *r;

	if (procstat_rss_kib(rp->pid, &rss0) < 0)
		return -1;
	printf("idle: connecting %zu clients with %zu threads (mTLS, upgrade, Hello)\n", f->n,
	       f->threads);
	fflush(stdout);
	if (connect_timed(f, rp, &cpu, &wall) < 0)
		return -1;
	sleep_ms(SETTLE_MS);
	if (procstat_rss_kib(rp->pid, &rss1) < 0 || clients_open(rp, &open) < 0)
		return -1;
	if ((size_t)open != f->n) {
		fprintf(stderr, "zkrelay-bench: idle: FAILED: the relay counts %.0f clients, "
				"expected %zu\n", open, f->n);
		return -1;
	}
	printf("idle: %zu connected in %.2f s (%.0f/s), relay CPU %.0f us each\n", f->n, wall,
	       (double)f->n / wall, (double)cpu / (double)f->n);
	printf("idle: relay RSS %llu KiB before, %llu KiB with %zu idle connections: "
	       "%.1f KiB per connection\n", (unsigned long long)rss0, (unsigned long long)rss1,
	       f->n, ((double)rss1 - (double)rss0) / (double)f->n);
	fflush(stdout);
	if (!(o->scenarios & SC_IDLE))
		return 0;
	r = bench_result_add(rs, "idle");
	if (r == NULL)
		return -1;
	r->rss_kib_per_conn = ((double)rss1 - (double)rss0) / (double)f->n;
	return 0;
}

/* The relay must have seen the dropped sockets end before the storm, or
 * the storm would measure replacements. */
static int wait_gone(const relayproc_t *rp, size_t left)
{
	double open = -1;

	for (int waited = 0; waited < GONE_WAIT_MS; waited += 50) {
		if (clients_open(rp, &open) < 0)
			return -1;
		if ((size_t)open <= left)
			return 0;
		sleep_ms(50);
	}
	fprintf(stderr, "zkrelay-bench: reconnect: the relay still counts %.0f clients, "
			"expected %zu\n", open, left);
	return -1;
}

static int storm_run(const bench_opts_t *o, relayproc_t *rp, fleet_t *f, bench_results_t *rs)
{
	size_t n = (size_t)o->storm, i;
	long long cpu;
	double wall;
	bench_result_t *r;

	for (i = 0; i < n; i++) {
		tclient_free(f->conns[i]);
		f->conns[i] = NULL;
	}
	if (wait_gone(rp, f->n - n) < 0)
		return -1;
	printf("reconnect: %zu clients dropped at once, reconnecting with %zu threads\n", n,
	       f->threads);
	fflush(stdout);
	if (connect_timed(f, rp, &cpu, &wall) < 0)
		return -1;
	printf("reconnect: %zu full handshakes (TCP, TLS 1.3 mTLS, upgrade, Hello with token) "
	       "in %.2f s: %.0f/s; relay CPU %.0f us each (%.0f/s per core)\n", n, wall,
	       (double)n / wall, (double)cpu / (double)n, cpu ? 1e6 * (double)n / (double)cpu : 0);
	fflush(stdout);
	r = bench_result_add(rs, "reconnect");
	if (r == NULL)
		return -1;
	r->frames_per_s = (double)n / wall;
	r->cpu_us_per_frame = (double)cpu / (double)n;
	return 0;
}

int scenario_fleet(const bench_opts_t *o, bench_results_t *rs)
{
	char extra[512], err[600];
	relayproc_t rp;
	mint_t mint;
	fleet_t f;
	int ok = 0;

	/* Room for every connection from one loopback address; pings and the
	 * idle hangup beyond the run, so idle means idle. */
	snprintf(extra, sizeof(extra),
		 "[limits]\nmax_connections = %llu\nmax_connections_per_ip = %llu\n\n"
		 "[timeouts]\nping_s = 3600\nidle_s = 7200\n",
		 (unsigned long long)o->idle + 64, (unsigned long long)o->idle + 64);
	if (mint_init(&mint, o->pki, FLEET_PRACTICE, err, sizeof(err)) < 0) {
		fprintf(stderr, "zkrelay-bench: %s\n", err);
		return -1;
	}
	if (bench_relay_start(&rp, o, extra) < 0) {
		mint_free(&mint);
		return -1;
	}
	if (fleet_init(&f, &mint, rp.port, FLEET_AUD, (size_t)o->idle, (size_t)o->threads, err,
		       sizeof(err)) < 0) {
		fprintf(stderr, "zkrelay-bench: %s\n", err);
	} else {
		ok = idle_run(o, &rp, &f, rs) == 0 &&
		     (!(o->scenarios & SC_RECONNECT) || storm_run(o, &rp, &f, rs) == 0);
		fleet_free(&f);
	}
	mint_free(&mint);
	return bench_relay_stop(&rp, ok);
}
