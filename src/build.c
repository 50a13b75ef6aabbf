/* A build record: allocation, copies, status/trigger names, RFC 3339 times and the JSON form
 * every edge (REST, webhook answers) shows. */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"

static const char *const status_names[] = {
    [BUILD_QUEUED] = "queued", [BUILD_RUNNING] = "running",	[BUILD_SUCCEEDED] = "succeeded",
    [BUILD_FAILED] = "failed", [BUILD_CANCELLED] = "cancelled",
};

static const char *const trigger_names[] = {
    [TRIGGER_WEBHOOK] = "webhook",
    [TRIGGER_API] = "api",
    [TRIGGER_CLI] = "cli",
};

struct build *build_new(void)
{
	return calloc(1, sizeof(struct build));
}

/* A copy of S into *DST; false only when S was set and the copy failed. */
static bool copy_str(char **dst, const char *s)
{
	*dst = s ? strdup(s) : NULL;
	return !s || *dst;
}

struct build *build_new_from(const struct build_fields *f)
{
	if (!f->service || !f->version || !f->image || !f->repository || !f->clone_url || !f->ref)
		return NULL;
	struct build *b = build_new();
	if (!b)
		return NULL;
	b->trigger = f->trigger;
	b->status = BUILD_QUEUED;
	b->pull_request = f->pull_request;
	bool ok = copy_str(&b->service, f->service) && copy_str(&b->version, f->version) &&
		  copy_str(&b->type, f->type ? f->type : "docker") &&
		  copy_str(&b->image, f->image) && copy_str(&b->repository, f->repository) &&
		  copy_str(&b->clone_url, f->clone_url) && copy_str(&b->commit, f->commit) &&
		  copy_str(&b->ref, f->ref) &&
		  copy_str(&b->context, f->context ? f->context : "") &&
		  copy_str(&b->dockerfile, f->dockerfile) && copy_str(&b->branch, f->branch) &&
		  copy_str(&b->delivery_id, f->delivery_id);
	if (f->build_args) {
		b->build_args = json_dumps(f->build_args, JSON_COMPACT | JSON_SORT_KEYS);
		ok = ok && b->build_args;
	}
	if (!ok) {
		build_free(b);
		return NULL;
	}
	return b;
}

void build_free(struct build *b)
{
	if (!b)
		return;
	free(b->service);
	free(b->version);
	free(b->type);
	free(b->image);
	free(b->digest);
	free(b->repository);
	free(b->clone_url);
	free(b->commit);
	free(b->ref);
	free(b->context);
	free(b->dockerfile);
	free(b->build_args);
	free(b->branch);
	free(b->delivery_id);
	free(b->error);
	free(b->engine);
	free(b);
}

void build_array_free(struct build **arr, size_t n)
{
	if (!arr)
		return;
	for (size_t i = 0; i < n; i++)
		build_free(arr[i]);
	free(arr);
}

const char *build_status_name(enum build_status s)
{
	if ((unsigned)s >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[s];
}

int build_status_parse(const char *name, enum build_status *out)
{
	if (!name)
		return FORJA_EINVAL;
	for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*out = (enum build_status)i;
			return 0;
		}
	}
	return FORJA_EINVAL;
}

bool build_status_is_final(enum build_status s)
{
	return s == BUILD_SUCCEEDED || s == BUILD_FAILED || s == BUILD_CANCELLED;
}

const char *build_trigger_name(enum build_trigger t)
{
	if ((unsigned)t >= sizeof(trigger_names) / sizeof(trigger_names[0]))
		return "unknown";
	return trigger_names[t];
}

void build_time_format(int64_t ms, char *buf, size_t len)
{
	if (len == 0)
		return;
	buf[0] = '\0';
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&secs, &tm))
		return;
	if (strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
}

int64_t build_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets KEY to a string, or to null when S is NULL. Returns 0 or -1. */
static int set_str(json_t *obj, const char *key, const char *s)
{
	return json_object_set_new(obj, key, s ? json_string(s) : json_null());
}

static int set_time(json_t *obj, const char *key, int64_t ms)
{
	if (ms == 0)
		return json_object_set_new(obj, key, json_null());
	char buf[40];
	build_time_format(ms, buf, sizeof(buf));
	return json_object_set_new(obj, key, json_string(buf));
}

/* build_args is stored as JSON text; anything unparsable is shown as null, never as text. */
static json_t *args_json(const char *text)
{
	if (!text)
		return json_null();
	json_t *v = json_loads(text, 0, NULL);
	if (!v || !json_is_object(v)) {
		json_decref(v);
		return json_null();
	}
	return v;
}

static json_t *links_json(int64_t id, const char *public_url)
{
	char self[1024];
	char logl[1100];
	const char *base = public_url ? public_url : "";
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	snprintf(self, sizeof(self), "%.*s/builds/%lld", (int)blen, base, (long long)id);
	snprintf(logl, sizeof(logl), "%s/log", self);
	return json_pack("{s:s, s:s}", "self", self, "log", logl);
}

json_t *build_to_json(const struct build *b, const char *public_url)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	int rc = 0;
	rc |= json_object_set_new(o, "id", json_integer(b->id));
	rc |= set_str(o, "service", b->service ? b->service : "");
	rc |= set_str(o, "version", b->version ? b->version : "");
	rc |= set_str(o, "type", b->type ? b->type : "docker");
	rc |= set_str(o, "status", build_status_name(b->status));
	rc |= set_str(o, "image", b->image);
	rc |= set_str(o, "digest", b->digest);
	rc |= set_str(o, "trigger", build_trigger_name(b->trigger));
	rc |= set_str(o, "repository", b->repository);
	rc |= set_str(o, "clone_url", b->clone_url);
	rc |= set_str(o, "commit", b->commit);
	rc |= set_str(o, "ref", b->ref);
	rc |= set_str(o, "context", b->context);
	rc |= set_str(o, "dockerfile", b->dockerfile);
	rc |= json_object_set_new(o, "build_args", args_json(b->build_args));
	rc |= json_object_set_new(
	    o, "pull_request", b->pull_request != 0 ? json_integer(b->pull_request) : json_null());
	rc |= set_str(o, "branch", b->branch);
	rc |= set_str(o, "delivery_id", b->delivery_id);
	rc |= set_time(o, "created_at", b->created_at);
	rc |= set_time(o, "started_at", b->started_at);
	rc |= set_time(o, "finished_at", b->finished_at);
	if (b->started_at != 0 && b->finished_at >= b->started_at)
		rc |= json_object_set_new(
		    o, "duration_seconds",
		    json_real((double)(b->finished_at - b->started_at) / 1000.0));
	else
		rc |= json_object_set_new(o, "duration_seconds", json_null());
	rc |= set_str(o, "error", b->error);
	rc |= json_object_set_new(o, "attempts", json_integer(b->attempts));
	rc |= set_str(o, "engine", b->engine);
	rc |= json_object_set_new(o, "rerun_of",
				  b->rerun_of != 0 ? json_integer(b->rerun_of) : json_null());
	rc |= json_object_set_new(o, "links", links_json(b->id, public_url));
	if (rc != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}
