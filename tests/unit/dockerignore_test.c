/* .dockerignore as the docker CLI applies it: the cases of its own pattern-matcher tests, its
 * file-reading rules, and the walker's rule for skipping excluded directories. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerignore.h"
#include "errors.h"

struct match_case {
	const char *text; /* .dockerignore contents */
	const char *path;
	bool excluded;
};

static const struct match_case cases[] = {
    /* the CLI's pattern-matcher cases */
    {"**", "dir/file", true},
    {"**/", "dir/file", true},
    {"**/dir", "dir", true},
    {"**/dir", "dir/file", true},
    {"**/dir2/*", "dir/dir2/file", true},
    {"**/dir2/**", "dir/dir2/dir3/file", true},
    {"**file", "dir/file", true},
    {"dir/**", "dir/dir2/file", true},
    {"abc/**", "abc", false},
    {"**/*.txt", "file.txt", true},
    {"**/*.txt", "dir/sub/file.txt", true},
    {"a/*.txt", "a/dir/file.txt", false},
    {"a**/*.txt", "a/dir/dir/file.txt", true},
    {"a[b-d]e", "ace", true},
    {"a[b-d]e", "aze", false},
    {"a[^b-d]e", "aze", true},
    {"a[^b-d]e", "ace", false},
    {".*", ".foo", true},
    {".*", "foo", false},
    {"abc.def", "abcdef", false},
    {"abc.def", "abc.def", true},
    {"abc?def", "abcdef", false},
    {"abc?def", "abcXdef", true},
    {"a\\*b", "a*b", true},
    {"a\\*b", "axb", false},
    {"**/.foo", ".foo", true},
    {"**/.foo", "bar.foo", false},
    {"a(b)c/def", "a(b)c/def", true},
    {"a(b)c/def", "a(b)c/xyz", false},
    {"a*", "ab/c", true},
    {"a*/b", "a/c/b", false},
    {"a*/b", "abc/b", true},
    {"a.|)$(}+{bc", "a.|)$(}+{bc", true},
    {"**\n!util/docker/web", "util/docker/web/foo", false},
    {"**\n!util/docker/web\nutil/docker/web/foo", "util/docker/web/foo", true},
    {"!fileutils.go\n*.go", "fileutils.go", true},
    {"*.go\n!fileutils.go", "fileutils.go", false},
    {"docs\n!docs/README.md", "docs/README.md", false},
    {"docs\n!docs/README.md", "docs/other.md", true},
    {".", ".", false},
    {".", "a", false},
    /* what the CLI confirmed beyond its tests */
    {"*/tmp", "a/tmp", true},
    {"*/tmp", "a/b/tmp", false},
    {"/tmp", "tmp", true},
    {"/tmp", "a/tmp", false},
    {" \\#hash", "#hash", true},
    {"/test2", "test2", true},
    /* reading: BOM, comments in column 0, whitespace, cleaning */
    {"\xEF\xBB\xBF"
     "secret.env",
     "secret.env", true},
    {"#secret.env", "secret.env", false},
    {"#secret.env", "#secret.env", false},
    {"  secret.env  \r\n", "secret.env", true},
    {"\n\n   \n", "anything", false},
    {"!  keep.log\n*.log", "keep.log", true},
    {"*.log\n! keep.log", "keep.log", false},
    {"dir//sub/./file", "dir/sub/file", true},
    {"dir/sub/../file", "dir/file", true},
    {"dir/", "dir/x", true},
    {"node_modules", "node_modules/a/b/c.js", true},
    {"node_modules", "src/node_modules", false},
    {"**/node_modules", "src/node_modules/x", true},
};

START_TEST(test_match_table)
{
	const struct match_case *c = &cases[_i];
	struct dockerignore *di = NULL;
	char err[256] = "";

	ck_assert_msg(dockerignore_parse(c->text, strlen(c->text), &di, err, sizeof(err)) == 0,
		      "case %d: %s", _i, err);
	ck_assert_msg(dockerignore_excluded(di, c->path) == c->excluded,
		      "case %d: [%s] on %s should be %s", _i, c->text, c->path,
		      c->excluded ? "excluded" : "kept");
	dockerignore_free(di);
}
END_TEST

START_TEST(test_bad_patterns)
{
	const char *bad[] = {"[", "\\", "[]a]", "[x-]", "ok\n!", "a[", "[^]", "[a-", "[\\"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct dockerignore *di = NULL;
		char err[256] = "";

		ck_assert_msg(dockerignore_parse(bad[i], strlen(bad[i]), &di, err, sizeof(err)) ==
				  FORJA_EINVAL,
			      "should refuse [%s]", bad[i]);
		ck_assert_ptr_null(di);
		ck_assert_msg(strstr(err, "bad .dockerignore pattern on line ") != NULL, "%s", err);
	}
	{
		struct dockerignore *di = NULL;
		char err[256] = "";

		ck_assert_int_eq(dockerignore_parse("ok\n# fine\n[", 11, &di, err, sizeof(err)),
				 FORJA_EINVAL);
		ck_assert_str_eq(err, "bad .dockerignore pattern on line 3: `[`");
	}
}
END_TEST

START_TEST(test_skip_dir)
{
	struct dockerignore *di = NULL;
	char err[256];

	ck_assert_int_eq(dockerignore_parse("docs\n!docs/README.md", 20, &di, err, sizeof(err)), 0);
	ck_assert(!dockerignore_skip_dir(di, "docs"));
	ck_assert(dockerignore_skip_dir(di, "doc"));
	dockerignore_free(di);
	ck_assert_int_eq(dockerignore_parse("docs\n!**/README.md", 18, &di, err, sizeof(err)), 0);
	ck_assert(dockerignore_skip_dir(di, "docs"));
	/* the matcher alone would keep it: only the walker's skip drops it */
	ck_assert(!dockerignore_excluded(di, "docs/README.md"));
	dockerignore_free(di);
	ck_assert_int_eq(dockerignore_parse("build", 5, &di, err, sizeof(err)), 0);
	ck_assert(dockerignore_skip_dir(di, "build"));
	dockerignore_free(di);
	ck_assert_int_eq(dockerignore_parse("a\n!a", 4, &di, err, sizeof(err)), 0);
	ck_assert(!dockerignore_skip_dir(di, "a"));
	dockerignore_free(di);
}
END_TEST

START_TEST(test_empty_and_not_terminated)
{
	struct dockerignore *di = NULL;
	char err[256];
	const char text[] = {'*', '.', 'l', 'o', 'g'}; /* no NUL, no newline */

	ck_assert_int_eq(dockerignore_parse("", 0, &di, err, sizeof(err)), 0);
	ck_assert(!dockerignore_excluded(di, "a"));
	dockerignore_free(di);
	ck_assert_int_eq(dockerignore_parse(text, sizeof(text), &di, err, sizeof(err)), 0);
	ck_assert(dockerignore_excluded(di, "x.log"));
	ck_assert(!dockerignore_excluded(di, "x.logs"));
	dockerignore_free(di);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dockerignore");
	TCase *tc = tcase_create("patterns");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_match_table, 0, (int)(sizeof(cases) / sizeof(*cases)));
	tcase_add_test(tc, test_bad_patterns);
	tcase_add_test(tc, test_skip_dir);
	tcase_add_test(tc, test_empty_and_not_terminated);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
