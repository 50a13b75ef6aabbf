/* RFC 9457 problem details: every error Forja answers is application/problem+json with
 * type, title, status and a detail that says what was wrong; JSON answers go out here too. */
#ifndef FORJA_PROBLEM_H
#define FORJA_PROBLEM_H

#include <jansson.h>
#include <ulfius.h>

/* Sets RESP to a problem with STATUS and a printf-style detail; returns U_CALLBACK_COMPLETE. */
int problem_send(struct _u_response *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, with an "errors" array (borrowed) listing every problem found, for 400/422. */
int problem_send_errors(struct _u_response *resp, int status, json_t *errors, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/*
 * Appends the one shape of an errors item, {"field","in","message"}, to ERRORS. IN is where
 * the request carries FIELD: "path", "query", "header" or "body". 0 or FORJA_ENOMEM.
 */
int problem_error_add(json_t *errors, const char *field, const char *in, const char *message);
/* Standard reason phrase for STATUS ("Not Found"). */
const char *problem_title(int status);
/* Sets a JSON body (object or array, borrowed) with STATUS; returns U_CALLBACK_COMPLETE.
 * Reals print as people write them (0.004, not 0.0040000000000000001). */
int problem_send_json(struct _u_response *resp, int status, json_t *body);

#endif
