#include "privdrop.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zkerr.h"

/* getpwnam/getgrnam with their errors as messages. */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	if (!pw)
		return zk_errf(err, errlen, -ZK_ECONFIG, "[relay] user \"%s\": %s", name,
			       errno ? strerror(errno) : "no such user");
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

static int lookup_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group *gr;

	errno = 0;
	gr = getgrnam(name);
	if (!gr)
		return zk_errf(err, errlen, -ZK_ECONFIG, "[relay] group \"%s\": %s", name,
			       errno ? strerror(errno) : "no such group");
	*gid = gr->gr_gid;
	return 0;
}

int privdrop_resolve(const config_t *cfg, privdrop_t *out, char *err, size_t errlen)
{
	privdrop_t p = { 0 };
	struct stat st;
	int rc;

	if (cfg->run_user[0]) {
		if ((rc = lookup_user(cfg->run_user, &p.uid, &p.gid, err, errlen)))
			return rc;
		if (cfg->run_group[0] && (rc = lookup_group(cfg->run_group, &p.gid, err, errlen)))
			return rc;
		if (p.uid == 0 || p.gid == 0)
			return zk_errf(err, errlen, -ZK_ECONFIG,
				       "[relay] user and group must not be root's");
	}
	errno = 0;
	if (cfg->chroot_dir[0] && (stat(cfg->chroot_dir, &st) || !S_ISDIR(st.st_mode)))
		return zk_errf(err, errlen, -ZK_ECONFIG, "[relay] chroot %s: %s", cfg->chroot_dir,
			       errno ? strerror(errno) : "not a directory");
	memcpy(p.chroot_dir, cfg->chroot_dir, sizeof(p.chroot_dir));
	*out = p;
	return 0;
}

int privdrop_plan(const config_t *cfg, uid_t euid, privdrop_t *out, char *err, size_t errlen)
{
	privdrop_t p;
	int rc;

	if ((rc = privdrop_resolve(cfg, &p, err, errlen)))
		return rc;
	if (euid == 0 && cfg->run_user[0]) {
		p.drop = 1;
	} else if (euid == 0) {
		if (!cfg->allow_root)
			return zk_errf(err, errlen, -ZK_ECONFIG,
				       "started as root without [relay] user: set user (and "
				       "group), or allow_root = true to run as root on purpose");
		p.as_root = 1;
	} else if (cfg->run_user[0] && p.uid != euid) {
		return zk_errf(err, errlen, -ZK_ECONFIG,
			       "started as uid %lu, not root: cannot become [relay] user \"%s\" "
			       "(uid %lu)", (unsigned long)euid, cfg->run_user, (unsigned long)p.uid);
	}
	if (cfg->chroot_dir[0] && euid != 0)
		return zk_errf(err, errlen, -ZK_ECONFIG, "[relay] chroot needs the relay started as root");
	*out = p;
	return 0;
}

static int enter_chroot(const char *dir, char *err, size_t errlen)
{
	/* chdir first, so no directory outside stays reachable through the
	 * working directory. */
	if (chdir(dir) || chroot(".") || chdir("/"))
		return zk_errf(err, errlen, -ZK_EIO, "chroot %s: %s", dir, strerror(errno));
	return 0;
}

int privdrop_apply(const privdrop_t *p, char *err, size_t errlen)
{
	int rc;

	if (p->chroot_dir[0] && (rc = enter_chroot(p->chroot_dir, err, errlen)))
		return rc;
	if (!p->drop)
		return 0;
	/* Groups before the uid: once the uid is gone, so is the right to
	 * change them. */
	if (setgroups(1, &p->gid) || setresgid(p->gid, p->gid, p->gid))
		return zk_errf(err, errlen, -ZK_EIO, "setgid %lu: %s", (unsigned long)p->gid,
			       strerror(errno));
	if (setresuid(p->uid, p->uid, p->uid))
		return zk_errf(err, errlen, -ZK_EIO, "setuid %lu: %s", (unsigned long)p->uid,
			       strerror(errno));
	/* A drop that can be undone is no drop (saved ids, capabilities). */
	if (setresuid(0, 0, 0) == 0 || setresgid(0, 0, 0) == 0 || geteuid() != p->uid ||
	    getegid() != p->gid)
		return zk_errf(err, errlen, -ZK_EIO, "root could be regained after setuid");
	return 0;
}
