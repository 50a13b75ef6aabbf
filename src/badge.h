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

#endif
