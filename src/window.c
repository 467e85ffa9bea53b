/*
 * window.c -- sliding-window histogram: count, rate, sum, min, max, mean
 * and quantiles of the samples of the last window.seconds.
 *
 * Pure: no I/O, no clock; every call is handed "now" in milliseconds of a
 * monotonic clock.
 *
 * Buckets.  A sample v is put in the bucket named by the top 19 bits of
 * its IEEE 754 binary64 encoding: the exponent and the first 7 bits of
 * the mantissa.  So every power of two is cut into 128 equal buckets and a
 * bucket [L, U) has U/L <= 1 + 1/128.  Regular buckets cover
 * [2^-20, 2^30), about [9.54e-7, 1.07e9), a superset of 1e-6 ... 1e9.
 * A value below 2^-20 (0 included) is clamped into one underflow bucket, a
 * value at or above 2^30 into one overflow bucket; both are counted and
 * reported by window_stats().  The two are counts kept beside the regular
 * buckets, not next to them in bucket order, so a 0 among values of 1 to
 * 5000 does not make total[] span the empty octaves from 2^-20 up.  NaN,
 * +-Inf and negative values are refused by window_record() and never
 * stored; -0 is taken as 0.
 *
 * Quantile definition (also in meshtuned.conf(5)):
 *   Quantile q of the n samples in the window is the nearest-rank value:
 *   the sample of rank r = ceil(q * n) in ascending order (r is at least
 *   1 and at most n, so q = 0 is the minimum and q = 1 the maximum).
 *   meshtune reports the midpoint (L + U) / 2 of the bucket [L, U) that
 *   holds that sample, limited to the exact [min, max] of the window.
 *   Rank 1 and rank n report the exact minimum and maximum.
 *   Buckets are at most 1/128 of their lower bound wide, so the reported
 *   value is within 1/256 (0.39%) of the exact nearest-rank value for
 *   samples from 1e-6 to 1e9.  If the rank falls in the underflow bucket
 *   (values below 2^-20, about 9.5e-7, including 0) the window's exact
 *   minimum is reported; if it falls in the overflow bucket (values of
 *   2^30, about 1.07e9, or more) the window's exact maximum.  count, sum,
 *   min, max and mean are exact over the window, not bucketed (sum adds
 *   the samples in blocks, a run of one value as value times count, not
 *   one by one in arrival order, so its rounding may differ from a
 *   sequential sum's); rate is count divided by window.seconds.  An
 *   empty window reports NaN for every value but count, rate and sum,
 *   which are 0.
 *
 * Time.  Slices are slice_ms = seconds * 1000 / slices long and aligned
 * to multiples of slice_ms of the clock.  The window is the current slice
 * and the slices - 1 before it; when now reaches the next multiple of
 * slice_ms the oldest slice is dropped, so a sample is gone at the first
 * slice boundary at which it is seconds old or older, never later.
 *
 * Design.  total[] counts the live samples of every regular bucket in
 * [lo, lo + span), a range that grows (with some slack) to take what
 * arrives, shrinks when more than half of it is unused and is freed when
 * the window empties, so a series in a narrow range pays for that range
 * only; total[-1] and total[span] count the live underflow and overflow
 * samples.  Its counts are 16 bits wide while the window holds at most
 * NARROW_MAX (4095) samples and 32 bits past that, narrowed again at a
 * quarter of it: no count, nor a sum of counts, passes the window's, so
 * a query sums 16-bit blocks without overflow.  Narrow counts halve
 * total[] where it is a good part of a light series' memory; a busier
 * window is wide because it records faster: this machine stores a
 * 16-bit count in about 0.64 ns and a 32-bit one in 0.35 ns (scattered
 * increments), and every sample is added once and subtracted once (60 s
 * at 100 samples a second: 5% to 10% off record_ns), while its arena
 * (2 bytes a sample) dwarfs the 2 bytes a bucket that narrow counts save.
 *
 * Recording is inline (window_record() in meshtuned.h): three compares
 * (value finite and not negative, now before the slice's end, room in
 * the value log) and one store of the value into vlog[]; the log's
 * position stays in a register across a caller's loop.  No running
 * sum, min or max is updated per sample: those chains through memory
 * would cost more than everything else.  When vlog[] fills (32 to 128
 * values), at a rotation and before a query, fold() takes the values
 * sixteen at a time (AVX2, if the processor has it) or eight at a time
 * (SSE2), the last block overlapping the one before it: their sum, min
 * and max go into the current slice's, their buckets (the high words
 * of the doubles shifted, less lo, clamped; a block with under or
 * overflow values gets these entries set to -1 and span after) onto the
 * slice's bucket log log[] and into total[].  (A slice that is all in
 * vlog[] when it closes, the usual case at up to 128 samples a slice,
 * has its entries written straight into its arena record.)  A log that
 * fills is flushed into scratch[] (counts), or, while the slice is all
 * one value, dropped for a count; a block that goes on such a run is
 * only compared with its value.
 *
 * When a slice closes it is stored in a byte ring (the arena) in the
 * smallest of five forms: empty, constant (one value), same constant as
 * the slice before it, its bucket log (2 bytes a sample and 32 a slice),
 * or dense counts over its own [min, max] buckets; a slice with under or
 * overflow samples keeps their two counts in its record and its regular
 * buckets only in the log or the counts.  When a slice expires its
 * record is subtracted from total[], and the closed slices' min and max
 * are walked again only if the last slice holding one of them went.  A
 * window fills its arena over its length, then stops growing: the arena
 * grows by a quarter, less once it holds nearly all slices at the rate
 * seen so far, and halves when three quarters are unused.  A query folds
 * what vlog[] holds, then walks total[] from the nearer end, 32 buckets
 * at a time, counting the underflow before the first bucket and the
 * overflow after the last.
 *
 * Memory, 100 samples a second of 60 slices of 1 s
 * (bytes_per_series_ingest in tests/bench/bench_window.c): a timer with
 * values from 0.3 to 12 holds about 5.0 KB after 10 s (struct 296,
 * total[] 1.3 K, vlog[] 0.5 K, log[] 0.25 K, arena 2.7 K) and 18.6 KB
 * once the window is full (its counts wide by then: 17 KB narrow), 14 K
 * of it the arena's bucket logs.
 */
#include <sys/types.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(WINDOW_NO_AVX2)
#define WINDOW_AVX2	1	/* fold() in AVX2 if the processor has it */
#include <immintrin.h>
#endif

#include "meshtuned.h"

#define SHIFT		45		/* 52 mantissa bits - 7 kept */
#define G_LOW		((uint64_t)(1023 - 20) << 7)	/* bucket of 2^-20 */
#define G_HIGH		((uint64_t)(1023 + 30) << 7)	/* bucket of 2^30 */
#define G_UNDER		(G_LOW - 1)	/* bucket_of() a value below 2^-20 */
#define G_OVER		G_HIGH		/* of a value at or above 2^30 */
#define GROW_ALIGN	16		/* total[] grows in these steps */
#define GROW_SLACK	32		/* and this much beyond the sample */
#define BLOCK		32		/* query scan step */
#define SHRINK_SLACK	64		/* empty buckets kept at either end */
#define NARROW_MAX	4095		/* window count a narrow total[] takes */
#define NARROW_BACK	(NARROW_MAX / 4) /* narrowed again at this count */

#define LOG_INIT	32		/* first log: entries */
#define LOG_MAX		1024		/* log is flushed to scratch[] above */
#define VLOG_INIT	32		/* first vlog: values */
#define VLOG_MAX	128		/* vlog is folded when full */
#define SLICE_NMAX	((1U << 30) - 1) /* record header keeps 30 bits */
#define MAX_SLICES	3600
#define ARENA_STEP	64		/* arena sizes are multiples of this */

/* Record kinds, the low 2 bits of a record's header; n is the rest. */
#define K_CONST		0	/* double v; n == 0: an empty slice, no v */
#define K_SAME		1	/* the v of the record before it */
#define K_LOG		2	/* rec_stats, uint32 base, [uo], int16
				   entry[n - u - o] */
#define K_DENSE		3	/* rec_stats, uint32 gmin, nb, [uo], uint32
				   c[nb] */
/*
 * Set in base or gmin if the slice had under or overflow samples: [uo]
 * is then uint32 u, o, their counts, and the entries and counts are of
 * the regular buckets only.
 */
#define REC_UO		0x80000000U

struct rec_stats {
	double		 sum;
	double		 min;
	double		 max;
};

struct window {
	struct window_hot h;		/* window_record()'s part: first */

	uint64_t	 lo;		/* bucket of total[0] */
	uint64_t	 span;		/* regular buckets in total[] */
	void		*total;		/* bucketed live samples per bucket;
					   total[-1] underflow, total[span]
					   overflow (NULL: none) */
	int		 wide;		/* total[] is uint32_t, not uint16_t */
	uint32_t	 walk_mask;	/* closed_walk() when idx & it is 0 */
	double		*vlog;		/* values not bucketed yet, h.pos */
	uint64_t	 vcap;		/* vlog[] entries */

	/* Current slice, bucketed samples. */
	double		 sum;
	double		 min;
	double		 max;
	int16_t		*log;		/* total[] index of each */
	uint64_t	 nlog;		/* entries in log[] */
	uint64_t	 logcap;
	uint32_t	*scratch;	/* counts moved out of log[], laid
					   out as total[] */
	int		 scratch_used;
	uint64_t	 flushed;	/* samples out of log[] */
	uint64_t	 flushed_g;	/* all in this bucket if !scratch_used */
	uint64_t	 nmax;		/* samples a slice may take */

	uint64_t	 slice_ms;
	uint64_t	 cur_idx;	/* now_ms / slice_ms of current slice */
	unsigned int	 seconds;
	unsigned int	 slices;

	unsigned char	*arena;		/* closed slices, a ring of records */
	size_t		 acap;
	size_t		 ahead;		/* oldest record */
	size_t		 atail;		/* end of the newest record */
	size_t		 awrap;		/* if not 0: data ends here, then
					   goes on at 0 */
	unsigned int	 nrec;		/* records in the arena */
	int		 tail_const;	/* newest record is K_CONST/K_SAME */
	double		 tail_v;	/* and holds this value */
	double		 head_v;	/* v of the last expired constant */

	uint64_t	 cl_n;		/* closed slices: samples */
	double		 cl_sum;	/* valid if cl_sum_ok */
	double		 cl_min;
	double		 cl_max;
	unsigned int	 cl_nmin;	/* closed slices whose min is cl_min */
	unsigned int	 cl_nmax;	/* and whose max is cl_max */
	int		 cl_sum_ok;
	int		 cl_mm_ok;	/* cl_min, cl_max and their counts
					   exact; if not, cl_min is at most
					   the closed slices' min, cl_max at
					   least their max */
};

static double
bits_double(uint64_t b)
{
	double	d;

	memcpy(&d, &b, sizeof(d));
	return d;
}

static uint64_t
double_bits(double d)
{
	uint64_t	b;

	memcpy(&b, &d, sizeof(b));
	return b;
}

/* Bucket of a valid (finite, >= 0) value. */
static uint64_t
bucket_of(double v)
{
	uint64_t	g = double_bits(v) >> SHIFT;

	if (g < G_UNDER)
		return G_UNDER;
	if (g > G_OVER)
		return G_OVER;
	return g;
}

static double
bucket_mid(uint64_t g)
{
	double	l = bits_double(g << SHIFT);
	double	u = bits_double((g + 1) << SHIFT);

	return l + (u - l) / 2;
}

/*
 * Index into total[] (and scratch[]) of bucket g: -1 for the underflow,
 * span for the overflow.
 */
static inline int64_t
tidx(const struct window *w, uint64_t g)
{
	if (g < G_LOW)
		return -1;
	if (g >= G_HIGH)
		return (int64_t)w->span;
	return (int64_t)(g - w->lo);
}

/*
 * total[] or scratch[] for span regular buckets of size bytes each (2 or
 * 4), zeroed.
 */
static void *
cells_new(uint64_t span, size_t size)
{
	return (char *)xcalloc(span + 2, size) + size;
}

static void
cells_free(void *t, size_t size)
{
	if (t != NULL)
		free((char *)t - size);
}

/* Bytes of an entry of total[]. */
static inline size_t
tsize(const struct window *w)
{
	return w->wide ? sizeof(uint32_t) : sizeof(uint16_t);
}

/* Add d (mod 2^32 or 2^16: UINT32_MAX subtracts 1) to total[i]. */
static inline __attribute__((always_inline)) void
cell_add(void *t, int wide, int64_t i, uint32_t d)
{
	if (wide)
		((uint32_t *)t)[i] += d;
	else
		((uint16_t *)t)[i] += (uint16_t)d;
}

static inline void
tadd(struct window *w, int64_t i, uint32_t d)
{
	cell_add(w->total, w->wide, i, d);
}

static inline uint32_t
tget(const struct window *w, int64_t i)
{
	if (w->wide)
		return ((const uint32_t *)w->total)[i];
	return ((const uint16_t *)w->total)[i];
}

static uint32_t
rd32(const unsigned char *p)
{
	uint32_t	x;

	memcpy(&x, p, sizeof(x));
	return x;
}

static int16_t
rd16(const unsigned char *p)
{
	int16_t		x;

	memcpy(&x, p, sizeof(x));
	return x;
}

static void
wr32(unsigned char *p, uint32_t x)
{
	memcpy(p, &x, sizeof(x));
}

/* Values in vlog[]. */
static uint64_t
vlog_n(const struct window *w)
{
	return w->vlog == NULL ? 0 : (uint64_t)(w->h.pos - w->vlog);
}

static uint64_t
cur_count(const struct window *w)
{
	return w->flushed + w->nlog + vlog_n(w);
}

/*
 * Where window_record() must stop and call window_record_slow(): at the
 * end of vlog[] or of the slice's share of samples.
 */
static void
set_lim(struct window *w)
{
	uint64_t	room = w->nmax - w->flushed - w->nlog;

	if (w->vlog == NULL) {
		w->h.pos = w->h.end = NULL;
		return;
	}
	w->h.end = w->vlog + (w->vcap < room ? w->vcap : room);
}

/* Make log[] hold m more entries. */
static void	log_flush(struct window *);

static void
log_room(struct window *w, uint64_t m)
{
	uint64_t	cap;

	if (w->nlog + m <= w->logcap)
		return;
	if (w->nlog != 0 && w->min == w->max && !w->scratch_used) {
		/* All one value so far: keep the count, not the entries. */
		w->flushed_g = bucket_of(w->min);
		w->flushed += w->nlog;
		w->nlog = 0;
	} else if (w->nlog + m > LOG_MAX)
		log_flush(w);
	if (w->nlog + m <= w->logcap)
		return;
	cap = w->logcap != 0 ? 2 * w->logcap : LOG_INIT;
	while (cap < w->nlog + m)
		cap *= 2;
	w->logcap = cap;
	w->log = xreallocarray(w->log, cap, sizeof(*w->log));
}

/*
 * Add d (1, or UINT32_MAX: subtract 1) to t[x] for each of the n 16-bit
 * entries x at e: sixteen at a time, then what is left.
 */
static inline __attribute__((always_inline)) void
add_entries_t(void *t, int wide, const unsigned char *e, size_t n,
    uint32_t d)
{
	const unsigned char *end = e + 2 * (n & ~(size_t)15);

	for (; e < end; e += 32) {
		cell_add(t, wide, rd16(e), d);
		cell_add(t, wide, rd16(e + 2), d);
		cell_add(t, wide, rd16(e + 4), d);
		cell_add(t, wide, rd16(e + 6), d);
		cell_add(t, wide, rd16(e + 8), d);
		cell_add(t, wide, rd16(e + 10), d);
		cell_add(t, wide, rd16(e + 12), d);
		cell_add(t, wide, rd16(e + 14), d);
		cell_add(t, wide, rd16(e + 16), d);
		cell_add(t, wide, rd16(e + 18), d);
		cell_add(t, wide, rd16(e + 20), d);
		cell_add(t, wide, rd16(e + 22), d);
		cell_add(t, wide, rd16(e + 24), d);
		cell_add(t, wide, rd16(e + 26), d);
		cell_add(t, wide, rd16(e + 28), d);
		cell_add(t, wide, rd16(e + 30), d);
	}
	switch (n & 15) {
	case 15:
		cell_add(t, wide, rd16(e + 28), d);
		/* FALLTHROUGH */
	case 14:
		cell_add(t, wide, rd16(e + 26), d);
		/* FALLTHROUGH */
	case 13:
		cell_add(t, wide, rd16(e + 24), d);
		/* FALLTHROUGH */
	case 12:
		cell_add(t, wide, rd16(e + 22), d);
		/* FALLTHROUGH */
	case 11:
		cell_add(t, wide, rd16(e + 20), d);
		/* FALLTHROUGH */
	case 10:
		cell_add(t, wide, rd16(e + 18), d);
		/* FALLTHROUGH */
	case 9:
		cell_add(t, wide, rd16(e + 16), d);
		/* FALLTHROUGH */
	case 8:
		cell_add(t, wide, rd16(e + 14), d);
		/* FALLTHROUGH */
	case 7:
		cell_add(t, wide, rd16(e + 12), d);
		/* FALLTHROUGH */
	case 6:
		cell_add(t, wide, rd16(e + 10), d);
		/* FALLTHROUGH */
	case 5:
		cell_add(t, wide, rd16(e + 8), d);
		/* FALLTHROUGH */
	case 4:
		cell_add(t, wide, rd16(e + 6), d);
		/* FALLTHROUGH */
	case 3:
		cell_add(t, wide, rd16(e + 4), d);
		/* FALLTHROUGH */
	case 2:
		cell_add(t, wide, rd16(e + 2), d);
		/* FALLTHROUGH */
	case 1:
		cell_add(t, wide, rd16(e + 0), d);
		break;
	}
}

static void
add_entries16(void *t, const unsigned char *e, size_t n, uint32_t d)
{
	add_entries_t(t, 0, e, n, d);
}

static void
add_entries32(void *t, const unsigned char *e, size_t n, uint32_t d)
{
	add_entries_t(t, 1, e, n, d);
}

/* add_entries_t() into total[], or what would be it at t. */
static inline void
add_entries(const struct window *w, void *t, const unsigned char *e,
    size_t n, uint32_t d)
{
	if (w->wide)
		add_entries32(t, e, n, d);
	else
		add_entries16(t, e, n, d);
}

/*
 * Add 1 to t[x] for each of the na entries x at a and subtract 1 from
 * u[y] for each of the nb entries y at b: one loop for both while both
 * last, sixteen of each at a time.
 */
static inline __attribute__((always_inline)) void
add_sub_t(void *t, int wide, const unsigned char *a, size_t na, void *u,
    const unsigned char *b, size_t nb)
{
	size_t		 k = 2 * ((na < nb ? na : nb) & ~(size_t)15), i;

	for (i = 0; i < k; i += 32) {
		cell_add(t, wide, rd16(a + i + 0), 1);
		cell_add(u, wide, rd16(b + i + 0), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 2), 1);
		cell_add(u, wide, rd16(b + i + 2), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 4), 1);
		cell_add(u, wide, rd16(b + i + 4), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 6), 1);
		cell_add(u, wide, rd16(b + i + 6), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 8), 1);
		cell_add(u, wide, rd16(b + i + 8), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 10), 1);
		cell_add(u, wide, rd16(b + i + 10), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 12), 1);
		cell_add(u, wide, rd16(b + i + 12), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 14), 1);
		cell_add(u, wide, rd16(b + i + 14), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 16), 1);
		cell_add(u, wide, rd16(b + i + 16), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 18), 1);
		cell_add(u, wide, rd16(b + i + 18), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 20), 1);
		cell_add(u, wide, rd16(b + i + 20), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 22), 1);
		cell_add(u, wide, rd16(b + i + 22), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 24), 1);
		cell_add(u, wide, rd16(b + i + 24), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 26), 1);
		cell_add(u, wide, rd16(b + i + 26), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 28), 1);
		cell_add(u, wide, rd16(b + i + 28), UINT32_MAX);
		cell_add(t, wide, rd16(a + i + 30), 1);
		cell_add(u, wide, rd16(b + i + 30), UINT32_MAX);
	}
	add_entries_t(t, wide, a + k, na - k / 2, 1);
	add_entries_t(u, wide, b + k, nb - k / 2, UINT32_MAX);
}

static void
add_sub16(void *t, const unsigned char *a, size_t na, void *u,
    const unsigned char *b, size_t nb)
{
	add_sub_t(t, 0, a, na, u, b, nb);
}

static void
add_sub32(void *t, const unsigned char *a, size_t na, void *u,
    const unsigned char *b, size_t nb)
{
	add_sub_t(t, 1, a, na, u, b, nb);
}

/* Add log[from .. nlog - 1] to total[]. */
static void
log_count(struct window *w, uint64_t from)
{
	add_entries(w, w->total, (const unsigned char *)(w->log + from),
	    w->nlog - from, 1);
}

static void	grow(struct window *, uint64_t);

/* Sum, min and max of the values folded. */
struct fold_out {
	double		 sum;
	double		 min;
	double		 max;
};

/*
 * Lanes of the sum: the last block of a fold overlaps the one before it
 * (min, max and bucket entries do not mind a value seen twice) and sums
 * only its last r values, those loaded with sum_mask + 16 - B + r set,
 * B the block's length.
 */
static const int64_t sum_mask[32] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
};

/* Any m >= 1 values, one at a time. */
static void
fold_scalar(const double *p, uint64_t m, int16_t *e, uint64_t lo,
    struct fold_out *o)
{
	uint64_t	k;

	o->sum = 0;
	o->min = o->max = p[0];
	for (k = 0; k < m; k++) {
		o->sum += p[k];
		if (p[k] < o->min)
			o->min = p[k];
		if (p[k] > o->max)
			o->max = p[k];
		e[k] = (int16_t)((int64_t)bucket_of(p[k]) - (int64_t)lo);
	}
}

#ifdef __SSE2__
struct sse2_acc {
	__m128d		 s0, s1, n0, n1, x0, x1;
	__m128i		 lo, under, over;
};

/*
 * Values p[0 .. 7]: into the sums (the lanes set in mask only, if not
 * NULL), min and max; their buckets - lo, clamped, into e[0 .. 7].
 */
static inline __attribute__((always_inline)) void
sse2_block(const double *p, int16_t *e, struct sse2_acc *a,
    const int64_t *mask)
{
	__m128d	v0, v1, v2, v3;
	__m128i	u, t;

	v0 = _mm_loadu_pd(p);
	v1 = _mm_loadu_pd(p + 2);
	v2 = _mm_loadu_pd(p + 4);
	v3 = _mm_loadu_pd(p + 6);
	a->n0 = _mm_min_pd(_mm_min_pd(a->n0, v0), v2);
	a->n1 = _mm_min_pd(_mm_min_pd(a->n1, v1), v3);
	a->x0 = _mm_max_pd(_mm_max_pd(a->x0, v0), v2);
	a->x1 = _mm_max_pd(_mm_max_pd(a->x1, v1), v3);
	/* High words, in order: bucket = hi >> 13. */
	u = _mm_castps_si128(_mm_shuffle_ps(_mm_castpd_ps(v0),
	    _mm_castpd_ps(v1), _MM_SHUFFLE(3, 1, 3, 1)));
	t = _mm_castps_si128(_mm_shuffle_ps(_mm_castpd_ps(v2),
	    _mm_castpd_ps(v3), _MM_SHUFFLE(3, 1, 3, 1)));
	u = _mm_sub_epi32(_mm_srli_epi32(u, SHIFT - 32), a->lo);
	t = _mm_sub_epi32(_mm_srli_epi32(t, SHIFT - 32), a->lo);
	u = _mm_packs_epi32(u, t);
	u = _mm_min_epi16(_mm_max_epi16(u, a->under), a->over);
	_mm_storeu_si128((__m128i *)(void *)e, u);
	if (mask != NULL) {
		v0 = _mm_and_pd(v0, _mm_loadu_pd((const double *)mask));
		v1 = _mm_and_pd(v1, _mm_loadu_pd((const double *)mask + 2));
		v2 = _mm_and_pd(v2, _mm_loadu_pd((const double *)mask + 4));
		v3 = _mm_and_pd(v3, _mm_loadu_pd((const double *)mask + 6));
	}
	a->s0 = _mm_add_pd(_mm_add_pd(a->s0, v0), v2);
	a->s1 = _mm_add_pd(_mm_add_pd(a->s1, v1), v3);
}

/* m >= 8 values, eight at a time. */
static void
fold_sse2(const double *p, uint64_t m, int16_t *e, uint64_t lo,
    struct fold_out *o)
{
	struct sse2_acc	a;
	uint64_t	k;

	a.s0 = a.s1 = _mm_setzero_pd();
	a.n0 = a.n1 = a.x0 = a.x1 = _mm_set1_pd(p[0]);
	a.lo = _mm_set1_epi32((int)lo);
	a.under = _mm_set1_epi16((int16_t)((int64_t)G_UNDER - (int64_t)lo));
	a.over = _mm_set1_epi16((int16_t)(G_OVER - lo));
	for (k = 0; k + 8 <= m; k += 8)
		sse2_block(p + k, e + k, &a, NULL);
	if (k < m)
		sse2_block(p + m - 8, e + m - 8, &a, sum_mask + 8 + m % 8);
	a.s0 = _mm_add_pd(a.s0, a.s1);
	a.n0 = _mm_min_pd(a.n0, a.n1);
	a.x0 = _mm_max_pd(a.x0, a.x1);
	o->sum = _mm_cvtsd_f64(_mm_add_sd(a.s0, _mm_unpackhi_pd(a.s0, a.s0)));
	o->min = _mm_cvtsd_f64(_mm_min_sd(a.n0, _mm_unpackhi_pd(a.n0, a.n0)));
	o->max = _mm_cvtsd_f64(_mm_max_sd(a.x0, _mm_unpackhi_pd(a.x0, a.x0)));
}
#endif

#ifdef WINDOW_AVX2
struct avx2_acc {
	__m256d		 s0, s1, n0, n1, x0, x1;
	__m256i		 lo, under, over;
};

/*
 * Values p[0 .. 15]: into the sums (the lanes set in mask only, if not
 * NULL), min and max; their buckets - lo, clamped, into e[0 .. 15].
 */
static inline __attribute__((always_inline, target("avx2"))) void
avx2_block(const double *p, int16_t *e, struct avx2_acc *a,
    const int64_t *mask)
{
	__m256d	v0, v1, v2, v3;
	__m256i	u, t;

	v0 = _mm256_loadu_pd(p);
	v1 = _mm256_loadu_pd(p + 4);
	v2 = _mm256_loadu_pd(p + 8);
	v3 = _mm256_loadu_pd(p + 12);
	a->n0 = _mm256_min_pd(_mm256_min_pd(a->n0, v0), v2);
	a->n1 = _mm256_min_pd(_mm256_min_pd(a->n1, v1), v3);
	a->x0 = _mm256_max_pd(_mm256_max_pd(a->x0, v0), v2);
	a->x1 = _mm256_max_pd(_mm256_max_pd(a->x1, v1), v3);
	/*
	 * High words: values 0 1 4 5 | 2 3 6 7 (128-bit halves), and 8 9
	 * 12 13 | 10 11 14 15; packed to 16 bits, 0 1 4 5 8 9 12 13 | 2 3
	 * 6 7 10 11 14 15; back in order by 64 and by 32 bits.
	 */
	u = _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castpd_ps(v0),
	    _mm256_castpd_ps(v1), _MM_SHUFFLE(3, 1, 3, 1)));
	t = _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castpd_ps(v2),
	    _mm256_castpd_ps(v3), _MM_SHUFFLE(3, 1, 3, 1)));
	u = _mm256_sub_epi32(_mm256_srli_epi32(u, SHIFT - 32), a->lo);
	t = _mm256_sub_epi32(_mm256_srli_epi32(t, SHIFT - 32), a->lo);
	u = _mm256_packs_epi32(u, t);
	u = _mm256_permute4x64_epi64(u, _MM_SHUFFLE(3, 1, 2, 0));
	u = _mm256_shuffle_epi32(u, _MM_SHUFFLE(3, 1, 2, 0));
	u = _mm256_min_epi16(_mm256_max_epi16(u, a->under), a->over);
	_mm256_storeu_si256((__m256i *)(void *)e, u);
	if (mask != NULL) {
		v0 = _mm256_and_pd(v0, _mm256_loadu_pd((const double *)mask));
		v1 = _mm256_and_pd(v1,
		    _mm256_loadu_pd((const double *)mask + 4));
		v2 = _mm256_and_pd(v2,
		    _mm256_loadu_pd((const double *)mask + 8));
		v3 = _mm256_and_pd(v3,
		    _mm256_loadu_pd((const double *)mask + 12));
	}
	a->s0 = _mm256_add_pd(_mm256_add_pd(a->s0, v0), v2);
	a->s1 = _mm256_add_pd(_mm256_add_pd(a->s1, v1), v3);
}

/* m >= 16 values, sixteen at a time (AVX2). */
static __attribute__((target("avx2"))) void
fold_avx2(const double *p, uint64_t m, int16_t *e, uint64_t lo,
    struct fold_out *o)
{
	struct avx2_acc	a;
	uint64_t	k;
	__m128d		s, n, x;

	a.s0 = a.s1 = _mm256_setzero_pd();
	a.n0 = a.n1 = a.x0 = a.x1 = _mm256_set1_pd(p[0]);
	a.lo = _mm256_set1_epi32((int)lo);
	a.under = _mm256_set1_epi16((int16_t)((int64_t)G_UNDER -
	    (int64_t)lo));
	a.over = _mm256_set1_epi16((int16_t)(G_OVER - lo));
	for (k = 0; k + 16 <= m; k += 16)
		avx2_block(p + k, e + k, &a, NULL);
	if (k < m)
		avx2_block(p + m - 16, e + m - 16, &a, sum_mask + m % 16);
	a.s0 = _mm256_add_pd(a.s0, a.s1);
	a.n0 = _mm256_min_pd(a.n0, a.n1);
	a.x0 = _mm256_max_pd(a.x0, a.x1);
	s = _mm_add_pd(_mm256_castpd256_pd128(a.s0),
	    _mm256_extractf128_pd(a.s0, 1));
	n = _mm_min_pd(_mm256_castpd256_pd128(a.n0),
	    _mm256_extractf128_pd(a.n0, 1));
	x = _mm_max_pd(_mm256_castpd256_pd128(a.x0),
	    _mm256_extractf128_pd(a.x0, 1));
	o->sum = _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
	o->min = _mm_cvtsd_f64(_mm_min_sd(n, _mm_unpackhi_pd(n, n)));
	o->max = _mm_cvtsd_f64(_mm_max_sd(x, _mm_unpackhi_pd(x, x)));
}
#endif

/*
 * Sum, min and max of p[0 .. m - 1] (m >= 1) into *o, the bucket - lo
 * of p[k], clamped into the underflow and overflow buckets, into e[k]
 * (an entry out of total[]'s range is off by lo: grow() fixes it).
 * AVX2 if the processor has it and there are 16 values or more, else
 * SSE2 for 8 or more, else one at a time.
 */
static void
fold_values(const double *p, uint64_t m, int16_t *e, uint64_t lo,
    struct fold_out *o)
{
#ifdef WINDOW_AVX2
	if (m >= 16 && __builtin_cpu_supports("avx2")) {
		fold_avx2(p, m, e, lo, o);
		return;
	}
#endif
#ifdef __SSE2__
	if (m >= 8) {
		fold_sse2(p, m, e, lo, o);
		return;
	}
#endif
	fold_scalar(p, m, e, lo, o);
}

typedef uint64_t v2u64 __attribute__((vector_size(16)));

#ifdef WINDOW_AVX2
/*
 * all_equal() for m >= 8 (AVX2): sixteen values at a time, then eight
 * and the last eight, which may overlap values already compared.
 */
static __attribute__((target("avx2"))) int
all_equal_avx2(const double *p, uint64_t m, uint64_t cb)
{
	__m256i		 c = _mm256_set1_epi64x((long long)cb);
	__m256i		 a = _mm256_setzero_si256(), b = a;
	uint64_t	 k;

	for (k = 0; k + 16 <= m; k += 16) {
		a = _mm256_or_si256(a, _mm256_xor_si256(c,
		    _mm256_loadu_si256((const __m256i *)(const void *)(p + k))));
		b = _mm256_or_si256(b, _mm256_xor_si256(c,
		    _mm256_loadu_si256((const __m256i *)(const void *)(p + k +
		    4))));
		a = _mm256_or_si256(a, _mm256_xor_si256(c,
		    _mm256_loadu_si256((const __m256i *)(const void *)(p + k +
		    8))));
		b = _mm256_or_si256(b, _mm256_xor_si256(c,
		    _mm256_loadu_si256((const __m256i *)(const void *)(p + k +
		    12))));
	}
	if (k < m && m - k > 8) {
		a = _mm256_or_si256(a, _mm256_xor_si256(c,
		    _mm256_loadu_si256((const __m256i *)(const void *)(p + k))));
		b = _mm256_or_si256(b, _mm256_xor_si256(c,
		    _mm256_loadu_si256((const __m256i *)(const void *)(p + k +
		    4))));
	}
	if (k < m) {
		a = _mm256_or_si256(a, _mm256_xor_si256(c,
		    _mm256_loadu_si256((const __m256i *)(const void *)(p + m -
		    8))));
		b = _mm256_or_si256(b, _mm256_xor_si256(c,
		    _mm256_loadu_si256((const __m256i *)(const void *)(p + m -
		    4))));
	}
	a = _mm256_or_si256(a, b);
	return _mm256_testz_si256(a, a);
}
#endif

/* Whether p[0 .. m - 1] are all c (no -0 or NaN among them). */
static int
all_equal(const double *p, uint64_t m, double c)
{
	uint64_t	 cb = double_bits(c), k;
	v2u64		 a = { 0, 0 }, b = { 0, 0 }, x, y, cv = { cb, cb };

#ifdef WINDOW_AVX2
	if (m >= 8 && __builtin_cpu_supports("avx2"))
		return all_equal_avx2(p, m, cb);
#endif
	for (k = 0; k + 4 <= m; k += 4) {
		memcpy(&x, p + k, sizeof(x));
		memcpy(&y, p + k + 2, sizeof(y));
		a |= x ^ cv;
		b |= y ^ cv;
	}
	a |= b;
	cb = a[0] | a[1];
	for (; k < m; k++)
		cb |= double_bits(p[k]) ^ double_bits(c);
	return cb == 0;
}

/*
 * Make total[] wide (uint32_t) or narrow (uint16_t: every count, the
 * window's included, is at most NARROW_MAX then).
 */
static void
set_width(struct window *w, int wide)
{
	void		*t;
	uint64_t	 i, n = w->span + 2;

	if (w->total == NULL || wide == w->wide) {
		w->wide = wide;
		return;
	}
	t = cells_new(w->span, wide ? sizeof(uint32_t) : sizeof(uint16_t));
	if (wide)
		for (i = 0; i < n; i++)
			((uint32_t *)t)[(int64_t)i - 1] =
			    ((uint16_t *)w->total)[(int64_t)i - 1];
	else
		for (i = 0; i < n; i++)
			((uint16_t *)t)[(int64_t)i - 1] =
			    (uint16_t)((uint32_t *)w->total)[(int64_t)i - 1];
	cells_free(w->total, tsize(w));
	w->total = t;
	w->wide = wide;
}

/*
 * The least and greatest regular bucket among the m entries e[] that
 * fold_values() wrote relative to lo, into *gmin and *gmax; *gmin >
 * *gmax if there is none.
 */
static void
regular_range(const int16_t *e, uint64_t m, uint64_t lo, uint64_t *gmin,
    uint64_t *gmax)
{
	int64_t		 a = INT16_MAX, b = INT16_MIN;
	int64_t		 under = (int64_t)G_UNDER - (int64_t)lo;
	int64_t		 over = (int64_t)(G_OVER - lo);
	uint64_t	 k;

	for (k = 0; k < m; k++) {
		if (e[k] <= under || e[k] >= over)
			continue;
		if (e[k] < a)
			a = e[k];
		if (e[k] > b)
			b = e[k];
	}
	if (a > b) {
		*gmin = 1;
		*gmax = 0;
		return;
	}
	*gmin = (uint64_t)((int64_t)lo + a);
	*gmax = (uint64_t)((int64_t)lo + b);
}

static void	fold_finish(struct window *, uint64_t, const struct fold_out *);

/*
 * Bucket the values in vlog[]: their sum, min and max into the slice's,
 * their buckets onto log[] and into total[].
 */
static void
fold(struct window *w)
{
	const double	*p = w->vlog;
	uint64_t	 m = vlog_n(w), g;
	struct fold_out	 o;

	if (m == 0)
		return;
	if (!w->wide && w->cl_n + cur_count(w) > NARROW_MAX)
		set_width(w, 1);
	/* The slice so far is a run of one value kept as a count: more? */
	if (w->flushed != 0 && w->nlog == 0 && !w->scratch_used &&
	    w->min == w->max && all_equal(p, m, w->min)) {
		w->flushed += m;
		tadd(w, tidx(w, w->flushed_g), (uint32_t)m);
		w->sum += w->min * (double)m;
		w->h.pos = w->vlog;
		set_lim(w);
		return;
	}
	/* Or an empty slice starts one, in a bucket total[] holds. */
	if (w->flushed == 0 && w->nlog == 0 && !w->scratch_used &&
	    w->total != NULL && p[0] == p[m - 1] &&
	    ((g = bucket_of(p[0])) < G_LOW || g >= G_HIGH ||
	    (g >= w->lo && g < w->lo + w->span)) && all_equal(p, m, p[0])) {
		w->flushed = m;
		w->flushed_g = g;
		tadd(w, tidx(w, g), (uint32_t)m);
		w->sum = p[0] * (double)m;
		w->min = w->max = p[0];
		w->h.pos = w->vlog;
		set_lim(w);
		return;
	}
	if (w->total == NULL) {
		g = bucket_of(p[0]);
		if (g >= G_LOW && g < G_HIGH)
			grow(w, g);
		else {
			w->total = cells_new(0, tsize(w));
			w->lo = G_LOW;
		}
	}
	log_room(w, m);
	fold_values(p, m, w->log + w->nlog, w->lo, &o);
	fold_finish(w, m, &o);
}

/*
 * The rest of fold(): the m values of vlog[], whose sum, min and max
 * are *op, have their buckets - lo at log[nlog] (room made for them).
 */
static void
fold_finish(struct window *w, uint64_t m, const struct fold_out *op)
{
	struct fold_out	 o = *op;
	uint64_t	 from = w->nlog, gmin, gmax, lo = w->lo, k;
	int16_t		*e = w->log + from;
	int		 run, uo;

	/*
	 * All one value, as the slice so far: a longer run, the entries
	 * just written are not needed.
	 */
	run = o.min == o.max && !w->scratch_used && w->nlog == 0 &&
	    (w->flushed == 0 || w->min == o.min);
	w->sum += o.sum;
	if (o.min < w->min)
		w->min = o.min;
	if (o.max > w->max)
		w->max = o.max;
	gmin = bucket_of(o.min);
	gmax = bucket_of(o.max);
	if (run) {
		w->flushed_g = gmin;
		w->flushed += m;
	}
	w->h.pos = w->vlog;
	/*
	 * Buckets follow values: the block's regular ones lie in [gmin,
	 * gmax], found among the entries if some are under or overflow.
	 */
	uo = gmin < G_LOW || gmax >= G_HIGH;
	if (uo)
		regular_range(e, m, lo, &gmin, &gmax);
	if (gmin <= gmax && (gmin < lo || gmax >= lo + w->span)) {
		grow(w, gmin);
		grow(w, gmax);
		/* Entries are bucket - lo, also the clamped ones. */
		for (k = 0; k < m; k++)
			e[k] = (int16_t)(e[k] + (int64_t)lo - (int64_t)w->lo);
		lo = w->lo;
	}
	if (!run) {
		if (uo)
			for (k = 0; k < m; k++) {
				if (e[k] <= (int64_t)G_UNDER - (int64_t)lo)
					e[k] = -1;
				else if (e[k] >= (int64_t)(G_OVER - lo))
					e[k] = (int16_t)w->span;
			}
		w->nlog += m;
	}
	if (o.min == o.max)
		tadd(w, tidx(w, bucket_of(o.min)), (uint32_t)m);
	else
		log_count(w, from);
	set_lim(w);
}

static void
slice_reset(struct window *w)
{
	w->h.pos = w->vlog;
	w->nlog = 0;
	w->flushed = 0;
	w->scratch_used = 0;
	w->sum = 0;
	w->min = INFINITY;
	w->max = -INFINITY;
	set_lim(w);
}

/*
 * window_new -- a window of the given length in seconds cut into slices,
 * the first slice holding now_ms.  Returns NULL if seconds or slices is 0,
 * slices is above 3600 or seconds * 1000 is not a multiple of slices.
 * The caller frees it with window_free().
 */
struct window *
window_new(unsigned int seconds, unsigned int slices, uint64_t now_ms)
{
	struct window	*w;
	uint64_t	 len = (uint64_t)seconds * 1000;

	if (seconds == 0 || slices == 0 || slices > MAX_SLICES ||
	    len % slices != 0)
		return NULL;
	w = xcalloc(1, sizeof(*w));
	w->seconds = seconds;
	w->slices = slices;
	w->slice_ms = len / slices;
	w->cur_idx = now_ms / w->slice_ms;
	w->h.next_ms = (w->cur_idx + 1) * w->slice_ms;
	/* 2^k - 1, 2^k the least power of two >= 4 * slices. */
	w->walk_mask = 1;
	while (w->walk_mask < 4 * slices)
		w->walk_mask *= 2;
	w->walk_mask--;
	w->nmax = UINT32_MAX / slices;
	if (w->nmax > SLICE_NMAX)
		w->nmax = SLICE_NMAX;
	w->cl_min = INFINITY;
	w->cl_max = -INFINITY;
	w->cl_sum_ok = 1;
	w->cl_mm_ok = 1;
	slice_reset(w);
	return w;
}

/* window_free -- free a window and all it holds; NULL is ignored. */
void
window_free(struct window *w)
{
	if (w == NULL)
		return;
	cells_free(w->total, tsize(w));
	cells_free(w->scratch, sizeof(*w->scratch));
	free(w->log);
	free(w->vlog);
	free(w->arena);
	free(w);
}

/*
 * window_bytes -- bytes of memory the window holds: the structure and
 * every buffer's capacity (malloc's own overhead is not counted).
 */
size_t
window_bytes(const struct window *w)
{
	size_t	n = sizeof(*w);

	n += w->acap;
	if (w->log != NULL)
		n += w->logcap * sizeof(*w->log);
	if (w->vlog != NULL)
		n += w->vcap * sizeof(*w->vlog);
	if (w->total != NULL)
		n += (w->span + 2) * tsize(w);
	if (w->scratch != NULL)
		n += (w->span + 2) * sizeof(*w->scratch);
	return n;
}

/*
 * Copy the regular buckets of t[] (span of them, from bucket lo) that
 * lie in [nlo, nlo + nspan) and its under and overflow cells into a new
 * array for nspan buckets from nlo; free t.
 */
static void *
cells_move(void *t, size_t size, uint64_t lo, uint64_t span, uint64_t nlo,
    uint64_t nspan)
{
	char		*n = cells_new(nspan, size), *o = t;
	uint64_t	 a = lo > nlo ? lo : nlo;
	uint64_t	 b = lo + span < nlo + nspan ? lo + span : nlo + nspan;

	if (a < b)
		memcpy(n + (a - nlo) * size, o + (a - lo) * size,
		    (b - a) * size);
	memcpy(n - size, o - size, size);
	memcpy(n + nspan * size, o + span * size, size);
	cells_free(t, size);
	return n;
}

/*
 * Make total[] (and scratch[]) cover the regular bucket g, moving the
 * entries of log[] along.
 */
static void
grow(struct window *w, uint64_t g)
{
	uint64_t	 nlo, nhi, nspan, k, x;
	int64_t		 delta;

	/* Past the first: some slack, tails come a bucket at a time. */
	x = w->span != 0 ? GROW_SLACK : 0;
	nlo = (g < x ? 0 : g - x) & ~(uint64_t)(GROW_ALIGN - 1);
	nhi = ((g + x) | (GROW_ALIGN - 1)) + 1;
	if (w->span != 0) {
		if (w->lo < nlo)
			nlo = w->lo;
		if (w->lo + w->span > nhi)
			nhi = w->lo + w->span;
	}
	if (nlo < G_LOW)
		nlo = G_LOW;
	if (nhi > G_HIGH)
		nhi = G_HIGH;
	nspan = nhi - nlo;
	delta = w->span != 0 ? (int64_t)w->lo - (int64_t)nlo : 0;

	if (w->total == NULL)
		w->total = cells_new(nspan, tsize(w));
	else
		w->total = cells_move(w->total, tsize(w), w->lo, w->span,
		    nlo, nspan);
	if (w->scratch != NULL)
		w->scratch = cells_move(w->scratch, sizeof(*w->scratch),
		    w->lo, w->span, nlo, nspan);
	for (k = 0; k < w->nlog; k++) {
		if (w->log[k] == (int64_t)w->span)
			w->log[k] = (int16_t)nspan;
		else if (w->log[k] >= 0)
			w->log[k] = (int16_t)(w->log[k] + delta);
	}
	w->lo = nlo;
	w->span = nspan;
}

/*
 * Move the log's entries, and a constant run dropped from it before,
 * into scratch[].
 */
static void
log_flush(struct window *w)
{
	uint64_t	k;

	if (w->scratch == NULL)
		w->scratch = cells_new(w->span, sizeof(*w->scratch));
	if (!w->scratch_used && w->flushed != 0)
		w->scratch[tidx(w, w->flushed_g)] += (uint32_t)w->flushed;
	for (k = 0; k < w->nlog; k++)
		w->scratch[w->log[k]]++;
	w->flushed += w->nlog;
	w->scratch_used = 1;
	w->nlog = 0;
}

/*
 * Bucket what vlog[] holds and make room for a value: a varied slice
 * gets a longer vlog[], one that is all one value keeps a short one.
 */
static void
vlog_room(struct window *w)
{
	int	full = vlog_n(w) >= w->vcap;

	fold(w);
	if (w->vlog == NULL || (full && w->min != w->max &&
	    w->vcap < VLOG_MAX)) {
		free(w->vlog);
		w->vcap = w->vlog == NULL ? VLOG_INIT : w->vcap * 2;
		w->vlog = xreallocarray(NULL, w->vcap, sizeof(*w->vlog));
		w->h.pos = w->vlog;
	}
	set_lim(w);
}

/*
 * The arena is a ring of whole records: a record that does not fit
 * before the end of the buffer starts at 0, and awrap marks where the
 * older ones end.
 */
static size_t	rec_len(const unsigned char *);

static inline size_t
arena_live(const struct window *w)
{
	if (w->awrap != 0)
		return w->awrap - w->ahead + w->atail;
	return w->atail - w->ahead;
}

/* Offset of the record after the one at off. */
static inline size_t
arena_next(const struct window *w, size_t off)
{
	off += rec_len(w->arena + off);
	if (w->awrap != 0 && off == w->awrap)
		off = 0;
	return off;
}

/* Copy the records, oldest first, into a new buffer of cap bytes. */
static void
arena_resize(struct window *w, size_t cap)
{
	unsigned char	*a = xmalloc(cap);
	size_t		 n = 0;

	if (w->awrap != 0) {
		memcpy(a, w->arena + w->ahead, w->awrap - w->ahead);
		n = w->awrap - w->ahead;
		memcpy(a + n, w->arena, w->atail);
		n += w->atail;
	} else if (w->atail > w->ahead) {
		n = w->atail - w->ahead;
		memcpy(a, w->arena + w->ahead, n);
	}
	free(w->arena);
	w->arena = a;
	w->acap = cap;
	w->ahead = w->awrap = 0;
	w->atail = n;
}

/* Reserve len bytes for a new newest record. */
static inline unsigned char *
arena_push(struct window *w, size_t len)
{
	size_t	 off, cap, need, full;

	if (w->nrec == 0)
		w->ahead = w->atail = w->awrap = 0;
	if (w->awrap == 0 && w->atail + len <= w->acap)
		off = w->atail;
	else if (w->awrap == 0 && len < w->ahead) {
		w->awrap = w->atail;
		off = 0;
	} else if (w->awrap != 0 && w->atail + len < w->ahead)
		off = w->atail;
	else {
		/*
		 * A window fills over its length, then stops growing:
		 * doubling would leave up to half of the last buffer
		 * unused for good.  Take a quarter more than it needs,
		 * but not much more than all slices at this rate need.
		 */
		need = arena_live(w) + len;
		full = need * w->slices / (w->nrec + 1);
		cap = need / 4;
		if (full < need + cap)
			cap = full > need ? full - need : 0;
		cap = (need + cap + need / 16 + ARENA_STEP) &
		    ~(size_t)(ARENA_STEP - 1);
		arena_resize(w, cap);
		off = w->atail;
	}
	w->atail = off + len;
	w->nrec++;
	return w->arena + off;
}

/*
 * Where arena_push(w, len) would put the record if it can without a
 * wrap or a resize, else NULL; nothing is reserved.
 */
static inline unsigned char *
arena_peek(const struct window *w, size_t len)
{
	if (w->nrec == 0)
		return len <= w->acap ? w->arena : NULL;
	if (w->awrap == 0 && w->atail + len <= w->acap)
		return w->arena + w->atail;
	if (w->awrap != 0 && w->atail + len < w->ahead)
		return w->arena + w->atail;
	return NULL;
}

/* Drop the oldest record, len bytes long. */
static inline void
arena_pop_len(struct window *w, size_t len)
{
	w->ahead += len;
	if (w->awrap != 0 && w->ahead == w->awrap)
		w->ahead = w->awrap = 0;
	if (--w->nrec == 0)
		w->ahead = w->atail = w->awrap = 0;
}

/* Drop the oldest record. */
static inline void
arena_pop(struct window *w)
{
	arena_pop_len(w, rec_len(w->arena + w->ahead));
}

static inline size_t
rec_len(const unsigned char *p)
{
	uint32_t	h = rd32(p), n = h >> 2;

	switch (h & 3) {
	case K_CONST:
		return n == 0 ? 4 : 4 + sizeof(double);
	case K_SAME:
		return 4;
	case K_LOG:
		p += 4 + sizeof(struct rec_stats);
		if (rd32(p) & REC_UO)
			return 4 + sizeof(struct rec_stats) + 12 +
			    2 * ((size_t)n - rd32(p + 4) - rd32(p + 8));
		return 4 + sizeof(struct rec_stats) + 4 + 2 * (size_t)n;
	default:
		p += 4 + sizeof(struct rec_stats);
		return 4 + sizeof(struct rec_stats) + 8 +
		    (rd32(p) & REC_UO ? 8 : 0) + 4 * (size_t)rd32(p + 4);
	}
}

/*
 * Sum, min and max of the record at p; *pv is the value of the constant
 * record before it, updated.  Returns the record's sample count.
 */
static inline uint64_t
rec_stats(const unsigned char *p, double *pv, struct rec_stats *rs)
{
	uint32_t	h = rd32(p), n = h >> 2;

	switch (h & 3) {
	case K_CONST:
		if (n == 0)
			return 0;
		memcpy(pv, p + 4, sizeof(*pv));
		/* FALLTHROUGH */
	case K_SAME:
		rs->min = rs->max = *pv;
		rs->sum = *pv * n;
		return n;
	default:
		memcpy(rs, p + 4, sizeof(*rs));
		return n;
	}
}

/* Subtract the record at p from total[]. */
static void
rec_expire(struct window *w, const unsigned char *p, double v)
{
	uint32_t	 h = rd32(p), n = h >> 2, i, nb, c, b;
	const unsigned char *q = p + 4 + sizeof(struct rec_stats);
	void		*t;
	int64_t		 d;

	switch (h & 3) {
	case K_CONST:
	case K_SAME:
		if (n != 0)
			tadd(w, tidx(w, bucket_of(v)), -n);
		return;
	case K_LOG:
		b = rd32(q);
		q += 4;
		if (b & REC_UO) {
			tadd(w, -1, -rd32(q));
			tadd(w, (int64_t)w->span, -rd32(q + 4));
			n -= rd32(q) + rd32(q + 4);
			q += 8;
		}
		/* Its base may lie below lo after a shrink(): its entries
		   do not. */
		d = (int64_t)(b & ~REC_UO) - (int64_t)w->lo;
		t = (void *)((uintptr_t)w->total + d * (int64_t)tsize(w));
		add_entries(w, t, q, n, UINT32_MAX);
		return;
	default:
		b = rd32(q);
		nb = rd32(q + 4);
		q += 8;
		if (b & REC_UO) {
			tadd(w, -1, -rd32(q));
			tadd(w, (int64_t)w->span, -rd32(q + 4));
			q += 8;
		}
		d = (int64_t)((b & ~REC_UO) - w->lo);
		for (i = 0; i < nb; i++) {
			c = rd32(q + 4 * (size_t)i);
			tadd(w, d + i, -c);
		}
		return;
	}
}

/* Recompute the closed slices' sum, min and max from their records. */
static void
closed_walk(struct window *w)
{
	const unsigned char *p;
	struct rec_stats rs;
	size_t		 off = w->ahead;
	unsigned int	 k;
	uint32_t	 h, n;
	double		 v = w->head_v, sum = 0, mn = INFINITY, mx = -INFINITY;
	unsigned int	 nmin = 0, nmax = 0;

	for (k = 0; k < w->nrec; k++) {
		if (w->awrap != 0 && off == w->awrap)
			off = 0;
		p = w->arena + off;
		h = rd32(p);
		n = h >> 2;
		switch (h & 3) {
		case K_CONST:
			if (n == 0) {
				off += 4;
				continue;
			}
			memcpy(&v, p + 4, sizeof(v));
			off += 4 + sizeof(v);
			rs.sum = v * n;
			rs.min = rs.max = v;
			break;
		case K_SAME:
			off += 4;
			rs.sum = v * n;
			rs.min = rs.max = v;
			break;
		default:
			memcpy(&rs, p + 4, sizeof(rs));
			off += rec_len(p);
			break;
		}
		sum += rs.sum;
		if (rs.min <= mn) {
			nmin = rs.min < mn ? 1 : nmin + 1;
			mn = rs.min;
		}
		if (rs.max >= mx) {
			nmax = rs.max > mx ? 1 : nmax + 1;
			mx = rs.max;
		}
	}
	w->cl_sum = sum;
	w->cl_min = mn;
	w->cl_max = mx;
	w->cl_nmin = nmin;
	w->cl_nmax = nmax;
	w->cl_sum_ok = 1;
	w->cl_mm_ok = 1;
}

/* The current slice's n samples join the closed slices'. */
static inline void
closed_add(struct window *w, uint64_t n)
{
	w->cl_n += n;
	if (w->cl_sum_ok)
		w->cl_sum += w->sum;
	if (w->min < w->cl_min) {
		w->cl_min = w->min;
		w->cl_nmin = 0;
	}
	w->cl_nmin += w->min == w->cl_min;
	if (w->max > w->cl_max) {
		w->cl_max = w->max;
		w->cl_nmax = 0;
	}
	w->cl_nmax += w->max == w->cl_max;
}

/*
 * The n samples of a record of min mn and max mx leave the closed
 * slices'.  If it held the last slice's share of the closed min or max,
 * cl_min and cl_max become bounds: the closed slices are walked again
 * when a query needs them exact.
 */
static inline void
closed_sub(struct window *w, uint64_t n, double mn, double mx)
{
	w->cl_n -= n;
	w->cl_sum_ok = 0;
	if (w->cl_mm_ok && ((mn == w->cl_min && --w->cl_nmin == 0) ||
	    (mx == w->cl_max && --w->cl_nmax == 0)))
		w->cl_mm_ok = 0;
}

/* Store the current slice as a record and start an empty one. */
static void
slice_close(struct window *w)
{
	struct rec_stats rs;
	uint64_t	 n = cur_count(w), gmin, gmax, nb, i, u, o;
	unsigned char	*p;
	uint32_t	 c;
	int64_t		 x;
	int		 uo;

	if (n == 0) {
		wr32(arena_push(w, 4), K_CONST);
		w->tail_const = 0;
		return;
	}
	fold(w);
	if (w->min == w->max) {
		if (w->scratch_used)
			w->scratch[tidx(w, bucket_of(w->min))] = 0;
		if (w->tail_const && w->tail_v == w->min)
			wr32(arena_push(w, 4), (uint32_t)n << 2 | K_SAME);
		else {
			p = arena_push(w, 4 + sizeof(double));
			wr32(p, (uint32_t)n << 2 | K_CONST);
			memcpy(p + 4, &w->min, sizeof(double));
		}
		w->tail_const = 1;
		w->tail_v = w->min;
		goto done;
	}
	w->tail_const = 0;
	rs.sum = w->sum;
	rs.min = w->min;
	rs.max = w->max;
	/* Regular buckets [gmin, gmax] as indexes: some may be empty. */
	gmin = bucket_of(w->min);
	gmax = bucket_of(w->max);
	uo = gmin < G_LOW || gmax >= G_HIGH;
	if (gmin >= G_HIGH || gmax < G_LOW) {
		/* All under or all overflow: no regular bucket. */
		gmin = 0;
		nb = 0;
	} else {
		gmin = gmin < G_LOW ? 0 : gmin - w->lo;
		gmax = gmax >= G_HIGH ? w->span - 1 : gmax - w->lo;
		nb = gmax - gmin + 1;
	}
	if (!w->scratch_used && w->flushed == 0 && 2 * n <= 4 * nb + 4) {
		if (!uo) {
			p = arena_push(w, 4 + sizeof(rs) + 4 + 2 * n);
			wr32(p, (uint32_t)n << 2 | K_LOG);
			memcpy(p + 4, &rs, sizeof(rs));
			wr32(p + 4 + sizeof(rs), (uint32_t)w->lo);
			memcpy(p + 8 + sizeof(rs), w->log, 2 * n);
			goto done;
		}
		/* The regular entries, and how many are not. */
		for (u = o = i = 0; i < n; i++) {
			u += w->log[i] < 0;
			o += w->log[i] == (int64_t)w->span;
		}
		p = arena_push(w, 4 + sizeof(rs) + 12 + 2 * (n - u - o));
		wr32(p, (uint32_t)n << 2 | K_LOG);
		memcpy(p + 4, &rs, sizeof(rs));
		p += 4 + sizeof(rs);
		wr32(p, (uint32_t)w->lo | REC_UO);
		wr32(p + 4, (uint32_t)u);
		wr32(p + 8, (uint32_t)o);
		p += 12;
		for (i = 0; i < n; i++) {
			x = w->log[i];
			if (x >= 0 && x < (int64_t)w->span) {
				memcpy(p, &w->log[i], 2);
				p += 2;
			}
		}
		goto done;
	}
	log_flush(w);
	if (uo) {
		while (nb > 0 && w->scratch[gmin] == 0) {
			gmin++;
			nb--;
		}
		while (nb > 0 && w->scratch[gmin + nb - 1] == 0)
			nb--;
	}
	p = arena_push(w, 4 + sizeof(rs) + 8 + (uo ? 8 : 0) + 4 * nb);
	wr32(p, (uint32_t)n << 2 | K_DENSE);
	memcpy(p + 4, &rs, sizeof(rs));
	wr32(p + 4 + sizeof(rs), (uint32_t)(w->lo + gmin) |
	    (uo ? REC_UO : 0));
	wr32(p + 8 + sizeof(rs), (uint32_t)nb);
	p += 12 + sizeof(rs);
	if (uo) {
		wr32(p, w->scratch[-1]);
		wr32(p + 4, w->scratch[w->span]);
		w->scratch[-1] = w->scratch[w->span] = 0;
		p += 8;
	}
	for (i = 0; i < nb; i++) {
		c = w->scratch[gmin + i];
		w->scratch[gmin + i] = 0;
		wr32(p + 4 * i, c);
	}
 done:
	closed_add(w, n);
}

/* Drop the oldest record. */
static void
slice_expire(struct window *w)
{
	struct rec_stats rs;
	unsigned char	*p = w->arena + w->ahead;
	uint64_t	 n;
	double		 v = w->head_v;

	n = rec_stats(p, &v, &rs);
	if (n != 0) {
		rec_expire(w, p, v);
		closed_sub(w, n, rs.min, rs.max);
	}
	w->head_v = v;
	arena_pop(w);
}

/* Free what an empty window holds; keeps the structure. */
static void
release(struct window *w)
{
	cells_free(w->total, tsize(w));
	cells_free(w->scratch, sizeof(*w->scratch));
	free(w->log);
	free(w->vlog);
	free(w->arena);
	w->total = NULL;
	w->scratch = NULL;
	w->wide = 0;
	w->log = NULL;
	w->vlog = NULL;
	w->logcap = w->vcap = 0;
	w->lo = w->span = 0;
	w->arena = NULL;
	w->acap = w->ahead = w->atail = w->awrap = 0;
	w->nrec = 0;
	w->tail_const = 0;
	w->cl_n = 0;
	w->cl_sum = 0;
	w->cl_min = INFINITY;
	w->cl_max = -INFINITY;
	w->cl_nmin = w->cl_nmax = 0;
	w->cl_sum_ok = 1;
	w->cl_mm_ok = 1;
	slice_reset(w);
}

/*
 * After a rotation (the current slice is empty): cut total[] to the
 * buckets of the closed slices' min and max (or of their bounds, if
 * !cl_mm_ok), and some slack, if it is more than twice as long.
 */
static void
shrink(struct window *w)
{
	uint64_t	 gmin = bucket_of(w->cl_min), gmax = bucket_of(w->cl_max);
	uint64_t	 nlo, nhi, i;

	/* Regular buckets used: past under or overflow, look for them. */
	if (gmin < G_LOW) {
		for (i = 0; i < w->span && tget(w, (int64_t)i) == 0; i++)
			;
		gmin = w->lo + i;
	}
	if (gmax >= G_HIGH) {
		for (i = w->span; i > 0 && tget(w, (int64_t)i - 1) == 0; i--)
			;
		gmax = w->lo + i - 1;
	}
	if (gmin > gmax) {
		/* None: keep the under and overflow cells only. */
		if (w->span == 0)
			return;
		nlo = nhi = w->lo;
		goto move;
	}
	/* At most half of it unused: keep it, do not thrash. */
	if ((gmax - gmin + 1 + 2 * SHRINK_SLACK) * 2 > w->span)
		return;
	nlo = (gmin - SHRINK_SLACK) & ~(uint64_t)(GROW_ALIGN - 1);
	if (gmin < w->lo + SHRINK_SLACK)
		nlo = w->lo;
	nhi = gmax + SHRINK_SLACK;
	if (nhi > w->lo + w->span)
		nhi = w->lo + w->span;
	if (nlo < G_LOW)
		nlo = G_LOW;
	if (nhi > G_HIGH)
		nhi = G_HIGH;
 move:
	w->total = cells_move(w->total, tsize(w), w->lo, w->span, nlo,
	    nhi - nlo);
	cells_free(w->scratch, sizeof(*w->scratch));	/* zero now */
	w->scratch = NULL;
	w->lo = nlo;
	w->span = nhi - nlo;
}

/*
 * Close the current slice and expire the oldest, as slice_close(),
 * slice_reset() and slice_expire() do, in one pass for the usual case:
 * the slice's samples are all in vlog[], varied, in total[]'s regular
 * buckets and best kept as a bucket log, and the record that expires
 * (if the window is full) is a bucket log without under or overflow
 * samples.  Returns 1 if done, 0 if not: then vlog[] may have been
 * folded (as fold() does) and the arena's free space written, nothing
 * else changed.
 */
static int
rotate_log(struct window *w)
{
	struct rec_stats rs, xs;
	struct fold_out	 o;
	const unsigned char *x = NULL;
	unsigned char	*p;
	int16_t		*e;
	uint64_t	 m = vlog_n(w), gmin, gmax, lo = w->lo;
	size_t		 len = 4 + sizeof(rs) + 4 + 2 * m;
	uint32_t	 xn = 0;
	int64_t		 d = 0;

	if (m == 0 || w->nlog != 0 || w->flushed != 0 || w->scratch_used ||
	    w->total == NULL || (!w->wide && w->cl_n + m > NARROW_MAX))
		return 0;
	if (w->nrec >= w->slices - 1) {
		x = w->arena + w->ahead;
		if ((rd32(x) & 3) != K_LOG ||
		    rd32(x + 4 + sizeof(xs)) & REC_UO)
			return 0;
	}
	/*
	 * The entries go straight to where the record will be, if it
	 * fits there as it is; else, and for fold_finish(), onto log[].
	 */
	if ((p = arena_peek(w, len)) != NULL)
		e = (int16_t *)(void *)(p + 8 + sizeof(rs));
	else {
		log_room(w, m);
		e = w->log;
	}
	fold_values(w->vlog, m, e, lo, &o);
	gmin = bucket_of(o.min);
	gmax = bucket_of(o.max);
	if (o.min == o.max || gmin < lo || gmax >= lo + w->span ||
	    2 * m > 4 * (gmax - gmin + 1) + 4) {
		if (e != w->log) {
			log_room(w, m);
			memcpy(w->log, e, 2 * m);
		}
		fold_finish(w, m, &o);
		return 0;
	}
	w->sum = rs.sum = o.sum;
	w->min = rs.min = o.min;
	w->max = rs.max = o.max;
	if (x != NULL) {
		/* arena_push() may move it. */
		xn = rd32(x) >> 2;
		memcpy(&xs, x + 4, sizeof(xs));
		d = (int64_t)rd32(x + 4 + sizeof(xs)) - (int64_t)lo;
	}
	/* The same place as arena_peek()'s, if that had one. */
	p = arena_push(w, len);
	wr32(p, (uint32_t)m << 2 | K_LOG);
	memcpy(p + 4, &rs, sizeof(rs));
	wr32(p + 4 + sizeof(rs), (uint32_t)lo);
	if (e == w->log)
		memcpy(p + 8 + sizeof(rs), w->log, 2 * m);
	p += 8 + sizeof(rs);
	w->tail_const = 0;
	closed_add(w, m);
	if (x != NULL) {
		x = w->arena + w->ahead + 8 + sizeof(xs);
		if (w->wide)
			add_sub32(w->total, p, m, (uint32_t *)w->total + d,
			    x, xn);
		else
			add_sub16(w->total, p, m, (uint16_t *)w->total + d,
			    x, xn);
		closed_sub(w, xn, xs.min, xs.max);
		arena_pop_len(w, 8 + sizeof(xs) + 2 * (size_t)xn);
	} else
		add_entries(w, w->total, p, m, 1);
	slice_reset(w);
	return 1;
}

/* Bring the window to now_ms: close and expire slices. */
static void
advance(struct window *w, uint64_t now_ms)
{
	uint64_t	 idx, steps;

	/* Mostly the next slice: no division (h.next_ms ends cur_idx). */
	if (now_ms - w->h.next_ms < w->slice_ms)
		idx = w->cur_idx + 1;
	else
		idx = now_ms / w->slice_ms;
	if (idx <= w->cur_idx)
		return;
	steps = idx - w->cur_idx;
	w->cur_idx = idx;
	w->h.next_ms = (idx + 1) * w->slice_ms;
	if (steps >= w->slices) {
		release(w);
		return;
	}
	if (steps > 1 || !rotate_log(w)) {
		slice_close(w);
		slice_reset(w);
		while (--steps > 0) {
			wr32(arena_push(w, 4), K_CONST);
			w->tail_const = 0;
		}
		while (w->nrec > w->slices - 1)
			slice_expire(w);
	}
	/* Empty records at the head carry nothing: drop them. */
	while (w->nrec > 0 && rd32(w->arena + w->ahead) == K_CONST)
		arena_pop(w);
	if (w->cl_n == 0) {
		release(w);
		return;
	}
	/*
	 * Bounds are enough for shrink(), but they only widen: make them
	 * exact every 2^k slices (2^k the least power of two of at least
	 * four window lengths) if no query has.
	 */
	if (!w->cl_mm_ok && (idx & w->walk_mask) == 0)
		closed_walk(w);
	shrink(w);
	if (w->wide && w->cl_n <= NARROW_BACK)
		set_width(w, 0);
	if (w->acap > 256 && arena_live(w) * 4 < w->acap)
		arena_resize(w, w->acap / 2);
}

/*
 * window_record_slow -- window_record() for every sample its inline fast
 * path does not take: refuses NaN, infinite and negative values (-1),
 * moves the window to now_ms, grows total[], makes room in the logs and
 * enforces the slice's share of samples (-1 past it).  Same contract as
 * window_record(); call that instead.
 */
int
window_record_slow(struct window *w, double v, uint64_t now_ms)
{
	/* As window_record(): NaN, +-Inf and negative values, -0 too. */
	if (double_bits(v) >= 0x7ff0000000000000ULL) {
		if (double_bits(v) != 0x8000000000000000ULL)
			return -1;
		v = 0;
	}
	if (now_ms >= w->h.next_ms)
		advance(w, now_ms);
	if (w->h.pos >= w->h.end) {
		vlog_room(w);
		if (w->h.pos >= w->h.end)
			return -1;
	}
	*w->h.pos++ = v;
	return 0;
}

typedef uint32_t v4u __attribute__((vector_size(16)));
typedef uint16_t v8u16 __attribute__((vector_size(16)));

/* Sum of t[0 .. BLOCK - 1], four lanes at a time. */
static inline uint32_t
block_sum32(const uint32_t *t)
{
	v4u	a, b, x, y;
	int	k;

	memcpy(&a, t, sizeof(a));
	memcpy(&b, t + 4, sizeof(b));
	for (k = 8; k < BLOCK; k += 8) {
		memcpy(&x, t + k, sizeof(x));
		memcpy(&y, t + k + 4, sizeof(y));
		a += x;
		b += y;
	}
	a += b;
	return a[0] + a[1] + a[2] + a[3];
}

/*
 * The same for a narrow total[], eight lanes at a time: no sum of its
 * entries passes the window's count, at most NARROW_MAX.
 */
static inline uint32_t
block_sum16(const uint16_t *t)
{
	v8u16	a, b, x, y;
	v4u	c;
	int	k;

	memcpy(&a, t, sizeof(a));
	memcpy(&b, t + 8, sizeof(b));
	for (k = 16; k < BLOCK; k += 16) {
		memcpy(&x, t + k, sizeof(x));
		memcpy(&y, t + k + 8, sizeof(y));
		a += x;
		b += y;
	}
	a += b;
	a += (v8u16)((v4u)a >> 16);
	c = (v4u)a & 0xffff;
	return c[0] + c[1] + c[2] + c[3];
}

static inline __attribute__((always_inline)) uint32_t
block_sum(const void *t, int wide, uint64_t i)
{
	if (wide)
		return block_sum32((const uint32_t *)t + i);
	return block_sum16((const uint16_t *)t + i);
}

static inline __attribute__((always_inline)) uint32_t
cell_get(const void *t, int wide, uint64_t i)
{
	if (wide)
		return ((const uint32_t *)t)[i];
	return ((const uint16_t *)t)[i];
}

/*
 * Quantile search state: walking up, [0, pos) are behind us and hold
 * acc samples; walking down, [pos, span) are.
 */
struct walk {
	uint64_t	 pos;
	uint64_t	 acc;
};

/* Bucket index holding the r-th smallest sample, walking up. */
static inline __attribute__((always_inline)) uint64_t
find_up_t(const void *t, int wide, uint64_t span, struct walk *k,
    uint64_t r)
{
	uint64_t	 s;

	while (k->pos + BLOCK <= span &&
	    k->acc + (s = block_sum(t, wide, k->pos)) < r) {
		k->acc += s;
		k->pos += BLOCK;
	}
	for (; k->pos + 1 < span; k->pos++) {
		s = cell_get(t, wide, k->pos);
		if (k->acc + s >= r)
			break;
		k->acc += s;
	}
	return k->pos;
}

/* Bucket index holding the r-th largest sample, walking down. */
static inline __attribute__((always_inline)) uint64_t
find_down_t(const void *t, int wide, struct walk *k, uint64_t r)
{
	uint64_t	 s;

	while (k->pos >= BLOCK &&
	    k->acc + (s = block_sum(t, wide, k->pos - BLOCK)) < r) {
		k->acc += s;
		k->pos -= BLOCK;
	}
	for (; k->pos > 1; k->pos--) {
		s = cell_get(t, wide, k->pos - 1);
		if (k->acc + s >= r)
			break;
		k->acc += s;
	}
	return k->pos - 1;
}

static uint64_t
find_up(const struct window *w, struct walk *k, uint64_t r)
{
	if (w->wide)
		return find_up_t(w->total, 1, w->span, k, r);
	return find_up_t(w->total, 0, w->span, k, r);
}

static uint64_t
find_down(const struct window *w, struct walk *k, uint64_t r)
{
	if (w->wide)
		return find_down_t(w->total, 1, k, r);
	return find_down_t(w->total, 0, k, r);
}

static double
bucket_value(const struct window *w, uint64_t i, double mn, double mx)
{
	double		 v = bucket_mid(w->lo + i);

	if (v < mn)
		return mn;
	if (v > mx)
		return mx;
	return v;
}

static uint64_t
rank_of(double q, uint64_t n)
{
	double		 x = q * (double)n;
	uint64_t	 r = (uint64_t)x;

	if ((double)r < x)
		r++;
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	return r;
}

/* Quantiles of a window brought up to date; qs checked by the caller. */
static void
quantiles(const struct window *w, const double *qs, size_t nq, double *out)
{
	struct walk	 up, down;
	uint64_t	 n = w->cl_n + cur_count(w), r;
	size_t		 ord[16], m, j, a, b;
	uint64_t	 first, last, under, over;
	double		 mn, mx;

	if (n == 0) {
		for (j = 0; j < nq; j++)
			out[j] = NAN;
		return;
	}
	mn = w->min < w->cl_min ? w->min : w->cl_min;
	mx = w->max > w->cl_max ? w->max : w->cl_max;
	/*
	 * Ranks in [1, under] are in the underflow, (n - over, n] in the
	 * overflow; the rest in the regular buckets of min to max.
	 */
	under = tget(w, -1);
	over = tget(w, (int64_t)w->span);
	first = bucket_of(mn) < G_LOW ? 0 : bucket_of(mn) - w->lo;
	last = bucket_of(mx) >= G_HIGH ? w->span : bucket_of(mx) - w->lo + 1;
	for (a = 0; a < nq; a += m) {
		/* Batches of up to 16, sorted by q, walk in one pass. */
		m = nq - a < nitems(ord) ? nq - a : nitems(ord);
		for (j = 0; j < m; j++) {
			for (b = j; b > 0 && qs[a + ord[b - 1]] > qs[a + j]; b--)
				ord[b] = ord[b - 1];
			ord[b] = j;
		}
		up.pos = first;
		up.acc = under;
		down.pos = last;
		down.acc = over;
		for (j = 0; j < m; j++) {
			r = rank_of(qs[a + ord[j]], n);
			if (r > n / 2)
				break;
			if (r == 1 || r <= under)
				out[a + ord[j]] = mn;
			else if (r > n - over)
				out[a + ord[j]] = mx;
			else
				out[a + ord[j]] = bucket_value(w,
				    find_up(w, &up, r), mn, mx);
		}
		for (b = m; b > j; b--) {
			r = n + 1 - rank_of(qs[a + ord[b - 1]], n);
			if (r == 1 || r <= over)
				out[a + ord[b - 1]] = mx;
			else if (r > n - under)
				out[a + ord[b - 1]] = mn;
			else
				out[a + ord[b - 1]] = bucket_value(w,
				    find_down(w, &down, r), mn, mx);
		}
	}
}

/*
 * window_quantiles -- quantiles qs[0 .. nq - 1] (each in [0, 1]) of the
 * window at now_ms into out[0 .. nq - 1], as defined at the top of this
 * file; NaN for an empty window.  Returns 0, or -1 if a q is NaN or
 * outside [0, 1]: out is untouched then.  Expires slices up to now_ms.
 */
int
window_quantiles(struct window *w, uint64_t now_ms, const double *qs,
    size_t nq, double *out)
{
	size_t	j;

	for (j = 0; j < nq; j++)
		if (!(qs[j] >= 0 && qs[j] <= 1))
			return -1;
	if (now_ms >= w->h.next_ms)
		advance(w, now_ms);
	fold(w);
	if (!w->cl_mm_ok)
		closed_walk(w);
	quantiles(w, qs, nq, out);
	return 0;
}

/*
 * window_stats -- fill *st with the window's statistics at now_ms:
 * count, rate per second (count / seconds), sum, min, max, mean, p50,
 * p90, p95, p99, p999 and the underflow and overflow counts.  Values are
 * NaN (count, rate and sum 0) for an empty window.  Expires slices up to
 * now_ms.
 */
void
window_stats(struct window *w, uint64_t now_ms, struct window_stats *st)
{
	static const double qs[] = { 0.5, 0.9, 0.95, 0.99, 0.999 };
	double		 out[nitems(qs)];
	uint64_t	 n;

	if (now_ms >= w->h.next_ms)
		advance(w, now_ms);
	fold(w);
	if (!w->cl_sum_ok || !w->cl_mm_ok)
		closed_walk(w);
	memset(st, 0, sizeof(*st));
	n = w->cl_n + cur_count(w);
	st->count = n;
	st->rate = (double)n / w->seconds;
	quantiles(w, qs, nitems(qs), out);
	st->p50 = out[0];
	st->p90 = out[1];
	st->p95 = out[2];
	st->p99 = out[3];
	st->p999 = out[4];
	if (n == 0) {
		st->min = st->max = st->mean = NAN;
		return;
	}
	st->sum = w->cl_sum + w->sum;
	st->min = w->min < w->cl_min ? w->min : w->cl_min;
	st->max = w->max > w->cl_max ? w->max : w->cl_max;
	st->mean = st->sum / (double)n;
	st->underflow = tget(w, -1);
	st->overflow = tget(w, (int64_t)w->span);
}

/*
 * window_check -- recount the live slices from scratch and compare with
 * the running totals, sums, minimum and maximum.  Returns 0 if they
 * agree, -1 if not.  For tests and debugging: O(samples in the window).
 */
int
window_check(const struct window *w)
{
	struct rec_stats rs;
	uint64_t	*cnt = NULL, *c, n = 0, i, nb, u, o;
	int64_t		 base, x, span = (int64_t)w->span;
	uint32_t	 h, k, b;
	unsigned int	 r;
	size_t		 off;
	const unsigned char *p, *q;
	double		 v = w->head_v, mn = INFINITY, mx = -INFINITY;
	unsigned int	 nmin = 0, nmax = 0;
	int16_t		 e;
	int		 rc = -1;

	if (w->total == NULL)
		return w->cl_n == 0 && w->nlog == 0 && w->flushed == 0 &&
		    w->span == 0 ? 0 : -1;
	if (w->lo < G_LOW || w->lo + w->span > G_HIGH)
		return -1;
	cnt = xcalloc(w->span + 2, sizeof(*cnt));
	c = cnt + 1;
	for (off = w->ahead, r = 0; r < w->nrec; r++,
	    off = arena_next(w, off)) {
		p = w->arena + off;
		h = rd32(p);
		k = h >> 2;
		if (rec_stats(p, &v, &rs) == 0)
			continue;
		n += k;
		if (rs.min < mn)
			mn = rs.min;
		if (rs.max > mx)
			mx = rs.max;
		nmin += rs.min == w->cl_min;
		nmax += rs.max == w->cl_max;
		q = p + 4 + sizeof(rs);
		switch (h & 3) {
		case K_CONST:
		case K_SAME:
			x = tidx(w, bucket_of(v));
			if (x < -1 || x > span)
				goto out;
			c[x] += k;
			break;
		case K_LOG:
			b = rd32(q);
			q += 4;
			u = o = 0;
			if (b & REC_UO) {
				u = rd32(q);
				o = rd32(q + 4);
				q += 8;
			}
			if (u + o > k)
				goto out;
			c[-1] += u;
			c[span] += o;
			base = (int64_t)(b & ~REC_UO) - (int64_t)w->lo;
			for (i = 0; i < k - u - o; i++) {
				memcpy(&e, q + 2 * i, sizeof(e));
				x = base + e;
				if (e < 0 || x < 0 || x >= span)
					goto out;
				c[x]++;
			}
			break;
		default:
			b = rd32(q);
			nb = rd32(q + 4);
			q += 8;
			if (b & REC_UO) {
				c[-1] += rd32(q);
				c[span] += rd32(q + 4);
				q += 8;
			}
			base = (int64_t)(b & ~REC_UO) - (int64_t)w->lo;
			if (nb != 0 && (base < 0 || base + (int64_t)nb > span))
				goto out;
			for (i = 0; i < nb; i++)
				c[base + (int64_t)i] += rd32(q + 4 * i);
			break;
		}
	}
	if (n != w->cl_n)
		goto out;
	/* Exact, or bounds that walking the slices again makes exact. */
	if (n != 0 && (w->cl_mm_ok ? mn != w->cl_min || mx != w->cl_max ||
	    nmin != w->cl_nmin || nmax != w->cl_nmax :
	    !(w->cl_min <= mn && w->cl_max >= mx)))
		goto out;
	/* The current slice: scratch[] or a dropped constant run, log[]. */
	if (w->scratch_used)
		for (x = -1; x <= span; x++)
			c[x] += w->scratch[x];
	else if (w->flushed != 0) {
		x = tidx(w, w->flushed_g);
		if (x < -1 || x > span)
			goto out;
		c[x] += w->flushed;
	}
	for (i = 0; i < w->nlog; i++) {
		if (w->log[i] < -1 || w->log[i] > span)
			goto out;
		c[w->log[i]]++;
	}
	/* Values not bucketed yet: valid, not in total[]. */
	for (i = 0; i < vlog_n(w); i++)
		if (!(w->vlog[i] >= 0) || isinf(w->vlog[i]) ||
		    signbit(w->vlog[i]))
			goto out;
	/* The fast path stops in time. */
	if (w->vlog == NULL ? w->h.pos != NULL || w->h.end != NULL :
	    w->h.end < w->h.pos || w->h.pos < w->vlog ||
	    (uint64_t)(w->h.end - w->vlog) > w->vcap ||
	    w->flushed + w->nlog + (uint64_t)(w->h.end - w->vlog) > w->nmax)
		goto out;
	if (w->nlog > w->logcap)
		goto out;
	for (x = -1; x <= span; x++)
		if (c[x] != tget(w, x))
			goto out;
	rc = 0;
 out:
	free(cnt);
	return rc;
}
