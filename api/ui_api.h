/* HTTP edge of the dashboard: the pages people open in a browser (builds, one build, services,
 * images) and their shared stylesheet and script, all shipped in the binary. The pages are
 * static; their script reads the API (and GET /events) with the token the reader enters. */
#ifndef FORJA_UI_API_H
#define FORJA_UI_API_H

#include <ulfius.h>

#include "app.h"

int ui_api_root(const struct _u_request *req, struct _u_response *resp, struct app *app);
int ui_api_builds(const struct _u_request *req, struct _u_response *resp, struct app *app);
int ui_api_build(const struct _u_request *req, struct _u_response *resp, struct app *app);
int ui_api_services(const struct _u_request *req, struct _u_response *resp, struct app *app);
int ui_api_images(const struct _u_request *req, struct _u_response *resp, struct app *app);
int ui_api_asset(const struct _u_request *req, struct _u_response *resp, struct app *app);

#endif
