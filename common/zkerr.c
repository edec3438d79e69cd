#include "zkerr.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

static const char *const names[ZK_REASON_COUNT] = {
	[ZK_OK] = "none",
	[ZK_ENOROUTE] = "no_route",
	[ZK_EMALFORMED] = "malformed_frame",
	[ZK_ETOOLARGE] = "message_too_large",
	[ZK_EHELLO] = "hello_required",
	[ZK_EPROTO] = "protocol_violation",
	[ZK_EQUEUEFULL] = "queue_full",
	[ZK_EBUSY] = "relay_busy",
	[ZK_EUNDELIVERED] = "undelivered",
	[ZK_EGOINGAWAY] = "going_away",
	[ZK_EREPLACED] = "replaced",
	[ZK_EIDLE] = "idle_timeout",
	[ZK_ETOKEN] = "token_invalid",
	[ZK_ETOKENEXPIRED] = "token_expired",
	[ZK_EPLAINTEXT] = "plaintext_refused",
	[ZK_ERATELIMIT] = "rate_limited",
	[ZK_ETEXT] = "text_message",
	[ZK_ECERTREVOKED] = "cert_revoked",
	[ZK_ENOTAUTH] = "not_authorized",
};

const char *zk_err_name(int code)
{
	if (code < 0)
		code = code == INT_MIN ? ZK_REASON_COUNT : -code;
	if (code < ZK_REASON_COUNT)
		return names[code];
	switch (code) {
	case ZK_ENOMEM: return "out_of_memory";
	case ZK_EINVAL: return "invalid_argument";
	case ZK_EIO: return "io_error";
	case ZK_ECONFIG: return "config_error";
	case ZK_ECERT: return "certificate_error";
	case ZK_EUNREACHABLE: return "unreachable";
	case ZK_ETIMEOUT: return "timeout";
	case ZK_EPEERKEY: return "peer_key_mismatch";
	case ZK_ECLOSED: return "closed";
	case ZK_EUPGRADE: return "upgrade_refused";
	case ZK_EAGAIN: return "try_again";
	default: return "unknown";
	}
}

int zk_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	for (char *s = err; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
	return rc;
}
