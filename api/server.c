#include "server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "../src/errors.h"
#include "../src/log.h"
#include "assets.h"
#include "routes.h"

/* GitHub caps deliveries at 25 MB; one byte more tells a truncated body from a full one. */
#define SERVER_MAX_BODY (25u * 1024u * 1024u + 1u)
/* Idle keep-alive connections are closed after this long; log followers keep theirs busy. */
#define SERVER_IDLE_TIMEOUT_S 120

struct server {
	struct _u_instance inst;
	struct routes *routes;
	struct app *app;
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

static int server_run(struct server *srv, int max_conn, char *err, size_t errlen)
{
	/* ulfius requires the first two; the rest bound threads and idle connections */
	struct MHD_OptionItem ops[] = {
	    {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)mhd_request_completed, NULL},
	    {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)ulfius_uri_logger, NULL},
	    {MHD_OPTION_SOCK_ADDR, 0, &srv->addr},
	    {MHD_OPTION_CONNECTION_LIMIT, max_conn, NULL},
	    {MHD_OPTION_CONNECTION_TIMEOUT, SERVER_IDLE_TIMEOUT_S, NULL},
	    {MHD_OPTION_END, 0, NULL},
	};
	unsigned flags =
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;

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
	srv->inst.max_post_body_size = SERVER_MAX_BODY;
	srv->inst.timeout = SERVER_IDLE_TIMEOUT_S;
	rc = routes_register(srv->routes, &srv->inst, app);
	if (rc) {
		snprintf(err, errlen, "cannot register the routes");
		goto fail_inst;
	}
	rc = server_run(srv, app->cfg->max_connections, err, errlen);
	if (rc)
		goto fail_inst;
	log_info("serving %zu operations from the OpenAPI document on %s:%u",
		 routes_count(srv->routes), host, srv->port);
	*out = srv;
	return 0;
fail_inst:
	ulfius_clean_instance(&srv->inst);
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
	/* streams poll this at least once a second, so the stop below does not wait long */
	atomic_store(&srv->app->stopping, 1);
	if (srv->running)
		ulfius_stop_framework(&srv->inst);
	ulfius_clean_instance(&srv->inst);
	routes_free(srv->routes);
	free(srv);
}
