/*
 * governor.c -- strategies propose, the governor decides.
 *
 * Each tick's proposals are judged in the order of DESIGN.md:
 *  1. the knob is configured and not marked manual;
 *  2. the value is clamped to [min, max] and to max_step_pct of the
 *     current value (a proposal that then changes nothing is refused);
 *  3. the same strategy has asked for the same direction for for_s,
 *     every tick (each strategy keeps its own run);
 *  4. the knob is not in flight, being verified, frozen for flapping or
 *     cooling down, and the hourly action budget is not spent (actions
 *     in flight count);
 *  5. the knob's owner, if any, proposed it; of several proposals for one
 *     knob in a tick the highest priority wins; a proposal that reverses a
 *     higher-priority change within flap_window_s is refused;
 *  6. in a dry run (-n, "dry_run", mode "advise") it is recorded as
 *     dry_run and nothing is applied; while paused nothing is;
 *  7. otherwise: a pending row is committed, the knob is read (a value
 *     that differs from what meshtune last set marks it manual), set, and
 *     the row updated to applied or failed;
 *  8. after verify_s the expected statistic is compared with its value
 *     before the change: kept if it moved the expected way by at least
 *     VERIFY_IMPROVE (10 %), else rolled back (a rollback row, the
 *     knob's cooldown doubled); unverified with fewer than
 *     VERIFY_MIN_SAMPLES samples before (no baseline) or after.  A
 *     rollback that cannot start or fails is tried again after
 *     ROLLBACK_RETRY_S, doubled each time, ROLLBACK_TRIES times in all;
 *     the knob stays "verifying" meanwhile, so nothing else moves it.
 *     After the last try the action's outcome stays empty and the next
 *     start judges it again.
 * Every refusal has a reason code, counted in the audit log's decisions
 * table.  Cooldowns (doubled once per rollback of the last hour), the
 * budget, flap history, each knob's value and pending verifications (at
 * their original due time) are rebuilt from the audit log at start; rows
 * left pending are read back and reconciled, an applied one counting as
 * an action made then.
 *
 * Time: every monotonic instant comes from governor_decide's now_ms or
 * from g->clock (clock_mono_ms unless a test set governor_clock), so a
 * fake clock drives all of it.  Wall time only maps the log's timestamps.
 * A reload is refused while anything is in flight (governor_in_flight):
 * jobs point into the knob table and operations belong to the actuators
 * a reload replaces.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "meshtuned.h"
#include "meshtune/strategy.h"

#define VERIFY_IMPROVE		0.10	/* required relative improvement */
#define VERIFY_MIN_SAMPLES	20	/* fewer: unverified */
#define COOLDOWN_MAX_S		86400	/* rollbacks double up to this */
#define FLAP_HISTORY		16	/* reversal times kept per knob */
#define BUDGET_WINDOW_MS	3600000
#define ROLLBACK_TRIES		6	/* waits 10+20+40+80+160 s: 5 min */
#define ROLLBACK_RETRY_S	10	/* first wait, doubled each time */

/* One strategy's run of proposals for one knob in one direction (for_s). */
struct gov_sustain {
	char		*strategy;
	int		 dir;
	uint64_t	 since_ms;
	uint64_t	 tick;		/* last tick it proposed */
};

struct gov_knob {
	char		*name;
	double		 value;		/* believed in effect; NAN unknown */
	int		 manual;	/* changed behind meshtune's back */
	int		 busy;		/* an action in flight */
	uint64_t	 last_action_ms; /* monotonic; 0: never */
	int		 last_dir;	/* -1, +1, 0 */
	int64_t		 cooldown_s;	/* current, lengthened by rollbacks */
	uint64_t	 reversals[FLAP_HISTORY]; /* ring of reversal times */
	unsigned int	 nreversals;
	uint64_t	 frozen_until_ms;
	int64_t		 verifying;	/* action id under verification */
	char		*last_strategy;	/* who made the last change */
	int		 last_priority;
	struct gov_sustain *sustain;	/* for_s, one per strategy */
	size_t		 nsustain;
};

/* A proposal copied out of the plugin call, judged at the end of tick. */
struct gov_prop {
	char		*strategy;
	int		 priority;
	int		 advise;
	int		 kind;		/* MT_ACT_SET, MT_ACT_TRIGGER */
	char		*knob;
	double		 value;
	char		*reason;
	char		*evidence;
	char		*expect_metric;
	char		*expect_stat;
	int		 expect_dir;
	double		 baseline;
	uint64_t	 baseline_count;
};

/* An applied action waiting for its verification time. */
struct gov_verify {
	int64_t		 id;
	char		*knob;
	char		*strategy;
	char		*metric;
	char		*stat;
	int		 dir;
	double		 baseline;
	double		 old_value;	/* to roll back to */
	uint64_t	 due_ms;	/* monotonic */
	unsigned int	 tries;		/* >0: a rollback to try again */
};

/*
 * One action on its way through pending -> read -> set -> update.  While
 * op is NULL it waits for the audit log's callback (the pending row);
 * otherwise op is the actuator operation in flight.  g is NULL for a job
 * orphaned by governor_stop, freed when its callback finally comes.
 */
struct gov_job {
	TAILQ_ENTRY(gov_job) entry;
	struct governor	*g;
	struct gov_knob	*k;
	struct actuator_op *op;
	int64_t		 id;
	int64_t		 parent_id;	/* rollback */
	int		 kind;
	double		 old_value;
	double		 target;
	char		*strategy;
	int		 priority;
	char		*expect_metric;
	char		*expect_stat;
	int		 expect_dir;
	double		 baseline;
	int64_t		 verify_s;
	unsigned int	 tries;		/* rollback: attempts so far */
};

struct gov_last {
	char		*strategy;
	char		*text;
	uint64_t	 wall_ms;
};

TAILQ_HEAD(gov_jobs, gov_job);
TAILQ_HEAD(gov_reconciles, gov_reconcile);

struct governor {
	struct daemon		*d;
	uint64_t		(*clock)(void);	/* monotonic ms */
	struct actuators	*acts;
	struct gov_knob		*knobs;
	size_t			 nknobs;
	struct gov_prop		*props;
	size_t			 nprops, capprops;
	struct gov_verify	*verifs;
	size_t			 nverifs;
	uint64_t		*actions;	/* times of recent actions */
	size_t			 nactions;
	struct gov_last		*last;
	size_t			 nlast;
	uint64_t		 tickno;
	struct gov_jobs		 jobs;		/* in flight */
	size_t			 njobs;
	struct gov_reconciles	 reconciles;	/* reads of pending rows */
};

/* The monotonic clock of governors started from now on (tests: fake). */
static uint64_t	(*gov_clock)(void) = clock_mono_ms;

static void	gov_job_pending_cb(int64_t, void *);
static void	gov_job_free(struct gov_job *);
static void	gov_rollback_later(struct governor *, const struct gov_verify *,
		    uint64_t);

static struct gov_knob *
gov_knob_find(struct governor *g, const char *name)
{
	size_t	i;

	/* A knob moved by gov_knobs_sync has no name. */
	for (i = 0; i < g->nknobs; i++)
		if (g->knobs[i].name != NULL &&
		    strcmp(g->knobs[i].name, name) == 0)
			return &g->knobs[i];
	return NULL;
}

static char *
gov_strdup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Remember what was last decided for a strategy, for /v1/strategies. */
static void
gov_note(struct governor *g, const char *strategy, const char *fmt, ...)
    __printflike(3, 4);

static void
gov_note(struct governor *g, const char *strategy, const char *fmt, ...)
{
	struct gov_last	*l = NULL;
	va_list		 ap;
	size_t		 i;

	for (i = 0; i < g->nlast; i++)
		if (strcmp(g->last[i].strategy, strategy) == 0)
			l = &g->last[i];
	if (l == NULL) {
		g->last = xreallocarray(g->last, g->nlast + 1, sizeof(*l));
		l = &g->last[g->nlast++];
		l->strategy = xstrdup(strategy);
		l->text = NULL;
	}
	free(l->text);
	va_start(ap, fmt);
	if (vasprintf(&l->text, fmt, ap) == -1)
		fatal("%s", __func__);
	va_end(ap);
	l->wall_ms = clock_wall_ms();
}

/* Refuse a proposal: count it in the decisions table and say why. */
static void
gov_refuse(struct governor *g, const struct gov_prop *p, const char *code,
    const char *detail)
{
	log_debug("governor: %s on %s refused: %s%s%s", p->strategy, p->knob,
	    code, detail ? ": " : "", detail ? detail : "");
	if (g->d->audit != NULL)
		(void)audit_decision(g->d->audit, p->strategy, p->knob, code);
	if (detail != NULL)
		gov_note(g, p->strategy, "refused %s: %s (%s)", p->knob, code,
		    detail);
	else
		gov_note(g, p->strategy, "refused %s: %s", p->knob, code);
}

static void
gov_prop_clear(struct gov_prop *p)
{
	free(p->strategy);
	free(p->knob);
	free(p->reason);
	free(p->evidence);
	free(p->expect_metric);
	free(p->expect_stat);
}

/*
 * Queue a proposal made during the current tick; the governor judges all
 * of them in governor_decide.  Everything is copied.
 */
void
governor_propose(struct governor *g, const struct gov_proposal *gp,
    uint64_t now_ms)
{
	const struct mt_action	*a = gp->action;
	struct gov_prop		*p;

	if (g->nprops == g->capprops) {
		g->capprops = g->capprops ? g->capprops * 2 : 16;
		g->props = xreallocarray(g->props, g->capprops, sizeof(*p));
	}
	p = &g->props[g->nprops++];
	memset(p, 0, sizeof(*p));
	p->strategy = xstrdup(gp->strategy);
	p->priority = gp->priority;
	p->advise = gp->advise;
	p->kind = a->kind;
	p->knob = xstrdup(a->knob);
	p->value = a->value;
	p->reason = xstrdup(a->reason);
	p->evidence = gov_strdup(a->evidence);
	p->expect_metric = gov_strdup(a->expect_metric);
	p->expect_stat = gov_strdup(a->expect_stat);
	p->expect_dir = a->expect_dir;
	p->baseline = gp->baseline;
	p->baseline_count = gp->baseline_count;
}

/* Actions applied in the last hour (the global budget). */
static size_t
gov_recent_actions(struct governor *g, uint64_t now_ms)
{
	size_t	i, j = 0;

	for (i = 0; i < g->nactions; i++)
		if (now_ms - g->actions[i] < BUDGET_WINDOW_MS)
			g->actions[j++] = g->actions[i];
	g->nactions = j;
	return j;
}

static void
gov_count_action(struct governor *g, uint64_t when_ms)
{
	g->actions = xreallocarray(g->actions, g->nactions + 1,
	    sizeof(uint64_t));
	g->actions[g->nactions++] = when_ms;
}

/* Reversals of a knob within the flap window ending at now_ms. */
static unsigned int
gov_reversals(const struct gov_knob *k, uint64_t now_ms, uint64_t window_ms)
{
	unsigned int	i, n = 0, have = k->nreversals < FLAP_HISTORY ?
			    k->nreversals : FLAP_HISTORY;

	for (i = 0; i < have; i++)
		if (now_ms - k->reversals[i] < window_ms)
			n++;
	return n;
}

/*
 * A change in direction dir was applied at now_ms: track flapping.  A
 * freeze is recorded in the events table unless replaying (rebuild).
 */
static void
gov_note_direction(struct governor *g, struct gov_knob *k, int dir,
    uint64_t now_ms, int replay)
{
	const struct mt_config	*c = g->d->conf;
	uint64_t		 window = (uint64_t)c->flap_window_s * 1000;

	if (k->last_dir != 0 && dir != 0 && dir != k->last_dir) {
		k->reversals[k->nreversals++ % FLAP_HISTORY] = now_ms;
		if (gov_reversals(k, now_ms, window) >=
		    (unsigned int)c->flap_reversals) {
			k->frozen_until_ms = now_ms + window;
			if (replay)
				return;
			log_warnx("governor: %s reversed direction %u times in "
			    "%lld s: frozen for %lld s", k->name,
			    gov_reversals(k, now_ms, window),
			    (long long)c->flap_window_s,
			    (long long)c->flap_window_s);
			if (g->d->audit != NULL)
				(void)audit_event(g->d->audit, "flap", k->name,
				    "knob frozen: too many direction reversals",
				    NULL);
		}
	}
	if (dir != 0)
		k->last_dir = dir;
}

/*
 * Rule 2: the value a SET proposal becomes after the bounds and the step
 * limit.  The step is a share of the current value, or of the range when
 * the value is unknown or zero.
 */
static double
gov_clamp(const struct mt_knob_conf *kc, double cur, double want)
{
	double	step;

	if (want < kc->min)
		want = kc->min;
	if (want > kc->max)
		want = kc->max;
	if (isnan(cur))
		return want;
	step = fabs(cur) > 0 ? fabs(cur) : kc->max - kc->min;
	step *= kc->max_step_pct / 100.0;
	if (want > cur + step)
		want = cur + step;
	if (want < cur - step)
		want = cur - step;
	return want;
}

/* Of several proposals for one knob in a tick, the highest priority wins. */
static int
gov_outranked(struct governor *g, size_t i)
{
	const struct gov_prop	*p = &g->props[i];
	size_t			 j;

	for (j = 0; j < g->nprops; j++) {
		const struct gov_prop *o = &g->props[j];

		if (j == i || strcmp(o->knob, p->knob) != 0)
			continue;
		if (o->priority > p->priority ||
		    (o->priority == p->priority && j < i))
			return 1;
	}
	return 0;
}

/*
 * Rule 3: has this strategy asked for this direction, tick after tick,
 * for for_s?  Each strategy has its own run, so two strategies proposing
 * the same knob do not reset each other's; a tick without the proposal,
 * or the other direction, starts the run again.
 */
static int
gov_sustained(struct governor *g, struct gov_knob *k,
    const struct gov_prop *p, int dir, int64_t for_s, uint64_t now_ms)
{
	struct gov_sustain	*su = NULL;
	size_t			 i;

	for (i = 0; i < k->nsustain; i++)
		if (strcmp(k->sustain[i].strategy, p->strategy) == 0)
			su = &k->sustain[i];
	if (su == NULL) {
		k->sustain = xreallocarray(k->sustain, k->nsustain + 1,
		    sizeof(*su));
		su = &k->sustain[k->nsustain++];
		su->strategy = xstrdup(p->strategy);
		su->tick = 0;
	}
	if (su->tick == 0 || su->dir != dir || su->tick + 1 < g->tickno) {
		su->dir = dir;
		su->since_ms = now_ms;
	}
	su->tick = g->tickno;
	return now_ms - su->since_ms >= (uint64_t)for_s * 1000;
}

static void
gov_knob_clear(struct gov_knob *k)
{
	size_t	i;

	free(k->name);
	free(k->last_strategy);
	for (i = 0; i < k->nsustain; i++)
		free(k->sustain[i].strategy);
	free(k->sustain);
}

/* The priority of strategy instance name in the running configuration. */
static int
gov_priority(struct governor *g, const char *name)
{
	CONF_FOREACH(struct mt_strategy_conf, sc, g->d->conf->strategies)
		if (name != NULL && strcmp(sc->name, name) == 0)
			return (int)sc->priority;
	return 0;
}

/* Judge one proposal; returns 1 if it became an action (or dry_run row). */
static int
gov_judge(struct governor *g, size_t idx, uint64_t now_ms)
{
	const struct mt_config		*c = g->d->conf;
	struct gov_prop			*p = &g->props[idx];
	const struct mt_knob_conf	*kc;
	struct gov_knob			*k;
	struct gov_job			*job;
	struct audit_action		 row;
	char				 why[160];
	double				 target;
	int				 dir = 0;

	/* 1. known, not manual */
	if ((kc = config_knob(c, p->knob)) == NULL ||
	    (k = gov_knob_find(g, p->knob)) == NULL) {
		gov_refuse(g, p, "unknown_knob", NULL);
		return 0;
	}
	if (k->manual) {
		gov_refuse(g, p, "manual", "changed outside meshtune; "
		    "meshtunectl resume releases it");
		return 0;
	}
	/* 2. bounds and step */
	target = p->value;
	if (p->kind == MT_ACT_SET) {
		target = gov_clamp(kc, k->value, p->value);
		if (!isnan(k->value) && target == k->value) {
			snprintf(why, sizeof(why), "%g is already in effect "
			    "(asked %g, bounds %g..%g)", k->value, p->value,
			    kc->min, kc->max);
			gov_refuse(g, p, "no_change", why);
			return 0;
		}
		dir = isnan(k->value) ? 0 : target > k->value ? 1 : -1;
	}
	/* 3. sustained */
	if (!gov_sustained(g, k, p, dir, kc->for_s, now_ms)) {
		gov_refuse(g, p, "not_sustained", NULL);
		return 0;
	}
	/* 4. in flight, verifying, frozen, cooldown, budget */
	if (k->busy) {
		gov_refuse(g, p, "in_flight", NULL);
		return 0;
	}
	if (k->verifying != 0) {
		snprintf(why, sizeof(why), "action %lld", (long long)k->verifying);
		gov_refuse(g, p, "verifying", why);
		return 0;
	}
	if (now_ms < k->frozen_until_ms) {
		snprintf(why, sizeof(why), "%llu s left",
		    (unsigned long long)(k->frozen_until_ms - now_ms) / 1000);
		gov_refuse(g, p, "flapping", why);
		return 0;
	}
	if (k->last_action_ms != 0 &&
	    now_ms - k->last_action_ms < (uint64_t)k->cooldown_s * 1000) {
		snprintf(why, sizeof(why), "%llu s left",
		    (unsigned long long)((uint64_t)k->cooldown_s * 1000 -
		    (now_ms - k->last_action_ms)) / 1000);
		gov_refuse(g, p, "cooldown", why);
		return 0;
	}
	/* Actions in flight count: they are about to be applied. */
	if (gov_recent_actions(g, now_ms) + g->njobs >=
	    (size_t)c->max_actions_per_hour) {
		gov_refuse(g, p, "budget", "max_actions_per_hour spent");
		return 0;
	}
	/* 5. conflicts */
	if (kc->owner != NULL && strcmp(kc->owner, p->strategy) != 0) {
		gov_refuse(g, p, "not_owner", kc->owner);
		return 0;
	}
	if (gov_outranked(g, idx)) {
		gov_refuse(g, p, "conflict", "a higher-priority proposal "
		    "for the same knob");
		return 0;
	}
	if (k->last_strategy != NULL && k->last_priority > p->priority &&
	    dir != 0 && dir != k->last_dir &&
	    now_ms - k->last_action_ms < (uint64_t)c->flap_window_s * 1000) {
		gov_refuse(g, p, "undoes_higher_priority", k->last_strategy);
		return 0;
	}
	/* 6. paused, dry run */
	if (g->d->paused) {
		gov_refuse(g, p, "paused", NULL);
		return 0;
	}
	memset(&row, 0, sizeof(row));
	row.strategy = p->strategy;
	row.kind = p->kind == MT_ACT_TRIGGER ? AUDIT_TRIGGER : AUDIT_SET;
	row.knob = p->knob;
	row.old_value = k->value;
	row.new_value = target;
	row.reason = p->reason;
	row.evidence = p->evidence;
	row.actuator = kc->actuator;
	row.expect_metric = p->expect_metric;
	row.expect_stat = p->expect_stat;
	row.expect_dir = p->expect_dir;
	row.baseline = p->baseline;
	if (c->dry_run || p->advise) {
		row.status = AUDIT_DRY_RUN;
		if (g->d->audit != NULL)
			(void)audit_action_begin(g->d->audit, &row, NULL, NULL);
		gov_note(g, p->strategy, "dry run: %s %g -> %g", p->knob,
		    k->value, target);
		log_info("governor: dry run: %s: %s %g -> %g: %s",
		    p->strategy, p->knob, k->value, target, p->reason);
		return 1;
	}
	/* 7. apply */
	job = xcalloc(1, sizeof(*job));
	job->g = g;
	job->k = k;
	job->kind = p->kind;
	job->old_value = k->value;
	job->target = target;
	job->strategy = xstrdup(p->strategy);
	job->priority = p->priority;
	/*
	 * An expected effect is always verified; a baseline from too few
	 * samples is none (NULL in the row), which ends as unverified.
	 */
	if (p->expect_metric != NULL && p->expect_stat != NULL &&
	    p->expect_dir != 0 && p->kind == MT_ACT_SET) {
		job->expect_metric = xstrdup(p->expect_metric);
		job->expect_stat = xstrdup(p->expect_stat);
		job->expect_dir = p->expect_dir;
		job->baseline = p->baseline_count >= VERIFY_MIN_SAMPLES ?
		    p->baseline : NAN;
		job->verify_s = kc->verify_s ? kc->verify_s :
		    c->window_seconds;
		row.baseline = job->baseline;
	}
	row.status = AUDIT_PENDING;
	row.verify_s = (int)job->verify_s;
	k->busy = 1;
	log_info("governor: %s: %s %g -> %g: %s", p->strategy, p->knob,
	    k->value, target, p->reason);
	gov_note(g, p->strategy, "applying %s %g -> %g", p->knob, k->value,
	    target);
	TAILQ_INSERT_TAIL(&g->jobs, job, entry);
	g->njobs++;
	if (g->d->audit == NULL ||
	    audit_action_begin(g->d->audit, &row, gov_job_pending_cb, job) ==
	    -1) {
		/* No pending row, no actuation. */
		log_warnx("governor: %s: cannot write the pending row; not "
		    "applied", p->knob);
		gov_job_free(job);
		return 0;
	}
	return 1;
}

static void
gov_job_free(struct gov_job *job)
{
	if (job->g != NULL) {
		job->k->busy = 0;
		TAILQ_REMOVE(&job->g->jobs, job, entry);
		job->g->njobs--;
	}
	free(job->strategy);
	free(job->expect_metric);
	free(job->expect_stat);
	free(job);
}

/* End a job with a failed row and, for actuator trouble, an event. */
static void
gov_job_fail(struct gov_job *job, const char *error)
{
	struct governor	*g = job->g;

	log_warnx("governor: %s: not applied: %s", job->k->name, error);
	(void)audit_action_update(g->d->audit, job->id, AUDIT_FAILED, NAN,
	    error);
	(void)audit_event(g->d->audit, "actuator_fault", job->k->name, error,
	    NULL);
	gov_note(g, job->strategy, "failed %s: %s", job->k->name, error);
	if (job->parent_id != 0) {
		struct gov_verify	v = {
			.id = job->parent_id, .knob = job->k->name,
			.strategy = job->strategy, .metric = job->expect_metric,
			.stat = job->expect_stat, .old_value = job->target,
			.tries = job->tries };

		gov_rollback_later(g, &v, g->clock());
	}
	gov_job_free(job);
}

/* Schedule the verification of an applied action. */
static void
gov_verify_add(struct governor *g, struct gov_job *job, uint64_t due_ms)
{
	struct gov_verify	*v;

	g->verifs = xreallocarray(g->verifs, g->nverifs + 1, sizeof(*v));
	v = &g->verifs[g->nverifs++];
	v->id = job->id;
	v->knob = xstrdup(job->k->name);
	v->strategy = xstrdup(job->strategy);
	v->metric = xstrdup(job->expect_metric);
	v->stat = xstrdup(job->expect_stat);
	v->dir = job->expect_dir;
	v->baseline = job->baseline;
	v->old_value = job->old_value;
	v->due_ms = due_ms;
	v->tries = 0;
	job->k->verifying = job->id;
}

/* The set came back: record it, and start the knob's new life. */
static void
gov_job_set_cb(const struct actuator_result *r, void *arg)
{
	struct gov_job	*job = arg;
	struct governor	*g = job->g;
	struct gov_knob	*k = job->k;
	uint64_t	 now = g->clock();
	double		 in_effect;
	int		 dir;

	job->op = NULL;
	if (!r->ok) {
		gov_job_fail(job, r->error);
		return;
	}
	in_effect = isnan(r->value) ? job->target : r->value;
	(void)audit_action_update(g->d->audit, job->id, AUDIT_APPLIED,
	    in_effect, NULL);
	dir = isnan(job->old_value) ? 0 : in_effect > job->old_value ? 1 :
	    in_effect < job->old_value ? -1 : 0;
	if (job->kind == MT_ACT_SET) {
		k->value = in_effect;
		gov_note_direction(g, k, dir, now, 0);
	}
	k->last_action_ms = now;
	free(k->last_strategy);
	k->last_strategy = xstrdup(job->strategy);
	k->last_priority = job->priority;
	gov_count_action(g, now);
	if (job->parent_id != 0) {
		(void)audit_action_outcome(g->d->audit, job->parent_id,
		    AUDIT_ROLLED_BACK);
		gov_note(g, job->strategy, "rolled back %s to %g",
		    k->name, in_effect);
	} else {
		gov_note(g, job->strategy, "applied %s %g -> %g", k->name,
		    job->old_value, in_effect);
		if (job->verify_s > 0)
			gov_verify_add(g, job, now +
			    (uint64_t)job->verify_s * 1000);
	}
	gov_job_free(job);
}

static void
gov_job_set(struct gov_job *job)
{
	struct governor			*g = job->g;
	const struct mt_knob_conf	*kc = config_knob(g->d->conf,
					    job->k->name);
	struct actuator			*a;

	if (kc == NULL || (a = actuators_find(g->acts, kc->actuator)) ==
	    NULL) {
		gov_job_fail(job, "knob or actuator no longer configured");
		return;
	}
	job->op = actuator_set(a, kc, job->target, gov_job_set_cb, job);
}

/*
 * The knob as read before the set: if it is not what meshtune last set,
 * someone else changed it; mark it manual and leave it alone.
 */
static void
gov_job_read_cb(const struct actuator_result *r, void *arg)
{
	struct gov_job	*job = arg;
	struct gov_knob	*k = job->k;
	char		 msg[256];

	job->op = NULL;
	if (r->ok && r->readback && !isnan(r->value) && !isnan(k->value) &&
	    job->kind == MT_ACT_SET && job->parent_id == 0 &&
	    fabs(r->value - k->value) > 1e-9 * fmax(1, fabs(k->value))) {
		snprintf(msg, sizeof(msg), "knob reads %g but meshtune last "
		    "set %g: changed outside meshtune, left alone until "
		    "resumed", r->value, k->value);
		k->manual = 1;
		k->value = r->value;
		(void)audit_event(job->g->d->audit, "manual_change", k->name,
		    msg, NULL);
		(void)audit_action_update(job->g->d->audit, job->id,
		    AUDIT_FAILED, NAN, msg);
		log_warnx("governor: %s: %s", k->name, msg);
		gov_note(job->g, job->strategy, "%s marked manual", k->name);
		gov_job_free(job);
		return;
	}
	gov_job_set(job);
}

/* The pending row is committed: now the actuator may run. */
static void
gov_job_pending_cb(int64_t id, void *arg)
{
	struct gov_job			*job = arg;
	struct governor			*g = job->g;
	const struct mt_knob_conf	*kc;
	struct actuator			*a;

	if (g == NULL) {
		/* Stopped meanwhile: the row stays pending, reconciled later. */
		gov_job_free(job);
		return;
	}
	if (id < 0) {
		log_warnx("governor: %s: the pending row was not written; "
		    "not applied", job->k->name);
		gov_job_free(job);
		return;
	}
	job->id = id;
	kc = config_knob(g->d->conf, job->k->name);
	if (kc == NULL || (a = actuators_find(g->acts, kc->actuator)) ==
	    NULL) {
		gov_job_fail(job, "knob or actuator no longer configured");
		return;
	}
	job->op = actuator_get(a, kc, gov_job_read_cb, job);
}

/*
 * Start rolling the knob of verification v back to its old value, with
 * reason for the row; v->tries rollbacks of it were tried before.  If it
 * cannot start now (the knob is busy or no longer configured, the log
 * refused the row), that counts as a try and it is tried again later.
 */
static void
gov_rollback(struct governor *g, struct gov_knob *k,
    const struct gov_verify *v, const char *reason, const char *evidence,
    uint64_t now_ms)
{
	const struct mt_knob_conf	*kc = config_knob(g->d->conf, k->name);
	struct gov_verify		 tried = *v;
	struct audit_action		 row;
	struct gov_job			*job;

	tried.tries++;
	if (kc == NULL || k->busy) {
		gov_rollback_later(g, &tried, now_ms);
		return;
	}
	memset(&row, 0, sizeof(row));
	row.strategy = v->strategy;
	row.kind = AUDIT_ROLLBACK;
	row.knob = k->name;
	row.old_value = k->value;
	row.new_value = v->old_value;
	row.status = AUDIT_PENDING;
	row.reason = reason;
	row.evidence = evidence;
	row.actuator = kc->actuator;
	row.parent_id = v->id;
	row.baseline = NAN;
	job = xcalloc(1, sizeof(*job));
	job->g = g;
	job->k = k;
	job->kind = MT_ACT_SET;
	job->old_value = k->value;
	job->target = v->old_value;
	job->strategy = xstrdup(v->strategy);
	job->priority = gov_priority(g, v->strategy);
	job->parent_id = v->id;
	job->tries = tried.tries;
	/* Kept for a retry, should this one fail. */
	job->expect_metric = gov_strdup(v->metric);
	job->expect_stat = gov_strdup(v->stat);
	k->busy = 1;
	if (v->tries == 0)
		k->cooldown_s = k->cooldown_s * 2 > COOLDOWN_MAX_S ?
		    COOLDOWN_MAX_S : (k->cooldown_s ? k->cooldown_s * 2 : 60);
	TAILQ_INSERT_TAIL(&g->jobs, job, entry);
	g->njobs++;
	log_warnx("governor: %s", reason);
	if (audit_action_begin(g->d->audit, &row, gov_job_pending_cb, job) ==
	    -1) {
		gov_job_free(job);
		gov_rollback_later(g, &tried, now_ms);
	}
}

/*
 * The v->tries-th rollback of v could not start or failed: try again
 * later, or give up for this run after ROLLBACK_TRIES (the outcome stays
 * empty, so the next start judges the action again).
 */
static void
gov_rollback_later(struct governor *g, const struct gov_verify *v,
    uint64_t now_ms)
{
	struct gov_knob		*k = gov_knob_find(g, v->knob);
	struct gov_verify	*r;
	char			*msg;

	if (k == NULL || v->tries >= ROLLBACK_TRIES) {
		xasprintf(&msg, "action %lld made things worse and was not "
		    "rolled back after %u tries; the next start tries again",
		    (long long)v->id, v->tries);
		log_warnx("governor: %s: %s", v->knob, msg);
		(void)audit_event(g->d->audit, "rollback_failed", v->knob, msg,
		    NULL);
		free(msg);
		return;
	}
	g->verifs = xreallocarray(g->verifs, g->nverifs + 1, sizeof(*r));
	r = &g->verifs[g->nverifs++];
	*r = *v;
	r->knob = xstrdup(v->knob);
	r->strategy = xstrdup(v->strategy);
	r->metric = gov_strdup(v->metric);
	r->stat = gov_strdup(v->stat);
	r->due_ms = now_ms + ((uint64_t)ROLLBACK_RETRY_S * 1000 <<
	    (r->tries - 1));
	k->verifying = v->id;
	log_warnx("governor: %s: rollback of action %lld retried in %llu s",
	    v->knob, (long long)v->id,
	    (unsigned long long)(r->due_ms - now_ms) / 1000);
}

/* Try a rollback again (v->tries were tried). */
static void
gov_rollback_retry(struct governor *g, const struct gov_verify *v,
    uint64_t now_ms)
{
	struct gov_knob	*k = gov_knob_find(g, v->knob);
	char		*reason;

	if (k != NULL)
		k->verifying = 0;
	xasprintf(&reason, "rollback of action %lld, try %u: %s back to %g",
	    (long long)v->id, v->tries + 1, v->knob, v->old_value);
	if (k == NULL)
		gov_rollback_later(g, v, now_ms);
	else
		gov_rollback(g, k, v, reason, NULL, now_ms);
	free(reason);
}

static void
gov_verify_clear(struct gov_verify *v)
{
	free(v->knob);
	free(v->strategy);
	free(v->metric);
	free(v->stat);
}

/*
 * Rule 8: judge one due verification; the knob is free again after.
 * Unverified without a baseline or with fewer than VERIFY_MIN_SAMPLES
 * samples now; kept if the statistic moved the expected way by at least
 * VERIFY_IMPROVE; rolled back otherwise.
 */
static void
gov_verify_one(struct governor *g, const struct gov_verify *v,
    uint64_t now_ms)
{
	const struct series_stats	*st;
	struct gov_knob			*k = gov_knob_find(g, v->knob);
	struct series			*s;
	struct tick			*t = tick_new(g->d, now_ms);
	enum audit_outcome		 out;
	char				*evidence, *reason, b[32], af[32];
	double				 after = NAN;
	int				 better;

	st = tick_stats(t, v->metric, &s);
	if (isnan(v->baseline) || st == NULL ||
	    st->w.count < VERIFY_MIN_SAMPLES ||
	    tick_stat_value(st, series_type(s), v->stat, &after) != MT_OK) {
		out = AUDIT_UNVERIFIED;
	} else {
		better = v->dir < 0 ?
		    after <= v->baseline * (1 - VERIFY_IMPROVE) :
		    after >= v->baseline * (1 + VERIFY_IMPROVE);
		out = better ? AUDIT_KEPT : AUDIT_ROLLED_BACK;
	}
	if (number_format(v->baseline, b, sizeof(b)) == -1)
		snprintf(b, sizeof(b), "null");
	if (number_format(after, af, sizeof(af)) == -1)
		snprintf(af, sizeof(af), "null");
	xasprintf(&evidence, "{\"verify\":{\"metric\":\"%s\",\"stat\":"
	    "\"%s\",\"baseline\":%s,\"after\":%s,\"count\":%llu}}",
	    v->metric, v->stat, b, af,
	    st ? (unsigned long long)st->w.count : 0ULL);
	tick_free(t);
	log_info("governor: action %lld on %s: %s %s %g -> %g: %s",
	    (long long)v->id, v->knob, v->metric, v->stat, v->baseline, after,
	    audit_outcome_name(out));
	if (k != NULL)
		k->verifying = 0;
	if (out != AUDIT_ROLLED_BACK)
		(void)audit_action_outcome(g->d->audit, v->id, out);
	else if (k == NULL || isnan(v->old_value)) {
		/* Nothing to go back to: the outcome stays empty. */
		log_warnx("governor: action %lld on %s made things worse "
		    "but its old value is unknown", (long long)v->id, v->knob);
		(void)audit_event(g->d->audit, "rollback_failed", v->knob,
		    "action made things worse; its old value is unknown",
		    evidence);
	} else {
		xasprintf(&reason, "rollback of action %lld: %s %s went from "
		    "%g to %g, not %s by %d%%", (long long)v->id, v->metric,
		    v->stat, v->baseline, after, v->dir < 0 ? "down" : "up",
		    (int)(VERIFY_IMPROVE * 100));
		gov_rollback(g, k, v, reason, evidence, now_ms);
		free(reason);
	}
	gov_note(g, v->strategy, "verified %s: %s", v->knob,
	    audit_outcome_name(out));
	free(evidence);
}

static void
gov_verify_due(struct governor *g, uint64_t now_ms)
{
	struct gov_verify	 v;
	size_t			 i = 0;

	while (i < g->nverifs) {
		if (now_ms < g->verifs[i].due_ms) {
			i++;
			continue;
		}
		/* Take it out first: judging it may add to the array. */
		v = g->verifs[i];
		g->verifs[i] = g->verifs[--g->nverifs];
		if (v.tries > 0)
			gov_rollback_retry(g, &v, now_ms);
		else
			gov_verify_one(g, &v, now_ms);
		gov_verify_clear(&v);
	}
}

/*
 * End of a tick: verify what is due, then judge every queued proposal.
 * Returns the number of actions (dry_run rows included) started.
 */
unsigned int
governor_decide(struct governor *g, uint64_t now_ms)
{
	unsigned int	n = 0;
	size_t		i;

	g->tickno++;
	/*
	 * Verifications first: a knob whose verify window ends this tick is
	 * free (or rolling back) before its next proposal is judged, so a
	 * strategy that waits one window does not lose a second one.
	 */
	gov_verify_due(g, now_ms);
	for (i = 0; i < g->nprops; i++)
		n += (unsigned int)gov_judge(g, i, now_ms);
	for (i = 0; i < g->nprops; i++)
		gov_prop_clear(&g->props[i]);
	g->nprops = 0;
	return n;
}

/* A knob's believed value and bounds; -1 if it is not configured. */
int
governor_knob(struct governor *g, const char *name, double *value,
    double *min, double *max)
{
	const struct mt_knob_conf	*kc = config_knob(g->d->conf, name);
	struct gov_knob			*k = gov_knob_find(g, name);

	if (kc == NULL || k == NULL)
		return -1;
	if (value != NULL)
		*value = k->value;
	if (min != NULL)
		*min = kc->min;
	if (max != NULL)
		*max = kc->max;
	return 0;
}

/* Release a knob marked manual; -1 if it is unknown or not manual. */
int
governor_resume(struct governor *g, const char *name)
{
	struct gov_knob	*k = gov_knob_find(g, name);

	if (k == NULL || !k->manual)
		return -1;
	k->manual = 0;
	log_info("governor: %s resumed: meshtune may turn it again (now %g)",
	    name, k->value);
	if (g->d->audit != NULL)
		(void)audit_event(g->d->audit, "resume", name,
		    "manual mark released", NULL);
	return 0;
}

/*
 * Work in flight: actions waiting for their pending row to be committed
 * plus actuator operations (an action's read or set, the reads of
 * initial values and of rows left pending).  0 when the governor is idle,
 * which a reload requires.
 */
size_t
governor_in_flight(const struct governor *g)
{
	const struct gov_job	*job;
	size_t			 n = 0;

	TAILQ_FOREACH(job, &g->jobs, entry)
		if (job->op == NULL)
			n++;
	return n + (g->acts != NULL ? actuators_pending(g->acts) : 0);
}

/*
 * Use fn as the monotonic clock (ms) of every governor started from now
 * on, instead of clock_mono_ms; NULL restores it.  For tests with a fake
 * clock: the clock of callbacks then matches the now_ms they pass to
 * governor_decide.
 */
void
governor_clock(uint64_t (*fn)(void))
{
	gov_clock = fn != NULL ? fn : clock_mono_ms;
}

/* The last decision about a strategy's proposals, or NULL. */
const char *
governor_last_decision(struct governor *g, const char *strategy,
    uint64_t *wall_ms)
{
	size_t	i;

	for (i = 0; g != NULL && i < g->nlast; i++)
		if (strcmp(g->last[i].strategy, strategy) == 0) {
			*wall_ms = g->last[i].wall_ms;
			return g->last[i].text;
		}
	return NULL;
}

/* The initial value of a knob without "initial": ask its actuator. */
static void
gov_initial_cb(const struct actuator_result *r, void *arg)
{
	struct governor	*g = arg;
	struct gov_knob	*k = gov_knob_find(g, r->knob);

	if (k == NULL)
		return;
	if (r->ok && !isnan(r->value) && isnan(k->value))
		k->value = r->value;
	else if (!r->ok)
		log_warnx("governor: cannot read %s: %s", r->knob, r->error);
}

/* Make the knob table of c, keeping the state of knobs that stay. */
static void
gov_knobs_sync(struct governor *g, const struct mt_config *c)
{
	struct gov_knob	*nk;
	struct actuator	*a;
	size_t		 i = 0, j;

	nk = c->knobs.n ? xcalloc(c->knobs.n, sizeof(*nk)) : NULL;
	CONF_FOREACH(struct mt_knob_conf, kc, c->knobs) {
		struct gov_knob *old = gov_knob_find(g, kc->name);

		if (old != NULL) {
			nk[i] = *old;
			memset(old, 0, sizeof(*old));	/* moved */
		} else {
			nk[i].name = xstrdup(kc->name);
			nk[i].value = kc->initial;
			nk[i].cooldown_s = kc->cooldown_s;
		}
		if (nk[i].cooldown_s < kc->cooldown_s)
			nk[i].cooldown_s = kc->cooldown_s;
		i++;
	}
	for (j = 0; j < g->nknobs; j++)
		gov_knob_clear(&g->knobs[j]);
	free(g->knobs);
	g->knobs = nk;
	g->nknobs = i;
	for (j = 0; j < g->nknobs; j++) {
		const struct mt_knob_conf *kc = config_knob(c,
		    g->knobs[j].name);

		if (!isnan(g->knobs[j].value) || g->acts == NULL ||
		    (a = actuators_find(g->acts, kc->actuator)) == NULL)
			continue;
		(void)actuator_get(a, kc, gov_initial_cb, g);
	}
}

/*
 * The monotonic time of a wall-clock instant, for state read from the
 * log: the past stays in the past (not before 1), the future (a
 * verification due) in the future.
 */
static uint64_t
gov_mono_of(uint64_t wall_ms, uint64_t now_mono, uint64_t now_wall)
{
	if (wall_ms >= now_wall)
		return now_mono + (wall_ms - now_wall);
	if (now_wall - wall_ms >= now_mono)
		return 1;
	return now_mono - (now_wall - wall_ms);
}

/*
 * A pending row left by a crash or a stop: read the knob back and mark
 * the row applied if the knob holds the new value, failed otherwise.  An
 * applied one then counts as an action made now: cooldown, budget,
 * verification, and for a rollback its parent's outcome.
 */
struct gov_reconcile {
	TAILQ_ENTRY(gov_reconcile) entry;
	struct governor	*g;
	struct actuator_op *op;
	int64_t		 id;
	enum audit_kind	 kind;
	char		*knob;
	char		*strategy;
	double		 old_value;
	double		 new_value;
	int64_t		 parent_id;
	char		*expect_metric;
	char		*expect_stat;
	int		 expect_dir;
	double		 baseline;
	int		 verify_s;
};

static void
gov_reconcile_free(struct gov_reconcile *rc)
{
	TAILQ_REMOVE(&rc->g->reconciles, rc, entry);
	free(rc->knob);
	free(rc->strategy);
	free(rc->expect_metric);
	free(rc->expect_stat);
	free(rc);
}

static void
gov_reconcile_cb(const struct actuator_result *r, void *arg)
{
	struct gov_reconcile	*rc = arg;
	struct governor		*g = rc->g;
	struct gov_knob		*k = gov_knob_find(g, rc->knob);
	struct gov_job		 job;
	uint64_t		 now = g->clock();
	char			 note[160];
	int			 held, dir;

	held = r->ok && !isnan(r->value) && rc->kind != AUDIT_TRIGGER &&
	    fabs(r->value - rc->new_value) <= 1e-9 *
	    fmax(1, fabs(rc->new_value));
	snprintf(note, sizeof(note), "left pending by a stop; the knob reads "
	    "%g%s", r->value, r->ok ? "" : " (read failed)");
	(void)audit_reconcile(g->d->audit, rc->id, held ? AUDIT_APPLIED :
	    AUDIT_FAILED, r->value, note);
	/* What the knob reads is what meshtune believes from now on. */
	if (k != NULL && r->ok && !isnan(r->value))
		k->value = r->value;
	if (k != NULL && held) {
		dir = isnan(rc->old_value) ? 0 : rc->new_value >
		    rc->old_value ? 1 : rc->new_value < rc->old_value ? -1 : 0;
		gov_note_direction(g, k, dir, now, 0);
		k->last_action_ms = now;
		free(k->last_strategy);
		k->last_strategy = gov_strdup(rc->strategy);
		k->last_priority = gov_priority(g, rc->strategy);
		gov_count_action(g, now);
		if (rc->parent_id != 0)
			(void)audit_action_outcome(g->d->audit, rc->parent_id,
			    AUDIT_ROLLED_BACK);
		else if (rc->verify_s > 0 && rc->expect_metric != NULL &&
		    rc->expect_stat != NULL && k->verifying == 0) {
			memset(&job, 0, sizeof(job));
			job.id = rc->id;
			job.k = k;
			job.strategy = rc->strategy != NULL ? rc->strategy : "";
			job.expect_metric = rc->expect_metric;
			job.expect_stat = rc->expect_stat;
			job.expect_dir = rc->expect_dir;
			job.baseline = rc->baseline;
			job.old_value = rc->old_value;
			gov_verify_add(g, &job, now +
			    (uint64_t)rc->verify_s * 1000);
		}
	}
	rc->op = NULL;
	gov_reconcile_free(rc);
}

/* Start the reconciliation of pending row r; 0, or -1 if it cannot. */
static int
gov_reconcile(struct governor *g, const struct audit_row *r)
{
	const struct mt_knob_conf	*kc = config_knob(g->d->conf, r->knob);
	struct gov_reconcile		*rc;
	struct actuator			*a;

	if (kc == NULL || (a = actuators_find(g->acts, kc->actuator)) == NULL)
		return -1;
	rc = xcalloc(1, sizeof(*rc));
	rc->g = g;
	rc->id = r->id;
	rc->kind = r->kind;
	rc->knob = xstrdup(r->knob);
	rc->strategy = gov_strdup(r->strategy);
	rc->old_value = r->old_value;
	rc->new_value = r->new_value;
	rc->parent_id = r->parent_id;
	rc->expect_metric = gov_strdup(r->expect_metric);
	rc->expect_stat = gov_strdup(r->expect_stat);
	rc->expect_dir = r->expect_dir;
	rc->baseline = r->baseline;
	rc->verify_s = r->verify_s;
	TAILQ_INSERT_TAIL(&g->reconciles, rc, entry);
	rc->op = actuator_get(a, kc, gov_reconcile_cb, rc);
	return 0;
}

/*
 * Rebuild from the log: pending rows (reconciled), the hourly budget, flap
 * history and rollbacks of the last hour (each doubles the knob's
 * cooldown, as it did before the restart), each knob's last action and
 * value, and the verifications still due.
 */
static void
gov_rebuild(struct governor *g)
{
	struct audit_row	*rows;
	struct gov_knob		*k;
	uint64_t		 mono = g->clock(), wall = clock_wall_ms();
	size_t			 n, i;
	int			 dir;

	if (audit_sync(g->d->audit) == -1)
		return;
	if (audit_pending(g->d->audit, &rows, &n) == 0) {
		for (i = 0; i < n; i++)
			if (gov_reconcile(g, &rows[i]) == -1)
				(void)audit_reconcile(g->d->audit, rows[i].id,
				    AUDIT_FAILED, NAN, "left pending by a stop; "
				    "knob no longer readable");
		audit_rows_free(rows, n);
	}
	if (audit_applied_since(g->d->audit, wall > BUDGET_WINDOW_MS ?
	    wall - BUDGET_WINDOW_MS : 1, &rows, &n) == 0) {
		for (i = 0; i < n; i++) {
			uint64_t t = gov_mono_of(rows[i].done_ms ?
			    rows[i].done_ms : rows[i].ts_ms, mono, wall);

			gov_count_action(g, t);
			if ((k = gov_knob_find(g, rows[i].knob)) == NULL)
				continue;
			if (rows[i].kind == AUDIT_ROLLBACK)
				k->cooldown_s = k->cooldown_s * 2 >
				    COOLDOWN_MAX_S ? COOLDOWN_MAX_S :
				    (k->cooldown_s ? k->cooldown_s * 2 : 60);
			if (isnan(rows[i].old_value))
				continue;
			dir = rows[i].new_value > rows[i].old_value ? 1 :
			    rows[i].new_value < rows[i].old_value ? -1 : 0;
			gov_note_direction(g, k, dir, t, 1);
		}
		audit_rows_free(rows, n);
	}
	if (audit_last_applied(g->d->audit, &rows, &n) == 0) {
		for (i = 0; i < n; i++) {
			if ((k = gov_knob_find(g, rows[i].knob)) == NULL)
				continue;
			k->last_action_ms = gov_mono_of(rows[i].done_ms ?
			    rows[i].done_ms : rows[i].ts_ms, mono, wall);
			if (!isnan(rows[i].new_value) &&
			    rows[i].kind != AUDIT_TRIGGER)
				k->value = rows[i].new_value;
			free(k->last_strategy);
			k->last_strategy = gov_strdup(rows[i].strategy);
			k->last_priority = gov_priority(g, rows[i].strategy);
		}
		audit_rows_free(rows, n);
	}
	if (audit_awaiting_verify(g->d->audit, &rows, &n) == 0) {
		for (i = 0; i < n; i++) {
			struct gov_job job;

			if ((k = gov_knob_find(g, rows[i].knob)) == NULL ||
			    rows[i].expect_metric == NULL ||
			    rows[i].expect_stat == NULL)
				continue;
			memset(&job, 0, sizeof(job));
			job.id = rows[i].id;
			job.k = k;
			job.strategy = rows[i].strategy != NULL ?
			    rows[i].strategy : "";
			job.expect_metric = rows[i].expect_metric;
			job.expect_stat = rows[i].expect_stat;
			job.expect_dir = rows[i].expect_dir;
			job.baseline = rows[i].baseline;
			job.old_value = rows[i].old_value;
			gov_verify_add(g, &job, gov_mono_of(
			    rows[i].verify_due_ms, mono, wall));
		}
		if (n > 0)
			log_info("governor: %zu verifications carried over "
			    "from before the restart", n);
		audit_rows_free(rows, n);
	}
}

/*
 * Open the actuators, build the knob table, rebuild state from the log
 * (d->audit; blocks on it).  Returns 0, or -1 with the reasons logged
 * and nothing kept.
 */
int
governor_start(struct daemon *d)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct governor		*g;
	size_t			 i;

	g = xcalloc(1, sizeof(*g));
	g->d = d;
	g->clock = gov_clock;
	TAILQ_INIT(&g->jobs);
	TAILQ_INIT(&g->reconciles);
	if ((g->acts = actuators_new(d->base, d->conf, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++)
			log_warnx("governor: %s", errs.v[i]);
		config_errors_clear(&errs);
		free(g);
		return -1;
	}
	d->governor = g;
	gov_knobs_sync(g, d->conf);
	if (d->audit != NULL)
		gov_rebuild(g);
	log_info("governor: %zu knobs%s", g->nknobs,
	    d->conf->dry_run ? ", dry run" : "");
	return 0;
}

/*
 * Stop: cancel what is in flight (those rows stay pending and the next
 * start reconciles them) and free everything.  A job still waiting for
 * its pending row is handed to the audit log's callback, which frees it.
 */
void
governor_stop(struct daemon *d)
{
	struct governor		*g = d->governor;
	struct gov_job		*job;
	struct gov_reconcile	*rc;
	size_t			 i;

	if (g == NULL)
		return;
	if (g->njobs > 0)
		log_warnx("governor: stopping with %zu actions in flight; "
		    "their rows stay pending and are reconciled at the next "
		    "start", g->njobs);
	/* Cancels every operation: their callbacks never run. */
	actuators_free(g->acts);
	while ((job = TAILQ_FIRST(&g->jobs)) != NULL) {
		TAILQ_REMOVE(&g->jobs, job, entry);
		job->g = NULL;
		if (job->op != NULL)
			gov_job_free(job);
	}
	while ((rc = TAILQ_FIRST(&g->reconciles)) != NULL)
		gov_reconcile_free(rc);
	for (i = 0; i < g->nknobs; i++)
		gov_knob_clear(&g->knobs[i]);
	free(g->knobs);
	for (i = 0; i < g->nprops; i++)
		gov_prop_clear(&g->props[i]);
	free(g->props);
	for (i = 0; i < g->nverifs; i++)
		gov_verify_clear(&g->verifs[i]);
	free(g->verifs);
	free(g->actions);
	for (i = 0; i < g->nlast; i++) {
		free(g->last[i].strategy);
		free(g->last[i].text);
	}
	free(g->last);
	free(g);
	d->governor = NULL;
}

/*
 * Whether configuration c's actuators can be set up on base: each backend
 * checks its own settings (a loopback URL, an allow list, ...).  Returns
 * 0, or -1 with each reason appended to errs as "FILE: actuators: ...".
 * For -t and before a reload.
 */
int
governor_check_actuators(struct event_base *base, const struct mt_config *c,
    struct conf_errors *errs)
{
	struct actuators	*na;
	size_t			 before = errs->n, i;
	char			*line;

	if ((na = actuators_new(base, c, errs)) != NULL) {
		actuators_free(na);
		return 0;
	}
	for (i = before; i < errs->n; i++) {
		xasprintf(&line, "%s: actuators: %s", c->file, errs->v[i]);
		free(errs->v[i]);
		errs->v[i] = line;
	}
	return -1;
}

/*
 * Before a reload touches anything: refuse it while actions or reads are
 * in flight (their actuators would go), or when the new actuators cannot
 * be set up.
 */
int
governor_check(struct daemon *d, const struct mt_config *nc)
{
	struct conf_errors	 errs = { NULL, 0 };
	size_t			 busy, i;
	int			 r;

	if ((busy = governor_in_flight(d->governor)) > 0) {
		log_warnx("governor: %zu actions or reads in flight; reload "
		    "again when they finish", busy);
		return -1;
	}
	r = governor_check_actuators(d->base, nc, &errs);
	for (i = 0; i < errs.n; i++)
		log_warnx("%s", errs.v[i]);
	config_errors_clear(&errs);
	return r;
}

/*
 * New knobs and actuators.  Refused (-1, nothing changed) while anything
 * is in flight: an action holds a pointer to its knob, which the new
 * table replaces, and every operation belongs to the old actuators,
 * whose freeing would cancel it; the daemon keeps the old configuration
 * and a later reload succeeds.
 */
int
governor_reload(struct daemon *d, const struct mt_config *nc)
{
	struct governor		*g = d->governor;
	struct conf_errors	 errs = { NULL, 0 };
	struct actuators	*na;
	size_t			 i, busy;

	if ((busy = governor_in_flight(g)) > 0) {
		log_warnx("governor: %zu actions or reads in flight; reload "
		    "again when they finish", busy);
		return -1;
	}
	if ((na = actuators_new(d->base, nc, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++)
			log_warnx("governor: %s", errs.v[i]);
		config_errors_clear(&errs);
		return -1;
	}
	actuators_free(g->acts);
	g->acts = na;
	gov_knobs_sync(g, nc);
	return 0;
}
