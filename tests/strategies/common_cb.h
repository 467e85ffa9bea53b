/*
 * common_cb.h -- callbacks shared by the loader fixtures (tests only).
 * Each fixture is a real shared object built like a strategy; this file
 * keeps them short.  Included once per fixture, so everything is static.
 */
#include <stdlib.h>

static int
fx_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	(void)host;
	(void)ctx;
	(void)config_json;
	(void)err;
	(void)errlen;
	*statep = NULL;
	return MT_OK;
}

static int
fx_should_apply(void *state, struct mt_ctx *ctx)
{
	(void)state;
	(void)ctx;
	return 0;
}

static int
fx_apply(void *state, struct mt_ctx *ctx)
{
	(void)state;
	(void)ctx;
	return MT_NOOP;
}
