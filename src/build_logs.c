/* Build logs as append-only files: secrets are masked per append (the builder hands over whole
 * lines), each log is capped with one visible marker, and followers sleep on one condition
 * variable that every append and end broadcasts. */
#include "build_logs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deadline.h"
#include "errors.h"
#include "fs.h"
#include "log.h"

/* Ended logs kept in memory so late followers still see "ended"; older ones fall back to the
 * caller's own check of the build's status. */
#define LOGS_KEEP_ENDED 64
#define LOGS_MASK	"****"

struct log_entry {
	int64_t id;
	uint64_t size;
	int fd;	       /* open while the build writes; -1 after end */
	int truncated; /* the cap was reached and the marker written */
	int ended;
	struct log_entry *next;
};

struct build_logs {
	char *dir;
	char **secrets; /* longest first, so a secret containing another is masked whole */
	size_t nsecrets;
	size_t max_bytes;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	struct log_entry *entries;
	void (*notify)(void *ud, int64_t id); /* under mu; called outside it */
	void *notify_ud;
};

static int cmp_len_desc(const void *a, const void *b)
{
	size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);
	return la < lb ? 1 : la > lb ? -1 : 0;
}

static int copy_secrets(struct build_logs *logs, const char *const *secrets)
{
	size_t n = 0;
	for (size_t i = 0; secrets && secrets[i]; i++) {
		if (secrets[i][0] != '\0')
			n++;
	}
	if (n == 0)
		return 0;
	logs->secrets = calloc(n, sizeof(char *));
	if (!logs->secrets)
		return FORJA_ENOMEM;
	for (size_t i = 0; secrets[i]; i++) {
		if (secrets[i][0] == '\0')
			continue;
		logs->secrets[logs->nsecrets] = strdup(secrets[i]);
		if (!logs->secrets[logs->nsecrets])
			return FORJA_ENOMEM;
		logs->nsecrets++;
	}
	qsort(logs->secrets, logs->nsecrets, sizeof(char *), cmp_len_desc);
	return 0;
}

int build_logs_open(const char *data_dir, const char *const *secrets, size_t max_bytes,
		    struct build_logs **out)
{
	*out = NULL;
	struct build_logs *logs = calloc(1, sizeof(*logs));
	if (!logs)
		return FORJA_ENOMEM;
	pthread_mutex_init(&logs->mu, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&logs->cond, &attr);
	pthread_condattr_destroy(&attr);
	logs->max_bytes = max_bytes > 0 ? max_bytes : 5u * 1024 * 1024;
	int rc = FORJA_ENOMEM;
	size_t len = strlen(data_dir) + sizeof("/logs");
	logs->dir = malloc(len);
	if (!logs->dir)
		goto out;
	snprintf(logs->dir, len, "%s/logs", data_dir);
	if (mkdir(logs->dir, 0750) != 0 && errno != EEXIST) {
		log_error("cannot create log directory %s: %s", logs->dir, strerror(errno));
		rc = FORJA_EIO;
		goto out;
	}
	rc = copy_secrets(logs, secrets);
out:
	if (rc != 0) {
		build_logs_close(logs);
		return rc;
	}
	*out = logs;
	return 0;
}

void build_logs_close(struct build_logs *logs)
{
	if (!logs)
		return;
	struct log_entry *e = logs->entries;
	while (e) {
		struct log_entry *next = e->next;
		if (e->fd >= 0)
			close(e->fd);
		free(e);
		e = next;
	}
	for (size_t i = 0; i < logs->nsecrets; i++)
		free(logs->secrets[i]);
	free(logs->secrets);
	free(logs->dir);
	pthread_cond_destroy(&logs->cond);
	pthread_mutex_destroy(&logs->mu);
	free(logs);
}

static void log_path(const struct build_logs *logs, int64_t id, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%" PRId64 ".log", logs->dir, id);
}

static struct log_entry *entry_find(struct build_logs *logs, int64_t id)
{
	for (struct log_entry *e = logs->entries; e; e = e->next) {
		if (e->id == id)
			return e;
	}
	return NULL;
}

/* Drops the oldest ended entries past LOGS_KEEP_ENDED (entries are newest first). */
static void entries_prune(struct build_logs *logs)
{
	size_t ended = 0;
	struct log_entry **link = &logs->entries;
	while (*link) {
		struct log_entry *e = *link;
		if (e->ended && ++ended > LOGS_KEEP_ENDED) {
			*link = e->next;
			free(e);
			continue;
		}
		link = &e->next;
	}
}

/* The writable entry of build ID (caller holds mu): a log continued after a restart keeps its
 * bytes and its place under the cap. */
static int entry_open(struct build_logs *logs, int64_t id, struct log_entry **out)
{
	struct log_entry *e = entry_find(logs, id);
	if (e && e->fd >= 0) {
		*out = e;
		return 0;
	}
	char path[4096];
	log_path(logs, id, path, sizeof(path));
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_error("cannot open build log %s: %s", path, strerror(errno));
		return FORJA_EIO;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0) {
		close(fd);
		return FORJA_EIO;
	}
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			close(fd);
			return FORJA_ENOMEM;
		}
		e->id = id;
		e->next = logs->entries;
		logs->entries = e;
	}
	e->fd = fd;
	e->ended = 0;
	e->size = (uint64_t)sb.st_size;
	e->truncated = e->size >= logs->max_bytes;
	*out = e;
	return 0;
}

/* Length of the secret matching at P (longest first), or 0. */
static size_t secret_at(const struct build_logs *logs, const char *p, size_t left)
{
	for (size_t i = 0; i < logs->nsecrets; i++) {
		size_t sl = strlen(logs->secrets[i]);
		if (sl <= left && memcmp(p, logs->secrets[i], sl) == 0)
			return sl;
	}
	return 0;
}

/* TEXT with every secret replaced by ****, malloc'd into *OUT / *OUTLEN. */
static int mask_secrets(const struct build_logs *logs, const char *text, size_t len, char **out,
			size_t *outlen)
{
	/* A mask is never longer than a secret of 4+ bytes; shorter ones can grow the text. */
	size_t cap = len * 4 + 1;
	char *buf = malloc(cap);
	if (!buf)
		return FORJA_ENOMEM;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t sl = logs->nsecrets > 0 ? secret_at(logs, text + i, len - i) : 0;
		if (sl > 0) {
			memcpy(buf + o, LOGS_MASK, sizeof(LOGS_MASK) - 1);
			o += sizeof(LOGS_MASK) - 1;
			i += sl;
			continue;
		}
		buf[o++] = text[i++];
	}
	*out = buf;
	*outlen = o;
	return 0;
}

/* Writes what fits under the cap (caller holds mu); past it the marker, once. */
static int entry_write(struct build_logs *logs, struct log_entry *e, const char *p, size_t len)
{
	if (e->truncated)
		return 0;
	size_t room = e->size < logs->max_bytes ? (size_t)(logs->max_bytes - e->size) : 0;
	size_t n = len <= room ? len : room;
	int rc = fs_write_all(e->fd, p, n);
	if (rc != 0)
		return rc;
	e->size += n;
	if (n == len)
		return 0;
	char marker[128];
	int m = snprintf(marker, sizeof(marker),
			 "%s[forja: log truncated at %zu bytes; later output is not stored]\n",
			 n > 0 && p[n - 1] == '\n' ? "" : "\n", logs->max_bytes);
	rc = fs_write_all(e->fd, marker, (size_t)m);
	if (rc == 0)
		e->size += (uint64_t)m;
	e->truncated = 1;
	return rc;
}

int build_logs_append(struct build_logs *logs, int64_t id, const char *text, size_t len)
{
	if (len == 0)
		return 0;
	char *masked = NULL;
	size_t mlen = 0;
	int rc = mask_secrets(logs, text, len, &masked, &mlen);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&logs->mu);
	struct log_entry *e = NULL;
	rc = entry_open(logs, id, &e);
	if (rc == 0)
		rc = entry_write(logs, e, masked, mlen);
	pthread_cond_broadcast(&logs->cond);
	void (*notify)(void *, int64_t) = logs->notify;
	void *ud = logs->notify_ud;
	pthread_mutex_unlock(&logs->mu);
	if (notify)
		notify(ud, id);
	free(masked);
	if (rc != 0)
		log_error("cannot write build %" PRId64 " log: %s", id, errors_text(rc));
	return rc;
}

int build_logs_appendf(struct build_logs *logs, int64_t id, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return FORJA_EINVAL;
	size_t len = (size_t)n < sizeof(buf) - 1 ? (size_t)n : sizeof(buf) - 2;
	buf[len++] = '\n';
	return build_logs_append(logs, id, buf, len);
}

void build_logs_end(struct build_logs *logs, int64_t id)
{
	pthread_mutex_lock(&logs->mu);
	struct log_entry *e = entry_find(logs, id);
	if (!e) {
		/* A build that never wrote a line (cancelled while queued) still ends. */
		e = calloc(1, sizeof(*e));
		if (e) {
			e->id = id;
			e->fd = -1;
			struct stat sb;
			char path[4096];
			log_path(logs, id, path, sizeof(path));
			if (stat(path, &sb) == 0)
				e->size = (uint64_t)sb.st_size;
			e->next = logs->entries;
			logs->entries = e;
		}
	}
	if (e) {
		if (e->fd >= 0)
			close(e->fd);
		e->fd = -1;
		e->ended = 1;
	}
	entries_prune(logs);
	pthread_cond_broadcast(&logs->cond);
	void (*notify)(void *, int64_t) = logs->notify;
	void *ud = logs->notify_ud;
	pthread_mutex_unlock(&logs->mu);
	if (notify)
		notify(ud, id);
}

void build_logs_set_notify(struct build_logs *logs, void (*fn)(void *ud, int64_t id), void *ud)
{
	pthread_mutex_lock(&logs->mu);
	logs->notify = fn;
	logs->notify_ud = ud;
	pthread_mutex_unlock(&logs->mu);
}

long build_logs_read(struct build_logs *logs, int64_t id, uint64_t offset, char *buf, size_t len,
		     int *ended)
{
	*ended = 0;
	pthread_mutex_lock(&logs->mu);
	struct log_entry *e = entry_find(logs, id);
	bool known = e;
	uint64_t size = known ? e->size : 0;
	int was_ended = known && e->ended;
	pthread_mutex_unlock(&logs->mu);

	char path[4096];
	log_path(logs, id, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*ended = was_ended;
		return errno == ENOENT ? 0 : FORJA_EIO;
	}
	if (!known) {
		/* Not written by this process: the file is all there is. */
		struct stat sb;
		size = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	}
	long rc = 0;
	if (offset < size) {
		uint64_t want = size - offset < len ? size - offset : len;
		ssize_t r = pread(fd, buf, (size_t)want, (off_t)offset);
		rc = r < 0 ? FORJA_EIO : (long)r;
	}
	close(fd);
	if (rc == 0 && was_ended)
		*ended = 1;
	return rc;
}

void build_logs_wait(struct build_logs *logs, int64_t id, uint64_t offset, int timeout_ms)
{
	struct timespec dl = deadline_timespec_in(timeout_ms);
	pthread_mutex_lock(&logs->mu);
	for (;;) {
		struct log_entry *e = entry_find(logs, id);
		if (e && (e->size > offset || e->ended))
			break;
		if (pthread_cond_timedwait(&logs->cond, &logs->mu, &dl) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&logs->mu);
}

int build_logs_remove(struct build_logs *logs, int64_t id)
{
	char path[4096];
	pthread_mutex_lock(&logs->mu);
	struct log_entry **link = &logs->entries;
	while (*link && (*link)->id != id)
		link = &(*link)->next;
	if (*link) {
		struct log_entry *e = *link;
		if (e->fd >= 0)
			close(e->fd);
		*link = e->next;
		free(e);
	}
	log_path(logs, id, path, sizeof(path));
	int rc = unlink(path) == 0 || errno == ENOENT ? 0 : FORJA_EIO;
	pthread_mutex_unlock(&logs->mu);
	return rc;
}
