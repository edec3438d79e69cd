/* Integration tests: the real relay process, real TLS, real WebSocket.
 *
 * Run with "make check-integration" (it sets ZKRELAY_BIN and
 * ZK_PKI_SCRIPT). Each test runs in its own process with its own relay and
 * its own copy of the dev PKI. The usual Check variables select a part:
 * CK_RUN_SUITE=route, CK_RUN_CASE=..., CK_VERBOSITY=verbose. */
#include <stdlib.h>

#include "itest.h"

int main(void)
{
	SRunner *sr;
	int failed;

	if (harness_global_init() < 0)
		return EXIT_FAILURE;
	sr = srunner_create(tls_suite());
	srunner_add_suite(sr, ws_suite());
	srunner_add_suite(sr, route_suite());
	srunner_add_suite(sr, delivery_suite());
	srunner_add_suite(sr, lifecycle_suite());
	srunner_add_suite(sr, limits_suite());
	srunner_add_suite(sr, timeouts_suite());
	srunner_add_suite(sr, caps_suite());
	srunner_add_suite(sr, reload_suite());
	srunner_add_suite(sr, tokens_suite());
	srunner_add_suite(sr, access_reload_suite());
	srunner_add_suite(sr, ops_suite());
	srunner_add_suite(sr, safes_suite());
	srunner_add_suite(sr, ops_tls_suite());
	srunner_add_suite(sr, plaintext_suite());
	srunner_add_suite(sr, downgrade_suite());
	srunner_add_suite(sr, abuse_suite());
	srunner_add_suite(sr, link_suite());
	srunner_add_suite(sr, e2e_suite());
	srunner_add_suite(sr, sdk_suite());
	srunner_add_suite(sr, ratelimit_suite());
	srunner_add_suite(sr, upgrade_suite());
	srunner_add_suite(sr, privileges_suite());
	/* Every test forks: a relay and its clients never outlive the test
	 * that started them, and one test's crash cannot hide another's. */
	srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	harness_global_cleanup(failed > 0);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
