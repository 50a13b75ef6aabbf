/* The builder's settings derived from the configuration: which secrets build logs mask (checked
 * on real log files), the registry client's options and the builder environment, and that the
 * server (app_open) ends up with exactly these. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_logs.h"
#include "builder_config.h"
#include "config.h"
#include "testenv.h"

#define REG_PASSWORD "reg-pass-5a1f"
#define API_TOKEN    "api-token-9c3e"
#define HOOK_SECRET  "hook-secret-77d0"
#define GH_TOKEN     "ghp_b0d5e1c2"

static const char *const every_secret[] = {
    "--registry-username=forja",     "--registry-password=" REG_PASSWORD, "--api-token=" API_TOKEN,
    "--webhook-secret=" HOOK_SECRET, "--github-token=" GH_TOKEN,	  NULL,
};

static void load(struct config *cfg, const char *const *flags)
{
	char *argv[16], err[512];
	int argc = 0;
	argv[argc++] = "forja";
	for (size_t i = 0; flags[i] && argc < 15; i++)
		argv[argc++] = (char *)flags[i];
	argv[argc] = NULL;
	ck_assert_msg(config_load(cfg, argc, argv, err, sizeof(err)) == 0, "%s", err);
}

/* Writes a line naming every secret to build 1's log through LOGS and reads it back. */
static void log_round_trip(struct build_logs *logs, char *buf, size_t len)
{
	int ended = 0;
	ck_assert_int_eq(build_logs_appendf(logs, 1, "login %s %s %s %s", REG_PASSWORD, API_TOKEN,
					    HOOK_SECRET, GH_TOKEN),
			 0);
	long n = build_logs_read(logs, 1, 0, buf, len - 1, &ended);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
}

static void assert_masked(const char *text)
{
	ck_assert_msg(strstr(text, REG_PASSWORD) == NULL, "registry password in %s", text);
	ck_assert_msg(strstr(text, API_TOKEN) == NULL, "API token in %s", text);
	ck_assert_msg(strstr(text, HOOK_SECRET) == NULL, "webhook secret in %s", text);
	ck_assert_msg(strstr(text, GH_TOKEN) == NULL, "GitHub token in %s", text);
	ck_assert_str_eq(text, "login **** **** **** ****\n");
}

START_TEST(every_secret_is_masked)
{
	struct config cfg;
	const char *list[BUILDER_CONFIG_MAX_SECRETS + 1];
	char dir[] = "/tmp/forja-bcfg-XXXXXX", buf[512], cmd[64];
	struct build_logs *logs = NULL;
	load(&cfg, every_secret);
	ck_assert_uint_eq(builder_config_secrets(&cfg, list), 4);
	ck_assert_str_eq(list[0], REG_PASSWORD);
	ck_assert_str_eq(list[1], API_TOKEN);
	ck_assert_str_eq(list[2], HOOK_SECRET);
	ck_assert_str_eq(list[3], GH_TOKEN);
	ck_assert_ptr_null(list[4]);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(build_logs_open(dir, list, 0, &logs), 0);
	log_round_trip(logs, buf, sizeof(buf));
	assert_masked(buf);
	build_logs_close(logs);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	config_free(&cfg);
}
END_TEST

START_TEST(unset_secrets_are_skipped)
{
	struct config cfg;
	const char *list[BUILDER_CONFIG_MAX_SECRETS + 1];
	const char *none[] = {NULL};
	const char *two[] = {"--api-token=" API_TOKEN, "--github-token=" GH_TOKEN, NULL};
	unsetenv("FORJA_REGISTRY_PASSWORD");
	unsetenv("FORJA_API_TOKEN");
	unsetenv("FORJA_WEBHOOK_SECRET");
	unsetenv("FORJA_GITHUB_TOKEN");
	load(&cfg, none);
	ck_assert_uint_eq(builder_config_secrets(&cfg, list), 0);
	ck_assert_ptr_null(list[0]);
	config_free(&cfg);
	load(&cfg, two);
	ck_assert_uint_eq(builder_config_secrets(&cfg, list), 2);
	ck_assert_str_eq(list[0], API_TOKEN);
	ck_assert_str_eq(list[1], GH_TOKEN);
	ck_assert_ptr_null(list[2]);
	config_free(&cfg);
}
END_TEST

START_TEST(registry_and_env_from_config)
{
	struct config cfg;
	struct registry_opts ro;
	struct builder_env env;
	const char *flags[] = {
	    "--registry=reg.example:5000", "--registry-url=https://reg.example:5000",
	    "--registry-username=forja", "--registry-password=" REG_PASSWORD, NULL};
	load(&cfg, flags);
	builder_config_registry_opts(&cfg, &ro);
	ck_assert_str_eq(ro.url, "https://reg.example:5000");
	ck_assert_str_eq(ro.username, "forja");
	ck_assert_str_eq(ro.password, REG_PASSWORD);
	ck_assert_ptr_eq(ro.ca_file, cfg.registry_ca_file);
	ck_assert_int_eq(ro.timeout_s, BUILDER_CONFIG_REGISTRY_TIMEOUT_S);
	ck_assert_int_eq(ro.timeout_s, 10);
	builder_config_env(&cfg, NULL, NULL, NULL, &env);
	ck_assert_ptr_null(env.engine);
	ck_assert_ptr_null(env.registry);
	ck_assert_str_eq(env.registry_host, "reg.example:5000");
	ck_assert_str_eq(env.registry_username, "forja");
	ck_assert_str_eq(env.registry_password, REG_PASSWORD);
	config_free(&cfg);
}
END_TEST

/* The server's build logs mask all four secrets, and its builder environment is this one. */
START_TEST(server_uses_the_same_settings)
{
	struct testenv t;
	struct builder_env want;
	char buf[512];
	testenv_start(&t, every_secret);
	log_round_trip(t.app.logs, buf, sizeof(buf));
	assert_masked(buf);
	builder_config_env(&t.cfg, t.app.engine, t.app.registry, t.app.source, &want);
	ck_assert_ptr_eq(t.app.env.engine, want.engine);
	ck_assert_ptr_eq(t.app.env.registry, want.registry);
	ck_assert_ptr_eq(t.app.env.source, want.source);
	ck_assert_ptr_nonnull(t.app.env.source);
	ck_assert_str_eq(t.app.env.registry_host, want.registry_host);
	ck_assert_str_eq(t.app.env.registry_username, "forja");
	ck_assert_str_eq(t.app.env.registry_password, REG_PASSWORD);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("builder_config");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, every_secret_is_masked);
	tcase_add_test(tc, unset_secrets_are_skipped);
	tcase_add_test(tc, registry_and_env_from_config);
	tcase_add_test(tc, server_uses_the_same_settings);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
