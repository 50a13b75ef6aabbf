/* Fault: the docker engine is killed (SIGKILL) in the middle of a build's RUN step, and started
 * again. The build must end failed with an error that names the engine, never stay running and
 * never succeed without its digest in the registry; while the engine is down builds fail at
 * once saying it cannot be reached; once it is back a build succeeds. The engine is the test's
 * own dockerd (the machine's engine serves other work). */
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
#include "testhook.h"

static struct testfault_fixture fx = {.test = "fault_engine_test", .watch_docker0 = 1};

static void setup(void)
{
	testfault_setup_fixture(&fx);
}

static void teardown(void)
{
	testfault_teardown_fixture(&fx);
}

/* The registry has no manifest for SERVICE:VERSION. */
static void assert_not_in_registry(const char *service, const char *version)
{
	char url[256], digest[128], err[256];
	struct registry *reg = NULL;
	struct registry_opts o = {.url = url, .timeout_s = 10};
	snprintf(url, sizeof(url), "http://%s", testenv_need("FORJA_TEST_REGISTRY"));
	ck_assert_int_eq(registry_new(&o, &reg), 0);
	int rc = registry_manifest_digest(reg, service, version, digest, err, sizeof(err));
	ck_assert_msg(rc == FORJA_ENOTFOUND, "%s:%s: rc %d (%s) digest %s", service, version, rc,
		      err, rc == 0 ? digest : "-");
	registry_free(reg);
}

START_TEST(engine_killed_mid_build_then_restarted)
{
	ck_assert_msg(geteuid() == 0, "this test needs root (a network namespace and a dockerd)");
	struct testfault_engine e;
	testfault_engine_start(&e, fx.state, testfault_machine_registry_port());

	char host_flag[300], url[256], sha[41], url2[256], sha2[41], svc[64];
	snprintf(host_flag, sizeof(host_flag), "--docker-host=%s", e.host);
	snprintf(svc, sizeof(svc), "fault-engine-%d", (int)getpid());
	const char *args[] = {"--workers=1", host_flag, NULL};
	struct testenv t;
	testenv_start(&t, args);
	testbuild_make_repo("fe1", 5, NULL, 0, url, sizeof(url), sha);
	testbuild_make_repo("fe2", 0, NULL, 0, url2, sizeof(url2), sha2);

	/* killed while the RUN step sleeps */
	int64_t id = testbuild_queue(&t, svc, "1", url, sha);
	testbuild_wait_log(&t, id, "line-one", 60);
	long long killed_at = testfault_ms();
	testfault_engine_kill(&e);
	struct build *b = testbuild_wait_final(&t, id, 60);
	long long failed_ms = testfault_ms() - killed_at;
	char *log = testbuild_read_log(&t, id);
	ck_assert_msg(b->status == BUILD_FAILED, "build %s: %s\n%s", build_status_name(b->status),
		      b->error ? b->error : "", log);
	ck_assert_ptr_null(b->digest);
	ck_assert_ptr_nonnull(b->error);
	ck_assert_msg(strstr(b->error, "connection to the docker engine at unix://") &&
			  strstr(b->error, "broke during the build"),
		      "error does not say the engine went away: %s", b->error);
	ck_assert_ptr_nonnull(strstr(log, "forja: build failed:"));
	assert_not_in_registry(svc, "1");
	fprintf(stderr, "engine killed mid-build: build %lld failed %lld ms later: %s\n",
		(long long)id, failed_ms, b->error);
	free(log);
	build_free(b);

	/* while the engine is down a build fails at once, saying it cannot be reached */
	long long queued_at = testfault_ms();
	int64_t id2 = testbuild_queue(&t, svc, "2", url2, sha2);
	b = testbuild_wait_final(&t, id2, 30);
	ck_assert_int_eq(b->status, BUILD_FAILED);
	ck_assert_msg(b->error && strstr(b->error, "docker engine not reachable at unix://") &&
			  strstr(b->error, "is dockerd running?"),
		      "error: %s", b->error ? b->error : "(none)");
	fprintf(stderr, "engine down: build %lld failed in %lld ms: %s\n", (long long)id2,
		testfault_ms() - queued_at, b->error);
	build_free(b);

	/* back: the next build succeeds and the registry serves its digest */
	long ready_ms = testfault_engine_restart(&e);
	long long back_at = testfault_ms();
	int64_t id3 = testbuild_queue(&t, svc, "3", url2, sha2);
	b = testbuild_wait_final(&t, id3, 60);
	log = testbuild_read_log(&t, id3);
	ck_assert_msg(b->status == BUILD_SUCCEEDED, "build after the restart %s: %s\n%s",
		      build_status_name(b->status), b->error ? b->error : "", log);
	testhook_assert_in_registry(svc, "3", b->digest);
	fprintf(stderr,
		"engine restarted: /_ping after %ld ms, next build succeeded %lld ms later\n",
		ready_ms, testfault_ms() - back_at);
	free(log);
	build_free(b);

	/* nothing is left running */
	int queued = -1, running = -1;
	queue_stats(t.app.queue, &queued, &running);
	ck_assert_int_eq(queued + running, 0);
	testenv_stop(&t);
	testfault_engine_stop(&e);
	testfault_assert_docker0(&fx);
}
END_TEST

static Suite *fault_engine_suite(void)
{
	Suite *s = suite_create("fault_engine");
	TCase *tc = tcase_create("engine killed");
	tcase_set_timeout(tc, 180);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, engine_killed_mid_build_then_restarted);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fault_engine_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
