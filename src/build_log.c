#include "build_log.h"
#include "errors.h"
/* stub: replaced by the log implementation */
int build_logs_open(const char *d, const char *const *s, size_t m, struct build_logs **o) { *o = NULL; return 0; }
void build_logs_close(struct build_logs *l) { (void)l; }
int build_logs_append(struct build_logs *l, int64_t id, const char *t, size_t n) { return 0; }
int build_logs_appendf(struct build_logs *l, int64_t id, const char *f, ...) { return 0; }
void build_logs_end(struct build_logs *l, int64_t id) { (void)l; }
long build_logs_read(struct build_logs *l, int64_t id, uint64_t o, char *b, size_t n, int *e) { *e = 1; return 0; }
void build_logs_wait(struct build_logs *l, int64_t id, uint64_t o, int t) { (void)l; }
