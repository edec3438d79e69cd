/* The certificate revocation lists client chains are checked against.
 *
 * Each CRL is verified once, when it is loaded, against the CA certificate
 * that signed it; a handshake then only looks the certificate's serial up.
 * OpenSSL's own CRL check (X509_V_FLAG_CRL_CHECK_ALL) verified the CRL's
 * signature again in every handshake, once per certificate in the chain:
 * two of a handshake's four ECDSA verifications.
 *
 * Supported: complete, direct CRLs, one per CA. Refused when loading, so
 * that nothing is silently not checked: delta CRLs, issuing distribution
 * points (partitioned or indirect CRLs), any critical extension, a CRL no
 * CA in the store signed (an intermediate CA's CRL too: the intermediate
 * must be in the CA file), a CRL without nextUpdate, not yet valid or past
 * its nextUpdate, two CRLs from one CA. */
#ifndef RELAY_CRLSET_H
#define RELAY_CRLSET_H

#include <openssl/x509.h>
#include <stddef.h>
#include <time.h>

/* Upper bound on CRLs in one file. */
#define CRLSET_MAX 64
/* How far a CRL's thisUpdate may lie ahead of the relay's clock: a CA's
 * clock a little ahead must not keep a fresh revocation from loading. */
#define CRLSET_SKEW_S 300

typedef struct crlset crlset_t;

/* Loads every CRL in the PEM file (at least one) and verifies each against
 * the CA certificates in store. 0 or -ZK_ECERT with the reason in err. */
int crlset_load(X509_STORE *store, const char *file, time_t now, crlset_t **out, char *err,
		size_t errlen);
void crlset_free(crlset_t *s);

/* X509_V_OK if cert, issued by issuer, is covered by a current CRL of that
 * issuer and not on it; else the X509_V_ERR_ code to report:
 * UNABLE_TO_GET_CRL (no CRL from that issuer), CRL_NOT_YET_VALID,
 * CRL_HAS_EXPIRED, CERT_REVOKED. */
int crlset_check(const crlset_t *s, X509 *cert, X509 *issuer, time_t now);

/* Ties the set to the store, replacing (and freeing) any set it had: freed
 * with it (X509_STORE_free). 0, or -1 and the caller still owns s. */
int crlset_attach(X509_STORE *store, crlset_t *s);
/* The set attached to store, NULL if none. */
const crlset_t *crlset_of(X509_STORE *store);

/* For a verify callback: 1 if the certificate at the context's current
 * depth passes revocation (the trust anchor at the top of the chain is
 * not checked, as RFC 5280 path validation does not), else 0 with the
 * context's error set. A store without a set fails every certificate. */
int crlset_verify_depth(X509_STORE_CTX *xs);

#endif
