/* The server context: every long-lived part of a running Forja, wired once at start-up and
 * passed explicitly to handlers (the only shared mutable state). */
#ifndef FORJA_APP_H
#define FORJA_APP_H

#include <stdatomic.h>

#include "../src/badge.h"
#include "../src/build_logs.h"
#include "../src/queue.h"
#include "../src/builder.h"
#include "../src/config.h"
#include "../src/engine.h"
#include "../src/events.h"
#include "../src/github.h"
#include "../src/metrics.h"
#include "../src/pool.h"
#include "../src/registry.h"
#include "../src/retention.h"
#include "../src/source.h"
#include "../src/store.h"

struct conns;

/* How often each engine of the pool is pinged. */
#define APP_ENGINE_PING_MS 5000
/* Build events GET /events can resume from. */
#define APP_EVENTS_KEPT 4096
/* Delivery records (duplicate detection) are kept this long; GitHub redelivers within days. */
#define APP_DELIVERY_DAYS 30

struct app {
	const struct config *cfg; /* borrowed */
	struct store *store;
	struct build_logs *logs;
	struct queue *queue;
	struct pool *pool;
	struct engine *engine; /* borrowed from the pool: its first engine */
	struct registry *registry;
	struct source *source;
	struct github *github;
	struct metrics *metrics;
	struct events *events;
	struct retention *retention;
	struct badge_cache *badges;
	struct builder_env env;
	struct conns *conns; /* borrowed from the running server; NULL without one */
	atomic_int stopping; /* set at shutdown: long-lived responses end */
};

/* Opens the history, clients and queue from CFG (not yet started); on failure writes why into
 * ERR and leaves nothing open. Release with app_close(). */
int app_open(struct app *app, const struct config *cfg, char *err, size_t errlen);
/* Starts the build workers (after crash recovery). */
int app_start(struct app *app);
/* Stops workers and closes everything app_open() opened; safe on a zeroed app. */
void app_close(struct app *app);

#endif
