/*
 * proposer.c -- governor fixture: proposes on every tick exactly what its
 * configuration says, so that an end-to-end test can try the governor
 * the way a careless or hostile strategy would.  Config (all optional):
 *	"kind"		"set" (default) or "trigger"
 *	"knob"		the knob or trigger name ("net.batch_size")
 *	"value"		the value or argument (default 1)
 *	"expect_metric", "expect_stat", "expect_dir"
 *			the expected effect (default none)
 *	"times"		propose this many times, then stop (0: forever)
 *	"random_names"	instead, this many made-up knob names a tick
 *			("made.up.<n>", n pseudo-random from "seed")
 *	"wait_series", "wait_count"
 *			propose only once that series has this many
 *			samples in the window
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meshtune/strategy.h>

struct proposer {
	const struct mt_host_api *host;
	char		 kind[16];
	char		 knob[128];
	char		 metric[128];
	char		 stat[16];
	double		 value;
	double		 dir;
	double		 times;
	double		 random;
	char		 wait[128];
	double		 wait_count;
	uint64_t	 seed;
	uint64_t	 done;
};

static int
proposer_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct proposer	*p;
	double		 seed = 1;

	(void)config_json;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return MT_ERR;
	p->host = host;
	snprintf(p->kind, sizeof(p->kind), "set");
	snprintf(p->knob, sizeof(p->knob), "net.batch_size");
	p->value = 1;
	(void)host->config_string(ctx, "kind", p->kind, sizeof(p->kind));
	(void)host->config_string(ctx, "knob", p->knob, sizeof(p->knob));
	(void)host->config_string(ctx, "expect_metric", p->metric,
	    sizeof(p->metric));
	(void)host->config_string(ctx, "expect_stat", p->stat,
	    sizeof(p->stat));
	(void)host->config_number(ctx, "value", &p->value);
	(void)host->config_number(ctx, "expect_dir", &p->dir);
	(void)host->config_number(ctx, "times", &p->times);
	(void)host->config_number(ctx, "random_names", &p->random);
	(void)host->config_number(ctx, "seed", &seed);
	(void)host->config_string(ctx, "wait_series", p->wait,
	    sizeof(p->wait));
	(void)host->config_number(ctx, "wait_count", &p->wait_count);
	p->seed = (uint64_t)seed;
	if (strcmp(p->kind, "set") != 0 && strcmp(p->kind, "trigger") != 0) {
		snprintf(err, errlen, "kind: expected set or trigger");
		free(p);
		return MT_ERR;
	}
	*statep = p;
	return MT_OK;
}

static int
proposer_should_apply(void *state, struct mt_ctx *ctx)
{
	struct proposer	*p = state;
	double		 n = 0;

	if (p->wait[0] != '\0' && (p->host->stat(ctx, p->wait, "count",
	    &n) != MT_OK || n < p->wait_count))
		return 0;
	return p->times == 0 || p->done < (uint64_t)p->times;
}

static int
proposer_apply(void *state, struct mt_ctx *ctx)
{
	struct proposer		*p = state;
	struct mt_action	 a = MT_ACTION_INIT;
	char			 name[64];
	int			 i;

	a.kind = strcmp(p->kind, "trigger") == 0 ? MT_ACT_TRIGGER :
	    MT_ACT_SET;
	a.knob = p->knob;
	a.value = p->value;
	a.reason = "the proposer fixture proposes it";
	if (p->metric[0] != '\0') {
		a.expect_metric = p->metric;
		a.expect_stat = p->stat[0] != '\0' ? p->stat : "p95";
		a.expect_dir = (int32_t)p->dir;
	}
	p->done++;
	if (p->random == 0)
		return p->host->propose(ctx, &a) == MT_OK ? MT_OK : MT_NOOP;
	for (i = 0; i < (int)p->random; i++) {
		p->seed = p->seed * 6364136223846793005ULL +
		    1442695040888963407ULL;
		snprintf(name, sizeof(name), "made.up.%llu",
		    (unsigned long long)(p->seed >> 33) % 1000000);
		a.knob = name;
		if (p->host->propose(ctx, &a) != MT_OK)
			break;
	}
	return MT_OK;
}

static void
proposer_destroy(void *state)
{
	free(state);
}

static const struct mt_strategy fx = {
	MT_STRATEGY_HEADER,
	.name = "proposer",
	.summary = "governor fixture: proposes what its config says",
	.init = proposer_init,
	.should_apply = proposer_should_apply,
	.apply = proposer_apply,
	.destroy = proposer_destroy,
};

MT_STRATEGY_EXPORT(proposer)
{
	(void)host;
	return &fx;
}
