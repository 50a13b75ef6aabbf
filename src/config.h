/* Forja's configuration: embedded defaults, then FORJA_* environment variables, then flags.
 * One check at the end names the key, where it came from, and why a value is refused. */
#ifndef FORJA_CONFIG_H
#define FORJA_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct config {
	char *listen;	   /* host:port, as given */
	char *listen_host; /* parsed from listen */
	unsigned int listen_port;
	char *data_dir;		/* SQLite history and build logs */
	char *docker_host;	/* unix:///path or tcp://host:port */
	char *docker_hosts;	/* FORJA_DOCKER_HOSTS, the pool form (pool_spec_parse), or NULL */
	char *docker_cert_path; /* default TLS directory of tcp:// engines, or NULL */
	char *registry;		/* host:port images are tagged and pushed to */
	char *packages_base;	/* FROM of the stage that builds package mirrors */
	char *registry_url;	/* base URL of the registry API; default http://<registry> */
	char *registry_username;
	char *registry_password;
	char *registry_ca_file; /* PEM file trusted for a TLS registry; NULL = system store */
	char *webhook_secret;
	bool allow_unsigned_webhooks;
	char *api_token;
	char *read_token;      /* when set, the history, logs, images and metrics need a token */
	char *read_token_file; /* read_token from a file's first line */
	char *branch;	       /* builds run for merges into this branch */
	char *manifest;	       /* path of the images manifest in the repository */
	int workers;
	int build_timeout_s;
	int registry_retry_s; /* seconds a push is retried while the registry is down */
	char *github_api_url;
	char *github_token;
	char *git_credentials_file; /* credential-store lines for private HTTP(S) git hosts */
	char *git_ssh_key_file;	    /* deploy key for ssh git URLs */
	char *git_known_hosts_file; /* host keys ssh checks; NULL = ssh's default */
	int git_cache_days;	    /* unused repository caches are removed after; 0 = never */
	char *allowed_hosts;	    /* extra hosts clone/API URLs may point at, comma separated */
	char *public_url;	    /* how users reach Forja; links and commit statuses use it */
	char *log_level;
	size_t log_max_bytes;	/* cap of one build's stored log */
	int max_connections;	/* HTTP connections open at once, in all */
	int max_per_address;	/* HTTP connections open at once per client address; 0 = no limit */
	int http_threads;	/* threads serving HTTP (connections do not take one each) */
	int idle_timeout_s;	/* a kept-alive connection idle this long is closed */
	int request_deadline_s; /* a request (headers and body) must be in within this */
	int keep_days;		/* retention: finished builds older are removed; 0 = kept */
	int keep_builds;	/* retention: per service; 0 = kept */
	int retention_interval_s; /* between retention passes */
	int keep_images;	  /* per service and engine after the push; 0 = all */
	int engine_prune_s;	  /* dangling-image prunes; 0 = never */
	bool immutable_tags;	  /* never overwrite a tag the registry has from another commit */
	int shutdown_grace_s;	  /* SIGTERM: running builds may finish within this */
	int max_streams;	  /* log follows open at once */
	size_t max_body_bytes;	  /* request body cap, except webhooks */
	size_t webhook_max_bytes; /* webhook body cap */
};

/*
 * Fills CFG from defaults, ENVP-style environment (getenv) and ARGV flags.
 * On error returns FORJA_EINVAL and writes a message naming the key into ERR.
 * Returns 1 (and fills nothing else) when --help was asked for.
 * The strings in CFG are owned by it: release with config_free().
 */
int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);
void config_free(struct config *cfg);
/* Prints every option with its environment variable and default. */
void config_print_help(FILE *out);

#endif
