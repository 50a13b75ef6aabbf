/* The X-Hub-Signature-256 header against a body: the input up to the first newline is the
 * header, the rest the body. Every other input is also checked with its own correct signature,
 * which must verify: a mismatch there is a bug, reported as a crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhook.h"

static const char secret[] = "fuzz-secret";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nl = memchr(data, '\n', size);
	size_t hlen = nl ? (size_t)(nl - (const char *)data) : size;
	const char *body = nl ? nl + 1 : "";
	size_t blen = nl ? size - hlen - 1 : 0;
	char *header = strndup((const char *)data, hlen), good[80];

	if (!header)
		return 0;
	webhook_signature_verify(secret, body, blen, header);
	webhook_signature_verify("", body, blen, header);
	if (!webhook_signature_make(secret, body, blen, good, sizeof(good)) &&
	    webhook_signature_verify(secret, body, blen, good))
		abort();
	free(header);
	return 0;
}
