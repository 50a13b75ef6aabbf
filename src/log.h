/* Logging facade over yder: every message carries the function that logged it.
 * Messages are lowercase, say what failed first, and never contain a secret. */
#ifndef FORJA_LOG_H
#define FORJA_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_ERROR = 1, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Starts logging at LEVEL ("error", "warning", "info", "debug"): info and debug lines to
 * standard output, at most 100 ms late (buffered); warnings and errors to standard error at once.
 * 0, FORJA_EINVAL or FORJA_EIO. Calls nest: a second log_open shares the first one's logging
 * (and level), and the last log_close() ends it, writing what is still buffered. */
int log_open(const char *level);
void log_close(void);
/* Writes the buffered lines now: before text printed on the side (the start-up banner). */
void log_flush(void);
/* Parses a level name; returns 0 and sets *out, or FORJA_EINVAL. */
int log_level_parse(const char *name, enum log_level *out);

void log_message(enum log_level level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(...) log_message(LOG_LEVEL_ERROR, __func__, __VA_ARGS__)
#define log_warn(...)  log_message(LOG_LEVEL_WARN, __func__, __VA_ARGS__)
#define log_info(...)  log_message(LOG_LEVEL_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_message(LOG_LEVEL_DEBUG, __func__, __VA_ARGS__)

#endif
