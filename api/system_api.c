#include "system_api.h"

#include <string.h>

#include "assets.h"
#include "problem.h"

static json_t *system_check(int ok, const char *detail)
{
	json_t *o = json_pack("{s:b}", "ok", ok);
	if (o && !ok)
		json_object_set_new(o, "detail", json_string(detail));
	return o;
}

/* {"engine","ok","slots","in_use","builds"[,"detail"]} for each of the N engines in ST; *UP
 * gets how many answer and *ALL whether every one does. */
static json_t *system_engines(const struct pool_state *st, size_t n, int *up, int *all)
{
	json_t *arr = json_array();
	*up = 0;
	for (size_t i = 0; i < n && arr; i++) {
		json_t *e = json_pack("{s:s, s:b, s:i, s:i, s:I}", "engine", st[i].host, "ok",
				      st[i].up, "slots", st[i].slots, "in_use", st[i].in_use,
				      "builds", (json_int_t)st[i].builds);
		if (e && !st[i].up)
			json_object_set_new(e, "detail", json_string(st[i].error));
		*up += st[i].up;
		json_array_append_new(arr, e);
	}
	*all = *up == (int)n;
	return arr;
}

/* "docker" is the first engine, as before pools: {"ok"[,"api_version"][,"detail"]}. */
static json_t *system_docker(const struct pool_state *first)
{
	json_t *docker = system_check(first->up, first->error);
	if (docker && first->up && first->api_version[0])
		json_object_set_new(docker, "api_version", json_string(first->api_version));
	return docker;
}

int system_api_health(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	struct pool_state st[POOL_MAX_ENGINES];
	char rerr[512] = "";
	int up = 0, all = 0, queued = 0, running = 0;
	json_t *body;
	int rc;

	/* every engine pinged now, so the answer is current (the schedule pings every 5 s); the
	 * first engine's answer is read from these states rather than asked for a second time */
	pool_refresh(app->pool);
	size_t n = pool_states(app->pool, st, POOL_MAX_ENGINES);
	json_t *engines = system_engines(st, n, &up, &all);
	int rok = registry_ping(app->registry, rerr, sizeof(rerr)) == 0;

	queue_stats(app->queue, &queued, &running);
	/* builds can run while one engine answers: only none (or no registry) is a 503 */
	int serving = up > 0 && rok;
	body = json_pack("{s:s, s:o, s:o, s:o, s:{s:i, s:i}}", "status",
			 serving && all ? "ok" : "degraded", "docker", system_docker(&st[0]),
			 "engines", engines, "registry", system_check(rok, rerr), "queue", "queued",
			 queued, "running", running);
	if (!body)
		return problem_send(resp, 500, "out of memory");
	rc = problem_send_json(resp, serving ? 200 : 503, body);
	u_map_put(resp->map_header, "Cache-Control", "no-store");
	json_decref(body);
	return rc;
}

static int system_send_asset(struct _u_response *resp, const char *name, const char *cache)
{
	struct asset a;
	if (assets_find(name, &a))
		return problem_send(resp, 404, "no such file: /docs/%s", name);
	ulfius_set_binary_body_response(resp, 200, (const char *)a.data, a.len);
	u_map_put(resp->map_header, "Content-Type", a.content_type);
	u_map_put(resp->map_header, "Cache-Control", cache);
	return U_CALLBACK_COMPLETE;
}

int system_api_openapi(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	return system_send_asset(resp, "openapi.json", "no-cache");
}

int system_api_docs(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	return system_send_asset(resp, "docs.html", "no-cache");
}

int system_api_docs_asset(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	const char *name = u_map_get(req->map_url, "asset");
	/* only the Swagger UI files are served here; the document has its own path */
	if (!name || !strcmp(name, "openapi.json") || !strcmp(name, "docs.html"))
		return problem_send(resp, 404, "no such file: /docs/%s", name ? name : "");
	return system_send_asset(resp, name, "public, max-age=86400");
}
