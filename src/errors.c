#include "errors.h"

const char *errors_text(int err)
{
	switch (err) {
	case FORJA_OK: return "ok";
	case FORJA_ENOMEM: return "out of memory";
	case FORJA_EINVAL: return "invalid input";
	case FORJA_ENOTFOUND: return "not found";
	case FORJA_ECONFLICT: return "conflict";
	case FORJA_EIO: return "i/o error";
	case FORJA_EUNAVAILABLE: return "service unavailable";
	case FORJA_ETIMEDOUT: return "timed out";
	case FORJA_ECANCELLED: return "cancelled";
	case FORJA_EUNSUPPORTED: return "not supported";
	case FORJA_EAUTH: return "authentication failed";
	case FORJA_EDB: return "database error";
	case FORJA_EUPSTREAM: return "upstream error";
	case FORJA_ETOOBIG: return "too large";
	case FORJA_EBUSY: return "busy, retry later";
	case FORJA_ENOSPC: return "no space left on the data directory";
	}
	return "unknown error";
}
