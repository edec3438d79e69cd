/* zkrelay-bench: a baseline load test of one relay process.
 *
 * Starts the relay given with --relay on a free loopback port, with the
 * TLS files of --pki, connects P sender/receiver pairs (client-k of a
 * practice sending to safe-k of the same practice) and, for each payload
 * size, pushes N Data frames per pair through it in Batches (see load.h).
 * It reports frames per second and the relay's CPU time per frame, read
 * from /proc/PID/stat just before the first frame and just after the last
 * one arrived, plus the relay's peak RSS.
 *
 * The load generator runs on the same host as the relay and competes with
 * it for CPU; the human-readable lines say how busy each side was, so a
 * reader can tell whether the relay or the generator set the pace.
 *
 * The last lines have one fixed form per scenario, for scripts:
 *   bench: scenario=relay_1k frame_bytes=1024 frames_per_s=X relay_cpu_us_per_frame=Y rss_kib=Z
 * Exit status: 0 success, 1 any loss, nack, stall or other error, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "load.h"
#include "procstat.h"
#include "relayproc.h"

#define MAX_PAIRS 64
#define MAX_SIZES 8
#define MAX_FRAME_BYTES 65535u
#define STALL_MS 10000
#define STOP_WAIT_MS 15000

typedef struct {
	const char *relay;
	const char *pki;
	uint64_t pairs;
	uint64_t frames;
	uint64_t sizes[MAX_SIZES];
	size_t nsizes;
	uint64_t batch;
	uint64_t window_bytes;
	uint64_t timeout_s;
} opts_t;

typedef struct {
	char name[32];
	size_t frame_bytes;
	double frames_per_s;
	double relay_us_per_frame;
	uint64_t rss_kib;
	int have_rss;
} result_t;

static void usage(FILE *out)
{
	fprintf(out,
		"usage: zkrelay-bench --relay BINARY --pki DIR [options]\n"
		"\n"
		"Baseline load test: starts BINARY on a free loopback port with the TLS\n"
		"files in DIR (a dev PKI, used read-only), sends Data frames from\n"
		"client-k to safe-k of practice-a and practice-b in turn, and reports\n"
		"frames/s and relay CPU microseconds per frame.\n"
		"\n"
		"  --relay BINARY   the zkrelay binary to run\n"
		"  --pki DIR        CA, server and endpoint certificates (make pki)\n"
		"  --pairs N        sender/receiver pairs, one thread each side (2)\n"
		"  --frames N       frames per pair and size (200000)\n"
		"  --sizes LIST     payload bytes, comma-separated, 1..65535 (1024)\n"
		"  --batch N        frames per message, capped by the relay's\n"
		"                   max_message_bytes (32)\n"
		"  --window BYTES   payload bytes a sender may have in flight beyond what\n"
		"                   its receiver has checked; 0: none, only the relay's\n"
		"                   backpressure holds senders back (262144)\n"
		"  --timeout S      give up after S seconds in all (300)\n"
		"  -h, --help       this text\n"
		"\n"
		"Pairs beyond the second need endpoints the default dev PKI lacks, e.g.\n"
		"  deploy/dev-pki.sh DIR issue practice-a safe safe-2\n"
		"\n"
		"Last lines, one per size:\n"
		"  bench: scenario=relay_1k frame_bytes=1024 frames_per_s=X "
		"relay_cpu_us_per_frame=Y rss_kib=Z\n"
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

static int parse_sizes(const char *s, opts_t *o)
{
	char buf[256], *tok, *save = NULL;

	if (strlen(s) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", s);
	o->nsizes = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if (o->nsizes == MAX_SIZES ||
		    parse_num(tok, 1, MAX_FRAME_BYTES, &o->sizes[o->nsizes]) < 0)
			return -1;
		o->nsizes++;
	}
	/* strtok_r skips empty fields; "1024,,64" or a trailing comma is a
	 * typo, not a list. */
	if (o->nsizes == 0 || s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,"))
		return -1;
	return 0;
}

static int parse_args(int argc, char **argv, opts_t *o)
{
	enum { O_RELAY = 256, O_PKI, O_PAIRS, O_FRAMES, O_SIZES, O_BATCH, O_WINDOW, O_TIMEOUT };
	static const struct option longopts[] = {
		{ "relay", required_argument, NULL, O_RELAY },
		{ "pki", required_argument, NULL, O_PKI },
		{ "pairs", required_argument, NULL, O_PAIRS },
		{ "frames", required_argument, NULL, O_FRAMES },
		{ "sizes", required_argument, NULL, O_SIZES },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "window", required_argument, NULL, O_WINDOW },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c, bad = 0;

	*o = (opts_t){ .pairs = 2, .frames = 200000, .sizes = { 1024 }, .nsizes = 1,
		       .batch = 32, .window_bytes = 262144, .timeout_s = 300 };
	while (!bad && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_RELAY: o->relay = optarg; break;
		case O_PKI: o->pki = optarg; break;
		case O_PAIRS: bad = parse_num(optarg, 1, MAX_PAIRS, &o->pairs); break;
		case O_FRAMES: bad = parse_num(optarg, 1, UINT32_MAX, &o->frames); break;
		case O_SIZES: bad = parse_sizes(optarg, o); break;
		case O_BATCH: bad = parse_num(optarg, 1, 4096, &o->batch); break;
		case O_WINDOW: bad = parse_num(optarg, 0, 1ull << 34, &o->window_bytes); break;
		case O_TIMEOUT: bad = parse_num(optarg, 1, 86400, &o->timeout_s); break;
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
	return bad ? -1 : 0;
}

/* ---- endpoints ---------------------------------------------------------- */

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
static int check_pki(const opts_t *o)
{
	static const char *const roles[] = { "client", "safe" };
	char names[2][32], path[600];
	const char *practice;
	size_t i;
	int k, e, missing = 0;

	for (i = 0; i < o->pairs; i++) {
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

static int connect_pairs(const opts_t *o, const relayproc_t *rp, load_pair_t *pairs)
{
	char sender[32], receiver[32], err[600];
	const char *practice;
	size_t i;

	for (i = 0; i < o->pairs; i++) {
		pair_names(i, &practice, sender, receiver, sizeof(sender));
		if (load_pair_connect(&pairs[i], rp->port, rp->pki, practice, sender, receiver,
				      err, sizeof(err)) < 0) {
			fprintf(stderr, "zkrelay-bench: %s\n", err);
			return -1;
		}
	}
	return 0;
}

/* ---- scenarios ---------------------------------------------------------- */

static void scenario_name(size_t bytes, char *out, size_t cap)
{
	if (bytes % 1024 == 0)
		snprintf(out, cap, "relay_%zuk", bytes / 1024);
	else
		snprintf(out, cap, "relay_%zub", bytes);
}

static int run_scenario(const opts_t *o, relayproc_t *rp, load_pair_t *pairs, size_t idx,
			const uint8_t *payload, result_t *res)
{
	size_t bytes = (size_t)o->sizes[idx];
	size_t per_msg = load_frames_per_message(&pairs[0], bytes, (size_t)o->batch);
	load_params_t lp = { .stream = (uint32_t)idx + 1, .frame_bytes = bytes,
			     .frames = o->frames, .per_message = per_msg, .payload = payload,
			     .relay_pid = rp->pid, .stall_ms = STALL_MS };
	load_result_t lr;
	char err[600];
	double busy;

	scenario_name(bytes, res->name, sizeof(res->name));
	res->frame_bytes = bytes;
	if (per_msg == 0) {
		fprintf(stderr, "zkrelay-bench: %s: a %zu-byte frame does not fit the relay's "
				"limits (max_message_bytes %u, max_payload_bytes %u)\n", res->name,
			bytes, pairs[0].max_message_bytes, pairs[0].max_payload_bytes);
		return -1;
	}
	if (o->window_bytes > 0) {
		/* At least one message, or a sender could never send. */
		lp.window = o->window_bytes / bytes;
		if (lp.window < per_msg)
			lp.window = per_msg;
	}
	printf("%s: %llu pairs x %llu frames of %zu B, %zu frames/message, ", res->name,
	       (unsigned long long)o->pairs, (unsigned long long)o->frames, bytes, per_msg);
	if (lp.window > 0)
		printf("window %llu frames/pair\n", (unsigned long long)lp.window);
	else
		printf("no window (relay backpressure only)\n");
	fflush(stdout);

	if (load_run(pairs, (size_t)o->pairs, &lp, &lr, err, sizeof(err)) < 0) {
		fprintf(stderr, "zkrelay-bench: %s: FAILED: %s\n", res->name, err);
		return -1;
	}
	if (!relayproc_alive(rp)) {
		char how[64];

		fprintf(stderr, "zkrelay-bench: %s: the relay %s\n", res->name,
			relayproc_how(rp, how, sizeof(how)));
		return -1;
	}
	res->frames_per_s = lr.wall_s > 0 ? (double)lr.frames / lr.wall_s : 0;
	res->relay_us_per_frame = (double)lr.relay_cpu_us / (double)lr.frames;
	res->have_rss = procstat_peak_rss_kib(rp->pid, &res->rss_kib) == 0;
	busy = lr.wall_s > 0 ? (double)lr.relay_cpu_us / 1e6 / lr.wall_s : 0;
	printf("%s: %llu frames in %.2f s: %.0f frames/s, %.1f MB/s of payload\n", res->name,
	       (unsigned long long)lr.frames, lr.wall_s, res->frames_per_s,
	       res->frames_per_s * (double)bytes / 1e6);
	printf("%s: relay CPU %.2f s = %.2f us/frame (busy %.0f%% of one core); "
	       "load generator CPU %.2f us/frame; relay peak RSS %llu KiB\n",
	       res->name, (double)lr.relay_cpu_us / 1e6, res->relay_us_per_frame, busy * 100,
	       (double)lr.self_cpu_us / (double)lr.frames,
	       (unsigned long long)(res->have_rss ? res->rss_kib : 0));
	fflush(stdout);
	return 0;
}

/* ---- main --------------------------------------------------------------- */

/* For the watchdog, which may only make async-signal-safe calls: the
 * relay, which must not stay behind, and the message, written beforehand. */
static volatile pid_t g_relay_pid;
static char g_alarm_msg[512];

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

static void print_results(const result_t *res, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		printf("bench: scenario=%s frame_bytes=%zu frames_per_s=%.0f "
		       "relay_cpu_us_per_frame=%.2f", res[i].name, res[i].frame_bytes,
		       res[i].frames_per_s, res[i].relay_us_per_frame);
		if (res[i].have_rss)
			printf(" rss_kib=%llu", (unsigned long long)res[i].rss_kib);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	static uint8_t payload[MAX_FRAME_BYTES];
	load_pair_t pairs[MAX_PAIRS];
	result_t res[MAX_SIZES];
	relayproc_t rp;
	opts_t o;
	size_t i, nres = 0;
	int rc = 1, stopped;

	if (parse_args(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	if (check_pki(&o) < 0)
		return 1;
	/* Random bytes stand in for ciphertext: the relay's plaintext guard
	 * must pass them. One buffer serves every frame; the receivers
	 * compare against it. */
	if (RAND_bytes(payload, sizeof(payload)) != 1) {
		fprintf(stderr, "zkrelay-bench: RAND_bytes failed\n");
		return 1;
	}
	snprintf(g_alarm_msg, sizeof(g_alarm_msg),
		 "zkrelay-bench: FAILED: time limit (--timeout %llu) reached\n",
		 (unsigned long long)o.timeout_s);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)o.timeout_s);

	memset(pairs, 0, sizeof(pairs));
	if (relayproc_start(&rp, o.relay, o.pki) < 0) {
		fprintf(stderr, "zkrelay-bench: %s\n", rp.err);
		relayproc_print_log(&rp, stderr, 0, 20);
		relayproc_cleanup(&rp, 1);
		return 1;
	}
	g_relay_pid = rp.pid;
	snprintf(g_alarm_msg, sizeof(g_alarm_msg),
		 "zkrelay-bench: FAILED: time limit (--timeout %llu) reached; relay config "
		 "and log kept in %s\n", (unsigned long long)o.timeout_s, rp.dir);
	printf("relay: %s (pid %d) on 127.0.0.1:%d\n", o.relay, (int)rp.pid, rp.port);
	if (connect_pairs(&o, &rp, pairs) == 0) {
		printf("relay: max_message_bytes %u, max_payload_bytes %u (from Welcome)\n",
		       pairs[0].max_message_bytes, pairs[0].max_payload_bytes);
		for (i = 0; i < o.nsizes; i++, nres++)
			if (run_scenario(&o, &rp, pairs, i, payload, &res[i]) < 0)
				break;
		if (nres == o.nsizes)
			rc = 0;
	}
	for (i = 0; i < o.pairs; i++)
		load_pair_close(&pairs[i]);

	stopped = relayproc_stop(&rp, STOP_WAIT_MS);
	g_relay_pid = 0;
	alarm(0);
	if (stopped < 0) {
		fprintf(stderr, "zkrelay-bench: %s\n", rp.err);
		rc = 1;
	}
	if (relayproc_print_log(&rp, stdout, 1, 0) > 0)
		printf("relay: the log lines above are warnings or errors\n");
	if (rc != 0)
		relayproc_print_log(&rp, stderr, 0, 20);
	relayproc_cleanup(&rp, rc != 0);
	if (rc == 0)
		print_results(res, nres);
	return rc;
}
