/* Per-build logs on disk (DATA_DIR/logs/<id>.log): capped, secrets masked before storage,
 * and followable: readers can wait for new bytes until the build ends. */
#ifndef FORJA_BUILD_LOGS_H
#define FORJA_BUILD_LOGS_H

#include <stddef.h>
#include <stdint.h>

struct build_logs;

/*
 * Opens the log area under DATA_DIR. SECRETS is a NULL-terminated list of strings replaced
 * by "****" before anything is written (copied). MAX_BYTES caps each build's log; past it a
 * visible truncation marker is written once. *OUT owned by the caller: build_logs_close().
 */
int build_logs_open(const char *data_dir, const char *const *secrets, size_t max_bytes,
		    struct build_logs **out);
void build_logs_close(struct build_logs *logs);

/* Appends LEN bytes (one or more whole lines) to build ID's log and wakes followers. */
int build_logs_append(struct build_logs *logs, int64_t id, const char *text, size_t len);
/* printf-style append of one line (a newline is added). */
int build_logs_appendf(struct build_logs *logs, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Marks build ID's log complete: followers drain it and end. */
void build_logs_end(struct build_logs *logs, int64_t id);

/*
 * Copies up to LEN bytes of build ID's log from OFFSET into BUF. Returns the number of bytes
 * (>= 0), 0 at the current end, or a negative forja_err. *ENDED is set when the log is
 * complete and OFFSET reached its end.
 */
long build_logs_read(struct build_logs *logs, int64_t id, uint64_t offset, char *buf, size_t len,
		     int *ended);
/* Waits until build ID's log grows past OFFSET, ends, or TIMEOUT_MS passes. */
void build_logs_wait(struct build_logs *logs, int64_t id, uint64_t offset, int timeout_ms);
/*
 * FN(UD, ID) is called after every append to, and the end of, build ID's log, from the
 * writing thread and outside the logs' lock, so readers that do not sleep in build_logs_wait
 * (suspended HTTP streams) learn of new bytes. FN NULL removes it. UD borrowed.
 */
/* Deletes build ID's log (retention: the build is gone from the history). 0 also when there
 * was none. */
int build_logs_remove(struct build_logs *logs, int64_t id);
void build_logs_set_notify(struct build_logs *logs, void (*fn)(void *ud, int64_t id), void *ud);

#endif
