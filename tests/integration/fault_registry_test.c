/* Fault: the registry stops while a build runs and others wait, then starts again (same port,
 * same storage). The running build's push is tried again with backoff, logged, and succeeds
 * once the registry is back, and the queued builds then succeed, each with its digest in the
 * registry. A registry that stays away past FORJA_REGISTRY_RETRY fails the build with an error
 * saying so. The registry is the test's own docker-registry, stopped and started by PID. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "registry.h"
#include "store.h"
#include "testbuild.h"
#include "testenv.h"
#include "testfault.h"
#include "testgit.h"

static struct testfault_fixture fx = {.test = "fault_registry_test"};

static void setup(void)
{
	testfault_setup_fixture(&fx);
}

static void teardown(void)
{
	testfault_teardown_fixture(&fx);
}

static void assert_succeeded(struct testenv *t, const struct build *b)
{
	if (b->status != BUILD_SUCCEEDED) {
		char *log = testbuild_read_log(t, b->id);
		ck_abort_msg("build %lld %s: %s\n%s", (long long)b->id,
			     build_status_name(b->status), b->error ? b->error : "", log);
	}
}

/* REG serves SERVICE:VERSION at DIGEST (DIGEST NULL: serves no such manifest). */
static void assert_in(const struct testfault_registry *r, const char *service, const char *version,
		      const char *digest)
{
	char url[64], got[128], err[256];
	struct registry *reg = NULL;
	struct registry_opts o = {.url = url, .timeout_s = 10};
	snprintf(url, sizeof(url), "http://%s", r->host);
	ck_assert_int_eq(registry_new(&o, &reg), 0);
	int rc = registry_manifest_digest(reg, service, version, got, err, sizeof(err));
	if (digest) {
		ck_assert_msg(rc == 0, "%s:%s not in the registry: %s", service, version, err);
		ck_assert_str_eq(got, digest);
	} else {
		ck_assert_msg(rc == FORJA_ENOTFOUND, "%s:%s: rc %d %s", service, version, rc, err);
	}
	registry_free(reg);
}

static int count_of(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

START_TEST(registry_stopped_with_builds_queued_then_started)
{
	struct testfault_registry r;
	testfault_registry_start(&r, fx.state);
	char reg_flag[64], svc[64], url1[256], sha1[41], url2[256], sha2[41], url3[256], sha3[41];
	snprintf(reg_flag, sizeof(reg_flag), "--registry=%s", r.host);
	snprintf(svc, sizeof(svc), "fault-registry-%d", (int)getpid());
	const char *args[] = {"--workers=1", reg_flag, "--registry-retry=60", NULL};
	struct testenv t;
	testenv_start(&t, args);
	testbuild_make_repo("fr1", 2, NULL, 0, url1, sizeof(url1), sha1);
	testbuild_make_repo("fr2", 0, NULL, 0, url2, sizeof(url2), sha2);
	testbuild_make_repo("fr3", 0, NULL, 0, url3, sizeof(url3), sha3);

	int64_t id1 = testbuild_queue(&t, svc, "1", url1, sha1);
	int64_t id2 = testbuild_queue(&t, svc, "2", url2, sha2);
	int64_t id3 = testbuild_queue(&t, svc, "3", url3, sha3);
	testbuild_wait_log(&t, id1, "line-one", 60);
	testfault_registry_stop(&r);
	long long stopped_at = testfault_ms();
	/* the running build reaches its push and waits for the registry; the others wait */
	testbuild_wait_log(&t, id1, "push attempt 3 in 2 s", 30);
	struct build *b2 = NULL;
	ck_assert_int_eq(store_build_get(t.app.store, id2, &b2), 0);
	ck_assert_int_eq(b2->status, BUILD_QUEUED);
	build_free(b2);
	long ready_ms = testfault_registry_restart(&r);
	long long back_at = testfault_ms();

	struct build *b1 = testbuild_wait_final(&t, id1, 60);
	long long b1_ms = testfault_ms() - back_at;
	b2 = testbuild_wait_final(&t, id2, 60);
	struct build *b3 = testbuild_wait_final(&t, id3, 60);
	long long all_ms = testfault_ms() - back_at;
	assert_succeeded(&t, b1);
	assert_succeeded(&t, b2);
	assert_succeeded(&t, b3);
	assert_in(&r, svc, "1", b1->digest);
	assert_in(&r, svc, "2", b2->digest);
	assert_in(&r, svc, "3", b3->digest);
	char *log = testbuild_read_log(&t, id1);
	int waits = count_of(log, "not reachable");
	ck_assert_int_ge(waits, 2);
	ck_assert_ptr_nonnull(strstr(log, "push attempt 2 in 1 s"));
	/* a retried push is still one build attempt */
	ck_assert_int_eq(b1->attempts, 1);
	fprintf(stderr,
		"registry down %lld ms (back after %ld ms to /v2/); the waiting build retried its "
		"push %d times and succeeded %lld ms after the registry was back, all three in "
		"%lld ms\n",
		back_at - stopped_at, ready_ms, waits, b1_ms, all_ms);
	free(log);
	build_free(b1);
	build_free(b2);
	build_free(b3);
	testenv_stop(&t);
	testfault_registry_stop(&r);
}
END_TEST

START_TEST(registry_away_past_the_retry_budget)
{
	struct testfault_registry r;
	testfault_registry_start(&r, fx.state);
	char reg_flag[64], svc[64], url1[256], sha1[41];
	snprintf(reg_flag, sizeof(reg_flag), "--registry=%s", r.host);
	snprintf(svc, sizeof(svc), "fault-registry-gone-%d", (int)getpid());
	const char *args[] = {"--workers=1", reg_flag, "--registry-retry=4", NULL};
	struct testenv t;
	testenv_start(&t, args);
	testbuild_make_repo("fr4", 0, NULL, 0, url1, sizeof(url1), sha1);
	testfault_registry_stop(&r);

	long long queued_at = testfault_ms();
	int64_t id = testbuild_queue(&t, svc, "1", url1, sha1);
	struct build *b = testbuild_wait_final(&t, id, 60);
	long long failed_ms = testfault_ms() - queued_at;
	char *log = testbuild_read_log(&t, id);
	ck_assert_msg(b->status == BUILD_FAILED, "%s: %s\n%s", build_status_name(b->status),
		      b->error ? b->error : "", log);
	ck_assert_ptr_null(b->digest);
	ck_assert_msg(strstr(b->error, "not reachable: gave up after 3 push attempts in"),
		      "error: %s", b->error);
	ck_assert_ptr_nonnull(strstr(b->error, r.host));
	ck_assert_int_eq(count_of(log, "; push attempt "), 2);
	fprintf(stderr, "registry gone: build failed after %lld ms: %s\n", failed_ms, b->error);
	if (getenv("FORJA_TEST_VERBOSE"))
		fprintf(stderr, "%s", log);
	free(log);
	build_free(b);

	/* back: the same image builds and pushes */
	testfault_registry_restart(&r);
	int64_t id2 = testbuild_queue(&t, svc, "1", url1, sha1);
	b = testbuild_wait_final(&t, id2, 60);
	assert_succeeded(&t, b);
	assert_in(&r, svc, "1", b->digest);
	build_free(b);
	testenv_stop(&t);
	testfault_registry_stop(&r);
}
END_TEST

static Suite *fault_registry_suite(void)
{
	Suite *s = suite_create("fault_registry");
	TCase *tc = tcase_create("registry stopped");
	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, registry_stopped_with_builds_queued_then_started);
	tcase_add_test(tc, registry_away_past_the_retry_budget);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fault_registry_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
