/* File-system helpers the core and the edge share, so a directory is made one way everywhere. */
#ifndef FORJA_FS_H
#define FORJA_FS_H

#include <sys/types.h>

/*
 * mkdir -p: PATH (borrowed) and each missing parent, created with MODE; directories that
 * already exist are left as they are. 0, FORJA_EINVAL for an empty path or one of PATH_MAX
 * bytes or more, or FORJA_EIO; on error errno says why (for the caller's message).
 */
int fs_make_dirs(const char *path, mode_t mode);

#endif
