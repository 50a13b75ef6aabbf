/* The images manifest (images.json) of a repository, as manifest_plan_builds reads it: parsed,
 * then each entry's values checked by the builder and turned into an image reference. */
#include <jansson.h>
#include <stdint.h>

#include "builder.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest_image *imgs = NULL;
	size_t n = 0;
	json_t *errors = json_array();
	char ref[512];

	if (!errors)
		return 0;
	manifest_parse((const char *)data, size, &imgs, &n, errors);
	for (size_t i = 0; i < n; i++) {
		struct build_spec spec = {
		    .service = imgs[i].service,
		    .version = imgs[i].version,
		    .type = imgs[i].type,
		    .git_url = "https://github.com/o/r.git",
		    .ref = "0123456789abcdef0123456789abcdef01234567",
		    .context = imgs[i].context,
		    .dockerfile = imgs[i].dockerfile,
		    .build_args = imgs[i].build_args,
		};

		builder_validate(&spec, errors);
		if (imgs[i].service && imgs[i].version)
			builder_image_ref("127.0.0.1:5000", imgs[i].service, imgs[i].version, ref,
					  sizeof(ref));
	}
	manifest_images_free(imgs, n);
	json_decref(errors);
	return 0;
}
