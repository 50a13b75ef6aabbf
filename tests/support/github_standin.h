/* A local stand-in for the two GitHub REST endpoints Forja calls (contents at a ref, commit
 * statuses): a real HTTP server on an ephemeral 127.0.0.1 port that serves files a test puts
 * in it and records every status posted, in arrival order. */
#ifndef FORJA_GITHUB_STANDIN_H
#define FORJA_GITHUB_STANDIN_H

#include <stddef.h>

struct github_standin;

/* One POST /repos/{owner}/{repo}/statuses/{sha} as received. */
struct standin_status {
	char repo[128]; /* owner/repo */
	char sha[64];
	char state[16];
	char context[128];
	char target_url[256];
	char description[256];
	char authorization[256]; /* the Authorization header, "" when absent */
};

/* Starts the stand-in; aborts the test on failure. Release with github_standin_stop(). */
struct github_standin *github_standin_start(void);
void github_standin_stop(struct github_standin *s);
/* http://127.0.0.1:PORT: use as --github-api-url. */
const char *github_standin_url(const struct github_standin *s);

/* Serves CONTENT for PATH of FULL_NAME at REF (NULL = at every ref). Later puts win. */
void github_standin_put_file(struct github_standin *s, const char *full_name, const char *path,
			     const char *ref, const char *content);
/* Every contents request answers STATUS (0 = serve files again). */
void github_standin_fail_contents(struct github_standin *s, int status);

/* Every contents answer waits MS milliseconds first (a slow GitHub). Answers already waiting
 * end their wait when the delay is changed again or the stand-in stops. */
void github_standin_delay_contents(struct github_standin *s, int ms);
/* The same for every commit status posted. */
void github_standin_delay_statuses(struct github_standin *s, int ms);

/* Contents requests served so far, and the Accept header of the last one (into BUF). */
int github_standin_contents_requests(struct github_standin *s, char *accept, size_t len);
/* Copies up to MAX recorded statuses into OUT; returns how many were recorded in all. */
size_t github_standin_statuses(struct github_standin *s, struct standin_status *out, size_t max);
/* Polls until at least N statuses arrived or TIMEOUT_MS passed; returns the count seen. */
size_t github_standin_wait_statuses(struct github_standin *s, size_t n, int timeout_ms);

#endif
