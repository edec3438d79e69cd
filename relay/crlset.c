#include "crlset.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zkerr.h"

typedef struct {
	X509_CRL *crl;
	X509 *ca; /* the CA certificate whose key verified the CRL */
	time_t this_update, next_update;
} crl_entry_t;

struct crlset {
	crl_entry_t e[CRLSET_MAX];
	size_t n;
};

static int failf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	ERR_clear_error();
	return -ZK_ECERT;
}

static int to_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = timegm(&tm);
	return 0;
}

/* Same issuer: the same name and the same key, whichever certificate of
 * that CA (a renewed one, say) the chain carries. */
static int same_issuer(X509 *a, X509 *b)
{
	return X509_NAME_cmp(X509_get_subject_name(a), X509_get_subject_name(b)) == 0 &&
	       EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)) == 1;
}

/* What this module does not implement, so must not accept. */
static const char *unsupported(X509_CRL *crl)
{
	const STACK_OF(X509_REVOKED) *revs = X509_CRL_get_REVOKED(crl);

	for (int i = 0; i < X509_CRL_get_ext_count(crl); i++) {
		X509_EXTENSION *x = X509_CRL_get_ext(crl, i);
		int nid = OBJ_obj2nid(X509_EXTENSION_get_object(x));

		if (nid == NID_delta_crl)
			return "a delta CRL";
		if (nid == NID_issuing_distribution_point)
			return "an issuing distribution point";
		if (X509_EXTENSION_get_critical(x))
			return "a critical extension";
	}
	for (int i = 0; i < sk_X509_REVOKED_num(revs); i++) {
		const STACK_OF(X509_EXTENSION) *exts =
			X509_REVOKED_get0_extensions(sk_X509_REVOKED_value(revs, i));

		for (int j = 0; j < sk_X509_EXTENSION_num(exts); j++) {
			X509_EXTENSION *x = sk_X509_EXTENSION_value(exts, j);

			if (OBJ_obj2nid(X509_EXTENSION_get_object(x)) == NID_certificate_issuer)
				return "an indirect entry (certificate issuer)";
			if (X509_EXTENSION_get_critical(x))
				return "an entry with a critical extension";
		}
	}
	return NULL;
}

/* The CA in store that signed crl (name, CA, cRLSign if key usage is
 * given, signature), borrowed; NULL if none. */
static X509 *find_signer(X509_STORE *store, X509_CRL *crl)
{
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);

	for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
		X509 *ca = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		EVP_PKEY *key;

		if (!ca || X509_NAME_cmp(X509_get_subject_name(ca), X509_CRL_get_issuer(crl)) ||
		    X509_check_ca(ca) <= 0 || !(X509_get_key_usage(ca) & KU_CRL_SIGN))
			continue;
		key = X509_get0_pubkey(ca);
		if (key && X509_CRL_verify(crl, key) == 1)
			return ca;
		ERR_clear_error();
	}
	return NULL;
}

/* Checks one CRL and adds it; takes crl in every case. */
static int add(crlset_t *s, X509_STORE *store, X509_CRL *crl, time_t now, const char *file,
	       char *err, size_t errlen)
{
	crl_entry_t e = { .crl = crl };
	const ASN1_TIME *next = X509_CRL_get0_nextUpdate(crl);
	const char *why = NULL;
	char issuer[256];

	X509_NAME_oneline(X509_CRL_get_issuer(crl), issuer, sizeof(issuer));
	if (s->n == CRLSET_MAX)
		why = "too many CRLs in one file";
	else if ((why = unsupported(crl)))
		;
	else if (!next)
		why = "no nextUpdate (RFC 5280 requires one)";
	else if (to_time(X509_CRL_get0_lastUpdate(crl), &e.this_update) ||
		 to_time(next, &e.next_update))
		why = "unreadable thisUpdate or nextUpdate";
	else if (e.this_update > now + CRLSET_SKEW_S)
		why = "not valid yet (thisUpdate is in the future)";
	else if (e.next_update <= now)
		why = "expired (nextUpdate has passed)";
	else if (!(e.ca = find_signer(store, crl)))
		why = "not signed by any CA certificate in the CA file";
	for (size_t i = 0; !why && i < s->n; i++)
		if (same_issuer(s->e[i].ca, e.ca))
			why = "a second CRL from the same CA (give one, the newest)";
	if (why || !X509_up_ref(e.ca)) {
		X509_CRL_free(crl);
		return failf(err, errlen, "CRL from %s in %s: %s", issuer, file,
			     why ? why : "out of memory");
	}
	s->e[s->n++] = e;
	return 0;
}

/* PEM_read_X509_CRL() says NULL at the end of the file and on a broken
 * block alike; only the first is the end. */
static int pem_at_end(void)
{
	unsigned long e = ERR_peek_last_error();

	return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

int crlset_load(X509_STORE *store, const char *file, time_t now, crlset_t **out, char *err,
		size_t errlen)
{
	crlset_t *s = calloc(1, sizeof(*s));
	X509_CRL *crl;
	FILE *f = NULL;
	int rc = -ZK_ECERT;

	*out = NULL;
	if (!s)
		return failf(err, errlen, "out of memory loading %s", file);
	ERR_clear_error();
	f = fopen(file, "r");
	if (!f) {
		failf(err, errlen, "cannot open CRL file %s", file);
		goto done;
	}
	while ((crl = PEM_read_X509_CRL(f, NULL, NULL, NULL)))
		if (add(s, store, crl, now, file, err, errlen))
			goto done;
	if (!pem_at_end()) {
		failf(err, errlen, "CRL file %s: a block that is not a readable CRL", file);
		goto done;
	}
	ERR_clear_error();
	if (s->n == 0) {
		failf(err, errlen, "no CRL in %s", file);
		goto done;
	}
	*out = s;
	s = NULL;
	rc = 0;
done:
	if (f)
		fclose(f);
	crlset_free(s);
	return rc;
}

void crlset_free(crlset_t *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		X509_CRL_free(s->e[i].crl);
		X509_free(s->e[i].ca);
	}
	free(s);
}

int crlset_check(const crlset_t *s, X509 *cert, X509 *issuer, time_t now)
{
	X509_REVOKED *rev;

	for (size_t i = 0; s && i < s->n; i++) {
		const crl_entry_t *e = &s->e[i];

		/* The same certificate (a hash compare) is the usual case. */
		if (X509_cmp(e->ca, issuer) != 0 && !same_issuer(e->ca, issuer))
			continue;
		if (e->this_update > now + CRLSET_SKEW_S)
			return X509_V_ERR_CRL_NOT_YET_VALID;
		if (e->next_update <= now)
			return X509_V_ERR_CRL_HAS_EXPIRED;
		/* Any entry counts, removeFromCRL included: that reason
		 * belongs to delta CRLs, which are not accepted. */
		return X509_CRL_get0_by_cert(e->crl, &rev, cert) ? X509_V_ERR_CERT_REVOKED
								   : X509_V_OK;
	}
	return X509_V_ERR_UNABLE_TO_GET_CRL;
}

static void ex_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	(void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
	crlset_free(ptr);
}

static int ex_index(void)
{
	static int idx = -1;

	if (idx < 0)
		idx = X509_STORE_get_ex_new_index(0, NULL, NULL, NULL, ex_free);
	return idx;
}

/* On failure the caller still owns s. */
int crlset_attach(X509_STORE *store, crlset_t *s)
{
	int idx = ex_index();

	crlset_t *old;

	if (idx < 0)
		return -1;
	old = X509_STORE_get_ex_data(store, idx);
	if (old == s)
		return 0;
	crlset_free(old);
	if (!X509_STORE_set_ex_data(store, idx, s)) {
		X509_STORE_set_ex_data(store, idx, NULL);
		return -1;
	}
	return 0;
}

const crlset_t *crlset_of(X509_STORE *store)
{
	int idx = ex_index();

	return store && idx >= 0 ? X509_STORE_get_ex_data(store, idx) : NULL;
}

int crlset_verify_depth(X509_STORE_CTX *xs)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(xs);
	int depth = X509_STORE_CTX_get_error_depth(xs);
	int n = chain ? sk_X509_num(chain) : 0;
	int e;

	if (depth < 0 || depth >= n) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	if (depth == n - 1)
		return 1; /* the trust anchor */
	e = crlset_check(crlset_of(X509_STORE_CTX_get0_store(xs)), sk_X509_value(chain, depth),
			 sk_X509_value(chain, depth + 1), time(NULL));
	if (e == X509_V_OK)
		return 1;
	X509_STORE_CTX_set_error(xs, e);
	return 0;
}
