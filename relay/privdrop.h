/* Least privilege, part one: after the relay has bound its ports and
 * loaded its keys, configuration and registry as whoever started it, it
 * optionally chroots ([relay] chroot) and gives up root for [relay] user
 * and group. OpenBSD's relayd keeps a privileged parent for this; zkrelay
 * is one process, so everything that needs privilege happens before the
 * drop and nothing after it does.
 *
 * The rules, decided by privdrop_plan() before anything is opened (the
 * first two parts of which --check-config checks too, as they do not
 * depend on who runs the check):
 *   - [relay] user and group exist and are not root's; [relay] chroot is
 *     a directory;
 *   - started as root with a user: drop to it (and to its primary group,
 *     or [relay] group); the user must not be root itself;
 *   - started as root without a user: refused, unless [relay] allow_root
 *     = true says so explicitly;
 *   - started as another user: [relay] user, if set, must be that user
 *     (systemd's User= or a container's USER already dropped); any other
 *     user is an error, never a silent "could not drop";
 *   - [relay] chroot needs a user (root can leave a chroot) and root.
 * After a chroot, SIGHUP reloads read their paths inside it. */
#ifndef RELAY_PRIVDROP_H
#define RELAY_PRIVDROP_H

#include <stddef.h>
#include <sys/types.h>

#include "config.h"

typedef struct {
	int drop;           /* setuid/setgid to uid/gid */
	uid_t uid;
	gid_t gid;
	int as_root;        /* will keep running as root (allow_root) */
	char chroot_dir[CONFIG_PATH_MAX]; /* "" for none */
} privdrop_t;

/* Resolves the configured user and group and checks the chroot
 * directory. 0 and *out, or -ZK_ECONFIG with the reason in err. */
int privdrop_resolve(const config_t *cfg, privdrop_t *out, char *err, size_t errlen);
/* privdrop_resolve(), then the rules above for a process whose effective
 * uid is euid. 0 and *out, or -ZK_ECONFIG with the reason in err. */
int privdrop_plan(const config_t *cfg, uid_t euid, privdrop_t *out, char *err, size_t errlen);
/* Carries a plan out: chroot, supplementary groups, gid, uid, then checks
 * that root cannot be regained. 0, or -ZK_EIO with the failing step in
 * err (the caller must then exit: half a drop is not a state to run in). */
int privdrop_apply(const privdrop_t *p, char *err, size_t errlen);

#endif
