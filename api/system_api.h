/* HTTP edge of Forja itself: health of its dependencies, the OpenAPI document and the
 * Swagger UI shipped in the binary. */
#ifndef FORJA_SYSTEM_API_H
#define FORJA_SYSTEM_API_H

#include <ulfius.h>

#include "app.h"

int system_api_health(const struct _u_request *req, struct _u_response *resp, struct app *app);
int system_api_openapi(const struct _u_request *req, struct _u_response *resp, struct app *app);
int system_api_docs(const struct _u_request *req, struct _u_response *resp, struct app *app);
int system_api_docs_asset(const struct _u_request *req, struct _u_response *resp, struct app *app);

#endif
