#include "audit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ident.h"
#include "log.h"
#include "token.h"
#include "wire.h"
#include "zkerr.h"

struct audit {
	hashchain_t *chain;
};

/* One entry before it is checked and written. */
typedef struct {
	const char *event;
	const char *endpoint; /* required */
	const char *practice; /* NULL: the endpoint's own */
	const char *peer;     /* optional */
	int reason;           /* a wire reason, either sign; 0: none */
	int needs_reason;     /* refusals and cuts always say why */
	const char *jti;      /* optional */
} audit_event_t;

/* ---- opening ------------------------------------------------------------- */

int audit_open(const char *path, unsigned flags, audit_t **out, char *err, size_t errlen)
{
	audit_t *a;
	int rc;

	if (!out || (flags & ~(unsigned)AUDIT_SYNC)) {
		if (err && errlen)
			snprintf(err, errlen, "audit: bad argument");
		return -ZK_EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		if (err && errlen)
			snprintf(err, errlen, "audit: out of memory");
		return -ZK_ENOMEM;
	}
	rc = hashchain_open(path, flags, &a->chain, err, errlen);
	if (rc) {
		free(a);
		return rc;
	}
	*out = a;
	return 0;
}

void audit_close(audit_t **ap)
{
	audit_t *a = ap ? *ap : NULL;

	if (!a)
		return;
	hashchain_close(&a->chain);
	free(a);
	*ap = NULL;
}

/* ---- checking and writing ------------------------------------------------ */

/* "2026-11-29T17:00:00.123Z" */
static int now_rfc3339(char out[32])
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm))
		return -ZK_EIO;
	n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n == 0 || snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000) != 5)
		return -ZK_EIO;
	return 0;
}

static int addr_ok(const char *s, size_t *plen)
{
	size_t len = strnlen(s, WIRE_MAX_ADDR + 1);

	return len <= WIRE_MAX_ADDR && ident_addr_ok((const uint8_t *)s, len, plen);
}

static int id_ok(const char *s)
{
	size_t len = strnlen(s, WIRE_MAX_ID + 1);

	return len <= WIRE_MAX_ID && ident_id_ok(s, len);
}

/* The same bound as a token's jti; the bytes are JSON-escaped on output. */
static int jti_ok(const char *s)
{
	size_t len = strnlen(s, TOKEN_MAX_JTI + 1);

	return len > 0 && len <= TOKEN_MAX_JTI;
}

/* Sets key to a copy of the len bytes at s; -1 if they are not UTF-8. */
static int put(json_t *o, const char *key, const char *s, size_t len)
{
	return json_object_set_new(o, key, json_stringn(s, len));
}

/* Builds the entry's fields; -ZK_EINVAL for anything not well formed. */
static int build(const audit_event_t *ev, const char *stamp, json_t *o)
{
	char practice[WIRE_MAX_ID + 1];
	size_t plen = 0, peer_plen = 0;
	int reason;

	if (!ev->endpoint || !addr_ok(ev->endpoint, &plen))
		return -ZK_EINVAL;
	if (ev->practice && !id_ok(ev->practice))
		return -ZK_EINVAL;
	if (ev->peer && !addr_ok(ev->peer, &peer_plen))
		return -ZK_EINVAL;
	if (ev->jti && !jti_ok(ev->jti))
		return -ZK_EINVAL;
	/* Only wire reasons: the names a practice sees on the wire too. */
	if (ev->reason == INT_MIN || (ev->needs_reason && ev->reason == 0))
		return -ZK_EINVAL;
	reason = ev->reason < 0 ? -ev->reason : ev->reason;
	if (reason >= ZK_REASON_COUNT)
		return -ZK_EINVAL;
	if (ev->practice)
		snprintf(practice, sizeof(practice), "%s", ev->practice);
	else
		snprintf(practice, sizeof(practice), "%.*s", (int)plen, ev->endpoint);

	if (put(o, "time", stamp, strlen(stamp)) || put(o, "event", ev->event, strlen(ev->event)) ||
	    put(o, "practice", practice, strlen(practice)) ||
	    put(o, "endpoint", ev->endpoint, strlen(ev->endpoint)))
		return -ZK_ENOMEM;
	if (ev->peer && put(o, "peer", ev->peer, strlen(ev->peer)))
		return -ZK_ENOMEM;
	if (reason && put(o, "reason", zk_err_name(reason), strlen(zk_err_name(reason))))
		return -ZK_ENOMEM;
	/* A jti is any string up to the bound; jansson refuses bad UTF-8. */
	if (ev->jti && put(o, "jti", ev->jti, strlen(ev->jti)))
		return -ZK_EINVAL;
	return 0;
}

static int audit_write(audit_t *a, const audit_event_t *ev)
{
	char stamp[32];
	json_t *o = NULL;
	int rc;

	if (!a)
		return 0;
	rc = now_rfc3339(stamp);
	if (rc)
		goto out;
	o = json_object();
	if (!o) {
		rc = -ZK_ENOMEM;
		goto out;
	}
	rc = build(ev, stamp, o);
	if (rc)
		goto out;
	rc = hashchain_append(a->chain, o);
out:
	json_decref(o);
	if (rc)
		zlog(ZLOG_ERROR, "audit_failed", "ss", "audit_event", ev->event, "error",
		     zk_err_name(rc));
	return rc;
}

/* ---- events ---------------------------------------------------------------- */

int audit_connect(audit_t *a, const char *endpoint)
{
	const audit_event_t ev = { .event = "connect", .endpoint = endpoint };

	return audit_write(a, &ev);
}

int audit_hello_accepted(audit_t *a, const char *endpoint, const char *practice,
			 const char *jti)
{
	const audit_event_t ev = { .event = "hello_accepted", .endpoint = endpoint,
				   .practice = practice, .jti = jti };

	return audit_write(a, &ev);
}

int audit_hello_refused(audit_t *a, const char *endpoint, const char *practice, int reason,
			const char *jti)
{
	const audit_event_t ev = { .event = "hello_refused", .endpoint = endpoint,
				   .practice = practice, .reason = reason, .needs_reason = 1,
				   .jti = jti };

	return audit_write(a, &ev);
}

int audit_route_refused(audit_t *a, const char *endpoint, const char *practice,
			const char *peer, int reason, const char *jti)
{
	const audit_event_t ev = { .event = "route_refused", .endpoint = endpoint,
				   .practice = practice, .peer = peer,
				   .reason = reason, .needs_reason = 1, .jti = jti };

	return audit_write(a, &ev);
}

int audit_connection_cut(audit_t *a, const char *endpoint, const char *practice, int reason,
			 const char *jti)
{
	const audit_event_t ev = { .event = "connection_cut", .endpoint = endpoint,
				   .practice = practice, .reason = reason, .needs_reason = 1,
				   .jti = jti };

	return audit_write(a, &ev);
}

int audit_disconnect(audit_t *a, const char *endpoint, const char *practice, int reason,
		     const char *jti)
{
	const audit_event_t ev = { .event = "disconnect", .endpoint = endpoint,
				   .practice = practice, .reason = reason, .jti = jti };

	return audit_write(a, &ev);
}

/* ---- export ---------------------------------------------------------------- */

typedef struct {
	const char *practice;
	size_t plen;
	uint64_t last;     /* the last verified line: stop there */
	uint64_t matched;
	FILE *out;
	int write_failed;
} export_t;

static int concerns(const export_t *x, const json_t *entry)
{
	const json_t *p = json_object_get(entry, "practice");
	const json_t *peer = json_object_get(entry, "peer");

	if (json_is_string(p) && json_string_length(p) == x->plen &&
	    memcmp(json_string_value(p), x->practice, x->plen) == 0)
		return 1;
	return json_is_string(peer) && json_string_length(peer) > x->plen &&
	       memcmp(json_string_value(peer), x->practice, x->plen) == 0 &&
	       json_string_value(peer)[x->plen] == '/';
}

static int export_line_cb(const json_t *entry, const char *line, size_t len, uint64_t seq,
			  void *arg)
{
	export_t *x = arg;

	if (concerns(x, entry)) {
		if (fwrite(line, 1, len, x->out) != len || fputc('\n', x->out) == EOF) {
			x->write_failed = 1;
			return -ZK_EIO;
		}
		x->matched++;
	}
	/* Lines after the verified ones may still be being written. */
	return seq >= x->last ? 1 : 0;
}

int audit_export(const char *path, const char *practice, FILE *out, uint64_t *matched,
		 char *err, size_t errlen)
{
	export_t x = { .practice = practice, .out = out };
	int fd = -1, rc;

	if (!path || !out || !practice || !id_ok(practice)) {
		if (err && errlen)
			snprintf(err, errlen, "not a practice id ([a-z0-9][a-z0-9._-]{0,63})");
		return -ZK_EINVAL;
	}
	x.plen = strlen(practice);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (err && errlen)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(e));
		return -ZK_EIO;
	}
	/* The whole chain first: a practice is never handed entries from a
	 * file that fails to verify. The same descriptor is read twice, so a
	 * file renamed over path in between changes nothing. */
	rc = hashchain_walk_fd(fd, path, NULL, NULL, &x.last, err, errlen);
	if (rc || x.last == 0)
		goto out;
	rc = hashchain_walk_fd(fd, path, export_line_cb, &x, NULL, err, errlen);
	if (rc == 0 && fflush(out) != 0)
		x.write_failed = 1;
	if (x.write_failed) {
		if (err && errlen)
			snprintf(err, errlen, "cannot write the output");
		rc = -ZK_EIO;
	}
out:
	close(fd);
	if (rc == 0 && matched)
		*matched = x.matched;
	return rc;
}
