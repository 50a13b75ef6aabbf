#include "client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/dynbuf.h"

#define CLIENT_DEFAULT_URL "http://127.0.0.1:8080"
#define CLIENT_MAX_BODY	   (8 * 1024 * 1024)

static void usage(FILE *out)
{
	fprintf(out,
		"usage: forja builds [--service S] [--status queued|running|succeeded|failed|"
		"cancelled] [--engine E] [--limit N]\n"
		"       forja logs [-f] ID\n"
		"They ask the server at FORJA_URL (default " CLIENT_DEFAULT_URL "), with the token "
		"of FORJA_READ_TOKEN or FORJA_API_TOKEN when set.\n");
}

static const char *base_url(void)
{
	const char *u = getenv("FORJA_URL");
	return u && *u ? u : CLIENT_DEFAULT_URL;
}

/* "Authorization: Bearer ..." from the environment into a new list, or NULL. */
static struct curl_slist *auth_header(void)
{
	const char *t = getenv("FORJA_READ_TOKEN");
	if (!t || !*t)
		t = getenv("FORJA_API_TOKEN");
	if (!t || !*t)
		return NULL;
	char line[1024];
	snprintf(line, sizeof(line), "Authorization: Bearer %s", t);
	return curl_slist_append(NULL, line);
}

/* The problem's detail (or the body) of an error answer, on stderr. */
static void say_error(const char *url, long status, const char *body)
{
	json_t *j = body ? json_loads(body, 0, NULL) : NULL;
	const char *detail = json_string_value(json_object_get(j, "detail"));
	fprintf(stderr, "forja: %s answered %ld: %s\n", url, status,
		detail ? detail : (body && *body ? body : "(no body)"));
	json_decref(j);
}

/* GET URL into *OUT (json_decref); 0, or 1 after saying why on stderr. */
static int get_json(const char *url, json_t **out)
{
	struct dynbuf b;
	long status = 0;
	char err[CURL_ERROR_SIZE] = "";
	int rc = 1;
	dynbuf_init(&b, CLIENT_MAX_BODY);
	*out = NULL;
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = auth_header();
	if (!h)
		goto out;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, dynbuf_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(h) != CURLE_OK) {
		fprintf(stderr, "forja: cannot reach %s: %s\n", url, err);
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	char *body = dynbuf_take(&b);
	if (status != 200) {
		say_error(url, status, body);
		free(body);
		goto out;
	}
	*out = body ? json_loads(body, 0, NULL) : NULL;
	free(body);
	if (!*out) {
		fprintf(stderr, "forja: %s did not answer JSON\n", url);
		goto out;
	}
	rc = 0;
out:
	dynbuf_free(&b);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;
}

static const char *str(json_t *o, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s && *s ? s : dflt;
}

static void print_row(json_t *b)
{
	char dur[32] = "-", pr[24] = "-";
	json_t *d = json_object_get(b, "duration_seconds");
	if (json_is_number(d))
		snprintf(dur, sizeof(dur), "%.1fs", json_number_value(d));
	json_t *p = json_object_get(b, "pull_request");
	if (json_is_integer(p))
		snprintf(pr, sizeof(pr), "#%lld", (long long)json_integer_value(p));
	printf("%-7lld %-24s %-14s %-10s %-8s %-8s %-20s %-9s %s\n",
	       (long long)json_integer_value(json_object_get(b, "id")), str(b, "service", "-"),
	       str(b, "version", "-"), str(b, "status", "-"), str(b, "commit", "-"), pr,
	       str(b, "created_at", "-"), dur, str(b, "engine", "-"));
}

/* Whether ARGV asks for the usage: --help or -h right after the command. */
static int wants_help(int argc, char **argv)
{
	return argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"));
}

/* --NAME VALUE or --NAME=VALUE at ARGV[*I]; advances *I past a separate value. */
static int flag(int argc, char **argv, int *i, const char *name, const char **value)
{
	size_t n = strlen(name);
	if (strncmp(argv[*i], name, n))
		return 0;
	if (argv[*i][n] == '=') {
		*value = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n] == '\0' && *i + 1 < argc) {
		*value = argv[++*i];
		return 1;
	}
	return 0;
}

/* "&KEY=escaped VALUE" appended to URL (LEN bytes) when VALUE is set. */
static void add_param(char *url, size_t len, const char *key, const char *value)
{
	if (!value)
		return;
	char *e = curl_easy_escape(NULL, value, 0);
	size_t off = strlen(url);
	snprintf(url + off, len - off, "&%s=%s", key, e ? e : "");
	curl_free(e);
}

int client_builds_main(int argc, char **argv)
{
	const char *service = NULL, *status = NULL, *engine = NULL, *limit = "20";
	if (wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (flag(argc, argv, &i, "--service", &service) ||
		    flag(argc, argv, &i, "--status", &status) ||
		    flag(argc, argv, &i, "--engine", &engine) ||
		    flag(argc, argv, &i, "--limit", &limit))
			continue;
		usage(stderr);
		return 2;
	}
	char url[4096];
	snprintf(url, sizeof(url), "%s/builds?limit=%s", base_url(), limit);
	add_param(url, sizeof(url), "service", service);
	add_param(url, sizeof(url), "status", status);
	add_param(url, sizeof(url), "engine", engine);
	json_t *j = NULL;
	if (get_json(url, &j))
		return 1;
	json_t *list = json_object_get(j, "builds"), *b;
	size_t i;
	/* the commit shortened as git does; the rest as the API says it */
	printf("%-7s %-24s %-14s %-10s %-8s %-8s %-20s %-9s %s\n", "ID", "SERVICE", "VERSION",
	       "STATUS", "COMMIT", "PR", "QUEUED", "DURATION", "ENGINE");
	json_array_foreach(list, i, b)
	{
		json_t *c = json_object_get(b, "commit");
		if (json_is_string(c) && json_string_length(c) > 8) {
			char shortc[9];
			snprintf(shortc, sizeof(shortc), "%s", json_string_value(c));
			json_object_set_new(b, "commit", json_string(shortc));
		}
		print_row(b);
	}
	if (json_array_size(list) == 0)
		fprintf(stderr, "forja: no builds match\n");
	json_decref(j);
	return 0;
}

static size_t to_stdout(char *p, size_t size, size_t n, void *ud)
{
	(void)ud;
	size_t w = fwrite(p, size, n, stdout);
	fflush(stdout);
	return w * size;
}

int client_logs_main(int argc, char **argv)
{
	int follow = 0;
	const char *id = NULL;
	if (wants_help(argc, argv)) {
		usage(stdout);
		return 0;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
			follow = 1;
		else if (!id && argv[i][0] != '-')
			id = argv[i];
		else
			id = NULL, i = argc;
	}
	if (!id || strspn(id, "0123456789") != strlen(id)) {
		usage(stderr);
		return 2;
	}
	char url[2100], burl[2048];
	snprintf(burl, sizeof(burl), "%s/builds/%s", base_url(), id);
	json_t *b = NULL;
	if (get_json(burl, &b)) /* says "no build with id" itself */
		return 1;
	json_decref(b);
	snprintf(url, sizeof(url), "%s/log%s", burl, follow ? "?follow=true" : "");
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = auth_header();
	char err[CURL_ERROR_SIZE] = "";
	int rc = 1;
	if (!h)
		goto out;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_stdout);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	if (curl_easy_perform(h) != CURLE_OK) {
		fprintf(stderr, "forja: cannot read %s: %s\n", url, err);
		goto out;
	}
	rc = 0;
	if (follow && get_json(burl, &b) == 0) {
		/* a script waiting on the build gets its outcome as the exit code */
		rc = strcmp(str(b, "status", ""), "succeeded") ? 1 : 0;
		fprintf(stderr, "forja: build %s %s\n", id, str(b, "status", "?"));
		json_decref(b);
	}
out:
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;
}
