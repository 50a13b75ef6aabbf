/* Builds queued straight into a running test server's history and queue, as `forja build` or
 * a webhook would, for tests about what happens while and after builds run. */
#ifndef FORJA_TESTBUILD_H
#define FORJA_TESTBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "testenv.h"

/*
 * Inserts a build of SERVICE:VERSION from the repository at URL, commit SHA, into T's history
 * and queues it; returns its id. Aborts the test on failure.
 */
int64_t testbuild_queue(struct testenv *t, const char *service, const char *version,
			const char *url, const char *sha);

#endif
