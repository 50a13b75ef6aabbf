/* Route binding from the OpenAPI document: each operationId maps to one handler of the table
 * in routes.c; unknown paths get 404, known paths with another method 405 with Allow. Every GET
 * also answers HEAD. Before a handler runs: the body cap, the token the operation's security
 * asks for, and every declared parameter. */
#ifndef FORJA_ROUTES_H
#define FORJA_ROUTES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <ulfius.h>

#include "app.h"

struct route_handler {
	const char *operation_id;
	int (*fn)(const struct _u_request *req, struct _u_response *resp, struct app *app);
	bool webhook_body; /* capped at FORJA_WEBHOOK_MAX_BYTES, not FORJA_MAX_BODY_BYTES */
};

struct routes;

/* The table of every handler Forja has (NULL-terminated by a zeroed entry). */
extern const struct route_handler routes_table[];

/*
 * Checks DOC against TABLE: every operation has exactly one handler, every handler is used
 * once, no two operations share a method and path. On error writes a message naming the
 * operation into ERR and returns FORJA_EINVAL. *OUT owned by caller: routes_free().
 */
int routes_build(const char *doc, size_t len, const struct route_handler *table,
		 struct routes **out, char *err, size_t errlen);
/* Binds R on INST for APP: every request goes through one matcher of the document's paths (no
 * per-route ulfius endpoint); 404 for an unknown path, 405 with Allow for a known path's other
 * methods. R must outlive INST's framework. */
int routes_register(struct routes *r, struct _u_instance *inst, struct app *app);
/*
 * The checks made before the handler of OPERATION_ID runs: body cap, the token its security asks
 * for, every declared parameter, on REQ (borrowed) for APP (borrowed: its cfg and metrics are
 * read). 0 when the handler may run; FORJA_EINVAL when RESP holds the refusal (401, 403, 413, or
 * 400 listing every parameter problem); FORJA_ENOTFOUND when R binds no such operation. The
 * request path without a socket, for tests and the fuzz harness.
 */
int routes_check_request(const struct routes *r, const char *operation_id,
			 const struct _u_request *req, struct _u_response *resp, struct app *app);
/* Number of bound operations. */
size_t routes_count(const struct routes *r);
void routes_free(struct routes *r);

#endif
