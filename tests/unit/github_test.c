/* Unit tests of the GitHub client against the local stand-in: host allow-list, contents at a
 * ref, and commit statuses posted in order by the background thread. */
#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "github.h"
#include "github_standin.h"

static struct github *client(const char *api, const char *token, const char *allowed)
{
	struct github_opts o = {.api_url = api,
				.token = token,
				.allowed_hosts = allowed,
				.public_url = "http://forja.example:8080/",
				.timeout_s = 5};
	struct github *gh = NULL;
	ck_assert_int_eq(github_new(&o, &gh), 0);
	ck_assert_ptr_nonnull(gh);
	return gh;
}

START_TEST(url_allowed_github_com)
{
	struct github *gh = client("https://api.github.com", NULL, NULL);
	ck_assert(github_url_allowed(gh, "https://github.com/octo-org/shop.git"));
	ck_assert(github_url_allowed(gh, "https://GitHub.com/octo-org/shop.git"));
	ck_assert(github_url_allowed(gh, "git://github.com/octo-org/shop.git"));
	ck_assert(github_url_allowed(gh, "git@github.com:octo-org/shop.git"));
	ck_assert(github_url_allowed(gh, "ssh://git@github.com/octo-org/shop.git"));
	ck_assert(github_url_allowed(gh, "https://api.github.com/repos/octo-org/shop"));
	ck_assert(!github_url_allowed(gh, "https://evil.example/octo-org/shop.git"));
	ck_assert(!github_url_allowed(gh, "https://github.com.evil.example/x.git"));
	ck_assert(!github_url_allowed(gh, "https://github.com@evil.example/x.git"));
	ck_assert(!github_url_allowed(gh, "git@evil.example:octo-org/shop.git"));
	ck_assert(!github_url_allowed(gh, "not a url"));
	ck_assert(!github_url_allowed(gh, ""));
	ck_assert(!github_url_allowed(gh, NULL));
	github_free(gh);
}
END_TEST

START_TEST(url_allowed_enterprise_and_list)
{
	struct github *gh =
	    client("https://ghe.corp.example/api/v3", NULL, "git.corp.example, Mirror.Example");
	ck_assert(github_url_allowed(gh, "https://ghe.corp.example/team/app.git"));
	ck_assert(github_url_allowed(gh, "git://git.corp.example:9418/team/app.git"));
	ck_assert(github_url_allowed(gh, "https://mirror.example/team/app.git"));
	ck_assert(!github_url_allowed(gh, "https://github.com/team/app.git"));
	ck_assert(!github_url_allowed(gh, "https://corp.example/team/app.git"));
	github_free(gh);
}
END_TEST

START_TEST(file_get_at_ref)
{
	struct github_standin *s = github_standin_start();
	struct github *gh = client(github_standin_url(s), "t0ken", NULL);
	char err[256], accept[128];
	char *body = NULL;
	size_t len = 0;
	github_standin_put_file(s, "o/r", "images.json", "abc", "[1]");
	github_standin_put_file(s, "o/r", "dir name/Dockerfile", NULL, "FROM scratch\n");
	ck_assert_int_eq(
	    github_file_get(gh, "o/r", "images.json", "abc", &body, &len, err, sizeof(err)), 0);
	ck_assert_str_eq(body, "[1]");
	ck_assert_uint_eq(len, 3);
	free(body);
	ck_assert_int_eq(github_standin_contents_requests(s, accept, sizeof(accept)), 1);
	ck_assert_str_eq(accept, "application/vnd.github.raw");
	/* another ref: not found */
	ck_assert_int_eq(
	    github_file_get(gh, "o/r", "images.json", "def", &body, &len, err, sizeof(err)),
	    FORJA_ENOTFOUND);
	ck_assert_ptr_null(body);
	/* a path with a space is escaped and still found */
	ck_assert_int_eq(
	    github_file_get(gh, "o/r", "dir name/Dockerfile", "def", &body, &len, err, sizeof(err)),
	    0);
	ck_assert_str_eq(body, "FROM scratch\n");
	free(body);
	github_standin_fail_contents(s, 503);
	ck_assert_int_eq(
	    github_file_get(gh, "o/r", "images.json", "abc", &body, &len, err, sizeof(err)),
	    FORJA_EUPSTREAM);
	ck_assert_ptr_nonnull(strstr(err, "503"));
	github_free(gh);
	github_standin_stop(s);
}
END_TEST

static struct build *webhook_build(int64_t id, const char *service, enum build_status st)
{
	struct build *b = build_new();
	b->id = id;
	b->service = strdup(service);
	b->version = strdup("1.0");
	b->trigger = TRIGGER_WEBHOOK;
	b->repository = strdup("octo-org/shop");
	b->commit = strdup("3f2c9a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f");
	b->status = st;
	return b;
}

START_TEST(statuses_in_order)
{
	struct github_standin *s = github_standin_start();
	struct github *gh = client(github_standin_url(s), "t0ken", NULL);
	struct build *b = webhook_build(42, "api", BUILD_QUEUED);
	github_on_build(gh, b);
	b->status = BUILD_RUNNING; /* no status of its own */
	github_on_build(gh, b);
	b->status = BUILD_SUCCEEDED;
	github_on_build(gh, b);
	struct build *c = webhook_build(43, "worker", BUILD_QUEUED);
	github_on_build(gh, c);
	c->status = BUILD_FAILED;
	c->error = malloc(400);
	memset(c->error, 'x', 399);
	c->error[399] = '\0';
	github_on_build(gh, c);
	c->status = BUILD_CANCELLED;
	github_on_build(gh, c);
	ck_assert_uint_eq(github_standin_wait_statuses(s, 5, 10000), 5);
	struct standin_status st[8];
	ck_assert_uint_eq(github_standin_statuses(s, st, 8), 5);
	ck_assert_str_eq(st[0].state, "pending");
	ck_assert_str_eq(st[0].context, "forja/api");
	ck_assert_str_eq(st[0].repo, "octo-org/shop");
	ck_assert_str_eq(st[0].sha, "3f2c9a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f");
	ck_assert_str_eq(st[0].target_url, "http://forja.example:8080/builds/42");
	ck_assert_str_eq(st[0].authorization, "Bearer t0ken");
	ck_assert_str_eq(st[1].state, "success");
	ck_assert_str_eq(st[2].state, "pending");
	ck_assert_str_eq(st[2].context, "forja/worker");
	ck_assert_str_eq(st[3].state, "failure");
	ck_assert_uint_le(strlen(st[3].description), 140);
	ck_assert_str_eq(st[4].state, "error");
	build_free(b);
	build_free(c);
	github_free(gh);
	github_standin_stop(s);
}
END_TEST

START_TEST(statuses_only_with_token_and_for_webhooks)
{
	struct github_standin *s = github_standin_start();
	struct github *anon = client(github_standin_url(s), NULL, NULL);
	struct github *gh = client(github_standin_url(s), "t0ken", NULL);
	struct build *b = webhook_build(1, "api", BUILD_QUEUED);
	github_on_build(anon, b);
	b->trigger = TRIGGER_API;
	github_on_build(gh, b);
	/* the marker: a webhook build after them, so nothing earlier can still be on its way */
	b->trigger = TRIGGER_WEBHOOK;
	b->service[0] = 'x';
	github_on_build(gh, b);
	ck_assert_uint_eq(github_standin_wait_statuses(s, 1, 10000), 1);
	github_free(anon);
	github_free(gh);
	struct standin_status st[4];
	ck_assert_uint_eq(github_standin_statuses(s, st, 4), 1);
	ck_assert_str_eq(st[0].context, "forja/xpi");
	build_free(b);
	github_standin_stop(s);
}
END_TEST

/* github_free posts what is queued before it returns (within its drain time). */
START_TEST(free_drains_queue)
{
	struct github_standin *s = github_standin_start();
	struct github *gh = client(github_standin_url(s), "t0ken", NULL);
	struct build *b = webhook_build(7, "api", BUILD_QUEUED);
	for (int i = 0; i < 20; i++)
		github_on_build(gh, b);
	github_free(gh);
	ck_assert_uint_eq(github_standin_statuses(s, NULL, 0), 20);
	build_free(b);
	github_standin_stop(s);
}
END_TEST

/* A GitHub that cannot be reached: logged, and github_free still returns promptly. */
START_TEST(unreachable_statuses_do_not_hang)
{
	struct github *gh = client("http://127.0.0.1:1", "t0ken", NULL);
	struct build *b = webhook_build(7, "api", BUILD_QUEUED);
	for (int i = 0; i < 50; i++)
		github_on_build(gh, b);
	github_free(gh);
	build_free(b);
}
END_TEST

/* The answer past the 1 MB cap is refused by size, whatever its status; a 200 hands the bytes
 * over as they came. */
START_TEST(file_answer_bounds_and_status)
{
	struct dynbuf b;
	char *body = NULL, err[256], chunk[4096];
	size_t len = 0, fed = 0;

	memset(chunk, 'a', sizeof(chunk));
	dynbuf_init(&b, 1024 * 1024);
	while (dynbuf_write_cb(chunk, 1, sizeof(chunk), &b) == sizeof(chunk))
		fed += sizeof(chunk);
	ck_assert_uint_eq(fed, 1024 * 1024);
	ck_assert_int_eq(github_file_answer(200, &b, "images.json", &body, &len, err, sizeof(err)),
			 FORJA_ETOOBIG);
	ck_assert_ptr_null(body);
	ck_assert_msg(strstr(err, "images.json is larger than 1048576 bytes"), "%s", err);
	dynbuf_free(&b);
	dynbuf_init(&b, 1024 * 1024);
	ck_assert_uint_eq(dynbuf_write_cb("[]", 1, 2, &b), 2);
	ck_assert_int_eq(github_file_answer(403, &b, "images.json", &body, &len, err, sizeof(err)),
			 FORJA_EAUTH);
	ck_assert_int_eq(github_file_answer(200, &b, "images.json", &body, &len, err, sizeof(err)),
			 0);
	ck_assert_uint_eq(len, 2);
	ck_assert_str_eq(body, "[]");
	free(body);
	dynbuf_free(&b);
}
END_TEST

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	Suite *s = suite_create("github");
	TCase *tc = tcase_create("client");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, url_allowed_github_com);
	tcase_add_test(tc, url_allowed_enterprise_and_list);
	tcase_add_test(tc, file_get_at_ref);
	tcase_add_test(tc, file_answer_bounds_and_status);
	tcase_add_test(tc, statuses_in_order);
	tcase_add_test(tc, statuses_only_with_token_and_for_webhooks);
	tcase_add_test(tc, free_drains_queue);
	tcase_add_test(tc, unreachable_statuses_do_not_hang);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	curl_global_cleanup();
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
