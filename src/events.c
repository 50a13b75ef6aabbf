/* The event ring: frames are formatted once, when the event happens, so every stream only
 * copies bytes under the lock. */
#include "events.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "errors.h"

/* A build's JSON is about 1 KiB; one with a long error stays far below this. */
#define EVENTS_MAX_FRAME (48 * 1024)

struct frame {
	int64_t id;
	char *text;
	size_t len;
};

struct events {
	pthread_mutex_t mu;
	struct frame *ring;
	size_t cap;
	size_t head;   /* index of the oldest frame */
	size_t n;      /* frames held */
	int64_t first; /* ids start after this */
	int64_t next;  /* id of the next frame */
	char *public_url;
	void (*notify)(void *ud, int64_t key);
	void *notify_ud;
};

int events_new(size_t capacity, const char *public_url, struct events **out)
{
	*out = NULL;
	if (capacity < 1)
		return FORJA_EINVAL;
	struct events *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return FORJA_ENOMEM;
	ev->ring = calloc(capacity, sizeof(*ev->ring));
	ev->public_url = public_url ? strdup(public_url) : NULL;
	if (!ev->ring || (public_url && !ev->public_url)) {
		events_free(ev);
		return FORJA_ENOMEM;
	}
	pthread_mutex_init(&ev->mu, NULL);
	ev->cap = capacity;
	/* wall-clock microseconds at start: ids of this run are above every id of the last run,
	 * so a client resuming across a restart is given this run's events, not nothing */
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	ev->first = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
	ev->next = ev->first + 1;
	*out = ev;
	return 0;
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	if (ev->ring) {
		for (size_t i = 0; i < ev->cap; i++)
			free(ev->ring[i].text);
		pthread_mutex_destroy(&ev->mu);
	}
	free(ev->ring);
	free(ev->public_url);
	free(ev);
}

void events_set_notify(struct events *ev, void (*fn)(void *ud, int64_t key), void *ud)
{
	pthread_mutex_lock(&ev->mu);
	ev->notify = fn;
	ev->notify_ud = ud;
	pthread_mutex_unlock(&ev->mu);
}

static const char *kind_of(enum build_status st)
{
	switch (st) {
	case BUILD_QUEUED: return "queued";
	case BUILD_RUNNING: return "started";
	case BUILD_CANCELLED: return "cancelled";
	default: return "finished";
	}
}

/* "id: ID\nevent: KIND\ndata: JSON\n\n", malloc'd; NULL on ENOMEM. */
static char *frame_text(const struct events *ev, const struct build *b, int64_t id, size_t *len)
{
	json_t *j = build_to_json(b, ev->public_url);
	char *data = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (data && strlen(data) > EVENTS_MAX_FRAME) {
		/* never a frame too large for one stream block: the id and status still go out */
		free(data);
		data = NULL;
		j = json_pack("{s:I, s:s}", "id", (json_int_t)b->id, "status",
			      build_status_name(b->status));
		data = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
	}
	if (!data)
		return NULL;
	char *text = NULL;
	int n = asprintf(&text, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)id,
			 kind_of(b->status), data);
	free(data);
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return text;
}

void events_on_build(void *ud, const struct build *b)
{
	struct events *ev = ud;
	if (!ev || !b)
		return;
	pthread_mutex_lock(&ev->mu);
	int64_t id = ev->next;
	size_t len = 0;
	/* formatted under the lock so frames are numbered in the order they are stored */
	char *text = frame_text(ev, b, id, &len);
	if (text) {
		ev->next++;
		size_t slot;
		if (ev->n == ev->cap) { /* full: the oldest frame makes room */
			slot = ev->head;
			free(ev->ring[slot].text);
			ev->head = (ev->head + 1) % ev->cap;
		} else {
			slot = (ev->head + ev->n) % ev->cap;
			ev->n++;
		}
		ev->ring[slot] = (struct frame){id, text, len};
	}
	void (*fn)(void *, int64_t) = ev->notify;
	void *fud = ev->notify_ud;
	pthread_mutex_unlock(&ev->mu);
	if (text && fn)
		fn(fud, EVENTS_WAKE_KEY);
}

size_t events_read(struct events *ev, int64_t after, char *buf, size_t max, int64_t *last,
		   int *missed)
{
	size_t off = 0;
	*last = after;
	*missed = 0;
	pthread_mutex_lock(&ev->mu);
	if (ev->n > 0) {
		int64_t oldest = ev->ring[ev->head].id;
		/* ids before OLDEST that AFTER has not seen are gone (an id of an earlier run,
		 * below this run's first, saw everything that run had: nothing of this run is
		 * missed) */
		if (after >= ev->first && after < oldest - 1)
			*missed = 1;
		for (size_t i = 0; i < ev->n; i++) {
			const struct frame *f = &ev->ring[(ev->head + i) % ev->cap];
			if (f->id <= after)
				continue;
			if (off + f->len > max)
				break;
			memcpy(buf + off, f->text, f->len);
			off += f->len;
			*last = f->id;
		}
	}
	pthread_mutex_unlock(&ev->mu);
	return off;
}

int64_t events_last_id(struct events *ev)
{
	pthread_mutex_lock(&ev->mu);
	int64_t id = ev->next - 1;
	pthread_mutex_unlock(&ev->mu);
	return id;
}
