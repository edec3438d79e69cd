/* ls: one line per document, NAME<TAB>SIZE<TAB>SHA256. */
#include <stdio.h>

#include "cli.h"
#include "name.h"
#include "request.h"

static int print_list(void *arg, const docproto_resp_t *r)
{
	const cli_cmd_t *c = arg;
	char hex[DOCPROTO_SHA256_HEX + 1];

	for (size_t i = 0; i < r->ndocs; i++) {
		docproto_hex(r->docs[i].sha256, hex);
		printf("%s\t%llu\t%s\n", r->docs[i].name, (unsigned long long)r->docs[i].size, hex);
	}
	return fflush(stdout) ? cli_fail(c, CLI_EXIT_FAIL, "stdout: write failed") : 0;
}

int cli_cmd_ls(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv)
{
	request_t req = { .op = DOCPROTO_LIST, .done = print_list, .arg = (void *)c,
			  .label = "ls", .progress_in = 1 };
	int rc = cli_getopt(c, g, argc, argv, NULL, NULL, NULL, NULL, 0, 1);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (optind < argc) {
		req.patient = argv[optind];
		if (!name_doc_ok_str(req.patient))
			return cli_usage_error(c, "PATIENT is not a valid patient id");
	}
	return request_run(c, g, &req);
}
