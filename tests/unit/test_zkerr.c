/* zkerr.h must stay in step with the proto's Reason enum: the numbers go
 * on the wire and into metrics, so a drift would mislabel refusals. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "suites.h"
#include "zkerr.h"
#include "zkrelay.pb-c.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	int zk;
	int proto;
} pairs[] = {
	{ ZK_OK, ZKRELAY__V1__REASON__REASON_NONE },
	{ ZK_ENOROUTE, ZKRELAY__V1__REASON__REASON_NO_ROUTE },
	{ ZK_EMALFORMED, ZKRELAY__V1__REASON__REASON_MALFORMED_FRAME },
	{ ZK_ETOOLARGE, ZKRELAY__V1__REASON__REASON_MESSAGE_TOO_LARGE },
	{ ZK_EHELLO, ZKRELAY__V1__REASON__REASON_HELLO_REQUIRED },
	{ ZK_EPROTO, ZKRELAY__V1__REASON__REASON_PROTOCOL_VIOLATION },
	{ ZK_EQUEUEFULL, ZKRELAY__V1__REASON__REASON_QUEUE_FULL },
	{ ZK_EBUSY, ZKRELAY__V1__REASON__REASON_RELAY_BUSY },
	{ ZK_EUNDELIVERED, ZKRELAY__V1__REASON__REASON_UNDELIVERED },
	{ ZK_EGOINGAWAY, ZKRELAY__V1__REASON__REASON_GOING_AWAY },
	{ ZK_EREPLACED, ZKRELAY__V1__REASON__REASON_REPLACED },
	{ ZK_EIDLE, ZKRELAY__V1__REASON__REASON_IDLE_TIMEOUT },
	{ ZK_ETOKEN, ZKRELAY__V1__REASON__REASON_TOKEN_INVALID },
	{ ZK_ETOKENEXPIRED, ZKRELAY__V1__REASON__REASON_TOKEN_EXPIRED },
	{ ZK_EPLAINTEXT, ZKRELAY__V1__REASON__REASON_PLAINTEXT_REFUSED },
	{ ZK_ERATELIMIT, ZKRELAY__V1__REASON__REASON_RATE_LIMITED },
	{ ZK_ETEXT, ZKRELAY__V1__REASON__REASON_TEXT_MESSAGE },
	{ ZK_ECERTREVOKED, ZKRELAY__V1__REASON__REASON_CERT_REVOKED },
	{ ZK_ENOTAUTH, ZKRELAY__V1__REASON__REASON_NOT_AUTHORIZED },
};

START_TEST(test_values_match_proto)
{
	ck_assert_uint_eq(ARRAY_LEN(pairs), ZK_REASON_COUNT);
	for (size_t i = 0; i < ARRAY_LEN(pairs); i++) {
		ck_assert_int_eq(pairs[i].zk, (int)i);
		ck_assert_int_eq(pairs[i].zk, pairs[i].proto);
	}
}
END_TEST

/* The proto may not grow a reason the C enum lacks. */
START_TEST(test_proto_has_no_extra_reason)
{
	const ProtobufCEnumDescriptor *d = &zkrelay__v1__reason__descriptor;

	ck_assert_uint_eq(d->n_values, ZK_REASON_COUNT);
	for (unsigned i = 0; i < d->n_values; i++)
		ck_assert_int_lt(d->values[i].value, ZK_REASON_COUNT);
}
END_TEST

/* Each wire reason's name is the proto's name in lower case, so a value
 * that kept its number but changed its meaning is caught too. */
START_TEST(test_names_match_proto)
{
	const ProtobufCEnumDescriptor *d = &zkrelay__v1__reason__descriptor;

	for (int code = 0; code < ZK_REASON_COUNT; code++) {
		const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, code);
		char want[64];
		size_t n;

		ck_assert_ptr_nonnull(v);
		n = (size_t)snprintf(want, sizeof(want), "REASON_%s", zk_err_name(code));
		ck_assert_uint_lt(n, sizeof(want));
		for (size_t i = 0; i < n; i++)
			want[i] = (char)toupper((unsigned char)want[i]);
		ck_assert_str_eq(v->name, want);
	}
}
END_TEST

START_TEST(test_names_distinct)
{
	for (int a = 1; a < ZK_REASON_COUNT; a++) {
		ck_assert_str_ne(zk_err_name(a), "unknown");
		ck_assert_str_eq(zk_err_name(-a), zk_err_name(a));
		for (int b = a + 1; b < ZK_REASON_COUNT; b++)
			ck_assert_str_ne(zk_err_name(a), zk_err_name(b));
	}
}
END_TEST

START_TEST(test_local_and_unknown)
{
	static const int local[] = { ZK_ENOMEM, ZK_EINVAL, ZK_EIO, ZK_ECONFIG, ZK_ECERT,
				     ZK_EUNREACHABLE, ZK_ETIMEOUT, ZK_EPEERKEY, ZK_ECLOSED,
				     ZK_EUPGRADE, ZK_EAGAIN };

	for (size_t i = 0; i < ARRAY_LEN(local); i++) {
		ck_assert_str_ne(zk_err_name(-local[i]), "unknown");
		for (int code = 0; code < ZK_REASON_COUNT; code++)
			ck_assert_str_ne(zk_err_name(local[i]), zk_err_name(code));
	}
	ck_assert_str_eq(zk_err_name(ZK_REASON_COUNT), "unknown");
	ck_assert_str_eq(zk_err_name(99), "unknown");
	ck_assert_str_eq(zk_err_name(-1000), "unknown");
}
END_TEST

Suite *zkerr_suite(void)
{
	Suite *s = suite_create("zkerr");
	TCase *tc = tcase_create("reasons");

	tcase_add_test(tc, test_values_match_proto);
	tcase_add_test(tc, test_proto_has_no_extra_reason);
	tcase_add_test(tc, test_names_match_proto);
	tcase_add_test(tc, test_names_distinct);
	tcase_add_test(tc, test_local_and_unknown);
	suite_add_tcase(s, tc);
	return s;
}
