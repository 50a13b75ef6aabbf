/* The build method against a real engine, registry and git daemon: builds pinned to commits,
 * pushes checked in the registry, and every way a build can fail or be stopped. */
#include "docker_fixture.h"

static const char *base_image(void)
{
	return testenv_need("FORJA_TEST_BASE_IMAGE");
}

/* Commits FILES to a fresh repository named NAME (branch main); SHA gets the commit. */
static void fresh_repo(const char *name, const char *const *files, char *sha)
{
	testgit_commit(name, "main", files, sha);
}

static struct build_spec spec_for(const char *name, const char *url, const char *ref)
{
	struct build_spec s = {.service = name, .version = "1.0", .git_url = url, .ref = ref};

	return s;
}

static void assert_label(const char *image, const char *label, const char *want)
{
	char cmd[1024], got[256];

	snprintf(cmd, sizeof(cmd),
		 "docker image inspect --format '{{index .Config.Labels \"%s\"}}' '%s'", label,
		 image);
	ck_assert_int_eq(fx_capture(cmd, got, sizeof(got)), 0);
	ck_assert_str_eq(got, want);
}

START_TEST(test_engine_ping_negotiates)
{
	struct fx f;
	char err[256];
	const char *v;
	long minor;

	fx_open(&f);
	ck_assert_ptr_null(engine_api_version(f.engine));
	ck_assert_int_eq(engine_ping(f.engine, err, sizeof(err)), 0);
	v = engine_api_version(f.engine);
	ck_assert_ptr_nonnull(v);
	ck_assert_msg(!strncmp(v, "1.", 2), "version %s", v);
	{
		char *end;

		minor = strtol(v + 2, &end, 10);
		ck_assert_msg(end != v + 2 && *end == '\0', "version %s", v);
	}
	/* newest Forja speaks is 1.43; this engine's own maximum caps it */
	ck_assert_int_le(minor, 43);
	ck_assert_int_ge(minor, 24);
	fx_close(&f);
}
END_TEST

START_TEST(test_build_push_and_check_digest)
{
	char name[64], url[256], sha[41], digest[80], cmd[1024], out[256];
	const char *files[] = {"Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n",
			       "hello.txt", "hello from forja\n", NULL};
	struct build_result res;
	struct build_spec s;
	struct fx f;
	char err[256];
	int rc;

	fx_open(&f);
	fx_name("ok", name, sizeof(name));
	fresh_repo(name, files, sha);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, "main");
	s.type = "Docker";
	rc = builder_run(&f.env, &s, &f.elog, NULL, &res);
	ck_assert_msg(rc == 0, "build failed: %s\nlog:\n%s", res.error, logbuf_str(&f.log));
	ck_assert_str_eq(res.commit, sha); /* the branch was pinned to its commit */
	snprintf(out, sizeof(out), "%s/%s:1.0", f.reg_host, name);
	ck_assert_str_eq(res.image, out);
	ck_assert_msg(!strncmp(res.digest, "sha256:", 7) && strlen(res.digest) == 71, "%s",
		      res.digest);
	ck_assert_ptr_nonnull(strstr(logbuf_str(&f.log), " : COPY hello.txt /hello.txt\n"));
	ck_assert_ptr_nonnull(strstr(logbuf_str(&f.log), "resolved main to "));

	/* the registry serves that tag at exactly that digest */
	ck_assert_int_eq(
	    registry_manifest_digest(f.registry, name, "1.0", digest, err, sizeof(err)), 0);
	ck_assert_str_eq(digest, res.digest);

	/* the OCI labels name the commit, the source and the version */
	assert_label(res.image, "org.opencontainers.image.revision", sha);
	assert_label(res.image, "org.opencontainers.image.source", url);
	assert_label(res.image, "org.opencontainers.image.version", "1.0");

	/* and a pull by digest works from a clean state */
	snprintf(cmd, sizeof(cmd), "docker rmi -f '%s' >/dev/null && docker pull -q '%s/%s@%s'",
		 res.image, f.reg_host, name, res.digest);
	ck_assert_int_eq(fx_capture(cmd, out, sizeof(out)), 0);
	snprintf(cmd, sizeof(cmd), "%s/%s@%s", f.reg_host, name, res.digest);
	ck_assert_str_eq(out, cmd);
	snprintf(cmd, sizeof(cmd), "docker rmi -f '%s/%s@%s' >/dev/null", f.reg_host, name,
		 res.digest);
	fx_run(cmd);
	fx_close(&f);
}
END_TEST

START_TEST(test_build_non_tip_commit_by_sha)
{
	char name[64], url[256], sha1[41], sha2[41], dockerfile[256];
	struct build_result res;
	struct build_spec s;
	struct fx f;
	int rc;

	fx_open(&f);
	fx_name("sha", name, sizeof(name));
	/* the name makes the steps unique, so no build cache hides the RUN output */
	snprintf(dockerfile, sizeof(dockerfile),
		 "FROM %s\nCOPY msg.txt /msg.txt\nRUN echo \"%s content: $(cat /msg.txt)\"\n",
		 base_image(), name);
	{
		const char *one[] = {"Dockerfile", dockerfile, "msg.txt", "commit-one", NULL};
		const char *two[] = {"msg.txt", "commit-two", NULL};

		fresh_repo(name, one, sha1);
		fresh_repo(name, two, sha2);
	}
	ck_assert_str_ne(sha1, sha2);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, sha1); /* not a ref tip any more */
	rc = builder_run(&f.env, &s, &f.elog, NULL, &res);
	ck_assert_msg(rc == 0, "build failed: %s\nlog:\n%s", res.error, logbuf_str(&f.log));
	ck_assert_str_eq(res.commit, sha1);
	ck_assert_ptr_nonnull(strstr(logbuf_str(&f.log), "content: commit-one"));
	ck_assert_ptr_null(strstr(logbuf_str(&f.log), "commit-two"));
	assert_label(res.image, "org.opencontainers.image.revision", sha1);
	fx_close(&f);
}
END_TEST

START_TEST(test_build_context_subdir_and_args)
{
	char name[64], url[256], sha[41], dockerfile[256], digest[80], err[256];
	struct build_result res;
	struct build_spec s;
	json_t *args = json_pack("{s:s}", "GREETING", "hi there & <friends>");
	struct fx f;
	int rc;

	fx_open(&f);
	fx_name("ctx", name, sizeof(name));
	snprintf(dockerfile, sizeof(dockerfile),
		 "FROM %s\nARG GREETING=unset\nCOPY part.txt /part.txt\n"
		 "RUN echo \"%s greeting=$GREETING part=$(cat /part.txt)\"\n",
		 base_image(), name);
	{
		const char *files[] = {"svc/build/Dockerfile.ci",
				       dockerfile,
				       "svc/part.txt",
				       "sub-context",
				       "Dockerfile",
				       "FROM scratch\n",
				       NULL};

		fresh_repo(name, files, sha);
	}
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, sha);
	s.context = "svc";
	s.dockerfile = "build/Dockerfile.ci";
	s.build_args = args;
	s.version = "2.0-rc.1";
	/* a label value that a Dockerfile would otherwise expand or cut */
	s.source = "https://example.test/o/r.git?x=\"$HOME\"\\";
	rc = builder_run(&f.env, &s, &f.elog, NULL, &res);
	ck_assert_msg(rc == 0, "build failed: %s\nlog:\n%s", res.error, logbuf_str(&f.log));
	assert_label(res.image, "org.opencontainers.image.source", s.source);
	assert_label(res.image, "org.opencontainers.image.revision", sha);
	assert_label(res.image, "org.opencontainers.image.version", "2.0-rc.1");
	ck_assert_ptr_nonnull(
	    strstr(logbuf_str(&f.log), "greeting=hi there & <friends> part=sub-context"));
	ck_assert_int_eq(
	    registry_manifest_digest(f.registry, name, "2.0-rc.1", digest, err, sizeof(err)), 0);
	ck_assert_str_eq(digest, res.digest);
	json_decref(args);
	fx_close(&f);
}
END_TEST

START_TEST(test_failing_run)
{
	char name[64], url[256], sha[41], dockerfile[256], digest[80], err[256], cmd[700], out[64];
	struct build_result res;
	struct build_spec s;
	struct fx f;
	int rc;

	fx_open(&f);
	fx_name("failrun", name, sizeof(name));
	snprintf(dockerfile, sizeof(dockerfile),
		 "FROM %s\nRUN echo %s\nRUN echo about-to-fail && exit 3\n", base_image(), name);
	{
		const char *files[] = {"Dockerfile", dockerfile, NULL};

		fresh_repo(name, files, sha);
	}
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, "main");
	rc = builder_run(&f.env, &s, &f.elog, NULL, &res);
	ck_assert_int_eq(rc, FORJA_EUPSTREAM);
	ck_assert_msg(strstr(res.error, "returned a non-zero code: 3") != NULL, "%s", res.error);
	ck_assert_str_eq(res.digest, "");
	/* the log keeps the engine's own words and the output before the failure */
	ck_assert_ptr_nonnull(strstr(logbuf_str(&f.log), "about-to-fail\n"));
	ck_assert_ptr_nonnull(strstr(logbuf_str(&f.log), "returned a non-zero code: 3"));
	/* nothing was pushed or tagged */
	ck_assert_int_eq(
	    registry_manifest_digest(f.registry, name, "1.0", digest, err, sizeof(err)),
	    FORJA_ENOTFOUND);
	snprintf(cmd, sizeof(cmd), "docker image inspect '%s' >/dev/null 2>&1; echo $?", res.image);
	fx_capture(cmd, out, sizeof(out));
	ck_assert_str_ne(out, "0");
	fx_close(&f);
}
END_TEST

START_TEST(test_missing_dockerfile)
{
	char name[64], url[256], sha[41];
	const char *files[] = {"README", "no dockerfile here\n", NULL};
	struct build_result res;
	struct build_spec s;
	struct fx f;

	fx_open(&f);
	fx_name("nodf", name, sizeof(name));
	fresh_repo(name, files, sha);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, sha);
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, NULL, &res), FORJA_ENOTFOUND);
	ck_assert_msg(strstr(res.error, "Dockerfile Dockerfile missing") != NULL, "%s", res.error);
	ck_assert_msg(strstr(res.error, url) != NULL, "%s", res.error);
	ck_assert_str_eq(res.digest, "");
	fx_close(&f);
}
END_TEST

START_TEST(test_unknown_commit_and_ref)
{
	char name[64], url[256], sha[41];
	const char *files[] = {"Dockerfile", "FROM scratch\nCOPY Dockerfile /x\n", NULL};
	struct build_result res;
	struct build_spec s;
	struct fx f;

	fx_open(&f);
	fx_name("unk", name, sizeof(name));
	fresh_repo(name, files, sha);
	testgit_url(name, url, sizeof(url));
	/* a full sha nobody has: the fetch says so */
	s = spec_for(name, url, "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef");
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, NULL, &res), FORJA_ENOTFOUND);
	ck_assert_msg(strstr(res.error, "commit not found") != NULL, "%s", res.error);
	ck_assert_msg(strstr(res.error, "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef") != NULL, "%s",
		      res.error);
	ck_assert_str_eq(res.digest, "");
	/* a branch that does not exist fails before the engine is asked */
	s = spec_for(name, url, "no-such-branch");
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, NULL, &res), FORJA_ENOTFOUND);
	ck_assert_msg(strstr(res.error, "ref 'no-such-branch' not found at") != NULL, "%s",
		      res.error);
	/* so does a repository that does not exist */
	testgit_url("no-such-repo", url, sizeof(url));
	s = spec_for(name, url, "main");
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, NULL, &res), FORJA_EUPSTREAM);
	ck_assert_msg(strstr(res.error, "cannot list refs of") != NULL, "%s", res.error);
	fx_close(&f);
}
END_TEST

START_TEST(test_tag_ref_is_peeled)
{
	char name[64], url[256], sha[41], cmd[1024];
	const char *files[] = {"Dockerfile", "FROM scratch\nCOPY Dockerfile /x\n", NULL};
	struct build_result res;
	struct fx f;

	fx_open(&f);
	fx_name("tag", name, sizeof(name));
	fresh_repo(name, files, sha);
	/* an annotated tag: its own object id is not the commit */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s/.work/%s' && git tag -a v1 -m v1 && git push -q '%s/%s.git' v1",
		 testenv_need("FORJA_TEST_GIT_DIR"), name, testenv_need("FORJA_TEST_GIT_DIR"),
		 name);
	fx_run(cmd);
	testgit_url(name, url, sizeof(url));
	ck_assert_int_eq(
	    source_resolve(f.source, url, "v1", NULL, res.commit, res.error, sizeof(res.error)), 0);
	ck_assert_str_eq(res.commit, sha);
	ck_assert_int_eq(source_resolve(f.source, url, "refs/heads/main", NULL, res.commit,
					res.error, sizeof(res.error)),
			 0);
	ck_assert_str_eq(res.commit, sha);
	/* a short sha cannot be pinned */
	sha[8] = '\0';
	ck_assert_int_eq(
	    source_resolve(f.source, url, sha, NULL, res.commit, res.error, sizeof(res.error)),
	    FORJA_ENOTFOUND);
	fx_close(&f);
}
END_TEST

struct killer {
	struct testreg *reg;
};

static void kill_registry(void *ud)
{
	struct killer *k = ud;

	testreg_kill(k->reg);
}

START_TEST(test_registry_down_during_push)
{
	char name[64], url[256], sha[41];
	const char *files[] = {"Dockerfile", "FROM scratch\nCOPY data.txt /data.txt\n", "data.txt",
			       "push me\n", NULL};
	struct testreg reg;
	struct killer k = {&reg};
	struct build_result res;
	struct build_spec s;
	struct fx f;
	int rc;

	testreg_start(&reg, NULL, NULL, 0);
	fx_open_at(&f, reg.host, reg.url, NULL, NULL, NULL);
	/* the registry goes away right after the image is built, as the push starts */
	f.log.trigger = "pushing ";
	f.log.on_trigger = kill_registry;
	f.log.ud = &k;
	fx_name("down", name, sizeof(name));
	fresh_repo(name, files, sha);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, "main");
	rc = builder_run(&f.env, &s, &f.elog, NULL, &res);
	ck_assert_int_eq(f.log.fired, 1);
	ck_assert_int_eq(rc, FORJA_EUPSTREAM);
	ck_assert_msg(strstr(res.error, "push failed") && strstr(res.error, "connection refused"),
		      "%s", res.error);
	ck_assert_str_eq(res.digest, "");
	ck_assert_ptr_null(strstr(logbuf_str(&f.log), "pushed "));
	fx_close(&f);
	testreg_stop(&reg);
}
END_TEST

START_TEST(test_registry_with_htpasswd)
{
	char name[64], url[256], sha[41], digest[80], err[512];
	const char *files[] = {"Dockerfile", "FROM scratch\nCOPY data.txt /data.txt\n", "data.txt",
			       "private\n", NULL};
	const char *pass = "p?>p?>s3cret~~";
	struct testreg reg;
	struct build_result res;
	struct build_spec s;
	struct fx f;
	char **names = NULL;
	size_t n = 0;
	int rc;

	testreg_start(&reg, "ci", pass, 0);
	fx_name("auth", name, sizeof(name));
	fresh_repo(name, files, sha);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, "main");

	/* right password: built, pushed, checked through the authenticated registry API */
	fx_open_at(&f, reg.host, reg.url, "ci", pass, NULL);
	rc = builder_run(&f.env, &s, &f.elog, NULL, &res);
	ck_assert_msg(rc == 0, "build failed: %s\nlog:\n%s", res.error, logbuf_str(&f.log));
	ck_assert_int_eq(
	    registry_manifest_digest(f.registry, name, "1.0", digest, err, sizeof(err)), 0);
	ck_assert_str_eq(digest, res.digest);
	ck_assert_int_eq(registry_catalog(f.registry, 0, &names, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(names[0], name);
	registry_strings_free(names, n);
	fx_close(&f);

	/* wrong password: the push is refused, and so is the registry API */
	fx_open_at(&f, reg.host, reg.url, "ci", "wrong", NULL);
	s.version = "2.0";
	rc = builder_run(&f.env, &s, &f.elog, NULL, &res);
	ck_assert_int_eq(rc, FORJA_EAUTH);
	ck_assert_msg(strstr(res.error, "unauthorized") != NULL, "%s", res.error);
	ck_assert_str_eq(res.digest, "");
	ck_assert_int_eq(registry_catalog(f.registry, 0, &names, &n, err, sizeof(err)),
			 FORJA_EAUTH);
	fx_close(&f);
	testreg_stop(&reg);
}
END_TEST

START_TEST(test_catalog_pages_and_tags)
{
	char base[64], url[256], sha[41], err[256], svc[5][80];
	const char *files[] = {"Dockerfile", "FROM scratch\nCOPY Dockerfile /x\n", NULL};
	const char *versions[] = {"2", "10", "1"};
	struct testreg reg;
	struct build_result res;
	struct build_spec s;
	struct fx f;
	char **names = NULL, **tags = NULL;
	size_t n = 0;

	testreg_start(&reg, NULL, NULL, 0);
	fx_open_at(&f, reg.host, reg.url, NULL, NULL, NULL);
	fx_name("cat", base, sizeof(base));
	fresh_repo(base, files, sha);
	testgit_url(base, url, sizeof(url));
	/* five repositories: three pages of two */
	for (int i = 0; i < 5; i++) {
		snprintf(svc[i], sizeof(svc[i]), "team/%s-%d", base, 4 - i);
		s = spec_for(svc[i], url, sha);
		ck_assert_msg(builder_run(&f.env, &s, NULL, NULL, &res) == 0, "%s", res.error);
	}
	for (int i = 1; i < 3; i++) {
		s = spec_for(svc[0], url, sha);
		s.version = versions[i - 1];
		ck_assert_msg(builder_run(&f.env, &s, NULL, NULL, &res) == 0, "%s", res.error);
	}
	ck_assert_int_eq(registry_catalog(f.registry, 2, &names, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 5);
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(names[i], svc[4 - i]);
	registry_strings_free(names, n);
	/* page size larger than the catalog, and registry default */
	ck_assert_int_eq(registry_catalog(f.registry, 100, &names, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 5);
	registry_strings_free(names, n);

	ck_assert_int_eq(registry_tags(f.registry, svc[0], &tags, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(tags[0], "1.0");
	ck_assert_str_eq(tags[1], "10");
	ck_assert_str_eq(tags[2], "2");
	registry_strings_free(tags, n);
	ck_assert_int_eq(registry_tags(f.registry, "no/such", &tags, &n, err, sizeof(err)),
			 FORJA_ENOTFOUND);
	ck_assert_int_eq(registry_tags(f.registry, "../etc", &tags, &n, err, sizeof(err)),
			 FORJA_EINVAL);
	fx_close(&f);
	testreg_stop(&reg);
}
END_TEST

START_TEST(test_tls_registry_with_ca_file)
{
	char ca[256], err[512], digest[80];
	struct testreg reg;
	struct registry *r = NULL;
	struct registry_opts o = {.timeout_s = 5};
	char **names = NULL;
	size_t n = 0;

	testreg_start(&reg, "ci", "tls-secret", 1);
	snprintf(ca, sizeof(ca), "%s/cert.pem", reg.dir);
	o.url = reg.url;
	o.username = "ci";
	o.password = "tls-secret";
	/* without the CA the certificate is not trusted */
	ck_assert_int_eq(registry_new(&o, &r), 0);
	ck_assert_int_eq(registry_ping(r, err, sizeof(err)), FORJA_EUNAVAILABLE);
	ck_assert_msg(strstr(err, "registry not reachable at https://") != NULL, "%s", err);
	registry_free(r);
	o.ca_file = ca;
	ck_assert_int_eq(registry_new(&o, &r), 0);
	ck_assert_int_eq(registry_ping(r, err, sizeof(err)), 0);
	ck_assert_int_eq(registry_catalog(r, 2, &names, &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 0);
	registry_strings_free(names, n);
	ck_assert_int_eq(registry_manifest_digest(r, "none", "1", digest, err, sizeof(err)),
			 FORJA_ENOTFOUND);
	registry_free(r);
	o.password = "wrong";
	ck_assert_int_eq(registry_new(&o, &r), 0);
	ck_assert_int_eq(registry_ping(r, err, sizeof(err)), FORJA_EAUTH);
	registry_free(r);
	testreg_stop(&reg);
}
END_TEST

START_TEST(test_ami_is_not_built)
{
	struct build_result res;
	struct build_spec s = spec_for("svc", "git://127.0.0.1/x.git", "main");
	struct fx f;

	fx_open(&f);
	s.type = "AMI";
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, NULL, &res), FORJA_EUNSUPPORTED);
	ck_assert_str_eq(res.error,
			 "artifact type 'AMI' is not supported: Forja builds Docker images");
	s.type = "ami";
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, NULL, &res), FORJA_EUNSUPPORTED);
	ck_assert_str_eq(res.error,
			 "artifact type 'AMI' is not supported: Forja builds Docker images");
	/* the engine was never spoken to */
	ck_assert_ptr_null(engine_api_version(f.engine));
	fx_close(&f);
}
END_TEST

struct canceller {
	atomic_int flag;
	int64_t at; /* when the flag was set */
};

static void set_cancel(void *ud)
{
	struct canceller *c = ud;

	c->at = fx_now_ms();
	atomic_store(&c->flag, 1);
}

static void assert_no_leftovers(const char *image, const char *nonce)
{
	char cmd[700], out[256];

	snprintf(cmd, sizeof(cmd), "docker image inspect '%s' >/dev/null 2>&1; echo $?", image);
	fx_capture(cmd, out, sizeof(out));
	ck_assert_str_ne(out, "0");
	/* the build container was removed by the engine (polled: removal is asynchronous) */
	for (int64_t deadline = fx_now_ms() + 10000;; usleep(100000)) {
		snprintf(cmd, sizeof(cmd),
			 "docker ps -a --no-trunc --format '{{.Command}}' | grep -c '%s' || true",
			 nonce);
		fx_capture(cmd, out, sizeof(out));
		if (!strcmp(out, "0"))
			break;
		ck_assert_msg(fx_now_ms() < deadline, "build container still there");
	}
}

START_TEST(test_cancel_mid_build)
{
	char name[64], url[256], sha[41], dockerfile[256], nonce[80];
	struct build_result res;
	struct build_spec s;
	struct canceller cancel = {0};
	struct task_abort ab = {.cancel = &cancel.flag};
	struct fx f;
	int64_t took;
	int rc;

	fx_open(&f);
	fx_name("cancel", name, sizeof(name));
	snprintf(nonce, sizeof(nonce), "nonce-%s", name);
	snprintf(dockerfile, sizeof(dockerfile),
		 "FROM %s\nRUN echo %s && echo start-sleep && sleep 30 && echo done-sleep\n",
		 base_image(), nonce);
	{
		const char *files[] = {"Dockerfile", dockerfile, NULL};

		fresh_repo(name, files, sha);
	}
	testgit_url(name, url, sizeof(url));
	f.log.trigger = "start-sleep\n";
	f.log.on_trigger = set_cancel;
	f.log.ud = &cancel;
	s = spec_for(name, url, "main");
	rc = builder_run(&f.env, &s, &f.elog, &ab, &res);
	took = fx_now_ms() - cancel.at;
	ck_assert_int_eq(f.log.fired, 1);
	ck_assert_int_eq(rc, FORJA_ECANCELLED);
	/* the transfer is dropped at the next progress tick (about a second at most) */
	ck_assert_msg(took < 3000, "cancel took %lld ms", (long long)took);
	printf("cancel: builder_run returned %lld ms after the cancel flag was set\n",
	       (long long)took);
	ck_assert_ptr_null(strstr(logbuf_str(&f.log), "\ndone-sleep\n"));
	assert_no_leftovers(res.image, nonce);
	fx_close(&f);
}
END_TEST

START_TEST(test_deadline_mid_build)
{
	char name[64], url[256], sha[41], dockerfile[256], nonce[80];
	struct build_result res;
	struct build_spec s;
	struct task_abort ab = {0};
	struct fx f;
	int64_t t0;
	int rc;

	fx_open(&f);
	fx_name("deadline", name, sizeof(name));
	snprintf(nonce, sizeof(nonce), "nonce-%s", name);
	snprintf(dockerfile, sizeof(dockerfile), "FROM %s\nRUN echo %s && sleep 30\n", base_image(),
		 nonce);
	{
		const char *files[] = {"Dockerfile", dockerfile, NULL};

		fresh_repo(name, files, sha);
	}
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, sha);
	t0 = fx_now_ms();
	ab.deadline_ms = t0 + 3000;
	rc = builder_run(&f.env, &s, &f.elog, &ab, &res);
	ck_assert_int_eq(rc, FORJA_ETIMEDOUT);
	ck_assert_msg(fx_now_ms() - t0 < 8000, "timeout took %lld ms",
		      (long long)(fx_now_ms() - t0));
	assert_no_leftovers(res.image, nonce);
	fx_close(&f);
}
END_TEST

START_TEST(test_engine_unreachable_is_clear)
{
	struct build_result res;
	char name[64], url[256], sha[41];
	const char *files[] = {"Dockerfile", "FROM scratch\nCOPY Dockerfile /x\n", NULL};
	struct build_spec s;
	struct fx f;

	fx_open(&f);
	engine_free(f.engine);
	ck_assert_int_eq(engine_new("unix:///nonexistent/docker.sock", &f.engine), 0);
	f.env.engine = f.engine;
	fx_name("unreach", name, sizeof(name));
	fresh_repo(name, files, sha);
	testgit_url(name, url, sizeof(url));
	s = spec_for(name, url, "main");
	ck_assert_int_eq(builder_run(&f.env, &s, &f.elog, NULL, &res), FORJA_EUNAVAILABLE);
	ck_assert_msg(
	    !strncmp(res.error,
		     "docker engine not reachable at unix:///nonexistent/docker.sock: ", 64),
	    "%s", res.error);
	fx_close(&f);
}
END_TEST

static Suite *docker_suite(void)
{
	Suite *s = suite_create("docker");
	TCase *tc = tcase_create("builds");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_engine_ping_negotiates);
	tcase_add_test(tc, test_build_push_and_check_digest);
	tcase_add_test(tc, test_build_non_tip_commit_by_sha);
	tcase_add_test(tc, test_build_context_subdir_and_args);
	tcase_add_test(tc, test_failing_run);
	tcase_add_test(tc, test_missing_dockerfile);
	tcase_add_test(tc, test_unknown_commit_and_ref);
	tcase_add_test(tc, test_tag_ref_is_peeled);
	tcase_add_test(tc, test_registry_down_during_push);
	tcase_add_test(tc, test_registry_with_htpasswd);
	tcase_add_test(tc, test_catalog_pages_and_tags);
	tcase_add_test(tc, test_tls_registry_with_ca_file);
	tcase_add_test(tc, test_ami_is_not_built);
	tcase_add_test(tc, test_cancel_mid_build);
	tcase_add_test(tc, test_deadline_mid_build);
	tcase_add_test(tc, test_engine_unreachable_is_clear);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(docker_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
