/* HTTP edge of the GitHub webhook (/ciserver/updates): size, content type, signature,
 * idempotency, then the core turns a merged pull request into queued builds. */
#ifndef FORJA_WEBHOOK_API_H
#define FORJA_WEBHOOK_API_H

#include <ulfius.h>

#include "app.h"

int webhook_api_receive(const struct _u_request *req, struct _u_response *resp, struct app *app);

#endif
