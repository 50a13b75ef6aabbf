/* Configuration: defaults, environment, flags (flags win), and clear refusals of bad values. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static int load(struct config *c, char *err, size_t len, int argc, char **argv)
{
	return config_load(c, argc, argv, err, len);
}

START_TEST(defaults_are_embedded)
{
	struct config c;
	char err[512];
	char *argv[] = {"forja", NULL};
	unsetenv("FORJA_WORKERS");
	unsetenv("DOCKER_HOST");
	ck_assert_int_eq(load(&c, err, sizeof(err), 1, argv), 0);
	ck_assert_str_eq(c.listen_host, "127.0.0.1");
	ck_assert_uint_eq(c.listen_port, 8080);
	ck_assert_str_eq(c.docker_host, "unix:///var/run/docker.sock");
	ck_assert_str_eq(c.branch, "develop");
	ck_assert_str_eq(c.manifest, "images.json");
	ck_assert_int_eq(c.workers, 2);
	ck_assert_int_eq(c.build_timeout_s, 1800);
	ck_assert_str_eq(c.registry_url, "http://127.0.0.1:5000");
	ck_assert_str_eq(c.github_api_url, "https://api.github.com");
	ck_assert_str_eq(c.public_url, "http://127.0.0.1:8080");
	ck_assert_ptr_null(c.webhook_secret);
	ck_assert(!c.allow_unsigned_webhooks);
	config_free(&c);
}
END_TEST

START_TEST(environment_then_flags)
{
	struct config c;
	char err[512];
	char *argv[] = {"forja", "--workers", "7", "--branch=main", "--allow-unsigned-webhooks",
			NULL};
	setenv("FORJA_WORKERS", "3", 1);
	setenv("FORJA_BRANCH", "release", 1);
	setenv("FORJA_MANIFEST", "ci/images.json", 1);
	setenv("DOCKER_HOST", "tcp://127.0.0.1:2375", 1);
	ck_assert_int_eq(load(&c, err, sizeof(err), 5, argv), 0);
	ck_assert_int_eq(c.workers, 7);
	ck_assert_str_eq(c.branch, "main");
	ck_assert_str_eq(c.manifest, "ci/images.json");
	ck_assert_str_eq(c.docker_host, "tcp://127.0.0.1:2375");
	ck_assert(c.allow_unsigned_webhooks);
	config_free(&c);
	unsetenv("FORJA_WORKERS");
	unsetenv("FORJA_BRANCH");
	unsetenv("FORJA_MANIFEST");
	unsetenv("DOCKER_HOST");
}
END_TEST

struct bad_case {
	const char *env, *value, *expect;
};

static const struct bad_case bad_cases[] = {
    {"FORJA_WORKERS", "abc", "FORJA_WORKERS (environment): \"abc\" is not a whole number"},
    {"FORJA_WORKERS", "0", "from 1 to 64"},
    {"FORJA_BUILD_TIMEOUT", "10s", "FORJA_BUILD_TIMEOUT"},
    {"FORJA_LISTEN", "8080", "FORJA_LISTEN: \"8080\" is not host:port"},
    {"FORJA_LISTEN", "127.0.0.1:99999", "FORJA_LISTEN: port"},
    {"FORJA_DOCKER_HOST", "/var/run/docker.sock", "must start with unix:// or tcp://"},
    {"FORJA_REGISTRY", "http://reg:5000", "FORJA_REGISTRY"},
    {"FORJA_REGISTRY_URL", "reg:5000", "FORJA_REGISTRY_URL"},
    {"FORJA_LOG_LEVEL", "loud", "FORJA_LOG_LEVEL"},
    {"FORJA_WEBHOOK_SECRET", "", "FORJA_WEBHOOK_SECRET is set but empty"},
    {"FORJA_ALLOW_UNSIGNED_WEBHOOKS", "maybe", "not a boolean"},
    {"FORJA_REGISTRY_PASSWORD", "x", "FORJA_REGISTRY_USERNAME is not"},
};

START_TEST(bad_values_name_the_key)
{
	const struct bad_case *bc = &bad_cases[_i];
	struct config c;
	char err[512] = "";
	char *argv[] = {"forja", NULL};
	setenv(bc->env, bc->value, 1);
	ck_assert_int_ne(load(&c, err, sizeof(err), 1, argv), 0);
	ck_assert_msg(strstr(err, bc->expect) != NULL, "%s=%s gave: %s", bc->env, bc->value, err);
	unsetenv(bc->env);
}
END_TEST

START_TEST(unknown_flag_and_help)
{
	struct config c;
	char err[512] = "";
	char *bad[] = {"forja", "--wokers=3", NULL};
	char *help[] = {"forja", "--help", NULL};
	char *novalue[] = {"forja", "--registry", NULL};
	ck_assert_int_ne(load(&c, err, sizeof(err), 2, bad), 0);
	ck_assert_ptr_nonnull(strstr(err, "unknown option --wokers"));
	ck_assert_int_eq(load(&c, err, sizeof(err), 2, help), 1);
	ck_assert_int_ne(load(&c, err, sizeof(err), 2, novalue), 0);
	ck_assert_ptr_nonnull(strstr(err, "--registry needs a value"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, defaults_are_embedded);
	tcase_add_test(tc, environment_then_flags);
	tcase_add_loop_test(tc, bad_values_name_the_key, 0,
			    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, unknown_flag_and_help);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
