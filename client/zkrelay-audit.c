/* zkrelay-audit: checks and extracts the relay's audit trail.
 *
 *   zkrelay-audit verify FILE
 *   zkrelay-audit export FILE --practice ID
 *
 * verify walks the whole hash chain and names the first bad line; export
 * verifies the chain first and then prints the entries that concern one
 * practice, so the practice can be told who reached its data-safes and
 * when. Exit status: 0 done, 1 the file does not verify or cannot be read
 * or written, 2 a usage error. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "hashchain.h"
#include "ident.h"
#include "zkerr.h"

#define PROG "zkrelay-audit"
#define EXIT_USAGE 2
#define ERRLEN 512

typedef struct command {
	const char *name;
	int (*run)(const struct command *c, int argc, char **argv);
	const char *synopsis; /* after "zkrelay-audit NAME " */
	const char *summary;  /* one line for the command list */
	const char *help;     /* the rest of NAME --help */
} command_t;

static int cmd_verify(const command_t *c, int argc, char **argv);
static int cmd_export(const command_t *c, int argc, char **argv);

static const command_t commands[] = {
	{ "verify", cmd_verify, "FILE", "check the hash chain of an audit file",
	  "Walks FILE line by line: each line must be a JSON object whose \"seq\" is one\n"
	  "more than the line before and whose \"prev\" is the SHA-256 of the line before.\n"
	  "Prints \"OK: N entries, chain intact\", or names the first bad line and why and\n"
	  "exits 1.\n" },
	{ "export", cmd_export, "FILE --practice ID",
	  "print the entries that concern one practice",
	  "Verifies the whole chain of FILE first (nothing is printed if it does not\n"
	  "verify), then prints, one JSON line each and exactly as in the file, the\n"
	  "entries whose \"practice\" is ID or whose \"peer\" is an address of practice\n"
	  "ID: who connected to, was admitted to, or was refused at ID's data-safes,\n"
	  "and when.\n"
	  "\n"
	  "  --practice ID   the practice id, [a-z0-9][a-z0-9._-]{0,63}\n" },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'" PROG " COMMAND --help' describes one command.\n");
}

static void command_usage(const command_t *c, FILE *f, int full)
{
	fprintf(f, "usage: " PROG " %s %s\n", c->name, c->synopsis);
	if (full)
		fprintf(f, "\n%s", c->help);
}

static const command_t *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

/* An option getopt_long refused: names it, shows the usage, returns 2. */
static int bad_option(const command_t *c, int opt, char **argv)
{
	const char *arg = argv[optind - 1];

	if (opt == ':')
		fprintf(stderr, PROG " %s: option '%s' needs a value\n", c->name, arg);
	else
		fprintf(stderr, PROG " %s: unknown option '%s'\n", c->name, arg);
	command_usage(c, stderr, 0);
	return EXIT_USAGE;
}

static int cmd_verify(const command_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	char err[ERRLEN] = "";
	uint64_t lines = 0;
	int o;

	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (o == 'h') {
			command_usage(c, stdout, 1);
			return 0;
		}
		return bad_option(c, o, argv);
	}
	if (argc - optind != 1) {
		command_usage(c, stderr, 0);
		return EXIT_USAGE;
	}
	if (hashchain_verify_file(argv[optind], &lines, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	printf("OK: %llu entries, chain intact\n", (unsigned long long)lines);
	return 0;
}

static int cmd_export(const command_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "practice", required_argument, NULL, 'p' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *practice = NULL;
	char err[ERRLEN] = "";
	int o;

	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (o) {
		case 'p': practice = optarg; break;
		case 'h': command_usage(c, stdout, 1); return 0;
		default: return bad_option(c, o, argv);
		}
	}
	if (argc - optind != 1 || !practice) {
		command_usage(c, stderr, 0);
		return EXIT_USAGE;
	}
	if (!ident_id_ok(practice, strlen(practice))) {
		fprintf(stderr, PROG " export: '%s' is not a practice id\n", practice);
		return EXIT_USAGE;
	}
	if (audit_export(argv[optind], practice, stdout, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const command_t *c;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, PROG ": unknown command '%s'\n", argv[1]);
		usage(stderr);
		return EXIT_USAGE;
	}
	return c->run(c, argc - 1, argv + 1);
}
