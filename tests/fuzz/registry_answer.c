/* A registry's catalog page: the input up to the first newline is the Link header, the rest
 * the JSON body. The names of two pages (this one twice) are appended as registry_catalog
 * does, so the second append runs on a grown array. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t hlen = nl ? (size_t)(nl - (const char *)data) : size;
	const char *body = nl ? nl + 1 : "";
	size_t blen = nl ? size - hlen - 1 : 0;
	char *link = strndup((const char *)data, hlen), next[2048];
	char **names = NULL;
	size_t n = 0;

	if (!link)
		return 0;
	if (!registry_link_next(link, next, sizeof(next)) && strlen(next) >= sizeof(next))
		abort();
	if (!registry_names_parse(body, blen, "repositories", &names, &n))
		registry_names_parse(body, blen, "repositories", &names, &n);
	registry_strings_free(names, n);
	names = NULL;
	n = 0;
	registry_names_parse(body, blen, "tags", &names, &n);
	registry_strings_free(names, n);
	free(link);
	return 0;
}
