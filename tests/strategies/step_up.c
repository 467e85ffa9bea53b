/*
 * step_up.c -- test fixture: on every evaluation, proposes each knob of
 * its "knobs" config (names separated by commas) one above its current
 * value, with nothing to verify.  Values only rise, so the governor's
 * flap detector never freezes them; a run of these is a stream of writes
 * for the actuator under test (tests/integration/file_race.sh).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meshtune/strategy.h>

struct step {
	const struct mt_host_api *host;
	char			 knobs[512];
};

static int
step_init(const struct mt_host_api *host, struct mt_ctx *ctx,
    const char *config_json, void **statep, char *err, size_t errlen)
{
	struct step	*s;

	(void)config_json;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return MT_ERR;
	s->host = host;
	if (host->config_string(ctx, "knobs", s->knobs, sizeof(s->knobs)) !=
	    MT_OK) {
		snprintf(err, errlen, "config \"knobs\" must be a string");
		free(s);
		return MT_ERR;
	}
	*statep = s;
	return MT_OK;
}

static int
step_should_apply(void *state, struct mt_ctx *ctx)
{
	(void)state;
	(void)ctx;
	return 1;
}

static int
step_apply(void *state, struct mt_ctx *ctx)
{
	struct step	*s = state;
	struct mt_action a = MT_ACTION_INIT;
	char		 names[sizeof(s->knobs)], *name, *next;
	double		 value, min, max;

	snprintf(names, sizeof(names), "%s", s->knobs);
	for (name = names; name != NULL; name = next) {
		if ((next = strchr(name, ',')) != NULL)
			*next++ = '\0';
		if (s->host->knob(ctx, name, &value, &min, &max) != MT_OK)
			continue;
		a.kind = MT_ACT_SET;
		a.knob = name;
		a.value = value != value ? min : value + 1;	/* NaN: min */
		if (a.value > max)
			continue;
		a.reason = "step up (test fixture)";
		(void)s->host->propose(ctx, &a);
	}
	return MT_OK;
}

static void
step_destroy(void *state)
{
	free(state);
}

static const struct mt_strategy fx = {
	MT_STRATEGY_HEADER,
	.name = "step_up",
	.init = step_init,
	.should_apply = step_should_apply,
	.apply = step_apply,
	.destroy = step_destroy,
};

MT_STRATEGY_EXPORT(step_up)
{
	(void)host;
	return &fx;
}
