#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "name.h"
#include "zkerr.h"

#define IO_CHUNK 65536u

static docproto_status_t fail_io(const char *what)
{
	zlog(ZLOG_ERROR, "store_error", "ss", "op", what, "error", strerror(errno));
	return DOCPROTO_INTERNAL;
}

int store_open(const char *dir, uint64_t max_bytes, store_t *out, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return zk_errf(err, errlen, -ZK_EIO, "%s: %s", dir, strerror(errno));
	out->dirfd = fd;
	out->max_bytes = max_bytes;
	return 0;
}

void store_close(store_t *s)
{
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->dirfd = -1;
}

/* The patient's directory, opened without following a link. -1 with
 * errno ENOENT when there is none: a link or a file in its place (ELOOP,
 * ENOTDIR) is no patient directory either. */
static int patient_dir(const store_t *s, const char *patient, int create)
{
	int fd;

	if (!name_doc_ok_str(patient)) {
		errno = EINVAL;
		return -1;
	}
	if (create && mkdirat(s->dirfd, patient, 0700) && errno != EEXIST)
		return -1;
	fd = openat(s->dirfd, patient, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
		errno = ENOENT;
	return fd;
}

/* SHA-256 and size of an open regular file, read to its end. */
static int hash_fd(int fd, uint8_t sha[32], uint64_t *size)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t *buf = malloc(IO_CHUNK);
	uint64_t total = 0;
	ssize_t r = -1;
	int rc = -1;

	if (!md || !buf || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto fail;
	while ((r = read(fd, buf, IO_CHUNK)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || EVP_DigestUpdate(md, buf, (size_t)r) != 1)
			goto fail;
		total += (uint64_t)r;
	}
	if (EVP_DigestFinal_ex(md, sha, NULL) != 1)
		goto fail;
	*size = total;
	rc = 0;
fail:
	free(buf);
	EVP_MD_CTX_free(md);
	return rc;
}

static int entry_json(int dfd, const char *name, json_t *arr)
{
	char hex[DOCPROTO_SHA256_HEX + 1];
	uint8_t sha[32];
	uint64_t size;
	struct stat st;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	int rc = -1;

	if (fd < 0)
		return errno == ELOOP ? 0 : -1; /* a link is not a document */
	if (fstat(fd, &st))
		goto out;
	rc = 0;
	if (!S_ISREG(st.st_mode))
		goto out; /* a directory, a FIFO: not a document */
	rc = -1;
	if (hash_fd(fd, sha, &size))
		goto out;
	docproto_hex(sha, hex);
	rc = json_array_append_new(arr, json_pack("{s:s, s:I, s:s}", "name", name, "size",
						  (json_int_t)size, "sha256", hex));
out:
	close(fd);
	return rc;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "name")),
		      json_string_value(json_object_get(*(json_t *const *)b, "name")));
}

/* Sorted, so a listing does not leak the directory's creation order. */
static json_t *sorted(json_t *arr)
{
	size_t n = json_array_size(arr);
	json_t **v = calloc(n ? n : 1, sizeof(*v)), *out = json_array();

	for (size_t i = 0; v && out && i < n; i++)
		v[i] = json_array_get(arr, i);
	if (v && out) {
		qsort(v, n, sizeof(*v), by_name);
		for (size_t i = 0; i < n; i++)
			json_array_append(out, v[i]);
	}
	free(v);
	json_decref(arr);
	if (!v || !out || json_array_size(out) != n) {
		json_decref(out);
		return NULL;
	}
	return out;
}

docproto_status_t store_list(const store_t *s, const char *patient, json_t **docs)
{
	json_t *arr = json_array();
	struct dirent *e;
	DIR *d = NULL;
	int fd = patient_dir(s, patient, 0);

	if (!arr)
		goto fail;
	if (fd < 0 && errno == ENOENT) {
		*docs = arr;
		return DOCPROTO_OK;
	}
	if (fd < 0 || !(d = fdopendir(fd)))
		goto fail;
	while ((errno = 0, e = readdir(d)) != NULL)
		if (name_doc_ok_str(e->d_name) && entry_json(dirfd(d), e->d_name, arr))
			goto fail;
	if (errno)
		goto fail;
	closedir(d);
	*docs = sorted(arr);
	return *docs ? DOCPROTO_OK : DOCPROTO_INTERNAL;
fail:
	if (d)
		closedir(d);
	else if (fd >= 0)
		close(fd);
	json_decref(arr);
	return fail_io("list");
}

docproto_status_t store_open_doc(const store_t *s, const char *patient, const char *doc,
				 int *fd, uint64_t *size)
{
	docproto_status_t st = DOCPROTO_NOT_FOUND;
	struct stat sb;
	int dfd, f;

	if (!name_doc_ok_str(doc))
		return DOCPROTO_BAD_REQUEST;
	dfd = patient_dir(s, patient, 0);
	if (dfd < 0)
		return errno == ENOENT ? st : fail_io("get");
	/* O_NONBLOCK: opening a FIFO someone left in the store must not
	 * block the agent; it is refused below as not a regular file. */
	f = openat(dfd, doc, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	close(dfd);
	if (f < 0)
		return errno == ENOENT || errno == ELOOP ? st : fail_io("get");
	if (fstat(f, &sb) || !S_ISREG(sb.st_mode))
		goto fail; /* not a document */
	st = DOCPROTO_TOO_LARGE;
	if ((uint64_t)sb.st_size > s->max_bytes)
		goto fail;
	*fd = f;
	*size = (uint64_t)sb.st_size;
	return DOCPROTO_OK;
fail:
	close(f);
	return st;
}

int store_read_doc(int fd, uint8_t *p, size_t n, uint8_t sha[32])
{
	size_t got = 0;
	uint8_t extra;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -ZK_EIO;
		got += (size_t)r;
	}
	/* A document that grew since it was opened would be served cut. */
	if (read(fd, &extra, 1) != 0)
		return -ZK_EIO;
	return EVP_Digest(p, n, sha, NULL, EVP_sha256(), NULL) == 1 ? 0 : -ZK_EIO;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A temporary file in dfd, named ".up-<random>": never a valid document
 * name, so never listed or served half-written. */
static int temp_file(int dfd, char name[40])
{
	unsigned char r[8];
	int fd;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	snprintf(name, 40, ".up-%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4],
		 r[5], r[6], r[7]);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		name[0] = '\0'; /* not ours to remove */
	return fd;
}

/* Moves tmp to doc unless doc exists. renameat2's RENAME_NOREPLACE does
 * it in one step; a file system without it gets link + unlink, which
 * refuses an existing name as well. */
static int place(int dfd, const char *tmp, const char *doc)
{
	if (renameat2(dfd, tmp, dfd, doc, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (linkat(dfd, tmp, dfd, doc, 0))
		return -1;
	unlinkat(dfd, tmp, 0);
	return 0;
}

docproto_status_t store_put(const store_t *s, const char *patient, const char *doc,
			    const uint8_t *data, size_t len)
{
	docproto_status_t st = DOCPROTO_TOO_LARGE;
	char tmp[40] = "";
	int dfd = -1, fd = -1, rc;
	struct stat sb;

	if (!name_doc_ok_str(doc))
		return DOCPROTO_BAD_REQUEST;
	if (len > s->max_bytes)
		return st;
	st = DOCPROTO_INTERNAL;
	dfd = patient_dir(s, patient, 1);
	if (dfd < 0)
		goto fail;
	st = DOCPROTO_EXISTS; /* the early answer; place() is the real check */
	if (fstatat(dfd, doc, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		goto out;
	st = DOCPROTO_INTERNAL;
	fd = temp_file(dfd, tmp);
	if (fd < 0 || write_all(fd, data, len) || fsync(fd))
		goto fail;
	rc = close(fd);
	fd = -1;
	if (rc)
		goto fail;
	if (place(dfd, tmp, doc)) {
		st = DOCPROTO_EXISTS;
		if (errno == EEXIST)
			goto out;
		st = DOCPROTO_INTERNAL;
		goto fail;
	}
	tmp[0] = '\0'; /* placed: nothing to clean up */
	(void)fsync(dfd); /* the new name survives a crash; the data already does */
	st = DOCPROTO_OK;
	goto out;
fail:
	fail_io("put");
out:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlinkat(dfd, tmp, 0);
	if (dfd >= 0)
		close(dfd);
	return st;
}

int store_remove(const store_t *s, const char *patient, const char *doc)
{
	int dfd = patient_dir(s, patient, 0), rc;

	if (dfd < 0)
		return -ZK_EIO;
	rc = unlinkat(dfd, doc, 0) ? -ZK_EIO : 0;
	close(dfd);
	return rc;
}
