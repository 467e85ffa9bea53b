/*
 * test_ingest_defer.c -- cmocka tests for the read-delay policy of the
 * StatsD listeners under light traffic (ingest_defer_next(),
 * ingest_statsd.c): it grows while reads find little, shrinks when they
 * find much, and never leaves [INGEST_DEFER_MIN_MS, INGEST_DEFER_MAX_MS],
 * so the socket buffer is read often enough whatever the traffic.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "meshtuned.h"

/* Few datagrams per read: the delay doubles up to the maximum, no more. */
static void
test_grows_to_max(void **state)
{
	unsigned int	ms = INGEST_DEFER_MIN_MS;
	int		i;

	(void)state;
	assert_int_equal(ingest_defer_next(ms, 1), 2 * INGEST_DEFER_MIN_MS);
	for (i = 0; i < 20; i++)
		ms = ingest_defer_next(ms, INGEST_WAKE_LOW - 1);
	assert_int_equal(ms, INGEST_DEFER_MAX_MS);
	assert_int_equal(ingest_defer_next(INGEST_DEFER_MAX_MS, 1),
	    INGEST_DEFER_MAX_MS);
}

/* Many datagrams per read: the delay halves down to the minimum. */
static void
test_shrinks_to_min(void **state)
{
	unsigned int	ms = INGEST_DEFER_MAX_MS;
	int		i;

	(void)state;
	assert_int_equal(ingest_defer_next(ms, INGEST_WAKE_HIGH + 1),
	    INGEST_DEFER_MAX_MS / 2);
	for (i = 0; i < 20; i++)
		ms = ingest_defer_next(ms, 100000);
	assert_int_equal(ms, INGEST_DEFER_MIN_MS);
}

/* Between the two thresholds the delay holds. */
static void
test_holds_in_band(void **state)
{
	unsigned int	ms;

	(void)state;
	for (ms = INGEST_DEFER_MIN_MS; ms <= INGEST_DEFER_MAX_MS; ms *= 2) {
		assert_int_equal(ingest_defer_next(ms, INGEST_WAKE_LOW), ms);
		assert_int_equal(ingest_defer_next(ms, INGEST_WAKE_HIGH), ms);
		assert_int_equal(ingest_defer_next(ms, (INGEST_WAKE_LOW +
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
				    2048, 1 << 30 };
	unsigned int		ms, r;
	size_t			i;

	(void)state;
	assert_int_equal(ingest_defer_next(0, 300), INGEST_DEFER_MIN_MS);
	assert_int_equal(ingest_defer_next(1000, 300), INGEST_DEFER_MAX_MS);
	for (ms = 0; ms <= 40; ms++)
		for (i = 0; i < nitems(gots); i++) {
			r = ingest_defer_next(ms, gots[i]);
			assert_true(r >= INGEST_DEFER_MIN_MS);
			assert_true(r <= INGEST_DEFER_MAX_MS);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
