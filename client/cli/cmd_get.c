/* get: a document, checked against its SHA-256 before any byte of it is
 * written, then written whole: to a temporary file renamed into place,
 * or to stdout. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "file.h"
#include "name.h"
#include "request.h"

typedef struct {
	const cli_cmd_t *c;
	const char *out; /* "-": stdout */
} get_t;

static int write_stdout(const get_t *a, const uint8_t *p, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t w = write(STDOUT_FILENO, p + done, n - done);
		if (w < 0)
			return cli_fail(a->c, CLI_EXIT_FAIL, "stdout: write failed");
		done += (size_t)w;
	}
	return 0;
}

static int save(void *arg, const docproto_resp_t *r)
{
	const get_t *a = arg;
	uint8_t sha[32];
	char err[CLI_ERRLEN];

	if (EVP_Digest(r->body, r->body_len, sha, NULL, EVP_sha256(), NULL) != 1 ||
	    CRYPTO_memcmp(sha, r->sha256, sizeof(sha)))
		return cli_fail(a->c, CLI_EXIT_FAIL, "checksum mismatch: the document was not "
						     "written");
	if (strcmp(a->out, "-") == 0)
		return write_stdout(a, r->body, r->body_len);
	if (file_replace(a->out, r->body, r->body_len, 0600, err, sizeof(err)))
		return cli_fail(a->c, CLI_EXIT_FAIL, "%s", err);
	return 0;
}

static int get_opt(void *arg, int o, const char *value)
{
	get_t *a = arg;

	if (o == 'o')
		a->out = value;
	return 0;
}

int cli_cmd_get(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv)
{
	static const struct option opts[] = { { "output", required_argument, NULL, 'o' },
					      { 0 } };
	get_t a = { .c = c };
	request_t req = { .op = DOCPROTO_GET, .done = save, .arg = &a, .label = "get",
			  .progress_in = 1 };
	int rc = cli_getopt(c, g, argc, argv, "o:", opts, get_opt, &a, 2, 2);

	if (rc)
		return rc < 0 ? 0 : rc;
	req.patient = argv[optind];
	req.doc = argv[optind + 1];
	if (!name_doc_ok_str(req.patient))
		return cli_usage_error(c, "PATIENT is not a valid patient id");
	if (!name_doc_ok_str(req.doc))
		return cli_usage_error(c, "DOC is not a valid document name");
	if (!a.out)
		a.out = req.doc; /* a valid name is a safe file name here */
	return request_run(c, g, &req);
}
