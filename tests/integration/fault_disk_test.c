/* Fault: the data directory's disk fills up while a build runs (a small tmpfs the test mounts).
 * The running build ends with a final status, nothing is left running; while the disk is full
 * a new build is refused with a problem+json that says there is no space (507), the webhook
 * likewise, and nothing crashes; the history passes PRAGMA integrity_check; once space is back
 * a new build succeeds with its digest in the registry. Needs root (mount). */
#include <check.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "github_standin.h"
#include "store.h"
#include "testbuild.h"
#include "testenv.h"
#include "testfault.h"
#include "testgit.h"
#include "testhook.h"

#define TOKEN "fault-disk-token"

static struct testfault_fixture fx = {.test = "fault_disk_test"};

static void setup(void)
{
	testfault_setup_fixture(&fx);
}

static void teardown(void)
{
	testfault_teardown_fixture(&fx);
}

static void post_build(struct testenv *t, const char *service, const char *version, const char *url,
		       const char *sha, struct http_resp *r)
{
	char target[128], body[1024];
	snprintf(target, sizeof(target), "%s/builds", t->base_url);
	snprintf(body, sizeof(body),
		 "{\"service\":\"%s\",\"version\":\"%s\",\"repository\":\"%s\",\"ref\":\"%s\"}",
		 service, version, url, sha);
	const char *headers[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json",
				 NULL};
	ck_assert_int_eq(http_request("POST", target, headers, body, strlen(body), r), 0);
}

static void deliver(struct testenv *t, const char *name, const char *full_name, const char *url,
		    const char *sha, struct http_resp *r)
{
	char target[128];
	json_t *p = testhook_fixture("pull_request_merged.json");
	json_t *repo = json_object_get(p, "repository");
	json_object_set_new(repo, "clone_url", json_string(url));
	json_object_set_new(repo, "full_name", json_string(full_name));
	json_object_set_new(repo, "name", json_string(name));
	json_object_del(repo, "ssh_url");
	json_object_set_new(json_object_get(p, "pull_request"), "merge_commit_sha",
			    json_string(sha));
	char *body = json_dumps(p, 0);
	json_decref(p);
	snprintf(target, sizeof(target), "%s/ciserver/updates", t->base_url);
	const char *headers[] = {"Content-Type: application/json", "X-GitHub-Event: pull_request",
				 "X-GitHub-Hook-ID: 77", "X-GitHub-Delivery: disk-full-1", NULL};
	ck_assert_int_eq(http_request("POST", target, headers, body, strlen(body), r), 0);
	free(body);
}

static void assert_no_space_problem(const struct http_resp *r, const char *what)
{
	ck_assert_msg(r->status == 507, "%s while full: %ld %s", what, r->status, r->body);
	json_t *j = json_loads(r->body, 0, NULL);
	const char *d = json_string_value(json_object_get(j, "detail"));
	ck_assert_msg(d && strstr(d, "no space left"), "%s detail: %s", what, r->body);
	fprintf(stderr, "disk full: %s answered %ld: %s\n", what, r->status, d);
	json_decref(j);
}

static void assert_integrity(const char *data)
{
	char path[300];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	snprintf(path, sizeof(path), "%s/forja.db", data);
	ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

START_TEST(disk_full_mid_build_then_space_back)
{
	ck_assert_msg(geteuid() == 0, "this test needs root (mounting a tmpfs)");
	char data[200], data_flag[220], api[128], svc[64], name[96], full_name[128];
	char url1[256], sha1[41], url2[256], sha2[41], manifest[256];
	snprintf(data, sizeof(data), "%s/data", fx.state);
	testfault_tmpfs_mount(data, "24m");
	struct github_standin *gh = github_standin_start();
	snprintf(api, sizeof(api), "--github-api-url=%s", github_standin_url(gh));
	snprintf(data_flag, sizeof(data_flag), "--data-dir=%s", data);
	const char *args[] = {data_flag,     api, "--api-token=" TOKEN, "--allow-unsigned-webhooks",
			      "--workers=1", NULL};
	struct testenv t;
	testenv_start(&t, args);
	snprintf(svc, sizeof(svc), "fault-disk-%d", (int)getpid());
	testbuild_make_repo("fdisk", 3, name, sizeof(name), url1, sizeof(url1), sha1);
	snprintf(full_name, sizeof(full_name), "octo-org/%s", name);
	testbuild_make_repo("fdisk2", 0, NULL, 0, url2, sizeof(url2), sha2);
	snprintf(manifest, sizeof(manifest),
		 "[{\"service_name\": \"%s\", \"version\": \"w\", \"context\": \"\"}]", svc);
	github_standin_put_file(gh, full_name, "images.json", sha1, manifest);

	/* the disk fills while one build sleeps in its RUN step and another waits */
	int64_t id = testbuild_queue(&t, svc, "1", url1, sha1);
	int64_t id2 = testbuild_queue(&t, svc, "2", url2, sha2);
	testbuild_wait_log(&t, id, "line-one", 60);
	testfault_fill(data, "filler");
	long long full_at = testfault_ms();
	struct build *b = testbuild_wait_final(&t, id, 60);
	fprintf(stderr, "disk full mid-build: build %lld %s %lld ms later%s%s\n", (long long)id,
		build_status_name(b->status), testfault_ms() - full_at, b->error ? ": " : "",
		b->error ? b->error : "");
	/* the running build's end is recorded: it pushed, so it succeeded */
	ck_assert_msg(b->status == BUILD_SUCCEEDED, "%s: %s", build_status_name(b->status),
		      b->error ? b->error : "");
	testhook_assert_in_registry(svc, "1", b->digest);
	build_free(b);
	b = testbuild_wait_final(&t, id2, 30);
	ck_assert_int_eq(b->status, BUILD_FAILED);
	ck_assert_msg(b->error && strstr(b->error, "no space left on the data directory"),
		      "error: %s", b->error ? b->error : "(none)");
	ck_assert_int_eq(b->attempts, 0);
	fprintf(stderr, "disk full: the waiting build failed: %s\n", b->error);
	build_free(b);

	/* while it is full: refused, saying why */
	struct http_resp r;
	post_build(&t, svc, "2", url2, sha2, &r);
	assert_no_space_problem(&r, "POST /builds");
	http_resp_free(&r);
	deliver(&t, name, full_name, url1, sha1, &r);
	assert_no_space_problem(&r, "webhook");
	http_resp_free(&r);
	int queued = -1, running = -1;
	queue_stats(t.app.queue, &queued, &running);
	ck_assert_int_eq(queued + running, 0);
	assert_integrity(data);

	/* space is back: a build and the redelivery go through */
	char filler[300];
	snprintf(filler, sizeof(filler), "%s/filler", data);
	ck_assert_int_eq(unlink(filler), 0);
	long long freed_at = testfault_ms();
	post_build(&t, svc, "3", url2, sha2, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	json_t *j = json_loads(r.body, 0, NULL);
	int64_t id3 = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	http_resp_free(&r);
	b = testbuild_wait_final(&t, id3, 60);
	char *log = testbuild_read_log(&t, id3);
	ck_assert_msg(b->status == BUILD_SUCCEEDED, "%s: %s\n%s", build_status_name(b->status),
		      b->error ? b->error : "", log);
	testhook_assert_in_registry(svc, "3", b->digest);
	fprintf(stderr, "space back: the next build was accepted and succeeded %lld ms later\n",
		testfault_ms() - freed_at);
	free(log);
	build_free(b);
	deliver(&t, name, full_name, url1, sha1, &r);
	ck_assert_msg(r.status == 202, "redelivery: %ld %s", r.status, r.body);
	http_resp_free(&r);
	assert_integrity(data);
	testenv_stop(&t);
	github_standin_stop(gh);
}
END_TEST

START_TEST(disk_full_before_a_build)
{
	ck_assert_msg(geteuid() == 0, "this test needs root (mounting a tmpfs)");
	char data[200], data_flag[220], svc[64], url[256], sha[41], filler[300];
	snprintf(data, sizeof(data), "%s/data2", fx.state);
	testfault_tmpfs_mount(data, "24m");
	snprintf(data_flag, sizeof(data_flag), "--data-dir=%s", data);
	const char *args[] = {data_flag, "--api-token=" TOKEN, "--workers=1", NULL};
	struct testenv t;
	testenv_start(&t, args);
	snprintf(svc, sizeof(svc), "fault-disk-early-%d", (int)getpid());
	testbuild_make_repo("fdisk3", 0, NULL, 0, url, sizeof(url), sha);

	/* full before anything asks for room: the request is refused, or the build fails and
	 * says why */
	testfault_fill(data, "filler");
	struct http_resp r;
	post_build(&t, svc, "1", url, sha, &r);
	if (r.status == 202) {
		json_t *j = json_loads(r.body, 0, NULL);
		int64_t id = json_integer_value(json_object_get(j, "id"));
		json_decref(j);
		struct build *b = testbuild_wait_final(&t, id, 60);
		ck_assert_int_eq(b->status, BUILD_FAILED);
		ck_assert_msg(b->error && (strstr(b->error, "No space left") ||
					   strstr(b->error, "no space left")),
			      "error: %s", b->error ? b->error : "(none)");
		fprintf(stderr, "disk full before a build: accepted, then failed: %s\n", b->error);
		build_free(b);
	} else {
		assert_no_space_problem(&r, "POST /builds (full before)");
	}
	http_resp_free(&r);
	assert_integrity(data);

	snprintf(filler, sizeof(filler), "%s/filler", data);
	ck_assert_int_eq(unlink(filler), 0);
	post_build(&t, svc, "2", url, sha, &r);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	json_t *j = json_loads(r.body, 0, NULL);
	int64_t id2 = json_integer_value(json_object_get(j, "id"));
	json_decref(j);
	http_resp_free(&r);
	struct build *b = testbuild_wait_final(&t, id2, 60);
	ck_assert_msg(b->status == BUILD_SUCCEEDED, "%s: %s", build_status_name(b->status),
		      b->error ? b->error : "");
	testhook_assert_in_registry(svc, "2", b->digest);
	build_free(b);
	testenv_stop(&t);
}
END_TEST

static Suite *fault_disk_suite(void)
{
	Suite *s = suite_create("fault_disk");
	TCase *tc = tcase_create("data directory full");
	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, disk_full_mid_build_then_space_back);
	tcase_add_test(tc, disk_full_before_a_build);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fault_disk_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
