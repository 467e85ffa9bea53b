/* no_name.c -- loader fixture: a descriptor without a name. */
#include <meshtune/strategy.h>

#include "common_cb.h"

static const struct mt_strategy fx = {
	MT_STRATEGY_HEADER,
	.name = NULL,
	.init = fx_init,
	.should_apply = fx_should_apply,
	.apply = fx_apply,
};

MT_STRATEGY_EXPORT(no_name)
{
	(void)host;
	return &fx;
}
