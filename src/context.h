/* Build contexts: the tree of one directory at one commit, streamed to the engine as a tar body
 * while it is read out of the source cache (no checkout on disk). The context's .dockerignore
 * is applied as the docker CLI applies it, since the engine's legacy builder does not; the
 * submodules inside the directory are fetched and included; file modes and symlinks are kept.
 *
 * The OCI labels travel in the same build request: the tar carries `.forja.Dockerfile`, the
 * user's Dockerfile with one LABEL line appended, and a `.dockerignore` that names it, so the
 * engine reads it but `COPY .` never copies it. */
#ifndef FORJA_CONTEXT_H
#define FORJA_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "source.h"
#include "task.h"

/* The Dockerfile name the engine is given for a context made here. */
#define CONTEXT_DOCKERFILE ".forja.Dockerfile"

struct context_label {
	const char *key;
	const char *value;
};

struct context_params {
	struct source *source;		    /* fetches submodules (borrowed) */
	const struct source_checkout *co;   /* holds SHA (borrowed) */
	const char *url;		    /* the repository, for submodule URLs and errors */
	const char *sha;		    /* full commit id */
	const char *dir;		    /* context directory; NULL or "" = the root */
	const char *dockerfile;		    /* relative to DIR; NULL = "Dockerfile" */
	const struct context_label *labels; /* appended as one LABEL line */
	size_t nlabels;
};

struct context_stats {
	uint64_t files; /* regular files and symlinks sent */
	uint64_t bytes; /* bytes of file content sent */
};

struct context;

/*
 * Checks that the directory and the Dockerfile exist and that the .dockerignore parses,
 * fetches the submodules inside the directory, then starts writing the tar into a socket
 * whose read end is context_fd(). Errors (FORJA_ENOTFOUND, FORJA_EINVAL, a fetch's code) name
 * the repository and the cause in words. *OUT owned by the caller: context_finish().
 */
int context_open(const struct context_params *p, const struct task_log *log,
		 const struct task_abort *ab, struct context **out, char *err, size_t errlen);

/* One file of a context Forja writes itself. */
struct context_file {
	const char *name; /* path inside the context */
	const char *text; /* its content */
	size_t len;
};

/*
 * A context made only of FILES (copied: the caller keeps its own), for builds whose Dockerfile
 * Forja writes (package mirrors): nothing of the user's repository is sent. The engine is given
 * CONTEXT_DOCKERFILE, so FILES should hold it. *OUT owned by the caller: context_finish().
 */
int context_open_files(const struct context_file *files, size_t n, const struct task_abort *ab,
		       struct context **out, char *err, size_t errlen);

/* The read end of the tar stream (borrowed; EOF when the whole context was written). */
int context_fd(const struct context *c);

/*
 * Stops reading, waits for the writer and frees C. Returns 0 when the whole context was
 * written (STATS, may be NULL, gets the counts) or the writer's error with ERR set; a reader
 * that stopped early makes the writer stop with FORJA_EIO.
 */
int context_finish(struct context *c, struct context_stats *stats, char *err, size_t errlen);

/*
 * The LABEL line for LABELS as Dockerfile text, quoted for the escape character of DOCKERFILE
 * (`\`, or a backtick after the `# escape=` directive). Owned by the caller: free(). NULL on
 * ENOMEM.
 */
char *context_label_line(const char *dockerfile, size_t len, const struct context_label *labels,
			 size_t nlabels);

#endif
