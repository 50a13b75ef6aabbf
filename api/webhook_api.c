/* POST /ciserver/updates: bounds and signature first, then the event; a merged pull request
 * becomes recorded, queued builds before the answer, and a redelivery only repeats the answer. */
#include "webhook_api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../src/delivery.h"
#include "../src/errors.h"
#include "../src/webhook.h"
#include "problem.h"

/* What one delivery carries, as read from the request. */
struct delivery {
	const char *event;
	const char *id;
	const char *hook_id;
	char *json; /* decoded form payload, or NULL when the body is the JSON */
	json_t *payload;
};

static const char *header(const struct _u_request *req, const char *name)
{
	const char *v = u_map_get_case(req->map_header, name);
	return v && *v ? v : NULL;
}

static int count_outcome(struct app *app, const char *event, const char *outcome, int rc)
{
	/* The header is the sender's text: only known names become metric labels. */
	const char *label = "other";
	if (!event)
		label = "unknown";
	else if (strcmp(event, "ping") == 0 || strcmp(event, "pull_request") == 0 ||
		 strcmp(event, "push") == 0)
		label = event;
	metrics_webhook(app->metrics, label, outcome);
	return rc;
}

/* 0 for application/json, 1 for form-encoded, -1 otherwise (parameters after ';' ignored). */
static int content_kind(const char *ct)
{
	if (!ct)
		return -1;
	size_t len = strcspn(ct, "; \t");
	if (len == 16 && strncasecmp(ct, "application/json", len) == 0)
		return 0;
	if (len == 33 && strncasecmp(ct, "application/x-www-form-urlencoded", len) == 0)
		return 1;
	return -1;
}

static int check_signature(const struct _u_request *req, struct _u_response *resp, struct app *app,
			   const char *event)
{
	const char *secret = app->cfg->webhook_secret;
	if (!secret || !*secret) {
		if (app->cfg->allow_unsigned_webhooks)
			return 0;
		count_outcome(app, event, "rejected", 0);
		problem_send(
		    resp, 403,
		    "unsigned webhooks are refused: set FORJA_WEBHOOK_SECRET (or "
		    "--webhook-secret) to the secret of the GitHub webhook, or start Forja "
		    "with --allow-unsigned-webhooks on a trusted network");
		return -1;
	}
	const char *sig = header(req, "X-Hub-Signature-256");
	if (webhook_signature_verify(secret, req->binary_body, req->binary_body_length, sig) == 0)
		return 0;
	count_outcome(app, event, "rejected", 0);
	problem_send(resp, 401, "%s",
		     sig ? "X-Hub-Signature-256 does not match the body signed with the webhook "
			   "secret"
			 : "X-Hub-Signature-256 is missing: the webhook secret is set, so every "
			   "delivery must be signed");
	return -1;
}

/* JSON of the delivery into D (the route layer has checked its headers); answers 400/415
 * itself and returns -1. */
static int delivery_read(const struct _u_request *req, struct _u_response *resp, struct app *app,
			 struct delivery *d)
{
	json_error_t jerr;
	const char *body = req->binary_body;
	size_t len = req->binary_body_length;
	int kind = content_kind(header(req, "Content-Type"));
	if (kind < 0) {
		count_outcome(app, d->event, "rejected", 0);
		problem_send(resp, 415,
			     "Content-Type %s is not accepted: use application/json or "
			     "application/x-www-form-urlencoded",
			     header(req, "Content-Type") ? header(req, "Content-Type") : "(none)");
		return -1;
	}
	if (kind == 1) {
		size_t jlen = 0;
		int rc = webhook_form_payload(body, len, &d->json, &jlen);
		if (rc) {
			count_outcome(app, d->event, "rejected", 0);
			problem_send(resp, rc == FORJA_ENOMEM ? 500 : 400,
				     "the form-encoded body has no valid payload field");
			return -1;
		}
		body = d->json;
		len = jlen;
	}
	if (!body || len == 0) {
		count_outcome(app, d->event, "rejected", 0);
		problem_send(resp, 400, "the body is empty: expected the event JSON");
		return -1;
	}
	if (!webhook_json_depth_ok(body, len, WEBHOOK_MAX_JSON_DEPTH)) {
		count_outcome(app, d->event, "rejected", 0);
		problem_send(resp, 400, "the payload nests deeper than %d levels",
			     WEBHOOK_MAX_JSON_DEPTH);
		return -1;
	}
	d->payload = json_loadb(body, len, 0, &jerr);
	if (!json_is_object(d->payload)) {
		count_outcome(app, d->event, "rejected", 0);
		if (d->payload)
			problem_send(resp, 400, "the payload is not a JSON object");
		else
			problem_send(resp, 400,
				     "the payload is not valid JSON: %s at line %d column %d",
				     jerr.text, jerr.line, jerr.column);
		return -1;
	}
	return 0;
}

static int answer_message(struct _u_response *resp, int status, const char *msg)
{
	json_t *o = json_pack("{s:s}", "message", msg);
	int rc = o ? problem_send_json(resp, status, o) : problem_send(resp, 500, "out of memory");
	json_decref(o);
	return rc;
}

/* {"message", "delivery", "builds": [{id, service, version, status, image, links}]}. */
static int answer_builds(struct _u_response *resp, int status, struct app *app, const char *message,
			 const char *delivery, struct build **builds, size_t n)
{
	static const char *const keep[] = {"id", "service", "version", "status", "image", "links"};
	json_t *list = json_array();
	for (size_t i = 0; list && i < n; i++) {
		json_t *full = build_to_json(builds[i], app->cfg->public_url);
		json_t *ref = json_object();
		for (size_t k = 0; full && ref && k < sizeof(keep) / sizeof(keep[0]); k++) {
			json_t *v = json_object_get(full, keep[k]);
			if (v)
				json_object_set(ref, keep[k], v);
		}
		json_decref(full);
		json_array_append_new(list, ref);
	}
	json_t *o =
	    json_pack("{s:s, s:s, s:o*}", "message", message, "delivery", delivery, "builds", list);
	int rc = o ? problem_send_json(resp, status, o) : problem_send(resp, 500, "out of memory");
	json_decref(o);
	return rc;
}

static int answer_duplicate(struct _u_response *resp, struct app *app, const struct delivery *d,
			    struct build **builds, size_t n)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "already received: delivery %s queued %zu build%s", d->id, n,
		 n == 1 ? "" : "s");
	count_outcome(app, d->event, "duplicate", 0);
	return answer_builds(resp, 200, app, msg, d->id, builds, n);
}

/* Maps what accepting the merged pull request came to onto the answer GitHub receives. */
static int merged_pr(struct _u_response *resp, struct app *app, const struct delivery *d,
		     const struct webhook_pr *pr)
{
	struct delivery_ctx ctx = {
	    .store = app->store,
	    .queue = app->queue,
	    .github = app->github,
	    .manifest = app->cfg->manifest,
	    .registry = app->cfg->registry,
	    .use_ssh_url = app->cfg->git_ssh_key_file && *app->cfg->git_ssh_key_file &&
			   !(app->cfg->github_token && *app->cfg->github_token),
	};
	struct delivery_outcome out;
	char msg[64];
	int rc;
	delivery_accept(&ctx, d->hook_id, d->id, pr, &out);
	switch (out.result) {
	case DELIVERY_QUEUED:
		snprintf(msg, sizeof(msg), "queued %zu build%s", out.n, out.n == 1 ? "" : "s");
		count_outcome(app, d->event, "queued", 0);
		rc = answer_builds(resp, 202, app, msg, d->id, out.builds, out.n);
		break;
	case DELIVERY_DUPLICATE: rc = answer_duplicate(resp, app, d, out.builds, out.n); break;
	case DELIVERY_NOT_ALLOWED:
		count_outcome(app, d->event, "rejected", 0);
		rc = problem_send(resp, 422,
				  "repository.clone_url %s is not on the configured GitHub (%s) "
				  "nor in FORJA_ALLOWED_HOSTS: Forja does not follow it",
				  pr->clone_url, app->cfg->github_api_url);
		break;
	case DELIVERY_INVALID:
		count_outcome(app, d->event, "rejected", 0);
		rc = problem_send_errors(resp, 422, out.errors, "%s", out.detail);
		break;
	case DELIVERY_UPSTREAM:
		count_outcome(app, d->event, "error", 0);
		rc = problem_send(resp, 502, "%s; redeliver the event once GitHub can be reached",
				  out.detail);
		break;
	case DELIVERY_NO_SPACE:
		count_outcome(app, d->event, "error", 0);
		rc = problem_send(resp, 507,
				  "%s: nothing was recorded; redeliver the event once space is "
				  "freed",
				  out.detail);
		break;
	default:
		count_outcome(app, d->event, "error", 0);
		rc = problem_send(resp, 500, "%s", out.detail);
		break;
	}
	delivery_outcome_free(&out);
	return rc;
}

static int pull_request(struct _u_response *resp, struct app *app, const struct delivery *d)
{
	struct webhook_pr pr;
	char reason[512];
	json_t *errors = json_array();
	if (webhook_pr_parse(d->payload, &pr, errors)) {
		count_outcome(app, d->event, "rejected", 0);
		problem_send_errors(
		    resp, 400, errors, "the pull_request payload is incomplete: %s",
		    json_string_value(json_object_get(json_array_get(errors, 0), "message")));
		json_decref(errors);
		return U_CALLBACK_COMPLETE;
	}
	json_decref(errors);
	if (!webhook_pr_builds(&pr, app->cfg->branch, reason, sizeof(reason))) {
		count_outcome(app, d->event, "ignored", 0);
		return answer_message(resp, 200, reason);
	}
	return merged_pr(resp, app, d, &pr);
}

static int ping(struct _u_response *resp, struct app *app, const struct delivery *d)
{
	const char *zen = json_string_value(json_object_get(d->payload, "zen"));
	json_t *o =
	    json_pack("{s:s, s:s?}", "message", "pong: Forja receives this webhook", "zen", zen);
	count_outcome(app, d->event, "ignored", 0);
	int rc = o ? problem_send_json(resp, 200, o) : problem_send(resp, 500, "out of memory");
	json_decref(o);
	return rc;
}

int webhook_api_receive(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	struct delivery d = {
	    .event = header(req, "X-GitHub-Event"),
	    .id = header(req, "X-GitHub-Delivery"),
	    .hook_id = header(req, "X-GitHub-Hook-ID"),
	};
	char reason[200];
	int rc = U_CALLBACK_COMPLETE;
	if (!d.hook_id)
		d.hook_id = "";
	/* the route layer has answered 413 already for a body over FORJA_WEBHOOK_MAX_BYTES */
	if (check_signature(req, resp, app, d.event))
		return U_CALLBACK_COMPLETE;
	if (delivery_read(req, resp, app, &d))
		goto out;
	if (strcmp(d.event, "ping") == 0) {
		rc = ping(resp, app, &d);
	} else if (strcmp(d.event, "pull_request") == 0) {
		rc = pull_request(resp, app, &d);
	} else {
		snprintf(reason, sizeof(reason), "ignored: event %.100s is not handled", d.event);
		count_outcome(app, d.event, "ignored", 0);
		rc = answer_message(resp, 200, reason);
	}
out:
	json_decref(d.payload);
	free(d.json);
	return rc;
}
