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
test_types(void **state)
{
	static const struct {
		const char		*s;
		enum statsd_type	 type;
	} t[] = {
		{ "net.rtt_ms:12.5|ms", STATSD_TIMER },
		{ "net.rtt_ms:12.5|h", STATSD_HISTOGRAM },
		{ "net.rtt_ms:12.5|d", STATSD_DISTRIBUTION },
		{ "net.rtt_ms:12.5|g", STATSD_GAUGE },
		{ "net.rtt_ms:12.5|c", STATSD_COUNTER },
	};
	struct statsd_line	ln;
	size_t			i;

	for (i = 0; i < nitems(t); i++) {
		assert_int_equal(line(t[i].s, &ln), STATSD_OK);
		assert_int_equal(ln.type, t[i].type);
		assert_key(&ln, "net.rtt_ms");
		assert_int_equal(ln.namelen, 10);
		assert_int_equal(ln.ntags, 0);
		assert_int_equal(ln.nvalues, 1);
		assert_true(ln.values[0] == 12.5);
		assert_true(ln.rate == 1);
		assert_true((ln.delta != NULL) == (t[i].type == STATSD_GAUGE));
		/* untagged keys are not copied */
		assert_ptr_equal(ln.key, t[i].s);
	}
	assert_string_equal(statsd_type_name(STATSD_TIMER), "timer");
	assert_string_equal(statsd_type_name(STATSD_HISTOGRAM), "histogram");
	assert_string_equal(statsd_type_name(STATSD_DISTRIBUTION),
	    "distribution");
	assert_string_equal(statsd_type_name(STATSD_GAUGE), "gauge");
	assert_string_equal(statsd_type_name(STATSD_COUNTER), "counter");
	assert_string_equal(statsd_type_name(STATSD_NTYPES), "unknown");
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

static void
test_multi_value(void **state)
{
	struct statsd_line	ln;

	assert_int_equal(line("rtt:1:2.5:3|ms", &ln), STATSD_OK);
	assert_int_equal(ln.nvalues, 3);
	assert_true(ln.values[0] == 1 && ln.values[1] == 2.5 &&
	    ln.values[2] == 3);
	assert_key(&ln, "rtt");

	assert_int_equal(line("q:+1:-2:3|g", &ln), STATSD_OK);
	assert_int_equal(ln.nvalues, 3);
	assert_true(ln.values[0] == 1 && ln.values[1] == -2 &&
	    ln.values[2] == 3);
	assert_int_equal(ln.delta[0], 1);
	assert_int_equal(ln.delta[1], 1);
	assert_int_equal(ln.delta[2], 0);

	assert_int_equal(line("ops:1:2|c|@0.5", &ln), STATSD_OK);
	assert_true(ln.values[0] == 2 && ln.values[1] == 4);

	/* one bad value drops the whole line */
	BAD("rtt:1:x:3|ms", STATSD_BAD_VALUE);
	BAD("rtt:1::3|ms", STATSD_BAD_VALUE);
	BAD("rtt:1:2:|ms", STATSD_BAD_VALUE);
	BAD("rtt:1:-2:3|ms", STATSD_NEGATIVE_TIMER);
	BAD("rtt:1:nan|h", STATSD_NAN_INF);
}

static void
test_rates(void **state)
{
	struct statsd_line	ln;

	assert_int_equal(line("ops:1|c|@0.1", &ln), STATSD_OK);
	assert_true(ln.rate == 0.1);
	assert_true(fabs(ln.values[0] - 10) < 1e-12);
	assert_int_equal(line("ops:3|c|@1", &ln), STATSD_OK);
	assert_true(ln.values[0] == 3 && ln.rate == 1);
	assert_int_equal(line("ops:1|c|@1e-3", &ln), STATSD_OK);
	assert_true(fabs(ln.values[0] - 1000) < 1e-9);
	/* timers, gauges, histograms keep their value and report the rate */
	assert_int_equal(line("t:4|ms|@0.25", &ln), STATSD_OK);
	assert_true(ln.values[0] == 4 && ln.rate == 0.25);
	assert_int_equal(line("g:4|g|@0.25", &ln), STATSD_OK);
	assert_true(ln.values[0] == 4 && ln.rate == 0.25);
	/* rate and tags in either order */
	assert_int_equal(line("ops:1|c|@0.5|#a:b", &ln), STATSD_OK);
	assert_true(ln.values[0] == 2);
	assert_key(&ln, "ops{a=b}");
	assert_int_equal(line("ops:1|c|#a:b|@0.5", &ln), STATSD_OK);
	assert_true(ln.values[0] == 2);
	assert_key(&ln, "ops{a=b}");

	BAD("ops:1|c|@0", STATSD_BAD_RATE);
	BAD("ops:1|c|@-0.5", STATSD_BAD_RATE);
	BAD("ops:1|c|@1.5", STATSD_BAD_RATE);
	BAD("ops:1|c|@", STATSD_BAD_RATE);
	BAD("ops:1|c|@x", STATSD_BAD_RATE);
	BAD("ops:1|c|@0.5x", STATSD_BAD_RATE);
	BAD("ops:1|c|@nan", STATSD_BAD_RATE);
	BAD("ops:1|c|@inf", STATSD_BAD_RATE);
	BAD("ops:1|c|@0.5|@0.5", STATSD_BAD_RATE);
	BAD("ops:1|c|@0.5:1", STATSD_BAD_RATE);
	/* the scaled counter must stay finite */
	BAD("ops:1e308|c|@0.001", STATSD_NAN_INF);
}

static void
test_gauge(void **state)
{
	struct statsd_line	ln;

	assert_int_equal(line("mem.heap_mb:512|g", &ln), STATSD_OK);
	assert_true(ln.values[0] == 512 && ln.delta[0] == 0);
	assert_int_equal(line("mem.heap_mb:+16.5|g", &ln), STATSD_OK);
	assert_true(ln.values[0] == 16.5 && ln.delta[0] == 1);
	assert_int_equal(line("mem.heap_mb:-8|g", &ln), STATSD_OK);
	assert_true(ln.values[0] == -8 && ln.delta[0] == 1);
	assert_int_equal(line("mem.heap_mb:-0|g", &ln), STATSD_OK);
	assert_true(ln.values[0] == 0 && ln.delta[0] == 1);
	assert_int_equal(line("mem.heap_mb:0|g", &ln), STATSD_OK);
	assert_true(ln.values[0] == 0 && ln.delta[0] == 0);
	/* a sign means "adjust" only for gauges */
	assert_int_equal(line("h:-8|h", &ln), STATSD_OK);
	assert_true(ln.values[0] == -8 && ln.delta == NULL);
	assert_int_equal(line("c:-8|c", &ln), STATSD_OK);
	assert_true(ln.values[0] == -8);
}

static void
test_tags(void **state)
{
	struct statsd_line	ln, ln2;
	uint64_t		h;

	assert_int_equal(line("net.rtt_ms:12.5|ms|#peer:a3", &ln), STATSD_OK);
	assert_key(&ln, "net.rtt_ms{peer=a3}");
	assert_int_equal(ln.namelen, 10);
	assert_int_equal(ln.ntags, 1);

	assert_int_equal(line("m:1|c|#zeta:1,alpha:2,mid:x", &ln), STATSD_OK);
	assert_key(&ln, "m{alpha=2,mid=x,zeta=1}");
	assert_int_equal(ln.ntags, 3);
	h = ln.hash;
	/* every order gives the same key and hash */
	assert_int_equal(line("m:1|c|#mid:x,zeta:1,alpha:2", &ln2), STATSD_OK);
	assert_key(&ln2, "m{alpha=2,mid=x,zeta=1}");
	assert_true(ln2.hash == h);
	assert_int_equal(line("m:1|c|#alpha:2,mid:x,zeta:1", &ln2), STATSD_OK);
	assert_true(ln2.hash == h);
	/* a prefix sorts first */
	assert_int_equal(line("m:1|c|#ab:1,a:2", &ln), STATSD_OK);
	assert_key(&ln, "m{a=2,ab=1}");
	/* bare tags have the empty value */
	assert_int_equal(line("m:1|c|#canary", &ln), STATSD_OK);
	assert_key(&ln, "m{canary=}");
	assert_int_equal(line("m:1|c|#canary:,b:", &ln), STATSD_OK);
	assert_key(&ln, "m{b=,canary=}");
	/* ":" and other punctuation are allowed in values */
	assert_int_equal(line("m:1|c|#url:http://x:80/a?b&c#d,v:1.2-3_4@z",
	    &ln), STATSD_OK);
	assert_key(&ln, "m{url=http://x:80/a?b&c#d,v=1.2-3_4@z}");
	/* "|#" alone: no tags, key is the name */
	assert_int_equal(line("m:1|c|#", &ln), STATSD_OK);
	assert_key(&ln, "m");
	assert_int_equal(ln.ntags, 0);
	/* a tagged key differs from the untagged one */
	assert_int_equal(line("m:1|c", &ln), STATSD_OK);
	assert_int_equal(line("m:1|c|#a:1", &ln2), STATSD_OK);
	assert_true(ln.hash != ln2.hash);

	BAD("m:1|c|#a:1,a:2", STATSD_BAD_TAG);		/* duplicate key */
	BAD("m:1|c|#a:1,a:1", STATSD_BAD_TAG);
	BAD("m:1|c|#a,a", STATSD_BAD_TAG);
	BAD("m:1|c|#:v", STATSD_BAD_TAG);		/* empty key */
	BAD("m:1|c|#a:1,", STATSD_BAD_TAG);		/* empty tag */
	BAD("m:1|c|#a:1,,b:2", STATSD_BAD_TAG);
	BAD("m:1|c|#,", STATSD_BAD_TAG);
	BAD("m:1|c|#a=1", STATSD_BAD_TAG);
	BAD("m:1|c|#a:x=y", STATSD_BAD_TAG);
	BAD("m:1|c|#a:x y", STATSD_BAD_TAG);
	BAD("m:1|c|#a:x}", STATSD_BAD_TAG);
	BAD("m:1|c|#a:\"x\"", STATSD_BAD_TAG);
	BAD("m:1|c|#a b:1", STATSD_BAD_TAG);
	BAD("m:1|c|#a/b:1", STATSD_BAD_TAG);
	BAD("m:1|c|#a:1|#b:2", STATSD_BAD_TAG);	/* two tag fields */
	assert_reason("m:1|c|#a:\0", 10, STATSD_BAD_TAG);
}

static void
test_limits(void **state)
{
	struct statsd_line	ln;
	char			buf[STATSD_LINE_MAX + 64], name[256], tv[256];
	size_t			i, n;

	/* name: 200 bytes is fine, 201 is too long */
	memset(name, 'n', STATSD_NAME_MAX);
	name[STATSD_NAME_MAX] = '\0';
	snprintf(buf, sizeof buf, "%s:1|c", name);
	assert_int_equal(line(buf, &ln), STATSD_OK);
	assert_int_equal(ln.namelen, STATSD_NAME_MAX);
	snprintf(buf, sizeof buf, "%sn:1|c", name);
	BAD(buf, STATSD_TOO_LONG);

	/* tag key 64 / 65 */
	memset(tv, 'k', STATSD_TAG_KEY_MAX);
	tv[STATSD_TAG_KEY_MAX] = '\0';
	snprintf(buf, sizeof buf, "m:1|c|#%s:v", tv);
	assert_int_equal(line(buf, &ln), STATSD_OK);
	snprintf(buf, sizeof buf, "m:1|c|#%sk:v", tv);
	BAD(buf, STATSD_TOO_LONG);

	/* tag value 128 / 129 */
	memset(tv, 'v', STATSD_TAG_VALUE_MAX);
	tv[STATSD_TAG_VALUE_MAX] = '\0';
	snprintf(buf, sizeof buf, "m:1|c|#k:%s", tv);
	assert_int_equal(line(buf, &ln), STATSD_OK);
	snprintf(buf, sizeof buf, "m:1|c|#k:%sv", tv);
	BAD(buf, STATSD_TOO_LONG);

	/* 16 tags, given in reverse, come out sorted; 17 are too many */
	n = (size_t)snprintf(buf, sizeof buf, "m:1|c|#");
	for (i = STATSD_TAGS_MAX; i > 0; i--)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "t%02zu:%zu%s",
		    i, i, i > 1 ? "," : "");
	assert_int_equal(line(buf, &ln), STATSD_OK);
	assert_int_equal(ln.ntags, STATSD_TAGS_MAX);
	assert_memory_equal(ln.key, "m{t01=1,t02=2,t03=3,", 20);
	assert_memory_equal(ln.key + ln.keylen - 7, "t16=16}", 7);
	snprintf(buf + n, sizeof buf - n, ",t17:17");
	BAD(buf, STATSD_TOO_LONG);

	/* the longest possible key fits STATSD_KEY_MAX */
	n = (size_t)snprintf(buf, sizeof buf, "%s:1|c|#", name);
	memset(tv, 'v', STATSD_TAG_VALUE_MAX);
	for (i = 0; i < STATSD_TAGS_MAX; i++) {
		memset(buf + n, 'a' + (int)i, STATSD_TAG_KEY_MAX);
		n += STATSD_TAG_KEY_MAX;
		buf[n++] = ':';
		memcpy(buf + n, tv, STATSD_TAG_VALUE_MAX);
		n += STATSD_TAG_VALUE_MAX;
		buf[n++] = ',';
	}
	buf[--n] = '\0';
	assert_int_equal(line(buf, &ln), STATSD_OK);
	assert_int_equal(ln.keylen, STATSD_KEY_MAX);

	/* a line of STATSD_LINE_MAX bytes is read, one more is too long */
	n = (size_t)snprintf(buf, sizeof buf, "mm:1");
	while (n < STATSD_LINE_MAX - 2) {
		buf[n++] = ':';
		buf[n++] = '1';
	}
	memcpy(buf + n, "|c", 3);
	n += 2;
	assert_int_equal(n, STATSD_LINE_MAX);
	assert_int_equal(line(buf, &ln), STATSD_OK);
	assert_int_equal(ln.nvalues, (STATSD_LINE_MAX - 2) / 2 - 1);
	memmove(buf + 1, buf, n + 1);
	assert_reason(buf, n + 1, STATSD_TOO_LONG);
	/* also when the line is made of anything */
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
		{ STATSD_NEGATIVE_TIMER, "negative_timer" },
	};

	assert_int_equal(nitems(names), STATSD_NREASONS - 1);
	for (i = 0; i < nitems(names); i++)
		assert_string_equal(statsd_reason_name(names[i].r),
		    names[i].name);
	assert_string_equal(statsd_reason_name(STATSD_NREASONS), "unknown");

	BAD(":1|c", STATSD_BAD_NAME);
	BAD("a b:1|c", STATSD_BAD_NAME);
	BAD("a/b:1|c", STATSD_BAD_NAME);
	BAD("a{x}:1|c", STATSD_BAD_NAME);
	BAD(" a:1|c", STATSD_BAD_NAME);
	BAD("|c", STATSD_BAD_NAME);
	BAD("\xc3\xa9t\xc3\xa9:1|c", STATSD_BAD_NAME);
	BAD("   ", STATSD_BAD_NAME);

	BAD("foo", STATSD_BAD_VALUE);
	BAD("foo|c", STATSD_BAD_VALUE);
	BAD("foo:|c", STATSD_BAD_VALUE);
	BAD("foo:x|c", STATSD_BAD_VALUE);
	BAD("foo:.|c", STATSD_BAD_VALUE);
	BAD("foo:-|c", STATSD_BAD_VALUE);
	BAD("foo:1.2.3|c", STATSD_BAD_VALUE);
	BAD("foo:1e|c", STATSD_BAD_VALUE);
	BAD("foo:1e+|c", STATSD_BAD_VALUE);
	BAD("foo:0x10|c", STATSD_BAD_VALUE);
	BAD("foo:1 |c", STATSD_BAD_VALUE);
	BAD("foo: 1|c", STATSD_BAD_VALUE);
	BAD("foo:1,5|c", STATSD_BAD_VALUE);
	BAD("foo:--1|c", STATSD_BAD_VALUE);
	BAD("foo:infx|c", STATSD_BAD_VALUE);
	BAD("foo:inf5|c", STATSD_BAD_VALUE);
	BAD("foo:1-2|c", STATSD_BAD_VALUE);
	BAD("foo:1111111111111111111111111111111111111111111111111111"
	    "11111111111111|c", STATSD_BAD_VALUE);	/* > 63 characters */

	BAD("foo:1", STATSD_BAD_TYPE);
	BAD("foo:1|", STATSD_BAD_TYPE);
	BAD("foo:1|s", STATSD_BAD_TYPE);
	BAD("foo:1|x", STATSD_BAD_TYPE);
	BAD("foo:1|msx", STATSD_BAD_TYPE);
	BAD("foo:1|MS", STATSD_BAD_TYPE);
	BAD("foo:1|cc", STATSD_BAD_TYPE);
	BAD("foo:1|c ", STATSD_BAD_TYPE);
	BAD("foo:1||c", STATSD_BAD_TYPE);

	BAD("foo:1|c|", STATSD_BAD_FIELD);
	BAD("foo:1|c|x", STATSD_BAD_FIELD);
	BAD("foo:1|c|c:abc123", STATSD_BAD_FIELD);	/* DogStatsD ext. */
	BAD("foo:1|c|T1656581400", STATSD_BAD_FIELD);
	BAD("foo:1|c|#a:1|", STATSD_BAD_FIELD);

	BAD("foo:nan|g", STATSD_NAN_INF);
	BAD("foo:NaN|h", STATSD_NAN_INF);
	BAD("foo:-inf|h", STATSD_NAN_INF);
	BAD("foo:+Infinity|c", STATSD_NAN_INF);
	BAD("foo:1e999|ms", STATSD_NAN_INF);
	BAD("foo:-1e400|g", STATSD_NAN_INF);

	BAD("foo:-1|ms", STATSD_NEGATIVE_TIMER);
	BAD("foo:-0.001|ms", STATSD_NEGATIVE_TIMER);
	BAD("foo:-1e-300|ms", STATSD_NEGATIVE_TIMER);

	/* left to right: the first problem names the reason */
	BAD("a b:x|zz", STATSD_BAD_NAME);
	BAD("a:x|zz", STATSD_BAD_VALUE);
	BAD("a:-1|zz", STATSD_BAD_TYPE);
	BAD("a:-1|ms|@2", STATSD_BAD_RATE);
	BAD("a:-1|ms|#=", STATSD_BAD_TAG);
}

static void
test_datagram(void **state)
{
	static const char dg[] =
	    "good.a:1|c\n"
	    "bad name:1|c\n"
	    "\n"
	    "good.b:2.5|ms|#peer:x\n"
	    "good.c:3|q\n"
	    "good.d:-1|ms\n"
	    "\r\n"
	    "good.e:+4|g\r\n"
	    "good.f:nan|h\n"
	    "good.g:1|c|@2\n"
	    "good.h:1|c|#a,a\n"
	    "good.i:1|c|z\n"
	    "good.j:5:6|d";			/* no final newline */
	static const char *keys[] = {
		"good.a", "good.b{peer=x}", "good.e", "good.j"
	};
	struct statsd_line	ln;
	size_t			n = 0;
	int			i;

	statsd_init(&sp);
	statsd_begin(&sp, dg, sizeof dg - 1);
	while (statsd_next(&sp, &ln)) {
		assert_true(n < nitems(keys));
		assert_key(&ln, keys[n]);
		n++;
	}
	assert_int_equal(n, 4);
	assert_int_equal(ln.nvalues, 2);	/* the last good one */
	assert_int_equal(sp.stats.lines, 11);	/* empty ones not counted */
	assert_int_equal(sp.stats.samples, 1 + 1 + 1 + 2);
	assert_int_equal(sp.stats.errors[STATSD_OK], 0);
	assert_int_equal(sp.stats.errors[STATSD_BAD_NAME], 1);
	assert_int_equal(sp.stats.errors[STATSD_BAD_TYPE], 1);
	assert_int_equal(sp.stats.errors[STATSD_NEGATIVE_TIMER], 1);
	assert_int_equal(sp.stats.errors[STATSD_NAN_INF], 1);
	assert_int_equal(sp.stats.errors[STATSD_BAD_RATE], 1);
	assert_int_equal(sp.stats.errors[STATSD_BAD_TAG], 1);
	assert_int_equal(sp.stats.errors[STATSD_BAD_FIELD], 1);
	for (i = 0; i < STATSD_NREASONS; i++)
		n += sp.stats.errors[i];
	assert_int_equal(n, 11);

	/* counters accumulate across datagrams until statsd_init */
	statsd_begin(&sp, "x:1|c\n", 6);
	assert_int_equal(statsd_next(&sp, &ln), 1);
	assert_int_equal(statsd_next(&sp, &ln), 0);
	assert_int_equal(statsd_next(&sp, &ln), 0);
	assert_int_equal(sp.stats.lines, 12);
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

static int
spec_name(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
}

static int
spec_tagv(int c)
{
	return c >= '!' && c <= '~' && strchr(",|={}\"\\", c) == NULL;
}

/*
 * Every byte value in a name, a tag key and a tag value, on the 16-byte
 * (SSE2) path and on the byte path, against the grammar's character sets.
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
				want = spec_name(b) || b == ':' || b == ',' ?
				    STATSD_OK : b == '|' ? STATSD_BAD_FIELD :
				    STATSD_BAD_TAG;
			else
				want = spec_tagv(b) || b == ',' ? STATSD_OK :
				    b == '|' ? STATSD_BAD_FIELD :
				    STATSD_BAD_TAG;
			if ((int)statsd_parse_line(&sp, buf, len, &ln) != want)
				fail_msg("byte 0x%02x in \"%s\": got %s, want "
				    "%s", b, fmt[i], statsd_reason_name(
				    statsd_parse_line(&sp, buf, len, &ln)),
				    statsd_reason_name(want));
		}
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
		cmocka_unit_test_setup(test_types, setup),
		cmocka_unit_test_setup(test_values, setup),
		cmocka_unit_test_setup(test_values_exact, setup),
		cmocka_unit_test_setup(test_multi_value, setup),
		cmocka_unit_test_setup(test_rates, setup),
		cmocka_unit_test_setup(test_gauge, setup),
		cmocka_unit_test_setup(test_tags, setup),
		cmocka_unit_test_setup(test_limits, setup),
		cmocka_unit_test_setup(test_errors, setup),
		cmocka_unit_test_setup(test_datagram, setup),
		cmocka_unit_test_setup(test_newlines, setup),
		cmocka_unit_test_setup(test_garbage, setup),
		cmocka_unit_test_setup(test_big_datagram, setup),
		cmocka_unit_test_setup(test_parse_cb, setup),
		cmocka_unit_test_setup(test_hash, setup),
		cmocka_unit_test_setup(test_charset, setup),
		cmocka_unit_test_setup(test_split, setup),
		cmocka_unit_test_setup(test_take, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
