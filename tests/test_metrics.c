/*
 * test_metrics.c -- cmocka tests for the series registry (metrics.c):
 * series identity (tag order), the series cap, idle expiry on a fake
 * clock, the hash table against a model over many random operations,
 * counters, gauges, type conflicts, lookups and memory accounting.
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

/* Parse s (one good line) and add it at now; returns values stored. */
static size_t
add(struct metrics *m, const char *s, uint64_t now)
{
	struct statsd_line	ln;
	enum statsd_reason	r;

	r = statsd_parse_line(&sp, s, strlen(s), &ln);
	if (r != STATSD_OK)
		fail_msg("\"%s\" refused by the parser: %s", s,
		    statsd_reason_name(r));
	return metrics_add_line(m, &ln, now);
}

static void
stats_of(struct metrics *m, const char *key, uint64_t now,
    struct series_stats *st)
{
	struct series	*s;

	if ((s = metrics_find(m, key)) == NULL)
		fail_msg("no series %s", key);
	series_stats(m, s, now, st);
}

/* Etsy gauge signs here (test_gauge_value has DogStatsD's). */
static int
setup(void **state)
{
	statsd_init(&sp);
	memset(&sp.opts, 0, sizeof(sp.opts));
	sp.opts.gauge_delta = 1;
	return 0;
}

static void
test_new_shapes(void **state)
{
	struct metrics	*m;

	assert_null(metrics_new(0, 10, 10));
	assert_null(metrics_new(10, 0, 10));
	assert_null(metrics_new(10, 10, 0));
	assert_null(metrics_new(1, 7, 10));	/* 1000 ms / 7: not whole */
	assert_non_null(m = metrics_new(1, 8, 10));	/* 125 ms slices */
	assert_int_equal(metrics_count(m), 0);
	metrics_free(m);
	metrics_free(NULL);
}

static void
test_tag_order(void **state)
{
	struct metrics		*m = metrics_new(10, 10, 100);
	struct series_stats	 st;
	struct series		*s;

	assert_int_equal(add(m, "lat:5|ms|#zone:b,peer:a3,az:1", 1000), 1);
	assert_int_equal(add(m, "lat:7|ms|#peer:a3,az:1,zone:b", 1000), 1);
	assert_int_equal(add(m, "lat:9|ms|#az:1,zone:b,peer:a3", 1000), 1);
	/* The tagged series, and "lat" holding every tagged sample too. */
	assert_int_equal(metrics_count(m), 2);
	assert_non_null(s = metrics_find(m, "lat"));
	series_stats(m, s, 1000, &st);
	assert_int_equal(st.w.count, 3);
	assert_true(st.w.sum == 21);
	assert_non_null(s = metrics_find(m, "lat{az=1,peer=a3,zone=b}"));
	assert_string_equal(series_key(s), "lat{az=1,peer=a3,zone=b}");
	assert_int_equal(series_type(s), STATSD_TIMER);
	series_stats(m, s, 1000, &st);
	assert_int_equal(st.w.count, 3);
	assert_true(st.w.sum == 21);
	assert_true(st.w.min == 5 && st.w.max == 9);

	/* Other tag values, fewer tags or none: other series. */
	assert_int_equal(add(m, "lat:1|ms|#zone:c,peer:a3,az:1", 1000), 1);
	assert_int_equal(add(m, "lat:1|ms|#peer:a3,az:1", 1000), 1);
	assert_int_equal(add(m, "lat:1|ms", 1000), 1);
	assert_int_equal(add(m, "lat:1|ms|#", 1000), 1);	/* no tags */
	assert_int_equal(metrics_count(m), 4);
	/* "lat" has all seven samples: five tagged, two bare. */
	series_stats(m, metrics_find(m, "lat"), 1000, &st);
	assert_int_equal(st.w.count, 7);
	stats_of(m, "lat{az=1,peer=a3}", 1000, &st);
	assert_int_equal(st.w.count, 1);
	assert_int_equal(metrics_stats(m)->series_created, 4);
	assert_int_equal(metrics_stats(m)->values, 7);
	metrics_free(m);
}

static void
test_find_canonical(void **state)
{
	struct metrics	*m = metrics_new(10, 10, 100);

	add(m, "net.rtt_ms:3|ms|#peer:x,az:2", 0);
	add(m, "net.rtt_ms:3|ms", 0);
	assert_non_null(metrics_find(m, "net.rtt_ms{az=2,peer=x}"));
	assert_non_null(metrics_find(m, "net.rtt_ms"));
	assert_null(metrics_find(m, "net.rtt_ms{peer=x,az=2}"));
	assert_null(metrics_find(m, "net.rtt_ms{az=2}"));
	assert_null(metrics_find(m, "net.rtt_m"));
	assert_null(metrics_find(m, "net.rtt_ms "));
	assert_null(metrics_find(m, ""));
	assert_ptr_not_equal(metrics_find(m, "net.rtt_ms"),
	    metrics_find(m, "net.rtt_ms{az=2,peer=x}"));
	/* The collectors' way in: a canonical key, found by the same name. */
	assert_int_equal(metrics_add(m, "net.if.rx_bytes{iface=lo}",
	    STATSD_COUNTER, 10, 0), 0);
	assert_non_null(metrics_find(m, "net.if.rx_bytes{iface=lo}"));
	assert_int_equal(metrics_count(m), 3);
	metrics_free(m);
}

static void
test_cap(void **state)
{
	struct metrics			*m = metrics_new(10, 10, 3);
	const struct metrics_stats	*ms = metrics_stats(m);
	struct series_stats		 st;

	assert_int_equal(add(m, "a:1|ms", 0), 1);
	assert_int_equal(add(m, "b:1|g", 0), 1);
	assert_int_equal(add(m, "c:1|c", 0), 1);
	assert_int_equal(metrics_count(m), 3);

	/* Past the cap: dropped and counted, per line and per value. */
	assert_int_equal(add(m, "d:1:2:3|ms", 0), 0);
	assert_int_equal(add(m, "e:1|c", 0), 0);
	assert_int_equal(add(m, "a:1|ms|#t:1", 0), 0);	/* new identity */
	assert_int_equal(metrics_add(m, "f", STATSD_GAUGE, 1, 0), -1);
	assert_int_equal(metrics_count(m), 3);
	assert_int_equal(ms->series_dropped, 4);
	assert_int_equal(ms->values_dropped, 6);
	assert_int_equal(ms->series_created, 3);
	assert_null(metrics_find(m, "d"));
	assert_null(metrics_find(m, "e"));
	assert_null(metrics_find(m, "f"));

	/* Series already held still take values. */
	assert_int_equal(add(m, "a:2:3|ms", 100), 2);
	assert_int_equal(add(m, "b:+4|g", 100), 1);
	assert_int_equal(add(m, "c:5|c", 100), 1);
	assert_int_equal(metrics_add(m, "a", STATSD_TIMER, 4, 100), 0);
	stats_of(m, "a", 100, &st);
	assert_int_equal(st.w.count, 4);
	stats_of(m, "b", 100, &st);
	assert_true(st.last == 5);
	stats_of(m, "c", 100, &st);
	assert_true(st.total == 6);
	assert_int_equal(ms->values, 3 + 5);
	assert_int_equal(ms->series_dropped, 4);

	/* A lower cap keeps what is held; a higher one admits again. */
	metrics_set_max_series(m, 1);
	assert_int_equal(metrics_count(m), 3);
	assert_int_equal(add(m, "a:1|ms", 200), 1);
	assert_int_equal(add(m, "g:1|ms", 200), 0);
	metrics_set_max_series(m, 4);
	assert_int_equal(add(m, "g:1|ms", 200), 1);
	assert_int_equal(add(m, "h:1|ms", 200), 0);
	assert_int_equal(metrics_count(m), 4);
	assert_int_equal(ms->series_dropped, 6);
	metrics_free(m);
}

static void
test_expiry(void **state)
{
	struct metrics			*m = metrics_new(10, 10, 100);
	const struct metrics_stats	*ms = metrics_stats(m);
	struct series_stats		 st;

	add(m, "a:1|ms", 1000);
	add(m, "b:1|c", 5000);
	add(m, "c:1|g", 5000);
	/* A clock behind the last sample removes nothing. */
	assert_int_equal(metrics_expire(m, 500, 0), 0);
	/* Idle exactly idle_ms: kept; one ms more: gone. */
	assert_int_equal(metrics_expire(m, 4000, 3000), 0);
	assert_int_equal(metrics_count(m), 3);
	assert_int_equal(metrics_expire(m, 4001, 3000), 1);
	assert_int_equal(metrics_count(m), 2);
	assert_null(metrics_find(m, "a"));
	assert_non_null(metrics_find(m, "b"));
	assert_non_null(metrics_find(m, "c"));
	assert_int_equal(ms->series_expired, 1);

	/* A sample keeps a series alive. */
	add(m, "b:1|c", 7000);
	assert_int_equal(metrics_expire(m, 8500, 3000), 1);
	assert_null(metrics_find(m, "c"));
	assert_non_null(metrics_find(m, "b"));

	/* Re-created from scratch: nothing of the old series survives. */
	add(m, "a:7|ms", 9000);
	add(m, "c:+2|g", 9000);
	assert_int_equal(ms->series_created, 5);
	stats_of(m, "a", 9000, &st);
	assert_int_equal(st.w.count, 1);
	assert_true(st.w.min == 7);
	stats_of(m, "c", 9000, &st);
	assert_true(st.last == 2);	/* delta from nothing, not from 1 */
	assert_int_equal(metrics_expire(m, 100000, 3000), 3);
	assert_int_equal(metrics_count(m), 0);
	assert_int_equal(ms->series_expired, 5);
	/* Room is made: a full registry takes new series after expiry. */
	metrics_set_max_series(m, 1);
	add(m, "x:1|ms", 100000);
	assert_int_equal(add(m, "y:1|ms", 100000), 0);
	assert_int_equal(metrics_expire(m, 200000, 1000), 1);
	assert_int_equal(add(m, "y:1|ms", 200000), 1);
	metrics_free(m);
}

/* Model of the table: which keys are held, and when each was last fed. */
struct model {
	size_t		 nkeys;
	int		*held;
	uint64_t	*seen;
	size_t		 count;
	size_t		 visited;
	int		 bad;
};

static uint64_t	rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	/* xorshift64*: deterministic, so a failure repeats. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static void
model_visit(struct series *s, void *arg)
{
	struct model	*md = arg;
	unsigned int	 k;

	md->visited++;
	if (sscanf(series_key(s), "k%u", &k) != 1 || k >= md->nkeys ||
	    !md->held[k])
		md->bad++;
}

static void
model_check(struct metrics *m, struct model *md)
{
	char	key[32];
	size_t	k;

	assert_int_equal(metrics_count(m), md->count);
	for (k = 0; k < md->nkeys; k++) {
		snprintf(key, sizeof(key), "k%zu", k);
		if ((metrics_find(m, key) != NULL) != md->held[k])
			fail_msg("%s: registry %s, model %s", key,
			    metrics_find(m, key) ? "has it" : "lacks it",
			    md->held[k] ? "has it" : "lacks it");
	}
	md->visited = 0;
	md->bad = 0;
	metrics_foreach(m, model_visit, md);
	assert_int_equal(md->visited, md->count);
	assert_int_equal(md->bad, 0);
}

/*
 * Random adds and idle expiries against the model: every removal goes
 * through backward-shift deletion, in runs that wrap around the table.
 */
static void
model_run(size_t nkeys, size_t ops)
{
	struct metrics	*m = metrics_new(10, 10, nkeys);
	struct model	 md;
	uint64_t	 now = 1, idle;
	size_t		 i, k, gone, want;
	char		 key[32];

	memset(&md, 0, sizeof(md));
	md.nkeys = nkeys;
	md.held = xcalloc(nkeys, sizeof(*md.held));
	md.seen = xcalloc(nkeys, sizeof(*md.seen));
	for (i = 0; i < ops; i++) {
		now++;
		if (rnd() % 8 != 0) {
			k = rnd() % nkeys;
			snprintf(key, sizeof(key), "k%zu", k);
			assert_int_equal(metrics_add(m, key, STATSD_GAUGE,
			    (double)k, now), 0);
			if (!md.held[k])
				md.count++;
			md.held[k] = 1;
			md.seen[k] = now;
			continue;
		}
		/* Expire everything idle for longer than a random span. */
		idle = rnd() % (nkeys * 2 + 1);
		for (k = 0, want = 0; k < nkeys; k++)
			if (md.held[k] && now - md.seen[k] > idle) {
				md.held[k] = 0;
				md.count--;
				want++;
			}
		gone = metrics_expire(m, now, idle);
		assert_int_equal(gone, want);
		if (rnd() % 4 == 0)
			model_check(m, &md);
	}
	model_check(m, &md);
	assert_int_equal(metrics_expire(m, now + 1, 0), md.count);
	assert_int_equal(metrics_count(m), 0);
	for (k = 0; k < nkeys; k++) {
		snprintf(key, sizeof(key), "k%zu", k);
		assert_null(metrics_find(m, key));
	}
	free(md.held);
	free(md.seen);
	metrics_free(m);
}

static void
test_model(void **state)
{
	model_run(20, 20000);	/* a full small table: long runs */
	model_run(33, 20000);	/* just past a grow */
	model_run(700, 30000);
	model_run(3000, 20000);
}

static void
test_counter(void **state)
{
	struct metrics		*m = metrics_new(10, 10, 100);
	struct series_stats	 st;

	/* Slices of 1 s; the window is the current one and 9 before. */
	assert_int_equal(add(m, "ops:5|c", 500), 1);
	assert_int_equal(add(m, "ops:2:1|c", 1500), 2);
	stats_of(m, "ops", 1500, &st);
	assert_true(st.total == 8);
	assert_true(st.w.sum == 8);
	assert_true(st.w.rate == 0.8);
	assert_int_equal(st.w.count, 3);	/* samples, not increments */
	assert_true(isnan(st.w.p50) && isnan(st.w.min) && isnan(st.w.mean));
	assert_true(isnan(st.last));
	assert_int_equal(st.window_s, 10);

	/* The slice of t=500 leaves when slice 10 begins, not before. */
	stats_of(m, "ops", 9999, &st);
	assert_true(st.w.sum == 8);
	stats_of(m, "ops", 10000, &st);
	assert_true(st.w.sum == 3);
	assert_int_equal(st.w.count, 2);
	assert_true(st.w.rate == 0.3);
	assert_true(st.total == 8);
	stats_of(m, "ops", 10999, &st);
	assert_true(st.w.sum == 3);
	stats_of(m, "ops", 11000, &st);
	assert_true(st.w.sum == 0);
	assert_int_equal(st.w.count, 0);
	assert_true(st.w.rate == 0);
	assert_true(st.total == 8);

	/* After a gap longer than the window, only new increments count. */
	assert_int_equal(add(m, "ops:4|c", 11500), 1);
	stats_of(m, "ops", 11500, &st);
	assert_true(st.w.sum == 4);
	assert_int_equal(add(m, "ops:1|c", 500000), 1);
	stats_of(m, "ops", 500000, &st);
	assert_true(st.w.sum == 1);
	assert_true(st.total == 13);

	/* Negative increments are increments too (no reset semantics). */
	assert_int_equal(add(m, "ops:-3|c", 500001), 1);
	stats_of(m, "ops", 500001, &st);
	assert_true(st.total == 10);
	assert_true(st.w.sum == -2);
	metrics_free(m);
}

static void
test_counter_sample_rate(void **state)
{
	struct metrics		*m = metrics_new(10, 10, 100);
	struct series_stats	 st;

	/* One increment seen at @0.1 stands for ten: counted once as 10. */
	assert_int_equal(add(m, "req:1|c|@0.1", 0), 1);
	stats_of(m, "req", 0, &st);
	assert_true(st.total == 10);
	assert_true(st.w.sum == 10);
	assert_true(st.w.rate == 1);
	assert_int_equal(add(m, "req:3|c|@0.5|#a:1", 0), 1);
	stats_of(m, "req{a=1}", 0, &st);
	assert_true(st.total == 6);
	/* A timer sample at @0.5 counts twice, its value unchanged. */
	assert_int_equal(add(m, "t:3|ms|@0.5", 0), 1);
	stats_of(m, "t", 0, &st);
	assert_int_equal(st.w.count, 2);
	assert_true(st.w.sum == 6);
	assert_true(st.w.p50 == 3 && st.w.max == 3);
	metrics_free(m);
}

/*
 * DogStatsD and Etsy statsd: a timer, histogram or distribution sample
 * sent at @rate stands for 1/rate samples: "a:320|ms|@0.1" is 10, its
 * count, rate and sum scale, its quantiles do not; the extra weight
 * leaves with the slice it came in, as the window's samples do.
 */
static void
test_sampled_weight(void **state)
{
	struct metrics		*m = metrics_new(10, 10, 100);
	struct series_stats	 st;
	double			 q;
	int			 i;

	assert_int_equal(add(m, "a:320|ms|@0.1", 0), 1);
	stats_of(m, "a", 0, &st);
	assert_int_equal(st.w.count, 10);
	assert_true(st.w.sum == 3200);
	assert_true(st.w.rate == 1);
	assert_true(st.w.mean == 320);
	assert_true(st.w.p50 == 320 && st.w.p99 == 320);
	/* Fractional weights add up: three lines at @0.3 are 10. */
	for (i = 0; i < 3; i++)
		assert_int_equal(add(m, "b:2|h|@0.3", 0), 1);
	stats_of(m, "b", 0, &st);
	assert_int_equal(st.w.count, 10);
	assert_true(fabs(st.w.sum - 20) < 1e-9);
	/* A tagged one feeds its aggregate with the same weight. */
	assert_int_equal(add(m, "c:5|d|@0.25|#k:v", 0), 1);
	stats_of(m, "c", 0, &st);
	assert_int_equal(st.w.count, 4);
	assert_true(st.w.sum == 20);
	/* Quantiles weigh each line once. */
	assert_int_equal(add(m, "a:1|ms", 0), 1);
	assert_int_equal(series_quantile(m, metrics_find(m, "a"), 0, 0.5, &q),
	    0);
	assert_true(q == 1);
	/* The weight leaves with its slice (1 s here). */
	assert_int_equal(add(m, "a:7|ms|@0.5", 5000), 1);
	stats_of(m, "a", 5000, &st);
	assert_int_equal(st.w.count, 10 + 1 + 2);
	stats_of(m, "a", 10500, &st);
	assert_int_equal(st.w.count, 2);
	assert_true(st.w.sum == 14);
	stats_of(m, "a", 20000, &st);
	assert_int_equal(st.w.count, 0);
	assert_true(st.w.sum == 0);
	metrics_free(m);
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Negative samples (DogStatsD keeps them for h, d, ms and gauges): the
 * statistics and quantiles of both signs together, within the window's
 * 1% of the exact nearest-rank value.
 */
static void
test_negative_samples(void **state)
{
	static const double	 qs[] = { 0.5, 0.9, 0.95, 0.99, 0.999 };
	struct metrics		*m = metrics_new(10, 10, 100);
	struct series_stats	 st;
	double			 v[1000], sorted[1000], sum = 0, got, want;
	char			 line[64];
	uint64_t		 x = 42;
	size_t			 k, r, n;

	for (n = 0; n < nitems(v); n++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		v[n] = ((double)(x >> 11) / 9007199254740992.0 - 0.3) * 200;
		snprintf(line, sizeof(line), "neg:%.17g|h", v[n]);
		assert_int_equal(add(m, line, 0), 1);
		sum += v[n];
	}
	memcpy(sorted, v, sizeof(v));
	qsort(sorted, n, sizeof(*sorted), cmp_double);
	stats_of(m, "neg", 0, &st);
	assert_int_equal(st.w.count, n);
	assert_true(st.w.min == sorted[0] && st.w.max == sorted[n - 1]);
	assert_true(fabs(st.w.sum - sum) < 1e-9 * 200 * n);
	assert_true(fabs(st.w.mean - sum / n) < 1e-9 * 200);
	for (k = 0; k < nitems(qs); k++) {
		r = (size_t)ceil(qs[k] * n);
		want = sorted[r - 1];
		assert_int_equal(series_quantile(m, metrics_find(m, "neg"), 0,
		    qs[k], &got), 0);
		if (fabs(got - want) > 0.01 * fabs(want))
			fail_msg("q%g: %g, exact %g", qs[k], got, want);
	}
	assert_true(st.w.p50 == (series_quantile(m, metrics_find(m, "neg"),
	    0, 0.5, &got), got));
	/* Only negatives: min and max are theirs. */
	assert_int_equal(add(m, "only:-1:-5:-3|d", 0), 3);
	stats_of(m, "only", 0, &st);
	assert_true(st.w.min == -5 && st.w.max == -1);
	assert_true(fabs(st.w.p50 + 3) < 0.03);
	assert_int_equal(metrics_stats(m)->values_refused, 0);
	metrics_free(m);
}

/* DogStatsD gauges: a signed value sets the gauge, negative included. */
static void
test_gauge_value(void **state)
{
	struct metrics		*m = metrics_new(10, 10, 100);
	struct series_stats	 st;

	sp.opts.gauge_delta = 0;
	assert_int_equal(add(m, "g:10|g", 0), 1);
	assert_int_equal(add(m, "g:-1|g", 0), 1);
	stats_of(m, "g", 0, &st);
	assert_true(st.last == -1);
	assert_true(st.w.min == -1 && st.w.max == 10 && st.w.count == 2);
	assert_int_equal(add(m, "g:+3|g", 0), 1);
	stats_of(m, "g", 0, &st);
	assert_true(st.last == 3);
	/* The python-statsd way to set a negative gauge works too. */
	assert_int_equal(add(m, "h:0|g", 0), 1);
	assert_int_equal(add(m, "h:-5|g", 0), 1);
	stats_of(m, "h", 0, &st);
	assert_true(st.last == -5);
	metrics_free(m);
}

/*
 * Sets (DogStatsD, Etsy statsd): the distinct members of the window,
 * which forget a member with the last slice it was seen in, and keep at
 * most set_max live ones, counting the rest.
 */
static void
test_sets(void **state)
{
	struct metrics		*m = metrics_new(10, 10, 100);
	struct series_stats	 st;
	char			 line[64];
	int			 i;

	assert_int_equal(add(m, "u:alice|s", 0), 1);
	assert_int_equal(add(m, "u:bob|s", 0), 1);
	assert_int_equal(add(m, "u:alice|s", 500), 1);
	assert_int_equal(add(m, "u:1|s", 500), 1);
	assert_int_equal(add(m, "u:1.0|s", 500), 1);	/* text, not number */
	stats_of(m, "u", 500, &st);
	assert_int_equal(series_type(metrics_find(m, "u")), STATSD_SET);
	assert_int_equal(st.w.count, 4);
	assert_true(isnan(st.w.sum) && isnan(st.w.p50) && isnan(st.total));
	assert_int_equal(series_quantile(m, metrics_find(m, "u"), 0, 0.5,
	    &(double){ 0 }), -1);
	/* bob was last seen in slice 0, the others in slice 0 too. */
	stats_of(m, "u", 9999, &st);
	assert_int_equal(st.w.count, 4);
	assert_int_equal(add(m, "u:bob|s", 9000), 1);
	stats_of(m, "u", 10000, &st);
	assert_int_equal(st.w.count, 1);
	stats_of(m, "u", 18999, &st);
	assert_int_equal(st.w.count, 1);
	stats_of(m, "u", 19000, &st);
	assert_int_equal(st.w.count, 0);
	/* Tagged sets feed the bare name's set: the union. */
	assert_int_equal(add(m, "v:a|s|#k:1", 30000), 1);
	assert_int_equal(add(m, "v:a|s|#k:2", 30000), 1);
	assert_int_equal(add(m, "v:b|s|#k:2", 30000), 1);
	stats_of(m, "v", 30000, &st);
	assert_int_equal(st.w.count, 2);
	/* Bounded: past set_max live members, refused and counted. */
	metrics_set_set_max(m, 100);
	for (i = 0; i < 150; i++) {
		snprintf(line, sizeof(line), "w:m%d|s", i);
		assert_int_equal(add(m, line, 40000), i < 100);
	}
	stats_of(m, "w", 40000, &st);
	assert_int_equal(st.w.count, 100);
	assert_int_equal(metrics_stats(m)->set_full, 50);
	/* Once they expire there is room again. */
	assert_int_equal(add(m, "w:late|s", 60000), 1);
	stats_of(m, "w", 60000, &st);
	assert_int_equal(st.w.count, 1);
	metrics_free(m);
}

/* A counter's ring and a timer's window forget samples at the same time. */
static void
test_counter_matches_window(void **state)
{
	struct metrics		*m = metrics_new(6, 12, 100);	/* 500 ms */
	struct series_stats	 c, w;
	uint64_t		 t;

	for (t = 0; t < 20000; t += 137) {
		if (t == 0 || t % 3 != 0) {
			add(m, "n:1|c", t);
			add(m, "n.t:1|ms", t);
		}
		stats_of(m, "n", t, &c);
		stats_of(m, "n.t", t, &w);
		if (c.w.sum != (double)w.w.count)
			fail_msg("t=%llu: counter window %g, timer window "
			    "%llu", (unsigned long long)t, c.w.sum,
			    (unsigned long long)w.w.count);
		assert_true(c.w.rate == w.w.rate);
	}
	metrics_free(m);
}

static void
test_gauge(void **state)
{
	struct metrics			*m = metrics_new(10, 10, 100);
	const struct metrics_stats	*ms = metrics_stats(m);
	struct series_stats		 st;

	assert_int_equal(add(m, "q:10|g", 0), 1);
	assert_int_equal(add(m, "q:+5|g", 0), 1);
	stats_of(m, "q", 0, &st);
	assert_true(st.last == 15);
	assert_true(isnan(st.total));
	assert_int_equal(st.w.count, 2);
	assert_true(st.w.min == 10 && st.w.max == 15);

	/* A delta to below zero: the window holds the negative value. */
	assert_int_equal(add(m, "q:-20|g", 100), 1);
	stats_of(m, "q", 100, &st);
	assert_true(st.last == -5);
	assert_int_equal(st.w.count, 3);
	assert_true(st.w.min == -5);
	assert_int_equal(ms->values_refused, 0);
	/* The next delta starts from -5. */
	assert_int_equal(add(m, "q:+7|g", 200), 1);
	stats_of(m, "q", 200, &st);
	assert_true(st.last == 2);
	assert_int_equal(st.w.count, 4);
	/* A plain value sets it; several on one line apply in order. */
	assert_int_equal(add(m, "q:4:+1:+1|g", 300), 3);
	stats_of(m, "q", 300, &st);
	assert_true(st.last == 6);
	assert_int_equal(st.w.count, 7);
	assert_true(st.w.sum == 10 + 15 - 5 + 2 + 4 + 5 + 6);

	/* A first delta starts from zero (Etsy statsd). */
	assert_int_equal(add(m, "r:-3|g", 0), 1);
	stats_of(m, "r", 0, &st);
	assert_true(st.last == -3);
	assert_int_equal(st.w.count, 1);
	assert_true(st.w.p50 == -3);
	assert_int_equal(add(m, "r:+3|g", 0), 1);
	stats_of(m, "r", 0, &st);
	assert_true(st.last == 0);
	assert_int_equal(st.w.count, 2);
	assert_int_equal(ms->values_refused, 0);

	/* The gauge's last outlives its window. */
	stats_of(m, "q", 60000, &st);
	assert_int_equal(st.w.count, 0);
	assert_true(st.last == 6);
	metrics_free(m);
}

static void
test_refused_values(void **state)
{
	struct metrics			*m = metrics_new(10, 10, 100);
	const struct metrics_stats	*ms = metrics_stats(m);

	assert_int_equal(metrics_add(m, "h", STATSD_HISTOGRAM, NAN, 0), -1);
	assert_int_equal(metrics_add(m, "h", STATSD_HISTOGRAM, INFINITY, 0),
	    -1);
	assert_int_equal(metrics_add(m, "h", STATSD_HISTOGRAM, -1, 0), 0);
	assert_int_equal(metrics_add(m, "h", STATSD_HISTOGRAM, 1, 0), 0);
	/* Negative values are kept, beside the window. */
	assert_int_equal(add(m, "h:-2:3|h", 0), 2);
	assert_int_equal(ms->values_refused, 2);
	assert_int_equal(ms->values, 4);
	assert_int_equal(metrics_count(m), 1);
	metrics_free(m);
}

/*
 * A tagged series feeds its bare name's series, which outlives it: the
 * aggregate goes only once nothing tagged points at it (no dangling
 * pointer under ASan), and a new tagged series links to it again.
 */
static void
test_aggregate(void **state)
{
	struct metrics		*m = metrics_new(10, 10, 100);
	struct series_stats	 st;

	assert_int_equal(add(m, "a:4|ms|#p:x", 0), 1);
	assert_int_equal(add(m, "a:6|ms|#p:y", 0), 1);
	assert_int_equal(metrics_count(m), 3);
	assert_true(series_is_aggregate(metrics_find(m, "a")));
	assert_false(series_is_aggregate(metrics_find(m, "a{p=x}")));
	stats_of(m, "a", 0, &st);
	assert_int_equal(st.w.count, 2);
	assert_true(st.w.sum == 10);

	/* A bare sample keeps "a" fresh while its children go idle. */
	assert_int_equal(add(m, "a:5|ms", 5000), 1);
	assert_int_equal(metrics_expire(m, 5500, 1000), 2);
	assert_int_equal(metrics_count(m), 1);
	assert_false(series_is_aggregate(metrics_find(m, "a")));
	assert_int_equal(add(m, "a:1|ms|#p:z", 5600), 1);
	assert_true(series_is_aggregate(metrics_find(m, "a")));
	stats_of(m, "a", 5600, &st);
	assert_int_equal(st.w.count, 4);

	/* All idle: the children go first, then the aggregate. */
	metrics_expire(m, 60000, 1000);
	metrics_expire(m, 60000, 1000);
	assert_int_equal(metrics_count(m), 0);
	assert_null(metrics_find(m, "a"));
	metrics_free(m);
}

static void
test_type_conflict(void **state)
{
	struct metrics			*m = metrics_new(10, 10, 100);
	const struct metrics_stats	*ms = metrics_stats(m);
	struct series_stats		 st;

	/* One series per type, as Etsy statsd and DogStatsD keep them. */
	assert_int_equal(add(m, "x:1|c", 0), 1);
	assert_int_equal(add(m, "x:1:2|ms", 0), 2);
	assert_int_equal(add(m, "x:1|g", 0), 1);
	assert_int_equal(metrics_add(m, "x", STATSD_HISTOGRAM, 1, 0), 0);
	assert_int_equal(ms->type_conflicts, 3);
	assert_int_equal(ms->values_dropped, 0);
	assert_int_equal(metrics_count(m), 4);
	/* The oldest by name; each by name and type. */
	assert_int_equal(series_type(metrics_find(m, "x")), STATSD_COUNTER);
	stats_of(m, "x", 0, &st);
	assert_true(st.total == 1);
	series_stats(m, metrics_find_type(m, "x", STATSD_TIMER), 0, &st);
	assert_int_equal(st.w.count, 2);
	assert_null(metrics_find_type(m, "x", STATSD_SET));
	assert_int_equal(series_type(metrics_find_type(m, "x",
	    STATSD_HISTOGRAM)), STATSD_HISTOGRAM);

	/* Timer, histogram and distribution are three types. */
	assert_int_equal(add(m, "y:1|ms", 0), 1);
	assert_int_equal(add(m, "y:1|h", 0), 1);
	assert_int_equal(add(m, "y:1|d", 0), 1);
	assert_int_equal(ms->type_conflicts, 5);
	/* Same name, other tags: another series, no conflict. */
	assert_int_equal(add(m, "y:1|h|#k:v", 0), 1);
	assert_int_equal(ms->type_conflicts, 5);
	assert_int_equal(metrics_count(m), 8);
	assert_int_equal(ms->series_dropped, 0);
	/* The histogram's aggregate is the histogram "y". */
	series_stats(m, metrics_find_type(m, "y", STATSD_HISTOGRAM), 0, &st);
	assert_int_equal(st.w.count, 2);
	/* They expire one by one, and the table stays whole. */
	assert_int_equal(metrics_expire(m, 100000, 1000) +
	    metrics_expire(m, 100000, 1000), 8);
	assert_null(metrics_find(m, "x"));
	metrics_free(m);
}

static void
test_bytes(void **state)
{
	struct metrics	*m = metrics_new(10, 10, 10000);
	size_t		 b0, b1, b100, b1000, i;
	char		 line[64];

	b0 = metrics_bytes(m);
	assert_true(b0 > 0);
	add(m, "a:1|ms", 0);
	b1 = metrics_bytes(m);
	assert_true(b1 > b0);
	for (i = 1; i < 100; i++) {
		snprintf(line, sizeof(line), "s%zu:%zu|%s", i, i,
		    i % 2 ? "ms" : "c");
		add(m, line, 0);
	}
	b100 = metrics_bytes(m);
	assert_true(b100 > b1 + 99 * 8);
	for (i = 100; i < 1000; i++) {
		snprintf(line, sizeof(line), "s%zu:%zu|g", i, i);
		add(m, line, 0);
	}
	b1000 = metrics_bytes(m);
	assert_true(b1000 > b100 + 900 * 8);
	assert_int_equal(metrics_count(m), 1000);
	/*
	 * Expiry gives the series' memory back; the tables stay at the
	 * size 1,000 series needed (2 x 2,048 slots of 16 bytes).
	 */
	assert_int_equal(metrics_expire(m, 100000, 1000), 1000);
	assert_true(metrics_bytes(m) < b1000 / 4);
	assert_true(metrics_bytes(m) < b0 + 2 * 2048 * 16 + 1024);
	assert_true(metrics_bytes(m) >= b0);
	metrics_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_new_shapes, setup),
		cmocka_unit_test_setup(test_tag_order, setup),
		cmocka_unit_test_setup(test_find_canonical, setup),
		cmocka_unit_test_setup(test_cap, setup),
		cmocka_unit_test_setup(test_expiry, setup),
		cmocka_unit_test_setup(test_model, setup),
		cmocka_unit_test_setup(test_counter, setup),
		cmocka_unit_test_setup(test_counter_sample_rate, setup),
		cmocka_unit_test_setup(test_counter_matches_window, setup),
		cmocka_unit_test_setup(test_gauge, setup),
		cmocka_unit_test_setup(test_gauge_value, setup),
		cmocka_unit_test_setup(test_sampled_weight, setup),
		cmocka_unit_test_setup(test_negative_samples, setup),
		cmocka_unit_test_setup(test_sets, setup),
		cmocka_unit_test_setup(test_refused_values, setup),
		cmocka_unit_test_setup(test_type_conflict, setup),
		cmocka_unit_test_setup(test_aggregate, setup),
		cmocka_unit_test_setup(test_bytes, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
