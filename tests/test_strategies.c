/*
 * test_strategies.c -- the five bundled strategies (strategies/network.c,
 * consensus.c, memory.c, cpu.c, mesh.c) against the mock host.  For each:
 * it fires when it should (the right knob, a value within bounds, a
 * reason with the numbers, evidence that parses as JSON with the values
 * read, the expected effect); it stays quiet below the minimum sample
 * count, inside its hysteresis band and on a single noisy tick; it never
 * proposes past a knob's bound; its exit paths wait their windows; and
 * it proposes one knob per tick.
 *
 * Time moves by TICK_MS per evaluation, like the daemon's 5 s tick.
 */
#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "meshtuned.h"
#include "meshtune/mockhost.h"

MT_STRATEGY_DECLARE(network);
MT_STRATEGY_DECLARE(consensus);
MT_STRATEGY_DECLARE(memory);
MT_STRATEGY_DECLARE(cpu);
MT_STRATEGY_DECLARE(mesh);

#define TICK_MS		5000
#define WINDOW_MS	60000

static int
setup(void **state)
{
	*state = mock_host_new();
	return 0;
}

static int
teardown(void **state)
{
	mock_host_free(*state);
	return 0;
}

/* One tick: advance the clock, evaluate; returns new proposals. */
static size_t
tick(struct mock_host *mh)
{
	size_t	before = mock_host_nproposals(mh);
	int	rs, ra;

	mock_host_advance(mh, TICK_MS);
	rs = mock_host_eval(mh, &ra);
	assert_true(rs == 0 || rs == 1);
	if (rs == 1)
		assert_int_equal(ra, MT_OK);
	/* One knob per strategy per tick. */
	assert_true(mock_host_nproposals(mh) - before <= 1);
	assert_int_equal(mock_host_nproposals(mh) - before, (size_t)rs);
	return mock_host_nproposals(mh) - before;
}

/* n ticks; returns the proposals they made. */
static size_t
ticks(struct mock_host *mh, int n)
{
	size_t	total = 0;

	while (n-- > 0)
		total += tick(mh);
	return total;
}

/* The newest proposal. */
static const struct mock_proposal *
last(struct mock_host *mh)
{
	assert_true(mock_host_nproposals(mh) > 0);
	return mock_host_proposal(mh, mock_host_nproposals(mh) - 1);
}

/*
 * Check a proposal: knob, value, expected effect, and every string in
 * the NULL-terminated list inside its reason.
 */
static void
check(const struct mock_proposal *p, int kind, const char *knob,
    double value, const char *metric, const char *stat, int dir, ...)
{
	const char	*s;
	va_list		 ap;

	assert_int_equal(p->kind, kind);
	assert_string_equal(p->knob, knob);
	assert_true(p->value == value);
	if (metric == NULL)
		assert_null(p->expect_metric);
	else {
		assert_string_equal(p->expect_metric, metric);
		assert_string_equal(p->expect_stat, stat);
	}
	assert_int_equal(p->expect_dir, dir);
	va_start(ap, dir);
	while ((s = va_arg(ap, const char *)) != NULL) {
		if (strstr(p->reason, s) == NULL)
			fail_msg("reason \"%s\" lacks \"%s\"", p->reason, s);
	}
	va_end(ap);
}

/* Parse a proposal's evidence; it must be a JSON object. */
static cJSON *
evidence(const struct mock_proposal *p)
{
	cJSON	*ev;

	assert_non_null(p->evidence);
	ev = cJSON_Parse(p->evidence);
	if (ev == NULL || !cJSON_IsObject(ev))
		fail_msg("evidence is not a JSON object: %s", p->evidence);
	return ev;
}

/* A number in the evidence: ev[a][b]; fails if absent. */
static double
ev_num(cJSON *ev, const char *a, const char *b)
{
	cJSON	*o = cJSON_GetObjectItemCaseSensitive(ev, a);

	if (o != NULL && b != NULL)
		o = cJSON_GetObjectItemCaseSensitive(o, b);
	if (o == NULL || !cJSON_IsNumber(o))
		fail_msg("evidence lacks %s%s%s", a, b ? "." : "", b ? b : "");
	return o->valuedouble;
}

/* The knob part of the evidence matches. */
static void
ev_knob(cJSON *ev, double old, double new, double min, double max)
{
	assert_true(ev_num(ev, "knob", "old") == old);
	assert_true(ev_num(ev, "knob", "new") == new);
	assert_true(ev_num(ev, "knob", "min") == min);
	assert_true(ev_num(ev, "knob", "max") == max);
}

/* A series with a count and one statistic. */
static void
series(struct mock_host *mh, const char *name, double count,
    const char *stat, double v)
{
	mock_host_set_stat(mh, name, "count", count);
	mock_host_set_stat(mh, name, stat, v);
}

static void
load(struct mock_host *mh,
    const struct mt_strategy *(*entry)(const struct mt_host_api *),
    const char *config)
{
	assert_int_equal(mock_host_set_config(mh, config), 0);
	if (mock_host_load(mh, entry) != MT_OK)
		fail_msg("init: %s", mock_host_init_error(mh));
}

/*
 * network
 */

static void
network_knobs(struct mock_host *mh)
{
	mock_host_set_knob(mh, "net.batch_size", 8, 1, 64);
	mock_host_set_knob(mh, "net.batch_delay_ms", 5, 0, 50);
	mock_host_set_knob(mh, "net.compress_min_bytes", 1024, 128, 65536);
}

/* High round trip with a queue deeper than the batch. */
static void
network_congested(struct mock_host *mh)
{
	series(mh, "net.rtt_ms", 611, "p95", 142);
	series(mh, "net.send_queue", 120, "p90", 23);
}

static void
test_network_grow(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	network_knobs(mh);
	network_congested(mh);
	load(mh, meshtune_strategy_network, "{\"ncpu\":4}");
	assert_int_equal(tick(mh), 0);		/* one tick is not enough */
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "net.batch_size", 16, "net.rtt_ms", "p95", -1,
	    "net.rtt_ms p95 142 ms > 100 ms", "net.send_queue p90 23 > "
	    "net.batch_size 8", "net.batch_size 8 -> 16", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "net.rtt_ms", "p95") == 142);
	assert_true(ev_num(ev, "net.rtt_ms", "count") == 611);
	assert_true(ev_num(ev, "net.rtt_ms", "window_s") == 60);
	assert_true(ev_num(ev, "net.send_queue", "p90") == 23);
	assert_true(ev_num(ev, "thresholds", "rtt_enter_ms") == 100);
	ev_knob(ev, 8, 16, 1, 64);
	cJSON_Delete(ev);
	/* The knob cools down for a window: nothing else to do meanwhile. */
	mock_host_set_knob(mh, "net.batch_size", 16, 1, 64);
	assert_int_equal(ticks(mh, 11), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "net.batch_size", 32, "net.rtt_ms", "p95",
	    -1, "16 -> 32", NULL);
}

/* Far over both thresholds (4x by default): one x4 step, not two x2. */
static void
test_network_grow_far(void **state)
{
	struct mock_host	*mh = *state;

	network_knobs(mh);
	network_congested(mh);
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 1764);
	mock_host_set_stat(mh, "net.send_queue", "p90", 950);
	load(mh, meshtune_strategy_network, "{\"ncpu\":4}");
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "net.batch_size", 32, "net.rtt_ms", "p95",
	    -1, "batch much more (both far over)", "net.batch_size 8 -> 32",
	    NULL);
	/* Far over on rtt alone is an ordinary step. */
	mock_host_set_knob(mh, "net.batch_size", 8, 1, 64);
	mock_host_set_stat(mh, "net.send_queue", "p90", 23);
	load(mh, meshtune_strategy_network, "{\"ncpu\":4}");
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "net.batch_size", 16, "net.rtt_ms", "p95",
	    -1, "8 -> 16", NULL);
}

static void
test_network_min_count(void **state)
{
	struct mock_host	*mh = *state;

	network_knobs(mh);
	network_congested(mh);
	mock_host_set_stat(mh, "net.rtt_ms", "count", 49);	/* p95: 50 */
	load(mh, meshtune_strategy_network, "{}");
	assert_int_equal(ticks(mh, 20), 0);
	mock_host_set_stat(mh, "net.rtt_ms", "count", 611);
	mock_host_set_stat(mh, "net.send_queue", "count", 29);	/* p90: 30 */
	assert_int_equal(ticks(mh, 20), 0);
	/* No data at all. */
	mock_host_set_stat(mh, "net.send_queue", "count", 100);
	mock_host_set_stat_code(mh, "net.rtt_ms", "p95", MT_ENODATA);
	assert_int_equal(ticks(mh, 20), 0);
	/* The minimum is a config key. */
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 142);
	mock_host_set_stat(mh, "net.rtt_ms", "count", 40);
	load(mh, meshtune_strategy_network, "{\"min_count_p95\":40}");
	assert_int_equal(ticks(mh, 2), 1);
}

static void
test_network_noise_and_band(void **state)
{
	struct mock_host	*mh = *state;

	network_knobs(mh);
	network_congested(mh);
	load(mh, meshtune_strategy_network, "{}");
	/* high, normal, high, normal...: never 2 ticks in a row */
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 80);
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 142);
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "net.send_queue", "p90", 4);	/* < batch */
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "net.send_queue", "p90", 23);
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	/* Inside the band (50..100 ms), for a long time: nothing. */
	mock_host_clear_proposals(mh);
	load(mh, meshtune_strategy_network, "{}");
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 75);
	mock_host_set_stat(mh, "net.send_queue", "p90", 0);
	assert_int_equal(ticks(mh, 100), 0);
	/* The thresholds are config keys. */
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 142);
	mock_host_set_stat(mh, "net.send_queue", "p90", 23);
	load(mh, meshtune_strategy_network, "{\"rtt_enter_ms\":150}");
	assert_int_equal(ticks(mh, 10), 0);
}

static void
test_network_bounds(void **state)
{
	struct mock_host	*mh = *state;

	network_knobs(mh);
	network_congested(mh);
	mock_host_set_knob(mh, "net.batch_size", 40, 1, 64);
	mock_host_set_stat(mh, "net.send_queue", "p90", 60);
	load(mh, meshtune_strategy_network, "{}");
	assert_int_equal(ticks(mh, 2), 1);
	assert_true(last(mh)->value == 64);		/* clamped */
	mock_host_clear_proposals(mh);
	/* At the bound: no proposal, now or later. */
	mock_host_set_knob(mh, "net.batch_size", 64, 1, 64);
	mock_host_set_stat(mh, "net.send_queue", "p90", 90);
	load(mh, meshtune_strategy_network, "{}");
	assert_int_equal(ticks(mh, 30), 0);
	/* A knob pinned by its bounds does not move. */
	load(mh, meshtune_strategy_network, "{}");
	mock_host_set_knob(mh, "net.batch_size", 8, 8, 8);
	assert_int_equal(ticks(mh, 30), 0);
}

static void
test_network_compress(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	network_knobs(mh);
	network_congested(mh);
	mock_host_set_stat(mh, "net.send_queue", "p90", 4);	/* < batch */
	series(mh, "net.msg_bytes", 300, "p50", 3000);
	series(mh, "proc.cpu_pct", 60, "p90", 100);	/* 25 % of 4 CPUs */
	load(mh, meshtune_strategy_network, "{\"ncpu\":4}");
	assert_int_equal(ticks(mh, 2), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "net.compress_min_bytes", 512, "net.rtt_ms",
	    "p95", -1, "net.msg_bytes p50 3000 > net.compress_min_bytes 1024",
	    "proc.cpu_pct p90 100 % (25 % of 4 CPUs) < 70 %",
	    "1024 -> 512", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "net.msg_bytes", "p50") == 3000);
	assert_true(ev_num(ev, "proc.cpu_pct", "p90") == 100);
	ev_knob(ev, 1024, 512, 128, 65536);
	cJSON_Delete(ev);
	/* A busy CPU: no compression. */
	mock_host_set_stat(mh, "proc.cpu_pct", "p90", 300);	/* 75 % */
	load(mh, meshtune_strategy_network, "{\"ncpu\":4}");
	assert_int_equal(ticks(mh, 10), 0);
	/* Down to 128 and no further. */
	mock_host_set_stat(mh, "proc.cpu_pct", "p90", 100);
	mock_host_set_knob(mh, "net.compress_min_bytes", 200, 128, 65536);
	load(mh, meshtune_strategy_network, "{\"ncpu\":4}");
	assert_int_equal(ticks(mh, 2), 1);
	assert_true(last(mh)->value == 128);
	mock_host_set_knob(mh, "net.compress_min_bytes", 128, 128, 65536);
	series(mh, "net.msg_bytes", 300, "p50", 3000);
	assert_int_equal(ticks(mh, 30), 0);
}

static void
test_network_shrink_after_windows(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;
	int				 i;

	network_knobs(mh);
	series(mh, "net.rtt_ms", 611, "p95", 30);
	series(mh, "net.send_queue", 120, "p90", 0.5);
	load(mh, meshtune_strategy_network, "{}");
	/* 3 windows = 180 s: the first tick starts the clock. */
	assert_int_equal(ticks(mh, 36), 0);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "net.batch_size", 4, "net.rtt_ms", "p95", -1,
	    "net.rtt_ms p95 30 ms < 50 ms", "net.send_queue p90 0.5 < 1",
	    "for 180 s (3 windows)", "net.batch_size 8 -> 4", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "held_s", NULL) == 180);
	ev_knob(ev, 8, 4, 1, 64);
	cJSON_Delete(ev);
	/* Then the delay, the batch size cooling down. */
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "net.batch_delay_ms", 4, "net.rtt_ms",
	    "p95", -1, "net.batch_delay_ms 5 -> 4", NULL);
	/* An interruption restarts the 3 windows. */
	mock_host_clear_proposals(mh);
	load(mh, meshtune_strategy_network, "{}");
	assert_int_equal(ticks(mh, 30), 0);
	mock_host_set_stat(mh, "net.send_queue", "p90", 2);
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "net.send_queue", "p90", 0);
	assert_int_equal(ticks(mh, 36), 0);
	assert_int_equal(tick(mh), 1);
	/* Both at their lower bounds: nothing more. */
	mock_host_set_knob(mh, "net.batch_size", 1, 1, 64);
	mock_host_set_knob(mh, "net.batch_delay_ms", 0, 0, 50);
	mock_host_clear_proposals(mh);
	for (i = 0; i < 100; i++)
		assert_int_equal(tick(mh), 0);
}

static void
test_network_config(void **state)
{
	struct mock_host	*mh = *state;

	assert_int_equal(mock_host_set_config(mh, "{\"rtt_exit_ms\":100}"),
	    0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_network),
	    MT_ERR);
	assert_non_null(strstr(mock_host_init_error(mh), "hysteresis"));
	assert_int_equal(mock_host_set_config(mh, "{\"window_s\":\"x\"}"), 0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_network),
	    MT_ERR);
	assert_string_equal(mock_host_init_error(mh),
	    "config \"window_s\" must be a number");
	assert_int_equal(mock_host_set_config(mh, "{\"batch_grow\":0.5}"), 0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_network),
	    MT_ERR);
	assert_null(mock_host_state(mh));
}

/*
 * consensus
 */

static void
consensus_knobs(struct mock_host *mh)
{
	mock_host_set_knob(mh, "consensus.batch_size", 50, 1, 200);
	mock_host_set_knob(mh, "consensus.round_timeout_ms", 2000, 200,
	    10000);
	mock_host_set_knob(mh, "consensus.verify_threads", 2, 1, 16);
	mock_host_set_knob(mh, "consensus.vote_cache", 0, 0, 1);
}

static void
test_consensus_throughput(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	consensus_knobs(mh);
	mock_host_set_stat(mh, "consensus.ops", "rate", 40);
	mock_host_set_stat(mh, "consensus.pending", "last", 180);
	load(mh, meshtune_strategy_consensus, "{\"ncpu\":4}");
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "consensus.batch_size", 100, "consensus.ops",
	    "rate", +1, "rate(consensus.ops) 40/s < 100/s",
	    "consensus.pending last 180 > 2 x consensus.batch_size 50",
	    "consensus.batch_size 50 -> 100", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "consensus.ops", "rate") == 40);
	assert_true(ev_num(ev, "consensus.pending", "last") == 180);
	ev_knob(ev, 50, 100, 1, 200);
	cJSON_Delete(ev);
	/* Enough throughput, or no backlog: nothing. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "consensus.ops", "rate", 150);
	load(mh, meshtune_strategy_consensus, "{}");
	assert_int_equal(ticks(mh, 20), 0);
	mock_host_set_stat(mh, "consensus.ops", "rate", 40);
	mock_host_set_stat(mh, "consensus.pending", "last", 90);
	assert_int_equal(ticks(mh, 20), 0);
	/* At the bound. */
	mock_host_set_stat(mh, "consensus.pending", "last", 1000);
	mock_host_set_knob(mh, "consensus.batch_size", 200, 1, 200);
	assert_int_equal(ticks(mh, 20), 0);
}

static void
test_consensus_timeouts(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	consensus_knobs(mh);
	/*
	 * Timeouts alone (leader failures), even for many windows, and a
	 * p99 past the timeout (the timed-out rounds themselves) with a
	 * typical round far from it: a longer timeout would not help.
	 */
	mock_host_set_stat(mh, "consensus.timeouts", "rate", 0.05);
	series(mh, "consensus.round_ms", 600, "p99", 2600);
	mock_host_set_stat(mh, "consensus.round_ms", "p90", 700);
	load(mh, meshtune_strategy_consensus, "{}");
	assert_int_equal(ticks(mh, 40), 0);
	/* The typical round close to it: p90 > 0.8 x 2000, 2 ticks. */
	mock_host_set_stat(mh, "consensus.round_ms", "p90", 1700);
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "consensus.round_timeout_ms", 3000,
	    "consensus.timeouts", "rate", -1, "consensus.round_ms p90 1700 ms "
	    "> 0.8 x consensus.round_timeout_ms 2000 = 1600 ms",
	    "consensus.timeouts rate 0.05/s",
	    "consensus.round_timeout_ms 2000 -> 3000", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "consensus.round_ms", "p90") == 1700);
	assert_true(ev_num(ev, "consensus.timeouts", "rate") == 0.05);
	ev_knob(ev, 2000, 3000, 200, 10000);
	cJSON_Delete(ev);
	/* One noisy tick is not enough. */
	mock_host_clear_proposals(mh);
	load(mh, meshtune_strategy_consensus, "{}");
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "consensus.round_ms", "p90", 900);
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "consensus.round_ms", "p90", 1700);
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	/* ... but not with too few samples for a p90. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "consensus.round_ms", "count", 29);
	load(mh, meshtune_strategy_consensus, "{}");
	assert_int_equal(ticks(mh, 30), 0);
	/* Clamped to the bound, then nothing. */
	mock_host_set_stat(mh, "consensus.round_ms", "count", 600);
	mock_host_set_stat(mh, "consensus.round_ms", "p90", 9000);
	mock_host_set_knob(mh, "consensus.round_timeout_ms", 8000, 200,
	    10000);
	assert_int_equal(ticks(mh, 2), 1);
	assert_true(last(mh)->value == 10000);
	mock_host_set_knob(mh, "consensus.round_timeout_ms", 10000, 200,
	    10000);
	mock_host_set_stat(mh, "consensus.round_ms", "p90", 9500);
	assert_int_equal(ticks(mh, 30), 0);
}

/* Quiet rounds well below the timeout, no timeouts. */
static void
consensus_quiet(struct mock_host *mh)
{
	consensus_knobs(mh);
	mock_host_set_stat(mh, "consensus.timeouts", "rate", 0);
	mock_host_set_stat(mh, "consensus.round_ms", "count", 3000);
	mock_host_set_stat(mh, "consensus.round_ms", "p99", 300);
	mock_host_set_stat(mh, "consensus.round_ms", "p999", 500);
}

static void
test_consensus_lower_timeout(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	consensus_quiet(mh);
	/* Off by default (ADR-074): never, however long. */
	load(mh, meshtune_strategy_consensus, "{}");
	assert_int_equal(ticks(mh, 200), 0);
	/* On: after 5 quiet windows, x0.8. */
	load(mh, meshtune_strategy_consensus, "{\"timeout_decrease\":true}");
	assert_int_equal(ticks(mh, 60), 0);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "consensus.round_timeout_ms", 1600,
	    "consensus.timeouts", "rate", 0, "no consensus.timeouts for 300 s "
	    "(5 windows)", "consensus.round_ms p999 500 ms < 0.4 x 2000 ms",
	    "consensus.round_timeout_ms 2000 -> 1600",
	    "floor max(200, 2 x p99 300) = 600 ms", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "consensus.round_ms", "p999") == 500);
	assert_true(ev_num(ev, "consensus.round_ms", "count") == 3000);
	ev_knob(ev, 2000, 1600, 200, 10000);
	cJSON_Delete(ev);
	/* The floor holds it. */
	mock_host_clear_proposals(mh);
	load(mh, meshtune_strategy_consensus, "{\"timeout_decrease\":1,"
	    "\"timeout_floor_ms\":1900}");
	assert_int_equal(ticks(mh, 61), 1);
	assert_true(last(mh)->value == 1900);
	mock_host_set_knob(mh, "consensus.round_timeout_ms", 1900, 200,
	    10000);
	mock_host_set_stat(mh, "consensus.round_ms", "p999", 700);
	assert_int_equal(ticks(mh, 100), 0);
	/* p999 needs 2000 samples. */
	mock_host_set_knob(mh, "consensus.round_timeout_ms", 2000, 200,
	    10000);
	mock_host_set_stat(mh, "consensus.round_ms", "count", 1999);
	load(mh, meshtune_strategy_consensus, "{\"timeout_decrease\":1}");
	assert_int_equal(ticks(mh, 100), 0);
	/* The band: p999 0.4..0.8 of the timeout changes nothing. */
	mock_host_set_stat(mh, "consensus.round_ms", "count", 3000);
	mock_host_set_stat(mh, "consensus.round_ms", "p999", 1000);
	mock_host_set_stat(mh, "consensus.round_ms", "p99", 900);
	assert_int_equal(ticks(mh, 100), 0);
}

static void
test_consensus_verify_threads(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	consensus_knobs(mh);
	/* 12 ms x 8 verifications per round = 48 % of a 200 ms round. */
	series(mh, "consensus.verify_ms", 4800, "mean", 12);
	series(mh, "consensus.round_ms", 600, "p50", 200);
	series(mh, "proc.cpu_pct", 60, "p90", 100);
	load(mh, meshtune_strategy_consensus, "{\"ncpu\":4}");
	assert_int_equal(ticks(mh, 2), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "consensus.verify_threads", 3,
	    "consensus.round_ms", "p95", -1, "consensus.verify_ms mean 12 ms "
	    "x 8 verifications per round = 48 % of consensus.round_ms p50 "
	    "200 ms > 30 %", "25 % of 4 CPUs) < 70 %",
	    "consensus.verify_threads 2 -> 3", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "consensus.verify_ms", "mean") == 12);
	assert_true(ev_num(ev, "consensus.verify_ms", "count") == 4800);
	assert_true(ev_num(ev, "verify_share_pct", NULL) == 48);
	ev_knob(ev, 2, 3, 1, 16);
	cJSON_Delete(ev);
	/* Never more threads than CPUs, whatever the knob's bound. */
	mock_host_clear_proposals(mh);
	mock_host_set_knob(mh, "consensus.verify_threads", 4, 1, 16);
	load(mh, meshtune_strategy_consensus, "{\"ncpu\":4}");
	assert_int_equal(ticks(mh, 30), 0);
	/* A busy CPU: no more threads. */
	mock_host_set_knob(mh, "consensus.verify_threads", 2, 1, 16);
	mock_host_set_stat(mh, "proc.cpu_pct", "p90", 300);
	assert_int_equal(ticks(mh, 30), 0);
	/* Too few verification samples for a mean. */
	mock_host_set_stat(mh, "proc.cpu_pct", "p90", 100);
	mock_host_set_stat(mh, "consensus.verify_ms", "count", 19);
	mock_host_set_stat(mh, "consensus.round_ms", "count", 19);
	assert_int_equal(ticks(mh, 30), 0);
}

static void
test_consensus_vote_cache_and_exit(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	consensus_knobs(mh);
	mock_host_set_stat(mh, "consensus.vote_cache_misses", "rate", 25);
	mock_host_set_stat(mh, "consensus.vote_cache_hits", "rate", 5);
	load(mh, meshtune_strategy_consensus, "{}");
	assert_int_equal(ticks(mh, 2), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "consensus.vote_cache", 1,
	    "consensus.vote_cache_misses", "rate", -1,
	    "consensus.vote_cache_misses rate 25/s > 10/s",
	    "hit ratio 16.7 % < 50 %", "consensus.vote_cache 0 -> 1", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "consensus.vote_cache_misses", "rate") == 25);
	cJSON_Delete(ev);
	/* Already on: nothing. */
	mock_host_set_knob(mh, "consensus.vote_cache", 1, 0, 1);
	assert_int_equal(ticks(mh, 30), 0);

	/* Exit: small backlog, slow rounds -> smaller batches. */
	mock_host_clear_proposals(mh);
	mock_host_clear_stats(mh);
	series(mh, "consensus.pending", 100, "p90", 5);
	series(mh, "consensus.round_ms", 600, "p95", 800);
	/* Rounds of at most 20 ops: a batch of 25 would change nothing. */
	series(mh, "consensus.batch_ops", 100, "p90", 20);
	load(mh, meshtune_strategy_consensus, "{}");
	assert_int_equal(ticks(mh, 30), 0);
	/* Rounds of 40: a batch of 25 cuts them. */
	mock_host_set_stat(mh, "consensus.batch_ops", "p90", 40);
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "consensus.batch_size", 25,
	    "consensus.round_ms", "p95", -1, "consensus.pending p90 5 < "
	    "consensus.batch_size 50 / 4", "consensus.round_ms p95 800 ms > "
	    "500 ms", "consensus.batch_ops p90 40", "50 -> 25", NULL);
	/* The band: backlog between batch/4 and 2 x batch. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "consensus.pending", "p90", 30);
	mock_host_set_stat(mh, "consensus.pending", "last", 30);
	mock_host_set_stat(mh, "consensus.ops", "rate", 40);
	load(mh, meshtune_strategy_consensus, "{}");
	assert_int_equal(ticks(mh, 50), 0);
	/* At the lower bound. */
	mock_host_set_stat(mh, "consensus.pending", "p90", 0);
	mock_host_set_stat(mh, "consensus.pending", "last", 0);
	mock_host_set_knob(mh, "consensus.batch_size", 1, 1, 200);
	assert_int_equal(ticks(mh, 50), 0);
}

/*
 * memory
 */

static void
memory_knobs(struct mock_host *mh)
{
	mock_host_set_knob(mh, "mem.cache_max_mb", 64, 8, 512);
	mock_host_set_knob(mh, "mem.trim", 0, 0, 1);
}

static void
test_memory_shrink_and_trim(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	memory_knobs(mh);
	mock_host_set_stat(mh, "mem.heap_mb", "last", 450);	/* > 409.6 */
	load(mh, meshtune_strategy_memory, "{}");
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "mem.cache_max_mb", 51, "mem.cache_mb", "last", -1,
	    "mem.heap_mb last 450 MB > 0.8 x limit 512 MB = 410 MB",
	    "mem.cache_max_mb 64 -> 51", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "mem.heap_mb", "last") == 450);
	assert_true(ev_num(ev, "thresholds", "heap_limit_mb") == 512);
	ev_knob(ev, 64, 51, 8, 512);
	cJSON_Delete(ev);

	/* Above 0.9 x limit: trim first, then the cache, one per tick. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "mem.heap_mb", "last", 480);
	load(mh, meshtune_strategy_memory, "{}");
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_TRIGGER, "mem.trim", 1, "mem.heap_mb", "p50",
	    -1, "mem.heap_mb last 480 MB > 0.9 x limit 512 MB", "fire "
	    "mem.trim", NULL);
	cJSON_Delete(evidence(last(mh)));
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "mem.cache_max_mb", 51, "mem.cache_mb",
	    "last", -1, NULL);
	/* Both cooling down: the cache for 60 s, the trim for 300 s. */
	mock_host_set_knob(mh, "mem.cache_max_mb", 51, 8, 512);
	assert_int_equal(ticks(mh, 11), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "mem.cache_max_mb", 41, "mem.cache_mb",
	    "last", -1, NULL);
	assert_int_equal(mock_host_nproposals(mh), 3);
	mock_host_set_knob(mh, "mem.cache_max_mb", 8, 8, 512);	/* bound */
	assert_int_equal(ticks(mh, 46), 0);
	assert_int_equal(tick(mh), 1);		/* 300 s after: trim again */
	check(last(mh), MT_ACT_TRIGGER, "mem.trim", 1, "mem.heap_mb", "p50",
	    -1, NULL);
	/* Without the trigger configured, only the cache (at its bound). */
	mock_host_clear_proposals(mh);
	mock_host_free(mh);
	*state = mh = mock_host_new();
	mock_host_set_knob(mh, "mem.cache_max_mb", 8, 8, 512);
	mock_host_set_stat(mh, "mem.heap_mb", "last", 480);
	load(mh, meshtune_strategy_memory, "{}");
	assert_int_equal(ticks(mh, 100), 0);
}

static void
test_memory_psi(void **state)
{
	struct mock_host	*mh = *state;

	memory_knobs(mh);
	mock_host_set_stat(mh, "mem.heap_mb", "last", 100);
	series(mh, "host.psi_mem_pct", 10, "p50", 15);	/* p50 needs 20 */
	load(mh, meshtune_strategy_memory, "{}");
	assert_int_equal(ticks(mh, 20), 0);
	mock_host_set_stat(mh, "host.psi_mem_pct", "count", 60);
	assert_int_equal(ticks(mh, 2), 1);
	check(last(mh), MT_ACT_SET, "mem.cache_max_mb", 51, "mem.cache_mb",
	    "last", -1, "host.psi_mem_pct p50 15 % > 10 %", "64 -> 51", NULL);
	cJSON_Delete(evidence(last(mh)));
	/* One noisy tick of pressure, then none, then one: nothing. */
	mock_host_clear_proposals(mh);
	load(mh, meshtune_strategy_memory, "{}");
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "host.psi_mem_pct", "p50", 2);
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "host.psi_mem_pct", "p50", 15);
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "host.psi_mem_pct", "p50", 2);
	assert_int_equal(ticks(mh, 20), 0);
}

static void
test_memory_band_and_grow(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	memory_knobs(mh);
	/* Between 0.6 and 0.8 of the limit: nothing, for ever. */
	mock_host_set_stat(mh, "mem.heap_mb", "last", 350);
	series(mh, "mem.cache_hit_pct", 60, "p50", 80);
	load(mh, meshtune_strategy_memory, "{}");
	assert_int_equal(ticks(mh, 200), 0);
	/* Below 0.6 with misses, for 5 windows: grow by 25 %. */
	mock_host_set_stat(mh, "mem.heap_mb", "last", 200);
	assert_int_equal(ticks(mh, 60), 0);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "mem.cache_max_mb", 80, "mem.cache_hit_pct",
	    "p50", +1, "mem.heap_mb last 200 MB < 0.6 x limit 512 MB",
	    "mem.cache_hit_pct p50 80 % < 90 % for 300 s (5 windows)",
	    "mem.cache_max_mb 64 -> 80", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "mem.cache_hit_pct", "p50") == 80);
	assert_true(ev_num(ev, "held_s", NULL) == 300);
	ev_knob(ev, 64, 80, 8, 512);
	cJSON_Delete(ev);
	/* A good hit rate: no need. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "mem.cache_hit_pct", "p50", 95);
	load(mh, meshtune_strategy_memory, "{}");
	assert_int_equal(ticks(mh, 200), 0);
	/* At the upper bound. */
	mock_host_set_stat(mh, "mem.cache_hit_pct", "p50", 50);
	mock_host_set_knob(mh, "mem.cache_max_mb", 512, 8, 512);
	assert_int_equal(ticks(mh, 200), 0);
	/* Config: a smaller heap limit makes 200 MB high. */
	load(mh, meshtune_strategy_memory, "{\"heap_limit_mb\":240}");
	assert_int_equal(ticks(mh, 2), 1);
	check(last(mh), MT_ACT_SET, "mem.cache_max_mb", 410, "mem.cache_mb",
	    "last", -1, "limit 240 MB", NULL);
}

/*
 * Over 0.8 x limit engages the shrink; it goes on, a step per cooldown,
 * until the heap is at or under 0.75 x limit, and then nothing until the
 * heap goes over 0.8 again.  While engaged, fragmentation of 16 MB or
 * more is trimmed, expecting mem.frag_mb to fall.
 */
static void
test_memory_release_and_frag(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	memory_knobs(mh);
	mock_host_set_stat(mh, "mem.heap_mb", "last", 400);	/* band */
	mock_host_set_stat(mh, "mem.frag_mb", "last", 40);
	load(mh, meshtune_strategy_memory, "{}");
	/* Never over 0.8: neither shrink nor trim, whatever the frag. */
	assert_int_equal(ticks(mh, 100), 0);
	/* Over 0.8 with 10 MB of frag: shrink (no trim below 16 MB). */
	mock_host_set_stat(mh, "mem.frag_mb", "last", 10);
	mock_host_set_stat(mh, "mem.heap_mb", "last", 420);
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "mem.cache_max_mb", 51, "mem.cache_mb",
	    "last", -1, "mem.heap_mb last 420 MB > 0.8 x limit", NULL);
	cJSON_Delete(evidence(last(mh)));
	mock_host_set_knob(mh, "mem.cache_max_mb", 51, 8, 512);
	/* Under 0.8, over 0.75: the next step after the cooldown. */
	mock_host_set_stat(mh, "mem.heap_mb", "last", 400);
	assert_int_equal(ticks(mh, 11), 0);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "mem.cache_max_mb", 41, "mem.cache_mb", "last",
	    -1, "mem.heap_mb last 400 MB went over 0.8 x limit 512 MB = 410 "
	    "MB and is still > 0.75 x limit = 384 MB", "41", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "thresholds", "release_frac") == 0.75);
	ev_knob(ev, 51, 41, 8, 512);
	cJSON_Delete(ev);
	mock_host_set_knob(mh, "mem.cache_max_mb", 41, 8, 512);
	/* Fragmentation of 20 MB: trim, though the heap is under 0.9. */
	mock_host_set_stat(mh, "mem.frag_mb", "last", 20);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_TRIGGER, "mem.trim", 1, "mem.frag_mb", "last", -1,
	    "mem.frag_mb last 20 MB >= 16 MB", "fire mem.trim", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "mem.frag_mb", "last") == 20);
	assert_true(ev_num(ev, "thresholds", "trim_frag_mb") == 16);
	cJSON_Delete(ev);
	/* Trim cooling down (300 s), the cache too (60 s): then a step. */
	assert_int_equal(ticks(mh, 10), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "mem.cache_max_mb", 33, "mem.cache_mb",
	    "last", -1, NULL);
	mock_host_set_knob(mh, "mem.cache_max_mb", 33, 8, 512);
	/* At 0.75 x limit: released; back in the band, nothing. */
	mock_host_set_stat(mh, "mem.heap_mb", "last", 384);
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "mem.heap_mb", "last", 405);
	assert_int_equal(ticks(mh, 100), 0);
	/* The band engaged again only from over 0.8, on two ticks. */
	mock_host_set_stat(mh, "mem.heap_mb", "last", 415);
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_TRIGGER, "mem.trim", 1, "mem.frag_mb", "last",
	    -1, NULL);

	/* A single tick over 0.8 engages nothing. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "mem.heap_mb", "last", 415);
	load(mh, meshtune_strategy_memory, "{}");
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "mem.heap_mb", "last", 400);
	assert_int_equal(ticks(mh, 100), 0);
	/* trim_frag_mb 0 turns the fragmentation trim off. */
	mock_host_set_stat(mh, "mem.heap_mb", "last", 415);
	mock_host_set_knob(mh, "mem.cache_max_mb", 8, 8, 512);	/* bound */
	load(mh, meshtune_strategy_memory, "{\"trim_frag_mb\":0}");
	assert_int_equal(ticks(mh, 100), 0);
	/* release_frac must lie between exit_frac and enter_frac. */
	assert_int_equal(mock_host_set_config(mh, "{\"release_frac\":0.85}"),
	    0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_memory),
	    MT_ERR);
	assert_non_null(strstr(mock_host_init_error(mh), "release_frac"));
	assert_int_equal(mock_host_set_config(mh, "{\"release_frac\":0.5}"),
	    0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_memory),
	    MT_ERR);
}

/*
 * cpu
 */

static void
cpu_knobs(struct mock_host *mh)
{
	mock_host_set_knob(mh, "cpu.worker_threads", 4, 1, 8);
	mock_host_set_knob(mh, "net.batch_size", 8, 1, 64);
}

static void
test_cpu_busy(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	cpu_knobs(mh);
	series(mh, "proc.cpu_pct", 60, "p90", 320);	/* 80 % of 4 */
	mock_host_set_stat(mh, "proc.threads", "last", 12);
	load(mh, meshtune_strategy_cpu, "{\"ncpu\":4}");
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "cpu.worker_threads", 3, "proc.cpu_pct", "p90",
	    -1, "proc.cpu_pct p90 320 % = 80 % of 4 CPUs > 70 %",
	    "proc.threads last 12 > 2 x 4 CPUs", "cpu.worker_threads 4 -> 3",
	    NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "proc.cpu_pct", "p90") == 320);
	assert_true(ev_num(ev, "proc.threads", "last") == 12);
	ev_knob(ev, 4, 3, 1, 8);
	cJSON_Delete(ev);
	/* Workers cooling down: the batch size, to amortise. */
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "net.batch_size", 16, "proc.cpu_pct",
	    "p90", -1, "net.batch_size 8 -> 16", NULL);
	/* Few threads and no batch assist: nothing. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "proc.threads", "last", 6);
	load(mh, meshtune_strategy_cpu, "{\"ncpu\":4,\"batch_assist\":false}");
	assert_int_equal(ticks(mh, 30), 0);
	/* Workers at the lower bound, batch at the upper: nothing. */
	mock_host_set_stat(mh, "proc.threads", "last", 12);
	mock_host_set_knob(mh, "cpu.worker_threads", 1, 1, 8);
	mock_host_set_knob(mh, "net.batch_size", 64, 1, 64);
	load(mh, meshtune_strategy_cpu, "{\"ncpu\":4}");
	assert_int_equal(ticks(mh, 30), 0);
}

static void
test_cpu_psi_noise_and_count(void **state)
{
	struct mock_host	*mh = *state;

	cpu_knobs(mh);
	series(mh, "proc.cpu_pct", 60, "p90", 100);	/* 25 % */
	series(mh, "host.psi_cpu_pct", 60, "p50", 30);
	mock_host_set_stat(mh, "proc.threads", "last", 12);
	load(mh, meshtune_strategy_cpu, "{\"ncpu\":4}");
	assert_int_equal(ticks(mh, 2), 1);
	check(last(mh), MT_ACT_SET, "cpu.worker_threads", 3, "proc.cpu_pct",
	    "p90", -1, "host.psi_cpu_pct p50 30 % > 20 %", NULL);
	/* Alternating pressure: never two ticks in a row. */
	mock_host_clear_proposals(mh);
	load(mh, meshtune_strategy_cpu, "{\"ncpu\":4}");
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "host.psi_cpu_pct", "p50", 5);
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "host.psi_cpu_pct", "p50", 30);
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "host.psi_cpu_pct", "p50", 5);
	assert_int_equal(tick(mh), 0);
	/* Busy, but too few samples for a p90. */
	mock_host_set_stat(mh, "proc.cpu_pct", "p90", 390);
	mock_host_set_stat(mh, "proc.cpu_pct", "count", 29);
	assert_int_equal(ticks(mh, 20), 0);
	/* The band (30..70 %): nothing, even with slow rounds. */
	mock_host_set_stat(mh, "proc.cpu_pct", "count", 60);
	mock_host_set_stat(mh, "proc.cpu_pct", "p90", 200);
	series(mh, "consensus.round_ms", 600, "p95", 800);
	assert_int_equal(ticks(mh, 100), 0);
}

static void
test_cpu_idle(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	cpu_knobs(mh);
	series(mh, "proc.cpu_pct", 60, "p90", 80);	/* 20 % of 4 */
	series(mh, "consensus.round_ms", 600, "p95", 800);
	load(mh, meshtune_strategy_cpu, "{\"ncpu\":4}");
	assert_int_equal(ticks(mh, 2), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "cpu.worker_threads", 5, "consensus.round_ms",
	    "p95", -1, "proc.cpu_pct p90 80 % = 20 % of 4 CPUs < 30 %",
	    "consensus.round_ms p95 800 ms > 500 ms",
	    "cpu.worker_threads 4 -> 5", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "consensus.round_ms", "p95") == 800);
	ev_knob(ev, 4, 5, 1, 8);
	cJSON_Delete(ev);
	/* Never above 2 x ncpu, whatever the knob's bound. */
	mock_host_clear_proposals(mh);
	mock_host_set_knob(mh, "cpu.worker_threads", 8, 1, 32);
	load(mh, meshtune_strategy_cpu, "{\"ncpu\":4}");
	assert_int_equal(ticks(mh, 30), 0);
	/* Fast rounds: no need. */
	mock_host_set_knob(mh, "cpu.worker_threads", 4, 1, 32);
	mock_host_set_stat(mh, "consensus.round_ms", "p95", 300);
	assert_int_equal(ticks(mh, 30), 0);
	/* Config: hysteresis must be a band. */
	assert_int_equal(mock_host_set_config(mh, "{\"cpu_exit_pct\":80}"), 0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_cpu), MT_ERR);
	assert_non_null(strstr(mock_host_init_error(mh), "hysteresis"));
}

/*
 * mesh
 */

static void
mesh_knobs(struct mock_host *mh)
{
	mock_host_set_knob(mh, "mesh.ttl", 8, 2, 16);
	mock_host_set_knob(mh, "mesh.max_peers", 8, 3, 20);
	mock_host_set_knob(mh, "mesh.retransmits", 1, 0, 3);
	mock_host_set_knob(mh, "mesh.adv_interval_ms", 1000, 20, 2000);
	mock_host_set_knob(mh, "mesh.relay", 1, 0, 1);
}

/* A healthy mesh: short paths, 5 peers, little loss, few duplicates. */
static void
mesh_calm(struct mock_host *mh)
{
	mock_host_set_stat(mh, "mesh.hops", "count", 600);
	mock_host_set_stat(mh, "mesh.hops", "p50", 2);
	mock_host_set_stat(mh, "mesh.hops", "p95", 4);
	mock_host_set_stat(mh, "mesh.hops", "p99", 6);	/* ttl 8: band */
	mock_host_set_stat(mh, "mesh.peers", "last", 5);
	series(mh, "mesh.loss_pct", 60, "p90", 3);	/* band 1..5 */
	series(mh, "mesh.dup_pct", 60, "p50", 10);
}

static void
test_mesh_loss(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	mesh_knobs(mh);
	mesh_calm(mh);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 200), 0);		/* calm: nothing */
	mock_host_set_stat(mh, "mesh.loss_pct", "p90", 8);
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "mesh.retransmits", 2, "mesh.loss_pct", "p90", -1,
	    "mesh.loss_pct p90 8 % > 5 % on 2 ticks", "mesh.retransmits 1 -> 2",
	    NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "mesh.loss_pct", "p90") == 8);
	assert_true(ev_num(ev, "mesh.loss_pct", "count") == 60);
	ev_knob(ev, 1, 2, 0, 3);
	cJSON_Delete(ev);
	/* At the bound. */
	mock_host_clear_proposals(mh);
	mock_host_set_knob(mh, "mesh.retransmits", 3, 0, 3);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 30), 0);
	/* Too few samples. */
	mock_host_set_knob(mh, "mesh.retransmits", 1, 0, 3);
	mock_host_set_stat(mh, "mesh.loss_pct", "count", 29);
	assert_int_equal(ticks(mh, 30), 0);
	/* Low loss for 5 windows: one resend less. */
	mock_host_set_stat(mh, "mesh.loss_pct", "count", 60);
	mock_host_set_stat(mh, "mesh.loss_pct", "p90", 0.5);
	assert_int_equal(ticks(mh, 60), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "mesh.retransmits", 0, "mesh.dup_pct",
	    "p50", -1, "mesh.loss_pct p90 0.5 % < 1 % for 300 s (5 windows)",
	    "mesh.retransmits 1 -> 0", NULL);
	mock_host_set_knob(mh, "mesh.retransmits", 0, 0, 3);
	assert_int_equal(ticks(mh, 100), 0);
}

static void
test_mesh_ttl(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	mesh_knobs(mh);
	mesh_calm(mh);
	mock_host_set_stat(mh, "mesh.hops", "p99", 7);	/* >= 8 - 1 */
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 2), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "mesh.ttl", 9, "mesh.loss_pct", "p90", -1,
	    "mesh.hops p99 7 >= mesh.ttl 8 - 1", "mesh.ttl 8 -> 9", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "mesh.hops", "p99") == 7);
	ev_knob(ev, 8, 9, 2, 16);
	cJSON_Delete(ev);
	/* p99 needs 200 samples. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "mesh.hops", "count", 199);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 30), 0);
	/*
	 * Short paths and many duplicates: ttl - 1, once the mesh has been
	 * without loss for 5 windows (test_mesh_shorten has the rest).
	 */
	mock_host_set_stat(mh, "mesh.hops", "count", 600);
	mock_host_set_stat(mh, "mesh.hops", "p99", 4);	/* 4 + 2 < 8 */
	mock_host_set_stat(mh, "mesh.dup_pct", "p50", 25);
	mock_host_set_stat(mh, "mesh.loss_pct", "p90", 0.5);
	mock_host_set_knob(mh, "mesh.retransmits", 0, 0, 3); /* no calm rule */
	assert_int_equal(ticks(mh, 61), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "mesh.ttl", 7, "mesh.dup_pct", "p50", -1,
	    "mesh.hops p99 4 + 2 < mesh.ttl 8", "mesh.dup_pct p50 25 % > 20 %",
	    "mesh.loss_pct p90 0.5 % < 1 % for 305 s", "mesh.ttl 8 -> 7",
	    NULL);
	mock_host_set_stat(mh, "mesh.loss_pct", "p90", 3);
	mock_host_set_knob(mh, "mesh.retransmits", 1, 0, 3);
	/* The band: p99 = ttl - 2 changes nothing. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "mesh.hops", "p99", 6);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 100), 0);
	/* The upper bound: paths at the limit, but no more TTL. */
	mock_host_set_knob(mh, "mesh.ttl", 16, 2, 16);
	mock_host_set_stat(mh, "mesh.hops", "p99", 15);
	assert_int_equal(ticks(mh, 100), 0);
}

static void
test_mesh_hops_and_discovery(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	mesh_knobs(mh);
	mesh_calm(mh);
	mock_host_set_stat(mh, "mesh.hops", "p50", 4);	/* > 3 */
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(tick(mh), 0);
	assert_int_equal(tick(mh), 1);
	/* Below the max_peers cap (5 < 8): find the neighbours in range. */
	p = last(mh);
	check(p, MT_ACT_SET, "mesh.adv_interval_ms", 500,
	    "mesh.propagation_ms", "p95", -1, "mesh.hops p50 4 > 3 or p95 4 "
	    "> 5", "mesh.peers last 5 < mesh.max_peers 8",
	    "mesh.adv_interval_ms 1000 -> 500", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "mesh.hops", "p50") == 4);
	assert_true(ev_num(ev, "mesh.peers", "last") == 5);
	ev_knob(ev, 1000, 500, 20, 2000);
	cJSON_Delete(ev);
	/* Never max_peers below the cap, even with adv cooling down. */
	mock_host_set_knob(mh, "mesh.adv_interval_ms", 500, 20, 2000);
	assert_int_equal(ticks(mh, 5), 0);
	/* At the cap (8 >= 8): allow more neighbours. */
	mock_host_set_stat(mh, "mesh.peers", "last", 8);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "mesh.max_peers", 10, "mesh.propagation_ms",
	    "p95", -1, "mesh.hops p50 4 > 3 or p95 4 > 5",
	    "mesh.peers last 8 >= mesh.max_peers 8", "allow more neighbours",
	    "mesh.max_peers 8 -> 10", NULL);
	ev = evidence(p);
	ev_knob(ev, 8, 10, 3, 20);
	cJSON_Delete(ev);
	mock_host_set_knob(mh, "mesh.max_peers", 10, 3, 20);
	mock_host_set_stat(mh, "mesh.peers", "last", 5);
	/* The verify metric is a config key. */
	mock_host_clear_proposals(mh);
	load(mh, meshtune_strategy_mesh, "{\"verify_metric\":\"net.rtt_ms\"}");
	assert_int_equal(ticks(mh, 2), 1);
	assert_string_equal(last(mh)->expect_metric, "net.rtt_ms");

	/* Too few peers (test_mesh_discover has the rule in full). */
	mock_host_clear_proposals(mh);
	mesh_calm(mh);
	mock_host_set_stat(mh, "mesh.peers", "count", 120);
	mock_host_set_quantile(mh, "mesh.peers", 0.05, 2);
	mock_host_set_knob(mh, "mesh.adv_interval_ms", 30, 20, 2000);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 13), 1);
	check(last(mh), MT_ACT_SET, "mesh.adv_interval_ms", 20, "mesh.peers",
	    "mean", +1, "30 -> 20", NULL);
	mock_host_set_knob(mh, "mesh.adv_interval_ms", 20, 20, 2000);
	assert_int_equal(ticks(mh, 30), 0);
	mock_host_set_quantile(mh, "mesh.peers", 0.05, 5);

	/* Full for 5 windows: advertise less. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "mesh.peers", "last", 8);
	mock_host_set_knob(mh, "mesh.max_peers", 8, 3, 20);
	mock_host_set_knob(mh, "mesh.adv_interval_ms", 1000, 20, 2000);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 60), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "mesh.adv_interval_ms", 2000,
	    "net.tx_bytes", "rate", -1, "mesh.peers last 8 >= mesh.max_peers "
	    "8 for 300 s (5 windows)", "1000 -> 2000", NULL);
	mock_host_set_knob(mh, "mesh.adv_interval_ms", 2000, 20, 2000);
	assert_int_equal(ticks(mh, 100), 0);
}

/*
 * discover: mesh.peers below peers_min for more than shortage_pct % of
 * the window, on every tick for a whole window, so that the window the
 * governor reads the baseline from lies inside the shortage.
 */
static void
test_mesh_discover(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	mesh_knobs(mh);
	mesh_calm(mh);
	mock_host_set_stat(mh, "mesh.peers", "count", 120);
	mock_host_set_quantile(mh, "mesh.peers", 0.05, 3);	/* not < 3 */
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 100), 0);
	/* One low reading is no shortage (STRATEGIES.md's "last < 3"). */
	mock_host_set_stat(mh, "mesh.peers", "last", 1);
	assert_int_equal(ticks(mh, 100), 0);
	/* Short of links: quiet until it has lasted a whole window. */
	mock_host_set_quantile(mh, "mesh.peers", 0.05, 2);
	assert_int_equal(ticks(mh, 12), 0);
	assert_int_equal(tick(mh), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "mesh.adv_interval_ms", 500, "mesh.peers", "mean",
	    +1, "mesh.peers below 3 for more than 5 % of the window (its 5 % "
	    "quantile 2) for 60 s (1 windows)", "mesh.adv_interval_ms 1000 -> "
	    "500", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "mesh.peers", "count") == 120);
	assert_true(ev_num(ev, "thresholds", "peers_min") == 3);
	assert_true(ev_num(ev, "thresholds", "shortage_pct") == 5);
	ev_knob(ev, 1000, 500, 20, 2000);
	cJSON_Delete(ev);
	/* Cooldown, then again from 500. */
	mock_host_set_knob(mh, "mesh.adv_interval_ms", 500, 20, 2000);
	assert_int_equal(ticks(mh, 11), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "mesh.adv_interval_ms", 250, "mesh.peers",
	    "mean", +1, "mesh.adv_interval_ms 500 -> 250", NULL);

	/* A break in the shortage starts the window again. */
	mock_host_clear_proposals(mh);
	mock_host_set_knob(mh, "mesh.adv_interval_ms", 1000, 20, 2000);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 10), 0);
	mock_host_set_quantile(mh, "mesh.peers", 0.05, 4);
	assert_int_equal(tick(mh), 0);
	mock_host_set_quantile(mh, "mesh.peers", 0.05, 2);
	assert_int_equal(ticks(mh, 12), 0);
	assert_int_equal(tick(mh), 1);

	/* Too few samples for a 5 % quantile (p95's 50): quiet. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "mesh.peers", "count", 49);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 100), 0);
	/* 20 %: p90's count (30) is enough. */
	mock_host_set_quantile(mh, "mesh.peers", 0.2, 2);
	load(mh, meshtune_strategy_mesh, "{\"shortage_pct\":20}");
	assert_int_equal(ticks(mh, 12), 0);
	assert_int_equal(tick(mh), 1);
	/* Two windows when configured so. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "mesh.peers", "count", 120);
	load(mh, meshtune_strategy_mesh, "{\"shortage_windows\":2}");
	assert_int_equal(ticks(mh, 24), 0);
	assert_int_equal(tick(mh), 1);

	/* At the lower bound: nothing. */
	mock_host_clear_proposals(mh);
	mock_host_set_knob(mh, "mesh.adv_interval_ms", 20, 20, 2000);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 100), 0);
	/* A host without quantile(): quiet, no error. */
	mock_host_set_knob(mh, "mesh.adv_interval_ms", 1000, 20, 2000);
	mock_host_fail(mh, "quantile", MT_ENOENT);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 100), 0);
	mock_host_fail(mh, "quantile", MT_OK);
	/* Config bounds. */
	assert_int_equal(mock_host_set_config(mh, "{\"shortage_pct\":0}"), 0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_mesh), MT_ERR);
	assert_int_equal(mock_host_set_config(mh, "{\"shortage_pct\":51}"),
	    0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_mesh), MT_ERR);
}

/*
 * shorten: only in a mesh without loss for loss_exit_windows windows;
 * with loss, duplicates answer lost acks and a shorter TTL does not
 * touch them.
 */
static void
test_mesh_shorten(void **state)
{
	struct mock_host	*mh = *state;

	mesh_knobs(mh);
	mesh_calm(mh);
	mock_host_set_stat(mh, "mesh.hops", "p99", 4);	/* 4 + 2 < 8 */
	mock_host_set_stat(mh, "mesh.dup_pct", "p50", 25);
	mock_host_set_knob(mh, "mesh.retransmits", 0, 0, 3); /* no calm rule */
	load(mh, meshtune_strategy_mesh, "{}");
	/* Loss in the band (3 %): duplicates are resends' doing. */
	assert_int_equal(ticks(mh, 200), 0);
	/* Loss gone: 5 windows, then 2 ticks. */
	mock_host_set_stat(mh, "mesh.loss_pct", "p90", 0.5);
	assert_int_equal(ticks(mh, 61), 0);
	assert_int_equal(tick(mh), 1);
	check(last(mh), MT_ACT_SET, "mesh.ttl", 7, "mesh.dup_pct", "p50", -1,
	    "for 305 s", "mesh.ttl 8 -> 7", NULL);
	/* A lossy tick starts the 5 windows again. */
	mock_host_clear_proposals(mh);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 40), 0);
	mock_host_set_stat(mh, "mesh.loss_pct", "p90", 1.5);
	assert_int_equal(tick(mh), 0);
	mock_host_set_stat(mh, "mesh.loss_pct", "p90", 0.5);
	assert_int_equal(ticks(mh, 61), 0);
	assert_int_equal(tick(mh), 1);
	/* Too few loss samples: no calm, no shortening. */
	mock_host_clear_proposals(mh);
	mock_host_set_stat(mh, "mesh.loss_pct", "count", 29);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 200), 0);
	/* Inside the hops band (p99 + 2 = ttl): nothing, even calm. */
	mock_host_set_stat(mh, "mesh.loss_pct", "count", 60);
	mock_host_set_stat(mh, "mesh.hops", "p99", 6);
	assert_int_equal(ticks(mh, 200), 0);
	/* At the lower bound: nothing. */
	mock_host_set_stat(mh, "mesh.hops", "p99", 0);
	mock_host_set_knob(mh, "mesh.ttl", 2, 2, 16);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 200), 0);
}

static void
test_mesh_relay(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	cJSON				*ev;

	mesh_knobs(mh);
	mesh_calm(mh);
	mock_host_set_stat(mh, "mesh.dup_pct", "p50", 40);
	mock_host_set_stat(mh, "mesh.peers", "last", 7);
	mock_host_set_stat(mh, "mesh.hops", "p99", 6);	/* no ttl rule */
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 2), 1);
	p = last(mh);
	check(p, MT_ACT_SET, "mesh.relay", 0, "mesh.dup_pct", "p50", -1,
	    "mesh.dup_pct p50 40 % > 30 %", "mesh.peers last 7 >= 6",
	    "mesh.relay 1 -> 0", NULL);
	ev = evidence(p);
	assert_true(ev_num(ev, "mesh.dup_pct", "p50") == 40);
	ev_knob(ev, 1, 0, 0, 1);
	cJSON_Delete(ev);
	/* Relay off already, or too few peers: nothing. */
	mock_host_clear_proposals(mh);
	mock_host_set_knob(mh, "mesh.relay", 0, 0, 1);
	load(mh, meshtune_strategy_mesh, "{}");
	assert_int_equal(ticks(mh, 30), 0);
	mock_host_set_knob(mh, "mesh.relay", 1, 0, 1);
	mock_host_set_stat(mh, "mesh.peers", "last", 5);
	assert_int_equal(ticks(mh, 30), 0);
	/* Config checks. */
	assert_int_equal(mock_host_set_config(mh, "{\"loss_exit_pct\":5}"), 0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_mesh), MT_ERR);
	assert_int_equal(mock_host_set_config(mh, "{\"verify_metric\":1}"), 0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_mesh), MT_ERR);
	assert_string_equal(mock_host_init_error(mh), "config "
	    "\"verify_metric\" must be a non-empty string of at most 200 "
	    "bytes");
}

/*
 * All five: the descriptors, the host failing, and quiet on no data.
 */
static void
test_all_quiet_without_data(void **state)
{
	const struct mt_strategy *(*entries[])(const struct mt_host_api *) = {
		meshtune_strategy_network, meshtune_strategy_consensus,
		meshtune_strategy_memory, meshtune_strategy_cpu,
		meshtune_strategy_mesh,
	};
	static const char *const names[] = {
		"network", "consensus", "memory", "cpu", "mesh"
	};
	struct mock_host	*mh = *state;
	size_t			 i;
	int			 ra;

	network_knobs(mh);
	consensus_knobs(mh);
	memory_knobs(mh);
	cpu_knobs(mh);
	mesh_knobs(mh);
	for (i = 0; i < nitems(entries); i++) {
		const struct mt_strategy *d = entries[i](mock_host_api(mh));

		assert_string_equal(d->name, names[i]);
		assert_int_equal(d->abi_major, MT_ABI_MAJOR);
		assert_non_null(d->summary);
		load(mh, entries[i], "{}");
		assert_int_equal(ticks(mh, 200), 0);
		/* Every statistic read fails: still quiet, no error. */
		mock_host_fail(mh, "stat", MT_EINVAL);
		assert_int_equal(ticks(mh, 5), 0);
		mock_host_fail(mh, "stat", MT_OK);
	}
	/* A host refusing the proposal: an error for the instance. */
	network_congested(mh);
	load(mh, meshtune_strategy_network, "{}");
	mock_host_fail(mh, "propose", MT_EINVAL);
	mock_host_advance(mh, TICK_MS);
	assert_int_equal(mock_host_eval(mh, &ra), 0);
	mock_host_advance(mh, TICK_MS);
	assert_int_equal(mock_host_eval(mh, &ra), 1);
	assert_int_equal(ra, MT_ERR);
	assert_int_equal(mock_host_nproposals(mh), 0);
	assert_true(mock_host_nlogs(mh) >= 1);
	/* A bad config value for a common key, in every strategy. */
	for (i = 0; i < nitems(entries); i++) {
		assert_int_equal(mock_host_set_config(mh,
		    "{\"confirm_ticks\":0}"), 0);
		assert_int_equal(mock_host_load(mh, entries[i]), MT_ERR);
		assert_string_equal(mock_host_init_error(mh), "config "
		    "\"confirm_ticks\" must be between 1 and 1000, not 0");
	}
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_network_grow),
		T(test_network_grow_far),
		T(test_network_min_count),
		T(test_network_noise_and_band),
		T(test_network_bounds),
		T(test_network_compress),
		T(test_network_shrink_after_windows),
		T(test_network_config),
		T(test_consensus_throughput),
		T(test_consensus_timeouts),
		T(test_consensus_lower_timeout),
		T(test_consensus_verify_threads),
		T(test_consensus_vote_cache_and_exit),
		T(test_memory_shrink_and_trim),
		T(test_memory_psi),
		T(test_memory_band_and_grow),
		T(test_memory_release_and_frag),
		T(test_cpu_busy),
		T(test_cpu_psi_noise_and_count),
		T(test_cpu_idle),
		T(test_mesh_loss),
		T(test_mesh_ttl),
		T(test_mesh_hops_and_discovery),
		T(test_mesh_discover),
		T(test_mesh_shorten),
		T(test_mesh_relay),
		T(test_all_quiet_without_data),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
