/*
 * statsd.c -- pure StatsD / DogStatsD line parser.
 *
 * No I/O, no allocation, no global state: the caller owns a struct
 * statsd_parser (scratch buffers and counters) and hands it datagrams.
 *
 * Grammar (DESIGN.md "StatsD ingestion"):
 *
 *	datagram = line *("\n" line)	a final "\n" is optional
 *	line	 = name ":" value *(":" value) "|" type *("|" field)
 *	field	 = "@" rate | "#" [tag *("," tag)]
 *	tag	 = tagkey [":" tagvalue]
 *
 * - One "\r" before the "\n" (or at the end of the datagram) is stripped,
 *   so CRLF senders (nc -C, Windows tools) work.  A "\r" anywhere else is
 *   an ordinary bad character.
 * - Empty lines are skipped: they are neither errors nor counted in
 *   stats.lines, so "a:1|c\n" is one line, not two.  Every other line is
 *   counted in stats.lines, then either returned or counted in exactly one
 *   stats.errors[reason].  A bad line never stops the rest of the datagram.
 * - A line is at most STATSD_LINE_MAX bytes (too_long).
 * - name: [A-Za-z0-9_.-]{1,200} (bad_name; longer is too_long).  A name
 *   with no ":value" at all ("foo", "foo|c") is bad_value.
 * - value: [+-] digits [. digits] [(e|E) [+-] digits] (at least one
 *   digit; ".5" and "5." are accepted), else bad_value.  "nan", "inf",
 *   "infinity" (any case, any sign) and numbers that overflow a double are
 *   nan_inf.  Several values may share a line: "rtt:1:2.5:3|ms" gives
 *   three samples.
 * - type: ms (timer), h (histogram), d (distribution), g (gauge),
 *   c (counter); a missing type or anything else, sets ("s") included,
 *   is bad_type.
 * - Gauges: a value written with a sign (+N, -N) is a delta (delta[i] =
 *   1), a plain N sets the gauge.  As in Etsy statsd, a gauge cannot be
 *   set to a negative value in one line: send "g:0|g\ng:-5|g".
 * - Timers (ms) may not be negative (negative_timer); histograms and
 *   distributions may.  -0 is returned as 0.
 * - @rate: 0 < rate <= 1 (bad_rate).  Counter values are divided by the
 *   rate (1 sampled at @0.1 counts 10); the result must stay finite
 *   (nan_inf).  Other types return the rate unchanged for the registry to
 *   use or ignore.
 * - #tags (DogStatsD): tagkey is [A-Za-z0-9_.-]{1,64}; tagvalue is up to
 *   128 printable ASCII characters except space , | = { } " and
 *   backslash; ":" is allowed inside the value ("url:http://x" has the
 *   value "http://x").  A tag without a value ("#canary" or "#canary:")
 *   has the empty value.  At most 16 tags (more is too_long; a longer key
 *   or value is too_long).  A repeated tag key, an empty key or a bad
 *   character is bad_tag: identity must be unambiguous.  "|#" alone means
 *   no tags.
 * - "@" and "#" fields may come in either order, each at most once (a
 *   second is bad_rate / bad_tag).  Any other field, an empty one (a
 *   trailing "|") or DogStatsD extensions such as "|c:id" or "|T123" are
 *   bad_field.
 * - Errors are reported left to right: the first problem in the line
 *   names the reason.
 *
 * Series key: the name alone when there are no tags (then key points into
 * the datagram: no copy), else name{k=v,k2=v2} with tags sorted by key
 * (bytewise), written into the parser's scratch.  The grammar above keeps
 * "{", "}", "=" and "," out of names, keys and values, so a key splits back
 * unambiguously.  hash is statsd_hash() of the key, for the registry.
 *
 * Speed: no allocation; one memchr per line; names, tag keys and values
 * are checked 16 bytes per step with SSE2 where there are 16 bytes left
 * (a byte table otherwise; test_charset checks both agree); the number
 * fast path below avoids strtod.  tests/bench/bench_statsd measures it.
 *
 * Numbers: a value with at most 19 significant digits, a mantissa below
 * 2^53 and at most 22 digits after the point is converted by hand as
 * mantissa / 10^k, with both operands exact doubles: one IEEE division, so
 * the result is correctly rounded, bit for bit what strtod gives.  Anything
 * else (exponents, longer mantissas) falls back to strtod on a copy of at
 * most 63 characters (longer is bad_value).  The daemon never calls
 * setlocale(LC_NUMERIC), so strtod's decimal point is ".".
 */
#include <sys/types.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "meshtuned.h"

#define C_NAME	0x01		/* name and tag key: [A-Za-z0-9_.-] */
#define C_TAGV	0x02		/* tag value */
#define C_NUM	0x04		/* possible number text, for strtod */

#define NT	(C_NAME | C_TAGV)
#define NTN	(C_NAME | C_TAGV | C_NUM)

/* Non-overlapping ranges: -Woverride-init is part of -Wextra. */
static const uint8_t cclass[256] = {
	['!'] = C_TAGV,			/* '"' excluded */
	['#' ... '*'] = C_TAGV,
	['+'] = C_TAGV | C_NUM,		/* ',' excluded */
	['-'] = NTN, ['.'] = NTN,
	['/'] = C_TAGV,
	['0' ... '9'] = NTN,
	[':' ... '<'] = C_TAGV,		/* '=' excluded */
	['>' ... '@'] = C_TAGV,
	['A' ... 'D'] = NT, ['E'] = NTN, ['F' ... 'Z'] = NT,
	['['] = C_TAGV,			/* '\\' excluded */
	[']' ... '^'] = C_TAGV,
	['_'] = NT,
	['`'] = C_TAGV,
	['a' ... 'd'] = NT, ['e'] = NTN, ['f' ... 'z'] = NT,
	['~'] = C_TAGV,			/* '{' '|' '}' excluded */
};

static const char *const reason_names[STATSD_NREASONS] = {
	[STATSD_OK] = "ok",
	[STATSD_BAD_NAME] = "bad_name",
	[STATSD_BAD_VALUE] = "bad_value",
	[STATSD_BAD_TYPE] = "bad_type",
	[STATSD_BAD_RATE] = "bad_rate",
	[STATSD_BAD_TAG] = "bad_tag",
	[STATSD_BAD_FIELD] = "bad_field",
	[STATSD_TOO_LONG] = "too_long",
	[STATSD_NAN_INF] = "nan_inf",
	[STATSD_NEGATIVE_TIMER] = "negative_timer",
};

static const char *const type_names[STATSD_NTYPES] = {
	[STATSD_TIMER] = "timer",
	[STATSD_HISTOGRAM] = "histogram",
	[STATSD_DISTRIBUTION] = "distribution",
	[STATSD_GAUGE] = "gauge",
	[STATSD_COUNTER] = "counter",
};

/* Exact powers of ten: every one up to 1e22 is a double without error. */
static const double pow10_exact[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

#define NUM_SLOW_MAX	64	/* strtod copy, with its NUL */

struct tag {
	const char	*k, *v;
	size_t		 klen, vlen;
};

/* What number_plain() found. */
enum plain {
	PLAIN_OK,		/* converted */
	PLAIN_NONE,		/* no digit at all */
	PLAIN_SLOW		/* a number for strtod: exponent, long */
};

static inline const char *span(const char *, const char *, uint8_t)
		    __attribute__((__always_inline__));
static inline void copy_small(char *, const char *, size_t);
static inline enum plain number_plain(const char *, const char *,
		    const char **, double *) __attribute__((__always_inline__));
static int	number_word(const char *, const char *);
static enum statsd_reason number_slow(const char *, const char *,
		    const char **, double *);
static inline enum statsd_reason number(const char *, const char *,
		    const char **, double *) __attribute__((__always_inline__));
static int	tag_cmp(const struct tag *, const struct tag *);
static enum statsd_reason tags_parse(const char **, const char *,
		    struct tag *, size_t *);
static size_t	key_build(char *, const char *, size_t, const struct tag *,
		    size_t);

#ifdef __SSE2__
/* Bit i set when byte i of v lies in [lo, lo + n]: unsigned compare. */
static inline __m128i
in_range(__m128i v, char lo, char n)
{
	__m128i	t = _mm_sub_epi8(v, _mm_set1_epi8(lo));

	return _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(n)), t);
}

/*
 * Mask of the 16 bytes at p that are NOT of class cls (C_NAME or
 * C_TAGV), one bit per byte: one branch per 16 bytes instead of one per
 * byte, which a mix of name lengths would mispredict.
 */
static inline unsigned int
stop_mask16(const char *p, uint8_t cls)
{
	__m128i	v = _mm_loadu_si128((const __m128i *)(const void *)p), ok;

	if (cls == C_NAME) {
		/* [A-Za-z] | [-./0-9] minus "/" | "_" */
		ok = in_range(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 25);
		ok = _mm_or_si128(ok, _mm_andnot_si128(
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('/')),
		    in_range(v, '-', '9' - '-')));
		ok = _mm_or_si128(ok, _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
	} else {
		/* "!" .. "~" minus " , = \\ { | }" */
		ok = in_range(v, '!', '~' - '!');
		ok = _mm_andnot_si128(_mm_or_si128(_mm_or_si128(
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8(','))), _mm_or_si128(
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('=')),
		    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')))), ok);
		ok = _mm_andnot_si128(in_range(v, '{', '}' - '{'), ok);
	}
	return ~(unsigned int)_mm_movemask_epi8(ok) & 0xffff;
}
#endif

/*
 * The first byte at or after p (not past e) that is not of class cls.
 * With SSE2, 16 bytes per step while 16 remain; else, and for the tail,
 * four per step (the and of four classes has the bit only if all do).
 */
static inline const char *
span(const char *p, const char *e, uint8_t cls)
{
#ifdef __SSE2__
	unsigned int	m;

	while (e - p >= 16) {
		if ((m = stop_mask16(p, cls)) != 0)
			return p + __builtin_ctz(m);
		p += 16;
	}
#endif
	while (e - p >= 4 && (cclass[(uint8_t)p[0]] & cclass[(uint8_t)p[1]] &
	    cclass[(uint8_t)p[2]] & cclass[(uint8_t)p[3]] & cls))
		p += 4;
	while (p < e && (cclass[(uint8_t)*p] & cls))
		p++;
	return p;
}

/*
 * Copy len bytes without a call for short keys: two overlapping loads
 * never read outside [src, src+len).
 */
static inline void
copy_small(char *dst, const char *src, size_t len)
{
	uint64_t	a, b;
	uint32_t	c, d;

	if (len >= 8 && len <= 16) {
		memcpy(&a, src, 8);
		memcpy(&b, src + len - 8, 8);
		memcpy(dst, &a, 8);
		memcpy(dst + len - 8, &b, 8);
	} else if (len >= 4 && len < 8) {
		memcpy(&c, src, 4);
		memcpy(&d, src + len - 4, 4);
		memcpy(dst, &c, 4);
		memcpy(dst + len - 4, &d, 4);
	} else if (len < 4) {
		if (len > 0) {
			dst[0] = src[0];
			dst[len / 2] = src[len / 2];
			dst[len - 1] = src[len - 1];
		}
	} else
		memcpy(dst, src, len);
}

/* Reset the counters; the parser needs no other set-up or tear-down. */
void
statsd_init(struct statsd_parser *sp)
{
	memset(&sp->stats, 0, sizeof sp->stats);
	sp->cur = sp->end = NULL;
}

/*
 * Start reading one datagram of len bytes (any bytes, NULs included; it
 * need not be NUL-terminated).  buf must stay valid and unchanged until
 * statsd_next() has returned 0 for it, as returned keys may point into it.
 */
void
statsd_begin(struct statsd_parser *sp, const void *buf, size_t len)
{
	sp->cur = buf;
	sp->end = sp->cur + len;
}

/*
 * The next non-empty line of the datagram, without its "\n" (and a "\r"
 * before it), its length in *lenp; NULL when the datagram is done.  The
 * line is counted in stats.lines: hand it to statsd_take_parse(), or
 * count its sample yourself.
 */
const char *
statsd_take(struct statsd_parser *sp, size_t *lenp)
{
	const char	*s, *nl;
	size_t		 len;

	while (sp->cur < sp->end) {
		s = sp->cur;
		nl = memchr(s, '\n', (size_t)(sp->end - s));
		if (nl == NULL)
			nl = sp->end;
		sp->cur = nl + (nl < sp->end);
		len = (size_t)(nl - s);
		if (len > 0 && s[len - 1] == '\r')
			len--;
		if (len == 0)
			continue;
		sp->stats.lines++;
		*lenp = len;
		return s;
	}
	return NULL;
}

/*
 * Parse a line statsd_take() returned (any line of len bytes that it
 * counted): 1 with *out as statsd_next() gives it and its samples
 * counted, or 0 with its error counted.
 */
int
statsd_take_parse(struct statsd_parser *sp, const char *line, size_t len,
    struct statsd_line *out)
{
	enum statsd_reason	r;

	if ((r = statsd_parse_line(sp, line, len, out)) == STATSD_OK) {
		sp->stats.samples += out->nvalues;
		return 1;
	}
	sp->stats.errors[r]++;
	return 0;
}

/*
 * Return the next good line of the datagram in *out (1), or 0 when the
 * datagram is done.  Every non-empty line is counted in stats.lines; bad
 * ones are counted by reason and skipped.  *out is valid until the next
 * call.
 */
int
statsd_next(struct statsd_parser *sp, struct statsd_line *out)
{
	const char	*line;
	size_t		 len;

	while ((line = statsd_take(sp, &len)) != NULL)
		if (statsd_take_parse(sp, line, len, out))
			return 1;
	return 0;
}

/*
 * Split a line of the most common form, "name:value|rest" with one plain
 * value (digits, an optional fraction, no sign, no exponent), without
 * checking anything else: 1 and *out, or 0 for any other form.  The
 * name and the rest (from the "|" on) are the line's identity: a line
 * with the same identity as one the parser accepted is accepted too, with
 * the same name, type, rate and tags, and its value is converted as the
 * parser would.  The registry keeps the identities it has seen
 * (metrics.c), so a known line costs this split and one lookup.
 */
int
statsd_split(const char *line, size_t len, struct statsd_raw *out)
{
	const char	*end = line + len, *colon, *bar;

	if (len > STATSD_LINE_MAX ||
	    (colon = memchr(line, ':', len)) == NULL ||
	    number_plain(colon + 1, end, &bar, &out->value) != PLAIN_OK ||
	    bar == end || *bar != '|')
		return 0;
	out->line = line;
	out->len = len;
	out->namelen = (size_t)(colon - line);
	out->rest = (size_t)(bar - line);
	out->hash = statsd_hash_raw(line, out->namelen, bar,
	    (size_t)(end - bar));
	return 1;
}

/*
 * Parse a whole datagram, calling cb for each good line (the line is
 * valid during the call only).  Returns the number of good lines; errors
 * are in sp->stats.  Same rules as statsd_begin()/statsd_next().
 */
size_t
statsd_parse(struct statsd_parser *sp, const void *buf, size_t len,
    void (*cb)(const struct statsd_line *, void *), void *arg)
{
	struct statsd_line	ln;
	size_t			n = 0;

	statsd_begin(sp, buf, len);
	while (statsd_next(sp, &ln)) {
		cb(&ln, arg);
		n++;
	}
	return n;
}

/*
 * Parse one line of len bytes, without its "\n" (a "\r" is not stripped
 * here).  Fills *out and returns STATSD_OK, or returns the reason the line
 * is bad (*out then holds garbage).  Counts nothing.  An empty line is
 * bad_name here; statsd_next() skips empty lines before calling this.
 */
enum statsd_reason
statsd_parse_line(struct statsd_parser *sp, const char *line, size_t len,
    struct statsd_line *out)
{
	const char		*p = line, *end = line + len, *t;
	struct tag		 tags[STATSD_TAGS_MAX];
	size_t			 namelen, n = 0, ntags = 0, i;
	double			 v, rate = 1;
	int			 have_rate = 0, have_tags = 0;
	enum statsd_type	 type;
	enum statsd_reason	 r;

	if (len > STATSD_LINE_MAX)
		return STATSD_TOO_LONG;

	/* name ":" */
	p = span(p, end, C_NAME);
	namelen = (size_t)(p - line);
	if (namelen > STATSD_NAME_MAX)
		return STATSD_TOO_LONG;
	if (namelen == 0)
		return STATSD_BAD_NAME;
	if (p == end || *p == '|')
		return STATSD_BAD_VALUE;
	if (*p++ != ':')
		return STATSD_BAD_NAME;

	/* value *(":" value) "|" */
	for (;;) {
		t = p;
		if ((r = number(p, end, &p, &v)) != STATSD_OK)
			return r;
		if (n == STATSD_VALUES_MAX)
			return STATSD_TOO_LONG;
		sp->delta[n] = *t == '+' || *t == '-';
		sp->values[n++] = v;
		if (p == end)
			return STATSD_BAD_TYPE;
		if (*p == '|')
			break;
		if (*p++ != ':')
			return STATSD_BAD_VALUE;
	}
	p++;

	/* type: the token up to "|" or the end */
	if (end - p >= 2 && p[0] == 'm' && p[1] == 's') {
		type = STATSD_TIMER;
		p += 2;
	} else if (p < end) {
		switch (*p++) {
		case 'c':
			type = STATSD_COUNTER;
			break;
		case 'g':
			type = STATSD_GAUGE;
			break;
		case 'h':
			type = STATSD_HISTOGRAM;
			break;
		case 'd':
			type = STATSD_DISTRIBUTION;
			break;
		default:
			return STATSD_BAD_TYPE;
		}
	} else
		return STATSD_BAD_TYPE;
	if (p < end && *p != '|')
		return STATSD_BAD_TYPE;

	/* *("|" field) */
	while (p < end) {
		p++;			/* the "|" */
		if (p == end)
			return STATSD_BAD_FIELD;
		if (*p == '@') {
			if (have_rate++)
				return STATSD_BAD_RATE;
			if (number(p + 1, end, &t, &rate) != STATSD_OK ||
			    (t < end && *t != '|') || !(rate > 0 && rate <= 1))
				return STATSD_BAD_RATE;
			p = t;
		} else if (*p == '#') {
			if (have_tags++)
				return STATSD_BAD_TAG;
			p++;
			if ((r = tags_parse(&p, end, tags, &ntags)) !=
			    STATSD_OK)
				return r;
		} else
			return STATSD_BAD_FIELD;
	}

	/* per-type checks on the values */
	for (i = 0; i < n; i++)
		if ((r = statsd_value(type, rate, &sp->values[i])) != STATSD_OK)
			return r;

	if (ntags == 0) {
		out->key = line;
		out->keylen = namelen;
	} else {
		out->key = sp->key;
		out->keylen = key_build(sp->key, line, namelen, tags, ntags);
	}
	out->hash = statsd_hash(out->key, out->keylen);
	out->namelen = namelen;
	out->ntags = ntags;
	out->type = type;
	out->rate = rate;
	out->values = sp->values;
	out->delta = type == STATSD_GAUGE ? sp->delta : NULL;
	out->nvalues = n;
	return STATSD_OK;
}

/*
 * Read digits [. digits] at p (not past e), no sign, converting them by
 * hand when that is exact (see "Numbers" above).  On PLAIN_OK, *out is
 * the value and *stop the first byte after it.
 */
static inline enum plain
number_plain(const char *p, const char *e, const char **stop, double *out)
{
	const char	*d = p;
	uint64_t	 m = 0;
	size_t		 nint, nfrac = 0;
	unsigned int	 c;
	double		 v;

	while (p < e && (c = (unsigned int)(uint8_t)*p - '0') < 10) {
		m = m * 10 + c;		/* wraps past 19 digits: slow path */
		p++;
	}
	nint = (size_t)(p - d);
	if (p < e && *p == '.') {
		d = ++p;
		while (p < e && (c = (unsigned int)(uint8_t)*p - '0') < 10) {
			m = m * 10 + c;
			p++;
		}
		nfrac = (size_t)(p - d);
	}
	if (nint + nfrac == 0)
		return PLAIN_NONE;
	if ((p < e && (*p == 'e' || *p == 'E')) || nint + nfrac > 19 ||
	    m > (UINT64_C(1) << 53) || nfrac > 22)
		return PLAIN_SLOW;
	v = (double)m;
	if (nfrac > 0)
		v /= pow10_exact[nfrac];
	*out = v;
	*stop = p;
	return PLAIN_OK;
}

/*
 * Read a number at s (not past e) into *out; *stop is the first byte after
 * it, which the caller checks is a delimiter.  Returns STATSD_OK,
 * STATSD_BAD_VALUE or STATSD_NAN_INF.  -0 becomes 0.
 */
static inline enum statsd_reason
number(const char *s, const char *e, const char **stop, double *out)
{
	const char	*p = s;
	int		 neg = 0;
	double		 v;

	if (p < e && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	switch (number_plain(p, e, stop, &v)) {
	case PLAIN_OK:
		*out = neg && v != 0 ? -v : v;
		return STATSD_OK;
	case PLAIN_NONE:
		return number_word(p, e) ? STATSD_NAN_INF : STATSD_BAD_VALUE;
	default:
		return number_slow(s, e, stop, out);
	}
}

/* Is s a whole word "nan", "inf" or "infinity", in any case? */
static int
number_word(const char *s, const char *e)
{
	const char	*p = s;
	size_t		 len;

	while (p < e && ((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z'))
		p++;
	if (p < e && *p != ':' && *p != '|')
		return 0;
	len = (size_t)(p - s);
	return (len == 3 && strncasecmp(s, "nan", 3) == 0) ||
	    (len == 3 && strncasecmp(s, "inf", 3) == 0) ||
	    (len == 8 && strncasecmp(s, "infinity", 8) == 0);
}

/*
 * The exact, slow path: strtod on a NUL-terminated copy of the number's
 * characters.  Only [0-9.eE+-] are copied, so strtod never sees "inf",
 * "nan", hex or spaces; it must consume the whole copy.
 */
static enum statsd_reason
number_slow(const char *s, const char *e, const char **stop, double *out)
{
	char		 buf[NUM_SLOW_MAX], *ep;
	const char	*p = s;
	size_t		 len;
	double		 v;

	while (p < e && (cclass[(uint8_t)*p] & C_NUM))
		p++;
	len = (size_t)(p - s);
	if (len >= sizeof buf)
		return STATSD_BAD_VALUE;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtod(buf, &ep);
	if (ep != buf + len || len == 0)
		return STATSD_BAD_VALUE;
	if (!isfinite(v))
		return STATSD_NAN_INF;
	*out = v + 0.0;			/* -0 -> 0 */
	*stop = p;
	return STATSD_OK;
}

/* Order tags by key, bytewise, a shorter prefix first. */
static int
tag_cmp(const struct tag *a, const struct tag *b)
{
	int	c;

	c = memcmp(a->k, b->k, a->klen < b->klen ? a->klen : b->klen);
	if (c != 0)
		return c;
	return (a->klen > b->klen) - (a->klen < b->klen);
}

/*
 * Parse the tag list after "#" up to "|" or e, advancing *pp.  Tags are
 * kept sorted by key (insertion sort: there are at most 16, usually 1-3).
 * Returns STATSD_OK, STATSD_BAD_TAG or STATSD_TOO_LONG.
 */
static enum statsd_reason
tags_parse(const char **pp, const char *e, struct tag *tags, size_t *ntagsp)
{
	const char	*p = *pp;
	struct tag	 tg;
	size_t		 n = 0, i;
	int		 c;

	if (p == e || *p == '|')
		goto done;
	for (;;) {
		tg.k = p;
		p = span(p, e, C_NAME);
		tg.klen = (size_t)(p - tg.k);
		if (tg.klen == 0)
			return STATSD_BAD_TAG;
		if (tg.klen > STATSD_TAG_KEY_MAX)
			return STATSD_TOO_LONG;
		tg.v = p;
		if (p < e && *p == ':') {
			tg.v = ++p;
			p = span(p, e, C_TAGV);
		}
		tg.vlen = (size_t)(p - tg.v);
		if (tg.vlen > STATSD_TAG_VALUE_MAX)
			return STATSD_TOO_LONG;
		if (p < e && *p != ',' && *p != '|')
			return STATSD_BAD_TAG;
		if (n == STATSD_TAGS_MAX)
			return STATSD_TOO_LONG;
		for (i = n; i > 0; i--) {
			if ((c = tag_cmp(&tags[i - 1], &tg)) == 0)
				return STATSD_BAD_TAG;
			if (c < 0)
				break;
			tags[i] = tags[i - 1];
		}
		tags[i] = tg;
		n++;
		if (p == e || *p == '|')
			break;
		p++;			/* "," */
	}
done:
	*pp = p;
	*ntagsp = n;
	return STATSD_OK;
}

/* Write name{k=v,...} into buf (STATSD_KEY_MAX bytes); return its length. */
static size_t
key_build(char *buf, const char *name, size_t namelen, const struct tag *tags,
    size_t ntags)
{
	char	*q = buf;
	size_t	 i;

	copy_small(q, name, namelen);
	q += namelen;
	*q++ = '{';
	for (i = 0; i < ntags; i++) {
		copy_small(q, tags[i].k, tags[i].klen);
		q += tags[i].klen;
		*q++ = '=';
		copy_small(q, tags[i].v, tags[i].vlen);
		q += tags[i].vlen;
		*q++ = ',';
	}
	q[-1] = '}';
	return (size_t)(q - buf);
}

static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t	w;

	memcpy(&w, p, sizeof w);
	return w;
}

static inline uint64_t
load32(const uint8_t *p)
{
	uint32_t	w;

	memcpy(&w, p, sizeof w);
	return w;
}

/* 64x64 -> 128 multiply, folded back to 64 bits by xor. */
static inline uint64_t
fold(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128	r = (unsigned __int128)a * b;

	return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
	uint64_t	r = a * b;

	return r ^ (r >> 32) ^ (a >> 29) * 0x9e3779b97f4a7c15ULL;
#endif
}

/*
 * The n < 8 bytes at p as one word, read without a byte loop and never
 * outside [p, p + n): two overlapping 4-byte loads, or three bytes.
 */
static inline uint64_t
short_word(const uint8_t *p, size_t n)
{
	if (n >= 4)
		return load32(p) | load32(p + n - 4) << 32;
	if (n > 0)
		return (uint64_t)p[0] | (uint64_t)p[n / 2] << 8 |
		    (uint64_t)p[n - 1] << 16;
	return 0;
}

#define HK0	0x8bb84b93962eacc9ULL
#define HK1	0x4b33a62ed433d4a3ULL
#define HK2	0x9fb21c651e98df25ULL
#define HK3	0xd6e8feb86659fd93ULL

/*
 * A fast 64-bit hash of len bytes, for series keys: 8 bytes per step, the
 * tail read as one overlapping word, so it never reads outside [p, p+len)
 * and costs no byte loop.  Not cryptographic: the registry caps the series
 * count, so crafted collisions only cost a longer chain.
 */
uint64_t
statsd_hash(const void *buf, size_t len)
{
	const uint8_t	*p = buf;
	uint64_t	 h = HK0 ^ (len * HK1), w;
	size_t		 n = len;

	if (len >= 8) {
		while (n > 8) {
			h = fold(h ^ load64(p), HK2) + HK3;
			p += 8;
			n -= 8;
		}
		w = load64(p + n - 8);		/* last 8, may overlap */
	} else
		w = short_word(p, len);
	h = fold(h ^ w, HK2) + HK3;
	return fold(h ^ (h >> 31), HK1) ^ h;
}

static inline uint64_t
rotl(uint64_t x, unsigned int r)
{
	return x << r | x >> (64 - r);
}

/* Mix the n bytes at p into h, 8 at a time, the tail as one word. */
static inline uint64_t
hash_words(const uint8_t *p, size_t n, uint64_t h)
{
	uint64_t	w;

	if (n >= 8) {
		for (; n > 8; p += 8, n -= 8)
			h = rotl((h ^ load64(p)) * HK2, 31);
		w = load64(p + n - 8);		/* last 8, may overlap */
	} else
		w = short_word(p, n);
	return rotl((h ^ w) * HK2, 31);
}

/*
 * The hash of a line's identity for statsd_split(): name and rest in one
 * chain of multiplies with both lengths in it, folded once at the end.
 * Cheaper than two statsd_hash() calls; like it, not cryptographic.
 */
uint64_t
statsd_hash_raw(const char *name, size_t namelen, const char *rest,
    size_t restlen)
{
	uint64_t	h = HK0 ^ (namelen * HK1) ^ (restlen << 32);

	h = hash_words((const uint8_t *)name, namelen, h);
	h = hash_words((const uint8_t *)rest, restlen, h ^ HK3);
	return fold(h, HK1) ^ h;
}

/* The API name of a reason, "bad_name" ...; "unknown" if out of range. */
const char *
statsd_reason_name(enum statsd_reason r)
{
	if ((unsigned int)r >= STATSD_NREASONS)
		return "unknown";
	return reason_names[r];
}

/* "timer", "histogram", "distribution", "gauge", "counter" or "unknown". */
const char *
statsd_type_name(enum statsd_type t)
{
	if ((unsigned int)t >= STATSD_NTYPES)
		return "unknown";
	return type_names[t];
}
