#include "docproto.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "name.h"
#include "paseto.h"
#include "zkerr.h"

/* Which fields besides "op", "id" and "grant" each operation carries. */
enum { F_PATIENT = 1u << 0, F_DOC = 1u << 1, F_SHA = 1u << 2, F_BODY = 1u << 3 };

static const struct {
	const char *name;
	unsigned fields;
} ops[DOCPROTO_NOPS] = {
	[DOCPROTO_LIST] = { "list", F_PATIENT },
	[DOCPROTO_GET] = { "get", F_PATIENT | F_DOC },
	[DOCPROTO_PUT] = { "put", F_PATIENT | F_DOC | F_SHA | F_BODY },
	[DOCPROTO_TOKEN] = { "token", 0 },
};

static const char *const statuses[DOCPROTO_NSTATUS] = {
	[DOCPROTO_OK] = "ok",
	[DOCPROTO_BAD_REQUEST] = "bad_request",
	[DOCPROTO_GRANT_INVALID] = "grant_invalid",
	[DOCPROTO_GRANT_EXPIRED] = "grant_expired",
	[DOCPROTO_NOT_PERMITTED] = "not_permitted",
	[DOCPROTO_NOT_FOUND] = "not_found",
	[DOCPROTO_EXISTS] = "exists",
	[DOCPROTO_TOO_LARGE] = "too_large",
	[DOCPROTO_CHECKSUM_MISMATCH] = "checksum_mismatch",
	[DOCPROTO_INTERNAL] = "internal",
};

/* Longest "message" text a response carries. */
#define MAX_TEXT 256u

const char *docproto_op_name(docproto_op_t op)
{
	return (unsigned)op < DOCPROTO_NOPS ? ops[op].name : NULL;
}

const char *docproto_status_name(docproto_status_t st)
{
	return (unsigned)st < DOCPROTO_NSTATUS ? statuses[st] : NULL;
}

static int op_parse(const char *s, docproto_op_t *out)
{
	for (unsigned i = 0; i < DOCPROTO_NOPS; i++) {
		if (strcmp(s, ops[i].name) == 0) {
			*out = (docproto_op_t)i;
			return 0;
		}
	}
	return -ZK_EMALFORMED;
}

/* Only the codes other than "ok": an error response saying "ok" is
 * malformed. */
static int status_parse(const char *s, docproto_status_t *out)
{
	for (unsigned i = DOCPROTO_OK + 1; i < DOCPROTO_NSTATUS; i++) {
		if (strcmp(s, statuses[i]) == 0) {
			*out = (docproto_status_t)i;
			return 0;
		}
	}
	return -ZK_EMALFORMED;
}

void docproto_hex(const uint8_t sha[32], char out[DOCPROTO_SHA256_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < 32; i++) {
		out[2 * i] = digits[sha[i] >> 4];
		out[2 * i + 1] = digits[sha[i] & 15];
	}
	out[DOCPROTO_SHA256_HEX] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int docproto_unhex(const char *s, uint8_t sha[32])
{
	uint8_t tmp[32];

	if (!s || strnlen(s, DOCPROTO_SHA256_HEX + 1) != DOCPROTO_SHA256_HEX)
		return -ZK_EMALFORMED;
	for (size_t i = 0; i < 32; i++) {
		int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -ZK_EMALFORMED;
		tmp[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(sha, tmp, sizeof(tmp));
	return 0;
}

int docproto_split(const uint8_t *msg, size_t len, json_t **hdr, const uint8_t **body,
		   size_t *body_len)
{
	buf_reader_t r;
	const uint8_t *p;
	uint32_t n = 0;
	json_t *j;

	if (!msg || !hdr || !body || !body_len)
		return -ZK_EINVAL;
	buf_reader_init(&r, msg, len);
	if (buf_read_span(&r, DOCPROTO_PREFIX, &p))
		return -ZK_EMALFORMED;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (n > DOCPROTO_MAX_HEADER)
		return -ZK_ETOOLARGE;
	if (buf_read_span(&r, n, &p))
		return -ZK_EMALFORMED;
	/* jansson checks UTF-8 and refuses \u0000 unless told otherwise. */
	j = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		return -ZK_EMALFORMED;
	}
	*hdr = j;
	*body_len = buf_avail(&r);
	*body = msg + r.pos;
	return 0;
}

int docproto_build(const json_t *hdr, size_t body_len, uint8_t **msg, size_t *len)
{
	char *s = NULL;
	uint8_t *m = NULL;
	size_t n, total;
	int rc = -ZK_EINVAL;

	if (!json_is_object(hdr) || !msg || !len)
		goto fail;
	rc = -ZK_ENOMEM;
	s = json_dumps(hdr, JSON_COMPACT);
	if (!s)
		goto fail;
	n = strlen(s);
	rc = -ZK_ETOOLARGE;
	if (n > DOCPROTO_MAX_HEADER || body_len > SIZE_MAX - DOCPROTO_PREFIX - n)
		goto fail;
	total = DOCPROTO_PREFIX + n + body_len;
	rc = -ZK_ENOMEM;
	m = malloc(total ? total : 1);
	if (!m)
		goto fail;
	m[0] = (uint8_t)(n >> 24);
	m[1] = (uint8_t)(n >> 16);
	m[2] = (uint8_t)(n >> 8);
	m[3] = (uint8_t)n;
	memcpy(m + DOCPROTO_PREFIX, s, n);
	free(s);
	*msg = m;
	*len = total;
	return 0;
fail:
	free(s);
	return rc;
}

/* A JSON integer >= 0. */
static int get_uint(const json_t *o, const char *key, uint64_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -ZK_EMALFORMED;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* A string of 1..cap bytes. */
static int get_str(const json_t *o, const char *key, size_t cap, const char **out)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > cap)
		return -ZK_EMALFORMED;
	*out = json_string_value(v);
	return 0;
}

static int get_name(const json_t *o, const char *key, const char **out)
{
	const char *s;

	if (get_str(o, key, NAME_DOC_MAX, &s) || !name_doc_ok(s, strlen(s)))
		return -ZK_EMALFORMED;
	*out = s;
	return 0;
}

static int get_sha(const json_t *o, const char *key, uint8_t sha[32])
{
	const char *s;

	if (get_str(o, key, DOCPROTO_SHA256_HEX, &s))
		return -ZK_EMALFORMED;
	return docproto_unhex(s, sha);
}

uint64_t docproto_peek_id(const uint8_t *msg, size_t len)
{
	json_t *hdr = NULL;
	const uint8_t *body;
	size_t blen;
	uint64_t id = 0;

	if (docproto_split(msg, len, &hdr, &body, &blen) == 0 && get_uint(hdr, "id", &id))
		id = 0;
	json_decref(hdr);
	return id;
}

/* The op-specific fields of a request; r->op is set. */
static int req_fields(const json_t *hdr, docproto_req_t *r)
{
	unsigned f = ops[r->op].fields;
	size_t want = 3;

	if (f & F_PATIENT) {
		want++;
		if (get_name(hdr, "patient", &r->patient))
			return -ZK_EMALFORMED;
	}
	if (f & F_DOC) {
		want++;
		if (get_name(hdr, "doc", &r->doc))
			return -ZK_EMALFORMED;
	}
	if (f & F_SHA) {
		want++;
		if (get_sha(hdr, "sha256", r->sha256))
			return -ZK_EMALFORMED;
	}
	/* Exactly these fields: an unknown one is a client we do not
	 * understand, not one to guess about. */
	if (json_object_size(hdr) != want || (!(f & F_BODY) && r->body_len))
		return -ZK_EMALFORMED;
	return 0;
}

int docproto_req_parse(const uint8_t *msg, size_t len, docproto_req_t *out)
{
	docproto_req_t r;
	const char *op;
	int rc;

	if (!out)
		return -ZK_EINVAL;
	memset(&r, 0, sizeof(r));
	rc = docproto_split(msg, len, &r.hdr, &r.body, &r.body_len);
	if (rc)
		return rc;
	rc = -ZK_EMALFORMED;
	if (get_str(r.hdr, "op", 16, &op) || op_parse(op, &r.op) ||
	    get_uint(r.hdr, "id", &r.id) || get_str(r.hdr, "grant", PASETO_MAX_TOKEN, &r.grant) ||
	    req_fields(r.hdr, &r))
		goto fail;
	if (!(ops[r.op].fields & F_BODY))
		r.body = NULL;
	*out = r;
	return 0;
fail:
	json_decref(r.hdr);
	return rc;
}

static int set_str(json_t *o, const char *key, const char *v)
{
	return v ? json_object_set_new(o, key, json_string(v)) : -1;
}

int docproto_req_build(const docproto_req_t *r, size_t body_len, uint8_t **msg, size_t *len)
{
	json_t *h = NULL;
	char hex[DOCPROTO_SHA256_HEX + 1];
	unsigned f;
	int rc = -ZK_EINVAL;

	if (!r || (unsigned)r->op >= DOCPROTO_NOPS || r->id > (uint64_t)INT64_MAX)
		return rc;
	f = ops[r->op].fields;
	if ((f & F_PATIENT && !name_doc_ok_str(r->patient)) ||
	    (f & F_DOC && !name_doc_ok_str(r->doc)) || (!(f & F_BODY) && body_len))
		return rc;
	rc = -ZK_ENOMEM;
	h = json_object();
	if (!h || set_str(h, "op", ops[r->op].name) ||
	    json_object_set_new(h, "id", json_integer((json_int_t)r->id)) ||
	    set_str(h, "grant", r->grant))
		goto fail;
	if ((f & F_PATIENT && set_str(h, "patient", r->patient)) ||
	    (f & F_DOC && set_str(h, "doc", r->doc)))
		goto fail;
	if (f & F_SHA) {
		docproto_hex(r->sha256, hex);
		if (set_str(h, "sha256", hex))
			goto fail;
	}
	rc = docproto_build(h, body_len, msg, len);
fail:
	json_decref(h);
	return rc;
}

void docproto_req_free(docproto_req_t *r)
{
	if (!r)
		return;
	json_decref(r->hdr);
	memset(r, 0, sizeof(*r));
}

static int entry_parse(const json_t *e, docproto_entry_t *out)
{
	if (!json_is_object(e) || get_name(e, "name", &out->name) ||
	    get_uint(e, "size", &out->size) || get_sha(e, "sha256", out->sha256))
		return -ZK_EMALFORMED;
	return 0;
}

static int docs_parse(const json_t *hdr, docproto_resp_t *r)
{
	const json_t *arr = json_object_get(hdr, "docs");
	size_t n = json_array_size(arr);

	if (!json_is_array(arr))
		return -ZK_EMALFORMED;
	r->docs = calloc(n ? n : 1, sizeof(*r->docs));
	if (!r->docs)
		return -ZK_ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (entry_parse(json_array_get(arr, i), &r->docs[i]))
			return -ZK_EMALFORMED;
	r->ndocs = n;
	return 0;
}

/* The fields of a successful response to op. */
static int ok_fields(const json_t *hdr, docproto_op_t op, docproto_resp_t *r)
{
	switch (op) {
	case DOCPROTO_LIST:
		return docs_parse(hdr, r);
	case DOCPROTO_GET:
	case DOCPROTO_PUT:
		if (get_uint(hdr, "size", &r->size) || get_sha(hdr, "sha256", r->sha256))
			return -ZK_EMALFORMED;
		/* The body is the document for get, and nothing for put. */
		if (r->body_len != (op == DOCPROTO_GET ? r->size : 0))
			return -ZK_EMALFORMED;
		return 0;
	case DOCPROTO_TOKEN:
		return get_str(hdr, "token", PASETO_MAX_TOKEN, &r->token);
	default:
		return -ZK_EINVAL;
	}
}

static int err_fields(const json_t *hdr, docproto_resp_t *r)
{
	const char *code;

	if (get_str(hdr, "error", 32, &code) || status_parse(code, &r->status) ||
	    get_str(hdr, "message", MAX_TEXT, &r->message) || r->body_len)
		return -ZK_EMALFORMED;
	return 0;
}

int docproto_resp_parse(const uint8_t *msg, size_t len, docproto_op_t op, docproto_resp_t *out)
{
	docproto_resp_t r;
	const json_t *ok;
	int rc;

	if (!out || (unsigned)op >= DOCPROTO_NOPS)
		return -ZK_EINVAL;
	memset(&r, 0, sizeof(r));
	rc = docproto_split(msg, len, &r.hdr, &r.body, &r.body_len);
	if (rc)
		return rc;
	ok = json_object_get(r.hdr, "ok");
	rc = -ZK_EMALFORMED;
	if (!json_is_boolean(ok) || get_uint(r.hdr, "id", &r.id))
		goto fail;
	rc = json_is_true(ok) ? ok_fields(r.hdr, op, &r) : err_fields(r.hdr, &r);
	if (rc)
		goto fail;
	*out = r;
	return 0;
fail:
	free(r.docs);
	json_decref(r.hdr);
	return rc;
}

void docproto_resp_free(docproto_resp_t *r)
{
	if (!r)
		return;
	free(r->docs);
	json_decref(r->hdr);
	memset(r, 0, sizeof(*r));
}

int docproto_resp_error(uint64_t id, docproto_status_t st, const char *text, uint8_t **msg,
			size_t *len)
{
	json_t *h;
	int rc;

	if (st == DOCPROTO_OK || !docproto_status_name(st) || !text ||
	    strlen(text) > MAX_TEXT || id > (uint64_t)INT64_MAX)
		return -ZK_EINVAL;
	h = json_pack("{s:b, s:I, s:s, s:s}", "ok", 0, "id", (json_int_t)id, "error",
		      docproto_status_name(st), "message", text);
	if (!h)
		return -ZK_ENOMEM;
	rc = docproto_build(h, 0, msg, len);
	json_decref(h);
	return rc;
}

int docproto_resp_ok(uint64_t id, const json_t *fields, size_t body_len, uint8_t **msg,
		     size_t *len)
{
	json_t *h;
	int rc = -ZK_ENOMEM;

	if ((fields && !json_is_object(fields)) || id > (uint64_t)INT64_MAX)
		return -ZK_EINVAL;
	h = json_pack("{s:b, s:I}", "ok", 1, "id", (json_int_t)id);
	/* json_object_update takes new references; fields stays the caller's. */
	if (!h || (fields && json_object_update(h, (json_t *)fields)))
		goto fail;
	rc = docproto_build(h, body_len, msg, len);
fail:
	json_decref(h);
	return rc;
}
