#include "github.h"
#include "errors.h"
/* stub: replaced by the GitHub client */
int github_new(const struct github_opts *o, struct github **g) { *g = NULL; return 0; }
void github_free(struct github *g) { (void)g; }
int github_file_get(struct github *g, const char *f, const char *p, const char *r, char **b, size_t *l, char *e, size_t n) { return FORJA_EUNSUPPORTED; }
bool github_url_allowed(const struct github *g, const char *u) { return false; }
void github_on_build(void *ud, const struct build *b) { (void)ud; }
