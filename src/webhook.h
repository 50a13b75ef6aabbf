/* GitHub webhook core: signature check, payload parsing, the build-or-ignore decision and the
 * images manifest, turning one merged pull request into the builds it asks for. */
#ifndef FORJA_WEBHOOK_H
#define FORJA_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build.h"
#include "github.h"

/* GitHub caps payloads at 25 MB; Forja refuses more before reading them. */
#define WEBHOOK_MAX_BODY ((size_t)25 * 1024 * 1024)
/* Deepest JSON nesting accepted in a payload or manifest (GitHub's payloads use about 6). */
#define WEBHOOK_MAX_JSON_DEPTH 64
/* Largest manifest read from a repository, and most entries it may list. */
#define WEBHOOK_MAX_MANIFEST ((size_t)1024 * 1024)
#define WEBHOOK_MAX_IMAGES   50
/* Time planning may spend starting GitHub requests (each one is bounded by the client's own
 * timeout, 5 s): 4 s + 5 s stays under GitHub's 10 s. */
#define WEBHOOK_PLAN_BUDGET_MS 4000

/*
 * Checks HEADER ("sha256=<64 hex>", the X-Hub-Signature-256 value) against the HMAC-SHA256 of
 * BODY with SECRET, in constant time. 0 when it matches, FORJA_EAUTH when it is missing,
 * malformed or wrong.
 */
int webhook_signature_verify(const char *secret, const void *body, size_t len, const char *header);

/* "sha256=<hex>" of BODY with SECRET into BUF (>= 72 bytes), for clients and tests. */
int webhook_signature_make(const char *secret, const void *body, size_t len, char *buf,
			   size_t buflen);

/*
 * The value of the form field "payload" of a application/x-www-form-urlencoded BODY, decoded
 * ('+' is a space, %XX escapes). *OUT is malloc'd (free()), NUL terminated.
 * FORJA_EINVAL when there is no payload field or an escape is broken.
 */
int webhook_form_payload(const char *body, size_t len, char **out, size_t *outlen);

/* Whether TEXT nests arrays/objects at most MAX_DEPTH deep (strings are skipped). */
bool webhook_json_depth_ok(const char *text, size_t len, int max_depth);

/* What Forja reads from a pull_request event. Strings point into the parsed JSON. */
struct webhook_pr {
	const char *action;
	int64_t number;
	bool merged;
	const char *base_ref;
	const char *merge_commit_sha; /* NULL unless merged */
	const char *full_name;	      /* owner/repo */
	const char *clone_url;
};

/*
 * Reads the pull_request fields of PAYLOAD (borrowed; PR's strings live as long as it).
 * Appends one {"field","message"} per missing or wrong field to ERRORS and returns
 * FORJA_EINVAL when any. Fields only a merge needs (merge_commit_sha, clone_url) are checked
 * only when the event is a merge.
 */
int webhook_pr_parse(json_t *payload, struct webhook_pr *pr, json_t *errors);

/*
 * Whether PR builds: true when closed, merged and based on BRANCH. Otherwise writes
 * "ignored: <reason>" into REASON.
 */
bool webhook_pr_builds(const struct webhook_pr *pr, const char *branch, char *reason,
		       size_t reasonlen);

/* One entry of the images manifest. */
struct webhook_image {
	char *service;
	char *version;
	char *type;	    /* as written, or "docker" */
	char *context;	    /* NULL = not given (auto-detected later) */
	char *dockerfile;   /* NULL = Dockerfile */
	json_t *build_args; /* object of strings or NULL (owned) */
};

/*
 * Parses manifest TEXT: a list of entries, {"images": [...]} or one entry object. Appends a
 * {"field","message"} per problem (field "entry N" counts from 1) to ERRORS; FORJA_EINVAL when
 * any. *OUT is an array owned by the caller: webhook_images_free(); with FORJA_EINVAL it may
 * still hold the entries read (NULL when the manifest's shape itself is wrong).
 */
int webhook_manifest_parse(const char *text, size_t len, struct webhook_image **out, size_t *n,
			   json_t *errors);
void webhook_images_free(struct webhook_image *imgs, size_t n);

struct webhook_plan_opts {
	struct github *github; /* borrowed */
	const char *manifest;  /* path in the repository, e.g. images.json */
	const char *registry;  /* host:port images are tagged with */
	const char *delivery_id;
	/* No GitHub request starts after this many ms (0 = WEBHOOK_PLAN_BUDGET_MS), so that the
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
int webhook_plan_builds(const struct webhook_plan_opts *o, const struct webhook_pr *pr,
			struct build ***builds, size_t *n, json_t *errors, char *detail,
			size_t detaillen);

#endif
