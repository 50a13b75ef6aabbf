/* Build logs on disk: append and read back, the cap with its single marker, secret masking,
 * continuation after a reopen, and a follower on another thread woken by an append. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build_logs.h"
#include "errors.h"

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

static struct build_logs *open_fresh(const char *const *secrets, size_t max)
{
	snprintf(dir, sizeof(dir), "/tmp/forja-logs-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	struct build_logs *logs = NULL;
	ck_assert_int_eq(build_logs_open(dir, secrets, max, &logs), 0);
	return logs;
}

/* The whole log of ID as a NUL-terminated string (free()). */
static char *read_all(struct build_logs *logs, int64_t id, int *ended)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap + 1);
	for (;;) {
		long n = build_logs_read(logs, id, len, buf + len, cap - len, ended);
		ck_assert_int_ge(n, 0);
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return buf;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

START_TEST(append_read_end)
{
	struct build_logs *logs = open_fresh(NULL, 0);
	int ended = -1;
	char *text = read_all(logs, 1, &ended);
	ck_assert_str_eq(text, "");
	ck_assert_int_eq(ended, 0);
	free(text);
	ck_assert_int_eq(build_logs_append(logs, 1, "step 1\n", 7), 0);
	ck_assert_int_eq(build_logs_appendf(logs, 1, "step %d", 2), 0);
	ck_assert_int_eq(build_logs_append(logs, 2, "other\n", 6), 0);
	text = read_all(logs, 1, &ended);
	ck_assert_str_eq(text, "step 1\nstep 2\n");
	ck_assert_int_eq(ended, 0);
	free(text);
	build_logs_end(logs, 1);
	text = read_all(logs, 1, &ended);
	ck_assert_str_eq(text, "step 1\nstep 2\n");
	ck_assert_int_eq(ended, 1);
	free(text);
	/* partial reads from an offset */
	char small[4];
	ck_assert_int_eq(build_logs_read(logs, 1, 5, small, sizeof(small), &ended), 4);
	ck_assert_int_eq(memcmp(small, "1\nst", 4), 0);
	build_logs_close(logs);

	/* a new process sees the file; a second run appends after it */
	ck_assert_int_eq(build_logs_open(dir, NULL, 0, &logs), 0);
	ck_assert_int_eq(build_logs_append(logs, 1, "again\n", 6), 0);
	text = read_all(logs, 1, &ended);
	ck_assert_str_eq(text, "step 1\nstep 2\nagain\n");
	free(text);
	build_logs_close(logs);
}
END_TEST

START_TEST(cap_with_one_marker)
{
	struct build_logs *logs = open_fresh(NULL, 1024);
	char line[101];
	memset(line, 'x', 99);
	line[99] = '\n';
	line[100] = '\0';
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(build_logs_append(logs, 7, line, 100), 0);
	int ended;
	char *text = read_all(logs, 7, &ended);
	ck_assert_uint_le(strlen(text), 1024 + 128);
	ck_assert_uint_ge(strlen(text), 1024);
	ck_assert_int_eq(count(text, "log truncated"), 1);
	/* the marker stands on its own line at the end */
	ck_assert_ptr_nonnull(strstr(text, "\n[forja: log truncated at 1024 bytes"));
	ck_assert_int_eq(text[strlen(text) - 1], '\n');
	free(text);
	build_logs_close(logs);

	/* reopened: still over the cap, no second marker */
	ck_assert_int_eq(build_logs_open(dir, NULL, 1024, &logs), 0);
	ck_assert_int_eq(build_logs_append(logs, 7, line, 100), 0);
	text = read_all(logs, 7, &ended);
	ck_assert_int_eq(count(text, "log truncated"), 1);
	free(text);
	build_logs_close(logs);
}
END_TEST

START_TEST(secrets_are_masked)
{
	const char *const secrets[] = {"hunter2", "s3cr3t-token", "", "hunter2-long", NULL};
	struct build_logs *logs = open_fresh(secrets, 0);
	const char *in = "login with hunter2\nAuthorization: Bearer s3cr3t-token!\n"
			 "hunter2-long and hunter2hunter2\n";
	ck_assert_int_eq(build_logs_append(logs, 3, in, strlen(in)), 0);
	ck_assert_int_eq(build_logs_appendf(logs, 3, "pw=%s", "hunter2"), 0);
	int ended;
	char *text = read_all(logs, 3, &ended);
	ck_assert_str_eq(text, "login with ****\nAuthorization: Bearer ****!\n"
			       "**** and ********\npw=****\n");
	ck_assert_ptr_null(strstr(text, "hunter2"));
	free(text);
	/* nothing on disk either */
	char path[400], raw[512];
	snprintf(path, sizeof(path), "%s/logs/3.log", dir);
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(raw, 1, sizeof(raw) - 1, f);
	raw[n] = '\0';
	fclose(f);
	ck_assert_ptr_null(strstr(raw, "s3cr3t"));
	build_logs_close(logs);
}
END_TEST

struct follower {
	struct build_logs *logs;
	char got[256];
	size_t len;
	int ended;
	long waited_ms;
};

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *follow_main(void *arg)
{
	struct follower *fl = arg;
	long start = now_ms();
	while (!fl->ended && now_ms() - start < 10000) {
		long n = build_logs_read(fl->logs, 9, fl->len, fl->got + fl->len,
					 sizeof(fl->got) - 1 - fl->len, &fl->ended);
		if (n > 0) {
			fl->len += (size_t)n;
			if (fl->waited_ms == 0)
				fl->waited_ms = now_ms() - start;
			continue;
		}
		if (!fl->ended)
			build_logs_wait(fl->logs, 9, fl->len, 5000);
	}
	fl->got[fl->len] = '\0';
	return NULL;
}

START_TEST(follower_wakes_on_append)
{
	struct build_logs *logs = open_fresh(NULL, 0);
	struct follower fl = {.logs = logs};
	pthread_t th;
	pthread_create(&th, NULL, follow_main, &fl);
	/* the follower is parked in build_logs_wait (5 s slices) before the first byte exists */
	usleep(200 * 1000);
	long t0 = now_ms();
	ck_assert_int_eq(build_logs_append(logs, 9, "first\n", 6), 0);
	/* wait for the follower to see it: must be far quicker than its 5 s slice */
	while (fl.len == 0 && now_ms() - t0 < 4000)
		usleep(1000);
	ck_assert_int_eq(fl.len, 6);
	ck_assert_int_lt(now_ms() - t0, 1000);
	ck_assert_int_eq(build_logs_append(logs, 9, "second\n", 7), 0);
	build_logs_end(logs, 9);
	pthread_join(th, NULL);
	ck_assert_int_eq(fl.ended, 1);
	ck_assert_str_eq(fl.got, "first\nsecond\n");
	build_logs_close(logs);
}
END_TEST

START_TEST(wait_times_out)
{
	struct build_logs *logs = open_fresh(NULL, 0);
	long t0 = now_ms();
	build_logs_wait(logs, 5, 0, 300);
	long took = now_ms() - t0;
	ck_assert_int_ge(took, 250);
	ck_assert_int_lt(took, 2000);
	build_logs_end(logs, 5);
	t0 = now_ms();
	build_logs_wait(logs, 5, 0, 3000); /* ended: returns at once */
	ck_assert_int_lt(now_ms() - t0, 500);
	build_logs_close(logs);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("build_log");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, NULL, remove_dir);
	tcase_add_test(tc, append_read_end);
	tcase_add_test(tc, cap_with_one_marker);
	tcase_add_test(tc, secrets_are_masked);
	tcase_add_test(tc, follower_wakes_on_append);
	tcase_add_test(tc, wait_times_out);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
