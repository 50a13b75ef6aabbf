#include "routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../src/errors.h"
#include "../src/log.h"
#include "badge_api.h"
#include "builds_api.h"
#include "conns.h"
#include "images_api.h"
#include "events_api.h"
#include "metrics_api.h"
#include "problem.h"
#include "system_api.h"
#include "ui_api.h"
#include "webhook_api.h"

/* The one table binding operationIds of openapi/openapi.json to handlers. */
const struct route_handler routes_table[] = {
    {"receiveGithubWebhook", webhook_api_receive, true},
    {"listBuilds", builds_api_list, false},
    {"createBuild", builds_api_create, false},
    {"getBuild", builds_api_get, false},
    {"getBuildLog", builds_api_log, false},
    {"cancelBuild", builds_api_cancel, false},
    {"rerunBuild", builds_api_rerun, false},
    {"streamEvents", events_api_stream, false},
    {"getBadge", badge_api_get, false},
    {"listImages", images_api_list, false},
    {"getHealth", system_api_health, false},
    {"getMetrics", metrics_api_get, false},
    {"getOpenapiDocument", system_api_openapi, false},
    {"getDocs", system_api_docs, false},
    {"getDocsAsset", system_api_docs_asset, false},
    {"getDashboardRoot", ui_api_root, false},
    {"getDashboardBuilds", ui_api_builds, false},
    {"getDashboardBuild", ui_api_build, false},
    {"getDashboardServices", ui_api_services, false},
    {"getDashboardImages", ui_api_images, false},
    {"getDashboardAsset", ui_api_asset, false},
    {NULL, NULL, false},
};

#define ROUTES_MAX 64

/* Who may call an operation, from its security requirement in the document. */
enum route_access {
	ROUTE_PUBLIC,
	ROUTE_READ, /* readAuth: the read token or the API token, once a read token is set */
	ROUTE_API,  /* bearerAuth: the API token */
};

struct route {
	char method[8];
	char *path;	   /* as in the document: /builds/{id} */
	char *ulfius_path; /* /builds/:id */
	char *key;	   /* METHOD + path with parameter names erased, for clash checks */
	const char *operation_id;
	int (*fn)(const struct _u_request *req, struct _u_response *resp, struct app *app);
	json_t *params; /* borrowed from doc: path-level then operation-level parameters */
	enum route_access access;
	bool webhook_body;
	size_t path_index; /* its entry in routes.paths */
	struct app *app;
};

/* One per document path: answers 405 with Allow for methods it does not have. */
struct route_path {
	char *ulfius_path;
	char allow[64];
	struct app *app;
};

struct routes {
	json_t *doc;
	struct route routes[ROUTES_MAX];
	size_t n;
	struct route_path paths[ROUTES_MAX];
	size_t npaths;
	struct app *app; /* set at registration */
};

static const char *const routes_methods[] = {"get",   "put",  "post",	"delete",
					     "patch", "head", "options"};

/* "/builds/{id}/log" -> "/builds/:id/log" (ULFIUS) and "/builds/{}/log" (KEY). */
static int routes_convert_path(const char *path, char **ulfius_path, char **key)
{
	size_t len = strlen(path);
	char *u = malloc(len + 1), *k = malloc(len + 1);
	size_t ui = 0, ki = 0;
	bool in_param = false;

	if (!u || !k) {
		free(u);
		free(k);
		return FORJA_ENOMEM;
	}
	for (size_t i = 0; i < len; i++) {
		char c = path[i];
		if (c == '{') {
			in_param = true;
			u[ui++] = ':';
			k[ki++] = '{';
			k[ki++] = '}';
		} else if (c == '}') {
			in_param = false;
		} else {
			u[ui++] = c;
			if (!in_param)
				k[ki++] = c;
		}
	}
	u[ui] = '\0';
	k[ki] = '\0';
	*ulfius_path = u;
	*key = k;
	return 0;
}

static const struct route_handler *routes_find_handler(const struct route_handler *table,
						       const char *op)
{
	for (const struct route_handler *h = table; h->operation_id; h++) {
		if (!strcmp(h->operation_id, op))
			return h;
	}
	return NULL;
}

static enum route_access routes_op_access(json_t *op)
{
	json_t *sec = json_object_get(op, "security"), *req;
	enum route_access access = ROUTE_PUBLIC;
	size_t i;
	json_array_foreach(sec, i, req)
	{
		if (json_object_get(req, "bearerAuth"))
			return ROUTE_API;
		if (json_object_get(req, "readAuth"))
			access = ROUTE_READ;
	}
	return access;
}

/* Path-level parameters first, then the operation's (which may add to them). */
static json_t *routes_merge_params(json_t *path_item, json_t *op)
{
	json_t *all = json_array();
	if (!all)
		return NULL;
	json_array_extend(all, json_object_get(path_item, "parameters"));
	json_array_extend(all, json_object_get(op, "parameters"));
	return all;
}

static int routes_add(struct routes *r, const char *path, const char *method, json_t *path_item,
		      json_t *op, const struct route_handler *table, char *err, size_t errlen)
{
	const char *op_id = json_string_value(json_object_get(op, "operationId"));
	const struct route_handler *h;
	struct route *rt;
	char upper[8];
	size_t i;

	for (i = 0; method[i] && i < sizeof(upper) - 1; i++)
		upper[i] = (char)(method[i] - 'a' + 'A');
	upper[i] = '\0';
	if (!op_id) {
		snprintf(err, errlen, "openapi: %s %s has no operationId", upper, path);
		return FORJA_EINVAL;
	}
	h = routes_find_handler(table, op_id);
	if (!h) {
		snprintf(err, errlen,
			 "openapi: operation %s (%s %s) has no handler in the route table", op_id,
			 upper, path);
		return FORJA_EINVAL;
	}
	if (r->n == ROUTES_MAX) {
		snprintf(err, errlen, "openapi: more than %d operations", ROUTES_MAX);
		return FORJA_EINVAL;
	}
	rt = &r->routes[r->n];
	memcpy(rt->method, upper, sizeof(upper));
	rt->path = strdup(path);
	if (!rt->path || routes_convert_path(path, &rt->ulfius_path, &rt->key))
		return FORJA_ENOMEM;
	rt->operation_id = h->operation_id;
	rt->fn = h->fn;
	rt->params = routes_merge_params(path_item, op);
	rt->access = routes_op_access(op);
	rt->webhook_body = h->webhook_body;
	r->n++;
	for (i = 0; i + 1 < r->n; i++) {
		struct route *o = &r->routes[i];
		if (!strcmp(o->method, rt->method) && !strcmp(o->key, rt->key)) {
			snprintf(err, errlen, "openapi: %s and %s are both %s %s", o->operation_id,
				 op_id, upper, path);
			return FORJA_EINVAL;
		}
		if (!strcmp(o->operation_id, op_id) || o->fn == rt->fn) {
			snprintf(err, errlen,
				 "openapi: handler of %s is bound twice (%s %s and %s %s)", op_id,
				 o->method, o->path, upper, path);
			return FORJA_EINVAL;
		}
	}
	return 0;
}

static int routes_add_path(struct routes *r, const char *path, json_t *item,
			   const struct route_handler *table, char *err, size_t errlen)
{
	struct route_path *p;
	char *key = NULL;
	int rc;

	if (r->npaths == ROUTES_MAX) {
		snprintf(err, errlen, "openapi: more than %d paths", ROUTES_MAX);
		return FORJA_EINVAL;
	}
	p = &r->paths[r->npaths++];
	rc = routes_convert_path(path, &p->ulfius_path, &key);
	free(key);
	if (rc)
		return rc;
	for (size_t m = 0; m < sizeof(routes_methods) / sizeof(routes_methods[0]); m++) {
		json_t *op = json_object_get(item, routes_methods[m]);
		if (!op)
			continue;
		rc = routes_add(r, path, routes_methods[m], item, op, table, err, errlen);
		if (rc)
			return rc;
		r->routes[r->n - 1].path_index = r->npaths - 1;
		size_t used = strlen(p->allow);
		char method[8];
		memcpy(method, r->routes[r->n - 1].method, sizeof(method));
		snprintf(p->allow + used, sizeof(p->allow) - used, "%s%s%s", used ? ", " : "",
			 method, strcmp(method, "GET") ? "" : ", HEAD");
	}
	return 0;
}

/* A handler nobody routes to means the document and the code have drifted apart. */
static int routes_check_unused(const struct routes *r, const struct route_handler *table, char *err,
			       size_t errlen)
{
	for (const struct route_handler *h = table; h->operation_id; h++) {
		bool used = false;
		for (size_t i = 0; i < r->n && !used; i++)
			used = r->routes[i].fn == h->fn;
		if (!used) {
			snprintf(err, errlen,
				 "openapi: handler %s has no operation in the document",
				 h->operation_id);
			return FORJA_EINVAL;
		}
	}
	return 0;
}

int routes_build(const char *doc, size_t len, const struct route_handler *table,
		 struct routes **out, char *err, size_t errlen)
{
	json_error_t jerr;
	struct routes *r = calloc(1, sizeof(*r));
	json_t *paths, *item;
	const char *path;
	int rc = FORJA_EINVAL;

	if (!r)
		return FORJA_ENOMEM;
	r->doc = json_loadb(doc, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!r->doc) {
		snprintf(err, errlen, "openapi: not valid JSON at line %d: %s", jerr.line,
			 jerr.text);
		goto fail;
	}
	paths = json_object_get(r->doc, "paths");
	if (!json_is_object(paths)) {
		snprintf(err, errlen, "openapi: the document has no paths object");
		goto fail;
	}
	json_object_foreach(paths, path, item)
	{
		rc = routes_add_path(r, path, item, table, err, errlen);
		if (rc)
			goto fail;
	}
	rc = routes_check_unused(r, table, err, errlen);
	if (rc)
		goto fail;
	*out = r;
	return 0;
fail:
	routes_free(r);
	return rc ? rc : FORJA_EINVAL;
}

size_t routes_count(const struct routes *r)
{
	return r->n;
}

void routes_free(struct routes *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->routes[i].path);
		free(r->routes[i].ulfius_path);
		free(r->routes[i].key);
		json_decref(r->routes[i].params);
	}
	for (size_t i = 0; i < r->npaths; i++)
		free(r->paths[i].ulfius_path);
	json_decref(r->doc);
	free(r);
}

/* ---- request time: security, parameters, access log ---- */

static double routes_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void routes_client(const struct _u_request *req, char *buf, size_t len)
{
	const struct sockaddr *sa = req->client_address;
	snprintf(buf, len, "-");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, buf,
			  (socklen_t)len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
			  buf, (socklen_t)len);
}

/* Whether VALUE is TOKEN, compared in constant time. */
static bool routes_plain_token_is(const char *value, const char *token)
{
	size_t tlen = token ? strlen(token) : 0;
	return token && value && strlen(value) == tlen && !gnutls_memcmp(value, token, tlen);
}

/* URL with the value of an access_token parameter replaced, into BUF: tokens never reach
 * the log. */
static const char *routes_redacted(const char *url, char *buf, size_t len)
{
	const char *p = url ? strstr(url, "access_token=") : NULL;
	if (!p)
		return url ? url : "";
	const char *end = strchr(p, '&');
	snprintf(buf, len, "%.*saccess_token=REDACTED%s", (int)(p - url), url, end ? end : "");
	return buf;
}

/* One access-log line and one metric per request, whatever answered it. */
static void routes_log(const struct _u_request *req, const struct _u_response *resp,
		       struct app *app, const char *route, double t0)
{
	double dt = routes_now() - t0;
	char client[INET6_ADDRSTRLEN];
	metrics_http_request(app->metrics, route, (int)resp->status, dt);
	routes_client(req, client, sizeof(client));
	char url[2048];
	log_info("%s \"%s %s\" %ld %.1fms", client, req->http_verb,
		 routes_redacted(req->http_url, url, sizeof(url)), resp->status, dt * 1000.0);
}

/* Whether AUTH is "Bearer TOKEN", compared in constant time. */
static bool routes_token_is(const char *auth, const char *token)
{
	size_t tlen = token ? strlen(token) : 0;
	return token && auth && !strncasecmp(auth, "Bearer ", 7) && strlen(auth + 7) == tlen &&
	       !gnutls_memcmp(auth + 7, token, tlen);
}

static int routes_unauthorized(struct _u_response *resp, const char *auth, const char *which)
{
	u_map_put(resp->map_header, "WWW-Authenticate", "Bearer realm=\"forja\"");
	if (auth)
		return problem_send(resp, 401, "the bearer token is wrong: send %s", which);
	return problem_send(resp, 401, "missing 'Authorization: Bearer <token>' header: send %s",
			    which);
}

static int routes_check_access(const struct _u_request *req, struct _u_response *resp,
			       const struct route *rt)
{
	const struct config *cfg = rt->app->cfg;
	const char *auth = u_map_get_case(req->map_header, "Authorization");
	const char *qtoken = u_map_get(req->map_url, "access_token");

	if (rt->access == ROUTE_PUBLIC || (rt->access == ROUTE_READ && !cfg->read_token))
		return 0;
	if (rt->access == ROUTE_READ) {
		if (routes_token_is(auth, cfg->read_token) || routes_token_is(auth, cfg->api_token))
			return 0;
		/* a browser's EventSource cannot send headers: reads also take ?access_token= */
		if (!auth && qtoken &&
		    (routes_plain_token_is(qtoken, cfg->read_token) ||
		     routes_plain_token_is(qtoken, cfg->api_token)))
			return 0;
		return routes_unauthorized(resp, auth, "the read token or the API token");
	}
	if (!cfg->api_token)
		return problem_send(resp, 403,
				    "%s %s is disabled because no API token is configured: start "
				    "Forja with FORJA_API_TOKEN=<token> (or --api-token) and send "
				    "'Authorization: Bearer <token>'",
				    rt->method, rt->path);
	if (routes_token_is(auth, cfg->api_token))
		return 0;
	return routes_unauthorized(resp, auth, "the API token");
}

/* ulfius keeps at most the largest cap + 1 bytes, so a longer body shows as cap + 1. */
static int routes_check_body(const struct _u_request *req, struct _u_response *resp,
			     const struct route *rt)
{
	const struct config *cfg = rt->app->cfg;
	size_t cap = rt->webhook_body ? cfg->webhook_max_bytes : cfg->max_body_bytes;
	const char *cl = u_map_get_case(req->map_header, "Content-Length");
	unsigned long long declared = 0;
	char *end = NULL;

	if (cl) {
		errno = 0;
		declared = strtoull(cl, &end, 10);
		if (errno == ERANGE)
			declared = ULLONG_MAX;
	}
	if (declared <= cap && req->binary_body_length <= cap)
		return 0;
	metrics_http_limit(rt->app->metrics, "body");
	if (rt->webhook_body)
		return problem_send(resp, 413,
				    "the body is larger than %zu bytes (FORJA_WEBHOOK_MAX_BYTES; "
				    "GitHub sends at most 25 MB)",
				    cap);
	return problem_send(resp, 413, "the body is larger than %zu bytes (FORJA_MAX_BODY_BYTES)",
			    cap);
}

/* Digits with an optional '-': strtoll alone would also take " 5" and "+5". */
static int routes_parse_int(const char *s, long long *out)
{
	char *end = NULL;
	const char *digits = s[0] == '-' ? s + 1 : s;
	if (*digits < '0' || *digits > '9')
		return FORJA_EINVAL;
	errno = 0;
	*out = strtoll(s, &end, 10);
	return (errno || end == s || *end) ? FORJA_EINVAL : 0;
}

static int check_integer(json_t *schema, const char *value, char *msg, size_t len)
{
	json_t *min = json_object_get(schema, "minimum"), *max = json_object_get(schema, "maximum");
	long long n;

	if (routes_parse_int(value, &n)) {
		snprintf(msg, len, "must be a whole number, got \"%.64s\"", value);
		return FORJA_EINVAL;
	}
	if ((min && n < json_integer_value(min)) || (max && n > json_integer_value(max))) {
		if (max)
			snprintf(msg, len, "must be from %lld to %lld, got %lld",
				 (long long)json_integer_value(min),
				 (long long)json_integer_value(max), n);
		else
			snprintf(msg, len, "must be at least %lld, got %lld",
				 (long long)json_integer_value(min), n);
		return FORJA_EINVAL;
	}
	return 0;
}

static int check_enum(json_t *en, const char *value, char *msg, size_t len)
{
	size_t i;
	json_t *v;
	json_array_foreach(en, i, v)
	{
		if (!strcmp(json_string_value(v) ? json_string_value(v) : "", value))
			return 0;
	}
	char *allowed = json_dumps(en, JSON_COMPACT);
	snprintf(msg, len, "must be one of %s, got \"%.64s\"", allowed ? allowed : "[]", value);
	free(allowed);
	return FORJA_EINVAL;
}

static int check_string(json_t *schema, const char *value, char *msg, size_t len)
{
	json_t *mn = json_object_get(schema, "minLength"),
	       *mx = json_object_get(schema, "maxLength");
	json_t *en = json_object_get(schema, "enum");

	if (mn && strlen(value) < (size_t)json_integer_value(mn)) {
		if (json_integer_value(mn) == 1)
			snprintf(msg, len, "must not be empty");
		else
			snprintf(msg, len, "is shorter than %lld characters",
				 (long long)json_integer_value(mn));
		return FORJA_EINVAL;
	}
	if (mx && strlen(value) > (size_t)json_integer_value(mx)) {
		snprintf(msg, len, "is longer than %lld characters",
			 (long long)json_integer_value(mx));
		return FORJA_EINVAL;
	}
	return json_is_array(en) ? check_enum(en, value, msg, len) : 0;
}

/* Checks VALUE against the parameter's schema; on a problem writes it into MSG. */
static int routes_check_value(json_t *schema, const char *value, char *msg, size_t len)
{
	const char *type = json_string_value(json_object_get(schema, "type"));

	if (type && !strcmp(type, "integer"))
		return check_integer(schema, value, msg, len);
	if (type && !strcmp(type, "boolean")) {
		if (strcmp(value, "true") && strcmp(value, "false")) {
			snprintf(msg, len, "must be true or false, got \"%.64s\"", value);
			return FORJA_EINVAL;
		}
		return 0;
	}
	return check_string(schema, value, msg, len);
}

/* Validates every declared path, query and header parameter; 0 or an answered 400. */
static int routes_check_params(const struct _u_request *req, struct _u_response *resp,
			       const struct route *rt)
{
	json_t *errors = NULL, *p;
	char first[512] = "";
	size_t i;
	int rc = 0;

	json_array_foreach(rt->params, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *in = json_string_value(json_object_get(p, "in"));
		const char *value;
		char msg[384];
		if (!name || !in)
			continue;
		if (!strcmp(in, "header"))
			value = u_map_get_case(req->map_header, name);
		else
			value = u_map_get(req->map_url, name);
		if (!value) {
			if (!json_is_true(json_object_get(p, "required")))
				continue;
			snprintf(msg, sizeof(msg), "is required");
		} else if (!routes_check_value(json_object_get(p, "schema"), value, msg,
					       sizeof(msg))) {
			continue;
		}
		if (!errors)
			errors = json_array();
		problem_error_add(errors, name, in, msg);
		if (!first[0])
			snprintf(first, sizeof(first), "%s%s '%s' %s", in,
				 strcmp(in, "header") ? " parameter" : "", name, msg);
	}
	if (errors) {
		rc = problem_send_errors(resp, 400, errors, "%s", first);
		json_decref(errors);
	}
	return rc;
}

/* 0, or the refusal's U_CALLBACK_COMPLETE with RESP set. */
static int routes_check(const struct _u_request *req, struct _u_response *resp,
			const struct route *rt)
{
	int rc = routes_check_body(req, resp, rt);
	if (!rc)
		rc = routes_check_access(req, resp, rt);
	if (!rc)
		rc = routes_check_params(req, resp, rt);
	return rc;
}

int routes_check_request(const struct routes *r, const char *operation_id,
			 const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	for (size_t i = 0; i < r->n; i++) {
		if (strcmp(r->routes[i].operation_id, operation_id))
			continue;
		/* a copy: R is shared by the server's threads and its app is set at registration */
		struct route rt = r->routes[i];
		rt.app = app;
		return routes_check(req, resp, &rt) ? FORJA_EINVAL : 0;
	}
	return FORJA_ENOTFOUND;
}

static int routes_dispatch(const struct _u_request *req, struct _u_response *resp,
			   const struct route *rt)
{
	double t0 = routes_now();
	int rc;

	conns_mark_received(rt->app->conns, req);
	rc = routes_check(req, resp, rt);
	if (!rc)
		rc = rt->fn(req, resp, rt->app);
	routes_log(req, resp, rt->app, rt->operation_id, t0);
	/* a handler must finish the chain, or a lower-priority catch-all would overwrite it */
	return U_CALLBACK_COMPLETE;
}

static int routes_method_not_allowed(const struct _u_request *req, struct _u_response *resp,
				     const struct route_path *p)
{
	double t0 = routes_now();
	conns_mark_received(p->app->conns, req);
	u_map_put(resp->map_header, "Allow", p->allow);
	problem_send(resp, 405, "%s is not allowed on %s; allowed: %s", req->http_verb,
		     req->url_path, p->allow);
	routes_log(req, resp, p->app, "unmatched", t0);
	return U_CALLBACK_COMPLETE;
}

static int routes_not_found(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	double t0 = routes_now();
	conns_mark_received(app->conns, req);
	problem_send(resp, 404,
		     "no such path: %s (the API is described at /openapi.json and /docs)",
		     req->url_path);
	routes_log(req, resp, app, "unmatched", t0);
	return U_CALLBACK_COMPLETE;
}

/* The next segment of *P ("/a//b": "a", then "b"; empty ones are skipped, as ulfius does):
 * its start, its length in *LEN; NULL at the end. */
static const char *routes_segment(const char **p, size_t *len)
{
	while (**p == '/')
		(*p)++;
	if (!**p)
		return NULL;
	const char *start = *p;
	*len = strcspn(start, "/");
	*p = start + *len;
	return start;
}

/*
 * Whether URL (a request path) matches FORMAT ("/builds/:id"): the number of parameters it binds,
 * or -1. With PARAMS, puts each bound parameter there (a value the caller's map copies).
 */
static int routes_match(const char *format, const char *url, struct _u_map *params)
{
	const char *f = format, *u = url, *fs, *us;
	size_t flen = 0, ulen = 0;
	int bound = 0;
	for (;;) {
		fs = routes_segment(&f, &flen);
		us = routes_segment(&u, &ulen);
		if (!fs || !us)
			return fs == us ? bound : -1;
		if (*fs != ':') {
			if (flen != ulen || memcmp(fs, us, flen))
				return -1;
			continue;
		}
		bound++;
		if (!params)
			continue;
		char *name = strndup(fs + 1, flen - 1), *value = strndup(us, ulen);
		int ok = name && value && u_map_put(params, name, value) == U_OK;
		free(name);
		free(value);
		if (!ok)
			return -1;
	}
}

/*
 * Every request comes here (ulfius's default endpoint, no endpoint registered): one walk of the
 * document's paths, where ulfius would split every registered URL format per request. The path
 * that binds the fewest parameters wins, so a literal segment goes before a parameter.
 */
static int routes_route(const struct _u_request *req, struct _u_response *resp, void *ud)
{
	struct routes *r = ud;
	const struct route_path *best = NULL;
	int best_bound = INT_MAX;
	for (size_t i = 0; i < r->npaths; i++) {
		int bound = routes_match(r->paths[i].ulfius_path, req->url_path, NULL);
		if (bound >= 0 && bound < best_bound) {
			best = &r->paths[i];
			best_bound = bound;
		}
	}
	if (!best)
		return routes_not_found(req, resp, r->app);
	/* MHD sends a HEAD answer's headers, Content-Length included, and no body */
	const char *method = strcasecmp(req->http_verb, "HEAD") ? req->http_verb : "GET";
	for (size_t i = 0; i < r->n; i++) {
		struct route *rt = &r->routes[i];
		if (&r->paths[rt->path_index] != best || strcasecmp(rt->method, method))
			continue;
		if (routes_match(best->ulfius_path, req->url_path, req->map_url) < 0)
			return problem_send(resp, 500, "out of memory reading the request path");
		return routes_dispatch(req, resp, rt);
	}
	return routes_method_not_allowed(req, resp, best);
}

int routes_register(struct routes *r, struct _u_instance *inst, struct app *app)
{
	r->app = app;
	for (size_t i = 0; i < r->n; i++)
		r->routes[i].app = app;
	for (size_t i = 0; i < r->npaths; i++)
		r->paths[i].app = app;
	return ulfius_set_default_endpoint(inst, routes_route, r) == U_OK ? 0 : FORJA_EINVAL;
}
