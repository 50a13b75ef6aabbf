/* Badge rendering: text sanitising (UTF-8, control characters), Verdana widths, the flat SVG. */
#include "badge.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "errors.h"

/* Longest text kept on a badge, in code points: a badge is a one-liner. */
#define BADGE_MAX_CHARS 256
#define BADGE_PAD	5

/*
 * Advance widths of Verdana for ASCII 0x20..0x7e in font units (2048 per em); at 11 px a
 * glyph is units * 11 / 2048 px ('m' 1992 = 10.7 px). Non-ASCII code points use '@'.
 */
static const unsigned short verdana_units[95] = {
    720,  806,	940,  1676, 1302, 2204, 1488, 550,  930,  930,	1302, 1676, 745,  930,	745,  930,
    1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 1302, 930,  930,  1676, 1676, 1676, 1117,
    2048, 1401, 1405, 1430, 1577, 1294, 1178, 1587, 1540, 857,	931,  1418, 1141, 1726, 1532, 1612,
    1235, 1612, 1424, 1401, 1262, 1499, 1401, 2025, 1403, 1260, 1403, 930,  930,  930,	1676, 1302,
    1302, 1230, 1276, 1067, 1276, 1220, 720,  1276, 1296, 562,	705,  1212, 562,  1992, 1296, 1243,
    1276, 1276, 874,  1067, 807,  1296, 1212, 1676, 1212, 1212, 1076, 1300, 930,  1300, 1676,
};

/* Bounds a whole badge: labels and messages are short, the SVG around them is fixed. */
#define BADGE_BUF_MAX (256 * 1024)

/* Decimal N: the badge's numbers, without printf's cost on the hottest endpoint. */
static void add_uint(struct dynbuf *s, unsigned n)
{
	char tmp[16];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	dynbuf_add(s, tmp + i, sizeof(tmp) - i);
}

/*
 * Decodes one UTF-8 code point from S (at most N bytes); *ADV gets the bytes used. Malformed,
 * overlong and surrogate sequences give U+FFFD over one byte, so any input yields valid text.
 */
static unsigned utf8_next(const unsigned char *s, size_t n, size_t *adv)
{
	unsigned c = s[0];
	*adv = 1;
	if (c < 0x80)
		return c;
	size_t need;
	unsigned cp, min;
	if ((c & 0xe0) == 0xc0) {
		need = 1, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		need = 2, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		need = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return 0xfffd;
	}
	if (need >= n)
		return 0xfffd;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0xfffd;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0xfffd;
	*adv = need + 1;
	return cp;
}

static size_t utf8_put(unsigned cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Characters XML 1.0 cannot carry or a reader would not see: C0/C1 controls and DEL. */
static bool cp_dropped(unsigned cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* Code points that are not XML characters become U+FFFD. */
static unsigned cp_xml(unsigned cp)
{
	return (cp == 0xfffe || cp == 0xffff) ? 0xfffd : cp;
}

/* TEXT as clean UTF-8: controls dropped, bad bytes replaced, at most BADGE_MAX_CHARS. */
static void text_clean(struct dynbuf *out, const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text), i = 0, chars = 0;
	while (i < n && chars < BADGE_MAX_CHARS) {
		size_t adv;
		unsigned cp = utf8_next(s + i, n - i, &adv);
		i += adv;
		if (cp_dropped(cp))
			continue;
		char enc[4];
		dynbuf_add(out, enc, utf8_put(cp_xml(cp), enc));
		chars++;
	}
	dynbuf_add(out, "", 0); /* an empty text is "" too */
}

/* Escapes clean TEXT for an XML attribute or element. */
static void xml_escape(struct dynbuf *out, const char *text)
{
	for (const char *p = text; *p; p++) {
		switch (*p) {
		case '&': dynbuf_add_str(out, "&amp;"); break;
		case '<': dynbuf_add_str(out, "&lt;"); break;
		case '>': dynbuf_add_str(out, "&gt;"); break;
		case '"': dynbuf_add_str(out, "&quot;"); break;
		case '\'': dynbuf_add_str(out, "&#39;"); break;
		default: dynbuf_add(out, p, 1);
		}
	}
}

double badge_text_width(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text), i = 0;
	unsigned long units = 0;
	while (i < n) {
		size_t adv;
		unsigned cp = utf8_next(s + i, n - i, &adv);
		i += adv;
		if (cp_dropped(cp))
			continue;
		unsigned idx = (cp >= 0x20 && cp <= 0x7e) ? cp - 0x20 : '@' - 0x20;
		units += verdana_units[idx];
	}
	return (double)units * 11.0 / 2048.0;
}

/* Whole pixels for a text, odd so the centred text lands on the pixel grid (as shields does). */
static unsigned text_px(const char *text)
{
	unsigned w = (unsigned)badge_text_width(text);
	return (w % 2 == 0) ? w + 1 : w;
}

static bool color_valid(const char *c)
{
	size_t n = c ? strlen(c) : 0;
	if (n != 4 && n != 7)
		return false;
	if (c[0] != '#')
		return false;
	for (size_t i = 1; i < n; i++) {
		char ch = c[i];
		bool hex = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
			   (ch >= 'A' && ch <= 'F');
		if (!hex)
			return false;
	}
	return true;
}

static unsigned hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned)(c - 'a' + 10);
	return (unsigned)(c - 'A' + 10);
}

/* Light backgrounds get dark text, as shields.io decides it (perceived brightness >= .69). */
static bool color_is_light(const char *c)
{
	unsigned r, g, b;
	if (strlen(c) == 4) {
		r = hexval(c[1]) * 17, g = hexval(c[2]) * 17, b = hexval(c[3]) * 17;
	} else {
		r = hexval(c[1]) * 16 + hexval(c[2]);
		g = hexval(c[3]) * 16 + hexval(c[4]);
		b = hexval(c[5]) * 16 + hexval(c[6]);
	}
	return (r * 299 + g * 587 + b * 114) >= 690u * 255u;
}

static void svg_text(struct dynbuf *s, unsigned x10, unsigned len10, const char *esc, bool light)
{
	dynbuf_add_str(s, "<text aria-hidden=\"true\" x=\"");
	add_uint(s, x10);
	dynbuf_add_str(s, light ? "\" y=\"150\" fill=\"#ccc\"" : "\" y=\"150\" fill=\"#010101\"");
	dynbuf_add_str(s, " fill-opacity=\".3\" transform=\"scale(.1)\" textLength=\"");
	add_uint(s, len10);
	dynbuf_add_str(s, "\">");
	dynbuf_add_str(s, esc);
	dynbuf_add_str(s, "</text><text x=\"");
	add_uint(s, x10);
	dynbuf_add_str(s, "\" y=\"140\" transform=\"scale(.1)\" fill=\"");
	dynbuf_add_str(s, light ? "#333" : "#fff");
	dynbuf_add_str(s, "\" textLength=\"");
	add_uint(s, len10);
	dynbuf_add_str(s, "\">");
	dynbuf_add_str(s, esc);
	dynbuf_add_str(s, "</text>");
}

/* Background of a badge W wide: label part LW (grey), message part MW in COLOR, rounded. */
static void svg_frame(struct dynbuf *s, unsigned w, unsigned lw, unsigned mw, const char *color)
{
	dynbuf_add_str(s,
		       "</title><linearGradient id=\"s\" x2=\"0\" y2=\"100%\"><stop offset=\"0\" "
		       "stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" "
		       "stop-opacity=\".1\"/></linearGradient><clipPath id=\"r\"><rect width=\"");
	add_uint(s, w);
	dynbuf_add_str(s, "\" height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath>"
			  "<g clip-path=\"url(#r)\"><rect width=\"");
	add_uint(s, lw);
	dynbuf_add_str(s, "\" height=\"20\" fill=\"#555\"/><rect x=\"");
	add_uint(s, lw);
	dynbuf_add_str(s, "\" width=\"");
	add_uint(s, mw);
	dynbuf_add_str(s, "\" height=\"20\" fill=\"");
	dynbuf_add_str(s, color);
	dynbuf_add_str(s, "\"/><rect width=\"");
	add_uint(s, w);
	dynbuf_add_str(s, "\" height=\"20\" fill=\"url(#s)\"/></g>");
}

static void svg_write(struct dynbuf *s, const char *label, const char *message, const char *color)
{
	struct dynbuf el, em;

	dynbuf_init(&el, BADGE_BUF_MAX);
	dynbuf_init(&em, BADGE_BUF_MAX);
	xml_escape(&el, label);
	xml_escape(&em, message);
	dynbuf_add(&el, "", 0);
	dynbuf_add(&em, "", 0);
	if (el.failed || em.failed) {
		s->failed = el.failed ? el.failed : em.failed;
		goto out;
	}
	unsigned lt = text_px(label), mt = text_px(message);
	unsigned lw = lt + 2 * BADGE_PAD, mw = mt + 2 * BADGE_PAD, w = lw + mw;
	bool light = color_is_light(color);

	dynbuf_add_str(s, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"");
	add_uint(s, w);
	dynbuf_add_str(s, "\" height=\"20\" role=\"img\" aria-label=\"");
	dynbuf_add_str(s, el.buf);
	dynbuf_add_str(s, ": ");
	dynbuf_add_str(s, em.buf);
	dynbuf_add_str(s, "\"><title>");
	dynbuf_add_str(s, el.buf);
	dynbuf_add_str(s, ": ");
	dynbuf_add_str(s, em.buf);
	svg_frame(s, w, lw, mw, color);
	dynbuf_add_str(s, "<g fill=\"#fff\" text-anchor=\"middle\" "
			  "font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" "
			  "text-rendering=\"geometricPrecision\" font-size=\"110\">");
	svg_text(s, (BADGE_PAD * 2 + lt) * 5, lt * 10, el.buf, false);
	svg_text(s, lw * 10 + (BADGE_PAD * 2 + mt) * 5, mt * 10, em.buf, light);
	dynbuf_add_str(s, "</g></svg>");
out:
	dynbuf_free(&el);
	dynbuf_free(&em);
}

char *badge_render(const char *label, const char *message, const char *color)
{
	struct dynbuf cl, cm, svg;

	dynbuf_init(&cl, BADGE_BUF_MAX);
	dynbuf_init(&cm, BADGE_BUF_MAX);
	dynbuf_init(&svg, BADGE_BUF_MAX);
	text_clean(&cl, label ? label : "");
	text_clean(&cm, message ? message : "");
	if (cl.failed || cm.failed)
		goto out;
	svg_write(&svg, cl.buf, cm.buf, color_valid(color) ? color : BADGE_COLOR_UNKNOWN);
out:
	dynbuf_free(&cl);
	dynbuf_free(&cm);
	if (svg.failed || cl.failed || cm.failed) {
		dynbuf_free(&svg);
		return NULL;
	}
	return dynbuf_take(&svg);
}

char *badge_render_build(const struct build *b, const char *label)
{
	if (!label || !*label)
		label = "build";
	if (!b)
		return badge_render(label, "unknown", BADGE_COLOR_UNKNOWN);

	const char *version = (b->version && *b->version) ? b->version : "?";
	const char *suffix = "", *color = BADGE_COLOR_UNKNOWN;
	switch (b->status) {
	case BUILD_SUCCEEDED: color = BADGE_COLOR_SUCCEEDED; break;
	case BUILD_FAILED: suffix = " failing", color = BADGE_COLOR_FAILED; break;
	case BUILD_RUNNING: suffix = " running", color = BADGE_COLOR_PENDING; break;
	case BUILD_QUEUED: suffix = " queued", color = BADGE_COLOR_PENDING; break;
	case BUILD_CANCELLED: suffix = " cancelled", color = BADGE_COLOR_CANCELLED; break;
	}
	size_t n = strlen(version) + strlen(suffix) + 1;
	char *message = malloc(n);
	if (!message)
		return NULL;
	snprintf(message, n, "%s%s", version, suffix);
	char *svg = badge_render(label, message, color);
	free(message);
	return svg;
}

uint64_t badge_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct cache_slot {
	pthread_mutex_t mu;
	uint64_t generation;
	char *key; /* NULL: empty */
	char *svg;
	size_t len;
	char etag[BADGE_ETAG_MAX];
};

struct badge_cache {
	struct cache_slot slots[BADGE_CACHE_SLOTS];
};

int badge_cache_new(struct badge_cache **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return FORJA_ENOMEM;
	for (size_t i = 0; i < BADGE_CACHE_SLOTS; i++)
		pthread_mutex_init(&(*out)->slots[i].mu, NULL);
	return 0;
}

void badge_cache_free(struct badge_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < BADGE_CACHE_SLOTS; i++) {
		pthread_mutex_destroy(&c->slots[i].mu);
		free(c->slots[i].key);
		free(c->slots[i].svg);
	}
	free(c);
}

/* One part of a key: its length first, so that no two triples of strings give one key. */
static void key_part(struct dynbuf *k, const char *s)
{
	if (!s) {
		dynbuf_add_str(k, "-;");
		return;
	}
	add_uint(k, (unsigned)strlen(s));
	dynbuf_add_str(k, ":");
	dynbuf_add_str(k, s);
}

/* The key of a triple, malloc'd, or NULL on ENOMEM. */
static char *cache_key(const char *service, const char *branch, const char *label)
{
	struct dynbuf k;
	dynbuf_init(&k, BADGE_BUF_MAX);
	key_part(&k, service);
	key_part(&k, branch);
	key_part(&k, label);
	if (k.failed) {
		dynbuf_free(&k);
		return NULL;
	}
	return dynbuf_take(&k);
}

static struct cache_slot *slot_of(struct badge_cache *c, const char *key)
{
	return &c->slots[badge_hash(key, strlen(key)) % BADGE_CACHE_SLOTS];
}

int badge_cache_get(struct badge_cache *c, uint64_t generation, const char *service,
		    const char *branch, const char *label, char **svg, size_t *len,
		    char etag[BADGE_ETAG_MAX])
{
	*svg = NULL;
	char *key = cache_key(service, branch, label);
	if (!key)
		return FORJA_ENOMEM;
	struct cache_slot *s = slot_of(c, key);
	int rc = FORJA_ENOTFOUND;
	pthread_mutex_lock(&s->mu);
	if (s->key && s->generation == generation && !strcmp(s->key, key)) {
		*svg = malloc(s->len + 1);
		rc = *svg ? 0 : FORJA_ENOMEM;
		if (*svg) {
			memcpy(*svg, s->svg, s->len + 1);
			*len = s->len;
			memcpy(etag, s->etag, BADGE_ETAG_MAX);
		}
	}
	pthread_mutex_unlock(&s->mu);
	free(key);
	return rc;
}

void badge_cache_put(struct badge_cache *c, uint64_t generation, const char *service,
		     const char *branch, const char *label, const char *svg, size_t len,
		     const char *etag)
{
	char *key = cache_key(service, branch, label);
	char *copy = malloc(len + 1);
	if (!key || !copy || strlen(etag) >= BADGE_ETAG_MAX)
		goto out;
	memcpy(copy, svg, len);
	copy[len] = '\0';
	struct cache_slot *s = slot_of(c, key);
	pthread_mutex_lock(&s->mu);
	/* an older reading never replaces a newer one */
	if (!s->key || s->generation <= generation) {
		char *old_key = s->key, *old_svg = s->svg;
		s->key = key;
		s->svg = copy;
		s->len = len;
		s->generation = generation;
		snprintf(s->etag, sizeof(s->etag), "%s", etag);
		key = old_key;
		copy = old_svg;
	}
	pthread_mutex_unlock(&s->mu);
out:
	free(key);
	free(copy);
}
