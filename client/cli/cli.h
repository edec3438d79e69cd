/* zkrelay-cli's subcommands, one file each (cmd_*.c), the options every
 * one of them takes, and the exit statuses of the contract. */
#ifndef ZK_CLI_H
#define ZK_CLI_H

#include <getopt.h>
#include <stdio.h>

#define CLI_PROG "zkrelay-cli"
#define CLI_ERRLEN 512

enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_UNREACHABLE = 2, /* the relay cannot be reached */
	CLI_EXIT_TOKEN = 3,       /* the relay refused the access token */
	CLI_EXIT_PEERKEY = 4,     /* the data-safe could not prove the pinned key */
	CLI_EXIT_DENIED = 5,      /* grant invalid, expired or out of scope */
	CLI_EXIT_NOTFOUND = 6,
	CLI_EXIT_FAIL = 7,        /* anything else */
	CLI_EXIT_USAGE = 64,
};

/* The global options, allowed before or after the subcommand. */
typedef struct {
	const char *state;  /* --state, else $ZKRELAY_CLI_STATE, else ~/.config/zkrelay-cli */
	unsigned timeout_s; /* --timeout: give up after this long without progress */
	int quiet;          /* --quiet: no progress bar */
} cli_opts_t;

typedef struct cli_cmd {
	const char *name;
	int (*run)(const struct cli_cmd *c, cli_opts_t *g, int argc, char **argv);
	const char *synopsis; /* after "zkrelay-cli NAME " */
	const char *summary;  /* one line for the command list */
	const char *help;     /* the rest of NAME --help */
} cli_cmd_t;

int cli_cmd_init(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv);
int cli_cmd_pubkey(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv);
int cli_cmd_enroll(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv);
int cli_cmd_ls(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv);
int cli_cmd_get(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv);
int cli_cmd_put(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv);

/* Called for each of a command's own options (o is its val). 0, or an
 * exit status to stop with. */
typedef int (*cli_opt_cb)(void *arg, int o, const char *value);

/* Parses argv with the command's own options (short ones in shortopts,
 * long ones in own, terminated like getopt_long's; either may be NULL)
 * and the global ones. 0 with the operands at
 * argv[optind..], -1 after printing --help (exit 0), or an exit status.
 * Operand counts outside nmin..nmax are a usage error. */
int cli_getopt(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv, const char *shortopts,
	       const struct option *own, cli_opt_cb cb, void *arg, int nmin, int nmax);
/* Parses one global option (code from cli_getopt's table); for main. */
int cli_global(const char *name, const char *value, cli_opts_t *g);
void cli_usage(const cli_cmd_t *c, FILE *f, int full);
/* "zkrelay-cli NAME: why" and the usage; returns CLI_EXIT_USAGE. */
int cli_usage_error(const cli_cmd_t *c, const char *why);
/* "zkrelay-cli NAME: why" on stderr; returns status. */
__attribute__((format(printf, 3, 4)))
int cli_fail(const cli_cmd_t *c, int status, const char *fmt, ...);

#endif
