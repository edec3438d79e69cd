/* Option parsing shared by every subcommand: the global options mixed
 * with the command's own, in one getopt_long pass. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Option codes of the global options, outside any character range. */
enum { G_STATE = 1000, G_TIMEOUT, G_QUIET, G_HELP };
#define MAX_OPTS 16
#define MAX_TIMEOUT_S 86400u

static const struct option globals[] = {
	{ "state", required_argument, NULL, G_STATE },
	{ "timeout", required_argument, NULL, G_TIMEOUT },
	{ "quiet", no_argument, NULL, G_QUIET },
	{ "help", no_argument, NULL, G_HELP },
};
#define NGLOBALS (sizeof(globals) / sizeof(globals[0]))

int cli_global(const char *name, const char *value, cli_opts_t *g)
{
	char *end;
	unsigned long t;

	if (strcmp(name, "state") == 0) {
		if (!value || !*value)
			return -1;
		g->state = value;
		return 0;
	}
	if (strcmp(name, "timeout") == 0) {
		if (!value || *value < '0' || *value > '9')
			return -1;
		t = strtoul(value, &end, 10);
		if (*end || t < 1 || t > MAX_TIMEOUT_S)
			return -1;
		g->timeout_s = (unsigned)t;
		return 0;
	}
	if (strcmp(name, "quiet") == 0) {
		g->quiet = 1;
		return 0;
	}
	return -1;
}

void cli_usage(const cli_cmd_t *c, FILE *f, int full)
{
	fprintf(f, "usage: " CLI_PROG " [--state DIR] %s %s\n", c->name, c->synopsis);
	if (full)
		fprintf(f, "\n%s\nGlobal options: --state DIR, --timeout SECONDS (default 60), "
			   "--quiet.\n",
			c->help);
}

int cli_usage_error(const cli_cmd_t *c, const char *why)
{
	fprintf(stderr, CLI_PROG " %s: %s\n", c->name, why);
	cli_usage(c, stderr, 0);
	return CLI_EXIT_USAGE;
}

int cli_fail(const cli_cmd_t *c, int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, CLI_PROG " %s: ", c->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

static int bad_option(const cli_cmd_t *c, int opt, char **argv)
{
	char why[300];

	snprintf(why, sizeof(why), opt == ':' ? "option '%s' needs a value" : "unknown option '%s'",
		 argv[optind - 1]);
	return cli_usage_error(c, why);
}

/* The global option with code o, applied to g. */
static int apply_global(const cli_cmd_t *c, cli_opts_t *g, int o, const char *value)
{
	char why[300];

	if (cli_global(globals[o - G_STATE].name, value, g) == 0)
		return 0;
	snprintf(why, sizeof(why), "--%s: invalid value '%s'", globals[o - G_STATE].name,
		 value ? value : "");
	return cli_usage_error(c, why);
}

int cli_getopt(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv, const char *shortopts,
	       const struct option *own, cli_opt_cb cb, void *arg, int nmin, int nmax)
{
	struct option all[MAX_OPTS + NGLOBALS + 1];
	char so[32];
	size_t n = 0;
	int o, rc;

	for (; own && own[n].name && n < MAX_OPTS; n++)
		all[n] = own[n];
	memcpy(all + n, globals, sizeof(globals));
	memset(&all[n + NGLOBALS], 0, sizeof(all[0]));
	/* Options and operands mix ("get p-1 doc -o out"); the leading ':'
	 * tells a missing value from an unknown option. */
	snprintf(so, sizeof(so), ":%s", shortopts ? shortopts : "");
	optind = 1;
	while ((o = getopt_long(argc, argv, so, all, NULL)) != -1) {
		if (o == G_HELP) {
			cli_usage(c, stdout, 1);
			return -1;
		}
		if (o >= G_STATE && o < G_HELP)
			rc = apply_global(c, g, o, optarg);
		else if (o == '?' || o == ':')
			rc = bad_option(c, o, argv);
		else
			rc = cb ? cb(arg, o, optarg) : bad_option(c, '?', argv);
		if (rc)
			return rc;
	}
	if (argc - optind < nmin || argc - optind > nmax)
		return cli_usage_error(c, argc - optind < nmin ? "missing operand"
							       : "too many operands");
	return 0;
}
