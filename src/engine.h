/* Docker Engine API client over libcurl (unix socket or tcp://): version negotiation,
 * builds from a streamed tar context, pushes, with streamed JSON lines decoded into log text. */
#ifndef FORJA_ENGINE_H
#define FORJA_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "task.h"

struct engine;

/* Aborting a transfer (task_abort) makes the engine abort the build: the abort is polled while
 * a request runs and the connection is closed when it fires (FORJA_ECANCELLED/ETIMEDOUT). */
struct engine_build_params {
	int context_fd;		/* the tar body is read from it until EOF; < 0: empty body */
	const char *tag;	/* registry/service:version */
	const char *dockerfile; /* path inside the context; NULL = Dockerfile */
	json_t *build_args;	/* object or NULL (borrowed) */
};

/* HOST: "unix:///var/run/docker.sock" or "tcp://host:port" (NULL = the former); FORJA_EINVAL
 * for anything else. *OUT owned by caller (engine_free). Thread-safe: one engine serves all
 * workers; pings and short calls reuse one connection, builds and pushes get their own. */
int engine_new(const char *host, struct engine **out);
/* The same over TLS when CERT_DIR is not NULL: a tcp:// HOST spoken to as https with
 * CERT_DIR/ca.pem (the engine's certificate is always verified), CERT_DIR/cert.pem and
 * CERT_DIR/key.pem (the client certificate), as the docker CLI's DOCKER_CERT_PATH. */
int engine_new_tls(const char *host, const char *cert_dir, struct engine **out);
/* HOST as configured (borrowed): the engine's name in logs, history and health. */
const char *engine_host(const struct engine *e);
void engine_free(struct engine *e);

/*
 * GET /_ping; negotiates the API version (min of the engine's and the newest Forja knows).
 * On failure writes "docker engine not reachable at <host>: <why>" into ERR.
 */
int engine_ping(struct engine *e, char *err, size_t errlen);
/* The negotiated API version ("1.41"), or NULL before a successful ping. */
const char *engine_api_version(struct engine *e);

/*
 * Builds with the legacy builder from the tar read from P->context_fd (the caller produces it,
 * e.g. on another thread). Success needs HTTP 200, an aux ID line and no error line.
 * IMAGE_ID (>= 80 bytes) gets "sha256:...". ERR gets the engine's message on failure.
 * The API version is negotiated on first use.
 */
int engine_build(struct engine *e, const struct engine_build_params *p, const struct task_log *log,
		 const struct task_abort *ab, char *image_id, char *err, size_t errlen);

/*
 * Pushes REPO:TAG with AUTH_B64 as X-Registry-Auth (see engine_registry_auth). DIGEST
 * (>= 80 bytes) gets the manifest digest of the final aux line; an error line fails.
 */
int engine_push(struct engine *e, const char *repo, const char *tag, const char *auth_b64,
		const struct task_log *log, const struct task_abort *ab, char *digest, char *err,
		size_t errlen);

/*
 * Decodes a streamed /build (PUSH false) or /push (PUSH true) answer the way engine_build and
 * engine_push do, without an engine: BODY (LEN bytes of JSON lines, borrowed) is handed to the
 * line splitter in pieces of CHUNK bytes (0 = one piece), as libcurl would deliver it, and its
 * log text goes to LOG (may be NULL). Then STATUS (the HTTP status) decides: 0 with RESULT
 * (>= 80 bytes) holding the aux ID or Digest, else FORJA_ENOTFOUND / FORJA_EAUTH /
 * FORJA_EUPSTREAM with the engine's message in ERR. For tests and the fuzz harness.
 */
int engine_stream_decode(bool push, long status, const char *body, size_t len, size_t chunk,
			 const struct task_log *log, char *result, char *err, size_t errlen);

/* Removes a local image (best effort clean-up after a push); FORJA_ENOTFOUND when absent,
 * FORJA_ECONFLICT when a container uses it. */
int engine_image_remove(struct engine *e, const char *ref);

/* Padded base64url of {"username","password","serveraddress"}; "e30=" without a username.
 * Returns a malloc'd string (free()) or NULL on ENOMEM. */
char *engine_registry_auth(const char *username, const char *password, const char *server);

#endif
