/* HTTP edge of the registry catalog: repositories, tags, digests and the builds behind them.
 * A registry that cannot be reached is a 502, never an empty list. */
#ifndef FORJA_IMAGES_API_H
#define FORJA_IMAGES_API_H

#include <ulfius.h>

#include "app.h"

int images_api_list(const struct _u_request *req, struct _u_response *resp, struct app *app);

#endif
