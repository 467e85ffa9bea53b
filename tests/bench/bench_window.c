/*
 * bench_window.c -- benchmark of the sliding-window histogram (issue 3).
 *
 * Prints one JSON object per figure and line.  Four fixed-seed
 * distributions of 1e6 samples (lognormal mu=3 sigma=1; 90% N(5,1) + 10%
 * N(200,30); pareto alpha=1.5 xm=1; constant 42), a window of 60 slices
 * of 1 s, 100 and 1000 samples per slice.  Each figure is the median of
 * REPS repetitions, made round by round over the configurations.  Lines with a "dist" key are per configuration; the
 * headline line of a metric (no "dist") is the worst configuration.
 *
 * Clocks: bulk figures (record, query, seed) are thread CPU time over
 * the whole loop (CLOCK_THREAD_CPUTIME_ID), so that time the scheduler
 * gives to other processes on this shared machine is not counted;
 * rotate_ns times single calls on CLOCK_MONOTONIC, less the clock's own
 * cost, and takes the median of the rotations of a run.
 *
 * ref_store_ns times, just before each record run, a loop of the same
 * shape as the record loop's fast path with no window behind it: three
 * compares and two stores a sample into a private 128-value ring,
 * emptied every 100 samples.  It does not depend on the window code, so
 * it shows the state of the machine, which here switches for seconds at
 * a time between a quiet state (about 1.0 ns) and one about 1.7 times
 * slower; record_per_ref is record_ns over it, the median of the runs'
 * own ratios.
 *
 * Instruction counts come from running this program again under
 * valgrind --tool=callgrind --toggle-collect='record_loop*' on the
 * record-only loop (bench_window -r), which feeds 1e6 samples to a new
 * window, 10 per clock reading, rotating every 100 or 1000 samples.
 * window_record() is inline (src/meshtuned.h), so it is counted by
 * source line: callgrind_annotate lists the instructions executed inside
 * record_loop() per source file, and
 *   record_instructions = every instruction executed while record_loop()
 *     runs, including all it calls (window_record_slow(), rotation,
 *     bucketing, expiry, malloc, memcpy), except those on the lines of
 *     bench_window.c itself (the loop, loading v[i] and ts[i]);
 *   record_loop_instructions = all of them, the loop too;
 * both divided by the number of samples.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "meshtuned.h"

#define NSAMPLES	1000000
#define REPS		9
#define SLICES		60
#define NQUERY		20000
#define SEED_N		1000		/* the reference design's ring */
#define SEED_ADDS	4000

enum dist { D_LOGNORMAL, D_BIMODAL, D_PARETO, D_CONSTANT, D_NDIST };
static const char *dist_name[] = { "lognormal", "bimodal", "pareto",
    "constant" };
static const int rates[] = { 100, 1000 };

static uint64_t rng_state;

static uint64_t
rng(void)
{
	uint64_t	x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static double
unif(void)
{
	return ((rng() >> 11) + 0.5) / 9007199254740992.0;
}

static double
gauss(void)
{
	return sqrt(-2 * log(unif())) * cos(2 * M_PI * unif());
}

static double *
gen(enum dist d, size_t n)
{
	double	*v = malloc(n * sizeof(*v)), x;
	size_t	 i;

	if (v == NULL) {
		perror("malloc");
		exit(1);
	}
	rng_state = 0x243F6A8885A308D3ULL + d;
	for (i = 0; i < n; i++) {
		switch (d) {
		case D_LOGNORMAL:
			x = exp(3 + gauss());
			break;
		case D_BIMODAL:
			x = unif() < 0.9 ? 5 + gauss() : 200 + 30 * gauss();
			if (x < 0)
				x = 0;
			break;
		case D_PARETO:
			x = 1 / pow(unif(), 1 / 1.5);
			break;
		default:
			x = 42;
			break;
		}
		v[i] = x;
	}
	return v;
}

static double
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* CPU time of this thread. */
static double
cpu_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *x, int n)
{
	qsort(x, n, sizeof(*x), cmp_double);
	return n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

static void
emit(const char *metric, double value, const char *unit, int d, int rate)
{
	printf("{\"bench\":\"window\",\"metric\":\"%s\",\"value\":%.6g,"
	    "\"unit\":\"%s\"", metric, value, unit);
	if (d >= 0)
		printf(",\"dist\":\"%s\"", dist_name[d]);
	if (rate > 0)
		printf(",\"per_slice\":%d", rate);
	printf("}\n");
	fflush(stdout);
}

/* Sample i of a stream at rate per 1 s slice arrives at this time. */
static uint64_t
t_of(size_t i, int rate)
{
	return 1000000 + (uint64_t)i * 1000 / rate;
}

/*
 * The record loop, timed and counted by callgrind.  As in the daemon,
 * where now_ms is read once per datagram, the time is read once per 10
 * samples (ts[i] for samples 10i ... 10i + 9).
 */
__attribute__((noinline)) static void
record_loop(struct window *w, const double *v, const uint64_t *ts,
    size_t n)
{
	size_t	i, j;

	for (i = 0; i < n / 10; i++)
		for (j = 0; j < 10; j++)
			window_record(w, v[i * 10 + j], ts[i]);
}

/* The reference loop: window_record()'s fast path on a ring. */
struct ref_ring {
	uint64_t	 next_ms;
	double		*pos;
	double		*end;
	double		 v[128];
};

__attribute__((noinline)) static void
ref_slow(struct ref_ring *r, double v, uint64_t now)
{
	if (now >= r->next_ms)
		r->next_ms = now + 1;
	r->pos = r->v;
	*r->pos++ = v;
}

__attribute__((noinline)) static void
ref_loop(struct ref_ring *r, const double *v, const uint64_t *ts, size_t n)
{
	union { double d; uint64_t u; } x;
	double	*p;
	size_t	 i, j;

	for (i = 0; i < n / 10; i++)
		for (j = 0; j < 10; j++) {
			x.d = v[i * 10 + j];
			p = r->pos;
			if (__builtin_expect(x.u >= 0x7ff0000000000000ULL ||
			    ts[i] >= r->next_ms || p >= r->end, 0)) {
				ref_slow(r, x.d, ts[i]);
				p = r->pos;
			} else
				*p++ = x.d;
			r->pos = p;
		}
}

/* ns per sample of ref_loop() over v at the record loop's times ts. */
static double
bench_ref(const double *v, const uint64_t *ts)
{
	static struct ref_ring r;
	double		 t0, t1;

	r.next_ms = UINT64_MAX;
	r.pos = r.v;
	r.end = r.v + 100;
	t0 = cpu_ns();
	ref_loop(&r, v, ts, NSAMPLES);
	t1 = cpu_ns();
	return (t1 - t0) / NSAMPLES;
}

static uint64_t *
times(int rate)
{
	uint64_t	*ts;
	size_t		 i;

	if ((ts = malloc((NSAMPLES / 10) * sizeof(*ts))) == NULL) {
		perror("malloc");
		exit(1);
	}
	for (i = 0; i < NSAMPLES / 10; i++)
		ts[i] = t_of(i * 10, rate);
	return ts;
}

/*
 * Feed all samples to a new window: ns per record, rotation included;
 * ref_loop()'s ns per sample, timed just before, into *ref.
 */
static double
bench_record(struct window **wp, const double *v, int rate, double *ref)
{
	struct window	*w;
	uint64_t	*ts = times(rate);
	double		 t0, t1;

	*ref = bench_ref(v, ts);
	w = window_new(SLICES, SLICES, ts[0]);
	t0 = cpu_ns();
	record_loop(w, v, ts, NSAMPLES);
	t1 = cpu_ns();
	free(ts);
	*wp = w;
	return (t1 - t0) / NSAMPLES;
}

static double
bench_query(struct window *w, uint64_t now, const double *qs, size_t nq)
{
	double	 t0, t1, out[4], sink = 0;
	int	 i;

	t0 = cpu_ns();
	for (i = 0; i < NQUERY; i++) {
		window_quantiles(w, now, qs, nq, out);
		sink += out[0];
	}
	t1 = cpu_ns();
	if (sink < 0)
		printf("impossible\n");
	return (t1 - t0) / NQUERY;
}

/* Rotations of a full window: median time of a slice expiry. */
static double
bench_rotate(const double *v, int rate)
{
	struct window	*w;
	double		 t0, t1, ovh = 0, r[64], rot[200];
	size_t		 i = 0, s, k, nrot = 0;
	uint64_t	 t;

	w = window_new(SLICES, SLICES, t_of(0, rate));
	for (k = 0; k < 64; k++) {
		t0 = now_ns();
		t1 = now_ns();
		r[k] = t1 - t0;
	}
	ovh = median(r, 64);
	for (s = 0; s < 200; s++) {
		/* Slice s is [1000000 + 1000 s, + 1000): first sample timed. */
		t = 1000000 + 1000 * s;
		for (k = 0; k < (size_t)rate; k++, i++) {
			if (k == 0 && s > SLICES) {
				t0 = now_ns();
				window_record(w, v[i], t);
				t1 = now_ns();
				rot[nrot++] = t1 - t0 - ovh;
			} else
				window_record(w, v[i], t + k * 1000 / rate);
		}
	}
	window_free(w);
	return median(rot, nrot);
}

/* Largest relative error, in %, of p50 p90 p99 p999 over the window. */
static double
accuracy(const double *v, int rate)
{
	static const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	struct window	*w;
	double		*x, out[4], e, emax = 0;
	size_t		 i, j, n, lo, win = (size_t)SLICES * rate, cp;
	uint64_t	 r;

	x = malloc(win * sizeof(*x));
	if (x == NULL)
		exit(1);
	w = window_new(SLICES, SLICES, t_of(0, rate));
	for (cp = 0, i = 0; i < NSAMPLES; i++) {
		window_record(w, v[i], t_of(i, rate));
		/* Check at the last sample of 20 slices spread out. */
		if ((i + 1) % rate != 0 || (i + 1) < win ||
		    ((i + 1) / rate) % (NSAMPLES / rate / 20) != 0)
			continue;
		lo = i + 1 - win;
		n = i + 1 - lo;
		memcpy(x, v + lo, n * sizeof(*x));
		qsort(x, n, sizeof(*x), cmp_double);
		window_quantiles(w, t_of(i, rate), qs, 4, out);
		for (j = 0; j < 4; j++) {
			r = (uint64_t)ceil(qs[j] * n);
			e = fabs(out[j] - x[r - 1]) / x[r - 1] * 100;
			if (e > emax)
				emax = e;
		}
		cp++;
	}
	window_free(w);
	free(x);
	return emax;
}

/*
 * The reference design: the last 1000 samples in a ring, copied and
 * sorted after every add to refresh p50, p95, p99 and max.
 */
static double
bench_seed(const double *v)
{
	double	 ring[SEED_N], tmp[SEED_N], t0, t1, p[4];
	size_t	 i, pos = 0, fill = 0;
	volatile double sink;

	t0 = cpu_ns();
	for (i = 0; i < SEED_ADDS; i++) {
		ring[pos] = v[i];
		pos = (pos + 1) % SEED_N;
		if (fill < SEED_N)
			fill++;
		memcpy(tmp, ring, fill * sizeof(*tmp));
		qsort(tmp, fill, sizeof(*tmp), cmp_double);
		p[0] = tmp[(size_t)(0.50 * (fill - 1))];
		p[1] = tmp[(size_t)(0.95 * (fill - 1))];
		p[2] = tmp[(size_t)(0.99 * (fill - 1))];
		p[3] = tmp[fill - 1];
		sink = p[0] + p[1] + p[2] + p[3];
	}
	t1 = cpu_ns();
	(void)sink;
	return (t1 - t0) / SEED_ADDS;
}

/*
 * Bytes per series on the ingest benchmark's load (tests/bench/loadgen.c,
 * default mix): NSER series of one kind, 100 samples a second each at
 * times spread over the second, a window of 60 slices of 1 s; the mean
 * window_bytes() after 10 s and after 60 s.  Timers: about lognormal,
 * median 2, in (0.3, 12), printed with 3 decimals as loadgen does;
 * gauges: integers uniform in 0 ... 4999 (0 now and then).
 */
#define NSER		200
static void
bench_ingest_bytes(void)
{
	static const char *kind[] = { "timer", "gauge" };
	static const int after[] = { 10, 60 };
	struct window	*w[NSER];
	uint64_t	 t0 = 1000000, ms, end;
	size_t		 b;
	double		 v;
	int		 k, i, a;

	for (k = 0; k < 2; k++) {
		rng_state = 0x9E3779B97F4A7C15ULL + k;
		for (i = 0; i < NSER; i++)
			w[i] = window_new(SLICES, SLICES, t0);
		for (a = 0, ms = 0; a < 2; a++) {
			end = (uint64_t)after[a] * 1000;
			/* Series i gets a sample at ms = i mod 10 (mod 10). */
			for (; ms < end; ms++)
				for (i = (int)(ms % 10); i < NSER; i += 10) {
					if (k == 0) {
						v = exp(log(2.0) + 1.2 *
						    (unif() + unif() + unif() -
						    1.5));
						v = round(v * 1000) / 1000;
					} else
						v = (double)(rng() % 5000);
					window_record(w[i], v, t0 + ms);
				}
			for (b = 0, i = 0; i < NSER; i++)
				b += window_bytes(w[i]);
			printf("{\"bench\":\"window\",\"metric\":"
			    "\"bytes_per_series_ingest\",\"value\":%zu,"
			    "\"unit\":\"B\",\"dist\":\"%s\",\"after_s\":%d}\n",
			    b / NSER, kind[k], after[a]);
		}
		for (i = 0; i < NSER; i++)
			window_free(w[i]);
	}
	fflush(stdout);
}

/* Child mode under callgrind: -r dist rate. */
static int
record_only(int d, int rate)
{
	double		*v = gen(d, NSAMPLES);
	uint64_t	*ts = times(rate);
	struct window	*w = window_new(SLICES, SLICES, ts[0]);

	record_loop(w, v, ts, NSAMPLES);
	window_free(w);
	free(ts);
	free(v);
	return 0;
}

/*
 * Instructions per sample counted by callgrind in record_loop() and all
 * it calls: *all, and *rec without the lines of this file.  Returns 0,
 * or -1 if valgrind or callgrind_annotate failed.
 */
static int
callgrind(const char *self, int d, int rate, double *all, double *rec)
{
	char		 out[] = "/tmp/bench_window.cg.XXXXXX", cmd[2048];
	char		 line[1024];
	FILE		*f;
	int		 fd, rc = -1;
	double		 tot = -1, mine = 0, x;

	if ((fd = mkstemp(out)) == -1)
		return -1;
	close(fd);
	snprintf(cmd, sizeof(cmd), "valgrind --tool=callgrind "
	    "--callgrind-out-file=%s --toggle-collect='record_loop*' "
	    "%s -r %d %d >/dev/null 2>&1", out, self, d, rate);
	if (system(cmd) != 0)
		goto done;
	snprintf(cmd, sizeof(cmd), "callgrind_annotate --inclusive=no "
	    "--threshold=100 %s 2>/dev/null", out);
	if ((f = popen(cmd, "r")) == NULL)
		goto done;
	while (fgets(line, sizeof(line), f) != NULL) {
		/* "  5,600,016 (17.10%)  file:function [object]" */
		char	*p = line, *q = line;

		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			continue;
		for (; *p != '\0' && *p != ' '; p++)
			if (*p != ',')
				*q++ = *p;
		*q = '\0';
		x = strtod(line, NULL);
		if (strstr(p, "PROGRAM TOTALS") != NULL)
			tot = x;
		else if (strstr(p, "bench_window.c:") != NULL)
			mine += x;
	}
	if (pclose(f) == 0 && tot > 0) {
		*all = tot / NSAMPLES;
		*rec = (tot - mine) / NSAMPLES;
		rc = 0;
	}
 done:
	unlink(out);
	return rc;
}

int
main(int argc, char **argv)
{
	static const double q99[] = { 0.99 };
	static const double q4[] = { 0.5, 0.9, 0.99, 0.999 };
	struct window	*w;
	struct window_stats st;
	static double	 rec[2][D_NDIST][REPS], qa[2][D_NDIST][REPS];
	static double	 qb[2][D_NDIST][REPS], ro[2][D_NDIST][REPS];
	static double	 ref[2][D_NDIST][REPS], rr[2][D_NDIST][REPS];
	double		 worst_rr = 0;
	double		*v[D_NDIST], seedr[REPS];
	double		 worst_rec = 0, worst_q1 = 0, worst_q4 = 0;
	double		 worst_rot = 0, worst_err = 0, e, seed, x;
	double		 worst_ins = 0, worst_loop = 0, b;
	char		 self[1024];
	ssize_t		 len;
	size_t		 bytes_logn = 0, bytes_const = 0, bytes_idle = 0;
	uint64_t	 tend;
	int		 d, r, k;

	if (argc == 4 && strcmp(argv[1], "-r") == 0)
		return record_only(atoi(argv[2]), atoi(argv[3]));

	bench_ingest_bytes();
	for (d = 0; d < D_NDIST; d++)
		v[d] = gen(d, NSAMPLES);

	/*
	 * Repetitions round by round over the eight configurations, not
	 * back to back: this machine changes speed for seconds at a time,
	 * and a configuration's median should not rest on one such spell.
	 */
	for (k = 0; k < REPS; k++)
		for (r = 0; r < 2; r++)
			for (d = 0; d < D_NDIST; d++) {
				tend = t_of(NSAMPLES - 1, rates[r]);
				rec[r][d][k] = bench_record(&w, v[d], rates[r],
				    &ref[r][d][k]);
				rr[r][d][k] = rec[r][d][k] / ref[r][d][k];
				qa[r][d][k] = bench_query(w, tend, q99, 1);
				qb[r][d][k] = bench_query(w, tend, q4, 4);
				if (k == 0) {
					b = window_bytes(w);
					emit("bytes_per_series", b, "B", d,
					    rates[r]);
					if (r == 0 && d == D_LOGNORMAL)
						bytes_logn = b;
					if (r == 0 && d == D_CONSTANT)
						bytes_const = b;
					window_stats(w, tend + 3600 * 1000,
					    &st);
					bytes_idle = window_bytes(w);
				}
				window_free(w);
				ro[r][d][k] = bench_rotate(v[d], rates[r]);
			}
	for (r = 0; r < 2; r++) {
		for (d = 0; d < D_NDIST; d++) {
			x = median(rec[r][d], REPS);
			emit("record_ns", x, "ns", d, rates[r]);
			worst_rec = x > worst_rec ? x : worst_rec;
			x = median(rr[r][d], REPS);
			emit("record_per_ref", x, "x", d, rates[r]);
			worst_rr = x > worst_rr ? x : worst_rr;
			x = median(qa[r][d], REPS);
			emit("query_p99_ns", x, "ns", d, rates[r]);
			worst_q1 = x > worst_q1 ? x : worst_q1;
			x = median(qb[r][d], REPS);
			emit("query_4q_ns", x, "ns", d, rates[r]);
			worst_q4 = x > worst_q4 ? x : worst_q4;
			x = median(ro[r][d], REPS);
			emit("rotate_ns", x, "ns", d, rates[r]);
			worst_rot = x > worst_rot ? x : worst_rot;
			e = accuracy(v[d], rates[r]);
			emit("max_rel_err_pct", e, "%", d, rates[r]);
			worst_err = e > worst_err ? e : worst_err;
		}
	}
	emit("record_ns", worst_rec, "ns", -1, 0);
	/* All runs' (rr[] is done with them: sorting is harmless). */
	emit("ref_store_ns", median(&ref[0][0][0], 2 * D_NDIST * REPS), "ns",
	    -1, 0);
	emit("record_per_ref", worst_rr, "x", -1, 0);
	emit("query_p99_ns", worst_q1, "ns", -1, 0);
	emit("query_4q_ns", worst_q4, "ns", -1, 0);
	emit("rotate_ns", worst_rot, "ns", -1, 0);
	emit("bytes_per_series", bytes_logn, "B", -1, 0);
	emit("bytes_per_series_constant", bytes_const, "B", -1, 0);
	emit("bytes_per_series_idle", bytes_idle, "B", -1, 0);
	emit("max_rel_err_pct", worst_err, "%", -1, 0);

	for (k = 0; k < REPS; k++)
		seedr[k] = bench_seed(v[D_LOGNORMAL]);
	seed = median(seedr, REPS);
	emit("seed_record_ns", seed, "ns", -1, 0);
	emit("speedup_vs_seed", seed / worst_rec, "x", -1, 0);

	/* Instruction counts: deterministic, so one run each. */
	if ((len = readlink("/proc/self/exe", self, sizeof(self) - 1)) < 0) {
		perror("readlink");
		return 1;
	}
	self[len] = '\0';
	for (r = 0; r < 2; r++) {
		for (d = 0; d < D_NDIST; d++) {
			if (callgrind(self, d, rates[r], &b, &x) == -1) {
				fprintf(stderr, "bench_window: valgrind "
				    "--tool=callgrind or callgrind_annotate "
				    "failed, no record_instructions\n");
				return 0;
			}
			emit("record_instructions", x, "instr", d, rates[r]);
			emit("record_loop_instructions", b, "instr", d,
			    rates[r]);
			worst_ins = x > worst_ins ? x : worst_ins;
			worst_loop = b > worst_loop ? b : worst_loop;
		}
	}
	emit("record_instructions", worst_ins, "instr", -1, 0);
	emit("record_loop_instructions", worst_loop, "instr", -1, 0);
	return 0;
}
