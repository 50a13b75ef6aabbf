/* A GitHub contents answer, the way github_file_get receives it and manifest_plan_builds uses
 * it: the first byte picks the status (bits 0-1) and the size of the pieces libcurl hands over
 * (the rest), the remainder is the body, fed through the client's capped buffer; a 200 body is
 * then read as the manifest. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "github.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 404, 403, 502};
	struct dynbuf b;
	char *body = NULL, err[256];
	size_t len = 0, chunk;
	struct manifest_image *imgs = NULL;
	size_t n = 0;
	json_t *errors = NULL;

	if (!size)
		return 0;
	chunk = data[0] >> 2 ? data[0] >> 2 : size;
	dynbuf_init(&b, MANIFEST_MAX_BYTES);
	for (size_t off = 1; off < size; off += chunk) {
		size_t piece = size - off < chunk ? size - off : chunk;

		if (dynbuf_write_cb((char *)data + off, 1, piece, &b) != piece)
			break;
	}
	if (github_file_answer(statuses[data[0] & 3], &b, "images.json", &body, &len, err,
			       sizeof(err)))
		goto out;
	if (len != size - 1 || memcmp(body, data + 1, len) || body[len])
		abort();
	errors = json_array();
	if (errors)
		manifest_parse(body, len, &imgs, &n, errors);
out:
	manifest_images_free(imgs, n);
	json_decref(errors);
	free(body);
	dynbuf_free(&b);
	return 0;
}
