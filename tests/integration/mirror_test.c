/* Package mirrors end to end: a merged pull request whose manifest has a `packages` entry builds
 * the mirror through the real engine from Debian's archive and pushes it; a client on an
 * internal network, whose only apt source is that mirror, installs the listed packages (the
 * pinned one at its version) and nothing else. An unknown package fails the build with apt's
 * words; an empty list is refused at the webhook. */
#include <check.h>
#include <jansson.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "github_standin.h"
#include "testenv.h"
#include "testgit.h"
#include "testhook.h"
#include "webhook.h"

#define OWNER  "octo-org/"
#define SECRET "mirror-webhook-secret"

/* In bookworm since its release and not updated since: a pin that stays satisfiable. */
#define PINNED "hello=2.10-3"

extern char **environ;

struct ctx {
	struct testenv t;
	struct github_standin *gh;
	char name[96];
	char full_name[128];
	char clone_url[256];
	char sha[41];
};

static void start(struct ctx *c)
{
	char api[128], base_flag[160];
	memset(c, 0, sizeof(*c));
	testenv_need("FORJA_TEST_REGISTRY");
	/* made by scripts/services.sh from Debian's packages when Docker Hub is out of reach */
	snprintf(base_flag, sizeof(base_flag), "--packages-base=%s",
		 testenv_need("FORJA_TEST_DEBIAN_IMAGE"));
	c->gh = github_standin_start();
	snprintf(api, sizeof(api), "--github-api-url=%s", github_standin_url(c->gh));
	const char *const args[] = {api, "--webhook-secret=" SECRET, "--github-token=ghs_e2e",
				    base_flag, NULL};
	testenv_start(&c->t, args);
	testgit_unique("mirror", c->name, sizeof(c->name));
	snprintf(c->full_name, sizeof(c->full_name), OWNER "%s", c->name);
	testgit_url(c->name, c->clone_url, sizeof(c->clone_url));
}

static void stop(struct ctx *c)
{
	testenv_stop(&c->t);
	github_standin_stop(c->gh);
}

static void commit(struct ctx *c, const char *const *files)
{
	testgit_commit(c->name, "develop", files, c->sha);
	for (size_t i = 0; files[i] && files[i + 1]; i += 2)
		github_standin_put_file(c->gh, c->full_name, files[i], c->sha, files[i + 1]);
}

/* Runs the docker CLI with ARGV (no shell); its exit status, its output into OUT (may be NULL). */
static int docker(const char *const *argv, char *out, size_t outlen)
{
	int fds[2], status = -1;
	pid_t pid;
	posix_spawn_file_actions_t fa;
	size_t used = 0;

	ck_assert_int_eq(pipe(fds), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
	posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
	posix_spawn_file_actions_addclose(&fa, fds[0]);
	ck_assert_int_eq(posix_spawnp(&pid, "docker", &fa, NULL, (char **)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fds[1]);
	for (;;) {
		char buf[4096];
		ssize_t n = read(fds[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		if (out && used + 1 < outlen) {
			size_t k = (size_t)n < outlen - used - 1 ? (size_t)n : outlen - used - 1;
			memcpy(out + used, buf, k);
			used += k;
		}
	}
	if (out)
		out[used] = '\0';
	close(fds[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static json_t *deliver(struct ctx *c, const char *delivery)
{
	struct testhook_repo r = {c->clone_url, c->full_name, c->name, c->sha, NULL};
	return testhook_deliver_signed(c->t.base_url, &r, delivery, SECRET);
}

static char *build_log(struct ctx *c, int64_t id)
{
	char url[256];
	struct http_resp r;
	snprintf(url, sizeof(url), "%s/builds/%lld/log", c->t.base_url, (long long)id);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	char *text = strdup(r.body);
	http_resp_free(&r);
	return text;
}

/* The client: apt's only source is the mirror; installs the list, then must fail on `sl`. */
static const char client_script[] =
    "set -e; rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*;"
    " echo 'deb [trusted=yes] http://mirror:8080/ ./' > /etc/apt/sources.list;"
    " apt-get update -q; apt-get install -y -q --no-install-recommends jq " PINNED ";"
    " jq --version; echo \"hello at $(dpkg-query -W -f='${Version}' hello)\";"
    " if apt-get install -y -q sl; then echo 'sl installed'; exit 9; fi; echo 'sl refused'";

START_TEST(mirror_serves_its_list_only)
{
	struct ctx c;
	char version[64], image[256], net[64], box[64], out[65536], manifest[256];
	start(&c);
	snprintf(version, sizeof(version), "2026.12.%d", (int)getpid());
	snprintf(manifest, sizeof(manifest),
		 "[{\"service_name\": \"mirror\", \"version\": \"%s\", \"type\": \"Packages\","
		 " \"packages\": [\"jq\", \"" PINNED "\"]}]\n",
		 version);
	const char *const files[] = {"images.json", manifest, NULL};
	commit(&c, files);
	json_t *builds = deliver(&c, "mirror-ok");
	ck_assert_uint_eq(json_array_size(builds), 1);
	int64_t id = json_integer_value(json_object_get(json_array_get(builds, 0), "id"));
	json_t *b = testhook_wait_final(c.t.base_url, id, 300);
	ck_assert_msg(strcmp(json_string_value(json_object_get(b, "status")), "succeeded") == 0,
		      "mirror build: %s", json_string_value(json_object_get(b, "error")));
	testhook_assert_in_registry("mirror", version,
				    json_string_value(json_object_get(b, "digest")));
	snprintf(image, sizeof(image), "%s", json_string_value(json_object_get(b, "image")));
	json_decref(b);
	json_decref(builds);
	char *log = build_log(&c, id);
	ck_assert_msg(strstr(log, "package jq\n") && strstr(log, "package " PINNED "\n"), "%s",
		      log);
	/* the closure: jq's own library is resolved and listed too */
	ck_assert_msg(strstr(log, "resolved jq=") && strstr(log, "resolved libjq1=") &&
			  strstr(log, "resolved " PINNED),
		      "%s", log);
	free(log);

	snprintf(net, sizeof(net), "forja-mirror-net-%d", (int)getpid());
	snprintf(box, sizeof(box), "forja-mirror-%d", (int)getpid());
	const char *const mknet[] = {"docker", "network", "create", "--internal", net, NULL};
	ck_assert_int_eq(docker(mknet, out, sizeof(out)), 0);
	const char *const run[] = {"docker", "run",	  "-d", "--name",
				   box,	     "--network", net,	"--network-alias",
				   "mirror", image,	  NULL};
	int rc = docker(run, out, sizeof(out));
	const char *const client[] = {"docker",	   "run", "--rm",
				      "--network", net,	  testenv_need("FORJA_TEST_DEBIAN_IMAGE"),
				      "sh",	   "-c",  client_script,
				      NULL};
	int crc = rc ? -1 : docker(client, out, sizeof(out));
	const char *const rm[] = {"docker", "rm", "-f", box, NULL};
	const char *const rmnet[] = {"docker", "network", "rm", net, NULL};
	docker(rm, NULL, 0);
	docker(rmnet, NULL, 0);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(crc == 0, "client exited %d: %s", crc, out);
	ck_assert_msg(strstr(out, "hello at 2.10-3") && strstr(out, "jq-1."), "%s", out);
	ck_assert_msg(strstr(out, "Unable to locate package sl") && strstr(out, "sl refused"), "%s",
		      out);
	stop(&c);
}
END_TEST

START_TEST(unknown_package_fails_with_apts_words)
{
	struct ctx c;
	start(&c);
	const char *const files[] = {
	    "images.json",
	    "[{\"service_name\": \"mirror-bad\", \"version\": \"1\", \"type\": \"packages\","
	    " \"packages_file\": \"mirror/packages.txt\"},"
	    " {\"service_name\": \"mirror-pin\", \"version\": \"1\", \"type\": \"packages\","
	    " \"packages\": [\"hello=9.9-9\"]}]\n",
	    "mirror/packages.txt",
	    "# what the machines need\nhello\nforja-no-such-package  # a typo\n", NULL};
	static const char *const want[] = {"Unable to locate package forja-no-such-package",
					   "Version '9.9-9' for 'hello' was not found"};
	commit(&c, files);
	json_t *builds = deliver(&c, "mirror-unknown");
	ck_assert_uint_eq(json_array_size(builds), 2);
	for (size_t i = 0; i < 2; i++) {
		int64_t id = json_integer_value(json_object_get(json_array_get(builds, i), "id"));
		json_t *b = testhook_wait_final(c.t.base_url, id, 300);
		ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "failed");
		const char *err = json_string_value(json_object_get(b, "error"));
		ck_assert_msg(err && strstr(err, want[i]) && !strncmp(err, "apt: E: ", 8), "%s",
			      err);
		json_decref(b);
	}
	json_decref(builds);
	stop(&c);
}
END_TEST

/* Delivers a merged PR of C's current commit as DELIVERY, signed; the answer into R. */
static void post_raw(struct ctx *c, const char *delivery, struct http_resp *r)
{
	struct testhook_repo repo = {c->clone_url, c->full_name, c->name, c->sha, NULL};
	testhook_post_signed(c->t.base_url, &repo, delivery, SECRET, r);
}

/* An empty or malformed list never reaches the queue: 422 naming the entry. */
START_TEST(empty_list_is_refused_at_the_webhook)
{
	struct ctx c;
	struct http_resp r;
	start(&c);
	const char *const files[] = {
	    "images.json",
	    "[{\"service_name\": \"mirror\", \"version\": \"1\","
	    " \"type\": \"packages\", \"packages\": []},"
	    " {\"service_name\": \"m2\", \"version\": \"1\","
	    " \"type\": \"packages\", \"packages\": [\"nginx; rm -rf /\"]}]\n",
	    NULL};
	commit(&c, files);
	post_raw(&c, "mirror-empty", &r);
	ck_assert_int_eq(r.status, 422);
	ck_assert_msg(strstr(r.body, "entry 1: packages lists no packages"), "%s", r.body);
	ck_assert_msg(strstr(r.body, "entry 2: packages[0]"), "%s", r.body);
	http_resp_free(&r);

	/* a packages_file is read at the merge commit and checked before anything is queued */
	const char *const files2[] = {
	    "images.json",
	    "[{\"service_name\": \"m3\", \"version\": \"1\","
	    " \"type\": \"packages\", \"packages_file\": \"mirror/packages.txt\"},"
	    " {\"service_name\": \"m4\", \"version\": \"1\","
	    " \"type\": \"packages\", \"packages_file\": \"mirror/none.txt\"}]\n",
	    "mirror/packages.txt", "# the list\ncurl\nnginx && reboot\n", NULL};
	commit(&c, files2);
	post_raw(&c, "mirror-bad-file", &r);
	ck_assert_int_eq(r.status, 422);
	ck_assert_msg(strstr(r.body, "entry 1: packages_file mirror/packages.txt line 3: \\\"nginx "
				     "&& reboot\\\" is not a Debian package"),
		      "%s", r.body);
	ck_assert_msg(strstr(r.body, "entry 2: packages_file mirror/none.txt not found"), "%s",
		      r.body);
	http_resp_free(&r);
	stop(&c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mirror");
	TCase *tc = tcase_create("mirror");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, empty_list_is_refused_at_the_webhook);
	tcase_add_test(tc, unknown_package_fails_with_apts_words);
	tcase_add_test(tc, mirror_serves_its_list_only);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
