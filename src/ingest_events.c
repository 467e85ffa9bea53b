/*
 * ingest_events.c -- DogStatsD events (_e{...}) and service checks
 * (_sc|...) that reach a StatsD listener: the parser counts them
 * (statsd.c); here each becomes a row of the audit log's events table,
 * of kind "statsd_event" or "statsd_service_check", unless
 * statsd.events is "drop".
 *
 * A flood of them cannot grow the log without bound: at most
 * statsd.events_per_minute rows are written in a minute of the daemon's
 * clock (minutes start at multiples of 60 s of the monotonic clock); the
 * others of that minute are folded, counted, and written as one row of
 * kind "statsd_events_folded" when the minute ends.  So a minute adds at
 * most events_per_minute + 1 rows, and retention bounds the rest.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "meshtuned.h"

#define MINUTE_MS	60000

struct ingest_events {
	struct daemon		*d;
	struct event		*ev_fold;	/* the end of a minute that folded */
	struct events_fold	 fold;
	struct ingest_events_stats stats;
};

static const char *const check_status[] = {
	"ok", "warning", "critical", "unknown"
};

/*
 * Admit one row at now_ms: 1 to write it, 0 to fold it (counted in
 * f->folded, the row of the kind in f->folded_kind[kind]).  *flush is set
 * when the minute before now_ms folded rows that must be written first
 * (their counts are then in f->flush_*, and the new minute starts
 * empty).  Pure: the policy of ingest_events_line().
 */
int
events_fold_admit(struct events_fold *f, uint64_t now_ms, uint64_t limit,
    int kind, int *flush)
{
	uint64_t	minute = now_ms / MINUTE_MS;

	*flush = 0;
	if (minute != f->minute) {
		if (f->folded[0] + f->folded[1] > 0) {
			*flush = 1;
			f->flush[0] = f->folded[0];
			f->flush[1] = f->folded[1];
			f->flush_minute = f->minute;
		}
		f->minute = minute;
		f->written = 0;
		f->folded[0] = f->folded[1] = 0;
	}
	if (f->written < limit) {
		f->written++;
		return 1;
	}
	f->folded[kind != 0]++;
	return 0;
}

/* Write the row of a minute that folded events and service checks. */
static void
events_write_folded(struct ingest_events *ie, uint64_t events,
    uint64_t checks, uint64_t minute)
{
	cJSON	*o = cJSON_CreateObject();
	char	*msg, *detail;

	cJSON_AddNumberToObject(o, "events", (double)events);
	cJSON_AddNumberToObject(o, "service_checks", (double)checks);
	cJSON_AddNumberToObject(o, "limit",
	    (double)ie->d->conf->statsd_events_per_minute);
	cJSON_AddNumberToObject(o, "minute_s", (double)minute * 60);
	detail = number_json_print(o);
	cJSON_Delete(o);
	xasprintf(&msg, "%llu StatsD events and %llu service checks past "
	    "statsd.events_per_minute (%lld) folded into this row",
	    (unsigned long long)events, (unsigned long long)checks,
	    (long long)ie->d->conf->statsd_events_per_minute);
	if (ie->d->audit != NULL)
		(void)audit_event(ie->d->audit, "statsd_events_folded",
		    "statsd", msg, detail);
	free(msg);
	free(detail);
}

/* The minute that folded rows is over: write its row now. */
static void
events_fold_cb(evutil_socket_t fd, short what, void *arg)
{
	struct ingest_events	*ie = arg;
	struct events_fold	*f = &ie->fold;

	if (f->folded[0] + f->folded[1] == 0)
		return;
	events_write_folded(ie, f->folded[0], f->folded[1], f->minute);
	f->folded[0] = f->folded[1] = 0;
}

/* Add s (len bytes) as a JSON string, "\n" escapes turned into newlines. */
static void
add_text(cJSON *o, const char *name, const struct statsd_str *s, int unescape)
{
	char	*t = xmalloc(s->len + 1), *q = t;
	size_t	 i;

	for (i = 0; i < s->len; i++) {
		if (unescape && s->p[i] == '\\' && i + 1 < s->len &&
		    s->p[i + 1] == 'n') {
			*q++ = '\n';
			i++;
		} else
			*q++ = s->p[i];
	}
	*q = '\0';
	cJSON_AddStringToObject(o, name, t);
	free(t);
}

/* Add s if the line had it. */
static void
add_opt(cJSON *o, const char *name, const struct statsd_str *s)
{
	if (s->len > 0)
		add_text(o, name, s, 0);
}

/* The canonical tags "k=v,k2=v2" as DogStatsD writes them: ["k:v", ...]. */
static void
add_tags(cJSON *o, const struct statsd_str *tags)
{
	cJSON		*a = cJSON_AddArrayToObject(o, "tags");
	const char	*p = tags->p, *e = tags->p + tags->len, *c, *eq;
	char		*t;
	size_t		 n;

	while (p < e) {
		if ((c = memchr(p, ',', (size_t)(e - p))) == NULL)
			c = e;
		n = (size_t)(c - p);
		t = xmalloc(n + 1);
		memcpy(t, p, n);
		t[n] = '\0';
		if ((eq = memchr(t, '=', n)) != NULL)
			t[eq - t] = ':';
		if (eq != NULL && eq == t + n - 1)
			t[n - 1] = '\0';	/* a tag without value */
		cJSON_AddItemToArray(a, cJSON_CreateString(t));
		free(t);
		p = c + 1;
	}
}

/* Write an event or service check as an events row. */
static void
events_write(struct ingest_events *ie, const struct statsd_line *ln)
{
	const struct statsd_event	*ev = ln->event;
	cJSON				*o = cJSON_CreateObject();
	char				*msg, *detail;
	int				 sc = ln->kind == STATSD_SERVICE_CHECK;

	if (sc) {
		add_text(o, "name", &ev->title, 0);
		cJSON_AddNumberToObject(o, "status", ev->status);
		cJSON_AddStringToObject(o, "status_name",
		    check_status[ev->status]);
		add_opt(o, "message", &ev->text);
	} else {
		add_text(o, "title", &ev->title, 1);
		add_text(o, "text", &ev->text, 1);
		if (ev->priority.len > 0)
			add_opt(o, "priority", &ev->priority);
		else
			cJSON_AddStringToObject(o, "priority", "normal");
		if (ev->alert_type.len > 0)
			add_opt(o, "alert_type", &ev->alert_type);
		else
			cJSON_AddStringToObject(o, "alert_type", "info");
		add_opt(o, "aggregation_key", &ev->aggregation_key);
		add_opt(o, "source_type", &ev->source_type);
	}
	add_opt(o, "hostname", &ev->hostname);
	if (ev->timestamp != 0)
		cJSON_AddNumberToObject(o, "timestamp", (double)ev->timestamp);
	add_tags(o, &ev->tags);
	detail = number_json_print(o);
	if (sc)
		xasprintf(&msg, "%.*s: %s%s%.*s", (int)ev->title.len,
		    ev->title.p, check_status[ev->status],
		    ev->text.len > 0 ? ": " : "", (int)ev->text.len,
		    ev->text.p);
	else {
		const cJSON *title = cJSON_GetObjectItem(o, "title");

		msg = xstrdup(cJSON_GetStringValue(title));
	}
	cJSON_Delete(o);
	if (ie->d->audit != NULL &&
	    audit_event(ie->d->audit, sc ? "statsd_service_check" :
	    "statsd_event", "statsd", msg, detail) == 0)
		ie->stats.audited++;
	free(msg);
	free(detail);
}

/*
 * Take one event or service check (valid during the call only): write
 * it, fold it, or drop it, as the configuration and the minute's count
 * say.  The batch's event callback (metrics_batch).
 */
void
ingest_events_line(const struct statsd_line *ln, void *arg)
{
	struct ingest_events	*ie = arg;
	struct events_fold	*f = &ie->fold;
	uint64_t		 now_ms = clock_mono_ms();
	struct timeval		 tv;
	int			 flush;

	if (strcmp(ie->d->conf->statsd_events, "drop") == 0) {
		ie->stats.dropped++;
		return;
	}
	if (events_fold_admit(f, now_ms,
	    (uint64_t)ie->d->conf->statsd_events_per_minute,
	    ln->kind == STATSD_SERVICE_CHECK, &flush)) {
		if (flush)
			events_write_folded(ie, f->flush[0], f->flush[1],
			    f->flush_minute);
		events_write(ie, ln);
		return;
	}
	if (flush)
		events_write_folded(ie, f->flush[0], f->flush[1],
		    f->flush_minute);
	ie->stats.folded++;
	/* The first fold of a minute: its row comes when the minute ends. */
	if (f->folded[0] + f->folded[1] == 1) {
		tv.tv_sec = (time_t)((MINUTE_MS - now_ms % MINUTE_MS) / 1000);
		tv.tv_usec = (suseconds_t)((MINUTE_MS - now_ms % MINUTE_MS) %
		    1000 * 1000);
		if (evtimer_add(ie->ev_fold, &tv) == -1)
			log_warnx("ingest: cannot time the folded events row");
	}
}

/* Make the events writer of d; ingest_events_free() undoes it. */
struct ingest_events *
ingest_events_new(struct daemon *d)
{
	struct ingest_events	*ie = xcalloc(1, sizeof(*ie));

	ie->d = d;
	if ((ie->ev_fold = evtimer_new(d->base, events_fold_cb, ie)) == NULL)
		fatalx("%s: evtimer_new", __func__);
	return ie;
}

/* Write what the current minute folded, and free ie; NULL is a no-op. */
void
ingest_events_free(struct ingest_events *ie)
{
	if (ie == NULL)
		return;
	events_fold_cb(-1, 0, ie);
	event_free(ie->ev_fold);
	free(ie);
}

/* The events writer's counters, for /v1/status and /metrics. */
const struct ingest_events_stats *
ingest_events_stats(const struct ingest_events *ie)
{
	return &ie->stats;
}
