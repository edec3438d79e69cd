/* Data-safes are admitted by certificate plus registry entry: practice
 * active, endpoint registered, certificate SPKI equal to the pin. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "itest.h"

#define R_NOT_AUTHORIZED ZKRELAY__V1__REASON__REASON_NOT_AUTHORIZED

/* Connects and says hello; the relay must answer Close{reason}. */
static void expect_refused_hello(harness_t *h, const char *practice, const char *endpoint,
				 int reason)
{
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, practice, endpoint);
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc == 0, "%s/%s: connect: %s", practice, endpoint, tclient_error(c));
	char want[32];
	rc = tclient_hello(c, "", NULL);
	snprintf(want, sizeof(want), "(reason %d)", reason);
	ck_assert_msg(rc == TCLIENT_EUNEXPECTED && strstr(tclient_error(c), want),
		      "%s/%s: hello gave %d (%s), expected Close%s", practice, endpoint, rc,
		      tclient_error(c), want);
	ck_assert_msg(harness_log_wait(h, WAIT_MS, "\"event\":\"frame_refused\"",
				       "\"reason\":\"not_authorized\"", NULL),
		      "no not_authorized refusal in the relay log");
	tclient_free(c);
}

/* A new certificate for a registered data-safe id (a new key, so a new
 * SPKI) does not match the pin the registry holds. */
START_TEST(test_safe_pin_mismatch)
{
	harness_t *h = harness_new("pin");
	tclient_t *good;

	ck_assert_ptr_nonnull(h);
	/* safe-2 of practice-a is registered (registry rebuilt after it was
	 * issued), then its certificate is replaced behind the registry's
	 * back. */
	ck_assert_int_eq(harness_pki(h, "issue", "practice-a", "safe", "safe-2", NULL), 0);
	ck_assert_int_eq(harness_registry(h), 0);
	ck_assert_int_eq(harness_pki(h, "issue", "practice-a", "safe", "safe-2", NULL), 0);
	START(h);
	expect_refused_hello(h, "practice-a", "safe-2", R_NOT_AUTHORIZED);
	/* The registered safe-1 is still admitted. */
	ENDPOINT(good, h, "practice-a", "safe-1");
	tclient_free(good);
	harness_free(h);
}
END_TEST

/* A data-safe certificate the CA issued but the registry does not list. */
START_TEST(test_safe_unregistered)
{
	harness_t *h = harness_new("unreg");

	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(harness_pki(h, "issue", "practice-b", "safe", "safe-9", NULL), 0);
	START(h);
	expect_refused_hello(h, "practice-b", "safe-9", R_NOT_AUTHORIZED);
	harness_free(h);
}
END_TEST

Suite *safes_suite(void)
{
	Suite *s = suite_create("safes");
	TCase *tc = tcase_create("safes");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_safe_pin_mismatch);
	tcase_add_test(tc, test_safe_unregistered);
	suite_add_tcase(s, tc);
	return s;
}
