/* In-process counters and histograms rendered in the Prometheus text format:
 * builds by status, queue depth, build durations, webhook deliveries, HTTP requests. */
#ifndef FORJA_METRICS_H
#define FORJA_METRICS_H

#include "build.h"
#include "pool.h"

struct metrics;

/* Bounds on label cardinality: routes beyond METRICS_MAX_ROUTES count as route "other";
 * HTTP statuses outside 100..599 count as status "other". */
#define METRICS_MAX_ROUTES 48

/* *OUT owned by the caller: metrics_free(). */
int metrics_new(struct metrics **out);
void metrics_free(struct metrics *m);

/* ROUTE is the operationId ("unknown" for unrouted paths). Thread-safe, cheap (atomics; a lock
 * only the first time a route is seen). M may be NULL (no-op). */
void metrics_http_request(struct metrics *m, const char *route, int status, double seconds);
/* EVENT is X-GitHub-Event; OUTCOME one of "queued", "ignored", "duplicate", "rejected", "error".
 * Events outside a fixed set of GitHub event names count as "other", as do unknown outcomes. */
void metrics_webhook(struct metrics *m, const char *event, const char *outcome);
/* LIMIT is the HTTP limit that was hit: "connections", "per_address", "deadline", "idle",
 * "body" or "streams" (anything else counts as "other"). */
void metrics_http_limit(struct metrics *m, const char *limit);
/* Adds the deltas to the gauges of open HTTP connections and of open long-lived streams. */
void metrics_http_open(struct metrics *m, int connections, int streams);
/* A queue observer callback (UD is the struct metrics): counts final builds and durations. */
void metrics_on_build(void *ud, const struct build *b);
/* One retention pass that removed BUILDS builds and DELIVERIES delivery records. */
void metrics_retention(struct metrics *m, uint64_t builds, uint64_t deliveries);

/* The exposition text; QUEUED and RUNNING are gauges read by the caller.
 * Returns a malloc'd string (free()) or NULL on ENOMEM. */
char *metrics_render(struct metrics *m, int queued, int running, const struct pool_state *engines,
		     size_t nengines);

#endif
