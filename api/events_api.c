/* The event stream never blocks a server thread: with nothing to send it suspends its
 * connection, resumed by a new event (events_set_notify -> conns_wake) or by the watchdog's
 * round about every second, when a heartbeat may be due. */
#include "events_api.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../src/deadline.h"
#include "../src/errors.h"
#include "../src/events.h"
#include "conns.h"
#include "problem.h"

#define EVENTS_BLOCK	     65536
#define EVENTS_HEARTBEAT_MS  15000
#define EVENTS_RETRY_AFTER_S "5"

struct event_stream {
	struct app *app;
	struct conns_stream *wait;
	int64_t last;	    /* id of the last event sent */
	int64_t written_ms; /* when bytes last went out */
	int hello;	    /* the first chunk (retry hint, maybe reset) is out */
	int missed;	    /* events after LAST were dropped before this stream began */
};

static ssize_t stream_cb(void *ud, uint64_t pos, char *buf, size_t max)
{
	struct event_stream *es = ud;
	(void)pos;
	if (atomic_load(&es->app->stopping))
		return U_STREAM_END;
	if (!es->hello) {
		es->hello = 1;
		es->written_ms = deadline_now_ms();
		/* a reader whose Last-Event-ID is older than what is kept must reload: say so */
		int n = snprintf(buf, max, "retry: 3000\n\n%s",
				 es->missed ? "event: reset\ndata: {}\n\n" : "");
		return n;
	}
	int missed = 0;
	size_t n = events_read(es->app->events, es->last, buf, max, &es->last, &missed);
	if (n > 0) {
		es->written_ms = deadline_now_ms();
		return (ssize_t)n;
	}
	if (deadline_now_ms() - es->written_ms >= EVENTS_HEARTBEAT_MS) {
		es->written_ms = deadline_now_ms();
		return snprintf(buf, max, ": heartbeat\n\n");
	}
	if (es->wait)
		conns_stream_wait(es->wait);
	return 0;
}

static void stream_free(void *ud)
{
	struct event_stream *es = ud;
	conns_stream_close(es->wait);
	free(es);
}

/* Last-Event-ID as a number; -1 when absent or not a number. */
static int64_t last_event_id(const struct _u_request *req)
{
	const char *v = u_map_get_case(req->map_header, "Last-Event-ID");
	if (!v)
		v = u_map_get(req->map_url, "last_event_id");
	if (!v || !*v)
		return -1;
	char *end = NULL;
	errno = 0;
	long long id = strtoll(v, &end, 10);
	return errno || *end || id < 0 ? -1 : (int64_t)id;
}

int events_api_stream(const struct _u_request *req, struct _u_response *resp, struct app *app)
{
	struct event_stream *es = calloc(1, sizeof(*es));
	if (!es)
		return problem_send(resp, 500, "out of memory");
	es->app = app;
	int64_t from = last_event_id(req);
	if (from < 0) {
		es->last =
		    events_last_id(app->events); /* a new reader starts with what comes next */
	} else {
		char probe[1];
		int64_t ignored;
		es->last = from;
		/* only whether something was dropped; nothing is copied into a 0-byte buffer */
		events_read(app->events, from, probe, 0, &ignored, &es->missed);
	}
	int err = app->conns ? conns_stream_open(app->conns, req, EVENTS_WAKE_KEY, &es->wait) : 0;
	if (err == FORJA_EBUSY) {
		free(es);
		u_map_put(resp->map_header, "Retry-After", EVENTS_RETRY_AFTER_S);
		return problem_send(resp, 503,
				    "as many streams are open as FORJA_MAX_STREAMS allows; retry "
				    "later");
	}
	/* ownership of ES moves to ulfius, released by stream_free when the stream ends */
	if (ulfius_set_stream_response(resp, 200, stream_cb, stream_free, U_STREAM_SIZE_UNKNOWN,
				       EVENTS_BLOCK, es) != U_OK) {
		stream_free(es);
		return problem_send(resp, 500, "cannot start the event stream");
	}
	u_map_put(resp->map_header, "Content-Type", "text/event-stream; charset=utf-8");
	u_map_put(resp->map_header, "Cache-Control", "no-cache");
	/* a proxy that buffers would hold events back */
	u_map_put(resp->map_header, "X-Accel-Buffering", "no");
	return U_CALLBACK_COMPLETE;
}
