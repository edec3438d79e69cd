#include "e2e.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "noise.h"
#include "zkerr.h"

#define PROLOGUE_TAG "zkrelay.e2e.v1"
#define MAX_ADDR 129u

struct e2e {
	noise_handshake_t *hs;
	noise_cipher_state_t *tx, *rx;
	int initiator;
	uint8_t rs[E2E_KEY_LEN]; /* the peer's static key, once known */
	int rs_known;
	int have_rx;       /* a transport message was accepted */
	uint64_t last_rx;  /* its nonce */
};

/* tag NUL initiator NUL responder NUL sid (4 bytes, big-endian) */
static int prologue(uint8_t *out, size_t cap, size_t *olen, const char *ini, const char *resp,
		    uint32_t sid)
{
	size_t t = sizeof(PROLOGUE_TAG) - 1, a = strnlen(ini, MAX_ADDR + 1),
	       b = strnlen(resp, MAX_ADDR + 1);

	if (a == 0 || b == 0 || a > MAX_ADDR || b > MAX_ADDR || t + a + b + 7 > cap)
		return -ZK_EINVAL;
	memcpy(out, PROLOGUE_TAG, t);
	out[t] = 0;
	memcpy(out + t + 1, ini, a);
	out[t + 1 + a] = 0;
	memcpy(out + t + 2 + a, resp, b);
	out[t + 2 + a + b] = 0;
	for (int i = 0; i < 4; i++)
		out[t + 3 + a + b + i] = (uint8_t)(sid >> (24 - 8 * i));
	*olen = t + a + b + 7;
	return 0;
}

static int e2e_new(e2e_t **out, int initiator, const uint8_t *s_priv, const uint8_t *rs_pub,
		   const char *ini, const char *resp, uint32_t sid)
{
	uint8_t pro[sizeof(PROLOGUE_TAG) + 2 * MAX_ADDR + 7];
	size_t plen;
	e2e_t *e;
	int rc;

	if (!out || !s_priv || !ini || !resp)
		return -ZK_EINVAL;
	if ((rc = prologue(pro, sizeof(pro), &plen, ini, resp, sid)) < 0)
		return rc;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ZK_ENOMEM;
	e->initiator = initiator;
	rc = noise_handshake_new(&e->hs, NOISE_PATTERN_IK, NOISE_CIPHER_AESGCM, initiator, pro, plen,
				 s_priv, rs_pub, NULL);
	if (rc < 0) {
		free(e);
		return rc;
	}
	*out = e;
	return 0;
}

int e2e_initiator_new(e2e_t **out, const uint8_t s_priv[E2E_KEY_LEN],
		      const uint8_t rs_pub[E2E_KEY_LEN], const char *my_addr,
		      const char *peer_addr, uint32_t sid)
{
	if (!rs_pub)
		return -ZK_EINVAL;
	return e2e_new(out, 1, s_priv, rs_pub, my_addr, peer_addr, sid);
}

int e2e_responder_new(e2e_t **out, const uint8_t s_priv[E2E_KEY_LEN], const char *my_addr,
		      const char *peer_addr, uint32_t sid)
{
	return e2e_new(out, 0, s_priv, NULL, peer_addr, my_addr, sid);
}

/* The handshake state goes away here; keep the peer's static key. */
static int split(e2e_t *e)
{
	int rc = noise_handshake_remote_static(e->hs, e->rs, sizeof(e->rs));

	if (rc == 0) {
		e->rs_known = 1;
		rc = noise_split(e->hs, &e->tx, &e->rx);
	}

	noise_handshake_free(&e->hs);
	return rc;
}

static int write_hs(e2e_t *e, int want_initiator, size_t want_len, uint8_t *out, size_t cap,
		    size_t *olen)
{
	int rc;

	if (!e || !e->hs || e->initiator != want_initiator || !out || !olen)
		return -ZK_EINVAL;
	rc = noise_write_message(e->hs, NULL, 0, out, cap, olen);
	if (rc < 0)
		return rc;
	if (*olen != want_len)
		return -ZK_EINVAL;
	return noise_handshake_done(e->hs) ? split(e) : 0;
}

static int read_hs(e2e_t *e, int want_initiator, size_t want_len, const uint8_t *msg, size_t n)
{
	uint8_t payload[16];
	size_t plen;
	int rc;

	if (!e || !e->hs || e->initiator != want_initiator || !msg)
		return -ZK_EINVAL;
	if (n != want_len)
		return -ZK_EPEERKEY;
	rc = noise_read_message(e->hs, msg, n, payload, sizeof(payload), &plen);
	if (rc < 0)
		return rc == -ZK_ENOMEM ? rc : -ZK_EPEERKEY;
	if (plen != 0)
		return -ZK_EPEERKEY;
	if (noise_handshake_done(e->hs))
		return split(e);
	rc = noise_handshake_remote_static(e->hs, e->rs, sizeof(e->rs));
	e->rs_known = rc == 0;
	return rc;
}

int e2e_write_hs1(e2e_t *e, uint8_t *out, size_t cap, size_t *olen)
{
	return write_hs(e, 1, E2E_HS1_LEN, out, cap, olen);
}

int e2e_read_hs1(e2e_t *e, const uint8_t *msg, size_t n)
{
	return read_hs(e, 0, E2E_HS1_LEN, msg, n);
}

int e2e_write_hs2(e2e_t *e, uint8_t *out, size_t cap, size_t *olen)
{
	return write_hs(e, 0, E2E_HS2_LEN, out, cap, olen);
}

int e2e_read_hs2(e2e_t *e, const uint8_t *msg, size_t n)
{
	return read_hs(e, 1, E2E_HS2_LEN, msg, n);
}

int e2e_established(const e2e_t *e)
{
	return e && e->tx && e->rx;
}

int e2e_remote_static(const e2e_t *e, uint8_t out[E2E_KEY_LEN])
{
	if (!e || !out)
		return -ZK_EINVAL;
	if (!e->rs_known)
		return -ZK_EINVAL;
	memcpy(out, e->rs, E2E_KEY_LEN);
	return 0;
}

static void stream_ad(uint32_t stream, uint8_t ad[4])
{
	ad[0] = (uint8_t)(stream >> 24);
	ad[1] = (uint8_t)(stream >> 16);
	ad[2] = (uint8_t)(stream >> 8);
	ad[3] = (uint8_t)stream;
}

int e2e_seal(e2e_t *e, uint32_t stream, const uint8_t *pt, size_t n, uint8_t *out, size_t cap,
	     size_t *olen, uint64_t *nonce)
{
	uint8_t ad[4];

	if (!e2e_established(e) || !nonce)
		return -ZK_EINVAL;
	stream_ad(stream, ad);
	*nonce = noise_cipher_nonce(e->tx);
	return noise_encrypt(e->tx, ad, sizeof(ad), pt, n, out, cap, olen);
}

int e2e_open(e2e_t *e, uint32_t stream, uint64_t nonce, const uint8_t *ct, size_t n, uint8_t *out,
	     size_t cap, size_t *olen)
{
	uint8_t ad[4];
	int rc;

	if (!e2e_established(e))
		return -ZK_EINVAL;
	if ((e->have_rx && nonce <= e->last_rx) || nonce == NOISE_NONCE_MAX)
		return -ZK_EPROTO;
	stream_ad(stream, ad);
	noise_cipher_set_nonce(e->rx, nonce);
	rc = noise_decrypt(e->rx, ad, sizeof(ad), ct, n, out, cap, olen);
	if (rc < 0)
		return rc == -ZK_ETOOLARGE || rc == -ZK_ENOMEM ? rc : -ZK_EPROTO;
	e->have_rx = 1;
	e->last_rx = nonce;
	return 0;
}

void e2e_free(e2e_t **e)
{
	if (!e || !*e)
		return;
	noise_handshake_free(&(*e)->hs);
	noise_cipher_free(&(*e)->tx);
	noise_cipher_free(&(*e)->rx);
	OPENSSL_cleanse(*e, sizeof(**e));
	free(*e);
	*e = NULL;
}
