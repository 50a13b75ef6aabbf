/* GET /events on a real server with real (failing fast) builds: a burst of 50 builds gives
 * every event in order, queued before started before finished for each; a reader that comes
 * back with Last-Event-ID gets exactly the events after it; with a read token the stream
 * needs it, as a header or ?access_token=. */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testbuild.h"
#include "testenv.h"

#define BUILDS	   50
#define MAX_EVENTS 400

struct reader {
	char url[256];
	char header[128]; /* "" or a request header */
	char *body;
	size_t len;
	int want; /* stop after this many events (0: until the timeout) */
	long timeout_ms;
	atomic_int frames;
	long status;
};

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct reader *r = ud;
	size_t k = size * n;
	char *b = realloc(r->body, r->len + k + 1);
	if (!b)
		return 0;
	memcpy(b + r->len, p, k);
	r->len += k;
	b[r->len] = '\0';
	r->body = b;
	int f = 0;
	for (const char *q = strstr(b, "\nid: "); q; q = strstr(q + 1, "\nid: "))
		f++;
	atomic_store(&r->frames, f);
	return k;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	struct reader *r = ud;
	(void)a, (void)b, (void)c, (void)d;
	return r->want > 0 && atomic_load(&r->frames) >= r->want;
}

static void *read_stream(void *ud)
{
	struct reader *r = ud;
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = r->header[0] ? curl_slist_append(NULL, r->header) : NULL;
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, r);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, r->timeout_ms);
	curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return NULL;
}

struct event {
	long long id;
	char kind[16];
	long long build;
};

/* The events in R's body, in order. */
static int parse(const struct reader *r, struct event *out, int max)
{
	int n = 0;
	const char *p = r->body ? r->body : "";
	while (n < max && (p = strstr(p, "id: ")) != NULL) {
		struct event *e = &out[n];
		if (sscanf(p, "id: %lld\nevent: %15s\ndata: {\"id\":%lld", &e->id, e->kind,
			   &e->build) == 3)
			n++;
		p += 4;
	}
	return n;
}

START_TEST(test_burst_in_order_then_resume)
{
	struct testenv t;
	const char *args[] = {"--workers=4", NULL};
	testenv_start(&t, args);
	static struct reader live;
	memset(&live, 0, sizeof(live));
	snprintf(live.url, sizeof(live.url), "%s/events", t.base_url);
	live.want = 3 * BUILDS;
	live.timeout_ms = 120000;
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, read_stream, &live), 0);
	/* the stream is open (its first bytes came) before the builds start */
	for (int i = 0; i < 100 && live.len == 0; i++)
		usleep(20 * 1000);
	ck_assert_msg(live.len > 0, "no first bytes from /events");

	int64_t ids[BUILDS];
	for (int i = 0; i < BUILDS; i++) {
		char svc[32];
		snprintf(svc, sizeof(svc), "ev-%d", i);
		/* nothing listens there: each build fails at its fetch, at once */
		ids[i] = testbuild_queue(&t, svc, "1", "git://127.0.0.1:1/none.git",
					 "0123456789abcdef0123456789abcdef01234567");
	}
	testbuild_wait_all_final(&t, ids, BUILDS, 120);
	pthread_join(th, NULL);
	ck_assert_int_eq(live.status, 200);

	static struct event ev[MAX_EVENTS];
	int n = parse(&live, ev, MAX_EVENTS);
	ck_assert_int_eq(n, 3 * BUILDS);
	int seen[BUILDS + 1][3];
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < n; i++) {
		if (i > 0)
			ck_assert_msg(ev[i].id == ev[i - 1].id + 1, "ids %lld then %lld",
				      ev[i - 1].id, ev[i].id);
		long long b = ev[i].build - ids[0] + 1;
		ck_assert(b >= 1 && b <= BUILDS);
		int k = !strcmp(ev[i].kind, "queued") ? 0 : !strcmp(ev[i].kind, "started") ? 1 : 2;
		ck_assert_msg(k == 0 || seen[b][k - 1], "build %lld: %s before the event before it",
			      ev[i].build, ev[i].kind);
		if (k == 2)
			ck_assert_str_eq(ev[i].kind, "finished");
		seen[b][k] = 1;
	}

	/* back with the id of the 60th event: exactly the 61st to the last, nothing else */
	static struct reader again;
	memset(&again, 0, sizeof(again));
	snprintf(again.url, sizeof(again.url), "%s/events", t.base_url);
	snprintf(again.header, sizeof(again.header), "Last-Event-ID: %lld", ev[59].id);
	again.timeout_ms = 1500;
	read_stream(&again);
	static struct event ev2[MAX_EVENTS];
	int n2 = parse(&again, ev2, MAX_EVENTS);
	ck_assert_int_eq(n2, n - 60);
	for (int i = 0; i < n2; i++)
		ck_assert_int_eq(ev2[i].id, ev[60 + i].id);
	free(live.body);
	free(again.body);
	testenv_stop(&t);
}
END_TEST

START_TEST(test_read_token_as_header_or_query)
{
	struct testenv t;
	const char *args[] = {"--read-token=events-read-0123456789", NULL};
	testenv_start(&t, args);
	static struct reader r;
	memset(&r, 0, sizeof(r));
	snprintf(r.url, sizeof(r.url), "%s/events", t.base_url);
	r.timeout_ms = 500;
	read_stream(&r);
	ck_assert_int_eq(r.status, 401);
	free(r.body);
	memset(&r, 0, sizeof(r));
	snprintf(r.url, sizeof(r.url), "%s/events?access_token=events-read-0123456789", t.base_url);
	r.timeout_ms = 500;
	read_stream(&r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "retry: 3000"));
	free(r.body);
	memset(&r, 0, sizeof(r));
	snprintf(r.url, sizeof(r.url), "%s/events?access_token=wrong", t.base_url);
	r.timeout_ms = 500;
	read_stream(&r);
	ck_assert_int_eq(r.status, 401);
	free(r.body);
	memset(&r, 0, sizeof(r));
	snprintf(r.url, sizeof(r.url), "%s/events", t.base_url);
	snprintf(r.header, sizeof(r.header), "Authorization: Bearer events-read-0123456789");
	r.timeout_ms = 500;
	read_stream(&r);
	ck_assert_int_eq(r.status, 200);
	free(r.body);
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("events");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_burst_in_order_then_resume);
	tcase_add_test(tc, test_read_token_as_header_or_query);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
