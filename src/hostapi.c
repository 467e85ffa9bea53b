/*
 * hostapi.c -- the functions meshtuned hands to strategy plugins: read a
 * series statistic, read a knob, propose an action.
 *
 * Every read goes through the tick's snapshot: the time is fixed when the
 * tick starts and each series' statistics are computed once and kept for
 * the rest of the tick, so all strategies, and should_apply and apply,
 * see the same numbers.  Nothing else runs on the loop meanwhile.
 */
#include <sys/types.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "meshtuned.h"
#include "meshtune/strategy.h"

/* One series' statistics as of the tick. */
struct tick_memo {
	struct series		*s;
	struct series_stats	 st;
};

/* The immutable view of one tick. */
struct tick {
	struct daemon		*d;
	uint64_t		 now_ms;
	struct tick_memo	*memo;
	size_t			 nmemo, cap;
	unsigned int		 proposals;
};

/* Start a tick's snapshot at now_ms. */
struct tick *
tick_new(struct daemon *d, uint64_t now_ms)
{
	struct tick	*t = xcalloc(1, sizeof(*t));

	t->d = d;
	t->now_ms = now_ms;
	return t;
}

/* End a tick; returns the number of proposals made during it. */
unsigned int
tick_free(struct tick *t)
{
	unsigned int	n = t->proposals;

	free(t->memo);
	free(t);
	return n;
}

/*
 * The statistics of series key as of the tick, or NULL if there is no
 * such series.  Computed on first use, then served from the memo.
 */
const struct series_stats *
tick_stats(struct tick *t, const char *key, struct series **sp)
{
	struct series	*s;
	size_t		 i;

	if ((s = metrics_find(t->d->metrics, key)) == NULL)
		return NULL;
	if (sp != NULL)
		*sp = s;
	for (i = 0; i < t->nmemo; i++)
		if (t->memo[i].s == s)
			return &t->memo[i].st;
	if (t->nmemo == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		t->memo = xreallocarray(t->memo, t->cap, sizeof(*t->memo));
	}
	t->memo[t->nmemo].s = s;
	series_stats(t->d->metrics, s, t->now_ms, &t->memo[t->nmemo].st);
	return &t->memo[t->nmemo++].st;
}

/*
 * Read statistic name of a snapshot: MT_OK with *out, MT_ENOENT when the
 * statistic does not exist (for this type), MT_ENODATA when the window
 * has no samples for it.
 */
int
tick_stat_value(const struct series_stats *st, enum statsd_type type,
    const char *name, double *out)
{
	static const struct {
		const char	*name;
		size_t		 off;
		int		 window_only;	/* not for counters */
	} stats[] = {
		{ "count", 0, 1 },
		{ "rate", offsetof(struct window_stats, rate), 0 },
		{ "sum", offsetof(struct window_stats, sum), 0 },
		{ "min", offsetof(struct window_stats, min), 1 },
		{ "max", offsetof(struct window_stats, max), 1 },
		{ "mean", offsetof(struct window_stats, mean), 1 },
		{ "p50", offsetof(struct window_stats, p50), 1 },
		{ "p90", offsetof(struct window_stats, p90), 1 },
		{ "p95", offsetof(struct window_stats, p95), 1 },
		{ "p99", offsetof(struct window_stats, p99), 1 },
		{ "p999", offsetof(struct window_stats, p999), 1 },
	};
	size_t	i;
	double	v;

	if (strcmp(name, "last") == 0) {
		if (type != STATSD_GAUGE)
			return MT_ENOENT;
		*out = st->last;
		return isnan(st->last) ? MT_ENODATA : MT_OK;
	}
	if (strcmp(name, "total") == 0) {
		if (type != STATSD_COUNTER)
			return MT_ENOENT;
		*out = st->total;
		return MT_OK;
	}
	for (i = 0; i < nitems(stats); i++)
		if (strcmp(stats[i].name, name) == 0)
			break;
	if (i == nitems(stats))
		return MT_ENOENT;
	if (stats[i].window_only && type == STATSD_COUNTER)
		return MT_ENOENT;
	if (i == 0) {
		*out = (double)st->w.count;
		return MT_OK;
	}
	v = *(const double *)((const char *)&st->w + stats[i].off);
	if (isnan(v))
		return MT_ENODATA;
	*out = v;
	return MT_OK;
}

static struct tick *
host_tick(struct mt_ctx *ctx)
{
	return plugin_ctx_tick(ctx);
}

static uint64_t
host_now_ms(struct mt_ctx *ctx)
{
	struct tick	*t = host_tick(ctx);

	return t != NULL ? t->now_ms : clock_mono_ms();
}

static int
host_stat(struct mt_ctx *ctx, const char *key, const char *name, double *out)
{
	const struct series_stats	*st;
	struct series			*s;
	struct tick			*t = host_tick(ctx);

	if (key == NULL || name == NULL || out == NULL || t == NULL)
		return MT_EINVAL;
	if ((st = tick_stats(t, key, &s)) == NULL)
		return MT_ENOENT;
	return tick_stat_value(st, series_type(s), name, out);
}

static int
host_quantile(struct mt_ctx *ctx, const char *key, double q, double *out)
{
	struct series	*s;
	struct tick	*t = host_tick(ctx);

	if (key == NULL || out == NULL || t == NULL || !(q >= 0 && q <= 1))
		return MT_EINVAL;
	if ((s = metrics_find(t->d->metrics, key)) == NULL ||
	    series_type(s) == STATSD_COUNTER)
		return MT_ENOENT;
	if (series_quantile(t->d->metrics, s, t->now_ms, q, out) == -1 ||
	    isnan(*out))
		return MT_ENODATA;
	return MT_OK;
}

static int
host_knob(struct mt_ctx *ctx, const char *knob, double *value, double *min,
    double *max)
{
	struct daemon	*d = plugin_ctx_udata(ctx);

	if (knob == NULL)
		return MT_EINVAL;
	if (governor_knob(d->governor, knob, value, min, max) == -1)
		return MT_ENOENT;
	return MT_OK;
}

/*
 * Hand a proposal to the governor with what it needs to judge and later
 * verify it: who proposed, that instance's mode and priority, and the
 * expected statistic's value and sample count as of this tick.
 */
static int
host_propose(struct mt_ctx *ctx, const struct mt_action *act)
{
	struct daemon			*d = plugin_ctx_udata(ctx);
	struct tick			*t = host_tick(ctx);
	const char			*name = plugin_ctx_name(ctx);
	const struct series_stats	*st;
	struct series			*s;
	struct gov_proposal		 p;

	if (t == NULL)
		return MT_EPERM;
	memset(&p, 0, sizeof(p));
	p.strategy = name;
	p.action = act;
	p.baseline = NAN;
	CONF_FOREACH(struct mt_strategy_conf, sc, d->conf->strategies) {
		if (strcmp(sc->name, name) == 0) {
			p.priority = (int)sc->priority;
			p.advise = strcmp(sc->mode, "advise") == 0;
		}
	}
	if (act->expect_metric != NULL && act->expect_stat != NULL &&
	    (st = tick_stats(t, act->expect_metric, &s)) != NULL) {
		p.baseline_count = st->w.count;
		if (tick_stat_value(st, series_type(s), act->expect_stat,
		    &p.baseline) != MT_OK)
			p.baseline = NAN;
	}
	t->proposals++;
	governor_propose(d->governor, &p, t->now_ms);
	return MT_OK;
}

/*
 * The daemon's host table.  log and the config readers are filled in by
 * plugin.c, which owns the instances.
 */
const struct mt_host_api *
hostapi_table(void)
{
	static const struct mt_host_api api = {
		.abi_major = MT_ABI_MAJOR,
		.abi_minor = MT_ABI_MINOR,
		.size = sizeof(struct mt_host_api),
		.now_ms = host_now_ms,
		.stat = host_stat,
		.quantile = host_quantile,
		.knob = host_knob,
		.propose = host_propose,
	};

	return &api;
}
