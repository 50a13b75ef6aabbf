/* The dashboard's pages and files against a running Forja: / sends the browser to the builds
 * page, every page is HTML from the binary that loads nothing from elsewhere, with a strict
 * Content-Security-Policy, public even when a read token guards the data, and only the two
 * shared files are served under /ui/assets/. What the pages do is tests/browser/dashboard_test. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testenv.h"

static void get(struct testenv *t, const char *method, const char *path, struct http_resp *r)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", t->base_url, path);
	ck_assert_int_eq(http_request(method, url, NULL, NULL, 0, r), 0);
}

static void assert_header(const struct http_resp *r, const char *name, const char *want)
{
	char *v = http_resp_header(r, name);
	ck_assert_msg(v != NULL, "no %s header", name);
	ck_assert_msg(strstr(v, want) != NULL, "%s is \"%s\", want \"%s\" in it", name, v, want);
	free(v);
}

START_TEST(root_redirects_to_builds)
{
	struct testenv t;
	struct http_resp r;
	testenv_start(&t, NULL);
	get(&t, "GET", "/", &r);
	ck_assert_int_eq(r.status, 303);
	assert_header(&r, "Location", "/ui/builds");
	http_resp_free(&r);
	testenv_stop(&t);
}
END_TEST

START_TEST(pages_are_html_from_the_binary)
{
	static const char *const pages[] = {"/ui/builds", "/ui/builds?service=api&status=failed",
					    "/ui/builds/7", "/ui/services", "/ui/images"};
	static const char *const args[] = {"--read-token=secret-read", NULL};
	struct testenv t;
	struct http_resp r;
	testenv_start(&t, args);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		get(&t, "GET", pages[i], &r);
		/* public: the pages hold no data, the API they call asks for the token */
		ck_assert_msg(r.status == 200, "%s: %ld", pages[i], r.status);
		assert_header(&r, "Content-Type", "text/html");
		assert_header(&r, "Content-Security-Policy", "script-src 'self'");
		assert_header(&r, "Content-Security-Policy", "default-src 'none'");
		ck_assert_ptr_nonnull(strstr(r.body, "/ui/assets/ui.js"));
		ck_assert_ptr_nonnull(strstr(r.body, "/ui/assets/ui.css"));
		ck_assert_msg(!strstr(r.body, "http://") && !strstr(r.body, "https://"),
			      "%s refers to another site", pages[i]);
		http_resp_free(&r);
	}
	get(&t, "GET", "/builds", &r);
	ck_assert_int_eq(r.status, 401);
	http_resp_free(&r);
	get(&t, "HEAD", "/ui/builds", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.len, 0);
	http_resp_free(&r);
	testenv_stop(&t);
}
END_TEST

START_TEST(only_the_shared_files_are_assets)
{
	static const char *const refused[] = {"/ui/assets/docs.html", "/ui/assets/openapi.json",
					      "/ui/assets/ui-builds.html", "/ui/assets/..%2Fui.js"};
	struct testenv t;
	struct http_resp r;
	testenv_start(&t, NULL);
	get(&t, "GET", "/ui/assets/ui.css", &r);
	ck_assert_int_eq(r.status, 200);
	assert_header(&r, "Content-Type", "text/css");
	http_resp_free(&r);
	get(&t, "GET", "/ui/assets/ui.js", &r);
	ck_assert_int_eq(r.status, 200);
	assert_header(&r, "Content-Type", "application/javascript");
	ck_assert_ptr_nonnull(strstr(r.body, "/events"));
	http_resp_free(&r);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		get(&t, "GET", refused[i], &r);
		ck_assert_msg(r.status == 404, "%s: %ld", refused[i], r.status);
		assert_header(&r, "Content-Type", "application/problem+json");
		http_resp_free(&r);
	}
	testenv_stop(&t);
}
END_TEST

START_TEST(build_page_id_is_checked)
{
	struct testenv t;
	struct http_resp r;
	testenv_start(&t, NULL);
	get(&t, "GET", "/ui/builds/0", &r);
	ck_assert_int_eq(r.status, 400);
	http_resp_free(&r);
	get(&t, "GET", "/ui/builds/abc", &r);
	ck_assert_int_eq(r.status, 400);
	http_resp_free(&r);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ui_api");
	TCase *tc = tcase_create("ui");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, root_redirects_to_builds);
	tcase_add_test(tc, pages_are_html_from_the_binary);
	tcase_add_test(tc, only_the_shared_files_are_assets);
	tcase_add_test(tc, build_page_id_is_checked);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
