/* Noise revision 34: cipher state, symmetric state and handshake state
 * (spec section 5), X25519, AES-256-GCM / ChaCha20-Poly1305 and SHA-256
 * from OpenSSL 3. See noise.h for the interface and error codes. */
#include "noise.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "buf.h"
#include "zkerr.h"

#define HMAC_BLOCK 64u
#define MAX_TOKENS 6
#define MAX_MESSAGES 3

/* ---- Patterns (spec section 7.4 and 7.5) ---- */

typedef enum { TOK_END = 0, TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_SS } token_t;

typedef struct {
	const char *name;
	/* Pre-messages: the initiator's / responder's static key is known to
	 * the peer before the handshake. */
	int pre_init_s;
	int pre_resp_s;
	size_t nmsg;
	/* Message i is written by the initiator when i is even. */
	token_t msg[MAX_MESSAGES][MAX_TOKENS + 1];
} pattern_t;

static const pattern_t patterns[] = {
	[NOISE_PATTERN_NK] = { "NK", 0, 1, 2, {
		{ TOK_E, TOK_ES },
		{ TOK_E, TOK_EE },
	} },
	[NOISE_PATTERN_KK] = { "KK", 1, 1, 2, {
		{ TOK_E, TOK_ES, TOK_SS },
		{ TOK_E, TOK_EE, TOK_SE },
	} },
	[NOISE_PATTERN_IK] = { "IK", 0, 1, 2, {
		{ TOK_E, TOK_ES, TOK_S, TOK_SS },
		{ TOK_E, TOK_EE, TOK_SE },
	} },
	[NOISE_PATTERN_XX] = { "XX", 0, 0, 3, {
		{ TOK_E },
		{ TOK_E, TOK_EE, TOK_S, TOK_ES },
		{ TOK_S, TOK_SE },
	} },
};

static const char *const cipher_names[] = {
	[NOISE_CIPHER_AESGCM] = "AESGCM",
	[NOISE_CIPHER_CHACHAPOLY] = "ChaChaPoly",
};

/* ---- State ---- */

struct noise_cipher_state {
	uint8_t k[NOISE_KEY_LEN];
	int has_k;
	uint64_t n;
	noise_cipher_t cipher;
};

typedef struct {
	noise_cipher_state_t cs;
	uint8_t ck[NOISE_HASH_LEN];
	uint8_t h[NOISE_HASH_LEN];
} symmetric_t;

typedef struct {
	uint8_t priv[NOISE_KEY_LEN];
	uint8_t pub[NOISE_KEY_LEN];
	int has_priv;
	int has_pub;
} keypair_t;

struct noise_handshake {
	symmetric_t ss;
	const pattern_t *pattern;
	keypair_t s, e, rs, re;
	uint8_t fixed_e[NOISE_KEY_LEN];
	int has_fixed_e;
	int initiator;
	size_t msg_index;
	int failed;
};

/* ---- Primitives ---- */

static int sha256(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
		  uint8_t out[NOISE_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int len = 0;
	int rc = -ZK_ENOMEM;

	if (ctx == NULL)
		goto fail;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    (alen > 0 && EVP_DigestUpdate(ctx, a, alen) != 1) ||
	    (blen > 0 && EVP_DigestUpdate(ctx, b, blen) != 1) ||
	    EVP_DigestFinal_ex(ctx, out, &len) != 1 || len != NOISE_HASH_LEN)
		goto fail;
	rc = 0;
fail:
	EVP_MD_CTX_free(ctx);
	return rc;
}

static int hmac(const uint8_t key[NOISE_HASH_LEN], const uint8_t *data, size_t dlen,
		uint8_t out[NOISE_HASH_LEN])
{
	unsigned int len = 0;

	if (HMAC(EVP_sha256(), key, NOISE_HASH_LEN, data, dlen, out, &len) == NULL ||
	    len != NOISE_HASH_LEN)
		return -ZK_ENOMEM;
	return 0;
}

/* HKDF(chaining_key, input_key_material, 2 or 3) as in spec section 4.3:
 * HMAC-SHA256 based, outputs of NOISE_HASH_LEN bytes each; out3 may be
 * NULL. */
static int hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikmlen,
		uint8_t out1[NOISE_HASH_LEN], uint8_t out2[NOISE_HASH_LEN],
		uint8_t out3[NOISE_HASH_LEN])
{
	uint8_t temp_key[NOISE_HASH_LEN];
	uint8_t buf[NOISE_HASH_LEN + 1];
	uint8_t o1[NOISE_HASH_LEN], o2[NOISE_HASH_LEN];
	int rc;

	if ((rc = hmac(ck, ikm, ikmlen, temp_key)) != 0)
		goto fail;
	buf[0] = 0x01;
	if ((rc = hmac(temp_key, buf, 1, o1)) != 0)
		goto fail;
	memcpy(buf, o1, NOISE_HASH_LEN);
	buf[NOISE_HASH_LEN] = 0x02;
	if ((rc = hmac(temp_key, buf, sizeof(buf), o2)) != 0)
		goto fail;
	if (out3 != NULL) {
		memcpy(buf, o2, NOISE_HASH_LEN);
		buf[NOISE_HASH_LEN] = 0x03;
		if ((rc = hmac(temp_key, buf, sizeof(buf), out3)) != 0)
			goto fail;
	}
	/* Outputs may alias ck (MixKey writes ck from ck). */
	memcpy(out1, o1, NOISE_HASH_LEN);
	memcpy(out2, o2, NOISE_HASH_LEN);
fail:
	OPENSSL_cleanse(temp_key, sizeof(temp_key));
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(o1, sizeof(o1));
	OPENSSL_cleanse(o2, sizeof(o2));
	return rc;
}

int noise_public_key(const uint8_t *priv, uint8_t *out, size_t cap)
{
	EVP_PKEY *pk = NULL;
	size_t len = NOISE_KEY_LEN;
	int rc = -ZK_EINVAL;

	if (priv == NULL || out == NULL || cap < NOISE_KEY_LEN)
		goto fail;
	rc = -ZK_ENOMEM;
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, NOISE_KEY_LEN);
	if (pk == NULL || EVP_PKEY_get_raw_public_key(pk, out, &len) != 1 ||
	    len != NOISE_KEY_LEN)
		goto fail;
	rc = 0;
fail:
	EVP_PKEY_free(pk);
	return rc;
}

static int key_set_priv(keypair_t *k, const uint8_t *priv)
{
	int rc;

	memcpy(k->priv, priv, NOISE_KEY_LEN);
	if ((rc = noise_public_key(k->priv, k->pub, sizeof(k->pub))) != 0) {
		OPENSSL_cleanse(k, sizeof(*k));
		return rc;
	}
	k->has_priv = 1;
	k->has_pub = 1;
	return 0;
}

static void key_set_pub(keypair_t *k, const uint8_t *pub)
{
	memcpy(k->pub, pub, NOISE_KEY_LEN);
	k->has_pub = 1;
}

/* DH(priv, pub) -> 32 bytes. OpenSSL refuses an all-zero result (a
 * low-order peer key); spec section 12.1 allows either behaviour, and
 * refusing is the safer one. */
static int dh(const keypair_t *priv, const keypair_t *pub, uint8_t out[NOISE_KEY_LEN])
{
	EVP_PKEY *a = NULL, *b = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t len = NOISE_KEY_LEN;
	int rc = -ZK_EINVAL;

	if (!priv->has_priv || !pub->has_pub)
		goto fail;
	rc = -ZK_ENOMEM;
	a = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv->priv, NOISE_KEY_LEN);
	b = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pub->pub, NOISE_KEY_LEN);
	if (a == NULL || b == NULL || (ctx = EVP_PKEY_CTX_new(a, NULL)) == NULL ||
	    EVP_PKEY_derive_init(ctx) != 1)
		goto fail;
	rc = -ZK_EPROTO;
	if (EVP_PKEY_derive_set_peer(ctx, b) != 1 || EVP_PKEY_derive(ctx, out, &len) != 1 ||
	    len != NOISE_KEY_LEN)
		goto fail;
	rc = 0;
fail:
	if (rc != 0)
		OPENSSL_cleanse(out, NOISE_KEY_LEN);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	return rc;
}

/* ---- CipherState (spec section 5.1) ---- */

static void make_nonce(const noise_cipher_state_t *cs, uint8_t iv[12])
{
	memset(iv, 0, 12);
	for (int i = 0; i < 8; i++) {
		uint8_t byte = (uint8_t)(cs->n >> (8 * i));

		if (cs->cipher == NOISE_CIPHER_AESGCM)
			iv[11 - i] = byte; /* big-endian */
		else
			iv[4 + i] = byte; /* little-endian */
	}
}

/* One AEAD operation. Encrypting writes inlen bytes and the tag to
 * tag; decrypting checks tag. Lengths are below NOISE_MAX_MSG, so the int
 * casts OpenSSL wants cannot truncate. */
static int aead(const noise_cipher_state_t *cs, int enc, const uint8_t *ad, size_t adlen,
		const uint8_t *in, size_t inlen, uint8_t *out, uint8_t tag[NOISE_TAG_LEN])
{
	const EVP_CIPHER *c = cs->cipher == NOISE_CIPHER_AESGCM ? EVP_aes_256_gcm()
							       : EVP_chacha20_poly1305();
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t iv[12];
	int len = 0;
	int rc = -ZK_ENOMEM;

	if (ctx == NULL || c == NULL || adlen > INT_MAX || inlen > NOISE_MAX_MSG)
		goto fail;
	make_nonce(cs, iv);
	if (EVP_CipherInit_ex(ctx, c, NULL, NULL, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)sizeof(iv), NULL) != 1 ||
	    EVP_CipherInit_ex(ctx, NULL, NULL, cs->k, iv, enc) != 1)
		goto fail;
	if (adlen > 0 && EVP_CipherUpdate(ctx, NULL, &len, ad, (int)adlen) != 1)
		goto fail;
	if (inlen > 0 && (EVP_CipherUpdate(ctx, out, &len, in, (int)inlen) != 1 ||
			  (size_t)len != inlen))
		goto fail;
	if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, NOISE_TAG_LEN, tag) != 1)
		goto fail;
	if (EVP_CipherFinal_ex(ctx, out + inlen, &len) != 1) {
		/* For decryption this is the tag check. */
		rc = enc ? -ZK_ENOMEM : -ZK_EPROTO;
		goto fail;
	}
	if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, NOISE_TAG_LEN, tag) != 1)
		goto fail;
	rc = 0;
fail:
	if (rc != 0 && inlen > 0)
		OPENSSL_cleanse(out, inlen);
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

/* EncryptWithAd: without a key the plaintext passes through unchanged.
 * out may equal pt. */
static int cs_encrypt(noise_cipher_state_t *cs, const uint8_t *ad, size_t adlen,
		      const uint8_t *pt, size_t ptlen, uint8_t *out, size_t cap, size_t *olen)
{
	uint8_t tag[NOISE_TAG_LEN];
	size_t need = ptlen + (cs->has_k ? NOISE_TAG_LEN : 0);
	int rc;

	if (ptlen > NOISE_MAX_MSG || need > NOISE_MAX_MSG || need > cap)
		return -ZK_ETOOLARGE;
	if (!cs->has_k) {
		if (ptlen > 0)
			memmove(out, pt, ptlen);
		*olen = ptlen;
		return 0;
	}
	if (cs->n == NOISE_NONCE_MAX)
		return -ZK_EINVAL;
	if ((rc = aead(cs, 1, ad, adlen, pt, ptlen, out, tag)) != 0)
		return rc;
	memcpy(out + ptlen, tag, NOISE_TAG_LEN);
	cs->n++;
	*olen = need;
	return 0;
}

/* DecryptWithAd: the counter advances only on success. */
static int cs_decrypt(noise_cipher_state_t *cs, const uint8_t *ad, size_t adlen,
		      const uint8_t *ct, size_t ctlen, uint8_t *out, size_t cap, size_t *olen)
{
	uint8_t tag[NOISE_TAG_LEN];
	size_t ptlen;
	int rc;

	if (ctlen > NOISE_MAX_MSG)
		return -ZK_ETOOLARGE;
	if (!cs->has_k) {
		if (ctlen > cap)
			return -ZK_ETOOLARGE;
		if (ctlen > 0)
			memmove(out, ct, ctlen);
		*olen = ctlen;
		return 0;
	}
	if (ctlen < NOISE_TAG_LEN)
		return -ZK_EMALFORMED;
	ptlen = ctlen - NOISE_TAG_LEN;
	if (ptlen > cap)
		return -ZK_ETOOLARGE;
	if (cs->n == NOISE_NONCE_MAX)
		return -ZK_EINVAL;
	/* Copy the tag first: out may overlap ct. */
	memcpy(tag, ct + ptlen, NOISE_TAG_LEN);
	if ((rc = aead(cs, 0, ad, adlen, ct, ptlen, out, tag)) != 0)
		return rc;
	cs->n++;
	*olen = ptlen;
	return 0;
}

static void cs_init_key(noise_cipher_state_t *cs, const uint8_t k[NOISE_KEY_LEN])
{
	memcpy(cs->k, k, NOISE_KEY_LEN);
	cs->has_k = 1;
	cs->n = 0;
}

int noise_encrypt(noise_cipher_state_t *cs, const uint8_t *ad, size_t adlen, const uint8_t *pt,
		  size_t ptlen, uint8_t *out, size_t cap, size_t *olen)
{
	if (cs == NULL || out == NULL || olen == NULL || (pt == NULL && ptlen > 0) ||
	    (ad == NULL && adlen > 0))
		return -ZK_EINVAL;
	return cs_encrypt(cs, ad, adlen, pt, ptlen, out, cap, olen);
}

int noise_decrypt(noise_cipher_state_t *cs, const uint8_t *ad, size_t adlen, const uint8_t *ct,
		  size_t ctlen, uint8_t *out, size_t cap, size_t *olen)
{
	if (cs == NULL || out == NULL || olen == NULL || (ct == NULL && ctlen > 0) ||
	    (ad == NULL && adlen > 0))
		return -ZK_EINVAL;
	return cs_decrypt(cs, ad, adlen, ct, ctlen, out, cap, olen);
}

void noise_cipher_set_nonce(noise_cipher_state_t *cs, uint64_t n)
{
	if (cs != NULL)
		cs->n = n;
}

uint64_t noise_cipher_nonce(const noise_cipher_state_t *cs)
{
	return cs != NULL ? cs->n : 0;
}

void noise_cipher_free(noise_cipher_state_t **cs)
{
	if (cs == NULL || *cs == NULL)
		return;
	OPENSSL_cleanse(*cs, sizeof(**cs));
	free(*cs);
	*cs = NULL;
}

/* ---- SymmetricState (spec section 5.2) ---- */

static int mix_hash(symmetric_t *ss, const uint8_t *data, size_t len)
{
	return sha256(ss->h, NOISE_HASH_LEN, data, len, ss->h);
}

static int mix_key(symmetric_t *ss, const uint8_t *ikm, size_t len)
{
	uint8_t temp_k[NOISE_HASH_LEN];
	int rc;

	if ((rc = hkdf(ss->ck, ikm, len, ss->ck, temp_k, NULL)) == 0)
		cs_init_key(&ss->cs, temp_k);
	OPENSSL_cleanse(temp_k, sizeof(temp_k));
	return rc;
}

/* Encrypts (or copies, before the first key) and mixes the result into
 * h. */
static int encrypt_and_hash(symmetric_t *ss, const uint8_t *pt, size_t ptlen, uint8_t *out,
			    size_t cap, size_t *olen)
{
	int rc;

	if ((rc = cs_encrypt(&ss->cs, ss->h, NOISE_HASH_LEN, pt, ptlen, out, cap, olen)) != 0)
		return rc;
	return mix_hash(ss, out, *olen);
}

static int decrypt_and_hash(symmetric_t *ss, const uint8_t *ct, size_t ctlen, uint8_t *out,
			    size_t cap, size_t *olen)
{
	uint8_t h[NOISE_HASH_LEN];
	int rc;

	/* h is mixed with the ciphertext, which out may overwrite. */
	if ((rc = sha256(ss->h, NOISE_HASH_LEN, ct, ctlen, h)) != 0)
		return rc;
	if ((rc = cs_decrypt(&ss->cs, ss->h, NOISE_HASH_LEN, ct, ctlen, out, cap, olen)) != 0)
		return rc;
	memcpy(ss->h, h, NOISE_HASH_LEN);
	return 0;
}

/* InitializeSymmetric(protocol_name). */
static int symmetric_init(symmetric_t *ss, const char *name, noise_cipher_t cipher)
{
	size_t len = strlen(name);
	int rc = 0;

	memset(ss, 0, sizeof(*ss));
	ss->cs.cipher = cipher;
	if (len <= NOISE_HASH_LEN)
		memcpy(ss->h, name, len);
	else if ((rc = sha256((const uint8_t *)name, len, NULL, 0, ss->h)) != 0)
		return rc;
	memcpy(ss->ck, ss->h, NOISE_HASH_LEN);
	return 0;
}

/* ---- HandshakeState (spec section 5.3) ---- */

static int needs_key(const pattern_t *p, int initiator, token_t tok)
{
	for (size_t i = 0; i < p->nmsg; i++) {
		if ((i % 2 == 0) != (initiator != 0))
			continue;
		for (size_t t = 0; p->msg[i][t] != TOK_END; t++)
			if (p->msg[i][t] == tok)
				return 1;
	}
	return 0;
}

int noise_handshake_new(noise_handshake_t **out, noise_pattern_t pattern, noise_cipher_t cipher,
			int initiator, const uint8_t *prologue, size_t plen, const uint8_t *s_priv,
			const uint8_t *rs_pub, const uint8_t *fixed_e_priv)
{
	noise_handshake_t *hs = NULL;
	const pattern_t *p;
	char name[64];
	int my_pre, peer_pre;
	int rc = -ZK_EINVAL;

	if (out == NULL || (unsigned)pattern >= sizeof(patterns) / sizeof(patterns[0]) ||
	    (unsigned)cipher >= sizeof(cipher_names) / sizeof(cipher_names[0]) ||
	    (prologue == NULL && plen > 0))
		goto fail;
	p = &patterns[pattern];
	my_pre = initiator ? p->pre_init_s : p->pre_resp_s;
	peer_pre = initiator ? p->pre_resp_s : p->pre_init_s;
	/* Our static key is needed if we send it or it is a pre-message. */
	if (s_priv == NULL && (my_pre || needs_key(p, initiator, TOK_S)))
		goto fail;
	if (rs_pub == NULL && peer_pre)
		goto fail;
	rc = -ZK_ENOMEM;
	if ((hs = calloc(1, sizeof(*hs))) == NULL)
		goto fail;
	hs->pattern = p;
	hs->initiator = initiator != 0;
	if (s_priv != NULL && (rc = key_set_priv(&hs->s, s_priv)) != 0)
		goto fail;
	if (rs_pub != NULL && peer_pre)
		key_set_pub(&hs->rs, rs_pub);
	if (fixed_e_priv != NULL) {
		memcpy(hs->fixed_e, fixed_e_priv, NOISE_KEY_LEN);
		hs->has_fixed_e = 1;
	}
	snprintf(name, sizeof(name), "Noise_%s_25519_%s_SHA256", p->name, cipher_names[cipher]);
	if ((rc = symmetric_init(&hs->ss, name, cipher)) != 0 ||
	    (rc = mix_hash(&hs->ss, prologue, plen)) != 0)
		goto fail;
	/* Pre-messages, the initiator's first (spec section 7.1). */
	if (p->pre_init_s &&
	    (rc = mix_hash(&hs->ss, initiator ? hs->s.pub : hs->rs.pub, NOISE_KEY_LEN)) != 0)
		goto fail;
	if (p->pre_resp_s &&
	    (rc = mix_hash(&hs->ss, initiator ? hs->rs.pub : hs->s.pub, NOISE_KEY_LEN)) != 0)
		goto fail;
	*out = hs;
	hs = NULL;
	rc = 0;
fail:
	noise_handshake_free(&hs);
	return rc;
}

void noise_handshake_free(noise_handshake_t **hs)
{
	if (hs == NULL || *hs == NULL)
		return;
	OPENSSL_cleanse(*hs, sizeof(**hs));
	free(*hs);
	*hs = NULL;
}

int noise_handshake_done(const noise_handshake_t *hs)
{
	return hs != NULL && !hs->failed && hs->msg_index >= hs->pattern->nmsg;
}

int noise_handshake_is_my_turn(const noise_handshake_t *hs)
{
	return hs != NULL && (hs->msg_index % 2 == 0) == (hs->initiator != 0);
}

/* es / se name the initiator's key first (spec section 7.1). */
static int dh_token(noise_handshake_t *hs, token_t tok)
{
	uint8_t out[NOISE_KEY_LEN];
	const keypair_t *a, *b;
	int rc;

	switch (tok) {
	case TOK_EE:
		a = &hs->e, b = &hs->re;
		break;
	case TOK_ES:
		a = hs->initiator ? &hs->e : &hs->s;
		b = hs->initiator ? &hs->rs : &hs->re;
		break;
	case TOK_SE:
		a = hs->initiator ? &hs->s : &hs->e;
		b = hs->initiator ? &hs->re : &hs->rs;
		break;
	case TOK_SS:
		a = &hs->s, b = &hs->rs;
		break;
	default:
		return -ZK_EINVAL;
	}
	if ((rc = dh(a, b, out)) == 0)
		rc = mix_key(&hs->ss, out, sizeof(out));
	OPENSSL_cleanse(out, sizeof(out));
	return rc;
}

static int write_e(noise_handshake_t *hs, buf_writer_t *w)
{
	uint8_t priv[NOISE_KEY_LEN];
	int rc;

	if (!buf_writer_fits(w, NOISE_KEY_LEN))
		return -ZK_ETOOLARGE;
	if (hs->has_fixed_e)
		memcpy(priv, hs->fixed_e, NOISE_KEY_LEN);
	else if (RAND_priv_bytes(priv, sizeof(priv)) != 1)
		return -ZK_ENOMEM;
	rc = key_set_priv(&hs->e, priv);
	OPENSSL_cleanse(priv, sizeof(priv));
	if (rc != 0)
		return rc;
	buf_put_bytes(w, hs->e.pub, NOISE_KEY_LEN);
	return mix_hash(&hs->ss, hs->e.pub, NOISE_KEY_LEN);
}

/* Encrypts src into the writer's free space. */
static int write_encrypted(noise_handshake_t *hs, buf_writer_t *w, const uint8_t *src,
			   size_t len)
{
	size_t olen = 0;
	int rc;

	if ((rc = encrypt_and_hash(&hs->ss, src, len, w->p + w->len, w->cap - w->len,
				   &olen)) != 0)
		return rc;
	w->len += olen;
	return 0;
}

int noise_write_message(noise_handshake_t *hs, const uint8_t *payload, size_t plen, uint8_t *out,
			size_t cap, size_t *olen)
{
	buf_writer_t w;
	const token_t *tok;
	int rc = -ZK_EINVAL;

	if (hs == NULL || out == NULL || olen == NULL || (payload == NULL && plen > 0))
		return -ZK_EINVAL;
	if (hs->failed)
		return -ZK_EPROTO;
	if (hs->msg_index >= hs->pattern->nmsg || !noise_handshake_is_my_turn(hs))
		return -ZK_EINVAL;
	if (plen > NOISE_MAX_MSG)
		return -ZK_ETOOLARGE;
	buf_writer_init(&w, out, cap < NOISE_MAX_MSG ? cap : NOISE_MAX_MSG);
	for (tok = hs->pattern->msg[hs->msg_index]; *tok != TOK_END; tok++) {
		if (*tok == TOK_E)
			rc = write_e(hs, &w);
		else if (*tok == TOK_S)
			rc = write_encrypted(hs, &w, hs->s.pub, NOISE_KEY_LEN);
		else
			rc = dh_token(hs, *tok);
		if (rc != 0)
			goto fail;
	}
	if ((rc = write_encrypted(hs, &w, payload, plen)) != 0)
		goto fail;
	hs->msg_index++;
	*olen = w.len;
	return 0;
fail:
	OPENSSL_cleanse(out, w.cap);
	hs->failed = 1;
	return rc;
}

static int read_e(noise_handshake_t *hs, buf_reader_t *r)
{
	const uint8_t *p;

	if (buf_read_span(r, NOISE_KEY_LEN, &p) != 0)
		return -ZK_EMALFORMED;
	key_set_pub(&hs->re, p);
	return mix_hash(&hs->ss, hs->re.pub, NOISE_KEY_LEN);
}

static int read_s(noise_handshake_t *hs, buf_reader_t *r)
{
	size_t len = NOISE_KEY_LEN + (hs->ss.cs.has_k ? NOISE_TAG_LEN : 0);
	uint8_t pub[NOISE_KEY_LEN];
	const uint8_t *p;
	size_t olen = 0;
	int rc;

	if (buf_read_span(r, len, &p) != 0)
		return -ZK_EMALFORMED;
	if ((rc = decrypt_and_hash(&hs->ss, p, len, pub, sizeof(pub), &olen)) != 0)
		return rc;
	key_set_pub(&hs->rs, pub);
	return 0;
}

int noise_read_message(noise_handshake_t *hs, const uint8_t *msg, size_t mlen,
		       uint8_t *payload_out, size_t cap, size_t *plen)
{
	buf_reader_t r;
	const token_t *tok;
	const uint8_t *rest;
	size_t n = 0;
	int rc = -ZK_EINVAL;

	if (hs == NULL || payload_out == NULL || plen == NULL || (msg == NULL && mlen > 0))
		return -ZK_EINVAL;
	if (hs->failed)
		return -ZK_EPROTO;
	if (hs->msg_index >= hs->pattern->nmsg || noise_handshake_is_my_turn(hs))
		return -ZK_EINVAL;
	if (mlen > NOISE_MAX_MSG)
		return -ZK_ETOOLARGE;
	buf_reader_init(&r, msg, mlen);
	for (tok = hs->pattern->msg[hs->msg_index]; *tok != TOK_END; tok++) {
		if (*tok == TOK_E)
			rc = read_e(hs, &r);
		else if (*tok == TOK_S)
			rc = read_s(hs, &r);
		else
			rc = dh_token(hs, *tok);
		if (rc != 0)
			goto fail;
	}
	n = buf_avail(&r);
	if (buf_read_span(&r, n, &rest) != 0) {
		rc = -ZK_EMALFORMED;
		goto fail;
	}
	if ((rc = decrypt_and_hash(&hs->ss, rest, n, payload_out, cap, &n)) != 0)
		goto fail;
	hs->msg_index++;
	*plen = n;
	return 0;
fail:
	OPENSSL_cleanse(payload_out, cap < NOISE_MAX_MSG ? cap : NOISE_MAX_MSG);
	hs->failed = 1;
	return rc;
}

int noise_handshake_hash(const noise_handshake_t *hs, uint8_t *out, size_t cap)
{
	if (!noise_handshake_done(hs) || out == NULL || cap < NOISE_HASH_LEN)
		return -ZK_EINVAL;
	memcpy(out, hs->ss.h, NOISE_HASH_LEN);
	return 0;
}

int noise_handshake_remote_static(const noise_handshake_t *hs, uint8_t *out, size_t cap)
{
	if (hs == NULL || hs->failed || !hs->rs.has_pub || out == NULL || cap < NOISE_KEY_LEN)
		return -ZK_EINVAL;
	memcpy(out, hs->rs.pub, NOISE_KEY_LEN);
	return 0;
}

int noise_split(noise_handshake_t *hs, noise_cipher_state_t **send_cs,
		noise_cipher_state_t **recv_cs)
{
	noise_cipher_state_t *c1 = NULL, *c2 = NULL;
	uint8_t k1[NOISE_HASH_LEN], k2[NOISE_HASH_LEN];
	int rc = -ZK_EINVAL;

	if (!noise_handshake_done(hs) || send_cs == NULL || recv_cs == NULL)
		goto fail;
	rc = -ZK_ENOMEM;
	if ((c1 = calloc(1, sizeof(*c1))) == NULL || (c2 = calloc(1, sizeof(*c2))) == NULL)
		goto fail;
	if ((rc = hkdf(hs->ss.ck, k1, 0, k1, k2, NULL)) != 0) /* empty input */
		goto fail;
	/* HASHLEN is 32, so no truncation to the 32-byte cipher key. */
	c1->cipher = c2->cipher = hs->ss.cs.cipher;
	cs_init_key(c1, k1);
	cs_init_key(c2, k2);
	/* c1 carries initiator-to-responder traffic. */
	*send_cs = hs->initiator ? c1 : c2;
	*recv_cs = hs->initiator ? c2 : c1;
	c1 = c2 = NULL;
	rc = 0;
fail:
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	noise_cipher_free(&c1);
	noise_cipher_free(&c2);
	return rc;
}
