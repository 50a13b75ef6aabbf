/* Holds every error answer a test receives to the document: a 4xx/5xx from Forja must be
 * application/problem+json matching the Problem schema of openapi/openapi.json (read from
 * FORJA_SOURCE_DIR), unless the document gives that answer another body (503 Health). */
#ifndef FORJA_PROBLEM_CHECK_H
#define FORJA_PROBLEM_CHECK_H

#include <jansson.h>
#include <stddef.h>

#include "testenv.h"

/*
 * 0 when VALUE matches SCHEMA of DOC (both borrowed): $ref, type, nullable, enum, required,
 * properties, additionalProperties and items. Otherwise -1 with where and why in WHY.
 */
int problem_check_schema(json_t *doc, json_t *schema, json_t *value, char *why, size_t len);

/*
 * 0 when an answer with STATUS, CONTENT_TYPE (may be NULL) and BODY is a Problem of DOC whose
 * status member equals STATUS; otherwise -1 with the reason in WHY.
 */
int problem_check_body(json_t *doc, long status, const char *content_type, const char *body,
		       char *why, size_t len);

/* The document at FORJA_SOURCE_DIR/openapi/openapi.json; owned by caller (json_decref). Aborts
 * the test when it cannot be read. */
json_t *problem_check_document(void);

/*
 * Aborts the test when R, the answer to METHOD URL, is an error answer of Forja that the
 * document does not allow. Answers of the test registry (FORJA_TEST_REGISTRY) and of HEAD
 * are not checked. http_request() calls it on every answer.
 */
void problem_check_response(const char *method, const char *url, const struct http_resp *r);

#endif
