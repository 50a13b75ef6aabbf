/* Retention on a running server: with FORJA_KEEP_BUILDS=1 a pass removes a service's older
 * finished builds and their logs, keeps its newest and every queued or running one, the badge
 * still answers from the newest, and /metrics counts what went. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/build.h"
#include "../../src/store.h"
#include "testenv.h"

static int64_t add(struct testenv *t, const char *service, enum build_status status)
{
	struct build *b = build_new();
	b->service = strdup(service);
	b->version = strdup("1");
	b->type = strdup("docker");
	b->clone_url = strdup("git://127.0.0.1/x.git");
	b->ref = strdup("main");
	b->trigger = TRIGGER_API;
	ck_assert_int_eq(store_build_insert(t->app.store, b), 0);
	int64_t id = b->id;
	build_free(b);
	build_logs_appendf(t->app.logs, id, "a line");
	if (status != BUILD_QUEUED)
		ck_assert_int_eq(store_build_start(t->app.store, id, build_now_ms(), NULL), 0);
	if (build_status_is_final(status)) {
		ck_assert_int_eq(store_build_finish(t->app.store, id, status,
						    status == BUILD_SUCCEEDED ? "sha256:0" : NULL,
						    NULL, build_now_ms()),
				 0);
		build_logs_end(t->app.logs, id);
	}
	return id;
}

static long get(struct testenv *t, const char *path, char **body)
{
	char url[256];
	struct http_resp r;
	snprintf(url, sizeof(url), "%s%s", t->base_url, path);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	long s = r.status;
	if (body)
		*body = strdup(r.body);
	http_resp_free(&r);
	return s;
}

START_TEST(test_keep_builds_on_a_running_server)
{
	struct testenv t;
	/* no worker takes the inserted builds: they are recorded, not run */
	const char *args[] = {"--keep-builds=1", "--retention-interval=1", NULL};
	testenv_start(&t, args);
	queue_drain(t.app.queue);
	int64_t old1 = add(&t, "ret-a", BUILD_FAILED);
	int64_t old2 = add(&t, "ret-a", BUILD_SUCCEEDED);
	int64_t run = add(&t, "ret-a", BUILD_RUNNING);
	int64_t newest = add(&t, "ret-a", BUILD_SUCCEEDED);
	int64_t other = add(&t, "ret-b", BUILD_FAILED);
	char path[64], *body = NULL;
	long removed = 0;
	for (int i = 0; i < 100 && removed < 2; i++) {
		usleep(100 * 1000);
		removed = testenv_metric(&t, "forja_retention_builds_removed_total", NULL);
	}
	ck_assert_int_eq(removed, 2);
	snprintf(path, sizeof(path), "/builds/%lld", (long long)old1);
	ck_assert_int_eq(get(&t, path, NULL), 404);
	snprintf(path, sizeof(path), "/builds/%lld/log", (long long)old2);
	ck_assert_int_eq(get(&t, path, NULL), 404);
	snprintf(path, sizeof(path), "/builds/%lld", (long long)run);
	ck_assert_int_eq(get(&t, path, NULL), 200);
	snprintf(path, sizeof(path), "/builds/%lld/log", (long long)newest);
	ck_assert_int_eq(get(&t, path, &body), 200);
	ck_assert_ptr_nonnull(strstr(body, "a line"));
	free(body);
	snprintf(path, sizeof(path), "/builds/%lld", (long long)other);
	ck_assert_int_eq(get(&t, path, NULL), 200);
	/* the badge answers from the newest build */
	ck_assert_int_eq(get(&t, "/badge?service=ret-a", &body), 200);
	/* a succeeded newest build shows its version */
	ck_assert_msg(strstr(body, "<svg") && strstr(body, "aria-label=\"build: 1\""),
		      "badge: %.200s", body);
	free(body);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("retention_api");
	TCase *tc = tcase_create("retention_api");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_keep_builds_on_a_running_server);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
