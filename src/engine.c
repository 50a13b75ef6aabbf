/* Docker Engine API client over libcurl: version negotiation, builds from a streamed tar, pushes.
 * Streamed answers are split into JSON lines, decoded with jansson and turned into log text. */
#include "engine.h"

#include <ctype.h>
#include <errno.h>
#include <curl/curl.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <strings.h>
#include <time.h>

#include "deadline.h"
#include "dynbuf.h"
#include "errors.h"
#include "log.h"

/* Newest API version whose /build and /push behaviour Forja relies on; older engines are
 * spoken to at their own maximum. */
#define ENGINE_API_MAJOR 1
#define ENGINE_API_MINOR 43

#define LINE_MAX_BYTES (1024 * 1024) /* one streamed JSON message */
#define TEXT_PENDING   8192	     /* log text waiting for its newline */

struct engine {
	char *host;	       /* as configured, for messages */
	char *sock_path;       /* unix socket, or NULL for tcp */
	char *base;	       /* "http://localhost", "http://host:port" or "https://host:port" */
	char *ca, *cert, *key; /* TLS files (the Docker convention in one directory), or NULL */
	pthread_mutex_t mu;
	char api[48]; /* negotiated, "" before the first ping; guarded by mu */
	CURL *ping;   /* reused for pings and short calls, so they pay no setup; guarded */
};

/* A request body read from an fd until EOF; FD < 0: empty body. */
struct body {
	int fd;
};

enum stream_kind { STREAM_BUILD, STREAM_PUSH, STREAM_SHORT };

struct stream {
	enum stream_kind kind;
	const struct task_log *log;
	const struct task_abort *ab;
	int aborted;	    /* FORJA_ECANCELLED / FORJA_ETIMEDOUT when the callback stopped it */
	struct dynbuf line; /* current message, bounded by LINE_MAX_BYTES */
	bool skipping;	    /* the current message overflowed: drop it up to its newline */
	char text[TEXT_PENDING];
	size_t tlen;
	char result[80];  /* aux ID (build) or aux Digest (push) */
	char error[2048]; /* first error message the engine sent */
	bool failed;
	char raw[512]; /* first non-JSON line: text/plain error bodies */
};

/* DIR/NAME, malloc'd; NULL on ENOMEM. */
static char *path_in(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* CA of DIR, and its client certificate and key when both are there (without them the engine
 * refuses the handshake, and says so better than a missing file would). */
static int tls_files(struct engine *e, const char *dir)
{
	e->ca = path_in(dir, "ca.pem");
	e->cert = path_in(dir, "cert.pem");
	e->key = path_in(dir, "key.pem");
	if (!e->ca || !e->cert || !e->key)
		return FORJA_ENOMEM;
	if (access(e->cert, R_OK) != 0 || access(e->key, R_OK) != 0) {
		free(e->cert);
		free(e->key);
		e->cert = e->key = NULL;
	}
	return 0;
}

int engine_new(const char *host, struct engine **out)
{
	return engine_new_tls(host, NULL, out);
}

int engine_new_tls(const char *host, const char *cert_dir, struct engine **out)
{
	struct engine *e;
	const char *h = host && *host ? host : "unix:///var/run/docker.sock";
	int tls = cert_dir && *cert_dir;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return FORJA_ENOMEM;
	pthread_mutex_init(&e->mu, NULL);
	e->host = strdup(h);
	if (!strncmp(h, "unix://", 7) && h[7] == '/' && !tls) {
		e->sock_path = strdup(h + 7);
		e->base = strdup("http://localhost");
	} else if (!strncmp(h, "tcp://", 6) && h[6]) {
		size_t n = strlen(h + 6);
		char *b = malloc(n + 9);

		if (b)
			snprintf(b, n + 9, "%s://%s", tls ? "https" : "http", h + 6);
		e->base = b;
		if (e->base && e->base[strlen(e->base) - 1] == '/')
			e->base[strlen(e->base) - 1] = '\0';
	} else {
		engine_free(e);
		return FORJA_EINVAL;
	}
	e->ping = curl_easy_init();
	if (!e->host || !e->base || (!e->sock_path && !strncmp(h, "unix", 4)) || !e->ping ||
	    (tls && tls_files(e, cert_dir))) {
		engine_free(e);
		return FORJA_ENOMEM;
	}
	*out = e;
	return 0;
}

const char *engine_host(const struct engine *e)
{
	return e->host;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	if (e->ping)
		curl_easy_cleanup(e->ping);
	pthread_mutex_destroy(&e->mu);
	free(e->host);
	free(e->sock_path);
	free(e->base);
	free(e->ca);
	free(e->cert);
	free(e->key);
	free(e);
}

/* ---- streamed JSON lines -> log text ---------------------------------------------------- */

static void stream_flush_text(struct stream *s)
{
	if (s->tlen && s->log && s->log->write)
		s->log->write(s->log->ud, s->text, s->tlen);
	s->tlen = 0;
}

/* Log text is handed on in whole lines: the engine sends "Step 1/3 : X" and its "\n" apart. */
static void stream_text(struct stream *s, const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (t[i] == '\r')
			continue;
		if (s->tlen == sizeof(s->text))
			stream_flush_text(s);
		s->text[s->tlen++] = t[i];
		if (t[i] == '\n')
			stream_flush_text(s);
	}
}

static void stream_textf(struct stream *s, const char *a, const char *b, const char *c)
{
	stream_text(s, a, strlen(a));
	if (b)
		stream_text(s, b, strlen(b));
	if (c)
		stream_text(s, c, strlen(c));
}

static void stream_set_error(struct stream *s, const char *msg)
{
	s->failed = true;
	if (!s->error[0])
		snprintf(s->error, sizeof(s->error), "%s",
			 msg && *msg ? msg : "unknown engine error");
}

static void stream_aux(struct stream *s, json_t *aux)
{
	const char *v;

	if (!json_is_object(aux))
		return;
	v = json_string_value(json_object_get(aux, s->kind == STREAM_PUSH ? "Digest" : "ID"));
	if (v && strlen(v) < sizeof(s->result))
		snprintf(s->result, sizeof(s->result), "%s", v);
}

static void stream_json(struct stream *s, json_t *j)
{
	json_t *err = json_object_get(j, "error");
	json_t *detail = json_object_get(j, "errorDetail");
	const char *str;

	if (err || detail) {
		const char *msg = json_string_value(json_object_get(detail, "message"));

		if (!msg)
			msg = json_string_value(err);
		stream_set_error(s, msg);
		stream_textf(s, "error: ", s->error, "\n");
		return;
	}
	str = json_string_value(json_object_get(j, "stream"));
	if (str)
		stream_text(s, str, strlen(str));
	str = json_string_value(json_object_get(j, "status"));
	/* Push progress bars would flood the log: keep the status changes only. */
	if (str && !json_string_value(json_object_get(j, "progress"))) {
		const char *id = json_string_value(json_object_get(j, "id"));

		if (id)
			stream_textf(s, id, ": ", str);
		else
			stream_textf(s, str, NULL, NULL);
		stream_text(s, "\n", 1);
	}
	if (json_object_get(j, "aux"))
		stream_aux(s, json_object_get(j, "aux"));
	str = json_string_value(json_object_get(j, "message"));
	if (str && s->kind != STREAM_SHORT)
		stream_set_error(s, str);
	else if (str)
		snprintf(s->error, sizeof(s->error), "%s", str);
}

static void stream_line(struct stream *s)
{
	const char *line = s->line.buf;
	size_t len = s->line.len;
	json_error_t jerr;
	json_t *j;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (!len)
		return;
	j = json_loadb(line, len, JSON_DISABLE_EOF_CHECK, &jerr);
	if (json_is_object(j)) {
		stream_json(s, j);
	} else if (!s->raw[0]) {
		size_t n = len < sizeof(s->raw) - 1 ? len : sizeof(s->raw) - 1;

		memcpy(s->raw, line, n);
		s->raw[n] = '\0';
	}
	json_decref(j);
}

static size_t stream_on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct stream *s = ud;
	size_t total = size * nmemb;

	for (size_t i = 0; i < total;) {
		const char *nl = memchr(data + i, '\n', total - i);
		size_t n = nl ? (size_t)(nl - (data + i)) : total - i;

		if (!s->skipping && dynbuf_add(&s->line, data + i, n)) {
			if (s->line.failed != FORJA_ETOOBIG)
				return 0;
			/* an over-long message cannot be decoded: note it and drop it */
			s->skipping = true;
			stream_textf(s, "[engine message over 1 MiB dropped]\n", NULL, NULL);
		}
		i += n;
		if (nl) {
			if (!s->skipping)
				stream_line(s);
			dynbuf_reset(&s->line);
			s->skipping = false;
			i++;
		}
	}
	return total;
}

static int stream_on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct stream *s = ud;

	if (!s->ab)
		return 0;
	if (s->ab->cancel && atomic_load(s->ab->cancel)) {
		s->aborted = FORJA_ECANCELLED;
		return 1;
	}
	if (s->ab->deadline_ms > 0 && deadline_now_ms() >= s->ab->deadline_ms) {
		s->aborted = FORJA_ETIMEDOUT;
		return 1;
	}
	return 0;
}

static void stream_finish(struct stream *s)
{
	if (s->line.len && !s->skipping)
		stream_line(s);
	if (s->tlen)
		stream_text(s, "\n", 1);
	dynbuf_free(&s->line);
}

/* ---- requests ------------------------------------------------------------------------------ */

struct api_version {
	long major, minor;
};

static int parse_version(const char *v, struct api_version *out)
{
	char *end;

	out->major = strtol(v, &end, 10);
	if (end == v || *end != '.')
		return FORJA_EINVAL;
	v = end + 1;
	out->minor = strtol(v, &end, 10);
	if (end == v || (*end && !isspace((unsigned char)*end)))
		return FORJA_EINVAL;
	return 0;
}

static void set_common(struct engine *e, CURL *h, const char *url, char *curlerr)
{
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (e->sock_path)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, e->sock_path);
	if (e->ca) {
		/* the engine's certificate is always verified: a TCP engine is root on its host */
		curl_easy_setopt(h, CURLOPT_CAINFO, e->ca);
		if (e->cert) {
			curl_easy_setopt(h, CURLOPT_SSLCERT, e->cert);
			curl_easy_setopt(h, CURLOPT_SSLKEY, e->key);
		}
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curlerr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
}

/* Over TLS, what curl says of a failed handshake is often a broken pipe: say what it means. */
static const char *tls_hint(const struct engine *e, CURLcode rc)
{
	if (!e->ca)
		return "";
	if (rc == CURLE_PEER_FAILED_VERIFICATION)
		return " (its TLS certificate does not verify against ca.pem)";
	if (rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
	    rc == CURLE_GOT_NOTHING)
		return e->cert
			   ? " (TLS handshake failed: the engine refused the client certificate "
			     "cert.pem, or does not speak TLS)"
			   : " (TLS handshake failed: no cert.pem and key.pem to offer the "
			     "engine as a client certificate)";
	return "";
}

static void say_unreachable(struct engine *e, CURLcode rc, const char *curlerr, char *err,
			    size_t errlen)
{
	/* curl words a refused unix socket as "localhost port 80", which misleads */
	if (e->sock_path && rc == CURLE_COULDNT_CONNECT)
		snprintf(err, errlen,
			 "docker engine not reachable at %s: nothing accepts connections on the "
			 "socket (is dockerd running?)",
			 e->host);
	else
		snprintf(err, errlen, "docker engine not reachable at %s: %s%s", e->host,
			 curlerr[0] ? curlerr : curl_easy_strerror(rc), tls_hint(e, rc));
}

static int ping_locked(struct engine *e, char *err, size_t errlen)
{
	char url[1024], curlerr[CURL_ERROR_SIZE] = "";
	struct stream s = {.kind = STREAM_SHORT, .line = {.max = LINE_MAX_BYTES}};
	struct curl_header *hv = NULL;
	char offered[32] = "";
	struct api_version ev, ours = {ENGINE_API_MAJOR, ENGINE_API_MINOR};
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "%s/_ping", e->base);
	curl_easy_reset(e->ping);
	set_common(e, e->ping, url, curlerr);
	curl_easy_setopt(e->ping, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(e->ping, CURLOPT_WRITEFUNCTION, stream_on_body);
	curl_easy_setopt(e->ping, CURLOPT_WRITEDATA, &s);
	rc = curl_easy_perform(e->ping);
	stream_finish(&s);
	if (rc != CURLE_OK) {
		say_unreachable(e, rc, curlerr, err, errlen);
		return FORJA_EUNAVAILABLE;
	}
	curl_easy_getinfo(e->ping, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		snprintf(err, errlen, "docker engine at %s answered /_ping with HTTP %ld", e->host,
			 status);
		return FORJA_EUPSTREAM;
	}
	if (curl_easy_header(e->ping, "Api-Version", 0, CURLH_HEADER, -1, &hv) == CURLHE_OK)
		snprintf(offered, sizeof(offered), "%s", hv->value);
	if (!offered[0] || parse_version(offered, &ev)) {
		snprintf(err, errlen, "docker engine at %s sent no usable Api-Version header",
			 e->host);
		return FORJA_EUPSTREAM;
	}
	if (ev.major > ours.major || (ev.major == ours.major && ev.minor > ours.minor))
		ev = ours;
	char api[sizeof(e->api)];
	snprintf(api, sizeof(api), "%ld.%ld", ev.major, ev.minor);
	/* every health check pings: say it when the version changes, not each time */
	if (strcmp(api, e->api))
		log_info("docker engine at %s: api %s (engine offers %s)", e->host, api, offered);
	memcpy(e->api, api, sizeof(api));
	return 0;
}

int engine_ping(struct engine *e, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&e->mu);
	rc = ping_locked(e, err, errlen);
	pthread_mutex_unlock(&e->mu);
	return rc;
}

const char *engine_api_version(struct engine *e)
{
	const char *v;

	pthread_mutex_lock(&e->mu);
	v = e->api[0] ? e->api : NULL;
	pthread_mutex_unlock(&e->mu);
	return v;
}

/* Copies the negotiated version into API, pinging first when nothing was negotiated yet. */
static int negotiated_api(struct engine *e, char *api, size_t len, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&e->mu);
	if (!e->api[0])
		rc = ping_locked(e, err, errlen);
	if (!rc)
		snprintf(api, len, "%s", e->api);
	pthread_mutex_unlock(&e->mu);
	return rc;
}

/* curl pulls the tar body from the context fd; a read error aborts the upload. */
static size_t on_context_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	const int *fd = ud;
	ssize_t r;

	do
		r = read(*fd, buf, size * nmemb);
	while (r < 0 && errno == EINTR);
	return r < 0 ? CURL_READFUNC_ABORT : (size_t)r;
}

/*
 * One streamed request on its own handle (builds and pushes run in parallel on the workers).
 * No total timeout and no low-speed limit: a quiet RUN step sends nothing for minutes, and
 * dropping the connection would abort the build. Only the abort callback ends it early.
 */
static int perform_stream(struct engine *e, const char *method, const char *url,
			  const struct body *body, struct curl_slist *hdrs, struct stream *s,
			  long *status, char *err, size_t errlen)
{
	char curlerr[CURL_ERROR_SIZE] = "";
	CURL *h = curl_easy_init();
	CURLcode rc;

	if (!h)
		return FORJA_ENOMEM;
	set_common(e, h, url, curlerr);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (!strcmp(method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		if (body && body->fd >= 0) {
			/* no size: curl sends the tar chunked, as fast as the producer writes it */
			curl_easy_setopt(h, CURLOPT_READFUNCTION, on_context_read);
			curl_easy_setopt(h, CURLOPT_READDATA, &body->fd);
		} else {
			curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
			curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		}
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, stream_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, stream_on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, s);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(h);
	stream_finish(s);
	if (*status == 400 &&
	    (strstr(s->error, "client version") || strstr(s->raw, "client version"))) {
		/* the engine was up- or downgraded: negotiate again on the next request */
		pthread_mutex_lock(&e->mu);
		e->api[0] = '\0';
		pthread_mutex_unlock(&e->mu);
	}
	if (rc == CURLE_ABORTED_BY_CALLBACK && s->aborted) {
		snprintf(err, errlen, "%s",
			 s->aborted == FORJA_ECANCELLED ? "cancelled" : "timed out");
		return s->aborted;
	}
	if (rc != CURLE_OK && *status == 0) {
		say_unreachable(e, rc, curlerr, err, errlen);
		return FORJA_EUNAVAILABLE;
	}
	if (rc != CURLE_OK) {
		snprintf(err, errlen,
			 "connection to the docker engine at %s broke during the %s (the engine "
			 "stopped or restarted?): %s",
			 e->host, s->kind == STREAM_PUSH ? "push" : "build",
			 curlerr[0] ? curlerr : curl_easy_strerror(rc));
		return FORJA_EUPSTREAM;
	}
	return 0;
}

/* Maps a finished stream to the outcome: non-200 carries {"message"}, 200 only means started. */
static int stream_outcome(struct stream *s, long status, const char *what, char *out, char *err,
			  size_t errlen)
{
	if (status != 200) {
		const char *msg = s->error[0] ? s->error : s->raw[0] ? s->raw : "no message";

		snprintf(err, errlen, "%s failed (HTTP %ld): %s", what, status, msg);
		return status == 404 ? FORJA_ENOTFOUND : FORJA_EUPSTREAM;
	}
	if (s->failed) {
		snprintf(err, errlen, "%s failed: %s", what, s->error);
		if (strstr(s->error, "unauthorized") || strstr(s->error, "no basic auth") ||
		    strstr(s->error, "authentication required"))
			return FORJA_EAUTH;
		return FORJA_EUPSTREAM;
	}
	if (!s->result[0]) {
		snprintf(err, errlen, "%s failed: the engine ended the stream without a result",
			 what);
		return FORJA_EUPSTREAM;
	}
	snprintf(out, 80, "%s", s->result);
	return 0;
}

static char *escape_json(CURL *h, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	char *esc;

	if (!text)
		return NULL;
	esc = curl_easy_escape(h, text, 0);
	free(text);
	return esc;
}

static char *build_url(struct engine *e, const char *api, const struct engine_build_params *p)
{
	CURL *h = curl_easy_init();
	char *tag = NULL, *df = NULL, *args = NULL, *url = NULL;
	size_t n;

	if (!h)
		return NULL;
	tag = curl_easy_escape(h, p->tag ? p->tag : "", 0);
	df = curl_easy_escape(h, p->dockerfile && *p->dockerfile ? p->dockerfile : "Dockerfile", 0);
	args = p->build_args ? escape_json(h, p->build_args) : NULL;
	if (!tag || !df || (p->build_args && !args))
		goto out;
	n = strlen(e->base) + strlen(tag) + strlen(df) + (args ? strlen(args) : 0) + 128;
	url = malloc(n);
	if (!url)
		goto out;
	/* legacy builder (no version=2): plain-text progress */
	snprintf(url, n, "%s/v%s/build?dockerfile=%s&rm=1&forcerm=1%s%s%s%s", e->base, api, df,
		 *tag ? "&t=" : "", tag, args ? "&buildargs=" : "", args ? args : "");
out:
	curl_free(tag);
	curl_free(df);
	curl_free(args);
	curl_easy_cleanup(h);
	return url;
}

int engine_build(struct engine *e, const struct engine_build_params *p, const struct task_log *log,
		 const struct task_abort *ab, char *image_id, char *err, size_t errlen)
{
	struct stream s = {
	    .kind = STREAM_BUILD, .log = log, .ab = ab, .line = {.max = LINE_MAX_BYTES}};
	struct curl_slist *hdrs = NULL;
	struct body body = {.fd = p->context_fd};
	char api[48], *url = NULL;
	long status = 0;
	int rc;

	image_id[0] = '\0';
	rc = negotiated_api(e, api, sizeof(api), err, errlen);
	if (rc)
		return rc;
	url = build_url(e, api, p);
	hdrs = curl_slist_append(NULL, "Content-Type: application/x-tar");
	if (!url || !hdrs) {
		rc = FORJA_ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = perform_stream(e, "POST", url, &body, hdrs, &s, &status, err, errlen);
	if (!rc)
		rc = stream_outcome(&s, status, "build", image_id, err, errlen);
out:
	curl_slist_free_all(hdrs);
	free(url);
	return rc;
}

int engine_push(struct engine *e, const char *repo, const char *tag, const char *auth_b64,
		const struct task_log *log, const struct task_abort *ab, char *digest, char *err,
		size_t errlen)
{
	struct stream s = {
	    .kind = STREAM_PUSH, .log = log, .ab = ab, .line = {.max = LINE_MAX_BYTES}};
	struct curl_slist *hdrs = NULL;
	char api[48], *url = NULL, *hdr = NULL, *etag = NULL;
	CURL *h = NULL;
	long status = 0;
	size_t n;
	int rc;

	digest[0] = '\0';
	rc = negotiated_api(e, api, sizeof(api), err, errlen);
	if (rc)
		return rc;
	rc = FORJA_ENOMEM;
	h = curl_easy_init();
	etag = h ? curl_easy_escape(h, tag, 0) : NULL;
	n = strlen(e->base) + strlen(repo) + (etag ? strlen(etag) : 0) + 64;
	url = malloc(n);
	hdr = malloc(strlen(auth_b64) + 32);
	if (!etag || !url || !hdr)
		goto out;
	/* the repository goes into the path as it is: "127.0.0.1:5000/svc" */
	snprintf(url, n, "%s/v%s/images/%s/push?tag=%s", e->base, api, repo, etag);
	snprintf(hdr, strlen(auth_b64) + 32, "X-Registry-Auth: %s", auth_b64);
	hdrs = curl_slist_append(NULL, hdr);
	if (!hdrs)
		goto out;
	rc = perform_stream(e, "POST", url, NULL, hdrs, &s, &status, err, errlen);
	if (!rc)
		rc = stream_outcome(&s, status, "push", digest, err, errlen);
out:
	curl_slist_free_all(hdrs);
	curl_free(etag);
	curl_easy_cleanup(h);
	free(url);
	free(hdr);
	return rc;
}

int engine_stream_decode(bool push, long status, const char *body, size_t len, size_t chunk,
			 const struct task_log *log, char *result, char *err, size_t errlen)
{
	struct stream s = {
	    .kind = push ? STREAM_PUSH : STREAM_BUILD, .log = log, .line = {.max = LINE_MAX_BYTES}};
	int rc = 0;

	result[0] = '\0';
	if (!chunk)
		chunk = len;
	for (size_t off = 0; off < len && !rc; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		/* curl treats a short count as a failed write; so does this */
		if (stream_on_body((char *)body + off, 1, n, &s) != n)
			rc = FORJA_ENOMEM;
	}
	stream_finish(&s);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	return stream_outcome(&s, status, push ? "push" : "build", result, err, errlen);
}

int engine_image_remove(struct engine *e, const char *ref)
{
	char api[48], err[256], curlerr[CURL_ERROR_SIZE] = "", *url;
	struct stream s = {.kind = STREAM_SHORT, .line = {.max = LINE_MAX_BYTES}};
	long status = 0;
	size_t n;
	CURLcode crc;
	int rc;

	rc = negotiated_api(e, api, sizeof(api), err, sizeof(err));
	if (rc)
		return rc;
	n = strlen(e->base) + strlen(ref) + 32;
	url = malloc(n);
	if (!url)
		return FORJA_ENOMEM;
	snprintf(url, n, "%s/v%s/images/%s", e->base, api, ref);
	pthread_mutex_lock(&e->mu);
	curl_easy_reset(e->ping);
	set_common(e, e->ping, url, curlerr);
	curl_easy_setopt(e->ping, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(e->ping, CURLOPT_CUSTOMREQUEST, "DELETE");
	curl_easy_setopt(e->ping, CURLOPT_WRITEFUNCTION, stream_on_body);
	curl_easy_setopt(e->ping, CURLOPT_WRITEDATA, &s);
	crc = curl_easy_perform(e->ping);
	curl_easy_getinfo(e->ping, CURLINFO_RESPONSE_CODE, &status);
	pthread_mutex_unlock(&e->mu);
	stream_finish(&s);
	free(url);
	if (crc != CURLE_OK)
		return FORJA_EUNAVAILABLE;
	if (status == 404)
		return FORJA_ENOTFOUND;
	if (status == 409)
		return FORJA_ECONFLICT;
	return status == 200 ? 0 : FORJA_EUPSTREAM;
}

char *engine_registry_auth(const char *username, const char *password, const char *server)
{
	gnutls_datum_t in, b64 = {NULL, 0};
	json_t *obj;
	char *text, *out = NULL;
	size_t j = 0;

	if (!username || !*username)
		return strdup("e30=");
	obj = json_pack("{s:s, s:s}", "username", username, "password", password ? password : "");
	if (obj && server && *server)
		json_object_set_new(obj, "serveraddress", json_string(server));
	text = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
	json_decref(obj);
	if (!text)
		return NULL;
	in.data = (unsigned char *)text;
	in.size = (unsigned)strlen(text);
	if (gnutls_base64_encode2(&in, &b64) < 0)
		goto out;
	out = malloc(b64.size + 1);
	if (!out)
		goto out;
	/* the engine decodes padded base64url only: map the alphabet, keep '=', drop newlines */
	for (unsigned i = 0; i < b64.size; i++) {
		char c = (char)b64.data[i];

		if (c == '\n' || c == '\r')
			continue;
		out[j++] = c == '+' ? '-' : c == '/' ? '_' : c;
	}
	out[j] = '\0';
out:
	gnutls_free(b64.data);
	/* the JSON holds the password: wipe it before it goes back to the allocator */
	memset(text, 0, strlen(text));
	free(text);
	return out;
}
