/* The engine pool on real engines: the machine's, a second on a unix socket and a third on
 * tcp:// with TLS, all started by the test command (FORJA_TEST_ENGINE2, FORJA_TEST_ENGINE3 and
 * its certificate directories). Twelve builds of four services spread over the three, every
 * digest is the registry's, a service's later builds land on the engine of its first; an
 * engine whose certificate does not verify, or that refuses the client certificate, is
 * reported by name and takes no build. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/build.h"
#include "testbuild.h"
#include "testenv.h"
#include "testgit.h"

#define SERVICES 4
#define ROUNDS	 3

static const char *main_engine(void)
{
	const char *h = getenv("DOCKER_HOST");
	return h && *h ? h : "unix:///var/run/docker.sock";
}

/* --docker-hosts=... with the three engines, two slots each. */
static void three_engines(char *flag, size_t len)
{
	snprintf(flag, len, "--docker-hosts=%s;slots=2,%s;slots=2,%s;slots=2;tls=%s", main_engine(),
		 testenv_need("FORJA_TEST_ENGINE2"), testenv_need("FORJA_TEST_ENGINE3"),
		 testenv_need("FORJA_TEST_ENGINE3_CERTS"));
}

static json_t *get_json(struct testenv *t, const char *path, long *status)
{
	char url[512];
	struct http_resp r;
	snprintf(url, sizeof(url), "%s%s", t->base_url, path);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	*status = r.status;
	json_t *j = json_loads(r.body, 0, NULL);
	ck_assert_msg(j != NULL, "%s: not JSON: %s", path, r.body);
	http_resp_free(&r);
	return j;
}

START_TEST(test_builds_spread_and_stick)
{
	struct testenv t;
	char hosts[2048], repo[64], url[256], sha[SERVICES][ROUNDS][41];
	const char *args[] = {hosts, NULL};
	three_engines(hosts, sizeof(hosts));
	testenv_start(&t, args);

	/* one commit per build: each makes its own image */
	testgit_unique("pool", repo, sizeof(repo));
	testgit_url(repo, url, sizeof(url));
	char df[256];
	snprintf(df, sizeof(df), "FROM %s\nCOPY id /id\nRUN sleep 1\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"));
	for (int s = 0; s < SERVICES; s++) {
		for (int r = 0; r < ROUNDS; r++) {
			char id[96];
			snprintf(id, sizeof(id), "%s-%d-%d\n", repo, s, r);
			const char *files[] = {"Dockerfile", df, "id", id, NULL};
			testgit_commit(repo, "main", files, sha[s][r]);
		}
	}
	int64_t ids[SERVICES][ROUNDS];
	char svc[SERVICES][96];
	for (int r = 0; r < ROUNDS; r++) {
		for (int s = 0; s < SERVICES; s++) {
			snprintf(svc[s], sizeof(svc[s]), "%s-s%d", repo, s);
			char ver[16];
			snprintf(ver, sizeof(ver), "%d", r);
			ids[s][r] = testbuild_queue(&t, svc[s], ver, url, sha[s][r]);
		}
	}

	char used[3][256] = {"", "", ""};
	int nused = 0;
	for (int s = 0; s < SERVICES; s++) {
		char first[256] = "";
		for (int r = 0; r < ROUNDS; r++) {
			struct build *b = testbuild_wait_final(&t, ids[s][r], 240);
			ck_assert_msg(b->status == BUILD_SUCCEEDED, "build %lld: %s %s",
				      (long long)b->id, build_status_name(b->status),
				      b->error ? b->error : "");
			ck_assert_ptr_nonnull(b->engine);
			/* the registry serves the digest the build recorded */
			char digest[128] = "", err[256] = "", ver[16];
			snprintf(ver, sizeof(ver), "%d", r);
			ck_assert_int_eq(registry_manifest_digest(t.app.registry, svc[s], ver,
								  digest, err, sizeof(err)),
					 0);
			ck_assert_str_eq(digest, b->digest);
			if (r == 0)
				snprintf(first, sizeof(first), "%s", b->engine);
			else
				ck_assert_msg(!strcmp(first, b->engine),
					      "%s build %d ran on %s, its first on %s", svc[s], r,
					      b->engine, first);
			int known = 0;
			for (int k = 0; k < nused; k++)
				known |= !strcmp(used[k], b->engine);
			if (!known && nused < 3)
				snprintf(used[nused++], sizeof(used[0]), "%s", b->engine);
			build_free(b);
		}
	}
	ck_assert_msg(nused == 3, "builds ran on %d engines, not 3", nused);

	/* the history filters by engine, /healthz and /metrics show each one */
	long status = 0;
	int total = 0;
	for (int k = 0; k < 3; k++) {
		char *esc = curl_easy_escape(NULL, used[k], 0);
		char path[512];
		snprintf(path, sizeof(path), "/builds?limit=100&engine=%s", esc);
		curl_free(esc);
		json_t *j = get_json(&t, path, &status);
		ck_assert_int_eq(status, 200);
		json_t *items = json_object_get(j, "builds");
		ck_assert_msg(json_is_array(items), "no builds array");
		size_t i;
		json_t *it;
		json_array_foreach(items, i, it)
		{
			ck_assert_str_eq(json_string_value(json_object_get(it, "engine")), used[k]);
		}
		total += (int)json_array_size(items);
		json_decref(j);
	}
	ck_assert_int_eq(total, SERVICES * ROUNDS);
	json_t *h = get_json(&t, "/healthz", &status);
	ck_assert_int_eq(status, 200);
	ck_assert_str_eq(json_string_value(json_object_get(h, "status")), "ok");
	json_t *engines = json_object_get(h, "engines");
	ck_assert_int_eq(json_array_size(engines), 3);
	int builds = 0;
	for (size_t i = 0; i < 3; i++) {
		json_t *e = json_array_get(engines, i);
		ck_assert(json_is_true(json_object_get(e, "ok")));
		builds += (int)json_integer_value(json_object_get(e, "builds"));
	}
	ck_assert_int_eq(builds, SERVICES * ROUNDS);
	json_decref(h);
	char series[512];
	snprintf(series, sizeof(series), "forja_engine_up{engine=\"%s\"}",
		 testenv_need("FORJA_TEST_ENGINE3"));
	ck_assert_int_eq(testenv_metric(&t, series, NULL), 1);
	testenv_stop(&t);
}
END_TEST

/* Engine 3 with the certificate directory DIR: reported down by name, with WANT in its
 * detail; a build goes to the machine's engine instead. */
static void refused_tls_dir(const char *dir, const char *want);

static void refused_tls(const char *dir_var, const char *want)
{
	refused_tls_dir(testenv_need(dir_var), want);
}

static void refused_tls_dir(const char *dir, const char *want)
{
	struct testenv t;
	char hosts[2048], repo[64], url[256], sha[41], df[256];
	const char *args[] = {hosts, NULL};
	const char *e3 = testenv_need("FORJA_TEST_ENGINE3");
	snprintf(hosts, sizeof(hosts), "--docker-hosts=%s,%s;tls=%s", main_engine(), e3, dir);
	testenv_start(&t, args);
	long status = 0;
	json_t *h = get_json(&t, "/healthz", &status);
	ck_assert_int_eq(status, 200); /* one engine still builds */
	ck_assert_str_eq(json_string_value(json_object_get(h, "status")), "degraded");
	json_t *e = json_array_get(json_object_get(h, "engines"), 1);
	ck_assert_str_eq(json_string_value(json_object_get(e, "engine")), e3);
	ck_assert(json_is_false(json_object_get(e, "ok")));
	const char *detail = json_string_value(json_object_get(e, "detail"));
	ck_assert_msg(detail && strstr(detail, e3) && strstr(detail, want),
		      "detail \"%s\" lacks the engine or \"%s\"", detail ? detail : "", want);
	json_decref(h);

	testgit_unique("pooltls", repo, sizeof(repo));
	testgit_url(repo, url, sizeof(url));
	snprintf(df, sizeof(df), "FROM %s\nRUN true\n", testenv_need("FORJA_TEST_BASE_IMAGE"));
	const char *files[] = {"Dockerfile", df, NULL};
	testgit_commit(repo, "main", files, sha);
	int64_t id = testbuild_queue(&t, repo, "1", url, sha);
	struct build *b = testbuild_wait_final(&t, id, 120);
	ck_assert_int_eq(b->status, BUILD_SUCCEEDED);
	ck_assert_str_eq(b->engine, main_engine());
	build_free(b);
	testenv_stop(&t);
}

START_TEST(test_client_certificate_refused)
{
	/* the engine asks for a client certificate from its own CA: the handshake fails */
	refused_tls("FORJA_TEST_ENGINE3_WRONG_CLIENT", "refused the client certificate");
}
END_TEST

START_TEST(test_no_client_certificate)
{
	/* the right CA but no cert.pem / key.pem: nothing to offer, and the engine insists */
	char dir[] = "/tmp/forja-pool-noclient-XXXXXX", cmd[512];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "cp '%s/ca.pem' '%s/ca.pem'",
		 testenv_need("FORJA_TEST_ENGINE3_CERTS"), dir);
	ck_assert_int_eq(system(cmd), 0);
	refused_tls_dir(dir, "no cert.pem and key.pem to offer");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_server_certificate_not_verified)
{
	refused_tls("FORJA_TEST_ENGINE3_WRONG_CA", "does not verify against ca.pem");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_builds_spread_and_stick);
	tcase_add_test(tc, test_client_certificate_refused);
	tcase_add_test(tc, test_no_client_certificate);
	tcase_add_test(tc, test_server_certificate_not_verified);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
