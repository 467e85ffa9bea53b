/*
 * network.c -- the bundled network strategy: batching and compression
 * against application round-trip time (STRATEGIES.md, "network").
 *
 * Knobs: net.batch_size (x2 / /2, a power-of-two knob),
 * net.batch_delay_ms (-25 %), net.compress_min_bytes (/2).  Rules, in the
 * order they are tried; one knob per tick:
 *
 *  grow	net.rtt_ms p95 > rtt_enter_ms and net.send_queue p90 >
 *		net.batch_size, on confirm_ticks ticks: the delay is
 *		queueing, which batching amortises -> batch_size x2, or x4
 *		(batch_grow_far) when both are far_factor (4) times over:
 *		on the simulated node congestion needs 8 -> 32, and two x2
 *		steps, each waiting a verify window, took 147 s against
 *		the 120 s a disturbance may last.
 *  compress	net.rtt_ms p95 > rtt_enter_ms and net.msg_bytes p50 >
 *		net.compress_min_bytes and proc.cpu_pct p90 < cpu_max_pct
 *		of ncpu CPUs, on confirm_ticks ticks -> compress_min_bytes /2.
 *  shrink	net.rtt_ms p95 < rtt_exit_ms and net.send_queue p90 <
 *		queue_exit for exit_windows windows: batching only adds
 *		delay when there is no queue -> batch_size /2, then
 *		batch_delay_ms -25 %.
 * Between rtt_exit_ms and rtt_enter_ms nothing happens (hysteresis).
 * Every proposal expects net.rtt_ms p95 to fall.
 *
 * proc.cpu_pct is percent of one core (collect_proc.c), so its p90 is
 * divided by ncpu before it is compared with cpu_max_pct.
 *
 * Configuration (the strategy's "config" object; every key optional):
 *	rtt_enter_ms 100, rtt_exit_ms 50, queue_exit 1, exit_windows 3,
 *	cpu_max_pct 70, ncpu (processors online), batch_grow 2,
 *	batch_grow_far 4, far_factor 4, batch_shrink 0.5, delay_shrink 0.75, compress_shrink 0.5, and the
 *	keys of every bundled strategy: window_s 60, confirm_ticks 2,
 *	cooldown_s 60, min_count_p50 20, min_count_p90 30,
 *	min_count_p95 50, min_count_p99 200, min_count_p999 2000.
 * meshtune-strategies(7) documents them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meshtune/strategy.h>

#include "bundled.h"

#define RTT	"net.rtt_ms"
#define QUEUE	"net.send_queue"
#define MSG	"net.msg_bytes"
#define CPU	"proc.cpu_pct"
#define K_BATCH	"net.batch_size"
#define K_DELAY	"net.batch_delay_ms"
#define K_COMP	"net.compress_min_bytes"

enum { C_BATCH, C_DELAY, C_COMP, C_N };

struct network {
	const struct mt_host_api *host;
	struct bs_common	 cm;
	double			 rtt_enter, rtt_exit, queue_exit;
	double			 exit_windows, cpu_max_pct, ncpu;
	double			 batch_grow, batch_shrink, delay_shrink;
	double			 batch_grow_far, far_factor;
	double			 compress_shrink;
	/* hysteresis and cooldowns */
	struct bs_confirm	 grow, compress;
	struct bs_hold		 shrink;
	struct bs_cool		 cool[C_N];
	/* this evaluation */
	struct bs_eval		 e;
	struct bs_decision	 d;
};

static int
network_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct network	*n;
	struct bs_conf	 c = { host, ctx, err, errlen, 0 };

	(void)config_json;
	if ((n = bs_state_new(host, sizeof(*n), err, errlen)) == NULL)
		return MT_ERR;
	n->host = host;
	bs_common_read(&c, &n->cm);
	bs_conf_number(&c, "rtt_enter_ms", &n->rtt_enter, 100, 0, 1e9);
	bs_conf_number(&c, "rtt_exit_ms", &n->rtt_exit, 50, 0, 1e9);
	bs_conf_number(&c, "queue_exit", &n->queue_exit, 1, 0, 1e9);
	bs_conf_number(&c, "exit_windows", &n->exit_windows, 3, 0, 1000);
	bs_conf_number(&c, "cpu_max_pct", &n->cpu_max_pct, 70, 0, 100);
	bs_conf_number(&c, "ncpu", &n->ncpu, bs_ncpu(), 1, 65536);
	bs_conf_number(&c, "batch_grow", &n->batch_grow, 2, 1.01, 16);
	bs_conf_number(&c, "batch_grow_far", &n->batch_grow_far, 4, 1.01,
	    64);
	bs_conf_number(&c, "far_factor", &n->far_factor, 4, 1, 1e6);
	bs_conf_number(&c, "batch_shrink", &n->batch_shrink, 0.5, 0.01,
	    0.99);
	bs_conf_number(&c, "delay_shrink", &n->delay_shrink, 0.75, 0.01,
	    0.99);
	bs_conf_number(&c, "compress_shrink", &n->compress_shrink, 0.5, 0.01,
	    0.99);
	if (!c.failed && n->rtt_exit >= n->rtt_enter) {
		snprintf(err, errlen, "config \"rtt_exit_ms\" must be below "
		    "\"rtt_enter_ms\" (hysteresis)");
		c.failed = 1;
	}
	if (c.failed) {
		free(n);
		return MT_ERR;
	}
	*statep = n;
	return MT_OK;
}

/* Evidence common to every rule: the round trip and the queue. */
static void
network_evidence(struct network *n, struct bs_ev *ev)
{
	bs_ev_series(ev, &n->e, RTT);
	bs_ev_series(ev, &n->e, QUEUE);
}

static int
network_should_apply(void *state, struct mt_ctx *ctx)
{
	struct network		*n = state;
	struct bs_eval		*e = &n->e;
	struct bs_decision	*d = &n->d;
	struct bs_knob		 batch, delay, comp;
	struct bs_fmt		 f;
	struct bs_ev		 ev;
	uint64_t		 gap, held;
	double			 rtt, queue, msg = 0, cpu = 0, next = 0;
	int			 has_rtt, has_queue, has_msg, has_cpu;
	int			 grow, compress, shrink, far;

	memset(&f, 0, sizeof(f));
	bs_eval_start(e, n->host, ctx, &n->cm);
	gap = (uint64_t)(n->cm.window_s * 1000);
	has_rtt = bs_get(e, RTT, "p95", &rtt);
	has_queue = bs_get(e, QUEUE, "p90", &queue);
	bs_knob_read(e, K_BATCH, &batch);
	bs_knob_read(e, K_DELAY, &delay);
	bs_knob_read(e, K_COMP, &comp);

	/* Update every rule's hysteresis on every tick, then pick one. */
	grow = bs_confirm(&n->grow, has_rtt && has_queue && batch.ok &&
	    rtt > n->rtt_enter && queue > batch.value, e->now,
	    n->cm.confirm_ticks, gap);
	compress = 0;
	if (has_rtt && rtt > n->rtt_enter && comp.ok) {
		has_msg = bs_get(e, MSG, "p50", &msg);
		has_cpu = bs_get(e, CPU, "p90", &cpu);
		compress = has_msg && has_cpu && msg > comp.value &&
		    cpu / n->ncpu < n->cpu_max_pct;
	}
	compress = bs_confirm(&n->compress, compress, e->now,
	    n->cm.confirm_ticks, gap);
	shrink = bs_hold(&n->shrink, has_rtt && has_queue &&
	    rtt < n->rtt_exit && queue < n->queue_exit, e->now,
	    (uint64_t)(n->exit_windows * n->cm.window_s * 1000), gap, &held);

	memset(d, 0, sizeof(*d));
	d->kind = MT_ACT_SET;
	d->expect_metric = RTT;
	d->expect_stat = "p95";
	d->expect_dir = -1;
	bs_ev_open(&ev, d->evidence, sizeof(d->evidence));
	/* Far over both thresholds: one bigger step, not two windows. */
	far = grow && rtt > n->far_factor * n->rtt_enter &&
	    queue > n->far_factor * batch.value;
	if (grow && bs_cool_ok(&n->cool[C_BATCH], e->now, n->cm.cooldown_s) &&
	    bs_step(&batch, +1, far ? n->batch_grow_far : n->batch_grow, 0,
	    batch.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p95 %s ms > %s ms "
		    "over %s s on %u ticks and %s p90 %s > %s %s: the delay "
		    "is queueing, batch %s: %s %s -> %s", RTT, bs_f(&f, rtt),
		    bs_f(&f, n->rtt_enter), bs_f(&f, n->cm.window_s),
		    n->grow.n, QUEUE, bs_f(&f, queue), K_BATCH,
		    bs_f(&f, batch.value), far ? "much more (both far over)" :
		    "more", K_BATCH, bs_f(&f, batch.value), bs_f(&f, next));
		network_evidence(n, &ev);
		bs_ev_threshold(&ev, "rtt_enter_ms", n->rtt_enter);
		bs_ev_threshold(&ev, "send_queue_p90_above", batch.value);
		bs_ev_knob(&ev, &batch, next);
		bs_ev_string(&ev, "rule", "grow");
		d->knob = K_BATCH;
		d->cool = &n->cool[C_BATCH];
	} else if (compress &&
	    bs_cool_ok(&n->cool[C_COMP], e->now, n->cm.cooldown_s) &&
	    bs_step(&comp, -1, n->compress_shrink, 0, comp.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p95 %s ms > %s ms "
		    "over %s s on %u ticks, %s p50 %s > %s %s and %s p90 %s %% "
		    "(%s %% of %s CPUs) < %s %%: compress more messages: "
		    "%s %s -> %s", RTT, bs_f(&f, rtt), bs_f(&f, n->rtt_enter),
		    bs_f(&f, n->cm.window_s), n->compress.n, MSG,
		    bs_f(&f, msg), K_COMP, bs_f(&f, comp.value), CPU,
		    bs_f(&f, cpu), bs_f(&f, cpu / n->ncpu), bs_f(&f, n->ncpu),
		    bs_f(&f, n->cpu_max_pct), K_COMP, bs_f(&f, comp.value),
		    bs_f(&f, next));
		bs_ev_series(&ev, e, RTT);
		bs_ev_series(&ev, e, MSG);
		bs_ev_series(&ev, e, CPU);
		bs_ev_threshold(&ev, "rtt_enter_ms", n->rtt_enter);
		bs_ev_threshold(&ev, "cpu_max_pct", n->cpu_max_pct);
		bs_ev_threshold(&ev, "ncpu", n->ncpu);
		bs_ev_knob(&ev, &comp, next);
		bs_ev_string(&ev, "rule", "compress");
		d->knob = K_COMP;
		d->cool = &n->cool[C_COMP];
	} else if (shrink &&
	    bs_cool_ok(&n->cool[C_BATCH], e->now, n->cm.cooldown_s) &&
	    bs_step(&batch, -1, n->batch_shrink, 0, batch.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p95 %s ms < %s ms "
		    "and %s p90 %s < %s for %s s (%s windows): without a "
		    "queue batching only adds delay: %s %s -> %s", RTT,
		    bs_f(&f, rtt), bs_f(&f, n->rtt_exit), QUEUE,
		    bs_f(&f, queue), bs_f(&f, n->queue_exit),
		    bs_f(&f, (double)(held / 1000)), bs_f(&f, n->exit_windows),
		    K_BATCH, bs_f(&f, batch.value), bs_f(&f, next));
		network_evidence(n, &ev);
		bs_ev_threshold(&ev, "rtt_exit_ms", n->rtt_exit);
		bs_ev_threshold(&ev, "queue_exit", n->queue_exit);
		bs_ev_number(&ev, "held_s", (double)(held / 1000));
		bs_ev_knob(&ev, &batch, next);
		bs_ev_string(&ev, "rule", "shrink");
		d->knob = K_BATCH;
		d->cool = &n->cool[C_BATCH];
	} else if (shrink &&
	    bs_cool_ok(&n->cool[C_DELAY], e->now, n->cm.cooldown_s) &&
	    bs_step(&delay, -1, n->delay_shrink, 0, delay.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p95 %s ms < %s ms "
		    "and %s p90 %s < %s for %s s (%s windows): without a "
		    "queue waiting for a batch only adds delay: %s %s -> %s",
		    RTT, bs_f(&f, rtt), bs_f(&f, n->rtt_exit), QUEUE,
		    bs_f(&f, queue), bs_f(&f, n->queue_exit),
		    bs_f(&f, (double)(held / 1000)), bs_f(&f, n->exit_windows),
		    K_DELAY, bs_f(&f, delay.value), bs_f(&f, next));
		network_evidence(n, &ev);
		bs_ev_threshold(&ev, "rtt_exit_ms", n->rtt_exit);
		bs_ev_threshold(&ev, "queue_exit", n->queue_exit);
		bs_ev_number(&ev, "held_s", (double)(held / 1000));
		bs_ev_knob(&ev, &delay, next);
		bs_ev_string(&ev, "rule", "shrink");
		d->knob = K_DELAY;
		d->cool = &n->cool[C_DELAY];
	} else
		return 0;
	d->value = next;
	d->has_evidence = bs_ev_close(&ev) == 0;
	return 1;
}

static int
network_apply(void *state, struct mt_ctx *ctx)
{
	struct network	*n = state;

	return bs_propose(n->host, ctx, &n->d);
}

static const struct mt_strategy network_strategy = {
	MT_STRATEGY_HEADER,
	.name = "network",
	.version = "1.0",
	.summary = "batching and compression against net.rtt_ms p95",
	.init = network_init,
	.should_apply = network_should_apply,
	.apply = network_apply,
	.destroy = bs_destroy,
};

MT_STRATEGY_EXPORT(network)
{
	(void)host;
	return &network_strategy;
}
