#include "docker_engine.h"
#include "errors.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* stub: replaced by the engine client */
int engine_new(const char *h, struct docker_engine **o) { *o = NULL; return 0; }
void engine_free(struct docker_engine *e) { (void)e; }
int engine_ping(struct docker_engine *e, char *err, size_t n) { snprintf(err, n, "not implemented"); return FORJA_EUNSUPPORTED; }
const char *engine_api_version(struct docker_engine *e) { return NULL; }
int engine_build(struct docker_engine *e, const struct engine_build_params *p, const struct engine_log *l, const struct engine_abort *a, char *id, char *err, size_t n) { return FORJA_EUNSUPPORTED; }
int engine_push(struct docker_engine *e, const char *r, const char *t, const char *au, const struct engine_log *l, const struct engine_abort *a, char *d, char *err, size_t n) { return FORJA_EUNSUPPORTED; }
int engine_image_remove(struct docker_engine *e, const char *r) { return FORJA_EUNSUPPORTED; }
char *engine_registry_auth(const char *u, const char *p, const char *s) { return strdup("e30="); }
