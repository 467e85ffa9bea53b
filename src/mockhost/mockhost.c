/*
 * mockhost.c -- libmeshtune-mockhost, a fake meshtune host for
 * unit-testing strategies; see include/meshtune/mockhost.h and
 * meshtune-mockhost(3).  Stats, knobs, config and time are scripted;
 * proposals and log lines are recorded as deep copies.
 *
 * The library is plugin_rules.c (the daemon's own configuration readers
 * and proposal check), xmalloc.c and this file, and exports only the
 * mock_host_* functions.  It carries its own fatal() and fatalx() for
 * xmalloc.c: in a test, out of memory or a misuse of the mock prints a
 * line and aborts, which cmocka reports as a failed test.
 */
#include <sys/types.h>

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "meshtuned.h"
#include "meshtune/mockhost.h"

struct mock_stat {
	char	*series;
	char	*stat;
	double	 value;
	int	 code;
};

struct mock_knob {
	char	*name;
	double	 value, min, max;
};

struct mock_call {
	const char	*fn;
	unsigned int	 calls;
	int		 fail;
};

struct mock_host {
	struct mt_host_api		 api;
	cJSON				*conf;
	char				*config;
	struct mock_stat		*stats;
	size_t				 nstats;
	struct mock_knob		*knobs;
	size_t				 nknobs;
	uint64_t			 now;
	struct mock_proposal		*props;
	size_t				 nprops;
	char				**logs;
	size_t				 nlogs;
	struct mock_call		 calls[7];
	int				 in_apply;
	const struct mt_strategy	*desc;
	void				*state;
	void				*dl;	/* from mock_host_load_file */
	char				 err[256];
};

static void	close_dl(struct mock_host *);
static int	load(struct mock_host *, mock_host_entry);

static const char *const mock_fns[] = {
	"log", "now_ms", "stat", "quantile", "knob", "propose", "config"
};

/* The ctx handed to strategies is the mock itself, opaque to them. */
static struct mock_host *
mh_of(struct mt_ctx *ctx)
{
	return (struct mock_host *)(void *)ctx;
}

static struct mock_call *
call(struct mock_host *mh, const char *fn)
{
	size_t	i;

	for (i = 0; i < nitems(mock_fns); i++)
		if (strcmp(mock_fns[i], fn) == 0)
			return &mh->calls[i];
	return NULL;
}

static void
mock_log(struct mt_ctx *ctx, int level, const char *fmt, ...)
    __printflike(3, 4);

static void
mock_log(struct mt_ctx *ctx, int level, const char *fmt, ...)
{
	struct mock_host	*mh = mh_of(ctx);
	char			 buf[1024], *line;
	va_list			 ap;

	call(mh, "log")->calls++;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	xasprintf(&line, "%d %s", level, buf);
	mh->logs = xreallocarray(mh->logs, mh->nlogs + 1, sizeof(*mh->logs));
	mh->logs[mh->nlogs++] = line;
}

static uint64_t
mock_now_ms(struct mt_ctx *ctx)
{
	struct mock_host	*mh = mh_of(ctx);

	call(mh, "now_ms")->calls++;
	return mh->now;
}

static int
lookup(struct mock_host *mh, const char *series, const char *stat,
    double *out)
{
	size_t	i;

	if (series == NULL || stat == NULL || out == NULL)
		return MT_EINVAL;
	for (i = 0; i < mh->nstats; i++) {
		if (strcmp(mh->stats[i].series, series) != 0)
			continue;
		if (strcmp(mh->stats[i].stat, stat) != 0)
			continue;
		if (mh->stats[i].code != MT_OK)
			return mh->stats[i].code;
		*out = mh->stats[i].value;
		return MT_OK;
	}
	/* Unknown series, or a series without this statistic. */
	return MT_ENOENT;
}

static int
mock_stat(struct mt_ctx *ctx, const char *series, const char *stat,
    double *out)
{
	struct mock_host	*mh = mh_of(ctx);
	struct mock_call	*c = call(mh, "stat");

	c->calls++;
	if (c->fail != MT_OK)
		return c->fail;
	return lookup(mh, series, stat, out);
}

static void
quantile_name(double q, char *buf, size_t len)
{
	static const struct {
		double		 q;
		const char	*name;
	} std[] = {
		{ 0.5, "p50" }, { 0.9, "p90" }, { 0.95, "p95" },
		{ 0.99, "p99" }, { 0.999, "p999" }
	};
	size_t	i;

	for (i = 0; i < nitems(std); i++)
		if (fabs(q - std[i].q) < 1e-9) {
			snprintf(buf, len, "%s", std[i].name);
			return;
		}
	snprintf(buf, len, "q%g", q);
}

static int
mock_quantile(struct mt_ctx *ctx, const char *series, double q, double *out)
{
	struct mock_host	*mh = mh_of(ctx);
	struct mock_call	*c = call(mh, "quantile");
	char			 name[32];

	c->calls++;
	if (c->fail != MT_OK)
		return c->fail;
	if (!(q >= 0 && q <= 1))
		return MT_EINVAL;
	quantile_name(q, name, sizeof(name));
	return lookup(mh, series, name, out);
}

static int
mock_knob(struct mt_ctx *ctx, const char *knob, double *value, double *min,
    double *max)
{
	struct mock_host	*mh = mh_of(ctx);
	struct mock_call	*c = call(mh, "knob");
	size_t			 i;

	c->calls++;
	if (c->fail != MT_OK)
		return c->fail;
	if (knob == NULL)
		return MT_EINVAL;
	for (i = 0; i < mh->nknobs; i++) {
		if (strcmp(mh->knobs[i].name, knob) != 0)
			continue;
		if (value != NULL)
			*value = mh->knobs[i].value;
		if (min != NULL)
			*min = mh->knobs[i].min;
		if (max != NULL)
			*max = mh->knobs[i].max;
		return MT_OK;
	}
	return MT_ENOENT;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

static int
mock_propose(struct mt_ctx *ctx, const struct mt_action *a)
{
	struct mock_host	*mh = mh_of(ctx);
	struct mock_call	*c = call(mh, "propose");
	struct mock_proposal	*p;
	struct mt_action	 copy;

	c->calls++;
	if (!mh->in_apply)
		return MT_EPERM;
	if (c->fail != MT_OK)
		return c->fail;
	if (a == NULL || a->size < offsetof(struct mt_action, reserved) +
	    sizeof(a->reserved))
		return MT_EINVAL;
	memset(&copy, 0, sizeof(copy));
	memcpy(&copy, a, a->size < sizeof(copy) ? a->size : sizeof(copy));
	if (plugin_action_check(&copy) != NULL)
		return MT_EINVAL;
	mh->props = xreallocarray(mh->props, mh->nprops + 1,
	    sizeof(*mh->props));
	p = &mh->props[mh->nprops++];
	p->kind = copy.kind;
	p->knob = xstrdup(copy.knob);
	p->value = copy.value;
	p->reason = xstrdup(copy.reason);
	p->evidence = dup_or_null(copy.evidence);
	p->expect_metric = dup_or_null(copy.expect_metric);
	p->expect_stat = dup_or_null(copy.expect_stat);
	p->expect_dir = copy.expect_dir;
	return MT_OK;
}

static int
mock_config_number(struct mt_ctx *ctx, const char *key, double *out)
{
	struct mock_host	*mh = mh_of(ctx);

	call(mh, "config")->calls++;
	if (out == NULL)
		return MT_EINVAL;
	return plugin_config_number(mh->conf, key, out);
}

static int
mock_config_string(struct mt_ctx *ctx, const char *key, char *buf,
    size_t len)
{
	struct mock_host	*mh = mh_of(ctx);

	call(mh, "config")->calls++;
	return plugin_config_string(mh->conf, key, buf, len);
}

/* A new mock host with config "{}", no series, no knobs, time 1000 ms. */
struct mock_host *
mock_host_new(void)
{
	struct mock_host	*mh;
	size_t			 i;

	mh = xcalloc(1, sizeof(*mh));
	mh->api.abi_major = MT_ABI_MAJOR;
	mh->api.abi_minor = MT_ABI_MINOR;
	mh->api.size = sizeof(mh->api);
	mh->api.log = mock_log;
	mh->api.now_ms = mock_now_ms;
	mh->api.stat = mock_stat;
	mh->api.quantile = mock_quantile;
	mh->api.knob = mock_knob;
	mh->api.propose = mock_propose;
	mh->api.config_number = mock_config_number;
	mh->api.config_string = mock_config_string;
	for (i = 0; i < nitems(mock_fns); i++)
		mh->calls[i].fn = mock_fns[i];
	mh->now = 1000;
	if (mock_host_set_config(mh, "{}") == -1)
		fatalx("mock_host_new: config");
	return mh;
}

/* Unload the strategy if loaded and free everything. */
void
mock_host_free(struct mock_host *mh)
{
	size_t	i;

	if (mh == NULL)
		return;
	mock_host_unload(mh);
	close_dl(mh);
	mock_host_clear_stats(mh);
	for (i = 0; i < mh->nknobs; i++)
		free(mh->knobs[i].name);
	free(mh->knobs);
	mock_host_clear_proposals(mh);
	free(mh->props);
	for (i = 0; i < mh->nlogs; i++)
		free(mh->logs[i]);
	free(mh->logs);
	cJSON_Delete(mh->conf);
	free(mh->config);
	free(mh);
}

const struct mt_host_api *
mock_host_api(struct mock_host *mh)
{
	return &mh->api;
}

struct mt_ctx *
mock_host_ctx(struct mock_host *mh)
{
	return (struct mt_ctx *)(void *)mh;
}

/* Replace the config served to init and config_*; -1 if not an object. */
int
mock_host_set_config(struct mock_host *mh, const char *json)
{
	cJSON	*c;

	if ((c = cJSON_Parse(json)) == NULL || !cJSON_IsObject(c)) {
		cJSON_Delete(c);
		return -1;
	}
	cJSON_Delete(mh->conf);
	free(mh->config);
	mh->conf = c;
	mh->config = xstrdup(json);
	return 0;
}

static void
put_stat(struct mock_host *mh, const char *series, const char *stat,
    double value, int code)
{
	size_t	i;

	for (i = 0; i < mh->nstats; i++)
		if (strcmp(mh->stats[i].series, series) == 0 &&
		    strcmp(mh->stats[i].stat, stat) == 0)
			break;
	if (i == mh->nstats) {
		mh->stats = xreallocarray(mh->stats, mh->nstats + 1,
		    sizeof(*mh->stats));
		mh->stats[i].series = xstrdup(series);
		mh->stats[i].stat = xstrdup(stat);
		mh->nstats++;
	}
	mh->stats[i].value = value;
	mh->stats[i].code = code;
}

/* Serve value for (series, stat); "p95" etc. also answer quantile(). */
void
mock_host_set_stat(struct mock_host *mh, const char *series,
    const char *stat, double value)
{
	put_stat(mh, series, stat, value, MT_OK);
}

/* Make (series, stat) answer code, e.g. MT_ENODATA. */
void
mock_host_set_stat_code(struct mock_host *mh, const char *series,
    const char *stat, int code)
{
	put_stat(mh, series, stat, 0, code);
}

/* Serve value for quantile(series, q) (also stat "p95" for q 0.95). */
void
mock_host_set_quantile(struct mock_host *mh, const char *series, double q,
    double value)
{
	char	name[32];

	quantile_name(q, name, sizeof(name));
	put_stat(mh, series, name, value, MT_OK);
}

/* Forget every scripted series. */
void
mock_host_clear_stats(struct mock_host *mh)
{
	size_t	i;

	for (i = 0; i < mh->nstats; i++) {
		free(mh->stats[i].series);
		free(mh->stats[i].stat);
	}
	free(mh->stats);
	mh->stats = NULL;
	mh->nstats = 0;
}

/* Define or change a knob. */
void
mock_host_set_knob(struct mock_host *mh, const char *name, double value,
    double min, double max)
{
	size_t	i;

	for (i = 0; i < mh->nknobs; i++)
		if (strcmp(mh->knobs[i].name, name) == 0)
			break;
	if (i == mh->nknobs) {
		mh->knobs = xreallocarray(mh->knobs, mh->nknobs + 1,
		    sizeof(*mh->knobs));
		mh->knobs[i].name = xstrdup(name);
		mh->nknobs++;
	}
	mh->knobs[i].value = value;
	mh->knobs[i].min = min;
	mh->knobs[i].max = max;
}

void
mock_host_set_now(struct mock_host *mh, uint64_t ms)
{
	mh->now = ms;
}

void
mock_host_advance(struct mock_host *mh, uint64_t ms)
{
	mh->now += ms;
}

void
mock_host_fail(struct mock_host *mh, const char *fn, int code)
{
	struct mock_call	*c;

	if ((c = call(mh, fn)) == NULL)
		fatalx("mock_host_fail: unknown function %s", fn);
	c->fail = code;
}

static void
close_dl(struct mock_host *mh)
{
	if (mh->dl != NULL)
		dlclose(mh->dl);
	mh->dl = NULL;
}

/*
 * Call entry, check the descriptor like the loader's basic checks, and
 * run init with the scripted config.  Returns init's result, or MT_ERR
 * if entry or the descriptor is unusable (mock_host_init_error says
 * why).
 */
int
mock_host_load(struct mock_host *mh, mock_host_entry entry)
{
	mock_host_unload(mh);
	close_dl(mh);
	return load(mh, entry);
}

/*
 * dlopen a strategy's shared object, as the daemon does (RTLD_NOW,
 * RTLD_LOCAL), and load it through its meshtune_strategy_v1.  MT_ERR if
 * it cannot be opened or lacks the symbol, else as mock_host_load().
 */
int
mock_host_load_file(struct mock_host *mh, const char *path)
{
	mock_host_entry	 entry;
	void		*sym;

	mock_host_unload(mh);
	close_dl(mh);
	mh->err[0] = '\0';
	if (path == NULL || (mh->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) ==
	    NULL) {
		snprintf(mh->err, sizeof(mh->err), "cannot load %s: %s",
		    path != NULL ? path : "(null)", dlerror());
		return MT_ERR;
	}
	if ((sym = dlsym(mh->dl, MT_ENTRY)) == NULL) {
		snprintf(mh->err, sizeof(mh->err), "%s: no symbol %s", path,
		    MT_ENTRY);
		close_dl(mh);
		return MT_ERR;
	}
	/* POSIX: a data pointer from dlsym converts to a function pointer. */
	memcpy(&entry, &sym, sizeof(entry));
	return load(mh, entry);
}

static int
load(struct mock_host *mh, mock_host_entry entry)
{
	const struct mt_strategy	*d;
	int				 r;

	mh->err[0] = '\0';
	if ((d = entry(&mh->api)) == NULL) {
		snprintf(mh->err, sizeof(mh->err), "entry returned NULL");
		return MT_ERR;
	}
	if (d->abi_major != MT_ABI_MAJOR ||
	    d->size < offsetof(struct mt_strategy, destroy) +
	    sizeof(d->destroy) ||
	    d->name == NULL || d->init == NULL || d->should_apply == NULL ||
	    d->apply == NULL) {
		snprintf(mh->err, sizeof(mh->err), "bad descriptor");
		return MT_ERR;
	}
	r = d->init(&mh->api, mock_host_ctx(mh), mh->config, &mh->state,
	    mh->err, sizeof(mh->err));
	mh->err[sizeof(mh->err) - 1] = '\0';
	if (r == MT_OK)
		mh->desc = d;
	else
		mh->state = NULL;
	return r;
}

/* The message init left in err after a failed mock_host_load. */
const char *
mock_host_init_error(struct mock_host *mh)
{
	return mh->err;
}

/*
 * One evaluation: should_apply, then apply if it returned > 0.  Returns
 * should_apply's result; *applyp (may be NULL) gets apply's result, or
 * MT_NOOP if apply did not run.
 */
int
mock_host_eval(struct mock_host *mh, int *applyp)
{
	int	rs, ra = MT_NOOP;

	if (mh->desc == NULL)
		fatalx("mock_host_eval: no strategy loaded");
	rs = mh->desc->should_apply(mh->state, mock_host_ctx(mh));
	if (rs > 0) {
		mh->in_apply = 1;
		ra = mh->desc->apply(mh->state, mock_host_ctx(mh));
		mh->in_apply = 0;
	}
	if (applyp != NULL)
		*applyp = ra;
	return rs;
}

/* destroy the loaded strategy's state, if any. */
void
mock_host_unload(struct mock_host *mh)
{
	if (mh->desc != NULL && mh->desc->destroy != NULL)
		mh->desc->destroy(mh->state);
	mh->desc = NULL;
	mh->state = NULL;
}

void *
mock_host_state(struct mock_host *mh)
{
	return mh->state;
}

size_t
mock_host_nproposals(struct mock_host *mh)
{
	return mh->nprops;
}

/* The i-th proposal since the last clear, or NULL. */
const struct mock_proposal *
mock_host_proposal(struct mock_host *mh, size_t i)
{
	return i < mh->nprops ? &mh->props[i] : NULL;
}

void
mock_host_clear_proposals(struct mock_host *mh)
{
	size_t	i;

	for (i = 0; i < mh->nprops; i++) {
		free(mh->props[i].knob);
		free(mh->props[i].reason);
		free(mh->props[i].evidence);
		free(mh->props[i].expect_metric);
		free(mh->props[i].expect_stat);
	}
	mh->nprops = 0;
}

size_t
mock_host_nlogs(struct mock_host *mh)
{
	return mh->nlogs;
}

/* The i-th log line as "LEVEL text", or NULL. */
const char *
mock_host_log_line(struct mock_host *mh, size_t i)
{
	return i < mh->nlogs ? mh->logs[i] : NULL;
}

/* How often host function fn was called ("config" counts both). */
unsigned int
mock_host_calls(struct mock_host *mh, const char *fn)
{
	struct mock_call	*c;

	return (c = call(mh, fn)) != NULL ? c->calls : 0;
}

/* xmalloc.c's fatal errors, in a test: say why and abort. */
__dead void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	fprintf(stderr, "mock host: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(saved));
	abort();
}

__dead void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "mock host: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}
