/* entry_null.c -- loader fixture: the entry point refuses the host. */
#include <meshtune/strategy.h>

MT_STRATEGY_EXPORT(entry_null)
{
	(void)host;
	return NULL;
}
