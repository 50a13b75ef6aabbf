/* Sources: the exact commit a build needs, fetched by Forja itself into one bare cache per
 * repository under the data directory, with the credentials of Forja's configuration.
 *
 * git's command line does the fetching (spawned with an argv, never a shell): it fetches one
 * commit shallowly into a ref and incrementally against what the cache has, over protocol v2,
 * for http(s), git and ssh alike. libgit2 1.5 (bookworm) has no shallow fetch and speaks v0.
 * Credentials reach git through its environment (GIT_CONFIG_*, GIT_SSH_COMMAND), never through
 * a URL or an argument, so they are not stored, logged, shown in `ps` or passed on. */
#ifndef FORJA_SOURCE_H
#define FORJA_SOURCE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "task.h"

struct source_config {
	const char *cache_dir;	      /* caches live here (created 0700) */
	const char *github_token;     /* NULL = none */
	const char *github_api_url;   /* the token is sent to the git host of this API */
	const char *credentials_file; /* git-credential-store lines; NULL = none */
	const char *ssh_key_file;     /* NULL = ssh's default identities */
	const char *known_hosts_file; /* NULL = ssh's default known_hosts */
	int cache_days;		      /* unused caches are removed after this; 0 = never */
};

struct source;
/* A fetched commit in its cache, locked (shared) against pruning until released. */
struct source_checkout;

struct source_submodule {
	char *path; /* relative to the directory asked for */
	char *url;  /* absolute (relative .gitmodules URLs resolved) */
	char sha[41];
};

/* Copies CFG. *OUT owned by the caller (source_free). Thread-safe: one serves all workers. */
int source_new(const struct source_config *cfg, struct source **out);
void source_free(struct source *s);
/* source_new with the settings of CFG; the caches live in DATA_DIR/git. */
int source_open(const struct config *cfg, struct source **out);

/* True for a full, lowercase 40-hex commit id. */
bool source_is_full_sha(const char *s);

/*
 * Pins REF (branch, tag, refs/... name or full sha) of URL to a commit: a full sha is taken as
 * it is, anything else is looked up with `git ls-remote` (annotated tags peeled). SHA (41
 * bytes) gets the commit. FORJA_ENOTFOUND when no ref matches; AB cancels the lookup.
 */
int source_resolve(struct source *s, const char *url, const char *ref, const struct task_abort *ab,
		   char *sha, char *err, size_t errlen);

/*
 * Makes commit SHA of URL available in its cache: nothing to do when it is there already,
 * else one shallow fetch into refs/forja/c/SHA. A cache git cannot use is removed and fetched
 * again once. *OUT owned by the caller (source_checkout_release). Errors name the repository
 * and the cause in words (authentication refused, host key unknown, commit not found, host
 * unreachable) and never contain a secret. AB aborts a fetch in progress.
 */
int source_fetch(struct source *s, const char *url, const char *sha, const struct task_log *log,
		 const struct task_abort *ab, struct source_checkout **out, char *err,
		 size_t errlen);
void source_checkout_release(struct source_checkout *co);

/* The bare repository holding the commit (borrowed from CO). */
const char *source_checkout_dir(const struct source_checkout *co);
/* Whether the fetch found the commit in the cache already. */
bool source_checkout_was_cached(const struct source_checkout *co);

/*
 * The object at SHA:PATH of CO as bytes (at most MAX). FORJA_ENOTFOUND when absent,
 * FORJA_ETOOBIG past MAX. *OUT (NUL-terminated, *LEN bytes) owned by the caller: free().
 * TYPE (>= 8 bytes) gets "blob", "tree", "commit" (a gitlink) ...; with TYPE NULL only a blob
 * is read (anything else is FORJA_ENOTFOUND). All reads of CO go through one `git cat-file
 * --batch` that CO keeps until it is released: one thread at a time reads a checkout.
 */
int source_read(const struct source_checkout *co, const char *sha, const char *path, size_t max,
		char **out, size_t *len, char *type);

/*
 * The submodules of commit SHA of URL (in CO) whose paths lie inside DIR ("" = all), with
 * their recorded commits. *OUT owned by the caller: source_submodules_free(*OUT, *N).
 */
int source_submodules(const struct source_checkout *co, const char *url, const char *sha,
		      const char *dir, struct source_submodule **out, size_t *n, char *err,
		      size_t errlen);
void source_submodules_free(struct source_submodule *subs, size_t n);

/* Removes caches not used for cache_days (busy ones are left alone). Returns how many. */
int source_sweep(struct source *s);

#endif
