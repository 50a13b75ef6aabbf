/* FORJA_IMMUTABLE_TAGS on real parts: a service:version the registry already serves is never
 * overwritten from another commit (the build fails before building, naming the digest and the
 * registry keeps its image); the same commit built again is allowed; a new version builds. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/build.h"
#include "../../src/registry.h"
#include "testbuild.h"
#include "testenv.h"
#include "testgit.h"

static void served(struct testenv *t, const char *svc, const char *ver, char *digest)
{
	char err[256];
	ck_assert_int_eq(
	    registry_manifest_digest(t->app.registry, svc, ver, digest, err, sizeof(err)), 0);
}

START_TEST(test_tag_kept_same_commit_allowed)
{
	struct testenv t;
	const char *args[] = {"--immutable-tags=true", NULL};
	testenv_start(&t, args);
	char repo[64], url[256], sha_a[41], sha_b[41], df[256], svc[96];
	testgit_unique("immut", repo, sizeof(repo));
	testgit_url(repo, url, sizeof(url));
	snprintf(svc, sizeof(svc), "%s-svc", repo);
	snprintf(df, sizeof(df), "FROM %s\nCOPY stamp /stamp\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"));
	const char *a[] = {"Dockerfile", df, "stamp", "a\n", NULL};
	const char *b[] = {"Dockerfile", df, "stamp", "b\n", NULL};
	testgit_commit(repo, "main", a, sha_a);
	testgit_commit(repo, "main", b, sha_b);

	struct build *x = testbuild_wait_final(&t, testbuild_queue(&t, svc, "1", url, sha_a), 120);
	ck_assert_msg(x->status == BUILD_SUCCEEDED, "%s", x->error ? x->error : "");
	build_free(x);
	/* the same commit again: allowed */
	x = testbuild_wait_final(&t, testbuild_queue(&t, svc, "1", url, sha_a), 120);
	ck_assert_msg(x->status == BUILD_SUCCEEDED, "same commit refused: %s",
		      x->error ? x->error : "");
	char kept[128];
	served(&t, svc, "1", kept);
	ck_assert_str_eq(kept, x->digest);
	build_free(x);

	/* another commit under the same tag: refused before building, the image stays */
	x = testbuild_wait_final(&t, testbuild_queue(&t, svc, "1", url, sha_b), 120);
	ck_assert_int_eq(x->status, BUILD_FAILED);
	ck_assert_ptr_null(x->digest);
	ck_assert_msg(x->error && strstr(x->error, "already exists in the registry as") &&
			  strstr(x->error, kept) && strstr(x->error, "FORJA_IMMUTABLE_TAGS"),
		      "error: %s", x->error ? x->error : "");
	ck_assert_int_eq(x->engine == NULL, 1); /* no engine was ever asked */
	build_free(x);
	char now[128];
	served(&t, svc, "1", now);
	ck_assert_str_eq(now, kept);

	/* a new version of that commit builds */
	x = testbuild_wait_final(&t, testbuild_queue(&t, svc, "2", url, sha_b), 120);
	ck_assert_int_eq(x->status, BUILD_SUCCEEDED);
	build_free(x);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("immutable");
	TCase *tc = tcase_create("immutable");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_tag_kept_same_commit_allowed);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
