/* One document-protocol request to the enrolled data-safe, start to end:
 * a libzkrelay client on a fresh libuv loop, an end-to-end session to the
 * data-safe's pinned key, the request, its response.
 *
 * When the stored relay access token expires within 30 minutes (or the
 * SDK says it is expiring) a {"op":"token"} request goes first in the same
 * session, and the fresh token is stored and handed to the SDK.
 *
 * --timeout is the time allowed without progress (a welcome, a handshake,
 * acknowledged or received bytes), so a large transfer on a slow line
 * never times out while it moves, and a relay restarted mid-transfer is
 * waited for. */
#ifndef ZK_REQUEST_H
#define ZK_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "docproto.h"

typedef struct {
	docproto_op_t op;
	const char *patient;   /* NULL: the enrollment's patient (ls) */
	const char *doc;
	uint8_t sha256[32];    /* put */
	size_t body_len;       /* put */
	/* put: writes the body_len body bytes into dst, straight from the
	 * file. 0 or an exit status. */
	int (*fill)(void *arg, uint8_t *dst, size_t n);
	/* A successful response, during the SDK's callback (the body is
	 * valid only then). Returns the exit status. */
	int (*done)(void *arg, const docproto_resp_t *r);
	void *arg;
	const char *label;     /* progress bar: "get", "put" */
	int progress_in;       /* 1: show received bytes, 0: acknowledged */
} request_t;

/* Runs req; prints what went wrong on stderr and returns the exit
 * status. */
int request_run(const cli_cmd_t *c, const cli_opts_t *g, const request_t *req);

#endif
