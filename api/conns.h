/* HTTP connections, guarded: limits on connections (in all and per client address) answered
 * with a 503 before the connection is closed, a deadline for receiving each whole request
 * however slowly its bytes trickle, an idle timeout between requests, and long-lived responses
 * that wait for data with their connection suspended, so they hold no server thread.
 * Hooks into libmicrohttpd through the options ulfius passes on. */
#ifndef FORJA_CONNS_H
#define FORJA_CONNS_H

#include <microhttpd.h>
#include <stddef.h>
#include <stdint.h>
#include <ulfius.h>

struct metrics;

struct conns_limits {
	int max_connections;	 /* open connections in all */
	int max_per_address;	 /* open connections per client address; 0 = no limit */
	int max_streams;	 /* long-lived responses open at once */
	int request_deadline_ms; /* from connect (or the request line) to the whole request */
	int idle_timeout_ms;	 /* between two requests of a kept-alive connection */
};

struct conns;
struct conns_stream;

/* Number of MHD options conns_mhd_options() writes. */
#define CONNS_MHD_OPTIONS 3

/* M borrowed (may be NULL). Starts the watchdog thread. *OUT owned: conns_free(). */
int conns_new(const struct conns_limits *lim, struct metrics *m, struct conns **out);
/* After the HTTP daemon has stopped: stops the watchdog and frees C. */
void conns_free(struct conns *c);
/*
 * Writes the CONNS_MHD_OPTIONS options that route connection events here into OPS: the
 * connection notifier, and ulfius's URI logger and request-completed callbacks wrapped.
 */
void conns_mhd_options(struct conns *c, struct MHD_OptionItem *ops);
/* Before MHD_stop_daemon: resumes every suspended stream and suspends no more. */
void conns_shutdown(struct conns *c);

/* Called by the handler of REQ once the whole request is in: its deadline no longer runs. */
void conns_mark_received(struct conns *c, const struct _u_request *req);

/*
 * Opens a long-lived response on REQ's connection, woken by conns_wake(KEY). FORJA_EBUSY when
 * max_streams are open, FORJA_ENOTFOUND when REQ's connection is unknown. *OUT owned:
 * conns_stream_close() (from the response's free callback).
 */
int conns_stream_open(struct conns *c, const struct _u_request *req, int64_t key,
		      struct conns_stream **out);
/*
 * From the stream's content callback when it has nothing to send: suspends the connection
 * until conns_wake(KEY), or the watchdog's next round (about a second), so the callback can
 * re-check what it waits for. The callback then returns 0. A wake that came since the last
 * wait returns at once instead, so no wake is lost between reading and waiting.
 */
void conns_stream_wait(struct conns_stream *s);
void conns_stream_close(struct conns_stream *s);
/* Resumes the streams opened with KEY (any thread). UD is the struct conns. */
void conns_wake(void *ud, int64_t key);

#endif
