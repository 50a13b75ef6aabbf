/* The event ring without a server: frames in order with growing ids, resume after an id,
 * whole frames only, the oldest dropped when full and a reader told it missed them. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build.h"
#include "events.h"

static void emit(struct events *ev, int64_t id, enum build_status st)
{
	struct build *b = build_new();
	b->id = id;
	b->service = strdup("svc");
	b->version = strdup("1");
	b->status = st;
	events_on_build(ev, b);
	build_free(b);
}

static int count(const char *text, const char *needle)
{
	int n = 0;
	for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static int woken;
static void on_wake(void *ud, int64_t key)
{
	(void)ud;
	ck_assert_int_eq(key, EVENTS_WAKE_KEY);
	woken++;
}

START_TEST(test_frames_in_order_and_resume)
{
	struct events *ev = NULL;
	ck_assert_int_eq(events_new(16, "http://forja.example", &ev), 0);
	events_set_notify(ev, on_wake, NULL);
	int64_t start = events_last_id(ev);
	emit(ev, 1, BUILD_QUEUED);
	emit(ev, 1, BUILD_RUNNING);
	emit(ev, 1, BUILD_SUCCEEDED);
	emit(ev, 2, BUILD_CANCELLED);
	ck_assert_int_eq(woken, 4);
	ck_assert_int_eq(events_last_id(ev), start + 4);

	char buf[16384];
	int64_t last = 0;
	int missed = -1;
	size_t n = events_read(ev, start, buf, sizeof(buf) - 1, &last, &missed);
	buf[n] = '\0';
	ck_assert_int_eq(missed, 0);
	ck_assert_int_eq(last, start + 4);
	ck_assert_int_eq(count(buf, "\n\n"), 4);
	const char *q = strstr(buf, "event: queued\n"), *s = strstr(buf, "event: started\n");
	const char *f = strstr(buf, "event: finished\n"), *c = strstr(buf, "event: cancelled\n");
	ck_assert(q && s && f && c && q < s && s < f && f < c);
	char first[64];
	snprintf(first, sizeof(first), "id: %lld\nevent: queued\ndata: {", (long long)start + 1);
	ck_assert_msg(strncmp(buf, first, strlen(first)) == 0, "%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "\"log\":\"http://forja.example/builds/1/log\""));

	/* after the second: the last two, whole */
	n = events_read(ev, start + 2, buf, sizeof(buf) - 1, &last, &missed);
	buf[n] = '\0';
	ck_assert_int_eq(count(buf, "\n\n"), 2);
	ck_assert_ptr_nonnull(strstr(buf, "event: finished"));
	/* a buffer too small for one frame gets nothing, and the id does not move */
	n = events_read(ev, start, buf, 10, &last, &missed);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(last, start);
	events_free(ev);
}
END_TEST

START_TEST(test_full_ring_drops_the_oldest)
{
	struct events *ev = NULL;
	ck_assert_int_eq(events_new(4, NULL, &ev), 0);
	int64_t start = events_last_id(ev);
	for (int i = 1; i <= 10; i++)
		emit(ev, i, BUILD_QUEUED);
	char buf[16384];
	int64_t last = 0;
	int missed = 0;
	/* the reader had seen only the first: events 2 to 6 are gone */
	size_t n = events_read(ev, start + 1, buf, sizeof(buf) - 1, &last, &missed);
	buf[n] = '\0';
	ck_assert_int_eq(missed, 1);
	ck_assert_int_eq(count(buf, "\n\n"), 4);
	ck_assert_int_eq(last, start + 10);
	/* one that saw the sixth misses nothing */
	n = events_read(ev, start + 6, buf, sizeof(buf) - 1, &last, &missed);
	ck_assert_int_eq(missed, 0);
	/* an id from an earlier run (below this run's first) missed nothing of this run */
	n = events_read(ev, start - 5, buf, sizeof(buf) - 1, &last, &missed);
	ck_assert_int_eq(missed, 0);
	ck_assert_int_eq(last, start + 10);
	events_free(ev);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("events");
	TCase *tc = tcase_create("events");
	tcase_add_test(tc, test_frames_in_order_and_resume);
	tcase_add_test(tc, test_full_ring_drops_the_oldest);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
