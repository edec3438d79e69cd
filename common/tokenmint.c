#include "tokenmint.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64url.h"
#include "zkerr.h"

void tokenmint_time(int64_t t, char *buf, size_t cap)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *claims(const tokenmint_t *t)
{
	char iat[32], nbf[32], exp[32], cnf[64];
	size_t n;
	json_t *dst = json_array(), *j;

	if (!dst || b64url_encode(t->cnf, 32, cnf, sizeof(cnf) - 1, &n))
		goto fail;
	cnf[n] = '\0'; /* the encoder writes no terminator */
	for (size_t i = 0; i < t->ndst; i++)
		if (json_array_append_new(dst, json_string(t->dst[i])))
			goto fail;
	tokenmint_time(t->iat, iat, sizeof(iat));
	tokenmint_time(t->nbf, nbf, sizeof(nbf));
	tokenmint_time(t->exp, exp, sizeof(exp));
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "iss", t->iss, "sub",
		      t->sub, "aud", t->aud, "iat", iat, "nbf", nbf, "exp", exp, "jti", t->jti,
		      "cnf", cnf, "dst", dst);
	return j; /* json_pack's "o" took dst, also on failure */
fail:
	json_decref(dst);
	return NULL;
}

int tokenmint(const paseto_sk_t *sk, const tokenmint_t *t, char **token)
{
	json_t *c = claims(t);
	json_t *f = json_pack("{s:s, s:s}", "iss", t->iss, "kid", t->kid);
	char *cs = NULL, *fs = NULL;
	int rc = -ZK_EINVAL;

	if (!c || !f)
		goto out;
	cs = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS);
	fs = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
	if (!cs || !fs)
		goto out;
	rc = paseto_v4_sign(sk, (const uint8_t *)cs, strlen(cs), (const uint8_t *)fs,
			    strlen(fs), NULL, 0, token);
out:
	free(cs);
	free(fs);
	json_decref(c);
	json_decref(f);
	return rc;
}

int tokenmint_load_key(const char *pem_path, paseto_sk_t **out)
{
	FILE *fp = fopen(pem_path, "r");
	EVP_PKEY *k = NULL;
	uint8_t seed[32];
	size_t n = sizeof(seed);
	int rc = -ZK_EIO;

	if (!fp)
		return rc;
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	fclose(fp);
	if (!k || EVP_PKEY_get_base_id(k) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_private_key(k, seed, &n) != 1 || n != sizeof(seed))
		goto out;
	rc = paseto_sk_from_seed(seed, n, out);
out:
	OPENSSL_cleanse(seed, sizeof(seed));
	EVP_PKEY_free(k);
	return rc;
}

int tokenmint_spki_sha256(X509 *cert, uint8_t out[32])
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int len, rc = -ZK_ECERT;

	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (len > 0 && EVP_Digest(der, (size_t)len, out, &mdlen, EVP_sha256(), NULL) == 1 &&
	    mdlen == 32)
		rc = 0;
	OPENSSL_free(der);
	return rc;
}

int tokenmint_cert_cnf(const char *pem_path, uint8_t out[32])
{
	FILE *fp = fopen(pem_path, "r");
	X509 *cert;
	int rc;

	if (!fp)
		return -ZK_EIO;
	cert = PEM_read_X509(fp, NULL, NULL, NULL);
	fclose(fp);
	if (!cert)
		return -ZK_ECERT;
	rc = tokenmint_spki_sha256(cert, out);
	X509_free(cert);
	return rc;
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int tokenmint_parse_time(const char *s, int64_t *out)
{
	int Y, M, D, h, m, sec, oh = 0, om = 0, sign = 0;
	const char *p = s + 19;
	struct tm tm;

	if (strlen(s) < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) ||
	    s[7] != '-' || digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
	    digits(s + 17, 2, &sec))
		return -ZK_EMALFORMED;
	if (*p == '.') {
		const char *q = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == q)
			return -ZK_EMALFORMED;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return -ZK_EMALFORMED;
		p += 6;
	} else {
		return -ZK_EMALFORMED;
	}
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
	if (*p || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) ||
	    h > 23 || m > 59 || sec > 60)
		return -ZK_EMALFORMED;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = Y - 1900;
	tm.tm_mon = M - 1;
	tm.tm_mday = D;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	*out = (int64_t)timegm(&tm) - sign * (int64_t)(oh * 3600 + om * 60);
	return 0;
}
