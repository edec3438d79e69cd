/* Only end-to-end records are carried: a payload that fails the plaintext
 * guard is nacked plaintext_refused, never delivered, and counted. */
#include <check.h>
#include <string.h>

#include "harness.h"
#include "itest.h"

#define R_PLAINTEXT ZKRELAY__V1__REASON__REASON_PLAINTEXT_REFUSED
#define SAFE_A "practice-a/safe-1"
#define CLIENT_A "practice-a/client-1"

START_TEST(test_plaintext_refused)
{
	static const char *const plain[] = {
		"{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Mustermann\"}],"
		"\"birthDate\":\"1970-01-01\"}",
		"MSH|^~\\&|PRAXIS|A|LAB|B|202611291200||ORU^R01|123|P|2.5\rPID|1||4711",
		"0123456789abcdef", /* 16 bytes of text: judged too */
		"short",            /* below a Noise tag: cannot be a record */
	};
	static uint8_t zeros[4096];
	harness_t *h = harness_new("plain");
	tclient_t *safe, *client;
	size_t i;

	ck_assert_ptr_nonnull(h);
	START(h);
	ENDPOINT(safe, h, "practice-a", "safe-1");
	ENDPOINT(client, h, "practice-a", "client-1");
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		ck_assert_int_eq(tclient_send_data(client, SAFE_A, 3, i, (const uint8_t *)plain[i],
						   strlen(plain[i])), 0);
		EXPECT_NACK(client, 3, i, R_PLAINTEXT);
	}
	ck_assert_int_eq(tclient_send_data(client, SAFE_A, 3, 100, zeros, sizeof(zeros)), 0);
	EXPECT_NACK(client, 3, 100, R_PLAINTEXT);
	/* Ciphertext-like payloads still flow, and nothing plain arrived. */
	SEND(client, SAFE_A, 3, 200, 1000, TAG(3, 200, 0));
	EXPECT_DATA(safe, WAIT_MS, CLIENT_A, 3, 200, 1000, TAG(3, 200, 0));
	EXPECT_QUIET(safe);
	tclient_free(client);
	tclient_free(safe);
	harness_free(h);
}
END_TEST

Suite *plaintext_suite(void)
{
	Suite *s = suite_create("plaintext");
	TCase *tc = tcase_create("plaintext");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_plaintext_refused);
	suite_add_tcase(s, tc);
	return s;
}
