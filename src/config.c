#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"
#include "pool.h"

enum opt_kind { OPT_STR, OPT_INT, OPT_SIZE, OPT_BOOL };

struct opt {
	const char *flag; /* without the leading "--" */
	const char *env;
	enum opt_kind kind;
	size_t offset;	    /* into struct config */
	const char *defval; /* embedded default; NULL = unset */
	long min, max;	    /* for numbers */
	const char *help;
};

#define OFF(field) offsetof(struct config, field)

static const struct opt config_opts[] = {
    {"listen", "FORJA_LISTEN", OPT_STR, OFF(listen), "127.0.0.1:8080", 0, 0,
     "host:port the HTTP server listens on"},
    {"data-dir", "FORJA_DATA_DIR", OPT_STR, OFF(data_dir), "data", 0, 0,
     "directory of the SQLite history and build logs"},
    {"docker-host", "FORJA_DOCKER_HOST", OPT_STR, OFF(docker_host), NULL, 0, 0,
     "Docker engine (default $DOCKER_HOST, else unix:///var/run/docker.sock)"},
    {"docker-hosts", "FORJA_DOCKER_HOSTS", OPT_STR, OFF(docker_hosts), NULL, 0, 0,
     "engines builds are spread over, instead of one: HOST[;slots=N][;tls=DIR],..."},
    {"docker-cert-path", "FORJA_DOCKER_CERT_PATH", OPT_STR, OFF(docker_cert_path), NULL, 0, 0,
     "TLS directory (ca.pem, cert.pem, key.pem) of tcp:// engines (default $DOCKER_CERT_PATH)"},
    {"registry", "FORJA_REGISTRY", OPT_STR, OFF(registry), "127.0.0.1:5000", 0, 0,
     "registry host:port images are tagged with and pushed to"},
    {"packages-base", "FORJA_PACKAGES_BASE", OPT_STR, OFF(packages_base), "debian:bookworm-slim", 0,
     0, "image with apt that package mirrors (type packages) are resolved and indexed in"},
    {"registry-url", "FORJA_REGISTRY_URL", OPT_STR, OFF(registry_url), NULL, 0, 0,
     "registry API base URL (default http://<registry>)"},
    {"registry-username", "FORJA_REGISTRY_USERNAME", OPT_STR, OFF(registry_username), NULL, 0, 0,
     "registry user (basic auth)"},
    {"registry-password", "FORJA_REGISTRY_PASSWORD", OPT_STR, OFF(registry_password), NULL, 0, 0,
     "registry password"},
    {"registry-ca-file", "FORJA_REGISTRY_CA_FILE", OPT_STR, OFF(registry_ca_file), NULL, 0, 0,
     "PEM CA file trusted for a TLS registry"},
    {"webhook-secret", "FORJA_WEBHOOK_SECRET", OPT_STR, OFF(webhook_secret), NULL, 0, 0,
     "secret of the GitHub webhook (HMAC-SHA256 signatures)"},
    {"allow-unsigned-webhooks", "FORJA_ALLOW_UNSIGNED_WEBHOOKS", OPT_BOOL,
     OFF(allow_unsigned_webhooks), "false", 0, 0,
     "accept webhooks without a signature when no secret is set"},
    {"api-token", "FORJA_API_TOKEN", OPT_STR, OFF(api_token), NULL, 0, 0,
     "bearer token for POST /builds and cancel (unset: those are disabled)"},
    {"read-token", "FORJA_READ_TOKEN", OPT_STR, OFF(read_token), NULL, 0, 0,
     "bearer token the history, logs, images and metrics then need (the API token works too)"},
    {"read-token-file", "FORJA_READ_TOKEN_FILE", OPT_STR, OFF(read_token_file), NULL, 0, 0,
     "file whose first line is the read token"},
    {"branch", "FORJA_BRANCH", OPT_STR, OFF(branch), "develop", 0, 0,
     "merges into this branch are built"},
    {"manifest", "FORJA_MANIFEST", OPT_STR, OFF(manifest), "images.json", 0, 0,
     "path of the images manifest in the repository"},
    {"workers", "FORJA_WORKERS", OPT_INT, OFF(workers), "2", 1, 64, "builds run at once"},
    {"build-timeout", "FORJA_BUILD_TIMEOUT", OPT_INT, OFF(build_timeout_s), "1800", 1,
     7 * 24 * 3600, "seconds before a build is failed as timed out"},
    {"registry-retry", "FORJA_REGISTRY_RETRY", OPT_INT, OFF(registry_retry_s), "120", 0, 24 * 3600,
     "seconds a build retries its push while the registry cannot be reached (0 = never)"},
    {"github-api-url", "FORJA_GITHUB_API_URL", OPT_STR, OFF(github_api_url),
     "https://api.github.com", 0, 0, "GitHub REST API base URL"},
    {"github-token", "FORJA_GITHUB_TOKEN", OPT_STR, OFF(github_token), NULL, 0, 0,
     "token for private manifests and commit statuses"},
    {"git-credentials-file", "FORJA_GIT_CREDENTIALS_FILE", OPT_STR, OFF(git_credentials_file), NULL,
     0, 0, "git-credential-store lines (https://user:secret@host) for private HTTP(S) git"},
    {"git-ssh-key-file", "FORJA_GIT_SSH_KEY_FILE", OPT_STR, OFF(git_ssh_key_file), NULL, 0, 0,
     "private key (deploy key) for ssh:// and git@host: repositories"},
    {"git-known-hosts-file", "FORJA_GIT_KNOWN_HOSTS_FILE", OPT_STR, OFF(git_known_hosts_file), NULL,
     0, 0, "known_hosts checked for ssh git hosts (default ~/.ssh/known_hosts)"},
    {"git-cache-days", "FORJA_GIT_CACHE_DAYS", OPT_INT, OFF(git_cache_days), "14", 0, 3650,
     "days an unused repository cache is kept (0 = forever)"},
    {"allowed-hosts", "FORJA_ALLOWED_HOSTS", OPT_STR, OFF(allowed_hosts), NULL, 0, 0,
     "extra hosts clone URLs may use, comma separated (GitHub Enterprise)"},
    {"public-url", "FORJA_PUBLIC_URL", OPT_STR, OFF(public_url), NULL, 0, 0,
     "URL users reach Forja at (default http://<listen>)"},
    {"log-level", "FORJA_LOG_LEVEL", OPT_STR, OFF(log_level), "info", 0, 0,
     "error, warning, info or debug"},
    {"log-max-bytes", "FORJA_LOG_MAX_BYTES", OPT_SIZE, OFF(log_max_bytes), "5242880", 1024,
     LONG_MAX, "cap of one build's stored log"},
    {"max-connections", "FORJA_MAX_CONNECTIONS", OPT_INT, OFF(max_connections), "4096", 16, 100000,
     "HTTP connections open at once, in all; more are answered 503 and closed"},
    {"max-connections-per-address", "FORJA_MAX_CONNECTIONS_PER_ADDRESS", OPT_INT,
     OFF(max_per_address), "64", 0, 100000,
     "HTTP connections open at once per client address (0 = no limit, behind a proxy)"},
    {"http-threads", "FORJA_HTTP_THREADS", OPT_INT, OFF(http_threads), "4", 1, 64,
     "threads serving HTTP; connections do not take one each"},
    {"idle-timeout", "FORJA_IDLE_TIMEOUT", OPT_INT, OFF(idle_timeout_s), "30", 1, 3600,
     "seconds a kept-alive connection may wait for its next request"},
    {"request-deadline", "FORJA_REQUEST_DEADLINE", OPT_INT, OFF(request_deadline_s), "10", 1, 3600,
     "seconds to receive a whole request, headers and body, however slowly sent"},
    {"keep-days", "FORJA_KEEP_DAYS", OPT_INT, OFF(keep_days), "0", 0, 36500,
     "finished builds older than this many days are removed with their logs (0 = kept)"},
    {"keep-builds", "FORJA_KEEP_BUILDS", OPT_INT, OFF(keep_builds), "0", 0, 1000000,
     "finished builds past the newest N of each service are removed (0 = kept)"},
    {"retention-interval", "FORJA_RETENTION_INTERVAL", OPT_INT, OFF(retention_interval_s), "3600",
     1, 7 * 24 * 3600, "seconds between retention passes (one runs at start-up)"},
    {"keep-images", "FORJA_KEEP_IMAGES", OPT_INT, OFF(keep_images), "3", 0, 1000,
     "images of a service kept on an engine after their push, the layer cache (0 = all)"},
    {"engine-prune-interval", "FORJA_ENGINE_PRUNE_INTERVAL", OPT_INT, OFF(engine_prune_s), "3600",
     0, 7 * 24 * 3600, "seconds between prunes of each engine's dangling images (0 = never)"},
    {"immutable-tags", "FORJA_IMMUTABLE_TAGS", OPT_BOOL, OFF(immutable_tags), "false", 0, 0,
     "a service:version the registry has from another commit fails before building"},
    {"shutdown-grace", "FORJA_SHUTDOWN_GRACE", OPT_INT, OFF(shutdown_grace_s), "30", 0, 86400,
     "seconds running builds may take to finish on SIGTERM before they are queued again"},
    {"max-streams", "FORJA_MAX_STREAMS", OPT_INT, OFF(max_streams), "256", 1, 100000,
     "log follows open at once; more are answered 503"},
    {"max-body-bytes", "FORJA_MAX_BODY_BYTES", OPT_SIZE, OFF(max_body_bytes), "65536", 1024,
     26214400, "request body cap, except webhooks (413 above)"},
    {"webhook-max-bytes", "FORJA_WEBHOOK_MAX_BYTES", OPT_SIZE, OFF(webhook_max_bytes), "26214400",
     1024, 104857600, "webhook body cap (GitHub sends at most 25 MB)"},
};

#define N_OPTS (sizeof(config_opts) / sizeof(config_opts[0]))

static int config_set(struct config *cfg, const struct opt *o, const char *val, const char *src,
		      char *err, size_t errlen)
{
	char *base = (char *)cfg + o->offset;
	char *end = NULL;
	long n;

	switch (o->kind) {
	case OPT_STR: {
		char **slot = (char **)(void *)base;
		char *copy = strdup(val);
		if (!copy)
			return FORJA_ENOMEM;
		free(*slot);
		*slot = copy;
		return 0;
	}
	case OPT_BOOL:
		if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes")) {
			*(bool *)(void *)base = true;
			return 0;
		}
		if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no") || !*val) {
			*(bool *)(void *)base = false;
			return 0;
		}
		snprintf(err, errlen, "%s (%s): \"%s\" is not a boolean (true or false)", o->env,
			 src, val);
		return FORJA_EINVAL;
	case OPT_INT:
	case OPT_SIZE:
		errno = 0;
		n = strtol(val, &end, 10);
		if (errno || end == val || *end || n < o->min || n > o->max) {
			snprintf(err, errlen,
				 "%s (%s): \"%s\" is not a whole number from %ld to %ld", o->env,
				 src, val, o->min, o->max);
			return FORJA_EINVAL;
		}
		if (o->kind == OPT_INT)
			*(int *)(void *)base = (int)n;
		else
			*(size_t *)(void *)base = (size_t)n;
		return 0;
	}
	return FORJA_EINVAL;
}

static const struct opt *config_find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		if (strlen(config_opts[i].flag) == len && !strncmp(config_opts[i].flag, name, len))
			return &config_opts[i];
	}
	return NULL;
}

static int config_parse_flags(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		const char *eq, *val;
		const struct opt *o;
		char src[128];
		int rc;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
			return 1;
		if (strncmp(arg, "--", 2)) {
			snprintf(err, errlen, "unexpected argument \"%s\" (see forja --help)", arg);
			return FORJA_EINVAL;
		}
		arg += 2;
		eq = strchr(arg, '=');
		o = config_find_flag(arg, eq ? (size_t)(eq - arg) : strlen(arg));
		if (!o) {
			snprintf(err, errlen, "unknown option --%.*s (see forja --help)",
				 (int)(eq ? eq - arg : (long)strlen(arg)), arg);
			return FORJA_EINVAL;
		}
		if (eq)
			val = eq + 1;
		else if (o->kind == OPT_BOOL)
			val = "true";
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			snprintf(err, errlen, "option --%s needs a value", o->flag);
			return FORJA_EINVAL;
		}
		snprintf(src, sizeof(src), "flag --%s", o->flag);
		rc = config_set(cfg, o, val, src, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int config_parse_listen(struct config *cfg, char *err, size_t errlen)
{
	const char *colon = strrchr(cfg->listen, ':');
	char *end = NULL;
	long port;

	if (!colon || colon == cfg->listen) {
		snprintf(err, errlen, "FORJA_LISTEN: \"%s\" is not host:port", cfg->listen);
		return FORJA_EINVAL;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || port < 0 || port > 65535) {
		snprintf(err, errlen, "FORJA_LISTEN: port \"%s\" is not a number from 0 to 65535",
			 colon + 1);
		return FORJA_EINVAL;
	}
	free(cfg->listen_host);
	cfg->listen_host = strndup(cfg->listen, (size_t)(colon - cfg->listen));
	if (!cfg->listen_host)
		return FORJA_ENOMEM;
	cfg->listen_port = (unsigned)port;
	return 0;
}

/* A credentials file that cannot be read fails every private build: say so at start. */
static int config_check_files(const struct config *cfg, char *err, size_t errlen)
{
	const struct {
		const char *env, *path;
	} files[] = {{"FORJA_GIT_CREDENTIALS_FILE", cfg->git_credentials_file},
		     {"FORJA_GIT_SSH_KEY_FILE", cfg->git_ssh_key_file},
		     {"FORJA_GIT_KNOWN_HOSTS_FILE", cfg->git_known_hosts_file}};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		/* empty is unset, as compose passes variables nobody set */
		if (!files[i].path || !*files[i].path)
			continue;
		if (access(files[i].path, R_OK)) {
			snprintf(err, errlen, "%s: \"%s\" is not a readable file", files[i].env,
				 files[i].path);
			return FORJA_EINVAL;
		}
	}
	return 0;
}

/* FORJA_READ_TOKEN, or the first line of FORJA_READ_TOKEN_FILE (a Docker or systemd secret). */
static int config_read_token(struct config *cfg, char *err, size_t errlen)
{
	char line[512];
	FILE *f;
	int rc = 0;

	if (cfg->read_token_file && !*cfg->read_token_file) {
		free(cfg->read_token_file);
		cfg->read_token_file = NULL;
	}
	if (cfg->read_token && cfg->read_token_file) {
		snprintf(err, errlen, "set FORJA_READ_TOKEN or FORJA_READ_TOKEN_FILE, not both");
		return FORJA_EINVAL;
	}
	if (cfg->read_token_file) {
		f = fopen(cfg->read_token_file, "r");
		if (!f) {
			snprintf(err, errlen,
				 "FORJA_READ_TOKEN_FILE: \"%s\" is not a readable file",
				 cfg->read_token_file);
			return FORJA_EINVAL;
		}
		if (!fgets(line, sizeof(line), f))
			line[0] = '\0';
		fclose(f);
		line[strcspn(line, "\r\n")] = '\0';
		cfg->read_token = strdup(line);
		if (!cfg->read_token)
			return FORJA_ENOMEM;
	}
	if (cfg->read_token && !*cfg->read_token) {
		snprintf(err, errlen, "the read token (FORJA_READ_TOKEN%s) is set but empty",
			 cfg->read_token_file ? "_FILE" : "");
		rc = FORJA_EINVAL;
	}
	return rc;
}

static int config_set_str(char **slot, const char *a, const char *b)
{
	size_t len = strlen(a) + strlen(b) + 1;
	char *s = malloc(len);
	if (!s)
		return FORJA_ENOMEM;
	snprintf(s, len, "%s%s", a, b);
	free(*slot);
	*slot = s;
	return 0;
}

static bool config_is_url(const char *s)
{
	return !strncmp(s, "http://", 7) || !strncmp(s, "https://", 8);
}

/* Derived defaults and the checks no single option can make alone. */
static int config_finish(struct config *cfg, char *err, size_t errlen)
{
	enum log_level lvl;
	int rc = config_parse_listen(cfg, err, errlen);
	if (rc)
		return rc;
	if (!cfg->docker_host) {
		const char *dh = getenv("DOCKER_HOST");
		rc = config_set_str(&cfg->docker_host,
				    dh && *dh ? dh : "unix:///var/run/docker.sock", "");
		if (rc)
			return rc;
	}
	if (strncmp(cfg->docker_host, "unix://", 7) && strncmp(cfg->docker_host, "tcp://", 6)) {
		snprintf(err, errlen, "FORJA_DOCKER_HOST: \"%s\" must start with unix:// or tcp://",
			 cfg->docker_host);
		return FORJA_EINVAL;
	}
	/* compose passes unset settings as empty strings: those mean "not set" */
	if (cfg->docker_hosts && !*cfg->docker_hosts) {
		free(cfg->docker_hosts);
		cfg->docker_hosts = NULL;
	}
	if (cfg->docker_cert_path && !*cfg->docker_cert_path) {
		free(cfg->docker_cert_path);
		cfg->docker_cert_path = NULL;
	}
	const char *dcp = getenv("DOCKER_CERT_PATH");
	if (!cfg->docker_cert_path && dcp && *dcp &&
	    (rc = config_set_str(&cfg->docker_cert_path, dcp, "")))
		return rc;
	if (cfg->docker_hosts) {
		/* refused now, naming the entry, rather than at the first build */
		struct pool_spec spec;
		rc = pool_spec_parse(cfg->docker_hosts, cfg->workers, cfg->docker_cert_path, &spec,
				     err, errlen);
		if (rc)
			return rc;
		pool_spec_free(&spec);
	}
	if (!*cfg->registry || strchr(cfg->registry, '/') || strchr(cfg->registry, ' ')) {
		snprintf(err, errlen, "FORJA_REGISTRY: \"%s\" must be host:port, without a scheme",
			 cfg->registry);
		return FORJA_EINVAL;
	}
	if (!cfg->registry_url &&
	    (rc = config_set_str(&cfg->registry_url, "http://", cfg->registry)))
		return rc;
	if (!config_is_url(cfg->registry_url)) {
		snprintf(err, errlen,
			 "FORJA_REGISTRY_URL: \"%s\" must start with http:// or https://",
			 cfg->registry_url);
		return FORJA_EINVAL;
	}
	if (!config_is_url(cfg->github_api_url)) {
		snprintf(err, errlen,
			 "FORJA_GITHUB_API_URL: \"%s\" must start with http:// or https://",
			 cfg->github_api_url);
		return FORJA_EINVAL;
	}
	if (!*cfg->branch || !*cfg->manifest) {
		snprintf(err, errlen, "FORJA_BRANCH and FORJA_MANIFEST must not be empty");
		return FORJA_EINVAL;
	}
	if (log_level_parse(cfg->log_level, &lvl)) {
		snprintf(err, errlen,
			 "FORJA_LOG_LEVEL: \"%s\" is not error, warning, info or debug",
			 cfg->log_level);
		return FORJA_EINVAL;
	}
	if (cfg->registry_password && !cfg->registry_username) {
		snprintf(err, errlen,
			 "FORJA_REGISTRY_PASSWORD is set but FORJA_REGISTRY_USERNAME is not");
		return FORJA_EINVAL;
	}
	if (!cfg->public_url) {
		const char *host =
		    strcmp(cfg->listen_host, "0.0.0.0") ? cfg->listen_host : "127.0.0.1";
		char buf[300];
		snprintf(buf, sizeof(buf), "http://%s:%u", host, cfg->listen_port);
		rc = config_set_str(&cfg->public_url, buf, "");
		if (rc)
			return rc;
	}
	/* links are built as public_url + "/builds/..." */
	size_t pl = strlen(cfg->public_url);
	while (pl > 0 && cfg->public_url[pl - 1] == '/')
		cfg->public_url[--pl] = '\0';
	/* an empty secret is a mistake, not a way to turn signatures off */
	if (cfg->webhook_secret && !*cfg->webhook_secret) {
		snprintf(err, errlen, "FORJA_WEBHOOK_SECRET is set but empty");
		return FORJA_EINVAL;
	}
	if (cfg->api_token && !*cfg->api_token) {
		snprintf(err, errlen, "FORJA_API_TOKEN is set but empty");
		return FORJA_EINVAL;
	}
	rc = config_read_token(cfg, err, errlen);
	if (rc)
		return rc;
	return config_check_files(cfg, err, errlen);
}

int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	err[0] = '\0';
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &config_opts[i];
		if (o->defval && (rc = config_set(cfg, o, o->defval, "default", err, errlen)))
			goto fail;
	}
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &config_opts[i];
		const char *v = getenv(o->env);
		if (v && (rc = config_set(cfg, o, v, "environment", err, errlen)))
			goto fail;
	}
	rc = config_parse_flags(cfg, argc, argv, err, errlen);
	if (rc)
		goto fail;
	rc = config_finish(cfg, err, errlen);
	if (rc)
		goto fail;
	return 0;
fail:
	config_free(cfg);
	return rc;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < N_OPTS; i++) {
		if (config_opts[i].kind == OPT_STR) {
			char **slot = (char **)(void *)((char *)cfg + config_opts[i].offset);
			free(*slot);
			*slot = NULL;
		}
	}
	free(cfg->listen_host);
	cfg->listen_host = NULL;
}

void config_print_help(FILE *out)
{
	fprintf(out, "usage: forja [OPTIONS]            run the server\n"
		     "       forja build --help         build and push one image now\n\n"
		     "Every option can also be set by its environment variable; flags win.\n\n");
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &config_opts[i];
		char flag[64];
		snprintf(flag, sizeof(flag), "--%s%s", o->flag, o->kind == OPT_BOOL ? "" : "=V");
		fprintf(out, "  %-28s %-30s %s", flag, o->env, o->help);
		if (o->defval)
			fprintf(out, " [default: %s]", o->defval);
		fputc('\n', out);
	}
}
