/* The HTTP server: ulfius on libmicrohttpd's epoll thread pool with guarded connections
 * (conns.h), routes bound from the embedded OpenAPI document, an access-log line and a metric
 * per request. */
#ifndef FORJA_SERVER_H
#define FORJA_SERVER_H

#include <stddef.h>

#include "app.h"

struct server;

/*
 * Binds HOST:PORT (PORT 0 = an ephemeral port, see server_port) and serves APP's routes.
 * On failure writes why into ERR. *OUT owned by the caller: server_stop().
 */
int server_start(struct app *app, const char *host, unsigned port, struct server **out, char *err,
		 size_t errlen);
unsigned server_port(const struct server *srv);
/* Stops accepting, lets long-lived responses notice (app->stopping), and frees SRV. */
void server_stop(struct server *srv);

#endif
