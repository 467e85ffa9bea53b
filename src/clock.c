/*
 * clock.c -- the daemon's clocks.  Pure modules take "now" as an argument;
 * these are the only places that read the time.
 */
#include <sys/types.h>

#include <stdio.h>
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

/*
 * Format wall-clock milliseconds as ISO-8601 UTC with milliseconds,
 * "2026-11-22T17:05:07.123Z", into buf (at least 25 bytes).
 */
void
clock_format_iso(uint64_t wall_ms, char *buf, size_t len)
{
	struct tm	tm;
	time_t		t = (time_t)(wall_ms / 1000);

	if (gmtime_r(&t, &tm) == NULL ||
	    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned int)(wall_ms % 1000)) >= (int)len)
		snprintf(buf, len, "?");
}
