/* Test harness: a real Forja (config, history, queue, HTTP server) on an ephemeral 127.0.0.1
 * port with a fresh data directory, plus a small libcurl HTTP client for assertions. */
#ifndef FORJA_TESTENV_H
#define FORJA_TESTENV_H

#include <stddef.h>

#include "app.h"
#include "config.h"
#include "server.h"

/*
 * Environment set by scripts/test.sh (tests that need one skip cleanly via testenv_need()):
 *   FORJA_TEST_REGISTRY    host:port of a plain-HTTP docker-registry on loopback
 *   FORJA_TEST_GIT_DIR     directory served by `git daemon` (bare repos <name>.git)
 *   FORJA_TEST_GIT_URL     git://127.0.0.1:PORT/ (prefix of clone URLs)
 *   FORJA_TEST_BASE_IMAGE  local image with a shell (FROM scratch + static busybox)
 *   DOCKER_HOST            engine (default unix:///var/run/docker.sock)
 */
struct testenv {
	char data_dir[256];
	struct config cfg;
	struct app app;
	struct server *server;
	unsigned port;
	char base_url[64]; /* http://127.0.0.1:PORT */
};

/*
 * Starts Forja with defaults for tests (registry = FORJA_TEST_REGISTRY when set, workers 2,
 * --allow-unsigned-webhooks unless a secret is given) overridden by ARGS, a NULL-terminated
 * list of flags like "--api-token=t". Aborts the test (ck_abort) on failure.
 */
void testenv_start(struct testenv *t, const char *const *args);
void testenv_stop(struct testenv *t);

/* A loopback TCP port nothing listens on right now (the kernel picks it). */
unsigned testenv_free_port(void);

/* The environment variable NAME, or aborts the test saying the test command must set it. */
const char *testenv_need(const char *name);

struct http_resp {
	long status;
	char *body; /* NUL terminated */
	size_t len;
	char *headers; /* raw response headers, NUL terminated */
};

/*
 * One request. HEADERS is a NULL-terminated list of "Name: value" (or NULL); BODY may be
 * NULL. Returns 0 or -1 when no answer came. Release OUT with http_resp_free(). An error
 * answer outside the document's Problem schema aborts the test (problem_check_response()).
 */
int http_request(const char *method, const char *url, const char *const *headers, const char *body,
		 size_t len, struct http_resp *out);
void http_resp_free(struct http_resp *r);
/* Value of response header NAME (case-insensitive), malloc'd (free()), or NULL. */
char *http_resp_header(const struct http_resp *r, const char *name);

/* The value of SERIES (e.g. `forja_http_streams` or `name{label="x"}`) in T's /metrics, asked
 * with bearer TOKEN when not NULL. Aborts the test when the series is not there. */
long testenv_metric(const struct testenv *t, const char *series, const char *token);

#endif
