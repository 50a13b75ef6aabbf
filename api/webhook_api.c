#include "webhook_api.h"
#include "problem.h"
/* stub: answers 501 until implemented */
int api_webhook_receive(const struct _u_request *req, struct _u_response *resp, struct app *app) { return problem_send(resp, 501, "%s is not implemented yet", "api_webhook_receive"); }
