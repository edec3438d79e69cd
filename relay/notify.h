/* systemd's readiness protocol, spoken directly: datagrams to the unix
 * socket in $NOTIFY_SOCKET (a path, or '@' for the abstract namespace).
 * Without $NOTIFY_SOCKET every call does nothing. */
#ifndef RELAY_NOTIFY_H
#define RELAY_NOTIFY_H

#include <stdint.h>

/* Sends one state string, e.g. "READY=1". 0, or -1 if it could not. */
int notify_send(const char *state);
/* The watchdog interval from $WATCHDOG_USEC (when $WATCHDOG_PID is unset
 * or ours), in milliseconds; 0 if no watchdog is asked for. */
uint64_t notify_watchdog_ms(void);

#endif
