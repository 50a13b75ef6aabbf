/* Git fixtures served by the test `git daemon`: bare repositories under FORJA_TEST_GIT_DIR
 * built from files given inline, so each test owns its repository and commits. */
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
/* A repository name unique to this process and call (prefix + pid + counter), into BUF. */
void testgit_unique(const char *prefix, char *buf, unsigned len);

#endif
