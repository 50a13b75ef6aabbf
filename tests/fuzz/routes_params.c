/* Request parameters through the OpenAPI route layer: the real document binds the real table,
 * and the checks that run before a handler (body cap, tokens, every declared parameter) see a
 * request made from the input. The first byte picks the operation, the second the body length
 * (in KiB); then one parameter a line: "h" + name=value for a header, anything else + name=value
 * for a path or query parameter (ulfius keeps both in map_url). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ulfius.h>

#include "app.h"
#include "assets.h"
#include "errors.h"
#include "metrics.h"
#include "routes.h"

static struct routes *routes;
static struct app app;
static struct config cfg;
static size_t nops;

static void setup(void)
{
	struct asset doc;
	char err[512];

	if (assets_find("openapi.json", &doc) ||
	    routes_build((const char *)doc.data, doc.len, routes_table, &routes, err,
			 sizeof(err)) ||
	    metrics_new(&app.metrics))
		abort();
	cfg.api_token = "api-token";
	cfg.read_token = "read-token";
	cfg.max_body_bytes = 4096;
	cfg.webhook_max_bytes = 65536;
	app.cfg = &cfg;
	while (routes_table[nops].operation_id)
		nops++;
}

static void add_param(struct _u_request *req, char *line)
{
	bool header = line[0] == 'h';
	char *name, *eq;

	if (!line[0])
		return;
	name = line + 1;
	eq = strchr(name, '=');
	if (!eq)
		return;
	*eq = '\0';
	u_map_put(header ? req->map_header : req->map_url, name, eq + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct _u_request req;
	struct _u_response resp;
	char *text;

	if (!routes)
		setup();
	if (size < 2)
		return 0;
	text = strndup((const char *)data + 2, size - 2);
	if (!text)
		return 0;
	ulfius_init_request(&req);
	ulfius_init_response(&resp);
	req.binary_body_length = (size_t)data[1] * 1024;
	for (char *p = text, *end; p; p = end) {
		end = strchr(p, '\n');
		if (end)
			*end++ = '\0';
		add_param(&req, p);
	}
	if (routes_check_request(routes, routes_table[data[0] % nops].operation_id, &req, &resp,
				 &app) == FORJA_ENOTFOUND)
		abort();
	ulfius_clean_response(&resp);
	ulfius_clean_request(&req);
	free(text);
	return 0;
}
