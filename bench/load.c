/* Sender and receiver threads. See load.h. */
#include "load.h"

#include <time.h>

#include "tokenmint.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "procstat.h"
#include "zkerr.h"

/* A receiver wakes this often to notice a failure elsewhere or a stall. */
#define RECV_SLICE_MS 100
/* A sender held by its window looks at its own connection this often. */
#define WINDOW_SLICE_MS 100
/* An unwindowed sender looks for nacks after this many messages. */
#define NACK_CHECK_MESSAGES 64
/* After a run: how long a connection must stay silent. */
#define QUIET_MS 20
/* Bound of every blocking step of a client: the handshake, the upgrade, and
 * a send that the relay's backpressure holds up. */
#define IO_TIMEOUT_MS 10000

typedef struct run run_t;

/* One pair during one run. */
typedef struct {
	run_t *run;
	load_pair_t *pair;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t checked;   /* frames the receiver has checked; under mu */
	int sender_waits;   /* under mu */
	int64_t *lat_ns;    /* open loop: one latency per frame */
	size_t nlat;
	pthread_t snd_thread, rcv_thread;
	int snd_started, rcv_started;
} lane_t;

struct run {
	const load_params_t *lp;
	pthread_mutex_t go_mu;
	pthread_cond_t go_cv;
	int go;             /* under go_mu */
	atomic_int failed;
	pthread_mutex_t err_mu;
	char err[512];
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_us(uint32_t us)
{
	struct timespec ts = { us / 1000000u, (long)(us % 1000000u) * 1000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void sleep_until_ns(int64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000), (long)(t % 1000000000) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static uint64_t self_cpu_us(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static int failed(run_t *run)
{
	return atomic_load(&run->failed);
}

/* Records the first failure; every thread stops when it next looks. */
static int fail(run_t *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(run_t *run, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&run->err_mu);
	if (!atomic_load(&run->failed)) {
		va_start(ap, fmt);
		vsnprintf(run->err, sizeof(run->err), fmt, ap);
		va_end(ap);
		atomic_store(&run->failed, 1);
	}
	pthread_mutex_unlock(&run->err_mu);
	return -1;
}

/* ---- connections ---------------------------------------------------- */

/* A client's access token, as its practice's data-safe would issue it:
 * for the practice's data-safes safe-1..safe-16, one hour. "" for a
 * data-safe, which needs none. The caller frees a non-empty token. */
static char *bench_token(const char *pki, const char *practice, const char *endpoint)
{
	char key[512], crt[512], sub[160], addrs[16][160];
	const char *dst[16];
	tokenmint_t t = { .iss = practice, .kid = "k1", .sub = sub, .aud = "zkrelay-bench",
			  .jti = endpoint, .dst = dst, .ndst = 16 };
	paseto_sk_t *sk = NULL;
	char *tok = NULL;

	if (strncmp(endpoint, "safe", 4) == 0)
		return strdup("");
	snprintf(key, sizeof(key), "%s/%s/token-k1.key", pki, practice);
	snprintf(crt, sizeof(crt), "%s/%s/%s.crt", pki, practice, endpoint);
	snprintf(sub, sizeof(sub), "%s/%s", practice, endpoint);
	for (int i = 0; i < 16; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "%s/safe-%d", practice, i + 1);
		dst[i] = addrs[i];
	}
	t.iat = t.nbf = (int64_t)time(NULL);
	t.exp = t.iat + 3600;
	if (tokenmint_cert_cnf(crt, t.cnf) || tokenmint_load_key(key, &sk) ||
	    tokenmint(sk, &t, &tok))
		tok = NULL;
	paseto_sk_free(&sk);
	return tok;
}

static tclient_t *connect_endpoint(int port, const char *pki, const char *practice,
				   const char *endpoint, int rcvbuf, uint32_t *max_msg,
				   uint32_t *max_payload, char *err, size_t errlen)
{
	const Zkrelay__V1__Welcome *w = NULL;
	char ca[512], crt[512], key[512];
	tclient_opts_t o;
	tclient_t *c;
	int r;

	snprintf(ca, sizeof(ca), "%s/ca.crt", pki);
	snprintf(crt, sizeof(crt), "%s/%s/%s.crt", pki, practice, endpoint);
	snprintf(key, sizeof(key), "%s/%s/%s.key", pki, practice, endpoint);
	tclient_opts_init(&o);
	o.port = port;
	o.ca_file = ca;
	o.cert_file = crt;
	o.key_file = key;
	o.timeout_ms = IO_TIMEOUT_MS;
	o.rcvbuf = rcvbuf;
	c = tclient_new(&o);
	if (c == NULL) {
		snprintf(err, errlen, "%s/%s: out of memory", practice, endpoint);
		return NULL;
	}
	r = tclient_connect(c);
	if (r == 0) {
		char *tok = bench_token(pki, practice, endpoint);
		r = tok ? tclient_hello(c, tok, &w) : -1;
		free(tok);
	}
	if (r < 0) {
		snprintf(err, errlen, "%s/%s: connect and hello: %s", practice, endpoint,
			 tclient_error(c));
		tclient_free(c);
		return NULL;
	}
	/* w is valid only until the next receive. */
	if (max_msg != NULL)
		*max_msg = w->max_message_bytes;
	if (max_payload != NULL)
		*max_payload = w->max_payload_bytes;
	return c;
}

int load_pair_connect(load_pair_t *p, int port, const char *pki, const char *practice,
		      const char *sender, const char *receiver, int rcvbuf, char *err,
		      size_t errlen)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->src, sizeof(p->src), "%s/%s", practice, sender);
	snprintf(p->dst, sizeof(p->dst), "%s/%s", practice, receiver);
	p->rcv = connect_endpoint(port, pki, practice, receiver, rcvbuf, NULL, NULL, err, errlen);
	if (p->rcv == NULL)
		return -1;
	p->snd = connect_endpoint(port, pki, practice, sender, 0, &p->max_message_bytes,
				  &p->max_payload_bytes, err, errlen);
	if (p->snd == NULL) {
		load_pair_close(p);
		return -1;
	}
	return 0;
}

static void close_client(tclient_t **c)
{
	if (*c == NULL)
		return;
	/* RFC 6455 1000: a normal close, so the relay logs no error. */
	if (tclient_send_close(*c, 1000) == 0)
		tclient_wait_closed(*c, 1000);
	tclient_free(*c);
	*c = NULL;
}

void load_pair_close(load_pair_t *p)
{
	close_client(&p->snd);
	close_client(&p->rcv);
}

size_t load_frames_per_message(const load_pair_t *p, size_t frame_bytes, size_t batch)
{
	/* Upper bound of one Data frame inside a Batch: the Batch's field tag
	 * and length (3-byte varint up to 2 MiB), the Frame's data tag and
	 * length, then Data: dst (tag, 1-byte length, dst < 128 bytes),
	 * stream (tag, varint <= 5), seq (tag, varint <= 10) and payload (tag,
	 * varint <= 3, bytes). */
	size_t per_frame = 4 + 4 + (2 + strlen(p->dst)) + 6 + 11 + 4 + frame_bytes;
	size_t fit = p->max_message_bytes / per_frame;

	if (frame_bytes > p->max_payload_bytes)
		return 0;
	return fit < batch ? fit : batch;
}

/* ---- checks ----------------------------------------------------------- */

static int describe_unexpected(run_t *run, const char *who, const Zkrelay__V1__Frame *f)
{
	if (f->body_case == ZKRELAY__V1__FRAME__BODY_NACK)
		return fail(run, "%s: nack for stream %u seq %llu: %s", who, f->nack->stream,
			    (unsigned long long)f->nack->seq, zk_err_name((int)f->nack->reason));
	if (f->body_case == ZKRELAY__V1__FRAME__BODY_CLOSE)
		return fail(run, "%s: close from the relay: %s", who,
			    zk_err_name((int)f->close->reason));
	return fail(run, "%s: unexpected %s frame", who, tclient_frame_name(f));
}

/* Nothing may arrive on c (a sender gets nothing but nacks; a receiver
 * nothing after its last frame). Waits up to timeout_ms. */
static int check_quiet(run_t *run, tclient_t *c, const char *who, int timeout_ms)
{
	const Zkrelay__V1__Frame *f;
	int r = tclient_next_frame(c, timeout_ms, &f);

	if (r == TCLIENT_ETIMEOUT)
		return 0;
	if (r < 0)
		return fail(run, "%s: %s", who, tclient_error(c));
	return describe_unexpected(run, who, f);
}

static int check_data(run_t *run, const load_pair_t *p, const Zkrelay__V1__Frame *f,
		      uint64_t want)
{
	const load_params_t *lp = run->lp;
	const Zkrelay__V1__Data *d = f->data;

	if (f->body_case != ZKRELAY__V1__FRAME__BODY_DATA)
		return describe_unexpected(run, p->dst, f);
	/* Open loop: seq is the due time, and want the last one seen. */
	if (d->stream != lp->stream || (lp->rate == 0 ? d->seq != want : d->seq <= want))
		return fail(run, "%s: lost or reordered: expected stream %u seq %s%llu, got "
				 "stream %u seq %llu", p->dst, lp->stream,
			    lp->rate == 0 ? "" : "above ", (unsigned long long)want,
			    d->stream, (unsigned long long)d->seq);
	if (strcmp(d->src, p->src) != 0)
		return fail(run, "%s: seq %llu: src \"%s\", expected \"%s\"", p->dst,
			    (unsigned long long)d->seq, d->src, p->src);
	if (d->dst[0] != '\0')
		return fail(run, "%s: seq %llu: dst \"%s\" not removed", p->dst,
			    (unsigned long long)d->seq, d->dst);
	if (d->payload.len != lp->frame_bytes ||
	    memcmp(d->payload.data, lp->payload, lp->frame_bytes) != 0)
		return fail(run, "%s: seq %llu: payload differs (%zu bytes, sent %zu)", p->dst,
			    (unsigned long long)d->seq, d->payload.len, lp->frame_bytes);
	return 0;
}

/* ---- threads ---------------------------------------------------------- */

static void wait_go(run_t *run)
{
	pthread_mutex_lock(&run->go_mu);
	while (!run->go)
		pthread_cond_wait(&run->go_cv, &run->go_mu);
	pthread_mutex_unlock(&run->go_mu);
}

static void publish(lane_t *l, uint64_t checked)
{
	pthread_mutex_lock(&l->mu);
	l->checked = checked;
	if (l->sender_waits)
		pthread_cond_signal(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void *receiver_main(void *arg)
{
	lane_t *l = arg;
	run_t *run = l->run;
	const load_params_t *lp = run->lp;
	load_pair_t *p = l->pair;
	uint64_t want = 1, seen = 0, last_seq = 0;
	long long last = now_ms();

	wait_go(run);
	while (seen < lp->frames && !failed(run)) {
		const Zkrelay__V1__Frame *f;
		int r = tclient_next_frame(p->rcv, RECV_SLICE_MS, &f);

		if (r == TCLIENT_ETIMEOUT) {
			if (now_ms() - last > lp->stall_ms)
				fail(run, "%s: stalled: no frame for %d ms; %llu of %llu arrived",
				     p->dst, lp->stall_ms, (unsigned long long)(want - 1),
				     (unsigned long long)lp->frames);
			continue;
		}
		if (r < 0) {
			fail(run, "%s: receive: %s", p->dst, tclient_error(p->rcv));
			break;
		}
		if (check_data(run, p, f, lp->rate ? last_seq : want) < 0)
			break;
		if (lp->rate) {
			last_seq = f->data->seq;
			l->lat_ns[l->nlat++] = now_ns() - (int64_t)last_seq;
		}
		want++;
		seen++;
		/* Once per message: the frames of one Batch arrive together. */
		if (tclient_frames_buffered(p->rcv) == 0 || seen == lp->frames) {
			publish(l, seen);
			last = now_ms();
			if (lp->receiver_delay_us)
				sleep_us(lp->receiver_delay_us);
		}
	}
	return NULL;
}

static struct timespec in_ms(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	return ts;
}

/* Until the receiver has checked all but window of the frames through
 * seq last. A nack would hold the window shut for good, so a waiting
 * sender looks at its own connection. */
static int wait_window(lane_t *l, uint64_t last)
{
	run_t *run = l->run;
	uint64_t window = run->lp->window;

	pthread_mutex_lock(&l->mu);
	while (last - l->checked > window && !failed(run)) {
		struct timespec until = in_ms(WINDOW_SLICE_MS);
		int rc;

		l->sender_waits = 1;
		rc = pthread_cond_timedwait(&l->cv, &l->mu, &until);
		l->sender_waits = 0;
		if (rc == ETIMEDOUT) {
			pthread_mutex_unlock(&l->mu);
			if (check_quiet(run, l->pair->snd, l->pair->src, 0) < 0)
				return -1;
			pthread_mutex_lock(&l->mu);
		}
	}
	pthread_mutex_unlock(&l->mu);
	return failed(run) ? -1 : 0;
}

/* Open loop: when frame k (from 1) is due. */
static int64_t due_ns(const load_params_t *lp, int64_t t0, uint64_t k)
{
	return t0 + (int64_t)((k - 1) * 1000000000ull / lp->rate);
}

/* Waits until frame next is due, then says how many are due, at most
 * max: a sender that fell behind catches up in one Batch. */
static size_t due_frames(const load_params_t *lp, int64_t t0, uint64_t next, size_t max)
{
	int64_t now = now_ns();
	size_t n = 0;

	if (due_ns(lp, t0, next) > now) {
		sleep_until_ns(due_ns(lp, t0, next));
		now = now_ns();
	}
	while (n < max && next + n <= lp->frames && due_ns(lp, t0, next + n) <= now)
		n++;
	return n ? n : 1;
}

static void *sender_main(void *arg)
{
	lane_t *l = arg;
	run_t *run = l->run;
	const load_params_t *lp = run->lp;
	load_pair_t *p = l->pair;
	tclient_data_t *d = calloc(lp->per_message, sizeof(*d));
	uint64_t next = 1, messages = 0;
	int64_t t0 = 0;
	size_t i;

	wait_go(run);
	if (d == NULL) {
		fail(run, "%s: out of memory", p->src);
		return NULL;
	}
	for (i = 0; i < lp->per_message; i++) {
		d[i].dst = p->dst;
		d[i].stream = lp->stream;
		d[i].payload = lp->payload;
		d[i].len = lp->frame_bytes;
	}
	if (lp->rate)
		t0 = now_ns();
	while (next <= lp->frames && !failed(run)) {
		uint64_t left = lp->frames - next + 1;
		size_t n = left < lp->per_message ? (size_t)left : lp->per_message;

		if (lp->rate)
			n = due_frames(lp, t0, next, n);
		if (lp->window > 0 && wait_window(l, next - 1 + n) < 0)
			break;
		for (i = 0; i < n; i++)
			d[i].seq = lp->rate ? (uint64_t)due_ns(lp, t0, next + i) : next + i;
		if (tclient_send_batch(p->snd, d, n) < 0) {
			fail(run, "%s: send: %s", p->src, tclient_error(p->snd));
			break;
		}
		next += n;
		if (++messages % NACK_CHECK_MESSAGES == 0 &&
		    check_quiet(run, p->snd, p->src, 0) < 0)
			break;
	}
	free(d);
	return NULL;
}

/* ---- one run ---------------------------------------------------------- */

static int start_threads(run_t *run, lane_t *lanes, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (pthread_create(&lanes[i].rcv_thread, NULL, receiver_main, &lanes[i]) != 0)
			return fail(run, "pthread_create failed");
		lanes[i].rcv_started = 1;
		if (pthread_create(&lanes[i].snd_thread, NULL, sender_main, &lanes[i]) != 0)
			return fail(run, "pthread_create failed");
		lanes[i].snd_started = 1;
	}
	return 0;
}

static void release(run_t *run)
{
	pthread_mutex_lock(&run->go_mu);
	run->go = 1;
	pthread_cond_broadcast(&run->go_cv);
	pthread_mutex_unlock(&run->go_mu);
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static double pick_us(const int64_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n);

	return (double)v[i < n ? i : n - 1] / 1e3;
}

/* Percentiles over every frame of every pair (nearest rank). */
static int latencies(const lane_t *lanes, size_t npairs, load_result_t *res)
{
	size_t total = 0, i, at = 0;
	int64_t *all;

	for (i = 0; i < npairs; i++)
		total += lanes[i].nlat;
	if (total == 0)
		return 0;
	all = malloc(total * sizeof(*all));
	if (all == NULL)
		return -1;
	for (i = 0; i < npairs; i++) {
		memcpy(all + at, lanes[i].lat_ns, lanes[i].nlat * sizeof(*all));
		at += lanes[i].nlat;
	}
	qsort(all, total, sizeof(*all), cmp_i64);
	res->p50_us = pick_us(all, total, 0.50);
	res->p99_us = pick_us(all, total, 0.99);
	res->p999_us = pick_us(all, total, 0.999);
	res->max_us = (double)all[total - 1] / 1e3;
	free(all);
	return 0;
}

int load_run(load_pair_t *pairs, size_t npairs, const load_params_t *lp, load_result_t *res,
	     char *err, size_t errlen)
{
	run_t run = { .lp = lp };
	lane_t *lanes = calloc(npairs, sizeof(*lanes));
	pthread_condattr_t ca;
	uint64_t relay0 = 0, relay1 = 0, self0, self1;
	int64_t t0, t1;
	size_t i;

	if (lanes == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&run.go_mu, NULL);
	pthread_cond_init(&run.go_cv, NULL);
	pthread_mutex_init(&run.err_mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	for (i = 0; i < npairs; i++) {
		lanes[i].run = &run;
		lanes[i].pair = &pairs[i];
		pthread_mutex_init(&lanes[i].mu, NULL);
		pthread_cond_init(&lanes[i].cv, &ca);
		if (lp->rate && (lanes[i].lat_ns = calloc(lp->frames, sizeof(int64_t))) == NULL)
			fail(&run, "out of memory for %llu latencies",
			     (unsigned long long)lp->frames);
	}
	memset(res, 0, sizeof(*res));

	if (!failed(&run))
		start_threads(&run, lanes, npairs);
	/* The interval starts just before the first frame is sent. */
	if (procstat_cpu_us(lp->relay_pid, &relay0) < 0)
		fail(&run, "relay pid %d: cannot read /proc (has it exited?)", (int)lp->relay_pid);
	self0 = self_cpu_us();
	t0 = now_ns();
	release(&run);
	for (i = 0; i < npairs; i++)
		if (lanes[i].rcv_started)
			pthread_join(lanes[i].rcv_thread, NULL);
	/* ... and ends when the last frame has arrived. */
	t1 = now_ns();
	self1 = self_cpu_us();
	if (procstat_cpu_us(lp->relay_pid, &relay1) < 0)
		fail(&run, "relay pid %d: cannot read /proc (has it exited?)", (int)lp->relay_pid);
	for (i = 0; i < npairs; i++)
		if (lanes[i].snd_started)
			pthread_join(lanes[i].snd_thread, NULL);

	for (i = 0; i < npairs && !failed(&run); i++) {
		if (check_quiet(&run, pairs[i].snd, pairs[i].src, QUIET_MS) == 0)
			check_quiet(&run, pairs[i].rcv, pairs[i].dst, QUIET_MS);
	}
	if (!failed(&run)) {
		res->frames = lp->frames * npairs;
		res->wall_s = (double)(t1 - t0) / 1e9;
		res->relay_cpu_us = relay1 - relay0;
		res->self_cpu_us = self1 - self0;
		if (lp->rate && latencies(lanes, npairs, res) < 0)
			fail(&run, "out of memory for the latencies");
	} else {
		snprintf(err, errlen, "%s", run.err);
	}

	for (i = 0; i < npairs; i++) {
		pthread_mutex_destroy(&lanes[i].mu);
		pthread_cond_destroy(&lanes[i].cv);
		free(lanes[i].lat_ns);
	}
	pthread_condattr_destroy(&ca);
	pthread_mutex_destroy(&run.go_mu);
	pthread_cond_destroy(&run.go_cv);
	pthread_mutex_destroy(&run.err_mu);
	free(lanes);
	return failed(&run) ? -1 : 0;
}
