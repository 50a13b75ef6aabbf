/* Fills a Forja data directory with a large build history through the store's own interface,
 * so bench/history.sh can time the HTTP endpoints that read it.
 * usage: history_bench DATA_DIR COUNT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"
#include "store.h"

static const char *const services[] = {"api",  "web",	 "worker",  "billing", "search",
				       "auth", "mailer", "reports", "gateway", "images"};
static const char *const branches[] = {"develop", "main", "release"};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int add_one(struct store *st, long i, int64_t t0)
{
	char version[32], digest[80];
	snprintf(version, sizeof(version), "1.%ld", i);
	snprintf(digest, sizeof(digest), "sha256:%064ld", i);
	struct build b = {
	    .service = (char *)services[i % 10],
	    .version = version,
	    .type = (char *)"docker",
	    .trigger = TRIGGER_WEBHOOK,
	    .repository = (char *)"acme/platform",
	    .clone_url = (char *)"https://github.com/acme/platform.git",
	    .ref = (char *)branches[i % 3],
	    .branch = (char *)branches[i % 3],
	    .created_at = t0 + i * 1000,
	};
	int rc = store_build_insert(st, &b);
	if (rc != 0)
		return rc;
	int attempts;
	rc = store_build_start(st, b.id, b.created_at + 10, &attempts);
	if (rc != 0)
		return rc;
	enum build_status fin = i % 20 == 0 ? BUILD_FAILED : BUILD_SUCCEEDED;
	return store_build_finish(st, b.id, fin, fin == BUILD_SUCCEEDED ? digest : NULL,
				  fin == BUILD_FAILED ? "step 2/3 failed" : NULL,
				  b.created_at + 30000);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s DATA_DIR COUNT\n", argv[0]);
		return 2;
	}
	char *end = NULL;
	errno = 0;
	long n = strtol(argv[2], &end, 10);
	if (errno != 0 || *end != '\0' || n < 1) {
		fprintf(stderr, "COUNT must be a positive number\n");
		return 2;
	}
	struct store *st = NULL;
	int rc = store_open(argv[1], &st);
	if (rc != 0) {
		fprintf(stderr, "cannot open the history in %s: %s\n", argv[1], forja_strerror(rc));
		return 1;
	}
	double t = now_s();
	int64_t t0 = (int64_t)time(NULL) * 1000 - n * 1000;
	for (long i = 0; i < n && rc == 0; i++)
		rc = add_one(st, i, t0);
	double took = now_s() - t;
	store_close(st);
	if (rc != 0) {
		fprintf(stderr, "insert failed: %s\n", forja_strerror(rc));
		return 1;
	}
	printf("inserted %ld builds (insert+start+finish each) in %.1f s: %.0f builds/s\n", n, took,
	       (double)n / took);
	return 0;
}
