/* metrics.c: the exposition text is checked by a strict reader of the
 * Prometheus text format 0.0.4 written here (not by the renderer's own
 * idea of it): every sample belongs to a family announced by # HELP and
 * # TYPE just before it, names and label names are well formed, counters
 * end in _total, histogram buckets are cumulative with le="+Inf" equal to
 * _count, and every label value comes from a fixed set that can name no
 * practice, endpoint or address. Then the bucket edges of
 * metrics_observe(), the reason bounds of metrics_refused_frame() and the
 * process_* figures. */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "suites.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define MAX_SAMPLES 512
#define MAX_FAMILIES 64
#define MAX_LABELS 4
#define MAX_BUCKETS (METRICS_BUCKETS + 1)

/* ---------------------------------------------------------------------- */
/* A strict reader of the text format. */

typedef struct {
	char name[96];
	char value[64];
} label_t;

typedef struct {
	char name[128];
	label_t labels[MAX_LABELS];
	size_t nlabels;
	char raw[64];  /* the value as written */
	double value;
	size_t family; /* index into expo_t.families */
} sample_t;

typedef struct {
	char name[128];
	char type[16];
	int has_help, has_type;
	size_t nsamples;
} family_t;

typedef struct {
	sample_t samples[MAX_SAMPLES];
	size_t nsamples;
	family_t families[MAX_FAMILIES];
	size_t nfamilies;
	char err[512];
	char line[160]; /* the line the reader stopped at */
} expo_t;

static int bad(expo_t *e, size_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(expo_t *e, size_t line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(e->err, sizeof(e->err), "line %zu: %s", line, msg);
	return -1;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* ; label names the same without ':'. Returns the
 * length of the name at p, 0 if there is none. */
static size_t name_len(const char *p, int colon_ok)
{
	size_t n = 0;

	if (!(isalpha((unsigned char)p[0]) || p[0] == '_' || (colon_ok && p[0] == ':')))
		return 0;
	while (isalnum((unsigned char)p[n]) || p[n] == '_' || (colon_ok && p[n] == ':'))
		n++;
	return n;
}

static int valid_name(const char *s, int colon_ok)
{
	size_t n = name_len(s, colon_ok);

	return n > 0 && s[n] == '\0';
}

/* A sample value: a Go ParseFloat number, "+Inf", "-Inf" or "NaN". */
static int parse_value(const char *s, double *v)
{
	char *end;

	if (strcmp(s, "+Inf") == 0) {
		*v = INFINITY;
		return 0;
	}
	if (strcmp(s, "-Inf") == 0) {
		*v = -INFINITY;
		return 0;
	}
	if (strcmp(s, "NaN") == 0) {
		*v = NAN;
		return 0;
	}
	if (s[0] == '\0' || isspace((unsigned char)s[0]) || strpbrk(s, "xXpP") != NULL)
		return -1; /* no hex floats */
	*v = strtod(s, &end);
	return *end == '\0' && isfinite(*v) ? 0 : -1;
}

static family_t *family_find(expo_t *e, const char *name)
{
	for (size_t i = 0; i < e->nfamilies; i++)
		if (strcmp(e->families[i].name, name) == 0)
			return &e->families[i];
	return NULL;
}

static family_t *family_get(expo_t *e, const char *name)
{
	family_t *f = family_find(e, name);

	if (f == NULL && e->nfamilies < MAX_FAMILIES) {
		f = &e->families[e->nfamilies++];
		memset(f, 0, sizeof(*f));
		snprintf(f->name, sizeof(f->name), "%.*s", (int)sizeof(f->name) - 1, name);
	}
	return f;
}

/* The family a sample name belongs to: the name itself, or for
 * name_bucket / _sum / _count a histogram (or summary) of the base name. */
static family_t *family_of(expo_t *e, const char *sample)
{
	static const char *const suffixes[] = { "_bucket", "_sum", "_count" };
	family_t *f = family_find(e, sample);
	char base[128];

	if (f != NULL && f->has_type && strcmp(f->type, "histogram") != 0 &&
	    strcmp(f->type, "summary") != 0)
		return f;
	for (size_t i = 0; i < ARRAY_LEN(suffixes); i++) {
		size_t n = strlen(sample), m = strlen(suffixes[i]);

		if (n <= m || n - m >= sizeof(base) || !ends_with(sample, suffixes[i]))
			continue;
		memcpy(base, sample, n - m);
		base[n - m] = '\0';
		f = family_find(e, base);
		if (f != NULL && (strcmp(f->type, "histogram") == 0 ||
				  (i > 0 && strcmp(f->type, "summary") == 0)))
			return f;
	}
	return NULL;
}

/* HELP text: any UTF-8 but a backslash only as \\ or \n. */
static int help_ok(const char *s)
{
	for (; *s; s++)
		if (*s == '\\' && s[1] != '\\' && s[1] != 'n')
			return 0;
		else if (*s == '\\')
			s++;
	return 1;
}

/* {name="value",...} at *pp; moves *pp past the closing brace. */
static int parse_labels(expo_t *e, size_t line, const char **pp, sample_t *s)
{
	const char *p = *pp + 1;

	while (*p != '}') {
		size_t n = name_len(p, 0), k = 0;
		label_t *l;

		if (n == 0 || n >= sizeof(s->labels[0].name))
			return bad(e, line, "bad label name at \"%.20s\"", p);
		if (s->nlabels == MAX_LABELS)
			return bad(e, line, "too many labels");
		l = &s->labels[s->nlabels++];
		memcpy(l->name, p, n);
		l->name[n] = '\0';
		if (strncmp(l->name, "__", 2) == 0)
			return bad(e, line, "reserved label name %s", l->name);
		for (size_t i = 0; i + 1 < s->nlabels; i++)
			if (strcmp(s->labels[i].name, l->name) == 0)
				return bad(e, line, "label %s twice", l->name);
		p += n;
		if (p[0] != '=' || p[1] != '"')
			return bad(e, line, "label %s: value not quoted", l->name);
		p += 2;
		while (*p != '"') {
			char ch = *p;

			if (ch == '\0' || ch == '\n')
				return bad(e, line, "label %s: unterminated value", l->name);
			if (ch == '\\') {
				if (p[1] != '\\' && p[1] != '"' && p[1] != 'n')
					return bad(e, line, "label %s: bad escape", l->name);
				ch = p[1] == 'n' ? '\n' : p[1];
				p++;
			}
			if (k + 1 >= sizeof(l->value))
				return bad(e, line, "label %s: value too long", l->name);
			l->value[k++] = ch;
			p++;
		}
		l->value[k] = '\0';
		p++;
		if (*p == ',')
			p++;
		else if (*p != '}')
			return bad(e, line, "expected , or } after label %s", l->name);
	}
	*pp = p + 1;
	return 0;
}

static int same_labels(const sample_t *a, const sample_t *b)
{
	if (a->nlabels != b->nlabels)
		return 0;
	for (size_t i = 0; i < a->nlabels; i++) {
		size_t j;

		for (j = 0; j < b->nlabels; j++)
			if (strcmp(a->labels[i].name, b->labels[j].name) == 0 &&
			    strcmp(a->labels[i].value, b->labels[j].value) == 0)
				break;
		if (j == b->nlabels)
			return 0;
	}
	return 1;
}

static int parse_sample(expo_t *e, size_t line, const char *p, size_t cur)
{
	sample_t *s;
	family_t *f;
	size_t n = name_len(p, 1);
	char val[64];
	const char *sp;

	if (e->nsamples == MAX_SAMPLES)
		return bad(e, line, "too many samples");
	s = &e->samples[e->nsamples];
	memset(s, 0, sizeof(*s));
	if (n == 0 || n >= sizeof(s->name))
		return bad(e, line, "bad metric name at \"%.30s\"", p);
	memcpy(s->name, p, n);
	p += n;
	if (*p == '{' && parse_labels(e, line, &p, s))
		return -1;
	if (*p != ' ')
		return bad(e, line, "%s: expected one space before the value", s->name);
	p++;
	sp = strchr(p, ' ');
	n = sp ? (size_t)(sp - p) : strlen(p);
	if (n == 0 || n >= sizeof(val))
		return bad(e, line, "%s: no value", s->name);
	memcpy(val, p, n);
	val[n] = '\0';
	if (parse_value(val, &s->value))
		return bad(e, line, "%s: bad value \"%s\"", s->name, val);
	snprintf(s->raw, sizeof(s->raw), "%s", val);
	if (sp != NULL) { /* an optional timestamp: an integer */
		char *end;

		if (sp[1] == '\0' || (strtoll(sp + 1, &end, 10), *end != '\0'))
			return bad(e, line, "%s: bad timestamp", s->name);
	}

	f = family_of(e, s->name);
	if (f == NULL || !f->has_help || !f->has_type)
		return bad(e, line, "%s: no # HELP and # TYPE before it", s->name);
	s->family = (size_t)(f - e->families);
	if (s->family != cur)
		return bad(e, line, "%s: not next to its family's # TYPE (family %s)", s->name,
			    f->name);
	{
		int bucket = strcmp(f->type, "histogram") == 0 && ends_with(s->name, "_bucket");
		int has_le = 0;

		for (size_t i = 0; i < s->nlabels; i++)
			has_le |= strcmp(s->labels[i].name, "le") == 0;
		if (has_le != bucket)
			return bad(e, line, "%s: %s", s->name,
				    bucket ? "bucket without le" : "label le outside a bucket");
	}
	if (strcmp(f->type, "counter") == 0 && !(s->value >= 0))
		return bad(e, line, "%s: counter value %s", s->name, s->raw);
	for (size_t i = 0; i < e->nsamples; i++)
		if (strcmp(e->samples[i].name, s->name) == 0 && same_labels(&e->samples[i], s))
			return bad(e, line, "%s: the same series twice", s->name);
	f->nsamples++;
	e->nsamples++;
	return 0;
}

/* The buckets of one histogram: le strictly increasing and ending in
 * +Inf, counts non-decreasing, +Inf equal to _count, _sum present. */
static int check_histogram(expo_t *e, const family_t *f)
{
	double last_le = -INFINITY, last_count = 0;
	int have_sum = 0, have_count = 0, have_inf = 0;
	double count = 0, inf = 0;
	char name[160];
	size_t nb = 0;

	for (size_t i = 0; i < e->nsamples; i++) {
		const sample_t *s = &e->samples[i];
		double le;

		if (&e->families[s->family] != f)
			continue;
		snprintf(name, sizeof(name), "%s_sum", f->name);
		if (strcmp(s->name, name) == 0) {
			have_sum = 1;
			continue;
		}
		snprintf(name, sizeof(name), "%s_count", f->name);
		if (strcmp(s->name, name) == 0) {
			have_count = 1;
			count = s->value;
			continue;
		}
		if (s->nlabels != 1 || parse_value(s->labels[0].value, &le) || isnan(le))
			return bad(e, 0, "%s: bucket le=\"%s\" is no number", f->name,
				    s->nlabels ? s->labels[0].value : "");
		if (have_inf || !(le > last_le))
			return bad(e, 0, "%s: le=\"%s\" after le=%g", f->name, s->labels[0].value,
				    last_le);
		if (s->value < last_count || s->value != floor(s->value))
			return bad(e, 0, "%s: bucket le=\"%s\" holds %s after %g: not cumulative",
				    f->name, s->labels[0].value, s->raw, last_count);
		if (isinf(le)) {
			if (strcmp(s->labels[0].value, "+Inf") != 0)
				return bad(e, 0, "%s: infinite bucket spelt \"%s\"", f->name,
					    s->labels[0].value);
			have_inf = 1;
			inf = s->value;
		}
		last_le = le;
		last_count = s->value;
		nb++;
	}
	if (!have_inf || !have_sum || !have_count || nb < 2)
		return bad(e, 0, "%s: lacks le=\"+Inf\", _sum or _count", f->name);
	if (inf != count)
		return bad(e, 0, "%s: le=\"+Inf\" %g but _count %g", f->name, inf, count);
	return 0;
}

/* Reads the whole text; 0, or -1 with the reason in e->err. */
static int expo_parse(expo_t *e, const char *text, size_t len)
{
	size_t line = 0, cur = SIZE_MAX;
	const char *p = text;

	memset(e, 0, sizeof(*e));
	if (len == 0 || strlen(text) != len || text[len - 1] != '\n')
		return bad(e, 0, "text is empty, holds a NUL or lacks the final newline");
	while (*p) {
		const char *nl = strchr(p, '\n');
		char buf[512];
		size_t n = (size_t)(nl - p);

		line++;
		if (n >= sizeof(buf))
			return bad(e, line, "line too long");
		memcpy(buf, p, n);
		buf[n] = '\0';
		snprintf(e->line, sizeof(e->line), "%.*s", (int)sizeof(e->line) - 1, buf);
		p = nl + 1;
		if (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
			return bad(e, line, "trailing white space or CR");
		if (buf[0] == '\0')
			continue;
		if (strncmp(buf, "# HELP ", 7) == 0 || strncmp(buf, "# TYPE ", 7) == 0) {
			int help = buf[2] == 'H';
			char *name = buf + 7, *rest = strchr(name, ' ');
			family_t *f;

			if (rest == NULL)
				return bad(e, line, "# %s without text", help ? "HELP" : "TYPE");
			*rest++ = '\0';
			if (!valid_name(name, 1))
				return bad(e, line, "bad metric name \"%s\"", name);
			f = family_get(e, name);
			if (f == NULL)
				return bad(e, line, "too many families");
			if (f->nsamples > 0)
				return bad(e, line, "%s: # HELP/TYPE after its samples", name);
			if (help) {
				if (f->has_help)
					return bad(e, line, "%s: # HELP twice", name);
				if (!help_ok(rest) || rest[0] == '\0')
					return bad(e, line, "%s: bad HELP text", name);
				f->has_help = 1;
			} else {
				static const char *const types[] = {
					"counter", "gauge", "histogram", "summary", "untyped"
				};
				size_t i;

				if (f->has_type)
					return bad(e, line, "%s: # TYPE twice", name);
				for (i = 0; i < ARRAY_LEN(types); i++)
					if (strcmp(rest, types[i]) == 0)
						break;
				if (i == ARRAY_LEN(types))
					return bad(e, line, "%s: unknown type \"%s\"", name, rest);
				snprintf(f->type, sizeof(f->type), "%s", rest);
				f->has_type = 1;
			}
			cur = (size_t)(f - e->families);
			continue;
		}
		if (buf[0] == '#')
			continue; /* a plain comment */
		if (parse_sample(e, line, buf, cur))
			return -1;
	}
	e->line[0] = '\0'; /* what follows is about the whole text */
	for (size_t i = 0; i < e->nfamilies; i++) {
		const family_t *f = &e->families[i];

		if (!f->has_help || !f->has_type || f->nsamples == 0)
			return bad(e, 0, "%s: needs # HELP, # TYPE and a sample", f->name);
		if (strcmp(f->type, "counter") == 0 && !ends_with(f->name, "_total"))
			return bad(e, 0, "counter %s does not end in _total", f->name);
		if (strcmp(f->type, "counter") != 0 && ends_with(f->name, "_total"))
			return bad(e, 0, "%s ends in _total but is a %s", f->name, f->type);
		if (strcmp(f->type, "histogram") == 0 && check_histogram(e, f))
			return -1;
	}
	return 0;
}

/* The sample name{label="value"} (label NULL: no labels), or NULL. */
static const sample_t *expo_get(const expo_t *e, const char *name, const char *label,
				const char *value)
{
	for (size_t i = 0; i < e->nsamples; i++) {
		const sample_t *s = &e->samples[i];

		if (strcmp(s->name, name) != 0)
			continue;
		if (label == NULL ? s->nlabels == 0
				  : s->nlabels == 1 && strcmp(s->labels[0].name, label) == 0 &&
					    strcmp(s->labels[0].value, value) == 0)
			return s;
	}
	return NULL;
}

static double expo_value(const expo_t *e, const char *name, const char *label,
			 const char *value)
{
	const sample_t *s = expo_get(e, name, label, value);

	ck_assert_msg(s != NULL, "no sample %s{%s=\"%s\"}", name, label ? label : "",
		      value ? value : "");
	return s->value;
}

static void expo_expect_raw(const expo_t *e, const char *name, const char *label,
			    const char *value, unsigned long long want)
{
	const sample_t *s = expo_get(e, name, label, value);
	char w[32];

	ck_assert_msg(s != NULL, "no sample %s{%s=\"%s\"}", name, label ? label : "",
		      value ? value : "");
	snprintf(w, sizeof(w), "%llu", want);
	ck_assert_msg(strcmp(s->raw, w) == 0, "%s{%s=\"%s\"} is %s, expected %s", name,
		      label ? label : "", value ? value : "", s->raw, w);
}

/* ---------------------------------------------------------------------- */
/* Rendering for the tests. */

static char *render(const metrics_now_t *now, size_t *len)
{
	char *out = NULL;

	ck_assert_int_eq(metrics_render(now, &out, len), 0);
	ck_assert_ptr_nonnull(out);
	return out;
}

static metrics_now_t sample_now(void)
{
	metrics_now_t now = {
		.conns_safe = 3, .conns_client = 17, .conns_pending = 2,
		.queued_bytes = 123456, .queue_total_max = 268435456,
		.cert_expiry = 1893456000.0, .start_time = (double)time(NULL) - 5,
		.ready = 1, .version = ZK_VERSION,
	};
	return now;
}

/* Renders and reads; fails the test with the reader's reason. */
static void render_parse(const metrics_now_t *now, expo_t *e)
{
	size_t len;
	char *text = render(now, &len);
	int rc = expo_parse(e, text, len);

	ck_assert_msg(rc == 0, "invalid exposition: %s%s%s%s", e->err, e->line[0] ? " (at \"" : "",
		      e->line, e->line[0] ? "\")" : "");
	free(text);
}

/* Every counter set to its own value, so a wrong index shows. */
static void fill_metrics(void)
{
	uint64_t v = 1000;

	memset(&metrics, 0, sizeof(metrics));
	for (int i = 0; i < HS_COUNT; i++)
		metrics.handshakes[i] = v++;
	for (int i = 0; i < REFUSE_COUNT; i++)
		metrics.refused_conns[i] = v++;
	for (int i = 0; i < ZK_REASON_COUNT; i++)
		metrics.frames_refused[i] = v++;
	metrics.frames_relayed = v++;
	metrics.bytes_relayed = UINT64_C(18446744073709551000); /* exact, past 2^53 */
	metrics.backpressure_pauses = v++;
	metrics.token_ok = v++;
	metrics.token_invalid = v++;
	metrics.reload_ok = v++;
	metrics.reload_failed = v++;
	metrics.last_reload_ok = 1700000000.0;
	for (int i = 0; i < 40; i++) {
		metrics_observe(&metrics.dwell, 0.00001 * (double)(i * i), (uint64_t)i + 1);
		metrics_observe(&metrics.handshake, 0.003 * (double)i, 1);
	}
}

/* ---------------------------------------------------------------------- */
/* Format. */

START_TEST(test_format_zero)
{
	metrics_now_t now = { .version = ZK_VERSION };
	expo_t *e = calloc(1, sizeof(*e));

	ck_assert_ptr_nonnull(e);
	memset(&metrics, 0, sizeof(metrics));
	render_parse(&now, e);
	ck_assert_uint_gt(e->nfamilies, 20);
	expo_expect_raw(e, "zkrelay_frames_relayed_total", NULL, NULL, 0);
	expo_expect_raw(e, "zkrelay_frame_dwell_seconds_count", NULL, NULL, 0);
	expo_expect_raw(e, "zkrelay_frame_dwell_seconds_bucket", "le", "+Inf", 0);
	ck_assert(expo_value(e, "zkrelay_ready", NULL, NULL) == 0);
	free(e);
}
END_TEST

START_TEST(test_format_filled)
{
	metrics_now_t now = sample_now();
	expo_t *e = calloc(1, sizeof(*e));

	ck_assert_ptr_nonnull(e);
	fill_metrics();
	render_parse(&now, e);
	free(e);
}
END_TEST

/* Every family the operations section of the README promises, with its
 * type. */
START_TEST(test_families_documented)
{
	static const struct {
		const char *name, *type;
	} want[] = {
		{ "zkrelay_connections_open", "gauge" },
		{ "zkrelay_tls_handshakes_total", "counter" },
		{ "zkrelay_connections_refused_total", "counter" },
		{ "zkrelay_frames_relayed_total", "counter" },
		{ "zkrelay_bytes_relayed_total", "counter" },
		{ "zkrelay_frames_refused_total", "counter" },
		{ "zkrelay_queued_bytes", "gauge" },
		{ "zkrelay_queue_total_max_bytes", "gauge" },
		{ "zkrelay_backpressure_pauses_total", "counter" },
		{ "zkrelay_token_verifications_total", "counter" },
		{ "zkrelay_registry_reloads_total", "counter" },
		{ "zkrelay_registry_last_reload_success_timestamp_seconds", "gauge" },
		{ "zkrelay_frame_dwell_seconds", "histogram" },
		{ "zkrelay_tls_handshake_duration_seconds", "histogram" },
		{ "zkrelay_server_certificate_expiry_timestamp_seconds", "gauge" },
		{ "zkrelay_ready", "gauge" },
		{ "zkrelay_build_info", "gauge" },
		{ "process_cpu_seconds_total", "counter" },
		{ "process_resident_memory_bytes", "gauge" },
		{ "process_open_fds", "gauge" },
		{ "process_max_fds", "gauge" },
		{ "process_start_time_seconds", "gauge" },
	};
	metrics_now_t now = sample_now();
	expo_t *e = calloc(1, sizeof(*e));

	ck_assert_ptr_nonnull(e);
	fill_metrics();
	render_parse(&now, e);
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		const family_t *f = family_find(e, want[i].name);

		ck_assert_msg(f != NULL, "family %s missing", want[i].name);
		ck_assert_msg(strcmp(f->type, want[i].type) == 0, "%s is a %s, expected %s",
			      want[i].name, f->type, want[i].type);
	}
	free(e);
}
END_TEST

/* Each counter shows the field it names, exactly (no float rounding). */
START_TEST(test_values_mapped)
{
	static const char *const hs[] = { "ok", "failed", "timeout" };
	static const char *const refuse[] = { "total_cap",   "per_ip_cap",      "draining",
					      "subprotocol", "identity",        "upgrade_timeout",
					      "hello_timeout", "bad_upgrade" };
	metrics_now_t now = sample_now();
	expo_t *e = calloc(1, sizeof(*e));

	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(ARRAY_LEN(hs), HS_COUNT);
	ck_assert_uint_eq(ARRAY_LEN(refuse), REFUSE_COUNT);
	fill_metrics();
	render_parse(&now, e);
	for (int i = 0; i < HS_COUNT; i++)
		expo_expect_raw(e, "zkrelay_tls_handshakes_total", "result", hs[i],
				metrics.handshakes[i]);
	for (int i = 0; i < REFUSE_COUNT; i++)
		expo_expect_raw(e, "zkrelay_connections_refused_total", "reason", refuse[i],
				metrics.refused_conns[i]);
	for (int i = 1; i < ZK_REASON_COUNT; i++)
		expo_expect_raw(e, "zkrelay_frames_refused_total", "reason", zk_err_name(i),
				metrics.frames_refused[i]);
	ck_assert_msg(expo_get(e, "zkrelay_frames_refused_total", "reason", "none") == NULL,
		      "reason=\"none\" is no refusal");
	expo_expect_raw(e, "zkrelay_frames_relayed_total", NULL, NULL, metrics.frames_relayed);
	expo_expect_raw(e, "zkrelay_bytes_relayed_total", NULL, NULL, metrics.bytes_relayed);
	expo_expect_raw(e, "zkrelay_backpressure_pauses_total", NULL, NULL,
			metrics.backpressure_pauses);
	expo_expect_raw(e, "zkrelay_token_verifications_total", "result", "ok", metrics.token_ok);
	expo_expect_raw(e, "zkrelay_token_verifications_total", "result", "invalid",
			metrics.token_invalid);
	expo_expect_raw(e, "zkrelay_registry_reloads_total", "result", "ok", metrics.reload_ok);
	expo_expect_raw(e, "zkrelay_registry_reloads_total", "result", "failed",
			metrics.reload_failed);
	expo_expect_raw(e, "zkrelay_connections_open", "role", "safe", now.conns_safe);
	expo_expect_raw(e, "zkrelay_connections_open", "role", "client", now.conns_client);
	expo_expect_raw(e, "zkrelay_connections_open", "role", "pending", now.conns_pending);
	ck_assert(expo_value(e, "zkrelay_queued_bytes", NULL, NULL) == (double)now.queued_bytes);
	ck_assert(expo_value(e, "zkrelay_queue_total_max_bytes", NULL, NULL) ==
		  (double)now.queue_total_max);
	ck_assert(expo_value(e, "zkrelay_server_certificate_expiry_timestamp_seconds", NULL,
			     NULL) == now.cert_expiry);
	ck_assert(expo_value(e, "zkrelay_registry_last_reload_success_timestamp_seconds", NULL,
			     NULL) == metrics.last_reload_ok);
	ck_assert(expo_value(e, "zkrelay_ready", NULL, NULL) == 1);
	ck_assert(expo_value(e, "zkrelay_build_info", "version", ZK_VERSION) == 1);
	ck_assert(expo_value(e, "process_start_time_seconds", NULL, NULL) == now.start_time);
	free(e);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Labels: fixed sets only, nothing that could name anyone. */

static int in_set(const char *v, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, set[i]) == 0)
			return 1;
	return 0;
}

static int frame_reason_ok(const char *v)
{
	for (int i = 1; i < ZK_REASON_COUNT; i++)
		if (strcmp(v, zk_err_name(i)) == 0)
			return 1;
	return 0;
}

/* Something that could be an endpoint, practice or network address. */
static int looks_identifying(const char *v)
{
	unsigned a, b, c, d;
	char rest;

	return strpbrk(v, "/:@[]") != NULL || strstr(v, "practice") != NULL ||
	       strstr(v, "safe-") != NULL || strstr(v, "client-") != NULL ||
	       strncmp(v, "ep-", 3) == 0 ||
	       sscanf(v, "%u.%u.%u.%u%c", &a, &b, &c, &d, &rest) >= 4;
}

static const char *label_problem(const char *family, const label_t *l)
{
	static const char *const roles[] = { "safe", "client", "pending" };
	static const char *const hs[] = { "ok", "failed", "timeout" };
	static const char *const ok_invalid[] = { "ok", "invalid" };
	static const char *const ok_failed[] = { "ok", "failed" };
	static const char *const refuse[] = { "total_cap",   "per_ip_cap",      "draining",
					      "subprotocol", "identity",        "upgrade_timeout",
					      "hello_timeout", "bad_upgrade" };
	const char *n = l->name, *v = l->value;
	double le;

	if (looks_identifying(v))
		return "looks like an address or an endpoint";
	if (strcmp(n, "le") == 0)
		return parse_value(v, &le) == 0 && !isnan(le) ? NULL : "le is no number";
	if (strcmp(family, "zkrelay_connections_open") == 0 && strcmp(n, "role") == 0)
		return in_set(v, roles, ARRAY_LEN(roles)) ? NULL : "unknown role";
	if (strcmp(family, "zkrelay_tls_handshakes_total") == 0 && strcmp(n, "result") == 0)
		return in_set(v, hs, ARRAY_LEN(hs)) ? NULL : "unknown result";
	if (strcmp(family, "zkrelay_token_verifications_total") == 0 && strcmp(n, "result") == 0)
		return in_set(v, ok_invalid, ARRAY_LEN(ok_invalid)) ? NULL : "unknown result";
	if (strcmp(family, "zkrelay_registry_reloads_total") == 0 && strcmp(n, "result") == 0)
		return in_set(v, ok_failed, ARRAY_LEN(ok_failed)) ? NULL : "unknown result";
	if (strcmp(family, "zkrelay_connections_refused_total") == 0 && strcmp(n, "reason") == 0)
		return in_set(v, refuse, ARRAY_LEN(refuse)) ? NULL : "unknown reason";
	if (strcmp(family, "zkrelay_frames_refused_total") == 0 && strcmp(n, "reason") == 0)
		return frame_reason_ok(v) ? NULL : "not a wire reason";
	if (strcmp(family, "zkrelay_build_info") == 0 && strcmp(n, "version") == 0)
		return strcmp(v, ZK_VERSION) == 0 ? NULL : "not the version";
	return "label not expected on this family";
}

START_TEST(test_labels_fixed)
{
	metrics_now_t now = sample_now();
	expo_t *e = calloc(1, sizeof(*e));
	size_t labelled = 0;

	ck_assert_ptr_nonnull(e);
	fill_metrics();
	render_parse(&now, e);
	for (size_t i = 0; i < e->nsamples; i++) {
		const sample_t *s = &e->samples[i];
		const char *family = e->families[s->family].name;

		for (size_t j = 0; j < s->nlabels; j++) {
			const char *why = label_problem(family, &s->labels[j]);

			ck_assert_msg(why == NULL, "%s{%s=\"%s\"}: %s", s->name, s->labels[j].name,
				      s->labels[j].value, why);
			labelled++;
		}
	}
	ck_assert_uint_gt(labelled, 50);
	free(e);
}
END_TEST

/* The identifying check itself catches what it is there for. */
START_TEST(test_labels_check_catches)
{
	static const char *const bad[] = { "practice-a/client-1", "practice-a", "safe-1",
					   "client-2", "127.0.0.1", "10.1.2.3", "::1",
					   "ep-0123456789abcdef", "host:8443" };
	static const char *const good[] = { "ok", "no_route", "0.0001", "+Inf", ZK_VERSION };

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		ck_assert_msg(looks_identifying(bad[i]), "%s passes", bad[i]);
	for (size_t i = 0; i < ARRAY_LEN(good); i++)
		ck_assert_msg(!looks_identifying(good[i]), "%s refused", good[i]);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Histograms. */

typedef struct {
	double le[MAX_BUCKETS];
	double cum[MAX_BUCKETS];
	size_t n;
	double sum, count;
} hist_view_t;

static void hist_view(const expo_t *e, const char *family, hist_view_t *v)
{
	char bucket[160], sum[160], count[160];

	snprintf(bucket, sizeof(bucket), "%s_bucket", family);
	snprintf(sum, sizeof(sum), "%s_sum", family);
	snprintf(count, sizeof(count), "%s_count", family);
	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < e->nsamples; i++) {
		const sample_t *s = &e->samples[i];

		if (strcmp(s->name, bucket) == 0) {
			ck_assert_uint_lt(v->n, MAX_BUCKETS);
			ck_assert_int_eq(parse_value(s->labels[0].value, &v->le[v->n]), 0);
			v->cum[v->n++] = s->value;
		}
	}
	v->sum = expo_value(e, sum, NULL, NULL);
	v->count = expo_value(e, count, NULL, NULL);
	ck_assert_uint_eq(v->n, METRICS_BUCKETS + 1);
	ck_assert(isinf(v->le[v->n - 1]));
}

static void view_now(const char *family, hist_view_t *v)
{
	metrics_now_t now = sample_now();
	expo_t *e = calloc(1, sizeof(*e));

	ck_assert_ptr_nonnull(e);
	render_parse(&now, e);
	hist_view(e, family, v);
	free(e);
}

/* A deterministic spread of values: the cumulative counts are what
 * counting "v <= le" over them gives, +Inf and _count are the total and
 * _sum the sum. */
START_TEST(test_hist_cumulative)
{
	static const char *const families[] = { "zkrelay_frame_dwell_seconds",
						"zkrelay_tls_handshake_duration_seconds" };
	metrics_hist_t *const hists[] = { &metrics.dwell, &metrics.handshake };
	double values[300];
	uint64_t counts[300], total = 0, x = 88172645463325252ull;
	double sum = 0;
	hist_view_t v;

	memset(&metrics, 0, sizeof(metrics));
	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		/* 10^-6 to 10^1 seconds, log-uniform */
		values[i] = pow(10.0, -6.0 + 7.0 * (double)(x % 100000) / 100000.0);
		counts[i] = 1 + x % 5;
		metrics_observe(hists[_i], values[i], counts[i]);
		total += counts[i];
		sum += values[i] * (double)counts[i];
	}
	view_now(families[_i], &v);
	for (size_t b = 0; b < v.n; b++) {
		uint64_t want = 0;

		for (size_t i = 0; i < ARRAY_LEN(values); i++)
			if (values[i] <= v.le[b])
				want += counts[i];
		ck_assert_msg(v.cum[b] == (double)want, "%s le=%g: %g, expected %llu",
			      families[_i], v.le[b], v.cum[b], (unsigned long long)want);
		if (b > 0)
			ck_assert(v.cum[b] >= v.cum[b - 1]);
	}
	ck_assert(v.cum[v.n - 1] == (double)total);
	ck_assert(v.count == (double)total);
	ck_assert_msg(fabs(v.sum - sum) <= 1e-8 * sum, "_sum %.17g, expected %.17g", v.sum, sum);
}
END_TEST

/* The bucket a single observation of value lands in, as the rendered
 * cumulative counts show it: the first le whose count is 1. */
static size_t landed(const char *family, metrics_hist_t *h, double value, hist_view_t *v)
{
	size_t b;

	memset(&metrics, 0, sizeof(metrics));
	metrics_observe(h, value, 1);
	view_now(family, v);
	for (b = 0; b < v->n && v->cum[b] == 0; b++)
		;
	ck_assert_uint_lt(b, v->n);
	for (size_t k = b; k < v->n; k++)
		ck_assert_msg(v->cum[k] == 1, "le=%g holds %g after one observation", v->le[k],
			      v->cum[k]);
	ck_assert(v->count == 1);
	return b;
}

/* A value equal to an upper bound lands in that bucket; the next double
 * above it in the next; the one below it still in it. */
START_TEST(test_observe_edges)
{
	static const char *const families[] = { "zkrelay_frame_dwell_seconds",
						"zkrelay_tls_handshake_duration_seconds" };
	metrics_hist_t *const hists[] = { &metrics.dwell, &metrics.handshake };
	hist_view_t bounds, v;

	view_now(families[_i], &bounds);
	for (size_t b = 0; b + 1 < bounds.n; b++) {
		double edge = bounds.le[b];
		size_t got;

		ck_assert_msg(b == 0 || edge > bounds.le[b - 1], "bounds not increasing");
		got = landed(families[_i], hists[_i], edge, &v);
		ck_assert_msg(got == b, "%s: %.17g landed in bucket le=%g, expected le=%g",
			      families[_i], edge, v.le[got], edge);
		ck_assert_uint_eq(hists[_i]->counts[b], 1);
		got = landed(families[_i], hists[_i], nextafter(edge, INFINITY), &v);
		ck_assert_msg(got == b + 1, "%s: just above %g landed in le=%g", families[_i],
			      edge, v.le[got]);
		got = landed(families[_i], hists[_i], nextafter(edge, 0), &v);
		ck_assert_msg(got == b, "%s: just below %g landed in le=%g", families[_i], edge,
			      v.le[got]);
	}
	/* Past the last bound: only +Inf. Zero and below: the first bucket. */
	ck_assert_uint_eq(landed(families[_i], hists[_i], bounds.le[bounds.n - 2] * 10, &v),
			  bounds.n - 1);
	ck_assert_uint_eq(hists[_i]->counts[METRICS_BUCKETS], 1);
	ck_assert_uint_eq(landed(families[_i], hists[_i], 1e300, &v), bounds.n - 1);
	ck_assert_uint_eq(landed(families[_i], hists[_i], 0.0, &v), 0);
	ck_assert_uint_eq(landed(families[_i], hists[_i], -1.0, &v), 0);
}
END_TEST

/* count observations at once: bucket, n and sum all grow by count. */
START_TEST(test_observe_count)
{
	memset(&metrics, 0, sizeof(metrics));
	metrics_observe(&metrics.dwell, 0.002, 7);
	metrics_observe(&metrics.dwell, 0.002, 0);
	ck_assert_uint_eq(metrics.dwell.n, 7);
	ck_assert(fabs(metrics.dwell.sum - 0.014) < 1e-12);
	for (size_t i = 0; i <= METRICS_BUCKETS; i++)
		ck_assert_uint_eq(metrics.dwell.counts[i], i == 5 ? 7 : 0); /* le=0.0025 */
	ck_assert_uint_eq(metrics.handshake.n, 0);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* metrics_refused_frame */

START_TEST(test_refused_by_reason)
{
	metrics_now_t now = sample_now();
	expo_t *e = calloc(1, sizeof(*e));

	ck_assert_ptr_nonnull(e);
	memset(&metrics, 0, sizeof(metrics));
	/* reason r counted r times, half as -r (the usual return value). */
	for (int r = 1; r < ZK_REASON_COUNT; r++)
		for (int k = 0; k < r; k++)
			metrics_refused_frame(k % 2 ? -r : r);
	for (int r = 1; r < ZK_REASON_COUNT; r++)
		ck_assert_uint_eq(metrics.frames_refused[r], (uint64_t)r);
	render_parse(&now, e);
	for (int r = 1; r < ZK_REASON_COUNT; r++)
		expo_expect_raw(e, "zkrelay_frames_refused_total", "reason", zk_err_name(r),
				(unsigned long long)r);
	free(e);
}
END_TEST

/* Codes past the wire reasons (local errors, garbage) change nothing. */
START_TEST(test_refused_out_of_range)
{
	static const int codes[] = { ZK_REASON_COUNT, -ZK_REASON_COUNT, ZK_REASON_COUNT + 1,
				     ZK_ENOMEM, -ZK_ENOMEM, -ZK_EINVAL, -ZK_EIO, -ZK_ECONFIG,
				     -ZK_ECERT, 1000, -1000, INT_MAX, -INT_MAX };
	metrics_t *before = malloc(sizeof(*before));

	ck_assert_ptr_nonnull(before);
	fill_metrics();
	memcpy(before, &metrics, sizeof(metrics));
	for (size_t i = 0; i < ARRAY_LEN(codes); i++) {
		metrics_refused_frame(codes[i]);
		ck_assert_msg(memcmp(before, &metrics, sizeof(metrics)) == 0,
			      "metrics_refused_frame(%d) changed the metrics", codes[i]);
	}
	free(before);
}
END_TEST

/* INT_MIN has no positive counterpart: negating it must not turn into an
 * index (it would be one far before the array). */
START_TEST(test_refused_int_min)
{
	metrics_t *before = malloc(sizeof(*before));
	volatile int code = INT_MIN; /* a run-time value, as from a caller */

	ck_assert_ptr_nonnull(before);
	fill_metrics();
	memcpy(before, &metrics, sizeof(metrics));
	metrics_refused_frame(code);
	ck_assert_msg(memcmp(before, &metrics, sizeof(metrics)) == 0,
		      "metrics_refused_frame(INT_MIN) changed the metrics");
	free(before);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* process_* */

/* Open descriptors counted without /proc. */
static long count_fds(void)
{
	struct rlimit rl;
	long n = 0, max = 65536;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (long)rl.rlim_cur < max)
		max = (long)rl.rlim_cur;
	for (long fd = 0; fd < max; fd++)
		n += fcntl((int)fd, F_GETFD) != -1;
	return n;
}

START_TEST(test_process_metrics)
{
	metrics_now_t now = sample_now();
	expo_t *e = calloc(1, sizeof(*e));
	struct rlimit rl;
	double open1, open2, max, rss, cpu1, cpu2;
	long page = sysconf(_SC_PAGESIZE);
	int fds[8];
	clock_t t0;

	ck_assert_ptr_nonnull(e);
	memset(&metrics, 0, sizeof(metrics));
	render_parse(&now, e);
	open1 = expo_value(e, "process_open_fds", NULL, NULL);
	max = expo_value(e, "process_max_fds", NULL, NULL);
	rss = expo_value(e, "process_resident_memory_bytes", NULL, NULL);
	cpu1 = expo_value(e, "process_cpu_seconds_total", NULL, NULL);
	ck_assert_msg(open1 > 0, "process_open_fds %g", open1);
	ck_assert_msg(open1 == (double)count_fds(), "process_open_fds %g, but %ld are open", open1,
		      count_fds());
	ck_assert_msg(max >= open1, "process_max_fds %g < process_open_fds %g", max, open1);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert(max == (double)rl.rlim_cur);
	ck_assert_msg(rss > 0 && rss < 1e12, "process_resident_memory_bytes %g", rss);
	ck_assert_msg(fmod(rss, (double)page) == 0, "RSS %g is not whole pages", rss);
	ck_assert_msg(cpu1 >= 0 && cpu1 < 3600, "process_cpu_seconds_total %g", cpu1);
	ck_assert(expo_value(e, "process_start_time_seconds", NULL, NULL) == now.start_time);

	/* More descriptors and some CPU time show in the next scrape. */
	for (size_t i = 0; i < ARRAY_LEN(fds); i++) {
		fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		ck_assert_int_ge(fds[i], 0);
	}
	t0 = clock();
	while (clock() - t0 < CLOCKS_PER_SEC / 10)
		;
	render_parse(&now, e);
	open2 = expo_value(e, "process_open_fds", NULL, NULL);
	cpu2 = expo_value(e, "process_cpu_seconds_total", NULL, NULL);
	ck_assert_msg(open2 == open1 + (double)ARRAY_LEN(fds), "open fds %g, then %g", open1,
		      open2);
	ck_assert_msg(cpu2 >= cpu1 + 0.05, "CPU seconds %g, then %g after 0.1 s of work", cpu1,
		      cpu2);
	for (size_t i = 0; i < ARRAY_LEN(fds); i++)
		close(fds[i]);
	free(e);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The reader refuses what it should (so a pass above means something). */

START_TEST(test_reader_refuses)
{
	static const struct {
		const char *what, *text;
	} bad[] = {
		{ "no HELP", "# TYPE a gauge\na 1\n" },
		{ "no TYPE", "# HELP a x\na 1\n" },
		{ "bad name", "# HELP 1a x\n# TYPE 1a gauge\n1a 1\n" },
		{ "counter without _total", "# HELP a x\n# TYPE a counter\na 1\n" },
		{ "unquoted label", "# HELP a x\n# TYPE a gauge\na{r=ok} 1\n" },
		{ "not contiguous",
		  "# HELP a x\n# TYPE a gauge\na 1\n"
		  "# HELP b x\n# TYPE b gauge\nb 1\na{r=\"x\"} 2\n" },
		{ "buckets not cumulative",
		  "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"2\"} 1\n"
		  "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n" },
		{ "+Inf differs from _count",
		  "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
		  "h_sum 1\nh_count 3\n" },
		{ "no final newline", "# HELP a x\n# TYPE a gauge\na 1" },
		{ "bad value", "# HELP a x\n# TYPE a gauge\na one\n" },
		{ "series twice", "# HELP a x\n# TYPE a gauge\na 1\na 2\n" },
	};
	expo_t *e = calloc(1, sizeof(*e));
	const char *good = "# HELP h x\n# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\n"
			   "h_bucket{le=\"+Inf\"} 2\nh_sum 1.5\nh_count 2\n"
			   "# HELP c_total y\n# TYPE c_total counter\nc_total{r=\"a\"} 3\n";

	ck_assert_ptr_nonnull(e);
	ck_assert_msg(expo_parse(e, good, strlen(good)) == 0, "good text refused: %s", e->err);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		ck_assert_msg(expo_parse(e, bad[i].text, strlen(bad[i].text)) != 0,
			      "reader accepts: %s", bad[i].what);
	free(e);
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *format = tcase_create("format");
	TCase *hist = tcase_create("histogram");
	TCase *refused = tcase_create("refused");
	TCase *process = tcase_create("process");

	tcase_add_test(format, test_reader_refuses);
	tcase_add_test(format, test_format_zero);
	tcase_add_test(format, test_format_filled);
	tcase_add_test(format, test_families_documented);
	tcase_add_test(format, test_values_mapped);
	tcase_add_test(format, test_labels_fixed);
	tcase_add_test(format, test_labels_check_catches);
	tcase_add_loop_test(hist, test_hist_cumulative, 0, 2);
	tcase_add_loop_test(hist, test_observe_edges, 0, 2);
	tcase_add_test(hist, test_observe_count);
	tcase_add_test(refused, test_refused_by_reason);
	tcase_add_test(refused, test_refused_out_of_range);
	tcase_add_test(refused, test_refused_int_min);
	tcase_add_test(process, test_process_metrics);
	suite_add_tcase(s, format);
	suite_add_tcase(s, hist);
	suite_add_tcase(s, refused);
	suite_add_tcase(s, process);
	return s;
}
