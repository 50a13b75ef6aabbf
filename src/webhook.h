/* GitHub webhook deliveries as they arrive: signature check, payload decoding, pull request
 * parsing and the build-or-ignore decision. The manifest and planning are in manifest.h. */
#ifndef FORJA_WEBHOOK_H
#define FORJA_WEBHOOK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Deepest JSON nesting accepted in a payload or manifest (GitHub's payloads use about 6). */
#define WEBHOOK_MAX_JSON_DEPTH 64

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
	const char *ssh_url; /* git@host:owner/repo.git, or NULL when the payload has none */
};

/* Appends one {"field": FIELD, "in": "body", "message": printf(FMT, ...)} problem to ERRORS
 * (an array): the errors item of the API's Problem answers. */
void webhook_add_error(json_t *errors, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Reads the pull_request fields of PAYLOAD (borrowed; PR's strings live as long as it).
 * Appends one {"field","in","message"} per missing or wrong field to ERRORS and returns
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

#endif
