/*
 * test_statsd.c -- cmocka tests for the StatsD parser (statsd.c).
 */
#include <sys/types.h>

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "meshtuned.h"

static struct statsd_parser	sp;

/* Parse one line with statsd_parse_line; return the verdict. */
static enum statsd_reason
line(const char *s, struct statsd_line *ln)
{
	return statsd_parse_line(&sp, s, strlen(s), ln);
}

/* Parse s as a datagram: it must hold exactly one line, dropped for r. */
static void
assert_reason(const char *s, size_t len, enum statsd_reason r)
{
	struct statsd_line	ln;
	int			i;

	statsd_init(&sp);
	statsd_begin(&sp, s, len);
	if (statsd_next(&sp, &ln))
		fail_msg("\"%.*s\" accepted, expected %s", (int)len, s,
		    statsd_reason_name(r));
	assert_int_equal(sp.stats.lines, 1);
	for (i = 0; i < STATSD_NREASONS; i++)
		if (sp.stats.errors[i] != (i == (int)r))
			fail_msg("\"%.*s\": %s counted %llu, expected %s",
			    (int)len, s, statsd_reason_name(i),
			    (unsigned long long)sp.stats.errors[i],
			    statsd_reason_name(r));
}

#define BAD(s, r)	assert_reason((s), strlen(s), (r))

static void
assert_key(const struct statsd_line *ln, const char *key)
{
	assert_int_equal(ln->keylen, strlen(key));
	assert_memory_equal(ln->key, key, ln->keylen);
	assert_true(ln->hash == statsd_hash(key, strlen(key)));
}

static int
setup(void **state)
{
	statsd_init(&sp);
	return 0;
}

static void
test_values(void **state)
{
	static const char *nums[] = {
		"0", "1", "-1", "+1", "12.5", ".5", "5.", "-.25", "0.1",
		"0.3", "123456.789", "9007199254740992", "9007199254740993",
		"1e3", "1E-3", "-2.5e+10", "1.7976931348623157e308",
		"4.9e-324", "1e-400", "12345678901234567890.5",
		"0.0000000000000000000000001", "3.141592653589793238462643",
		"00000000000000000000000000001.5", "2.2250738585072014e-308",
		"0.1000000000000000055511151231257827", "1234567.1234567",
		"99999999999999999999", "18446744073709551616",
	};
	struct statsd_line	ln;
	char			buf[128];
	size_t			i;
	double			want;

	for (i = 0; i < nitems(nums); i++) {
		snprintf(buf, sizeof buf, "x:%s|h", nums[i]);
		assert_int_equal(line(buf, &ln), STATSD_OK);
		want = strtod(nums[i], NULL) + 0.0;
		if (memcmp(&want, &ln.values[0], sizeof want) != 0)
			fail_msg("%s: got %.17g, strtod %.17g", nums[i],
			    ln.values[0], want);
	}
	/* -0 is 0, also for timers */
	assert_int_equal(line("t:-0|ms", &ln), STATSD_OK);
	assert_false(signbit(ln.values[0]));
	assert_int_equal(line("t:-0.0e5|ms", &ln), STATSD_OK);
	assert_false(signbit(ln.values[0]));
}

/* Many random decimals: the hand-written path must equal strtod exactly. */
static void
test_values_exact(void **state)
{
	struct statsd_line	ln;
	char			num[64], buf[96];
	uint64_t		x = 88172645463325252ULL;
	int			i, ip, fp, nfrac;
	double			want;

	for (i = 0; i < 200000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		nfrac = (int)(x % 10);
		ip = (int)((x >> 8) % 1000000);
		fp = (int)((x >> 32) % 1000000000);
		snprintf(num, sizeof num, "%d.%0*d", ip, nfrac, nfrac ?
		    fp % (int)pow(10, nfrac) : 0);
		if (nfrac == 0)
			snprintf(num, sizeof num, "%d", ip);
		snprintf(buf, sizeof buf, "x:%s|d", num);
		assert_int_equal(line(buf, &ln), STATSD_OK);
		want = strtod(num, NULL);
		if (memcmp(&want, &ln.values[0], sizeof want) != 0)
			fail_msg("%s: got %.17g, strtod %.17g", num,
			    ln.values[0], want);
	}
}

/* Where a rule comes from; every case names one. */
#define DD	"DogStatsD datagram format (docs.datadoghq.com)"
#define DDA	"DogStatsD agent parser (comp/dogstatsd/server)"
#define ETSY	"Etsy statsd (stats.js, lib/helpers.js)"
#define MT	"meshtune: identity must stay unambiguous"
#define MTJ	"meshtune: names end up in JSON (UTF-8)"

/* Parser options a case runs with. */
enum popts {
	O_DEFAULT,		/* all zero: DogStatsD gauges, extras ignored */
	O_DELTA,		/* gauge_delta: Etsy gauges */
	O_TAGS,			/* container_tag and cardinality_tag */
	O_TS			/* timestamps, now 1000000, max age 60 */
};

/* One rule: a line, its verdict, and for a good line what it gives. */
struct rule {
	const char		*src;
	enum popts		 opts;
	const char		*line;
	enum statsd_reason	 r;
	const char		*key;	/* metrics: the series key */
	enum statsd_kind	 kind;
	int			 type;	/* metrics */
	size_t			 nvalues;
	double			 v0;	/* first value as stored */
	double			 rate;
	int			 delta0;	/* gauges: first value a delta */
	unsigned int		 ignored;	/* fields ignored */
};

#define OK_M(src, o, l, key, type, n, v0, rate, d, ign) \
	{ src, o, l, STATSD_OK, key, STATSD_METRIC, type, n, v0, rate, d, ign }
#define OK_E(src, o, l, kind, ign) \
	{ src, o, l, STATSD_OK, NULL, kind, 0, 0, 0, 1, 0, ign }
#define NO(src, o, l, r) \
	{ src, o, l, r, NULL, STATSD_METRIC, 0, 0, 0, 1, 0, 0 }

static const struct rule rules[] = {
	/* types */
	OK_M(DD, O_DEFAULT, "net.rtt_ms:12.5|ms", "net.rtt_ms", STATSD_TIMER,
	    1, 12.5, 1, 0, 0),
	OK_M(DD, O_DEFAULT, "net.rtt_ms:12.5|h", "net.rtt_ms",
	    STATSD_HISTOGRAM, 1, 12.5, 1, 0, 0),
	OK_M(DD, O_DEFAULT, "net.rtt_ms:12.5|d", "net.rtt_ms",
	    STATSD_DISTRIBUTION, 1, 12.5, 1, 0, 0),
	OK_M(DD, O_DEFAULT, "net.rtt_ms:12.5|g", "net.rtt_ms", STATSD_GAUGE,
	    1, 12.5, 1, 0, 0),
	OK_M(DD, O_DEFAULT, "net.rtt_ms:12.5|c", "net.rtt_ms", STATSD_COUNTER,
	    1, 12.5, 1, 0, 0),
	OK_M(DD, O_DEFAULT, "users:alice|s", "users", STATSD_SET, 1, 1, 1, 0,
	    0),
	OK_M(DDA, O_DEFAULT, "users:a:b c|s", "users", STATSD_SET, 1, 1, 1, 0,
	    0),				/* a member is all up to "|" */
	NO(DDA, O_DEFAULT, "users:|s", STATSD_BAD_VALUE),
	NO(DDA, O_DEFAULT, "foo:1|x", STATSD_BAD_TYPE),
	NO(DDA, O_DEFAULT, "foo:1|MS", STATSD_BAD_TYPE),
	NO(DDA, O_DEFAULT, "foo:1|msx", STATSD_BAD_TYPE),
	NO(DDA, O_DEFAULT, "foo:1", STATSD_BAD_TYPE),
	NO(DDA, O_DEFAULT, "foo:1||c", STATSD_BAD_TYPE),
	NO(DDA, O_DEFAULT, "foo:1|c:2|ms", STATSD_BAD_TYPE), /* Etsy multi */
	/* values */
	OK_M(DD, O_DEFAULT, "rtt:1:2.5:3|ms", "rtt", STATSD_TIMER, 3, 1, 1,
	    0, 0),			/* DogStatsD 1.1 packed values */
	NO(DDA, O_DEFAULT, "rtt:1:x:3|ms", STATSD_BAD_VALUE),
	NO(DDA, O_DEFAULT, "foo:|c", STATSD_BAD_VALUE),
	NO(DDA, O_DEFAULT, "foo|c", STATSD_BAD_VALUE),
	NO(DDA, O_DEFAULT, "foo:0x10|c", STATSD_BAD_VALUE),
	NO(MT, O_DEFAULT, "foo:nan|g", STATSD_NAN_INF),	/* windows hold none */
	NO(MT, O_DEFAULT, "foo:+Infinity|c", STATSD_NAN_INF),
	OK_M(DDA, O_DEFAULT, "t:-5|ms", "t", STATSD_TIMER, 1, -5, 1, 0, 0),
	OK_M(ETSY, O_DEFAULT, "t:-0.5|ms", "t", STATSD_TIMER, 1, -0.5, 1, 0,
	    0),				/* helpers.js: any number for ms */
	OK_M(DDA, O_DEFAULT, "h:-8|h", "h", STATSD_HISTOGRAM, 1, -8, 1, 0, 0),
	OK_M(DDA, O_DEFAULT, "d:-8|d", "d", STATSD_DISTRIBUTION, 1, -8, 1, 0,
	    0),
	OK_M(DDA, O_DEFAULT, "c:-8|c", "c", STATSD_COUNTER, 1, -8, 1, 0, 0),
	/* gauge signs */
	OK_M(DDA, O_DEFAULT, "g:-5|g", "g", STATSD_GAUGE, 1, -5, 1, 0, 0),
	OK_M(DDA, O_DEFAULT, "g:+5|g", "g", STATSD_GAUGE, 1, 5, 1, 0, 0),
	OK_M(ETSY, O_DELTA, "g:-5|g", "g", STATSD_GAUGE, 1, -5, 1, 1, 0),
	OK_M(ETSY, O_DELTA, "g:+5|g", "g", STATSD_GAUGE, 1, 5, 1, 1, 0),
	OK_M(ETSY, O_DELTA, "g:5|g", "g", STATSD_GAUGE, 1, 5, 1, 0, 0),
	/* sample rates */
	OK_M(DD, O_DEFAULT, "ops:1|c|@0.1", "ops", STATSD_COUNTER, 1, 10, 0.1,
	    0, 0),
	OK_M(DD, O_DEFAULT, "a:320|ms|@0.1", "a", STATSD_TIMER, 1, 320, 0.1,
	    0, 0),			/* the registry counts it 10 times */
	OK_M(DD, O_DEFAULT, "a:320|h|@0.5", "a", STATSD_HISTOGRAM, 1, 320,
	    0.5, 0, 0),
	OK_M(DD, O_DEFAULT, "g:4|g|@0.25", "g", STATSD_GAUGE, 1, 4, 0.25, 0,
	    0),
	NO(MT, O_DEFAULT, "ops:1|c|@0", STATSD_BAD_RATE),	/* no meaning */
	NO(MT, O_DEFAULT, "ops:1|c|@1.5", STATSD_BAD_RATE),
	NO(DDA, O_DEFAULT, "ops:1|c|@x", STATSD_BAD_RATE),
	NO(ETSY, O_DEFAULT, "ops:1|c|@-0.5", STATSD_BAD_RATE),
	NO(MT, O_DEFAULT, "ops:1e308|c|@0.001", STATSD_NAN_INF),
	OK_M(DDA, O_DEFAULT, "ops:1|c|@0.5|@0.25", "ops", STATSD_COUNTER, 1,
	    4, 0.25, 0, 0),		/* the last field counts */
	/* tags */
	OK_M(DD, O_DEFAULT, "m:1|c|#zeta:1,alpha:2,mid:x",
	    "m{alpha=2,mid=x,zeta=1}", STATSD_COUNTER, 1, 1, 1, 0, 0),
	OK_M(DD, O_DEFAULT, "m:1|c|#canary", "m{canary=}", STATSD_COUNTER, 1,
	    1, 1, 0, 0),
	OK_M(DDA, O_DEFAULT, "m:1|c|#a:1,a:2", "m{a=1,a=2}", STATSD_COUNTER,
	    1, 1, 1, 0, 0),		/* a repeated key is kept */
	OK_M(DDA, O_DEFAULT, "m:1|c|#a:2,a:1,a:2", "m{a=1,a=2}",
	    STATSD_COUNTER, 1, 1, 1, 0, 0), /* the same tag counts once */
	OK_M(DDA, O_DEFAULT, "m:1|c|#city:S\xc3\xa3o Paulo",
	    "m{city=S\xc3\xa3o Paulo}", STATSD_COUNTER, 1, 1, 1, 0, 0),
	OK_M(DDA, O_DEFAULT, "m:1|c|#route:/u/{id},q:a=b",
	    "m{q=a=b,route=/u/{id}}", STATSD_COUNTER, 1, 1, 1, 0, 0),
	OK_M(DDA, O_DEFAULT, "m:1|c|#a:1,,b:2,", "m{a=1,b=2}",
	    STATSD_COUNTER, 1, 1, 1, 0, 0), /* empty tags skipped */
	OK_M(DDA, O_DEFAULT, "m:1|c|#", "m", STATSD_COUNTER, 1, 1, 1, 0, 0),
	OK_M(DDA, O_DEFAULT, "m:1|c|#a:1|#b:2", "m{b=2}", STATSD_COUNTER, 1,
	    1, 1, 0, 0),		/* the last field counts */
	NO(MT, O_DEFAULT, "m:1|c|#:v", STATSD_BAD_TAG),	/* no label name */
	NO(MT, O_DEFAULT, "m:1|c|#a=b:1", STATSD_BAD_TAG),
	NO(MT, O_DEFAULT, "m:1|c|#a{b:1", STATSD_BAD_TAG),
	NO(MTJ, O_DEFAULT, "m:1|c|#a:\xff", STATSD_BAD_TAG),
	NO(MTJ, O_DEFAULT, "m:1|c|#a:\xc3", STATSD_BAD_TAG),
	NO(MTJ, O_DEFAULT, "m:1|c|#a:x\ty", STATSD_BAD_TAG),
	/* names */
	OK_M(DDA, O_DEFAULT, "caf\xc3\xa9.lat\xc3\xaancia:1|ms",
	    "caf\xc3\xa9.lat\xc3\xaancia", STATSD_TIMER, 1, 1, 1, 0, 0),
	OK_M(DDA, O_DEFAULT, "a b/c#d@e:1|c", "a b/c#d@e", STATSD_COUNTER, 1,
	    1, 1, 0, 0),
	NO(MT, O_DEFAULT, "a{x}:1|c", STATSD_BAD_NAME),
	NO(DDA, O_DEFAULT, ":1|c", STATSD_BAD_NAME),
	NO(DDA, O_DEFAULT, "|c", STATSD_BAD_NAME),
	NO(MTJ, O_DEFAULT, "a\xff:1|c", STATSD_BAD_NAME),
	NO(MTJ, O_DEFAULT, "a\xed\xa0\x80:1|c", STATSD_BAD_NAME), /* surrogate */
	NO(MTJ, O_DEFAULT, "a\xc0\xaf:1|c", STATSD_BAD_NAME),	/* overlong */
	NO(MTJ, O_DEFAULT, "a\x01:1|c", STATSD_BAD_NAME),
	/* extension fields */
	OK_M(DD, O_DEFAULT, "m:1|c|c:abc123", "m", STATSD_COUNTER, 1, 1, 1, 0,
	    0),			/* container id ignored by default */
	OK_M(DD, O_TAGS, "m:1|c|#a:1|c:abc123", "m{a=1,container_id=abc123}",
	    STATSD_COUNTER, 1, 1, 1, 0, 0),
	OK_M(DDA, O_TAGS, "m:1|c|c:ci-abc,in-42", "m{container_id=abc}",
	    STATSD_COUNTER, 1, 1, 1, 0, 0),
	OK_M(DDA, O_TAGS, "m:1|c|c:in-42,cid-abc", "m{container_id=abc}",
	    STATSD_COUNTER, 1, 1, 1, 0, 0),
	OK_M(DDA, O_TAGS, "m:1|c|c:in-42", "m", STATSD_COUNTER, 1, 1, 1, 0,
	    0),			/* an inode alone names no container */
	OK_M(DD, O_DEFAULT, "m:1|c|card:high", "m", STATSD_COUNTER, 1, 1, 1, 0,
	    0),
	OK_M(DD, O_TAGS, "m:1|c|card:high", "m{cardinality=high}",
	    STATSD_COUNTER, 1, 1, 1, 0, 0),
	OK_M(DD, O_DEFAULT, "m:1|c|e:it-false,cn-x", "m", STATSD_COUNTER, 1, 1,
	    1, 0, 0),
	OK_M(DD, O_DEFAULT, "m:1|c|T1656581400", "m", STATSD_COUNTER, 1, 1, 1,
	    0, 0),			/* timestamps ignored by default */
	OK_M(DD, O_TS, "m:1|c|T999990", "m", STATSD_COUNTER, 1, 1, 1, 0, 0),
	NO(MT, O_TS, "m:1|c|T999900", STATSD_STALE),
	NO(DDA, O_TS, "m:1|c|Tnow", STATSD_BAD_FIELD),
	NO(DDA, O_TS, "m:1|c|T0", STATSD_BAD_FIELD),
	OK_M(DDA, O_DEFAULT, "m:1|c|x:future", "m", STATSD_COUNTER, 1, 1, 1, 0,
	    1),			/* unknown fields are ignored */
	OK_M(DDA, O_DEFAULT, "m:1|c|", "m", STATSD_COUNTER, 1, 1, 1, 0, 1),
	OK_M(DDA, O_DEFAULT, "m:1|ms|@0.5|#a:b|c:x|T1|card:low|e:y|zz", "m{a=b}",
	    STATSD_TIMER, 1, 1, 0.5, 0, 1),
	/* events */
	OK_E(DD, O_DEFAULT, "_e{5,4}:title|text", STATSD_EVENT, 0),
	OK_E(DD, O_DEFAULT, "_e{5,10}:title|two\\nlines|d:1656581400|h:node1"
	    "|p:low|t:warning|k:agg|s:src|#a:1,b", STATSD_EVENT, 0),
	OK_E(DDA, O_DEFAULT, "_e{3,3}:a|b|c|d", STATSD_EVENT, 0),
	OK_E(DDA, O_DEFAULT, "_e{1,0}:t|", STATSD_EVENT, 0),
	OK_E(DDA, O_DEFAULT, "_e{1,1}:t|x|p:urgent|zz:1", STATSD_EVENT, 2),
	NO(DDA, O_DEFAULT, "_e{0,4}:|text", STATSD_BAD_EVENT),
	NO(DDA, O_DEFAULT, "_e{5,40}:title|text", STATSD_BAD_EVENT),
	NO(DDA, O_DEFAULT, "_e{x,4}:title|text", STATSD_BAD_EVENT),
	NO(DDA, O_DEFAULT, "_e{5,4:title|text", STATSD_BAD_EVENT),
	NO(MT, O_DEFAULT, "_e{4,4}:title|text", STATSD_BAD_EVENT),
	NO(MTJ, O_DEFAULT, "_e{1,2}:\xc3\xa9|t", STATSD_BAD_EVENT),
	/* service checks */
	OK_E(DD, O_DEFAULT, "_sc|db.up|0", STATSD_SERVICE_CHECK, 0),
	OK_E(DD, O_DEFAULT, "_sc|db.up|2|d:1656581400|h:node1|#a:1|m:down: "
	    "disk | full", STATSD_SERVICE_CHECK, 0),
	OK_E(DDA, O_DEFAULT, "_sc|db.up|3|p:low", STATSD_SERVICE_CHECK, 1),
	NO(DDA, O_DEFAULT, "_sc|db.up|4", STATSD_BAD_SERVICE_CHECK),
	NO(DDA, O_DEFAULT, "_sc||0", STATSD_BAD_SERVICE_CHECK),
	NO(DDA, O_DEFAULT, "_sc|db.up", STATSD_BAD_SERVICE_CHECK),
	NO(DDA, O_DEFAULT, "_sc|db.up|01", STATSD_BAD_SERVICE_CHECK),
	OK_M(MT, O_DEFAULT, "_scx:1|c", "_scx", STATSD_COUNTER, 1, 1, 1, 0,
	    0),			/* only "_sc|" starts a service check */
	/* left to right: the first problem names the reason */
	NO(MT, O_DEFAULT, "a{:x|zz", STATSD_BAD_NAME),
	NO(MT, O_DEFAULT, "a:x|zz", STATSD_BAD_VALUE),
	NO(MT, O_DEFAULT, "a:-1|zz", STATSD_BAD_TYPE),
	NO(MT, O_DEFAULT, "a:-1|ms|@2", STATSD_BAD_RATE),
};

static void
rule_opts(struct statsd_parser *p, enum popts o)
{
	memset(&p->opts, 0, sizeof(p->opts));
	switch (o) {
	case O_DELTA:
		p->opts.gauge_delta = 1;
		break;
	case O_TAGS:
		p->opts.container_tag = p->opts.cardinality_tag = 1;
		break;
	case O_TS:
		p->opts.timestamps = 1;
		p->opts.now_s = 1000000;
		p->opts.max_age_s = 60;
		break;
	default:
		break;
	}
}

/* Every rule, through statsd_next() as the daemon reads a datagram. */
static void
test_rules(void **state)
{
	const struct rule	*t;
	struct statsd_line	 ln;
	size_t			 i;
	int			 r, got;

	for (i = 0; i < nitems(rules); i++) {
		t = &rules[i];
		statsd_init(&sp);
		rule_opts(&sp, t->opts);
		statsd_begin(&sp, t->line, strlen(t->line));
		got = statsd_next(&sp, &ln);
		if (t->r != STATSD_OK) {
			if (got)
				fail_msg("\"%s\" (%s): accepted, expected %s",
				    t->line, t->src, statsd_reason_name(t->r));
			for (r = 0; r < STATSD_NREASONS; r++)
				if (sp.stats.errors[r] != (r == (int)t->r))
					fail_msg("\"%s\" (%s): %s counted, "
					    "expected %s", t->line, t->src,
					    statsd_reason_name(r),
					    statsd_reason_name(t->r));
			continue;
		}
		if (!got)
			for (r = 0; r < STATSD_NREASONS; r++)
				if (sp.stats.errors[r] != 0)
					fail_msg("\"%s\" (%s): refused as %s",
					    t->line, t->src,
					    statsd_reason_name(r));
		assert_int_equal(ln.kind, t->kind);
		if (ln.ignored != t->ignored)
			fail_msg("\"%s\" (%s): %u fields ignored, expected %u",
			    t->line, t->src, ln.ignored, t->ignored);
		assert_int_equal(sp.stats.fields_ignored, t->ignored);
		if (t->kind != STATSD_METRIC) {
			assert_non_null(ln.event);
			assert_int_equal(t->kind == STATSD_EVENT ?
			    sp.stats.events : sp.stats.service_checks, 1);
			continue;
		}
		if (ln.keylen != strlen(t->key) ||
		    memcmp(ln.key, t->key, ln.keylen) != 0)
			fail_msg("\"%s\" (%s): key \"%.*s\", expected \"%s\"",
			    t->line, t->src, (int)ln.keylen, ln.key, t->key);
		assert_true(ln.hash == statsd_hash(ln.key, ln.keylen));
		if ((int)ln.type != t->type || ln.nvalues != t->nvalues ||
		    ln.values[0] != t->v0 || ln.rate != t->rate)
			fail_msg("\"%s\" (%s): type %s, %zu values, first %g, "
			    "rate %g", t->line, t->src,
			    statsd_type_name(ln.type), ln.nvalues,
			    ln.values[0], ln.rate);
		assert_int_equal(ln.delta != NULL, t->type == STATSD_GAUGE);
		if (ln.delta != NULL)
			assert_int_equal(ln.delta[0], t->delta0);
		assert_int_equal(sp.stats.samples, ln.nvalues);
	}
}

/* What an event and a service check carry. */
static void
test_event_fields(void **state)
{
	struct statsd_line	 ln;
	const struct statsd_event *ev;
	static const char	 e[] = "_e{5,10}:ti|le|two\\nlines|d:1656581400"
	    "|h:node1|p:low|t:warning|k:agg|s:src|#b,a:1";
	static const char	 c[] = "_sc|db.up|2|h:n|#z:1|m:disk | full";

	statsd_init(&sp);
	assert_int_equal(statsd_parse_line(&sp, e, strlen(e), &ln), STATSD_OK);
	ev = ln.event;
	assert_int_equal(ev->status, -1);
	assert_memory_equal(ev->title.p, "ti|le", 5);
	assert_int_equal(ev->text.len, 10);
	assert_memory_equal(ev->text.p, "two\\nlines", 10);
	assert_int_equal(ev->timestamp, 1656581400);
	assert_memory_equal(ev->hostname.p, "node1", ev->hostname.len);
	assert_memory_equal(ev->priority.p, "low", ev->priority.len);
	assert_memory_equal(ev->alert_type.p, "warning", 7);
	assert_memory_equal(ev->aggregation_key.p, "agg", 3);
	assert_memory_equal(ev->source_type.p, "src", 3);
	assert_int_equal(ev->tags.len, 6);
	assert_memory_equal(ev->tags.p, "a=1,b=", 6);

	assert_int_equal(statsd_parse_line(&sp, c, strlen(c), &ln), STATSD_OK);
	ev = ln.event;
	assert_int_equal(ln.kind, STATSD_SERVICE_CHECK);
	assert_int_equal(ev->status, 2);
	assert_int_equal(ev->title.len, 5);
	assert_memory_equal(ev->title.p, "db.up", 5);
	assert_int_equal(ev->text.len, 11);	/* m: takes the rest */
	assert_memory_equal(ev->text.p, "disk | full", 11);
	assert_memory_equal(ev->tags.p, "z=1", 3);
}

/* Limits: as generous as the peers', and each refusal named. */
static void
test_limits(void **state)
{
	static char		 buf[STATSD_LINE_MAX + 64];
	struct statsd_line	 ln;
	size_t			 i, n;

	/* A key of STATSD_KEY_MAX bytes is fine, one more too long. */
	memset(buf, 'n', STATSD_KEY_MAX);
	memcpy(buf + STATSD_KEY_MAX, ":1|c", 5);
	assert_int_equal(line(buf, &ln), STATSD_OK);
	assert_int_equal(ln.namelen, STATSD_KEY_MAX);
	memset(buf, 'n', STATSD_KEY_MAX + 1);
	memcpy(buf + STATSD_KEY_MAX + 1, ":1|c", 5);
	BAD(buf, STATSD_TOO_LONG);
	/* 1024 tags, given in reverse, come out sorted; 1025 too many. */
	n = (size_t)snprintf(buf, sizeof buf, "m:1|c|#");
	for (i = STATSD_TAGS_MAX; i > 0; i--)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "t%04zu:%zu%s",
		    i, i, i > 1 ? "," : "");
	assert_int_equal(line(buf, &ln), STATSD_OK);
	assert_int_equal(ln.ntags, STATSD_TAGS_MAX);
	assert_memory_equal(ln.key, "m{t0001=1,t0002=2,", 18);
	snprintf(buf + n, sizeof buf - n, ",t9999:1");
	BAD(buf, STATSD_TOO_LONG);
	/* A tag value of 8 KiB (the agent's buffer) is kept. */
	n = (size_t)snprintf(buf, sizeof buf, "m:1|c|#k:");
	memset(buf + n, 'v', 8192);
	buf[n + 8192] = '\0';
	assert_int_equal(line(buf, &ln), STATSD_OK);
	assert_int_equal(ln.keylen, 2 + 2 + 8192 + 1);
	/* 4096 values on a line; 4097 too many. */
	n = (size_t)snprintf(buf, sizeof buf, "mm:1");
	for (i = 1; i < STATSD_VALUES_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, ":1");
	memcpy(buf + n, "|c", 3);
	assert_int_equal(line(buf, &ln), STATSD_OK);
	assert_int_equal(ln.nvalues, STATSD_VALUES_MAX);
	memcpy(buf + n, ":1|c", 5);
	BAD(buf, STATSD_TOO_LONG);
	/* A line past STATSD_LINE_MAX, whatever it holds. */
	memset(buf, 0xff, STATSD_LINE_MAX + 1);
	assert_reason(buf, STATSD_LINE_MAX + 1, STATSD_TOO_LONG);
}

static void
test_errors(void **state)
{
	size_t	i;
	static const struct {
		enum statsd_reason	 r;
		const char		*name;
	} names[] = {
		{ STATSD_BAD_NAME, "bad_name" },
		{ STATSD_BAD_VALUE, "bad_value" },
		{ STATSD_BAD_TYPE, "bad_type" },
		{ STATSD_BAD_RATE, "bad_rate" },
		{ STATSD_BAD_TAG, "bad_tag" },
		{ STATSD_BAD_FIELD, "bad_field" },
		{ STATSD_TOO_LONG, "too_long" },
		{ STATSD_NAN_INF, "nan_inf" },
		{ STATSD_BAD_EVENT, "bad_event" },
		{ STATSD_BAD_SERVICE_CHECK, "bad_service_check" },
		{ STATSD_STALE, "stale" },
	};

	assert_int_equal(nitems(names), STATSD_NREASONS - 1);
	for (i = 0; i < nitems(names); i++)
		assert_string_equal(statsd_reason_name(names[i].r),
		    names[i].name);
	assert_string_equal(statsd_reason_name(STATSD_NREASONS), "unknown");
	assert_string_equal(statsd_type_name(STATSD_SET), "set");
	assert_string_equal(statsd_type_name(STATSD_NTYPES), "unknown");
}

static void
test_datagram(void **state)
{
	static const char dg[] =
	    "good.a:1|c\n"
	    "bad{name:1|c\n"
	    "\n"
	    "good.b:2.5|ms|#peer:x\n"
	    "good.c:3|q\n"
	    "good.d:-1|ms|#a:\xff\n"
	    "\r\n"
	    "good.e:+4|g\r\n"
	    "good.f:nan|h\n"
	    "good.g:1|c|@2\n"
	    "good.h:1|c|#a,a\n"
	    "good.i:1|c|z\n"
	    "_e{1,1}:t|x\n"
	    "_sc|x|9\n"
	    "good.j:5:6|d";			/* no final newline */
	static const char *keys[] = {
		"good.a", "good.b{peer=x}", "good.e", "good.h{a=}", "good.i",
		NULL, "good.j"
	};
	struct statsd_line	ln;
	size_t			n = 0;
	int			i;

	statsd_init(&sp);
	statsd_begin(&sp, dg, sizeof dg - 1);
	while (statsd_next(&sp, &ln)) {
		assert_true(n < nitems(keys));
		if (keys[n] == NULL)
			assert_int_equal(ln.kind, STATSD_EVENT);
		else
			assert_key(&ln, keys[n]);
		n++;
	}
	assert_int_equal(n, 7);
	assert_int_equal(ln.nvalues, 2);	/* the last good one */
	assert_int_equal(sp.stats.lines, 13);	/* empty ones not counted */
	assert_int_equal(sp.stats.samples, 1 + 1 + 1 + 1 + 1 + 2);
	assert_int_equal(sp.stats.events, 1);
	assert_int_equal(sp.stats.fields_ignored, 1);
	assert_int_equal(sp.stats.errors[STATSD_OK], 0);
	assert_int_equal(sp.stats.errors[STATSD_BAD_NAME], 1);
	assert_int_equal(sp.stats.errors[STATSD_BAD_TYPE], 1);
	assert_int_equal(sp.stats.errors[STATSD_BAD_TAG], 1);
	assert_int_equal(sp.stats.errors[STATSD_NAN_INF], 1);
	assert_int_equal(sp.stats.errors[STATSD_BAD_RATE], 1);
	assert_int_equal(sp.stats.errors[STATSD_BAD_SERVICE_CHECK], 1);
	for (i = 0; i < STATSD_NREASONS; i++)
		n += sp.stats.errors[i];
	assert_int_equal(n, 13);

	/* counters accumulate across datagrams until statsd_init */
	statsd_begin(&sp, "x:1|c\n", 6);
	assert_int_equal(statsd_next(&sp, &ln), 1);
	assert_int_equal(statsd_next(&sp, &ln), 0);
	assert_int_equal(statsd_next(&sp, &ln), 0);
	assert_int_equal(sp.stats.lines, 14);
}

static void
test_newlines(void **state)
{
	struct statsd_line	ln;

	statsd_init(&sp);
	statsd_begin(&sp, "a:1|c", 5);		/* no newline at all */
	assert_int_equal(statsd_next(&sp, &ln), 1);
	assert_key(&ln, "a");
	assert_int_equal(statsd_next(&sp, &ln), 0);

	statsd_begin(&sp, "a:1|c\r", 6);	/* CR at the end */
	assert_int_equal(statsd_next(&sp, &ln), 1);
	assert_int_equal(ln.type, STATSD_COUNTER);

	statsd_begin(&sp, "\n\n\r\n\n", 5);	/* only empty lines */
	assert_int_equal(statsd_next(&sp, &ln), 0);
	statsd_begin(&sp, "", 0);
	assert_int_equal(statsd_next(&sp, &ln), 0);
	assert_int_equal(sp.stats.lines, 2);

	/* one CR is stripped, not two, and not one in the middle */
	BAD("a:1|c\r\r\n", STATSD_BAD_TYPE);
	BAD("a:1\r|c", STATSD_BAD_VALUE);
	BAD("a\r:1|c", STATSD_BAD_NAME);
}

static void
test_garbage(void **state)
{
	struct statsd_line	 ln;
	uint8_t			 buf[4096];
	uint64_t		 x = 0x9e3779b97f4a7c15ULL, bad;
	size_t			 i, good;
	int			 round, r;
	static const char	 nul[] = "a:1|c\0\nb\0:1|c\nc:1\0|c\nd:1|c|#k:\0\n"
	    "\0\0\0\n\0\ne:1|c";

	/* NUL bytes are ordinary bad characters, not terminators */
	statsd_init(&sp);
	statsd_begin(&sp, nul, sizeof nul - 1);
	good = 0;
	while (statsd_next(&sp, &ln)) {
		assert_key(&ln, "e");
		good++;
	}
	assert_int_equal(good, 1);
	assert_int_equal(sp.stats.lines, 7);
	assert_int_equal(sp.stats.errors[STATSD_BAD_TYPE], 1);
	assert_int_equal(sp.stats.errors[STATSD_BAD_NAME], 3);
	assert_int_equal(sp.stats.errors[STATSD_BAD_VALUE], 1);
	assert_int_equal(sp.stats.errors[STATSD_BAD_TAG], 1);

	/* random bytes: counts add up, and good lines stay well-formed */
	for (round = 0; round < 2000; round++) {
		for (i = 0; i < sizeof buf; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* bias towards the syntax so some lines parse */
			buf[i] = (x & 3) ? "a1:|#,@.\n-+gcmsh"[(x >> 8) & 15] :
			    (uint8_t)(x >> 16);
		}
		statsd_init(&sp);
		statsd_begin(&sp, buf, sizeof buf);
		good = 0;
		while (statsd_next(&sp, &ln)) {
			good++;
			assert_true(ln.namelen >= 1 && ln.nvalues >= 1);
			assert_true(ln.hash == statsd_hash(ln.key, ln.keylen));
			for (i = 0; i < ln.nvalues; i++)
				assert_true(isfinite(ln.values[i]));
		}
		bad = 0;
		for (r = 0; r < STATSD_NREASONS; r++)
			bad += sp.stats.errors[r];
		assert_int_equal(sp.stats.lines, good + bad);
	}
}

/* A full 64 KiB datagram of short lines: every line read and counted. */
static void
test_big_datagram(void **state)
{
	static char		 buf[65536];
	struct statsd_line	 ln;
	size_t			 n = 0, lines = 0, good = 0;
	int			 w;

	while (n + 40 < sizeof buf) {
		w = snprintf(buf + n, sizeof buf - n,
		    "s%zu:%zu|ms|#peer:p%zu\n", lines % 100, lines, lines % 7);
		n += (size_t)w;
		lines++;
	}
	statsd_init(&sp);
	statsd_begin(&sp, buf, n);
	while (statsd_next(&sp, &ln)) {
		assert_true(ln.values[0] == (double)good);
		good++;
	}
	assert_int_equal(good, lines);
	assert_int_equal(sp.stats.lines, lines);
}

static void
count_cb(const struct statsd_line *ln, void *arg)
{
	double	*sum = arg;

	*sum += ln->values[0];
}

static void
test_parse_cb(void **state)
{
	static const char	dg[] = "a:1|c\nb:x|c\nc:2|ms\nd:4|g\n";
	double			sum = 0;

	statsd_init(&sp);
	assert_int_equal(statsd_parse(&sp, dg, sizeof dg - 1, count_cb, &sum),
	    3);
	assert_true(sum == 7);
	assert_int_equal(sp.stats.lines, 4);
	assert_int_equal(sp.stats.errors[STATSD_BAD_VALUE], 1);
}

/* The grammar's character sets, ASCII part (statsd.c). */
static int
spec_name(int c)
{
	return c >= ' ' && c <= '~' && strchr(":|{}", c) == NULL;
}

static int
spec_tagk(int c)
{
	return c >= ' ' && c <= '~' && strchr(",|:={}", c) == NULL;
}

static int
spec_tagv(int c)
{
	return c >= ' ' && c <= '~' && strchr(",|", c) == NULL;
}

/*
 * Every byte value in a name, a tag key and a tag value, on the 16-byte
 * (SSE2) path and on the byte path, against the grammar's character sets
 * (a byte of 0x80 and up alone is never valid UTF-8).
 */
static void
test_charset(void **state)
{
	struct statsd_line	ln;
	char			buf[128];
	size_t			len;
	ptrdiff_t		pos;
	int			b, i, want;
	static const char	*fmt[] = {
		"aaaaa%caaaaaaaaaaaaaaaaaaaa:1|c",	/* long name */
		"a%cb:1|c",				/* short name */
		"m:1|c|#kkkkk%ckkkkkkkkkkkkkkkkkkk:v",	/* long tag key */
		"m:1|c|#k%cj:v",			/* short tag key */
		"m:1|c|#k:vvvvv%cvvvvvvvvvvvvvvvvvvv",	/* long value */
		"m:1|c|#k:v%cw",			/* short value */
	};

	for (i = 0; i < (int)nitems(fmt); i++) {
		for (b = 1; b < 256; b++) {
			/* put byte b where the template has "%c" */
			pos = strstr(fmt[i], "%c") - fmt[i];
			memcpy(buf, fmt[i], (size_t)pos);
			buf[pos] = (char)b;
			len = strlen(fmt[i]) - 1;
			memcpy(buf + pos + 1, fmt[i] + pos + 2, len - (size_t)pos);
			if (i < 2)
				want = spec_name(b) ? STATSD_OK : (b == ':' ||
				    b == '|') ? STATSD_BAD_VALUE :
				    STATSD_BAD_NAME;
			else if (i < 4)
				want = spec_tagk(b) || b == ':' || b == ',' ||
				    b == '|' ? STATSD_OK : STATSD_BAD_TAG;
			else
				want = spec_tagv(b) || b == ',' || b == '|' ?
				    STATSD_OK : STATSD_BAD_TAG;
			if ((int)statsd_parse_line(&sp, buf, len, &ln) != want)
				fail_msg("byte 0x%02x in \"%s\": got %s, want "
				    "%s", b, fmt[i], statsd_reason_name(
				    statsd_parse_line(&sp, buf, len, &ln)),
				    statsd_reason_name(want));
		}
	}
}

/* UTF-8: what is valid in a name, byte for byte (statsd_utf8_valid). */
static void
test_utf8(void **state)
{
	static const struct {
		const char	*s;
		int		 ok;
	} t[] = {
		{ "plain", 1 }, { "\xc3\xa9", 1 }, { "\xe2\x82\xac", 1 },
		{ "\xf0\x9f\x8e\xae", 1 }, { "\xef\xbf\xbf", 1 },
		{ "\xf4\x8f\xbf\xbf", 1 },		/* U+10FFFF */
		{ "\xc3", 0 }, { "\x80", 0 }, { "\xc1\xbf", 0 },
		{ "\xe0\x9f\xbf", 0 }, { "\xed\xa0\x80", 0 },
		{ "\xf0\x8f\xbf\xbf", 0 }, { "\xf4\x90\x80\x80", 0 },
		{ "\xf5\x80\x80\x80", 0 }, { "\xe2\x82", 0 }, { "a\tb", 0 },
		{ "a\x7f", 0 },
	};
	size_t	i, n;

	for (i = 0; i < nitems(t); i++) {
		n = strlen(t[i].s);
		if ((statsd_utf8_valid(t[i].s, n) == n) != t[i].ok)
			fail_msg("\"%s\": valid is %d", t[i].s, !t[i].ok);
	}
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static void
test_hash(void **state)
{
	enum { N = 200000 };
	uint64_t	*h;
	char		 key[64];
	size_t		 i, len;
	int		 n;

	/* deterministic, and every length from 0 to 40 matters */
	assert_true(statsd_hash("net.rtt_ms", 10) ==
	    statsd_hash("net.rtt_ms", 10));
	assert_true(statsd_hash("", 0) != statsd_hash("a", 1));
	assert_true(statsd_hash("ab", 2) != statsd_hash("ba", 2));
	assert_true(statsd_hash("abc", 3) != statsd_hash("abc\0", 4));
	memset(key, 'x', sizeof key);
	for (len = 1; len <= 40; len++)
		assert_true(statsd_hash(key, len) != statsd_hash(key,
		    len - 1));

	/* similar keys: no 64-bit collision, low bits well spread */
	h = calloc(N, sizeof *h);
	assert_non_null(h);
	for (i = 0; i < N; i++) {
		n = snprintf(key, sizeof key, "%s.%zu{peer=p%zu}",
		    i & 1 ? "net.rtt_ms" : "consensus.round_ms", i / 2, i % 97);
		h[i] = statsd_hash(key, (size_t)n);
	}
	qsort(h, N, sizeof *h, cmp_u64);
	for (i = 1; i < N; i++)
		assert_true(h[i] != h[i - 1]);
	{
		static unsigned int	 bucket[1024];
		unsigned int		 max = 0;

		for (i = 0; i < N; i++)
			bucket[h[i] & 1023]++;
		for (i = 0; i < 1024; i++)
			if (bucket[i] > max)
				max = bucket[i];
		/* mean 195; a fair hash stays well under twice that */
		assert_true(max < 300);
	}
	free(h);
}

/* statsd_split(): the common form only, cut where the parser would. */
static void
test_split(void **state)
{
	static const char *const others[] = { "a:-1|g", "a:+1|g",
	    "a:1e3|ms", "a:1:2|ms", "a:1", "a|ms", "a:1 |c", "a:|c",
	    "a:12345678901234567890|c", "a:9007199254740993|c", "a:nan|g",
	    ":", "abc" };
	struct statsd_raw	 r, r2;
	const char		*l = "rtt.ms:02.500|ms|#peer:a";
	char			 big[STATSD_LINE_MAX + 2];
	size_t			 i;

	(void)state;
	assert_int_equal(statsd_split(l, strlen(l), &r), 1);
	assert_int_equal(r.namelen, 6);
	assert_int_equal(r.rest, 13);
	assert_int_equal(r.len, strlen(l));
	assert_true(r.value == 2.5);
	assert_true(r.hash == statsd_hash_raw(l, 6, l + 13, r.len - 13));
	/* The value is not in the identity; the name and the rest are. */
	assert_int_equal(statsd_split("rtt.ms:7|ms|#peer:a", 19, &r2), 1);
	assert_true(r2.hash == r.hash && r2.value == 7);
	assert_int_equal(statsd_split("rtt.ms:7|ms|#peer:b", 19, &r2), 1);
	assert_true(r2.hash != r.hash);
	assert_int_equal(statsd_split("rtt.mz:7|ms|#peer:a", 19, &r2), 1);
	assert_true(r2.hash != r.hash);
	/* ".5" and "5." as the parser reads them; no check of the rest. */
	assert_int_equal(statsd_split("a:.5|c", 6, &r), 1);
	assert_true(r.value == 0.5);
	assert_int_equal(statsd_split("a:5.|zz|@9", 10, &r), 1);
	assert_true(r.value == 5);
	for (i = 0; i < nitems(others); i++)
		assert_int_equal(statsd_split(others[i], strlen(others[i]),
		    &r), 0);
	/* Longer than a line may be: the parser says too_long. */
	memset(big, 'a', sizeof(big));
	memcpy(big + sizeof(big) - 4, ":1|c", 4);
	assert_int_equal(statsd_split(big, sizeof(big), &r), 0);
}

/* statsd_take(): non-empty lines, "\r" stripped, each counted once. */
static void
test_take(void **state)
{
	const char		*d = "a:1|c\r\n\n\r\nb:2|g\nlast", *line;
	size_t			 len;
	struct statsd_line	 ln;

	(void)state;
	statsd_begin(&sp, d, strlen(d));
	line = statsd_take(&sp, &len);
	assert_non_null(line);
	assert_int_equal(len, 5);
	assert_memory_equal(line, "a:1|c", 5);
	line = statsd_take(&sp, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(line, "b:2|g", 5);
	line = statsd_take(&sp, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(line, "last", 4);
	assert_null(statsd_take(&sp, &len));
	assert_int_equal(sp.stats.lines, 3);
	assert_int_equal(sp.stats.samples, 0);
	/* statsd_take_parse() counts what it finds. */
	assert_int_equal(statsd_take_parse(&sp, "a:1:2|c", 7, &ln), 1);
	assert_int_equal(statsd_take_parse(&sp, "last", 4, &ln), 0);
	assert_int_equal(sp.stats.samples, 2);
	assert_int_equal(sp.stats.errors[STATSD_BAD_VALUE], 1);
	assert_int_equal(sp.stats.lines, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_rules, setup),
		cmocka_unit_test_setup(test_event_fields, setup),
		cmocka_unit_test_setup(test_values, setup),
		cmocka_unit_test_setup(test_values_exact, setup),
		cmocka_unit_test_setup(test_limits, setup),
		cmocka_unit_test_setup(test_errors, setup),
		cmocka_unit_test_setup(test_datagram, setup),
		cmocka_unit_test_setup(test_newlines, setup),
		cmocka_unit_test_setup(test_garbage, setup),
		cmocka_unit_test_setup(test_big_datagram, setup),
		cmocka_unit_test_setup(test_parse_cb, setup),
		cmocka_unit_test_setup(test_hash, setup),
		cmocka_unit_test_setup(test_charset, setup),
		cmocka_unit_test_setup(test_utf8, setup),
		cmocka_unit_test_setup(test_split, setup),
		cmocka_unit_test_setup(test_take, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
