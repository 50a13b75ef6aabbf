/* The build queue: a fixed pool of workers taking builds first-in first-out, never two builds
 * of one service at once, with per-build timeout, cancel, and recovery after a crash. */
#ifndef FORJA_QUEUE_H
#define FORJA_QUEUE_H

#include <stdint.h>

#include "build.h"
#include "build_logs.h"
#include "builder.h"
#include "pool.h"
#include "store.h"

struct queue;

struct queue_opts {
	struct store *store;	       /* borrowed */
	struct build_logs *logs;       /* borrowed */
	const struct builder_env *env; /* borrowed */
	struct pool *pool;	       /* borrowed; NULL: every build on env->engine */
	int workers;		       /* >= 1 */
	int timeout_s;		       /* per build */
	int max_attempts;	       /* runs of one build across crashes; 3 */
	int immutable_tags;	       /* a tag the registry has from another commit is kept */
};

/* Called on every state change (queued, running, final) with the build as recorded.
 * Runs on the thread making the change: keep it short, never block on the network. */
struct queue_observer {
	void (*on_change)(void *ud, const struct build *b);
	void *ud;
};

/* *OUT owned by the caller: queue_free(). Workers do not run until queue_start(). */
int queue_new(const struct queue_opts *opts, struct queue **out);
/* Adds an observer (at most 8); call before queue_start(). */
int queue_observe(struct queue *q, const struct queue_observer *obs);
/* Recovers what a crash left (store_builds_recover), then starts the workers. */
int queue_start(struct queue *q);
/* Queues build ID, already inserted in the store as queued; pushing a build the queue holds
 * again does nothing. FORJA_ECONFLICT when the stored build is no longer queued. */
int queue_push(struct queue *q, int64_t id);
/* Cancels a queued build at once or aborts a running one, waiting up to 10 s for it to stop.
 * FORJA_ENOTFOUND, FORJA_ECONFLICT (already final). */
int queue_cancel(struct queue *q, int64_t id);
/* Numbers for metrics and health. */
void queue_stats(struct queue *q, int *queued, int *running);
/* The first half of a graceful stop: no build starts any more (queued ones stay queued in the
 * store for the next start, pushes still record theirs); running builds go on. Watch them end
 * with queue_stats(), then queue_stop(). */
void queue_drain(struct queue *q);
/* Stops the workers within a few seconds: running builds are aborted and queued again in the
 * store for the next start. */
void queue_stop(struct queue *q);
void queue_free(struct queue *q);

#endif
