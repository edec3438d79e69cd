/* Endpoint certificates and tokens in memory. See mint.h. */
#include "mint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "tokenmint.h"

#define CERT_DAYS 1

static int seterr(char *err, size_t errlen, const char *what, const char *path)
{
	unsigned long e = ERR_get_error();

	snprintf(err, errlen, "%s%s%s: %s", what, path ? " " : "", path ? path : "",
		 e ? ERR_reason_error_string(e) : "failed");
	ERR_clear_error();
	return -1;
}

static int load_ca(mint_t *m, const char *pki, char *err, size_t errlen)
{
	char path[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s/ca.crt", pki);
	f = fopen(path, "r");
	if (f == NULL)
		return seterr(err, errlen, "open", path);
	m->ca_cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (m->ca_cert == NULL)
		return seterr(err, errlen, "read", path);
	snprintf(path, sizeof(path), "%s/ca/ca.key", pki);
	f = fopen(path, "r");
	if (f == NULL)
		return seterr(err, errlen, "open", path);
	m->ca_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return m->ca_key ? 0 : seterr(err, errlen, "read", path);
}

/* The shared key and its SPKI hash, the tokens' cnf. */
static int make_key(mint_t *m, char *err, size_t errlen)
{
	unsigned char *der = NULL;
	int len;

	m->key = EVP_EC_gen("P-256");
	if (m->key == NULL)
		return seterr(err, errlen, "P-256 key", NULL);
	len = i2d_PUBKEY(m->key, &der);
	if (len <= 0)
		return seterr(err, errlen, "SPKI", NULL);
	if (EVP_Digest(der, (size_t)len, m->cnf, NULL, EVP_sha256(), NULL) != 1) {
		OPENSSL_free(der);
		return seterr(err, errlen, "SHA-256", NULL);
	}
	OPENSSL_free(der);
	return 0;
}

static int make_ctx(mint_t *m, char *err, size_t errlen)
{
	static const unsigned char alpn[] = "\x08http/1.1";

	m->ctx = SSL_CTX_new(TLS_client_method());
	if (m->ctx == NULL ||
	    !SSL_CTX_set_min_proto_version(m->ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_max_proto_version(m->ctx, TLS1_3_VERSION) ||
	    /* As an endpoint configured for the relay would: its key share
	     * is on a group the relay takes, so no HelloRetryRequest. */
	    !SSL_CTX_set1_groups_list(m->ctx, "P-256:P-384") ||
	    SSL_CTX_set_alpn_protos(m->ctx, alpn, sizeof(alpn) - 1) != 0)
		return seterr(err, errlen, "client context", NULL);
	/* Idle clients by the thousand: buffers only while they are used. */
	SSL_CTX_set_mode(m->ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

int mint_init(mint_t *m, const char *pki, const char *practice, char *err, size_t errlen)
{
	char path[600];

	memset(m, 0, sizeof(*m));
	m->practice = practice;
	if (load_ca(m, pki, err, errlen) < 0 || make_key(m, err, errlen) < 0 ||
	    make_ctx(m, err, errlen) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/%s/token-k1.key", pki, practice);
	if (tokenmint_load_key(path, &m->token_key) != 0) {
		snprintf(err, errlen, "%s: cannot load the token key", path);
		goto fail;
	}
	return 0;
fail:
	mint_free(m);
	return -1;
}

void mint_free(mint_t *m)
{
	X509_free(m->ca_cert);
	EVP_PKEY_free(m->ca_key);
	EVP_PKEY_free(m->key);
	paseto_sk_free(&m->token_key);
	SSL_CTX_free(m->ctx);
	memset(m, 0, sizeof(*m));
}

static int add_ext(X509 *crt, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	int ok = ext != NULL && X509_add_ext(crt, ext, -1) == 1;

	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* Subject, validity and the random serial the CA would give. */
static int fill_cert(const mint_t *m, X509 *crt, const char *endpoint)
{
	X509_NAME *name = X509_get_subject_name(crt);
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int ok;

	if (RAND_bytes(serial, sizeof(serial)) != 1)
		return -1;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(crt)) != NULL &&
	     X509_set_version(crt, X509_VERSION_3) == 1 &&
	     X509_gmtime_adj(X509_getm_notBefore(crt), -3600) != NULL &&
	     X509_gmtime_adj(X509_getm_notAfter(crt), 86400L * CERT_DAYS) != NULL &&
	     X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
					(const unsigned char *)"zkrelay dev", -1, -1, 0) == 1 &&
	     X509_NAME_add_entry_by_txt(name, "OU", MBSTRING_ASC,
					(const unsigned char *)m->practice, -1, -1, 0) == 1 &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
					(const unsigned char *)endpoint, -1, -1, 0) == 1 &&
	     X509_set_issuer_name(crt, X509_get_subject_name(m->ca_cert)) == 1 &&
	     X509_set_pubkey(crt, m->key) == 1;
	BN_free(bn);
	return ok ? 0 : -1;
}

X509 *mint_cert(const mint_t *m, const char *endpoint)
{
	X509 *crt = X509_new();
	X509V3_CTX v3;
	char san[256];

	if (crt == NULL || fill_cert(m, crt, endpoint) < 0)
		goto fail;
	X509V3_set_ctx(&v3, m->ca_cert, crt, NULL, NULL, 0);
	snprintf(san, sizeof(san), "URI:zkrelay://practice/%s/client/%s", m->practice, endpoint);
	if (add_ext(crt, &v3, NID_basic_constraints, "critical,CA:false") < 0 ||
	    add_ext(crt, &v3, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(crt, &v3, NID_ext_key_usage, "clientAuth") < 0 ||
	    add_ext(crt, &v3, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(crt, &v3, NID_authority_key_identifier, "keyid:always") < 0 ||
	    add_ext(crt, &v3, NID_subject_alt_name, san) < 0)
		goto fail;
	if (X509_sign(crt, m->ca_key, EVP_sha256()) <= 0)
		goto fail;
	return crt;
fail:
	ERR_clear_error();
	X509_free(crt);
	return NULL;
}

char *mint_token(const mint_t *m, const char *endpoint, const char *aud)
{
	char sub[160], addrs[16][160];
	const char *dst[16];
	tokenmint_t t = { .iss = m->practice, .kid = "k1", .sub = sub, .aud = aud,
			  .jti = endpoint, .dst = dst, .ndst = 16 };
	char *tok = NULL;

	snprintf(sub, sizeof(sub), "%s/%s", m->practice, endpoint);
	for (int i = 0; i < 16; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "%s/safe-%d", m->practice, i + 1);
		dst[i] = addrs[i];
	}
	memcpy(t.cnf, m->cnf, sizeof(t.cnf));
	t.iat = t.nbf = (int64_t)time(NULL);
	t.exp = t.iat + 3600;
	return tokenmint(m->token_key, &t, &tok) == 0 ? tok : NULL;
}
