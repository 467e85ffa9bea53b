/*
 * meshtuned.h -- the one internal header of meshtune.
 *
 * Prototypes are grouped by the file that defines them, so this header is
 * also a map of the modules.  Public plugin types live in
 * include/meshtune/strategy.h and never name anything declared here.
 */
#ifndef MESHTUNED_H
#define MESHTUNED_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "compat.h"

struct event_base;

/* log.c */
void		 log_init(int, int);
void		 log_close(void);
void		 log_set_verbose(int);
int		 log_get_verbose(void);
void		 log_msg(int, const char *, ...) __printflike(2, 3);
void		 log_warn(const char *, ...) __printflike(1, 2);
void		 log_warnx(const char *, ...) __printflike(1, 2);
void		 log_info(const char *, ...) __printflike(1, 2);
void		 log_debug(const char *, ...) __printflike(1, 2);
__dead void	 fatal(const char *, ...) __printflike(1, 2);
__dead void	 fatalx(const char *, ...) __printflike(1, 2);

/* xmalloc.c */
void		*xmalloc(size_t);
void		*xcalloc(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);
int		 xasprintf(char **, const char *, ...) __printflike(2, 3);

/* clock.c */
uint64_t	 clock_mono_ms(void);
uint64_t	 clock_mono_us(void);
uint64_t	 clock_wall_ms(void);

/* config.c */

/* daemon.c */

/* window.c */

/* statsd.c */
/*
 * Pure StatsD/DogStatsD line parser (DESIGN.md "StatsD ingestion"); the
 * full grammar, limits and error reasons are documented in statsd.c.
 * Typical use, one parser per ingesting thread, no allocation per line:
 *
 *	statsd_begin(&sp, buf, len);
 *	while (statsd_next(&sp, &ln))
 *		registry_add(ln.key, ln.keylen, ln.hash, ...);
 *	sp.stats.lines, sp.stats.errors[r] ... for /v1/status
 */
#define STATSD_LINE_MAX		4096	/* bytes, without the newline */
#define STATSD_NAME_MAX		200
#define STATSD_TAGS_MAX		16	/* tags per line */
#define STATSD_TAG_KEY_MAX	64
#define STATSD_TAG_VALUE_MAX	128
#define STATSD_VALUES_MAX	(STATSD_LINE_MAX / 2) /* can never be hit */
/* Longest canonical key: name{k=v,...} (3305 bytes). */
#define STATSD_KEY_MAX		(STATSD_NAME_MAX + 1 + STATSD_TAGS_MAX * \
	(STATSD_TAG_KEY_MAX + STATSD_TAG_VALUE_MAX + 2))

enum statsd_type {
	STATSD_TIMER,			/* ms */
	STATSD_HISTOGRAM,		/* h */
	STATSD_DISTRIBUTION,		/* d */
	STATSD_GAUGE,			/* g */
	STATSD_COUNTER,			/* c */
	STATSD_NTYPES
};

/* Why a line was dropped; STATSD_OK (0) is not a reason. */
enum statsd_reason {
	STATSD_OK,
	STATSD_BAD_NAME,		/* "bad_name" */
	STATSD_BAD_VALUE,		/* "bad_value" */
	STATSD_BAD_TYPE,		/* "bad_type" */
	STATSD_BAD_RATE,		/* "bad_rate" */
	STATSD_BAD_TAG,			/* "bad_tag" */
	STATSD_BAD_FIELD,		/* "bad_field" */
	STATSD_TOO_LONG,		/* "too_long" */
	STATSD_NAN_INF,			/* "nan_inf" */
	STATSD_NEGATIVE_TIMER,		/* "negative_timer" */
	STATSD_NREASONS
};

/* One good line.  Pointers are valid until the next call on the parser. */
struct statsd_line {
	const char	*key;		/* canonical series key, no NUL */
	size_t		 keylen;
	uint64_t	 hash;		/* statsd_hash(key, keylen) */
	size_t		 namelen;	/* key[0 .. namelen) is the name */
	size_t		 ntags;		/* 0: key is the bare name */
	enum statsd_type type;
	double		 rate;		/* @rate, 1 if absent */
	const double	*values;	/* nvalues >= 1, finite */
	const uint8_t	*delta;		/* gauges: delta[i] 1 for +N/-N */
	size_t		 nvalues;
};

struct statsd_stats {
	uint64_t	 lines;		/* non-empty lines read, good or bad */
	uint64_t	 samples;	/* values of the good lines */
	uint64_t	 errors[STATSD_NREASONS]; /* [STATSD_OK] stays 0 */
};

/* Parser state and scratch; fields other than stats are private. */
struct statsd_parser {
	struct statsd_stats stats;
	const char	*cur, *end;
	char		 key[STATSD_KEY_MAX];
	double		 values[STATSD_VALUES_MAX];
	uint8_t		 delta[STATSD_VALUES_MAX];
};

void		 statsd_init(struct statsd_parser *);
void		 statsd_begin(struct statsd_parser *, const void *, size_t);
int		 statsd_next(struct statsd_parser *, struct statsd_line *);
size_t		 statsd_parse(struct statsd_parser *, const void *, size_t,
		     void (*)(const struct statsd_line *, void *), void *);
enum statsd_reason statsd_parse_line(struct statsd_parser *, const char *,
		     size_t, struct statsd_line *);
uint64_t	 statsd_hash(const void *, size_t);
const char	*statsd_reason_name(enum statsd_reason);
const char	*statsd_type_name(enum statsd_type);

/* metrics.c */

/* collect_proc.c */

/* audit.c */

/* plugin.c */

#endif /* MESHTUNED_H */
