#include "testbuild.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/build.h"
#include "../../src/build_logs.h"
#include "../../src/builder.h"
#include "../../src/deadline.h"
#include "../../src/queue.h"
#include "../../src/store.h"
#include "testgit.h"

#define POLL_US (50 * 1000)
#define LOG_CAP (1 << 20)

int64_t testbuild_queue(struct testenv *t, const char *service, const char *version,
			const char *url, const char *sha)
{
	struct build *b = build_new();
	char image[512];
	int64_t id;
	b->service = strdup(service);
	b->version = strdup(version);
	b->type = strdup("docker");
	b->repository = strdup(url);
	b->clone_url = strdup(url);
	b->commit = strdup(sha);
	b->ref = strdup(sha);
	b->trigger = TRIGGER_CLI;
	builder_image_ref(t->cfg.registry, service, version, image, sizeof(image));
	b->image = strdup(image);
	ck_assert_int_eq(store_build_insert(t->app.store, b), 0);
	id = b->id;
	build_free(b);
	ck_assert_int_eq(queue_push(t->app.queue, id), 0);
	return id;
}

char *testbuild_read_log(struct testenv *t, int64_t id)
{
	size_t len = 0;
	char *buf = calloc(1, LOG_CAP);
	int ended;
	ck_assert_ptr_nonnull(buf);
	for (;;) {
		long n =
		    build_logs_read(t->app.logs, id, len, buf + len, LOG_CAP - 1 - len, &ended);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	return buf;
}

void testbuild_wait_log(struct testenv *t, int64_t id, const char *needle, int secs)
{
	int64_t end = deadline_now_ms() + secs * 1000LL;
	for (;;) {
		char *log = testbuild_read_log(t, id);
		int found = strstr(log, needle) != NULL;
		if (found || deadline_now_ms() > end) {
			ck_assert_msg(found, "build %lld never logged %s:\n%s", (long long)id,
				      needle, log);
			free(log);
			return;
		}
		free(log);
		usleep(POLL_US);
	}
}

/* Build ID once its status is final, or aborts the test once the clock passes END_MS; SECS is
 * the budget END_MS was set from, for the message. */
static struct build *wait_final_until(struct testenv *t, int64_t id, int64_t end_ms, int secs)
{
	for (;;) {
		struct build *b = NULL;
		ck_assert_int_eq(store_build_get(t->app.store, id, &b), 0);
		if (build_status_is_final(b->status))
			return b;
		enum build_status status = b->status;
		build_free(b);
		ck_assert_msg(deadline_now_ms() < end_ms, "build %lld still %s after %d s",
			      (long long)id, build_status_name(status), secs);
		usleep(POLL_US);
	}
}

struct build *testbuild_wait_final(struct testenv *t, int64_t id, int secs)
{
	return wait_final_until(t, id, deadline_now_ms() + secs * 1000LL, secs);
}

void testbuild_wait_all_final(struct testenv *t, const int64_t *ids, int n, int secs)
{
	int64_t end = deadline_now_ms() + secs * 1000LL;
	for (int i = 0; i < n; i++)
		build_free(wait_final_until(t, ids[i], end, secs));
}

void testbuild_make_repo(const char *prefix, int secs, char *name, size_t name_len, char *url,
			 size_t url_len, char *sha)
{
	char unique[128], dockerfile[512], stamp[192];
	testgit_unique(prefix, unique, sizeof(unique));
	snprintf(stamp, sizeof(stamp), "%s %lld\n", unique, (long long)deadline_now_ms());
	snprintf(dockerfile, sizeof(dockerfile),
		 "FROM %s\nCOPY stamp /stamp\nRUN echo line-one && sleep %d && echo line-two\n",
		 testenv_need("FORJA_TEST_BASE_IMAGE"), secs);
	const char *files[] = {"Dockerfile", dockerfile, "stamp", stamp, NULL};
	testgit_commit(unique, "main", files, sha);
	testgit_url(unique, url, (unsigned)url_len);
	if (name)
		snprintf(name, name_len, "%s", unique);
}
