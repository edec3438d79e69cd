/* The document store: STORE_DIR/<patient>/<document>.
 *
 * Every file is opened relative to the store's directory descriptor, one
 * validated name (name.h) at a time, with O_NOFOLLOW, so neither a name
 * from the network nor a symbolic link planted in the store can reach a
 * file outside it. Uploads are written to a temporary file in the
 * patient's directory (a name no request can spell: it starts with a
 * dot), synced, and renamed into place without replacing anything, so a
 * reader sees a whole document or none and an existing document is never
 * overwritten.
 *
 * The reading and writing calls return the document-protocol status the
 * request is answered with (not_found, exists, ...), since that is all a
 * caller does with the outcome; a system call's failure is logged here
 * and answered "internal", which tells a client nothing about the store. */
#ifndef ZK_STORE_H
#define ZK_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "docproto.h"

typedef struct {
	int dirfd;
	uint64_t max_bytes; /* largest document stored or served */
} store_t;

int store_open(const char *dir, uint64_t max_bytes, store_t *out, char *err, size_t errlen);
void store_close(store_t *s);

/* The documents of patient (no directory yet: none), names sorted,
 * sha256 computed. DOCPROTO_OK or DOCPROTO_INTERNAL; *docs is a JSON
 * array of {"name","size","sha256"}. */
docproto_status_t store_list(const store_t *s, const char *patient, json_t **docs);
/* Opens a document for reading: DOCPROTO_OK with *fd (the caller closes
 * it) and its *size, or _NOT_FOUND, _TOO_LARGE, _BAD_REQUEST, _INTERNAL.
 * Opening and reading are apart so the caller can read the document
 * straight into its response. */
docproto_status_t store_open_doc(const store_t *s, const char *patient, const char *doc,
				 int *fd, uint64_t *size);
/* Reads exactly n bytes (the size store_open_doc gave) into p and hashes
 * them. 0, or -ZK_EIO if the file is shorter or longer by now. */
int store_read_doc(int fd, uint8_t *p, size_t n, uint8_t sha[32]);
/* Stores len bytes as a new document. DOCPROTO_OK, _EXISTS, _TOO_LARGE
 * or _INTERNAL. */
docproto_status_t store_put(const store_t *s, const char *patient, const char *doc,
			    const uint8_t *data, size_t len);
/* Removes a document put a moment ago (its audit line could not be
 * written). 0 or -ZK_EIO. */
int store_remove(const store_t *s, const char *patient, const char *doc);

#endif
