/* Route binding from the OpenAPI document: the real document binds every handler once, and
 * a document that drifts from the handler table stops start-up with a message naming why. */
#include <check.h>
#include <string.h>

#include "assets.h"
#include "routes.h"

static int h_a(const struct _u_request *r, struct _u_response *s, struct app *a)
{
	return 0;
}
static int h_b(const struct _u_request *r, struct _u_response *s, struct app *a)
{
	return 0;
}

static const struct route_handler table_ab[] = {
    {"opA", h_a, false}, {"opB", h_b, false}, {NULL, NULL, false}};

static int build(const char *doc, const struct route_handler *table, char *err, size_t len)
{
	struct routes *r = NULL;
	int rc = routes_build(doc, strlen(doc), table, &r, err, len);
	routes_free(r);
	return rc;
}

START_TEST(real_document_binds_every_operation)
{
	struct asset doc;
	struct routes *r = NULL;
	char err[512] = "";
	ck_assert_int_eq(assets_find("openapi.json", &doc), 0);
	ck_assert_int_eq(
	    routes_build((const char *)doc.data, doc.len, routes_table, &r, err, sizeof(err)), 0);
	ck_assert_msg(r != NULL, "%s", err);
	/* 10 product operations + the document, the docs page and its assets, the redirect to
	 * the dashboard, its four pages and their assets */
	ck_assert_uint_eq(routes_count(r), 19);
	routes_free(r);
}
END_TEST

START_TEST(good_small_document)
{
	char err[512] = "";
	const char *doc = "{\"paths\":{\"/a\":{\"get\":{\"operationId\":\"opA\"}},"
			  "\"/a/{id}\":{\"post\":{\"operationId\":\"opB\"}}}}";
	ck_assert_int_eq(build(doc, table_ab, err, sizeof(err)), 0);
}
END_TEST

START_TEST(operation_without_handler)
{
	char err[512] = "";
	const char *doc = "{\"paths\":{\"/a\":{\"get\":{\"operationId\":\"opA\"}},"
			  "\"/b\":{\"get\":{\"operationId\":\"opB\"}},"
			  "\"/c\":{\"get\":{\"operationId\":\"opC\"}}}}";
	ck_assert_int_ne(build(doc, table_ab, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "opC (GET /c) has no handler"), "%s", err);
}
END_TEST

START_TEST(handler_bound_twice)
{
	char err[512] = "";
	const char *doc = "{\"paths\":{\"/a\":{\"get\":{\"operationId\":\"opA\"}},"
			  "\"/b\":{\"get\":{\"operationId\":\"opA\"}}}}";
	ck_assert_int_ne(build(doc, table_ab, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "handler of opA is bound twice"), "%s", err);
}
END_TEST

START_TEST(same_method_and_path_twice)
{
	char err[512] = "";
	/* the same route spelled with two parameter names */
	const char *doc = "{\"paths\":{\"/a/{id}\":{\"get\":{\"operationId\":\"opA\"}},"
			  "\"/a/{name}\":{\"get\":{\"operationId\":\"opB\"}}}}";
	ck_assert_int_ne(build(doc, table_ab, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "opA and opB are both GET /a/{name}"), "%s", err);
}
END_TEST

START_TEST(handler_without_operation)
{
	char err[512] = "";
	const char *doc = "{\"paths\":{\"/a\":{\"get\":{\"operationId\":\"opA\"}}}}";
	ck_assert_int_ne(build(doc, table_ab, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "handler opB has no operation"), "%s", err);
}
END_TEST

START_TEST(missing_operation_id_and_bad_json)
{
	char err[512] = "";
	ck_assert_int_ne(build("{\"paths\":{\"/a\":{\"get\":{}}}}", table_ab, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "GET /a has no operationId"), "%s", err);
	ck_assert_int_ne(build("{\"paths\":", table_ab, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "not valid JSON"), "%s", err);
	ck_assert_int_ne(build("{\"paths\":{\"/a\":{},\"/a\":{}}}", table_ab, err, sizeof(err)), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("routes");
	TCase *tc = tcase_create("bind");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, real_document_binds_every_operation);
	tcase_add_test(tc, good_small_document);
	tcase_add_test(tc, operation_without_handler);
	tcase_add_test(tc, handler_bound_twice);
	tcase_add_test(tc, same_method_and_path_twice);
	tcase_add_test(tc, handler_without_operation);
	tcase_add_test(tc, missing_operation_id_and_bad_json);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
