#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkerr.h"

static int io_err(char *err, size_t errlen, const char *path, const char *what)
{
	int e = errno;
	int rc = zk_errf(err, errlen, -ZK_EIO, "%s: %s: %s", path, what, strerror(e));

	errno = e; /* callers may look at EEXIST */
	return rc;
}

static int read_fd(int fd, const char *path, char *buf, size_t n, char *err, size_t errlen)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return io_err(err, errlen, path, "read");
		if (r == 0)
			return zk_errf(err, errlen, -ZK_EIO, "%s: changed while being read", path);
		got += (size_t)r;
	}
	return 0;
}

int file_read(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *b = NULL;
	size_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return io_err(err, errlen, path, "open");
	rc = -ZK_EIO;
	if (fstat(fd, &st)) {
		rc = io_err(err, errlen, path, "stat");
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = zk_errf(err, errlen, -ZK_EIO, "%s: not a regular file", path);
		goto fail;
	}
	if ((unsigned long long)st.st_size > max) {
		rc = zk_errf(err, errlen, -ZK_ETOOLARGE, "%s: larger than %zu bytes", path, max);
		goto fail;
	}
	n = (size_t)st.st_size;
	b = malloc(n + 1);
	if (!b) {
		rc = zk_errf(err, errlen, -ZK_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	rc = read_fd(fd, path, b, n, err, errlen);
	if (rc)
		goto fail;
	b[n] = '\0';
	close(fd);
	*buf = b;
	*len = n;
	return 0;
fail:
	free(b);
	close(fd);
	return rc;
}

static int write_all(int fd, const char *path, const void *p, size_t n, char *err,
		     size_t errlen)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return io_err(err, errlen, path, "write");
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int write_fd(int fd, const char *path, const void *p, size_t n, char *err,
		    size_t errlen)
{
	int rc = write_all(fd, path, p, n, err, errlen);

	if (rc == 0 && fsync(fd))
		rc = io_err(err, errlen, path, "fsync");
	return rc;
}

static int write_file(int fd, const char *path, const void *p, size_t n, mode_t mode,
		      char *err, size_t errlen)
{
	int rc = write_fd(fd, path, p, n, err, errlen);

	/* The mode asked for, whatever the umask made of it. */
	if (rc == 0 && fchmod(fd, mode))
		rc = io_err(err, errlen, path, "chmod");
	if (close(fd) && rc == 0)
		rc = io_err(err, errlen, path, "close");
	return rc;
}

int file_create(const char *path, const void *p, size_t n, mode_t mode, char *err,
		size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode & 0600);
	int rc;

	if (fd < 0)
		return io_err(err, errlen, path, "create");
	rc = write_file(fd, path, p, n, mode, err, errlen);
	if (rc)
		unlink(path);
	return rc;
}

/* fsync the directory holding path, so a rename survives a crash. */
static void sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd;

	if (strlen(path) >= sizeof(copy))
		return;
	memcpy(copy, path, strlen(path) + 1);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd); /* best effort: the data itself is synced */
		close(fd);
	}
}

/* A device or a pipe (e.g. "-o /dev/null") is written into, never
 * replaced: renaming over it would put a regular file in its place. */
static int write_special(const char *path, const void *p, size_t n, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY), rc;

	if (fd < 0)
		return io_err(err, errlen, path, "open");
	rc = write_all(fd, path, p, n, err, errlen); /* no fsync: not a file */
	if (close(fd) && rc == 0)
		rc = io_err(err, errlen, path, "close");
	return rc;
}

int file_replace(const char *path, const void *p, size_t n, mode_t mode, char *err,
		 size_t errlen)
{
	char tmp[PATH_MAX];
	struct stat st;
	int fd, rc;

	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return write_special(path, p, n, err, errlen);
	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp))
		return zk_errf(err, errlen, -ZK_EINVAL, "%s: path too long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return io_err(err, errlen, path, "create temporary file");
	rc = write_file(fd, tmp, p, n, mode, err, errlen);
	if (rc == 0 && rename(tmp, path))
		rc = io_err(err, errlen, path, "rename");
	if (rc)
		unlink(tmp);
	else
		sync_dir(path);
	return rc;
}
