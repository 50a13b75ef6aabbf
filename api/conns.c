/* Connection guard. libmicrohttpd's own connection timeout is reset by every byte, and its
 * per-address limit neither answers nor counts, so Forja keeps a table of its connections:
 * one entry per connection (MHD's socket context), found from an ulfius request through a
 * small hash, and one watchdog thread that cuts what overran its deadline with shutdown(2),
 * which MHD then sees as the peer closing. */
#include "conns.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../src/deadline.h"
#include "../src/errors.h"
#include "../src/log.h"
#include "../src/metrics.h"

#define BUCKETS	      1024
#define TICK_MS	      250
#define WAKE_TICKS    4	    /* suspended streams re-check about once a second */
#define LOG_EVERY_MS  10000 /* one log line per limit per this long, with a count */
#define RETRY_AFTER_S 5
#define ADDR_MAX      16

enum conn_state {
	CONN_RECEIVING, /* the request (or the first one) is not in yet: the deadline runs */
	CONN_HANDLING,	/* a handler has it, or its response is being sent */
	CONN_WAITING,	/* between two requests: the idle timeout runs */
	CONN_CUT,	/* refused or cut; MHD closes it */
};

enum limit_kind { LIMIT_CONNECTIONS, LIMIT_PER_ADDRESS, LIMIT_DEADLINE, LIMIT_IDLE, N_LIMIT };

static const char *const limit_names[N_LIMIT] = {"connections", "per_address", "deadline", "idle"};

struct peer {
	unsigned char addr[ADDR_MAX];
	int count;
	struct peer *next;
};

struct conn {
	struct conn *prev, *next;     /* every connection */
	struct conn *rnext;	      /* hash chain by request */
	const struct _u_request *req; /* borrowed from ulfius; NULL between requests */
	struct peer *peer;	      /* NULL when refused at the door */
	struct MHD_Connection *mhd;
	int fd;
	enum conn_state state;
	int64_t since_ms;
	char client[INET6_ADDRSTRLEN];
};

struct conns_stream {
	struct conns *c;
	struct MHD_Connection *mhd;
	int64_t key;
	bool waiting; /* suspended by conns_stream_wait */
	bool pending; /* woken while not waiting: the next wait returns at once */
	struct conns_stream *prev, *next;
};

struct limit_log {
	uint64_t unlogged;
	int64_t last_ms;
	char client[INET6_ADDRSTRLEN];
};

struct conns {
	struct conns_limits lim;
	struct metrics *m;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; wakes the watchdog to quit */
	pthread_t watchdog;
	bool quit;
	bool stopping; /* no more suspends */
	struct conn *all;
	struct conn *by_req[BUCKETS];
	struct peer *peers[BUCKETS];
	int open; /* connections counted against the limits */
	struct conns_stream *streams;
	int nstreams;
	struct limit_log logs[N_LIMIT];
};

static size_t ptr_bucket(const void *p)
{
	uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
	return (size_t)(h >> 54) % BUCKETS;
}

static size_t addr_bucket(const unsigned char *a)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < ADDR_MAX; i++)
		h = (h ^ a[i]) * 1099511628211ull;
	return (size_t)(h % BUCKETS);
}

/* The client's address as 16 bytes (IPv4 mapped) and as text. */
static void client_addr(struct MHD_Connection *con, unsigned char *key, char *text, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(con, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	memset(key, 0, ADDR_MAX);
	snprintf(text, len, "-");
	if (sa && sa->sa_family == AF_INET) {
		const struct in_addr *a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		key[10] = key[11] = 0xff;
		memcpy(key + 12, a, 4);
		inet_ntop(AF_INET, a, text, (socklen_t)len);
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		memcpy(key, a, ADDR_MAX);
		inet_ntop(AF_INET6, a, text, (socklen_t)len);
	}
}

static struct peer *peer_get(struct conns *c, const unsigned char *addr, bool create)
{
	size_t b = addr_bucket(addr);
	for (struct peer *p = c->peers[b]; p; p = p->next) {
		if (!memcmp(p->addr, addr, ADDR_MAX))
			return p;
	}
	if (!create)
		return NULL;
	struct peer *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	memcpy(p->addr, addr, ADDR_MAX);
	p->next = c->peers[b];
	c->peers[b] = p;
	return p;
}

static void peer_release(struct conns *c, struct peer *peer)
{
	if (--peer->count > 0)
		return;
	struct peer **pp = &c->peers[addr_bucket(peer->addr)];
	while (*pp != peer)
		pp = &(*pp)->next;
	*pp = peer->next;
	free(peer);
}

static void req_unlink(struct conns *c, struct conn *conn)
{
	if (!conn->req)
		return;
	struct conn **pp = &c->by_req[ptr_bucket(conn->req)];
	while (*pp && *pp != conn)
		pp = &(*pp)->rnext;
	if (*pp)
		*pp = conn->rnext;
	conn->rnext = NULL;
	conn->req = NULL;
}

static struct conn *req_find(struct conns *c, const struct _u_request *req)
{
	for (struct conn *x = c->by_req[ptr_bucket(req)]; x; x = x->rnext) {
		if (x->req == req)
			return x;
	}
	return NULL;
}

/* Logs the hits of each limit not yet logged, at most once per LOG_EVERY_MS. Under C->mu. */
static void limits_flush(struct conns *c, int64_t now)
{
	static const char *const what[N_LIMIT] = {
	    "refused at FORJA_MAX_CONNECTIONS", "refused at FORJA_MAX_CONNECTIONS_PER_ADDRESS",
	    "cut at FORJA_REQUEST_DEADLINE", "closed at FORJA_IDLE_TIMEOUT"};
	for (int k = 0; k < N_LIMIT; k++) {
		struct limit_log *l = &c->logs[k];
		if (!l->unlogged || (l->last_ms && now - l->last_ms < LOG_EVERY_MS))
			continue;
		log_warn("http: %llu connection(s) %s (last from %s)",
			 (unsigned long long)l->unlogged, what[k], l->client);
		l->unlogged = 0;
		l->last_ms = now;
	}
}

/* Counts a limit hit for /metrics and the next log line. Under C->mu. */
static void limit_hit(struct conns *c, enum limit_kind kind, const char *client)
{
	struct limit_log *l = &c->logs[kind];
	metrics_http_limit(c->m, limit_names[kind]);
	l->unlogged++;
	snprintf(l->client, sizeof(l->client), "%s", client);
	limits_flush(c, deadline_now_ms());
}

/* A canned answer written before any byte of the request is read, then the connection is
 * shut: MHD reads end-of-file and closes it, so no handler ever runs for it. */
static void conn_refuse(struct conn *conn, const char *detail)
{
	char msg[768];
	char body[512];
	int blen = snprintf(body, sizeof(body),
			    "{\"type\":\"about:blank\",\"title\":\"Service Unavailable\","
			    "\"status\":503,\"detail\":\"%s\"}",
			    detail);
	int n = snprintf(msg, sizeof(msg),
			 "HTTP/1.1 503 Service Unavailable\r\nRetry-After: %d\r\n"
			 "Content-Type: application/problem+json\r\nContent-Length: %d\r\n"
			 "Connection: close\r\n\r\n%s",
			 RETRY_AFTER_S, blen, body);
	if (n > 0 && n < (int)sizeof(msg))
		(void)!send(conn->fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	shutdown(conn->fd, SHUT_RDWR);
	conn->state = CONN_CUT;
}

static void conn_started(struct conns *c, struct MHD_Connection *con, void **socket_ctx)
{
	const union MHD_ConnectionInfo *fi =
	    MHD_get_connection_info(con, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct conn *conn = calloc(1, sizeof(*conn));
	unsigned char addr[ADDR_MAX];
	if (!conn || !fi) {
		/* cannot guard it, so it is not served */
		if (fi)
			shutdown(fi->connect_fd, SHUT_RDWR);
		free(conn);
		*socket_ctx = NULL;
		return;
	}
	conn->fd = fi->connect_fd;
	conn->mhd = con;
	client_addr(con, addr, conn->client, sizeof(conn->client));
	conn->since_ms = deadline_now_ms();
	pthread_mutex_lock(&c->mu);
	struct peer *peer = c->open < c->lim.max_connections ? peer_get(c, addr, true) : NULL;
	if (c->open >= c->lim.max_connections) {
		limit_hit(c, LIMIT_CONNECTIONS, conn->client);
		conn_refuse(conn, "Forja has as many connections open as FORJA_MAX_CONNECTIONS "
				  "allows; retry later");
	} else if (!peer || (c->lim.max_per_address > 0 && peer->count >= c->lim.max_per_address)) {
		limit_hit(c, LIMIT_PER_ADDRESS, conn->client);
		conn_refuse(conn, "this address has as many connections open as "
				  "FORJA_MAX_CONNECTIONS_PER_ADDRESS allows; retry later");
	} else {
		peer->count++;
		conn->peer = peer;
		c->open++;
	}
	conn->next = c->all;
	if (c->all)
		c->all->prev = conn;
	c->all = conn;
	pthread_mutex_unlock(&c->mu);
	if (conn->peer)
		metrics_http_open(c->m, 1, 0);
	*socket_ctx = conn;
}

static void conn_closed(struct conns *c, struct conn *conn)
{
	pthread_mutex_lock(&c->mu);
	req_unlink(c, conn);
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		c->all = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	if (conn->peer) {
		peer_release(c, conn->peer);
		c->open--;
	}
	pthread_mutex_unlock(&c->mu);
	if (conn->peer)
		metrics_http_open(c->m, -1, 0);
	free(conn);
}

static void conns_notify(void *cls, struct MHD_Connection *con, void **socket_ctx,
			 enum MHD_ConnectionNotificationCode code)
{
	struct conns *c = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		conn_started(c, con, socket_ctx);
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_ctx)
		conn_closed(c, *socket_ctx);
}

static struct conn *conn_of(struct MHD_Connection *con)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(con, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* MHD calls this when a request line is in; ulfius makes its request here. */
static void *conns_uri_log(void *cls, const char *uri, struct MHD_Connection *con)
{
	struct conns *c = cls;
	struct connection_info_struct *info = ulfius_uri_logger(NULL, uri);
	struct conn *conn = conn_of(con);
	if (!info || !conn)
		return info;
	pthread_mutex_lock(&c->mu);
	req_unlink(c, conn);
	conn->req = info->request;
	size_t b = ptr_bucket(conn->req);
	conn->rnext = c->by_req[b];
	c->by_req[b] = conn;
	if (conn->state == CONN_WAITING) {
		conn->state = CONN_RECEIVING;
		conn->since_ms = deadline_now_ms();
	}
	pthread_mutex_unlock(&c->mu);
	return info;
}

static void conns_completed(void *cls, struct MHD_Connection *con, void **con_cls,
			    enum MHD_RequestTerminationCode toe)
{
	struct conns *c = cls;
	struct connection_info_struct *info = *con_cls;
	struct conn *conn = conn_of(con);
	if (conn && info) {
		pthread_mutex_lock(&c->mu);
		if (conn->req == info->request)
			req_unlink(c, conn);
		if (conn->state != CONN_CUT) {
			conn->state = CONN_WAITING;
			conn->since_ms = deadline_now_ms();
		}
		if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
			limit_hit(c, LIMIT_IDLE, conn->client);
		pthread_mutex_unlock(&c->mu);
	}
	mhd_request_completed(NULL, con, con_cls, toe);
}

void conns_mhd_options(struct conns *c, struct MHD_OptionItem *ops)
{
	ops[0] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)conns_notify, c};
	ops[1] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)conns_uri_log, c};
	ops[2] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)conns_completed, c};
}

void conns_mark_received(struct conns *c, const struct _u_request *req)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	struct conn *conn = req_find(c, req);
	if (conn && conn->state == CONN_RECEIVING)
		conn->state = CONN_HANDLING;
	pthread_mutex_unlock(&c->mu);
}

/* Under C->mu. */
static void streams_resume_waiting(struct conns *c, bool all, int64_t key)
{
	for (struct conns_stream *s = c->streams; s; s = s->next) {
		if (!all && s->key != key)
			continue;
		if (s->waiting) {
			s->waiting = false;
			MHD_resume_connection(s->mhd);
		} else {
			s->pending = true;
		}
	}
}

static void watchdog_round(struct conns *c, int64_t now)
{
	for (struct conn *x = c->all; x; x = x->next) {
		if (x->state == CONN_RECEIVING && now - x->since_ms > c->lim.request_deadline_ms) {
			limit_hit(c, LIMIT_DEADLINE, x->client);
			shutdown(x->fd, SHUT_RDWR);
			x->state = CONN_CUT;
		} else if (x->state == CONN_WAITING && now - x->since_ms > c->lim.idle_timeout_ms) {
			limit_hit(c, LIMIT_IDLE, x->client);
			shutdown(x->fd, SHUT_RDWR);
			x->state = CONN_CUT;
		}
	}
}

static void *watchdog_main(void *arg)
{
	struct conns *c = arg;
	unsigned tick = 0;
	pthread_mutex_lock(&c->mu);
	while (!c->quit) {
		struct timespec ts = deadline_timespec_in(TICK_MS);
		pthread_cond_timedwait(&c->cond, &c->mu, &ts);
		if (c->quit)
			break;
		watchdog_round(c, deadline_now_ms());
		limits_flush(c, deadline_now_ms());
		if (++tick % WAKE_TICKS == 0)
			streams_resume_waiting(c, true, 0);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

int conns_new(const struct conns_limits *lim, struct metrics *m, struct conns **out)
{
	struct conns *c = calloc(1, sizeof(*c));
	pthread_condattr_t attr;
	if (!c)
		return FORJA_ENOMEM;
	c->lim = *lim;
	c->m = m;
	pthread_mutex_init(&c->mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&c->cond, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&c->watchdog, NULL, watchdog_main, c) != 0) {
		pthread_cond_destroy(&c->cond);
		pthread_mutex_destroy(&c->mu);
		free(c);
		return FORJA_ENOMEM;
	}
	*out = c;
	return 0;
}

void conns_shutdown(struct conns *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->stopping = true;
	streams_resume_waiting(c, true, 0);
	pthread_mutex_unlock(&c->mu);
}

void conns_free(struct conns *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	c->quit = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->watchdog, NULL);
	/* MHD has closed every connection by now; what is left was never notified closed */
	while (c->all) {
		struct conn *next = c->all->next;
		free(c->all);
		c->all = next;
	}
	for (size_t b = 0; b < BUCKETS; b++) {
		while (c->peers[b]) {
			struct peer *next = c->peers[b]->next;
			free(c->peers[b]);
			c->peers[b] = next;
		}
	}
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int conns_stream_open(struct conns *c, const struct _u_request *req, int64_t key,
		      struct conns_stream **out)
{
	int rc = 0;
	struct conns_stream *s = calloc(1, sizeof(*s));
	if (!s)
		return FORJA_ENOMEM;
	pthread_mutex_lock(&c->mu);
	struct conn *conn = req_find(c, req);
	if (!conn) {
		rc = FORJA_ENOTFOUND;
	} else if (c->nstreams >= c->lim.max_streams) {
		rc = FORJA_EBUSY;
	} else {
		s->c = c;
		s->key = key;
		s->mhd = conn->mhd;
		c->nstreams++;
		s->next = c->streams;
		if (c->streams)
			c->streams->prev = s;
		c->streams = s;
	}
	if (rc == FORJA_EBUSY)
		metrics_http_limit(c->m, "streams");
	pthread_mutex_unlock(&c->mu);
	if (rc) {
		free(s);
		return rc;
	}
	metrics_http_open(c->m, 0, 1);
	*out = s;
	return 0;
}

void conns_stream_wait(struct conns_stream *s)
{
	struct conns *c = s->c;
	pthread_mutex_lock(&c->mu);
	if (s->pending || c->stopping) {
		s->pending = false;
	} else if (!s->waiting) {
		/* under the lock, so a wake never resumes a connection not yet suspended */
		MHD_suspend_connection(s->mhd);
		s->waiting = true;
	}
	pthread_mutex_unlock(&c->mu);
}

void conns_stream_close(struct conns_stream *s)
{
	if (!s)
		return;
	struct conns *c = s->c;
	pthread_mutex_lock(&c->mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		c->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	c->nstreams--;
	pthread_mutex_unlock(&c->mu);
	metrics_http_open(c->m, 0, -1);
	free(s);
}

void conns_wake(void *ud, int64_t key)
{
	struct conns *c = ud;
	pthread_mutex_lock(&c->mu);
	streams_resume_waiting(c, false, key);
	pthread_mutex_unlock(&c->mu);
}
