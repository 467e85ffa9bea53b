/*
 * bench_statsd.c -- in-process speed of the StatsD parser (statsd.c).
 *
 * Datagrams of K = 1, 10 and 25 lines, with and without one DogStatsD tag,
 * are parsed over and over from a pool that stays in cache (as a datagram
 * does right after recvmmsg).  Lines look like what a node sends:
 * "net.rtt_ms:12.5|ms|#peer:a3", a mix of timers, gauges and counters
 * over 13 names.  Each figure is the median of RUNS runs.  Printed, one
 * JSON object per line:
 *	parse_ns_per_line, parse_lps	 pull iterator (statsd_next)
 *	parse_cb_ns_per_line		 callback per line (statsd_parse)
 *	tag_overhead_pct		 tagged vs untagged, same K: extra
 *					 time per line
 *	tag_cost_pct			 the same as throughput lost,
 *					 1 - lps(tagged) / lps(untagged): the
 *					 issue's "tags ... for <= 10% of
 *					 throughput", parser alone
 * usage: bench_statsd [seconds-per-run, default 0.2]
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "meshtuned.h"

#define RUNS		7
#define POOL_BYTES	(128 * 1024)

static const struct {
	const char	*name, *type;
	int		 decimal;	/* "12.5" rather than "125" */
} metrics[] = {
	{ "net.rtt_ms", "ms", 1 },
	{ "net.msg_bytes", "h", 0 },
	{ "net.send_queue", "g", 0 },
	{ "consensus.round_ms", "ms", 1 },
	{ "consensus.ops", "c", 0 },
	{ "consensus.verify_ms", "ms", 1 },
	{ "consensus.pending", "g", 0 },
	{ "mem.heap_mb", "g", 1 },
	{ "mem.cache_mb", "g", 0 },
	{ "mesh.hops", "h", 0 },
	{ "mesh.peers", "g", 0 },
	{ "mesh.loss_pct", "g", 1 },
	{ "mesh.link_quality", "d", 1 },
};

struct pool {
	char	*buf;
	size_t	*off, *len;
	size_t	 ndgram, nlines;
};

static struct statsd_parser	sp;
static volatile uint64_t	sink;

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

/* Fill a pool of about POOL_BYTES with datagrams of k lines each. */
static void
pool_make(struct pool *pl, int k, int tags)
{
	size_t		 cap = POOL_BYTES + 4096, n = 0, i;
	unsigned int	 x = 12345, m;
	int		 j, w;

	pl->buf = alloc(cap);
	pl->off = alloc(sizeof *pl->off * (POOL_BYTES / 16));
	pl->len = alloc(sizeof *pl->len * (POOL_BYTES / 16));
	pl->ndgram = pl->nlines = 0;
	while (n < POOL_BYTES) {
		pl->off[pl->ndgram] = n;
		for (j = 0; j < k; j++) {
			char	val[32];

			x = x * 1103515245 + 12345;
			m = (x >> 16) % nitems(metrics);
			if (metrics[m].decimal)
				snprintf(val, sizeof val, "%u.%u",
				    (x >> 8) % 200, (x >> 4) % 10);
			else
				snprintf(val, sizeof val, "%u",
				    (x >> 8) % 2000);
			if (tags)
				w = snprintf(pl->buf + n, cap - n,
				    "%s:%s|%s|#peer:a%u", metrics[m].name, val,
				    metrics[m].type, (x >> 20) % 32);
			else
				w = snprintf(pl->buf + n, cap - n, "%s:%s|%s",
				    metrics[m].name, val, metrics[m].type);
			if (w < 0 || (size_t)w >= cap - n - 1)
				abort();
			if (j < k - 1)
				pl->buf[n + (size_t)w++] = '\n';
			n += (size_t)w;
			pl->nlines++;
		}
		pl->len[pl->ndgram] = n - pl->off[pl->ndgram];
		pl->ndgram++;
	}
	for (i = 0; i < pl->ndgram; i++)
		if (pl->len[i] == 0)
			abort();
}

static void
pool_free(struct pool *pl)
{
	free(pl->buf);
	free(pl->off);
	free(pl->len);
}

static void
consume_cb(const struct statsd_line *ln, void *arg)
{
	uint64_t	*acc = arg;

	*acc += ln->hash ^ (uint64_t)ln->values[0] ^ ln->type;
}

/* One run: parse the pool until secs have passed; ns per line. */
static double
run(const struct pool *pl, double secs, int use_cb)
{
	struct statsd_line	 ln;
	uint64_t		 t0, t1, lines = 0, acc = 0, limit;
	size_t			 i;

	limit = (uint64_t)(secs * 1e9);
	statsd_init(&sp);
	t0 = now_ns();
	do {
		for (i = 0; i < pl->ndgram; i++) {
			if (use_cb)
				statsd_parse(&sp, pl->buf + pl->off[i],
				    pl->len[i], consume_cb, &acc);
			else {
				statsd_begin(&sp, pl->buf + pl->off[i],
				    pl->len[i]);
				while (statsd_next(&sp, &ln))
					acc += ln.hash ^
					    (uint64_t)ln.values[0] ^ ln.type;
			}
		}
		lines += pl->nlines;
		t1 = now_ns();
	} while (t1 - t0 < limit);
	sink = acc;
	if (sp.stats.lines != lines || sp.stats.samples != lines) {
		fprintf(stderr, "bench_statsd: %llu of %llu lines parsed\n",
		    (unsigned long long)sp.stats.samples,
		    (unsigned long long)lines);
		exit(1);
	}
	return (double)(t1 - t0) / (double)lines;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(const struct pool *pl, double secs, int use_cb)
{
	double	r[RUNS];
	int	i;

	for (i = 0; i < RUNS; i++)
		r[i] = run(pl, secs, use_cb);
	qsort(r, RUNS, sizeof r[0], cmp_double);
	return r[RUNS / 2];
}

int
main(int argc, char *argv[])
{
	static const int	 ks[] = { 1, 10, 25 };
	struct pool		 pl;
	double			 secs = 0.2, ns, ns_cb, ns_plain = 0;
	size_t			 i;
	int			 tags;

	if (argc > 1 && (secs = atof(argv[1])) <= 0) {
		fprintf(stderr, "usage: bench_statsd [seconds-per-run]\n");
		return 1;
	}
	for (i = 0; i < nitems(ks); i++) {
		for (tags = 0; tags <= 1; tags++) {
			pool_make(&pl, ks[i], tags);
			ns = median(&pl, secs, 0);
			ns_cb = median(&pl, secs, 1);
			printf("{\"bench\":\"statsd\",\"metric\":"
			    "\"parse_ns_per_line\",\"k\":%d,\"tags\":%s,"
			    "\"value\":%.2f,\"unit\":\"ns\"}\n", ks[i],
			    tags ? "true" : "false", ns);
			printf("{\"bench\":\"statsd\",\"metric\":\"parse_lps\","
			    "\"k\":%d,\"tags\":%s,\"value\":%.0f,"
			    "\"unit\":\"lines/s\"}\n", ks[i],
			    tags ? "true" : "false", 1e9 / ns);
			printf("{\"bench\":\"statsd\",\"metric\":"
			    "\"parse_cb_ns_per_line\",\"k\":%d,\"tags\":%s,"
			    "\"value\":%.2f,\"unit\":\"ns\"}\n", ks[i],
			    tags ? "true" : "false", ns_cb);
			if (!tags)
				ns_plain = ns;
			else
				printf("{\"bench\":\"statsd\",\"metric\":"
				    "\"tag_overhead_pct\",\"k\":%d,"
				    "\"value\":%.1f,\"unit\":\"%%\"}\n", ks[i],
				    100 * (ns - ns_plain) / ns_plain);
			if (tags)
				printf("{\"bench\":\"statsd\",\"metric\":"
				    "\"tag_cost_pct\",\"k\":%d,"
				    "\"value\":%.1f,\"unit\":\"%%\"}\n", ks[i],
				    100 * (1 - ns_plain / ns));
			fflush(stdout);
			pool_free(&pl);
		}
	}
	return 0;
}
