/*
 * engine.c -- the strategy engine: loads the configured strategy plugins,
 * runs every enabled one on each tick over one snapshot, and hands their
 * proposals to the governor.  Loads, refusals and disablements land in
 * the audit log (strategies and events tables).
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshtuned.h"
#include "meshtune/strategy.h"

/* What the loader reports, written to the audit log. */
static void
engine_event(const struct plugin_event *ev, void *arg)
{
	struct daemon	*d = arg;
	char		 abi[16], *detail;

	if (d->audit == NULL)
		return;
	switch (ev->type) {
	case PLUGIN_EV_LOADED:
		snprintf(abi, sizeof(abi), "%d.%d", ev->plugin_abi_major,
		    ev->plugin_abi_minor);
		(void)audit_strategy(d->audit, ev->instance, ev->path,
		    ev->sha256, abi);
		break;
	case PLUGIN_EV_REFUSED:
	case PLUGIN_EV_DISABLED:
		xasprintf(&detail, "{\"module\":\"%s\",\"reason\":\"%s\","
		    "\"plugin_abi\":\"%d.%d\",\"host_abi\":\"%d.%d\"}",
		    ev->module ? ev->module : "", ev->reason ? ev->reason : "",
		    ev->plugin_abi_major, ev->plugin_abi_minor,
		    ev->host_abi_major, ev->host_abi_minor);
		(void)audit_event(d->audit, ev->type == PLUGIN_EV_REFUSED ?
		    "plugin_error" : "plugin_disabled", ev->instance,
		    ev->message, detail);
		free(detail);
		break;
	case PLUGIN_EV_UNLOADED:
		break;
	}
}

/* Give each instance the budget and strike limit of its entry. */
static void
engine_limits(struct daemon *d)
{
	struct plugin_inst	*pi;

	CONF_FOREACH(struct mt_strategy_conf, sc, d->conf->strategies) {
		if ((pi = plugin_find(d->engine, sc->name)) != NULL)
			plugin_inst_set_limits(pi, (uint64_t)sc->budget_ms * 1000,
			    (unsigned int)sc->max_failures);
	}
}

/*
 * Load the strategies of configuration c into a new set.  Returns the set
 * (never NULL) and the number refused in *refused.
 */
struct plugin_set *
engine_load(struct daemon *d, const struct mt_config *c, size_t *refused)
{
	struct plugin_opts	 opts;
	struct plugin_set	*ps;

	memset(&opts, 0, sizeof(opts));
	opts.dir = c->plugin_dir;
	opts.host = hostapi_table();
	opts.udata = d;
	opts.event_fn = engine_event;
	opts.event_arg = d;
	ps = plugin_set_new(&opts);
	*refused = 0;
	CONF_FOREACH(struct mt_strategy_conf, sc, c->strategies)
		if (plugin_load(ps, sc->name, sc->module, sc->config) == -1)
			(*refused)++;
	return ps;
}

/* Load every configured strategy; a refused one leaves the rest running. */
int
engine_start(struct daemon *d)
{
	size_t	refused;

	d->engine = engine_load(d, d->conf, &refused);
	engine_limits(d);
	log_info("engine: %zu strategies running, %zu refused",
	    plugin_count(d->engine), refused);
	return 0;
}

void
engine_stop(struct daemon *d)
{
	plugin_set_free(d->engine);
	d->engine = NULL;
}

/*
 * SIGHUP: add, remove and reload strategies to match the new list.  The
 * configuration is swapped in after every hook agreed, so the specs point
 * into nc, which becomes d->conf.
 */
int
engine_reload(struct daemon *d, const struct mt_config *nc)
{
	struct plugin_spec	*specs;
	size_t			 i = 0;
	int			 refused;

	specs = nc->strategies.n ? xcalloc(nc->strategies.n,
	    sizeof(*specs)) : NULL;
	CONF_FOREACH(struct mt_strategy_conf, sc, nc->strategies) {
		specs[i].name = sc->name;
		specs[i].module = sc->module;
		specs[i].config = sc->config;
		i++;
	}
	refused = plugin_sync(d->engine, specs, i);
	free(specs);
	log_info("engine: %zu strategies running after reload, %d refused",
	    plugin_count(d->engine), refused);
	return 0;
}

/* After a reload the limits follow the new entries. */
void
engine_reloaded(struct daemon *d)
{
	engine_limits(d);
}

/*
 * One tick: every enabled strategy on one snapshot taken at now_ms, then
 * the governor decides on what they proposed.
 */
void
engine_tick(struct daemon *d, uint64_t now_ms)
{
	struct tick	*t = tick_new(d, now_ms);

	plugin_eval_all(d->engine, t, now_ms);
	d->last_tick.proposals = tick_free(t);
	d->last_tick.actions = governor_decide(d->governor, now_ms);
}

/*
 * meshtuned -t: load every configured plugin once, report each result on
 * stdout, unload them.  Returns the number refused.
 */
size_t
engine_check(const struct mt_config *c)
{
	struct daemon		 d;
	struct plugin_set	*ps;
	struct plugin_stats	 st;
	size_t			 refused, i;

	memset(&d, 0, sizeof(d));
	ps = engine_load(&d, c, &refused);
	for (i = 0; i < plugin_count(ps); i++) {
		plugin_get_stats(plugin_at(ps, i), &st);
		printf("strategy %s: %s %s (ABI %u.%u) from %s: loaded\n",
		    st.name, st.strategy, st.version ? st.version : "",
		    st.abi_major, st.abi_minor, st.path);
	}
	plugin_set_free(ps);
	return refused;
}
