/* init and pubkey: the state directory and our end-to-end key. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "keyfile.h"
#include "state.h"
#include "zkrelay.h"

typedef struct {
	const char *cert, *key, *ca;
} init_args_t;

static int init_opt(void *arg, int o, const char *value)
{
	init_args_t *a = arg;

	switch (o) {
	case 'c': a->cert = value; break;
	case 'k': a->key = value; break;
	case 'a': a->ca = value; break;
	}
	return 0;
}

static int print_pub(const cli_cmd_t *c, const uint8_t pub[ZKR_KEY_LEN])
{
	char b64[KEYFILE_B64 + 1];

	if (keyfile_encode_pub(pub, b64))
		return cli_fail(c, CLI_EXIT_FAIL, "cannot encode the public key");
	printf("%s\n", b64);
	return fflush(stdout) ? cli_fail(c, CLI_EXIT_FAIL, "stdout: write failed") : 0;
}

int cli_cmd_init(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv)
{
	static const struct option opts[] = { { "cert", required_argument, NULL, 'c' },
					      { "key", required_argument, NULL, 'k' },
					      { "ca", required_argument, NULL, 'a' },
					      { 0 } };
	init_args_t a = { 0 };
	uint8_t pub[ZKR_KEY_LEN];
	char dir[PATH_MAX], err[CLI_ERRLEN];
	int rc = cli_getopt(c, g, argc, argv, NULL, opts, init_opt, &a, 0, 0);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (!a.cert || !a.key || !a.ca)
		return cli_usage_error(c, "--cert, --key and --ca are needed");
	if (state_dir(g->state, dir, sizeof(dir)))
		return cli_fail(c, CLI_EXIT_FAIL, "no state directory (set --state or $HOME)");
	if (state_init(dir, a.cert, a.key, a.ca, pub, err, sizeof(err)))
		return cli_fail(c, CLI_EXIT_FAIL, "%s", err);
	return print_pub(c, pub);
}

int cli_cmd_pubkey(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv)
{
	uint8_t pub[ZKR_KEY_LEN];
	char dir[PATH_MAX], err[CLI_ERRLEN];
	int rc = cli_getopt(c, g, argc, argv, NULL, NULL, NULL, NULL, 0, 0);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (state_dir(g->state, dir, sizeof(dir)))
		return cli_fail(c, CLI_EXIT_FAIL, "no state directory (set --state or $HOME)");
	if (state_public_key(dir, pub, err, sizeof(err)))
		return cli_fail(c, CLI_EXIT_FAIL, "%s", err);
	return print_pub(c, pub);
}
