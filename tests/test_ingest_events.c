/*
 * test_ingest_events.c -- the rule that bounds the audit rows StatsD
 * events and service checks may add (events_fold_admit(),
 * ingest_events.c): at most the limit a minute, the rest folded and
 * handed back once for one row when the minute is over.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "meshtuned.h"

static void
test_fold(void **state)
{
	struct events_fold	f;
	int			flush, i, written = 0;

	(void)state;
	memset(&f, 0, sizeof(f));
	/* A flood in minute 1: three rows, the rest folded by kind. */
	for (i = 0; i < 100; i++) {
		written += events_fold_admit(&f, 60000 + (uint64_t)i * 10, 3,
		    i % 4 == 0, &flush);
		assert_int_equal(flush, 0);
	}
	assert_int_equal(written, 3);
	assert_int_equal(f.folded[0] + f.folded[1], 97);
	assert_int_equal(f.folded[1], 25 - 1);	/* the first was written */
	/* The next minute hands minute 1's counts back once, and starts. */
	assert_int_equal(events_fold_admit(&f, 120000, 3, 0, &flush), 1);
	assert_int_equal(flush, 1);
	assert_int_equal(f.flush[0] + f.flush[1], 97);
	assert_int_equal(f.flush_minute, 1);
	assert_int_equal(f.folded[0] + f.folded[1], 0);
	assert_int_equal(events_fold_admit(&f, 120001, 3, 0, &flush), 1);
	assert_int_equal(flush, 0);
	/* A minute that folded nothing hands nothing back. */
	assert_int_equal(events_fold_admit(&f, 300000, 3, 1, &flush), 1);
	assert_int_equal(flush, 0);
	/* A limit of 0 writes nothing. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(events_fold_admit(&f, 1, 0, 0, &flush), 0);
	assert_int_equal(f.folded[0], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fold),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
