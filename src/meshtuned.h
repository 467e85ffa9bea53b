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
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include "compat.h"

struct event_base;

/* log.c */
#define LOG_LINE_MAX	2048	/* longer lines lose their middle */
#define LOG_SUMMARY_MAX	256	/* bytes of a suppressed line quoted */
#define LOG_BURST	20	/* lines of one message per window ... */
#define LOG_WINDOW_MS	10000	/* ... before the rest are suppressed */
void		 log_init(int, int);
int		 log_start(struct event_base *);
void		 log_stop(void);
void		 log_suppressed_flush(uint64_t);
void		 log_reset(void);
int		 log_cut(const char *, char *, size_t);
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
void		*xcalloc_aligned(size_t, size_t);
void		*xreallocarray(void *, size_t, size_t);
char		*xstrdup(const char *);
int		 xasprintf(char **, const char *, ...) __printflike(2, 3);

/* number.c */
#define NUMBER_MAXLEN	32	/* "-1.7976931348623157e+308" fits */
struct cJSON;
int		 number_format(double, char *, size_t);
char		*number_json_print(struct cJSON *);

/* clock.c */
uint64_t	 clock_mono_ms(void);
uint64_t	 clock_mono_us(void);
uint64_t	 clock_wall_ms(void);
void		 clock_format_iso(uint64_t, char *, size_t);

/* config.c */
/* A JSON array or object of named entries, parsed into an array of structs. */
struct conf_list {
	void		*v;
	size_t		 n;
};
#define CONF_FOREACH(type, var, list)					\
	for (type *var = (list).v; var < (type *)(list).v + (list).n; var++)

struct conf_strlist {
	char		**v;
	size_t		  n;
};

struct mt_actuator_conf {
	char		*name;		/* key in "actuators"; first field */
	char		*type;		/* unix exec http file log */
	char		*path;		/* unix: control socket */
	char		*url;		/* http */
	struct conf_strlist argv;	/* exec */
	struct conf_strlist allow;	/* file */
	int64_t		 timeout_ms;
};

/* A guard metric: its statistic may not move the bad way by more. */
struct mt_guard_conf {
	char		*metric;	/* series key, "net.rtt_ms" */
	char		*stat;		/* "p95", "mean", ... */
	double		 max_rise_pct;	/* NAN: a rise is not bad */
	double		 max_fall_pct;	/* NAN: a fall is not bad */
};

/* A knob, or a trigger ("triggers" fills name to path and the bounds). */
struct mt_knob_conf {
	char		*name;		/* key in "knobs"; first field */
	char		*actuator;
	char		*path;		/* file actuator: the file to write */
	char		*owner;		/* strategy that owns it, or NULL */
	double		 min, max;
	double		 initial;	/* NAN: read from the actuator */
	double		 max_step_pct;
	int64_t		 cooldown_s;
	int64_t		 verify_s;	/* 0: one window */
	int64_t		 for_s;
	struct conf_list guards;	/* struct mt_guard_conf */
	int		 keep_unjudged;	/* nothing can judge: keep it */
};

struct mt_strategy_conf {
	char		*name;		/* instance name; first field */
	char		*module;	/* file name in plugin_dir */
	char		*mode;		/* "apply" or "advise" */
	char		*config;	/* JSON text handed to init */
	int64_t		 priority;
	int64_t		 budget_ms;
	int64_t		 max_failures;
};

struct mt_config {
	char		*file;		/* where it was read from */
	int64_t		 tick_interval_ms;
	int64_t		 window_seconds;
	int64_t		 window_slices;
	char		*statsd_udp;	/* NULL: disabled */
	char		*statsd_unix;
	int64_t		 statsd_rcvbuf;
	char		*api;
	struct conf_strlist allow_non_loopback;	/* listen keys */
	char		*api_token_file;	/* NULL: beside audit_path */
	struct conf_strlist api_hosts;
	int64_t		 api_max_connections;
	int64_t		 api_request_timeout_s;
	char		*pid_file;
	char		*proc_root;
	int64_t		 max_series;
	int64_t		 series_idle_s;
	char		*audit_path;
	int64_t		 retention_days;
	int64_t		 audit_max_size_mb;
	char		*audit_on_bad_file;	/* "refuse" or "move" */
	int		 dry_run;
	int64_t		 max_actions_per_hour;
	int64_t		 flap_reversals;
	int64_t		 flap_window_s;
	int64_t		 readback_s;	/* 0: no periodic read-back */
	int64_t		 refused_names_max; /* per (strategy, reason) */
	struct conf_list guards;	/* struct mt_guard_conf, every knob */
	char		*plugin_dir;
	struct conf_list actuators;	/* struct mt_actuator_conf */
	struct conf_list knobs;		/* struct mt_knob_conf */
	struct conf_list strategies;	/* struct mt_strategy_conf */
	struct conf_list triggers;	/* struct mt_knob_conf */
	/* "statsd": how StatsD lines are read (meshtuned.conf(5)) */
	char		*statsd_gauge_udp;	/* "value" or "delta" */
	char		*statsd_gauge_unix;
	char		*statsd_container_id;	/* "ignore" or "tag" */
	char		*statsd_cardinality;
	char		*statsd_timestamps;	/* "ignore" or "window" */
	char		*statsd_events;		/* "audit" or "drop" */
	int64_t		 statsd_events_per_minute;
	int64_t		 statsd_set_max;
};

/* Every error of one parse, each "FILE: key.path: expected ..., got ...". */
struct conf_errors {
	char		**v;
	size_t		  n;
};

struct mt_config *config_load_file(const char *, struct conf_errors *);
struct mt_config *config_load_string(const char *, const char *,
		    struct conf_errors *);
void		 config_free(struct mt_config *);
void		 config_errors_clear(struct conf_errors *);
const struct mt_actuator_conf *config_actuator(const struct mt_config *,
		    const char *);
const struct mt_knob_conf *config_knob(const struct mt_config *, const char *);
const struct mt_knob_conf *config_trigger(const struct mt_config *,
		    const char *);
int		 config_stat_name(const char *);
size_t		 config_key_paths(const char ***);
int		 config_same(const char *, const char *);
int		 config_parse_addr(const char *, struct sockaddr_storage *,
		    socklen_t *);
#define CONFIG_NAME_MAX	64	/* bytes of a knob, strategy, ... name */
int		 config_name_ok(const char *);
int		 config_addr_loopback(const struct sockaddr_storage *);
size_t		 config_non_loopback(const struct mt_config *, char ***);

/* daemon.c */
struct event;

/* The daemon's state, shared by its subsystems; one per process. */
struct daemon {
	struct event_base	*base;
	struct mt_config	*conf;		/* the running configuration */
	const char		*conf_path;
	int			 force_dry_run;	/* -n: survives reloads */
	int			 paused;	/* POST /v1/pause */
	int			 stopping;
	struct api		*api;
	struct metrics		*metrics;
	struct ingest		*ingest;
	struct collect		*collect;
	struct audit		*audit;
	struct plugin_set	*engine;
	struct governor		*governor;
	uint64_t		 started_ms;	/* monotonic */
	struct event		*ev_signal[3];
	struct event		*ev_tick;
	uint64_t		 ticks;
	uint64_t		 reloads;
	uint64_t		 reload_failures;
	struct {
		uint64_t	 wall_ms;
		uint64_t	 duration_us;
		unsigned int	 proposals;
		unsigned int	 actions;
	} last_tick;
};

int		 daemon_run(struct daemon *);
int		 daemon_reload(struct daemon *);

/* api.c */
struct evhttp_request;
struct cJSON;
int		 api_start(struct daemon *);
void		 api_stop(struct daemon *);
int		 api_reload(struct daemon *, const struct mt_config *);
void		 api_reply_json(struct evhttp_request *, int, struct cJSON *);
void		 api_reply_error(struct evhttp_request *, int, const char *,
		    ...) __printflike(3, 4);
void		 api_reply_ok(struct evhttp_request *);
int		 api_query_param(struct evhttp_request *, const char *, char *,
		    size_t);
struct evhttp_connection;
void		 api_on_close(struct daemon *, struct evhttp_request *,
		    void (*)(struct evhttp_connection *, void *), void *);

/* api_auth.c */
struct api_auth;
struct api_auth_stats {
	uint64_t	 refused_host;		/* 421 */
	uint64_t	 refused_origin;	/* 403: Origin, Sec-Fetch */
	uint64_t	 refused_type;		/* 415 */
	uint64_t	 refused_auth;		/* 401, 403: the credential */
};
struct api_auth	*api_auth_new(const struct mt_config *, char *, size_t);
void		 api_auth_set_port(struct api_auth *, int);
void		 api_auth_set_hosts(struct api_auth *,
		    const struct conf_strlist *);
const char	*api_auth_token_file(const struct api_auth *);
void		 api_auth_get_stats(const struct api_auth *,
		    struct api_auth_stats *);
int		 api_auth_check(struct api_auth *, struct evhttp_request *,
		    int);
void		 api_auth_free(struct api_auth *);

/* api_conn.c */
#define API_CONN_INPUT_MAX	(128 * 1024)	/* bytes read ahead of a
						   request being answered */
#define API_CONN_OUTPUT_MAX	(64 * 1024 * 1024) /* replies held for
						   clients, in all */
#define API_CONN_SLOW_MS	1000		/* a reply not taken in
						   this may go for a new
						   connection past the cap */
struct api_conns;
struct evconnlistener;
struct evhttp;
struct evhttp_connection;
typedef void	 api_conn_close_fn(struct evhttp_connection *, void *);
struct api_conn_stats {
	uint64_t	 accepted;	/* connections made */
	uint64_t	 evicted;	/* closed for a newer one, an fd, or
					   memory (unread replies) */
	uint64_t	 refused;	/* past the cap, none to close: 503 */
	uint64_t	 timed_out;	/* request not whole in time (408),
					   or its reply not taken */
	uint64_t	 accept_errors;	/* accept() failures, each a pause */
	uint64_t	 lost;		/* closes unseen, found by the sweep */
	size_t		 open;		/* now */
	size_t		 max;
	int		 accept_paused;
};
struct api_conns *api_conns_new(struct event_base *, struct evhttp *, size_t,
		    int);
void		 api_conns_set_limits(struct api_conns *, size_t, int);
int		 api_conns_listener(struct api_conns *,
		    struct evconnlistener *);
int		 api_conns_request(struct api_conns *, struct evhttp_request *);
void		 api_conns_on_close(struct api_conns *, struct evhttp_request *,
		    api_conn_close_fn *, void *);
void		 api_conns_get_stats(const struct api_conns *,
		    struct api_conn_stats *);
void		 api_conns_free(struct api_conns *);

/* window.c */
struct window;
struct window_stats {
	uint64_t	 count;		/* samples in the window */
	uint64_t	 underflow;	/* of them below 2^-20 (0 included) */
	uint64_t	 overflow;	/* of them at or above 2^30 */
	double		 rate;		/* count / window seconds */
	double		 sum;
	double		 min;
	double		 max;
	double		 mean;
	double		 p50;
	double		 p90;
	double		 p95;
	double		 p99;
	double		 p999;
};
/*
 * The part of struct window that window_record() reads and writes, its
 * first member; nothing else may touch it.  window_record() is inline:
 * a sample that passes three compares is one store to the value log.
 * Everything else (refusals, slice rotation, bucketing the logged values
 * into the histogram with their sum, min and max) is done out of line,
 * a block of values at a time, by window_record_slow() and the queries.
 */
struct window_hot {
	uint64_t	 next_ms;	/* now_ms at or past this: slow */
	double		*pos;		/* next free entry of the value log */
	double		*end;		/* pos at or past this: slow */
};
struct window	*window_new(unsigned int, unsigned int, uint64_t);
void		 window_free(struct window *);
int		 window_record_slow(struct window *, double, uint64_t);
void		 window_stats(struct window *, uint64_t, struct window_stats *);
int		 window_quantiles(struct window *, uint64_t, const double *,
		    size_t, double *);
size_t		 window_bytes(const struct window *);
int		 window_check(const struct window *);

/*
 * window_record -- add sample v at now_ms to the window.  Returns 0, or
 * -1 if v is NaN, infinite or negative, or the current slice already
 * holds its share of 2^32 - 1 samples (UINT32_MAX / slices): nothing is
 * stored then.  now_ms may be read once for many calls.
 */
static inline int
window_record(struct window *w, double v, uint64_t now_ms)
{
	struct window_hot	*h = (struct window_hot *)(void *)w;
	union { double d; uint64_t u; } x = { v };
	double			*p = h->pos;
	int			 rc = 0;

	/* NaN, +-Inf and negative values (-0 too) encode at or above +Inf. */
	if (__builtin_expect(x.u >= 0x7ff0000000000000ULL ||
	    now_ms >= h->next_ms || p >= h->end, 0)) {
		rc = window_record_slow(w, v, now_ms);
		p = h->pos;
	} else
		*p++ = v;
	/* Both ways h->pos is p: a caller's loop keeps it in a register. */
	h->pos = p;
	return rc;
}

/*
 * Start fetching the value-log entry window_record() stores into next,
 * for callers that know a few samples ahead which windows they will feed.
 */
static inline void
window_prefetch(const struct window *w)
{
	const struct window_hot	*h = (const struct window_hot *)(const void *)w;

	__builtin_prefetch(h->pos, 1);
}

/* statsd.c */
/*
 * Pure StatsD/DogStatsD line parser (DESIGN.md "StatsD ingestion"); the
 * full grammar, limits and error reasons are documented in statsd.c and
 * meshtuned(8).  Typical use, one parser per ingesting thread, no
 * allocation per line:
 *
 *	statsd_begin(&sp, buf, len);
 *	while (statsd_next(&sp, &ln))
 *		registry_add(ln.key, ln.keylen, ln.hash, ...);
 *	sp.stats.lines, sp.stats.errors[r] ... for /v1/status
 */
#define STATSD_LINE_MAX		65536	/* bytes, without the newline */
#define STATSD_KEY_MAX		16384	/* canonical key: name{k=v,...} */
#define STATSD_NAME_MAX		STATSD_KEY_MAX
#define STATSD_TAGS_MAX		1024	/* tags per line, as sent */
#define STATSD_VALUES_MAX	4096	/* values per line */

enum statsd_type {
	STATSD_TIMER,			/* ms */
	STATSD_HISTOGRAM,		/* h */
	STATSD_DISTRIBUTION,		/* d */
	STATSD_GAUGE,			/* g */
	STATSD_COUNTER,			/* c */
	STATSD_SET,			/* s */
	STATSD_NTYPES
};

/* What a good line is. */
enum statsd_kind {
	STATSD_METRIC,
	STATSD_EVENT,			/* _e{...} */
	STATSD_SERVICE_CHECK		/* _sc|... */
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
	STATSD_BAD_EVENT,		/* "bad_event" */
	STATSD_BAD_SERVICE_CHECK,	/* "bad_service_check" */
	STATSD_STALE,			/* "stale" */
	STATSD_NREASONS
};

/* A piece of the datagram (or of the parser's scratch); len 0: absent. */
struct statsd_str {
	const char	*p;
	size_t		 len;
};

/*
 * An event or a service check, as sent: every string is valid UTF-8
 * (event text keeps its "\n" escapes).  Valid until the next call on the
 * parser.
 */
struct statsd_event {
	struct statsd_str title;	/* service check: its name */
	struct statsd_str text;		/* service check: the m: message */
	struct statsd_str hostname;	/* h: */
	struct statsd_str aggregation_key; /* k: */
	struct statsd_str source_type;	/* s: */
	struct statsd_str priority;	/* p: "normal" or "low" */
	struct statsd_str alert_type;	/* t: error warning info success */
	struct statsd_str tags;		/* canonical "k=v,k2=v2" */
	int64_t		 timestamp;	/* d:, 0 if none */
	int		 status;	/* service check 0..3; event -1 */
};

/*
 * How a parser reads what the datagram format leaves to the receiver
 * (meshtuned.conf(5), "statsd").  All zero: gauges set by a signed value
 * (DogStatsD), container id, cardinality and timestamps ignored.
 */
struct statsd_opts {
	uint8_t		 gauge_delta;	/* +N/-N adjust a gauge (Etsy) */
	uint8_t		 container_tag;	/* |c:ID becomes tag container_id */
	uint8_t		 cardinality_tag; /* |card:X becomes tag cardinality */
	uint8_t		 timestamps;	/* |T older than max_age_s: stale */
	int64_t		 now_s;		/* wall clock, for timestamps */
	int64_t		 max_age_s;
};

/* One good line.  Pointers are valid until the next call on the parser. */
struct statsd_line {
	enum statsd_kind kind;
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
	uint64_t	 member;	/* sets: statsd_hash() of the member */
	int64_t		 timestamp;	/* |T, 0 if none or ignored */
	unsigned int	 ignored;	/* fields skipped as unknown */
	const struct statsd_event *event; /* events, service checks */
};

struct statsd_stats {
	uint64_t	 lines;		/* non-empty lines read, good or bad */
	uint64_t	 samples;	/* values of the good metric lines */
	uint64_t	 events;	/* good event lines */
	uint64_t	 service_checks; /* good service check lines */
	uint64_t	 fields_ignored; /* unknown fields of good lines */
	uint64_t	 errors[STATSD_NREASONS]; /* [STATSD_OK] stays 0 */
};

struct statsd_tag {
	const char	*k, *v;
	size_t		 klen, vlen;
};

/* Parser state and scratch; fields other than stats and opts private. */
struct statsd_parser {
	struct statsd_stats stats;
	struct statsd_opts opts;
	const char	*cur, *end;
	struct statsd_event event;
	char		 key[STATSD_KEY_MAX];
	double		 values[STATSD_VALUES_MAX];
	uint8_t		 delta[STATSD_VALUES_MAX];
	struct statsd_tag tags[STATSD_TAGS_MAX + 2];
};

/*
 * A line split by statsd_split() but not parsed: name, one plain value,
 * and the rest from the "|" on.  Pointers into the datagram.
 */
struct statsd_raw {
	const char	*line;
	size_t		 len;
	size_t		 namelen;	/* line[0 .. namelen) is the name */
	size_t		 rest;		/* line[rest .. len) is "|type..." */
	uint64_t	 hash;		/* statsd_hash_raw() of the two */
	double		 value;
};

void		 statsd_init(struct statsd_parser *);
void		 statsd_begin(struct statsd_parser *, const void *, size_t);
int		 statsd_next(struct statsd_parser *, struct statsd_line *);
const char	*statsd_take(struct statsd_parser *, size_t *);
int		 statsd_take_parse(struct statsd_parser *, const char *,
		     size_t, struct statsd_line *);
int		 statsd_split(const char *, size_t, struct statsd_raw *);
size_t		 statsd_parse(struct statsd_parser *, const void *, size_t,
		     void (*)(const struct statsd_line *, void *), void *);
enum statsd_reason statsd_parse_line(struct statsd_parser *, const char *,
		     size_t, struct statsd_line *);
uint64_t	 statsd_hash(const void *, size_t);
uint64_t	 statsd_hash_raw(const char *, size_t, const char *, size_t);
const char	*statsd_reason_name(enum statsd_reason);
const char	*statsd_type_name(enum statsd_type);
size_t		 statsd_utf8_valid(const char *, size_t);

/*
 * The per-type rule every value of a good metric line obeys: STATSD_OK
 * with *v as it is stored (a sampled counter's divided by its rate), or
 * the reason the line is bad (a counter that overflows at its rate; a
 * sampled timer, histogram or distribution sample whose weight 1/rate, or
 * the value times it, overflows: metrics.c adds both).  The registry
 * applies it to the lines of a known form too (metrics.c), which are
 * never parsed: whatever the parser decides from a value and its line's
 * type and rate must be decided here.
 */
static inline enum statsd_reason
statsd_value(enum statsd_type type, double rate, double *v)
{
	if (rate == 1 || type == STATSD_GAUGE || type == STATSD_SET)
		return STATSD_OK;
	if (type == STATSD_COUNTER)
		return __builtin_isfinite(*v /= rate) ? STATSD_OK :
		    STATSD_NAN_INF;
	return __builtin_isfinite(1 / rate) && __builtin_isfinite(*v / rate) ?
	    STATSD_OK : STATSD_NAN_INF;
}

/* metrics.c */
struct metrics;
struct series;

/* Drops and totals of the registry (the parser counts its own). */
struct metrics_stats {
	uint64_t	 values;		/* stored */
	uint64_t	 values_dropped;	/* of a series not admitted */
	uint64_t	 values_refused;	/* NaN, Inf, negative for a window */
	uint64_t	 series_dropped;	/* lines of new series past the cap */
	uint64_t	 type_conflicts;	/* series made for a key another
						   type has (kept: not a drop) */
	uint64_t	 set_full;		/* set members past set_max */
	uint64_t	 series_created;
	uint64_t	 series_expired;
	uint64_t	 lines_known;		/* split lines of a known form */
};

struct series_stats {
	struct window_stats w;		/* counters: rate and sum only */
	double		 last;		/* gauges; NaN otherwise */
	double		 total;		/* counters; NaN otherwise */
	unsigned int	 window_s;
};

/*
 * A batch of lines for the registry, added in order with their cache
 * misses overlapped (metrics.c).  A line is queued parsed (rest 0), or
 * only split (statsd_split()) when the registry may know its form.  Keys
 * of untagged and split lines point into the datagram: it must stay
 * unchanged until metrics_batch_flush().
 */
#define METRICS_BATCH_LINES	256
#define METRICS_BATCH_KEYS	(METRICS_BATCH_LINES * 64)
struct metrics_batch_line {
	const char	*key;		/* split: the line; parsed: its key */
	struct series	*s;		/* at the flush: its series, maybe */
	uint64_t	 hash;		/* split: statsd_hash_raw() */
	double		 value;
	uint32_t	 len;		/* of key */
	uint16_t	 namelen;
	uint16_t	 rest;		/* split: key[rest] is the "|" the rest
					   of the line starts at; parsed: 0 */
	uint8_t		 type;		/* parsed only, as the next two */
	uint8_t		 delta;		/* gauge +N/-N */
	uint8_t		 tagged;
};
struct metrics_batch {
	struct statsd_parser *sp;	/* counts every line */
	/* Events and service checks go here (NULL: counted, dropped). */
	void		(*event_fn)(const struct statsd_line *, void *);
	void		*event_arg;
	/*
	 * Parses the split lines not known, at the flush, which may come
	 * while sp's scratch holds the line being added; its counts go to
	 * sp at the end of the flush.
	 */
	struct statsd_parser miss;
	size_t		 n;
	size_t		 keyused;
	struct metrics_batch_line lines[METRICS_BATCH_LINES];
	char		 keys[METRICS_BATCH_KEYS];
};

struct metrics	*metrics_new(unsigned int, unsigned int, size_t);
void		 metrics_free(struct metrics *);
size_t		 metrics_add_line(struct metrics *, const struct statsd_line *,
		    uint64_t);
int		 metrics_add(struct metrics *, const char *, enum statsd_type,
		    double, uint64_t);
struct series	*metrics_find(struct metrics *, const char *);
struct series	*metrics_find_type(struct metrics *, const char *,
		    enum statsd_type);
void		 metrics_set_set_max(struct metrics *, size_t);
void		 metrics_forget_forms(struct metrics *);
size_t		 metrics_expire(struct metrics *, uint64_t, uint64_t);
void		 metrics_set_max_series(struct metrics *, size_t);
size_t		 metrics_count(const struct metrics *);
const struct metrics_stats *metrics_stats(const struct metrics *);
void		 metrics_foreach(struct metrics *,
		    void (*)(struct series *, void *), void *);
size_t		 metrics_bytes(const struct metrics *);
void		 metrics_batch_init(struct metrics_batch *,
		    struct statsd_parser *);
void		 metrics_batch_datagram(struct metrics_batch *,
		    struct metrics *, const char *, size_t, uint64_t);
void		 metrics_batch_add(struct metrics_batch *, struct metrics *,
		    const struct statsd_line *, uint64_t);
void		 metrics_batch_flush(struct metrics_batch *, struct metrics *,
		    uint64_t);
const char	*series_key(const struct series *);
enum statsd_type series_type(const struct series *);
int		 series_is_aggregate(const struct series *);
void		 series_stats(struct metrics *, struct series *, uint64_t,
		    struct series_stats *);
int		 series_quantile(struct metrics *, struct series *, uint64_t,
		    double, double *);

/* ingest_statsd.c */
struct ingest;
struct ingest_stats {
	uint64_t	 now_ms;		/* clock of the current batch */
	uint64_t	 datagrams;
	uint64_t	 truncated;		/* datagrams over 64 KiB */
	uint64_t	 kernel_drops;		/* SO_RXQ_OVFL, all sockets */
	uint64_t	 recv_errors;
	int		 rcvbuf;		/* bytes the kernel granted */
	int		 udp_port;		/* bound port, for port 0 */
};
#define INGEST_DEFER_MIN_MS	2	/* light traffic: first read delay */
#define INGEST_DEFER_MAX_MS	64	/* and the longest */
#define INGEST_WAKE_LOW		1024	/* datagrams: fewer, wait longer */
#define INGEST_WAKE_HIGH	4096	/* more: wait less */
#define INGEST_FILL_LOW		32	/* buffer under 1/32 full: longer */
#define INGEST_FILL_HIGH	8	/* over 1/8 full: shorter */
#define INGEST_BURST_BPMS	262144	/* bytes/ms a delay leaves room for */
#define INGEST_DEFER_BLIND_MS	16	/* longest, buffer size not known */
int		 ingest_start(struct daemon *);
void		 ingest_stop(struct daemon *);
unsigned int	 ingest_defer_next(unsigned int, int, size_t, size_t);
int		 ingest_reload(struct daemon *, const struct mt_config *);
const struct ingest_stats *ingest_stats(const struct daemon *);
const struct statsd_stats *ingest_parser_stats(const struct daemon *);
struct ingest_events_stats;
const struct ingest_events_stats *ingest_event_stats(const struct daemon *);

/* ingest_events.c */
struct ingest_events;
struct ingest_events_stats {
	uint64_t	 audited;		/* events rows written */
	uint64_t	 folded;		/* past events_per_minute */
	uint64_t	 dropped;		/* statsd.events "drop" */
};
/* The per-minute rule of ingest_events.c; all zero to start. */
struct events_fold {
	uint64_t	 minute;		/* now_ms / 60000 */
	uint64_t	 written;		/* rows admitted this minute */
	uint64_t	 folded[2];		/* events, service checks */
	uint64_t	 flush[2];		/* a past minute's, to write */
	uint64_t	 flush_minute;
};
int		 events_fold_admit(struct events_fold *, uint64_t, uint64_t,
		    int, int *);
struct ingest_events *ingest_events_new(struct daemon *);
void		 ingest_events_free(struct ingest_events *);
void		 ingest_events_line(const struct statsd_line *, void *);
const struct ingest_events_stats *ingest_events_stats(
		    const struct ingest_events *);

/* collect.c */
struct collect;
int		 collect_start(struct daemon *);
void		 collect_stop(struct daemon *);
int		 collect_reload(struct daemon *, const struct mt_config *);

/* hostapi.c */
struct tick;
struct mt_host_api;
struct tick	*tick_new(struct daemon *, uint64_t);
unsigned int	 tick_free(struct tick *);
const struct series_stats *tick_stats(struct tick *, const char *,
		    struct series **);
int		 tick_stat_value(const struct series_stats *, enum statsd_type,
		    const char *, double *);
const struct mt_host_api *hostapi_table(void);

/* engine.c */
struct plugin_set;
struct plugin_set *engine_load(struct daemon *, const struct mt_config *,
		    size_t *);
int		 engine_start(struct daemon *);
void		 engine_stop(struct daemon *);
int		 engine_reload(struct daemon *, const struct mt_config *);
void		 engine_reloaded(struct daemon *);
void		 engine_tick(struct daemon *, uint64_t);
size_t		 engine_check(const struct mt_config *);

/* governor.c */
struct governor;
struct mt_action;

/* A strategy's proposal as the governor receives it during a tick. */
struct gov_proposal {
	const char		*strategy;	/* instance name */
	int			 priority;	/* of that instance */
	int			 advise;	/* mode "advise": dry run for it */
	const struct mt_action	*action;	/* valid during the call */
	double			 baseline;	/* expect_stat now, or NAN */
	uint64_t		 baseline_count; /* samples behind it */
};

int		 governor_start(struct daemon *);
void		 governor_stop(struct daemon *);
int		 governor_reload(struct daemon *, const struct mt_config *);
void		 governor_propose(struct governor *, const struct gov_proposal *,
		    uint64_t);
unsigned int	 governor_decide(struct governor *, uint64_t);
int		 governor_knob(struct governor *, const char *, double *,
		    double *, double *);
int		 governor_resume(struct governor *, const char *);
void		 governor_pause(struct daemon *, int, const char *);
void		 governor_readback(struct governor *);
struct cJSON	*governor_knobs_json(struct governor *);
const char	*governor_last_decision(struct governor *, const char *,
		    uint64_t *);
size_t		 governor_in_flight(const struct governor *);
int		 governor_check(struct daemon *, const struct mt_config *);
int		 governor_check_actuators(struct event_base *,
		    const struct mt_config *, struct conf_errors *);
void		 governor_clock(uint64_t (*)(void));

/* prom.c */
struct evbuffer;
struct prom_self {				/* the daemon's own figures */
	const struct statsd_stats	*parser;
	const struct ingest_stats	*ingest;
	const struct metrics_stats	*metrics;
	const struct ingest_events_stats *events;
	size_t				 series;
	uint64_t			 ticks;
	uint64_t			 reloads;
	double				 uptime_s;
	double				 tick_duration_s;
};
void		 prom_write(struct evbuffer *, struct metrics *, uint64_t,
		    const struct prom_self *);

/* collect_proc.c */
#define PROC_MAX_IFACES	64	/* interfaces tracked from net/dev */
#define PROC_IFNAMSIZ	16	/* the kernel's IFNAMSIZ, with the NUL */

enum proc_kind {
	PROC_GAUGE = 0,		/* value is the current level */
	PROC_COUNTER = 1	/* value is the increment since last round */
};

/* One sample; tags are canonical "k=v,k2=v2" or NULL. */
typedef void	(*proc_emit_fn)(const char *name, const char *tags,
		    int kind, double value, void *arg);

struct proc_collector;

struct proc_pid_stat {			/* /proc/PID/stat */
	char		state;		/* R, S, D, Z, ... */
	uint64_t	utime;		/* clock ticks */
	uint64_t	stime;
	uint64_t	starttime;	/* ticks after boot: tells restarts */
};

struct proc_pid_status {		/* /proc/PID/status */
	int		have_rss;	/* VmRSS seen (zombies lack it) */
	uint64_t	rss_kb;
	int		have_threads;
	uint64_t	threads;
	int		have_ctxsw;	/* both *ctxt_switches seen */
	uint64_t	ctxsw;		/* voluntary + nonvoluntary */
};

struct proc_cpu_times {		/* the "cpu" line of /proc/stat */
	uint64_t	total;		/* all but guest time, ticks */
	uint64_t	idle;		/* idle + iowait */
};

struct proc_netdev {			/* one line of /proc/net/dev */
	char		name[PROC_IFNAMSIZ];
	uint64_t	rx_bytes, rx_packets, rx_drops;
	uint64_t	tx_bytes, tx_packets, tx_drops;
};

int		 proc_parse_pidfile(const char *, pid_t *);
int		 proc_parse_pid_stat(const char *, struct proc_pid_stat *);
int		 proc_parse_pid_status(const char *,
		    struct proc_pid_status *);
int		 proc_parse_statm_rss(const char *, uint64_t *);
int		 proc_parse_stat_cpu(const char *, struct proc_cpu_times *);
int		 proc_parse_meminfo_avail(const char *, uint64_t *);
int		 proc_parse_netdev(const char *, struct proc_netdev *,
		    size_t, size_t *);
int		 proc_parse_snmp_retrans(const char *, uint64_t *);
int		 proc_parse_psi_some_avg10(const char *, double *);
struct proc_collector *proc_collector_new(const char *, const char *);
void		 proc_collector_free(struct proc_collector *);
int		 proc_collect(struct proc_collector *, uint64_t,
		    proc_emit_fn, void *);

/* audit.c */
/*
 * The audit log: an SQLite file (WAL) written by one writer thread.  Every
 * audit_* call that writes only queues the work and returns at once; the
 * results that the caller needs (the id of a new action, the newest rows as
 * JSON) come back through a callback that runs on the event loop thread,
 * after the commit.  Tables and columns: meshtune-audit(5).
 */
#define AUDIT_SCHEMA_VERSION	3	/* PRAGMA user_version */
#define AUDIT_APP_ID		0x4d54554e /* PRAGMA application_id, "MTUN" */
#define AUDIT_LEGACY_VERSION	2	/* newest schema written without it */
#define AUDIT_TS_LEN		25	/* "2026-11-22T17:05:07.123Z" + NUL */
#define AUDIT_LIMIT_MAX		10000	/* most rows audit_actions_json returns */
#define AUDIT_DECISION_OTHERS	"*"	/* decisions: names past the cap */

struct audit;

/* How the log is kept: the audit.* keys of meshtuned.conf(5). */
struct audit_opts {
	int			 retention_days; /* older rows go; 0 keeps all */
	uint64_t		 max_bytes;	/* the oldest go past it; 0: no cap */
	int			 move_bad;	/* move a refused file aside */
	int			 close_wait_ms;	/* audit_close waits for writes;
						   0: 20 s */
};

enum audit_kind {
	AUDIT_SET,			/* "set": a knob gets a value */
	AUDIT_TRIGGER,			/* "trigger": a one-shot operation */
	AUDIT_ROLLBACK			/* "rollback": undoes parent_id */
};

enum audit_status {
	AUDIT_PENDING,			/* written before the actuator runs */
	AUDIT_APPLIED,			/* the actuator succeeded */
	AUDIT_FAILED,			/* the actuator failed: see error */
	AUDIT_DRY_RUN,			/* decided, applied nothing */
	AUDIT_REJECTED			/* refused by the governor */
};

enum audit_outcome {
	AUDIT_OUTCOME_NONE,		/* NULL: not verified (yet) */
	AUDIT_KEPT,
	AUDIT_ROLLED_BACK,
	AUDIT_UNVERIFIED
};

/* A new action row; audit_action_begin copies every string. */
struct audit_action {
	const char		*strategy;	/* plugin name */
	enum audit_kind		 kind;
	const char		*knob;		/* knob or trigger name */
	double			 old_value;	/* NAN stores NULL */
	double			 new_value;	/* NAN stores NULL */
	enum audit_status	 status;	/* usually AUDIT_PENDING */
	const char		*reason;	/* the strategy's sentence */
	const char		*evidence;	/* JSON text, or NULL */
	const char		*actuator;	/* actuator name, or NULL */
	const char		*error;		/* NULL unless failed/rejected */
	int64_t			 parent_id;	/* rollback: undone action; or 0 */
	const char		*expect_metric;	/* effect to verify, or NULL */
	const char		*expect_stat;	/* e.g. "p95" */
	int			 expect_dir;	/* -1 should fall, +1 rise, 0 */
	double			 baseline;	/* expect_stat before; NAN: NULL */
	int			 verify_s;	/* verify after; 0: never */
	const char		*verdict;	/* JSON text, or NULL */
};

/* An action row read back; strings are NULL for SQL NULL. */
struct audit_row {
	int64_t			 id;
	char			 ts[AUDIT_TS_LEN];
	uint64_t		 ts_ms;		/* ts as wall-clock ms */
	char			*strategy;
	enum audit_kind		 kind;
	char			*knob;
	double			 old_value;	/* NAN for NULL */
	double			 new_value;	/* NAN for NULL */
	enum audit_status	 status;
	enum audit_outcome	 outcome;
	char			*reason;
	char			*evidence;
	char			*actuator;
	char			*error;
	int64_t			 parent_id;	/* 0 for NULL */
	char			*expect_metric;
	char			*expect_stat;
	int			 expect_dir;
	double			 baseline;	/* NAN for NULL */
	int			 verify_s;	/* 0 for NULL */
	uint64_t		 done_ms;	/* left pending; 0 while pending */
	uint64_t		 verify_due_ms;	/* done_ms + verify_s, or 0 */
	uint64_t		 outcome_ms;	/* outcome set; 0 if not */
	char			*verdict;	/* JSON text, or NULL */
};

struct audit_stats {
	uint64_t		 queued;	/* jobs waiting for the writer */
	uint64_t		 written;	/* jobs committed */
	uint64_t		 failed;	/* jobs SQLite refused, for good */
	uint64_t		 refused;	/* not queued: backlog full, closing */
	uint64_t		 commits;	/* transactions committed */
	uint64_t		 retries;	/* transactions tried again: locked,
						   disk full, I/O error */
	uint64_t		 stalled_ms;	/* how long writes have waited; 0:
						   writing */
	uint64_t		 housekeeping;	/* passes queued or running */
};

/* Runs on the event loop thread: id > 0 once committed, or -1. */
typedef void	(*audit_id_cb)(int64_t, void *);
/* Runs on the event loop thread: a JSON array, or NULL on error. */
typedef void	(*audit_json_cb)(const char *, void *);

struct audit	*audit_open(struct event_base *, const char *, int, char *,
		    size_t);
struct audit	*audit_open_opts(struct event_base *, const char *,
		    const struct audit_opts *, char *, size_t);
void		 audit_set_opts(struct audit *, const struct audit_opts *);
void		 audit_close(struct audit *);
int		 audit_sync(struct audit *);
void		 audit_get_stats(struct audit *, struct audit_stats *);
int		 audit_action_begin(struct audit *, const struct audit_action *,
		    audit_id_cb, void *);
int		 audit_action_update(struct audit *, int64_t,
		    enum audit_status, double, const char *);
int		 audit_action_outcome(struct audit *, int64_t,
		    enum audit_outcome);
int		 audit_action_judged(struct audit *, int64_t,
		    enum audit_outcome, const char *);
int		 audit_reconcile(struct audit *, int64_t, enum audit_status,
		    double, const char *);
int		 audit_event(struct audit *, const char *, const char *,
		    const char *, const char *);
int		 audit_strategy(struct audit *, const char *, const char *,
		    const char *, const char *);
int		 audit_decision(struct audit *, const char *, const char *,
		    const char *);
int		 audit_decision_capped(struct audit *, const char *,
		    const char *, const char *, int);
int		 audit_retention(struct audit *, uint64_t);
int		 audit_actions_json(struct audit *, int, audit_json_cb, void *);
int		 audit_pending(struct audit *, struct audit_row **, size_t *);
int		 audit_last_applied(struct audit *, struct audit_row **,
		    size_t *);
int		 audit_awaiting_verify(struct audit *, struct audit_row **,
		    size_t *);
int		 audit_applied_since(struct audit *, uint64_t,
		    struct audit_row **, size_t *);
int		 audit_failed_since(struct audit *, uint64_t,
		    struct audit_row **, size_t *);
void		 audit_rows_free(struct audit_row *, size_t);
const char	*audit_kind_name(enum audit_kind);
const char	*audit_status_name(enum audit_status);
const char	*audit_outcome_name(enum audit_outcome);
int		 audit_format_ts(uint64_t, char *, size_t);
int		 audit_parse_ts(const char *, uint64_t *);

/* governor_verdict.c */
#define VERDICT_IMPROVE_PCT	10	/* an expectation must move this % */
#define VERDICT_MIN_SAMPLES	20	/* fewer, before or after: no measure */

enum verdict_result {
	VERDICT_UNMEASURABLE,
	VERDICT_IMPROVED,		/* expectation met */
	VERDICT_NOT_IMPROVED,
	VERDICT_OK,			/* guard within tolerance */
	VERDICT_WORSE			/* guard beyond tolerance */
};

/* One statistic compared before and after a change. */
struct verdict_check {
	const char	*metric;	/* NULL: none stated */
	const char	*stat;
	int		 dir;		/* expectation: -1 should fall, +1
					   rise, 0 none; guard: +1 a rise is
					   bad, -1 a fall */
	double		 tolerance_pct;	/* guard: largest bad move allowed */
	double		 before, after;	/* NAN: not read */
	uint64_t	 count_before, count_after;
	const char	*missing;	/* why after was not read, or NULL */
	enum verdict_result result;	/* set by verdict_judge */
	const char	*why;		/* unmeasurable: why */
	double		 change_pct;	/* NAN unless measured and before 0 */
};

struct verdict {
	enum audit_outcome outcome;
	const char	*decided_by;	/* guard expectation guards nothing */
	int		 guard;		/* the guard that decided, or -1 */
};

void		 verdict_judge(struct verdict_check *, struct verdict_check *,
		    size_t, int, struct verdict *);
const char	*verdict_result_name(enum verdict_result);
char		*verdict_sentence(const struct verdict *,
		    const struct verdict_check *, const struct verdict_check *);
char		*verdict_json(const struct verdict *,
		    const struct verdict_check *, const struct verdict_check *,
		    size_t);
int		 verdict_parse_guards(const char *, struct verdict_check **,
		    size_t *);
void		 verdict_checks_free(struct verdict_check *, size_t);

/* audit_file.c */
enum audit_file_kind {
	AUDIT_FILE_NEW,			/* absent, or 0 bytes: created */
	AUDIT_FILE_EMPTY,		/* SQLite, no schema at all: adopted */
	AUDIT_FILE_OURS,		/* meshtune's application id */
	AUDIT_FILE_LEGACY,		/* an older meshtune's, no id yet */
	AUDIT_FILE_FUTURE,		/* ours, a schema newer than we know */
	AUDIT_FILE_FOREIGN,		/* another program's database */
	AUDIT_FILE_CORRUPT,		/* damaged, or not SQLite at all */
	AUDIT_FILE_ERROR		/* cannot be read: permissions, I/O */
};

struct audit_file {
	enum audit_file_kind	 kind;
	int			 version;	/* PRAGMA user_version */
	uint32_t		 app_id;	/* PRAGMA application_id */
	int			 auto_vacuum;	/* 0 none, 1 full, 2 incremental */
	char			 what[512];	/* why this kind, in words */
};

int		 audit_file_inspect(const char *, struct audit_file *);
int		 audit_file_move_aside(const char *, char *, size_t, char *,
		    size_t);
const char	*audit_file_kind_name(enum audit_file_kind);

/* plugin.c */
struct cJSON;
struct mt_ctx;
struct mt_host_api;
struct plugin_set;
struct plugin_inst;

#define PLUGIN_BUDGET_US	10000	/* default per-evaluation budget */
#define PLUGIN_MAX_STRIKES	3	/* default failures in a row */
#define PLUGIN_MAX_PROPOSALS	16	/* per evaluation */

enum plugin_event_type {
	PLUGIN_EV_LOADED,	/* instance running: write a strategies row */
	PLUGIN_EV_REFUSED,	/* load refused: write an events row */
	PLUGIN_EV_DISABLED,	/* too many errors/overruns: events row */
	PLUGIN_EV_UNLOADED	/* unloaded (reload, removal, shutdown) */
};

/* What plugin.c reports to the daemon; strings valid during the call. */
struct plugin_event {
	enum plugin_event_type	 type;
	const char		*instance;	/* instance name */
	const char		*module;	/* module file name as configured */
	const char		*path;		/* full path, or NULL */
	const char		*reason;	/* stable code: "symlink", ... */
	const char		*message;	/* the line that was logged */
	const char		*sha256;	/* hex digest, or NULL */
	int			 plugin_abi_major; /* -1: unknown */
	int			 plugin_abi_minor;
	int			 host_abi_major;
	int			 host_abi_minor;
};
typedef void (*plugin_event_fn)(const struct plugin_event *, void *);

struct plugin_opts {
	const char		*dir;		/* plugin_dir */
	/*
	 * The daemon's host functions: now_ms, stat, quantile, knob and
	 * propose are used (NULL ones are absent for plugins; now_ms
	 * defaults to clock_mono_ms); log and config_* are plugin.c's own.
	 * propose receives a validated, full-size copy.  May be NULL.
	 */
	const struct mt_host_api *host;
	void			*udata;		/* plugin_ctx_udata default */
	uint64_t		 budget_us;	/* 0: PLUGIN_BUDGET_US */
	unsigned int		 max_strikes;	/* 0: PLUGIN_MAX_STRIKES */
	plugin_event_fn		 event_fn;	/* may be NULL */
	void			*event_arg;
};

/* One configured strategies[] entry, for plugin_sync. */
struct plugin_spec {
	const char		*name;
	const char		*module;
	const char		*config;	/* JSON object text or NULL */
};

/* Counters and identity of an instance, for /v1/strategies. */
struct plugin_stats {
	const char		*name;
	const char		*module;
	const char		*path;
	const char		*strategy;	/* descriptor name */
	const char		*version;
	const char		*summary;
	const char		*sha256;
	uint32_t		 abi_major;
	uint32_t		 abi_minor;
	int			 enabled;
	const char		*disabled_reason; /* NULL while enabled */
	uint64_t		 evaluations;
	uint64_t		 applies;
	uint64_t		 proposals;
	uint64_t		 errors;
	uint64_t		 overruns;
	uint64_t		 last_us;
	uint64_t		 max_us;
	unsigned int		 strikes;
};

struct plugin_set	*plugin_set_new(const struct plugin_opts *);
void			 plugin_set_free(struct plugin_set *);
void			 plugin_set_limits(struct plugin_set *, uint64_t,
			    unsigned int);
int			 plugin_load(struct plugin_set *, const char *,
			    const char *, const char *);
int			 plugin_unload(struct plugin_set *, const char *);
int			 plugin_reload(struct plugin_set *, const char *);
int			 plugin_sync(struct plugin_set *,
			    const struct plugin_spec *, size_t);
size_t			 plugin_count(const struct plugin_set *);
struct plugin_inst	*plugin_at(struct plugin_set *, size_t);
struct plugin_inst	*plugin_find(struct plugin_set *, const char *);
int			 plugin_eval(struct plugin_inst *, void *, uint64_t);
size_t			 plugin_eval_all(struct plugin_set *, void *,
			    uint64_t);
void			 plugin_get_stats(const struct plugin_inst *,
			    struct plugin_stats *);
void			 plugin_set_udata(struct plugin_inst *, void *);
void			 plugin_inst_set_limits(struct plugin_inst *, uint64_t,
			    unsigned int);
struct plugin_inst	*plugin_ctx_inst(struct mt_ctx *);
const char		*plugin_ctx_name(struct mt_ctx *);
void			*plugin_ctx_udata(struct mt_ctx *);
void			*plugin_ctx_tick(struct mt_ctx *);
const char		*plugin_event_name(enum plugin_event_type);

/* plugin_rules.c: also built into the mock host library */
int			 plugin_config_number(const struct cJSON *,
			    const char *, double *);
int			 plugin_config_string(const struct cJSON *,
			    const char *, char *, size_t);
struct mt_action;
const char		*plugin_action_check(const struct mt_action *);

/* sha256.c */
#define SHA256_LEN	32
#define SHA256_HEXLEN	(2 * SHA256_LEN + 1)
struct sha256 {
	uint32_t	h[8];
	uint64_t	len;
	uint8_t		buf[64];
	size_t		n;
};
void		 sha256_init(struct sha256 *);
void		 sha256_update(struct sha256 *, const void *, size_t);
void		 sha256_final(struct sha256 *, uint8_t [SHA256_LEN]);
void		 sha256_hex(const uint8_t [SHA256_LEN], char [SHA256_HEXLEN]);
int		 sha256_fd(int, char [SHA256_HEXLEN]);

/* actuator.c */
struct actuator;		/* one configured actuator */
struct actuator_op;		/* one get or set in flight */
struct actuators;		/* every actuator of a configuration */

#define ACTUATOR_ERRLEN		256	/* error texts are cut to this */
#define ACTUATOR_MAX_REPLY	4096	/* bytes of a reply line or body */

enum actuator_opkind {
	ACTUATOR_GET,
	ACTUATOR_SET
};

/* The outcome of one operation; strings valid during the callback only. */
struct actuator_result {
	enum actuator_opkind	 kind;
	const char		*actuator;	/* its configured name */
	const char		*knob;
	int			 ok;
	double			 value;		/* read, or in effect after the
						   set; NAN if unknown */
	double			 old_value;	/* before the set, if the
						   backend read it (file) */
	double			 requested;	/* set: asked for; get: NAN */
	int			 readback;	/* value read from the target,
						   not echoed or remembered */
	const char		*error;		/* NULL when ok */
	uint64_t		 elapsed_us;
};
typedef void	(*actuator_done_fn)(const struct actuator_result *, void *);

struct actuator_stats {
	uint64_t		 started, succeeded, failed, timeouts;
	size_t			 pending;
};

/*
 * A backend, one per actuator_<type>.c.  configure reads conf (and may
 * refuse it: -1 and a reason in err), get and set start an operation and
 * return at once, reporting later with actuator_op_done/_fail; release
 * stops what an operation still does and frees its state, called exactly
 * once per operation from outside the backend's callbacks; free undoes
 * configure after every operation is released.
 */
struct actuator_backend {
	const char	*name;
	int		(*configure)(struct actuator *,
			    const struct mt_actuator_conf *, char *, size_t);
	void		(*get)(struct actuator_op *);
	void		(*set)(struct actuator_op *);
	void		(*release)(struct actuator_op *);
	void		(*free)(struct actuator *);
};

const struct actuator_backend *actuator_backend_lookup(const char *);
struct actuator	*actuator_new(struct event_base *,
		    const struct mt_actuator_conf *, char *, size_t);
void		 actuator_free(struct actuator *);
struct actuator_op *actuator_get(struct actuator *,
		    const struct mt_knob_conf *, actuator_done_fn, void *);
struct actuator_op *actuator_set(struct actuator *,
		    const struct mt_knob_conf *, double, actuator_done_fn,
		    void *);
void		 actuator_cancel(struct actuator_op *);
const char	*actuator_name(const struct actuator *);
const char	*actuator_type(const struct actuator *);
size_t		 actuator_pending(const struct actuator *);
void		 actuator_get_stats(const struct actuator *,
		    struct actuator_stats *);
struct actuators *actuators_new(struct event_base *,
		    const struct mt_config *, struct conf_errors *);
void		 actuators_free(struct actuators *);
struct actuator	*actuators_find(const struct actuators *, const char *);
size_t		 actuators_pending(const struct actuators *);
/* for backends */
struct event_base *actuator_base(const struct actuator *);
void		*actuator_data(const struct actuator *);
void		 actuator_set_data(struct actuator *, void *);
int64_t		 actuator_timeout_ms(const struct actuator *);
struct actuator	*actuator_op_actuator(const struct actuator_op *);
const char	*actuator_op_knob(const struct actuator_op *);
const char	*actuator_op_path(const struct actuator_op *);
double		 actuator_op_value(const struct actuator_op *);
double		 actuator_op_initial(const struct actuator_op *);
enum actuator_opkind actuator_op_kind(const struct actuator_op *);
void		*actuator_op_data(const struct actuator_op *);
void		 actuator_op_set_data(struct actuator_op *, void *);
void		 actuator_op_stage(struct actuator_op *, const char *);
void		 actuator_op_old(struct actuator_op *, double);
int		 actuator_op_finished(const struct actuator_op *);
void		 actuator_op_done(struct actuator_op *, double, int);
void		 actuator_op_fail(struct actuator_op *, const char *, ...)
		    __printflike(2, 3);
int		 actuator_memo_get(const struct actuator *, const char *,
		    double *);
void		 actuator_memo_put(struct actuator *, const char *, double);
int		 actuator_format_value(double, char *, size_t);
char		*actuator_request_json(const struct actuator_op *);
int		 actuator_parse_reply(const char *, size_t, double *, char *,
		    size_t);
/* actuator_unix.c actuator_exec.c actuator_http.c actuator_file.c
   actuator_log.c: one backend each */
extern const struct actuator_backend actuator_backend_unix;
extern const struct actuator_backend actuator_backend_exec;
extern const struct actuator_backend actuator_backend_http;
extern const struct actuator_backend actuator_backend_file;
void		 actuator_file_force_walk(int);
extern const struct actuator_backend actuator_backend_log;

/* simnode_model.c */
#define SIMMODEL_STEP_MS	100	/* model time per step */
#define SIMMODEL_MAX_PEERS	64

struct simmodel;

/* One knob of the simulated node (STRATEGIES.md bounds). */
struct simmodel_knob {
	const char	*name;
	double		 min, max, initial;
	int		 integer;	/* whole numbers only */
	int		 trigger;	/* any set fires it; no bounds */
};

/* One sample: type is "ms", "h", "g" or "c"; tag is a peer or NULL. */
typedef void	(*simmodel_emit_fn)(const char *name, const char *tag,
		    const char *type, double value, void *arg);

struct simmodel	*simmodel_new(const char *, uint64_t, int);
void		 simmodel_free(struct simmodel *);
int		 simmodel_step(struct simmodel *, simmodel_emit_fn, void *);
uint64_t	 simmodel_now_ms(const struct simmodel *);
const char	*simmodel_phase(const struct simmodel *);
size_t		 simmodel_knob_count(void);
const struct simmodel_knob *simmodel_knob_at(size_t);
int		 simmodel_knob_get(const struct simmodel *, const char *,
		    double *, char *, size_t);
int		 simmodel_knob_set(struct simmodel *, const char *, double,
		    char *, size_t);
const char	*simmodel_scenario_name(size_t);

/* meshtuned/service.c: the daemon's log destination, directories, pid file */
int		 service_log_stderr(int, const char **);
int		 service_detach(int);
int		 service_mkdir_for(const char *, mode_t, char *, size_t);
int		 service_pidfile_open(const char *, char *, size_t);
int		 service_pidfile_write(int, char *, size_t);
void		 service_pidfile_close(const char *, int);

#endif /* MESHTUNED_H */
