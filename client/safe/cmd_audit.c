/* audit-verify: checks the hash chain of the data-safe's audit file. */
#include <getopt.h>
#include <stdio.h>

#include "accesslog.h"
#include "safe.h"

int safe_cmd_audit_verify(const safe_cmd_t *c, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	char err[SAFE_ERRLEN] = "";
	unsigned long long n = 0;
	int o;

	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (o == 'h') {
			safe_usage(c, stdout, 1);
			return 0;
		}
		return safe_bad_option(c, o, argv);
	}
	if (argc - optind != 1)
		return safe_usage_error(c, "exactly one audit file is needed");
	if (accesslog_verify(argv[optind], &n, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return SAFE_EXIT_FAIL;
	}
	printf("ok: %llu entries\n", n);
	return 0;
}
