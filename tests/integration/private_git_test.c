/* Private repositories end to end: a signed merged-PR webhook builds from an authenticated
 * smart-HTTP git server (GitHub-style token) and from sshd (deploy key), the images reach the
 * registry, and no credential shows up anywhere Forja writes or shows: the build log, the
 * history (API and SQLite file), error text, the image (history and labels), or `ps`. */
#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "github_standin.h"
#include "testenv.h"
#include "testgit.h"
#include "testhook.h"

#define SECRET "whsec-private-e2e"

static void run(const char *cmd)
{
	int rc = system(cmd);

	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

/* Everything a shell command prints, malloc'ed. */
static char *capture(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	char *out = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&out, &len);
	int c;

	ck_assert_ptr_nonnull(p);
	while ((c = fgetc(p)) != EOF)
		fputc(c, m);
	fclose(m);
	pclose(p);
	return out;
}

/* One line of the private key's body: what would leak if the key's contents did. */
static void key_marker(char *buf, size_t len)
{
	FILE *f = fopen(testenv_need("FORJA_TEST_SSH_GIT_KEY"), "r");
	char line[256];

	ck_assert_ptr_nonnull(f);
	buf[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "-----", 5) && strlen(line) > 40) {
			snprintf(buf, len, "%.40s", line);
			break;
		}
	fclose(f);
	ck_assert_msg(buf[0], "no key body found");
}

/*
 * Commits FILES to a fresh repository NAME through the git daemon's work tree helper, then
 * pushes it as branch develop into ROOT/PATH (a bare repository made there). SHA gets it.
 */
static void private_repo(const char *root, const char *path, const char *name,
			 const char *const *files, char *sha)
{
	char cmd[2048];

	testgit_commit(name, "develop", files, sha);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p \"$(dirname '%s/%s')\" && git init -q --bare '%s/%s' && "
		 "git -C '%s/.work/%s' push -q '%s/%s' develop:refs/heads/develop",
		 root, path, root, path, testenv_need("FORJA_TEST_GIT_DIR"), name, root, path);
	run(cmd);
}

struct ps_watch {
	pthread_t th;
	atomic_int stop;
	const char *needles[3];
	atomic_int seen; /* a needle showed up in `ps` */
	int samples;
};

static void *ps_loop(void *ud)
{
	struct ps_watch *w = ud;

	while (!atomic_load(&w->stop)) {
		char *out = capture("ps -eo args= 2>/dev/null");

		for (size_t i = 0; i < 3 && w->needles[i]; i++)
			if (strstr(out, w->needles[i]))
				atomic_store(&w->seen, 1);
		free(out);
		w->samples++;
		usleep(5000);
	}
	return NULL;
}

struct ctx {
	struct testenv t;
	struct github_standin *gh;
	char name[96];
	char full_name[128];
	char clone_url[512];
	char ssh_url[512]; /* "" = none in the payload */
	char sha[41];
};

static void start(struct ctx *c, const char *const *extra)
{
	char api[160];
	const char *args[12];
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	testenv_need("FORJA_TEST_REGISTRY");
	c->gh = github_standin_start();
	snprintf(api, sizeof(api), "--github-api-url=%s", github_standin_url(c->gh));
	args[n++] = api;
	args[n++] = "--webhook-secret=" SECRET;
	for (size_t i = 0; extra[i] && n < 11; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	testenv_start(&c->t, args);
}

static void stop(struct ctx *c)
{
	testenv_stop(&c->t);
	github_standin_stop(c->gh);
}

static void serve_manifest(struct ctx *c, const char *const *files)
{
	for (size_t i = 0; files[i] && files[i + 1]; i += 2)
		github_standin_put_file(c->gh, c->full_name, files[i], c->sha, files[i + 1]);
}

/* Signs and delivers the merged-PR payload; returns the one build's final JSON. */
static json_t *deliver_and_wait(struct ctx *c, const char *delivery)
{
	struct testhook_repo r = {c->clone_url, c->full_name, c->name, c->sha,
				  c->ssh_url[0] ? c->ssh_url : NULL};
	json_t *builds = testhook_deliver_signed(c->t.base_url, &r, delivery, SECRET);
	json_t *b;

	ck_assert_uint_eq(json_array_size(builds), 1);
	b = testhook_wait_final(
	    c->t.base_url, json_integer_value(json_object_get(json_array_get(builds, 0), "id")),
	    300);
	json_decref(builds);
	return b;
}

static char *get_text(struct ctx *c, const char *path)
{
	char url[256];
	struct http_resp r;
	char *out;

	snprintf(url, sizeof(url), "%s%s", c->t.base_url, path);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 200, "GET %s: %ld", path, r.status);
	out = strdup(r.body);
	http_resp_free(&r);
	return out;
}

/* NEEDLE appears in none of the places Forja writes or shows for build B of image IMAGE. */
static void assert_nowhere(struct ctx *c, json_t *b, const char *needle)
{
	char path[128], cmd[1024];
	char *text;
	long long id = (long long)json_integer_value(json_object_get(b, "id"));
	/* only a built image has a history and labels to look at */
	const char *image = json_string_value(json_object_get(b, "digest"))
				? json_string_value(json_object_get(b, "image"))
				: NULL;

	snprintf(path, sizeof(path), "/builds/%lld/log", id);
	text = get_text(c, path);
	ck_assert_msg(strstr(text, needle) == NULL, "secret in the build log");
	free(text);
	text = get_text(c, "/builds");
	ck_assert_msg(strstr(text, needle) == NULL, "secret in GET /builds");
	free(text);
	text = json_dumps(b, 0);
	ck_assert_msg(strstr(text, needle) == NULL, "secret in the build");
	free(text);
	/* the history's files, whatever they are named */
	snprintf(cmd, sizeof(cmd), "grep -rlaF -e '%s' '%s' 2>/dev/null | grep -v '/git/' || true",
		 needle, c->t.data_dir);
	text = capture(cmd);
	ck_assert_msg(text[0] == '\0', "secret in the data directory: %s", text);
	free(text);
	if (image) {
		snprintf(cmd, sizeof(cmd), "docker history --no-trunc '%s'; docker inspect '%s'",
			 image, image);
		text = capture(cmd);
		ck_assert_msg(strstr(text, needle) == NULL, "secret in the image");
		ck_assert_msg(strstr(text, "org.opencontainers.image.source") != NULL,
			      "no labels?\n%s", text);
		free(text);
	}
}

static const char *const FILES_FMT[] = {"Dockerfile",  "FROM scratch\nCOPY hello.txt /hello.txt\n",
					"hello.txt",   NULL,
					"images.json", NULL,
					NULL};

static void make_files(const char *service, char *hello, size_t hl, char *manifest, size_t ml,
		       const char **files)
{
	snprintf(hello, hl, "private hello for %s\n", service);
	snprintf(manifest, ml, "[{\"service_name\": \"%s\", \"version\": \"1.0.0\"}]\n", service);
	memcpy(files, FILES_FMT, sizeof(FILES_FMT));
	files[3] = hello;
	files[5] = manifest;
}

/* A fresh private repository NAME-PREFIX on the HTTP server, its manifest on the stand-in. */
static void http_repo(struct ctx *c, const char *prefix)
{
	char hello[128], manifest[256], repo_path[256];
	const char *files[7];

	testgit_unique(prefix, c->name, sizeof(c->name));
	snprintf(c->full_name, sizeof(c->full_name), "acme/%s", c->name);
	make_files(c->name, hello, sizeof(hello), manifest, sizeof(manifest), files);
	snprintf(repo_path, sizeof(repo_path), "acme/%s.git", c->name);
	private_repo(testenv_need("FORJA_TEST_HTTP_GIT_ROOT"), repo_path, c->name, files, c->sha);
	snprintf(c->clone_url, sizeof(c->clone_url), "%s/%s",
		 testenv_need("FORJA_TEST_HTTP_GIT_URL"), repo_path);
	serve_manifest(c, files);
}

START_TEST(http_token_builds_and_leaks_nothing)
{
	const char *token = testenv_need("FORJA_TEST_HTTP_GIT_TOKEN");
	char flag[256];
	struct ps_watch w = {.needles = {token, NULL, NULL}};
	struct ctx c;
	json_t *b;

	snprintf(flag, sizeof(flag), "--github-token=%s", token);
	{
		const char *const extra[] = {flag, NULL};

		start(&c, extra);
	}
	http_repo(&c, "privhttp");

	ck_assert_int_eq(pthread_create(&w.th, NULL, ps_loop, &w), 0);
	b = deliver_and_wait(&c, "private-http");
	atomic_store(&w.stop, 1);
	pthread_join(w.th, NULL);
	ck_assert_msg(!strcmp(json_string_value(json_object_get(b, "status")), "succeeded"), "%s",
		      json_string_value(json_object_get(b, "error")));
	testhook_assert_in_registry(c.name, "1.0.0",
				    json_string_value(json_object_get(b, "digest")));
	ck_assert_msg(!atomic_load(&w.seen), "the token showed up in ps (%d samples)", w.samples);
	assert_nowhere(&c, b, token);
	json_decref(b);
	stop(&c);
}
END_TEST

START_TEST(http_credentials_file_builds)
{
	char path[300], flag[400];
	struct ctx c;
	json_t *b;

	snprintf(path, sizeof(path), "%s/forja-creds-%d",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	testgit_write_credentials(path);
	snprintf(flag, sizeof(flag), "--git-credentials-file=%s", path);
	{
		const char *const extra[] = {flag, NULL};

		start(&c, extra);
	}
	http_repo(&c, "privcred");
	b = deliver_and_wait(&c, "private-creds");
	ck_assert_msg(!strcmp(json_string_value(json_object_get(b, "status")), "succeeded"), "%s",
		      json_string_value(json_object_get(b, "error")));
	testhook_assert_in_registry(c.name, "1.0.0",
				    json_string_value(json_object_get(b, "digest")));
	assert_nowhere(&c, b, testenv_need("FORJA_TEST_HTTP_GIT_PASSWORD"));
	json_decref(b);
	stop(&c);
	unlink(path);
}
END_TEST

START_TEST(http_wrong_token_is_refused_clearly)
{
	const char *const extra[] = {"--github-token=ghs_wrong_token_0123456789", NULL};
	struct ctx c;
	const char *err;
	json_t *b;

	start(&c, extra);
	http_repo(&c, "privbad");
	b = deliver_and_wait(&c, "private-bad-token");
	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "failed");
	err = json_string_value(json_object_get(b, "error"));
	ck_assert_msg(strstr(err, "authentication refused") != NULL, "%s", err);
	ck_assert_msg(strstr(err, c.clone_url) != NULL, "%s", err);
	assert_nowhere(&c, b, "ghs_wrong_token_0123456789");
	json_decref(b);
	stop(&c);
}
END_TEST

static void ssh_case(const char *known_hosts, const char *delivery, json_t **out, struct ctx *c,
		     struct ps_watch *w)
{
	char key[512], kh[512], hello[128], manifest[256], repo_path[256];
	const char *files[7];

	snprintf(key, sizeof(key), "--git-ssh-key-file=%s", testenv_need("FORJA_TEST_SSH_GIT_KEY"));
	snprintf(kh, sizeof(kh), "--git-known-hosts-file=%s", known_hosts);
	{
		const char *const extra[] = {key, kh, NULL};

		start(c, extra);
	}
	testgit_unique("privssh", c->name, sizeof(c->name));
	snprintf(c->full_name, sizeof(c->full_name), "acme/%s", c->name);
	make_files(c->name, hello, sizeof(hello), manifest, sizeof(manifest), files);
	snprintf(repo_path, sizeof(repo_path), "acme/%s.git", c->name);
	private_repo(testenv_need("FORJA_TEST_SSH_GIT_ROOT"), repo_path, c->name, files, c->sha);
	/* as GitHub sends it: an https clone_url (no token here, so it cannot be fetched) and
	 * the ssh_url a deploy key fetches from */
	snprintf(c->clone_url, sizeof(c->clone_url), "%s/%s",
		 testenv_need("FORJA_TEST_HTTP_GIT_URL"), repo_path);
	snprintf(c->ssh_url, sizeof(c->ssh_url), "%s%s/%s", testenv_need("FORJA_TEST_SSH_GIT_URL"),
		 testenv_need("FORJA_TEST_SSH_GIT_ROOT"), repo_path);
	serve_manifest(c, files);
	if (w)
		ck_assert_int_eq(pthread_create(&w->th, NULL, ps_loop, w), 0);
	*out = deliver_and_wait(c, delivery);
	if (w) {
		atomic_store(&w->stop, 1);
		pthread_join(w->th, NULL);
	}
}

START_TEST(ssh_deploy_key_builds_and_leaks_nothing)
{
	char marker[64];
	struct ps_watch w = {0};
	struct ctx c;
	json_t *b;

	key_marker(marker, sizeof(marker));
	w.needles[0] = marker;
	ssh_case(testenv_need("FORJA_TEST_SSH_GIT_KNOWN_HOSTS"), "private-ssh", &b, &c, &w);
	ck_assert_msg(!strcmp(json_string_value(json_object_get(b, "status")), "succeeded"), "%s",
		      json_string_value(json_object_get(b, "error")));
	testhook_assert_in_registry(c.name, "1.0.0",
				    json_string_value(json_object_get(b, "digest")));
	ck_assert_msg(!atomic_load(&w.seen), "the key showed up in ps");
	assert_nowhere(&c, b, marker);
	json_decref(b);
	stop(&c);
}
END_TEST

START_TEST(ssh_unknown_host_key_is_refused_clearly)
{
	struct ctx c;
	const char *err;
	json_t *b;

	ssh_case(testenv_need("FORJA_TEST_SSH_GIT_WRONG_KNOWN_HOSTS"), "private-ssh-hostkey", &b,
		 &c, NULL);
	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "failed");
	err = json_string_value(json_object_get(b, "error"));
	ck_assert_msg(strstr(err, "host key unknown") != NULL, "%s", err);
	ck_assert_msg(strstr(err, c.ssh_url) != NULL, "%s", err);
	json_decref(b);
	stop(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("private_git");
	TCase *tc = tcase_create("private");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, http_token_builds_and_leaks_nothing);
	tcase_add_test(tc, http_credentials_file_builds);
	tcase_add_test(tc, http_wrong_token_is_refused_clearly);
	tcase_add_test(tc, ssh_deploy_key_builds_and_leaks_nothing);
	tcase_add_test(tc, ssh_unknown_host_key_is_refused_clearly);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
