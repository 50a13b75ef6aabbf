#include "store.h"
#include "errors.h"
/* stub: replaced by the history implementation */
int store_open(const char *d, struct store **o) { (void)d; *o = NULL; return FORJA_EUNSUPPORTED; }
void store_close(struct store *st) { (void)st; }
int store_build_insert(struct store *st, struct build *b) { return FORJA_EUNSUPPORTED; }
int store_delivery_insert(struct store *st, const char *h, const char *d, struct build **b, size_t n) { return FORJA_EUNSUPPORTED; }
int store_delivery_builds(struct store *st, const char *h, const char *d, struct build ***o, size_t *n) { return FORJA_EUNSUPPORTED; }
int store_build_get(struct store *st, int64_t id, struct build **o) { return FORJA_EUNSUPPORTED; }
int store_build_list(struct store *st, const struct build_filter *f, struct build ***o, size_t *n) { return FORJA_EUNSUPPORTED; }
int store_build_latest(struct store *st, const char *s, const char *b, struct build **o) { return FORJA_EUNSUPPORTED; }
int store_build_start(struct store *st, int64_t id, int64_t t, int *a) { return FORJA_EUNSUPPORTED; }
int store_build_finish(struct store *st, int64_t id, enum build_status s, const char *d, const char *e, int64_t t) { return FORJA_EUNSUPPORTED; }
int store_builds_recover(struct store *st, int m, int64_t **ids, size_t *n) { *ids = NULL; *n = 0; return 0; }
int64_t store_build_for_image(struct store *st, const char *s, const char *v, const char *d) { return 0; }
int store_build_counts(struct store *st, int64_t c[5]) { return FORJA_EUNSUPPORTED; }
