/* The engine pool without engines to talk to: FORJA_DOCKER_HOSTS parsing (options, defaults,
 * errors naming the entry) and placement over engines that answer or not. Engines that run
 * real builds are in tests/integration/pool_test.c. */
#include <check.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "deadline.h"
#include "errors.h"
#include "pool.h"

START_TEST(test_parse_entries_and_options)
{
	struct pool_spec s;
	char err[256] = "";
	int rc = pool_spec_parse(
	    "unix:///var/run/docker.sock, tcp://10.0.0.5:2376;slots=3 ;tls=/etc/forja/b,"
	    "tcp://10.0.0.6:2376",
	    2, "/etc/forja/engines", &s, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_str_eq(s.entries[0].host, "unix:///var/run/docker.sock");
	ck_assert_int_eq(s.entries[0].slots, 2);
	ck_assert_ptr_null(s.entries[0].cert_dir);
	ck_assert_str_eq(s.entries[1].host, "tcp://10.0.0.5:2376");
	ck_assert_int_eq(s.entries[1].slots, 3);
	ck_assert_str_eq(s.entries[1].cert_dir, "/etc/forja/b");
	/* a tcp:// engine without tls= takes FORJA_DOCKER_CERT_PATH */
	ck_assert_str_eq(s.entries[2].cert_dir, "/etc/forja/engines");
	pool_spec_free(&s);
}
END_TEST

static void refused(const char *list, const char *want)
{
	struct pool_spec s;
	char err[256] = "";
	ck_assert_int_eq(pool_spec_parse(list, 2, NULL, &s, err, sizeof(err)), FORJA_EINVAL);
	ck_assert_msg(strstr(err, want) != NULL, "\"%s\": error \"%s\" lacks \"%s\"", list, err,
		      want);
	ck_assert_uint_eq(s.n, 0);
}

START_TEST(test_parse_errors_name_the_entry)
{
	refused("unix:///a.sock,http://b:2376", "entry 2 (\"http://b:2376\")");
	refused("unix:///a.sock,,unix:///b.sock", "entry 2 (\"\")");
	refused("tcp://b:2376;slots=0", "entry 1 (tcp://b:2376): slots must be 1 to 64");
	refused("tcp://b:2376;slots=two", "slots must be 1 to 64");
	refused("tcp://b:2376;cpus=2", "unknown option \"cpus=2\"");
	refused("unix:///a.sock;tls=/x", "tls= is for tcp:// engines");
	refused("tcp://b", "not unix:///path or tcp://host:port");
	refused("unix:///a.sock, unix:///a.sock", "entry 2 (unix:///a.sock) repeats entry 1");
	refused("", "entry 1");
}
END_TEST

/* Engines at addresses nothing listens on: every ping fails quickly. */
static struct pool *dead_pool(const char *list)
{
	struct pool_spec s;
	struct pool *p = NULL;
	char err[256];
	ck_assert_int_eq(pool_spec_parse(list, 1, NULL, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(pool_new(&s, &p, err, sizeof(err)), 0);
	pool_spec_free(&s);
	return p;
}

START_TEST(test_down_engines_take_no_builds)
{
	struct pool *p = dead_pool("unix:///nonexistent/a.sock,unix:///nonexistent/b.sock");
	ck_assert_int_eq(pool_start(p, 60000, 0), 0);
	struct pool_state st[2];
	ck_assert_uint_eq(pool_states(p, st, 2), 2);
	ck_assert_int_eq(st[0].up, 0);
	ck_assert_msg(strstr(st[0].error, "unix:///nonexistent/a.sock") != NULL, "%s", st[0].error);
	/* nothing answers: a placement waits until its deadline */
	struct task_abort ab = {NULL, deadline_now_ms() + 300};
	struct pool_lease l;
	int64_t t0 = deadline_now_ms();
	ck_assert_int_eq(pool_acquire(p, NULL, NULL, &ab, &l), FORJA_ETIMEDOUT);
	ck_assert_int_ge(deadline_now_ms() - t0, 250);
	ck_assert_ptr_null(l.engine);
	pool_free(p);
}
END_TEST

START_TEST(test_one_engine_alone_is_handed_out_down)
{
	struct pool *p = dead_pool("unix:///nonexistent/a.sock;slots=1");
	ck_assert_int_eq(pool_start(p, 60000, 0), 0);
	struct task_abort ab = {NULL, deadline_now_ms() + 300};
	struct pool_lease l, l2;
	ck_assert_int_eq(pool_acquire(p, NULL, NULL, &ab, &l), 0);
	ck_assert_str_eq(engine_host(l.engine), "unix:///nonexistent/a.sock");
	/* its one slot is taken: the next waits */
	ck_assert_int_eq(pool_acquire(p, NULL, NULL, &ab, &l2), FORJA_ETIMEDOUT);
	struct pool_state st;
	pool_states(p, &st, 1);
	ck_assert_int_eq(st.in_use, 1);
	pool_release(p, &l, 1);
	pool_states(p, &st, 1);
	ck_assert_int_eq(st.in_use, 0);
	ck_assert_uint_eq(st.builds, 1);
	pool_free(p);
}
END_TEST

START_TEST(test_cancel_ends_a_wait)
{
	struct pool *p = dead_pool("unix:///nonexistent/a.sock,unix:///nonexistent/b.sock");
	ck_assert_int_eq(pool_start(p, 60000, 0), 0);
	atomic_int cancel;
	atomic_init(&cancel, 1);
	struct task_abort ab = {&cancel, 0};
	struct pool_lease l;
	ck_assert_int_eq(pool_acquire(p, NULL, NULL, &ab, &l), FORJA_ECANCELLED);
	pool_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_parse_entries_and_options);
	tcase_add_test(tc, test_parse_errors_name_the_entry);
	tcase_add_test(tc, test_down_engines_take_no_builds);
	tcase_add_test(tc, test_one_engine_alone_is_handed_out_down);
	tcase_add_test(tc, test_cancel_ends_a_wait);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
