#include "dockerignore.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "errors.h"

#define PATTERN_MAX  4096
#define PATTERNS_MAX 10000

struct pattern {
	char *text;	/* cleaned, without the '!' */
	bool exception; /* a '!' pattern: re-includes what it matches */
	regex_t re;
};

struct dockerignore {
	struct pattern *v;
	size_t n;
};

/* ---- reading ------------------------------------------------------------------------------- */

/* Path-cleans P in place as Go's filepath.Clean does: no empty or "." elements, ".." resolved
 * where it can be, no trailing '/'; "" becomes ".". */
static void clean_path(char *p)
{
	bool rooted = p[0] == '/';
	size_t w = rooted ? 1 : 0; /* output length */
	size_t floor = w;	   /* what ".." may not remove: the root, leading ".."s */
	const char *seg = p;

	while (*seg) {
		size_t n = strcspn(seg, "/");
		const char *next = seg[n] ? seg + n + 1 : seg + n;
		bool dotdot = n == 2 && seg[0] == '.' && seg[1] == '.';

		if (dotdot && w > floor) {
			while (w > floor && p[w - 1] != '/')
				w--;
			if (w > floor || (w > 0 && !rooted))
				w--; /* the '/' before the dropped element */
		} else if ((dotdot && !rooted) || (n && !(n == 1 && seg[0] == '.') && !dotdot)) {
			if (w > (rooted ? 1u : 0u))
				p[w++] = '/';
			memmove(p + w, seg, n);
			w += n;
			if (dotdot)
				floor = w;
		}
		seg = next;
	}
	if (w == 0)
		p[w++] = '.';
	p[w] = '\0';
}

/* One character of a class, as Go's filepath.Match reads it: `\` escapes; a bare `-` or `]`
 * where a character is due is a bad pattern. Returns the position after it, or NULL. */
static const char *class_char(const char *p)
{
	if (!*p || *p == '-' || *p == ']')
		return NULL;
	if (*p == '\\') {
		p++;
		if (!*p)
			return NULL;
	}
	return p + 1;
}

/* Checks the class starting after '[' at P; returns the position after its ']', or NULL. */
static const char *class_end(const char *p)
{
	size_t ranges = 0;

	if (*p == '^')
		p++;
	for (;;) {
		if (*p == ']' && ranges > 0)
			return p + 1;
		p = class_char(p);
		if (!p)
			return NULL;
		if (*p == '-') {
			p = class_char(p + 1);
			if (!p)
				return NULL;
		}
		ranges++;
	}
}

/* The literal character at *P inside a class (escape removed), advancing *P. */
static char class_literal(const char **p)
{
	if (**p == '\\')
		(*p)++;
	return *(*p)++;
}

static int add_class(struct dynbuf *re, const char **pp)
{
	const char *p = *pp, *end = class_end(p);
	int rc = dynbuf_add(re, "[", 1);

	if (!end)
		return FORJA_EINVAL;
	if (!rc && *p == '^') {
		rc = dynbuf_add(re, "^", 1);
		p++;
	}
	while (!rc && p < end - 1) {
		char c = class_literal(&p);

		/* POSIX brackets take no escapes: name the awkward characters as collating
		 * elements */
		if (c == ']' || c == '[' || c == '\\' || c == '^')
			rc = dynbuf_addf(re, "[.%c.]", c);
		else
			rc = dynbuf_add(re, &c, 1);
	}
	if (!rc)
		rc = dynbuf_add(re, "]", 1);
	*pp = end;
	return rc;
}

/* The anchored extended regular expression for cleaned pattern PAT. */
static int translate(const char *pat, struct dynbuf *re)
{
	const char *p = pat;
	int rc = dynbuf_add(re, "^", 1);

	while (!rc && *p) {
		char c = *p++;

		if (c == '*' && *p == '*') {
			p++;
			if (*p == '/')
				p++;
			rc = dynbuf_add_str(re, *p ? "(.*/)?" : ".*");
		} else if (c == '*') {
			rc = dynbuf_add_str(re, "[^/]*");
		} else if (c == '?') {
			rc = dynbuf_add_str(re, "[^/]");
		} else if (c == '[') {
			rc = add_class(re, &p);
		} else if (c == '\\') {
			if (!*p)
				return FORJA_EINVAL;
			c = *p++;
			rc = strchr(".^$()|*+?{}[]\\", c) ? dynbuf_addf(re, "\\%c", c)
							  : dynbuf_add(re, &c, 1);
		} else if (strchr(".^$()|+{}]", c)) {
			rc = dynbuf_addf(re, "\\%c", c);
		} else {
			rc = dynbuf_add(re, &c, 1);
		}
	}
	return rc ? rc : dynbuf_add(re, "$", 1);
}

static int add_pattern(struct dockerignore *di, char *line, size_t lineno, char *err, size_t errlen)
{
	bool exception = false;
	struct dynbuf re;
	struct pattern *grown, *pt;
	int rc;

	if (line[0] == '!') {
		exception = true;
		line++;
		line += strspn(line, " \t");
	}
	if (!*line) {
		snprintf(err, errlen, "bad .dockerignore pattern on line %zu: a lone `!`", lineno);
		return FORJA_EINVAL;
	}
	clean_path(line);
	if (line[0] == '/' && line[1])
		line++;
	if (!strcmp(line, "."))
		return 0; /* the context itself is never a candidate: it matches nothing */
	if (di->n >= PATTERNS_MAX) {
		snprintf(err, errlen, ".dockerignore has more than %d patterns", PATTERNS_MAX);
		return FORJA_ETOOBIG;
	}
	grown = realloc(di->v, (di->n + 1) * sizeof(*grown));
	if (!grown)
		return FORJA_ENOMEM;
	di->v = grown;
	dynbuf_init(&re, 8 * PATTERN_MAX);
	rc = translate(line, &re);
	pt = &di->v[di->n];
	if (!rc && regcomp(&pt->re, dynbuf_str(&re), REG_EXTENDED | REG_NOSUB))
		rc = FORJA_EINVAL;
	dynbuf_free(&re);
	if (rc == FORJA_EINVAL)
		snprintf(err, errlen, "bad .dockerignore pattern on line %zu: `%.200s`", lineno,
			 line);
	if (rc)
		return rc;
	pt->text = strdup(line);
	pt->exception = exception;
	di->n++;
	if (!pt->text)
		return FORJA_ENOMEM;
	return 0;
}

/* Trims LINE (LEN bytes) into BUF; false when it is a comment or empty. */
static bool read_line(const char *line, size_t len, char *buf)
{
	size_t a = 0;

	/* a comment only in column 0, before trimming, as the CLI reads it */
	if (len && line[0] == '#')
		return false;
	while (a < len && strchr(" \t\r\v\f", line[a]))
		a++;
	while (len > a && strchr(" \t\r\v\f", line[len - 1]))
		len--;
	memcpy(buf, line + a, len - a);
	buf[len - a] = '\0';
	return len > a;
}

int dockerignore_parse(const char *text, size_t len, struct dockerignore **out, char *err,
		       size_t errlen)
{
	struct dockerignore *di = calloc(1, sizeof(*di));
	char *buf = malloc(PATTERN_MAX + 1);
	size_t lineno = 0;
	int rc = 0;

	*out = NULL;
	if (!di || !buf) {
		rc = FORJA_ENOMEM;
		goto out;
	}
	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
		text += 3;
		len -= 3;
	}
	while (!rc && len) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;

		lineno++;
		if (n > PATTERN_MAX) {
			snprintf(err, errlen, ".dockerignore line %zu is longer than %d bytes",
				 lineno, PATTERN_MAX);
			rc = FORJA_ETOOBIG;
		} else if (memchr(text, '\0', n)) {
			snprintf(err, errlen, "bad .dockerignore pattern on line %zu: a NUL byte",
				 lineno);
			rc = FORJA_EINVAL;
		} else if (read_line(text, n, buf)) {
			rc = add_pattern(di, buf, lineno, err, errlen);
		}
		text += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}
out:
	if (rc == FORJA_ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(buf);
	if (rc) {
		dockerignore_free(di);
		return rc;
	}
	*out = di;
	return 0;
}

void dockerignore_free(struct dockerignore *di)
{
	if (!di)
		return;
	for (size_t i = 0; i < di->n; i++) {
		regfree(&di->v[i].re);
		free(di->v[i].text);
	}
	free(di->v);
	free(di);
}

/* ---- matching ------------------------------------------------------------------------------ */

static bool matches(const struct pattern *pt, const char *s)
{
	return regexec(&pt->re, s, 0, NULL, 0) == 0;
}

/* Whether PT matches PATH or one of its parent directories. */
static bool matches_or_parent(const struct pattern *pt, const char *path, char *scratch)
{
	if (matches(pt, path))
		return true;
	for (const char *slash = strchr(path, '/'); slash; slash = strchr(slash + 1, '/')) {
		size_t n = (size_t)(slash - path);

		memcpy(scratch, path, n);
		scratch[n] = '\0';
		if (matches(pt, scratch))
			return true;
	}
	return false;
}

bool dockerignore_excluded(const struct dockerignore *di, const char *path)
{
	bool excluded = false;
	char *scratch;

	if (!di || !di->n)
		return false;
	scratch = malloc(strlen(path) + 1);
	if (!scratch)
		return false;
	for (size_t i = 0; i < di->n; i++) {
		const struct pattern *pt = &di->v[i];

		/* only a pattern that could change the answer is worth a match */
		if (pt->exception != excluded)
			continue;
		if (matches_or_parent(pt, path, scratch))
			excluded = !pt->exception;
	}
	free(scratch);
	return excluded;
}

bool dockerignore_skip_dir(const struct dockerignore *di, const char *dir)
{
	size_t n = strlen(dir);

	for (size_t i = 0; di && i < di->n; i++) {
		const char *t = di->v[i].text;

		/* (pattern + "/") starts with (dir + "/") */
		if (di->v[i].exception && !strncmp(t, dir, n) && (t[n] == '/' || t[n] == '\0'))
			return false;
	}
	return true;
}
