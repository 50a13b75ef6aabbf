/* .dockerignore matching, as the docker CLI applies it before it sends a build context: the
 * engine's legacy builder never reads the file, so whoever streams the context must filter it the
 * same way.
 *
 * Reading follows the CLI: a UTF-8 BOM is stripped, a '#' in column 0 starts a comment, whitespace
 * is trimmed, a leading '!' makes an exception, each pattern is path-cleaned and a leading '/'
 * dropped. Each pattern becomes the anchored regular expression the CLI builds (matched with POSIX
 * regexec); the last pattern that matches a path, or one of its parent directories, decides.
 *
 * Known differences from the CLI, all rejected as bad patterns rather than matched differently:
 * patterns that are not valid UTF-8 or contain NUL, and Go-only regular-expression escapes that the
 * CLI passes through (anything but punctuation, \d \D \s \S \w \W and \a \f \n \r \t \v).
 * Paths are matched as bytes and must be valid UTF-8 for '?' and classes to count characters as the
 * CLI does. Matching assumes the process's LC_CTYPE is "C" (a program that never calls setlocale).
 */
#ifndef FORJA_DOCKERIGNORE_H
#define FORJA_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

/* Opaque; owned by the caller, released with dockerignore_free. Read-only after parsing, so one
 * matcher may be shared by threads. */
struct dockerignore;

/* Parses .dockerignore TEXT (LEN bytes, not necessarily NUL-terminated; TEXT may be NULL when LEN
 * is 0). On success *OUT is a new matcher owned by the caller and 0 is returned; empty text gives a
 * matcher that excludes nothing. A bad pattern returns FORJA_EINVAL and writes
 * "bad .dockerignore pattern on line N: `PAT` (why)" into ERR (ERRLEN bytes, may be NULL/0);
 * FORJA_ENOMEM when memory runs out. *OUT is NULL on any error. */
int dockerignore_parse(const char *text, size_t len, struct dockerignore **out, char *err,
		       size_t errlen);

/* Accepts NULL. */
void dockerignore_free(struct dockerignore *di);

/* PATH: a relative path with '/' separators (borrowed); it is path-cleaned first, and "" or "."
 * is never excluded. True when the path is excluded: for every pattern in order, the pattern is
 * tried on the path and on each of its parent directories, and the last pattern that matched
 * decides (the CLI's MatchesOrParentMatches). */
bool dockerignore_excluded(const struct dockerignore *di, const char *path);

/* DIR: a directory path (borrowed) that dockerignore_excluded reported excluded. True when the
 * walker may skip everything under it: the file has no exception pattern at all, or none of them
 * starts with DIR followed by '/' (the CLI's rule: an exception that begins with '**' does not keep
 * docs/README.md once `docs` is excluded). False for a directory that is not excluded. */
bool dockerignore_skip_dir(const struct dockerignore *di, const char *dir);

#endif
