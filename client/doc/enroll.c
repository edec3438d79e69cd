#include "enroll.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "keyfile.h"
#include "zkerr.h"

typedef struct {
	const char *key;
	size_t offset;
	size_t size;
	int (*ok)(const char *s); /* NULL: any non-empty string */
	int optional;
} str_field_t;

#define F(name, check, opt) { #name, offsetof(enroll_t, name), \
	sizeof(((enroll_t *)0)->name), check, opt }

static int host_ok(const char *s)
{
	/* A name or an address; no spaces, no controls, no URL parts. */
	for (; *s; s++)
		if (*s <= ' ' || *s > '~' || *s == '/' || *s == '@')
			return 0;
	return 1;
}

static int token_ok(const char *s)
{
	return strncmp(s, PASETO_V4_PUBLIC_HEADER, strlen(PASETO_V4_PUBLIC_HEADER)) == 0;
}

static const str_field_t fields[] = {
	F(relay_host, host_ok, 0),
	F(server_name, host_ok, 0),
	F(practice, name_id_ok_str, 0),
	F(safe, name_addr_ok_str, 0),
	F(client, name_addr_ok_str, 0),
	F(patient, name_doc_ok_str, 1),
	F(grant, token_ok, 0),
	F(token, token_ok, 0),
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))
/* The string fields, plus version, relay_port and safe_key. */
#define NKEYS (NFIELDS + 3)

static int str_field(const json_t *j, const str_field_t *f, enroll_t *e, char *err,
		     size_t errlen)
{
	const json_t *v = json_object_get(j, f->key);
	char *dst = (char *)e + f->offset;
	size_t n = json_string_length(v);

	if (!v && f->optional)
		return 0;
	if (!json_is_string(v) || n == 0 || n >= f->size || strlen(json_string_value(v)) != n ||
	    (f->ok && !f->ok(json_string_value(v))))
		return zk_errf(err, errlen, -ZK_EMALFORMED, "field \"%s\" missing or invalid",
			       f->key);
	memcpy(dst, json_string_value(v), n + 1);
	return 0;
}

static int num_fields(const json_t *j, enroll_t *e, char *err, size_t errlen)
{
	const json_t *ver = json_object_get(j, "version"), *port = json_object_get(j, "relay_port");
	const json_t *key = json_object_get(j, "safe_key");

	if (!json_is_integer(ver) || json_integer_value(ver) != ENROLL_VERSION)
		return zk_errf(err, errlen, -ZK_EMALFORMED, "field \"version\" is not 1");
	if (!json_is_integer(port) || json_integer_value(port) < 1 ||
	    json_integer_value(port) > 65535)
		return zk_errf(err, errlen, -ZK_EMALFORMED, "field \"relay_port\" missing or invalid");
	if (!json_is_string(key) || keyfile_decode_pub(json_string_value(key), e->safe_key))
		return zk_errf(err, errlen, -ZK_EMALFORMED, "field \"safe_key\" missing or invalid");
	e->relay_port = (int)json_integer_value(port);
	return 0;
}

/* The data-safe belongs to the practice that issued the grant. */
static int safe_in_practice(const enroll_t *e)
{
	size_t n = strlen(e->practice);

	return strncmp(e->safe, e->practice, n) == 0 && e->safe[n] == '/';
}

static int parse_json(const json_t *j, enroll_t *e, char *err, size_t errlen)
{
	int rc;

	if (!json_is_object(j))
		return zk_errf(err, errlen, -ZK_EMALFORMED, "not a JSON object");
	for (size_t i = 0; i < NFIELDS; i++) {
		rc = str_field(j, &fields[i], e, err, errlen);
		if (rc)
			return rc;
	}
	rc = num_fields(j, e, err, errlen);
	if (rc)
		return rc;
	if (json_object_size(j) != NKEYS - (e->patient[0] ? 0 : 1))
		return zk_errf(err, errlen, -ZK_EMALFORMED, "unknown field");
	if (!safe_in_practice(e))
		return zk_errf(err, errlen, -ZK_EMALFORMED, "\"safe\" is not in \"practice\"");
	return 0;
}

int enroll_parse(const char *text, size_t len, enroll_t *out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *j;
	enroll_t *e;
	int rc;

	if (!text || !out)
		return -ZK_EINVAL;
	if (len > ENROLL_MAX_FILE)
		return zk_errf(err, errlen, -ZK_EMALFORMED, "larger than %u bytes", ENROLL_MAX_FILE);
	/* On the heap: two token buffers make it 8 KiB and more. */
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ZK_ENOMEM;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		rc = zk_errf(err, errlen, -ZK_EMALFORMED, "line %d: %s", je.line, je.text);
	else
		rc = parse_json(j, e, err, errlen);
	if (rc == 0)
		memcpy(out, e, sizeof(*e));
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
	json_decref(j);
	return rc;
}

int enroll_read(const char *path, enroll_t *out, char *err, size_t errlen)
{
	char *text = NULL, why[256] = "";
	size_t len = 0;
	int rc = file_read(path, ENROLL_MAX_FILE, &text, &len, err, errlen);

	if (rc)
		return rc;
	rc = enroll_parse(text, len, out, why, sizeof(why));
	if (rc)
		zk_errf(err, errlen, rc, "%s: %s", path, why);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}

char *enroll_dumps(const enroll_t *e)
{
	char key[KEYFILE_B64 + 1], *s = NULL, *out = NULL;
	json_t *j;
	size_t n;

	if (keyfile_encode_pub(e->safe_key, key))
		return NULL;
	j = json_pack("{s:i, s:s, s:i, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "version",
		      ENROLL_VERSION, "relay_host", e->relay_host, "relay_port", e->relay_port,
		      "server_name", e->server_name, "practice", e->practice, "safe", e->safe,
		      "safe_key", key, "client", e->client, "grant", e->grant, "token", e->token);
	if (j && e->patient[0] && json_object_set_new(j, "patient", json_string(e->patient)))
		goto fail;
	s = j ? json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
	if (!s)
		goto fail;
	n = strlen(s);
	out = malloc(n + 2);
	if (out) {
		memcpy(out, s, n);
		memcpy(out + n, "\n", 2);
	}
fail:
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
	json_decref(j);
	return out;
}

int enroll_write(const char *path, const enroll_t *e, char *err, size_t errlen)
{
	char *s = enroll_dumps(e);
	int rc;

	if (!s)
		return zk_errf(err, errlen, -ZK_EINVAL, "%s: cannot encode the enrollment", path);
	rc = file_replace(path, s, strlen(s), 0600, err, errlen);
	OPENSSL_cleanse(s, strlen(s));
	free(s);
	return rc;
}
