/*
 * no_symbol.c -- loader fixture: a shared object that exports no entry
 * point (its only function has hidden visibility and another name).
 */
#include <meshtune/strategy.h>

#include "common_cb.h"

int	no_symbol_helper(void *);

__attribute__((__visibility__("hidden"))) int
no_symbol_helper(void *state)
{
	return fx_should_apply(state, NULL) + fx_apply(state, NULL) +
	    fx_init(NULL, NULL, NULL, &state, NULL, 0);
}
