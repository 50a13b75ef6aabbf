#include "dynbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

void dynbuf_init(struct dynbuf *d, size_t max)
{
	d->buf = NULL;
	d->len = 0;
	d->cap = 0;
	d->max = max;
	d->failed = 0;
}

void dynbuf_free(struct dynbuf *d)
{
	free(d->buf);
	d->buf = NULL;
	d->len = 0;
	d->cap = 0;
}

void dynbuf_reset(struct dynbuf *d)
{
	d->len = 0;
	d->failed = 0;
	if (d->buf)
		d->buf[0] = '\0';
}

static int grow(struct dynbuf *d, size_t need)
{
	size_t cap = d->cap ? d->cap : 64;
	char *p;

	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > d->max + 1)
		cap = d->max + 1;
	p = realloc(d->buf, cap);
	if (!p)
		return FORJA_ENOMEM;
	d->buf = p;
	d->cap = cap;
	return 0;
}

static int failed(struct dynbuf *d, int rc)
{
	if (!d->failed)
		d->failed = rc;
	return rc;
}

int dynbuf_add(struct dynbuf *d, const void *data, size_t len)
{
	int rc;

	if (len > d->max || d->len > d->max - len)
		return failed(d, FORJA_ETOOBIG);
	if (d->len + len + 1 > d->cap) {
		rc = grow(d, d->len + len + 1);
		if (rc)
			return failed(d, rc);
	}
	if (len)
		memcpy(d->buf + d->len, data, len);
	d->len += len;
	d->buf[d->len] = '\0';
	return 0;
}

int dynbuf_add_str(struct dynbuf *d, const char *s)
{
	return dynbuf_add(d, s, strlen(s));
}

int dynbuf_addf(struct dynbuf *d, const char *fmt, ...)
{
	char small[256], *big = NULL;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return failed(d, FORJA_EINVAL);
	if ((size_t)n < sizeof(small))
		return dynbuf_add(d, small, (size_t)n);
	big = malloc((size_t)n + 1);
	if (!big)
		return failed(d, FORJA_ENOMEM);
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = dynbuf_add(d, big, (size_t)n);
	free(big);
	return rc;
}

size_t dynbuf_write_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	size_t n = size * nmemb;

	return dynbuf_add(ud, data, n) ? 0 : n;
}

const char *dynbuf_str(const struct dynbuf *d)
{
	return d->buf ? d->buf : "";
}

char *dynbuf_take(struct dynbuf *d)
{
	char *p = d->buf ? d->buf : strdup("");

	d->buf = NULL;
	d->len = 0;
	d->cap = 0;
	return p;
}
