#include "build_queue.h"
#include "errors.h"
/* stub: replaced by the queue implementation */
int queue_new(const struct queue_opts *o, struct build_queue **q) { *q = NULL; return 0; }
int queue_observe(struct build_queue *q, const struct queue_observer *o) { return 0; }
int queue_start(struct build_queue *q) { return 0; }
int queue_push(struct build_queue *q, int64_t id) { return FORJA_EUNSUPPORTED; }
int queue_cancel(struct build_queue *q, int64_t id) { return FORJA_EUNSUPPORTED; }
void queue_stats(struct build_queue *q, int *a, int *b) { *a = 0; *b = 0; }
void queue_stop(struct build_queue *q) { (void)q; }
void queue_free(struct build_queue *q) { (void)q; }
