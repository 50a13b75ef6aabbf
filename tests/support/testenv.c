#include "testenv.h"

#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "log.h"
#include "problem_check.h"

const char *testenv_need(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		ck_abort_msg("%s is not set: run the suite with scripts/test.sh, which starts the "
			     "services it names",
			     name);
	return v;
}

unsigned testenv_free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

static void testenv_tmpdir(struct testenv *t)
{
	const char *base = getenv("TMPDIR");
	snprintf(t->data_dir, sizeof(t->data_dir), "%s/forja-test-XXXXXX", base ? base : "/tmp");
	ck_assert_msg(mkdtemp(t->data_dir) != NULL, "mkdtemp failed");
}

void testenv_start(struct testenv *t, const char *const *args)
{
	char *argv[64];
	char data_flag[300], reg_flag[300], err[1024] = "";
	int argc = 0, rc;
	const char *reg = getenv("FORJA_TEST_REGISTRY");

	memset(t, 0, sizeof(*t));
	testenv_tmpdir(t);
	snprintf(data_flag, sizeof(data_flag), "--data-dir=%s", t->data_dir);
	snprintf(reg_flag, sizeof(reg_flag), "--registry=%s", reg ? reg : "127.0.0.1:1");
	argv[argc++] = "forja";
	argv[argc++] = data_flag;
	argv[argc++] = reg_flag;
	argv[argc++] = "--listen=127.0.0.1:0";
	argv[argc++] = "--log-level=warning";
	for (size_t i = 0; args && args[i] && argc < 62; i++)
		argv[argc++] = (char *)args[i];
	argv[argc] = NULL;

	rc = config_load(&t->cfg, argc, argv, err, sizeof(err));
	ck_assert_msg(rc == 0, "config_load: %s", err);
	log_open(t->cfg.log_level);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = app_open(&t->app, &t->cfg, err, sizeof(err));
	ck_assert_msg(rc == 0, "app_open: %s", err);
	rc = app_start(&t->app);
	ck_assert_msg(rc == 0, "app_start: %d", rc);
	rc = server_start(&t->app, "127.0.0.1", 0, &t->server, err, sizeof(err));
	ck_assert_msg(rc == 0, "server_start: %s", err);
	t->port = server_port(t->server);
	ck_assert_msg(t->port > 0, "no port");
	snprintf(t->base_url, sizeof(t->base_url), "http://127.0.0.1:%u", t->port);
}

void testenv_stop(struct testenv *t)
{
	char cmd[400];
	server_stop(t->server);
	t->server = NULL;
	app_close(&t->app);
	config_free(&t->cfg);
	if (t->data_dir[0] && !getenv("FORJA_TEST_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->data_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "testenv: could not remove %s\n", t->data_dir);
	}
	log_close();
}

struct http_buf {
	char *data;
	size_t len;
};

static size_t http_collect(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct http_buf *b = ud;
	size_t n = size * nmemb;
	char *p = realloc(b->data, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->len += n;
	p[b->len] = '\0';
	b->data = p;
	return n;
}

int http_request(const char *method, const char *url, const char *const *headers, const char *body,
		 size_t len, struct http_resp *out)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hl = NULL;
	struct http_buf b = {0}, hb = {0};
	CURLcode rc;

	memset(out, 0, sizeof(*out));
	if (!h)
		return -1;
	for (size_t i = 0; headers && headers[i]; i++)
		hl = curl_slist_append(hl, headers[i]);
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_collect);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &hb);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	out->body = b.data ? b.data : strdup("");
	out->len = b.len;
	out->headers = hb.data ? hb.data : strdup("");
	if (rc == CURLE_OK)
		problem_check_response(method, url, out);
	return rc == CURLE_OK ? 0 : -1;
}

void http_resp_free(struct http_resp *r)
{
	free(r->body);
	free(r->headers);
	memset(r, 0, sizeof(*r));
}

char *http_resp_header(const struct http_resp *r, const char *name)
{
	size_t nl = strlen(name);
	const char *line = r->headers;
	char *found = NULL;

	/* the last occurrence wins: after redirects or 100-continue there are several blocks */
	while (line && *line) {
		const char *eol = strstr(line, "\r\n");
		size_t ll = eol ? (size_t)(eol - line) : strlen(line);
		if (ll > nl && !strncasecmp(line, name, nl) && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			free(found);
			found = strndup(v, ll - (size_t)(v - line));
		}
		line = eol ? eol + 2 : NULL;
	}
	return found;
}

long testenv_metric(const struct testenv *t, const char *series, const char *token)
{
	struct http_resp r;
	char url[128], auth[160], line[160];
	const char *headers[] = {auth, NULL};
	snprintf(url, sizeof(url), "%s/metrics", t->base_url);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
	/* a server at its connection limit refuses the scrape itself (503) until the connections
	 * a test just closed are seen gone: ask again, for up to 5 s */
	for (int i = 0;; i++) {
		ck_assert_int_eq(http_request("GET", url, token ? headers : NULL, NULL, 0, &r), 0);
		if (r.status != 503 || i == 100)
			break;
		http_resp_free(&r);
		usleep(50 * 1000);
	}
	ck_assert_int_eq(r.status, 200);
	/* the series at the start of a line, not its name in a # HELP line */
	snprintf(line, sizeof(line), "\n%s ", series);
	const char *p = strstr(r.body, line);
	ck_assert_msg(p != NULL, "%s not in /metrics", series);
	long v = atol(p + strlen(line));
	http_resp_free(&r);
	return v;
}
