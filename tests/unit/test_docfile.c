/* client/doc/file.c: whole-file writes for the CLI and the data-safe. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "suites.h"

/* "zkrelay-cli get ... -o /dev/null" must write into the device, not
 * rename a regular file over it. */
START_TEST(test_replace_writes_into_a_device)
{
	struct stat st;
	char err[256];

	ck_assert_int_eq(file_replace("/dev/null", "abc", 3, 0600, err, sizeof(err)), 0);
	ck_assert_int_eq(stat("/dev/null", &st), 0);
	ck_assert(S_ISCHR(st.st_mode));
}
END_TEST

START_TEST(test_replace_regular_file)
{
	char dir[] = "/tmp/zk-docfile-XXXXXX", path[64], err[256], *buf = NULL;
	struct stat st;
	size_t len;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out", dir);
	ck_assert_int_eq(file_replace(path, "first", 5, 0644, err, sizeof(err)), 0);
	ck_assert_int_eq(file_replace(path, "second", 6, 0600, err, sizeof(err)), 0);
	ck_assert_int_eq(file_read(path, 100, &buf, &len, err, sizeof(err)), 0);
	ck_assert_uint_eq(len, 6);
	ck_assert_str_eq(buf, "second");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	free(buf);
	unlink(path);
	rmdir(dir);
}
END_TEST

Suite *docfile_suite(void)
{
	Suite *s = suite_create("docfile");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_replace_writes_into_a_device);
	tcase_add_test(tc, test_replace_regular_file);
	suite_add_tcase(s, tc);
	return s;
}
