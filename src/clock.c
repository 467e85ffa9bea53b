/*
 * clock.c -- the daemon's clocks.  Pure modules take "now" as an argument;
 * these are the only places that read the time.
 */
#include <sys/types.h>

#include <time.h>

#include "meshtuned.h"

/* Monotonic milliseconds: for windows, cooldowns and timeouts. */
uint64_t
clock_mono_ms(void)
{
	return clock_mono_us() / 1000;
}

/* Monotonic microseconds: for timing ticks and plugin calls. */
uint64_t
clock_mono_us(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Wall-clock milliseconds since the epoch: for audit timestamps. */
uint64_t
clock_wall_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) == -1)
		fatal("clock_gettime");
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
