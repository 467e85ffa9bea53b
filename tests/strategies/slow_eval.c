/*
 * slow_eval.c -- loader fixture: should_apply spins for "spin_us"
 * microseconds (config, default 20000) of monotonic time, overrunning
 * any small budget.  It spins on the host's clock rather than sleeping,
 * the way a strategy doing too much work would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <meshtune/strategy.h>

struct slow {
	double	spin_us;
};

static int
slow_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct slow	*s;

	(void)config_json;
	(void)err;
	(void)errlen;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MT_ERR;
	if (host->config_number(ctx, "spin_us", &s->spin_us) != MT_OK)
		s->spin_us = 20000;
	*statep = s;
	return MT_OK;
}

static uint64_t
mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int
slow_should_apply(void *state, struct mt_ctx *ctx)
{
	struct slow	*s = state;
	uint64_t	 end;

	(void)ctx;
	end = mono_us() + (uint64_t)s->spin_us;
	while (mono_us() < end)
		;
	return 0;
}

static int
slow_apply(void *state, struct mt_ctx *ctx)
{
	(void)state;
	(void)ctx;
	return MT_NOOP;
}

static void
slow_destroy(void *state)
{
	free(state);
}

static const struct mt_strategy fx = {
	MT_STRATEGY_HEADER,
	.name = "slow_eval",
	.init = slow_init,
	.should_apply = slow_should_apply,
	.apply = slow_apply,
	.destroy = slow_destroy,
};

MT_STRATEGY_EXPORT(slow_eval)
{
	(void)host;
	return &fx;
}
