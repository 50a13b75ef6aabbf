/* HTTP edge of /metrics: the Prometheus text exposition of Forja's counters.
 * Gauges (queue depth, running builds) are read at scrape time. */
#ifndef FORJA_METRICS_API_H
#define FORJA_METRICS_API_H

#include <ulfius.h>

#include "app.h"

int metrics_api_get(const struct _u_request *req, struct _u_response *resp, struct app *app);

#endif
