/* Registry v2 HTTP API client: catalog pages, tag lists and manifest digests over libcurl.
 * One handle is reused under a lock, so repeated short calls keep their connection. */
#include "registry.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "errors.h"
#include "log.h"

#define BODY_MAX      (8 * 1024 * 1024) /* one catalog page or tag list */
#define CATALOG_PAGES 10000		/* guards against a registry that links in a loop */
#define CATALOG_NAMES 1000000

/* OCI first, then docker v2 and lists: without Accept, registry 2.8 converts to schema1 and
 * reports a digest the engine never pushed. */
static const char *const MANIFEST_ACCEPT =
    "Accept: application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.oci.image.index.v1+json";

struct registry {
	char *url; /* base, no trailing slash */
	char *username;
	char *password;
	char *ca_file;
	long timeout_s;
	pthread_mutex_t mu;
	CURL *h; /* guarded by mu */
};

struct resp {
	struct dynbuf body; /* capped at BODY_MAX: body.failed says it was cut */
	char next[2048];    /* Link rel="next" target */
	char digest[128];   /* Docker-Content-Digest */
	long status;
};

static char *copy_str(const char *s)
{
	return s ? strdup(s) : NULL;
}

int registry_new(const struct registry_opts *opts, struct registry **out)
{
	struct registry *r;
	size_t n;

	*out = NULL;
	if (!opts || !opts->url ||
	    (strncmp(opts->url, "http://", 7) && strncmp(opts->url, "https://", 8)))
		return FORJA_EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return FORJA_ENOMEM;
	pthread_mutex_init(&r->mu, NULL);
	r->url = strdup(opts->url);
	r->username = copy_str(opts->username);
	r->password = copy_str(opts->password);
	r->ca_file = copy_str(opts->ca_file);
	r->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 30;
	r->h = curl_easy_init();
	if (!r->url || !r->h || (opts->username && !r->username) ||
	    (opts->password && !r->password) || (opts->ca_file && !r->ca_file)) {
		registry_free(r);
		return FORJA_ENOMEM;
	}
	n = strlen(r->url);
	while (n && r->url[n - 1] == '/')
		r->url[--n] = '\0';
	*out = r;
	return 0;
}

void registry_free(struct registry *r)
{
	if (!r)
		return;
	if (r->h)
		curl_easy_cleanup(r->h);
	pthread_mutex_destroy(&r->mu);
	free(r->url);
	free(r->username);
	if (r->password) {
		memset(r->password, 0, strlen(r->password));
		free(r->password);
	}
	free(r->ca_file);
	free(r);
}

void registry_strings_free(char **arr, size_t n)
{
	if (!arr)
		return;
	for (size_t i = 0; i < n; i++)
		free(arr[i]);
	free(arr);
}

/* Reads on past the cap (the status still matters) but keeps only BODY_MAX bytes. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct resp *r = ud;
	size_t n = size * nmemb;

	if (r->body.failed == FORJA_ETOOBIG)
		return n;
	if (dynbuf_add(&r->body, data, n) && r->body.failed != FORJA_ETOOBIG)
		return 0;
	return n;
}

int registry_link_next(const char *value, char *out, size_t outlen)
{
	const char *lt = strchr(value, '<'), *gt = lt ? strchr(lt, '>') : NULL;

	if (outlen)
		out[0] = '\0';
	if (!lt || !gt || !strstr(gt, "rel=\"next\"") || (size_t)(gt - lt - 1) >= outlen)
		return FORJA_ENOTFOUND;
	memcpy(out, lt + 1, (size_t)(gt - lt - 1));
	out[gt - lt - 1] = '\0';
	return 0;
}

/* The headers this client reads, from the final response only (libcurl keeps 1xx and
 * redirect blocks apart); a value too long for its field is left out. */
static void read_headers(CURL *h, struct resp *r)
{
	struct curl_header *hdr = NULL;
	size_t count = 0;

	r->next[0] = '\0';
	r->digest[0] = '\0';
	if (curl_easy_header(h, "Link", 0, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
		count = hdr->amount;
	for (size_t i = 0; i < count && !r->next[0]; i++) {
		if (curl_easy_header(h, "Link", i, CURLH_HEADER, -1, &hdr) == CURLHE_OK)
			registry_link_next(hdr->value, r->next, sizeof(r->next));
	}
	if (curl_easy_header(h, "Docker-Content-Digest", 0, CURLH_HEADER, -1, &hdr) != CURLHE_OK)
		return;
	if (strlen(hdr->value) < sizeof(r->digest))
		memcpy(r->digest, hdr->value, strlen(hdr->value) + 1);
}

/* The first errors[].message of a registry error body, or the status. */
static void describe(const struct resp *resp, const char *what, char *err, size_t errlen)
{
	json_t *j = resp->body.len ? json_loads(resp->body.buf, 0, NULL) : NULL;
	const char *msg = json_string_value(
	    json_object_get(json_array_get(json_object_get(j, "errors"), 0), "message"));

	snprintf(err, errlen, "registry %s: HTTP %ld%s%s", what, resp->status, msg ? ": " : "",
		 msg ? msg : "");
	json_decref(j);
}

/* One request on the shared handle. PATH starts with "/v2/". */
static int request(struct registry *r, const char *method, const char *path, const char *accept,
		   struct resp *resp, char *err, size_t errlen)
{
	char curlerr[CURL_ERROR_SIZE] = "", *url;
	struct curl_slist *hdrs = NULL;
	size_t n = strlen(r->url) + strlen(path) + 1;
	CURLcode rc;

	url = malloc(n);
	if (!url)
		return FORJA_ENOMEM;
	snprintf(url, n, "%s%s", r->url, path);
	if (accept && !(hdrs = curl_slist_append(NULL, accept))) {
		free(url);
		return FORJA_ENOMEM;
	}
	pthread_mutex_lock(&r->mu);
	curl_easy_reset(r->h);
	curl_easy_setopt(r->h, CURLOPT_URL, url);
	curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->h, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(r->h, CURLOPT_TIMEOUT, r->timeout_s);
	curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT, r->timeout_s < 10 ? r->timeout_s : 10L);
	curl_easy_setopt(r->h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(r->h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->h, CURLOPT_WRITEDATA, resp);
	if (r->ca_file)
		curl_easy_setopt(r->h, CURLOPT_CAINFO, r->ca_file);
	if (r->username) {
		curl_easy_setopt(r->h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(r->h, CURLOPT_USERNAME, r->username);
		curl_easy_setopt(r->h, CURLOPT_PASSWORD, r->password ? r->password : "");
	}
	rc = curl_easy_perform(r->h);
	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (rc == CURLE_OK)
		read_headers(r->h, resp);
	/* the handle keeps the connection; drop the credentials it was given */
	curl_easy_setopt(r->h, CURLOPT_PASSWORD, "");
	pthread_mutex_unlock(&r->mu);
	curl_slist_free_all(hdrs);
	free(url);
	if (rc != CURLE_OK) {
		snprintf(err, errlen, "registry not reachable at %s: %s", r->url,
			 curlerr[0] ? curlerr : curl_easy_strerror(rc));
		return rc == CURLE_OPERATION_TIMEDOUT ? FORJA_ETIMEDOUT : FORJA_EUNAVAILABLE;
	}
	if (resp->body.failed == FORJA_ETOOBIG) {
		snprintf(err, errlen, "registry answer over %d bytes", BODY_MAX);
		return FORJA_ETOOBIG;
	}
	if (resp->status == 401 || resp->status == 403) {
		describe(resp, "refused the credentials", err, errlen);
		return FORJA_EAUTH;
	}
	return 0;
}

static void resp_free(struct resp *resp)
{
	dynbuf_free(&resp->body);
	memset(resp, 0, sizeof(*resp));
}

int registry_ping(struct registry *r, char *err, size_t errlen)
{
	struct resp resp = {.body = {.max = BODY_MAX}};
	int rc = request(r, "GET", "/v2/", NULL, &resp, err, errlen);

	if (!rc && resp.status != 200) {
		describe(&resp, "answered /v2/", err, errlen);
		rc = FORJA_EUPSTREAM;
	}
	resp_free(&resp);
	return rc;
}

/* Repository names and tags only use [a-z0-9._/-] and [A-Za-z0-9_.-]: nothing to escape, and
 * anything else is refused rather than sent into a URL path. */
static bool name_ok(const char *s, bool tag)
{
	if (!s || !*s || strlen(s) > 256 || strstr(s, ".."))
		return false;
	for (const char *p = s; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
			  c == '_' || c == '-';

		if (tag)
			ok = ok || (c >= 'A' && c <= 'Z') || c == ':';
		else
			ok = ok || c == '/';
		if (!ok)
			return false;
	}
	return true;
}

int registry_names_parse(const char *body, size_t len, const char *key, char ***names, size_t *n)
{
	json_t *j = len ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *arr = json_object_get(j, key), *v;
	size_t i, count = 0, added = 0;
	char **grown;
	int rc = 0;

	if (!json_is_object(j)) {
		rc = FORJA_EUPSTREAM;
		goto out;
	}
	json_array_foreach(arr, i, v) count += json_is_string(v) ? 1 : 0;
	if (!count)
		goto out;
	if (count > CATALOG_NAMES || *n > CATALOG_NAMES - count) {
		rc = FORJA_ETOOBIG;
		goto out;
	}
	grown = realloc(*names, (*n + count) * sizeof(*grown));
	if (!grown) {
		rc = FORJA_ENOMEM;
		goto out;
	}
	*names = grown;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v))
			continue;
		grown[*n + added] = strdup(json_string_value(v));
		if (!grown[*n + added]) {
			rc = FORJA_ENOMEM;
			break;
		}
		added++;
	}
	if (rc) {
		for (i = 0; i < added; i++)
			free(grown[*n + i]);
		goto out;
	}
	*n += added;
out:
	json_decref(j);
	return rc;
}

static int fetch_page(struct registry *r, const char *path, char ***names, size_t *n, char *next,
		      size_t nextlen, char *err, size_t errlen)
{
	struct resp resp = {.body = {.max = BODY_MAX}};
	int rc = request(r, "GET", path, NULL, &resp, err, errlen);

	if (rc)
		goto out;
	if (resp.status != 200) {
		describe(&resp, "catalog", err, errlen);
		rc = FORJA_EUPSTREAM;
		goto out;
	}
	rc = registry_names_parse(resp.body.buf, resp.body.len, "repositories", names, n);
	if (rc == FORJA_EUPSTREAM)
		snprintf(err, errlen, "registry catalog: answer is not a JSON object");
	else if (rc == FORJA_ETOOBIG)
		snprintf(err, errlen, "registry catalog: more than %d names", CATALOG_NAMES);
	/* Link targets are relative to the registry; anything else is not followed */
	if (!rc && resp.next[0] == '/' && !strncmp(resp.next, "/v2/_catalog", 12))
		snprintf(next, nextlen, "%s", resp.next);
	else
		next[0] = '\0';
out:
	resp_free(&resp);
	return rc;
}

int registry_catalog(struct registry *r, int page_size, char ***names, size_t *n, char *err,
		     size_t errlen)
{
	char **v = NULL;
	size_t count = 0;
	char path[2048];
	int rc = 0;

	*names = NULL;
	*n = 0;
	if (page_size > 0)
		snprintf(path, sizeof(path), "/v2/_catalog?n=%d", page_size);
	else
		snprintf(path, sizeof(path), "/v2/_catalog");
	for (int page = 0; path[0]; page++) {
		char next[2048];

		if (page >= CATALOG_PAGES) {
			snprintf(err, errlen, "registry catalog: more than %d pages",
				 CATALOG_PAGES);
			rc = FORJA_ETOOBIG;
			break;
		}
		rc = fetch_page(r, path, &v, &count, next, sizeof(next), err, errlen);
		if (rc)
			break;
		snprintf(path, sizeof(path), "%s", next);
	}
	if (rc) {
		registry_strings_free(v, count);
		return rc;
	}
	*names = v;
	*n = count;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int registry_tags(struct registry *r, const char *name, char ***tags, size_t *n, char *err,
		  size_t errlen)
{
	struct resp resp = {.body = {.max = BODY_MAX}};
	char **v = NULL;
	size_t count = 0;
	char path[512];
	int rc;

	*tags = NULL;
	*n = 0;
	if (!name_ok(name, false)) {
		snprintf(err, errlen, "invalid repository name");
		return FORJA_EINVAL;
	}
	snprintf(path, sizeof(path), "/v2/%s/tags/list", name);
	rc = request(r, "GET", path, NULL, &resp, err, errlen);
	if (rc)
		goto out;
	if (resp.status == 404) {
		snprintf(err, errlen, "repository '%s' not found in the registry", name);
		rc = FORJA_ENOTFOUND;
		goto out;
	}
	if (resp.status != 200) {
		describe(&resp, "tags", err, errlen);
		rc = FORJA_EUPSTREAM;
		goto out;
	}
	/* "tags": null once every tag was deleted */
	rc = registry_names_parse(resp.body.buf, resp.body.len, "tags", &v, &count);
	if (rc == FORJA_EUPSTREAM)
		snprintf(err, errlen, "registry tags: answer is not a JSON object");
	if (rc)
		goto out;
	if (count > 1)
		qsort(v, count, sizeof(*v), cmp_str);
	*tags = v;
	*n = count;
	v = NULL;
	count = 0;
out:
	registry_strings_free(v, count);
	resp_free(&resp);
	return rc;
}

int registry_manifest_digest(struct registry *r, const char *name, const char *tag, char *digest,
			     char *err, size_t errlen)
{
	struct resp resp = {.body = {.max = BODY_MAX}};
	char path[1024];
	int rc;

	digest[0] = '\0';
	if (!name_ok(name, false) || !name_ok(tag, true)) {
		snprintf(err, errlen, "invalid repository name or tag");
		return FORJA_EINVAL;
	}
	snprintf(path, sizeof(path), "/v2/%s/manifests/%s", name, tag);
	rc = request(r, "HEAD", path, MANIFEST_ACCEPT, &resp, err, errlen);
	if (rc)
		goto out;
	if (resp.status == 404) {
		snprintf(err, errlen, "%s:%s not found in the registry", name, tag);
		rc = FORJA_ENOTFOUND;
	} else if (resp.status != 200) {
		describe(&resp, "manifest", err, errlen);
		rc = FORJA_EUPSTREAM;
	} else if (strncmp(resp.digest, "sha256:", 7) || strlen(resp.digest) >= 80) {
		snprintf(err, errlen, "registry sent no usable Docker-Content-Digest for %s:%s",
			 name, tag);
		rc = FORJA_EUPSTREAM;
	} else {
		/* length checked above: it fits the caller's 80 bytes */
		memcpy(digest, resp.digest, strlen(resp.digest) + 1);
	}
out:
	resp_free(&resp);
	return rc;
}
