/* /builds: list (filters, cursor pages), create (validate everything, persist, queue), get,
 * log (whole or followed as a stream until the build ends) and cancel. */
#include "builds_api.h"

#include <errno.h>
#include <inttypes.h>
#include <orcania.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../src/errors.h"
#include "../src/source.h"
#include "../src/log.h"
#include "conns.h"
#include "problem.h"

#define LIST_DEFAULT_LIMIT 20
#define LOG_SLICE_MS	   1000 /* a follower re-checks stop and status at least this often */
#define LOG_RETRY_AFTER_S  "5"
#define LOG_STREAM_BLOCK   16384

/* Path or query parameter NAME as a number, or DFLT when it is not given. The route layer has
 * already answered 400 for a value outside the document's type and range. */
static int64_t int_param(const struct _u_request *req, const char *name, int64_t dflt)
{
	const char *s = u_map_get(req->map_url, name);
	char *end = NULL;
	if (!s)
		return dflt;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	return errno != 0 || end == s || *end != '\0' ? dflt : (int64_t)v;
}

static int send_build(struct _u_response *resp, int status, const struct build *b, struct app *app)
{
	json_t *j = build_to_json(b, app->cfg->public_url);
	if (!j)
		return problem_send(resp, 500, "out of memory");
	int rc = problem_send_json(resp, status, j);
	json_decref(j);
	return rc;
}

/* 202 Accepted with the queued build B and where to follow it. */
static int send_queued(struct _u_response *resp, const struct build *b, struct app *app)
{
	char loc[64];
	snprintf(loc, sizeof(loc), "/builds/%" PRId64, b->id);
	int rc = send_build(resp, 202, b, app);
	u_map_put(resp->map_header, "Location", loc);
	return rc;
}

/* ---- GET /builds ---- */

struct list_query {
	struct build_filter f;
	const char *status_text;
};

/* The filters as the route layer let them through (openapi/openapi.json bounds each one). */
static void read_list_query(const struct _u_request *req, struct list_query *lq)
{
	memset(lq, 0, sizeof(*lq));
	lq->f.service = u_map_get(req->map_url, "service");
	lq->f.repository = u_map_get(req->map_url, "repository");
	lq->f.engine = u_map_get(req->map_url, "engine");
	lq->f.branch = u_map_get(req->map_url, "branch");
	lq->status_text = u_map_get(req->map_url, "status");
	lq->f.has_status =
	    lq->status_text && build_status_parse(lq->status_text, &lq->f.status) == 0;
	lq->f.limit = (int)int_param(req, "limit", LIST_DEFAULT_LIMIT);
	lq->f.before = int_param(req, "before", 0);
}

/* Appends "&NAME=<encoded VALUE>" to BUF at *OFF when VALUE is set; -1 when it does not fit. */
static int link_param(char *buf, size_t len, size_t *off, const char *name, const char *value)
{
	if (!value)
		return 0;
	char *enc = ulfius_url_encode(value);
	if (!enc)
		return -1;
	int n = snprintf(buf + *off, len - *off, "&%s=%s", name, enc);
	o_free(enc);
	if (n < 0 || (size_t)n >= len - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

/* The link to the page after LAST_ID with the same filters, or NULL when it is the last. */
static json_t *next_link(struct app *app, const struct list_query *lq, int64_t last_id)
{
	struct build_filter probe = lq->f;
	probe.before = last_id;
	probe.limit = 1;
	struct build **more = NULL;
	size_t n = 0;
	if (store_build_list(app->store, &probe, &more, &n) != 0 || n == 0) {
		build_array_free(more, n);
		return json_null();
	}
	build_array_free(more, n);
	char buf[4096];
	size_t off = (size_t)snprintf(buf, sizeof(buf), "/builds?limit=%d&before=%" PRId64,
				      lq->f.limit, last_id);
	if (link_param(buf, sizeof(buf), &off, "service", lq->f.service) != 0 ||
	    link_param(buf, sizeof(buf), &off, "status", lq->status_text) != 0 ||
	    link_param(buf, sizeof(buf), &off, "repository", lq->f.repository) != 0 ||
	    link_param(buf, sizeof(buf), &off, "branch", lq->f.branch) != 0 ||
	    link_param(buf, sizeof(buf), &off, "engine", lq->f.engine) != 0)
		return json_null();
	return json_string(buf);
}

int builds_api_list(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	json_t *body = NULL;
	struct build **arr = NULL;
	size_t n = 0;
	struct list_query lq;
	int rc;
	read_list_query(req, &lq);
	int err = store_build_list(app->store, &lq.f, &arr, &n);
	if (err != 0) {
		rc = problem_send(resp, 500, "cannot read the build history: %s", errors_text(err));
		goto out;
	}
	json_t *list = json_array();
	body = json_pack("{s:o}", "builds", list);
	if (!body) {
		rc = problem_send(resp, 500, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, build_to_json(arr[i], app->cfg->public_url));
	json_object_set_new(body, "next",
			    n == (size_t)lq.f.limit ? next_link(app, &lq, arr[n - 1]->id)
						    : json_null());
	rc = problem_send_json(resp, 200, body);
out:
	build_array_free(arr, n);
	json_decref(body);
	return rc;
}

/* ---- GET /builds/{id} ---- */

int builds_api_get(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	int64_t id = int_param(req, "id", 0);
	struct build *b = NULL;
	int err = store_build_get(app->store, id, &b);
	if (err == FORJA_ENOTFOUND)
		return problem_send(resp, 404, "no build with id %" PRId64, id);
	if (err != 0)
		return problem_send(resp, 500, "cannot read build %" PRId64 ": %s", id,
				    errors_text(err));
	int rc = send_build(resp, 200, b, app);
	build_free(b);
	return rc;
}

/* ---- GET /builds/{id}/log ---- */

struct log_stream {
	struct app *app;
	struct conns_stream *wait; /* while following; NULL without a guarded connection */
	int64_t id;
	uint64_t offset;
	int follow; /* 0: end at the current end of the log */
};

/* 1 when the build is final or gone (nothing more will be written), 0 while it can still
 * write or cannot be read now. */
static int build_is_final(struct app *app, int64_t id)
{
	struct build *b = NULL;
	int rc = store_build_get(app->store, id, &b);
	if (rc == FORJA_ENOTFOUND)
		return 1;
	int final = rc == 0 && build_status_is_final(b->status);
	build_free(b);
	return final;
}

/*
 * Never blocks: with nothing to send it suspends the connection (conns_stream_wait) and
 * returns 0, and MHD calls it again once a log line, the log's end or a watchdog round
 * resumes it. A callback that blocked would hold one of the server's few threads.
 */
static ssize_t log_stream_cb(void *ud, uint64_t pos, char *buf, size_t max)
{
	struct log_stream *ls = ud;
	int ended = 0, final = 0;
	long n;
	(void)pos;
	if (atomic_load(&ls->app->stopping))
		return U_STREAM_END;
	n = build_logs_read(ls->app->logs, ls->id, ls->offset, buf, max, &ended);
	if (n == 0 && !ended && ls->follow && build_is_final(ls->app, ls->id)) {
		/* The log is complete before the build turns final: one more read after
		 * seeing final has every byte. */
		final = 1;
		n = build_logs_read(ls->app->logs, ls->id, ls->offset, buf, max, &ended);
	}
	if (n < 0)
		return U_STREAM_ERROR;
	if (n > 0) {
		ls->offset += (uint64_t)n;
		return (ssize_t)n;
	}
	if (ended || final || !ls->follow)
		return U_STREAM_END;
	if (ls->wait)
		conns_stream_wait(ls->wait);
	else
		build_logs_wait(ls->app->logs, ls->id, ls->offset, LOG_SLICE_MS);
	return 0;
}

static void log_stream_free(void *ud)
{
	struct log_stream *ls = ud;
	conns_stream_close(ls->wait);
	free(ls);
}

int builds_api_log(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	int64_t id = int_param(req, "id", 0);
	const char *follow = u_map_get(req->map_url, "follow");
	int following = follow && strcmp(follow, "true") == 0;
	struct build *b = NULL;
	int err = store_build_get(app->store, id, &b);
	if (err == FORJA_ENOTFOUND)
		return problem_send(resp, 404, "no build with id %" PRId64, id);
	if (err != 0)
		return problem_send(resp, 500, "cannot read build %" PRId64 ": %s", id,
				    errors_text(err));
	build_free(b);
	struct log_stream *ls = calloc(1, sizeof(*ls));
	if (!ls)
		return problem_send(resp, 500, "out of memory");
	ls->app = app;
	ls->id = id;
	ls->follow = following;
	err = following && app->conns ? conns_stream_open(app->conns, req, id, &ls->wait) : 0;
	if (err == FORJA_EBUSY) {
		free(ls);
		u_map_put(resp->map_header, "Retry-After", LOG_RETRY_AFTER_S);
		return problem_send(resp, 503,
				    "as many logs are being followed as FORJA_MAX_STREAMS allows; "
				    "retry later, or read the log without follow=true");
	}
	/* ownership of LS moves to ulfius, released by log_stream_free when the stream ends */
	if (ulfius_set_stream_response(resp, 200, log_stream_cb, log_stream_free,
				       U_STREAM_SIZE_UNKNOWN, LOG_STREAM_BLOCK, ls) != U_OK) {
		log_stream_free(ls);
		return problem_send(resp, 500, "cannot start the log stream");
	}
	u_map_put(resp->map_header, "Content-Type", "text/plain; charset=utf-8");
	u_map_put(resp->map_header, "Cache-Control", "no-cache");
	u_map_put(resp->map_header, "X-Content-Type-Options", "nosniff");
	/* a proxy that buffers would hold the lines a follower waits for */
	u_map_put(resp->map_header, "X-Accel-Buffering", "no");
	return U_CALLBACK_COMPLETE;
}

/* ---- POST /builds ---- */

/* What the BuildRequest schema of openapi/openapi.json declares of a string member: required,
 * minLength 1. The route layer checks parameters only, so these checks are made here, in the
 * route layer's words; tests/integration/problem_test.c holds them to the document. */
#define MEMBER_REQUIRED 1
#define MEMBER_NONEMPTY 2

/* A string member of REQ: NULL when absent or null (optional members are nullable), or when
 * it breaks FLAGS or is of another type, with the problem added to ERRORS. */
static const char *req_string(json_t *req, const char *key, int flags, json_t *errors)
{
	json_t *v = json_object_get(req, key);
	const char *why = NULL;

	if (!v || json_is_null(v))
		why = flags & MEMBER_REQUIRED ? "is required" : NULL;
	else if (!json_is_string(v))
		why = "must be a string";
	else if ((flags & MEMBER_NONEMPTY) && !json_string_length(v))
		why = "must not be empty";
	if (why)
		problem_error_add(errors, key, "body", why);
	return why ? NULL : json_string_value(v);
}

/* The build_args member (an object of strings, nullable); NULL when absent or wrong, with every
 * wrong value added to ERRORS. Only its own problems make it NULL: the builder still checks the
 * keys of good build_args when another member is wrong. */
static json_t *req_build_args(json_t *req, json_t *errors)
{
	json_t *v = json_object_get(req, "build_args");
	int wrong = 0;
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_object(v)) {
		problem_error_add(errors, "build_args", "body", "must be an object of strings");
		return NULL;
	}
	const char *k;
	json_t *val;
	json_object_foreach(v, k, val)
	{
		if (!json_is_string(val)) {
			char field[300];
			snprintf(field, sizeof(field), "build_args.%.256s", k);
			problem_error_add(errors, field, "body", "must be a string");
			wrong = 1;
		}
	}
	return wrong ? NULL : v;
}

struct create_fields {
	const char *service, *version, *type, *repository, *ref, *context, *dockerfile;
	json_t *build_args; /* borrowed from the request */
};

static int has_field(json_t *errors, const char *field)
{
	size_t i;
	json_t *e;
	json_array_foreach(errors, i, e)
	{
		const char *f = json_string_value(json_object_get(e, "field"));
		if (f && strcmp(f, field) == 0)
			return 1;
	}
	return 0;
}

/* Drops builder problems about fields already reported as missing or mistyped, and names
 * fields as the request spells them (the builder's git_url is the request's repository). */
static void merge_errors(json_t *errors, json_t *more)
{
	size_t i;
	json_t *e;
	json_array_foreach(more, i, e)
	{
		const char *field = json_string_value(json_object_get(e, "field"));
		const char *message = json_string_value(json_object_get(e, "message"));
		if (!field || !message)
			continue;
		if (strcmp(field, "git_url") == 0)
			field = "repository";
		if (!has_field(errors, field))
			problem_error_add(errors, field, "body", message);
	}
}

/* Collects every problem of REQ into ERRORS; fills F with what is usable. */
static void validate_create(json_t *req, struct create_fields *f, json_t *errors)
{
	memset(f, 0, sizeof(*f));
	f->service = req_string(req, "service", MEMBER_REQUIRED | MEMBER_NONEMPTY, errors);
	f->version = req_string(req, "version", MEMBER_REQUIRED | MEMBER_NONEMPTY, errors);
	f->type = req_string(req, "type", 0, errors);
	f->repository = req_string(req, "repository", MEMBER_REQUIRED | MEMBER_NONEMPTY, errors);
	f->ref = req_string(req, "ref", MEMBER_REQUIRED | MEMBER_NONEMPTY, errors);
	f->context = req_string(req, "context", 0, errors);
	f->dockerfile = req_string(req, "dockerfile", MEMBER_NONEMPTY, errors);
	f->build_args = req_build_args(req, errors);
	struct build_spec spec = {
	    .service = f->service,
	    .version = f->version,
	    .type = f->type,
	    .git_url = f->repository,
	    .ref = f->ref,
	    .context = f->context,
	    .dockerfile = f->dockerfile,
	    .build_args = f->build_args,
	    .source = f->repository,
	};
	json_t *more = json_array();
	if (!more)
		return;
	builder_validate(&spec, more);
	merge_errors(errors, more);
	json_decref(more);
}

/* The stored form of a valid request; NULL on ENOMEM or an image reference too long. */
static struct build *create_build(const struct create_fields *f, struct app *app)
{
	char image[512];
	int sha = source_is_full_sha(f->ref);
	if (builder_image_ref(app->cfg->registry, f->service, f->version, image, sizeof(image)))
		return NULL;
	struct build_fields bf = {
	    .trigger = TRIGGER_API,
	    .service = f->service,
	    .version = f->version,
	    .type = f->type,
	    .image = image,
	    .repository = f->repository,
	    .clone_url = f->repository,
	    .commit = sha ? f->ref : NULL,
	    .ref = f->ref,
	    .context = f->context,
	    .dockerfile = f->dockerfile,
	    .build_args = f->build_args,
	    .branch = sha ? NULL : f->ref,
	};
	return build_new_from(&bf);
}

/* Parses the body: 415 for a non-JSON type, 400 for a body that is not a JSON object. */
static json_t *create_body(const struct _u_request *req, struct _u_response *resp)
{
	const char *ct = u_map_get_case(req->map_header, "Content-Type");
	if (!ct || strncasecmp(ct, "application/json", 16) != 0 ||
	    (ct[16] != '\0' && ct[16] != ';' && ct[16] != ' ')) {
		problem_send(resp, 415, "the body must be application/json, not %.100s",
			     ct ? ct : "(no content type)");
		return NULL;
	}
	json_error_t jerr;
	json_t *body =
	    json_loadb(req->binary_body, req->binary_body_length, JSON_REJECT_DUPLICATES, &jerr);
	if (!body) {
		problem_send(resp, 400, "the body is not valid JSON: %s (line %d)", jerr.text,
			     jerr.line);
		return NULL;
	}
	if (!json_is_object(body)) {
		json_decref(body);
		problem_send(resp, 400, "the body must be a JSON object (a BuildRequest)");
		return NULL;
	}
	return body;
}

int builds_api_create(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	json_t *body = create_body(req, resp);
	if (!body)
		return U_CALLBACK_COMPLETE;
	json_t *errors = json_array();
	struct build *b = NULL;
	struct create_fields f;
	int rc;
	validate_create(body, &f, errors);
	if (json_array_size(errors) > 0) {
		rc = problem_send_errors(
		    resp, 422, errors, "the build request has %zu problem%s (see errors)",
		    json_array_size(errors), json_array_size(errors) == 1 ? "" : "s");
		goto out;
	}
	b = create_build(&f, app);
	if (!b) {
		rc = problem_send(resp, 500, "cannot prepare the build");
		goto out;
	}
	int err = store_build_insert(app->store, b);
	if (err == 0)
		err = queue_push(app->queue, b->id);
	if (err != 0) {
		log_error("cannot queue a build of %s:%s: %s", b->service, b->version,
			  errors_text(err));
		if (err == FORJA_ENOSPC)
			rc = problem_send(resp, 507,
					  "cannot queue the build: %s; nothing was recorded, ask "
					  "again once space is freed",
					  errors_text(err));
		else
			rc =
			    problem_send(resp, 500, "cannot queue the build: %s", errors_text(err));
		goto out;
	}
	rc = send_queued(resp, b, app);
out:
	build_free(b);
	json_decref(errors);
	json_decref(body);
	return rc;
}

/* ---- POST /builds/{id}/rerun ---- */

/* A new queued build with B's specification at B's commit (its ref when it never resolved one),
 * recording that it reruns B. NULL on ENOMEM. */
static struct build *rerun_of(const struct build *b)
{
	json_t *args = b->build_args ? json_loads(b->build_args, 0, NULL) : NULL;
	struct build_fields f = {
	    .trigger = TRIGGER_API,
	    .service = b->service,
	    .version = b->version,
	    .type = b->type,
	    .image = b->image,
	    .repository = b->repository,
	    .clone_url = b->clone_url,
	    .commit = b->commit,
	    .ref = b->ref,
	    .context = b->context,
	    .dockerfile = b->dockerfile,
	    .build_args = args,
	    .pull_request = b->pull_request,
	    .branch = b->branch,
	};
	struct build *nb = build_new_from(&f);
	json_decref(args);
	if (nb)
		nb->rerun_of = b->id;
	return nb;
}

int builds_api_rerun(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	int64_t id = int_param(req, "id", 0);
	struct build *b = NULL, *nb = NULL;
	int rc;
	int err = store_build_get(app->store, id, &b);
	if (err == FORJA_ENOTFOUND) {
		rc = problem_send(resp, 404, "no build with id %" PRId64, id);
		goto out;
	}
	if (err == 0 && !(nb = rerun_of(b)))
		err = FORJA_ENOMEM;
	if (err == 0)
		err = store_build_insert(app->store, nb);
	if (err == 0)
		err = queue_push(app->queue, nb->id);
	if (err == FORJA_ENOSPC) {
		rc =
		    problem_send(resp, 507,
				 "cannot queue the rerun: %s; nothing was recorded, ask again once "
				 "space is freed",
				 errors_text(err));
		goto out;
	}
	if (err != 0) {
		rc = problem_send(resp, 500, "cannot rerun build %" PRId64 ": %s", id,
				  errors_text(err));
		goto out;
	}
	rc = send_queued(resp, nb, app);
out:
	build_free(b);
	build_free(nb);
	return rc;
}

/* ---- POST /builds/{id}/cancel ---- */

int builds_api_cancel(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	int64_t id = int_param(req, "id", 0);
	int err = queue_cancel(app->queue, id);
	struct build *b = NULL;
	int gerr = store_build_get(app->store, id, &b);
	if (err == FORJA_ENOTFOUND || gerr == FORJA_ENOTFOUND) {
		build_free(b);
		return problem_send(resp, 404, "no build with id %" PRId64, id);
	}
	if (err == FORJA_ECONFLICT && gerr == 0) {
		int rc = problem_send(resp, 409, "build %" PRId64 " has already finished (%s)", id,
				      build_status_name(b->status));
		build_free(b);
		return rc;
	}
	if (err != 0 || gerr != 0) {
		build_free(b);
		return problem_send(resp, 500, "cannot cancel build %" PRId64 ": %s", id,
				    errors_text(err != 0 ? err : gerr));
	}
	int rc = send_build(resp, 200, b, app);
	build_free(b);
	return rc;
}
