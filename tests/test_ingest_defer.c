/*
 * test_ingest_defer.c -- cmocka tests for the read-delay policy of the
 * StatsD listeners under light traffic (ingest_defer_next(),
 * ingest_statsd.c): it grows while reads find little, shrinks when they
 * find much or the socket buffer fills, and never leaves
 * [INGEST_DEFER_MIN_MS, INGEST_DEFER_MAX_MS], so the socket buffer is
 * read often enough whatever the traffic.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "meshtuned.h"

#define BUF	(16u << 20)	/* a socket buffer, as the kernel counts */
#define EMPTY	0		/* nothing queued in it */

/* The policy with an empty, known buffer: got alone decides. */
static unsigned int
next(unsigned int ms, int got)
{
	return ingest_defer_next(ms, got, EMPTY, BUF);
}

/* Few datagrams per read: the delay doubles up to the maximum, no more. */
static void
test_grows_to_max(void **state)
{
	unsigned int	ms = INGEST_DEFER_MIN_MS;
	int		i;

	(void)state;
	assert_int_equal(next(ms, 1), 2 * INGEST_DEFER_MIN_MS);
	for (i = 0; i < 20; i++)
		ms = next(ms, INGEST_WAKE_LOW - 1);
	assert_int_equal(ms, INGEST_DEFER_MAX_MS);
	assert_int_equal(next(INGEST_DEFER_MAX_MS, 1),
	    INGEST_DEFER_MAX_MS);
}

/* Many datagrams per read: the delay halves down to the minimum. */
static void
test_shrinks_to_min(void **state)
{
	unsigned int	ms = INGEST_DEFER_MAX_MS;
	int		i;

	(void)state;
	assert_int_equal(next(ms, INGEST_WAKE_HIGH + 1),
	    INGEST_DEFER_MAX_MS / 2);
	for (i = 0; i < 20; i++)
		ms = next(ms, 100000);
	assert_int_equal(ms, INGEST_DEFER_MIN_MS);
}

/* Between the two thresholds the delay holds. */
static void
test_holds_in_band(void **state)
{
	unsigned int	ms;

	(void)state;
	for (ms = INGEST_DEFER_MIN_MS; ms <= INGEST_DEFER_MAX_MS; ms *= 2) {
		assert_int_equal(next(ms, INGEST_WAKE_LOW), ms);
		assert_int_equal(next(ms, INGEST_WAKE_HIGH), ms);
		assert_int_equal(next(ms, (INGEST_WAKE_LOW +
		    INGEST_WAKE_HIGH) / 2), ms);
	}
}

/*
 * Out-of-range input (a delay set elsewhere, odd values) comes back in
 * range, and no sequence of reads leaves it.
 */
static void
test_always_in_range(void **state)
{
	static const int	gots[] = { -1, 0, 1, 127, 128, 300, 512, 513,
				    1023, 1024, 2048, 4096, 4097, 1 << 30 };
	unsigned int		ms, r;
	size_t			i;

	(void)state;
	assert_int_equal(next(0, 300), INGEST_DEFER_MIN_MS);
	assert_int_equal(next(1000, 300), INGEST_DEFER_MAX_MS);
	for (ms = 0; ms <= 2 * INGEST_DEFER_MAX_MS; ms++)
		for (i = 0; i < nitems(gots); i++) {
			r = next(ms, gots[i]);
			assert_true(r >= INGEST_DEFER_MIN_MS);
			assert_true(r <= INGEST_DEFER_MAX_MS);
		}
}

/*
 * The buffer decides too: a read that found few datagrams still halves
 * the delay when the buffer was over 1/INGEST_FILL_HIGH full (a small
 * buffer, an unprivileged daemon), and the delay only grows while the
 * buffer is under 1/INGEST_FILL_LOW full.  An unknown buffer (0) leaves
 * the decision to the datagram count.
 */
static void
test_buffer_fill(void **state)
{
	unsigned int	ms = INGEST_DEFER_MAX_MS;
	int		i;

	(void)state;
	assert_int_equal(ingest_defer_next(16, 10, BUF / 4, BUF), 8);
	assert_int_equal(ingest_defer_next(16, 10, BUF / INGEST_FILL_HIGH,
	    BUF), 16);
	assert_int_equal(ingest_defer_next(16, 10, BUF / 16, BUF), 16);
	assert_int_equal(ingest_defer_next(16, 10, BUF / 64, BUF), 32);
	/* Buffer size not known: never past INGEST_DEFER_BLIND_MS. */
	assert_int_equal(ingest_defer_next(8, 10, 12345, 0), 16);
	assert_int_equal(ingest_defer_next(16, 10, 12345, 0),
	    INGEST_DEFER_BLIND_MS);
	assert_int_equal(ingest_defer_next(16, INGEST_WAKE_HIGH + 1, 0, 0), 8);
	/* 208 KiB (416 KiB as counted) at 10k datagrams/s of 1,280 bytes. */
	for (i = 0; i < 10; i++)
		ms = ingest_defer_next(ms, (int)ms * 10,
		    (size_t)ms * 10 * 1280, 416u << 10);
	assert_true(ms * 10 * 1280 <= (416u << 10) / INGEST_FILL_HIGH * 2);
	assert_true(ms >= INGEST_DEFER_MIN_MS);
}

/*
 * The longest delay is what a burst of INGEST_BURST_BPMS takes to fill
 * the buffer: 64 ms for the default 8 MiB (16 MiB as counted), half of
 * that for half the buffer, the minimum for rmem_max's 208 KiB; however
 * empty the buffer stays.
 */
static void
test_cap_by_buffer(void **state)
{
	static const struct {
		size_t		bufsize;
		unsigned int	cap;
	} t[] = {
		{ 16u << 20, 64 }, { 8u << 20, 32 }, { 2u << 20, 8 },
		{ 416u << 10, INGEST_DEFER_MIN_MS }, { 4096, INGEST_DEFER_MIN_MS },
		{ 1u << 30, INGEST_DEFER_MAX_MS },
	};
	unsigned int	ms;
	size_t		i;
	int		j;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		ms = INGEST_DEFER_MIN_MS;
		for (j = 0; j < 20; j++)
			ms = ingest_defer_next(ms, 1, 0, t[i].bufsize);
		assert_int_equal(ms, t[i].cap);
		/* And a delay set longer comes down to it. */
		assert_int_equal(ingest_defer_next(1000, 1, 0,
		    t[i].bufsize), t[i].cap);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grows_to_max),
		cmocka_unit_test(test_shrinks_to_min),
		cmocka_unit_test(test_holds_in_band),
		cmocka_unit_test(test_always_in_range),
		cmocka_unit_test(test_buffer_fill),
		cmocka_unit_test(test_cap_by_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
