/* The build method: validate one artifact, pin its ref to a commit, build it through the engine
 * from the remote git context, push it, and check the registry holds the pushed digest. */
#include "builder.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"

extern char **environ;

#define SERVICE_MAX	 255 /* docker's bound on a whole repository name */
#define PATH_MAX_LEN	 1024
#define URL_MAX_LEN	 2048
#define REF_MAX_LEN	 255
#define TYPE_SHOWN_MAX	 32
#define LSREMOTE_MAX	 (1024 * 1024)
#define LSREMOTE_WAIT_MS 60000

/* ---- validation --------------------------------------------------------------------------- */

static void builder__problem(json_t *errors, const char *field, const char *message)
{
	json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message", message));
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component of docker's reference grammar:
 * [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )* */
static bool builder__component_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (!n || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		size_t sep = 0;

		while (i < n && is_lower_alnum(s[i]))
			i++;
		if (i == n)
			break;
		if (s[i] == '.') {
			sep = 1;
		} else if (s[i] == '_') {
			sep = i + 1 < n && s[i + 1] == '_' ? 2 : 1;
		} else if (s[i] == '-') {
			while (i + sep < n && s[i + sep] == '-')
				sep++;
		} else {
			return false;
		}
		i += sep;
		if (i >= n || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

bool builder_service_valid(const char *s)
{
	const char *p = s;

	if (!s || !*s || strlen(s) > SERVICE_MAX)
		return false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (!builder__component_ok(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

bool builder_version_valid(const char *v)
{
	size_t n = v ? strlen(v) : 0;

	if (n < 1 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		bool ok =
		    isalnum((unsigned char)c) || c == '_' || (i > 0 && (c == '.' || c == '-'));

		if (!ok)
			return false;
	}
	return true;
}

static bool has_space_or_ctrl(const char *s)
{
	for (; *s; s++)
		if (isspace((unsigned char)*s) || iscntrl((unsigned char)*s))
			return true;
	return false;
}

/* NULL when PATH is a fine relative path inside the repository, else why not. */
static const char *builder__path_problem(const char *path, bool is_file)
{
	const char *p = path;

	if (strlen(path) > PATH_MAX_LEN)
		return "must be at most 1024 characters";
	if (path[0] == '/')
		return "must be a relative path";
	if (strchr(path, '\\') || strchr(path, '#') || strchr(path, ':') || has_space_or_ctrl(path))
		return "must not contain whitespace, control characters, '\\', '#' or ':'";
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "must not contain '..' segments";
		if (!slash)
			break;
		p = slash + 1;
	}
	if (is_file && (!*path || path[strlen(path) - 1] == '/'))
		return "must name a file";
	return NULL;
}

static const char *builder__url_problem(const char *url)
{
	if (strlen(url) > URL_MAX_LEN)
		return "must be at most 2048 characters";
	if (has_space_or_ctrl(url) || strchr(url, '#'))
		return "must not contain whitespace, control characters or '#'";
	if (!strncmp(url, "git@", 4)) {
		const char *colon = strchr(url + 4, ':');

		return colon && colon > url + 4 && colon[1] ? NULL : "must look like git@host:path";
	}
	if (!strncmp(url, "git://", 6) || !strncmp(url, "ssh://", 6) ||
	    !strncmp(url, "http://", 7) || !strncmp(url, "https://", 8)) {
		const char *host = strstr(url, "://") + 3;
		size_t n = strlen(url);

		if (!*host || *host == '/')
			return "has no host";
		/* without .git the engine downloads the URL as a tarball instead of cloning it */
		if (url[0] == 'h' && (n < 4 || strcmp(url + n - 4, ".git")))
			return "an http(s) clone URL must end in .git";
		return NULL;
	}
	return "must be a git://, ssh://, http(s)://...git or git@host: URL";
}

static const char *builder__ref_problem(const char *ref)
{
	if (strlen(ref) > REF_MAX_LEN)
		return "must be at most 255 characters";
	if (has_space_or_ctrl(ref) || strchr(ref, ':') || strchr(ref, '#'))
		return "must not contain whitespace, control characters, ':' or '#'";
	if (ref[0] == '-')
		return "must not start with '-'";
	return NULL;
}

static bool builder__is_docker(const char *type)
{
	return !type || !strcasecmp(type, "docker");
}

static void builder__type_message(const char *type, char *buf, size_t len)
{
	char shown[TYPE_SHOWN_MAX + 4];
	size_t j = 0;

	for (size_t i = 0; type[i] && j < TYPE_SHOWN_MAX; i++) {
		unsigned char c = (unsigned char)type[i];

		shown[j++] = isprint(c) && c != '\'' ? (char)toupper(c) : '?';
	}
	if (strlen(type) > TYPE_SHOWN_MAX) {
		memcpy(shown + j, "...", 3);
		j += 3;
	}
	shown[j] = '\0';
	snprintf(buf, len, "artifact type '%s' is not supported: Forja builds Docker images",
		 shown);
}

static void builder__required(json_t *errors, const char *field, const char *value,
			      const char *(*check)(const char *))
{
	const char *why;

	if (!value || !*value) {
		builder__problem(errors, field, "is required");
		return;
	}
	why = check(value);
	if (why)
		builder__problem(errors, field, why);
}

static const char *builder__dockerfile_problem(const char *p)
{
	return builder__path_problem(p, true);
}

static void builder__validate_args(json_t *args, json_t *errors)
{
	const char *k;
	json_t *v;

	if (!args)
		return;
	if (!json_is_object(args)) {
		builder__problem(errors, "build_args", "must be an object of strings");
		return;
	}
	json_object_foreach(args, k, v)
	{
		if (!json_is_string(v) || !*k || strlen(k) > 256 || has_space_or_ctrl(k) ||
		    strchr(k, '=')) {
			builder__problem(errors, "build_args",
					 "every key must be a name without '=' or whitespace and "
					 "every value a string");
			return;
		}
	}
}

int builder_validate(const struct build_spec *spec, json_t *errors)
{
	size_t before = json_array_size(errors);
	bool unsupported = false;

	if (!spec->service || !*spec->service)
		builder__problem(errors, "service", "is required");
	else if (!builder_service_valid(spec->service))
		builder__problem(errors, "service",
				 "must be lowercase letters and digits, separated by '.', '_', "
				 "'__', '-' or '/' components, at most 255 characters");
	if (!spec->version || !*spec->version)
		builder__problem(errors, "version", "is required");
	else if (!builder_version_valid(spec->version))
		builder__problem(errors, "version", "must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
	if (!builder__is_docker(spec->type)) {
		char msg[256];

		builder__type_message(spec->type, msg, sizeof(msg));
		builder__problem(errors, "type", msg);
		unsupported = true;
	}
	builder__required(errors, "git_url", spec->git_url, builder__url_problem);
	builder__required(errors, "ref", spec->ref, builder__ref_problem);
	if (spec->context && *spec->context) {
		const char *why = builder__path_problem(spec->context, false);

		if (why)
			builder__problem(errors, "context", why);
	}
	if (spec->dockerfile) {
		const char *why = builder__dockerfile_problem(spec->dockerfile);

		if (why)
			builder__problem(errors, "dockerfile", why);
	}
	builder__validate_args(spec->build_args, errors);
	if (json_array_size(errors) == before)
		return 0;
	if (unsupported && json_array_size(errors) == before + 1)
		return FORJA_EUNSUPPORTED;
	return FORJA_EINVAL;
}

int builder_image_ref(const char *registry, const char *service, const char *version, char *buf,
		      size_t len)
{
	int n = snprintf(buf, len, "%s/%s:%s", registry, service, version);

	return n < 0 || (size_t)n >= len ? FORJA_ETOOBIG : 0;
}

/* ---- resolving a ref to a commit ----------------------------------------------------------- */

bool builder_is_full_sha(const char *ref)
{
	size_t n = 0;

	for (; ref[n]; n++)
		if (!((ref[n] >= '0' && ref[n] <= '9') || (ref[n] >= 'a' && ref[n] <= 'f')))
			return false;
	return n == 40;
}

/* An environment for git that never prompts for credentials on a terminal. */
static char **builder__git_env(void)
{
	size_t n = 0, j = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "GIT_TERMINAL_PROMPT=", 20) &&
		    strncmp(environ[i], "GIT_ASKPASS=", 12))
			env[j++] = environ[i];
	env[j++] = "GIT_TERMINAL_PROMPT=0";
	env[j++] = "GIT_ASKPASS=true";
	return env;
}

struct child_out {
	char *buf;
	size_t len;
	char err[1024];
	size_t elen;
};

static bool builder__should_stop(const struct engine_abort *ab, int64_t deadline, int *why)
{
	if (ab && ab->cancel && atomic_load(ab->cancel)) {
		*why = FORJA_ECANCELLED;
		return true;
	}
	if (engine_monotonic_ms() >= deadline) {
		*why = FORJA_ETIMEDOUT;
		return true;
	}
	return false;
}

/* Reads the child's stdout (bounded) and stderr (first KiB) until both close or it must stop. */
static int builder__drain(int outfd, int errfd, struct child_out *co, const struct engine_abort *ab,
			  int64_t deadline)
{
	struct pollfd fds[2] = {{.fd = outfd, .events = POLLIN}, {.fd = errfd, .events = POLLIN}};
	int open_fds = 2, why = 0;

	while (open_fds > 0) {
		if (builder__should_stop(ab, deadline, &why))
			return why;
		if (poll(fds, 2, 100) < 0 && errno != EINTR)
			return FORJA_EIO;
		for (int i = 0; i < 2; i++) {
			char chunk[4096];
			ssize_t r;

			if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(fds[i].fd, chunk, sizeof(chunk));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				fds[i].fd = -1;
				open_fds--;
				continue;
			}
			if (i == 0) {
				char *p;

				if (co->len + (size_t)r > LSREMOTE_MAX)
					return FORJA_ETOOBIG;
				p = realloc(co->buf, co->len + (size_t)r + 1);
				if (!p)
					return FORJA_ENOMEM;
				co->buf = p;
				memcpy(co->buf + co->len, chunk, (size_t)r);
				co->len += (size_t)r;
				co->buf[co->len] = '\0';
			} else {
				size_t room = sizeof(co->err) - 1 - co->elen;
				size_t n = (size_t)r < room ? (size_t)r : room;

				memcpy(co->err + co->elen, chunk, n);
				co->elen += n;
				co->err[co->elen] = '\0';
			}
		}
	}
	return 0;
}

/* Runs `git ls-remote -- URL REF REF^{}` (argv, no shell) and collects its output. */
static int builder__ls_remote(const char *url, const char *ref, const struct engine_abort *ab,
			      struct child_out *co, char *err, size_t errlen)
{
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, status = 0, rc;
	char peeled[REF_MAX_LEN + 8];
	char *argv[] = {"git", "ls-remote", "--", (char *)url, (char *)ref, peeled, NULL};
	char **env = NULL;
	posix_spawn_file_actions_t fa;
	int64_t deadline = engine_monotonic_ms() + LSREMOTE_WAIT_MS;
	pid_t pid = -1;

	if (ab && ab->deadline_ms > 0 && ab->deadline_ms < deadline)
		deadline = ab->deadline_ms;
	snprintf(peeled, sizeof(peeled), "%s^{}", ref);
	if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC)) {
		rc = FORJA_EIO;
		goto out;
	}
	env = builder__git_env();
	if (!env) {
		rc = FORJA_ENOMEM;
		goto out;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	rc = posix_spawnp(&pid, "git", &fa, NULL, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	if (rc) {
		snprintf(err, errlen, "cannot run git to resolve the ref: %s", strerror(rc));
		pid = -1;
		rc = FORJA_EIO;
		goto out;
	}
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	rc = builder__drain(outp[0], errp[0], co, ab, deadline);
	if (rc) {
		kill(pid, SIGKILL); /* our own child, by its pid */
		if (rc == FORJA_ECANCELLED)
			snprintf(err, errlen, "cancelled");
		else if (rc == FORJA_ETIMEDOUT)
			snprintf(err, errlen, "timed out resolving ref '%s' at %s", ref, url);
		else
			snprintf(err, errlen, "reading git ls-remote output failed: %s",
				 forja_strerror(rc));
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!rc && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		size_t n = co->elen;

		while (n && (co->err[n - 1] == '\n' || co->err[n - 1] == '\r'))
			co->err[--n] = '\0';
		snprintf(err, errlen, "cannot list refs of %s: %s", url,
			 co->err[0] ? co->err : "git ls-remote failed");
		rc = FORJA_EUPSTREAM;
	}
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	free(env);
	return rc;
}

/* Picks the commit for REF from ls-remote output: the exact ref name, then the branch, then
 * the peeled tag (an annotated tag's own id is not a commit), then the tag. */
static bool builder__pick(const char *out, const char *ref, char *sha)
{
	char want[4][REF_MAX_LEN + 32];
	int best = 4;

	snprintf(want[0], sizeof(want[0]), "%s", ref);
	snprintf(want[1], sizeof(want[1]), "refs/heads/%s", ref);
	snprintf(want[2], sizeof(want[2]), "refs/tags/%s^{}", ref);
	snprintf(want[3], sizeof(want[3]), "refs/tags/%s", ref);
	for (const char *line = out; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (n > 41 && line[40] == '\t') {
			for (int k = 0; k < best; k++) {
				size_t wl = strlen(want[k]);

				if (n - 41 == wl && !memcmp(line + 41, want[k], wl)) {
					memcpy(sha, line, 40);
					sha[40] = '\0';
					best = k;
					break;
				}
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	return best < 4 && builder_is_full_sha(sha);
}

int builder_resolve_ref(const char *url, const char *ref, const struct engine_abort *ab, char *sha,
			char *err, size_t errlen)
{
	struct child_out co = {0};
	int rc;

	sha[0] = '\0';
	if (builder_is_full_sha(ref)) {
		snprintf(sha, 41, "%s", ref);
		return 0;
	}
	rc = builder__ls_remote(url, ref, ab, &co, err, errlen);
	if (!rc && !builder__pick(co.buf ? co.buf : "", ref, sha)) {
		snprintf(err, errlen,
			 "ref '%s' not found at %s (give a branch, a tag or a full 40-hex commit "
			 "sha)",
			 ref, url);
		rc = FORJA_ENOTFOUND;
	}
	free(co.buf);
	return rc;
}

/* ---- the build ---------------------------------------------------------------------------- */

static void builder__say(const struct engine_log *log, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void builder__say(const struct engine_log *log, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (!log || !log->write)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	log->write(log->ud, line, (size_t)n);
}

static void builder__errors_text(json_t *errors, char *buf, size_t len)
{
	size_t i, used = 0;
	json_t *e;

	buf[0] = '\0';
	json_array_foreach(errors, i, e)
	{
		int n = snprintf(buf + used, len - used, "%s%s %s", i ? "; " : "",
				 json_string_value(json_object_get(e, "field")),
				 json_string_value(json_object_get(e, "message")));

		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

static json_t *builder__labels(const struct build_spec *spec, const char *sha)
{
	char created[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_pack("{s:s, s:s, s:s, s:s}", "org.opencontainers.image.revision", sha,
			 "org.opencontainers.image.source",
			 spec->source ? spec->source : spec->git_url,
			 "org.opencontainers.image.version", spec->version,
			 "org.opencontainers.image.created", created);
}

static int builder__build(const struct builder_env *env, const struct build_spec *spec,
			  const char *sha, const struct engine_log *log,
			  const struct engine_abort *ab, struct build_result *res)
{
	const char *ctx = spec->context && *spec->context ? spec->context : "";
	size_t n = strlen(spec->git_url) + strlen(ctx) + 48;
	char *remote = malloc(n);
	char image_id[80], err[sizeof(res->error)];
	json_t *labels = builder__labels(spec, sha);
	struct engine_build_params p = {
	    .remote = remote,
	    .tag = res->image,
	    .dockerfile = spec->dockerfile,
	    .build_args = spec->build_args,
	    .labels = labels,
	};
	int rc;

	if (!remote || !labels) {
		rc = FORJA_ENOMEM;
		snprintf(res->error, sizeof(res->error), "out of memory");
		goto out;
	}
	/* always an explicit ref: without one the engine fetches "master" */
	snprintf(remote, n, "%s#%s%s%s", spec->git_url, sha, *ctx ? ":" : "", ctx);
	builder__say(log, "building %s from %s at %s%s%s", res->image, spec->git_url, sha,
		     *ctx ? " in " : "", ctx);
	rc = engine_build(env->engine, &p, log, ab, image_id, err, sizeof(err));
	if (rc) {
		snprintf(res->error, sizeof(res->error), "%s", err);
		goto out;
	}
	builder__say(log, "built %s", image_id);
out:
	json_decref(labels);
	free(remote);
	return rc;
}

static int builder__push(const struct builder_env *env, const struct build_spec *spec,
			 const struct engine_log *log, const struct engine_abort *ab,
			 struct build_result *res)
{
	char repo[512], digest[80], err[sizeof(res->error)];
	char *auth = engine_registry_auth(env->registry_username, env->registry_password,
					  env->registry_host);
	int rc;

	if (!auth) {
		snprintf(res->error, sizeof(res->error), "out of memory");
		return FORJA_ENOMEM;
	}
	snprintf(repo, sizeof(repo), "%s/%s", env->registry_host, spec->service);
	builder__say(log, "pushing %s", res->image);
	rc = engine_push(env->engine, repo, spec->version, auth, log, ab, digest, err, sizeof(err));
	memset(auth, 0, strlen(auth));
	free(auth);
	if (rc) {
		snprintf(res->error, sizeof(res->error), "%s", err);
		return rc;
	}
	snprintf(res->digest, sizeof(res->digest), "%s", digest);
	return 0;
}

/* The engine's word is not enough: the registry must serve the tag at the pushed digest. */
static int builder__verify(const struct builder_env *env, const struct build_spec *spec,
			   struct build_result *res)
{
	char digest[80], err[512];
	int rc;

	if (!env->registry)
		return 0;
	rc = registry_manifest_digest(env->registry, spec->service, spec->version, digest, err,
				      sizeof(err));
	if (rc) {
		snprintf(res->error, sizeof(res->error),
			 "pushed, but checking the registry failed: %s", err);
		return rc;
	}
	if (strcmp(digest, res->digest)) {
		snprintf(res->error, sizeof(res->error),
			 "registry has %s for %s, but the engine pushed %s", digest, res->image,
			 res->digest);
		return FORJA_EUPSTREAM;
	}
	return 0;
}

int builder_run(const struct builder_env *env, const struct build_spec *spec,
		const struct engine_log *log, const struct engine_abort *ab,
		struct build_result *res)
{
	json_t *errors = json_array();
	int rc;

	memset(res, 0, sizeof(*res));
	if (!env || !env->engine || !env->registry_host || !*env->registry_host) {
		json_decref(errors);
		snprintf(res->error, sizeof(res->error), "no docker engine or registry configured");
		return FORJA_EINVAL;
	}
	if (!errors) {
		snprintf(res->error, sizeof(res->error), "out of memory");
		return FORJA_ENOMEM;
	}
	rc = builder_validate(spec, errors);
	if (rc == FORJA_EUNSUPPORTED) {
		/* the one problem is the type: its message stands alone */
		snprintf(res->error, sizeof(res->error), "%s",
			 json_string_value(json_object_get(json_array_get(errors, 0), "message")));
		goto out;
	}
	if (rc) {
		builder__errors_text(errors, res->error, sizeof(res->error));
		goto out;
	}
	rc = builder_image_ref(env->registry_host, spec->service, spec->version, res->image,
			       sizeof(res->image));
	if (rc || strlen(res->image) - strlen(spec->version) - 1 > SERVICE_MAX) {
		snprintf(res->error, sizeof(res->error),
			 "image name %s/%s is longer than 255 characters", env->registry_host,
			 spec->service);
		rc = FORJA_EINVAL;
		goto out;
	}
	rc = builder_resolve_ref(spec->git_url, spec->ref, ab, res->commit, res->error,
				 sizeof(res->error));
	if (rc)
		goto out;
	if (strcmp(spec->ref, res->commit))
		builder__say(log, "resolved %s to %s", spec->ref, res->commit);
	rc = builder__build(env, spec, res->commit, log, ab, res);
	if (!rc)
		rc = builder__push(env, spec, log, ab, res);
	if (!rc)
		rc = builder__verify(env, spec, res);
	if (!rc)
		builder__say(log, "pushed %s@%s", res->image, res->digest);
out:
	if (rc) {
		res->digest[0] = '\0';
		builder__say(log, "error: %s", res->error);
	}
	json_decref(errors);
	return rc;
}
