#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <yder.h>

#include "errors.h"
#include "fs.h"

int log_level_parse(const char *name, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
	    {"error", LOG_LEVEL_ERROR}, {"warning", LOG_LEVEL_WARN}, {"warn", LOG_LEVEL_WARN},
	    {"info", LOG_LEVEL_INFO},	{"debug", LOG_LEVEL_DEBUG},
	};
	if (!name)
		return FORJA_EINVAL;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcasecmp(name, levels[i].name)) {
			*out = levels[i].level;
			return 0;
		}
	}
	return FORJA_EINVAL;
}

static unsigned long log_yder_level(enum log_level level)
{
	switch (level) {
	case LOG_LEVEL_ERROR: return Y_LOG_LEVEL_ERROR;
	case LOG_LEVEL_WARN: return Y_LOG_LEVEL_WARNING;
	case LOG_LEVEL_INFO: return Y_LOG_LEVEL_INFO;
	case LOG_LEVEL_DEBUG: return Y_LOG_LEVEL_DEBUG;
	}
	return Y_LOG_LEVEL_INFO;
}

/*
 * The sink behind yder: at the default level every request logs a line, and a write(2) each
 * cost a tenth of the badge's throughput. Info and debug lines are buffered and written at
 * most LOG_FLUSH_MS later, or when LOG_BUFFER_MAX bytes wait; a warning or an error is written
 * at once, after what was buffered, so the order holds. Process-wide like yder's own state.
 */
#define LOG_FLUSH_MS   100
#define LOG_BUFFER_MAX (64 * 1024)
#define LOG_LINE_MAX   4096

struct log_sink {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	char buf[LOG_BUFFER_MAX]; /* lines for standard output */
	size_t len;
	bool stop;
	bool running;
	int opens; /* log_open calls not yet closed */
	pthread_t flusher;
};

static struct log_sink sink = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};

/* Caller holds s->mu. */
static void sink_flush_locked(struct log_sink *s)
{
	/* a log that cannot be written has nowhere left to say so */
	(void)fs_write_all(STDOUT_FILENO, s->buf, s->len);
	s->len = 0;
}

static void sink_line(void *cls, const char *app, const time_t date, const unsigned long level,
		      const char *message)
{
	struct log_sink *s = cls;
	char stamp[32], line[LOG_LINE_MAX];
	struct tm tm;
	const char *name = level == Y_LOG_LEVEL_ERROR	  ? "ERROR"
			   : level == Y_LOG_LEVEL_WARNING ? "WARNING"
			   : level == Y_LOG_LEVEL_INFO	  ? "INFO"
							  : "DEBUG";
	bool urgent = level == Y_LOG_LEVEL_ERROR || level == Y_LOG_LEVEL_WARNING;
	gmtime_r(&date, &tm);
	strftime(stamp, sizeof(stamp), "%FT%TZ", &tm);
	int n = snprintf(line, sizeof(line), "%s - %s %s: %s\n", stamp, app ? app : "forja", name,
			 message);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	if ((size_t)n >= sizeof(line))
		line[len - 1] = '\n'; /* cut, but still one line */
	pthread_mutex_lock(&s->mu);
	if (urgent || !s->running || s->len + len > sizeof(s->buf)) {
		sink_flush_locked(s);
		(void)fs_write_all(urgent ? STDERR_FILENO : STDOUT_FILENO, line, len);
	} else {
		if (s->len == 0)
			pthread_cond_signal(&s->cond);
		memcpy(s->buf + s->len, line, len);
		s->len += len;
	}
	pthread_mutex_unlock(&s->mu);
}

/* Waits for a first buffered line, lets more gather for LOG_FLUSH_MS, writes them. */
static void *sink_flusher(void *arg)
{
	struct log_sink *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		if (s->len == 0) {
			pthread_cond_wait(&s->cond, &s->mu);
			continue;
		}
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += LOG_FLUSH_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!s->stop && pthread_cond_timedwait(&s->cond, &s->mu, &until) == 0)
			;
		sink_flush_locked(s);
	}
	sink_flush_locked(s);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Logging is process-wide: a second log_open (a second server in one process, as tests run
 * them) shares what the first opened, at the first one's level; the last log_close ends it. */
int log_open(const char *level)
{
	enum log_level lvl;
	if (log_level_parse(level, &lvl))
		return FORJA_EINVAL;
	pthread_mutex_lock(&sink.mu);
	bool first = sink.opens++ == 0;
	if (first) {
		sink.stop = false;
		/* without the flusher every line is written at once */
		sink.running = pthread_create(&sink.flusher, NULL, sink_flusher, &sink) == 0;
	}
	pthread_mutex_unlock(&sink.mu);
	if (!first)
		return 0;
	/* yder answers 1 on success */
	if (y_init_logs("forja", Y_LOG_MODE_CALLBACK, log_yder_level(lvl), NULL, NULL) != 1 ||
	    y_set_logs_callback(sink_line, &sink, "starting") != 1) {
		log_close();
		return FORJA_EIO;
	}
	return 0;
}

void log_flush(void)
{
	pthread_mutex_lock(&sink.mu);
	sink_flush_locked(&sink);
	pthread_mutex_unlock(&sink.mu);
}

void log_close(void)
{
	pthread_mutex_lock(&sink.mu);
	if (sink.opens > 1) {
		sink.opens--;
		pthread_mutex_unlock(&sink.mu);
		return;
	}
	sink.opens = 0;
	bool running = sink.running;
	sink.stop = true;
	pthread_cond_broadcast(&sink.cond);
	pthread_mutex_unlock(&sink.mu);
	if (running)
		pthread_join(sink.flusher, NULL);
	pthread_mutex_lock(&sink.mu);
	sink.running = false;
	sink_flush_locked(&sink);
	pthread_mutex_unlock(&sink.mu);
	y_close_logs();
}

void log_message(enum log_level level, const char *func, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	y_log_message(log_yder_level(level), "%s: %s", func, msg);
}
