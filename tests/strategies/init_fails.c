/* init_fails.c -- loader fixture: init refuses with a message. */
#include <stdio.h>

#include <meshtune/strategy.h>

#include "common_cb.h"

static int
fails_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	(void)host;
	(void)ctx;
	(void)config_json;
	*statep = NULL;
	snprintf(err, errlen, "threshold must be positive, got %d", -5);
	return MT_ERR;
}

static const struct mt_strategy fx = {
	MT_STRATEGY_HEADER,
	.name = "init_fails",
	.init = fails_init,
	.should_apply = fx_should_apply,
	.apply = fx_apply,
};

MT_STRATEGY_EXPORT(init_fails)
{
	(void)host;
	(void)fx_init;
	return &fx;
}
