/* Retention on a real history and real log files: old or surplus finished builds go with their
 * logs, never the newest build of a service nor a queued or running one; delivery records go;
 * the file is compacted. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build.h"
#include "build_logs.h"
#include "errors.h"
#include "retention.h"
#include "store.h"

#define DAY (24LL * 3600 * 1000)

static char dir[64];

/* A build of SERVICE created AGE_DAYS ago, left in STATUS, with a log line. */
static int64_t add(struct store *st, struct build_logs *logs, const char *service, int age_days,
		   enum build_status status)
{
	struct build *b = build_new();
	b->service = strdup(service);
	b->version = strdup("1");
	b->type = strdup("docker");
	b->clone_url = strdup("git://127.0.0.1/x.git");
	b->ref = strdup("main");
	b->trigger = TRIGGER_API;
	b->created_at = build_now_ms() - age_days * DAY;
	ck_assert_int_eq(store_build_insert(st, b), 0);
	int64_t id = b->id;
	build_free(b);
	ck_assert_int_eq(build_logs_appendf(logs, id, "line of build %lld", (long long)id), 0);
	if (status != BUILD_QUEUED)
		ck_assert_int_eq(store_build_start(st, id, build_now_ms(), NULL), 0);
	if (build_status_is_final(status)) {
		ck_assert_int_eq(store_build_finish(st, id, status, NULL, NULL, build_now_ms()), 0);
		build_logs_end(logs, id);
	}
	return id;
}

static int exists(struct store *st, int64_t id)
{
	struct build *b = NULL;
	int rc = store_build_get(st, id, &b);
	build_free(b);
	ck_assert(rc == 0 || rc == FORJA_ENOTFOUND);
	return rc == 0;
}

static int log_exists(int64_t id)
{
	char path[128];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/logs/%lld.log", dir, (long long)id);
	return stat(path, &sb) == 0;
}

START_TEST(test_age_and_count_limits)
{
	snprintf(dir, sizeof(dir), "/tmp/forja-retention-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct store *st = NULL;
	struct build_logs *logs = NULL;
	const char *secrets[] = {NULL};
	ck_assert_int_eq(store_open(dir, &st), 0);
	ck_assert_int_eq(build_logs_open(dir, secrets, 1 << 20, &logs), 0);

	int64_t a_old1 = add(st, logs, "a", 100, BUILD_SUCCEEDED);
	int64_t a_old2 = add(st, logs, "a", 90, BUILD_FAILED);
	int64_t a_new1 = add(st, logs, "a", 1, BUILD_SUCCEEDED);
	int64_t a_new2 = add(st, logs, "a", 0, BUILD_CANCELLED);
	int64_t b_only = add(st, logs, "b", 200, BUILD_SUCCEEDED); /* the newest of b: its badge */
	int64_t c_run = add(st, logs, "c", 120, BUILD_RUNNING);
	int64_t c_q = add(st, logs, "c", 110, BUILD_QUEUED);
	ck_assert(log_exists(a_old1));

	struct retention_opts o = {
	    .store = st, .logs = logs, .keep_days = 30, .delivery_days = 30, .interval_s = 3600};
	size_t nb = 0, nd = 0;
	ck_assert_int_eq(retention_run(&o, &nb, &nd), 0);
	ck_assert_uint_eq(nb, 2);
	ck_assert(!exists(st, a_old1) && !exists(st, a_old2));
	ck_assert(!log_exists(a_old1) && !log_exists(a_old2));
	ck_assert(exists(st, a_new1) && exists(st, a_new2) && exists(st, b_only));
	ck_assert(exists(st, c_run) && exists(st, c_q));
	ck_assert(log_exists(a_new1) && log_exists(b_only));

	/* keep one per service: a's older one goes; b's only and c's unfinished stay */
	o.keep_days = 0;
	o.keep_builds = 1;
	ck_assert_int_eq(retention_run(&o, &nb, &nd), 0);
	ck_assert_uint_eq(nb, 1);
	ck_assert(!exists(st, a_new1) && exists(st, a_new2));
	ck_assert(exists(st, b_only) && exists(st, c_run) && exists(st, c_q));
	/* nothing more to do: a pass removes nothing */
	ck_assert_int_eq(retention_run(&o, &nb, &nd), 0);
	ck_assert_uint_eq(nb, 0);

	/* delivery records before the cutoff go, and their duplicate check with them */
	struct build *d = build_new();
	d->service = strdup("d");
	d->version = strdup("1");
	d->clone_url = strdup("git://127.0.0.1/x.git");
	d->ref = strdup("main");
	ck_assert_int_eq(store_delivery_insert(st, "1", "delivery-1", &d, 1), 0);
	build_free(d);
	struct store_prune_opts po = {.deliveries_before_ms = build_now_ms() + 1000,
				      .max_builds = 10};
	int64_t *ids = NULL;
	size_t n = 0, ndel = 0;
	ck_assert_int_eq(store_prune(st, &po, &ids, &n, &ndel), 0);
	free(ids);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(ndel, 1);
	ck_assert_int_eq(store_compact(st, 0), 0);

	build_logs_close(logs);
	store_close(st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("retention");
	TCase *tc = tcase_create("retention");
	tcase_add_test(tc, test_age_and_count_limits);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
