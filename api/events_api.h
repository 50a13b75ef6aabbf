/* GET /events: build events as a text/event-stream, resumable from Last-Event-ID. */
#ifndef FORJA_EVENTS_API_H
#define FORJA_EVENTS_API_H

#include <ulfius.h>

#include "app.h"

int events_api_stream(const struct _u_request *req, struct _u_response *resp, struct app *app);

#endif
