#include "context.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dockerignore.h"
#include "dynbuf.h"
#include "errors.h"
#include "proc.h"

#define DOCKERFILE_MAX	(1024 * 1024)
#define IGNORE_MAX	(1024 * 1024)
#define SUBMODULE_DEPTH 4
#define SUBMODULE_MAX	64
#define ERR_MAX		512

/* One tree to archive: the context itself, or a submodule's commit under PREFIX. */
struct part {
	struct source_checkout *co; /* owned for submodules, NULL for the context itself */
	char *cache_dir;
	char sha[41];
	char *strip;  /* leading path of the archive's names dropped ("dir/"), or "" */
	char *prefix; /* path inside the context this tree lands at ("" = the context root) */
};

struct context {
	int rfd;
	int wfd;
	pthread_t writer;
	bool started;
	const struct task_abort *ab;
	struct dockerignore *ignore;
	char *dockerfile;	   /* the user's Dockerfile path inside the context */
	struct dynbuf ignore_text; /* the .dockerignore sent */
	struct dynbuf forja_file;  /* the .forja.Dockerfile sent */
	struct part *parts;
	size_t nparts;
	struct dynbuf skipped; /* NUL-separated directories the walk left out */
	struct dynbuf *files;  /* a context_open_files() context: only these are sent */
	char **file_names;
	size_t nfiles;
	struct context_stats stats;
	bool reader_gone; /* the reader stopped early: its own error says why */
	int rc;
	char err[ERR_MAX];
};

/* ---- libarchive, loaded at the first build --------------------------------------------------
 * Linked, libarchive and what it pulls in (libxml2, ICU, libstdc++) were 2.1 MiB of an idle
 * server's 15.9 MiB resident and a fifth of the libraries the loader resolves at start-up, for a
 * library only a build needs. It is loaded once, by the first context, and never changed after:
 * the function table below is the whole of its shared state. */
#define LIBARCHIVE_SONAME "libarchive.so.13"
#define LA_FUNCS(X)                                                                                \
	X(struct archive_entry *, archive_entry_new, (void))                                       \
	X(void, archive_entry_free, (struct archive_entry *))                                      \
	X(void, archive_entry_set_pathname, (struct archive_entry *, const char *))                \
	X(void, archive_entry_set_filetype, (struct archive_entry *, unsigned int))                \
	X(void, archive_entry_set_perm, (struct archive_entry *, __LA_MODE_T))                     \
	X(void, archive_entry_set_size, (struct archive_entry *, la_int64_t))                      \
	X(void, archive_entry_set_uid, (struct archive_entry *, la_int64_t))                       \
	X(void, archive_entry_set_gid, (struct archive_entry *, la_int64_t))                       \
	X(void, archive_entry_set_uname, (struct archive_entry *, const char *))                   \
	X(void, archive_entry_set_gname, (struct archive_entry *, const char *))                   \
	X(const char *, archive_entry_pathname, (struct archive_entry *))                          \
	X(__LA_MODE_T, archive_entry_filetype, (struct archive_entry *))                           \
	X(struct archive *, archive_read_new, (void))                                              \
	X(int, archive_read_support_format_tar, (struct archive *))                                \
	X(int, archive_read_open_fd, (struct archive *, int, size_t))                              \
	X(int, archive_read_next_header, (struct archive *, struct archive_entry **))              \
	X(int, archive_read_data_block, (struct archive *, const void **, size_t *, la_int64_t *)) \
	X(int, archive_read_close, (struct archive *))                                             \
	X(int, archive_read_free, (struct archive *))                                              \
	X(struct archive *, archive_write_new, (void))                                             \
	X(int, archive_write_set_format_pax_restricted, (struct archive *))                        \
	X(int, archive_write_open,                                                                 \
	  (struct archive *, void *, archive_open_callback *, archive_write_callback *,            \
	   archive_close_callback *))                                                              \
	X(int, archive_write_header, (struct archive *, struct archive_entry *))                   \
	X(la_ssize_t, archive_write_data, (struct archive *, const void *, size_t))                \
	X(int, archive_write_close, (struct archive *))                                            \
	X(int, archive_write_free, (struct archive *))

struct libarchive {
#define LA_FIELD(ret, name, args) ret(*name) args;
	LA_FUNCS(LA_FIELD)
#undef LA_FIELD
};

static struct libarchive la;
static pthread_once_t la_once = PTHREAD_ONCE_INIT;
static char la_error[256]; /* empty once every function was found */

static void la_load(void)
{
	void *h = dlopen(LIBARCHIVE_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(la_error, sizeof(la_error), "%s", dlerror());
		return;
	}
	/* the POSIX way to store a symbol into a function pointer */
#define LA_SYM(ret, name, args)                                                                    \
	if (!la_error[0] && !(*(void **)&la.name = dlsym(h, #name)))                               \
		snprintf(la_error, sizeof(la_error), "%s has no %s", LIBARCHIVE_SONAME, #name);
	LA_FUNCS(LA_SYM)
#undef LA_SYM
}

/* 0 once libarchive is usable; else FORJA_EIO with why in ERR. */
static int la_ready(char *err, size_t errlen)
{
	pthread_once(&la_once, la_load);
	if (!la_error[0])
		return 0;
	snprintf(err, errlen,
		 "cannot load %s, which builds the context (Debian package libarchive13): %s",
		 LIBARCHIVE_SONAME, la_error);
	return FORJA_EIO;
}

/* ---- the LABEL line ------------------------------------------------------------------------ */

/* The escape character a Dockerfile's parser directives choose (`\` unless `# escape=`). */
static char escape_char(const char *text, size_t len)
{
	size_t i = 0;

	if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3))
		i = 3;
	while (i < len && text[i] == '#') {
		size_t end = i;
		char key[16] = "", val[4] = "";

		while (end < len && text[end] != '\n')
			end++;
		/* a directive is `# key=value` alone on its line; anything else ends them */
		if (sscanf(text + i, "#%*[ \t]%15[a-zA-Z]%*[ \t]=%*[ \t]%3s", key, val) < 2 &&
		    sscanf(text + i, "#%15[a-zA-Z]%*[ \t]=%*[ \t]%3s", key, val) < 2 &&
		    sscanf(text + i, "#%*[ \t]%15[a-zA-Z]=%3s", key, val) < 2 &&
		    sscanf(text + i, "#%15[a-zA-Z]=%3s", key, val) < 2)
			break;
		if (!strcasecmp(key, "escape") && (val[0] == '`' || val[0] == '\\') && !val[1])
			return val[0];
		i = end + 1;
	}
	return '\\';
}

static int add_quoted_value(struct dynbuf *d, const char *v, char esc)
{
	int rc = dynbuf_add(d, "\"", 1);

	for (; !rc && *v; v++) {
		char c = *v == '\n' || *v == '\r' ? ' ' : *v;

		/* LABEL expands $ inside double quotes, so $ is escaped along with " and esc */
		if (c == '"' || c == '$' || c == esc)
			rc = dynbuf_add(d, &esc, 1);
		if (!rc)
			rc = dynbuf_add(d, &c, 1);
	}
	return rc ? rc : dynbuf_add(d, "\"", 1);
}

char *context_label_line(const char *dockerfile, size_t len, const struct context_label *labels,
			 size_t nlabels)
{
	char esc = escape_char(dockerfile, len);
	struct dynbuf d;
	int rc;

	dynbuf_init(&d, 64 * 1024);
	rc = dynbuf_add_str(&d, "LABEL");
	for (size_t i = 0; !rc && i < nlabels; i++) {
		rc = dynbuf_addf(&d, " %s=", labels[i].key);
		if (!rc)
			rc = add_quoted_value(&d, labels[i].value, esc);
	}
	if (!rc)
		rc = dynbuf_add(&d, "\n", 1);
	if (rc) {
		dynbuf_free(&d);
		return NULL;
	}
	return dynbuf_take(&d);
}

/* ---- checking and preparing ---------------------------------------------------------------- */

static char *join_path(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s%s%s", a, *a && *b ? "/" : "", b);
	return p;
}

static int read_inputs(struct context *c, const struct context_params *p, const char *dir,
		       char *err, size_t errlen)
{
	char *path = NULL, *text = NULL, *label = NULL, type[16] = "";
	size_t len = 0;
	int rc = 0;

	if (*dir) {
		rc = source_read(p->co, p->sha, dir, 0, &text, &len, type);
		if (rc || strcmp(type, "tree")) {
			snprintf(err, errlen, "%s at %.12s: context directory %s missing", p->url,
				 p->sha, dir);
			rc = FORJA_ENOTFOUND;
			goto out;
		}
		free(text);
		text = NULL;
	}
	path = join_path(dir, c->dockerfile);
	rc = path ? source_read(p->co, p->sha, path, DOCKERFILE_MAX, &text, &len, NULL)
		  : FORJA_ENOMEM;
	if (rc == FORJA_ENOTFOUND) {
		snprintf(err, errlen, "%s at %.12s: Dockerfile %s missing", p->url, p->sha, path);
		rc = FORJA_ENOTFOUND;
		goto out;
	}
	if (rc == FORJA_ETOOBIG)
		snprintf(err, errlen, "%s at %.12s: Dockerfile %s is larger than 1 MiB", p->url,
			 p->sha, path);
	if (rc)
		goto out;
	label = context_label_line(text, len, p->labels, p->nlabels);
	/* a newline first: the Dockerfile's last line may not end with one */
	rc = label ? dynbuf_add(&c->forja_file, text, len) : FORJA_ENOMEM;
	if (!rc)
		rc = dynbuf_add(&c->forja_file, "\n", 1);
	if (!rc)
		rc = dynbuf_add_str(&c->forja_file, label);
	free(text);
	text = NULL;
	if (rc)
		goto out;

	free(path);
	path = join_path(dir, ".dockerignore");
	rc = path ? source_read(p->co, p->sha, path, IGNORE_MAX, &text, &len, NULL) : FORJA_ENOMEM;
	if (rc == FORJA_ENOTFOUND) {
		free(text);
		text = NULL;
		len = 0;
		rc = 0;
	}
	if (rc == FORJA_ETOOBIG)
		snprintf(err, errlen, "%s at %.12s: %s is larger than 1 MiB", p->url, p->sha, path);
	if (rc)
		goto out;
	{
		char why[256] = "";

		rc = dockerignore_parse(text ? text : "", len, &c->ignore, why, sizeof(why));
		if (rc) {
			snprintf(err, errlen, "%s at %.12s: %s: %s", p->url, p->sha, path, why);
			goto out;
		}
	}
	/* the engine reads the Dockerfile it is given and drops it from the context, since the
	 * .dockerignore it finds names it */
	rc = dynbuf_add(&c->ignore_text, text ? text : "", len);
	if (!rc)
		rc = dynbuf_add_str(&c->ignore_text, "\n" CONTEXT_DOCKERFILE "\n");
out:
	if (rc == FORJA_ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(label);
	free(text);
	free(path);
	return rc;
}

static int add_part(struct context *c, struct source_checkout *co, const char *cache_dir,
		    const char *sha, const char *strip, const char *prefix)
{
	struct part *grown = realloc(c->parts, (c->nparts + 1) * sizeof(*grown));
	struct part *pt;

	if (!grown)
		return FORJA_ENOMEM;
	c->parts = grown;
	pt = &c->parts[c->nparts];
	memset(pt, 0, sizeof(*pt));
	snprintf(pt->sha, sizeof(pt->sha), "%s", sha);
	pt->cache_dir = strdup(cache_dir);
	pt->strip = strdup(strip);
	pt->prefix = strdup(prefix);
	c->nparts++;
	if (!pt->cache_dir || !pt->strip || !pt->prefix)
		return FORJA_ENOMEM;
	pt->co = co;
	return 0;
}

/* Fetches the submodules of SHA in CO lying inside DIR, and theirs, as parts under PREFIX. */
static int add_submodules(struct context *c, const struct context_params *p,
			  const struct source_checkout *co, const char *url, const char *sha,
			  const char *dir, const char *prefix, int depth,
			  const struct task_log *log, char *err, size_t errlen)
{
	struct source_submodule *subs = NULL;
	size_t n = 0;
	int rc = source_submodules(co, url, sha, dir, &subs, &n, err, errlen);

	for (size_t i = 0; !rc && i < n; i++) {
		struct source_checkout *sub = NULL;
		char *at = join_path(prefix, subs[i].path);

		if (depth >= SUBMODULE_DEPTH || c->nparts >= SUBMODULE_MAX) {
			snprintf(err, errlen,
				 "%s: submodules nested deeper than %d or more than %d", p->url,
				 SUBMODULE_DEPTH, SUBMODULE_MAX);
			rc = FORJA_EUNSUPPORTED;
		} else if (!at) {
			rc = FORJA_ENOMEM;
		} else {
			task_say(log, "submodule %s: %s at %s", at, subs[i].url, subs[i].sha);
			rc = source_fetch(p->source, subs[i].url, subs[i].sha, log, c->ab, &sub,
					  err, errlen);
		}
		if (!rc) {
			rc = add_part(c, sub, source_checkout_dir(sub), subs[i].sha, "", at);
			if (rc)
				source_checkout_release(sub);
		}
		if (!rc)
			rc = add_submodules(c, p, sub, subs[i].url, subs[i].sha, "", at, depth + 1,
					    log, err, errlen);
		free(at);
	}
	source_submodules_free(subs, n);
	if (rc == FORJA_ENOMEM)
		snprintf(err, errlen, "out of memory");
	return rc;
}

/* ---- writing the tar ---------------------------------------------------------------------- */

static la_ssize_t send_block(struct archive *a, void *ud, const void *buf, size_t len)
{
	struct context *c = ud;
	size_t done = 0;

	(void)a;
	while (done < len) {
		ssize_t n = send(c->wfd, (const char *)buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			c->reader_gone = true;
			return -1;
		}
		done += (size_t)n;
	}
	return (la_ssize_t)len;
}

static void fail(struct context *c, int rc, const char *why)
{
	if (c->rc)
		return;
	c->rc = rc;
	snprintf(c->err, sizeof(c->err), "%s", why);
}

static int write_file(struct context *c, struct archive *w, const char *name,
		      const struct dynbuf *d)
{
	struct archive_entry *e = la.archive_entry_new();
	int rc = 0;

	if (!e)
		return FORJA_ENOMEM;
	la.archive_entry_set_pathname(e, name);
	la.archive_entry_set_filetype(e, AE_IFREG);
	la.archive_entry_set_perm(e, 0644);
	la.archive_entry_set_size(e, (la_int64_t)d->len);
	if (la.archive_write_header(w, e) != ARCHIVE_OK ||
	    (d->len && la.archive_write_data(w, d->buf, d->len) != (la_ssize_t)d->len))
		rc = FORJA_EIO;
	c->stats.files++;
	c->stats.bytes += d->len;
	la.archive_entry_free(e);
	return rc;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return !strncmp(path, dir, n) && path[n] == '/';
}

static bool in_skipped(const struct context *c, const char *path)
{
	for (size_t off = 0; off < c->skipped.len; off += strlen(c->skipped.buf + off) + 1)
		if (under(path, c->skipped.buf + off))
			return true;
	return false;
}

/* Whether the entry at PATH (relative to the context) goes into the tar. */
static bool keep(struct context *c, const char *path, bool is_dir, bool top)
{
	if (top && (!strcmp(path, ".dockerignore") || !strcmp(path, CONTEXT_DOCKERFILE)))
		return false; /* replaced by the ones written first */
	if (!strcmp(path, c->dockerfile))
		return true; /* always sent, as the CLI does */
	if (in_skipped(c, path))
		return false;
	if (!dockerignore_excluded(c->ignore, path))
		return true;
	if (is_dir && dockerignore_skip_dir(c->ignore, path) && !under(c->dockerfile, path))
		if (!dynbuf_add(&c->skipped, path, strlen(path) + 1))
			return false;
	return false;
}

static int copy_data(struct context *c, struct archive *r, struct archive *w)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int why, st;

	for (st = la.archive_read_data_block(r, &buf, &len, &off); st == ARCHIVE_OK;
	     st = la.archive_read_data_block(r, &buf, &len, &off)) {
		if (task_should_stop(c->ab, &why))
			return why;
		if (la.archive_write_data(w, buf, len) != (la_ssize_t)len)
			return FORJA_EIO;
		c->stats.bytes += len;
	}
	return st == ARCHIVE_EOF ? 0 : FORJA_EIO;
}

/* The name of entry E inside the context, or NULL when it lies outside the part's tree. */
static char *entry_path(const struct part *pt, struct archive_entry *e)
{
	const char *name = la.archive_entry_pathname(e);
	size_t n = strlen(pt->strip);
	char *rel, *out;

	if (!name || strncmp(name, pt->strip, n))
		return NULL;
	rel = strdup(name + n);
	if (!rel)
		return NULL;
	n = strlen(rel);
	while (n && rel[n - 1] == '/')
		rel[--n] = '\0';
	if (!n) {
		free(rel);
		return NULL;
	}
	out = join_path(pt->prefix, rel);
	free(rel);
	return out;
}

static int copy_entries(struct context *c, const struct part *pt, struct archive *r,
			struct archive *w)
{
	struct archive_entry *e;
	int rc = 0, st, why;

	for (st = la.archive_read_next_header(r, &e); !rc && st == ARCHIVE_OK;
	     st = rc ? st : la.archive_read_next_header(r, &e)) {
		bool is_dir = la.archive_entry_filetype(e) == AE_IFDIR;
		char *path = entry_path(pt, e);

		if (task_should_stop(c->ab, &why))
			rc = why;
		else if (path && keep(c, path, is_dir, !*pt->prefix)) {
			la.archive_entry_set_pathname(e, path);
			la.archive_entry_set_uid(e, 0);
			la.archive_entry_set_gid(e, 0);
			la.archive_entry_set_uname(e, NULL);
			la.archive_entry_set_gname(e, NULL);
			if (la.archive_write_header(w, e) != ARCHIVE_OK)
				rc = FORJA_EIO;
			else if (!is_dir)
				c->stats.files++;
			if (!rc && la.archive_entry_filetype(e) == AE_IFREG)
				rc = copy_data(c, r, w);
		}
		free(path);
	}
	if (!rc && st != ARCHIVE_EOF)
		rc = FORJA_EIO;
	return rc;
}

/* Streams `git archive` of one part through the filter into W. */
static int write_part(struct context *c, const struct part *pt, struct archive *w)
{
	char *argv[] = {
	    "git",     "-C",	       pt->cache_dir,	"-c", "tar.umask=022",
	    "archive", "--format=tar", (char *)pt->sha, "--", *pt->strip ? pt->strip : ".",
	    NULL};
	struct proc pr = {.pid = -1, .in = -1, .out = -1, .err = -1};
	struct archive *r = la.archive_read_new();
	char **env = proc_git_env(NULL);
	struct dynbuf gerr;
	int rc = 0, st = 0;

	dynbuf_init(&gerr, ERR_MAX);
	if (!r || !env) {
		rc = FORJA_ENOMEM;
		goto out;
	}
	rc = proc_spawn(argv, env, &pr);
	if (rc)
		goto out;
	la.archive_read_support_format_tar(r);
	if (la.archive_read_open_fd(r, pr.out, 64 * 1024) != ARCHIVE_OK)
		rc = FORJA_EIO;
	else
		rc = copy_entries(c, pt, r, w);
	la.archive_read_close(r);
	if (rc) {
		proc_kill(&pr);
		goto out;
	}
	st = proc_collect(&pr, c->ab, NULL, &gerr);
	if (st != 0)
		rc = st < 0 ? st : FORJA_EIO;
out:
	if (rc && !c->rc) {
		c->rc = rc;
		if (rc == FORJA_ECANCELLED || rc == FORJA_ETIMEDOUT)
			snprintf(c->err, sizeof(c->err), "sending the context: %s",
				 task_stop_text(rc));
		else if (st > 0)
			snprintf(c->err, sizeof(c->err), "git archive of %.12s failed: %s", pt->sha,
				 dynbuf_str(&gerr));
		else
			snprintf(c->err, sizeof(c->err), "sending the context failed");
	}
	dynbuf_free(&gerr);
	proc_env_free(env);
	if (r)
		la.archive_read_free(r);
	return rc;
}

static void *write_context(void *ud)
{
	struct context *c = ud;
	struct archive *w = la.archive_write_new();
	int rc = w ? 0 : FORJA_ENOMEM;

	if (!rc && (la.archive_write_set_format_pax_restricted(w) != ARCHIVE_OK ||
		    la.archive_write_open(w, c, NULL, send_block, NULL) != ARCHIVE_OK))
		rc = FORJA_EIO;
	for (size_t i = 0; !rc && i < c->nfiles; i++)
		rc = write_file(c, w, c->file_names[i], &c->files[i]);
	if (!rc && !c->nfiles)
		rc = write_file(c, w, ".dockerignore", &c->ignore_text);
	if (!rc && !c->nfiles)
		rc = write_file(c, w, CONTEXT_DOCKERFILE, &c->forja_file);
	for (size_t i = 0; !rc && i < c->nparts; i++)
		rc = write_part(c, &c->parts[i], w);
	if (!rc && la.archive_write_close(w) != ARCHIVE_OK)
		rc = FORJA_EIO;
	if (rc)
		fail(c, rc, rc == FORJA_ENOMEM ? "out of memory" : "sending the context failed");
	if (w)
		la.archive_write_free(w);
	/* EOF for the reader: the body is complete (or cut short, and the engine says so) */
	shutdown(c->wfd, SHUT_WR);
	return NULL;
}

/* ---- the public calls ---------------------------------------------------------------------- */

static void context_free(struct context *c)
{
	if (c->rfd >= 0)
		close(c->rfd);
	if (c->wfd >= 0)
		close(c->wfd);
	for (size_t i = 0; i < c->nparts; i++) {
		if (c->parts[i].co)
			source_checkout_release(c->parts[i].co);
		free(c->parts[i].cache_dir);
		free(c->parts[i].strip);
		free(c->parts[i].prefix);
	}
	free(c->parts);
	for (size_t i = 0; i < c->nfiles; i++) {
		dynbuf_free(&c->files[i]);
		free(c->file_names[i]);
	}
	free(c->files);
	free(c->file_names);
	dockerignore_free(c->ignore);
	dynbuf_free(&c->ignore_text);
	dynbuf_free(&c->forja_file);
	dynbuf_free(&c->skipped);
	free(c->dockerfile);
	free(c);
}

/* The socket pair and the writer thread, once C holds what it sends. */
static int start_writer(struct context *c)
{
	int fds[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds))
		return FORJA_EIO;
	c->rfd = fds[0];
	c->wfd = fds[1];
	if (pthread_create(&c->writer, NULL, write_context, c))
		return FORJA_ENOMEM;
	c->started = true;
	return 0;
}

/* An empty context whose buffers may hold IGNORE_MAX, FILE_MAX and SKIPPED_MAX bytes, once
 * libarchive is there: 0, FORJA_EIO or FORJA_ENOMEM with why in ERR. */
static int context_new(const struct task_abort *ab, size_t ignore_max, size_t file_max,
		       size_t skipped_max, struct context **out, char *err, size_t errlen)
{
	if (la_ready(err, errlen))
		return FORJA_EIO;
	struct context *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return FORJA_ENOMEM;
	}
	c->rfd = c->wfd = -1;
	c->ab = ab;
	dynbuf_init(&c->ignore_text, ignore_max);
	dynbuf_init(&c->forja_file, file_max);
	dynbuf_init(&c->skipped, skipped_max);
	*out = c;
	return 0;
}

int context_open(const struct context_params *p, const struct task_log *log,
		 const struct task_abort *ab, struct context **out, char *err, size_t errlen)
{
	const char *dir = p->dir ? p->dir : "";
	char *strip = NULL;
	int rc;

	*out = NULL;
	struct context *c = NULL;
	rc = context_new(ab, IGNORE_MAX + 64, DOCKERFILE_MAX + 64 * 1024, 1024 * 1024, &c, err,
			 errlen);
	if (rc)
		return rc;
	c->dockerfile = strdup(p->dockerfile && *p->dockerfile ? p->dockerfile : "Dockerfile");
	rc = c->dockerfile ? read_inputs(c, p, dir, err, errlen) : FORJA_ENOMEM;
	if (rc)
		goto out;
	strip = malloc(strlen(dir) + 2);
	if (!strip) {
		rc = FORJA_ENOMEM;
		goto out;
	}
	snprintf(strip, strlen(dir) + 2, "%s%s", dir, *dir ? "/" : "");
	rc = add_part(c, NULL, source_checkout_dir(p->co), p->sha, strip, "");
	if (!rc)
		rc = add_submodules(c, p, p->co, p->url, p->sha, dir, "", 0, log, err, errlen);
	if (!rc)
		rc = start_writer(c);
	if (!rc)
		*out = c;
out:
	free(strip);
	if (rc == FORJA_ENOMEM || (rc == FORJA_EIO && !*err))
		snprintf(err, errlen, "%s",
			 rc == FORJA_ENOMEM ? "out of memory"
					    : "cannot open a socket for the context");
	if (rc)
		context_free(c);
	return rc;
}

int context_open_files(const struct context_file *files, size_t n, const struct task_abort *ab,
		       struct context **out, char *err, size_t errlen)
{
	int rc = 0;

	*out = NULL;
	struct context *c = NULL;
	rc = context_new(ab, 1, 1, 1, &c, err, errlen);
	if (rc)
		return rc;
	c->files = calloc(n ? n : 1, sizeof(*c->files));
	c->file_names = calloc(n ? n : 1, sizeof(*c->file_names));
	if (!c->files || !c->file_names || !n) {
		rc = n ? FORJA_ENOMEM : FORJA_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		dynbuf_init(&c->files[i], files[i].len + 1);
		c->nfiles++;
		c->file_names[i] = strdup(files[i].name);
		if (!c->file_names[i] || dynbuf_add(&c->files[i], files[i].text, files[i].len)) {
			rc = FORJA_ENOMEM;
			goto out;
		}
	}
	rc = start_writer(c);
	if (!rc)
		*out = c;
out:
	if (rc) {
		snprintf(err, errlen, "%s",
			 rc == FORJA_ENOMEM   ? "out of memory"
			 : rc == FORJA_EINVAL ? "no files for the context"
					      : "cannot open a socket for the context");
		context_free(c);
	}
	return rc;
}

int context_fd(const struct context *c)
{
	return c->rfd;
}

int context_finish(struct context *c, struct context_stats *stats, char *err, size_t errlen)
{
	int rc;

	/* a writer blocked on a reader that gave up gets EPIPE and stops */
	shutdown(c->rfd, SHUT_RDWR);
	if (c->started)
		pthread_join(c->writer, NULL);
	rc = c->reader_gone ? 0 : c->rc;
	if (rc)
		snprintf(err, errlen, "%s", c->err);
	if (stats)
		*stats = c->stats;
	context_free(c);
	return rc;
}
