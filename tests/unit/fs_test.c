/* Unit tests of fs_make_dirs: the data directory and the git cache are made by it. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"
#include "fs.h"

static char root[64];

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/forja-fs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	return st.st_mode & 0777;
}

START_TEST(makes_missing_parents_with_the_mode)
{
	char path[128], parent[128];
	mode_t old = umask(0);
	snprintf(parent, sizeof(parent), "%s/a", root);
	snprintf(path, sizeof(path), "%s/a/b/c", root);
	ck_assert_int_eq(fs_make_dirs(path, 0700), 0);
	ck_assert_int_eq(mode_of(path), 0700);
	ck_assert_int_eq(mode_of(parent), 0700);
	/* again, and with a trailing slash: what exists is fine */
	ck_assert_int_eq(fs_make_dirs(path, 0750), 0);
	snprintf(path, sizeof(path), "%s/a/b/c/", root);
	ck_assert_int_eq(fs_make_dirs(path, 0750), 0);
	snprintf(path, sizeof(path), "%s/a/d", root);
	ck_assert_int_eq(fs_make_dirs(path, 0750), 0);
	ck_assert_int_eq(mode_of(path), 0750);
	umask(old);
}
END_TEST

START_TEST(refuses_what_it_cannot_make)
{
	char path[128], *longer;
	FILE *f;

	ck_assert_int_eq(fs_make_dirs("", 0700), FORJA_EINVAL);
	longer = malloc(8192);
	memset(longer, 'x', 8191);
	longer[0] = '/';
	longer[8191] = '\0';
	ck_assert_int_eq(fs_make_dirs(longer, 0700), FORJA_EINVAL);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	free(longer);

	/* a parent that is a file */
	snprintf(path, sizeof(path), "%s/file", root);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/file/sub", root);
	ck_assert_int_eq(fs_make_dirs(path, 0700), FORJA_EIO);
	ck_assert_int_eq(errno, ENOTDIR);
}
END_TEST

START_TEST(writes_everything_or_says_it_could_not)
{
	char path[] = "/tmp/forja-fs-write-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	size_t len = 3 * 1024 * 1024 + 7;
	char *buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * 31);
	ck_assert_int_eq(fs_write_all(fd, buf, len), 0);
	close(fd);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq((long long)st.st_size, (long long)len);
	FILE *f = fopen(path, "rb");
	char *back = malloc(len);
	ck_assert_uint_eq(fread(back, 1, len, f), len);
	fclose(f);
	ck_assert_int_eq(memcmp(buf, back, len), 0);
	/* a descriptor that cannot be written to */
	fd = open(path, O_RDONLY);
	ck_assert_int_eq(fs_write_all(fd, buf, 10), FORJA_EIO);
	close(fd);
	unlink(path);
	free(buf);
	free(back);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fs");
	TCase *tc = tcase_create("make_dirs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, makes_missing_parents_with_the_mode);
	tcase_add_test(tc, refuses_what_it_cannot_make);
	tcase_add_test(tc, writes_everything_or_says_it_could_not);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
