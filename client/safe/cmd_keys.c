/* keygen and pubkey: the data-safe's end-to-end static key. */
#include <getopt.h>
#include <stdio.h>

#include "keyfile.h"
#include "safe.h"
#include "zkrelay.h"

/* Parses the one "--NAME FILE" option both commands take. 0 and *path,
 * -1 after --help, or SAFE_EXIT_USAGE. */
static int one_file_option(const safe_cmd_t *c, int argc, char **argv, const char *name,
			   const char **path)
{
	const struct option opts[] = { { name, required_argument, NULL, 'f' },
				       { "help", no_argument, NULL, 'h' },
				       { 0 } };
	int o;

	*path = NULL;
	while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (o == 'h') {
			safe_usage(c, stdout, 1);
			return -1;
		}
		if (o != 'f')
			return safe_bad_option(c, o, argv);
		*path = optarg;
	}
	if (!*path || optind != argc)
		return safe_usage_error(c, "exactly one key file is needed");
	return 0;
}

static int print_pub(const uint8_t pub[ZKR_KEY_LEN])
{
	char b64[KEYFILE_B64 + 1];

	if (keyfile_encode_pub(pub, b64))
		return SAFE_EXIT_FAIL;
	printf("%s\n", b64);
	return fflush(stdout) == 0 ? 0 : SAFE_EXIT_FAIL;
}

int safe_cmd_keygen(const safe_cmd_t *c, int argc, char **argv)
{
	uint8_t priv[ZKR_KEY_LEN], pub[ZKR_KEY_LEN];
	char err[SAFE_ERRLEN];
	const char *path;
	int rc = one_file_option(c, argc, argv, "out", &path);

	if (rc)
		return rc < 0 ? 0 : rc;
	rc = SAFE_EXIT_FAIL;
	if (zkr_keygen(priv, pub)) {
		fprintf(stderr, SAFE_PROG " keygen: cannot generate a key\n");
		goto out;
	}
	if (keyfile_create(path, priv, err, sizeof(err))) {
		fprintf(stderr, SAFE_PROG " keygen: %s\n", err);
		goto out;
	}
	rc = print_pub(pub);
out:
	zkr_wipe(priv, sizeof(priv));
	return rc;
}

int safe_cmd_pubkey(const safe_cmd_t *c, int argc, char **argv)
{
	uint8_t priv[ZKR_KEY_LEN], pub[ZKR_KEY_LEN];
	char err[SAFE_ERRLEN];
	const char *path;
	int rc = one_file_option(c, argc, argv, "key", &path);

	if (rc)
		return rc < 0 ? 0 : rc;
	rc = SAFE_EXIT_FAIL;
	if (keyfile_read(path, priv, err, sizeof(err))) {
		fprintf(stderr, SAFE_PROG " pubkey: %s\n", err);
		goto out;
	}
	if (zkr_public_key(priv, pub) == 0)
		rc = print_pub(pub);
out:
	zkr_wipe(priv, sizeof(priv));
	return rc;
}
