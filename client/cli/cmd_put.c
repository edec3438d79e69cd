/* put: a file as a new document. The file is hashed first, then read
 * straight into the request (one copy in memory however large it is),
 * and hashed again on the way: a file that changed in between is not
 * sent under a hash it no longer has. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "name.h"
#include "request.h"

#define CHUNK 65536u

typedef struct {
	const cli_cmd_t *c;
	const char *path;
	const char *name;
	uint8_t sha[32];
	uint64_t size;
} put_t;

/* SHA-256 and size of the file at path. 0 or an exit status. */
static int hash_file(put_t *a)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t buf[CHUNK];
	FILE *f = fopen(a->path, "rb");
	uint64_t total = 0;
	size_t n;
	int rc = CLI_EXIT_FAIL;

	if (!f) {
		cli_fail(a->c, rc, "%s: %s", a->path, strerror(errno));
		goto out;
	}
	if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (EVP_DigestUpdate(md, buf, n) != 1)
			goto out;
		total += n;
	}
	if (ferror(f)) {
		cli_fail(a->c, rc, "%s: read error", a->path);
		goto out;
	}
	if (EVP_DigestFinal_ex(md, a->sha, NULL) != 1)
		goto out;
	a->size = total;
	rc = 0;
out:
	if (f)
		fclose(f);
	EVP_MD_CTX_free(md);
	return rc;
}

static int fill(void *arg, uint8_t *dst, size_t n)
{
	const put_t *a = arg;
	uint8_t sha[32], extra;
	FILE *f = fopen(a->path, "rb");
	int rc = CLI_EXIT_FAIL;

	if (!f)
		return cli_fail(a->c, rc, "%s: %s", a->path, strerror(errno));
	if (fread(dst, 1, n, f) == n && fread(&extra, 1, 1, f) == 0 &&
	    EVP_Digest(dst, n, sha, NULL, EVP_sha256(), NULL) == 1 &&
	    CRYPTO_memcmp(sha, a->sha, sizeof(sha)) == 0)
		rc = 0;
	else
		cli_fail(a->c, rc, "%s: changed while being read", a->path);
	fclose(f);
	return rc;
}

static int check(void *arg, const docproto_resp_t *r)
{
	const put_t *a = arg;

	if (r->size != a->size || CRYPTO_memcmp(r->sha256, a->sha, sizeof(a->sha)))
		return cli_fail(a->c, CLI_EXIT_FAIL,
				"checksum mismatch: the data-safe stored other bytes");
	return 0;
}

static int put_opt(void *arg, int o, const char *value)
{
	put_t *a = arg;

	if (o == 'n')
		a->name = value;
	return 0;
}

int cli_cmd_put(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv)
{
	static const struct option opts[] = { { "name", required_argument, NULL, 'n' },
					      { 0 } };
	char base[PATH_MAX];
	put_t a = { .c = c };
	request_t req = { .op = DOCPROTO_PUT, .fill = fill, .done = check, .arg = &a,
			  .label = "put", .progress_in = 0 };
	int rc = cli_getopt(c, g, argc, argv, NULL, opts, put_opt, &a, 2, 2);

	if (rc)
		return rc < 0 ? 0 : rc;
	req.patient = argv[optind];
	a.path = argv[optind + 1];
	if (!name_doc_ok_str(req.patient))
		return cli_usage_error(c, "PATIENT is not a valid patient id");
	if (!a.name) {
		snprintf(base, sizeof(base), "%s", a.path);
		a.name = basename(base);
	}
	if (!name_doc_ok_str(a.name))
		return cli_usage_error(c, "the document name must match [A-Za-z0-9][A-Za-z0-9._-]* "
					  "(use --name)");
	rc = hash_file(&a);
	if (rc)
		return rc;
	req.doc = a.name;
	memcpy(req.sha256, a.sha, sizeof(a.sha));
	req.body_len = (size_t)a.size;
	return request_run(c, g, &req);
}
