/* TLS profile and client-certificate identity (DESIGN.md, "TLS profile"
 * and "Identities"): TLS 1.3 only, a client certificate from the relay CA
 * is required, it must be valid, unrevoked and carry exactly one zkrelay
 * URI SAN. Every refusal test has a certificate that is accepted beside
 * it, so a refusal cannot pass because nothing works at all. */
#include <openssl/ssl.h>

#include "itest.h"

/* A refused connection never reaches 101: TLS fails (an alert, which with
 * TLS 1.3 may only show once the client reads), or the relay ends the
 * connection, or it answers the upgrade with an error status. */
static void expect_refused(harness_t *h, const char *cert, const char *key, const char *what)
{
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, NULL, NULL);
	o.cert_file = cert;
	o.key_file = key;
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc != 0, "%s: accepted (TLS version %#x)", what, tclient_tls_version(c));
	ck_assert_msg(rc == TCLIENT_ETLS || rc == TCLIENT_ECLOSED || rc == TCLIENT_EUPGRADE,
		      "%s: unexpected failure %d (%s)", what, rc, tclient_error(c));
	if (rc == TCLIENT_EUPGRADE)
		ck_assert_msg(tclient_http_status(c) != 101, "%s: got 101 (%s)", what,
			      tclient_error(c));
	tclient_free(c);
}

static void expect_accepted(harness_t *h, const char *practice, const char *endpoint)
{
	tclient_t *c;

	ENDPOINT(c, h, practice, endpoint);
	tclient_free(c);
}

static harness_t *started(const char *name)
{
	harness_t *h = harness_new(name);

	START(h);
	return h;
}

/* Issues a certificate before the relay starts; the script's own failure
 * must not pass as a refusal. */
#define ISSUE(h, ...)                                                                 \
	ck_assert_msg(harness_pki((h), "issue", __VA_ARGS__, NULL) == 0, "%s",        \
		      harness_error(h))

START_TEST(test_tls13_mutual)
{
	harness_t *h = started("tls13");
	tclient_t *c;

	ENDPOINT(c, h, "practice-a", "safe-1");
	ck_assert_int_eq(tclient_tls_version(c), TLS1_3_VERSION);
	tclient_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_tls12_refused)
{
	harness_t *h = started("tls12");
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, "practice-a", "client-1");
	o.min_version = TLS1_2_VERSION;
	o.max_version = TLS1_2_VERSION;
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc == TCLIENT_ETLS, "TLS 1.2: expected handshake failure, got %d (%s)", rc,
		      tclient_error(c));
	tclient_free(c);

	/* A client that offers 1.2 and 1.3 gets 1.3: no downgrade. */
	o.min_version = TLS1_2_VERSION;
	o.max_version = TLS1_3_VERSION;
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc == 0, "TLS 1.2-1.3: %d (%s)", rc, tclient_error(c));
	ck_assert_int_eq(tclient_tls_version(c), TLS1_3_VERSION);
	tclient_free(c);
	harness_free(h);
}
END_TEST

START_TEST(test_no_client_cert)
{
	harness_t *h = started("nocert");

	expect_refused(h, NULL, NULL, "no client certificate");
	expect_accepted(h, "practice-a", "client-1");
	harness_free(h);
}
END_TEST

START_TEST(test_other_ca)
{
	harness_t *h = harness_new("otherca");
	const char *dir = harness_path(h, "other");

	ck_assert_msg(harness_pki(h, "other-ca", dir, NULL) == 0, "%s", harness_error(h));
	START(h);
	expect_refused(h, harness_path(h, "other/practice-a/client-9.crt"),
		       harness_path(h, "other/practice-a/client-9.key"), "certificate of another CA");
	expect_accepted(h, "practice-a", "client-1");
	harness_free(h);
}
END_TEST

START_TEST(test_expired)
{
	harness_t *h = harness_new("expired");

	ISSUE(h, "practice-a", "client", "client-old", "--expired");
	ISSUE(h, "practice-a", "client", "client-new");
	START(h);
	expect_refused(h, harness_cert(h, "practice-a", "client-old"),
		       harness_key(h, "practice-a", "client-old"), "expired certificate");
	expect_accepted(h, "practice-a", "client-new");
	harness_free(h);
}
END_TEST

START_TEST(test_revoked)
{
	harness_t *h = harness_new("revoked");

	ck_assert_msg(harness_pki(h, "revoke", "practice-a", "client-2", NULL) == 0, "%s",
		      harness_error(h));
	START(h);
	expect_refused(h, harness_cert(h, "practice-a", "client-2"),
		       harness_key(h, "practice-a", "client-2"), "revoked certificate");
	expect_accepted(h, "practice-a", "client-1");
	harness_free(h);
}
END_TEST

START_TEST(test_no_san)
{
	harness_t *h = harness_new("nosan");

	ISSUE(h, "practice-a", "client", "client-nosan", "--no-san");
	START(h);
	expect_refused(h, harness_cert(h, "practice-a", "client-nosan"),
		       harness_key(h, "practice-a", "client-nosan"), "certificate without SAN");
	expect_accepted(h, "practice-a", "client-1");
	harness_free(h);
}
END_TEST

START_TEST(test_two_sans)
{
	harness_t *h = harness_new("twosans");

	ISSUE(h, "practice-a", "client", "client-two",
	      "--san", "zkrelay://practice/practice-a/client/client-two",
	      "--san", "zkrelay://practice/practice-a/client/client-1");
	START(h);
	expect_refused(h, harness_cert(h, "practice-a", "client-two"),
		       harness_key(h, "practice-a", "client-two"), "certificate with two SANs");
	expect_accepted(h, "practice-a", "client-1");
	harness_free(h);
}
END_TEST

/* The relay is authenticated too: a client that trusts another CA refuses
 * it. This checks the test client as much as the relay's certificate. */
START_TEST(test_server_verified)
{
	harness_t *h = harness_new("serververify");
	const char *dir = harness_path(h, "other");
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	ck_assert_msg(harness_pki(h, "other-ca", dir, NULL) == 0, "%s", harness_error(h));
	START(h);
	harness_client_opts(h, &o, "practice-a", "client-1");
	o.ca_file = harness_path(h, "other/ca.crt");
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc == TCLIENT_ETLS, "relay certificate accepted under another CA: %d (%s)",
		      rc, tclient_error(c));
	tclient_free(c);
	harness_free(h);
}
END_TEST

Suite *tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_tls13_mutual);
	tcase_add_test(tc, test_tls12_refused);
	tcase_add_test(tc, test_no_client_cert);
	tcase_add_test(tc, test_other_ca);
	tcase_add_test(tc, test_expired);
	tcase_add_test(tc, test_revoked);
	tcase_add_test(tc, test_no_san);
	tcase_add_test(tc, test_two_sans);
	tcase_add_test(tc, test_server_verified);
	suite_add_tcase(s, tc);
	return s;
}
