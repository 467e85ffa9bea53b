/*
 * prom.c -- Prometheus text exposition (format 0.0.4) of every series and
 * of the daemon's own counters.  Pure: it reads the registry and writes
 * into an evbuffer.
 *
 * A window series (timer, histogram, gauge) becomes a summary family
 * meshtune_<name> with quantile labels, _sum and _count; a counter becomes
 * a counter family meshtune_<name>_total.  Dots and dashes in names turn
 * into underscores and tags become labels.  Unit words are turned into
 * Prometheus base units, values scaled to match, since promtool refuses
 * abbreviated and non-base units: net.rtt_ms becomes
 * meshtune_net_rtt_seconds, mem.heap_mb meshtune_mem_heap_bytes.  Series are sorted by family so
 * that each family is written once, whole; when two names map to one
 * family (net.rtt and net_rtt) the first type wins and a series whose
 * labels repeat an earlier one is left out (first by series key, so the
 * winner is stable), since either would make the whole page invalid for
 * Prometheus.  For the same reason a series whose tags map to one label
 * name twice, or to "quantile" in a summary, is left out, and so is a
 * summary family that is the _sum or _count of another summary family.
 * A set becomes a gauge family meshtune_<name>: its distinct members in
 * the window.  A tag key sent twice with two values (DogStatsD keeps
 * both) becomes one label whose value is the two joined by ",", in the
 * key's order.
 */
#include <sys/types.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "meshtuned.h"

struct prom_entry {
	struct series	*s;
	char		*family;	/* meshtune_net_rtt_seconds */
	char		*labels;	/* peer="a3",zone="b" (may be empty) */
	double		 scale;		/* to the base unit of the family */
};

/* Name tokens that are units, and what they become. */
static const struct {
	const char	*token;
	const char	*base;
	double		 scale;
} prom_units[] = {
	{ "s", "seconds", 1 },
	{ "sec", "seconds", 1 },
	{ "ms", "seconds", 1e-3 },
	{ "us", "seconds", 1e-6 },
	{ "ns", "seconds", 1e-9 },
	{ "m", "seconds", 60 },
	{ "h", "seconds", 3600 },
	{ "d", "seconds", 86400 },
	{ "milliseconds", "seconds", 1e-3 },
	{ "microseconds", "seconds", 1e-6 },
	{ "nanoseconds", "seconds", 1e-9 },
	{ "minutes", "seconds", 60 },
	{ "hours", "seconds", 3600 },
	{ "days", "seconds", 86400 },
	{ "b", "bytes", 1 },
	{ "kb", "bytes", 1024.0 },
	{ "mb", "bytes", 1048576.0 },
	{ "gb", "bytes", 1073741824.0 },
	{ "tb", "bytes", 1099511627776.0 },
	{ "pb", "bytes", 1125899906842624.0 },
	{ "kilobytes", "bytes", 1024.0 },
	{ "megabytes", "bytes", 1048576.0 },
	{ "gigabytes", "bytes", 1073741824.0 },
	{ "bits", "bytes", 0.125 },
};

struct prom_collect {
	struct prom_entry	*v;
	size_t			 n, cap;
};

static const struct {
	const char	*label;
	size_t		 off;
} prom_quantiles[] = {
	{ "0.5", offsetof(struct window_stats, p50) },
	{ "0.9", offsetof(struct window_stats, p90) },
	{ "0.95", offsetof(struct window_stats, p95) },
	{ "0.99", offsetof(struct window_stats, p99) },
	{ "0.999", offsetof(struct window_stats, p999) },
};

/* Copy s into a metric or label name, mapping what is not allowed to _. */
static void
prom_name(struct evbuffer *b, const char *s, size_t len)
{
	size_t	i;
	char	c;

	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (i > 0 && c >= '0' && c <= '9')))
			c = '_';
		evbuffer_add(b, &c, 1);
	}
}

/* Prometheus kinds of family. */
enum prom_kind {
	PROM_COUNTER,
	PROM_SUMMARY,
	PROM_GAUGE
};

static enum prom_kind
prom_kind(const struct series *s)
{
	switch (series_type(s)) {
	case STATSD_COUNTER:
		return PROM_COUNTER;
	case STATSD_SET:
		return PROM_GAUGE;
	default:
		return PROM_SUMMARY;
	}
}

/*
 * Turn "k=v,k2=v2" into k="v",k2="v2" with label-value escapes; a key
 * repeated (the tags are sorted, so its tags are neighbours) gets one
 * label, its values joined by ",".
 */
static char *
prom_labels(const char *tags, size_t len)
{
	struct evbuffer	*b = evbuffer_new();
	const char	*p = tags, *end = tags + len, *eq, *comma;
	const char	*pk = NULL;
	size_t		 pklen = 0;
	char		*out;
	size_t		 n;

	if (b == NULL)
		fatalx("%s: evbuffer_new", __func__);
	while (p < end) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		if ((eq = memchr(p, '=', (size_t)(comma - p))) == NULL)
			eq = comma;
		if (pk != NULL && pklen == (size_t)(eq - p) &&
		    memcmp(pk, p, pklen) == 0)
			evbuffer_add(b, ",", 1);	/* the same key again */
		else {
			if (pk != NULL)
				evbuffer_add(b, "\",", 2);
			prom_name(b, p, (size_t)(eq - p));
			evbuffer_add(b, "=\"", 2);
		}
		pk = p;
		pklen = (size_t)(eq - p);
		for (p = eq < comma ? eq + 1 : comma; p < comma; p++) {
			if (*p == '\\' || *p == '"')
				evbuffer_add(b, "\\", 1);
			evbuffer_add(b, p, 1);
		}
		p = comma + 1;
	}
	if (pk != NULL)
		evbuffer_add(b, "\"", 1);
	n = evbuffer_get_length(b);
	out = xmalloc(n + 1);
	evbuffer_remove(b, out, n);
	out[n] = '\0';
	evbuffer_free(b);
	return out;
}

/*
 * Append "_word" for each word of a metric name (words are split at
 * '.', '-' and '_'); a unit as the last word becomes its base unit
 * ("h" elsewhere is not hours).  Returns the factor that takes values
 * to that unit.
 */
static double
prom_family_words(struct evbuffer *b, const char *name, size_t len)
{
	const char	*p = name, *end = name + len, *w, *last = NULL;
	size_t		 wlen, i;

	for (w = name; w < end; w++)
		if ((w == name || w[-1] == '.' || w[-1] == '-' ||
		    w[-1] == '_') && *w != '.' && *w != '-' && *w != '_')
			last = w;
	while (p < end) {
		for (w = p; p < end && *p != '.' && *p != '-' && *p != '_'; p++)
			;
		wlen = (size_t)(p - w);
		if (p < end)
			p++;
		if (wlen == 0)
			continue;
		evbuffer_add(b, "_", 1);
		for (i = 0; w == last && i < nitems(prom_units); i++) {
			if (strlen(prom_units[i].token) == wlen &&
			    strncasecmp(prom_units[i].token, w, wlen) == 0) {
				evbuffer_add_printf(b, "%s",
				    prom_units[i].base);
				return prom_units[i].scale;
			}
		}
		prom_name(b, w, wlen);
	}
	return 1;
}

/* Do metric or label names a and b map to the same name? */
static int
prom_name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t	i;
	char	x, y;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++) {
		x = a[i];
		y = b[i];
		if (!((x >= 'a' && x <= 'z') || (x >= 'A' && x <= 'Z') ||
		    (i > 0 && x >= '0' && x <= '9')))
			x = '_';
		if (!((y >= 'a' && y <= 'z') || (y >= 'A' && y <= 'Z') ||
		    (i > 0 && y >= '0' && y <= '9')))
			y = '_';
		if (x != y)
			return 0;
	}
	return 1;
}

/*
 * 1 if two keys of tags "k=v,k2=v2" map to one label name, or one maps to
 * "quantile" in a summary: either would make the whole page invalid.
 */
static int
prom_labels_clash(const char *tags, size_t len, int summary)
{
	const char	*k[STATSD_TAGS_MAX + 1], *p = tags, *end = tags + len;
	const char	*comma, *eq;
	size_t		 klen[STATSD_TAGS_MAX + 1], n = 0, i;

	while (p < end) {
		if ((comma = memchr(p, ',', (size_t)(end - p))) == NULL)
			comma = end;
		if ((eq = memchr(p, '=', (size_t)(comma - p))) == NULL)
			eq = comma;
		if (n == nitems(k))
			return 1;
		k[n] = p;
		klen[n] = (size_t)(eq - p);
		p = comma + 1;
		/* A key repeated is one label (prom_labels()). */
		if (n > 0 && klen[n - 1] == klen[n] &&
		    memcmp(k[n - 1], k[n], klen[n]) == 0)
			continue;
		if (summary && prom_name_eq(k[n], klen[n], "quantile", 8))
			return 1;
		for (i = 0; i < n; i++)
			if (prom_name_eq(k[i], klen[i], k[n], klen[n]))
				return 1;
		n++;
	}
	return 0;
}

static void
prom_collect_cb(struct series *s, void *arg)
{
	struct prom_collect	*c = arg;
	struct prom_entry	*e;
	struct evbuffer		*b;
	const char		*key = series_key(s), *brace;
	size_t			 namelen, n;

	/* Prometheus sums the labelled series itself; an aggregate of them
	 * on the same family would be counted twice. */
	if (series_is_aggregate(s))
		return;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 256;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	e = &c->v[c->n++];
	e->s = s;
	brace = strchr(key, '{');
	namelen = brace ? (size_t)(brace - key) : strlen(key);
	if (brace != NULL && prom_labels_clash(brace + 1, strlen(brace + 1) - 1,
	    prom_kind(s) == PROM_SUMMARY)) {
		c->n--;		/* left out */
		return;
	}
	if ((b = evbuffer_new()) == NULL)
		fatalx("%s: evbuffer_new", __func__);
	evbuffer_add(b, "meshtune", 8);
	e->scale = prom_family_words(b, key, namelen);
	if (prom_kind(s) == PROM_GAUGE)
		e->scale = 1;		/* a count of members, not a quantity */
	if (prom_kind(s) == PROM_COUNTER)
		evbuffer_add(b, "_total", 6);
	n = evbuffer_get_length(b);
	e->family = xmalloc(n + 1);
	evbuffer_remove(b, e->family, n);
	e->family[n] = '\0';
	evbuffer_free(b);
	e->labels = brace ? prom_labels(brace + 1, strlen(brace + 1) - 1) :
	    xstrdup("");
}

static int
prom_entry_cmp(const void *a, const void *b)
{
	const struct prom_entry	*x = a, *y = b;
	int			 c;

	if ((c = strcmp(x->family, y->family)) != 0)
		return c;
	if ((c = strcmp(x->labels, y->labels)) != 0)
		return c;
	/* Collisions: the same winner whatever the table order. */
	if ((c = strcmp(series_key(x->s), series_key(y->s))) != 0)
		return c;
	return (int)series_type(x->s) - (int)series_type(y->s);
}

/*
 * Is e's family (a summary) the _sum or _count of an earlier summary
 * family?  Parsers take its lines for that family's, a second HELP.
 */
static int
prom_shadowed(const struct prom_collect *c, const struct prom_entry *e)
{
	static const char *const suffix[] = { "_sum", "_count" };
	size_t			 flen = strlen(e->family), plen, slen;
	size_t			 lo, hi, mid, k;
	const char		*f;

	if (prom_kind(e->s) != PROM_SUMMARY)
		return 0;
	for (k = 0; k < nitems(suffix); k++) {
		slen = strlen(suffix[k]);
		if (flen <= slen ||
		    strcmp(e->family + flen - slen, suffix[k]) != 0)
			continue;
		plen = flen - slen;
		/* The first entry whose family is not below the prefix. */
		for (lo = 0, hi = c->n; lo < hi; ) {
			mid = lo + (hi - lo) / 2;
			f = c->v[mid].family;
			if (strncmp(f, e->family, plen) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < c->n && strncmp(c->v[lo].family, e->family,
		    plen) == 0 && c->v[lo].family[plen] == '\0' &&
		    prom_kind(c->v[lo].s) == PROM_SUMMARY)
			return 1;
	}
	return 0;
}

/* " value\n", read back exactly (number_format); NaN, +Inf, -Inf. */
static void
prom_number(struct evbuffer *b, double v)
{
	char	buf[NUMBER_MAXLEN];

	if (isnan(v))
		snprintf(buf, sizeof(buf), "NaN");
	else if (isinf(v))
		snprintf(buf, sizeof(buf), "%cInf", v > 0 ? '+' : '-');
	else
		(void)number_format(v, buf, sizeof(buf));
	evbuffer_add_printf(b, " %s\n", buf);
}

/* HELP and TYPE of the family e opens: the meshtune name it comes from. */
static void
prom_help(struct evbuffer *b, const struct prom_entry *e)
{
	const char	*key = series_key(e->s), *brace = strchr(key, '{');
	int		 namelen = brace ? (int)(brace - key) : (int)strlen(key);
	static const char *const what[] = {
		[PROM_COUNTER] = ": total",
		[PROM_SUMMARY] = ": quantiles over the sliding window",
		[PROM_GAUGE] = ": distinct members in the sliding window",
	};
	static const char *const type[] = {
		[PROM_COUNTER] = "counter",
		[PROM_SUMMARY] = "summary",
		[PROM_GAUGE] = "gauge",
	};
	enum prom_kind	 kind = prom_kind(e->s);

	evbuffer_add_printf(b, "# HELP %s %.*s (%s)%s\n# TYPE %s %s\n",
	    e->family, namelen, key, statsd_type_name(series_type(e->s)),
	    what[kind], e->family, type[kind]);
}

/* A sample line: family[suffix]{labels[,extra]} value */
static void
prom_sample(struct evbuffer *b, const char *family, const char *suffix,
    const char *labels, const char *extra, double v)
{
	int	has = *labels != '\0';

	evbuffer_add_printf(b, "%s%s", family, suffix);
	if (has || extra != NULL)
		evbuffer_add_printf(b, "{%s%s%s}", labels,
		    has && extra ? "," : "", extra ? extra : "");
	prom_number(b, v);
}

static void
prom_series(struct evbuffer *b, struct metrics *m, const struct prom_entry *e,
    uint64_t now_ms)
{
	struct series_stats	st;
	char			q[32];
	size_t			i;

	series_stats(m, e->s, now_ms, &st);
	if (prom_kind(e->s) == PROM_COUNTER) {
		prom_sample(b, e->family, "", e->labels, NULL,
		    st.total * e->scale);
		return;
	}
	if (prom_kind(e->s) == PROM_GAUGE) {
		prom_sample(b, e->family, "", e->labels, NULL,
		    (double)st.w.count);
		return;
	}
	for (i = 0; i < nitems(prom_quantiles); i++) {
		snprintf(q, sizeof(q), "quantile=\"%s\"",
		    prom_quantiles[i].label);
		prom_sample(b, e->family, "", e->labels, q, e->scale *
		    *(const double *)((const char *)&st.w +
		    prom_quantiles[i].off));
	}
	prom_sample(b, e->family, "_sum", e->labels, NULL,
	    st.w.sum * e->scale);
	prom_sample(b, e->family, "_count", e->labels, NULL,
	    (double)st.w.count);
}

static void
prom_self_counter(struct evbuffer *b, const char *name, const char *help,
    const char *type, double v)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
	prom_sample(b, name, "", "", NULL, v);
}

static void
prom_write_self(struct evbuffer *b, const struct prom_self *self)
{
	int	r;
	char	label[64];

	prom_self_counter(b, "meshtuned_ingest_lines_total",
	    "StatsD lines read, good or bad.", "counter",
	    self->parser ? (double)self->parser->lines : 0);
	evbuffer_add_printf(b, "# HELP meshtuned_ingest_errors_total "
	    "StatsD lines dropped as malformed, by reason.\n"
	    "# TYPE meshtuned_ingest_errors_total counter\n");
	for (r = 1; r < STATSD_NREASONS; r++) {
		snprintf(label, sizeof(label), "reason=\"%s\"",
		    statsd_reason_name((enum statsd_reason)r));
		prom_sample(b, "meshtuned_ingest_errors_total", "", "", label,
		    self->parser ? (double)self->parser->errors[r] : 0);
	}
	prom_self_counter(b, "meshtuned_ingest_dropped_total",
	    "Values dropped by the registry: series cap, refused value, "
	    "set full.", "counter", self->metrics ?
	    (double)(self->metrics->values_dropped +
	    self->metrics->values_refused + self->metrics->set_full) : 0);
	if (self->metrics != NULL) {
		evbuffer_add_printf(b, "# HELP meshtuned_ingest_refused_total "
		    "StatsD values the registry refused, by reason.\n"
		    "# TYPE meshtuned_ingest_refused_total counter\n");
		prom_sample(b, "meshtuned_ingest_refused_total", "", "",
		    "reason=\"series_cap\"",
		    (double)self->metrics->values_dropped);
		prom_sample(b, "meshtuned_ingest_refused_total", "", "",
		    "reason=\"value_refused\"",
		    (double)self->metrics->values_refused);
		prom_sample(b, "meshtuned_ingest_refused_total", "", "",
		    "reason=\"set_full\"", (double)self->metrics->set_full);
	}
	if (self->parser != NULL) {
		evbuffer_add_printf(b, "# HELP meshtuned_ingest_events_total "
		    "DogStatsD events and service checks read.\n"
		    "# TYPE meshtuned_ingest_events_total counter\n");
		prom_sample(b, "meshtuned_ingest_events_total", "", "",
		    "kind=\"event\"", (double)self->parser->events);
		prom_sample(b, "meshtuned_ingest_events_total", "", "",
		    "kind=\"service_check\"",
		    (double)self->parser->service_checks);
		prom_self_counter(b, "meshtuned_ingest_fields_ignored_total",
		    "Unknown StatsD fields skipped in good lines.", "counter",
		    (double)self->parser->fields_ignored);
	}
	if (self->events != NULL) {
		evbuffer_add_printf(b, "# HELP meshtuned_ingest_events_rows_"
		    "total Events and service checks: written to the audit "
		    "log, folded past statsd.events_per_minute, dropped by "
		    "statsd.events.\n"
		    "# TYPE meshtuned_ingest_events_rows_total counter\n");
		prom_sample(b, "meshtuned_ingest_events_rows_total", "", "",
		    "outcome=\"audited\"", (double)self->events->audited);
		prom_sample(b, "meshtuned_ingest_events_rows_total", "", "",
		    "outcome=\"folded\"", (double)self->events->folded);
		prom_sample(b, "meshtuned_ingest_events_rows_total", "", "",
		    "outcome=\"dropped\"", (double)self->events->dropped);
	}
	prom_self_counter(b, "meshtuned_ingest_kernel_drops_total",
	    "Datagrams the kernel dropped for a full socket buffer.",
	    "counter", self->ingest ? (double)self->ingest->kernel_drops : 0);
	prom_self_counter(b, "meshtuned_series", "Series held.", "gauge",
	    (double)self->series);
	prom_self_counter(b, "meshtuned_ticks_total", "Ticks run.", "counter",
	    (double)self->ticks);
	prom_self_counter(b, "meshtuned_tick_duration_seconds",
	    "Duration of the last tick.", "gauge", self->tick_duration_s);
	prom_self_counter(b, "meshtuned_reloads_total",
	    "Successful configuration reloads.", "counter",
	    (double)self->reloads);
	prom_self_counter(b, "meshtuned_uptime_seconds",
	    "Seconds since start.", "gauge", self->uptime_s);
}

/*
 * Write every series of m (as of now_ms) and the daemon's own figures in
 * the Prometheus text format into b.
 */
void
prom_write(struct evbuffer *b, struct metrics *m, uint64_t now_ms,
    const struct prom_self *self)
{
	struct prom_collect	 c = { NULL, 0, 0 };
	const struct prom_entry	*e, *head = NULL;
	size_t			 i;
	int			 skip = 0;

	if (m != NULL)
		metrics_foreach(m, prom_collect_cb, &c);
	if (c.n > 0)
		qsort(c.v, c.n, sizeof(*c.v), prom_entry_cmp);
	for (i = 0; i < c.n; i++) {
		e = &c.v[i];
		if (head == NULL || strcmp(head->family, e->family) != 0) {
			head = e;
			if ((skip = prom_shadowed(&c, e)) == 0)
				prom_help(b, e);
		} else if (prom_kind(e->s) != prom_kind(head->s))
			continue;	/* another kind under the same name */
		else if (strcmp(c.v[i - 1].labels, e->labels) == 0)
			continue;	/* same name and labels after mapping */
		if (skip)
			continue;	/* the _sum or _count of a summary */
		prom_series(b, m, e, now_ms);
	}
	for (i = 0; i < c.n; i++) {
		free(c.v[i].family);
		free(c.v[i].labels);
	}
	free(c.v);
	if (self != NULL)
		prom_write_self(b, self);
}
