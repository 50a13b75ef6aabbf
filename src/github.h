/* GitHub REST client: files at a commit (contents API) and commit statuses, which are posted
 * in order by one background thread so that a slow GitHub never delays a build. */
#ifndef FORJA_GITHUB_H
#define FORJA_GITHUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "build.h"
#include "dynbuf.h"

struct github;

struct github_opts {
	const char *api_url;	   /* https://api.github.com, or GHE https://host/api/v3 */
	const char *token;	   /* NULL = anonymous, and no statuses are posted */
	const char *allowed_hosts; /* comma separated extra hosts, or NULL */
	const char *public_url;	   /* prefix of status target URLs */
	long timeout_s;
};

/* *OUT owned by the caller: github_free() (which drains pending statuses for a moment). */
int github_new(const struct github_opts *opts, struct github **out);
void github_free(struct github *gh);

/*
 * Raw bytes of PATH in FULL_NAME ("owner/repo") at REF. *BODY is malloc'd (free()), NUL
 * terminated, at most 1 MB. FORJA_ENOTFOUND (404), FORJA_EUNAVAILABLE (unreachable or timed
 * out), FORJA_EAUTH (401/403), FORJA_ETOOBIG (over 1 MB), FORJA_EUPSTREAM (other answers);
 * ERR says which. Safe to call from several threads.
 */
int github_file_get(struct github *gh, const char *full_name, const char *path, const char *ref,
		    char **body, size_t *len, char *err, size_t errlen);
/* The same, cut short at DEADLINE_MS (deadline.h; 0 = only the client's timeout), with
 * FORJA_ETIMEDOUT. */
int github_file_get_by(struct github *gh, const char *full_name, const char *path, const char *ref,
		       int64_t deadline_ms, char **body, size_t *len, char *err, size_t errlen);

/*
 * What one contents answer means, the way github_file_get reads it once the transfer ended:
 * STATUS with the bytes received in B (borrowed; filled by dynbuf_write_cb, capped at 1 MB: its
 * failed is FORJA_ETOOBIG when the file was larger) for PATH. On 200, *BODY takes B's bytes
 * (malloc'd, NUL terminated: free()) and *LEN their count; otherwise the error codes of
 * github_file_get with ERR. Exposed for tests and the fuzz harness, which have no GitHub.
 */
int github_file_answer(long status, struct dynbuf *b, const char *path, char **body, size_t *len,
		       char *err, size_t errlen);

/* Whether URL's host is the configured GitHub (API host or its web host) or allow-listed. */
bool github_url_allowed(const struct github *gh, const char *url);

/* Queue observer (UD is the struct github): posts pending (queued), success, failure, or error
 * (cancelled) for webhook builds when a token is set. Never blocks: the status joins a bounded
 * queue posted in order by the client's thread; a failed post is logged, nothing more. */
void github_on_build(void *ud, const struct build *b);

#endif
