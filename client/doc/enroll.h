/* The enrollment file: what a data-safe hands a new client, and all the
 * client needs to reach it.
 *
 *   {"version":1, "relay_host":H, "relay_port":P, "server_name":S,
 *    "practice":ID, "safe":ADDR, "safe_key":B64, "client":ADDR,
 *    "patient":NAME (optional), "grant":TOKEN, "token":TOKEN}
 *
 * safe_key is the data-safe's X25519 static public key: the client pins
 * it, so the relay can never stand in for the data-safe. The parser is
 * strict: every field of its type, no unknown field, no duplicate key,
 * names by name.h, the safe inside the practice. The file holds a grant
 * and a token: it is written with mode 0600. */
#ifndef ZK_ENROLL_H
#define ZK_ENROLL_H

#include <stddef.h>
#include <stdint.h>

#include "name.h"
#include "paseto.h"

#define ENROLL_VERSION 1
#define ENROLL_MAX_HOST 255u
/* Largest enrollment file read. */
#define ENROLL_MAX_FILE 65536u

typedef struct {
	char relay_host[ENROLL_MAX_HOST + 1];
	int relay_port;
	char server_name[ENROLL_MAX_HOST + 1];
	char practice[NAME_ID_MAX + 1];
	char safe[NAME_ADDR_MAX + 1];
	uint8_t safe_key[32];
	char client[NAME_ADDR_MAX + 1];
	char patient[NAME_DOC_MAX + 1]; /* "" when not scoped */
	char grant[PASETO_MAX_TOKEN + 1];
	char token[PASETO_MAX_TOKEN + 1];
} enroll_t;

/* Errors: -ZK_EMALFORMED with a message naming the field in err. */
int enroll_parse(const char *text, size_t len, enroll_t *out, char *err, size_t errlen);
int enroll_read(const char *path, enroll_t *out, char *err, size_t errlen);
/* The file's text (malloc'd, ends in "\n"), or NULL when out of memory
 * or safe_key does not encode. */
char *enroll_dumps(const enroll_t *e);
/* Replaces path atomically, mode 0600. */
int enroll_write(const char *path, const enroll_t *e, char *err, size_t errlen);

#endif
