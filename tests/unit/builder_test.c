/* Unit tests of the build method's checks: names, versions, paths, URLs, refs and types are
 * refused before any engine call, with every problem reported. */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dynbuf.h"
#include "engine.h"
#include "errors.h"

static struct build_spec good_spec(void)
{
	struct build_spec s = {
	    .service = "team/web-api",
	    .version = "1.2.3",
	    .type = "docker",
	    .git_url = "git://127.0.0.1:9418/app.git",
	    .ref = "main",
	    .context = "svc",
	    .dockerfile = "Dockerfile",
	};
	return s;
}

/* The message builder_validate gave for FIELD, or NULL. */
static const char *problem_for(json_t *errors, const char *field)
{
	size_t i;
	json_t *e;

	json_array_foreach(
	    errors, i,
	    e) if (!strcmp(json_string_value(json_object_get(e, "field")),
			   field)) return json_string_value(json_object_get(e, "message"));
	return NULL;
}

START_TEST(test_valid_spec_passes)
{
	struct build_spec s = good_spec();
	json_t *errors = json_array();

	ck_assert_int_eq(builder_validate(&s, errors), 0);
	ck_assert_uint_eq(json_array_size(errors), 0);
	s.type = "DoCkEr";
	s.context = NULL;
	s.dockerfile = NULL;
	ck_assert_int_eq(builder_validate(&s, errors), 0);
	json_decref(errors);
}
END_TEST

START_TEST(test_service_grammar)
{
	const char *good[] = {"a",     "web",  "team/web-api", "a.b_c__d--e",
			      "x/y/z", "svc1", "a-----b"};
	const char *bad[] = {"",   "Web",  "-web", "web-", "a..b", "a___b", "a/",
			     "/a", "a//b", "a b",  "a:b",  "a@b",  "é",	    "a/_b"};
	char longname[300];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ck_assert_msg(builder_service_valid(good[i]), "should accept %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(!builder_service_valid(bad[i]), "should refuse '%s'", bad[i]);
	memset(longname, 'a', 256);
	longname[256] = '\0';
	ck_assert(!builder_service_valid(longname));
	longname[255] = '\0';
	ck_assert(builder_service_valid(longname));
}
END_TEST

START_TEST(test_version_grammar)
{
	const char *good[] = {"1", "1.2.3", "v1_2-rc.1", "_x", "LATEST"};
	const char *bad[] = {"", ".1", "-1", "1:2", "1/2", "a b", "1+2"};
	char longv[200];

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++)
		ck_assert_msg(builder_version_valid(good[i]), "should accept %s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_msg(!builder_version_valid(bad[i]), "should refuse '%s'", bad[i]);
	memset(longv, 'a', 129);
	longv[129] = '\0';
	ck_assert(!builder_version_valid(longv));
	longv[128] = '\0';
	ck_assert(builder_version_valid(longv));
}
END_TEST

START_TEST(test_every_problem_is_collected)
{
	struct build_spec s = {
	    .service = "Bad Name",
	    .version = "-nope",
	    .git_url = "git://host/x.git#main",
	    .ref = "has space",
	    .context = "../escape",
	    .dockerfile = "/etc/passwd",
	};
	json_t *errors = json_array();

	ck_assert_int_eq(builder_validate(&s, errors), FORJA_EINVAL);
	ck_assert_uint_eq(json_array_size(errors), 6);
	ck_assert_ptr_nonnull(problem_for(errors, "service"));
	ck_assert_ptr_nonnull(problem_for(errors, "version"));
	ck_assert_ptr_nonnull(strstr(problem_for(errors, "git_url"), "'#'"));
	ck_assert_ptr_nonnull(problem_for(errors, "ref"));
	ck_assert_str_eq(problem_for(errors, "context"), "must not contain '..' segments");
	ck_assert_str_eq(problem_for(errors, "dockerfile"), "must be a relative path");
	json_decref(errors);
}
END_TEST

START_TEST(test_required_fields)
{
	struct build_spec s = {0};
	json_t *errors = json_array();

	ck_assert_int_eq(builder_validate(&s, errors), FORJA_EINVAL);
	ck_assert_str_eq(problem_for(errors, "service"), "is required");
	ck_assert_str_eq(problem_for(errors, "version"), "is required");
	ck_assert_str_eq(problem_for(errors, "git_url"), "is required");
	ck_assert_str_eq(problem_for(errors, "ref"), "is required");
	ck_assert_uint_eq(json_array_size(errors), 4);
	json_decref(errors);
}
END_TEST

START_TEST(test_paths)
{
	const char *bad_ctx[] = {"a/../b", "..", "a/..", "/abs", "a\\b", "a b", "a#b", "a:b"};
	const char *good_ctx[] = {"svc", "a/b/c", "./svc", "a..b", "..a/b"};
	struct build_spec s = good_spec();

	for (size_t i = 0; i < sizeof(bad_ctx) / sizeof(*bad_ctx); i++) {
		json_t *errors = json_array();

		s.context = bad_ctx[i];
		ck_assert_msg(builder_validate(&s, errors) == FORJA_EINVAL, "should refuse %s",
			      bad_ctx[i]);
		ck_assert_ptr_nonnull(problem_for(errors, "context"));
		json_decref(errors);
	}
	for (size_t i = 0; i < sizeof(good_ctx) / sizeof(*good_ctx); i++) {
		json_t *errors = json_array();

		s.context = good_ctx[i];
		ck_assert_msg(builder_validate(&s, errors) == 0, "should accept %s", good_ctx[i]);
		json_decref(errors);
	}
	s.context = "svc";
	s.dockerfile = "dir/";
	{
		json_t *errors = json_array();

		ck_assert_int_eq(builder_validate(&s, errors), FORJA_EINVAL);
		ck_assert_str_eq(problem_for(errors, "dockerfile"), "must name a file");
		json_decref(errors);
	}
}
END_TEST

START_TEST(test_urls_and_refs)
{
	const char *good[] = {
	    "git://h/a.git",	      "https://github.com/o/r.git",  "ssh://git@h/r.git",
	    "git@github.com:o/r.git", "http://127.0.0.1:8080/r.git", "https://github.com/o/r"};
	const char *bad[] = {"https://u:secret@github.com/o/r.git",
			     "http://tok@h/r.git",
			     "file:///etc",
			     "/local/path",
			     "git://",
			     "-oProxyCommand=x",
			     "git://h/a b.git"};
	struct build_spec s = good_spec();

	for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
		json_t *errors = json_array();

		s.git_url = good[i];
		ck_assert_msg(builder_validate(&s, errors) == 0, "should accept %s", good[i]);
		json_decref(errors);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		json_t *errors = json_array();

		s.git_url = bad[i];
		ck_assert_msg(builder_validate(&s, errors) == FORJA_EINVAL, "should refuse %s",
			      bad[i]);
		ck_assert_ptr_nonnull(problem_for(errors, "git_url"));
		json_decref(errors);
	}
	s = good_spec();
	s.ref = "--upload-pack=evil";
	{
		json_t *errors = json_array();

		ck_assert_int_eq(builder_validate(&s, errors), FORJA_EINVAL);
		ck_assert_str_eq(problem_for(errors, "ref"), "must not start with '-'");
		json_decref(errors);
	}
}
END_TEST

START_TEST(test_packages_grammar)
{
	static const char *const good[] = {"nginx",	   "g++", "libc6", "curl=7.88.1-10+deb12u8",
					   "x1=1:2.0~rc1", NULL};
	static const char *const bad[] = {"a",	    "Nginx",  "-x",	   "nginx;id",
					  "a b",    "nginx=", "nginx=1 2", "$(id)",
					  "a=`id`", "=1",     NULL};
	for (size_t i = 0; good[i]; i++)
		ck_assert_msg(builder_package_valid(good[i], strlen(good[i])), "%s", good[i]);
	for (size_t i = 0; bad[i]; i++)
		ck_assert_msg(!builder_package_valid(bad[i], strlen(bad[i])), "%s", bad[i]);

	struct build_spec s = good_spec();
	s.type = "PACKAGES";
	s.dockerfile = NULL;
	json_t *args = json_pack("{s:s}", "PACKAGES", "nginx curl=7.88.1-10+deb12u8");
	json_t *errors = json_array();
	s.build_args = args;
	ck_assert_int_eq(builder_validate(&s, errors), 0);
	json_object_set_new(args, "PACKAGES", json_string("nginx;id"));
	ck_assert_int_eq(builder_validate(&s, errors), FORJA_EINVAL);
	ck_assert_ptr_nonnull(problem_for(errors, "packages"));
	json_array_clear(errors);
	json_object_set_new(args, "PACKAGES", json_string("  "));
	ck_assert_int_eq(builder_validate(&s, errors), FORJA_EINVAL);
	ck_assert_str_eq(problem_for(errors, "packages"), "lists no packages");
	json_array_clear(errors);
	json_object_del(args, "PACKAGES");
	json_object_set_new(args, "PACKAGES_FILE", json_string("../etc/passwd"));
	ck_assert_int_eq(builder_validate(&s, errors), FORJA_EINVAL);
	ck_assert_ptr_nonnull(problem_for(errors, "packages_file"));
	json_decref(args);
	json_decref(errors);
}
END_TEST

/* A packages_file as both the webhook's check and the mirror build read it. */
START_TEST(test_packages_file_parse)
{
	static const char text[] = "# the list\n  curl \n\nhello=2.10-3 # pinned\n\tjq";
	static const char bad[] = "curl\n# fine\nnginx && reboot\n";
	struct dynbuf list;
	size_t count = 9;
	char why[256] = "";

	dynbuf_init(&list, 4096);
	ck_assert_int_eq(
	    builder_packages_parse(text, strlen(text), &list, &count, why, sizeof(why)), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_str_eq(dynbuf_str(&list), "curl\nhello=2.10-3\njq\n");
	ck_assert_int_eq(builder_packages_parse("# none\n\n", 8, NULL, &count, why, sizeof(why)),
			 0);
	ck_assert_uint_eq(count, 0);
	ck_assert_int_eq(builder_packages_parse(bad, strlen(bad), NULL, &count, why, sizeof(why)),
			 FORJA_EINVAL);
	ck_assert_str_eq(why, "line 3: \"nginx && reboot\" is not a Debian package name[=version]");
	dynbuf_free(&list);
}
END_TEST

START_TEST(test_ami_is_unsupported)
{
	struct build_spec s = good_spec();
	json_t *errors = json_array();

	s.type = "ami";
	ck_assert_int_eq(builder_validate(&s, errors), FORJA_EUNSUPPORTED);
	ck_assert_uint_eq(json_array_size(errors), 1);
	ck_assert_str_eq(problem_for(errors, "type"),
			 "artifact type 'AMI' is not supported: Forja builds Docker images");
	json_decref(errors);

	/* with other problems too, the answer is a validation failure listing all of them */
	errors = json_array();
	s.version = "";
	ck_assert_int_eq(builder_validate(&s, errors), FORJA_EINVAL);
	ck_assert_uint_eq(json_array_size(errors), 2);
	json_decref(errors);
}
END_TEST

START_TEST(test_run_refuses_before_engine)
{
	/* an engine that does not exist: any call to it would fail with "not reachable" */
	struct engine *e = NULL;
	struct builder_env env = {.registry_host = "127.0.0.1:1"};
	struct build_spec s = good_spec();
	struct build_result res;

	struct source_config sc = {.cache_dir = "/nonexistent/forja-git"};
	struct source *src = NULL;

	ck_assert_int_eq(engine_new("unix:///nonexistent/forja.sock", &e), 0);
	ck_assert_int_eq(source_new(&sc, &src), 0);
	env.engine = e;
	env.source = src;
	s.type = "AMI";
	ck_assert_int_eq(builder_run(&env, &s, NULL, NULL, &res), FORJA_EUNSUPPORTED);
	ck_assert_str_eq(res.error,
			 "artifact type 'AMI' is not supported: Forja builds Docker images");
	ck_assert_ptr_null(engine_api_version(e));
	s = good_spec();
	s.service = "UPPER";
	ck_assert_int_eq(builder_run(&env, &s, NULL, NULL, &res), FORJA_EINVAL);
	ck_assert_ptr_nonnull(strstr(res.error, "service must be lowercase"));
	ck_assert_ptr_null(engine_api_version(e));
	engine_free(e);
	source_free(src);
}
END_TEST

START_TEST(test_image_ref_and_sha)
{
	char buf[32];

	ck_assert_int_eq(builder_image_ref("127.0.0.1:5000", "web", "1.0", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "127.0.0.1:5000/web:1.0");
	ck_assert_int_eq(
	    builder_image_ref("127.0.0.1:5000", "a-long-service-name", "1.0", buf, sizeof(buf)),
	    FORJA_ETOOBIG);
	ck_assert(source_is_full_sha("0123456789abcdef0123456789abcdef01234567"));
	ck_assert(!source_is_full_sha("0123456789ABCDEF0123456789abcdef01234567"));
	ck_assert(!source_is_full_sha("0123456789abcdef"));
	ck_assert(!source_is_full_sha("main"));
}
END_TEST

START_TEST(test_registry_auth_is_padded_base64url)
{
	char *a = engine_registry_auth(NULL, NULL, NULL);

	ck_assert_str_eq(a, "e30=");
	free(a);
	/* the docs' example: standard base64 of this has a '+'; base64url has '-' and '=' kept */
	a = engine_registry_auth("ci", "p?>p?>s3cret~~", "127.0.0.1:5066");
	ck_assert_str_eq(a, "eyJ1c2VybmFtZSI6ImNpIiwicGFzc3dvcmQiOiJwPz5wPz5zM2NyZXR-fiIsInNlcnZlcm"
			    "FkZHJlc3MiOiIxMjcuMC4wLjE6NTA2NiJ9");
	free(a);
	a = engine_registry_auth("u", "?", NULL);
	ck_assert_ptr_null(strchr(a, '+'));
	ck_assert_ptr_null(strchr(a, '/'));
	ck_assert_ptr_null(strchr(a, '\n'));
	ck_assert_uint_eq(strlen(a) % 4, 0);
	free(a);
}
END_TEST

START_TEST(test_engine_host_forms)
{
	struct engine *e = NULL;
	char err[256];

	ck_assert_int_eq(engine_new("bogus://x", &e), FORJA_EINVAL);
	ck_assert_ptr_null(e);
	ck_assert_int_eq(engine_new("tcp://127.0.0.1:1", &e), 0);
	ck_assert_int_eq(engine_ping(e, err, sizeof(err)), FORJA_EUNAVAILABLE);
	ck_assert_msg(!strncmp(err, "docker engine not reachable at tcp://127.0.0.1:1: ", 50), "%s",
		      err);
	engine_free(e);
	ck_assert_int_eq(engine_new("unix:///nonexistent/forja.sock", &e), 0);
	ck_assert_int_eq(engine_ping(e, err, sizeof(err)), FORJA_EUNAVAILABLE);
	ck_assert_msg(
	    !strncmp(err, "docker engine not reachable at unix:///nonexistent/forja.sock: ", 63),
	    "%s", err);
	engine_free(e);
}
END_TEST

static Suite *builder_suite(void)
{
	Suite *s = suite_create("builder");
	TCase *tc = tcase_create("validate");

	tcase_add_test(tc, test_valid_spec_passes);
	tcase_add_test(tc, test_service_grammar);
	tcase_add_test(tc, test_version_grammar);
	tcase_add_test(tc, test_every_problem_is_collected);
	tcase_add_test(tc, test_required_fields);
	tcase_add_test(tc, test_paths);
	tcase_add_test(tc, test_urls_and_refs);
	tcase_add_test(tc, test_ami_is_unsupported);
	tcase_add_test(tc, test_packages_grammar);
	tcase_add_test(tc, test_packages_file_parse);
	tcase_add_test(tc, test_run_refuses_before_engine);
	tcase_add_test(tc, test_image_ref_and_sha);
	tcase_add_test(tc, test_registry_auth_is_padded_base64url);
	tcase_add_test(tc, test_engine_host_forms);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(builder_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
