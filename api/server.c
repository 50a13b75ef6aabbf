#include "server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "../src/errors.h"
#include "../src/log.h"
#include "assets.h"
#include "conns.h"
#include "routes.h"

/* Above the connection limit Forja answers 503 itself; MHD's own limit is a backstop past it
 * for the connections that are being refused. */
#define SERVER_LIMIT_SLACK 64

struct server {
	struct _u_instance inst;
	struct routes *routes;
	struct app *app;
	struct conns *conns;
	struct sockaddr_in addr;
	unsigned port;
	int running;
};

static int server_bind_addr(struct server *srv, const char *host, unsigned port, char *err,
			    size_t errlen)
{
	const char *h = (!strcmp(host, "localhost") || !*host) ? "127.0.0.1" : host;
	memset(&srv->addr, 0, sizeof(srv->addr));
	srv->addr.sin_family = AF_INET;
	srv->addr.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, h, &srv->addr.sin_addr) != 1) {
		snprintf(err, errlen, "FORJA_LISTEN: \"%s\" is not an IPv4 address", host);
		return FORJA_EINVAL;
	}
	return 0;
}

static unsigned server_read_port(struct server *srv)
{
	const union MHD_DaemonInfo *info =
	    MHD_get_daemon_info(srv->inst.mhd_daemon, MHD_DAEMON_INFO_LISTEN_FD);
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	if (!info || getsockname(info->listen_fd, (struct sockaddr *)&sa, &len))
		return 0;
	return ntohs(sa.sin_port);
}

/* MHD reports every connection a client or the watchdog dropped: at debug level only, or an
 * attack would flood the log (conns logs the limits, rate-limited). */
static void server_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", msg);
}

/*
 * epoll with a small thread pool: a connection costs a table entry, not a thread, and select()'s
 * 1,024-descriptor ceiling is gone. Long-lived responses suspend their connection while they
 * wait (conns.h), since a callback that blocks would hold one of the few threads.
 */
static int server_run(struct server *srv, const struct config *cfg, char *err, size_t errlen)
{
	struct MHD_OptionItem ops[CONNS_MHD_OPTIONS + 7];
	size_t n = CONNS_MHD_OPTIONS + 1;

	/* MHD wants its logger first, or it logs the options before it on its own */
	ops[0] =
	    (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)server_mhd_log, NULL};
	/* ulfius's URI logger and completion callback, wrapped by conns */
	conns_mhd_options(srv->conns, ops + 1);
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &srv->addr};
	ops[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)cfg->http_threads, NULL};
	ops[n++] = (struct MHD_OptionItem){
	    MHD_OPTION_CONNECTION_LIMIT, (intptr_t)cfg->max_connections + SERVER_LIMIT_SLACK, NULL};
	/* a backstop for a client that stops reading a response; conns times the rest */
	ops[n++] =
	    (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
				    (intptr_t)cfg->idle_timeout_s + cfg->request_deadline_s, NULL};
	ops[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	unsigned flags =
	    MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;

	if (ulfius_start_framework_with_mhd_options(&srv->inst, flags, ops) != U_OK) {
		snprintf(err, errlen,
			 "cannot listen on %s:%u (in use, or not an address of this host?)",
			 inet_ntoa(srv->addr.sin_addr), ntohs(srv->addr.sin_port));
		return FORJA_EIO;
	}
	srv->running = 1;
	srv->port = server_read_port(srv);
	return 0;
}

/* Every connection is a descriptor: the soft limit goes up to what the limits need. */
static void server_raise_nofile(const struct config *cfg)
{
	rlim_t want = (rlim_t)cfg->max_connections + SERVER_LIMIT_SLACK + 256;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want) ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur < want)
		log_warn("FORJA_MAX_CONNECTIONS=%d needs about %llu open files but the limit is "
			 "%llu: raise it (LimitNOFILE=, ulimit -n) or lower the setting",
			 cfg->max_connections, (unsigned long long)want,
			 (unsigned long long)rl.rlim_cur);
}

static int server_conns(struct server *srv, const struct config *cfg)
{
	const struct conns_limits lim = {
	    .max_connections = cfg->max_connections,
	    .max_per_address = cfg->max_per_address,
	    .max_streams = cfg->max_streams,
	    .request_deadline_ms = cfg->request_deadline_s * 1000,
	    .idle_timeout_ms = cfg->idle_timeout_s * 1000,
	};
	int rc = conns_new(&lim, srv->app->metrics, &srv->conns);
	if (rc)
		return rc;
	srv->app->conns = srv->conns;
	if (srv->app->logs)
		build_logs_set_notify(srv->app->logs, conns_wake, srv->conns);
	if (srv->app->events)
		events_set_notify(srv->app->events, conns_wake, srv->conns);
	return 0;
}

static void server_conns_close(struct server *srv)
{
	if (!srv->conns)
		return;
	if (srv->app->logs)
		build_logs_set_notify(srv->app->logs, NULL, NULL);
	if (srv->app->events)
		events_set_notify(srv->app->events, NULL, NULL);
	srv->app->conns = NULL;
	conns_free(srv->conns);
	srv->conns = NULL;
}

int server_start(struct app *app, const char *host, unsigned port, struct server **out, char *err,
		 size_t errlen)
{
	struct server *srv = calloc(1, sizeof(*srv));
	struct asset doc;
	int rc;

	if (!srv)
		return FORJA_ENOMEM;
	srv->app = app;
	rc = assets_find("openapi.json", &doc);
	if (rc) {
		snprintf(err, errlen, "the OpenAPI document is not embedded in this binary");
		goto fail;
	}
	rc = routes_build((const char *)doc.data, doc.len, routes_table, &srv->routes, err, errlen);
	if (rc)
		goto fail;
	rc = server_bind_addr(srv, host, port, err, errlen);
	if (rc)
		goto fail;
	/* port 0 is refused by ulfius_init_instance; the bind address carries the real one */
	if (ulfius_init_instance(&srv->inst, port ? port : 1, &srv->addr, NULL) != U_OK) {
		snprintf(err, errlen, "cannot initialise the HTTP server");
		rc = FORJA_ENOMEM;
		goto fail;
	}
	/* one byte over the largest cap tells a truncated body from a full one */
	srv->inst.max_post_body_size =
	    (app->cfg->webhook_max_bytes > app->cfg->max_body_bytes ? app->cfg->webhook_max_bytes
								    : app->cfg->max_body_bytes) +
	    1;
	rc = routes_register(srv->routes, &srv->inst, app);
	if (rc) {
		snprintf(err, errlen, "cannot register the routes");
		goto fail_inst;
	}
	server_raise_nofile(app->cfg);
	rc = server_conns(srv, app->cfg);
	if (rc) {
		snprintf(err, errlen, "cannot start the connection watchdog");
		goto fail_inst;
	}
	rc = server_run(srv, app->cfg, err, errlen);
	if (rc)
		goto fail_inst;
	log_info("serving %zu operations from the OpenAPI document on %s:%u",
		 routes_count(srv->routes), host, srv->port);
	*out = srv;
	return 0;
fail_inst:
	ulfius_clean_instance(&srv->inst);
	server_conns_close(srv);
fail:
	routes_free(srv->routes);
	free(srv);
	return rc;
}

unsigned server_port(const struct server *srv)
{
	return srv->port;
}

void server_stop(struct server *srv)
{
	if (!srv)
		return;
	/* streams end when they see this; suspended ones are resumed to see it */
	atomic_store(&srv->app->stopping, 1);
	conns_shutdown(srv->conns);
	if (srv->running)
		ulfius_stop_framework(&srv->inst);
	ulfius_clean_instance(&srv->inst);
	server_conns_close(srv);
	routes_free(srv->routes);
	free(srv);
}
