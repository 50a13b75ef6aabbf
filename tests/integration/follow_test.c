/* Log follows on a small thread pool: 50 clients follow one running build's log while 1,000
 * quick requests are answered, and each follower receives every line; one follow past
 * FORJA_MAX_STREAMS is answered 503 with Retry-After; a follow of a build that is quiet for
 * longer than every timeout still receives its last line (real dockerd, registry, git). */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testbuild.h"
#include "testenv.h"
#include "testgit.h"

#define FOLLOWERS 50
#define QUICK	  1000
#define LINES	  40

struct follower {
	char url[256];
	char *body;
	size_t len;
	long status;
	pthread_t thread;
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	struct follower *f = ud;
	char *grown = realloc(f->body, f->len + size * n + 1);
	if (!grown)
		return 0;
	f->body = grown;
	memcpy(f->body + f->len, p, size * n);
	f->len += size * n;
	f->body[f->len] = '\0';
	return size * n;
}

static void *follow_main(void *arg)
{
	struct follower *f = arg;
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, f->url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 240L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, f);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &f->status);
	curl_easy_cleanup(h);
	return NULL;
}

/* A repository whose build prints SCRIPT's lines; unique, so no layer comes from the cache. */
static void make_repo(const char *prefix, const char *script, char *url, char *sha)
{
	char name[128], dockerfile[1024], stamp[192];
	testgit_unique(prefix, name, sizeof(name));
	snprintf(stamp, sizeof(stamp), "%s %ld\n", name, (long)time(NULL));
	snprintf(dockerfile, sizeof(dockerfile), "FROM %s\nCOPY stamp /stamp\nRUN %s\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"), script);
	const char *files[] = {"Dockerfile", dockerfile, "stamp", stamp, NULL};
	testgit_commit(name, "main", files, sha);
	testgit_url(name, url, 256);
}

static char *final_log(const struct testenv *t, int64_t id)
{
	struct http_resp r;
	char url[256];
	snprintf(url, sizeof(url), "%s/builds/%lld/log", t->base_url, (long long)id);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	char *log = strdup(r.body);
	http_resp_free(&r);
	return log;
}

static void wait_streams(const struct testenv *t, long n)
{
	for (int i = 0; i < 600 && testenv_metric(t, "forja_http_streams", NULL) < n; i++)
		usleep(50 * 1000);
	ck_assert_int_ge(testenv_metric(t, "forja_http_streams", NULL), n);
}

START_TEST(fifty_followers_and_quick_requests)
{
	struct testenv t;
	/* every client here is 127.0.0.1: no per-address limit */
	const char *args[] = {"--workers=1", "--http-threads=4", "--max-streams=50",
			      "--max-connections-per-address=0", NULL};
	char url[256], sha[41], script[256], quick[256];
	static struct follower f[FOLLOWERS];
	testenv_start(&t, args);
	snprintf(script, sizeof(script),
		 "for i in $(seq 1 %d); do echo follow-line-$i; sleep 0.1; done", LINES);
	make_repo("follow", script, url, sha);
	int64_t id = testbuild_queue(&t, "follow-svc", "1", url, sha);
	for (int i = 0; i < FOLLOWERS; i++) {
		memset(&f[i], 0, sizeof(f[i]));
		snprintf(f[i].url, sizeof(f[i].url), "%s/builds/%lld/log?follow=true", t.base_url,
			 (long long)id);
		ck_assert_int_eq(pthread_create(&f[i].thread, NULL, follow_main, &f[i]), 0);
	}
	wait_streams(&t, FOLLOWERS);

	/* one more than FORJA_MAX_STREAMS */
	struct http_resp r;
	ck_assert_int_eq(http_request("GET", f[0].url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 503);
	char *retry = http_resp_header(&r, "Retry-After");
	ck_assert_ptr_nonnull(retry);
	ck_assert_int_gt(atoi(retry), 0);
	free(retry);
	http_resp_free(&r);
	ck_assert_int_ge(testenv_metric(&t, "forja_http_limited_total{limit=\"streams\"}", NULL),
			 1);

	/* the pool's 4 threads are free for everyone else while 50 followers wait */
	snprintf(quick, sizeof(quick), "%s/builds/%lld", t.base_url, (long long)id);
	int answered = 0;
	for (int i = 0; i < QUICK; i++) {
		ck_assert_int_eq(http_request("GET", quick, NULL, NULL, 0, &r), 0);
		answered += r.status == 200;
		http_resp_free(&r);
	}
	ck_assert_int_eq(answered, QUICK);

	for (int i = 0; i < FOLLOWERS; i++)
		pthread_join(f[i].thread, NULL);
	char *log = final_log(&t, id);
	char last[64];
	snprintf(last, sizeof(last), "follow-line-%d\n", LINES);
	ck_assert_msg(strstr(log, last), "the build's log lacks its last line:\n%s", log);
	for (int i = 0; i < FOLLOWERS; i++) {
		ck_assert_int_eq(f[i].status, 200);
		ck_assert_msg(f[i].body && !strcmp(f[i].body, log),
			      "follower %d received %zu bytes, the log has %zu", i, f[i].len,
			      strlen(log));
		free(f[i].body);
	}
	free(log);
	ck_assert_int_eq(testenv_metric(&t, "forja_http_streams", NULL), 0);
	testenv_stop(&t);
}
END_TEST

START_TEST(quiet_build_outlives_the_timeouts)
{
	struct testenv t;
	const char *args[] = {"--workers=1", "--idle-timeout=1", "--request-deadline=1", NULL};
	char url[256], sha[41];
	struct follower one;
	testenv_start(&t, args);
	make_repo("quiet", "echo quiet-first && sleep 5 && echo quiet-last", url, sha);
	int64_t id = testbuild_queue(&t, "quiet-svc", "1", url, sha);
	memset(&one, 0, sizeof(one));
	snprintf(one.url, sizeof(one.url), "%s/builds/%lld/log?follow=true", t.base_url,
		 (long long)id);
	follow_main(&one);
	ck_assert_int_eq(one.status, 200);
	ck_assert_ptr_nonnull(one.body);
	ck_assert_msg(strstr(one.body, "quiet-first") && strstr(one.body, "quiet-last"),
		      "the follow missed a line:\n%s", one.body);
	char *log = final_log(&t, id);
	ck_assert_str_eq(one.body, log);
	free(log);
	free(one.body);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("follow");
	TCase *tc = tcase_create("real builds");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, fifty_followers_and_quick_requests);
	tcase_add_test(tc, quiet_build_outlives_the_timeouts);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
