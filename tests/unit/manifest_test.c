/* Unit tests of the images manifest and planning: the manifest forms, every problem named, and
 * the whole plan against a real HTTP stand-in for GitHub (contents, context probe, budget). */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "github_standin.h"
#include "manifest.h"

static const char *first_message(json_t *errors)
{
	const char *m = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
	return m ? m : "";
}

static void parse_ok(const char *text, size_t want_n, struct manifest_image **imgs, size_t *n)
{
	json_t *errors = json_array();
	int rc = manifest_parse(text, strlen(text), imgs, n, errors);
	ck_assert_msg(rc == 0, "manifest %s: %s", text, first_message(errors));
	ck_assert_uint_eq(*n, want_n);
	json_decref(errors);
}

START_TEST(manifest_forms)
{
	struct manifest_image *imgs;
	size_t n;
	parse_ok("[{\"service_name\": \"api\", \"version\": \"1.2.0\", \"type\": \"Docker\"}]", 1,
		 &imgs, &n);
	ck_assert_str_eq(imgs[0].service, "api");
	ck_assert_str_eq(imgs[0].version, "1.2.0");
	ck_assert_str_eq(imgs[0].type, "Docker");
	ck_assert_ptr_null(imgs[0].context);
	manifest_images_free(imgs, n);

	parse_ok("{\"images\": [{\"service_name\": \"api\", \"version\": \"1\"}, "
		 "{\"service_name\": \"worker\", \"version\": \"2\", \"context\": \"svc/w\", "
		 "\"dockerfile\": \"Dockerfile.prod\", \"build_args\": {\"A\": \"b\"}}]}",
		 2, &imgs, &n);
	ck_assert_str_eq(imgs[0].type, "docker");
	ck_assert_str_eq(imgs[1].context, "svc/w");
	ck_assert_str_eq(imgs[1].dockerfile, "Dockerfile.prod");
	ck_assert_str_eq(json_string_value(json_object_get(imgs[1].build_args, "A")), "b");
	manifest_images_free(imgs, n);

	parse_ok("{\"service_name\": \"api\", \"version\": \"0.1\"}", 1, &imgs, &n);
	ck_assert_str_eq(imgs[0].service, "api");
	manifest_images_free(imgs, n);
}
END_TEST

static void parse_bad(const char *text, const char *want)
{
	struct manifest_image *imgs = NULL;
	size_t n = 0;
	json_t *errors = json_array();
	ck_assert_int_eq(manifest_parse(text, strlen(text), &imgs, &n, errors), FORJA_EINVAL);
	manifest_images_free(imgs, n);
	char *all = json_dumps(errors, 0);
	ck_assert_msg(strstr(all, want) != NULL, "%s: wanted %s in %s", text, want, all);
	free(all);
	json_decref(errors);
}

START_TEST(manifest_problems)
{
	char *huge = malloc(MANIFEST_MAX_BYTES + 2);
	ck_assert_ptr_nonnull(huge);
	memset(huge, ' ', MANIFEST_MAX_BYTES + 1);
	huge[0] = '[';
	huge[MANIFEST_MAX_BYTES + 1] = '\0';
	parse_bad(huge, "larger than 1048576 bytes");
	free(huge);
	parse_bad("[", "not valid JSON");
	parse_bad("[]", "lists no images");
	parse_bad("{\"images\": {}}", "expected a list of images");
	parse_bad("42", "expected a list of images");
	parse_bad("[{\"version\": \"1\"}]", "entry 1: service_name is missing");
	parse_bad("[{\"service_name\": \"a\", \"version\": \"1\"}, {\"service_name\": 3}]",
		  "entry 2: service_name is not a string");
	parse_bad("[{\"service_name\": \"a\", \"version\": \"1\", \"build_args\": {\"x\": 1}}]",
		  "entry 1: build_args is not an object of strings");
	parse_bad("[{\"service_name\": \"a\", \"version\": \"1\"}, {\"service_name\": \"a\", "
		  "\"version\": \"2\"}]",
		  "entry 2: service a is already listed by entry 1");
	char deep[200];
	memset(deep, '[', 100);
	deep[100] = '\0';
	parse_bad(deep, "nests deeper");
}
END_TEST

/* The whole planning step against the stand-in: contents, context probe, validation. */
/* A packages entry's list lands in build_args, checked package by package. */
START_TEST(manifest_packages)
{
	struct manifest_image *imgs;
	size_t n;
	parse_ok("[{\"service_name\": \"mirror\", \"version\": \"1\", \"type\": \"Packages\","
		 " \"packages\": [\"nginx\", \"curl=7.88.1-10+deb12u8\"]},"
		 " {\"service_name\": \"m2\", \"version\": \"1\", \"type\": \"packages\","
		 " \"packages_file\": \"mirror/packages.txt\"}]",
		 2, &imgs, &n);
	ck_assert_str_eq(json_string_value(json_object_get(imgs[0].build_args, "PACKAGES")),
			 "nginx curl=7.88.1-10+deb12u8");
	ck_assert_str_eq(json_string_value(json_object_get(imgs[1].build_args, "PACKAGES_FILE")),
			 "mirror/packages.txt");
	manifest_images_free(imgs, n);

	parse_bad("{\"service_name\": \"m\", \"version\": \"1\", \"type\": \"packages\","
		  " \"packages\": []}",
		  "entry 1: packages lists no packages");
	parse_bad("{\"service_name\": \"m\", \"version\": \"1\", \"type\": \"packages\"}",
		  "needs either packages");
	parse_bad("{\"service_name\": \"m\", \"version\": \"1\", \"type\": \"packages\","
		  " \"packages\": [\"ok\", \"x$(id)\"]}",
		  "packages[1] \\\"x$(id)\\\" is not a Debian package");
	parse_bad("{\"service_name\": \"m\", \"version\": \"1\", \"packages\": [\"nginx\"]}",
		  "belong to entries of type packages");
}
END_TEST

START_TEST(plan_builds_with_standin)
{
	struct github_standin *s = github_standin_start();
	struct github_opts go = {.api_url = github_standin_url(s), .timeout_s = 5};
	struct github *gh = NULL;
	ck_assert_int_eq(github_new(&go, &gh), 0);
	const char *sha = "3f2c9a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f";
	struct webhook_pr pr = {.action = "closed",
				.number = 7,
				.merged = true,
				.base_ref = "develop",
				.merge_commit_sha = sha,
				.full_name = "octo-org/shop",
				.clone_url = "https://github.com/octo-org/shop.git"};
	struct manifest_plan_opts po = {.github = gh,
					.manifest = "images.json",
					.registry = "127.0.0.1:5000",
					.delivery_id = "d-1"};
	struct build **builds = NULL;
	size_t n = 0;
	char detail[1024] = "";
	json_t *errors = json_array();

	/* no manifest: not found, naming the file and the commit */
	ck_assert_int_eq(
	    manifest_plan_builds(&po, &pr, &builds, &n, errors, detail, sizeof(detail)),
	    FORJA_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(detail, "images.json at 3f2c9a1e"));

	github_standin_put_file(s, "octo-org/shop", "images.json", sha,
				"[{\"service_name\": \"api\", \"version\": \"1.2.0\"},"
				" {\"service_name\": \"worker\", \"version\": \"0.9\"}]");
	github_standin_put_file(s, "octo-org/shop", "api/Dockerfile", sha, "FROM scratch\n");
	ck_assert_int_eq(
	    manifest_plan_builds(&po, &pr, &builds, &n, errors, detail, sizeof(detail)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(builds[0]->context, "api");
	ck_assert_str_eq(builds[1]->context, "");
	ck_assert_str_eq(builds[0]->image, "127.0.0.1:5000/api:1.2.0");
	ck_assert_str_eq(builds[1]->commit, sha);
	ck_assert_str_eq(builds[1]->ref, sha);
	ck_assert_str_eq(builds[1]->branch, "develop");
	ck_assert_str_eq(builds[1]->delivery_id, "d-1");
	ck_assert_str_eq(builds[1]->repository, "octo-org/shop");
	ck_assert_int_eq(builds[1]->pull_request, 7);
	ck_assert_int_eq(builds[1]->trigger, TRIGGER_WEBHOOK);
	build_array_free(builds, n);
	char accept[256];
	ck_assert_int_ge(github_standin_contents_requests(s, accept, sizeof(accept)), 3);
	ck_assert_str_eq(accept, "application/vnd.github.raw");

	/* every problem of every entry, the first one in the detail */
	github_standin_put_file(
	    s, "octo-org/shop", "images.json", sha,
	    "[{\"service_name\": \"api\", \"version\": \"1.0 beta\"},"
	    " {\"service_name\": \"img\", \"version\": \"1\", \"type\": \"AMI\"}]");
	ck_assert_int_eq(
	    manifest_plan_builds(&po, &pr, &builds, &n, errors, detail, sizeof(detail)),
	    FORJA_EINVAL);
	ck_assert_msg(strstr(detail, "images.json at "
				     "3f2c9a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f: "
				     "entry 1: version \"1.0 beta\"") != NULL,
		      "%s", detail);
	char *all = json_dumps(errors, 0);
	ck_assert_msg(strstr(all, "entry 2: artifact type 'AMI' is not supported") != NULL, "%s",
		      all);
	free(all);

	/* a slow GitHub: no request starts after the budget, so the answer stays in time */
	github_standin_put_file(s, "octo-org/shop", "images.json", sha,
				"[{\"service_name\": \"a\", \"version\": \"1\"},"
				" {\"service_name\": \"b\", \"version\": \"1\"},"
				" {\"service_name\": \"c\", \"version\": \"1\"}]");
	github_standin_delay_contents(s, 150);
	po.budget_ms = 250;
	int before = github_standin_contents_requests(s, NULL, 0);
	ck_assert_int_eq(
	    manifest_plan_builds(&po, &pr, &builds, &n, errors, detail, sizeof(detail)),
	    FORJA_ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(detail, "too slowly"));
	ck_assert_int_lt(github_standin_contents_requests(s, NULL, 0) - before, 4);

	/* a request still running MANIFEST_PLAN_OVERTIME_MS past the budget is cut there, even
	 * under the client's own 5 s */
	github_standin_delay_contents(s, 4800);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(
	    manifest_plan_builds(&po, &pr, &builds, &n, errors, detail, sizeof(detail)),
	    FORJA_ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_msg(strstr(detail, "did not answer within 4."), "%s", detail);
	ck_assert_int_lt(ms, 250 + MANIFEST_PLAN_OVERTIME_MS + 400);
	github_standin_delay_contents(s, 0);
	po.budget_ms = 0;

	/* GitHub answering 500, and GitHub unreachable */
	github_standin_fail_contents(s, 500);
	ck_assert_int_eq(
	    manifest_plan_builds(&po, &pr, &builds, &n, errors, detail, sizeof(detail)),
	    FORJA_EUPSTREAM);
	github_free(gh);
	github_standin_stop(s);
	go.api_url = "http://127.0.0.1:1";
	ck_assert_int_eq(github_new(&go, &gh), 0);
	po.github = gh;
	ck_assert_int_eq(
	    manifest_plan_builds(&po, &pr, &builds, &n, errors, detail, sizeof(detail)),
	    FORJA_EUNAVAILABLE);
	ck_assert_ptr_nonnull(strstr(detail, "unreachable"));
	github_free(gh);
	json_decref(errors);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, manifest_forms);
	tcase_add_test(tc, manifest_problems);
	tcase_add_test(tc, manifest_packages);
	tcase_add_test(tc, plan_builds_with_standin);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
