/*
 * test_template.c -- strategies/template.c against the mock host: it
 * fires above its threshold, stays quiet below the minimum count or the
 * threshold, proposes within the knob's bounds with reason, evidence and
 * expected effect, and refuses a bad config in init.
 *
 * Installed beside template.c as the example of a strategy's unit test:
 * it needs only cmocka and the installed mock host,
 *	cc -DMT_STATIC -o template_test template_test.c template.c \
 *	    $(pkg-config --cflags --libs meshtune-mockhost cmocka)
 * (meshtune-mockhost(3)).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <meshtune/mockhost.h>

MT_STRATEGY_DECLARE(template);

static int
setup(void **state)
{
	struct mock_host	*mh = mock_host_new();

	assert_int_equal(mock_host_set_config(mh, "{\"series\":\"net.rtt_ms\","
	    "\"stat\":\"p95\",\"threshold\":100,\"min_count\":50,"
	    "\"knob\":\"net.batch_size\",\"factor\":2}"), 0);
	mock_host_set_knob(mh, "net.batch_size", 8, 1, 64);
	*state = mh;
	return 0;
}

static int
teardown(void **state)
{
	mock_host_free(*state);
	return 0;
}

static void
test_fires_above_threshold(void **state)
{
	struct mock_host		*mh = *state;
	const struct mock_proposal	*p;
	int				 ra;

	mock_host_set_stat(mh, "net.rtt_ms", "count", 611);
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 142);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_template), MT_OK);
	assert_int_equal(mock_host_eval(mh, &ra), 1);
	assert_int_equal(ra, MT_OK);
	assert_int_equal(mock_host_nproposals(mh), 1);
	p = mock_host_proposal(mh, 0);
	assert_int_equal(p->kind, MT_ACT_SET);
	assert_string_equal(p->knob, "net.batch_size");
	assert_true(p->value == 16);
	assert_string_equal(p->reason, "net.rtt_ms p95 142.0 > 100.0 over "
	    "611 samples: net.batch_size 8 -> 16");
	assert_string_equal(p->expect_metric, "net.rtt_ms");
	assert_string_equal(p->expect_stat, "p95");
	assert_int_equal(p->expect_dir, -1);
	/* The mock, like the daemon, accepts only a JSON object here. */
	assert_non_null(strstr(p->evidence,
	    "\"net.rtt_ms\":{\"p95\":142,\"count\":611}"));
	assert_non_null(strstr(p->evidence, "\"threshold\":100,"));
}

static void
test_quiet_below_min_count(void **state)
{
	struct mock_host	*mh = *state;

	mock_host_set_stat(mh, "net.rtt_ms", "count", 49);
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 500);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_template), MT_OK);
	assert_int_equal(mock_host_eval(mh, NULL), 0);
	assert_int_equal(mock_host_nproposals(mh), 0);
	/* Fifty is enough. */
	mock_host_set_stat(mh, "net.rtt_ms", "count", 50);
	assert_int_equal(mock_host_eval(mh, NULL), 1);
	assert_int_equal(mock_host_nproposals(mh), 1);
}

static void
test_quiet_below_threshold_or_no_data(void **state)
{
	struct mock_host	*mh = *state;

	assert_int_equal(mock_host_load(mh, meshtune_strategy_template), MT_OK);
	/* Unknown series. */
	assert_int_equal(mock_host_eval(mh, NULL), 0);
	mock_host_set_stat(mh, "net.rtt_ms", "count", 600);
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 100);	/* not above */
	assert_int_equal(mock_host_eval(mh, NULL), 0);
	mock_host_set_stat_code(mh, "net.rtt_ms", "p95", MT_ENODATA);
	assert_int_equal(mock_host_eval(mh, NULL), 0);
	assert_int_equal(mock_host_nproposals(mh), 0);
}

static void
test_within_bounds(void **state)
{
	struct mock_host	*mh = *state;
	int			 ra;

	mock_host_set_stat(mh, "net.rtt_ms", "count", 600);
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 300);
	mock_host_set_knob(mh, "net.batch_size", 40, 1, 64);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_template), MT_OK);
	assert_int_equal(mock_host_eval(mh, &ra), 1);
	assert_int_equal(ra, MT_OK);
	assert_true(mock_host_proposal(mh, 0)->value == 64);	/* clamped */
	/* At the bound already: nothing to propose, and no error. */
	mock_host_set_knob(mh, "net.batch_size", 64, 1, 64);
	assert_int_equal(mock_host_eval(mh, &ra), 1);
	assert_int_equal(ra, MT_NOOP);
	assert_int_equal(mock_host_nproposals(mh), 1);
}

static void
test_shrinking_factor(void **state)
{
	struct mock_host	*mh = *state;

	assert_int_equal(mock_host_set_config(mh, "{\"stat\":\"mean\","
	    "\"threshold\":10,\"min_count\":1,\"knob\":\"k\",\"factor\":0.5}"),
	    0);
	mock_host_set_knob(mh, "k", 3, 2, 10);
	mock_host_set_stat(mh, "net.rtt_ms", "count", 5);
	mock_host_set_stat(mh, "net.rtt_ms", "mean", 11);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_template), MT_OK);
	assert_int_equal(mock_host_eval(mh, NULL), 1);
	assert_true(mock_host_proposal(mh, 0)->value == 2);	/* 1.5 -> 2 */
	assert_int_equal(mock_host_proposal(mh, 0)->expect_dir, -1);
}

static void
test_unknown_knob_and_refused_proposal(void **state)
{
	struct mock_host	*mh = *state;
	int			 ra;

	mock_host_set_stat(mh, "net.rtt_ms", "count", 600);
	mock_host_set_stat(mh, "net.rtt_ms", "p95", 300);
	assert_int_equal(mock_host_set_config(mh, "{\"knob\":\"nope\"}"), 0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_template), MT_OK);
	assert_int_equal(mock_host_eval(mh, &ra), 1);
	assert_int_equal(ra, MT_NOOP);
	assert_int_equal(mock_host_nlogs(mh), 1);
	assert_string_equal(mock_host_log_line(mh, 0), "2 unknown knob nope");
	mock_host_set_knob(mh, "nope", 1, 1, 8);
	mock_host_fail(mh, "propose", MT_ELIMIT);
	assert_int_equal(mock_host_eval(mh, &ra), 1);
	assert_int_equal(ra, MT_ERR);
	assert_int_equal(mock_host_nproposals(mh), 0);
}

static void
test_bad_config_refused(void **state)
{
	struct mock_host	*mh = *state;

	assert_int_equal(mock_host_set_config(mh, "{\"threshold\":\"high\"}"),
	    0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_template),
	    MT_ERR);
	assert_string_equal(mock_host_init_error(mh),
	    "config \"threshold\" must be a number");
	assert_int_equal(mock_host_set_config(mh, "{\"factor\":1}"), 0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_template),
	    MT_ERR);
	assert_string_equal(mock_host_init_error(mh),
	    "config \"factor\" must be positive and not 1");
	assert_int_equal(mock_host_set_config(mh, "{\"min_count\":0}"), 0);
	assert_int_equal(mock_host_load(mh, meshtune_strategy_template),
	    MT_ERR);
	assert_null(mock_host_state(mh));
}

/* The mock enforces the host's rules: propose only inside apply. */
static void
test_mock_rules(void **state)
{
	struct mock_host	*mh = *state;
	const struct mt_host_api *api = mock_host_api(mh);
	struct mt_action	 a = MT_ACTION_INIT;
	double			 v;

	a.kind = MT_ACT_SET;
	a.knob = "k";
	a.reason = "r";
	assert_int_equal(api->propose(mock_host_ctx(mh), &a), MT_EPERM);
	assert_int_equal(api->stat(mock_host_ctx(mh), "x", "p95", &v),
	    MT_ENOENT);
	mock_host_set_quantile(mh, "x", 0.95, 7);
	assert_int_equal(api->stat(mock_host_ctx(mh), "x", "p95", &v), MT_OK);
	assert_true(v == 7);
	assert_int_equal(api->quantile(mock_host_ctx(mh), "x", 0.95, &v),
	    MT_OK);
	assert_int_equal(api->quantile(mock_host_ctx(mh), "x", 0.25, &v),
	    MT_ENOENT);
	mock_host_set_now(mh, 5);
	mock_host_advance(mh, 10);
	assert_int_equal(api->now_ms(mock_host_ctx(mh)), 15);
	assert_int_equal(mock_host_calls(mh, "stat"), 2);
	assert_int_equal(mock_host_set_config(mh, "[1]"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fires_above_threshold,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_quiet_below_min_count,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_quiet_below_threshold_or_no_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_within_bounds,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_shrinking_factor,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_unknown_knob_and_refused_proposal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_mock_rules,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
