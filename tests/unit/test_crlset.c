/* crlset.c: the CRLs client chains are checked against. Every key,
 * certificate and CRL is made here, at test time, and each CRL file is
 * written as PEM into a fresh directory, the way the relay reads it.
 * Refusals are checked by the reason given, checks by the exact
 * X509_V_ERR_ code, and the verify callback through a real
 * X509_verify_cert(). Run under `make check-asan` the attach tests also
 * show that a replaced or stored set is freed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crlset.h"
#include "suites.h"
#include "tls.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERRLEN 512

/* Key usage of a CA that may sign CRLs, and of one that may not. */
#define KU_CA "critical,keyCertSign,cRLSign"
#define KU_CA_NO_CRL "critical,keyCertSign"

/* Serials: no CRL lists NOBODY, so a CRL that revokes it revokes none of
 * the certificates a test checks. */
enum { ROOT_SERIAL = 1, MID_SERIAL = 10, GOOD = 100, REVOKED = 101, NOBODY = 999 };

typedef struct {
	EVP_PKEY *key;
	X509 *cert;
} ca_t;

static char dir[4096];
static char path[4200];
static char err[ERRLEN];
static time_t now;
static ca_t root;

/* ---- keys, certificates, CRLs ------------------------------------------ */

static EVP_PKEY *key_new(void)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	ck_assert_ptr_nonnull(k);
	return k;
}

/* An extension from its openssl.cnf form ("critical,DER:..." for those
 * OpenSSL has no text form of). */
static X509_EXTENSION *ext_new(int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *x;

	X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, 0);
	X509V3_set_ctx_nodb(&ctx);
	x = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ck_assert_msg(x != NULL, "extension %d = %s", nid, value);
	return x;
}

static void cert_ext(X509 *x, int nid, const char *value)
{
	X509_EXTENSION *e = ext_new(nid, value);

	ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A certificate for key, valid from an hour ago for a day, signed by
 * issuer (by key itself if NULL). ku makes it a CA with that key usage;
 * NULL makes an end-entity certificate. */
static X509 *cert_new(const char *cn, long serial, EVP_PKEY *key, const ca_t *issuer,
		      const char *ku)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ck_assert_int_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), serial), 1);
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
						    (const unsigned char *)cn, -1, -1, 0),
			 1);
	ck_assert_int_eq(X509_set_subject_name(x, name), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert)
							 : name),
			 1);
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	cert_ext(x, NID_basic_constraints, ku ? "critical,CA:TRUE" : "critical,CA:FALSE");
	cert_ext(x, NID_key_usage, ku ? ku : "critical,digitalSignature");
	ck_assert_int_gt(X509_sign(x, issuer ? issuer->key : key, EVP_sha256()), 0);
	X509_NAME_free(name);
	return x;
}

/* A CA named cn under parent (self-signed if NULL). */
static void ca_init(ca_t *ca, const char *cn, long serial, const char *ku, const ca_t *parent)
{
	ca->key = key_new();
	ca->cert = cert_new(cn, serial, ca->key, parent, ku);
}

static void ca_free(ca_t *ca)
{
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	ca->cert = NULL;
	ca->key = NULL;
}

static X509 *leaf_new(const ca_t *ca, long serial)
{
	EVP_PKEY *k = key_new();
	X509 *x = cert_new("client", serial, k, ca, NULL);

	EVP_PKEY_free(k);
	return x;
}

static void set_time(ASN1_TIME **t, time_t when)
{
	*t = ASN1_TIME_set(NULL, when);
	ck_assert_ptr_nonnull(*t);
}

/* An unsigned v2 CRL in ca's name, valid from this_update to next_update
 * (0: no nextUpdate). */
static X509_CRL *crl_new(const ca_t *ca, time_t this_update, time_t next_update)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t, *n = NULL;

	ck_assert_ptr_nonnull(crl);
	set_time(&t, this_update);
	ck_assert_int_eq(X509_CRL_set_version(crl, X509_CRL_VERSION_2), 1);
	ck_assert_int_eq(X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)), 1);
	ck_assert_int_eq(X509_CRL_set1_lastUpdate(crl, t), 1);
	if (next_update) {
		set_time(&n, next_update);
		ck_assert_int_eq(X509_CRL_set1_nextUpdate(crl, n), 1);
	}
	ASN1_TIME_free(t);
	ASN1_TIME_free(n);
	return crl;
}

/* Lists serial; the entry stays the CRL's. */
static X509_REVOKED *crl_revoke(X509_CRL *crl, long serial)
{
	X509_REVOKED *r = X509_REVOKED_new();
	ASN1_INTEGER *sn = ASN1_INTEGER_new();
	ASN1_TIME *when;

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(sn);
	set_time(&when, now - 600);
	ck_assert_int_eq(ASN1_INTEGER_set(sn, serial), 1);
	ck_assert_int_eq(X509_REVOKED_set_serialNumber(r, sn), 1);
	ck_assert_int_eq(X509_REVOKED_set_revocationDate(r, when), 1);
	ck_assert_int_eq(X509_CRL_add0_revoked(crl, r), 1);
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(when);
	return r;
}

static X509_CRL *crl_sign(X509_CRL *crl, EVP_PKEY *key)
{
	ck_assert_int_eq(X509_CRL_sort(crl), 1);
	ck_assert_int_gt(X509_CRL_sign(crl, key, EVP_sha256()), 0);
	return crl;
}

/* ca's current CRL (from a minute ago for an hour), revoking serial. */
static X509_CRL *crl_of(const ca_t *ca, long serial)
{
	X509_CRL *crl = crl_new(ca, now - 60, now + 3600);

	crl_revoke(crl, serial);
	return crl_sign(crl, ca->key);
}

/* ---- the CRL file and the store ----------------------------------------- */

static void put_text(const char *text)
{
	FILE *f = fopen(path, "a");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* Appends crl to the file and frees it. */
static void put_crl(X509_CRL *crl)
{
	FILE *f = fopen(path, "a");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509_CRL(f, crl), 1);
	ck_assert_int_eq(fclose(f), 0);
	X509_CRL_free(crl);
}

/* A store trusting a and, unless NULL, b. */
static X509_STORE *store_of(const ca_t *a, const ca_t *b)
{
	X509_STORE *s = X509_STORE_new();

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(X509_STORE_add_cert(s, a->cert), 1);
	if (b)
		ck_assert_int_eq(X509_STORE_add_cert(s, b->cert), 1);
	return s;
}

static crlset_t *load_at(X509_STORE *store, time_t at)
{
	crlset_t *set = NULL;
	int rc = crlset_load(store, path, at, &set, err, sizeof(err));

	ck_assert_msg(rc == 0, "crlset_load: %d %s", rc, err);
	ck_assert_ptr_nonnull(set);
	return set;
}

/* The root's CRL, revoking REVOKED, loaded against a store of the root. */
static crlset_t *root_set(X509_STORE **store)
{
	put_crl(crl_of(&root, REVOKED));
	*store = store_of(&root, NULL);
	return load_at(*store, now);
}

/* crlset_check of a new leaf of ca, as issued by issuer. */
static int check_leaf(const crlset_t *set, const ca_t *ca, long serial, X509 *issuer, time_t at)
{
	X509 *leaf = leaf_new(ca, serial);
	int e = crlset_check(set, leaf, issuer, at);

	X509_free(leaf);
	return e;
}

static void setup(void)
{
	const char *base = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/zkrelay-crlset.XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/crl.pem", dir);
	err[0] = '\0';
	now = time(NULL);
	ca_init(&root, "zkrelay test root CA", ROOT_SERIAL, KU_CA, NULL);
}

static void teardown(void)
{
	ca_free(&root);
	unlink(path);
	rmdir(dir);
}

/* ---- load and check ----------------------------------------------------- */

START_TEST(test_good_leaf_ok)
{
	X509_STORE *store;
	crlset_t *set = root_set(&store);

	ck_assert_int_eq(check_leaf(set, &root, GOOD, root.cert, now), X509_V_OK);
	crlset_free(set);
	X509_STORE_free(store);
}
END_TEST

START_TEST(test_revoked_leaf)
{
	X509_STORE *store;
	crlset_t *set = root_set(&store);

	ck_assert_int_eq(check_leaf(set, &root, REVOKED, root.cert, now),
			 X509_V_ERR_CERT_REVOKED);
	crlset_free(set);
	X509_STORE_free(store);
}
END_TEST

/* A CA in the store, but no CRL of it in the file: not checked is not
 * passed. */
START_TEST(test_ca_without_crl)
{
	X509_STORE *store;
	crlset_t *set = root_set(&store);
	ca_t other;

	ca_init(&other, "zkrelay other CA", 2, KU_CA, NULL);
	ck_assert_int_eq(X509_STORE_add_cert(store, other.cert), 1);
	ck_assert_int_eq(check_leaf(set, &other, GOOD, other.cert, now),
			 X509_V_ERR_UNABLE_TO_GET_CRL);
	ca_free(&other);
	crlset_free(set);
	X509_STORE_free(store);
}
END_TEST

/* An issuer with the root's name but another key is another CA: the
 * root's CRL does not speak for it. */
START_TEST(test_same_name_other_key)
{
	X509_STORE *store;
	crlset_t *set = root_set(&store);
	ca_t twin;

	ca_init(&twin, "zkrelay test root CA", ROOT_SERIAL, KU_CA, NULL);
	ck_assert_int_eq(check_leaf(set, &twin, GOOD, twin.cert, now),
			 X509_V_ERR_UNABLE_TO_GET_CRL);
	ca_free(&twin);
	crlset_free(set);
	X509_STORE_free(store);
}
END_TEST

START_TEST(test_no_set)
{
	ck_assert_int_eq(check_leaf(NULL, &root, GOOD, root.cert, now),
			 X509_V_ERR_UNABLE_TO_GET_CRL);
}
END_TEST

/* Loaded a second before nextUpdate, checked a second after it. */
START_TEST(test_expires_after_load)
{
	X509_STORE *store = store_of(&root, NULL);
	time_t next = now + 3600;
	crlset_t *set;

	put_crl(crl_of(&root, REVOKED));
	set = load_at(store, next - 1);
	ck_assert_int_eq(check_leaf(set, &root, GOOD, root.cert, next - 1), X509_V_OK);
	/* At nextUpdate itself it has expired, as OpenSSL has it. */
	ck_assert_int_eq(check_leaf(set, &root, GOOD, root.cert, next),
			 X509_V_ERR_CRL_HAS_EXPIRED);
	ck_assert_int_eq(check_leaf(set, &root, GOOD, root.cert, next + 1),
			 X509_V_ERR_CRL_HAS_EXPIRED);
	ck_assert_int_eq(check_leaf(set, &root, REVOKED, root.cert, next + 1),
			 X509_V_ERR_CRL_HAS_EXPIRED);
	crlset_free(set);
	X509_STORE_free(store);
}
END_TEST

/* A clock set back after the load: within CRLSET_SKEW_S of thisUpdate
 * (now - 60) still fine, beyond it the CRL is not valid yet. */
START_TEST(test_not_yet_valid_after_load)
{
	X509_STORE *store;
	crlset_t *set = root_set(&store);

	ck_assert_int_eq(check_leaf(set, &root, GOOD, root.cert, now - 60 - CRLSET_SKEW_S),
			 X509_V_OK);
	ck_assert_int_eq(check_leaf(set, &root, GOOD, root.cert, now - 61 - CRLSET_SKEW_S),
			 X509_V_ERR_CRL_NOT_YET_VALID);
	crlset_free(set);
	X509_STORE_free(store);
}
END_TEST

/* The root CA certificate reissued (same name and key, another serial and
 * validity) is the same issuer: its leaves are checked against the CRL
 * the first certificate verified. */
START_TEST(test_renewed_ca_same_issuer)
{
	X509_STORE *store;
	crlset_t *set = root_set(&store);
	X509 *renewed = cert_new("zkrelay test root CA", ROOT_SERIAL + 1, root.key, NULL, KU_CA);

	ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(renewed), -7200));
	ck_assert_int_gt(X509_sign(renewed, root.key, EVP_sha256()), 0);
	ck_assert_int_ne(X509_cmp(renewed, root.cert), 0);
	ck_assert_int_eq(check_leaf(set, &root, GOOD, renewed, now), X509_V_OK);
	ck_assert_int_eq(check_leaf(set, &root, REVOKED, renewed, now),
			 X509_V_ERR_CERT_REVOKED);
	X509_free(renewed);
	crlset_free(set);
	X509_STORE_free(store);
}
END_TEST

/* ---- load refused ------------------------------------------------------- */

/* Each writes the CRL file of one refused case and returns the store to
 * load it against. */
typedef X509_STORE *(*scene_fn)(void);

static X509_STORE *scene_wrong_key(void)
{
	EVP_PKEY *k = key_new();

	put_crl(crl_sign(crl_new(&root, now - 60, now + 3600), k));
	EVP_PKEY_free(k);
	return store_of(&root, NULL);
}

static X509_STORE *scene_ca_not_in_store(void)
{
	ca_t other;

	ca_init(&other, "zkrelay other CA", 2, KU_CA, NULL);
	put_crl(crl_of(&other, NOBODY));
	ca_free(&other);
	return store_of(&root, NULL);
}

static X509_STORE *scene_no_crl_sign(void)
{
	ca_t ca;
	X509_STORE *s;

	ca_init(&ca, "zkrelay CA without cRLSign", 2, KU_CA_NO_CRL, NULL);
	put_crl(crl_of(&ca, NOBODY));
	s = store_of(&ca, NULL);
	ca_free(&ca);
	return s;
}

static X509_STORE *scene_expired(void)
{
	put_crl(crl_sign(crl_new(&root, now - 7200, now - 1), root.key));
	return store_of(&root, NULL);
}

static X509_STORE *scene_future(void)
{
	put_crl(crl_sign(crl_new(&root, now + CRLSET_SKEW_S + 1, now + 7200), root.key));
	return store_of(&root, NULL);
}

static X509_STORE *scene_at_next_update(void)
{
	put_crl(crl_sign(crl_new(&root, now - 7200, now), root.key));
	return store_of(&root, NULL);
}

static X509_STORE *scene_no_next_update(void)
{
	put_crl(crl_sign(crl_new(&root, now - 60, 0), root.key));
	return store_of(&root, NULL);
}

static X509_STORE *scene_two_from_one_ca(void)
{
	put_crl(crl_of(&root, REVOKED));
	put_crl(crl_of(&root, NOBODY));
	return store_of(&root, NULL);
}

/* The root's CRL with one extension, in openssl.cnf form, on the CRL or
 * on an entry. */
static X509_STORE *scene_ext(int on_entry, int nid, const char *value)
{
	X509_CRL *crl = crl_new(&root, now - 60, now + 3600);
	X509_REVOKED *entry = crl_revoke(crl, NOBODY);
	X509_EXTENSION *e = ext_new(nid, value);

	ck_assert_int_eq(on_entry ? X509_REVOKED_add_ext(entry, e, -1) : X509_CRL_add_ext(crl, e, -1),
			 1);
	X509_EXTENSION_free(e);
	put_crl(crl_sign(crl, root.key));
	return store_of(&root, NULL);
}

static X509_STORE *scene_empty(void)
{
	put_text("");
	return store_of(&root, NULL);
}

static X509_STORE *scene_garbage_after(void)
{
	put_crl(crl_of(&root, REVOKED));
	put_text("-----BEGIN X509 CRL-----\nAAAAAAAA\n-----END X509 CRL-----\n");
	return store_of(&root, NULL);
}

static X509_STORE *scene_missing(void)
{
	return store_of(&root, NULL);
}

/* A case either has a scene or is the root's CRL with the extension nid
 * (on an entry if on_entry). OpenSSL has no text form for some values:
 * DER 02 01 07 is INTEGER 7, 0a 01 01 ENUMERATED 1 (keyCompromise),
 * 30 05 81 03 61 40 62 GeneralNames { rfc822Name "a@b" }. */
static const struct {
	const char *name;
	scene_fn scene;
	int on_entry, nid;
	const char *ext;
	const char *reason;
} refused[] = {
	{ "signed by another key", scene_wrong_key, 0, 0, NULL,
	  "not signed by any CA certificate" },
	{ "CA not in store", scene_ca_not_in_store, 0, 0, NULL,
	  "not signed by any CA certificate" },
	{ "CA without cRLSign", scene_no_crl_sign, 0, 0, NULL,
	  "not signed by any CA certificate" },
	{ "nextUpdate passed", scene_expired, 0, 0, NULL, "expired (nextUpdate has passed)" },
	{ "nextUpdate now", scene_at_next_update, 0, 0, NULL, "expired (nextUpdate has passed)" },
	{ "thisUpdate ahead beyond the skew", scene_future, 0, 0, NULL, "not valid yet" },
	{ "no nextUpdate", scene_no_next_update, 0, 0, NULL, "no nextUpdate" },
	{ "two from one CA", scene_two_from_one_ca, 0, 0, NULL, "a second CRL from the same CA" },
	{ "delta CRL", NULL, 0, NID_delta_crl, "DER:02:01:07", "a delta CRL" },
	/* Not critical, so that only the IDP check can refuse it. */
	{ "issuing distribution point", NULL, 0, NID_issuing_distribution_point,
	  "onlyuser:TRUE", "an issuing distribution point" },
	{ "critical extension", NULL, 0, NID_crl_number, "critical,DER:02:01:07",
	  "a critical extension" },
	{ "certificateIssuer entry", NULL, 1, NID_certificate_issuer,
	  "DER:30:05:81:03:61:40:62", "(certificate issuer)" },
	{ "critical entry extension", NULL, 1, NID_crl_reason, "critical,DER:0a:01:01",
	  "an entry with a critical extension" },
	{ "empty file", scene_empty, 0, 0, NULL, "no CRL in" },
	{ "garbage block", scene_garbage_after, 0, 0, NULL, "a block that is not a readable CRL" },
	{ "missing file", scene_missing, 0, 0, NULL, "cannot open CRL file" },
};

START_TEST(test_load_refused)
{
	X509_STORE *store = refused[_i].scene ? refused[_i].scene()
					      : scene_ext(refused[_i].on_entry, refused[_i].nid,
							  refused[_i].ext);
	crlset_t *set = (crlset_t *)&set; /* not NULL: the refusal must clear it */
	int rc = crlset_load(store, path, now, &set, err, sizeof(err));

	ck_assert_msg(rc == -ZK_ECERT, "%s: rc %d", refused[_i].name, rc);
	ck_assert_ptr_null(set);
	ck_assert_msg(strstr(err, refused[_i].reason) != NULL, "%s: \"%s\" lacks \"%s\"",
		      refused[_i].name, err, refused[_i].reason);
	X509_STORE_free(store);
}
END_TEST

/* ---- attach ------------------------------------------------------------- */

START_TEST(test_attach_found)
{
	X509_STORE *store, *bare = X509_STORE_new();
	crlset_t *set = root_set(&store);

	ck_assert_ptr_nonnull(bare);
	ck_assert_ptr_null(crlset_of(store));
	ck_assert_int_eq(crlset_attach(store, set), 0);
	ck_assert_ptr_eq(crlset_of(store), set);
	ck_assert_ptr_null(crlset_of(bare));
	ck_assert_ptr_null(crlset_of(NULL));
	X509_STORE_free(bare);
	X509_STORE_free(store);
}
END_TEST

/* The first set is freed by the second attach, the second by
 * X509_STORE_free: under ASan a leak of either fails this test. */
START_TEST(test_attach_replaces_and_frees)
{
	X509_STORE *store;
	crlset_t *first = root_set(&store);
	crlset_t *second = load_at(store, now);

	ck_assert_int_eq(crlset_attach(store, first), 0);
	ck_assert_int_eq(crlset_attach(store, second), 0);
	ck_assert_ptr_eq(crlset_of(store), second);
	X509_STORE_free(store);
}
END_TEST

/* ---- crlset_verify_depth in X509_verify_cert ----------------------------- */

/* Verifies leaf (with mid, if not NULL, as the peer's untrusted
 * intermediate) through the relay's verify callback; returns the
 * context's error and sets *depth to its depth. */
static int verify(X509_STORE *store, X509 *leaf, const ca_t *mid, int *depth)
{
	X509_STORE_CTX *xs = X509_STORE_CTX_new();
	STACK_OF(X509) *peer = sk_X509_new_null();
	int ok, e;

	ck_assert_ptr_nonnull(xs);
	ck_assert_ptr_nonnull(peer);
	if (mid)
		ck_assert_int_gt(sk_X509_push(peer, mid->cert), 0);
	ck_assert_int_eq(X509_STORE_CTX_init(xs, store, leaf, peer), 1);
	X509_STORE_CTX_set_verify_cb(xs, tls_verify_depth);
	ok = X509_verify_cert(xs);
	e = X509_STORE_CTX_get_error(xs);
	*depth = X509_STORE_CTX_get_error_depth(xs);
	ck_assert_msg((ok == 1) == (e == X509_V_OK), "verify %d, error %d", ok, e);
	X509_STORE_CTX_free(xs);
	sk_X509_free(peer);
	return e;
}

/* A chain under the root, through an intermediate CA if mid; both CAs
 * are in the store. Each CA's CRL revokes the serial given, or is left
 * out if it is 0; with no CRL at all, the store has no set. */
static const struct {
	const char *name;
	int mid;
	long leaf, root_revokes, mid_revokes;
	int error, depth;
} chains[] = {
	{ "good leaf", 0, GOOD, REVOKED, 0, X509_V_OK, 0 },
	{ "revoked leaf", 0, REVOKED, REVOKED, 0, X509_V_ERR_CERT_REVOKED, 0 },
	/* The trust anchor is not checked (RFC 5280 6.1), not even against
	 * a CRL of its own that lists it. */
	{ "root lists itself", 0, GOOD, ROOT_SERIAL, 0, X509_V_OK, 0 },
	{ "store without a set", 0, GOOD, 0, 0, X509_V_ERR_UNABLE_TO_GET_CRL, 0 },
	{ "good leaf of intermediate", 1, GOOD, NOBODY, REVOKED, X509_V_OK, 0 },
	{ "leaf revoked by intermediate", 1, REVOKED, NOBODY, REVOKED, X509_V_ERR_CERT_REVOKED,
	  0 },
	{ "intermediate revoked by root", 1, GOOD, MID_SERIAL, REVOKED, X509_V_ERR_CERT_REVOKED,
	  1 },
	/* The root's CRL covers the intermediate, nothing its leaves. */
	{ "intermediate without CRL", 1, GOOD, NOBODY, 0, X509_V_ERR_UNABLE_TO_GET_CRL, 0 },
};

START_TEST(test_verify_chain)
{
	ca_t mid = { 0 };
	const ca_t *peer_mid = chains[_i].mid ? &mid : NULL;
	X509_STORE *store;
	X509 *leaf;
	int depth = -1, e;

	if (peer_mid)
		ca_init(&mid, "zkrelay test intermediate CA", MID_SERIAL, KU_CA, &root);
	store = store_of(&root, peer_mid);
	leaf = leaf_new(peer_mid ? peer_mid : &root, chains[_i].leaf);
	if (chains[_i].root_revokes)
		put_crl(crl_of(&root, chains[_i].root_revokes));
	if (chains[_i].mid_revokes)
		put_crl(crl_of(&mid, chains[_i].mid_revokes));
	if (chains[_i].root_revokes || chains[_i].mid_revokes)
		ck_assert_int_eq(crlset_attach(store, load_at(store, now)), 0);
	e = verify(store, leaf, peer_mid, &depth);
	ck_assert_msg(e == chains[_i].error && depth == chains[_i].depth,
		      "%s: error %d at depth %d, want %d at %d", chains[_i].name, e, depth,
		      chains[_i].error, chains[_i].depth);
	X509_free(leaf);
	ca_free(&mid);
	X509_STORE_free(store);
}
END_TEST

/* A test case of s whose every test runs in a fresh directory under a
 * new root CA. */
static TCase *tcase_in(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	suite_add_tcase(s, tc);
	return tc;
}

Suite *crlset_suite(void)
{
	Suite *s = suite_create("crlset");
	TCase *check = tcase_in(s, "check");
	TCase *attach = tcase_in(s, "attach");

	tcase_add_test(check, test_good_leaf_ok);
	tcase_add_test(check, test_revoked_leaf);
	tcase_add_test(check, test_ca_without_crl);
	tcase_add_test(check, test_same_name_other_key);
	tcase_add_test(check, test_no_set);
	tcase_add_test(check, test_expires_after_load);
	tcase_add_test(check, test_not_yet_valid_after_load);
	tcase_add_test(check, test_renewed_ca_same_issuer);
	tcase_add_loop_test(tcase_in(s, "load"), test_load_refused, 0, (int)ARRAY_LEN(refused));
	tcase_add_test(attach, test_attach_found);
	tcase_add_test(attach, test_attach_replaces_and_frees);
	tcase_add_loop_test(tcase_in(s, "verify"), test_verify_chain, 0, (int)ARRAY_LEN(chains));
	return s;
}
