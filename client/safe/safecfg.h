/* zkrelay-safe's configuration: one INI file (inih), [safe] and [relay].
 *
 * Every key is required except max_upload_bytes, relay_id, token_kid and
 * the [relay] host, port and server_name, which have the defaults below.
 * Unknown sections and keys, a key set twice and a value out of range are
 * errors naming the file and line, so a typo never silently leaves a
 * default in place. */
#ifndef ZK_SAFECFG_H
#define ZK_SAFECFG_H

#include <stddef.h>
#include <stdint.h>

#include "name.h"

#define SAFECFG_PATH 1024u
#define SAFECFG_HOST 256u

typedef struct {
	char address[NAME_ADDR_MAX + 1];   /* "practice-a/safe-1" */
	char practice[NAME_ID_MAX + 1];    /* derived: the address's practice */
	char store_dir[SAFECFG_PATH];
	char static_key_file[SAFECFG_PATH];
	char token_key_file[SAFECFG_PATH];
	char token_kid[NAME_ID_MAX + 1];   /* default "k1" */
	char relay_id[NAME_ID_MAX + 1];    /* default "zkrelay-dev" */
	char audit_file[SAFECFG_PATH];
	uint64_t max_upload_bytes;         /* default 256 MiB */
	char host[SAFECFG_HOST];           /* default 127.0.0.1 */
	uint32_t port;                     /* default 8443 */
	char server_name[SAFECFG_HOST];    /* default localhost */
	char ca_file[SAFECFG_PATH];
	char cert_file[SAFECFG_PATH];
	char key_file[SAFECFG_PATH];
} safecfg_t;

/* 0, or -ZK_ECONFIG with "PATH:LINE: why" (or "PATH: why") in err. */
int safecfg_load(const char *path, safecfg_t *out, char *err, size_t errlen);

#endif
