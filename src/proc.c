#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errors.h"

extern char **environ;

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Starts ARGV with FDS[i] as its descriptor i, or /dev/null where FDS[i] is -1. */
static int spawn_fds(char *const argv[], char *const env[], const int fds[3], pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int rc = FORJA_EIO;

	posix_spawn_file_actions_init(&fa);
	for (int i = 0; i < 3; i++) {
		if (fds[i] >= 0)
			posix_spawn_file_actions_adddup2(&fa, fds[i], i);
		else
			posix_spawn_file_actions_addopen(&fa, i, "/dev/null",
							 i ? O_WRONLY : O_RDONLY, 0);
	}
	if (posix_spawnp(pid, argv[0], &fa, NULL, argv, env) == 0)
		rc = 0;
	else
		*pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	return rc;
}

int proc_spawn(char *const argv[], char *const env[], struct proc *p)
{
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, rc = FORJA_EIO;

	p->pid = -1;
	p->in = p->out = p->err = -1;
	if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC))
		goto out;
	rc = spawn_fds(argv, env, (const int[3]){-1, outp[1], errp[1]}, &p->pid);
	if (rc == 0) {
		p->out = outp[0];
		p->err = errp[0];
		outp[0] = errp[0] = -1;
	}
out:
	for (int i = 0; i < 2; i++) {
		close_fd(&outp[i]);
		close_fd(&errp[i]);
	}
	return rc;
}

int proc_spawn_duplex(char *const argv[], char *const env[], struct proc *p)
{
	int inp[2] = {-1, -1}, outp[2] = {-1, -1}, rc = FORJA_EIO;

	p->pid = -1;
	p->in = p->out = p->err = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, inp) || pipe2(outp, O_CLOEXEC))
		goto out;
	/* the child only reads: no half of the socket it could write back through */
	shutdown(inp[0], SHUT_WR);
	rc = spawn_fds(argv, env, (const int[3]){inp[0], outp[1], -1}, &p->pid);
	if (rc == 0) {
		p->in = inp[1];
		p->out = outp[0];
		inp[1] = outp[0] = -1;
	}
out:
	for (int i = 0; i < 2; i++) {
		close_fd(&inp[i]);
		close_fd(&outp[i]);
	}
	return rc;
}

int proc_send(struct proc *p, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = send(p->in, (const char *)buf + done, len - done, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FORJA_EIO;
		done += (size_t)n;
	}
	return 0;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

int proc_wait(struct proc *p)
{
	int status = 0;

	/* stdin first: a child reading requests ends once they do */
	close_fd(&p->in);
	close_fd(&p->out);
	close_fd(&p->err);
	if (p->pid < 0)
		return 255;
	while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR)
		;
	p->pid = -1;
	return exit_code(status);
}

void proc_kill(struct proc *p)
{
	if (p->pid > 0)
		kill(p->pid, SIGKILL);
	proc_wait(p);
}

/* Keeps the last bytes of stderr: git's fatal line comes at the end. */
static void keep_tail(struct dynbuf *err, const char *chunk, size_t n)
{
	if (!err)
		return;
	if (dynbuf_add(err, chunk, n) == 0)
		return;
	if (n >= err->max) {
		dynbuf_reset(err);
		dynbuf_add(err, chunk + n - err->max / 2, err->max / 2);
		return;
	}
	memmove(err->buf, err->buf + err->len / 2, err->len - err->len / 2);
	err->len -= err->len / 2;
	err->buf[err->len] = '\0';
	dynbuf_add(err, chunk, n);
}

/* One read from fds[i]; false once it closed. */
static int pump(struct pollfd *pfd, struct dynbuf *sink, bool is_err, int *open_fds)
{
	char chunk[8192];
	ssize_t r;

	if (pfd->fd < 0 || !(pfd->revents & (POLLIN | POLLHUP | POLLERR)))
		return 0;
	r = read(pfd->fd, chunk, sizeof(chunk));
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r <= 0) {
		pfd->fd = -1;
		(*open_fds)--;
		return 0;
	}
	if (is_err) {
		keep_tail(sink, chunk, (size_t)r);
		return 0;
	}
	return sink ? dynbuf_add(sink, chunk, (size_t)r) : 0;
}

int proc_collect(struct proc *p, const struct task_abort *ab, struct dynbuf *out,
		 struct dynbuf *err)
{
	struct pollfd fds[2] = {{.fd = p->out, .events = POLLIN}, {.fd = p->err, .events = POLLIN}};
	int open_fds = (p->out >= 0) + (p->err >= 0), why = 0, rc = 0;

	if (p->out < 0)
		fds[0].fd = -1;
	if (p->err < 0)
		fds[1].fd = -1;
	while (open_fds > 0 && !rc) {
		if (task_should_stop(ab, &why)) {
			rc = why;
			break;
		}
		if (poll(fds, 2, 100) < 0 && errno != EINTR) {
			rc = FORJA_EIO;
			break;
		}
		rc = pump(&fds[0], out, false, &open_fds);
		if (!rc)
			rc = pump(&fds[1], err, true, &open_fds);
	}
	if (rc) {
		proc_kill(p);
		return rc;
	}
	return proc_wait(p);
}

static bool drop_var(const char *kv)
{
	static const char *const dropped[] = {"GIT_TERMINAL_PROMPT=",
					      "GIT_ASKPASS=",
					      "SSH_ASKPASS=",
					      "GIT_CONFIG",
					      "GIT_SSH",
					      "GIT_DIR=",
					      "GIT_WORK_TREE=",
					      NULL};

	for (int i = 0; dropped[i]; i++)
		if (!strncmp(kv, dropped[i], strlen(dropped[i])))
			return true;
	return false;
}

char **proc_git_env(char *const extra[])
{
	static char *const fixed[] = {"GIT_TERMINAL_PROMPT=0",
				      "GIT_ASKPASS=true",
				      "SSH_ASKPASS=true",
				      "GIT_CONFIG_NOSYSTEM=1",
				      "GIT_CONFIG_GLOBAL=/dev/null",
				      NULL};
	size_t n = 0, x = 0, j = 0;
	char **env;

	while (environ[n])
		n++;
	while (extra && extra[x])
		x++;
	env = calloc(n + x + 8, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!drop_var(environ[i]))
			env[j++] = environ[i];
	for (size_t i = 0; fixed[i]; i++)
		env[j++] = fixed[i];
	for (size_t i = 0; i < x; i++)
		env[j++] = extra[i];
	return env;
}

void proc_env_free(char **env)
{
	/* the strings are borrowed from environ, the fixed list and the caller */
	free(env);
}
