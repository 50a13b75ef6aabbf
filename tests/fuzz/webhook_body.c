/* A webhook delivery's body as webhook_api reads it: the first byte picks the Content-Type
 * (odd: form-encoded with a payload= field, even: JSON), the rest is the body; then the depth
 * check, the JSON decoding, the pull_request fields and the build decision. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "errors.h"
#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body;
	char *form = NULL, reason[256];
	size_t len;
	json_t *payload = NULL, *errors = NULL;
	struct webhook_pr pr;

	if (!size)
		return 0;
	body = (const char *)data + 1;
	len = size - 1;
	if (data[0] & 1) {
		if (webhook_form_payload(body, len, &form, &len))
			goto out;
		body = form;
	}
	if (!len || !webhook_json_depth_ok(body, len, WEBHOOK_MAX_JSON_DEPTH))
		goto out;
	payload = json_loadb(body, len, 0, NULL);
	errors = json_array();
	if (!json_is_object(payload) || !errors)
		goto out;
	if (!webhook_pr_parse(payload, &pr, errors))
		webhook_pr_builds(&pr, "main", reason, sizeof(reason));
out:
	json_decref(errors);
	json_decref(payload);
	free(form);
	return 0;
}
