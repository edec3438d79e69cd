/* run: the agent in the foreground until a signal stops it. */
#include <getopt.h>
#include <stdio.h>

#include "agent.h"
#include "safe.h"
#include "safecfg.h"

int safe_cmd_run(const safe_cmd_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "config", required_argument, NULL, 'c' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	const char *conf = NULL;
	char err[SAFE_ERRLEN] = "";
	safecfg_t cfg;
	int o;

	while ((o = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
		if (o == 'h') {
			safe_usage(c, stdout, 1);
			return 0;
		}
		if (o != 'c')
			return safe_bad_option(c, o, argv);
		conf = optarg;
	}
	if (!conf || optind != argc)
		return safe_usage_error(c, "-c CONF is needed, and nothing else");
	if (safecfg_load(conf, &cfg, err, sizeof(err)) || agent_run(&cfg, err, sizeof(err))) {
		fprintf(stderr, SAFE_PROG " run: %s\n", err);
		return SAFE_EXIT_FAIL;
	}
	return 0;
}
