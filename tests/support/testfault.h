/* What fault tests start, break and start again, each the real component and the test's own:
 * a docker engine (dockerd in a network namespace of its own), a docker-registry on a free
 * loopback port, and a small tmpfs. Everything lives under one state directory; every process
 * started there leaves a NAME.pid file, so testfault_sweep() in the parent of a forked check
 * test stops exactly those processes by PID even when the test itself aborted. */
#ifndef FORJA_TESTFAULT_H
#define FORJA_TESTFAULT_H

#include <stddef.h>
#include <sys/types.h>

/*
 * A fresh state directory under /tmp (short, so socket paths stay under 108 bytes) into DIR.
 * Call it in an unchecked fixture's setup, in the parent; testfault_sweep() in its teardown.
 */
void testfault_state_new(char *dir, size_t len);
/* Stops every process that left a pid file under DIR (SIGTERM, then SIGKILL after 30 s),
 * removes the network namespace, unmounts what is mounted under DIR, removes DIR. */
void testfault_sweep(const char *dir);

/* Whether the host has a docker0 bridge now (the machine's engine needs it for RUN steps). */
int testfault_has_docker0(void);

/*
 * What a fault test's unchecked fixture keeps from its setup to its teardown. check's fixtures
 * take no argument, so the test owns one as a file static and sets TEST and WATCH_DOCKER0 in
 * its initialiser; the setup fills the rest.
 */
struct testfault_fixture {
	const char *test;  /* names the test in the teardown's warning */
	int watch_docker0; /* tests that start a dockerd: warn when docker0 went away */
	char state[128];   /* the state directory, from testfault_state_new() */
	int had_docker0;   /* whether the host had docker0 at the setup */
};

/* In the parent, before the case's tests: a fresh state directory, and whether docker0 is
 * there when F watches it. */
void testfault_setup_fixture(struct testfault_fixture *f);
/* In the parent, after them: testfault_sweep() of F's state directory, then a warning on
 * stderr when F watches docker0 and the host had it but has it no more. */
void testfault_teardown_fixture(const struct testfault_fixture *f);
/* Aborts the test when F watches docker0 and the host had it at the setup but has it no more:
 * for the end of a test that ran a dockerd, so the loss fails the test that caused it. */
void testfault_assert_docker0(const struct testfault_fixture *f);

struct testfault_engine {
	char dir[160];	/* data-root, exec-root, pid file, socket, log */
	char sock[200]; /* DIR/sock */
	char host[220]; /* unix://DIR/sock, for --docker-host */
	char netns[64]; /* ip netns name */
	pid_t pid;	/* dockerd, while it runs */
};

/*
 * Starts dockerd with its own data-root, exec-root, pid file and socket, --bridge=none
 * --iptables=false --ip-masq=false, inside a network namespace of its own: started in the
 * host's, --bridge=none deletes the host's docker0 and the machine's engine can no longer run
 * a RUN step. Waits for /_ping, loads FORJA_TEST_BASE_IMAGE from the machine's engine, and
 * relays 127.0.0.1:REGISTRY_PORT inside the namespace to the host's 127.0.0.1:REGISTRY_PORT so
 * the engine can push there (0 = no relay). Aborts the test on failure.
 */
void testfault_engine_start(struct testfault_engine *e, const char *state, unsigned registry_port);
/* The port of the machine's registry (FORJA_TEST_REGISTRY, host:port), for the relay of
 * testfault_engine_start(). Aborts the test when it is not set or names no port. */
unsigned testfault_machine_registry_port(void);
/* SIGKILL to dockerd, reaped. */
void testfault_engine_kill(struct testfault_engine *e);
/* dockerd again, same directories and namespace; returns the milliseconds until /_ping. */
long testfault_engine_restart(struct testfault_engine *e);
/* SIGTERM, wait (30 s at most, then SIGKILL). */
void testfault_engine_stop(struct testfault_engine *e);

struct testfault_registry {
	char dir[160]; /* config, storage, log */
	unsigned port;
	char host[32]; /* 127.0.0.1:PORT */
	pid_t pid;
};

/* Starts `docker-registry serve` on a free loopback port with storage in STATE/registry-PORT. */
void testfault_registry_start(struct testfault_registry *r, const char *state);
/* SIGTERM and wait: the registry is gone, its storage stays. */
void testfault_registry_stop(struct testfault_registry *r);
/* The same registry again (same port, same storage); returns the milliseconds until /v2/. */
long testfault_registry_restart(struct testfault_registry *r);

/* Mounts a tmpfs of SIZE (mount(8) syntax, "8m") on DIR (created). Needs root. */
void testfault_tmpfs_mount(const char *dir, const char *size);
/* Fills the filesystem holding DIR with DIR/NAME until a write fails with ENOSPC. */
void testfault_fill(const char *dir, const char *name);

/* Monotonic milliseconds. */
long long testfault_ms(void);

#endif
