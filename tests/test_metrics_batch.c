/*
 * test_metrics.c -- the registry's batched path (metrics_batch_*) must
 * store exactly what adding line by line stores, in the same order.
 */
#include <sys/types.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "meshtuned.h"

static struct statsd_parser	sp;
static struct metrics_batch	batch;

/* Feed text to m, one datagram per "\0"-free string, batched or not. */
static void
feed(struct metrics *m, const char *text, int batched, uint64_t now_ms)
{
	struct statsd_line	ln;

	statsd_begin(&sp, text, strlen(text));
	while (statsd_next(&sp, &ln)) {
		if (batched)
			metrics_batch_add(&batch, m, &ln, now_ms);
		else
			metrics_add_line(m, &ln, now_ms);
	}
	if (batched)
		metrics_batch_flush(&batch, m, now_ms);
}

static void
same_series(struct metrics *a, struct metrics *b, const char *key)
{
	struct series		*sa = metrics_find(a, key);
	struct series		*sb = metrics_find(b, key);
	struct series_stats	 xa, xb;

	assert_non_null(sa);
	assert_non_null(sb);
	series_stats(a, sa, 2000, &xa);
	series_stats(b, sb, 2000, &xb);
	assert_int_equal(xa.w.count, xb.w.count);
	assert_true(xa.w.sum == xb.w.sum || (isnan(xa.w.sum) &&
	    isnan(xb.w.sum)));
	assert_true(xa.last == xb.last || (isnan(xa.last) &&
	    isnan(xb.last)));
	assert_true(xa.total == xb.total || (isnan(xa.total) &&
	    isnan(xb.total)));
}

/* The canonical key of a "long:7|ms|#t1:v,t2:v..." line (keys in order). */
static const char *
longkey_canon(const char *line)
{
	static char	 key[4096];
	const char	*p = strchr(line, '#') + 1;
	size_t		 n;

	n = (size_t)snprintf(key, sizeof(key), "long{");
	for (; *p != '\0'; p++)
		key[n++] = *p == ':' ? '=' : *p;
	key[n++] = '}';
	key[n] = '\0';
	return key;
}

/* Mixed lines: tags in two orders, multi-value, gauges, long keys. */
static void
test_batch_same(void **state)
{
	static char		 longkey[2048];
	struct metrics		*a, *b;
	const char		*text =
	    "rtt:1.5|ms|#peer:a,dc:x\n"
	    "rtt:2|ms|#dc:x,peer:a\n"
	    "rtt:3|ms|#peer:b\n"
	    "q:5|g\nq:+3|g\nq:-1|g\n"
	    "multi:1:2:3|h\n"
	    "ops:1|c|@0.5\nops:2|c\n"
	    "bad line\n"
	    "q:10|g\nq:-4|g\n";
	size_t			 n;
	int			 j;

	(void)state;
	a = metrics_new(60, 60, 1000);
	b = metrics_new(60, 60, 1000);
	assert_non_null(a);
	assert_non_null(b);
	statsd_init(&sp);
	metrics_batch_init(&batch);
	feed(a, text, 0, 1000);
	feed(b, text, 1, 1000);
	/* A key past the batch's per-line limit goes straight in. */
	n = (size_t)snprintf(longkey, sizeof(longkey), "long:7|ms|#");
	for (j = 0; j < 12; j++)	/* keys in order, 1,258 bytes */
		n += (size_t)snprintf(longkey + n, sizeof(longkey) - n,
		    "%sk%c:%0100d", j > 0 ? "," : "", 'a' + j, j);
	feed(a, longkey, 0, 1000);
	feed(b, longkey, 1, 1000);

	assert_int_equal(metrics_count(a), metrics_count(b));
	assert_int_equal(metrics_stats(a)->values, metrics_stats(b)->values);
	assert_int_equal(metrics_stats(b)->values, 14);
	assert_non_null(metrics_find(b, longkey_canon(longkey)));
	same_series(a, b, "rtt{dc=x,peer=a}");
	same_series(a, b, "rtt{peer=b}");
	same_series(a, b, "q");
	same_series(a, b, "multi");
	same_series(a, b, "ops");

	/* Order kept: 5, +3, -1, then 10, -4. */
	{
		struct series_stats st;

		series_stats(b, metrics_find(b, "q"), 2000, &st);
		assert_true(st.last == 6);
		series_stats(b, metrics_find(b, "ops"), 2000, &st);
		assert_true(st.total == 4);
		series_stats(b, metrics_find(b, "rtt{dc=x,peer=a}"), 2000,
		    &st);
		assert_int_equal(st.w.count, 2);
		assert_true(st.w.sum == 3.5);
	}
	metrics_free(a);
	metrics_free(b);
}

/* More lines than a batch holds: it flushes by itself, losing nothing. */
static void
test_batch_full(void **state)
{
	struct metrics		*m;
	struct statsd_line	 ln;
	char			 line[64];
	int			 i, len;

	(void)state;
	m = metrics_new(60, 60, 100000);
	assert_non_null(m);
	statsd_init(&sp);
	metrics_batch_init(&batch);
	for (i = 0; i < 3 * METRICS_BATCH_LINES + 7; i++) {
		/* Each tagged key lands in the batch's own copy. */
		len = snprintf(line, sizeof(line), "t%d:%d|ms|#peer:p%d",
		    i % 50, i, i % 7);
		statsd_begin(&sp, line, (size_t)len);
		assert_int_equal(statsd_next(&sp, &ln), 1);
		metrics_batch_add(&batch, m, &ln, 1000);
	}
	metrics_batch_flush(&batch, m, 1000);
	assert_int_equal(batch.n, 0);
	assert_int_equal(metrics_stats(m)->values, 3 * METRICS_BATCH_LINES + 7);
	assert_non_null(metrics_find(m, "t3{peer=p3}"));
	assert_null(metrics_find(m, "t3{peer=p9}"));
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_same),
		cmocka_unit_test(test_batch_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
