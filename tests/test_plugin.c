/*
 * test_plugin.c -- the strategy loader against real shared objects: every
 * refusal (reason, log text through the event callback, set unchanged),
 * duplicates, several instances of one .so, file and directory
 * permissions, symlinks, ownership, disabling after K errors or overruns
 * and re-enabling by reload, SIGHUP-style sync, and the frozen 1.0 plugin.
 *
 * Fixtures are copied from the build tree (MT_FIXTURE_DIR and
 * MT_TEMPLATE_DIR, overridable by the environment) into a private
 * directory whose permissions each test controls.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "meshtune/strategy.h"
#include "meshtuned.h"

#ifndef MT_FIXTURE_DIR
#define MT_FIXTURE_DIR	"tests/strategies/.libs"
#endif
#ifndef MT_TEMPLATE_DIR
#define MT_TEMPLATE_DIR	"strategies/.libs"
#endif

#define MAXEV	64
#define MAXPROP	64

struct ev {
	enum plugin_event_type	 type;
	char			*instance;
	char			*reason;
	char			*message;
	char			*sha256;
	int			 pmajor, pminor;
};

struct prop {
	char	*instance;
	char	*knob;
	char	*reason;
	double	 value;
	int	 kind;
	uint32_t size;
};

struct t {
	char			 dir[64];
	struct plugin_set	*ps;
	struct ev		 ev[MAXEV];
	size_t			 nev;
	struct prop		 prop[MAXPROP];
	size_t			 nprop;
	double			 p95, count;
	int			 tick;		/* its address is the tick */
	int			 udata;		/* its address is the udata */
	int			 bad_ctx;	/* host saw a wrong tick/udata */
};

static struct t	*cur;	/* for the host functions */

static void
on_event(const struct plugin_event *e, void *arg)
{
	struct t	*t = arg;
	struct ev	*v;

	assert_true(t->nev < MAXEV);
	assert_int_equal(e->host_abi_major, MT_ABI_MAJOR);
	assert_int_equal(e->host_abi_minor, MT_ABI_MINOR);
	v = &t->ev[t->nev++];
	v->type = e->type;
	v->instance = xstrdup(e->instance != NULL ? e->instance : "");
	v->reason = xstrdup(e->reason);
	v->message = xstrdup(e->message);
	v->sha256 = e->sha256 != NULL ? xstrdup(e->sha256) : NULL;
	v->pmajor = e->plugin_abi_major;
	v->pminor = e->plugin_abi_minor;
}

static int
d_stat(struct mt_ctx *ctx, const char *series, const char *stat, double *out)
{
	if (plugin_ctx_udata(ctx) != &cur->udata)
		cur->bad_ctx = 1;
	if (plugin_ctx_tick(ctx) != &cur->tick)
		return MT_ENODATA;
	if (strcmp(series, "net.rtt_ms") == 0 && strcmp(stat, "count") == 0)
		*out = cur->count;
	else if (strcmp(series, "net.rtt_ms") == 0 && strcmp(stat, "p95") == 0)
		*out = cur->p95;
	else if (strcmp(series, "frozen.series") == 0)
		*out = 42;
	else
		return MT_ENOENT;
	return MT_OK;
}

static int
d_quantile(struct mt_ctx *ctx, const char *series, double q, double *out)
{
	(void)ctx;
	if (strcmp(series, "frozen.series") != 0)
		return MT_ENOENT;
	*out = q * 42;
	return MT_OK;
}

static int
d_knob(struct mt_ctx *ctx, const char *knob, double *v, double *lo,
    double *hi)
{
	(void)ctx;
	if (strcmp(knob, "net.batch_size") == 0) {
		*v = 8;
		*lo = 1;
		*hi = 64;
	} else if (strcmp(knob, "frozen.trigger") == 0) {
		*v = 0;
		*lo = 0;
		*hi = 1;
	} else
		return MT_ENOENT;
	return MT_OK;
}

static int
d_propose(struct mt_ctx *ctx, const struct mt_action *a)
{
	struct prop	*p;

	assert_true(cur->nprop < MAXPROP);
	p = &cur->prop[cur->nprop++];
	p->instance = xstrdup(plugin_ctx_name(ctx));
	p->knob = xstrdup(a->knob);
	p->reason = xstrdup(a->reason);
	p->value = a->value;
	p->kind = a->kind;
	p->size = a->size;
	assert_ptr_equal(plugin_ctx_inst(ctx),
	    plugin_find(cur->ps, plugin_ctx_name(ctx)));
	return MT_OK;
}

static const struct mt_host_api daemon_api = {
	.abi_major = MT_ABI_MAJOR,
	.abi_minor = MT_ABI_MINOR,
	.size = sizeof(struct mt_host_api),
	.stat = d_stat,
	.quantile = d_quantile,
	.knob = d_knob,
	.propose = d_propose,
};

static const char *
fixture_dir(const char *env, const char *def)
{
	const char	*d = getenv(env);

	return d != NULL && *d != '\0' ? d : def;
}

/* Copy a built fixture into the test directory as name, with mode. */
static void
install(struct t *t, const char *fixture, const char *name, mode_t mode)
{
	char	 src[1024], dst[1024], buf[65536];
	int	 in, out;
	ssize_t	 n;

	if (strcmp(fixture, "template") == 0)
		snprintf(src, sizeof(src), "%s/template.so",
		    fixture_dir("MT_TEMPLATE_DIR", MT_TEMPLATE_DIR));
	else
		snprintf(src, sizeof(src), "%s/%s.so",
		    fixture_dir("MT_FIXTURE_DIR", MT_FIXTURE_DIR), fixture);
	snprintf(dst, sizeof(dst), "%s/%s", t->dir, name);
	in = open(src, O_RDONLY);
	if (in == -1)
		fail_msg("fixture %s: %s", src, strerror(errno));
	out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(out != -1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	assert_int_equal(n, 0);
	close(in);
	close(out);
	assert_int_equal(chmod(dst, mode), 0);
}

static struct plugin_set *
new_set(struct t *t, uint64_t budget_us, unsigned int strikes)
{
	struct plugin_opts	opts;

	memset(&opts, 0, sizeof(opts));
	opts.dir = t->dir;
	opts.host = &daemon_api;
	opts.udata = &t->udata;
	opts.budget_us = budget_us;
	opts.max_strikes = strikes;
	opts.event_fn = on_event;
	opts.event_arg = t;
	return plugin_set_new(&opts);
}

static int
setup(void **state)
{
	struct t	*t;

	t = xcalloc(1, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "/tmp/test_plugin.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	if (chmod(t->dir, 0755) == -1)
		return -1;
	/* A generous budget: the machine is shared and tests run under
	 * valgrind; the overrun test sets its own. */
	t->ps = new_set(t, 2000000, 3);
	t->p95 = 142;
	t->count = 611;
	cur = t;
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct t	*t = *state;
	char		 cmd[128];
	size_t		 i;

	plugin_set_free(t->ps);
	for (i = 0; i < t->nev; i++) {
		free(t->ev[i].instance);
		free(t->ev[i].reason);
		free(t->ev[i].message);
		free(t->ev[i].sha256);
	}
	for (i = 0; i < t->nprop; i++) {
		free(t->prop[i].instance);
		free(t->prop[i].knob);
		free(t->prop[i].reason);
	}
	assert_false(t->bad_ctx);
	chmod(t->dir, 0755);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0)
		return -1;
	free(t);
	cur = NULL;
	return 0;
}

static const struct ev *
last_ev(struct t *t)
{
	assert_true(t->nev > 0);
	return &t->ev[t->nev - 1];
}

static uint64_t
evaluations(struct plugin_inst *pi)
{
	struct plugin_stats	st;

	plugin_get_stats(pi, &st);
	return st.evaluations;
}

static void
test_load_and_evaluate(void **state)
{
	struct t		*t = *state;
	struct plugin_inst	*pi;
	struct plugin_stats	 st;
	char			 path[128], hex[SHA256_HEXLEN];
	int			 fd;

	install(t, "template", "template.so", 0755);
	assert_int_equal(plugin_load(t->ps, "net", "template.so",
	    "{\"threshold\":100}"), 0);
	assert_int_equal(plugin_count(t->ps), 1);
	assert_int_equal(last_ev(t)->type, PLUGIN_EV_LOADED);
	snprintf(path, sizeof(path), "%s/template.so", t->dir);
	fd = open(path, O_RDONLY);
	assert_true(fd != -1);
	assert_int_equal(sha256_fd(fd, hex), 0);
	close(fd);
	assert_string_equal(last_ev(t)->sha256, hex);
	assert_int_equal(last_ev(t)->pmajor, 1);
	assert_int_equal(last_ev(t)->pminor, 0);

	pi = plugin_find(t->ps, "net");
	assert_non_null(pi);
	assert_int_equal(plugin_eval(pi, &t->tick, 1000), 1);
	assert_int_equal(t->nprop, 1);
	assert_string_equal(t->prop[0].instance, "net");
	assert_string_equal(t->prop[0].knob, "net.batch_size");
	assert_true(t->prop[0].value == 16);
	assert_int_equal(t->prop[0].size, sizeof(struct mt_action));
	/* Below the threshold: quiet. */
	t->p95 = 90;
	assert_int_equal(plugin_eval(pi, &t->tick, 2000), 0);
	plugin_get_stats(pi, &st);
	assert_string_equal(st.name, "net");
	assert_string_equal(st.module, "template.so");
	assert_string_equal(st.strategy, "template");
	assert_string_equal(st.sha256, hex);
	assert_int_equal(st.abi_major, 1);
	assert_int_equal(st.enabled, 1);
	assert_int_equal(st.evaluations, 2);
	assert_int_equal(st.applies, 1);
	assert_int_equal(st.proposals, 1);
	assert_int_equal(st.errors, 0);
	assert_true(st.last_us < 2000000);
	assert_int_equal(plugin_unload(t->ps, "net"), 0);
	assert_int_equal(last_ev(t)->type, PLUGIN_EV_UNLOADED);
	assert_int_equal(plugin_count(t->ps), 0);
	assert_int_equal(plugin_unload(t->ps, "net"), -1);
}

struct refusal {
	const char	*fixture;	/* NULL: do not install */
	const char	*module;
	const char	*config;
	const char	*reason;
	const char	*text;		/* must appear in the message */
	const char	*pabi;		/* plugin ABI as logged */
};

static const struct refusal refusals[] = {
	{ NULL, "missing.so", NULL, "missing_file", "No such file",
	    "plugin ABI unknown" },
	{ "no_symbol", "no_symbol.so", NULL, "no_symbol",
	    "no symbol meshtune_strategy_v1", "plugin ABI unknown" },
	{ "entry_null", "entry_null.so", NULL, "entry_refused",
	    "returned NULL", "plugin ABI unknown" },
	{ "bad_abi", "bad_abi.so", NULL, "abi_major",
	    "built for ABI major 2, this host speaks 1", "plugin ABI 2.0" },
	{ "short_size", "short_size.so", NULL, "short_struct",
	    "descriptor size 16 is smaller", "plugin ABI 1.0" },
	{ "no_callbacks", "no_callbacks.so", NULL, "no_callbacks",
	    "descriptor lacks should_apply apply", "plugin ABI 1.0" },
	{ "no_name", "no_name.so", NULL, "no_name",
	    "descriptor has no valid name", "plugin ABI 1.0" },
	{ "init_fails", "init_fails.so", NULL, "init_failed",
	    "init returned -1: threshold must be positive, got -5",
	    "plugin ABI 1.0" },
	{ "template", "template.so", "[1, 2]", "bad_config",
	    "config is not a JSON object", "plugin ABI 1.0" },
	{ "template", "template.so", "{\"factor\": 1}", "init_failed",
	    "config \"factor\" must be positive and not 1", "plugin ABI 1.0" },
	{ NULL, "../template.so", NULL, "bad_module", "without '/'",
	    "plugin ABI unknown" },
};

/* One refusal: reason and text reported, the set exactly as before. */
static void
refused(struct t *t, const char *name, const char *module, const char *config,
    const char *reason, const char *text, const char *pabi)
{
	struct plugin_inst	*good;
	const struct ev		*e;
	size_t			 n, nev;
	uint64_t		 ev0;
	char			 want[256];

	n = plugin_count(t->ps);
	nev = t->nev;
	good = plugin_find(t->ps, "good");
	ev0 = good != NULL ? evaluations(good) : 0;

	assert_int_equal(plugin_load(t->ps, name, module, config), -1);
	assert_int_equal(t->nev, nev + 1);
	e = last_ev(t);
	assert_int_equal(e->type, PLUGIN_EV_REFUSED);
	assert_string_equal(e->reason, reason);
	if (strstr(e->message, text) == NULL)
		fail_msg("\"%s\" not in \"%s\"", text, e->message);
	snprintf(want, sizeof(want), ": %s: ", reason);
	assert_non_null(strstr(e->message, want));
	if (strchr(module, '/') == NULL) {
		snprintf(want, sizeof(want), "file %s/%s:", t->dir, module);
		assert_non_null(strstr(e->message, want));
	}
	snprintf(want, sizeof(want), "(host ABI 1.0, %s)", pabi);
	if (strstr(e->message, want) == NULL)
		fail_msg("\"%s\" not in \"%s\"", want, e->message);
	assert_string_equal(e->instance, name);

	/* Daemon-side state unchanged; the good instance still runs. */
	assert_int_equal(plugin_count(t->ps), n);
	if (strcmp(name, "good") != 0)
		assert_null(plugin_find(t->ps, name));
	if (good != NULL) {
		assert_ptr_equal(plugin_find(t->ps, "good"), good);
		plugin_eval(good, &t->tick, 0);
		assert_int_equal(evaluations(good), ev0 + 1);
	}
}

static void
test_refusals(void **state)
{
	struct t	*t = *state;
	size_t		 i;

	install(t, "template", "template.so", 0755);
	assert_int_equal(plugin_load(t->ps, "good", "template.so", NULL), 0);
	for (i = 0; i < nitems(refusals); i++) {
		if (refusals[i].fixture != NULL &&
		    strcmp(refusals[i].fixture, "template") != 0)
			install(t, refusals[i].fixture, refusals[i].module,
			    0755);
		refused(t, "x", refusals[i].module, refusals[i].config,
		    refusals[i].reason, refusals[i].text, refusals[i].pabi);
	}
	refused(t, "bad name!", "template.so", NULL, "bad_name",
	    "instance name must be", "plugin ABI unknown");
}

static void
test_duplicate(void **state)
{
	struct t	*t = *state;

	install(t, "template", "template.so", 0755);
	assert_int_equal(plugin_load(t->ps, "good", "template.so", NULL), 0);
	refused(t, "good", "template.so", "{\"threshold\":1}", "duplicate",
	    "an instance named \"good\" is already loaded",
	    "plugin ABI unknown");
}

static void
test_permissions(void **state)
{
	struct t	*t = *state;
	char		 path[128];

	install(t, "template", "template.so", 0755);
	assert_int_equal(plugin_load(t->ps, "good", "template.so", NULL), 0);
	install(t, "template", "gw.so", 0775);
	refused(t, "x", "gw.so", NULL, "writable",
	    "is writable by group or others (mode 0775)", "plugin ABI unknown");
	install(t, "template", "ow.so", 0757);
	refused(t, "x", "ow.so", NULL, "writable", "(mode 0757)",
	    "plugin ABI unknown");

	snprintf(path, sizeof(path), "%s/link.so", t->dir);
	assert_int_equal(symlink("template.so", path), 0);
	refused(t, "x", "link.so", NULL, "symlink", "is a symbolic link",
	    "plugin ABI unknown");

	install(t, "template", "dir.so", 0755);
	assert_int_equal(chmod(t->dir, 0775), 0);
	refused(t, "x", "dir.so", NULL, "dir_writable",
	    "writable by group or others (mode 0775)", "plugin ABI unknown");
	assert_int_equal(chmod(t->dir, 0757), 0);
	refused(t, "x", "dir.so", NULL, "dir_writable", "(mode 0757)",
	    "plugin ABI unknown");
	assert_int_equal(chmod(t->dir, 0755), 0);
	assert_int_equal(plugin_load(t->ps, "y", "dir.so", NULL), 0);
}

static void
test_owner(void **state)
{
	struct t	*t = *state;
	char		 path[128];

	if (geteuid() != 0)
		skip();		/* only root can give a file away */
	install(t, "template", "nobody.so", 0755);
	snprintf(path, sizeof(path), "%s/nobody.so", t->dir);
	assert_int_equal(chown(path, 65534, 65534), 0);
	refused(t, "x", "nobody.so", NULL, "owner",
	    "is owned by uid 65534, not root", "plugin ABI unknown");
	assert_int_equal(chown(t->dir, 65534, 65534), 0);
	refused(t, "x", "nobody.so", NULL, "dir_owner",
	    "is owned by uid 65534", "plugin ABI unknown");
	assert_int_equal(chown(t->dir, 0, 0), 0);
}

/* One .so, several instances, each with its own config and state. */
static void
test_instances(void **state)
{
	struct t	*t = *state;

	install(t, "template", "template.so", 0755);
	assert_int_equal(plugin_load(t->ps, "low", "template.so",
	    "{\"threshold\":10,\"factor\":2}"), 0);
	assert_int_equal(plugin_load(t->ps, "high", "template.so",
	    "{\"threshold\":1000,\"factor\":4}"), 0);
	assert_int_equal(plugin_count(t->ps), 2);
	assert_int_equal(plugin_eval_all(t->ps, &t->tick, 0), 1);
	assert_int_equal(t->nprop, 1);
	assert_string_equal(t->prop[0].instance, "low");
	assert_true(t->prop[0].value == 16);
	/* Dropping one reference keeps the code mapped for the other. */
	assert_int_equal(plugin_unload(t->ps, "low"), 0);
	t->p95 = 2000;
	assert_int_equal(plugin_eval_all(t->ps, &t->tick, 0), 1);
	assert_int_equal(t->nprop, 2);
	assert_string_equal(t->prop[1].instance, "high");
	assert_true(t->prop[1].value == 32);
	/* And one can come back while the other is loaded. */
	assert_int_equal(plugin_load(t->ps, "low", "template.so",
	    "{\"threshold\":10}"), 0);
	assert_int_equal(plugin_eval_all(t->ps, &t->tick, 0), 2);
	assert_int_equal(plugin_at(t->ps, 1), plugin_find(t->ps, "low"));
	assert_null(plugin_at(t->ps, 2));
}

static void
test_disable_on_errors(void **state)
{
	struct t		*t = *state;
	struct plugin_inst	*pi;
	struct plugin_stats	 st;
	size_t			 nev;

	install(t, "errs_always", "errs.so", 0755);
	assert_int_equal(plugin_load(t->ps, "errs", "errs.so", NULL), 0);
	pi = plugin_find(t->ps, "errs");
	nev = t->nev;
	assert_int_equal(plugin_eval(pi, &t->tick, 0), -1);
	assert_int_equal(plugin_eval(pi, &t->tick, 0), -1);
	plugin_get_stats(pi, &st);
	assert_int_equal(st.enabled, 1);
	assert_int_equal(st.strikes, 2);
	assert_int_equal(t->nev, nev);
	assert_int_equal(plugin_eval(pi, &t->tick, 0), -1);
	plugin_get_stats(pi, &st);
	assert_int_equal(st.enabled, 0);
	assert_string_equal(st.disabled_reason, "errors");
	assert_int_equal(st.errors, 3);
	assert_int_equal(t->nev, nev + 1);
	assert_int_equal(last_ev(t)->type, PLUGIN_EV_DISABLED);
	assert_string_equal(last_ev(t)->reason, "errors");
	assert_non_null(strstr(last_ev(t)->message, "strategy \"errs\" "
	    "disabled"));
	assert_non_null(strstr(last_ev(t)->message, "3 failures in a row, "
	    "last: apply returned -1"));
	/* Disabled: not called any more. */
	assert_int_equal(plugin_eval(pi, &t->tick, 0), 0);
	assert_int_equal(evaluations(pi), 3);
	/* Reload enables it with fresh counters. */
	assert_int_equal(plugin_reload(t->ps, "errs"), 0);
	assert_int_equal(last_ev(t)->type, PLUGIN_EV_LOADED);
	pi = plugin_find(t->ps, "errs");
	plugin_get_stats(pi, &st);
	assert_int_equal(st.enabled, 1);
	assert_int_equal(st.errors, 0);
	assert_int_equal(plugin_eval(pi, &t->tick, 0), -1);
	assert_int_equal(evaluations(pi), 1);
	assert_int_equal(plugin_reload(t->ps, "nope"), -1);
}

/* Failures must be in a row: a success in between resets the count. */
static void
test_strikes_reset(void **state)
{
	struct t		*t = *state;
	struct plugin_inst	*pi;
	struct plugin_stats	 st;
	int			 i;

	install(t, "errs_always", "errs.so", 0755);
	assert_int_equal(plugin_load(t->ps, "errs", "errs.so",
	    "{\"ok_every\":3}"), 0);
	pi = plugin_find(t->ps, "errs");
	for (i = 0; i < 12; i++)
		plugin_eval(pi, &t->tick, 0);
	plugin_get_stats(pi, &st);
	assert_int_equal(st.enabled, 1);
	assert_int_equal(st.errors, 8);
	assert_int_equal(st.evaluations, 12);
}

static void
test_disable_on_overrun(void **state)
{
	struct t		*t = *state;
	struct plugin_inst	*pi;
	struct plugin_stats	 st;

	plugin_set_free(t->ps);
	t->ps = new_set(t, 1000, 2);
	install(t, "slow_eval", "slow.so", 0755);
	assert_int_equal(plugin_load(t->ps, "slow", "slow.so",
	    "{\"spin_us\":3000}"), 0);
	pi = plugin_find(t->ps, "slow");
	assert_int_equal(plugin_eval(pi, &t->tick, 0), -1);
	plugin_get_stats(pi, &st);
	assert_int_equal(st.enabled, 1);
	assert_true(st.last_us >= 3000);
	assert_int_equal(plugin_eval(pi, &t->tick, 0), -1);
	plugin_get_stats(pi, &st);
	assert_int_equal(st.enabled, 0);
	assert_int_equal(st.overruns, 2);
	assert_int_equal(st.errors, 0);
	assert_string_equal(last_ev(t)->reason, "overrun");
	assert_non_null(strstr(last_ev(t)->message, "budget 1000 us"));
	/* A larger budget and a reload bring it back. */
	plugin_set_limits(t->ps, 1000000, 0);
	assert_int_equal(plugin_reload(t->ps, "slow"), 0);
	pi = plugin_find(t->ps, "slow");
	assert_int_equal(plugin_eval(pi, &t->tick, 0), 0);
	plugin_get_stats(pi, &st);
	assert_int_equal(st.enabled, 1);
	assert_int_equal(st.strikes, 0);
}

/* A plugin built against the frozen 1.0 header loads and works. */
static void
test_frozen_v1_0(void **state)
{
	struct t	*t = *state;

	install(t, "v1_0_frozen", "frozen.so", 0755);
	assert_int_equal(plugin_load(t->ps, "frozen", "frozen.so",
	    "{\"arg\":3}"), 0);
	assert_int_equal(last_ev(t)->pmajor, 1);
	assert_int_equal(last_ev(t)->pminor, 0);
	assert_int_equal(plugin_eval(plugin_find(t->ps, "frozen"), &t->tick,
	    0), 1);
	assert_int_equal(t->nprop, 1);
	assert_int_equal(t->prop[0].kind, MT_ACT_TRIGGER);
	assert_string_equal(t->prop[0].knob, "frozen.trigger");
	assert_true(t->prop[0].value == 3);
	assert_string_equal(t->prop[0].reason,
	    "frozen: p95 42 p50 21 knob 0 [0, 1]");
}

static void
test_sync(void **state)
{
	struct t			*t = *state;
	struct plugin_inst		*b;
	const struct plugin_spec	 s1[] = {
		{ "a", "template.so", "{\"threshold\":1}" },
		{ "b", "template.so", "{\"threshold\":2}" },
	};
	const struct plugin_spec	 s2[] = {
		{ "c", "errs.so", NULL },
		{ "b", "template.so", "{\"threshold\":2}" },
		{ "d", "missing.so", NULL },
	};
	size_t				 i;

	install(t, "template", "template.so", 0755);
	install(t, "errs_always", "errs.so", 0755);
	assert_int_equal(plugin_sync(t->ps, s1, nitems(s1)), 0);
	assert_int_equal(plugin_count(t->ps), 2);
	b = plugin_find(t->ps, "b");
	plugin_eval(b, &t->tick, 0);

	assert_int_equal(plugin_sync(t->ps, s2, nitems(s2)), 1);
	assert_int_equal(plugin_count(t->ps), 2);
	assert_null(plugin_find(t->ps, "a"));
	assert_ptr_equal(plugin_find(t->ps, "b"), b);	/* kept as it was */
	assert_int_equal(evaluations(b), 1);
	assert_ptr_equal(plugin_at(t->ps, 0), plugin_find(t->ps, "c"));
	assert_ptr_equal(plugin_at(t->ps, 1), b);
	assert_string_equal(last_ev(t)->reason, "missing_file");

	/* Disabled c and changed b are reloaded. */
	for (i = 0; i < 3; i++)
		plugin_eval(plugin_find(t->ps, "c"), &t->tick, 0);
	assert_int_equal(plugin_find(t->ps, "c") != NULL, 1);
	{
		const struct plugin_spec s3[] = {
			{ "c", "errs.so", NULL },
			{ "b", "template.so", "{\"threshold\":3}" },
		};
		struct plugin_stats	st;

		assert_int_equal(plugin_sync(t->ps, s3, nitems(s3)), 0);
		plugin_get_stats(plugin_find(t->ps, "c"), &st);
		assert_int_equal(st.enabled, 1);
		plugin_get_stats(plugin_find(t->ps, "b"), &st);
		assert_int_equal(st.evaluations, 0);
	}
	assert_int_equal(plugin_sync(t->ps, NULL, 0), 0);
	assert_int_equal(plugin_count(t->ps), 0);
}

static void
test_config_and_actions(void **state)
{
	struct mt_action	 a = MT_ACTION_INIT;
	cJSON			*c;
	double			 v;
	char			 buf[8];

	(void)state;
	c = cJSON_Parse("{\"a\":1.5,\"b\":true,\"s\":\"hi\",\"n\":{\"x\":2},"
	    "\"long\":\"0123456789\"}");
	assert_non_null(c);
	assert_int_equal(plugin_config_number(c, "a", &v), MT_OK);
	assert_true(v == 1.5);
	assert_int_equal(plugin_config_number(c, "b", &v), MT_OK);
	assert_true(v == 1);
	assert_int_equal(plugin_config_number(c, "n/x", &v), MT_OK);
	assert_true(v == 2);
	assert_int_equal(plugin_config_number(c, "n/y", &v), MT_ENOENT);
	assert_int_equal(plugin_config_number(c, "a/x", &v), MT_ENOENT);
	assert_int_equal(plugin_config_number(c, "s", &v), MT_EINVAL);
	assert_int_equal(plugin_config_number(c, "", &v), MT_ENOENT);
	assert_int_equal(plugin_config_string(c, "s", buf, sizeof(buf)),
	    MT_OK);
	assert_string_equal(buf, "hi");
	assert_int_equal(plugin_config_string(c, "long", buf, sizeof(buf)),
	    MT_EINVAL);
	assert_int_equal(plugin_config_string(c, "a", buf, sizeof(buf)),
	    MT_EINVAL);
	assert_int_equal(plugin_config_string(c, "zz", buf, sizeof(buf)),
	    MT_ENOENT);
	cJSON_Delete(c);

	assert_non_null(plugin_action_check(&a));	/* no kind */
	a.kind = MT_ACT_SET;
	assert_non_null(plugin_action_check(&a));	/* no knob */
	a.knob = "net.batch_size";
	assert_non_null(plugin_action_check(&a));	/* no reason */
	a.reason = "because";
	assert_null(plugin_action_check(&a));
	a.expect_dir = 2;
	assert_non_null(plugin_action_check(&a));
	a.expect_dir = -1;
	a.expect_metric = "net.rtt_ms";
	assert_non_null(plugin_action_check(&a));	/* no expect_stat */
	a.expect_stat = "p95";
	a.evidence = "[1]";
	assert_non_null(plugin_action_check(&a));
	a.evidence = "{\"x\":1}";
	assert_null(plugin_action_check(&a));
	a.reason = "two\nlines";
	assert_non_null(plugin_action_check(&a));
	assert_string_equal(plugin_event_name(PLUGIN_EV_REFUSED),
	    "plugin_refused");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_load_and_evaluate,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_instances, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disable_on_errors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_strikes_reset,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_disable_on_overrun,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_frozen_v1_0,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync, setup, teardown),
		cmocka_unit_test(test_config_and_actions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
