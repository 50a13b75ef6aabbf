/* The engine client's decoding of streamed /build and /push answers, without an engine: JSON
 * lines cut anywhere by the transport, log text in whole lines, and the outcome. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "engine.h"
#include "errors.h"

static void on_log(void *ud, const char *text, size_t len)
{
	ck_assert_int_eq(dynbuf_add(ud, text, len), 0);
}

static const char build_body[] = "{\"stream\":\"Step 1/2 : FROM busybox\"}\r\n"
				 "{\"stream\":\"\\n\"}\n"
				 "{\"aux\":{\"ID\":\"sha256:abc\"}}\n"
				 "{\"stream\":\"Successfully built abc\\n\"}";

START_TEST(build_split_anywhere)
{
	/* every piece size, 1 byte up to the whole body, must decode the same */
	for (size_t chunk = 0; chunk < sizeof(build_body); chunk++) {
		struct dynbuf text;
		struct task_log log = {.write = on_log, .ud = &text};
		char id[80], err[256] = "";

		dynbuf_init(&text, 4096);
		ck_assert_int_eq(engine_stream_decode(false, 200, build_body,
						      sizeof(build_body) - 1, chunk, &log, id, err,
						      sizeof(err)),
				 0);
		ck_assert_str_eq(id, "sha256:abc");
		ck_assert_str_eq(dynbuf_str(&text),
				 "Step 1/2 : FROM busybox\nSuccessfully built abc\n");
		dynbuf_free(&text);
	}
}
END_TEST

START_TEST(push_error_and_status)
{
	static const char push_err[] =
	    "{\"status\":\"Pushing\",\"progress\":\"[=>  ]\",\"id\":\"1\"}\n"
	    "{\"errorDetail\":{\"message\":\"unauthorized: no\"}}\n";
	static const char too_new[] = "{\"message\":\"client version 1.99 is too new\"}\n";
	char digest[80], err[256];

	ck_assert_int_eq(engine_stream_decode(true, 200, push_err, sizeof(push_err) - 1, 7, NULL,
					      digest, err, sizeof(err)),
			 FORJA_EAUTH);
	ck_assert_msg(strstr(err, "push failed: unauthorized: no"), "%s", err);
	ck_assert_int_eq(engine_stream_decode(false, 400, too_new, sizeof(too_new) - 1, 0, NULL,
					      digest, err, sizeof(err)),
			 FORJA_EUPSTREAM);
	ck_assert_msg(strstr(err, "HTTP 400): client version"), "%s", err);
	ck_assert_int_eq(engine_stream_decode(false, 404, "page not found", 14, 0, NULL, digest,
					      err, sizeof(err)),
			 FORJA_ENOTFOUND);
	ck_assert_msg(strstr(err, "page not found"), "%s", err);
	ck_assert_int_eq(engine_stream_decode(false, 200, "", 0, 0, NULL, digest, err, sizeof(err)),
			 FORJA_EUPSTREAM);
	ck_assert_msg(strstr(err, "without a result"), "%s", err);
}
END_TEST

/* One message past the 1 MiB line bound cannot be decoded: it is noted and skipped, and the
 * lines after it still count. */
START_TEST(over_long_message_dropped)
{
	static const char tail[] = "\n{\"aux\":{\"ID\":\"sha256:def\"}}\n";
	size_t big = 1024 * 1024 + 16, len = big + sizeof(tail) - 1;
	char *body = malloc(len), id[80], err[256];
	struct dynbuf text;
	struct task_log log = {.write = on_log, .ud = &text};

	ck_assert_ptr_nonnull(body);
	memset(body, 'x', big);
	memcpy(body, "{\"stream\":\"", 11);
	memcpy(body + big, tail, sizeof(tail) - 1);
	dynbuf_init(&text, 4096);
	ck_assert_int_eq(
	    engine_stream_decode(false, 200, body, len, 65536, &log, id, err, sizeof(err)), 0);
	ck_assert_str_eq(id, "sha256:def");
	ck_assert_msg(strstr(dynbuf_str(&text), "over 1 MiB dropped"), "%s", dynbuf_str(&text));
	dynbuf_free(&text);
	free(body);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("stream");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, build_split_anywhere);
	tcase_add_test(tc, push_error_and_status);
	tcase_add_test(tc, over_long_message_dropped);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
