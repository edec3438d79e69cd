/* The document protocol spoken inside an end-to-end session between the
 * CLI and a data-safe: one zkr message per request, one per response.
 *
 *   message = u32 big-endian N || N bytes of JSON header || body
 *
 * The header is a JSON object of at most DOCPROTO_MAX_HEADER bytes; the
 * body is the rest of the message and may be empty. Requests carry "op",
 * "id" (echoed in the response) and "grant"; see contract for the fields
 * of each operation. Request parsing is strict: exactly the fields of the
 * operation, each of its type, names valid by name_doc_ok(), no duplicate
 * keys, and a body only for "put". Response parsing checks the fields the
 * CLI uses and ignores others, so a data-safe may add fields later.
 *
 * Errors are negative zk_err_t: -ZK_EMALFORMED for any message that does
 * not parse, -ZK_ETOOLARGE for a header over the cap, -ZK_ENOMEM,
 * -ZK_EINVAL for a bad argument. */
#ifndef ZK_DOCPROTO_H
#define ZK_DOCPROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define DOCPROTO_MAX_HEADER 16384u
#define DOCPROTO_PREFIX 4u
#define DOCPROTO_SHA256_HEX 64u

typedef enum {
	DOCPROTO_LIST = 0,
	DOCPROTO_GET,
	DOCPROTO_PUT,
	DOCPROTO_TOKEN,
	DOCPROTO_NOPS
} docproto_op_t;

/* The outcome of a request, as the "error" code of a response says it. */
typedef enum {
	DOCPROTO_OK = 0,
	DOCPROTO_BAD_REQUEST,
	DOCPROTO_GRANT_INVALID,
	DOCPROTO_GRANT_EXPIRED,
	DOCPROTO_NOT_PERMITTED,
	DOCPROTO_NOT_FOUND,
	DOCPROTO_EXISTS,
	DOCPROTO_TOO_LARGE,
	DOCPROTO_CHECKSUM_MISMATCH,
	DOCPROTO_INTERNAL,
	DOCPROTO_NSTATUS
} docproto_status_t;

/* "list", "get", ...; NULL for an unknown op. */
const char *docproto_op_name(docproto_op_t op);
/* "bad_request", ...; "ok" for DOCPROTO_OK; NULL if unknown. */
const char *docproto_status_name(docproto_status_t st);

/* Lowercase hex of a SHA-256; out holds 65 bytes with the NUL. */
void docproto_hex(const uint8_t sha[32], char out[DOCPROTO_SHA256_HEX + 1]);
/* Strict: exactly 64 lowercase hex digits. 0 or -ZK_EMALFORMED. */
int docproto_unhex(const char *s, uint8_t sha[32]);

/* Splits msg into its header object (a new reference) and body (a span
 * of msg). */
int docproto_split(const uint8_t *msg, size_t len, json_t **hdr, const uint8_t **body,
		   size_t *body_len);
/* A message of header hdr and room for body_len body bytes at
 * *msg + *len - body_len, for the caller to fill (a file read straight
 * into place). *msg is malloc'd. */
int docproto_build(const json_t *hdr, size_t body_len, uint8_t **msg, size_t *len);

typedef struct {
	json_t *hdr;           /* owns the strings below */
	docproto_op_t op;
	uint64_t id;
	const char *grant;
	const char *patient;   /* NULL for "token" */
	const char *doc;       /* "get" and "put" only */
	uint8_t sha256[32];    /* "put" only */
	const uint8_t *body;   /* "put": a span of the message */
	size_t body_len;
} docproto_req_t;

/* The "id" of a request that may not parse otherwise, so a refusal can
 * echo it; 0 if there is none to read. */
uint64_t docproto_peek_id(const uint8_t *msg, size_t len);
int docproto_req_parse(const uint8_t *msg, size_t len, docproto_req_t *out);
/* Encodes r's op, id, grant and the fields of its op, with room for
 * body_len body bytes (see docproto_build). */
int docproto_req_build(const docproto_req_t *r, size_t body_len, uint8_t **msg, size_t *len);
void docproto_req_free(docproto_req_t *r);

typedef struct {
	const char *name;
	uint64_t size;
	uint8_t sha256[32];
} docproto_entry_t;

typedef struct {
	json_t *hdr;           /* owns the strings below */
	uint64_t id;
	docproto_status_t status;
	const char *message;   /* error responses: the short text */
	uint64_t size;         /* get, put */
	uint8_t sha256[32];    /* get, put */
	const char *token;     /* token */
	docproto_entry_t *docs; /* list: malloc'd, ndocs entries */
	size_t ndocs;
	const uint8_t *body;   /* get: a span of the message, size bytes */
	size_t body_len;
} docproto_resp_t;

/* Parses the response to a request of op. An error response parses for
 * every op (status != DOCPROTO_OK, message set). */
int docproto_resp_parse(const uint8_t *msg, size_t len, docproto_op_t op, docproto_resp_t *out);
void docproto_resp_free(docproto_resp_t *r);

/* {"ok":false,"id":id,"error":CODE,"message":text}. */
int docproto_resp_error(uint64_t id, docproto_status_t st, const char *text, uint8_t **msg,
			size_t *len);
/* {"ok":true,"id":id} plus the members of fields (may be NULL; left as
 * it was), with room for body_len body bytes. */
int docproto_resp_ok(uint64_t id, const json_t *fields, size_t body_len, uint8_t **msg,
		     size_t *len);

#endif
