/* Child processes run by argv, never through a shell: spawned with posix_spawnp, stdin from
 * /dev/null (or a channel the caller writes, for a long-lived `git cat-file --batch`), stdout
 * and stderr read through pipes, stopped by a task_abort. Used for git. */
#ifndef FORJA_PROC_H
#define FORJA_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "dynbuf.h"
#include "task.h"

struct proc {
	pid_t pid; /* -1 when not running */
	int in;	   /* write end of the child's stdin (proc_spawn_duplex only), or -1 */
	int out;   /* read end of the child's stdout, or -1 */
	int err;   /* read end of the child's stderr, or -1 */
};

/*
 * Starts ARGV[0] (looked up in PATH) with ARGV and the environment ENV (NULL-terminated
 * "K=V" strings; borrowed). On success P holds the child and both pipes; FORJA_EIO otherwise.
 */
int proc_spawn(char *const argv[], char *const env[], struct proc *p);

/*
 * proc_spawn for a child that answers requests: P->in is a socket whose other end is the
 * child's stdin (written with proc_send, so a child that died is an error, never a SIGPIPE),
 * P->out its stdout, and its stderr is discarded (nothing reads it while the child lives, and
 * a full pipe would stall it). Closing P->in (proc_wait does) ends the child's input.
 */
int proc_spawn_duplex(char *const argv[], char *const env[], struct proc *p);

/* Writes all LEN bytes of BUF to P's stdin; FORJA_EIO when the child is gone. */
int proc_send(struct proc *p, const void *buf, size_t len);

/*
 * Reads the child's stdout into OUT (up to its cap; NULL discards it) and its stderr into
 * ERR (bounded, last bytes kept) until both close, then reaps it. Returns the exit status
 * (>= 0, 128 + signal when killed by one), or a negative forja_err: FORJA_ECANCELLED or
 * FORJA_ETIMEDOUT when AB fired (the child is killed first), FORJA_ETOOBIG when stdout went
 * past OUT's cap.
 */
int proc_collect(struct proc *p, const struct task_abort *ab, struct dynbuf *out,
		 struct dynbuf *err);

/* Kills (SIGKILL, our own child by its pid) and reaps P, closing its pipes. P may be idle. */
void proc_kill(struct proc *p);

/* Reaps P after its output was read elsewhere (closing its stdin first): exit status as in
 * proc_collect. */
int proc_wait(struct proc *p);

/*
 * A copy of the process environment for git children: no terminal prompts, no askpass, no
 * system or user git configuration (only what Forja passes), then EXTRA ("K=V", NULL-ended;
 * may be NULL). Owned by the caller: proc_env_free(). NULL on ENOMEM.
 */
char **proc_git_env(char *const extra[]);
void proc_env_free(char **env);

#endif
