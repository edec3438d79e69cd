/* zkrelay error and reason codes.
 *
 * One enum serves three places: the negative return values of every
 * function (return -ZK_E...), the Reason field on the wire (the positive
 * value, identical to proto/zkrelay.proto's Reason), and the label values
 * of refusal metrics. Keep it in step with the proto; a unit test checks
 * that every value here has the same number there. */
#ifndef ZK_ERR_H
#define ZK_ERR_H

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
} zk_err_t;

/* Stable snake_case name, e.g. "no_route"; "unknown" for other values.
 * Accepts the code with either sign. */
const char *zk_err_name(int code);

#endif
