#include "problem_check.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SCHEMAS_PREFIX "#/components/schemas/"

static json_t *resolve(json_t *doc, json_t *schema)
{
	const char *ref = json_string_value(json_object_get(schema, "$ref"));
	if (!ref)
		return schema;
	if (strncmp(ref, SCHEMAS_PREFIX, strlen(SCHEMAS_PREFIX)))
		return NULL;
	json_t *all = json_object_get(json_object_get(doc, "components"), "schemas");
	return json_object_get(all, ref + strlen(SCHEMAS_PREFIX));
}

static bool type_ok(const char *type, json_t *v)
{
	if (!strcmp(type, "object"))
		return json_is_object(v);
	if (!strcmp(type, "array"))
		return json_is_array(v);
	if (!strcmp(type, "string"))
		return json_is_string(v);
	if (!strcmp(type, "integer"))
		return json_is_integer(v);
	if (!strcmp(type, "number"))
		return json_is_number(v);
	if (!strcmp(type, "boolean"))
		return json_is_boolean(v);
	return false;
}

static bool in_enum(json_t *en, json_t *v)
{
	size_t i;
	json_t *e;
	json_array_foreach(en, i, e)
	{
		if (json_equal(e, v))
			return true;
	}
	return false;
}

static int check_at(json_t *doc, json_t *schema, json_t *value, const char *where, char *why,
		    size_t len);

static int check_object(json_t *doc, json_t *schema, json_t *value, const char *where, char *why,
			size_t len)
{
	json_t *props = json_object_get(schema, "properties");
	json_t *extra = json_object_get(schema, "additionalProperties");
	json_t *name, *member;
	const char *key;
	char sub[512];
	size_t i;

	json_array_foreach(json_object_get(schema, "required"), i, name)
	{
		if (!json_object_get(value, json_string_value(name))) {
			snprintf(why, len, "%s lacks the required member \"%s\"", where,
				 json_string_value(name));
			return -1;
		}
	}
	json_object_foreach(value, key, member)
	{
		json_t *ps = json_object_get(props, key);
		snprintf(sub, sizeof(sub), "%s.%s", where, key);
		if (!ps && json_is_false(extra)) {
			snprintf(why, len, "%s is not a member the schema allows", sub);
			return -1;
		}
		if (!ps && json_is_object(extra))
			ps = extra;
		if (ps && check_at(doc, ps, member, sub, why, len))
			return -1;
	}
	return 0;
}

static int check_at(json_t *doc, json_t *schema, json_t *value, const char *where, char *why,
		    size_t len)
{
	json_t *s = resolve(doc, schema);
	const char *type = json_string_value(json_object_get(s, "type"));
	json_t *en = json_object_get(s, "enum");
	char sub[512];
	size_t i;
	json_t *item;

	if (!s) {
		snprintf(why, len, "%s: the schema has a $ref the document does not define", where);
		return -1;
	}
	if (json_is_null(value) && json_is_true(json_object_get(s, "nullable")))
		return 0;
	if (type && !type_ok(type, value)) {
		snprintf(why, len, "%s is not of type %s", where, type);
		return -1;
	}
	if (json_is_array(en) && !in_enum(en, value)) {
		char *v = json_dumps(value, JSON_ENCODE_ANY);
		snprintf(why, len, "%s is %s, not one of the schema's enum", where, v ? v : "?");
		free(v);
		return -1;
	}
	if (json_is_object(value))
		return check_object(doc, s, value, where, why, len);
	json_array_foreach(json_is_array(value) ? value : NULL, i, item)
	{
		snprintf(sub, sizeof(sub), "%s[%zu]", where, i);
		if (check_at(doc, json_object_get(s, "items"), item, sub, why, len))
			return -1;
	}
	return 0;
}

int problem_check_schema(json_t *doc, json_t *schema, json_t *value, char *why, size_t len)
{
	return check_at(doc, schema, value, "body", why, len);
}

int problem_check_body(json_t *doc, long status, const char *content_type, const char *body,
		       char *why, size_t len)
{
	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	json_t *schema = json_object_get(schemas, "Problem");
	json_t *j = NULL;
	int rc = -1;

	if (!content_type || strncmp(content_type, "application/problem+json", 24) ||
	    (content_type[24] && content_type[24] != ';')) {
		snprintf(why, len, "Content-Type is %s, not application/problem+json",
			 content_type ? content_type : "missing");
		goto out;
	}
	j = json_loads(body, 0, NULL);
	if (!j) {
		snprintf(why, len, "the body is not JSON");
		goto out;
	}
	if (!schema) {
		snprintf(why, len, "the document has no Problem schema");
		goto out;
	}
	if (check_at(doc, schema, j, "body", why, len))
		goto out;
	if (json_integer_value(json_object_get(j, "status")) != status) {
		snprintf(why, len, "body.status is %lld, the answer's status %ld",
			 (long long)json_integer_value(json_object_get(j, "status")), status);
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

json_t *problem_check_document(void)
{
	char path[1024];
	json_error_t jerr;
	snprintf(path, sizeof(path), "%s/openapi/openapi.json", testenv_need("FORJA_SOURCE_DIR"));
	json_t *doc = json_load_file(path, 0, &jerr);
	ck_assert_msg(doc != NULL, "%s: %s", path, jerr.text);
	return doc;
}

/* True when PATH (PLEN bytes) matches the document's TEMPLATE ("/builds/{id}"). */
static bool path_matches(const char *tmpl, const char *path, size_t plen)
{
	size_t pi = 0;
	for (const char *t = tmpl; *t; t++) {
		if (*t == '{') {
			size_t start = pi;
			while (pi < plen && path[pi] != '/')
				pi++;
			if (pi == start)
				return false;
			t = strchr(t, '}');
			if (!t)
				return false;
		} else if (pi < plen && path[pi] == *t) {
			pi++;
		} else {
			return false;
		}
	}
	return pi == plen;
}

/* True when the document declares STATUS of METHOD PATH with a body other than a Problem. */
static bool documented_otherwise(json_t *doc, const char *method, const char *url, long status)
{
	const char *scheme = strstr(url, "://");
	const char *path = scheme ? strchr(scheme + 3, '/') : NULL;
	char lower[16], code[8];
	const char *tmpl;
	json_t *item;
	size_t i;

	if (!path)
		return false;
	for (i = 0; method[i] && i + 1 < sizeof(lower); i++)
		lower[i] = (char)(method[i] | 0x20);
	lower[i] = '\0';
	snprintf(code, sizeof(code), "%ld", status);
	json_object_foreach(json_object_get(doc, "paths"), tmpl, item)
	{
		if (!path_matches(tmpl, path, strcspn(path, "?#")))
			continue;
		json_t *content = json_object_get(
		    json_object_get(json_object_get(json_object_get(item, lower), "responses"),
				    code),
		    "content");
		return json_is_object(content) &&
		       !json_object_get(content, "application/problem+json");
	}
	return false;
}

static bool from_test_registry(const char *url)
{
	const char *reg = getenv("FORJA_TEST_REGISTRY");
	const char *host = strstr(url, "://");
	return reg && *reg && host && !strncmp(host + 3, reg, strlen(reg));
}

void problem_check_response(const char *method, const char *url, const struct http_resp *r)
{
	char why[512] = "";
	if (r->status < 400 || !strcasecmp(method, "HEAD") || from_test_registry(url))
		return;
	json_t *doc = problem_check_document();
	char *ct = http_resp_header(r, "Content-Type");
	int rc = documented_otherwise(doc, method, url, r->status)
		     ? 0
		     : problem_check_body(doc, r->status, ct, r->body, why, sizeof(why));
	free(ct);
	json_decref(doc);
	ck_assert_msg(rc == 0, "%s %s answered %ld outside the document's Problem schema: %s\n%s",
		      method, url, r->status, why, r->body);
}
