/* A clone or ssh URL from a webhook payload (https://host/o/r.git, git@host:o/r.git) against
 * the hosts the GitHub client allows: the host is read through libcurl's URL parser after the
 * client's own scp-like rewriting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "github.h"

static struct github *client(void)
{
	static struct github *gh;
	const struct github_opts o = {.api_url = "https://api.github.com",
				      .allowed_hosts = "git.example.com, GHE.Example.org,,",
				      .timeout_s = 1};

	/* one client for the whole run: it starts a thread, and holds no per-input state */
	if (!gh && github_new(&o, &gh))
		abort();
	return gh;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = strndup((const char *)data, size);

	if (!url)
		return 0;
	github_url_allowed(client(), url);
	free(url);
	return 0;
}
