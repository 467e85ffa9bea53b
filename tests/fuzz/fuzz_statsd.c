/*
 * fuzz_statsd.c -- libFuzzer target for the StatsD parser (statsd.c).
 *
 * The input is one datagram.  Besides "no crash, no sanitizer report" it
 * checks what callers rely on and aborts when any does not hold: the line
 * counts add up, every good line has a well-formed canonical key with
 * sorted unique tags and the right hash, values are finite and obey their
 * type, and the hand-written number parser agrees bit for bit with strtod.
 * It also feeds the datagram, twice, to two registries: one line by line
 * through statsd_next(), one through metrics_batch_datagram(), whose
 * second pass finds the forms of the first known; both must count and
 * store the same.
 */
#include <sys/types.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meshtuned.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct statsd_parser	sp;

#define CHECK(e) do {							\
	if (!(e)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
		    __FILE__, __LINE__, #e);				\
		abort();						\
	}								\
} while (0)

/* The grammar's ASCII sets (statsd.c); bytes of 0x80 up: UTF-8. */
static int
is_name(int c)
{
	return c >= 0x80 || (c >= ' ' && c <= '~' && strchr(":|{}", c) ==
	    NULL);
}

static int
is_tagk(int c)
{
	return c >= 0x80 || (c >= ' ' && c <= '~' && strchr(",|:={}", c) ==
	    NULL);
}

static int
is_tagv(int c)
{
	return c >= 0x80 || (c >= ' ' && c <= '~' && strchr(",|", c) ==
	    NULL);
}

/* Compare two (key, value) tags as the parser sorts them. */
static int
tag_order(const char *k1, size_t kl1, const char *v1, size_t vl1,
    const char *k2, size_t kl2, const char *v2, size_t vl2)
{
	int	c = memcmp(k1, k2, kl1 < kl2 ? kl1 : kl2);

	if (c != 0 || kl1 != kl2)
		return c != 0 ? c : kl1 < kl2 ? -1 : 1;
	c = memcmp(v1, v2, vl1 < vl2 ? vl1 : vl2);
	if (c != 0 || vl1 != vl2)
		return c != 0 ? c : vl1 < vl2 ? -1 : 1;
	return 0;
}

static void
check_key(const struct statsd_line *ln)
{
	const char	*k = ln->key, *e = ln->key + ln->keylen - 1, *p, *t;
	const char	*pk = NULL, *pv = NULL, *v;
	size_t		 i, n = 0, pkl = 0, pvl = 0, kl, vl;

	CHECK(ln->namelen >= 1 && ln->namelen <= STATSD_NAME_MAX);
	CHECK(ln->keylen <= STATSD_KEY_MAX);
	for (i = 0; i < ln->namelen; i++)
		CHECK(is_name((uint8_t)k[i]));
	CHECK(statsd_utf8_valid(k, ln->namelen) == ln->namelen);
	CHECK(ln->hash == statsd_hash(k, ln->keylen));
	if (ln->ntags == 0) {
		CHECK(ln->keylen == ln->namelen);
		return;
	}
	CHECK(ln->ntags <= STATSD_TAGS_MAX + 2);
	CHECK(k[ln->namelen] == '{' && *e == '}');
	CHECK(statsd_utf8_valid(k, ln->keylen) == ln->keylen);
	p = k + ln->namelen + 1;
	while (p < e) {
		t = p;
		while (p < e && *p != '=')
			CHECK(is_tagk((uint8_t)*p++));
		kl = (size_t)(p - t);
		CHECK(kl >= 1 && p < e);
		v = ++p;
		while (p < e && *p != ',')
			CHECK(is_tagv((uint8_t)*p++));
		vl = (size_t)(p - v);
		/* strictly increasing: sorted, no tag twice */
		if (pk != NULL)
			CHECK(tag_order(pk, pkl, pv, pvl, t, kl, v, vl) < 0);
		pk = t;
		pkl = kl;
		pv = v;
		pvl = vl;
		n++;
		if (p < e)
			p++;
	}
	CHECK(n == ln->ntags);
}

static void
check_event(const struct statsd_line *ln)
{
	const struct statsd_event *ev = ln->event;

	CHECK(ev != NULL && ln->nvalues == 0);
	CHECK(ev->title.len >= 1);
	CHECK(statsd_utf8_valid(ev->title.p, ev->title.len) == ev->title.len);
	CHECK(ev->text.len == 0 ||
	    statsd_utf8_valid(ev->text.p, ev->text.len) == ev->text.len);
	if (ln->kind == STATSD_SERVICE_CHECK)
		CHECK(ev->status >= 0 && ev->status <= 3);
	else
		CHECK(ev->status == -1);
}

static void
check_line(const struct statsd_line *ln)
{
	size_t	i;

	if (ln->kind != STATSD_METRIC) {
		check_event(ln);
		return;
	}
	check_key(ln);
	CHECK((unsigned int)ln->type < STATSD_NTYPES);
	CHECK(ln->rate > 0 && ln->rate <= 1);
	CHECK(ln->nvalues >= 1 && ln->nvalues <= STATSD_VALUES_MAX);
	CHECK((ln->delta != NULL) == (ln->type == STATSD_GAUGE));
	CHECK(ln->type != STATSD_SET || ln->nvalues == 1);
	for (i = 0; i < ln->nvalues; i++) {
		CHECK(isfinite(ln->values[i]));
		if (ln->delta != NULL)
			CHECK(ln->delta[i] == 0 || ln->delta[i] == 1);
	}
}

/*
 * Differential check of the number parser: a prefix of the input made of
 * number characters, parsed as "x:PREFIX|h", must give what strtod gives
 * (with -0 as 0), or be refused exactly when strtod refuses it.
 */
static void
check_number(const uint8_t *data, size_t size)
{
	struct statsd_line	 ln;
	char			 line[80], num[64], *ep;
	size_t			 n = 0;
	enum statsd_reason	 r;
	double			 v;

	while (n < size && n < 40 && data[n] != '\0' &&
	    strchr("0123456789.eE+-", data[n]) != NULL)
		n++;
	if (n == 0)
		return;
	memcpy(num, data, n);
	num[n] = '\0';
	snprintf(line, sizeof line, "x:%s|h", num);
	r = statsd_parse_line(&sp, line, strlen(line), &ln);
	v = strtod(num, &ep);
	if (ep != num + n) {
		CHECK(r == STATSD_BAD_VALUE);
		return;
	}
	if (!isfinite(v)) {
		CHECK(r == STATSD_NAN_INF);
		return;
	}
	CHECK(r == STATSD_OK && ln.nvalues == 1);
	v += 0.0;
	CHECK(memcmp(&v, &ln.values[0], sizeof v) == 0);
}

/* The options a pass runs with: none, then every one. */
static void
set_opts(struct statsd_parser *p, int all)
{
	memset(&p->opts, 0, sizeof(p->opts));
	if (all) {
		p->opts.gauge_delta = p->opts.container_tag = 1;
		p->opts.cardinality_tag = p->opts.timestamps = 1;
		p->opts.now_s = 1700000000;
		p->opts.max_age_s = 60;
	}
}

static int
same_double(double x, double y)
{
	return x == y || (isnan(x) && isnan(y));
}

static struct metrics	*other;		/* check_series() looks here */

/* A series of one registry has its twin, to the bit, in the other. */
static void
check_series(struct series *sa, void *arg)
{
	struct series		*sb = metrics_find_type(other, series_key(sa),
				    series_type(sa));
	struct series_stats	 xa, xb;

	CHECK(sb != NULL);
	series_stats(arg, sa, 1000, &xa);
	series_stats(other, sb, 1000, &xb);
	CHECK(xa.w.count == xb.w.count);
	CHECK(same_double(xa.w.sum, xb.w.sum));
	CHECK(same_double(xa.w.min, xb.w.min));
	CHECK(same_double(xa.w.max, xb.w.max));
	CHECK(same_double(xa.w.p50, xb.w.p50));
	CHECK(same_double(xa.last, xb.last));
	CHECK(same_double(xa.total, xb.total));
}

/* Both ways into a registry must give the same counts and series. */
static void
check_known(const uint8_t *data, size_t size, int all)
{
	static struct statsd_parser	 pa, pb;
	static struct metrics_batch	 b;
	struct statsd_line		 ln;
	struct metrics			*ma, *mb;
	const struct metrics_stats	*xa, *xb;
	int				 pass;

	ma = metrics_new(10, 10, 64);
	mb = metrics_new(10, 10, 64);
	CHECK(ma != NULL && mb != NULL);
	statsd_init(&pa);
	statsd_init(&pb);
	set_opts(&pa, all);
	set_opts(&pb, all);
	metrics_batch_init(&b, &pb);
	for (pass = 0; pass < 2; pass++) {
		statsd_begin(&pa, data, size);
		while (statsd_next(&pa, &ln))
			metrics_add_line(ma, &ln, 1000);
		metrics_batch_datagram(&b, mb, (const char *)data, size, 1000);
		metrics_batch_flush(&b, mb, 1000);
	}
	CHECK(memcmp(&pa.stats, &pb.stats, sizeof(pa.stats)) == 0);
	xa = metrics_stats(ma);
	xb = metrics_stats(mb);
	CHECK(xa->values == xb->values);
	CHECK(xa->values_dropped == xb->values_dropped);
	CHECK(xa->values_refused == xb->values_refused);
	CHECK(xa->series_dropped == xb->series_dropped);
	CHECK(xa->type_conflicts == xb->type_conflicts);
	CHECK(xa->set_full == xb->set_full);
	CHECK(metrics_count(ma) == metrics_count(mb));
	other = mb;
	metrics_foreach(ma, check_series, ma);
	metrics_free(ma);
	metrics_free(mb);
}

static void
one_pass(const uint8_t *data, size_t size, int all)
{
	struct statsd_line	ln;
	uint64_t		good = 0, bad = 0, samples = 0, nl = 0;
	uint64_t		events = 0;
	size_t			i;

	statsd_init(&sp);
	set_opts(&sp, all);
	statsd_begin(&sp, data, size);
	while (statsd_next(&sp, &ln)) {
		check_line(&ln);
		good++;
		samples += ln.nvalues;
		events += ln.kind != STATSD_METRIC;
	}
	CHECK(sp.stats.errors[STATSD_OK] == 0);
	for (i = 0; i < STATSD_NREASONS; i++)
		bad += sp.stats.errors[i];
	CHECK(sp.stats.lines == good + bad);
	CHECK(sp.stats.samples == samples);
	CHECK(sp.stats.events + sp.stats.service_checks == events);
	for (i = 0; i < size; i++)
		nl += data[i] == '\n';
	CHECK(sp.stats.lines <= nl + 1);

	check_number(data, size);
	check_known(data, size, all);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one_pass(data, size, 0);
	one_pass(data, size, 1);
	return 0;
}
