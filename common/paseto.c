/* PASETO v4.public on OpenSSL 3 Ed25519; see paseto.h.
 *
 * Ed25519 signs the whole message itself (it hashes internally with
 * SHA-512), so the EVP_DigestSign/EVP_DigestVerify calls take a NULL
 * digest and the complete PAE in one call.
 *
 * The private key lives only inside the EVP_PKEY; OpenSSL wipes it when
 * the key is freed. Our own copies of anything derived from it are wiped
 * here before they are freed. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "buf.h"
#include "paseto.h"
#include "zkerr.h"

#define HEADER PASETO_V4_PUBLIC_HEADER
#define HEADER_LEN (sizeof(HEADER) - 1)
/* PAE of four pieces: the count, then a length before each piece. */
#define PAE_FIXED (8 + 4 * 8 + HEADER_LEN)

typedef struct {
	const char *body;
	size_t body_len;
	const char *foot; /* NULL if the token has no footer */
	size_t foot_len;
} parts_t;

/* ---- Keys ---- */

/* A key is usable only if a constructor made it: the stamp is intact and
 * the EVP_PKEY is Ed25519. Guards against zeroed, freed or foreign
 * structures passed where a key belongs. */
static int key_ok(const char *header, const EVP_PKEY *pkey)
{
	return memcmp(header, HEADER, sizeof(HEADER)) == 0 && pkey != NULL &&
	       EVP_PKEY_get_id(pkey) == EVP_PKEY_ED25519;
}

/* Takes ownership of pkey, also on failure. */
static int pk_wrap(EVP_PKEY *pkey, paseto_pk_t **out)
{
	paseto_pk_t *k = malloc(sizeof(*k));

	if (k == NULL) {
		EVP_PKEY_free(pkey);
		return -ZK_ENOMEM;
	}
	memcpy(k->header, HEADER, sizeof(HEADER));
	k->pkey = pkey;
	*out = k;
	return 0;
}

static int sk_wrap(EVP_PKEY *pkey, paseto_sk_t **out)
{
	paseto_sk_t *k = malloc(sizeof(*k));

	if (k == NULL) {
		EVP_PKEY_free(pkey);
		return -ZK_ENOMEM;
	}
	memcpy(k->header, HEADER, sizeof(HEADER));
	k->pkey = pkey;
	*out = k;
	return 0;
}

int paseto_pk_from_raw(const uint8_t *raw, size_t len, paseto_pk_t **out)
{
	EVP_PKEY *pkey;

	if (raw == NULL || len != PASETO_KEY_LEN || out == NULL)
		return -ZK_EINVAL;
	pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw, len);
	if (pkey == NULL) {
		ERR_clear_error();
		return -ZK_EINVAL;
	}
	return pk_wrap(pkey, out);
}

int paseto_sk_from_seed(const uint8_t *seed, size_t len, paseto_sk_t **out)
{
	EVP_PKEY *pkey;

	if (seed == NULL || len != PASETO_KEY_LEN || out == NULL)
		return -ZK_EINVAL;
	pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, len);
	if (pkey == NULL) {
		ERR_clear_error();
		return -ZK_EINVAL;
	}
	return sk_wrap(pkey, out);
}

/* The public half is recomputed from the seed and must match: signing
 * with a seed and a public key that do not belong together can leak the
 * private key, so a mismatched pair is refused rather than trusted. */
int paseto_sk_from_keypair(const uint8_t *sk, size_t len, paseto_sk_t **out)
{
	paseto_sk_t *k = NULL;
	uint8_t pub[PASETO_KEY_LEN];
	size_t pub_len = sizeof(pub);
	int rc;

	if (sk == NULL || len != 2 * PASETO_KEY_LEN || out == NULL)
		return -ZK_EINVAL;
	rc = paseto_sk_from_seed(sk, PASETO_KEY_LEN, &k);
	if (rc != 0)
		goto out;
	rc = -ZK_EINVAL;
	if (EVP_PKEY_get_raw_public_key(k->pkey, pub, &pub_len) != 1 || pub_len != PASETO_KEY_LEN)
		goto out;
	if (CRYPTO_memcmp(pub, sk + PASETO_KEY_LEN, PASETO_KEY_LEN) != 0)
		goto out;
	*out = k;
	k = NULL;
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error();
	paseto_sk_free(&k);
	return rc;
}

int paseto_sk_generate(paseto_sk_t **out)
{
	EVP_PKEY *pkey;

	if (out == NULL)
		return -ZK_EINVAL;
	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (pkey == NULL) {
		ERR_clear_error();
		return -ZK_ENOMEM;
	}
	return sk_wrap(pkey, out);
}

int paseto_pk_from_sk(const paseto_sk_t *sk, paseto_pk_t **out)
{
	uint8_t pub[PASETO_KEY_LEN];
	size_t pub_len = sizeof(pub);

	if (sk == NULL || !key_ok(sk->header, sk->pkey) || out == NULL)
		return -ZK_EINVAL;
	if (EVP_PKEY_get_raw_public_key(sk->pkey, pub, &pub_len) != 1 ||
	    pub_len != PASETO_KEY_LEN) {
		ERR_clear_error();
		return -ZK_EINVAL;
	}
	return paseto_pk_from_raw(pub, pub_len, out);
}

int paseto_pk_to_raw(const paseto_pk_t *pk, uint8_t *out, size_t cap)
{
	size_t len = PASETO_KEY_LEN;

	if (pk == NULL || !key_ok(pk->header, pk->pkey) || out == NULL || cap < PASETO_KEY_LEN)
		return -ZK_EINVAL;
	if (EVP_PKEY_get_raw_public_key(pk->pkey, out, &len) != 1 || len != PASETO_KEY_LEN) {
		ERR_clear_error();
		return -ZK_EINVAL;
	}
	return 0;
}

void paseto_pk_free(paseto_pk_t **pk)
{
	if (pk == NULL || *pk == NULL)
		return;
	EVP_PKEY_free((*pk)->pkey);
	OPENSSL_cleanse(*pk, sizeof(**pk));
	free(*pk);
	*pk = NULL;
}

void paseto_sk_free(paseto_sk_t **sk)
{
	if (sk == NULL || *sk == NULL)
		return;
	EVP_PKEY_free((*sk)->pkey);
	OPENSSL_cleanse(*sk, sizeof(**sk));
	free(*sk);
	*sk = NULL;
}

/* ---- Pre-authentication encoding ---- */

/* LE64 clears the top bit so that implementations in languages without
 * unsigned 64-bit integers read the same value (PASETO spec, PAE). */
static void pae_put_le64(buf_writer_t *w, uint64_t n)
{
	uint8_t b[8];

	n &= UINT64_MAX >> 1;
	for (unsigned k = 0; k < sizeof(b); k++)
		b[k] = (uint8_t)(n >> (8 * k));
	buf_put_bytes(w, b, sizeof(b));
}

static void pae_put_piece(buf_writer_t *w, const void *p, size_t n)
{
	pae_put_le64(w, n);
	buf_put_bytes(w, p, n);
}

/* PAE(HEADER, m, f, i) into a malloc'd buffer. The caller bounds mlen and
 * flen; ilen comes from the caller unbounded, hence the overflow check. */
static int pae_build(const uint8_t *m, size_t mlen, const uint8_t *f, size_t flen,
		     const uint8_t *i, size_t ilen, uint8_t **out, size_t *out_len)
{
	size_t total = PAE_FIXED + mlen + flen;
	buf_writer_t w;
	uint8_t *p;

	if (ilen > SIZE_MAX - total)
		return -ZK_EINVAL;
	total += ilen;
	p = malloc(total);
	if (p == NULL)
		return -ZK_ENOMEM;
	buf_writer_init(&w, p, total);
	pae_put_le64(&w, 4);
	pae_put_piece(&w, HEADER, HEADER_LEN);
	pae_put_piece(&w, m, mlen);
	pae_put_piece(&w, f, flen);
	pae_put_piece(&w, i, ilen);
	if (!buf_writer_ok(&w) || w.len != total) {
		OPENSSL_cleanse(p, total);
		free(p);
		return -ZK_EINVAL;
	}
	*out = p;
	*out_len = total;
	return 0;
}

static void wipe_free(uint8_t *p, size_t n)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, n);
	free(p);
}

/* ---- Tokens ---- */

/* Splits "v4.public." body [ "." footer ]. The header is compared as
 * bytes, case and all; the token never selects anything. The parts are
 * not decoded here. */
static int split(const char *token, size_t len, parts_t *p)
{
	buf_reader_t r;
	const uint8_t *hdr, *rest, *dot;
	size_t rest_len;

	if (len > PASETO_MAX_TOKEN)
		return -ZK_ETOKEN;
	buf_reader_init(&r, (const uint8_t *)token, len);
	if (buf_read_span(&r, HEADER_LEN, &hdr) != 0 || memcmp(hdr, HEADER, HEADER_LEN) != 0)
		return -ZK_ETOKEN;
	rest_len = buf_avail(&r);
	if (buf_read_span(&r, rest_len, &rest) != 0 || rest_len == 0)
		return -ZK_ETOKEN;
	dot = memchr(rest, '.', rest_len);
	p->body = (const char *)rest;
	p->body_len = dot != NULL ? (size_t)(dot - rest) : rest_len;
	p->foot = NULL;
	p->foot_len = 0;
	if (dot == NULL)
		return 0;
	p->foot = (const char *)dot + 1;
	p->foot_len = rest_len - p->body_len - 1;
	/* "v4.public.body." would be a fourth part that is empty, and a dot
	 * inside the footer a fifth part: neither has a meaning. */
	if (p->body_len == 0 || p->foot_len == 0 || memchr(p->foot, '.', p->foot_len) != NULL)
		return -ZK_ETOKEN;
	return 0;
}

int paseto_v4_sign(const paseto_sk_t *sk, const uint8_t *m, size_t mlen, const uint8_t *f,
		   size_t flen, const uint8_t *i, size_t ilen, char **token)
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t *pae = NULL, *body = NULL;
	size_t pae_len = 0, body_len, tok_len, pos, n, sig_len = PASETO_SIG_LEN;
	char *tok = NULL;
	int rc;

	if (sk == NULL || !key_ok(sk->header, sk->pkey) || token == NULL)
		return -ZK_EINVAL;
	if ((m == NULL && mlen > 0) || (f == NULL && flen > 0) || (i == NULL && ilen > 0))
		return -ZK_EINVAL;
	/* Both bounds keep the length sums below from wrapping. */
	if (mlen > PASETO_MAX_TOKEN || flen > PASETO_MAX_TOKEN)
		return -ZK_EINVAL;
	body_len = mlen + PASETO_SIG_LEN;
	tok_len = HEADER_LEN + b64url_encoded_len(body_len);
	if (flen > 0)
		tok_len += 1 + b64url_encoded_len(flen);
	if (tok_len > PASETO_MAX_TOKEN)
		return -ZK_EINVAL;

	rc = pae_build(m, mlen, f, flen, i, ilen, &pae, &pae_len);
	if (rc != 0)
		goto out;
	rc = -ZK_ENOMEM;
	body = malloc(body_len);
	tok = malloc(tok_len + 1);
	ctx = EVP_MD_CTX_new();
	if (body == NULL || tok == NULL || ctx == NULL)
		goto out;
	if (mlen > 0)
		memcpy(body, m, mlen);
	rc = -ZK_EINVAL;
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, sk->pkey) != 1)
		goto out;
	if (EVP_DigestSign(ctx, body + mlen, &sig_len, pae, pae_len) != 1 ||
	    sig_len != PASETO_SIG_LEN)
		goto out;

	memcpy(tok, HEADER, HEADER_LEN);
	pos = HEADER_LEN;
	if (b64url_encode(body, body_len, tok + pos, tok_len - pos, &n) != 0)
		goto out;
	pos += n;
	if (flen > 0) {
		tok[pos++] = '.';
		if (b64url_encode(f, flen, tok + pos, tok_len - pos, &n) != 0)
			goto out;
		pos += n;
	}
	if (pos != tok_len)
		goto out;
	tok[pos] = '\0';
	*token = tok;
	tok = NULL;
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	wipe_free(pae, pae_len);
	wipe_free(body, body != NULL ? body_len : 0);
	wipe_free((uint8_t *)tok, tok != NULL ? tok_len + 1 : 0);
	return rc;
}

int paseto_v4_verify(const paseto_pk_t *pk, const char *token, size_t token_len,
		     const uint8_t *implicit, size_t implicit_len, uint8_t **msg, size_t *msg_len,
		     uint8_t **footer, size_t *footer_len)
{
	EVP_MD_CTX *ctx = NULL;
	parts_t p;
	uint8_t *body = NULL, *foot = NULL, *pae = NULL;
	size_t body_cap = 0, foot_cap = 0, body_len = 0, foot_len = 0, pae_len = 0, mlen;
	int rc;

	if (pk == NULL || !key_ok(pk->header, pk->pkey) || token == NULL)
		return -ZK_EINVAL;
	if ((implicit == NULL && implicit_len > 0) || msg == NULL || msg_len == NULL ||
	    footer == NULL || footer_len == NULL)
		return -ZK_EINVAL;
	rc = split(token, token_len, &p);
	if (rc != 0)
		goto out;

	/* Room for one NUL after each decoded part. */
	body_cap = b64url_decoded_len(p.body_len) + 1;
	foot_cap = b64url_decoded_len(p.foot_len) + 1;
	rc = -ZK_ENOMEM;
	body = malloc(body_cap);
	foot = malloc(foot_cap);
	ctx = EVP_MD_CTX_new();
	if (body == NULL || foot == NULL || ctx == NULL)
		goto out;
	rc = -ZK_ETOKEN;
	if (b64url_decode(p.body, p.body_len, body, body_cap, &body_len) != 0 ||
	    body_len < PASETO_SIG_LEN)
		goto out;
	if (b64url_decode(p.foot, p.foot_len, foot, foot_cap, &foot_len) != 0)
		goto out;
	mlen = body_len - PASETO_SIG_LEN;

	/* The footer as it stands in the token is part of the signed PAE, so a
	 * footer changed in transit fails the signature below. */
	rc = pae_build(body, mlen, foot, foot_len, implicit, implicit_len, &pae, &pae_len);
	if (rc != 0)
		goto out;
	rc = -ZK_EINVAL;
	if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk->pkey) != 1)
		goto out;
	rc = -ZK_ETOKEN;
	if (EVP_DigestVerify(ctx, body + mlen, PASETO_SIG_LEN, pae, pae_len) != 1)
		goto out;

	body[mlen] = 0;
	foot[foot_len] = 0;
	*msg = body;
	*msg_len = mlen;
	*footer = foot;
	*footer_len = foot_len;
	body = NULL;
	foot = NULL;
	rc = 0;
out:
	if (rc != 0)
		ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	wipe_free(pae, pae_len);
	wipe_free(body, body_cap);
	wipe_free(foot, foot_cap);
	return rc;
}

int paseto_v4_footer(const char *token, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	parts_t p;
	size_t n;
	int rc;

	if (token == NULL || (out == NULL && cap > 0) || out_len == NULL)
		return -ZK_EINVAL;
	rc = split(token, len, &p);
	if (rc != 0)
		return rc;
	rc = b64url_decode(p.foot, p.foot_len, out, cap, &n);
	if (rc != 0)
		return rc == -ZK_EMALFORMED ? -ZK_ETOKEN : rc;
	*out_len = n;
	return 0;
}
