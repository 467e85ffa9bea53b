/*
 * consensus.c -- the bundled consensus strategy: batch size, round
 * timeout, verification threads and the vote cache (STRATEGIES.md,
 * "consensus").
 *
 * Knobs: consensus.batch_size (x2 / /2), consensus.round_timeout_ms
 * (x1.5 up, x0.8 down), consensus.verify_threads (+1, never above ncpu),
 * consensus.vote_cache (a 0/1 flag, set to 1).  Rules, in the order they
 * are tried; one knob per tick:
 *
 *  timeouts	consensus.round_ms p90 > timeout_frac x the timeout on
 *		confirm_ticks ticks: the typical round comes close to the
 *		timeout -> round_timeout_ms x timeout_grow.  Expects the
 *		timeout rate to fall.  STRATEGIES.md also grew it on any
 *		timeouts in 2 consecutive windows, or on round_ms p99: both
 *		fire on leader failures, which a longer timeout does not
 *		prevent but makes slower to detect (a timed-out round's
 *		round_ms holds the timeout, so p99 passes it whenever 1 %
 *		of rounds fail, whatever the cause).  Measured on
 *		meshtune-simnode, peer-churn (3 % leader failures, round
 *		p90 ~600 ms): the old rule took the timeout 2000 -> 3000 ->
 *		4500 ms and raised consensus.round_ms p95 over the
 *		disturbance from 774 ms (static) to 1059 ms.
 *  throughput	rate(consensus.ops) < ops_min_rate and consensus.pending
 *		last > pending_factor x batch_size, on confirm_ticks ticks
 *		-> batch_size x batch_grow.  Expects the ops rate to rise.
 *  verify	mean(consensus.verify_ms) x verifications per round (the
 *		count of verify_ms over the count of round_ms in the
 *		window) > verify_share_pct of consensus.round_ms p50, and
 *		proc.cpu_pct p90 < cpu_max_pct of ncpu CPUs, on
 *		confirm_ticks ticks -> verify_threads + threads_step.
 *		Expects round_ms p95 to fall.
 *  cache	rate(consensus.vote_cache_misses) > cache_miss_rate and the
 *		hit ratio hits / (hits + misses) < cache_hit_pct, with the
 *		cache off, on confirm_ticks ticks -> vote_cache 1.  Expects
 *		the miss rate to fall.
 *  exit	consensus.pending p90 < batch_size / pending_exit_div,
 *		consensus.round_ms p95 > round_exit_ms and
 *		consensus.batch_ops p90 > batch_size x batch_shrink, on
 *		confirm_ticks ticks -> batch_size x batch_shrink (latency
 *		at light load).  Expects round_ms p95 to fall.  The
 *		batch_ops condition is not in STRATEGIES.md: a round takes
 *		what is pending up to the batch size, so when rounds carry
 *		less than the smaller batch, shrinking changes nothing.
 *		Measured on meshtune-simnode, congestion, after the backlog
 *		drained: 200 -> 100 with rounds of ~40 ops left round_ms
 *		p95 558 -> 570 ms, rolled back, a reversal of the strategy's
 *		own 100 -> 200 a minute before.
 *  lower	only with "timeout_decrease": true (off by default:
 *		timeouts should agree across validators, ADR-074): no
 *		timeouts for timeout_quiet_windows windows and round_ms
 *		p999 < timeout_low_frac x the timeout -> timeout x
 *		timeout_shrink, never below max(timeout_floor_ms,
 *		timeout_floor_p99 x round_ms p99) (RFC 6298-style).  No
 *		automatic verification: a shorter timeout shows its worth
 *		only when a leader fails.
 *
 * The timeout counters must exist (the node sends consensus.timeouts,
 * even as 0) for the quiet-windows test; an absent series is no
 * evidence of quiet.  Counters have no sample count in the SDK, so the
 * rate rules rest on the hysteresis alone.
 *
 * Configuration keys and defaults: see consensus_init and
 * meshtune-strategies(7).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meshtune/strategy.h>

#include "bundled.h"

#define ROUND		"consensus.round_ms"
#define OPS		"consensus.ops"
#define VERIFY		"consensus.verify_ms"
#define PENDING		"consensus.pending"
#define BATCH_OPS	"consensus.batch_ops"
#define TIMEOUTS	"consensus.timeouts"
#define HITS		"consensus.vote_cache_hits"
#define MISSES		"consensus.vote_cache_misses"
#define CPU		"proc.cpu_pct"
#define K_BATCH		"consensus.batch_size"
#define K_TIMEOUT	"consensus.round_timeout_ms"
#define K_THREADS	"consensus.verify_threads"
#define K_CACHE		"consensus.vote_cache"

enum { C_BATCH, C_TIMEOUT, C_THREADS, C_CACHE, C_N };

struct consensus {
	const struct mt_host_api *host;
	struct bs_common	 cm;
	double			 ops_min_rate, pending_factor, batch_grow;
	double			 batch_shrink, pending_exit_div, round_exit_ms;
	double			 timeout_frac, timeout_grow, timeout_decrease;
	double			 quiet_windows, timeout_low_frac;
	double			 timeout_shrink, floor_ms, floor_p99;
	double			 verify_share_pct, cpu_max_pct, ncpu;
	double			 threads_step, cache_miss_rate, cache_hit_pct;
	/* hysteresis and cooldowns */
	struct bs_hold		 timeouts_quiet;
	struct bs_confirm	 slow_rounds, throughput, verify, cache, exit;
	struct bs_cool		 cool[C_N];
	/* this evaluation */
	struct bs_eval		 e;
	struct bs_decision	 d;
};

static int
consensus_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct consensus	*s;
	struct bs_conf		 c = { host, ctx, err, errlen, 0 };

	(void)config_json;
	if ((s = bs_state_new(host, sizeof(*s), err, errlen)) == NULL)
		return MT_ERR;
	s->host = host;
	bs_common_read(&c, &s->cm);
	bs_conf_number(&c, "ops_min_rate", &s->ops_min_rate, 100, 0, 1e12);
	bs_conf_number(&c, "pending_factor", &s->pending_factor, 2, 0, 1e6);
	bs_conf_number(&c, "batch_grow", &s->batch_grow, 2, 1.01, 16);
	bs_conf_number(&c, "batch_shrink", &s->batch_shrink, 0.5, 0.01,
	    0.99);
	bs_conf_number(&c, "pending_exit_div", &s->pending_exit_div, 4, 1,
	    1e6);
	bs_conf_number(&c, "round_exit_ms", &s->round_exit_ms, 500, 0, 1e9);
	bs_conf_number(&c, "timeout_frac", &s->timeout_frac, 0.8, 0.01, 10);
	bs_conf_number(&c, "timeout_grow", &s->timeout_grow, 1.5, 1.01, 16);
	bs_conf_number(&c, "timeout_decrease", &s->timeout_decrease, 0, 0,
	    1);
	bs_conf_number(&c, "timeout_quiet_windows", &s->quiet_windows, 5, 1,
	    1000);
	bs_conf_number(&c, "timeout_low_frac", &s->timeout_low_frac, 0.4,
	    0.01, 10);
	bs_conf_number(&c, "timeout_shrink", &s->timeout_shrink, 0.8, 0.01,
	    0.99);
	bs_conf_number(&c, "timeout_floor_ms", &s->floor_ms, 200, 0, 1e9);
	bs_conf_number(&c, "timeout_floor_p99", &s->floor_p99, 2, 0, 100);
	bs_conf_number(&c, "verify_share_pct", &s->verify_share_pct, 30, 0,
	    100);
	bs_conf_number(&c, "cpu_max_pct", &s->cpu_max_pct, 70, 0, 100);
	bs_conf_number(&c, "ncpu", &s->ncpu, bs_ncpu(), 1, 65536);
	bs_conf_number(&c, "threads_step", &s->threads_step, 1, 1, 1024);
	bs_conf_number(&c, "cache_miss_rate", &s->cache_miss_rate, 10, 0,
	    1e12);
	bs_conf_number(&c, "cache_hit_pct", &s->cache_hit_pct, 50, 0, 100);
	if (!c.failed && s->timeout_decrease &&
	    s->timeout_low_frac >= s->timeout_frac) {
		snprintf(err, errlen, "config \"timeout_low_frac\" must be "
		    "below \"timeout_frac\" (hysteresis)");
		c.failed = 1;
	}
	if (c.failed) {
		free(s);
		return MT_ERR;
	}
	*statep = s;
	return MT_OK;
}

/* Start a SET decision on knob k with its expected effect. */
static void
consensus_decide(struct consensus *s, const char *knob, int cool,
    const char *metric, const char *stat, int dir)
{
	s->d.kind = MT_ACT_SET;
	s->d.knob = knob;
	s->d.cool = &s->cool[cool];
	s->d.expect_metric = metric;
	s->d.expect_stat = stat;
	s->d.expect_dir = dir;
}

static int
consensus_should_apply(void *state, struct mt_ctx *ctx)
{
	struct consensus	*s = state;
	struct bs_eval		*e = &s->e;
	struct bs_decision	*d = &s->d;
	struct bs_knob		 batch, timeout, threads, cache;
	struct bs_fmt		 f;
	struct bs_ev		 ev;
	uint64_t		 gap, quiet_ms = 0;
	double			 tmo_rate = 0, p90 = 0, p99 = 0, p999 = 0;
	double			 ops = 0;
	double			 pend_last = 0, pend_p90 = 0, p95 = 0;
	double			 ops_p90 = 0;
	double			 vmean = 0, vcount = 0, rcount = 0, p50 = 0;
	double			 cpu = 0, hits = 0, misses = 0, share = 0;
	double			 hitpct = 0, floor = 0, next = 0;
	int			 has_tmo, has_p90, has_p99, slow, tput, verify;
	int			 cachec, exitc, quiet;

	memset(&f, 0, sizeof(f));
	bs_eval_start(e, s->host, ctx, &s->cm);
	gap = (uint64_t)(s->cm.window_s * 1000);
	bs_knob_read(e, K_BATCH, &batch);
	bs_knob_read(e, K_TIMEOUT, &timeout);
	bs_knob_read(e, K_THREADS, &threads);
	bs_knob_read(e, K_CACHE, &cache);

	/* Timeouts: the typical round near it. */
	has_tmo = bs_get(e, TIMEOUTS, "rate", &tmo_rate);
	has_p90 = bs_get(e, ROUND, "p90", &p90);
	has_p99 = bs_get(e, ROUND, "p99", &p99);
	slow = bs_confirm(&s->slow_rounds, has_p90 && timeout.ok &&
	    p90 > s->timeout_frac * timeout.value, e->now,
	    s->cm.confirm_ticks, gap);

	/* Throughput-bound: few ops, a backlog of several batches. */
	tput = 0;
	if (bs_get(e, OPS, "rate", &ops) &&
	    bs_get(e, PENDING, "last", &pend_last) && batch.ok)
		tput = ops < s->ops_min_rate &&
		    pend_last > s->pending_factor * batch.value;
	tput = bs_confirm(&s->throughput, tput, e->now, s->cm.confirm_ticks,
	    gap);

	/* Verification-bound: verifying takes a share of each round. */
	verify = 0;
	if (bs_get(e, VERIFY, "mean", &vmean) &&
	    bs_get(e, VERIFY, "count", &vcount) &&
	    bs_get(e, ROUND, "p50", &p50) &&
	    bs_get(e, ROUND, "count", &rcount) && rcount > 0 && p50 > 0 &&
	    bs_get(e, CPU, "p90", &cpu)) {
		share = vmean * (vcount / rcount) * 100 / p50;
		verify = share > s->verify_share_pct &&
		    cpu / s->ncpu < s->cpu_max_pct;
	}
	verify = bs_confirm(&s->verify, verify, e->now, s->cm.confirm_ticks,
	    gap);

	/* Vote cache: many misses, a poor hit ratio, and it is off. */
	cachec = 0;
	if (bs_get(e, MISSES, "rate", &misses) && cache.ok &&
	    cache.value < 1) {
		if (!bs_get(e, HITS, "rate", &hits))
			hits = 0;	/* a node with the cache off may send none */
		hitpct = hits + misses > 0 ? hits * 100 / (hits + misses) : 0;
		cachec = misses > s->cache_miss_rate &&
		    hitpct < s->cache_hit_pct;
	}
	cachec = bs_confirm(&s->cache, cachec, e->now, s->cm.confirm_ticks,
	    gap);

	/*
	 * Exit: a small backlog but slow rounds, and rounds that carry
	 * more than the smaller batch would: a round takes what is
	 * pending, up to the batch size, so below that a smaller batch
	 * changes nothing.
	 */
	exitc = 0;
	if (bs_get(e, PENDING, "p90", &pend_p90) &&
	    bs_get(e, ROUND, "p95", &p95) && batch.ok &&
	    bs_get(e, BATCH_OPS, "p90", &ops_p90))
		exitc = pend_p90 < batch.value / s->pending_exit_div &&
		    p95 > s->round_exit_ms &&
		    ops_p90 > batch.value * s->batch_shrink;
	exitc = bs_confirm(&s->exit, exitc, e->now, s->cm.confirm_ticks, gap);

	/* Lower the timeout: quiet for several windows, rounds well below. */
	quiet = 0;
	if (s->timeout_decrease) {
		quiet = has_tmo && tmo_rate == 0 && has_p99 && timeout.ok &&
		    bs_get(e, ROUND, "p999", &p999) &&
		    p999 < s->timeout_low_frac * timeout.value;
		quiet = bs_hold(&s->timeouts_quiet, quiet, e->now,
		    (uint64_t)(s->quiet_windows * s->cm.window_s * 1000), gap,
		    &quiet_ms);
	}

	memset(d, 0, sizeof(*d));
	bs_ev_open(&ev, d->evidence, sizeof(d->evidence));
	if (slow &&
	    bs_cool_ok(&s->cool[C_TIMEOUT], e->now, s->cm.cooldown_s) &&
	    bs_step(&timeout, +1, s->timeout_grow, 0, timeout.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p90 %s ms > %s x "
		    "%s %s = %s ms on %u ticks (%s rate %s/s): the typical "
		    "round comes close to the timeout: %s %s -> %s", ROUND,
		    bs_f(&f, p90), bs_f(&f, s->timeout_frac), K_TIMEOUT,
		    bs_f(&f, timeout.value),
		    bs_f(&f, s->timeout_frac * timeout.value),
		    s->slow_rounds.n, TIMEOUTS, has_tmo ? bs_f(&f, tmo_rate) :
		    "no", K_TIMEOUT, bs_f(&f, timeout.value), bs_f(&f, next));
		bs_ev_series(&ev, e, TIMEOUTS);
		bs_ev_series(&ev, e, ROUND);
		bs_ev_threshold(&ev, "timeout_frac", s->timeout_frac);
		bs_ev_knob(&ev, &timeout, next);
		bs_ev_string(&ev, "rule", "timeouts");
		consensus_decide(s, K_TIMEOUT, C_TIMEOUT, TIMEOUTS, "rate", -1);
	} else if (tput &&
	    bs_cool_ok(&s->cool[C_BATCH], e->now, s->cm.cooldown_s) &&
	    bs_step(&batch, +1, s->batch_grow, 0, batch.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "rate(%s) %s/s < %s/s "
		    "and %s last %s > %s x %s %s on %u ticks: "
		    "throughput-bound, bigger batches: %s %s -> %s", OPS,
		    bs_f(&f, ops), bs_f(&f, s->ops_min_rate), PENDING,
		    bs_f(&f, pend_last), bs_f(&f, s->pending_factor), K_BATCH,
		    bs_f(&f, batch.value), s->throughput.n, K_BATCH,
		    bs_f(&f, batch.value), bs_f(&f, next));
		bs_ev_series(&ev, e, OPS);
		bs_ev_series(&ev, e, PENDING);
		bs_ev_threshold(&ev, "ops_min_rate", s->ops_min_rate);
		bs_ev_threshold(&ev, "pending_factor", s->pending_factor);
		bs_ev_knob(&ev, &batch, next);
		bs_ev_string(&ev, "rule", "throughput");
		consensus_decide(s, K_BATCH, C_BATCH, OPS, "rate", +1);
	} else if (verify &&
	    bs_cool_ok(&s->cool[C_THREADS], e->now, s->cm.cooldown_s) &&
	    bs_step(&threads, +1, 0, s->threads_step, s->ncpu, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s mean %s ms x %s "
		    "verifications per round = %s %% of %s p50 %s ms > %s %%, "
		    "and %s p90 %s %% (%s %% of %s CPUs) < %s %%, on %u ticks: "
		    "verification-bound: %s %s -> %s", VERIFY,
		    bs_f(&f, vmean), bs_f(&f, vcount / rcount), bs_f(&f, share),
		    ROUND, bs_f(&f, p50), bs_f(&f, s->verify_share_pct), CPU,
		    bs_f(&f, cpu), bs_f(&f, cpu / s->ncpu), bs_f(&f, s->ncpu),
		    bs_f(&f, s->cpu_max_pct), s->verify.n, K_THREADS,
		    bs_f(&f, threads.value), bs_f(&f, next));
		bs_ev_series(&ev, e, VERIFY);
		bs_ev_series(&ev, e, ROUND);
		bs_ev_series(&ev, e, CPU);
		bs_ev_number(&ev, "verify_share_pct", share);
		bs_ev_threshold(&ev, "verify_share_pct", s->verify_share_pct);
		bs_ev_threshold(&ev, "cpu_max_pct", s->cpu_max_pct);
		bs_ev_threshold(&ev, "ncpu", s->ncpu);
		bs_ev_knob(&ev, &threads, next);
		bs_ev_string(&ev, "rule", "verify");
		consensus_decide(s, K_THREADS, C_THREADS, ROUND, "p95", -1);
	} else if (cachec &&
	    bs_cool_ok(&s->cool[C_CACHE], e->now, s->cm.cooldown_s) &&
	    cache.max >= 1) {
		next = 1;
		snprintf(d->reason, sizeof(d->reason), "%s rate %s/s > %s/s "
		    "and the vote cache hit ratio %s %% < %s %% on %u ticks: "
		    "turn the vote cache on: %s %s -> %s", MISSES,
		    bs_f(&f, misses), bs_f(&f, s->cache_miss_rate),
		    bs_f(&f, hitpct), bs_f(&f, s->cache_hit_pct), s->cache.n,
		    K_CACHE, bs_f(&f, cache.value), bs_f(&f, next));
		bs_ev_series(&ev, e, MISSES);
		bs_ev_series(&ev, e, HITS);
		bs_ev_number(&ev, "hit_pct", hitpct);
		bs_ev_threshold(&ev, "cache_miss_rate", s->cache_miss_rate);
		bs_ev_threshold(&ev, "cache_hit_pct", s->cache_hit_pct);
		bs_ev_knob(&ev, &cache, next);
		bs_ev_string(&ev, "rule", "cache");
		consensus_decide(s, K_CACHE, C_CACHE, MISSES, "rate", -1);
	} else if (exitc &&
	    bs_cool_ok(&s->cool[C_BATCH], e->now, s->cm.cooldown_s) &&
	    bs_step(&batch, -1, s->batch_shrink, 0, batch.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p90 %s < %s %s / "
		    "%s and %s p95 %s ms > %s ms, with %s p90 %s, on %u "
		    "ticks: light load, smaller batches: %s %s -> %s",
		    PENDING, bs_f(&f, pend_p90), K_BATCH,
		    bs_f(&f, batch.value), bs_f(&f, s->pending_exit_div),
		    ROUND, bs_f(&f, p95), bs_f(&f, s->round_exit_ms),
		    BATCH_OPS, bs_f(&f, ops_p90), s->exit.n, K_BATCH,
		    bs_f(&f, batch.value), bs_f(&f, next));
		bs_ev_series(&ev, e, PENDING);
		bs_ev_series(&ev, e, ROUND);
		bs_ev_series(&ev, e, BATCH_OPS);
		bs_ev_threshold(&ev, "pending_exit_div", s->pending_exit_div);
		bs_ev_threshold(&ev, "round_exit_ms", s->round_exit_ms);
		bs_ev_knob(&ev, &batch, next);
		bs_ev_string(&ev, "rule", "exit");
		consensus_decide(s, K_BATCH, C_BATCH, ROUND, "p95", -1);
	} else if (quiet &&
	    bs_cool_ok(&s->cool[C_TIMEOUT], e->now, s->cm.cooldown_s) &&
	    bs_step(&timeout, -1, s->timeout_shrink, 0, timeout.max, &next)) {
		floor = s->floor_p99 * p99;
		if (floor < s->floor_ms)
			floor = s->floor_ms;
		floor = bs_round(floor);
		if (next < floor)
			next = floor;
		if (next >= timeout.value)
			return 0;	/* already at the floor */
		snprintf(d->reason, sizeof(d->reason), "no %s for %s s (%s "
		    "windows) and %s p999 %s ms < %s x %s ms: %s %s -> %s "
		    "(floor max(%s, %s x p99 %s) = %s ms)", TIMEOUTS,
		    bs_f(&f, (double)(quiet_ms / 1000)),
		    bs_f(&f, s->quiet_windows), ROUND, bs_f(&f, p999),
		    bs_f(&f, s->timeout_low_frac), bs_f(&f, timeout.value),
		    K_TIMEOUT, bs_f(&f, timeout.value), bs_f(&f, next),
		    bs_f(&f, s->floor_ms), bs_f(&f, s->floor_p99),
		    bs_f(&f, p99), bs_f(&f, floor));
		bs_ev_series(&ev, e, TIMEOUTS);
		bs_ev_series(&ev, e, ROUND);
		bs_ev_threshold(&ev, "timeout_low_frac", s->timeout_low_frac);
		bs_ev_threshold(&ev, "floor_ms", floor);
		bs_ev_number(&ev, "held_s", (double)(quiet_ms / 1000));
		bs_ev_knob(&ev, &timeout, next);
		bs_ev_string(&ev, "rule", "lower");
		/* Watch the timeouts, but nothing is expected to improve. */
		consensus_decide(s, K_TIMEOUT, C_TIMEOUT, TIMEOUTS, "rate", 0);
	} else
		return 0;
	d->value = next;
	d->has_evidence = bs_ev_close(&ev) == 0;
	return 1;
}

static int
consensus_apply(void *state, struct mt_ctx *ctx)
{
	struct consensus	*s = state;

	return bs_propose(s->host, ctx, &s->d);
}

static const struct mt_strategy consensus_strategy = {
	MT_STRATEGY_HEADER,
	.name = "consensus",
	.version = "1.0",
	.summary = "consensus batch size, round timeout, verify threads and "
	    "vote cache",
	.init = consensus_init,
	.should_apply = consensus_should_apply,
	.apply = consensus_apply,
	.destroy = bs_destroy,
};

MT_STRATEGY_EXPORT(consensus)
{
	(void)host;
	return &consensus_strategy;
}
