/* Fault in a pool of two engines: the test's own dockerd (first in FORJA_DOCKER_HOSTS, so it
 * takes the first build) is killed in the middle of a build's RUN step. The build must start
 * another attempt on the machine's engine, say so in its log, record that engine and succeed
 * with the digest the registry serves; the lost engine shows down in /healthz and takes no
 * build until it answers again. */
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

static struct testfault_fixture fx = {.test = "pool_fault_test", .watch_docker0 = 1};

static void setup(void)
{
	testfault_setup_fixture(&fx);
}

static void teardown(void)
{
	testfault_teardown_fixture(&fx);
}

START_TEST(engine_lost_build_moves_to_another)
{
	ck_assert_msg(geteuid() == 0, "this test needs root (a network namespace and a dockerd)");
	struct testfault_engine e;
	testfault_engine_start(&e, fx.state, testfault_machine_registry_port());

	const char *main_engine = getenv("DOCKER_HOST");
	main_engine = main_engine && *main_engine ? main_engine : "unix:///var/run/docker.sock";
	char hosts[700], url[256], sha[41], url2[256], sha2[41], svc[64], svc2[64];
	snprintf(hosts, sizeof(hosts), "--docker-hosts=%s;slots=1,%s;slots=1", e.host, main_engine);
	snprintf(svc, sizeof(svc), "pool-fault-%d", (int)getpid());
	snprintf(svc2, sizeof(svc2), "pool-fault-%d-b", (int)getpid());
	const char *args[] = {hosts, NULL};
	struct testenv t;
	testenv_start(&t, args);
	testbuild_make_repo("pf1", 5, NULL, 0, url, sizeof(url), sha);
	testbuild_make_repo("pf2", 0, NULL, 0, url2, sizeof(url2), sha2);

	int64_t id = testbuild_queue(&t, svc, "1", url, sha);
	testbuild_wait_log(&t, id, "line-one", 60);
	struct build *b = NULL;
	ck_assert_int_eq(store_build_get(t.app.store, id, &b), 0);
	ck_assert_str_eq(b->engine, e.host);
	build_free(b);
	long long killed_at = testfault_ms();
	testfault_engine_kill(&e);
	b = testbuild_wait_final(&t, id, 120);
	char *log = testbuild_read_log(&t, id);
	ck_assert_msg(b->status == BUILD_SUCCEEDED, "build %s: %s\n%s",
		      build_status_name(b->status), b->error ? b->error : "", log);
	ck_assert_str_eq(b->engine, main_engine);
	ck_assert_int_eq(b->attempts, 2);
	ck_assert_msg(strstr(log, "lost during the build") && strstr(log, e.host) &&
			  strstr(log, "attempt 2 of 3 on another engine"),
		      "the log does not say the engine was lost:\n%s", log);
	testhook_assert_in_registry(svc, "1", b->digest);
	fprintf(stderr, "engine lost mid-build: build %lld succeeded on %s %lld ms later\n",
		(long long)id, b->engine, testfault_ms() - killed_at);
	free(log);
	build_free(b);

	/* the lost engine is down in /healthz and the next build goes to the other */
	struct http_resp r;
	char hurl[128];
	snprintf(hurl, sizeof(hurl), "%s/healthz", t.base_url);
	ck_assert_int_eq(http_request("GET", hurl, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_msg(strstr(r.body, "\"degraded\"") && strstr(r.body, e.host), "healthz: %s",
		      r.body);
	http_resp_free(&r);
	int64_t id2 = testbuild_queue(&t, svc2, "1", url2, sha2);
	b = testbuild_wait_final(&t, id2, 60);
	ck_assert_int_eq(b->status, BUILD_SUCCEEDED);
	ck_assert_str_eq(b->engine, main_engine);
	build_free(b);
	testenv_stop(&t);
	testfault_engine_stop(&e);
	testfault_assert_docker0(&fx);
}
END_TEST

static Suite *pool_fault_suite(void)
{
	Suite *s = suite_create("pool_fault");
	TCase *tc = tcase_create("pool_fault");
	tcase_set_timeout(tc, 300);
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_test(tc, engine_lost_build_moves_to_another);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(pool_fault_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
