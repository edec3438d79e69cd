/* Relay configuration: an INI file (parsed by inih) over embedded
 * defaults. Every key is listed once, in config.c's table, with its
 * section, type, default and range; README.md documents the same table.
 * Unknown sections or keys, repeated keys, values out of range and
 * inconsistent combinations are errors with the file name and line. */
#ifndef RELAY_CONFIG_H
#define RELAY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "ratelimit.h"

#define CONFIG_PATH_MAX 180 /* a config line is at most 198 bytes (inih) */

typedef struct {
	char relay_id[65];
	char listen_addr[64];
	int listen_port;
	char ops_addr[64];   /* plain HTTP: /metrics, /healthz, /readyz */
	int ops_port;        /* 0: no ops listener */
	char ops_cert_file[CONFIG_PATH_MAX];      /* all empty: plain HTTP */
	char ops_key_file[CONFIG_PATH_MAX];
	char ops_client_ca_file[CONFIG_PATH_MAX]; /* scrapers must present a cert */

	char ca_file[CONFIG_PATH_MAX];
	char cert_file[CONFIG_PATH_MAX];
	char key_file[CONFIG_PATH_MAX];
	char crl_file[CONFIG_PATH_MAX];
	char registry_dir[CONFIG_PATH_MAX];
	/* Least privilege (privdrop.h, sandbox.h): the account to drop to
	 * after the ports are bound and the keys loaded (empty: none), a
	 * directory to chroot into (empty: none), whether running as root
	 * without a user is allowed, and the syscall filter. */
	char run_user[33];
	char run_group[33];
	char chroot_dir[CONFIG_PATH_MAX];
	int allow_root;
	int seccomp;
	char audit_file[CONFIG_PATH_MAX]; /* "" (or "off"): no audit trail */
	int audit_sync;

	uint32_t token_leeway_s;
	uint32_t token_max_lifetime_s;
	uint32_t token_grace_s;

	uint32_t max_message_bytes;
	uint32_t max_payload_bytes;
	uint32_t max_connections;
	uint32_t max_connections_per_ip;
	uint64_t queue_max_bytes;
	uint64_t queue_high_water;
	uint64_t queue_low_water;
	uint64_t queue_total_max_bytes;
	/* Token buckets on data frames and their payload bytes, per
	 * connection and per practice (shared by all of its connections). */
	ratelimit_rule_t conn_frames, conn_bytes;
	ratelimit_rule_t practice_frames, practice_bytes;

	uint32_t tls_handshake_s;
	uint32_t upgrade_s;
	uint32_t hello_s;
	uint32_t ping_s;
	uint32_t idle_s;
	uint32_t drain_s;

	int log_level;
	int log_pseudonymize; /* endpoint ids in logs replaced by a keyed hash */
} config_t;

/* Fills *cfg with the embedded defaults (dev PKI under build/dev/pki). */
void config_defaults(config_t *cfg);
/* Reads path over *cfg. 0, or -ZK_ECONFIG with a message in err. */
int config_load(config_t *cfg, const char *path, char *err, size_t errlen);
/* Same for an in-memory INI text (tests). */
int config_load_string(config_t *cfg, const char *text, char *err, size_t errlen);
/* Cross-key rules (water marks ordered, limits consistent). */
int config_validate(const config_t *cfg, char *err, size_t errlen);
/* The largest payload a data frame can carry here: max_payload_bytes,
 * or less if a whole frame would not fit in max_message_bytes. */
uint32_t config_payload_limit(const config_t *cfg);
/* Writes every key with its current value as an INI file to stdout. */
void config_print(const config_t *cfg);

#endif
