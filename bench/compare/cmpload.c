/* The comparison load generator. See cmpload.h. */
#include "cmpload.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "../procstat.h"

#define MAX_PAIRS 16
#define STALL_NS 10000000000LL
#define SETTLE_MS 1000

typedef struct {
	const cmpload_driver_t *d;
	cmpload_tls_t tls;
	const char *mode;
	pid_t pid;
	size_t pairs, size, idle, threads;
	uint64_t msgs, rate, open_ms, window;
} opts_t;

typedef struct {
	const opts_t *o;
	char topic[64];
	void *pub, *sub;
	uint64_t frames;        /* to send and receive */
	uint64_t rate;          /* per pair; 0: closed loop */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t received;      /* under mu */
	uint64_t expect;        /* next sequence number */
	int64_t last_ns;
	int64_t *lat;
	size_t nlat;
	atomic_int bad;
	char err[256];
} lane_t;

static uint8_t g_payload[1 << 20];

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until(int64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000), (long)(t % 1000000000) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* ---- subscriber ------------------------------------------------------- */

static void on_msg(void *arg, const uint8_t *p, size_t n)
{
	lane_t *l = arg;
	uint64_t seq, due;
	int64_t now = now_ns();

	if (n != l->o->size || n < 16) {
		snprintf(l->err, sizeof(l->err), "%s: %zu bytes, sent %zu", l->topic, n, l->o->size);
		atomic_store(&l->bad, 1);
		return;
	}
	seq = get64(p);
	due = get64(p + 8);
	if (seq != l->expect) {
		snprintf(l->err, sizeof(l->err), "%s: lost or reordered: seq %llu, expected %llu",
			 l->topic, (unsigned long long)seq, (unsigned long long)l->expect);
		atomic_store(&l->bad, 1);
	}
	l->expect = seq + 1;
	if (l->rate && l->nlat < l->frames)
		l->lat[l->nlat++] = now - (int64_t)due;
	pthread_mutex_lock(&l->mu);
	l->received++;
	l->last_ns = now;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

/* ---- publisher -------------------------------------------------------- */

/* With l->mu held: waits up to a second for the subscriber, and marks
 * the lane failed if nothing arrived for STALL_NS. */
static void wait_or_stall(lane_t *l)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 1;
	pthread_cond_timedwait(&l->cv, &l->mu, &ts);
	if (now_ns() - l->last_ns > STALL_NS) {
		snprintf(l->err, sizeof(l->err), "%s: stalled at %llu of %llu", l->topic,
			 (unsigned long long)l->received, (unsigned long long)l->frames);
		atomic_store(&l->bad, 1);
	}
}

static int wait_window(lane_t *l, uint64_t sent)
{
	const opts_t *o = l->o;
	uint64_t allowed = o->window / o->size ? o->window / o->size : 1;

	pthread_mutex_lock(&l->mu);
	while (sent - l->received >= allowed && !atomic_load(&l->bad)) {
		wait_or_stall(l);
	}
	pthread_mutex_unlock(&l->mu);
	return atomic_load(&l->bad) ? -1 : 0;
}

static void *publisher(void *arg)
{
	lane_t *l = arg;
	const opts_t *o = l->o;
	uint8_t *buf = malloc(o->size);
	int64_t t0 = now_ns();

	if (buf == NULL) {
		atomic_store(&l->bad, 1);
		return NULL;
	}
	memcpy(buf, g_payload, o->size);
	for (uint64_t k = 0; k < l->frames && !atomic_load(&l->bad); k++) {
		int64_t due = l->rate ? t0 + (int64_t)(k * 1000000000ull / l->rate) : now_ns();

		if (l->rate)
			sleep_until(due);
		else if (wait_window(l, k) < 0)
			break;
		put64(buf, k);
		put64(buf + 8, (uint64_t)due);
		if (o->d->publish(l->pub, l->topic, buf, o->size) != 0) {
			snprintf(l->err, sizeof(l->err), "%s: publish failed", l->topic);
			atomic_store(&l->bad, 1);
		}
	}
	free(buf);
	return NULL;
}

/* Until every message arrived, or a failure, or a stall. */
static void wait_received(lane_t *l)
{
	pthread_mutex_lock(&l->mu);
	l->last_ns = now_ns();
	while (l->received < l->frames && !atomic_load(&l->bad)) {
		wait_or_stall(l);
	}
	pthread_mutex_unlock(&l->mu);
}

/* ---- modes ------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double pct(const int64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);

	return n ? (double)v[i < n ? i : n - 1] / 1e3 : 0;
}

static void print_latency(lane_t *lanes, size_t np)
{
	size_t total = 0, at = 0;
	int64_t *all;

	for (size_t i = 0; i < np; i++)
		total += lanes[i].nlat;
	all = malloc((total ? total : 1) * sizeof(*all));
	if (all == NULL)
		return;
	for (size_t i = 0; i < np; i++) {
		memcpy(all + at, lanes[i].lat, lanes[i].nlat * sizeof(*all));
		at += lanes[i].nlat;
	}
	qsort(all, total, sizeof(*all), cmp_i64);
	printf(" p50_us=%.0f p99_us=%.0f p999_us=%.0f", pct(all, total, 0.5),
	       pct(all, total, 0.99), pct(all, total, 0.999));
	free(all);
}

static int connect_lanes(const opts_t *o, lane_t *lanes)
{
	char id[64], err[512];

	for (size_t i = 0; i < o->pairs; i++) {
		lane_t *l = &lanes[i];

		snprintf(l->topic, sizeof(l->topic), "bench.%zu", i);
		snprintf(id, sizeof(id), "sub-%zu-%d", i, (int)getpid());
		l->sub = o->d->connect(&o->tls, id, err, sizeof(err));
		if (l->sub == NULL || o->d->subscribe(l->sub, l->topic, on_msg, l) != 0) {
			fprintf(stderr, "cmpload: %s: subscriber: %s\n", o->d->name,
				l->sub ? "subscribe failed" : err);
			return -1;
		}
		snprintf(id, sizeof(id), "pub-%zu-%d", i, (int)getpid());
		l->pub = o->d->connect(&o->tls, id, err, sizeof(err));
		if (l->pub == NULL) {
			fprintf(stderr, "cmpload: %s: publisher: %s\n", o->d->name, err);
			return -1;
		}
	}
	return 0;
}

static int run_flow(const opts_t *o)
{
	lane_t lanes[MAX_PAIRS];
	pthread_t tid[MAX_PAIRS];
	uint64_t c0, c1;
	int64_t t0, t1;
	int rc = 0;
	size_t i;

	memset(lanes, 0, sizeof(lanes));
	for (i = 0; i < o->pairs; i++) {
		lanes[i].o = o;
		lanes[i].rate = o->rate / o->pairs;
		lanes[i].frames = lanes[i].rate ? lanes[i].rate * o->open_ms / 1000 : o->msgs;
		pthread_mutex_init(&lanes[i].mu, NULL);
		pthread_cond_init(&lanes[i].cv, NULL);
		if (lanes[i].rate && (lanes[i].lat = calloc(lanes[i].frames, 8)) == NULL)
			return -1;
	}
	if (connect_lanes(o, lanes) < 0)
		return -1;
	procstat_cpu_us(o->pid, &c0);
	t0 = now_ns();
	for (i = 0; i < o->pairs; i++)
		pthread_create(&tid[i], NULL, publisher, &lanes[i]);
	for (i = 0; i < o->pairs; i++)
		wait_received(&lanes[i]);
	t1 = now_ns();
	procstat_cpu_us(o->pid, &c1);
	for (i = 0; i < o->pairs; i++) {
		atomic_store(&lanes[i].bad, atomic_load(&lanes[i].bad)); /* publishers see it */
		pthread_join(tid[i], NULL);
	}
	for (i = 0; i < o->pairs; i++)
		if (atomic_load(&lanes[i].bad)) {
			fprintf(stderr, "cmpload: %s: FAILED: %s\n", o->d->name, lanes[i].err);
			rc = -1;
		}
	if (rc == 0) {
		uint64_t n = 0;

		for (i = 0; i < o->pairs; i++)
			n += lanes[i].frames;
		printf("cmp: broker=%s mode=%s size=%zu msgs=%llu wall_s=%.3f msgs_per_s=%.0f "
		       "broker_cpu_us_per_msg=%.3f", o->d->name, o->mode, o->size,
		       (unsigned long long)n, (double)(t1 - t0) / 1e9,
		       (double)n / ((double)(t1 - t0) / 1e9), (double)(c1 - c0) / (double)n);
		if (o->rate)
			print_latency(lanes, o->pairs);
		printf("\n");
	}
	for (i = 0; i < o->pairs; i++) {
		if (lanes[i].pub)
			o->d->disconnect(lanes[i].pub);
		if (lanes[i].sub)
			o->d->disconnect(lanes[i].sub);
		free(lanes[i].lat);
	}
	return rc;
}

typedef struct {
	const opts_t *o;
	void **conns;
	size_t first;
	atomic_int *bad;
} idle_worker_t;

static void *idle_worker(void *arg)
{
	idle_worker_t *w = arg;
	const opts_t *o = w->o;
	char id[64], err[512];

	for (size_t i = w->first; i < o->idle && !atomic_load(w->bad); i += o->threads) {
		snprintf(id, sizeof(id), "idle-%zu-%d", i, (int)getpid());
		w->conns[i] = o->d->connect(&o->tls, id, err, sizeof(err));
		if (w->conns[i] == NULL) {
			fprintf(stderr, "cmpload: %s: %s: %s\n", o->d->name, id, err);
			atomic_store(w->bad, 1);
		}
	}
	return NULL;
}

static int run_idle(const opts_t *o)
{
	void **conns = calloc(o->idle, sizeof(*conns));
	idle_worker_t w[64];
	pthread_t tid[64];
	atomic_int bad = 0;
	uint64_t rss0 = 0, rss1 = 0, c0 = 0, c1 = 0;
	int64_t t0, t1;
	size_t i;

	if (conns == NULL)
		return -1;
	procstat_rss_kib(o->pid, &rss0);
	procstat_cpu_us(o->pid, &c0);
	t0 = now_ns();
	for (i = 0; i < o->threads; i++) {
		w[i] = (idle_worker_t){ o, conns, i, &bad };
		pthread_create(&tid[i], NULL, idle_worker, &w[i]);
	}
	for (i = 0; i < o->threads; i++)
		pthread_join(tid[i], NULL);
	t1 = now_ns();
	procstat_cpu_us(o->pid, &c1);
	usleep(SETTLE_MS * 1000);
	procstat_rss_kib(o->pid, &rss1);
	if (!atomic_load(&bad))
		printf("cmp: broker=%s mode=idle conns=%zu hs_per_s=%.0f broker_cpu_us_per_hs=%.1f "
		       "rss_kib_per_conn=%.2f\n", o->d->name, o->idle,
		       (double)o->idle / ((double)(t1 - t0) / 1e9),
		       (double)(c1 - c0) / (double)o->idle,
		       ((double)rss1 - (double)rss0) / (double)o->idle);
	for (i = 0; i < o->idle; i++)
		if (conns[i])
			o->d->disconnect(conns[i]);
	free(conns);
	return atomic_load(&bad) ? -1 : 0;
}

/* ---- options ---------------------------------------------------------- */

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s --pid BROKER_PID --port N --ca F --cert F --key F MODE options\n"
		"  --mode closed|open|idle\n"
		"  --pairs N (2)   --size BYTES (1024)   --msgs N per pair (100000)\n"
		"  --window BYTES (262144)   --rate MSGS/S over all pairs   --open-ms N (3000)\n"
		"  --idle K (1000)   --threads N (4)\n", prog);
}

static int parse(int argc, char **argv, opts_t *o)
{
	static const struct option lo[] = {
		{ "pid", 1, NULL, 'p' }, { "port", 1, NULL, 'P' }, { "ca", 1, NULL, 'a' },
		{ "cert", 1, NULL, 'c' }, { "key", 1, NULL, 'k' }, { "mode", 1, NULL, 'm' },
		{ "pairs", 1, NULL, 'n' }, { "size", 1, NULL, 's' }, { "msgs", 1, NULL, 'M' },
		{ "window", 1, NULL, 'w' }, { "rate", 1, NULL, 'r' }, { "open-ms", 1, NULL, 'o' },
		{ "idle", 1, NULL, 'i' }, { "threads", 1, NULL, 't' }, { 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		unsigned long long v = optarg ? strtoull(optarg, NULL, 10) : 0;

		switch (c) {
		case 'p': o->pid = (pid_t)v; break;
		case 'P': o->tls.port = (int)v; break;
		case 'a': o->tls.ca = optarg; break;
		case 'c': o->tls.cert = optarg; break;
		case 'k': o->tls.key = optarg; break;
		case 'm': o->mode = optarg; break;
		case 'n': o->pairs = (size_t)v; break;
		case 's': o->size = (size_t)v; break;
		case 'M': o->msgs = v; break;
		case 'w': o->window = v; break;
		case 'r': o->rate = v; break;
		case 'o': o->open_ms = v; break;
		case 'i': o->idle = (size_t)v; break;
		case 't': o->threads = (size_t)v; break;
		default: return -1;
		}
	}
	if (o->pid <= 0 || o->tls.port <= 0 || !o->tls.ca || !o->tls.cert || !o->tls.key ||
	    o->pairs < 1 || o->pairs > MAX_PAIRS || o->size < 16 || o->size > sizeof(g_payload) ||
	    o->threads < 1 || o->threads > 64 || o->idle < 1 ||
	    (strcmp(o->mode, "closed") && strcmp(o->mode, "open") && strcmp(o->mode, "idle")) ||
	    (strcmp(o->mode, "open") == 0 && o->rate < o->pairs))
		return -1;
	if (strcmp(o->mode, "open") != 0)
		o->rate = 0;
	return 0;
}

int cmpload_main(int argc, char **argv, const cmpload_driver_t *d)
{
	opts_t o = { .d = d, .mode = "closed", .pairs = 2, .size = 1024, .msgs = 100000,
		     .window = 262144, .open_ms = 3000, .idle = 1000, .threads = 4 };
	struct rlimit rl;

	if (parse(argc, argv, &o) < 0) {
		usage(argv[0]);
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (RAND_bytes(g_payload, sizeof(g_payload)) != 1)
		return 1;
	if (strcmp(o.mode, "idle") == 0)
		return run_idle(&o) == 0 ? 0 : 1;
	return run_flow(&o) == 0 ? 0 : 1;
}
