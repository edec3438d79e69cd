/* zkrelay error and reason codes.
 *
 * One enum serves three places: the negative return values of every
 * function (return -ZK_E...), the Reason field on the wire (the positive
 * value, identical to proto/zkrelay.proto's Reason), and the label values
 * of refusal metrics. Keep it in step with the proto; a unit test checks
 * that every value here has the same number there. */
#ifndef ZK_ERR_H
#define ZK_ERR_H

#include <stddef.h>

typedef enum {
	ZK_OK = 0,
	ZK_ENOROUTE = 1,
	ZK_EMALFORMED = 2,
	ZK_ETOOLARGE = 3,
	ZK_EHELLO = 4,
	ZK_EPROTO = 5,
	ZK_EQUEUEFULL = 6,
	ZK_EBUSY = 7,
	ZK_EUNDELIVERED = 8,
	ZK_EGOINGAWAY = 9,
	ZK_EREPLACED = 10,
	ZK_EIDLE = 11,
	ZK_ETOKEN = 12,
	ZK_ETOKENEXPIRED = 13,
	ZK_EPLAINTEXT = 14,
	ZK_ERATELIMIT = 15,
	ZK_ETEXT = 16,
	ZK_ECERTREVOKED = 17,
	ZK_ENOTAUTH = 18,
	ZK_REASON_COUNT, /* wire reasons end here; local-only errors follow */
	ZK_ENOMEM = 100,
	ZK_EINVAL = 101,
	ZK_EIO = 102,
	ZK_ECONFIG = 103,
	ZK_ECERT = 104,
	/* Endpoint side (client/): what a connection or an E2E session met. */
	ZK_EUNREACHABLE = 105, /* TCP connect failed or the relay went silent */
	ZK_ETIMEOUT = 106,
	ZK_EPEERKEY = 107,     /* the peer could not prove the pinned static key */
	ZK_ECLOSED = 108,      /* not connected, or closed by the caller */
	ZK_EUPGRADE = 109,     /* the WebSocket upgrade was refused */
	ZK_EAGAIN = 110,       /* would exceed a window or queue; try after a callback */
} zk_err_t;

/* Formats a message into err (errlen bytes; NULL or 0: nothing), replaces
 * control and non-ASCII bytes (file contents and paths end up in logs and
 * terminals) and returns rc, so `return zk_errf(err, len, -ZK_EIO, ...)`
 * reports and fails in one statement. */
__attribute__((format(printf, 4, 5)))
int zk_errf(char *err, size_t errlen, int rc, const char *fmt, ...);

/* Stable snake_case name, e.g. "no_route"; "unknown" for other values.
 * Accepts the code with either sign. */
const char *zk_err_name(int code);

#endif
