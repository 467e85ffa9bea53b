/*
 * statsd.c -- pure StatsD / DogStatsD line parser.
 *
 * No I/O, no allocation, no global state: the caller owns a struct
 * statsd_parser (scratch buffers, counters and the options of
 * meshtuned.conf(5) "statsd") and hands it datagrams.
 *
 * Grammar (the DogStatsD datagram format; meshtuned(8) "STATSD LINES"
 * gives it for users, with each departure from DogStatsD and Etsy statsd
 * and its reason):
 *
 *	datagram = line *("\n" line)	a final "\n" is optional
 *	line	 = metric | event | service-check
 *	metric	 = name ":" value *(":" value) "|" type *("|" field)
 *		 | name ":" member "|s" *("|" field)
 *	type	 = "ms" | "h" | "d" | "g" | "c"
 *	field	 = "@" rate | "#" [tag *("," tag)] | "c:" container-id
 *		 | "card:" cardinality | "e:" external-data | "T" seconds
 *		 | anything else, ignored (counted in stats.fields_ignored)
 *	tag	 = tagkey [":" tagvalue]
 *	event	 = "_e{" titlelen "," textlen "}:" title "|" text
 *		   *("|" ("d:" | "h:" | "p:" | "t:" | "k:" | "s:" | "#") ...)
 *	service-check = "_sc|" name "|" ("0" | "1" | "2" | "3")
 *		   *("|" ("d:" | "h:" | "#" | "m:") ...)
 *
 * - One "\r" before the "\n" (or at the end of the datagram) is stripped,
 *   so CRLF senders (nc -C, Windows tools) work.
 * - Empty lines are skipped: they are neither errors nor counted in
 *   stats.lines.  Every other line is counted in stats.lines, then either
 *   returned or counted in exactly one stats.errors[reason].  A bad line
 *   never stops the rest of the datagram.
 * - Text is UTF-8: a name, tag or event string that is not (an invalid
 *   or overlong sequence, a control character) is refused, since every
 *   name ends up in JSON.
 * - name: one or more characters other than control characters and
 *   ": | { }" (bad_name).  A name with no ":value" at all ("foo",
 *   "foo|c") is bad_value.
 * - value: [+-] digits [. digits] [(e|E) [+-] digits] (at least one
 *   digit; ".5" and "5." are accepted), else bad_value.  "nan", "inf",
 *   "infinity" (any case, any sign) and numbers that overflow a double are
 *   nan_inf.  Several values may share a line (DogStatsD 1.1):
 *   "rtt:1:2.5:3|ms" gives three samples.
 * - member (sets): the bytes between the first ":" and the first "|",
 *   at least one; only its hash is kept.
 * - type: ms (timer), h (histogram), d (distribution), g (gauge),
 *   c (counter), s (set); a missing type or anything else is bad_type.
 * - Gauges: with opts.gauge_delta a value written with a sign (+N, -N) is
 *   a delta (delta[i] = 1), as in Etsy statsd; without, every value sets
 *   the gauge, as in DogStatsD.
 * - @rate: 0 < rate <= 1 (bad_rate).  Counter values are divided by the
 *   rate (1 sampled at @0.1 counts 10); the result must stay finite
 *   (nan_inf).  Other types return the rate for the registry, which
 *   counts a timer, histogram or distribution sample 1/rate times.
 * - #tags: tagkey is one or more characters other than control
 *   characters and ", | : = { }"; tagvalue any characters other than
 *   control characters, "," and "|" (":" and spaces included: "url:
 *   http://x" has the value " http://x").  A tag without a value
 *   ("#canary" or "#canary:") has the empty value.  Empty tags (",,", a
 *   trailing ",") are skipped; an empty key (":v") or a bad character is
 *   bad_tag.  A repeated key is kept (a:1,a:2 is two tags); the same tag
 *   twice counts once.  At most STATSD_TAGS_MAX tags (too_long).
 * - c:ID and card:X become the tags container_id and cardinality with
 *   opts.container_tag and opts.cardinality_tag (ID is the container of
 *   "ci-ID", "cid-ID" or a bare ID; an "in-" inode is dropped), else
 *   they are skipped unread, as e: always is.  T seconds is read only with
 *   opts.timestamps: a line stamped more than opts.max_age_s before
 *   opts.now_s is stale; a T that is not a positive integer is
 *   bad_field.  Every field may come more than once: the last one counts,
 *   as in DogStatsD.
 * - The canonical key (name and tags) is at most STATSD_KEY_MAX bytes, a
 *   line at most STATSD_LINE_MAX (too_long).
 * - Events and service checks: a header, title or status that does not
 *   parse is bad_event / bad_service_check; an optional field that does
 *   not (a priority "urgent") is skipped and counted as ignored, as
 *   DogStatsD logs and skips it.
 * - Errors are reported left to right: the first problem in the line
 *   names the reason.
 *
 * Series key: the name alone when there are no tags (then key points into
 * the datagram: no copy), else name{k=v,k2=v2} with tags sorted by key,
 * then value (bytewise), written into the parser's scratch.  Names cannot
 * hold "{", keys cannot hold "=" or ",", values cannot hold ",": a key
 * splits back unambiguously at the first "{", each "," and each tag's
 * first "=".  hash is statsd_hash() of the key, for the registry.
 *
 * Speed: no allocation; one memchr per line; names, tag keys and values
 * are checked 16 bytes per step with SSE2 where there are 16 bytes left
 * (a byte table otherwise; test_charset checks both agree), bytes of
 * 0x80 and up one UTF-8 sequence at a time; the number fast path below
 * avoids strtod.  tests/bench/bench_statsd measures it.
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

#define C_NAME	0x01		/* metric name, ASCII part */
#define C_TAGK	0x02		/* tag key */
#define C_TAGV	0x04		/* tag value */
#define C_NUM	0x08		/* possible number text, for strtod */
#define C_TEXT	0x10		/* event text: printable ASCII */

#define NKV	(C_NAME | C_TAGK | C_TAGV | C_TEXT)

/* Non-overlapping ranges: -Woverride-init is part of -Wextra. */
static const uint8_t cclass[256] = {
	[' ' ... '*'] = NKV,
	['+'] = NKV | C_NUM,
	[','] = C_NAME | C_TEXT,
	['-'] = NKV | C_NUM, ['.'] = NKV | C_NUM,
	['/'] = NKV,
	['0' ... '9'] = NKV | C_NUM,
	[':'] = C_TAGV | C_TEXT,
	[';' ... '<'] = NKV,
	['='] = C_NAME | C_TAGV | C_TEXT,
	['>' ... 'D'] = NKV,
	['E'] = NKV | C_NUM,
	['F' ... 'd'] = NKV,
	['e'] = NKV | C_NUM,
	['f' ... 'z'] = NKV,
	['{'] = C_TAGV | C_TEXT,
	['|'] = C_TEXT,
	['}'] = C_TAGV | C_TEXT,
	['~'] = NKV,
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
	[STATSD_BAD_EVENT] = "bad_event",
	[STATSD_BAD_SERVICE_CHECK] = "bad_service_check",
	[STATSD_STALE] = "stale",
};

static const char *const type_names[STATSD_NTYPES] = {
	[STATSD_TIMER] = "timer",
	[STATSD_HISTOGRAM] = "histogram",
	[STATSD_DISTRIBUTION] = "distribution",
	[STATSD_GAUGE] = "gauge",
	[STATSD_COUNTER] = "counter",
	[STATSD_SET] = "set",
};

/* Exact powers of ten: every one up to 1e22 is a double without error. */
static const double pow10_exact[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
};

#define NUM_SLOW_MAX	64	/* strtod copy, with its NUL */
#define TAGS_INSERTION	32	/* more tags than this: qsort */

/* What number_plain() found. */
enum plain {
	PLAIN_OK,		/* converted */
	PLAIN_NONE,		/* no digit at all */
	PLAIN_SLOW		/* a number for strtod: exponent, long */
};

static inline const char *span(const char *, const char *, uint8_t)
		    __attribute__((__always_inline__));
static inline const char *span_text(const char *, const char *, uint8_t)
		    __attribute__((__always_inline__));
static inline void copy_small(char *, const char *, size_t);
static inline enum plain number_plain(const char *, const char *,
		    const char **, double *) __attribute__((__always_inline__));
static int	number_word(const char *, const char *);
static enum statsd_reason number_slow(const char *, const char *,
		    const char **, double *);
static inline enum statsd_reason number(const char *, const char *,
		    const char **, double *) __attribute__((__always_inline__));
static int	tag_cmp(const void *, const void *);
static enum statsd_reason tags_parse(const char *, const char *,
		    struct statsd_tag *, size_t *);
static size_t	tags_sort(struct statsd_tag *, size_t);
static size_t	key_build(char *, const char *, size_t,
		    const struct statsd_tag *, size_t);
static enum statsd_reason event_parse(struct statsd_parser *, const char *,
		    const char *, struct statsd_line *);
static enum statsd_reason service_check_parse(struct statsd_parser *,
		    const char *, const char *, struct statsd_line *);

#ifdef __SSE2__
/* Bit i set when byte i of v lies in [lo, lo + n]: unsigned compare. */
static inline __m128i
in_range(__m128i v, char lo, char n)
{
	__m128i	t = _mm_sub_epi8(v, _mm_set1_epi8(lo));

	return _mm_cmpeq_epi8(_mm_min_epu8(t, _mm_set1_epi8(n)), t);
}

static inline __m128i
is_byte(__m128i v, char c)
{
	return _mm_cmpeq_epi8(v, _mm_set1_epi8(c));
}

/*
 * Mask of the 16 bytes at p that are NOT of class cls (C_NAME, C_TAGK,
 * C_TAGV or C_TEXT), one bit per byte: one branch per 16 bytes instead of one
 * per byte, which a mix of name lengths would mispredict.  Every class
 * is printable ASCII, " " to "~", less a few bytes.
 */
static inline unsigned int
stop_mask16(const char *p, uint8_t cls)
{
	__m128i	v = _mm_loadu_si128((const __m128i *)(const void *)p), ok, no;

	ok = in_range(v, ' ', '~' - ' ');
	if (cls == C_TEXT)
		no = _mm_setzero_si128();
	else if (cls == C_NAME)		/* ": | { }" */
		no = _mm_or_si128(is_byte(v, ':'), in_range(v, '{', 2));
	else if (cls == C_TAGK)		/* ", | : = { }" */
		no = _mm_or_si128(_mm_or_si128(is_byte(v, ','),
		    is_byte(v, ':')), _mm_or_si128(is_byte(v, '='),
		    in_range(v, '{', 2)));
	else				/* ", |" */
		no = _mm_or_si128(is_byte(v, ','), is_byte(v, '|'));
	return ~(unsigned int)_mm_movemask_epi8(_mm_andnot_si128(no, ok)) &
	    0xffff;
}
#endif

/*
 * The first byte at or after p (not past e) that is not of ASCII class
 * cls.  With SSE2, 16 bytes per step while 16 remain; else, and for the
 * tail, four per step (the and of four classes has the bit only if all
 * do).
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
 * The length of the UTF-8 sequence at p (not past e): 2 to 4, or 0 if
 * it is not one (a stray continuation byte, an overlong form, a
 * surrogate, past U+10FFFF, cut short).
 */
static inline size_t
utf8_seq(const char *s, const char *e)
{
	const uint8_t	*p = (const uint8_t *)s;
	size_t		 n, i;
	uint8_t		 lo = 0x80, hi = 0xbf;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;
		else if (p[0] == 0xed)
			hi = 0x9f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;
		else if (p[0] == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if ((size_t)(e - s) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Like span(), but whole UTF-8 sequences of non-ASCII characters belong
 * to every class: the first byte that is neither, or the start of a bad
 * sequence.
 */
static inline const char *
span_text(const char *p, const char *e, uint8_t cls)
{
	size_t	n;

	for (;;) {
		p = span(p, e, cls);
		if (p == e || (uint8_t)*p < 0x80 || (n = utf8_seq(p, e)) == 0)
			return p;
		p += n;
	}
}

/*
 * How many of the len bytes at s form valid UTF-8 without control
 * characters: len if all do.
 */
size_t
statsd_utf8_valid(const char *s, size_t len)
{
	return (size_t)(span_text(s, s + len, C_TEXT) - s) == len ? len : 0;
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

/* Reset the counters; the options stay, nothing else needs set-up. */
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
 * counted): 1 with *out as statsd_next() gives it and its samples,
 * events and ignored fields counted, or 0 with its error counted.
 */
int
statsd_take_parse(struct statsd_parser *sp, const char *line, size_t len,
    struct statsd_line *out)
{
	enum statsd_reason	r;

	if ((r = statsd_parse_line(sp, line, len, out)) == STATSD_OK) {
		if (out->kind == STATSD_METRIC)
			sp->stats.samples += out->nvalues;
		else if (out->kind == STATSD_EVENT)
			sp->stats.events++;
		else
			sp->stats.service_checks++;
		sp->stats.fields_ignored += out->ignored;
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

/* Does the field [p, e) start with the len bytes of prefix? */
static inline int
has_prefix(const char *p, const char *e, const char *prefix, size_t len)
{
	return (size_t)(e - p) >= len && memcmp(p, prefix, len) == 0;
}

/* The end of the field that starts at p: the next "|", or e. */
static inline const char *
field_end(const char *p, const char *e)
{
	const char	*bar = memchr(p, '|', (size_t)(e - p));

	return bar != NULL ? bar : e;
}

/* Read a decimal integer that is all of [p, e); -1 if it is not one. */
static int
integer(const char *p, const char *e, int64_t *out)
{
	int64_t	v = 0;
	int	neg = 0;

	if (p < e && (*p == '-' || *p == '+'))
		neg = *p++ == '-';
	if (p == e || e - p > 18)
		return -1;
	for (; p < e; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

/*
 * The tag key for an extension field's value [p, e): 1 and *tg, 0 when
 * the value names nothing (a container field of only an inode), or -1
 * for a value no tag value may be.  A container field is "ci-ID,in-INODE"
 * or "cid-ID" (DogStatsD's local data) or a bare ID; the tag is the ID.
 */
static int
ext_tag(const char *key, const char *p, const char *e, struct statsd_tag *tg)
{
	const char	*c, *id = p, *ide = e;

	if (strcmp(key, "container_id") == 0)
		for (id = NULL; p < e; p = c + 1) {
			if ((c = memchr(p, ',', (size_t)(e - p))) == NULL)
				c = e;
			if (has_prefix(p, c, "ci-", 3))
				id = p + 3;
			else if (has_prefix(p, c, "cid-", 4))
				id = p + 4;
			else if (!has_prefix(p, c, "in-", 3))
				id = p;
			if (id != NULL || c == e) {
				ide = c;
				break;
			}
		}
	if (id == NULL)
		return 0;
	if (id == ide || span_text(id, ide, C_TAGV) != ide)
		return -1;
	tg->k = key;
	tg->klen = strlen(key);
	tg->v = id;
	tg->vlen = (size_t)(ide - id);
	return 1;
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
	const char		*p = line, *end = line + len, *t, *f, *fe;
	const char		*tags_at = NULL, *tags_end = NULL;
	struct statsd_tag	*tags = sp->tags;
	size_t			 namelen, n = 0, ntags = 0, i, keylen;
	double			 v, rate = 1;
	int64_t			 ts = 0;
	unsigned int		 ignored = 0;
	enum statsd_type	 type;
	enum statsd_reason	 r;
	uint64_t		 member = 0;
	struct statsd_tag	 ext[2];
	unsigned int		 next = 0;
	int			 k;

	if (len > STATSD_LINE_MAX)
		return STATSD_TOO_LONG;
	if (len >= 3 && line[0] == '_') {
		if (line[1] == 'e' && line[2] == '{')
			return event_parse(sp, line, end, out);
		if (len >= 4 && memcmp(line, "_sc|", 4) == 0)
			return service_check_parse(sp, line, end, out);
	}

	/* name ":" */
	p = span_text(p, end, C_NAME);
	namelen = (size_t)(p - line);
	if (namelen > STATSD_NAME_MAX)
		return STATSD_TOO_LONG;
	if (namelen == 0)
		return STATSD_BAD_NAME;
	if (p == end || *p == '|')
		return STATSD_BAD_VALUE;
	if (*p++ != ':')
		return STATSD_BAD_NAME;

	/* A set's member is text, not numbers: look at the type first. */
	if ((t = memchr(p, '|', (size_t)(end - p))) != NULL && t > p &&
	    end - t >= 2 && t[1] == 's' && (end - t == 2 || t[2] == '|')) {
		member = statsd_hash(p, (size_t)(t - p));
		type = STATSD_SET;
		p = t + 2;
		goto fields;
	}

	/* value *(":" value) "|" */
	for (;;) {
		t = p;
		if ((r = number(p, end, &p, &v)) != STATSD_OK)
			return r;
		if (n == STATSD_VALUES_MAX)
			return STATSD_TOO_LONG;
		sp->delta[n] = sp->opts.gauge_delta && (*t == '+' || *t == '-');
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

fields:
	/* *("|" field): the last of each kind counts */
	for (; p < end; p = fe) {
		f = p + 1;			/* after the "|" */
		fe = field_end(f, end);
		if (f == fe)
			ignored++;		/* empty: a trailing "|" */
		else if (*f == '@') {
			if (number(f + 1, fe, &t, &rate) != STATSD_OK ||
			    t != fe || !(rate > 0 && rate <= 1))
				return STATSD_BAD_RATE;
		} else if (*f == '#') {
			tags_at = f + 1;
			tags_end = fe;
		} else if (has_prefix(f, fe, "card:", 5)) {
			if (!sp->opts.cardinality_tag)
				continue;
			if ((k = ext_tag("cardinality", f + 5, fe,
			    &ext[0])) == -1)
				return STATSD_BAD_FIELD;
			next = k ? next | 1 : next & ~1U;
		} else if (has_prefix(f, fe, "c:", 2)) {
			if (!sp->opts.container_tag)
				continue;
			if ((k = ext_tag("container_id", f + 2, fe,
			    &ext[1])) == -1)
				return STATSD_BAD_FIELD;
			next = k ? next | 2 : next & ~2U;
		} else if (has_prefix(f, fe, "e:", 2))
			continue;
		else if (*f == 'T') {
			if (!sp->opts.timestamps)
				continue;
			if (integer(f + 1, fe, &ts) == -1 || ts <= 0)
				return STATSD_BAD_FIELD;
		} else
			ignored++;
	}

	/* tags, and the extension fields kept as tags */
	if (tags_at != NULL &&
	    (r = tags_parse(tags_at, tags_end, tags, &ntags)) != STATSD_OK)
		return r;
	for (i = 0; i < 2; i++)
		if (next & (1U << i))
			tags[ntags++] = ext[i];
	if (ntags > 1)
		ntags = tags_sort(tags, ntags);

	/* per-type checks on the values */
	for (i = 0; i < n; i++)
		if ((r = statsd_value(type, rate, &sp->values[i])) != STATSD_OK)
			return r;
	if (ts != 0 && ts < sp->opts.now_s - sp->opts.max_age_s)
		return STATSD_STALE;

	if (ntags == 0) {
		out->key = line;
		out->keylen = namelen;
	} else {
		keylen = namelen + 1;
		for (i = 0; i < ntags; i++)
			keylen += tags[i].klen + tags[i].vlen + 2;
		if (keylen > STATSD_KEY_MAX)
			return STATSD_TOO_LONG;
		out->key = sp->key;
		out->keylen = key_build(sp->key, line, namelen, tags, ntags);
	}
	out->kind = STATSD_METRIC;
	out->hash = statsd_hash(out->key, out->keylen);
	out->namelen = namelen;
	out->ntags = ntags;
	out->type = type;
	out->rate = rate;
	if (type == STATSD_SET) {
		sp->values[0] = 1;
		n = 1;
	}
	out->values = sp->values;
	out->delta = type == STATSD_GAUGE ? sp->delta : NULL;
	out->nvalues = n;
	out->member = member;
	out->timestamp = ts;
	out->ignored = ignored;
	out->event = NULL;
	return STATSD_OK;
}

/* Order tags by key, then value, bytewise, a shorter prefix first. */
static int
tag_cmp(const void *x, const void *y)
{
	const struct statsd_tag	*a = x, *b = y;
	int			 c;

	c = memcmp(a->k, b->k, a->klen < b->klen ? a->klen : b->klen);
	if (c != 0)
		return c;
	if (a->klen != b->klen)
		return (a->klen > b->klen) - (a->klen < b->klen);
	c = memcmp(a->v, b->v, a->vlen < b->vlen ? a->vlen : b->vlen);
	if (c != 0)
		return c;
	return (a->vlen > b->vlen) - (a->vlen < b->vlen);
}

/*
 * Parse the tag list [p, e) of a "#" field into tags (STATSD_TAGS_MAX at
 * most), as sent.  Returns STATSD_OK, STATSD_BAD_TAG or STATSD_TOO_LONG.
 */
static enum statsd_reason
tags_parse(const char *p, const char *e, struct statsd_tag *tags,
    size_t *ntagsp)
{
	struct statsd_tag	tg;
	size_t			n = 0;

	while (p < e) {
		if (*p == ',') {		/* an empty tag */
			p++;
			continue;
		}
		tg.k = p;
		p = span_text(p, e, C_TAGK);
		tg.klen = (size_t)(p - tg.k);
		if (tg.klen == 0)
			return STATSD_BAD_TAG;
		tg.v = p;
		if (p < e && *p == ':') {
			tg.v = ++p;
			p = span_text(p, e, C_TAGV);
		}
		tg.vlen = (size_t)(p - tg.v);
		if (p < e && *p != ',')
			return STATSD_BAD_TAG;
		if (n == STATSD_TAGS_MAX)
			return STATSD_TOO_LONG;
		tags[n++] = tg;
	}
	*ntagsp = n;
	return STATSD_OK;
}

/*
 * Sort n tags by key and value (insertion sort for the usual few, qsort
 * for many) and drop repeats; returns how many are left.
 */
static size_t
tags_sort(struct statsd_tag *tags, size_t n)
{
	struct statsd_tag	tg;
	size_t			i, j, out;

	if (n <= TAGS_INSERTION)
		for (i = 1; i < n; i++) {
			tg = tags[i];
			for (j = i; j > 0 && tag_cmp(&tags[j - 1], &tg) > 0;
			    j--)
				tags[j] = tags[j - 1];
			tags[j] = tg;
		}
	else
		qsort(tags, n, sizeof(*tags), tag_cmp);
	for (i = 1, out = 1; i < n; i++)
		if (tag_cmp(&tags[out - 1], &tags[i]) != 0)
			tags[out++] = tags[i];
	return out;
}

/* Write name{k=v,...} into buf (big enough); return its length. */
static size_t
key_build(char *buf, const char *name, size_t namelen,
    const struct statsd_tag *tags, size_t ntags)
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

/* Is [p, e) one of the words of list (NULL-terminated)? */
static int
is_word(const char *p, const char *e, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strlen(*list) == (size_t)(e - p) &&
		    memcmp(p, *list, (size_t)(e - p)) == 0)
			return 1;
	return 0;
}

/*
 * Set *s to the text [p, e), if it is valid UTF-8 without control
 * characters: 1, else 0 (s unchanged).
 */
static int
text_field(struct statsd_str *s, const char *p, const char *e)
{
	if (span_text(p, e, C_TEXT) != e)
		return 0;
	s->p = p;
	s->len = (size_t)(e - p);
	return 1;
}

/*
 * The optional fields of an event or a service check, [p, end) from the
 * "|" on, into sp->event; the canonical tags into sp->key.  A field that
 * does not parse, or that this kind of line does not have, is skipped and
 * counted in *ignored, as DogStatsD logs and skips it.  A service
 * check's m: takes the rest of the line ("|" included): DogStatsD wants
 * it last.
 */
static void
event_fields(struct statsd_parser *sp, const char *p, const char *end,
    int sc, unsigned int *ignored)
{
	static const char *const priorities[] = { "normal", "low", NULL };
	static const char *const alerts[] = { "error", "warning", "info",
	    "success", NULL };
	struct statsd_event	*ev = &sp->event;
	const char		*f, *fe;
	size_t			 n = 0, i, len;
	int			 ok;
	char			*q;

	for (; p < end; p = fe) {
		f = p + 1;
		fe = field_end(f, end);
		if (sc && has_prefix(f, end, "m:", 2))
			fe = end;
		if (fe - f >= 2 && f[1] == ':' && memchr("dhkspt", *f, 6) != NULL &&
		    (*f == 'd' || *f == 'h' || !sc)) {
			switch (*f) {
			case 'd':
				ok = integer(f + 2, fe, &ev->timestamp) == 0;
				break;
			case 'h':
				ok = text_field(&ev->hostname, f + 2, fe);
				break;
			case 'k':
				ok = text_field(&ev->aggregation_key, f + 2, fe);
				break;
			case 's':
				ok = text_field(&ev->source_type, f + 2, fe);
				break;
			case 'p':
				ok = is_word(f + 2, fe, priorities) &&
				    text_field(&ev->priority, f + 2, fe);
				break;
			default:
				ok = is_word(f + 2, fe, alerts) &&
				    text_field(&ev->alert_type, f + 2, fe);
				break;
			}
			*ignored += !ok;
		} else if (sc && has_prefix(f, fe, "m:", 2))
			*ignored += !text_field(&ev->text, f + 2, fe);
		else if (f < fe && *f == '#')
			*ignored += tags_parse(f + 1, fe, sp->tags, &n) !=
			    STATSD_OK;
		else if (!has_prefix(f, fe, "c:", 2) &&
		    !has_prefix(f, fe, "e:", 2) &&
		    !has_prefix(f, fe, "card:", 5))
			(*ignored)++;
	}
	if (n > 1)
		n = tags_sort(sp->tags, n);
	for (i = 0, len = 0; i < n; i++)
		len += sp->tags[i].klen + sp->tags[i].vlen + 2;
	if (len > STATSD_KEY_MAX) {
		(*ignored)++;
		n = 0;
	}
	for (i = 0, q = sp->key; i < n; i++) {
		if (i > 0)
			*q++ = ',';
		memcpy(q, sp->tags[i].k, sp->tags[i].klen);
		q += sp->tags[i].klen;
		*q++ = '=';
		memcpy(q, sp->tags[i].v, sp->tags[i].vlen);
		q += sp->tags[i].vlen;
	}
	ev->tags.p = sp->key;
	ev->tags.len = (size_t)(q - sp->key);
}

/* Fill *out for an event or service check in sp->event. */
static enum statsd_reason
event_line(struct statsd_parser *sp, enum statsd_kind kind,
    unsigned int ignored, struct statsd_line *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = kind;
	out->event = &sp->event;
	out->ignored = ignored;
	out->rate = 1;
	return STATSD_OK;
}

/*
 * "_e{TITLELEN,TEXTLEN}:TITLE|TEXT[|field...]": the lengths in bytes,
 * the title not empty, both valid UTF-8, the content followed by "|" or
 * the end; else bad_event.  The key the tags need fits: it is shorter
 * than the line.
 */
static enum statsd_reason
event_parse(struct statsd_parser *sp, const char *line, const char *end,
    struct statsd_line *out)
{
	struct statsd_event	*ev = &sp->event;
	const char		*p = line + 3, *t;
	int64_t			 tl, xl;
	unsigned int		 ignored = 0;

	memset(ev, 0, sizeof(*ev));
	ev->status = -1;
	if ((t = memchr(p, ',', (size_t)(end - p))) == NULL ||
	    integer(p, t, &tl) == -1 || tl <= 0 || *p == '+')
		return STATSD_BAD_EVENT;
	p = t + 1;
	if ((t = memchr(p, '}', (size_t)(end - p))) == NULL ||
	    integer(p, t, &xl) == -1 || xl < 0 || *p == '+' || *p == '-' ||
	    end - t < 2 || t[1] != ':')
		return STATSD_BAD_EVENT;
	p = t + 2;
	if (end - p < tl + 1 + xl || p[tl] != '|' ||
	    !text_field(&ev->title, p, p + tl) ||
	    !text_field(&ev->text, p + tl + 1, p + tl + 1 + xl))
		return STATSD_BAD_EVENT;
	p += tl + 1 + xl;
	if (p < end && *p != '|')
		return STATSD_BAD_EVENT;
	event_fields(sp, p, end, 0, &ignored);
	return event_line(sp, STATSD_EVENT, ignored, out);
}

/* "_sc|NAME|STATUS[|field...]": STATUS 0 to 3; else bad_service_check. */
static enum statsd_reason
service_check_parse(struct statsd_parser *sp, const char *line,
    const char *end, struct statsd_line *out)
{
	struct statsd_event	*ev = &sp->event;
	const char		*p = line + 4, *t;
	unsigned int		 ignored = 0;

	memset(ev, 0, sizeof(*ev));
	t = field_end(p, end);
	if (t == p || !text_field(&ev->title, p, t) || t == end ||
	    end - t < 2 || t[1] < '0' || t[1] > '3' ||
	    (end - t > 2 && t[2] != '|'))
		return STATSD_BAD_SERVICE_CHECK;
	ev->status = t[1] - '0';
	event_fields(sp, t + 2, end, 1, &ignored);
	return event_line(sp, STATSD_SERVICE_CHECK, ignored, out);
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
