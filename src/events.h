/* Build events for GET /events: the latest ones kept in a ring, each already an event-stream
 * frame ("id:", "event:", "data:" with the build's JSON), numbered so that ids keep growing
 * across restarts and a client can resume from the last id it saw. */
#ifndef FORJA_EVENTS_H
#define FORJA_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "build.h"

struct events;

/* CAPACITY events kept (>= 1); PUBLIC_URL (borrowed, copied) for the links in each build.
 * *OUT owned by the caller: events_free(). */
int events_new(size_t capacity, const char *public_url, struct events **out);
void events_free(struct events *ev);

/* FN(UD, EVENTS_WAKE_KEY) is called (outside any lock of this module) after each new event. */
#define EVENTS_WAKE_KEY (-1)
void events_set_notify(struct events *ev, void (*fn)(void *ud, int64_t key), void *ud);

/* A queue observer (struct queue_observer's on_change, UD = the events): queued, started,
 * finished (succeeded or failed) or cancelled, from the build's status. */
void events_on_build(void *ud, const struct build *b);

/*
 * Copies the whole frames with an id greater than AFTER, oldest first, into BUF (up to MAX
 * bytes; a frame that does not fit waits for the next call). *LAST gets the id of the last
 * frame copied (AFTER when none). *MISSED is set to 1 when frames after AFTER were already
 * dropped from the ring. Returns the bytes copied.
 */
size_t events_read(struct events *ev, int64_t after, char *buf, size_t max, int64_t *last,
		   int *missed);
/* The id of the newest event, or the id events start after when there is none. */
int64_t events_last_id(struct events *ev);

#endif
