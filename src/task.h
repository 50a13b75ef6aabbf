/* What a long-running step (a fetch, a build, a push) is handed by whoever runs it: a way to
 * be stopped and a place to write its log. Shared by the engine client, the source fetcher,
 * the builder and the CLI, so none of them owns the other's vocabulary. */
#ifndef FORJA_TASK_H
#define FORJA_TASK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Receives log text (one or more whole lines) as it arrives. WRITE may be NULL: no log. */
struct task_log {
	void (*write)(void *ud, const char *text, size_t len);
	void *ud;
};

/*
 * Stops a step early: CANCEL (may be NULL) is set by another thread, DEADLINE_MS is a
 * monotonic deadline (deadline.h; 0 = none). Steps poll it and answer FORJA_ECANCELLED or
 * FORJA_ETIMEDOUT.
 */
struct task_abort {
	atomic_int *cancel;
	int64_t deadline_ms;
};

/* Whether AB (may be NULL) says stop; *WHY gets FORJA_ECANCELLED or FORJA_ETIMEDOUT. */
bool task_should_stop(const struct task_abort *ab, int *why);
/* The words for a stop code: "cancelled" or "timed out". */
const char *task_stop_text(int why);
/* Writes one printf-formatted line (a newline is added) to LOG (may be NULL). */
void task_say(const struct task_log *log, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
