/* .dockerignore parsing and matching. The CLI (moby/patternmatcher) turns each pattern into a Go
 * regular expression; this module builds the same expression, then rewrites it into POSIX ERE so
 * regexec matches exactly what Go's regexp would, including Go's rune-at-a-time classes. */
#include "dockerignore.h"

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* bufio.Scanner's default token limit: the CLI fails on longer lines. */
#define LINE_MAX_BYTES 65535
#define RUNE_MAX       0x10FFFFu
#define PATH_STACK     4096

enum match_kind { MATCH_EXACT, MATCH_PREFIX, MATCH_SUFFIX, MATCH_REGEX };

struct pattern {
	char *text; /* cleaned, without the leading '!'; owned */
	size_t len;
	bool exclusion;
	enum match_kind kind;
	regex_t re; /* compiled only for MATCH_REGEX */
};

struct dockerignore {
	struct pattern *pats;
	size_t n, cap;
	bool exclusions;
};

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

struct range {
	uint32_t lo, hi;
};

struct runeset {
	struct range *r;
	size_t n, cap;
	bool oom;
};

/* ---- small containers ---- */

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

static void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void set_add(struct runeset *s, uint32_t lo, uint32_t hi)
{
	if (s->oom)
		return;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct range *r = realloc(s->r, cap * sizeof(*r));
		if (!r) {
			s->oom = true;
			return;
		}
		s->r = r;
		s->cap = cap;
	}
	s->r[s->n].lo = lo;
	s->r[s->n].hi = hi;
	s->n++;
}

static int range_cmp(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

static void set_normalize(struct runeset *s)
{
	if (s->n == 0)
		return;
	qsort(s->r, s->n, sizeof(*s->r), range_cmp);
	size_t w = 0;
	for (size_t i = 1; i < s->n; i++) {
		if (s->r[i].lo <= s->r[w].hi + 1) {
			if (s->r[i].hi > s->r[w].hi)
				s->r[w].hi = s->r[i].hi;
		} else {
			s->r[++w] = s->r[i];
		}
	}
	s->n = w + 1;
}

/* Replaces a normalized set by its complement over all runes. */
static void set_negate(struct runeset *s)
{
	struct runeset c = {0};
	uint32_t next = 0;
	for (size_t i = 0; i < s->n; i++) {
		if (s->r[i].lo > next)
			set_add(&c, next, s->r[i].lo - 1);
		next = s->r[i].hi + 1;
	}
	if (next <= RUNE_MAX)
		set_add(&c, next, RUNE_MAX);
	c.oom = c.oom || s->oom;
	free(s->r);
	*s = c;
}

/* Adds SRC's ranges to DST, complemented first when NEGATE. Takes SRC's memory. */
static void set_merge(struct runeset *dst, struct runeset *src, bool negate)
{
	set_normalize(src);
	if (negate)
		set_negate(src);
	for (size_t i = 0; i < src->n; i++)
		set_add(dst, src->r[i].lo, src->r[i].hi);
	dst->oom = dst->oom || src->oom;
	free(src->r);
	src->r = NULL;
	src->n = src->cap = 0;
}

/* ---- UTF-8 ---- */

/* One rune at S (N > 0 bytes), as Go's utf8.DecodeRune: -1 with *SIZE 1 for an invalid sequence. */
static int32_t decode_rune(const unsigned char *s, size_t n, size_t *size)
{
	*size = 1;
	if (s[0] < 0x80)
		return s[0];
	size_t len;
	uint32_t r;
	unsigned char lo = 0x80, hi = 0xBF;
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		r = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		r = s[0] & 0x0F;
		lo = s[0] == 0xE0 ? 0xA0 : 0x80;
		hi = s[0] == 0xED ? 0x9F : 0xBF;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		r = s[0] & 0x07;
		lo = s[0] == 0xF0 ? 0x90 : 0x80;
		hi = s[0] == 0xF4 ? 0x8F : 0xBF;
	} else {
		return -1;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return -1;
	for (size_t i = 1; i < len; i++) {
		if (i > 1 && (s[i] < 0x80 || s[i] > 0xBF))
			return -1;
		r = (r << 6) | (s[i] & 0x3F);
	}
	*size = len;
	return (int32_t)r;
}

static size_t encode_rune(uint32_t r, unsigned char out[4])
{
	if (r < 0x80) {
		out[0] = (unsigned char)r;
		return 1;
	}
	if (r < 0x800) {
		out[0] = (unsigned char)(0xC0 | (r >> 6));
		out[1] = (unsigned char)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		out[0] = (unsigned char)(0xE0 | (r >> 12));
		out[1] = (unsigned char)(0x80 | ((r >> 6) & 0x3F));
		out[2] = (unsigned char)(0x80 | (r & 0x3F));
		return 3;
	}
	out[0] = (unsigned char)(0xF0 | (r >> 18));
	out[1] = (unsigned char)(0x80 | ((r >> 12) & 0x3F));
	out[2] = (unsigned char)(0x80 | ((r >> 6) & 0x3F));
	out[3] = (unsigned char)(0x80 | (r & 0x3F));
	return 4;
}

static bool utf8_valid(const char *s, size_t n)
{
	size_t i = 0, size;
	while (i < n) {
		if (decode_rune((const unsigned char *)s + i, n - i, &size) < 0)
			return false;
		i += size;
	}
	return true;
}

/* Go's unicode.IsSpace. */
static bool is_space_rune(int32_t r)
{
	if (r == ' ' || (r >= '\t' && r <= '\r') || r == 0x85 || r == 0xA0)
		return true;
	return r == 0x1680 || (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 ||
	       r == 0x202F || r == 0x205F || r == 0x3000;
}

/* Go's strings.TrimSpace on [*S, *S + *N). */
static void trim_space(const char **s, size_t *n)
{
	const unsigned char *p = (const unsigned char *)*s;
	size_t i = 0, start = *n, end = 0, size;
	while (i < *n) {
		int32_t r = decode_rune(p + i, *n - i, &size);
		if (!is_space_rune(r)) {
			if (start == *n)
				start = i;
			end = i + size;
		}
		i += size;
	}
	if (start == *n) {
		*n = 0;
		return;
	}
	*s += start;
	*n = end - start;
}

/* ---- paths ---- */

/* Go's filepath.Clean for '/' paths. OUT holds at least N + 2 bytes; returns the length written
 * (NUL-terminated). */
static size_t path_clean(const char *p, size_t n, char *out)
{
	bool rooted = n > 0 && p[0] == '/';
	size_t r = 0, w = 0, dotdot = 0;
	if (rooted) {
		out[w++] = '/';
		r = dotdot = 1;
	}
	while (r < n) {
		if (p[r] == '/') {
			r++;
		} else if (p[r] == '.' && (r + 1 == n || p[r + 1] == '/')) {
			r++;
		} else if (p[r] == '.' && p[r + 1] == '.' && (r + 2 == n || p[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					out[w++] = '/';
				out[w++] = '.';
				out[w++] = '.';
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				out[w++] = '/';
			while (r < n && p[r] != '/')
				out[w++] = p[r++];
		}
	}
	if (w == 0)
		out[w++] = '.';
	out[w] = '\0';
	return w;
}

/* ---- pattern syntax (what Go's filepath.Match rejects; the CLI calls it only for that) ---- */

static bool glob_esc(const char *p, size_t n, size_t *i)
{
	if (*i >= n || p[*i] == '-' || p[*i] == ']')
		return false;
	if (p[*i] == '\\' && ++*i >= n)
		return false;
	size_t size;
	if (decode_rune((const unsigned char *)p + *i, n - *i, &size) < 0)
		return false;
	*i += size;
	return *i < n;
}

static bool glob_class_ok(const char *p, size_t n, size_t *i)
{
	size_t nrange = 0;
	if (*i < n && p[*i] == '^')
		++*i;
	for (;;) {
		if (*i < n && p[*i] == ']' && nrange > 0) {
			++*i;
			return true;
		}
		if (!glob_esc(p, n, i))
			return false;
		if (p[*i] == '-') {
			++*i;
			if (!glob_esc(p, n, i))
				return false;
		}
		nrange++;
	}
}

static bool glob_ok(const char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		if (p[i] == '\\') {
			if (i + 1 >= n)
				return false;
			i += 2;
		} else if (p[i] == '[') {
			i++;
			if (!glob_class_ok(p, n, &i))
				return false;
		} else {
			i++;
		}
	}
	return true;
}

/* ---- the CLI's translation of a pattern into a Go regular expression ---- */

static enum match_kind cli_regex(const char *p, size_t n, struct buf *re)
{
	enum match_kind kind = MATCH_EXACT;
	size_t pos = 0, size;
	buf_addc(re, '^');
	/* Go's text/scanner drops a BOM at the very start. */
	if (n >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	for (size_t tok = 0; pos < n; tok++) {
		char ch = p[pos];
		decode_rune((const unsigned char *)p + pos, n - pos, &size);
		if (ch == '*' && pos + 1 < n && p[pos + 1] == '*') {
			pos += 2;
			if (pos < n && p[pos] == '/')
				pos++;
			if (pos >= n && kind == MATCH_EXACT) {
				kind = MATCH_PREFIX;
			} else if (pos >= n) {
				buf_adds(re, ".*");
				kind = MATCH_REGEX;
			} else {
				buf_adds(re, "(.*/)?");
				kind = MATCH_REGEX;
			}
			if (tok == 0)
				kind = MATCH_SUFFIX;
			continue;
		}
		pos += size;
		if (ch == '*') {
			buf_adds(re, "[^/]*");
			kind = MATCH_REGEX;
		} else if (ch == '?') {
			buf_adds(re, "[^/]");
			kind = MATCH_REGEX;
		} else if (strchr(".+()|{}$", ch) && ch) {
			buf_addc(re, '\\');
			buf_addc(re, ch);
		} else if (ch == '\\' && pos < n) {
			decode_rune((const unsigned char *)p + pos, n - pos, &size);
			buf_addc(re, '\\');
			buf_add(re, p + pos, size);
			pos += size;
			kind = MATCH_REGEX;
		} else if (ch == '[' || ch == ']') {
			buf_addc(re, ch);
			kind = MATCH_REGEX;
		} else {
			buf_add(re, p + pos - size, size);
		}
	}
	return kind;
}

/* ---- Go regular expression (the subset cli_regex produces) to POSIX ERE ---- */

struct conv {
	const char *g;
	size_t n, i;
	struct buf *out;
	const char
	    *why; /* set on a pattern Go's regexp would reject or this module does not handle */
};

struct named_class {
	const char *name;
	unsigned char r[8]; /* lo, hi pairs */
	size_t n;
};

static const struct named_class named_classes[] = {
    {"alnum", {'0', '9', 'A', 'Z', 'a', 'z'}, 3},
    {"alpha", {'A', 'Z', 'a', 'z'}, 2},
    {"ascii", {0x00, 0x7F}, 1},
    {"blank", {'\t', '\t', ' ', ' '}, 2},
    {"cntrl", {0x00, 0x1F, 0x7F, 0x7F}, 2},
    {"digit", {'0', '9'}, 1},
    {"graph", {'!', '~'}, 1},
    {"lower", {'a', 'z'}, 1},
    {"print", {' ', '~'}, 1},
    {"punct", {'!', '/', ':', '@', '[', '`', '{', '~'}, 4},
    {"space", {'\t', '\r', ' ', ' '}, 2},
    {"upper", {'A', 'Z'}, 1},
    {"word", {'0', '9', 'A', 'Z', 'a', 'z', '_', '_'}, 4},
    {"xdigit", {'0', '9', 'A', 'F', 'a', 'f'}, 3},
    /* Go's Perl classes \d \s \w, looked up by letter */
    {"d", {'0', '9'}, 1},
    {"s", {'\t', '\n', '\f', '\r', ' ', ' '}, 3},
    {"w", {'0', '9', 'A', 'Z', 'a', 'z', '_', '_'}, 4},
};

static const struct named_class *find_class(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(named_classes) / sizeof(named_classes[0]); i++) {
		if (strlen(named_classes[i].name) == n &&
		    memcmp(named_classes[i].name, name, n) == 0)
			return &named_classes[i];
	}
	return NULL;
}

static void add_class(struct runeset *dst, const struct named_class *c, bool negate)
{
	struct runeset tmp = {0};
	for (size_t i = 0; i < c->n; i++)
		set_add(&tmp, c->r[2 * i], c->r[2 * i + 1]);
	set_merge(dst, &tmp, negate);
}

/* A Perl class escape (\d \D \s \S \w \W) at the cursor, added to SET; false when there is none. */
static bool perl_class(struct conv *c, struct runeset *set)
{
	if (c->i + 1 >= c->n || c->g[c->i] != '\\' || !strchr("dDsSwW", c->g[c->i + 1]))
		return false;
	char letter = c->g[c->i + 1];
	char lower = (char)(letter | 0x20);
	add_class(set, find_class(&lower, 1), letter != lower);
	c->i += 2;
	return true;
}

/* Go's parseEscape, minus octal, hex and \p forms (rejected). The cursor is on the backslash. */
static int32_t conv_escape_char(struct conv *c)
{
	if (c->i + 1 >= c->n) {
		c->why = "trailing backslash";
		return -1;
	}
	unsigned char e = (unsigned char)c->g[c->i + 1];
	static const char controls[] = "a\af\fn\nr\rt\tv\v";
	c->i += 2;
	if (e < 0x80 &&
	    !((e >= '0' && e <= '9') || (e >= 'A' && e <= 'Z') || (e >= 'a' && e <= 'z')))
		return e;
	for (size_t k = 0; e && k + 1 < sizeof(controls); k += 2) {
		if (controls[k] == (char)e)
			return (unsigned char)controls[k + 1];
	}
	c->why = "escape that Go's regexp treats specially";
	return -1;
}

static int32_t class_char(struct conv *c)
{
	if (c->i >= c->n) {
		c->why = "missing closing ]";
		return -1;
	}
	if (c->g[c->i] == '\\')
		return conv_escape_char(c);
	size_t size;
	int32_t r = decode_rune((const unsigned char *)c->g + c->i, c->n - c->i, &size);
	c->i += size;
	return r;
}

/* `[:name:]` at the cursor: true when consumed (or rejected, with c->why set). */
static bool named_class(struct conv *c, struct runeset *set)
{
	if (c->n - c->i <= 2 || c->g[c->i] != '[' || c->g[c->i + 1] != ':')
		return false;
	const char *start = c->g + c->i + 2;
	const char *end = NULL;
	for (const char *q = start; q + 1 < c->g + c->n; q++) {
		if (q[0] == ':' && q[1] == ']') {
			end = q;
			break;
		}
	}
	if (!end)
		return false;
	bool negate = start < end && *start == '^';
	const char *name = start + negate;
	const struct named_class *nc = find_class(name, (size_t)(end - name));
	/* single letters are the Perl table entries, not POSIX names */
	if (!nc || end - name < 4) {
		c->why = "invalid character class";
		return true;
	}
	add_class(set, nc, negate);
	c->i = (size_t)(end - c->g) + 2;
	return true;
}

/* Go's parseClass: the cursor is on '['; fills SET with the runes the class matches. */
static void parse_class(struct conv *c, struct runeset *set)
{
	struct runeset members = {0};
	bool negate = false, first = true;
	c->i++;
	if (c->i < c->n && c->g[c->i] == '^') {
		negate = true;
		c->i++;
	}
	while (!c->why && (c->i >= c->n || c->g[c->i] != ']' || first)) {
		first = false;
		if (c->i >= c->n) {
			c->why = "missing closing ]";
			break;
		}
		if (named_class(c, &members) || perl_class(c, &members))
			continue;
		int32_t lo = class_char(c), hi = lo;
		if (lo < 0)
			break;
		if (c->n - c->i >= 2 && c->g[c->i] == '-' && c->g[c->i + 1] != ']') {
			c->i++;
			hi = class_char(c);
			if (hi < 0)
				break;
			if (hi < lo) {
				c->why = "invalid character class range";
				break;
			}
		}
		set_add(&members, (uint32_t)lo, (uint32_t)hi);
	}
	c->i++;
	set_merge(set, &members, negate);
}

static void emit_literal(struct buf *out, unsigned char ch)
{
	if (strchr(".[\\()*+?{|^$", ch) && ch)
		buf_addc(out, '\\');
	buf_addc(out, (char)ch);
}

/* A bracket expression for the bytes marked in M (NUL never: paths cannot hold it). Member order
 * keeps ']' first, '^' never first, '-' last and '[' away from '.', ':' and '='. */
static void emit_bracket(struct buf *out, const bool m[256])
{
	size_t count = 0, last = 0;
	for (size_t ch = 1; ch < 256; ch++) {
		if (m[ch]) {
			count++;
			last = ch;
		}
	}
	if (count == 0) {
		buf_adds(out, "[^\x01-\xff]");
		return;
	}
	if (count == 1) {
		emit_literal(out, (unsigned char)last);
		return;
	}
	size_t mark = out->len;
	buf_addc(out, '[');
	if (m[']'])
		buf_addc(out, ']');
	for (size_t ch = 1; ch < 256; ch++) {
		if (!m[ch] || strchr("]^-[", (int)ch))
			continue;
		size_t end = ch;
		while (end + 1 < 256 && m[end + 1] && !strchr("]^-[", (int)(end + 1)))
			end++;
		buf_addc(out, (char)ch);
		if (end > ch + 1)
			buf_addc(out, '-');
		if (end > ch)
			buf_addc(out, (char)end);
		ch = end;
	}
	if (m['['])
		buf_addc(out, '[');
	bool dash_done = false;
	if (m['^'] && !out->oom && out->len == mark + 1) {
		buf_adds(out, "-^"); /* only '^' and '-' are members */
		dash_done = true;
	} else if (m['^']) {
		buf_addc(out, '^');
	}
	if (m['-'] && !dash_done)
		buf_addc(out, '-');
	buf_addc(out, ']');
}

static void emit_byte_range(struct buf *out, unsigned char lo, unsigned char hi)
{
	if (lo == hi) {
		buf_addc(out, (char)lo);
		return;
	}
	buf_addc(out, '[');
	buf_addc(out, (char)lo);
	buf_addc(out, '-');
	buf_addc(out, (char)hi);
	buf_addc(out, ']');
}

/* Alternatives matching the UTF-8 encodings of runes LO..HI (both >= 0x80), split until each
 * piece is a sequence of byte ranges (the usual UTF-8 range construction). */
static void emit_utf8_range(struct buf *out, uint32_t lo, uint32_t hi, bool *first)
{
	static const uint32_t bounds[] = {0x7FF, 0xFFFF};
	for (size_t k = 0; k < 2; k++) {
		if (lo <= bounds[k] && hi > bounds[k]) {
			emit_utf8_range(out, lo, bounds[k], first);
			emit_utf8_range(out, bounds[k] + 1, hi, first);
			return;
		}
	}
	unsigned char a[4], b[4];
	size_t len = encode_rune(lo, a);
	encode_rune(hi, b);
	for (size_t i = 1; i < len; i++) {
		uint32_t m = (1u << (6 * i)) - 1;
		if ((lo & ~m) == (hi & ~m))
			continue;
		if ((lo & m) != 0) {
			emit_utf8_range(out, lo, lo | m, first);
			emit_utf8_range(out, (lo | m) + 1, hi, first);
			return;
		}
		if ((hi & m) != m) {
			emit_utf8_range(out, lo, (hi & ~m) - 1, first);
			emit_utf8_range(out, hi & ~m, hi, first);
			return;
		}
	}
	if (!*first)
		buf_addc(out, '|');
	*first = false;
	for (size_t i = 0; i < len; i++)
		emit_byte_range(out, a[i], b[i]);
}

/* One rune from SET (normalized). STARRED: a '*' follows, so when every non-ASCII rune is in the
 * set a byte class repeated is the same language (and faster). */
static void emit_set(struct buf *out, const struct runeset *set, bool starred)
{
	bool m[256] = {false}, ascii = false, all_high = false, high = false;
	for (size_t i = 0; i < set->n; i++) {
		for (uint32_t ch = set->r[i].lo; ch <= set->r[i].hi && ch < 0x80; ch++) {
			m[ch] = ch != 0;
			ascii = ascii || ch != 0;
		}
		high = high || set->r[i].hi >= 0x80;
		all_high = all_high || (set->r[i].lo <= 0x80 && set->r[i].hi == RUNE_MAX);
	}
	if (all_high && starred) {
		for (size_t ch = 0x80; ch < 256; ch++)
			m[ch] = true;
		emit_bracket(out, m);
		return;
	}
	if (!high) {
		emit_bracket(out, m);
		return;
	}
	buf_addc(out, '(');
	if (ascii) {
		emit_bracket(out, m);
		buf_addc(out, '|');
	}
	if (all_high) {
		buf_adds(out, "[\xc0-\xff][\x80-\xbf]*)");
		return;
	}
	bool first = true;
	for (size_t i = 0; i < set->n; i++) {
		if (set->r[i].hi >= 0x80)
			emit_utf8_range(out, set->r[i].lo < 0x80 ? 0x80 : set->r[i].lo,
					set->r[i].hi, &first);
	}
	buf_addc(out, ')');
}

static bool next_is_star(const struct conv *c)
{
	return c->i < c->n && c->g[c->i] == '*';
}

static void conv_atom_escape(struct conv *c)
{
	struct runeset set = {0};
	if (perl_class(c, &set)) {
		set_normalize(&set);
		emit_set(c->out, &set, next_is_star(c));
	} else {
		int32_t r = conv_escape_char(c);
		if (r >= 0)
			emit_literal(c->out, (unsigned char)r);
	}
	c->out->oom = c->out->oom || set.oom;
	free(set.r);
}

static void conv_atom_class(struct conv *c)
{
	struct runeset set = {0};
	parse_class(c, &set);
	set_normalize(&set);
	if (!c->why)
		emit_set(c->out, &set, next_is_star(c));
	c->out->oom = c->out->oom || set.oom;
	free(set.r);
}

/* Rewrites c->g into ERE in c->out; c->why says why not. */
static void conv_run(struct conv *c)
{
	bool can_repeat = false;
	while (!c->why && c->i < c->n) {
		unsigned char ch = (unsigned char)c->g[c->i];
		if (ch == '*' || ch == '?') {
			if (!can_repeat) {
				c->why = "invalid repetition";
				return;
			}
			buf_addc(c->out, (char)ch);
			c->i++;
			can_repeat = false;
			continue;
		}
		can_repeat = ch != '^' && ch != '(' && ch != '$';
		if (ch == '[') {
			conv_atom_class(c);
		} else if (ch == '\\') {
			conv_atom_escape(c);
		} else if (ch == '.') {
			buf_adds(c->out, "[^\n]"); /* Go's '.' stops at newlines */
			c->i++;
		} else if (strchr("^$()", ch)) {
			buf_addc(c->out, (char)ch);
			c->i++;
		} else {
			emit_literal(c->out, ch);
			c->i++;
		}
	}
}

/* ---- parsing ---- */

static int bad_pattern(size_t line, const char *pat, size_t n, const char *why, char *err,
		       size_t errlen)
{
	char shown[160];
	size_t k = 0;
	for (size_t i = 0; i < n && k + 1 < sizeof(shown); i++) {
		unsigned char ch = (unsigned char)pat[i];
		shown[k++] = ch < 0x20 || ch == 0x7F ? '?' : (char)ch;
	}
	shown[k] = '\0';
	if (err && errlen)
		snprintf(err, errlen, "bad .dockerignore pattern on line %zu: `%s%s` (%s)", line,
			 shown, k < n ? "..." : "", why);
	return FORJA_EINVAL;
}

/* Compiles P (its cleaned text already in p->text); returns NULL or why the pattern is bad, with
 * *OOM set when memory ran out. */
static const char *pattern_compile(struct pattern *p, bool *oom)
{
	if (memchr(p->text, '\0', p->len))
		return "NUL in pattern";
	if (!utf8_valid(p->text, p->len))
		return "not valid UTF-8";
	if (!glob_ok(p->text, p->len))
		return "syntax error in pattern";
	struct buf go = {0}, ere = {0};
	const char *why = NULL;
	p->kind = cli_regex(p->text, p->len, &go);
	if (p->kind != MATCH_REGEX || go.oom)
		goto out;
	buf_addc(&go, '$');
	struct conv c = {.g = go.p, .n = go.len, .out = &ere};
	conv_run(&c);
	why = c.why;
	if (why || ere.oom || go.oom)
		goto out;
	int rc = regcomp(&p->re, ere.p, REG_EXTENDED | REG_NOSUB);
	if (rc == REG_ESPACE)
		*oom = true;
	else if (rc != 0)
		why = "cannot compile its regular expression";
out:
	*oom = *oom || go.oom || ere.oom;
	free(go.p);
	free(ere.p);
	return why;
}

/* Takes TEXT (cleaned, maybe with a leading '!'). */
static int pattern_add(struct dockerignore *di, char *text, size_t len, size_t line,
		       const char *shown, size_t shown_len, char *err, size_t errlen)
{
	struct pattern p = {.text = text, .len = len};
	const char *why = NULL;
	int rc = 0;
	bool oom = false;
	if (text[0] == '!') {
		if (len == 1) {
			rc = bad_pattern(line, shown, shown_len, "illegal exclusion pattern \"!\"",
					 err, errlen);
			goto out;
		}
		p.exclusion = true;
		memmove(text, text + 1, len);
		p.len--;
	}
	why = pattern_compile(&p, &oom);
	if (oom) {
		rc = FORJA_ENOMEM;
		goto out;
	}
	if (why) {
		rc = bad_pattern(line, shown, shown_len, why, err, errlen);
		goto out;
	}
	if (di->n == di->cap) {
		size_t cap = di->cap ? di->cap * 2 : 8;
		struct pattern *v = realloc(di->pats, cap * sizeof(*v));
		if (!v) {
			rc = FORJA_ENOMEM;
			goto out;
		}
		di->pats = v;
		di->cap = cap;
	}
	di->exclusions = di->exclusions || p.exclusion;
	di->pats[di->n++] = p; /* ownership of text and re moves into di */
	return 0;
out:
	if (p.kind == MATCH_REGEX && !why && !oom)
		regfree(&p.re);
	free(text);
	return rc;
}

/* One line, read as the CLI's ignorefile.ReadAll then patternmatcher.New see it. */
static int parse_line(struct dockerignore *di, const char *s, size_t n, size_t line, char *err,
		      size_t errlen)
{
	if (line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
		s += 3;
		n -= 3;
	}
	if (n > 0 && s[0] == '#')
		return 0;
	trim_space(&s, &n);
	if (n == 0)
		return 0;
	bool invert = s[0] == '!';
	const char *body = s + invert;
	size_t body_len = n - invert, len = 0;
	if (invert)
		trim_space(&body, &body_len);
	char *read = malloc(body_len + 3);
	if (!read)
		return FORJA_ENOMEM;
	if (invert)
		read[len++] = '!';
	read[len] = '\0';
	if (body_len > 0) {
		char *c = read + len;
		size_t clen = path_clean(body, body_len, c);
		if (clen > 1 && c[0] == '/')
			memmove(c, c + 1, clen--);
		len += clen;
	}
	const char *p = read;
	trim_space(&p, &len);
	char *clean = len ? malloc(len + 2) : NULL;
	size_t clean_len = clean ? path_clean(p, len, clean) : 0;
	free(read);
	if (len == 0)
		return 0;
	if (!clean)
		return FORJA_ENOMEM;
	return pattern_add(di, clean, clean_len, line, s, n, err, errlen);
}

int dockerignore_parse(const char *text, size_t len, struct dockerignore **out, char *err,
		       size_t errlen)
{
	if (err && errlen)
		err[0] = '\0';
	if (!out || (!text && len))
		return FORJA_EINVAL;
	*out = NULL;
	struct dockerignore *di = calloc(1, sizeof(*di));
	if (!di)
		return FORJA_ENOMEM;
	int rc = 0;
	size_t pos = 0, line = 0;
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl ? 1 : 0);
		line++;
		if (n > LINE_MAX_BYTES) {
			rc = bad_pattern(line, s, n, "line longer than 65535 bytes", err, errlen);
			goto out;
		}
		if (n > 0 && s[n - 1] == '\r')
			n--;
		rc = parse_line(di, s, n, line, err, errlen);
		if (rc)
			goto out;
	}
	*out = di;
	di = NULL;
out:
	dockerignore_free(di);
	return rc;
}

void dockerignore_free(struct dockerignore *di)
{
	if (!di)
		return;
	for (size_t i = 0; i < di->n; i++) {
		if (di->pats[i].kind == MATCH_REGEX)
			regfree(&di->pats[i].re);
		free(di->pats[i].text);
	}
	free(di->pats);
	free(di);
}

/* ---- matching ---- */

/* PATH[0..LEN) with PATH[LEN] == '\0'. */
static bool pattern_match(const struct pattern *p, const char *path, size_t len)
{
	switch (p->kind) {
	case MATCH_EXACT: return len == p->len && memcmp(path, p->text, len) == 0;
	case MATCH_PREFIX: return len >= p->len - 2 && memcmp(path, p->text, p->len - 2) == 0;
	case MATCH_SUFFIX: {
		const char *suffix = p->text + 2;
		size_t n = p->len - 2;
		if (len >= n && memcmp(path + len - n, suffix, n) == 0)
			return true;
		/* `**\/foo` also matches "foo" itself */
		return n > 0 && suffix[0] == '/' && len == n - 1 &&
		       memcmp(path, suffix + 1, len) == 0;
	}
	case MATCH_REGEX: return regexec(&p->re, path, 0, NULL, 0) == 0;
	}
	return false;
}

/* PATH (LEN bytes, NUL-terminated, writable: parents are cut out in place) or a parent of it. */
static bool match_or_parent(const struct pattern *p, char *path, size_t len)
{
	if (pattern_match(p, path, len))
		return true;
	for (size_t j = 0; j < len; j++) {
		if (path[j] != '/')
			continue;
		path[j] = '\0';
		bool m = pattern_match(p, path, j);
		path[j] = '/';
		if (m)
			return true;
	}
	return false;
}

static bool excluded_clean(const struct dockerignore *di, char *path, size_t len)
{
	bool matched = false;
	if (len == 1 && path[0] == '.')
		return false; /* the CLI never excludes the context itself */
	for (size_t i = 0; i < di->n; i++) {
		const struct pattern *p = &di->pats[i];
		/* a pattern that cannot change the outcome is not evaluated, as in the CLI */
		if (p->exclusion != matched)
			continue;
		if (match_or_parent(p, path, len))
			matched = !p->exclusion;
	}
	return matched;
}

/* Cleans PATH into STACK (PATH_STACK bytes) or a new heap block returned in *HEAP. */
static char *clean_copy(const char *path, char stack[PATH_STACK], char **heap, size_t *len)
{
	size_t n = strlen(path);
	char *dst = stack;
	*heap = NULL;
	if (n + 2 > PATH_STACK) {
		*heap = malloc(n + 2);
		dst = *heap;
		if (!dst)
			return NULL;
	}
	*len = path_clean(path, n, dst);
	return dst;
}

bool dockerignore_excluded(const struct dockerignore *di, const char *path)
{
	if (!di || !path)
		return false;
	char stack[PATH_STACK], *heap;
	size_t len;
	char *clean = clean_copy(path, stack, &heap, &len);
	/* out of memory: excluding is the side that cannot leak a file into an image */
	bool excluded = clean ? excluded_clean(di, clean, len) : true;
	free(heap);
	return excluded;
}

bool dockerignore_skip_dir(const struct dockerignore *di, const char *dir)
{
	if (!di || !dir)
		return false;
	char stack[PATH_STACK], *heap;
	size_t len;
	char *clean = clean_copy(dir, stack, &heap, &len);
	bool skip = false;
	if (!clean || !excluded_clean(di, clean, len))
		goto out;
	skip = true;
	for (size_t i = 0; skip && i < di->n; i++) {
		const struct pattern *p = &di->pats[i];
		/* the CLI's test: (pattern + "/") starts with (dir + "/") */
		if (p->exclusion && p->len >= len && memcmp(p->text, clean, len) == 0 &&
		    (p->len == len || p->text[len] == '/'))
			skip = false;
	}
out:
	free(heap);
	return skip;
}
