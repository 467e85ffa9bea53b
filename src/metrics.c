/*
 * metrics.c -- the series registry: series key -> window, gauge, counter.
 *
 * A series key is the metric name plus its sorted tags, "name{k=v,k2=v2}".
 * Timers, histograms, distributions and gauges feed a sliding-window
 * histogram (window.c); gauges also keep their last value; counters keep
 * their total and a ring of per-slice sums for the rate over the window.
 *
 * A tagged series also feeds the series of its bare name, so
 * "net.rtt_ms" holds the samples of every "net.rtt_ms{peer=...}": what a
 * strategy reads as "the" round-trip time.  The tagged series keeps a
 * pointer to it, so this costs no lookup per line; an aggregate stays
 * while it has tagged series pointing at it.
 *
 * Lookups go through an open-addressing table of (hash, series) with
 * linear probing and backward-shift deletion, sized to a power of two and
 * at most half full, so the ingest path costs one hash probe per line.
 * Nothing grows without bound: past max_series, lines of new series are
 * dropped and counted, and series idle for longer than idle_ms go.
 *
 * A key names one series per type: "x" sent as a counter and as a timer
 * is two series, as in Etsy statsd and DogStatsD; metrics_find() gives
 * the older, metrics_find_type() either.
 *
 * What a window cannot hold is kept beside it.  Negative samples (a
 * histogram, a distribution, a gauge below zero) go, negated, into a
 * second window made when the first comes; the statistics and
 * quantiles merge the two.  A timer, histogram or distribution sample
 * sent at @rate counts 1/rate samples (DogStatsD and Etsy statsd): the
 * window takes it once, and its 1/rate - 1 extra count and value go to
 * a ring of per-slice sums made when the first sampled line comes, so
 * count, rate, sum and mean scale while quantiles weigh each line once
 * (exact when a series' lines share a rate, as a client's do).  A set
 * keeps the hashes of its members with the slice each was last seen
 * in, at most set_max live ones: its count is the distinct members of
 * the window.
 *
 * Known forms.  A sender writes a series the same way every time:
 * "lg.rtt_ms.12:2.345|ms|#peer:n7" changes only in its value.  Each
 * series keeps the first form it was sent in that statsd_split() can
 * split: its name (the start of its key) and the rest of the line from
 * the "|" on (type, rate and tags, as sent), up to SERIES_FORM_MAX bytes
 * for both.  A second table maps the hash of name and rest to the series.
 * A line whose name and rest equal a series' form, byte for byte, is
 * that series' line, as the parser would read it: it costs the split,
 * one probe and two compares, and its tags are not parsed again.  Any
 * other line goes through the whole parser.  The table is rebuilt from
 * the series when the registry grows or series expire, so it never
 * points at a series that went.
 */
#include <sys/types.h>

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "meshtuned.h"

#define SERIES_FORM_MAX	56	/* name and "|type..." kept */
#define SERIES_ALIGN	64	/* a cache line */
#define SET_MAX_DEFAULT	4096	/* live members a set keeps */

/* A set's members: open addressing, hash 0 marks an empty entry. */
struct set_entry {
	uint64_t	 hash;
	uint64_t	 epoch;		/* slice it was last seen in */
};
struct set {
	struct set_entry *e;
	size_t		 cap;		/* power of two */
	size_t		 n;
};

/*
 * What a known line needs comes first, in the first two cache lines
 * (series are allocated on a line boundary, and the flush prefetches
 * both), the key last, inline: one allocation.
 */
struct series {
	struct window	*w;		/* all but counters */
	struct series	*agg;		/* tagged: the name's own series */
	uint64_t	 last_seen_ms;
	double		 last;		/* gauges: current value */
	double		 form_rate;	/* the form's @rate, 1 if none */
	double		 total;		/* counters: sum of increments */
	double		*slice_sum;	/* counters: per-slice increments, */
					/* then per-slice samples (uint32) */
	uint64_t	 slice_epoch;	/* counters, xring: newest slice */
	enum statsd_type type;
	uint16_t	 namelen;	/* key[0 .. namelen) is the name */
	uint16_t	 formlen;	/* 0: no known form */
	char		 form[SERIES_FORM_MAX]; /* its name, then "|type..." */
	uint64_t	 form_hash;	/* statsd_hash_raw() of the form */
	uint64_t	 hash;
	size_t		 keylen;
	uint32_t	 children;	/* tagged series whose agg this is */
	int		 agg_tried;	/* agg looked up (NULL: refused) */
	uint64_t	 serial;	/* creation order */
	struct window	*wneg;		/* negated negative samples, or NULL */
	double		*xring;		/* sampled: per-slice extra counts,
					   then extra sums; or NULL */
	struct set	*set;		/* sets */
	char		 key[];		/* NUL-terminated */
};

_Static_assert(offsetof(struct series, form) + SERIES_FORM_MAX <=
    2 * SERIES_ALIGN, "a known line's fields fit two cache lines");

struct metrics_slot {
	uint64_t	 hash;
	struct series	*s;		/* NULL: empty */
};

struct metrics {
	struct metrics_slot *slots;
	struct metrics_slot *known;	/* form hash -> series, cap slots */
	size_t		 cap;		/* power of two */
	size_t		 count;
	size_t		 max_series;
	size_t		 set_max;	/* live members per set */
	uint64_t	 serial;	/* of the last series made */
	unsigned int	 window_s;
	unsigned int	 slices;
	uint64_t	 slice_ms;
	struct metrics_stats stats;
};

/* A counter's per-slice sample counts, after its per-slice sums. */
static inline uint32_t *
slice_counts(const struct metrics *m, const struct series *s)
{
	return (uint32_t *)(s->slice_sum + m->slices);
}

#define METRICS_MIN_CAP	64

/*
 * Make a registry whose series summarise the last window_s seconds in
 * slices steps, holding at most max_series series.  Returns NULL if the
 * window shape is invalid.
 */
struct metrics *
metrics_new(unsigned int window_s, unsigned int slices, size_t max_series)
{
	struct metrics	*m;

	if (window_s == 0 || slices == 0 || max_series == 0 ||
	    ((uint64_t)window_s * 1000) % slices != 0)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	m->cap = METRICS_MIN_CAP;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	m->known = xcalloc(m->cap, sizeof(*m->known));
	m->max_series = max_series;
	m->set_max = SET_MAX_DEFAULT;
	m->window_s = window_s;
	m->slices = slices;
	m->slice_ms = (uint64_t)window_s * 1000 / slices;
	return m;
}

static void
series_free(struct series *s)
{
	if (s->w != NULL)
		window_free(s->w);
	if (s->wneg != NULL)
		window_free(s->wneg);
	if (s->set != NULL) {
		free(s->set->e);
		free(s->set);
	}
	free(s->slice_sum);
	free(s->xring);
	free(s);
}

/* Free the registry and every series in it; NULL is a no-op. */
void
metrics_free(struct metrics *m)
{
	size_t	i;

	if (m == NULL)
		return;
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].s != NULL)
			series_free(m->slots[i].s);
	free(m->slots);
	free(m->known);
	free(m);
}

/*
 * The slot holding the series of key and type, or the empty slot where
 * it would go; *other (if not NULL) is set when a series of key has
 * another type.
 */
static struct metrics_slot *
metrics_probe(struct metrics *m, const char *key, size_t keylen,
    uint64_t hash, enum statsd_type type, int *other)
{
	struct metrics_slot	*slot;
	size_t			 mask = m->cap - 1, i = hash & mask;

	for (;;) {
		slot = &m->slots[i];
		if (slot->s == NULL)
			return slot;
		if (slot->hash == hash && slot->s->keylen == keylen &&
		    memcmp(slot->s->key, key, keylen) == 0) {
			if (slot->s->type == type)
				return slot;
			if (other != NULL)
				*other = 1;
		}
		i = (i + 1) & mask;
	}
}

static void	known_rebuild(struct metrics *);

static void
metrics_grow(struct metrics *m)
{
	struct metrics_slot	*old = m->slots, *slot;
	size_t			 oldcap = m->cap, i;

	m->cap *= 2;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (i = 0; i < oldcap; i++) {
		if (old[i].s == NULL)
			continue;
		slot = metrics_probe(m, old[i].s->key, old[i].s->keylen,
		    old[i].hash, old[i].s->type, NULL);
		*slot = old[i];
	}
	free(old);
	m->known = xreallocarray(m->known, m->cap, sizeof(*m->known));
	known_rebuild(m);
}

static struct series *
series_new(struct metrics *m, const char *key, size_t keylen,
    size_t namelen, uint64_t hash, enum statsd_type type, uint64_t now_ms)
{
	struct series	*s;

	s = xcalloc_aligned(SERIES_ALIGN, sizeof(*s) + keylen + 1);
	s->hash = hash;
	memcpy(s->key, key, keylen);
	s->key[keylen] = '\0';
	s->keylen = keylen;
	s->namelen = (uint16_t)namelen;
	s->type = type;
	s->last = NAN;
	s->serial = ++m->serial;
	if (type == STATSD_SET)
		s->set = xcalloc(1, sizeof(*s->set));
	else if (type == STATSD_COUNTER) {
		/* One allocation: the sums, then the sample counts. */
		s->slice_sum = xcalloc(m->slices, sizeof(double) +
		    sizeof(uint32_t));
		s->slice_epoch = now_ms / m->slice_ms;
	} else if ((s->w = window_new(m->window_s, m->slices, now_ms)) == NULL)
		fatalx("%s: window_new(%u, %u) failed", __func__, m->window_s,
		    m->slices);
	return s;
}

/*
 * Find the series of key and type, creating it if there is room.  Returns
 * NULL if the registry is full, counting the drop when count is set; a
 * series made for a key another type already has is counted as a type
 * conflict.
 */
static struct series *
metrics_get(struct metrics *m, const char *key, size_t keylen,
    size_t namelen, uint64_t hash, enum statsd_type type, uint64_t now_ms,
    int count)
{
	struct metrics_slot	*slot;
	int			 other = 0;

	slot = metrics_probe(m, key, keylen, hash, type, &other);
	if (slot->s != NULL)
		return slot->s;
	if (m->count >= m->max_series) {
		m->stats.series_dropped += count;
		return NULL;
	}
	m->stats.type_conflicts += other && count;
	slot->hash = hash;
	slot->s = series_new(m, key, keylen, namelen, hash, type, now_ms);
	m->count++;
	m->stats.series_created++;
	if (m->count * 2 > m->cap)
		metrics_grow(m);
	/* The slot may have moved; find the series again. */
	return metrics_probe(m, key, keylen, hash, type, NULL)->s;
}

/* Move a counter's ring forward to now, zeroing the slices that expired. */
static void
counter_advance(struct metrics *m, struct series *s, uint64_t now_ms)
{
	uint64_t	epoch = now_ms / m->slice_ms, e;

	if (epoch <= s->slice_epoch)
		return;
	if (epoch - s->slice_epoch >= m->slices)
		memset(s->slice_sum, 0, m->slices * (sizeof(double) +
		    sizeof(uint32_t)));
	else
		for (e = s->slice_epoch + 1; e <= epoch; e++) {
			s->slice_sum[e % m->slices] = 0;
			slice_counts(m, s)[e % m->slices] = 0;
		}
	s->slice_epoch = epoch;
}

/* Move the extra-weight ring forward to now, as counter_advance(). */
static void
extra_advance(struct metrics *m, struct series *s, uint64_t now_ms)
{
	uint64_t	epoch = now_ms / m->slice_ms, e;

	if (epoch <= s->slice_epoch)
		return;
	if (epoch - s->slice_epoch >= m->slices)
		memset(s->xring, 0, 2 * m->slices * sizeof(double));
	else
		for (e = s->slice_epoch + 1; e <= epoch; e++) {
			s->xring[e % m->slices] = 0;
			s->xring[m->slices + e % m->slices] = 0;
		}
	s->slice_epoch = epoch;
}

/*
 * A sample v of a window series sent at rate counts 1/rate samples: the
 * window holds it once, the ring the other 1/rate - 1.
 */
static void
extra_add(struct metrics *m, struct series *s, double v, double rate,
    uint64_t now_ms)
{
	double	w = 1 / rate - 1;
	size_t	j;

	if (s->xring == NULL) {
		s->xring = xcalloc(2 * m->slices, sizeof(double));
		s->slice_epoch = now_ms / m->slice_ms;
	}
	extra_advance(m, s, now_ms);
	j = s->slice_epoch % m->slices;
	s->xring[j] += w;
	s->xring[m->slices + j] += v * w;
}

/*
 * A negative value goes, negated, to the window of negatives (made now
 * if need be).  -1 if it is refused there, or is not negative.
 */
static int	series_record_neg(struct metrics *, struct series *, double,
		    uint64_t) __attribute__((__noinline__, __cold__));
static int	series_add_sampled(struct metrics *, struct series *, double,
		    double, uint64_t) __attribute__((__noinline__));

static int
series_record_neg(struct metrics *m, struct series *s, double v,
    uint64_t now_ms)
{
	if (!(v < 0) || !isfinite(v))
		return -1;
	if (s->wneg == NULL &&
	    (s->wneg = window_new(m->window_s, m->slices, now_ms)) == NULL)
		fatalx("%s: window_new(%u, %u) failed", __func__, m->window_s,
		    m->slices);
	return window_record(s->wneg, -v, now_ms);
}

/*
 * Apply one value (at rate) to a series; -1 if the window refused it.
 * A counter's value is already divided by its rate (statsd.c); a
 * gauge's rate means nothing, as in DogStatsD and Etsy statsd.
 */
static int
series_add(struct metrics *m, struct series *s, double v, int delta,
    double rate, uint64_t now_ms)
{
	s->last_seen_ms = now_ms;
	switch (s->type) {
	case STATSD_COUNTER:
		counter_advance(m, s, now_ms);
		s->slice_sum[s->slice_epoch % m->slices] += v;
		slice_counts(m, s)[s->slice_epoch % m->slices]++;
		s->total += v;
		return 0;
	case STATSD_GAUGE:
		if (delta)
			v += isnan(s->last) ? 0 : s->last;
		s->last = v;
		break;
	default:
		if (__builtin_expect(rate != 1, 0))
			return series_add_sampled(m, s, v, rate, now_ms);
		break;
	}
	/* Tail calls: nothing is live after them, nothing more saved. */
	if (__builtin_expect(v < 0, 0))
		return series_record_neg(m, s, v, now_ms);
	return window_record(s->w, v, now_ms);
}

/* series_add() of a sample sent at a rate below 1: its extra weight. */
static int
series_add_sampled(struct metrics *m, struct series *s, double v,
    double rate, uint64_t now_ms)
{
	if ((v < 0 ? series_record_neg(m, s, v, now_ms) :
	    window_record(s->w, v, now_ms)) != 0)
		return -1;
	extra_add(m, s, v, rate, now_ms);
	return 0;
}

/* Make room in a set for one more member; -1 if it is full of live ones. */
static int
set_room(struct metrics *m, struct set *st, uint64_t now_ms)
{
	struct set_entry	*old = st->e;
	size_t			 oldcap = st->cap, i, j, mask;
	uint64_t		 epoch = now_ms / m->slice_ms;
	size_t			 live = 0;

	if ((st->n + 1) * 2 <= st->cap && st->n + 1 <= m->set_max)
		return 0;
	for (i = 0; i < oldcap; i++)
		live += old[i].hash != 0 && old[i].epoch + m->slices > epoch;
	if (live + 1 > m->set_max)
		return -1;
	st->cap = oldcap == 0 ? 16 : oldcap;
	while ((live + 1) * 2 > st->cap)
		st->cap *= 2;
	st->e = xcalloc(st->cap, sizeof(*st->e));
	st->n = 0;
	mask = st->cap - 1;
	for (i = 0; i < oldcap; i++) {
		if (old[i].hash == 0 || old[i].epoch + m->slices <= epoch)
			continue;
		for (j = old[i].hash & mask; st->e[j].hash != 0;
		    j = (j + 1) & mask)
			;
		st->e[j] = old[i];
		st->n++;
	}
	free(old);
	return 0;
}

/* Add member (a hash) to a set series; -1 if the set is full. */
static int
set_add(struct metrics *m, struct series *s, uint64_t member,
    uint64_t now_ms)
{
	struct set	*st = s->set;
	uint64_t	 epoch = now_ms / m->slice_ms;
	size_t		 j, mask;

	s->last_seen_ms = now_ms;
	if (member == 0)
		member = 1;
	if (st->cap > 0)
		for (mask = st->cap - 1, j = member & mask; st->e[j].hash != 0;
		    j = (j + 1) & mask)
			if (st->e[j].hash == member) {
				st->e[j].epoch = epoch;
				return 0;
			}
	if (set_room(m, st, now_ms) == -1)
		return -1;
	for (mask = st->cap - 1, j = member & mask; st->e[j].hash != 0;
	    j = (j + 1) & mask)
		;
	st->e[j].hash = member;
	st->e[j].epoch = epoch;
	st->n++;
	return 0;
}

/* The distinct members of a set seen in the window ending at now_ms. */
static uint64_t
set_distinct(const struct metrics *m, const struct series *s,
    uint64_t now_ms)
{
	uint64_t	epoch = now_ms / m->slice_ms, n = 0;
	size_t		i;

	for (i = 0; i < s->set->cap; i++)
		n += s->set->e[i].hash != 0 &&
		    s->set->e[i].epoch + m->slices > epoch;
	return n;
}

/*
 * Point a tagged series at the series of its bare name, creating that if
 * there is room.  No aggregate (registry full) is not an error: the
 * tagged series just has none.
 */
static void
series_link_agg(struct metrics *m, struct series *s, uint64_t now_ms)
{
	uint64_t	hash = statsd_hash(s->key, s->namelen);

	s->agg_tried = 1;
	s->agg = metrics_get(m, s->key, s->namelen, s->namelen, hash,
	    s->type, now_ms, 0);
	if (s->agg != NULL)
		s->agg->children++;
}

/*
 * Apply v (at rate) to s, and to its aggregate, counting it.  Returns 0,
 * or -1 if the window refused it.
 */
static int
series_feed(struct metrics *m, struct series *s, double v, int delta,
    double rate, uint64_t now_ms)
{
	if (series_add(m, s, v, delta, rate, now_ms) != 0) {
		m->stats.values_refused++;
		return -1;
	}
	m->stats.values++;
	if (s->agg != NULL)
		(void)series_add(m, s->agg, s->type == STATSD_GAUGE ? s->last :
		    v, 0, rate, now_ms);
	return 0;
}

/* Add a set member to s and its aggregate; -1 if s is full (counted). */
static int
series_feed_member(struct metrics *m, struct series *s, uint64_t member,
    uint64_t now_ms)
{
	if (set_add(m, s, member, now_ms) != 0) {
		m->stats.set_full++;
		return -1;
	}
	m->stats.values++;
	if (s->agg != NULL && set_add(m, s->agg, member, now_ms) != 0)
		m->stats.set_full++;
	return 0;
}

/*
 * The series a parsed line goes to, made if need be and linked to its
 * aggregate; NULL if it was dropped (counted).
 */
static struct series *
line_series(struct metrics *m, const struct statsd_line *ln, uint64_t now_ms)
{
	struct series	*s;

	s = metrics_get(m, ln->key, ln->keylen, ln->namelen, ln->hash,
	    ln->type, now_ms, 1);
	if (s == NULL) {
		m->stats.values_dropped += ln->nvalues;
		return NULL;
	}
	if (ln->ntags > 0 && !s->agg_tried)
		series_link_agg(m, s, now_ms);
	return s;
}

/* Feed every value of a parsed line to s; returns how many were stored. */
static size_t
line_feed(struct metrics *m, struct series *s, const struct statsd_line *ln,
    uint64_t now_ms)
{
	size_t	i, stored = 0;

	if (s->type == STATSD_SET)
		return series_feed_member(m, s, ln->member, now_ms) == 0;
	for (i = 0; i < ln->nvalues; i++)
		stored += series_feed(m, s, ln->values[i], ln->delta != NULL &&
		    ln->delta[i], ln->rate, now_ms) == 0;
	return stored;
}

/*
 * Add every value of a parsed StatsD line.  Returns the number of values
 * stored; the others are counted in the registry's stats.  Events and
 * service checks are not the registry's: 0.
 */
size_t
metrics_add_line(struct metrics *m, const struct statsd_line *ln,
    uint64_t now_ms)
{
	struct series	*s;

	if (ln->kind != STATSD_METRIC)
		return 0;
	if ((s = line_series(m, ln, now_ms)) == NULL)
		return 0;
	return line_feed(m, s, ln, now_ms);
}

/* Put s in the table of known forms (it has one; the table has room). */
static void
known_insert(struct metrics *m, struct series *s)
{
	size_t	mask = m->cap - 1, i = s->form_hash & mask;

	while (m->known[i].s != NULL)
		i = (i + 1) & mask;
	m->known[i].hash = s->form_hash;
	m->known[i].s = s;
}

/* Make the table of known forms again from the series. */
static void
known_rebuild(struct metrics *m)
{
	size_t	i;

	memset(m->known, 0, m->cap * sizeof(*m->known));
	for (i = 0; i < m->cap; i++)
		if (m->slots[i].s != NULL && m->slots[i].s->formlen > 0)
			known_insert(m, m->slots[i].s);
}

/*
 * Are the n bytes at a and b the same?  Names and forms are short: words
 * compared inline, the last one overlapping, cost less than memcmp()'s
 * call and its set-up.
 */
static inline int
same_bytes(const char *a, const char *b, size_t n)
{
	uint64_t	x, y;
	uint32_t	u, v;

	if (n < 8) {
		if (n < 4)
			return n == 0 || (a[0] == b[0] &&
			    a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
		memcpy(&u, a, 4);
		memcpy(&v, b, 4);
		if (u != v)
			return 0;
		memcpy(&u, a + n - 4, 4);
		memcpy(&v, b + n - 4, 4);
		return u == v;
	}
	for (; n > 8; a += 8, b += 8, n -= 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return 0;
	}
	memcpy(&x, a + n - 8, 8);
	memcpy(&y, b + n - 8, 8);
	return x == y;
}

/* Is the split line e in the form s knows? */
static inline int
form_is(const struct series *s, const struct metrics_batch_line *e)
{
	size_t	restlen = e->len - e->rest;

	return s->namelen == e->namelen &&
	    s->formlen == e->namelen + restlen &&
	    same_bytes(s->form, e->key, e->namelen) &&
	    same_bytes(s->form + e->namelen, e->key + e->rest, restlen);
}

/* The series whose known form the split line e is in, or NULL. */
static struct series *
known_find(const struct metrics *m, const struct metrics_batch_line *e)
{
	const struct metrics_slot	*slot;
	size_t				 mask = m->cap - 1, i = e->hash & mask;

	for (;; i = (i + 1) & mask) {
		slot = &m->known[i];
		if (slot->s == NULL)
			return NULL;
		if (slot->hash == e->hash && form_is(slot->s, e))
			return slot->s;
	}
}

/*
 * Make the split line e (which parsed into a line of s, with rate) the
 * form s is known by, if s has none yet and e's rest fits.
 */
static void
series_learn(struct metrics *m, struct series *s,
    const struct metrics_batch_line *e, double rate)
{
	size_t	restlen = e->len - e->rest;

	if (s->formlen != 0 || e->namelen + restlen > sizeof(s->form))
		return;
	memcpy(s->form, e->key, e->namelen);
	memcpy(s->form + e->namelen, e->key + e->rest, restlen);
	s->formlen = (uint16_t)(e->namelen + restlen);
	s->form_hash = e->hash;
	s->form_rate = rate;
	known_insert(m, s);
}

/*
 * Batches: the registry is a chain of dependent loads per line (slot,
 * series, window, value log), each a cache miss when the series is cold,
 * which it is with many series or after other processes ran.
 * metrics_batch_add() keeps lines (their keys and values copied),
 * prefetches their slot, and metrics_batch_flush() walks them as a
 * pipeline: while line i is added, the value-log entry of line i +
 * MB_DIST, the window of line i + 2 * MB_DIST, the series of line i + 3 *
 * MB_DIST and the slot of line i + 4 * MB_DIST (again: the one fetched
 * when the line came may have left the cache since) are already on their
 * way, so the misses overlap instead of adding up.  Lines are added in the order they came: gauges see the
 * same sequence.  A split line is looked up among the known forms when
 * its turn comes, and parsed then if it is not one.
 */
#define MB_DIST		4

/* The home slot of line i: in the known forms if split, else the keys. */
static inline const struct metrics_slot *
batch_slot(const struct metrics_batch *b, const struct metrics *m, size_t i)
{
	const struct metrics_batch_line	*e = &b->lines[i];

	return &(e->rest != 0 ? m->known : m->slots)[e->hash & (m->cap - 1)];
}

/*
 * The series line i of the batch goes to, from its home slot, kept in
 * the line for the later stages; NULL past the end of the batch or when
 * the series is not in its home slot (not worth chasing then).
 */
static inline struct series *
batch_resolve(struct metrics_batch *b, const struct metrics *m, size_t i)
{
	const struct metrics_slot	*slot;

	if (i >= b->n)
		return NULL;
	slot = batch_slot(b, m, i);
	return b->lines[i].s = slot->hash == b->lines[i].hash ? slot->s : NULL;
}

/* Resolve line i's series and start fetching its two cache lines. */
static inline void
batch_fetch_series(struct metrics_batch *b, const struct metrics *m,
    size_t i)
{
	const struct series	*s;

	if ((s = batch_resolve(b, m, i)) != NULL) {
		__builtin_prefetch(s);
		__builtin_prefetch((const char *)s + 64);
	}
}

/* What batch_resolve() found for line i, NULL past the end. */
static inline const struct series *
batch_series(const struct metrics_batch *b, size_t i)
{
	return i < b->n ? b->lines[i].s : NULL;
}

/*
 * Start a batch; it holds nothing and owns nothing outside itself.  sp
 * parses the split lines the registry does not know, and counts them.
 */
void
metrics_batch_init(struct metrics_batch *b, struct statsd_parser *sp)
{
	b->sp = sp;
	b->event_fn = NULL;
	b->event_arg = NULL;
	statsd_init(&b->miss);
	b->n = 0;
	b->keyused = 0;
}

/* Add a parsed line of the batch. */
static void
batch_add_parsed(struct metrics *m, const struct metrics_batch_line *e,
    uint64_t now_ms)
{
	struct statsd_line	ln;

	ln.kind = STATSD_METRIC;
	ln.key = e->key;
	ln.keylen = e->len;
	ln.hash = e->hash;
	ln.namelen = e->namelen;
	ln.ntags = e->tagged;
	ln.type = e->type;
	ln.rate = 1;
	ln.values = &e->value;
	ln.delta = &e->delta;
	ln.nvalues = 1;
	metrics_add_line(m, &ln, now_ms);
}

/* Hand an event or service check to the batch's callback, if any. */
static void
batch_event(struct metrics_batch *b, const struct statsd_line *ln)
{
	if (b->event_fn != NULL)
		b->event_fn(ln, b->event_arg);
}

/* Add a split line of the batch: known, or parsed now and learnt. */
static void
batch_add_split(struct metrics_batch *b, struct metrics *m,
    const struct metrics_batch_line *e, uint64_t now_ms)
{
	struct statsd_line	 ln;
	struct series		*s;
	double			 v = e->value;

	/* The flush found it in its home slot, most of the time. */
	if ((s = e->s) == NULL || !form_is(s, e))
		s = known_find(m, e);
	/*
	 * The parser's per-type rule on the value; a plain value is never a
	 * gauge's delta.  A value the rule refuses goes to the parser, which
	 * counts it.
	 */
	if (s != NULL && statsd_value(s->type, s->form_rate, &v) == STATSD_OK) {
		m->stats.lines_known++;
		b->sp->stats.samples++;
		(void)series_feed(m, s, v, 0, s->form_rate, now_ms);
		return;
	}
	if (!statsd_take_parse(&b->miss, e->key, e->len, &ln))
		return;
	if (ln.kind != STATSD_METRIC) {
		batch_event(b, &ln);
		return;
	}
	if ((s = line_series(m, &ln, now_ms)) == NULL)
		return;
	(void)line_feed(m, s, &ln, now_ms);
	/*
	 * A set's member is text: "1" and "1.0" differ, as the split value
	 * would not tell.  A timestamp honoured must be read every time, and
	 * unknown fields counted every time.
	 */
	if (s->type != STATSD_SET && ln.timestamp == 0 && ln.ignored == 0)
		series_learn(m, s, e, ln.rate);
}

/* Move what the miss parser counted to the batch's parser. */
static void
batch_count_misses(struct metrics_batch *b)
{
	size_t	r;

	b->sp->stats.samples += b->miss.stats.samples;
	b->sp->stats.events += b->miss.stats.events;
	b->sp->stats.service_checks += b->miss.stats.service_checks;
	b->sp->stats.fields_ignored += b->miss.stats.fields_ignored;
	for (r = 0; r < STATSD_NREASONS; r++)
		b->sp->stats.errors[r] += b->miss.stats.errors[r];
	memset(&b->miss.stats, 0, sizeof(b->miss.stats));
}

/* Add every line of the batch to m, in order, and empty it. */
void
metrics_batch_flush(struct metrics_batch *b, struct metrics *m,
    uint64_t now_ms)
{
	const struct series	*s;
	size_t			 i;

	b->miss.opts = b->sp->opts;
	for (i = 0; i < 3 * MB_DIST; i++)
		batch_fetch_series(b, m, i);
	for (i = 0; i < b->n; i++) {
		if (i + 4 * MB_DIST < b->n)
			__builtin_prefetch(batch_slot(b, m, i + 4 * MB_DIST));
		batch_fetch_series(b, m, i + 3 * MB_DIST);
		/*
		 * That series is in cache by now: fetch its window, or for
		 * a counter the slice it adds to.
		 */
		if ((s = batch_series(b, i + 2 * MB_DIST)) != NULL) {
			if (s->w != NULL)
				__builtin_prefetch(s->w);
			else if (s->slice_sum != NULL) {
				size_t j = s->slice_epoch % m->slices;

				__builtin_prefetch(&s->slice_sum[j], 1);
				__builtin_prefetch(&slice_counts(m, s)[j], 1);
			}
		}
		/* And that window: the entry its next value goes into. */
		if ((s = batch_series(b, i + MB_DIST)) != NULL &&
		    s->w != NULL)
			window_prefetch(s->w);
		if (b->lines[i].rest != 0)
			batch_add_split(b, m, &b->lines[i], now_ms);
		else
			batch_add_parsed(m, &b->lines[i], now_ms);
	}
	b->n = 0;
	b->keyused = 0;
	batch_count_misses(b);
}

/*
 * Queue a parsed line (valid during the call only) for m: its key and
 * value are copied.  Flushes first if the batch is full; a line too big
 * to keep (a long key, several values) is added at once, after the lines
 * before it.
 */
void
metrics_batch_add(struct metrics_batch *b, struct metrics *m,
    const struct statsd_line *ln, uint64_t now_ms)
{
	struct metrics_batch_line	*e;

	/* Not the batch's kind of line: its own way, in order. */
	if (ln->nvalues != 1 || ln->keylen > METRICS_BATCH_KEYS / 16 ||
	    ln->type == STATSD_SET || (ln->rate != 1 &&
	    ln->type != STATSD_COUNTER && ln->type != STATSD_GAUGE)) {
		metrics_batch_flush(b, m, now_ms);
		metrics_add_line(m, ln, now_ms);
		return;
	}
	if (b->n == METRICS_BATCH_LINES ||
	    (ln->ntags > 0 && b->keyused + ln->keylen > METRICS_BATCH_KEYS))
		metrics_batch_flush(b, m, now_ms);
	__builtin_prefetch(&m->slots[ln->hash & (m->cap - 1)]);
	e = &b->lines[b->n++];
	e->s = NULL;
	e->key = ln->key;
	if (ln->ntags > 0) {
		/* The parser's scratch key: keep a copy. */
		memcpy(b->keys + b->keyused, ln->key, ln->keylen);
		e->key = b->keys + b->keyused;
		b->keyused += ln->keylen;
	}
	e->hash = ln->hash;
	e->value = ln->values[0];
	e->len = (uint32_t)ln->keylen;
	e->namelen = (uint16_t)ln->namelen;
	e->rest = 0;
	e->type = (uint8_t)ln->type;
	e->delta = ln->delta != NULL && ln->delta[0];
	e->tagged = ln->ntags > 0;
}

/* Queue a split line for m, to be looked up when the batch is flushed. */
static void
batch_add_raw(struct metrics_batch *b, struct metrics *m,
    const struct statsd_raw *raw, uint64_t now_ms)
{
	struct metrics_batch_line	*e;

	if (b->n == METRICS_BATCH_LINES)
		metrics_batch_flush(b, m, now_ms);
	__builtin_prefetch(&m->known[raw->hash & (m->cap - 1)]);
	e = &b->lines[b->n++];
	e->s = NULL;
	e->key = raw->line;
	e->hash = raw->hash;
	e->value = raw->value;
	e->len = (uint32_t)raw->len;
	e->namelen = (uint16_t)raw->namelen;
	e->rest = (uint16_t)raw->rest;
}

/*
 * Read one datagram of len bytes into the batch: each line split if it
 * can be (statsd_split()), parsed now if not.  The datagram must stay
 * unchanged until the batch is flushed.  The batch's parser counts the
 * lines at once, and the samples and errors of split lines when the
 * batch is flushed (they are only known then).
 */
void
metrics_batch_datagram(struct metrics_batch *b, struct metrics *m,
    const char *buf, size_t len, uint64_t now_ms)
{
	struct statsd_parser	*sp = b->sp;
	struct statsd_raw	 raw;
	struct statsd_line	 ln;
	const char		*line;
	size_t			 n;

	statsd_begin(sp, buf, len);
	while ((line = statsd_take(sp, &n)) != NULL) {
		if (statsd_split(line, n, &raw))
			batch_add_raw(b, m, &raw, now_ms);
		else if (!statsd_take_parse(sp, line, n, &ln))
			continue;
		else if (ln.kind != STATSD_METRIC)
			batch_event(b, &ln);
		else
			metrics_batch_add(b, m, &ln, now_ms);
	}
}

/*
 * Add one value to the series key (a NUL-terminated canonical key): the
 * way /proc collectors feed the registry.  Returns 0, or -1 if it was
 * dropped (registry full, type conflict, value refused by the window).
 */
int
metrics_add(struct metrics *m, const char *key, enum statsd_type type,
    double value, uint64_t now_ms)
{
	struct series	*s;
	size_t		 keylen = strlen(key);
	const char	*brace = memchr(key, '{', keylen);

	s = metrics_get(m, key, keylen, brace ? (size_t)(brace - key) : keylen,
	    statsd_hash(key, keylen), type, now_ms, 1);
	if (s == NULL) {
		m->stats.values_dropped++;
		return -1;
	}
	if (type == STATSD_SET)
		return series_feed_member(m, s, statsd_hash(&value,
		    sizeof(value)), now_ms);
	if (series_add(m, s, value, 0, 1, now_ms) == -1) {
		m->stats.values_refused++;
		return -1;
	}
	m->stats.values++;
	return 0;
}

/*
 * The series called key (canonical form, NUL-terminated) of type, or of
 * any type if type is STATSD_NTYPES (the oldest, when the key has
 * several); NULL if there is none.
 */
struct series *
metrics_find_type(struct metrics *m, const char *key, enum statsd_type type)
{
	struct metrics_slot	*slot;
	struct series		*best = NULL;
	size_t			 keylen = strlen(key), mask = m->cap - 1, i;
	uint64_t		 hash = statsd_hash(key, keylen);

	for (i = hash & mask; (slot = &m->slots[i])->s != NULL;
	    i = (i + 1) & mask)
		if (slot->hash == hash && slot->s->keylen == keylen &&
		    memcmp(slot->s->key, key, keylen) == 0 &&
		    (type == STATSD_NTYPES || slot->s->type == type) &&
		    (best == NULL || slot->s->serial < best->serial))
			best = slot->s;
	return best;
}

/* The series called key, the oldest if it has several types; or NULL. */
struct series *
metrics_find(struct metrics *m, const char *key)
{
	return metrics_find_type(m, key, STATSD_NTYPES);
}

/* Change how many live members a set keeps (at least 1). */
void
metrics_set_set_max(struct metrics *m, size_t n)
{
	m->set_max = n > 0 ? n : 1;
}

/*
 * Forget every known form: the parser's options changed, so a line may
 * no longer parse as it did when its form was learnt.
 */
void
metrics_forget_forms(struct metrics *m)
{
	size_t	i;

	for (i = 0; i < m->cap; i++)
		if (m->slots[i].s != NULL)
			m->slots[i].s->formlen = 0;
	known_rebuild(m);
}

/* Remove the series in slot i, shifting later entries of its run back. */
static void
metrics_remove_slot(struct metrics *m, size_t i)
{
	size_t	mask = m->cap - 1, j = i, home;

	if (m->slots[i].s->agg != NULL)
		m->slots[i].s->agg->children--;
	series_free(m->slots[i].s);
	m->slots[i].s = NULL;
	m->count--;
	for (;;) {
		j = (j + 1) & mask;
		if (m->slots[j].s == NULL)
			return;
		home = m->slots[j].hash & mask;
		/* Move j back to i unless its home lies in (i, j]. */
		if ((j > i && (home <= i || home > j)) ||
		    (j < i && (home <= i && home > j))) {
			m->slots[i] = m->slots[j];
			m->slots[j].s = NULL;
			i = j;
		}
	}
}

/*
 * Remove every series without a sample for longer than idle_ms.  Returns
 * how many went.
 */
size_t
metrics_expire(struct metrics *m, uint64_t now_ms, uint64_t idle_ms)
{
	size_t	i = 0, removed = 0;

	while (i < m->cap) {
		struct series *s = m->slots[i].s;

		/* An aggregate goes after the tagged series feeding it. */
		if (s != NULL && s->children == 0 && now_ms > s->last_seen_ms &&
		    now_ms - s->last_seen_ms > idle_ms) {
			metrics_remove_slot(m, i);
			removed++;
			/* Slot i may now hold a shifted entry: look again. */
			continue;
		}
		i++;
	}
	if (removed > 0)
		known_rebuild(m);
	m->stats.series_expired += removed;
	return removed;
}

/* Change the cap; series already held above it stay until they expire. */
void
metrics_set_max_series(struct metrics *m, size_t max_series)
{
	m->max_series = max_series;
}

/* Number of series held. */
size_t
metrics_count(const struct metrics *m)
{
	return m->count;
}

/* The registry's own counters. */
const struct metrics_stats *
metrics_stats(const struct metrics *m)
{
	return &m->stats;
}

/*
 * Call fn for every series, in table order.  fn must not add or remove
 * series.
 */
void
metrics_foreach(struct metrics *m, void (*fn)(struct series *, void *),
    void *arg)
{
	size_t	i;

	for (i = 0; i < m->cap; i++)
		if (m->slots[i].s != NULL)
			fn(m->slots[i].s, arg);
}

/* Bytes held by the registry and its series, for /v1/status. */
size_t
metrics_bytes(const struct metrics *m)
{
	size_t	i, n = sizeof(*m) + 2 * m->cap * sizeof(*m->slots);

	for (i = 0; i < m->cap; i++) {
		const struct series *s = m->slots[i].s;

		if (s == NULL)
			continue;
		n += sizeof(*s) + s->keylen + 1;
		if (s->w != NULL)
			n += window_bytes(s->w);
		else if (s->slice_sum != NULL)
			n += m->slices * (sizeof(double) + sizeof(uint32_t));
		if (s->wneg != NULL)
			n += window_bytes(s->wneg);
		if (s->xring != NULL)
			n += 2 * m->slices * sizeof(double);
		if (s->set != NULL)
			n += sizeof(*s->set) + s->set->cap *
			    sizeof(*s->set->e);
	}
	return n;
}

const char *
series_key(const struct series *s)
{
	return s->key;
}

/* Whether tagged series feed this one (it aggregates "name{...}"). */
int
series_is_aggregate(const struct series *s)
{
	return s->children > 0;
}

enum statsd_type
series_type(const struct series *s)
{
	return s->type;
}

/*
 * Quantile q of the samples of a window series with pos samples in w and
 * neg in wneg (negated): the nearest-rank sample of both, as the window
 * would report it had it held them all.
 */
static double
pair_quantile(struct series *s, uint64_t pos, uint64_t neg, double q,
    uint64_t now_ms)
{
	uint64_t	n = pos + neg, r;
	double		k, out = NAN;

	if (n == 0)
		return NAN;
	r = (uint64_t)ceil(q * (double)n);
	if (r < 1)
		r = 1;
	if (r > n)
		r = n;
	/* Rank k of m as a q the window turns back into k: (k - 0.5) / m. */
	if (r <= neg) {
		k = (double)(neg - r + 1);
		(void)window_quantiles(s->wneg, now_ms, &(double){ (k - 0.5) /
		    (double)neg }, 1, &out);
		return -out;
	}
	k = (double)(r - neg);
	(void)window_quantiles(s->w, now_ms, &(double){ (k - 0.5) /
	    (double)pos }, 1, &out);
	return out;
}

/* Fold the negatives and the extra weight of a window series into *w. */
static void
series_merge(struct metrics *m, struct series *s, uint64_t now_ms,
    struct window_stats *w)
{
	struct window_stats	ng;
	double			xc = 0, xs = 0;
	uint64_t		pos = w->count;
	size_t			i;

	if (s->wneg != NULL) {
		window_stats(s->wneg, now_ms, &ng);
		if (ng.count > 0) {
			w->min = -ng.max;
			if (pos == 0)
				w->max = -ng.min;
			w->count += ng.count;
			w->sum -= ng.sum;
			w->underflow += ng.underflow;
			w->overflow += ng.overflow;
			w->p50 = pair_quantile(s, pos, ng.count, 0.5, now_ms);
			w->p90 = pair_quantile(s, pos, ng.count, 0.9, now_ms);
			w->p95 = pair_quantile(s, pos, ng.count, 0.95, now_ms);
			w->p99 = pair_quantile(s, pos, ng.count, 0.99, now_ms);
			w->p999 = pair_quantile(s, pos, ng.count, 0.999,
			    now_ms);
		}
	}
	if (s->xring != NULL) {
		extra_advance(m, s, now_ms);
		for (i = 0; i < m->slices; i++) {
			xc += s->xring[i];
			xs += s->xring[m->slices + i];
		}
		w->count += (uint64_t)llround(xc);
		w->sum += xs;
	}
	w->rate = (double)w->count / m->window_s;
	w->mean = w->count > 0 ? w->sum / (double)w->count : NAN;
}

/*
 * The statistics of a series over the window ending at now_ms.  A counter
 * fills only count (samples in the window), rate and sum (increments in
 * the window) and total; its quantiles, min, max and mean are NaN, as is
 * last for all but gauges.  A set fills only count: its distinct members
 * in the window.
 */
void
series_stats(struct metrics *m, struct series *s, uint64_t now_ms,
    struct series_stats *out)
{
	size_t	i;
	double	sum = 0;

	memset(out, 0, sizeof(*out));
	out->window_s = m->window_s;
	out->last = s->last;
	out->total = NAN;
	if (s->type == STATSD_SET) {
		out->w.count = set_distinct(m, s, now_ms);
		out->w.rate = out->w.sum = NAN;
		out->w.min = out->w.max = out->w.mean = NAN;
		out->w.p50 = out->w.p90 = out->w.p95 = out->w.p99 =
		    out->w.p999 = NAN;
		return;
	}
	if (s->type != STATSD_COUNTER) {
		window_stats(s->w, now_ms, &out->w);
		if (s->wneg != NULL || s->xring != NULL)
			series_merge(m, s, now_ms, &out->w);
		return;
	}
	counter_advance(m, s, now_ms);
	for (i = 0; i < m->slices; i++) {
		sum += s->slice_sum[i];
		out->w.count += slice_counts(m, s)[i];
	}
	out->total = s->total;
	out->w.sum = sum;
	out->w.rate = sum / m->window_s;
	out->w.min = out->w.max = out->w.mean = NAN;
	out->w.p50 = out->w.p90 = out->w.p95 = out->w.p99 = out->w.p999 = NAN;
}

/*
 * Quantile q in [0, 1] of a window series as of now_ms into *out (NaN for
 * an empty window).  Returns -1 for a counter, a set or a bad q.
 */
int
series_quantile(struct metrics *m, struct series *s, uint64_t now_ms,
    double q, double *out)
{
	struct window_stats	pos, neg;

	if (s->w == NULL || !(q >= 0 && q <= 1))
		return -1;
	if (s->wneg == NULL)
		return window_quantiles(s->w, now_ms, &q, 1, out);
	window_stats(s->w, now_ms, &pos);
	window_stats(s->wneg, now_ms, &neg);
	*out = pair_quantile(s, pos.count, neg.count, q, now_ms);
	return 0;
}
