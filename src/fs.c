#include "fs.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errors.h"

static int make_one(const char *dir, mode_t mode)
{
	return mkdir(dir, mode) && errno != EEXIST ? FORJA_EIO : 0;
}

int fs_make_dirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	int rc;

	if (!len || len >= sizeof(buf)) {
		errno = len ? ENAMETOOLONG : ENOENT;
		return FORJA_EINVAL;
	}
	memcpy(buf, path, len + 1);
	/* each parent in turn: cut the path at every '/' but a leading one */
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		rc = make_one(buf, mode);
		if (rc)
			return rc;
		*p = '/';
	}
	return make_one(buf, mode);
}

int fs_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return FORJA_EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}
