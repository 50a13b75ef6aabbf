/* One monotonic clock for every deadline in Forja: milliseconds of CLOCK_MONOTONIC, so a wall
 * clock step (NTP, a suspended VM) never fires or postpones a timeout. */
#ifndef FORJA_DEADLINE_H
#define FORJA_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Now, in monotonic milliseconds: the clock every deadline_ms in Forja is measured on. */
int64_t deadline_now_ms(void);
/* The deadline MS milliseconds from now. */
int64_t deadline_in_ms(int64_t ms);
/* Milliseconds left until DEADLINE (0 when passed); DEADLINE 0 means none: INT64_MAX. */
int64_t deadline_left_ms(int64_t deadline);
/* Whether DEADLINE (non-zero) has passed. */
bool deadline_passed(int64_t deadline);
/* The earlier of two deadlines, 0 meaning none. */
int64_t deadline_min(int64_t a, int64_t b);
/* CLOCK_MONOTONIC time MS from now, for pthread_cond_timedwait on a monotonic condattr. */
struct timespec deadline_timespec_in(int64_t ms);

#endif
