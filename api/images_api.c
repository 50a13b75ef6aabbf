/* GET /images: the registry catalog, each repository's tags with their manifest digests and the
 * Forja build that produced them. Bounded: a huge registry gives a truncated, labelled answer. */
#include "images_api.h"

#include <stdbool.h>
#include <stdlib.h>

#include "../src/errors.h"
#include "../src/log.h"
#include "problem.h"

/* One answer makes at most IMAGES_MAX_TAGS manifest requests to the registry. */
#define IMAGES_MAX_REPOSITORIES	 100
#define IMAGES_MAX_TAGS_PER_REPO 50
#define IMAGES_MAX_TAGS		 500
#define IMAGES_PAGE_SIZE	 100

struct images_ctx {
	struct app *app;
	int tags_left; /* manifest lookups still allowed in this answer */
	bool truncated;
	char err[256];
	int rc; /* first registry error that ends the answer */
};

static bool rc_is_peer(int rc)
{
	return rc != FORJA_ENOMEM && rc != FORJA_EINVAL;
}

/* One tag: its digest (null when it vanished meanwhile) and the build behind it. */
static json_t *tag_json(struct images_ctx *c, const char *repo, const char *tag)
{
	char digest[128] = "";
	int rc =
	    registry_manifest_digest(c->app->registry, repo, tag, digest, c->err, sizeof(c->err));
	if (rc != 0 && rc != FORJA_ENOTFOUND) {
		c->rc = rc;
		return NULL;
	}
	int64_t build_id = 0;
	if (rc == 0 && c->app->store)
		build_id = store_build_for_image(c->app->store, repo, tag, digest);
	json_t *t = json_pack("{s:s,s:o,s:o}", "tag", tag, "digest",
			      rc == 0 ? json_string(digest) : json_null(), "build_id",
			      build_id > 0 ? json_integer(build_id) : json_null());
	if (!t)
		c->rc = FORJA_ENOMEM;
	return t;
}

static json_t *repo_json(struct images_ctx *c, const char *repo)
{
	char **tags = NULL;
	size_t n = 0;
	json_t *out = NULL;
	int rc = registry_tags(c->app->registry, repo, &tags, &n, c->err, sizeof(c->err));
	if (rc == FORJA_ENOTFOUND) { /* deleted since the catalog was read */
		n = 0;
	} else if (rc != 0) {
		c->rc = rc;
		goto out;
	}
	json_t *arr = json_array();
	out = json_pack("{s:s,s:o,s:I}", "name", repo, "tags", arr, "tag_count", (json_int_t)n);
	if (!out) {
		c->rc = FORJA_ENOMEM;
		goto out;
	}
	bool cut = false;
	for (size_t i = 0; i < n; i++) {
		if (i >= IMAGES_MAX_TAGS_PER_REPO || c->tags_left <= 0) {
			cut = true;
			break;
		}
		json_t *t = tag_json(c, repo, tags[i]);
		if (!t) {
			json_decref(out);
			out = NULL;
			goto out;
		}
		json_array_append_new(arr, t);
		c->tags_left--;
	}
	json_object_set_new(out, "truncated", json_boolean(cut));
	c->truncated = c->truncated || cut;
out:
	registry_strings_free(tags, n);
	return out;
}

static json_t *limits_json(void)
{
	return json_pack("{s:i,s:i,s:i}", "repositories", IMAGES_MAX_REPOSITORIES,
			 "tags_per_repository", IMAGES_MAX_TAGS_PER_REPO, "tags", IMAGES_MAX_TAGS);
}

static int send_error(struct _u_response *resp, struct images_ctx *c)
{
	if (!rc_is_peer(c->rc))
		return problem_send(resp, 500, "listing the registry failed: %s",
				    errors_text(c->rc));
	log_warn("registry listing failed: %s", c->err);
	return problem_send(resp, 502, "the registry could not be listed: %s",
			    c->err[0] ? c->err : errors_text(c->rc));
}

int images_api_list(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	struct images_ctx c = {.app = app, .tags_left = IMAGES_MAX_TAGS};
	if (!app->registry)
		return problem_send(resp, 502, "no registry is configured");

	char **names = NULL;
	size_t n = 0;
	json_t *body = NULL;
	c.rc = registry_catalog(app->registry, IMAGES_PAGE_SIZE, &names, &n, c.err, sizeof(c.err));
	if (c.rc != 0) {
		names = NULL, n = 0;
		send_error(resp, &c);
		goto out;
	}
	json_t *repos = json_array();
	body = json_pack("{s:s?,s:o,s:I,s:o}", "registry", app->cfg ? app->cfg->registry : NULL,
			 "repositories", repos, "repository_count", (json_int_t)n, "limits",
			 limits_json());
	if (!body) {
		problem_send(resp, 500, "out of memory listing the registry");
		goto out;
	}
	for (size_t i = 0; i < n && i < IMAGES_MAX_REPOSITORIES; i++) {
		json_t *r = repo_json(&c, names[i]);
		if (!r) {
			send_error(resp, &c);
			goto out;
		}
		json_array_append_new(repos, r);
	}
	c.truncated = c.truncated || n > IMAGES_MAX_REPOSITORIES;
	json_object_set_new(body, "truncated", json_boolean(c.truncated));
	problem_send_json(resp, 200, body);
out:
	json_decref(body);
	registry_strings_free(names, n);
	return U_CALLBACK_COMPLETE;
}
