/* Builds queued straight into a running test server's history and queue, as `forja build` or
 * a webhook would, for tests about what happens while and after builds run. */
#ifndef FORJA_TESTBUILD_H
#define FORJA_TESTBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "testenv.h"

struct build;

/*
 * Inserts a build of SERVICE:VERSION from the repository at URL, commit SHA, into T's history
 * and queues it; returns its id. Aborts the test on failure.
 */
int64_t testbuild_queue(struct testenv *t, const char *service, const char *version,
			const char *url, const char *sha);

/*
 * The log T's server keeps of build ID, its first 1 MiB at most, NUL-terminated; the caller
 * frees it.
 */
char *testbuild_read_log(struct testenv *t, int64_t id);
/* Reads the log of build ID every 50 ms until it holds NEEDLE; aborts the test, showing the
 * log, when SECS pass first. */
void testbuild_wait_log(struct testenv *t, int64_t id, const char *needle, int secs);

/*
 * Reads build ID from T's history every 50 ms until its status is final and returns it, the
 * caller's to build_free(); aborts the test, naming the status it is still in, when SECS pass
 * first.
 */
struct build *testbuild_wait_final(struct testenv *t, int64_t id, int secs);
/* As testbuild_wait_final() for each of the N builds IDS, all within one budget of SECS, and
 * keeps none of them. */
void testbuild_wait_all_final(struct testenv *t, const int64_t *ids, int n, int secs);

/*
 * Commits a repository whose Dockerfile prints line-one, sleeps SECS and prints line-two, named
 * after PREFIX and unique to the call (testgit_unique()): a stamp file in it makes every layer
 * new to the engine, so no build of it is served from the cache. NAME (NAME_LEN bytes, may be
 * NULL) gets its name, URL (URL_LEN bytes) its clone URL, SHA (41 bytes) the commit. Aborts the
 * test on failure.
 */
void testbuild_make_repo(const char *prefix, int secs, char *name, size_t name_len, char *url,
			 size_t url_len, char *sha);

#endif
