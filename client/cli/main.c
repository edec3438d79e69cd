/* zkrelay-cli: a practice client of a data-safe, through the relay.
 *
 *   zkrelay-cli [--state DIR] init --cert CRT --key KEY --ca CA
 *   zkrelay-cli pubkey | enroll FILE | ls [PATIENT]
 *   zkrelay-cli get PATIENT DOC [-o FILE] | put PATIENT FILE [--name DOC]
 *
 * Exit status: 0 done; 2 relay unreachable; 3 access token refused; 4
 * the data-safe could not prove its pinned key; 5 not permitted; 6 not
 * found; 7 any other failure; 64 a usage error. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const cli_cmd_t commands[] = {
	{ "init", cli_cmd_init, "--cert CRT --key KEY --ca CA", "create the state directory",
	  "Creates the state directory with a fresh end-to-end static key (mode 0600) and\n"
	  "the paths of this client's certificate, key and the relay CA, and prints the\n"
	  "public key (base64url) for the data-safe's enrollment.\n" },
	{ "pubkey", cli_cmd_pubkey, "", "print our end-to-end public key",
	  "Prints the base64url X25519 public key of the state directory's static key.\n" },
	{ "enroll", cli_cmd_enroll, "FILE", "import an enrollment file",
	  "Imports the enrollment file a data-safe wrote for this client, after checking\n"
	  "that it is well formed and that its grant names our public key.\n" },
	{ "ls", cli_cmd_ls, "[PATIENT]", "list a patient's documents",
	  "Prints NAME<TAB>SIZE<TAB>SHA256 for each document of PATIENT (default: the\n"
	  "patient of the enrollment).\n" },
	{ "get", cli_cmd_get, "PATIENT DOC [-o FILE]", "fetch a document",
	  "Fetches DOC of PATIENT, checks its SHA-256 and writes it to FILE (default:\n"
	  "DOC in the current directory; '-' for stdout). An existing FILE is replaced.\n" },
	{ "put", cli_cmd_put, "PATIENT FILE [--name DOC]", "upload a document",
	  "Uploads FILE as DOC (default: FILE's base name) for PATIENT. The data-safe\n"
	  "refuses a name that exists.\n" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: " CLI_PROG " [--state DIR] [--timeout SECONDS] [--quiet] COMMAND [ARGS]\n"
		   "\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'" CLI_PROG " COMMAND --help' describes one command.\n");
}

/* "zkrelay-cli: WHAT 'ARG'" (or just WHAT) and the usage. */
static int usage_error(const char *what, const char *arg)
{
	if (arg)
		fprintf(stderr, CLI_PROG ": %s '%s'\n", what, arg);
	else
		fprintf(stderr, CLI_PROG ": %s\n", what);
	usage(stderr);
	return CLI_EXIT_USAGE;
}

/* The global options before the subcommand: "--name value",
 * "--name=value" or "--quiet". The index of the subcommand, or -1 after
 * an error (*status set). */
static int leading_globals(int argc, char **argv, cli_opts_t *g, int *status)
{
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *name = argv[i] + 2, *eq = strchr(argv[i], '=');
		char key[16];
		const char *value = NULL;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			*status = 0;
			return -1;
		}
		if (strncmp(argv[i], "--", 2) || (eq && (size_t)(eq - name) >= sizeof(key))) {
			*status = usage_error("unknown option", argv[i]);
			return -1;
		}
		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - name) : (int)strlen(name), name);
		if (eq)
			value = eq + 1;
		else if (strcmp(key, "quiet") && i + 1 < argc)
			value = argv[++i];
		if (cli_global(key, value, g)) {
			*status = usage_error("bad or unknown option", argv[i]);
			return -1;
		}
	}
	if (i == argc) {
		*status = usage_error("no command given", NULL);
		return -1;
	}
	return i;
}

int main(int argc, char **argv)
{
	cli_opts_t g = { .timeout_s = 60 };
	int status = CLI_EXIT_USAGE, i = leading_globals(argc, argv, &g, &status);

	if (i < 0)
		return status;
	for (size_t k = 0; k < NCOMMANDS; k++)
		if (strcmp(commands[k].name, argv[i]) == 0)
			return commands[k].run(&commands[k], &g, argc - i, argv + i);
	return usage_error("unknown command", argv[i]);
}
