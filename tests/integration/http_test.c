/* The HTTP edge on a real server: documented paths only, 404/405 with problem+json, the
 * OpenAPI document and Swagger UI from the binary, health of the real engine and registry,
 * bearer security and parameter validation driven by the document. */
#include <check.h>
#include <jansson.h>
#include <string.h>

#include "testenv.h"

static struct testenv env;

static json_t *json_of(const struct http_resp *r)
{
	json_t *j = json_loads(r->body, 0, NULL);
	ck_assert_msg(j != NULL, "not JSON: %s", r->body);
	return j;
}

static void assert_problem(const struct http_resp *r, long status, const char *detail_part)
{
	char *ct = http_resp_header(r, "Content-Type");
	json_t *j;
	ck_assert_int_eq(r->status, status);
	ck_assert_msg(ct && !strcmp(ct, "application/problem+json"), "content type %s", ct);
	free(ct);
	j = json_of(r);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), status);
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "type")));
	ck_assert_ptr_nonnull(json_string_value(json_object_get(j, "title")));
	const char *detail = json_string_value(json_object_get(j, "detail"));
	ck_assert_msg(detail && strstr(detail, detail_part), "detail \"%s\" lacks \"%s\"", detail,
		      detail_part);
	json_decref(j);
}

static void get(const char *path, struct http_resp *r)
{
	char url[512];
	snprintf(url, sizeof(url), "%s%s", env.base_url, path);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, r), 0);
}

static void setup(void)
{
	const char *args[] = {"--api-token=s3cret-token", NULL};
	testenv_start(&env, args);
}

static void teardown(void)
{
	testenv_stop(&env);
}

START_TEST(unknown_path_is_404_problem)
{
	struct http_resp r;
	get("/nope", &r);
	assert_problem(&r, 404, "no such path: /nope");
	http_resp_free(&r);
	get("/builds/1/nope", &r);
	assert_problem(&r, 404, "no such path");
	http_resp_free(&r);
}
END_TEST

START_TEST(wrong_method_is_405_with_allow)
{
	struct http_resp r;
	char url[256], *allow;
	snprintf(url, sizeof(url), "%s/healthz", env.base_url);
	ck_assert_int_eq(http_request("DELETE", url, NULL, NULL, 0, &r), 0);
	assert_problem(&r, 405, "DELETE is not allowed");
	allow = http_resp_header(&r, "Allow");
	ck_assert_str_eq(allow, "GET, HEAD");
	free(allow);
	http_resp_free(&r);
	snprintf(url, sizeof(url), "%s/builds", env.base_url);
	ck_assert_int_eq(http_request("PUT", url, NULL, NULL, 0, &r), 0);
	allow = http_resp_header(&r, "Allow");
	ck_assert_str_eq(allow, "GET, HEAD, POST");
	free(allow);
	http_resp_free(&r);
}
END_TEST

START_TEST(openapi_document_is_served)
{
	struct http_resp r;
	json_t *j;
	get("/openapi.json", &r);
	ck_assert_int_eq(r.status, 200);
	j = json_of(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "openapi")), "3.0.3");
	ck_assert_ptr_nonnull(json_object_get(json_object_get(j, "paths"), "/ciserver/updates"));
	ck_assert_ptr_nonnull(json_object_get(
	    json_object_get(json_object_get(j, "components"), "securitySchemes"), "bearerAuth"));
	json_decref(j);
	http_resp_free(&r);
}
END_TEST

START_TEST(swagger_ui_is_shipped)
{
	struct http_resp r;
	char *ct;
	get("/docs", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(strstr(r.body, "/docs/swagger-ui-bundle.js"));
	http_resp_free(&r);
	get("/docs/swagger-ui-bundle.js", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_gt(r.len, 100000);
	ct = http_resp_header(&r, "Content-Type");
	ck_assert_str_eq(ct, "application/javascript");
	free(ct);
	http_resp_free(&r);
	get("/docs/docs.js", &r);
	ck_assert_ptr_nonnull(strstr(r.body, "/openapi.json"));
	http_resp_free(&r);
	get("/docs/../../etc/passwd", &r);
	ck_assert_int_eq(r.status, 404);
	http_resp_free(&r);
	get("/docs/nope.js", &r);
	assert_problem(&r, 404, "no such file");
	http_resp_free(&r);
}
END_TEST

START_TEST(health_reports_engine_and_registry)
{
	struct http_resp r;
	json_t *j;
	testenv_need("FORJA_TEST_REGISTRY");
	get("/healthz", &r);
	j = json_of(&r);
	ck_assert_msg(r.status == 200, "healthz %ld: %s", r.status, r.body);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "ok");
	json_t *docker = json_object_get(j, "docker");
	ck_assert(json_is_true(json_object_get(docker, "ok")));
	/* the first engine's negotiated version, as "docker" always said it */
	const char *apiv = json_string_value(json_object_get(docker, "api_version"));
	ck_assert_msg(apiv && strchr(apiv, '.'), "%s", r.body);
	ck_assert_ptr_null(json_object_get(docker, "detail"));
	ck_assert(json_is_true(json_object_get(json_object_get(j, "registry"), "ok")));
	json_decref(j);
	http_resp_free(&r);
}
END_TEST

START_TEST(health_is_503_when_registry_is_down)
{
	struct testenv down;
	/* nothing listens on port 1 */
	const char *args[] = {"--registry=127.0.0.1:1", NULL};
	struct http_resp r;
	char url[256];
	json_t *j;
	testenv_start(&down, args);
	snprintf(url, sizeof(url), "%s/healthz", down.base_url);
	ck_assert_int_eq(http_request("GET", url, NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 503);
	j = json_of(&r);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "degraded");
	ck_assert(json_is_false(json_object_get(json_object_get(j, "registry"), "ok")));
	ck_assert_ptr_nonnull(
	    json_string_value(json_object_get(json_object_get(j, "registry"), "detail")));
	json_decref(j);
	http_resp_free(&r);
	testenv_stop(&down);
}
END_TEST

START_TEST(query_parameters_are_validated_from_the_document)
{
	struct http_resp r;
	json_t *j;
	get("/builds?limit=500", &r);
	assert_problem(&r, 400, "query parameter 'limit' must be from 1 to 100");
	http_resp_free(&r);
	get("/builds?limit=abc&status=bogus", &r);
	ck_assert_int_eq(r.status, 400);
	j = json_of(&r);
	ck_assert_uint_eq(json_array_size(json_object_get(j, "errors")), 2);
	json_decref(j);
	http_resp_free(&r);
	get("/builds/abc", &r);
	assert_problem(&r, 400, "path parameter 'id' must be a whole number");
	http_resp_free(&r);
	get("/builds/1/log?follow=maybe", &r);
	assert_problem(&r, 400, "'follow' must be true or false");
	http_resp_free(&r);
}
END_TEST

START_TEST(bearer_security_comes_from_the_document)
{
	struct http_resp r;
	char url[256], *www;
	const char *wrong[] = {"Authorization: Bearer nope", "Content-Type: application/json",
			       NULL};
	snprintf(url, sizeof(url), "%s/builds", env.base_url);
	ck_assert_int_eq(http_request("POST", url, NULL, "{}", 2, &r), 0);
	assert_problem(&r, 401, "missing 'Authorization: Bearer");
	www = http_resp_header(&r, "WWW-Authenticate");
	ck_assert_ptr_nonnull(www);
	free(www);
	http_resp_free(&r);
	ck_assert_int_eq(http_request("POST", url, wrong, "{}", 2, &r), 0);
	assert_problem(&r, 401, "bearer token is wrong");
	http_resp_free(&r);
}
END_TEST

START_TEST(bearer_without_token_configured_is_403)
{
	struct testenv open_env;
	struct http_resp r;
	char url[256];
	testenv_start(&open_env, NULL);
	snprintf(url, sizeof(url), "%s/builds/1/cancel", open_env.base_url);
	ck_assert_int_eq(http_request("POST", url, NULL, NULL, 0, &r), 0);
	assert_problem(&r, 403, "FORJA_API_TOKEN");
	http_resp_free(&r);
	testenv_stop(&open_env);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("edge");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, unknown_path_is_404_problem);
	tcase_add_test(tc, wrong_method_is_405_with_allow);
	tcase_add_test(tc, openapi_document_is_served);
	tcase_add_test(tc, swagger_ui_is_shipped);
	tcase_add_test(tc, health_reports_engine_and_registry);
	tcase_add_test(tc, health_is_503_when_registry_is_down);
	tcase_add_test(tc, query_parameters_are_validated_from_the_document);
	tcase_add_test(tc, bearer_security_comes_from_the_document);
	tcase_add_test(tc, bearer_without_token_configured_is_403);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
