/*
 * collect.c -- the once-a-second chores: a /proc round of the node and
 * the host into the registry, and the removal of idle series.
 */
#include <sys/types.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "meshtuned.h"

#define COLLECT_INTERVAL_MS	1000

struct collect {
	struct proc_collector	*proc;
	struct event		*ev;
	uint64_t		 rounds;
};

static void
collect_emit(const char *name, const char *tags, int kind, double value,
    void *arg)
{
	struct daemon	*d = arg;
	char		 key[256];

	if (tags != NULL)
		snprintf(key, sizeof(key), "%s{%s}", name, tags);
	else
		snprintf(key, sizeof(key), "%s", name);
	(void)metrics_add(d->metrics, key, kind == PROC_COUNTER ?
	    STATSD_COUNTER : STATSD_GAUGE, value, clock_mono_ms());
}

static void
collect_cb(evutil_socket_t fd, short events, void *arg)
{
	struct daemon	*d = arg;
	uint64_t	 now = clock_mono_ms();
	size_t		 gone;

	d->collect->rounds++;
	proc_collect(d->collect->proc, now, collect_emit, d);
	gone = metrics_expire(d->metrics, now,
	    (uint64_t)d->conf->series_idle_s * 1000);
	if (gone > 0)
		log_debug("collect: %zu idle series removed", gone);
}

static void
collect_open_proc(struct daemon *d, const struct mt_config *c)
{
	d->collect->proc = proc_collector_new(c->proc_root, c->pid_file);
}

/* Start the /proc collector and the 1 s chores timer. */
int
collect_start(struct daemon *d)
{
	struct timeval	tv = { COLLECT_INTERVAL_MS / 1000,
			    (COLLECT_INTERVAL_MS % 1000) * 1000 };

	d->collect = xcalloc(1, sizeof(*d->collect));
	collect_open_proc(d, d->conf);
	d->collect->ev = event_new(d->base, -1, EV_PERSIST, collect_cb, d);
	if (d->collect->ev == NULL || event_add(d->collect->ev, &tv) == -1) {
		log_warnx("collect: cannot arm the timer");
		return -1;
	}
	return 0;
}

void
collect_stop(struct daemon *d)
{
	if (d->collect == NULL)
		return;
	if (d->collect->ev != NULL)
		event_free(d->collect->ev);
	proc_collector_free(d->collect->proc);
	free(d->collect);
	d->collect = NULL;
}

/* A new pid file or /proc root starts a fresh collector. */
int
collect_reload(struct daemon *d, const struct mt_config *nc)
{
	if (config_same(d->conf->pid_file, nc->pid_file) &&
	    config_same(d->conf->proc_root, nc->proc_root))
		return 0;
	proc_collector_free(d->collect->proc);
	collect_open_proc(d, nc);
	log_info("collect: now reading %s for node %s", nc->proc_root,
	    nc->pid_file ? nc->pid_file : "(none)");
	return 0;
}
