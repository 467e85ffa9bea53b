/*
 * template.c -- the smallest useful meshtune strategy, and the tutorial.
 *
 * Copy this file to start a strategy of your own.  It watches one
 * statistic of one series (by default the p95 of net.rtt_ms) and, when
 * it stays above a threshold with enough samples behind it, proposes to
 * multiply one knob (by default net.batch_size) by a factor, within the
 * knob's bounds.  The governor decides whether the change happens; this
 * code only proposes, with a reason sentence and the evidence.
 *
 * Configuration (the "config" object of its strategies[] entry in
 * meshtuned.conf; every key is optional):
 *	series		"net.rtt_ms"	series key to watch
 *	stat		"p95"		statistic of it (count, mean, p99, ...)
 *	threshold	100		act when stat > threshold
 *	min_count	50		... and the window has this many samples
 *	knob		"net.batch_size" knob to move
 *	factor		2		new value = round(value * factor)
 *
 * Build it like any strategy (meshtune-strategy(3)):
 *	cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags meshtune) \
 *	    -o template.so template.c
 * The only symbol it exports is meshtune_strategy_v1.  It includes only
 * <meshtune/strategy.h> and libc headers, and reads its configuration
 * through the host (config_number, config_string), so it needs no JSON
 * parser and links against nothing of the daemon's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meshtune/strategy.h>

/*
 * 1. Per-instance state.  The same .so may run as several instances with
 * different configs, so everything lives here, never in globals.  The
 * host table is kept too: should_apply and apply receive only the state
 * and the ctx.
 */
struct template {
	const struct mt_host_api *host;
	char			 series[201];
	char			 stat[16];
	char			 knob[201];
	double			 threshold;
	double			 min_count;
	double			 factor;
	/* What should_apply read, for apply to explain itself. */
	double			 seen;
	double			 count;
};

/* Read a string key, keeping def when it is absent. */
static int
conf_string(struct template *t, struct mt_ctx *ctx, const char *key,
    char *buf, size_t len, const char *def, char *err, size_t errlen)
{
	int	r;

	r = t->host->config_string(ctx, key, buf, len);
	if (r == MT_ENOENT) {
		snprintf(buf, len, "%s", def);
		return 0;
	}
	if (r != MT_OK) {
		snprintf(err, errlen, "config \"%s\" must be a string of at "
		    "most %zu bytes", key, len - 1);
		return -1;
	}
	return 0;
}

/* Read a number key, keeping def when it is absent. */
static int
conf_number(struct template *t, struct mt_ctx *ctx, const char *key,
    double *out, double def, char *err, size_t errlen)
{
	int	r;

	r = t->host->config_number(ctx, key, out);
	if (r == MT_ENOENT) {
		*out = def;
		return 0;
	}
	if (r != MT_OK) {
		snprintf(err, errlen, "config \"%s\" must be a number", key);
		return -1;
	}
	return 0;
}

/*
 * 2. init: runs once per instance when it loads.  Check the host has what
 * we need, read and check the config, allocate the state.  On any error
 * fill err with a sentence (it goes to the log and the audit log's events
 * table) and return MT_ERR: the instance is refused, the daemon goes on.
 */
static int
template_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct template	*t;

	(void)config_json;	/* read through the host instead */
	if (!MT_HOST_HAS(host, config_number) ||
	    !MT_HOST_HAS(host, config_string) || !MT_HOST_HAS(host, stat) ||
	    !MT_HOST_HAS(host, knob) || !MT_HOST_HAS(host, propose)) {
		snprintf(err, errlen, "host lacks functions this strategy "
		    "needs");
		return MT_ERR;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return MT_ERR;
	}
	t->host = host;
	if (conf_string(t, ctx, "series", t->series, sizeof(t->series),
	    "net.rtt_ms", err, errlen) == -1 ||
	    conf_string(t, ctx, "stat", t->stat, sizeof(t->stat), "p95",
	    err, errlen) == -1 ||
	    conf_string(t, ctx, "knob", t->knob, sizeof(t->knob),
	    "net.batch_size", err, errlen) == -1 ||
	    conf_number(t, ctx, "threshold", &t->threshold, 100, err,
	    errlen) == -1 ||
	    conf_number(t, ctx, "min_count", &t->min_count, 50, err,
	    errlen) == -1 ||
	    conf_number(t, ctx, "factor", &t->factor, 2, err, errlen) == -1)
		goto fail;
	if (t->min_count < 1) {
		snprintf(err, errlen, "config \"min_count\" must be at least 1");
		goto fail;
	}
	if (t->factor <= 0 || t->factor == 1) {
		snprintf(err, errlen, "config \"factor\" must be positive and "
		    "not 1");
		goto fail;
	}
	*statep = t;
	return MT_OK;
fail:
	free(t);
	return MT_ERR;
}

/*
 * 3. should_apply: every tick, on an immutable snapshot of all series.
 * Cheap, and quiet unless there is enough evidence: a quantile of a
 * handful of samples is noise, so a minimum count comes first.  An
 * unknown series or an empty window is not an error, just no reason to
 * act.  Return 1 to have apply called, 0 to stay quiet.
 */
static int
template_should_apply(void *state, struct mt_ctx *ctx)
{
	struct template	*t = state;

	if (t->host->stat(ctx, t->series, "count", &t->count) != MT_OK ||
	    t->count < t->min_count)
		return 0;
	if (t->host->stat(ctx, t->series, t->stat, &t->seen) != MT_OK)
		return 0;
	return t->seen > t->threshold;
}

/* Round half away from zero, without libm. */
static double
round_half(double v)
{
	return v >= 0 ? (double)(long long)(v + 0.5) :
	    (double)(long long)(v - 0.5);
}

/*
 * 4. apply: runs right after should_apply said yes, on the same snapshot.
 * Read the knob and its bounds, compute the step, clamp it, and propose
 * it with a reason a person can read in the audit log, the evidence as
 * JSON, and the effect to verify (the watched statistic should fall).
 * Nothing to propose (already at the bound) is MT_NOOP, not an error.
 */
static int
template_apply(void *state, struct mt_ctx *ctx)
{
	struct template		*t = state;
	struct mt_action	 a = MT_ACTION_INIT;
	double			 value, min, max, next;
	char			 reason[512], evidence[1024];

	if (t->host->knob(ctx, t->knob, &value, &min, &max) != MT_OK) {
		t->host->log(ctx, MT_LOG_WARN, "unknown knob %s", t->knob);
		return MT_NOOP;
	}
	next = round_half(value * t->factor);
	if (next == value)	/* a small factor on a small value */
		next = t->factor > 1 ? value + 1 : value - 1;
	if (next > max)
		next = max;
	if (next < min)
		next = min;
	if (next == value)
		return MT_NOOP;

	snprintf(reason, sizeof(reason), "%s %s %.1f > %.1f over %.0f "
	    "samples: %s %g -> %g", t->series, t->stat, t->seen,
	    t->threshold, t->count, t->knob, value, next);
	snprintf(evidence, sizeof(evidence), "{\"%s\":{\"%s\":%.17g,"
	    "\"count\":%.0f},\"threshold\":%.17g,\"knob\":{\"name\":\"%s\","
	    "\"value\":%.17g,\"min\":%.17g,\"max\":%.17g}}", t->series,
	    t->stat, t->seen, t->count, t->threshold, t->knob, value, min,
	    max);
	a.kind = MT_ACT_SET;
	a.knob = t->knob;
	a.value = next;
	a.reason = reason;
	a.evidence = evidence;
	a.expect_metric = t->series;
	a.expect_stat = t->stat;
	a.expect_dir = -1;
	if (t->host->propose(ctx, &a) != MT_OK)
		return MT_ERR;
	return MT_OK;
}

/* 5. destroy: free what init allocated. */
static void
template_destroy(void *state)
{
	free(state);
}

/*
 * 6. The descriptor, static and const, and the entry point that returns
 * it.  A strategy could check host->abi_minor here and return NULL to
 * refuse a host too old for it.
 */
static const struct mt_strategy template_strategy = {
	MT_STRATEGY_HEADER,
	.name = "template",
	.version = "1.0",
	.summary = "multiply a knob when a series statistic exceeds a "
	    "threshold",
	.init = template_init,
	.should_apply = template_should_apply,
	.apply = template_apply,
	.destroy = template_destroy,
};

MT_STRATEGY_EXPORT(template)
{
	(void)host;
	return &template_strategy;
}
