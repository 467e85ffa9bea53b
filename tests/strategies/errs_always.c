/*
 * errs_always.c -- loader fixture: should_apply says yes and apply fails
 * (MT_ERR), except every "ok_every"-th evaluation (config; 0 = never),
 * which succeeds and so breaks a run of failures.
 */
#include <stdlib.h>

#include <meshtune/strategy.h>

struct errs {
	double		ok_every;
	unsigned int	n;
};

static int
errs_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct errs	*e;

	(void)config_json;
	(void)err;
	(void)errlen;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return MT_ERR;
	if (host->config_number(ctx, "ok_every", &e->ok_every) != MT_OK)
		e->ok_every = 0;
	*statep = e;
	return MT_OK;
}

static int
errs_should_apply(void *state, struct mt_ctx *ctx)
{
	(void)state;
	(void)ctx;
	return 1;
}

static int
errs_apply(void *state, struct mt_ctx *ctx)
{
	struct errs	*e = state;

	(void)ctx;
	e->n++;
	if (e->ok_every > 0 && e->n % (unsigned int)e->ok_every == 0)
		return MT_NOOP;
	return MT_ERR;
}

static void
errs_destroy(void *state)
{
	free(state);
}

static const struct mt_strategy fx = {
	MT_STRATEGY_HEADER,
	.name = "errs_always",
	.init = errs_init,
	.should_apply = errs_should_apply,
	.apply = errs_apply,
	.destroy = errs_destroy,
};

MT_STRATEGY_EXPORT(errs_always)
{
	(void)host;
	return &fx;
}
