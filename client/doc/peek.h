/* Reading the claims of a v4.public token WITHOUT verifying it.
 *
 * For a holder that cannot verify (a client has no practice public key)
 * but wants to know what it holds: when its relay token expires, whether
 * a grant names its key. Nothing read this way is trusted for access:
 * the relay and the data-safe verify every token they act on. */
#ifndef ZK_PEEK_H
#define ZK_PEEK_H

#include <stddef.h>

#include <jansson.h>

/* The payload of token as a JSON object (a new reference). 0, or
 * -ZK_EMALFORMED if the token is not v4.public or its payload not an
 * object. */
int peek_claims(const char *token, size_t len, json_t **claims);

#endif
