/* The build history on a real SQLite file: insert/get, list filters and cursor pages, latest,
 * crash recovery, webhook delivery idempotency, schema version and index-only plans. */
#include <check.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "store.h"

static char dir[256];

/* Each test runs in its own forked process: remove what it created there. */
static void remove_dir(void)
{
	char cmd[300];
	if (dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

static struct store *open_fresh(void)
{
	snprintf(dir, sizeof(dir), "/tmp/forja-store-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct store *st = NULL;
	ck_assert_int_eq(store_open(dir, &st), 0);
	return st;
}

static struct build *mk(const char *service, const char *version, const char *branch,
			const char *repo)
{
	struct build *b = build_new();
	b->service = strdup(service);
	b->version = strdup(version);
	b->type = strdup("docker");
	b->branch = branch ? strdup(branch) : NULL;
	b->repository = repo ? strdup(repo) : NULL;
	b->clone_url = strdup("git://127.0.0.1/x.git");
	b->ref = strdup("main");
	b->trigger = TRIGGER_API;
	return b;
}

static int64_t insert(struct store *st, const char *service, const char *version,
		      const char *branch, const char *repo)
{
	struct build *b = mk(service, version, branch, repo);
	ck_assert_int_eq(store_build_insert(st, b), 0);
	int64_t id = b->id;
	ck_assert_int_gt(id, 0);
	build_free(b);
	return id;
}

START_TEST(insert_and_get)
{
	struct store *st = open_fresh();
	struct build *b = mk("api", "1.0", "develop", "acme/shop");
	b->pull_request = 42;
	b->build_args = strdup("{\"A\":\"1\"}");
	ck_assert_int_eq(store_build_insert(st, b), 0);
	ck_assert_int_gt(b->created_at, 0);
	struct build *got = NULL;
	ck_assert_int_eq(store_build_get(st, b->id, &got), 0);
	ck_assert_str_eq(got->service, "api");
	ck_assert_str_eq(got->version, "1.0");
	ck_assert_str_eq(got->branch, "develop");
	ck_assert_str_eq(got->build_args, "{\"A\":\"1\"}");
	ck_assert_int_eq(got->pull_request, 42);
	ck_assert_int_eq(got->status, BUILD_QUEUED);
	ck_assert_int_eq(got->trigger, TRIGGER_API);
	ck_assert_int_eq(got->created_at, b->created_at);
	ck_assert_ptr_null(got->digest);
	ck_assert_int_eq(got->attempts, 0);
	build_free(got);
	ck_assert_int_eq(store_build_get(st, b->id + 100, &got), FORJA_ENOTFOUND);
	build_free(b);
	store_close(st);
}
END_TEST

START_TEST(start_finish_transitions)
{
	struct store *st = open_fresh();
	int64_t id = insert(st, "api", "1", "main", NULL);
	int attempts = 0;
	ck_assert_int_eq(store_build_start(st, id, 1000, &attempts), 0);
	ck_assert_int_eq(attempts, 1);
	ck_assert_int_eq(store_build_start(st, id, 1001, &attempts), FORJA_ECONFLICT);
	ck_assert_int_eq(store_build_finish(st, id, BUILD_SUCCEEDED, "sha256:abc", NULL, 2500), 0);
	ck_assert_int_eq(store_build_finish(st, id, BUILD_FAILED, NULL, "x", 2600),
			 FORJA_ECONFLICT);
	ck_assert_int_eq(store_build_finish(st, 9999, BUILD_FAILED, NULL, "x", 2600),
			 FORJA_ENOTFOUND);
	ck_assert_int_eq(store_build_start(st, 9999, 1, &attempts), FORJA_ENOTFOUND);
	struct build *b = NULL;
	ck_assert_int_eq(store_build_get(st, id, &b), 0);
	ck_assert_int_eq(b->status, BUILD_SUCCEEDED);
	ck_assert_str_eq(b->digest, "sha256:abc");
	ck_assert_int_eq(b->started_at, 1000);
	ck_assert_int_eq(b->finished_at, 2500);
	json_t *j = build_to_json(b, "http://forja.example");
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "succeeded");
	ck_assert(json_real_value(json_object_get(j, "duration_seconds")) > 1.49);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "links"), "self")),
			 "http://forja.example/builds/1");
	json_decref(j);
	build_free(b);
	ck_assert_int_eq(store_build_set_commit(st, id, "0123456789abcdef0123456789abcdef01234567"),
			 0);
	ck_assert_int_eq(store_build_set_commit(st, id, "ffffffffffffffffffffffffffffffffffffffff"),
			 0);
	ck_assert_int_eq(store_build_set_commit(st, 777, "ff"), FORJA_ENOTFOUND);
	ck_assert_int_eq(store_build_get(st, id, &b), 0);
	ck_assert_str_eq(b->commit, "0123456789abcdef0123456789abcdef01234567");
	build_free(b);
	ck_assert_int_eq(store_build_for_image(st, "api", "1", "sha256:abc"), id);
	ck_assert_int_eq(store_build_for_image(st, "api", "1", "sha256:def"), 0);
	int64_t counts[5];
	ck_assert_int_eq(store_build_counts(st, counts), 0);
	ck_assert_int_eq(counts[BUILD_SUCCEEDED], 1);
	ck_assert_int_eq(counts[BUILD_QUEUED], 0);
	store_close(st);
}
END_TEST

START_TEST(list_filters_and_pages)
{
	struct store *st = open_fresh();
	/* 25 builds: services a/b alternate, branches main/dev by thirds */
	for (int i = 0; i < 25; i++) {
		char v[16];
		snprintf(v, sizeof(v), "%d", i);
		insert(st, i % 2 ? "b" : "a", v, i % 3 ? "main" : "dev",
		       i < 10 ? "acme/one" : "acme/two");
	}
	struct build_filter f = {.limit = 7};
	int seen[26] = {0};
	int64_t last = INT64_MAX;
	size_t total = 0;
	for (;;) {
		struct build **arr = NULL;
		size_t n = 0;
		ck_assert_int_eq(store_build_list(st, &f, &arr, &n), 0);
		for (size_t i = 0; i < n; i++) {
			ck_assert_int_lt(arr[i]->id, last); /* newest first, no repeats */
			last = arr[i]->id;
			seen[arr[i]->id]++;
		}
		total += n;
		int more = n == (size_t)f.limit;
		if (n > 0)
			f.before = arr[n - 1]->id;
		build_array_free(arr, n);
		if (!more)
			break;
	}
	ck_assert_int_eq(total, 25);
	for (int i = 1; i <= 25; i++)
		ck_assert_int_eq(seen[i], 1);

	struct build_filter g = {.limit = 100, .service = "a", .branch = "dev"};
	struct build **arr = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_build_list(st, &g, &arr, &n), 0);
	/* i even and i % 3 == 0: 0, 6, 12, 18, 24 */
	ck_assert_int_eq(n, 5);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(arr[i]->service, "a");
		ck_assert_str_eq(arr[i]->branch, "dev");
	}
	build_array_free(arr, n);

	struct build_filter r = {.limit = 100, .repository = "acme/one"};
	ck_assert_int_eq(store_build_list(st, &r, &arr, &n), 0);
	ck_assert_int_eq(n, 10);
	build_array_free(arr, n);

	int attempts;
	ck_assert_int_eq(store_build_start(st, 3, 10, &attempts), 0);
	struct build_filter s = {.limit = 100, .has_status = 1, .status = BUILD_RUNNING};
	ck_assert_int_eq(store_build_list(st, &s, &arr, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(arr[0]->id, 3);
	build_array_free(arr, n);

	struct build_filter bad = {.limit = 0};
	ck_assert_int_eq(store_build_list(st, &bad, &arr, &n), FORJA_EINVAL);
	bad.limit = 101;
	ck_assert_int_eq(store_build_list(st, &bad, &arr, &n), FORJA_EINVAL);
	store_close(st);
}
END_TEST

START_TEST(latest_by_service_and_branch)
{
	struct store *st = open_fresh();
	struct build *b = NULL;
	ck_assert_int_eq(store_build_latest(st, NULL, NULL, &b), FORJA_ENOTFOUND);
	int64_t a1 = insert(st, "a", "1", "main", NULL);
	int64_t b1 = insert(st, "b", "1", "dev", NULL);
	int64_t a2 = insert(st, "a", "2", "dev", NULL);
	int64_t c1 = insert(st, "c", "1", "main", NULL);
	(void)b1;
	ck_assert_int_eq(store_build_latest(st, NULL, NULL, &b), 0);
	ck_assert_int_eq(b->id, c1);
	build_free(b);
	ck_assert_int_eq(store_build_latest(st, "a", NULL, &b), 0);
	ck_assert_int_eq(b->id, a2);
	build_free(b);
	ck_assert_int_eq(store_build_latest(st, "a", "main", &b), 0);
	ck_assert_int_eq(b->id, a1);
	build_free(b);
	ck_assert_int_eq(store_build_latest(st, NULL, "dev", &b), 0);
	ck_assert_int_eq(b->id, a2);
	build_free(b);
	ck_assert_int_eq(store_build_latest(st, "zzz", NULL, &b), FORJA_ENOTFOUND);
	ck_assert_int_eq(store_build_latest(st, "c", "dev", &b), FORJA_ENOTFOUND);
	store_close(st);
}
END_TEST

START_TEST(generation_grows_with_changes_only)
{
	struct store *st = open_fresh();
	struct build *b = NULL;
	uint64_t g0 = store_generation(st);
	int64_t id = insert(st, "a", "1", "main", NULL);
	uint64_t g1 = store_generation(st);
	ck_assert_uint_gt(g1, g0);
	ck_assert_int_eq(store_build_latest(st, "a", NULL, &b), 0);
	build_free(b);
	ck_assert_uint_eq(store_generation(st), g1);
	ck_assert_int_eq(store_build_start(st, id, 1000, NULL), 0);
	ck_assert_uint_gt(store_generation(st), g1);
	store_close(st);
}
END_TEST

START_TEST(recover_requeues_and_gives_up)
{
	struct store *st = open_fresh();
	int64_t q1 = insert(st, "a", "1", NULL, NULL);
	int64_t r1 = insert(st, "b", "1", NULL, NULL);
	int64_t r3 = insert(st, "c", "1", NULL, NULL);
	int64_t done = insert(st, "d", "1", NULL, NULL);
	int att;
	ck_assert_int_eq(store_build_start(st, r1, 1, &att), 0);
	ck_assert_int_eq(store_build_finish(st, done, BUILD_CANCELLED, NULL, "c", 2), 0);
	/* r3 ran three times and was interrupted each time */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(store_build_start(st, r3, 1, &att), 0);
		if (i < 2) {
			int64_t *ids;
			size_t n;
			ck_assert_int_eq(store_builds_recover(st, 3, &ids, &n), 0);
			free(ids);
		}
	}
	ck_assert_int_eq(att, 3);
	store_close(st);

	/* a fresh open of the same file, as after kill -9 */
	st = NULL;
	ck_assert_int_eq(store_open(dir, &st), 0);
	int64_t *ids = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_builds_recover(st, 3, &ids, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(ids[0], q1);
	ck_assert_int_eq(ids[1], r1);
	free(ids);
	struct build *b = NULL;
	ck_assert_int_eq(store_build_get(st, r3, &b), 0);
	ck_assert_int_eq(b->status, BUILD_FAILED);
	ck_assert_ptr_nonnull(strstr(b->error, "giving up after 3 attempts"));
	ck_assert_int_gt(b->finished_at, 0);
	build_free(b);
	ck_assert_int_eq(store_build_get(st, r1, &b), 0);
	ck_assert_int_eq(b->status, BUILD_QUEUED);
	ck_assert_int_eq(store_build_start(st, r1, 5, &att), 0);
	ck_assert_int_eq(att, 2);
	build_free(b);
	store_close(st);
}
END_TEST

START_TEST(engine_attempts_and_requeue)
{
	struct store *st = open_fresh();
	int64_t a1 = insert(st, "a", "1", "main", NULL);
	int64_t a2 = insert(st, "a", "2", "main", NULL);
	char name[64];
	ck_assert_int_eq(store_service_engine(st, "a", name, sizeof(name)), FORJA_ENOTFOUND);
	int attempts = 0;
	ck_assert_int_eq(store_build_start(st, a1, 1000, &attempts), 0);
	ck_assert_int_eq(store_build_set_engine(st, a1, "tcp://10.0.0.5:2376"), 0);
	ck_assert_int_eq(store_build_set_engine(st, 999, "x"), FORJA_ENOTFOUND);
	ck_assert_int_eq(store_service_engine(st, "a", name, sizeof(name)), 0);
	ck_assert_str_eq(name, "tcp://10.0.0.5:2376");
	/* a lost engine: the same build, one attempt more */
	ck_assert_int_eq(store_build_next_attempt(st, a1, &attempts), 0);
	ck_assert_int_eq(attempts, 2);
	ck_assert_int_eq(store_build_next_attempt(st, a2, &attempts), FORJA_ECONFLICT);
	/* a stop: queued again, the interrupted attempt given back */
	ck_assert_int_eq(store_build_requeue(st, a1), 0);
	struct build *b = NULL;
	ck_assert_int_eq(store_build_get(st, a1, &b), 0);
	ck_assert_int_eq(b->status, BUILD_QUEUED);
	ck_assert_int_eq(b->attempts, 1);
	ck_assert_str_eq(b->engine, "tcp://10.0.0.5:2376");
	build_free(b);
	ck_assert_int_eq(store_build_requeue(st, a1), FORJA_ECONFLICT);
	/* the history filters by engine */
	struct build_filter f = {.engine = "tcp://10.0.0.5:2376", .limit = 10};
	struct build **page = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_build_list(st, &f, &page, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(page[0]->id, a1);
	build_array_free(page, n);
	store_close(st);
}
END_TEST

START_TEST(delivery_conflict_writes_nothing)
{
	struct store *st = open_fresh();
	struct build *bs[2] = {mk("a", "1", "develop", "acme/x"),
			       mk("b", "1", "develop", "acme/x")};
	bs[0]->trigger = TRIGGER_WEBHOOK;
	bs[1]->trigger = TRIGGER_WEBHOOK;
	ck_assert_int_eq(store_delivery_insert(st, "7", "d-1", bs, 2), 0);
	ck_assert_int_gt(bs[0]->id, 0);
	ck_assert_int_eq(bs[1]->id, bs[0]->id + 1);
	struct build **got = NULL;
	size_t n = 0;
	ck_assert_int_eq(store_delivery_builds(st, "7", "d-1", &got, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(got[0]->service, "a");
	ck_assert_str_eq(got[0]->delivery_id, "d-1");
	build_array_free(got, n);

	struct build *again[1] = {mk("c", "1", "develop", "acme/x")};
	ck_assert_int_eq(store_delivery_insert(st, "7", "d-1", again, 1), FORJA_ECONFLICT);
	ck_assert_int_eq(again[0]->id, 0);
	struct build *latest = NULL;
	ck_assert_int_eq(store_build_latest(st, "c", NULL, &latest), FORJA_ENOTFOUND);
	/* same delivery id under another hook is another delivery */
	ck_assert_int_eq(store_delivery_insert(st, "8", "d-1", again, 1), 0);
	ck_assert_int_eq(store_delivery_builds(st, "9", "d-1", &got, &n), FORJA_ENOTFOUND);
	/* a delivery that asked for no build is still recorded */
	ck_assert_int_eq(store_delivery_insert(st, "7", "d-empty", NULL, 0), 0);
	ck_assert_int_eq(store_delivery_builds(st, "7", "d-empty", &got, &n), 0);
	ck_assert_int_eq(n, 0);
	free(got);
	build_free(bs[0]);
	build_free(bs[1]);
	build_free(again[0]);
	store_close(st);
}
END_TEST

/* Each query the hot paths run, as EXPLAIN QUERY PLAN sees it: no full-table SCAN. */
static void assert_no_scan(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	char q[1024];
	snprintf(q, sizeof(q), "EXPLAIN QUERY PLAN %s", sql);
	ck_assert_int_eq(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *detail = (const char *)sqlite3_column_text(s, 3);
		ck_assert_msg(strncmp(detail, "SCAN builds", 11) != 0 ||
				  strstr(detail, "USING") != NULL,
			      "%s: %s", sql, detail);
		ck_assert_msg(strstr(detail, "TEMP B-TREE") == NULL, "%s sorts: %s", sql, detail);
	}
	sqlite3_finalize(s);
}

START_TEST(schema_version_and_plans)
{
	struct store *st = open_fresh();
	insert(st, "a", "1", "main", NULL);
	store_close(st);
	char path[300];
	snprintf(path, sizeof(path), "%s/forja.db", dir);
	sqlite3 *db = NULL;
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *s = NULL;
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_int_eq(sqlite3_column_int(s, 0), 3);
	sqlite3_finalize(s);
	sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	assert_no_scan(db, "SELECT * FROM builds WHERE service = 'a' ORDER BY id DESC LIMIT 1");
	assert_no_scan(db, "SELECT * FROM builds WHERE branch = 'a' ORDER BY id DESC LIMIT 1");
	assert_no_scan(db, "SELECT * FROM builds WHERE service = 'a' AND branch = 'b' "
			   "ORDER BY id DESC LIMIT 1");
	assert_no_scan(db, "SELECT * FROM builds WHERE id < 5 AND status = 1 "
			   "ORDER BY id DESC LIMIT 20");
	assert_no_scan(db, "SELECT * FROM builds WHERE id < 5 AND repository = 'x' "
			   "ORDER BY id DESC LIMIT 20");
	assert_no_scan(db, "SELECT id FROM builds WHERE service = 'a' AND version = '1' AND "
			   "digest = 'd' ORDER BY id DESC LIMIT 1");
	assert_no_scan(db, "SELECT * FROM builds WHERE id < 5 AND engine = 'e' "
			   "ORDER BY id DESC LIMIT 20");
	sqlite3_close(db);
	/* a reopen does not upgrade again and keeps the data */
	ck_assert_int_eq(store_open(dir, &st), 0);
	struct build *b = NULL;
	ck_assert_int_eq(store_build_get(st, 1, &b), 0);
	build_free(b);
	store_close(st);
}
END_TEST

struct hammer {
	struct store *st;
	int writer;
	int failures;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	for (int i = 0; i < 200; i++) {
		if (h->writer) {
			struct build *b = mk("w", "1", "main", NULL);
			if (store_build_insert(h->st, b) != 0)
				h->failures++;
			build_free(b);
			continue;
		}
		struct build *b = NULL;
		int rc = store_build_latest(h->st, "w", "main", &b);
		if (rc != 0 && rc != FORJA_ENOTFOUND)
			h->failures++;
		build_free(b);
	}
	return NULL;
}

START_TEST(concurrent_readers_and_writers)
{
	struct store *st = open_fresh();
	struct hammer hs[8];
	pthread_t th[8];
	for (int i = 0; i < 8; i++) {
		hs[i] = (struct hammer){st, i < 2, 0};
		pthread_create(&th[i], NULL, hammer_main, &hs[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(hs[i].failures, 0);
	}
	int64_t counts[5];
	ck_assert_int_eq(store_build_counts(st, counts), 0);
	ck_assert_int_eq(counts[BUILD_QUEUED], 400);
	store_close(st);
}
END_TEST

static Suite *store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, NULL, remove_dir);
	tcase_add_test(tc, insert_and_get);
	tcase_add_test(tc, start_finish_transitions);
	tcase_add_test(tc, list_filters_and_pages);
	tcase_add_test(tc, latest_by_service_and_branch);
	tcase_add_test(tc, generation_grows_with_changes_only);
	tcase_add_test(tc, recover_requeues_and_gives_up);
	tcase_add_test(tc, engine_attempts_and_requeue);
	tcase_add_test(tc, delivery_conflict_writes_nothing);
	tcase_add_test(tc, schema_version_and_plans);
	tcase_add_test(tc, concurrent_readers_and_writers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(store_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
