/* Helpers several suites share. */
#include <check.h>

#include "harness.h"
#include "itest.h"

tclient_t *itest_tcp_only(harness_t *h)
{
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, NULL, NULL);
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect_tcp(c);
	ck_assert_msg(rc == 0, "TCP connect: %d (%s)", rc, tclient_error(c));
	return c;
}

/* Connects as practice/endpoint, retrying for up to timeout_ms while the
 * relay may still count a connection that was just closed. */
tclient_t *itest_endpoint_retry(harness_t *h, const char *practice, const char *endpoint,
				 int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		int rc;
		tclient_t *c = harness_endpoint(h, practice, endpoint, &rc);

		ck_assert_ptr_nonnull(c);
		if (rc == 0)
			return c;
		ck_assert_msg(harness_now_ms() < deadline, "%s/%s still refused: %d (%s)", practice,
			      endpoint, rc, tclient_error(c));
		tclient_free(c);
		harness_sleep_ms(100);
	}
}

/* Connected (TLS, WebSocket) as the endpoint, before hello. */
tclient_t *itest_open_conn(harness_t *h, const char *practice, const char *endpoint)
{
	tclient_opts_t o;
	tclient_t *c;
	int rc;

	harness_client_opts(h, &o, practice, endpoint);
	c = tclient_new(&o);
	ck_assert_ptr_nonnull(c);
	rc = tclient_connect(c);
	ck_assert_msg(rc == 0, "%s/%s: connect: %d (%s)", practice, endpoint, rc, tclient_error(c));
	return c;
}
