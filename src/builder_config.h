/* The builder's settings as the server and the CLI both derive them from one struct config:
 * the registry client, the builder environment and the secrets masked in build logs. One place,
 * so that `forja build` and a server build mask the same secrets and wait the same time. */
#ifndef FORJA_BUILDER_CONFIG_H
#define FORJA_BUILDER_CONFIG_H

#include <stddef.h>

#include "builder.h"
#include "config.h"
#include "engine.h"
#include "registry.h"

/*
 * Per request to the registry API (ping, catalog, tags, the post-push manifest digest). These
 * are short calls, and the server makes them while answering HTTP requests (GET /images,
 * /health), so one bound serves both: 10 s, well past a working registry's answer.
 */
#define BUILDER_CONFIG_REGISTRY_TIMEOUT_S 10

/* Every secret a config can hold: registry password, API token, webhook secret, GitHub token. */
#define BUILDER_CONFIG_MAX_SECRETS 4

/* The registry client options of CFG into OUT; OUT's strings are borrowed from CFG. */
void builder_config_registry_opts(const struct config *cfg, struct registry_opts *out);

/*
 * The builder environment into OUT: ENGINE, REGISTRY and SOURCE (borrowed, may be NULL) with
 * CFG's registry host and credentials (borrowed from CFG).
 */
void builder_config_env(const struct config *cfg, struct engine *engine, struct registry *registry,
			struct source *source, struct builder_env *out);

/*
 * The secrets build logs mask: each of CFG's secrets that is set and not empty, in the order
 * above, then NULL, into LIST. Returns how many. The strings are borrowed from CFG.
 */
size_t builder_config_secrets(const struct config *cfg,
			      const char *list[BUILDER_CONFIG_MAX_SECRETS + 1]);

#endif
