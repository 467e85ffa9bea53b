/*
 * memory.c -- the bundled memory strategy: the node's cache size and its
 * "trim" (aggressive GC, malloc_trim) against heap use and memory
 * pressure (STRATEGIES.md, "memory").
 *
 * Knobs: mem.cache_max_mb (x0.8 to shrink, x1.25 to grow back) and the
 * trigger mem.trim.  Rules, in the order they are tried; one knob or
 * trigger per tick:
 *
 *  trim	mem.heap_mb last > trim_frac x heap_limit_mb on
 *		confirm_ticks ticks, or the shrink below engaged and
 *		mem.frag_mb last >= trim_frag_mb, at most once per
 *		trim_cooldown_s -> fire mem.trim.
 *  shrink	mem.heap_mb last > enter_frac x heap_limit_mb, or
 *		host.psi_mem_pct p50 > psi_mem_pct, on confirm_ticks ticks
 *		-> cache_max_mb x shrink.  Once the heap went over
 *		enter_frac it stays engaged until the heap is back at or
 *		under release_frac x heap_limit_mb, and goes on shrinking
 *		(one step per cooldown) in between.
 *  grow	mem.heap_mb last < exit_frac x heap_limit_mb and
 *		mem.cache_hit_pct p50 < hit_exit_pct for exit_windows
 *		windows -> cache_max_mb x grow.  Expects the hit rate to
 *		rise.
 * Trim expects mem.frag_mb last to fall when the node reports it (the
 * memory a trim gives back), else mem.heap_mb p50.  Shrink expects
 * mem.cache_mb last to fall: the cache is a part of the heap that one
 * step of 20 % cannot cut by the governor's 10 %, and a p50 over a
 * window that straddles the start of the pressure is no baseline.
 * Measured on meshtune-simnode, memory-pressure, expecting heap p50: 64
 * -> 51 MB was rolled back twice (heap p50 192 -> 411 MB, the window
 * before being calm; then 447 -> 439 MB, -2 %), five rollbacks and a
 * flap event in 300 s, the heap over 0.8 x limit 90 % of the time.  A
 * cap that does not shrink the cache (one not full) is still rolled
 * back.
 *
 * The release level and the fragmentation trim are not in
 * STRATEGIES.md, which shrinks only while the heap is over enter_frac
 * and trims only over trim_frac.  Measured on meshtune-simnode,
 * memory-pressure (fragmentation growing 0.15 MB/s, 10.5 MB per
 * cooldown): each step freed less than the heap regrew before the next
 * (15, 12, 10, 8 MB), so the heap crossed 0.8 x limit again before
 * every step and never stayed under (recover_s null, above 26 % of the
 * time), while it never reached 0.9 x limit, so mem.trim never fired and
 * the fragmentation only grew.  Shrinking on to release_frac leaves
 * room for a cooldown's growth, and trimming once fragmentation is
 * worth it takes back what the cache cannot.
 * Between exit_frac and enter_frac nothing starts (hysteresis).
 * heap_limit_mb is the node's configured maximum heap: the node does
 * not report it.
 *
 * PSI is "some avg10", already a 10 s average; its median over the
 * window is compared, so one spike does not count.
 *
 * Configuration keys and defaults: see memory_init and
 * meshtune-strategies(7).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meshtune/strategy.h>

#include "bundled.h"

#define HEAP	"mem.heap_mb"
#define HIT	"mem.cache_hit_pct"
#define PSI	"host.psi_mem_pct"
#define CACHE	"mem.cache_mb"
#define FRAG	"mem.frag_mb"
#define K_CACHE	"mem.cache_max_mb"
#define K_TRIM	"mem.trim"

enum { C_CACHE, C_TRIM, C_N };

struct memory {
	const struct mt_host_api *host;
	struct bs_common	 cm;
	double			 limit, enter_frac, trim_frac, exit_frac;
	double			 release_frac, trim_frag;
	double			 psi_max, exit_windows, hit_exit;
	double			 shrink_f, grow_f, trim_cooldown_s;
	/* hysteresis and cooldowns */
	struct bs_confirm	 trim, shrink;
	struct bs_hold		 grow;
	int			 engaged;	/* shrinking down to release */
	struct bs_cool		 cool[C_N];
	/* this evaluation */
	struct bs_eval		 e;
	struct bs_decision	 d;
};

static int
memory_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct memory	*m;
	struct bs_conf	 c = { host, ctx, err, errlen, 0 };

	(void)config_json;
	if ((m = bs_state_new(host, sizeof(*m), err, errlen)) == NULL)
		return MT_ERR;
	m->host = host;
	bs_common_read(&c, &m->cm);
	bs_conf_number(&c, "heap_limit_mb", &m->limit, 512, 1, 1e9);
	bs_conf_number(&c, "enter_frac", &m->enter_frac, 0.8, 0.01, 10);
	bs_conf_number(&c, "trim_frac", &m->trim_frac, 0.9, 0.01, 10);
	bs_conf_number(&c, "exit_frac", &m->exit_frac, 0.6, 0, 10);
	bs_conf_number(&c, "release_frac", &m->release_frac, 0.75, 0, 10);
	bs_conf_number(&c, "trim_frag_mb", &m->trim_frag, 16, 0, 1e9);
	bs_conf_number(&c, "psi_mem_pct", &m->psi_max, 10, 0, 100);
	bs_conf_number(&c, "exit_windows", &m->exit_windows, 5, 0, 1000);
	bs_conf_number(&c, "hit_exit_pct", &m->hit_exit, 90, 0, 100);
	bs_conf_number(&c, "shrink", &m->shrink_f, 0.8, 0.01, 0.99);
	bs_conf_number(&c, "grow", &m->grow_f, 1.25, 1.01, 16);
	bs_conf_number(&c, "trim_cooldown_s", &m->trim_cooldown_s, 300, 0,
	    86400);
	if (!c.failed && m->exit_frac >= m->enter_frac) {
		snprintf(err, errlen, "config \"exit_frac\" must be below "
		    "\"enter_frac\" (hysteresis)");
		c.failed = 1;
	}
	if (!c.failed && (m->release_frac > m->enter_frac ||
	    m->release_frac < m->exit_frac)) {
		snprintf(err, errlen, "config \"release_frac\" must be "
		    "between \"exit_frac\" and \"enter_frac\"");
		c.failed = 1;
	}
	if (c.failed) {
		free(m);
		return MT_ERR;
	}
	*statep = m;
	return MT_OK;
}

static int
memory_should_apply(void *state, struct mt_ctx *ctx)
{
	struct memory		*m = state;
	struct bs_eval		*e = &m->e;
	struct bs_decision	*d = &m->d;
	struct bs_knob		 cache, trig;
	struct bs_fmt		 f;
	struct bs_ev		 ev;
	uint64_t		 gap, held = 0;
	double			 heap = 0, psi = 0, hit = 0, frag = 0, next = 0;
	int			 has_heap, has_psi, has_hit, has_frag, trim;
	int			 shrink, grow, heap_high, psi_high, frag_trim;
	int			 holding;

	memset(&f, 0, sizeof(f));
	bs_eval_start(e, m->host, ctx, &m->cm);
	gap = (uint64_t)(m->cm.window_s * 1000);
	bs_knob_read(e, K_CACHE, &cache);
	bs_knob_read(e, K_TRIM, &trig);	/* a trigger: known or not */
	has_heap = bs_get(e, HEAP, "last", &heap);
	has_psi = bs_get(e, PSI, "p50", &psi);
	has_hit = bs_get(e, HIT, "p50", &hit);
	has_frag = bs_get(e, FRAG, "last", &frag);

	heap_high = has_heap && heap > m->enter_frac * m->limit;
	psi_high = has_psi && psi > m->psi_max;
	trim = bs_confirm(&m->trim, has_heap && heap > m->trim_frac *
	    m->limit, e->now, m->cm.confirm_ticks, gap);
	shrink = bs_confirm(&m->shrink, heap_high || psi_high, e->now,
	    m->cm.confirm_ticks, gap);
	/* Over enter_frac engages; at or under release_frac releases. */
	if (shrink && heap_high)
		m->engaged = 1;
	if (!has_heap || heap <= m->release_frac * m->limit)
		m->engaged = 0;
	holding = !shrink && m->engaged;
	frag_trim = m->engaged && m->trim_frag > 0 && has_frag &&
	    frag >= m->trim_frag;
	grow = bs_hold(&m->grow, has_heap && has_hit &&
	    heap < m->exit_frac * m->limit && hit < m->hit_exit, e->now,
	    (uint64_t)(m->exit_windows * m->cm.window_s * 1000), gap, &held);

	memset(d, 0, sizeof(*d));
	d->kind = MT_ACT_SET;
	bs_ev_open(&ev, d->evidence, sizeof(d->evidence));
	if ((trim || frag_trim) && trig.ok &&
	    bs_cool_ok(&m->cool[C_TRIM], e->now, m->trim_cooldown_s)) {
		next = 1;
		if (trim)
			snprintf(d->reason, sizeof(d->reason), "%s last %s MB "
			    "> %s x limit %s MB = %s MB on %u ticks: release "
			    "memory now: fire %s", HEAP, bs_f(&f, heap),
			    bs_f(&f, m->trim_frac), bs_f(&f, m->limit),
			    bs_f(&f, m->trim_frac * m->limit), m->trim.n,
			    K_TRIM);
		else
			snprintf(d->reason, sizeof(d->reason), "%s last %s MB "
			    "> %s x limit %s MB = %s MB while caches shrink, "
			    "and %s last %s MB >= %s MB held by the allocator "
			    "unused: give it back: fire %s", HEAP,
			    bs_f(&f, heap), bs_f(&f, m->release_frac),
			    bs_f(&f, m->limit),
			    bs_f(&f, m->release_frac * m->limit), FRAG,
			    bs_f(&f, frag), bs_f(&f, m->trim_frag), K_TRIM);
		bs_ev_series(&ev, e, HEAP);
		if (has_frag)
			bs_ev_series(&ev, e, FRAG);
		bs_ev_threshold(&ev, "trim_frac", m->trim_frac);
		bs_ev_threshold(&ev, "release_frac", m->release_frac);
		bs_ev_threshold(&ev, "trim_frag_mb", m->trim_frag);
		bs_ev_threshold(&ev, "heap_limit_mb", m->limit);
		bs_ev_number(&ev, "trim_cooldown_s", m->trim_cooldown_s);
		bs_ev_string(&ev, "trigger", K_TRIM);
		bs_ev_string(&ev, "rule", trim ? "trim" : "trim_frag");
		d->kind = MT_ACT_TRIGGER;
		d->knob = K_TRIM;
		d->cool = &m->cool[C_TRIM];
		/* What a trim gives back, where the node says. */
		d->expect_metric = has_frag ? FRAG : HEAP;
		d->expect_stat = has_frag ? "last" : "p50";
		d->expect_dir = -1;
	} else if ((shrink || holding) &&
	    bs_cool_ok(&m->cool[C_CACHE], e->now, m->cm.cooldown_s) &&
	    bs_step(&cache, -1, m->shrink_f, 0, cache.max, &next)) {
		if (holding)
			snprintf(d->reason, sizeof(d->reason), "%s last %s MB "
			    "went over %s x limit %s MB = %s MB and is still > "
			    "%s x limit = %s MB: smaller caches until under "
			    "it: %s %s -> %s", HEAP, bs_f(&f, heap),
			    bs_f(&f, m->enter_frac), bs_f(&f, m->limit),
			    bs_f(&f, m->enter_frac * m->limit),
			    bs_f(&f, m->release_frac),
			    bs_f(&f, m->release_frac * m->limit), K_CACHE,
			    bs_f(&f, cache.value), bs_f(&f, next));
		else if (heap_high)
			snprintf(d->reason, sizeof(d->reason), "%s last %s MB "
			    "> %s x limit %s MB = %s MB on %u ticks: smaller "
			    "caches: %s %s -> %s", HEAP, bs_f(&f, heap),
			    bs_f(&f, m->enter_frac), bs_f(&f, m->limit),
			    bs_f(&f, m->enter_frac * m->limit), m->shrink.n,
			    K_CACHE, bs_f(&f, cache.value), bs_f(&f, next));
		else
			snprintf(d->reason, sizeof(d->reason), "%s p50 %s %% "
			    "> %s %% on %u ticks (%s last %s MB): the host is "
			    "short of memory, smaller caches: %s %s -> %s", PSI,
			    bs_f(&f, psi), bs_f(&f, m->psi_max), m->shrink.n,
			    HEAP, has_heap ? bs_f(&f, heap) : "unknown",
			    K_CACHE, bs_f(&f, cache.value), bs_f(&f, next));
		bs_ev_series(&ev, e, HEAP);
		bs_ev_series(&ev, e, PSI);
		bs_ev_threshold(&ev, "enter_frac", m->enter_frac);
		bs_ev_threshold(&ev, "release_frac", m->release_frac);
		bs_ev_threshold(&ev, "heap_limit_mb", m->limit);
		bs_ev_threshold(&ev, "psi_mem_pct", m->psi_max);
		bs_ev_knob(&ev, &cache, next);
		bs_ev_string(&ev, "rule", holding ? "shrink_hold" : "shrink");
		d->knob = K_CACHE;
		d->cool = &m->cool[C_CACHE];
		d->expect_metric = CACHE;
		d->expect_stat = "last";
		d->expect_dir = -1;
	} else if (grow &&
	    bs_cool_ok(&m->cool[C_CACHE], e->now, m->cm.cooldown_s) &&
	    bs_step(&cache, +1, m->grow_f, 0, cache.max, &next)) {
		snprintf(d->reason, sizeof(d->reason), "%s last %s MB < %s x "
		    "limit %s MB = %s MB and %s p50 %s %% < %s %% for %s s "
		    "(%s windows): room for a bigger cache: %s %s -> %s", HEAP,
		    bs_f(&f, heap), bs_f(&f, m->exit_frac), bs_f(&f, m->limit),
		    bs_f(&f, m->exit_frac * m->limit), HIT, bs_f(&f, hit),
		    bs_f(&f, m->hit_exit), bs_f(&f, (double)(held / 1000)),
		    bs_f(&f, m->exit_windows), K_CACHE, bs_f(&f, cache.value),
		    bs_f(&f, next));
		bs_ev_series(&ev, e, HEAP);
		bs_ev_series(&ev, e, HIT);
		bs_ev_threshold(&ev, "exit_frac", m->exit_frac);
		bs_ev_threshold(&ev, "heap_limit_mb", m->limit);
		bs_ev_threshold(&ev, "hit_exit_pct", m->hit_exit);
		bs_ev_number(&ev, "held_s", (double)(held / 1000));
		bs_ev_knob(&ev, &cache, next);
		bs_ev_string(&ev, "rule", "grow");
		d->knob = K_CACHE;
		d->cool = &m->cool[C_CACHE];
		d->expect_metric = HIT;
		d->expect_stat = "p50";
		d->expect_dir = +1;
	} else
		return 0;
	d->value = next;
	d->has_evidence = bs_ev_close(&ev) == 0;
	return 1;
}

static int
memory_apply(void *state, struct mt_ctx *ctx)
{
	struct memory	*m = state;

	return bs_propose(m->host, ctx, &m->d);
}

static const struct mt_strategy memory_strategy = {
	MT_STRATEGY_HEADER,
	.name = "memory",
	.version = "1.0",
	.summary = "cache size and trim against heap use and memory pressure",
	.init = memory_init,
	.should_apply = memory_should_apply,
	.apply = memory_apply,
	.destroy = bs_destroy,
};

MT_STRATEGY_EXPORT(memory)
{
	(void)host;
	return &memory_strategy;
}
