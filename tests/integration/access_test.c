/* Facing the internet: with a read token the history, logs, images and metrics need it (or the
 * API token) while the badge, health, docs and document stay public; every GET answers HEAD
 * with the same headers; and each connection limit, when hit, answers or closes as documented
 * and is counted in /metrics. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../src/build.h"
#include "../../src/store.h"
#include "testenv.h"

#define READ "read-token-0123456789"
#define API  "api-token-0123456789"

static long get(const struct testenv *t, const char *method, const char *path, const char *token,
		struct http_resp *r)
{
	char url[256], auth[128];
	const char *headers[] = {auth, NULL};
	snprintf(url, sizeof(url), "%s%s", t->base_url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
	ck_assert_int_eq(http_request(method, url, token ? headers : NULL, NULL, 0, r), 0);
	return r->status;
}

static long status_of(const struct testenv *t, const char *path, const char *token)
{
	struct http_resp r;
	long s = get(t, "GET", path, token, &r);
	http_resp_free(&r);
	return s;
}

static int64_t insert_build(struct testenv *t)
{
	struct build *b = build_new();
	b->service = strdup("access-svc");
	b->version = strdup("1");
	b->type = strdup("docker");
	b->repository = strdup("git://127.0.0.1/access.git");
	b->clone_url = strdup("git://127.0.0.1/access.git");
	b->commit = strdup("0123456789abcdef0123456789abcdef01234567");
	b->ref = strdup(b->commit);
	b->image = strdup("127.0.0.1:5000/access-svc:1");
	b->trigger = TRIGGER_CLI;
	ck_assert_int_eq(store_build_insert(t->app.store, b), 0);
	int64_t id = b->id;
	build_free(b);
	return id;
}

START_TEST(read_token_guards_the_history)
{
	struct testenv t;
	const char *args[] = {"--read-token=" READ, "--api-token=" API, NULL};
	char log_path[64], build_path[64];
	testenv_start(&t, args);
	int64_t id = insert_build(&t);
	snprintf(build_path, sizeof(build_path), "/builds/%lld", (long long)id);
	snprintf(log_path, sizeof(log_path), "/builds/%lld/log", (long long)id);
	const char *guarded[] = {"/builds", build_path, log_path, "/images", "/metrics"};
	for (size_t i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
		struct http_resp r;
		ck_assert_int_eq(get(&t, "GET", guarded[i], NULL, &r), 401);
		char *www = http_resp_header(&r, "WWW-Authenticate");
		ck_assert_msg(www && strstr(www, "Bearer"), "%s: no WWW-Authenticate", guarded[i]);
		free(www);
		ck_assert_ptr_nonnull(strstr(r.body, "read token"));
		http_resp_free(&r);
		ck_assert_int_eq(status_of(&t, guarded[i], "wrong-token"), 401);
		/* /images asks the registry, which may answer 502; never 401 */
		long with_read = status_of(&t, guarded[i], READ);
		long with_api = status_of(&t, guarded[i], API);
		ck_assert_msg(with_read == 200 || (i == 3 && with_read == 502),
			      "%s with the read token: %ld", guarded[i], with_read);
		ck_assert_int_eq(with_api, with_read);
	}
	/* the read token is not the API token */
	struct http_resp r;
	char url[128];
	const char *h[] = {"Authorization: Bearer " READ, NULL};
	snprintf(url, sizeof(url), "%s/builds/%lld/cancel", t.base_url, (long long)id);
	ck_assert_int_eq(http_request("POST", url, h, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 401);
	http_resp_free(&r);
	const char *open_paths[] = {"/badge?service=access-svc", "/healthz", "/docs",
				    "/openapi.json"};
	for (size_t i = 0; i < sizeof(open_paths) / sizeof(open_paths[0]); i++) {
		long s = status_of(&t, open_paths[i], NULL);
		ck_assert_msg(s == 200 || (i == 1 && s == 503), "%s without a token: %ld",
			      open_paths[i], s);
	}
	testenv_stop(&t);
}
END_TEST

START_TEST(without_a_read_token_reads_are_public)
{
	struct testenv t;
	testenv_start(&t, NULL);
	insert_build(&t);
	ck_assert_int_eq(status_of(&t, "/builds", NULL), 200);
	ck_assert_int_eq(status_of(&t, "/metrics", NULL), 200);
	testenv_stop(&t);
}
END_TEST

static char *header_of(const struct http_resp *r, const char *name)
{
	char *v = http_resp_header(r, name);
	return v ? v : strdup("(none)");
}

START_TEST(head_matches_get)
{
	struct testenv t;
	testenv_start(&t, NULL);
	int64_t id = insert_build(&t);
	char build_path[64];
	snprintf(build_path, sizeof(build_path), "/builds/%lld", (long long)id);
	const char *paths[] = {"/badge?service=access-svc",
			       "/openapi.json",
			       "/docs",
			       "/builds",
			       build_path,
			       "/builds/999999",
			       "/metrics"};
	const char *names[] = {"Content-Type", "Content-Length", "Cache-Control", "ETag"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct http_resp g, h;
		get(&t, "GET", paths[i], NULL, &g);
		get(&t, "HEAD", paths[i], NULL, &h);
		ck_assert_msg(g.status == h.status, "%s: GET %ld, HEAD %ld", paths[i], g.status,
			      h.status);
		ck_assert_int_eq(h.len, 0);
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			char *a = header_of(&g, names[k]), *b = header_of(&h, names[k]);
			/* /metrics changes between the two calls; its length may too */
			if (strcmp(paths[i], "/metrics") || strcmp(names[k], "Content-Length"))
				ck_assert_msg(!strcmp(a, b), "%s %s: GET '%s', HEAD '%s'", paths[i],
					      names[k], a, b);
			free(a);
			free(b);
		}
		http_resp_free(&g);
		http_resp_free(&h);
	}
	testenv_stop(&t);
}
END_TEST

static int dial(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Milliseconds until the server closes FD (reading and dropping what it sends), or -1 after
 * LIMIT_MS. */
static long closed_after(int fd, long limit_ms, char *first, size_t len)
{
	struct timespec t0, t1;
	size_t got = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		clock_gettime(CLOCK_MONOTONIC, &t1);
		long el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		if (el > limit_ms)
			return -1;
		if (poll(&p, 1, 100) <= 0)
			continue;
		char buf[1024];
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			return el;
		if (first && got + 1 < len) {
			size_t k = (size_t)n < len - 1 - got ? (size_t)n : len - 1 - got;
			memcpy(first + got, buf, k);
			got += k;
			first[got] = '\0';
		}
	}
}

START_TEST(limits_answer_and_are_counted)
{
	struct testenv t;
	const char *args[] = {"--api-token=" API,
			      "--max-connections=16",
			      "--idle-timeout=1",
			      "--request-deadline=2",
			      "--max-connections-per-address=0",
			      NULL};
	testenv_start(&t, args);
	char first[512] = "";

	/* a request trickled over the deadline is cut, whatever bytes keep coming */
	int slow = dial(t.port);
	const char *part = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
	ck_assert_int_eq(send(slow, part, strlen(part), 0), (ssize_t)strlen(part));
	long cut = closed_after(slow, 6000, NULL, 0);
	close(slow);
	ck_assert_msg(cut >= 1800 && cut <= 4000, "cut after %ld ms (deadline 2 s)", cut);
	ck_assert_int_ge(testenv_metric(&t, "forja_http_limited_total{limit=\"deadline\"}", API),
			 1);

	/* a kept-alive connection idle past FORJA_IDLE_TIMEOUT is closed */
	int ka = dial(t.port);
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	ck_assert_int_eq(send(ka, req, strlen(req), 0), (ssize_t)strlen(req));
	long idle = closed_after(ka, 6000, first, sizeof(first));
	close(ka);
	ck_assert_msg(!strncmp(first, "HTTP/1.1 ", 9), "no answer before the close: %s", first);
	ck_assert_msg(idle >= 900 && idle <= 4000, "idle close after %ld ms (timeout 1 s)", idle);
	ck_assert_int_ge(testenv_metric(&t, "forja_http_limited_total{limit=\"idle\"}", API), 1);

	testenv_stop(&t);
}
END_TEST

START_TEST(connection_limit_answers_503)
{
	struct testenv t;
	/* timeouts far longer than the test: the held connections stay while it retries */
	const char *args[] = {"--api-token=" API, "--max-connections=16",
			      "--max-connections-per-address=0", NULL};
	testenv_start(&t, args);
	int held[16];
	char first[512] = "";
	/* the scrapes of testenv_start must have left: one still counted would make a held
	 * connection the refused one */
	for (int i = 0; i < 100 && testenv_metric(&t, "forja_http_connections", API) > 1; i++)
		usleep(50 * 1000);
	for (int i = 0; i < 16; i++)
		held[i] = dial(t.port);
	/* past FORJA_MAX_CONNECTIONS: an answer, 503 with Retry-After, then the close. Which
	 * connection is the one too many is the server's view: one it still counted (a scrape
	 * closing) makes a held one the refused one; a 17th it accepted before it had seen all
	 * the held ones is an ordinary connection, closed here to try again. */
	for (int tries = 0; tries < 20 && !first[0]; tries++) {
		usleep(100 * 1000);
		for (int i = 0; i < 16 && !first[0]; i++) {
			struct pollfd p = {.fd = held[i], .events = POLLIN};
			if (poll(&p, 1, 0) == 1)
				closed_after(held[i], 1500, first, sizeof(first));
		}
		if (first[0])
			break;
		int over = dial(t.port);
		closed_after(over, 1500, first, sizeof(first));
		close(over);
	}
	ck_assert_msg(strstr(first, "HTTP/1.1 503") && strstr(first, "Retry-After: "),
		      "over the limit: %s", first);
	ck_assert_ptr_nonnull(strstr(first, "FORJA_MAX_CONNECTIONS"));
	for (int i = 0; i < 16; i++)
		close(held[i]);
	long limited = 0;
	for (int i = 0;
	     i < 60 && !(limited = testenv_metric(
			     &t, "forja_http_limited_total{limit=\"connections\"}", API));
	     i++)
		usleep(50 * 1000);
	ck_assert_int_ge(limited, 1);
	testenv_stop(&t);
}
END_TEST

START_TEST(per_address_limit_answers_503)
{
	struct testenv t;
	const char *args[] = {"--max-connections-per-address=4", NULL};
	testenv_start(&t, args);
	int held[4];
	char first[512] = "";
	for (int i = 0; i < 4; i++)
		held[i] = dial(t.port);
	usleep(300 * 1000);
	int over = dial(t.port);
	ck_assert_int_ge(closed_after(over, 3000, first, sizeof(first)), 0);
	close(over);
	ck_assert_msg(strstr(first, "HTTP/1.1 503") && strstr(first, "Retry-After: ") &&
			  strstr(first, "FORJA_MAX_CONNECTIONS_PER_ADDRESS"),
		      "over the per-address limit: %s", first);
	for (int i = 0; i < 4; i++)
		close(held[i]);
	usleep(300 * 1000);
	ck_assert_int_ge(testenv_metric(&t, "forja_http_limited_total{limit=\"per_address\"}", API),
			 1);
	/* the gauge follows the closes, which the server sees a moment later */
	long open = 0;
	for (int i = 0; i < 60 && (open = testenv_metric(&t, "forja_http_connections", API)) > 1;
	     i++)
		usleep(50 * 1000);
	ck_assert_int_eq(open, 1); /* this /metrics call */
	testenv_stop(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("access");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, read_token_guards_the_history);
	tcase_add_test(tc, without_a_read_token_reads_are_public);
	tcase_add_test(tc, head_matches_get);
	tcase_add_test(tc, limits_answer_and_are_counted);
	tcase_add_test(tc, connection_limit_answers_503);
	tcase_add_test(tc, per_address_limit_answers_503);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
