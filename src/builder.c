/* The build method: validate one artifact, pin its ref to a commit, fetch that commit, build it
 * through the engine from a streamed tar context, push it, and check the registry holds the
 * pushed digest. */
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

#include "context.h"
#include "deadline.h"
#include "dynbuf.h"
#include "errors.h"
#include "log.h"

#define SERVICE_MAX    255 /* docker's bound on a whole repository name */
#define PATH_MAX_LEN   1024
#define URL_MAX_LEN    2048
#define REF_MAX_LEN    255
#define TYPE_SHOWN_MAX 32

/* ---- validation --------------------------------------------------------------------------- */

static void problem(json_t *errors, const char *field, const char *message)
{
	json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message", message));
}

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component of docker's reference grammar:
 * [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )* */
static bool component_ok(const char *s, size_t n)
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

		if (!component_ok(p, n))
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
static const char *path_problem(const char *path, bool is_file)
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

static const char *url_problem(const char *url)
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
		size_t authority = strcspn(host, "/");

		if (!*host || *host == '/')
			return "has no host";
		/* a URL is stored, logged and labelled: secrets live in Forja's configuration */
		if (url[0] == 'h' && memchr(host, '@', authority))
			return "must not contain credentials (use FORJA_GIT_CREDENTIALS_FILE or "
			       "FORJA_GITHUB_TOKEN)";
		return NULL;
	}
	return "must be a git://, ssh://, http(s)://...git or git@host: URL";
}

static const char *ref_problem(const char *ref)
{
	if (strlen(ref) > REF_MAX_LEN)
		return "must be at most 255 characters";
	if (has_space_or_ctrl(ref) || strchr(ref, ':') || strchr(ref, '#'))
		return "must not contain whitespace, control characters, ':' or '#'";
	if (ref[0] == '-')
		return "must not start with '-'";
	return NULL;
}

static bool is_docker(const char *type)
{
	return !type || !strcasecmp(type, "docker");
}

static bool is_packages(const char *type)
{
	return type && !strcasecmp(type, "packages");
}

bool builder_package_valid(const char *p, size_t n)
{
	size_t i = 0;

	/* a Debian package name: [a-z0-9][a-z0-9+.-]+ */
	if (n < 2 || !is_lower_alnum(p[0]))
		return false;
	for (i = 1; i < n && p[i] != '='; i++)
		if (!is_lower_alnum(p[i]) && p[i] != '+' && p[i] != '.' && p[i] != '-')
			return false;
	if (i < 2)
		return false;
	if (i == n)
		return true;
	/* =version: [A-Za-z0-9.+~:-]+ */
	if (++i == n)
		return false;
	for (; i < n; i++)
		if (!isalnum((unsigned char)p[i]) && !strchr(".+~:-", p[i]))
			return false;
	return true;
}

/* Calls EACH for every space-separated word of LIST; stops at the first nonzero answer. */
static int each_word(const char *list, int (*each)(const char *w, size_t n, void *ud), void *ud)
{
	while (*list) {
		size_t n = strcspn(list, " ");
		int rc = n ? each(list, n, ud) : 0;

		if (rc)
			return rc;
		list += n;
		list += strspn(list, " ");
	}
	return 0;
}

static int word_check(const char *w, size_t n, void *ud)
{
	size_t *count = ud;

	(*count)++;
	return builder_package_valid(w, n) ? 0 : FORJA_EINVAL;
}

static int word_line(const char *w, size_t n, void *ud)
{
	struct dynbuf *d = ud;
	int rc = dynbuf_add(d, w, n);

	return rc ? rc : dynbuf_add(d, "\n", 1);
}

int builder_packages_parse(const char *text, size_t len, struct dynbuf *list, size_t *count,
			   char *why, size_t whylen)
{
	size_t lineno = 0;
	int rc = 0;

	*count = 0;
	for (const char *p = text; !rc && p && p < text + len;) {
		const char *nl = memchr(p, '\n', (size_t)(text + len - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(text + len - p);
		const char *hash = memchr(p, '#', n);
		size_t word = hash ? (size_t)(hash - p) : n;
		const char *w = p;

		lineno++;
		while (word && isspace((unsigned char)w[word - 1]))
			word--;
		while (word && isspace((unsigned char)*w)) {
			w++;
			word--;
		}
		if (word && !builder_package_valid(w, word)) {
			snprintf(why, whylen,
				 "line %zu: \"%.*s\" is not a Debian package name[=version]",
				 lineno, (int)(word > 100 ? 100 : word), w);
			rc = FORJA_EINVAL;
		} else if (word) {
			(*count)++;
			rc = list ? word_line(w, word, list) : 0;
		}
		p += n + 1;
	}
	return rc;
}

/* A packages build's build_args: PACKAGES (space-separated) or PACKAGES_FILE, nothing else. */
static void validate_packages(const struct build_spec *spec, json_t *errors)
{
	json_t *args = spec->build_args;
	const char *list = json_string_value(json_object_get(args, BUILDER_PACKAGES_ARG));
	const char *file = json_string_value(json_object_get(args, BUILDER_PACKAGES_FILE_ARG));
	size_t count = 0;

	if (json_object_size(args) != (size_t)(!!list + !!file) || (list && file) ||
	    (!list && !file)) {
		problem(errors, "packages",
			"is required: a list of packages or a packages_file, and nothing else");
		return;
	}
	if (list && each_word(list, word_check, &count))
		problem(errors, "packages",
			"must be Debian package names ([a-z0-9][a-z0-9+.-]+), each with an "
			"optional =version ([A-Za-z0-9.+~:-]+)");
	else if (list && !count)
		problem(errors, "packages", "lists no packages");
	if (file) {
		const char *why = *file ? path_problem(file, true) : "must name a file";

		if (why)
			problem(errors, "packages_file", why);
	}
	if (spec->dockerfile)
		problem(errors, "dockerfile", "is not used: Forja writes a packages build's own");
}

static void type_message(const char *type, char *buf, size_t len)
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

static void required(json_t *errors, const char *field, const char *value,
		     const char *(*check)(const char *))
{
	const char *why;

	if (!value || !*value) {
		problem(errors, field, "is required");
		return;
	}
	why = check(value);
	if (why)
		problem(errors, field, why);
}

static const char *dockerfile_problem(const char *p)
{
	return path_problem(p, true);
}

static void validate_args(json_t *args, json_t *errors)
{
	const char *k;
	json_t *v;

	if (!args)
		return;
	if (!json_is_object(args)) {
		problem(errors, "build_args", "must be an object of strings");
		return;
	}
	json_object_foreach(args, k, v)
	{
		if (!json_is_string(v) || !*k || strlen(k) > 256 || has_space_or_ctrl(k) ||
		    strchr(k, '=')) {
			problem(errors, "build_args",
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
		problem(errors, "service", "is required");
	else if (!builder_service_valid(spec->service))
		problem(errors, "service",
			"must be lowercase letters and digits, separated by '.', '_', "
			"'__', '-' or '/' components, at most 255 characters");
	if (!spec->version || !*spec->version)
		problem(errors, "version", "is required");
	else if (!builder_version_valid(spec->version))
		problem(errors, "version", "must match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
	if (!is_docker(spec->type) && !is_packages(spec->type)) {
		char msg[256];

		type_message(spec->type, msg, sizeof(msg));
		problem(errors, "type", msg);
		unsupported = true;
	}
	required(errors, "git_url", spec->git_url, url_problem);
	required(errors, "ref", spec->ref, ref_problem);
	if (spec->context && *spec->context) {
		const char *why = path_problem(spec->context, false);

		if (why)
			problem(errors, "context", why);
	}
	if (spec->dockerfile) {
		const char *why = dockerfile_problem(spec->dockerfile);

		if (why)
			problem(errors, "dockerfile", why);
	}
	if (is_packages(spec->type))
		validate_packages(spec, errors);
	else
		validate_args(spec->build_args, errors);
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

/* ---- the build ---------------------------------------------------------------------------- */

static void problems_text(json_t *errors, char *buf, size_t len)
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

#define OCI_LABELS 4

/* The OCI labels of an image built from SPEC at SHA, now (into *NOW): CREATED (32 bytes) holds
 * the time the last one names, and LABELS borrow from it, SPEC and SHA. The source never carries
 * credentials (URLs with userinfo are refused by builder_validate). */
static void oci_labels(const struct build_spec *spec, const char *sha, struct timespec *now,
		       char created[32], struct context_label labels[OCI_LABELS])
{
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, now);
	gmtime_r(&now->tv_sec, &tm);
	strftime(created, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
	labels[0] = (struct context_label){"org.opencontainers.image.revision", sha};
	labels[1] = (struct context_label){"org.opencontainers.image.source",
					   spec->source ? spec->source : spec->git_url};
	labels[2] = (struct context_label){"org.opencontainers.image.version", spec->version};
	labels[3] = (struct context_label){"org.opencontainers.image.created", created};
}

/* The image of SPEC from its repository's context, the OCI labels in the same build request. */
static int build_image(const struct builder_env *env, const struct build_spec *spec,
		       const struct source_checkout *co, const char *sha,
		       const struct task_log *log, const struct task_abort *ab,
		       struct build_result *res)
{
	char created[32], image_id[80], err[sizeof(res->error)] = "";
	struct context *ctx = NULL;
	struct context_stats st = {0};
	int rc, crc;

	struct timespec now;
	struct context_label labels[OCI_LABELS];
	oci_labels(spec, sha, &now, created, labels);
	struct context_params cp = {
	    .source = env->source,
	    .co = co,
	    .url = spec->git_url,
	    .sha = sha,
	    .dir = spec->context,
	    .dockerfile = spec->dockerfile,
	    .labels = labels,
	    .nlabels = OCI_LABELS,
	};

	rc = context_open(&cp, log, ab, &ctx, res->error, sizeof(res->error));
	if (rc)
		return rc;
	struct engine_build_params p = {
	    .context_fd = context_fd(ctx),
	    .tag = res->image,
	    .dockerfile = CONTEXT_DOCKERFILE,
	    .build_args = spec->build_args,
	};
	task_say(log, "building %s from %s at %s%s%s", res->image, spec->git_url, sha,
		 spec->context && *spec->context ? " in " : "", spec->context ? spec->context : "");
	rc = engine_build(env->engine, &p, log, ab, image_id, err, sizeof(err));
	crc = context_finish(ctx, &st, res->error, sizeof(res->error));
	/* a context cut short is the cause of whatever the engine then said */
	if (crc)
		return crc;
	if (rc) {
		snprintf(res->error, sizeof(res->error), "%s", err);
		return rc;
	}
	task_say(log, "sent %llu files, %llu bytes", (unsigned long long)st.files,
		 (unsigned long long)st.bytes);
	task_say(log, "built %s", image_id);
	return 0;
}

/* ---- package mirrors ---------------------------------------------------------------------- */

#define PACKAGES_FILE_MAX     (1024 * 1024)
#define PACKAGES_DEFAULT_BASE "debian:bookworm-slim"
#define APT_ERROR_MAX	      400

/*
 * The mirror's Dockerfile. The first stage resolves the list against an empty dpkg status, so
 * apt downloads the whole dependency closure (nothing counts as installed), and indexes it with
 * apt-ftparchive; the final stage is only a static busybox serving the flat repository.
 * The list is validated (builder_package_valid), so $(cat ...) only splits words. Each build
 * passes its own FORJA_RESOLVED_AT, so the list is resolved against the archive as it is now
 * (security updates) and never comes from the engine's layer cache.
 */
static const char mirror_dockerfile[] =
    "FROM %s AS fetch\n"
    "ENV DEBIAN_FRONTEND=noninteractive\n"
    "RUN apt-get update -q && apt-get install -y -q --no-install-recommends apt-utils "
    "busybox-static && rm -rf /var/cache/apt/archives/*.deb /var/lib/apt/lists/*\n"
    "COPY packages.txt /forja/packages.txt\n"
    "ARG FORJA_RESOLVED_AT\n"
    "RUN set -e; echo \"resolving at $FORJA_RESOLVED_AT\"; apt-get update -q; mkdir -p "
    "/forja/status /srv/repo/pool/partial; "
    ": > /forja/status/empty; "
    "apt-get install --download-only -y -q --no-install-recommends "
    "-o Dir::State::status=/forja/status/empty -o Dir::Cache::archives=/srv/repo/pool "
    "$(cat /forja/packages.txt); "
    "rm -rf /srv/repo/pool/partial /srv/repo/pool/lock; cd /srv/repo; "
    "for f in pool/*.deb; do dpkg-deb -W --showformat='resolved ${Package}=${Version}\\n' "
    "\"$f\"; done; "
    "apt-ftparchive packages pool > Packages; gzip -9kn Packages; "
    "apt-ftparchive release . > Release\n"
    "FROM scratch\n"
    "COPY --from=fetch /bin/busybox /busybox\n"
    "COPY --from=fetch /srv/repo /srv/repo\n"
    "EXPOSE " BUILDER_MIRROR_PORT "\n"
    "ENTRYPOINT [\"/busybox\", \"httpd\", \"-f\", \"-v\", \"-p\", \"" BUILDER_MIRROR_PORT
    "\", \"-h\", \"/srv/repo\"]\n";

/* Passes the engine's log on and keeps apt's first error line, to say why a build failed. */
struct apt_watch {
	const struct task_log *log;
	char error[APT_ERROR_MAX];
};

/* The N bytes at P without the ANSI colour sequences the engine wraps stderr in, into BUF. */
static void strip_colours(const char *p, size_t n, char *buf, size_t len)
{
	size_t j = 0;

	for (size_t i = 0; i < n && j + 1 < len; i++) {
		if (p[i] == '\x1b' && i + 1 < n && p[i + 1] == '[') {
			for (i += 2; i < n && !isalpha((unsigned char)p[i]); i++)
				;
			continue;
		}
		buf[j++] = p[i];
	}
	buf[j] = '\0';
}

static void apt_watch_write(void *ud, const char *text, size_t len)
{
	struct apt_watch *w = ud;
	const char *p = text, *end = text + len;
	char line[APT_ERROR_MAX];

	if (w->log && w->log->write)
		w->log->write(w->log->ud, text, len);
	while (!w->error[0] && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		strip_colours(p, n, line, sizeof(line));
		if (!strncmp(line, "E: ", 3) && line[3])
			snprintf(w->error, sizeof(w->error), "%s", line);
		p += n + 1;
	}
}

/* The list of SPEC, one package a line, into D: from PACKAGES, or from PACKAGES_FILE at SHA. */
static int packages_list(const struct build_spec *spec, const struct source_checkout *co,
			 const char *sha, struct dynbuf *d, char *err, size_t errlen)
{
	const char *list =
	    json_string_value(json_object_get(spec->build_args, BUILDER_PACKAGES_ARG));
	const char *file =
	    json_string_value(json_object_get(spec->build_args, BUILDER_PACKAGES_FILE_ARG));
	char *text = NULL, why[256];
	size_t len = 0, count = 0;
	int rc;

	err[0] = '\0';
	if (list) {
		rc = each_word(list, word_line, d);
		goto out;
	}
	rc = source_read(co, sha, file, PACKAGES_FILE_MAX, &text, &len, NULL);
	if (rc == FORJA_ENOTFOUND || rc == FORJA_ETOOBIG) {
		snprintf(err, errlen, "%s at %.12s: packages_file %s %s", spec->git_url, sha, file,
			 rc == FORJA_ENOTFOUND ? "missing" : "is larger than 1 MiB");
		goto out;
	}
	if (rc) {
		snprintf(err, errlen, "%s at %.12s: cannot read packages_file %s: %s",
			 spec->git_url, sha, file, errors_text(rc));
		goto out;
	}
	rc = builder_packages_parse(text, len, d, &count, why, sizeof(why));
	if (rc == FORJA_EINVAL) {
		snprintf(err, errlen, "%s at %.12s: %s %s", spec->git_url, sha, file, why);
	} else if (!rc && !count) {
		snprintf(err, errlen, "%s at %.12s: packages_file %s lists no packages",
			 spec->git_url, sha, file);
		rc = FORJA_EINVAL;
	}
out:
	/* what was said above stands: a file too large is not a lack of memory */
	if (!err[0] && rc == FORJA_ETOOBIG)
		snprintf(err, errlen, "the package list is longer than a mirror build takes");
	else if (!err[0] && rc)
		snprintf(err, errlen, "out of memory");
	free(text);
	return rc;
}

/* Builds the mirror of SPEC's list from a context Forja writes: its Dockerfile and the list. */
static int build_mirror(const struct builder_env *env, const struct build_spec *spec,
			const struct source_checkout *co, const char *sha,
			const struct task_log *log, const struct task_abort *ab,
			struct build_result *res)
{
	char created[32], image_id[80], err[sizeof(res->error)] = "";
	struct context *ctx = NULL;
	struct dynbuf list, docker;
	char *label = NULL;
	int rc, crc;

	dynbuf_init(&list, PACKAGES_FILE_MAX);
	dynbuf_init(&docker, 64 * 1024);
	struct timespec now;
	struct context_label labels[OCI_LABELS];
	oci_labels(spec, sha, &now, created, labels);
	rc = packages_list(spec, co, sha, &list, res->error, sizeof(res->error));
	if (rc)
		goto out;
	rc = dynbuf_addf(&docker, mirror_dockerfile,
			 env->packages_base && *env->packages_base ? env->packages_base
								   : PACKAGES_DEFAULT_BASE);
	label = rc ? NULL : context_label_line(docker.buf, docker.len, labels, OCI_LABELS);
	rc = label ? dynbuf_add_str(&docker, label) : FORJA_ENOMEM;
	if (rc) {
		snprintf(res->error, sizeof(res->error), "out of memory");
		rc = FORJA_ENOMEM;
		goto out;
	}
	struct context_file files[] = {
	    {CONTEXT_DOCKERFILE, docker.buf, docker.len},
	    {"packages.txt", list.buf, list.len},
	};
	rc = context_open_files(files, 2, ab, &ctx, res->error, sizeof(res->error));
	if (rc)
		goto out;
	struct apt_watch watch = {.log = log};
	struct task_log wlog = {apt_watch_write, &watch};
	char at[48];
	snprintf(at, sizeof(at), "%s.%09ld", created, (long)now.tv_nsec);
	json_t *args = json_pack("{s:s}", "FORJA_RESOLVED_AT", at);
	struct engine_build_params p = {
	    .context_fd = context_fd(ctx),
	    .tag = res->image,
	    .dockerfile = CONTEXT_DOCKERFILE,
	    .build_args = args,
	};
	task_say(
	    log, "building package mirror %s from %s at %s with %s", res->image, spec->git_url, sha,
	    env->packages_base && *env->packages_base ? env->packages_base : PACKAGES_DEFAULT_BASE);
	for (const char *l = list.buf; *l; l += strcspn(l, "\n") + 1)
		task_say(log, "package %.*s", (int)strcspn(l, "\n"), l);
	rc = engine_build(env->engine, &p, &wlog, ab, image_id, err, sizeof(err));
	json_decref(args);
	crc = context_finish(ctx, NULL, res->error, sizeof(res->error));
	if (crc) {
		rc = crc;
		goto out;
	}
	if (rc && watch.error[0])
		snprintf(res->error, sizeof(res->error), "apt: %s (%.1500s)", watch.error, err);
	else if (rc)
		snprintf(res->error, sizeof(res->error), "%s", err);
	else
		task_say(log, "built %s", image_id);
out:
	free(label);
	dynbuf_free(&docker);
	dynbuf_free(&list);
	return rc;
}

/* Pins the ref, fetches the commit into its cache, builds from it. */
static int build_from_source(const struct builder_env *env, const struct build_spec *spec,
			     const struct task_log *log, const struct task_abort *ab,
			     struct build_result *res)
{
	struct source_checkout *co = NULL;
	int rc;

	rc = source_resolve(env->source, spec->git_url, spec->ref, ab, res->commit, res->error,
			    sizeof(res->error));
	if (rc)
		return rc;
	if (strcmp(spec->ref, res->commit))
		task_say(log, "resolved %s to %s", spec->ref, res->commit);
	rc = source_fetch(env->source, spec->git_url, res->commit, log, ab, &co, res->error,
			  sizeof(res->error));
	if (rc)
		return rc;
	if (is_packages(spec->type))
		rc = build_mirror(env, spec, co, res->commit, log, ab, res);
	else
		rc = build_image(env, spec, co, res->commit, log, ab, res);
	source_checkout_release(co);
	return rc;
}

static int push_image(const struct builder_env *env, const struct build_spec *spec,
		      const struct task_log *log, const struct task_abort *ab,
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
	task_say(log, "pushing %s", res->image);
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
static int verify_digest(const struct builder_env *env, const struct build_spec *spec,
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

/* Whether a push (or its check) that failed with RC and ERR failed because the registry is
 * down: it does not answer /v2/ now, or the failure is one of a connection that just came
 * back. Anything the registry answered (a refusal, a bad name) is not tried again. */
static bool registry_down(const struct builder_env *env, int rc, const char *err)
{
	static const char *const dropped[] = {"connection refused", "connection reset",
					      "no route to host", "i/o timeout", "EOF"};
	char perr[256];

	if (rc == FORJA_EAUTH || rc == FORJA_ECANCELLED || rc == FORJA_ETIMEDOUT)
		return false;
	if (strstr(err, "docker engine"))
		return false; /* the engine went away, not the registry */
	if (env->registry) {
		int prc = registry_ping(env->registry, perr, sizeof(perr));

		if (prc == FORJA_EUNAVAILABLE || prc == FORJA_ETIMEDOUT)
			return true;
	}
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++)
		if (strstr(err, dropped[i]))
			return true;
	return false;
}

/* Sleeps MS, waking every 100 ms to see whether AB says stop; 0 or the stop code. */
static int wait_abortable(const struct task_abort *ab, int64_t ms)
{
	int64_t until = deadline_now_ms() + ms;
	int why = 0;

	while (deadline_now_ms() < until) {
		struct timespec slice = {.tv_nsec = 100 * 1000 * 1000};

		if (task_should_stop(ab, &why))
			return why;
		nanosleep(&slice, NULL);
	}
	return task_should_stop(ab, &why) ? why : 0;
}

#define PUSH_BACKOFF_FIRST_MS 1000
#define PUSH_BACKOFF_MAX_MS   30000

/* Push, then check the registry; both again while the registry is down, within the budget. */
static int push_verified(const struct builder_env *env, const struct build_spec *spec,
			 const struct task_log *log, const struct task_abort *ab,
			 struct build_result *res)
{
	int64_t start = deadline_now_ms();
	int64_t give_up = start + (int64_t)env->registry_retry_s * 1000;
	int64_t delay = PUSH_BACKOFF_FIRST_MS;

	for (int attempt = 1;; attempt++) {
		int rc = push_image(env, spec, log, ab, res);

		if (!rc)
			rc = verify_digest(env, spec, res);
		if (!rc || env->registry_retry_s <= 0 || !registry_down(env, rc, res->error))
			return rc;
		if (deadline_now_ms() + delay > give_up) {
			size_t used = strlen(res->error);

			snprintf(res->error + used, sizeof(res->error) - used,
				 " (registry %s not reachable: gave up after %d push attempts in "
				 "%lld s)",
				 env->registry_host, attempt,
				 (long long)((deadline_now_ms() - start + 500) / 1000));
			log_warn("push of %s: registry %s not reachable, gave up after %d attempts",
				 res->image, env->registry_host, attempt);
			return FORJA_EUNAVAILABLE;
		}
		task_say(log, "registry %s not reachable (%s); push attempt %d in %lld s",
			 env->registry_host, res->error, attempt + 1, (long long)(delay / 1000));
		log_warn("push of %s: registry %s not reachable, attempt %d in %lld s", res->image,
			 env->registry_host, attempt + 1, (long long)(delay / 1000));
		rc = wait_abortable(ab, delay);
		if (rc) {
			snprintf(res->error, sizeof(res->error),
				 "%s while waiting for the registry", task_stop_text(rc));
			return rc;
		}
		res->error[0] = '\0';
		res->digest[0] = '\0';
		delay = delay * 2 > PUSH_BACKOFF_MAX_MS ? PUSH_BACKOFF_MAX_MS : delay * 2;
	}
}

int builder_run(const struct builder_env *env, const struct build_spec *spec,
		const struct task_log *log, const struct task_abort *ab, struct build_result *res)
{
	json_t *errors = json_array();
	int rc;

	memset(res, 0, sizeof(*res));
	if (!env || !env->engine || !env->source || !env->registry_host || !*env->registry_host) {
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
		problems_text(errors, res->error, sizeof(res->error));
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
	rc = build_from_source(env, spec, log, ab, res);
	if (!rc)
		rc = push_verified(env, spec, log, ab, res);
	if (!rc)
		task_say(log, "pushed %s@%s", res->image, res->digest);
out:
	if (rc) {
		res->digest[0] = '\0';
		task_say(log, "error: %s", res->error);
	}
	json_decref(errors);
	return rc;
}
