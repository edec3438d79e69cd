/* registry.c: the practice registry directory. Fixture files are written
 * into a fresh temporary directory by each test. Every refusal must fail
 * the whole load, return no registry, and name the file, so an operator
 * can find the mistake; every lookup takes exact-length heap copies, so
 * under ASan a read past len is a crash rather than a silent pass. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "registry.h"
#include "suites.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERRLEN 512

/* RFC 8032 section 7.1, tests 1 and 2: public keys in base64url. */
#define PK1 "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
#define PK2 "PUAXw-hDiVqStwqnTRt-vJyYLM8uxJaMwM1V8Sr0Zgw"
static const uint8_t pk1_raw[32] = {
	0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe,
	0xd3, 0xc9, 0x64, 0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6,
	0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
};
static const uint8_t pk2_raw[32] = {
	0x3d, 0x40, 0x17, 0xc3, 0xe8, 0x43, 0x89, 0x5a, 0x92, 0xb7, 0x0a,
	0xa7, 0x4d, 0x1b, 0x7e, 0xbc, 0x9c, 0x98, 0x2c, 0xcf, 0x2e, 0xc4,
	0x96, 0x8c, 0xc0, 0xcd, 0x55, 0xf1, 0x2a, 0xf4, 0x66, 0x0c,
};
#define PIN1 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define PIN2 "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

#define ID64 "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01"
#define JTI128 ID64 ID64

#define Q(s) "\"" s "\""
#define DOC(id, st, keys, safes, jtis)                                                  \
	"{\"practice_id\":" id ",\"status\":" st ",\"token_keys\":" keys                  \
	",\"data_safes\":" safes ",\"revoked_jti\":" jtis "}\n"
#define KEY(kid, pk) "{\"kid\":" kid ",\"public_key\":" pk "}"
#define SAFE(ep, pin) "{\"endpoint_id\":" ep ",\"spki_sha256\":" pin "}"
#define ID_A Q("practice-a")
#define ACTIVE Q("active")
#define KEYS_A "[" KEY(Q("k1"), Q(PK1)) "]"
#define SAFES_A "[" SAFE(Q("safe-1"), Q(PIN1)) "]"
#define JTIS_A "[" Q("jti-1") "]"
#define WITH_ID(x) DOC(x, ACTIVE, KEYS_A, SAFES_A, JTIS_A)
#define WITH_STATUS(x) DOC(ID_A, x, KEYS_A, SAFES_A, JTIS_A)
#define WITH_KEYS(x) DOC(ID_A, ACTIVE, x, SAFES_A, JTIS_A)
#define WITH_SAFES(x) DOC(ID_A, ACTIVE, KEYS_A, x, JTIS_A)
#define WITH_JTIS(x) DOC(ID_A, ACTIVE, KEYS_A, SAFES_A, x)
#define WITH_PK(x) WITH_KEYS("[" KEY(Q("k1"), Q(x)) "]")
#define WITH_PIN(x) WITH_SAFES("[" SAFE(Q("safe-1"), Q(x)) "]")

static const char good_a[] =
	"{\n"
	"  \"practice_id\": \"practice-a\",\n"
	"  \"status\": \"active\",\n"
	"  \"token_keys\": [\n"
	"    { \"kid\": \"k2\", \"public_key\": \"" PK2 "\" },\n"
	"    { \"public_key\": \"" PK1 "\", \"kid\": \"k1\" }\n"
	"  ],\n"
	"  \"data_safes\": [\n"
	"    { \"endpoint_id\": \"safe-2\", \"spki_sha256\": \"" PIN2 "\" },\n"
	"    { \"endpoint_id\": \"safe-1\", \"spki_sha256\": \"" PIN1 "\" }\n"
	"  ],\n"
	"  \"revoked_jti\": [ \"jti-9\", \"Jti/2+x=\", \"jti-1\", \"q\\\"\\\\\" ]\n"
	"}\n";

/* Suspended, no keys, members in another order. */
static const char good_b[] = "{\"revoked_jti\":[],\"data_safes\":[],\"token_keys\":[],"
			     "\"status\":\"suspended\",\"practice_id\":\"practice-b\"}";

static char err[ERRLEN];

/* ---- fixture helpers ------------------------------------------------ */

static char *make_dir(void)
{
	const char *base = getenv("TMPDIR");
	char *d = malloc(4096);

	ck_assert_ptr_nonnull(d);
	snprintf(d, 4096, "%s/zkrelay-registry.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_dir(char *d)
{
	ck_assert_int_eq(nftw(d, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(d);
}

static void put_n(const char *dir, const char *name, const char *text, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static void put(const char *dir, const char *name, const char *text)
{
	put_n(dir, name, text, strlen(text));
}

static void sub_dir(const char *dir, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_int_eq(mkdir(path, 0700), 0);
}

/* A registry pointer no load returns, to show a refusal leaves *out alone. */
#define POISON ((registry_t *)(uintptr_t)0xa5a5a5a5u)

static int load(const char *dir, registry_t **reg)
{
	*reg = POISON;
	memset(err, 'Z', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	return registry_load(dir, reg, err, sizeof(err));
}

static void assert_contains(const char *hay, const char *needle)
{
	ck_assert_msg(strstr(hay, needle) != NULL, "\"%s\" does not contain \"%s\"", hay, needle);
}

/* Loads dir, which must be refused with rc, and the message must name
 * want_file and contain want (if not NULL). */
static void assert_refused(const char *dir, int rc, const char *want_file, const char *want)
{
	registry_t *reg;

	ck_assert_int_eq(load(dir, &reg), rc);
	ck_assert_ptr_eq(reg, POISON);
	assert_contains(err, want_file);
	if (want)
		assert_contains(err, want);
}

static char *exact_copy(const char *s, size_t n)
{
	char *c = malloc(n > 0 ? n : 1);

	ck_assert_ptr_nonnull(c);
	if (n > 0)
		memcpy(c, s, n);
	return c;
}

static const registry_practice_t *find(const registry_t *reg, const char *id)
{
	char *c = exact_copy(id, strlen(id));
	const registry_practice_t *p = registry_find(reg, c, strlen(id));

	free(c);
	return p;
}

static const uint8_t *token_key(const registry_practice_t *p, const char *kid)
{
	char *c = exact_copy(kid, strlen(kid));
	const uint8_t *k = registry_token_key(p, c, strlen(kid));

	free(c);
	return k;
}

static int safe_ok(const registry_practice_t *p, const char *ep, const uint8_t pin[32])
{
	char *c = exact_copy(ep, strlen(ep));
	int r = registry_safe_ok(p, c, strlen(ep), pin);

	free(c);
	return r;
}

static int safe_known(const registry_practice_t *p, const char *ep)
{
	char *c = exact_copy(ep, strlen(ep));
	int r = registry_safe_known(p, c, strlen(ep));

	free(c);
	return r;
}

static int revoked(const registry_practice_t *p, const char *jti)
{
	char *c = exact_copy(jti, strlen(jti));
	int r = registry_jti_revoked(p, c, strlen(jti));

	free(c);
	return r;
}

static void hex_to(const char *hex, uint8_t out[32])
{
	for (size_t i = 0; i < 32; i++) {
		unsigned v;

		ck_assert_int_eq(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/* ---- a good directory ------------------------------------------------- */

/* Two practices, one behind a symlink (as a Kubernetes ConfigMap mounts
 * files), and files that are not practices. */
static char *good_dir(void)
{
	char *d = make_dir();
	char path[4096];

	put(d, "practice-a.json", good_a);
	sub_dir(d, "..data");
	put(d, "..data/practice-b.json", good_b);
	snprintf(path, sizeof(path), "%s/practice-b.json", d);
	ck_assert_int_eq(symlink("..data/practice-b.json", path), 0);
	put(d, "README", "not a practice\n");
	put(d, "practice-c.json.tmp", "{ half written");
	put(d, "practice-c.json~", "{ an editor backup");
	put(d, ".practice-d.json.swp", "\x01\x02");
	sub_dir(d, "old");
	return d;
}

START_TEST(test_good_loads)
{
	char *d = good_dir();
	registry_t *reg;
	const registry_practice_t *a, *b;
	uint8_t pin1[32], pin2[32];

	ck_assert_int_eq(load(d, &reg), 0);
	ck_assert_ptr_ne(reg, POISON);
	ck_assert_uint_eq(registry_count(reg), 2);
	a = find(reg, "practice-a");
	b = find(reg, "practice-b");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_ne(a, b);
	ck_assert_int_eq(registry_practice_active(a), 1);
	ck_assert_int_eq(registry_practice_active(b), 0);

	ck_assert_ptr_nonnull(token_key(a, "k1"));
	ck_assert_mem_eq(token_key(a, "k1"), pk1_raw, 32);
	ck_assert_mem_eq(token_key(a, "k2"), pk2_raw, 32);
	ck_assert_ptr_null(token_key(a, "k3"));
	ck_assert_ptr_null(token_key(a, "k"));
	ck_assert_ptr_null(token_key(a, "k10"));
	ck_assert_ptr_null(token_key(b, "k1"));

	hex_to(PIN1, pin1);
	hex_to(PIN2, pin2);
	ck_assert_int_eq(safe_ok(a, "safe-1", pin1), 1);
	ck_assert_int_eq(safe_ok(a, "safe-2", pin2), 1);
	ck_assert_int_eq(safe_ok(a, "safe-1", pin2), 0);
	ck_assert_int_eq(safe_ok(a, "safe-3", pin1), 0);
	ck_assert_int_eq(safe_ok(b, "safe-1", pin1), 0);
	ck_assert_int_eq(safe_known(a, "safe-1"), 1);
	ck_assert_int_eq(safe_known(a, "safe-2"), 1);
	ck_assert_int_eq(safe_known(a, "safe-"), 0);
	ck_assert_int_eq(safe_known(a, "client-1"), 0);
	ck_assert_int_eq(safe_known(b, "safe-1"), 0);

	ck_assert_int_eq(revoked(a, "jti-1"), 1);
	ck_assert_int_eq(revoked(a, "jti-9"), 1);
	ck_assert_int_eq(revoked(a, "Jti/2+x="), 1);
	ck_assert_int_eq(revoked(a, "q\"\\"), 1);
	ck_assert_int_eq(revoked(a, "jti-2"), 0);
	ck_assert_int_eq(revoked(a, "jti-"), 0);
	ck_assert_int_eq(revoked(a, "jti-10"), 0);
	ck_assert_int_eq(revoked(b, "jti-1"), 0);

	ck_assert_ptr_null(find(reg, "practice-c"));
	ck_assert_ptr_null(find(reg, "practice-d"));
	ck_assert_ptr_null(find(reg, "practice"));
	ck_assert_ptr_null(find(reg, "practice-a.json"));
	ck_assert_ptr_null(find(reg, "old"));
	registry_free(reg);
	remove_dir(d);
}
END_TEST

/* Only len bytes count; empty and NULL strings find nothing. */
START_TEST(test_lookups_use_len)
{
	char *d = good_dir();
	registry_t *reg;
	const registry_practice_t *a;
	uint8_t pin1[32];

	ck_assert_int_eq(load(d, &reg), 0);
	a = registry_find(reg, "practice-a/safe-1", 10);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_eq(registry_find(reg, "practice-ab", 11), NULL);
	ck_assert_ptr_eq(registry_find(reg, "practice-a", 9), NULL);
	ck_assert_ptr_eq(registry_find(reg, "", 0), NULL);
	ck_assert_ptr_eq(registry_find(reg, NULL, 0), NULL);
	ck_assert_ptr_nonnull(registry_token_key(a, "k1k2", 2));
	ck_assert_ptr_null(registry_token_key(a, "k1", 0));
	hex_to(PIN1, pin1);
	ck_assert_int_eq(registry_safe_ok(a, "safe-1x", 6, pin1), 1);
	ck_assert_int_eq(registry_safe_ok(a, "safe-1", 6, NULL), 0);
	ck_assert_int_eq(registry_safe_known(a, "safe-1x", 6), 1);
	ck_assert_int_eq(registry_safe_known(a, "safe-1", 0), 0);
	ck_assert_int_eq(registry_jti_revoked(a, "jti-1jti-9", 5), 1);
	ck_assert_int_eq(registry_jti_revoked(a, "jti-1", 4), 0);
	ck_assert_int_eq(registry_jti_revoked(a, NULL, 0), 0);
	registry_free(reg);
	remove_dir(d);
}
END_TEST

/* A missing registry or practice answers "no" to every question. */
START_TEST(test_null_is_no)
{
	uint8_t pin[32] = { 0 };

	ck_assert_uint_eq(registry_count(NULL), 0);
	ck_assert_ptr_null(registry_find(NULL, "practice-a", 10));
	ck_assert_int_eq(registry_practice_active(NULL), 0);
	ck_assert_ptr_null(registry_token_key(NULL, "k1", 2));
	ck_assert_int_eq(registry_safe_ok(NULL, "safe-1", 6, pin), 0);
	ck_assert_int_eq(registry_safe_known(NULL, "safe-1", 6), 0);
	ck_assert_int_eq(registry_jti_revoked(NULL, "jti-1", 5), 0);
	registry_free(NULL);
}
END_TEST

START_TEST(test_empty_dir)
{
	char *d = make_dir();
	registry_t *reg;

	ck_assert_int_eq(load(d, &reg), 0);
	ck_assert_ptr_nonnull(reg);
	ck_assert_ptr_ne(reg, POISON);
	ck_assert_uint_eq(registry_count(reg), 0);
	ck_assert_ptr_null(find(reg, "practice-a"));
	registry_free(reg);
	remove_dir(d);
}
END_TEST

START_TEST(test_only_other_files)
{
	char *d = make_dir();
	registry_t *reg;

	put(d, "notes.txt", "{}");
	put(d, "practice-a.JSON", "{}");
	put(d, "practice-a.json.bak", "{}");
	sub_dir(d, "practice-b");
	ck_assert_int_eq(load(d, &reg), 0);
	ck_assert_uint_eq(registry_count(reg), 0);
	registry_free(reg);
	remove_dir(d);
}
END_TEST

START_TEST(test_missing_dir)
{
	char *d = make_dir();
	char missing[4200];

	snprintf(missing, sizeof(missing), "%s/nope", d);
	assert_refused(missing, -ZK_EIO, missing, NULL);
	remove_dir(d);
}
END_TEST

START_TEST(test_dir_is_a_file)
{
	char *d = make_dir();
	char path[4200];

	put(d, "file", "{}");
	snprintf(path, sizeof(path), "%s/file", d);
	assert_refused(path, -ZK_EIO, path, NULL);
	remove_dir(d);
}
END_TEST

START_TEST(test_bad_arguments)
{
	registry_t *reg = POISON;

	ck_assert_int_eq(registry_load(NULL, &reg, err, sizeof(err)), -ZK_EINVAL);
	ck_assert_ptr_eq(reg, POISON);
	ck_assert_int_eq(registry_load("/", NULL, err, sizeof(err)), -ZK_EINVAL);
}
END_TEST

/* A refusal with nowhere to write the message still refuses, and a short
 * buffer gets a truncated, terminated message. */
START_TEST(test_err_buffer)
{
	char *d = make_dir();
	registry_t *reg = POISON;
	char small[8];

	put(d, "practice-a.json", "{");
	ck_assert_int_eq(registry_load(d, &reg, NULL, 0), -ZK_ECONFIG);
	ck_assert_ptr_eq(reg, POISON);
	memset(small, 'Z', sizeof(small));
	ck_assert_int_eq(registry_load(d, &reg, small, sizeof(small)), -ZK_ECONFIG);
	ck_assert_ptr_eq(reg, POISON);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	remove_dir(d);
}
END_TEST

/* ---- refusals ------------------------------------------------------- */

typedef struct {
	const char *name;
	const char *text;
	const char *want; /* in the message, besides the file name */
} bad_case_t;

/* Each is written as practice-a.json beside a good practice-b.json: one
 * bad file refuses the whole directory. */
static const bad_case_t bad_cases[] = {
	/* not JSON, or not one object */
	{ "empty file", "", "line" },
	{ "truncated", "{\"practice_id\": ", "line" },
	{ "not json", "practice_id = practice-a\n", "line" },
	{ "trailing garbage", WITH_ID(ID_A) "x", "line" },
	{ "two documents", WITH_ID(ID_A) WITH_ID(ID_A), "line" },
	{ "single quotes", "{'practice_id': 'practice-a'}", "line" },
	{ "trailing comma", "{\"practice_id\":\"practice-a\",}", "line" },
	{ "comment", "// practice a\n" WITH_ID(ID_A), "line" },
	{ "invalid utf-8", WITH_JTIS("[\"\xc3\x28\"]"), "line" },
	{ "NUL escape", WITH_ID(Q("practice-a\\u0000")), "line" },
	{ "top-level array", "[" WITH_ID(ID_A) "]", "not a JSON object" },
	{ "top-level string", "\"practice-a\"", "line" },
	{ "top-level null", "null", "line" },
	/* duplicate members */
	{ "duplicate top-level member",
	  "{\"practice_id\":\"practice-a\",\"status\":\"active\",\"status\":\"suspended\","
	  "\"token_keys\":" KEYS_A ",\"data_safes\":[],\"revoked_jti\":[]}",
	  "duplicate" },
	{ "duplicate member in a key",
	  WITH_KEYS("[{\"kid\":\"k1\",\"kid\":\"k2\",\"public_key\":\"" PK1 "\"}]"), "duplicate" },
	{ "duplicate member in a safe",
	  WITH_SAFES("[{\"endpoint_id\":\"safe-1\",\"spki_sha256\":\"" PIN1 "\",\"spki_sha256\":\"" PIN2
		     "\"}]"),
	  "duplicate" },
	/* unknown members */
	{ "unknown top-level member",
	  "{\"practice_id\":\"practice-a\",\"status\":\"active\",\"token_keys\":" KEYS_A
	  ",\"data_safes\":[],\"revoked_jti\":[],\"allow_plaintext\":true}",
	  "unknown member \"allow_plaintext\"" },
	{ "member with different case",
	  "{\"Practice_id\":\"practice-a\",\"status\":\"active\",\"token_keys\":" KEYS_A
	  ",\"data_safes\":[],\"revoked_jti\":[]}",
	  "unknown member \"Practice_id\"" },
	{ "unknown member in a key",
	  WITH_KEYS("[{\"kid\":\"k1\",\"public_key\":\"" PK1 "\",\"alg\":\"none\"}]"),
	  "token_keys[0]: unknown member \"alg\"" },
	{ "unknown member in a safe",
	  WITH_SAFES("[{\"endpoint_id\":\"safe-1\",\"spki_sha256\":\"" PIN1 "\",\"x\":1}]"),
	  "data_safes[0]: unknown member \"x\"" },
	/* wrong types */
	{ "practice_id number", WITH_ID("1"), "practice_id: not a string" },
	{ "practice_id null", WITH_ID("null"), "practice_id: not a string" },
	{ "status bool", WITH_STATUS("true"), "status: not a string" },
	{ "token_keys object", WITH_KEYS("{}"), "token_keys: not an array" },
	{ "data_safes string", WITH_SAFES("\"safe-1\""), "data_safes: not an array" },
	{ "revoked_jti null", WITH_JTIS("null"), "revoked_jti: not an array" },
	{ "key not an object", WITH_KEYS("[\"k1\"]"), "token_keys[0]: not an object" },
	{ "safe not an object", WITH_SAFES("[[]]"), "data_safes[0]: not an object" },
	{ "kid number", WITH_KEYS("[" KEY("1", Q(PK1)) "]"), "token_keys[0].kid: not a string" },
	{ "public_key array", WITH_KEYS("[" KEY(Q("k1"), "[]") "]"),
	  "token_keys[0].public_key: not a string" },
	{ "endpoint_id number", WITH_SAFES("[" SAFE("7", Q(PIN1)) "]"),
	  "data_safes[0].endpoint_id: not a string" },
	{ "spki_sha256 object", WITH_SAFES("[" SAFE(Q("safe-1"), "{}") "]"),
	  "data_safes[0].spki_sha256: not a string" },
	{ "jti number", WITH_JTIS("[\"jti-1\", 2]"), "revoked_jti[1]: not a string" },
	/* bad ids */
	{ "practice_id uppercase", WITH_ID(Q("Practice-A")), "practice_id: not a valid id" },
	{ "practice_id empty", WITH_ID(Q("")), "practice_id: not a valid id" },
	{ "practice_id slash", WITH_ID(Q("practice/a")), "practice_id: not a valid id" },
	{ "practice_id 65 chars", WITH_ID(Q(ID64 "x")), "practice_id: not a valid id" },
	{ "kid uppercase", WITH_KEYS("[" KEY(Q("K1"), Q(PK1)) "]"), "token_keys[0].kid: not a valid id" },
	{ "kid empty", WITH_KEYS("[" KEY(Q(""), Q(PK1)) "]"), "token_keys[0].kid: not a valid id" },
	{ "endpoint_id leading hyphen", WITH_SAFES("[" SAFE(Q("-safe"), Q(PIN1)) "]"),
	  "data_safes[0].endpoint_id: not a valid id" },
	{ "endpoint_id 65 chars", WITH_SAFES("[" SAFE(Q(ID64 "x"), Q(PIN1)) "]"),
	  "data_safes[0].endpoint_id: not a valid id" },
	/* file name */
	{ "other practice's id", WITH_ID(Q("practice-b")), "file name is not practice_id" },
	{ "id differs by suffix", WITH_ID(Q("practice-a2")), "file name is not practice_id" },
	/* status */
	{ "status capitalised", WITH_STATUS(Q("Active")), "status: not" },
	{ "status unknown", WITH_STATUS(Q("disabled")), "status: not" },
	{ "status empty", WITH_STATUS(Q("")), "status: not" },
	{ "status with space", WITH_STATUS(Q("active ")), "status: not" },
	{ "active without keys", WITH_KEYS("[]"), "at least one token key" },
	/* public_key */
	{ "public_key padded", WITH_PK(PK1 "="), "token_keys[0].public_key: not the strict base64url" },
	{ "public_key standard alphabet", WITH_PK("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
	  "public_key" },
	{ "public_key non-canonical", WITH_PK("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURp"),
	  "public_key" },
	{ "public_key space", WITH_PK("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR "), "public_key" },
	{ "public_key 31 bytes", WITH_PK("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "public_key" },
	{ "public_key 33 bytes", WITH_PK("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "public_key" },
	{ "public_key 42 chars", WITH_PK("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHUR"), "public_key" },
	{ "public_key empty", WITH_PK(""), "public_key" },
	{ "public_key hex", WITH_PK(PIN1), "public_key" },
	/* spki_sha256 */
	{ "pin 63 digits", WITH_PIN("00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"),
	  "data_safes[0].spki_sha256: not 64 lowercase hex digits" },
	{ "pin 65 digits", WITH_PIN(PIN1 "0"), "spki_sha256" },
	{ "pin uppercase", WITH_PIN("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"),
	  "spki_sha256" },
	{ "pin not hex", WITH_PIN("g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1"),
	  "spki_sha256" },
	{ "pin with colons", WITH_PIN("00:01:02:03:04:05:06:07:08:09:0a:0b:0c:0d:0e:0f"), "spki_sha256" },
	{ "pin base64url", WITH_PIN(PK1), "spki_sha256" },
	{ "pin empty", WITH_PIN(""), "spki_sha256" },
	/* duplicates in lists */
	{ "duplicate kid", WITH_KEYS("[" KEY(Q("k1"), Q(PK1)) "," KEY(Q("k1"), Q(PK2)) "]"),
	  "duplicate kid \"k1\"" },
	{ "duplicate kid, same key",
	  WITH_KEYS("[" KEY(Q("k1"), Q(PK1)) "," KEY(Q("k2"), Q(PK2)) "," KEY(Q("k1"), Q(PK1)) "]"),
	  "duplicate kid \"k1\"" },
	{ "duplicate endpoint",
	  WITH_SAFES("[" SAFE(Q("safe-1"), Q(PIN1)) "," SAFE(Q("safe-1"), Q(PIN2)) "]"),
	  "duplicate endpoint_id \"safe-1\"" },
	{ "duplicate jti", WITH_JTIS("[\"a\",\"b\",\"a\"]"), "duplicate jti \"a\"" },
	/* jti */
	{ "jti empty", WITH_JTIS("[\"\"]"), "revoked_jti[0]: not 1 to 128 visible ASCII" },
	{ "jti with space", WITH_JTIS("[\"jti 1\"]"), "revoked_jti[0]" },
	{ "jti with tab", WITH_JTIS("[\"jti\\t1\"]"), "revoked_jti[0]" },
	{ "jti non-ASCII", WITH_JTIS("[\"j\xc3\xa9\"]"), "revoked_jti[0]" },
	{ "jti 129 chars", WITH_JTIS("[\"x" JTI128 "\"]"), "revoked_jti[0]" },
	/* missing members */
	{ "missing practice_id",
	  "{\"status\":\"active\",\"token_keys\":" KEYS_A ",\"data_safes\":[],\"revoked_jti\":[]}",
	  "missing member \"practice_id\"" },
	{ "missing status",
	  "{\"practice_id\":\"practice-a\",\"token_keys\":" KEYS_A
	  ",\"data_safes\":[],\"revoked_jti\":[]}",
	  "missing member \"status\"" },
	{ "missing token_keys",
	  "{\"practice_id\":\"practice-a\",\"status\":\"suspended\",\"data_safes\":[],"
	  "\"revoked_jti\":[]}",
	  "missing member \"token_keys\"" },
	{ "missing data_safes",
	  "{\"practice_id\":\"practice-a\",\"status\":\"active\",\"token_keys\":" KEYS_A
	  ",\"revoked_jti\":[]}",
	  "missing member \"data_safes\"" },
	{ "missing revoked_jti",
	  "{\"practice_id\":\"practice-a\",\"status\":\"active\",\"token_keys\":" KEYS_A
	  ",\"data_safes\":[]}",
	  "missing member \"revoked_jti\"" },
	{ "empty object", "{}", "missing member" },
	{ "missing kid", WITH_KEYS("[{\"public_key\":\"" PK1 "\"}]"),
	  "token_keys[0]: missing member \"kid\"" },
	{ "missing public_key", WITH_KEYS("[" KEY(Q("k1"), Q(PK1)) ",{\"kid\":\"k2\"}]"),
	  "token_keys[1]: missing member \"public_key\"" },
	{ "missing endpoint_id", WITH_SAFES("[{\"spki_sha256\":\"" PIN1 "\"}]"),
	  "data_safes[0]: missing member \"endpoint_id\"" },
	{ "missing spki_sha256", WITH_SAFES("[{\"endpoint_id\":\"safe-1\"}]"),
	  "data_safes[0]: missing member \"spki_sha256\"" },
};

START_TEST(test_refused)
{
	const bad_case_t *c = &bad_cases[_i];
	char *d = make_dir();
	registry_t *reg;

	put(d, "practice-b.json", good_b);
	put(d, "practice-a.json", c->text);
	ck_assert_msg(load(d, &reg) == -ZK_ECONFIG, "%s: loaded", c->name);
	ck_assert_msg(reg == POISON, "%s: *out changed", c->name);
	ck_assert_msg(strstr(err, "practice-a.json") != NULL, "%s: \"%s\" names no file", c->name,
		      err);
	ck_assert_msg(strstr(err, c->want) != NULL, "%s: \"%s\" lacks \"%s\"", c->name, err,
		      c->want);
	remove_dir(d);
}
END_TEST

/* The same document passes under the right name: each bad case differs
 * from a good one only in what it tests. */
START_TEST(test_refusal_baseline)
{
	static const char *const good[] = {
		WITH_ID(ID_A), WITH_STATUS(Q("suspended")), WITH_PK(PK2), WITH_PIN(PIN2),
		WITH_JTIS("[\"" JTI128 "\", \"!~\"]"), WITH_SAFES("[]"), WITH_JTIS("[]"),
	};

	for (size_t i = 0; i < ARRAY_LEN(good); i++) {
		char *d = make_dir();
		registry_t *reg;

		put(d, "practice-a.json", good[i]);
		ck_assert_msg(load(d, &reg) == 0, "good[%zu]: %s", i, err);
		ck_assert_uint_eq(registry_count(reg), 1);
		registry_free(reg);
		remove_dir(d);
	}
}
END_TEST

/* A file whose stem is not a valid id can never match its practice_id. */
START_TEST(test_refused_file_names)
{
	static const char *const names[] = { ".json", "Practice-a.json", "practice-a.JSON.json",
					     ".practice-a.json", "practice a.json" };

	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char *d = make_dir();

		put(d, names[i], WITH_ID(ID_A));
		assert_refused(d, -ZK_ECONFIG, names[i], "file name is not practice_id");
		remove_dir(d);
	}
}
END_TEST

/* The first bad file in name order is the one reported. */
START_TEST(test_first_error_reported)
{
	char *d = make_dir();

	put(d, "practice-c.json", "{}");
	put(d, "practice-b.json", "[]");
	put(d, "practice-a.json", WITH_ID(ID_A));
	assert_refused(d, -ZK_ECONFIG, "practice-b.json", "not a JSON object");
	remove_dir(d);
}
END_TEST

START_TEST(test_not_regular)
{
	char *d = make_dir();
	char path[4200];

	sub_dir(d, "practice-a.json");
	assert_refused(d, -ZK_ECONFIG, "practice-a.json", "not a regular file");
	remove_dir(d);

	/* A FIFO must be refused, not waited on. */
	d = make_dir();
	snprintf(path, sizeof(path), "%s/practice-a.json", d);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	assert_refused(d, -ZK_ECONFIG, "practice-a.json", "not a regular file");
	remove_dir(d);

	d = make_dir();
	snprintf(path, sizeof(path), "%s/practice-a.json", d);
	ck_assert_int_eq(symlink("nowhere.json", path), 0);
	assert_refused(d, -ZK_EIO, "practice-a.json", NULL);
	remove_dir(d);
}
END_TEST

START_TEST(test_unreadable)
{
	char *d;
	char path[4200];
	int fd;

	if (geteuid() == 0)
		return; /* root reads anything */
	d = make_dir();
	put(d, "practice-a.json", WITH_ID(ID_A));
	snprintf(path, sizeof(path), "%s/practice-a.json", d);
	ck_assert_int_eq(chmod(path, 0), 0);
	fd = open(path, O_RDONLY);
	ck_assert_int_lt(fd, 0);
	assert_refused(d, -ZK_EIO, "practice-a.json", NULL);
	remove_dir(d);
}
END_TEST

/* Refused from its size alone (a sparse file), before it is read. */
START_TEST(test_too_large)
{
	char *d = make_dir();
	char path[4200];

	snprintf(path, sizeof(path), "%s/practice-a.json", d);
	put(d, "practice-a.json", "{");
	ck_assert_int_eq(truncate(path, (off_t)REGISTRY_MAX_FILE_BYTES + 1), 0);
	assert_refused(d, -ZK_ECONFIG, "practice-a.json", "larger than");
	ck_assert_int_eq(truncate(path, (off_t)REGISTRY_MAX_FILE_BYTES), 0);
	assert_refused(d, -ZK_ECONFIG, "practice-a.json", "line");
	remove_dir(d);
}
END_TEST

/* ---- limits and many entries ---------------------------------------- */

typedef struct {
	char *p;
	size_t len, cap;
} sbuf_t;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	ck_assert_int_ge(n, 0);
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(b->p);
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A practice-a document with nkeys keys, nsafes safes and njtis jtis,
 * all distinct. */
static char *big_doc(size_t nkeys, size_t nsafes, size_t njtis)
{
	sbuf_t b = { NULL, 0, 0 };

	sb_printf(&b, "{\"practice_id\":\"practice-a\",\"status\":\"active\",\"token_keys\":[");
	for (size_t i = 0; i < nkeys; i++)
		sb_printf(&b, "%s{\"kid\":\"k%zu\",\"public_key\":\"%s\"}", i ? "," : "", i,
			  i % 2 ? PK2 : PK1);
	sb_printf(&b, "],\"data_safes\":[");
	for (size_t i = 0; i < nsafes; i++)
		sb_printf(&b, "%s{\"endpoint_id\":\"safe-%zu\",\"spki_sha256\":\"%s\"}", i ? "," : "",
			  i, i % 2 ? PIN2 : PIN1);
	sb_printf(&b, "],\"revoked_jti\":[");
	for (size_t i = 0; i < njtis; i++)
		sb_printf(&b, "%s\"jti-%zu\"", i ? "," : "", i * 7919);
	sb_printf(&b, "]}");
	return b.p;
}

START_TEST(test_limits)
{
	static const struct {
		size_t k, s, j;
		const char *want; /* NULL: loads */
	} cases[] = {
		{ REGISTRY_MAX_KEYS, 1, 1, NULL },
		{ REGISTRY_MAX_KEYS + 1, 1, 1, "token_keys: more than 64 entries" },
		{ 1, REGISTRY_MAX_SAFES, 1, NULL },
		{ 1, REGISTRY_MAX_SAFES + 1, 1, "data_safes: more than 1024 entries" },
		{ 1, 1, REGISTRY_MAX_JTIS + 1, "revoked_jti: more than 100000 entries" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char *d = make_dir();
		char *doc = big_doc(cases[i].k, cases[i].s, cases[i].j);
		registry_t *reg;

		put(d, "practice-a.json", doc);
		free(doc);
		if (cases[i].want) {
			assert_refused(d, -ZK_ECONFIG, "practice-a.json", cases[i].want);
		} else {
			ck_assert_msg(load(d, &reg) == 0, "%s", err);
			registry_free(reg);
		}
		remove_dir(d);
	}
}
END_TEST

/* Every entry of full lists is found after sorting; near misses are not. */
START_TEST(test_full_lists_lookup)
{
	char *d = make_dir();
	char *doc = big_doc(REGISTRY_MAX_KEYS, REGISTRY_MAX_SAFES, REGISTRY_MAX_JTIS);
	registry_t *reg;
	const registry_practice_t *p;
	uint8_t pin1[32], pin2[32];
	char s[64];

	put(d, "practice-a.json", doc);
	free(doc);
	ck_assert_msg(load(d, &reg) == 0, "%s", err);
	p = find(reg, "practice-a");
	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < REGISTRY_MAX_KEYS; i++) {
		snprintf(s, sizeof(s), "k%zu", i);
		ck_assert_mem_eq(token_key(p, s), i % 2 ? pk2_raw : pk1_raw, 32);
	}
	ck_assert_ptr_null(token_key(p, "k64"));
	hex_to(PIN1, pin1);
	hex_to(PIN2, pin2);
	for (size_t i = 0; i < REGISTRY_MAX_SAFES; i++) {
		snprintf(s, sizeof(s), "safe-%zu", i);
		ck_assert_int_eq(safe_ok(p, s, i % 2 ? pin2 : pin1), 1);
		ck_assert_int_eq(safe_ok(p, s, i % 2 ? pin1 : pin2), 0);
	}
	ck_assert_int_eq(safe_known(p, "safe-1024"), 0);
	for (size_t i = 0; i < REGISTRY_MAX_JTIS; i++) {
		snprintf(s, sizeof(s), "jti-%zu", i * 7919);
		ck_assert_int_eq(revoked(p, s), 1);
		snprintf(s, sizeof(s), "jti-%zu", i * 7919 + 1);
		ck_assert_int_eq(revoked(p, s), 0);
	}
	registry_free(reg);
	remove_dir(d);
}
END_TEST

/* Many practices, with ids that are prefixes of one another and that sort
 * differently as ids than as file names ("p-1" < "p.json" < "p1"). */
START_TEST(test_many_practices)
{
	static const char *const odd[] = { "p", "p-1", "p.1", "p_1", "p1", "p10", "p1-", "q" };
	const size_t n = 500;
	char *d = make_dir();
	registry_t *reg;
	char id[64], name[80], doc[1024];

	for (size_t i = 0; i < n + ARRAY_LEN(odd); i++) {
		if (i < n)
			snprintf(id, sizeof(id), "practice-%zu", i * 37 % n);
		else
			snprintf(id, sizeof(id), "%s", odd[i - n]);
		snprintf(name, sizeof(name), "%s.json", id);
		snprintf(doc, sizeof(doc),
			 "{\"practice_id\":\"%s\",\"status\":\"%s\",\"token_keys\":[],"
			 "\"data_safes\":[],\"revoked_jti\":[\"%s\"]}",
			 id, "suspended", id);
		put(d, name, doc);
	}
	ck_assert_msg(load(d, &reg) == 0, "%s", err);
	ck_assert_uint_eq(registry_count(reg), n + ARRAY_LEN(odd));
	for (size_t i = 0; i < n + ARRAY_LEN(odd); i++) {
		const registry_practice_t *p;

		if (i < n)
			snprintf(id, sizeof(id), "practice-%zu", i);
		else
			snprintf(id, sizeof(id), "%s", odd[i - n]);
		p = find(reg, id);
		ck_assert_msg(p != NULL, "%s not found", id);
		/* the right practice, not a neighbour */
		ck_assert_int_eq(revoked(p, id), 1);
	}
	ck_assert_ptr_null(find(reg, "practice-500"));
	ck_assert_ptr_null(find(reg, "p-"));
	ck_assert_ptr_null(find(reg, "p1-1"));
	registry_free(reg);
	remove_dir(d);
}
END_TEST

/* Loading twice gives two independent registries (reload builds a new one
 * beside the old, which stays valid until freed). */
START_TEST(test_reload_independent)
{
	char *d = good_dir();
	registry_t *r1, *r2;
	const registry_practice_t *a1;

	ck_assert_int_eq(load(d, &r1), 0);
	a1 = find(r1, "practice-a");
	put(d, "practice-a.json", WITH_STATUS(Q("suspended")));
	ck_assert_int_eq(load(d, &r2), 0);
	ck_assert_int_eq(registry_practice_active(find(r2, "practice-a")), 0);
	registry_free(r2);
	ck_assert_int_eq(registry_practice_active(a1), 1);
	ck_assert_ptr_nonnull(token_key(a1, "k2"));
	registry_free(r1);
	remove_dir(d);
}
END_TEST

/* ---- SPKI pins -------------------------------------------------------- */

/* Made with: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256
 * -nodes -subj /CN=kat. Its pin, from
 *   openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum */
static const char kat_pem[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBcDCCARegAwIBAgIUJOoIBzv8PR+ygyh9sXUGePooQ80wCgYIKoZIzj0EAwIw\n"
	"DjEMMAoGA1UEAwwDa2F0MB4XDTI2MTEyOTE4MDY1MFoXDTM2MTEyNjE4MDY1MFow\n"
	"DjEMMAoGA1UEAwwDa2F0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE75VZrdID\n"
	"hHWEwID/5t0fNkjvlYhH8fbsoHNAvJy+/zs+E+93cNR7dfG25KjrHBsISEzPiSJ7\n"
	"8pP5r5thysBbqKNTMFEwHQYDVR0OBBYEFGSUjQU3d+ZUVJR0xTWARvkmIT4hMB8G\n"
	"A1UdIwQYMBaAFGSUjQU3d+ZUVJR0xTWARvkmIT4hMA8GA1UdEwEB/wQFMAMBAf8w\n"
	"CgYIKoZIzj0EAwIDRwAwRAIgWVvEHX16x4j3ZKL2nsR7eLKZ4BJWn+wwjpf8VSkO\n"
	"IpACIE14/3/GtpxNpw8i/4NeEpnywvau1iEA8uyFqgZGn2EP\n"
	"-----END CERTIFICATE-----\n";
#define KAT_PIN "1d4d0438166ff558a31e0cf18bd373c03378aec23d07126ea419c001598e9594"

START_TEST(test_spki_known_answer)
{
	BIO *bio = BIO_new_mem_buf(kat_pem, (int)sizeof(kat_pem) - 1);
	X509 *x;
	uint8_t want[32], got[32];

	ck_assert_ptr_nonnull(bio);
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(x);
	hex_to(KAT_PIN, want);
	ck_assert_int_eq(registry_spki_sha256(x, got), 0);
	ck_assert_mem_eq(got, want, 32);
	X509_free(x);
	BIO_free(bio);
}
END_TEST

/* A certificate signed in memory and read back from DER, as a peer's is:
 * the pin equals SHA-256 over i2d_PUBKEY of the key, which is the DER
 * that "openssl pkey -pubin -outform DER" prints. */
static void check_generated(EVP_PKEY *key)
{
	X509 *x = X509_new(), *back;
	X509_NAME *name = X509_NAME_new();
	unsigned char *der = NULL, *spki = NULL;
	const unsigned char *p;
	uint8_t want[32], got[32];
	unsigned int mdlen = 0;
	const EVP_MD *md;
	int n, m;

	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)"safe-1", -1, -1, 0),
			 1);
	ck_assert_int_eq(X509_set_subject_name(x, name), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, name), 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), 0));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 3600));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	/* Ed25519 signs without a separate digest. */
	md = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	ck_assert_int_gt(X509_sign(x, key, md), 0);
	n = i2d_X509(x, &der);
	ck_assert_int_gt(n, 0);
	p = der;
	back = d2i_X509(NULL, &p, n);
	ck_assert_ptr_nonnull(back);

	m = i2d_PUBKEY(key, &spki);
	ck_assert_int_gt(m, 0);
	ck_assert_int_eq(EVP_Digest(spki, (size_t)m, want, &mdlen, EVP_sha256(), NULL), 1);
	ck_assert_uint_eq(mdlen, 32);

	memset(got, 0, sizeof(got));
	ck_assert_int_eq(registry_spki_sha256(back, got), 0);
	ck_assert_mem_eq(got, want, 32);
	memset(got, 0, sizeof(got));
	ck_assert_int_eq(registry_spki_sha256(x, got), 0);
	ck_assert_mem_eq(got, want, 32);

	OPENSSL_free(spki);
	OPENSSL_free(der);
	X509_free(back);
	X509_NAME_free(name);
	X509_free(x);
	EVP_PKEY_free(key);
}

START_TEST(test_spki_generated_ec)
{
	check_generated(EVP_EC_gen("P-256"));
}
END_TEST

START_TEST(test_spki_generated_ed25519)
{
	check_generated(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
}
END_TEST

/* Two keys, two pins; and the pin a registry holds matches the cert. */
START_TEST(test_spki_pin_in_registry)
{
	EVP_PKEY *k1 = EVP_EC_gen("P-256"), *k2 = EVP_EC_gen("P-256");
	X509 *x1 = X509_new(), *x2 = X509_new();
	uint8_t p1[32], p2[32];
	char hex[65], doc[1024];
	char *d = make_dir();
	registry_t *reg;
	const registry_practice_t *a;

	ck_assert_int_eq(X509_set_pubkey(x1, k1), 1);
	ck_assert_int_eq(X509_set_pubkey(x2, k2), 1);
	ck_assert_int_eq(registry_spki_sha256(x1, p1), 0);
	ck_assert_int_eq(registry_spki_sha256(x2, p2), 0);
	ck_assert(memcmp(p1, p2, 32) != 0);
	for (size_t i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", p1[i]);
	snprintf(doc, sizeof(doc), WITH_SAFES("[" SAFE(Q("safe-1"), Q("%s")) "]"), hex);
	put(d, "practice-a.json", doc);
	ck_assert_int_eq(load(d, &reg), 0);
	a = find(reg, "practice-a");
	ck_assert_int_eq(safe_ok(a, "safe-1", p1), 1);
	ck_assert_int_eq(safe_ok(a, "safe-1", p2), 0);
	registry_free(reg);
	remove_dir(d);
	X509_free(x1);
	X509_free(x2);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
}
END_TEST

START_TEST(test_spki_bad_arguments)
{
	uint8_t out[32], before[32];
	X509 *x = X509_new();

	memset(out, 0x5a, sizeof(out));
	memcpy(before, out, sizeof(out));
	ck_assert_int_eq(registry_spki_sha256(NULL, out), -ZK_EINVAL);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(registry_spki_sha256(x, NULL), -ZK_EINVAL);
	/* No key set: refused or not, out changes only on success. */
	if (registry_spki_sha256(x, out) != 0)
		ck_assert_mem_eq(out, before, 32);
	X509_free(x);
}
END_TEST

Suite *registry_suite(void)
{
	Suite *s = suite_create("registry");
	TCase *good = tcase_create("good");
	TCase *bad = tcase_create("bad");
	TCase *big = tcase_create("big");
	TCase *spki = tcase_create("spki");

	tcase_add_test(good, test_good_loads);
	tcase_add_test(good, test_lookups_use_len);
	tcase_add_test(good, test_null_is_no);
	tcase_add_test(good, test_empty_dir);
	tcase_add_test(good, test_only_other_files);
	tcase_add_test(good, test_reload_independent);
	tcase_add_loop_test(bad, test_refused, 0, (int)ARRAY_LEN(bad_cases));
	tcase_add_test(bad, test_refusal_baseline);
	tcase_add_test(bad, test_refused_file_names);
	tcase_add_test(bad, test_first_error_reported);
	tcase_add_test(bad, test_missing_dir);
	tcase_add_test(bad, test_dir_is_a_file);
	tcase_add_test(bad, test_bad_arguments);
	tcase_add_test(bad, test_err_buffer);
	tcase_add_test(bad, test_not_regular);
	tcase_add_test(bad, test_unreadable);
	tcase_add_test(bad, test_too_large);
	tcase_add_test(big, test_limits);
	tcase_add_test(big, test_full_lists_lookup);
	tcase_add_test(big, test_many_practices);
	tcase_set_timeout(big, 60);
	tcase_add_test(spki, test_spki_known_answer);
	tcase_add_test(spki, test_spki_generated_ec);
	tcase_add_test(spki, test_spki_generated_ed25519);
	tcase_add_test(spki, test_spki_pin_in_registry);
	tcase_add_test(spki, test_spki_bad_arguments);
	suite_add_tcase(s, good);
	suite_add_tcase(s, bad);
	suite_add_tcase(s, big);
	suite_add_tcase(s, spki);
	return s;
}
