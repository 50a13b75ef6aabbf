/* HTTP edge of the build history and queue: list, create, get, log (follow) and cancel.
 * Thin handlers: parse, validate (every problem at once), one core call, map to a status. */
#ifndef FORJA_BUILDS_API_H
#define FORJA_BUILDS_API_H

#include <ulfius.h>

#include "app.h"

int api_builds_list(const struct _u_request *req, struct _u_response *resp, struct app *app);
int api_builds_create(const struct _u_request *req, struct _u_response *resp, struct app *app);
int api_builds_get(const struct _u_request *req, struct _u_response *resp, struct app *app);
int api_builds_log(const struct _u_request *req, struct _u_response *resp, struct app *app);
int api_builds_cancel(const struct _u_request *req, struct _u_response *resp, struct app *app);

#endif
