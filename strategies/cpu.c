/*
 * cpu.c -- the bundled CPU strategy: the node's worker threads against
 * its CPU use and the host's CPU pressure (STRATEGIES.md, "cpu").
 *
 * Knobs: cpu.worker_threads (-25 % down, +1 up, never above
 * workers_max_factor x ncpu) and, optionally, net.batch_size (x2) to
 * amortise per-message cost; the governor settles the overlap with the
 * network strategy.  Rules, in the order they are tried; one knob per
 * tick:
 *
 *  busy	proc.cpu_pct p90 > cpu_enter_pct of ncpu CPUs, or
 *		host.psi_cpu_pct p50 > psi_cpu_pct, on confirm_ticks ticks:
 *		if proc.threads last > threads_factor x ncpu ->
 *		worker_threads x worker_shrink; otherwise, with
 *		batch_assist -> net.batch_size x batch_grow.  Both expect
 *		proc.cpu_pct p90 to fall.
 *  idle	proc.cpu_pct p90 < cpu_exit_pct of ncpu CPUs while
 *		consensus.round_ms p95 > round_target_ms, on confirm_ticks
 *		ticks -> worker_threads + worker_step.  Expects round_ms p95
 *		to fall.
 * Between cpu_exit_pct and cpu_enter_pct nothing happens (hysteresis).
 *
 * proc.cpu_pct is percent of one core (collect_proc.c): 400 is four
 * cores busy.  The node's allowed cores are not a statistic the host
 * has (a cgroup cpu.max quota would lower them), so they are "ncpu",
 * by default the processors online.  cpu.idle_sleep_ms and the shared
 * consensus.verify_threads have no rule in STRATEGIES.md and are left
 * alone.
 *
 * Configuration keys and defaults: see cpu_init and
 * meshtune-strategies(7).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meshtune/strategy.h>

#include "bundled.h"

#define CPU		"proc.cpu_pct"
#define PSI		"host.psi_cpu_pct"
#define THREADS		"proc.threads"
#define ROUND		"consensus.round_ms"
#define K_WORKERS	"cpu.worker_threads"
#define K_BATCH		"net.batch_size"

enum { C_WORKERS, C_BATCH, C_N };

struct cpu {
	const struct mt_host_api *host;
	struct bs_common	 cm;
	double			 ncpu, enter_pct, exit_pct, psi_max;
	double			 threads_factor, workers_max_factor;
	double			 worker_shrink, worker_step, round_target;
	double			 batch_assist, batch_grow;
	/* hysteresis and cooldowns */
	struct bs_confirm	 busy, idle;
	struct bs_cool		 cool[C_N];
	/* this evaluation */
	struct bs_eval		 e;
	struct bs_decision	 d;
};

static int
cpu_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct cpu	*p;
	struct bs_conf	 c = { host, ctx, err, errlen, 0 };

	(void)config_json;
	if ((p = bs_state_new(host, sizeof(*p), err, errlen)) == NULL)
		return MT_ERR;
	p->host = host;
	bs_common_read(&c, &p->cm);
	bs_conf_number(&c, "ncpu", &p->ncpu, bs_ncpu(), 1, 65536);
	bs_conf_number(&c, "cpu_enter_pct", &p->enter_pct, 70, 0, 100);
	bs_conf_number(&c, "cpu_exit_pct", &p->exit_pct, 30, 0, 100);
	bs_conf_number(&c, "psi_cpu_pct", &p->psi_max, 20, 0, 100);
	bs_conf_number(&c, "threads_factor", &p->threads_factor, 2, 0, 1e6);
	bs_conf_number(&c, "workers_max_factor", &p->workers_max_factor, 2,
	    0.01, 1e6);
	bs_conf_number(&c, "worker_shrink", &p->worker_shrink, 0.75, 0.01,
	    0.99);
	bs_conf_number(&c, "worker_step", &p->worker_step, 1, 1, 1024);
	bs_conf_number(&c, "round_target_ms", &p->round_target, 500, 0, 1e9);
	bs_conf_number(&c, "batch_assist", &p->batch_assist, 1, 0, 1);
	bs_conf_number(&c, "batch_grow", &p->batch_grow, 2, 1.01, 16);
	if (!c.failed && p->exit_pct >= p->enter_pct) {
		snprintf(err, errlen, "config \"cpu_exit_pct\" must be below "
		    "\"cpu_enter_pct\" (hysteresis)");
		c.failed = 1;
	}
	if (c.failed) {
		free(p);
		return MT_ERR;
	}
	*statep = p;
	return MT_OK;
}

/* The busy condition's first half, for the reason sentence. */
static void
cpu_busy_why(struct cpu *p, struct bs_fmt *f, int cpu_high, double cpu,
    double psi, char *buf, size_t len)
{
	if (cpu_high)
		snprintf(buf, len, "%s p90 %s %% = %s %% of %s CPUs > %s %%",
		    CPU, bs_f(f, cpu), bs_f(f, cpu / p->ncpu), bs_f(f, p->ncpu),
		    bs_f(f, p->enter_pct));
	else
		snprintf(buf, len, "%s p50 %s %% > %s %%", PSI, bs_f(f, psi),
		    bs_f(f, p->psi_max));
}

static int
cpu_should_apply(void *state, struct mt_ctx *ctx)
{
	struct cpu		*p = state;
	struct bs_eval		*e = &p->e;
	struct bs_decision	*d = &p->d;
	struct bs_knob		 workers, batch;
	struct bs_fmt		 f;
	struct bs_ev		 ev;
	char			 why[200];
	uint64_t		 gap;
	double			 cpu = 0, psi = 0, threads = 0, p95 = 0;
	double			 next = 0;
	int			 has_cpu, has_threads, cpu_high, psi_high;
	int			 busy, idle;

	memset(&f, 0, sizeof(f));
	bs_eval_start(e, p->host, ctx, &p->cm);
	gap = (uint64_t)(p->cm.window_s * 1000);
	bs_knob_read(e, K_WORKERS, &workers);
	bs_knob_read(e, K_BATCH, &batch);
	has_cpu = bs_get(e, CPU, "p90", &cpu);
	cpu_high = has_cpu && cpu / p->ncpu > p->enter_pct;
	psi_high = bs_get(e, PSI, "p50", &psi) && psi > p->psi_max;
	busy = bs_confirm(&p->busy, cpu_high || psi_high, e->now,
	    p->cm.confirm_ticks, gap);
	idle = bs_confirm(&p->idle, has_cpu && cpu / p->ncpu < p->exit_pct &&
	    bs_get(e, ROUND, "p95", &p95) && p95 > p->round_target, e->now,
	    p->cm.confirm_ticks, gap);
	has_threads = bs_get(e, THREADS, "last", &threads);

	memset(d, 0, sizeof(*d));
	d->kind = MT_ACT_SET;
	bs_ev_open(&ev, d->evidence, sizeof(d->evidence));
	if (busy && has_threads &&
	    threads > p->threads_factor * p->ncpu &&
	    bs_cool_ok(&p->cool[C_WORKERS], e->now, p->cm.cooldown_s) &&
	    bs_step(&workers, -1, p->worker_shrink, 0, workers.max, &next)) {
		cpu_busy_why(p, &f, cpu_high, cpu, psi, why, sizeof(why));
		snprintf(d->reason, sizeof(d->reason), "%s on %u ticks and %s "
		    "last %s > %s x %s CPUs: fewer workers: %s %s -> %s", why,
		    p->busy.n, THREADS, bs_f(&f, threads),
		    bs_f(&f, p->threads_factor), bs_f(&f, p->ncpu), K_WORKERS,
		    bs_f(&f, workers.value), bs_f(&f, next));
		bs_ev_series(&ev, e, CPU);
		bs_ev_series(&ev, e, PSI);
		bs_ev_series(&ev, e, THREADS);
		bs_ev_threshold(&ev, "cpu_enter_pct", p->enter_pct);
		bs_ev_threshold(&ev, "psi_cpu_pct", p->psi_max);
		bs_ev_threshold(&ev, "threads_factor", p->threads_factor);
		bs_ev_threshold(&ev, "ncpu", p->ncpu);
		bs_ev_knob(&ev, &workers, next);
		bs_ev_string(&ev, "rule", "busy");
		d->knob = K_WORKERS;
		d->cool = &p->cool[C_WORKERS];
		d->expect_metric = CPU;
		d->expect_stat = "p90";
		d->expect_dir = -1;
	} else if (busy && p->batch_assist &&
	    bs_cool_ok(&p->cool[C_BATCH], e->now, p->cm.cooldown_s) &&
	    bs_step(&batch, +1, p->batch_grow, 0, batch.max, &next)) {
		cpu_busy_why(p, &f, cpu_high, cpu, psi, why, sizeof(why));
		snprintf(d->reason, sizeof(d->reason), "%s on %u ticks: "
		    "amortise per-message cost with bigger batches: %s %s -> "
		    "%s", why, p->busy.n, K_BATCH, bs_f(&f, batch.value),
		    bs_f(&f, next));
		bs_ev_series(&ev, e, CPU);
		bs_ev_series(&ev, e, PSI);
		bs_ev_series(&ev, e, THREADS);
		bs_ev_threshold(&ev, "cpu_enter_pct", p->enter_pct);
		bs_ev_threshold(&ev, "psi_cpu_pct", p->psi_max);
		bs_ev_threshold(&ev, "ncpu", p->ncpu);
		bs_ev_knob(&ev, &batch, next);
		bs_ev_string(&ev, "rule", "busy");
		d->knob = K_BATCH;
		d->cool = &p->cool[C_BATCH];
		d->expect_metric = CPU;
		d->expect_stat = "p90";
		d->expect_dir = -1;
	} else if (idle &&
	    bs_cool_ok(&p->cool[C_WORKERS], e->now, p->cm.cooldown_s) &&
	    bs_step(&workers, +1, 0, p->worker_step,
	    bs_round(p->workers_max_factor * p->ncpu), &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p90 %s %% = %s %% "
		    "of %s CPUs < %s %% while %s p95 %s ms > %s ms, on %u "
		    "ticks: CPU to spare, more workers: %s %s -> %s", CPU,
		    bs_f(&f, cpu), bs_f(&f, cpu / p->ncpu), bs_f(&f, p->ncpu),
		    bs_f(&f, p->exit_pct), ROUND, bs_f(&f, p95),
		    bs_f(&f, p->round_target), p->idle.n, K_WORKERS,
		    bs_f(&f, workers.value), bs_f(&f, next));
		bs_ev_series(&ev, e, CPU);
		bs_ev_series(&ev, e, ROUND);
		bs_ev_threshold(&ev, "cpu_exit_pct", p->exit_pct);
		bs_ev_threshold(&ev, "round_target_ms", p->round_target);
		bs_ev_threshold(&ev, "ncpu", p->ncpu);
		bs_ev_knob(&ev, &workers, next);
		bs_ev_string(&ev, "rule", "idle");
		d->knob = K_WORKERS;
		d->cool = &p->cool[C_WORKERS];
		d->expect_metric = ROUND;
		d->expect_stat = "p95";
		d->expect_dir = -1;
	} else
		return 0;
	d->value = next;
	d->has_evidence = bs_ev_close(&ev) == 0;
	return 1;
}

static int
cpu_apply(void *state, struct mt_ctx *ctx)
{
	struct cpu	*p = state;

	return bs_propose(p->host, ctx, &p->d);
}

static const struct mt_strategy cpu_strategy = {
	MT_STRATEGY_HEADER,
	.name = "cpu",
	.version = "1.0",
	.summary = "worker threads against CPU use and CPU pressure",
	.init = cpu_init,
	.should_apply = cpu_should_apply,
	.apply = cpu_apply,
	.destroy = bs_destroy,
};

MT_STRATEGY_EXPORT(cpu)
{
	(void)host;
	return &cpu_strategy;
}
