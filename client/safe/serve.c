#include "serve.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accesslog.h"
#include "grant.h"
#include "log.h"
#include "zkerr.h"

/* One request on its way through: what the answer and the audit line
 * are made of. */
typedef struct {
	const serve_t *sv;
	const serve_peer_t *peer;
	docproto_req_t req;
	grant_t grant;
	uint8_t *resp;
	size_t resp_len;
} call_t;

typedef docproto_status_t (*op_fn)(call_t *c);

static docproto_status_t op_list(call_t *c);
static docproto_status_t op_get(call_t *c);
static docproto_status_t op_put(call_t *c);
static docproto_status_t op_token(call_t *c);

static const op_fn ops[DOCPROTO_NOPS] = {
	[DOCPROTO_LIST] = op_list,
	[DOCPROTO_GET] = op_get,
	[DOCPROTO_PUT] = op_put,
	[DOCPROTO_TOKEN] = op_token,
};

/* The short texts of refusals: fixed strings, nothing from the store. */
static const char *const texts[DOCPROTO_NSTATUS] = {
	[DOCPROTO_BAD_REQUEST] = "the request is malformed",
	[DOCPROTO_GRANT_INVALID] = "the grant is not valid for this session",
	[DOCPROTO_GRANT_EXPIRED] = "the grant has expired",
	[DOCPROTO_NOT_PERMITTED] = "the grant does not cover this patient",
	[DOCPROTO_NOT_FOUND] = "no such document",
	[DOCPROTO_EXISTS] = "a document of that name exists",
	[DOCPROTO_TOO_LARGE] = "the document is too large",
	[DOCPROTO_CHECKSUM_MISMATCH] = "the body does not match its sha256",
	[DOCPROTO_INTERNAL] = "the data-safe could not complete the request",
};

static docproto_status_t op_list(call_t *c)
{
	json_t *docs = NULL, *f;
	docproto_status_t st = store_list(c->sv->store, c->req.patient, &docs);

	if (st != DOCPROTO_OK)
		return st;
	f = json_pack("{s:o}", "docs", docs);
	if (!f || docproto_resp_ok(c->req.id, f, 0, &c->resp, &c->resp_len))
		st = DOCPROTO_INTERNAL;
	json_decref(f);
	return st;
}

/* The response header of a get, for a body of size bytes whose hash is
 * sha. Its length does not depend on the hash (always 64 hex digits), so
 * it can be built before the document is read and again after. */
static int get_header(uint64_t id, uint64_t size, const uint8_t sha[32], size_t body,
		      uint8_t **msg, size_t *len)
{
	char hex[DOCPROTO_SHA256_HEX + 1];
	json_t *f;
	int rc;

	docproto_hex(sha, hex);
	f = json_pack("{s:I, s:s}", "size", (json_int_t)size, "sha256", hex);
	if (!f)
		return -ZK_ENOMEM;
	rc = docproto_resp_ok(id, f, body, msg, len);
	json_decref(f);
	return rc;
}

/* Reads the document straight into its response: one copy in memory,
 * however large the document. */
static docproto_status_t op_get(call_t *c)
{
	static const uint8_t zero[32];
	uint8_t sha[32], *msg = NULL, *hdr = NULL;
	size_t len = 0, hlen = 0;
	uint64_t size;
	int fd = -1;
	docproto_status_t st = store_open_doc(c->sv->store, c->req.patient, c->req.doc, &fd, &size);

	if (st != DOCPROTO_OK)
		return st;
	st = DOCPROTO_INTERNAL;
	if (size > SIZE_MAX || get_header(c->req.id, size, zero, (size_t)size, &msg, &len))
		goto out;
	if (store_read_doc(fd, msg + len - size, (size_t)size, sha) ||
	    get_header(c->req.id, size, sha, 0, &hdr, &hlen) || hlen != len - size)
		goto out;
	memcpy(msg, hdr, hlen);
	c->resp = msg;
	c->resp_len = len;
	msg = NULL;
	st = DOCPROTO_OK;
out:
	free(msg);
	free(hdr);
	close(fd);
	return st;
}

static docproto_status_t op_put(call_t *c)
{
	uint8_t sha[32];
	char hex[DOCPROTO_SHA256_HEX + 1];
	json_t *f;
	docproto_status_t st;

	if (c->req.body_len > c->sv->store->max_bytes)
		return DOCPROTO_TOO_LARGE;
	if (EVP_Digest(c->req.body, c->req.body_len, sha, NULL, EVP_sha256(), NULL) != 1)
		return DOCPROTO_INTERNAL;
	if (CRYPTO_memcmp(sha, c->req.sha256, 32))
		return DOCPROTO_CHECKSUM_MISMATCH;
	st = store_put(c->sv->store, c->req.patient, c->req.doc, c->req.body, c->req.body_len);
	if (st != DOCPROTO_OK)
		return st;
	docproto_hex(sha, hex);
	f = json_pack("{s:I, s:s}", "size", (json_int_t)c->req.body_len, "sha256", hex);
	if (!f || docproto_resp_ok(c->req.id, f, 0, &c->resp, &c->resp_len)) {
		st = DOCPROTO_INTERNAL;
		store_remove(c->sv->store, c->req.patient, c->req.doc);
	}
	json_decref(f);
	return st;
}

/* A fresh relay access token for the grant's holder: sub and cnf come
 * from the grant, which the checks above tied to this very session. */
static docproto_status_t op_token(call_t *c)
{
	char *tok = NULL;
	json_t *f = NULL;
	docproto_status_t st = DOCPROTO_INTERNAL;
	int rc = practice_relay_token(c->sv->practice, c->grant.sub, c->grant.cnf,
				      (int64_t)time(NULL), PRACTICE_TOKEN_MAX_S, c->grant.exp, &tok);

	if (rc == -ZK_ETOKENEXPIRED)
		return DOCPROTO_GRANT_EXPIRED;
	if (rc)
		return st;
	f = json_pack("{s:s}", "token", tok);
	if (f && docproto_resp_ok(c->req.id, f, 0, &c->resp, &c->resp_len) == 0)
		st = DOCPROTO_OK;
	json_decref(f);
	free(tok);
	return st;
}

static int audit(call_t *c, int parsed, int allowed, docproto_status_t st)
{
	accesslog_entry_t e = {
		.client = c->peer->peer,
		.op = parsed ? docproto_op_name(c->req.op) : NULL,
		.patient = parsed ? c->req.patient : NULL,
		.doc = parsed ? c->req.doc : NULL,
		.allowed = allowed,
		.outcome = st,
	};
	int rc = accesslog_write(c->sv->audit, &e);

	if (rc)
		zlog(ZLOG_ERROR, "audit_failed", "ss", "client", c->peer->peer, "error",
		     zk_err_name(rc));
	return rc;
}

/* Runs an authorised request. If its audit line cannot be written the
 * answer is withheld and an upload undone: nothing happens unrecorded. */
static docproto_status_t run(call_t *c)
{
	docproto_status_t st = ops[c->req.op](c);

	if (audit(c, 1, 1, st) == 0)
		return st;
	if (st == DOCPROTO_OK && c->req.op == DOCPROTO_PUT)
		store_remove(c->sv->store, c->req.patient, c->req.doc);
	if (c->resp)
		OPENSSL_cleanse(c->resp, c->resp_len);
	free(c->resp);
	c->resp = NULL;
	return DOCPROTO_INTERNAL;
}

static docproto_status_t authorize(call_t *c)
{
	grant_ctx_t ctx = { c->sv->cfg->practice, c->sv->cfg->address, c->peer->peer,
			    c->peer->peer_key, (int64_t)time(NULL) };

	return grant_authorize(c->sv->practice->pk, c->sv->cfg->token_kid, &ctx, c->req.grant,
			       c->req.patient, &c->grant);
}

int serve_request(const serve_t *sv, const serve_peer_t *peer, const uint8_t *msg, size_t len,
		  uint8_t **resp, size_t *resp_len)
{
	call_t c = { .sv = sv, .peer = peer };
	docproto_status_t st;
	int rc = docproto_req_parse(msg, len, &c.req);

	if (rc) {
		st = rc == -ZK_ETOOLARGE ? DOCPROTO_TOO_LARGE : DOCPROTO_BAD_REQUEST;
		c.req.id = docproto_peek_id(msg, len);
		audit(&c, 0, 0, st);
	} else if ((st = authorize(&c)) != DOCPROTO_OK) {
		audit(&c, 1, 0, st);
	} else {
		st = run(&c);
	}
	zlog(ZLOG_INFO, "request", "sss", "client", peer->peer, "op",
	     rc ? "?" : docproto_op_name(c.req.op), "result", docproto_status_name(st));
	if (st != DOCPROTO_OK)
		rc = docproto_resp_error(c.req.id, st, texts[st], &c.resp, &c.resp_len);
	docproto_req_free(&c.req);
	if (rc)
		return rc;
	*resp = c.resp;
	*resp_len = c.resp_len;
	return 0;
}

void serve_refused(const serve_t *sv, const serve_peer_t *peer, docproto_status_t st)
{
	call_t c = { .sv = sv, .peer = peer };

	audit(&c, 0, 0, st);
}
