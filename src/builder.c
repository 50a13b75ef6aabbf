#include "builder.h"
#include "errors.h"
#include <stdio.h>
/* stub: replaced by the build method */
int builder_validate(const struct build_spec *s, json_t *e) { return 0; }
int builder_image_ref(const char *r, const char *s, const char *v, char *b, size_t n) { return snprintf(b, n, "%s/%s:%s", r, s, v) >= (int)n ? FORJA_ETOOBIG : 0; }
int builder_run(const struct builder_env *env, const struct build_spec *s, const struct engine_log *l, const struct engine_abort *a, struct build_result *r) { snprintf(r->error, sizeof(r->error), "not implemented"); return FORJA_EUNSUPPORTED; }
