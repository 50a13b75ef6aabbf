/* `forja build` run in-process against the real engine, registry and git daemon: exit codes,
 * the last line of its output, and the build it records in the history. */
#include <fcntl.h>

#include "build_logs.h"
#include "cli.h"
#include "config.h"
#include "docker_fixture.h"
#include "store.h"

struct cli_run {
	int code;
	char out[65536];
	char err[8192];
	char last[512]; /* last line of stdout */
};

static void read_back(FILE *f, char *buf, size_t len)
{
	size_t n;

	rewind(f);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
}

/* Runs cli_build_main with ARGS (NULL-terminated, after "build") and CONFIG_ARGS (global
 * flags), capturing stdout and stderr. */
static void run_cli(const char *const *cfg_args, const char *const *args, struct cli_run *r)
{
	char *cargv[16], *argv[32], err[512];
	int cargc = 0, argc = 0, saved_out, saved_err;
	struct config cfg;
	FILE *out = tmpfile(), *errf = tmpfile();
	char *nl;

	memset(r, 0, sizeof(*r));
	cargv[cargc++] = "forja";
	for (; cfg_args[cargc - 1]; cargc++)
		cargv[cargc] = (char *)cfg_args[cargc - 1];
	cargv[cargc] = NULL;
	ck_assert_msg(config_load(&cfg, cargc, cargv, err, sizeof(err)) == 0, "%s", err);
	argv[argc++] = "build";
	for (; args[argc - 1]; argc++)
		argv[argc] = (char *)args[argc - 1];
	argv[argc] = NULL;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(errf);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(1);
	saved_err = dup(2);
	dup2(fileno(out), 1);
	dup2(fileno(errf), 2);
	r->code = cli_build_main(argc, argv, &cfg);
	fflush(stdout);
	fflush(stderr);
	dup2(saved_out, 1);
	dup2(saved_err, 2);
	close(saved_out);
	close(saved_err);
	read_back(out, r->out, sizeof(r->out));
	read_back(errf, r->err, sizeof(r->err));
	fclose(out);
	fclose(errf);
	config_free(&cfg);

	/* the last non-empty line */
	nl = r->out + strlen(r->out);
	while (nl > r->out && nl[-1] == '\n')
		*--nl = '\0';
	nl = strrchr(r->out, '\n');
	nl = nl ? nl + 1 : r->out;
	/* a longer last line is cut, which the assertions on it then report */
	size_t n = strnlen(nl, sizeof(r->last) - 1);
	memcpy(r->last, nl, n);
	r->last[n] = '\0';
}

struct cli_fx {
	char data_dir[64];
	char data_flag[96];
	char reg_flag[128];
	const char *cfg_args[4];
};

static void cli_fx_open(struct cli_fx *c)
{
	snprintf(c->data_dir, sizeof(c->data_dir), "/tmp/forja-cli-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(c->data_dir));
	snprintf(c->data_flag, sizeof(c->data_flag), "--data-dir=%s", c->data_dir);
	snprintf(c->reg_flag, sizeof(c->reg_flag), "--registry=%s",
		 testenv_need("FORJA_TEST_REGISTRY"));
	c->cfg_args[0] = c->data_flag;
	c->cfg_args[1] = c->reg_flag;
	c->cfg_args[2] = NULL;
}

static void cli_fx_close(struct cli_fx *c)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->data_dir);
	fx_run(cmd);
}

START_TEST(test_cli_build_success_is_recorded)
{
	char name[64], url[256], sha[41], want[256], digest[80], err[256];
	const char *files[] = {"Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n",
			       "hello.txt", "hello from the cli\n", NULL};
	struct cli_fx c;
	struct cli_run r;
	struct fx f;
	struct store *st = NULL;
	struct build *b = NULL;

	cli_fx_open(&c);
	fx_open(&f);
	fx_name("cli", name, sizeof(name));
	testgit_commit(name, "main", files, sha);
	testgit_url(name, url, sizeof(url));
	{
		const char *args[] = {"--service", name,	 "--version",	"3.1", "--git",
				      url,	   "--ref=main", "--build-arg", "A=b", NULL};

		run_cli(c.cfg_args, args, &r);
	}
	ck_assert_msg(r.code == 0, "exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err);
	/* the log was printed live, and the last line is image@digest */
	ck_assert_ptr_nonnull(strstr(r.out, "COPY hello.txt /hello.txt"));
	ck_assert_int_eq(
	    registry_manifest_digest(f.registry, name, "3.1", digest, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/%s@%s", f.reg_host, name, digest);
	ck_assert_str_eq(r.last, want);

	/* and the build is in the history: trigger cli, pinned commit, digest, log */
	ck_assert_int_eq(store_open(c.data_dir, &st), 0);
	ck_assert_int_eq(store_build_latest(st, name, NULL, &b), 0);
	ck_assert_int_eq(b->status, BUILD_SUCCEEDED);
	ck_assert_int_eq(b->trigger, TRIGGER_CLI);
	ck_assert_str_eq(b->commit, sha);
	ck_assert_str_eq(b->ref, "main");
	ck_assert_str_eq(b->digest, digest);
	ck_assert_str_eq(b->build_args, "{\"A\":\"b\"}");
	build_free(b);
	store_close(st);
	fx_close(&f);
	cli_fx_close(&c);
}
END_TEST

START_TEST(test_cli_build_failure)
{
	char name[64], url[256], sha[41], dockerfile[256];
	struct cli_fx c;
	struct cli_run r;
	struct store *st = NULL;
	struct build *b = NULL;

	cli_fx_open(&c);
	fx_name("clifail", name, sizeof(name));
	snprintf(dockerfile, sizeof(dockerfile), "FROM %s\nRUN echo %s && exit 7\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"), name);
	{
		const char *files[] = {"Dockerfile", dockerfile, NULL};

		testgit_commit(name, "main", files, sha);
	}
	testgit_url(name, url, sizeof(url));
	{
		const char *args[] = {"--service", name,    "--version", "1", "--git",
				      url,	   "--ref", sha,	 NULL};

		run_cli(c.cfg_args, args, &r);
	}
	ck_assert_int_eq(r.code, 1);
	ck_assert_msg(strstr(r.err, "returned a non-zero code: 7") != NULL, "%s", r.err);
	ck_assert_ptr_null(strstr(r.last, "@sha256:"));
	ck_assert_int_eq(store_open(c.data_dir, &st), 0);
	ck_assert_int_eq(store_build_latest(st, name, NULL, &b), 0);
	ck_assert_int_eq(b->status, BUILD_FAILED);
	ck_assert_ptr_nonnull(strstr(b->error, "returned a non-zero code: 7"));
	build_free(b);
	store_close(st);
	cli_fx_close(&c);
}
END_TEST

START_TEST(test_cli_refuses_bad_input)
{
	struct cli_fx c;
	struct cli_run r;

	cli_fx_open(&c);
	{
		const char *args[] = {"--service", "Bad Name", "--version", "1", NULL};

		run_cli(c.cfg_args, args, &r);
	}
	ck_assert_int_eq(r.code, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "forja build: service must be lowercase"));
	ck_assert_ptr_nonnull(strstr(r.err, "forja build: git_url is required"));
	ck_assert_ptr_nonnull(strstr(r.err, "forja build: ref is required"));
	{
		const char *args[] = {"--service", "svc",  "--version", "1",
				      "--type",	   "ami",  "--git",	"git://127.0.0.1/x.git",
				      "--ref",	   "main", NULL};

		run_cli(c.cfg_args, args, &r);
	}
	ck_assert_int_eq(r.code, 1);
	ck_assert_str_eq(r.err, "forja build: artifact type 'AMI' is not supported: Forja builds "
				"Docker images\n");
	{
		const char *args[] = {"--nope", NULL};

		run_cli(c.cfg_args, args, &r);
	}
	ck_assert_int_eq(r.code, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "unknown argument '--nope'"));
	{
		const char *args[] = {"--help", NULL};

		run_cli(c.cfg_args, args, &r);
	}
	ck_assert_int_eq(r.code, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "usage: forja build"));
	cli_fx_close(&c);
}
END_TEST

START_TEST(test_cli_builds_without_history)
{
	char name[64], url[256], sha[41], flag[128];
	const char *files[] = {"Dockerfile", "FROM scratch\nCOPY Dockerfile /x\n", NULL};
	const char *cfg_args[3];
	struct cli_fx c;
	struct cli_run r;

	cli_fx_open(&c);
	/* a data dir that cannot be created: warn, build anyway */
	snprintf(flag, sizeof(flag), "--data-dir=/proc/forja-no-such-dir");
	cfg_args[0] = flag;
	cfg_args[1] = c.reg_flag;
	cfg_args[2] = NULL;
	fx_name("clinohist", name, sizeof(name));
	testgit_commit(name, "main", files, sha);
	testgit_url(name, url, sizeof(url));
	{
		const char *args[] = {"--service", name,    "--version", "1", "--git",
				      url,	   "--ref", "main",	 NULL};

		run_cli(cfg_args, args, &r);
	}
	ck_assert_msg(r.code == 0, "exit %d\n%s\n%s", r.code, r.out, r.err);
	ck_assert_ptr_nonnull(strstr(r.err, "warning: cannot open the history"));
	ck_assert_ptr_nonnull(strstr(r.last, "@sha256:"));
	cli_fx_close(&c);
}
END_TEST

/* The stored log masks every secret of the configuration, as the server's does; stdout shows
 * the log as it came, which proves the secrets were in it. */
START_TEST(test_cli_masks_every_secret)
{
	const char *api = "api-token-c1e2", *hook = "hook-secret-d3f4", *gh = "ghp_e5a6b7";
	char name[64], url[256], sha[41], dockerfile[512], flags[3][64], log[8192];
	const char *cfg_args[6];
	struct cli_fx c;
	struct cli_run r;
	struct store *st = NULL;
	struct build *b = NULL;
	struct build_logs *logs = NULL;
	int ended = 0;

	cli_fx_open(&c);
	snprintf(flags[0], sizeof(flags[0]), "--api-token=%s", api);
	snprintf(flags[1], sizeof(flags[1]), "--webhook-secret=%s", hook);
	snprintf(flags[2], sizeof(flags[2]), "--github-token=%s", gh);
	cfg_args[0] = c.data_flag;
	cfg_args[1] = c.reg_flag;
	cfg_args[2] = flags[0];
	cfg_args[3] = flags[1];
	cfg_args[4] = flags[2];
	cfg_args[5] = NULL;
	fx_name("climask", name, sizeof(name));
	snprintf(dockerfile, sizeof(dockerfile), "FROM %s\nRUN echo %s %s %s && exit 7\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"), api, hook, gh);
	{
		const char *files[] = {"Dockerfile", dockerfile, NULL};

		testgit_commit(name, "main", files, sha);
	}
	testgit_url(name, url, sizeof(url));
	{
		const char *args[] = {"--service", name,    "--version", "1", "--git",
				      url,	   "--ref", sha,	 NULL};

		run_cli(cfg_args, args, &r);
	}
	ck_assert_int_eq(r.code, 1);
	ck_assert_ptr_nonnull(strstr(r.out, gh));
	ck_assert_int_eq(store_open(c.data_dir, &st), 0);
	ck_assert_int_eq(store_build_latest(st, name, NULL, &b), 0);
	ck_assert_int_eq(build_logs_open(c.data_dir, NULL, 0, &logs), 0);
	long n = build_logs_read(logs, b->id, 0, log, sizeof(log) - 1, &ended);
	ck_assert_int_gt(n, 0);
	log[n] = '\0';
	ck_assert_msg(strstr(log, api) == NULL, "API token in the stored log:\n%s", log);
	ck_assert_msg(strstr(log, hook) == NULL, "webhook secret in the stored log:\n%s", log);
	ck_assert_msg(strstr(log, gh) == NULL, "GitHub token in the stored log:\n%s", log);
	ck_assert_ptr_nonnull(strstr(log, "**** **** ****"));
	build_logs_close(logs);
	build_free(b);
	store_close(st);
	cli_fx_close(&c);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("docker_cli");
	TCase *tc = tcase_create("cli");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_cli_build_success_is_recorded);
	tcase_add_test(tc, test_cli_build_failure);
	tcase_add_test(tc, test_cli_refuses_bad_input);
	tcase_add_test(tc, test_cli_builds_without_history);
	tcase_add_test(tc, test_cli_masks_every_secret);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cli_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
