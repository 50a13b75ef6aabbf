/* One derivation of the builder's settings from the configuration, for server and CLI. */
#include "builder_config.h"

void builder_config_registry_opts(const struct config *cfg, struct registry_opts *out)
{
	*out = (struct registry_opts){
	    .url = cfg->registry_url,
	    .username = cfg->registry_username,
	    .password = cfg->registry_password,
	    .ca_file = cfg->registry_ca_file,
	    .timeout_s = BUILDER_CONFIG_REGISTRY_TIMEOUT_S,
	};
}

void builder_config_env(const struct config *cfg, struct engine *engine, struct registry *registry,
			struct source *source, struct builder_env *out)
{
	*out = (struct builder_env){
	    .engine = engine,
	    .source = source,
	    .registry = registry,
	    .registry_host = cfg->registry,
	    .registry_username = cfg->registry_username,
	    .registry_password = cfg->registry_password,
	    .registry_retry_s = cfg->registry_retry_s,
	    .packages_base = cfg->packages_base,
	};
}

size_t builder_config_secrets(const struct config *cfg,
			      const char *list[BUILDER_CONFIG_MAX_SECRETS + 1])
{
	const char *const all[BUILDER_CONFIG_MAX_SECRETS] = {
	    cfg->registry_password,
	    cfg->api_token,
	    cfg->webhook_secret,
	    cfg->github_token,
	};
	size_t n = 0;
	/* only the secrets that are set, so the list stays NULL-terminated */
	for (size_t i = 0; i < BUILDER_CONFIG_MAX_SECRETS; i++) {
		if (all[i] && *all[i])
			list[n++] = all[i];
	}
	list[n] = NULL;
	return n;
}
