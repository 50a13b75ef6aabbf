/* The log sink: info lines buffered and written within the flush delay, warnings and errors at
 * once and after what was buffered, everything written by log_close, long lines cut to one. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* the function name in each line is fixed, so the expected text does not depend on the test */
#undef log_info
#undef log_error
#undef log_warn
#undef log_debug
#define log_info(...)  log_message(LOG_LEVEL_INFO, "test_fn", __VA_ARGS__)
#define log_error(...) log_message(LOG_LEVEL_ERROR, "test_fn", __VA_ARGS__)
#define log_warn(...)  log_message(LOG_LEVEL_WARN, "test_fn", __VA_ARGS__)
#define log_debug(...) log_message(LOG_LEVEL_DEBUG, "test_fn", __VA_ARGS__)

static char path[] = "/tmp/forja-log-test-XXXXXX";
static int saved_out = -1, saved_err = -1;

/* Standard output and error both into a fresh file, as under systemd or docker logs. */
static void capture(void)
{
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	saved_out = dup(STDOUT_FILENO);
	saved_err = dup(STDERR_FILENO);
	ck_assert_int_ge(dup2(fd, STDOUT_FILENO), 0);
	ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
	close(fd);
}

static void release(void)
{
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	unlink(path);
	strcpy(path, "/tmp/forja-log-test-XXXXXX");
}

static char *contents(void)
{
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(error_comes_at_once_after_buffered_lines)
{
	capture();
	ck_assert_int_eq(log_open("info"), 0);
	log_info("first %d", 1);
	log_error("then %s", "bad");
	const char *text = contents();
	const char *a = strstr(text, "INFO: test_fn: first 1\n");
	const char *b = strstr(text, "ERROR: test_fn: then bad\n");
	/* written before log_error returned, in the order logged */
	ck_assert_msg(a && b && a < b, "got: %s", text);
	ck_assert_ptr_nonnull(strstr(text, " - forja INFO: starting\n"));
	log_close();
	release();
}
END_TEST

START_TEST(info_is_written_within_the_delay)
{
	capture();
	ck_assert_int_eq(log_open("info"), 0);
	long long t0 = now_ms();
	log_info("later");
	while (!strstr(contents(), "INFO: test_fn: later\n") && now_ms() - t0 < 5000)
		usleep(5000);
	long long waited = now_ms() - t0;
	ck_assert_msg(strstr(contents(), "INFO: test_fn: later\n"), "not written in 5 s");
	/* the flusher, not log_close, wrote it; a loaded machine may add to the 100 ms */
	ck_assert_int_lt(waited, 5000);
	log_close();
	release();
}
END_TEST

START_TEST(close_writes_everything_and_level_filters)
{
	capture();
	ck_assert_int_eq(log_open("warning"), 0);
	log_info("hidden");
	log_warn("shown");
	log_close();
	ck_assert_int_eq(log_open("debug"), 0);
	for (int i = 0; i < 2000; i++)
		log_debug("line %04d", i);
	log_close();
	const char *text = contents();
	ck_assert_ptr_null(strstr(text, "hidden"));
	ck_assert_ptr_nonnull(strstr(text, "WARNING: test_fn: shown\n"));
	/* more than the buffer holds: every line, once, in order */
	const char *p = text;
	for (int i = 0; i < 2000; i++) {
		char want[64];
		snprintf(want, sizeof(want), "DEBUG: test_fn: line %04d\n", i);
		const char *at = strstr(p, want);
		ck_assert_msg(at, "line %d missing or out of order", i);
		p = at + strlen(want);
	}
	release();
}
END_TEST

START_TEST(a_long_line_stays_one_line)
{
	capture();
	ck_assert_int_eq(log_open("info"), 0);
	char *big = malloc(10000);
	memset(big, 'x', 9999);
	big[9999] = '\0';
	log_error("%s", big);
	log_info("after");
	log_close();
	free(big);
	const char *text = contents();
	const char *err = strstr(text, "ERROR: ");
	ck_assert_ptr_nonnull(err);
	const char *nl = strchr(err, '\n');
	ck_assert_ptr_nonnull(nl);
	ck_assert_ptr_nonnull(strstr(nl, "INFO: test_fn: after\n"));
	release();
}
END_TEST

START_TEST(opens_nest_and_the_last_close_ends)
{
	capture();
	ck_assert_int_eq(log_open("info"), 0);
	/* a second server in the same process */
	ck_assert_int_eq(log_open("debug"), 0);
	log_info("both open");
	log_close();
	log_info("one open");
	log_debug("below the first one's level");
	log_close();
	const char *text = contents();
	ck_assert_ptr_nonnull(strstr(text, "INFO: test_fn: both open\n"));
	ck_assert_ptr_nonnull(strstr(text, "INFO: test_fn: one open\n"));
	ck_assert_ptr_null(strstr(text, "below the first"));
	/* and logging opens again afterwards */
	ck_assert_int_eq(log_open("info"), 0);
	log_info("again");
	log_close();
	ck_assert_ptr_nonnull(strstr(contents(), "INFO: test_fn: again\n"));
	release();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("sink");
	tcase_add_test(tc, error_comes_at_once_after_buffered_lines);
	tcase_add_test(tc, info_is_written_within_the_delay);
	tcase_add_test(tc, close_writes_everything_and_level_filters);
	tcase_add_test(tc, a_long_line_stays_one_line);
	tcase_add_test(tc, opens_nest_and_the_last_close_ends);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
