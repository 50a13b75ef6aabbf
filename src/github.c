/* GitHub REST client over libcurl: contents at a commit, host allow-list, and commit statuses
 * posted in order by one background thread fed through a bounded queue. */
#include "github.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "deadline.h"
#include "dynbuf.h"
#include "errors.h"
#include "log.h"

#define GITHUB_MAX_FILE	    ((size_t)1024 * 1024)
#define GITHUB_STATUS_QUEUE 1024
#define GITHUB_DRAIN_MS	    2000
#define GITHUB_MAX_HOSTS    32

struct status_job {
	char *url;  /* {api}/repos/{full_name}/statuses/{sha} */
	char *body; /* JSON */
};

struct github {
	char *api_url; /* without a trailing slash */
	char *token;
	char *public_url;
	long timeout_s;
	char *hosts[GITHUB_MAX_HOSTS]; /* lowercase hosts URLs may point at */
	size_t nhosts;

	pthread_mutex_t lock;
	pthread_cond_t cond;	/* jobs arrived, or stop */
	pthread_cond_t drained; /* the queue became empty */
	struct status_job jobs[GITHUB_STATUS_QUEUE];
	size_t head, count;
	bool busy;		 /* the thread is posting one */
	bool stopping;		 /* no new jobs; leave when empty */
	atomic_bool abort_posts; /* the drain time is over: abandon the current post */
	bool thread_started;
	pthread_t thread;

	/* connections, DNS and TLS sessions reused across requests and threads */
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
};

static void job_free(struct status_job *j)
{
	free(j->url);
	free(j->body);
	j->url = NULL;
	j->body = NULL;
}

/* Lowercase host of URL through libcurl's parser; scp-like git@host:path is read as ssh. */
static char *url_host(const char *url)
{
	char *host = NULL, *part = NULL, *fixed = NULL;
	CURLU *u = curl_url();
	if (!u || !url)
		goto out;
	const char *colon = strchr(url, ':');
	const char *slash = strchr(url, '/');
	if (colon && !strstr(url, "://") && (!slash || colon < slash)) {
		/* user@host:path (no scheme): rewrite as ssh://user@host/path for the parser. */
		size_t hl = (size_t)(colon - url), len = strlen(url) + 16;
		fixed = malloc(len);
		if (!fixed)
			goto out;
		snprintf(fixed, len, "ssh://%.*s/%s", (int)hl, url, colon + 1);
		url = fixed;
	}
	if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_HOST, &part, 0) != CURLUE_OK || !part || !*part)
		goto out;
	host = strdup(part);
	for (char *p = host; p && *p; p++)
		*p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
out:
	curl_free(part);
	curl_url_cleanup(u);
	free(fixed);
	return host;
}

static int host_add(struct github *gh, const char *host, size_t len)
{
	while (len && (*host == ' ' || *host == '\t')) {
		host++;
		len--;
	}
	while (len && (host[len - 1] == ' ' || host[len - 1] == '\t'))
		len--;
	if (len == 0 || gh->nhosts >= GITHUB_MAX_HOSTS)
		return 0;
	char *h = strndup(host, len);
	if (!h)
		return FORJA_ENOMEM;
	for (char *p = h; *p; p++)
		*p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
	gh->hosts[gh->nhosts++] = h;
	return 0;
}

/* The API host, its web host (api.github.com -> github.com; GHE keeps its host) and the list. */
static int hosts_init(struct github *gh, const char *allowed)
{
	char *api = url_host(gh->api_url);
	if (!api)
		return FORJA_EINVAL;
	int rc = host_add(gh, api, strlen(api));
	if (!rc && strncmp(api, "api.", 4) == 0)
		rc = host_add(gh, api + 4, strlen(api) - 4);
	free(api);
	for (const char *p = allowed; !rc && p && *p;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		rc = host_add(gh, p, len);
		p = comma ? comma + 1 : p + len;
	}
	return rc;
}

bool github_url_allowed(const struct github *gh, const char *url)
{
	if (!gh || !url)
		return false;
	char *host = url_host(url);
	bool ok = false;
	for (size_t i = 0; host && i < gh->nhosts && !ok; i++)
		ok = strcmp(host, gh->hosts[i]) == 0;
	free(host);
	return ok;
}

static int abort_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct github *gh = ud;
	return atomic_load(&gh->abort_posts) ? 1 : 0;
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
	struct github *gh = ud;
	pthread_mutex_lock(&gh->share_locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *ud)
{
	struct github *gh = ud;
	pthread_mutex_unlock(&gh->share_locks[data]);
}

/* Every delivery reads GitHub: without this each one paid a new TCP and TLS handshake. */
static int share_init(struct github *gh)
{
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&gh->share_locks[i], NULL);
	gh->share = curl_share_init();
	if (!gh->share)
		return FORJA_ENOMEM;
	curl_share_setopt(gh->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(gh->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(gh->share, CURLSHOPT_USERDATA, gh);
	curl_share_setopt(gh->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(gh->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(gh->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return 0;
}

/* A curl handle with the headers GitHub wants; *HDRS owned by the caller. */
static CURL *request_new(struct github *gh, const char *url, const char *accept,
			 struct curl_slist **hdrs)
{
	char line[1024];
	CURL *c = curl_easy_init();
	if (!c)
		return NULL;
	*hdrs = NULL;
	snprintf(line, sizeof(line), "Accept: %s", accept);
	*hdrs = curl_slist_append(*hdrs, line);
	*hdrs = curl_slist_append(*hdrs, "X-GitHub-Api-Version: 2022-11-28");
	if (gh->token) {
		snprintf(line, sizeof(line), "Authorization: Bearer %s", gh->token);
		*hdrs = curl_slist_append(*hdrs, line);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "forja/" FORJA_VERSION);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, gh->timeout_s);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, gh->timeout_s);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SHARE, gh->share);
	return c;
}

/* "seg%2Fseg" must not happen: escape each path segment, keep the slashes. */
static int path_escape(const char *path, char *out, size_t outlen)
{
	size_t used = 0;
	out[0] = '\0';
	for (const char *p = path; *p;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		char *esc = curl_easy_escape(NULL, p, (int)len);
		if (!esc)
			return FORJA_ENOMEM;
		int w = snprintf(out + used, outlen - used, "%s%s", esc, slash ? "/" : "");
		curl_free(esc);
		if (w < 0 || (size_t)w >= outlen - used)
			return FORJA_ETOOBIG;
		used += (size_t)w;
		p = slash ? slash + 1 : p + len;
	}
	return 0;
}

int github_file_answer(long status, struct dynbuf *b, const char *path, char **body, size_t *len,
		       char *err, size_t errlen)
{
	*body = NULL;
	*len = 0;
	if (b->failed == FORJA_ETOOBIG) {
		snprintf(err, errlen, "%s is larger than %zu bytes", path, GITHUB_MAX_FILE);
		return FORJA_ETOOBIG;
	}
	if (status == 200) {
		*len = b->len;
		*body = dynbuf_take(b);
		return *body ? 0 : FORJA_ENOMEM;
	}
	if (status == 404) {
		snprintf(err, errlen, "%s not found", path);
		return FORJA_ENOTFOUND;
	}
	snprintf(err, errlen, "GitHub answered %ld for %s", status, path);
	return status == 401 || status == 403 ? FORJA_EAUTH : FORJA_EUPSTREAM;
}

int github_file_get(struct github *gh, const char *full_name, const char *path, const char *ref,
		    char **body, size_t *len, char *err, size_t errlen)
{
	return github_file_get_by(gh, full_name, path, ref, 0, body, len, err, errlen);
}

int github_file_get_by(struct github *gh, const char *full_name, const char *path, const char *ref,
		       int64_t deadline_ms, char **body, size_t *len, char *err, size_t errlen)
{
	char epath[1024], url[2048];
	struct curl_slist *hdrs = NULL;
	struct dynbuf b;
	long status = 0;
	int rc;
	*body = NULL;
	*len = 0;
	dynbuf_init(&b, GITHUB_MAX_FILE);
	if (!gh || !full_name || !path || !ref) {
		snprintf(err, errlen, "no GitHub client");
		return FORJA_EINVAL;
	}
	rc = path_escape(path, epath, sizeof(epath));
	if (rc)
		return rc;
	char *eref = curl_easy_escape(NULL, ref, 0);
	if (!eref)
		return FORJA_ENOMEM;
	int w = snprintf(url, sizeof(url), "%s/repos/%s/contents/%s?ref=%s", gh->api_url, full_name,
			 epath, eref);
	curl_free(eref);
	if (w < 0 || (size_t)w >= sizeof(url))
		return FORJA_ETOOBIG;
	CURL *c = request_new(gh, url, "application/vnd.github.raw", &hdrs);
	if (!c) {
		curl_slist_free_all(hdrs);
		return FORJA_ENOMEM;
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dynbuf_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	long timeout_ms = gh->timeout_s * 1000;
	if (deadline_ms > 0) {
		int64_t left = deadline_left_ms(deadline_ms);
		timeout_ms = left < timeout_ms ? (left > 1 ? (long)left : 1L) : timeout_ms;
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	}
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc == CURLE_OPERATION_TIMEDOUT && b.failed != FORJA_ETOOBIG) {
		/* slow is not unreachable: say which, the fix differs */
		snprintf(err, errlen, "GitHub API at %s did not answer within %.1f s", gh->api_url,
			 (double)timeout_ms / 1000.0);
		rc = FORJA_ETIMEDOUT;
	} else if (cc != CURLE_OK && b.failed != FORJA_ETOOBIG) {
		snprintf(err, errlen, "GitHub API at %s is unreachable: %s", gh->api_url,
			 curl_easy_strerror(cc));
		rc = FORJA_EUNAVAILABLE;
	} else {
		rc = github_file_answer(status, &b, path, body, len, err, errlen);
	}
	dynbuf_free(&b);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	return rc;
}

static void status_post(struct github *gh, const struct status_job *j)
{
	struct curl_slist *hdrs = NULL;
	struct dynbuf b;
	long status = 0;
	CURL *c = request_new(gh, j->url, "application/vnd.github+json", &hdrs);

	dynbuf_init(&b, 64 * 1024);
	if (!c) {
		curl_slist_free_all(hdrs);
		log_error("posting a commit status failed: out of memory");
		return;
	}
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, j->body);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dynbuf_write_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, abort_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, gh);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (cc != CURLE_OK)
		log_error("posting a commit status to %s failed: %s", j->url,
			  curl_easy_strerror(cc));
	else if (status != 201 && status != 200)
		log_error("posting a commit status to %s failed: GitHub answered %ld", j->url,
			  status);
	dynbuf_free(&b);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
}

static void *status_thread(void *arg)
{
	struct github *gh = arg;
	pthread_mutex_lock(&gh->lock);
	for (;;) {
		while (gh->count == 0 && !gh->stopping)
			pthread_cond_wait(&gh->cond, &gh->lock);
		if (gh->count == 0)
			break;
		struct status_job j = gh->jobs[gh->head];
		gh->head = (gh->head + 1) % GITHUB_STATUS_QUEUE;
		gh->count--;
		gh->busy = true;
		pthread_mutex_unlock(&gh->lock);
		if (!atomic_load(&gh->abort_posts))
			status_post(gh, &j);
		job_free(&j);
		pthread_mutex_lock(&gh->lock);
		gh->busy = false;
		if (gh->count == 0)
			pthread_cond_broadcast(&gh->drained);
	}
	pthread_mutex_unlock(&gh->lock);
	return NULL;
}

int github_new(const struct github_opts *opts, struct github **out)
{
	*out = NULL;
	if (!opts || !opts->api_url)
		return FORJA_EINVAL;
	struct github *gh = calloc(1, sizeof(*gh));
	if (!gh)
		return FORJA_ENOMEM;
	int rc = FORJA_ENOMEM;
	pthread_mutex_init(&gh->lock, NULL);
	pthread_cond_init(&gh->cond, NULL);
	pthread_cond_init(&gh->drained, NULL);
	atomic_init(&gh->abort_posts, false);
	gh->timeout_s = opts->timeout_s > 0 ? opts->timeout_s : 5;
	gh->api_url = strdup(opts->api_url);
	if (!gh->api_url)
		goto fail;
	size_t l = strlen(gh->api_url);
	while (l > 0 && gh->api_url[l - 1] == '/')
		gh->api_url[--l] = '\0';
	if (opts->token && *opts->token && !(gh->token = strdup(opts->token)))
		goto fail;
	if (opts->public_url && !(gh->public_url = strdup(opts->public_url)))
		goto fail;
	l = gh->public_url ? strlen(gh->public_url) : 0;
	while (l > 0 && gh->public_url[l - 1] == '/')
		gh->public_url[--l] = '\0';
	rc = hosts_init(gh, opts->allowed_hosts);
	if (rc)
		goto fail;
	rc = share_init(gh);
	if (rc)
		goto fail;
	if (pthread_create(&gh->thread, NULL, status_thread, gh) != 0) {
		rc = FORJA_ENOMEM;
		goto fail;
	}
	gh->thread_started = true;
	*out = gh;
	return 0;
fail:
	github_free(gh);
	return rc;
}

void github_free(struct github *gh)
{
	if (!gh)
		return;
	if (gh->thread_started) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += GITHUB_DRAIN_MS / 1000;
		pthread_mutex_lock(&gh->lock);
		gh->stopping = true;
		pthread_cond_broadcast(&gh->cond);
		while ((gh->count > 0 || gh->busy) &&
		       pthread_cond_timedwait(&gh->drained, &gh->lock, &until) != ETIMEDOUT)
			;
		pthread_mutex_unlock(&gh->lock);
		/* Past the drain time the rest is dropped; a post in flight stops at its next tick.
		 */
		atomic_store(&gh->abort_posts, true);
		pthread_join(gh->thread, NULL);
	}
	for (size_t i = 0; i < gh->count; i++)
		job_free(&gh->jobs[(gh->head + i) % GITHUB_STATUS_QUEUE]);
	for (size_t i = 0; i < gh->nhosts; i++)
		free(gh->hosts[i]);
	pthread_mutex_destroy(&gh->lock);
	pthread_cond_destroy(&gh->cond);
	pthread_cond_destroy(&gh->drained);
	/* after the status thread: no handle uses the share any more */
	if (gh->share) {
		curl_share_cleanup(gh->share);
		for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
			pthread_mutex_destroy(&gh->share_locks[i]);
	}
	free(gh->api_url);
	free(gh->token);
	free(gh->public_url);
	free(gh);
}

/* At most MAX bytes of S, cut on a UTF-8 character boundary. */
static char *text_cut(const char *s, size_t max)
{
	size_t len = strlen(s);
	if (len <= max)
		return strdup(s);
	size_t cut = max - 3;
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	char *out = malloc(cut + 4);
	if (!out)
		return NULL;
	memcpy(out, s, cut);
	memcpy(out + cut, "...", 4);
	return out;
}

static const char *status_state(enum build_status s)
{
	switch (s) {
	case BUILD_QUEUED: return "pending";
	case BUILD_SUCCEEDED: return "success";
	case BUILD_FAILED: return "failure";
	case BUILD_CANCELLED: return "error";
	default: return NULL; /* running: the pending status already says it is on its way */
	}
}

static char *status_body(const struct github *gh, const struct build *b, const char *state)
{
	char context[300], target[1024], desc[512];
	snprintf(context, sizeof(context), "forja/%s", b->service);
	switch (b->status) {
	case BUILD_QUEUED:
		snprintf(desc, sizeof(desc), "%s:%s queued", b->service, b->version);
		break;
	case BUILD_SUCCEEDED:
		snprintf(desc, sizeof(desc), "%s:%s built and pushed", b->service, b->version);
		break;
	case BUILD_CANCELLED:
		snprintf(desc, sizeof(desc), "%s:%s cancelled", b->service, b->version);
		break;
	default:
		snprintf(desc, sizeof(desc), "%s:%s failed: %s", b->service, b->version,
			 b->error ? b->error : "see the build log");
		break;
	}
	/* GitHub refuses descriptions over 140 characters. */
	char *short_desc = text_cut(desc, 140);
	json_t *o = json_pack("{s:s, s:s, s:s?}", "state", state, "context", context, "description",
			      short_desc);
	free(short_desc);
	if (o && gh->public_url) {
		snprintf(target, sizeof(target), "%s/builds/%lld", gh->public_url,
			 (long long)b->id);
		json_object_set_new(o, "target_url", json_string(target));
	}
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	return text;
}

void github_on_build(void *ud, const struct build *b)
{
	struct github *gh = ud;
	char url[2048];
	if (!gh || !gh->token || !b || b->trigger != TRIGGER_WEBHOOK || !b->repository ||
	    !b->commit || !b->service)
		return;
	const char *state = status_state(b->status);
	if (!state)
		return;
	int w = snprintf(url, sizeof(url), "%s/repos/%s/statuses/%s", gh->api_url, b->repository,
			 b->commit);
	if (w < 0 || (size_t)w >= sizeof(url))
		return;
	struct status_job j = {.url = strdup(url), .body = status_body(gh, b, state)};
	if (!j.url || !j.body) {
		log_error("queueing a commit status for build %lld failed: out of memory",
			  (long long)b->id);
		job_free(&j);
		return;
	}
	pthread_mutex_lock(&gh->lock);
	if (gh->stopping || gh->count == GITHUB_STATUS_QUEUE) {
		pthread_mutex_unlock(&gh->lock);
		log_warn("commit status %s for build %lld dropped: %s", state, (long long)b->id,
			 gh->stopping ? "shutting down" : "too many pending");
		job_free(&j);
		return;
	}
	gh->jobs[(gh->head + gh->count) % GITHUB_STATUS_QUEUE] = j;
	gh->count++;
	pthread_cond_signal(&gh->cond);
	pthread_mutex_unlock(&gh->lock);
}
