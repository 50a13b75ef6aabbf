/* .dockerignore matching against the docker CLI's rules: the cases from moby/patternmatcher's own
 * tests, the reading rules of its ignorefile reader, and behaviour confirmed with the CLI. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dockerignore.h"
#include "errors.h"

enum want { KEPT, EXCLUDED, BAD };

struct match_case {
	const char *text; /* the .dockerignore file */
	const char *path;
	enum want want;
};

static const struct match_case match_cases[] = {
    /* moby/patternmatcher's test cases */
    {"**", "dir/file", EXCLUDED},
    {"**/dir", "dir", EXCLUDED},
    {"**/dir", "dir/file", EXCLUDED},
    {"dir/**", "dir/dir2/file", EXCLUDED},
    {"abc/**", "abc", KEPT},
    {"abc/**", "abc/x", EXCLUDED},
    {"**/dir2/*", "dir/dir2/file", EXCLUDED},
    {"**/*.txt", "file.txt", EXCLUDED},
    {"a/*.txt", "a/dir/file.txt", KEPT},
    {"a**/*.txt", "a/dir/dir/file.txt", EXCLUDED},
    {"a[b-d]e", "ace", EXCLUDED},
    {"a[b-d]e", "aze", KEPT},
    {"a[^b-d]e", "aze", EXCLUDED},
    {"a[^b-d]e", "ace", KEPT},
    {".*", ".foo", EXCLUDED},
    {".*", "foo", KEPT},
    {"abc.def", "abcdef", KEPT},
    {"abc?def", "abcdef", KEPT},
    {"abc?def", "abcxdef", EXCLUDED},
    {"a\\*b", "a*b", EXCLUDED},
    {"a\\*b", "axb", KEPT},
    {"**/.foo", "bar.foo", KEPT},
    {"**/.foo", "x/.foo", EXCLUDED},
    {"a(b)c/def", "a(b)c/def", EXCLUDED},
    {"a*", "ab/c", EXCLUDED},
    {"a*/b", "a/c/b", KEPT},
    {"[", "a", BAD},
    {"\\", "a", BAD},
    {"[]a]", "a", BAD},
    {"[x-]", "x", BAD},
    {"**\n!util/docker/web", "util/docker/web/foo", KEPT},
    {"**\n!util/docker/web\nutil/docker/web/foo", "util/docker/web/foo", EXCLUDED},
    {"!fileutils.go\n*.go", "fileutils.go", EXCLUDED},
    {"*.go\n!fileutils.go", "fileutils.go", KEPT},
    {"docs\n!docs/README.md", "docs/README.md", KEPT},
    {"docs\n!docs/README.md", "docs/other.md", EXCLUDED},
    /* the matcher keeps it; the walker never reaches it (see the skip_dir table) */
    {"docs\n!**/README.md", "docs/README.md", KEPT},
    {".", "a", KEPT},
    {".", ".", KEPT},
    {"*", ".", KEPT},
    {"!", "a", BAD},
    {"! ", "a", BAD},
    {"a\n!/", "a", BAD},
    {"/test2", "test2", EXCLUDED},
    {"/a/file/here", "a/file/here", EXCLUDED},
    /* confirmed with the docker CLI */
    {"*/tmp", "a/tmp", EXCLUDED},
    {"*/tmp", "a/b/tmp", KEPT},
    {"/tmp", "tmp", EXCLUDED},
    {"/tmp", "a/tmp", KEPT},
    {" \\#hash", "#hash", EXCLUDED},
    /* reading: BOM, comments, whitespace, line endings */
    {"\xEF\xBB\xBF"
     "foo",
     "foo", EXCLUDED},
    {"\xEF\xBB\xBF#foo", "#foo", KEPT},
    {"x\n\xEF\xBB\xBF"
     "foo",
     "\xEF\xBB\xBF"
     "foo",
     EXCLUDED},
    {"#foo", "#foo", KEPT},
    {" #foo", "#foo", EXCLUDED},
    {"  foo \t", "foo", EXCLUDED},
    {"\xC2\xA0"
     "foo"
     "\xE3\x80\x80",
     "foo", EXCLUDED},
    {"*\n!   keep", "keep", KEPT},
    {"a\r\nb\r\n", "b", EXCLUDED},
    {"\n\n\n", "a", KEPT},
    {"", "a", KEPT},
    /* patterns are path-cleaned */
    {"a//b/./c/", "a/b/c", EXCLUDED},
    {"a/../b", "b", EXCLUDED},
    {"./a", "a", EXCLUDED},
    {"//a", "a", EXCLUDED},
    {"!./keep\n", "keep", KEPT},
    {"foo /.", "foo", EXCLUDED},
    {"../a", "a", KEPT},
    /* paths are path-cleaned too */
    {"a/b", "./a//b/", EXCLUDED},
    /* parent directories */
    {"build", "build/out/x.o", EXCLUDED},
    {"b*", "build/out/x.o", EXCLUDED},
    {"*.md\n!README.md", "README.md", KEPT},
    {"*.md", "docs/x.md", KEPT},
    {"a\n!a\na", "a/b", EXCLUDED},
    {"**/foo", "foo", EXCLUDED},
    {"**/foo", "xfoo", KEPT},
    {"**foo", "xfoo", EXCLUDED},
    /* Go's regexp semantics, which the CLI inherits */
    {"caf?", "caf\xC3\xA9", EXCLUDED},
    {"caf??", "caf\xC3\xA9", KEPT},
    {"[\xC3\xA9]t\xC3\xA9", "\xC3\xA9t\xC3\xA9", EXCLUDED},
    {"[^\xC3\xA9]x", "\xC3\xA8x", EXCLUDED},
    {"[^\xC3\xA9]x", "\xC3\xA9x", KEPT},
    {"a[^b]c", "a/c", EXCLUDED},
    {"[[:digit:]]x", "1x", EXCLUDED},
    {"[[:digit:]]x", "ax", KEPT},
    {"file\\d", "file1", EXCLUDED},
    {"file\\d", "filed", KEPT},
    {"a/**/b", "a/x\ny/b", KEPT},
    {"a/*/b", "a/x\ny/b", EXCLUDED},
    {"[z-a]", "b", BAD},
    {"[[:nope:]]", "b", BAD},
    {"a\\", "a", BAD},
    /* Forja rejects what the CLI would only ever match byte for byte */
    {"a\xFF", "a", BAD},
};

START_TEST(test_match_table)
{
	const struct match_case *c = &match_cases[_i];
	struct dockerignore *di = (struct dockerignore *)1;
	char err[256];
	int rc = dockerignore_parse(c->text, strlen(c->text), &di, err, sizeof(err));
	if (c->want == BAD) {
		ck_assert_msg(rc == FORJA_EINVAL, "case %d: `%s` parsed (rc %d)", _i, c->text, rc);
		ck_assert_ptr_null(di);
		ck_assert_msg(strstr(err, "bad .dockerignore pattern on line "), "case %d: %s", _i,
			      err);
		return;
	}
	ck_assert_msg(rc == 0, "case %d: `%s`: rc %d: %s", _i, c->text, rc, err);
	bool got = dockerignore_excluded(di, c->path);
	ck_assert_msg(got == (c->want == EXCLUDED), "case %d: `%s` on %s: excluded=%d", _i, c->text,
		      c->path, got);
	dockerignore_free(di);
}
END_TEST

struct skip_case {
	const char *text;
	const char *dir;
	bool skip;
};

static const struct skip_case skip_cases[] = {
    {"docs\n!docs/README.md", "docs", false},
    {"docs\n!**/README.md", "docs", true},
    {"docs", "docs", true},
    {"*\n!docs/sub/file", "docs", false},
    {"*\n!docs/sub/file", "docs/sub", false},
    {"*\n!docs/sub/file", "other", true},
    {"*\n!docs", "docs", false},
    {"*\n!docsx", "docs", true},
    {"docs", "src", false}, /* not excluded: never skipped */
};

START_TEST(test_skip_dir_table)
{
	const struct skip_case *c = &skip_cases[_i];
	struct dockerignore *di;
	char err[256];
	ck_assert_int_eq(dockerignore_parse(c->text, strlen(c->text), &di, err, sizeof(err)), 0);
	ck_assert_msg(dockerignore_skip_dir(di, c->dir) == c->skip, "case %d: `%s` on %s", _i,
		      c->text, c->dir);
	dockerignore_free(di);
}
END_TEST

START_TEST(test_error_names_line_and_pattern)
{
	static const char text[] = "ok\n# comment\n\n  [x-]  \nfine\n";
	struct dockerignore *di;
	char err[256];
	ck_assert_int_eq(dockerignore_parse(text, strlen(text), &di, err, sizeof(err)),
			 FORJA_EINVAL);
	ck_assert_msg(strstr(err, "bad .dockerignore pattern on line 4: `[x-]`"), "%s", err);

	ck_assert_int_eq(dockerignore_parse("a\n!\n", 4, &di, err, sizeof(err)), FORJA_EINVAL);
	ck_assert_msg(strstr(err, "line 2: `!`"), "%s", err);
	/* a tiny buffer is truncated, not overrun */
	char tiny[8];
	ck_assert_int_eq(dockerignore_parse("[", 1, &di, tiny, sizeof(tiny)), FORJA_EINVAL);
	ck_assert_uint_eq(strlen(tiny), sizeof(tiny) - 1);
}
END_TEST

START_TEST(test_text_is_not_nul_terminated)
{
	/* only the first 3 bytes are the file: "foo" */
	static const char text[] = "foo\nbar";
	struct dockerignore *di;
	ck_assert_int_eq(dockerignore_parse(text, 3, &di, NULL, 0), 0);
	ck_assert(dockerignore_excluded(di, "foo"));
	ck_assert(!dockerignore_excluded(di, "bar"));
	dockerignore_free(di);

	ck_assert_int_eq(dockerignore_parse(NULL, 0, &di, NULL, 0), 0);
	ck_assert(!dockerignore_excluded(di, "anything"));
	ck_assert(!dockerignore_skip_dir(di, "anything"));
	dockerignore_free(di);
	dockerignore_free(NULL);
}
END_TEST

START_TEST(test_long_paths_and_lines)
{
	size_t n = 10000;
	char *path = malloc(n + 1);
	ck_assert_ptr_nonnull(path);
	for (size_t i = 0; i < n; i++)
		path[i] = i % 10 == 9 ? '/' : 'a';
	path[n] = '\0';
	struct dockerignore *di;
	ck_assert_int_eq(dockerignore_parse("aaaaaaaaa/**", 12, &di, NULL, 0), 0);
	ck_assert(dockerignore_excluded(di, path));
	dockerignore_free(di);
	free(path);

	size_t big = 70000;
	char *line = malloc(big);
	ck_assert_ptr_nonnull(line);
	memset(line, 'x', big);
	char err[128];
	ck_assert_int_eq(dockerignore_parse(line, big, &di, err, sizeof(err)), FORJA_EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "line 1"));
	free(line);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dockerignore");
	TCase *tc = tcase_create("match");
	tcase_add_loop_test(tc, test_match_table, 0,
			    (int)(sizeof(match_cases) / sizeof(match_cases[0])));
	tcase_add_loop_test(tc, test_skip_dir_table, 0,
			    (int)(sizeof(skip_cases) / sizeof(skip_cases[0])));
	tcase_add_test(tc, test_error_names_line_and_pattern);
	tcase_add_test(tc, test_text_is_not_nul_terminated);
	tcase_add_test(tc, test_long_paths_and_lines);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
