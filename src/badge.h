/* Build badges as SVG in the shields.io "flat" look, sized from a Verdana 11px width table.
 * Every text that reaches the SVG is escaped. */
#ifndef FORJA_BADGE_H
#define FORJA_BADGE_H

#include <stddef.h>
#include <stdint.h>

#include "build.h"

#define BADGE_COLOR_SUCCEEDED "#4c1"
#define BADGE_COLOR_FAILED    "#e05d44"
#define BADGE_COLOR_PENDING   "#dfb317"
#define BADGE_COLOR_UNKNOWN   "#9f9f9f"
/* A cancelled build says so on a grey badge: it neither passed nor failed. */
#define BADGE_COLOR_CANCELLED "#9f9f9f"

/*
 * The badge for B (NULL = no build known: "unknown", light grey). LABEL NULL or "" = "build".
 * Messages: "VERSION" (succeeded, green), "VERSION failing" (red), "VERSION queued" and
 * "VERSION running" (yellow), "VERSION cancelled" (grey), "unknown" (light grey).
 * Returns a malloc'd SVG string (free()) or NULL on ENOMEM.
 */
char *badge_render_build(const struct build *b, const char *label);
/* A generic two-part badge; COLOR is "#rgb" or "#rrggbb" (anything else: light grey).
 * Malloc'd string (free()), or NULL on ENOMEM. */
char *badge_render(const char *label, const char *message, const char *color);
/* Width in pixels of TEXT in 11px Verdana: one width per code point, '@' for non-ASCII;
 * control characters (which the badge drops) count nothing. */
double badge_text_width(const char *text);

/* 64-bit FNV-1a of LEN bytes of DATA, for content-derived ETags. */
uint64_t badge_hash(const void *data, size_t len);

/*
 * Rendered badges with their ETags, each valid for one generation of the history
 * (store_generation): a badge is asked for far more often than a build changes, and a hit
 * costs no query, render or hash. Bounded: BADGE_CACHE_SLOTS entries, a new key replaces the
 * one in its slot. Safe from several threads.
 */
#define BADGE_CACHE_SLOTS 64
#define BADGE_ETAG_MAX	  24

struct badge_cache;

/* *OUT owned by the caller: badge_cache_free(). FORJA_ENOMEM. */
int badge_cache_new(struct badge_cache **out);
void badge_cache_free(struct badge_cache *c);

/* The badge of (SERVICE, BRANCH, LABEL; each NULL = not given) cached at GENERATION: 0 with a
 * malloc'd copy in *SVG (free()), its length in *LEN and its ETag in ETAG; FORJA_ENOTFOUND when
 * it is not cached at that generation, FORJA_ENOMEM. */
int badge_cache_get(struct badge_cache *c, uint64_t generation, const char *service,
		    const char *branch, const char *label, char **svg, size_t *len,
		    char etag[BADGE_ETAG_MAX]);
/* Keeps a copy of SVG (LEN bytes, borrowed) and ETAG for that key, as read at GENERATION
 * (taken before the history was read). Nothing is kept when memory runs out. */
void badge_cache_put(struct badge_cache *c, uint64_t generation, const char *service,
		     const char *branch, const char *label, const char *svg, size_t len,
		     const char *etag);

#endif
