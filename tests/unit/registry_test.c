/* The registry client's reading of answers, without a registry: catalog and tag lists appended
 * page after page, and the Link header's next page. */
#include <check.h>
#include <string.h>

#include "errors.h"
#include "registry.h"

START_TEST(names_appended_per_page)
{
	static const char page1[] = "{\"repositories\":[\"a\",\"b/c\"]}";
	static const char page2[] = "{\"repositories\":[\"d\",3,null]}";
	char **names = NULL;
	size_t n = 0;

	ck_assert_int_eq(registry_names_parse(page1, sizeof(page1) - 1, "repositories", &names, &n),
			 0);
	ck_assert_int_eq(registry_names_parse(page2, sizeof(page2) - 1, "repositories", &names, &n),
			 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(names[0], "a");
	ck_assert_str_eq(names[1], "b/c");
	ck_assert_str_eq(names[2], "d");
	/* a broken page leaves what was read */
	ck_assert_int_eq(registry_names_parse("[1]", 3, "repositories", &names, &n),
			 FORJA_EUPSTREAM);
	ck_assert_int_eq(registry_names_parse("", 0, "repositories", &names, &n), FORJA_EUPSTREAM);
	ck_assert_uint_eq(n, 3);
	registry_strings_free(names, n);
}
END_TEST

START_TEST(null_tags_are_none)
{
	static const char body[] = "{\"name\":\"a\",\"tags\":null}";
	char **tags = NULL;
	size_t n = 0;

	ck_assert_int_eq(registry_names_parse(body, sizeof(body) - 1, "tags", &tags, &n), 0);
	ck_assert_uint_eq(n, 0);
	registry_strings_free(tags, n);
}
END_TEST

START_TEST(link_next_target)
{
	char next[32];

	ck_assert_int_eq(
	    registry_link_next("</v2/_catalog?last=b&n=2>; rel=\"next\"", next, sizeof(next)), 0);
	ck_assert_str_eq(next, "/v2/_catalog?last=b&n=2");
	ck_assert_int_eq(
	    registry_link_next("</v2/_catalog?last=b>; rel=\"prev\"", next, sizeof(next)),
	    FORJA_ENOTFOUND);
	ck_assert_str_eq(next, "");
	ck_assert_int_eq(registry_link_next("</v2/_catalog?last=a-name-too-long-for-it>; "
					    "rel=\"next\"",
					    next, sizeof(next)),
			 FORJA_ENOTFOUND);
	ck_assert_int_eq(registry_link_next("no brackets; rel=\"next\"", next, sizeof(next)),
			 FORJA_ENOTFOUND);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("answers");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, names_appended_per_page);
	tcase_add_test(tc, null_tags_are_none);
	tcase_add_test(tc, link_next_target);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
