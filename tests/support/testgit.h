/* Git fixtures: bare repositories built from files given inline, so each test owns its
 * repository and commits, served by the test command's
 *   `git daemon`            under FORJA_TEST_GIT_DIR, anonymous;
 *   lighttpd + http-backend under FORJA_TEST_HTTP_GIT_ROOT at FORJA_TEST_HTTP_GIT_URL, basic auth
 *                           as FORJA_TEST_HTTP_GIT_USER / _PASSWORD or x-access-token / _TOKEN;
 *   sshd                    under FORJA_TEST_SSH_GIT_ROOT at FORJA_TEST_SSH_GIT_URL, deploy key
 *                           FORJA_TEST_SSH_GIT_KEY, host key in FORJA_TEST_SSH_GIT_KNOWN_HOSTS
 *                           (FORJA_TEST_SSH_GIT_WRONG_KNOWN_HOSTS names another key). */
#ifndef FORJA_TESTGIT_H
#define FORJA_TESTGIT_H

/*
 * Commits FILES (NULL-terminated list of path, content, path, content, ...) on BRANCH of the
 * repository NAME (created on first use, or continued) and pushes it to the served bare repo
 * NAME.git. SHA (41 bytes) gets the full commit id. Returns 0 or aborts the test.
 * Each call makes one new commit on top of the branch's previous tip.
 */
int testgit_commit(const char *name, const char *branch, const char *const *files, char *sha);
/* Clone URL of NAME: FORJA_TEST_GIT_URL + NAME.git, into BUF. */
void testgit_url(const char *name, char *buf, unsigned len);

/* As testgit_commit(), into the repository NAME.git served over authenticated HTTP. */
int testgit_http_commit(const char *name, const char *branch, const char *const *files, char *sha);
/* Clone URL of NAME over HTTP, without credentials: FORJA_TEST_HTTP_GIT_URL/NAME.git, into BUF. */
void testgit_http_url(const char *name, char *buf, unsigned len);
/*
 * Writes PATH (mode 0600, replaced if it exists) with one git-credential-store line for the HTTP
 * server: http://USER:PASSWORD@127.0.0.1:PORT. Returns 0 or aborts the test.
 */
int testgit_write_credentials(const char *path);

/* As testgit_commit(), into the repository NAME.git served over ssh. */
int testgit_ssh_commit(const char *name, const char *branch, const char *const *files, char *sha);
/* Clone URL of NAME over ssh: FORJA_TEST_SSH_GIT_URL + FORJA_TEST_SSH_GIT_ROOT/NAME.git. */
void testgit_ssh_url(const char *name, char *buf, unsigned len);

/* A repository name unique to this process and call (prefix + pid + counter), into BUF. */
void testgit_unique(const char *prefix, char *buf, unsigned len);

#endif
