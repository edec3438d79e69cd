/* Small whole-file reads and writes for the key, enrollment and state
 * files of zkrelay-safe and zkrelay-cli.
 *
 * Reads are bounded: a file larger than the caller's cap is refused
 * before it is read into memory. Writes never leave a half-written file
 * under the final name: file_replace writes a temporary file in the same
 * directory, fsyncs it and renames it over the old one (a device or a
 * pipe, such as /dev/null, is written into instead); file_create
 * refuses to replace anything (O_EXCL), for keys that must never be
 * overwritten by mistake. Both create files with the mode given (0600 for
 * anything secret), whatever the umask.
 *
 * Errors are negative zk_err_t (-ZK_EIO, -ZK_ETOOLARGE, -ZK_ENOMEM,
 * -ZK_EINVAL); a message naming the path goes to err. */
#ifndef ZK_FILE_H
#define ZK_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Reads all of path (a regular file of at most max bytes) into a malloc'd
 * buffer followed by a NUL that *len does not count. */
int file_read(const char *path, size_t max, char **buf, size_t *len, char *err, size_t errlen);
/* Creates path with mode; -ZK_EIO with errno EEXIST if it exists. */
int file_create(const char *path, const void *p, size_t n, mode_t mode, char *err,
		size_t errlen);
/* Replaces path atomically with n bytes of p. */
int file_replace(const char *path, const void *p, size_t n, mode_t mode, char *err,
		 size_t errlen);

#endif
