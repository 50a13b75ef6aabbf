/* The delivery use case: one merged pull request, as GitHub delivers it, becomes recorded and
 * queued builds exactly once, however often the delivery is repeated or races in. The HTTP edge
 * only maps the outcome to an answer. */
#ifndef FORJA_DELIVERY_H
#define FORJA_DELIVERY_H

#include <jansson.h>
#include <stddef.h>

#include "build.h"
#include "queue.h"
#include "github.h"
#include "store.h"
#include "webhook.h"

/* What accepting a delivery needs; every pointer is borrowed. */
struct delivery_ctx {
	struct store *store;
	struct queue *queue;
	struct github *github;
	const char *manifest; /* path of the images manifest in the repository */
	const char *registry; /* host:port images are tagged with */
	int budget_ms;	      /* planning budget; 0 = MANIFEST_PLAN_BUDGET_MS */
	/* build from the repository's ssh_url: a deploy key is configured and no GitHub token
	 * that could fetch over https */
	bool use_ssh_url;
};

enum delivery_result {
	DELIVERY_QUEUED = 0,  /* recorded and queued now: builds */
	DELIVERY_DUPLICATE,   /* recorded before (a redelivery, or the same delivery racing in on
				 another connection): the builds it made then */
	DELIVERY_NOT_ALLOWED, /* clone_url is neither on the configured GitHub nor allow-listed */
	DELIVERY_INVALID,     /* no manifest, or an invalid one: errors and detail say why */
	DELIVERY_UPSTREAM,    /* GitHub unreachable, failing or too slow: detail */
	DELIVERY_FAILED,      /* Forja's own failure (history, memory): detail */
	DELIVERY_NO_SPACE,    /* the data directory is full: nothing recorded, detail */
};

struct delivery_outcome {
	enum delivery_result result;
	struct build **builds; /* owned; QUEUED and DUPLICATE only */
	size_t n;
	json_t *errors;	   /* owned; {"field","in","message"} items for DELIVERY_INVALID, or NULL */
	char detail[2048]; /* one sentence for INVALID, UPSTREAM and FAILED, else "" */
};

/*
 * Accepts delivery DELIVERY_ID of hook HOOK_ID ("" when GitHub sent none) for the merged pull
 * request PR (as webhook_pr_parse() read it and webhook_pr_builds() accepted it). A delivery
 * already recorded asks GitHub for nothing and returns the builds it made. Otherwise plans the
 * builds from the manifest, records them with the delivery in one transaction and queues them;
 * a build the queue refuses stays queued in the history for recovery at the next start.
 * OUT is filled in every case: release it with delivery_outcome_free().
 * Returns 0 for DELIVERY_QUEUED and DELIVERY_DUPLICATE, else the FORJA_E* code behind the
 * result (FORJA_EINVAL for DELIVERY_NOT_ALLOWED).
 */
int delivery_accept(const struct delivery_ctx *ctx, const char *hook_id, const char *delivery_id,
		    const struct webhook_pr *pr, struct delivery_outcome *out);
/* Releases what OUT owns and zeroes it; NULL is fine. */
void delivery_outcome_free(struct delivery_outcome *out);

#endif
