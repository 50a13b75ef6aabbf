/* File-system helpers the core and the edge share, so a directory is made one way everywhere. */
#ifndef FORJA_FS_H
#define FORJA_FS_H

#include <stddef.h>
#include <sys/types.h>

/*
 * mkdir -p: PATH (borrowed) and each missing parent, created with MODE; directories that
 * already exist are left as they are. 0, FORJA_EINVAL for an empty path or one of PATH_MAX
 * bytes or more, or FORJA_EIO; on error errno says why (for the caller's message).
 */
int fs_make_dirs(const char *path, mode_t mode);

/* Writes all LEN bytes of BUF to FD, again after a signal or a short write. 0, or FORJA_EIO
 * (errno says why). */
int fs_write_all(int fd, const void *buf, size_t len);

#endif
