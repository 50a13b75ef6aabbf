/* POST /builds/{id}/rerun on a real server: a new build with the same specification at the same
 * commit, recording rerun_of, queued and run; unknown ids are 404, no token is 401. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/build.h"
#include "testbuild.h"
#include "testenv.h"

#define TOKEN "rerun-token-0123456789"

static long post(struct testenv *t, const char *path, const char *token, json_t **out)
{
	char url[256], auth[128];
	const char *headers[] = {auth, NULL};
	struct http_resp r;
	snprintf(url, sizeof(url), "%s%s", t->base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
	ck_assert_int_eq(http_request("POST", url, token ? headers : NULL, NULL, 0, &r), 0);
	long s = r.status;
	*out = json_loads(r.body, 0, NULL);
	http_resp_free(&r);
	return s;
}

START_TEST(test_rerun_same_spec_new_build)
{
	struct testenv t;
	const char *args[] = {"--api-token=" TOKEN, NULL};
	testenv_start(&t, args);
	const char *sha = "0123456789abcdef0123456789abcdef01234567";
	/* nothing listens there: the build fails at its fetch */
	int64_t id = testbuild_queue(&t, "rerun-svc", "1.2.3", "git://127.0.0.1:1/none.git", sha);
	build_free(testbuild_wait_final(&t, id, 60));

	char path[64];
	json_t *j = NULL;
	snprintf(path, sizeof(path), "/builds/%lld/rerun", (long long)id);
	ck_assert_int_eq(post(&t, path, NULL, &j), 401);
	json_decref(j);
	ck_assert_int_eq(post(&t, path, TOKEN, &j), 202);
	int64_t nid = json_integer_value(json_object_get(j, "id"));
	ck_assert_int_gt(nid, id);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "rerun_of")), id);
	json_decref(j);
	struct build *b = testbuild_wait_final(&t, nid, 60);
	ck_assert_str_eq(b->service, "rerun-svc");
	ck_assert_str_eq(b->version, "1.2.3");
	ck_assert_str_eq(b->commit, sha);
	ck_assert_str_eq(b->clone_url, "git://127.0.0.1:1/none.git");
	ck_assert_int_eq(b->rerun_of, id);
	ck_assert_int_eq(b->status, BUILD_FAILED); /* it ran: the same fetch failed again */
	build_free(b);

	ck_assert_int_eq(post(&t, "/builds/999999/rerun", TOKEN, &j), 404);
	json_decref(j);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rerun");
	TCase *tc = tcase_create("rerun");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_rerun_same_spec_new_build);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
