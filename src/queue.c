/* The build queue: pending builds in arrival order, a fixed pool of workers, and per-service
 * exclusion (a worker takes the oldest pending build whose service is not already running).
 * The store is the source of truth; this module only holds ids and the running builds' abort
 * flags, so a crash loses nothing that store_builds_recover() cannot rebuild. */
#include "queue.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "deadline.h"
#include "errors.h"
#include "log.h"
#include "pool.h"
#include "registry.h"

#define QUEUE_MAX_OBSERVERS 8
#define QUEUE_MAX_WORKERS   64
/* How long a cancel waits for a running build to stop before answering anyway. */
#define QUEUE_CANCEL_WAIT_MS 10000

struct pending {
	int64_t id;
	char *service;
	struct pending *next;
};

struct worker {
	struct queue *q;
	pthread_t thread;
	int64_t id; /* running build, 0 = idle; guarded by q->mu */
	char *service;
	atomic_int cancel; /* the build's task_abort flag: every step of the build polls it */
	int user_cancel;   /* guarded by q->mu: the cancel came from a user, not a stop */
};

struct queue {
	struct queue_opts opts;
	struct queue_observer observers[QUEUE_MAX_OBSERVERS];
	int nobservers;
	pthread_mutex_t mu;
	/* one push at a time: the duplicate check, the "queued" notification and the insert
	 * must not interleave with another push of the same build */
	pthread_mutex_t push_mu;
	pthread_cond_t cond; /* CLOCK_MONOTONIC; work arrived, a worker became idle, stop */
	struct pending *head, *tail;
	int npending;
	struct worker *workers;
	int started;
	int stopping;
	int draining; /* no new builds start; running ones go on */
};

int queue_new(const struct queue_opts *opts, struct queue **out)
{
	*out = NULL;
	if (!opts->store || !opts->logs || opts->workers < 1 || opts->workers > QUEUE_MAX_WORKERS ||
	    opts->timeout_s < 1 || opts->max_attempts < 1)
		return FORJA_EINVAL;
	struct queue *q = calloc(1, sizeof(*q));
	if (!q)
		return FORJA_ENOMEM;
	q->workers = calloc((size_t)opts->workers, sizeof(struct worker));
	if (!q->workers) {
		free(q);
		return FORJA_ENOMEM;
	}
	q->opts = *opts;
	pthread_mutex_init(&q->mu, NULL);
	pthread_mutex_init(&q->push_mu, NULL);
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &attr);
	pthread_condattr_destroy(&attr);
	for (int i = 0; i < opts->workers; i++) {
		q->workers[i].q = q;
		atomic_init(&q->workers[i].cancel, 0);
	}
	*out = q;
	return 0;
}

int queue_observe(struct queue *q, const struct queue_observer *obs)
{
	if (!obs || !obs->on_change)
		return FORJA_EINVAL;
	if (q->nobservers >= QUEUE_MAX_OBSERVERS || q->started)
		return FORJA_ECONFLICT;
	q->observers[q->nobservers++] = *obs;
	return 0;
}

static void notify(struct queue *q, const struct build *b)
{
	for (int i = 0; i < q->nobservers; i++)
		q->observers[i].on_change(q->observers[i].ud, b);
}

/* Reads build ID back from the store and tells the observers. */
static void notify_id(struct queue *q, int64_t id)
{
	struct build *b = NULL;
	if (store_build_get(q->opts.store, id, &b) != 0) {
		log_error("cannot read build %" PRId64 " back for observers", id);
		return;
	}
	notify(q, b);
	build_free(b);
}

/* Caller holds mu. */
static int service_running(const struct queue *q, const char *service)
{
	for (int i = 0; i < q->opts.workers; i++) {
		const struct worker *w = &q->workers[i];
		if (w->id != 0 && strcmp(w->service, service) == 0)
			return 1;
	}
	return 0;
}

/* Removes P, whose predecessor is PREV (NULL at the head), from the pending list. */
static struct pending *unlink_pending(struct queue *q, struct pending *prev, struct pending *p)
{
	if (prev)
		prev->next = p->next;
	else
		q->head = p->next;
	if (q->tail == p)
		q->tail = prev;
	q->npending--;
	p->next = NULL;
	return p;
}

/* Unlinks and returns the oldest pending build whose service is idle (caller holds mu). */
static struct pending *take_eligible(struct queue *q)
{
	struct pending *prev = NULL;
	for (struct pending *p = q->head; p; prev = p, p = p->next) {
		if (!service_running(q, p->service))
			return unlink_pending(q, prev, p);
	}
	return NULL;
}

/* Unlinks pending build ID (caller holds mu); NULL when it is not pending. */
static struct pending *take_id(struct queue *q, int64_t id)
{
	struct pending *prev = NULL;
	for (struct pending *p = q->head; p; prev = p, p = p->next) {
		if (p->id == id)
			return unlink_pending(q, prev, p);
	}
	return NULL;
}

static int is_pending(const struct queue *q, int64_t id)
{
	for (const struct pending *p = q->head; p; p = p->next) {
		if (p->id == id)
			return 1;
	}
	return 0;
}

static struct worker *running_worker(struct queue *q, int64_t id)
{
	for (int i = 0; i < q->opts.workers; i++) {
		if (q->workers[i].id == id)
			return &q->workers[i];
	}
	return NULL;
}

struct log_sink {
	struct build_logs *logs;
	int64_t id;
};

static void log_write(void *ud, const char *text, size_t len)
{
	struct log_sink *s = ud;
	build_logs_append(s->logs, s->id, text, len);
}

/* Final state and error text of a run that returned RC. */
static enum build_status outcome(struct queue *q, struct worker *w, int rc, int64_t deadline,
				 const struct build_result *res, char *err, size_t errlen)
{
	err[0] = '\0';
	if (rc == 0)
		return BUILD_SUCCEEDED;
	pthread_mutex_lock(&q->mu);
	int user_cancel = w->user_cancel;
	pthread_mutex_unlock(&q->mu);
	if (user_cancel) {
		snprintf(err, errlen, "cancelled on request");
		return BUILD_CANCELLED;
	}
	if (rc == FORJA_ETIMEDOUT && deadline_now_ms() >= deadline) {
		snprintf(err, errlen, "timed out after %d s", q->opts.timeout_s);
		return BUILD_FAILED;
	}
	snprintf(err, errlen, "%s", res->error[0] != '\0' ? res->error : errors_text(rc));
	return BUILD_FAILED;
}

static void finish_build(struct queue *q, int64_t id, enum build_status st, const char *digest,
			 const char *err)
{
	if (st == BUILD_SUCCEEDED)
		build_logs_appendf(q->opts.logs, id, "forja: build succeeded: %s", digest);
	else
		build_logs_appendf(q->opts.logs, id, "forja: build %s: %s", build_status_name(st),
				   err);
	/*
	 * Every line is written before the status turns final (a follower that sees the final
	 * status reads to the end), and the status is final before the log ends (a client whose
	 * follow stream ended reads the final status).
	 */
	int rc = store_build_finish(q->opts.store, id, st, digest,
				    st == BUILD_SUCCEEDED ? NULL : err, build_now_ms());
	build_logs_end(q->opts.logs, id);
	if (rc != 0) {
		log_error("cannot record the end of build %" PRId64 ": %s", id, errors_text(rc));
		return;
	}
	notify_id(q, id);
}

/* The stop flag, read under mu (set by queue_stop on another thread). */
static int stopping(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	int s = q->stopping;
	pthread_mutex_unlock(&q->mu);
	return s;
}

/* Runs SPEC on ENGINE: the queue's builder environment with that engine. */
static int run_on(struct queue *q, struct engine *engine, const struct build_spec *spec,
		  const struct task_log *lg, const struct task_abort *ab, struct build_result *res)
{
	struct builder_env env = *q->opts.env;
	if (engine)
		env.engine = engine;
	memset(res, 0, sizeof(*res));
	return builder_run(&env, spec, lg, ab, res);
}

/*
 * Places build B on the pool: the engine of its service's last build while that one is
 * healthy, else the least loaded. When the engine stops answering during the build, the build
 * starts another attempt on another engine (never on the lost one), while attempts remain.
 */
static int run_on_pool(struct queue *q, const struct build *b, const struct build_spec *spec,
		       const struct task_log *lg, const struct task_abort *ab,
		       struct build_result *res)
{
	char prefer[256], lost[256] = "", why[512];
	if (store_service_engine(q->opts.store, b->service, prefer, sizeof(prefer)) != 0)
		prefer[0] = '\0';
	int attempts = b->attempts;
	for (;;) {
		struct pool_lease l;
		int rc = pool_acquire(q->opts.pool, prefer[0] ? prefer : NULL,
				      lost[0] ? lost : NULL, ab, &l);
		if (rc != 0)
			return rc;
		const char *name = engine_host(l.engine);
		store_build_set_engine(q->opts.store, b->id, name);
		build_logs_appendf(q->opts.logs, b->id, "forja: on engine %s", name);
		rc = run_on(q, l.engine, spec, lg, ab, res);
		int gone = rc != 0 && rc != FORJA_ECANCELLED && rc != FORJA_ETIMEDOUT &&
			   pool_size(q->opts.pool) > 1 &&
			   pool_check(q->opts.pool, &l, why, sizeof(why)) != 0;
		snprintf(lost, sizeof(lost), "%s", name);
		pool_release(q->opts.pool, &l, !gone);
		if (!gone || attempts >= q->opts.max_attempts ||
		    store_build_next_attempt(q->opts.store, b->id, &attempts) != 0)
			return rc;
		prefer[0] = '\0';
		build_logs_appendf(
		    q->opts.logs, b->id,
		    "forja: engine %s lost during the build (%s); attempt %d of %d on "
		    "another engine",
		    lost, why, attempts, q->opts.max_attempts);
	}
}

/*
 * FORJA_IMMUTABLE_TAGS: 0 when B may push its tag, or FORJA_ECONFLICT with ERR naming the
 * digest the registry already serves for it. The same commit built again may (its image is
 * the same source); a tag no build in the history made, or made from another commit, may not.
 */
static int check_immutable(struct queue *q, const struct build *b, char *err, size_t errlen)
{
	struct registry *reg = q->opts.env ? q->opts.env->registry : NULL;
	char digest[128] = "", why[256] = "";
	if (!q->opts.immutable_tags || !reg)
		return 0;
	int rc = registry_manifest_digest(reg, b->service, b->version, digest, why, sizeof(why));
	if (rc == FORJA_ENOTFOUND)
		return 0;
	if (rc != 0) {
		/* unknown is not "absent": refusing to build beats overwriting a release */
		snprintf(err, errlen, "cannot check whether %s:%s exists in the registry: %s",
			 b->service, b->version, why);
		return rc;
	}
	struct build *other = NULL;
	int64_t oid = store_build_for_image(q->opts.store, b->service, b->version, digest);
	if (oid > 0 && store_build_get(q->opts.store, oid, &other) != 0)
		other = NULL;
	int same = other && other->commit && b->commit && !strcmp(other->commit, b->commit);
	if (!same && other && other->commit)
		snprintf(err, errlen,
			 "%s:%s already exists in the registry as %s (build %" PRId64
			 " of commit %.12s); FORJA_IMMUTABLE_TAGS keeps it: use a new version",
			 b->service, b->version, digest, other->id, other->commit);
	else if (!same)
		snprintf(err, errlen,
			 "%s:%s already exists in the registry as %s; FORJA_IMMUTABLE_TAGS keeps "
			 "it: use a new version",
			 b->service, b->version, digest);
	build_free(other);
	return same ? 0 : FORJA_ECONFLICT;
}

static void run_build(struct queue *q, struct worker *w, const struct build *b)
{
	json_t *args = NULL;
	if (b->build_args)
		args = json_loads(b->build_args, 0, NULL);
	struct build_spec spec = {
	    .service = b->service,
	    .version = b->version,
	    .type = b->type,
	    .git_url = b->clone_url ? b->clone_url : b->repository,
	    .ref = b->commit ? b->commit : b->ref,
	    .context = b->context,
	    .dockerfile = b->dockerfile,
	    .build_args = args,
	    .source = b->repository,
	};
	struct log_sink sink = {q->opts.logs, b->id};
	struct task_log lg = {log_write, &sink};
	int64_t deadline = deadline_now_ms() + (int64_t)q->opts.timeout_s * 1000;
	struct task_abort ab = {&w->cancel, deadline};
	struct build_result res;
	memset(&res, 0, sizeof(res));
	int rc = FORJA_ECANCELLED;
	/* a refusal of FORJA_IMMUTABLE_TAGS comes before any build: RES.error says why */
	if (atomic_load(&w->cancel) == 0)
		rc = q->opts.env ? check_immutable(q, b, res.error, sizeof(res.error))
				 : FORJA_EINVAL;
	if (rc == 0)
		rc = q->opts.pool ? run_on_pool(q, b, &spec, &lg, &ab, &res)
				  : run_on(q, NULL, &spec, &lg, &ab, &res);
	json_decref(args);
	if (res.commit[0] != '\0' && !b->commit)
		store_build_set_commit(q->opts.store, b->id, res.commit);

	char err[sizeof(res.error) + 64];
	enum build_status st = outcome(q, w, rc, deadline, &res, err, sizeof(err));
	if (st != BUILD_SUCCEEDED && st != BUILD_CANCELLED && stopping(q)) {
		/* Aborted by the stop: queued again, it runs at the next start. Should this write
		 * fail, recovery at the next start still finds it running and queues it. */
		build_logs_appendf(q->opts.logs, b->id,
				   "forja: server stopping; the build is queued again and runs at "
				   "the next start");
		int qrc = store_build_requeue(q->opts.store, b->id);
		if (qrc != 0)
			log_warn("cannot queue build %" PRId64 " again: %s", b->id,
				 errors_text(qrc));
		return;
	}
	finish_build(q, b->id, st, res.digest[0] != '\0' ? res.digest : NULL, err);
}

static void work_one(struct queue *q, struct worker *w, int64_t id)
{
	int attempts = 0;
	int rc = store_build_start(q->opts.store, id, build_now_ms(), &attempts);
	if (rc == FORJA_ECONFLICT || rc == FORJA_ENOTFOUND)
		return; /* cancelled (or gone) while it waited */
	if (rc == FORJA_ENOSPC) {
		/* it could not keep its log or its result: fail it now, saying why */
		finish_build(q, id, BUILD_FAILED, NULL,
			     "no space left on the data directory: the build did not start; free "
			     "space and queue it again");
		return;
	}
	if (rc != 0) {
		log_error("cannot start build %" PRId64 ": %s", id, errors_text(rc));
		return;
	}
	struct build *b = NULL;
	rc = store_build_get(q->opts.store, id, &b);
	if (rc != 0) {
		log_error("cannot read build %" PRId64 ": %s", id, errors_text(rc));
		return;
	}
	notify(q, b);
	build_logs_appendf(q->opts.logs, id,
			   "forja: build %" PRId64 " of %s:%s started (attempt %d)", id, b->service,
			   b->version, attempts);
	run_build(q, w, b);
	build_free(b);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct queue *q = w->q;
	pthread_mutex_lock(&q->mu);
	while (!q->stopping && !q->draining) {
		struct pending *p = take_eligible(q);
		if (!p) {
			pthread_cond_wait(&q->cond, &q->mu);
			continue;
		}
		w->id = p->id;
		w->service = p->service; /* ownership moves to the worker */
		w->user_cancel = 0;
		atomic_store(&w->cancel, 0);
		free(p);
		pthread_mutex_unlock(&q->mu);

		work_one(q, w, w->id);

		pthread_mutex_lock(&q->mu);
		w->id = 0;
		free(w->service);
		w->service = NULL;
		/* Another build of this service may now run; cancels may be waiting. */
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* Adds B (queued in the store) behind every pending build; observers hear "queued" first. */
static int push_build(struct queue *q, const struct build *b)
{
	struct pending *p = calloc(1, sizeof(*p));
	if (!p)
		return FORJA_ENOMEM;
	p->id = b->id;
	p->service = strdup(b->service);
	if (!p->service) {
		free(p);
		return FORJA_ENOMEM;
	}
	pthread_mutex_lock(&q->push_mu);
	pthread_mutex_lock(&q->mu);
	int dup = is_pending(q, b->id) || running_worker(q, b->id);
	pthread_mutex_unlock(&q->mu);
	if (dup) {
		pthread_mutex_unlock(&q->push_mu);
		free(p->service);
		free(p);
		return 0;
	}
	/* before a worker can see it, so observers hear "queued" before "running" */
	notify(q, b);
	pthread_mutex_lock(&q->mu);
	if (q->tail)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
	q->npending++;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
	pthread_mutex_unlock(&q->push_mu);
	return 0;
}

int queue_push(struct queue *q, int64_t id)
{
	struct build *b = NULL;
	int rc = store_build_get(q->opts.store, id, &b);
	if (rc != 0)
		return rc;
	rc = b->status == BUILD_QUEUED ? push_build(q, b) : FORJA_ECONFLICT;
	build_free(b);
	return rc;
}

/* Ids of the builds a crash left running (*OUT: free()), newest first. */
static int left_running(struct queue *q, int64_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct build_filter f = {.has_status = 1, .status = BUILD_RUNNING, .limit = 100};
	for (;;) {
		struct build **page = NULL;
		size_t got = 0;
		int rc = store_build_list(q->opts.store, &f, &page, &got);
		if (rc != 0)
			return rc;
		if (got > 0) {
			int64_t *tmp = realloc(*out, (*n + got) * sizeof(int64_t));
			if (!tmp) {
				build_array_free(page, got);
				return FORJA_ENOMEM;
			}
			*out = tmp;
		}
		for (size_t i = 0; i < got; i++)
			(*out)[(*n)++] = page[i]->id;
		if (got > 0)
			f.before = page[got - 1]->id;
		build_array_free(page, got);
		if (got < (size_t)f.limit)
			return 0;
	}
}

/* Observers hear about builds the recovery failed for using up their attempts. */
static void notify_given_up(struct queue *q, const int64_t *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct build *b = NULL;
		if (store_build_get(q->opts.store, ids[i], &b) != 0)
			continue;
		if (build_status_is_final(b->status)) {
			log_warn("build %" PRId64 " failed: %s", b->id, b->error ? b->error : "");
			build_logs_appendf(q->opts.logs, b->id, "forja: build failed: %s",
					   b->error ? b->error : "");
			build_logs_end(q->opts.logs, b->id);
			notify(q, b);
		}
		build_free(b);
	}
}

int queue_start(struct queue *q)
{
	if (q->started)
		return FORJA_ECONFLICT;
	int64_t *was_running = NULL;
	size_t nrunning = 0;
	int rc = left_running(q, &was_running, &nrunning);
	int64_t *ids = NULL;
	size_t n = 0;
	if (rc == 0)
		rc = store_builds_recover(q->opts.store, q->opts.max_attempts, &ids, &n);
	if (rc == 0)
		notify_given_up(q, was_running, nrunning);
	free(was_running);
	if (rc != 0)
		return rc;
	if (n > 0)
		log_info("recovering %zu queued builds", n);
	for (size_t i = 0; i < n; i++) {
		rc = queue_push(q, ids[i]);
		if (rc != 0 && rc != FORJA_ECONFLICT)
			log_error("cannot queue build %" PRId64 " again: %s", ids[i],
				  errors_text(rc));
	}
	free(ids);
	pthread_mutex_lock(&q->mu);
	q->stopping = 0;
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < q->opts.workers; i++) {
		if (pthread_create(&q->workers[i].thread, NULL, worker_main, &q->workers[i]) != 0) {
			log_error("cannot start build worker %d", i);
			queue_stop(q);
			return FORJA_ENOMEM;
		}
		q->started = i + 1; /* threads queue_stop() joins */
	}
	return 0;
}

/* Cancels build ID in the store when this queue does not hold it: inserted but not pushed
 * yet, or already final (FORJA_ECONFLICT). */
static int cancel_in_store(struct queue *q, int64_t id)
{
	struct build *b = NULL;
	int rc = store_build_get(q->opts.store, id, &b);
	if (rc != 0)
		return rc;
	enum build_status st = b->status;
	build_free(b);
	if (build_status_is_final(st))
		return FORJA_ECONFLICT;
	build_logs_appendf(q->opts.logs, id, "forja: build cancelled: cancelled on request");
	/* same order as finish_build(): lines, then the final status, then the end of the log */
	rc = store_build_finish(q->opts.store, id, BUILD_CANCELLED, NULL, "cancelled on request",
				build_now_ms());
	build_logs_end(q->opts.logs, id);
	if (rc == 0)
		notify_id(q, id);
	return rc;
}

int queue_cancel(struct queue *q, int64_t id)
{
	pthread_mutex_lock(&q->mu);
	struct pending *p = take_id(q, id);
	if (p) {
		pthread_mutex_unlock(&q->mu);
		free(p->service);
		free(p);
		return cancel_in_store(q, id);
	}
	struct worker *w = running_worker(q, id);
	if (!w) {
		pthread_mutex_unlock(&q->mu);
		return cancel_in_store(q, id);
	}
	w->user_cancel = 1;
	atomic_store(&w->cancel, 1);
	/* Give the engine a moment, so the answer usually shows the build cancelled. */
	struct timespec dl = deadline_timespec_in(QUEUE_CANCEL_WAIT_MS);
	while (w->id == id) {
		if (pthread_cond_timedwait(&q->cond, &q->mu, &dl) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&q->mu);
	return 0;
}

void queue_stats(struct queue *q, int *queued, int *running)
{
	pthread_mutex_lock(&q->mu);
	*queued = q->npending;
	int r = 0;
	for (int i = 0; i < q->opts.workers; i++)
		r += q->workers[i].id != 0;
	*running = r;
	pthread_mutex_unlock(&q->mu);
}

void queue_drain(struct queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->draining = 1;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->mu);
}

void queue_stop(struct queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stopping = 1;
	for (int i = 0; i < q->opts.workers; i++) {
		if (q->workers[i].id != 0)
			atomic_store(&q->workers[i].cancel, 1);
	}
	pthread_cond_broadcast(&q->cond);
	int started = q->started;
	q->started = 0;
	pthread_mutex_unlock(&q->mu);
	for (int i = 0; i < started; i++)
		pthread_join(q->workers[i].thread, NULL);
}

void queue_free(struct queue *q)
{
	if (!q)
		return;
	queue_stop(q);
	struct pending *p = q->head;
	while (p) {
		struct pending *next = p->next;
		free(p->service);
		free(p);
		p = next;
	}
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
	pthread_mutex_destroy(&q->push_mu);
	free(q->workers);
	free(q);
}
