/* GET /metrics against a running Forja: a valid 0.0.4 exposition, HTTP and webhook counters
 * that move with requests, and build counters and durations after a real build. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../unit/prom_check.h"
#include "testenv.h"
#include "testgit.h"

#define TOKEN "metrics-test-token"

/* GET /metrics, checked against the grammar; returns the body (free()). */
static char *scrape(struct testenv *t)
{
	char url[200];
	struct http_resp r;
	snprintf(url, sizeof(url), "%s/metrics", t->base_url);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	char *ct = http_resp_header(&r, "Content-Type");
	ck_assert_ptr_nonnull(ct);
	ck_assert_msg(strncmp(ct, "text/plain; version=0.0.4", 25) == 0, "content type %s", ct);
	free(ct);
	ck_assert_int_gt(exposition_check(r.body), 0);
	char *body = r.body;
	r.body = NULL;
	http_resp_free(&r);
	return body;
}

static double value_or_zero(const char *text, const char *series)
{
	double v = sample_value(text, series);
	return v < 0 ? 0 : v;
}

static void get(struct testenv *t, const char *path, long want)
{
	char url[300];
	struct http_resp r;
	snprintf(url, sizeof(url), "%s%s", t->base_url, path);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, want);
	http_resp_free(&r);
}

/* Sum of every forja_http_requests_total series with status STATUS (any route). */
static double status_sum(const char *text, const char *status)
{
	char want[40];
	double sum = 0;
	snprintf(want, sizeof(want), ",status=\"%s\"} ", status);
	for (const char *p = strstr(text, "\nforja_http_requests_total{"); p;
	     p = strstr(p + 1, "\nforja_http_requests_total{")) {
		const char *eol = strchr(p + 1, '\n');
		const char *hit = strstr(p, want);
		if (hit && (!eol || hit < eol))
			sum += strtod(hit + strlen(want), NULL);
	}
	return sum;
}

START_TEST(test_families_present)
{
	struct testenv t;
	testenv_start(&t, NULL);
	char *text = scrape(&t);
	const char *types[] = {
	    "# TYPE forja_builds_total counter\n",
	    "# TYPE forja_queue_depth gauge\n",
	    "# TYPE forja_builds_running gauge\n",
	    "# TYPE forja_build_duration_seconds histogram\n",
	    "# TYPE forja_webhook_deliveries_total counter\n",
	    "# TYPE forja_http_requests_total counter\n",
	    "# TYPE forja_http_request_duration_seconds histogram\n",
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		ck_assert_msg(strstr(text, types[i]), "missing %s", types[i]);
	ck_assert_double_eq(sample_value(text, "forja_queue_depth"), 0);
	ck_assert_double_eq(sample_value(text, "forja_builds_running"), 0);
	ck_assert_double_eq(sample_value(text, "forja_builds_total{status=\"succeeded\"}"), 0);
	free(text);
	testenv_stop(&t);
}
END_TEST

START_TEST(test_http_counters_move)
{
	struct testenv t;
	testenv_start(&t, NULL);
	const char *badge200 = "forja_http_requests_total{route=\"getBadge\",status=\"200\"}";
	const char *badge_count = "forja_http_request_duration_seconds_count{route=\"getBadge\"}";
	const char *scrapes = "forja_http_requests_total{route=\"getMetrics\",status=\"200\"}";
	char *before = scrape(&t);
	double b0 = value_or_zero(before, badge200), c0 = value_or_zero(before, badge_count);
	double n404 = status_sum(before, "404");
	free(before);

	for (int i = 0; i < 3; i++)
		get(&t, "/badge?service=metrics-test", 200);
	get(&t, "/no/such/path", 404);

	char *after = scrape(&t);
	ck_assert_double_eq(sample_value(after, badge200), b0 + 3);
	ck_assert_double_eq(sample_value(after, badge_count), c0 + 3);
	/* an unrouted path is counted under one fixed route label, never under its path */
	ck_assert_double_eq(status_sum(after, "404"), n404 + 1);
	ck_assert_ptr_null(strstr(after, "/no/such/path"));
	/* the first scrape was counted once it was answered */
	ck_assert_double_eq(sample_value(after, scrapes), 1);
	free(after);
	testenv_stop(&t);
}
END_TEST

static void post_webhook(struct testenv *t, const char *event, const char *body)
{
	char url[200], ev[100];
	struct http_resp r;
	snprintf(url, sizeof(url), "%s/ciserver/updates", t->base_url);
	snprintf(ev, sizeof(ev), "X-GitHub-Event: %s", event);
	const char *hdrs[] = {ev, "Content-Type: application/json",
			      "X-GitHub-Delivery: 6a1e3c2e-0000-4000-8000-000000000001", NULL};
	ck_assert_int_eq(http_request("POST", url, hdrs, body, strlen(body), &r), 0);
	ck_assert_msg(r.status < 500, "webhook answered %ld %s", r.status, r.body);
	http_resp_free(&r);
}

/* Sum of every forja_webhook_deliveries_total series whose event is EVENT. */
static double webhook_sum(const char *text, const char *event)
{
	char prefix[100];
	double sum = 0;
	snprintf(prefix, sizeof(prefix), "forja_webhook_deliveries_total{event=\"%s\",", event);
	for (const char *p = strstr(text, prefix); p; p = strstr(p + 1, prefix)) {
		const char *sp = strchr(p, ' ');
		ck_assert_ptr_nonnull(sp);
		sum += strtod(sp + 1, NULL);
	}
	return sum;
}

START_TEST(test_webhook_counters_bounded)
{
	struct testenv t;
	const char *args[] = {"--allow-unsigned-webhooks", NULL};
	testenv_start(&t, args);
	post_webhook(&t, "ping", "{\"zen\":\"Keep it logically awesome.\",\"hook_id\":1}");
	post_webhook(&t, "made_up_event_name", "{}");
	char *text = scrape(&t);
	ck_assert_double_eq(webhook_sum(text, "ping"), 1);
	ck_assert_double_eq(webhook_sum(text, "other"), 1);
	ck_assert_ptr_null(strstr(text, "made_up_event_name"));
	free(text);
	testenv_stop(&t);
}
END_TEST

static json_t *wait_final(struct testenv *t, long long id)
{
	char url[200];
	snprintf(url, sizeof(url), "%s/builds/%lld", t->base_url, id);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct http_resp r;
		ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
		json_t *b = json_loads(r.body, 0, NULL);
		http_resp_free(&r);
		ck_assert_ptr_nonnull(b);
		const char *st = json_string_value(json_object_get(b, "status"));
		if (st &&
		    (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "cancelled")))
			return b;
		json_decref(b);
		clock_gettime(CLOCK_MONOTONIC, &now);
		ck_assert_msg(now.tv_sec - start.tv_sec < 240, "build %lld never finished", id);
		struct timespec nap = {0, 100 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
}

static long long post_build(struct testenv *t, const char *service, const char *clone,
			    const char *sha)
{
	char body[800], url[200];
	snprintf(body, sizeof(body),
		 "{\"service\":\"%s\",\"version\":\"1.0.0\",\"repository\":\"%s\",\"ref\":\"%s\"}",
		 service, clone, sha);
	snprintf(url, sizeof(url), "%s/builds", t->base_url);
	const char *hdrs[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json",
			      NULL};
	struct http_resp r;
	ck_assert_int_eq(http_request("POST", url, hdrs, body, strlen(body), &r), 0);
	ck_assert_msg(r.status == 201 || r.status == 202, "POST /builds: %ld %s", r.status, r.body);
	json_t *created = json_loads(r.body, 0, NULL);
	http_resp_free(&r);
	long long id = json_integer_value(json_object_get(created, "id"));
	json_decref(created);
	ck_assert_int_gt(id, 0);
	return id;
}

START_TEST(test_real_builds_are_counted)
{
	struct testenv t;
	const char *args[] = {"--api-token=" TOKEN, NULL};
	testenv_start(&t, args);
	char repo[64], sha[41], clone[300], dockerfile[200];
	testgit_unique("metricsbuild", repo, sizeof(repo));
	snprintf(dockerfile, sizeof(dockerfile), "FROM %s\nRUN echo %s > /id\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"), repo);
	const char *ok_files[] = {"Dockerfile", dockerfile, NULL};
	testgit_commit(repo, "main", ok_files, sha);
	testgit_url(repo, clone, sizeof(clone));
	long long ok = post_build(&t, repo, clone, sha);

	char bad_repo[64], bad_sha[41], bad_clone[300];
	testgit_unique("metricsfail", bad_repo, sizeof(bad_repo));
	char bad_df[200];
	snprintf(bad_df, sizeof(bad_df), "FROM %s\nRUN exit 3\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"));
	const char *bad_files[] = {"Dockerfile", bad_df, NULL};
	testgit_commit(bad_repo, "main", bad_files, bad_sha);
	testgit_url(bad_repo, bad_clone, sizeof(bad_clone));
	long long bad = post_build(&t, bad_repo, bad_clone, bad_sha);

	json_t *b = wait_final(&t, ok);
	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "succeeded");
	json_decref(b);
	b = wait_final(&t, bad);
	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "failed");
	json_decref(b);

	/* the workers release a build just after recording it: poll the gauges to zero */
	char *text = scrape(&t);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (sample_value(text, "forja_builds_running") != 0 ||
	       sample_value(text, "forja_queue_depth") != 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ck_assert_msg(now.tv_sec - start.tv_sec < 20, "gauges never went to zero");
		struct timespec nap = {0, 50 * 1000 * 1000};
		nanosleep(&nap, NULL);
		free(text);
		text = scrape(&t);
	}
	ck_assert_double_eq(sample_value(text, "forja_builds_total{status=\"succeeded\"}"), 1);
	ck_assert_double_eq(sample_value(text, "forja_builds_total{status=\"failed\"}"), 1);
	ck_assert_double_eq(sample_value(text, "forja_build_duration_seconds_count"), 2);
	ck_assert_double_eq(sample_value(text, "forja_build_duration_seconds_bucket{le=\"+Inf\"}"),
			    2);
	ck_assert(sample_value(text, "forja_build_duration_seconds_sum") > 0);
	free(text);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics_api");
	TCase *tc = tcase_create("metrics");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_families_present);
	tcase_add_test(tc, test_http_counters_move);
	tcase_add_test(tc, test_webhook_counters_bounded);
	tcase_add_test(tc, test_real_builds_are_counted);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
