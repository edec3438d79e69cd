#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "wire.h"
#include "zkerr.h"

typedef enum { KEY_STR, KEY_U32, KEY_U64, KEY_ADDR, KEY_LEVEL, KEY_BOOL, KEY_SWITCH } key_type_t;

typedef struct {
	const char *section;
	const char *name;
	key_type_t type;
	size_t offset;
	size_t size;      /* KEY_STR: buffer size */
	uint64_t min, max; /* KEY_U32 / KEY_U64 */
} key_spec_t;

#define STR(sec, key, field) { sec, #key, KEY_STR, offsetof(config_t, field), \
	sizeof(((config_t *)0)->field), 0, 0 }
#define U32(sec, key, lo, hi) { sec, #key, KEY_U32, offsetof(config_t, key), 0, lo, hi }
/* Rate limits: at least 1 (there is no "off"; a huge value is as good). */
#define RATE(key, field) { "limits", #key, KEY_U32, offsetof(config_t, field), 0, 1, UINT32_MAX }
#define U64(sec, key, lo, hi) { sec, #key, KEY_U64, offsetof(config_t, key), 0, lo, hi }

static const key_spec_t keys[] = {
	STR("relay", id, relay_id),
	/* KEY_ADDR: offset is the host field, size the port field. */
	{ "relay", "listen", KEY_ADDR, offsetof(config_t, listen_addr),
	  offsetof(config_t, listen_port), 0, 0 },
	STR("relay", registry_dir, registry_dir),
	STR("relay", user, run_user),
	STR("relay", group, run_group),
	STR("relay", chroot, chroot_dir),
	{ "relay", "allow_root", KEY_BOOL, offsetof(config_t, allow_root), 0, 0, 1 },
	{ "relay", "seccomp", KEY_SWITCH, offsetof(config_t, seccomp), 0, 0, 1 },
	STR("tls", ca_file, ca_file),
	STR("tls", cert_file, cert_file),
	STR("tls", key_file, key_file),
	STR("tls", crl_file, crl_file),
	U32("limits", max_message_bytes, 1024, 16u << 20),
	U32("limits", max_payload_bytes, 16, WIRE_MAX_PAYLOAD),
	U32("limits", max_connections, 1, 1000000),
	U32("limits", max_connections_per_ip, 1, 1000000),
	U64("limits", queue_max_bytes, 4096, 1ull << 34),
	U64("limits", queue_high_water, 1024, 1ull << 34),
	U64("limits", queue_low_water, 0, 1ull << 34),
	U64("limits", queue_total_max_bytes, 4096, 1ull << 40),
	RATE(conn_frames_per_s, conn_frames.rate),
	RATE(conn_frames_burst, conn_frames.burst),
	RATE(conn_bytes_per_s, conn_bytes.rate),
	RATE(conn_bytes_burst, conn_bytes.burst),
	RATE(practice_frames_per_s, practice_frames.rate),
	RATE(practice_frames_burst, practice_frames.burst),
	RATE(practice_bytes_per_s, practice_bytes.rate),
	RATE(practice_bytes_burst, practice_bytes.burst),
	U32("timeouts", tls_handshake_s, 1, 300),
	U32("timeouts", upgrade_s, 1, 300),
	U32("timeouts", hello_s, 1, 300),
	U32("timeouts", ping_s, 1, 3600),
	U32("timeouts", idle_s, 2, 7200),
	U32("timeouts", drain_s, 0, 600),
	{ "tokens", "leeway_s", KEY_U32, offsetof(config_t, token_leeway_s), 0, 0, 300 },
	{ "tokens", "max_lifetime_s", KEY_U32, offsetof(config_t, token_max_lifetime_s), 0, 60, 3600 },
	{ "tokens", "grace_s", KEY_U32, offsetof(config_t, token_grace_s), 0, 0, 300 },
	STR("audit", file, audit_file),
	{ "audit", "sync", KEY_BOOL, offsetof(config_t, audit_sync), 0, 0, 1 },
	{ "ops", "listen", KEY_ADDR, offsetof(config_t, ops_addr), offsetof(config_t, ops_port),
	  0, 0 },
	STR("ops", tls_cert_file, ops_cert_file),
	STR("ops", tls_key_file, ops_key_file),
	STR("ops", tls_client_ca_file, ops_client_ca_file),
	{ "log", "level", KEY_LEVEL, 0, 0, 0, 0 },
	{ "log", "pseudonymize", KEY_BOOL, offsetof(config_t, log_pseudonymize), 0, 0, 1 },
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

void config_defaults(config_t *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->relay_id, sizeof(cfg->relay_id), "zkrelay-dev");
	snprintf(cfg->listen_addr, sizeof(cfg->listen_addr), "127.0.0.1");
	cfg->listen_port = 8443;
	snprintf(cfg->ops_addr, sizeof(cfg->ops_addr), "127.0.0.1");
	cfg->ops_port = 9464;
	snprintf(cfg->ca_file, sizeof(cfg->ca_file), "build/dev/pki/ca.crt");
	snprintf(cfg->cert_file, sizeof(cfg->cert_file), "build/dev/pki/server.crt");
	snprintf(cfg->key_file, sizeof(cfg->key_file), "build/dev/pki/server.key");
	snprintf(cfg->crl_file, sizeof(cfg->crl_file), "build/dev/pki/crl.pem");
	snprintf(cfg->registry_dir, sizeof(cfg->registry_dir), "build/dev/registry");
	snprintf(cfg->audit_file, sizeof(cfg->audit_file), "build/dev/audit.log");
	cfg->token_leeway_s = 30;
	cfg->token_max_lifetime_s = 3600;
	cfg->token_grace_s = 10;
	cfg->max_message_bytes = 65536 + 1024;
	cfg->max_payload_bytes = WIRE_MAX_PAYLOAD;
	cfg->max_connections = 10000;
	cfg->max_connections_per_ip = 256;
	cfg->queue_max_bytes = 1u << 20;
	cfg->queue_high_water = 512u << 10;
	cfg->queue_low_water = 128u << 10;
	cfg->queue_total_max_bytes = 256u << 20;
	/* Far above what a practice's traffic needs (a document or image
	 * transfer runs at a few MB/s; interactive use sends tens of frames a
	 * second), yet low enough that one connection or practice cannot
	 * take a whole core. */
	cfg->conn_frames = (ratelimit_rule_t){ 5000, 10000 };
	cfg->conn_bytes = (ratelimit_rule_t){ 64u << 20, 16u << 20 };
	cfg->practice_frames = (ratelimit_rule_t){ 20000, 40000 };
	cfg->practice_bytes = (ratelimit_rule_t){ 256u << 20, 64u << 20 };
	cfg->tls_handshake_s = 5;
	cfg->upgrade_s = 5;
	cfg->hello_s = 10;
	cfg->ping_s = 20;
	cfg->idle_s = 60;
	cfg->drain_s = 5;
	cfg->log_level = ZLOG_INFO;
	cfg->seccomp = 1;
}

typedef struct {
	config_t *cfg;
	char *err;
	size_t errlen;
	unsigned char seen[NKEYS];
	int line;      /* line handed to inih last */
	int err_line;  /* first line this file found wrong, 0 if none */
	/* the text: a file or a string */
	FILE *f;
	const char *s;
} load_ctx_t;

__attribute__((format(printf, 2, 3)))
static void note(load_ctx_t *c, const char *fmt, ...)
{
	va_list ap;
	if (c->err_line)
		return; /* keep the first complaint, as inih keeps the first line */
	c->err_line = c->line;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

/* Strict unsigned parse: digits only, no sign, no trailing text. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

/* "host:port" with an IPv4 address, "[v6]:port" or "localhost:port",
 * into the address and port fields a KEY_ADDR row names. */
static int parse_listen(config_t *cfg, const key_spec_t *k, const char *v)
{
	char *addr = (char *)cfg + k->offset;
	int *portp = (int *)(void *)((char *)cfg + k->size);
	const char *colon = strrchr(v, ':');
	uint64_t port;
	size_t hlen;

	if (!colon || parse_u64(colon + 1, &port) || port > 65535)
		return -1;
	hlen = (size_t)(colon - v);
	if (hlen >= 2 && v[0] == '[' && v[hlen - 1] == ']') {
		v++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(cfg->listen_addr))
		return -1;
	memcpy(addr, v, hlen);
	addr[hlen] = '\0';
	*portp = (int)port;
	return 0;
}

static int set_value(config_t *cfg, const key_spec_t *k, const char *v)
{
	char *base = (char *)cfg;
	uint64_t n;

	switch (k->type) {
	case KEY_STR:
		if (!*v || strlen(v) >= k->size)
			return -1;
		memcpy(base + k->offset, v, strlen(v) + 1);
		return 0;
	case KEY_ADDR:
		return parse_listen(cfg, k, v);
	case KEY_BOOL:
	case KEY_SWITCH: {
		const char *yes = k->type == KEY_BOOL ? "true" : "on";
		const char *no = k->type == KEY_BOOL ? "false" : "off";
		int b;
		if (strcmp(v, yes) && strcmp(v, no))
			return -1;
		b = strcmp(v, yes) == 0;
		memcpy(base + k->offset, &b, sizeof(b));
		return 0;
	}
	case KEY_LEVEL:
		if (zlog_level_parse(v) < 0)
			return -1;
		cfg->log_level = zlog_level_parse(v);
		return 0;
	case KEY_U32:
	case KEY_U64:
		if (parse_u64(v, &n) || n < k->min || n > k->max)
			return -1;
		if (k->type == KEY_U32) {
			uint32_t n32 = (uint32_t)n;
			memcpy(base + k->offset, &n32, sizeof(n32));
		} else {
			memcpy(base + k->offset, &n, sizeof(n));
		}
		return 0;
	}
	return -1;
}

static const char *expect(const key_spec_t *k)
{
	static char buf[96];
	switch (k->type) {
	case KEY_STR: return "a non-empty string";
	case KEY_ADDR: return "host:port";
	case KEY_LEVEL: return "one of debug, info, warn, error";
	case KEY_BOOL: return "true or false";
	case KEY_SWITCH: return "on or off";
	default:
		snprintf(buf, sizeof(buf), "an integer in %llu..%llu",
			 (unsigned long long)k->min, (unsigned long long)k->max);
		return buf;
	}
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
	load_ctx_t *c = user;
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) || strcmp(keys[i].name, name))
			continue;
		if (c->seen[i]) {
			note(c, "[%s] %s is set twice", section, name);
			return 0;
		}
		c->seen[i] = 1;
		if (set_value(c->cfg, &keys[i], value) == 0)
			return 1;
		note(c, "[%s] %s = \"%s\": expected %s", section, name, value, expect(&keys[i]));
		return 0;
	}
	note(c, "unknown key [%s] %s", section, name);
	return 0;
}

static int section_known(const char *name, size_t n)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (strlen(keys[i].section) == n && memcmp(keys[i].section, name, n) == 0)
			return 1;
	return 0;
}

/* Reads the next line of the source into line (size cap); 0 at the end. */
static int next_line(load_ctx_t *c, char *line, size_t cap)
{
	if (c->f)
		return fgets(line, (int)cap, c->f) != NULL;
	if (!*c->s)
		return 0;
	const char *nl = strchr(c->s, '\n');
	size_t n = nl ? (size_t)(nl - c->s) + 1 : strlen(c->s);
	size_t k = n < cap - 1 ? n : cap - 1;
	memcpy(line, c->s, k);
	line[k] = '\0';
	c->s += n; /* a cut line is caught by the length check below */
	return 1;
}

/* inih reads through this: it counts lines (so errors name the right
 * one), drops comments whatever their length, refuses unknown sections
 * even when empty, and refuses a line longer than inih's own buffer
 * instead of letting inih split it into two lines. */
static char *reader(char *str, int num, void *user)
{
	load_ctx_t *c = user;
	char line[4096];
	const char *p;

	if (c->err_line || !next_line(c, line, sizeof(line)))
		return NULL;
	c->line++;
	for (p = line; *p == ' ' || *p == '\t'; p++)
		;
	if (*p == ';' || *p == '#') {
		snprintf(str, (size_t)num, "\n");
		return str;
	}
	/* inih's buffer holds num bytes; a longer line would be split. */
	if (strlen(line) + 1 > (size_t)num) {
		note(c, "line too long (at most %d bytes)", num - 2);
		return NULL;
	}
	if (*p == '[') {
		const char *end = strchr(p, ']');
		if (end && !section_known(p + 1, (size_t)(end - p - 1))) {
			note(c, "unknown section [%.*s]", (int)(end - p - 1), p + 1);
			return NULL;
		}
	}
	memcpy(str, line, strlen(line) + 1);
	return str;
}

static int parse(load_ctx_t *c, const char *what)
{
	char inner[256];
	int rc = ini_parse_stream(reader, c, on_key, c);
	int line = c->err_line;

	if (rc == -2) {
		snprintf(c->err, c->errlen, "%s: out of memory", what);
		return -ZK_ECONFIG;
	}
	/* inih reports the first line it found wrong; a syntax error there
	 * (no handler call) comes before any complaint of ours. */
	if (rc > 0 && (!line || rc < line)) {
		line = rc;
		snprintf(c->err, c->errlen, "syntax error (expected [section] or key = value)");
	}
	if (line) {
		snprintf(inner, sizeof(inner), "%s", c->err);
		snprintf(c->err, c->errlen, "%s:%d: %s", what, line, inner);
		return -ZK_ECONFIG;
	}
	return config_validate(c->cfg, c->err, c->errlen);
}

int config_load(config_t *cfg, const char *path, char *err, size_t errlen)
{
	load_ctx_t c = { .cfg = cfg, .err = err, .errlen = errlen };
	int rc;

	err[0] = '\0';
	c.f = fopen(path, "r");
	if (!c.f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -ZK_ECONFIG;
	}
	rc = parse(&c, path);
	fclose(c.f);
	return rc;
}

int config_load_string(config_t *cfg, const char *text, char *err, size_t errlen)
{
	load_ctx_t c = { .cfg = cfg, .err = err, .errlen = errlen, .s = text };
	err[0] = '\0';
	return parse(&c, "<string>");
}

int config_validate(const config_t *cfg, char *err, size_t errlen)
{
	const char *why = NULL;
	if (cfg->queue_low_water >= cfg->queue_high_water)
		why = "queue_low_water must be below queue_high_water";
	else if (cfg->queue_high_water > cfg->queue_max_bytes)
		why = "queue_high_water must not exceed queue_max_bytes";
	else if (cfg->queue_max_bytes > cfg->queue_total_max_bytes)
		why = "queue_max_bytes must not exceed queue_total_max_bytes";
	else if (cfg->queue_max_bytes < (uint64_t)cfg->max_message_bytes + 1024)
		why = "queue_max_bytes must hold at least one message (max_message_bytes + 1024)";
	else if (cfg->max_connections_per_ip > cfg->max_connections)
		why = "max_connections_per_ip must not exceed max_connections";
	else if (cfg->conn_bytes.burst < cfg->max_payload_bytes)
		why = "conn_bytes_burst must be at least max_payload_bytes (or no largest frame ever passes)";
	else if (cfg->practice_bytes.burst < cfg->max_payload_bytes)
		why = "practice_bytes_burst must be at least max_payload_bytes (or no largest frame ever passes)";
	else if (cfg->ping_s >= cfg->idle_s)
		why = "ping_s must be below idle_s";
	else if (cfg->run_group[0] && !cfg->run_user[0])
		why = "[relay] group needs [relay] user";
	else if (cfg->chroot_dir[0] && !cfg->run_user[0])
		why = "[relay] chroot needs [relay] user (root can leave a chroot)";
	else if (cfg->chroot_dir[0] && cfg->chroot_dir[0] != '/')
		why = "[relay] chroot must be an absolute path";
	if (!why)
		return 0;
	snprintf(err, errlen, "%s", why);
	return -ZK_ECONFIG;
}

void config_print(const config_t *cfg)
{
	const char *section = "";
	const char *base = (const char *)cfg;
	for (size_t i = 0; i < NKEYS; i++) {
		const key_spec_t *k = &keys[i];
		if (strcmp(section, k->section))
			printf("%s[%s]\n", i ? "\n" : "", section = k->section);
		if (k->type == KEY_STR && !base[k->offset]) {
			printf("; %s = (unset)\n", k->name);
			continue;
		}
		printf("%s = ", k->name);
		if (k->type == KEY_STR) {
			printf("%s\n", base + k->offset);
		} else if (k->type == KEY_ADDR) {
			const char *a = base + k->offset;
			int port;
			memcpy(&port, base + k->size, sizeof(port));
			printf(strchr(a, ':') ? "[%s]:%d\n" : "%s:%d\n", a, port);
		} else if (k->type == KEY_BOOL || k->type == KEY_SWITCH) {
			int b;
			memcpy(&b, base + k->offset, sizeof(b));
			if (k->type == KEY_BOOL)
				printf("%s\n", b ? "true" : "false");
			else
				printf("%s\n", b ? "on" : "off");
		} else if (k->type == KEY_LEVEL) {
			static const char *const lv[] = { "debug", "info", "warn", "error" };
			printf("%s\n", lv[cfg->log_level & 3]);
		} else if (k->type == KEY_U32) {
			uint32_t v;
			memcpy(&v, base + k->offset, sizeof(v));
			printf("%u\n", v);
		} else {
			uint64_t v;
			memcpy(&v, base + k->offset, sizeof(v));
			printf("%llu\n", (unsigned long long)v);
		}
	}
}

uint32_t config_payload_limit(const config_t *cfg)
{
	/* Room for the Batch, Frame and Data headers and a full address. */
	uint32_t room = cfg->max_message_bytes - WIRE_DATA_OVERHEAD - WIRE_MAX_ADDR;
	return cfg->max_payload_bytes < room ? cfg->max_payload_bytes : room;
}
