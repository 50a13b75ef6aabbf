#include "problem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "../src/errors.h"

#define PROBLEM_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(9))

const char *problem_title(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 507: return "Insufficient Storage";
	}
	return "Error";
}

/* BODY (borrowed) as the answer with STATUS and CONTENT_TYPE; -1 when it cannot be printed. */
static int set_body(struct _u_response *resp, int status, json_t *body, const char *content_type)
{
	char *text = json_dumps(body, PROBLEM_DUMP_FLAGS);
	if (!text)
		return -1;
	ulfius_set_string_body_response(resp, (unsigned)status, text);
	u_map_put(resp->map_header, "Content-Type", content_type);
	free(text);
	return 0;
}

static int problem_sendv(struct _u_response *resp, int status, json_t *errors, const char *fmt,
			 va_list ap)
{
	char detail[4096];
	json_t *body;

	vsnprintf(detail, sizeof(detail), fmt, ap);
	body = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank", "title",
			 problem_title(status), "status", status, "detail", detail);
	if (body && errors)
		json_object_set(body, "errors", errors);
	if (!body || set_body(resp, status, body, "application/problem+json")) {
		/* out of memory: still answer something well-formed */
		ulfius_set_string_body_response(resp, 500, "");
	}
	json_decref(body);
	return U_CALLBACK_COMPLETE;
}

int problem_send(struct _u_response *resp, int status, const char *fmt, ...)
{
	va_list ap;
	int rc;
	va_start(ap, fmt);
	rc = problem_sendv(resp, status, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int problem_send_errors(struct _u_response *resp, int status, json_t *errors, const char *fmt, ...)
{
	va_list ap;
	int rc;
	va_start(ap, fmt);
	rc = problem_sendv(resp, status, errors, fmt, ap);
	va_end(ap);
	return rc;
}

int problem_error_add(json_t *errors, const char *field, const char *in, const char *message)
{
	json_t *e = json_pack("{s:s, s:s, s:s}", "field", field, "in", in, "message", message);
	return json_array_append_new(errors, e) ? FORJA_ENOMEM : 0;
}

int problem_send_json(struct _u_response *resp, int status, json_t *body)
{
	if (set_body(resp, status, body, "application/json"))
		return problem_send(resp, 500, "out of memory");
	return U_CALLBACK_COMPLETE;
}
