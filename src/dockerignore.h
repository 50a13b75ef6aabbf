/* .dockerignore as the docker CLI reads and applies it (moby's patternmatcher rules): the
 * engine's legacy builder ignores the file, so Forja filters the context itself.
 *
 * Reading: a UTF-8 BOM is dropped, `#` in column 0 starts a comment, whitespace is trimmed, a
 * leading `!` makes an exception, each pattern is path-cleaned and loses a leading `/`.
 * Matching: patterns are anchored; `*` and `?` stay inside one path element, `**` spans any
 * number of them; the last pattern that matches a path or one of its parent directories
 * decides. */
#ifndef FORJA_DOCKERIGNORE_H
#define FORJA_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

struct dockerignore;

/*
 * Parses LEN bytes of .dockerignore TEXT (not necessarily NUL-terminated) into *OUT (owned by
 * the caller: dockerignore_free). Empty text excludes nothing. A bad pattern gives
 * FORJA_EINVAL with "bad .dockerignore pattern on line N: `PAT`" in ERR.
 */
int dockerignore_parse(const char *text, size_t len, struct dockerignore **out, char *err,
		       size_t errlen);
void dockerignore_free(struct dockerignore *di);

/* Whether PATH (relative, '/'-separated, cleaned) is left out of the context. */
bool dockerignore_excluded(const struct dockerignore *di, const char *path);

/*
 * For an excluded directory DIR: whether everything under it may be skipped, which the CLI
 * does unless an exception pattern starts with DIR/ (so [docs, !**\/README.md] drops
 * docs/README.md while [docs, !docs/README.md] keeps it).
 */
bool dockerignore_skip_dir(const struct dockerignore *di, const char *dir);

#endif
