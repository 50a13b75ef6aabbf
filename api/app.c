#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../src/builder_config.h"
#include "../src/errors.h"
#include "../src/fs.h"
#include "../src/log.h"

/* The engines: FORJA_DOCKER_HOSTS, or the one FORJA_DOCKER_HOST with FORJA_WORKERS slots. */
static int open_pool(struct app *app, const struct config *cfg, char *err, size_t errlen)
{
	struct pool_spec spec;
	int rc;

	if (cfg->docker_hosts) {
		rc = pool_spec_parse(cfg->docker_hosts, cfg->workers, cfg->docker_cert_path, &spec,
				     err, errlen);
	} else {
		memset(&spec, 0, sizeof(spec));
		spec.n = 1;
		spec.entries[0].host = strdup(cfg->docker_host);
		spec.entries[0].slots = cfg->workers;
		if (cfg->docker_cert_path && !strncmp(cfg->docker_host, "tcp://", 6))
			spec.entries[0].cert_dir = strdup(cfg->docker_cert_path);
		rc = spec.entries[0].host ? 0 : FORJA_ENOMEM;
	}
	if (!rc)
		rc = pool_new(&spec, &app->pool, err, errlen);
	pool_spec_free(&spec);
	if (rc)
		return rc;
	app->engine = pool_engine(app->pool, 0);
	return 0;
}

static int app_open_clients(struct app *app, const struct config *cfg, char *err, size_t errlen)
{
	struct registry_opts ro;
	struct github_opts go = {
	    .api_url = cfg->github_api_url,
	    .token = cfg->github_token,
	    .allowed_hosts = cfg->allowed_hosts,
	    .public_url = cfg->public_url,
	    .timeout_s = 5,
	};
	int rc;

	builder_config_registry_opts(cfg, &ro);
	rc = open_pool(app, cfg, err, errlen);
	if (rc)
		return rc;
	rc = registry_new(&ro, &app->registry);
	if (rc) {
		snprintf(err, errlen, "FORJA_REGISTRY_URL: cannot use \"%s\": %s",
			 cfg->registry_url, errors_text(rc));
		return rc;
	}
	rc = github_new(&go, &app->github);
	if (rc) {
		snprintf(err, errlen, "FORJA_GITHUB_API_URL: cannot use \"%s\": %s",
			 cfg->github_api_url, errors_text(rc));
		return rc;
	}
	rc = metrics_new(&app->metrics);
	if (rc) {
		snprintf(err, errlen, "cannot set up metrics: %s", errors_text(rc));
		return rc;
	}
	return 0;
}

static int app_open_queue(struct app *app, const struct config *cfg, char *err, size_t errlen)
{
	const char *secrets[BUILDER_CONFIG_MAX_SECRETS + 1];
	struct queue_opts qo;
	struct queue_observer gh = {github_on_build, app->github};
	struct queue_observer mx = {metrics_on_build, app->metrics};
	struct queue_observer evo = {events_on_build, NULL};
	int rc;

	builder_config_secrets(cfg, secrets);
	/* a fresh machine has no data directory yet */
	rc = fs_make_dirs(cfg->data_dir, 0750);
	if (rc) {
		snprintf(err, errlen, "FORJA_DATA_DIR: cannot create \"%s\": %s", cfg->data_dir,
			 strerror(errno));
		return rc;
	}
	rc = store_open(cfg->data_dir, &app->store);
	if (rc) {
		snprintf(err, errlen, "FORJA_DATA_DIR: cannot open the history in \"%s\": %s",
			 cfg->data_dir, errors_text(rc));
		return rc;
	}
	rc = build_logs_open(cfg->data_dir, secrets, cfg->log_max_bytes, &app->logs);
	if (rc) {
		snprintf(err, errlen, "FORJA_DATA_DIR: cannot open build logs in \"%s\": %s",
			 cfg->data_dir, errors_text(rc));
		return rc;
	}
	rc = source_open(cfg, &app->source);
	if (rc) {
		snprintf(err, errlen, "cannot set up the git caches: %s", errors_text(rc));
		return rc;
	}
	builder_config_env(cfg, app->engine, app->registry, app->source, &app->env);
	qo = (struct queue_opts){
	    .store = app->store,
	    .logs = app->logs,
	    .env = &app->env,
	    .pool = app->pool,
	    /* one worker a slot: engines, not workers, bound what runs at once */
	    .workers = pool_slots(app->pool) < 64 ? pool_slots(app->pool) : 64,
	    .timeout_s = cfg->build_timeout_s,
	    .max_attempts = 3,
	    .immutable_tags = cfg->immutable_tags,
	    .keep_images = cfg->keep_images,
	};
	rc = queue_new(&qo, &app->queue);
	if (rc) {
		snprintf(err, errlen, "cannot set up the build queue: %s", errors_text(rc));
		return rc;
	}
	rc = events_new(APP_EVENTS_KEPT, cfg->public_url, &app->events);
	if (rc) {
		snprintf(err, errlen, "cannot set up build events: %s", errors_text(rc));
		return rc;
	}
	rc = badge_cache_new(&app->badges);
	if (rc) {
		snprintf(err, errlen, "cannot set up the badge cache: %s", errors_text(rc));
		return rc;
	}
	evo.ud = app->events;
	rc = queue_observe(app->queue, &gh);
	if (!rc)
		rc = queue_observe(app->queue, &mx);
	if (!rc)
		rc = queue_observe(app->queue, &evo);
	if (rc) {
		snprintf(err, errlen, "cannot observe the build queue: %s", errors_text(rc));
		return rc;
	}
	return 0;
}

int app_open(struct app *app, const struct config *cfg, char *err, size_t errlen)
{
	int rc;

	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	atomic_init(&app->stopping, 0);
	rc = app_open_clients(app, cfg, err, errlen);
	if (!rc)
		rc = app_open_queue(app, cfg, err, errlen);
	if (rc)
		app_close(app);
	return rc;
}

int app_start(struct app *app)
{
	const struct config *cfg = app->cfg;
	struct retention_opts ro = {
	    .store = app->store,
	    .logs = app->logs,
	    .metrics = app->metrics,
	    .keep_days = cfg->keep_days,
	    .keep_builds = cfg->keep_builds,
	    .delivery_days = APP_DELIVERY_DAYS,
	    .interval_s = cfg->retention_interval_s,
	};
	int rc = pool_start(app->pool, APP_ENGINE_PING_MS, cfg->engine_prune_s);
	if (!rc)
		rc = queue_start(app->queue);
	/* after recovery: what it re-queues is never finished, so never pruned */
	if (!rc)
		rc = retention_start(&ro, &app->retention);
	return rc;
}

void app_close(struct app *app)
{
	if (!app)
		return;
	atomic_store(&app->stopping, 1);
	retention_stop(app->retention);
	if (app->queue) {
		queue_stop(app->queue);
		queue_free(app->queue);
	}
	/* after the queue: workers report to these until they stop */
	github_free(app->github);
	events_free(app->events);
	badge_cache_free(app->badges);
	build_logs_close(app->logs);
	store_close(app->store);
	metrics_free(app->metrics);
	source_free(app->source);
	registry_free(app->registry);
	pool_free(app->pool);
	memset(app, 0, sizeof(*app));
}
