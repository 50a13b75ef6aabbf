/* Registry v2 HTTP API client: catalog with pagination, tags, manifest digests.
 * Plain HTTP on loopback or TLS with a CA file, anonymous or with basic auth. */
#ifndef FORJA_REGISTRY_H
#define FORJA_REGISTRY_H

#include <stddef.h>

struct registry;

struct registry_opts {
	const char *url;      /* "http://127.0.0.1:5000" or "https://registry.example:5000" */
	const char *username; /* NULL = anonymous */
	const char *password;
	const char *ca_file; /* PEM to trust; NULL = system store */
	long timeout_s;	     /* per request; these are short calls */
};

/* *OUT owned by the caller: registry_free(). Copies what it needs from OPTS. */
int registry_new(const struct registry_opts *opts, struct registry **out);
void registry_free(struct registry *r);

/* GET /v2/: 0 when it answers 200; writes why not into ERR. */
int registry_ping(struct registry *r, char *err, size_t errlen);

/*
 * Every repository name, following Link rel="next" pages (PAGE_SIZE per page, 0 = registry
 * default). *NAMES is a malloc'd array of malloc'd strings: registry_strings_free().
 */
int registry_catalog(struct registry *r, int page_size, char ***names, size_t *n, char *err,
		     size_t errlen);
/* Tags of NAME, sorted; a null tag list gives n = 0. FORJA_ENOTFOUND when unknown. */
int registry_tags(struct registry *r, const char *name, char ***tags, size_t *n, char *err,
		  size_t errlen);
/* HEAD manifest with OCI/v2/list Accept headers; DIGEST (>= 80 bytes) gets Docker-Content-Digest.
 * FORJA_ENOTFOUND when the tag is absent. */
int registry_manifest_digest(struct registry *r, const char *name, const char *tag, char *digest,
			     char *err, size_t errlen);
void registry_strings_free(char **arr, size_t n);

/*
 * Appends the strings of the array KEY of the JSON object BODY (LEN bytes of a registry's answer,
 * borrowed): "repositories" of a catalog page, "tags" of a tag list; null or absent counts as
 * empty, other members are skipped. *NAMES is a malloc'd array of malloc'd strings owned by the
 * caller (registry_strings_free), NULL with *N 0 at first; on error *N is unchanged and no string
 * was added. FORJA_EUPSTREAM when BODY is not a JSON object, FORJA_ETOOBIG past a million names,
 * FORJA_ENOMEM. Used per answer by registry_catalog and registry_tags.
 */
int registry_names_parse(const char *body, size_t len, const char *key, char ***names, size_t *n);

/*
 * The target of VALUE, one Link header's value (borrowed): </v2/_catalog?last=b&n=2>; rel="next"
 * gives "/v2/_catalog?last=b&n=2" in OUT (OUTLEN bytes). 0, or FORJA_ENOTFOUND when VALUE names
 * no rel="next" target or it does not fit OUT (then OUT is "").
 */
int registry_link_next(const char *value, char *out, size_t outlen);

#endif
