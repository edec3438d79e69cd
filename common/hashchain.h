/* Append-only, hash-chained JSON-lines files.
 *
 * Each line is one JSON object, written compact, with sorted keys and
 * ASCII only (jansson's JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII),
 * followed by "\n". Besides the caller's fields every line carries
 *   "seq"   1 for the first line, then 2, 3, ... without gaps
 *   "prev"  the lowercase hex SHA-256 of the previous line's bytes
 *           (without its newline); 64 zeros on the first line
 * so a line's own hash is the SHA-256 of its bytes, and changing,
 * removing, reordering or inserting any line breaks the link of the line
 * after it, or the seq count, at a definite line number.
 *
 * What the chain cannot show on its own: the last line being rewritten or
 * the file being cut at a line boundary. Anchor the head elsewhere (log
 * hashchain_head() now and then, or hand it to the party that will check
 * the file later) to cover those.
 *
 * A writer (hashchain_open) holds an exclusive flock(2) on the file, so
 * two writers never interleave their lines; it is not thread-safe. Reading
 * and verifying need no lock and may run while a writer appends: a walk
 * stops at the end of the file as it finds it, though a line caught in
 * the middle of its write(2) shows as cut short (walk again).
 *
 * A file cut short by a crash in the middle of a line is refused like any
 * other broken file: whether to cut the partial line off is for a person
 * to decide, with a copy of the file kept.
 *
 * Errors, as negative zk_err_t values: -ZK_EINVAL for a bad argument
 * (including "seq" or "prev" among the caller's fields), -ZK_ETOOLARGE
 * for a line longer than HASHCHAIN_MAX_LINE, -ZK_EMALFORMED for a file
 * whose chain does not verify, -ZK_EIO for a system call that failed,
 * -ZK_ENOMEM. Messages go to the caller's err buffer, start with the
 * path and name the first bad line. */
#ifndef ZK_HASHCHAIN_H
#define ZK_HASHCHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Longest line, its newline included, that is written or read. */
#define HASHCHAIN_MAX_LINE 16384u
/* Hex digits of a line hash, without the NUL. */
#define HASHCHAIN_HASH_HEX 64u

/* hashchain_open flags. */
enum {
	/* fdatasync(2) after every line (and fsync the directory when the
	 * file is new), so an appended line survives a crash once
	 * hashchain_append has returned 0. Without it lines reach the disk
	 * when the kernel writes them back. */
	HASHCHAIN_SYNC = 1u << 0,
};

typedef struct hashchain hashchain_t;

/* Opens (creating it with mode 0600 if needed) the file at path for
 * appending: O_APPEND | O_CREAT | O_WRONLY | O_CLOEXEC. The existing
 * contents are read and verified first to recover the last seq and hash;
 * a file whose chain does not verify, that is not a regular file, or that
 * another writer holds is refused. 0 and *out, or a negative error with
 * *out untouched and a message in err. */
int hashchain_open(const char *path, unsigned flags, hashchain_t **out, char *err,
		   size_t errlen);
/* Closes the file and sets *hc to NULL. NULL or *hc NULL is a no-op. */
void hashchain_close(hashchain_t **hc);

/* Appends one line: the members of fields (a JSON object that must not
 * contain "seq" or "prev"; it is left as it was) plus seq and prev,
 * written with one write(2). 0, or -ZK_EINVAL, -ZK_ETOOLARGE (nothing
 * written), -ZK_ENOMEM, -ZK_EIO. A failed write is rolled back by
 * truncating the file to its last whole line; if that, or a sync, fails
 * too, the handle refuses every later append with -ZK_EIO, and the file
 * must be opened again (which verifies it) before it is written to. */
int hashchain_append(hashchain_t *hc, json_t *fields);

/* seq of the last line in the file, 0 if it is empty. */
uint64_t hashchain_seq(const hashchain_t *hc);
/* Copies the hex hash of the last line (64 zeros for an empty file) and
 * its NUL into out. */
void hashchain_head(const hashchain_t *hc, char out[HASHCHAIN_HASH_HEX + 1]);

/* Called for each line of a walk once it, and every line before it, has
 * verified. entry is the parsed line (borrowed, valid during the call),
 * line/len its bytes without the newline. Return 0 to go on, a positive
 * value to stop the walk there (it then succeeds), or a negative error to
 * abort it with that error. */
typedef int (*hashchain_line_cb)(const json_t *entry, const char *line, size_t len,
				 uint64_t seq, void *arg);

/* Walks the file open on fd from offset 0 (with pread, so the file offset
 * is left alone and fd may be walked again) to its end, checking each
 * line: at most HASHCHAIN_MAX_LINE bytes, ended by a newline, a JSON
 * object without duplicate keys, "seq" one more than the line before,
 * "prev" the hash of the line before. name is used in messages. cb may be
 * NULL. On success *lines (may be NULL) is the number of lines walked and
 * 0 is returned. On a broken chain -ZK_EMALFORMED is returned and *lines
 * is the number of the first bad line; on other errors *lines is 0. */
int hashchain_walk_fd(int fd, const char *name, hashchain_line_cb cb, void *arg,
		      uint64_t *lines, char *err, size_t errlen);
/* hashchain_walk_fd over the file at path, without a callback: 0 and the
 * number of lines in *lines if the whole chain verifies. */
int hashchain_verify_file(const char *path, uint64_t *lines, char *err, size_t errlen);

#endif
