/* The Noise Protocol Framework, revision 34, on OpenSSL 3.
 *
 * zkrelay's end-to-end sessions use Noise_IK_25519_AESGCM_SHA256. The
 * patterns NK, KK and XX and the ChaChaPoly cipher are here as well so the
 * implementation can be checked against the published test vectors; DH is
 * always X25519 and the hash always SHA-256.
 *
 * The structure follows the specification (section 5): a cipher state
 * (k, n), a symmetric state (ck, h) and a handshake state (s, e, rs, re)
 * that walks a table of message patterns. After the last handshake message
 * noise_split() hands out one cipher state per direction.
 *
 * Lengths: every Noise message, handshake or transport, is at most
 * NOISE_MAX_MSG bytes (spec section 3); longer input or output is refused.
 *
 * Errors (negative zk_err_t):
 *   -ZK_EINVAL     bad argument, a call out of turn (writing when it is
 *                  the peer's turn, splitting before the handshake is
 *                  done), a key the pattern needs is missing, or a cipher
 *                  state whose nonce is spent (see below)
 *   -ZK_ETOOLARGE  a message or payload over NOISE_MAX_MSG, or an output
 *                  buffer too small
 *   -ZK_EMALFORMED a handshake message too short for its tokens
 *   -ZK_EPROTO     authentication failed (wrong key, modified bytes), or
 *                  a DH result that OpenSSL refuses (low-order point)
 *   -ZK_ENOMEM     out of memory or an OpenSSL failure
 * A handshake that failed once refuses every later call with -ZK_EPROTO:
 * its state can no longer match the peer's (spec section 5.3).
 *
 * Nonces: n = 2^64-1 is reserved (spec section 5.1). A cipher state whose
 * counter has reached it refuses to encrypt or decrypt (-ZK_EINVAL) rather
 * than wrap and reuse a nonce; the session must be replaced by a new
 * handshake. */
#ifndef ZK_NOISE_H
#define ZK_NOISE_H

#include <stddef.h>
#include <stdint.h>

#define NOISE_KEY_LEN 32u  /* X25519 public and private keys, cipher keys */
#define NOISE_HASH_LEN 32u /* SHA-256 */
#define NOISE_TAG_LEN 16u  /* AEAD tag */
#define NOISE_MAX_MSG 65535u
/* The reserved nonce value. */
#define NOISE_NONCE_MAX UINT64_MAX

typedef enum {
	NOISE_PATTERN_NK,
	NOISE_PATTERN_KK,
	NOISE_PATTERN_IK,
	NOISE_PATTERN_XX,
} noise_pattern_t;

typedef enum {
	NOISE_CIPHER_AESGCM,     /* AES-256-GCM, nonce 0^32 || n big-endian */
	NOISE_CIPHER_CHACHAPOLY, /* ChaCha20-Poly1305, nonce 0^32 || n little-endian */
} noise_cipher_t;

typedef struct noise_cipher_state noise_cipher_state_t;
typedef struct noise_handshake noise_handshake_t;

/* Starts a handshake (spec section 5.3, Initialize()).
 *
 * s_priv:     our static X25519 private key (32 raw bytes), or NULL if the
 *             pattern sends no static key for our side (NK initiator).
 * rs_pub:     the peer's static public key if the pattern has it as a
 *             pre-message (IK/NK initiator, KK both sides), else NULL.
 *             A key the pattern does not use is ignored.
 * fixed_e_priv: our ephemeral private key, for test vectors only; NULL
 *             draws a fresh random one when the "e" token is written.
 * prologue:   bytes both sides must agree on (may be NULL if plen is 0).
 *
 * 0 and *out, or a negative error with *out untouched. The name is built
 * from pattern and cipher, e.g. "Noise_IK_25519_AESGCM_SHA256". */
int noise_handshake_new(noise_handshake_t **out, noise_pattern_t pattern, noise_cipher_t cipher,
			int initiator, const uint8_t *prologue, size_t plen, const uint8_t *s_priv,
			const uint8_t *rs_pub, const uint8_t *fixed_e_priv);

/* Writes the next handshake message, carrying payload (may be empty) into
 * out (cap bytes); 0 and *olen, or a negative error. Refused when it is
 * the peer's turn or the handshake is done. */
int noise_write_message(noise_handshake_t *hs, const uint8_t *payload, size_t plen, uint8_t *out,
			size_t cap, size_t *olen);

/* Reads the peer's next handshake message (mlen bytes) and writes its
 * decrypted payload to payload_out (cap bytes); 0 and *plen, or a negative
 * error. On any failure the handshake is dead and payload_out is wiped. */
int noise_read_message(noise_handshake_t *hs, const uint8_t *msg, size_t mlen,
		       uint8_t *payload_out, size_t cap, size_t *plen);

/* 1 once every message of the pattern has been written or read. */
int noise_handshake_done(const noise_handshake_t *hs);

/* Our role's turn: 1 if the next handshake call is a write, 0 if a read
 * (meaningless once the handshake is done). */
int noise_handshake_is_my_turn(const noise_handshake_t *hs);

/* The handshake hash h (spec section 5.2, channel binding), valid once the
 * handshake is done; cap >= NOISE_HASH_LEN. */
int noise_handshake_hash(const noise_handshake_t *hs, uint8_t *out, size_t cap);

/* The peer's static public key, once known (pre-message or received);
 * -ZK_EINVAL if not known yet. */
int noise_handshake_remote_static(const noise_handshake_t *hs, uint8_t *out, size_t cap);

/* Split() (spec section 5.2): after the handshake, two cipher states, one
 * for what we send and one for what we receive, already in the right order
 * for our role. The handshake keeps nothing the cipher states need and
 * should be freed. */
int noise_split(noise_handshake_t *hs, noise_cipher_state_t **send_cs,
		noise_cipher_state_t **recv_cs);

/* Wipes and frees; sets *hs to NULL. NULL and *hs == NULL are no-ops. */
void noise_handshake_free(noise_handshake_t **hs);

/* Transport messages: EncryptWithAd / DecryptWithAd with the cipher
 * state's counter as nonce. noise_encrypt writes ptlen + NOISE_TAG_LEN
 * bytes (at most NOISE_MAX_MSG); noise_decrypt writes ctlen -
 * NOISE_TAG_LEN bytes and leaves the counter unchanged on failure, so a
 * forged message does not desynchronise the session. out may equal the
 * input. ad may be NULL if adlen is 0. */
int noise_encrypt(noise_cipher_state_t *cs, const uint8_t *ad, size_t adlen, const uint8_t *pt,
		  size_t ptlen, uint8_t *out, size_t cap, size_t *olen);
int noise_decrypt(noise_cipher_state_t *cs, const uint8_t *ad, size_t adlen, const uint8_t *ct,
		  size_t ctlen, uint8_t *out, size_t cap, size_t *olen);

/* SetNonce (spec section 5.1), for tests of nonce exhaustion and for
 * explicit-nonce transports: the SDK's receiving side (client/lib/e2e.c)
 * sets the nonce the sender put in the frame; sending never calls it. */
void noise_cipher_set_nonce(noise_cipher_state_t *cs, uint64_t n);
uint64_t noise_cipher_nonce(const noise_cipher_state_t *cs);

void noise_cipher_free(noise_cipher_state_t **cs);

/* The X25519 public key of a raw private key; cap >= NOISE_KEY_LEN. */
int noise_public_key(const uint8_t *priv, uint8_t *out, size_t cap);

#endif
