#include "testfault.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testenv.h"

#define READY_MS 60000

long long testfault_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void pause_ms(int ms)
{
	struct timespec d = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&d, NULL);
}

void testfault_state_new(char *dir, size_t len)
{
	snprintf(dir, len, "/tmp/forja-fault-XXXXXX");
	ck_assert_msg(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

int testfault_has_docker0(void)
{
	struct stat st;
	return stat("/sys/class/net/docker0", &st) == 0;
}

void testfault_setup_fixture(struct testfault_fixture *f)
{
	f->had_docker0 = f->watch_docker0 && testfault_has_docker0();
	testfault_state_new(f->state, sizeof(f->state));
}

void testfault_teardown_fixture(const struct testfault_fixture *f)
{
	testfault_sweep(f->state);
	if (f->watch_docker0 && f->had_docker0 && !testfault_has_docker0())
		fprintf(stderr, "%s: docker0 is gone after the test\n", f->test);
}

void testfault_assert_docker0(const struct testfault_fixture *f)
{
	ck_assert_msg(!f->watch_docker0 || !f->had_docker0 || testfault_has_docker0(),
		      "the host's docker0 bridge disappeared during the test");
}

static void write_pidfile(const char *state, const char *name, pid_t pid)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/%s.pid", state, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%d\n", (int)pid);
	fclose(f);
}

static pid_t read_pid(const char *path)
{
	int pid = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

/* Forks and execs ARGV with stdout and stderr appended to LOG; the pid is also written to
 * STATE/NAME.pid for the sweep. */
static pid_t spawn(const char *state, const char *name, char *const argv[], const char *log)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		setsid(); /* its own process group: a ^C to the suite does not skip the sweep */
		execvp(argv[0], argv);
		_exit(127);
	}
	write_pidfile(state, name, pid);
	return pid;
}

/* Waits up to MS for PID (a child of this process) to exit; 0 when it did. */
static int reap(pid_t pid, int ms)
{
	long long end = testfault_ms() + ms;
	for (;;) {
		pid_t r = waitpid(pid, NULL, WNOHANG);
		if (r == pid || (r < 0 && errno == ECHILD))
			return 0;
		if (testfault_ms() > end)
			return -1;
		pause_ms(20);
	}
}

/* Whether PID runs: a zombie does not (this machine's init may never reap one). */
static int alive(pid_t pid)
{
	char path[64], buf[256];
	if (pid <= 0 || kill(pid, 0) != 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *paren = strrchr(buf, ')');
	return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

/* Stops PID, which may not be our child (the sweep runs in the parent): SIGTERM, poll. */
static void stop_foreign(pid_t pid)
{
	if (!alive(pid))
		return;
	kill(pid, SIGTERM);
	long long end = testfault_ms() + 30000;
	while (alive(pid) && testfault_ms() < end) {
		waitpid(pid, NULL, WNOHANG);
		pause_ms(50);
	}
	if (alive(pid)) {
		kill(pid, SIGKILL);
		pause_ms(200);
		waitpid(pid, NULL, WNOHANG);
	}
}

static int run_cmd(const char *cmd)
{
	int st = system(cmd);
	return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

/* Mount points under DIR, deepest first, detached (dockerd leaves overlay and bind mounts). */
static void unmount_under(const char *dir)
{
	char line[4096], *mounts[256];
	int n = 0;
	size_t dl = strlen(dir);
	FILE *f = fopen("/proc/self/mounts", "r");
	if (!f)
		return;
	while (n < 256 && fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');
		char *mp = sp ? sp + 1 : NULL;
		char *end = mp ? strchr(mp, ' ') : NULL;
		if (!end)
			continue;
		*end = '\0';
		if (strncmp(mp, dir, dl) == 0 && (mp[dl] == '/' || mp[dl] == '\0'))
			mounts[n++] = strdup(mp);
	}
	fclose(f);
	for (int i = n - 1; i >= 0; i--) {
		umount2(mounts[i], MNT_DETACH);
		free(mounts[i]);
	}
}

/* Container shims of a killed engine outlive it; their command line names the state
 * directory, which no process but this test's own can. */
static void kill_naming(const char *dir)
{
	DIR *d = opendir("/proc");
	char path[300], cmd[4096];
	for (struct dirent *de = d ? readdir(d) : NULL; de; de = readdir(d)) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 1 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		for (size_t i = 0; i < n; i++)
			cmd[i] = cmd[i] ? cmd[i] : ' ';
		cmd[n] = '\0';
		if (strstr(cmd, dir))
			kill((pid_t)pid, SIGKILL);
	}
	if (d)
		closedir(d);
}

void testfault_sweep(const char *dir)
{
	char path[600], cmd[700], ns[64] = "";
	DIR *d;
	if (!dir || !dir[0])
		return;
	/* dockerd first (it stops its containerd), then whatever else ran */
	snprintf(path, sizeof(path), "%s/engine/pid", dir);
	stop_foreign(read_pid(path));
	d = opendir(dir);
	for (struct dirent *de = d ? readdir(d) : NULL; de; de = readdir(d)) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".pid") == 0) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			stop_foreign(read_pid(path));
		}
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/engine/exec/containerd/containerd.pid", dir);
	stop_foreign(read_pid(path));
	kill_naming(dir);
	snprintf(path, sizeof(path), "%s/netns", dir);
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(ns, sizeof(ns), f))
			ns[0] = '\0';
		fclose(f);
		ns[strcspn(ns, "\n")] = '\0';
	}
	if (ns[0]) {
		snprintf(cmd, sizeof(cmd), "ip netns del '%s' 2>/dev/null", ns);
		run_cmd(cmd);
	}
	unmount_under(dir);
	if (!getenv("FORJA_TEST_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		run_cmd(cmd);
	}
}

/* ---- a relay from inside the engine's namespace to the host's loopback ------------------ */

struct relay {
	int listen_fd;
	unsigned port;
};

struct pipe_pair {
	int a, b;
};

static void *relay_copy(void *arg)
{
	struct pipe_pair *p = arg;
	char buf[65536];
	struct pollfd fds[2] = {{.fd = p->a, .events = POLLIN}, {.fd = p->b, .events = POLLIN}};
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		int from = (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 0 : 1;
		int src = from == 0 ? p->a : p->b, dst = from == 0 ? p->b : p->a;
		ssize_t n = read(src, buf, sizeof(buf));
		if (n <= 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(dst, buf + off, (size_t)(n - off));
			if (w <= 0)
				goto out;
			off += w;
		}
	}
out:
	close(p->a);
	close(p->b);
	free(p);
	return NULL;
}

static void *relay_main(void *arg)
{
	struct relay *r = arg;
	for (;;) {
		int in = accept(r->listen_fd, NULL, NULL);
		if (in < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL;
		}
		/* this thread is back in the host's namespace: the outer end reaches its loopback
		 */
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)r->port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int out = socket(AF_INET, SOCK_STREAM, 0);
		if (out < 0 || connect(out, (struct sockaddr *)&a, sizeof(a)) != 0) {
			close(in);
			if (out >= 0)
				close(out);
			continue;
		}
		struct pipe_pair *p = malloc(sizeof(*p));
		pthread_t t;
		p->a = in;
		p->b = out;
		if (pthread_create(&t, NULL, relay_copy, p) != 0) {
			close(in);
			close(out);
			free(p);
			continue;
		}
		pthread_detach(t);
	}
}

struct relay_start {
	const char *netns_path;
	unsigned port;
	int listen_fd;
	int err;
};

/* setns() moves the calling thread only: done on a thread of its own, which binds inside the
 * engine's namespace and comes back before it connects anywhere. */
static void *relay_bind(void *arg)
{
	struct relay_start *s = arg;
	int host = open("/proc/thread-self/ns/net", O_RDONLY);
	int target = open(s->netns_path, O_RDONLY);
	s->listen_fd = -1;
	s->err = -1;
	if (host >= 0 && target >= 0 && setns(target, CLONE_NEWNET) == 0) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)s->port)};
		int one = 1;
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (s->listen_fd >= 0 &&
		    bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		    listen(s->listen_fd, 64) == 0 && setns(host, CLONE_NEWNET) == 0)
			s->err = 0;
	}
	if (host >= 0)
		close(host);
	if (target >= 0)
		close(target);
	return NULL;
}

static void relay_start(const char *netns, unsigned port)
{
	char path[128];
	pthread_t t;
	snprintf(path, sizeof(path), "/run/netns/%s", netns);
	struct relay_start s = {.netns_path = path, .port = port};
	ck_assert_int_eq(pthread_create(&t, NULL, relay_bind, &s), 0);
	pthread_join(t, NULL);
	ck_assert_msg(s.err == 0, "cannot listen on 127.0.0.1:%u inside %s", port, netns);
	struct relay *r = malloc(sizeof(*r));
	r->listen_fd = s.listen_fd;
	r->port = port;
	ck_assert_int_eq(pthread_create(&t, NULL, relay_main, r), 0);
	pthread_detach(t); /* lives as long as the test process */
}

/* ---- the engine ------------------------------------------------------------------------- */

static int http_ok(const char *url, const char *unix_sock)
{
	CURL *h = curl_easy_init();
	long status = 0;
	curl_easy_setopt(h, CURLOPT_URL, url);
	if (unix_sock)
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, unix_sock);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	int ok = curl_easy_perform(h) == CURLE_OK &&
		 curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status == 200;
	curl_easy_cleanup(h);
	return ok;
}

/* The last bytes of LOG into BUF: the state directory is swept after the run, so a failure
 * to start says in the test's own output what the process said. */
static const char *log_tail(const char *log, char *buf, size_t size)
{
	buf[0] = '\0';
	FILE *f = fopen(log, "r");
	if (!f)
		return buf;
	if (fseek(f, 0, SEEK_END) == 0) {
		long end = ftell(f);
		long from = end > (long)size - 1 ? end - ((long)size - 1) : 0;
		if (fseek(f, from, SEEK_SET) == 0)
			buf[fread(buf, 1, size - 1, f)] = '\0';
	}
	fclose(f);
	return buf;
}

/* Milliseconds until URL answers 200 while PID lives; aborts the test after READY_MS. */
static long wait_ready(const char *what, const char *url, const char *sock, pid_t pid,
		       const char *log)
{
	char tail[1500];
	long long start = testfault_ms();
	while (!http_ok(url, sock)) {
		ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0,
			      "%s exited at start; its log ends:\n%s", what,
			      log_tail(log, tail, sizeof(tail)));
		ck_assert_msg(testfault_ms() - start < READY_MS,
			      "%s not ready after %d s; its log ends:\n%s", what, READY_MS / 1000,
			      log_tail(log, tail, sizeof(tail)));
		pause_ms(50);
	}
	return (long)(testfault_ms() - start);
}

static long engine_spawn(struct testfault_engine *e, const char *state)
{
	char nsarg[128], root[200], exec_root[200], pidfile[200], hflag[230], log[200];
	snprintf(nsarg, sizeof(nsarg), "--net=/run/netns/%s", e->netns);
	snprintf(root, sizeof(root), "%s/root", e->dir);
	snprintf(exec_root, sizeof(exec_root), "%s/exec", e->dir);
	snprintf(pidfile, sizeof(pidfile), "%s/pid", e->dir);
	snprintf(hflag, sizeof(hflag), "unix://%s", e->sock);
	snprintf(log, sizeof(log), "%s/log", e->dir);
	char *const argv[] = {
	    "nsenter",	   nsarg,	    "dockerd",		"--data-root",	   root,
	    "--exec-root", exec_root,	    "--pidfile",	pidfile,	   "-H",
	    hflag,	   "--bridge=none", "--iptables=false", "--ip-masq=false", NULL};
	unlink(e->sock);
	e->pid = spawn(state, "dockerd", argv, log);
	return wait_ready("dockerd", "http://localhost/_ping", e->sock, e->pid, log);
}

void testfault_engine_start(struct testfault_engine *e, const char *state, unsigned registry_port)
{
	char cmd[800], path[200];
	memset(e, 0, sizeof(*e));
	/* what dockerd leaves behind when it is killed becomes ours to reap, not init's */
	ck_assert_int_eq(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	snprintf(e->dir, sizeof(e->dir), "%s/engine", state);
	ck_assert_int_eq(mkdir(e->dir, 0700), 0);
	snprintf(e->sock, sizeof(e->sock), "%s/sock", e->dir);
	ck_assert_uint_lt(strlen(e->sock), 108);
	snprintf(e->host, sizeof(e->host), "unix://%s", e->sock);
	snprintf(e->netns, sizeof(e->netns), "forja-fault-%d", (int)getpid());
	snprintf(path, sizeof(path), "%s/netns", state);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "%s\n", e->netns);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "ip netns add '%s' && ip netns exec '%s' ip link set lo up",
		 e->netns, e->netns);
	ck_assert_msg(run_cmd(cmd) == 0, "cannot make network namespace %s", e->netns);
	engine_spawn(e, state);
	/* Docker Hub is out of reach: the base image comes from the machine's engine */
	snprintf(cmd, sizeof(cmd), "docker save '%s' | docker -H '%s' load -q >/dev/null",
		 testenv_need("FORJA_TEST_BASE_IMAGE"), e->host);
	ck_assert_msg(run_cmd(cmd) == 0, "cannot load %s into the test's engine",
		      testenv_need("FORJA_TEST_BASE_IMAGE"));
	if (registry_port)
		relay_start(e->netns, registry_port);
}

unsigned testfault_machine_registry_port(void)
{
	const char *reg = testenv_need("FORJA_TEST_REGISTRY");
	const char *colon = strrchr(reg, ':');
	ck_assert_msg(colon != NULL, "FORJA_TEST_REGISTRY=%s names no port", reg);
	return (unsigned)strtoul(colon + 1, NULL, 10);
}

void testfault_engine_kill(struct testfault_engine *e)
{
	char path[300];
	snprintf(path, sizeof(path), "%s/exec/containerd/containerd.pid", e->dir);
	pid_t containerd = read_pid(path);
	ck_assert_int_gt(e->pid, 0);
	ck_assert_int_eq(kill(e->pid, SIGKILL), 0);
	ck_assert_int_eq(reap(e->pid, 10000), 0);
	e->pid = 0;
	/* containerd dies with its dockerd and is reparented to us (the subreaper): reap it, or
	 * the next dockerd takes the zombie for a running containerd and waits for it forever */
	long long end = testfault_ms() + 10000;
	while (containerd > 0 && alive(containerd) && testfault_ms() < end)
		pause_ms(20);
	/* a containerd that outlives the wait would be taken over by the next dockerd */
	if (containerd > 0 && alive(containerd)) {
		kill(containerd, SIGKILL);
		reap(containerd, 5000);
	} else if (containerd > 0) {
		waitpid(containerd, NULL, WNOHANG);
	}
}

long testfault_engine_restart(struct testfault_engine *e)
{
	char state[200];
	snprintf(state, sizeof(state), "%.*s", (int)(strrchr(e->dir, '/') - e->dir), e->dir);
	return engine_spawn(e, state);
}

void testfault_engine_stop(struct testfault_engine *e)
{
	if (e->pid <= 0)
		return;
	kill(e->pid, SIGTERM);
	if (reap(e->pid, 30000) != 0) {
		kill(e->pid, SIGKILL);
		reap(e->pid, 5000);
	}
	e->pid = 0;
}

/* ---- the registry ----------------------------------------------------------------------- */

static long registry_spawn(struct testfault_registry *r, const char *state)
{
	char conf[200], log[200], url[64];
	snprintf(conf, sizeof(conf), "%s/registry.yml", r->dir);
	snprintf(log, sizeof(log), "%s/log", r->dir);
	snprintf(url, sizeof(url), "http://%s/v2/", r->host);
	char *const argv[] = {"docker-registry", "serve", conf, NULL};
	char name[64];
	snprintf(name, sizeof(name), "registry-%u", r->port);
	r->pid = spawn(state, name, argv, log);
	return wait_ready("docker-registry", url, NULL, r->pid, log);
}

void testfault_registry_start(struct testfault_registry *r, const char *state)
{
	char path[200];
	memset(r, 0, sizeof(*r));
	/* one state directory may see several registries (one per test of a case) */
	r->port = testenv_free_port();
	snprintf(r->dir, sizeof(r->dir), "%s/registry-%u", state, r->port);
	ck_assert_int_eq(mkdir(r->dir, 0700), 0);
	snprintf(r->host, sizeof(r->host), "127.0.0.1:%u", r->port);
	snprintf(path, sizeof(path), "%s/registry.yml", r->dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
		"    rootdirectory: %s/data\n  delete:\n    enabled: true\n"
		"http:\n  addr: %s\n",
		r->dir, r->host);
	fclose(f);
	registry_spawn(r, state);
}

void testfault_registry_stop(struct testfault_registry *r)
{
	if (r->pid <= 0)
		return;
	kill(r->pid, SIGTERM);
	if (reap(r->pid, 30000) != 0) {
		kill(r->pid, SIGKILL);
		reap(r->pid, 5000);
	}
	r->pid = 0;
}

long testfault_registry_restart(struct testfault_registry *r)
{
	char state[200];
	snprintf(state, sizeof(state), "%.*s", (int)(strrchr(r->dir, '/') - r->dir), r->dir);
	return registry_spawn(r, state);
}

/* ---- disk ------------------------------------------------------------------------------- */

void testfault_tmpfs_mount(const char *dir, const char *size)
{
	char opts[64];
	ck_assert_msg(mkdir(dir, 0700) == 0 || errno == EEXIST, "mkdir %s: %s", dir,
		      strerror(errno));
	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	ck_assert_msg(mount("tmpfs", dir, "tmpfs", 0, opts) == 0, "mount tmpfs on %s: %s", dir,
		      strerror(errno));
}

void testfault_fill(const char *dir, const char *name)
{
	char path[400], block[65536];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	memset(block, 'x', sizeof(block));
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	ck_assert_int_ge(fd, 0);
	size_t chunk = sizeof(block);
	for (;;) {
		ssize_t w = write(fd, block, chunk);
		if (w < 0 && errno == ENOSPC) {
			if (chunk == 1)
				break;
			chunk /= 2; /* the last pages too, down to the byte */
			continue;
		}
		ck_assert_msg(w >= 0, "filling %s: %s", path, strerror(errno));
	}
	close(fd);
}
