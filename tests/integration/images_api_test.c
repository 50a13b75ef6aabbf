/* GET /images against a real registry: tags and manifest digests as the registry reports them,
 * the build behind an image Forja built, the per-repository bound, a TLS registry with basic
 * auth, and 502 when the registry cannot be reached or refuses Forja. */
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testenv.h"
#include "testgit.h"

#define TOKEN "images-test-token"

static void sha256_hex(const char *data, size_t len, char out[72])
{
	unsigned char d[32];
	ck_assert_int_eq(gnutls_hash_fast(GNUTLS_DIG_SHA256, data, len, d), 0);
	int n = snprintf(out, 72, "sha256:");
	for (int i = 0; i < 32; i++)
		n += snprintf(out + n, (size_t)(72 - n), "%02x", d[i]);
}

/* One request to the registry; *LOCATION (malloc'd, may be NULL) gets the Location header. */
static long reg_request(const char *method, const char *url, const char *ctype, const char *body,
			size_t len, char **location)
{
	struct http_resp r;
	char ct[200];
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
	const char *hdrs[] = {ct, NULL};
	ck_assert_int_eq(http_request(method, url, hdrs, body ? body : "", len, &r), 0);
	if (location)
		*location = http_resp_header(&r, "Location");
	long st = r.status;
	if (st >= 300)
		fprintf(stderr, "registry %s %s: %ld %s\n", method, url, st, r.body);
	http_resp_free(&r);
	return st;
}

/* Uploads BLOB to repository NAME of the test registry (two-step upload). */
static void push_blob(const char *reg, const char *name, const char *blob, char digest[72])
{
	char url[512], *loc = NULL, put[1024];
	sha256_hex(blob, strlen(blob), digest);
	snprintf(url, sizeof(url), "http://%s/v2/%s/blobs/uploads/", reg, name);
	ck_assert_int_eq(reg_request("POST", url, "application/octet-stream", NULL, 0, &loc), 202);
	ck_assert_ptr_nonnull(loc);
	const char *sep = strchr(loc, '?') ? "&" : "?";
	if (strncmp(loc, "http", 4) == 0)
		snprintf(put, sizeof(put), "%s%sdigest=%s", loc, sep, digest);
	else
		snprintf(put, sizeof(put), "http://%s%s%sdigest=%s", reg, loc, sep, digest);
	free(loc);
	ck_assert_int_eq(
	    reg_request("PUT", put, "application/octet-stream", blob, strlen(blob), NULL), 201);
}

/*
 * Pushes a minimal image (a config blob, no layers) to NAME under each of N tags named
 * PREFIX<i>; DIGEST gets the manifest digest, computed here from the bytes sent.
 */
static void push_image(const char *name, const char *prefix, int n, char digest[72])
{
	const char *reg = testenv_need("FORJA_TEST_REGISTRY");
	char cfg_digest[72], manifest[1024], url[512];
	char config[256];
	snprintf(config, sizeof(config),
		 "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
		 "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"created\":\"%ld\"}",
		 (long)time(NULL));
	push_blob(reg, name, config, cfg_digest);
	snprintf(manifest, sizeof(manifest),
		 "{\"schemaVersion\":2,\"mediaType\":"
		 "\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{"
		 "\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":%zu,"
		 "\"digest\":\"%s\"},\"layers\":[]}",
		 strlen(config), cfg_digest);
	sha256_hex(manifest, strlen(manifest), digest);
	for (int i = 0; i < n; i++) {
		snprintf(url, sizeof(url), "http://%s/v2/%s/manifests/%s%02d", reg, name, prefix,
			 i);
		ck_assert_int_eq(reg_request("PUT", url,
					     "application/vnd.docker.distribution.manifest.v2+json",
					     manifest, strlen(manifest), NULL),
				 201);
	}
}

static json_t *get_images(struct testenv *t)
{
	char url[200];
	struct http_resp r;
	snprintf(url, sizeof(url), "%s/images", t->base_url);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 200, "GET /images: %ld %s", r.status, r.body);
	json_error_t e;
	json_t *j = json_loads(r.body, 0, &e);
	ck_assert_msg(j != NULL, "not JSON: %s", r.body);
	http_resp_free(&r);
	ck_assert(json_is_array(json_object_get(j, "repositories")));
	ck_assert(json_is_boolean(json_object_get(j, "truncated")));
	return j;
}

static json_t *find_repo(json_t *list, const char *name)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_object_get(list, "repositories"), i, r)
	{
		if (strcmp(json_string_value(json_object_get(r, "name")), name) == 0)
			return r;
	}
	return NULL;
}

static json_t *find_tag(json_t *repo, const char *tag)
{
	size_t i;
	json_t *t;
	json_array_foreach(json_object_get(repo, "tags"), i, t)
	{
		if (strcmp(json_string_value(json_object_get(t, "tag")), tag) == 0)
			return t;
	}
	return NULL;
}

START_TEST(test_pushed_image_is_listed)
{
	struct testenv t;
	testenv_start(&t, NULL);
	char name[64], digest[72];
	testgit_unique("imgpush", name, sizeof(name));
	push_image(name, "v", 2, digest);

	json_t *j = get_images(&t);
	ck_assert_str_eq(json_string_value(json_object_get(j, "registry")), t.cfg.registry);
	json_t *repo = find_repo(j, name);
	ck_assert_msg(repo != NULL, "%s not in the catalog", name);
	ck_assert_int_eq(json_integer_value(json_object_get(repo, "tag_count")), 2);
	ck_assert(json_is_false(json_object_get(repo, "truncated")));
	for (int i = 0; i < 2; i++) {
		char tag[8];
		snprintf(tag, sizeof(tag), "v%02d", i);
		json_t *tg = find_tag(repo, tag);
		ck_assert_msg(tg != NULL, "no tag %s", tag);
		ck_assert_str_eq(json_string_value(json_object_get(tg, "digest")), digest);
		/* not built by Forja */
		ck_assert(json_is_null(json_object_get(tg, "build_id")));
	}
	json_decref(j);
	testenv_stop(&t);
}
END_TEST

START_TEST(test_tags_are_bounded)
{
	struct testenv t;
	testenv_start(&t, NULL);
	char name[64], digest[72];
	testgit_unique("imgmany", name, sizeof(name));
	push_image(name, "t", 55, digest);

	json_t *j = get_images(&t);
	json_t *repo = find_repo(j, name);
	ck_assert_ptr_nonnull(repo);
	ck_assert_int_eq(json_integer_value(json_object_get(repo, "tag_count")), 55);
	ck_assert_int_eq(json_array_size(json_object_get(repo, "tags")), 50);
	ck_assert(json_is_true(json_object_get(repo, "truncated")));
	ck_assert(json_is_true(json_object_get(j, "truncated")));
	json_t *limits = json_object_get(j, "limits");
	ck_assert_int_eq(json_integer_value(json_object_get(limits, "tags_per_repository")), 50);
	json_decref(j);
	testenv_stop(&t);
}
END_TEST

/* Polls GET /builds/ID until the build is final; returns its JSON. */
static json_t *wait_final(struct testenv *t, long long id)
{
	char url[200];
	snprintf(url, sizeof(url), "%s/builds/%lld", t->base_url, id);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		struct http_resp r;
		ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
		json_t *b = json_loads(r.body, 0, NULL);
		http_resp_free(&r);
		ck_assert_ptr_nonnull(b);
		const char *st = json_string_value(json_object_get(b, "status"));
		if (st &&
		    (!strcmp(st, "succeeded") || !strcmp(st, "failed") || !strcmp(st, "cancelled")))
			return b;
		json_decref(b);
		clock_gettime(CLOCK_MONOTONIC, &now);
		ck_assert_msg(now.tv_sec - start.tv_sec < 240, "build %lld never finished", id);
		struct timespec nap = {0, 100 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
}

START_TEST(test_built_image_has_its_build)
{
	struct testenv t;
	const char *args[] = {"--api-token=" TOKEN, NULL};
	testenv_start(&t, args);
	char repo[64], sha[41], clone[300], body[800], url[200];
	testgit_unique("imgbuilt", repo, sizeof(repo));
	char dockerfile[200];
	snprintf(dockerfile, sizeof(dockerfile), "FROM %s\nRUN echo %s > /id\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"), repo);
	const char *files[] = {"Dockerfile", dockerfile, NULL};
	testgit_commit(repo, "main", files, sha);
	testgit_url(repo, clone, sizeof(clone));
	snprintf(body, sizeof(body),
		 "{\"service\":\"%s\",\"version\":\"1.0.0\",\"repository\":\"%s\",\"ref\":\"%s\"}",
		 repo, clone, sha);
	snprintf(url, sizeof(url), "%s/builds", t.base_url);
	const char *hdrs[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json",
			      NULL};
	struct http_resp r;
	ck_assert_int_eq(http_request("POST", url, hdrs, body, strlen(body), &r), 0);
	ck_assert_msg(r.status == 201 || r.status == 202, "POST /builds: %ld %s", r.status, r.body);
	json_t *created = json_loads(r.body, 0, NULL);
	http_resp_free(&r);
	long long id = json_integer_value(json_object_get(created, "id"));
	json_decref(created);
	ck_assert_int_gt(id, 0);
	json_t *b = wait_final(&t, id);
	ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "succeeded");
	char digest[100];
	snprintf(digest, sizeof(digest), "%s", json_string_value(json_object_get(b, "digest")));
	json_decref(b);

	json_t *j = get_images(&t);
	json_t *rj = find_repo(j, repo);
	ck_assert_msg(rj != NULL, "%s not in the catalog", repo);
	json_t *tg = find_tag(rj, "1.0.0");
	ck_assert_ptr_nonnull(tg);
	ck_assert_str_eq(json_string_value(json_object_get(tg, "digest")), digest);
	ck_assert_int_eq(json_integer_value(json_object_get(tg, "build_id")), id);
	json_decref(j);
	testenv_stop(&t);
}
END_TEST

/* ---- a private registry: TLS with a self-signed certificate and basic auth ---------------- */

struct private_registry {
	char dir[256];
	unsigned port;
	pid_t pid;
	char url[64];
	char ca[300];
};

static void run(const char *cmd)
{
	int rc = system(cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

/* Keeps the Location header of a response (the upload URL of a blob). */
static size_t keep_location(char *line, size_t size, size_t n, void *ud)
{
	char **loc = ud;
	size_t len = size * n;
	if (len > 10 && strncasecmp(line, "Location: ", 10) == 0 && !*loc) {
		size_t v = len - 10;
		while (v > 0 && (line[10 + v - 1] == '\r' || line[10 + v - 1] == '\n'))
			v--;
		*loc = strndup(line + 10, v);
	}
	return len;
}

/* One request to the private registry as USER:PASS (NULL = anonymous); returns the status. */
static long priv_request(const struct private_registry *pr, const char *method, const char *url,
			 const char *userpwd, const char *ctype, const char *body, char **location)
{
	CURL *h = curl_easy_init();
	ck_assert_ptr_nonnull(h);
	struct curl_slist *hl = NULL;
	char ct[200];
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype ? ctype : "application/octet-stream");
	hl = curl_slist_append(hl, ct);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_CAINFO, pr->ca);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	if (userpwd)
		curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	FILE *sink = fopen("/dev/null", "w");
	curl_easy_setopt(h, CURLOPT_WRITEDATA, sink);
	char *loc = NULL;
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, keep_location);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &loc);
	long status = 0;
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (location)
		*location = loc;
	else
		free(loc);
	fclose(sink);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	return status;
}

/*
 * Starts docker-registry on a free loopback port with TLS (a certificate for 127.0.0.1 made
 * here) and htpasswd basic auth for user "forja" / "s3cret". It dies with the test process.
 */
static void private_registry_start(struct private_registry *pr)
{
	char cmd[2048], cfg[2048];
	memset(pr, 0, sizeof(*pr));
	snprintf(pr->dir, sizeof(pr->dir), "%s/forja-privreg-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(pr->dir));
	snprintf(
	    cmd, sizeof(cmd),
	    "cd '%s' && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
	    "-addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem >/dev/null 2>&1 "
	    "&& htpasswd -Bbn forja s3cret > htpasswd 2>/dev/null",
	    pr->dir);
	run(cmd);
	snprintf(pr->ca, sizeof(pr->ca), "%s/cert.pem", pr->dir);
	pr->port = testenv_free_port();
	snprintf(cfg, sizeof(cfg),
		 "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
		 "storage:\n  filesystem:\n    rootdirectory: %s/data\n"
		 "auth:\n  htpasswd:\n    realm: forja-test\n    path: %s/htpasswd\n"
		 "http:\n  addr: 127.0.0.1:%u\n  tls:\n    certificate: %s/cert.pem\n"
		 "    key: %s/key.pem\n",
		 pr->dir, pr->dir, pr->port, pr->dir, pr->dir);
	char path[320];
	snprintf(path, sizeof(path), "%s/config.yml", pr->dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(cfg, f);
	fclose(f);
	pr->pid = fork();
	ck_assert_int_ge(pr->pid, 0);
	if (pr->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		char logpath[320];
		snprintf(logpath, sizeof(logpath), "%s/registry.log", pr->dir);
		int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0) {
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
		}
		execlp("docker-registry", "docker-registry", "serve", path, (char *)NULL);
		_exit(127);
	}
	snprintf(pr->url, sizeof(pr->url), "https://127.0.0.1:%u", pr->port);
	char v2[100];
	snprintf(v2, sizeof(v2), "%s/v2/", pr->url);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (priv_request(pr, "GET", v2, NULL, NULL, NULL, NULL) != 401) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		ck_assert_msg(now.tv_sec - start.tv_sec < 30, "private registry did not start");
		ck_assert_msg(waitpid(pr->pid, NULL, WNOHANG) == 0, "docker-registry exited");
		struct timespec nap = {0, 20 * 1000 * 1000};
		nanosleep(&nap, NULL);
	}
}

static void private_registry_stop(struct private_registry *pr)
{
	char cmd[400];
	kill(pr->pid, SIGTERM);
	waitpid(pr->pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", pr->dir);
	run(cmd);
}

/* Pushes a minimal image NAME:TAG as forja/s3cret; DIGEST gets the manifest digest. */
static void private_push(struct private_registry *pr, const char *name, const char *tag,
			 char digest[72])
{
	const char *up = "forja:s3cret";
	char config[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{},"
			"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	char cfg_digest[72], url[600], *loc = NULL, manifest[1024];
	sha256_hex(config, strlen(config), cfg_digest);
	snprintf(url, sizeof(url), "%s/v2/%s/blobs/uploads/", pr->url, name);
	ck_assert_int_eq(priv_request(pr, "POST", url, up, NULL, NULL, &loc), 202);
	ck_assert_ptr_nonnull(loc);
	snprintf(url, sizeof(url), "%s%sdigest=%s", loc, strchr(loc, '?') ? "&" : "?", cfg_digest);
	free(loc);
	ck_assert_int_eq(priv_request(pr, "PUT", url, up, NULL, config, NULL), 201);
	snprintf(manifest, sizeof(manifest),
		 "{\"schemaVersion\":2,\"mediaType\":"
		 "\"application/vnd.docker.distribution.manifest.v2+json\",\"config\":{"
		 "\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"size\":%zu,"
		 "\"digest\":\"%s\"},\"layers\":[]}",
		 strlen(config), cfg_digest);
	sha256_hex(manifest, strlen(manifest), digest);
	snprintf(url, sizeof(url), "%s/v2/%s/manifests/%s", pr->url, name, tag);
	ck_assert_int_eq(priv_request(pr, "PUT", url, up,
				      "application/vnd.docker.distribution.manifest.v2+json",
				      manifest, NULL),
			 201);
}

START_TEST(test_tls_registry_with_basic_auth)
{
	struct private_registry pr;
	private_registry_start(&pr);
	char digest[72];
	private_push(&pr, "private/app", "2.0.0", digest);

	char reg[64], reg_url[100], ca[320];
	snprintf(reg, sizeof(reg), "--registry=127.0.0.1:%u", pr.port);
	snprintf(reg_url, sizeof(reg_url), "--registry-url=%s", pr.url);
	snprintf(ca, sizeof(ca), "--registry-ca-file=%s", pr.ca);
	const char *args[] = {
	    reg, reg_url, ca, "--registry-username=forja", "--registry-password=s3cret", NULL};
	struct testenv t;
	testenv_start(&t, args);
	json_t *j = get_images(&t);
	json_t *repo = find_repo(j, "private/app");
	ck_assert_msg(repo != NULL, "private/app not listed");
	json_t *tg = find_tag(repo, "2.0.0");
	ck_assert_ptr_nonnull(tg);
	ck_assert_str_eq(json_string_value(json_object_get(tg, "digest")), digest);
	json_decref(j);
	testenv_stop(&t);

	/* a wrong password is the registry refusing Forja: 502, not an empty catalog */
	const char *bad[] = {
	    reg, reg_url, ca, "--registry-username=forja", "--registry-password=wrong", NULL};
	testenv_start(&t, bad);
	char url[200];
	snprintf(url, sizeof(url), "%s/images", t.base_url);
	struct http_resp r;
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_msg(r.status == 502, "wrong password gave %ld %s", r.status, r.body);
	http_resp_free(&r);
	testenv_stop(&t);
	private_registry_stop(&pr);
}
END_TEST

START_TEST(test_unreachable_registry_is_502)
{
	struct testenv t;
	const char *args[] = {"--registry=127.0.0.1:1", "--registry-url=http://127.0.0.1:1", NULL};
	testenv_start(&t, args);
	char url[200];
	snprintf(url, sizeof(url), "%s/images", t.base_url);
	struct http_resp r;
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 502);
	char *ct = http_resp_header(&r, "Content-Type");
	ck_assert_str_eq(ct, "application/problem+json");
	free(ct);
	json_t *p = json_loads(r.body, 0, NULL);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(json_integer_value(json_object_get(p, "status")), 502);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(p, "detail")));
	json_decref(p);
	http_resp_free(&r);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("images_api");
	TCase *tc = tcase_create("images");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_pushed_image_is_listed);
	tcase_add_test(tc, test_tags_are_bounded);
	tcase_add_test(tc, test_built_image_has_its_build);
	tcase_add_test(tc, test_unreachable_registry_is_502);
	tcase_add_test(tc, test_tls_registry_with_basic_auth);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
