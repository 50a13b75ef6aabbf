/* Unit tests of webhook delivery decoding: signatures (GitHub's published vector), form
 * decoding, JSON depth, pull request parsing on a full GitHub payload, and the decision. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "webhook.h"

static json_t *fixture(const char *name)
{
	char path[1024];
	const char *here = __FILE__;
	const char *cut = strstr(here, "tests/unit/");
	ck_assert_ptr_nonnull(cut);
	snprintf(path, sizeof(path), "%.*stests/fixtures/github/%s", (int)(cut - here), here, name);
	json_error_t err;
	json_t *j = json_load_file(path, 0, &err);
	ck_assert_msg(j != NULL, "fixture %s: %s", path, err.text);
	return j;
}

static const char *first_message(json_t *errors)
{
	const char *m = json_string_value(json_object_get(json_array_get(errors, 0), "message"));
	return m ? m : "";
}

START_TEST(signature_github_vector)
{
	const char *secret = "It's a Secret to Everybody";
	const char *body = "Hello, World!";
	const char *want =
	    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
	char made[80];
	ck_assert_int_eq(webhook_signature_make(secret, body, strlen(body), made, sizeof(made)), 0);
	ck_assert_str_eq(made, want);
	ck_assert_int_eq(webhook_signature_verify(secret, body, strlen(body), want), 0);
	/* Upper-case hex is the same signature. */
	ck_assert_int_eq(
	    webhook_signature_verify(
		secret, body, strlen(body),
		"sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"),
	    0);
}
END_TEST

START_TEST(signature_refuses_wrong_and_missing)
{
	const char *secret = "It's a Secret to Everybody";
	const char *body = "Hello, World!";
	const char *good =
	    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
	ck_assert_int_eq(webhook_signature_verify(secret, body, strlen(body), NULL), FORJA_EAUTH);
	ck_assert_int_eq(webhook_signature_verify(secret, body, strlen(body), ""), FORJA_EAUTH);
	/* last digit changed */
	ck_assert_int_eq(
	    webhook_signature_verify(
		secret, body, strlen(body),
		"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18"),
	    FORJA_EAUTH);
	/* other body, other secret */
	ck_assert_int_eq(webhook_signature_verify(secret, "Hello, World?", 13, good), FORJA_EAUTH);
	ck_assert_int_eq(webhook_signature_verify("another", body, strlen(body), good),
			 FORJA_EAUTH);
	/* the legacy sha1 form, truncated, overlong, non-hex */
	ck_assert_int_eq(webhook_signature_verify(secret, body, strlen(body),
						  "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59"),
			 FORJA_EAUTH);
	ck_assert_int_eq(webhook_signature_verify(secret, body, strlen(body), "sha256=757107"),
			 FORJA_EAUTH);
	char longer[100];
	snprintf(longer, sizeof(longer), "%s00", good);
	ck_assert_int_eq(webhook_signature_verify(secret, body, strlen(body), longer), FORJA_EAUTH);
	ck_assert_int_eq(
	    webhook_signature_verify(
		secret, body, strlen(body),
		"sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
	    FORJA_EAUTH);
	/* no secret never verifies */
	ck_assert_int_eq(webhook_signature_verify("", body, strlen(body), good), FORJA_EAUTH);
	ck_assert_int_eq(webhook_signature_verify(NULL, body, strlen(body), good), FORJA_EAUTH);
}
END_TEST

START_TEST(form_payload_decodes)
{
	const char *body =
	    "foo=1&payload=%7B%22action%22%3A+%22closed%22%2C%22t%22%3A%22a%2Bb%20c%22"
	    "%7D&bar=2";
	char *out = NULL;
	size_t len = 0;
	ck_assert_int_eq(webhook_form_payload(body, strlen(body), &out, &len), 0);
	ck_assert_str_eq(out, "{\"action\": \"closed\",\"t\":\"a+b c\"}");
	ck_assert_uint_eq(len, strlen(out));
	free(out);
	/* no payload field, a field that only starts like it, a broken escape */
	ck_assert_int_eq(webhook_form_payload("a=b", 3, &out, &len), FORJA_EINVAL);
	ck_assert_int_eq(webhook_form_payload("payloads=x", 10, &out, &len), FORJA_EINVAL);
	ck_assert_int_eq(webhook_form_payload("payload=%7", 10, &out, &len), FORJA_EINVAL);
	ck_assert_int_eq(webhook_form_payload("payload=%zz", 11, &out, &len), FORJA_EINVAL);
	ck_assert_int_eq(webhook_form_payload("", 0, &out, &len), FORJA_EINVAL);
}
END_TEST

START_TEST(json_depth_bounded)
{
	char deep[300];
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	deep[200] = '\0';
	ck_assert(!webhook_json_depth_ok(deep, 200, 64));
	ck_assert(webhook_json_depth_ok(deep + 40, 120, 64));
	/* brackets inside strings, escaped quotes, do not count */
	const char *s = "{\"a\": \"[[[[[[\\\"[[[[\", \"b\": [1]}";
	ck_assert(webhook_json_depth_ok(s, strlen(s), 2));
}
END_TEST

START_TEST(pr_parse_full_payload)
{
	json_t *p = fixture("pull_request_merged.json");
	json_t *errors = json_array();
	struct webhook_pr pr;
	char reason[256];
	ck_assert_int_eq(webhook_pr_parse(p, &pr, errors), 0);
	ck_assert_str_eq(pr.action, "closed");
	ck_assert_int_eq(pr.number, 7);
	ck_assert(pr.merged);
	ck_assert_str_eq(pr.base_ref, "develop");
	ck_assert_str_eq(pr.merge_commit_sha, "3f2c9a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f");
	ck_assert_str_eq(pr.full_name, "octo-org/shop");
	ck_assert_str_eq(pr.clone_url, "https://github.com/octo-org/shop.git");
	ck_assert(webhook_pr_builds(&pr, "develop", reason, sizeof(reason)));
	ck_assert(!webhook_pr_builds(&pr, "main", reason, sizeof(reason)));
	ck_assert_str_eq(reason, "ignored: base branch is develop, builds run for main");
	json_decref(errors);
	json_decref(p);
}
END_TEST

START_TEST(pr_decisions)
{
	json_t *p = fixture("pull_request_merged.json");
	json_t *pull = json_object_get(p, "pull_request");
	json_t *errors = json_array();
	struct webhook_pr pr;
	char reason[256];

	json_object_set_new(pull, "merged", json_false());
	json_object_set_new(pull, "merge_commit_sha", json_null());
	ck_assert_int_eq(webhook_pr_parse(p, &pr, errors), 0);
	ck_assert(!webhook_pr_builds(&pr, "develop", reason, sizeof(reason)));
	ck_assert_str_eq(reason, "ignored: pull request #7 was closed without merging");

	json_object_set_new(p, "action", json_string("opened"));
	ck_assert_int_eq(webhook_pr_parse(p, &pr, errors), 0);
	ck_assert(!webhook_pr_builds(&pr, "develop", reason, sizeof(reason)));
	ck_assert_str_eq(reason,
			 "ignored: pull request #7 was opened; builds run when one is merged");
	json_decref(errors);
	json_decref(p);
}
END_TEST

START_TEST(pr_parse_names_missing_fields)
{
	json_t *p = fixture("pull_request_merged.json");
	json_t *pull = json_object_get(p, "pull_request");
	json_t *errors = json_array();
	struct webhook_pr pr;
	json_object_del(json_object_get(pull, "base"), "ref");
	json_object_set_new(pull, "merge_commit_sha", json_string("not-a-sha"));
	json_object_del(json_object_get(p, "repository"), "clone_url");
	ck_assert_int_eq(webhook_pr_parse(p, &pr, errors), FORJA_EINVAL);
	char *all = json_dumps(errors, 0);
	ck_assert_ptr_nonnull(strstr(all, "pull_request.base.ref is missing"));
	ck_assert_ptr_nonnull(strstr(all, "pull_request.merge_commit_sha is not a 40-hex"));
	ck_assert_ptr_nonnull(strstr(all, "repository.clone_url is missing"));
	free(all);
	json_decref(errors);

	/* full_name that could change an API path */
	errors = json_array();
	json_object_set_new(json_object_get(p, "repository"), "clone_url",
			    json_string("https://github.com/a/b.git"));
	json_object_set_new(json_object_get(pull, "base"), "ref", json_string("develop"));
	json_object_set_new(pull, "merge_commit_sha",
			    json_string("3f2c9a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f"));
	json_object_set_new(json_object_get(p, "repository"), "full_name",
			    json_string("a/../../x"));
	ck_assert_int_eq(webhook_pr_parse(p, &pr, errors), FORJA_EINVAL);
	ck_assert_str_eq(first_message(errors),
			 "repository.full_name is not of the form owner/repo");
	json_decref(errors);

	errors = json_array();
	json_t *arr = json_array();
	ck_assert_int_eq(webhook_pr_parse(arr, &pr, errors), FORJA_EINVAL);
	json_decref(arr);
	json_decref(errors);
	json_decref(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("webhook");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, signature_github_vector);
	tcase_add_test(tc, signature_refuses_wrong_and_missing);
	tcase_add_test(tc, form_payload_decodes);
	tcase_add_test(tc, json_depth_bounded);
	tcase_add_test(tc, pr_parse_full_payload);
	tcase_add_test(tc, pr_decisions);
	tcase_add_test(tc, pr_parse_names_missing_fields);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
