/* The data-safe's audit trail: one hash-chained line (common/hashchain)
 * per request, allowed or refused:
 *   {"event":"access","client":ADDR,"op":OP|null,"patient":P|null,
 *    "doc":D|null,"allowed":BOOL,"reason":CODE|null,"time":ISO-8601,
 *    "seq":N,"prev":HEX}
 * Lines are synced before the answer leaves, so a document is never
 * served without its line on disk. The file stays on the data-safe: it
 * names patients and documents, which the relay must never see. */
#ifndef ZK_ACCESSLOG_H
#define ZK_ACCESSLOG_H

#include <stddef.h>

#include "docproto.h"
#include "hashchain.h"

typedef struct {
	const char *client;  /* the relay-stamped peer address */
	const char *op;      /* NULL when the request did not parse */
	const char *patient; /* NULL when absent */
	const char *doc;     /* NULL when absent */
	int allowed;         /* the grant allowed the request */
	docproto_status_t outcome; /* DOCPROTO_OK: reason null */
} accesslog_entry_t;

int accesslog_open(const char *path, hashchain_t **out, char *err, size_t errlen);
/* 0, or a negative zk_err_t: then the request must not be served. */
int accesslog_write(hashchain_t *hc, const accesslog_entry_t *e);
/* Verifies the chain of path: 0 and the line count, or a negative error
 * with "PATH:LINE: why" (or "PATH: why") in err. */
int accesslog_verify(const char *path, unsigned long long *lines, char *err, size_t errlen);

#endif
