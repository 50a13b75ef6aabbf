/* Fault: GitHub answers slowly (30 s) or with 500s while a merged pull request is delivered.
 * The webhook still answers within GitHub's 10 s, with a problem+json that says GitHub is the
 * cause and asks for a redelivery, and records nothing: no build, no delivery. A redelivery
 * of the same delivery once GitHub is slow but alive builds, and a GitHub that is slow to take
 * commit statuses does not hold the build up. Real Forja, git daemon, engine and registry; the
 * GitHub stand-in is told how slow to be. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "github_standin.h"
#include "store.h"
#include "testenv.h"
#include "testfault.h"
#include "testgit.h"
#include "testhook.h"
#include "webhook.h"

#define SECRET	 "fault-github-secret"
#define HOOK_ID	 TESTHOOK_HOOK_ID
#define DELIVERY "5f0c7a10-0000-4000-8000-00000000fa17"

struct ctx {
	struct testenv t;
	struct github_standin *gh;
	char name[96];
	char full_name[128];
	char clone_url[256];
	char sha[41];
	char service[64];
};

static void start(struct ctx *c)
{
	char api[128];
	memset(c, 0, sizeof(*c));
	testenv_need("FORJA_TEST_REGISTRY");
	c->gh = github_standin_start();
	snprintf(api, sizeof(api), "--github-api-url=%s", github_standin_url(c->gh));
	const char *const args[] = {api, "--webhook-secret=" SECRET, "--github-token=ghs_fault",
				    "--workers=1", NULL};
	testenv_start(&c->t, args);
	testgit_unique("fault-gh", c->name, sizeof(c->name));
	snprintf(c->full_name, sizeof(c->full_name), "octo-org/%s", c->name);
	snprintf(c->service, sizeof(c->service), "fault-gh-%d", (int)getpid());
	testgit_url(c->name, c->clone_url, sizeof(c->clone_url));
	/* no context in the manifest: planning asks GitHub twice (manifest, then Dockerfile) */
	char manifest[256], dockerfile[256], dfpath[128];
	snprintf(manifest, sizeof(manifest), "[{\"service_name\": \"%s\", \"version\": \"1\"}]",
		 c->service);
	snprintf(dockerfile, sizeof(dockerfile), "FROM %s\nRUN echo built\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"));
	snprintf(dfpath, sizeof(dfpath), "%s/Dockerfile", c->service);
	const char *files[] = {"images.json", manifest, dfpath, dockerfile, NULL};
	testgit_commit(c->name, "develop", files, c->sha);
	for (size_t i = 0; files[i]; i += 2)
		github_standin_put_file(c->gh, c->full_name, files[i], c->sha, files[i + 1]);
}

static void stop(struct ctx *c)
{
	testenv_stop(&c->t);
	github_standin_stop(c->gh);
}

/* Delivers the signed merged-PR payload as DELIVERY; *MS gets how long the answer took. */
static void deliver(struct ctx *c, struct http_resp *r, long long *ms)
{
	struct testhook_repo repo = {c->clone_url, c->full_name, c->name, c->sha, NULL};
	long long t0 = testfault_ms();
	testhook_post_signed(c->t.base_url, &repo, DELIVERY, SECRET, r);
	*ms = testfault_ms() - t0;
}

/* Nothing half-recorded: no build in the history, no delivery. */
static void assert_nothing_recorded(struct ctx *c)
{
	struct build_filter f = {.limit = 100};
	struct build **all = NULL, **of = NULL;
	size_t n = 0, nd = 0;
	ck_assert_int_eq(store_build_list(c->t.app.store, &f, &all, &n), 0);
	ck_assert_uint_eq(n, 0);
	build_array_free(all, n);
	ck_assert_int_eq(store_delivery_builds(c->t.app.store, HOOK_ID, DELIVERY, &of, &nd),
			 FORJA_ENOTFOUND);
}

static const char *detail(const struct http_resp *r, json_t **keep)
{
	*keep = json_loads(r->body, 0, NULL);
	const char *d = json_string_value(json_object_get(*keep, "detail"));
	ck_assert_msg(d != NULL, "no detail in %s", r->body);
	return d;
}

START_TEST(slow_or_failing_github_then_redelivery)
{
	struct ctx c;
	struct http_resp r;
	long long slow_ms, err_ms, ok_ms, dup_ms;
	json_t *j = NULL;
	start(&c);

	/* 30 s per answer: Forja gives up on GitHub in time to answer GitHub itself */
	github_standin_delay_contents(c.gh, 30000);
	deliver(&c, &r, &slow_ms);
	ck_assert_msg(r.status == 502, "%ld %s", r.status, r.body);
	ck_assert_int_lt(slow_ms, 10000);
	const char *d = detail(&r, &j);
	ck_assert_msg(strstr(d, "did not answer within 5.0 s") && strstr(d, "redeliver"),
		      "detail: %s", d);
	fprintf(stderr, "GitHub 30 s slow: webhook answered %ld in %lld ms: %s\n", r.status,
		slow_ms, d);
	json_decref(j);
	http_resp_free(&r);
	assert_nothing_recorded(&c);

	/* 500s */
	github_standin_delay_contents(c.gh, 0);
	github_standin_fail_contents(c.gh, 500);
	deliver(&c, &r, &err_ms);
	ck_assert_msg(r.status == 502, "%ld %s", r.status, r.body);
	d = detail(&r, &j);
	ck_assert_msg(strstr(d, "GitHub answered 500") && strstr(d, "redeliver"), "detail: %s", d);
	fprintf(stderr, "GitHub 500: webhook answered %ld in %lld ms: %s\n", r.status, err_ms, d);
	json_decref(j);
	http_resp_free(&r);
	assert_nothing_recorded(&c);

	/* slow but alive (2.5 s per answer, two answers) and slow to take statuses: the
	 * redelivery of the same delivery is accepted, within GitHub's 10 s */
	github_standin_fail_contents(c.gh, 0);
	github_standin_delay_contents(c.gh, 2500);
	github_standin_delay_statuses(c.gh, 30000);
	deliver(&c, &r, &ok_ms);
	ck_assert_msg(r.status == 202, "%ld %s", r.status, r.body);
	ck_assert_int_lt(ok_ms, 10000);
	j = json_loads(r.body, 0, NULL);
	json_t *builds = json_object_get(j, "builds");
	ck_assert_uint_eq(json_array_size(builds), 1);
	int64_t id = json_integer_value(json_object_get(json_array_get(builds, 0), "id"));
	json_decref(j);
	http_resp_free(&r);
	fprintf(stderr, "GitHub 2.5 s slow: redelivery answered 202 in %lld ms\n", ok_ms);

	/* another redelivery repeats the answer and builds nothing twice */
	deliver(&c, &r, &dup_ms);
	ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
	ck_assert_ptr_nonnull(strstr(r.body, "already received"));
	http_resp_free(&r);

	/* the build does not wait for GitHub to take its statuses */
	long long t0 = testfault_ms();
	json_t *b = testhook_wait_final(c.t.base_url, id, 60);
	long long build_ms = testfault_ms() - t0;
	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "succeeded");
	testhook_assert_in_registry(c.service, "1",
				    json_string_value(json_object_get(b, "digest")));
	ck_assert_int_lt(build_ms, 30000);
	fprintf(stderr, "statuses 30 s slow: build succeeded %lld ms after the answer\n", build_ms);
	json_decref(b);
	struct build_filter f = {.limit = 100};
	struct build **all = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_build_list(c.t.app.store, &f, &all, &n), 0);
	ck_assert_uint_eq(n, 1);
	build_array_free(all, n);
	stop(&c);
}
END_TEST

static Suite *fault_github_suite(void)
{
	Suite *s = suite_create("fault_github");
	TCase *tc = tcase_create("github slow or failing");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, slow_or_failing_github_then_redelivery);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fault_github_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
