#include "request.h"

#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "enroll.h"
#include "peek.h"
#include "progress.h"
#include "state.h"
#include "tokenmint.h"
#include "zkerr.h"
#include "zkrelay.h"

#define MAIN_ID 1
#define FIRST_TOKEN_ID 100
/* Refresh the stored relay token when it has less than this left. */
#define REFRESH_WITHIN_S 1800
/* Largest document the CLI sends or receives in one message. */
#define MAX_DOC ((size_t)1 << 30)

typedef struct {
	const cli_cmd_t *c;
	const cli_opts_t *g;
	const request_t *req;
	char dir[PATH_MAX];
	state_t st;
	enroll_t *en;
	uv_loop_t loop;
	uv_timer_t idle;
	zkr_client_t *zc;
	zkr_session_t *s;
	uint8_t *msg;        /* the request, until the SDK has taken it */
	size_t len;
	uint8_t *tok;        /* a token request, until the SDK has taken it */
	size_t toklen;
	uint64_t tok_id;     /* of the token request in flight, 0 if none */
	uint64_t next_tok_id;
	int up;              /* the relay link is up */
	int last_err;        /* why it last went down */
	int finished;
	int status;
	char why[CLI_ERRLEN];
	progress_t bar;
} run_t;

static void free_msg(uint8_t **m, size_t *len)
{
	if (*m)
		OPENSSL_cleanse(*m, *len); /* the grant, perhaps a document */
	free(*m);
	*m = NULL;
	*len = 0;
}

static void on_closed(void *ud)
{
	run_t *r = ud;

	r->zc = NULL;
	uv_close((uv_handle_t *)&r->idle, NULL);
}

__attribute__((format(printf, 3, 4)))
static void finish(run_t *r, int status, const char *fmt, ...)
{
	va_list ap;

	if (r->finished)
		return;
	r->finished = 1;
	r->status = status;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof(r->why), fmt, ap);
	va_end(ap);
	progress_end(&r->bar, 0);
	r->s = NULL; /* closing the client ends the session; the SDK sends the
		      * acknowledgement of the answer first */
	uv_timer_stop(&r->idle);
	zkr_client_close(r->zc, on_closed, r);
}

static void on_idle(uv_timer_t *t)
{
	run_t *r = t->data;

	if (!r->up)
		finish(r, CLI_EXIT_UNREACHABLE, "relay unreachable at %s:%d (%s)", r->en->relay_host,
		       r->en->relay_port, r->last_err ? zkr_strerror(r->last_err) : "no answer");
	else
		finish(r, CLI_EXIT_FAIL, "timeout: no progress for %u s", r->g->timeout_s);
}

/* Progress was made: the --timeout clock starts again. */
static void touch(run_t *r)
{
	if (!r->finished)
		uv_timer_start(&r->idle, on_idle, (uint64_t)r->g->timeout_s * 1000, 0);
}

/* Hands m to the SDK. 1 when taken (m freed), 0 when the window is
 * full (on_writable calls again), -1 after finish(). */
static int send_one(run_t *r, uint8_t **m, size_t *len)
{
	int rc = zkr_session_send(r->s, *m, *len, NULL);

	if (rc == -ZKR_EAGAIN)
		return 0;
	free_msg(m, len);
	if (rc) {
		finish(r, CLI_EXIT_FAIL, "cannot send the request: %s", zkr_strerror(rc));
		return -1;
	}
	return 1;
}

/* The token request (if any) goes before the request it serves. */
static void pump(run_t *r)
{
	if (!r->s || r->finished)
		return;
	if (r->tok && send_one(r, &r->tok, &r->toklen) <= 0)
		return;
	if (r->msg)
		send_one(r, &r->msg, &r->len);
}

static int build_token_request(run_t *r)
{
	docproto_req_t q = { .op = DOCPROTO_TOKEN, .grant = r->en->grant };

	if (r->tok_id)
		return 0; /* one is on its way */
	q.id = r->tok_id = FIRST_TOKEN_ID + r->next_tok_id++;
	return docproto_req_build(&q, 0, &r->tok, &r->toklen);
}

static void took_token(run_t *r, const docproto_resp_t *resp)
{
	char err[CLI_ERRLEN];

	if (resp->status != DOCPROTO_OK || strlen(resp->token) >= sizeof(r->en->token)) {
		fprintf(stderr, CLI_PROG " %s: warning: could not refresh the access token: %s\n",
			r->c->name, resp->message ? resp->message : "malformed answer");
		return;
	}
	memcpy(r->en->token, resp->token, strlen(resp->token) + 1);
	if (state_write_enrollment(r->dir, r->en, err, sizeof(err)))
		fprintf(stderr, CLI_PROG " %s: warning: %s\n", r->c->name, err);
	if (zkr_client_set_token(r->zc, r->en->token))
		fprintf(stderr, CLI_PROG " %s: warning: the new token was not taken\n", r->c->name);
}

static int refusal_status(docproto_status_t st)
{
	switch (st) {
	case DOCPROTO_GRANT_INVALID:
	case DOCPROTO_GRANT_EXPIRED:
	case DOCPROTO_NOT_PERMITTED:
		return CLI_EXIT_DENIED;
	case DOCPROTO_NOT_FOUND:
		return CLI_EXIT_NOTFOUND;
	default:
		return CLI_EXIT_FAIL;
	}
}

static void got_answer(run_t *r, const docproto_resp_t *resp)
{
	int st;

	if (resp->status != DOCPROTO_OK) {
		finish(r, refusal_status(resp->status), "the data-safe refused: %s (%s)",
		       resp->message, docproto_status_name(resp->status));
		return;
	}
	progress_end(&r->bar, 1);
	/* done() says itself what went wrong, if anything. */
	st = r->req->done(r->req->arg, resp);
	finish(r, st, "%s", "");
}

static void on_message(zkr_session_t *s, const uint8_t *msg, size_t len, void *ud)
{
	run_t *r = ud;
	uint64_t id = docproto_peek_id(msg, len);
	docproto_op_t op = id == MAIN_ID ? r->req->op : DOCPROTO_TOKEN;
	docproto_resp_t resp;

	touch(r);
	if (id != MAIN_ID && (id == 0 || id != r->tok_id))
		return; /* an answer to nothing we asked */
	if (docproto_resp_parse(msg, len, op, &resp)) {
		finish(r, CLI_EXIT_FAIL, "the data-safe sent a malformed answer");
		return;
	}
	if (id == MAIN_ID) {
		got_answer(r, &resp);
	} else {
		r->tok_id = 0;
		took_token(r, &resp);
	}
	docproto_resp_free(&resp);
}

static void on_link(zkr_client_t *c, int up, int err, void *ud)
{
	run_t *r = ud;

	r->up = up;
	if (up) {
		touch(r);
		pump(r);
		return;
	}
	r->last_err = err;
	switch (err) {
	case ZKR_ETOKEN:
	case ZKR_ETOKENEXPIRED:
	case ZKR_ENOTAUTH:
		finish(r, CLI_EXIT_TOKEN,
		       "the relay refused the access token (%s); ask the data-safe for a new "
		       "enrollment",
		       err == ZKR_ETOKENEXPIRED ? "expired"
		       : err == ZKR_ETOKEN	 ? "invalid"
						 : "this endpoint is not admitted");
		break;
	case ZKR_ECERT:
	case ZKR_ECERTREVOKED:
		finish(r, CLI_EXIT_FAIL, "TLS/certificate error with the relay at %s:%d: %s",
		       r->en->relay_host, r->en->relay_port, zkr_strerror(err));
		break;
	case ZKR_EUPGRADE:
		finish(r, CLI_EXIT_FAIL, "%s:%d is not a zkrelay relay: %s", r->en->relay_host,
		       r->en->relay_port, zkr_strerror(err));
		break;
	default:
		break; /* the SDK reconnects; --timeout decides how long we wait */
	}
}

static void on_open(zkr_session_t *s, void *ud)
{
	touch(ud);
}

static void on_progress(zkr_session_t *s, int in, uint64_t done, uint64_t total, void *ud)
{
	run_t *r = ud;

	touch(r);
	if (in == r->req->progress_in)
		progress_update(&r->bar, done, total);
}

static void on_acked(zkr_session_t *s, uint64_t id, void *ud)
{
	touch(ud);
}

static void on_writable(zkr_session_t *s, void *ud)
{
	pump(ud);
}

static void on_error(zkr_session_t *s, int err, void *ud)
{
	run_t *r = ud;

	r->s = NULL;
	if (err == ZKR_EPEERKEY)
		finish(r, CLI_EXIT_PEERKEY,
		       "the data-safe could not prove the pinned key (%s): check the enrollment",
		       r->en->safe);
	else
		finish(r, CLI_EXIT_FAIL, "the session to the data-safe %s failed: %s", r->en->safe,
		       zkr_strerror(err));
}

static void on_token_expiring(zkr_client_t *c, int64_t exp, void *ud)
{
	run_t *r = ud;

	if (!r->tok && !r->tok_id && build_token_request(r) == 0)
		pump(r);
}

static const zkr_callbacks_t callbacks = {
	.on_link = on_link,
	.on_open = on_open,
	.on_message = on_message,
	.on_acked = on_acked,
	.on_progress = on_progress,
	.on_writable = on_writable,
	.on_error = on_error,
	.on_token_expiring = on_token_expiring,
};

/* 1 if the stored token has less than REFRESH_WITHIN_S left (or cannot
 * be read, in which case the relay will tell). */
static int token_expiring(const char *token)
{
	json_t *claims = NULL;
	const json_t *exp;
	int64_t t = 0;
	int soon = 0;

	if (peek_claims(token, strlen(token), &claims) == 0) {
		exp = json_object_get(claims, "exp");
		if (json_is_string(exp) && tokenmint_parse_time(json_string_value(exp), &t) == 0)
			soon = t - (int64_t)time(NULL) < REFRESH_WITHIN_S;
	}
	json_decref(claims);
	return soon;
}

/* Loads state, key-independent parts first. An exit status. */
static int load(run_t *r, char *err, size_t errlen)
{
	if (state_dir(r->g->state, r->dir, sizeof(r->dir)))
		return zk_errf(err, errlen, CLI_EXIT_FAIL, "no state directory (set --state)");
	r->en = calloc(1, sizeof(*r->en));
	if (!r->en)
		return zk_errf(err, errlen, CLI_EXIT_FAIL, "out of memory");
	if (state_load(r->dir, &r->st, err, errlen) ||
	    state_read_enrollment(r->dir, r->en, err, errlen))
		return CLI_EXIT_FAIL;
	return 0;
}

/* The request message, its body filled in place. An exit status. */
static int build(run_t *r, const char *patient, char *err, size_t errlen)
{
	const request_t *q = r->req;
	docproto_req_t d = { .op = q->op, .id = MAIN_ID, .grant = r->en->grant,
			     .patient = patient, .doc = q->doc };
	int rc;

	memcpy(d.sha256, q->sha256, sizeof(d.sha256));
	if (q->body_len > MAX_DOC)
		return zk_errf(err, errlen, CLI_EXIT_FAIL, "larger than %zu bytes", MAX_DOC);
	if (docproto_req_build(&d, q->body_len, &r->msg, &r->len))
		return zk_errf(err, errlen, CLI_EXIT_FAIL, "cannot build the request");
	if (q->body_len && (rc = q->fill(q->arg, r->msg + r->len - q->body_len, q->body_len)))
		return rc;
	if (token_expiring(r->en->token) && build_token_request(r))
		return zk_errf(err, errlen, CLI_EXIT_FAIL, "cannot build the token request");
	return 0;
}

static int start(run_t *r, char *err, size_t errlen)
{
	zkr_config_t zc;
	int rc;

	zkr_config_init(&zc);
	zc.host = r->en->relay_host;
	zc.port = r->en->relay_port;
	zc.server_name = r->en->server_name;
	zc.ca_file = r->st.ca;
	zc.cert_file = r->st.cert;
	zc.key_file = r->st.key;
	zc.token = r->en->token;
	zc.cb = &callbacks;
	zc.ud = r;
	zc.max_message_bytes = MAX_DOC + DOCPROTO_PREFIX + DOCPROTO_MAX_HEADER;
	zc.peer_timeout_ms = r->g->timeout_s * 1000u;
	rc = state_static_key(r->dir, zc.static_key, err, errlen);
	if (rc == 0 && (rc = zkr_client_new(&r->loop, &zc, &r->zc)) != 0)
		zk_errf(err, errlen, rc, "cannot set up the relay client: %s", zkr_strerror(rc));
	zkr_wipe(zc.static_key, sizeof(zc.static_key)); /* the client keeps its own copy */
	if (rc == 0 && (rc = zkr_client_start(r->zc)) != 0)
		zk_errf(err, errlen, rc, "cannot start the relay client: %s", zkr_strerror(rc));
	if (rc == 0 && (rc = zkr_session_open(r->zc, r->en->safe, r->en->safe_key, &r->s)) != 0)
		zk_errf(err, errlen, rc, "cannot open a session to %s: %s", r->en->safe,
			zkr_strerror(rc));
	return rc ? CLI_EXIT_FAIL : 0;
}

static int go(run_t *r, char *err, size_t errlen)
{
	const char *patient;
	int rc = load(r, err, errlen);

	if (rc)
		return rc;
	patient = r->req->patient ? r->req->patient : r->en->patient;
	if (r->req->op != DOCPROTO_TOKEN && !patient[0])
		return zk_errf(err, errlen, CLI_EXIT_USAGE,
			       "the enrollment covers the whole practice: name a PATIENT");
	rc = build(r, patient, err, errlen);
	if (rc)
		return rc;
	if (uv_loop_init(&r->loop))
		return zk_errf(err, errlen, CLI_EXIT_FAIL, "cannot set up the event loop");
	uv_timer_init(&r->loop, &r->idle);
	r->idle.data = r;
	rc = start(r, err, errlen);
	if (rc == 0) {
		touch(r);
		pump(r);
		uv_run(&r->loop, UV_RUN_DEFAULT);
		rc = r->status;
		snprintf(err, errlen, "%s", r->why);
	} else if (r->zc) {
		zkr_client_close(r->zc, on_closed, r);
	} else {
		uv_close((uv_handle_t *)&r->idle, NULL);
	}
	uv_run(&r->loop, UV_RUN_DEFAULT); /* let the closes finish */
	uv_loop_close(&r->loop);
	return rc;
}

int request_run(const cli_cmd_t *c, const cli_opts_t *g, const request_t *req)
{
	run_t *r = calloc(1, sizeof(*r));
	char err[CLI_ERRLEN] = "";
	int rc = CLI_EXIT_FAIL;

	if (!r)
		return cli_fail(c, rc, "out of memory");
	r->c = c;
	r->g = g;
	r->req = req;
	progress_init(&r->bar, req->label, !g->quiet);
	rc = go(r, err, sizeof(err));
	if (rc && err[0])
		cli_fail(c, rc, "%s", err);
	free_msg(&r->msg, &r->len);
	free_msg(&r->tok, &r->toklen);
	if (r->en)
		zkr_wipe(r->en, sizeof(*r->en));
	free(r->en);
	free(r);
	return rc;
}
