/* The TLS profile of DESIGN.md, applied to the SSL_CTX libwebsockets
 * creates: TLS 1.3 only, the two AES-GCM suites, P-384/P-256, client
 * certificate required and checked against the CA and CRL, no tickets,
 * no resumption, no 0-RTT, no renegotiation. */
#ifndef RELAY_TLS_H
#define RELAY_TLS_H

#include <stddef.h>
#include <openssl/ssl.h>

/* AES-128 first (the server's preference decides): the handshake's P-256
 * and ECDSA P-256 stand at the 128-bit level anyway, what the relay
 * carries is already sealed end to end (Noise, AES-256-GCM), and AES-256
 * costs a quarter more per byte (3.3 against 2.7 GB/s here), on every
 * byte relayed, twice. Clients that offer only AES-256 still get it. */
#define TLS_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384"
/* P-256 first: a client whose key share the relay must choose (after a
 * HelloRetryRequest) gets P-256, whose ECDHE costs OpenSSL 3 a fourteenth
 * of P-384's (0.07 ms against 1 ms an operation on the reference machine),
 * at the 128-bit level the AES-128 suite already sets. P-384 stays
 * accepted for clients that offer only it. */
#define TLS_GROUPS "P-256:P-384"

/* 0 or -ZK_ECERT with err filled. */
int tls_apply_profile(SSL_CTX *ctx, const char *crl_file, char *err, size_t errlen);
/* SIGHUP: loads the CA bundle, CRL, server certificate and key afresh and
 * puts them into the live ctx, for every handshake from now on. Nothing
 * changes unless all of them load. */
int tls_reload(SSL_CTX *ctx, const char *ca, const char *cert, const char *key,
	       const char *crl, char *err, size_t errlen);
/* The verify callback's verdict for one certificate of a client chain:
 * OpenSSL's (preverify_ok), then revocation against the CRLs loaded with
 * the store (crlset.h). 1 to go on, 0 with the context's error set. */
int tls_verify_depth(int preverify_ok, X509_STORE_CTX *xs);
/* 1 if the peer certificate of ssl still verifies against ctx's store
 * (CA and CRL as now loaded). */
int tls_peer_still_valid(SSL_CTX *ctx, SSL *ssl);
/* notAfter of the (first) certificate in a PEM file, Unix seconds; 0 if
 * it cannot be read. */
double tls_cert_not_after(const char *pem_path);
/* Loads and cross-checks the files without starting anything
 * (--check-config): CA, CRL, server certificate and its key. */
int tls_check_files(const char *ca, const char *cert, const char *key, const char *crl,
		    char *err, size_t errlen);

#endif
