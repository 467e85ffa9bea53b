/*
 * meshtune/mockhost.h -- a fake meshtune host for unit-testing strategies
 * (libmeshtune-mockhost, pkg-config meshtune-mockhost).
 *
 * It serves a struct mt_host_api whose statistics, knobs, configuration
 * and clock the test scripts, and records every proposal and log line.
 * Like the daemon it allows propose only inside apply, and it applies the
 * daemon's own rules to configuration reads and proposals (the same code
 * is built into both), so a strategy that passes here meets no surprise
 * in meshtuned.  meshtune-mockhost(3) is the guide.
 *
 * Either compile the strategy into the test with -DMT_STATIC and hand its
 * entry point to mock_host_load(), or load the built shared object with
 * mock_host_load_file():
 *
 *	struct mock_host *mh = mock_host_new();
 *	mock_host_set_config(mh, "{\"threshold\": 100}");
 *	mock_host_set_stat(mh, "net.rtt_ms", "count", 600);
 *	mock_host_set_stat(mh, "net.rtt_ms", "p95", 140);
 *	mock_host_set_knob(mh, "net.batch_size", 8, 1, 64);
 *	assert_int_equal(mock_host_load(mh, meshtune_strategy_template), 0);
 *	assert_int_equal(mock_host_eval(mh, NULL), 1);
 *	assert_int_equal(mock_host_nproposals(mh), 1);
 *	mock_host_free(mh);
 *
 * Strings returned point into the mock and stay valid until the next call
 * that changes what they describe (clear, free).  Out of memory aborts the
 * test with a message.
 */
#ifndef MESHTUNE_MOCKHOST_H
#define MESHTUNE_MOCKHOST_H

#include <stddef.h>
#include <stdint.h>

#include <meshtune/strategy.h>

#ifdef __cplusplus
extern "C" {
#endif

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

/* The entry point of a strategy, as MT_STRATEGY_EXPORT defines it. */
typedef const struct mt_strategy *(*mock_host_entry)(
    const struct mt_host_api *);

/* A new mock: config "{}", no series, no knobs, time 1000 ms. */
struct mock_host	*mock_host_new(void);
/* Unload the strategy (destroy) if loaded, and free everything. */
void			 mock_host_free(struct mock_host *);
/* The table and the ctx a strategy is handed, to call it directly. */
const struct mt_host_api *mock_host_api(struct mock_host *);
struct mt_ctx		*mock_host_ctx(struct mock_host *);

/*
 * Scripting.  set_config takes JSON object text; -1 (nothing changed) if
 * it is not one.  A stat named "p95" also answers quantile(0.95), and so
 * on for p50, p90, p99 and p999.  set_stat_code makes (series, stat)
 * answer a code such as MT_ENODATA.  mock_host_fail makes host function
 * fn ("log", "now_ms", "stat", "quantile", "knob", "propose" or "config")
 * answer code; MT_OK restores it.  An unknown fn aborts the test.
 */
int	 mock_host_set_config(struct mock_host *, const char *);
void	 mock_host_set_stat(struct mock_host *, const char *series,
	    const char *stat, double);
void	 mock_host_set_stat_code(struct mock_host *, const char *series,
	    const char *stat, int);
void	 mock_host_set_quantile(struct mock_host *, const char *series,
	    double q, double);
void	 mock_host_clear_stats(struct mock_host *);
void	 mock_host_set_knob(struct mock_host *, const char *knob,
	    double value, double min, double max);
void	 mock_host_set_now(struct mock_host *, uint64_t ms);
void	 mock_host_advance(struct mock_host *, uint64_t ms);
void	 mock_host_fail(struct mock_host *, const char *fn, int code);

/*
 * Driving a strategy.  load calls the entry point, checks the descriptor
 * as the daemon's loader does (ABI major, size, name, callbacks) and runs
 * init with the scripted configuration; it returns init's result, or
 * MT_ERR when the entry or the descriptor is unusable, and
 * mock_host_init_error() says why.  load_file does the same for a built
 * shared object (dlopen, then the symbol meshtune_strategy_v1); the
 * object stays loaded until the next load or mock_host_free().  eval runs
 * should_apply, then apply if it returned 1, and returns should_apply's
 * result; *applyp (may be NULL) gets apply's, or MT_NOOP if it did not
 * run.  eval without a loaded strategy aborts the test.
 */
int	 mock_host_load(struct mock_host *, mock_host_entry);
int	 mock_host_load_file(struct mock_host *, const char *path);
const char *mock_host_init_error(struct mock_host *);
int	 mock_host_eval(struct mock_host *, int *applyp);
void	 mock_host_unload(struct mock_host *);
void	*mock_host_state(struct mock_host *);

/*
 * Inspection.  Proposals since the last clear, in order; log lines as
 * "LEVEL text" (level 0 debug, 1 info, 2 warning); calls counts every
 * call of host function fn ("config" counts both config readers).
 */
size_t	 mock_host_nproposals(struct mock_host *);
const struct mock_proposal *mock_host_proposal(struct mock_host *, size_t);
void	 mock_host_clear_proposals(struct mock_host *);
size_t	 mock_host_nlogs(struct mock_host *);
const char *mock_host_log_line(struct mock_host *, size_t);
unsigned int mock_host_calls(struct mock_host *, const char *fn);

#ifdef __cplusplus
}
#endif

#endif /* MESHTUNE_MOCKHOST_H */
