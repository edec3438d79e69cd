/* Endpoint identities made in memory, for scenarios with thousands of
 * connections: the dev PKI holds a handful of endpoint certificates, and
 * the relay admits one connection per identity (a second one replaces the
 * first).
 *
 * Every minted certificate is signed by the dev CA (PKI/ca/ca.key) and
 * names client CLIENT of practice PRACTICE in the URI SAN the relay reads;
 * all share one P-256 key, so one access-token cnf fits all of them.
 * Tokens are minted with the practice's token key (PKI/PRACTICE/
 * token-k1.key), as its data-safe would. Nothing here touches the disk
 * beyond reading those two keys and the CA certificate. */
#ifndef ZK_BENCH_MINT_H
#define ZK_BENCH_MINT_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "paseto.h"

typedef struct {
	const char *practice;
	X509 *ca_cert;
	EVP_PKEY *ca_key;
	EVP_PKEY *key;        /* the endpoints' shared key */
	paseto_sk_t *token_key;
	uint8_t cnf[32];      /* SHA-256 of the shared key's SPKI */
	SSL_CTX *ctx;         /* TLS 1.3 client context for all of them */
} mint_t;

/* Loads the CA, the practice's token key, makes the shared key and the
 * client context (which does not verify the relay: the scenarios measure
 * the relay's side of the handshake). 0, or -1 with a message in err. */
int mint_init(mint_t *m, const char *pki, const char *practice, char *err, size_t errlen);
void mint_free(mint_t *m);

/* A certificate for PRACTICE/client ENDPOINT, valid for a day. NULL on
 * failure. The caller frees it with X509_free(). */
X509 *mint_cert(const mint_t *m, const char *endpoint);

/* A one-hour access token for PRACTICE/ENDPOINT to the practice's
 * safe-1..safe-16 with relay id aud. malloc'd, or NULL. */
char *mint_token(const mint_t *m, const char *endpoint, const char *aud);

#endif
