/* Build contexts made by Forja from its own git caches, against a real engine, registry and git
 * daemon: .dockerignore applied as the docker CLI applies it, modes and symlinks kept,
 * submodules included, labels in the same request, caches shared and repaired. */
#include <pthread.h>

#include "context.h"
#include "docker_fixture.h"

static const char *base_image(void)
{
	return testenv_need("FORJA_TEST_BASE_IMAGE");
}

static struct build_spec spec_for(const char *name, const char *url, const char *ref)
{
	struct build_spec s = {.service = name, .version = "1.0", .git_url = url, .ref = ref};

	return s;
}

/* The work tree testgit_commit commits from (created by a first testgit_commit). */
static void work_dir(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/.work/%s", testenv_need("FORJA_TEST_GIT_DIR"), name);
}

/* Runs a shell command inside NAME's work tree. */
static void in_work(const char *name, const char *cmd)
{
	char dir[256], full[4096];

	work_dir(name, dir, sizeof(dir));
	snprintf(full, sizeof(full), "cd '%s' && %s", dir, cmd);
	fx_run(full);
}

/* The paths in IMAGE's file system, one per line, into a malloc'ed string. */
static char *image_files(const char *image)
{
	char cmd[1024];
	FILE *p;
	char *out = NULL;
	size_t len = 0;

	snprintf(cmd, sizeof(cmd),
		 "id=$(docker create '%s' /none) && docker export \"$id\" | tar -tv; "
		 "docker rm -f \"$id\" >/dev/null 2>&1",
		 image);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	{
		FILE *m = open_memstream(&out, &len);
		int c;

		while ((c = fgetc(p)) != EOF)
			fputc(c, m);
		fclose(m);
	}
	pclose(p);
	return out;
}

/* Bytes reported in the log's "sent N files, M bytes" line. */
static unsigned long long sent_bytes(const char *log, unsigned long long *files)
{
	const char *l = strstr(log, "sent ");
	unsigned long long n = 0, b = 0;

	ck_assert_msg(l && sscanf(l, "sent %llu files, %llu bytes", &n, &b) == 2, "%s", log);
	if (files)
		*files = n;
	return b;
}

static void run_ok(struct fx *f, const struct build_spec *s, struct build_result *res)
{
	int rc = builder_run(&f->env, s, &f->elog, NULL, res);

	ck_assert_msg(rc == 0, "build failed: %s\nlog:\n%s", res->error, logbuf_str(&f->log));
}

START_TEST(test_dockerignore_applied_and_big_file_not_sent)
{
	char name[64], url[256], sha[41];
	const char *files[] = {
	    "Dockerfile", "FROM scratch\nCOPY . /ctx/\n", ".dockerignore",
	    "# local junk\nbig.bin\n*.log\n!keep.log\n.env\ndocs\n!docs/README.md\n", "a.log",
	    "dropped\n", "keep.log", "kept\n", ".env", "SECRET=1\n", "docs/README.md", "readme\n",
	    "docs/other.md", "other\n",
	    /* export rules of git archive must not change what is sent */
	    ".gitattributes", "exported.txt export-ignore\n", "exported.txt", "still here\n", NULL};
	struct build_result res;
	struct build_spec s;
	unsigned long long nfiles = 0;
	char *list;
	struct fx f;

	fx_open(&f);
	fx_name("ign", name, sizeof(name));
	testgit_commit(name, "main", files, sha);
	in_work(name, "head -c 52428800 /dev/zero > big.bin");
	testgit_commit(name, "main", NULL, sha);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, sha);
	run_ok(&f, &s, &res);
	/* the 50 MB file stayed home: the whole body is small */
	ck_assert_uint_lt(sent_bytes(logbuf_str(&f.log), &nfiles), 64 * 1024);
	list = image_files(res.image);
	ck_assert_msg(strstr(list, "ctx/keep.log") != NULL, "%s", list);
	ck_assert_msg(strstr(list, "ctx/docs/README.md") != NULL, "%s", list);
	ck_assert_msg(strstr(list, "ctx/exported.txt") != NULL, "%s", list);
	ck_assert_msg(strstr(list, "ctx/Dockerfile") != NULL, "%s", list);
	ck_assert_msg(strstr(list, "ctx/.dockerignore") != NULL, "%s", list);
	ck_assert_msg(strstr(list, "big.bin") == NULL, "%s", list);
	ck_assert_msg(strstr(list, "a.log") == NULL, "%s", list);
	ck_assert_msg(strstr(list, ".env") == NULL, "%s", list);
	ck_assert_msg(strstr(list, "other.md") == NULL, "%s", list);
	ck_assert_msg(strstr(list, CONTEXT_DOCKERFILE) == NULL, "%s", list);
	/* files sent: Dockerfile, .dockerignore, .forja.Dockerfile, keep.log, README.md,
	 * .gitattributes, exported.txt */
	ck_assert_uint_eq(nfiles, 7);
	free(list);
	fx_close(&f);
}
END_TEST

START_TEST(test_exec_script_and_symlink_kept)
{
	char name[64], url[256], sha[41], dockerfile[512];
	struct build_result res;
	struct build_spec s;
	struct fx f;

	fx_open(&f);
	fx_name("modes", name, sizeof(name));
	snprintf(dockerfile, sizeof(dockerfile),
		 "FROM %s\nCOPY . /app/\n"
		 "RUN /app/run.sh %s && echo \"via-link: $(cat /app/link.txt)\" && "
		 "test -L /app/link.txt && stat -c 'mode=%%a' /app/run.sh /app/plain.txt\n",
		 base_image(), name);
	{
		const char *files[] = {
		    "Dockerfile", dockerfile, "target.txt",
		    "the target", "run.sh",   "#!/bin/sh\necho \"script ran for $1\"\n",
		    "plain.txt",  "plain\n",  NULL};

		testgit_commit(name, "main", files, sha);
	}
	in_work(name, "chmod 0755 run.sh && ln -s target.txt link.txt");
	testgit_commit(name, "main", NULL, sha);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, sha);
	run_ok(&f, &s, &res);
	{
		char want[128];

		snprintf(want, sizeof(want), "script ran for %s", name);
		ck_assert_msg(strstr(logbuf_str(&f.log), want) != NULL, "%s", logbuf_str(&f.log));
	}
	ck_assert_ptr_nonnull(strstr(logbuf_str(&f.log), "via-link: the target"));
	ck_assert_ptr_nonnull(strstr(logbuf_str(&f.log), "mode=755"));
	ck_assert_ptr_nonnull(strstr(logbuf_str(&f.log), "mode=644"));
	fx_close(&f);
}
END_TEST

START_TEST(test_submodule_in_context)
{
	char name[64], sub[64], url[256], suburl[256], sha[41], subsha[41], cmd[1024];
	const char *subfiles[] = {"lib.txt", "from the submodule\n", NULL};
	const char *files[] = {"app/Dockerfile", "FROM scratch\nCOPY vendor/lib/lib.txt /lib.txt\n",
			       NULL};
	struct build_result res;
	struct build_spec s;
	char *list;
	struct fx f;

	fx_open(&f);
	fx_name("sub", sub, sizeof(sub));
	fx_name("super", name, sizeof(name));
	testgit_commit(sub, "main", subfiles, subsha);
	testgit_url(sub, suburl, sizeof(suburl));
	testgit_commit(name, "main", files, sha);
	snprintf(cmd, sizeof(cmd), "git submodule --quiet add -b main '%s' app/vendor/lib", suburl);
	in_work(name, cmd);
	testgit_commit(name, "main", NULL, sha);
	/* a later commit of the submodule must not be what is built */
	{
		const char *later[] = {"lib.txt", "later\n", NULL};
		char later_sha[41];

		testgit_commit(sub, "main", later, later_sha);
	}
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, sha);
	s.context = "app";
	run_ok(&f, &s, &res);
	ck_assert_ptr_nonnull(strstr(logbuf_str(&f.log), "submodule vendor/lib"));
	list = image_files(res.image);
	ck_assert_msg(strstr(list, "lib.txt") != NULL, "%s", list);
	free(list);
	snprintf(cmd, sizeof(cmd),
		 "id=$(docker create '%s' /none) && docker cp \"$id\":/lib.txt - | tar -xO; "
		 "docker rm -f \"$id\" >/dev/null",
		 res.image);
	{
		char got[128];

		ck_assert_int_eq(fx_capture(cmd, got, sizeof(got)), 0);
		ck_assert_str_eq(got, "from the submodule");
	}
	fx_close(&f);
}
END_TEST

struct parallel {
	struct fx *f;
	struct build_spec spec;
	struct build_result res;
	int rc;
};

static void *build_thread(void *ud)
{
	struct parallel *p = ud;

	p->rc = builder_run(&p->f->env, &p->spec, NULL, NULL, &p->res);
	return NULL;
}

START_TEST(test_two_commits_of_one_repo_at_once)
{
	char name[64], url[256], sha1[41], sha2[41], v2[64], dockerfile[256];
	struct parallel a = {0}, b = {0};
	pthread_t ta, tb;
	struct fx f;

	fx_open(&f);
	fx_name("par", name, sizeof(name));
	snprintf(dockerfile, sizeof(dockerfile), "FROM scratch\nCOPY v.txt /v.txt\n");
	{
		const char *one[] = {"Dockerfile", dockerfile, "v.txt", "one", NULL};
		const char *two[] = {"v.txt", "two", NULL};

		testgit_commit(name, "main", one, sha1);
		testgit_commit(name, "main", two, sha2);
	}
	testgit_url(name, url, sizeof(url));
	snprintf(v2, sizeof(v2), "2.0");
	a.f = b.f = &f;
	a.spec = spec_for(name, url, sha1);
	b.spec = spec_for(name, url, sha2);
	b.spec.version = v2;
	ck_assert_int_eq(pthread_create(&ta, NULL, build_thread, &a), 0);
	ck_assert_int_eq(pthread_create(&tb, NULL, build_thread, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	ck_assert_msg(a.rc == 0, "%s", a.res.error);
	ck_assert_msg(b.rc == 0, "%s", b.res.error);
	ck_assert_str_eq(a.res.commit, sha1);
	ck_assert_str_eq(b.res.commit, sha2);
	ck_assert_str_ne(a.res.digest, b.res.digest);
	fx_close(&f);
}
END_TEST

START_TEST(test_damaged_cache_is_fetched_again)
{
	char name[64], url[256], sha1[41], sha2[41], cmd[1024];
	const char *one[] = {"Dockerfile", "FROM scratch\nCOPY v.txt /v.txt\n", "v.txt", "one",
			     NULL};
	const char *two[] = {"v.txt", "two", NULL};
	struct build_result res;
	struct build_spec s;
	struct fx f;

	fx_open(&f);
	fx_name("dmg", name, sizeof(name));
	testgit_commit(name, "main", one, sha1);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, sha1);
	run_ok(&f, &s, &res);
	/* the same commit again comes from the cache */
	logbuf_reset(&f.log);
	run_ok(&f, &s, &res);
	ck_assert_msg(strstr(logbuf_str(&f.log), "in the cache") != NULL, "%s", logbuf_str(&f.log));
	/* break every cache: objects and config gone */
	snprintf(cmd, sizeof(cmd),
		 "for d in '%s'/*.git; do rm -rf \"$d/objects\" && echo garbage > \"$d/config\"; "
		 "done",
		 f.cache_dir);
	fx_run(cmd);
	testgit_commit(name, "main", two, sha2);
	s = spec_for(name, url, sha2);
	s.version = "2.0";
	logbuf_reset(&f.log);
	run_ok(&f, &s, &res);
	ck_assert_str_eq(res.commit, sha2);
	ck_assert_msg(strstr(logbuf_str(&f.log), "is unusable") != NULL, "%s", logbuf_str(&f.log));
	fx_close(&f);
}
END_TEST

START_TEST(test_missing_parts_and_bad_pattern)
{
	char name[64], url[256], sha[41];
	const char *files[] = {"svc/Dockerfile", "FROM scratch\n", "svc/.dockerignore", "ok\n[\n",
			       NULL};
	struct build_result res;
	struct build_spec s;
	struct fx f;

	fx_open(&f);
	fx_name("bad", name, sizeof(name));
	testgit_commit(name, "main", files, sha);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, sha);
	s.context = "nope";
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, NULL, &res), FORJA_ENOTFOUND);
	ck_assert_msg(strstr(res.error, "context directory nope missing") != NULL, "%s", res.error);
	ck_assert_ptr_nonnull(strstr(res.error, url));
	s.context = "svc";
	s.dockerfile = "Dockerfile.prod";
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, NULL, &res), FORJA_ENOTFOUND);
	ck_assert_msg(strstr(res.error, "Dockerfile svc/Dockerfile.prod missing") != NULL, "%s",
		      res.error);
	s.dockerfile = NULL;
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, NULL, &res), FORJA_EINVAL);
	ck_assert_msg(strstr(res.error, "bad .dockerignore pattern") != NULL, "%s", res.error);
	fx_close(&f);
}
END_TEST

/* All reads of a checkout go through one cat-file batch: each answer stays in step with its
 * question, also after a refused one, and a cached commit is found by its ref, loose or packed. */
START_TEST(test_source_reads_through_one_batch)
{
	char name[64], url[256], sha[41], err[512] = "", type[16], cmd[1024];
	const char *files[] = {"Dockerfile", "FROM scratch\n",
			       "big.txt",    "0123456789012345678901234567890123456789",
			       "sub/x",	     "x\n",
			       NULL};
	struct source_checkout *co = NULL;
	char *text = NULL;
	size_t len = 0;
	struct fx f;

	fx_open(&f);
	fx_name("batch", name, sizeof(name));
	testgit_commit(name, "main", files, sha);
	testgit_url(name, url, sizeof(url));
	ck_assert_int_eq(source_fetch(f.source, url, sha, NULL, NULL, &co, err, sizeof(err)), 0);
	ck_assert(!source_checkout_was_cached(co));
	ck_assert_int_eq(source_read(co, sha, "Dockerfile", 1024, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "FROM scratch\n");
	ck_assert_uint_eq(len, 13);
	free(text);
	/* past the cap, then the next answer is still the right one */
	ck_assert_int_eq(source_read(co, sha, "big.txt", 8, &text, &len, NULL), FORJA_ETOOBIG);
	ck_assert_ptr_null(text);
	ck_assert_int_eq(source_read(co, sha, "sub/x", 1024, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "x\n");
	free(text);
	/* a tree is named (with TYPE) and never read as a blob */
	ck_assert_int_eq(source_read(co, sha, "sub", 0, &text, &len, type), 0);
	ck_assert_str_eq(type, "tree");
	ck_assert_ptr_null(text);
	ck_assert_int_eq(source_read(co, sha, "sub", 1024, &text, &len, NULL), FORJA_ENOTFOUND);
	ck_assert_int_eq(source_read(co, sha, "nope", 1024, &text, &len, NULL), FORJA_ENOTFOUND);
	ck_assert_int_eq(source_read(co, sha, "a\nDockerfile", 1024, &text, &len, NULL),
			 FORJA_ENOTFOUND);
	ck_assert_int_eq(source_read(co, sha, "big.txt", 1024, &text, &len, NULL), 0);
	ck_assert_uint_eq(len, 40);
	free(text);
	source_checkout_release(co);
	co = NULL;
	/* cached, with its ref loose and then packed */
	ck_assert_int_eq(source_fetch(f.source, url, sha, NULL, NULL, &co, err, sizeof(err)), 0);
	ck_assert(source_checkout_was_cached(co));
	snprintf(cmd, sizeof(cmd), "git -C '%s' pack-refs --all", source_checkout_dir(co));
	source_checkout_release(co);
	co = NULL;
	fx_run(cmd);
	ck_assert_int_eq(source_fetch(f.source, url, sha, NULL, NULL, &co, err, sizeof(err)), 0);
	ck_assert(source_checkout_was_cached(co));
	ck_assert_int_eq(source_read(co, sha, "Dockerfile", 1024, &text, &len, NULL), 0);
	free(text);
	source_checkout_release(co);
	fx_close(&f);
}
END_TEST

/* A cache keeps the newest commits only: after 24 fetches it is cut back to 16 refs in one
 * transaction and repacked, and what it kept still builds. */
START_TEST(test_old_refs_pruned)
{
	char name[64], url[256], sha[41], err[512] = "", cmd[1024], v[16];
	const char *files[] = {"Dockerfile", "FROM scratch\nCOPY v.txt /v.txt\n", "v.txt", v, NULL};
	struct source_checkout *co = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *p;
	int refs = -1, packs = -1;
	struct fx f;

	fx_open(&f);
	fx_name("prune", name, sizeof(name));
	testgit_url(name, url, sizeof(url));
	for (int i = 0; i < 24; i++) {
		snprintf(v, sizeof(v), "%d", i);
		testgit_commit(name, "main", files, sha);
		ck_assert_msg(source_fetch(f.source, url, sha, NULL, NULL, &co, err, sizeof(err)) ==
				  0,
			      "%s", err);
		if (i < 23)
			source_checkout_release(co);
	}
	snprintf(
	    cmd, sizeof(cmd),
	    "git -C '%s' for-each-ref refs/forja/c/ | wc -l; ls '%s'/objects/pack/*.pack | wc -l",
	    source_checkout_dir(co), source_checkout_dir(co));
	ck_assert_int_eq(source_read(co, sha, "v.txt", 64, &text, &len, NULL), 0);
	ck_assert_str_eq(text, "23");
	free(text);
	source_checkout_release(co);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(fscanf(p, "%d %d", &refs, &packs), 2);
	pclose(p);
	ck_assert_int_eq(refs, 16);
	ck_assert_int_eq(packs, 1);
	/* the commit just fetched is always kept (the others by date, which ties within a
	 * second), and a packed ref still counts as cached */
	ck_assert_int_eq(source_fetch(f.source, url, sha, NULL, NULL, &co, err, sizeof(err)), 0);
	ck_assert(source_checkout_was_cached(co));
	source_checkout_release(co);
	fx_close(&f);
}
END_TEST

START_TEST(test_labels_with_backtick_escape)
{
	char name[64], url[256], sha[41], cmd[1024], got[512];
	const char *files[] = {"Dockerfile", "# escape=`\nFROM scratch\nCOPY Dockerfile /x\n",
			       NULL};
	struct build_result res;
	struct build_spec s;
	struct fx f;

	fx_open(&f);
	fx_name("esc", name, sizeof(name));
	testgit_commit(name, "main", files, sha);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, sha);
	s.source = "https://example.test/a`b\"$HOME\\c";
	run_ok(&f, &s, &res);
	snprintf(cmd, sizeof(cmd),
		 "docker image inspect --format "
		 "'{{index .Config.Labels \"org.opencontainers.image.source\"}}' '%s'",
		 res.image);
	ck_assert_int_eq(fx_capture(cmd, got, sizeof(got)), 0);
	ck_assert_str_eq(got, s.source);
	fx_close(&f);
}
END_TEST

START_TEST(test_label_line_quoting)
{
	struct context_label l[] = {{"a", "x\"$y\\z"}, {"b", "p`q"}};
	char *plain = context_label_line("FROM scratch\n", 13, l, 2);
	char *tick = context_label_line("# escape=`\nFROM scratch\n", 24, l, 2);
	char *late = context_label_line("FROM scratch\n# escape=`\n", 24, l, 1);

	ck_assert_str_eq(plain, "LABEL a=\"x\\\"\\$y\\\\z\" b=\"p`q\"\n");
	ck_assert_str_eq(tick, "LABEL a=\"x`\"`$y\\z\" b=\"p``q\"\n");
	/* a directive after the first instruction is a comment */
	ck_assert_str_eq(late, "LABEL a=\"x\\\"\\$y\\\\z\"\n");
	free(plain);
	free(tick);
	free(late);
}
END_TEST

/* A git host that accepts connections and never answers: only the deadline ends the fetch. */
START_TEST(test_deadline_aborts_a_hung_fetch)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char url[128], cmd[256], out[64];
	struct build_result res;
	struct build_spec s;
	struct task_abort ab;
	int64_t t0;
	struct fx f;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	snprintf(url, sizeof(url), "git://127.0.0.1:%u/hung.git", ntohs(sa.sin_port));
	fx_open(&f);
	s = spec_for("hung", url, "0123456789abcdef0123456789abcdef01234567");
	t0 = deadline_now_ms();
	ab = (struct task_abort){.deadline_ms = t0 + 1500};
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, &ab, &res), FORJA_ETIMEDOUT);
	ck_assert_int_lt(deadline_now_ms() - t0, 10000);
	ck_assert_msg(strstr(res.error, "timed out") != NULL, "%s", res.error);
	/* and no git process of ours is left talking to it */
	snprintf(cmd, sizeof(cmd),
		 "ps -eo comm=,args= | awk '$1 ~ /^git/ && /127.0.0.1:%u/' | wc -l",
		 ntohs(sa.sin_port));
	ck_assert_int_eq(fx_capture(cmd, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "0");
	close(fd);
	fx_close(&f);
}
END_TEST

static Suite *context_suite(void)
{
	Suite *s = suite_create("context");
	TCase *tc = tcase_create("contexts");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_label_line_quoting);
	tcase_add_test(tc, test_dockerignore_applied_and_big_file_not_sent);
	tcase_add_test(tc, test_exec_script_and_symlink_kept);
	tcase_add_test(tc, test_submodule_in_context);
	tcase_add_test(tc, test_two_commits_of_one_repo_at_once);
	tcase_add_test(tc, test_damaged_cache_is_fetched_again);
	tcase_add_test(tc, test_missing_parts_and_bad_pattern);
	tcase_add_test(tc, test_source_reads_through_one_batch);
	tcase_add_test(tc, test_old_refs_pruned);
	tcase_add_test(tc, test_labels_with_backtick_escape);
	tcase_add_test(tc, test_deadline_aborts_a_hung_fetch);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(context_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
