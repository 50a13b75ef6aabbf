/* Metrics: the exposition text follows the Prometheus 0.0.4 grammar, counters and histograms
 * move as events are recorded, label values are escaped, cardinality stays bounded, and
 * concurrent recording loses nothing. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "prom_check.h"

static char *render(struct metrics *m)
{
	char *text = metrics_render(m, 0, 0, NULL, 0);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_gt(exposition_check(text), 0);
	return text;
}

START_TEST(test_fresh_output_is_valid)
{
	struct metrics *m;
	ck_assert_int_eq(metrics_new(&m), 0);
	char *text = metrics_render(m, 4, 2, NULL, 0);
	ck_assert_int_gt(exposition_check(text), 0);
	ck_assert_double_eq(sample_value(text, "forja_queue_depth"), 4);
	ck_assert_double_eq(sample_value(text, "forja_builds_running"), 2);
	ck_assert_double_eq(sample_value(text, "forja_builds_total{status=\"succeeded\"}"), 0);
	ck_assert_double_eq(sample_value(text, "forja_build_duration_seconds_count"), 0);
	ck_assert_ptr_nonnull(strstr(text, "# TYPE forja_builds_total counter\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE forja_build_duration_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE forja_webhook_deliveries_total counter\n"));
	ck_assert_ptr_nonnull(strstr(text, "# TYPE forja_http_requests_total counter\n"));
	free(text);
	metrics_free(m);
}
END_TEST

START_TEST(test_checker_can_fail)
{
	ck_assert_int_eq(exposition_check("# TYPE x counter\n# HELP x h\nx{a=\"b} 1\n"), -1);
	ck_assert_int_eq(exposition_check("y 1\n"), -1);
	ck_assert_int_eq(exposition_check("# TYPE x counter\n# HELP x h\nx one\n"), -1);
	ck_assert_int_eq(exposition_check("# TYPE x counter\n# HELP x h\nx{a=\"b\"} 1\n"), 1);
}
END_TEST

START_TEST(test_http_counters_move)
{
	struct metrics *m;
	ck_assert_int_eq(metrics_new(&m), 0);
	metrics_http_request(m, "getBadge", 200, 0.0004);
	metrics_http_request(m, "getBadge", 200, 0.003);
	metrics_http_request(m, "getBadge", 304, 0.0001);
	metrics_http_request(m, "unknown", 404, 0.0001);
	metrics_http_request(m, "getBuild", 1000, 0.1);
	char *text = render(m);
	ck_assert_double_eq(
	    sample_value(text, "forja_http_requests_total{route=\"getBadge\",status=\"200\"}"), 2);
	ck_assert_double_eq(
	    sample_value(text, "forja_http_requests_total{route=\"getBadge\",status=\"304\"}"), 1);
	ck_assert_double_eq(
	    sample_value(text, "forja_http_requests_total{route=\"unknown\",status=\"404\"}"), 1);
	ck_assert_double_eq(
	    sample_value(text, "forja_http_requests_total{route=\"getBuild\",status=\"other\"}"),
	    1);
	ck_assert_double_eq(
	    sample_value(
		text,
		"forja_http_request_duration_seconds_bucket{route=\"getBadge\",le=\"0.0005\"}"),
	    2);
	ck_assert_double_eq(
	    sample_value(
		text,
		"forja_http_request_duration_seconds_bucket{route=\"getBadge\",le=\"0.005\"}"),
	    3);
	ck_assert_double_eq(
	    sample_value(
		text, "forja_http_request_duration_seconds_bucket{route=\"getBadge\",le=\"+Inf\"}"),
	    3);
	ck_assert_double_eq(
	    sample_value(text, "forja_http_request_duration_seconds_count{route=\"getBadge\"}"), 3);
	ck_assert_double_eq_tol(
	    sample_value(text, "forja_http_request_duration_seconds_sum{route=\"getBadge\"}"),
	    0.0035, 1e-6);
	free(text);
	metrics_free(m);
}
END_TEST

START_TEST(test_builds_and_durations)
{
	struct metrics *m;
	ck_assert_int_eq(metrics_new(&m), 0);
	struct build b;
	memset(&b, 0, sizeof(b));
	b.status = BUILD_QUEUED;
	metrics_on_build(m, &b); /* not final: not counted */
	b.status = BUILD_RUNNING;
	b.started_at = 1000;
	metrics_on_build(m, &b);
	b.status = BUILD_SUCCEEDED;
	b.finished_at = 4000; /* 3 s */
	metrics_on_build(m, &b);
	b.status = BUILD_FAILED;
	b.finished_at = 1000 + 90 * 1000; /* 90 s */
	metrics_on_build(m, &b);
	b.status = BUILD_CANCELLED;
	b.started_at = 0; /* cancelled while queued: no duration */
	metrics_on_build(m, &b);
	char *text = render(m);
	ck_assert_double_eq(sample_value(text, "forja_builds_total{status=\"succeeded\"}"), 1);
	ck_assert_double_eq(sample_value(text, "forja_builds_total{status=\"failed\"}"), 1);
	ck_assert_double_eq(sample_value(text, "forja_builds_total{status=\"cancelled\"}"), 1);
	ck_assert_double_eq(sample_value(text, "forja_build_duration_seconds_bucket{le=\"1\"}"), 0);
	ck_assert_double_eq(sample_value(text, "forja_build_duration_seconds_bucket{le=\"5\"}"), 1);
	ck_assert_double_eq(sample_value(text, "forja_build_duration_seconds_bucket{le=\"60\"}"),
			    1);
	ck_assert_double_eq(sample_value(text, "forja_build_duration_seconds_bucket{le=\"120\"}"),
			    2);
	ck_assert_double_eq(sample_value(text, "forja_build_duration_seconds_bucket{le=\"+Inf\"}"),
			    2);
	ck_assert_double_eq(sample_value(text, "forja_build_duration_seconds_count"), 2);
	ck_assert_double_eq_tol(sample_value(text, "forja_build_duration_seconds_sum"), 93, 1e-6);
	free(text);
	metrics_free(m);
}
END_TEST

START_TEST(test_webhook_cardinality_bounded)
{
	struct metrics *m;
	ck_assert_int_eq(metrics_new(&m), 0);
	metrics_webhook(m, "pull_request", "queued");
	metrics_webhook(m, "pull_request", "ignored");
	metrics_webhook(m, "ping", "ignored");
	char name[32];
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "made_up_%d", i);
		metrics_webhook(m, name, "rejected");
	}
	metrics_webhook(m, NULL, "weird\"outcome");
	char *text = render(m);
	ck_assert_double_eq(
	    sample_value(
		text, "forja_webhook_deliveries_total{event=\"pull_request\",outcome=\"queued\"}"),
	    1);
	ck_assert_double_eq(
	    sample_value(text,
			 "forja_webhook_deliveries_total{event=\"ping\",outcome=\"ignored\"}"),
	    1);
	ck_assert_double_eq(
	    sample_value(text,
			 "forja_webhook_deliveries_total{event=\"other\",outcome=\"rejected\"}"),
	    500);
	ck_assert_double_eq(
	    sample_value(text, "forja_webhook_deliveries_total{event=\"other\",outcome=\"other\"}"),
	    1);
	ck_assert_ptr_null(strstr(text, "made_up"));
	free(text);
	metrics_free(m);
}
END_TEST

START_TEST(test_route_cardinality_and_escaping)
{
	struct metrics *m;
	ck_assert_int_eq(metrics_new(&m), 0);
	metrics_http_request(m, "we\"ird\\route\n", 200, 0.001);
	char name[32];
	for (int i = 0; i < METRICS_MAX_ROUTES + 20; i++) {
		snprintf(name, sizeof(name), "route%d", i);
		metrics_http_request(m, name, 200, 0.001);
	}
	char *text = render(m);
	ck_assert_double_eq(
	    sample_value(
		text, "forja_http_requests_total{route=\"we\\\"ird\\\\route\\n\",status=\"200\"}"),
	    1);
	ck_assert_double_eq(
	    sample_value(text, "forja_http_requests_total{route=\"route0\",status=\"200\"}"), 1);
	/* one slot went to the odd name, so the table filled at route METRICS_MAX_ROUTES - 2 */
	ck_assert_double_eq(
	    sample_value(text, "forja_http_requests_total{route=\"other\",status=\"200\"}"), 21);
	snprintf(name, sizeof(name), "route%d", METRICS_MAX_ROUTES + 5);
	ck_assert_ptr_null(strstr(text, name));
	free(text);
	metrics_free(m);
}
END_TEST

#define THREADS	   4
#define PER_THREAD 20000

static void *hammer(void *ud)
{
	struct metrics *m = ud;
	char name[16];
	for (int i = 0; i < PER_THREAD; i++) {
		snprintf(name, sizeof(name), "r%d", i % 8);
		metrics_http_request(m, name, 200, 0.0001);
		metrics_webhook(m, "push", "ignored");
	}
	return NULL;
}

START_TEST(test_concurrent_recording)
{
	struct metrics *m;
	ck_assert_int_eq(metrics_new(&m), 0);
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, m), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	char *text = render(m);
	for (int r = 0; r < 8; r++) {
		char series[96];
		snprintf(series, sizeof(series),
			 "forja_http_requests_total{route=\"r%d\",status=\"200\"}", r);
		ck_assert_double_eq(sample_value(text, series), THREADS * PER_THREAD / 8);
	}
	ck_assert_double_eq(
	    sample_value(text,
			 "forja_webhook_deliveries_total{event=\"push\",outcome=\"ignored\"}"),
	    THREADS * PER_THREAD);
	/* each route name was added exactly once */
	ck_assert_ptr_null(strstr(text, "route=\"other\""));
	free(text);
	metrics_free(m);
}
END_TEST

START_TEST(test_engine_series)
{
	struct metrics *m;
	ck_assert_int_eq(metrics_new(&m), 0);
	struct pool_state st[2] = {
	    {.host = "unix:///var/run/docker.sock", .up = 1, .slots = 2, .in_use = 1, .builds = 7},
	    {.host = "tcp://10.0.0.5:2376", .up = 0, .slots = 3, .in_use = 0, .builds = 0},
	};
	char *text = metrics_render(m, 0, 0, st, 2);
	ck_assert_int_gt(exposition_check(text), 0);
	ck_assert_double_eq(
	    sample_value(text, "forja_engine_up{engine=\"unix:///var/run/docker.sock\"}"), 1);
	ck_assert_double_eq(sample_value(text, "forja_engine_up{engine=\"tcp://10.0.0.5:2376\"}"),
			    0);
	ck_assert_double_eq(
	    sample_value(text, "forja_engine_slots{engine=\"tcp://10.0.0.5:2376\"}"), 3);
	ck_assert_double_eq(
	    sample_value(text, "forja_engine_slots_in_use{engine=\"unix:///var/run/docker.sock\"}"),
	    1);
	ck_assert_double_eq(
	    sample_value(text, "forja_engine_builds_total{engine=\"unix:///var/run/docker.sock\"}"),
	    7);
	ck_assert_ptr_nonnull(strstr(text, "# TYPE forja_engine_builds_total counter\n"));
	metrics_retention(m, 3, 2);
	free(text);
	text = metrics_render(m, 0, 0, NULL, 0);
	ck_assert_double_eq(sample_value(text, "forja_retention_runs_total"), 1);
	ck_assert_double_eq(sample_value(text, "forja_retention_builds_removed_total"), 3);
	ck_assert_double_eq(sample_value(text, "forja_retention_deliveries_removed_total"), 2);
	free(text);
	metrics_free(m);
}
END_TEST

START_TEST(test_null_metrics_is_a_no_op)
{
	metrics_http_request(NULL, "x", 200, 0.1);
	metrics_webhook(NULL, "push", "queued");
	metrics_on_build(NULL, NULL);
	metrics_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_fresh_output_is_valid);
	tcase_add_test(tc, test_checker_can_fail);
	tcase_add_test(tc, test_http_counters_move);
	tcase_add_test(tc, test_builds_and_durations);
	tcase_add_test(tc, test_webhook_cardinality_bounded);
	tcase_add_test(tc, test_route_cardinality_and_escaping);
	tcase_add_test(tc, test_concurrent_recording);
	tcase_add_test(tc, test_engine_series);
	tcase_add_test(tc, test_null_metrics_is_a_no_op);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
