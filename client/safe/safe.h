/* zkrelay-safe's subcommands, one file each (cmd_*.c), dispatched by the
 * table in main.c. Each gets argv from its own name on, and returns the
 * process exit status. */
#ifndef ZK_SAFE_H
#define ZK_SAFE_H

#include <stdio.h>

#define SAFE_PROG "zkrelay-safe"
#define SAFE_EXIT_FAIL 1
#define SAFE_EXIT_USAGE 64
#define SAFE_ERRLEN 512

typedef struct safe_cmd {
	const char *name;
	int (*run)(const struct safe_cmd *c, int argc, char **argv);
	const char *synopsis; /* after "zkrelay-safe NAME " */
	const char *summary;  /* one line for the command list */
	const char *help;     /* the rest of NAME --help */
} safe_cmd_t;

int safe_cmd_keygen(const safe_cmd_t *c, int argc, char **argv);
int safe_cmd_pubkey(const safe_cmd_t *c, int argc, char **argv);
int safe_cmd_run(const safe_cmd_t *c, int argc, char **argv);
int safe_cmd_enroll(const safe_cmd_t *c, int argc, char **argv);
int safe_cmd_audit_verify(const safe_cmd_t *c, int argc, char **argv);

/* "usage: zkrelay-safe NAME SYNOPSIS", and the help text when full. */
void safe_usage(const safe_cmd_t *c, FILE *f, int full);
/* Reports an option getopt_long refused (opt '?' or ':') and returns
 * SAFE_EXIT_USAGE. */
int safe_bad_option(const safe_cmd_t *c, int opt, char **argv);
/* Prints "zkrelay-safe NAME: why" and the usage; returns SAFE_EXIT_USAGE. */
int safe_usage_error(const safe_cmd_t *c, const char *why);

#endif
