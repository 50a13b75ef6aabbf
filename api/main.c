/* forja: parses the configuration, wires the core and the HTTP edge, and waits for a signal.
 * `forja build ...` runs one build from the command line; `forja healthcheck` probes /healthz;
 * `forja builds` and `forja logs` ask a running server. */
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/deadline.h"
#include "../src/errors.h"
#include "../src/log.h"
#include "app.h"
#include "cli.h"
#include "client.h"
#include "server.h"

static void main_banner(const struct config *cfg, unsigned port)
{
	log_flush(); /* the lines logged so far come first */
	fprintf(stderr,
		"\nForja %s is running on http://%s:%u\n"
		"  API docs (Swagger UI): %s/docs\n"
		"  OpenAPI document:      %s/openapi.json\n"
		"  GitHub webhook URL:    %s/ciserver/updates  (content type application/json,\n"
		"                         \"Pull requests\" events)\n"
		"  Webhook secret:        %s\n"
		"  Images are pushed to:  %s   history in: %s\n\n",
		FORJA_VERSION, cfg->listen_host, port, cfg->public_url, cfg->public_url,
		cfg->public_url,
		cfg->webhook_secret ? "from FORJA_WEBHOOK_SECRET (give GitHub the same value)"
		: cfg->allow_unsigned_webhooks
		    ? "NONE: unsigned webhooks are accepted (--allow-unsigned-webhooks); anyone "
		      "who can reach this URL can start builds"
		    : "NOT SET: webhooks are refused until FORJA_WEBHOOK_SECRET is set",
		cfg->registry, cfg->data_dir);
}

/* Blocks until SIGINT or SIGTERM; signals were blocked before any thread started. */
static int main_wait_signal(const sigset_t *set)
{
	int sig = 0;
	sigwait(set, &sig);
	return sig;
}

/*
 * Lets running builds finish for up to GRACE_S while the server still answers: webhooks that
 * arrive are recorded as queued and built at the next start, log follows go on. A second
 * signal ends the wait; whatever still runs then is aborted and queued again by queue_stop().
 */
static void main_drain(struct app *app, const sigset_t *set, int sig, int grace_s)
{
	int queued = 0, running = 0;
	queue_drain(app->queue);
	queue_stats(app->queue, &queued, &running);
	if (running == 0 || grace_s == 0) {
		log_info("signal %d: stopping", sig);
		return;
	}
	log_info("signal %d: stopping; waiting up to %d s for %d running builds (a second signal "
		 "stops at once)",
		 sig, grace_s, running);
	int64_t end = deadline_now_ms() + (int64_t)grace_s * 1000;
	while (running > 0 && deadline_now_ms() < end) {
		struct timespec tick = {0, 200 * 1000 * 1000};
		if (sigtimedwait(set, NULL, &tick) > 0) {
			log_info("second signal: stopping now");
			break;
		}
		queue_stats(app->queue, &queued, &running);
	}
	if (running > 0)
		log_info("%d builds still running: aborted, they run again at the next start",
			 running);
}

static int main_serve(const struct config *cfg, const sigset_t *set)
{
	static struct app app; /* lives until exit; handlers get it explicitly */
	struct server *srv = NULL;
	char err[1024] = "";
	int rc;

	rc = app_open(&app, cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "forja: %s\n", err);
		return 1;
	}
	rc = app_start(&app);
	if (rc) {
		fprintf(stderr, "forja: cannot start the build workers: %s\n", errors_text(rc));
		app_close(&app);
		return 1;
	}
	rc = server_start(&app, cfg->listen_host, cfg->listen_port, &srv, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "forja: %s\n", err);
		app_close(&app);
		return 1;
	}
	if (!cfg->webhook_secret && !cfg->allow_unsigned_webhooks)
		log_warn("FORJA_WEBHOOK_SECRET is not set: webhooks are refused (403) until it is, "
			 "or until forja runs with --allow-unsigned-webhooks");
	else if (!cfg->webhook_secret)
		log_warn("webhooks are accepted WITHOUT a signature (--allow-unsigned-webhooks)");
	main_banner(cfg, server_port(srv));
	int sig = main_wait_signal(set);
	main_drain(&app, set, sig, cfg->shutdown_grace_s);
	server_stop(srv);
	app_close(&app);
	log_info("stopped");
	return 0;
}

/* For container health checks: no curl binary needed in the image. */
static int main_healthcheck(int argc, char **argv, const struct config *cfg)
{
	char url[512];
	long code = 0;
	CURL *h = curl_easy_init();
	const char *host = strcmp(cfg->listen_host, "0.0.0.0") ? cfg->listen_host : "127.0.0.1";

	if (argc > 1)
		snprintf(url, sizeof(url), "%s", argv[1]);
	else
		snprintf(url, sizeof(url), "http://%s:%u/healthz", host, cfg->listen_port);
	if (!h)
		return 1;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fwrite);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, stdout);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	fprintf(code == 200 ? stdout : stderr, "\n%s: HTTP %ld\n", url, code);
	return code == 200 ? 0 : 1;
}

/*
 * The subcommands, and the one place that says which runs. A client of a running server
 * (CLIENT) needs no server configuration; the others (LOCAL) take their own flags and get the
 * server's settings from FORJA_*. Any other first argument is the server's own flags.
 */
struct subcommand {
	const char *name;
	int (*client)(int argc, char **argv);
	int (*local)(int argc, char **argv, const struct config *cfg);
};

static const struct subcommand subcommands[] = {
    {"builds", client_builds_main, NULL},
    {"logs", client_logs_main, NULL},
    {"build", NULL, cli_build_main},
    {"healthcheck", NULL, main_healthcheck},
};

/* The subcommand ARGV[1] names, or NULL when the server is to run. */
static const struct subcommand *subcommand_find(int argc, char **argv)
{
	for (size_t i = 0; argc > 1 && i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		if (!strcmp(argv[1], subcommands[i].name))
			return &subcommands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct subcommand *sub = subcommand_find(argc, argv);
	struct config cfg;
	char err[1024];
	sigset_t set;
	int rc;

	if (sub && sub->client) {
		/* a client of a running server: no server configuration to load */
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = sub->client(argc - 1, argv + 1);
		curl_global_cleanup();
		return rc;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("forja %s\n", FORJA_VERSION);
		return 0;
	}
	/* subcommands take their own flags; the server settings then come from FORJA_* */
	rc = config_load(&cfg, sub ? 1 : argc, argv, err, sizeof(err));
	if (rc == 1) {
		config_print_help(stdout);
		return 0;
	}
	if (rc) {
		fprintf(stderr, "forja: %s\n", err);
		return 2;
	}
	if (log_open(cfg.log_level)) {
		fprintf(stderr, "forja: cannot start logging\n");
		config_free(&cfg);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	if (sub) {
		rc = sub->local(argc - 1, argv + 1, &cfg);
	} else {
		/* before any thread exists, so that only main_wait_signal() sees them */
		sigemptyset(&set);
		sigaddset(&set, SIGINT);
		sigaddset(&set, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		rc = main_serve(&cfg, &set);
	}
	curl_global_cleanup();
	log_close();
	config_free(&cfg);
	return rc;
}
