#include "log.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <yder.h>

#include "errors.h"

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

int log_open(const char *level)
{
	enum log_level lvl;
	if (log_level_parse(level, &lvl))
		return FORJA_EINVAL;
	/* yder answers 1 on success */
	if (y_init_logs("forja", Y_LOG_MODE_CONSOLE, log_yder_level(lvl), NULL, "starting") != 1)
		return FORJA_EIO;
	return 0;
}

void log_close(void)
{
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
