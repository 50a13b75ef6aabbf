/* The images manifest (images.json) of a repository, as manifest_plan_builds reads it. */
#include <jansson.h>
#include <stdint.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest_image *imgs = NULL;
	size_t n = 0;
	json_t *errors = json_array();

	if (!errors)
		return 0;
	manifest_parse((const char *)data, size, &imgs, &n, errors);
	manifest_images_free(imgs, n);
	json_decref(errors);
	return 0;
}
