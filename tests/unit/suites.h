/* Check suites of the unit test binary. Each module's test file defines
 * one constructor here; unit_main.c lists them all. */
#ifndef ZK_TEST_SUITES_H
#define ZK_TEST_SUITES_H

#include <check.h>

Suite *audit_suite(void);
Suite *b64url_suite(void);
Suite *buf_suite(void);
Suite *config_suite(void);
Suite *crlset_suite(void);
Suite *docfile_suite(void);
Suite *docproto_suite(void);
Suite *e2e_session_suite(void);
Suite *hashchain_suite(void);
Suite *ident_suite(void);
Suite *iplimit_suite(void);
Suite *metrics_suite(void);
Suite *guard_suite(void);
Suite *noise_suite(void);
Suite *paseto_suite(void);
Suite *practice_suite(void);
Suite *privdrop_suite(void);
Suite *queue_suite(void);
Suite *ratelimit_suite(void);
Suite *registry_suite(void);
Suite *route_suite(void);
Suite *sandbox_suite(void);
Suite *tlsout_suite(void);
Suite *token_suite(void);
Suite *wire_suite(void);
Suite *wsclient_suite(void);
Suite *zkerr_suite(void);

#endif
