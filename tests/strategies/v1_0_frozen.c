/*
 * v1_0_frozen.c -- loader fixture compiled against strategy_v1_0.h, a
 * frozen copy of the 1.0 SDK header (never edit either).  The current
 * loader must load and run it: this is the proof that the ABI only ever
 * grows at the end.  It exercises every 1.0 host function: on each
 * evaluation it reads config, time, a stat, a quantile and a knob, then
 * proposes a trigger carrying what it read.
 */
#include <stdio.h>
#include <stdlib.h>

#include "strategy_v1_0.h"

struct frozen {
	const struct mt_host_api	*host;
	char				 knob[64];
	double				 arg;
};

static int
frozen_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct frozen	*f;

	(void)config_json;
	if (host->abi_major != 1 || host->size < sizeof(struct mt_host_api)) {
		snprintf(err, errlen, "unexpected host table");
		return MT_ERR;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return MT_ERR;
	f->host = host;
	if (host->config_string(ctx, "knob", f->knob, sizeof(f->knob)) !=
	    MT_OK)
		snprintf(f->knob, sizeof(f->knob), "frozen.trigger");
	if (host->config_number(ctx, "arg", &f->arg) != MT_OK)
		f->arg = 1;
	host->log(ctx, MT_LOG_DEBUG, "frozen 1.0 plugin up, knob %s", f->knob);
	*statep = f;
	return MT_OK;
}

static int
frozen_should_apply(void *state, struct mt_ctx *ctx)
{
	struct frozen	*f = state;

	return f->host->now_ms(ctx) > 0;
}

static int
frozen_apply(void *state, struct mt_ctx *ctx)
{
	struct frozen		*f = state;
	struct mt_action	 a = MT_ACTION_INIT;
	double			 p95 = -1, q = -1, v = -1, lo = -1, hi = -1;
	char			 reason[256];

	if (f->host->stat != NULL)
		f->host->stat(ctx, "frozen.series", "p95", &p95);
	if (f->host->quantile != NULL)
		f->host->quantile(ctx, "frozen.series", 0.5, &q);
	if (f->host->knob != NULL)
		f->host->knob(ctx, f->knob, &v, &lo, &hi);
	snprintf(reason, sizeof(reason), "frozen: p95 %g p50 %g knob %g "
	    "[%g, %g]", p95, q, v, lo, hi);
	a.kind = MT_ACT_TRIGGER;
	a.knob = f->knob;
	a.value = f->arg;
	a.reason = reason;
	a.evidence = "{\"frozen\":true}";
	return f->host->propose(ctx, &a) == MT_OK ? MT_OK : MT_ERR;
}

static void
frozen_destroy(void *state)
{
	free(state);
}

static const struct mt_strategy fx = {
	MT_STRATEGY_HEADER,
	.name = "v1_0_frozen",
	.version = "1.0",
	.summary = "built against the frozen 1.0 header",
	.init = frozen_init,
	.should_apply = frozen_should_apply,
	.apply = frozen_apply,
	.destroy = frozen_destroy,
};

MT_STRATEGY_EXPORT(v1_0_frozen)
{
	(void)host;
	return &fx;
}
