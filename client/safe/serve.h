/* Answering document-protocol requests: the data-safe's last line of
 * defence. The relay checked a token before it routed anything, but the
 * data-safe trusts none of that: every request is checked again here
 * against its grant (practice key signature under the grant assertion,
 * iss, safe, sub == the relay-stamped peer, e2e == the Noise-proven peer
 * key, nbf/exp, patient scope), and audited, allowed or refused, before
 * it is answered. */
#ifndef ZK_SERVE_H
#define ZK_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "hashchain.h"
#include "practice.h"
#include "safecfg.h"
#include "store.h"

typedef struct {
	const safecfg_t *cfg;
	const practice_t *practice;
	const store_t *store;
	hashchain_t *audit;
} serve_t;

/* The session a request came in on. */
typedef struct {
	const char *peer;        /* zkr_session_peer() */
	const uint8_t *peer_key; /* zkr_session_peer_key(), 32 bytes */
} serve_peer_t;

/* Answers one request: 0 and a malloc'd response in *resp (an error
 * response for any refusal), or -ZK_ENOMEM when not even an error
 * response could be built. */
int serve_request(const serve_t *sv, const serve_peer_t *peer, const uint8_t *msg, size_t len,
		  uint8_t **resp, size_t *resp_len);

/* Audits a request refused before it could be read (the SDK dropped a
 * message over the size limit): no op, patient or document, allowed
 * false, reason st. */
void serve_refused(const serve_t *sv, const serve_peer_t *peer, docproto_status_t st);

#endif
