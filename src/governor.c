/*
 * governor.c -- strategies propose, the governor decides.
 *
 * Each tick's proposals are judged in the order of DESIGN.md:
 *  1. the knob (MT_ACT_SET) or trigger (MT_ACT_TRIGGER) is configured
 *     as such ("triggers" declares triggers) and not marked manual;
 *  2. a knob's value is clamped to [min, max] and to max_step_pct of the
 *     current value (a proposal that then changes nothing is refused); a
 *     trigger's argument outside [min, max] is refused, never clamped;
 *  3. the same strategy has asked for the same direction for for_s,
 *     every tick (each strategy keeps its own run);
 *  4. it is not in flight or being verified; not frozen for flapping,
 *     the knob as a whole or for this strategy alone; not cooling down
 *     (the knob's cooldown_s after any action), not held for this
 *     strategy after a rollback of its own change, not backing off after
 *     a failure of its actuator; and the hourly action budget, triggers
 *     included, is not spent (actions in flight count);
 *  5. the knob's owner, if any, proposed it; of several proposals for one
 *     name in a tick the highest priority wins; a proposal that reverses
 *     a higher-priority change within flap_window_s is refused;
 *  6. while paused nothing is applied; in a dry run (-n, "dry_run", mode
 *     "advise") it is recorded as dry_run and nothing is applied, one
 *     row per knob and direction per cooldown (the repeats in between
 *     are counted in the decisions table);
 *  7. otherwise: the baselines of the expectation and of the guards are
 *     read from this tick's snapshot, a pending row is committed, a knob
 *     is read (a value other than the one meshtune last set marks it
 *     manual and the row is rejected), set or fired, and the row updated
 *     to applied or failed;
 *  8. verify_s after a knob's change, governor_verdict.c judges it by the
 *     strategy's expectation and the guards (the knob's and the
 *     governor's): kept, rolled back (a rollback row), or, when nothing
 *     could judge it and the knob sets keep_unjudged, unverified.  A
 *     trigger is not verified: nothing can undo it.  A rollback that
 *     cannot start or fails is tried again after ROLLBACK_RETRY_S,
 *     doubled each time, ROLLBACK_TRIES times in all; the knob stays
 *     "verifying" meanwhile, so nothing else moves it.  After the last
 *     try the action's outcome stays empty and the next start judges it
 *     again.
 * A rollback holds the strategy whose change it undid off that knob for
 * cooldown_s doubled once per rollback of its changes there in the last
 * hour, and counts toward that strategy's flap freeze; other strategies
 * wait only for the knob's own cooldown.  A failed action starts the
 * knob's cooldown, doubled for each failure in a row (FAIL_BACKOFF_MAX_S
 * at most).
 *
 * Every readback_s the knobs meshtune manages are read back (actuator
 * operations are asynchronous); a value meshtune did not set marks the
 * knob manual (an events row with the old and the new value) until
 * governor_resume, and ends its pending verification.
 *
 * Every refusal has a reason code, counted in the audit log's decisions
 * table, at most refused_names_max names per (strategy, reason).  The
 * budget, flap history, holds, failure back-off, each knob's value and
 * pending verifications (at their original due time) are rebuilt from
 * the audit log at start; rows left pending are read back and
 * reconciled, an applied one counting as an action made then.
 *
 * Time: every monotonic instant comes from governor_decide's now_ms or
 * from g->clock (clock_mono_ms unless a test set governor_clock), so a
 * fake clock drives all of it.  Wall time only maps the log's timestamps.
 * A reload is refused while an action or a reconciliation is in flight
 * (governor_in_flight): jobs point into the knob table and operations
 * belong to the actuators a reload replaces; read-backs are cancelled.
 */
#include <sys/types.h>
#include <sys/queue.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <event2/event.h>

#include "meshtuned.h"
#include "meshtune/strategy.h"

#define COOLDOWN_MAX_S		86400	/* rollback holds double up to this */
#define FAIL_BACKOFF_MAX_S	3600	/* failures double the wait to this */
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

/* What rollbacks of one strategy's changes to one knob cost it. */
struct gov_hold {
	char		*strategy;
	uint64_t	 rollbacks[FLAP_HISTORY]; /* ring of their times */
	unsigned int	 nrollbacks;
	uint64_t	 until_ms;	/* held off the knob until */
	int64_t		 held_s;	/* the length of that hold */
	uint64_t	 frozen_until_ms; /* flapping: frozen for it alone */
};

/* The last action on a knob, whatever became of it, for /v1/knobs. */
struct gov_lastact {
	int64_t		 id;		/* 0 until the row is committed */
	const char	*kind;		/* "set", "trigger", "rollback" */
	const char	*status;	/* "pending", "applied", ... */
	char		*strategy;
	double		 old_value, new_value;
	uint64_t	 wall_ms;	/* 0: none */
};

struct gov_read;

/* A knob or a trigger (trigger set) and what the governor knows of it. */
struct gov_knob {
	char		*name;
	int		 trigger;
	double		 value;		/* knob: believed in effect; trigger:
					   the last argument; NAN unknown */
	int		 manual;	/* changed behind meshtune's back */
	double		 manual_old;	/* what meshtune had set */
	double		 manual_new;	/* what it read instead */
	uint64_t	 manual_wall_ms;
	int		 busy;		/* an action in flight */
	uint64_t	 gen;		/* actions started on it so far */
	struct gov_read	*reading;	/* a read-back in flight */
	int		 read_failing;	/* the last read-back failed */
	uint64_t	 last_action_ms; /* monotonic; 0: never */
	int		 last_dir;	/* -1, +1, 0 */
	char		*last_strategy;	/* who made the last change */
	int		 last_priority;
	char		*cool_by;	/* whose action started the cooldown */
	int		 cool_rollback;	/* ... a rollback of its change */
	struct gov_lastact last;
	uint64_t	 reversals[FLAP_HISTORY]; /* ring of reversal times */
	char		*reversed_by[FLAP_HISTORY]; /* and who made them */
	unsigned int	 nreversals;
	uint64_t	 frozen_until_ms;
	char		*frozen_by;	/* strategies whose reversals froze it */
	int64_t		 verifying;	/* action id under verification */
	unsigned int	 failures;	/* actuator failures in a row */
	uint64_t	 backoff_until_ms;
	char		*backoff_error;
	uint64_t	 dry_ms;	/* last dry_run row written; 0: none */
	int		 dry_dir;
	struct gov_hold	*holds;		/* one per strategy rolled back */
	size_t		 nholds;
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
	int		 contender;	/* may win a conflict (gov_contender) */
};

/*
 * An applied change waiting for its verification time, or (tries > 0) a
 * rollback waiting to be tried again.  The checks' strings are owned.
 */
struct gov_verify {
	int64_t		 id;
	char		*knob;
	char		*strategy;
	struct verdict_check exp;	/* the strategy's expectation */
	struct verdict_check *guards;
	size_t		 nguards;
	double		 old_value;	/* to roll back to */
	uint64_t	 due_ms;	/* monotonic */
	unsigned int	 tries;		/* >0: a rollback to try again */
	char		*verdict;	/* rollback: the verdict, JSON */
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
	struct verdict_check exp;	/* a change: what verifies it */
	struct verdict_check *guards;
	size_t		 nguards;
	int64_t		 verify_s;
	unsigned int	 tries;		/* rollback: attempts so far */
	char		*verdict;	/* rollback: the parent's verdict */
};

/* A periodic read of a knob meshtune manages. */
struct gov_read {
	TAILQ_ENTRY(gov_read) entry;
	struct governor	*g;
	char		*knob;
	uint64_t	 gen;		/* the knob's gen when it started */
	struct actuator_op *op;
};

struct gov_last {
	char		*strategy;
	char		*text;
	uint64_t	 wall_ms;
};

TAILQ_HEAD(gov_jobs, gov_job);
TAILQ_HEAD(gov_reads, gov_read);
TAILQ_HEAD(gov_reconciles, gov_reconcile);

struct governor {
	struct daemon		*d;
	uint64_t		(*clock)(void);	/* monotonic ms */
	struct actuators	*acts;
	struct gov_knob		*knobs;		/* knobs, then triggers */
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
	struct gov_reads	 reads;		/* read-backs in flight */
	size_t			 nreads;
	struct event		*ev_readback;
	int64_t			 readback_s;	/* ev_readback's period */
	struct gov_reconciles	 reconciles;	/* reads of pending rows */
};

/* The monotonic clock of governors started from now on (tests: fake). */
static uint64_t	(*gov_clock)(void) = clock_mono_ms;

static void	gov_job_pending_cb(int64_t, void *);
static void	gov_job_free(struct gov_job *);
static void	gov_rollback_later(struct governor *, const struct gov_verify *,
		    uint64_t);
static void	gov_verify_clear(struct gov_verify *);
static void	gov_readback_timer(struct governor *);

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

/* The configuration of a knob or trigger. */
static const struct mt_knob_conf *
gov_conf(struct governor *g, const struct gov_knob *k)
{
	return k->trigger ? config_trigger(g->d->conf, k->name) :
	    config_knob(g->d->conf, k->name);
}

static char *
gov_strdup(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* Two values the same, as far as a read back can tell. */
static int
gov_same(double a, double b)
{
	return fabs(a - b) <= 1e-9 * fmax(1, fabs(b));
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

/* Count a proposal under reason code in the decisions table. */
static void
gov_count(struct governor *g, const struct gov_prop *p, const char *code)
{
	if (g->d->audit != NULL)
		(void)audit_decision_capped(g->d->audit, p->strategy, p->knob,
		    code, (int)g->d->conf->refused_names_max);
}

/* Refuse a proposal: count it in the decisions table and say why. */
static void
gov_refuse(struct governor *g, const struct gov_prop *p, const char *code,
    const char *detail)
{
	log_debug("governor: %s on %s refused: %s%s%s", p->strategy, p->knob,
	    code, detail ? ": " : "", detail ? detail : "");
	gov_count(g, p, code);
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

/* Entries of a ring of times within window_ms before now_ms. */
static unsigned int
gov_ring_count(const uint64_t *ring, unsigned int n, uint64_t now_ms,
    uint64_t window_ms)
{
	unsigned int	i, c = 0, have = n < FLAP_HISTORY ? n : FLAP_HISTORY;

	for (i = 0; i < have; i++)
		if (now_ms - ring[i] < window_ms)
			c++;
	return c;
}

/* Strategies of the reversals within window_ms, "a,b"; caller frees. */
static char *
gov_reversers(const struct gov_knob *k, uint64_t now_ms, uint64_t window_ms)
{
	unsigned int	i, have = k->nreversals < FLAP_HISTORY ?
			    k->nreversals : FLAP_HISTORY;
	char		*s = xstrdup(""), *t, *tok, *dup, *save;
	const char	*who;
	int		 seen;

	for (i = 0; i < have; i++) {
		if (now_ms - k->reversals[i] >= window_ms)
			continue;
		who = k->reversed_by[i] != NULL ? k->reversed_by[i] : "?";
		seen = 0;
		dup = xstrdup(s);
		for (tok = strtok_r(dup, ",", &save); tok != NULL;
		    tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, who) == 0)
				seen = 1;
		free(dup);
		if (seen)
			continue;
		xasprintf(&t, "%s%s%s", s, *s != '\0' ? "," : "", who);
		free(s);
		s = t;
	}
	return s;
}

/*
 * A change by strategy in direction dir was applied at now_ms: track
 * flapping.  A freeze is recorded in the events table unless replaying
 * (rebuild).
 */
static void
gov_note_direction(struct governor *g, struct gov_knob *k, int dir,
    const char *strategy, uint64_t now_ms, int replay)
{
	const struct mt_config	*c = g->d->conf;
	uint64_t		 window = (uint64_t)c->flap_window_s * 1000;
	unsigned int		 slot, n;
	char			*msg;

	if (k->last_dir != 0 && dir != 0 && dir != k->last_dir) {
		slot = k->nreversals++ % FLAP_HISTORY;
		k->reversals[slot] = now_ms;
		free(k->reversed_by[slot]);
		k->reversed_by[slot] = gov_strdup(strategy);
		n = gov_ring_count(k->reversals, k->nreversals, now_ms,
		    window);
		if (n >= (unsigned int)c->flap_reversals) {
			k->frozen_until_ms = now_ms + window;
			free(k->frozen_by);
			k->frozen_by = gov_reversers(k, now_ms, window);
			if (!replay) {
				xasprintf(&msg, "knob frozen for %lld s: %u "
				    "direction reversals in %lld s, by %s",
				    (long long)c->flap_window_s, n,
				    (long long)c->flap_window_s, k->frozen_by);
				log_warnx("governor: %s: %s", k->name, msg);
				if (g->d->audit != NULL)
					(void)audit_event(g->d->audit, "flap",
					    k->name, msg, NULL);
				free(msg);
			}
		}
	}
	if (dir != 0)
		k->last_dir = dir;
}

static struct gov_hold *
gov_hold_find(struct gov_knob *k, const char *strategy, int create)
{
	struct gov_hold	*h;
	size_t		 i;

	for (i = 0; i < k->nholds; i++)
		if (strcmp(k->holds[i].strategy, strategy) == 0)
			return &k->holds[i];
	if (!create)
		return NULL;
	k->holds = xreallocarray(k->holds, k->nholds + 1, sizeof(*h));
	h = &k->holds[k->nholds++];
	memset(h, 0, sizeof(*h));
	h->strategy = xstrdup(strategy);
	return h;
}

/*
 * A change of strategy's to knob k was rolled back at now_ms: hold that
 * strategy off k for cooldown_s (30 s if 0) doubled once per rollback of
 * its changes to k in the last hour (COOLDOWN_MAX_S at most), and count
 * the rollback toward its flap freeze.
 * The knob's direction history starts again: the knob is back where it
 * was, and the next change is no reversal of this one.
 */
static void
gov_note_rollback(struct governor *g, struct gov_knob *k,
    const char *strategy, uint64_t now_ms, int replay)
{
	const struct mt_config		*c = g->d->conf;
	const struct mt_knob_conf	*kc = gov_conf(g, k);
	uint64_t			 window = (uint64_t)c->flap_window_s *
					    1000;
	struct gov_hold			*h;
	unsigned int			 n, i;
	int64_t				 held;
	char				*msg;

	k->last_dir = 0;
	if (strategy == NULL)
		return;
	h = gov_hold_find(k, strategy, 1);
	h->rollbacks[h->nrollbacks++ % FLAP_HISTORY] = now_ms;
	n = gov_ring_count(h->rollbacks, h->nrollbacks, now_ms,
	    BUDGET_WINDOW_MS);
	/* As long as the old rule: 60 s after a first rollback at 0. */
	held = kc != NULL && kc->cooldown_s > 0 ? kc->cooldown_s : 30;
	for (i = 0; i < n && held < COOLDOWN_MAX_S; i++)
		held *= 2;
	if (held > COOLDOWN_MAX_S)
		held = COOLDOWN_MAX_S;
	h->held_s = held;
	h->until_ms = now_ms + (uint64_t)held * 1000;
	n = gov_ring_count(h->rollbacks, h->nrollbacks, now_ms, window);
	if (n < (unsigned int)c->flap_reversals)
		return;
	h->frozen_until_ms = now_ms + window;
	if (replay)
		return;
	xasprintf(&msg, "frozen for strategy %s for %lld s: %u of its changes "
	    "rolled back in %lld s", strategy, (long long)c->flap_window_s, n,
	    (long long)c->flap_window_s);
	log_warnx("governor: %s: %s", k->name, msg);
	if (g->d->audit != NULL)
		(void)audit_event(g->d->audit, "flap", k->name, msg, NULL);
	free(msg);
}

/* An action on k failed at now_ms: back off, longer after each failure. */
static void
gov_note_failure(struct governor *g, struct gov_knob *k, const char *error,
    uint64_t now_ms)
{
	const struct mt_knob_conf	*kc = gov_conf(g, k);
	int64_t				 wait;
	unsigned int			 i;

	k->failures++;
	wait = kc != NULL && kc->cooldown_s > 0 ? kc->cooldown_s : 1;
	for (i = 1; i < k->failures && wait < FAIL_BACKOFF_MAX_S; i++)
		wait *= 2;
	if (wait > FAIL_BACKOFF_MAX_S)
		wait = FAIL_BACKOFF_MAX_S;
	k->backoff_until_ms = now_ms + (uint64_t)wait * 1000;
	free(k->backoff_error);
	k->backoff_error = gov_strdup(error);
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

/*
 * Whether proposal p may compete for its knob at all: of the right kind,
 * within a trigger's range, a change, from the owner if there is one.
 * One that will be refused for what it is must not outrank the others.
 */
static int
gov_contender(struct governor *g, const struct gov_prop *p)
{
	const struct mt_knob_conf	*kc;
	struct gov_knob			*k = gov_knob_find(g, p->knob);
	int				 trigger = p->kind == MT_ACT_TRIGGER;

	kc = trigger ? config_trigger(g->d->conf, p->knob) :
	    config_knob(g->d->conf, p->knob);
	if (kc == NULL || k == NULL || k->trigger != trigger ||
	    (kc->owner != NULL && strcmp(kc->owner, p->strategy) != 0))
		return 0;
	if (trigger)
		return p->value >= kc->min && p->value <= kc->max;
	return isnan(k->value) || gov_clamp(kc, k->value, p->value) !=
	    k->value;
}

/*
 * Of several proposals for one name in a tick, the highest priority wins
 * (the first of equals); only contenders count.
 */
static int
gov_outranked(struct governor *g, size_t i)
{
	const struct gov_prop	*p = &g->props[i];
	size_t			 j;

	for (j = 0; j < g->nprops; j++) {
		const struct gov_prop *o = &g->props[j];

		if (j == i || !o->contender || strcmp(o->knob, p->knob) != 0)
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
	free(k->last.strategy);
	free(k->cool_by);
	free(k->frozen_by);
	free(k->backoff_error);
	for (i = 0; i < FLAP_HISTORY; i++)
		free(k->reversed_by[i]);
	for (i = 0; i < k->nholds; i++)
		free(k->holds[i].strategy);
	free(k->holds);
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

/* An action of strategy's (or a rollback of its change) applied at when. */
static void
gov_cooldown_from(struct gov_knob *k, uint64_t when, const char *strategy,
    int rollback)
{
	k->last_action_ms = when;
	free(k->cool_by);
	k->cool_by = strategy != NULL ? xstrdup(strategy) : NULL;
	k->cool_rollback = rollback;
}

/* Record the newest action on k for /v1/knobs. */
static void
gov_last_action(struct gov_knob *k, int64_t id, enum audit_kind kind,
    enum audit_status status, const char *strategy, double old_value,
    double new_value)
{
	k->last.id = id;
	k->last.kind = audit_kind_name(kind);
	k->last.status = audit_status_name(status);
	free(k->last.strategy);
	k->last.strategy = gov_strdup(strategy);
	k->last.old_value = old_value;
	k->last.new_value = new_value;
	k->last.wall_ms = clock_wall_ms();
}

/* Copy n checks, their strings included (verdict_checks_free). */
static struct verdict_check *
gov_checks_dup(const struct verdict_check *c, size_t n)
{
	struct verdict_check	*d;
	size_t			 i;

	if (n == 0)
		return NULL;
	d = xcalloc(n, sizeof(*d));
	for (i = 0; i < n; i++) {
		d[i] = c[i];
		d[i].metric = gov_strdup(c[i].metric);
		d[i].stat = gov_strdup(c[i].stat);
	}
	return d;
}

/*
 * Read statistic stat of series metric from snapshot t into *v and the
 * window's sample count into *count; NAN and the reason (for the
 * verdict) in *missing when it cannot be read.
 */
static void
gov_read_stat(struct tick *t, const char *metric, const char *stat,
    double *v, uint64_t *count, const char **missing)
{
	const struct series_stats	*st;
	struct series			*s;
	int				 r;

	*v = NAN;
	*count = 0;
	*missing = NULL;
	if (metric == NULL || stat == NULL) {
		*missing = "no metric stated";
		return;
	}
	if ((st = tick_stats(t, metric, &s)) == NULL) {
		*missing = "no such series";
		return;
	}
	*count = st->w.count;
	if ((r = tick_stat_value(st, series_type(s), stat, v)) == MT_OK)
		return;
	*v = NAN;
	*missing = r == MT_ENOENT ? "no such statistic for this series" :
	    "no data in the window";
}

/*
 * The guards of knob kc: the governor's, each replaced by the knob's own
 * guard on the same metric and statistic, then the knob's other ones.
 * Baselines are read from t.  Returns a new array (verdict_checks_free)
 * of *np checks.
 */
static struct verdict_check *
gov_guards(struct governor *g, const struct mt_knob_conf *kc,
    struct tick *t, size_t *np)
{
	const struct mt_config	*c = g->d->conf;
	struct verdict_check	*v, *d;
	const char		*missing;
	size_t			 n = 0, i;

	v = xcalloc(c->guards.n + kc->guards.n + 1, sizeof(*v));
	CONF_FOREACH(struct mt_guard_conf, gd, c->guards) {
		int own = 0;

		CONF_FOREACH(struct mt_guard_conf, kg, kc->guards)
			if (strcmp(kg->metric, gd->metric) == 0 &&
			    strcmp(kg->stat, gd->stat) == 0)
				own = 1;
		if (own)
			continue;
		v[n].metric = gd->metric;
		v[n].stat = gd->stat;
		v[n].dir = isnan(gd->max_rise_pct) ? -1 : 1;
		v[n].tolerance_pct = isnan(gd->max_rise_pct) ?
		    gd->max_fall_pct : gd->max_rise_pct;
		n++;
	}
	CONF_FOREACH(struct mt_guard_conf, kg, kc->guards) {
		v[n].metric = kg->metric;
		v[n].stat = kg->stat;
		v[n].dir = isnan(kg->max_rise_pct) ? -1 : 1;
		v[n].tolerance_pct = isnan(kg->max_rise_pct) ?
		    kg->max_fall_pct : kg->max_rise_pct;
		n++;
	}
	for (i = 0; i < n; i++) {
		gov_read_stat(t, v[i].metric, v[i].stat, &v[i].before,
		    &v[i].count_before, &missing);
		if (v[i].count_before < VERDICT_MIN_SAMPLES)
			v[i].before = NAN;
		v[i].after = NAN;
		v[i].change_pct = NAN;
	}
	*np = n;
	d = gov_checks_dup(v, n);
	free(v);
	return d;
}

/*
 * The expectation of proposal p with its baseline: the host's, if it read
 * one, else read from t.  A baseline from fewer than VERDICT_MIN_SAMPLES
 * samples is none.  Strings point into p.
 */
static void
gov_expectation(const struct gov_prop *p, struct tick *t,
    struct verdict_check *e)
{
	const char	*missing;

	memset(e, 0, sizeof(*e));
	e->metric = p->expect_metric;
	e->stat = p->expect_stat;
	e->dir = p->expect_dir;
	e->after = e->change_pct = NAN;
	e->before = p->baseline;
	e->count_before = p->baseline_count;
	if (isnan(e->before) && e->metric != NULL && e->stat != NULL)
		gov_read_stat(t, e->metric, e->stat, &e->before,
		    &e->count_before, &missing);
	if (e->count_before < VERDICT_MIN_SAMPLES)
		e->before = NAN;
}

/* Judge one proposal; returns 1 if it became an action (or dry_run row). */
static int
gov_judge(struct governor *g, size_t idx, struct tick *t, uint64_t now_ms)
{
	const struct mt_config		*c = g->d->conf;
	struct gov_prop			*p = &g->props[idx];
	const struct mt_knob_conf	*kc;
	struct gov_knob			*k;
	struct gov_hold			*h;
	struct gov_job			*job;
	struct audit_action		 row;
	char				 why[200];
	double				 target;
	uint64_t			 fold_ms;
	int				 dir = 0, trigger;

	/* 1. known as what it is proposed as, not manual */
	trigger = p->kind == MT_ACT_TRIGGER;
	k = gov_knob_find(g, p->knob);
	kc = trigger ? config_trigger(c, p->knob) : config_knob(c, p->knob);
	if (kc == NULL || k == NULL || k->trigger != trigger) {
		if (trigger)
			gov_refuse(g, p, k != NULL ? "not_a_trigger" :
			    "unknown_trigger", NULL);
		else
			gov_refuse(g, p, k != NULL ? "not_a_knob" :
			    "unknown_knob", NULL);
		return 0;
	}
	if (k->manual) {
		gov_refuse(g, p, "manual", "changed outside meshtune; "
		    "meshtunectl resume releases it");
		return 0;
	}
	/* 2. bounds and step; a trigger's range */
	target = p->value;
	if (trigger) {
		if (p->value < kc->min || p->value > kc->max) {
			snprintf(why, sizeof(why), "argument %g outside "
			    "%g..%g", p->value, kc->min, kc->max);
			gov_refuse(g, p, "out_of_range", why);
			return 0;
		}
	} else {
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
	/* 4. in flight, verifying, frozen, cooldown, holds, budget */
	h = gov_hold_find(k, p->strategy, 0);
	if (k->busy) {
		gov_refuse(g, p, "in_flight", NULL);
		return 0;
	}
	if (k->verifying != 0) {
		snprintf(why, sizeof(why), "action %lld", (long long)k->verifying);
		gov_refuse(g, p, "verifying", why);
		return 0;
	}
	if (now_ms < k->frozen_until_ms || (h != NULL &&
	    now_ms < h->frozen_until_ms)) {
		snprintf(why, sizeof(why), "%llu s left, %s",
		    (unsigned long long)(fmax(k->frozen_until_ms,
		    h != NULL ? h->frozen_until_ms : 0) - now_ms) / 1000,
		    now_ms < k->frozen_until_ms ? "the knob" :
		    "for this strategy");
		gov_refuse(g, p, "flapping", why);
		return 0;
	}
	if (k->last_action_ms != 0 &&
	    now_ms - k->last_action_ms < (uint64_t)kc->cooldown_s * 1000) {
		snprintf(why, sizeof(why), "%llu s left, after %s",
		    (unsigned long long)((uint64_t)kc->cooldown_s * 1000 -
		    (now_ms - k->last_action_ms)) / 1000,
		    k->cool_by == NULL ? "an action" : k->cool_rollback ?
		    "a rollback" : k->cool_by);
		gov_refuse(g, p, "cooldown", why);
		return 0;
	}
	if (h != NULL && now_ms < h->until_ms) {
		snprintf(why, sizeof(why), "%llu s left of %lld s after a "
		    "rollback of its change",
		    (unsigned long long)(h->until_ms - now_ms) / 1000,
		    (long long)h->held_s);
		gov_refuse(g, p, "rollback_hold", why);
		return 0;
	}
	if (now_ms < k->backoff_until_ms) {
		snprintf(why, sizeof(why), "%llu s left after %u failures",
		    (unsigned long long)(k->backoff_until_ms - now_ms) / 1000,
		    k->failures);
		gov_refuse(g, p, "failure_backoff", why);
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
	/* A change rolled back (last_dir 0) is undone already. */
	if (k->last_strategy != NULL && k->last_priority > p->priority &&
	    dir != 0 && k->last_dir != 0 && dir != k->last_dir &&
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
	row.kind = trigger ? AUDIT_TRIGGER : AUDIT_SET;
	row.knob = p->knob;
	row.old_value = trigger ? NAN : k->value;
	row.new_value = target;
	row.reason = p->reason;
	row.evidence = p->evidence;
	row.actuator = kc->actuator;
	row.expect_metric = p->expect_metric;
	row.expect_stat = p->expect_stat;
	row.expect_dir = p->expect_dir;
	row.baseline = NAN;
	if (c->dry_run || p->advise) {
		/* One row per knob and direction per cooldown. */
		fold_ms = (uint64_t)(kc->cooldown_s > c->window_seconds ?
		    kc->cooldown_s : c->window_seconds) * 1000;
		if (k->dry_ms != 0 && k->dry_dir == dir &&
		    now_ms - k->dry_ms < fold_ms) {
			gov_count(g, p, "dry_run");
			gov_note(g, p->strategy, "dry run: %s %g -> %g "
			    "(counted)", p->knob, k->value, target);
			return 0;
		}
		k->dry_ms = now_ms;
		k->dry_dir = dir;
		row.status = AUDIT_DRY_RUN;
		if (g->d->audit != NULL)
			(void)audit_action_begin(g->d->audit, &row, NULL, NULL);
		gov_last_action(k, 0, row.kind, AUDIT_DRY_RUN, p->strategy,
		    row.old_value, target);
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
	job->old_value = row.old_value;
	job->target = target;
	job->strategy = xstrdup(p->strategy);
	job->priority = p->priority;
	if (!trigger) {
		/* Every change is judged: the baselines are read now. */
		gov_expectation(p, t, &job->exp);
		job->exp.metric = gov_strdup(job->exp.metric);
		job->exp.stat = gov_strdup(job->exp.stat);
		job->guards = gov_guards(g, kc, t, &job->nguards);
		job->verify_s = kc->verify_s ? kc->verify_s :
		    c->window_seconds;
		row.baseline = job->exp.before;
		row.verdict = verdict_json(NULL, &job->exp, job->guards,
		    job->nguards);
	}
	row.status = AUDIT_PENDING;
	row.verify_s = (int)job->verify_s;
	k->busy = 1;
	k->gen++;
	gov_last_action(k, 0, row.kind, AUDIT_PENDING, p->strategy,
	    row.old_value, target);
	log_info("governor: %s: %s %g -> %g: %s", p->strategy, p->knob,
	    row.old_value, target, p->reason);
	gov_note(g, p->strategy, "applying %s %g -> %g", p->knob,
	    row.old_value, target);
	TAILQ_INSERT_TAIL(&g->jobs, job, entry);
	g->njobs++;
	if (g->d->audit == NULL ||
	    audit_action_begin(g->d->audit, &row, gov_job_pending_cb, job) ==
	    -1) {
		/* No pending row, no actuation. */
		log_warnx("governor: %s: cannot write the pending row; not "
		    "applied", p->knob);
		free((char *)row.verdict);
		gov_job_free(job);
		return 0;
	}
	free((char *)row.verdict);
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
	free((char *)job->exp.metric);
	free((char *)job->exp.stat);
	verdict_checks_free(job->guards, job->nguards);
	free(job->verdict);
	free(job);
}

/* End a job with a failed row and, for actuator trouble, an event. */
static void
gov_job_fail(struct gov_job *job, const char *error)
{
	struct governor	*g = job->g;
	uint64_t	 now = g->clock();

	log_warnx("governor: %s: not applied: %s", job->k->name, error);
	(void)audit_action_update(g->d->audit, job->id, AUDIT_FAILED, NAN,
	    error);
	(void)audit_event(g->d->audit, "actuator_fault", job->k->name, error,
	    NULL);
	gov_note(g, job->strategy, "failed %s: %s", job->k->name, error);
	gov_last_action(job->k, job->id, job->parent_id != 0 ?
	    AUDIT_ROLLBACK : job->kind == MT_ACT_TRIGGER ? AUDIT_TRIGGER :
	    AUDIT_SET, AUDIT_FAILED, job->strategy, job->old_value,
	    job->target);
	if (job->parent_id != 0) {
		struct gov_verify	v = {
			.id = job->parent_id, .knob = job->k->name,
			.strategy = job->strategy, .old_value = job->target,
			.tries = job->tries, .verdict = job->verdict };

		gov_rollback_later(g, &v, now);
	} else
		gov_note_failure(g, job->k, error, now);
	gov_job_free(job);
}

/* Schedule the verification of an applied change; takes its checks. */
static void
gov_verify_add(struct governor *g, struct gov_knob *k, int64_t id,
    const char *strategy, struct verdict_check *exp,
    struct verdict_check *guards, size_t nguards, double old_value,
    uint64_t due_ms)
{
	struct gov_verify	*v;

	g->verifs = xreallocarray(g->verifs, g->nverifs + 1, sizeof(*v));
	v = &g->verifs[g->nverifs++];
	memset(v, 0, sizeof(*v));
	v->id = id;
	v->knob = xstrdup(k->name);
	v->strategy = xstrdup(strategy != NULL ? strategy : "");
	v->exp = *exp;
	v->guards = guards;
	v->nguards = nguards;
	v->old_value = old_value;
	v->due_ms = due_ms;
	k->verifying = id;
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
	if (job->kind == MT_ACT_TRIGGER)
		in_effect = job->target;
	(void)audit_action_update(g->d->audit, job->id, AUDIT_APPLIED,
	    in_effect, NULL);
	gov_last_action(k, job->id, job->parent_id != 0 ? AUDIT_ROLLBACK :
	    job->kind == MT_ACT_TRIGGER ? AUDIT_TRIGGER : AUDIT_SET,
	    AUDIT_APPLIED, job->strategy, job->old_value, in_effect);
	k->value = in_effect;
	k->failures = 0;
	k->backoff_until_ms = 0;
	gov_cooldown_from(k, now, job->strategy, job->parent_id != 0);
	gov_count_action(g, now);
	if (job->parent_id != 0) {
		/* The strategy whose change it undid pays for it. */
		gov_note_rollback(g, k, job->strategy, now, 0);
		(void)audit_action_judged(g->d->audit, job->parent_id,
		    AUDIT_ROLLED_BACK, job->verdict);
		gov_note(g, job->strategy, "rolled back %s to %g",
		    k->name, in_effect);
		gov_job_free(job);
		return;
	}
	free(k->last_strategy);
	k->last_strategy = xstrdup(job->strategy);
	k->last_priority = job->priority;
	if (job->kind == MT_ACT_TRIGGER) {
		gov_note(g, job->strategy, "fired %s (%g)", k->name,
		    in_effect);
		gov_job_free(job);
		return;
	}
	dir = isnan(job->old_value) ? 0 : in_effect > job->old_value ? 1 :
	    in_effect < job->old_value ? -1 : 0;
	gov_note_direction(g, k, dir, job->strategy, now, 0);
	gov_note(g, job->strategy, "applied %s %g -> %g", k->name,
	    job->old_value, in_effect);
	gov_verify_add(g, k, job->id, job->strategy, &job->exp, job->guards,
	    job->nguards, job->old_value, now + (uint64_t)job->verify_s * 1000);
	memset(&job->exp, 0, sizeof(job->exp));
	job->guards = NULL;
	job->nguards = 0;
	gov_job_free(job);
}

static void
gov_job_set(struct gov_job *job)
{
	struct governor			*g = job->g;
	const struct mt_knob_conf	*kc = gov_conf(g, job->k);
	struct actuator			*a;

	if (kc == NULL || (a = actuators_find(g->acts, kc->actuator)) ==
	    NULL) {
		gov_job_fail(job, "knob or actuator no longer configured");
		return;
	}
	job->op = actuator_set(a, kc, job->target, gov_job_set_cb, job);
}

/* Remove every verification (or rollback retry) of k; they are done. */
static void
gov_verify_drop(struct governor *g, struct gov_knob *k,
    void (*fn)(struct governor *, const struct gov_verify *, void *),
    void *arg)
{
	struct gov_verify	v;
	size_t			i = 0;

	while (i < g->nverifs) {
		if (strcmp(g->verifs[i].knob, k->name) != 0) {
			i++;
			continue;
		}
		v = g->verifs[i];
		g->verifs[i] = g->verifs[--g->nverifs];
		if (fn != NULL)
			fn(g, &v, arg);
		gov_verify_clear(&v);
	}
	k->verifying = 0;
}

/* A change under verification whose knob was taken over by hand. */
static void
gov_verify_manual(struct governor *g, const struct gov_verify *v, void *arg)
{
	const char	*verdict = arg;

	(void)audit_action_judged(g->d->audit, v->id, AUDIT_UNVERIFIED,
	    verdict);
}

/*
 * Knob k reads new_value where meshtune had set old_value: someone else
 * changed it.  Mark it manual (an events row), leave it alone until
 * resumed, and end its verification (unverified: the operator decides).
 */
static void
gov_mark_manual(struct governor *g, struct gov_knob *k, double new_value,
    const char *how)
{
	cJSON	*o;
	char	*detail, *verdict, *msg;
	double	 old_value = k->value;

	k->manual = 1;
	k->manual_old = old_value;
	k->manual_new = new_value;
	k->manual_wall_ms = clock_wall_ms();
	k->value = new_value;
	xasprintf(&msg, "knob reads %g but meshtune last set %g: changed "
	    "outside meshtune (seen %s); left alone until meshtunectl resume "
	    "%s", new_value, old_value, how, k->name);
	if ((o = cJSON_CreateObject()) == NULL ||
	    cJSON_AddNumberToObject(o, "old", old_value) == NULL ||
	    cJSON_AddNumberToObject(o, "new", new_value) == NULL ||
	    cJSON_AddStringToObject(o, "seen", how) == NULL ||
	    (detail = number_json_print(o)) == NULL)
		fatalx("%s: out of memory", __func__);
	if (cJSON_AddStringToObject(o, "outcome", "unverified") == NULL ||
	    cJSON_AddStringToObject(o, "decided_by", "manual") == NULL ||
	    (verdict = number_json_print(o)) == NULL)
		fatalx("%s: out of memory", __func__);
	cJSON_Delete(o);
	log_warnx("governor: %s: %s", k->name, msg);
	if (g->d->audit != NULL) {
		(void)audit_event(g->d->audit, "manual_change", k->name, msg,
		    detail);
		gov_verify_drop(g, k, gov_verify_manual, verdict);
	} else
		gov_verify_drop(g, k, NULL, NULL);
	free(detail);
	free(verdict);
	free(msg);
}

/*
 * The knob as read before the set: if it is not what meshtune last set,
 * someone else changed it; mark it manual, reject the action (a rollback
 * too: the operator's value wins) and leave the knob alone.
 */
static void
gov_job_read_cb(const struct actuator_result *r, void *arg)
{
	struct gov_job	*job = arg;
	struct gov_knob	*k = job->k;
	struct governor	*g = job->g;
	char		 msg[256];

	job->op = NULL;
	if (r->ok && r->readback && !isnan(r->value) && !isnan(k->value) &&
	    !gov_same(r->value, k->value)) {
		snprintf(msg, sizeof(msg), "knob reads %g but meshtune last "
		    "set %g: changed outside meshtune, left alone until "
		    "resumed", r->value, k->value);
		(void)audit_action_update(g->d->audit, job->id, AUDIT_REJECTED,
		    NAN, msg);
		gov_last_action(k, job->id, job->parent_id != 0 ?
		    AUDIT_ROLLBACK : AUDIT_SET, AUDIT_REJECTED, job->strategy,
		    job->old_value, job->target);
		if (job->parent_id != 0) {
			/* The parent waits for this rollback: not verifying. */
			struct gov_verify v = { .id = job->parent_id,
			    .knob = k->name };

			gov_verify_manual(g, &v, "{\"outcome\":\"unverified\","
			    "\"decided_by\":\"manual\"}");
		}
		gov_mark_manual(g, k, r->value, "before an action");
		gov_note(g, job->strategy, "%s marked manual", k->name);
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
	job->k->last.id = id;
	kc = gov_conf(g, job->k);
	if (kc == NULL || (a = actuators_find(g->acts, kc->actuator)) ==
	    NULL) {
		gov_job_fail(job, "knob or actuator no longer configured");
		return;
	}
	/* A trigger has no value to compare: fire it. */
	if (job->kind == MT_ACT_TRIGGER)
		job->op = actuator_set(a, kc, job->target, gov_job_set_cb, job);
	else
		job->op = actuator_get(a, kc, gov_job_read_cb, job);
}

/*
 * Start rolling the knob of verification v back to its old value, with
 * reason and evidence for the row and the verdict for the parent's;
 * v->tries rollbacks of it were tried before.  If it cannot start now
 * (the knob is busy or no longer configured, the log refused the row),
 * that counts as a try and it is tried again later.
 */
static void
gov_rollback(struct governor *g, struct gov_knob *k,
    const struct gov_verify *v, const char *reason, const char *evidence,
    const char *verdict, uint64_t now_ms)
{
	const struct mt_knob_conf	*kc = gov_conf(g, k);
	struct gov_verify		 tried = *v;
	struct audit_action		 row;
	struct gov_job			*job;

	tried.tries++;
	tried.verdict = (char *)verdict;
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
	job->verdict = gov_strdup(verdict);
	k->busy = 1;
	k->gen++;
	gov_last_action(k, 0, AUDIT_ROLLBACK, AUDIT_PENDING, v->strategy,
	    k->value, v->old_value);
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
		    v->verdict);
		free(msg);
		return;
	}
	g->verifs = xreallocarray(g->verifs, g->nverifs + 1, sizeof(*r));
	r = &g->verifs[g->nverifs++];
	memset(r, 0, sizeof(*r));
	r->id = v->id;
	r->knob = xstrdup(v->knob);
	r->strategy = xstrdup(v->strategy);
	r->old_value = v->old_value;
	r->tries = v->tries;
	r->verdict = gov_strdup(v->verdict);
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
		gov_rollback(g, k, v, reason, NULL, v->verdict, now_ms);
	free(reason);
}

static void
gov_verify_clear(struct gov_verify *v)
{
	free(v->knob);
	free(v->strategy);
	free((char *)v->exp.metric);
	free((char *)v->exp.stat);
	verdict_checks_free(v->guards, v->nguards);
	free(v->verdict);
}

/* The evidence of a rollback: the expectation as read, and the verdict. */
static char *
gov_rollback_evidence(const struct verdict_check *e, const char *verdict)
{
	cJSON	*o, *vf, *vd;
	char	*out;

	if ((o = cJSON_CreateObject()) == NULL ||
	    (vf = cJSON_AddObjectToObject(o, "verify")) == NULL ||
	    (e->metric != NULL ? cJSON_AddStringToObject(vf, "metric",
	    e->metric) : cJSON_AddNullToObject(vf, "metric")) == NULL ||
	    (e->stat != NULL ? cJSON_AddStringToObject(vf, "stat", e->stat) :
	    cJSON_AddNullToObject(vf, "stat")) == NULL ||
	    (isnan(e->before) ? cJSON_AddNullToObject(vf, "baseline") :
	    cJSON_AddNumberToObject(vf, "baseline", e->before)) == NULL ||
	    (isnan(e->after) ? cJSON_AddNullToObject(vf, "after") :
	    cJSON_AddNumberToObject(vf, "after", e->after)) == NULL ||
	    cJSON_AddNumberToObject(vf, "count",
	    (double)e->count_after) == NULL ||
	    (vd = cJSON_Parse(verdict)) == NULL ||
	    !cJSON_AddItemToObject(o, "verdict", vd) ||
	    (out = number_json_print(o)) == NULL)
		fatalx("%s: out of memory", __func__);
	cJSON_Delete(o);
	return out;
}

/*
 * Rule 8: judge one due verification by its expectation and its guards
 * (governor_verdict.c); the knob is free again after, or rolling back.
 */
static void
gov_verify_one(struct governor *g, struct gov_verify *v, uint64_t now_ms)
{
	const struct mt_knob_conf	*kc;
	struct gov_knob			*k = gov_knob_find(g, v->knob);
	struct tick			*t = tick_new(g->d, now_ms);
	struct verdict			 vd;
	char				*verdict, *sentence, *reason, *ev;
	size_t				 i;

	gov_read_stat(t, v->exp.metric, v->exp.stat, &v->exp.after,
	    &v->exp.count_after, &v->exp.missing);
	for (i = 0; i < v->nguards; i++)
		gov_read_stat(t, v->guards[i].metric, v->guards[i].stat,
		    &v->guards[i].after, &v->guards[i].count_after,
		    &v->guards[i].missing);
	kc = k != NULL ? gov_conf(g, k) : NULL;
	verdict_judge(&v->exp, v->guards, v->nguards,
	    kc != NULL && kc->keep_unjudged, &vd);
	verdict = verdict_json(&vd, &v->exp, v->guards, v->nguards);
	sentence = verdict_sentence(&vd, &v->exp, v->guards);
	tick_free(t);
	log_info("governor: action %lld on %s: decided by %s (%s): %s",
	    (long long)v->id, v->knob, vd.decided_by, sentence,
	    audit_outcome_name(vd.outcome));
	if (k != NULL)
		k->verifying = 0;
	if (vd.outcome != AUDIT_ROLLED_BACK)
		(void)audit_action_judged(g->d->audit, v->id, vd.outcome,
		    verdict);
	else if (k == NULL || isnan(v->old_value)) {
		/* Nothing to go back to: the outcome stays empty. */
		log_warnx("governor: action %lld on %s made things worse "
		    "but its old value is unknown", (long long)v->id, v->knob);
		(void)audit_event(g->d->audit, "rollback_failed", v->knob,
		    "action made things worse; its old value is unknown",
		    verdict);
	} else {
		xasprintf(&reason, "rollback of action %lld: %s",
		    (long long)v->id, sentence);
		ev = gov_rollback_evidence(&v->exp, verdict);
		gov_rollback(g, k, v, reason, ev, verdict, now_ms);
		free(ev);
		free(reason);
	}
	gov_note(g, v->strategy, "verified %s: %s (%s)", v->knob,
	    audit_outcome_name(vd.outcome), vd.decided_by);
	free(sentence);
	free(verdict);
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
	struct tick	*t;
	unsigned int	 n = 0;
	size_t		 i;

	g->tickno++;
	gov_readback_timer(g);	/* a reload may have changed readback_s */
	/*
	 * Verifications first: a knob whose verify window ends this tick is
	 * free (or rolling back) before its next proposal is judged, so a
	 * strategy that waits one window does not lose a second one.
	 */
	gov_verify_due(g, now_ms);
	if (g->nprops > 0) {
		for (i = 0; i < g->nprops; i++)
			g->props[i].contender = gov_contender(g, &g->props[i]);
		/* The baselines of what is applied: one snapshot. */
		t = tick_new(g->d, now_ms);
		for (i = 0; i < g->nprops; i++)
			n += (unsigned int)gov_judge(g, i, t, now_ms);
		tick_free(t);
	}
	for (i = 0; i < g->nprops; i++)
		gov_prop_clear(&g->props[i]);
	g->nprops = 0;
	return n;
}

/*
 * A knob's believed value and bounds, or a trigger's last argument
 * (before the first: its lowest) and argument range; -1 if neither is
 * configured.
 */
int
governor_knob(struct governor *g, const char *name, double *value,
    double *min, double *max)
{
	struct gov_knob			*k = gov_knob_find(g, name);
	const struct mt_knob_conf	*kc;

	if (k == NULL || (kc = gov_conf(g, k)) == NULL)
		return -1;
	if (value != NULL)
		*value = k->trigger && isnan(k->value) ? kc->min : k->value;
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
	char		*detail;

	if (k == NULL || !k->manual)
		return -1;
	k->manual = 0;
	log_info("governor: %s resumed: meshtune may turn it again (now %g)",
	    name, k->value);
	xasprintf(&detail, "{\"scope\":\"knob\",\"value\":%.17g}",
	    isnan(k->value) ? 0 : k->value);
	if (g->d->audit != NULL)
		(void)audit_event(g->d->audit, "resume", name,
		    "manual mark released", detail);
	free(detail);
	return 0;
}

/*
 * Pause (paused 1) or resume (0) every action, recording the change in
 * the events table ("pause", "resume"); a request that changes nothing
 * records nothing.  by names who asked ("api").
 */
void
governor_pause(struct daemon *d, int paused, const char *by)
{
	if (d->paused == paused)
		return;
	d->paused = paused;
	log_info("governor: %s by %s", paused ? "paused: no actions until "
	    "resume" : "resumed", by);
	if (d->audit != NULL)
		(void)audit_event(d->audit, paused ? "pause" : "resume", by,
		    paused ? "paused: no actions are applied until resume" :
		    "resumed: actions are applied again",
		    "{\"scope\":\"all\"}");
}

/*
 * Work in flight: actions waiting for their pending row to be committed
 * plus actuator operations (an action's read or set, the reads of
 * initial values and of rows left pending), read-backs not counted (a
 * reload cancels them).  0 when the governor is idle, which a reload
 * requires.
 */
size_t
governor_in_flight(const struct governor *g)
{
	const struct gov_job	*job;
	size_t			 n = 0;

	TAILQ_FOREACH(job, &g->jobs, entry)
		if (job->op == NULL)
			n++;
	return n + (g->acts != NULL ? actuators_pending(g->acts) : 0) -
	    g->nreads;
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

/*
 * Read-back.
 */

static void
gov_read_free(struct gov_read *rd)
{
	struct gov_knob	*k = gov_knob_find(rd->g, rd->knob);

	if (k != NULL && k->reading == rd)
		k->reading = NULL;
	TAILQ_REMOVE(&rd->g->reads, rd, entry);
	rd->g->nreads--;
	free(rd->knob);
	free(rd);
}

/* Cancel every read-back in flight (a reload, a stop). */
static void
gov_reads_cancel(struct governor *g)
{
	struct gov_read	*rd;

	while ((rd = TAILQ_FIRST(&g->reads)) != NULL) {
		if (rd->op != NULL)
			actuator_cancel(rd->op);
		gov_read_free(rd);
	}
}

static void
gov_readback_cb(const struct actuator_result *r, void *arg)
{
	struct gov_read	*rd = arg;
	struct governor	*g = rd->g;
	struct gov_knob	*k = gov_knob_find(g, rd->knob);

	rd->op = NULL;
	/* An action started meanwhile knows better. */
	if (k == NULL || k->busy || k->gen != rd->gen)
		goto done;
	if (!r->ok) {
		if (!k->read_failing)
			log_warnx("governor: %s: cannot read it back: %s",
			    k->name, r->error);
		k->read_failing = 1;
		goto done;
	}
	if (k->read_failing)
		log_info("governor: %s: read back again", k->name);
	k->read_failing = 0;
	if (!r->readback || isnan(r->value))
		goto done;
	if (isnan(k->value))
		k->value = r->value;
	else if (gov_same(r->value, k->value))
		;
	else if (k->manual) {
		k->manual_new = r->value;
		k->value = r->value;
	} else
		gov_mark_manual(g, k, r->value, "on read-back");
done:
	gov_read_free(rd);
}

/*
 * Start reading back every knob meshtune manages that is idle (no
 * action or read in flight); triggers have no value.  For the timer, and
 * for tests.
 */
void
governor_readback(struct governor *g)
{
	const struct mt_knob_conf	*kc;
	struct gov_knob			*k;
	struct gov_read			*rd;
	struct actuator			*a;
	size_t				 i;

	for (i = 0; i < g->nknobs; i++) {
		k = &g->knobs[i];
		if (k->trigger || k->busy || k->reading != NULL ||
		    (kc = gov_conf(g, k)) == NULL ||
		    (a = actuators_find(g->acts, kc->actuator)) == NULL)
			continue;
		rd = xcalloc(1, sizeof(*rd));
		rd->g = g;
		rd->knob = xstrdup(k->name);
		rd->gen = k->gen;
		TAILQ_INSERT_TAIL(&g->reads, rd, entry);
		g->nreads++;
		k->reading = rd;
		rd->op = actuator_get(a, kc, gov_readback_cb, rd);
	}
}

static void
gov_readback_cb_timer(evutil_socket_t fd, short events, void *arg)
{
	governor_readback(arg);
}

/* (Re)arm the read-back timer for readback_s of the configuration. */
static void
gov_readback_timer(struct governor *g)
{
	struct timeval	tv;

	if (g->ev_readback != NULL && g->readback_s == g->d->conf->readback_s)
		return;
	if (g->ev_readback != NULL) {
		event_free(g->ev_readback);
		g->ev_readback = NULL;
	}
	g->readback_s = g->d->conf->readback_s;
	if (g->readback_s <= 0 || g->d->base == NULL)
		return;
	tv.tv_sec = g->readback_s;
	tv.tv_usec = 0;
	g->ev_readback = event_new(g->d->base, -1, EV_PERSIST,
	    gov_readback_cb_timer, g);
	if (g->ev_readback == NULL || event_add(g->ev_readback, &tv) == -1)
		fatalx("governor: cannot add the read-back timer");
}

/*
 * /v1/knobs.
 */

static void
gov_jnum(cJSON *o, const char *name, double v)
{
	if ((isnan(v) || isinf(v) ? cJSON_AddNullToObject(o, name) :
	    cJSON_AddNumberToObject(o, name, v)) == NULL)
		fatalx("%s: out of memory", __func__);
}

static void
gov_jstr(cJSON *o, const char *name, const char *s)
{
	if ((s == NULL ? cJSON_AddNullToObject(o, name) :
	    cJSON_AddStringToObject(o, name, s)) == NULL)
		fatalx("%s: out of memory", __func__);
}

static void
gov_jts(cJSON *o, const char *name, uint64_t wall_ms)
{
	char	ts[AUDIT_TS_LEN];

	if (wall_ms == 0 || audit_format_ts(wall_ms, ts, sizeof(ts)) == -1)
		gov_jstr(o, name, NULL);
	else
		gov_jstr(o, name, ts);
}

static cJSON *
gov_jobj(cJSON *parent, const char *name)
{
	cJSON	*o;

	if ((o = cJSON_AddObjectToObject(parent, name)) == NULL)
		fatalx("%s: out of memory", __func__);
	return o;
}

/* Seconds left until until_ms, rounded up. */
static double
gov_left_s(uint64_t until_ms, uint64_t now_ms)
{
	return until_ms > now_ms ? (double)((until_ms - now_ms + 999) / 1000) :
	    0;
}

/* One knob or trigger as /v1/knobs shows it. */
static cJSON *
gov_knob_json(struct governor *g, struct gov_knob *k, uint64_t now_ms)
{
	const struct mt_knob_conf	*kc = gov_conf(g, k);
	cJSON				*o, *x, *arr;
	uint64_t			 cool_until;
	const char			*state = "idle";
	size_t				 i;

	if ((o = cJSON_CreateObject()) == NULL)
		fatalx("%s: out of memory", __func__);
	gov_jstr(o, "name", k->name);
	gov_jstr(o, "kind", k->trigger ? "trigger" : "knob");
	gov_jnum(o, "value", k->value);
	gov_jnum(o, "min", kc->min);
	gov_jnum(o, "max", kc->max);
	gov_jstr(o, "actuator", kc->actuator);
	gov_jstr(o, "owner", kc->owner);
	gov_jnum(o, "cooldown_s", (double)kc->cooldown_s);

	cool_until = k->last_action_ms != 0 ? k->last_action_ms +
	    (uint64_t)kc->cooldown_s * 1000 : 0;
	if (k->manual) {
		x = gov_jobj(o, "manual");
		gov_jnum(x, "old", k->manual_old);
		gov_jnum(x, "new", k->manual_new);
		gov_jts(x, "since", k->manual_wall_ms);
	} else
		gov_jstr(o, "manual", NULL);
	if (now_ms < cool_until) {
		x = gov_jobj(o, "cooldown");
		gov_jnum(x, "left_s", gov_left_s(cool_until, now_ms));
		gov_jstr(x, "by", k->cool_by);
		gov_jstr(x, "cause", k->cool_rollback ? "rollback" : "action");
	} else
		gov_jstr(o, "cooldown", NULL);
	if (now_ms < k->backoff_until_ms) {
		x = gov_jobj(o, "backoff");
		gov_jnum(x, "left_s", gov_left_s(k->backoff_until_ms, now_ms));
		gov_jnum(x, "failures", k->failures);
		gov_jstr(x, "error", k->backoff_error);
	} else
		gov_jstr(o, "backoff", NULL);
	if (now_ms < k->frozen_until_ms) {
		x = gov_jobj(o, "frozen");
		gov_jnum(x, "left_s", gov_left_s(k->frozen_until_ms, now_ms));
		gov_jstr(x, "by", k->frozen_by);
	} else
		gov_jstr(o, "frozen", NULL);
	if ((arr = cJSON_AddArrayToObject(o, "holds")) == NULL)
		fatalx("%s: out of memory", __func__);
	for (i = 0; i < k->nholds; i++) {
		struct gov_hold *h = &k->holds[i];
		uint64_t until = h->frozen_until_ms > h->until_ms ?
		    h->frozen_until_ms : h->until_ms;

		if (now_ms >= until)
			continue;
		if ((x = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(arr, x))
			fatalx("%s: out of memory", __func__);
		gov_jstr(x, "strategy", h->strategy);
		gov_jstr(x, "cause", now_ms < h->frozen_until_ms ? "flapping" :
		    "rollback");
		gov_jnum(x, "left_s", gov_left_s(until, now_ms));
		gov_jnum(x, "rollbacks", gov_ring_count(h->rollbacks,
		    h->nrollbacks, now_ms, BUDGET_WINDOW_MS));
	}
	gov_jnum(o, "verifying", k->verifying != 0 ? (double)k->verifying :
	    NAN);
	if (k->last.wall_ms != 0) {
		x = gov_jobj(o, "last_action");
		gov_jnum(x, "id", k->last.id != 0 ? (double)k->last.id : NAN);
		gov_jts(x, "ts", k->last.wall_ms);
		gov_jstr(x, "strategy", k->last.strategy);
		gov_jstr(x, "kind", k->last.kind);
		gov_jnum(x, "old_value", k->last.old_value);
		gov_jnum(x, "new_value", k->last.new_value);
		gov_jstr(x, "status", k->last.status);
	} else
		gov_jstr(o, "last_action", NULL);
	if (k->manual)
		state = "manual";
	else if (k->busy)
		state = "busy";
	else if (k->verifying != 0)
		state = "verifying";
	else if (now_ms < k->frozen_until_ms)
		state = "frozen";
	else if (now_ms < k->backoff_until_ms)
		state = "backoff";
	else if (now_ms < cool_until)
		state = "cooldown";
	else if (cJSON_GetArraySize(arr) > 0)
		state = "held";
	gov_jstr(o, "state", state);
	return o;
}

/*
 * Every knob, then every trigger, as GET /v1/knobs answers: a JSON
 * array (meshtunectl(1) describes the members), as of now on the
 * governor's clock.  The caller frees it with cJSON_Delete.
 */
struct cJSON *
governor_knobs_json(struct governor *g)
{
	cJSON		*arr;
	uint64_t	 now_ms = g != NULL ? g->clock() : 0;
	size_t		 i;

	if ((arr = cJSON_CreateArray()) == NULL)
		fatalx("%s: out of memory", __func__);
	for (i = 0; g != NULL && i < g->nknobs; i++)
		if (!cJSON_AddItemToArray(arr, gov_knob_json(g, &g->knobs[i],
		    now_ms)))
			fatalx("%s: out of memory", __func__);
	return arr;
}

/*
 * Start-up, reload, stop.
 */

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

/* Make the knob table of c, keeping the state of entries that stay. */
static void
gov_knobs_sync(struct governor *g, const struct mt_config *c)
{
	const struct mt_knob_conf	*kc;
	struct gov_knob			*nk, *old;
	struct actuator			*a;
	size_t				 i = 0, j, n;
	int				 trig;

	n = c->knobs.n + c->triggers.n;
	nk = n ? xcalloc(n, sizeof(*nk)) : NULL;
	for (j = 0; j < n; j++) {
		trig = j >= c->knobs.n;
		kc = trig ? (struct mt_knob_conf *)c->triggers.v +
		    (j - c->knobs.n) : (struct mt_knob_conf *)c->knobs.v + j;
		old = gov_knob_find(g, kc->name);
		if (old != NULL && old->trigger == trig) {
			nk[i] = *old;
			memset(old, 0, sizeof(*old));	/* moved */
		} else {
			nk[i].name = xstrdup(kc->name);
			nk[i].trigger = trig;
			nk[i].value = trig ? NAN : kc->initial;
		}
		i++;
	}
	for (j = 0; j < g->nknobs; j++)
		gov_knob_clear(&g->knobs[j]);
	free(g->knobs);
	g->knobs = nk;
	g->nknobs = i;
	for (j = 0; j < g->nknobs; j++) {
		if (g->knobs[j].trigger || !isnan(g->knobs[j].value) ||
		    g->acts == NULL ||
		    (kc = config_knob(c, g->knobs[j].name)) == NULL ||
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
 * The verification of applied action row r (the checks read back from
 * its columns and its verdict's baselines), due at due_ms.
 */
static void
gov_verify_from_row(struct governor *g, struct gov_knob *k,
    const struct audit_row *r, uint64_t due_ms)
{
	struct verdict_check	 exp, *guards;
	size_t			 n;

	memset(&exp, 0, sizeof(exp));
	exp.metric = gov_strdup(r->expect_metric);
	exp.stat = gov_strdup(r->expect_stat);
	exp.dir = r->expect_dir;
	exp.before = r->baseline;
	/* A baseline is stored only from enough samples. */
	exp.count_before = isnan(r->baseline) ? 0 : VERDICT_MIN_SAMPLES;
	exp.after = exp.change_pct = NAN;
	if (verdict_parse_guards(r->verdict, &guards, &n) == -1) {
		guards = NULL;
		n = 0;
	}
	gov_verify_add(g, k, r->id, r->strategy, &exp, guards, n,
	    r->old_value, due_ms);
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
	struct audit_row row;		/* its strings owned */
};

static void
gov_reconcile_free(struct gov_reconcile *rc)
{
	TAILQ_REMOVE(&rc->g->reconciles, rc, entry);
	free(rc->row.strategy);
	free(rc->row.knob);
	free(rc->row.expect_metric);
	free(rc->row.expect_stat);
	free(rc->row.verdict);
	free(rc);
}

static void
gov_reconcile_cb(const struct actuator_result *r, void *arg)
{
	struct gov_reconcile	*rc = arg;
	struct governor		*g = rc->g;
	struct audit_row	*row = &rc->row;
	struct gov_knob		*k = gov_knob_find(g, row->knob);
	uint64_t		 now = g->clock();
	char			 note[160];
	int			 held, dir;

	held = r->ok && !isnan(r->value) && row->kind != AUDIT_TRIGGER &&
	    gov_same(r->value, row->new_value);
	snprintf(note, sizeof(note), "left pending by a stop; the knob reads "
	    "%g%s", r->value, r->ok ? "" : " (read failed)");
	(void)audit_reconcile(g->d->audit, row->id, held ? AUDIT_APPLIED :
	    AUDIT_FAILED, r->value, note);
	/* What the knob reads is what meshtune believes from now on. */
	if (k != NULL && !k->trigger && r->ok && !isnan(r->value))
		k->value = r->value;
	if (k != NULL && held) {
		gov_cooldown_from(k, now, row->strategy, row->parent_id != 0);
		gov_count_action(g, now);
		if (row->parent_id != 0) {
			gov_note_rollback(g, k, row->strategy, now, 0);
			(void)audit_action_outcome(g->d->audit, row->parent_id,
			    AUDIT_ROLLED_BACK);
		} else {
			dir = isnan(row->old_value) ? 0 : row->new_value >
			    row->old_value ? 1 : row->new_value <
			    row->old_value ? -1 : 0;
			gov_note_direction(g, k, dir, row->strategy, now, 0);
			free(k->last_strategy);
			k->last_strategy = gov_strdup(row->strategy);
			k->last_priority = gov_priority(g, row->strategy);
			if (row->verify_s > 0 && k->verifying == 0)
				gov_verify_from_row(g, k, row, now +
				    (uint64_t)row->verify_s * 1000);
		}
	}
	rc->op = NULL;
	gov_reconcile_free(rc);
}

/* Start the reconciliation of pending row r; 0, or -1 if it cannot. */
static int
gov_reconcile(struct governor *g, const struct audit_row *r)
{
	struct gov_knob			*k = gov_knob_find(g, r->knob);
	const struct mt_knob_conf	*kc;
	struct gov_reconcile		*rc;
	struct actuator			*a;

	if (k == NULL || (kc = gov_conf(g, k)) == NULL ||
	    (a = actuators_find(g->acts, kc->actuator)) == NULL)
		return -1;
	rc = xcalloc(1, sizeof(*rc));
	rc->g = g;
	rc->row = *r;
	rc->row.strategy = gov_strdup(r->strategy);
	rc->row.knob = xstrdup(r->knob);
	rc->row.expect_metric = gov_strdup(r->expect_metric);
	rc->row.expect_stat = gov_strdup(r->expect_stat);
	rc->row.verdict = gov_strdup(r->verdict);
	rc->row.reason = rc->row.evidence = rc->row.actuator = NULL;
	rc->row.error = NULL;
	TAILQ_INSERT_TAIL(&g->reconciles, rc, entry);
	rc->op = actuator_get(a, kc, gov_reconcile_cb, rc);
	return 0;
}

/*
 * Rebuild from the log: pending rows (reconciled), the hourly budget,
 * flap history and rollbacks of the last hour (each holds its strategy,
 * as it did before the restart), failures since each knob's last
 * success (the back-off), each knob's last action and value, and the
 * verifications still due.
 */
static void
gov_rebuild(struct governor *g)
{
	struct audit_row	*rows;
	struct gov_knob		*k;
	uint64_t		 mono = g->clock(), wall = clock_wall_ms();
	uint64_t		 since = wall > BUDGET_WINDOW_MS ?
				    wall - BUDGET_WINDOW_MS : 1, t;
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
	if (audit_applied_since(g->d->audit, since, &rows, &n) == 0) {
		for (i = 0; i < n; i++) {
			t = gov_mono_of(rows[i].done_ms ? rows[i].done_ms :
			    rows[i].ts_ms, mono, wall);
			gov_count_action(g, t);
			if ((k = gov_knob_find(g, rows[i].knob)) == NULL)
				continue;
			if (rows[i].kind == AUDIT_ROLLBACK) {
				gov_note_rollback(g, k, rows[i].strategy, t, 1);
				continue;
			}
			if (isnan(rows[i].old_value))
				continue;
			dir = rows[i].new_value > rows[i].old_value ? 1 :
			    rows[i].new_value < rows[i].old_value ? -1 : 0;
			gov_note_direction(g, k, dir, rows[i].strategy, t, 1);
		}
		audit_rows_free(rows, n);
	}
	if (audit_last_applied(g->d->audit, &rows, &n) == 0) {
		for (i = 0; i < n; i++) {
			if ((k = gov_knob_find(g, rows[i].knob)) == NULL)
				continue;
			gov_cooldown_from(k, gov_mono_of(rows[i].done_ms ?
			    rows[i].done_ms : rows[i].ts_ms, mono, wall),
			    rows[i].strategy, rows[i].kind == AUDIT_ROLLBACK);
			if (!isnan(rows[i].new_value))
				k->value = rows[i].new_value;
			if (rows[i].kind != AUDIT_ROLLBACK) {
				free(k->last_strategy);
				k->last_strategy = gov_strdup(rows[i].strategy);
				k->last_priority = gov_priority(g,
				    rows[i].strategy);
			}
			k->last.id = rows[i].id;
			k->last.kind = audit_kind_name(rows[i].kind);
			k->last.status = audit_status_name(rows[i].status);
			free(k->last.strategy);
			k->last.strategy = gov_strdup(rows[i].strategy);
			k->last.old_value = rows[i].old_value;
			k->last.new_value = rows[i].new_value;
			k->last.wall_ms = rows[i].ts_ms;
		}
		audit_rows_free(rows, n);
	}
	/* Failures after a knob's last success: its back-off. */
	if (audit_failed_since(g->d->audit, since, &rows, &n) == 0) {
		for (i = 0; i < n; i++) {
			t = gov_mono_of(rows[i].done_ms ? rows[i].done_ms :
			    rows[i].ts_ms, mono, wall);
			if ((k = gov_knob_find(g, rows[i].knob)) != NULL &&
			    t >= k->last_action_ms)
				gov_note_failure(g, k, rows[i].error, t);
		}
		audit_rows_free(rows, n);
	}
	if (audit_awaiting_verify(g->d->audit, &rows, &n) == 0) {
		for (i = 0; i < n; i++) {
			if ((k = gov_knob_find(g, rows[i].knob)) == NULL ||
			    k->trigger || rows[i].kind != AUDIT_SET)
				continue;
			gov_verify_from_row(g, k, &rows[i], gov_mono_of(
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
 * (d->audit; blocks on it), start the read-back timer.  Returns 0, or -1
 * with the reasons logged and nothing kept.
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
	TAILQ_INIT(&g->reads);
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
	gov_readback_timer(g);
	log_info("governor: %zu knobs and %zu triggers%s", d->conf->knobs.n,
	    d->conf->triggers.n, d->conf->dry_run ? ", dry run" : "");
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
	if (g->ev_readback != NULL)
		event_free(g->ev_readback);
	gov_reads_cancel(g);
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
 * New knobs, triggers and actuators.  Refused (-1, nothing changed) while
 * anything is in flight: an action holds a pointer to its knob, which
 * the new table replaces, and every operation belongs to the old
 * actuators, whose freeing would cancel it; the daemon keeps the old
 * configuration and a later reload succeeds.  Read-backs are cancelled;
 * the next period reads again.  The read-back timer follows the new
 * period once d->conf is the new configuration (the next tick or read).
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
	gov_reads_cancel(g);
	actuators_free(g->acts);
	g->acts = na;
	gov_knobs_sync(g, nc);
	return 0;
}
