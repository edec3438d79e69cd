#include "hashchain.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "zkerr.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)

struct hashchain {
	int fd;
	unsigned flags;
	uint64_t seq;                        /* last line written */
	char head[HASHCHAIN_HASH_HEX + 1];   /* its hash */
	off_t size;                          /* bytes of whole lines */
	int broken;                          /* a write or sync failed */
	char *buf;                           /* HASHCHAIN_MAX_LINE bytes */
};

static const char zero_hash[HASHCHAIN_HASH_HEX + 1] =
	"0000000000000000000000000000000000000000000000000000000000000000";

/* ---- messages ------------------------------------------------------------ */


/* "<path>: <what>: <strerror>", -ZK_EIO. Reads errno first. */
static int sys_fail(char *err, size_t errlen, const char *path, const char *what)
{
	int e = errno;

	return zk_errf(err, errlen, -ZK_EIO, "%s: %s: %s", path, what, strerror(e));
}

/* ---- hashing --------------------------------------------------------------- */

static int hash_hex(const char *p, size_t len, char out[HASHCHAIN_HASH_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[32];
	unsigned int mdlen = 0;

	if (EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md))
		return -ZK_ENOMEM;
	for (size_t i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[HASHCHAIN_HASH_HEX] = '\0';
	return 0;
}

/* ---- reading and verifying ----------------------------------------------- */

/* A bounded line reader over pread(2) plus the chain state so far. */
typedef struct {
	int fd;
	const char *name;
	char *err;
	size_t errlen;
	char *buf;           /* HASHCHAIN_MAX_LINE bytes */
	size_t start, end;   /* unread bytes are buf[start, end) */
	off_t off;           /* file offset of the next read */
	int eof;
	int bad;             /* the chain broke at line seq + 1 */
	uint64_t seq;        /* lines verified */
	char head[HASHCHAIN_HASH_HEX + 1];
} walk_t;

/* "<name>: line <n>: <why>" for the line after the last good one. */
__attribute__((format(printf, 2, 3))) static int bad_line(walk_t *w, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	w->bad = 1;
	return zk_errf(w->err, w->errlen, -ZK_EMALFORMED, "%s: line %llu: %s", w->name,
		   (unsigned long long)(w->seq + 1), why);
}

/* 1 and the next line (without its newline), 0 at a clean end of file, or
 * a negative error. A line never needs more than the buffer. */
static int next_line(walk_t *w, const char **line, size_t *len)
{
	for (;;) {
		char *nl = memchr(w->buf + w->start, '\n', w->end - w->start);
		ssize_t n;

		if (nl) {
			*line = w->buf + w->start;
			*len = (size_t)(nl - *line);
			w->start = (size_t)(nl - w->buf) + 1;
			return 1;
		}
		if (w->end - w->start == HASHCHAIN_MAX_LINE)
			return bad_line(w, "longer than %u bytes", HASHCHAIN_MAX_LINE - 1);
		if (w->eof) {
			if (w->end > w->start)
				return bad_line(w, "no newline at the end (cut short?)");
			return 0;
		}
		memmove(w->buf, w->buf + w->start, w->end - w->start);
		w->end -= w->start;
		w->start = 0;
		do
			n = pread(w->fd, w->buf + w->end, HASHCHAIN_MAX_LINE - w->end, w->off);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return sys_fail(w->err, w->errlen, w->name, "cannot read");
		if (n == 0)
			w->eof = 1;
		w->end += (size_t)n;
		w->off += n;
	}
}

/* Checks one line against the chain so far and advances it. */
static int check_line(walk_t *w, const char *line, size_t len, json_t **out)
{
	json_error_t jerr;
	json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *seq, *prev;
	char head[HASHCHAIN_HASH_HEX + 1];
	int rc;

	if (!j) {
		rc = bad_line(w, "not valid JSON (%s, column %d)", jerr.text, jerr.column);
		goto out;
	}
	if (!json_is_object(j)) {
		rc = bad_line(w, "not a JSON object");
		goto out;
	}
	seq = json_object_get(j, "seq");
	if (!json_is_integer(seq)) {
		rc = bad_line(w, "\"seq\" missing or not an integer");
		goto out;
	}
	if (json_integer_value(seq) < 1 || (uint64_t)json_integer_value(seq) != w->seq + 1) {
		rc = bad_line(w, "\"seq\" is %lld, expected %llu (a line removed, moved or added)",
			      (long long)json_integer_value(seq), (unsigned long long)(w->seq + 1));
		goto out;
	}
	prev = json_object_get(j, "prev");
	if (!json_is_string(prev) || json_string_length(prev) != HASHCHAIN_HASH_HEX) {
		rc = bad_line(w, "\"prev\" missing or not %u hex digits", HASHCHAIN_HASH_HEX);
		goto out;
	}
	if (strcmp(json_string_value(prev), w->head) != 0) {
		if (w->seq == 0)
			rc = bad_line(w, "\"prev\" of the first line is not %u zeros",
				      HASHCHAIN_HASH_HEX);
		else
			rc = bad_line(w, "\"prev\" is not the hash of line %llu (one of them was "
				      "changed, or a line was put in between)",
				      (unsigned long long)w->seq);
		goto out;
	}
	rc = hash_hex(line, len, head);
	if (rc) {
		rc = zk_errf(w->err, w->errlen, rc, "%s: SHA-256 failed", w->name);
		goto out;
	}
	memcpy(w->head, head, sizeof(head));
	w->seq++;
out:
	if (rc) {
		json_decref(j);
		return rc;
	}
	*out = j;
	return 0;
}

static int walk_init(walk_t *w, int fd, const char *name, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->name = name;
	w->err = err;
	w->errlen = errlen;
	memcpy(w->head, zero_hash, sizeof(zero_hash));
	w->buf = malloc(HASHCHAIN_MAX_LINE);
	if (!w->buf)
		return zk_errf(err, errlen, -ZK_ENOMEM, "%s: out of memory", name);
	return 0;
}

/* Walks to the end of the file or until cb stops it; 0 or an error. */
static int walk_run(walk_t *w, hashchain_line_cb cb, void *arg)
{
	int rc;

	for (;;) {
		const char *line = NULL;
		size_t len = 0;
		json_t *entry = NULL;

		rc = next_line(w, &line, &len);
		if (rc <= 0)
			break;
		rc = check_line(w, line, len, &entry);
		if (rc)
			break;
		if (cb)
			rc = cb(entry, line, len, w->seq, arg);
		json_decref(entry);
		if (rc)
			break;
	}
	return rc > 0 ? 0 : rc;
}

int hashchain_walk_fd(int fd, const char *name, hashchain_line_cb cb, void *arg,
		      uint64_t *lines, char *err, size_t errlen)
{
	walk_t w;
	int rc;

	if (lines)
		*lines = 0;
	if (fd < 0 || !name)
		return zk_errf(err, errlen, -ZK_EINVAL, "hashchain: bad argument");
	rc = walk_init(&w, fd, name, err, errlen);
	if (rc == 0)
		rc = walk_run(&w, cb, arg);
	free(w.buf);
	if (lines)
		*lines = rc == 0 ? w.seq : w.bad ? w.seq + 1 : 0;
	return rc;
}

int hashchain_verify_file(const char *path, uint64_t *lines, char *err, size_t errlen)
{
	int fd, rc;

	if (lines)
		*lines = 0;
	if (!path)
		return zk_errf(err, errlen, -ZK_EINVAL, "hashchain: no path");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sys_fail(err, errlen, path, "cannot open");
	rc = hashchain_walk_fd(fd, path, NULL, NULL, lines, err, errlen);
	close(fd);
	return rc;
}

/* ---- writing --------------------------------------------------------------- */

/* A new file's directory entry is only durable once its directory is. */
static int sync_dir(const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	const char *dir;
	int fd = -1, rc = 0;

	if (!copy)
		return zk_errf(err, errlen, -ZK_ENOMEM, "%s: out of memory", path);
	dir = dirname(copy);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = sys_fail(err, errlen, dir, "cannot sync directory");
	if (fd >= 0)
		close(fd);
	free(copy);
	return rc;
}

/* Reads the chain in the file hc->fd was opened on, through a second,
 * read-only descriptor that must name the same file. */
static int recover(hashchain_t *hc, const char *path, char *err, size_t errlen)
{
	struct stat ws, rs;
	walk_t w = { .buf = NULL };
	int rfd = -1, rc;

	if (fstat(hc->fd, &ws) != 0)
		return sys_fail(err, errlen, path, "cannot stat");
	if (!S_ISREG(ws.st_mode))
		return zk_errf(err, errlen, -ZK_EINVAL, "%s: not a regular file", path);
	rfd = open(path, O_RDONLY | O_CLOEXEC);
	if (rfd < 0) {
		rc = sys_fail(err, errlen, path, "cannot open for reading");
		goto out;
	}
	if (fstat(rfd, &rs) != 0) {
		rc = sys_fail(err, errlen, path, "cannot stat");
		goto out;
	}
	if (rs.st_dev != ws.st_dev || rs.st_ino != ws.st_ino) {
		rc = zk_errf(err, errlen, -ZK_EIO, "%s: replaced while being opened", path);
		goto out;
	}
	rc = walk_init(&w, rfd, path, err, errlen);
	if (rc)
		goto out;
	rc = walk_run(&w, NULL, NULL);
	if (rc)
		goto out;
	hc->seq = w.seq;
	memcpy(hc->head, w.head, sizeof(hc->head));
	hc->size = w.off;
out:
	free(w.buf);
	if (rfd >= 0)
		close(rfd);
	return rc;
}

int hashchain_open(const char *path, unsigned flags, hashchain_t **out, char *err,
		   size_t errlen)
{
	hashchain_t *hc = NULL;
	int rc;

	if (!path || !*path || !out || (flags & ~(unsigned)HASHCHAIN_SYNC))
		return zk_errf(err, errlen, -ZK_EINVAL, "hashchain: bad argument");
	hc = calloc(1, sizeof(*hc));
	if (!hc)
		return zk_errf(err, errlen, -ZK_ENOMEM, "%s: out of memory", path);
	hc->fd = -1;
	hc->flags = flags;
	hc->buf = malloc(HASHCHAIN_MAX_LINE);
	if (!hc->buf) {
		rc = zk_errf(err, errlen, -ZK_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	hc->fd = open(path, O_APPEND | O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	if (hc->fd < 0) {
		rc = sys_fail(err, errlen, path, "cannot open for appending");
		goto out;
	}
	/* Two writers would interleave lines with the same seq. */
	if (flock(hc->fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK)
			rc = zk_errf(err, errlen, -ZK_EIO, "%s: already open for writing elsewhere",
				 path);
		else
			rc = sys_fail(err, errlen, path, "cannot lock");
		goto out;
	}
	rc = recover(hc, path, err, errlen);
	if (rc)
		goto out;
	if ((flags & HASHCHAIN_SYNC) && hc->size == 0)
		rc = sync_dir(path, err, errlen);
out:
	if (rc) {
		hashchain_close(&hc);
		return rc;
	}
	*out = hc;
	return 0;
}

void hashchain_close(hashchain_t **hcp)
{
	hashchain_t *hc = hcp ? *hcp : NULL;

	if (!hc)
		return;
	if (hc->fd >= 0)
		close(hc->fd); /* also drops the lock */
	free(hc->buf);
	free(hc);
	*hcp = NULL;
}

uint64_t hashchain_seq(const hashchain_t *hc)
{
	return hc ? hc->seq : 0;
}

void hashchain_head(const hashchain_t *hc, char out[HASHCHAIN_HASH_HEX + 1])
{
	memcpy(out, hc ? hc->head : zero_hash, HASHCHAIN_HASH_HEX + 1);
}

/* Serializes fields plus seq and prev into hc->buf, newline included. */
static int render(hashchain_t *hc, json_t *fields, size_t *len)
{
	json_t *line = json_object();
	size_t n;
	int rc = -ZK_ENOMEM;

	if (!line || json_object_update(line, fields) != 0 ||
	    json_object_set_new(line, "seq", json_integer((json_int_t)(hc->seq + 1))) != 0 ||
	    json_object_set_new(line, "prev", json_string(hc->head)) != 0)
		goto out;
	n = json_dumpb(line, hc->buf, HASHCHAIN_MAX_LINE, DUMP_FLAGS);
	if (n == 0)
		goto out;
	/* The reader's bound, so every line written can be read back. */
	if (n > HASHCHAIN_MAX_LINE - 1) {
		rc = -ZK_ETOOLARGE;
		goto out;
	}
	hc->buf[n] = '\n';
	*len = n + 1;
	rc = 0;
out:
	json_decref(line);
	return rc;
}

/* One write(2) for the whole line. Anything short of that is undone, so
 * the file never keeps half a line. */
static int write_line(hashchain_t *hc, size_t len)
{
	ssize_t n;

	do
		n = write(hc->fd, hc->buf, len);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	if (ftruncate(hc->fd, hc->size) != 0)
		hc->broken = 1;
	return -ZK_EIO;
}

int hashchain_append(hashchain_t *hc, json_t *fields)
{
	char head[HASHCHAIN_HASH_HEX + 1];
	size_t len = 0;
	int rc;

	if (!hc || !json_is_object(fields) || json_object_get(fields, "seq") ||
	    json_object_get(fields, "prev") || hc->seq >= (uint64_t)INT64_MAX)
		return -ZK_EINVAL;
	if (hc->broken)
		return -ZK_EIO;
	rc = render(hc, fields, &len);
	if (rc)
		return rc;
	rc = hash_hex(hc->buf, len - 1, head);
	if (rc)
		return rc;
	rc = write_line(hc, len);
	if (rc)
		return rc;
	hc->seq++;
	memcpy(hc->head, head, sizeof(head));
	hc->size += (off_t)len;
	/* After a failed sync the kernel may have dropped the line while
	 * marking it clean; nothing written after it can be trusted until
	 * the file is opened (and read back) again. */
	if ((hc->flags & HASHCHAIN_SYNC) && fdatasync(hc->fd) != 0) {
		hc->broken = 1;
		return -ZK_EIO;
	}
	return 0;
}
