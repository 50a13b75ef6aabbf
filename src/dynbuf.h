/* A growable byte buffer with a size cap (the idea of curl's dynbuf): appends past the cap
 * fail with FORJA_ETOOBIG instead of growing without bound on a peer's say-so. The contents
 * are always NUL-terminated, so text can be read in place. */
#ifndef FORJA_DYNBUF_H
#define FORJA_DYNBUF_H

#include <stdarg.h>
#include <stddef.h>

struct dynbuf {
	char *buf;  /* owned; NULL until the first append */
	size_t len; /* bytes held, not counting the terminating NUL */
	size_t cap; /* allocated bytes */
	size_t max; /* the most LEN may reach */
	int failed; /* the first failed append's code (FORJA_ETOOBIG, FORJA_ENOMEM), else 0 */
};

/* Empty buffer that may hold up to MAX bytes. Needs no allocation; a zeroed struct dynbuf
 * with only .max set is the same. */
void dynbuf_init(struct dynbuf *d, size_t max);
/* Releases the memory; D is empty (and reusable) afterwards. */
void dynbuf_free(struct dynbuf *d);
/* Empties D, keeping its memory. */
void dynbuf_reset(struct dynbuf *d);
/* Appends LEN bytes; FORJA_ETOOBIG past the cap, FORJA_ENOMEM; D unchanged on failure. */
int dynbuf_add(struct dynbuf *d, const void *data, size_t len);
int dynbuf_add_str(struct dynbuf *d, const char *s);
int dynbuf_addf(struct dynbuf *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A write callback with libcurl's signature (CURLOPT_WRITEFUNCTION, UD = the dynbuf): appends,
 * and answers 0, which makes curl stop, once the cap is reached (D->failed says why).
 */
size_t dynbuf_write_cb(char *data, size_t size, size_t nmemb, void *ud);

/* The text held ("" when empty): borrowed, valid until the next change. */
const char *dynbuf_str(const struct dynbuf *d);
/* Hands the buffer to the caller (free()), "" allocated when empty; NULL on ENOMEM. */
char *dynbuf_take(struct dynbuf *d);

#endif
