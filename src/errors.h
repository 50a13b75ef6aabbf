/* Project-wide status codes: 0 is success, negative values say what failed.
 * Every module returns these; other libraries' conventions are translated at the call. */
#ifndef FORJA_ERRORS_H
#define FORJA_ERRORS_H

enum forja_err {
	FORJA_OK = 0,
	FORJA_ENOMEM = -1,	 /* allocation failed */
	FORJA_EINVAL = -2,	 /* bad input from the caller or the user */
	FORJA_ENOTFOUND = -3,	 /* no such build, file, image, ... */
	FORJA_ECONFLICT = -4,	 /* state forbids it (finished build, duplicate delivery) */
	FORJA_EIO = -5,		 /* local I/O failed (disk, database file) */
	FORJA_EUNAVAILABLE = -6, /* a peer (engine, registry, GitHub) cannot be reached */
	FORJA_ETIMEDOUT = -7,	 /* a deadline passed */
	FORJA_ECANCELLED = -8,	 /* cancelled on request */
	FORJA_EUNSUPPORTED = -9, /* valid but not something Forja does (AMI builds) */
	FORJA_EAUTH = -10,	 /* credentials missing or rejected */
	FORJA_EDB = -11,	 /* the history database failed */
	FORJA_EUPSTREAM = -12,	 /* a peer answered, but with an error */
	FORJA_ETOOBIG = -13,	 /* input over its bound */
	FORJA_EBUSY = -14,	 /* a limit on things open at once is reached: retry later */
	FORJA_ENOSPC = -15,	 /* the data directory's disk is full */
};

/* Static text for an error code; never NULL. */
const char *errors_text(int err);

#endif
