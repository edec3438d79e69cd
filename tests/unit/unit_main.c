/* Runs every unit suite, each test in its own process (CK_FORK), so a
 * crash fails one test instead of the run. CK_RUN_SUITE=name and
 * CK_RUN_CASE=name select a subset. */
#include <stddef.h>
#include <stdlib.h>

#include "suites.h"

/* One line per suite; add new suites here and in suites.h. */
static Suite *(*const suites[])(void) = {
	audit_suite,
	b64url_suite,
	buf_suite,
	config_suite,
	crlset_suite,
	docfile_suite,
	docproto_suite,
	e2e_session_suite,
	hashchain_suite,
	ident_suite,
	iplimit_suite,
	metrics_suite,
	guard_suite,
	noise_suite,
	paseto_suite,
	practice_suite,
	privdrop_suite,
	queue_suite,
	ratelimit_suite,
	registry_suite,
	route_suite,
	sandbox_suite,
	tlsout_suite,
	token_suite,
	wire_suite,
	wsclient_suite,
	zkerr_suite,
};

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

	for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
