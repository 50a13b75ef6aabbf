/* The Docker engine's streamed /build and /push answers: JSON lines split wherever libcurl
 * happens to cut them. The first byte picks push or build (bit 0), the HTTP status (bits 1-2)
 * and the size of the pieces (the rest); the remainder is the body. Log text must come out in
 * whole lines; a write of any other shape is a bug, reported as a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "task.h"

static void on_log(void *ud, const char *text, size_t len)
{
	size_t *total = ud;

	if (!len)
		abort();
	*total += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 200, 400, 404};
	size_t total = 0;
	struct task_log log = {.write = on_log, .ud = &total};
	char result[80], err[512];

	if (!size)
		return 0;
	engine_stream_decode(data[0] & 1, statuses[(data[0] >> 1) & 3], (const char *)data + 1,
			     size - 1, data[0] >> 3, &log, result, err, sizeof(err));
	if (strlen(result) >= sizeof(result))
		abort();
	return 0;
}
