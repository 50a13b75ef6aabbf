/* HTTP edge of the build history and queue: list, create, get, log (follow) and cancel.
 * Thin handlers: parse, validate (every problem at once), one core call, map to a status. */
#ifndef FORJA_BUILDS_API_H
#define FORJA_BUILDS_API_H

#include <ulfius.h>

#include "app.h"

int builds_api_list(const struct _u_request *req, struct _u_response *resp, struct app *app);
int builds_api_create(const struct _u_request *req, struct _u_response *resp, struct app *app);
int builds_api_get(const struct _u_request *req, struct _u_response *resp, struct app *app);
int builds_api_log(const struct _u_request *req, struct _u_response *resp, struct app *app);
int builds_api_rerun(const struct _u_request *req, struct _u_response *resp, struct app *app);
int builds_api_cancel(const struct _u_request *req, struct _u_response *resp, struct app *app);

#endif
