/*
 * test_metrics_batch.c -- the registry's batched path (metrics_batch_*),
 * known forms included, must store exactly what adding line by line
 * stores, in the same order, and count the same.
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
	sp.opts.gauge_delta = 1;		/* Etsy gauges */
	metrics_batch_init(&batch, &sp);
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
	metrics_batch_init(&batch, &sp);
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


/* Feed text to m through metrics_batch_datagram(), then flush. */
static void
feed_dgram(struct metrics *m, struct statsd_parser *p, const char *text,
    uint64_t now_ms)
{
	metrics_batch_init(&batch, p);
	metrics_batch_datagram(&batch, m, text, strlen(text), now_ms);
	metrics_batch_flush(&batch, m, now_ms);
}

/* A line seen again in its known form skips the parser, same result. */
static void
test_known_form(void **state)
{
	struct metrics		*m;
	struct statsd_parser	 p;
	struct series_stats	 st;
	size_t			 n;

	(void)state;
	m = metrics_new(60, 60, 1000);
	assert_non_null(m);
	statsd_init(&p);
	feed_dgram(m, &p, "rtt:1|ms|#peer:a,dc:x\nrtt:2.5|ms|#peer:a,dc:x\n"
	    "rtt:4|ms|#dc:x,peer:a\nops:1|c|@0.5\nops:3|c|@0.5\n", 1000);
	/* The second rtt and ops lines were known; other tag order not. */
	assert_int_equal(metrics_stats(m)->lines_known, 2);
	assert_int_equal(p.stats.lines, 5);
	assert_int_equal(p.stats.samples, 5);
	series_stats(m, metrics_find(m, "rtt{dc=x,peer=a}"), 1000, &st);
	assert_int_equal(st.w.count, 3);
	assert_true(st.w.sum == 7.5);
	/* And the bare name's aggregate had them all. */
	series_stats(m, metrics_find(m, "rtt"), 1000, &st);
	assert_int_equal(st.w.count, 3);
	/* A known sampled counter is divided by its rate too. */
	series_stats(m, metrics_find(m, "ops"), 1000, &st);
	assert_true(st.total == 8);

	/* Same name, another type: a series of its own, as parsed. */
	feed_dgram(m, &p, "ops:1|g\nops:2|c|@0.5\n", 1000);
	assert_int_equal(metrics_stats(m)->type_conflicts, 1);
	series_stats(m, metrics_find_type(m, "ops", STATSD_GAUGE), 1000, &st);
	assert_true(st.last == 1);
	assert_int_equal(metrics_stats(m)->lines_known, 3);
	series_stats(m, metrics_find(m, "ops"), 1000, &st);
	assert_true(st.total == 12);

	/* A known counter whose value overflows at its rate: nan_inf. */
	feed_dgram(m, &p, "big:1|c|@1e-300\nbig:9007199254740992|c|@1e-300\n",
	    1000);
	assert_int_equal(p.stats.errors[STATSD_NAN_INF], 1);
	series_stats(m, metrics_find(m, "big"), 1000, &st);
	assert_true(st.total == 1 / 1e-300);

	/* Expired series leave no stale form behind (ASan would see it). */
	/* (An aggregate may need a second pass, after its tagged series.) */
	n = metrics_expire(m, 100000, 1000);
	n += metrics_expire(m, 100000, 1000);
	assert_int_equal(n, 5);
	assert_int_equal(metrics_count(m), 0);
	feed_dgram(m, &p, "ops:1|c|@0.5\nops:1|c|@0.5\n", 100000);
	series_stats(m, metrics_find(m, "ops"), 100000, &st);
	assert_true(st.total == 4);
	assert_int_equal(metrics_stats(m)->lines_known, 4);
	metrics_free(m);
}

static size_t
pick(uint64_t *rng, size_t n)
{
	*rng = *rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (size_t)(*rng >> 33) % n;
}

/* Two series' statistics, the same to the bit (NaN equal to NaN). */
static int
same_double(double x, double y)
{
	return x == y || (isnan(x) && isnan(y));
}

struct pair {
	struct metrics	*a, *b;
	uint64_t	 now;
	size_t		 n;
};

/* Every series of a is in b with the same statistics. */
static void
check_in_b(struct series *sa, void *arg)
{
	struct pair		*pr = arg;
	struct series		*sb = metrics_find_type(pr->b, series_key(sa),
				    series_type(sa));
	struct series_stats	 xa, xb;

	assert_non_null(sb);
	series_stats(pr->a, sa, pr->now, &xa);
	series_stats(pr->b, sb, pr->now, &xb);
	assert_int_equal(xa.w.count, xb.w.count);
	assert_true(same_double(xa.w.sum, xb.w.sum));
	assert_true(same_double(xa.w.min, xb.w.min));
	assert_true(same_double(xa.w.max, xb.w.max));
	assert_true(same_double(xa.w.p50, xb.w.p50));
	assert_true(same_double(xa.last, xb.last));
	assert_true(same_double(xa.total, xb.total));
	pr->n++;
}

#define DIFF_DGRAMS	12		/* datagrams a batch may span */
#define DIFF_LINES	60		/* lines a datagram may have */

/*
 * Random datagrams of good and bad lines, fed line by line to a and
 * through batches spanning up to DIFF_DGRAMS datagrams (so a batch
 * flushes in the middle of one, and the registry grows during flushes)
 * to b: the same counts, the same series, the same statistics.
 */
static void
differential(int all)
{
	static const char *const names[] = { "a", "b.c", "rtt_ms", "q",
	    "bad{name", "", "n@me", "caf\xc3\xa9", "sp ace", "x\xff",
	    "_e{1,1}:t|x\n_sc|c|0|d", "_sc|chk|2", NULL, NULL, NULL };
	    /* NULL: s0..s199 */
	static const char *const values[] = { "1", "2.5", "0", ".5", "5.",
	    "-3", "+2", "1e3", "nan", "12345678901234567890", "abc", "1:2",
	    "007", "9007199254740993", "0.1234567890123456789012", "-0.5",
	    "1.0", "m:b" };
	static const char *const types[] = { "ms", "g", "c", "h", "d", "s",
	    "zz", "", "s" };
	static const char *const fields[] = { "", "|@0.5", "|@0", "|@2",
	    "|#peer:a", "|#peer:a,dc:x", "|#dc:x,peer:a", "|#", "|@0.1|#k:v",
	    "|#bad=tag", "|", "|#peer:b|@0.25", "|#a:1,b:2,c:3,d:4,e:5,f:6",
	    "|@1e-300", "|c:abc", "|c:ci-abc,in-1|#peer:a", "|card:low",
	    "|e:x", "|T1700000000", "|T1", "|Tx", "|zz:1", "|#a:1,a:2",
	    "|#a:2,a:1,a:2", "|@0.3|#k:\xc3\xa9" };
	static char		 text[DIFF_DGRAMS][DIFF_LINES * 96];
	struct statsd_parser	 pa, pb;
	struct statsd_line	 ln;
	struct pair		 pr;
	char			 name[16];
	const char		*nm;
	uint64_t		 rng = 7;
	size_t			 n, i, l, d = 0, nd, lines;
	const struct metrics_stats *ma, *mb;

#define PICK(arr) arr[pick(&rng, nitems(arr))]
	pr.a = metrics_new(10, 10, 150);
	pr.b = metrics_new(10, 10, 150);
	assert_non_null(pr.a);
	assert_non_null(pr.b);
	pr.now = 1000;
	statsd_init(&pa);
	statsd_init(&pb);
	memset(&pa.opts, 0, sizeof(pa.opts));
	if (all) {
		pa.opts.gauge_delta = pa.opts.container_tag = 1;
		pa.opts.cardinality_tag = pa.opts.timestamps = 1;
		pa.opts.now_s = 1700000030;
		pa.opts.max_age_s = 60;
	}
	pb.opts = pa.opts;
	metrics_batch_init(&batch, &pb);
	nd = 1 + pick(&rng, DIFF_DGRAMS);
	for (i = 0; i < 2000; i++) {
		n = 0;
		lines = 1 + pick(&rng, DIFF_LINES);
		for (l = 0; l < lines; l++) {
			if ((nm = PICK(names)) == NULL) {
				snprintf(name, sizeof(name), "s%u",
				    (unsigned int)pick(&rng, 200));
				nm = name;
			}
			n += (size_t)snprintf(text[d] + n, sizeof(text[d]) - n,
			    "%s:%s|%s%s%s", nm, PICK(values), PICK(types),
			    PICK(fields), l % 3 ? "\n" : "\r\n");
		}
		statsd_begin(&pa, text[d], n);
		while (statsd_next(&pa, &ln))
			metrics_add_line(pr.a, &ln, pr.now);
		metrics_batch_datagram(&batch, pr.b, text[d], n, pr.now);
		/*
		 * The batch points into the datagrams until it is flushed.
		 * Its lines are all stored at the flush's time, as the
		 * datagrams of one recvmmsg are: the clock moves only then.
		 */
		if (++d == nd) {
			metrics_batch_flush(&batch, pr.b, pr.now);
			d = 0;
			nd = 1 + pick(&rng, DIFF_DGRAMS);
			pr.now += 37 * nd;
		}
		if (i % 400 == 399) {
			metrics_batch_flush(&batch, pr.b, pr.now);
			d = 0;
			assert_int_equal(metrics_expire(pr.a, pr.now, 2000),
			    metrics_expire(pr.b, pr.now, 2000));
		}
	}
	metrics_batch_flush(&batch, pr.b, pr.now);
	assert_memory_equal(&pa.stats, &pb.stats, sizeof(pa.stats));
	ma = metrics_stats(pr.a);
	mb = metrics_stats(pr.b);
	assert_int_equal(ma->values, mb->values);
	assert_int_equal(ma->values_dropped, mb->values_dropped);
	assert_int_equal(ma->values_refused, mb->values_refused);
	assert_int_equal(ma->series_dropped, mb->series_dropped);
	assert_int_equal(ma->type_conflicts, mb->type_conflicts);
	assert_int_equal(ma->set_full, mb->set_full);
	assert_int_equal(ma->series_created, mb->series_created);
	assert_int_equal(ma->series_expired, mb->series_expired);
	assert_int_equal(metrics_count(pr.a), metrics_count(pr.b));
	/* The cap was reached, and the known forms were used, often. */
	assert_true(ma->series_dropped > 0);
	/* (Many more forms than lines here: a few percent are known.) */
	if (mb->lines_known <= mb->values / 40)
		fail_msg("known %llu of %llu values", (unsigned long long)
		    mb->lines_known, (unsigned long long)mb->values);
	pr.n = 0;
	metrics_foreach(pr.a, check_in_b, &pr);
	assert_int_equal(pr.n, metrics_count(pr.b));
	assert_true(pr.n > 30);
	/* The new forms came: sets, events, service checks, ignored. */
	assert_true(pa.stats.events > 0 && pa.stats.service_checks > 0);
	assert_true(pa.stats.fields_ignored > 0);
	assert_non_null(metrics_find_type(pr.a, "a", STATSD_SET));
#undef PICK
	metrics_free(pr.a);
	metrics_free(pr.b);
}

/* Both ways with every parser option off, then on. */
static void
test_known_differential(void **state)
{
	(void)state;
	differential(0);
	differential(1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_same),
		cmocka_unit_test(test_batch_full),
		cmocka_unit_test(test_known_form),
		cmocka_unit_test(test_known_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
