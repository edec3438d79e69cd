/* enroll: imports the enrollment file a data-safe wrote for us.
 *
 * The grant cannot be verified here (only the data-safe holds the
 * practice key), but it can be checked to be ours: issued for our public
 * key, our address and the data-safe named beside it. A file meant for
 * another client is refused now rather than failing at every request. */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "enroll.h"
#include "grant.h"
#include "state.h"
#include "zkrelay.h"

static int check_grant(const cli_cmd_t *c, const enroll_t *e, const uint8_t pub[ZKR_KEY_LEN])
{
	grant_t g;

	if (grant_inspect(e->grant, strlen(e->grant), &g))
		return cli_fail(c, CLI_EXIT_FAIL, "the enrollment's grant is malformed");
	if (CRYPTO_memcmp(g.e2e, pub, ZKR_KEY_LEN))
		return cli_fail(c, CLI_EXIT_FAIL,
				"the grant is for another end-to-end key than ours (see pubkey)");
	if (strcmp(g.sub, e->client) || strcmp(g.safe, e->safe) || strcmp(g.iss, e->practice) ||
	    strcmp(g.patient, e->patient))
		return cli_fail(c, CLI_EXIT_FAIL,
				"the grant does not match the enrollment's client, data-safe, "
				"practice or patient");
	return 0;
}

int cli_cmd_enroll(const cli_cmd_t *c, cli_opts_t *g, int argc, char **argv)
{
	uint8_t pub[ZKR_KEY_LEN];
	char dir[PATH_MAX], err[CLI_ERRLEN] = "";
	enroll_t *e = NULL;
	int rc = cli_getopt(c, g, argc, argv, NULL, NULL, NULL, NULL, 1, 1);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (state_dir(g->state, dir, sizeof(dir)))
		return cli_fail(c, CLI_EXIT_FAIL, "no state directory (set --state or $HOME)");
	if (state_public_key(dir, pub, err, sizeof(err)))
		return cli_fail(c, CLI_EXIT_FAIL, "%s", err);
	e = calloc(1, sizeof(*e));
	if (!e)
		return cli_fail(c, CLI_EXIT_FAIL, "out of memory");
	rc = CLI_EXIT_FAIL;
	if (enroll_read(argv[optind], e, err, sizeof(err)))
		cli_fail(c, rc, "%s", err);
	else if (check_grant(c, e, pub) == 0 &&
		 state_write_enrollment(dir, e, err, sizeof(err)) == 0)
		rc = 0;
	else if (err[0])
		cli_fail(c, rc, "%s", err);
	if (rc == 0)
		fprintf(stderr, CLI_PROG " enroll: enrolled as %s with %s%s%s\n", e->client, e->safe,
			e->patient[0] ? ", patient " : "", e->patient);
	zkr_wipe(e, sizeof(*e));
	free(e);
	return rc;
}
