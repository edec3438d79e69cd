/* zkrelay-safe: the reference data-safe agent of a practice.
 *
 *   zkrelay-safe keygen --out FILE
 *   zkrelay-safe pubkey --key FILE
 *   zkrelay-safe run -c CONF
 *   zkrelay-safe enroll -c CONF --client ADDR --client-key B64 --client-cert CRT ...
 *   zkrelay-safe audit-verify FILE
 *
 * Exit status: 0 done, 1 failed, 64 a usage error. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "safe.h"

static const safe_cmd_t commands[] = {
	{ "keygen", safe_cmd_keygen, "--out FILE", "make a new end-to-end static key",
	  "Writes a fresh X25519 private key to FILE (base64url, mode 0600; an existing\n"
	  "FILE is never overwritten) and prints its public key (base64url) on stdout.\n" },
	{ "pubkey", safe_cmd_pubkey, "--key FILE", "print the public key of a static key file",
	  "Prints the base64url X25519 public key of the private key in FILE.\n" },
	{ "run", safe_cmd_run, "-c CONF", "run the agent in the foreground",
	  "Connects out to the relay with the data-safe's certificate, accepts the\n"
	  "end-to-end sessions of enrolled clients and answers their list, get, put and\n"
	  "token requests from the store, checking every request's grant and auditing it.\n"
	  "Logs are JSON lines on stderr; \"safe_ready\" is logged when the relay first\n"
	  "welcomes the agent. SIGTERM or SIGINT stop it (exit 0).\n" },
	{ "enroll", safe_cmd_enroll,
	  "-c CONF --client ADDR --client-key B64 --client-cert CRT\n"
	  "                    [--patient ID] [--grant-days N] [--token-seconds N] [--out FILE]",
	  "write a client's enrollment file",
	  "Issues a grant (default 90 days; --patient limits it to one patient) and a\n"
	  "relay access token (default 3600 s, at most 3600) for the client ADDR, whose\n"
	  "end-to-end public key is B64 and whose certificate is CRT, and writes the\n"
	  "enrollment file to FILE (mode 0600) or stdout. Hand it to the client over a\n"
	  "channel you trust: it carries the data-safe's key the client will pin.\n" },
	{ "audit-verify", safe_cmd_audit_verify, "FILE", "check the audit file's hash chain",
	  "Prints \"ok: N entries\" if every line of FILE links to the one before, or\n"
	  "names the first bad line (\"FILE:LINE: why\") and exits 1.\n" },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: " SAFE_PROG " COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'" SAFE_PROG " COMMAND --help' describes one command.\n");
}

void safe_usage(const safe_cmd_t *c, FILE *f, int full)
{
	fprintf(f, "usage: " SAFE_PROG " %s %s\n", c->name, c->synopsis);
	if (full)
		fprintf(f, "\n%s", c->help);
}

int safe_bad_option(const safe_cmd_t *c, int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		fprintf(stderr, SAFE_PROG " %s: option '%s' needs a value\n", c->name, arg);
	else
		fprintf(stderr, SAFE_PROG " %s: unknown option '%s'\n", c->name, arg);
	safe_usage(c, stderr, 0);
	return SAFE_EXIT_USAGE;
}

int safe_usage_error(const safe_cmd_t *c, const char *why)
{
	fprintf(stderr, SAFE_PROG " %s: %s\n", c->name, why);
	safe_usage(c, stderr, 0);
	return SAFE_EXIT_USAGE;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return SAFE_EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, argv[1]) == 0)
			return commands[i].run(&commands[i], argc - 1, argv + 1);
	fprintf(stderr, SAFE_PROG ": unknown command '%s'\n", argv[1]);
	usage(stderr);
	return SAFE_EXIT_USAGE;
}
