/* Structured logging: one JSON object per line on stderr.
 *
 * zlog(level, event, spec, ...) writes
 *   {"level":"info","time":"2026-11-29T17:00:00.123Z","event":"...",<fields>}
 * where spec names the fields' types, one character each, and the varargs
 * come in (key, value) pairs:
 *   's' const char * (escaped; NULL prints null)
 *   'd' int
 *   'u' unsigned long long
 * Payload bytes, tokens and keys are never logged; callers pass fixed
 * strings, identities and numbers only. */
#ifndef ZK_LOG_H
#define ZK_LOG_H

typedef enum {
	ZLOG_DEBUG = 0,
	ZLOG_INFO = 1,
	ZLOG_WARN = 2,
	ZLOG_ERROR = 3,
} zlog_level_t;

void zlog_set_level(zlog_level_t level);
zlog_level_t zlog_get_level(void);
/* "debug", "info", "warn", "error"; -1 if unknown. */
int zlog_level_parse(const char *name);
void zlog(zlog_level_t level, const char *event, const char *spec, ...);

#endif
