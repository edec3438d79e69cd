#include "accesslog.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "zkerr.h"

int accesslog_open(const char *path, hashchain_t **out, char *err, size_t errlen)
{
	return hashchain_open(path, HASHCHAIN_SYNC, out, err, errlen);
}

/* "2026-11-29T17:00:00.123Z" */
static void iso_time(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	char sec[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, cap, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

int accesslog_write(hashchain_t *hc, const accesslog_entry_t *e)
{
	char now[48];
	json_t *j;
	int rc;

	iso_time(now, sizeof(now));
	j = json_pack("{s:s, s:s, s:o, s:o, s:o, s:b, s:o, s:s}", "event", "access", "client",
		      e->client, "op", str_or_null(e->op), "patient", str_or_null(e->patient),
		      "doc", str_or_null(e->doc), "allowed", e->allowed, "reason",
		      e->outcome == DOCPROTO_OK ? json_null()
						: json_string(docproto_status_name(e->outcome)),
		      "time", now);
	if (!j)
		return -ZK_ENOMEM;
	rc = hashchain_append(hc, j);
	json_decref(j);
	return rc;
}

int accesslog_verify(const char *path, unsigned long long *lines, char *err, size_t errlen)
{
	char why[512] = "", prefix[64];
	uint64_t n = 0;
	size_t plen;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0)
		return zk_errf(err, errlen, -ZK_EIO, "%s: cannot open", path);
	rc = hashchain_walk_fd(fd, "", NULL, NULL, &n, why, sizeof(why));
	close(fd);
	if (rc == 0) {
		*lines = (unsigned long long)n;
		return 0;
	}
	if (rc != -ZK_EMALFORMED)
		return zk_errf(err, errlen, rc, "%s: %s", path, why);
	/* hashchain says ": line N: why" for the empty name given; the
	 * contract's form is "PATH:N: why". */
	snprintf(prefix, sizeof(prefix), ": line %llu: ", (unsigned long long)n);
	plen = strlen(prefix);
	return zk_errf(err, errlen, rc, "%s:%llu: %s", path, (unsigned long long)n,
		       strncmp(why, prefix, plen) == 0 ? why + plen : why);
}
