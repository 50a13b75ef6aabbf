#include "retention.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "build.h"
#include "deadline.h"
#include "errors.h"
#include "log.h"

/* Builds removed per write transaction: the writer lock is never held long. */
#define RETENTION_ROUND 500

struct retention {
	struct retention_opts o;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	int stopping;
};

int retention_run(const struct retention_opts *o, size_t *builds, size_t *deliveries)
{
	int64_t now = build_now_ms(), day = 24LL * 3600 * 1000;
	struct store_prune_opts po = {
	    .before_ms = o->keep_days > 0 ? now - o->keep_days * day : 0,
	    .keep_per_service = o->keep_builds,
	    .deliveries_before_ms = now - (o->delivery_days > 0 ? o->delivery_days : 1) * day,
	    .max_builds = RETENTION_ROUND,
	};
	*builds = *deliveries = 0;
	int rc = 0;
	for (;;) {
		int64_t *ids = NULL;
		size_t n = 0, nd = 0;
		rc = store_prune(o->store, &po, &ids, &n, &nd);
		for (size_t i = 0; i < n; i++)
			build_logs_remove(o->logs, ids[i]);
		free(ids);
		*builds += n;
		*deliveries += nd;
		po.deliveries_before_ms = 0; /* done in the first round */
		if (rc != 0 || n < RETENTION_ROUND)
			break;
	}
	if (rc == 0 && *builds + *deliveries > 0)
		rc = store_compact(o->store, 0);
	metrics_retention(o->metrics, *builds, *deliveries);
	if (rc != 0)
		log_warn("retention: %s", errors_text(rc));
	else if (*builds + *deliveries > 0)
		log_info("retention: removed %zu builds and %zu delivery records", *builds,
			 *deliveries);
	return rc;
}

static void *retention_main(void *arg)
{
	struct retention *r = arg;
	size_t b, d;
	pthread_mutex_lock(&r->mu);
	while (!r->stopping) {
		pthread_mutex_unlock(&r->mu);
		retention_run(&r->o, &b, &d);
		pthread_mutex_lock(&r->mu);
		struct timespec dl = deadline_timespec_in((int64_t)r->o.interval_s * 1000);
		while (!r->stopping && pthread_cond_timedwait(&r->cond, &r->mu, &dl) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int retention_start(const struct retention_opts *o, struct retention **out)
{
	*out = NULL;
	if (!o->store || !o->logs || o->interval_s < 1)
		return FORJA_EINVAL;
	struct retention *r = calloc(1, sizeof(*r));
	if (!r)
		return FORJA_ENOMEM;
	r->o = *o;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&r->thread, NULL, retention_main, r)) {
		pthread_cond_destroy(&r->cond);
		pthread_mutex_destroy(&r->mu);
		free(r);
		return FORJA_ENOMEM;
	}
	*out = r;
	return 0;
}

void retention_stop(struct retention *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mu);
	free(r);
}
