#include "testgit.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testenv.h"

static void testgit_run(const char *cmd)
{
	int rc = system(cmd);
	ck_assert_msg(rc == 0, "command failed (%d): %s", rc, cmd);
}

static void testgit_write(const char *dir, const char *path, const char *content)
{
	char full[1024], cmd[1200];
	const char *slash = strrchr(path, '/');
	FILE *f;

	if (slash) {
		snprintf(cmd, sizeof(cmd), "mkdir -p '%s/%.*s'", dir, (int)(slash - path), path);
		testgit_run(cmd);
	}
	snprintf(full, sizeof(full), "%s/%s", dir, path);
	f = fopen(full, "w");
	ck_assert_msg(f != NULL, "cannot write %s", full);
	fputs(content, f);
	fclose(f);
}

/* One commit on BRANCH of NAME, pushed to SERVED/NAME.git; the work tree is SERVED/.work/NAME. */
static int commit_in(const char *served, const char *name, const char *branch,
		     const char *const *files, char *sha)
{
	char work[256], bare[256], cmd[4096];
	struct stat st;
	FILE *p;

	snprintf(work, sizeof(work), "%s/.work/%s", served, name);
	snprintf(bare, sizeof(bare), "%s/%s.git", served, name);
	if (stat(work, &st)) {
		snprintf(cmd, sizeof(cmd),
			 "mkdir -p '%s' && git -C '%s' init -q -b '%s' && "
			 "git -C '%s' config user.email test@forja.invalid && "
			 "git -C '%s' config user.name 'Forja Test' && "
			 "git init -q --bare '%s' && touch '%s/git-daemon-export-ok'",
			 work, work, branch, work, work, bare, bare);
		testgit_run(cmd);
	}
	snprintf(cmd, sizeof(cmd),
		 "git -C '%s' checkout -q -B '%s' 2>/dev/null || git -C '%s' checkout -q -b '%s'",
		 work, branch, work, branch);
	testgit_run(cmd);
	for (size_t i = 0; files && files[i] && files[i + 1]; i += 2)
		testgit_write(work, files[i], files[i + 1]);
	snprintf(cmd, sizeof(cmd),
		 "git -C '%s' add -A && git -C '%s' commit -q --allow-empty -m 'test commit' && "
		 "git -C '%s' push -q -f '%s' '%s:refs/heads/%s'",
		 work, work, work, bare, branch, branch);
	testgit_run(cmd);
	snprintf(cmd, sizeof(cmd), "git -C '%s' rev-parse HEAD", work);
	p = popen(cmd, "r");
	ck_assert_msg(p != NULL, "popen failed");
	ck_assert_msg(fgets(sha, 41, p) != NULL, "no sha from git rev-parse");
	pclose(p);
	sha[40] = '\0';
	return 0;
}

int testgit_commit(const char *name, const char *branch, const char *const *files, char *sha)
{
	return commit_in(testenv_need("FORJA_TEST_GIT_DIR"), name, branch, files, sha);
}

int testgit_http_commit(const char *name, const char *branch, const char *const *files, char *sha)
{
	return commit_in(testenv_need("FORJA_TEST_HTTP_GIT_ROOT"), name, branch, files, sha);
}

int testgit_ssh_commit(const char *name, const char *branch, const char *const *files, char *sha)
{
	return commit_in(testenv_need("FORJA_TEST_SSH_GIT_ROOT"), name, branch, files, sha);
}

void testgit_http_url(const char *name, char *buf, unsigned len)
{
	snprintf(buf, len, "%s/%s.git", testenv_need("FORJA_TEST_HTTP_GIT_URL"), name);
}

void testgit_ssh_url(const char *name, char *buf, unsigned len)
{
	snprintf(buf, len, "%s%s/%s.git", testenv_need("FORJA_TEST_SSH_GIT_URL"),
		 testenv_need("FORJA_TEST_SSH_GIT_ROOT"), name);
}

int testgit_write_credentials(const char *path)
{
	const char *url = testenv_need("FORJA_TEST_HTTP_GIT_URL");
	const char *user = testenv_need("FORJA_TEST_HTTP_GIT_USER");
	const char *password = testenv_need("FORJA_TEST_HTTP_GIT_PASSWORD");
	const char *host = strstr(url, "://");
	size_t host_len;
	FILE *f;
	int fd;

	ck_assert_msg(host != NULL, "FORJA_TEST_HTTP_GIT_URL has no scheme: %s", url);
	host += 3;
	host_len = strcspn(host, "/");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_msg(fd >= 0, "cannot write %s", path);
	/* O_CREAT leaves an existing file's mode: credentials must not stay readable by others */
	ck_assert_msg(fchmod(fd, 0600) == 0, "cannot chmod %s", path);
	f = fdopen(fd, "w");
	ck_assert_msg(f != NULL, "fdopen %s failed", path);
	fprintf(f, "%.*s%s:%s@%.*s\n", (int)(host - url), url, user, password, (int)host_len, host);
	ck_assert_msg(fclose(f) == 0, "cannot write %s", path);
	return 0;
}

void testgit_url(const char *name, char *buf, unsigned len)
{
	snprintf(buf, len, "%s%s.git", testenv_need("FORJA_TEST_GIT_URL"), name);
}

void testgit_unique(const char *prefix, char *buf, unsigned len)
{
	static unsigned counter;
	snprintf(buf, len, "%s-%d-%u", prefix, (int)getpid(), counter++);
}
