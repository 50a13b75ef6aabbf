/* Unit tests of the build record: the one constructor every trigger uses, and its defaults. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"

static const struct build_fields minimal = {
    .trigger = TRIGGER_API,
    .service = "api",
    .version = "1.0",
    .image = "127.0.0.1:5000/api:1.0",
    .repository = "git://127.0.0.1/app.git",
    .clone_url = "git://127.0.0.1/app.git",
    .ref = "main",
};

START_TEST(defaults_when_absent)
{
	struct build *b = build_new_from(&minimal);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(b->status, BUILD_QUEUED);
	ck_assert_int_eq(b->trigger, TRIGGER_API);
	ck_assert_str_eq(b->type, "docker");
	/* the root is "" whichever path made the build, never NULL */
	ck_assert_str_eq(b->context, "");
	ck_assert_ptr_null(b->dockerfile);
	ck_assert_ptr_null(b->commit);
	ck_assert_ptr_null(b->branch);
	ck_assert_ptr_null(b->delivery_id);
	ck_assert_ptr_null(b->build_args);
	ck_assert_int_eq(b->pull_request, 0);
	ck_assert_int_eq(b->id, 0);
	build_free(b);
}
END_TEST

START_TEST(copies_every_field)
{
	json_t *args = json_pack("{s:s, s:s}", "Z", "last", "A", "first");
	char service[] = "worker";
	struct build_fields f = minimal;
	f.trigger = TRIGGER_WEBHOOK;
	f.service = service;
	f.type = "Docker";
	f.commit = "3f2c9a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f";
	f.context = "svc/w";
	f.dockerfile = "Dockerfile.prod";
	f.build_args = args;
	f.pull_request = 7;
	f.branch = "develop";
	f.delivery_id = "d-1";
	struct build *b = build_new_from(&f);
	ck_assert_ptr_nonnull(b);
	/* copies, not the caller's pointers */
	service[0] = 'W';
	ck_assert_str_eq(b->service, "worker");
	ck_assert_str_eq(b->type, "Docker");
	ck_assert_str_eq(b->context, "svc/w");
	ck_assert_str_eq(b->dockerfile, "Dockerfile.prod");
	ck_assert_str_eq(b->commit, f.commit);
	ck_assert_str_eq(b->branch, "develop");
	ck_assert_str_eq(b->delivery_id, "d-1");
	ck_assert_int_eq(b->pull_request, 7);
	ck_assert_int_eq(b->trigger, TRIGGER_WEBHOOK);
	/* stored with sorted keys, so every trigger writes the same text for the same args */
	ck_assert_str_eq(b->build_args, "{\"A\":\"first\",\"Z\":\"last\"}");
	build_free(b);
	json_decref(args);
}
END_TEST

START_TEST(required_fields)
{
	const char *const names[] = {"service",	   "version",	"image",
				     "repository", "clone_url", "ref"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct build_fields f = minimal;
		const char **slot[] = {&f.service,    &f.version,   &f.image,
				       &f.repository, &f.clone_url, &f.ref};
		*slot[i] = NULL;
		ck_assert_msg(build_new_from(&f) == NULL, "a build without %s was made", names[i]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("build");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, defaults_when_absent);
	tcase_add_test(tc, copies_every_field);
	tcase_add_test(tc, required_fields);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
