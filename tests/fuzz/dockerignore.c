/* A repository's .dockerignore: the input up to the first NUL byte is the file, what follows
 * is a list of newline-separated paths matched against it (or a few fixed ones without). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dockerignore.h"

static void match(const struct dockerignore *di, const char *path)
{
	if (dockerignore_excluded(di, path))
		dockerignore_skip_dir(di, path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const fixed[] = {"Dockerfile", "a/b/c.txt",	 ".git/config",
					    "docs/x.md",  "./a//b/../c", ""};
	const char *nul = memchr(data, '\0', size);
	size_t tlen = nul ? (size_t)(nul - (const char *)data) : size;
	struct dockerignore *di = NULL;
	char err[512], *paths = NULL;

	if (dockerignore_parse((const char *)data, tlen, &di, err, sizeof(err)))
		return 0;
	if (!nul) {
		for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
			match(di, fixed[i]);
		goto out;
	}
	paths = strndup(nul + 1, size - tlen - 1);
	if (!paths)
		goto out;
	for (char *p = paths, *end; p; p = end) {
		end = strchr(p, '\n');
		if (end)
			*end++ = '\0';
		match(di, p);
	}
out:
	free(paths);
	dockerignore_free(di);
	return 0;
}
