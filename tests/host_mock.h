/*
 * host_mock.h -- a fake meshtune host for unit-testing strategies.
 *
 * It serves a struct mt_host_api whose statistics, knobs, configuration
 * and clock are scripted by the test, and records every proposal and log
 * line.  Link tests/host_mock.c and libmeshtune.la; compile the strategy
 * into the test with -DMT_STATIC and call its meshtune_strategy_<id>.
 *
 *	struct mock_host *mh = mock_host_new();
 *	mock_host_set_config(mh, "{\"threshold\": 100}");
 *	mock_host_set_stat(mh, "net.rtt_ms", "count", 600);
 *	mock_host_set_stat(mh, "net.rtt_ms", "p95", 140);
 *	mock_host_set_knob(mh, "net.batch_size", 8, 1, 64);
 *	assert_int_equal(mock_host_load(mh, meshtune_strategy_template), 0);
 *	assert_int_equal(mock_host_eval(mh, NULL), 1);
 *	assert_int_equal(mock_host_nproposals(mh), 1);
 *
 * Like the real host it allows propose only inside apply and checks each
 * action with plugin_action_check().
 */
#ifndef HOST_MOCK_H
#define HOST_MOCK_H

#include <stddef.h>
#include <stdint.h>

#include "meshtune/strategy.h"

struct mock_host;

/* A recorded proposal: a deep copy of the struct mt_action. */
struct mock_proposal {
	int	 kind;
	char	*knob;
	double	 value;
	char	*reason;
	char	*evidence;		/* NULL if none */
	char	*expect_metric;		/* NULL if none */
	char	*expect_stat;		/* NULL if none */
	int	 expect_dir;
};

struct mock_host	*mock_host_new(void);
void			 mock_host_free(struct mock_host *);
const struct mt_host_api *mock_host_api(struct mock_host *);
struct mt_ctx		*mock_host_ctx(struct mock_host *);

/* Scripting.  Config is JSON object text (-1 if it is not). */
int	 mock_host_set_config(struct mock_host *, const char *);
void	 mock_host_set_stat(struct mock_host *, const char *, const char *,
	    double);
void	 mock_host_set_stat_code(struct mock_host *, const char *,
	    const char *, int);
void	 mock_host_set_quantile(struct mock_host *, const char *, double,
	    double);
void	 mock_host_clear_stats(struct mock_host *);
void	 mock_host_set_knob(struct mock_host *, const char *, double, double,
	    double);
void	 mock_host_set_now(struct mock_host *, uint64_t);
void	 mock_host_advance(struct mock_host *, uint64_t);
/* Make host function fn ("stat", "quantile", "knob", "propose") return
 * code (MT_OK restores normal behaviour). */
void	 mock_host_fail(struct mock_host *, const char *, int);

/* Driving a strategy: init with the scripted config, one evaluation
 * (should_apply, then apply if it said yes), destroy. */
int	 mock_host_load(struct mock_host *,
	    const struct mt_strategy *(*)(const struct mt_host_api *));
const char *mock_host_init_error(struct mock_host *);
int	 mock_host_eval(struct mock_host *, int *);
void	 mock_host_unload(struct mock_host *);
void	*mock_host_state(struct mock_host *);

/* Inspection. */
size_t	 mock_host_nproposals(struct mock_host *);
const struct mock_proposal *mock_host_proposal(struct mock_host *, size_t);
void	 mock_host_clear_proposals(struct mock_host *);
size_t	 mock_host_nlogs(struct mock_host *);
const char *mock_host_log_line(struct mock_host *, size_t);
unsigned int mock_host_calls(struct mock_host *, const char *);

#endif /* HOST_MOCK_H */
