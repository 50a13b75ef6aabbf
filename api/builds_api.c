#include "builds_api.h"
#include "problem.h"
/* stub: answers 501 until implemented */
int api_builds_list(const struct _u_request *req, struct _u_response *resp, struct app *app) { return problem_send(resp, 501, "%s is not implemented yet", "api_builds_list"); }
int api_builds_create(const struct _u_request *req, struct _u_response *resp, struct app *app) { return problem_send(resp, 501, "%s is not implemented yet", "api_builds_create"); }
int api_builds_get(const struct _u_request *req, struct _u_response *resp, struct app *app) { return problem_send(resp, 501, "%s is not implemented yet", "api_builds_get"); }
int api_builds_log(const struct _u_request *req, struct _u_response *resp, struct app *app) { return problem_send(resp, 501, "%s is not implemented yet", "api_builds_log"); }
int api_builds_cancel(const struct _u_request *req, struct _u_response *resp, struct app *app) { return problem_send(resp, 501, "%s is not implemented yet", "api_builds_cancel"); }
