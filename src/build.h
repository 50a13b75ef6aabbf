/* A build: one service:version image built from one commit, as recorded in the history.
 * Shared by the queue, the store, the webhook and the REST edge; JSON form matches openapi Build.
 */
#ifndef FORJA_BUILD_H
#define FORJA_BUILD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum build_status {
	BUILD_QUEUED = 0,
	BUILD_RUNNING,
	BUILD_SUCCEEDED,
	BUILD_FAILED,
	BUILD_CANCELLED,
};

enum build_trigger { TRIGGER_WEBHOOK = 0, TRIGGER_API, TRIGGER_CLI };

struct build {
	int64_t id;
	char *service;
	char *version;
	char *type;   /* "docker" (as the user spelled it) */
	char *image;  /* registry/service:version, set when queued */
	char *digest; /* sha256:..., set on success */
	enum build_trigger trigger;
	char *repository;     /* owner/name for webhooks, else the git URL */
	char *clone_url;      /* git URL the engine clones */
	char *commit;	      /* 40-hex sha the build is pinned to, when known */
	char *ref;	      /* ref the user asked for (branch, tag or sha) */
	char *context;	      /* directory inside the repository; "" = root */
	char *dockerfile;     /* path relative to the context; NULL = "Dockerfile" */
	char *build_args;     /* JSON object text, or NULL */
	int64_t pull_request; /* 0 = none */
	char *branch;
	char *delivery_id;
	enum build_status status;
	int64_t created_at; /* unix milliseconds; 0 = not yet */
	int64_t started_at;
	int64_t finished_at;
	char *error;
	int attempts;
	char *engine;	  /* the engine that ran it last (its host), NULL before it ran */
	int64_t rerun_of; /* the build this one runs again (POST /builds/{id}/rerun), 0 = none */
};

/* Allocates a zeroed build; NULL on ENOMEM. Release with build_free(). */
struct build *build_new(void);

/* What a new build is made of, whoever asks for it (webhook, POST /builds, the CLI). Every
 * pointer is borrowed: build_new_from() copies what it keeps. */
struct build_fields {
	enum build_trigger trigger;
	const char *service;	  /* required */
	const char *version;	  /* required */
	const char *type;	  /* NULL = "docker" */
	const char *image;	  /* required: registry/service:version */
	const char *repository;	  /* required */
	const char *clone_url;	  /* required */
	const char *commit;	  /* NULL = not pinned yet */
	const char *ref;	  /* required */
	const char *context;	  /* NULL = "" (the root) */
	const char *dockerfile;	  /* NULL = "Dockerfile" */
	const json_t *build_args; /* object or NULL; stored as compact JSON text, keys sorted */
	int64_t pull_request;	  /* 0 = none */
	const char *branch;	  /* NULL = none */
	const char *delivery_id;  /* NULL = none */
};

/*
 * A queued build holding copies of F, with the defaults above so that every path stores the
 * same shape. NULL on ENOMEM or when a required field is missing. Release with build_free().
 */
struct build *build_new_from(const struct build_fields *f);
/* Releases B and every string it owns; NULL is fine. */
void build_free(struct build *b);
/* Releases an array of N builds and the array itself. */
void build_array_free(struct build **arr, size_t n);

const char *build_status_name(enum build_status s);
/* Parses "queued", "running", ...; 0 or FORJA_EINVAL. */
int build_status_parse(const char *name, enum build_status *out);
bool build_status_is_final(enum build_status s);
const char *build_trigger_name(enum build_trigger t);

/* Formats unix milliseconds as RFC 3339 UTC ("2026-11-22T00:41:01Z") into BUF (>= 32 bytes). */
void build_time_format(int64_t ms, char *buf, size_t len);
/* Milliseconds since the epoch, wall clock. */
int64_t build_now_ms(void);

/* JSON object in the openapi Build shape; PUBLIC_URL (may be NULL) prefixes links.
 * Returns a new reference (json_decref) or NULL on ENOMEM. */
json_t *build_to_json(const struct build *b, const char *public_url);

#endif
