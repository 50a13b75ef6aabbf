/* The delivery use case: allow-list, redelivery, plan, record (once, even when racing), queue. */
#include "delivery.h"

#include <stdio.h>
#include <string.h>

#include "errors.h"
#include "log.h"
#include "manifest.h"

static int settle(struct delivery_outcome *out, enum delivery_result result, int rc)
{
	out->result = result;
	return rc;
}

static void drop_builds(struct delivery_outcome *out)
{
	build_array_free(out->builds, out->n);
	out->builds = NULL;
	out->n = 0;
}

/* The builds the delivery made when it was recorded; FORJA_ENOTFOUND when it never was. */
static int recorded(const struct delivery_ctx *ctx, const char *hook_id, const char *id,
		    struct delivery_outcome *out)
{
	int rc = store_delivery_builds(ctx->store, hook_id, id, &out->builds, &out->n);
	if (rc) {
		drop_builds(out);
		return rc;
	}
	return settle(out, DELIVERY_DUPLICATE, 0);
}

/* The builds the manifest asks for, into OUT; ERRORS stay only when they say what is wrong. */
static int plan(const struct delivery_ctx *ctx, const char *id, const struct webhook_pr *pr,
		struct delivery_outcome *out)
{
	struct manifest_plan_opts po = {
	    .github = ctx->github,
	    .manifest = ctx->manifest,
	    .registry = ctx->registry,
	    .delivery_id = id,
	    .budget_ms = ctx->budget_ms,
	};
	int rc = FORJA_ENOMEM;
	out->errors = json_array();
	if (out->errors)
		rc = manifest_plan_builds(&po, pr, &out->builds, &out->n, out->errors, out->detail,
					  sizeof(out->detail));
	switch (rc) {
	case 0: break;
	case FORJA_EINVAL:
	case FORJA_ENOTFOUND: return settle(out, DELIVERY_INVALID, rc);
	case FORJA_EUNAVAILABLE:
	case FORJA_EUPSTREAM:
	case FORJA_EAUTH:
	case FORJA_ETIMEDOUT: settle(out, DELIVERY_UPSTREAM, rc); break;
	default:
		snprintf(out->detail, sizeof(out->detail), "planning the builds failed: %s",
			 errors_text(rc));
		settle(out, DELIVERY_FAILED, rc);
		break;
	}
	json_decref(out->errors);
	out->errors = NULL;
	return rc;
}

/* Records the planned builds with the delivery; a delivery recorded first by another
 * connection wins, and OUT then holds its builds instead. */
static int record(const struct delivery_ctx *ctx, const char *hook_id, const char *id,
		  struct delivery_outcome *out)
{
	int rc = store_delivery_insert(ctx->store, hook_id, id, out->builds, out->n);
	if (rc == 0)
		return settle(out, DELIVERY_QUEUED, 0);
	drop_builds(out);
	if (rc != FORJA_ECONFLICT) {
		snprintf(out->detail, sizeof(out->detail), "recording the builds failed: %s",
			 errors_text(rc));
		return settle(out, rc == FORJA_ENOSPC ? DELIVERY_NO_SPACE : DELIVERY_FAILED, rc);
	}
	rc = recorded(ctx, hook_id, id, out);
	if (rc) {
		snprintf(out->detail, sizeof(out->detail), "reading the delivery back failed: %s",
			 errors_text(rc));
		return settle(out, DELIVERY_FAILED, rc);
	}
	return 0;
}

static void queue_all(const struct delivery_ctx *ctx, const struct delivery_outcome *out)
{
	for (size_t i = 0; i < out->n; i++) {
		/* Recorded as queued: a failed push is picked up again by recovery at the next
		 * start. */
		if (queue_push(ctx->queue, out->builds[i]->id))
			log_error("queueing build %lld failed; it stays queued in the history",
				  (long long)out->builds[i]->id);
	}
}

int delivery_accept(const struct delivery_ctx *ctx, const char *hook_id, const char *delivery_id,
		    const struct webhook_pr *pr, struct delivery_outcome *out)
{
	struct webhook_pr via = *pr;

	memset(out, 0, sizeof(*out));
	if (ctx->use_ssh_url && pr->ssh_url)
		via.clone_url = pr->ssh_url;
	pr = &via;
	if (!github_url_allowed(ctx->github, pr->clone_url))
		return settle(out, DELIVERY_NOT_ALLOWED, FORJA_EINVAL);
	/* A redelivery asks GitHub for nothing. */
	if (recorded(ctx, hook_id, delivery_id, out) == 0)
		return 0;
	int rc = plan(ctx, delivery_id, pr, out);
	if (rc)
		return rc;
	rc = record(ctx, hook_id, delivery_id, out);
	if (rc || out->result == DELIVERY_DUPLICATE)
		return rc;
	queue_all(ctx, out);
	log_info("delivery %s: pull request #%lld of %s merged at %s, queued %zu build%s",
		 delivery_id, (long long)pr->number, pr->full_name, pr->merge_commit_sha, out->n,
		 out->n == 1 ? "" : "s");
	return 0;
}

void delivery_outcome_free(struct delivery_outcome *out)
{
	if (!out)
		return;
	build_array_free(out->builds, out->n);
	json_decref(out->errors);
	memset(out, 0, sizeof(*out));
}
