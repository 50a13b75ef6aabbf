/* End to end: a merged pull request delivered to Forja builds the manifest's images from the
 * git daemon's repository through the real engine, pushes them to the registry, and GitHub (the
 * stand-in) sees pending then success for each service. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "github_standin.h"
#include "registry.h"
#include "testenv.h"
#include "testgit.h"
#include "testhook.h"

#define OWNER "octo-org/"

struct ctx {
	struct testenv t;
	struct github_standin *gh;
	char name[96]; /* repository name in the git daemon */
	char full_name[128];
	char clone_url[256];
	char sha[41];
};

static void start(struct ctx *c)
{
	char api[128];
	memset(c, 0, sizeof(*c));
	testenv_need("FORJA_TEST_REGISTRY");
	c->gh = github_standin_start();
	snprintf(api, sizeof(api), "--github-api-url=%s", github_standin_url(c->gh));
	const char *const args[] = {api, "--allow-unsigned-webhooks", "--github-token=ghs_e2e",
				    "--public-url=http://forja.example", NULL};
	testenv_start(&c->t, args);
	testgit_unique("webhook", c->name, sizeof(c->name));
	snprintf(c->full_name, sizeof(c->full_name), OWNER "%s", c->name);
	testgit_url(c->name, c->clone_url, sizeof(c->clone_url));
}

static void stop(struct ctx *c)
{
	testenv_stop(&c->t);
	github_standin_stop(c->gh);
}

/* Commits FILES on develop and serves the same files through the stand-in at that commit. */
static void commit(struct ctx *c, const char *const *files)
{
	testgit_commit(c->name, "develop", files, c->sha);
	for (size_t i = 0; files[i] && files[i + 1]; i += 2)
		github_standin_put_file(c->gh, c->full_name, files[i], c->sha, files[i + 1]);
}

/* Delivers the documented merged-PR payload for this repository and commit; returns the 202
 * answer's builds (json_decref). */
static json_t *deliver_merge(struct ctx *c, const char *delivery)
{
	struct testhook_repo r = {c->clone_url, c->full_name, c->name, c->sha, NULL};

	return testhook_deliver_merge(c->t.base_url, &r, delivery);
}

static json_t *wait_final(struct ctx *c, int64_t id, int timeout_s)
{
	return testhook_wait_final(c->t.base_url, id, timeout_s);
}

/* Every build succeeded, its image is in the registry, and GitHub saw pending then success. */
static void assert_built(struct ctx *c, json_t *builds, const char *const *want)
{
	size_t n = json_array_size(builds);
	for (size_t i = 0; i < n; i++) {
		json_t *ref = json_array_get(builds, i);
		int64_t id = json_integer_value(json_object_get(ref, "id"));
		json_t *b = wait_final(c, id, 300);
		const char *service = json_string_value(json_object_get(b, "service"));
		const char *version = json_string_value(json_object_get(b, "version"));
		ck_assert_msg(
		    strcmp(json_string_value(json_object_get(b, "status")), "succeeded") == 0,
		    "build %lld: %s", (long long)id,
		    json_string_value(json_object_get(b, "error")));
		ck_assert_str_eq(service, want[2 * i]);
		ck_assert_str_eq(version, want[2 * i + 1]);
		ck_assert_str_eq(json_string_value(json_object_get(b, "commit")), c->sha);
		testhook_assert_in_registry(service, version,
					    json_string_value(json_object_get(b, "digest")));
		json_decref(b);
	}
	/* two statuses per build, each context pending before success */
	ck_assert_uint_ge(github_standin_wait_statuses(c->gh, 2 * n, 20000), 2 * n);
	struct standin_status st[16];
	size_t got = github_standin_statuses(c->gh, st, 16);
	ck_assert_uint_eq(got, 2 * n);
	for (size_t i = 0; i < n; i++) {
		char context[128];
		int pending = -1, success = -1;
		snprintf(context, sizeof(context), "forja/%s", want[2 * i]);
		for (size_t k = 0; k < got; k++) {
			if (strcmp(st[k].context, context) != 0)
				continue;
			ck_assert_str_eq(st[k].sha, c->sha);
			ck_assert_str_eq(st[k].repo, c->full_name);
			if (strcmp(st[k].state, "pending") == 0)
				pending = (int)k;
			if (strcmp(st[k].state, "success") == 0)
				success = (int)k;
		}
		ck_assert_msg(pending >= 0 && success > pending, "%s: pending %d, success %d",
			      context, pending, success);
	}
}

START_TEST(merged_pr_builds_root_image)
{
	struct ctx c;
	start(&c);
	const char *const files[] = {
	    "Dockerfile",
	    "FROM scratch\nCOPY hello.txt /hello.txt\n",
	    "hello.txt",
	    "hello from a merged pull request\n",
	    "images.json",
	    "[{\"service_name\": \"whapi\", \"version\": \"1.2.0\", \"type\": \"Docker\"}]\n",
	    NULL};
	commit(&c, files);
	json_t *builds = deliver_merge(&c, "e2e-root");
	ck_assert_uint_eq(json_array_size(builds), 1);
	const char *const want[] = {"whapi", "1.2.0"};
	assert_built(&c, builds, want);
	json_decref(builds);
	stop(&c);
}
END_TEST

START_TEST(multi_service_context_detected)
{
	struct ctx c;
	char base[256];
	start(&c);
	snprintf(base, sizeof(base), "FROM %s\nCOPY . /srv\nRUN test -f /srv/marker\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"));
	/* no context in the manifest: each service's directory holds its Dockerfile */
	const char *const files[] = {
	    "api/Dockerfile",
	    base,
	    "api/marker",
	    "api\n",
	    "worker/Dockerfile",
	    base,
	    "worker/marker",
	    "worker\n",
	    "images.json",
	    "{\"images\": [{\"service_name\": \"api\", \"version\": \"1.0.0-e2e\"},"
	    " {\"service_name\": \"worker\", \"version\": \"2.1.0-e2e\"}]}\n",
	    NULL};
	commit(&c, files);
	json_t *builds = deliver_merge(&c, "e2e-multi");
	ck_assert_uint_eq(json_array_size(builds), 2);
	const char *const want[] = {"api", "1.0.0-e2e", "worker", "2.1.0-e2e"};
	assert_built(&c, builds, want);
	json_decref(builds);
	stop(&c);
}
END_TEST

/* A failing build: GitHub sees pending then failure, and no image is pushed. */
START_TEST(failed_build_reports_failure)
{
	struct ctx c;
	char dockerfile[256], url[256], digest[128], err[256];
	start(&c);
	snprintf(dockerfile, sizeof(dockerfile), "FROM %s\nRUN exit 3\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"));
	const char *const files[] = {"Dockerfile", dockerfile, "images.json",
				     "{\"service_name\": \"whfail\", \"version\": \"0.0.1-e2e\"}\n",
				     NULL};
	commit(&c, files);
	json_t *builds = deliver_merge(&c, "e2e-fail");
	ck_assert_uint_eq(json_array_size(builds), 1);
	json_t *b = wait_final(
	    &c, json_integer_value(json_object_get(json_array_get(builds, 0), "id")), 300);
	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "failed");
	json_decref(b);
	ck_assert_uint_ge(github_standin_wait_statuses(c.gh, 2, 20000), 2);
	struct standin_status st[4];
	ck_assert_uint_eq(github_standin_statuses(c.gh, st, 4), 2);
	ck_assert_str_eq(st[0].state, "pending");
	ck_assert_str_eq(st[1].state, "failure");
	ck_assert_str_eq(st[1].context, "forja/whfail");
	ck_assert_uint_le(strlen(st[1].description), 140);
	struct registry *reg = NULL;
	snprintf(url, sizeof(url), "http://%s", testenv_need("FORJA_TEST_REGISTRY"));
	struct registry_opts o = {.url = url, .timeout_s = 10};
	ck_assert_int_eq(registry_new(&o, &reg), 0);
	ck_assert_int_eq(
	    registry_manifest_digest(reg, "whfail", "0.0.1-e2e", digest, err, sizeof(err)),
	    FORJA_ENOTFOUND);
	registry_free(reg);
	json_decref(builds);
	stop(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webhook_build");
	TCase *tc = tcase_create("e2e");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, merged_pr_builds_root_image);
	tcase_add_test(tc, multi_service_context_detected);
	tcase_add_test(tc, failed_build_reports_failure);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
