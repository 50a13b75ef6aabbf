/* The build queue with real builds (dockerd, registry, git daemon): FIFO order with per-service
 * serialization, timeout, cancel of queued and running builds, followed logs that arrive while
 * the build runs, and recovery after the server is killed with kill -9. */
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "testbuild.h"
#include "testenv.h"
#include "testgit.h"

#define TOKEN "queue-test-token"

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A repository whose Dockerfile sleeps SECS then says done; unique so no layer is cached. */
static struct build *get_build(struct store *st, int64_t id)
{
	struct build *b = NULL;
	ck_assert_int_eq(store_build_get(st, id, &b), 0);
	return b;
}

/* Polls until build ID has STATUS (or any final one when FINAL), within SECS. */
static struct build *wait_status(struct store *st, int64_t id, int final, enum build_status status,
				 int secs)
{
	long long deadline = mono_ms() + secs * 1000LL;
	for (;;) {
		struct build *b = get_build(st, id);
		if (final ? build_status_is_final(b->status) : b->status == status)
			return b;
		if (mono_ms() > deadline)
			ck_abort_msg("build %lld still %s after %d s (%s)", (long long)id,
				     build_status_name(b->status), secs, b->error ? b->error : "");
		build_free(b);
		usleep(50 * 1000);
	}
}

static char *log_text(struct testenv *t, int64_t id)
{
	char *buf = calloc(1, 1 << 20);
	size_t len = 0;
	int ended;
	for (;;) {
		long n =
		    build_logs_read(t->app.logs, id, len, buf + len, (1 << 20) - 1 - len, &ended);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	return buf;
}

static void assert_succeeded(struct testenv *t, const struct build *b)
{
	if (b->status != BUILD_SUCCEEDED) {
		char *log = log_text(t, b->id);
		ck_abort_msg("build %lld %s: %s\n%s", (long long)b->id,
			     build_status_name(b->status), b->error ? b->error : "", log);
	}
	ck_assert_ptr_nonnull(b->digest);
	ck_assert_int_eq(strncmp(b->digest, "sha256:", 7), 0);
}

START_TEST(fifo_with_per_service_serialization)
{
	struct testenv t;
	const char *args[] = {"--workers=2", NULL};
	testenv_start(&t, args);
	char url_slow[256], url_fast[256], url_b[256], sha_slow[41], sha_fast[41], sha_b[41];
	testbuild_make_repo("qa1", 4, NULL, 0, url_slow, sizeof(url_slow), sha_slow);
	testbuild_make_repo("qa2", 0, NULL, 0, url_fast, sizeof(url_fast), sha_fast);
	testbuild_make_repo("qb1", 0, NULL, 0, url_b, sizeof(url_b), sha_b);
	int64_t a1 = testbuild_queue(&t, "qsvc-a", "1", url_slow, sha_slow);
	int64_t a2 = testbuild_queue(&t, "qsvc-a", "2", url_fast, sha_fast);
	int64_t b1 = testbuild_queue(&t, "qsvc-b", "1", url_b, sha_b);

	struct build *A1 = wait_status(t.app.store, a1, 1, 0, 180);
	struct build *A2 = wait_status(t.app.store, a2, 1, 0, 180);
	struct build *B1 = wait_status(t.app.store, b1, 1, 0, 180);
	assert_succeeded(&t, A1);
	assert_succeeded(&t, A2);
	assert_succeeded(&t, B1);
	/* the free worker took B1 while A2 waited for A1 of the same service */
	ck_assert_int_lt(B1->started_at, A2->started_at);
	ck_assert_int_lt(B1->started_at, A1->finished_at);
	ck_assert_int_ge(A2->started_at, A1->finished_at);
	/* A1 and B1 are taken by two workers at once: which one stamps started_at
	 * first is a race, so no order is asserted between them. */
	ck_assert_int_eq(A1->attempts, 1);
	ck_assert_int_eq(A2->attempts, 1);
	build_free(A1);
	build_free(A2);
	build_free(B1);
	testenv_stop(&t);
}
END_TEST

START_TEST(timeout_fails_the_build)
{
	struct testenv t;
	const char *args[] = {"--workers=1", "--build-timeout=3", NULL};
	testenv_start(&t, args);
	char url[256], sha[41];
	testbuild_make_repo("qto", 60, NULL, 0, url, sizeof(url), sha);
	long long t0 = mono_ms();
	int64_t id = testbuild_queue(&t, "qsvc-timeout", "1", url, sha);
	struct build *b = wait_status(t.app.store, id, 1, 0, 60);
	ck_assert_int_eq(b->status, BUILD_FAILED);
	ck_assert_str_eq(b->error, "timed out after 3 s");
	ck_assert_int_lt(mono_ms() - t0, 30000);
	char *log = log_text(&t, id);
	ck_assert_ptr_nonnull(strstr(log, "timed out after 3 s"));
	free(log);
	build_free(b);
	testenv_stop(&t);
}
END_TEST

static void post_cancel(struct testenv *t, int64_t id, struct http_resp *r)
{
	char url[256];
	const char *hdrs[] = {"Authorization: Bearer " TOKEN, NULL};
	snprintf(url, sizeof(url), "%s/builds/%lld/cancel", t->base_url, (long long)id);
	ck_assert_int_eq(http_request("POST", url, hdrs, "", 0, r), 0);
}

static const char *json_status(const struct http_resp *r, char *buf, size_t len)
{
	json_t *j = json_loads(r->body, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r->body);
	snprintf(buf, len, "%s", json_string_value(json_object_get(j, "status")));
	json_decref(j);
	return buf;
}

START_TEST(cancel_queued_and_running)
{
	struct testenv t;
	const char *args[] = {"--workers=1", "--api-token=" TOKEN, NULL};
	testenv_start(&t, args);
	char url[256], sha[41], st[32];
	testbuild_make_repo("qc", 60, NULL, 0, url, sizeof(url), sha);
	int64_t running = testbuild_queue(&t, "qsvc-cancel", "1", url, sha);
	int64_t queued = testbuild_queue(&t, "qsvc-cancel", "2", url, sha);
	struct build *b = wait_status(t.app.store, running, 0, BUILD_RUNNING, 60);
	build_free(b);

	struct http_resp r;
	post_cancel(&t, queued, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(json_status(&r, st, sizeof(st)), "cancelled");
	http_resp_free(&r);
	b = get_build(t.app.store, queued);
	ck_assert_int_eq(b->status, BUILD_CANCELLED);
	ck_assert_int_eq(b->attempts, 0);
	build_free(b);

	/* wait for the engine to be inside the RUN step, then abort it */
	long long deadline = mono_ms() + 60000;
	for (;;) {
		char *log = log_text(&t, running);
		int in_run = strstr(log, "line-one") != NULL;
		free(log);
		if (in_run)
			break;
		ck_assert_msg(mono_ms() < deadline, "the build never reached its RUN step");
		usleep(50 * 1000);
	}
	long long t0 = mono_ms();
	post_cancel(&t, running, &r);
	ck_assert_int_eq(r.status, 200);
	http_resp_free(&r);
	b = wait_status(t.app.store, running, 1, 0, 20);
	ck_assert_int_eq(b->status, BUILD_CANCELLED);
	ck_assert_int_lt(mono_ms() - t0, 15000);
	ck_assert_ptr_null(b->digest);
	build_free(b);

	post_cancel(&t, running, &r);
	ck_assert_int_eq(r.status, 409);
	ck_assert_ptr_nonnull(strstr(r.body, "already finished"));
	http_resp_free(&r);
	post_cancel(&t, 987654, &r);
	ck_assert_int_eq(r.status, 404);
	http_resp_free(&r);
	testenv_stop(&t);
}
END_TEST

struct stream {
	char buf[65536];
	size_t len;
	long long first_line_ms; /* wall clock when line-one arrived */
};

static long long wall_ms(void)
{
	return build_now_ms();
}

static size_t stream_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct stream *s = ud;
	size_t n = size * nmemb;
	size_t room = sizeof(s->buf) - 1 - s->len;
	memcpy(s->buf + s->len, ptr, n < room ? n : room);
	s->len += n < room ? n : room;
	s->buf[s->len] = '\0';
	if (s->first_line_ms == 0 && strstr(s->buf, "line-one") != NULL)
		s->first_line_ms = wall_ms();
	return n;
}

START_TEST(follow_streams_lines_before_the_end)
{
	struct testenv t;
	const char *args[] = {"--workers=1", NULL};
	testenv_start(&t, args);
	char url[256], sha[41], logurl[256], burl[256], bsha[41];
	testbuild_make_repo("qf", 4, NULL, 0, url, sizeof(url), sha);
	testbuild_make_repo("qfb", 2, NULL, 0, burl, sizeof(burl), bsha);
	/* a blocker of the same service keeps the followed build queued while the stream opens */
	int64_t blocker = testbuild_queue(&t, "qsvc-follow", "0", burl, bsha);
	int64_t id = testbuild_queue(&t, "qsvc-follow", "1", url, sha);
	struct build *q = get_build(t.app.store, id);
	ck_assert_int_eq(q->status, BUILD_QUEUED);
	build_free(q);
	snprintf(logurl, sizeof(logurl), "%s/builds/%lld/log?follow=true", t.base_url,
		 (long long)id);
	struct stream *s = calloc(1, sizeof(*s));
	CURL *h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, logurl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	long long ended_ms = wall_ms();
	ck_assert_int_eq(code, 200);

	struct build *b = get_build(t.app.store, id);
	assert_succeeded(&t, b);
	struct build *bb = get_build(t.app.store, blocker);
	ck_assert_int_ge(b->started_at, bb->finished_at);
	build_free(bb);
	/* the stream ended with the build, and line-one came while it was still running */
	ck_assert_msg(s->first_line_ms > 0, "no line-one in the stream: %s", s->buf);
	ck_assert_int_lt(s->first_line_ms, b->finished_at - 2000);
	ck_assert_int_ge(ended_ms, b->finished_at);
	ck_assert_ptr_nonnull(strstr(s->buf, "line-two"));
	ck_assert_ptr_nonnull(strstr(s->buf, "forja: build succeeded"));
	/* the stream is the stored log, byte for byte */
	char *log = log_text(&t, id);
	ck_assert_str_eq(s->buf, log);
	free(log);
	free(s);
	build_free(b);
	testenv_stop(&t);
}
END_TEST

/* The doomed server: queues a slow build and a queued one, then waits to be killed. */
static void child_server(const char *data_dir, const char *url_slow, const char *sha_slow,
			 const char *url_next, const char *sha_next)
{
	struct testenv t;
	char flag[300];
	snprintf(flag, sizeof(flag), "--data-dir=%s", data_dir);
	const char *args[] = {"--workers=1", flag, NULL};
	testenv_start(&t, args);
	testbuild_queue(&t, "qsvc-crash", "1", url_slow, sha_slow);
	testbuild_queue(&t, "qsvc-crash", "2", url_next, sha_next);
	for (;;)
		pause();
}

START_TEST(restart_after_kill_runs_everything_once)
{
	char dir[256], url_slow[256], sha_slow[41], url_next[256], sha_next[41];
	snprintf(dir, sizeof(dir), "/tmp/forja-crash-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	testbuild_make_repo("qk1", 6, NULL, 0, url_slow, sizeof(url_slow), sha_slow);
	testbuild_make_repo("qk2", 0, NULL, 0, url_next, sizeof(url_next), sha_next);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		child_server(dir, url_slow, sha_slow, url_next, sha_next);
		_exit(0);
	}
	/* watch the child's log until the slow build is inside its RUN step */
	char logpath[300];
	snprintf(logpath, sizeof(logpath), "%s/logs/1.log", dir);
	long long deadline = mono_ms() + 60000;
	for (;;) {
		char text[8192] = "";
		FILE *f = fopen(logpath, "r");
		if (f != NULL) {
			size_t n = fread(text, 1, sizeof(text) - 1, f);
			text[n] = '\0';
			fclose(f);
		}
		if (strstr(text, "line-one") != NULL)
			break;
		ck_assert_msg(mono_ms() < deadline, "the slow build never started: %s", text);
		usleep(50 * 1000);
	}
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int wst;
	ck_assert_int_eq(waitpid(pid, &wst, 0), pid);
	ck_assert(WIFSIGNALED(wst));

	struct testenv t;
	char flag[300];
	snprintf(flag, sizeof(flag), "--data-dir=%s", dir);
	const char *args[] = {"--workers=2", flag, NULL};
	testenv_start(&t, args);
	struct build *b1 = wait_status(t.app.store, 1, 1, 0, 180);
	struct build *b2 = wait_status(t.app.store, 2, 1, 0, 180);
	assert_succeeded(&t, b1);
	assert_succeeded(&t, b2);
	ck_assert_int_eq(b1->attempts, 2);
	ck_assert_int_eq(b2->attempts, 1);
	/* serialization holds across the restart: 2 waited for 1 */
	ck_assert_int_ge(b2->started_at, b1->finished_at);
	struct build_filter f = {.limit = 100};
	struct build **all = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_build_list(t.app.store, &f, &all, &n), 0);
	ck_assert_int_eq(n, 2); /* none lost, none duplicated */
	build_array_free(all, n);
	char *log = log_text(&t, 1);
	ck_assert_ptr_nonnull(strstr(log, "(attempt 1)"));
	ck_assert_ptr_nonnull(strstr(log, "(attempt 2)"));
	free(log);
	build_free(b1);
	build_free(b2);
	testenv_stop(&t);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

struct seen {
	pthread_mutex_t mu;
	int64_t ids[32];
	enum build_status st[32];
	int n;
};

static void on_change(void *ud, const struct build *b)
{
	struct seen *s = ud;
	pthread_mutex_lock(&s->mu);
	if (s->n < 32) {
		s->ids[s->n] = b->id;
		s->st[s->n] = b->status;
		s->n++;
	}
	pthread_mutex_unlock(&s->mu);
}

/* The statuses observers saw for build ID, as "queued,running,..." into BUF. */
static const char *seen_for(struct seen *s, int64_t id, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < s->n; i++) {
		if (s->ids[i] == id)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? "," : "",
						build_status_name(s->st[i]));
	}
	pthread_mutex_unlock(&s->mu);
	return buf;
}

START_TEST(observers_see_every_change_and_given_up_builds)
{
	char dir[256];
	snprintf(dir, sizeof(dir), "/tmp/forja-observe-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct store *st = NULL;
	struct build_logs *logs = NULL;
	struct engine *engine = NULL;
	ck_assert_int_eq(store_open(dir, &st), 0);
	ck_assert_int_eq(build_logs_open(dir, NULL, 1 << 20, &logs), 0);
	ck_assert_int_eq(engine_new(testenv_need("DOCKER_HOST"), &engine), 0);
	char cache[600];
	struct source *src = NULL;
	snprintf(cache, sizeof(cache), "%s/git", dir);
	struct source_config sc = {.cache_dir = cache};
	ck_assert_int_eq(source_new(&sc, &src), 0);
	struct builder_env benv = {
	    .engine = engine, .source = src, .registry_host = testenv_need("FORJA_TEST_REGISTRY")};

	/* a build a crash interrupted on its third attempt */
	struct build *b = build_new();
	b->service = strdup("qsvc-obs");
	b->version = strdup("0");
	b->ref = strdup("main");
	b->clone_url = strdup("git://127.0.0.1:1/none.git");
	ck_assert_int_eq(store_build_insert(st, b), 0);
	int64_t doomed = b->id;
	build_free(b);
	int attempts;
	for (int i = 0; i < 3; i++) {
		int64_t *ids;
		size_t n;
		ck_assert_int_eq(store_build_start(st, doomed, 1, &attempts), 0);
		if (i < 2) {
			ck_assert_int_eq(store_builds_recover(st, 3, &ids, &n), 0);
			free(ids);
		}
	}

	struct seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct queue_opts qo = {.store = st,
				.logs = logs,
				.env = &benv,
				.workers = 2,
				.timeout_s = 60,
				.max_attempts = 3};
	struct queue *q = NULL;
	ck_assert_int_eq(queue_new(&qo, &q), 0);
	struct queue_observer obs = {on_change, &seen};
	ck_assert_int_eq(queue_observe(q, &obs), 0);
	ck_assert_int_eq(queue_start(q), 0);
	ck_assert_int_eq(queue_observe(q, &obs), FORJA_ECONFLICT);

	char url[256], sha[41], buf[256];
	testbuild_make_repo("qobs", 0, NULL, 0, url, sizeof(url), sha);
	b = build_new();
	b->service = strdup("qsvc-obs");
	b->version = strdup("1");
	b->ref = strdup("main");
	b->clone_url = strdup(url);
	ck_assert_int_eq(store_build_insert(st, b), 0);
	int64_t good = b->id;
	build_free(b);
	b = build_new();
	b->service = strdup("qsvc-obs");
	b->version = strdup("2");
	b->ref = strdup("no-such-branch");
	b->clone_url = strdup(url);
	ck_assert_int_eq(store_build_insert(st, b), 0);
	int64_t bad = b->id;
	build_free(b);
	ck_assert_int_eq(queue_push(q, good), 0);
	ck_assert_int_eq(queue_push(q, bad), 0);
	ck_assert_int_eq(queue_push(q, bad), 0); /* pushed twice: still runs once */

	struct build *g = wait_status(st, good, 1, 0, 120);
	struct build *x = wait_status(st, bad, 1, 0, 120);
	ck_assert_msg(g->status == BUILD_SUCCEEDED, "good build: %s", g->error ? g->error : "");
	ck_assert_int_eq(x->status, BUILD_FAILED);
	ck_assert_int_eq(x->attempts, 1);
	ck_assert_ptr_nonnull(x->error);
	build_free(g);
	build_free(x);
	queue_free(q);
	ck_assert_str_eq(seen_for(&seen, good, buf, sizeof(buf)), "queued,running,succeeded");
	ck_assert_str_eq(seen_for(&seen, bad, buf, sizeof(buf)), "queued,running,failed");
	ck_assert_str_eq(seen_for(&seen, doomed, buf, sizeof(buf)), "failed");
	struct build *d = get_build(st, doomed);
	ck_assert_int_eq(d->status, BUILD_FAILED);
	ck_assert_ptr_nonnull(strstr(d->error, "giving up after 3 attempts"));
	build_free(d);
	engine_free(engine);
	source_free(src);
	build_logs_close(logs);
	store_close(st);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

struct push_race {
	struct queue *q;
	int64_t id;
	pthread_barrier_t *go;
};

static void *push_racer(void *arg)
{
	struct push_race *r = arg;
	pthread_barrier_wait(r->go);
	/* a push that arrives once a worker has started it is refused as a conflict */
	int rc = queue_push(r->q, r->id);
	ck_assert_msg(rc == 0 || rc == FORJA_ECONFLICT, "queue_push: %d", rc);
	return NULL;
}

START_TEST(concurrent_pushes_queue_a_build_once)
{
	enum { RACERS = 8 };
	char dir[256], buf[256];
	snprintf(dir, sizeof(dir), "/tmp/forja-pushrace-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct store *st = NULL;
	struct build_logs *logs = NULL;
	struct engine *engine = NULL;
	ck_assert_int_eq(store_open(dir, &st), 0);
	ck_assert_int_eq(build_logs_open(dir, NULL, 1 << 20, &logs), 0);
	ck_assert_int_eq(engine_new(testenv_need("DOCKER_HOST"), &engine), 0);
	char cache[600];
	struct source *src = NULL;
	snprintf(cache, sizeof(cache), "%s/git", dir);
	struct source_config sc = {.cache_dir = cache};
	ck_assert_int_eq(source_new(&sc, &src), 0);
	struct builder_env benv = {
	    .engine = engine, .source = src, .registry_host = testenv_need("FORJA_TEST_REGISTRY")};
	struct seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct queue_opts qo = {.store = st,
				.logs = logs,
				.env = &benv,
				.workers = 2,
				.timeout_s = 60,
				.max_attempts = 3};
	struct queue *q = NULL;
	ck_assert_int_eq(queue_new(&qo, &q), 0);
	struct queue_observer obs = {on_change, &seen};
	ck_assert_int_eq(queue_observe(q, &obs), 0);
	ck_assert_int_eq(queue_start(q), 0);

	/* nothing answers on port 1: the build fails fast, once */
	struct build *b = build_new();
	b->service = strdup("qsvc-race");
	b->version = strdup("1");
	b->ref = strdup("main");
	b->clone_url = strdup("git://127.0.0.1:1/none.git");
	ck_assert_int_eq(store_build_insert(st, b), 0);
	int64_t id = b->id;
	build_free(b);

	pthread_barrier_t go;
	pthread_t th[RACERS];
	struct push_race race = {q, id, &go};
	pthread_barrier_init(&go, NULL, RACERS);
	for (int i = 0; i < RACERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, push_racer, &race), 0);
	for (int i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&go);

	struct build *x = wait_status(st, id, 1, 0, 60);
	ck_assert_int_eq(x->status, BUILD_FAILED);
	ck_assert_int_eq(x->attempts, 1);
	build_free(x);
	queue_free(q);
	ck_assert_str_eq(seen_for(&seen, id, buf, sizeof(buf)), "queued,running,failed");
	engine_free(engine);
	source_free(src);
	build_logs_close(logs);
	store_close(st);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *queue_suite(void)
{
	Suite *s = suite_create("queue");
	TCase *tc = tcase_create("real builds");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, fifo_with_per_service_serialization);
	tcase_add_test(tc, timeout_fails_the_build);
	tcase_add_test(tc, cancel_queued_and_running);
	tcase_add_test(tc, follow_streams_lines_before_the_end);
	tcase_add_test(tc, restart_after_kill_runs_everything_once);
	tcase_add_test(tc, observers_see_every_change_and_given_up_builds);
	tcase_add_test(tc, concurrent_pushes_queue_a_build_once);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(queue_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
