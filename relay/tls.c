#include "tls.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <time.h>

#include "crlset.h"
#include "zkerr.h"

static int fail(char *err, size_t errlen, const char *what, const char *file)
{
	char ossl[256] = "";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	ERR_clear_error();
	snprintf(err, errlen, "%s%s%s%s%s", what, file ? " " : "", file ? file : "",
		 ossl[0] ? ": " : "", ossl);
	return -ZK_ECERT;
}

/* The CRLs, each verified once here, checked in every handshake by
 * tls_verify_depth(): OpenSSL's own CRL check would verify each CRL's
 * signature again for every certificate of every handshake. */
static int attach_crls(X509_STORE *store, const char *file, char *err, size_t errlen)
{
	crlset_t *set;
	int rc = crlset_load(store, file, time(NULL), &set, err, errlen);

	if (rc)
		return rc;
	if (crlset_attach(store, set)) {
		crlset_free(set);
		return fail(err, errlen, "cannot attach the CRLs of", file);
	}
	return 0;
}

int tls_apply_profile(SSL_CTX *ctx, const char *crl_file, char *err, size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);

	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION))
		return fail(err, errlen, "cannot restrict to TLS 1.3", NULL);
	if (!SSL_CTX_set_ciphersuites(ctx, TLS_SUITES))
		return fail(err, errlen, "cannot set TLS 1.3 suites", NULL);
	if (!SSL_CTX_set1_groups_list(ctx, TLS_GROUPS))
		return fail(err, errlen, "cannot set groups", NULL);
	/* Resumption would skip the client certificate check: no tickets, no
	 * session cache, no early data. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
				 SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2);
	if (!SSL_CTX_set_num_tickets(ctx, 0))
		return fail(err, errlen, "cannot disable tickets", NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (!SSL_CTX_set_max_early_data(ctx, 0) || !SSL_CTX_set_recv_max_early_data(ctx, 0))
		return fail(err, errlen, "cannot disable early data", NULL);
	SSL_CTX_set_read_ahead(ctx, 1);
	/* Idle connections give their 16 KiB record buffers back. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
			   SSL_CTX_get_verify_callback(ctx));
	return attach_crls(store, crl_file, err, errlen) ? -ZK_ECERT : 0;
}

int tls_check_files(const char *ca, const char *cert, const char *key, const char *crl,
		    char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	int rc = -ZK_ECERT;

	if (!ctx)
		return fail(err, errlen, "cannot create TLS context", NULL);
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		fail(err, errlen, "cannot load CA file", ca);
	else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		fail(err, errlen, "cannot load certificate", cert);
	else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		fail(err, errlen, "cannot load private key", key);
	else if (SSL_CTX_check_private_key(ctx) != 1)
		fail(err, errlen, "private key does not match certificate", key);
	else if (tls_apply_profile(ctx, crl, err, errlen) == 0)
		rc = 0;
	SSL_CTX_free(ctx);
	return rc;
}

static X509_STORE *new_store(const char *ca, const char *crl, char *err, size_t errlen)
{
	X509_STORE *store = X509_STORE_new();
	if (!store) {
		fail(err, errlen, "out of memory", NULL);
		return NULL;
	}
	if (X509_STORE_load_file(store, ca) != 1) {
		fail(err, errlen, "cannot load CA file", ca);
		goto bad;
	}
	if (attach_crls(store, crl, err, errlen))
		goto bad;
	return store;
bad:
	X509_STORE_free(store);
	return NULL;
}

int tls_reload(SSL_CTX *ctx, const char *ca, const char *cert, const char *key,
	       const char *crl, char *err, size_t errlen)
{
	X509_STORE *store;

	if (tls_check_files(ca, cert, key, crl, err, errlen))
		return -ZK_ECERT;
	store = new_store(ca, crl, err, errlen);
	if (!store)
		return -ZK_ECERT;
	/* Checked above on a scratch context, so these cannot fail on a
	 * file that changed in between without leaving the old pair intact:
	 * the key is only set after its certificate loaded. */
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		X509_STORE_free(store);
		return fail(err, errlen, "server certificate changed during reload", cert);
	}
	SSL_CTX_set_cert_store(ctx, store); /* frees the old store */
	return 0;
}

int tls_verify_depth(int preverify_ok, X509_STORE_CTX *xs)
{
	return preverify_ok == 1 && crlset_verify_depth(xs);
}

int tls_peer_still_valid(SSL_CTX *ctx, SSL *ssl)
{
	X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
	X509_STORE_CTX *xs;
	int ok = 0;

	if (!cert)
		return 0;
	xs = X509_STORE_CTX_new();
	if (!xs)
		return 1; /* cannot tell: keep the connection, the log says why */
	if (X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(ctx), cert,
				SSL_get_peer_cert_chain(ssl)) == 1) {
		X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_CLIENT);
		X509_STORE_CTX_set_verify_cb(xs, tls_verify_depth);
		ok = X509_verify_cert(xs) == 1;
	}
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return ok;
}

double tls_cert_not_after(const char *pem_path)
{
	FILE *f = fopen(pem_path, "r");
	X509 *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	struct tm tm;
	double t = 0;

	if (f)
		fclose(f);
	if (cert && ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1)
		t = (double)timegm(&tm);
	X509_free(cert);
	return t;
}
