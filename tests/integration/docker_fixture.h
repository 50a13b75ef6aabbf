/* Shared pieces of the engine/registry/builder integration tests: a real engine and registry
 * from the test environment, a log collector with a trigger, and private registry processes. */
#ifndef FORJA_DOCKER_FIXTURE_H
#define FORJA_DOCKER_FIXTURE_H

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "builder.h"
#include "deadline.h"
#include "engine.h"
#include "errors.h"
#include "registry.h"
#include "testenv.h"
#include "testgit.h"

/* Collects the build log; when TRIGGER first shows up in it, ON_TRIGGER runs (once). */
struct logbuf {
	char *text;
	size_t len;
	const char *trigger;
	void (*on_trigger)(void *ud);
	void *ud;
	int fired;
};

static inline void logbuf_write(void *ud, const char *text, size_t len)
{
	struct logbuf *l = ud;
	char *p = realloc(l->text, l->len + len + 1);

	ck_assert_ptr_nonnull(p);
	l->text = p;
	memcpy(l->text + l->len, text, len);
	l->len += len;
	l->text[l->len] = '\0';
	if (l->trigger && !l->fired && strstr(l->text, l->trigger)) {
		l->fired = 1;
		l->on_trigger(l->ud);
	}
}

static inline void logbuf_reset(struct logbuf *l)
{
	l->len = 0;
	if (l->text)
		l->text[0] = '\0';
}

static inline const char *logbuf_str(const struct logbuf *l)
{
	return l->text ? l->text : "";
}

/* A docker-registry process owned by the test, on a free loopback port. */
struct testreg {
	pid_t pid;
	char dir[128];
	char host[64]; /* 127.0.0.1:PORT */
	char url[96];
	unsigned port;
};

static inline int64_t fx_now_ms(void)
{
	return deadline_now_ms();
}

static inline void fx_run(const char *cmd)
{
	int rc = system(cmd);

	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

/*
 * Starts docker-registry. HTPASSWD_USER/PASS (NULL = open) turn on basic auth with a bcrypt
 * htpasswd file; TLS serves https with a fresh self-signed certificate (DIR/cert.pem).
 * Waits (polling, 15 s deadline) until /v2/ answers.
 */
static inline void testreg_start(struct testreg *r, const char *user, const char *pass, int tls)
{
	char cfg[256], cmd[1024];
	FILE *f;
	int64_t deadline;

	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/forja-reg-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(r->dir));
	r->port = testenv_free_port();
	snprintf(r->host, sizeof(r->host), "127.0.0.1:%u", r->port);
	snprintf(r->url, sizeof(r->url), "%s://127.0.0.1:%u", tls ? "https" : "http", r->port);
	if (user) {
		snprintf(cmd, sizeof(cmd), "htpasswd -Bbn '%s' '%s' > '%s/htpasswd'", user, pass,
			 r->dir);
		fx_run(cmd);
	}
	if (tls) {
		snprintf(cmd, sizeof(cmd),
			 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
			 "-addext subjectAltName=IP:127.0.0.1 -keyout '%s/key.pem' "
			 "-out '%s/cert.pem' 2>/dev/null",
			 r->dir, r->dir);
		fx_run(cmd);
	}
	snprintf(cfg, sizeof(cfg), "%s/config.yml", r->dir);
	f = fopen(cfg, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
		"    rootdirectory: %s/data\n  delete:\n    enabled: true\n"
		"http:\n  addr: 127.0.0.1:%u\n",
		r->dir, r->port);
	if (tls)
		fprintf(f, "  tls:\n    certificate: %s/cert.pem\n    key: %s/key.pem\n", r->dir,
			r->dir);
	if (user)
		fprintf(f, "auth:\n  htpasswd:\n    realm: forja-test\n    path: %s/htpasswd\n",
			r->dir);
	fclose(f);
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		/* dies with the test process even when an assertion ends it early */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		char logf[200];

		snprintf(logf, sizeof(logf), "%s/registry.log", r->dir);
		if (!freopen(logf, "w", stdout) || dup2(fileno(stdout), 2) < 0)
			_exit(126);
		execlp("docker-registry", "docker-registry", "serve", cfg, (char *)NULL);
		_exit(127);
	}
	deadline = fx_now_ms() + 15000;
	for (;;) {
		struct registry *probe = NULL;
		struct registry_opts o = {.url = r->url, .ca_file = NULL, .timeout_s = 2};
		char err[256], ca[200];
		int rc;

		snprintf(ca, sizeof(ca), "%s/cert.pem", r->dir);
		o.ca_file = tls ? ca : NULL;
		ck_assert_int_eq(registry_new(&o, &probe), 0);
		rc = registry_ping(probe, err, sizeof(err));
		registry_free(probe);
		/* 401 = up, with auth on */
		if (rc == 0 || rc == FORJA_EAUTH)
			break;
		ck_assert_msg(fx_now_ms() < deadline, "registry on %s not ready: %s", r->host, err);
		ck_assert_msg(waitpid(r->pid, NULL, WNOHANG) == 0, "registry exited at start");
		usleep(20000);
	}
}

/* SIGTERM to our own registry process, by pid; waits for it to be gone. */
static inline void testreg_kill(struct testreg *r)
{
	if (r->pid <= 0)
		return;
	kill(r->pid, SIGTERM);
	waitpid(r->pid, NULL, 0);
	r->pid = 0;
}

static inline void testreg_stop(struct testreg *r)
{
	char cmd[256];

	testreg_kill(r);
	if (r->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
		fx_run(cmd);
	}
}

/* Engine + registry + builder environment against REG_URL/REG_HOST. */
struct fx {
	struct engine *engine;
	struct registry *registry;
	struct source *source;
	char cache_dir[256];
	struct builder_env env;
	struct logbuf log;
	struct task_log elog;
	char reg_host[64];
	char reg_url[96];
};

static inline void fx_open_at(struct fx *f, const char *host, const char *url, const char *user,
			      const char *pass, const char *ca)
{
	const char *dh = getenv("DOCKER_HOST");
	struct registry_opts o = {
	    .url = url, .username = user, .password = pass, .ca_file = ca, .timeout_s = 10};

	memset(f, 0, sizeof(*f));
	snprintf(f->reg_host, sizeof(f->reg_host), "%s", host);
	snprintf(f->reg_url, sizeof(f->reg_url), "%s", url);
	ck_assert_int_eq(engine_new(dh && *dh ? dh : "unix:///var/run/docker.sock", &f->engine), 0);
	ck_assert_int_eq(registry_new(&o, &f->registry), 0);
	snprintf(f->cache_dir, sizeof(f->cache_dir), "%s/forja-fx-git.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(f->cache_dir));
	{
		struct source_config sc = {.cache_dir = f->cache_dir};

		ck_assert_int_eq(source_new(&sc, &f->source), 0);
	}
	f->env.engine = f->engine;
	f->env.source = f->source;
	f->env.registry = f->registry;
	f->env.registry_host = f->reg_host;
	f->env.registry_username = user;
	f->env.registry_password = pass;
	f->elog.write = logbuf_write;
	f->elog.ud = &f->log;
}

static inline void fx_open(struct fx *f)
{
	const char *reg = testenv_need("FORJA_TEST_REGISTRY");
	char url[96];

	snprintf(url, sizeof(url), "http://%s", reg);
	fx_open_at(f, reg, url, NULL, NULL, NULL);
}

static inline void fx_close(struct fx *f)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->cache_dir);
	fx_run(cmd);
	source_free(f->source);
	engine_free(f->engine);
	registry_free(f->registry);
	free(f->log.text);
}

/* A unique service name, usable as a git repository name too. */
static inline void fx_name(const char *prefix, char *buf, unsigned len)
{
	testgit_unique(prefix, buf, len);
}

/* Output of a shell command (first line, trimmed) into BUF; returns its exit status. */
static inline int fx_capture(const char *cmd, char *buf, size_t len)
{
	FILE *p = popen(cmd, "r");
	int st;

	ck_assert_ptr_nonnull(p);
	buf[0] = '\0';
	if (fgets(buf, (int)len, p))
		buf[strcspn(buf, "\r\n")] = '\0';
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#endif
