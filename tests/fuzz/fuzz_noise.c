/* Noise (common/noise.h) on the receiving side: what an endpoint does with
 * bytes the network handed it. Byte 0 picks the case and the cipher
 * (AES-GCM or ChaChaPoly); the rest is the message:
 *   mode 0  an IK responder reads message 1 (the initiator's e, s, payload)
 *   mode 1  an IK initiator that wrote message 1 reads message 2
 *   mode 2  noise_decrypt on the responder's receiving cipher state at
 *           nonce 0; byte 1 is the length of the associated data that
 *           follows it, the rest is the ciphertext
 * All keys, ephemeral ones included, are fixed (fuzz_common.h), so the
 * seeds (valid messages, tests/fuzz/mkcorpus.c) stay valid and mutations
 * of them reach every step past the first authentication.
 *
 * Beyond "no crash, no leak": errors are among those noise.h documents;
 * a failed read kills the handshake (the next read is -ZK_EPROTO) and
 * wipes the payload buffer; a read that succeeds leaves a handshake that
 * completes and splits; a decrypt that succeeds returns ctlen - 16 bytes
 * that encrypt back to the same ciphertext, advances the nonce by one,
 * and a failed one leaves the nonce alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "zkerr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static noise_cipher_state_t *i_send[2], *r_recv[2];
static uint8_t out[NOISE_MAX_MSG], again[NOISE_MAX_MSG];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static uint8_t m1[NOISE_MAX_MSG], m2[NOISE_MAX_MSG];
	size_t l1, l2;

	for (int c = 0; c < 2; c++)
		fuzz_noise_session((noise_cipher_t)c, m1, &l1, m2, &l2, &i_send[c], &r_recv[c]);
	return 0;
}

static int documented(int rc)
{
	return rc == -ZK_EINVAL || rc == -ZK_ETOOLARGE || rc == -ZK_EMALFORMED ||
	       rc == -ZK_EPROTO || rc == -ZK_ENOMEM;
}

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* Reads msg on hs (whose turn it is to read) and checks the outcome. */
static void read_checked(noise_handshake_t *hs, const uint8_t *msg, size_t len)
{
	size_t plen = 0;
	int rc;

	memset(out, 0xa5, 256);
	rc = noise_read_message(hs, msg, len, out, sizeof(out), &plen);
	if (rc) {
		if (!documented(rc) || !all_zero(out, 256))
			abort(); /* an undocumented error, or payload bytes left behind */
		if (noise_read_message(hs, msg, len, out, sizeof(out), &plen) != -ZK_EPROTO)
			abort(); /* a failed handshake must stay dead */
		return;
	}
	if (plen > len)
		abort();
	if (!noise_handshake_done(hs)) {
		size_t olen;
		if (noise_write_message(hs, NULL, 0, out, sizeof(out), &olen) ||
		    !noise_handshake_done(hs))
			abort();
	}
	noise_cipher_state_t *a = NULL, *b = NULL;
	if (noise_split(hs, &a, &b))
		abort();
	noise_cipher_free(&a);
	noise_cipher_free(&b);
}

static void handshake_case(int initiator, noise_cipher_t cipher, const uint8_t *msg, size_t len)
{
	noise_handshake_t *hs = fuzz_noise_hs(initiator, cipher);

	if (initiator) {
		size_t olen;
		/* Message 1 first: the read below is the second message. */
		if (noise_write_message(hs, NULL, 0, out, sizeof(out), &olen))
			abort();
	}
	read_checked(hs, msg, len);
	noise_handshake_free(&hs);
}

static void decrypt_case(noise_cipher_t cipher, const uint8_t *p, size_t len)
{
	noise_cipher_state_t *rx = r_recv[cipher], *tx = i_send[cipher];
	size_t adlen, ctlen, olen = 0, elen = 0;
	const uint8_t *ad, *ct;
	int rc;

	if (len < 1)
		return;
	adlen = p[0] < len - 1 ? p[0] : len - 1;
	ad = p + 1;
	ct = ad + adlen;
	ctlen = len - 1 - adlen;
	noise_cipher_set_nonce(rx, 0);
	rc = noise_decrypt(rx, adlen ? ad : NULL, adlen, ct, ctlen, out, sizeof(out), &olen);
	if (rc) {
		if (!documented(rc) || noise_cipher_nonce(rx) != 0)
			abort();
		return;
	}
	if (ctlen < NOISE_TAG_LEN || olen != ctlen - NOISE_TAG_LEN || noise_cipher_nonce(rx) != 1)
		abort();
	/* AEAD is deterministic: the sender at the same nonce writes the same
	 * bytes, so nothing was accepted that the sender did not write. */
	noise_cipher_set_nonce(tx, 0);
	if (noise_encrypt(tx, adlen ? ad : NULL, adlen, out, olen, again, sizeof(again), &elen) ||
	    elen != ctlen || memcmp(again, ct, ctlen) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int mode;
	noise_cipher_t cipher;

	if (size < 1)
		return 0;
	mode = data[0] % 3;
	cipher = (noise_cipher_t)((data[0] / 3) % 2);
	if (mode == 2)
		decrypt_case(cipher, data + 1, size - 1);
	else
		handshake_case(mode == 1, cipher, data + 1, size - 1);
	return 0;
}
