/* Configuration values as flags: the input is split at newlines into arguments after argv[0],
 * and config_load reads them as it reads forja's command line. Inputs naming a file option are
 * skipped: the values would be paths opened for real (a FIFO or /dev/stdin blocks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = strndup((const char *)data, size), *argv[MAX_ARGS + 2], err[1024];
	int argc = 0;
	struct config cfg;

	if (!text || strstr(text, "file")) {
		free(text);
		return 0;
	}
	argv[argc++] = "forja";
	for (char *p = text, *end; p && argc <= MAX_ARGS; p = end) {
		end = strchr(p, '\n');
		if (end)
			*end++ = '\0';
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	memset(&cfg, 0, sizeof(cfg));
	config_load(&cfg, argc, argv, err, sizeof(err));
	config_free(&cfg);
	free(text);
	return 0;
}
