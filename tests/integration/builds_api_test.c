/* /builds over real HTTP: every bad parameter answered with problem+json (400/404/409/415/422),
 * create -> 202 + Location -> a real build that succeeds, cursor pages without gaps or repeats,
 * filters carried by the next link, and the log as text. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "testenv.h"
#include "testgit.h"

#define TOKEN "builds-api-token"

static struct testenv env;

static void setup(void)
{
	const char *args[] = {"--api-token=" TOKEN, "--workers=1", NULL};
	testenv_start(&env, args);
}

static void teardown(void)
{
	testenv_stop(&env);
}

static json_t *json_of(const struct http_resp *r)
{
	json_t *j = json_loads(r->body, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r->body);
	return j;
}

static void request(const char *method, const char *path, const char *ctype, const char *body,
		    struct http_resp *r)
{
	char url[2048], ct[128];
	snprintf(url, sizeof(url), "%s%s", env.base_url, path);
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype != NULL ? ctype : "application/json");
	const char *hdrs[] = {"Authorization: Bearer " TOKEN, ct, NULL};
	ck_assert_int_eq(http_request(method, url, hdrs, body, body ? strlen(body) : 0, r), 0);
}

/* Asserts a problem+json answer with STATUS; returns its JSON (json_decref). */
static json_t *assert_problem(const struct http_resp *r, long status, const char *detail_part)
{
	ck_assert_msg(r->status == status, "status %ld, wanted %ld: %s", r->status, status,
		      r->body);
	char *ct = http_resp_header(r, "Content-Type");
	ck_assert_msg(ct && !strcmp(ct, "application/problem+json"), "content type %s", ct);
	free(ct);
	json_t *j = json_of(r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), status);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "title")));
	const char *detail = json_string_value(json_object_get(j, "detail"));
	ck_assert_msg(detail && strstr(detail, detail_part), "detail \"%s\" lacks \"%s\"", detail,
		      detail_part);
	return j;
}

/* True when the problem's errors name FIELD. */
static int names_field(json_t *problem, const char *field)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(problem, "errors"), i, e)
	{
		const char *f = json_string_value(json_object_get(e, "field"));
		if (f && !strcmp(f, field))
			return 1;
	}
	return 0;
}

static int64_t insert(const char *service, const char *branch, const char *repo)
{
	struct build *b = build_new();
	b->service = strdup(service);
	b->version = strdup("1");
	b->branch = strdup(branch);
	b->repository = strdup(repo);
	b->trigger = TRIGGER_WEBHOOK;
	ck_assert_int_eq(store_build_insert(env.app.store, b), 0);
	int64_t id = b->id;
	build_free(b);
	return id;
}

START_TEST(get_bad_and_unknown_ids)
{
	struct http_resp r;
	request("GET", "/builds/abc", NULL, NULL, &r);
	json_t *j = assert_problem(&r, 400, "id");
	json_decref(j);
	http_resp_free(&r);
	request("GET", "/builds/424242", NULL, NULL, &r);
	json_decref(assert_problem(&r, 404, "no build with id 424242"));
	http_resp_free(&r);
	request("GET", "/builds/424242/log", NULL, NULL, &r);
	json_decref(assert_problem(&r, 404, "no build"));
	http_resp_free(&r);
	request("GET", "/builds/x1/log", NULL, NULL, &r);
	json_decref(assert_problem(&r, 400, "id"));
	http_resp_free(&r);
	int64_t id = insert("svc", "main", "acme/x");
	char path[64];
	snprintf(path, sizeof(path), "/builds/%lld/log?follow=maybe", (long long)id);
	request("GET", path, NULL, NULL, &r);
	json_decref(assert_problem(&r, 400, "follow"));
	http_resp_free(&r);
	request("POST", "/builds/abc/cancel", NULL, "", &r);
	json_decref(assert_problem(&r, 400, "id"));
	http_resp_free(&r);
	request("POST", "/builds/424242/cancel", NULL, "", &r);
	json_decref(assert_problem(&r, 404, "no build"));
	http_resp_free(&r);
	/* a finished build cannot be cancelled */
	ck_assert_int_eq(store_build_finish(env.app.store, id, BUILD_FAILED, NULL, "x", 1), 0);
	snprintf(path, sizeof(path), "/builds/%lld/cancel", (long long)id);
	request("POST", path, NULL, "", &r);
	json_decref(assert_problem(&r, 409, "already finished (failed)"));
	http_resp_free(&r);
}
END_TEST

START_TEST(list_bad_parameters)
{
	static const struct {
		const char *query, *param;
	} cases[] = {
	    {"status=bogus", "status"},	   {"limit=0", "limit"},    {"limit=101", "limit"},
	    {"limit=ten", "limit"},	   {"before=0", "before"},  {"before=-4", "before"},
	    {"before=12x", "before"},	   {"service=", "service"}, {"branch=", "branch"},
	    {"repository=", "repository"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[256];
		struct http_resp r;
		snprintf(path, sizeof(path), "/builds?%s", cases[i].query);
		request("GET", path, NULL, NULL, &r);
		json_decref(assert_problem(&r, 400, cases[i].param));
		http_resp_free(&r);
	}
}
END_TEST

START_TEST(pages_follow_next_without_gaps)
{
	/* 45 builds: svc-a on main for every third, the rest svc-b on dev */
	int64_t ids[45];
	for (int i = 0; i < 45; i++)
		ids[i] = insert(i % 3 == 0 ? "svc-a" : "svc-b", i % 3 == 0 ? "main" : "dev",
				"acme/shop");
	int seen[64] = {0};
	char path[1024] = "/builds?limit=20";
	int pages = 0;
	int64_t last = INT64_MAX;
	for (;;) {
		struct http_resp r;
		request("GET", path, NULL, NULL, &r);
		ck_assert_int_eq(r.status, 200);
		json_t *j = json_of(&r);
		json_t *builds = json_object_get(j, "builds");
		size_t i;
		json_t *b;
		json_array_foreach(builds, i, b)
		{
			int64_t id = json_integer_value(json_object_get(b, "id"));
			ck_assert_int_lt(id, last);
			last = id;
			seen[id]++;
			ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "queued");
		}
		pages++;
		json_t *next = json_object_get(j, "next");
		ck_assert_ptr_nonnull(next);
		if (json_is_null(next)) {
			ck_assert_int_eq(json_array_size(builds), 5);
			json_decref(j);
			http_resp_free(&r);
			break;
		}
		ck_assert_int_eq(json_array_size(builds), 20);
		snprintf(path, sizeof(path), "%s", json_string_value(next));
		ck_assert_int_eq(strncmp(path, "/builds?limit=20&before=", 24), 0);
		json_decref(j);
		http_resp_free(&r);
	}
	ck_assert_int_eq(pages, 3);
	for (int i = 0; i < 45; i++)
		ck_assert_int_eq(seen[ids[i]], 1);

	/* filters ride along in the next link: 15 svc-a builds on main in pages of 10 */
	struct http_resp r;
	request("GET", "/builds?service=svc-a&branch=main&status=queued&limit=10", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	json_t *j = json_of(&r);
	ck_assert_int_eq(json_array_size(json_object_get(j, "builds")), 10);
	const char *next = json_string_value(json_object_get(j, "next"));
	ck_assert_ptr_nonnull(next);
	ck_assert_ptr_nonnull(strstr(next, "service=svc-a"));
	ck_assert_ptr_nonnull(strstr(next, "branch=main"));
	ck_assert_ptr_nonnull(strstr(next, "status=queued"));
	snprintf(path, sizeof(path), "%s", next);
	json_decref(j);
	http_resp_free(&r);
	request("GET", path, NULL, NULL, &r);
	j = json_of(&r);
	json_t *builds = json_object_get(j, "builds");
	ck_assert_int_eq(json_array_size(builds), 5);
	ck_assert(json_is_null(json_object_get(j, "next")));
	size_t i;
	json_t *b;
	json_array_foreach(builds, i, b)
	{
		ck_assert_str_eq(json_string_value(json_object_get(b, "service")), "svc-a");
	}
	json_decref(j);
	http_resp_free(&r);

	/* exactly one full page: next is null, not a link to an empty page */
	request("GET", "/builds?repository=acme/shop&limit=45", NULL, NULL, &r);
	j = json_of(&r);
	ck_assert_int_eq(json_array_size(json_object_get(j, "builds")), 45);
	ck_assert(json_is_null(json_object_get(j, "next")));
	json_decref(j);
	http_resp_free(&r);
}
END_TEST

START_TEST(create_rejects_bad_bodies)
{
	struct http_resp r;
	char url[256];
	snprintf(url, sizeof(url), "%s/builds", env.base_url);
	/* no token: the route layer answers */
	const char *nohdr[] = {"Content-Type: application/json", NULL};
	ck_assert_int_eq(http_request("POST", url, nohdr, "{}", 2, &r), 0);
	ck_assert_int_eq(r.status, 401);
	http_resp_free(&r);

	request("POST", "/builds", "text/plain", "service=x", &r);
	json_decref(assert_problem(&r, 415, "application/json"));
	http_resp_free(&r);
	request("POST", "/builds", NULL, "{not json", &r);
	json_decref(assert_problem(&r, 400, "not valid JSON"));
	http_resp_free(&r);
	request("POST", "/builds", NULL, "[1,2]", &r);
	json_decref(assert_problem(&r, 400, "JSON object"));
	http_resp_free(&r);

	/* every problem at once */
	request("POST", "/builds", NULL, "{}", &r);
	json_t *j = assert_problem(&r, 422, "problems");
	ck_assert(names_field(j, "service"));
	ck_assert(names_field(j, "version"));
	ck_assert(names_field(j, "repository"));
	ck_assert(names_field(j, "ref"));
	json_decref(j);
	http_resp_free(&r);

	request("POST", "/builds", NULL,
		"{\"service\":5,\"version\":\"bad tag!\",\"repository\":\"git://127.0.0.1/x.git\","
		"\"ref\":\"main\",\"context\":\"../up\",\"build_args\":{\"A\":1}}",
		&r);
	j = assert_problem(&r, 422, "problems");
	ck_assert(names_field(j, "service"));
	ck_assert(names_field(j, "version"));
	ck_assert(names_field(j, "context"));
	ck_assert(names_field(j, "build_args.A"));
	ck_assert(json_array_size(json_object_get(j, "errors")) >= 4);
	json_decref(j);
	http_resp_free(&r);

	request("POST", "/builds", NULL,
		"{\"service\":\"ok\",\"version\":\"1\",\"repository\":\"ftp://host/"
		"x\",\"ref\":\"main\"}",
		&r);
	j = assert_problem(&r, 422, "problem");
	ck_assert(names_field(j, "repository"));
	ck_assert_int_eq(json_array_size(json_object_get(j, "errors")), 1);
	json_decref(j);
	http_resp_free(&r);

	request("POST", "/builds", NULL,
		"{\"service\":\"amisvc\",\"version\":\"1\",\"type\":\"AMI\","
		"\"repository\":\"git://127.0.0.1/x.git\",\"ref\":\"main\"}",
		&r);
	j = assert_problem(&r, 422, "problem");
	ck_assert(names_field(j, "type"));
	ck_assert_ptr_nonnull(strstr(r.body, "not supported"));
	json_decref(j);
	http_resp_free(&r);

	/* nothing was recorded by any of these */
	struct build *b = NULL;
	ck_assert_int_eq(store_build_latest(env.app.store, NULL, NULL, &b), FORJA_ENOTFOUND);
}
END_TEST

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(create_queues_a_real_build)
{
	char name[128], url[256], sha[41], body[1024], dockerfile[256], stamp[160];
	testgit_unique("apibuild", name, sizeof(name));
	snprintf(dockerfile, sizeof(dockerfile),
		 "FROM %s\nARG GREETING\nCOPY stamp /stamp\n"
		 "RUN echo \"$GREETING\"\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"));
	snprintf(stamp, sizeof(stamp), "%s %lld\n", name, mono_ms());
	const char *files[] = {"app/Dockerfile.web", dockerfile, "app/stamp", stamp, NULL};
	testgit_commit(name, "main", files, sha);
	testgit_url(name, url, sizeof(url));
	snprintf(
	    body, sizeof(body),
	    "{\"service\":\"api-svc\",\"version\":\"1.2.3\",\"type\":\"Docker\","
	    "\"repository\":\"%s\",\"ref\":\"main\",\"context\":\"app\","
	    "\"dockerfile\":\"Dockerfile.web\",\"build_args\":{\"GREETING\":\"hello-forja " TOKEN
	    "\"}}",
	    url);
	struct http_resp r;
	request("POST", "/builds", NULL, body, &r);
	ck_assert_msg(r.status == 202, "status %ld: %s", r.status, r.body);
	char *loc = http_resp_header(&r, "Location");
	json_t *j = json_of(&r);
	int64_t id = json_integer_value(json_object_get(j, "id"));
	char want[64];
	snprintf(want, sizeof(want), "/builds/%lld", (long long)id);
	ck_assert_str_eq(loc, want);
	ck_assert_str_eq(json_string_value(json_object_get(j, "trigger")), "api");
	ck_assert_str_eq(json_string_value(json_object_get(j, "branch")), "main");
	char image[300];
	snprintf(image, sizeof(image), "%s/api-svc:1.2.3", env.cfg.registry);
	ck_assert_str_eq(json_string_value(json_object_get(j, "image")), image);
	ck_assert_str_eq(
	    json_string_value(json_object_get(json_object_get(j, "build_args"), "GREETING")),
	    "hello-forja " TOKEN);
	json_decref(j);
	http_resp_free(&r);

	/* poll the build through the API until it ends */
	long long deadline = mono_ms() + 180000;
	for (;;) {
		request("GET", loc, NULL, NULL, &r);
		ck_assert_int_eq(r.status, 200);
		j = json_of(&r);
		const char *st = json_string_value(json_object_get(j, "status"));
		if (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "cancelled"))
			break;
		json_decref(j);
		http_resp_free(&r);
		ck_assert_msg(mono_ms() < deadline, "build did not end");
		usleep(100 * 1000);
	}
	ck_assert_msg(!strcmp(json_string_value(json_object_get(j, "status")), "succeeded"),
		      "build ended: %s", r.body);
	ck_assert_int_eq(strncmp(json_string_value(json_object_get(j, "digest")), "sha256:", 7), 0);
	ck_assert(json_real_value(json_object_get(j, "duration_seconds")) > 0);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "started_at")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "attempts")), 1);
	/* the branch was pinned to the commit it resolved to */
	ck_assert_str_eq(json_string_value(json_object_get(j, "commit")), sha);
	json_decref(j);
	http_resp_free(&r);

	/* the whole log as text, with the build argument's effect in it */
	char logpath[80];
	snprintf(logpath, sizeof(logpath), "%s/log", loc);
	request("GET", logpath, NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	char *ct = http_resp_header(&r, "Content-Type");
	ck_assert_ptr_nonnull(strstr(ct, "text/plain"));
	free(ct);
	/* the API token is a configured secret: the build printed it, the log masks it */
	ck_assert_ptr_nonnull(strstr(r.body, "hello-forja ****"));
	ck_assert_ptr_null(strstr(r.body, TOKEN));
	ck_assert_ptr_nonnull(strstr(r.body, "forja: build succeeded"));
	http_resp_free(&r);

	/* and it is in the list, filtered by status and repository */
	char path[512];
	snprintf(path, sizeof(path), "/builds?status=succeeded&service=api-svc");
	request("GET", path, NULL, NULL, &r);
	j = json_of(&r);
	ck_assert_int_eq(json_array_size(json_object_get(j, "builds")), 1);
	json_decref(j);
	http_resp_free(&r);
	free(loc);
}
END_TEST

static Suite *builds_api_suite(void)
{
	Suite *s = suite_create("builds_api");
	TCase *tc = tcase_create("http");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 240);
	tcase_add_test(tc, get_bad_and_unknown_ids);
	tcase_add_test(tc, list_bad_parameters);
	tcase_add_test(tc, pages_follow_next_without_gaps);
	tcase_add_test(tc, create_rejects_bad_bodies);
	tcase_add_test(tc, create_queues_a_real_build);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(builds_api_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
