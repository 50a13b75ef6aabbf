#include "testhook.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry.h"
#include "testenv.h"
#include "webhook.h"

json_t *testhook_fixture(const char *name)
{
	char path[1024];
	const char *here = __FILE__;
	const char *cut = strstr(here, "tests/support/");
	json_t *j;

	ck_assert_ptr_nonnull(cut);
	snprintf(path, sizeof(path), "%.*stests/fixtures/github/%s", (int)(cut - here), here, name);
	j = json_load_file(path, 0, NULL);
	ck_assert_ptr_nonnull(j);
	return j;
}

json_t *testhook_deliver_merge(const char *base_url, const struct testhook_repo *repo,
			       const char *delivery)
{
	return testhook_deliver_signed(base_url, repo, delivery, NULL);
}

void testhook_post_signed(const char *base_url, const struct testhook_repo *repo,
			  const char *delivery, const char *secret, struct http_resp *resp)
{
	char url[128], h_delivery[128], sig[80], h_sig[120];
	json_t *p = testhook_fixture("pull_request_merged.json");
	json_t *pr = json_object_get(p, "pull_request");
	json_t *r = json_object_get(p, "repository");

	json_object_set_new(r, "clone_url", json_string(repo->clone_url));
	json_object_set_new(r, "full_name", json_string(repo->full_name));
	json_object_set_new(r, "name", json_string(repo->name));
	json_object_set_new(pr, "merge_commit_sha", json_string(repo->sha));
	if (repo->ssh_url)
		json_object_set_new(r, "ssh_url", json_string(repo->ssh_url));
	else
		json_object_del(r, "ssh_url");
	char *body = json_dumps(p, 0);
	json_decref(p);
	snprintf(url, sizeof(url), "%s/ciserver/updates", base_url);
	snprintf(h_delivery, sizeof(h_delivery), "X-GitHub-Delivery: %s", delivery);
	const char *headers[] = {"Content-Type: application/json",
				 "X-GitHub-Event: pull_request",
				 "X-GitHub-Hook-ID: " TESTHOOK_HOOK_ID,
				 h_delivery,
				 NULL,
				 NULL};
	if (secret) {
		ck_assert_int_eq(
		    webhook_signature_make(secret, body, strlen(body), sig, sizeof(sig)), 0);
		snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", sig);
		headers[4] = h_sig;
	}
	ck_assert_int_eq(http_request("POST", url, headers, body, strlen(body), resp), 0);
	free(body);
}

json_t *testhook_deliver_signed(const char *base_url, const struct testhook_repo *repo,
				const char *delivery, const char *secret)
{
	struct http_resp resp;
	testhook_post_signed(base_url, repo, delivery, secret, &resp);
	ck_assert_msg(resp.status == 202, "%ld %s", resp.status, resp.body);
	json_t *answer = json_loads(resp.body, 0, NULL);
	http_resp_free(&resp);
	json_t *builds = json_incref(json_object_get(answer, "builds"));
	json_decref(answer);
	return builds;
}

json_t *testhook_wait_final(const char *base_url, int64_t id, int timeout_s)
{
	char url[128];
	time_t deadline = time(NULL) + timeout_s;

	snprintf(url, sizeof(url), "%s/builds/%lld", base_url, (long long)id);
	for (;;) {
		struct http_resp r;
		struct timespec pause = {.tv_nsec = 100 * 1000 * 1000};
		const char *st;
		json_t *b;

		ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
		ck_assert_msg(r.status == 200, "GET %s: %ld %s", url, r.status, r.body);
		b = json_loads(r.body, 0, NULL);
		http_resp_free(&r);
		st = json_string_value(json_object_get(b, "status"));
		ck_assert_ptr_nonnull(st);
		if (strcmp(st, "queued") != 0 && strcmp(st, "running") != 0)
			return b;
		json_decref(b);
		ck_assert_msg(time(NULL) < deadline, "build %lld not final after %d s",
			      (long long)id, timeout_s);
		nanosleep(&pause, NULL);
	}
}

void testhook_assert_in_registry(const char *service, const char *version, const char *digest)
{
	char url[256], got[128], err[256];
	struct registry *reg = NULL;
	struct registry_opts o = {.url = url, .timeout_s = 10};
	int rc;

	snprintf(url, sizeof(url), "http://%s", testenv_need("FORJA_TEST_REGISTRY"));
	ck_assert_int_eq(registry_new(&o, &reg), 0);
	rc = registry_manifest_digest(reg, service, version, got, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s:%s not in the registry: %s", service, version, err);
	ck_assert_str_eq(got, digest);
	registry_free(reg);
}
