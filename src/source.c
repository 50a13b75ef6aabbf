#include "source.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "dynbuf.h"
#include "config.h"
#include "errors.h"
#include "fs.h"
#include "log.h"
#include "proc.h"

#define OUT_MAX	       (8 * 1024 * 1024) /* ls-remote listings, blobs read for a build */
#define ERR_MAX	       4096		 /* the tail of git's stderr kept for messages */
#define REFS_KEEP      16		 /* fetched commits a cache keeps ... */
#define REFS_PRUNE_AT  24		 /* ... once it holds this many */
#define SWEEP_EVERY_MS (3600 * 1000)
#define LOCK_POLL_MS   50
#define SUBMODULES_MAX 64

struct source {
	char *cache_dir;
	char *github_token;
	char *github_host; /* host name the token is for */
	char *credentials_file;
	char *ssh_key_file;
	char *known_hosts_file;
	int cache_days;
	pthread_mutex_t mu;
	int64_t last_sweep_ms; /* guarded by mu */
};

/* One `git cat-file --batch` answering every read of a checkout: a spawn costs several ms, and a
 * build reads the commit, its Dockerfile, .dockerignore and .gitmodules. */
struct batch {
	struct proc proc; /* pid -1 until the first read, and after a failed one */
	char buf[16384];  /* what the child wrote and was not consumed yet */
	size_t pos, len;
};

struct source_checkout {
	char dir[4096];
	int lock_fd;
	bool cached;
	/* a pointer, so a const checkout still reads: the process is not its observable state */
	struct batch *batch;
};

/* Credentials for one git child: "K=V" strings, owned. */
struct git_env {
	char *vars[8];
	size_t n;
};

bool source_is_full_sha(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 40;
}

/* ---- set-up -------------------------------------------------------------------------------- */

static char *copy_setting(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* The host of git URLs for the configured GitHub: github.com for the public API, the API's own
 * host for GitHub Enterprise (https://ghe.example.com/api/v3). */
static char *github_git_host(const char *api_url)
{
	CURLU *u = curl_url();
	char *host = NULL, *out = NULL;

	if (!api_url || !u)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, api_url, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0))
		goto out;
	out = strdup(!strcasecmp(host, "api.github.com") ? "github.com" : host);
out:
	curl_free(host);
	curl_url_cleanup(u);
	return out;
}

int source_new(const struct source_config *cfg, struct source **out)
{
	struct source *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return FORJA_ENOMEM;
	s->cache_dir = strdup(cfg->cache_dir ? cfg->cache_dir : "git");
	s->github_token = copy_setting(cfg->github_token);
	s->github_host = github_git_host(cfg->github_api_url);
	s->credentials_file = copy_setting(cfg->credentials_file);
	s->ssh_key_file = copy_setting(cfg->ssh_key_file);
	s->known_hosts_file = copy_setting(cfg->known_hosts_file);
	s->cache_days = cfg->cache_days;
	pthread_mutex_init(&s->mu, NULL);
	if (!s->cache_dir || (cfg->github_token && *cfg->github_token && !s->github_token)) {
		source_free(s);
		return FORJA_ENOMEM;
	}
	*out = s;
	return 0;
}

int source_open(const struct config *cfg, struct source **out)
{
	size_t n = strlen(cfg->data_dir) + sizeof("/git");
	char *dir = malloc(n);
	struct source_config sc = {
	    .cache_dir = dir,
	    .github_token = cfg->github_token,
	    .github_api_url = cfg->github_api_url,
	    .credentials_file = cfg->git_credentials_file,
	    .ssh_key_file = cfg->git_ssh_key_file,
	    .known_hosts_file = cfg->git_known_hosts_file,
	    .cache_days = cfg->git_cache_days,
	};
	int rc;

	*out = NULL;
	if (!dir)
		return FORJA_ENOMEM;
	snprintf(dir, n, "%s/git", cfg->data_dir);
	rc = source_new(&sc, out);
	free(dir);
	return rc;
}

static void wipe(char *p)
{
	if (!p)
		return;
	explicit_bzero(p, strlen(p));
	free(p);
}

void source_free(struct source *s)
{
	if (!s)
		return;
	free(s->cache_dir);
	wipe(s->github_token);
	free(s->github_host);
	free(s->credentials_file);
	free(s->ssh_key_file);
	free(s->known_hosts_file);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- credentials ----------------------------------------------------------------------------- */

static void git_env_free(struct git_env *g)
{
	for (size_t i = 0; i < g->n; i++)
		wipe(g->vars[i]);
	g->n = 0;
}

static int git_env_add(struct git_env *g, const char *a, const char *b)
{
	struct dynbuf d;

	if (g->n + 1 >= sizeof(g->vars) / sizeof(g->vars[0]))
		return FORJA_ETOOBIG;
	dynbuf_init(&d, 16384);
	if (dynbuf_add_str(&d, a) || dynbuf_add_str(&d, b)) {
		dynbuf_free(&d);
		return FORJA_ENOMEM;
	}
	g->vars[g->n++] = dynbuf_take(&d);
	g->vars[g->n] = NULL;
	return g->vars[g->n - 1] ? 0 : FORJA_ENOMEM;
}

/* Scheme and host[:port] of an http(s) URL, lowercased as curl normalises them. */
static int http_origin(const char *url, char **scheme, char **host, char **port)
{
	CURLU *u = curl_url();
	int rc = FORJA_EINVAL;

	*scheme = *host = *port = NULL;
	if (!u)
		return FORJA_ENOMEM;
	if (!curl_url_set(u, CURLUPART_URL, url, 0) &&
	    !curl_url_get(u, CURLUPART_SCHEME, scheme, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, host, 0)) {
		if (curl_url_get(u, CURLUPART_PORT, port, 0))
			*port = NULL;
		rc = 0;
	}
	curl_url_cleanup(u);
	return rc;
}

/* Sets the Authorization header for URL's origin only: git sends it nowhere else, not even
 * after a redirect to another host. */
static int add_basic_auth(struct git_env *g, const char *scheme, const char *host, const char *port,
			  const char *user, const char *password)
{
	gnutls_datum_t in, b64 = {0};
	struct dynbuf key, plain;
	int rc = FORJA_ENOMEM;

	dynbuf_init(&key, 1024);
	dynbuf_init(&plain, 16384);
	if (dynbuf_addf(&key, "GIT_CONFIG_KEY_0=http.%s://%s%s%s/.extraHeader", scheme, host,
			port ? ":" : "", port ? port : "") ||
	    dynbuf_addf(&plain, "%s:%s", user, password))
		goto out;
	in.data = (unsigned char *)plain.buf;
	in.size = (unsigned)plain.len;
	if (gnutls_base64_encode2(&in, &b64) < 0)
		goto out;
	rc = git_env_add(g, "GIT_CONFIG_COUNT=", "1");
	if (!rc)
		rc = git_env_add(g, dynbuf_str(&key), "");
	if (!rc) {
		/* base64 of GnuTLS has no line breaks for short input; trim any trailing one */
		char *v = (char *)b64.data;
		size_t n = b64.size;

		while (n && (v[n - 1] == '\n' || v[n - 1] == '\r'))
			v[--n] = '\0';
		rc = git_env_add(g, "GIT_CONFIG_VALUE_0=Authorization: Basic ", v);
	}
out:
	if (b64.data) {
		explicit_bzero(b64.data, b64.size);
		gnutls_free(b64.data);
	}
	if (plain.buf)
		explicit_bzero(plain.buf, plain.len);
	dynbuf_free(&plain);
	dynbuf_free(&key);
	return rc;
}

/* One git-credential-store line: user and password if it is for SCHEME://HOST[:PORT]. */
static bool credential_matches(const char *line, const char *scheme, const char *host,
			       const char *port, char **user, char **password)
{
	char *ls = NULL, *lh = NULL, *lp = NULL;
	CURLU *u = curl_url();
	bool ok = false;

	*user = *password = NULL;
	if (!u || curl_url_set(u, CURLUPART_URL, line, 0) || http_origin(line, &ls, &lh, &lp))
		goto out;
	if (strcasecmp(ls, scheme) || strcasecmp(lh, host) ||
	    strcmp(lp ? lp : "", port ? port : ""))
		goto out;
	if (curl_url_get(u, CURLUPART_USER, user, CURLU_URLDECODE) ||
	    curl_url_get(u, CURLUPART_PASSWORD, password, CURLU_URLDECODE))
		goto out;
	ok = true;
out:
	if (!ok) {
		curl_free(*user);
		curl_free(*password);
		*user = *password = NULL;
	}
	curl_free(ls);
	curl_free(lh);
	curl_free(lp);
	curl_url_cleanup(u);
	return ok;
}

static int credentials_from_file(const struct source *s, struct git_env *g, const char *scheme,
				 const char *host, const char *port)
{
	char line[4096], *user = NULL, *password = NULL;
	FILE *f;
	int rc = 0;

	if (!s->credentials_file)
		return 0;
	f = fopen(s->credentials_file, "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!credential_matches(line, scheme, host, port, &user, &password))
			continue;
		rc = add_basic_auth(g, scheme, host, port, user, password);
		explicit_bzero(password, strlen(password));
		curl_free(user);
		curl_free(password);
		break;
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return rc;
}

/* A word for GIT_SSH_COMMAND (run by git through sh): single-quoted. */
static int add_quoted(struct dynbuf *d, const char *word)
{
	int rc = dynbuf_add_str(d, "'");

	for (const char *p = word; !rc && *p; p++)
		rc = *p == '\'' ? dynbuf_add_str(d, "'\\''") : dynbuf_add(d, p, 1);
	return rc ? rc : dynbuf_add_str(d, "'");
}

/* ssh never asks and never accepts a host key it does not know. */
static int ssh_command(const struct source *s, struct git_env *g)
{
	struct dynbuf d;
	int rc;

	dynbuf_init(&d, 16384);
	rc = dynbuf_add_str(&d, "ssh -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes "
				"-o ConnectTimeout=20");
	if (!rc && s->ssh_key_file) {
		rc = dynbuf_add_str(&d, " -o IdentitiesOnly=yes -i ");
		rc = rc ? rc : add_quoted(&d, s->ssh_key_file);
	}
	if (!rc && s->known_hosts_file) {
		rc = dynbuf_add_str(&d, " -o UserKnownHostsFile=");
		rc = rc ? rc : add_quoted(&d, s->known_hosts_file);
	}
	if (!rc)
		rc = git_env_add(g, "GIT_SSH_COMMAND=", dynbuf_str(&d));
	dynbuf_free(&d);
	return rc;
}

static bool is_ssh_url(const char *url)
{
	const char *colon = strchr(url, ':');
	const char *slash = strchr(url, '/');

	if (!strncmp(url, "ssh://", 6) || !strncmp(url, "git+ssh://", 10))
		return true;
	/* scp-like user@host:path (a ':' before any '/', and not a scheme) */
	return colon && (!slash || colon < slash) && strncmp(colon, "://", 3);
}

static int credentials_for(const struct source *s, const char *url, struct git_env *g)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	int rc = 0;

	g->n = 0;
	g->vars[0] = NULL;
	if (is_ssh_url(url))
		return ssh_command(s, g);
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return 0;
	if (http_origin(url, &scheme, &host, &port))
		return 0;
	if (s->github_token && s->github_host && !strcasecmp(host, s->github_host))
		rc = add_basic_auth(g, scheme, host, port, "x-access-token", s->github_token);
	else
		rc = credentials_from_file(s, g, scheme, host, port);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return rc;
}

/* ---- running git ------------------------------------------------------------------------------
 */

/* Runs git with ARGV (argv[0] = "git"); credentials for AUTH_URL (NULL = none) go into its
 * environment. Returns git's exit status or a negative forja_err. */
static int run_git(const struct source *s, const char *auth_url, char *const argv[],
		   const struct task_abort *ab, struct dynbuf *out, struct dynbuf *err)
{
	struct git_env g = {.n = 0};
	struct proc p;
	char **env = NULL;
	int rc;

	rc = auth_url ? credentials_for(s, auth_url, &g) : 0;
	if (rc)
		goto out;
	env = proc_git_env(g.vars);
	if (!env) {
		rc = FORJA_ENOMEM;
		goto out;
	}
	rc = proc_spawn(argv, env, &p);
	if (!rc)
		rc = proc_collect(&p, ab, out, err);
out:
	proc_env_free(env);
	git_env_free(&g);
	return rc;
}

/* git's last "fatal:"/"error:" line, or its last line: the cause in its own words. */
static void git_reason(const char *text, char *buf, size_t len)
{
	const char *best = NULL, *last = NULL;

	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n > 0) {
			last = p;
			if (!strncmp(p, "fatal:", 6) || !strncmp(p, "error:", 6))
				best = p;
		}
		p = nl ? nl + 1 : NULL;
	}
	best = best ? best : last;
	if (!best) {
		snprintf(buf, len, "git failed");
		return;
	}
	snprintf(buf, len, "%.*s", (int)strcspn(best, "\r\n"), best);
}

enum cause {
	CAUSE_OTHER,
	CAUSE_AUTH,
	CAUSE_HOSTKEY,
	CAUSE_NOCOMMIT,
	CAUSE_UNREACHABLE,
	CAUSE_NOREPO
};

static enum cause classify(const char *e)
{
	if (strstr(e, "Host key verification failed") || strstr(e, "REMOTE HOST IDENTIFICATION"))
		return CAUSE_HOSTKEY;
	if (strstr(e, "Authentication failed") || strstr(e, "could not read Username") ||
	    strstr(e, "could not read Password") || strstr(e, "Permission denied") ||
	    strstr(e, "The requested URL returned error: 401") ||
	    strstr(e, "The requested URL returned error: 403"))
		return CAUSE_AUTH;
	if (strstr(e, "not our ref") || strstr(e, "unadvertised object") ||
	    strstr(e, "couldn't find remote ref") || strstr(e, "no such remote ref"))
		return CAUSE_NOCOMMIT;
	if (strstr(e, "Could not resolve host") || strstr(e, "Connection refused") ||
	    strstr(e, "Failed to connect") || strstr(e, "Connection timed out") ||
	    strstr(e, "Network is unreachable") || strstr(e, "No route to host") ||
	    strstr(e, "unable to connect") || strstr(e, "Could not resolve hostname") ||
	    strstr(e, "Connection closed by remote host"))
		return CAUSE_UNREACHABLE;
	if (strstr(e, "not found") || strstr(e, "does not appear to be a git repository") ||
	    strstr(e, "error: 404") || strstr(e, "No such file or directory"))
		return CAUSE_NOREPO;
	return CAUSE_OTHER;
}

static const char *cause_words(enum cause c)
{
	switch (c) {
	case CAUSE_AUTH: return "authentication refused";
	case CAUSE_HOSTKEY: return "host key unknown (not in the known hosts Forja trusts)";
	case CAUSE_NOCOMMIT: return "commit not found";
	case CAUSE_UNREACHABLE: return "host unreachable";
	case CAUSE_NOREPO: return "repository not found, or no access to it";
	case CAUSE_OTHER: break;
	}
	return "git failed";
}

static int cause_code(enum cause c)
{
	switch (c) {
	case CAUSE_AUTH:
	case CAUSE_HOSTKEY: return FORJA_EAUTH;
	case CAUSE_NOCOMMIT:
	case CAUSE_NOREPO: return FORJA_ENOTFOUND;
	case CAUSE_UNREACHABLE: return FORJA_EUNAVAILABLE;
	case CAUSE_OTHER: break;
	}
	return FORJA_EUPSTREAM;
}

/* "cannot WHAT URL: cause (git: fatal ...)" for a failed git run with status RC. */
static int git_failure(int rc, const char *what, const char *url, const struct dynbuf *gerr,
		       char *err, size_t errlen)
{
	char reason[512];
	enum cause c;

	if (rc == FORJA_ECANCELLED || rc == FORJA_ETIMEDOUT) {
		snprintf(err, errlen, "%s %s: %s", what, url, task_stop_text(rc));
		return rc;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s %s: cannot run git: %s", what, url, errors_text(rc));
		return rc;
	}
	c = classify(dynbuf_str(gerr));
	git_reason(dynbuf_str(gerr), reason, sizeof(reason));
	snprintf(err, errlen, "%s %s: %s (%s)", what, url, cause_words(c), reason);
	return cause_code(c);
}

/* ---- resolving a ref ------------------------------------------------------------------------- */

/* The commit for REF in ls-remote output: the exact ref name, then the branch, then the peeled
 * tag (an annotated tag's own id is not a commit), then the tag. */
static bool pick_ref(const char *out, const char *ref, char *sha)
{
	char want[4][320];
	int best = 4;

	snprintf(want[0], sizeof(want[0]), "%s", ref);
	snprintf(want[1], sizeof(want[1]), "refs/heads/%s", ref);
	snprintf(want[2], sizeof(want[2]), "refs/tags/%s^{}", ref);
	snprintf(want[3], sizeof(want[3]), "refs/tags/%s", ref);
	for (const char *line = out; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		for (int k = 0; n > 41 && line[40] == '\t' && k < best; k++) {
			size_t wl = strlen(want[k]);

			if (n - 41 == wl && !memcmp(line + 41, want[k], wl)) {
				memcpy(sha, line, 40);
				sha[40] = '\0';
				best = k;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return best < 4 && source_is_full_sha(sha);
}

int source_resolve(struct source *s, const char *url, const char *ref, const struct task_abort *ab,
		   char *sha, char *err, size_t errlen)
{
	char peeled[320];
	char *argv[] = {"git", "ls-remote", "--", (char *)url, (char *)ref, peeled, NULL};
	struct dynbuf out, gerr;
	int rc;

	sha[0] = '\0';
	if (source_is_full_sha(ref)) {
		snprintf(sha, 41, "%s", ref);
		return 0;
	}
	snprintf(peeled, sizeof(peeled), "%s^{}", ref);
	dynbuf_init(&out, OUT_MAX);
	dynbuf_init(&gerr, ERR_MAX);
	rc = run_git(s, url, argv, ab, &out, &gerr);
	if (rc != 0) {
		rc = git_failure(rc, "cannot list refs of", url, &gerr, err, errlen);
		goto out;
	}
	if (!pick_ref(dynbuf_str(&out), ref, sha)) {
		snprintf(err, errlen,
			 "ref '%s' not found at %s (give a branch, a tag or a full 40-hex commit "
			 "sha)",
			 ref, url);
		rc = FORJA_ENOTFOUND;
	}
out:
	dynbuf_free(&out);
	dynbuf_free(&gerr);
	return rc;
}

/* ---- the cache ------------------------------------------------------------------------------- */

/* DIR/<first 24 hex of sha256(url)>: one cache per repository URL. */
static int cache_path(const struct source *s, const char *url, char *buf, size_t len)
{
	unsigned char digest[32];
	char hex[25];
	int n;

	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, url, strlen(url), digest) < 0)
		return FORJA_EIO;
	for (int i = 0; i < 12; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	n = snprintf(buf, len, "%s/%s.git", s->cache_dir, hex);
	return n < 0 || (size_t)n >= len - 8 ? FORJA_ETOOBIG : 0;
}

/* flock without blocking a cancel: polls, so an abort ends the wait. */
static int lock_cache(const char *dir, int how, const struct task_abort *ab, int *fd_out)
{
	char path[4200];
	int fd, why = 0;

	snprintf(path, sizeof(path), "%s.lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return FORJA_EIO;
	while (flock(fd, how | LOCK_NB)) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			close(fd);
			return FORJA_EIO;
		}
		if (task_should_stop(ab, &why)) {
			close(fd);
			return why;
		}
		struct timespec ts = {0, LOCK_POLL_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	*fd_out = fd;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void remove_tree(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* An empty bare cache whose archives are not altered by the repository's .gitattributes. */
static int cache_init(const struct source *s, const char *dir)
{
	char *argv[] = {"git", "init", "--bare", "--quiet", (char *)dir, NULL};
	char attrs[4200];
	struct dynbuf gerr;
	FILE *f;
	int rc;

	dynbuf_init(&gerr, ERR_MAX);
	rc = run_git(s, NULL, argv, NULL, NULL, &gerr);
	dynbuf_free(&gerr);
	if (rc)
		return FORJA_EIO;
	snprintf(attrs, sizeof(attrs), "%s/info/attributes", dir);
	f = fopen(attrs, "we");
	if (!f)
		return FORJA_EIO;
	fputs("* -export-ignore -export-subst\n", f);
	return fclose(f) ? FORJA_EIO : 0;
}

/* Whether DIR lists refs/forja/c/SHA, loose or packed (a gc packs them): read from the files,
 * since a git run to ask costs more than the check; the object is verified by the caller. */
static bool ref_listed(const char *dir, const char *sha)
{
	char path[4200], line[256];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/refs/forja/c/%s", dir, sha);
	f = fopen(path, "re");
	if (f) {
		found = fgets(line, sizeof(line), f) && !strncmp(line, sha, 40) &&
			(line[40] == '\n' || line[40] == '\0');
		fclose(f);
		if (found)
			return true;
	}
	snprintf(path, sizeof(path), "%s/packed-refs", dir);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, sha, 40) && !strncmp(line + 40, " refs/forja/c/", 14) &&
			!strncmp(line + 54, sha, 40) && (line[94] == '\n' || line[94] == '\0');
	fclose(f);
	return found;
}

static int batch_object(const struct source_checkout *co, const char *name, size_t max,
			struct dynbuf *out, char *type, size_t *size);

static void batch_stop(struct batch *b)
{
	proc_kill(&b->proc);
	b->pos = b->len = 0;
}

/* Whether the cache holds refs/forja/c/SHA and the commit it names can be read (a cache whose
 * objects are gone is fetched again). The object is asked of CO's batch, which then serves
 * the build's reads; it is stopped when the answer is no, since a fetch may replace the cache. */
static bool cache_has(const struct source_checkout *co, const char *sha)
{
	char name[64], type[16] = "";
	struct stat st;
	size_t size = 0;

	if (stat(co->dir, &st) || !S_ISDIR(st.st_mode) || !ref_listed(co->dir, sha))
		return false;
	snprintf(name, sizeof(name), "%s^{commit}", sha);
	if (batch_object(co, name, 0, NULL, type, &size) == 0 && !strcmp(type, "commit"))
		return true;
	batch_stop(co->batch);
	return false;
}

static void touch_used(const char *dir)
{
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/forja-used", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		futimens(fd, NULL);
		close(fd);
	}
}

/* Loose refs under refs/forja/c: the fetches since the last prune (gc packs the rest). */
static int loose_refs(const char *dir)
{
	char path[4200];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/refs/forja/c", dir);
	d = opendir(path);
	if (!d)
		return 0;
	for (e = readdir(d); e; e = readdir(d))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Deletes the refs in LINES (one per line) in one `git update-ref --stdin` transaction rather
 * than a git run each. Returns how many were asked to go (0 when git refused them all). */
static int delete_refs(const char *dir, const struct dynbuf *lines)
{
	char *argv[] = {"git", "-C", (char *)dir, "update-ref", "--stdin", NULL};
	char **env = proc_git_env(NULL);
	struct proc p;
	int n = 0, rc;

	if (!env)
		return 0;
	rc = proc_spawn_duplex(argv, env, &p);
	proc_env_free(env);
	if (rc)
		return 0;
	for (const char *l = dynbuf_str(lines); !rc && *l; l += strlen(l) + 1) {
		rc = proc_send(&p, "delete ", 7);
		rc = rc ? rc : proc_send(&p, l, strlen(l));
		rc = rc ? rc : proc_send(&p, "\n", 1);
		n++;
	}
	if (rc) {
		proc_kill(&p);
		return 0;
	}
	return proc_wait(&p) == 0 ? n : 0;
}

/* Keeps the REFS_KEEP newest commits: each fetched commit adds a ref and a shallow line. Looks
 * only once enough fetches happened since the last time, so a fetch costs no extra git run. */
static void cache_prune(const struct source *s, const char *dir, const char *keep)
{
	char *list[] = {"git",
			"-C",
			(char *)dir,
			"for-each-ref",
			"--sort=-committerdate",
			"--format=%(refname)",
			"refs/forja/c/",
			NULL};
	/* No delta search: the fetched packs keep the deltas they came with, and searching anew
	 * costs seconds on large or binary files (1.4 s against 0.1 s for 24 commits of a 1 MiB
	 * blob) while the fetch that triggered it waits, for a cache of a few commits. */
	char *gc[] = {"git",	       "-C", (char *)dir, "-c",		 "gc.auto=0", "-c",
		      "pack.window=0", "gc", "--quiet",	  "--prune=now", NULL};
	struct dynbuf out, doomed;
	int count = 0;

	dynbuf_init(&out, OUT_MAX);
	dynbuf_init(&doomed, OUT_MAX);
	if (loose_refs(dir) < REFS_PRUNE_AT || run_git(s, NULL, list, NULL, &out, NULL) != 0)
		goto out;
	for (const char *p = dynbuf_str(&out); *p; p++)
		count += *p == '\n';
	if (count < REFS_PRUNE_AT)
		goto out;
	count = 0;
	for (char *line = out.buf; line && *line;) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if (++count > REFS_KEEP && !strstr(line, keep) &&
		    dynbuf_add(&doomed, line, strlen(line) + 1))
			goto out;
		line = nl ? nl + 1 : NULL;
	}
	if (doomed.len && delete_refs(dir, &doomed) > 0)
		run_git(s, NULL, gc, NULL, NULL, NULL);
out:
	dynbuf_free(&doomed);
	dynbuf_free(&out);
}

/* The commit fetched last into DIR (its ref is never pruned), or "" when none is usable. */
static void last_fetched(const char *dir, char *sha)
{
	char path[4200];
	FILE *f;

	sha[0] = '\0';
	snprintf(path, sizeof(path), "%s/forja-last", dir);
	f = fopen(path, "re");
	if (!f)
		return;
	if (!fgets(sha, 41, f) || !source_is_full_sha(sha))
		sha[0] = '\0';
	fclose(f);
	/* only while its ref is loose (a gc packs it): git refuses a tip it cannot resolve */
	snprintf(path, sizeof(path), "%s/refs/forja/c/%s", dir, sha);
	if (sha[0] && access(path, F_OK))
		sha[0] = '\0';
}

static void remember_fetched(const char *dir, const char *sha)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/forja-last", dir);
	f = fopen(path, "we");
	if (!f)
		return;
	fputs(sha, f);
	fclose(f);
}

static int fetch_into(const struct source *s, const char *dir, const char *url, const char *sha,
		      const struct task_abort *ab, struct dynbuf *gerr)
{
	char refspec[128], last[41], tip[96];
	char *argv[] = {
	    "git",
	    "-C",
	    (char *)dir,
	    "-c",
	    "gc.auto=0",
	    "-c",
	    "maintenance.auto=false",
	    "-c",
	    "protocol.version=2",
	    "-c",
	    "fetch.unpackLimit=1", /* keep the pack as sent: no loose objects to deflate */
	    "fetch",
	    "--quiet",
	    "--depth=1",
	    "--no-tags",
	    "--no-write-fetch-head",
	    "--no-recurse-submodules",
	    tip,
	    "--",
	    (char *)url,
	    refspec,
	    NULL};
	int rc;

	snprintf(refspec, sizeof(refspec), "+%s:refs/forja/c/%s", sha, sha);
	/* One "have" (the newest commit) is enough to send only what changed; offering every
	 * cached commit costs negotiation rounds that take longer than they save. */
	last_fetched(dir, last);
	snprintf(tip, sizeof(tip), "--negotiation-tip=refs/forja/c/%s", last);
	dynbuf_reset(gerr);
	if (!last[0]) {
		/* a new cache has nothing to negotiate from: drop the option */
		for (size_t i = 0; argv[i]; i++)
			if (argv[i] == tip) {
				memmove(&argv[i], &argv[i + 1],
					(sizeof(argv) / sizeof(argv[0]) - i - 1) * sizeof(argv[0]));
				break;
			}
	}
	rc = run_git(s, url, argv, ab, NULL, gerr);
	if (rc == 0)
		remember_fetched(dir, sha);
	return rc;
}

/* Under the exclusive lock: makes SHA present, starting over once from an empty cache when
 * the one there fails for a reason that is not the remote's. */
static int fetch_locked(struct source *s, const char *dir, const char *url, const char *sha,
			const struct task_log *log, const struct task_abort *ab, char *err,
			size_t errlen)
{
	int64_t t0 = deadline_now_ms();
	struct dynbuf gerr;
	struct stat st;
	int rc;

	dynbuf_init(&gerr, ERR_MAX);
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
		unlink(dir);
	rc = stat(dir, &st) ? cache_init(s, dir) : 0;
	if (rc) {
		snprintf(err, errlen, "cannot create the repository cache for %s", url);
		goto out;
	}
	rc = fetch_into(s, dir, url, sha, ab, &gerr);
	if (rc > 0 && classify(dynbuf_str(&gerr)) == CAUSE_OTHER) {
		char reason[256];

		git_reason(dynbuf_str(&gerr), reason, sizeof(reason));
		task_say(log, "the cache of %s is unusable (%s): fetching it again", url, reason);
		log_warn("cache of %s unusable (%s): fetching again", url, reason);
		remove_tree(dir);
		rc = cache_init(s, dir);
		if (!rc)
			rc = fetch_into(s, dir, url, sha, ab, &gerr);
	}
	if (rc) {
		rc = git_failure(rc, "cannot fetch", url, &gerr, err, errlen);
		goto out;
	}
	task_say(log, "fetched %s at %s in %lld ms", url, sha, (long long)(deadline_now_ms() - t0));
	touch_used(dir);
	cache_prune(s, dir, sha);
out:
	dynbuf_free(&gerr);
	return rc;
}

static void sweep_maybe(struct source *s)
{
	int64_t now = deadline_now_ms();
	bool due;

	pthread_mutex_lock(&s->mu);
	due = s->cache_days > 0 &&
	      (s->last_sweep_ms == 0 || now - s->last_sweep_ms >= SWEEP_EVERY_MS);
	if (due)
		s->last_sweep_ms = now;
	pthread_mutex_unlock(&s->mu);
	if (due)
		source_sweep(s);
}

int source_fetch(struct source *s, const char *url, const char *sha, const struct task_log *log,
		 const struct task_abort *ab, struct source_checkout **out, char *err,
		 size_t errlen)
{
	struct source_checkout *co = calloc(1, sizeof(*co));
	int rc = FORJA_ENOMEM, attempts = 0;

	*out = NULL;
	if (!co) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	co->lock_fd = -1;
	co->batch = calloc(1, sizeof(*co->batch));
	if (!co->batch) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	co->batch->proc = (struct proc){.pid = -1, .in = -1, .out = -1, .err = -1};
	if (!source_is_full_sha(sha)) {
		snprintf(err, errlen, "'%s' is not a full commit sha", sha);
		rc = FORJA_EINVAL;
		goto out;
	}
	/* 0700: the caches hold private code */
	if (fs_make_dirs(s->cache_dir, 0700)) {
		snprintf(err, errlen, "cannot create the git cache directory: %s", strerror(errno));
		rc = FORJA_EIO;
		goto out;
	}
	rc = cache_path(s, url, co->dir, sizeof(co->dir));
	if (rc) {
		snprintf(err, errlen, "cannot name the cache of %s", url);
		goto out;
	}
	/*
	 * Readers hold the lock shared, fetches exclusive. Between dropping the exclusive lock
	 * and taking the shared one another fetch may prune: so look again under the shared one.
	 */
	for (;;) {
		rc = lock_cache(co->dir, LOCK_SH, ab, &co->lock_fd);
		if (rc)
			break;
		if (cache_has(co, sha)) {
			co->cached = attempts == 0;
			if (co->cached)
				task_say(log, "%s at %s: in the cache", url, sha);
			touch_used(co->dir);
			break;
		}
		close(co->lock_fd);
		co->lock_fd = -1;
		if (++attempts > 3) {
			snprintf(err, errlen, "cannot fetch %s: the cache kept losing commit %s",
				 url, sha);
			rc = FORJA_EIO;
			goto out;
		}
		rc = lock_cache(co->dir, LOCK_EX, ab, &co->lock_fd);
		if (rc)
			break;
		rc = cache_has(co, sha) ? 0
					: fetch_locked(s, co->dir, url, sha, log, ab, err, errlen);
		close(co->lock_fd);
		co->lock_fd = -1;
		if (rc)
			goto out;
	}
	if (rc) {
		snprintf(err, errlen, "cannot fetch %s: %s", url,
			 rc == FORJA_EIO ? "cannot lock its cache" : task_stop_text(rc));
		goto out;
	}
	sweep_maybe(s);
	*out = co;
	co = NULL;
out:
	source_checkout_release(co);
	return rc;
}

void source_checkout_release(struct source_checkout *co)
{
	if (!co)
		return;
	if (co->batch) {
		/* with its stdin and stdout closed, cat-file ends by itself */
		proc_wait(&co->batch->proc);
		free(co->batch);
	}
	if (co->lock_fd >= 0)
		close(co->lock_fd);
	free(co);
}

const char *source_checkout_dir(const struct source_checkout *co)
{
	return co->dir;
}

bool source_checkout_was_cached(const struct source_checkout *co)
{
	return co->cached;
}

int source_sweep(struct source *s)
{
	time_t limit = time(NULL) - (time_t)s->cache_days * 86400;
	struct dirent *de;
	int removed = 0;
	DIR *d;

	if (s->cache_days <= 0)
		return 0;
	d = opendir(s->cache_dir);
	if (!d)
		return 0;
	for (de = readdir(d); de; de = readdir(d)) {
		char dir[4200], used[4300];
		size_t n = strlen(de->d_name);
		struct stat st;
		int fd = -1;

		if (n < 5 || strcmp(de->d_name + n - 4, ".git"))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", s->cache_dir, de->d_name);
		snprintf(used, sizeof(used), "%s/forja-used", dir);
		if (stat(used, &st) == 0 && st.st_mtime >= limit)
			continue;
		if (stat(used, &st) && stat(dir, &st))
			continue;
		if (st.st_mtime >= limit)
			continue;
		/* a cache in use is locked by its user: leave it */
		if (lock_cache(dir, LOCK_EX, &(struct task_abort){.deadline_ms = 1}, &fd))
			continue;
		remove_tree(dir);
		removed++;
		log_info("removed the git cache %s: unused for %d days", de->d_name, s->cache_days);
		close(fd);
	}
	closedir(d);
	return removed;
}

/* ---- reading objects --------------------------------------------------------------------- */

static int batch_start(const struct source_checkout *co)
{
	char *argv[] = {"git", "-C", (char *)co->dir, "cat-file", "--batch", NULL};
	char **env = proc_git_env(NULL);
	int rc;

	if (!env)
		return FORJA_ENOMEM;
	co->batch->pos = co->batch->len = 0;
	rc = proc_spawn_duplex(argv, env, &co->batch->proc);
	proc_env_free(env);
	return rc;
}

/* Makes B hold unread bytes; FORJA_EIO once the child's stdout closed. */
static int batch_fill(struct batch *b)
{
	ssize_t n;

	if (b->pos < b->len)
		return 0;
	do
		n = read(b->proc.out, b->buf, sizeof(b->buf));
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return FORJA_EIO;
	b->pos = 0;
	b->len = (size_t)n;
	return 0;
}

/* One header line into LINE (NUL-terminated, without its newline); FORJA_EIO past LEN. */
static int batch_line(struct batch *b, char *line, size_t len)
{
	size_t n = 0;

	for (;;) {
		int rc = batch_fill(b);

		if (rc)
			return rc;
		while (b->pos < b->len) {
			char c = b->buf[b->pos++];

			if (c == '\n') {
				line[n] = '\0';
				return 0;
			}
			if (n + 1 >= len)
				return FORJA_EIO;
			line[n++] = c;
		}
	}
}

/* The next N bytes of the child's stdout into OUT (NULL: dropped). */
static int batch_bytes(struct batch *b, struct dynbuf *out, size_t n)
{
	while (n > 0) {
		size_t k;
		int rc = batch_fill(b);

		if (rc)
			return rc;
		k = b->len - b->pos < n ? b->len - b->pos : n;
		rc = out ? dynbuf_add(out, b->buf + b->pos, k) : 0;
		if (rc)
			return rc;
		b->pos += k;
		n -= k;
	}
	return 0;
}

/*
 * Asks CO's batch for object NAME ("<sha>:<path>", "<sha>^{commit}"): TYPE (>= 8 bytes) and
 * SIZE get its header; a blob's content goes into OUT (may be NULL; at most MAX bytes,
 * FORJA_ETOOBIG past that), anything else is read and dropped (a tree is only named).
 * FORJA_ENOTFOUND when git has no such object or cannot answer. The batch starts on first use; a
 * failed exchange stops it (the next one restarts it), so one bad answer never leaves the stream
 * out of step.
 */
static int batch_object(const struct source_checkout *co, const char *name, size_t max,
			struct dynbuf *out, char *type, size_t *size)
{
	struct batch *b = co->batch;
	char line[4400], *sp; /* "<name> missing" echoes the name asked */
	unsigned long long n = 0;
	int rc = 0, used = 0;

	type[0] = '\0';
	*size = 0;
	/* the batch reads one name a line: a name with a newline cannot be asked */
	if (strchr(name, '\n'))
		return FORJA_ENOTFOUND;
	if (b->proc.pid < 0)
		rc = batch_start(co);
	if (!rc)
		rc = proc_send(&b->proc, name, strlen(name));
	if (!rc)
		rc = proc_send(&b->proc, "\n", 1);
	if (!rc)
		rc = batch_line(b, line, sizeof(line));
	if (rc)
		goto out;
	/* "<name> missing" or "ambiguous": the name is echoed, so the answer is its last word */
	sp = strrchr(line, ' ');
	if (!sp || !strcmp(sp, " missing") || !strcmp(sp, " ambiguous")) {
		rc = sp ? FORJA_ENOTFOUND : FORJA_EIO;
		goto out;
	}
	/* "<oid> <type> <size>" */
	if (sscanf(line, "%*s %7s %llu%n", type, &n, &used) != 2 || line[used]) {
		rc = FORJA_EIO;
		goto out;
	}
	*size = (size_t)n;
	if (strcmp(type, "blob"))
		out = NULL;
	if (out && n > max) {
		rc = FORJA_ETOOBIG;
		goto out;
	}
	rc = batch_bytes(b, out, (size_t)n);
	if (!rc)
		rc = batch_bytes(b, NULL, 1); /* the newline after the content */
out:
	if (rc && rc != FORJA_ENOTFOUND) {
		batch_stop(b);
		if (rc == FORJA_EIO)
			rc = FORJA_ENOTFOUND; /* as a git run that failed: the object cannot be read
					       */
	}
	return rc;
}

int source_read(const struct source_checkout *co, const char *sha, const char *path, size_t max,
		char **out, size_t *len, char *type)
{
	char spec[4200], got[8];
	struct dynbuf buf;
	size_t size = 0;
	int rc;

	*out = NULL;
	*len = 0;
	dynbuf_init(&buf, max);
	if (snprintf(spec, sizeof(spec), "%s:%s", sha, path) >= (int)sizeof(spec)) {
		rc = FORJA_ENOTFOUND;
		goto out;
	}
	rc = batch_object(co, spec, max, &buf, got, &size);
	if (rc)
		goto out;
	if (type)
		memcpy(type, got, sizeof(got));
	if (strcmp(got, "blob")) {
		rc = type ? 0 : FORJA_ENOTFOUND; /* with TYPE NULL only a blob is read */
		goto out;
	}
	*len = buf.len;
	*out = dynbuf_take(&buf);
	rc = *out ? 0 : FORJA_ENOMEM;
out:
	dynbuf_free(&buf);
	return rc;
}

/* ---- submodules ---------------------------------------------------------------------------- */

void source_submodules_free(struct source_submodule *subs, size_t n)
{
	for (size_t i = 0; subs && i < n; i++) {
		free(subs[i].path);
		free(subs[i].url);
	}
	free(subs);
}

/* A .gitmodules URL relative to the superproject's (./x, ../x) made absolute, as git does:
 * each ../ drops one path component of BASE, for scp-like URLs down to the host's ':'. */
static char *resolve_url(const char *base, const char *rel)
{
	struct dynbuf d;
	size_t n = strlen(base);
	const char *host_end = strstr(base, "://");
	size_t floor;

	if (strncmp(rel, "./", 2) && strncmp(rel, "../", 3))
		return strdup(rel);
	floor = host_end ? (size_t)(strchr(host_end + 3, '/') ? strchr(host_end + 3, '/') - base
							      : (ptrdiff_t)n)
			 : (strchr(base, ':') ? (size_t)(strchr(base, ':') - base) + 1 : 0);
	while (n > floor && base[n - 1] == '/')
		n--;
	for (;;) {
		if (!strncmp(rel, "./", 2)) {
			rel += 2;
		} else if (!strncmp(rel, "../", 3)) {
			rel += 3;
			while (n > floor && base[n - 1] != '/' && base[n - 1] != ':')
				n--;
			while (n > floor && base[n - 1] == '/')
				n--;
		} else {
			break;
		}
	}
	dynbuf_init(&d, 8192);
	if (dynbuf_add(&d, base, n) || (n && base[n - 1] != ':' && dynbuf_add_str(&d, "/")) ||
	    dynbuf_add_str(&d, rel)) {
		dynbuf_free(&d);
		return NULL;
	}
	return dynbuf_take(&d);
}

/* A submodule URL Forja follows: the transports a build URL may use, never ext:: or a file. */
static bool url_allowed(const char *url)
{
	return !strncmp(url, "https://", 8) || !strncmp(url, "http://", 7) ||
	       !strncmp(url, "git://", 6) || !strncmp(url, "ssh://", 6) ||
	       (is_ssh_url(url) && url[0] != '-' && !strstr(url, "::"));
}

/* Lines "submodule.NAME.path PATH" / ".url URL" of the .gitmodules at SHA. */
static int read_gitmodules(const struct source_checkout *co, const char *sha, struct dynbuf *out)
{
	char blob[80];
	char *argv[] = {"git",	  "-C", (char *)co->dir, "config",
			"--blob", blob, "--get-regexp",	 "^submodule\\..*\\.(path|url)$",
			NULL};
	char type[16];
	size_t size = 0;
	int rc;

	snprintf(blob, sizeof(blob), "%s:.gitmodules", sha);
	/* most commits have none: asking the batch is cheaper than a git config run that fails */
	if (batch_object(co, blob, 0, NULL, type, &size) || strcmp(type, "blob"))
		return 0;
	rc = run_git(NULL, NULL, argv, NULL, out, NULL);
	return rc < 0 ? rc : 0; /* no .gitmodules (or no entries): no submodules */
}

/* The value of "submodule.NAME.KEY" in LINES, or NULL (malloc'd). */
static char *gitmodules_get(const char *lines, const char *name, size_t nlen, const char *key)
{
	for (const char *p = lines; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		size_t klen = strlen(key);

		if (n > 10 + nlen + klen + 1 && !strncmp(p, "submodule.", 10) &&
		    !strncmp(p + 10, name, nlen) && p[10 + nlen] == '.' &&
		    !strncmp(p + 11 + nlen, key, klen) && p[11 + nlen + klen] == ' ')
			return strndup(p + 12 + nlen + klen, n - 12 - nlen - klen);
		p = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* The gitlink commit at PATH of SHA, or FORJA_ENOTFOUND. */
static int gitlink_sha(const struct source_checkout *co, const char *sha, const char *path,
		       char *out)
{
	char *argv[] = {"git",	     "-C", (char *)co->dir, "ls-tree",
			(char *)sha, "--", (char *)path,    NULL};
	struct dynbuf buf;
	int rc = FORJA_ENOTFOUND;

	dynbuf_init(&buf, 8192);
	if (run_git(NULL, NULL, argv, NULL, &buf, NULL) == 0 &&
	    !strncmp(dynbuf_str(&buf), "160000 commit ", 14) && buf.len >= 54) {
		memcpy(out, buf.buf + 14, 40);
		out[40] = '\0';
		rc = source_is_full_sha(out) ? 0 : FORJA_ENOTFOUND;
	}
	dynbuf_free(&buf);
	return rc;
}

/* PATH relative to DIR, or NULL when it is not inside DIR. */
static const char *inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	while (n && dir[n - 1] == '/')
		n--;
	if (n == 0)
		return path;
	if (strncmp(path, dir, n) || path[n] != '/')
		return NULL;
	return path + n + 1;
}

static int add_submodule(struct source_submodule **subs, size_t *n, const char *rel, char *url,
			 const char *sha)
{
	struct source_submodule *grown = realloc(*subs, (*n + 1) * sizeof(**subs));

	if (!grown) {
		free(url);
		return FORJA_ENOMEM;
	}
	*subs = grown;
	grown[*n].path = strdup(rel);
	grown[*n].url = url;
	snprintf(grown[*n].sha, sizeof(grown[*n].sha), "%s", sha);
	(*n)++;
	return grown[*n - 1].path ? 0 : FORJA_ENOMEM;
}

int source_submodules(const struct source_checkout *co, const char *url, const char *sha,
		      const char *dir, struct source_submodule **out, size_t *n, char *err,
		      size_t errlen)
{
	struct dynbuf lines;
	int rc;

	*out = NULL;
	*n = 0;
	dynbuf_init(&lines, 1024 * 1024);
	rc = read_gitmodules(co, sha, &lines);
	for (const char *p = dynbuf_str(&lines); !rc && *p;) {
		const char *nl = strchr(p, '\n'), *dot = NULL;
		const char *name = p + 10;
		char *path = NULL, *raw = NULL, *abs_url = NULL, gl[41];
		const char *rel;

		/* the key ends at the line's first space; its last '.' starts the variable */
		for (const char *q = p; *q && *q != ' ' && *q != '\n'; q++)
			if (*q == '.')
				dot = q;
		if (strncmp(p, "submodule.", 10) || !dot || dot < name || strncmp(dot, ".path ", 6))
			goto next;
		path = strndup(dot + 6, nl ? (size_t)(nl - dot - 6) : strlen(dot + 6));
		raw = gitmodules_get(dynbuf_str(&lines), name, (size_t)(dot - name), "url");
		rel = path ? inside(path, dir) : NULL;
		if (!rel || !raw || gitlink_sha(co, sha, path, gl))
			goto next;
		abs_url = resolve_url(url, raw);
		if (!abs_url || !url_allowed(abs_url)) {
			snprintf(err, errlen, "submodule '%s' has a URL Forja does not fetch: %s",
				 path, raw);
			rc = FORJA_EINVAL;
			free(abs_url);
		} else if (*n >= SUBMODULES_MAX) {
			snprintf(err, errlen, "more than %d submodules", SUBMODULES_MAX);
			rc = FORJA_ETOOBIG;
			free(abs_url);
		} else {
			rc = add_submodule(out, n, rel, abs_url, gl);
		}
	next:
		free(path);
		free(raw);
		p = nl ? nl + 1 : "";
	}
	dynbuf_free(&lines);
	if (rc) {
		source_submodules_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
