/* Outbound TLS records gathered so that one system call carries many.
 *
 * OpenSSL 3.0 hands every TLS record to its write BIO on its own, so a
 * socket BIO costs one write() per record (at most 16 KiB of payload),
 * and writing several WebSocket messages costs one write() per message at
 * least. Between tlsout_begin() and tlsout_end() the connection's write
 * BIO is a gathering one: records are copied into one staging buffer
 * shared by all connections (the relay writes from its one loop thread),
 * and tlsout_end() sends them with one send(). What the socket does not
 * take stays with the connection (a buffer allocated for it alone, freed
 * as soon as the socket has taken it) and goes out before any later
 * record, from tlsout_flush() or from the next record OpenSSL writes.
 * Outside begin/end the BIO passes records straight to the socket.
 *
 * The gathering BIO is attached for a write and detached again once
 * nothing is left over: an idle connection keeps its socket BIO and
 * costs nothing here. */
#ifndef RELAY_TLSOUT_H
#define RELAY_TLSOUT_H

#include <openssl/ssl.h>

/* Staging space for one gather: a bound on what one send() carries. */
#define TLSOUT_STAGE (256u * 1024u)

/* Starts gathering ssl's records. 0, or -1 if the BIO could not be set
 * up (out of memory): then records go to the socket one by one. */
int tlsout_begin(SSL *ssl);
/* Sends what was gathered. 0: the socket took everything; 1: some is
 * left with the connection (wait for writeable, then tlsout_flush());
 * -1: the socket failed (the connection must end). */
int tlsout_end(SSL *ssl);
/* Sends what an earlier tlsout_end() left over; returns as tlsout_end().
 * 0 at once for a connection with nothing left. */
int tlsout_flush(SSL *ssl);
/* Record bytes OpenSSL has handed over since tlsout_begin(), and those of
 * them the socket has not taken yet (always the last ones handed over):
 * what was handed over before the last tlsout_left() bytes is in the
 * kernel. 0 for a connection without the gathering BIO. */
size_t tlsout_accepted(SSL *ssl);
size_t tlsout_left(SSL *ssl);

#endif
