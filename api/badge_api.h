/* HTTP edge of the README badge: the latest build of a service as an SVG, with ETag/304.
 * The hottest endpoint: one indexed lookup and a render, nothing else. */
#ifndef FORJA_BADGE_API_H
#define FORJA_BADGE_API_H

#include <ulfius.h>

#include "app.h"

int badge_api_get(const struct _u_request *req, struct _u_response *resp, struct app *app);

#endif
