/* The build method: one artifact (service, version, type, git source) -> pushed image + digest.
 * Validates first, fetches the commit into its source cache, streams the context to the engine,
 * pushes, and checks the registry has the digest. */
#ifndef FORJA_BUILDER_H
#define FORJA_BUILDER_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "registry.h"
#include "source.h"
#include "task.h"

struct dynbuf;

struct build_spec {
	const char *service; /* docker repository grammar */
	const char *version; /* docker tag grammar */
	const char *type;    /* "docker" or "packages" in any case; NULL = docker */
	const char *git_url;
	const char *ref;	/* full 40-hex sha, or a branch/tag name */
	const char *context;	/* relative directory, NULL/"" = root */
	const char *dockerfile; /* relative to the context, NULL = Dockerfile */
	json_t *build_args;	/* object of strings, or NULL (borrowed) */
	const char *source;	/* org.opencontainers.image.source; NULL = git_url */
};

struct builder_env {
	struct engine *engine;
	struct source *source;	       /* fetches the commits (borrowed) */
	struct registry *registry;     /* for the post-push digest check; NULL skips it */
	const char *registry_host;     /* host:port images are tagged with */
	const char *registry_username; /* NULL = open registry */
	const char *registry_password;
	/* seconds a push is tried again while the registry cannot be reached; 0 = never */
	int registry_retry_s;
	/* image with apt the mirror of a "packages" build is made in; NULL = debian:bookworm-slim
	 */
	const char *packages_base;
};

struct build_result {
	char image[512];  /* registry/service:version */
	char digest[80];  /* sha256:... */
	char commit[41];  /* the 40-hex commit built (the ref resolved), once known */
	char error[2048]; /* why it failed, for users */
};

/*
 * Checks SPEC without touching the engine. Appends one {"field","message"} object per problem
 * to ERRORS (an array) and returns FORJA_EINVAL if there was any, FORJA_EUNSUPPORTED for a type
 * other than docker and packages (message: "artifact type 'AMI' is not supported: ...").
 */
int builder_validate(const struct build_spec *spec, json_t *errors);

/*
 * A "packages" build (a Debian package mirror, see README) carries its list in BUILD_ARGS, so that
 * it is stored, shown and run again like any build: PACKAGES, the packages space-separated, or
 * PACKAGES_FILE, a file of the repository at the commit with one package a line.
 */
#define BUILDER_PACKAGES_ARG	  "PACKAGES"
#define BUILDER_PACKAGES_FILE_ARG "PACKAGES_FILE"
/* The port a mirror image serves its repository on (HTTP, busybox httpd). */
#define BUILDER_MIRROR_PORT "8080"
/* Whether the N bytes at P are name[=version] of a Debian package: [a-z0-9][a-z0-9+.-]+ then
 * optionally =[A-Za-z0-9.+~:-]+. No shell metacharacter passes. */
bool builder_package_valid(const char *p, size_t n);

/*
 * Reads TEXT (LEN bytes) as a packages_file is read: one package a line, '#' starts a comment,
 * blank lines and the space around a name do not count. Appends each package and a '\n' to
 * LIST (borrowed; NULL only checks) and counts them in *COUNT. FORJA_EINVAL at the first name
 * that is not builder_package_valid, with WHY = "line N: \"NAME\" is not a Debian package
 * name[=version]"; LIST's own failure (FORJA_ETOOBIG, FORJA_ENOMEM) as it came. A file that
 * lists nothing is 0 with *COUNT 0: each caller words that for the file it names.
 */
int builder_packages_parse(const char *text, size_t len, struct dynbuf *list, size_t *count,
			   char *why, size_t whylen);

/* Docker repository grammar (lowercase components joined by '/', <= 255 characters). */
bool builder_service_valid(const char *service);
/* Docker tag grammar: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}. */
bool builder_version_valid(const char *version);
/* The image reference REGISTRY/SERVICE:VERSION into BUF; FORJA_ETOOBIG when it does not fit. */
int builder_image_ref(const char *registry, const char *service, const char *version, char *buf,
		      size_t len);

/*
 * Validates, builds, pushes, verifies. Log text goes to LOG as it arrives; AB aborts. While
 * the registry cannot be reached the push (and its check) is tried again, with backoff from
 * 1 s to 30 s, for ENV->registry_retry_s; each wait is logged and the error says how many
 * pushes were tried.
 * Returns 0 with RES->image/digest set, or a forja_err with RES->error set.
 */
int builder_run(const struct builder_env *env, const struct build_spec *spec,
		const struct task_log *log, const struct task_abort *ab, struct build_result *res);

#endif
