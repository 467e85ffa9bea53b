/*
 * mesh.c -- the bundled mesh strategy: neighbours, reach, retransmits,
 * advertising and relaying (STRATEGIES.md, "mesh").
 *
 * Knobs: mesh.ttl (+-1), mesh.max_peers (+2), mesh.retransmits (+-1),
 * mesh.adv_interval_ms (/2, x2), mesh.relay (a 0/1 flag, set to 0).  The
 * small integer knobs move by STRATEGIES.md's additive steps: 25 % of a
 * TTL of 3 or of one retransmit rounds to nothing.  Rules, in the order
 * they are tried; one knob per tick; conditions on confirm_ticks ticks
 * unless they say "for":
 *
 *  loss	mesh.loss_pct p90 > loss_enter_pct -> retransmits +1.
 *		Expects loss p90 to fall.
 *  reach	mesh.hops p99 >= ttl - ttl_margin -> ttl +1.  Expects loss
 *		p90 to fall (messages stop dying of old age).
 *  hops	mesh.hops p50 > hops_p50_max or p95 > hops_p95_max: with
 *		mesh.peers last >= max_peers (the cap binds) -> max_peers
 *		+ peers_step; below the cap -> adv_interval_ms x adv_shrink
 *		(find the neighbours in range).  Expects verify_metric p95
 *		(mesh.propagation_ms) to fall.  STRATEGIES.md raised
 *		max_peers when peers < max_peers, which is backwards: below
 *		the cap a higher cap adds no link, and at the cap, where a
 *		higher one shortens paths, it never fired.  Measured on
 *		meshtune-simnode, calm, --peers 64, max_peers 3 (3 links):
 *		hops p50 4, mesh.propagation_ms p95 59 ms; max_peers 5: p50
 *		3, p95 44 ms; 8: p50 2, p95 36 ms.
 *  discover	mesh.peers below peers_min for more than shortage_pct %
 *		of the window (its shortage_pct quantile < peers_min), on
 *		every tick for shortage_windows windows -> adv_interval_ms
 *		x adv_shrink.  Expects mesh.peers mean to rise: the
 *		median of a handful of links moves by whole links:
 *		halving the interval (4.2 links instead of 3.6 on average
 *		expected) left p50 at 4 and was rolled back (meshtune-simnode,
 *		peer-churn, links breaking at 0.1/s, 5 in range).
 *		STRATEGIES.md read mesh.peers last < 3 on 2 ticks: one
 *		gauge reading, which on peer-churn came true at a random
 *		tick between 20 s and 160 s into the churn; and fired at
 *		its start, the governor's baseline (the window before the
 *		change) still held the calm minute with 8 links (mean
 *		5.6), so the halving, which raised the mean from 3.6 to
 *		4.2, was judged worse and rolled back.  Held for a window,
 *		the window the baseline is read from lies inside the
 *		shortage.
 *  relay	mesh.dup_pct p50 > relay_dup_pct with relay on and
 *		mesh.peers last >= relay_min_peers -> relay 0.  Expects
 *		dup p50 to fall.
 *  shorten	mesh.hops p99 + ttl_shrink_margin < ttl and mesh.dup_pct
 *		p50 > ttl_dup_pct, in a mesh without loss (mesh.loss_pct
 *		p90 < loss_exit_pct for loss_exit_windows windows, as for
 *		calm) -> ttl -1.  Expects dup p50 to fall.  With loss,
 *		most duplicates answer lost acks (retransmits), which a
 *		shorter TTL does not touch: on peer-churn, retransmits 2,
 *		ttl 8 -> 7 moved dup p50 from 20.4 to 19.9 % and was
 *		rolled back; and while links break, paths lengthen.
 *  calm	mesh.loss_pct p90 < loss_exit_pct for loss_exit_windows
 *		windows -> retransmits -1.  Expects dup p50 to fall.
 *  quiet	mesh.peers last >= max_peers for peers_full_windows
 *		windows -> adv_interval_ms x adv_grow (save power).
 *		Expects net.tx_bytes rate to fall.
 * Hysteresis: loss between loss_exit_pct and loss_enter_pct, hops p99
 * between ttl - ttl_shrink_margin and ttl - ttl_margin, and peers between
 * peers_min and max_peers change nothing.  Nothing turns relaying back
 * on: STRATEGIES.md has no rule for it.
 *
 * Configuration keys and defaults: see mesh_init and
 * meshtune-strategies(7).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meshtune/strategy.h>

#include "bundled.h"

#define HOPS		"mesh.hops"
#define PEERS		"mesh.peers"
#define LOSS		"mesh.loss_pct"
#define DUP		"mesh.dup_pct"
#define TX		"net.tx_bytes"
#define K_TTL		"mesh.ttl"
#define K_PEERS		"mesh.max_peers"
#define K_RETX		"mesh.retransmits"
#define K_ADV		"mesh.adv_interval_ms"
#define K_RELAY		"mesh.relay"

enum { C_TTL, C_PEERS, C_RETX, C_ADV, C_RELAY, C_N };

struct mesh {
	const struct mt_host_api *host;
	struct bs_common	 cm;
	double			 hops_p50_max, hops_p95_max, peers_step;
	double			 adv_shrink, adv_grow, ttl_margin;
	double			 ttl_shrink_margin, ttl_dup_pct, ttl_step;
	double			 loss_enter, loss_exit, loss_exit_windows;
	double			 retx_step, relay_dup_pct, relay_min_peers;
	double			 peers_min, peers_full_windows;
	double			 shortage_pct, shortage_windows;
	char			 verify_metric[201];
	/* hysteresis and cooldowns */
	struct bs_confirm	 loss, reach, hops, relay, shorten;
	struct bs_hold		 calm, full, shortage;
	struct bs_cool		 cool[C_N];
	/* this evaluation */
	struct bs_eval		 e;
	struct bs_decision	 d;
};

static int
mesh_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct mesh	*m;
	struct bs_conf	 c = { host, ctx, err, errlen, 0 };

	(void)config_json;
	if ((m = bs_state_new(host, sizeof(*m), err, errlen)) == NULL)
		return MT_ERR;
	m->host = host;
	bs_common_read(&c, &m->cm);
	bs_conf_number(&c, "hops_p50_max", &m->hops_p50_max, 3, 0, 1000);
	bs_conf_number(&c, "hops_p95_max", &m->hops_p95_max, 5, 0, 1000);
	bs_conf_number(&c, "peers_step", &m->peers_step, 2, 1, 1000);
	bs_conf_number(&c, "adv_shrink", &m->adv_shrink, 0.5, 0.01, 0.99);
	bs_conf_number(&c, "adv_grow", &m->adv_grow, 2, 1.01, 16);
	bs_conf_number(&c, "ttl_margin", &m->ttl_margin, 1, 0, 1000);
	bs_conf_number(&c, "ttl_shrink_margin", &m->ttl_shrink_margin, 2, 0,
	    1000);
	bs_conf_number(&c, "ttl_dup_pct", &m->ttl_dup_pct, 20, 0, 100);
	bs_conf_number(&c, "ttl_step", &m->ttl_step, 1, 1, 1000);
	bs_conf_number(&c, "loss_enter_pct", &m->loss_enter, 5, 0, 100);
	bs_conf_number(&c, "loss_exit_pct", &m->loss_exit, 1, 0, 100);
	bs_conf_number(&c, "loss_exit_windows", &m->loss_exit_windows, 5, 0,
	    1000);
	bs_conf_number(&c, "retx_step", &m->retx_step, 1, 1, 100);
	bs_conf_number(&c, "relay_dup_pct", &m->relay_dup_pct, 30, 0, 100);
	bs_conf_number(&c, "relay_min_peers", &m->relay_min_peers, 6, 0,
	    1e6);
	bs_conf_number(&c, "peers_min", &m->peers_min, 3, 0, 1e6);
	bs_conf_number(&c, "peers_full_windows", &m->peers_full_windows, 5,
	    0, 1000);
	bs_conf_number(&c, "shortage_pct", &m->shortage_pct, 5, 0.1, 50);
	bs_conf_number(&c, "shortage_windows", &m->shortage_windows, 1, 0,
	    1000);
	bs_conf_string(&c, "verify_metric", m->verify_metric,
	    sizeof(m->verify_metric), "mesh.propagation_ms");
	if (!c.failed && m->loss_exit >= m->loss_enter) {
		snprintf(err, errlen, "config \"loss_exit_pct\" must be below "
		    "\"loss_enter_pct\" (hysteresis)");
		c.failed = 1;
	}
	if (!c.failed && m->ttl_shrink_margin <= m->ttl_margin) {
		snprintf(err, errlen, "config \"ttl_shrink_margin\" must be "
		    "above \"ttl_margin\" (hysteresis)");
		c.failed = 1;
	}
	if (c.failed) {
		free(m);
		return MT_ERR;
	}
	*statep = m;
	return MT_OK;
}

/* Fill the decision's knob, cooldown slot and expected effect. */
static void
mesh_decide(struct mesh *m, const char *knob, int cool, const char *metric,
    const char *stat, int dir)
{
	m->d.knob = knob;
	m->d.cool = &m->cool[cool];
	m->d.expect_metric = metric;
	m->d.expect_stat = stat;
	m->d.expect_dir = dir;
}

/*
 * The shortage_pct quantile of mesh.peers in *out: below peers_min when
 * more than shortage_pct % of the window's samples were.  1 when read
 * and trusted (the window holds the samples a quantile that far in the
 * tail needs, as p95 for 5 %), 0 otherwise or when the host has no
 * quantile function.
 */
static int
mesh_shortage_q(struct mesh *m, struct bs_eval *e, double *out)
{
	double	q = m->shortage_pct / 100, count, need;

	if (!MT_HOST_HAS(m->host, quantile) ||
	    !bs_get(e, PEERS, "count", &count))
		return 0;
	need = q >= 0.5 ? m->cm.min_p50 : q >= 0.1 ? m->cm.min_p90 :
	    q >= 0.05 ? m->cm.min_p95 : q >= 0.01 ? m->cm.min_p99 :
	    m->cm.min_p999;
	if (count < need || m->host->quantile(e->ctx, PEERS, q, out) !=
	    MT_OK || *out != *out)
		return 0;
	return 1;
}

static int
mesh_should_apply(void *state, struct mt_ctx *ctx)
{
	struct mesh		*m = state;
	struct bs_eval		*e = &m->e;
	struct bs_decision	*d = &m->d;
	struct bs_knob		 ttl, maxp, retx, adv, relay;
	const struct bs_knob	*hk;
	struct bs_fmt		 f;
	struct bs_ev		 ev;
	uint64_t		 gap, win, calm_ms = 0, full_ms = 0;
	uint64_t		 short_ms = 0;
	double			 p50 = 0, p95 = 0, p99 = 0, peers = 0;
	double			 loss = 0, dup = 0, next = 0, hnext = 0;
	double			 shortq = 0;
	int			 has_p50, has_p95, has_p99, has_peers, has_shortq;
	int			 has_loss, has_dup, lossc, reach, hops;
	int			 discover, relayc, shorten, calm, full;

	memset(&f, 0, sizeof(f));
	bs_eval_start(e, m->host, ctx, &m->cm);
	gap = (uint64_t)(m->cm.window_s * 1000);
	win = gap;
	bs_knob_read(e, K_TTL, &ttl);
	bs_knob_read(e, K_PEERS, &maxp);
	bs_knob_read(e, K_RETX, &retx);
	bs_knob_read(e, K_ADV, &adv);
	bs_knob_read(e, K_RELAY, &relay);
	has_p50 = bs_get(e, HOPS, "p50", &p50);
	has_p95 = bs_get(e, HOPS, "p95", &p95);
	has_p99 = bs_get(e, HOPS, "p99", &p99);
	has_peers = bs_get(e, PEERS, "last", &peers);
	has_loss = bs_get(e, LOSS, "p90", &loss);
	has_dup = bs_get(e, DUP, "p50", &dup);
	has_shortq = mesh_shortage_q(m, e, &shortq);

	lossc = bs_confirm(&m->loss, has_loss && loss > m->loss_enter,
	    e->now, m->cm.confirm_ticks, gap);
	reach = bs_confirm(&m->reach, has_p99 && ttl.ok &&
	    p99 >= ttl.value - m->ttl_margin, e->now, m->cm.confirm_ticks,
	    gap);
	hops = bs_confirm(&m->hops, ((has_p50 && p50 > m->hops_p50_max) ||
	    (has_p95 && p95 > m->hops_p95_max)) && has_peers && maxp.ok,
	    e->now, m->cm.confirm_ticks, gap);
	discover = bs_hold(&m->shortage, has_shortq && shortq < m->peers_min,
	    e->now, (uint64_t)(m->shortage_windows * win), gap, &short_ms);
	relayc = bs_confirm(&m->relay, has_dup && dup > m->relay_dup_pct &&
	    relay.ok && relay.value >= 1 && has_peers &&
	    peers >= m->relay_min_peers, e->now, m->cm.confirm_ticks, gap);
	calm = bs_hold(&m->calm, has_loss && loss < m->loss_exit, e->now,
	    (uint64_t)(m->loss_exit_windows * win), gap, &calm_ms);
	shorten = bs_confirm(&m->shorten, has_p99 && ttl.ok &&
	    p99 + m->ttl_shrink_margin < ttl.value && has_dup &&
	    dup > m->ttl_dup_pct && calm, e->now, m->cm.confirm_ticks, gap);
	full = bs_hold(&m->full, has_peers && maxp.ok && peers >= maxp.value,
	    e->now, (uint64_t)(m->peers_full_windows * win), gap, &full_ms);

	/*
	 * The hops rule: at the max_peers cap, raise it; below the cap the
	 * cap is not what keeps paths long (a higher one changes nothing),
	 * so advertise faster to find the neighbours in range.
	 */
	hk = NULL;
	if (hops && peers >= maxp.value) {
		if (bs_cool_ok(&m->cool[C_PEERS], e->now, m->cm.cooldown_s) &&
		    bs_step(&maxp, +1, 0, m->peers_step, maxp.max, &hnext))
			hk = &maxp;
	} else if (hops) {
		if (bs_cool_ok(&m->cool[C_ADV], e->now, m->cm.cooldown_s) &&
		    bs_step(&adv, -1, m->adv_shrink, 0, adv.max, &hnext))
			hk = &adv;
	}

	memset(d, 0, sizeof(*d));
	d->kind = MT_ACT_SET;
	bs_ev_open(&ev, d->evidence, sizeof(d->evidence));
	if (lossc && bs_cool_ok(&m->cool[C_RETX], e->now, m->cm.cooldown_s) &&
	    bs_step(&retx, +1, 0, m->retx_step, retx.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p90 %s %% > %s %% "
		    "on %u ticks: resend more: %s %s -> %s", LOSS,
		    bs_f(&f, loss), bs_f(&f, m->loss_enter), m->loss.n, K_RETX,
		    bs_f(&f, retx.value), bs_f(&f, next));
		bs_ev_series(&ev, e, LOSS);
		bs_ev_threshold(&ev, "loss_enter_pct", m->loss_enter);
		bs_ev_knob(&ev, &retx, next);
		bs_ev_string(&ev, "rule", "loss");
		mesh_decide(m, K_RETX, C_RETX, LOSS, "p90", -1);
	} else if (reach &&
	    bs_cool_ok(&m->cool[C_TTL], e->now, m->cm.cooldown_s) &&
	    bs_step(&ttl, +1, 0, m->ttl_step, ttl.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p99 %s >= %s %s - "
		    "%s on %u ticks: messages run out of hops: %s %s -> %s",
		    HOPS, bs_f(&f, p99), K_TTL, bs_f(&f, ttl.value),
		    bs_f(&f, m->ttl_margin), m->reach.n, K_TTL,
		    bs_f(&f, ttl.value), bs_f(&f, next));
		bs_ev_series(&ev, e, HOPS);
		bs_ev_threshold(&ev, "ttl_margin", m->ttl_margin);
		bs_ev_knob(&ev, &ttl, next);
		bs_ev_string(&ev, "rule", "reach");
		mesh_decide(m, K_TTL, C_TTL, LOSS, "p90", -1);
	} else if (hk != NULL) {
		next = hnext;
		snprintf(d->reason, sizeof(d->reason), "%s p50 %s > %s or p95 "
		    "%s > %s, with %s last %s %s %s %s, on %u ticks: paths are "
		    "long, %s: %s %s -> %s", HOPS,
		    bs_f(&f, p50), bs_f(&f, m->hops_p50_max), bs_f(&f, p95),
		    bs_f(&f, m->hops_p95_max), PEERS, bs_f(&f, peers),
		    hk == &maxp ? ">=" : "<", K_PEERS, bs_f(&f, maxp.value),
		    m->hops.n, hk == &maxp ? "allow more neighbours" :
		    "find the neighbours in range", hk->name,
		    bs_f(&f, hk->value), bs_f(&f, next));
		bs_ev_series(&ev, e, HOPS);
		bs_ev_series(&ev, e, PEERS);
		bs_ev_threshold(&ev, "hops_p50_max", m->hops_p50_max);
		bs_ev_threshold(&ev, "hops_p95_max", m->hops_p95_max);
		bs_ev_knob(&ev, hk, next);
		bs_ev_string(&ev, "rule", "hops");
		if (hk == &maxp)
			mesh_decide(m, K_PEERS, C_PEERS, m->verify_metric,
			    "p95", -1);
		else
			mesh_decide(m, K_ADV, C_ADV, m->verify_metric, "p95",
			    -1);
	} else if (discover &&
	    bs_cool_ok(&m->cool[C_ADV], e->now, m->cm.cooldown_s) &&
	    bs_step(&adv, -1, m->adv_shrink, 0, adv.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s below %s for more "
		    "than %s %% of the window (its %s %% quantile %s) for %s s "
		    "(%s windows): too few neighbours, advertise faster: %s %s "
		    "-> %s", PEERS, bs_f(&f, m->peers_min),
		    bs_f(&f, m->shortage_pct), bs_f(&f, m->shortage_pct),
		    bs_f(&f, shortq), bs_f(&f, (double)(short_ms / 1000)),
		    bs_f(&f, m->shortage_windows), K_ADV, bs_f(&f, adv.value),
		    bs_f(&f, next));
		bs_ev_series(&ev, e, PEERS);
		bs_ev_threshold(&ev, "peers_min", m->peers_min);
		bs_ev_threshold(&ev, "shortage_pct", m->shortage_pct);
		bs_ev_number(&ev, "shortage_quantile", shortq);
		bs_ev_number(&ev, "held_s", (double)(short_ms / 1000));
		bs_ev_knob(&ev, &adv, next);
		bs_ev_string(&ev, "rule", "discover");
		mesh_decide(m, K_ADV, C_ADV, PEERS, "mean", +1);
	} else if (relayc &&
	    bs_cool_ok(&m->cool[C_RELAY], e->now, m->cm.cooldown_s) &&
	    relay.min <= 0) {
		next = 0;
		snprintf(d->reason, sizeof(d->reason), "%s p50 %s %% > %s %% "
		    "with relaying on and %s last %s >= %s on %u ticks: enough "
		    "neighbours relay already: %s %s -> %s", DUP,
		    bs_f(&f, dup), bs_f(&f, m->relay_dup_pct), PEERS,
		    bs_f(&f, peers), bs_f(&f, m->relay_min_peers), m->relay.n,
		    K_RELAY, bs_f(&f, relay.value), bs_f(&f, next));
		bs_ev_series(&ev, e, DUP);
		bs_ev_series(&ev, e, PEERS);
		bs_ev_threshold(&ev, "relay_dup_pct", m->relay_dup_pct);
		bs_ev_threshold(&ev, "relay_min_peers", m->relay_min_peers);
		bs_ev_knob(&ev, &relay, next);
		bs_ev_string(&ev, "rule", "relay");
		mesh_decide(m, K_RELAY, C_RELAY, DUP, "p50", -1);
	} else if (shorten &&
	    bs_cool_ok(&m->cool[C_TTL], e->now, m->cm.cooldown_s) &&
	    bs_step(&ttl, -1, 0, -m->ttl_step, ttl.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p99 %s + %s < %s "
		    "%s and %s p50 %s %% > %s %% on %u ticks, %s p90 %s %% < "
		    "%s %% for %s s: hops to spare only make duplicates: %s %s "
		    "-> %s", HOPS, bs_f(&f, p99),
		    bs_f(&f, m->ttl_shrink_margin), K_TTL, bs_f(&f, ttl.value),
		    DUP, bs_f(&f, dup), bs_f(&f, m->ttl_dup_pct), m->shorten.n,
		    LOSS, bs_f(&f, loss), bs_f(&f, m->loss_exit),
		    bs_f(&f, (double)(calm_ms / 1000)), K_TTL,
		    bs_f(&f, ttl.value), bs_f(&f, next));
		bs_ev_series(&ev, e, HOPS);
		bs_ev_series(&ev, e, DUP);
		bs_ev_series(&ev, e, LOSS);
		bs_ev_threshold(&ev, "ttl_shrink_margin", m->ttl_shrink_margin);
		bs_ev_threshold(&ev, "ttl_dup_pct", m->ttl_dup_pct);
		bs_ev_threshold(&ev, "loss_exit_pct", m->loss_exit);
		bs_ev_number(&ev, "loss_calm_s", (double)(calm_ms / 1000));
		bs_ev_knob(&ev, &ttl, next);
		bs_ev_string(&ev, "rule", "shorten");
		mesh_decide(m, K_TTL, C_TTL, DUP, "p50", -1);
	} else if (calm &&
	    bs_cool_ok(&m->cool[C_RETX], e->now, m->cm.cooldown_s) &&
	    bs_step(&retx, -1, 0, -m->retx_step, retx.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s p90 %s %% < %s %% "
		    "for %s s (%s windows): resends only add airtime: %s %s "
		    "-> %s", LOSS, bs_f(&f, loss), bs_f(&f, m->loss_exit),
		    bs_f(&f, (double)(calm_ms / 1000)),
		    bs_f(&f, m->loss_exit_windows), K_RETX,
		    bs_f(&f, retx.value), bs_f(&f, next));
		bs_ev_series(&ev, e, LOSS);
		bs_ev_threshold(&ev, "loss_exit_pct", m->loss_exit);
		bs_ev_number(&ev, "held_s", (double)(calm_ms / 1000));
		bs_ev_knob(&ev, &retx, next);
		bs_ev_string(&ev, "rule", "calm");
		mesh_decide(m, K_RETX, C_RETX, DUP, "p50", -1);
	} else if (full &&
	    bs_cool_ok(&m->cool[C_ADV], e->now, m->cm.cooldown_s) &&
	    bs_step(&adv, +1, m->adv_grow, 0, adv.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s last %s >= %s %s "
		    "for %s s (%s windows): neighbours enough, advertise less "
		    "to save power: %s %s -> %s", PEERS, bs_f(&f, peers),
		    K_PEERS, bs_f(&f, maxp.value),
		    bs_f(&f, (double)(full_ms / 1000)),
		    bs_f(&f, m->peers_full_windows), K_ADV,
		    bs_f(&f, adv.value), bs_f(&f, next));
		bs_ev_series(&ev, e, PEERS);
		bs_ev_number(&ev, "max_peers", maxp.value);
		bs_ev_number(&ev, "held_s", (double)(full_ms / 1000));
		bs_ev_knob(&ev, &adv, next);
		bs_ev_string(&ev, "rule", "quiet");
		mesh_decide(m, K_ADV, C_ADV, TX, "rate", -1);
	} else
		return 0;
	d->value = next;
	d->has_evidence = bs_ev_close(&ev) == 0;
	return 1;
}

static int
mesh_apply(void *state, struct mt_ctx *ctx)
{
	struct mesh	*m = state;

	return bs_propose(m->host, ctx, &m->d);
}

static const struct mt_strategy mesh_strategy = {
	MT_STRATEGY_HEADER,
	.name = "mesh",
	.version = "1.0",
	.summary = "neighbours, TTL, retransmits, advertising and relaying",
	.init = mesh_init,
	.should_apply = mesh_should_apply,
	.apply = mesh_apply,
	.destroy = bs_destroy,
};

MT_STRATEGY_EXPORT(mesh)
{
	(void)host;
	return &mesh_strategy;
}
