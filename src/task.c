#include "task.h"

#include <stdarg.h>
#include <stdio.h>

#include "deadline.h"
#include "errors.h"

bool task_should_stop(const struct task_abort *ab, int *why)
{
	if (!ab)
		return false;
	if (ab->cancel && atomic_load(ab->cancel)) {
		*why = FORJA_ECANCELLED;
		return true;
	}
	if (deadline_passed(ab->deadline_ms)) {
		*why = FORJA_ETIMEDOUT;
		return true;
	}
	return false;
}

const char *task_stop_text(int why)
{
	return why == FORJA_ECANCELLED ? "cancelled" : "timed out";
}

void task_say(const struct task_log *log, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (!log || !log->write)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	log->write(log->ud, line, (size_t)n);
}
