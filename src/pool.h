/* A pool of Docker engines builds are placed on: each with a number of slots, pinged on a
 * schedule (an engine that stops answering takes no new builds until it answers again), a
 * service sent back to the engine that built it last while that one is healthy (its layer
 * cache is there), otherwise to the least-loaded healthy engine. */
#ifndef FORJA_POOL_H
#define FORJA_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "task.h"

#define POOL_MAX_ENGINES 32

struct pool;

/* One engine of FORJA_DOCKER_HOSTS as parsed; strings owned by the spec. */
struct pool_entry {
	char *host;	/* unix:///path or tcp://host:port, also the engine's name */
	int slots;	/* builds at once, >= 1 */
	char *cert_dir; /* ca.pem, cert.pem, key.pem for TLS, or NULL (plain) */
};

struct pool_spec {
	struct pool_entry entries[POOL_MAX_ENGINES];
	size_t n;
};

/*
 * Parses LIST: comma-separated engines, each "HOST[;slots=N][;tls=DIR]". SLOTS is the default
 * number of slots; a tcp:// engine without tls= uses DEFAULT_CERT_DIR when it is set. On error
 * writes what is wrong, naming the entry, into ERR. Release OUT with pool_spec_free().
 */
int pool_spec_parse(const char *list, int slots, const char *default_cert_dir,
		    struct pool_spec *out, char *err, size_t errlen);
void pool_spec_free(struct pool_spec *s);

/* *OUT owned by the caller: pool_free(). No thread runs until pool_start(). */
int pool_new(const struct pool_spec *spec, struct pool **out, char *err, size_t errlen);
/* Pings every engine once, then every INTERVAL_MS on a thread of its own; that thread also
 * prunes each engine's dangling images every PRUNE_S seconds (0 = never). */
int pool_start(struct pool *p, int interval_ms, int prune_s);
void pool_free(struct pool *p);

/* The slot a build holds on one engine. */
struct pool_lease {
	struct engine *engine; /* borrowed from the pool while the lease is held */
	int index;
};

/*
 * Waits for a healthy engine with a free slot: PREFER (an engine's name, or NULL) when it is
 * healthy and has one, otherwise the healthy engine with the fewest builds in proportion to its
 * slots. AVOID (a name or NULL) is never taken. A pool of one engine hands that engine out
 * even when it is down (the build fails saying why, rather than wait). Returns FORJA_ECANCELLED or
 * FORJA_ETIMEDOUT when AB fires first.
 */
int pool_acquire(struct pool *p, const char *prefer, const char *avoid, const struct task_abort *ab,
		 struct pool_lease *out);
/* Gives the slot back; BUILT counts a build in the engine's figures. */
void pool_release(struct pool *p, struct pool_lease *l, int built);
/* Pings the lease's engine now (after a failed build): 0 when it answers; otherwise marks it
 * down (no new builds until the scheduled ping sees it answer) and returns the error. */
int pool_check(struct pool *p, const struct pool_lease *l, char *err, size_t errlen);

/* Counts IMAGES removed from the lease's engine (tags past FORJA_KEEP_IMAGES). */
void pool_note_removed(struct pool *p, const struct pool_lease *l, int images);
/* Pings every engine now, one after another, and records the answers. */
void pool_refresh(struct pool *p);

/* One engine's state, as health and metrics show it. */
struct pool_state {
	char host[256];
	int up;
	int slots;
	int in_use;
	uint64_t builds;
	uint64_t images_removed;
	uint64_t reclaimed; /* bytes */
	char error[512];    /* why it is down, "" when up */
	/* the API version its last ping negotiated ("1.41"), "" when down: a copy, so that the
	 * health answer needs no ping of its own */
	char api_version[48];
};

/* Copies up to MAX engines' states into OUT; returns the number of engines. */
size_t pool_states(struct pool *p, struct pool_state *out, size_t max);
/* Total slots of all engines. */
int pool_slots(const struct pool *p);
/* Engine I (borrowed: lives as long as the pool), or NULL past the last. */
struct engine *pool_engine(struct pool *p, size_t i);
/* Number of engines. */
size_t pool_size(const struct pool *p);

#endif
