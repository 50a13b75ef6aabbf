/* GitHub stand-in: ulfius on an ephemeral loopback port, one default endpoint that routes
 * GET .../contents/... and POST .../statuses/... by hand, state behind one mutex. */
#include "github_standin.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <ulfius.h>

#define STANDIN_MAX_FILES    64
#define STANDIN_MAX_STATUSES 256

struct standin_file {
	char *full_name, *path, *ref, *content;
};

struct github_standin {
	struct _u_instance inst;
	char url[64];
	pthread_mutex_t lock;
	struct standin_file files[STANDIN_MAX_FILES];
	size_t nfiles;
	int fail_status;
	int delay_ms;
	int status_delay_ms;
	int stopping;
	int contents_requests;
	char last_accept[256];
	struct standin_status statuses[STANDIN_MAX_STATUSES];
	size_t nstatuses;
};

/* Copies SRC into DST, cut to fit. */
static void copy(char *dst, size_t len, const char *src)
{
	size_t n = src ? strlen(src) : 0;
	if (n >= len)
		n = len - 1;
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Splits /repos/OWNER/REPO/KIND/REST into REPO (owner/repo), KIND and REST. */
static int split_path(const char *path, char *repo, size_t rlen, char *kind, size_t klen,
		      const char **rest)
{
	if (strncmp(path, "/repos/", 7) != 0)
		return -1;
	const char *owner = path + 7;
	const char *s1 = strchr(owner, '/');
	const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
	const char *s3 = s2 ? strchr(s2 + 1, '/') : NULL;
	if (!s3)
		return -1;
	snprintf(repo, rlen, "%.*s", (int)(s2 - owner), owner);
	snprintf(kind, klen, "%.*s", (int)(s3 - s2 - 1), s2 + 1);
	*rest = s3 + 1;
	return 0;
}

/* The slowness being simulated, not a wait for readiness: *KNOB milliseconds, cut short when
 * the test changes the knob or stops the stand-in (a 30 s answer must not hold up the next
 * case or the teardown). */
static void slow_down(struct github_standin *s, const int *knob)
{
	struct timespec start, now, slice = {.tv_nsec = 20 * 1000 * 1000};
	pthread_mutex_lock(&s->lock);
	int delay = *knob;
	pthread_mutex_unlock(&s->lock);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		pthread_mutex_lock(&s->lock);
		int same = *knob == delay && !s->stopping;
		pthread_mutex_unlock(&s->lock);
		if (elapsed >= delay || !same)
			return;
		nanosleep(&slice, NULL);
	}
}

static int contents(struct github_standin *s, const struct _u_request *req,
		    struct _u_response *resp, const char *repo, const char *path)
{
	const char *ref = u_map_get(req->map_url, "ref");
	const char *found = NULL;
	slow_down(s, &s->delay_ms);
	pthread_mutex_lock(&s->lock);
	s->contents_requests++;
	copy(s->last_accept, sizeof(s->last_accept), u_map_get_case(req->map_header, "Accept"));
	int fail = s->fail_status;
	for (size_t i = 0; !fail && i < s->nfiles; i++) {
		const struct standin_file *f = &s->files[i];
		if (strcmp(f->full_name, repo) == 0 && strcmp(f->path, path) == 0 &&
		    (!f->ref || (ref && strcmp(f->ref, ref) == 0)))
			found = f->content; /* later puts win: keep scanning */
	}
	if (fail) {
		ulfius_set_string_body_response(resp, (unsigned)fail, "{\"message\":\"failure\"}");
	} else if (found) {
		ulfius_set_string_body_response(resp, 200, found);
		u_map_put(resp->map_header, "Content-Type", "application/vnd.github.raw");
	} else {
		ulfius_set_string_body_response(resp, 404, "{\"message\":\"Not Found\"}");
	}
	pthread_mutex_unlock(&s->lock);
	return U_CALLBACK_COMPLETE;
}

static int statuses(struct github_standin *s, const struct _u_request *req,
		    struct _u_response *resp, const char *repo, const char *sha)
{
	slow_down(s, &s->status_delay_ms);
	json_t *body = json_loadb(req->binary_body, req->binary_body_length, 0, NULL);
	if (!json_is_object(body) || !json_is_string(json_object_get(body, "state"))) {
		json_decref(body);
		ulfius_set_string_body_response(resp, 422, "{\"message\":\"Validation Failed\"}");
		return U_CALLBACK_COMPLETE;
	}
	pthread_mutex_lock(&s->lock);
	if (s->nstatuses < STANDIN_MAX_STATUSES) {
		struct standin_status *st = &s->statuses[s->nstatuses++];
		copy(st->repo, sizeof(st->repo), repo);
		copy(st->sha, sizeof(st->sha), sha);
		copy(st->state, sizeof(st->state),
		     json_string_value(json_object_get(body, "state")));
		copy(st->context, sizeof(st->context),
		     json_string_value(json_object_get(body, "context")));
		copy(st->target_url, sizeof(st->target_url),
		     json_string_value(json_object_get(body, "target_url")));
		copy(st->description, sizeof(st->description),
		     json_string_value(json_object_get(body, "description")));
		copy(st->authorization, sizeof(st->authorization),
		     u_map_get_case(req->map_header, "Authorization"));
	}
	pthread_mutex_unlock(&s->lock);
	json_decref(body);
	ulfius_set_string_body_response(resp, 201, "{\"state\":\"recorded\"}");
	return U_CALLBACK_COMPLETE;
}

static int dispatch(const struct _u_request *req, struct _u_response *resp, void *ud)
{
	struct github_standin *s = ud;
	char repo[256], kind[64];
	const char *rest = NULL;
	if (split_path(req->url_path, repo, sizeof(repo), kind, sizeof(kind), &rest) == 0) {
		if (strcmp(req->http_verb, "GET") == 0 && strcmp(kind, "contents") == 0) {
			/* GitHub decodes the path; so does the stand-in. */
			char *path = curl_easy_unescape(NULL, rest, 0, NULL);
			int rc = contents(s, req, resp, repo, path ? path : rest);
			curl_free(path);
			return rc;
		}
		if (strcmp(req->http_verb, "POST") == 0 && strcmp(kind, "statuses") == 0)
			return statuses(s, req, resp, repo, rest);
	}
	ulfius_set_string_body_response(resp, 404, "{\"message\":\"Not Found\"}");
	return U_CALLBACK_COMPLETE;
}

struct github_standin *github_standin_start(void)
{
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
	struct github_standin *s = calloc(1, sizeof(*s));
	ck_assert_ptr_nonnull(s);
	pthread_mutex_init(&s->lock, NULL);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* ulfius refuses port 0; the bind address with port 0 is what MHD binds. */
	ck_assert_int_eq(ulfius_init_instance(&s->inst, 1, &addr, NULL), U_OK);
	s->inst.timeout = 5;
	ck_assert_int_eq(ulfius_set_default_endpoint(&s->inst, dispatch, s), U_OK);
	/* ulfius refuses to start without one endpoint besides the default. */
	ck_assert_int_eq(ulfius_add_endpoint_by_val(&s->inst, "GET", "/zen", NULL, 0, dispatch, s),
			 U_OK);
	ck_assert_int_eq(ulfius_start_framework(&s->inst), U_OK);
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(s->inst.mhd_daemon, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_in bound;
	socklen_t len = sizeof(bound);
	ck_assert_ptr_nonnull(info);
	ck_assert_int_eq(getsockname(info->listen_fd, (struct sockaddr *)&bound, &len), 0);
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", ntohs(bound.sin_port));
	return s;
}

void github_standin_stop(struct github_standin *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_mutex_unlock(&s->lock);
	ulfius_stop_framework(&s->inst);
	ulfius_clean_instance(&s->inst);
	for (size_t i = 0; i < s->nfiles; i++) {
		free(s->files[i].full_name);
		free(s->files[i].path);
		free(s->files[i].ref);
		free(s->files[i].content);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
}

const char *github_standin_url(const struct github_standin *s)
{
	return s->url;
}

void github_standin_put_file(struct github_standin *s, const char *full_name, const char *path,
			     const char *ref, const char *content)
{
	pthread_mutex_lock(&s->lock);
	ck_assert_uint_lt(s->nfiles, STANDIN_MAX_FILES);
	struct standin_file *f = &s->files[s->nfiles++];
	f->full_name = strdup(full_name);
	f->path = strdup(path);
	f->ref = ref ? strdup(ref) : NULL;
	f->content = strdup(content);
	pthread_mutex_unlock(&s->lock);
}

void github_standin_fail_contents(struct github_standin *s, int status)
{
	pthread_mutex_lock(&s->lock);
	s->fail_status = status;
	pthread_mutex_unlock(&s->lock);
}

void github_standin_delay_contents(struct github_standin *s, int ms)
{
	pthread_mutex_lock(&s->lock);
	s->delay_ms = ms;
	pthread_mutex_unlock(&s->lock);
}

void github_standin_delay_statuses(struct github_standin *s, int ms)
{
	pthread_mutex_lock(&s->lock);
	s->status_delay_ms = ms;
	pthread_mutex_unlock(&s->lock);
}

int github_standin_contents_requests(struct github_standin *s, char *accept, size_t len)
{
	pthread_mutex_lock(&s->lock);
	int n = s->contents_requests;
	if (accept)
		copy(accept, len, s->last_accept);
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t github_standin_statuses(struct github_standin *s, struct standin_status *out, size_t max)
{
	pthread_mutex_lock(&s->lock);
	size_t n = s->nstatuses;
	for (size_t i = 0; out && i < n && i < max; i++)
		out[i] = s->statuses[i];
	pthread_mutex_unlock(&s->lock);
	return n;
}

size_t github_standin_wait_statuses(struct github_standin *s, size_t n, int timeout_ms)
{
	struct timespec start, now, pause = {.tv_nsec = 20 * 1000 * 1000};
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		size_t got = github_standin_statuses(s, NULL, 0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed =
		    (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (got >= n || elapsed >= timeout_ms)
			return got;
		nanosleep(&pause, NULL);
	}
}
