/* The build history in SQLite (WAL): one write connection behind a mutex and a small pool of
 * read connections, each with its statements prepared once, so readers never wait on writers.
 * Every query is an index lookup; the schema is versioned with PRAGMA user_version. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errors.h"
#include "log.h"

#define STORE_READERS 4
#define STORE_BUSY_MS 5000
/* room to record the ends of running builds on a full disk: a few KiB each */
#define STORE_RESERVE_BYTES (1024 * 1024)
/* List filters (service, repository, branch, status, engine): one statement per combination. */
#define STORE_LIST_MASKS 32

/* Columns of a build row, in the order row_to_build() reads them. */
#define BUILD_COLUMNS                                                                              \
	"id, service, version, type, image, digest, trigger_kind, repository, clone_url, "         \
	"commit_sha, ref, context, dockerfile, build_args, pull_request, branch, delivery_id, "    \
	"status, created_at, started_at, finished_at, error, attempts, engine, rerun_of"

enum stmt_id {
	ST_GET,
	ST_LATEST_ANY,
	ST_LATEST_SERVICE,
	ST_LATEST_BRANCH,
	ST_LATEST_BOTH,
	ST_FOR_IMAGE,
	ST_DELIVERY_BUILDS,
	ST_DELIVERY_EXISTS,
	ST_COUNTS,
	ST_INSERT,
	ST_DELIVERY_INSERT,
	ST_START,
	ST_STATUS,
	ST_FINISH,
	ST_SET_COMMIT,
	ST_RECOVER_FAIL,
	ST_RECOVER_REQUEUE,
	ST_REQUEUE,
	ST_SET_ENGINE,
	ST_BUMP_ATTEMPT,
	ST_PRUNE_BUILDS,
	ST_PRUNE_DELIVERIES,
	ST_LAST_ENGINE,
	ST_QUEUED_IDS,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_GET] = "SELECT " BUILD_COLUMNS " FROM builds WHERE id = ?1",
    [ST_LATEST_ANY] = "SELECT " BUILD_COLUMNS " FROM builds ORDER BY id DESC LIMIT 1",
    [ST_LATEST_SERVICE] = "SELECT " BUILD_COLUMNS " FROM builds INDEXED BY builds_service "
			  "WHERE service = ?1 ORDER BY id DESC LIMIT 1",
    [ST_LATEST_BRANCH] = "SELECT " BUILD_COLUMNS " FROM builds INDEXED BY builds_branch "
			 "WHERE branch = ?2 ORDER BY id DESC LIMIT 1",
    [ST_LATEST_BOTH] = "SELECT " BUILD_COLUMNS " FROM builds INDEXED BY builds_service_branch "
		       "WHERE service = ?1 AND branch = ?2 ORDER BY id DESC LIMIT 1",
    [ST_FOR_IMAGE] = "SELECT id FROM builds INDEXED BY builds_image "
		     "WHERE service = ?1 AND version = ?2 AND digest = ?3 "
		     "ORDER BY id DESC LIMIT 1",
    [ST_DELIVERY_BUILDS] = "SELECT " BUILD_COLUMNS " FROM builds INDEXED BY builds_delivery "
			   "WHERE hook_id = ?1 AND delivery_id = ?2 ORDER BY id",
    [ST_DELIVERY_EXISTS] = "SELECT 1 FROM deliveries WHERE hook_id = ?1 AND delivery_id = ?2",
    [ST_COUNTS] = "SELECT status, count(*) FROM builds GROUP BY status",
    [ST_INSERT] = "INSERT INTO builds (service, version, type, image, digest, trigger_kind, "
		  "repository, clone_url, commit_sha, ref, context, dockerfile, build_args, "
		  "pull_request, branch, delivery_id, hook_id, status, created_at, attempts, "
		  "rerun_of) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
		  "?15, ?16, ?17, 0, ?18, 0, ?19)",
    [ST_DELIVERY_INSERT] = "INSERT INTO deliveries (hook_id, delivery_id, received_at) "
			   "VALUES (?1, ?2, ?3)",
    [ST_START] = "UPDATE builds SET status = 1, started_at = ?2, attempts = attempts + 1, "
		 "finished_at = NULL WHERE id = ?1 AND status = 0 RETURNING attempts",
    [ST_STATUS] = "SELECT status FROM builds WHERE id = ?1",
    [ST_FINISH] = "UPDATE builds SET status = ?2, digest = coalesce(?3, digest), error = ?4, "
		  "finished_at = ?5 WHERE id = ?1 AND status IN (0, 1)",
    [ST_SET_COMMIT] = "UPDATE builds SET commit_sha = ?2 WHERE id = ?1 AND commit_sha IS NULL",
    [ST_RECOVER_FAIL] = "UPDATE builds SET status = 3, finished_at = ?2, error = 'build "
			"interrupted ' || attempts || ' times by a server stop or crash; "
			"giving up after ' || ?1 || ' attempts' "
			"WHERE status = 1 AND attempts >= ?1",
    [ST_RECOVER_REQUEUE] = "UPDATE builds SET status = 0 WHERE status = 1",
    /* finished builds older than ?1 (ms; 0 = no age limit) or past the ?2 newest of their
     * service (0 = no count limit), never a service's newest, at most ?3 a round */
    [ST_PRUNE_BUILDS] =
	"DELETE FROM builds WHERE id IN (SELECT id FROM (SELECT id, status, created_at, "
	"row_number() OVER (PARTITION BY service ORDER BY id DESC) AS rn FROM builds) "
	"WHERE rn > 1 AND status IN (2, 3, 4) AND ((?1 > 0 AND created_at < ?1) OR "
	"(?2 > 0 AND rn > ?2)) LIMIT ?3) RETURNING id",
    [ST_PRUNE_DELIVERIES] = "DELETE FROM deliveries WHERE received_at < ?1",
    [ST_BUMP_ATTEMPT] = "UPDATE builds SET attempts = attempts + 1 WHERE id = ?1 AND status = 1 "
			"RETURNING attempts",
    [ST_SET_ENGINE] = "UPDATE builds SET engine = ?2 WHERE id = ?1",
    [ST_LAST_ENGINE] = "SELECT engine FROM builds INDEXED BY builds_service "
		       "WHERE service = ?1 AND engine IS NOT NULL ORDER BY id DESC LIMIT 1",
    [ST_REQUEUE] = "UPDATE builds SET status = 0, started_at = NULL, "
		   "attempts = max(attempts - 1, 0) WHERE id = ?1 AND status = 1",
    [ST_QUEUED_IDS] = "SELECT id FROM builds WHERE status = 0 ORDER BY id",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

/* Schema upgrades, applied in order at start-up; user_version = number applied. */
static const char *const migrations[] = {
    "CREATE TABLE builds ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " service TEXT NOT NULL, version TEXT NOT NULL, type TEXT, image TEXT, digest TEXT,"
    " trigger_kind INTEGER NOT NULL, repository TEXT, clone_url TEXT, commit_sha TEXT,"
    " ref TEXT, context TEXT, dockerfile TEXT, build_args TEXT,"
    " pull_request INTEGER NOT NULL DEFAULT 0, branch TEXT, delivery_id TEXT, hook_id TEXT,"
    " status INTEGER NOT NULL, created_at INTEGER NOT NULL, started_at INTEGER,"
    " finished_at INTEGER, error TEXT, attempts INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX builds_service ON builds (service, id);"
    "CREATE INDEX builds_branch ON builds (branch, id);"
    "CREATE INDEX builds_service_branch ON builds (service, branch, id);"
    "CREATE INDEX builds_repository ON builds (repository, id);"
    "CREATE INDEX builds_status ON builds (status, id);"
    "CREATE INDEX builds_image ON builds (service, version, digest);"
    "CREATE INDEX builds_delivery ON builds (hook_id, delivery_id, id);"
    "CREATE TABLE deliveries ("
    " hook_id TEXT NOT NULL, delivery_id TEXT NOT NULL, received_at INTEGER NOT NULL,"
    " PRIMARY KEY (hook_id, delivery_id)) WITHOUT ROWID;",
    /* the engine pool: which engine ran each build */
    "ALTER TABLE builds ADD COLUMN engine TEXT;"
    "CREATE INDEX builds_engine ON builds (engine, id);",
    /* reruns: which build a build runs again */
    "ALTER TABLE builds ADD COLUMN rerun_of INTEGER;",
};

struct conn {
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	sqlite3_stmt *list[STORE_LIST_MASKS];
	int busy; /* readers: taken from the pool */
};

struct store {
	struct conn writer;
	pthread_mutex_t write_mu;
	/* grows as write_mu is released, so after what it guarded is committed */
	atomic_uint_fast64_t generation;
	char *reserve; /* DATA_DIR/space-reserve: room to record builds' ends on a full disk */
	int full;      /* guarded by write_mu: the reserve is given up, new builds are refused */
	struct conn readers[STORE_READERS];
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cond;
};

static int db_err(sqlite3 *db, const char *what)
{
	log_error("history %s failed: %s", what, sqlite3_errmsg(db));
	if (sqlite3_errcode(db) == SQLITE_FULL || sqlite3_system_errno(db) == ENOSPC)
		return FORJA_ENOSPC;
	return FORJA_EDB;
}

/* Every release of the write lock counts as a change: readers that cache what they read (the
 * badge) compare generations instead of querying. */
static void write_unlock(struct store *st)
{
	atomic_fetch_add(&st->generation, 1);
	pthread_mutex_unlock(&st->write_mu);
}

uint64_t store_generation(struct store *st)
{
	return atomic_load(&st->generation);
}

/*
 * The reserve: a file of STORE_RESERVE_BYTES kept beside the history. On a full disk the ends
 * of running builds must still be recorded, or they would stay "running" until a restart;
 * giving the reserve up makes room for them, and new builds are refused until it can be made
 * again (space is back).
 */
static int reserve_make(struct store *st)
{
	static const char zeros[65536];
	int fd = open(st->reserve, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int rc = fd < 0 ? FORJA_EIO : 0;
	for (size_t done = 0; !rc && done < STORE_RESERVE_BYTES;) {
		ssize_t w = write(fd, zeros, sizeof(zeros));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = errno == ENOSPC || w == 0 ? FORJA_ENOSPC : FORJA_EIO;
		else
			done += (size_t)w;
	}
	if (fd >= 0 && close(fd) != 0 && !rc)
		rc = errno == ENOSPC ? FORJA_ENOSPC : FORJA_EIO;
	if (rc) {
		unlink(st->reserve);
		return rc;
	}
	if (st->full)
		log_info("space is back in the data directory: new builds are accepted again");
	st->full = 0;
	return 0;
}

/* Caller holds write_mu. 0 when there was a reserve to give up. */
static int reserve_release(struct store *st)
{
	if (st->full)
		return FORJA_ENOSPC;
	st->full = 1;
	unlink(st->reserve);
	log_warn("the data directory is full: gave up its %d KiB reserve to record running builds; "
		 "new builds are refused until space is freed",
		 STORE_RESERVE_BYTES / 1024);
	return 0;
}

/* Before a new build is recorded (caller holds write_mu): refused while the disk is full. */
static int room_for_new(struct store *st)
{
	return st->full ? reserve_make(st) : 0;
}

/* The statement ID of C, prepared on first use and kept for the life of the connection. */
static sqlite3_stmt *conn_stmt(struct conn *c, enum stmt_id id)
{
	if (!c->st[id] && sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					     &c->st[id], NULL) != SQLITE_OK) {
		db_err(c->db, "prepare");
		return NULL;
	}
	return c->st[id];
}

static void stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

static int conn_open(struct conn *c, const char *path, int readonly)
{
	int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	flags |= SQLITE_OPEN_NOMUTEX; /* each connection is used by one thread at a time */
	if (sqlite3_open_v2(path, &c->db, flags, NULL) != SQLITE_OK) {
		log_error("cannot open history %s: %s", path,
			  c->db ? sqlite3_errmsg(c->db) : "out of memory");
		return FORJA_EDB;
	}
	sqlite3_busy_timeout(c->db, STORE_BUSY_MS);
	return 0;
}

static void conn_close(struct conn *c)
{
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(c->st[i]);
	for (int i = 0; i < STORE_LIST_MASKS; i++)
		sqlite3_finalize(c->list[i]);
	sqlite3_close_v2(c->db);
	memset(c, 0, sizeof(*c));
}

static int exec_sql(sqlite3 *db, const char *sql, const char *what)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_err(db, what);
	return 0;
}

static int schema_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
		return db_err(db, "schema version");
	int rc = sqlite3_step(s) == SQLITE_ROW ? 0 : db_err(db, "schema version");
	if (rc == 0)
		*version = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc;
}

/* Applies every migration newer than the file's user_version, each in its own transaction. */
static int schema_upgrade(sqlite3 *db)
{
	int version = 0;
	int rc = schema_version(db, &version);
	if (rc != 0)
		return rc;
	int latest = (int)(sizeof(migrations) / sizeof(migrations[0]));
	if (version > latest) {
		log_error("history schema version %d is newer than this forja knows (%d)", version,
			  latest);
		return FORJA_EDB;
	}
	for (int v = version; v < latest; v++) {
		char bump[64];
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
		rc = exec_sql(db, "BEGIN IMMEDIATE", "upgrade");
		if (rc == 0)
			rc = exec_sql(db, migrations[v], "upgrade");
		if (rc == 0)
			rc = exec_sql(db, bump, "upgrade");
		if (rc == 0)
			rc = exec_sql(db, "COMMIT", "upgrade");
		if (rc != 0) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return rc;
		}
		log_info("history schema upgraded to version %d", v + 1);
	}
	return 0;
}

int store_open(const char *data_dir, struct store **out)
{
	*out = NULL;
	char path[4096];
	if (snprintf(path, sizeof(path), "%s/forja.db", data_dir) >= (int)sizeof(path))
		return FORJA_ETOOBIG;
	struct store *st = calloc(1, sizeof(*st));
	if (!st)
		return FORJA_ENOMEM;
	pthread_mutex_init(&st->write_mu, NULL);
	atomic_init(&st->generation, 0);
	pthread_mutex_init(&st->pool_mu, NULL);
	pthread_cond_init(&st->pool_cond, NULL);
	int rc = conn_open(&st->writer, path, 0);
	if (rc != 0)
		goto out;
	size_t rlen = strlen(data_dir) + sizeof("/space-reserve");
	st->reserve = malloc(rlen);
	if (!st->reserve) {
		rc = FORJA_ENOMEM;
		goto out;
	}
	snprintf(st->reserve, rlen, "%s/space-reserve", data_dir);
	int rrc = reserve_make(st);
	if (rrc == FORJA_ENOSPC) {
		/* starting on a full disk: the history opens, new builds wait for space */
		st->full = 1;
		log_warn("cannot make the space reserve %s: new builds are refused until the data "
			 "directory has room",
			 st->reserve);
	} else if (rrc) {
		log_warn("cannot make the space reserve %s: %s; a full disk may then leave builds "
			 "running until the next start",
			 st->reserve, errors_text(rrc));
	}
	/* WAL lets readers run while a write commits; NORMAL sync in WAL keeps every committed
	 * transaction across a process crash (kill -9), only an OS crash may lose the last. */
	/* auto_vacuum takes effect only in a file that has no table yet: new histories get
	 * incremental vacuum (store_compact), older ones need one VACUUM to switch */
	rc = exec_sql(st->writer.db,
		      "PRAGMA auto_vacuum = INCREMENTAL; "
		      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
		      "PRAGMA foreign_keys = ON;",
		      "set-up");
	if (rc == 0)
		rc = schema_upgrade(st->writer.db);
	for (int i = 0; rc == 0 && i < STORE_READERS; i++)
		rc = conn_open(&st->readers[i], path, 1);
out:
	if (rc != 0) {
		store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	for (int i = 0; i < STORE_READERS; i++)
		conn_close(&st->readers[i]);
	conn_close(&st->writer);
	free(st->reserve);
	pthread_cond_destroy(&st->pool_cond);
	pthread_mutex_destroy(&st->pool_mu);
	pthread_mutex_destroy(&st->write_mu);
	free(st);
}

/* A free read connection; waits when every one is in use (queries are short). */
static struct conn *reader_get(struct store *st)
{
	pthread_mutex_lock(&st->pool_mu);
	for (;;) {
		for (int i = 0; i < STORE_READERS; i++) {
			if (!st->readers[i].busy) {
				st->readers[i].busy = 1;
				pthread_mutex_unlock(&st->pool_mu);
				return &st->readers[i];
			}
		}
		pthread_cond_wait(&st->pool_cond, &st->pool_mu);
	}
}

static void reader_put(struct store *st, struct conn *c)
{
	pthread_mutex_lock(&st->pool_mu);
	c->busy = 0;
	pthread_cond_signal(&st->pool_cond);
	pthread_mutex_unlock(&st->pool_mu);
}

static int bind_text(sqlite3_stmt *s, int idx, const char *v)
{
	if (!v)
		return sqlite3_bind_null(s, idx);
	return sqlite3_bind_text(s, idx, v, -1, SQLITE_STATIC);
}

static int col_text(sqlite3_stmt *s, int col, char **out)
{
	*out = NULL;
	const unsigned char *v = sqlite3_column_text(s, col);
	if (!v)
		return 0;
	*out = strdup((const char *)v);
	return !*out ? FORJA_ENOMEM : 0;
}

static struct build *row_to_build(sqlite3_stmt *s)
{
	struct build *b = build_new();
	if (!b)
		return NULL;
	int rc = 0;
	b->id = sqlite3_column_int64(s, 0);
	rc |= col_text(s, 1, &b->service);
	rc |= col_text(s, 2, &b->version);
	rc |= col_text(s, 3, &b->type);
	rc |= col_text(s, 4, &b->image);
	rc |= col_text(s, 5, &b->digest);
	b->trigger = (enum build_trigger)sqlite3_column_int(s, 6);
	rc |= col_text(s, 7, &b->repository);
	rc |= col_text(s, 8, &b->clone_url);
	rc |= col_text(s, 9, &b->commit);
	rc |= col_text(s, 10, &b->ref);
	rc |= col_text(s, 11, &b->context);
	rc |= col_text(s, 12, &b->dockerfile);
	rc |= col_text(s, 13, &b->build_args);
	b->pull_request = sqlite3_column_int64(s, 14);
	rc |= col_text(s, 15, &b->branch);
	rc |= col_text(s, 16, &b->delivery_id);
	b->status = (enum build_status)sqlite3_column_int(s, 17);
	b->created_at = sqlite3_column_int64(s, 18);
	b->started_at = sqlite3_column_int64(s, 19);
	b->finished_at = sqlite3_column_int64(s, 20);
	rc |= col_text(s, 21, &b->error);
	b->attempts = sqlite3_column_int(s, 22);
	rc |= col_text(s, 23, &b->engine);
	b->rerun_of = sqlite3_column_int64(s, 24);
	if (rc != 0) {
		build_free(b);
		return NULL;
	}
	return b;
}

/* Steps S (already bound) and collects every row; resets S. */
static int collect_rows(sqlite3 *db, sqlite3_stmt *s, struct build ***out, size_t *n)
{
	struct build **arr = NULL;
	size_t len = 0, cap = 0;
	int rc = 0, step;
	for (step = sqlite3_step(s); step == SQLITE_ROW; step = sqlite3_step(s)) {
		if (len == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			struct build **tmp = realloc(arr, ncap * sizeof(*arr));
			if (!tmp) {
				rc = FORJA_ENOMEM;
				goto out;
			}
			arr = tmp;
			cap = ncap;
		}
		arr[len] = row_to_build(s);
		if (!arr[len]) {
			rc = FORJA_ENOMEM;
			goto out;
		}
		len++;
	}
	if (step != SQLITE_DONE)
		rc = db_err(db, "read");
out:
	stmt_done(s);
	if (rc != 0) {
		build_array_free(arr, len);
		return rc;
	}
	*out = arr;
	*n = len;
	return 0;
}

/* Steps S for at most one row into *OUT; FORJA_ENOTFOUND when none. Resets S. */
static int one_row(sqlite3 *db, sqlite3_stmt *s, struct build **out)
{
	int step = sqlite3_step(s);
	int rc = 0;
	if (step == SQLITE_ROW) {
		*out = row_to_build(s);
		rc = !*out ? FORJA_ENOMEM : 0;
	} else if (step == SQLITE_DONE) {
		rc = FORJA_ENOTFOUND;
	} else {
		rc = db_err(db, "read");
	}
	stmt_done(s);
	return rc;
}

/* Inserts B on the write connection (caller holds write_mu). */
static int insert_locked(struct store *st, struct build *b, const char *hook_id)
{
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_INSERT);
	if (!s)
		return FORJA_EDB;
	if (b->created_at == 0)
		b->created_at = build_now_ms();
	bind_text(s, 1, b->service);
	bind_text(s, 2, b->version);
	bind_text(s, 3, b->type);
	bind_text(s, 4, b->image);
	bind_text(s, 5, b->digest);
	sqlite3_bind_int(s, 6, (int)b->trigger);
	bind_text(s, 7, b->repository);
	bind_text(s, 8, b->clone_url);
	bind_text(s, 9, b->commit);
	bind_text(s, 10, b->ref);
	bind_text(s, 11, b->context);
	bind_text(s, 12, b->dockerfile);
	bind_text(s, 13, b->build_args);
	sqlite3_bind_int64(s, 14, b->pull_request);
	bind_text(s, 15, b->branch);
	bind_text(s, 16, b->delivery_id);
	bind_text(s, 17, hook_id);
	sqlite3_bind_int64(s, 18, b->created_at);
	if (b->rerun_of > 0)
		sqlite3_bind_int64(s, 19, b->rerun_of);
	else
		sqlite3_bind_null(s, 19);
	int step = sqlite3_step(s);
	int rc = 0;
	if (step == SQLITE_DONE) {
		b->id = sqlite3_last_insert_rowid(st->writer.db);
		b->status = BUILD_QUEUED;
		b->attempts = 0;
	} else {
		rc = db_err(st->writer.db, "insert");
	}
	stmt_done(s);
	return rc;
}

static int step_simple(struct conn *c, enum stmt_id id)
{
	sqlite3_stmt *s = conn_stmt(c, id);
	if (!s)
		return FORJA_EDB;
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(c->db, stmt_sql[id]);
	stmt_done(s);
	return rc;
}

int store_build_insert(struct store *st, struct build *b)
{
	if (!b->service || !b->version)
		return FORJA_EINVAL;
	pthread_mutex_lock(&st->write_mu);
	int rc = room_for_new(st);
	if (rc == 0)
		rc = insert_locked(st, b, NULL);
	write_unlock(st);
	return rc;
}

int store_delivery_insert(struct store *st, const char *hook_id, const char *delivery_id,
			  struct build **builds, size_t n)
{
	if (!hook_id || !delivery_id)
		return FORJA_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!builds[i]->service || !builds[i]->version)
			return FORJA_EINVAL;
	}
	pthread_mutex_lock(&st->write_mu);
	int rc = room_for_new(st);
	if (rc == 0)
		rc = step_simple(&st->writer, ST_BEGIN);
	if (rc != 0)
		goto out;
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_DELIVERY_INSERT);
	if (!s) {
		rc = FORJA_EDB;
		goto rollback;
	}
	bind_text(s, 1, hook_id);
	bind_text(s, 2, delivery_id);
	sqlite3_bind_int64(s, 3, build_now_ms());
	int step = sqlite3_step(s);
	int ext = sqlite3_extended_errcode(st->writer.db);
	stmt_done(s);
	if (step != SQLITE_DONE) {
		rc = ext == SQLITE_CONSTRAINT_PRIMARYKEY ? FORJA_ECONFLICT
							 : db_err(st->writer.db, "delivery");
		goto rollback;
	}
	for (size_t i = 0; i < n; i++) {
		if (!builds[i]->delivery_id) {
			builds[i]->delivery_id = strdup(delivery_id);
			if (!builds[i]->delivery_id) {
				rc = FORJA_ENOMEM;
				goto rollback;
			}
		}
		rc = insert_locked(st, builds[i], hook_id);
		if (rc != 0)
			goto rollback;
	}
	rc = step_simple(&st->writer, ST_COMMIT);
	if (rc == 0)
		goto out;
rollback:
	step_simple(&st->writer, ST_ROLLBACK);
	for (size_t i = 0; i < n; i++)
		builds[i]->id = 0;
out:
	write_unlock(st);
	return rc;
}

int store_delivery_builds(struct store *st, const char *hook_id, const char *delivery_id,
			  struct build ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct conn *c = reader_get(st);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(c, ST_DELIVERY_EXISTS);
	if (!s)
		goto out;
	bind_text(s, 1, hook_id);
	bind_text(s, 2, delivery_id);
	int step = sqlite3_step(s);
	stmt_done(s);
	if (step != SQLITE_ROW) {
		rc = step == SQLITE_DONE ? FORJA_ENOTFOUND : db_err(c->db, "delivery");
		goto out;
	}
	s = conn_stmt(c, ST_DELIVERY_BUILDS);
	if (!s)
		goto out;
	bind_text(s, 1, hook_id);
	bind_text(s, 2, delivery_id);
	rc = collect_rows(c->db, s, out, n);
out:
	reader_put(st, c);
	return rc;
}

int store_build_get(struct store *st, int64_t id, struct build **out)
{
	*out = NULL;
	struct conn *c = reader_get(st);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(c, ST_GET);
	if (s) {
		sqlite3_bind_int64(s, 1, id);
		rc = one_row(c->db, s, out);
	}
	reader_put(st, c);
	return rc;
}

/* The list statement for the filters in MASK (bit 0 service, 1 repository, 2 branch,
 * 3 status, 4 engine), built once per connection so each combination gets its own index plan. */
static sqlite3_stmt *list_stmt(struct conn *c, unsigned mask)
{
	if (c->list[mask])
		return c->list[mask];
	char sql[1024];
	size_t off = (size_t)snprintf(sql, sizeof(sql),
				      "SELECT " BUILD_COLUMNS " FROM builds WHERE id < ?1");
	static const char *const conds[] = {
	    " AND service = ?2", " AND repository = ?3", " AND branch = ?4",
	    " AND status = ?5",	 " AND engine = ?7",
	};
	for (unsigned i = 0; i < 5; i++) {
		if (mask & (1u << i))
			off += (size_t)snprintf(sql + off, sizeof(sql) - off, "%s", conds[i]);
	}
	snprintf(sql + off, sizeof(sql) - off, " ORDER BY id DESC LIMIT ?6");
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->list[mask], NULL) !=
	    SQLITE_OK) {
		db_err(c->db, "prepare list");
		return NULL;
	}
	return c->list[mask];
}

int store_build_list(struct store *st, const struct build_filter *f, struct build ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (f->limit < 1 || f->limit > 100 || f->before < 0)
		return FORJA_EINVAL;
	unsigned mask = (f->service ? 1u : 0) | (f->repository ? 2u : 0) | (f->branch ? 4u : 0) |
			(f->has_status ? 8u : 0) | (f->engine ? 16u : 0);
	struct conn *c = reader_get(st);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = list_stmt(c, mask);
	if (!s)
		goto out;
	sqlite3_bind_int64(s, 1, f->before > 0 ? f->before : INT64_MAX);
	bind_text(s, 2, f->service);
	bind_text(s, 3, f->repository);
	bind_text(s, 4, f->branch);
	sqlite3_bind_int(s, 5, (int)f->status);
	sqlite3_bind_int(s, 6, f->limit);
	bind_text(s, 7, f->engine);
	rc = collect_rows(c->db, s, out, n);
out:
	reader_put(st, c);
	return rc;
}

int store_build_latest(struct store *st, const char *service, const char *branch,
		       struct build **out)
{
	*out = NULL;
	enum stmt_id id = service ? (branch ? ST_LATEST_BOTH : ST_LATEST_SERVICE)
				  : (branch ? ST_LATEST_BRANCH : ST_LATEST_ANY);
	struct conn *c = reader_get(st);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(c, id);
	if (s) {
		if (id == ST_LATEST_SERVICE || id == ST_LATEST_BOTH)
			bind_text(s, 1, service);
		if (id == ST_LATEST_BRANCH || id == ST_LATEST_BOTH)
			bind_text(s, 2, branch);
		rc = one_row(c->db, s, out);
	}
	reader_put(st, c);
	return rc;
}

/* Status of build ID on the write connection (caller holds write_mu). */
static int status_locked(struct store *st, int64_t id, enum build_status *status)
{
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_STATUS);
	if (!s)
		return FORJA_EDB;
	sqlite3_bind_int64(s, 1, id);
	int step = sqlite3_step(s);
	int rc = 0;
	if (step == SQLITE_ROW)
		*status = (enum build_status)sqlite3_column_int(s, 0);
	else
		rc = step == SQLITE_DONE ? FORJA_ENOTFOUND : db_err(st->writer.db, "status");
	stmt_done(s);
	return rc;
}

static int start_locked(struct store *st, int64_t id, int64_t started_at, int *attempts)
{
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_START);
	if (!s)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, started_at);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		if (attempts)
			*attempts = sqlite3_column_int(s, 0);
		step = sqlite3_step(s);
	}
	int changed = sqlite3_changes(st->writer.db);
	stmt_done(s);
	if (step != SQLITE_DONE) {
		rc = db_err(st->writer.db, "start");
		goto out;
	}
	if (changed == 0) {
		enum build_status status;
		rc = status_locked(st, id, &status);
		if (rc == 0)
			rc = FORJA_ECONFLICT;
		goto out;
	}
	rc = 0;
out:
	return rc;
}

int store_build_start(struct store *st, int64_t id, int64_t started_at, int *attempts)
{
	pthread_mutex_lock(&st->write_mu);
	/* on a full disk a build does not start: whatever it wrote could not be kept */
	int rc = room_for_new(st);
	if (rc == 0)
		rc = start_locked(st, id, started_at, attempts);
	write_unlock(st);
	return rc;
}

static int finish_locked(struct store *st, int64_t id, enum build_status status, const char *digest,
			 const char *error, int64_t finished_at)
{
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_FINISH);
	if (!s)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, (int)status);
	bind_text(s, 3, digest);
	bind_text(s, 4, error);
	sqlite3_bind_int64(s, 5, finished_at);
	int step = sqlite3_step(s);
	int changed = sqlite3_changes(st->writer.db);
	stmt_done(s);
	if (step != SQLITE_DONE) {
		rc = db_err(st->writer.db, "finish");
		goto out;
	}
	rc = 0;
	if (changed == 0) {
		enum build_status cur;
		rc = status_locked(st, id, &cur);
		if (rc == 0)
			rc = FORJA_ECONFLICT;
	}
out:
	return rc;
}

int store_build_finish(struct store *st, int64_t id, enum build_status status, const char *digest,
		       const char *error, int64_t finished_at)
{
	if (!build_status_is_final(status))
		return FORJA_EINVAL;
	pthread_mutex_lock(&st->write_mu);
	int rc = finish_locked(st, id, status, digest, error, finished_at);
	/* the end of a build is the one write a full disk must not lose */
	if (rc == FORJA_ENOSPC && reserve_release(st) == 0)
		rc = finish_locked(st, id, status, digest, error, finished_at);
	write_unlock(st);
	return rc;
}

int store_build_set_commit(struct store *st, int64_t id, const char *commit)
{
	if (!commit || *commit == '\0')
		return FORJA_EINVAL;
	pthread_mutex_lock(&st->write_mu);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_SET_COMMIT);
	if (!s)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, commit);
	int step = sqlite3_step(s);
	int changed = sqlite3_changes(st->writer.db);
	stmt_done(s);
	if (step != SQLITE_DONE) {
		rc = db_err(st->writer.db, "set commit");
		goto out;
	}
	rc = 0;
	if (changed == 0) {
		enum build_status cur;
		rc = status_locked(st, id, &cur); /* known: already pinned, nothing to do */
	}
out:
	write_unlock(st);
	return rc;
}

int store_build_set_engine(struct store *st, int64_t id, const char *engine)
{
	pthread_mutex_lock(&st->write_mu);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_SET_ENGINE);
	if (!s)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	bind_text(s, 2, engine);
	int step = sqlite3_step(s);
	int changed = sqlite3_changes(st->writer.db);
	stmt_done(s);
	rc =
	    step == SQLITE_DONE ? (changed ? 0 : FORJA_ENOTFOUND) : db_err(st->writer.db, "engine");
out:
	write_unlock(st);
	return rc;
}

int store_prune(struct store *st, const struct store_prune_opts *o, int64_t **ids, size_t *n,
		size_t *deliveries)
{
	*ids = NULL;
	*n = 0;
	*deliveries = 0;
	pthread_mutex_lock(&st->write_mu);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_PRUNE_BUILDS);
	if (!s)
		goto out;
	sqlite3_bind_int64(s, 1, o->before_ms);
	sqlite3_bind_int(s, 2, o->keep_per_service);
	sqlite3_bind_int(s, 3, o->max_builds > 0 ? o->max_builds : 1000);
	int64_t *arr = NULL;
	size_t len = 0, cap = 0;
	int step;
	rc = 0;
	for (step = sqlite3_step(s); step == SQLITE_ROW && rc == 0; step = sqlite3_step(s)) {
		if (len == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *tmp = realloc(arr, cap * sizeof(*arr));
			if (!tmp) {
				rc = FORJA_ENOMEM;
				break;
			}
			arr = tmp;
		}
		arr[len++] = sqlite3_column_int64(s, 0);
	}
	if (rc == 0 && step != SQLITE_DONE)
		rc = db_err(st->writer.db, "prune");
	stmt_done(s);
	*ids = arr;
	*n = len;
	if (rc == 0 && o->deliveries_before_ms > 0) {
		s = conn_stmt(&st->writer, ST_PRUNE_DELIVERIES);
		if (!s) {
			rc = FORJA_EDB;
			goto out;
		}
		sqlite3_bind_int64(s, 1, o->deliveries_before_ms);
		if (sqlite3_step(s) == SQLITE_DONE)
			*deliveries = (size_t)sqlite3_changes(st->writer.db);
		else
			rc = db_err(st->writer.db, "prune deliveries");
		stmt_done(s);
	}
out:
	write_unlock(st);
	return rc;
}

int store_compact(struct store *st, int pages)
{
	char sql[64];
	snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%d)", pages > 0 ? pages : 1000);
	pthread_mutex_lock(&st->write_mu);
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(st->writer.db, sql, -1, &s, NULL) == SQLITE_OK ? 0 : FORJA_EDB;
	/* each row is one page freed; step until done */
	while (rc == 0) {
		int step = sqlite3_step(s);
		if (step == SQLITE_DONE)
			break;
		if (step != SQLITE_ROW)
			rc = db_err(st->writer.db, "incremental vacuum");
	}
	sqlite3_finalize(s);
	write_unlock(st);
	return rc;
}

int store_build_next_attempt(struct store *st, int64_t id, int *attempts)
{
	pthread_mutex_lock(&st->write_mu);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_BUMP_ATTEMPT);
	if (!s)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*attempts = sqlite3_column_int(s, 0);
		rc = 0;
	} else {
		rc = step == SQLITE_DONE ? FORJA_ECONFLICT : db_err(st->writer.db, "attempt");
	}
	stmt_done(s);
out:
	write_unlock(st);
	return rc;
}

int store_service_engine(struct store *st, const char *service, char *out, size_t len)
{
	out[0] = '\0';
	struct conn *c = reader_get(st);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(c, ST_LAST_ENGINE);
	if (!s)
		goto out;
	bind_text(s, 1, service);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(s, 0));
		rc = 0;
	} else {
		rc = step == SQLITE_DONE ? FORJA_ENOTFOUND : db_err(c->db, "last engine");
	}
	stmt_done(s);
out:
	reader_put(st, c);
	return rc;
}

int store_build_requeue(struct store *st, int64_t id)
{
	pthread_mutex_lock(&st->write_mu);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_REQUEUE);
	if (!s)
		goto out;
	sqlite3_bind_int64(s, 1, id);
	int step = sqlite3_step(s);
	int changed = sqlite3_changes(st->writer.db);
	stmt_done(s);
	if (step != SQLITE_DONE) {
		rc = db_err(st->writer.db, "requeue");
		goto out;
	}
	rc = 0;
	if (changed == 0) {
		enum build_status cur;
		rc = status_locked(st, id, &cur);
		if (rc == 0)
			rc = FORJA_ECONFLICT;
	}
out:
	write_unlock(st);
	return rc;
}

static int bind_step(struct conn *c, enum stmt_id id, int max_attempts, int64_t now)
{
	sqlite3_stmt *s = conn_stmt(c, id);
	if (!s)
		return FORJA_EDB;
	if (id == ST_RECOVER_FAIL) {
		sqlite3_bind_int(s, 1, max_attempts);
		sqlite3_bind_int64(s, 2, now);
	}
	int rc = sqlite3_step(s) == SQLITE_DONE ? 0 : db_err(c->db, "recover");
	stmt_done(s);
	return rc;
}

static int queued_ids_locked(struct store *st, int64_t **ids, size_t *n)
{
	sqlite3_stmt *s = conn_stmt(&st->writer, ST_QUEUED_IDS);
	if (!s)
		return FORJA_EDB;
	int64_t *arr = NULL;
	size_t len = 0, cap = 0;
	int rc = 0, step;
	for (step = sqlite3_step(s); step == SQLITE_ROW; step = sqlite3_step(s)) {
		if (len == cap) {
			size_t ncap = cap == 0 ? 16 : cap * 2;
			int64_t *tmp = realloc(arr, ncap * sizeof(*arr));
			if (!tmp) {
				rc = FORJA_ENOMEM;
				goto out;
			}
			arr = tmp;
			cap = ncap;
		}
		arr[len++] = sqlite3_column_int64(s, 0);
	}
	if (step != SQLITE_DONE)
		rc = db_err(st->writer.db, "recover");
out:
	stmt_done(s);
	if (rc != 0) {
		free(arr);
		return rc;
	}
	*ids = arr;
	*n = len;
	return 0;
}

int store_builds_recover(struct store *st, int max_attempts, int64_t **ids, size_t *n)
{
	*ids = NULL;
	*n = 0;
	pthread_mutex_lock(&st->write_mu);
	int rc = step_simple(&st->writer, ST_BEGIN);
	if (rc != 0)
		goto out;
	rc = bind_step(&st->writer, ST_RECOVER_FAIL, max_attempts, build_now_ms());
	if (rc == 0)
		rc = bind_step(&st->writer, ST_RECOVER_REQUEUE, 0, 0);
	if (rc == 0)
		rc = queued_ids_locked(st, ids, n);
	if (rc == 0)
		rc = step_simple(&st->writer, ST_COMMIT);
	if (rc != 0) {
		step_simple(&st->writer, ST_ROLLBACK);
		free(*ids);
		*ids = NULL;
		*n = 0;
	}
out:
	write_unlock(st);
	return rc;
}

int64_t store_build_for_image(struct store *st, const char *service, const char *version,
			      const char *digest)
{
	if (!service || !version || !digest)
		return 0;
	struct conn *c = reader_get(st);
	int64_t id = 0;
	sqlite3_stmt *s = conn_stmt(c, ST_FOR_IMAGE);
	if (s) {
		bind_text(s, 1, service);
		bind_text(s, 2, version);
		bind_text(s, 3, digest);
		int step = sqlite3_step(s);
		if (step == SQLITE_ROW)
			id = sqlite3_column_int64(s, 0);
		else if (step != SQLITE_DONE)
			db_err(c->db, "image lookup");
		stmt_done(s);
	}
	reader_put(st, c);
	return id;
}

int store_build_counts(struct store *st, int64_t counts[5])
{
	for (int i = 0; i < 5; i++)
		counts[i] = 0;
	struct conn *c = reader_get(st);
	int rc = FORJA_EDB;
	sqlite3_stmt *s = conn_stmt(c, ST_COUNTS);
	if (!s)
		goto out;
	int step;
	for (step = sqlite3_step(s); step == SQLITE_ROW; step = sqlite3_step(s)) {
		int status = sqlite3_column_int(s, 0);
		if (status >= 0 && status < 5)
			counts[status] = sqlite3_column_int64(s, 1);
	}
	rc = step == SQLITE_DONE ? 0 : db_err(c->db, "counts");
	stmt_done(s);
out:
	reader_put(st, c);
	return rc;
}
