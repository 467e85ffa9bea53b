/*
 * test_window.c -- cmocka tests of the sliding-window histogram.
 */
#include <sys/types.h>

#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "meshtuned.h"

#define REL_BOUND	0.005		/* the bound */
#define MID_BOUND	(1.0 / 256 + 1e-12)	/* what the design promises */

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

enum dist { D_LOGNORMAL, D_BIMODAL, D_PARETO, D_CONSTANT, D_NDIST };
static const char *dist_name[] = { "lognormal", "bimodal", "pareto",
    "constant" };

static double
draw(enum dist d)
{
	double	v;

	switch (d) {
	case D_LOGNORMAL:
		return exp(3 + gauss());
	case D_BIMODAL:
		v = unif() < 0.9 ? 5 + gauss() : 200 + 30 * gauss();
		return v < 0 ? 0 : v;
	case D_PARETO:
		return 1 / pow(unif(), 1 / 1.5);
	default:
		return 42;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static uint64_t
nearest_rank(double q, uint64_t n)
{
	double		x = q * (double)n;
	uint64_t	r = (uint64_t)x;

	if ((double)r < x)
		r++;
	if (r < 1)
		r = 1;
	return r > n ? n : r;
}

/* What the window must report for the r-th smallest of sorted v[n]. */
static void
assert_quantile(double got, const double *v, size_t n, double q,
    double bound)
{
	double	x = v[nearest_rank(q, n) - 1];

	/* Rank 1 and rank n: the exact min and max, wherever they lie. */
	if (nearest_rank(q, n) == 1)
		assert_true(got == v[0]);
	else if (nearest_rank(q, n) == n)
		assert_true(got == v[n - 1]);
	else if (x < ldexp(1, -20))
		assert_true(got == v[0]);
	else if (x >= ldexp(1, 30))
		assert_true(got == v[n - 1]);
	else {
		if (fabs(got - x) > bound * x)
			print_error("q %g: got %.17g exact %.17g\n", q, got, x);
		assert_true(fabs(got - x) <= bound * x);
	}
}

static void
test_bad_args(void **state)
{
	struct window	*w;

	assert_null(window_new(0, 60, 0));
	assert_null(window_new(60, 0, 0));
	assert_null(window_new(60, 7, 0));	/* 60000 % 7 != 0 */
	assert_null(window_new(1, 4000, 0));
	assert_non_null(w = window_new(1, 1000, 0));
	window_free(w);
	assert_non_null(w = window_new(60, 60, UINT64_C(1) << 50));
	window_free(w);
	window_free(NULL);
}

static void
test_empty(void **state)
{
	struct window		*w = window_new(60, 60, 1000);
	struct window_stats	 st;
	double			 qs[] = { 0, 0.5, 1 }, out[3];

	window_stats(w, 1000, &st);
	assert_int_equal(st.count, 0);
	assert_true(st.rate == 0 && st.sum == 0);
	assert_true(isnan(st.min) && isnan(st.max) && isnan(st.mean));
	assert_true(isnan(st.p50) && isnan(st.p999));
	assert_int_equal(window_quantiles(w, 1000, qs, 3, out), 0);
	assert_true(isnan(out[0]) && isnan(out[1]) && isnan(out[2]));
	assert_int_equal(window_check(w), 0);
	assert_true(window_bytes(w) <= 1024);
	window_free(w);
}

static void
test_one_sample(void **state)
{
	struct window		*w = window_new(60, 60, 0);
	struct window_stats	 st;
	double			 qs[] = { 0, 0.001, 0.5, 0.999, 1 }, out[5];
	size_t			 i;

	assert_int_equal(window_record(w, 12.345, 10), 0);
	window_stats(w, 20, &st);
	assert_int_equal(st.count, 1);
	assert_true(st.sum == 12.345 && st.min == 12.345 &&
	    st.max == 12.345 && st.mean == 12.345);
	/* The bucket's midpoint is clamped to [min, max]: exact. */
	assert_true(st.p50 == 12.345 && st.p999 == 12.345);
	assert_true(fabs(st.rate - 1.0 / 60) < 1e-15);
	assert_int_equal(window_quantiles(w, 20, qs, 5, out), 0);
	for (i = 0; i < 5; i++)
		assert_true(out[i] == 12.345);
	window_free(w);
}

static void
test_refused(void **state)
{
	struct window		*w = window_new(10, 10, 0);
	struct window_stats	 st;
	double			 bad[] = { NAN, -NAN, INFINITY, -INFINITY, -1,
	    -DBL_MIN, -1e300, -4.9e-324 }, qs[] = { 0.5, 1.5 }, out[2];
	size_t			 i;

	for (i = 0; i < nitems(bad); i++)
		assert_int_equal(window_record(w, bad[i], 5), -1);
	window_stats(w, 5, &st);
	assert_int_equal(st.count, 0);
	/* -0 is 0, and is taken. */
	assert_int_equal(window_record(w, -0.0, 5), 0);
	window_stats(w, 5, &st);
	assert_int_equal(st.count, 1);
	assert_int_equal(st.underflow, 1);
	assert_true(st.min == 0 && !signbit(st.min));
	/* Refused again with data in the window. */
	for (i = 0; i < nitems(bad); i++)
		assert_int_equal(window_record(w, bad[i], 5), -1);
	window_stats(w, 5, &st);
	assert_int_equal(st.count, 1);
	/* A q outside [0, 1] is refused and out is untouched. */
	out[0] = out[1] = 7;
	assert_int_equal(window_quantiles(w, 5, qs, 2, out), -1);
	assert_true(out[0] == 7 && out[1] == 7);
	qs[1] = NAN;
	assert_int_equal(window_quantiles(w, 5, qs, 2, out), -1);
	qs[1] = -0.1;
	assert_int_equal(window_quantiles(w, 5, qs, 2, out), -1);
	assert_int_equal(window_check(w), 0);
	window_free(w);
}

static void
test_range(void **state)
{
	struct window		*w = window_new(10, 10, 0);
	struct window_stats	 st;
	double			 v[] = { 0, 4.9e-324, DBL_MIN, 1e-7,
	    ldexp(1, -20), 1e-6, 1, 1e9, ldexp(1, 30), 2e9, 1e300, DBL_MAX };
	double			 qs[nitems(v)], out[nitems(v)], s = 0;
	size_t			 i, n = nitems(v);

	for (i = 0; i < n; i++) {
		assert_int_equal(window_record(w, v[i], 1), 0);
		s += v[i];
		qs[i] = (i + 0.5) / n;	/* rank i + 1 */
	}
	window_stats(w, 1, &st);
	assert_int_equal(st.count, n);
	assert_int_equal(st.underflow, 4);	/* 0, denormal, DBL_MIN, 1e-7 */
	assert_int_equal(st.overflow, 4);	/* 2^30 and above */
	assert_true(st.min == 0 && st.max == DBL_MAX);
	assert_true(st.sum == s);
	assert_int_equal(window_quantiles(w, 1, qs, n, out), 0);
	/* Ranks 1-4 fall in underflow: the exact minimum. */
	for (i = 0; i < 4; i++)
		assert_true(out[i] == 0);
	/* 2^-20, 1e-6, 1 and 1e9 are in range: within the bound. */
	for (i = 4; i < 8; i++)
		assert_true(fabs(out[i] - v[i]) <= MID_BOUND * v[i]);
	/* Overflow: the exact maximum. */
	for (i = 8; i < n; i++)
		assert_true(out[i] == DBL_MAX);
	assert_int_equal(window_check(w), 0);

	/* The edges of the regular range, alone. */
	window_free(w);
	w = window_new(10, 10, 0);
	assert_int_equal(window_record(w, 1e-6, 1), 0);
	assert_int_equal(window_record(w, 1.000001e-6, 1), 0);
	assert_int_equal(window_record(w, 1e9, 1), 0);
	assert_int_equal(window_record(w, 0.999999e9, 1), 0);
	qs[0] = 0.5;
	qs[1] = 0.75;
	assert_int_equal(window_quantiles(w, 1, qs, 2, out), 0);
	assert_true(fabs(out[0] - 1.000001e-6) <= MID_BOUND * 1.000001e-6);
	assert_true(fabs(out[1] - 0.999999e9) <= MID_BOUND * 0.999999e9);
	window_stats(w, 1, &st);
	assert_int_equal(st.underflow, 0);
	assert_int_equal(st.overflow, 0);
	window_free(w);
}

/* 10 s window of 10 slices of 1 s: expiry exactly at slice boundaries. */
static void
test_expiry_boundary(void **state)
{
	struct window		*w = window_new(10, 10, 100000);
	struct window_stats	 st;

	/* Slice [100000, 101000). */
	assert_int_equal(window_record(w, 1, 100000), 0);
	assert_int_equal(window_record(w, 2, 100999), 0);
	/* Slice [101000, 102000). */
	assert_int_equal(window_record(w, 3, 101000), 0);
	window_stats(w, 109999, &st);
	assert_int_equal(st.count, 3);
	assert_int_equal(window_check(w), 0);
	/* At 110000 the slice of 100000 goes, all of it, at once. */
	window_stats(w, 110000, &st);
	assert_int_equal(st.count, 1);
	assert_true(st.min == 3 && st.max == 3 && st.sum == 3);
	assert_int_equal(window_check(w), 0);
	window_stats(w, 110999, &st);
	assert_int_equal(st.count, 1);
	window_stats(w, 111000, &st);
	assert_int_equal(st.count, 0);
	assert_int_equal(window_check(w), 0);
	window_free(w);

	/* Recording is what moves it, too. */
	w = window_new(10, 10, 0);
	assert_int_equal(window_record(w, 5, 999), 0);
	assert_int_equal(window_record(w, 6, 9999), 0);
	assert_int_equal(window_record(w, 7, 10000), 0);
	window_stats(w, 10000, &st);
	assert_int_equal(st.count, 2);
	assert_true(st.min == 6 && st.max == 7);
	assert_int_equal(window_check(w), 0);
	window_free(w);
}

static void
test_idle(void **state)
{
	struct window		*w = window_new(60, 60, 0);
	struct window_stats	 st;
	uint64_t		 t;
	int			 i;

	for (t = 0; t < 60000; t += 10)
		for (i = 0; i < 10; i++)
			assert_int_equal(window_record(w, exp(3 + (i % 7)),
			    t), 0);
	window_stats(w, 60000 - 1, &st);
	assert_int_equal(st.count, 60000);
	assert_true(window_bytes(w) > 1024);
	/* Idle for longer than the window: empty and small. */
	window_stats(w, 60000 + 3600 * 1000, &st);
	assert_int_equal(st.count, 0);
	assert_true(isnan(st.p99));
	assert_true(window_bytes(w) <= 1024);
	assert_int_equal(window_check(w), 0);
	/* Idle for just less than the window, then a sample. */
	assert_int_equal(window_record(w, 8, 4000000), 0);
	window_stats(w, 4000000 + 59999, &st);
	assert_int_equal(st.count, 1);
	assert_true(st.p50 == 8);
	window_stats(w, 4000000 + 60000, &st);
	assert_int_equal(st.count, 0);
	assert_true(window_bytes(w) <= 1024);
	window_free(w);
}

static void
test_minmax_expire(void **state)
{
	struct window		*w = window_new(5, 5, 0);
	struct window_stats	 st;
	double			 qs[] = { 0, 1 }, out[2];
	int			 s;

	/* Slice 0 holds both extremes, then each slice narrows. */
	assert_int_equal(window_record(w, 0.5, 0), 0);
	assert_int_equal(window_record(w, 1000, 0), 0);
	for (s = 1; s < 5; s++) {
		assert_int_equal(window_record(w, 10 + s, s * 1000), 0);
		assert_int_equal(window_record(w, 100 - s, s * 1000), 0);
	}
	window_stats(w, 4999, &st);
	assert_true(st.min == 0.5 && st.max == 1000);
	for (s = 5; s < 9; s++) {
		window_stats(w, s * 1000, &st);
		/* Oldest live slice is s - 4, holding 10+s-4, 100-s+4. */
		assert_true(st.min == 10 + s - 4);
		assert_true(st.max == 100 - s + 4);
		assert_int_equal(window_quantiles(w, s * 1000, qs, 2, out), 0);
		assert_true(out[0] == st.min && out[1] == st.max);
		assert_int_equal(window_check(w), 0);
	}
	/* Last slice alone; then a new extreme in the current slice. */
	assert_int_equal(window_record(w, 3, 8500), 0);
	window_stats(w, 8500, &st);
	assert_true(st.min == 3 && st.max == 96);
	window_free(w);
}

/* Exact reference over a batch of samples with timestamps. */
struct sample {
	uint64_t	 t;
	double		 v;
};

static void
check_against(struct window *w, uint64_t now, const struct sample *s,
    size_t ns, unsigned int seconds, unsigned int slices, double bound)
{
	static const double	 qs[] = { 0, 0.001, 0.01, 0.1, 0.25, 0.5,
	    0.75, 0.9, 0.95, 0.99, 0.999, 1 };
	struct window_stats	 st;
	double			*v, out[nitems(qs)], sum = 0;
	uint64_t		 slice_ms = seconds * 1000ULL / slices;
	uint64_t		 first = now / slice_ms + 1 >= slices ?
	    (now / slice_ms + 1 - slices) * slice_ms : 0;
	size_t			 n = 0, i, under = 0, over = 0;

	v = malloc((ns + 1) * sizeof(*v));
	assert_non_null(v);
	for (i = 0; i < ns; i++)
		if (s[i].t >= first && s[i].t <= now) {
			v[n++] = s[i].v;
			sum += s[i].v;
			under += s[i].v < ldexp(1, -20);
			over += s[i].v >= ldexp(1, 30);
		}
	qsort(v, n, sizeof(*v), cmp_double);
	window_stats(w, now, &st);
	assert_int_equal(st.count, n);
	assert_int_equal(st.underflow, under);
	assert_int_equal(st.overflow, over);
	assert_int_equal(window_check(w), 0);
	if (n == 0) {
		assert_true(isnan(st.p50));
		free(v);
		return;
	}
	assert_true(st.min == v[0] && st.max == v[n - 1]);
	assert_true(fabs(st.sum - sum) <= 1e-9 * fabs(sum) + 1e-12);
	assert_int_equal(window_quantiles(w, now, qs, nitems(qs), out), 0);
	for (i = 0; i < nitems(qs); i++)
		assert_quantile(out[i], v, n, qs[i], bound);
	assert_quantile(st.p50, v, n, 0.5, bound);
	assert_quantile(st.p90, v, n, 0.9, bound);
	assert_quantile(st.p95, v, n, 0.95, bound);
	assert_quantile(st.p99, v, n, 0.99, bound);
	assert_quantile(st.p999, v, n, 0.999, bound);
	free(v);
}

/*
 * The four benchmark distributions, 100 and 1000 samples a slice over
 * 60 slices of 1 s and 30 more so that slices expire: every quantile
 * within 0.5% of the exact nearest-rank value.
 */
static void
test_accuracy(void **state)
{
	static const int	 rates[] = { 100, 1000 };
	struct window		*w;
	struct sample		*s;
	size_t			 ns, r;
	uint64_t		 t;
	int			 d, k;

	for (r = 0; r < nitems(rates); r++) {
		for (d = 0; d < D_NDIST; d++) {
			rng_state = 0x9E3779B97F4A7C15ULL + d;
			w = window_new(60, 60, 0);
			s = malloc(90 * rates[r] * sizeof(*s));
			assert_non_null(s);
			ns = 0;
			for (t = 0; t < 90; t++) {
				for (k = 0; k < rates[r]; k++) {
					s[ns].t = t * 1000 + k * 1000 /
					    rates[r];
					s[ns].v = draw(d);
					assert_int_equal(window_record(w,
					    s[ns].v, s[ns].t), 0);
					ns++;
				}
				if (t % 15 == 14 || t == 59)
					check_against(w, t * 1000 + 999, s,
					    ns, 60, 60, REL_BOUND);
			}
			if (d == D_CONSTANT)
				assert_true(window_bytes(w) <= 1024);
			print_message("# accuracy %s %d/slice ok, %zu bytes\n",
			    dist_name[d], rates[r], window_bytes(w));
			free(s);
			window_free(w);
		}
	}
}

/*
 * Random operations: records of every kind of value, small and large
 * steps of time, queries; after each step the window must agree with a
 * from-scratch recount (window_check) and with an exact model.
 */
static void
test_random_ops(void **state)
{
	static const struct { unsigned int sec, sl; } shape[] = {
		{ 60, 60 }, { 10, 10 }, { 1, 4 }, { 3, 1 }, { 6, 3 } };
	struct window	*w;
	struct sample	*s;
	size_t		 ns, cap = 200000, i, c;
	uint64_t	 now;
	double		 v, x;
	int		 step, k, n;

	s = malloc(cap * sizeof(*s));
	assert_non_null(s);
	for (c = 0; c < nitems(shape); c++) {
		rng_state = 12345 + c;
		now = 1000000 + rng() % 100000;
		w = window_new(shape[c].sec, shape[c].sl, now);
		assert_non_null(w);
		ns = 0;
		for (step = 0; step < 3000; step++) {
			x = unif();
			if (x < 0.6) {
				n = 1 + rng() % 300;
				for (k = 0; k < n && ns < cap; k++) {
					switch (rng() % 12) {
					case 0:
						v = ldexp(unif(), -30);
						break;
					case 1:
						v = 1e9 * (1 + 3 * unif());
						break;
					case 2:
						v = rng() % 2 ? 0 : 7.25;
						break;
					case 3:
						v = -unif();
						break;
					case 4:
						v = NAN;
						break;
					case 5:
						v = exp(40 * unif() - 14);
						break;
					default:
						v = draw(rng() % D_NDIST);
						break;
					}
					if (window_record(w, v, now) == 0) {
						s[ns].t = now;
						s[ns].v = v == 0 ? 0 : v;
						ns++;
					} else
						assert_true(isnan(v) || v < 0);
				}
			} else if (x < 0.85)
				now += rng() % 400;
			else if (x < 0.97)
				now += rng() % (shape[c].sec * 1000 + 1);
			else
				now += rng() % (4 * shape[c].sec * 1000);
			if (step % 7 == 0 || x >= 0.6)
				check_against(w, now, s, ns, shape[c].sec,
				    shape[c].sl, MID_BOUND);
			if (ns > cap - 400) {
				/* Drop expired samples from the model. */
				for (i = k = 0; i < ns; i++)
					if (s[i].t + shape[c].sec * 1000 > now)
						s[k++] = s[i];
				ns = k;
			}
		}
		window_free(w);
	}
	free(s);
}

/*
 * A slice takes UINT32_MAX / slices samples, then refuses more (the fast
 * path too), for one value and for many; the next slice takes more.
 */
static void
test_slice_cap(void **state)
{
	struct window		*w;
	struct window_stats	 st;
	uint64_t		 cap = UINT32_MAX / 3600, i;
	int			 varied, rc;

	for (varied = 0; varied < 2; varied++) {
		w = window_new(3600, 3600, 0);
		assert_non_null(w);
		for (i = 0; i < cap; i++) {
			rc = window_record(w, varied ? 1 + (double)(i % 1000) :
			    5, 10);
			if (rc != 0)
				break;
		}
		assert_int_equal(i, cap);
		assert_int_equal(window_record(w, 5, 10), -1);
		assert_int_equal(window_record(w, 6, 999), -1);
		assert_int_equal(window_check(w), 0);
		window_stats(w, 999, &st);
		assert_int_equal(st.count, cap);
		assert_int_equal(window_record(w, 7, 1000), 0);
		window_stats(w, 1000, &st);
		assert_int_equal(st.count, cap + 1);
		assert_true(st.max == (varied ? 1000 : 7));
		assert_int_equal(window_check(w), 0);
		window_free(w);
	}
}

/*
 * The forms a slice passes through: a long run of one value (dropped
 * from the log for a count), then other values (the run goes to
 * scratch[]), queries between (values bucketed early), buffers growing;
 * every step against the exact model and the recount.
 */
static void
test_slice_forms(void **state)
{
	static const int	 runs[] = { 1, 7, 8, 9, 31, 32, 33, 100, 129,
	    1025, 3000 };
	struct window		*w;
	struct sample		*s;
	size_t			 ns = 0, cap = 40000;
	uint64_t		 t = 5000;
	size_t			 r;
	int			 k;

	s = malloc(cap * sizeof(*s));
	assert_non_null(s);
	rng_state = 77;
	w = window_new(4, 4, t);
	for (r = 0; r < nitems(runs); r++, t += 1000) {
		/* A run of one value, a query inside it, then a mix. */
		for (k = 0; k < runs[r]; k++) {
			s[ns].t = t;
			s[ns].v = 7.25;
			assert_int_equal(window_record(w, 7.25, t), 0);
			ns++;
			if (k == runs[r] / 2)
				check_against(w, t, s, ns, 4, 4, MID_BOUND);
		}
		check_against(w, t, s, ns, 4, 4, MID_BOUND);
		for (k = 0; k < runs[r]; k++) {
			s[ns].t = t + 500;
			s[ns].v = k % 3 == 0 ? 0 : exp(20 * unif() - 10);
			assert_int_equal(window_record(w, s[ns].v, t + 500),
			    0);
			ns++;
		}
		check_against(w, t + 500, s, ns, 4, 4, MID_BOUND);
	}
	/* Let it all expire, one slice at a time. */
	for (k = 0; k < 5; k++, t += 1000)
		check_against(w, t, s, ns, 4, 4, MID_BOUND);
	window_free(w);
	free(s);
}

/*
 * Blocks of every length from 1 to 40 bucketed at once (one at a time,
 * SSE2 or AVX2 with an overlapping last block), after a run of one value
 * kept as a count: the block all that value (the run goes on), or one
 * other value, smaller or larger, at each position in it.
 */
static void
test_fold_blocks(void **state)
{
	struct window	*w;
	struct sample	 s[100];
	size_t		 ns, m, j, k;
	double		 x;

	for (m = 1; m <= 40; m++) {
		for (j = 0; j <= m; j++) {
			w = window_new(4, 4, 1000);
			assert_non_null(w);
			ns = 0;
			for (k = 0; k < 40; k++) {
				s[ns].t = 1000;
				s[ns++].v = 7.25;
				assert_int_equal(window_record(w, 7.25, 1000),
				    0);
			}
			/* A query buckets them: a run of 40. */
			check_against(w, 1000, s, ns, 4, 4, MID_BOUND);
			for (k = 0; k < m; k++) {
				x = k != j ? 7.25 : m % 2 ? 0.125 : 3e5;
				s[ns].t = 1500;
				s[ns++].v = x;
				assert_int_equal(window_record(w, x, 1500), 0);
			}
			check_against(w, 1500, s, ns, 4, 4, MID_BOUND);
			window_free(w);
		}
	}
}

/*
 * A slice that starts empty and gets a block of one value begins a run
 * without bucketing it: values in total[]'s range, under and overflow
 * ones, one far outside total[] (bucketed as usual), and blocks whose
 * first and last values agree but one in between does not.  With 3e9
 * the slice is all overflow but varied: its record has no regular
 * bucket (slice_close() once sized it from a wrapped bucket range).
 */
static void
test_run_start(void **state)
{
	static const double	 vals[] = { 7.25, 0, 3e9, 1e6, 7.5 };
	struct window		*w;
	struct sample		 s[200];
	size_t			 ns, m, j, k, vi;
	double			 x;

	for (vi = 0; vi < nitems(vals); vi++) {
		for (m = 1; m <= 40; m += 3) {
			for (j = 0; j <= m; j += 5) {
				w = window_new(4, 4, 1000);
				assert_non_null(w);
				ns = 0;
				/* Slice 1: varied, so that total[] exists. */
				for (k = 0; k < 20; k++) {
					s[ns].t = 1000;
					s[ns].v = 5 + k;
					assert_int_equal(window_record(w,
					    s[ns].v, 1000), 0);
					ns++;
				}
				/* Slice 2, empty: a block, one value but
				   perhaps at j (not first or last). */
				for (k = 0; k < m; k++) {
					x = k == j && k != 0 && k + 1 < m ?
					    vals[vi] * 2 + 1 : vals[vi];
					s[ns].t = 2000;
					s[ns++].v = x;
					assert_int_equal(window_record(w, x,
					    2000), 0);
				}
				check_against(w, 2000, s, ns, 4, 4, MID_BOUND);
				/* More of the value: the run goes on. */
				for (k = 0; k < 50; k++) {
					s[ns].t = 2500;
					s[ns++].v = vals[vi];
					assert_int_equal(window_record(w,
					    vals[vi], 2500), 0);
				}
				check_against(w, 2500, s, ns, 4, 4, MID_BOUND);
				/* Expiry of both slices, one at a time. */
				check_against(w, 4000, s, ns, 4, 4, MID_BOUND);
				check_against(w, 5000, s, ns, 4, 4, MID_BOUND);
				check_against(w, 6000, s, ns, 4, 4, MID_BOUND);
				window_free(w);
			}
		}
	}
}

/*
 * Closed min and max after the slice holding them expires while only
 * samples arrive (no query walks the slices then): queried at several
 * points later, each time exact; and the window stays consistent while
 * they are only bounds.
 */
static void
test_minmax_lazy(void **state)
{
	struct window		*w = window_new(10, 10, 0);
	struct window_stats	 st;
	double			 qs[] = { 0, 1 }, out[2], mn, mx;
	uint64_t		 t;
	int			 s, k;

	assert_non_null(w);
	/* Slice 0: both extremes; slices 1 .. 39: a band that narrows. */
	assert_int_equal(window_record(w, 0.001, 0), 0);
	assert_int_equal(window_record(w, 5e6, 0), 0);
	for (s = 0; s < 40; s++) {
		t = (uint64_t)s * 1000;
		for (k = 0; k < 100; k++)
			assert_int_equal(window_record(w, 100 + s + k % 7 -
			    (k % 2 ? 0 : 50.0 / (s + 1)), t + k), 0);
		assert_int_equal(window_check(w), 0);
		if (s % 7 != 3)
			continue;
		/* Live: slices s - 9 .. s. */
		mn = s < 10 ? 0.001 : 100 + (s - 9) - 50.0 / (s - 9 + 1);
		mx = s < 10 ? 5e6 : 100 + s + 6;
		window_stats(w, t + 999, &st);
		assert_true(st.min == mn);
		assert_true(st.max == mx);
		assert_int_equal(window_quantiles(w, t + 999, qs, 2, out), 0);
		assert_true(out[0] == mn && out[1] == mx);
		assert_int_equal(window_check(w), 0);
	}
	/* Quantiles first, without stats, after more unqueried slices. */
	for (s = 40; s < 46; s++)
		assert_int_equal(window_record(w, 60 - s / 10.0,
		    (uint64_t)s * 1000), 0);
	assert_int_equal(window_check(w), 0);
	assert_int_equal(window_quantiles(w, 45500, qs, 2, out), 0);
	assert_true(out[0] == 60 - 45 / 10.0 && out[1] == 100 + 39 + 6);
	for (s = 46; s < 53; s++)
		assert_int_equal(window_record(w, 60 - s / 10.0,
		    (uint64_t)s * 1000), 0);
	assert_int_equal(window_check(w), 0);
	/* The band gone: live slices 43 .. 52. */
	assert_int_equal(window_quantiles(w, 52999, qs, 2, out), 0);
	assert_true(out[0] == 60 - 52 / 10.0 && out[1] == 60 - 43 / 10.0);
	window_stats(w, 53000, &st);
	assert_true(st.min == 60 - 52 / 10.0 && st.max == 60 - 44 / 10.0);
	assert_int_equal(st.count, 9);
	window_free(w);
}

/*
 * Under and overflow samples in every slice form: constant slices of 0
 * or of 2^31, slices of only under and overflow (bucket log and dense),
 * and with regular values (bucket log and dense), blocks whose regular
 * values lie outside total[] beside under and overflow ones; queries
 * that land in them; expiry one slice at a time.
 */
static void
test_under_over(void **state)
{
	static const int	 sizes[] = { 1, 5, 100, 1500 };
	struct window		*w;
	struct sample		*s;
	size_t			 ns = 0, cap = 40000, z;
	uint64_t		 t = 9000;
	int			 k, form;
	double			 v;

	s = malloc(cap * sizeof(*s));
	assert_non_null(s);
	rng_state = 99;
	w = window_new(8, 8, t);
	for (form = 0; form < 6; form++) {
		for (z = 0; z < nitems(sizes); z++, t += 1000) {
			for (k = 0; k < sizes[z]; k++) {
				switch (form) {
				case 0:
					v = 0;
					break;
				case 1:
					v = 2147483648.0;
					break;
				case 2:
					v = k % 2 ? 0 : 3e9 + k;
					break;
				case 3:
					v = k % 3 == 0 ? 0 : k % 3 == 1 ?
					    1e10 : 1000 + unif();
					break;
				case 4:
					/* Far below what total[] covers. */
					v = k % 4 == 0 ? 0 : k % 4 == 1 ?
					    ldexp(1, -19) * (1 + unif()) :
					    k % 4 == 2 ? 5e9 : 1000;
					break;
				default:
					v = k % 50 == 0 ? 0 : 4999 * unif();
					break;
				}
				s[ns].t = t;
				s[ns++].v = v;
				assert_int_equal(window_record(w, v, t), 0);
			}
			check_against(w, t, s, ns, 8, 8, MID_BOUND);
		}
	}
	/* Let it all expire, one slice at a time. */
	for (k = 0; k < 10; k++, t += 1000)
		check_against(w, t, s, ns, 8, 8, MID_BOUND);
	assert_true(window_bytes(w) <= 1024);
	window_free(w);
	free(s);
}

/*
 * A gauge of integers in 0 ... 4999, 100 a second: the zeros among them
 * must not make total[] span the octaves from 2^-20 up to the data (5
 * KiB in 16-bit counts, 10 in 32).
 */
static void
test_zeros_small(void **state)
{
	struct window	*w[2];
	struct sample	*s;
	size_t		 ns = 0, cap = 7000, b[2];
	uint64_t	 t = 1000000;
	int		 i, k;
	double		 v;

	s = malloc(cap * sizeof(*s));
	assert_non_null(s);
	for (k = 0; k < 2; k++) {
		rng_state = 4242;
		w[k] = window_new(60, 60, t);
		assert_non_null(w[k]);
		for (i = 0; i < 6000; i++) {
			v = (double)(rng() % 5000);
			/* Window 0 gets a zero every 500 samples. */
			if (i % 500 == 250)
				v = k == 0 ? 0 : 1;
			assert_int_equal(window_record(w[k], v, t + i * 10),
			    0);
			if (k == 0) {
				s[ns].t = t + i * 10;
				s[ns++].v = v;
			}
		}
		b[k] = window_bytes(w[k]);
	}
	check_against(w[0], t + 59990, s, ns, 60, 60, MID_BOUND);
	if (b[0] > b[1] + 1024)
		print_error("with zeros %zu B, without %zu B\n", b[0], b[1]);
	assert_true(b[0] <= b[1] + 1024);
	window_free(w[0]);
	window_free(w[1]);
	free(s);
}

/*
 * total[] counts in 16 bits while the window holds at most 4095
 * samples and in 32 bits past that: a window that fills past it in one
 * slice and over several, one value and many, past 65535 (what 16 bits
 * hold) too, queried and checked against the recount on the way, then
 * emptied one slice at a time (it narrows again).
 */
static void
test_width(void **state)
{
	static const int	 per[][4] = {
		{ 4095, 0, 0, 0 },	/* exactly the most, one value */
		{ 4095, 1, 0, 0 },	/* one more */
		{ 65535, 1, 0, 0 },
		{ 1200, 1200, 1200, 496 },	/* 4096 over 4 slices */
		{ 5000, 5000, 5000, 1384 },	/* 16384 over 4 slices */
		{ 20000, 20000, 20000, 5536 },	/* 65536 over 4 slices */
		{ 70000, 10, 10, 10 },
		{ 40000, 40000, 3, 3 },
	};
	struct window	*w;
	struct sample	*s;
	size_t		 ns, cap = 140000, c;
	uint64_t	 t;
	int		 sl, k;
	double		 v;

	s = malloc(cap * sizeof(*s));
	assert_non_null(s);
	for (c = 0; c < nitems(per); c++) {
		rng_state = 31 + c;
		t = 100000;
		ns = 0;
		w = window_new(4, 4, t);
		assert_non_null(w);
		for (sl = 0; sl < 4; sl++, t += 1000) {
			for (k = 0; k < per[c][sl]; k++) {
				v = c < 3 ? 3.5 : k % 1000 == 0 ? 0 :
				    exp(6 * unif());
				s[ns].t = t;
				s[ns++].v = v;
				assert_int_equal(window_record(w, v, t), 0);
				if (k == per[c][sl] / 2)
					check_against(w, t, s, ns, 4, 4,
					    MID_BOUND);
			}
			check_against(w, t, s, ns, 4, 4, MID_BOUND);
		}
		for (sl = 0; sl < 5; sl++, t += 1000) {
			/* A few new samples as the old ones go. */
			for (k = 0; k < 3; k++) {
				s[ns].t = t;
				s[ns].v = 1 + k;
				assert_int_equal(window_record(w, s[ns].v, t),
				    0);
				ns++;
			}
			check_against(w, t, s, ns, 4, 4, MID_BOUND);
		}
		window_free(w);
	}
	free(s);
}

/*
 * Where the width changes: two windows fed alike over 41 slices, one
 * to 4095 samples, one to 4096, then rotated by one more sample (no
 * query before it, so the rotation's own check must widen).  Only the
 * second has 32-bit counts: 2 bytes more for each of total[]'s
 * hundreds of buckets.
 */
static void
test_width_boundary(void **state)
{
	struct window	*w[2];
	size_t		 b[2];
	uint64_t	 t;
	int		 i, sl, k, n;

	for (i = 0; i < 2; i++) {
		rng_state = 4095;
		t = 100000;
		w[i] = window_new(60, 60, t);
		assert_non_null(w[i]);
		for (sl = 0; sl < 41; sl++, t += 1000) {
			n = sl < 40 ? 100 : 95 + i;
			for (k = 0; k < n; k++)
				assert_int_equal(window_record(w[i],
				    sl == 40 ? 20 + unif() : exp(6 * unif()),
				    t), 0);
		}
		assert_int_equal(window_record(w[i], 20, t), 0);
		b[i] = window_bytes(w[i]);
		assert_int_equal(window_check(w[i]), 0);
	}
	if (b[1] < b[0] + 1024)
		print_error("4095 samples: %zu B, 4096: %zu B\n", b[0], b[1]);
	assert_true(b[1] >= b[0] + 1024);
	window_free(w[0]);
	window_free(w[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_one_sample),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_expiry_boundary),
		cmocka_unit_test(test_idle),
		cmocka_unit_test(test_minmax_expire),
		cmocka_unit_test(test_accuracy),
		cmocka_unit_test(test_random_ops),
		cmocka_unit_test(test_slice_cap),
		cmocka_unit_test(test_slice_forms),
		cmocka_unit_test(test_fold_blocks),
		cmocka_unit_test(test_under_over),
		cmocka_unit_test(test_zeros_small),
		cmocka_unit_test(test_width),
		cmocka_unit_test(test_width_boundary),
		cmocka_unit_test(test_run_start),
		cmocka_unit_test(test_minmax_lazy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
