/* The relay's audit trail of access decisions.
 *
 * A hash-chained JSON-lines file (common/hashchain.h), one entry per
 * decision, so a practice can be told exactly who reached its data-safes,
 * who was turned away, and when, and can check that no entry was changed,
 * removed or added afterwards. Each entry has
 *   "seq", "prev"  the chain (see hashchain.h)
 *   "time"      RFC 3339 UTC with milliseconds, "2026-11-29T17:00:00.123Z"
 *   "event"     connect, hello_accepted, hello_refused, route_refused,
 *               connection_cut or disconnect
 *   "practice"  the practice whose data-safe or endpoint is concerned
 *   "endpoint"  the connection's own address "<practice>/<endpoint>", as
 *               its certificate names it
 * and, where the event has them,
 *   "peer"      the other address, e.g. the destination of a refused route
 *   "reason"    the wire reason name ("token_invalid", "no_route", ...)
 *   "jti"       the id of the connection's access token.
 * Never payload bytes, never tokens, never keys.
 *
 * "practice" is the practice whose data-safes the connection is about: for
 * a connection holding an access token, the token's issuer (a token only
 * ever opens its issuer's data-safes); otherwise the endpoint's own
 * practice. Each function below takes it as `practice`, where NULL means
 * the endpoint's own practice.
 *
 * A reason is a wire reason (zk_err_t below ZK_REASON_COUNT, either sign);
 * refusals and cuts must give one. A jti is 1 to TOKEN_MAX_JTI bytes of
 * UTF-8.
 *
 * Every event function returns 0 or a negative zk_err_t: -ZK_EINVAL for an
 * address, id, reason or jti that is not well formed (nothing is written),
 * or the error of hashchain_append. A failure is also logged
 * ("audit_failed"), so a caller that cannot do better may ignore it. A
 * NULL audit handle (auditing disabled) makes every function a no-op that
 * returns 0.
 *
 * Writes are blocking file I/O on the caller's thread, plus an fdatasync
 * per entry with AUDIT_SYNC. Not thread-safe. */
#ifndef RELAY_AUDIT_H
#define RELAY_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "hashchain.h"

/* audit_open flags. */
enum {
	/* Every entry reaches the disk before its function returns. */
	AUDIT_SYNC = HASHCHAIN_SYNC,
};

typedef struct audit audit_t;

/* Opens (or creates, mode 0600) the audit file at path and verifies the
 * chain already in it; a file that does not verify is refused, never
 * appended to. 0 and *out, or a negative error with a message in err (see
 * hashchain_open). */
int audit_open(const char *path, unsigned flags, audit_t **out, char *err, size_t errlen);
/* Closes and sets *a to NULL; NULL or *a NULL is a no-op. */
void audit_close(audit_t **a);

/* A connection authenticated as endpoint upgraded to WebSocket. Its
 * practice is the endpoint's own. */
int audit_connect(audit_t *a, const char *endpoint);

/* The connection's Hello was admitted. A token holder: practice is the
 * token's issuer and jti its id. A data-safe admitted by its registry
 * entry: practice and jti NULL. */
int audit_hello_accepted(audit_t *a, const char *endpoint, const char *practice,
			 const char *jti);

/* The connection's Hello was refused with reason (a wire reason, e.g.
 * ZK_ETOKEN or ZK_ENOTAUTH; either sign). practice is the issuer the
 * token names, if the relay could read one that is a well-formed id, else
 * NULL; jti is the token's id only if the token verified (e.g. refused as
 * revoked), else NULL. */
int audit_hello_refused(audit_t *a, const char *endpoint, const char *practice, int reason,
			const char *jti);

/* A frame from endpoint to peer was not routed (reason e.g. ZK_ENOROUTE or
 * ZK_ENOTAUTH). practice and jti as for audit_hello_accepted (the sender's
 * current token, if any). peer is the destination as the sender wrote it,
 * or NULL if it was not a well-formed address (the entry then has no
 * "peer"). One frame can be nacked many times over: audit a refusal once
 * per connection and destination, not once per frame, so a sender cannot
 * fill the disk. */
int audit_route_refused(audit_t *a, const char *endpoint, const char *practice,
			const char *peer, int reason, const char *jti);

/* The relay closed an admitted connection because it is no longer allowed
 * in (reason e.g. ZK_ENOTAUTH after a registry reload, ZK_ECERTREVOKED,
 * ZK_ETOKENEXPIRED, ZK_EREPLACED). practice and jti as for
 * audit_hello_accepted. */
int audit_connection_cut(audit_t *a, const char *endpoint, const char *practice, int reason,
			 const char *jti);

/* The connection is gone. reason is the close reason if the relay sent
 * one (e.g. ZK_EGOINGAWAY, ZK_EIDLE), or 0 for none (the entry then has
 * no "reason"). practice and jti as for audit_hello_accepted. */
int audit_disconnect(audit_t *a, const char *endpoint, const char *practice, int reason,
		     const char *jti);

/* Verifies the whole chain of the audit file at path, then writes to out,
 * one line each and exactly as they are in the file, the entries that
 * concern practice: its "practice" is practice, or its "peer" is an
 * address of practice. Entries appended after the verification are not
 * exported. 0 and the number of entries written in *matched (may be
 * NULL); or -ZK_EINVAL (practice not a well-formed id), -ZK_EMALFORMED
 * (the chain does not verify: nothing is written; or the file was changed
 * in place while it was being exported, and the output stops before the
 * changed line), -ZK_EIO (reading path or writing out failed),
 * -ZK_ENOMEM, each with a message in err. */
int audit_export(const char *path, const char *practice, FILE *out, uint64_t *matched,
		 char *err, size_t errlen);

#endif
