/* The engine client's reading of streamed answers, against a scripted HTTP peer on a unix
 * socket: messages split at every byte, over-long messages, streams that end without a result,
 * error bodies, and version negotiation with engines newer and older than Forja. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "engine.h"
#include "errors.h"

/* One scripted answer per connection, written DRIP bytes at a time. */
struct peer {
	char dir[64];
	char path[96];
	char host[128]; /* unix://... */
	int fd;
	pthread_t thread;
	const char *api_version; /* Api-Version header of every answer */
	const char *answers[4];	 /* status line + headers + body, without Api-Version */
	size_t drip;
	char requests[4][512]; /* request lines received */
	int served;
};

static void peer_write(int fd, const char *s, size_t len, size_t drip)
{
	while (len > 0) {
		size_t n = drip && drip < len ? drip : len;
		ssize_t w = write(fd, s, n);

		if (w <= 0)
			return;
		s += w;
		len -= (size_t)w;
	}
}

static void *peer_main(void *ud)
{
	struct peer *p = ud;

	for (int i = 0; i < 4 && p->answers[i]; i++) {
		char req[8192], hdr[128];
		size_t got = 0;
		int c = accept(p->fd, NULL, NULL);

		if (c < 0)
			return NULL;
		/* read the request head; bodies here are empty or small and come with it */
		while (got < sizeof(req) - 1) {
			ssize_t r = read(c, req + got, sizeof(req) - 1 - got);

			if (r <= 0)
				break;
			got += (size_t)r;
			req[got] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[got] = '\0';
		snprintf(p->requests[i], sizeof(p->requests[i]), "%.*s", (int)strcspn(req, "\r"),
			 req);
		snprintf(hdr, sizeof(hdr), "Api-Version: %s\r\nConnection: close\r\n",
			 p->api_version);
		{
			const char *a = p->answers[i];
			const char *eol = strstr(a, "\r\n");

			/* status line, then our headers, then the rest */
			peer_write(c, a, (size_t)(eol - a) + 2, 0);
			peer_write(c, hdr, strlen(hdr), 0);
			peer_write(c, eol + 2, strlen(eol + 2), p->drip);
		}
		close(c);
		p->served = i + 1;
	}
	return NULL;
}

static void peer_start(struct peer *p)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};

	snprintf(p->dir, sizeof(p->dir), "/tmp/forja-peer-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(p->dir));
	snprintf(p->path, sizeof(p->path), "%s/docker.sock", p->dir);
	snprintf(p->host, sizeof(p->host), "unix://%s", p->path);
	ck_assert_uint_lt(strlen(p->path), sizeof(a.sun_path));
	memcpy(a.sun_path, p->path, strlen(p->path) + 1);
	p->fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(p->fd, 0);
	ck_assert_int_eq(bind(p->fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(p->fd, 4), 0);
	ck_assert_int_eq(pthread_create(&p->thread, NULL, peer_main, p), 0);
}

static void peer_stop(struct peer *p)
{
	shutdown(p->fd, SHUT_RDWR);
	close(p->fd);
	pthread_join(p->thread, NULL);
	unlink(p->path);
	rmdir(p->dir);
}

struct collected {
	char text[8192];
	size_t len;
	int calls;
	int partial; /* a write that did not end in a newline */
};

static void collect(void *ud, const char *text, size_t len)
{
	struct collected *c = ud;

	c->calls++;
	if (len && text[len - 1] != '\n')
		c->partial++;
	if (c->len + len < sizeof(c->text)) {
		memcpy(c->text + c->len, text, len);
		c->len += len;
		c->text[c->len] = '\0';
	}
}

#define PING_OK "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"
/* no length: the body ends when the peer closes, as a stream cut short would */
#define STREAM_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n"

static const struct engine_build_params params = {
    .dockerfile = ".forja.Dockerfile",
    .context_fd = -1,
    .tag = "127.0.0.1:5000/app:1",
};

static int run_build(struct peer *p, const char *answer, struct collected *c, char *id, char *err,
		     size_t errlen)
{
	struct engine *e = NULL;
	struct task_log log = {collect, c};
	int rc;

	p->answers[0] = PING_OK;
	p->answers[1] = answer;
	peer_start(p);
	ck_assert_int_eq(engine_new(p->host, &e), 0);
	rc = engine_build(e, &params, &log, NULL, id, err, errlen);
	engine_free(e);
	peer_stop(p);
	return rc;
}

START_TEST(test_stream_split_at_every_byte)
{
	struct peer p = {.api_version = "1.41", .drip = 1};
	struct collected c = {0};
	char id[80], err[512];
	int rc;

	rc = run_build(&p,
		       STREAM_HEAD
		       "{\"stream\":\"Step 1/2 : FROM bb:1\"}\r\n{\"stream\":\"\\n\"}\r\n"
		       "{\"stream\":\" ---\\u003e 1d3804ec7cec\\n\"}\r\n"
		       "{\"aux\":{\"ID\":\"sha256:abc\"}}\r\n"
		       "{\"stream\":\"Successfully built abc\\n\"}\r\n",
		       &c, id, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(id, "sha256:abc");
	ck_assert_str_eq(c.text,
			 "Step 1/2 : FROM bb:1\n ---> 1d3804ec7cec\nSuccessfully built abc\n");
	ck_assert_int_eq(c.partial, 0);
	/* the request: negotiated version, the context in the body (no remote), forcerm, no
	 * version=2 */
	ck_assert_msg(strstr(p.requests[1], "POST /v1.41/build?") != NULL, "%s", p.requests[1]);
	ck_assert_ptr_null(strstr(p.requests[1], "remote="));
	ck_assert_ptr_nonnull(strstr(p.requests[1], "dockerfile=.forja.Dockerfile"));
	ck_assert_ptr_nonnull(strstr(p.requests[1], "forcerm=1"));
	ck_assert_ptr_nonnull(strstr(p.requests[1], "t=127.0.0.1%3A5000%2Fapp%3A1"));
	ck_assert_ptr_null(strstr(p.requests[1], "version=2"));
}
END_TEST

START_TEST(test_error_line_fails_a_200)
{
	struct peer p = {.api_version = "1.41", .drip = 7};
	struct collected c = {0};
	char id[80], err[512];
	int rc;

	rc = run_build(&p,
		       STREAM_HEAD
		       "{\"stream\":\"about-to-fail\\n\"}\r\n"
		       "{\"errorDetail\":{\"code\":3,\"message\":\"The command returned a "
		       "non-zero code: 3\"},\"error\":\"The command returned a non-zero "
		       "code: 3\"}\r\n",
		       &c, id, err, sizeof(err));
	ck_assert_int_eq(rc, FORJA_EUPSTREAM);
	ck_assert_str_eq(err, "build failed: The command returned a non-zero code: 3");
	ck_assert_str_eq(id, "");
	/* the log keeps the engine's message */
	ck_assert_str_eq(c.text, "about-to-fail\nerror: The command returned a non-zero code: 3\n");
}
END_TEST

START_TEST(test_eof_without_result_fails)
{
	struct peer p = {.api_version = "1.41"};
	struct collected c = {0};
	char id[80], err[512];

	ck_assert_int_eq(run_build(&p, STREAM_HEAD "{\"stream\":\"Step 1/2 : FROM bb:1\"}\r\n", &c,
				   id, err, sizeof(err)),
			 FORJA_EUPSTREAM);
	ck_assert_str_eq(err, "build failed: the engine ended the stream without a result");
	/* text without its newline is still delivered, completed */
	ck_assert_str_eq(c.text, "Step 1/2 : FROM bb:1\n");
}
END_TEST

START_TEST(test_non_200_carries_message)
{
	struct peer p = {.api_version = "1.41"};
	struct collected c = {0};
	char id[80], err[512];

	ck_assert_int_eq(
	    run_build(&p,
		      "HTTP/1.1 500 Internal Server Error\r\nContent-Type: "
		      "application/json\r\n\r\n{\"message\":\"error fetching: fatal: "
		      "remote error: upload-pack: not our ref deadbeef\\n: exit status "
		      "128\"}\n",
		      &c, id, err, sizeof(err)),
	    FORJA_EUPSTREAM);
	ck_assert_str_eq(err, "build failed (HTTP 500): error fetching: fatal: remote error: "
			      "upload-pack: not our ref deadbeef\n: exit status 128");
	/* a text/plain error body is reported as it is */
	memset(&p, 0, sizeof(p));
	p.api_version = "1.41";
	ck_assert_int_eq(run_build(&p,
				   "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n"
				   "client version 1.41 is too old",
				   &c, id, err, sizeof(err)),
			 FORJA_EUPSTREAM);
	ck_assert_str_eq(err, "build failed (HTTP 400): client version 1.41 is too old");
}
END_TEST

START_TEST(test_over_long_message_is_dropped)
{
	struct peer p = {.api_version = "1.41", .drip = 65536};
	struct collected c = {0};
	size_t big = 2 * 1024 * 1024;
	char *answer = malloc(big + 512), id[80], err[512];
	size_t n;
	int rc;

	ck_assert_ptr_nonnull(answer);
	n = (size_t)snprintf(answer, 512, STREAM_HEAD "{\"stream\":\"");
	memset(answer + n, 'x', big);
	n += big;
	snprintf(answer + n, 512,
		 "\"}\r\n{\"stream\":\"after\\n\"}\r\n{\"aux\":{\"ID\":\"sha256:def\"}}\r\n");
	rc = run_build(&p, answer, &c, id, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	ck_assert_str_eq(id, "sha256:def");
	ck_assert_str_eq(c.text, "[engine message over 1 MiB dropped]\nafter\n");
	free(answer);
}
END_TEST

static void ping_with(const char *advertised, const char *want)
{
	struct peer p = {.api_version = advertised};
	struct engine *e = NULL;
	char err[256];

	p.answers[0] = PING_OK;
	peer_start(&p);
	ck_assert_int_eq(engine_new(p.host, &e), 0);
	ck_assert_msg(engine_ping(e, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(engine_api_version(e), want);
	engine_free(e);
	peer_stop(&p);
	ck_assert_str_eq(p.requests[0], "GET /_ping HTTP/1.1");
}

START_TEST(test_version_negotiation)
{
	ping_with("1.47", "1.43"); /* newer engine: Forja's newest */
	ping_with("1.43", "1.43");
	ping_with("1.40", "1.40"); /* older engine: its own */
	ping_with("2.1", "1.43");
}
END_TEST

START_TEST(test_push_reads_digest_and_errors)
{
	struct peer p = {.api_version = "1.41", .drip = 3};
	struct engine *e = NULL;
	struct collected c = {0};
	struct task_log log = {collect, &c};
	char digest[80], err[512];

	p.answers[0] = PING_OK;
	p.answers[1] = STREAM_HEAD
	    "{\"status\":\"The push refers to repository [127.0.0.1:5000/app]\"}\r\n"
	    "{\"status\":\"Pushing\",\"progressDetail\":{\"current\":1,\"total\":2},"
	    "\"progress\":\"[==>  ]\",\"id\":\"911d\"}\r\n"
	    "{\"status\":\"Pushed\",\"progressDetail\":{},\"id\":\"911d\"}\r\n"
	    "{\"progressDetail\":{},\"aux\":{\"Tag\":\"1\",\"Digest\":\"sha256:feed\",\"Size\":1}}"
	    "\r\n";
	p.answers[2] = STREAM_HEAD
	    "{\"status\":\"The push refers to repository [127.0.0.1:5000/app]\"}\r\n"
	    "{\"errorDetail\":{\"message\":\"Get \\\"http://127.0.0.1:5000/v2/\\\": dial tcp: "
	    "connect: connection refused\"},\"error\":\"x\"}\r\n";
	peer_start(&p);
	ck_assert_int_eq(engine_new(p.host, &e), 0);
	ck_assert_int_eq(
	    engine_push(e, "127.0.0.1:5000/app", "1", "e30=", &log, NULL, digest, err, sizeof(err)),
	    0);
	ck_assert_str_eq(digest, "sha256:feed");
	ck_assert_str_eq(c.text,
			 "The push refers to repository [127.0.0.1:5000/app]\n911d: Pushed\n");
	ck_assert_int_eq(
	    engine_push(e, "127.0.0.1:5000/app", "1", "e30=", &log, NULL, digest, err, sizeof(err)),
	    FORJA_EUPSTREAM);
	ck_assert_str_eq(digest, "");
	ck_assert_msg(strstr(err, "push failed: Get ") && strstr(err, "connection refused"), "%s",
		      err);
	engine_free(e);
	peer_stop(&p);
	ck_assert_str_eq(p.requests[1],
			 "POST /v1.41/images/127.0.0.1:5000/app/push?tag=1 HTTP/1.1");
}
END_TEST

static Suite *stream_suite(void)
{
	Suite *s = suite_create("docker_stream");
	TCase *tc = tcase_create("stream");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_stream_split_at_every_byte);
	tcase_add_test(tc, test_error_line_fails_a_200);
	tcase_add_test(tc, test_eof_without_result_fails);
	tcase_add_test(tc, test_non_200_carries_message);
	tcase_add_test(tc, test_over_long_message_is_dropped);
	tcase_add_test(tc, test_version_negotiation);
	tcase_add_test(tc, test_push_reads_digest_and_errors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(stream_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
