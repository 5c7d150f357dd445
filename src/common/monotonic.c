/* Time limits on the monotonic clock; see monotonic.h. */
#include "monotonic.h"

#include <time.h>

int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int monotonic_left_ms(int64_t deadline)
{
	if (deadline == INT64_MAX)
		return -1;
	int64_t d = deadline - monotonic_ms();
	return d < 0 ? 0 : d > INT32_MAX ? INT32_MAX : (int)d;
}
