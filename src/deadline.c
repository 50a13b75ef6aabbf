#include "deadline.h"

int64_t deadline_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t deadline_in_ms(int64_t ms)
{
	return deadline_now_ms() + ms;
}

int64_t deadline_left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline == 0)
		return INT64_MAX;
	left = deadline - deadline_now_ms();
	return left > 0 ? left : 0;
}

bool deadline_passed(int64_t deadline)
{
	return deadline != 0 && deadline_now_ms() >= deadline;
}

int64_t deadline_min(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

struct timespec deadline_timespec_in(int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return ts;
}
