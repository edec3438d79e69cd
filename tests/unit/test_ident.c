/* ident.c: endpoint ids, zkrelay URIs, routing addresses, and the
 * identity taken from a client certificate's subjectAltName.
 *
 * Ids, URIs and addresses are passed in heap copies of their exact length
 * with no terminating NUL, so under ASan a read past len is a crash rather
 * than a silent pass. Certificates are built in memory, signed, and read
 * back from DER, as a peer's certificate would be. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ident.h"
#include "suites.h"
#include "wire.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* 64 characters: the longest valid id. */
#define ID64 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01"
#define ID65 ID64 "x"

static char *exact_copy(const char *s, size_t n)
{
	char *c = malloc(n > 0 ? n : 1);

	ck_assert_ptr_nonnull(c);
	if (n > 0)
		memcpy(c, s, n);
	return c;
}

/* An ident_t filled with a pattern, to show that a refusal leaves the
 * caller's identity untouched. */
static void ident_poison(ident_t *id)
{
	memset(id, 0xa5, sizeof(*id));
}

static int ident_is_poison(const ident_t *id)
{
	ident_t p;

	ident_poison(&p);
	return memcmp(&p, id, sizeof(p)) == 0;
}

/* ---- ident_id_ok ----------------------------------------------------- */

typedef struct {
	const char *name;
	const char *s;
	size_t len; /* 0: strlen(s) */
	int ok;
} id_case_t;

static const id_case_t id_cases[] = {
	{ "one letter", "a", 0, 1 },
	{ "one digit", "7", 0, 1 },
	{ "inner punctuation", "a.b_c-d", 0, 1 },
	{ "trailing punctuation", "a-", 0, 1 },
	{ "64 chars", ID64, 0, 1 },
	{ "empty", "", 0, 0 },
	{ "65 chars", ID65, 0, 0 },
	{ "leading dot", ".a", 0, 0 },
	{ "leading underscore", "_a", 0, 0 },
	{ "leading hyphen", "-a", 0, 0 },
	{ "uppercase", "aBc", 0, 0 },
	{ "slash", "a/b", 0, 0 },
	{ "space", "a b", 0, 0 },
	{ "percent", "a%41", 0, 0 },
	{ "colon", "a:b", 0, 0 },
	{ "embedded NUL", "ab\0cd", 5, 0 },
	{ "high byte", "a\xc3\xa9", 0, 0 },
};

START_TEST(test_id_ok)
{
	const id_case_t *c = &id_cases[_i];
	size_t n = c->len ? c->len : strlen(c->s);
	char *p = exact_copy(c->s, n);

	ck_assert_msg(ident_id_ok(p, n) == c->ok, "%s: want %d", c->name, c->ok);
	free(p);
}
END_TEST

/* Only the first len bytes count: a valid prefix of a bad string is valid,
 * and a length that cuts into the string is honoured. */
START_TEST(test_id_ok_uses_len)
{
	ck_assert_int_eq(ident_id_ok("abc/def", 3), 1);
	ck_assert_int_eq(ident_id_ok("ABC", 0), 0);
	ck_assert_int_eq(ident_id_ok(ID65, 64), 1);
	ck_assert_int_eq(ident_id_ok(ID65, 65), 0);
}
END_TEST

/* ---- ident_parse_uri -------------------------------------------------- */

typedef struct {
	const char *name;
	const char *uri;
	size_t len; /* 0: strlen(uri) */
	int ok;
	const char *practice, *endpoint;
	wire_role_t role;
} uri_case_t;

static const uri_case_t uri_cases[] = {
	{ "safe", "zkrelay://practice/acme/safe/vault-1", 0, 1, "acme", "vault-1",
	  WIRE_ROLE_SAFE },
	{ "client", "zkrelay://practice/p.1/client/c_2", 0, 1, "p.1", "c_2", WIRE_ROLE_CLIENT },
	{ "64-char ids", "zkrelay://practice/" ID64 "/safe/" ID64, 0, 1, ID64, ID64,
	  WIRE_ROLE_SAFE },
	{ "role admin", "zkrelay://practice/acme/admin/e", 0, 0, NULL, NULL, 0 },
	{ "role uppercase", "zkrelay://practice/acme/Safe/e", 0, 0, NULL, NULL, 0 },
	{ "role prefix", "zkrelay://practice/acme/saf/e", 0, 0, NULL, NULL, 0 },
	{ "role extended", "zkrelay://practice/acme/safes/e", 0, 0, NULL, NULL, 0 },
	{ "role empty", "zkrelay://practice/acme//e", 0, 0, NULL, NULL, 0 },
	{ "uppercase practice", "zkrelay://practice/Acme/safe/e", 0, 0, NULL, NULL, 0 },
	{ "uppercase endpoint", "zkrelay://practice/acme/safe/E", 0, 0, NULL, NULL, 0 },
	{ "empty practice", "zkrelay://practice//safe/e", 0, 0, NULL, NULL, 0 },
	{ "empty endpoint", "zkrelay://practice/acme/safe/", 0, 0, NULL, NULL, 0 },
	{ "extra segment", "zkrelay://practice/acme/safe/e/x", 0, 0, NULL, NULL, 0 },
	{ "trailing slash", "zkrelay://practice/acme/safe/e/", 0, 0, NULL, NULL, 0 },
	{ "missing endpoint", "zkrelay://practice/acme/safe", 0, 0, NULL, NULL, 0 },
	{ "missing role", "zkrelay://practice/acme", 0, 0, NULL, NULL, 0 },
	{ "65-char practice", "zkrelay://practice/" ID65 "/safe/e", 0, 0, NULL, NULL, 0 },
	{ "65-char endpoint", "zkrelay://practice/acme/safe/" ID65, 0, 0, NULL, NULL, 0 },
	{ "embedded NUL in endpoint", "zkrelay://practice/acme/safe/e\0x", 32, 0, NULL, NULL, 0 },
	{ "trailing NUL", "zkrelay://practice/acme/safe/e\0", 31, 0, NULL, NULL, 0 },
	{ "prefix only", "zkrelay://practice/", 0, 0, NULL, NULL, 0 },
	{ "prefix without slash", "zkrelay://practice", 0, 0, NULL, NULL, 0 },
	{ "empty", "", 0, 0, NULL, NULL, 0 },
	{ "uppercase authority", "zkrelay://Practice/acme/safe/e", 0, 0, NULL, NULL, 0 },
	{ "other authority", "zkrelay://tenant/acme/safe/e", 0, 0, NULL, NULL, 0 },
	{ "other scheme", "https://practice/acme/safe/e", 0, 0, NULL, NULL, 0 },
	{ "opaque form", "zkrelay:practice/acme/safe/e", 0, 0, NULL, NULL, 0 },
	{ "query", "zkrelay://practice/acme/safe/e?x=1", 0, 0, NULL, NULL, 0 },
	{ "fragment", "zkrelay://practice/acme/safe/e#f", 0, 0, NULL, NULL, 0 },
	{ "percent-encoded", "zkrelay://practice/acme/safe/%65", 0, 0, NULL, NULL, 0 },
	{ "trailing space", "zkrelay://practice/acme/safe/e ", 0, 0, NULL, NULL, 0 },
	{ "dot segment", "zkrelay://practice/acme/safe/../e", 0, 0, NULL, NULL, 0 },
};

START_TEST(test_parse_uri)
{
	const uri_case_t *c = &uri_cases[_i];
	size_t n = c->len ? c->len : strlen(c->uri);
	char *p = exact_copy(c->uri, n);
	ident_t id;
	int rc;

	ident_poison(&id);
	rc = ident_parse_uri(p, n, &id);
	if (c->ok) {
		char addr[WIRE_MAX_ADDR + 1];

		ck_assert_msg(rc == 0, "%s: rc %d", c->name, rc);
		ck_assert_str_eq(id.practice, c->practice);
		ck_assert_str_eq(id.endpoint, c->endpoint);
		ck_assert_int_eq(id.role, c->role);
		snprintf(addr, sizeof(addr), "%s/%s", c->practice, c->endpoint);
		ck_assert_str_eq(id.addr, addr);
		ck_assert_uint_eq(id.addr_len, strlen(addr));
	} else {
		ck_assert_msg(rc == -ZK_ECERT, "%s: rc %d", c->name, rc);
		ck_assert_msg(ident_is_poison(&id), "%s: out written on refusal", c->name);
	}
	free(p);
}
END_TEST

/* The parser reads len bytes, not up to a NUL: a good URI cut short is
 * judged on the cut, and bytes past len do not make a bad URI good. */
START_TEST(test_parse_uri_uses_len)
{
	static const char good[] = "zkrelay://practice/acme/safe/e1/extra";
	ident_t id;

	ident_poison(&id);
	ck_assert_int_eq(ident_parse_uri(good, strlen(good), &id), -ZK_ECERT);
	ck_assert(ident_is_poison(&id));
	ck_assert_int_eq(ident_parse_uri(good, strlen(good) - strlen("/extra"), &id), 0);
	ck_assert_str_eq(id.endpoint, "e1");
	ck_assert_str_eq(id.addr, "acme/e1");
	ck_assert_uint_eq(id.addr_len, 7);
	ident_poison(&id);
	ck_assert_int_eq(ident_parse_uri(good, strlen("zkrelay://practice/acme/safe/"), &id),
			 -ZK_ECERT);
	ck_assert(ident_is_poison(&id));
}
END_TEST

/* The longest identity fills addr exactly: 64 + 1 + 64 bytes and a NUL. */
START_TEST(test_parse_uri_longest_addr)
{
	static const char uri[] = "zkrelay://practice/" ID64 "/client/" ID64;
	ident_t id;

	ck_assert_int_eq(ident_parse_uri(uri, strlen(uri), &id), 0);
	ck_assert_uint_eq(id.addr_len, WIRE_MAX_ADDR);
	ck_assert_uint_eq(strlen(id.addr), WIRE_MAX_ADDR);
	ck_assert_int_eq(memcmp(id.addr, ID64 "/" ID64, WIRE_MAX_ADDR), 0);
	ck_assert_int_eq(id.role, WIRE_ROLE_CLIENT);
}
END_TEST

/* ---- ident_addr_ok ----------------------------------------------------- */

typedef struct {
	const char *name;
	const char *a;
	size_t len; /* 0: strlen(a) */
	int ok;
	size_t plen;
} addr_case_t;

static const addr_case_t addr_cases[] = {
	{ "short", "p/e", 0, 1, 1 },
	{ "punctuated", "acme.1/vault_2-x", 0, 1, 6 },
	{ "64/64", ID64 "/" ID64, 0, 1, 64 },
	{ "empty", "", 0, 0, 0 },
	{ "no slash", "acme", 0, 0, 0 },
	{ "slash only", "/", 0, 0, 0 },
	{ "empty practice", "/e", 0, 0, 0 },
	{ "empty endpoint", "p/", 0, 0, 0 },
	{ "two slashes", "p/e/x", 0, 0, 0 },
	{ "double slash", "p//e", 0, 0, 0 },
	{ "65-char practice", ID65 "/e", 0, 0, 0 },
	{ "65-char endpoint", "p/" ID65, 0, 0, 0 },
	{ "uppercase practice", "P/e", 0, 0, 0 },
	{ "uppercase endpoint", "p/E", 0, 0, 0 },
	{ "leading hyphen endpoint", "p/-e", 0, 0, 0 },
	{ "embedded NUL", "p/e\0x", 5, 0, 0 },
	{ "NUL in practice", "p\0/e", 4, 0, 0 },
	{ "trailing NUL", "p/e\0", 4, 0, 0 },
	{ "full URI", "zkrelay://practice/p/safe/e", 0, 0, 0 },
};

START_TEST(test_addr_ok)
{
	const addr_case_t *c = &addr_cases[_i];
	size_t n = c->len ? c->len : strlen(c->a);
	char *p = exact_copy(c->a, n);
	size_t plen = 12345;
	int ok = ident_addr_ok((const uint8_t *)p, n, &plen);

	ck_assert_msg(ok == c->ok, "%s: got %d", c->name, ok);
	if (c->ok)
		ck_assert_uint_eq(plen, c->plen);
	else
		ck_assert_msg(plen == 12345, "%s: plen written on refusal", c->name);
	free(p);
}
END_TEST

/* What ident_parse_uri builds as addr, ident_addr_ok accepts. */
START_TEST(test_addr_from_uri_ok)
{
	static const char uri[] = "zkrelay://practice/acme-1/safe/" ID64;
	ident_t id;
	size_t plen = 0;

	ck_assert_int_eq(ident_parse_uri(uri, strlen(uri), &id), 0);
	ck_assert_int_eq(ident_addr_ok((const uint8_t *)id.addr, id.addr_len, &plen), 1);
	ck_assert_uint_eq(plen, strlen("acme-1"));
	ck_assert_int_eq(ident_addr_ok((const uint8_t *)id.addr, id.addr_len - 1, &plen), 1);
	ck_assert_int_eq(ident_addr_ok((const uint8_t *)id.addr, plen + 1, &plen), 0);
}
END_TEST

/* ---- ident_from_cert ---------------------------------------------------- */

/* One subjectAltName entry: type GEN_URI, GEN_DNS or GEN_EMAIL; len 0
 * means strlen(v), so entries with an embedded NUL give their length. */
typedef struct {
	int type;
	const char *v;
	size_t len;
} san_t;

#define MAX_SANS 4

typedef struct {
	const char *name;
	san_t san[MAX_SANS];
	size_t nsan;
	int ok;
	const char *practice, *endpoint, *addr;
	wire_role_t role;
} cert_case_t;

#define URI(s) { GEN_URI, s, 0 }
#define DNS(s) { GEN_DNS, s, 0 }
#define GOOD_SAFE "zkrelay://practice/acme/safe/vault-1"
#define GOOD_CLIENT "zkrelay://practice/acme/client/laptop.7"

static const cert_case_t cert_cases[] = {
	{ "one safe URI", { URI(GOOD_SAFE) }, 1, 1, "acme", "vault-1", "acme/vault-1",
	  WIRE_ROLE_SAFE },
	{ "one client URI", { URI(GOOD_CLIENT) }, 1, 1, "acme", "laptop.7", "acme/laptop.7",
	  WIRE_ROLE_CLIENT },
	{ "zkrelay after https", { URI("https://example.org/p"), URI(GOOD_CLIENT) }, 2, 1, "acme",
	  "laptop.7", "acme/laptop.7", WIRE_ROLE_CLIENT },
	{ "zkrelay before https", { URI(GOOD_SAFE), URI("https://example.org/p") }, 2, 1, "acme",
	  "vault-1", "acme/vault-1", WIRE_ROLE_SAFE },
	{ "zkrelay among DNS, email, urn",
	  { DNS("relay.example.org"), { GEN_EMAIL, "a@example.org", 0 }, URI(GOOD_SAFE),
	    URI("urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66") },
	  4, 1, "acme", "vault-1", "acme/vault-1", WIRE_ROLE_SAFE },
	{ "64-char ids", { URI("zkrelay://practice/" ID64 "/safe/" ID64) }, 1, 1, ID64, ID64,
	  ID64 "/" ID64, WIRE_ROLE_SAFE },
	{ "empty SAN", { { 0, NULL, 0 } }, 0, 0, NULL, NULL, NULL, 0 },
	{ "DNS SAN only", { DNS("vault-1.acme.example.org") }, 1, 0, NULL, NULL, NULL, 0 },
	{ "https URI only", { URI("https://practice/acme/safe/vault-1") }, 1, 0, NULL, NULL, NULL,
	  0 },
	{ "zkrelay URI as DNS name", { DNS(GOOD_SAFE) }, 1, 0, NULL, NULL, NULL, 0 },
	{ "two identical zkrelay URIs", { URI(GOOD_SAFE), URI(GOOD_SAFE) }, 2, 0, NULL, NULL, NULL,
	  0 },
	{ "two zkrelay URIs", { URI(GOOD_SAFE), URI(GOOD_CLIENT) }, 2, 0, NULL, NULL, NULL, 0 },
	{ "two zkrelay URIs apart", { URI(GOOD_CLIENT), URI("https://x.example"), URI(GOOD_SAFE) },
	  3, 0, NULL, NULL, NULL, 0 },
	{ "good then malformed", { URI(GOOD_SAFE), URI("zkrelay://practice/acme/admin/x") }, 2, 0,
	  NULL, NULL, NULL, 0 },
	{ "malformed then good", { URI("zkrelay://practice/acme/admin/x"), URI(GOOD_SAFE) }, 2, 0,
	  NULL, NULL, NULL, 0 },
	{ "role admin", { URI("zkrelay://practice/acme/admin/e") }, 1, 0, NULL, NULL, NULL, 0 },
	{ "uppercase id", { URI("zkrelay://practice/Acme/safe/e") }, 1, 0, NULL, NULL, NULL, 0 },
	{ "empty id", { URI("zkrelay://practice//safe/e") }, 1, 0, NULL, NULL, NULL, 0 },
	{ "empty endpoint id", { URI("zkrelay://practice/acme/safe/") }, 1, 0, NULL, NULL, NULL,
	  0 },
	{ "extra path segment", { URI("zkrelay://practice/acme/safe/e/x") }, 1, 0, NULL, NULL,
	  NULL, 0 },
	{ "trailing slash", { URI("zkrelay://practice/acme/safe/e/") }, 1, 0, NULL, NULL, NULL,
	  0 },
	{ "65-char practice id", { URI("zkrelay://practice/" ID65 "/safe/e") }, 1, 0, NULL, NULL,
	  NULL, 0 },
	{ "65-char endpoint id", { URI("zkrelay://practice/acme/client/" ID65) }, 1, 0, NULL,
	  NULL, NULL, 0 },
	{ "embedded NUL", { { GEN_URI, GOOD_SAFE "\0.evil", sizeof(GOOD_SAFE) + 5 } }, 1, 0,
	  NULL, NULL, NULL, 0 },
	{ "embedded NUL before good", { { GEN_URI, GOOD_SAFE "\0", sizeof(GOOD_SAFE) } }, 1, 0,
	  NULL, NULL, NULL, 0 },
	{ "prefix only", { URI("zkrelay://practice/") }, 1, 0, NULL, NULL, NULL, 0 },
	{ "scheme only", { URI("zkrelay:") }, 1, 0, NULL, NULL, NULL, 0 },
	{ "opaque zkrelay URI", { URI("zkrelay:acme/safe/e") }, 1, 0, NULL, NULL, NULL, 0 },
	{ "opaque zkrelay URI beside good", { URI(GOOD_SAFE), URI("zkrelay:acme/safe/e") }, 2, 0,
	  NULL, NULL, NULL, 0 },
	/* RFC 3986 section 3.1: schemes are case-insensitive, so this is a
	 * second zkrelay URI naming another endpoint, not another scheme. */
	{ "uppercase-scheme zkrelay URI beside good",
	  { URI(GOOD_SAFE), URI("ZKRELAY://practice/acme/client/other") }, 2, 0, NULL, NULL, NULL,
	  0 },
};

static EVP_PKEY *test_key(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	ck_assert_ptr_nonnull(k);
	return k;
}

static GENERAL_NAMES *names_of(const san_t *san, size_t n)
{
	GENERAL_NAMES *names = GENERAL_NAMES_new();

	ck_assert_ptr_nonnull(names);
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		size_t len = san[i].len ? san[i].len : strlen(san[i].v);

		ck_assert_ptr_nonnull(gn);
		ck_assert_ptr_nonnull(s);
		ck_assert_int_eq(ASN1_STRING_set(s, san[i].v, (int)len), 1);
		GENERAL_NAME_set0_value(gn, san[i].type, s);
		ck_assert_int_gt(sk_GENERAL_NAME_push(names, gn), 0);
	}
	return names;
}

/* A signed certificate with the given subjectAltName extensions (nsets of
 * them, each from its own list), returned as a peer would present it:
 * encoded to DER and decoded again. nsets 0 gives no SAN extension. */
static X509 *cert_with(const san_t *const *sets, const size_t *counts, size_t nsets)
{
	EVP_PKEY *key = test_key();
	X509 *x = X509_new();
	X509_NAME *name;
	unsigned char *der = NULL;
	const unsigned char *pp;
	X509 *back;
	int derlen;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 1), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	name = X509_get_subject_name(x);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)"unit test", -1, -1, 0),
			 1);
	ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
	for (size_t i = 0; i < nsets; i++) {
		GENERAL_NAMES *names = names_of(sets[i], counts[i]);

		ck_assert_int_eq(X509_add1_ext_i2d(x, NID_subject_alt_name, names, 0,
						   X509V3_ADD_APPEND),
				 1);
		GENERAL_NAMES_free(names);
	}
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	derlen = i2d_X509(x, &der);
	ck_assert_int_gt(derlen, 0);
	pp = der;
	back = d2i_X509(NULL, &pp, derlen);
	ck_assert_ptr_nonnull(back);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(key);
	return back;
}

static X509 *cert_one_set(const san_t *san, size_t n)
{
	const san_t *sets[1] = { san };
	size_t counts[1] = { n };

	return cert_with(sets, counts, 1);
}

START_TEST(test_from_cert)
{
	const cert_case_t *c = &cert_cases[_i];
	X509 *x = cert_one_set(c->san, c->nsan);
	ident_t id;
	int rc;

	ident_poison(&id);
	rc = ident_from_cert(x, &id);
	if (c->ok) {
		ck_assert_msg(rc == 0, "%s: rc %d", c->name, rc);
		ck_assert_str_eq(id.practice, c->practice);
		ck_assert_str_eq(id.endpoint, c->endpoint);
		ck_assert_str_eq(id.addr, c->addr);
		ck_assert_uint_eq(id.addr_len, strlen(c->addr));
		ck_assert_int_eq(id.role, c->role);
	} else {
		ck_assert_msg(rc == -ZK_ECERT, "%s: rc %d", c->name, rc);
		ck_assert_msg(ident_is_poison(&id), "%s: out written on refusal", c->name);
	}
	X509_free(x);
}
END_TEST

START_TEST(test_from_cert_no_san)
{
	X509 *x = cert_with(NULL, NULL, 0);
	ident_t id;

	ck_assert_int_lt(X509_get_ext_by_NID(x, NID_subject_alt_name, -1), 0);
	ident_poison(&id);
	ck_assert_int_eq(ident_from_cert(x, &id), -ZK_ECERT);
	ck_assert(ident_is_poison(&id));
	X509_free(x);
}
END_TEST

/* Two subjectAltName extensions, each with one good URI, are two
 * identities; the certificate must not be read as the first of them. */
START_TEST(test_from_cert_two_san_extensions)
{
	static const san_t a[] = { URI(GOOD_SAFE) };
	static const san_t b[] = { URI(GOOD_CLIENT) };
	const san_t *sets[] = { a, b };
	const size_t counts[] = { 1, 1 };
	X509 *x = cert_with(sets, counts, 2);
	ident_t id;

	ck_assert_int_eq(X509_get_ext_count(x), 2);
	ident_poison(&id);
	ck_assert_int_eq(ident_from_cert(x, &id), -ZK_ECERT);
	ck_assert(ident_is_poison(&id));
	X509_free(x);
}
END_TEST

/* The same certificate through OpenSSL's config-string route, as a CA tool
 * would write it: other URIs and DNS names beside one zkrelay URI. */
START_TEST(test_from_cert_conf_string)
{
	EVP_PKEY *key = test_key();
	X509 *x = X509_new();
	X509_EXTENSION *ext;
	ident_t id;

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
				  "DNS:relay.example.org,URI:https://example.org/,"
				  "URI:" GOOD_CLIENT);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	ck_assert_int_eq(ident_from_cert(x, &id), 0);
	ck_assert_str_eq(id.addr, "acme/laptop.7");
	ck_assert_int_eq(id.role, WIRE_ROLE_CLIENT);

	/* A second zkrelay URI in the same way refuses. */
	X509_free(x);
	x = X509_new();
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
				  "URI:" GOOD_CLIENT ",URI:" GOOD_SAFE);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	ident_poison(&id);
	ck_assert_int_eq(ident_from_cert(x, &id), -ZK_ECERT);
	ck_assert(ident_is_poison(&id));
	X509_free(x);
	EVP_PKEY_free(key);
}
END_TEST

Suite *ident_suite(void)
{
	Suite *s = suite_create("ident");
	TCase *id = tcase_create("id");
	TCase *uri = tcase_create("uri");
	TCase *addr = tcase_create("addr");
	TCase *cert = tcase_create("cert");

	tcase_add_loop_test(id, test_id_ok, 0, (int)ARRAY_LEN(id_cases));
	tcase_add_test(id, test_id_ok_uses_len);
	tcase_add_loop_test(uri, test_parse_uri, 0, (int)ARRAY_LEN(uri_cases));
	tcase_add_test(uri, test_parse_uri_uses_len);
	tcase_add_test(uri, test_parse_uri_longest_addr);
	tcase_add_loop_test(addr, test_addr_ok, 0, (int)ARRAY_LEN(addr_cases));
	tcase_add_test(addr, test_addr_from_uri_ok);
	tcase_add_loop_test(cert, test_from_cert, 0, (int)ARRAY_LEN(cert_cases));
	tcase_add_test(cert, test_from_cert_no_san);
	tcase_add_test(cert, test_from_cert_two_san_extensions);
	tcase_add_test(cert, test_from_cert_conf_string);
	suite_add_tcase(s, id);
	suite_add_tcase(s, uri);
	suite_add_tcase(s, addr);
	suite_add_tcase(s, cert);
	return s;
}
