/* short_size.c -- loader fixture: a descriptor claiming a tiny size. */
#include <meshtune/strategy.h>

#include "common_cb.h"

static const struct mt_strategy fx = {
	.abi_major = MT_ABI_MAJOR,
	.abi_minor = MT_ABI_MINOR,
	.size = 16,
	.name = "short_size",
	.init = fx_init,
	.should_apply = fx_should_apply,
	.apply = fx_apply,
};

MT_STRATEGY_EXPORT(short_size)
{
	(void)host;
	return &fx;
}
