/*
 * daemon.c -- the life of meshtuned: one event_base, signals, the tick,
 * and the subsystems, started in order and stopped in reverse.
 *
 * Subsystems never keep pointers into the configuration across a reload:
 * they read d->conf when they need it, and their reload hook sees the new
 * configuration before it replaces the old one.
 */
#include <sys/types.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "meshtuned.h"

static int	tick_start(struct daemon *);
static void	tick_stop(struct daemon *);
static int	tick_reload(struct daemon *, const struct mt_config *);
static int	daemon_log_start(struct daemon *);
static void	daemon_log_stop(struct daemon *);
static int	signals_start(struct daemon *);
static void	signals_stop(struct daemon *);
static int	daemon_audit_start(struct daemon *);
static void	daemon_audit_stop(struct daemon *);
static int	daemon_audit_reload(struct daemon *, const struct mt_config *);
static int	daemon_registry_start(struct daemon *);
static void	daemon_registry_stop(struct daemon *);
static int	daemon_registry_reload(struct daemon *, const struct mt_config *);

/*
 * The subsystems, in start order.  stop runs in reverse.  On a reload every
 * check runs first, and any of them may refuse the new configuration,
 * which then changes nothing; then every reload hook applies it.
 */
static const struct daemon_subsystem {
	const char	*name;
	int		(*start)(struct daemon *);
	void		(*stop)(struct daemon *);
	int		(*reload)(struct daemon *, const struct mt_config *);
	/* Optional: may refuse a reload before any subsystem applies it. */
	int		(*check)(struct daemon *, const struct mt_config *);
} subsystems[] = {
#define SUBSYSTEM(name, prefix) \
	{ name, prefix##_start, prefix##_stop, prefix##_reload, NULL }
	{ "log", daemon_log_start, daemon_log_stop, NULL, NULL },
	{ "signals", signals_start, signals_stop, NULL, NULL },
	SUBSYSTEM("audit", daemon_audit),
	SUBSYSTEM("registry", daemon_registry),
	{ "governor", governor_start, governor_stop, governor_reload,
	    governor_check },
	SUBSYSTEM("engine", engine),
	SUBSYSTEM("ingest", ingest),
	SUBSYSTEM("collect", collect),
	SUBSYSTEM("api", api),
	SUBSYSTEM("tick", tick),
#undef SUBSYSTEM
};

/* The timer that reports suppressed log lines (log.c). */
static int
daemon_log_start(struct daemon *d)
{
	return log_start(d->base);
}

static void
daemon_log_stop(struct daemon *d)
{
	log_stop();
}

/* The audit.* keys as the audit log takes them. */
static void
daemon_audit_opts(const struct mt_config *c, struct audit_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->retention_days = (int)c->retention_days;
	o->max_bytes = (uint64_t)c->audit_max_size_mb * 1024 * 1024;
	o->move_bad = c->audit_on_bad_file != NULL &&
	    strcmp(c->audit_on_bad_file, "move") == 0;
}

static int
daemon_audit_start(struct daemon *d)
{
	struct audit_opts	o;
	char			err[1024];

	daemon_audit_opts(d->conf, &o);
	d->audit = audit_open_opts(d->base, d->conf->audit_path, &o, err,
	    sizeof(err));
	if (d->audit == NULL) {
		log_warnx("%s", err);
		return -1;
	}
	(void)audit_event(d->audit, "start", "meshtuned", "meshtuned "
	    PACKAGE_VERSION " started", NULL);
	return 0;
}

static void
daemon_audit_stop(struct daemon *d)
{
	if (d->audit == NULL)
		return;
	(void)audit_event(d->audit, "stop", "meshtuned", "meshtuned stopped",
	    NULL);
	audit_close(d->audit);
	d->audit = NULL;
}

static int
daemon_audit_reload(struct daemon *d, const struct mt_config *nc)
{
	struct audit_opts	o;

	if (strcmp(nc->audit_path, d->conf->audit_path) != 0)
		log_warnx("audit: audit.path changes take effect when "
		    "meshtuned restarts");
	daemon_audit_opts(nc, &o);
	if (d->audit != NULL)
		audit_set_opts(d->audit, &o);
	return 0;
}

static int
daemon_registry_start(struct daemon *d)
{
	d->metrics = metrics_new((unsigned int)d->conf->window_seconds,
	    (unsigned int)d->conf->window_slices, (size_t)d->conf->max_series);
	if (d->metrics == NULL) {
		log_warnx("registry: bad window shape");
		return -1;
	}
	return 0;
}

static void
daemon_registry_stop(struct daemon *d)
{
	metrics_free(d->metrics);
	d->metrics = NULL;
}

/* The window shape is fixed for the life of the series; the cap is not. */
static int
daemon_registry_reload(struct daemon *d, const struct mt_config *nc)
{
	if (nc->window_seconds != d->conf->window_seconds ||
	    nc->window_slices != d->conf->window_slices)
		log_warnx("registry: window.seconds and window.slices take "
		    "effect when meshtuned restarts (series keep their "
		    "windows)");
	metrics_set_max_series(d->metrics, (size_t)nc->max_series);
	return 0;
}

static void
tick_cb(evutil_socket_t fd, short events, void *arg)
{
	struct daemon	*d = arg;
	uint64_t	 start = clock_mono_us();

	d->ticks++;
	d->last_tick.wall_ms = clock_wall_ms();
	engine_tick(d, clock_mono_ms());
	d->last_tick.duration_us = clock_mono_us() - start;
	log_debug("tick %llu took %llu us", (unsigned long long)d->ticks,
	    (unsigned long long)d->last_tick.duration_us);
}

static void
tick_arm(struct daemon *d, int64_t interval_ms)
{
	struct timeval	tv;

	tv.tv_sec = interval_ms / 1000;
	tv.tv_usec = (interval_ms % 1000) * 1000;
	if (event_add(d->ev_tick, &tv) == -1)
		fatalx("%s: event_add failed", __func__);
}

static int
tick_start(struct daemon *d)
{
	d->ev_tick = event_new(d->base, -1, EV_PERSIST, tick_cb, d);
	if (d->ev_tick == NULL) {
		log_warnx("%s: event_new failed", __func__);
		return -1;
	}
	tick_arm(d, d->conf->tick_interval_ms);
	return 0;
}

static void
tick_stop(struct daemon *d)
{
	if (d->ev_tick != NULL)
		event_free(d->ev_tick);
	d->ev_tick = NULL;
}

static int
tick_reload(struct daemon *d, const struct mt_config *nc)
{
	if (nc->tick_interval_ms != d->conf->tick_interval_ms) {
		tick_arm(d, nc->tick_interval_ms);
		log_info("tick interval now %lld ms",
		    (long long)nc->tick_interval_ms);
	}
	return 0;
}

/*
 * Parse the configuration file again and swap it in.  Returns 0, or -1
 * when the file has errors or a subsystem refuses it: then the running
 * configuration stays untouched.
 */
int
daemon_reload(struct daemon *d)
{
	struct conf_errors	 errs = { NULL, 0 };
	struct mt_config	*nc;
	size_t			 i;

	log_info("reloading %s", d->conf_path);
	if ((nc = config_load_file(d->conf_path, &errs)) == NULL) {
		for (i = 0; i < errs.n; i++)
			log_warnx("%s", errs.v[i]);
		log_warnx("reload failed with %zu error%s; keeping the "
		    "running configuration", errs.n, errs.n == 1 ? "" : "s");
		config_errors_clear(&errs);
		d->reload_failures++;
		return -1;
	}
	if (d->force_dry_run)
		nc->dry_run = 1;
	for (i = 0; i < nitems(subsystems); i++) {
		if (subsystems[i].check == NULL)
			continue;
		if (subsystems[i].check(d, nc) == -1) {
			log_warnx("reload refused by %s; keeping the running "
			    "configuration", subsystems[i].name);
			config_free(nc);
			d->reload_failures++;
			return -1;
		}
	}
	for (i = 0; i < nitems(subsystems); i++) {
		if (subsystems[i].reload == NULL)
			continue;
		if (subsystems[i].reload(d, nc) == -1) {
			log_warnx("reload refused by %s; keeping the running "
			    "configuration", subsystems[i].name);
			config_free(nc);
			d->reload_failures++;
			return -1;
		}
	}
	config_free(d->conf);
	d->conf = nc;
	d->reloads++;
	engine_reloaded(d);
	(void)audit_event(d->audit, "reload", "meshtuned",
	    "configuration reloaded", NULL);
	log_info("configuration reloaded");
	return 0;
}

static void
signal_cb(evutil_socket_t sig, short events, void *arg)
{
	struct daemon	*d = arg;

	switch (sig) {
	case SIGHUP:
		(void)daemon_reload(d);
		break;
	case SIGTERM:
	case SIGINT:
		/*
		 * Callbacks run one at a time, so the current tick has
		 * finished; stop after this round of the loop.
		 */
		log_info("%s received, stopping",
		    sig == SIGTERM ? "SIGTERM" : "SIGINT");
		d->stopping = 1;
		event_base_loopbreak(d->base);
		break;
	}
}

static int
signals_start(struct daemon *d)
{
	static const int	 sigs[] = { SIGHUP, SIGTERM, SIGINT };
	struct sigaction	 sa;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1) {
		log_warn("%s: sigaction SIGPIPE", __func__);
		return -1;
	}
	for (i = 0; i < nitems(sigs); i++) {
		d->ev_signal[i] = evsignal_new(d->base, sigs[i], signal_cb, d);
		if (d->ev_signal[i] == NULL ||
		    evsignal_add(d->ev_signal[i], NULL) == -1) {
			log_warnx("%s: cannot watch signal %d", __func__,
			    sigs[i]);
			return -1;
		}
	}
	return 0;
}

static void
signals_stop(struct daemon *d)
{
	size_t	i;

	for (i = 0; i < nitems(d->ev_signal); i++) {
		if (d->ev_signal[i] != NULL)
			event_free(d->ev_signal[i]);
		d->ev_signal[i] = NULL;
	}
}

/* Stop the first n subsystems, last started first. */
static void
daemon_stop_subsystems(struct daemon *d, size_t n)
{
	while (n-- > 0) {
		log_debug("stopping %s", subsystems[n].name);
		subsystems[n].stop(d);
	}
}

/*
 * Run the daemon on the configuration d->conf (owned by d from now on)
 * until SIGTERM or SIGINT.  Returns the process exit status: 0 after a
 * clean stop, 1 if a subsystem could not start.
 */
int
daemon_run(struct daemon *d)
{
	size_t	started;
	int	status = 0;

	if ((d->base = event_base_new()) == NULL) {
		log_warnx("cannot create the event loop");
		return 1;
	}
	d->started_ms = clock_mono_ms();
	for (started = 0; started < nitems(subsystems); started++) {
		log_debug("starting %s", subsystems[started].name);
		if (subsystems[started].start(d) == -1) {
			log_warnx("%s failed to start", subsystems[started].name);
			status = 1;
			break;
		}
	}
	if (status == 0) {
		log_info("meshtuned %s started (%s%s)", PACKAGE_VERSION,
		    d->conf_path, d->conf->dry_run ? ", dry run" : "");
		if (event_base_dispatch(d->base) == -1) {
			log_warnx("event loop failed");
			status = 1;
		}
	}
	daemon_stop_subsystems(d, started);
	event_base_free(d->base);
	d->base = NULL;
	config_free(d->conf);
	d->conf = NULL;
	if (status == 0)
		log_info("stopped");
	return status;
}
