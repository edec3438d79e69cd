/* The CLI's state directory (mode 0700):
 *   config.json      {"cert":PATH,"key":PATH,"ca":PATH}, absolute paths
 *   static.key       our X25519 static private key (keyfile.h, 0600)
 *   enrollment.json  the imported enrollment (enroll.h, 0600)
 * Errors are negative zk_err_t with a message naming the file in err. */
#ifndef ZK_STATE_H
#define ZK_STATE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "enroll.h"

typedef struct {
	char dir[PATH_MAX];
	char cert[PATH_MAX], key[PATH_MAX], ca[PATH_MAX];
} state_t;

/* The directory: opt if given, else $ZKRELAY_CLI_STATE, else
 * $HOME/.config/zkrelay-cli. */
int state_dir(const char *opt, char *out, size_t cap);
/* Creates dir (and missing parents) with a new static key and the
 * config; refuses a directory that has been initialised. *pub is the
 * new public key. */
int state_init(const char *dir, const char *cert, const char *key, const char *ca,
	       uint8_t pub[32], char *err, size_t errlen);
/* Reads config.json. */
int state_load(const char *dir, state_t *st, char *err, size_t errlen);
int state_static_key(const char *dir, uint8_t priv[32], char *err, size_t errlen);
int state_public_key(const char *dir, uint8_t pub[32], char *err, size_t errlen);
int state_read_enrollment(const char *dir, enroll_t *e, char *err, size_t errlen);
int state_write_enrollment(const char *dir, const enroll_t *e, char *err, size_t errlen);

#endif
