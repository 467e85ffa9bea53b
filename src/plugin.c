/*
 * plugin.c -- the strategy loader: dlopen, descriptor checks, instance
 * lifecycle, timed evaluation, disabling after repeated failure.
 *
 * Every refusal is one log line naming the instance, the file, the reason
 * and both ABI versions, and the same text goes to the daemon's event
 * callback (an `events` row in the audit log); the set of instances is left
 * exactly as it was, so the daemon keeps running with the others.
 *
 * The host table a plugin sees is built here from the daemon's functions
 * (series statistics, knobs, propose) plus plugin.c's own log, config
 * readers and a propose wrapper that validates, counts and copies, so the
 * loader runs the same against the daemon and against a test mock.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "meshtune/strategy.h"
#include "meshtuned.h"

/* The smallest descriptor and action the 1.0 ABI allows. */
#define STRATEGY_V1_0_SIZE						\
	(offsetof(struct mt_strategy, destroy) + sizeof(void (*)(void *)))
#define ACTION_V1_0_SIZE						\
	(offsetof(struct mt_action, reserved) + sizeof(int32_t))

#define NAME_MAX_LEN	64	/* instance and descriptor names */
#define ERRBUF_LEN	256

enum phase { PHASE_IDLE, PHASE_INIT, PHASE_SHOULD, PHASE_APPLY };

/* The host side of the opaque struct mt_ctx: one per instance. */
struct mt_ctx {
	struct plugin_inst	*inst;
	void			*udata;		/* the daemon's glue */
	void			*tick;		/* the snapshot being evaluated */
	enum phase		 phase;
	unsigned int		 nproposed;	/* in this evaluation */
};

struct plugin_inst {
	struct plugin_set		*set;
	struct mt_ctx			 ctx;
	char				*name;
	char				*module;
	char				*path;
	char				*config;
	cJSON				*conf;
	void				*handle;
	const struct mt_strategy	*desc;
	void				*state;
	char				 sha256[SHA256_HEXLEN];
	int				 enabled;
	const char			*disabled_reason;
	unsigned int			 strikes;
	int				 evaluated;
	uint64_t			 last_eval_ms;
	uint64_t			 evaluations;
	uint64_t			 applies;
	uint64_t			 proposals;
	uint64_t			 errors;
	uint64_t			 overruns;
	uint64_t			 last_us;
	uint64_t			 max_us;
	uint64_t			 budget_us;	/* 0: the set's */
	unsigned int			 max_strikes;	/* 0: the set's */
};

struct plugin_set {
	char			*dir;
	struct mt_host_api	 daemon;	/* the daemon's functions */
	struct mt_host_api	 api;		/* what plugins see */
	void			*udata;
	uint64_t		 budget_us;
	unsigned int		 max_strikes;
	plugin_event_fn		 event_fn;
	void			*event_arg;
	struct plugin_inst	**inst;
	size_t			 ninst;
};

/* What is known about a load attempt, for the refusal message. */
struct loadinfo {
	const char	*name;
	const char	*module;
	const char	*path;
	const char	*sha256;
	int		 pmajor;
	int		 pminor;
};

static void	host_log(struct mt_ctx *, int, const char *, ...)
		    __printflike(3, 4);
static uint64_t	host_now_ms(struct mt_ctx *);
static int	host_propose(struct mt_ctx *, const struct mt_action *);
static int	host_config_number(struct mt_ctx *, const char *, double *);
static int	host_config_string(struct mt_ctx *, const char *, char *,
		    size_t);
static int	refuse(struct plugin_set *, const struct loadinfo *,
		    const char *, const char *, ...) __printflike(4, 5);

static void
emit(struct plugin_set *ps, enum plugin_event_type type,
    const struct loadinfo *li, const char *reason, const char *message)
{
	struct plugin_event	ev;

	if (ps->event_fn == NULL)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.instance = li->name;
	ev.module = li->module;
	ev.path = li->path;
	ev.reason = reason;
	ev.message = message;
	ev.sha256 = li->sha256;
	ev.plugin_abi_major = li->pmajor;
	ev.plugin_abi_minor = li->pminor;
	ev.host_abi_major = MT_ABI_MAJOR;
	ev.host_abi_minor = MT_ABI_MINOR;
	ps->event_fn(&ev, ps->event_arg);
}

/* Replace control characters so plugin text cannot forge log lines. */
static void
sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/*
 * Log and report a refused load; returns -1 so callers can
 * "return refuse(...)".
 */
static int
refuse(struct plugin_set *ps, const struct loadinfo *li, const char *reason,
    const char *fmt, ...)
{
	char	 detail[512], pabi[32], *msg;
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	sanitize(detail);
	if (li->pmajor >= 0)
		snprintf(pabi, sizeof(pabi), "%d.%d", li->pmajor, li->pminor);
	else
		snprintf(pabi, sizeof(pabi), "unknown");
	xasprintf(&msg, "plugin: strategy \"%s\" refused: file %s: %s: %s "
	    "(host ABI %d.%d, plugin ABI %s)",
	    li->name != NULL ? li->name : "",
	    li->path != NULL ? li->path :
	    (li->module != NULL ? li->module : "(none)"),
	    reason, detail, MT_ABI_MAJOR, MT_ABI_MINOR, pabi);
	log_warnx("%s", msg);
	emit(ps, PLUGIN_EV_REFUSED, li, reason, msg);
	free(msg);
	return -1;
}

/* Names of instances and descriptors: [A-Za-z0-9_.-]{1,64}. */
static int
name_ok(const char *s)
{
	size_t	n;

	if (s == NULL || *s == '\0')
		return 0;
	for (n = 0; s[n] != '\0'; n++) {
		if (n >= NAME_MAX_LEN)
			return 0;
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= 'A' && s[n] <= 'Z') ||
		    (s[n] >= '0' && s[n] <= '9') ||
		    s[n] == '_' || s[n] == '.' || s[n] == '-'))
			return 0;
	}
	return 1;
}

static int
owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/*
 * Create an empty set of strategy instances.  opts is copied (dir too);
 * the host table it points to is copied.  Never fails (dies on OOM).
 */
struct plugin_set *
plugin_set_new(const struct plugin_opts *opts)
{
	struct plugin_set	*ps;

	ps = xcalloc(1, sizeof(*ps));
	ps->dir = xstrdup(opts->dir != NULL ? opts->dir : MT_PLUGINDIR);
	if (opts->host != NULL)
		ps->daemon = *opts->host;
	ps->udata = opts->udata;
	ps->event_fn = opts->event_fn;
	ps->event_arg = opts->event_arg;
	plugin_set_limits(ps, opts->budget_us, opts->max_strikes);

	ps->api.abi_major = MT_ABI_MAJOR;
	ps->api.abi_minor = MT_ABI_MINOR;
	ps->api.size = sizeof(ps->api);
	ps->api.log = host_log;
	ps->api.now_ms = host_now_ms;
	ps->api.stat = ps->daemon.stat;
	ps->api.quantile = ps->daemon.quantile;
	ps->api.knob = ps->daemon.knob;
	ps->api.propose = host_propose;
	ps->api.config_number = host_config_number;
	ps->api.config_string = host_config_string;
	return ps;
}

/* Set the evaluation budget and strikes; 0 picks the default. */
void
plugin_set_limits(struct plugin_set *ps, uint64_t budget_us,
    unsigned int max_strikes)
{
	ps->budget_us = budget_us != 0 ? budget_us : PLUGIN_BUDGET_US;
	ps->max_strikes = max_strikes != 0 ? max_strikes : PLUGIN_MAX_STRIKES;
}

static void
inst_free(struct plugin_inst *pi)
{
	if (pi == NULL)
		return;
	if (pi->handle != NULL && dlclose(pi->handle) != 0)
		log_warnx("plugin: dlclose %s: %s", pi->path, dlerror());
	cJSON_Delete(pi->conf);
	free(pi->name);
	free(pi->module);
	free(pi->path);
	free(pi->config);
	free(pi);
}

/* Check plugin_dir: a directory, owned by root or us, not g/o-writable. */
static int
check_dir(struct plugin_set *ps, const struct loadinfo *li)
{
	struct stat	st;

	if (stat(ps->dir, &st) == -1)
		return refuse(ps, li, "missing_dir", "plugin_dir %s: %s",
		    ps->dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return refuse(ps, li, "missing_dir",
		    "plugin_dir %s is not a directory", ps->dir);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return refuse(ps, li, "dir_writable", "directory %s is "
		    "writable by group or others (mode %04o)", ps->dir,
		    (unsigned int)(st.st_mode & 07777));
	if (!owner_ok(st.st_uid))
		return refuse(ps, li, "dir_owner", "directory %s is owned by "
		    "uid %u, not root or uid %u", ps->dir,
		    (unsigned int)st.st_uid, (unsigned int)geteuid());
	return 0;
}

/*
 * Check the module file and digest it.  On success *fdp is an open
 * descriptor of the very file checked and hex holds its sha256.
 */
static int
check_file(struct plugin_set *ps, const struct loadinfo *li, int *fdp,
    struct stat *fst, char hex[SHA256_HEXLEN])
{
	struct stat	lst;
	int		fd;

	if (lstat(li->path, &lst) == -1)
		return refuse(ps, li, errno == ENOENT ? "missing_file" :
		    "stat", "%s", strerror(errno));
	if (S_ISLNK(lst.st_mode))
		return refuse(ps, li, "symlink", "is a symbolic link");
	if (!S_ISREG(lst.st_mode))
		return refuse(ps, li, "not_regular", "is not a regular file");
	if (lst.st_mode & (S_IWGRP | S_IWOTH))
		return refuse(ps, li, "writable", "is writable by group or "
		    "others (mode %04o)", (unsigned int)(lst.st_mode & 07777));
	if (!owner_ok(lst.st_uid))
		return refuse(ps, li, "owner", "is owned by uid %u, not root "
		    "or uid %u", (unsigned int)lst.st_uid,
		    (unsigned int)geteuid());
	if ((fd = open(li->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return refuse(ps, li, "open", "open: %s", strerror(errno));
	if (fstat(fd, fst) == -1 || fst->st_dev != lst.st_dev ||
	    fst->st_ino != lst.st_ino) {
		close(fd);
		return refuse(ps, li, "changed", "file changed while checked");
	}
	if (sha256_fd(fd, hex) == -1) {
		refuse(ps, li, "read", "read: %s", strerror(errno));
		close(fd);
		return -1;
	}
	*fdp = fd;
	return 0;
}

/* Check a descriptor before trusting any other field of it. */
static int
check_desc(struct plugin_set *ps, struct loadinfo *li,
    const struct mt_strategy *d)
{
	li->pmajor = (int)d->abi_major;
	li->pminor = (int)d->abi_minor;
	if (d->abi_major != MT_ABI_MAJOR)
		return refuse(ps, li, "abi_major", "built for ABI major %u, "
		    "this host speaks %u", d->abi_major, MT_ABI_MAJOR);
	if (d->size < STRATEGY_V1_0_SIZE)
		return refuse(ps, li, "short_struct", "descriptor size %u is "
		    "smaller than the %zu bytes of ABI 1.0", d->size,
		    (size_t)STRATEGY_V1_0_SIZE);
	if (!name_ok(d->name))
		return refuse(ps, li, "no_name", "descriptor has no valid name "
		    "(1 to %d of [A-Za-z0-9_.-])", NAME_MAX_LEN);
	if (d->init == NULL || d->should_apply == NULL || d->apply == NULL)
		return refuse(ps, li, "no_callbacks", "descriptor lacks%s%s%s",
		    d->init == NULL ? " init" : "",
		    d->should_apply == NULL ? " should_apply" : "",
		    d->apply == NULL ? " apply" : "");
	return 0;
}

/*
 * Load module (a file name in plugin_dir) as instance name with config
 * (JSON object text; NULL means "{}"), check it and call its init.
 * Returns 0 and reports PLUGIN_EV_LOADED, or -1 after logging and
 * reporting PLUGIN_EV_REFUSED; a refusal leaves the set unchanged.
 */
int
plugin_load(struct plugin_set *ps, const char *name, const char *module,
    const char *config)
{
	struct loadinfo			 li;
	struct plugin_inst		*pi = NULL, *other;
	struct stat			 fst, st2;
	const struct mt_strategy	*desc;
	mt_entry_fn			 entry;
	char				 hex[SHA256_HEXLEN], err[ERRBUF_LEN];
	char				*path = NULL, *msg;
	void				*handle = NULL, *sym;
	int				 fd = -1, rv = -1, r;
	size_t				 i;

	memset(&li, 0, sizeof(li));
	li.name = name;
	li.module = module;
	li.pmajor = li.pminor = -1;
	if (config == NULL)
		config = "{}";

	if (module == NULL || *module == '\0' || strchr(module, '/') != NULL ||
	    strcmp(module, ".") == 0 || strcmp(module, "..") == 0) {
		refuse(ps, &li, "bad_module", "module must be a file name in "
		    "plugin_dir, without '/'");
		goto out;
	}
	xasprintf(&path, "%s/%s", ps->dir, module);
	li.path = path;
	if (!name_ok(name)) {
		refuse(ps, &li, "bad_name", "instance name must be 1 to %d "
		    "of [A-Za-z0-9_.-]", NAME_MAX_LEN);
		goto out;
	}
	if (plugin_find(ps, name) != NULL) {
		refuse(ps, &li, "duplicate", "an instance named \"%s\" is "
		    "already loaded", name);
		goto out;
	}
	if (check_dir(ps, &li) == -1 ||
	    check_file(ps, &li, &fd, &fst, hex) == -1)
		goto out;
	li.sha256 = hex;
	for (i = 0; i < ps->ninst; i++) {
		other = ps->inst[i];
		if (strcmp(other->path, path) == 0 &&
		    strcmp(other->sha256, hex) != 0) {
			/* dlopen would hand back the old code by name. */
			refuse(ps, &li, "changed", "file changed since instance "
			    "\"%s\" loaded it; reload all its instances",
			    other->name);
			goto out;
		}
	}

	dlerror();
	if ((handle = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		refuse(ps, &li, "dlopen", "%s", dlerror());
		goto out;
	}
	if (stat(path, &st2) == -1 || st2.st_dev != fst.st_dev ||
	    st2.st_ino != fst.st_ino) {
		refuse(ps, &li, "changed", "file replaced while loading");
		goto out;
	}
	dlerror();
	if ((sym = dlsym(handle, MT_ENTRY)) == NULL) {
		refuse(ps, &li, "no_symbol", "no symbol %s", MT_ENTRY);
		goto out;
	}
	/* POSIX guarantees function pointers survive this round trip. */
	memcpy(&entry, &sym, sizeof(entry));
	if ((desc = entry(&ps->api)) == NULL) {
		refuse(ps, &li, "entry_refused", "%s returned NULL (plugin "
		    "refuses this host)", MT_ENTRY);
		goto out;
	}
	if (check_desc(ps, &li, desc) == -1)
		goto out;

	pi = xcalloc(1, sizeof(*pi));
	pi->set = ps;
	pi->ctx.inst = pi;
	pi->ctx.udata = ps->udata;
	pi->name = xstrdup(name);
	pi->module = xstrdup(module);
	pi->path = path;
	path = NULL;
	pi->config = xstrdup(config);
	pi->desc = desc;
	memcpy(pi->sha256, hex, sizeof(pi->sha256));
	if ((pi->conf = cJSON_Parse(config)) == NULL ||
	    !cJSON_IsObject(pi->conf)) {
		refuse(ps, &li, "bad_config", "config is not a JSON object");
		goto out;
	}

	err[0] = '\0';
	pi->ctx.phase = PHASE_INIT;
	r = desc->init(&ps->api, &pi->ctx, pi->config, &pi->state, err,
	    sizeof(err));
	pi->ctx.phase = PHASE_IDLE;
	if (r != MT_OK) {
		err[sizeof(err) - 1] = '\0';
		refuse(ps, &li, "init_failed", "init returned %d: %s", r,
		    err[0] != '\0' ? err : "(no message)");
		goto out;
	}

	pi->handle = handle;
	handle = NULL;
	pi->enabled = 1;
	ps->inst = xreallocarray(ps->inst, ps->ninst + 1, sizeof(*ps->inst));
	ps->inst[ps->ninst++] = pi;
	xasprintf(&msg, "plugin: strategy \"%s\" loaded: file %s, %s %s, "
	    "ABI %u.%u (host %d.%d), sha256 %s", pi->name, pi->path,
	    desc->name, desc->version != NULL ? desc->version : "-",
	    desc->abi_major, desc->abi_minor, MT_ABI_MAJOR, MT_ABI_MINOR,
	    pi->sha256);
	sanitize(msg);
	log_info("%s", msg);
	li.path = pi->path;
	emit(ps, PLUGIN_EV_LOADED, &li, "loaded", msg);
	free(msg);
	pi = NULL;
	rv = 0;
out:
	if (fd != -1)
		close(fd);
	if (pi != NULL) {
		pi->handle = handle;	/* inst_free closes it */
		handle = NULL;
		inst_free(pi);
	}
	if (handle != NULL && dlclose(handle) != 0)
		log_warnx("plugin: dlclose %s: %s", li.path, dlerror());
	free(path);
	return rv;
}

static void
inst_unload(struct plugin_inst *pi, const char *why)
{
	struct plugin_set	*ps = pi->set;
	struct loadinfo		 li;
	char			*msg;

	if (pi->desc->destroy != NULL)
		pi->desc->destroy(pi->state);
	pi->state = NULL;
	memset(&li, 0, sizeof(li));
	li.name = pi->name;
	li.module = pi->module;
	li.path = pi->path;
	li.sha256 = pi->sha256;
	li.pmajor = (int)pi->desc->abi_major;
	li.pminor = (int)pi->desc->abi_minor;
	xasprintf(&msg, "plugin: strategy \"%s\" unloaded (%s): file %s",
	    pi->name, why, pi->path);
	log_info("%s", msg);
	emit(ps, PLUGIN_EV_UNLOADED, &li, why, msg);
	free(msg);
	inst_free(pi);
}

static size_t
find_index(const struct plugin_set *ps, const char *name)
{
	size_t	i;

	for (i = 0; i < ps->ninst; i++)
		if (strcmp(ps->inst[i]->name, name) == 0)
			return i;
	return ps->ninst;
}

static int
unload_why(struct plugin_set *ps, const char *name, const char *why)
{
	size_t	i;

	if (name == NULL || (i = find_index(ps, name)) == ps->ninst)
		return -1;
	inst_unload(ps->inst[i], why);
	memmove(&ps->inst[i], &ps->inst[i + 1],
	    (ps->ninst - i - 1) * sizeof(*ps->inst));
	ps->ninst--;
	return 0;
}

/*
 * Unload the instance called name: destroy its state and drop its
 * reference on the module.  Returns 0, or -1 if there is no such
 * instance.  Must not be called from inside a plugin callback.
 */
int
plugin_unload(struct plugin_set *ps, const char *name)
{
	return unload_why(ps, name, "unload");
}

/*
 * Unload and load again the instance called name, with the same module
 * and config: fresh state, counters and strikes, so a disabled instance
 * runs again.  Returns plugin_load's result, or -1 if there is no such
 * instance; if the load is refused the instance is gone.
 */
int
plugin_reload(struct plugin_set *ps, const char *name)
{
	struct plugin_inst	*pi;
	char			*n, *m, *c;
	int			 rv;

	if (name == NULL || (pi = plugin_find(ps, name)) == NULL)
		return -1;
	n = xstrdup(pi->name);
	m = xstrdup(pi->module);
	c = xstrdup(pi->config);
	unload_why(ps, n, "reload");
	rv = plugin_load(ps, n, m, c);
	free(n);
	free(m);
	free(c);
	return rv;
}

static const struct plugin_spec *
spec_find(const struct plugin_spec *specs, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (specs[i].name != NULL && strcmp(specs[i].name, name) == 0)
			return &specs[i];
	return NULL;
}

/* Has the file behind pi changed since it was loaded? */
static int
file_changed(const struct plugin_inst *pi)
{
	char	hex[SHA256_HEXLEN];
	int	fd, r;

	if ((fd = open(pi->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 1;
	r = sha256_fd(fd, hex);
	close(fd);
	return r == -1 || strcmp(hex, pi->sha256) != 0;
}

/*
 * Make the set match the configured list (SIGHUP): unload instances no
 * longer listed, reload those whose module, config or file changed or
 * that are disabled, load new ones, keep the rest untouched (their state
 * and counters survive).  Afterwards instances are in list order.  Returns
 * the number of entries refused (each already logged and reported).
 */
int
plugin_sync(struct plugin_set *ps, const struct plugin_spec *specs, size_t n)
{
	const struct plugin_spec	*sp;
	struct plugin_inst		*pi, *tmp;
	char				**gone;
	size_t				 i, j, k, ngone = 0;
	int				 refused = 0;

	/* Collect names first: unloading changes the array. */
	gone = xreallocarray(NULL, ps->ninst + 1, sizeof(*gone));
	for (i = 0; i < ps->ninst; i++) {
		pi = ps->inst[i];
		sp = spec_find(specs, n, pi->name);
		if (sp == NULL || sp->module == NULL ||
		    strcmp(sp->module, pi->module) != 0 ||
		    strcmp(sp->config != NULL ? sp->config : "{}",
		    pi->config) != 0 || !pi->enabled || file_changed(pi))
			gone[ngone++] = xstrdup(pi->name);
	}
	/* A changed file takes every instance of it along (see load). */
	for (i = 0; i < ngone; i++) {
		if ((pi = plugin_find(ps, gone[i])) == NULL ||
		    !file_changed(pi))
			continue;
		for (j = 0; j < ps->ninst; j++) {
			tmp = ps->inst[j];
			if (strcmp(tmp->path, pi->path) != 0)
				continue;
			for (k = 0; k < ngone; k++)
				if (strcmp(gone[k], tmp->name) == 0)
					break;
			if (k == ngone) {
				gone = xreallocarray(gone, ngone + 1,
				    sizeof(*gone));
				gone[ngone++] = xstrdup(tmp->name);
			}
		}
	}
	for (i = 0; i < ngone; i++) {
		unload_why(ps, gone[i], spec_find(specs, n, gone[i]) != NULL ?
		    "reload" : "removed");
		free(gone[i]);
	}
	free(gone);

	for (i = 0; i < n; i++) {
		if (specs[i].name != NULL &&
		    plugin_find(ps, specs[i].name) != NULL)
			continue;
		if (plugin_load(ps, specs[i].name, specs[i].module,
		    specs[i].config) == -1)
			refused++;
	}
	/* List order: stable, the governor may rely on it for ties. */
	for (i = 0, k = 0; i < n; i++) {
		if (specs[i].name == NULL ||
		    (j = find_index(ps, specs[i].name)) == ps->ninst || j < k)
			continue;
		tmp = ps->inst[j];
		memmove(&ps->inst[k + 1], &ps->inst[k],
		    (j - k) * sizeof(*ps->inst));
		ps->inst[k++] = tmp;
	}
	return refused;
}

/* Unload every instance and free the set.  NULL is a no-op. */
void
plugin_set_free(struct plugin_set *ps)
{
	if (ps == NULL)
		return;
	while (ps->ninst > 0)
		unload_why(ps, ps->inst[ps->ninst - 1]->name, "shutdown");
	free(ps->inst);
	free(ps->dir);
	free(ps);
}

/* Number of loaded instances, enabled or not. */
size_t
plugin_count(const struct plugin_set *ps)
{
	return ps->ninst;
}

/* The i-th instance, or NULL past the end.  Valid until the set changes. */
struct plugin_inst *
plugin_at(struct plugin_set *ps, size_t i)
{
	return i < ps->ninst ? ps->inst[i] : NULL;
}

/* The instance called name, or NULL. */
struct plugin_inst *
plugin_find(struct plugin_set *ps, const char *name)
{
	size_t	i;

	if (name == NULL || (i = find_index(ps, name)) == ps->ninst)
		return NULL;
	return ps->inst[i];
}

static void
inst_disable(struct plugin_inst *pi, const char *reason, const char *last)
{
	struct loadinfo	 li;
	char		*msg;

	pi->enabled = 0;
	pi->disabled_reason = reason;
	memset(&li, 0, sizeof(li));
	li.name = pi->name;
	li.module = pi->module;
	li.path = pi->path;
	li.sha256 = pi->sha256;
	li.pmajor = (int)pi->desc->abi_major;
	li.pminor = (int)pi->desc->abi_minor;
	xasprintf(&msg, "plugin: strategy \"%s\" disabled: file %s: %s: %u "
	    "failures in a row, last: %s; reload to enable", pi->name,
	    pi->path, reason, pi->strikes, last);
	log_warnx("%s", msg);
	emit(pi->set, PLUGIN_EV_DISABLED, &li, reason, msg);
	free(msg);
}

/*
 * Evaluate one instance on the current tick: should_apply, then apply if
 * it said yes.  tick is the snapshot (plugin_ctx_tick() returns it to the
 * host functions during the calls); now_ms paces instances with a
 * period_ms.  Both calls are timed together against the budget; an
 * error (negative return) or an overrun is a strike, and max_strikes in a
 * row disable the instance (logged, PLUGIN_EV_DISABLED).  Returns 1 if
 * apply ran and returned MT_OK, 0 if the instance was quiet, skipped or
 * disabled, -1 on a strike.
 */
int
plugin_eval(struct plugin_inst *pi, void *tick, uint64_t now_ms)
{
	struct plugin_set		*ps = pi->set;
	const struct mt_strategy	*d = pi->desc;
	uint64_t			 t0, t1, budget_us;
	unsigned int			 max_strikes;
	int				 rs, ra = MT_NOOP, failed;
	char				 last[128];

	if (!pi->enabled || pi->ctx.phase != PHASE_IDLE)
		return 0;
	if (d->period_ms != 0 && pi->evaluated &&
	    now_ms - pi->last_eval_ms < d->period_ms)
		return 0;
	pi->evaluated = 1;
	pi->last_eval_ms = now_ms;
	pi->evaluations++;
	pi->ctx.tick = tick;
	pi->ctx.nproposed = 0;

	t0 = clock_mono_us();
	pi->ctx.phase = PHASE_SHOULD;
	rs = d->should_apply(pi->state, &pi->ctx);
	if (rs > 0) {
		pi->applies++;
		pi->ctx.phase = PHASE_APPLY;
		ra = d->apply(pi->state, &pi->ctx);
	}
	t1 = clock_mono_us();
	pi->ctx.phase = PHASE_IDLE;
	pi->ctx.tick = NULL;

	pi->last_us = t1 - t0;
	if (pi->last_us > pi->max_us)
		pi->max_us = pi->last_us;
	budget_us = pi->budget_us != 0 ? pi->budget_us : ps->budget_us;
	max_strikes = pi->max_strikes != 0 ? pi->max_strikes : ps->max_strikes;
	failed = rs < 0 || ra < 0;
	if (!failed && pi->last_us <= budget_us) {
		pi->strikes = 0;
		return rs > 0 && ra == MT_OK;
	}
	pi->strikes++;
	if (failed) {
		pi->errors++;
		snprintf(last, sizeof(last), "%s returned %d",
		    rs < 0 ? "should_apply" : "apply", rs < 0 ? rs : ra);
	} else {
		pi->overruns++;
		snprintf(last, sizeof(last), "took %llu us, budget %llu us",
		    (unsigned long long)pi->last_us,
		    (unsigned long long)budget_us);
	}
	if (pi->strikes >= max_strikes)
		inst_disable(pi, failed ? "errors" : "overrun", last);
	else
		log_warnx("plugin: strategy \"%s\": %s (%u of %u)", pi->name,
		    last, pi->strikes, max_strikes);
	return -1;
}

/*
 * Give one instance its own budget and strike limit (a strategies[]
 * entry's budget_ms and max_failures); 0 keeps the set's.
 */
void
plugin_inst_set_limits(struct plugin_inst *pi, uint64_t budget_us,
    unsigned int max_strikes)
{
	pi->budget_us = budget_us;
	pi->max_strikes = max_strikes;
}

/* Evaluate every instance in order; returns how many applied. */
size_t
plugin_eval_all(struct plugin_set *ps, void *tick, uint64_t now_ms)
{
	size_t	i, n = 0;

	for (i = 0; i < ps->ninst; i++)
		if (plugin_eval(ps->inst[i], tick, now_ms) == 1)
			n++;
	return n;
}

/* Fill st with pi's identity and counters; strings live as long as pi. */
void
plugin_get_stats(const struct plugin_inst *pi, struct plugin_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->name = pi->name;
	st->module = pi->module;
	st->path = pi->path;
	st->strategy = pi->desc->name;
	st->version = pi->desc->version;
	st->summary = pi->desc->summary;
	st->sha256 = pi->sha256;
	st->abi_major = pi->desc->abi_major;
	st->abi_minor = pi->desc->abi_minor;
	st->enabled = pi->enabled;
	st->disabled_reason = pi->disabled_reason;
	st->evaluations = pi->evaluations;
	st->applies = pi->applies;
	st->proposals = pi->proposals;
	st->errors = pi->errors;
	st->overruns = pi->overruns;
	st->last_us = pi->last_us;
	st->max_us = pi->max_us;
	st->strikes = pi->strikes;
}

/* Give one instance its own opaque pointer (plugin_ctx_udata). */
void
plugin_set_udata(struct plugin_inst *pi, void *udata)
{
	pi->ctx.udata = udata;
}

/*
 * Accessors for the daemon's host functions, which receive the ctx: the
 * instance, its name (the audit log's strategy column), the daemon's
 * opaque pointer and the snapshot being evaluated (NULL outside
 * plugin_eval, e.g. during init).
 */
struct plugin_inst *
plugin_ctx_inst(struct mt_ctx *ctx)
{
	return ctx->inst;
}

const char *
plugin_ctx_name(struct mt_ctx *ctx)
{
	return ctx->inst->name;
}

void *
plugin_ctx_udata(struct mt_ctx *ctx)
{
	return ctx->udata;
}

void *
plugin_ctx_tick(struct mt_ctx *ctx)
{
	return ctx->tick;
}

/* A stable name for an event type, for the audit log. */
const char *
plugin_event_name(enum plugin_event_type t)
{
	switch (t) {
	case PLUGIN_EV_LOADED:
		return "plugin_loaded";
	case PLUGIN_EV_REFUSED:
		return "plugin_refused";
	case PLUGIN_EV_DISABLED:
		return "plugin_disabled";
	case PLUGIN_EV_UNLOADED:
		return "plugin_unloaded";
	}
	return "plugin_unknown";
}

/* Host functions handed to plugins. */

static void
host_log(struct mt_ctx *ctx, int level, const char *fmt, ...)
{
	char	buf[512];
	va_list	ap;
	int	pri;

	if (ctx == NULL || fmt == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	sanitize(buf);
	if (level >= MT_LOG_WARN)
		pri = LOG_WARNING;
	else if (level == MT_LOG_INFO)
		pri = LOG_INFO;
	else
		pri = LOG_DEBUG;
	log_msg(pri, "strategy %s: %s", ctx->inst->name, buf);
}

static uint64_t
host_now_ms(struct mt_ctx *ctx)
{
	struct plugin_set	*ps = ctx->inst->set;

	if (ps->daemon.now_ms != NULL)
		return ps->daemon.now_ms(ctx);
	return clock_mono_ms();
}

static int
host_config_number(struct mt_ctx *ctx, const char *key, double *out)
{
	if (ctx == NULL || out == NULL)
		return MT_EINVAL;
	return plugin_config_number(ctx->inst->conf, key, out);
}

static int
host_config_string(struct mt_ctx *ctx, const char *key, char *buf,
    size_t len)
{
	if (ctx == NULL)
		return MT_EINVAL;
	return plugin_config_string(ctx->inst->conf, key, buf, len);
}

static int
host_propose(struct mt_ctx *ctx, const struct mt_action *a)
{
	struct plugin_inst	*pi;
	struct mt_action	 copy;
	const char		*why;
	int			 r;

	if (ctx == NULL)
		return MT_EINVAL;
	pi = ctx->inst;
	if (ctx->phase != PHASE_APPLY) {
		log_warnx("plugin: strategy \"%s\": propose outside apply "
		    "refused", pi->name);
		return MT_EPERM;
	}
	if (ctx->nproposed >= PLUGIN_MAX_PROPOSALS)
		return MT_ELIMIT;
	if (a == NULL || a->size < ACTION_V1_0_SIZE) {
		log_warnx("plugin: strategy \"%s\": proposal refused: no "
		    "action or size too small", pi->name);
		return MT_EINVAL;
	}
	/* A full-size copy: the daemon reads every field without MT_HAS. */
	memset(&copy, 0, sizeof(copy));
	memcpy(&copy, a, a->size < sizeof(copy) ? a->size : sizeof(copy));
	copy.size = sizeof(copy);
	if ((why = plugin_action_check(&copy)) != NULL) {
		log_warnx("plugin: strategy \"%s\": proposal refused: %s",
		    pi->name, why);
		return MT_EINVAL;
	}
	if (pi->set->daemon.propose == NULL)
		return MT_ERR;
	r = pi->set->daemon.propose(ctx, &copy);
	if (r == MT_OK) {
		ctx->nproposed++;
		pi->proposals++;
	}
	return r;
}
