/* GET /badge: the latest build's badge with a content-derived ETag, cached per history
 * generation (one indexed lookup, a render and a hash when the history changed). */
#include "badge_api.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/badge.h"
#include "../src/errors.h"
#include "../src/log.h"
#include "problem.h"

/* Camo (GitHub's image proxy) keeps a badge fresh only with no-cache plus a validator. */
#define BADGE_CACHE_CONTROL "no-cache, no-store, max-age=0, must-revalidate"

/* An empty query parameter means "not given". */
static const char *query_param(const struct _u_request *req, const char *name)
{
	const char *v = u_map_get(req->map_url, name);
	return (v && *v) ? v : NULL;
}

/* True when one entity tag of the If-None-Match list HEADER equals ETAG (weak comparison). */
static bool etag_matches(const char *header, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = header;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
			n--;
		if (n == elen && memcmp(p, etag, n) == 0)
			return true;
		if (!end)
			break;
		p = end + 1;
	}
	return false;
}

/* The badge and its ETag: from the cache while the history has not changed since it was kept,
 * else read and rendered (and kept). NULL *SVG on ENOMEM. */
static void badge_lookup(struct app *app, const char *service, const char *branch,
			 const char *label, char **svg, size_t *len, char etag[BADGE_ETAG_MAX])
{
	/* taken before the read: a change during it only makes the entry older than it is */
	uint64_t gen = store_generation(app->store);
	if (badge_cache_get(app->badges, gen, service, branch, label, svg, len, etag) == 0)
		return;
	struct build *b = NULL;
	int rc = store_build_latest(app->store, service, branch, &b);
	if (rc != 0 && rc != FORJA_ENOTFOUND) {
		/* The badge still answers: a README image must never break. */
		log_error("badge lookup failed: %s", errors_text(rc));
	}
	*svg = badge_render_build(rc == 0 ? b : NULL, label);
	build_free(b);
	if (!*svg)
		return;
	*len = strlen(*svg);
	snprintf(etag, BADGE_ETAG_MAX, "\"%016" PRIx64 "\"", badge_hash(*svg, *len));
	/* a failed read is not kept: the next request tries the history again */
	if (rc == 0 || rc == FORJA_ENOTFOUND)
		badge_cache_put(app->badges, gen, service, branch, label, *svg, *len, etag);
}

int badge_api_get(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	const char *label = query_param(req, "label");
	char *svg = NULL, etag[BADGE_ETAG_MAX];
	size_t len = 0;
	badge_lookup(app, query_param(req, "service"), query_param(req, "branch"), label, &svg,
		     &len, etag);
	if (!svg)
		return problem_send(resp, 500, "out of memory rendering the badge");

	const char *inm = u_map_get_case(req->map_header, "If-None-Match");
	if (inm && etag_matches(inm, etag)) {
		ulfius_set_empty_body_response(resp, 304);
	} else {
		ulfius_set_binary_body_response(resp, 200, svg, len);
		u_map_put(resp->map_header, "Content-Type", "image/svg+xml");
	}
	free(svg);
	u_map_put(resp->map_header, "ETag", etag);
	u_map_put(resp->map_header, "Cache-Control", BADGE_CACHE_CONTROL);
	u_map_put(resp->map_header, "Expires", "Thu, 01 Jan 1970 00:00:00 GMT");
	return U_CALLBACK_COMPLETE;
}
