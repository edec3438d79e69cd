/* One end-to-end session's cryptography: Noise_IK_25519_AESGCM_SHA256.
 *
 * The initiator knows the responder's static key (pinned at enrollment)
 * and sends message 1 (e, es, s, ss); the responder answers with message
 * 2 (e, ee, se). Both payloads are empty: nothing is sent in a handshake
 * that the application wrote.
 *
 * The prologue binds the session to the two relay addresses, as each
 * side sees them, and to the session id the frames carry:
 * "zkrelay.e2e.v1" NUL initiator-address NUL responder-address NUL sid
 * (4 bytes, big-endian). A relay that stamps a wrong source address,
 * splices one endpoint's handshake into another's conversation, or
 * replays a message 1 under another session id makes the handshake
 * fail.
 *
 * Transport messages use explicit nonces: the sender's counter travels
 * as the Data frame's seq, and the receiver takes only nonces above the
 * last one it accepted. So a record the relay lost is simply resent with
 * a fresh nonce, and a replayed or reordered one is refused, without
 * keeping the two counters in lockstep. A nonce is never used twice: the
 * sending counter only moves forward and refuses to wrap (common/noise).
 * The Data frame's stream is authenticated as associated data.
 *
 * Errors: -ZK_EPEERKEY when a handshake message does not authenticate
 * (the peer does not hold the pinned key, or the addresses differ),
 * -ZK_EPROTO for a transport message that fails or is replayed,
 * -ZK_EINVAL for a call out of turn, -ZK_ETOOLARGE, -ZK_ENOMEM. */
#ifndef ZKR_E2E_H
#define ZKR_E2E_H

#include <stddef.h>
#include <stdint.h>

#define E2E_KEY_LEN 32u
#define E2E_HS1_LEN 96u  /* e 32 + encrypted s 48 + empty payload tag 16 */
#define E2E_HS2_LEN 48u  /* e 32 + empty payload tag 16 */

typedef struct e2e e2e_t;

/* Initiator: our static private key, the peer's pinned public key, our
 * address and the peer's, the session id. */
int e2e_initiator_new(e2e_t **out, const uint8_t s_priv[E2E_KEY_LEN],
		      const uint8_t rs_pub[E2E_KEY_LEN], const char *my_addr,
		      const char *peer_addr, uint32_t sid);
/* Responder: our static private key, our address, the peer's as stamped
 * by the relay, the session id from the frame. */
int e2e_responder_new(e2e_t **out, const uint8_t s_priv[E2E_KEY_LEN], const char *my_addr,
		      const char *peer_addr, uint32_t sid);
/* Initiator writes message 1 (E2E_HS1_LEN bytes). */
int e2e_write_hs1(e2e_t *e, uint8_t *out, size_t cap, size_t *olen);
/* Responder reads message 1; afterwards e2e_remote_static() holds the
 * initiator's static key. */
int e2e_read_hs1(e2e_t *e, const uint8_t *msg, size_t n);
/* Responder writes message 2 (E2E_HS2_LEN bytes); the session is then
 * established. */
int e2e_write_hs2(e2e_t *e, uint8_t *out, size_t cap, size_t *olen);
/* Initiator reads message 2; the session is then established. */
int e2e_read_hs2(e2e_t *e, const uint8_t *msg, size_t n);
int e2e_established(const e2e_t *e);
int e2e_remote_static(const e2e_t *e, uint8_t out[E2E_KEY_LEN]);

/* Seals pt (n bytes) into out (n + 16 bytes); *nonce is the nonce used,
 * to be sent as the frame's seq. */
int e2e_seal(e2e_t *e, uint32_t stream, const uint8_t *pt, size_t n, uint8_t *out, size_t cap,
	     size_t *olen, uint64_t *nonce);
/* Opens a transport message sent with nonce; refuses a nonce not above
 * the last accepted one. out gets n - 16 bytes. */
int e2e_open(e2e_t *e, uint32_t stream, uint64_t nonce, const uint8_t *ct, size_t n, uint8_t *out,
	     size_t cap, size_t *olen);

/* Wipes every key and frees; sets *e to NULL. */
void e2e_free(e2e_t **e);

#endif
