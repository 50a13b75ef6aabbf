/* Metrics: fixed tables of atomic counters, so recording never allocates or blocks (a lock is
 * taken only the first time a route name is seen), rendered on demand for Prometheus. */
#include "metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

#define ROUTE_NAME_MAX 64
#define STATUS_MIN     100
#define STATUS_SLOTS   501 /* 100..599, then one slot for anything else */
#define STATUS_OTHER   (STATUS_SLOTS - 1)
#define ROUTE_OTHER    METRICS_MAX_ROUTES

typedef _Atomic uint64_t counter_t;

/* Request durations: an API call answers in well under a millisecond to a few seconds. */
static const double http_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				      0.1,    0.25,  0.5,    1,	    2.5,  5,	 10};
#define N_HTTP_BUCKETS (sizeof(http_buckets) / sizeof(http_buckets[0]))

/* Build durations: a cached layer takes a second, a cold build many minutes. */
static const double build_buckets[] = {1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600};
#define N_BUILD_BUCKETS (sizeof(build_buckets) / sizeof(build_buckets[0]))

/* GitHub event names worth a series of their own; the rest share "other". */
static const char *const webhook_events[] = {
    "ping",	   "push",    "pull_request", "pull_request_review", "create",
    "delete",	   "release", "issues",	      "issue_comment",	     "check_run",
    "check_suite", "status",  "workflow_run", "workflow_job",	     "installation",
    "unknown",	   "other",
};
#define N_EVENTS (sizeof(webhook_events) / sizeof(webhook_events[0]))

static const char *const webhook_outcomes[] = {"queued",   "ignored", "duplicate",
					       "rejected", "error",   "other"};
#define N_OUTCOMES (sizeof(webhook_outcomes) / sizeof(webhook_outcomes[0]))

/* HTTP limits counted by forja_http_limited_total. */
static const char *const http_limits[] = {"connections", "per_address", "deadline", "idle",
					  "body",	 "streams",	"other"};
#define N_LIMITS (sizeof(http_limits) / sizeof(http_limits[0]))

/* Final statuses counted by forja_builds_total. */
static const enum build_status final_statuses[] = {BUILD_SUCCEEDED, BUILD_FAILED, BUILD_CANCELLED};
static const char *const final_names[] = {"succeeded", "failed", "cancelled"};
#define N_FINAL (sizeof(final_statuses) / sizeof(final_statuses[0]))

struct route_stats {
	char name[ROUTE_NAME_MAX];
	counter_t status[STATUS_SLOTS];
	counter_t buckets[N_HTTP_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
	counter_t sum_us;
	counter_t count;
};

struct histogram {
	counter_t buckets[N_BUILD_BUCKETS + 1];
	counter_t sum_ms;
	counter_t count;
};

struct metrics {
	pthread_mutex_t route_lock; /* serialises adding a route; readers never take it */
	atomic_int nroutes;	    /* routes[0..nroutes) have their name set */
	struct route_stats routes[METRICS_MAX_ROUTES + 1];
	counter_t builds[N_FINAL];
	struct histogram build_duration;
	counter_t webhooks[N_EVENTS][N_OUTCOMES];
	counter_t limited[N_LIMITS];
	counter_t retention[3];	     /* runs, builds removed, deliveries removed */
	_Atomic int64_t connections; /* gauges */
	_Atomic int64_t streams;
};

int metrics_new(struct metrics **out)
{
	struct metrics *m = calloc(1, sizeof(*m));
	if (!m)
		return FORJA_ENOMEM;
	if (pthread_mutex_init(&m->route_lock, NULL) != 0) {
		free(m);
		return FORJA_ENOMEM;
	}
	snprintf(m->routes[ROUTE_OTHER].name, ROUTE_NAME_MAX, "other");
	*out = m;
	return 0;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->route_lock);
	free(m);
}

static void count(counter_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t load(counter_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static int route_find(struct metrics *m, int n, const char *route)
{
	for (int i = 0; i < n; i++) {
		if (strcmp(m->routes[i].name, route) == 0)
			return i;
	}
	return -1;
}

/* Index of ROUTE, adding it when new; ROUTE_OTHER once the table is full. */
static int route_index(struct metrics *m, const char *route)
{
	if (strlen(route) >= ROUTE_NAME_MAX)
		return ROUTE_OTHER;
	int i = route_find(m, atomic_load_explicit(&m->nroutes, memory_order_acquire), route);
	if (i >= 0)
		return i;
	pthread_mutex_lock(&m->route_lock);
	int n = atomic_load_explicit(&m->nroutes, memory_order_relaxed);
	i = route_find(m, n, route);
	if (i < 0 && n < METRICS_MAX_ROUTES) {
		snprintf(m->routes[n].name, ROUTE_NAME_MAX, "%s", route);
		/* The name is complete before readers can see the new count. */
		atomic_store_explicit(&m->nroutes, n + 1, memory_order_release);
		i = n;
	}
	pthread_mutex_unlock(&m->route_lock);
	return i < 0 ? ROUTE_OTHER : i;
}

void metrics_http_request(struct metrics *m, const char *route, int status, double seconds)
{
	if (!m)
		return;
	struct route_stats *r = &m->routes[route_index(m, route ? route : "unknown")];
	int slot = (status >= STATUS_MIN && status < STATUS_MIN + STATUS_OTHER)
		       ? status - STATUS_MIN
		       : STATUS_OTHER;
	count(&r->status[slot], 1);
	if (!(seconds >= 0)) /* negative or NaN: a clock step, not a duration */
		seconds = 0;
	size_t b = 0;
	while (b < N_HTTP_BUCKETS && seconds > http_buckets[b])
		b++;
	count(&r->buckets[b], 1);
	count(&r->sum_us, (uint64_t)(seconds * 1e6));
	count(&r->count, 1);
}

static size_t name_index(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; name && i + 1 < n; i++) {
		if (strcmp(names[i], name) == 0)
			return i;
	}
	return n - 1; /* the last entry is "other" */
}

void metrics_webhook(struct metrics *m, const char *event, const char *outcome)
{
	if (!m)
		return;
	size_t e = name_index(webhook_events, N_EVENTS, event);
	size_t o = name_index(webhook_outcomes, N_OUTCOMES, outcome);
	count(&m->webhooks[e][o], 1);
}

void metrics_http_limit(struct metrics *m, const char *limit)
{
	if (m)
		count(&m->limited[name_index(http_limits, N_LIMITS, limit)], 1);
}

void metrics_retention(struct metrics *m, uint64_t builds, uint64_t deliveries)
{
	if (!m)
		return;
	count(&m->retention[0], 1);
	count(&m->retention[1], builds);
	count(&m->retention[2], deliveries);
}

void metrics_http_open(struct metrics *m, int connections, int streams)
{
	if (!m)
		return;
	atomic_fetch_add_explicit(&m->connections, connections, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->streams, streams, memory_order_relaxed);
}

void metrics_on_build(void *ud, const struct build *b)
{
	struct metrics *m = ud;
	if (!m || !b)
		return;
	bool final = false;
	for (size_t i = 0; i < N_FINAL; i++) {
		if (final_statuses[i] == b->status) {
			count(&m->builds[i], 1);
			final = true;
		}
	}
	if (!final)
		return;
	/* A build cancelled before it started has no duration worth recording. */
	if (b->started_at <= 0 || b->finished_at < b->started_at)
		return;
	int64_t ms = b->finished_at - b->started_at;
	size_t k = 0;
	while (k < N_BUILD_BUCKETS && (double)ms / 1000.0 > build_buckets[k])
		k++;
	count(&m->build_duration.buckets[k], 1);
	count(&m->build_duration.sum_ms, (uint64_t)ms);
	count(&m->build_duration.count, 1);
}

/* A label value in the exposition format: backslash, double quote and newline escaped. */
static void put_label(FILE *f, const char *v)
{
	for (const char *p = v; *p; p++) {
		switch (*p) {
		case '\\': fputs("\\\\", f); break;
		case '"': fputs("\\\"", f); break;
		case '\n': fputs("\\n", f); break;
		default: fputc(*p, f);
		}
	}
}

static void put_header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void render_builds(FILE *f, struct metrics *m, int queued, int running)
{
	put_header(f, "forja_builds_total", "counter",
		   "Builds that reached a final status since start, by status.");
	for (size_t i = 0; i < N_FINAL; i++) {
		fprintf(f, "forja_builds_total{status=\"%s\"} %llu\n", final_names[i],
			(unsigned long long)load(&m->builds[i]));
	}
	put_header(f, "forja_queue_depth", "gauge", "Builds waiting for a worker.");
	fprintf(f, "forja_queue_depth %d\n", queued);
	put_header(f, "forja_builds_running", "gauge", "Builds running now.");
	fprintf(f, "forja_builds_running %d\n", running);

	struct histogram *h = &m->build_duration;
	put_header(f, "forja_build_duration_seconds", "histogram",
		   "Time from a build's start to its final status.");
	uint64_t cum = 0;
	for (size_t k = 0; k < N_BUILD_BUCKETS; k++) {
		cum += load(&h->buckets[k]);
		fprintf(f, "forja_build_duration_seconds_bucket{le=\"%g\"} %llu\n",
			build_buckets[k], (unsigned long long)cum);
	}
	cum += load(&h->buckets[N_BUILD_BUCKETS]);
	fprintf(f, "forja_build_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)cum);
	fprintf(f, "forja_build_duration_seconds_sum %.3f\n", (double)load(&h->sum_ms) / 1e3);
	/* The count is the +Inf bucket, so the two always agree within one scrape. */
	fprintf(f, "forja_build_duration_seconds_count %llu\n", (unsigned long long)cum);
}

static void render_webhooks(FILE *f, struct metrics *m)
{
	put_header(f, "forja_webhook_deliveries_total", "counter",
		   "Webhook deliveries received, by GitHub event and outcome.");
	bool any = false;
	for (size_t e = 0; e < N_EVENTS; e++) {
		for (size_t o = 0; o < N_OUTCOMES; o++) {
			uint64_t v = load(&m->webhooks[e][o]);
			if (!v)
				continue;
			any = true;
			fprintf(
			    f, "forja_webhook_deliveries_total{event=\"%s\",outcome=\"%s\"} %llu\n",
			    webhook_events[e], webhook_outcomes[o], (unsigned long long)v);
		}
	}
	if (!any) /* one zero series, so dashboards find the metric before the first delivery */
		fputs(
		    "forja_webhook_deliveries_total{event=\"pull_request\",outcome=\"queued\"} 0\n",
		    f);
}

static void render_route_status(FILE *f, struct route_stats *r)
{
	for (int s = 0; s < STATUS_SLOTS; s++) {
		uint64_t v = load(&r->status[s]);
		if (!v)
			continue;
		fputs("forja_http_requests_total{route=\"", f);
		put_label(f, r->name);
		if (s == STATUS_OTHER)
			fprintf(f, "\",status=\"other\"} %llu\n", (unsigned long long)v);
		else
			fprintf(f, "\",status=\"%d\"} %llu\n", s + STATUS_MIN,
				(unsigned long long)v);
	}
}

static void render_route_duration(FILE *f, struct route_stats *r)
{
	uint64_t cum = 0;
	for (size_t b = 0; b <= N_HTTP_BUCKETS; b++) {
		cum += load(&r->buckets[b]);
		fputs("forja_http_request_duration_seconds_bucket{route=\"", f);
		put_label(f, r->name);
		if (b < N_HTTP_BUCKETS)
			fprintf(f, "\",le=\"%g\"} %llu\n", http_buckets[b],
				(unsigned long long)cum);
		else
			fprintf(f, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	fputs("forja_http_request_duration_seconds_sum{route=\"", f);
	put_label(f, r->name);
	fprintf(f, "\"} %.6f\n", (double)load(&r->sum_us) / 1e6);
	fputs("forja_http_request_duration_seconds_count{route=\"", f);
	put_label(f, r->name);
	fprintf(f, "\"} %llu\n", (unsigned long long)cum);
}

static bool route_used(struct route_stats *r)
{
	return load(&r->count) > 0;
}

static void render_limits(FILE *f, struct metrics *m)
{
	put_header(f, "forja_http_connections", "gauge", "HTTP connections open.");
	fprintf(f, "forja_http_connections %lld\n", (long long)atomic_load(&m->connections));
	put_header(f, "forja_http_streams", "gauge", "Long-lived responses open (log follows).");
	fprintf(f, "forja_http_streams %lld\n", (long long)atomic_load(&m->streams));
	put_header(f, "forja_http_limited_total", "counter",
		   "Connections refused or cut, and requests refused, by the limit they hit.");
	for (size_t i = 0; i < N_LIMITS; i++)
		fprintf(f, "forja_http_limited_total{limit=\"%s\"} %llu\n", http_limits[i],
			(unsigned long long)load(&m->limited[i]));
}

static void render_retention(FILE *f, struct metrics *m)
{
	put_header(f, "forja_retention_runs_total", "counter",
		   "Retention passes (FORJA_KEEP_DAYS, FORJA_KEEP_BUILDS).");
	fprintf(f, "forja_retention_runs_total %llu\n", (unsigned long long)load(&m->retention[0]));
	put_header(f, "forja_retention_builds_removed_total", "counter",
		   "Finished builds removed with their logs by retention.");
	fprintf(f, "forja_retention_builds_removed_total %llu\n",
		(unsigned long long)load(&m->retention[1]));
	put_header(f, "forja_retention_deliveries_removed_total", "counter",
		   "Webhook delivery records removed by retention.");
	fprintf(f, "forja_retention_deliveries_removed_total %llu\n",
		(unsigned long long)load(&m->retention[2]));
}

static void render_http(FILE *f, struct metrics *m)
{
	render_limits(f, m);
	int n = atomic_load_explicit(&m->nroutes, memory_order_acquire);
	put_header(f, "forja_http_requests_total", "counter",
		   "HTTP requests answered, by route (operationId) and status.");
	for (int i = 0; i <= METRICS_MAX_ROUTES; i++) {
		if ((i < n || i == ROUTE_OTHER) && route_used(&m->routes[i]))
			render_route_status(f, &m->routes[i]);
	}
	put_header(f, "forja_http_request_duration_seconds", "histogram",
		   "Time to answer an HTTP request, by route.");
	for (int i = 0; i <= METRICS_MAX_ROUTES; i++) {
		if ((i < n || i == ROUTE_OTHER) && route_used(&m->routes[i]))
			render_route_duration(f, &m->routes[i]);
	}
}

/* One gauge or counter series per engine. */
static void render_engines(FILE *f, const struct pool_state *e, size_t n)
{
	static const char *const names[] = {"forja_engine_up", "forja_engine_slots",
					    "forja_engine_slots_in_use",
					    "forja_engine_builds_total"};
	static const char *const types[] = {"gauge", "gauge", "gauge", "counter"};
	static const char *const help[] = {
	    "1 while the engine answers its pings; an engine that does not takes no builds.",
	    "Builds the engine may run at once.", "Builds running on the engine now.",
	    "Builds the engine ran since the start (an attempt lost with the engine is not one)."};
	if (n == 0)
		return;
	for (size_t k = 0; k < 4; k++) {
		put_header(f, names[k], types[k], help[k]);
		for (size_t i = 0; i < n; i++) {
			uint64_t v = k == 0   ? (uint64_t)e[i].up
				     : k == 1 ? (uint64_t)e[i].slots
				     : k == 2 ? (uint64_t)e[i].in_use
					      : e[i].builds;
			fprintf(f, "%s{engine=\"", names[k]);
			put_label(f, e[i].host);
			fprintf(f, "\"} %" PRIu64 "\n", v);
		}
	}
}

char *metrics_render(struct metrics *m, int queued, int running, const struct pool_state *engines,
		     size_t nengines)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return NULL;
	put_header(f, "forja_build_info", "gauge", "Forja's version.");
#ifdef FORJA_VERSION
	fprintf(f, "forja_build_info{version=\"%s\"} 1\n", FORJA_VERSION);
#else
	fputs("forja_build_info{version=\"unknown\"} 1\n", f);
#endif
	render_builds(f, m, queued, running);
	render_webhooks(f, m);
	render_http(f, m);
	render_retention(f, m);
	render_engines(f, engines, nengines);
	bool bad = ferror(f) != 0;
	if (fclose(f) != 0 || bad) {
		free(text);
		return NULL;
	}
	return text;
}
