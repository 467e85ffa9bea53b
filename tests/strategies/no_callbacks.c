/* no_callbacks.c -- loader fixture: should_apply and apply missing. */
#include <meshtune/strategy.h>

#include "common_cb.h"

static const struct mt_strategy fx = {
	MT_STRATEGY_HEADER,
	.name = "no_callbacks",
	.init = fx_init,
};

MT_STRATEGY_EXPORT(no_callbacks)
{
	(void)host;
	(void)fx_should_apply;
	(void)fx_apply;
	return &fx;
}
