/* zkrelay-bench: load tests of one relay process.
 *
 * Starts the relay given with --relay on free loopback ports, with the TLS
 * files of --pki, and runs the scenarios of scenario.h against it: closed-
 * and open-loop throughput for each payload size, idle connections, a
 * reconnect storm and a lagging receiver. The relay's CPU time comes from
 * /proc/PID/stat, its memory from /proc/PID/status, its dwell-time
 * histogram from /metrics.
 *
 * The load generator runs on the same host as the relay and competes with
 * it for CPU; the human-readable lines say how busy each side was, so a
 * reader can tell whether the relay or the generator set the pace.
 *
 * The last lines have one fixed form per scenario, for scripts (a figure
 * that does not apply to a scenario is left out):
 *   bench: scenario=NAME frame_bytes=N frames_per_s=X relay_cpu_us_per_frame=Y p99_us=Z rss_kib_per_conn=W
 * Exit status: 0 success, 1 any loss, nack, stall or other error, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "procstat.h"
#include "scenario.h"

#define STOP_WAIT_MS 15000

static void usage(FILE *out)
{
	fprintf(out,
		"usage: zkrelay-bench --relay BINARY --pki DIR [options]\n"
		"\n"
		"Load tests: starts BINARY on free loopback ports with the TLS files in\n"
		"DIR (a dev PKI, used read-only; endpoint certificates for the idle and\n"
		"reconnect scenarios are made in memory with DIR/ca/ca.key) and runs\n"
		"the scenarios.\n"
		"\n"
		"  --relay BINARY   the zkrelay binary to run\n"
		"  --pki DIR        CA, server and endpoint certificates (make pki)\n"
		"  --scenarios LIST closed,open,idle,reconnect,lag (all)\n"
		"  --pairs N        sender/receiver pairs, one thread each side (2)\n"
		"  --frames N       closed loop: frames per pair and size (by size:\n"
		"                   256 MiB of payload, at most 200000, at least 2000)\n"
		"  --sizes LIST     payload bytes, comma-separated, 1..65535\n"
		"                   (64,1024,16384,65535)\n"
		"  --batch N        frames per message, capped by the relay's\n"
		"                   max_message_bytes (32)\n"
		"  --window BYTES   closed loop: payload bytes a sender may have in\n"
		"                   flight beyond what its receiver has checked; 0: only\n"
		"                   the relay's backpressure holds senders back (262144)\n"
		"  --rate N         open loop: frames/s over all pairs (half the closed-\n"
		"                   loop maximum of the same size)\n"
		"  --open-ms N      open loop: duration per size (3000)\n"
		"  --idle N         idle connections (10000)\n"
		"  --storm N        of them, dropped and reconnected at once (2000)\n"
		"  --threads N      threads that connect them (4)\n"
		"  --lag-frames N   frames through the lagging receiver (20000)\n"
		"  --lag-delay-us N its sleep after each message (5000)\n"
		"  --smoke          tiny counts: checks that every scenario runs\n"
		"  --no-rss-check   report the lagging receiver's RSS growth without\n"
		"                   failing on it (a relay under AddressSanitizer, whose\n"
		"                   quarantine keeps freed memory resident)\n"
		"  --timeout S      give up after S seconds in all (900)\n"
		"  -h, --help       this text\n"
		"\n"
		"Pairs beyond the second need endpoints the default dev PKI lacks, e.g.\n"
		"  deploy/dev-pki.sh DIR issue practice-a safe safe-2\n"
		"\n"
		"Last lines, one per scenario (figures that do not apply left out):\n"
		"  bench: scenario=NAME frame_bytes=N frames_per_s=X "
		"relay_cpu_us_per_frame=Y p99_us=Z rss_kib_per_conn=W\n"
		"Exit status 0, 1 on any loss, nack, stall or error, 2 on bad usage.\n");
}

/* A whole decimal number in [min, max]; nothing may follow it. */
static int parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* strtok_r skips empty fields; "1024,,64" or a trailing comma is a typo,
 * not a list. */
static int bad_list(const char *s)
{
	return s[0] == '\0' || s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,");
}

static int parse_sizes(const char *s, bench_opts_t *o)
{
	char buf[256], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf) || bad_list(s))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	o->nsizes = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (o->nsizes == BENCH_MAX_SIZES ||
		    parse_num(tok, 1, BENCH_MAX_FRAME, &o->sizes[o->nsizes]) < 0)
			return -1;
		o->nsizes++;
	}
	return o->nsizes ? 0 : -1;
}

static int parse_scenarios(const char *s, bench_opts_t *o)
{
	static const struct { const char *name; unsigned bit; } tab[] = {
		{ "closed", SC_CLOSED }, { "open", SC_OPEN }, { "idle", SC_IDLE },
		{ "reconnect", SC_RECONNECT }, { "lag", SC_LAG },
	};
	char buf[256], *tok, *save = NULL;
	size_t i;

	if (strlen(s) >= sizeof(buf) || bad_list(s))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	o->scenarios = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
			if (strcmp(tok, tab[i].name) == 0)
				break;
		if (i == sizeof(tab) / sizeof(tab[0]))
			return -1;
		o->scenarios |= tab[i].bit;
	}
	return 0;
}

/* Tiny counts for a check that every scenario runs and reports. */
static void smoke(bench_opts_t *o)
{
	o->frames = 2000;
	o->open_ms = 500;
	o->idle = 40;
	o->storm = 40;
	o->threads = 2;
	o->lag_frames = 8000;
	o->lag_delay_us = 5000;
}

static void opts_defaults(bench_opts_t *o)
{
	*o = (bench_opts_t){ .scenarios = SC_ALL, .pairs = 2,
			     .sizes = { 64, 1024, 16384, 65535 }, .nsizes = 4,
			     .batch = 32, .window_bytes = 262144, .timeout_s = 900,
			     .open_ms = 3000, .idle = 10000, .storm = 2000, .threads = 4,
			     .lag_frames = 20000, .lag_delay_us = 5000 };
}

static int parse_args(int argc, char **argv, bench_opts_t *o)
{
	enum { O_RELAY = 256, O_PKI, O_SCEN, O_PAIRS, O_FRAMES, O_SIZES, O_BATCH, O_WINDOW,
	       O_RATE, O_OPEN_MS, O_IDLE, O_STORM, O_THREADS, O_LAGF, O_LAGD, O_SMOKE,
	       O_TIMEOUT, O_NORSS };
	static const struct option longopts[] = {
		{ "relay", required_argument, NULL, O_RELAY },
		{ "pki", required_argument, NULL, O_PKI },
		{ "scenarios", required_argument, NULL, O_SCEN },
		{ "pairs", required_argument, NULL, O_PAIRS },
		{ "frames", required_argument, NULL, O_FRAMES },
		{ "sizes", required_argument, NULL, O_SIZES },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "rate", required_argument, NULL, O_RATE },
		{ "open-ms", required_argument, NULL, O_OPEN_MS },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "storm", required_argument, NULL, O_STORM },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "lag-frames", required_argument, NULL, O_LAGF },
		{ "lag-delay-us", required_argument, NULL, O_LAGD },
		{ "smoke", no_argument, NULL, O_SMOKE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "no-rss-check", no_argument, NULL, O_NORSS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c, bad = 0, i;

	opts_defaults(o);
	/* --smoke first, so options after or before it override its counts. */
	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--smoke") == 0)
			smoke(o);
	while (!bad && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_RELAY: o->relay = optarg; break;
		case O_PKI: o->pki = optarg; break;
		case O_SCEN: bad = parse_scenarios(optarg, o); break;
		case O_PAIRS: bad = parse_num(optarg, 1, BENCH_MAX_PAIRS, &o->pairs); break;
		case O_FRAMES: bad = parse_num(optarg, 1, UINT32_MAX, &o->frames); break;
		case O_SIZES: bad = parse_sizes(optarg, o); break;
		case O_BATCH: bad = parse_num(optarg, 1, 4096, &o->batch); break;
		case O_WINDOW: bad = parse_num(optarg, 0, 1ull << 34, &o->window_bytes); break;
		case O_RATE: bad = parse_num(optarg, 1, 100000000, &o->rate); break;
		case O_OPEN_MS: bad = parse_num(optarg, 100, 3600000, &o->open_ms); break;
		case O_IDLE: bad = parse_num(optarg, 1, 1000000, &o->idle); break;
		case O_STORM: bad = parse_num(optarg, 1, 1000000, &o->storm); break;
		case O_THREADS: bad = parse_num(optarg, 1, 256, &o->threads); break;
		case O_LAGF: bad = parse_num(optarg, 1, UINT32_MAX, &o->lag_frames); break;
		case O_LAGD: bad = parse_num(optarg, 0, 1000000, &o->lag_delay_us); break;
		case O_SMOKE: break;
		case O_TIMEOUT: bad = parse_num(optarg, 1, 86400, &o->timeout_s); break;
		case O_NORSS: o->rss_unchecked = 1; break;
		case 'h': usage(stdout); exit(0);
		default: bad = -1; break;
		}
		if (bad && c >= O_RELAY)
			fprintf(stderr, "zkrelay-bench: bad value for --%s: '%s'\n",
				longopts[c - O_RELAY].name, optarg);
	}
	if (!bad && optind < argc) {
		fprintf(stderr, "zkrelay-bench: unexpected argument '%s'\n", argv[optind]);
		bad = -1;
	}
	if (!bad && (o->relay == NULL || o->pki == NULL)) {
		fprintf(stderr, "zkrelay-bench: --relay and --pki are required\n");
		bad = -1;
	}
	if (!bad && (o->storm == 0 || o->storm > o->idle))
		o->storm = o->idle;
	return bad ? -1 : 0;
}

/* ---- shared by the scenarios -------------------------------------------- */

bench_result_t *bench_result_add(bench_results_t *rs, const char *name)
{
	bench_result_t *r;

	if (rs->n == BENCH_MAX_RESULTS)
		return NULL;
	r = &rs->r[rs->n++];
	snprintf(r->name, sizeof(r->name), "%s", name);
	r->frame_bytes = -1;
	r->frames_per_s = r->cpu_us_per_frame = r->p99_us = r->rss_kib_per_conn = -1;
	return r;
}

void bench_size_name(size_t bytes, char *out, size_t cap)
{
	if (bytes == BENCH_MAX_FRAME)
		snprintf(out, cap, "64k");
	else if (bytes % 1024 == 0)
		snprintf(out, cap, "%zuk", bytes / 1024);
	else
		snprintf(out, cap, "%zub", bytes);
}

/* For the watchdog, which may only make async-signal-safe calls: the
 * relay, which must not stay behind, and the message, written beforehand. */
static volatile pid_t g_relay_pid;
static char g_alarm_msg[512];
static unsigned long long g_timeout_s;

static void on_alarm(int sig)
{
	ssize_t w;

	(void)sig;
	w = write(2, g_alarm_msg, strlen(g_alarm_msg));
	(void)w;
	if (g_relay_pid > 0)
		kill(g_relay_pid, SIGKILL);
	_exit(1);
}

int bench_relay_start(relayproc_t *rp, const bench_opts_t *o, const char *extra)
{
	if (relayproc_start(rp, o->relay, o->pki, extra) < 0) {
		fprintf(stderr, "zkrelay-bench: %s\n", rp->err);
		relayproc_print_log(rp, stderr, 0, 20);
		relayproc_cleanup(rp, 1);
		return -1;
	}
	g_relay_pid = rp->pid;
	snprintf(g_alarm_msg, sizeof(g_alarm_msg),
		 "zkrelay-bench: FAILED: time limit (--timeout %llu) reached; relay config "
		 "and log kept in %s\n", g_timeout_s, rp->dir);
	printf("relay: %s (pid %d) on 127.0.0.1:%d, metrics on port %d\n", o->relay,
	       (int)rp->pid, rp->port, rp->ops_port);
	fflush(stdout);
	return 0;
}

int bench_relay_stop(relayproc_t *rp, int ok)
{
	int rc = ok ? 0 : -1;

	if (relayproc_stop(rp, STOP_WAIT_MS) < 0) {
		fprintf(stderr, "zkrelay-bench: %s\n", rp->err);
		rc = -1;
	}
	g_relay_pid = 0;
	if (relayproc_print_log(rp, stdout, 1, 0) > 0)
		printf("relay: the log lines above are warnings or errors\n");
	if (rc != 0)
		relayproc_print_log(rp, stderr, 0, 20);
	relayproc_cleanup(rp, rc != 0);
	return rc;
}

long long bench_relay_cpu_us(const relayproc_t *rp)
{
	uint64_t us;

	return procstat_cpu_us(rp->pid, &us) == 0 ? (long long)us : -1;
}

/* ---- main ----------------------------------------------------------------- */

static void print_results(const bench_results_t *rs)
{
	for (size_t i = 0; i < rs->n; i++) {
		const bench_result_t *r = &rs->r[i];

		printf("bench: scenario=%s", r->name);
		if (r->frame_bytes >= 0)
			printf(" frame_bytes=%lld", r->frame_bytes);
		if (r->frames_per_s >= 0)
			printf(" frames_per_s=%.0f", r->frames_per_s);
		if (r->cpu_us_per_frame >= 0)
			printf(" relay_cpu_us_per_frame=%.2f", r->cpu_us_per_frame);
		if (r->p99_us >= 0)
			printf(" p99_us=%.0f", r->p99_us);
		if (r->rss_kib_per_conn >= 0)
			printf(" rss_kib_per_conn=%.1f", r->rss_kib_per_conn);
		printf("\n");
	}
}

/* Thousands of connections need as many descriptors; the relay inherits
 * the limit. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			perror("zkrelay-bench: setrlimit(RLIMIT_NOFILE)");
	}
}

int main(int argc, char **argv)
{
	static bench_results_t rs;
	bench_opts_t o;
	int rc = 0;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	raise_nofile();
	g_timeout_s = (unsigned long long)o.timeout_s;
	snprintf(g_alarm_msg, sizeof(g_alarm_msg),
		 "zkrelay-bench: FAILED: time limit (--timeout %llu) reached\n", g_timeout_s);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)o.timeout_s);

	if (o.scenarios & (SC_CLOSED | SC_OPEN))
		rc = scenario_flow(&o, &rs);
	if (rc == 0 && (o.scenarios & (SC_IDLE | SC_RECONNECT)))
		rc = scenario_fleet(&o, &rs);
	if (rc == 0 && (o.scenarios & SC_LAG))
		rc = scenario_lag(&o, &rs);
	alarm(0);
	if (rc != 0)
		return 1;
	print_results(&rs);
	return 0;
}
