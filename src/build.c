#include "build.h"
#include <stdlib.h>
/* stub: replaced by the build record implementation */
struct build *build_new(void) { return calloc(1, sizeof(struct build)); }
void build_free(struct build *b) { free(b); }
void build_array_free(struct build **a, size_t n) { for (size_t i = 0; i < n; i++) build_free(a[i]); free(a); }
struct build *build_dup(const struct build *b) { return NULL; }
const char *build_status_name(enum build_status s) { return "queued"; }
int build_status_parse(const char *n, enum build_status *o) { return -2; }
bool build_status_is_final(enum build_status s) { return s >= BUILD_SUCCEEDED; }
const char *build_trigger_name(enum build_trigger t) { return "api"; }
int build_trigger_parse(const char *n, enum build_trigger *o) { return -2; }
void build_time_format(int64_t ms, char *buf, size_t len) { if (len) buf[0] = 0; }
int64_t build_now_ms(void) { return 0; }
json_t *build_to_json(const struct build *b, const char *u) { return json_object(); }
