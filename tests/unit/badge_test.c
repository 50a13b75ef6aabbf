/* Badge rendering: widths from the Verdana table, texts and colours per build state, escaping of
 * everything that reaches the SVG, and well-formed XML for any input. */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "badge.h"
#include "errors.h"
#include "xml_check.h"

/* The numeric value of attribute ATTR of the first element NAME (e.g. "<svg"). */
static int attr_int(const char *svg, const char *elem, const char *attr)
{
	const char *e = strstr(svg, elem);
	ck_assert_ptr_nonnull(e);
	char key[32];
	snprintf(key, sizeof(key), " %s=\"", attr);
	const char *a = strstr(e, key);
	ck_assert_ptr_nonnull(a);
	char *end;
	long v = strtol(a + strlen(key), &end, 10);
	ck_assert_int_eq(*end, '"');
	return (int)v;
}

static struct build make_build(enum build_status st, const char *version)
{
	struct build b;
	memset(&b, 0, sizeof(b));
	b.status = st;
	b.version = (char *)version;
	b.service = (char *)"api";
	return b;
}

static void assert_badge(const char *svg, const char *label, const char *message, const char *color)
{
	char want[256];
	ck_assert_ptr_nonnull(svg);
	const char *why = xml_check(svg);
	ck_assert_msg(why == NULL, "not well-formed (%s): %s", why ? why : "", svg);
	snprintf(want, sizeof(want), "aria-label=\"%s: %s\"", label, message);
	ck_assert_msg(strstr(svg, want), "no %s in %s", want, svg);
	snprintf(want, sizeof(want), "<title>%s: %s</title>", label, message);
	ck_assert_msg(strstr(svg, want), "no %s in %s", want, svg);
	snprintf(want, sizeof(want), ">%s</text>", message);
	ck_assert_msg(strstr(svg, want), "no message text %s in %s", want, svg);
	snprintf(want, sizeof(want), "fill=\"%s\"/>", color);
	ck_assert_msg(strstr(svg, want), "no colour %s in %s", color, svg);
	ck_assert_ptr_nonnull(strstr(svg, "role=\"img\""));
}

START_TEST(test_widths_from_table)
{
	ck_assert_double_eq_tol(badge_text_width("m"), 10.7, 0.01);
	ck_assert_double_eq_tol(badge_text_width("v1.2.511"), 49.5, 0.05);
	ck_assert_double_eq_tol(badge_text_width(""), 0, 0.001);
	/* non-ASCII: one '@' per code point, not per byte */
	ck_assert_double_eq_tol(badge_text_width("\xc3\xa9\xe2\x82\xac"), 2 * badge_text_width("@"),
				0.001);
	/* control characters are dropped from the badge, so they take no room */
	ck_assert_double_eq_tol(badge_text_width("a\x01\x7f"), badge_text_width("a"), 0.001);
	ck_assert(badge_text_width("iiii") < badge_text_width("WWWW"));
}
END_TEST

START_TEST(test_each_state)
{
	struct build b = make_build(BUILD_SUCCEEDED, "1.2.0");
	char *svg = badge_render_build(&b, NULL);
	assert_badge(svg, "build", "1.2.0", "#4c1");
	free(svg);

	b = make_build(BUILD_FAILED, "1.2.0");
	svg = badge_render_build(&b, NULL);
	assert_badge(svg, "build", "1.2.0 failing", "#e05d44");
	free(svg);

	b = make_build(BUILD_RUNNING, "1.2.0");
	svg = badge_render_build(&b, NULL);
	assert_badge(svg, "build", "1.2.0 running", "#dfb317");
	free(svg);

	b = make_build(BUILD_QUEUED, "1.2.0");
	svg = badge_render_build(&b, "");
	assert_badge(svg, "build", "1.2.0 queued", "#dfb317");
	free(svg);

	b = make_build(BUILD_CANCELLED, "1.2.0");
	svg = badge_render_build(&b, NULL);
	assert_badge(svg, "build", "1.2.0 cancelled", "#9f9f9f");
	free(svg);

	svg = badge_render_build(NULL, NULL);
	assert_badge(svg, "build", "unknown", "#9f9f9f");
	free(svg);
}
END_TEST

START_TEST(test_label_override)
{
	struct build b = make_build(BUILD_SUCCEEDED, "2.0.0");
	char *svg = badge_render_build(&b, "api");
	assert_badge(svg, "api", "2.0.0", "#4c1");
	ck_assert_ptr_null(strstr(svg, ">build<"));
	free(svg);
}
END_TEST

START_TEST(test_width_grows_with_text)
{
	struct build b = make_build(BUILD_SUCCEEDED, "1.0");
	char *small = badge_render_build(&b, NULL);
	b.version = (char *)"1.0.0-rc.1+build.20261122.abcdef0123456789";
	char *big = badge_render_build(&b, NULL);
	int ws = attr_int(small, "<svg", "width"), wb = attr_int(big, "<svg", "width");
	ck_assert_int_gt(wb, ws + 150);
	/* width = label part + message part, each text width plus 5 px padding per side */
	int label_w = attr_int(big, "url(#r)\"><rect", "width");
	int msg_w = attr_int(big, "<rect x=", "width");
	ck_assert_int_eq(label_w + msg_w, wb);
	double tw = badge_text_width(b.version);
	ck_assert(msg_w >= tw + 9 && msg_w <= tw + 12);
	free(small);
	free(big);
}
END_TEST

START_TEST(test_escapes_markup)
{
	struct build b = make_build(BUILD_FAILED, "1.0\"/><script>alert(1)</script>");
	char *svg = badge_render_build(&b, "<script>alert('x')</script>&");
	ck_assert_ptr_nonnull(svg);
	ck_assert_ptr_null(strstr(svg, "<script"));
	ck_assert_ptr_nonnull(strstr(svg, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"));
	ck_assert_ptr_nonnull(strstr(svg, "1.0&quot;/&gt;&lt;script&gt;"));
	const char *why = xml_check(svg);
	ck_assert_msg(why == NULL, "%s: %s", why ? why : "", svg);
	free(svg);
}
END_TEST

START_TEST(test_strips_controls_and_bad_utf8)
{
	char *svg =
	    badge_render("a\x01\x1b[31mb\x7f\r\n", "\xff\xfe ok \xc3\x28 \xed\xa0\x80", "#4c1");
	ck_assert_ptr_nonnull(svg);
	for (const char *p = svg; *p; p++)
		ck_assert_msg((unsigned char)*p >= 0x20, "control byte in %s", svg);
	ck_assert_ptr_nonnull(strstr(svg, ">a[31mb</text>"));
	/* every invalid byte became U+FFFD, so the document is valid UTF-8 */
	ck_assert_ptr_nonnull(strstr(svg, "\xef\xbf\xbd\xef\xbf\xbd ok \xef\xbf\xbd("));
	ck_assert_ptr_null(xml_check(svg));
	free(svg);
}
END_TEST

START_TEST(test_bad_color_falls_back)
{
	char *svg = badge_render("x", "y", "red\"/><script>");
	ck_assert_ptr_nonnull(svg);
	ck_assert_ptr_null(strstr(svg, "<script"));
	ck_assert_ptr_nonnull(strstr(svg, "fill=\"#9f9f9f\"/>"));
	free(svg);
}
END_TEST

START_TEST(test_light_background_dark_text)
{
	char *svg = badge_render("x", "y", "#fff");
	ck_assert_ptr_nonnull(strstr(svg, "fill=\"#333\""));
	free(svg);
	svg = badge_render("x", "y", "#4c1");
	ck_assert_ptr_null(strstr(svg, "fill=\"#333\""));
	free(svg);
}
END_TEST

START_TEST(test_long_text_is_bounded)
{
	char big[4096];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char *svg = badge_render(big, big, "#4c1");
	ck_assert_ptr_nonnull(svg);
	ck_assert_uint_lt(strlen(svg), 8192);
	ck_assert_ptr_null(xml_check(svg));
	free(svg);
}
END_TEST

START_TEST(test_hash_depends_on_content)
{
	ck_assert_uint_eq(badge_hash("abc", 3), badge_hash("abc", 3));
	ck_assert_uint_ne(badge_hash("abc", 3), badge_hash("abd", 3));
	/* FNV-1a 64 test vector */
	ck_assert_uint_eq(badge_hash("a", 1), 0xaf63dc4c8601ec8cULL);
}
END_TEST

START_TEST(test_xml_check_can_fail)
{
	ck_assert_ptr_nonnull(xml_check("<svg><g></svg>"));
	ck_assert_ptr_nonnull(xml_check("<svg a=\"<\"/>"));
	ck_assert_ptr_nonnull(xml_check("<svg>&bogus</svg>"));
	ck_assert_ptr_null(xml_check("<svg a=\"&amp;\"><g/>t&lt;</svg>"));
}
END_TEST

START_TEST(test_cache_hits_only_at_its_generation)
{
	struct badge_cache *c = NULL;
	ck_assert_int_eq(badge_cache_new(&c), 0);
	char *svg = NULL, etag[BADGE_ETAG_MAX];
	size_t len = 0;
	ck_assert_int_eq(badge_cache_get(c, 1, "api", NULL, NULL, &svg, &len, etag),
			 FORJA_ENOTFOUND);
	badge_cache_put(c, 1, "api", NULL, NULL, "<svg>a</svg>", 12, "\"e1\"");
	ck_assert_int_eq(badge_cache_get(c, 1, "api", NULL, NULL, &svg, &len, etag), 0);
	ck_assert_str_eq(svg, "<svg>a</svg>");
	ck_assert_uint_eq(len, 12);
	ck_assert_str_eq(etag, "\"e1\"");
	free(svg);
	/* the history changed: the entry is not served any more */
	ck_assert_int_eq(badge_cache_get(c, 2, "api", NULL, NULL, &svg, &len, etag),
			 FORJA_ENOTFOUND);
	ck_assert_ptr_null(svg);
	/* a reading taken before a newer one never replaces it */
	badge_cache_put(c, 3, "api", NULL, NULL, "<svg>new</svg>", 14, "\"e3\"");
	badge_cache_put(c, 2, "api", NULL, NULL, "<svg>old</svg>", 14, "\"e2\"");
	ck_assert_int_eq(badge_cache_get(c, 3, "api", NULL, NULL, &svg, &len, etag), 0);
	ck_assert_str_eq(svg, "<svg>new</svg>");
	free(svg);
	badge_cache_free(c);
}
END_TEST

START_TEST(test_cache_keys_are_distinct)
{
	struct badge_cache *c = NULL;
	ck_assert_int_eq(badge_cache_new(&c), 0);
	char *svg = NULL, etag[BADGE_ETAG_MAX];
	size_t len = 0;
	badge_cache_put(c, 1, "a", "b", NULL, "<svg>ab</svg>", 13, "\"x\"");
	/* the same characters split differently, or a parameter moved, are other badges */
	ck_assert_int_eq(badge_cache_get(c, 1, "ab", NULL, NULL, &svg, &len, etag),
			 FORJA_ENOTFOUND);
	ck_assert_int_eq(badge_cache_get(c, 1, "a", NULL, "b", &svg, &len, etag), FORJA_ENOTFOUND);
	ck_assert_int_eq(badge_cache_get(c, 1, "a", "b", "", &svg, &len, etag), FORJA_ENOTFOUND);
	ck_assert_int_eq(badge_cache_get(c, 1, NULL, "b", NULL, &svg, &len, etag), FORJA_ENOTFOUND);
	ck_assert_int_eq(badge_cache_get(c, 1, "a", "b", NULL, &svg, &len, etag), 0);
	free(svg);
	/* more keys than slots: each answer is its own or none, never another key's */
	for (int i = 0; i < 4 * BADGE_CACHE_SLOTS; i++) {
		char service[16], body[32];
		snprintf(service, sizeof(service), "s%d", i);
		snprintf(body, sizeof(body), "<svg>%d</svg>", i);
		badge_cache_put(c, 1, service, NULL, NULL, body, strlen(body), "\"y\"");
	}
	int hits = 0;
	for (int i = 0; i < 4 * BADGE_CACHE_SLOTS; i++) {
		char service[16], body[32];
		snprintf(service, sizeof(service), "s%d", i);
		snprintf(body, sizeof(body), "<svg>%d</svg>", i);
		if (badge_cache_get(c, 1, service, NULL, NULL, &svg, &len, etag) == 0) {
			ck_assert_str_eq(svg, body);
			free(svg);
			hits++;
		}
	}
	ck_assert_int_gt(hits, 0);
	ck_assert_int_le(hits, BADGE_CACHE_SLOTS);
	badge_cache_free(c);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("badge");
	TCase *tc = tcase_create("render");
	tcase_add_test(tc, test_widths_from_table);
	tcase_add_test(tc, test_each_state);
	tcase_add_test(tc, test_label_override);
	tcase_add_test(tc, test_width_grows_with_text);
	tcase_add_test(tc, test_escapes_markup);
	tcase_add_test(tc, test_strips_controls_and_bad_utf8);
	tcase_add_test(tc, test_bad_color_falls_back);
	tcase_add_test(tc, test_light_background_dark_text);
	tcase_add_test(tc, test_long_text_is_bounded);
	tcase_add_test(tc, test_hash_depends_on_content);
	tcase_add_test(tc, test_xml_check_can_fail);
	tcase_add_test(tc, test_cache_hits_only_at_its_generation);
	tcase_add_test(tc, test_cache_keys_are_distinct);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
