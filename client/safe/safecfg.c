#include "safecfg.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkerr.h"

typedef enum { K_STR, K_ID, K_ADDR, K_U64 } kind_t;

typedef struct {
	const char *section, *name;
	kind_t kind;
	size_t offset, size;
	uint64_t min, max; /* K_U64 */
	int required;
} cfgkey_t;

#define KEY(sec, field, kind, req) { sec, #field, kind, offsetof(safecfg_t, field), \
	sizeof(((safecfg_t *)0)->field), 0, 0, req }

static const cfgkey_t keys[] = {
	KEY("safe", address, K_ADDR, 1),
	KEY("safe", store_dir, K_STR, 1),
	KEY("safe", static_key_file, K_STR, 1),
	KEY("safe", token_key_file, K_STR, 1),
	KEY("safe", token_kid, K_ID, 0),
	KEY("safe", relay_id, K_ID, 0),
	KEY("safe", audit_file, K_STR, 1),
	{ "safe", "max_upload_bytes", K_U64, offsetof(safecfg_t, max_upload_bytes),
	  sizeof(uint64_t), 1, 1ull << 40, 0 },
	KEY("relay", host, K_STR, 0),
	{ "relay", "port", K_U64, offsetof(safecfg_t, port), sizeof(uint32_t), 1, 65535, 0 },
	KEY("relay", server_name, K_STR, 0),
	KEY("relay", ca_file, K_STR, 1),
	KEY("relay", cert_file, K_STR, 1),
	KEY("relay", key_file, K_STR, 1),
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

typedef struct {
	safecfg_t *cfg;
	unsigned char seen[NKEYS];
	char why[256];
} load_t;

static int set_u64(const cfgkey_t *k, const char *v, safecfg_t *cfg)
{
	char *end;
	unsigned long long n;
	uint32_t n32;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n < k->min || n > k->max)
		return -1;
	if (k->size == sizeof(uint32_t)) {
		n32 = (uint32_t)n;
		memcpy((char *)cfg + k->offset, &n32, sizeof(n32));
	} else {
		memcpy((char *)cfg + k->offset, &n, sizeof(uint64_t));
	}
	return 0;
}

static int set_value(const cfgkey_t *k, const char *v, safecfg_t *cfg)
{
	size_t n = strlen(v);

	switch (k->kind) {
	case K_U64:
		return set_u64(k, v, cfg);
	case K_ID:
		if (!name_id_ok(v, n))
			return -1;
		break;
	case K_ADDR:
		if (!name_addr_ok(v, n))
			return -1;
		break;
	case K_STR:
		break;
	}
	if (n == 0 || n >= k->size)
		return -1;
	memcpy((char *)cfg + k->offset, v, n + 1);
	return 0;
}

/* inih calls this per key; returning 0 makes ini_parse() report the
 * line, so only the first complaint's text is kept. */
static int handler(void *user, const char *section, const char *name, const char *value)
{
	load_t *l = user;
	const char *why = NULL;

	if (l->why[0])
		return 0;
	for (size_t i = 0; i < NKEYS && !why; i++) {
		if (strcmp(keys[i].section, section) || strcmp(keys[i].name, name))
			continue;
		if (l->seen[i])
			why = "is set twice";
		else if (set_value(&keys[i], value, l->cfg))
			why = "has an invalid value";
		if (!why) {
			l->seen[i] = 1;
			return 1;
		}
	}
	snprintf(l->why, sizeof(l->why), "[%s] %s: %s", section, name, why ? why : "unknown key");
	return 0;
}

static void defaults(safecfg_t *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->token_kid, sizeof(c->token_kid), "k1");
	snprintf(c->relay_id, sizeof(c->relay_id), "zkrelay-dev");
	snprintf(c->host, sizeof(c->host), "127.0.0.1");
	snprintf(c->server_name, sizeof(c->server_name), "localhost");
	c->port = 8443;
	c->max_upload_bytes = 256ull << 20;
}

static int check_required(load_t *l, const char *path, char *err, size_t errlen)
{
	char *slash;

	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].required && !l->seen[i])
			return zk_errf(err, errlen, -ZK_ECONFIG, "%s: [%s] %s is required", path,
				       keys[i].section, keys[i].name);
	slash = strchr(l->cfg->address, '/');
	memcpy(l->cfg->practice, l->cfg->address, (size_t)(slash - l->cfg->address));
	l->cfg->practice[slash - l->cfg->address] = '\0';
	return 0;
}

int safecfg_load(const char *path, safecfg_t *out, char *err, size_t errlen)
{
	load_t *l = calloc(1, sizeof(*l));
	safecfg_t *cfg = calloc(1, sizeof(*cfg));
	int rc = -ZK_ENOMEM, line;

	if (!l || !cfg)
		goto fail;
	defaults(cfg);
	l->cfg = cfg;
	line = ini_parse(path, handler, l);
	rc = -ZK_ECONFIG;
	if (line < 0) {
		zk_errf(err, errlen, rc, "%s: cannot read: %s", path,
			line == -1 ? strerror(errno) : "out of memory");
		goto fail;
	}
	if (line > 0) {
		zk_errf(err, errlen, rc, "%s:%d: %s", path, line,
			l->why[0] ? l->why : "syntax error (expected [section] or key = value)");
		goto fail;
	}
	rc = check_required(l, path, err, errlen);
	if (rc)
		goto fail;
	*out = *cfg;
fail:
	free(l);
	free(cfg);
	return rc;
}
