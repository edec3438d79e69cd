#include "metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

metrics_t metrics;

/* Upper bounds in seconds: 50 µs to 2.5 s, for both histograms. */
static const double bounds[METRICS_BUCKETS] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
	0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5,
};

static const char *const hs_names[HS_COUNT] = { "ok", "failed", "timeout" };
static const char *const refuse_names[REFUSE_COUNT] = {
	"total_cap", "per_ip_cap", "draining", "subprotocol", "identity",
	"upgrade_timeout", "hello_timeout", "bad_upgrade",
};

void metrics_observe(metrics_hist_t *h, double seconds, uint64_t count)
{
	size_t i = 0;
	while (i < METRICS_BUCKETS && seconds > bounds[i])
		i++;
	h->counts[i] += count;
	h->sum += seconds * (double)count;
	h->n += count;
}

/* A growing text buffer; after a failed allocation every append is a
 * no-op and metrics_render reports it. */
typedef struct {
	char *p;
	size_t len, cap;
	int oom;
} out_t;

__attribute__((format(printf, 2, 3)))
static void put(out_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (int tries = 0; !o->oom && tries < 2; tries++) {
		va_start(ap, fmt);
		n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		size_t ncap = (o->cap + (size_t)n) * 2;
		char *np = realloc(o->p, ncap);
		if (!np) {
			o->oom = 1;
			return;
		}
		o->p = np;
		o->cap = ncap;
	}
}

static void head(out_t *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void hist(out_t *o, const char *name, const char *help, const metrics_hist_t *h)
{
	uint64_t cum = 0;
	head(o, name, "histogram", help);
	for (size_t i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->counts[i];
		put(o, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i], (unsigned long long)cum);
	}
	cum += h->counts[METRICS_BUCKETS];
	put(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
	put(o, "%s_sum %.9g\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->n);
}

static void counter(out_t *o, const char *name, const char *help, uint64_t v)
{
	head(o, name, "counter", help);
	put(o, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(out_t *o, const char *name, const char *help, double v)
{
	head(o, name, "gauge", help);
	put(o, "%s %.17g\n", name, v);
}

static void relay_metrics(out_t *o, const metrics_now_t *now)
{
	const metrics_t *m = &metrics;

	head(o, "zkrelay_connections_open", "gauge", "Open connections by role.");
	put(o, "zkrelay_connections_open{role=\"safe\"} %llu\n", (unsigned long long)now->conns_safe);
	put(o, "zkrelay_connections_open{role=\"client\"} %llu\n",
	    (unsigned long long)now->conns_client);
	put(o, "zkrelay_connections_open{role=\"pending\"} %llu\n",
	    (unsigned long long)now->conns_pending);
	head(o, "zkrelay_tls_handshakes_total", "counter", "TLS handshakes by result.");
	for (int i = 0; i < HS_COUNT; i++)
		put(o, "zkrelay_tls_handshakes_total{result=\"%s\"} %llu\n", hs_names[i],
		    (unsigned long long)m->handshakes[i]);
	head(o, "zkrelay_connections_refused_total", "counter", "Connections refused by reason.");
	for (int i = 0; i < REFUSE_COUNT; i++)
		put(o, "zkrelay_connections_refused_total{reason=\"%s\"} %llu\n", refuse_names[i],
		    (unsigned long long)m->refused_conns[i]);
	counter(o, "zkrelay_frames_relayed_total", "Data frames queued for delivery.",
		m->frames_relayed);
	counter(o, "zkrelay_bytes_relayed_total", "Payload bytes queued for delivery.",
		m->bytes_relayed);
	head(o, "zkrelay_frames_refused_total", "counter",
	     "Nacked or refused frames and messages by wire reason.");
	for (int i = 1; i < ZK_REASON_COUNT; i++)
		put(o, "zkrelay_frames_refused_total{reason=\"%s\"} %llu\n", zk_err_name(i),
		    (unsigned long long)m->frames_refused[i]);
	gauge(o, "zkrelay_queued_bytes", "Bytes queued for delivery, all connections.",
	      (double)now->queued_bytes);
	gauge(o, "zkrelay_queue_total_max_bytes", "Configured cap on queued bytes.",
	      (double)now->queue_total_max);
	counter(o, "zkrelay_backpressure_pauses_total", "Times a sender stopped being read.",
		m->backpressure_pauses);
	counter(o, "zkrelay_idle_timeouts_total",
		"Connections hung up after idle_s without a frame or pong.", m->idle_timeouts);
	head(o, "zkrelay_token_verifications_total", "counter", "Access-token checks by result.");
	put(o, "zkrelay_token_verifications_total{result=\"ok\"} %llu\n",
	    (unsigned long long)m->token_ok);
	put(o, "zkrelay_token_verifications_total{result=\"invalid\"} %llu\n",
	    (unsigned long long)m->token_invalid);
	head(o, "zkrelay_registry_reloads_total", "counter", "Registry reloads by result.");
	put(o, "zkrelay_registry_reloads_total{result=\"ok\"} %llu\n",
	    (unsigned long long)m->reload_ok);
	put(o, "zkrelay_registry_reloads_total{result=\"failed\"} %llu\n",
	    (unsigned long long)m->reload_failed);
	gauge(o, "zkrelay_registry_last_reload_success_timestamp_seconds",
	      "When the registry was last loaded.", m->last_reload_ok);
	hist(o, "zkrelay_frame_dwell_seconds", "Time a data frame waited in the relay.", &m->dwell);
	hist(o, "zkrelay_tls_handshake_duration_seconds", "Accept to verified client certificate.",
	     &m->handshake);
	gauge(o, "zkrelay_server_certificate_expiry_timestamp_seconds",
	      "notAfter of the server certificate.", now->cert_expiry);
	gauge(o, "zkrelay_ready", "1 while /readyz answers 200.", now->ready ? 1 : 0);
	head(o, "zkrelay_build_info", "gauge", "Build information.");
	put(o, "zkrelay_build_info{version=\"%s\"} 1\n", now->version);
}

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	long n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n - 3; /* ".", ".." and the directory's own fd */
}

static void process_metrics(out_t *o, const metrics_now_t *now)
{
	struct rusage ru;
	struct rlimit rl;
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		head(o, "process_cpu_seconds_total", "counter", "User and system CPU time.");
		put(o, "process_cpu_seconds_total %.6f\n",
		    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
			    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	}
	gauge(o, "process_resident_memory_bytes", "Resident memory.",
	      (double)rss * (double)sysconf(_SC_PAGESIZE));
	gauge(o, "process_open_fds", "Open file descriptors.", (double)open_fds());
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		gauge(o, "process_max_fds", "File descriptor limit.", (double)rl.rlim_cur);
	gauge(o, "process_start_time_seconds", "Start time, Unix seconds.", now->start_time);
}

int metrics_render(const metrics_now_t *now, char **out, size_t *len)
{
	out_t o = { .p = malloc(8192), .cap = 8192 };
	if (!o.p)
		return -ZK_ENOMEM;
	o.p[0] = '\0';
	relay_metrics(&o, now);
	process_metrics(&o, now);
	if (o.oom) {
		free(o.p);
		return -ZK_ENOMEM;
	}
	*out = o.p;
	*len = o.len;
	return 0;
}
