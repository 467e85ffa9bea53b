/*
 * bench_ingest.c -- in-process speed of the ingest path without sockets:
 * the StatsD parser (statsd.c) feeding the series registry (metrics.c),
 * the same work ingest_statsd.c does per datagram after recvmmsg.
 *
 * The datagrams look like what tests/bench/loadgen sends: 1,000 series
 * (60% timers "lg.rtt_ms.N:1.234|ms|#peer:nM", 20% gauges, 20% counters),
 * K lines per datagram, from a fixed seed, each series named once per pass
 * in a shuffled order.  The registry is created and warmed with every
 * series before timing, so the figure is the steady state.  Each figure
 * is the median of RUNS runs of the given seconds; for each K the tagged
 * and untagged lines are timed in alternation (the order swapped every
 * run), each with its own warmed registry, so that the two see the same
 * machine.  Printed, one JSON object per line:
 *	parse_lps		 K=10, tagged timers: the headline
 *	parse_lps (k, tags)	 K = 1, 10, 25, timers tagged or not
 *	parse_ns_per_line	 the same, per line
 *	set_ns_per_line		 a full set of 4096 members: lines of a
 *				 member it holds, and of a new one
 *				 (refused)
 *	tag_cost_pct		 throughput lost to tags (the issue's
 *				 "tags parsed into the series identity for
 *				 <= 10% of throughput"), per K: the
 *				 median over the runs of 1 -
 *				 lps(tagged) / lps(untagged) of the same
 *				 run; the tagged lines also feed their
 *				 bare name's series
 *
 * usage: bench_ingest [seconds-per-run, default 0.25]
 *	  bench_ingest -i N	 N passes over the K=10 tagged pool, no
 *				 timing: for callgrind (instructions/line)
 *	  bench_ingest -u N	 the same over the untagged pool
 */
#include <sys/types.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meshtuned.h"

#define RUNS		9
#define SERIES		1000
#define POOL_LINES	20000		/* a multiple of SERIES */
#define LINE_MAX_B	96

struct pool {
	char	*buf;
	size_t	*off, *len;
	size_t	 ndgram, nlines;
};

static uint64_t	rng;

static uint64_t
rnd(void)
{
	uint64_t	z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
now_ns(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1) {
		perror("clock_gettime");
		exit(1);
	}
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void *
alloc(size_t n)
{
	void	*p;

	if ((p = calloc(1, n)) == NULL) {
		perror("calloc");
		exit(1);
	}
	return p;
}

static int
line_make(char *dst, unsigned int type, unsigned int i, int tags)
{
	double	v;

	switch (type) {
	case 0:
		v = exp(log(2.0) + 1.2 * ((double)(rnd() >> 11) /
		    9007199254740992.0 * 3 - 1.5));
		if (tags)
			return snprintf(dst, LINE_MAX_B,
			    "lg.rtt_ms.%u:%.3f|ms|#peer:n%u", i / 64, v,
			    i % 64);
		return snprintf(dst, LINE_MAX_B, "lg.rtt_ms.%u:%.3f|ms", i, v);
	case 1:
		return snprintf(dst, LINE_MAX_B, "lg.queue.%u:%u|g", i,
		    (unsigned int)(rnd() % 5000));
	default:
		return snprintf(dst, LINE_MAX_B, "lg.ops.%u:1|c", i);
	}
}

static void
pool_make(struct pool *pl, unsigned int k, int tags)
{
	unsigned int	 types[SERIES], order[SERIES], i, j, t;
	size_t		 n = 0, l;
	int		 w;

	rng = 1;
	for (i = 0; i < SERIES; i++) {
		t = (unsigned int)(rnd() % 100);
		types[i] = t < 60 ? 0 : t < 80 ? 1 : 2;
		order[i] = i;
	}
	pl->nlines = POOL_LINES / k * k;
	pl->ndgram = pl->nlines / k;
	pl->buf = alloc(pl->nlines * (LINE_MAX_B + 1));
	pl->off = alloc(pl->ndgram * sizeof(*pl->off));
	pl->len = alloc(pl->ndgram * sizeof(*pl->len));
	for (l = 0; l < pl->nlines; l++) {
		if (l % SERIES == 0)
			for (i = SERIES - 1; i > 0; i--) {
				j = (unsigned int)(rnd() % (i + 1));
				t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		if (l % k == 0)
			pl->off[l / k] = n;
		else
			pl->buf[n++] = '\n';
		i = order[l % SERIES];
		w = line_make(pl->buf + n, types[i], i, tags);
		if (w <= 0 || w >= LINE_MAX_B)
			abort();
		n += (size_t)w;
		if (l % k == k - 1)
			pl->len[l / k] = n - pl->off[l / k];
	}
}

static void
pool_free(struct pool *pl)
{
	free(pl->buf);
	free(pl->off);
	free(pl->len);
}

/* One pass over the pool, as ingest_statsd.c does it; values stored. */
static uint64_t
pass(struct statsd_parser *sp, struct metrics *m, const struct pool *pl,
    uint64_t now_ms)
{
	static struct metrics_batch	 b;
	uint64_t			 before = metrics_stats(m)->values;
	size_t				 i;

	/* Batches of 32 datagrams, as ingest_statsd.c reads them. */
	metrics_batch_init(&b, sp);
	for (i = 0; i < pl->ndgram; i++) {
		metrics_batch_datagram(&b, m, pl->buf + pl->off[i],
		    pl->len[i], now_ms);
		if (i % 32 == 31)
			metrics_batch_flush(&b, m, now_ms);
	}
	metrics_batch_flush(&b, m, now_ms);
	return metrics_stats(m)->values - before;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median ns per line over RUNS runs of secs each. */
static void
count_sent(struct series *s, void *arg)
{
	if (!series_is_aggregate(s))
		(*(size_t *)arg)++;
}

/* Series as sent: the bare-name aggregates of tagged ones left out. */
static size_t
sent_series(struct metrics *m)
{
	size_t	n = 0;

	metrics_foreach(m, count_sent, &n);
	return n;
}

/* A pool and the registry it feeds, warmed: every series made. */
struct side {
	struct pool		 pl;
	struct statsd_parser	 sp;
	struct metrics		*m;
	uint64_t		 now_ms;
	double			 ns[RUNS];	/* per line, per run */
};

static void
side_init(struct side *sd, unsigned int k, int tags)
{
	pool_make(&sd->pl, k, tags);
	if ((sd->m = metrics_new(60, 60, 100000)) == NULL)
		abort();
	statsd_init(&sd->sp);
	sd->now_ms = 1000;
	pass(&sd->sp, sd->m, &sd->pl, sd->now_ms);
}

/* Time passes over the pool for secs; the ns per line into ns[run]. */
static void
side_run(struct side *sd, int run, double secs)
{
	uint64_t	t0, t1, lines = 0, good = 0;

	t0 = now_ns();
	do {
		/* Time moves on as in the daemon: 1 ms per pass. */
		good += pass(&sd->sp, sd->m, &sd->pl, ++sd->now_ms);
		lines += sd->pl.nlines;
		t1 = now_ns();
	} while ((double)(t1 - t0) < secs * 1e9);
	if (good != lines) {
		fprintf(stderr, "bench_ingest: %llu of %llu stored\n",
		    (unsigned long long)good, (unsigned long long)lines);
		exit(1);
	}
	sd->ns[run] = (double)(t1 - t0) / (double)lines;
}

static void
side_free(struct side *sd)
{
	if (sent_series(sd->m) != SERIES) {
		fprintf(stderr, "bench_ingest: %zu series, not %d\n",
		    sent_series(sd->m), SERIES);
		exit(1);
	}
	metrics_free(sd->m);
	pool_free(&sd->pl);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(v[0]), cmp_double);
	return v[n / 2];
}

/*
 * Tagged and untagged lines at K per datagram, timed in alternation
 * (the order swapped every run), so the two see the same machine: the
 * median ns per line of each into ns[1] (tagged) and ns[0], and the
 * median of the runs' own costs of tags, in percent, returned.
 */
static double
measure_pair(unsigned int k, double secs, double ns[2])
{
	static struct side	 sd[2];
	double			 cost[RUNS];
	int			 run, first;

	side_init(&sd[0], k, 0);
	side_init(&sd[1], k, 1);
	for (run = 0; run < RUNS; run++) {
		first = run % 2;
		side_run(&sd[first], run, secs);
		side_run(&sd[!first], run, secs);
		cost[run] = 100 * (1 - sd[0].ns[run] / sd[1].ns[run]);
	}
	ns[0] = median(sd[0].ns, RUNS);
	ns[1] = median(sd[1].ns, RUNS);
	side_free(&sd[0]);
	side_free(&sd[1]);
	return median(cost, RUNS);
}

/*
 * A set at statsd.set_max_values (4096, the default), full: lines of
 * members it holds (seen again) and of new members (refused, counted),
 * 32 a datagram, timed in alternation; the median ns per line of each
 * into ns[0] (held) and ns[1] (refused).  A refused member once cost a
 * look at every entry of the set.
 */
#define SET_MAX		4096
static void
measure_sets(double secs, double ns[2])
{
	static struct statsd_parser	 sp;
	static char			 buf[2][SET_MAX * 24];
	static double			 per[2][RUNS];
	struct metrics_batch		*b;
	struct metrics			*m;
	uint64_t			 t0, t1, lines, now_ms = 1000;
	size_t				 len[2] = { 0, 0 }, off, i, n;
	int				 run, side, k;

	if ((m = metrics_new(60, 60, 100000)) == NULL ||
	    (b = calloc(1, sizeof(*b))) == NULL)
		abort();
	metrics_set_set_max(m, SET_MAX);
	statsd_init(&sp);
	metrics_batch_init(b, &sp);
	for (side = 0; side < 2; side++)
		for (i = 0; i < SET_MAX; i++)
			len[side] += (size_t)snprintf(buf[side] + len[side],
			    sizeof(buf[side]) - len[side], "users:%c%zu|s\n",
			    side ? 'n' : 'h', i);
	metrics_batch_datagram(b, m, buf[0], len[0], now_ms);
	metrics_batch_flush(b, m, now_ms);
	for (run = 0; run < RUNS; run++)
		for (k = 0; k < 2; k++) {
			side = (run + k) % 2;
			lines = 0;
			t0 = now_ns();
			do {
				/* 32 lines a datagram, as a client sends. */
				for (off = 0; off < len[side]; off += n) {
					n = 0;
					for (i = 0; i < 32 && off + n <
					    len[side]; i++)
						n += (size_t)(strchr(buf[side] +
						    off + n, '\n') - (buf[side] +
						    off + n)) + 1;
					metrics_batch_datagram(b, m,
					    buf[side] + off, n, ++now_ms / 64);
				}
				metrics_batch_flush(b, m, now_ms / 64);
				lines += SET_MAX;
				t1 = now_ns();
			} while ((double)(t1 - t0) < secs * 1e9);
			per[side][run] = (double)(t1 - t0) / (double)lines;
		}
	if (metrics_stats(m)->set_full == 0) {
		fprintf(stderr, "bench_ingest: the set never filled\n");
		exit(1);
	}
	ns[0] = median(per[0], RUNS);
	ns[1] = median(per[1], RUNS);
	free(b);
	metrics_free(m);
}

/* For callgrind: n passes over the K=10 pool, no clock. */
static int
fixed_passes(long n, int tags)
{
	static struct statsd_parser	 sp;
	struct metrics			*m;
	struct pool			 pl;
	uint64_t			 good = 0;
	long				 i;

	pool_make(&pl, 10, tags);
	if ((m = metrics_new(60, 60, 100000)) == NULL)
		abort();
	statsd_init(&sp);
	pass(&sp, m, &pl, 1000);
	for (i = 0; i < n; i++)
		good += pass(&sp, m, &pl, 1001 + (uint64_t)i);
	printf("{\"bench\":\"ingest\",\"metric\":\"passes\",\"lines\":%llu,"
	    "\"stored\":%llu}\n", (unsigned long long)(n * pl.nlines),
	    (unsigned long long)good);
	metrics_free(m);
	pool_free(&pl);
	return good == (uint64_t)n * pl.nlines ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	static const unsigned int	 ks[] = { 1, 10, 25 };
	double				 secs = 0.25, ns[2], cost;
	size_t				 i;
	int				 tags;

	if (argc == 3 && strcmp(argv[1], "-i") == 0)
		return fixed_passes(atol(argv[2]), 1);
	if (argc == 3 && strcmp(argv[1], "-u") == 0)
		return fixed_passes(atol(argv[2]), 0);
	if (argc > 2 || (argc == 2 && (secs = atof(argv[1])) <= 0)) {
		fprintf(stderr, "usage: bench_ingest [seconds-per-run]\n"
		    "       bench_ingest -i|-u passes\n");
		return 1;
	}
	for (i = 0; i < nitems(ks); i++) {
		cost = measure_pair(ks[i], secs, ns);
		for (tags = 1; tags >= 0; tags--) {
			if (ks[i] == 10 && tags)
				printf("{\"bench\":\"ingest\",\"metric\":"
				    "\"parse_lps\",\"value\":%.0f,"
				    "\"unit\":\"lines/s\"}\n", 1e9 / ns[1]);
			printf("{\"bench\":\"ingest\",\"metric\":\"parse_lps\","
			    "\"k\":%u,\"tags\":%s,\"value\":%.0f,"
			    "\"unit\":\"lines/s\"}\n", ks[i],
			    tags ? "true" : "false", 1e9 / ns[tags]);
			printf("{\"bench\":\"ingest\",\"metric\":"
			    "\"parse_ns_per_line\",\"k\":%u,\"tags\":%s,"
			    "\"value\":%.1f,\"unit\":\"ns\"}\n", ks[i],
			    tags ? "true" : "false", ns[tags]);
		}
		printf("{\"bench\":\"ingest\",\"metric\":\"tag_cost_pct\","
		    "\"k\":%u,\"value\":%.1f,\"unit\":\"%%\"}\n", ks[i],
		    cost);
		fflush(stdout);
	}
	measure_sets(secs, ns);
	printf("{\"bench\":\"ingest\",\"metric\":\"set_ns_per_line\","
	    "\"member\":\"held\",\"value\":%.1f,\"unit\":\"ns\"}\n"
	    "{\"bench\":\"ingest\",\"metric\":\"set_ns_per_line\","
	    "\"member\":\"refused\",\"value\":%.1f,\"unit\":\"ns\"}\n",
	    ns[0], ns[1]);
	return 0;
}
