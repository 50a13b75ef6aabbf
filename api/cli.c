/* `forja build`: parses the build flags, runs the same build method the server uses with the log
 * on stdout, records the build in the history when it can, and prints image@digest at the end. */
#include "cli.h"

#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../src/build.h"
#include "../src/build_logs.h"
#include "../src/builder.h"
#include "../src/builder_config.h"
#include "../src/deadline.h"
#include "../src/engine.h"
#include "../src/errors.h"
#include "../src/registry.h"
#include "../src/store.h"

#define CLI_EXIT_FAILED 1
#define CLI_EXIT_USAGE	2

struct cli_opts {
	const char *service, *version, *type, *git, *ref, *context, *dockerfile;
	json_t *build_args; /* owned */
	bool help;
};

static void cli_usage(FILE *out)
{
	fputs("usage: forja build --service S --version V [--type docker] --git URL --ref REF\n"
	      "                   [--context DIR] [--dockerfile FILE] [--build-arg K=V ...]\n"
	      "Builds the Docker image S:V from the git repository URL at REF (a branch, a tag or\n"
	      "a full commit sha), pushes it to the configured registry and prints image@digest.\n"
	      "Engine, registry and history come from the FORJA_* environment.\n",
	      out);
}

/* The value of "--name VALUE" or "--name=VALUE" at ARGV[*I]; advances *I past it. */
static bool cli_flag(int argc, char **argv, int *i, const char *name, const char **value)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n))
		return false;
	if (a[n] == '=') {
		*value = a + n + 1;
		return true;
	}
	if (a[n] != '\0')
		return false;
	if (*i + 1 >= argc) {
		*value = NULL;
		return true;
	}
	*value = argv[++*i];
	return true;
}

static int cli_build_arg(struct cli_opts *o, const char *kv)
{
	const char *eq = kv ? strchr(kv, '=') : NULL;
	char *key;
	int rc;

	if (!eq || eq == kv) {
		fprintf(stderr, "forja build: --build-arg wants KEY=VALUE\n");
		return FORJA_EINVAL;
	}
	key = strndup(kv, (size_t)(eq - kv));
	if (!key)
		return FORJA_ENOMEM;
	rc = json_object_set_new(o->build_args, key, json_string(eq + 1)) ? FORJA_EINVAL : 0;
	if (rc)
		fprintf(stderr, "forja build: --build-arg %s is not valid UTF-8\n", key);
	free(key);
	return rc;
}

static int cli_parse(int argc, char **argv, struct cli_opts *o)
{
	struct {
		const char *name;
		const char **dst;
	} flags[] = {
	    {"--service", &o->service},
	    {"--version", &o->version},
	    {"--type", &o->type},
	    {"--git", &o->git},
	    {"--ref", &o->ref},
	    {"--context", &o->context},
	    {"--dockerfile", &o->dockerfile},
	};

	o->build_args = json_object();
	if (!o->build_args)
		return FORJA_ENOMEM;
	for (int i = 1; i < argc; i++) {
		const char *v = NULL;
		bool known = false;

		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			o->help = true;
			return 0;
		}
		if (cli_flag(argc, argv, &i, "--build-arg", &v)) {
			if (cli_build_arg(o, v))
				return FORJA_EINVAL;
			continue;
		}
		for (size_t k = 0; k < sizeof(flags) / sizeof(*flags) && !known; k++) {
			if (!cli_flag(argc, argv, &i, flags[k].name, &v))
				continue;
			if (!v) {
				fprintf(stderr, "forja build: %s needs a value\n", flags[k].name);
				return FORJA_EINVAL;
			}
			*flags[k].dst = v;
			known = true;
		}
		if (!known) {
			fprintf(stderr, "forja build: unknown argument '%s'\n", argv[i]);
			return FORJA_EINVAL;
		}
	}
	return 0;
}

/* ---- cancellation on SIGINT/SIGTERM ----------------------------------------------------- */

struct cli_signals {
	sigset_t set, old;
	atomic_int cancel;
	atomic_int done;
	pthread_t thread;
	bool running;
};

/* Waits for the signals in short slices so it can notice the build ended. */
static void *cli_signal_thread(void *ud)
{
	struct cli_signals *s = ud;
	struct timespec slice = {0, 200 * 1000 * 1000};

	while (!atomic_load(&s->done)) {
		int sig = sigtimedwait(&s->set, NULL, &slice);

		if (sig == SIGINT || sig == SIGTERM) {
			fprintf(stderr, "forja build: cancelling\n");
			atomic_store(&s->cancel, 1);
		}
	}
	return NULL;
}

static void cli_signals_start(struct cli_signals *s)
{
	sigemptyset(&s->set);
	sigaddset(&s->set, SIGINT);
	sigaddset(&s->set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &s->set, &s->old);
	s->running = pthread_create(&s->thread, NULL, cli_signal_thread, s) == 0;
}

static void cli_signals_stop(struct cli_signals *s)
{
	atomic_store(&s->done, 1);
	if (s->running)
		pthread_join(s->thread, NULL);
	pthread_sigmask(SIG_SETMASK, &s->old, NULL);
}

/* ---- history -------------------------------------------------------------------------------- */

struct cli_history {
	struct store *store;
	struct build_logs *logs;
	int64_t id;
};

/* Records the build as running; on any failure the build still runs, unrecorded. */
static void cli_history_open(struct cli_history *h, const struct config *cfg,
			     const struct build_spec *spec, const char *image, const char *commit)
{
	const char *secrets[BUILDER_CONFIG_MAX_SECRETS + 1];
	struct build *b = NULL;
	int rc;

	if (!cfg->data_dir || store_open(cfg->data_dir, &h->store)) {
		fprintf(stderr,
			"forja build: warning: cannot open the history in %s; the build "
			"is not recorded\n",
			cfg->data_dir ? cfg->data_dir : "(no data dir)");
		h->store = NULL;
		return;
	}
	b = build_new_from(&(struct build_fields){
	    .trigger = TRIGGER_CLI,
	    .service = spec->service,
	    .version = spec->version,
	    .type = spec->type,
	    .image = image,
	    .repository = spec->git_url,
	    .clone_url = spec->git_url,
	    .commit = commit,
	    .ref = spec->ref,
	    .context = spec->context,
	    .dockerfile = spec->dockerfile,
	    .build_args = spec->build_args,
	});
	if (!b)
		goto fail;
	rc = store_build_insert(h->store, b);
	if (!rc)
		rc = store_build_start(h->store, b->id, build_now_ms(), NULL);
	if (rc)
		goto fail;
	h->id = b->id;
	builder_config_secrets(cfg, secrets);
	if (build_logs_open(cfg->data_dir, secrets, cfg->log_max_bytes, &h->logs))
		h->logs = NULL;
	fprintf(stderr, "forja build: recorded as build %lld\n", (long long)h->id);
	build_free(b);
	return;
fail:
	fprintf(stderr, "forja build: warning: cannot record the build in the history\n");
	build_free(b);
	store_close(h->store);
	h->store = NULL;
}

static void cli_history_close(struct cli_history *h, int rc, const struct build_result *res)
{
	enum build_status st = rc == 0			? BUILD_SUCCEEDED
			       : rc == FORJA_ECANCELLED ? BUILD_CANCELLED
							: BUILD_FAILED;

	if (h->store && h->id &&
	    store_build_finish(h->store, h->id, st, rc ? NULL : res->digest, rc ? res->error : NULL,
			       build_now_ms()))
		fprintf(stderr, "forja build: warning: cannot record the result of build %lld\n",
			(long long)h->id);
	if (h->logs) {
		build_logs_end(h->logs, h->id);
		build_logs_close(h->logs);
	}
	store_close(h->store);
}

/* The log goes to stdout as it arrives, and into the stored build log when recorded. */
struct cli_sink {
	struct cli_history *hist;
};

static void cli_log_write(void *ud, const char *text, size_t len)
{
	struct cli_sink *s = ud;

	fwrite(text, 1, len, stdout);
	fflush(stdout);
	if (s->hist->logs)
		build_logs_append(s->hist->logs, s->hist->id, text, len);
}

/* ---- the command ------------------------------------------------------------------------- */

static void cli_print_problems(json_t *errors)
{
	size_t i;
	json_t *e;

	json_array_foreach(errors, i, e)
	    fprintf(stderr, "forja build: %s %s\n", json_string_value(json_object_get(e, "field")),
		    json_string_value(json_object_get(e, "message")));
}

struct cli_clients {
	struct engine *engine;
	struct registry *registry;
	struct source *source;
	char tmp_cache[256]; /* a cache of this build's own, removed at the end; "" = none */
};

static int cli_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/* The caches live in the data directory; when it cannot be made, the build still runs, from a
 * cache of its own that is removed afterwards. */
static int cli_source_open(struct cli_clients *c, const struct config *cfg)
{
	const char *tmp = getenv("TMPDIR");
	struct config alt = *cfg;

	if ((!mkdir(cfg->data_dir, 0750) || errno == EEXIST) && !access(cfg->data_dir, W_OK | X_OK))
		return source_open(cfg, &c->source);
	snprintf(c->tmp_cache, sizeof(c->tmp_cache), "%s/forja-git.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(c->tmp_cache)) {
		c->tmp_cache[0] = '\0';
		return FORJA_EIO;
	}
	fprintf(stderr, "forja build: warning: cannot use %s for the git cache; using %s\n",
		cfg->data_dir, c->tmp_cache);
	alt.data_dir = c->tmp_cache;
	return source_open(&alt, &c->source);
}

static void cli_clients_close(struct cli_clients *c)
{
	source_free(c->source);
	registry_free(c->registry);
	engine_free(c->engine);
	if (c->tmp_cache[0])
		nftw(c->tmp_cache, cli_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int cli_clients_open(struct cli_clients *c, const struct config *cfg)
{
	struct registry_opts ro;
	int rc = engine_new(cfg->docker_host, &c->engine);

	builder_config_registry_opts(cfg, &ro);
	if (rc) {
		fprintf(stderr, "forja build: bad docker host %s: %s\n", cfg->docker_host,
			errors_text(rc));
		return rc;
	}
	rc = registry_new(&ro, &c->registry);
	if (rc) {
		fprintf(stderr, "forja build: bad registry url %s: %s\n", cfg->registry_url,
			errors_text(rc));
		return rc;
	}
	rc = cli_source_open(c, cfg);
	if (rc)
		fprintf(stderr, "forja build: cannot set up the git caches: %s\n", errors_text(rc));
	return rc;
}

/* Validates, pins the ref, records, builds. Returns a forja_err. */
static int cli_run(const struct config *cfg, const struct build_spec *spec,
		   const struct cli_clients *c, struct build_result *res)
{
	struct builder_env env;
	struct cli_signals sig = {0};
	struct task_abort ab = {.cancel = &sig.cancel};
	struct cli_history hist = {0};
	struct cli_sink sink = {&hist};
	struct task_log log = {cli_log_write, &sink};
	struct build_spec pinned = *spec;
	char image[512], commit[41];
	int rc;

	builder_config_env(cfg, c->engine, c->registry, c->source, &env);
	cli_signals_start(&sig);
	if (cfg->build_timeout_s > 0)
		ab.deadline_ms = deadline_now_ms() + (int64_t)cfg->build_timeout_s * 1000;
	memset(res, 0, sizeof(*res));
	/* pinned first, so that the history records the exact commit of this build */
	rc = source_resolve(c->source, spec->git_url, spec->ref, &ab, commit, res->error,
			    sizeof(res->error));
	if (rc)
		goto out;
	if (strcmp(commit, spec->ref))
		printf("resolved %s to %s\n", spec->ref, commit);
	pinned.ref = commit;
	builder_image_ref(cfg->registry, spec->service, spec->version, image, sizeof(image));
	cli_history_open(&hist, cfg, spec, image, commit);
	rc = builder_run(&env, &pinned, &log, &ab, res);
	cli_history_close(&hist, rc, res);
out:
	cli_signals_stop(&sig);
	return rc;
}

int cli_build_main(int argc, char **argv, const struct config *cfg)
{
	struct cli_opts o = {0};
	struct cli_clients c = {0};
	struct build_result res;
	struct build_spec spec;
	json_t *errors = NULL;
	int rc, code = CLI_EXIT_USAGE;

	if (cli_parse(argc, argv, &o)) {
		cli_usage(stderr);
		goto out;
	}
	if (o.help) {
		cli_usage(stdout);
		code = 0;
		goto out;
	}
	spec = (struct build_spec){
	    .service = o.service,
	    .version = o.version,
	    .type = o.type,
	    .git_url = o.git,
	    .ref = o.ref,
	    .context = o.context,
	    .dockerfile = o.dockerfile,
	    .build_args = json_object_size(o.build_args) ? o.build_args : NULL,
	};
	errors = json_array();
	rc = errors ? builder_validate(&spec, errors) : FORJA_ENOMEM;
	if (rc == FORJA_EUNSUPPORTED) {
		code = CLI_EXIT_FAILED;
		fprintf(stderr, "forja build: %s\n",
			json_string_value(json_object_get(json_array_get(errors, 0), "message")));
		goto out;
	}
	if (rc) {
		cli_print_problems(errors);
		goto out;
	}
	code = CLI_EXIT_FAILED;
	if (cli_clients_open(&c, cfg))
		goto out;
	rc = cli_run(cfg, &spec, &c, &res);
	if (rc) {
		fprintf(stderr, "forja build: %s\n", res.error[0] ? res.error : errors_text(rc));
		goto out;
	}
	printf("%s/%s@%s\n", cfg->registry, spec.service, res.digest);
	fflush(stdout);
	code = 0;
out:
	json_decref(errors);
	json_decref(o.build_args);
	cli_clients_close(&c);
	return code;
}
