/* Many client connections at once: the idle-connection and
 * reconnect-storm scenarios.
 *
 * Each member is a client endpoint of one practice with its own minted
 * certificate and token (mint.h), on the blocking test client. Members are
 * connected by a few threads, each working through its share one
 * connection at a time (TCP, TLS 1.3 with the client certificate, the
 * WebSocket upgrade, Hello and Welcome), so that many handshakes are in
 * flight at the relay at once while the generator stays small. */
#ifndef ZK_BENCH_FLEET_H
#define ZK_BENCH_FLEET_H

#include <stddef.h>

#include "../tests/integration/tclient.h"
#include "mint.h"

typedef struct {
	const mint_t *mint;
	int port;
	size_t n;
	size_t threads;
	tclient_t **conns;  /* NULL where not connected */
	X509 **certs;
	char **tokens;
} fleet_t;

/* Mints n identities "idle-0" .. "idle-(n-1)" of mint's practice with
 * tokens for relay id aud. 0, or -1 with a message in err. */
int fleet_init(fleet_t *f, const mint_t *mint, int port, const char *aud, size_t n,
	       size_t threads, char *err, size_t errlen);
void fleet_free(fleet_t *f);

/* Connects every member that is not connected, and says hello. 0, or -1
 * with the first failure in err (members connected so far stay). */
int fleet_connect(fleet_t *f, char *err, size_t errlen);

/* Drops every connection at once, without a close handshake: the relay
 * sees the sockets end, as after a network failure. */
void fleet_drop(fleet_t *f);

#endif
