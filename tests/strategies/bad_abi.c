/* bad_abi.c -- loader fixture: a descriptor for ABI major 2. */
#include <meshtune/strategy.h>

#include "common_cb.h"

static const struct mt_strategy fx = {
	.abi_major = MT_ABI_MAJOR + 1,
	.abi_minor = 0,
	.size = sizeof(struct mt_strategy),
	.name = "bad_abi",
	.init = fx_init,
	.should_apply = fx_should_apply,
	.apply = fx_apply,
};

MT_STRATEGY_EXPORT(bad_abi)
{
	(void)host;
	return &fx;
}
