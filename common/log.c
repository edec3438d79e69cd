#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static zlog_level_t min_level = ZLOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void zlog_set_level(zlog_level_t level) { min_level = level; }
zlog_level_t zlog_get_level(void) { return min_level; }

int zlog_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

/* A bounded line builder: a line that would overflow is cut, never
 * overrun, and still closed as valid JSON. */
typedef struct {
	char b[2048];
	size_t n;
} line_t;

static void put_raw(line_t *l, const char *s, size_t len)
{
	size_t room = sizeof(l->b) - 8 - l->n; /* keep room for the close */
	if (len > room)
		len = room;
	memcpy(l->b + l->n, s, len);
	l->n += len;
}

static void put_str(line_t *l, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	put_raw(l, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			put_raw(l, e, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			put_raw(l, e, 6);
		} else {
			put_raw(l, (const char *)&c, 1);
		}
	}
	put_raw(l, "\"", 1);
}

static void put_fmt(line_t *l, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put_raw(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static void put_time(line_t *l)
{
	struct timespec ts;
	struct tm tm;
	char tmp[40];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%S", &tm);
	put_raw(l, "\"", 1);
	put_raw(l, tmp, n);
	put_fmt(l, ".%03ldZ\"", ts.tv_nsec / 1000000);
}

static void put_fields(line_t *l, const char *spec, va_list ap)
{
	for (; spec && *spec; spec++) {
		const char *key = va_arg(ap, const char *);
		put_raw(l, ",", 1);
		put_str(l, key);
		put_raw(l, ":", 1);
		if (*spec == 's') {
			const char *v = va_arg(ap, const char *);
			if (v)
				put_str(l, v);
			else
				put_raw(l, "null", 4);
		} else if (*spec == 'd') {
			put_fmt(l, "%d", va_arg(ap, int));
		} else if (*spec == 'u') {
			put_fmt(l, "%llu", va_arg(ap, unsigned long long));
		} else {
			put_raw(l, "null", 4);
			return; /* unknown spec: the varargs are no longer in step */
		}
	}
}

void zlog(zlog_level_t level, const char *event, const char *spec, ...)
{
	line_t l;
	va_list ap;

	if (level < min_level || level > ZLOG_ERROR)
		return;
	l.n = 0;
	put_raw(&l, "{\"level\":", 9);
	put_str(&l, level_names[level]);
	put_raw(&l, ",\"time\":", 8);
	put_time(&l);
	put_raw(&l, ",\"event\":", 9);
	put_str(&l, event);
	va_start(ap, spec);
	put_fields(&l, spec, ap);
	va_end(ap);
	/* put_raw always leaves 8 bytes, enough for the close. */
	memcpy(l.b + l.n, "}\n", 2);
	l.n += 2;
	fwrite(l.b, 1, l.n, stderr);
	fflush(stderr);
}
