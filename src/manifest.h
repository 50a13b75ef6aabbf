/* The images manifest a repository keeps (images.json) and the plan made from it: one merged
 * pull request's manifest, read at the merge commit, becomes the builds it asks for. */
#ifndef FORJA_MANIFEST_H
#define FORJA_MANIFEST_H

#include <jansson.h>
#include <stddef.h>

#include "build.h"
#include "github.h"
#include "webhook.h"

/* Largest manifest read from a repository, and most entries it may list. */
#define MANIFEST_MAX_BYTES  ((size_t)1024 * 1024)
#define MANIFEST_MAX_IMAGES 50
/* Time planning may spend starting GitHub requests (each one is bounded by the client's own
 * timeout, 5 s), and the time any request may still take after it: 4 s + 4 s leaves GitHub's
 * 10 s room for the network and the answer. */
#define MANIFEST_PLAN_BUDGET_MS	  4000
#define MANIFEST_PLAN_OVERTIME_MS 4000

/* One entry of the images manifest. */
struct manifest_image {
	char *service;
	char *version;
	char *type;	    /* as written, or "docker" */
	char *context;	    /* NULL = not given (auto-detected later) */
	char *dockerfile;   /* NULL = Dockerfile */
	json_t *build_args; /* object of strings or NULL (owned) */
};

/*
 * Parses manifest TEXT: a list of entries, {"images": [...]} or one entry object. Appends a
 * {"field","in","message"} per problem (field "entry N" counts from 1) to ERRORS; FORJA_EINVAL when
 * any. *OUT is an array owned by the caller: manifest_images_free(); with FORJA_EINVAL it may
 * still hold the entries read (NULL when the manifest's shape itself is wrong).
 */
int manifest_parse(const char *text, size_t len, struct manifest_image **out, size_t *n,
		   json_t *errors);
void manifest_images_free(struct manifest_image *imgs, size_t n);

struct manifest_plan_opts {
	struct github *github; /* borrowed */
	const char *manifest;  /* path in the repository, e.g. images.json */
	const char *registry;  /* host:port images are tagged with */
	const char *delivery_id;
	/* No GitHub request starts after this many ms (0 = MANIFEST_PLAN_BUDGET_MS), so that the
	 * answer reaches GitHub within its 10 s even when it is slow. */
	int budget_ms;
};

/*
 * Reads the manifest of PR at its merge commit, resolves each entry's context (the service's
 * directory when it has a Dockerfile there, else the root), validates every entry, and makes
 * one queued build per entry. *BUILDS is owned by the caller: build_array_free().
 * Errors: FORJA_EINVAL (manifest invalid; ERRORS lists why, DETAIL sums up),
 * FORJA_ENOTFOUND (no manifest), FORJA_EUNAVAILABLE / FORJA_EUPSTREAM (GitHub),
 * FORJA_ETIMEDOUT (GitHub too slow for the budget), with DETAIL.
 */
int manifest_plan_builds(const struct manifest_plan_opts *o, const struct webhook_pr *pr,
			 struct build ***builds, size_t *n, json_t *errors, char *detail,
			 size_t detaillen);

#endif
