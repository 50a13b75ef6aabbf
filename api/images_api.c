#include "images_api.h"
#include "problem.h"
/* stub: answers 501 until implemented */
int api_images_list(const struct _u_request *req, struct _u_response *resp, struct app *app) { return problem_send(resp, 501, "%s is not implemented yet", "api_images_list"); }
