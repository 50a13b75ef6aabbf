/* GET /badge against a running Forja and its real history: every build state, the service and
 * branch filters, the label override, escaping, caching headers, ETag and 304. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/xml_check.h"
#include "testenv.h"

/* Records a build of SERVICE VERSION on BRANCH in the history, queued; returns its id. */
static int64_t insert_build(struct testenv *t, const char *service, const char *version,
			    const char *branch)
{
	char image[300];
	struct build *b = build_new();
	ck_assert_ptr_nonnull(b);
	snprintf(image, sizeof(image), "%s/%s:%s", t->cfg.registry, service, version);
	b->service = strdup(service);
	b->version = strdup(version);
	b->type = strdup("docker");
	b->image = strdup(image);
	b->trigger = TRIGGER_API;
	b->repository = strdup("git://127.0.0.1:9/none.git");
	b->clone_url = strdup("git://127.0.0.1:9/none.git");
	b->ref = strdup(branch);
	b->branch = strdup(branch);
	b->status = BUILD_QUEUED;
	ck_assert_int_eq(store_build_insert(t->app.store, b), 0);
	int64_t id = b->id;
	ck_assert_int_gt(id, 0);
	build_free(b);
	return id;
}

static void start_build(struct testenv *t, int64_t id)
{
	int attempts = 0;
	ck_assert_int_eq(store_build_start(t->app.store, id, build_now_ms(), &attempts), 0);
}

static void finish_build(struct testenv *t, int64_t id, enum build_status st)
{
	const char *digest = NULL;
	ck_assert_int_eq(store_build_finish(t->app.store, id, st, digest,
					    st == BUILD_FAILED ? "build failed" : NULL,
					    build_now_ms()),
			 0);
}

/* GET PATH_QUERY; asserts a 200 SVG badge with the badge headers; returns the response. */
static void get_badge(struct testenv *t, const char *path_query, struct http_resp *r)
{
	char url[1024];
	snprintf(url, sizeof(url), "%s%s", t->base_url, path_query);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, r), 0);
	ck_assert_int_eq(r->status, 200);
	char *ct = http_resp_header(r, "Content-Type");
	ck_assert_ptr_nonnull(ct);
	ck_assert_str_eq(ct, "image/svg+xml");
	free(ct);
	char *cc = http_resp_header(r, "Cache-Control");
	ck_assert_ptr_nonnull(cc);
	ck_assert_ptr_nonnull(strstr(cc, "no-cache"));
	free(cc);
	char *etag = http_resp_header(r, "ETag");
	ck_assert_ptr_nonnull(etag);
	ck_assert_int_ge(strlen(etag), 3);
	ck_assert_int_eq(etag[0], '"');
	ck_assert_int_eq(etag[strlen(etag) - 1], '"');
	free(etag);
	const char *why = xml_check(r->body);
	ck_assert_msg(why == NULL, "badge is not well-formed XML (%s): %s", why ? why : "",
		      r->body);
	ck_assert_ptr_nonnull(strstr(r->body, "role=\"img\""));
}

static void assert_badge(struct testenv *t, const char *path_query, const char *text,
			 const char *color)
{
	struct http_resp r;
	char want[300];
	get_badge(t, path_query, &r);
	snprintf(want, sizeof(want), "<title>%s</title>", text);
	ck_assert_msg(strstr(r.body, want), "%s: want %s in %s", path_query, want, r.body);
	snprintf(want, sizeof(want), "aria-label=\"%s\"", text);
	ck_assert_msg(strstr(r.body, want), "%s: want %s", path_query, want);
	snprintf(want, sizeof(want), "fill=\"%s\"/>", color);
	ck_assert_msg(strstr(r.body, want), "%s: want colour %s in %s", path_query, color, r.body);
	http_resp_free(&r);
}

START_TEST(test_unknown_service_is_a_grey_badge)
{
	struct testenv t;
	testenv_start(&t, NULL);
	assert_badge(&t, "/badge?service=nosuch", "build: unknown", "#9f9f9f");
	assert_badge(&t, "/badge", "build: unknown", "#9f9f9f");
	assert_badge(&t, "/badge?service=", "build: unknown", "#9f9f9f");
	testenv_stop(&t);
}
END_TEST

START_TEST(test_each_state)
{
	struct testenv t;
	testenv_start(&t, NULL);
	int64_t id = insert_build(&t, "api", "1.2.0", "develop");
	assert_badge(&t, "/badge?service=api", "build: 1.2.0 queued", "#dfb317");
	start_build(&t, id);
	assert_badge(&t, "/badge?service=api", "build: 1.2.0 running", "#dfb317");
	finish_build(&t, id, BUILD_SUCCEEDED);
	assert_badge(&t, "/badge?service=api", "build: 1.2.0", "#4c1");

	id = insert_build(&t, "api", "1.3.0", "develop");
	start_build(&t, id);
	finish_build(&t, id, BUILD_FAILED);
	assert_badge(&t, "/badge?service=api", "build: 1.3.0 failing", "#e05d44");

	id = insert_build(&t, "api", "1.4.0", "develop");
	finish_build(&t, id, BUILD_CANCELLED);
	assert_badge(&t, "/badge?service=api", "build: 1.4.0 cancelled", "#9f9f9f");
	testenv_stop(&t);
}
END_TEST

START_TEST(test_filters_and_label)
{
	struct testenv t;
	testenv_start(&t, NULL);
	int64_t a = insert_build(&t, "api", "1.0.0", "develop");
	finish_build(&t, a, BUILD_SUCCEEDED);
	int64_t w = insert_build(&t, "web", "2.0.0", "feature/x");
	start_build(&t, w);
	finish_build(&t, w, BUILD_FAILED);

	/* the latest of its own service, never another service's */
	assert_badge(&t, "/badge?service=api", "build: 1.0.0", "#4c1");
	assert_badge(&t, "/badge?service=web", "build: 2.0.0 failing", "#e05d44");
	/* no service: the most recent build of any service */
	assert_badge(&t, "/badge", "build: 2.0.0 failing", "#e05d44");
	/* branch filter */
	assert_badge(&t, "/badge?branch=develop", "build: 1.0.0", "#4c1");
	assert_badge(&t, "/badge?service=web&branch=develop", "build: unknown", "#9f9f9f");
	assert_badge(&t, "/badge?service=web&branch=feature%2Fx", "build: 2.0.0 failing",
		     "#e05d44");
	/* label replaces "build" */
	assert_badge(&t, "/badge?service=api&label=api%20prod", "api prod: 1.0.0", "#4c1");
	testenv_stop(&t);
}
END_TEST

START_TEST(test_escapes_everything)
{
	struct testenv t;
	testenv_start(&t, NULL);
	int64_t id = insert_build(&t, "evil", "1.0&<x>", "develop");
	finish_build(&t, id, BUILD_SUCCEEDED);
	struct http_resp r;
	get_badge(&t, "/badge?service=evil&label=%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E", &r);
	ck_assert_ptr_null(strstr(r.body, "<script"));
	ck_assert_ptr_nonnull(strstr(r.body, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
	ck_assert_ptr_nonnull(strstr(r.body, ">1.0&amp;&lt;x&gt;</text>"));
	http_resp_free(&r);

	/* an unknown service named with markup still gets an escaped, well-formed badge */
	get_badge(&t, "/badge?service=%3Csvg%20onload%3Dalert(1)%3E&label=a%01b%1bc%0Ad", &r);
	ck_assert_ptr_null(strstr(r.body, "<svg onload"));
	for (const char *p = r.body; *p; p++)
		ck_assert_msg((unsigned char)*p >= 0x20, "control byte in %s", r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "<title>abcd: unknown</title>"));
	http_resp_free(&r);
	testenv_stop(&t);
}
END_TEST

START_TEST(test_etag_and_304)
{
	struct testenv t;
	testenv_start(&t, NULL);
	int64_t id = insert_build(&t, "api", "3.0.0", "develop");
	char url[300];
	snprintf(url, sizeof(url), "%s/badge?service=api", t.base_url);

	struct http_resp r;
	get_badge(&t, "/badge?service=api", &r);
	char *etag = http_resp_header(&r, "ETag");
	http_resp_free(&r);

	/* the same content gives the same tag */
	get_badge(&t, "/badge?service=api", &r);
	char *again = http_resp_header(&r, "ETag");
	ck_assert_str_eq(etag, again);
	free(again);
	http_resp_free(&r);

	char inm[300];
	snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
	const char *hdrs[] = {inm, NULL};
	ck_assert_int_eq(http_request("GET", url, hdrs, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 304);
	ck_assert_uint_eq(r.len, 0);
	char *cc = http_resp_header(&r, "Cache-Control");
	ck_assert_ptr_nonnull(cc);
	ck_assert_ptr_nonnull(strstr(cc, "no-cache"));
	free(cc);
	http_resp_free(&r);

	/* a list of tags, one weak, matches too */
	snprintf(inm, sizeof(inm), "If-None-Match: \"nope\", W/%s", etag);
	ck_assert_int_eq(http_request("GET", url, hdrs, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 304);
	http_resp_free(&r);

	/* the build moves on: the old tag no longer matches and the new badge comes back */
	start_build(&t, id);
	snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
	ck_assert_int_eq(http_request("GET", url, hdrs, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "3.0.0 running"));
	char *changed = http_resp_header(&r, "ETag");
	ck_assert_str_ne(changed, etag);
	free(changed);
	http_resp_free(&r);
	free(etag);
	testenv_stop(&t);
}
END_TEST

START_TEST(test_too_long_parameter_is_400)
{
	struct testenv t;
	testenv_start(&t, NULL);
	char url[600];
	char label[200];
	memset(label, 'x', 150);
	label[150] = '\0';
	snprintf(url, sizeof(url), "%s/badge?label=%s", t.base_url, label);
	struct http_resp r;
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 400);
	char *ct = http_resp_header(&r, "Content-Type");
	ck_assert_str_eq(ct, "application/problem+json");
	free(ct);
	ck_assert_ptr_nonnull(strstr(r.body, "label"));
	http_resp_free(&r);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("badge_api");
	TCase *tc = tcase_create("badge");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_unknown_service_is_a_grey_badge);
	tcase_add_test(tc, test_each_state);
	tcase_add_test(tc, test_filters_and_label);
	tcase_add_test(tc, test_escapes_everything);
	tcase_add_test(tc, test_etag_and_304);
	tcase_add_test(tc, test_too_long_parameter_is_400);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
