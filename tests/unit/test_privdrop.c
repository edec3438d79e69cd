/* privdrop.c: who the relay may run as. The rules are decided from the
 * configuration and an effective uid passed in, so every case runs
 * without being root: root without a user is refused unless allowed,
 * another user than the configured one is refused, chroot needs root and
 * a user, and names that do not resolve (or resolve to root) are errors.
 * Uses the accounts every Debian system has: root and nobody. */
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "privdrop.h"
#include "suites.h"
#include "zkerr.h"

static char err[256];

static uid_t nobody_uid(void)
{
	struct passwd *pw = getpwnam("nobody");

	ck_assert_ptr_nonnull(pw);
	return pw->pw_uid;
}

static config_t cfg_with(const char *user, const char *group, const char *chroot_dir,
			 int allow_root)
{
	config_t c;

	config_defaults(&c);
	snprintf(c.run_user, sizeof(c.run_user), "%s", user ? user : "");
	snprintf(c.run_group, sizeof(c.run_group), "%s", group ? group : "");
	snprintf(c.chroot_dir, sizeof(c.chroot_dir), "%s", chroot_dir ? chroot_dir : "");
	c.allow_root = allow_root;
	return c;
}

static void expect_refused(const config_t *c, uid_t euid, const char *why)
{
	privdrop_t p;

	memset(&p, 0x5a, sizeof(p));
	ck_assert_int_eq(privdrop_plan(c, euid, &p, err, sizeof(err)), -ZK_ECONFIG);
	ck_assert_msg(strstr(err, why) != NULL, "\"%s\" lacks \"%s\"", err, why);
	ck_assert_int_eq(p.drop, 0x5a5a5a5a); /* untouched */
}

START_TEST(test_root_needs_user)
{
	config_t c = cfg_with(NULL, NULL, NULL, 0);
	privdrop_t p;

	expect_refused(&c, 0, "allow_root");
	c.allow_root = 1;
	ck_assert_int_eq(privdrop_plan(&c, 0, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.drop, 0);
	ck_assert_int_eq(p.as_root, 1);
}
END_TEST

START_TEST(test_root_drops)
{
	config_t c = cfg_with("nobody", NULL, NULL, 0);
	privdrop_t p;

	ck_assert_int_eq(privdrop_plan(&c, 0, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.drop, 1);
	ck_assert_int_eq(p.as_root, 0);
	ck_assert_uint_eq(p.uid, nobody_uid());
	ck_assert_uint_ne(p.gid, 0);
	/* allow_root does not stop a configured drop. */
	c.allow_root = 1;
	ck_assert_int_eq(privdrop_plan(&c, 0, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.drop, 1);
}
END_TEST

/* Not root: nothing to drop; a configured user must be the one running. */
START_TEST(test_not_root)
{
	config_t c = cfg_with(NULL, NULL, NULL, 0);
	privdrop_t p;

	ck_assert_int_eq(privdrop_plan(&c, 1000, &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.drop, 0);
	ck_assert_int_eq(p.as_root, 0);
	c = cfg_with("nobody", NULL, NULL, 0);
	ck_assert_int_eq(privdrop_plan(&c, nobody_uid(), &p, err, sizeof(err)), 0);
	ck_assert_int_eq(p.drop, 0);
	expect_refused(&c, nobody_uid() - 1, "cannot become [relay] user \"nobody\"");
}
END_TEST

START_TEST(test_names)
{
	config_t c = cfg_with("zk-no-such-user", NULL, NULL, 0);
	privdrop_t p;

	expect_refused(&c, 0, "no such user");
	c = cfg_with("nobody", "zk-no-such-group", NULL, 0);
	expect_refused(&c, 0, "no such group");
	c = cfg_with("root", NULL, NULL, 0);
	expect_refused(&c, 0, "must not be root's");
	c = cfg_with("nobody", "root", NULL, 0);
	expect_refused(&c, 0, "must not be root's");
	/* The check (resolve only) applies the same name rules ... */
	ck_assert_int_eq(privdrop_resolve(&c, &p, err, sizeof(err)), -ZK_ECONFIG);
	/* ... but not who runs it. */
	c = cfg_with(NULL, NULL, NULL, 0);
	ck_assert_int_eq(privdrop_resolve(&c, &p, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_chroot)
{
	config_t c = cfg_with("nobody", NULL, "/", 0);
	privdrop_t p;

	ck_assert_int_eq(privdrop_plan(&c, 0, &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.chroot_dir, "/");
	expect_refused(&c, nobody_uid(), "chroot needs the relay started as root");
	c = cfg_with("nobody", NULL, "/zk-no-such-dir", 0);
	expect_refused(&c, 0, "/zk-no-such-dir");
	c = cfg_with("nobody", NULL, "/etc/passwd", 0);
	expect_refused(&c, 0, "not a directory");
}
END_TEST

Suite *privdrop_suite(void)
{
	Suite *s = suite_create("privdrop");
	TCase *tc = tcase_create("rules");

	tcase_add_test(tc, test_root_needs_user);
	tcase_add_test(tc, test_root_drops);
	tcase_add_test(tc, test_not_root);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_chroot);
	suite_add_tcase(s, tc);
	return s;
}
