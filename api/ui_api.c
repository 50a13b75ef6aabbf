#include "ui_api.h"

#include <string.h>

#include "assets.h"
#include "problem.h"

/* Everything the pages load comes from this server, and nothing runs inline: an injected
 * build field (a service name, an error) can never become script. */
#define UI_CSP                                                                                     \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                \
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static int send_page(struct _u_response *resp, const char *name, const char *cache)
{
	struct asset a;
	if (assets_find(name, &a))
		return problem_send(resp, 404, "no such file: /ui/assets/%s", name);
	ulfius_set_binary_body_response(resp, 200, (const char *)a.data, a.len);
	u_map_put(resp->map_header, "Content-Type", a.content_type);
	u_map_put(resp->map_header, "Cache-Control", cache);
	u_map_put(resp->map_header, "Content-Security-Policy", UI_CSP);
	u_map_put(resp->map_header, "X-Content-Type-Options", "nosniff");
	u_map_put(resp->map_header, "Referrer-Policy", "same-origin");
	return U_CALLBACK_COMPLETE;
}

int ui_api_root(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	/* 303: whatever the method was, the browser follows with a GET */
	ulfius_set_string_body_response(resp, 303, "See /ui/builds\n");
	u_map_put(resp->map_header, "Location", "/ui/builds");
	u_map_put(resp->map_header, "Content-Type", "text/plain; charset=utf-8");
	return U_CALLBACK_COMPLETE;
}

int ui_api_builds(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	return send_page(resp, "ui-builds.html", "no-cache");
}

int ui_api_build(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	/* one page for every id: the script reads the id from the path and asks the API */
	return send_page(resp, "ui-build.html", "no-cache");
}

int ui_api_services(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	return send_page(resp, "ui-services.html", "no-cache");
}

int ui_api_images(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	return send_page(resp, "ui-images.html", "no-cache");
}

int ui_api_asset(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	const char *name = u_map_get(req->map_url, "asset");
	/* only the two shared files: the pages have their own paths, the rest belongs to /docs */
	if (!name || (strcmp(name, "ui.css") && strcmp(name, "ui.js")))
		return problem_send(resp, 404, "no such file: /ui/assets/%s", name ? name : "");
	/* no-cache: the binary can change under the same name, and revalidating is cheap */
	return send_page(resp, name, "no-cache");
}
