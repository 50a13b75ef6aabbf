/* Retention: finished builds older than FORJA_KEEP_DAYS or past the newest FORJA_KEEP_BUILDS
 * of their service go, with their logs; never the newest build of a service (its badge needs
 * it) nor a queued or running one. Old delivery records go too. It runs at start-up and then
 * on a schedule, on a thread of its own, and gives freed pages back (incremental vacuum), so
 * nothing of it is on a request's path. */
#ifndef FORJA_RETENTION_H
#define FORJA_RETENTION_H

#include <stddef.h>

#include "build_logs.h"
#include "metrics.h"
#include "store.h"

struct retention_opts {
	struct store *store;	 /* borrowed */
	struct build_logs *logs; /* borrowed */
	struct metrics *metrics; /* borrowed; NULL = no counts */
	int keep_days;		 /* 0 = no age limit */
	int keep_builds;	 /* per service; 0 = no count limit */
	int delivery_days;	 /* delivery records kept this long (>= 1) */
	int interval_s;		 /* between passes */
};

struct retention;

/* One pass now, then one every O->interval_s on a thread. *OUT owned: retention_stop(). */
int retention_start(const struct retention_opts *o, struct retention **out);
/* Stops the thread (a pass under way finishes its round first) and frees. */
void retention_stop(struct retention *r);

/* One whole pass on the calling thread; *BUILDS and *DELIVERIES get what it removed. */
int retention_run(const struct retention_opts *o, size_t *builds, size_t *deliveries);

#endif
