/* Route binding from the OpenAPI document: the real document binds every handler once, and
 * a document that drifts from the handler table stops start-up with a message naming why. */
#include <check.h>
#include <string.h>

#include "assets.h"
#include "errors.h"
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
	/* 12 product operations + the document, the docs page and its assets, the redirect to
	 * the dashboard, its four pages and their assets */
	ck_assert_uint_eq(routes_count(r), 21);
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

/* The checks before a handler, driven without a socket: a bad query parameter is a 400 that
 * names it, a good request passes, an unknown operation is not found. */
START_TEST(request_checks_without_a_socket)
{
	struct asset doc;
	struct routes *r = NULL;
	struct config cfg = {.max_body_bytes = 1024, .webhook_max_bytes = 1024};
	struct app app = {.cfg = &cfg};
	struct _u_request req;
	struct _u_response resp;
	char err[512] = "";

	ck_assert_int_eq(assets_find("openapi.json", &doc), 0);
	ck_assert_int_eq(
	    routes_build((const char *)doc.data, doc.len, routes_table, &r, err, sizeof(err)), 0);
	ck_assert_int_eq(metrics_new(&app.metrics), 0);
	ulfius_init_request(&req);
	ulfius_init_response(&resp);
	u_map_put(req.map_url, "limit", "lots");
	ck_assert_int_eq(routes_check_request(r, "listBuilds", &req, &resp, &app), FORJA_EINVAL);
	ck_assert_int_eq(resp.status, 400);
	ck_assert_msg(strstr((const char *)resp.binary_body, "limit"), "%.*s",
		      (int)resp.binary_body_length, (const char *)resp.binary_body);
	ulfius_clean_response(&resp);
	ulfius_init_response(&resp);
	u_map_put(req.map_url, "limit", "5");
	ck_assert_int_eq(routes_check_request(r, "listBuilds", &req, &resp, &app), 0);
	ck_assert_int_eq(routes_check_request(r, "noSuchOperation", &req, &resp, &app),
			 FORJA_ENOTFOUND);
	ulfius_clean_response(&resp);
	ulfius_clean_request(&req);
	metrics_free(app.metrics);
	routes_free(r);
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
	tcase_add_test(tc, request_checks_without_a_socket);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
