/*
 * governor_verdict.c -- the rule that judges an applied change, and the
 * verdict the audit log keeps of it.  Pure: the governor reads the
 * numbers (before the change and verify_s after it) and hands them in.
 *
 * The rule, in order:
 *  1. a guard whose statistic moved the bad way by more than its
 *     tolerance (percent of the baseline's magnitude; from a baseline of
 *     0, any move the bad way) rolls the change back, whatever the
 *     strategy's own metric did;
 *  2. else an expectation that can be measured decides: kept if its
 *     statistic moved the expected way by at least VERDICT_IMPROVE_PCT
 *     percent of the baseline's magnitude (from 0, any move that way),
 *     rolled back if not;
 *  3. else the guards that could be measured decide: kept if there is
 *     at least one;
 *  4. else nothing could judge the change: rolled back, or kept as
 *     "unverified" when the knob sets keep_unjudged.
 * A check can be measured when its statistic was read before and after
 * the change from at least VERDICT_MIN_SAMPLES samples each; an
 * expectation also needs a metric and a direction.
 */
#include <sys/types.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "meshtuned.h"

static const char *const verdict_results[] = {
	[VERDICT_UNMEASURABLE] = "unmeasurable",
	[VERDICT_IMPROVED] = "improved",
	[VERDICT_NOT_IMPROVED] = "not_improved",
	[VERDICT_OK] = "ok",
	[VERDICT_WORSE] = "worse",
};

/* The name of a result ("worse"), as the verdict JSON stores it. */
const char *
verdict_result_name(enum verdict_result r)
{
	if ((unsigned)r >= nitems(verdict_results))
		return "?";
	return verdict_results[r];
}

/*
 * Whether check c can be measured; if not, why (a phrase) in *why.
 * expectation: the check is the strategy's expectation.
 */
static int
verdict_measurable(const struct verdict_check *c, int expectation,
    const char **why)
{
	*why = NULL;
	if (c->metric == NULL || c->stat == NULL)
		*why = "no metric stated";
	else if (expectation && c->dir == 0)
		*why = "no direction stated";
	else if (c->missing != NULL)
		*why = c->missing;
	else if (c->count_before < VERDICT_MIN_SAMPLES)
		*why = "too few samples before the change";
	else if (isnan(c->before))
		*why = "no value before the change";
	else if (c->count_after < VERDICT_MIN_SAMPLES)
		*why = "too few samples after the change";
	else if (isnan(c->after))
		*why = "no value after the change";
	return *why == NULL;
}

/* Percent change from before to after; NAN from 0. */
static double
verdict_change_pct(double before, double after)
{
	if (before == 0)
		return NAN;
	return (after - before) / fabs(before) * 100;
}

static void
verdict_judge_expectation(struct verdict_check *c)
{
	double	moved;

	c->change_pct = NAN;
	if (!verdict_measurable(c, 1, &c->why)) {
		c->result = VERDICT_UNMEASURABLE;
		return;
	}
	c->change_pct = verdict_change_pct(c->before, c->after);
	moved = (c->after - c->before) * (c->dir < 0 ? -1 : 1);
	if (moved > 0 && moved >= fabs(c->before) * VERDICT_IMPROVE_PCT / 100)
		c->result = VERDICT_IMPROVED;
	else
		c->result = VERDICT_NOT_IMPROVED;
}

static void
verdict_judge_guard(struct verdict_check *c)
{
	double	moved;

	c->change_pct = NAN;
	if (!verdict_measurable(c, 0, &c->why)) {
		c->result = VERDICT_UNMEASURABLE;
		return;
	}
	c->change_pct = verdict_change_pct(c->before, c->after);
	moved = (c->after - c->before) * (c->dir < 0 ? -1 : 1);
	if (moved > 0 && moved > fabs(c->before) * c->tolerance_pct / 100)
		c->result = VERDICT_WORSE;
	else
		c->result = VERDICT_OK;
}

/*
 * Judge a change: exp is the strategy's expectation (metric NULL when it
 * stated none), guards[0..n) the guard metrics.  Sets each check's
 * result, why and change_pct, and the outcome and what decided it in *v.
 */
void
verdict_judge(struct verdict_check *exp, struct verdict_check *guards,
    size_t n, int keep_unjudged, struct verdict *v)
{
	size_t	i;
	int	measured = 0;

	memset(v, 0, sizeof(*v));
	v->guard = -1;
	verdict_judge_expectation(exp);
	for (i = 0; i < n; i++) {
		verdict_judge_guard(&guards[i]);
		if (guards[i].result == VERDICT_WORSE && v->guard == -1)
			v->guard = (int)i;
		if (guards[i].result != VERDICT_UNMEASURABLE)
			measured++;
	}
	if (v->guard != -1) {
		v->outcome = AUDIT_ROLLED_BACK;
		v->decided_by = "guard";
	} else if (exp->result != VERDICT_UNMEASURABLE) {
		v->outcome = exp->result == VERDICT_IMPROVED ? AUDIT_KEPT :
		    AUDIT_ROLLED_BACK;
		v->decided_by = "expectation";
	} else if (measured > 0) {
		v->outcome = AUDIT_KEPT;
		v->decided_by = "guards";
	} else {
		v->outcome = keep_unjudged ? AUDIT_UNVERIFIED :
		    AUDIT_ROLLED_BACK;
		v->decided_by = "nothing";
	}
}

/*
 * One sentence on why: "net.rtt_ms p95 rose from 32 to 80 (+150%), more
 * than the 10% allowed".  The caller frees it.
 */
char *
verdict_sentence(const struct verdict *v, const struct verdict_check *exp,
    const struct verdict_check *guards)
{
	const struct verdict_check	*c;
	char				*s;

	if (strcmp(v->decided_by, "guard") == 0) {
		c = &guards[v->guard];
		xasprintf(&s, "guard %s %s went from %g to %g, %s by more than "
		    "the %g%% allowed", c->metric, c->stat, c->before,
		    c->after, c->dir < 0 ? "down" : "up", c->tolerance_pct);
	} else if (strcmp(v->decided_by, "expectation") == 0)
		xasprintf(&s, "%s %s went from %g to %g, %s %s by %d%%",
		    exp->metric, exp->stat, exp->before, exp->after,
		    exp->result == VERDICT_IMPROVED ? "at least" : "not",
		    exp->dir < 0 ? "down" : "up", VERDICT_IMPROVE_PCT);
	else if (strcmp(v->decided_by, "guards") == 0)
		xasprintf(&s, "the expectation could not be measured (%s); "
		    "no guard got worse", exp->why);
	else
		xasprintf(&s, "nothing could judge it: the expectation could "
		    "not be measured (%s) and no guard could", exp->why);
	return s;
}

static void
verdict_num(cJSON *o, const char *name, double v)
{
	if ((isnan(v) || isinf(v) ? cJSON_AddNullToObject(o, name) :
	    cJSON_AddNumberToObject(o, name, v)) == NULL)
		fatalx("%s: out of memory", __func__);
}

static void
verdict_str(cJSON *o, const char *name, const char *s)
{
	if ((s == NULL ? cJSON_AddNullToObject(o, name) :
	    cJSON_AddStringToObject(o, name, s)) == NULL)
		fatalx("%s: out of memory", __func__);
}

/* One check; judged: with the after values and the result. */
static cJSON *
verdict_check_json(const struct verdict_check *c, int guard, int judged)
{
	cJSON	*o;

	if ((o = cJSON_CreateObject()) == NULL)
		fatalx("%s: out of memory", __func__);
	verdict_str(o, "metric", c->metric);
	verdict_str(o, "stat", c->stat);
	if (!guard)
		verdict_num(o, "dir", c->dir);
	else
		verdict_num(o, c->dir < 0 ? "max_fall_pct" : "max_rise_pct",
		    c->tolerance_pct);
	verdict_num(o, "baseline", c->before);
	verdict_num(o, "count_before", (double)c->count_before);
	if (!judged)
		return o;
	verdict_num(o, "after", c->after);
	verdict_num(o, "count_after", (double)c->count_after);
	verdict_num(o, "change_pct", c->change_pct);
	verdict_str(o, "result", verdict_result_name(c->result));
	if (c->result == VERDICT_UNMEASURABLE)
		verdict_str(o, "why", c->why);
	return o;
}

/*
 * The verdict as JSON text (meshtune-audit(5), column verdict); with v
 * NULL only what was read before the change (the baselines kept until
 * the change is judged).  The caller frees it.
 */
char *
verdict_json(const struct verdict *v, const struct verdict_check *exp,
    const struct verdict_check *guards, size_t n)
{
	cJSON	*o, *arr, *rule;
	char	*out;
	size_t	 i;

	if ((o = cJSON_CreateObject()) == NULL)
		fatalx("%s: out of memory", __func__);
	if (v != NULL) {
		verdict_str(o, "outcome", audit_outcome_name(v->outcome) ?
		    audit_outcome_name(v->outcome) : "none");
		verdict_str(o, "decided_by", v->decided_by);
		if ((rule = cJSON_AddObjectToObject(o, "rule")) == NULL)
			fatalx("%s: out of memory", __func__);
		verdict_num(rule, "improve_pct", VERDICT_IMPROVE_PCT);
		verdict_num(rule, "min_samples", VERDICT_MIN_SAMPLES);
	}
	if (!cJSON_AddItemToObject(o, "expectation",
	    verdict_check_json(exp, 0, v != NULL)) ||
	    (arr = cJSON_AddArrayToObject(o, "guards")) == NULL)
		fatalx("%s: out of memory", __func__);
	for (i = 0; i < n; i++)
		if (!cJSON_AddItemToArray(arr,
		    verdict_check_json(&guards[i], 1, v != NULL)))
			fatalx("%s: out of memory", __func__);
	out = number_json_print(o);
	cJSON_Delete(o);
	return out;
}

/* A member as a number, NAN when absent or not a number. */
static double
verdict_get_num(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static char *
verdict_get_str(const cJSON *o, const char *name)
{
	const cJSON	*v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? xstrdup(v->valuestring) : NULL;
}

/*
 * Read the guards' baselines back from verdict JSON text (as
 * verdict_json wrote it, judged or not): a new array of *np checks in
 * *guardsp whose metric and stat are allocated (verdict_checks_free).
 * Returns 0, or -1 if the text is not such a verdict (nothing stored).
 */
int
verdict_parse_guards(const char *text, struct verdict_check **guardsp,
    size_t *np)
{
	struct verdict_check	*g;
	const cJSON		*arr, *e;
	cJSON			*o;
	size_t			 n = 0;
	double			 rise, fall;

	*guardsp = NULL;
	*np = 0;
	if (text == NULL || (o = cJSON_Parse(text)) == NULL)
		return -1;
	arr = cJSON_GetObjectItemCaseSensitive(o, "guards");
	if (!cJSON_IsArray(arr)) {
		cJSON_Delete(o);
		return -1;
	}
	g = xcalloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*g));
	cJSON_ArrayForEach(e, arr) {
		rise = verdict_get_num(e, "max_rise_pct");
		fall = verdict_get_num(e, "max_fall_pct");
		g[n].metric = verdict_get_str(e, "metric");
		g[n].stat = verdict_get_str(e, "stat");
		if (g[n].metric == NULL || g[n].stat == NULL ||
		    isnan(rise) == isnan(fall)) {
			verdict_checks_free(g, n + 1);
			cJSON_Delete(o);
			return -1;
		}
		g[n].dir = isnan(rise) ? -1 : 1;
		g[n].tolerance_pct = isnan(rise) ? fall : rise;
		g[n].before = verdict_get_num(e, "baseline");
		g[n].count_before = isnan(verdict_get_num(e, "count_before")) ?
		    0 : (uint64_t)verdict_get_num(e, "count_before");
		g[n].after = NAN;
		g[n].change_pct = NAN;
		n++;
	}
	cJSON_Delete(o);
	*guardsp = g;
	*np = n;
	return 0;
}

/* Free n checks whose metric and stat were allocated, and the array. */
void
verdict_checks_free(struct verdict_check *c, size_t n)
{
	size_t	i;

	for (i = 0; c != NULL && i < n; i++) {
		free((char *)c[i].metric);
		free((char *)c[i].stat);
	}
	free(c);
}
