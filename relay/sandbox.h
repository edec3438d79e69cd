/* Least privilege, part two: a seccomp filter (libseccomp) that allows
 * only the system calls a running relay makes: libuv's event loop and
 * sockets, libwebsockets on it, OpenSSL, logging to stderr, the audit
 * trail, SIGHUP reloads (reading the TLS files and the registry
 * directory), the ops listener's /metrics (it reads /proc/self) and
 * systemd notifications (a datagram on an AF_UNIX socket). Installed
 * after the privilege drop, for every thread, with no_new_privs set.
 *
 * Anything else raises SIGSYS: the handler writes one JSON log line
 * naming the system call number (`ausyscall NUMBER` names it) and the
 * process then dies by SIGSYS, so a gap in the list shows at once and
 * never turns into a half-working relay. [relay] seccomp = off leaves the
 * filter out (to find such a gap). */
#ifndef RELAY_SANDBOX_H
#define RELAY_SANDBOX_H

#include <stddef.h>

/* 0, or -ZK_EIO / -ZK_ENOMEM with the reason in err. */
int sandbox_install(char *err, size_t errlen);

#endif
