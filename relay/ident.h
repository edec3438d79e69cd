/* Endpoint identity from a verified client certificate.
 *
 * A certificate names exactly one endpoint with one URI SAN
 *   zkrelay://practice/<practice-id>/<role>/<endpoint-id>
 * (role "safe" or "client", ids [a-z0-9][a-z0-9._-]{0,63}). Any other
 * zkrelay: URI, a second one, or none refuses the certificate. URIs of
 * other schemes are ignored. */
#ifndef RELAY_IDENT_H
#define RELAY_IDENT_H

#include <stddef.h>
#include <openssl/x509.h>

#include "wire.h"

typedef struct {
	char practice[WIRE_MAX_ID + 1];
	char endpoint[WIRE_MAX_ID + 1];
	wire_role_t role;
	/* "<practice>/<endpoint>": the routing address. */
	char addr[WIRE_MAX_ADDR + 1];
	size_t addr_len;
} ident_t;

/* 1 if s (len bytes) is a well-formed practice or endpoint id. */
int ident_id_ok(const char *s, size_t len);
/* Parses one zkrelay URI. 0 or -ZK_ECERT. */
int ident_parse_uri(const char *uri, size_t len, ident_t *out);
/* Finds exactly one zkrelay URI SAN in cert. 0 or -ZK_ECERT. */
int ident_from_cert(X509 *cert, ident_t *out);
/* 1 if addr (len bytes) is "<practice-id>/<endpoint-id>"; the practice
 * part's length goes to *plen. */
int ident_addr_ok(const uint8_t *addr, size_t len, size_t *plen);

#endif
