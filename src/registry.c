#include "registry.h"
#include "errors.h"
#include <stdio.h>
/* stub: replaced by the registry client */
int registry_new(const struct registry_opts *o, struct registry **r) { *r = NULL; return 0; }
void registry_free(struct registry *r) { (void)r; }
int registry_ping(struct registry *r, char *err, size_t n) { snprintf(err, n, "not implemented"); return FORJA_EUNSUPPORTED; }
int registry_catalog(struct registry *r, int p, char ***names, size_t *n, char *err, size_t l) { return FORJA_EUNSUPPORTED; }
int registry_tags(struct registry *r, const char *nm, char ***t, size_t *n, char *err, size_t l) { return FORJA_EUNSUPPORTED; }
int registry_manifest_digest(struct registry *r, const char *nm, const char *t, char *d, char *err, size_t l) { return FORJA_EUNSUPPORTED; }
void registry_strings_free(char **a, size_t n) { (void)a; }
