/*
 * bundled.h -- what the five bundled strategies (network.c, consensus.c,
 * memory.c, cpu.c, mesh.c) have in common: reading their configuration
 * with defaults and ranges, reading window statistics only when enough
 * samples stand behind them, hysteresis (a condition on N consecutive
 * ticks, or held for a time), multiplicative steps within a knob's
 * bounds, per-knob cooldowns, and the reason sentence and JSON evidence
 * of a proposal.
 *
 * Everything here is static inline: each strategy is a shared object of
 * its own that exports only its entry point and links nothing, and the
 * tests link all five into one program with -DMT_STATIC.  Like any
 * strategy, this uses only <meshtune/strategy.h> and libc.  Nothing here
 * keeps state of its own: every piece of state lives in the strategy's
 * per-instance structure.
 */
#ifndef MESHTUNE_BUNDLED_H
#define MESHTUNE_BUNDLED_H

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <meshtune/strategy.h>

#if defined(__GNUC__) || defined(__clang__)
#define BS_PRINTF(f, a)	__attribute__((__format__(__printf__, f, a)))
#else
#define BS_PRINTF(f, a)
#endif

#define BS_MAXREADS	24	/* statistics read per evaluation */
#define BS_REASON_LEN	600	/* the host allows 1024 */
#define BS_EVIDENCE_LEN	3072	/* the host allows 8192 */

/*
 * Configuration.  Keys are read one after another; the first bad one
 * leaves its sentence in err and makes the rest no-ops, so init checks
 * once at the end.
 */
struct bs_conf {
	const struct mt_host_api	*host;
	struct mt_ctx			*ctx;
	char				*err;
	size_t				 errlen;
	int				 failed;
};

/* Number key: def when absent, an error unless it is in [lo, hi]. */
static inline void
bs_conf_number(struct bs_conf *c, const char *key, double *out, double def,
    double lo, double hi)
{
	double	v;
	int	r;

	if (c->failed)
		return;
	r = c->host->config_number(c->ctx, key, &v);
	if (r == MT_ENOENT) {
		*out = def;
		return;
	}
	if (r != MT_OK) {
		snprintf(c->err, c->errlen, "config \"%s\" must be a number",
		    key);
		c->failed = 1;
		return;
	}
	if (!(v >= lo && v <= hi)) {
		snprintf(c->err, c->errlen, "config \"%s\" must be between "
		    "%g and %g, not %g", key, lo, hi, v);
		c->failed = 1;
		return;
	}
	*out = v;
}

/* String key: def when absent; an error if too long for buf. */
static inline void
bs_conf_string(struct bs_conf *c, const char *key, char *buf, size_t len,
    const char *def)
{
	int	r;

	if (c->failed)
		return;
	r = c->host->config_string(c->ctx, key, buf, len);
	if (r == MT_ENOENT) {
		snprintf(buf, len, "%s", def);
		return;
	}
	if (r != MT_OK || buf[0] == '\0') {
		snprintf(c->err, c->errlen, "config \"%s\" must be a non-empty "
		    "string of at most %zu bytes", key, len - 1);
		c->failed = 1;
	}
}

/* The processors online, the default for "ncpu"; at least 1. */
static inline double
bs_ncpu(void)
{
	long	n = sysconf(_SC_NPROCESSORS_ONLN);

	return n >= 1 ? (double)n : 1;
}

/*
 * Settings every bundled strategy has, with STRATEGIES.md's values as
 * defaults: the window length (the SDK cannot tell a strategy the
 * daemon's window.seconds, so it is configured here too), the ticks a
 * condition must hold, the least time between two proposals for one
 * knob, and the samples a statistic needs before it is trusted.
 */
struct bs_common {
	double	window_s;
	double	confirm_ticks;
	double	cooldown_s;
	double	min_p50;	/* also mean, min, max */
	double	min_p90;
	double	min_p95;
	double	min_p99;
	double	min_p999;
};

static inline void
bs_common_read(struct bs_conf *c, struct bs_common *cm)
{
	bs_conf_number(c, "window_s", &cm->window_s, 60, 1, 86400);
	bs_conf_number(c, "confirm_ticks", &cm->confirm_ticks, 2, 1, 1000);
	bs_conf_number(c, "cooldown_s", &cm->cooldown_s, 60, 0, 86400);
	bs_conf_number(c, "min_count_p50", &cm->min_p50, 20, 1, 1e9);
	bs_conf_number(c, "min_count_p90", &cm->min_p90, 30, 1, 1e9);
	bs_conf_number(c, "min_count_p95", &cm->min_p95, 50, 1, 1e9);
	bs_conf_number(c, "min_count_p99", &cm->min_p99, 200, 1, 1e9);
	bs_conf_number(c, "min_count_p999", &cm->min_p999, 2000, 1, 1e9);
}

/* The host functions every bundled strategy needs. */
static inline int
bs_host_ok(const struct mt_host_api *host)
{
	return MT_HOST_HAS(host, log) && MT_HOST_HAS(host, now_ms) &&
	    MT_HOST_HAS(host, stat) && MT_HOST_HAS(host, knob) &&
	    MT_HOST_HAS(host, propose) && MT_HOST_HAS(host, config_number) &&
	    MT_HOST_HAS(host, config_string);
}

/*
 * The start of every bundled init: check that the host has what the
 * strategies use, and allocate a zeroed state of size bytes.  NULL, with
 * a sentence in err, if either fails.
 */
static inline void *
bs_state_new(const struct mt_host_api *host, size_t size, char *err,
    size_t errlen)
{
	void	*p;

	if (!bs_host_ok(host)) {
		snprintf(err, errlen, "host lacks functions this strategy "
		    "needs");
		return NULL;
	}
	if ((p = calloc(1, size)) == NULL)
		snprintf(err, errlen, "out of memory");
	return p;
}

/* Every bundled state is one allocation. */
static inline void
bs_destroy(void *state)
{
	free(state);
}

/*
 * One evaluation: the statistics read so far (each read once, kept for
 * the reason and the evidence), the time, and the settings.
 */
struct bs_read {
	const char	*series;
	const char	*stat;
	double		 value;
	double		 count;		/* samples behind it; -1 none read */
	int		 ok;		/* trusted */
};

struct bs_eval {
	const struct mt_host_api	*host;
	struct mt_ctx			*ctx;
	const struct bs_common		*cm;
	uint64_t			 now;
	struct bs_read			 reads[BS_MAXREADS];
	size_t				 nreads;
};

static inline void
bs_eval_start(struct bs_eval *e, const struct mt_host_api *host,
    struct mt_ctx *ctx, const struct bs_common *cm)
{
	e->host = host;
	e->ctx = ctx;
	e->cm = cm;
	e->now = host->now_ms(ctx);
	e->nreads = 0;
}

/*
 * The samples a statistic needs before it is trusted; 0 for those that
 * do not describe a distribution (last, rate, sum, total).
 */
static inline double
bs_min_count(const struct bs_common *cm, const char *stat)
{
	if (strcmp(stat, "p50") == 0 || strcmp(stat, "mean") == 0 ||
	    strcmp(stat, "min") == 0 || strcmp(stat, "max") == 0)
		return cm->min_p50;
	if (strcmp(stat, "p90") == 0)
		return cm->min_p90;
	if (strcmp(stat, "p95") == 0)
		return cm->min_p95;
	if (strcmp(stat, "p99") == 0)
		return cm->min_p99;
	if (strcmp(stat, "p999") == 0)
		return cm->min_p999;
	return 0;
}

/*
 * Read statistic stat of series (stat and series must be string
 * constants: they are kept).  Returns 1 with *out set when the value
 * exists and, for a distribution statistic, the window holds at least
 * its minimum count of samples; 0 otherwise (no series, no data, too
 * few samples), which every rule treats as "condition false".
 */
static inline int
bs_get(struct bs_eval *e, const char *series, const char *stat, double *out)
{
	struct bs_read	*r;
	double		 need, count = -1, v = 0;
	size_t		 i;
	int		 ok;

	for (i = 0; i < e->nreads; i++) {
		r = &e->reads[i];
		if (strcmp(r->series, series) == 0 &&
		    strcmp(r->stat, stat) == 0) {
			*out = r->value;
			return r->ok;
		}
	}
	need = bs_min_count(e->cm, stat);
	ok = 1;
	if (need > 0 && (e->host->stat(e->ctx, series, "count", &count) !=
	    MT_OK || count < need))
		ok = 0;
	if (ok && (e->host->stat(e->ctx, series, stat, &v) != MT_OK ||
	    v != v))
		ok = 0;
	if (e->nreads < BS_MAXREADS) {
		r = &e->reads[e->nreads++];
		r->series = series;
		r->stat = stat;
		r->value = v;
		r->count = count;
		r->ok = ok;
	}
	*out = v;
	return ok;
}

/*
 * Hysteresis over ticks: the condition on need consecutive evaluations.
 * An evaluation at the same time as the last one is the same tick and is
 * not counted twice; a gap longer than gap_ms breaks the run.
 */
struct bs_confirm {
	unsigned int	n;
	uint64_t	last_ms;
};

static inline int
bs_confirm(struct bs_confirm *c, int cond, uint64_t now, double need,
    uint64_t gap_ms)
{
	if (c->n > 0 && now - c->last_ms > gap_ms)
		c->n = 0;
	if (!cond) {
		c->n = 0;
		c->last_ms = now;
		return 0;
	}
	if ((c->n == 0 || now != c->last_ms) && c->n < UINT_MAX)
		c->n++;
	c->last_ms = now;
	return c->n >= need;
}

/*
 * "For N windows": the condition on every evaluation since since_ms and
 * at least need_ms ago.  A gap longer than gap_ms between evaluations
 * restarts it.  *heldp (may be NULL) gets how long it has held.
 */
struct bs_hold {
	int		on;
	uint64_t	since_ms;
	uint64_t	last_ms;
};

static inline int
bs_hold(struct bs_hold *h, int cond, uint64_t now, uint64_t need_ms,
    uint64_t gap_ms, uint64_t *heldp)
{
	if (h->on && now - h->last_ms > gap_ms)
		h->on = 0;
	h->last_ms = now;
	if (!cond) {
		h->on = 0;
		if (heldp != NULL)
			*heldp = 0;
		return 0;
	}
	if (!h->on) {
		h->on = 1;
		h->since_ms = now;
	}
	if (heldp != NULL)
		*heldp = now - h->since_ms;
	return now - h->since_ms >= need_ms;
}

/* Per-knob cooldown inside the strategy: proposed too recently? */
struct bs_cool {
	int		on;
	uint64_t	last_ms;
};

static inline int
bs_cool_ok(const struct bs_cool *k, uint64_t now, double cooldown_s)
{
	return !k->on || now - k->last_ms >= (uint64_t)(cooldown_s * 1000);
}

static inline void
bs_cool_mark(struct bs_cool *k, uint64_t now)
{
	k->on = 1;
	k->last_ms = now;
}

/* A knob as read this evaluation. */
struct bs_knob {
	const char	*name;
	double		 value, min, max;
	int		 ok;		/* known, with a finite value */
};

static inline int
bs_knob_read(struct bs_eval *e, const char *name, struct bs_knob *k)
{
	k->name = name;
	k->value = k->min = k->max = 0;
	k->ok = e->host->knob(e->ctx, name, &k->value, &k->min, &k->max) ==
	    MT_OK && k->value == k->value && k->min == k->min &&
	    k->max == k->max && k->min <= k->max;
	return k->ok;
}

/* Round half away from zero, without libm. */
static inline double
bs_round(double v)
{
	if (v > 9e15 || v < -9e15)
		return v;
	return v >= 0 ? (double)(long long)(v + 0.5) :
	    (double)(long long)(v - 0.5);
}

/*
 * The next value of knob k one step in direction dir (+1 up, -1 down):
 * value * factor when factor is not 0, else value + add; rounded to an
 * integer, at least one unit away, and clamped to the knob's bounds and
 * to cap (an extra upper limit such as the CPU count; pass the bound to
 * have none).  Returns 1 with *next set, or 0 when the knob cannot move
 * that way (unknown, at or beyond the bound).
 */
static inline int
bs_step(const struct bs_knob *k, int dir, double factor, double add,
    double cap, double *next)
{
	double	v, hi;

	if (!k->ok)
		return 0;
	hi = cap < k->max ? cap : k->max;
	v = bs_round(factor != 0 ? k->value * factor : k->value + add);
	if (dir > 0 && v <= k->value)
		v = k->value + 1;
	if (dir < 0 && v >= k->value)
		v = k->value - 1;
	if (v > hi)
		v = hi;
	if (v < k->min)
		v = k->min;
	if ((dir > 0 && v <= k->value) || (dir < 0 && v >= k->value))
		return 0;
	*next = v;
	return 1;
}

/* A text buffer that remembers running out of room. */
struct bs_buf {
	char	*p;
	size_t	 len;
	size_t	 used;
	int	 full;
};

static inline void
bs_buf_init(struct bs_buf *b, char *p, size_t len)
{
	b->p = p;
	b->len = len;
	b->used = 0;
	b->full = 0;
	p[0] = '\0';
}

static inline void bs_add(struct bs_buf *, const char *, ...) BS_PRINTF(2, 3);

static inline void
bs_add(struct bs_buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (b->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->used, b->len - b->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= b->len - b->used) {
		b->full = 1;
		b->p[b->used] = '\0';	/* drop the partial piece */
		return;
	}
	b->used += (size_t)n;
}

/*
 * A number for a person: integers without decimals, otherwise two
 * significant digits below 10 and one decimal up to 100.  Writes into
 * one of the BS_FMT_SLOTS slots of f, so up to that many numbers fit one
 * sentence (one snprintf).
 */
#define BS_FMT_SLOTS	16

struct bs_fmt {
	char		slot[BS_FMT_SLOTS][32];
	unsigned int	next;
};

static inline const char *
bs_f(struct bs_fmt *f, double v)
{
	char	*s = f->slot[f->next++ % BS_FMT_SLOTS];
	double	 a = v < 0 ? -v : v;

	if (v != v)
		snprintf(s, sizeof(f->slot[0]), "nan");
	else if (a >= 1e15)
		snprintf(s, sizeof(f->slot[0]), "%g", v);
	else if (bs_round(v) == v || a >= 100)
		snprintf(s, sizeof(f->slot[0]), "%.0f", v);
	else if (a >= 10)
		snprintf(s, sizeof(f->slot[0]), "%.1f", v);
	else
		snprintf(s, sizeof(f->slot[0]), "%.2g", v);
	return s;
}

/* A JSON number (null when not finite, which JSON cannot hold). */
static inline void
bs_json_num(struct bs_buf *b, double v)
{
	if (v != v || v > 1e300 || v < -1e300)
		bs_add(b, "null");
	else
		bs_add(b, "%.10g", v);
}

/*
 * Evidence.  Open it, add the series the rule read (each with every
 * statistic read of it this evaluation, its sample count and the
 * window), the thresholds and the knob, and close it.  Names are
 * program constants of [A-Za-z0-9_.-], so they need no escaping.
 */
struct bs_ev {
	struct bs_buf	b;
	int		nitems;
	int		nthr;
};

static inline void
bs_ev_open(struct bs_ev *ev, char *buf, size_t len)
{
	bs_buf_init(&ev->b, buf, len);
	ev->nitems = 0;
	ev->nthr = -1;
	bs_add(&ev->b, "{");
}

static inline void
bs_ev_key(struct bs_ev *ev, const char *key)
{
	if (ev->nthr >= 0) {		/* close "thresholds" */
		bs_add(&ev->b, "}");
		ev->nthr = -1;
	}
	bs_add(&ev->b, "%s\"%s\":", ev->nitems++ ? "," : "", key);
}

static inline void
bs_ev_series(struct bs_ev *ev, const struct bs_eval *e, const char *series)
{
	const struct bs_read	*r;
	double			 count = -1;
	size_t			 i;
	int			 n = 0;

	bs_ev_key(ev, series);
	bs_add(&ev->b, "{");
	for (i = 0; i < e->nreads; i++) {
		r = &e->reads[i];
		if (strcmp(r->series, series) != 0)
			continue;
		if (r->count >= 0)
			count = r->count;
		if (!r->ok)
			continue;	/* missing or too few samples */
		if (strcmp(r->stat, "count") == 0) {
			count = r->value;	/* written once, below */
			continue;
		}
		bs_add(&ev->b, "%s\"%s\":", n++ ? "," : "", r->stat);
		bs_json_num(&ev->b, r->value);
	}
	if (count >= 0) {
		bs_add(&ev->b, "%s\"count\":%.0f,\"window_s\":", n++ ? "," :
		    "", count);
		bs_json_num(&ev->b, e->cm->window_s);
	}
	bs_add(&ev->b, "}");
}

/* A threshold, named after its config key, inside "thresholds". */
static inline void
bs_ev_threshold(struct bs_ev *ev, const char *name, double v)
{
	if (ev->nthr < 0) {
		bs_ev_key(ev, "thresholds");
		bs_add(&ev->b, "{");
		ev->nthr = 0;
	}
	bs_add(&ev->b, "%s\"%s\":", ev->nthr++ ? "," : "", name);
	bs_json_num(&ev->b, v);
}

/* A plain number member. */
static inline void
bs_ev_number(struct bs_ev *ev, const char *key, double v)
{
	bs_ev_key(ev, key);
	bs_json_num(&ev->b, v);
}

/* A plain string member (a program constant). */
static inline void
bs_ev_string(struct bs_ev *ev, const char *key, const char *s)
{
	bs_ev_key(ev, key);
	bs_add(&ev->b, "\"%s\"", s);
}

static inline void
bs_ev_knob(struct bs_ev *ev, const struct bs_knob *k, double next)
{
	bs_ev_key(ev, "knob");
	bs_add(&ev->b, "{\"name\":\"%s\",\"old\":", k->name);
	bs_json_num(&ev->b, k->value);
	bs_add(&ev->b, ",\"new\":");
	bs_json_num(&ev->b, next);
	bs_add(&ev->b, ",\"min\":");
	bs_json_num(&ev->b, k->min);
	bs_add(&ev->b, ",\"max\":");
	bs_json_num(&ev->b, k->max);
	bs_add(&ev->b, "}");
}

/* Close the object; 0, or -1 if it did not fit (then do not send it). */
static inline int
bs_ev_close(struct bs_ev *ev)
{
	if (ev->nthr >= 0)
		bs_add(&ev->b, "}");
	bs_add(&ev->b, "}");
	return ev->b.full ? -1 : 0;
}

/*
 * A decision made by should_apply and proposed by apply: one knob per
 * strategy per tick.  cool is the strategy's cooldown slot of that knob,
 * marked when the proposal is accepted by the host.
 *
 * struct mt_action carries one expected statistic and a direction, so
 * STRATEGIES.md's guard metrics ("consensus.round_ms p95 not worse by
 * > 5 %"), its alternatives ("round_ms p95 -10 % or ops rate +10 %") and
 * "or its growth stopped" cannot be handed to the governor; each
 * strategy names the main target only.
 */
struct bs_decision {
	int		 kind;		/* MT_ACT_SET, MT_ACT_TRIGGER */
	const char	*knob;
	double		 value;
	const char	*expect_metric;
	const char	*expect_stat;
	int		 expect_dir;
	struct bs_cool	*cool;
	int		 has_evidence;
	char		 reason[BS_REASON_LEN];
	char		 evidence[BS_EVIDENCE_LEN];
};

/*
 * Hand the decision to the host: MT_OK or MT_ERR, MT_NOOP if there is
 * none (should_apply decided nothing) or the host's limits refused it.
 */
static inline int
bs_propose(const struct mt_host_api *host, struct mt_ctx *ctx,
    struct bs_decision *d)
{
	struct mt_action	a = MT_ACTION_INIT;
	int			r;

	if (d->knob == NULL)
		return MT_NOOP;
	a.kind = d->kind;
	a.knob = d->knob;
	a.value = d->value;
	a.reason = d->reason;
	a.evidence = d->has_evidence ? d->evidence : NULL;
	a.expect_metric = d->expect_metric;
	a.expect_stat = d->expect_stat;
	a.expect_dir = d->expect_dir;
	if ((r = host->propose(ctx, &a)) != MT_OK) {
		host->log(ctx, MT_LOG_WARN, "proposal for %s refused by the "
		    "host (%d): %s", d->knob, r, d->reason);
		return r == MT_ELIMIT ? MT_NOOP : MT_ERR;
	}
	if (d->cool != NULL)
		bs_cool_mark(d->cool, host->now_ms(ctx));
	return MT_OK;
}

#endif /* MESHTUNE_BUNDLED_H */
