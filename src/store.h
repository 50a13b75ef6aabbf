/* The durable build history: every build with its current state, and the webhook deliveries
 * that created builds, in SQLite. All SQL lives here, behind this narrow interface. Every call
 * returns 0 or a negative FORJA_E* code (errors.h) unless it says otherwise. */
#ifndef FORJA_STORE_H
#define FORJA_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "build.h"

struct store;

struct build_filter {
	const char *service;	/* NULL = any */
	const char *repository; /* NULL = any */
	const char *branch;	/* NULL = any */
	const char *engine;	/* NULL = any */
	int has_status;		/* 0 = any status */
	enum build_status status;
	int64_t before; /* only ids < before; 0 = from the newest */
	int limit;	/* 1..100 */
};

/*
 * Opens (creating when missing) the history in DATA_DIR/forja.db: WAL mode, schema upgrades
 * applied. *OUT is owned by the caller: store_close(). Thread-safe once opened.
 */
int store_open(const char *data_dir, struct store **out);
void store_close(struct store *st);

/* Inserts B as a new queued build: sets b->id, b->status, b->attempts and b->created_at
 * (when 0). FORJA_EINVAL without a service or version; FORJA_ENOSPC while the data directory
 * is full (see store_build_finish). */
int store_build_insert(struct store *st, struct build *b);

/*
 * Records a webhook delivery and its builds in one transaction, so a delivery is either
 * wholly recorded or not at all. Sets each build's id. FORJA_ECONFLICT when
 * (hook_id, delivery_id) was already recorded: then nothing is written; FORJA_ENOSPC, nothing
 * written, while the data directory is full.
 */
int store_delivery_insert(struct store *st, const char *hook_id, const char *delivery_id,
			  struct build **builds, size_t n);

/*
 * Builds a recorded delivery created, oldest first. *OUT is an array owned by the caller
 * (build_array_free); FORJA_ENOTFOUND when the delivery is unknown.
 */
int store_delivery_builds(struct store *st, const char *hook_id, const char *delivery_id,
			  struct build ***out, size_t *n);

/* One build; *OUT owned by the caller (build_free). FORJA_ENOTFOUND when unknown. */
int store_build_get(struct store *st, int64_t id, struct build **out);

/* Newest first, at most filter->limit. *OUT owned by the caller (build_array_free). */
int store_build_list(struct store *st, const struct build_filter *f, struct build ***out,
		     size_t *n);

/* A count that grows with every change to the history, once it is committed: what was read
 * while it returned G is still current while it returns G. */
uint64_t store_generation(struct store *st);

/* Most recent build of SERVICE (NULL = any) on BRANCH (NULL = any), by index, never a scan.
 * FORJA_ENOTFOUND when there is none. *OUT owned by the caller. */
int store_build_latest(struct store *st, const char *service, const char *branch,
		       struct build **out);

/* queued -> running: sets started_at, increments attempts; *ATTEMPTS (may be NULL) gets the
 * new count. FORJA_ECONFLICT when the build is not queued (cancelled meanwhile),
 * FORJA_ENOTFOUND when it is unknown, FORJA_ENOSPC (nothing changed) while the data
 * directory is full. */
int store_build_start(struct store *st, int64_t id, int64_t started_at, int *attempts);

/* Sets a final status with its result. DIGEST NULL keeps the recorded one; ERROR NULL clears
 * it. FORJA_ECONFLICT when the build is already final, FORJA_ENOTFOUND when it is unknown.
 * When the disk is full, the space reserve kept beside the history is given up so that the
 * end is recorded anyway; from then on new builds are refused (FORJA_ENOSPC) until the
 * reserve can be made again. */
int store_build_finish(struct store *st, int64_t id, enum build_status status, const char *digest,
		       const char *error, int64_t finished_at);

/* Records the commit a build's ref resolved to (API builds of a branch). A commit already
 * recorded is kept, and that is 0 too. FORJA_ENOTFOUND when the build is unknown. */
int store_build_set_commit(struct store *st, int64_t id, const char *commit);

/* Records ENGINE (its host) as the engine running build ID. FORJA_ENOTFOUND when unknown. */
int store_build_set_engine(struct store *st, int64_t id, const char *engine);
/* What retention removes in one round. */
struct store_prune_opts {
	int64_t before_ms;    /* finished builds created before (unix ms); 0 = no age limit */
	int keep_per_service; /* finished builds past the newest N of a service; 0 = all */
	int64_t deliveries_before_ms; /* delivery records received before; 0 = keep */
	int max_builds; /* at most this many builds a round (the write lock is short) */
};

/*
 * Removes the builds O selects, never the newest of a service (its badge) nor a queued or
 * running one, and old delivery records. *IDS (free()) gets the removed builds' ids, so their
 * logs can go too; *DELIVERIES the delivery records removed.
 */
int store_prune(struct store *st, const struct store_prune_opts *o, int64_t **ids, size_t *n,
		size_t *deliveries);
/* Gives up to PAGES free pages of the file back to the filesystem (incremental vacuum). */
int store_compact(struct store *st, int pages);

/* A running build starts another attempt (its engine was lost): *ATTEMPTS gets the new count.
 * FORJA_ECONFLICT when it is not running. */
int store_build_next_attempt(struct store *st, int64_t id, int *attempts);
/* The engine of SERVICE's newest build that ran on one, into OUT; FORJA_ENOTFOUND when none. */
int store_service_engine(struct store *st, const char *service, char *out, size_t len);

/* running -> queued for a build a server stop interrupted: it runs again at the next start, and
 * the interrupted run does not count against its attempts. FORJA_ECONFLICT when it is not
 * running, FORJA_ENOTFOUND when it is unknown. */
int store_build_requeue(struct store *st, int64_t id);

/*
 * After a crash, in one transaction: builds left running go back to queued, or fail with a
 * clear error once they have used MAX_ATTEMPTS. Then *IDS gets every queued build, oldest
 * first (free() the array).
 */
int store_builds_recover(struct store *st, int max_attempts, int64_t **ids, size_t *n);

/* Build id that produced SERVICE:VERSION with DIGEST, for the image catalog; 0 when none. */
int64_t store_build_for_image(struct store *st, const char *service, const char *version,
			      const char *digest);

/* Counts of builds per status (index BUILD_QUEUED..BUILD_CANCELLED), for metrics. */
int store_build_counts(struct store *st, int64_t counts[5]);

#endif
