/* GET /metrics: gauges read from the queue at scrape time, counters from struct metrics. */
#include "metrics_api.h"

#include <stdlib.h>

#include "problem.h"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

int metrics_api_get(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	int queued = 0, running = 0;
	if (app->queue)
		queue_stats(app->queue, &queued, &running);
	if (!app->metrics)
		return problem_send(resp, 503, "metrics are not enabled");
	struct pool_state engines[POOL_MAX_ENGINES];
	size_t n = app->pool ? pool_states(app->pool, engines, POOL_MAX_ENGINES) : 0;
	char *text = metrics_render(app->metrics, queued, running, engines,
				    n < POOL_MAX_ENGINES ? n : POOL_MAX_ENGINES);
	if (!text)
		return problem_send(resp, 500, "out of memory rendering the metrics");
	ulfius_set_string_body_response(resp, 200, text);
	free(text);
	u_map_put(resp->map_header, "Content-Type", METRICS_CONTENT_TYPE);
	u_map_put(resp->map_header, "Cache-Control", "no-store");
	return U_CALLBACK_COMPLETE;
}
