/* Engine pool: a slot count and a health flag per engine, guarded by one mutex; pings run on a
 * thread of their own so a slow engine never holds a worker or the placement lock. */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"
#include "errors.h"
#include "log.h"

/* How long a waiting placement sleeps before it looks at its abort flag again. */
#define POOL_WAIT_TICK_MS 200

struct pool_engine {
	struct engine *engine;
	int slots;
	int in_use;
	int up; /* answered its last ping */
	uint64_t builds;
	uint64_t images_removed; /* tags past FORJA_KEEP_IMAGES and dangling images */
	uint64_t reclaimed;	 /* bytes the dangling-image prunes gave back */
	int64_t pruned_ms;	 /* last prune (monotonic), 0 = never */
	char error[512];
	char api_version[48]; /* negotiated at the last ping, "" when down */
};

struct pool {
	struct pool_engine e[POOL_MAX_ENGINES];
	size_t n;
	pthread_mutex_t mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC: a slot freed, an engine came up, stop */
	pthread_t thread;
	int started;
	int stopping;
	int interval_ms;
	int64_t prune_ms; /* between dangling-image prunes of an engine; 0 = never */
};

/* ---- FORJA_DOCKER_HOSTS -------------------------------------------------------------------- */

static char *trimmed(const char *s, size_t n)
{
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	return strndup(s, n);
}

/* One option "slots=N" or "tls=DIR" of entry E (the Ith). */
static int parse_option(struct pool_entry *e, const char *opt, size_t i, char *err, size_t errlen)
{
	if (!strncmp(opt, "slots=", 6)) {
		char *end = NULL;
		errno = 0;
		long v = strtol(opt + 6, &end, 10);
		if (errno || end == opt + 6 || *end || v < 1 || v > 64) {
			snprintf(err, errlen,
				 "FORJA_DOCKER_HOSTS entry %zu (%s): slots must be 1 to 64", i + 1,
				 e->host);
			return FORJA_EINVAL;
		}
		e->slots = (int)v;
		return 0;
	}
	if (!strncmp(opt, "tls=", 4) && opt[4]) {
		free(e->cert_dir);
		e->cert_dir = strdup(opt + 4);
		return e->cert_dir ? 0 : FORJA_ENOMEM;
	}
	snprintf(err, errlen,
		 "FORJA_DOCKER_HOSTS entry %zu (%s): unknown option \"%s\" (slots=N or tls=DIR)",
		 i + 1, e->host, opt);
	return FORJA_EINVAL;
}

/* Entry I, the text TEXT ("HOST;opt;opt"), into E. */
static int parse_entry(struct pool_entry *e, char *text, size_t i, int slots, const char *certs,
		       char *err, size_t errlen)
{
	char *save = NULL;
	char *host = strtok_r(text, ";", &save);
	e->slots = slots;
	e->host = host ? trimmed(host, strlen(host)) : strdup("");
	if (!e->host)
		return FORJA_ENOMEM;
	int unix_ok = !strncmp(e->host, "unix:///", 8) && e->host[8];
	int tcp_ok = !strncmp(e->host, "tcp://", 6) && e->host[6] && strchr(e->host + 6, ':');
	if (!unix_ok && !tcp_ok) {
		snprintf(
		    err, errlen,
		    "FORJA_DOCKER_HOSTS entry %zu (\"%s\"): not unix:///path or tcp://host:port",
		    i + 1, e->host);
		return FORJA_EINVAL;
	}
	for (char *opt = strtok_r(NULL, ";", &save); opt; opt = strtok_r(NULL, ";", &save)) {
		char *o = trimmed(opt, strlen(opt));
		int rc = o ? parse_option(e, o, i, err, errlen) : FORJA_ENOMEM;
		free(o);
		if (rc)
			return rc;
	}
	if (!e->cert_dir && tcp_ok && certs && *certs)
		e->cert_dir = strdup(certs);
	if (e->cert_dir && unix_ok) {
		snprintf(err, errlen,
			 "FORJA_DOCKER_HOSTS entry %zu (%s): tls= is for tcp:// engines", i + 1,
			 e->host);
		return FORJA_EINVAL;
	}
	return 0;
}

static int duplicate_host(const struct pool_spec *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->n; i++) {
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(s->entries[i].host, s->entries[j].host)) {
				snprintf(err, errlen,
					 "FORJA_DOCKER_HOSTS entry %zu (%s) repeats entry %zu",
					 i + 1, s->entries[i].host, j + 1);
				return FORJA_EINVAL;
			}
		}
	}
	return 0;
}

int pool_spec_parse(const char *list, int slots, const char *default_cert_dir,
		    struct pool_spec *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	char *copy = strdup(list ? list : "");
	if (!copy)
		return FORJA_ENOMEM;
	int rc = 0;
	const char *p = copy;
	/* strtok_r would skip empty entries ("a,,b"): walk the commas by hand to name them */
	for (char *comma = copy;; p = comma + 1) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		if (out->n == POOL_MAX_ENGINES) {
			snprintf(err, errlen, "FORJA_DOCKER_HOSTS: more than %d engines",
				 POOL_MAX_ENGINES);
			rc = FORJA_EINVAL;
			break;
		}
		rc = parse_entry(&out->entries[out->n], (char *)p, out->n, slots, default_cert_dir,
				 err, errlen);
		out->n++;
		if (rc || !comma)
			break;
	}
	if (rc == 0)
		rc = duplicate_host(out, err, errlen);
	free(copy);
	if (rc)
		pool_spec_free(out);
	return rc;
}

void pool_spec_free(struct pool_spec *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->entries[i].host);
		free(s->entries[i].cert_dir);
	}
	memset(s, 0, sizeof(*s));
}

/* ---- the pool ------------------------------------------------------------------------------ */

int pool_new(const struct pool_spec *spec, struct pool **out, char *err, size_t errlen)
{
	*out = NULL;
	if (spec->n == 0) {
		snprintf(err, errlen, "FORJA_DOCKER_HOSTS: no engine");
		return FORJA_EINVAL;
	}
	struct pool *p = calloc(1, sizeof(*p));
	if (!p)
		return FORJA_ENOMEM;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &attr);
	pthread_condattr_destroy(&attr);
	int rc = 0;
	for (size_t i = 0; i < spec->n && rc == 0; i++) {
		const struct pool_entry *en = &spec->entries[i];
		rc = engine_new_tls(en->host, en->cert_dir, &p->e[i].engine);
		if (rc) {
			snprintf(err, errlen, "FORJA_DOCKER_HOSTS entry %zu (%s): %s", i + 1,
				 en->host, errors_text(rc));
			break;
		}
		p->e[i].slots = en->slots;
		snprintf(p->e[i].error, sizeof(p->e[i].error), "not pinged yet");
		p->n = i + 1;
	}
	if (rc) {
		pool_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

/* Pings engine I (without the lock) and records the answer; logs changes of state. */
static void ping_one(struct pool *p, size_t i)
{
	char err[512] = "";
	struct engine *e = p->e[i].engine;
	int up = engine_ping(e, err, sizeof(err)) == 0;
	const char *api = up ? engine_api_version(e) : NULL;
	pthread_mutex_lock(&p->mu);
	struct pool_engine *pe = &p->e[i];
	if (up && !pe->up)
		log_info("engine %s: up, %d slots", engine_host(e), pe->slots);
	else if (!up && (pe->up || strcmp(pe->error, err)))
		log_warn("engine %s: down, takes no builds: %s", engine_host(e), err);
	pe->up = up;
	snprintf(pe->error, sizeof(pe->error), "%s", up ? "" : err);
	snprintf(pe->api_version, sizeof(pe->api_version), "%s", api ? api : "");
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
}

/* Prunes engine I's dangling images when one is due (health thread, without the lock). */
static void prune_one(struct pool *p, size_t i)
{
	int64_t now = deadline_now_ms();
	pthread_mutex_lock(&p->mu);
	struct pool_engine *pe = &p->e[i];
	/* only while none of Forja's builds runs there, and none starts until it is done: the
	 * legacy builder's intermediate images are dangling between two steps of a build */
	int due = p->prune_ms > 0 && pe->up && pe->in_use == 0 &&
		  (pe->pruned_ms == 0 || now - pe->pruned_ms >= p->prune_ms);
	if (due) {
		pe->pruned_ms = now;
		pe->in_use = pe->slots;
	}
	pthread_mutex_unlock(&p->mu);
	if (!due)
		return;
	int removed = 0;
	uint64_t bytes = 0;
	int rc = engine_images_prune(pe->engine, &removed, &bytes);
	pthread_mutex_lock(&p->mu);
	pe->in_use -= pe->slots;
	pe->images_removed += (uint64_t)removed;
	pe->reclaimed += bytes;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	if (rc)
		log_warn("engine %s: pruning dangling images failed: %s", engine_host(pe->engine),
			 errors_text(rc));
	else if (removed > 0)
		log_info("engine %s: pruned %d dangling images, %llu bytes",
			 engine_host(pe->engine), removed, (unsigned long long)bytes);
}

static void *health_main(void *arg)
{
	struct pool *p = arg;
	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		struct timespec dl = deadline_timespec_in(p->interval_ms);
		while (!p->stopping && pthread_cond_timedwait(&p->cond, &p->mu, &dl) != ETIMEDOUT)
			;
		if (p->stopping)
			break;
		pthread_mutex_unlock(&p->mu);
		for (size_t i = 0; i < p->n; i++) {
			ping_one(p, i);
			prune_one(p, i);
		}
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int pool_start(struct pool *p, int interval_ms, int prune_s)
{
	if (p->started)
		return FORJA_ECONFLICT;
	p->interval_ms = interval_ms > 0 ? interval_ms : 5000;
	p->prune_ms = prune_s > 0 ? (int64_t)prune_s * 1000 : 0;
	for (size_t i = 0; i < p->n; i++)
		ping_one(p, i);
	if (pthread_create(&p->thread, NULL, health_main, p))
		return FORJA_ENOMEM;
	p->started = 1;
	return 0;
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->stopping = 1;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->thread, NULL);
	}
	for (size_t i = 0; i < p->n; i++)
		engine_free(p->e[i].engine);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

/* Caller holds mu. Index of the engine to take, or -1 when none can. */
static int pick(const struct pool *p, const char *prefer, const char *avoid)
{
	int best = -1;
	for (size_t i = 0; i < p->n; i++) {
		const struct pool_engine *e = &p->e[i];
		const char *name = engine_host(e->engine);
		/* one engine alone is taken even when down: its build then fails at once saying
		 * why, as it would without a pool, instead of waiting unseen */
		if ((!e->up && p->n > 1) || e->in_use >= e->slots ||
		    (avoid && !strcmp(name, avoid)))
			continue;
		if (prefer && !strcmp(name, prefer))
			return (int)i;
		/* least loaded in proportion to its slots: in_use/slots, compared without division
		 */
		if (best < 0 ||
		    (long)e->in_use * p->e[best].slots < (long)p->e[best].in_use * e->slots)
			best = (int)i;
	}
	return best;
}

int pool_acquire(struct pool *p, const char *prefer, const char *avoid, const struct task_abort *ab,
		 struct pool_lease *out)
{
	int why = 0, i;
	out->engine = NULL;
	out->index = -1;
	pthread_mutex_lock(&p->mu);
	while ((i = pick(p, prefer, avoid)) < 0) {
		if (task_should_stop(ab, &why))
			break;
		struct timespec dl = deadline_timespec_in(POOL_WAIT_TICK_MS);
		pthread_cond_timedwait(&p->cond, &p->mu, &dl);
	}
	if (i >= 0) {
		p->e[i].in_use++;
		out->engine = p->e[i].engine;
		out->index = i;
	}
	pthread_mutex_unlock(&p->mu);
	return i >= 0 ? 0 : why;
}

void pool_release(struct pool *p, struct pool_lease *l, int built)
{
	if (!l->engine)
		return;
	pthread_mutex_lock(&p->mu);
	struct pool_engine *e = &p->e[l->index];
	e->in_use--;
	if (built)
		e->builds++;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->mu);
	l->engine = NULL;
	l->index = -1;
}

int pool_check(struct pool *p, const struct pool_lease *l, char *err, size_t errlen)
{
	char why[512] = "";
	int rc = engine_ping(l->engine, why, sizeof(why));
	if (rc == 0)
		return 0;
	pthread_mutex_lock(&p->mu);
	struct pool_engine *e = &p->e[l->index];
	if (e->up)
		log_warn("engine %s: down, takes no builds: %s", engine_host(e->engine), why);
	e->up = 0;
	snprintf(e->error, sizeof(e->error), "%s", why);
	pthread_mutex_unlock(&p->mu);
	snprintf(err, errlen, "%s", why);
	return rc;
}

size_t pool_states(struct pool *p, struct pool_state *out, size_t max)
{
	pthread_mutex_lock(&p->mu);
	for (size_t i = 0; i < p->n && i < max; i++) {
		const struct pool_engine *e = &p->e[i];
		snprintf(out[i].host, sizeof(out[i].host), "%s", engine_host(e->engine));
		out[i].up = e->up;
		out[i].slots = e->slots;
		out[i].in_use = e->in_use;
		out[i].builds = e->builds;
		out[i].images_removed = e->images_removed;
		out[i].reclaimed = e->reclaimed;
		snprintf(out[i].error, sizeof(out[i].error), "%s", e->error);
		snprintf(out[i].api_version, sizeof(out[i].api_version), "%s", e->api_version);
	}
	size_t n = p->n;
	pthread_mutex_unlock(&p->mu);
	return n;
}

int pool_slots(const struct pool *p)
{
	int n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->e[i].slots;
	return n;
}

size_t pool_size(const struct pool *p)
{
	return p->n;
}

struct engine *pool_engine(struct pool *p, size_t i)
{
	return i < p->n ? p->e[i].engine : NULL;
}

void pool_refresh(struct pool *p)
{
	for (size_t i = 0; i < p->n; i++)
		ping_one(p, i);
}

void pool_note_removed(struct pool *p, const struct pool_lease *l, int images)
{
	pthread_mutex_lock(&p->mu);
	p->e[l->index].images_removed += (uint64_t)images;
	pthread_mutex_unlock(&p->mu);
}
