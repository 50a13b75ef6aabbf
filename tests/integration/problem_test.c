/* Every error answer Forja has, held to the Problem schema of openapi/openapi.json: each
 * 400/401/404/405/413/415/422 path of the routes, the handlers and the webhook, with status,
 * Content-Type, type/title/status/detail and the errors items {field, in, message}. The hand
 * checks of POST /builds are driven from the document's BuildRequest, so the two cannot drift
 * apart. And problem_check, which holds every other test's answers, is shown to refuse the
 * shapes it exists to catch. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "github_standin.h"
#include "problem.h"
#include "problem_check.h"
#include "store.h"
#include "testenv.h"
#include "testhook.h"
#include "webhook.h"

#define TOKEN  "problem-test-token"
#define SECRET "problem-test-secret"
#define SHA    "3f2c9a1e5b7d4c6f8a0b2c4d6e8f0a1b3c5d7e9f"
#define REPO   "octo-org/shop"

/* ---- problem_check itself: it must refuse what it exists to catch ---- */

static const char *const good_problem =
    "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,"
    "\"detail\":\"query parameter 'limit' must be from 1 to 100, got 0\","
    "\"errors\":[{\"field\":\"limit\",\"in\":\"query\",\"message\":\"must be from 1 to 100\"}]}";

/* problem_check_body's verdict on an answer with STATUS, CT and BODY; WHY gets its reason. */
static int verdict(long status, const char *ct, const char *body, char *why, size_t len)
{
	json_t *doc = problem_check_document();
	why[0] = '\0';
	int rc = problem_check_body(doc, status, ct, body, why, len);
	json_decref(doc);
	return rc;
}

static void assert_refused(long status, const char *ct, const char *body, const char *reason_part)
{
	char why[512];
	ck_assert_msg(verdict(status, ct, body, why, sizeof(why)) == -1,
		      "problem_check accepted %s %s: %s", ct ? ct : "(no type)", body, why);
	ck_assert_msg(strstr(why, reason_part), "reason \"%s\" lacks \"%s\"", why, reason_part);
}

START_TEST(check_accepts_a_problem)
{
	char why[512];
	ck_assert_msg(verdict(400, "application/problem+json", good_problem, why, sizeof(why)) == 0,
		      "%s", why);
	ck_assert_msg(verdict(400, "application/problem+json; charset=utf-8", good_problem, why,
			      sizeof(why)) == 0,
		      "%s", why);
	/* errors is optional */
	ck_assert_msg(verdict(404, "application/problem+json",
			      "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404,"
			      "\"detail\":\"no build with id 7\"}",
			      why, sizeof(why)) == 0,
		      "%s", why);
}
END_TEST

START_TEST(check_refuses_the_old_badge_items)
{
	/* what badge_api.c answered before issue 11: {parameter, detail} items */
	assert_refused(400, "application/problem+json",
		       "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,"
		       "\"detail\":\"bad label\",\"errors\":[{\"parameter\":\"label\","
		       "\"detail\":\"is longer than 100 characters\"}]}",
		       "body.errors[0]");
}
END_TEST

START_TEST(check_refuses_a_missing_detail)
{
	assert_refused(404, "application/problem+json",
		       "{\"type\":\"about:blank\",\"title\":\"Not Found\",\"status\":404}",
		       "\"detail\"");
}
END_TEST

START_TEST(check_refuses_other_content_types)
{
	assert_refused(400, "text/plain", good_problem, "text/plain");
	assert_refused(400, "application/json", good_problem, "application/json");
	assert_refused(400, "application/problem+jsonx", good_problem, "problem+jsonx");
	assert_refused(400, NULL, good_problem, "missing");
}
END_TEST

START_TEST(check_refuses_a_status_other_than_the_answer)
{
	assert_refused(422, "application/problem+json", good_problem, "body.status is 400");
}
END_TEST

START_TEST(check_refuses_items_without_a_known_in)
{
	assert_refused(
	    422, "application/problem+json",
	    "{\"type\":\"about:blank\",\"title\":\"Unprocessable Content\",\"status\":422,"
	    "\"detail\":\"x\",\"errors\":[{\"field\":\"entry 1\",\"message\":\"bad\"}]}",
	    "\"in\"");
	assert_refused(400, "application/problem+json",
		       "{\"type\":\"about:blank\",\"title\":\"Bad Request\",\"status\":400,"
		       "\"detail\":\"x\",\"errors\":[{\"field\":\"sid\",\"in\":\"cookie\","
		       "\"message\":\"bad\"}]}",
		       "body.errors[0].in");
	assert_refused(400, "application/problem+json", "{\"type\": \"about:blank\", ", "not JSON");
}
END_TEST

/* ---- a real Forja: every error path it has ---- */

static struct testenv env;
static struct github_standin *gh;
static char api_flag[128];

static void setup(void)
{
	gh = github_standin_start();
	snprintf(api_flag, sizeof(api_flag), "--github-api-url=%s", github_standin_url(gh));
	const char *args[] = {"--api-token=" TOKEN,
			      "--webhook-secret=" SECRET,
			      api_flag,
			      "--docker-host=unix:///nonexistent/forja-problem-test.sock",
			      "--workers=1",
			      "--webhook-max-bytes=65536",
			      "--max-body-bytes=4096",
			      NULL};
	testenv_start(&env, args);
}

static void teardown(void)
{
	testenv_stop(&env);
	github_standin_stop(gh);
}

enum auth { AUTH_NONE, AUTH_TOKEN, AUTH_WRONG };

/* METHOD PATH with BODY (may be NULL) of type CT (NULL: application/json). */
static void call(const char *method, const char *path, enum auth auth, const char *ct,
		 const char *body, size_t len, struct http_resp *r)
{
	char url[4096], h_ct[160];
	const char *hdrs[4];
	size_t n = 0;
	snprintf(url, sizeof(url), "%s%s", env.base_url, path);
	snprintf(h_ct, sizeof(h_ct), "Content-Type: %s", ct ? ct : "application/json");
	hdrs[n++] = h_ct;
	if (auth == AUTH_TOKEN)
		hdrs[n++] = "Authorization: Bearer " TOKEN;
	else if (auth == AUTH_WRONG)
		hdrs[n++] = "Authorization: Bearer not-the-" TOKEN;
	hdrs[n] = NULL;
	ck_assert_int_eq(http_request(method, url, hdrs, body, body ? len : 0, r), 0);
}

static void get(const char *path, struct http_resp *r)
{
	call("GET", path, AUTH_NONE, NULL, NULL, 0, r);
}

static void post_build(const char *body, struct http_resp *r)
{
	call("POST", "/builds", AUTH_TOKEN, NULL, body, strlen(body), r);
}

enum sig { SIG_GOOD, SIG_NONE, SIG_WRONG };

/* POST /ciserver/updates; EVENT NULL = no X-GitHub-Event header. */
static void deliver(const char *event, const char *ct, const char *body, size_t len, enum sig sig,
		    struct http_resp *r)
{
	char url[128], h_event[128], h_ct[160], h_sig[128], made[80];
	const char *hdrs[8];
	size_t n = 0;
	snprintf(url, sizeof(url), "%s/ciserver/updates", env.base_url);
	snprintf(h_ct, sizeof(h_ct), "Content-Type: %s", ct ? ct : "application/json");
	hdrs[n++] = h_ct;
	hdrs[n++] = "X-GitHub-Delivery: 7c1d2e3f-problem";
	hdrs[n++] = "X-GitHub-Hook-ID: 412345678";
	if (event) {
		snprintf(h_event, sizeof(h_event), "X-GitHub-Event: %s", event);
		hdrs[n++] = h_event;
	}
	if (sig != SIG_NONE) {
		ck_assert_int_eq(webhook_signature_make(sig == SIG_GOOD ? SECRET : "other-secret",
							body, len, made, sizeof(made)),
				 0);
		snprintf(h_sig, sizeof(h_sig), "X-Hub-Signature-256: %s", made);
		hdrs[n++] = h_sig;
	}
	hdrs[n] = NULL;
	ck_assert_int_eq(http_request("POST", url, hdrs, body, len, r), 0);
}

static void deliver_json(const char *event, const char *body, struct http_resp *r)
{
	deliver(event, NULL, body, strlen(body), SIG_GOOD, r);
}

/*
 * Asserts R is the Problem answer with STATUS whose detail contains DETAIL_PART: the exact
 * Content-Type, each member the schema names with its value for this status, errors items of
 * exactly {field, in, message}, and the document's own verdict. Returns the body (json_decref).
 */
static json_t *assert_problem(const struct http_resp *r, long status, const char *detail_part)
{
	static const char *const ins[] = {"path", "query", "header", "body"};
	char why[512] = "";
	ck_assert_msg(r->status == status, "status %ld, wanted %ld: %s", r->status, status,
		      r->body);
	char *ct = http_resp_header(r, "Content-Type");
	ck_assert_msg(ct && !strcmp(ct, "application/problem+json"), "Content-Type %s", ct);
	json_t *doc = problem_check_document();
	ck_assert_msg(problem_check_body(doc, status, ct, r->body, why, sizeof(why)) == 0, "%s: %s",
		      why, r->body);
	json_decref(doc);
	free(ct);
	json_t *j = json_loads(r->body, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "type")), "about:blank");
	ck_assert_str_eq(json_string_value(json_object_get(j, "title")),
			 problem_title((int)status));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "status")), status);
	const char *detail = json_string_value(json_object_get(j, "detail"));
	ck_assert_msg(detail && *detail && strstr(detail, detail_part),
		      "detail \"%s\" lacks \"%s\"", detail, detail_part);
	json_t *errors = json_object_get(j, "errors"), *e;
	size_t i;
	ck_assert(!errors || json_array_size(errors) > 0);
	json_array_foreach(errors, i, e)
	{
		const char *in = json_string_value(json_object_get(e, "in"));
		int known = 0;
		ck_assert_int_eq(json_object_size(e), 3);
		ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "field")));
		ck_assert(*json_string_value(json_object_get(e, "message")));
		for (size_t k = 0; in && k < sizeof(ins) / sizeof(ins[0]); k++)
			known |= !strcmp(in, ins[k]);
		ck_assert_msg(known, "errors[%zu].in is %s", i, in ? in : "missing");
	}
	return j;
}

/* The problem's errors item for FIELD, or NULL. */
static json_t *item_for(json_t *problem, const char *field)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(problem, "errors"), i, e)
	{
		if (!strcmp(json_string_value(json_object_get(e, "field")), field))
			return e;
	}
	return NULL;
}

/* Asserts an item FIELD, IN whose message contains MESSAGE_PART. */
static void assert_item(json_t *problem, const char *field, const char *in,
			const char *message_part)
{
	json_t *e = item_for(problem, field);
	char *all = json_dumps(json_object_get(problem, "errors"), JSON_COMPACT);
	ck_assert_msg(e, "no errors item for %s in %s", field, all);
	ck_assert_msg(!strcmp(json_string_value(json_object_get(e, "in")), in), "%s: in is not %s",
		      all, in);
	ck_assert_msg(strstr(json_string_value(json_object_get(e, "message")), message_part),
		      "%s: %s's message lacks \"%s\"", all, field, message_part);
	free(all);
}

static size_t error_count(json_t *problem)
{
	return json_array_size(json_object_get(problem, "errors"));
}

/* 400 with one item FIELD/IN from the route layer's parameter check. */
static void assert_param_400(const struct http_resp *r, const char *field, const char *in,
			     const char *message_part)
{
	json_t *j = assert_problem(r, 400, field);
	assert_item(j, field, in, message_part);
	ck_assert_uint_eq(error_count(j), 1);
	json_decref(j);
}

START_TEST(parameters_answer_400_with_an_item_each)
{
	struct http_resp r;
	char path[256], label[128];

	get("/builds?limit=0", &r);
	assert_param_400(&r, "limit", "query", "must be from 1 to 100");
	http_resp_free(&r);
	get("/builds?status=bogus", &r);
	assert_param_400(&r, "status", "query", "must be one of");
	http_resp_free(&r);
	/* minLength 1 in the document: the one shape, not a handler's own */
	get("/builds?service=", &r);
	assert_param_400(&r, "service", "query", "must not be empty");
	http_resp_free(&r);
	get("/builds?before=12x", &r);
	assert_param_400(&r, "before", "query", "whole number");
	http_resp_free(&r);
	get("/builds/abc", &r);
	assert_param_400(&r, "id", "path", "whole number");
	http_resp_free(&r);
	get("/builds/0/log", &r);
	assert_param_400(&r, "id", "path", "at least 1");
	http_resp_free(&r);
	get("/builds/1/log?follow=maybe", &r);
	assert_param_400(&r, "follow", "query", "true or false");
	http_resp_free(&r);
	call("POST", "/builds/abc/cancel", AUTH_TOKEN, NULL, "", 0, &r);
	assert_param_400(&r, "id", "path", "whole number");
	http_resp_free(&r);
	memset(label, 'l', 101);
	label[101] = '\0';
	snprintf(path, sizeof(path), "/badge?label=%s", label);
	get(path, &r);
	assert_param_400(&r, "label", "query", "longer than 100");
	http_resp_free(&r);

	/* every bad parameter at once */
	get("/builds?limit=0&status=bogus", &r);
	json_t *j = assert_problem(&r, 400, "query parameter");
	assert_item(j, "limit", "query", "from 1 to 100");
	assert_item(j, "status", "query", "one of");
	ck_assert_uint_eq(error_count(j), 2);
	json_decref(j);
	http_resp_free(&r);

	/* headers of the webhook */
	deliver(NULL, NULL, "{}", 2, SIG_GOOD, &r);
	assert_param_400(&r, "X-GitHub-Event", "header", "is required");
	http_resp_free(&r);
}
END_TEST

START_TEST(bodies_answer_400_and_415)
{
	struct http_resp r;
	json_t *j;

	post_build("{not json", &r);
	j = assert_problem(&r, 400, "not valid JSON");
	ck_assert_ptr_null(json_object_get(j, "errors"));
	json_decref(j);
	http_resp_free(&r);
	post_build("[1, 2]", &r);
	json_decref(assert_problem(&r, 400, "JSON object"));
	http_resp_free(&r);
	call("POST", "/builds", AUTH_TOKEN, "text/plain", "service=x", 9, &r);
	json_decref(assert_problem(&r, 415, "text/plain"));
	http_resp_free(&r);

	deliver("pull_request", "text/plain", "{}", 2, SIG_GOOD, &r);
	json_decref(assert_problem(&r, 415, "text/plain"));
	http_resp_free(&r);
	deliver_json("pull_request", "{\"action\": ", &r);
	json_decref(assert_problem(&r, 400, "not valid JSON"));
	http_resp_free(&r);
	deliver_json("pull_request", "[]", &r);
	json_decref(assert_problem(&r, 400, "not a JSON object"));
	http_resp_free(&r);
	deliver("pull_request", "application/x-www-form-urlencoded", "nopayload=1", 11, SIG_GOOD,
		&r);
	json_decref(assert_problem(&r, 400, "payload"));
	http_resp_free(&r);

	/* the payload's own problems are items in the body */
	json_t *p = testhook_fixture("pull_request_merged.json");
	json_object_del(json_object_get(json_object_get(p, "pull_request"), "base"), "ref");
	json_object_set_new(json_object_get(p, "repository"), "full_name", json_integer(5));
	char *text = json_dumps(p, 0);
	deliver_json("pull_request", text, &r);
	j = assert_problem(&r, 400, "pull_request.base.ref is missing");
	assert_item(j, "pull_request.base.ref", "body", "missing");
	assert_item(j, "repository.full_name", "body", "not a non-empty string");
	json_decref(j);
	http_resp_free(&r);
	free(text);
	json_decref(p);
}
END_TEST

START_TEST(auth_answers_401)
{
	struct http_resp r;
	char *www;

	call("POST", "/builds", AUTH_NONE, NULL, "{}", 2, &r);
	json_decref(assert_problem(&r, 401, "Authorization: Bearer"));
	www = http_resp_header(&r, "WWW-Authenticate");
	ck_assert_str_eq(www, "Bearer realm=\"forja\"");
	free(www);
	http_resp_free(&r);
	call("POST", "/builds", AUTH_WRONG, NULL, "{}", 2, &r);
	json_decref(assert_problem(&r, 401, "wrong"));
	http_resp_free(&r);
	call("POST", "/builds/1/cancel", AUTH_NONE, NULL, "", 0, &r);
	json_decref(assert_problem(&r, 401, "Authorization"));
	http_resp_free(&r);

	deliver("ping", NULL, "{}", 2, SIG_NONE, &r);
	json_decref(assert_problem(&r, 401, "X-Hub-Signature-256 is missing"));
	http_resp_free(&r);
	deliver("ping", NULL, "{}", 2, SIG_WRONG, &r);
	json_decref(assert_problem(&r, 401, "does not match"));
	http_resp_free(&r);
}
END_TEST

START_TEST(unknown_things_answer_404_and_405)
{
	struct http_resp r;
	char *allow;

	get("/no/such/path", &r);
	json_decref(assert_problem(&r, 404, "no such path: /no/such/path"));
	http_resp_free(&r);
	get("/builds/424242", &r);
	json_decref(assert_problem(&r, 404, "no build with id 424242"));
	http_resp_free(&r);
	get("/builds/424242/log", &r);
	json_decref(assert_problem(&r, 404, "no build with id 424242"));
	http_resp_free(&r);
	call("POST", "/builds/424242/cancel", AUTH_TOKEN, NULL, "", 0, &r);
	json_decref(assert_problem(&r, 404, "no build with id 424242"));
	http_resp_free(&r);
	get("/docs/nothing-here.js", &r);
	json_decref(assert_problem(&r, 404, "no such file"));
	http_resp_free(&r);

	call("DELETE", "/builds", AUTH_TOKEN, NULL, NULL, 0, &r);
	json_decref(assert_problem(&r, 405, "DELETE is not allowed on /builds"));
	allow = http_resp_header(&r, "Allow");
	ck_assert_str_eq(allow, "GET, HEAD, POST");
	free(allow);
	http_resp_free(&r);
	call("PUT", "/healthz", AUTH_NONE, NULL, "", 0, &r);
	json_decref(assert_problem(&r, 405, "allowed: GET"));
	http_resp_free(&r);
	call("GET", "/ciserver/updates", AUTH_NONE, NULL, NULL, 0, &r);
	json_decref(assert_problem(&r, 405, "allowed: POST"));
	http_resp_free(&r);

	/* paths match segment by segment: empty segments do not count, one more segment is
	 * another path, a parameter takes a whole segment */
	get("//builds//424242/", &r);
	json_decref(assert_problem(&r, 404, "no build with id 424242"));
	http_resp_free(&r);
	get("/builds/424242/log/more", &r);
	json_decref(assert_problem(&r, 404, "no such path: /builds/424242/log/more"));
	http_resp_free(&r);
	get("/buildsx", &r);
	json_decref(assert_problem(&r, 404, "no such path: /buildsx"));
	http_resp_free(&r);
	get("/ui/builds/424242/x", &r);
	json_decref(assert_problem(&r, 404, "no such path"));
	http_resp_free(&r);
	call("POST", "/builds/424242/log", AUTH_TOKEN, NULL, "", 0, &r);
	json_decref(assert_problem(&r, 405, "allowed: GET, HEAD"));
	http_resp_free(&r);
}
END_TEST

START_TEST(a_webhook_over_the_limit_answers_413)
{
	struct http_resp r;
	size_t big = 65536 + 1024; /* --webhook-max-bytes=65536 */
	char *huge = malloc(big);
	ck_assert_ptr_nonnull(huge);
	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big - 1] = '}';
	/* unsigned: the size is checked before anything else */
	deliver("pull_request", NULL, huge, big, SIG_NONE, &r);
	json_decref(assert_problem(&r, 413, "FORJA_WEBHOOK_MAX_BYTES"));
	http_resp_free(&r);
	free(huge);
}
END_TEST

START_TEST(a_build_request_over_the_limit_answers_413)
{
	struct http_resp r;
	size_t big = 4096 + 1; /* --max-body-bytes=4096 */
	char *huge = malloc(big + 1);
	ck_assert_ptr_nonnull(huge);
	memset(huge, ' ', big);
	huge[0] = '{';
	huge[big - 1] = '}';
	huge[big] = '\0';
	/* the cap comes before the token: an anonymous client cannot make Forja parse it */
	call("POST", "/builds", AUTH_NONE, NULL, huge, big, &r);
	json_decref(assert_problem(&r, 413, "FORJA_MAX_BODY_BYTES"));
	http_resp_free(&r);
	free(huge);
}
END_TEST

/* A merged pull request into develop, cloned from a host the configured GitHub is on. */
static char *merged_payload(void)
{
	json_t *p = testhook_fixture("pull_request_merged.json");
	json_t *pr = json_object_get(p, "pull_request");
	json_object_set_new(json_object_get(p, "repository"), "clone_url",
			    json_string("git://127.0.0.1:1/shop.git"));
	json_object_set_new(json_object_get(pr, "base"), "ref", json_string("develop"));
	json_object_set_new(pr, "merged", json_true());
	json_object_set_new(pr, "merge_commit_sha", json_string(SHA));
	char *text = json_dumps(p, 0);
	json_decref(p);
	return text;
}

START_TEST(a_bad_manifest_answers_422_with_body_items)
{
	struct http_resp r;
	char *text = merged_payload();
	json_t *j;

	deliver_json("pull_request", text, &r);
	j = assert_problem(&r, 422, "not found");
	assert_item(j, "manifest", "body", "not found");
	json_decref(j);
	http_resp_free(&r);

	github_standin_put_file(gh, REPO, "images.json", SHA,
				"[{\"service_name\": \"api\", \"version\": \"1.0 beta\"},"
				" {\"version\": \"2\"}]");
	deliver_json("pull_request", text, &r);
	j = assert_problem(&r, 422, "and 1 more problem");
	assert_item(j, "entry 1.version", "body", "\"1.0 beta\"");
	assert_item(j, "entry 2", "body", "service_name is missing");
	json_decref(j);
	http_resp_free(&r);

	github_standin_put_file(gh, REPO, "images.json", SHA, "{\"images\": [");
	deliver_json("pull_request", text, &r);
	j = assert_problem(&r, 422, "not valid JSON");
	assert_item(j, "manifest", "body", "not valid JSON");
	json_decref(j);
	http_resp_free(&r);
	free(text);

	/* a clone URL Forja does not follow: a 422 without items */
	json_t *p = testhook_fixture("pull_request_merged.json");
	json_object_set_new(json_object_get(p, "pull_request"), "merge_commit_sha",
			    json_string(SHA));
	text = json_dumps(p, 0);
	deliver_json("pull_request", text, &r);
	j = assert_problem(&r, 422, "does not follow it");
	ck_assert_ptr_null(json_object_get(j, "errors"));
	json_decref(j);
	http_resp_free(&r);
	free(text);
	json_decref(p);
}
END_TEST

/* ---- POST /builds: the hand checks against the document's BuildRequest ---- */

/* A BuildRequest the document and the builder accept, plus MEMBER set to VALUE (steals;
 * NULL: MEMBER removed), as text (free()). */
static char *request_with(const char *member, json_t *value)
{
	json_t *b = json_pack("{s:s, s:s, s:s, s:s}", "service", "svc", "version", "1",
			      "repository", "git://127.0.0.1:1/x.git", "ref", "main");
	if (value)
		json_object_set_new(b, member, value);
	else
		json_object_del(b, member);
	char *text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return text;
}

/* POSTs BODY (freed), asserts 422 and returns the problem (json_decref). */
static json_t *refused(char *body)
{
	struct http_resp r;
	post_build(body, &r);
	json_t *j = assert_problem(&r, 422, "problem");
	http_resp_free(&r);
	free(body);
	return j;
}

/* Asserts the answer to BODY (freed) has exactly one item: FIELD, body, MESSAGE_PART. */
static void assert_only_item(char *body, const char *field, const char *message_part)
{
	json_t *j = refused(body);
	assert_item(j, field, "body", message_part);
	ck_assert_msg(error_count(j) == 1, "%s: %zu items", field, error_count(j));
	json_decref(j);
}

static json_t *build_request_schema(json_t *doc)
{
	json_t *s = json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
				    "BuildRequest");
	ck_assert_ptr_nonnull(s);
	return s;
}

static int is_required(json_t *schema, const char *member)
{
	size_t i;
	json_t *name;
	json_array_foreach(json_object_get(schema, "required"), i, name)
	{
		if (!strcmp(json_string_value(name), member))
			return 1;
	}
	return 0;
}

START_TEST(build_requests_meet_the_document)
{
	json_t *doc = problem_check_document();
	json_t *schema = build_request_schema(doc), *prop;
	const char *member;
	char field[128];

	/* nothing in the document's required list may go missing unnoticed */
	ck_assert_uint_ge(json_array_size(json_object_get(schema, "required")), 4);
	json_object_foreach(json_object_get(schema, "properties"), member, prop)
	{
		const char *type = json_string_value(json_object_get(prop, "type"));
		json_t *min = json_object_get(prop, "minLength");
		json_t *max = json_object_get(prop, "maxLength");
		int nullable = json_is_true(json_object_get(prop, "nullable"));

		if (is_required(schema, member))
			assert_only_item(request_with(member, NULL), member, "is required");
		if (!strcmp(type, "string")) {
			assert_only_item(request_with(member, json_integer(5)), member,
					 "must be a string");
		} else {
			ck_assert_str_eq(type, "object");
			ck_assert_str_eq(
			    json_string_value(json_object_get(
				json_object_get(prop, "additionalProperties"), "type")),
			    "string");
			assert_only_item(request_with(member, json_string("x")), member,
					 "must be an object of strings");
			snprintf(field, sizeof(field), "%s.K", member);
			assert_only_item(request_with(member, json_pack("{s:i}", "K", 1)), field,
					 "must be a string");
		}
		if (min) {
			ck_assert_int_eq(json_integer_value(min), 1);
			assert_only_item(request_with(member, json_string("")), member,
					 "must not be empty");
		}
		if (max) {
			size_t n = (size_t)json_integer_value(max) + 1;
			char *s = malloc(n + 1);
			memset(s, 'a', n);
			s[n] = '\0';
			json_t *j = refused(request_with(member, json_string(s)));
			ck_assert_msg(item_for(j, member), "%s of %zu characters accepted", member,
				      n);
			json_decref(j);
			free(s);
		}
		/* null: accepted where the document says nullable, refused elsewhere; the bad
		 * version keeps an accepted request from queueing a build */
		char *body = request_with(member, json_null());
		json_t *b = json_loads(body, 0, NULL);
		free(body);
		if (strcmp(member, "version"))
			json_object_set_new(b, "version", json_integer(5));
		else
			json_object_set_new(b, "service", json_integer(5));
		json_t *j = refused(json_dumps(b, JSON_COMPACT));
		json_decref(b);
		if (nullable)
			ck_assert_msg(!item_for(j, member), "null %s refused", member);
		else
			ck_assert_msg(item_for(j, member), "null %s accepted", member);
		json_decref(j);
	}
	json_decref(doc);
}
END_TEST

START_TEST(a_build_request_lists_every_problem_at_once)
{
	json_t *j = refused(strdup("{}"));
	json_t *doc = problem_check_document();
	json_t *req = json_object_get(build_request_schema(doc), "required"), *name;
	size_t i;
	json_array_foreach(req, i, name)
	{
		assert_item(j, json_string_value(name), "body", "is required");
	}
	ck_assert_uint_eq(error_count(j), json_array_size(req));
	json_decref(j);
	json_decref(doc);

	/* the builder's rules and the schema's, in one answer */
	j = refused(strdup("{\"service\":\"\",\"version\":\"bad tag!\",\"repository\":"
			   "\"ftp://host/x\",\"ref\":\"main\",\"context\":\"../up\","
			   "\"build_args\":{\"A\":1}}"));
	assert_item(j, "service", "body", "must not be empty");
	assert_item(j, "version", "body", "must match");
	assert_item(j, "repository", "body", "");
	assert_item(j, "context", "body", "..");
	assert_item(j, "build_args.A", "body", "must be a string");
	ck_assert_uint_eq(error_count(j), 5);
	json_decref(j);

	/* nothing was recorded by any of these */
	struct build *b = NULL;
	ck_assert_int_eq(store_build_latest(env.app.store, NULL, NULL, &b), FORJA_ENOTFOUND);
}
END_TEST

static Suite *problem_suite(void)
{
	Suite *s = suite_create("problem");
	TCase *check = tcase_create("problem_check");
	tcase_add_test(check, check_accepts_a_problem);
	tcase_add_test(check, check_refuses_the_old_badge_items);
	tcase_add_test(check, check_refuses_a_missing_detail);
	tcase_add_test(check, check_refuses_other_content_types);
	tcase_add_test(check, check_refuses_a_status_other_than_the_answer);
	tcase_add_test(check, check_refuses_items_without_a_known_in);
	suite_add_tcase(s, check);

	TCase *http = tcase_create("http");
	tcase_add_checked_fixture(http, setup, teardown);
	tcase_set_timeout(http, 120);
	tcase_add_test(http, parameters_answer_400_with_an_item_each);
	tcase_add_test(http, bodies_answer_400_and_415);
	tcase_add_test(http, auth_answers_401);
	tcase_add_test(http, unknown_things_answer_404_and_405);
	tcase_add_test(http, a_webhook_over_the_limit_answers_413);
	tcase_add_test(http, a_build_request_over_the_limit_answers_413);
	tcase_add_test(http, a_bad_manifest_answers_422_with_body_items);
	tcase_add_test(http, build_requests_meet_the_document);
	tcase_add_test(http, a_build_request_lists_every_problem_at_once);
	suite_add_tcase(s, http);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(problem_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
